#!/usr/bin/env bash
# The start rows of issue 15 on a systemd host: systemd as PID 1, with its own mount propagation (a shared
# root) and cgroup tree, on this machine's cgroup layout (hybrid here) and on a unified (v2 only) one; and the
# same rows in a plain box (bench/box.sh, no systemd) for comparison.
#   bench/systemd.sh [RUNS] [MINOTAUR-BINARY]
# Installs busybox-static and crun from Debian if missing, builds minotaur in release mode (unless a binary
# is given) and the harness that boots the systemd (`minotaur-systemd-box`, crates/testhost: the same boot
# the runc --systemd-cgroup tests use), then for each host runs bench/systemd-box.sh there. On the systemd
# hosts it runs as a transient service (`systemd-run --wait --pipe`), with the engine's default directories:
# state in systemd's /var/lib/minotaur, runtime files in its /run/minotaur, containers' cgroups under
# `minotaur` in its cgroup namespace. Everything is torn down with the box; the bundles live in a temporary
# directory removed at the end. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
missing=()
for p in busybox-static crun; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
if [ -n "${2:-}" ]; then
  bin=$(realpath "$2")
else
  cargo build --release -q
  bin=$PWD/target/release/minotaur
fi
cargo build --release -q -p minotaur-testhost --bin minotaur-systemd-box
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
out=$PWD/bench/results/systemd-$stamp
tmp=$(mktemp -d /var/tmp/minotaur-bench.XXXXXX)
# The plain box has no cgroup namespace: minotaur's default parent is made at the hierarchies' roots.
before=$(ls -d /sys/fs/cgroup/*/minotaur 2>/dev/null || true)
. bench/box.sh
cleanup() {
  new_cgroups_cleanup "$before" /sys/fs/cgroup/*/minotaur
  rm -rf "$tmp"
}
trap cleanup EXIT

inside=(bash "$PWD/bench/systemd-box.sh" "$bin" "$runs")
for host in systemd-hybrid systemd-unified box; do
  mkdir -p "$tmp/$host"
  case $host in
  box)
    unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- \
      env BENCH_PLAIN_BOX=1 "${inside[@]}" "$tmp/$host" "$out.$host" "$PWD/bench" ;;
  systemd-*)
    flags=()
    [ "$host" = systemd-unified ] && flags=(--unified)
    target/release/minotaur-systemd-box "${flags[@]}" --read-only "$PWD/bench" --read-only "$(dirname "$bin")" \
      --read-write "$tmp/$host" --read-write "$PWD/bench/results" "$bin" -- \
      systemd-run --wait --pipe --quiet --collect --unit=minotaur-bench -- \
      "${inside[@]}" "$tmp/$host" "$out.$host" "$PWD/bench" ;;
  esac || echo "$host: exited $?"
done 2>&1 | tee "$out.txt"

# The same run on a systemd host and in the plain box, paired: both held up at once (systemd on this
# machine's layout), each entered with `nsenter -a` from here, the two alternating every round.
pair=$tmp/pair
mkdir -p "$pair/box"
touch "$pair/hold"
target/release/minotaur-systemd-box --read-write "$pair" "$bin" -- sh -c \
  'echo "$MINOTAUR_SYSTEMD_PID" > "$1/sd.pid"; while [ -e "$1/hold" ]; do sleep 0.2; done' - "$pair" &
sdbox=$!
unshare --net --mount --pid --uts --ipc --fork --kill-child --mount-proc --propagation private -- bash -c \
  '. "$1/box.sh"; private_box "$2/box"; touch "$2/box.ready"; while [ -e "$2/hold" ]; do sleep 0.2; done' \
  - "$PWD/bench" "$pair" &
boxholder=$!
for _ in $(seq 600); do [ -s "$pair/sd.pid" ] && [ -e "$pair/box.ready" ] && break; sleep 0.1; done
boxinit=$(cut -d' ' -f1 "/proc/$boxholder/task/$boxholder/children")
mino="$bin run --rm --network none host true"
{
  echo
  echo "== the same run on both hosts, paired (entered with nsenter -a from outside)"
  python3 bench/timeit.py -n "$runs" -w 3 --json "$out.paired.json" \
    --pair "run --rm true: systemd host (hybrid) vs plain box" \
    "nsenter -t $(cat "$pair/sd.pid") -a $mino" "nsenter -t $boxinit -a $mino"
} 2>&1 | tee -a "$out.txt"
rm "$pair/hold"
wait "$sdbox" "$boxholder" || true
echo "results: $out.*"
