"""What a local run left on the machine, listed from the raw system state.

Used by the reliability tests and ``bench/crash_safety.py`` to verify teardown and ``splitbrain
heal`` *independently* of them: it asks ``ip``, ``iptables`` and ``/proc`` directly instead of
trusting the backend's own bookkeeping. Everything the local backend creates for a run carries
the run's prefix (``sbXXXXXX``): namespaces ``sbXXXXXX-<node>``, the bridge and veths, FORWARD
rules commented with the prefix, the run root ``/run/splitbrain/sbXXXXXX`` and the processes
started from it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

PREFIX_IN_LOG = re.compile(r"local cluster (sb[0-9a-f]{6})")


def run_prefix(run_dir: str | os.PathLike) -> str | None:
    """The cluster prefix a run's ``splitbrain.log`` names, or None (the cluster never came up)."""
    try:
        text = (Path(run_dir) / "splitbrain.log").read_text(errors="replace")
    except FileNotFoundError:
        return None
    m = PREFIX_IN_LOG.search(text)
    return m.group(1) if m else None


def _out(*argv: str) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True).stdout


def leftovers(prefix: str) -> list[str]:
    """Every namespace, link, FORWARD rule, process and run root that still carries ``prefix``
    (an empty list means the run left nothing behind)."""
    found = [f"netns {line.split()[0]}" for line in _out("ip", "netns", "list").splitlines()
             if line.startswith(prefix)]
    found += [f"link {link['ifname']}" for link in json.loads(_out("ip", "-j", "link") or "[]")
              if link.get("ifname", "").startswith(prefix)]
    found += [f"rule {line}" for line in _out("iptables", "-w", "-S", "FORWARD").splitlines()
              if prefix in line]
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
            netns = os.readlink(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        if f"/{prefix}/" in cmd and "pytest" not in cmd:
            found.append(f"process {pid}: {cmd[:100]}")
        elif netns != os.readlink("/proc/self/ns/net") and _in_run_netns(pid, prefix):
            found.append(f"process {pid} in a namespace of the run: {cmd[:100]}")
    if Path(f"/run/splitbrain/{prefix}").exists():
        found.append(f"run root /run/splitbrain/{prefix}")
    return found


def _in_run_netns(pid: str, prefix: str) -> bool:
    """True when ``pid`` lives in one of the run's named namespaces (same inode)."""
    try:
        ino = os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return False
    base = "/run/netns"
    try:
        names = [n for n in os.listdir(base) if n.startswith(prefix)]
    except FileNotFoundError:
        return False
    for n in names:
        try:
            if os.stat(os.path.join(base, n)).st_ino == ino:
                return True
        except OSError:
            continue
    return False
