#!/usr/bin/env bash
# The inside of bench/scale.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   scale-box.sh NEW OLD COUNT RUNS ROUNDS TMPDIR BENCH-DIR
set -euo pipefail
count=$3 runs=$4 rounds=$5 tmp=$6 bench=$7
. "$bench/box.sh"
private_box "$tmp"
# Each build has a store of its own: a newer build may migrate the database to a schema the older one
# refuses. (The global flags, rather than a wrapper script, add nothing to what is timed.)
new="$1 --root $tmp/store-new --runroot /run/minotaur-new"
old="$2 --root $tmp/store-old --runroot /run/minotaur-old"
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
ppid() { awk '/^PPid:/ {print $2}' "/proc/$1/status"; }
# Containers are removed before the box goes: their cgroups are the real host's.
teardown() {
  local ids b
  for b in "$new" "$old"; do
    ids=$($b ps -aq 2>/dev/null || true)
    if [ -n "$ids" ]; then $b rm -f $ids >/dev/null 2>&1 || true; fi
  done
}
trap teardown EXIT
start_all() { # BIN NAME-PREFIX: COUNT containers, two starts at a time (their start times are not what is measured)
  seq 1 "$count" | xargs -P 2 -I{} $1 run -d --name "$2-{}" --network none host sleep 100000 >/dev/null
}
for round in $(seq 1 "$rounds"); do
  # Odd rounds start and remove the new build's containers first, even rounds the old one's.
  order="new old"
  if [ $((round % 2)) = 0 ]; then order="old new"; fi
  for which in $order; do
    start_all "${!which}" "$which"
  done
  echo "== round $round: $($new ps -q | wc -l) running (new), $($old ps -q | wc -l) running (old)"
  python3 "$bench/timeit.py" -n "$runs" -w 2 \
    --pair "ps, $count running: new/old" "$new ps" "$old ps" \
    --pair "ps -q, $count running: new/old" "$new ps -q" "$old ps -q"
  # CPU time, which the machine's load inflates far less than wall time.
  if command -v perf >/dev/null; then
    for args in "ps" "ps -q"; do
      for b in new old; do
        cpu=$(perf stat -x, -r "$runs" -e task-clock ${!b} $args 2>&1 >/dev/null | awk -F, '/task-clock/ {print $1}')
        echo "$args, $count running, $b: ${cpu} ms of CPU (perf stat, mean of $runs)"
      done
    done
  fi
  for which in $order; do
    bin=${!which}
    t0=$(date +%s.%N)
    $bin rm -f $($bin ps -aq) >/dev/null
    t1=$(date +%s.%N)
    echo "rm -f of $count running, $which: $(echo "$t1 - $t0" | bc) s; left: $($bin ps -aq | wc -l)"
  done
done
# A lone supervisor's memory: one container running, three readings of each build, alternating, each after
# the supervisor has settled into its loop.
rss() { awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup"; }
for i in 1 2 3; do
  for which in new old; do
    bin=${!which}
    $bin run -d --name lone --network none host sleep 100000 >/dev/null
    pid=$($bin inspect -f '{{.State.Pid}}' lone)
    sup=$(ppid "$pid")
    # Settled: blocked in poll(2) or ppoll(2) with no timeout (/proc/PID/syscall names the call it sleeps
    # in and its arguments). Its first poll has one: the supervisor gives its memory back once the container
    # has run 100 ms, and then sleeps for good.
    for _ in $(seq 250); do
      case $(cut -d' ' -f1,4 "/proc/$sup/syscall" 2>/dev/null) in "7 0xffffffff" | "7 0xffffffffffffffff" | "271 0x0") break ;; esac
      sleep 0.02
    done
    echo "a lone supervisor, $which (reading $i): PSS $(pss "$sup") KiB, RSS $(rss "$sup") KiB"
    $bin rm -f lone >/dev/null
  done
done
# podman's conmon in the same box, for comparison: one container of a static busybox root.
if command -v podman >/dev/null && busybox=$(command -v busybox) && ! ldd "$busybox" >/dev/null 2>&1; then
  podman_private "$tmp"
  mkdir -p "$tmp/rootfs/bin"
  cp "$busybox" "$tmp/rootfs/bin/busybox"
  ln -s busybox "$tmp/rootfs/bin/sleep"
  tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
  podman import -q "$tmp/rootfs.tar" localhost/minotaur-bench >/dev/null
  podman run -d --name lone --network none localhost/minotaur-bench sleep 100000 >/dev/null
  conmon=$(podman inspect -f '{{.State.ConmonPid}}' lone)
  echo "podman's conmon, one container: PSS $(pss "$conmon") KiB, RSS $(rss "$conmon") KiB"
  podman rm -f -t 0 lone >/dev/null
  podman rmi -a -f >/dev/null 2>&1 || true
else
  echo "podman's conmon: skipped: podman or a static busybox is missing"
fi
