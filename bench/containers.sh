#!/usr/bin/env bash
# Containers against crun, runc, podman and docker (issue 3's benchmark).
#   bench/containers.sh [RUNS]
# Installs the peers from Debian (crun runc podman docker.io) if missing and builds minotaur in release mode,
# then runs everything inside a throwaway box (own PID, network, mount, UTS and IPC namespaces, private /run,
# /etc and /var/lib as overlays whose writes land in a temporary directory), so the host's network, /run, /etc
# and /var/lib are never touched. All state (minotaur's, the runtimes', podman's storage, dockerd's data and
# exec roots) lives in one temporary directory that is removed at the end; dockerd is started in the box and
# stopped by its PID. See bench/README.md for what each row means and the peers' quirks.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
missing=()
for p in busybox-static crun runc podman docker.io; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
cargo build --release -q
# The runtime's test runner prints minotaur's default spec, for a crun bundle with the same confinement.
cargo build --release -q -p minotaur-runtime --bin minotaur-runtime-run
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
out=$PWD/bench/results/containers-$stamp
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
# The build copied, as `cargo install` or a package places it: how the binary's pages came into the page
# cache (the linker's writes, a copy, a read from disk) moves the page faults of a run and the supervisor's
# PSS (bench/README.md), so every run starts from a fresh copy.
mkdir "$tmp/bin"
cp target/release/minotaur target/release/minotaur-runtime-run "$tmp/bin/"
bin=$tmp/bin/minotaur
# Parent cgroups the peers (and minotaur's default parent, `minotaur`: the box has no cgroup namespace) create
# and never remove (v1: one per controller); removed afterwards if new.
before=$(ls -d /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/minotaur 2>/dev/null || true)
. bench/box.sh
cleanup() {
  new_cgroups_cleanup "$before" /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/minotaur
  rm -rf "$tmp"
}
trap cleanup EXIT

unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash "$PWD/bench/containers-box.sh" "$bin" "$runs" "$tmp" "$out" "$PWD/bench" | tee "$out.txt"
echo "results: $out.*"
