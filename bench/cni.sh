#!/usr/bin/env bash
# CNI ADD+DEL with minotaur-cni against the reference bridge plugin with host-local (issue 14).
#   bench/cni.sh [RUNS]
# Builds minotaur in release mode, then runs inside a throwaway box (own PID, network, mount, UTS and IPC
# namespaces; private /run, /etc and /var/lib whose writes land in a temporary directory). The reference
# plugins are Debian's containernetworking-plugins (installed if missing). Each sample is one ADD and one
# DEL of a fresh attachment in the same network namespace, driven as a runtime drives a plugin (CNI_*
# variables, the configuration on stdin).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
dpkg-query -W -f '${Status}' containernetworking-plugins 2>/dev/null | grep -q 'ok installed' ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q containernetworking-plugins >/dev/null
cargo build --release -q -p minotaur
bin=$PWD/target/release/minotaur
mkdir -p bench/results
out=$PWD/bench/results/cni-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/cni-box.sh" "$bin" "$runs" "$tmp" "$out" "$PWD/bench" | tee "$out.txt"
echo "results: $out.*"
