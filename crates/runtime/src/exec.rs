//! Another process in a running container, as `runc exec` and `docker exec` make it.
//!
//! The caller forks one child, which joins the container's cgroup and namespaces and then goes through the
//! same last steps as the container's init process ([`crate::init`]): limits and working directory, the
//! terminal or the given stdio, seccomp, capabilities, the user, default signal handling, close-on-exec for
//! every inherited descriptor, and execve with a PATH search inside the container.
//!
//! Choices, and the alternatives not taken:
//! - The namespaces are those of the container's init process, named by a pidfd, so a PID reused after the
//!   container died cannot send the process somewhere else. They are joined with one `setns(pidfd, flags)`
//!   (Linux 5.8), which the kernel applies atomically and in the right order: every kind but the user, PID
//!   and time namespaces whether or not it differs from the caller's (see [`namespaces_to_join`]). Joining
//!   the mount namespace makes its root (the container's, after its `pivot_root`) the child's root and
//!   working directory, so no `chroot` is needed. A container without a mount namespace
//!   of its own entered its root with chroot(2) (see the init module): there the child, once in the
//!   namespace, chroots into the init's root, opened through `/proc/PID/root` before the clone.
//! - A PID namespace only applies to children of the process that joins it. Instead of forking twice (runc's
//!   nsexec: join, then fork again with `CLONE_PARENT`), the caller joins it for its children just around the
//!   one clone3 and then goes back to its own, so the child is born inside with the caller as its parent.
//! - The child moves itself into the cgroup (writing 0 to `tasks` on v1, `cgroup.procs` on v2: see
//!   [`Cgroup::add_self`]) before it joins the cgroup namespace, so it shows up there as the container's
//!   processes do, with no round trip to the parent.
//!   On cgroup v2 that move (through `cgroup.procs`) waits for an RCU grace period, so there the child is
//!   forked straight into the cgroup instead (`CLONE_INTO_CGROUP`), as the container's init is.
//! - The child is cloned sharing the caller's memory (`CLONE_VM | CLONE_VFORK`, as posix_spawn(3) does; see
//!   `minotaur_sys::clone_vfork`) rather than forked: copying the page tables of a 30 MB binary and taking
//!   a copy-on-write fault for each page either side writes before the execve were a tenth of an `exec`'s
//!   CPU. So every value the child passes to the kernel is prepared beforehand ([`init::ProcessPlan`],
//!   [`SelfJoin`], the seccomp program, the PATH search), and the child allocates nothing until it fails.
//!   Three cases still fork: a terminal, where the child waits for the parent's go (which a stopped parent
//!   cannot give), a time namespace to join, which setns(2) refuses to a process that shares its memory,
//!   and a cgroup v2 host, where only clone3 can put the child in the cgroup at birth.
//! - Without a terminal nothing goes back and forth: the parent reads the status pipe until it closes at
//!   execve, or gets the child's failure. With one, the child first hands over the master of its pty.

use std::convert::Infallible;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use minotaur_ns::{NsId, NsKind};
use minotaur_sys::Clone3Result;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{Process, Spec};

use crate::cgroup::{self, Cgroup, SelfJoin};
use crate::error::RuntimeError;
use crate::init;
use crate::seccomp;
use crate::status::{await_exec, await_ready, pipe, GO};
use crate::status::{fail, At, Step};

/// Options of [`exec`] that are not part of the spec.
#[derive(Debug, Clone)]
pub struct ExecOptions<'a> {
    /// The cgroup filesystem root (`/sys/fs/cgroup`), as given to [`crate::create`] for this container.
    pub cgroup_root: PathBuf,
    /// The process's stdin, stdout and stderr. `None`: the caller's own 0, 1 and 2. Ignored with a terminal,
    /// which becomes all three.
    pub stdio: Option<[BorrowedFd<'a>; 3]>,
}

impl Default for ExecOptions<'_> {
    fn default() -> Self {
        ExecOptions {
            cgroup_root: PathBuf::from(cgroup::DEFAULT_ROOT),
            stdio: None,
        }
    }
}

/// A process exec'd into a container: its PID in the caller's PID namespace, a pidfd for it, and the master
/// of its terminal when `process.terminal` was set. The caller is its parent and must reap it.
#[derive(Debug)]
pub struct Exec {
    pub pid: Pid,
    pub pidfd: OwnedFd,
    pub console: Option<OwnedFd>,
}

/// Starts `process` in the running container whose init process is behind the pidfd `init`: in its
/// namespaces and cgroup, under its seccomp profile, with the user, capabilities, working directory,
/// environment and terminal of `process` (the engine builds it from the container's config and the flags of
/// `exec`). `spec` is the container's spec, for its seccomp profile and `linux.cgroupsPath`.
///
/// Returns once the process has exec'd. An error means there is no process left (a child that failed is
/// reaped here); [`RuntimeError::exit_code`] gives Docker's 125, 126 or 127. The caller must be
/// single-threaded (the child is forked with clone3).
pub fn exec(
    spec: &Spec,
    init: BorrowedFd<'_>,
    process: &Process,
    opts: &ExecOptions,
) -> Result<Exec, RuntimeError> {
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(RuntimeError::InvalidSpec(
            "no command (process.args)".into(),
        ));
    }
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| RuntimeError::InvalidSpec("no linux section".into()))?;
    let init_pid = pidfd_pid(init)?;
    let (join_pid, flags) = namespaces_to_join(init_pid)?;
    // The PID read from the pidfd named the right process only if that process has not been reaped since.
    if pidfd_pid(init)? != init_pid {
        return Err(RuntimeError::NotRunning {
            pid: init_pid,
            source: Errno::ESRCH,
        });
    }
    let seccomp = linux.seccomp().as_ref().map(seccomp::compile).transpose()?;
    let cgroup = linux
        .cgroups_path()
        .as_ref()
        .map(|p| Cgroup::open(&opts.cgroup_root, p))
        .transpose()?;
    // On cgroup v2 the child is born in the container's cgroup (see `minotaur_sys::clone3_into`): moving
    // it there through `cgroup.procs` would wait for an RCU grace period, which costs more than the forked
    // child's copied page tables that a child sharing this process's memory saves.
    let born_in = cgroup.as_ref().and_then(Cgroup::v2_directory);
    let cgroup = cgroup.map(|cg| cg.self_join());
    let init_root = open(
        format!("/proc/{init_pid}/root").as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| RuntimeError::NotRunning {
        pid: init_pid,
        source,
    })?;
    let mut plan = Plan {
        init,
        init_root,
        flags,
        cgroup,
        seccomp,
        stdio: opts.stdio,
        process_plan: init::ProcessPlan::new(process),
        born_in_cgroup: false,
    };
    let terminal = process.terminal() == Some(true);
    // The child shares this process's memory unless it must wait for the terminal's go (which it would
    // wait for with this process stopped) or join a time namespace (which the kernel refuses to a process
    // sharing its memory).
    let shared = !terminal && !flags.contains(NsKind::Time.clone_flag()) && born_in.is_none();
    // The child runs in this process's memory, so whoever could write the child's memory could write
    // ours, and from the moment the child takes the container's credentials (before its execve) a
    // container process with the same user and capabilities passes ptrace(2)'s access check on it
    // (`/proc/PID/mem`). Not once the memory is not dumpable: then it takes CAP_SYS_PTRACE in this
    // process's user namespace, which would let a container process take over a forked child before
    // its capabilities are dropped just as well. execve makes the command's new memory dumpable again.
    if shared {
        nix::sys::prctl::set_dumpable(false).map_err(|source| RuntimeError::Sys {
            what: "make this process's memory undumpable",
            source,
        })?;
    }

    let (mut status_rx, status_tx) = pipe()?;
    let (mut go_rx, go_tx) = if terminal {
        let (rx, tx) = pipe()?;
        (Some(rx), Some(tx))
    } else {
        (None, None)
    };
    let own_pid_ns = if join_pid {
        Some(enter_pid_namespace(init)?)
    } else {
        None
    };
    let clone = if shared {
        // Runs in this process's memory (see `minotaur_sys::clone_vfork`): everything it uses was prepared
        // above, and it frees nothing of ours. Its status pipe is a duplicate in its own descriptor table,
        // close-on-exec like the original.
        let mut run = || match status_tx.try_clone() {
            Ok(status) => init::child_main(status, |status| child(&plan, status, None)),
            Err(_) => 125,
        };
        minotaur_sys::clone_vfork(&mut run).map_err(|source| RuntimeError::Sys {
            what: "clone",
            source,
        })
    } else {
        // A kernel older than 5.7 refuses CLONE_INTO_CGROUP: the child is then forked as before and moves
        // itself.
        plan.born_in_cgroup = born_in.is_some();
        let cloned = match &born_in {
            Some(dir) => match minotaur_sys::clone3_into(0, dir.as_fd()) {
                Err(Errno::EINVAL | Errno::E2BIG) => {
                    plan.born_in_cgroup = false;
                    minotaur_sys::clone3(0)
                }
                r => r,
            },
            None => minotaur_sys::clone3(0),
        };
        match cloned {
            Ok(Clone3Result::Child) => {
                drop(status_rx);
                drop(go_tx);
                let go = go_rx.take();
                init::child_main(status_tx, |status| child(&plan, status, go))
            }
            Ok(Clone3Result::Parent { child, pidfd }) => Ok((child, pidfd)),
            Err(source) => Err(RuntimeError::Sys {
                what: "clone3",
                source,
            }),
        }
    };
    let restored = own_pid_ns.map_or(Ok(()), |own| {
        setns(&own, CloneFlags::CLONE_NEWPID).map_err(|source| RuntimeError::Sys {
            what: "setns back to the caller's PID namespace",
            source,
        })
    });
    let (pid, pidfd) = match clone {
        Ok(child) => child,
        // Being left in the container's PID namespace for children is the worse of the two.
        Err(e) => return Err(restored.err().unwrap_or(e)),
    };
    drop(status_tx);
    drop(go_rx);
    let reap = |e: RuntimeError| {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(pid, None);
        e
    };
    restored.map_err(reap)?;
    let console = match go_tx {
        Some(mut go) => {
            let console = await_ready(&mut status_rx, pid, &pidfd)?;
            go.write_all(&[GO])
                .map_err(|e| reap(RuntimeError::Sync(e)))?;
            console
        }
        None => None,
    };
    // After a failure the child exits on its own; only reap it.
    await_exec(status_rx).inspect_err(|_| {
        let _ = waitpid(pid, None);
    })?;
    Ok(Exec {
        pid,
        pidfd,
        console,
    })
}

/// What the child needs, all of it prepared by the parent.
struct Plan<'a> {
    init: BorrowedFd<'a>,
    /// The init's root directory (`/proc/PID/root`), opened in the caller's PID namespace.
    init_root: OwnedFd,
    /// The namespaces the child joins (all that differ from the caller's, but PID).
    flags: CloneFlags,
    cgroup: Option<SelfJoin>,
    seccomp: Option<seccomp::Program>,
    stdio: Option<[BorrowedFd<'a>; 3]>,
    process_plan: init::ProcessPlan<'a>,
    /// The child was cloned into its cgroup: it does not join it.
    born_in_cgroup: bool,
}

fn child(plan: &Plan<'_>, status: &mut File, go: Option<File>) -> Step<Infallible> {
    if let Some(cg) = plan.cgroup.as_ref().filter(|_| !plan.born_in_cgroup) {
        cg.join().map_err(init::cgroup_failure)?;
    }
    if !plan.flags.is_empty() {
        setns(plan.init, plan.flags).at(|| "join the container's namespaces".into())?;
    }
    enter_init_root(&plan.init_root)?;
    plan.process_plan.context()?;
    let console = match go {
        Some(mut go) => {
            // The pty comes from the container's devpts (its /dev/ptmx, now that its mounts are ours).
            let (master, slave) = init::open_console(false)?;
            init::report_ready(status, Some(&master))?;
            init::wait_go(&mut go)?;
            Some(slave)
        }
        None => None,
    };
    init::attach_stdio(console, plan.stdio)?;
    init::become_process(&plan.process_plan, plan.seccomp.as_ref(), false, 0)
}

/// Joins the PID namespace of `init` for the caller's next children; returns the caller's own namespace
/// for children, to go back to.
fn enter_pid_namespace(init: BorrowedFd<'_>) -> Result<OwnedFd, RuntimeError> {
    let path = "/proc/self/ns/pid_for_children";
    let own = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|source| {
        RuntimeError::OpenNamespace {
            path: path.into(),
            source,
        }
    })?;
    setns(init, CloneFlags::CLONE_NEWPID).map_err(|source| RuntimeError::Sys {
        what: "setns into the container's PID namespace",
        source,
    })?;
    Ok(own)
}

/// Makes the init's root this process's root when joining its mount namespace did not (it is the caller's,
/// or the init chrooted into a root below the namespace's): the same mount and directory, or chroot(2)
/// into it.
fn enter_init_root(init_root: &OwnedFd) -> Step<()> {
    use rustix::fs::{statx, AtFlags, StatxFlags, CWD};
    let what = |e: rustix::io::Errno| {
        fail(
            "stat the container's root",
            Errno::from_raw(e.raw_os_error()),
        )
    };
    let mask = StatxFlags::INO | StatxFlags::MNT_ID;
    let theirs = statx(init_root, "", AtFlags::EMPTY_PATH, mask).map_err(what)?;
    let ours = statx(CWD, "/", AtFlags::empty(), mask).map_err(what)?;
    let same = |s: &rustix::fs::Statx| (s.stx_mnt_id, s.stx_ino, s.stx_dev_major, s.stx_dev_minor);
    if same(&theirs) == same(&ours) {
        return Ok(());
    }
    nix::unistd::fchdir(init_root).at(|| "enter the container's root".into())?;
    nix::unistd::chroot(".").at(|| "chroot into the container's root".into())?;
    nix::unistd::chdir("/").at(|| "chdir /".into())
}

/// The namespaces of `init` the child joins, and whether the caller must join its PID namespace for the
/// child. Only three kinds are compared with the caller's: the user namespace, which setns(2) refuses to
/// join again (EINVAL), and the PID and time namespaces, which apply to children (so they are compared
/// with the caller's `pid_for_children` and `time_for_children`; time only where the kernel has it). The
/// cgroup, IPC, UTS, network and mount namespaces are joined whether or not they differ: joining one's own
/// again changes nothing (for the mount namespace, the root becomes its root, and [`enter_init_root`]
/// then finds the init's, as it does when the container shares the caller's), and it costs a few µs in
/// the one `setns`, where finding out took two path walks through `/proc` per kind.
fn namespaces_to_join(init: Pid) -> Result<(bool, CloneFlags), RuntimeError> {
    let mut join_pid = false;
    let mut flags = [
        NsKind::Cgroup,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Net,
        NsKind::Mnt,
    ]
    .into_iter()
    .fold(CloneFlags::empty(), |f, k| f | k.clone_flag());
    for kind in [NsKind::User, NsKind::Pid, NsKind::Time] {
        let ours = match kind {
            NsKind::Pid => "/proc/self/ns/pid_for_children".to_owned(),
            NsKind::Time => "/proc/self/ns/time_for_children".to_owned(),
            k => format!("/proc/self/ns/{}", k.name()),
        };
        // A kind this kernel does not have.
        let Ok(ours) = NsId::of_path(&ours) else {
            continue;
        };
        let theirs =
            NsId::of_path(kind.proc_path(init.as_raw())).map_err(|e| RuntimeError::NotRunning {
                pid: init,
                source: e
                    .raw_os_error()
                    .map(Errno::from_raw)
                    .unwrap_or(Errno::ESRCH),
            })?;
        if ours != theirs {
            match kind {
                NsKind::Pid => join_pid = true,
                k => flags |= k.clone_flag(),
            }
        }
    }
    Ok((join_pid, flags))
}

/// The PID of the process behind a pidfd, in the caller's PID namespace (the `Pid:` line of its fdinfo,
/// -1 once the process has been reaped).
fn pidfd_pid(pidfd: BorrowedFd<'_>) -> Result<Pid, RuntimeError> {
    let path = format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd());
    let info = std::fs::read_to_string(&path).map_err(|e| RuntimeError::Sys {
        what: "read the fdinfo of the container's pidfd",
        source: e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO),
    })?;
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse::<i32>().ok())
        .ok_or(RuntimeError::Sys {
            what: "the container's init is not a pidfd",
            source: Errno::EBADF,
        })?;
    if pid <= 0 {
        return Err(RuntimeError::NotRunning {
            pid: Pid::from_raw(pid),
            source: Errno::ESRCH,
        });
    }
    Ok(Pid::from_raw(pid))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    fn spec_and_process() -> (Spec, Process) {
        let spec = crate::defaults::default_spec(&["true".to_string()]);
        let process = spec.process().clone().unwrap();
        (spec, process)
    }

    #[test]
    fn a_container_init_that_has_been_reaped_is_not_running() {
        let (spec, process) = spec_and_process();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pidfd = minotaur_sys::pidfd_open(Pid::from_raw(child.id() as i32)).unwrap();
        child.wait().unwrap();
        let err = exec(&spec, pidfd.as_fd(), &process, &ExecOptions::default()).unwrap_err();
        assert!(matches!(err, RuntimeError::NotRunning { .. }), "{err:?}");
        assert_eq!(err.exit_code(), 125);
    }

    #[test]
    fn a_descriptor_that_is_not_a_pidfd_is_refused() {
        let (spec, process) = spec_and_process();
        let file = File::open("/dev/null").unwrap();
        let err = exec(&spec, file.as_fd(), &process, &ExecOptions::default()).unwrap_err();
        assert!(matches!(err, RuntimeError::Sys { .. }), "{err:?}");
    }

    #[test]
    fn an_empty_command_is_an_invalid_process() {
        let (spec, mut process) = spec_and_process();
        process.set_args(Some(vec![]));
        let file = File::open("/dev/null").unwrap();
        let err = exec(&spec, file.as_fd(), &process, &ExecOptions::default()).unwrap_err();
        assert!(matches!(err, RuntimeError::InvalidSpec(_)), "{err:?}");
    }
}
