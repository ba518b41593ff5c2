#!/usr/bin/env bash
# The inside of bench/start.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   start-box.sh NEW OLD RUNS ROUNDS TMPDIR OUT-PREFIX BENCH-DIR
set -euo pipefail
new=$1 old=$2 runs=$3 rounds=$4 tmp=$5 out=$6 bench=$7
. "$bench/box.sh"
private_box "$tmp"
export MINOTAUR_ROOT=$tmp/minotaur
say() { printf '%s\n' "$*"; }
teardown() {
  set +e
  ids=$("$new" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$new" rm -f $ids >/dev/null
}
trap teardown EXIT

cpu() {
  local label=$1
  shift
  perf stat -r "$runs" -e task-clock,page-faults "$@" 2>&1 >/dev/null |
    awk -v what="$label" '/task-clock/ {t=$1} /page-faults/ {f=$1} END {printf "%-34s %7s ms %5s faults\n", what, t, f}'
}

say "## load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
# The store made, and the mount template, before anything is measured.
"$new" ps >/dev/null
"$new" run --rm --network none host true
say
say "## CPU time and page faults (perf stat -r $runs; children included), $rounds rounds"
for round in $(seq "$rounds"); do
  say "### round $round (load $(cut -d' ' -f1 /proc/loadavg))"
  cpu "true (C)" /bin/true
  for b in new old; do
    bin=${!b}
    cpu "$b --version" "$bin" --version
    cpu "$b ps (empty store)" "$bin" ps
  done
  "$new" run -d --name ex --network none host sleep 100000 >/dev/null
  pid=$("$new" inspect -f '{{.State.Pid}}' ex)
  cpu "nsenter -t PID -a true" nsenter -t "$pid" -a true
  for b in new old; do
    bin=${!b}
    cpu "$b exec ex true" "$bin" exec ex true
  done
  "$new" rm -f ex >/dev/null
  cpu "unshare -fpmuin --mount-proc true" unshare -fpmuin --mount-proc true
  for b in new old; do
    bin=${!b}
    cpu "$b run --rm --network none" "$bin" run --rm --network none host true
  done
done

say
say "## wall time, the builds alternating ($runs runs; load $(cut -d' ' -f1 /proc/loadavg))"
python3 "$bench/timeit.py" -n "$runs" -w 3 --json "$out.json" \
  --pair "--version: new / old" "$new --version" "$old --version" \
  --pair "ps, empty store: new / old" "$new ps" "$old ps" \
  --pair "run --rm --network none: new / old" "$new run --rm --network none host true" \
  "$old run --rm --network none host true" \
  --pair "run --rm --network none: new / floor" "$new run --rm --network none host true" \
  "unshare -fpmuin --mount-proc true"
"$new" run -d --name ex --network none host sleep 100000 >/dev/null
pid=$("$new" inspect -f '{{.State.Pid}}' ex)
python3 "$bench/timeit.py" -n "$runs" -w 3 \
  --pair "exec ex true: new / old" "$new exec ex true" "$old exec ex true" \
  --pair "exec ex true: new / nsenter -a" "$new exec ex true" "nsenter -t $pid -a true"
say "## load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
