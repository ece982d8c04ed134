"""Run directories: layout, latest links, and unique names for runs in the same second."""

import json
import os

import pytest

from harness.errors import InputError
from harness.store import find_run, open_run


def test_open_run_layout_and_latest_links(tmp_path):
    run = open_run(tmp_path, "etcd-register", "db: etcd\n", now=0)
    assert run.path.parent == tmp_path / "etcd-register"
    assert run.spec.read_text() == "db: etcd\n"
    assert (tmp_path / "latest").resolve() == run.path.resolve()
    assert (tmp_path / "etcd-register" / "latest").resolve() == run.path.resolve()
    # Links are relative so the store can be moved or served.
    assert not os.readlink(tmp_path / "latest").startswith("/")


def test_two_runs_in_the_same_second_get_distinct_dirs(tmp_path):
    a = open_run(tmp_path, "t", "", now=100)
    b = open_run(tmp_path, "t", "", now=100)
    assert a.path != b.path
    assert b.path.name == a.path.name + "-2"
    assert (tmp_path / "latest").resolve() == b.path.resolve()


def test_results_written_atomically_and_find_run(tmp_path):
    run = open_run(tmp_path, "t", "", now=5)
    run.write_results({"valid": True})
    assert json.loads(run.results.read_text()) == {"valid": True}
    assert not run.results.with_name("results.json.tmp").exists()
    run.history.write_text("")
    assert find_run(tmp_path / "latest").path == run.path.resolve()
    assert find_run(tmp_path / "t").path == run.path.resolve()
    with pytest.raises(InputError, match="no such run directory"):
        find_run(tmp_path / "missing")
    # The store root itself resolves through its latest link.
    assert find_run(tmp_path).path == run.path.resolve()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a run directory"):
        find_run(tmp_path / "empty")
