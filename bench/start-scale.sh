#!/usr/bin/env bash
# The 1,000th start against the first, in several rounds, by wall time and by CPU time (issue 15's scale row).
#   bench/start-scale.sh MINOTAUR [OTHER-MINOTAUR] [COUNT] [ROUNDS]
# In one throwaway box (as bench/containers.sh makes it), each round starts COUNT (default 1,000) containers
# `run -d --network none host sleep 100000` one after another with launch.py (each start's wall time), with
# 20 starts before the first and 20 after the last under `perf stat -e task-clock` (the CPU time of each
# start's processes: the CLI, the supervisor and the init up to the `exec` of `sleep`, counted while they
# run), then removes them all. With OTHER-MINOTAUR, rounds alternate between the two builds (each with a
# store of its own). Prints, per round, the medians and the 10th percentiles of the first and last 100 starts
# and the CPU time a start at 0 and at COUNT running, with their ratios; then the median and range of each
# ratio over the rounds of each build. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
one=$(realpath "$1")
two=
if [ $# -ge 2 ] && [ -x "$2" ]; then two=$(realpath "$2"); shift; fi
count=${2:-1000} rounds=${3:-4}
mkdir -p bench/results
out=$PWD/bench/results/start-scale-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
before=$(ls -d /sys/fs/cgroup/*/minotaur 2>/dev/null || true)
. bench/box.sh
cleanup() {
  new_cgroups_cleanup "$before" /sys/fs/cgroup/*/minotaur
  rm -rf "$tmp"
}
trap cleanup EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/start-scale-box.sh" "$count" "$rounds" "$tmp" "$PWD/bench" "$one" $two | tee "$out.txt"
echo "results: $out.txt"
