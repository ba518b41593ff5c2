#!/usr/bin/env bash
# The inside of bench/exec.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   exec-box.sh MINOTAUR RUNS TMPDIR OUT-PREFIX BENCH-DIR [OLD-MINOTAUR]
set -euo pipefail
bin=$1 runs=$2 tmp=$3 out=$4 bench=$5 old=${6:-}
. "$bench/box.sh"
private_box "$tmp"
export MINOTAUR_ROOT=$tmp/minotaur
say() { printf '%s\n' "$*"; }
teardown() {
  set +e
  ids=$("$bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$bin" rm -f $ids >/dev/null
}
trap teardown EXIT

# Started by this build, so both builds exec into the same container with the same store.
"$bin" run -d --name ex --network none host sleep 100000 >/dev/null
pid=$("$bin" inspect -f '{{.State.Pid}}' ex)
pairs=(--pair "exec true: nsenter -a" "$bin exec ex true" "nsenter -t $pid -a true")
if [ -n "$old" ]; then
  pairs+=(--pair "exec true: this build / the old one" "$bin exec ex true" "$old exec ex true")
fi
say "## exec true in a running container ($runs runs)"
python3 "$bench/timeit.py" -n "$runs" -w 3 --json "$out.json" "${pairs[@]}"
if command -v perf >/dev/null; then
  say
  say "## CPU time (perf stat -r $runs -e task-clock,page-faults; the child and true included)"
  cpu() {
    perf stat -r "$runs" -e task-clock,page-faults "$@" 2>&1 >/dev/null |
      awk -v what="$*" '/task-clock/ {t=$1} /page-faults/ {f=$1} END {printf "%-50s %6s ms %5s faults\n", what, t, f}'
  }
  cpu "$bin" exec ex true
  [ -z "$old" ] || cpu "$old" exec ex true
  cpu nsenter -t "$pid" -a true
fi
