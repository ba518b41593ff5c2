//! The process the init (or `exec`) becomes: its limits and working directory, its stdio or terminal, and
//! the last steps from full privileges to execve.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::str::FromStr;

use caps::CapSet;
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::unistd::{chdir, Gid, Uid};
use oci_spec::runtime::{Capabilities, Process};

use super::mount::{make_mountpoint, mount_at};
use crate::seccomp::Program;
use crate::status::Failure;
use crate::status::{fail, At, Step};

/// What a process needs to become `process`, prepared before it is cloned: every value the steps from its
/// limits ([`ProcessPlan::context`]) to execve ([`ProcessPlan::become_process`]) pass to the kernel,
/// already in the form the system calls take. Those steps then allocate nothing on their way to execve,
/// which an `exec` child needs: it runs them in memory it shares with its caller (see
/// `minotaur_sys::clone_vfork`). Only a failure allocates, to describe itself, just before the child exits.
pub(crate) struct ProcessPlan<'a> {
    process: &'a Process,
    /// `None`: the path has a NUL byte.
    cwd: Option<CString>,
    oom_score_adj: Option<CString>,
    no_new_privs: bool,
    /// The capabilities to drop from the bounding set (all the kernel may know but those kept).
    bounding_drop: Option<Vec<caps::Capability>>,
    caps: Option<CapSets>,
    groups: Vec<Gid>,
    uid: Uid,
    gid: Gid,
    /// `None`: an argument or variable has a NUL byte.
    exec: Option<minotaur_sys::ExecArgs>,
    /// The paths execve is tried at, in order: the PATH search inside the container, made in advance.
    candidates: Vec<CString>,
    /// Whether `candidates` come from a PATH search (the program's name has no `/`).
    searched: bool,
    /// The signals whose action is not the default where the plan is made ([`non_default_signals`]):
    /// the ones reset before the exec.
    signals: u64,
}

/// The effective, permitted, inheritable and ambient capabilities, as the caps crate takes them.
struct CapSets {
    effective: caps::CapsHashSet,
    permitted: caps::CapsHashSet,
    inheritable: caps::CapsHashSet,
    /// Only those the kernel can raise: both permitted and inheritable (capabilities(7)).
    ambient: Vec<caps::Capability>,
}

impl<'a> ProcessPlan<'a> {
    pub(crate) fn new(process: &'a Process) -> ProcessPlan<'a> {
        let caps = process.capabilities().as_ref();
        let bounding_drop = caps.and_then(|c| c.bounding().as_ref()).map(|bounding| {
            let keep = to_caps(bounding);
            caps::all()
                .into_iter()
                .filter(|cap| !keep.contains(cap))
                .collect()
        });
        let sets = caps.map(|c| {
            let set = |v: Option<&Capabilities>| v.map(to_caps).unwrap_or_default();
            let permitted = set(c.permitted().as_ref());
            let inheritable = set(c.inheritable().as_ref());
            let ambient = set(c.ambient().as_ref())
                .into_iter()
                .filter(|cap| permitted.contains(cap) && inheritable.contains(cap))
                .collect();
            CapSets {
                effective: set(c.effective().as_ref()),
                permitted,
                inheritable,
                ambient,
            }
        });
        let user = process.user();
        let args = process.args().as_deref().unwrap_or_default();
        let env = process.env().as_deref().unwrap_or_default();
        let to_c = |v: &[String]| {
            v.iter()
                .map(|a| CString::new(a.as_bytes()).ok())
                .collect::<Option<Vec<_>>>()
        };
        let exec = to_c(args)
            .zip(to_c(env))
            .map(|(argv, envp)| minotaur_sys::ExecArgs::new(argv, envp));
        let prog = args.first().map(String::as_str).unwrap_or_default();
        let searched = !prog.contains('/');
        let candidates = if searched {
            let path = env
                .iter()
                .find_map(|e| e.strip_prefix("PATH="))
                .unwrap_or(crate::defaults::DEFAULT_PATH);
            path.split(':')
                .filter(|d| !d.is_empty() && !prog.is_empty())
                .filter_map(|dir| CString::new(format!("{dir}/{prog}")).ok())
                .collect()
        } else {
            CString::new(prog).into_iter().collect()
        };
        ProcessPlan {
            process,
            cwd: CString::new(process.cwd().as_os_str().as_bytes()).ok(),
            oom_score_adj: process
                .oom_score_adj()
                .and_then(|adj| CString::new(adj.to_string()).ok()),
            no_new_privs: process.no_new_privileges() == Some(true),
            bounding_drop,
            caps: sets,
            groups: user
                .additional_gids()
                .iter()
                .flatten()
                .map(|g| Gid::from_raw(*g))
                .collect(),
            uid: Uid::from_raw(user.uid()),
            gid: Gid::from_raw(user.gid()),
            exec,
            candidates,
            searched,
            signals: non_default_signals(),
        }
    }

    /// The limits, working directory and OOM score of the process: the steps that need the container's
    /// filesystem in place and run with full privileges.
    pub(crate) fn context(&self) -> Step<()> {
        let process = self.process;
        for rl in process.rlimits().iter().flatten() {
            let resource = rlimit_resource(rl.typ())
                .ok_or_else(|| fail(format!("rlimit {:?}", rl.typ()), Errno::EINVAL))?;
            nix::sys::resource::setrlimit(resource, rl.soft(), rl.hard())
                .at(|| format!("setrlimit {:?}", rl.typ()))?;
        }
        let chdir = match &self.cwd {
            Some(cwd) => chdir(cwd.as_c_str()),
            None => Err(Errno::EINVAL),
        };
        chdir.at(|| format!("chdir {}", process.cwd().display()))?;
        // A working directory reached through a descriptor of the runtime's (`-w /proc/self/fd/N`) may lie
        // outside the container's root (CVE-2024-21626). The kernel's getcwd(2) then answers with a path
        // that does not start with `/` ("(unreachable)/...").
        match minotaur_sys::cwd_is_reachable() {
            Ok(true) => {}
            Ok(false) | Err(Errno::ENOENT) => {
                return Err(fail(
                    format!(
                        "working directory {} is outside the container's root",
                        process.cwd().display()
                    ),
                    Errno::EPERM,
                ))
            }
            Err(e) => return Err(fail("getcwd", e)),
        }
        if let Some(adj) = &self.oom_score_adj {
            let set = nix::fcntl::open(
                c"/proc/self/oom_score_adj",
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .and_then(|fd| nix::unistd::write(&fd, adj.as_bytes()));
            set.at(|| "set oom_score_adj".into())?;
        }
        Ok(())
    }
}

/// Makes the terminal whose slave is at `console` (a new session's controlling terminal), or else `stdio`,
/// the process's stdin, stdout and stderr. With neither, 0, 1 and 2 stay the caller's.
pub(crate) fn attach_stdio(
    console: Option<String>,
    stdio: Option<[BorrowedFd<'_>; 3]>,
) -> Step<()> {
    if let Some(slave) = console {
        nix::unistd::setsid().at(|| "setsid".into())?;
        let tty = nix::fcntl::open(
            slave.as_str(),
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .at(|| format!("open {slave}"))?;
        minotaur_sys::set_controlling_terminal(&tty).at(|| "set controlling terminal".into())?;
        nix::unistd::dup2_stdin(&tty).at(|| "terminal as stdin".into())?;
        nix::unistd::dup2_stdout(&tty).at(|| "terminal as stdout".into())?;
        nix::unistd::dup2_stderr(&tty).at(|| "terminal as stderr".into())?;
    } else if let Some([stdin, stdout, stderr]) = stdio {
        // dup2 clears close-on-exec on the new descriptor; the originals are closed at exec.
        nix::unistd::dup2_stdin(stdin).at(|| "set stdin".into())?;
        nix::unistd::dup2_stdout(stdout).at(|| "set stdout".into())?;
        nix::unistd::dup2_stderr(stderr).at(|| "set stderr".into())?;
    }
    Ok(())
}

/// The last steps, from full privileges to execve: seccomp, no_new_privs, capabilities, the user, default
/// signal handling, close-on-exec for every inherited descriptor. Shared by a container's init process and
/// processes exec'd into it. Allocates nothing until it fails (see [`ProcessPlan`]), but for `init`, whose
/// fork is its own process.
pub(crate) fn become_process(
    plan: &ProcessPlan<'_>,
    seccomp: Option<&Program>,
    init: bool,
    preserve_fds: u32,
) -> Step<Infallible> {
    default_signals(plan.signals)?;
    // No descriptor of the caller leaks into the container, beyond the `preserve_fds` after stdio the caller
    // asked to pass on (the OCI command line's --preserve-fds); the status pipe closes exactly at exec. This
    // comes before any seccomp filter, which may refuse close_range(2) (the runtime-spec tools' default
    // profile does), and nothing below opens a descriptor that should be kept.
    minotaur_sys::cloexec_from(3 + preserve_fds).at(|| "mark descriptors close-on-exec".into())?;
    let nnp = plan.no_new_privs;
    if !nnp {
        install_seccomp(seccomp)?;
    }
    if nnp {
        nix::sys::prctl::set_no_new_privs().at(|| "set no_new_privs".into())?;
    }
    for &cap in plan.bounding_drop.iter().flatten() {
        match caps::drop(None, CapSet::Bounding, cap) {
            Ok(()) => {}
            // A capability this kernel does not know is not in the bounding set anyway.
            Err(_) if Errno::last() == Errno::EINVAL => {}
            Err(_) => return Err(fail(format!("drop {cap} from bounding set"), Errno::last())),
        }
    }
    let (uid, gid) = (plan.uid, plan.gid);
    nix::unistd::setgroups(&plan.groups).at(|| "setgroups".into())?;
    nix::unistd::setresgid(gid, gid, gid).at(|| format!("setgid {gid}"))?;
    nix::sys::prctl::set_keepcaps(true).at(|| "keep capabilities".into())?;
    nix::unistd::setresuid(uid, uid, uid).at(|| format!("setuid {uid}"))?;
    if let Some(c) = &plan.caps {
        // Effective before permitted: the kernel wants the new effective set inside the new permitted set.
        set_caps(CapSet::Effective, &c.effective)?;
        set_caps(CapSet::Permitted, &c.permitted)?;
        set_caps(CapSet::Inheritable, &c.inheritable)?;
        caps::clear(None, CapSet::Ambient).map_err(|_| fail("clear ambient set", Errno::last()))?;
        for &cap in &c.ambient {
            match caps::raise(None, CapSet::Ambient, cap) {
                Ok(()) => {}
                // The kernel raises an ambient capability only if it is both permitted and inheritable
                // (capabilities(7)); a spec listing one that is not (runc's own `spec` does, with no
                // inheritable set) runs without it, as runc and crun run it: such ones are left out of
                // `ambient` beforehand. EINVAL: a capability this kernel does not know.
                Err(_) if matches!(Errno::last(), Errno::EPERM | Errno::EINVAL) => {}
                Err(_) => return Err(fail(format!("raise ambient {cap}"), Errno::last())),
            }
        }
    }

    if nnp {
        install_seccomp(seccomp)?;
    }
    if init {
        // PID 1 stays ours and reaps; the command runs as its child (see the reaper module). The child
        // inherits the status pipe and reports an exec failure through it; PID 1 closes its own copy, so the
        // parent sees the pipe close exactly when the command has exec'd.
        let sfd = crate::reaper::prepare().at(|| "prepare the init's signals".into())?;
        match minotaur_sys::fork().at(|| "fork the command under the init".into())? {
            nix::unistd::ForkResult::Child => {
                crate::reaper::signals()
                    .thread_unblock()
                    .at(|| "unblock signals".into())?;
            }
            nix::unistd::ForkResult::Parent { child } => {
                minotaur_sys::exit_with_only(sfd.as_fd(), || crate::reaper::run(&sfd, child));
            }
        }
    }
    Err(exec(plan))
}

/// The signal handling a program expects from a fresh process: nothing blocked and every signal at its
/// default action. execve(2) keeps the caller's mask and ignored signals (the Rust runtime ignores SIGPIPE,
/// glibc's posix_spawn leaves its internal signals ignored, and a supervisor or CLI may block others); the
/// kernel only resets handlers. `signals`: those whose action is not the default (see
/// [`non_default_signals`]); the handled ones are reset too, so that none of the caller's handlers runs
/// before the exec.
fn default_signals(signals: u64) -> Step<()> {
    use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .at(|| "unblock signals".into())?;
    minotaur_sys::reset_signals_to_default(signals).at(|| "reset signal actions".into())
}

/// The signals whose action is not the default in the calling process, bit `n - 1` for signal `n`: those
/// it ignores or handles, as `SigIgn` and `SigCgt` of `/proc/self/status` give them. Nothing changes an
/// action between the [`ProcessPlan`] being made and [`become_process`], so that resets exactly these (a
/// few `rt_sigaction` calls, where it made 62). Every signal when the file cannot be read.
pub(crate) fn non_default_signals() -> u64 {
    // A buffer the file fits in (about 1.5 KB): fs::read_to_string would size it from the file's length,
    // which /proc gives as 0, and grow it from 32 bytes, one read(2) per doubling.
    let mut text = String::with_capacity(4096);
    let read = std::fs::File::open("/proc/self/status")
        .and_then(|mut f| std::io::Read::read_to_string(&mut f, &mut text));
    if read.is_err() {
        return u64::MAX;
    }
    let mask = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    };
    match (mask("SigIgn:"), mask("SigCgt:")) {
        (Some(ignored), Some(caught)) => ignored | caught,
        _ => u64::MAX,
    }
}

/// Opens a pty in the container's devpts; with `dev_is_ours` (the container's init making its own `/dev`)
/// binds its slave over `/dev/console`. Returns the master and the slave's path.
pub(crate) fn open_console(dev_is_ours: bool) -> Step<(nix::pty::PtyMaster, String)> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .at(|| "open /dev/ptmx".into())?;
    nix::pty::grantpt(&master).at(|| "grantpt".into())?;
    nix::pty::unlockpt(&master).at(|| "unlockpt".into())?;
    let slave = nix::pty::ptsname_r(&master).at(|| "ptsname".into())?;
    if dev_is_ours {
        let console = Path::new("/dev/console");
        make_mountpoint(console, false)?;
        mount_at(
            Some(Path::new(&slave)),
            console,
            None,
            MsFlags::MS_BIND,
            None,
        )?;
    }
    Ok((master, slave))
}

fn install_seccomp(seccomp: Option<&Program>) -> Step<()> {
    if let Some(program) = seccomp {
        for filter in &program.filters {
            minotaur_sys::seccomp_set_filter(filter).at(|| "install seccomp filter".into())?;
        }
    }
    Ok(())
}

fn to_caps(set: &Capabilities) -> caps::CapsHashSet {
    set.iter()
        .filter_map(|c| {
            let name = c.to_string();
            caps::Capability::from_str(&format!("CAP_{}", name.trim_start_matches("CAP_"))).ok()
        })
        .collect()
}

fn set_caps(set: CapSet, value: &caps::CapsHashSet) -> Step<()> {
    caps::set(None, set, value)
        .map_err(|_| fail(format!("set {set:?} capabilities"), Errno::last()))
}

/// execve with a PATH search inside the container, as execvp does: "not found" only when no candidate
/// exists, "permission denied" when one exists but cannot be executed.
fn exec(plan: &ProcessPlan<'_>) -> Failure {
    let exec_fail = |errno: Errno| Failure {
        step: plan
            .process
            .args()
            .as_deref()
            .and_then(|a| a.first())
            .cloned()
            .unwrap_or_default(),
        errno: errno as i32,
        exec: true,
    };
    let Some(args) = &plan.exec else {
        return exec_fail(Errno::EINVAL);
    };
    if !plan.searched {
        return match plan.candidates.first() {
            Some(path) => exec_fail(args.execve(path)),
            None => exec_fail(Errno::EINVAL),
        };
    }
    let mut seen = Errno::ENOENT;
    for candidate in &plan.candidates {
        match args.execve(candidate) {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => seen = Errno::EACCES,
            other => return exec_fail(other),
        }
    }
    exec_fail(seen)
}

fn rlimit_resource(t: oci_spec::runtime::PosixRlimitType) -> Option<nix::sys::resource::Resource> {
    use nix::sys::resource::Resource as R;
    use oci_spec::runtime::PosixRlimitType as T;
    Some(match t {
        T::RlimitCpu => R::RLIMIT_CPU,
        T::RlimitFsize => R::RLIMIT_FSIZE,
        T::RlimitData => R::RLIMIT_DATA,
        T::RlimitStack => R::RLIMIT_STACK,
        T::RlimitCore => R::RLIMIT_CORE,
        T::RlimitRss => R::RLIMIT_RSS,
        T::RlimitNproc => R::RLIMIT_NPROC,
        T::RlimitNofile => R::RLIMIT_NOFILE,
        T::RlimitMemlock => R::RLIMIT_MEMLOCK,
        T::RlimitAs => R::RLIMIT_AS,
        T::RlimitLocks => R::RLIMIT_LOCKS,
        T::RlimitSigpending => R::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => R::RLIMIT_MSGQUEUE,
        T::RlimitNice => R::RLIMIT_NICE,
        T::RlimitRtprio => R::RLIMIT_RTPRIO,
        T::RlimitRttime => R::RLIMIT_RTTIME,
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

#[cfg(test)]
mod signal_tests {
    use super::non_default_signals;

    /// The init reset every signal's action one call at a time; it now resets the ones this reads.
    #[test]
    fn the_signals_to_reset_are_the_ignored_and_handled_ones() {
        let bit = |sig: i32| 1u64 << (sig - 1);
        let found = non_default_signals();
        assert_ne!(found, u64::MAX, "/proc/self/status was not read");
        // The Rust runtime ignores SIGPIPE; nothing here touches SIGURG.
        assert_ne!(found & bit(libc::SIGPIPE), 0, "{found:#x}");
        assert_eq!(found & bit(libc::SIGURG), 0, "{found:#x}");
    }
}
