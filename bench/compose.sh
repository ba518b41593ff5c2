#!/usr/bin/env bash
# `compose up -d` of a 10-service project, and `compose ps` of it: minotaur against podman-compose and
# docker-compose on the same file, in one run (issue 12's figure; the target is <= 0.2x podman-compose).
#   bench/compose.sh [RUNS] [MINOTAUR-BINARY]
# Installs the peers from Debian (podman, podman-compose, docker.io and docker-compose 1.29; Debian 12 has no
# `docker compose` v2 plugin) if missing, builds minotaur in release mode unless a binary is given, and runs
# everything in a throwaway box (bench/box.sh): own PID, network and mount namespaces, private /run, /etc and
# /var/lib, all state in one temporary directory removed at the end. dockerd runs in the box's network
# namespace with iptables off, as in bench/parity.sh. Each run is `up -d` from nothing, timed, then `down`
# (not timed); `ps` is timed RUNS times with the project up.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
missing=()
for p in busybox-static podman podman-compose docker.io docker-compose; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
if [ $# -ge 2 ]; then
  bin=$(realpath "$2")
else
  cargo build --release -q
  bin=$PWD/target/release/minotaur
fi
mkdir -p bench/results
out=$PWD/bench/results/compose-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
before=$(ls -d /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/minotaur /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker 2>/dev/null || true)
. bench/box.sh
cleanup() {
  new_cgroups_cleanup "$before" /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker /sys/fs/cgroup/*/minotaur
  rm -rf "$tmp"
}
trap cleanup EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/compose-box.sh" "$bin" "$runs" "$tmp" "$PWD/bench" | tee "$out.txt"
echo "results: $out.txt"
