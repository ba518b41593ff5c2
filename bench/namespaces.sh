#!/usr/bin/env bash
# The namespace tools against util-linux and iproute2, the physical floor (issue 2's benchmark).
#   bench/namespaces.sh [RUNS]
# Runs inside a throwaway box (own PID, network and mount namespaces, private /run), so the host's network and
# /run/netns are never touched. Builds minotaur in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
cargo build --release -q
bin=$PWD/target/release/minotaur
mkdir -p bench/results
out=$PWD/bench/results/namespaces-$(date +%Y%m%d-%H%M%S).json

exec unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- bash -s "$bin" "$runs" "$out" <<'BOX'
set -euo pipefail
bin=$1 runs=$2 out=$3
mount -t tmpfs tmpfs /run
ip link set lo up
# The target: a process in its own namespaces, as a container's PID 1 would be.
unshare --net --mount --uts --ipc --pid --fork --mount-proc sleep 1000 &
holder=$!
until pid=$(cat /proc/$holder/task/$holder/children 2>/dev/null) && [ -n "$pid" ]; do sleep 0.01; done
pid=${pid%% *}
echo "kernel $(uname -r), $(nproc) cores; target pid $pid"
python3 "$(dirname "$bin")/../../bench/timeit.py" -n "$runs" --json "$out" \
  --pair "nsenter -t PID -a true" "$bin nsenter -t $pid -a true" "nsenter -t $pid -a true" \
  --pair "unshare -n true" "$bin unshare -n true" "unshare -n true" \
  --pair "netns add+delete" "$bin netns add bench && $bin netns delete bench" "ip netns add bench && ip netns delete bench"
kill $holder
echo "results: $out"
BOX
