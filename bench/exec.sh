#!/usr/bin/env bash
# exec against nsenter, and a build against an earlier one (issue 15's exec row).
#   bench/exec.sh [RUNS] [OLD-MINOTAUR]
# `exec C true` against `nsenter -t PID -a true` (PID: the container's PID 1), and, given an earlier build
# (a copy outside target/), this build's `exec` against that one's on the same container, alternating;
# then the CPU time of each (`perf stat -r RUNS -e task-clock`, if perf is there). Everything runs inside
# a throwaway box (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-40}
old=${2:-}
cargo build --release -q
bin=$PWD/target/release/minotaur
mkdir -p bench/results
out=$PWD/bench/results/exec-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
# minotaur's default cgroup parent, made in the host's hierarchies (the box has no cgroup namespace).
before=$(ls -d /sys/fs/cgroup/*/minotaur 2>/dev/null || true)
. bench/box.sh
trap 'rm -rf "$tmp"; new_cgroups_cleanup "$before" /sys/fs/cgroup/*/minotaur' EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/exec-box.sh" "$bin" "$runs" "$tmp" "$out" "$PWD/bench" "$old" | tee "$out.txt"
echo "results: $out.*"
