#!/usr/bin/env bash
# Docker parity, as a diff: the same CLI invocations against a real Docker Engine and against minotaur.
#   bench/parity.sh [MINOTAUR-BINARY]
# Installs Debian's docker.io and busybox-static if missing and builds minotaur (debug) unless a binary is
# given, then runs everything inside a throwaway box (own PID, network, mount, UTS and IPC namespaces, private
# /run, /etc and /var/lib whose writes land in a temporary directory; see bench/box.sh): dockerd runs in the
# box's network namespace with iptables off, all state lives in the temporary directory, removed at the end.
# Both engines get the same local image: a busybox root filesystem imported into minotaur, saved as a
# docker-archive and `docker load`ed. bench/parity.py runs the invocations, normalises what must differ and
# writes the differences to bench/results/parity-DATE.md (docs/parity.md explains the accepted ones).
# The Docker client is $DOCKER_CLIENT, by default the newest on the machine (/usr/local/bin/docker if there,
# else Debian's /usr/bin/docker); it negotiates the API version with Debian's dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in busybox-static docker.io; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
if [ $# -ge 1 ]; then
  bin=$(realpath "$1")
else
  cargo build -q -p minotaur
  bin=$PWD/target/debug/minotaur
fi
client=${DOCKER_CLIENT:-}
if [ -z "$client" ]; then
  if [ -x /usr/local/bin/docker ]; then client=/usr/local/bin/docker; else client=/usr/bin/docker; fi
fi
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
out=$PWD/bench/results/parity-$stamp
tmp=$(mktemp -d /var/tmp/minotaur-parity.XXXXXX)
before=$(ls -d /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/minotaur /sys/fs/cgroup/docker 2>/dev/null || true)
. bench/box.sh
cleanup() {
  new_cgroups_cleanup "$before" /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker /sys/fs/cgroup/*/minotaur
  rm -rf "$tmp"
}
trap cleanup EXIT

unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/parity-box.sh" "$bin" "$client" "$tmp" "$out" "$PWD/bench"
echo "report: $out.md"
