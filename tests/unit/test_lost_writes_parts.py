"""The lost-writes nemesis's parts that need no cluster: the restore of a data dir to its image,
the daemon environment, and the package entry."""

import os
import random

import pytest

from harness.errors import InputError
from nemesis.lost_writes import LostWritesNemesis, shim_env
from nemesis.lost_writes_restore import restore
from nemesis.packages import make_nemesis_package


def write(path, data: bytes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_restore_rolls_back_deletes_and_recreates(tmp_path):
    data, shadow = str(tmp_path / "data"), str(tmp_path / "image")
    write(f"{data}/raft/log", b"synced|unsynced")
    write(f"{data}/raft/state.json", b"new")
    write(f"{data}/raft/never", b"x")
    write(f"{data}/raft/same", b"s")
    write(f"{shadow}/data/raft/log", b"synced|")
    write(f"{shadow}/data/raft/state.json", b"old-and-longer")
    write(f"{shadow}/data/raft/gone", b"g")
    write(f"{shadow}/data/raft/same", b"s")
    ino_before = os.stat(f"{data}/raft/log").st_ino

    report = restore(data, shadow)

    assert report == {"rolled_back": {"raft/log": [15, 7], "raft/state.json": [3, 14]},
                      "deleted": ["raft/never"], "recreated": ["raft/gone"], "unchanged": 1}
    assert read(f"{data}/raft/log") == b"synced|"
    assert read(f"{data}/raft/state.json") == b"old-and-longer"
    assert read(f"{data}/raft/gone") == b"g"
    assert not os.path.exists(f"{data}/raft/never")
    # Rolled back in place (same inode), and the image names the inodes the files have now.
    assert os.stat(f"{data}/raft/log").st_ino == ino_before
    for rel in ("raft/log", "raft/state.json", "raft/gone", "raft/same"):
        assert int(read(f"{shadow}/ino/{rel}")) == os.stat(f"{data}/{rel}").st_ino


def test_restore_of_an_empty_image_empties_the_data_dir(tmp_path):
    data, shadow = str(tmp_path / "data"), str(tmp_path / "image")
    write(f"{data}/paxos/acceptor", b"never fsynced")
    os.makedirs(f"{shadow}/data")
    assert restore(data, shadow)["deleted"] == ["paxos/acceptor"]
    assert not os.path.exists(f"{data}/paxos/acceptor")


def test_shim_env_keeps_another_preload_and_does_not_repeat_itself():
    env = shim_env("/run/n1/", "/run/n1/shim.so", {"LD_PRELOAD": "/lib/faketime.so"})
    assert env == {"LD_PRELOAD": "/lib/faketime.so /run/n1/shim.so",
                   "SB_LOSTWRITES_DATA": "/run/n1/data",
                   "SB_LOSTWRITES_SHADOW": "/run/n1/lost-writes-image"}
    again = shim_env("/run/n1", "/run/n1/shim.so", env)
    assert again["LD_PRELOAD"] == "/lib/faketime.so /run/n1/shim.so"


def test_package_by_name_with_its_targets_option():
    pkg = make_nemesis_package(["lost-writes"], {"lost-writes-targets": "all"}, random.Random(1))
    assert isinstance(pkg.nemesis, LostWritesNemesis) and pkg.nemesis.targets == "all"
    assert pkg.final_generator == [{"type": "info", "f": "stop-lost-writes", "value": None}]
    with pytest.raises(InputError, match="lost-writes-targets"):
        make_nemesis_package(["lost-writes"], {"lost-writes-targets": "most"}, random.Random(1))


def test_an_op_before_setup_is_refused():
    with pytest.raises(RuntimeError, match="before setup"):
        LostWritesNemesis().invoke({"type": "info", "f": "start-lost-writes"})
