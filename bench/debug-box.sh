#!/usr/bin/env bash
# The inside of bench/debug.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   debug-box.sh MINOTAUR RUNS TMPDIR OUT-PREFIX BENCH-DIR
set -euo pipefail
bin=$1 runs=$2 tmp=$3 out=$4 bench=$5
. "$bench/box.sh"
private_box "$tmp"
# Connections to published loopback ports go straight to the container (minotaur's connect4 program).
connect_cgroup "$tmp"
export MINOTAUR_ROOT=$tmp/minotaur
say() { printf '%s\n' "$*"; }
teardown() {
  set +e
  ids=$("$bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$bin" rm -f $ids >/dev/null
}
trap teardown EXIT

# A target with busybox (exec needs a `true` inside it; debug brings the host's).
r=$tmp/rootfs
mkdir -p "$r/bin"
cp "$(command -v busybox)" "$r/bin/busybox"
for c in sh true sleep; do ln -s busybox "$r/bin/$c"; done
tar -C "$r" -cf "$tmp/rootfs.tar" .
"$bin" import "$tmp/rootfs.tar" target >/dev/null
"$bin" run -d --name t target sleep 100000 >/dev/null

say "## debug T -- true against exec T true ($runs runs)"
python3 "$bench/timeit.py" -n "$runs" -w 3 --json "$out-debug.json" \
  --pair 'debug T -- true vs exec T true' "$bin debug t -- true" "$bin exec t true"

say
say "## capture against tcpdump -w, iperf3 through a published port (5 s each)"
# The iperf3 server runs on the host image in a container; the client connects to the published port.
"$bin" run -d --name perf -p 5201:5201 host iperf3 -s >/dev/null
for _ in $(seq 100); do
  timeout 5 iperf3 -c 127.0.0.1 -p 5201 -t 1 --connect-timeout 500 >/dev/null 2>&1 && break
done
rate() { # TOOL: starts the capturer, runs iperf3, stops the capturer with SIGINT, prints its counters
  local tool=$1 log=$tmp/$1.log
  case $tool in
    minotaur) "$bin" capture perf -i eth0 -w "$tmp/m.pcapng" 2>"$log" & ;;
    tcpdump) ip netns exec perf tcpdump -B 4096 -i eth0 -w "$tmp/t.pcap" 2>"$log" & ;;
  esac
  local pid=$!
  for _ in $(seq 200); do grep -q '^listening on' "$log" && break; sleep 0.05; done
  local bps
  bps=$(timeout 30 iperf3 -c 127.0.0.1 -p 5201 -t 5 --connect-timeout 1000 -J | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))')
  kill -INT "$pid"
  wait "$pid" || true
  local captured dropped
  captured=$(awk '/packets? captured/ {print $1}' "$log")
  dropped=$(awk '/dropped by kernel/ {print $1}' "$log")
  printf '%-9s %10s packets captured (%s/s), %s dropped by kernel, iperf3 %s Mbit/s\n' \
    "$tool" "$captured" "$((captured / 5))" "$dropped" "$((bps / 1000000))"
}
for round in 1 2; do
  rate minotaur
  rate tcpdump
done
