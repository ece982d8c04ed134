"""The live progress display's counters, and that it stays off without a terminal."""

from harness.report.progress import RunProgress, progress_wanted


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class ListWriter:
    def __init__(self):
        self.ops = []
        self.closed = False

    def append(self, op):
        self.ops.append(op)
        return dict(op)

    def close(self):
        self.closed = True


def test_counts_rates_faults_and_errors():
    clock = Clock()
    p = RunProgress(30, enabled=True, clock=clock)
    w = p.track(ListWriter())
    w.append({"type": "invoke", "process": 0, "f": "read"})
    clock.t += 1
    w.append({"type": "ok", "process": 0, "f": "read", "value": 1})
    w.append({"type": "info", "process": "nemesis", "f": "start-partition",
              "value": {"n1": ["n2"], "n2": ["n1"]}})
    w.append({"type": "fail", "process": 1, "f": "cas", "error": "compare failed"})
    w.append({"type": "info", "process": 2, "f": "write", "error": "timeout"})
    clock.t += 1
    s = p.snapshot()
    assert s["elapsed_s"] == 2 and s["remaining_s"] == 28
    assert s["counts"] == {"invoke": 1, "ok": 1, "fail": 1, "info": 1}
    assert s["ops_per_s"] == 3 / 2
    assert s["faults"] == {"partition": "n1-x-n2; n2-x-n1"}
    assert s["error_count"] == 1 and s["errors"] == ["p2 write: timeout"]
    text = p.render_text()
    assert "remaining" in text and "faults now: partition" in text and "timeout" in text
    w.append({"type": "info", "process": "nemesis", "f": "stop-partition", "value": None})
    assert p.snapshot()["faults"] == {} and "1 so far" in p.render_text()
    w.close()
    assert w._writer.closed  # the wrapper passes everything else to the real writer


def test_disabled_progress_returns_the_writer_itself_and_is_a_no_op_context():
    writer = ListWriter()
    p = RunProgress(5, enabled=False)
    assert p.track(writer) is writer
    with p:
        pass


def test_not_wanted_without_a_terminal(monkeypatch, capsys):
    # Under pytest's capture neither stream is a terminal.
    assert progress_wanted() is False
    monkeypatch.setenv("SPLITBRAIN_NO_PROGRESS", "1")
    assert progress_wanted() is False
    assert RunProgress(5).enabled is False
