#!/usr/bin/env bash
# The inside of bench/parity.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   parity-box.sh MINOTAUR DOCKER-CLIENT TMPDIR OUT-PREFIX BENCH-DIR
set -euo pipefail
bin=$1 client=$2 tmp=$3 out=$4 bench=$5
. "$bench/box.sh"
private_box "$tmp"
export MINOTAUR_ROOT=$tmp/minotaur
export DOCKER_HOST=unix://$tmp/docker/docker.sock DOCKER_CONFIG=$tmp/docker/cli
mkdir -p "$tmp/docker/data" "$tmp/docker/exec" "$tmp/docker/cli"
echo '{}' >"$tmp/docker/daemon.json"
dockerd_pid=
teardown() {
  set +e
  ids=$("$bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$bin" rm -f $ids >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    ids=$("$client" ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 120 "$client" rm -f $ids >/dev/null 2>&1
    kill "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
}
trap teardown EXIT

# Forwarding on in the box's own network namespace (a per-namespace sysctl), as on a host running Docker:
# dockerd warns at every run otherwise, and minotaur turns it on for its bridge anyway.
echo 1 >/proc/sys/net/ipv4/ip_forward
# --- dockerd in the box's network namespace: its default bridge, no iptables, everything under $tmp ---
/usr/sbin/dockerd --config-file "$tmp/docker/daemon.json" --data-root "$tmp/docker/data" \
  --exec-root "$tmp/docker/exec" --pidfile "$tmp/docker/dockerd.pid" -H "$DOCKER_HOST" \
  --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
  >"$tmp/docker/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 300); do
  "$client" version >/dev/null 2>&1 && break
  kill -0 $dockerd_pid 2>/dev/null || break
  sleep 0.1
done
if ! "$client" version >/dev/null 2>&1; then
  echo "dockerd did not come up: $(grep -v '^\s*$' "$tmp/docker/dockerd.log" | tail -1)" >&2
  exit 1
fi

# --- one image for both: busybox with every applet, imported into minotaur, saved, loaded into docker ---
busybox=$(command -v busybox)
! ldd "$busybox" >/dev/null 2>&1 || { echo "busybox is not static: install busybox-static" >&2; exit 1; }
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/tmp" "$tmp/rootfs/root"
cp "$busybox" "$tmp/rootfs/bin/busybox"
for a in $("$busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$tmp/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tmp/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/rootfs/etc/group"
chmod 1777 "$tmp/rootfs/tmp"
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
"$bin" import "$tmp/rootfs.tar" bb >/dev/null
"$bin" save -o "$tmp/bb.tar" bb
"$client" load -q -i "$tmp/bb.tar" >/dev/null
mkdir -p "$tmp/bind"
echo hello >"$tmp/bind/hello"

python3 "$bench/parity.py" --docker "$client" --minotaur "$bin" --bind "$tmp/bind" \
  --versions "$("$bin" --version); $("$client" version --format 'client {{.Client.Version}}, engine {{.Server.Version}}')" \
  --out "$out"
