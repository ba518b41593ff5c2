#!/usr/bin/env bash
# whois and graph at scale (issue 11's figures): COUNT (default 1,000) running containers on the default bridge,
# a few with published ports, then the medians of `whois` for each kind of target and of `graph`.
#   bench/topology.sh [RUNS]        (COUNT=N in the environment: N containers instead of 1,000)
# Builds minotaur in release mode and runs everything inside a throwaway box (own PID, network, mount, UTS and
# IPC namespaces, private /run, /etc and /var/lib): the host's network is never touched. All state lives in one
# temporary directory that is removed at the end. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
count=${COUNT:-1000}
cargo build --release -q
bin=$PWD/target/release/minotaur
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
out=$PWD/bench/results/topology-$stamp
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
. bench/box.sh
cleanup() {
  connect_cgroup_cleanup "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT

unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/topology-box.sh" "$bin" "$runs" "$tmp" "$out" "$PWD/bench" "$count" | tee "$out.txt"
echo "results: $out.*"
