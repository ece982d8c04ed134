"""The HTTP side of ``splitbrain serve``: routes, file serving and :func:`serve`.

Routes (every ``<run>`` is a run's path relative to the store, ``<test>/<timestamp>``)::

    /                          runs, newest first; ?verdict= &db= &workload= &nemesis= &q= filter
    /run/<run>                 the run: verdicts, summary, plots, timeline, files and logs
    /run/<run>/checker/<name>  a checker's counterexample page
    /run/<run>/plot/<png>      latency.png, latency-quantiles.png, rate.png (drawn if missing)
    /run/<run>/timeline        timeline.html (drawn if missing)
    /run/<run>/history.edn     the history as EDN, for knossos / elle-cli
    /file/<path>               any file in the store (?download=1 to save it)
    /suites                    suite summaries

It binds 127.0.0.1 unless told otherwise, answers only GET/HEAD, refuses a ``Host`` that is not
the address it listens on when that is loopback (DNS rebinding), and never serves a path outside
the store (see :mod:`harness.web.safe_path`). Older runs without plots or a timeline get them
drawn in memory, not written into the store.
"""

from __future__ import annotations

import mimetypes
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from harness.web import pages
from harness.web.safe_path import Refused, decode_segments, resolve_in
from harness.web.store_index import list_runs, list_suites, read_json, run_info

LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}
TEXT_TYPES = {".jsonl": "application/x-ndjson; charset=utf-8", ".log": "text/plain; charset=utf-8",
              ".yaml": "text/plain; charset=utf-8", ".edn": "text/plain; charset=utf-8",
              ".json": "application/json; charset=utf-8", ".html": "text/html; charset=utf-8",
              ".xml": "application/xml; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
_CACHE_MAX = 64


class _Rendered:
    """Plots, timelines and summaries drawn for runs that lack them, keyed by file and mtime."""

    def __init__(self):
        self._lock = threading.Lock()
        self._data: dict = {}

    def get(self, key, make):
        with self._lock:
            if key in self._data:
                return self._data[key]
        value = make()
        with self._lock:
            if len(self._data) >= _CACHE_MAX:
                self._data.pop(next(iter(self._data)))
            self._data[key] = value
        return value


class StoreHandler(BaseHTTPRequestHandler):
    """Serves one store (``self.server.store``)."""

    server_version = "splitbrain"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet unless asked: tests and CI read stderr
        if getattr(self.server, "verbose", False):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # -- plumbing ---------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _html(self, text: str, status: int = 200) -> None:
        self._send(status, text.encode("utf-8"), "text/html; charset=utf-8")

    def _refuse(self, why: str, status: int = HTTPStatus.FORBIDDEN) -> None:
        self._html(pages.not_found_page(f"refused: {why}"), status)

    def _host_ok(self) -> bool:
        if not self.server.loopback_only:
            return True
        host = (self.headers.get("Host") or "").strip()
        if host.startswith("["):
            name = host.split("]")[0] + "]"
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in LOOPBACK_NAMES

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        try:
            self._route()
        except Refused as e:
            self._refuse(str(e))
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- routes -----------------------------------------------------------------------------

    def _route(self) -> None:
        if not self._host_ok():
            return self._refuse("this server only answers requests for 127.0.0.1/localhost")
        raw = urlsplit(self.path)
        segs = decode_segments(raw.path)
        query = parse_qs(raw.query)
        store: Path = self.server.store
        if not segs:
            return self._html(pages.run_list_page(list_runs(store), pages.as_params(query),
                                                  str(store)))
        head, rest = segs[0], segs[1:]
        if head == "suites" and not rest:
            return self._html(pages.suite_list_page(list_suites(store)))
        if head == "file" and rest:
            return self._file(resolve_in(store, rest), "download" in query)
        if head == "run" and rest:
            return self._run(rest)
        if head == "favicon.ico":
            return self._send(404, b"", "text/plain")
        self._html(pages.not_found_page(f"no page at {raw.path}"), 404)

    def _run(self, segs: list[str]) -> None:
        store: Path = self.server.store
        action, arg = None, None
        if len(segs) >= 3 and segs[-2] in ("checker", "plot"):
            action, arg, segs = segs[-2], segs[-1], segs[:-2]
        elif segs[-1] in ("timeline", "history.edn"):
            action, segs = segs[-1], segs[:-1]
        run = resolve_in(store, segs)
        if not run.is_dir() or not ((run / "test.yaml").exists() or (run / "history.jsonl").exists()):
            return self._html(pages.not_found_page("not a run directory"), 404)
        info = run_info(store.resolve(), run)
        if action is None:
            return self._html(pages.run_page(info, self._summary(run)))
        if action == "checker":
            results = read_json(run / "results.json") or {}
            r = results.get(arg)
            if not isinstance(r, dict) or "valid" not in r:
                return self._html(pages.not_found_page(f"no checker {arg!r} in this run"), 404)
            return self._html(pages.checker_page(info, arg, r))
        if action == "plot":
            from harness.report.plots import PLOT_FILES, render_plot

            if arg not in PLOT_FILES:
                return self._html(pages.not_found_page(f"no plot {arg!r}"), 404)
            if (run / arg).is_file():
                return self._file(resolve_in(store, segs + [arg]), False)
            png = self._rendered(run, arg, lambda h: render_plot(arg, h, title=f"{info.name}: {arg[:-4]}"))
            return self._send(200, png, "image/png")
        if action == "history.edn":  # for knossos / elle-cli users
            from harness.history.edn_writer import op_to_edn

            text = "".join(op_to_edn(op) + "\n" for op in self._history(run))
            return self._send(200, text.encode("utf-8"), "application/edn; charset=utf-8",
                              {"Content-Disposition": 'attachment; filename="history.edn"'})
        # timeline
        if (run / "timeline.html").is_file():
            return self._file(resolve_in(store, segs + ["timeline.html"]), False)
        from harness.report.timeline import render_timeline

        text = self._rendered(run, "timeline", lambda h: render_timeline(h, info.name))
        self._html(text)

    def _history(self, run: Path):
        from harness.history.jsonl import read_jsonl

        return read_jsonl(run / "history.jsonl", allow_truncated_tail=True)

    def _rendered(self, run: Path, what: str, make):
        h = run / "history.jsonl"
        try:
            key = (str(h), what, h.stat().st_mtime_ns)
        except OSError:
            raise Refused("the run has no history") from None
        return self.server.rendered.get(key, lambda: make(self._history(run)))

    def _summary(self, run: Path) -> str | None:
        from harness.report.summary import format_summary

        results = read_json(run / "results.json") or {}
        try:
            return self._rendered(run, "summary", lambda h: format_summary(h, results))
        except Exception:  # noqa: BLE001 - a damaged history still gets its run page
            return None

    def _file(self, path: Path, download: bool) -> None:
        if path.is_dir():
            return self._html(pages.not_found_page("a directory, not a file"), 404)
        ctype = TEXT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] \
            or "application/octet-stream"
        extra = {}
        if download:
            extra["Content-Disposition"] = f'attachment; filename="{path.name}"'
        if path.suffix == ".html":
            # Our own pages (timeline, suite): their scripts may run, but fetch nothing outside.
            extra["Content-Security-Policy"] = ("default-src 'none'; script-src 'unsafe-inline'; "
                                                "style-src 'unsafe-inline'; img-src 'self' data:")
        self._send(200, path.read_bytes(), ctype, extra)


class StoreServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its store."""

    daemon_threads = True

    def __init__(self, addr, store: Path, verbose: bool = False):
        super().__init__(addr, StoreHandler)
        self.store = Path(store).resolve()
        self.verbose = verbose
        self.loopback_only = addr[0] in ("127.0.0.1", "::1", "localhost")
        self.rendered = _Rendered()


def serve(store="store", host: str = "127.0.0.1", port: int = 8080, verbose: bool = False) -> int:
    """Serve ``store`` until Ctrl-C. Prints the URL (with the real port when ``port`` is 0)."""
    from harness.errors import EnvironmentProblem, InputError

    root = Path(store)
    if not root.is_dir():
        raise InputError(f"--store: {store}: no such directory (run 'splitbrain test' first)")
    try:
        server = StoreServer((host, port), root, verbose)
    except OSError as e:
        raise EnvironmentProblem(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    if not server.loopback_only:
        print(f"splitbrain: warning: serving on {host}, reachable from other machines; the UI "
              "has no authentication", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {server.store} at http://{shown}:{server.server_address[1]}/ (Ctrl-C to stop)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
