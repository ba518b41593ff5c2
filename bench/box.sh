# Sourced by the benchmarks: the box scripts (run as PID 1 of a fresh PID, network and mount namespace) use
# private_box and podman_private; the scripts that start a box use new_cgroups_cleanup.
#   private_box TMPDIR: private /run, /etc and /var/lib (their writes land in TMPDIR), loopback up. The box's
#   mounts are shared among themselves, as systemd leaves a host's (minotaur's mount template needs that).
private_box() {
  local tmp=$1
  mount --make-rshared /
  mount -t tmpfs -o mode=755 tmpfs /run
  mkdir -p "$tmp"/{etc,varlib}-{upper,work}
  mount -t overlay overlay -o "lowerdir=/etc,upperdir=$tmp/etc-upper,workdir=$tmp/etc-work" /etc
  mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$tmp/varlib-upper,workdir=$tmp/varlib-work" /var/lib
  ip link set lo up
  # crun 1.8 sees the cgroup2 mount at /sys/fs/cgroup/unified of this hybrid host, takes it for the place to
  # put containers, and fails there (no controllers on it). Hide it under a private tmpfs (not just unmount
  # it: then crun, runc and podman would make their "unified" directories in the host's /sys/fs/cgroup tmpfs
  # below it).
  if mountpoint -q /sys/fs/cgroup/unified; then mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup/unified; fi
  # minotaur's connect4 program is attached only where connect_cgroup says (never the host's cgroup root).
  export MINOTAUR_CONNECT_CGROUP=none
}

#   connect_cgroup TMPDIR: a cgroup v2 directory of the box's own (named after TMPDIR, below the hierarchy's
#   root, reached through a cgroup2 mount at TMPDIR/cgroup2) for minotaur's connect4 program, joined by the
#   calling shell so that the box's later processes are in it; and a sibling, DIR-out, for processes to be run
#   out of it. The script that started the box removes both afterwards (connect_cgroup_cleanup TMPDIR).
connect_cgroup() {
  local tmp=$1
  grep -qw cgroup2 /proc/filesystems || return 0
  mkdir -p "$tmp/cgroup2"
  mount -t cgroup2 cgroup2 "$tmp/cgroup2"
  mkdir -p "$tmp/cgroup2/${tmp##*/}" "$tmp/cgroup2/${tmp##*/}-out"
  echo $$ >"$tmp/cgroup2/${tmp##*/}/cgroup.procs"
  export MINOTAUR_CONNECT_CGROUP=$tmp/cgroup2/${tmp##*/}
}


#   connect_cgroup_cleanup TMPDIR: removes the directory connect_cgroup made (its processes are gone).
connect_cgroup_cleanup() {
  local d
  for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ]; then
      rmdir "$d/${1##*/}" "$d/${1##*/}-out" 2>/dev/null || true
    fi
  done
}

#   podman_private TMPDIR [NETWORK_BACKEND]: podman with its storage and configuration under TMPDIR/podman,
#   through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF (exported). Root here lacks CAP_SYS_RESOURCE, and podman
#   (as root) raises RLIMIT_NOFILE and RLIMIT_NPROC to 1048576 and 4194304 unless the configuration names them:
#   name today's hard limits instead.
podman_private() {
  local tmp=$1 backend=${2:-}
  mkdir -p "$tmp/podman"
  export CONTAINERS_CONF=$tmp/podman/containers.conf CONTAINERS_STORAGE_CONF=$tmp/podman/storage.conf
  cat >"$CONTAINERS_CONF" <<EOC
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$(ulimit -Hu):$(ulimit -Hu)"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
EOC
  if [ -n "$backend" ]; then
    printf '[network]\nnetwork_backend = "%s"\n' "$backend" >>"$CONTAINERS_CONF"
  fi
  cat >"$CONTAINERS_STORAGE_CONF" <<EOC
[storage]
driver = "overlay"
graphroot = "$tmp/podman/root"
runroot = "$tmp/podman/run"
EOC
}

#   new_cgroups_cleanup BEFORE DIR...: removes the cgroup directories DIR (globs such as
#   /sys/fs/cgroup/*/libpod_parent, parents the peers make and never remove) that are not listed in BEFORE (the
#   output of `ls -d DIR...` taken before the box ran), deepest first; busy ones stay.
new_cgroups_cleanup() {
  local before=$1 d
  shift
  for d in "$@"; do
    [ -d "$d" ] || continue
    grep -qxF "$d" <<<"$before" && continue
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}
