#!/usr/bin/env bash
# The binary's start: what every command pays before it does its job (issue 15), one build against another.
#   bench/start.sh NEW-MINOTAUR OLD-MINOTAUR [RUNS] [ROUNDS]
# In one throwaway box (as bench/containers.sh makes it), with one store shared by both builds: CPU time and
# page faults (`perf stat -r RUNS -e task-clock,page-faults`, children included) of `--version`, `ps` of an
# empty store, `exec C true` and `run --rm --network none host true`, each build in turn, ROUNDS times
# (default 3), beside the C `true`, `nsenter -t PID -a true` and the namespace floor
# `unshare -fpmuin --mount-proc true`; then wall time, the builds alternating (bench/timeit.py --pair).
# RUNS defaults to 60. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
new=$(realpath "$1") old=$(realpath "$2") runs=${3:-60} rounds=${4:-3}
mkdir -p bench/results
out=$PWD/bench/results/start-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
before=$(ls -d /sys/fs/cgroup/*/minotaur 2>/dev/null || true)
. bench/box.sh
trap 'rm -rf "$tmp"; new_cgroups_cleanup "$before" /sys/fs/cgroup/*/minotaur' EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/start-box.sh" "$new" "$old" "$runs" "$rounds" "$tmp" "$out" "$PWD/bench" | tee "$out.txt"
echo "results: $out.*"
