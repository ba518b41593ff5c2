//! Seccomp: an OCI `linux.seccomp` section compiled to BPF, and Docker's default profile.
//!
//! The BPF comes from [`compact`], whose filters are a ninth as long as those of the pure-Rust
//! `seccompiler` crate and ten times quicker to install (paid on every container start and `exec`);
//! `seccompiler` remains the fallback for a filter the compact form cannot express, and the reference the
//! compact output is tested against (`equivalence`).
//!
//! The OCI format gives one default action and per-syscall actions; a filter has one default and one match
//! action. A profile therefore becomes one filter per distinct action: first the default action with the
//! syscalls that get another action allowed through, then one filter per other action (`ERRNO(ENOSYS)` for
//! `clone3`, say) that lets everything else pass. The kernel runs every filter and keeps the most
//! restrictive verdict, and among equal ones (two `ERRNO`s) the one of the filter installed last, so the
//! per-syscall action wins over the default as the profile means. Syscall names the running architecture
//! does not have are skipped, as libseccomp does.

mod aarch64;
mod compact;
#[cfg(test)]
mod equivalence;
mod x86_64;

use std::collections::BTreeMap;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscallBuilder,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Errors of compiling a seccomp profile.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: unsupported architecture {0}")]
    Arch(String),
    #[error("seccomp: unsupported action {0}")]
    Action(String),
    #[error("seccomp: bad rule for {syscall}")]
    Rule {
        syscall: String,
        #[source]
        source: seccompiler::BackendError,
    },
    #[error("seccomp: cannot compile the filter")]
    Compile(#[source] seccompiler::BackendError),
}

/// A compiled profile: filters to install in order.
#[derive(Debug, Clone)]
pub struct Program {
    pub filters: Vec<Vec<libc::sock_filter>>,
}

/// A comparison of one 64-bit syscall argument, as `seccompiler`'s `Qword` conditions mean it (unsigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == (value & mask)`.
    MaskedEq(u64),
}

/// One condition of a rule: argument `index` compared with `value`.
#[derive(Debug, Clone)]
struct Cond {
    index: u8,
    op: CmpOp,
    value: u64,
}

/// A rule: all its conditions hold. Kept both ways, for the compact generator and for `seccompiler`.
#[derive(Debug, Clone)]
struct Rule {
    conds: Vec<Cond>,
    seccompiler: SeccompRule,
}

/// Syscall number → its rules (one of them must hold), `None` when it matches unconditionally.
type RuleMap = BTreeMap<i64, Option<Vec<Rule>>>;

/// Which generator turns the rules into BPF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generator {
    /// [`compact`], falling back to `seccompiler` for a filter it cannot express.
    Compact,
    /// `seccompiler` only (what the compact generator is checked against).
    #[cfg_attr(not(test), allow(dead_code))]
    Seccompiler,
}

/// The syscall table of the running architecture, sorted by name.
fn syscall_table() -> &'static [(&'static str, i64)] {
    match std::env::consts::ARCH {
        "x86_64" => x86_64::X86_64,
        "aarch64" => aarch64::AARCH64,
        _ => &[],
    }
}

/// The number of a syscall on the running architecture.
pub fn syscall_number(name: &str) -> Option<i64> {
    let table = syscall_table();
    table
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| table[i].1)
}

/// Syscall numbers looked up one after another, for names that mostly come in sorted order, as profiles
/// list them (Docker's default does): each search starts where the one before it ended and widens by
/// doubling steps (a galloping search), a few comparisons per name where a binary search over the ~370
/// names of the table takes nine. A profile's names were a third of its compile, which every `exec` pays.
/// Names in any order get the same answers as [`syscall_number`].
struct SyscallNumbers {
    table: &'static [(&'static str, i64)],
    /// Every entry before it sorts before the last name looked up.
    at: usize,
}

impl SyscallNumbers {
    fn new() -> SyscallNumbers {
        SyscallNumbers {
            table: syscall_table(),
            at: 0,
        }
    }

    fn get(&mut self, name: &str) -> Option<i64> {
        let t = self.table;
        // `lo`: no entry before it sorts after `name`; `hi`: none from it on sorts before or equal.
        let mut lo = if self.at < t.len() && t[self.at].0 <= name {
            self.at
        } else {
            0
        };
        let mut step = 1;
        let hi = loop {
            let probe = lo + step;
            if probe >= t.len() {
                break t.len();
            }
            if t[probe].0 > name {
                break probe;
            }
            lo = probe;
            step *= 2;
        };
        match t[lo..hi].binary_search_by(|(n, _)| (*n).cmp(name)) {
            Ok(i) => {
                self.at = lo + i;
                Some(t[lo + i].1)
            }
            Err(i) => {
                self.at = lo + i;
                None
            }
        }
    }
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<SeccompAction, SeccompError> {
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => {
            SeccompAction::Errno(errno.unwrap_or(libc::EPERM as u32))
        }
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActTrace => {
            SeccompAction::Trace(errno.unwrap_or(libc::EPERM as u32))
        }
        other => return Err(SeccompError::Action(other.to_string())),
    })
}

fn action_key(a: &SeccompAction) -> u32 {
    u32::from(a.clone())
}

/// One OCI argument condition. For `SCMP_CMP_MASKED_EQ` the OCI `value` is the mask and `valueTwo` the
/// value the masked argument must equal.
fn condition(syscall: &str, a: &LinuxSeccompArg) -> Result<(Cond, SeccompCondition), SeccompError> {
    let (op, sop) = match a.op() {
        LinuxSeccompOperator::ScmpCmpNe => (CmpOp::Ne, SeccompCmpOp::Ne),
        LinuxSeccompOperator::ScmpCmpLt => (CmpOp::Lt, SeccompCmpOp::Lt),
        LinuxSeccompOperator::ScmpCmpLe => (CmpOp::Le, SeccompCmpOp::Le),
        LinuxSeccompOperator::ScmpCmpEq => (CmpOp::Eq, SeccompCmpOp::Eq),
        LinuxSeccompOperator::ScmpCmpGe => (CmpOp::Ge, SeccompCmpOp::Ge),
        LinuxSeccompOperator::ScmpCmpGt => (CmpOp::Gt, SeccompCmpOp::Gt),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            CmpOp::MaskedEq(a.value()),
            SeccompCmpOp::MaskedEq(a.value()),
        ),
    };
    let value = match a.op() {
        LinuxSeccompOperator::ScmpCmpMaskedEq => a.value_two().unwrap_or(0),
        _ => a.value(),
    };
    let rule_error = |source| SeccompError::Rule {
        syscall: syscall.to_string(),
        source,
    };
    // seccompiler checks the index (at most 5); the compact generator relies on that check.
    let index = u8::try_from(a.index())
        .map_err(|_| rule_error(seccompiler::BackendError::InvalidArgumentNumber))?;
    let sc =
        SeccompCondition::new(index, SeccompCmpArgLen::Qword, sop, value).map_err(rule_error)?;
    Ok((Cond { index, op, value }, sc))
}

/// Compiles a profile for the running architecture.
pub fn compile(profile: &LinuxSeccomp) -> Result<Program, SeccompError> {
    compile_with(profile, Generator::Compact)
}

fn compile_with(profile: &LinuxSeccomp, generator: Generator) -> Result<Program, SeccompError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SeccompError::Arch(std::env::consts::ARCH.into()))?;
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    // action → (action, syscall → rules)
    let mut groups: BTreeMap<u32, (SeccompAction, RuleMap)> = BTreeMap::new();
    let mut numbers = SyscallNumbers::new();
    for entry in profile.syscalls().iter().flatten() {
        let act = action(entry.action(), entry.errno_ret())?;
        if act == default {
            continue;
        }
        for name in entry.names() {
            let Some(nr) = numbers.get(name) else {
                continue;
            };
            let rule = match entry.args().as_deref() {
                None | Some([]) => None,
                Some(args) => {
                    let (conds, scs): (Vec<_>, Vec<_>) = args
                        .iter()
                        .map(|a| condition(name, a))
                        .collect::<Result<Vec<_>, _>>()?
                        .into_iter()
                        .unzip();
                    let seccompiler =
                        SeccompRule::new(scs).map_err(|source| SeccompError::Rule {
                            syscall: name.clone(),
                            source,
                        })?;
                    Some(Rule { conds, seccompiler })
                }
            };
            let (_, map) = groups
                .entry(action_key(&act))
                .or_insert_with(|| (act.clone(), BTreeMap::new()));
            let slot = map.entry(nr).or_insert_with(|| Some(Vec::new()));
            match (slot.as_mut(), rule) {
                // Unconditional: matches whatever rules it had.
                (_, None) => *slot = None,
                (Some(rules), Some(r)) => rules.push(r),
                (None, Some(_)) => {}
            }
        }
    }
    let mut filters = Vec::new();
    let mut build = |rules: RuleMap, mismatch: SeccompAction, matched: SeccompAction| {
        if generator == Generator::Compact {
            let (m, a) = (u32::from(mismatch.clone()), u32::from(matched.clone()));
            // On an error the filter needs something the compact form cannot say (a rule block longer
            // than a jump reaches): seccompiler's longer form can.
            if let Ok(f) = compact::filter(std::env::consts::ARCH, &rules, m, a) {
                filters.push(f);
                return Ok(());
            }
        }
        let rules = rules
            .into_iter()
            .map(|(nr, r)| {
                let r = r.unwrap_or_default();
                (nr, r.into_iter().map(|r| r.seccompiler).collect())
            })
            .collect::<BTreeMap<_, _>>();
        let filter =
            SeccompFilter::new(rules, mismatch, matched, arch).map_err(SeccompError::Compile)?;
        let bpf: BpfProgram = filter.try_into().map_err(SeccompError::Compile)?;
        filters.push(
            bpf.into_iter()
                .map(|i| libc::sock_filter {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect(),
        );
        Ok(())
    };
    let allow = groups
        .remove(&action_key(&SeccompAction::Allow))
        .map(|(_, m)| m)
        .unwrap_or_default();
    if default != SeccompAction::Allow {
        build(allow, default, SeccompAction::Allow)?;
    }
    for (_, (act, map)) in groups {
        build(map, SeccompAction::Allow, act)?;
    }
    Ok(Program { filters })
}

/// Syscalls Docker's default profile allows unconditionally (moby's `profiles/seccomp/default.json`), less
/// the names that exist only on 32-bit architectures.
const DOCKER_ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "clock_adjtime",
    "clock_getres",
    "clock_gettime",
    "clock_nanosleep",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchownat",
    "fcntl",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstatfs",
    "fsync",
    "ftruncate",
    "futex",
    "futex_requeue",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresuid",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedsend",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "sendfile",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsuid",
    "setgid",
    "setgroups",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "socketpair",
    "splice",
    "stat",
    "statfs",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_settime",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_settime",
    "times",
    "tkill",
    "truncate",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "write",
    "writev",
    // Docker allows these on kernels >= 4.8 (ptrace) and with CAP_SYS_CHROOT (in the default set).
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "chroot",
    "arch_prctl",
    "modify_ldt",
];

/// Namespace flags a container may not create (`CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|
/// CLONE_NEWPID|CLONE_NEWNET|CLONE_NEWCGROUP`), as in Docker's `clone` rule.
const CLONE_NS_MASK: u64 = 0x7E02_0000;

/// Syscalls Docker's profile allows only when the container has a capability beyond the default set.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &["kcmp", "pidfd_getfd", "process_madvise"],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_adjtime"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Docker's default profile for a container whose bounding set is `caps` (names like `CAP_SYS_ADMIN`): as
/// [`docker_default`], plus the syscalls Docker unlocks for each capability beyond the default set, so that
/// `--cap-add SYS_ADMIN` allows `mount` as it does with Docker. With `CAP_SYS_ADMIN`, `clone` and `clone3`
/// are allowed without restriction.
pub fn docker_default_for<S: AsRef<str>>(caps: &[S]) -> LinuxSeccomp {
    let mut profile = docker_default();
    let mut extra: Vec<String> = Vec::new();
    for (cap, names) in BY_CAPABILITY {
        if caps.iter().any(|c| c.as_ref() == *cap) {
            extra.extend(names.iter().map(|n| n.to_string()));
        }
    }
    if extra.is_empty() {
        return profile;
    }
    let sys_admin = caps.iter().any(|c| c.as_ref() == "CAP_SYS_ADMIN");
    let mut syscalls = profile.syscalls().clone().unwrap_or_default();
    if sys_admin {
        // Docker's clone3 ENOSYS entry applies only without CAP_SYS_ADMIN.
        syscalls.retain(|s| !s.names().iter().any(|n| n == "clone3"));
    }
    syscalls.push(
        LinuxSyscallBuilder::default()
            .names(extra)
            .action(LinuxSeccompAction::ScmpActAllow)
            .build()
            .expect("complete syscall rule"),
    );
    profile.set_syscalls(Some(syscalls));
    profile
}

/// Docker's default seccomp profile: `ERRNO(EPERM)` for everything not allowed.
///
/// Differences from Docker's: capability-conditional entries are left to [`docker_default_for`], and only
/// the native architecture's syscalls are named (no 32-bit compat names such as `chown32`, no `socketcall`).
/// As in Docker: `clone` is allowed without namespace flags, `clone3` fails with `ENOSYS` so libc falls back
/// to `clone`, `socket` is allowed except for `AF_VSOCK`, `personality` only for the harmless personas.
pub fn docker_default() -> LinuxSeccomp {
    let entry = |names: &[&str], act: LinuxSeccompAction| {
        LinuxSyscallBuilder::default()
            .names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .action(act)
    };
    let arg = |index: usize, op: LinuxSeccompOperator, value: u64, two: Option<u64>| {
        let mut b = LinuxSeccompArgBuilder::default()
            .index(index)
            .value(value)
            .op(op);
        if let Some(t) = two {
            b = b.value_two(t);
        }
        b.build().expect("complete seccomp arg")
    };
    let mut syscalls = vec![entry(DOCKER_ALLOWED, LinuxSeccompAction::ScmpActAllow)
        .build()
        .expect("complete syscall rule")];
    for persona in [0x0u64, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
        syscalls.push(
            entry(&["personality"], LinuxSeccompAction::ScmpActAllow)
                .args(vec![arg(0, LinuxSeccompOperator::ScmpCmpEq, persona, None)])
                .build()
                .expect("complete syscall rule"),
        );
    }
    syscalls.push(
        entry(&["socket"], LinuxSeccompAction::ScmpActAllow)
            .args(vec![arg(
                0,
                LinuxSeccompOperator::ScmpCmpNe,
                libc::AF_VSOCK as u64,
                None,
            )])
            .build()
            .expect("complete syscall rule"),
    );
    syscalls.push(
        entry(&["clone"], LinuxSeccompAction::ScmpActAllow)
            .args(vec![arg(
                0,
                LinuxSeccompOperator::ScmpCmpMaskedEq,
                CLONE_NS_MASK,
                Some(0),
            )])
            .build()
            .expect("complete syscall rule"),
    );
    syscalls.push(
        entry(&["clone3"], LinuxSeccompAction::ScmpActErrno)
            .errno_ret(libc::ENOSYS as u32)
            .build()
            .expect("complete syscall rule"),
    );
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(libc::EPERM as u32)
        .syscalls(syscalls)
        .build()
        .expect("complete seccomp profile")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_known_names_resolve() {
        for t in [x86_64::X86_64, aarch64::AARCH64] {
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        }
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(syscall_number("read"), Some(0));
            assert_eq!(syscall_number("clone3"), Some(435));
        }
        assert_eq!(syscall_number("no_such_syscall"), None);
    }

    #[test]
    fn names_looked_up_in_any_order_get_the_binary_searchs_answers() {
        let table = syscall_table();
        let mut names: Vec<String> = table.iter().map(|(n, _)| n.to_string()).collect();
        // Names the table lacks, before, between and after its entries.
        names.extend(["", "0", "aaa", "read_", "readz", "zzz", "~"].map(String::from));
        names.sort();
        let orders = [
            names.clone(),
            names.iter().rev().cloned().collect(),
            names
                .iter()
                .step_by(3)
                .chain(names.iter().skip(1).step_by(3))
                .cloned()
                .collect(),
            docker_default_for(&["CAP_SYS_ADMIN"])
                .syscalls()
                .iter()
                .flatten()
                .flat_map(|e| e.names().clone())
                .collect::<Vec<_>>(),
        ];
        for order in orders {
            let mut numbers = SyscallNumbers::new();
            for name in &order {
                assert_eq!(numbers.get(name), syscall_number(name), "{name:?}");
                assert_eq!(numbers.get(name), syscall_number(name), "{name:?} again");
            }
        }
    }

    #[test]
    fn docker_profile_compiles_to_two_filters() {
        let p = compile(&docker_default()).unwrap();
        // The ERRNO(EPERM) allow-list filter, then the ERRNO(ENOSYS) filter for clone3.
        assert_eq!(p.filters.len(), 2);
        assert!(p
            .filters
            .iter()
            .all(|f| !f.is_empty() && f.len() < u16::MAX as usize));
    }

    #[test]
    fn allow_by_default_profile_needs_only_the_exception_filter() {
        let profile = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActAllow)
            .syscalls(vec![LinuxSyscallBuilder::default()
                .names(vec!["mount".to_string()])
                .action(LinuxSeccompAction::ScmpActErrno)
                .build()
                .unwrap()])
            .build()
            .unwrap();
        assert_eq!(compile(&profile).unwrap().filters.len(), 1);
    }

    #[test]
    fn added_capabilities_unlock_their_syscalls() {
        let has = |p: &LinuxSeccomp, name: &str| {
            p.syscalls().iter().flatten().any(|s| {
                s.action() == LinuxSeccompAction::ScmpActAllow
                    && s.args().is_none()
                    && s.names().iter().any(|n| n == name)
            })
        };
        let plain = docker_default_for(&["CAP_CHOWN"]);
        assert!(!has(&plain, "mount"));
        let admin = docker_default_for(&["CAP_CHOWN", "CAP_SYS_ADMIN"]);
        assert!(has(&admin, "mount") && has(&admin, "unshare") && has(&admin, "clone3"));
        assert!(!admin
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActErrno));
        assert_eq!(compile(&admin).unwrap().filters.len(), 1);
    }

    #[test]
    fn notify_is_refused() {
        let profile = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActNotify)
            .build()
            .unwrap();
        assert!(matches!(compile(&profile), Err(SeccompError::Action(_))));
    }
}
