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

