#!/usr/bin/env bash
# Start dockerd if it is not running (CI machines have no init system running it).
# Waits until the daemon answers; exits 3 if it does not.
set -uo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "start-dockerd.sh: dockerd not installed (apt-get install docker.io)" >&2
    exit 3
fi
mkdir -p /var/log
nohup dockerd >/var/log/splitbrain-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then exit 0; fi
    sleep 1
done
echo "start-dockerd.sh: dockerd did not come up; see /var/log/splitbrain-dockerd.log" >&2
exit 3
