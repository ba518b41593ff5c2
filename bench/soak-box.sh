#!/usr/bin/env bash
# The inside of bench/soak.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   soak-box.sh MINOTAUR RUNS PARALLEL TMPDIR CGROUP-PARENT BENCH-DIR
set -euo pipefail
bin=$1 runs=$2 parallel=$3 tmp=$4 parent=$5 bench=$6
say() { printf '%s\n' "$*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

. "$bench/box.sh"
private_box "$tmp"
connect_cgroup "$tmp"
export MINOTAUR_ROOT=$tmp/minotaur MINOTAUR_RUNROOT=/run/minotaur MINOTAUR_CGROUP_PARENT=$parent
teardown() {
  set +e
  ids=$("$bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$bin" rm -f $ids >/dev/null 2>&1
}
trap teardown EXIT

# --- what could leak, counted ---
# minotaur's processes: those running this binary (supervisors, the resolver), and their open descriptors.
mino_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$bin" ] && echo "${p#/proc/}"
  done
  return 0
}
fds_of() {
  local n=0 p
  for p in "$@"; do n=$((n + $(ls "/proc/$p/fd" 2>/dev/null | wc -l))); done
  echo "$n"
}
# nftables elements of minotaur's table: the members of its sets and maps.
nft_elements() {
  nft -j list table inet minotaur 2>/dev/null | python3 -c '
import json, sys
try:
    doc = json.load(sys.stdin)
except ValueError:
    print(0); sys.exit()
n = 0
for item in doc.get("nftables", []):
    for kind in ("set", "map"):
        if kind in item:
            n += len(item[kind].get("elem", []))
print(n)'
}
cgroups() {
  find /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent" -mindepth 1 -type d 2>/dev/null | wc -l
}
# One line of counts: processes, their fds, container records, mounts of namespace files and container
# roots, veths, minotaur bridges, netns files, `ip netns` names, cgroups, firewall elements, DNS records.
leaks() {
  local pids
  pids=$(mino_pids)
  local mounts
  mounts=$(awk -v r="$MINOTAUR_RUNROOT" '$5 ~ "^" r "/(netns|containers)/" || $5 ~ "^/run/netns/" {n++} END {print n+0}' /proc/self/mountinfo)
  printf 'processes=%s fds=%s containers=%s mounts=%s veths=%s bridges=%s netns=%s ipnetns=%s cgroups=%s nft=%s dns=%s' \
    "$(wc -w <<<"$pids")" "$(fds_of $pids)" "$("$bin" ps -aq | wc -l)" "$mounts" \
    "$(ip -o link show type veth | wc -l)" "$(ip -o link show type bridge | grep -c ': mt-' || true)" \
    "$(ls "$MINOTAUR_RUNROOT/netns" 2>/dev/null | wc -l)" "$(ls /run/netns 2>/dev/null | wc -l)" \
    "$(cgroups)" "$(nft_elements)" \
    "$(ls "$MINOTAUR_RUNROOT/dns/records" 2>/dev/null | grep -cE '^[0-9a-f]{64}' || true)"
}
# Waits (up to 20 s) until no minotaur process is left: supervisors and the resolver exit on their own.
wait_quiet() {
  local end=$(($(date +%s) + 20))
  while [ -n "$(mino_pids)" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
}
# The store's size: the whole root, and of it the state database and its write-ahead log.
store_kib() {
  local db=$MINOTAUR_ROOT/minotaur.db
  printf '%sKiB (db %sKiB, wal %sKiB)' "$(du -sk "$MINOTAUR_ROOT" | cut -f1)" \
    "$(($(stat -c %s "$db" 2>/dev/null || echo 0) / 1024))" "$(($(stat -c %s "$db-wal" 2>/dev/null || echo 0) / 1024))"
}

say "kernel $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $("$bin" --version)"
say "soak: 2 rounds of $runs run --rm on 4 networks, $parallel at a time, with connect/disconnect, rm -f, system prune"
for n in 0 1 2 3; do "$bin" network create "soak$n" >/dev/null; done
say "before:        $(leaks) store=$(store_kib)"

# One job per line: most are `run --rm`; every 10th also makes a container, connects it to a second
# network, disconnects it and removes it running (rm -f); every 50th is a system prune.
jobs_for() {
  local round=$1 i a b
  for i in $(seq 1 "$runs"); do
    a=$((i % 4)) b=$(((i + 1) % 4))
    echo "$bin run --rm --network soak$a host true"
    if [ $((i % 10)) = 0 ]; then
      echo "$bin run -d --name hop$round-$i --network soak$a host sleep 1000 && $bin network connect soak$b hop$round-$i && $bin network disconnect soak$b hop$round-$i && $bin rm -f hop$round-$i"
    fi
    if [ $((i % 50)) = 0 ]; then
      echo "$bin system prune -f"
    fi
  done
}
cat >"$tmp/job.sh" <<'EOJ'
# Runs one job line; appends "rc<TAB>milliseconds<TAB>job<TAB>last line of its output" to $1.
log=$1
shift
start=$(date +%s%N)
if out=$(bash -c "$*" 2>&1); then rc=0; else rc=$?; fi
printf '%s\t%s\t%s\t%s\n' "$rc" "$((($(date +%s%N) - start) / 1000000))" "$*" "$(tail -n1 <<<"$out")" >>"$log"
EOJ

for round in 1 2; do
  # A long-running container on each network, so that prune never finds one unused mid-round.
  for n in 0 1 2 3; do "$bin" run -d --name "keep$round-$n" --network "soak$n" host sleep 100000 >/dev/null; done
  keep_pids=$(mino_pids)
  keep_fds=$(fds_of $keep_pids)
  log=$tmp/round$round.log
  : >"$log"
  jobs_for "$round" >"$tmp/jobs$round"
  t0=$(now_ms)
  tr '\n' '\0' <"$tmp/jobs$round" | xargs -0 -P "$parallel" -n 1 bash "$tmp/job.sh" "$log"
  elapsed=$(($(now_ms) - t0))
  # The same processes as before the jobs (the keepers' supervisors and the resolver): their descriptors.
  still=$(for p in $keep_pids; do [ -d "/proc/$p" ] && echo "$p"; done)
  fds_after=$(fds_of $still)
  total=$(wc -l <"$log")
  failed=$(awk -F'\t' '$1 != 0' "$log" | wc -l)
  say
  say "== round $round: $total jobs ($(grep -c 'run --rm' "$log") run --rm) in $((elapsed / 1000)).$((elapsed % 1000 / 100)) s, $failed failed"
  awk -F'\t' '$1 != 0 {print "  failed (exit " $1 "): " $3 "\n    " $4}' "$log" | head -20
  python3 - "$log" <<'PY'
import statistics, sys
ms = sorted(int(l.split("\t")[1]) for l in open(sys.argv[1]) if "\trun --rm" in l or " run --rm " in l)
if ms:
    print("  run --rm: median %d ms, p90 %d ms, max %d ms" % (statistics.median(ms), ms[len(ms) * 9 // 10], ms[-1]))
PY
  say "  descriptors of the processes alive before the jobs: $keep_fds before, $fds_after after"
  "$bin" rm -f "keep$round-0" "keep$round-1" "keep$round-2" "keep$round-3" >/dev/null
  wait_quiet
  say "after round $round: $(leaks) store=$(store_kib)"
done

for n in 0 1 2 3; do "$bin" network rm "soak$n" >/dev/null; done
say
say "after network rm: $(leaks) store=$(store_kib)"
set +e
"$bin" system check >"$tmp/check.out" 2>&1
rc=$?
set -e
say "system check: exit $rc"
sed 's/^/  /' "$tmp/check.out" | head -20
