#!/usr/bin/env bash
# The concurrency soak (issue 13): two rounds of 200 `run --rm` across 4 networks, 8 at a time, interleaved
# with `network connect/disconnect`, `rm -f` of running containers and `system prune -f`; after each round,
# a count of everything that could leak, and at the end `system check`. Not a test: it takes minutes.
#   bench/soak.sh [RUNS]       (RUNS runs per round, 200 by default; PARALLEL=N at a time, 8 by default)
# MINOTAUR=PATH uses that binary instead of building one in release mode. Everything runs inside a throwaway
# box (own PID, network, mount, UTS and IPC namespaces, private /run, /etc and /var/lib as overlays whose
# writes land in a temporary directory), with its own cgroup parent for containers: the host's network,
# /run and cgroups of other engines are never touched. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
parallel=${PARALLEL:-8}
if [ -z "${MINOTAUR:-}" ]; then
  cargo build --release -q
  MINOTAUR=$PWD/target/release/minotaur
fi
mkdir -p bench/results
out=$PWD/bench/results/soak-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-soak.XXXXXX)
parent=minotaur-soak-${tmp##*.}
. bench/box.sh
cleanup() {
  connect_cgroup_cleanup "$tmp"
  # The soak's own cgroup parent, in every hierarchy (empty when nothing leaked).
  for d in /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/soak-box.sh" "$MINOTAUR" "$runs" "$parallel" "$tmp" "$parent" "$PWD/bench" | tee "$out.txt"
echo "results: $out.txt"
