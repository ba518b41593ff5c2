#!/usr/bin/env bash
# The inside of bench/compose.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   compose-box.sh MINOTAUR RUNS TMPDIR BENCH-DIR
set -euo pipefail
bin=$1 runs=$2 tmp=$3 bench=$4
. "$bench/box.sh"
private_box "$tmp"
podman_private "$tmp"
export MINOTAUR_ROOT=$tmp/minotaur
export DOCKER_HOST=unix://$tmp/docker/docker.sock DOCKER_CONFIG=$tmp/docker/cli
say() { printf '%s\n' "$*"; }
dockerd_pid=
teardown() {
  set +e
  ids=$("$bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$bin" rm -f $ids >/dev/null
  podman rm -a -f -t 0 >/dev/null 2>&1
  podman rmi -a -f >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    ids=$(docker ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 120 docker rm -f $ids >/dev/null 2>&1
    kill "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
}
trap teardown EXIT

# dockerd in the box's network namespace: no iptables, everything under $tmp (as bench/parity-box.sh).
echo 1 >/proc/sys/net/ipv4/ip_forward
mkdir -p "$tmp/docker/data" "$tmp/docker/exec" "$tmp/docker/cli"
echo '{}' >"$tmp/docker/daemon.json"
# podman reads $DOCKER_CONFIG/config.json too, and every `podman run` fails when it is missing.
echo '{}' >"$tmp/docker/cli/config.json"
/usr/sbin/dockerd --config-file "$tmp/docker/daemon.json" --data-root "$tmp/docker/data" \
  --exec-root "$tmp/docker/exec" --pidfile "$tmp/docker/dockerd.pid" -H "$DOCKER_HOST" \
  --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
  >"$tmp/docker/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 300); do
  docker version >/dev/null 2>&1 && break
  kill -0 $dockerd_pid 2>/dev/null || break
  sleep 0.1
done
if ! docker version >/dev/null 2>&1; then
  echo "dockerd did not come up: $(grep -v '^\s*$' "$tmp/docker/dockerd.log" | tail -1)" >&2
  exit 1
fi

# One project, two images: minotaur's built-in host image, and a static busybox root (for the peers, which
# have no host image, and for minotaur on the same image).
busybox=$(command -v busybox)
mkdir -p "$tmp/rootfs/bin"
cp "$busybox" "$tmp/rootfs/bin/busybox"
for a in sleep sh true; do ln -s busybox "$tmp/rootfs/bin/$a"; done
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
"$bin" import "$tmp/rootfs.tar" bench-busybox >/dev/null
"$bin" save -o "$tmp/bb.tar" bench-busybox
docker load -q -i "$tmp/bb.tar" >/dev/null
podman import -q "$tmp/rootfs.tar" localhost/bench-busybox >/dev/null
# The project is named with -p (docker-compose 1.29 does not know the top-level `name:`).
project() { # IMAGE DIR
  mkdir -p "$2"
  {
    echo "services:"
    for i in $(seq 1 10); do
      printf '  s%s:\n    image: %s\n    command: ["sleep", "infinity"]\n' "$i" "$1"
    done
  } >"$2/compose.yaml"
}
project host "$tmp/p-host"
project bench-busybox "$tmp/p-mino"
project localhost/bench-busybox "$tmp/p-podman"
project bench-busybox "$tmp/p-docker"
mino_host="$bin compose -p bench -f $tmp/p-host/compose.yaml"
mino_bb="$bin compose -p bench -f $tmp/p-mino/compose.yaml"
podman_c="podman-compose -p bench -f $tmp/p-podman/compose.yaml"
docker_c="docker-compose -p bench -f $tmp/p-docker/compose.yaml"

ms() { python3 -c 'import sys,time; print(int(time.time()*1000))'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
report() { # NAME TIMES...
  local name=$1
  shift
  printf '%-40s median %6s ms  (%s)\n' "$name" "$(printf '%s\n' "$@" | median)" "$*"
}
measure_up() { # NAME COMPOSE
  local name=$1 c=$2 t0 t1 times=()
  for _ in $(seq 1 "$runs"); do
    t0=$(ms); $c up -d >/dev/null 2>&1; t1=$(ms)
    times+=($((t1 - t0)))
    $c down -t 0 >/dev/null 2>&1
  done
  report "$name" "${times[@]}"
}
listing=()
measure_ps() { # NAME COMPOSE
  local name=$1 c=$2 t0 t1 times=() n out up
  up=$($c up -d 2>&1) || true
  out=$($c ps 2>&1 || true)
  n=$(grep -c 'bench[-_]s[0-9]*[-_]1' <<<"$out" || true)
  listing+=("--- $name:" "$out")
  # A listing without the project's containers: say what `up -d` said last.
  [ "$n" -gt 0 ] || listing+=("(up -d said, last lines:)" "$(tail -n 5 <<<"$up")")
  for _ in $(seq 1 "$runs"); do
    t0=$(ms); $c ps >/dev/null 2>&1; t1=$(ms)
    times+=($((t1 - t0)))
  done
  $c down -t 0 >/dev/null 2>&1
  report "$name ($n listed)" "${times[@]}"
}
say "$("$bin" --version); $(podman-compose version 2>/dev/null | grep -m1 podman-compose); $(docker-compose version --short) on docker $(docker version --format '{{.Server.Version}}')"
say ""
say "compose up -d, 10 services, $runs runs each"
measure_up "minotaur compose (host image)" "$mino_host"
measure_up "minotaur compose (busybox image)" "$mino_bb"
measure_up "podman-compose (busybox image)" "$podman_c"
measure_up "docker-compose (busybox image)" "$docker_c"
say ""
say "compose ps with 10 services, $runs runs each"
measure_ps "minotaur compose (host image)" "$mino_host"
measure_ps "minotaur compose (busybox image)" "$mino_bb"
measure_ps "podman-compose (busybox image)" "$podman_c"
measure_ps "docker-compose (busybox image)" "$docker_c"
say ""
say "what each compose ps printed:"
printf '%s\n' "${listing[@]}"
