#!/usr/bin/env bash
# The inside of bench/bridge.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   bridge-box.sh NEW OLD-OR-EMPTY RUNS TMPDIR BENCH-DIR
set -euo pipefail
runs=$3 tmp=$4 bench=$5
. "$bench/box.sh"
private_box "$tmp"
# Each build also works in a network namespace of its own: both would make the default network's bridge
# with the same name and gateway, and a resolver of one build still bound to the gateway's port 53 would
# make the other's fail to start (a warning, and a run that skipped the resolver's start).
for which in new old; do
  ip netns add "bench-$which"
  ip -n "bench-$which" link set lo up
done
new="nsenter --net=/run/netns/bench-new $1 --root $tmp/store-new --runroot /run/minotaur-new"
old=${2:+"nsenter --net=/run/netns/bench-old $2 --root $tmp/store-old --runroot /run/minotaur-old"}
# Containers are removed before the box goes: their cgroups are the real host's.
teardown() {
  local ids b
  for b in "$new" ${old:+"$old"}; do
    ids=$($b ps -aq 2>/dev/null || true)
    if [ -n "$ids" ]; then $b rm -f $ids >/dev/null 2>&1 || true; fi
  done
}
trap teardown EXIT
pairs=(--pair "bridged/none: new" "$new run --rm host true" "$new run --rm --network none host true")
if [ -n "$old" ]; then
  pairs+=(--pair "bridged/none: old" "$old run --rm host true" "$old run --rm --network none host true"
    --pair "bridged: new/old" "$new run --rm host true" "$old run --rm host true"
    --pair "none: new/old" "$new run --rm --network none host true" "$old run --rm --network none host true")
fi
python3 "$bench/timeit.py" -n "$runs" -w 3 "${pairs[@]}"
# The same beside a running container of the network: its resolver serves already, no run starts one.
# (Names differ between the builds: both register theirs in the box's /run/netns.)
for which in new ${old:+old}; do
  ${!which} run -d --name "bench-beside-$which" host sleep 100000 >/dev/null
done
beside=(--solo "bridged, beside a running one: new" "$new run --rm host true")
if [ -n "$old" ]; then
  beside=(--pair "bridged, beside a running one: new/old" "$new run --rm host true" "$old run --rm host true")
fi
python3 "$bench/timeit.py" -n "$runs" -w 3 "${beside[@]}"
for which in new ${old:+old}; do
  ${!which} rm -f "bench-beside-$which" >/dev/null
done
# The debug log's step times of a bridged run: ten of each build, alternating, medians per step (a step is
# a debug line without the container's name and the numbers in it).
for i in $(seq 10); do
  for which in new ${old:+old}; do
    MINOTAUR_LOG_LEVEL=debug ${!which} run --rm host true 2>"$tmp/log-$which.$i"
  done
done
for which in new ${old:+old}; do
  echo "== debug-log step times of a bridged run, $which (medians of 10, µs since the CLI started)"
  python3 - "$tmp"/log-"$which".* <<'PY'
import re, statistics, sys
steps = {}
order = []
for f in sys.argv[1:]:
    seen = {}
    for line in open(f, errors="replace"):
        m = re.match(r"minotaur: debug: \+(\d+)us (.*)", line)
        if not m:
            continue
        # The container's name (the word after the verb) and numbers vary from run to run.
        key = re.sub(r"^(\w+) [^\s:]+", r"\1 C", m.group(2))
        key = re.sub(r"[0-9a-f]{12,}|\d+", "N", key)[:90]
        seen[key] = seen.get(key, 0) + 1
        key = f"{key} #{seen[key]}" if seen[key] > 1 else key
        if key not in steps:
            steps[key] = []
            order.append(key)
        steps[key].append(int(m.group(1)))
prev = 0
for k in sorted(order, key=lambda k: statistics.median(steps[k])):
    t = statistics.median(steps[k])
    print(f"{t:>9.0f} {t - prev:>8.0f}  {k}")
    prev = t
PY
done
# Nothing left behind: what `system check` finds after all those runs, for each build.
for which in new ${old:+old}; do
  echo "== system check, $which: $(${!which} system check 2>&1 | tr '\n' ' ')"
done
