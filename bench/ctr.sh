#!/usr/bin/env bash
# containerd's `ctr run --rm` with minotaur-runc against runc as the runc v2 shim's binary (issue 14).
#   bench/ctr.sh [RUNS]
# Installs containerd and runc from Debian if missing and builds minotaur in release mode, then runs inside a
# throwaway box (own PID, network, mount, UTS and IPC namespaces; private /run, /etc and /var/lib whose writes
# land in a temporary directory). containerd is started in the box with its root, state and socket in that
# directory, imports a busybox image from an OCI archive made here, and dies with the box. Containers' cgroups
# go under /minotaur-bench-ctr, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
missing=()
for p in busybox-static containerd runc python3; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
cargo build --release -q -p minotaur
bin=$PWD/target/release/minotaur
mkdir -p bench/results
out=$PWD/bench/results/ctr-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
before=$(ls -d /sys/fs/cgroup/*/minotaur-bench-ctr 2>/dev/null || true)
. bench/box.sh
cleanup() {
  new_cgroups_cleanup "$before" /sys/fs/cgroup/*/minotaur-bench-ctr
  rm -rf "$tmp"
}
trap cleanup EXIT

unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/ctr-box.sh" "$bin" "$runs" "$tmp" "$out" "$PWD/bench" | tee "$out.txt"
echo "results: $out.*"
