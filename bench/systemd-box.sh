#!/usr/bin/env bash
# The inside of bench/systemd.sh's hosts (a transient service of a booted systemd, or a plain box when
# BENCH_PLAIN_BOX=1); not meant to be run by hand.
#   systemd-box.sh MINOTAUR RUNS TMPDIR OUT-PREFIX BENCH-DIR
set -euo pipefail
bin=$1 runs=$2 tmp=$3 out=$4 bench=$5
timeit() { python3 "$bench/timeit.py" -n "$runs" -w 3 "$@"; }
say() { printf '%s\n' "$*"; }
# CPU time (user + system, in clock ticks) of a process so far.
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

if [ -n "${BENCH_PLAIN_BOX:-}" ]; then
  . "$bench/box.sh"
  private_box "$tmp"
  export MINOTAUR_ROOT=$tmp/minotaur
  host="a plain box (PID 1 is a shell, bench/box.sh)"
else
  host="systemd $(systemctl --version | head -1 | cut -d' ' -f2) as PID 1 ($(stat -f -c %T /sys/fs/cgroup) at /sys/fs/cgroup), in $(cut -d: -f3 /proc/self/cgroup | tail -1)"
fi
crun="crun --root /run/bench-crun"
say
say "== $host"
say "kernel $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $($bin --version), $(crun --version | head -1)"
say "root propagation: $(findmnt -n -o PROPAGATION /), cgroup of the CLI: $(tail -1 /proc/self/cgroup)"

# --- crun bundles from crun's own spec: true, and sleep for nothing but the exec row's peer ---
busybox=$(command -v busybox)
mkdir -p "$tmp/rootfs/bin"
cp "$busybox" "$tmp/rootfs/bin/busybox"
for a in true sleep sh; do ln -sf busybox "$tmp/rootfs/bin/$a"; done
bundle() { # DIR CGROUPS-PATH ARGS...
  local dir=$tmp/$1 cg=$2
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && crun spec)
  python3 - "$dir/config.json" "$tmp/rootfs" "$cg" "$@" <<'PY'
import json, sys
path, root, cg, *args = sys.argv[1:]
c = json.load(open(path))
c["process"].update(args=args, terminal=False)
c["root"] = {"path": root, "readonly": True}
if cg:
    c["linux"]["cgroupsPath"] = cg
json.dump(c, open(path, "w"), indent=1)
PY
}
# podman on a systemd host (cgroup_manager = "systemd", its default there) runs crun with --systemd-cgroup
# and a cgroupsPath of machine.slice:libpod:ID: a transient scope asked of systemd over D-Bus.
bundle run "" true
bundle run-systemd "machine.slice:crun:bench-run" true

mino_run="$bin run --rm --network none host true"
crun_rows=(--pair "run --rm true: crun run (cgroupfs)" "$mino_run" "$crun run -b $tmp/run bench-run")
if [ -z "${BENCH_PLAIN_BOX:-}" ]; then
  crun_rows+=(--pair "run --rm true: crun --systemd-cgroup run" "$mino_run"
    "$crun --systemd-cgroup run -b $tmp/run-systemd bench-run")
fi
say
say "== run a container that runs true (--rm, no network)"
timeit --json "$out.run.json" \
  --pair "run --rm true: floor, unshare -fpmuin --mount-proc" "$mino_run" "unshare -fpmuin --mount-proc true" \
  "${crun_rows[@]}"

say
say "== exec true in a running container"
"$bin" run -d --name bench-1 --network none host sleep 100000 >/dev/null
pid=$("$bin" inspect -f '{{.State.Pid}}' bench-1)
timeit --json "$out.exec.json" \
  --pair "exec true: nsenter -a" "$bin exec bench-1 true" "nsenter -t $pid -a true"
"$bin" rm -f bench-1 >/dev/null

# What PID 1 spends while others start containers: systemd parses /proc/self/mountinfo at every mount
# event in its namespace, and reads the cgroups it is told of. Its time on CPU (the first field of
# /proc/1/schedstat, ns) and the times it was scheduled (the third), per start.
say
say "== PID 1 ($(cat /proc/1/comm)) while $runs starts of each run: µs on CPU and wake-ups, per start"
for what in minotaur floor crun; do
  case $what in
  minotaur) cmd=$mino_run ;;
  floor) cmd="unshare -fpmuin --mount-proc true" ;;
  crun) cmd="$crun run -b $tmp/run bench-run" ;;
  esac
  read -r ns0 _ n0 </proc/1/schedstat
  ok=1
  for _ in $(seq "$runs"); do $cmd >/dev/null 2>&1 || { ok=; break; }; done
  read -r ns1 _ n1 </proc/1/schedstat
  if [ -n "$ok" ]; then
    say "  $what: $(((ns1 - ns0) / 1000 / runs)) µs, $(((n1 - n0) / runs)) wake-ups"
  else
    say "  $what: skipped (it failed)"
  fi
done
