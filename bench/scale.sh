#!/usr/bin/env bash
# `ps` and `rm -f` at scale, and a lone supervisor's memory, of one build against another (issue 15).
#   bench/scale.sh NEW-MINOTAUR OLD-MINOTAUR [COUNT] [RUNS] [ROUNDS]
# In one throwaway box (as bench/containers.sh makes it), each round starts COUNT (default 1,000) containers
# `run -d --network none host sleep 100000` with one build, times `ps` and `ps -q` of both builds against
# each other (RUNS samples each, default 10, alternating), then times `rm -f` of them all with that build;
# the next round does the same with the other build first. The PSS of a lone supervisor (one container
# running, `Pss:` of /proc/PID/smaps_rollup) is read for each build after the rounds. Both builds share the
# box's store. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
new=$(realpath "$1") old=$(realpath "$2") count=${3:-1000} runs=${4:-10} rounds=${5:-2}
mkdir -p bench/results
out=$PWD/bench/results/scale-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/scale-box.sh" "$new" "$old" "$count" "$runs" "$rounds" "$tmp" "$PWD/bench" | tee "$out.txt"
echo "results: $out.txt"
