"""``splitbrain node raft`` rejects bad input with one line and exit 254."""

import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "harness.cli", "node", "raft"]
OK = ["--id", "n1", "--listen", "127.0.0.1:7000", "--peers", "n1=127.0.0.1:7000,n2=127.0.0.1:7010"]


@pytest.mark.parametrize("args, words", [
    (["--id", "n1", "--listen", "127.0.0.1:x", "--peers", "n1=127.0.0.1:7000", "--data", "d"], "port"),
    (["--id", "n1", "--listen", "localhost:7000", "--peers", "n1=127.0.0.1:7000", "--data", "d"], "IP"),
    (["--id", "n9"] + OK[2:] + ["--data", "d"], "not in the list"),
    (OK + ["--data", "d", "--bug", "nope"], "unknown bug"),
    (["--id", "n1", "--listen", "127.0.0.1:7000", "--peers", "n1=127.0.0.1:7000,n1=127.0.0.1:7001",
      "--data", "d"], "twice"),
    (OK + ["--data", "d", "--http", "127.0.0.1:7000"], "differ"),
    (OK + ["--data", "d", "--heartbeat", "400"], "half"),
    (OK, "--data"),
])
def test_bad_input_is_one_line_and_exit_254(tmp_path, args, words):
    p = subprocess.run(CLI + args, capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert p.returncode == 254, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in p.stderr
