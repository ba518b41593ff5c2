#!/usr/bin/env bash
# Container networks (issue 4's benchmark): attach cost, 1,000 containers on one network, published ports.
#   bench/networks.sh [RUNS]        (COUNT=N in the environment: N containers in section 2 instead of 1,000)
# Installs the peers and tools from Debian (podman netavark iperf3 socat busybox-static) if missing and builds
# minotaur in release mode, then runs everything inside a throwaway box (own PID, network, mount, UTS and IPC
# namespaces, private /run, /etc and /var/lib as overlays whose writes land in a temporary directory): all
# traffic stays in the box (its loopback, its bridges, its containers), the host's network is never touched.
# All state lives in one temporary directory that is removed at the end. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
count=${COUNT:-1000}
missing=()
for p in busybox-static crun podman netavark iperf3 socat; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
cargo build --release -q
bin=$PWD/target/release/minotaur
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
out=$PWD/bench/results/networks-$stamp
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
# Parent cgroups podman creates and never removes (v1: one per controller); removed afterwards if new.
before=$(ls -d /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/minotaur 2>/dev/null || true)
. bench/box.sh
cleanup() {
  new_cgroups_cleanup "$before" /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/minotaur
  connect_cgroup_cleanup "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT

unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/networks-box.sh" "$bin" "$runs" "$tmp" "$out" "$PWD/bench" "$count" | tee "$out.txt"
echo "results: $out.*"
