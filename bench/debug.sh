#!/usr/bin/env bash
# debug against exec (issue 11's figure; the capture rate is bench/capture.sh's).
#   bench/debug.sh [RUNS]
# `debug T -- true` against `exec T true` (medians over RUNS, default 20). Everything runs inside a
# throwaway box (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
missing=()
for p in busybox-static; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
cargo build --release -q
bin=$PWD/target/release/minotaur
mkdir -p bench/results
out=$PWD/bench/results/debug-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
. bench/box.sh
cleanup() {
  connect_cgroup_cleanup "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/debug-box.sh" "$bin" "$runs" "$tmp" "$out" "$PWD/bench" | tee "$out.txt"
echo "results: $out.*"
