"""The rootless local backend's own checks (harness/control/rootless.py); the run itself is
tests/integration/test_rootless_local.py."""

import os
import shutil
import subprocess
import sys

import pytest

from harness.control import rootless
from harness.errors import EnvironmentProblem

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_only_the_local_backend_without_root_outside_a_namespace(monkeypatch):
    monkeypatch.delenv(rootless.ENV_INNER, raising=False)
    assert rootless.needed("docker") is False
    assert rootless.needed("ssh") is False
    assert rootless.needed("local") is (os.geteuid() != 0)
    monkeypatch.setenv(rootless.ENV_INNER, "1")  # the inner controller never re-runs itself
    assert rootless.needed("local") is False


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_a_store_under_run_is_refused_in_one_line():
    with pytest.raises(EnvironmentProblem) as e:
        rootless.check("/run/user/1000/store")
    msg = str(e.value)
    assert "\n" not in msg and "/run/user/1000/store is under /run" in msg and "--store" in msg


def test_the_init_refuses_to_run_by_hand():
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop(rootless.ENV_INNER, None)
    r = subprocess.run([sys.executable, "-m", "harness.control.rootless", "test"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3
    assert r.stderr.strip().splitlines() == [
        "splitbrain: harness.control.rootless is started by `splitbrain test`, not by hand"]
