#!/usr/bin/env bash
# The inside of bench/topology.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   topology-box.sh MINOTAUR RUNS TMPDIR OUT-PREFIX BENCH-DIR COUNT
set -euo pipefail
bin=$1 runs=$2 tmp=$3 out=$4 bench=$5 count=$6
. "$bench/box.sh"
private_box "$tmp"
connect_cgroup "$tmp"
export MINOTAUR_ROOT=$tmp/state MINOTAUR_CGROUP_PARENT=minotaur-bench-${tmp##*/}
say() { printf '%s\n' "$*"; }
trap '"$bin" rm -f $("$bin" ps -aq) >/dev/null 2>&1 || true' EXIT

say "== $count running containers on the default bridge (run -d host sleep 100000), 10 with a published port"
for i in $(seq 1 "$count"); do
  if [ "$i" -le 10 ]; then
    "$bin" run -d --name "n$i" -p "$((8000 + i)):80" host sleep 100000 >/dev/null
  else
    "$bin" run -d --name "n$i" host sleep 100000 >/dev/null
  fi
done
say "running: $("$bin" ps -q | wc -l)"
last=n$count
ip=$("$bin" inspect -f '{{.NetworkSettings.IPAddress}}' "$last")
pid=$("$bin" inspect -f '{{.State.Pid}}' "$last")
key=$("$bin" inspect -f '{{.NetworkSettings.SandboxKey}}' "$last")
ino=$(stat -L -c %i "$key")
veth=$("$bin" whois --format json "$ip" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["peer"]["name"])')
say "the last container: $last $ip, PID $pid, net:[$ino], host veth $veth"
python3 "$bench/timeit.py" -n "$runs" -w 3 --json "$out.json" \
  --solo "whois IP (a container's address)" "$bin whois $ip" \
  --solo "whois IFACE (the host end of its veth)" "$bin whois $veth" \
  --solo "whois :PORT (a published port)" "$bin whois :8005" \
  --solo "whois PID (its PID 1)" "$bin whois $pid" \
  --solo "whois NS-INODE (its network namespace)" "$bin whois $ino" \
  --solo "graph (text)" "$bin graph" \
  --solo "graph --format json" "$bin graph --format json" \
  --solo "graph --format dot" "$bin graph --format dot"
