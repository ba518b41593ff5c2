#!/usr/bin/env bash
# A bridged `run --rm host true` against `--network none` (issue 15), of one build and, when given, against
# another.
#   bench/bridge.sh NEW-MINOTAUR [OLD-MINOTAUR] [RUNS]
# In one throwaway box (as bench/containers.sh makes it: its own network namespace, so the bridge, the veths
# and minotaur's nftables table are the box's), each build with a store, a run root and a network
# namespace of its own (entered with nsenter, for both of a pair alike), timeit.py
# alternates: each build's bridged run against its `--network none` run, and the two builds' bridged runs
# (and `none` runs) against each other; then the bridged runs again beside a running container of the
# network (whose resolver already serves). Then ten bridged runs of each build with the debug log, whose step
# times (µs since the CLI started) are printed as medians per step. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
new=$(realpath "$1") old=${2:+$(realpath "$2")} runs=${3:-20}
mkdir -p bench/results
out=$PWD/bench/results/bridge-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
# minotaur's default cgroup parent, made in the host's hierarchies (the box has no cgroup namespace).
before=$(ls -d /sys/fs/cgroup/*/minotaur 2>/dev/null || true)
. bench/box.sh
trap 'rm -rf "$tmp"; new_cgroups_cleanup "$before" /sys/fs/cgroup/*/minotaur' EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/bridge-box.sh" "$new" "$old" "$runs" "$tmp" "$PWD/bench" | tee "$out.txt"
echo "results: $out.txt"
