#!/usr/bin/env bash
# `ps` and `rm -f` at scale, and a lone supervisor's memory, of one build against another (issue 15).
#   bench/scale.sh NEW-MINOTAUR OLD-MINOTAUR [COUNT] [RUNS] [ROUNDS]
# In one throwaway box (as bench/containers.sh makes it), each round starts COUNT (default 1,000) containers
# `run -d --network none host sleep 100000` with each build, in a store of its own (a newer build may
# migrate the database to a schema the older one refuses), times `ps` and `ps -q` of both builds against
# each other (RUNS samples each, default 10, alternating), then times each build's `rm -f` of its own; the
# next round starts and removes the other build's first. The PSS and RSS of a lone supervisor (one
# container running, /proc/PID/smaps_rollup) are read three times for each build after the rounds, and
# those of podman's conmon for one container where podman is installed.
# See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
new=$(realpath "$1") old=$(realpath "$2") count=${3:-1000} runs=${4:-10} rounds=${5:-2}
mkdir -p bench/results
out=$PWD/bench/results/scale-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
before=$(ls -d /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/minotaur 2>/dev/null || true)
. bench/box.sh
cleanup() {
  new_cgroups_cleanup "$before" /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/minotaur
  rm -rf "$tmp"
}
trap cleanup EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/scale-box.sh" "$new" "$old" "$count" "$runs" "$rounds" "$tmp" "$PWD/bench" | tee "$out.txt"
echo "results: $out.txt"
