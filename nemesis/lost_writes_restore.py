"""Put a data directory back to its last-fsynced image: the disk side of the lost-writes fault.

Runs *on the node*, with the target's process already killed::

    python -m nemesis.lost_writes_restore DATA SHADOW

``SHADOW`` is what :file:`nemesis/lost_writes_shim.c` recorded while the process ran:
``SHADOW/data/<rel>`` is the content of ``DATA/<rel>`` at its last durability point (fsync of the
file, or of its directory after a rename) and ``SHADOW/ino/<rel>`` the inode it belonged to.
Afterwards, as after a power cut:

- a file with an image gets exactly the image's content (writes since its last fsync are gone,
  a file that grew is cut back, one that was truncated or rewritten gets its old bytes back);
- a file without an image is deleted (its name was never made durable);
- an image whose file is gone is written back (the unlink or rename was never made durable).

The inode files are updated to the restored files, so the shim keeps tracking them after the
restart. Prints one JSON object: ``{"rolled_back": {rel: [bytes before, bytes after]},
"deleted": [rel], "recreated": [rel], "unchanged": n}``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

IGNORED_SUFFIXES = (".sblw-ino-tmp",)


def _files(root: str) -> dict[str, str]:
    """Regular files under ``root``: relative path -> absolute path."""
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full) and not os.path.islink(full):
                rel = os.path.relpath(full, root)
                if ".sblw-stage-" not in rel and not rel.endswith(IGNORED_SUFFIXES):
                    out[rel] = full
    return out


def restore(data: str, shadow: str) -> dict:
    """Roll ``data`` back to the image in ``shadow`` (see the module docstring)."""
    images = _files(os.path.join(shadow, "data"))
    real = _files(data) if os.path.isdir(data) else {}
    report: dict = {"rolled_back": {}, "deleted": [], "recreated": [], "unchanged": 0}
    for rel, path in sorted(real.items()):
        image = images.get(rel)
        if image is None:
            os.unlink(path)
            report["deleted"].append(rel)
            continue
        with open(image, "rb") as f:
            want = f.read()
        with open(path, "rb") as f:
            have = f.read()
        if have == want:
            report["unchanged"] += 1
        else:
            with open(path, "r+b") as f:  # in place: the inode stays the one the image names
                f.write(want)
                f.truncate(len(want))
                os.fsync(f.fileno())
            report["rolled_back"][rel] = [len(have), len(want)]
    for rel, image in sorted(images.items()):
        if rel in real:
            continue
        path = os.path.join(data, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copyfile(image, path)
        with open(path, "rb") as f:
            os.fsync(f.fileno())
        report["recreated"].append(rel)
    # The shim recognises files by inode: name the inodes the files have now.
    for rel in images:
        path = os.path.join(data, rel)
        ino_path = os.path.join(shadow, "ino", rel)
        os.makedirs(os.path.dirname(ino_path), exist_ok=True)
        with open(ino_path, "w") as f:
            f.write(f"{os.stat(path).st_ino}\n")
    return report


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m nemesis.lost_writes_restore DATA SHADOW", file=sys.stderr)
        return 254
    print(json.dumps(restore(argv[0], argv[1]), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
