"""Tiny programs the nemesis integration tests run on the nodes (UDP echo and probe, a time
server), a fixture-style helper to start a local cluster with them, and helpers for the tests
that run real reference Raft nodes (:func:`raft_cluster`, :func:`raft_statuses`,
:func:`wait_for`)."""

import contextlib
import json
import os
import shutil
import sys
import time

UDP_ECHO = ("import socket,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((sys.argv[1],int(sys.argv[2])))\n"
            "print('listening',flush=True)\n"
            "while True:\n"
            "    d,a=s.recvfrom(2048); s.sendto(d,a)\n")

# probe DST PORT N GAP_S WAIT_S: sends N numbered datagrams, prints a JSON summary of the echoes:
# sent, received (duplicates included), unique, out_of_order (an echo with a lower number than one
# already seen), rtts_ms (sorted).
UDP_PROBE = ("import json,socket,sys,time\n"
             "dst,port,n,gap,wait=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4]),float(sys.argv[5])\n"
             "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.setblocking(False)\n"
             "sent={}; got=[]; rtts=[]\n"
             "def drain():\n"
             "    while True:\n"
             "        try: d=s.recv(2048)\n"
             "        except BlockingIOError: return\n"
             "        i=int(d.split(b' ')[0]); got.append(i); rtts.append((time.monotonic()-sent[i])*1000)\n"
             "for i in range(n):\n"
             "    sent[i]=time.monotonic(); s.sendto(b'%d pad' % i,(dst,port)); drain(); time.sleep(gap)\n"
             "end=time.monotonic()+wait\n"
             "while time.monotonic()<end: drain(); time.sleep(0.005)\n"
             "ooo=sum(1 for k in range(1,len(got)) if got[k]<max(got[:k]))\n"
             "print(json.dumps({'sent':n,'received':len(got),'unique':len(set(got)),'out_of_order':ooo,'rtts_ms':sorted(rtts)}))\n")

TIME_SERVER = ("import socket,sys,time\n"
               "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
               "s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(16); print('listening',flush=True)\n"
               "while True:\n"
               "    c,_=s.accept(); c.sendall(repr(time.time()).encode()); c.close()\n")


def skip_reasons(need_etcd=False, need_faketime=False, need_nfqueue=False):
    """Reasons to skip, naming what is missing."""
    out = []
    if os.geteuid() != 0:
        out.append("needs root for network namespaces")
    for tool in ("ip", "iptables", "tc"):
        if shutil.which(tool) is None:
            out.append(f"needs {tool}")
    if need_etcd and shutil.which("etcd") is None:
        out.append("needs etcd (Debian etcd-server)")
    if need_faketime:
        from nemesis.clock import LIBFAKETIME
        if not os.path.exists(LIBFAKETIME):
            out.append(f"needs libfaketime ({LIBFAKETIME}, Debian faketime)")
    if need_nfqueue:
        try:
            import netfilterqueue  # noqa: F401
        except ImportError:
            out.append("needs PyPI NetfilterQueue (and Debian libnetfilter-queue-dev to build it)")
    return out


def start_and_wait(remote, name, argv, timeout=10):
    before = len(remote.read_log(name))   # the log is appended to across restarts
    remote.start_daemon(name, argv)
    deadline = time.monotonic() + timeout
    while "listening" not in remote.read_log(name)[before:]:
        assert remote.daemon_pid(name) is not None, remote.read_log(name)
        assert time.monotonic() < deadline, remote.read_log(name)
        time.sleep(0.02)


def probe(remote, dst_ip, port, n=200, gap=0.002, wait=1.5):
    res = remote.run([sys.executable, "-c", UDP_PROBE, dst_ip, str(port), str(n), str(gap), str(wait)],
                     timeout=60)
    return json.loads(res.stdout)

UDP_SINK = ("import socket,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((sys.argv[1],int(sys.argv[2])))\n"
            "print('listening',flush=True)\n"
            "while True:\n"
            "    d,a=s.recvfrom(2048); print('got',d.decode(),'from',a[0],flush=True)\n")
UDP_SEND = ("import socket,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "for i in range(3): s.sendto(sys.argv[3].encode(),(sys.argv[1],int(sys.argv[2])))\n")


class TinyDB:
    """A target made of one tiny daemon per node (argv from ``argv_for(node)``), with the
    kill/start and pause/resume capabilities, for nemesis tests that need no real store."""

    DAEMON = "tiny"

    def __init__(self, argv_for):
        self.argv_for = argv_for

    def setup(self, cluster):
        for n in cluster.nodes:
            start_and_wait(cluster.remote(n.name), self.DAEMON, self.argv_for(n))

    def teardown(self, cluster):
        import signal
        for n in cluster.nodes:
            r = cluster.remote(n.name)
            r.signal_daemon(self.DAEMON, signal.SIGCONT)
            r.stop_daemon(self.DAEMON)

    def kill(self, cluster, node):
        import signal
        r = cluster.remote(node)
        r.signal_daemon(self.DAEMON, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while r.daemon_pid(self.DAEMON) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.02)

    def start(self, cluster, node):
        r = cluster.remote(node)
        if r.daemon_pid(self.DAEMON) is None:
            start_and_wait(r, self.DAEMON, self.argv_for(cluster.node(node)))

    def pause(self, cluster, node):
        import signal
        cluster.remote(node).signal_daemon(self.DAEMON, signal.SIGSTOP)

    def resume(self, cluster, node):
        import signal
        cluster.remote(node).signal_daemon(self.DAEMON, signal.SIGCONT)


def ask_time(ip, port, timeout=1.0):
    """The time a TIME_SERVER answers (float), or None when it does not answer in time."""
    import socket
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return float(s.recv(64).decode())
    except (OSError, ValueError):
        return None


def wait_for(what, check, timeout=30.0, step=0.05):
    """Poll ``check()`` until it returns something true (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(step)


@contextlib.contextmanager
def raft_cluster(nodes, options):
    """A local-backend cluster of ``nodes`` running the reference Raft target (``RaftDB`` with
    ``options``): yields ``(cluster, db)``, and tears both down."""
    from harness.control.local import LocalBackend
    from harness.targets.raft import RaftDB

    cluster = LocalBackend().start(nodes, None)
    db = RaftDB(options)
    try:
        db.setup(cluster)
        yield cluster, db
    finally:
        try:
            db.teardown(cluster)
        finally:
            cluster.stop()


def raft_statuses(cluster, db, names=None):
    """``{node: /status}`` of the nodes (of ``names``, or all) that answer."""
    out = {}
    for n in cluster.nodes:
        if names is None or n.name in names:
            try:
                out[n.name] = db.client_for(n).status()
            except Exception:  # noqa: BLE001 - a down node has no status
                pass
    return out
