#!/usr/bin/env python3
"""The small program the docker and ssh backends run *on a node* (stdlib only, Python >= 3.9).

The local backend manages commands and daemons with the controller's own process table. On a
container or a remote host the controller has only "run this argv" (``docker exec``, an SSH
channel), so the pieces that need to be on the node's side live here, once, for both backends:

- ``run TIMEOUT [--cwd DIR] -- ARGV...``: run ARGV (in DIR when it exists) in its own session with stdin/stdout/stderr passed
  through; after TIMEOUT seconds (0 = none) kill its whole process group, print
  :data:`TIMEOUT_MARK` on stderr and exit 124. The controller tells a timeout from a command that
  exits 124 by that last stderr line.
- ``start NAME NODE_DIR [--cwd DIR] [--env K=V]... -- ARGV...``: start ARGV detached (new session,
  stdin from /dev/null, stdout+stderr appended to ``NODE_DIR/logs/NAME.log``), write
  ``NODE_DIR/pids/NAME.pid`` and ``NAME.start`` (its start time from /proc, so a reused pid is never
  taken for our daemon), print the pid. Exit 3 if NAME is already running.
- ``pid NAME NODE_DIR``: print the daemon's pid when it runs (exit 0), else exit 1.
- ``signal NAME NODE_DIR SIG``: signal the daemon's process group; exit 1 if it is not running.
- ``stop NAME NODE_DIR TIMEOUT``: SIGTERM the group, SIGKILL after TIMEOUT, remove the pid files.
- ``stop-all NODE_DIR TIMEOUT``: ``stop`` for every pid file (teardown).

Every argument arrives as its own argv element (``docker exec`` takes a list; the ssh backend
quotes each one with :func:`shlex.quote`), so nothing here ever goes through a shell.
"""

import os
import re
import signal
import subprocess
import sys
import time

TIMEOUT_MARK = "splitbrain-node-agent: timed out"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _start_time(pid):
    """Start time (clock ticks since boot) of a running, non-zombie process, else None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
        rest = data[data.rindex(b")") + 2:].split()
    except (OSError, ValueError):
        return None
    if rest[0] in (b"Z", b"X", b"x") and not _live_threads(pid):
        return None
    return int(rest[19])


def _live_threads(pid):
    # A dying multi-threaded process (a Go binary) keeps sockets and locks until its last thread
    # exits, even when its main thread is already a zombie.
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid), "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X", b"x"):
            return True
    return False


def _paths(name, node_dir):
    if not NAME_RE.match(name):
        raise SystemExit("node-agent: bad daemon name %r" % name)
    piddir = os.path.join(node_dir, "pids")
    return (os.path.join(piddir, name + ".pid"), os.path.join(piddir, name + ".start"),
            os.path.join(node_dir, "logs", name + ".log"))


def _running(name, node_dir):
    pidfile, startfile, _ = _paths(name, node_dir)
    try:
        with open(pidfile) as f:
            pid = int(f.read().split()[0])
        with open(startfile) as f:
            start = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _start_time(pid) == start else None


def _write(path, text):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def cmd_run(args):
    timeout = float(args[0])
    rest, cwd = args[1:], None
    if rest[:1] == ["--cwd"]:
        cwd, rest = rest[1], rest[2:]
    argv = rest[1:] if rest[:1] == ["--"] else rest
    if cwd is not None and not os.path.isdir(cwd):
        cwd = None  # before the node dir exists (or after it is gone): the login directory
    try:
        p = subprocess.Popen(argv, start_new_session=True, cwd=cwd)
    except OSError as e:
        sys.stderr.write("node-agent: cannot run %s: %s\n" % (argv[0] if argv else "?", e))
        return 127
    try:
        return p.wait(timeout=timeout if timeout > 0 else None)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        sys.stderr.write("\n" + TIMEOUT_MARK + "\n")
        sys.stderr.flush()
        return 124


def cmd_start(args):
    name, node_dir = args[0], args[1]
    rest = args[2:]
    cwd, env = node_dir, dict(os.environ)
    while rest and rest[0] != "--":
        if rest[0] == "--cwd":
            cwd = rest[1]
        elif rest[0] == "--env":
            k, _, v = rest[1].partition("=")
            env[k] = v
        else:
            raise SystemExit("node-agent: start: unknown option %r" % rest[0])
        rest = rest[2:]
    argv = rest[1:]
    pidfile, startfile, logfile = _paths(name, node_dir)
    for d in (os.path.dirname(pidfile), os.path.dirname(logfile)):
        os.makedirs(d, exist_ok=True)
    running = _running(name, node_dir)
    if running is not None:
        sys.stderr.write("daemon %s is already running (pid %d)\n" % (name, running))
        return 3
    with open(logfile, "ab") as logf, open(os.devnull, "rb") as devnull:
        try:
            p = subprocess.Popen(argv, stdin=devnull, stdout=logf, stderr=subprocess.STDOUT,
                                 env=env, cwd=cwd, start_new_session=True, close_fds=True)
        except OSError as e:
            sys.stderr.write("cannot start %s: %s\n" % (argv[0] if argv else "?", e))
            return 127
    start = _start_time(p.pid) or 0
    _write(startfile, "%d\n" % start)
    _write(pidfile, "%d\n" % p.pid)
    # We exit without waiting: the daemon is re-parented to the node's init (docker --init,
    # or the host's init over ssh), which reaps it.
    print(p.pid)
    return 0


def cmd_pid(args):
    pid = _running(args[0], args[1])
    if pid is None:
        return 1
    print(pid)
    return 0


def cmd_signal(args):
    pid = _running(args[0], args[1])
    if pid is None:
        return 1
    try:
        os.killpg(pid, int(args[2]))
    except ProcessLookupError:
        return 1
    return 0


def _stop(name, node_dir, timeout):
    pidfile, startfile, _ = _paths(name, node_dir)
    pid = _running(name, node_dir)
    if pid is not None:
        try:
            os.killpg(pid, signal.SIGTERM)
            os.killpg(pid, signal.SIGCONT)  # a paused daemon must run to exit
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while _start_time(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        if _start_time(pid) is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while _start_time(pid) is not None and time.monotonic() < deadline:
                time.sleep(0.02)
    for p in (pidfile, startfile):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def cmd_stop(args):
    _stop(args[0], args[1], float(args[2]))
    return 0


def cmd_stop_all(args):
    node_dir, timeout = args[0], float(args[1])
    try:
        names = sorted(f[:-4] for f in os.listdir(os.path.join(node_dir, "pids")) if f.endswith(".pid"))
    except FileNotFoundError:
        names = []
    for name in names:
        _stop(name, node_dir, timeout)
        print(name)
    return 0


COMMANDS = {"run": cmd_run, "start": cmd_start, "pid": cmd_pid, "signal": cmd_signal,
            "stop": cmd_stop, "stop-all": cmd_stop_all}


def main(argv):
    if not argv or argv[0] not in COMMANDS:
        sys.stderr.write("usage: node_agent.py {%s} ...\n" % "|".join(sorted(COMMANDS)))
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
