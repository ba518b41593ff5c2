#!/usr/bin/env bash
# The inside of bench/containers.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   containers-box.sh MINOTAUR RUNS TMPDIR OUT-PREFIX BENCH-DIR
set -euo pipefail
bin=$1 runs=$2 tmp=$3 out=$4 bench=$5
timeit() { python3 "$bench/timeit.py" -n "$runs" -w 3 "$@"; }
launch() { python3 "$bench/launch.py" "$@"; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
ppid() { awk '/^PPid:/ {print $2}' "/proc/$1/status"; }
say() { printf '%s\n' "$*"; }

# --- the box: private /run, /etc and /var/lib (writes land in $tmp), loopback only ---
. "$bench/box.sh"
private_box "$tmp"

export MINOTAUR_ROOT=$tmp/minotaur
export DOCKER_HOST=unix://$tmp/docker/docker.sock DOCKER_CONFIG=$tmp/docker/cli
# Debian's client, matching its dockerd (another one may come first on PATH).
docker=/usr/bin/docker
crun="crun --root $tmp/crun/state"
runc="runc --root $tmp/runc/state"
dockerd_pid=
mkdir -p "$tmp/docker/data" "$tmp/docker/exec" "$tmp/docker/cli"
echo '{}' >"$tmp/docker/daemon.json"
# podman reads DOCKER_CONFIG too (for registry credentials) and fails when the file is missing.
echo '{}' >"$DOCKER_CONFIG/config.json"

teardown() {
  set +e
  ids=$("$bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$bin" rm -f $ids >/dev/null
  for rt in "$crun" "$runc"; do $rt delete -f bench-exec >/dev/null 2>&1; done
  podman rm -a -f -t 0 >/dev/null 2>&1
  podman rmi -a -f >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    ids=$($docker ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 120 $docker rm -f $ids >/dev/null 2>&1
    $docker rmi -f minotaur-bench >/dev/null 2>&1
    kill "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
}
trap teardown EXIT

# --- a busybox root filesystem: a bundle for crun and runc, a tarball for podman and docker ---
busybox=$(command -v busybox)
! ldd "$busybox" >/dev/null 2>&1 || { say "busybox is not static: install busybox-static" >&2; exit 1; }
mkdir -p "$tmp/rootfs/bin"
cp "$busybox" "$tmp/rootfs/bin/busybox"
for a in true sleep sh; do ln -s busybox "$tmp/rootfs/bin/$a"; done
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
bundle() { # RUNTIME NAME ARGS...: a bundle from the runtime's own `spec`, read-only root, no terminal.
  # With CONFINE=1, the process also gets what minotaur gives every container by default: Docker's
  # capabilities and seccomp profile (crun's own spec has fewer capabilities and no seccomp filter).
  local rt=$1 dir=$tmp/$1/$2
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && "$rt" spec)
  "$(dirname "$bin")/minotaur-runtime-run" --default-spec true > "$dir/minotaur-spec.json"
  python3 - "$dir/config.json" "$tmp/rootfs" "${CONFINE:-0}" "$dir/minotaur-spec.json" "$@" <<'PY'
import json, sys
path, root, confine, mine, *args = sys.argv[1:]
c = json.load(open(path))
c["process"].update(args=args, terminal=False)
c["root"] = {"path": root, "readonly": True}
if confine == "1":
    m = json.load(open(mine))
    c["process"]["capabilities"] = m["process"]["capabilities"]
    c["linux"]["seccomp"] = m["linux"]["seccomp"]
json.dump(c, open(path, "w"), indent=1)
PY
}
for rt in crun runc; do
  bundle $rt run true
  bundle $rt exec sleep 100000
done
CONFINE=1 bundle crun run-confined true

# --- podman: private storage and configuration ---
podman_private "$tmp"
podman import -q "$tmp/rootfs.tar" localhost/minotaur-bench >/dev/null

say "kernel $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
  "$($bin --version), $(crun --version | head -1), $(runc --version | head -1), $(podman --version)," \
  "$($docker --version 2>/dev/null || echo 'no docker')"

# --- docker: dockerd in the background with everything under $tmp, no bridge, no iptables ---
docker_skip=
if [ -x /usr/sbin/dockerd ] && [ -x $docker ]; then
  /usr/sbin/dockerd --config-file "$tmp/docker/daemon.json" --data-root "$tmp/docker/data" \
    --exec-root "$tmp/docker/exec" --pidfile "$tmp/docker/dockerd.pid" -H "$DOCKER_HOST" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --userland-proxy=false >"$tmp/docker/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 300); do
    $docker version >/dev/null 2>&1 && break
    kill -0 $dockerd_pid 2>/dev/null || break
    sleep 0.1
  done
  if ! $docker version >/dev/null 2>&1; then
    docker_skip="dockerd did not come up: $(grep -v '^\s*$' "$tmp/docker/dockerd.log" | tail -1)"
  elif ! $docker import "$tmp/rootfs.tar" minotaur-bench >/dev/null 2>"$tmp/docker/import.err"; then
    docker_skip="docker import failed: $(tail -1 "$tmp/docker/import.err")"
  fi
else
  docker_skip="no /usr/sbin/dockerd (apt-get install docker.io)"
fi

# --- run ---
say
say "== run a container that runs true (--rm, no network)"
mino_run="$bin run --rm --network none host true"
docker_row=(--skip "run --rm true: docker" "$docker_skip")
[ -z "$docker_skip" ] && docker_row=(--pair "run --rm true: docker" "$mino_run" "$docker run --rm --network none minotaur-bench true")
# The floor: the same namespaces made and entered with nothing else done (issue 15's target is 2.5x it).
timeit --json "$out.run.json" \
  --pair "run --rm true: floor, unshare -fpmuin --mount-proc" "$mino_run" "unshare -fpmuin --mount-proc true" \
  --pair "run --rm true: crun run" "$mino_run" "$crun run -b $tmp/crun/run bench-run" \
  --pair "run --rm true: crun run, Docker's caps+seccomp" "$mino_run" "$crun run -b $tmp/crun/run-confined bench-run" \
  --pair "run --rm true: runc run" "$mino_run" "$runc run -b $tmp/runc/run bench-run" \
  --pair "run --rm true: podman" "$mino_run" "podman run --rm --network none localhost/minotaur-bench true" \
  "${docker_row[@]}"
# A host whose root mount is private (inside another container, a CI job) gets no mount template. The same
# run in a mount namespace of its own whose mounts are all private (and a run root of its own, bound here
# once as the engine would bind it, so that no run binds it again), against one in a mount namespace whose
# mounts stay shared, which copies the box's: the template the runs above made comes with it.
mkdir -p /run/minotaur-private && mount --bind /run/minotaur-private /run/minotaur-private
timeit --json "$out.private-root.json" \
  --pair "run --rm true: private root vs shared" \
  "unshare -m --propagation private env MINOTAUR_RUNROOT=/run/minotaur-private $mino_run" \
  "unshare -m --propagation unchanged $mino_run"

# A cgroup v2 host (this machine is hybrid): the same run in a mount namespace of its own whose /sys/fs/cgroup
# is the unified hierarchy (here without controllers: the run asks for no limits), against the floor there.
# /sys is made private in it first, so that the mount stays in it. crun 1.8 fails in that layout (setrlimit
# of RLIMIT_MEMLOCK, for its device filter) and is not run there.
if grep -qw cgroup2 /proc/filesystems; then
  unshare -m --propagation unchanged bash -c '
    mount --make-rprivate /sys && mount -t cgroup2 cgroup2 /sys/fs/cgroup
    python3 "$1/timeit.py" -n "$2" -w 3 --json "$3.cgroup2.json" \
      --pair "run --rm true, cgroup v2 host: floor" "$4" "unshare -fpmuin --mount-proc true"' \
    - "$bench" "$runs" "$out" "$mino_run"
fi

# --- exec, with one container of each running sleep ---
say
say "== exec true in a running container"
launch --log "$tmp/launch-minotaur" --from 1 --to 1 --label "minotaur run -d" \
  "$bin run -d --name bench-{i} --network none host sleep 100000" >/dev/null
pid=$("$bin" inspect -f '{{.State.Pid}}' bench-1)
sup=$(ppid "$pid")
$crun run -d -b "$tmp/crun/exec" bench-exec </dev/null >/dev/null 2>&1
$runc run -d -b "$tmp/runc/exec" bench-exec </dev/null >/dev/null 2>&1
launch --log "$tmp/launch-podman" --from 1 --to 1 --label "podman run -d" \
  "podman run -d --name bench-{i} --network none localhost/minotaur-bench sleep 100000" >/dev/null
conmon=$(podman inspect -f '{{.State.ConmonPid}}' bench-1)
docker_row=(--skip "exec true: docker exec" "$docker_skip")
if [ -z "$docker_skip" ]; then
  launch --log "$tmp/launch-docker" --from 1 --to 1 --label "docker run -d" \
    "$docker run -d --name bench-{i} --network none minotaur-bench sleep 100000" >/dev/null
  shim=$(ppid "$($docker inspect -f '{{.State.Pid}}' bench-1)")
  docker_row=(--pair "exec true: docker exec" "$bin exec bench-1 true" "$docker exec bench-1 true")
fi
# Memory with one container each (nothing to share pages with but the CLI's own binary on disk).
mem_1="$(pss "$sup") | $(pss "$conmon") | ${shim:+$(pss "$shim")}"
timeit --json "$out.exec.json" \
  --pair "exec true: nsenter -a" "$bin exec bench-1 true" "nsenter -t $pid -a true" \
  --pair "exec true: crun exec" "$bin exec bench-1 true" "$crun exec bench-exec true" \
  --pair "exec true: runc exec" "$bin exec bench-1 true" "$runc exec bench-exec true" \
  --pair "exec true: podman exec" "$bin exec bench-1 true" "podman exec bench-1 true" \
  "${docker_row[@]}"
# `runc delete -f` on a running container races with the freezer cgroup (EBUSY): kill, wait, then delete.
for rt in "$crun" "$runc"; do
  $rt kill bench-exec KILL
  until $rt state bench-exec | grep -q '"status": "stopped"'; do sleep 0.01; done
  $rt delete bench-exec 2>"$tmp/delete.err" || { cat "$tmp/delete.err" >&2; exit 1; }
done

# --- ps with 100 running, then 1,000 running ---
say
say "== ps with 100 running containers (each runs sleep)"
launch --log "$tmp/launch-minotaur" --from 2 --to 100 --label "minotaur run -d" \
  "$bin run -d --name bench-{i} --network none host sleep 100000"
launch --log "$tmp/launch-podman" --from 2 --to 100 --label "podman run -d" \
  "podman run -d --name bench-{i} --network none localhost/minotaur-bench sleep 100000"
docker_row=(--skip "ps, 100 running: docker ps" "$docker_skip")
if [ -z "$docker_skip" ]; then
  launch --log "$tmp/launch-docker" --from 2 --to 100 --label "docker run -d" \
    "$docker run -d --name bench-{i} --network none minotaur-bench sleep 100000"
  docker_row=(--pair "ps, 100 running: docker ps" "$bin ps" "$docker ps")
fi
say "running: minotaur $("$bin" ps -q | wc -l), podman $(podman ps -q | wc -l)" \
  "${docker_skip:+, docker skipped}${docker_skip:-, docker $($docker ps -q | wc -l)}"
mem_100="$(pss "$sup") | $(pss "$conmon") | ${shim:+$(pss "$shim")}"
timeit --json "$out.ps100.json" \
  --pair "ps, 100 running: podman ps" "$bin ps" "podman ps" \
  "${docker_row[@]}"
# The peers' containers go, so that they do not weigh on the next part.
podman rm -a -f -t 0 >/dev/null
[ -z "$docker_skip" ] && { timeout 120 $docker rm -f $($docker ps -aq) >/dev/null || say "docker rm -f of its containers did not finish in 120 s"; }

say
say "== ps with 1,000 running containers"
launch --log "$tmp/launch-minotaur" --from 101 --to 1000 --label "minotaur run -d" \
  "$bin run -d --name bench-{i} --network none host sleep 100000"
say "running: minotaur $("$bin" ps -q | wc -l)"
timeit --json "$out.ps1000.json" \
  --solo "ps, 1000 running" "$bin ps" \
  --solo "ps -q, 1000 running" "$bin ps -q"

# --- the supervisor's memory ---
say
say "== memory (PSS from /proc/PID/smaps_rollup)"
sup_pss_1000=$(pss "$sup")
pid1000=$("$bin" inspect -f '{{.State.Pid}}' bench-1000)
sup1000_pss=$(pss "$(ppid "$pid1000")")
# Every supervisor: the parents of the containers' sleep processes.
read -r nsups sup_kib sup_each <<<"$(python3 "$bench/supervisors.py")"
all="$nsups supervisors, $sup_kib KiB in all, $sup_each KiB each on average"
say "supervisor of the 1st container, KiB    minotaur | podman's conmon | docker's containerd-shim"
say "  1 running (of each):                    $mem_1"
say "  100 running (of each):                  $mem_100"
say "  1,000 running (minotaur only):          $sup_pss_1000"
say "minotaur's supervisor of the 1,000th container, 1,000 running: ${sup1000_pss} KiB"
say "minotaur at 1,000 running: $all"

say
say "== cleanup"
t0=$(date +%s%N)
"$bin" rm -f $("$bin" ps -aq) >/dev/null
say "minotaur rm -f of 1,000 running containers: $((($(date +%s%N) - t0) / 1000000)) ms"
for f in "$tmp"/launch-*; do cp "$f" "$out.$(basename "$f").txt"; done
