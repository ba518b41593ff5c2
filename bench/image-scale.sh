#!/usr/bin/env bash
# The 1,000th start of an image container against the first (issue 15's "the same with an image container").
#   bench/image-scale.sh [COUNT] [MINOTAUR]
# Builds minotaur in release mode (or takes the binary MINOTAUR), then in a throwaway box (as bench/containers.sh makes it) imports a busybox
# root filesystem as an image and starts COUNT (default 1,000) containers of it one after another with
# `run -d --network none IMAGE sleep 100000`, each with its own overlay. Prints launch.py's figures (the first
# and last start, the medians of the first and last ten and hundred) and removes everything. See
# bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000}
dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null
if [ -n "${2:-}" ]; then
  bin=$(realpath "$2")
else
  cargo build --release -q
  bin=$PWD/target/release/minotaur
fi
mkdir -p bench/results
out=$PWD/bench/results/image-scale-$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
# minotaur's default cgroup parent, made in the host's hierarchies (the box has no cgroup namespace).
before=$(ls -d /sys/fs/cgroup/*/minotaur 2>/dev/null || true)
. bench/box.sh
trap 'rm -rf "$tmp"; new_cgroups_cleanup "$before" /sys/fs/cgroup/*/minotaur' EXIT
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
  bash -c '
    set -euo pipefail
    bin=$1 count=$2 tmp=$3 out=$4 bench=$5
    . "$bench/box.sh"
    private_box "$tmp"
    export MINOTAUR_ROOT=$tmp/minotaur
    # Containers are removed before the box goes: their cgroups are the real host'"'"'s.
    teardown() {
      ids=$("$bin" ps -aq 2>/dev/null || true)
      if [ -n "$ids" ]; then "$bin" rm -f $ids >/dev/null 2>&1 || true; fi
    }
    trap teardown EXIT
    r=$tmp/rootfs
    mkdir -p "$r/bin" "$r/etc" "$r/tmp"
    cp /bin/busybox "$r/bin/busybox"
    for c in sh sleep true; do ln -s busybox "$r/bin/$c"; done
    tar -C "$r" -cf "$r.tar" .
    "$bin" import "$r.tar" bench-img >/dev/null
    python3 "$bench/launch.py" --log "$tmp/launch" --from 1 --to "$count" --label "minotaur run -d IMAGE" \
      "$bin run -d --name img-{i} --network none bench-img sleep 100000"
    # Each overlay is mounted in the mount namespace of its container: none shows in the one of the engine
    # (the overlays of the box, /etc and /var/lib, do).
    echo "overlay mounts the engine sees with $count containers running: $(grep -c " - overlay " /proc/self/mountinfo) (two of them the box /etc and /var/lib)"
    cp "$tmp/launch" "$out.launch.txt"
  ' box "$bin" "$count" "$tmp" "$out" "$PWD/bench" | tee "$out.txt"
echo "results: $out.*"
