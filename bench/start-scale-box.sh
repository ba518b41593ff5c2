#!/usr/bin/env bash
# The inside of bench/start-scale.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   start-scale-box.sh COUNT ROUNDS TMPDIR BENCH-DIR MINOTAUR [OTHER-MINOTAUR]
set -euo pipefail
count=$1 rounds=$2 tmp=$3 bench=$4
shift 4
builds=("$@")
. "$bench/box.sh"
private_box "$tmp"
# Each build has a store of its own: a newer build may migrate the database to a schema the older one refuses.
cli() { echo "${builds[$1]} --root $tmp/store-$1 --runroot /run/minotaur-$1"; }
# Containers are removed before the box goes: their cgroups are the real host's.
teardown() {
  local b ids
  for b in "${!builds[@]}"; do
    ids=$($(cli "$b") ps -aq 2>/dev/null || true)
    if [ -n "$ids" ]; then $(cli "$b") rm -f $ids >/dev/null 2>&1 || true; fi
  done
}
trap teardown EXIT
# CPU time of 20 starts (milliseconds a start): perf stat counts the processes each start leaves running too,
# up to the moment the last start returns.
cpu20() { # CLI NAME-PREFIX
  perf stat -x, -e task-clock -o "$tmp/stat" -- bash -c \
    "for i in \$(seq 1 20); do $1 run -d --name $2-\$i --network none host sleep 100000 >/dev/null; done"
  $1 rm -f $($1 ps -aq --filter "name=$2-") >/dev/null
  awk -F, '/task-clock/ {printf "%.2f", $1 / 20}' "$tmp/stat"
}
# The machine's tasks (the fourth field of /proc/loadavg counts every thread, not only the box's): what
# pivot_root(2) walks.
tasks() { cut -d' ' -f4 /proc/loadavg | cut -d/ -f2; }
m=$(cli 0)
$m run --rm --network none host true
[ ${#builds[@]} -gt 1 ] && $(cli 1) run --rm --network none host true
for round in $(seq 1 "$rounds"); do
  b=$(((round - 1) % ${#builds[@]}))
  m=$(cli "$b")
  cpu0=$(cpu20 "$m" cpu0)
  t0=$(tasks)
  python3 "$bench/launch.py" --log "$tmp/launch-$round" --from 1 --to "$count" \
    "$m run -d --name s-{i} --network none host sleep 100000" >/dev/null
  t1=$(tasks)
  cpun=$(cpu20 "$m" cpun)
  $m rm -f $($m ps -aq) >/dev/null
  left=$($m ps -aq | wc -l)
  python3 - "$tmp/launch-$round" "$round" "$b" "$cpu0" "$cpun" "$t0" "$t1" "$left" <<'PY'
import statistics, sys
log, rnd, b, cpu0, cpun, t0, t1, left = sys.argv[1:]
t = [ms for _, ms in sorted((int(i), float(ms)) for i, ms in (l.split() for l in open(log) if l.strip()))]
n = min(100, len(t) // 2)
head, tail = t[:n], t[-n:]
med = statistics.median(tail) / statistics.median(head)
p10 = lambda xs: sorted(xs)[len(xs) // 10]
print(f"round {rnd} build {b}: wall medians of the first/last {n} {statistics.median(head):.2f}/"
      f"{statistics.median(tail):.2f} ms (ratio {med:.3f}), 10th percentiles {p10(head):.2f}/{p10(tail):.2f} ms "
      f"(ratio {p10(tail) / p10(head):.3f}); CPU a start at 0/{len(t)} running {cpu0}/{cpun} ms "
      f"(ratio {float(cpun) / float(cpu0):.3f}); machine's tasks {t0} -> {t1}; left {left}", flush=True)
PY
done | tee "$tmp/rounds"
python3 - "$tmp/rounds" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"round \d+ build (\d+): .*?\(ratio ([\d.]+)\).*?\(ratio ([\d.]+)\).*?\(ratio ([\d.]+)\)", line)
    if m:
        rows.setdefault(m[1], []).append(tuple(float(x) for x in m.groups()[1:]))
for b, rs in sorted(rows.items()):
    for k, what in enumerate(["wall medians", "wall 10th percentiles", "CPU a start"]):
        xs = [r[k] for r in rs]
        print(f"build {b}, {what}, last/first: median {statistics.median(xs):.3f} "
              f"(range {min(xs):.3f}-{max(xs):.3f}, {len(xs)} rounds)")
PY
