"""The rootless local backend: the whole cluster inside an unprivileged user namespace.

When ``splitbrain test`` uses the local backend and is not root, the controller re-runs itself::

    unshare --user --map-root-user --mount --net --pid --fork --kill-child=SIGKILL --mount-proc \\
        -- <python> -m harness.control.rootless <the same arguments>

Three processes:

- the *outer* process (the user's ``splitbrain``, in the host namespaces) starts ``unshare`` in a
  session of its own (so a Ctrl-C on the terminal reaches only the outer process), forwards
  SIGTERM, SIGHUP and SIGINT to the namespace's init and exits with its exit code; if the outer
  process dies, ``unshare`` is SIGKILLed (``PR_SET_PDEATHSIG``) and the namespace with it;
- ``unshare`` (util-linux) creates the namespaces; it blocks SIGINT/SIGTERM itself and, with
  ``--kill-child``, SIGKILLs the init if it dies;
- the *init* (pid 1 of the new pid namespace, this module's ``__main__``) mounts a private tmpfs
  on ``/run`` (so ``ip netns`` can create ``/run/netns``, and ``/run/splitbrain`` and
  ``/run/xtables.lock`` are private), then runs ``python -m harness.cli <arguments>`` (the
  *inner controller*, uid 0 in the namespace, which builds the normal local cluster), forwards
  signals to it, reaps orphans, and exits with its exit code.

When the init exits, the kernel kills every process left in the pid namespace, so the network
namespaces, bridge, veths and iptables rules of the run vanish with it: nothing is left on the
host, and ``splitbrain heal`` is not needed for these runs (nor can it see them).

The store is on the user's real filesystem (only ``/run`` is replaced), and files the inner
controller writes there belong to the user. A store under ``/run`` is refused.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

from harness.errors import EnvironmentProblem

#: Set to "1" in the environment of the init and the inner controller.
ENV_INNER = "SPLITBRAIN_ROOTLESS"

UNSHARE = ["unshare", "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork",
           "--kill-child=SIGKILL", "--mount-proc"]

#: Mounted as private tmpfs inside the namespace.
PRIVATE_DIRS = ("/run",)

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

NO_USERNS = ("the local backend needs root or unprivileged user namespaces, and {what}; "
             "run as root or use --backend docker")


def inside() -> bool:
    """True in the init and the inner controller of a rootless run."""
    return os.environ.get(ENV_INNER) == "1"


def needed(backend: str) -> bool:
    """True when a run on ``backend`` must re-run itself in a user namespace."""
    return backend == "local" and os.geteuid() != 0 and not inside()


def _under(path: str, base: str) -> bool:
    path, base = os.path.realpath(path), os.path.realpath(base)
    return path == base or path.startswith(base.rstrip("/") + "/")


def check(store: str) -> None:
    """Raise :class:`EnvironmentProblem` (one line) when a rootless run cannot work here."""
    if shutil.which("unshare") is None:
        raise EnvironmentProblem(NO_USERNS.format(what="`unshare` (util-linux) is not installed"))
    for d in PRIVATE_DIRS:
        if _under(store, d):
            raise EnvironmentProblem(
                f"rootless local backend: the store {os.path.abspath(store)} is under {d}, which the "
                f"run replaces with a private tmpfs; use --store with another directory")
    try:
        r = subprocess.run([*UNSHARE, "--", "mount", "-t", "tmpfs", "-o", "mode=0755", "sbprobe", "/run"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EnvironmentProblem(NO_USERNS.format(what=f"`unshare` failed: {e}")) from None
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["exit status %d" % r.returncode])[-1]
        raise EnvironmentProblem(NO_USERNS.format(
            what=f"creating one failed ({tail}; see sysctl user.max_user_namespaces and "
                 f"kernel.unprivileged_userns_clone)"))
    # Inside, files of unmapped owners (root) are only as readable as their "other" bits: a
    # python under /root (pyenv) can run outside the namespace yet not inside.
    r = subprocess.run([*UNSHARE, "--", sys.executable, "-c", "import harness.cli"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["exit status %d" % r.returncode])[-1]
        raise EnvironmentProblem(
            f"rootless local backend: {sys.executable} cannot run splitbrain inside the user "
            f"namespace ({tail}); use a python and venv this user can read without root")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the process that started it dies (prctl)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_outer(store: str, argv: list[str] | None = None) -> int:
    """Re-run ``splitbrain <argv>`` inside the namespaces and return its exit code."""
    check(store)
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    env[ENV_INNER] = "1"
    # A session of its own: a Ctrl-C on the terminal reaches only this process, which passes it
    # on once. If this process dies, unshare is SIGKILLed, and with it the whole namespace.
    proc = subprocess.Popen([*UNSHARE, "--", sys.executable, "-m", "harness.control.rootless", *argv],
                            env=env, start_new_session=True, preexec_fn=_die_with_parent)

    def forward(signum, _frame):
        # unshare blocks SIGINT/SIGTERM: signal the init (its child), which forwards to the
        # controller.
        for _ in range(50):
            kids = _children(proc.pid)
            if kids or proc.poll() is not None:
                break
            time.sleep(0.01)
        for k in kids:
            try:
                os.kill(k, signum)
            except ProcessLookupError:
                pass

    old = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        code = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return code if code >= 0 else 128 - code


def _init(argv: list[str]) -> int:
    """pid 1 of the namespace: private /run, then the controller; returns its exit code."""
    if os.getuid() != 0 or not inside():
        print("splitbrain: harness.control.rootless is started by `splitbrain test`, not by hand",
              file=sys.stderr)
        return 3
    for d in PRIVATE_DIRS:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "splitbrain", d],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"splitbrain: rootless local backend: could not mount a tmpfs on {d}: "
                  f"{r.stderr.strip()}", file=sys.stderr)
            return 3
    # /var/run is usually a symlink to /run; when it is not, ip(8) may still use it.
    if os.path.isdir("/var/run") and not os.path.islink("/var/run"):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "splitbrain", "/var/run"],
                       capture_output=True)
    child = subprocess.Popen([sys.executable, "-m", "harness.cli", *argv])

    def forward(signum, _frame):
        try:
            os.kill(child.pid, signum)
        except ProcessLookupError:
            pass

    for s in FORWARDED:
        signal.signal(s, forward)
    while True:  # reap orphans (pid 1) until the controller exits
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 3
        if pid == child.pid:
            child.returncode = 0  # keep Popen from waiting on it again
            if os.WIFEXITED(status):
                return os.WEXITSTATUS(status)
            return 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(_init(sys.argv[1:]))
