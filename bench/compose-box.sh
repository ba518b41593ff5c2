#!/usr/bin/env bash
# The inside of bench/compose.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   compose-box.sh MINOTAUR RUNS TMPDIR BENCH-DIR
set -euo pipefail
bin=$1 runs=$2 tmp=$3 bench=$4
. "$bench/box.sh"
private_box "$tmp"
podman_private "$tmp"
export MINOTAUR_ROOT=$tmp/minotaur
say() { printf '%s\n' "$*"; }
teardown() {
  set +e
  ids=$("$bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$bin" rm -f $ids >/dev/null
  podman rm -a -f -t 0 >/dev/null 2>&1
  podman rmi -a -f >/dev/null 2>&1
}
trap teardown EXIT

# One project, two images: minotaur's built-in host image, and a static busybox root (for podman, which has
# no host image, and for minotaur on the same image).
busybox=$(command -v busybox)
mkdir -p "$tmp/rootfs/bin"
cp "$busybox" "$tmp/rootfs/bin/busybox"
for a in sleep sh true; do ln -s busybox "$tmp/rootfs/bin/$a"; done
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
"$bin" import "$tmp/rootfs.tar" bench-busybox >/dev/null
podman import -q "$tmp/rootfs.tar" localhost/bench-busybox >/dev/null
project() { # IMAGE DIR
  mkdir -p "$2"
  {
    echo "name: bench"
    echo "services:"
    for i in $(seq 1 10); do
      printf '  s%s:\n    image: %s\n    command: ["sleep", "infinity"]\n' "$i" "$1"
    done
  } >"$2/compose.yaml"
}
project host "$tmp/p-host"
project bench-busybox "$tmp/p-mino"
project localhost/bench-busybox "$tmp/p-podman"

ms() { python3 -c 'import sys,time; print(int(time.time()*1000))'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # NAME UP DOWN
  local name=$1 up=$2 down=$3 t0 t1 times=()
  for _ in $(seq 1 "$runs"); do
    t0=$(ms); eval "$up" >/dev/null 2>&1; t1=$(ms)
    times+=($((t1 - t0)))
    eval "$down" >/dev/null 2>&1
  done
  printf '%-40s median %6s ms  (%s)\n' "$name" "$(printf '%s\n' "${times[@]}" | median)" "${times[*]}"
}
say "compose up -d, 10 services, $runs runs each"
measure "minotaur compose (host image)" "$bin compose -f $tmp/p-host/compose.yaml up -d" \
  "$bin compose -f $tmp/p-host/compose.yaml down -t 0"
measure "minotaur compose (busybox image)" "$bin compose -f $tmp/p-mino/compose.yaml up -d" \
  "$bin compose -f $tmp/p-mino/compose.yaml down -t 0"
measure "podman-compose (busybox image)" "podman-compose -f $tmp/p-podman/compose.yaml up -d" \
  "podman-compose -f $tmp/p-podman/compose.yaml down -t 0"
for dc in "docker compose" docker-compose; do
  if $dc version >/dev/null 2>&1; then
    say "$dc: present but needs a daemon; not measured in the box"
  fi
done
"$bin" compose -f "$tmp/p-host/compose.yaml" up -d >/dev/null 2>&1
say ""
say "compose ps with 10 services:"
t0=$(ms); "$bin" compose -f "$tmp/p-host/compose.yaml" ps; t1=$(ms)
say "($((t1 - t0)) ms)"
"$bin" compose -f "$tmp/p-host/compose.yaml" down -t 0 >/dev/null 2>&1
