"""A node name or a value holding shell metacharacters (``n1;touch pwned``) cannot run a command,
on any backend.

- Node names are refused at the edge (the spec, and every backend's ``start``) before anything is
  created: they end up in file, namespace and container names.
- Values are argv elements. The local and docker backends hand the argv to exec as a list; the
  ssh backend must flatten it into the one string SSH carries, so each element is quoted: the
  remote shell's word splitting gives back exactly the argv (checked here for hostile strings and
  by hypothesis), and a real command with such values creates nothing (local and docker, when
  root / dockerd are there; the ssh backend's real run is in tests/integration/test_ssh_backend.py).
"""

import os
import shlex
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.config import build_spec
from harness.control.remote import validate_node_names
from harness.errors import InputError

EVIL_NAMES = ["n1;touch pwned", "n1 && id", "$(id)", "`id`", "n1|id", "n1\nid", "../n1", "-n1",
              "n1'", 'n1"', "n1>x", "n1&", "*", ""]

HOSTILE = ["n1;touch pwned", "$(touch pwned)", "`touch pwned`", "a b", "it's", '"', "\\", "*", "~",
           "x\ny", "; rm -rf /", "&& id", "|| id", "$HOME", "${IFS}", "\t", "", "-", "--", "-rf",
           "!", "#", "a=b", "é", "\x01"]


@pytest.mark.parametrize("name", EVIL_NAMES)
def test_spec_refuses_node_names_with_metacharacters(name):
    with pytest.raises(InputError, match="nodes"):
        build_spec({"nodes": [name]})


@pytest.mark.parametrize("name", EVIL_NAMES)
def test_backends_refuse_node_names_before_creating_anything(name, tmp_path):
    with pytest.raises(InputError):
        validate_node_names([name])
    from harness.control.docker import DockerBackend

    with pytest.raises(InputError):
        DockerBackend().start([name], None)  # before connecting to dockerd
    from harness.control.ssh import SSHBackend

    kh = tmp_path / "known_hosts"
    kh.write_text("")
    with pytest.raises(InputError):
        SSHBackend.from_options({"hosts": ["127.0.0.1"], "known_hosts": str(kh)}).start([name], None)
    if os.geteuid() == 0:
        from harness.control.local import LocalBackend

        with pytest.raises(InputError):
            LocalBackend().start([name], None)


@pytest.mark.parametrize("name", ["n1;touch pwned", "$(id)", "a b", "../x", ""])
def test_daemon_names_with_metacharacters_are_refused(name):
    from harness.control.agent_remote import check_daemon_name

    with pytest.raises(ValueError):
        check_daemon_name(name)


def _ssh_remote(sudo=False):
    from harness.control.remote import Node
    from harness.control.ssh import SSHRemote, SSHSettings

    settings = SSHSettings({"hosts": ["10.0.0.1"], "accept_unknown_hosts": True, "sudo": sudo})
    return SSHRemote(settings, Node("n1", "10.0.0.1"), "10.0.0.1", 22, "/var/tmp/splitbrain/sb000000/n1")


@pytest.mark.parametrize("sudo", [False, True])
def test_ssh_command_line_gives_back_the_argv(sudo):
    r = _ssh_remote(sudo)
    argv = ["echo", *HOSTILE]
    words = shlex.split(r.command_line(argv))
    assert words == (["sudo", "-n", "--"] if sudo else []) + argv


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00",
                                               blacklist_categories=("Cs",)), max_size=20),
                min_size=1, max_size=6))
def test_ssh_command_line_round_trips_any_argv(argv):
    assert shlex.split(_ssh_remote().command_line(argv)) == argv


def test_ssh_command_line_through_a_real_shell(tmp_path):
    """What sshd does with the string: ``$SHELL -c STRING``. Nothing runs but echo."""
    import subprocess

    marker = tmp_path / "pwned"
    values = [f"n1;touch {marker}", f"$(touch {marker})", f"`touch {marker}`", f"&& touch {marker}"]
    line = _ssh_remote().command_line(["printf", "%s\\n", *values])
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == values
    assert not marker.exists()


def _run_with_hostile_values(remote, marker: str) -> None:
    values = [f"n1;touch {marker}", f"$(touch {marker})", f"`touch {marker}`", f"| touch {marker}"]
    res = remote.run(["printf", "%s\\n", *values])
    assert res.stdout.splitlines() == values
    # a value given to a shell snippet as a positional parameter stays data too
    res = remote.run(["sh", "-c", 'echo "$1"', "sh", values[0]])
    assert res.stdout.strip() == values[0]
    pid = remote.start_daemon("evil", ["sh", "-c", 'echo "$1"; sleep 30', "sh", values[1]],
                              env={"V": values[2]})
    assert pid > 0
    remote.stop_daemon("evil", timeout=2)
    assert remote.run(["test", "-e", marker], check=False).returncode == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="the local backend needs root")
def test_local_backend_runs_hostile_values_as_data(tmp_path):
    from harness.control.local import LocalBackend

    with LocalBackend().start(["n1"], None) as cluster:
        _run_with_hostile_values(cluster.remote("n1"), str(tmp_path / f"pwned-{uuid.uuid4().hex}"))


def test_docker_backend_runs_hostile_values_as_data():
    from harness.control.docker import DockerBackend, dockerd_problem
    from harness.control.docker_image import BASE_REPO, NODE_REPO

    problem = dockerd_problem()
    if problem:
        pytest.skip(f"dockerd is not reachable: {problem}")
    import docker

    c = docker.from_env()
    images = [t for img in c.images.list(name=NODE_REPO) for t in img.tags]
    if not images and not c.images.list(name=BASE_REPO):
        pytest.skip("no splitbrain node image yet (tests/integration/test_docker_backend.py builds it)")
    with DockerBackend().start(["n1"], None) as cluster:
        _run_with_hostile_values(cluster.remote("n1"), "/tmp/pwned")
