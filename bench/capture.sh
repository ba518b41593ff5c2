#!/usr/bin/env bash
# The packet rate `capture -w` keeps against `tcpdump -w` (issue 11's figure).
#   bench/capture.sh [ROUNDS] [SECONDS]
# ROUNDS (default 5) rounds of iperf3 through a published port for SECONDS (default 5) each, with minotaur's
# capture, with tcpdump, and with neither, in an order that rotates every round; then the medians, the
# ratios and each tool's closing counters. Everything runs inside a throwaway box (see bench/README.md);
# the traffic never leaves it.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-5}
missing=()
for p in iperf3 tcpdump iproute2 libpcap0.8; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
cargo build --release -q
bin=$PWD/target/release/minotaur
mkdir -p bench/results
out=$PWD/bench/results/capture-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
. bench/box.sh
cleanup() {
  connect_cgroup_cleanup "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/capture-box.sh" "$bin" "$rounds" "$secs" "$tmp" "$out" "$PWD/bench" | tee "$out.txt"
echo "results: $out.*"
