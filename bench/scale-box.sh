#!/usr/bin/env bash
# The inside of bench/scale.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   scale-box.sh NEW OLD COUNT RUNS ROUNDS TMPDIR BENCH-DIR
set -euo pipefail
new=$1 old=$2 count=$3 runs=$4 rounds=$5 tmp=$6 bench=$7
. "$bench/box.sh"
private_box "$tmp"
export MINOTAUR_ROOT=$tmp/minotaur
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
ppid() { awk '/^PPid:/ {print $2}' "/proc/$1/status"; }
# Containers are removed before the box goes: their cgroups are the real host's.
teardown() {
  local ids
  ids=$("$new" ps -aq 2>/dev/null || true)
  if [ -n "$ids" ]; then "$new" rm -f $ids >/dev/null 2>&1 || true; fi
}
trap teardown EXIT
start_all() { # BIN: COUNT containers, two starts at a time (their start times are not what is measured)
  seq 1 "$count" | xargs -P 2 -I{} "$1" run -d --name s-{} --network none host sleep 100000 >/dev/null
}
for round in $(seq 1 "$rounds"); do
  for which in new old; do
    if [ $((round % 2)) = 0 ]; then which=$([ $which = new ] && echo old || echo new); fi
    bin=${!which}
    start_all "$bin"
    echo "== round $round, $which: $("$bin" ps -q | wc -l) running"
    if [ "$which" = new ]; then
      python3 "$bench/timeit.py" -n "$runs" -w 2 \
        --pair "ps, $count running: new/old" "$new ps" "$old ps" \
        --pair "ps -q, $count running: new/old" "$new ps -q" "$old ps -q"
      # CPU time, which the machine's load inflates far less than wall time.
      if command -v perf >/dev/null; then
        for args in "ps" "ps -q"; do
          for b in new old; do
            cpu=$(perf stat -x, -r "$runs" -e task-clock "${!b}" $args 2>&1 >/dev/null | awk -F, '/task-clock/ {print $1}')
            echo "$args, $count running, $b: ${cpu} ms of CPU (perf stat, mean of $runs)"
          done
        done
      fi
    fi
    t0=$(date +%s.%N)
    "$bin" rm -f $("$bin" ps -aq) >/dev/null
    t1=$(date +%s.%N)
    echo "rm -f of $count running, $which: $(echo "$t1 - $t0" | bc) s; left: $("$bin" ps -aq | wc -l)"
  done
done
for which in new old; do
  bin=${!which}
  "$bin" run -d --name lone --network none host sleep 100000 >/dev/null
  pid=$("$bin" inspect -f '{{.State.Pid}}' lone)
  echo "a lone supervisor's PSS, $which: $(pss "$(ppid "$pid")") KiB"
  "$bin" rm -f lone >/dev/null
done
