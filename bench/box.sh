# Sourced by the benchmarks' box scripts, run as PID 1 of a fresh PID, network and mount namespace.
#   private_box TMPDIR: private /run, /etc and /var/lib (their writes land in TMPDIR), loopback up.
private_box() {
  local tmp=$1
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
}
