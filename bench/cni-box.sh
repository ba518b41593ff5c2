#!/usr/bin/env bash
# The inside of bench/cni.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   cni-box.sh MINOTAUR RUNS TMPDIR OUT-PREFIX BENCH-DIR
set -euo pipefail
bin=$1 runs=$2 tmp=$3 out=$4 bench=$5
. "$bench/box.sh"
private_box "$tmp"
export MINOTAUR_ROOT=$tmp/state MINOTAUR_RUNROOT=/run/minotaur
mkdir -p "$tmp/plugins"
ln -s "$bin" "$tmp/plugins/minotaur-cni"
for p in bridge host-local; do ln -s "/usr/lib/cni/$p" "$tmp/plugins/$p"; done
ip netns add bench

# Both on a /16 with the gateway on the bridge and the default route; the reference without and with its
# per-ADD masquerading rules (minotaur's NAT is the network's, made once with it).
echo '{"cniVersion":"1.0.0","name":"mtbench","type":"minotaur-cni",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.201.0.0/16","gateway":"10.201.0.1"}]]}}' >"$tmp/mt.json"
for masq in false true; do
  echo '{"cniVersion":"1.0.0","name":"ref'$masq'","type":"bridge","bridge":"cni-ref-'$masq'",
   "isGateway":true,"isDefaultGateway":true,"ipMasq":'$masq',
   "ipam":{"type":"host-local","dataDir":"'$tmp'/host-local",
           "ranges":[[{"subnet":"10.20'$([ $masq = true ] && echo 3 || echo 2)'.0.0/16"}]]}}' >"$tmp/ref-$masq.json"
done

# One sample: ADD then DEL of a new attachment (PLUGIN CONFIG).
cat >"$tmp/addel.sh" <<'SH'
set -e
export CNI_CONTAINERID=b$$ CNI_NETNS=/run/netns/bench CNI_IFNAME=eth0 CNI_PATH=${0%/*}/plugins
CNI_COMMAND=ADD "$CNI_PATH/$1" <"$2" >/dev/null
CNI_COMMAND=DEL "$CNI_PATH/$1" <"$2" >/dev/null
SH

echo "CNI ADD+DEL, $runs runs (medians, ms)"
python3 "$bench/timeit.py" -n "$runs" -w 3 --json "$out.json" \
  --pair "ADD+DEL: bridge+host-local" "sh $tmp/addel.sh minotaur-cni $tmp/mt.json" \
  "sh $tmp/addel.sh bridge $tmp/ref-false.json" \
  --pair "ADD+DEL: bridge+host-local, ipMasq" "sh $tmp/addel.sh minotaur-cni $tmp/mt.json" \
  "sh $tmp/addel.sh bridge $tmp/ref-true.json"
