#!/usr/bin/env bash
# The inside of bench/networks.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   networks-box.sh MINOTAUR RUNS TMPDIR OUT-PREFIX BENCH-DIR COUNT
set -euo pipefail
bin=$1 runs=$2 tmp=$3 out=$4 bench=$5 count=$6
timeit() { python3 "$bench/timeit.py" -n "$runs" -w 3 "$@"; }
launch() { python3 "$bench/launch.py" "$@"; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
say() { printf '%s\n' "$*"; }
kernel_kib() { awk '/^(Slab|Percpu):/ {s += $2} END {print s}' /proc/meminfo; }
# Waits up to 10 s until HOST:PORT accepts a TCP connection.
wait_port() {
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
end = time.time() + 10
while True:
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
        break
    except OSError:
        if time.time() > end:
            sys.exit(f"{sys.argv[1]}:{sys.argv[2]} does not accept connections")
        time.sleep(0.05)
PY
}
# iperf3's JSON on stdin -> Gbit/s received, or the error it reports.
gbps() { python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
except ValueError:
    sys.exit("no JSON from iperf3")
if "error" in j:
    sys.exit(j["error"])
print("%.2f" % (j["end"]["sum_received"]["bits_per_second"] / 1e9))'; }
median() { python3 -c 'import statistics, sys; xs = [float(x) for x in sys.argv[1:]]; print("%.2f" % statistics.median(xs) if xs else "-")' "$@"; }

# --- the box: private /run, /etc and /var/lib (writes land in $tmp), loopback only ---
. "$bench/box.sh"
private_box "$tmp"
connect_cgroup "$tmp"

export MINOTAUR_ROOT=$tmp/minotaur
export DOCKER_CONFIG=$tmp/docker-cli
socat_pid=
teardown() {
  set +e
  [ -n "$socat_pid" ] && kill "$socat_pid" 2>/dev/null && wait "$socat_pid" 2>/dev/null
  ip netns del world 2>/dev/null
  ids=$("$bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$bin" rm -f $ids >/dev/null
  podman rm -a -f -t 0 >/dev/null 2>&1
  podman rmi -a -f >/dev/null 2>&1
}
trap teardown EXIT

# --- podman on its default bridge network (netavark), private storage and configuration ---
busybox=$(command -v busybox)
! ldd "$busybox" >/dev/null 2>&1 || { say "busybox is not static: install busybox-static" >&2; exit 1; }
mkdir -p "$tmp/rootfs/bin" "$DOCKER_CONFIG"
cp "$busybox" "$tmp/rootfs/bin/busybox"
for a in true sleep sh; do ln -s busybox "$tmp/rootfs/bin/$a"; done
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
echo '{}' >"$DOCKER_CONFIG/config.json"
podman_private "$tmp" netavark
podman_skip=
podman import -q "$tmp/rootfs.tar" localhost/minotaur-bench >/dev/null 2>"$tmp/podman/import.err" ||
  podman_skip="podman import failed: $(tail -1 "$tmp/podman/import.err")"

# --- iproute2 doing what an attach and a detach do, on a bridge of its own ---
ip link add nbench0 type bridge
ip addr add 198.18.0.1/16 dev nbench0
ip link set nbench0 up
cat >"$tmp/attach-detach.sh" <<'EOS'
set -e
ns=nb$$ host=vh$$ peer=vc$$
ip netns add "$ns"
ip link add "$host" type veth peer name "$peer"
ip link set "$peer" netns "$ns"
ip link set "$host" master nbench0 up
ip -n "$ns" link set "$peer" name eth0
ip -n "$ns" addr add 198.18.0.2/16 dev eth0
ip -n "$ns" link set lo up
ip -n "$ns" link set eth0 up
ip -n "$ns" route add default via 198.18.0.1
ip link del "$host"
ip netns delete "$ns"
EOS

say "kernel $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "$($bin --version), $(podman --version), $(/usr/lib/podman/netavark --version 2>/dev/null || echo "netavark ?")," \
  "$(iperf3 --version | head -1 | cut -d' ' -f1-2), $(socat -V | awk '/socat version/ {print "socat", $3}')"

# --- 1. attach cost: run --rm true on the default bridge ---
say
say "== 1. run --rm true on the default bridge (minotaur ms) vs its peer (peer ms)"
mino_run="$bin run --rm host true"
podman_row=(--skip "bridge: podman run --rm (netavark)" "$podman_skip")
[ -z "$podman_skip" ] &&
  podman_row=(--pair "bridge: podman run --rm (netavark)" "$mino_run" "podman run --rm localhost/minotaur-bench true")
timeit --json "$out.attach.json" \
  --pair "bridge vs minotaur --network none" "$mino_run" "$bin run --rm --network none host true" \
  "${podman_row[@]}" \
  --pair "bridge vs iproute2 attach+detach" "$mino_run" "bash $tmp/attach-detach.sh"
bridge_none=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))[0]; print("%.2f" % r["ratio"] if "ratio" in r else r.get("skipped"))' "$out.attach.json")
podman rm -a -f -t 0 >/dev/null 2>&1 || true

# --- 2. 1,000 running containers on the default bridge ---
say
say "== 2. $count running containers on the default bridge (run -d host sleep 100000)"
kern_before=$(kernel_kib)
launch --log "$tmp/launch-bridge" --from 1 --to "$count" --label "minotaur run -d, default bridge" \
  "$bin run -d --name n{i} host sleep 100000" | tee "$tmp/launch-bridge.summary"
launch_ratio=$(sed -n 's/.*of last 10 [0-9.]* ms (ratio \([0-9.]*\)).*/\1/p' "$tmp/launch-bridge.summary")
launch_ratio100=$(sed -n 's/.*last 100 [0-9.\/]* ms (ratio \([0-9.]*\)).*/\1/p' "$tmp/launch-bridge.summary")
kern_after=$(kernel_kib)
running=$("$bin" ps -q | wc -l)
bridges=$(ip -o link show type bridge | awk -F': ' '{print $2}' | grep -v '^nbench0$' | tr '\n' ' ')
say "running: $running; bridge ports:$(for b in $bridges; do printf ' %s %s' "$b" "$(ip -o link show master "$b" | wc -l)"; done)"
sups=$(python3 "$bench/supervisors.py")
read -r nsups sup_kib sup_each <<<"$sups"
dns_pids=$(for p in /proc/[0-9]*; do
  tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q ' dns-serve' && basename "$p"; done || true)
dns_kib=0
for p in $dns_pids; do dns_kib=$((dns_kib + $(pss "$p"))); done
dns_n=$(wc -w <<<"$dns_pids")
kern_kib=$((kern_after - kern_before))
say "memory (PSS from /proc/PID/smaps_rollup; kernel = /proc/meminfo Slab+Percpu growth, machine-wide):"
say "  supervisors: $nsups, $sup_kib KiB in all, $sup_each KiB each"
say "  DNS server (dns-serve, $dns_n process(es)): $dns_kib KiB"
say "  kernel: $kern_kib KiB more Slab+Percpu, $((kern_kib / (running > 0 ? running : 1))) KiB per container"
t0=$(date +%s%N)
"$bin" rm -f $("$bin" ps -aq) >/dev/null
rm_ms=$((($(date +%s%N) - t0) / 1000000))
say "rm -f of $running running containers: $rm_ms ms ($((rm_ms * 1000 / (running > 0 ? running : 1))) µs each)"
cp "$tmp/launch-bridge" "$out.launch-bridge.txt"

# --- 3. published ports: throughput and connection rate ---
say
say "== 3. throughput (iperf3 -t 5, TCP, one stream; median of 3 rounds) and sequential connections per second"
"$bin" run -d --name iperf --tmpfs /tmp -p 15201:5201 host iperf3 -s >/dev/null
"$bin" run -d --name conn -p 18000:8000 host python3 -c "$(cat "$bench/connrate.py")" serve 8000 >/dev/null
ip_iperf=$("$bin" inspect -f '{{.NetworkSettings.IPAddress}}' iperf)
ip_conn=$("$bin" inspect -f '{{.NetworkSettings.IPAddress}}' conn)
wait_port "$ip_iperf" 5201
wait_port "$ip_conn" 8000
socat TCP-LISTEN:15202,fork,reuseaddr "TCP:$ip_iperf:5201" 2>>"$tmp/socat.log" &
socat_pid=$!
socat TCP-LISTEN:18001,fork,reuseaddr "TCP:$ip_conn:8000" 2>>"$tmp/socat.log" &
socat2_pid=$!
wait_port 127.0.0.1 15202
wait_port 127.0.0.1 18001
# The outside world: a namespace behind an uplink of the box (documentation addresses), whose clients reach a
# published port as clients on another machine do: DNAT in prerouting, then forwarding to the bridge. Its
# baseline is the same client routed straight to the container's address.
ip netns add world
ip link add nbw0 type veth peer name eth0 netns world
ip addr add 203.0.113.1/24 dev nbw0
ip link set nbw0 up
ip -n world addr add 203.0.113.2/24 dev eth0
ip -n world link set lo up
ip -n world link set eth0 up
ip -n world route add default via 203.0.113.1
world() { ip netns exec world "$@"; }
# The 127.0.0.1 DNAT path is measured from a process out of the connect cgroup (see connect_cgroup in box.sh).
outside=()
if [ "$MINOTAUR_CONNECT_CGROUP" != none ]; then
  outside=(sh -c 'echo $$ > "$0" && exec "$@"' "$MINOTAUR_CONNECT_CGROUP-out/cgroup.procs")
fi
declare -A tput rate why
paths=(direct conn4 dnat dnatgw socat c2c wdirect wdnat)
desc_direct="host -> container address"
desc_conn4="host -> 127.0.0.1:published (connect4)"
desc_dnat="host -> 127.0.0.1:published (DNAT)"
desc_dnatgw="host -> its bridge address:published"
gw=$("$bin" inspect -f '{{.NetworkSettings.Gateway}}' iperf)
desc_socat="host -> socat proxy -> container"
desc_c2c="container -> container (bridge)"
desc_wdirect="outside -> container address (routed)"
desc_wdnat="outside -> host:published (DNAT)"
iperf_path() {
  case $1 in
    direct) timeout 30 iperf3 -c "$ip_iperf" -p 5201 -t 5 -J ;;
    conn4) timeout 30 iperf3 -c 127.0.0.1 -p 15201 -t 5 -J ;;
    dnat) timeout 30 "${outside[@]}" iperf3 -c 127.0.0.1 -p 15201 -t 5 -J ;;
    dnatgw) timeout 30 iperf3 -c "$gw" -p 15201 -t 5 -J ;;
    socat) timeout 30 iperf3 -c 127.0.0.1 -p 15202 -t 5 -J ;;
    c2c) timeout 30 "$bin" run --rm --tmpfs /tmp host iperf3 -c "$ip_iperf" -p 5201 -t 5 -J ;;
    wdirect) timeout 30 ip netns exec world iperf3 -c "$ip_iperf" -p 5201 -t 5 -J ;;
    wdnat) timeout 30 ip netns exec world iperf3 -c 203.0.113.1 -p 15201 -t 5 -J ;;
  esac
}
for round in 1 2 3; do
  for p in "${paths[@]}"; do
    [ -n "${why[$p]:-}" ] && continue
    if g=$(iperf_path "$p" 2>"$tmp/iperf.err" | gbps 2>"$tmp/gbps.err"); then
      tput[$p]="${tput[$p]:-} $g"
    else
      why[$p]="$(cat "$tmp/gbps.err" "$tmp/iperf.err" | grep -v '^\s*$' | tail -1)"
    fi
  done
done
declare -A conn_why conns
for round in 1 2 3; do
  for p in direct conn4 dnat dnatgw socat wdirect wdnat; do
    in=()
    case $p in direct) h=$ip_conn port=8000 ;; conn4) h=127.0.0.1 port=18000 ;;
      dnat) h=127.0.0.1 port=18000 in=("${outside[@]}") ;; dnatgw) h=$gw port=18000 ;;
      socat) h=127.0.0.1 port=18001 ;; wdirect) h=$ip_conn port=8000 in=(ip netns exec world) ;;
      wdnat) h=203.0.113.1 port=18000 in=(ip netns exec world) ;; esac
    [ -n "${conn_why[$p]:-}" ] && continue
    if r=$(timeout 30 "${in[@]}" python3 "$bench/connrate.py" client "$h" "$port" 2 2>"$tmp/conn.err"); then
      conns[$p]="${conns[$p]:-} $r"
    else
      conn_why[$p]="$(grep -v '^\s*$' "$tmp/conn.err" | tail -1)"
    fi
  done
done
kill "$socat_pid" "$socat2_pid"
wait "$socat_pid" "$socat2_pid" 2>/dev/null || true
socat_pid=
direct_g=$(median ${tput[direct]:-})
direct_c=$(median ${conns[direct]:-})
ratio() { python3 -c 'import sys; a, b = sys.argv[1:]; print("%.2f" % (float(a) / float(b)) if a != "-" and b not in ("-", "0") else "-")' "$1" "$2"; }
printf '%-38s %9s %7s   %9s %7s   %s\n' "path" "Gbit/s" "/direct" "conn/s" "/direct" "(rounds)"
for p in "${paths[@]}"; do
  d=desc_$p
  g=$(median ${tput[$p]:-}) c=-
  [ "$p" != c2c ] && c=$(median ${conns[$p]:-})
  gs=$g cs=$c
  [ -n "${why[$p]:-}" ] && gs="skipped"
  [ -n "${conn_why[$p]:-}" ] && cs="skipped"
  printf '%-38s %9s %7s   %9s %7s   (%s |%s)\n' "${!d}" "$gs" "$(ratio "$g" "$direct_g")" "$cs" \
    "$(ratio "$c" "$direct_c")" "${tput[$p]:-}" "${conns[$p]:-}"
  [ -n "${why[$p]:-}" ] && say "  iperf3 skipped: ${why[$p]}"
  [ -n "${conn_why[$p]:-}" ] && say "  connections skipped: ${conn_why[$p]}"
done
pct() { python3 -c 'import sys; a, b = sys.argv[1:]; print("%.0f%%" % (100 * float(a) / float(b)) if "-" not in (a, b) else "-")' "$1" "${2:-$direct_g}"; }
dnat_pct="$(pct "$(median ${tput[wdnat]:-})" "$(median ${tput[wdirect]:-})") from outside (vs routed to the container);"
dnat_pct+=" from the host itself $(pct "$(median ${tput[conn4]:-})") via 127.0.0.1 (connect4), $(pct "$(median ${tput[dnat]:-})") via 127.0.0.1 (DNAT),"
dnat_pct+=" $(pct "$(median ${tput[dnatgw]:-})") via the bridge address (DNAT)"

say
say "== summary (issue 4's targets)"
say "  run --rm true, bridge / --network none:            $bridge_none   (target <= 2)"
say "  1,000th start / 1st (medians of last / first 10):  $launch_ratio   (target <= 1.5; of 100: ${launch_ratio100:--})"
say "  published port throughput / direct:                $dnat_pct   (target >= 95%)"
say "  memory at $running running: supervisors $sup_each KiB each, DNS server $dns_kib KiB, kernel $((kern_kib / (running > 0 ? running : 1))) KiB each"
