# The isolation checker: run as a container's command (sh -c "$(cat isolation.sh)"), it checks what the
# container sees against Docker's defaults and the WANT_* variables, reports each mismatch on stderr and
# exits 1 if there was any. Unset WANT_* variables take Docker's default or skip the check.
fail=0
bad() { echo "checker: $1: want '$2', got '$3'" >&2; fail=1; }
want() { [ "$2" = "$3" ] || bad "$1" "$2" "$3"; }

want "PID of the command" 1 "$$"
want CapEff "${WANT_CAPEFF:-00000000a80425fb}" "$(awk '/^CapEff:/ {print $2}' /proc/self/status)"
want "Seccomp mode" "${WANT_SECCOMP:-2}" "$(awk '/^Seccomp:/ {print $2}' /proc/self/status)"
want "NoNewPrivs" "${WANT_NNP:-0}" "$(awk '/^NoNewPrivs:/ {print $2}' /proc/self/status)"

# Masked paths read empty (/proc/kcore may not exist at all); read-only paths refuse writes.
if [ "${WANT_MASKED:-1}" = 1 ]; then
    for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats; do
        [ -e "$f" ] || continue
        want "bytes in masked $f" 0 "$(cat "$f" 2>/dev/null | wc -c)"
    done
    [ -z "$(ls -A /sys/firmware 2>/dev/null)" ] || bad "masked /sys/firmware" empty "$(ls -A /sys/firmware | head -3)"
    if (echo x > /proc/sys/kernel/domainname) 2>/dev/null; then bad "/proc/sys" read-only writable; fi
    if (echo x > /proc/sysrq-trigger) 2>/dev/null; then bad "/proc/sysrq-trigger" read-only writable; fi
fi

# The root is read-only, /tmp is private and writable, /dev is minimal.
if touch /.minotaur-checker 2>/dev/null; then rm -f /.minotaur-checker; bad "/" read-only writable; fi
touch /tmp/.minotaur-checker 2>/dev/null || bad "/tmp" writable read-only
want "files in the private /tmp" .minotaur-checker "$(ls -A /tmp)"
[ -c /dev/null ] && [ -c /dev/zero ] && [ -c /dev/urandom ] || bad /dev "null, zero, urandom" "$(ls /dev | tr '\n' ' ')"
blk=$(find /dev -type b 2>/dev/null | head -3 | tr '\n' ' ')
if [ "${WANT_PRIVILEGED:-0}" != 1 ]; then
    want "block devices in /dev" "" "$blk"
    want "/dev" "core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero" "$(ls /dev | tr '\n' ' ' | sed 's/ $//')"
    want "/sys mount" ro "$(awk '$5 == "/sys" {split($6, o, ","); print o[1]}' /proc/self/mountinfo | tail -1)"
fi

# The seccomp filter is Docker's: without CAP_SYS_ADMIN, unshare(2) is refused.
if unshare -U true 2>/dev/null; then got=allowed; else got=refused; fi
want "unshare(CLONE_NEWUSER)" "${WANT_UNSHARE:-refused}" "$got"

# Only stdin, stdout and stderr are open in PID 1; no mount propagates to or from the host.
# While the shell reads a command substitution it holds the pipe's read end: that one descriptor is left out,
# found as the pipe `ls` writes to.
listing=$(ls -l /proc/self/fd/1 /proc/1/fd)
fds=$(echo "$listing" | awk 'NR == 1 {own = $NF; next} / -> / && $NF != own {print $(NF - 2)}' | sort -n | tr '\n' ' ')
want "descriptors of PID 1" "0 1 2" "${fds% }"
want "shared mounts" 0 "$(grep -c 'shared:' /proc/self/mountinfo)"

# The loopback interface is up, as Docker has it, also with --network none.
ip -o addr show lo | grep -q 'inet 127.0.0.1/8' || bad "lo" "up with 127.0.0.1/8" "$(ip -o addr show lo | head -1)"

# Identity: hostname, the generated /etc files.
want hostname "$WANT_HOSTNAME" "$(hostname)"
want /etc/hostname "$WANT_HOSTNAME" "$(cat /etc/hostname)"
grep -q '^127.0.0.1[[:space:]].*localhost' /etc/hosts || bad /etc/hosts "127.0.0.1 localhost" "$(cat /etc/hosts)"
grep -q "^nameserver ${WANT_DNS:-172.17.0.1}\$" /etc/resolv.conf || bad /etc/resolv.conf "nameserver ${WANT_DNS:-172.17.0.1}" "$(cat /etc/resolv.conf)"
if grep -q '127.0.0.53' /etc/resolv.conf; then bad /etc/resolv.conf "no loopback stub" "$(cat /etc/resolv.conf)"; fi

# Process: user, directory, environment.
want uid "${WANT_UID:-0}" "$(id -u)"
want "working directory" "${WANT_PWD:-/}" "$(pwd)"
[ -z "${WANT_A+x}" ] || want "\$A" "$WANT_A" "${A-unset}"
[ -z "${WANT_B+x}" ] || want "\$B" "$WANT_B" "${B-unset}"

# cgroup limits, seen through the container's own cgroup namespace.
cg() {
    for d in /sys/fs/cgroup/$1 /sys/fs/cgroup; do
        if [ -r "$d/$2" ]; then cat "$d/$2"; return; fi
    done
    echo "no $1/$2"
}
[ -z "$WANT_MEMORY" ] || want memory.limit_in_bytes "$WANT_MEMORY" "$(cg memory memory.limit_in_bytes)"
[ -z "$WANT_PIDS" ] || want pids.max "$WANT_PIDS" "$(cg pids pids.max)"
[ -z "$WANT_MEMSW" ] || want memory.memsw.limit_in_bytes "$WANT_MEMSW" "$(cg memory memory.memsw.limit_in_bytes)"
[ -z "$WANT_CPU_SHARES" ] || want cpu.shares "$WANT_CPU_SHARES" "$(cg cpu cpu.shares)"
[ -z "$WANT_CFS_QUOTA" ] || want cpu.cfs_quota_us "$WANT_CFS_QUOTA" "$(cg cpu cpu.cfs_quota_us)"

# Mounts the flags asked for.
case "$WANT_MNT" in
    ro) if touch /mnt/.minotaur-checker 2>/dev/null; then bad /mnt read-only writable; fi
        want "/mnt mount options" ro "$(awk '$5 == "/mnt" {split($6, o, ","); print o[1]}' /proc/self/mountinfo | tail -1)" ;;
    tmpfs) touch /mnt/.minotaur-checker 2>/dev/null || bad /mnt writable read-only
        want "/mnt filesystem" tmpfs "$(awk '$5 == "/mnt" {for (i = 7; $i != "-"; i++); print $(i + 1)}' /proc/self/mountinfo | tail -1)" ;;
esac
exit $fail
