#!/usr/bin/env bash
# Pulls and pushes against podman, skopeo and the decompression floor (the images issue's benchmark).
#   bench/pull.sh [RUNS] [OLD-MINOTAUR]
# Installs the peers from Debian (podman skopeo docker-registry zstd) if missing and builds minotaur in release
# mode, then runs everything inside a throwaway box (own PID, network, mount, UTS and IPC namespaces, private
# /run, /etc and /var/lib whose writes land in a temporary directory), where a local registry listens on the
# box's loopback. All state (the registries' storage, minotaur's, podman's) lives in one temporary directory
# that is removed at the end. See bench/README.md for the rows. With OLD-MINOTAUR (another build of minotaur),
# the pulls are also timed against it, in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
old=${2:-}
if [ -n "$old" ]; then old=$(realpath "$old"); fi
missing=()
for p in podman crun skopeo docker-registry zstd; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
cargo build --release -q
bin=$PWD/target/release/minotaur
mkdir -p bench/results
out=$PWD/bench/results/pull-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
before=$(ls -d /sys/fs/cgroup/*/libpod_parent 2>/dev/null || true)
. bench/box.sh
cleanup() {
  new_cgroups_cleanup "$before" /sys/fs/cgroup/*/libpod_parent
  rm -rf "$tmp"
}
trap cleanup EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/pull-box.sh" "$bin" "$runs" "$tmp" "$out" "$PWD/bench" "$old" | tee "$out.txt"
echo "results: $out.*"
