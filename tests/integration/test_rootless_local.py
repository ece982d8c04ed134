"""`splitbrain test` on the local backend as an unprivileged user: the rootless mode.

As root, the test creates (once) the user ``sbrootless``, runs a short raft test with partitions
as that user (setpriv, no sudo), and checks the run, the store's owner, the partition faults in
the history, and that nothing of the run is left on the host. A second test sends SIGTERM to the
user's splitbrain; a third takes user namespaces away (max_user_namespaces=0 in a user namespace
of its own) and expects one line and exit 3.
"""

import ctypes
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time

import pytest

USER = "sbrootless"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _userns_disabled():
    """Why unprivileged user namespaces cannot be used here, or None."""
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            if int(f.read()) == 0:
                return "user.max_user_namespaces is 0"
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/sys/kernel/unprivileged_userns_clone") as f:
            if f.read().strip() == "0":
                return "kernel.unprivileged_userns_clone is 0"
    except OSError:
        pass
    return None


pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to create the unprivileged user)"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in ("ip", "iptables", "unshare", "setpriv")),
                       reason="needs iproute2, iptables, unshare and setpriv (util-linux)"),
    pytest.mark.skipif(_userns_disabled() is not None,
                       reason=f"needs unprivileged user namespaces ({_userns_disabled()})"),
]


@pytest.fixture(scope="module")
def user():
    """The unprivileged user (created once, kept: useradd is slow and idempotence is cheap)."""
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("needs useradd to create the unprivileged user")
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", USER], check=True, capture_output=True)
        pw = pwd.getpwnam(USER)
    assert pw.pw_uid != 0
    return pw


def _as_user(pw, argv, **kw):
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--", *argv]


@pytest.fixture(scope="module")
def python_env(user):
    """A python and environment the user can run splitbrain with.

    The venv's own interpreter may live under a directory only root can read (/root/.pyenv);
    then the same-version system python runs with the venv's site-packages on PYTHONPATH.
    """
    paths = [REPO, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": user.pw_dir, "LANG": "C.UTF-8", "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    tried = []
    for py in dict.fromkeys(p for p in (sys.executable, shutil.which(ver, path=env["PATH"])) if p):
        # inside a user namespace, as splitbrain will run it: there, root's files are "other"
        r = subprocess.run(_as_user(user, ["unshare", "--user", "--map-root-user", "--", py, "-c",
                                           "import harness.cli, yaml, matplotlib"]),
                           env=env, cwd="/", capture_output=True, text=True)
        if r.returncode == 0:
            return py, env
        tried.append(f"{py}: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    pytest.skip(f"needs a {ver} with splitbrain's dependencies that {USER} can run ({'; '.join(tried)})")


@pytest.fixture
def user_store(user):
    d = tempfile.mkdtemp(prefix="sb-rootless-", dir=user.pw_dir)
    os.chown(d, user.pw_uid, user.pw_gid)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _host_objects(prefix):
    """Host (root namespace) objects whose name carries ``prefix``."""
    out = lambda *a: subprocess.run(list(a), capture_output=True, text=True).stdout  # noqa: E731
    found = [n for n in out("ip", "netns", "list").split() if n.startswith(prefix)]
    found += [l["ifname"] for l in json.loads(out("ip", "-j", "link") or "[]") if l["ifname"].startswith(prefix)]
    found += [l for l in out("iptables-save").splitlines() if prefix in l]
    if os.path.exists(f"/run/splitbrain/{prefix}"):
        found.append(f"/run/splitbrain/{prefix}")
    return found


def test_unprivileged_user_runs_a_partition_test(user, python_env, user_store):
    py, env = python_env
    netns_before = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
    r = subprocess.run(_as_user(user, [py, "-m", "harness.cli", "test", "--db", "raft", "--nodes", "3",
                                       "--nemesis", "partition", "--time-limit", "10",
                                       "--store", user_store]),
                       env=env, cwd=user_store, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "verdict: valid" in r.stdout

    runs = [os.path.join(dp, "results.json") for dp, _, fs in os.walk(user_store)
            if "results.json" in fs and not os.path.islink(dp)]
    assert len(runs) == 1, runs
    run_dir = os.path.dirname(runs[0])
    with open(runs[0]) as f:
        assert json.load(f)["valid"] is True
    hist = os.path.join(run_dir, "history.jsonl")
    for path in (run_dir, hist, os.path.join(run_dir, "results.json")):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (user.pw_uid, user.pw_gid), path

    with open(hist) as f:
        ops = [json.loads(line) for line in f if line.strip()]
    nem = [o for o in ops if o.get("process") == "nemesis"]
    started = [o for o in nem if o["f"] == "start-partition" and isinstance(o.get("value"), dict)]
    assert started, nem
    assert any(peers for peers in started[0]["value"].values()), started  # somebody was cut off
    assert any(o["f"] == "stop-partition" and o.get("value") == "network-healed" for o in nem), nem
    assert sum(1 for o in ops if o["type"] == "ok" and o["process"] != "nemesis") > 0

    # The cluster lived in the user's namespaces: none of it is on the host, during or after.
    with open(os.path.join(run_dir, "splitbrain.log")) as f:
        prefixes = {w.rstrip(":") for line in f if "local cluster sb" in line
                    for w in line.split() if w.startswith("sb") and len(w.rstrip(":")) == 8}
    assert len(prefixes) == 1, prefixes
    prefix = prefixes.pop()
    assert _host_objects(prefix) == []
    netns_after = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
    assert not {n for n in netns_after - netns_before if n.startswith(prefix)}
    left = subprocess.run(["pgrep", "-u", str(user.pw_uid)], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes of {USER} still running: {left}"


def test_sigterm_reaches_the_inner_controller(user, python_env, user_store):
    """SIGTERM to the user's splitbrain ends the run inside cleanly; its exit code comes out."""
    from harness import exit_codes

    py, env = python_env
    proc = subprocess.Popen(_as_user(user, [py, "-m", "harness.cli", "test", "--db", "raft", "--nodes", "3",
                                            "--nemesis", "none", "--time-limit", "120",
                                            "--store", user_store]),
                            env=env, cwd=user_store, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    try:
        for line in proc.stdout:  # wait until the cluster inside is up
            lines.append(line)
            if "raft is up" in line:
                break
        assert any("raft is up" in l for l in lines), "".join(lines)
        time.sleep(2)  # let some operations complete
        # setpriv execs the python: proc.pid is the user's splitbrain process itself
        os.kill(proc.pid, signal.SIGTERM)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines) + rest
    assert "SIGTERM: stopping the workload" in out, out  # the inner controller got it
    assert "verdict: " in out and "(interrupted)" in out, out
    runs = [os.path.join(dp, "results.json") for dp, _, fs in os.walk(user_store) if "results.json" in fs]
    assert len(runs) == 1, out
    with open(runs[0]) as f:
        result = json.load(f)
    assert result["interrupted"] is True
    assert proc.returncode == exit_codes.for_verdict(result["valid"]), out
    left = subprocess.run(["pgrep", "-u", str(user.pw_uid)], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes of {USER} still running: {left}"


def test_no_user_namespaces_is_one_line_and_exit_3(user, python_env, user_store):
    """In a user namespace whose max_user_namespaces is 0, the user cannot unshare: exit 3."""
    py, env = python_env
    libc = ctypes.CDLL(None, use_errno=True)
    r_fd, w_fd = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: a user namespace mapping root and the user, with no namespaces left
        try:
            os.close(w_fd)
            os.close(out_r)
            if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
                os._exit(90)
            os.write(out_w, b"u")
            os.read(r_fd, 1)  # the parent wrote uid_map and gid_map
            with open("/proc/sys/user/max_user_namespaces", "w") as f:
                f.write("0")
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.chdir(user_store)
            os.execve(py, [py, "-m", "harness.cli", "test", "--db", "raft", "--nodes", "3",
                           "--time-limit", "5", "--store", user_store], env)
        except BaseException:  # noqa: BLE001
            os._exit(91)
    os.close(r_fd)
    os.close(out_w)
    try:
        assert os.read(out_r, 1) == b"u"
        maps = f"0 0 1\n{user.pw_uid} {user.pw_uid} 1\n"
        gmaps = f"0 0 1\n{user.pw_gid} {user.pw_gid} 1\n"
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(maps)
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(gmaps)
        os.write(w_fd, b"g")
        chunks = []
        while chunk := os.read(out_r, 65536):
            chunks.append(chunk)
    finally:
        os.close(w_fd)
        _, status = os.waitpid(pid, 0)
    out = b"".join(chunks).decode()
    assert os.WEXITSTATUS(status) == 3, out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("splitbrain: the local backend needs root or unprivileged user namespaces"), out
    assert "Traceback" not in out
