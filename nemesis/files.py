"""File faults: truncate or corrupt a file in a node's data directory, with the process down.

Needs two target capabilities: ``db.data_dir(remote)`` (where the node keeps its data; the etcd
and raft targets have it) and ``kill``/``start`` (the file is damaged while the process is down,
as a crash followed by a bad disk would leave it, and the process is restarted on it). A db
without ``kill``/``start`` gets its file damaged under the running process, and the op says so.

Ops (``process: nemesis``, type ``info``):

- ``start-file-corruption``: on the chosen nodes (option ``targets``, default ``one``; or
  ``value = {"nodes": [...], "mode": "truncate" | "corrupt", "file": "relative/path",
  "bytes": n}``): kill, pick a file (the given one, else the largest regular file under the data
  dir), then ``truncate`` drops its last ``bytes`` (default: a random part up to half of it) or
  ``corrupt`` overwrites ``bytes`` (default 16) random bytes at random offsets; restart.
  The completion's ``value`` lists, per node, the file, the mode, the offsets and lengths.
- ``stop-file-corruption``: restarts every node still down (there is no undoing the damage:
  the inverse of a file fault is that the node runs again on what is left).

Losing the writes that were not fsynced is the other file fault: :mod:`nemesis.lost_writes`
(nemesis ``lost-writes``).
"""

from __future__ import annotations

import random

START, STOP = "start-file-corruption", "stop-file-corruption"
MODES = ("truncate", "corrupt")


class FileNemesis:
    """Truncates or corrupts data files (module docstring)."""

    fs = frozenset({START, STOP})

    def __init__(self, rng: random.Random | None = None, targets: str = "one",
                 modes=MODES):
        self.rng = rng if rng is not None else random.Random()
        self.targets = targets
        self.modes = tuple(modes)
        self.cluster = None
        self.db = None
        self.down: set[str] = set()

    def setup(self, cluster, db=None) -> "FileNemesis":
        self.cluster, self.db = cluster, db
        return self

    def teardown(self) -> None:
        self.heal_all()

    def heal_all(self) -> None:
        """Restart every node we took down (the damage itself stays: see the module doc)."""
        if self.cluster is None or not self.down:
            return
        from nemesis.process import restart_down_nodes

        restart_down_nodes(self.db, self.cluster, self.down, "file nemesis")

    def invoke(self, op: dict) -> dict:
        if self.cluster is None:
            raise RuntimeError("file nemesis: invoke before setup")
        f = op.get("f")
        out = dict(op, type="info")
        if f == STOP:
            restarted = sorted(self.down)
            self.heal_all()
            out["value"] = restarted
            return out
        if f != START:
            raise ValueError(f"file nemesis: unknown f {f!r} (expected {START} or {STOP})")
        if not callable(getattr(self.db, "data_dir", None)):
            out["value"] = {}
            out["error"] = "the target has no data_dir(remote) capability; nothing was damaged"
            return out
        v = op.get("value") if isinstance(op.get("value"), dict) else {}
        from nemesis.process import pick_nodes

        names = [n.name for n in self.cluster.nodes]
        nodes = v.get("nodes") or pick_nodes(self.targets, names, self.rng)
        can_kill = callable(getattr(self.db, "kill", None)) and callable(getattr(self.db, "start", None))
        done, errors = {}, []
        if not can_kill:
            errors.append("the db cannot kill/start: the file was damaged under the running process")
        for n in nodes:
            try:
                if can_kill:
                    self.db.kill(self.cluster, n)
                    self.down.add(n)
                done[n] = self.damage(n, v.get("mode") or self.rng.choice(self.modes),
                                      v.get("file"), v.get("bytes"))
            except Exception as e:  # noqa: BLE001 - reported in the op
                errors.append(f"{n}: {type(e).__name__}: {e}")
            finally:
                if can_kill and n in self.down:
                    try:
                        self.db.start(self.cluster, n)
                        self.down.discard(n)
                    except Exception as e:  # noqa: BLE001 - stays in self.down for heal_all
                        errors.append(f"{n}: restart failed: {e}")
        out["value"] = done
        if errors:
            out["error"] = "; ".join(errors)
        return out

    def damage(self, node: str, mode: str, file: str | None = None, nbytes: int | None = None) -> dict:
        """Damage one file on ``node``; returns what was done (pure data for the history)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        remote = self.cluster.remote(node)
        root = str(self.db.data_dir(remote)).rstrip("/")
        if file:
            if file.startswith("/") or ".." in file.split("/"):
                raise ValueError(f"file must be a path under the data dir, got {file!r}")
            path = f"{root}/{file}"
            size = int(remote.run(["stat", "-c", "%s", path], timeout=10).stdout.strip())
        else:
            res = remote.run(["find", root, "-type", "f", "-size", "+0", "-printf", "%s %p\\n"],
                             check=False, timeout=10)
            files = sorted((int(s), p) for s, _, p in
                           (line.partition(" ") for line in res.stdout.splitlines() if line))
            if not files:
                raise ValueError(f"no non-empty file under {root}")
            size, path = files[-1]
        if mode == "truncate":
            drop = int(nbytes) if nbytes is not None else self.rng.randint(1, max(1, size // 2))
            new = max(0, size - drop)
            remote.run(["truncate", "-s", str(new), path], timeout=10)
            return {"file": path, "mode": mode, "size": size, "truncated_to": new}
        n = int(nbytes) if nbytes is not None else 16
        offsets = sorted(self.rng.sample(range(size), min(n, size)))
        # Each chosen byte is XORed with a random non-zero mask: it certainly changes.
        script = ('o=$(dd if="$2" bs=1 skip="$3" count=1 status=none | od -An -tu1); '
                  'printf "$(printf "\\\\%03o" $(( o ^ $1 )))" | '
                  'dd of="$2" bs=1 seek="$3" count=1 conv=notrunc status=none')
        for off in offsets:
            remote.run(["sh", "-c", script, "sh", str(self.rng.randint(1, 255)), path, str(off)],
                       timeout=10)
        return {"file": path, "mode": mode, "size": size, "offsets": offsets}


def file_schedule(interval_s: float) -> list[dict]:
    """One period: sleep, ``start-file-corruption``, sleep, ``stop-file-corruption``."""
    return [{"type": "sleep", "value": interval_s}, {"type": "info", "f": START, "value": None},
            {"type": "sleep", "value": interval_s}, {"type": "info", "f": STOP, "value": None}]
