"""The docker backend against the real dockerd: the node image (built here with no registry, from
nothing in CI), the Remote contract inside containers, teardown and ``splitbrain heal`` after a
SIGKILLed controller, and ``splitbrain test --backend docker --db etcd --nemesis partition``.

Skipped, with the reason, when dockerd is not reachable, the docker SDK is missing, or (for the
image build) when not root.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import EnvironmentProblem


def _problem() -> str | None:
    if os.geteuid() != 0:
        return "needs root (debootstrap builds the node image)"
    try:
        import docker  # noqa: F401
    except ImportError:
        return "needs the docker SDK (pip install 'docker>=7')"
    from harness.control.docker import dockerd_problem

    p = dockerd_problem()
    if p:
        return f"dockerd is not reachable: {p}"
    from harness.control import docker_image

    if shutil.which("debootstrap") is None:
        import docker as sdk

        c = sdk.from_env()
        digest, _argv = docker_image.base_inputs()
        try:
            c.images.get(f"{docker_image.BASE_REPO}:{digest}")
        except sdk.errors.ImageNotFound:
            return "needs debootstrap to build the node image (apt install debootstrap)"
    return None


PROBLEM = _problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=PROBLEM or "")

CLI = [sys.executable, "-m", "harness.cli"]


def docker_leftovers(prefix: str) -> list[str]:
    import docker

    c = docker.from_env()
    found = [f"container {x.name}" for x in c.containers.list(all=True)
             if x.name.startswith(prefix) or x.labels.get("splitbrain.prefix") == prefix]
    found += [f"network {n.name}" for n in c.networks.list() if n.name.startswith(prefix)]
    if Path(f"/run/splitbrain/{prefix}").exists():
        found.append(f"run root /run/splitbrain/{prefix}")
    return found


@pytest.fixture(scope="module")
def image():
    """The node image; building it is timed (from nothing in CI, cached otherwise)."""
    from harness.control.docker import connect
    from harness.control.docker_image import ensure_node_image

    t0 = time.monotonic()
    tag = ensure_node_image(connect())
    print(f"\nnode image {tag} ready in {time.monotonic() - t0:.1f}s")
    return tag


def test_remote_contract_in_containers(image, tmp_path):
    from harness.control.docker import DockerBackend
    from harness.control.remote import RemoteCommandError, RemoteTimeout

    backend = DockerBackend()
    with backend.start(["n1", "n2", "n3"], str(tmp_path)) as cluster:
        print(f"3-node start (image cached) in {backend.timings['start_s']:.1f}s")
        prefix = cluster.prefix
        import docker

        c = docker.from_env()
        net = c.networks.get(prefix)
        assert net.attrs["Internal"] is True
        assert net.attrs["IPAM"]["Config"][0]["Subnet"] == str(cluster.subnet)
        for node in cluster.nodes:
            ct = c.containers.get(f"{prefix}-{node.name}")
            assert ct.attrs["HostConfig"]["Init"] is True
            assert "NET_ADMIN" in ct.attrs["HostConfig"]["CapAdd"]
            assert ct.attrs["NetworkSettings"]["Networks"][prefix]["IPAddress"] == node.ip
            assert ct.labels["splitbrain.prefix"] == prefix
        info = json.loads(Path(f"/run/splitbrain/{prefix}/controller.json").read_text())
        assert info["backend"] == "docker" and info["controller"]["pid"] == os.getpid()

        r = cluster.remote("n1")
        assert r.run(["hostname"]).stdout.strip() == "n1"
        weird = ["a b", "it's", "$(touch /pwned)", "`id`", "x;y", "*"]
        out = r.run(["python3", "-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *weird]).stdout
        assert json.loads(out) == weird
        assert r.run(["ls", "/pwned"], check=False).returncode != 0
        assert r.run(["cat"], input=b"\x00bin\n").stdout == "\x00bin\n"
        with pytest.raises(RemoteCommandError, match="n1: command failed \\(exit 3\\).*oops"):
            r.run(["sh", "-c", "echo oops >&2; exit 3"])
        with pytest.raises(RemoteTimeout):
            r.run(["sleep", "30"], timeout=1)
        # Host keys: made per container at start, none baked into the image.
        keys = set()
        for node in cluster.nodes:
            rr = cluster.remote(node.name)
            for _ in range(100):
                res = rr.run(["sh", "-c", "cat /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null"], check=False)
                if res.stdout.strip():
                    break
                time.sleep(0.1)
            keys.add(res.stdout.split()[1])
        assert len(keys) == 3, "every container has its own SSH host key"
        # The node network: nodes reach each other; nothing reaches off the machine.
        n2 = cluster.nodes[1].ip
        pid = cluster.remote("n2").start_daemon("http", ["python3", "-u", "-m", "http.server", "--bind", n2, "8000"])
        assert cluster.remote("n2").daemon_pid("http") == pid
        probe = "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)"
        for _ in range(50):
            if r.run(["python3", "-c", probe, n2, "8000"], check=False).ok:
                break
            time.sleep(0.1)
        assert r.run(["python3", "-c", probe, n2, "8000"], check=False).ok
        assert not r.run(["ip", "-4", "route", "show", "default"]).stdout.strip(), "no default route"
        # docker pause freezes the node; daemons survive it.
        cluster.pause("n2")
        assert c.containers.get(f"{prefix}-n2").status == "paused"
        cluster.resume("n2")
        assert cluster.remote("n2").daemon_pid("http") == pid
        assert cluster.remote("n2").signal_daemon("http", signal.SIGTERM)
        # files both ways, and the logs
        src = tmp_path / "up"
        (src / "sub").mkdir(parents=True)
        (src / "sub" / "f.txt").write_text("payload")
        r.upload(str(src), "data/up")
        assert r.run(["cat", "data/up/sub/f.txt"]).stdout == "payload"
        r.download("data/up/sub/f.txt", str(tmp_path / "f.txt"))
        assert (tmp_path / "f.txt").read_text() == "payload"
        cluster.download_logs(str(tmp_path / "logs"))
        assert "Serving HTTP" in (tmp_path / "logs" / "n2" / "http.log").read_text()
    assert docker_leftovers(prefix) == []


def test_heal_removes_containers_of_a_killed_controller(image, tmp_path):
    code = ("import sys, time\n"
            "from harness.control.docker import DockerBackend\n"
            "c = DockerBackend().start(['n1', 'n2'], sys.argv[1])\n"
            "c.remote('n1').start_daemon('sleeper', ['sleep', '300'])\n"
            "print(c.prefix, flush=True)\n"
            "time.sleep(300)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        prefix = p.stdout.readline().strip()
        assert re.fullmatch(r"sb[0-9a-f]{6}", prefix)
        assert len(docker_leftovers(prefix)) == 4  # 2 containers, the network, the run root
    finally:
        p.kill()
        p.wait()
    h = subprocess.run([*CLI, "heal"], capture_output=True, text=True, timeout=120)
    assert h.returncode == 0, h.stderr
    assert f"container {prefix}-n1" in h.stdout + h.stderr
    assert docker_leftovers(prefix) == []
    assert (tmp_path / "nodes" / "n1" / "sleeper.log").exists(), "heal saved the node logs"


def _history(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]


def test_raft_partition_kill_run_is_valid_on_docker_and_reuses_the_image(image, tmp_path):
    """The issue's run: reference Raft, 5 containers, partitions and kills. The node image the
    fixture built (from nothing in CI) is reused: same tag, same image id, nothing rebuilt."""
    import docker

    image_id = docker.from_env().images.get(image).id
    store = tmp_path / "store"
    t0 = time.monotonic()
    p = subprocess.run([*CLI, "test", "--backend", "docker", "--db", "raft",
                        "--nemesis", "partition,kill", "--nemesis-option", "interval=2",
                        "--seed", "3", "--time-limit", "12", "--store", str(store)],
                       capture_output=True, text=True, timeout=240)
    wall = time.monotonic() - t0
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert "verdict: valid" in p.stdout
    run = (store / "latest").resolve()
    log = (run / "splitbrain.log").read_text()
    m = re.search(r"docker cluster (sb[0-9a-f]{6}): image (\S+),.*up in ([0-9.]+)s "
                  r"\(image ready after ([0-9.]+)s\)", log)
    assert m, log[-2000:]
    prefix, used, up, ready = m.groups()
    assert used == image, ("the run built another node image instead of reusing the fixture's "
                           "(did a source file of splitbrain change meanwhile?)")
    assert docker.from_env().images.get(image).id == image_id
    history = _history(run)
    assert sum(op["type"] == "ok" for op in history) > 10
    done = {op["f"]: op for op in history if op["process"] == "nemesis" and op["value"] is not None
            and op["f"] in ("start-partition", "start-kill")}
    assert isinstance(done["start-partition"]["value"], dict), done
    assert done["start-kill"]["value"] and "error" not in done["start-kill"], done
    assert (run / "nodes" / "n5").is_dir()
    assert docker_leftovers(prefix) == []
    print(f"raft partition,kill on docker: image ready {ready}s, 5 nodes up in {up}s; "
          f"whole run {wall:.1f}s")


def test_pause_mode_container_freezes_the_whole_node(image):
    """``pause-mode: container``: the process nemesis freezes a node with ``docker pause``."""
    import docker

    from harness.control.docker import DockerBackend
    from nemesis.process import ProcessNemesis

    with DockerBackend().start(["n1", "n2", "n3"], None) as cluster:
        r = cluster.remote("n2")
        pid = r.start_daemon("sleeper", ["sleep", "300"])
        nem = ProcessNemesis(faults=("pause",), pause_mode="container").setup(cluster, db=None)
        op = nem.invoke({"type": "info", "process": "nemesis", "f": "start-pause", "value": ["n2"]})
        assert op["value"] == ["n2"] and "error" not in op, op.get("error")
        c = docker.from_env()
        assert c.containers.get(f"{cluster.prefix}-n2").status == "paused"
        assert c.containers.get(f"{cluster.prefix}-n1").status == "running"
        op = nem.invoke({"type": "info", "process": "nemesis", "f": "stop-pause", "value": None})
        assert op["value"] == ["n2"] and "error" not in op, op
        assert c.containers.get(f"{cluster.prefix}-n2").status == "running"
        assert r.daemon_pid("sleeper") == pid, "the node's processes survive the freeze"


@pytest.mark.skipif(shutil.which("etcd") is None, reason="needs the etcd binary (apt install etcd-server)")
def test_etcd_partition_run_is_valid_on_docker(image, tmp_path):
    store = tmp_path / "store"
    t0 = time.monotonic()
    p = subprocess.run([*CLI, "test", "--backend", "docker", "--db", "etcd", "--nemesis", "partition",
                        "--nemesis-option", "interval=3", "--time-limit", "10", "--store", str(store)],
                       capture_output=True, text=True, timeout=170)
    wall = time.monotonic() - t0
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert "verdict: valid" in p.stdout
    run = (store / "latest").resolve()
    log = (run / "splitbrain.log").read_text()
    prefix = re.search(r"docker cluster (sb[0-9a-f]{6})", log).group(1)
    up = re.search(r"up in ([0-9.]+)s", log).group(1)
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert any(op["type"] == "ok" for op in history)
    assert any(op.get("f") == "start-partition" and isinstance(op["value"], dict) for op in history)
    assert (run / "nodes" / "n5" / "etcd.log").stat().st_size > 0
    assert docker_leftovers(prefix) == []
    print(f"5-node docker cluster up in {up}s; whole run {wall:.1f}s")


def test_unknown_backend_option_is_an_input_error():
    from harness.control.docker import DockerBackend
    from harness.errors import InputError

    with pytest.raises(InputError, match="backend-options: imag: unknown option for the docker backend"):
        DockerBackend.from_options({"imag": "x"})
    with pytest.raises(EnvironmentProblem):  # an image that does not exist: one line, no traceback
        DockerBackend(image="splitbrain-node:does-not-exist").start(["n1"], None)
