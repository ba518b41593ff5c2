#!/usr/bin/env bash
# The inside of bench/capture.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   capture-box.sh MINOTAUR ROUNDS SECONDS TMPDIR OUT-PREFIX BENCH-DIR
set -euo pipefail
bin=$1 rounds=$2 secs=$3 tmp=$4 out=$5 bench=$6
. "$bench/box.sh"
private_box "$tmp"
connect_cgroup "$tmp"
export MINOTAUR_ROOT=$tmp/minotaur
say() { printf '%s\n' "$*"; }
teardown() {
  set +e
  ids=$("$bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$bin" rm -f $ids >/dev/null
}
trap teardown EXIT

# The server: iperf3 on the host image in a container, its port published; the client connects to the
# published port from the box. Both capturers watch the container's eth0 with a 4 MiB ring (capture's
# own size; tcpdump -B 4096).
"$bin" run -d --name perf --tmpfs /tmp -p 5201:5201 host iperf3 -s >/dev/null
for _ in $(seq 100); do
  timeout 5 iperf3 -c 127.0.0.1 -p 5201 -t 1 --connect-timeout 500 >/dev/null 2>&1 && break
done
rows=$tmp/rows
: >"$rows"
one() { # TOOL ROUND: starts the capturer, runs iperf3, stops the capturer with SIGINT, records its counters
  local tool=$1 round=$2 log=$tmp/$1.log pid=
  : >"$log"
  case $tool in
    minotaur) "$bin" capture perf -i eth0 -w "$tmp/m.pcapng" 2>"$log" & pid=$! ;;
    tcpdump) ip netns exec perf tcpdump -B 4096 -i eth0 -w "$tmp/t.pcap" 2>"$log" & pid=$! ;;
    none) ;;
  esac
  if [ -n "$pid" ]; then
    for _ in $(seq 400); do grep -q '^listening on' "$log" && break; sleep 0.05; done
  fi
  timeout $((secs + 30)) iperf3 -c 127.0.0.1 -p 5201 -t "$secs" --connect-timeout 1000 -J >"$tmp/iperf.json"
  if [ -n "$pid" ]; then
    kill -INT "$pid"
    wait "$pid" || true
  fi
  python3 - "$tool" "$round" "$log" "$tmp/iperf.json" >>"$rows" <<'PY'
import json, re, sys
tool, rnd, log, perf = sys.argv[1:]
r = json.load(open(perf))["end"]
secs = r["sum_received"]["seconds"]
row = {"tool": tool, "round": int(rnd), "seconds": secs,
       "mbit": r["sum_received"]["bits_per_second"] / 1e6}
text = open(log).read()
for key, pat in [("captured", r"(\d+) packets? captured"), ("received", r"(\d+) packets? received by filter"),
                 ("dropped", r"(\d+) packets? dropped by kernel")]:
    m = re.search(pat, text)
    if m:
        row[key] = int(m.group(1))
if "captured" in row:
    row["pps"] = row["captured"] / secs
print(json.dumps(row))
PY
}
say "== capture against tcpdump -w: iperf3 -t $secs through a published port, $rounds rounds, order rotating"
tools=(minotaur tcpdump none)
for round in $(seq 1 "$rounds"); do
  for k in 0 1 2; do
    one "${tools[$(((round + k) % 3))]}" "$round"
  done
done
python3 - "$rows" "$out.json" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump(rows, open(sys.argv[2], "w"), indent=1)
med = lambda tool, key: statistics.median(r[key] for r in rows if r["tool"] == tool and key in r)
print(f"{'tool':9} {'round':>5} {'captured':>10} {'pkt/s':>9} {'received':>10} {'dropped':>8} {'iperf3':>12}")
for r in rows:
    print(f"{r['tool']:9} {r['round']:>5} {r.get('captured', '-'):>10} {round(r['pps']) if 'pps' in r else '-':>9} "
          f"{r.get('received', '-'):>10} {r.get('dropped', '-'):>8} {r['mbit']:>8.0f} Mbit/s")
print()
print("medians:")
for t in ("minotaur", "tcpdump"):
    print(f"  {t:9} {med(t, 'pps'):>9.0f} pkt/s captured, {med(t, 'dropped'):.0f} dropped by kernel, "
          f"iperf3 {med(t, 'mbit'):.0f} Mbit/s")
print(f"  {'none':9} {'':>9}                iperf3 {med('none', 'mbit'):.0f} Mbit/s (no capture)")
print(f"ratio minotaur/tcpdump, captured pkt/s: {med('minotaur', 'pps') / med('tcpdump', 'pps'):.2f} (target >= 0.90)")
print(f"ratio minotaur/tcpdump, iperf3 throughput while capturing: {med('minotaur', 'mbit') / med('tcpdump', 'mbit'):.2f}")
PY
