#!/usr/bin/env bash
# Install what splitbrain needs on a fresh Debian (bookworm) machine, as root:
# the system tools it drives (iproute2, iptables, etcd, faketime, docker, ssh) and a virtual
# environment in .venv with splitbrain and its test dependencies.
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "install-debian.sh: run as root (it installs Debian packages): sudo $0" >&2
    exit 3
fi

PKGS=(iproute2 iptables etcd-server etcd-client redis-server faketime procps python3 python3-venv python3-pip
      python3-dev gcc
      docker.io debootstrap openssh-server openssh-client chromium
      libnetfilter-queue-dev gcc python3-dev)   # NetfilterQueue (packet nemesis) builds with these
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# etcd-server's and redis-server's packages start a system etcd on 127.0.0.1:2379 and a system
# redis on 127.0.0.1:6379; splitbrain starts its own inside namespaces and needs neither, so stop
# them and keep them from starting at boot (a no-op where no service manager runs them).
for svc in etcd redis-server; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        systemctl stop "$svc" || true
        systemctl disable --quiet "$svc" 2>/dev/null || true
    elif [ -x "/etc/init.d/$svc" ] && command -v service >/dev/null 2>&1 \
            && service "$svc" status >/dev/null 2>&1; then
        service "$svc" stop >/dev/null 2>&1 || true
    fi
done

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/splitbrain --help >/dev/null
echo "splitbrain installed: .venv/bin/splitbrain" >&2
