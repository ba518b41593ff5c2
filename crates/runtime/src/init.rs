//! The container's init process, from clone3 to execve.
//!
//! Everything here runs in the forked child. It never returns into the caller's code: it execs the command
//! or reports a [`Failure`] over the status pipe and exits (125 for setup errors, 126/127 for exec errors).
//! The order follows runc's: namespaces, mount propagation, root, mounts, `/dev`, `pivot_root`, masked and
//! read-only paths, hostname, sysctls, rlimits, cwd; then, once started: default signal handling, seccomp
//! (before the capability drop when `noNewPrivileges` is off, because installing a filter then needs
//! `CAP_SYS_ADMIN`), no_new_privs, the bounding set, the user, the remaining capability sets, close-on-exec
//! for every inherited descriptor, exec. The steps from the process's limits onwards ([`process_context`],
//! [`attach_stdio`], [`become_process`]) are shared with processes exec'd into a running container.

use std::convert::Infallible;
use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use caps::CapSet;
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{chdir, execve, pivot_root, sethostname, Gid, Uid};
use oci_spec::runtime::{Capabilities, Mount, Process};
use std::os::fd::AsFd;

use crate::cgroup::CgroupError;
use crate::mounts::{parse_options, MountOptions};
use crate::rootfs::MountPoints;
use crate::seccomp::Program;
use crate::{exec_exit_code, Failure, Plan, FAILED, MOUNTED, READY, SHARED_ROOT};

/// The devices every container gets in its `/dev` (the OCI runtime spec's default devices).
const DEFAULT_DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];
/// The symlinks of a minimal `/dev`.
const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
    ("/proc/kcore", "core"),
];

pub(crate) type Step<T> = Result<T, Failure>;

pub(crate) fn fail(step: impl Into<String>, errno: Errno) -> Failure {
    Failure {
        step: step.into(),
        errno: errno as i32,
        exec: false,
    }
}

pub(crate) trait At<T> {
    fn at(self, step: impl FnOnce() -> String) -> Step<T>;
}

impl<T> At<T> for Result<T, Errno> {
    fn at(self, step: impl FnOnce() -> String) -> Step<T> {
        self.map_err(|e| fail(step(), e))
    }
}

impl<T> At<T> for std::io::Result<T> {
    fn at(self, step: impl FnOnce() -> String) -> Step<T> {
        self.map_err(|e| {
            let errno = e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO);
            fail(step(), errno)
        })
    }
}

/// The child's entry point.
pub(crate) fn run(plan: Plan<'_>, status: File, mut go: File) -> ! {
    child_main(status, |status| {
        let failure = body(&plan, status, &mut go);
        undo_shared_root(&plan);
        failure
    })
}

/// What a create that fails in a mount namespace the container shares must undo before its caller has
/// recorded it (see [`Plan::shared_root`]).
#[derive(Debug, Default)]
pub(crate) struct SharedRootUndo {
    /// The ID of the root's bind at the plan's target, from when it is made until READY.
    pub mount_id: std::cell::Cell<Option<u64>>,
    /// The root from before chroot(2), to go back to it and reach the target again.
    pub old_root: std::cell::OnceCell<OwnedFd>,
}

/// A create that fails between the bind of the root and READY takes the bind, and all mounted on and
/// below it, out of the namespace it shares: nobody else knows it is there. umount2(2) takes the topmost
/// mount at the path, so mounts stacked on the bind (a read-only root's mount point shims) go first.
fn undo_shared_root(plan: &Plan<'_>) {
    let Some(ours) = plan.shared_root.mount_id.get() else {
        return;
    };
    if let Some(old) = plan.shared_root.old_root.get() {
        if nix::unistd::fchdir(old).is_err() || nix::unistd::chroot(".").is_err() {
            return;
        }
    }
    for _ in 0..64 {
        let top = rustix::fs::statx(
            rustix::fs::CWD,
            &plan.target,
            rustix::fs::AtFlags::empty(),
            rustix::fs::StatxFlags::MNT_ID,
        );
        let Ok(top) = top else { return };
        if umount2(&plan.target, MntFlags::MNT_DETACH).is_err() || top.stx_mnt_id == ours {
            return;
        }
    }
}

/// Tells the parent the ID of the root's bind at `target` (statx(2) `STATX_MNT_ID`) and its path: it is the
/// container's, for `delete` to take out of the namespace it shares, even once something (the mount point
/// shims of a read-only root) is mounted over it.
fn report_shared_root(plan: &Plan<'_>, status: &mut File, target: &Path) -> Step<()> {
    use rustix::fs::{AtFlags, StatxFlags, CWD};
    let st = rustix::fs::statx(CWD, target, AtFlags::empty(), StatxFlags::MNT_ID).map_err(|e| {
        fail(
            format!("statx {}", target.display()),
            Errno::from_raw(e.raw_os_error()),
        )
    })?;
    plan.shared_root.mount_id.set(Some(st.stx_mnt_id));
    // Where it is, as the mount table shows it (links resolved): with the ID, that tells it from a later
    // mount that gets the same ID once this one is gone.
    let at = fs::canonicalize(target).at(|| format!("resolve {}", target.display()))?;
    let at = at.as_os_str().as_bytes();
    let mut msg = vec![SHARED_ROOT];
    msg.extend(st.stx_mnt_id.to_le_bytes());
    msg.extend((at.len() as u32).to_le_bytes());
    msg.extend(at);
    status
        .write_all(&msg)
        .at(|| "report the root's mount".into())
}

/// Runs `body` in a forked child and never returns: `body` execs, or its [`Failure`] goes to the parent over
/// the status pipe and the child exits (125 for setup errors, 126/127 for exec errors, as Docker does).
pub(crate) fn child_main(mut status: File, body: impl FnOnce(&mut File) -> Step<Infallible>) -> ! {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut status)));
    let failure = match result {
        Ok(Ok(never)) => match never {},
        Ok(Err(f)) => f,
        Err(_) => fail("panic in container process", Errno::EIO),
    };
    let code = if failure.exec {
        exec_exit_code(Errno::from_raw(failure.errno))
    } else {
        125
    };
    let mut msg = vec![FAILED];
    msg.extend(serde_json::to_vec(&failure).unwrap_or_default());
    // Blocked, a SIGPIPE from a pipe nobody reads stays pending and the write fails with EPIPE instead of
    // killing us before we can say what failed.
    let mut pipe = nix::sys::signal::SigSet::empty();
    pipe.add(nix::sys::signal::Signal::SIGPIPE);
    let _ = pipe.thread_block();
    if status.write_all(&msg).is_err() {
        // Nobody listens any more: a detached `create` has exited, and the failure came after `start`.
        // Its stderr is the container's, which is where runc's init reports such an error too.
        let _ = writeln!(std::io::stderr(), "{}", failure_line(&failure));
    }
    minotaur_sys::exit_now(code)
}

/// How a failure reads on the container's stderr when the status pipe has no reader.
fn failure_line(failure: &Failure) -> String {
    let what = if failure.exec {
        "exec"
    } else {
        "container init"
    };
    let errno = Errno::from_raw(failure.errno);
    format!("{what}: {}: {}", failure.step, errno.desc())
}

/// Runs the spec's `startContainer` hooks: in the container's namespaces, with paths resolved in its root,
/// after `start` and before the process is exec'd. Their state has the PID as the container sees it and
/// status `created`, as runc gives them. A failing hook fails the start.
fn start_container_hooks(plan: &Plan<'_>) -> Step<()> {
    let (Some(base), Some(hooks)) = (plan.hook_state, plan.spec.hooks().as_ref()) else {
        return Ok(());
    };
    let list = hooks.start_container().as_deref().unwrap_or_default();
    if list.is_empty() {
        return Ok(());
    }
    let mut state = base.clone();
    state.pid = nix::unistd::getpid().as_raw();
    state.status = crate::state::Status::Created;
    crate::hooks::run("startContainer", list, &state).map_err(|e| Failure {
        step: e.to_string(),
        errno: Errno::EIO as i32,
        exec: false,
    })
}

/// Runs the spec's `createContainer` hooks: in the container's namespaces, after its mounts are made and
/// before its root is entered, so their paths resolve in the runtime's filesystem (the runtime spec's
/// rule). Their state is the one `startContainer` hooks get: the PID as the container sees it, status
/// `created`. A failing hook fails the create.
fn create_container_hooks(plan: &Plan<'_>) -> Step<()> {
    let (Some(base), Some(hooks)) = (plan.hook_state, plan.spec.hooks().as_ref()) else {
        return Ok(());
    };
    let list = hooks.create_container().as_deref().unwrap_or_default();
    if list.is_empty() {
        return Ok(());
    }
    let mut state = base.clone();
    state.pid = nix::unistd::getpid().as_raw();
    state.status = crate::state::Status::Created;
    crate::hooks::run("createContainer", list, &state).map_err(|e| Failure {
        step: e.to_string(),
        errno: Errno::EIO as i32,
        exec: false,
    })
}

/// Makes the mount that holds `path` private (not recursively), when it is shared.
fn parent_mount_private(path: &Path) -> Step<()> {
    let mounts = minotaur_ns::mountinfo::read("/proc/self/mountinfo")
        .at(|| "read /proc/self/mountinfo".into())?;
    let holder = mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len());
    match holder {
        Some(m) if m.is_shared() => mount_at(None, &m.mount_point, None, MsFlags::MS_PRIVATE, None),
        _ => Ok(()),
    }
}

/// Tells the parent that setup is done, with the number of the terminal's master (-1 for none) for it to
/// take with pidfd_getfd(2).
pub(crate) fn report_ready(status: &mut File, master: Option<&nix::pty::PtyMaster>) -> Step<()> {
    let master_fd: i32 = master.map_or(-1, |m| m.as_raw_fd());
    let mut ready = vec![READY];
    ready.extend(master_fd.to_le_bytes());
    status.write_all(&ready).at(|| "report ready".into())
}

pub(crate) fn wait_go(go: &mut impl Read) -> Step<()> {
    let mut b = [0u8; 1];
    match go.read(&mut b) {
        Ok(1) => Ok(()),
        // The parent went away: nobody wants this container any more.
        _ => minotaur_sys::exit_now(125),
    }
}

fn body(plan: &Plan<'_>, status: &mut File, go: &mut File) -> Step<Infallible> {
    let spec = plan.spec;
    let linux = spec.linux().as_ref().expect("checked by create");
    let process = spec.process().as_ref().expect("checked by create");

    // In the container's cgroup first, so a new cgroup namespace is rooted there: the init moves itself,
    // or (in a new user namespace) the parent moves it before the go.
    if let Some(cg) = plan.cgroup {
        cg.add_self().map_err(cgroup_failure)?;
    }
    wait_go(go)?;
    for (flag, fd) in &plan.join {
        setns(fd, *flag).at(|| format!("join namespace {flag:?}"))?;
    }
    // In a new user namespace the parent has written the ID maps by now: become its root (the ID mapped to
    // 0), as runc does, so that what the init creates in the root is owned by an ID the namespace knows
    // (the caller's IDs are not mapped: EOVERFLOW). Going from an ID that is not the namespace's root to
    // its root keeps every capability (capabilities(7), "Effect of user ID changes on capabilities").
    if plan.new_user {
        let root_gid = Gid::from_raw(0);
        let root_uid = Uid::from_raw(0);
        nix::unistd::setresgid(root_gid, root_gid, root_gid)
            .at(|| "become gid 0 of the user namespace (is 0 in linux.gidMappings?)".into())?;
        nix::unistd::setresuid(root_uid, root_uid, root_uid)
            .at(|| "become uid 0 of the user namespace (is 0 in linux.uidMappings?)".into())?;
    }
    if plan.new_cgroup_ns {
        unshare(CloneFlags::CLONE_NEWCGROUP).at(|| "new cgroup namespace".into())?;
    }
    if let Some(template) = &plan.mount_template {
        setns(template, CloneFlags::CLONE_NEWNS).at(|| "join the mount template".into())?;
        unshare(CloneFlags::CLONE_NEWNS).at(|| "new mount namespace".into())?;
    }

    // Nothing mounted from here on may propagate back to the host, and nothing from the host comes in,
    // unless the spec's `rootfsPropagation` says otherwise. That one is applied again to the container's
    // own root once it is `/` (below, after pivot_root), which is what the spec means by it.
    let root_propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => None,
        Some(p) => Some(
            crate::mounts::propagation(p)
                .ok_or_else(|| fail(format!("rootfs propagation {p}"), Errno::EINVAL))?,
        ),
    };
    let propagation = match root_propagation {
        // An unbindable tree cannot be the source of the root's bind; the new root gets it after pivot.
        None => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        Some(p) if p.contains(MsFlags::MS_UNBINDABLE) => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        Some(p) => p,
    };
    // In a namespace that is not the container's own, its other users' mounts are left as they are: the
    // root and the spec's mounts are made there as its users would make them, and propagate as theirs do.
    if plan.own_mount_ns {
        mount_at(None, Path::new("/"), None, propagation, None)?;
    }
    if plan.own_mount_ns && root_propagation.is_some_and(|p| p.contains(MsFlags::MS_SHARED)) {
        // pivot_root(2) refuses a shared parent mount of the new root (EINVAL); as runc does, the mount
        // holding the root is made private in this namespace only.
        parent_mount_private(&plan.root)?;
    }
    for p in plan.hide.iter().filter(|_| plan.own_mount_ns) {
        // EINVAL: not a mount point (or not there at all: ENOENT); nothing to leave out then.
        match mount(
            None::<&str>,
            p,
            None::<&str>,
            MsFlags::MS_UNBINDABLE,
            None::<&str>,
        ) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(fail(format!("make {} unbindable", p.display()), e)),
        }
    }

    // The root, over the bundle directory (or onto itself, `root_in_place`), then pivot_root into it: an
    // overlay mounted here, in the private namespace (see the rootfs module), or a recursive bind of the
    // spec's root.
    let target = &plan.target;
    let read_only = spec.root().as_ref().and_then(|r| r.readonly()) == Some(true);
    match (&plan.idmapped_root, &plan.overlay) {
        (Some(mount), Some(_)) => crate::rootfs::move_mount_to(mount, target)?,
        (None, Some(overlay)) => crate::rootfs::mount_overlay(overlay, target)?,
        (mount, None) => {
            match mount {
                Some(mount) => {
                    crate::rootfs::move_mount_to(mount, target)?;
                    // A clone keeps its source's peer groups: the host's shared mounts would receive
                    // what the container mounts, and pivot_root(2) refuses a shared root's parent.
                    mount_at(
                        None,
                        target,
                        None,
                        MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                        None,
                    )?
                }
                None => {
                    mount_at(
                        Some(&plan.root),
                        target,
                        None,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None,
                    )?;
                    if !plan.own_mount_ns {
                        report_shared_root(plan, status, target)?;
                    }
                }
            }
            // Read-only before anything is mounted on it: the bind's own submounts (the host's) with it,
            // and no mount point is ever created in a directory the runtime was only lent.
            if read_only {
                let c = cstring(target.as_os_str().as_bytes())?;
                minotaur_sys::mount_setattr_rdonly_recursive(&c)
                    .at(|| format!("make root {} read-only", plan.root.display()))?;
            }
        }
    }
    let mut points = MountPoints::default();
    let mut dev_is_ours = false;
    for m in spec.mounts().iter().flatten() {
        do_mount(plan, target, m, &mut points)?;
        if m.destination() == Path::new("/dev") {
            dev_is_ours = true;
        }
    }
    // The overlay's upper layer is the container's own, so its mount points were made in it (as Docker's
    // init layer has them); only now does the overlay mount itself, and nothing mounted on it, become
    // read-only.
    if read_only && plan.overlay.is_some() {
        mount_at(
            None,
            target,
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None,
        )?;
    }
    if dev_is_ours {
        populate_dev(
            target,
            linux.devices().as_deref().unwrap_or_default(),
            plan.new_user,
        )?;
    }
    // The caller's prestart and createRuntime hooks, then the createContainer hooks here: after the
    // mounts, before the root is entered (the runtime spec's order).
    if plan.pause_before_pivot {
        status
            .write_all(&[MOUNTED])
            .at(|| "report mounts made".into())?;
        wait_go(go)?;
    }
    create_container_hooks(plan)?;
    chdir(target).at(|| format!("chdir {}", target.display()))?;
    if plan.own_mount_ns {
        pivot_root(".", ".").at(|| format!("pivot_root into {}", plan.root.display()))?;
        // The old root, now stacked under ".", may still share peer groups with the caller's mounts (a
        // shared `rootfsPropagation` leaves them so): detaching it would unmount the caller's peers too. As
        // a slave it gets nothing back to propagate, as runc does it. Made private above (the default), it
        // has no peers.
        if propagation != MsFlags::MS_PRIVATE | MsFlags::MS_REC {
            mount_at(
                None,
                Path::new("."),
                None,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                None,
            )?;
        }
        umount2(".", MntFlags::MNT_DETACH).at(|| "detach the old root".into())?;
    } else {
        // pivot_root(2) would change the root of every process of the namespace whose root is its root
        // (and the old root could not be detached without taking it from them): only this process's root
        // changes. runc pivots in a joined namespace, and uses chroot(2) only in the caller's.
        let old = nix::fcntl::open(
            "/",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .at(|| "open /".into())?;
        let _ = plan.shared_root.old_root.set(old);
        nix::unistd::chroot(".").at(|| format!("chroot into {}", plan.root.display()))?;
    }
    chdir("/").at(|| "chdir /".into())?;
    if let Some(p) = root_propagation {
        mount_at(None, Path::new("/"), None, p, None)?;
    }

    if let Some(sysctl) = linux.sysctl() {
        for (key, value) in sysctl {
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            fs::write(&path, value).at(|| format!("sysctl {key}"))?;
        }
    }
    for p in linux.masked_paths().iter().flatten() {
        mask(Path::new(p))?;
    }
    for p in linux.readonly_paths().iter().flatten() {
        readonly(Path::new(p))?;
    }
    if let Some(name) = spec.hostname() {
        if plan.own_uts {
            sethostname(name).at(|| format!("sethostname {name}"))?;
        }
    }
    process_context(process)?;

    // With a terminal, the pty comes from the container's own devpts instance; the parent takes the master
    // with pidfd_getfd(2), the container gets the slave as /dev/console and stdio.
    let console = if process.terminal() == Some(true) {
        Some(open_console(dev_is_ours)?)
    } else {
        None
    };

    // Every namespace exists and the filesystem is in place: the engine may now set up the network.
    report_ready(status, console.as_ref().map(|(m, _)| m))?;
    // The caller knows of a shared root from here on (it records it for `delete`).
    plan.shared_root.mount_id.set(None);
    match &plan.start_gate {
        Some(gate) => wait_go(&mut &*gate)?,
        None => wait_go(go)?,
    }
    start_container_hooks(plan)?;
    attach_stdio(
        console.map(|(master, slave)| {
            drop(master);
            slave
        }),
        plan.stdio,
    )?;
    become_process(process, plan.seccomp.as_ref(), plan.init, plan.preserve_fds)
}

/// The limits, working directory and OOM score of `process`: the steps that need the container's
/// filesystem in place and run with full privileges.
pub(crate) fn process_context(process: &Process) -> Step<()> {
    for rl in process.rlimits().iter().flatten() {
        let resource = rlimit_resource(rl.typ())
            .ok_or_else(|| fail(format!("rlimit {:?}", rl.typ()), Errno::EINVAL))?;
        nix::sys::resource::setrlimit(resource, rl.soft(), rl.hard())
            .at(|| format!("setrlimit {:?}", rl.typ()))?;
    }
    chdir(process.cwd()).at(|| format!("chdir {}", process.cwd().display()))?;
    // A working directory reached through a descriptor of the runtime's (`-w /proc/self/fd/N`) may lie
    // outside the container's root (CVE-2024-21626). The kernel's getcwd(2) then answers with a path that
    // does not start with `/` ("(unreachable)/..."), which the C library turns into ENOENT.
    match nix::unistd::getcwd() {
        Ok(dir) if dir.is_absolute() => {}
        Ok(_) | Err(Errno::ENOENT) => {
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
    if let Some(adj) = process.oom_score_adj() {
        fs::write("/proc/self/oom_score_adj", adj.to_string()).at(|| "set oom_score_adj".into())?;
    }
    Ok(())
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
/// processes exec'd into it.
pub(crate) fn become_process(
    process: &Process,
    seccomp: Option<&Program>,
    init: bool,
    preserve_fds: u32,
) -> Step<Infallible> {
    default_signals()?;
    // No descriptor of the caller leaks into the container, beyond the `preserve_fds` after stdio the caller
    // asked to pass on (the OCI command line's --preserve-fds); the status pipe closes exactly at exec. This
    // comes before any seccomp filter, which may refuse close_range(2) (the runtime-spec tools' default
    // profile does), and nothing below opens a descriptor that should be kept.
    minotaur_sys::cloexec_from(3 + preserve_fds).at(|| "mark descriptors close-on-exec".into())?;
    let nnp = process.no_new_privileges() == Some(true);
    if !nnp {
        install_seccomp(seccomp)?;
    }
    if nnp {
        nix::sys::prctl::set_no_new_privs().at(|| "set no_new_privs".into())?;
    }
    let caps = process.capabilities().as_ref();
    if let Some(bounding) = caps.and_then(|c| c.bounding().as_ref()) {
        let keep = to_caps(bounding);
        for cap in caps::all() {
            if !keep.contains(&cap) {
                match caps::drop(None, CapSet::Bounding, cap) {
                    Ok(()) => {}
                    // A capability this kernel does not know is not in the bounding set anyway.
                    Err(_) if Errno::last() == Errno::EINVAL => {}
                    Err(_) => {
                        return Err(fail(format!("drop {cap} from bounding set"), Errno::last()))
                    }
                }
            }
        }
    }
    let user = process.user();
    let uid = Uid::from_raw(user.uid());
    let gid = Gid::from_raw(user.gid());
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    nix::unistd::setgroups(&groups).at(|| "setgroups".into())?;
    nix::unistd::setresgid(gid, gid, gid).at(|| format!("setgid {gid}"))?;
    nix::sys::prctl::set_keepcaps(true).at(|| "keep capabilities".into())?;
    nix::unistd::setresuid(uid, uid, uid).at(|| format!("setuid {uid}"))?;
    if let Some(c) = caps {
        // Effective before permitted: the kernel wants the new effective set inside the new permitted set.
        set_caps(CapSet::Effective, c.effective().as_ref())?;
        set_caps(CapSet::Permitted, c.permitted().as_ref())?;
        set_caps(CapSet::Inheritable, c.inheritable().as_ref())?;
        caps::clear(None, CapSet::Ambient).map_err(|_| fail("clear ambient set", Errno::last()))?;
        for cap in c.ambient().as_ref().map(to_caps).unwrap_or_default() {
            match caps::raise(None, CapSet::Ambient, cap) {
                Ok(()) => {}
                // The kernel raises an ambient capability only if it is both permitted and inheritable
                // (capabilities(7)); a spec listing one that is not (runc's own `spec` does, with no
                // inheritable set) runs without it, as runc and crun run it. EINVAL: a capability this
                // kernel does not know.
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
    Err(exec(
        process.args().as_deref().unwrap_or_default(),
        process.env().as_deref(),
    ))
}

/// A failure to join the container's cgroup, as the parent reports it.
pub(crate) fn cgroup_failure(e: CgroupError) -> Failure {
    match e {
        CgroupError::Write { path, source, .. } => fail(
            format!("join cgroup {}", path.display()),
            source
                .raw_os_error()
                .map(Errno::from_raw)
                .unwrap_or(Errno::EIO),
        ),
        other => fail(other.to_string(), Errno::EIO),
    }
}

/// The signal handling a program expects from a fresh process: nothing blocked and every signal at its
/// default action. execve(2) keeps the caller's mask and ignored signals (the Rust runtime ignores SIGPIPE,
/// glibc's posix_spawn leaves its internal signals ignored, and a supervisor or CLI may block others); the
/// kernel only resets handlers.
fn default_signals() -> Step<()> {
    use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .at(|| "unblock signals".into())?;
    minotaur_sys::reset_all_signals_to_default().at(|| "reset signal actions".into())
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

fn set_caps(set: CapSet, value: Option<&Capabilities>) -> Step<()> {
    let value = value.map(to_caps).unwrap_or_default();
    caps::set(None, set, &value)
        .map_err(|_| fail(format!("set {set:?} capabilities"), Errno::last()))
}

fn cstring(bytes: &[u8]) -> Step<CString> {
    CString::new(bytes).map_err(|_| fail("string with a NUL byte", Errno::EINVAL))
}

/// execve with a PATH search inside the container, as execvp does: "not found" only when no candidate
/// exists, "permission denied" when one exists but cannot be executed.
fn exec(args: &[String], env: Option<&[String]>) -> Failure {
    let exec_fail = |errno: Errno| Failure {
        step: args.first().cloned().unwrap_or_default(),
        errno: errno as i32,
        exec: true,
    };
    let (Ok(argv), Ok(envp)) = (
        args.iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>(),
        env.unwrap_or_default()
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>(),
    ) else {
        return exec_fail(Errno::EINVAL);
    };
    let prog = &args[0];
    if prog.contains('/') {
        let Err(e) = execve(&argv[0], &argv, &envp);
        return exec_fail(e);
    }
    let path = env
        .unwrap_or_default()
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(crate::defaults::DEFAULT_PATH);
    let mut seen = Errno::ENOENT;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let Ok(candidate) = CString::new(format!("{dir}/{prog}")) else {
            continue;
        };
        let Err(e) = execve(&candidate, &argv, &envp);
        match e {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => seen = Errno::EACCES,
            other => return exec_fail(other),
        }
    }
    exec_fail(seen)
}

fn mount_at(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Step<()> {
    mount(source, target, fstype, flags, data).at(|| {
        format!(
            "mount {} on {} ({})",
            source.map(|s| s.display().to_string()).unwrap_or_default(),
            target.display(),
            fstype.unwrap_or("bind/remount")
        )
    })
}

/// The path of a container path under the (not yet pivoted) root.
fn under(target: &Path, dest: &Path) -> PathBuf {
    target.join(dest.strip_prefix("/").unwrap_or(dest))
}

fn do_mount(plan: &Plan<'_>, target: &Path, m: &Mount, points: &mut MountPoints) -> Step<()> {
    let dest = crate::mounts::secure_join(target, m.destination())
        .at(|| format!("resolve mount point {}", m.destination().display()))?;
    let typ = m.typ().as_deref().unwrap_or("none");
    let opts: MountOptions = parse_options(m.options().as_deref().unwrap_or_default());
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(plan, &dest, &opts);
    }
    if opts.bind {
        let source = m
            .source()
            .as_ref()
            .map(|s| plan.bundle.join(s))
            .ok_or_else(|| {
                fail(
                    format!("bind mount on {} has no source", m.destination().display()),
                    Errno::EINVAL,
                )
            })?;
        let is_dir = fs::metadata(&source)
            .at(|| format!("bind source {}", source.display()))?
            .is_dir();
        if opts.copy_up && is_dir {
            // Read through a descriptor resolved in the root: what is copied into the volume comes from
            // the container's root even if a link on the way is swapped meanwhile.
            if let Ok(at) = open_in_root(target, m.destination()) {
                crate::rootfs::copy_up(&Path::new(&fd_path(&at)).join("."), &source)?;
            }
        }
        make_in_root(target, &dest, is_dir, points).map_err(|f| named(f, m))?;
        let rec = if opts.rec {
            MsFlags::MS_REC
        } else {
            MsFlags::empty()
        };
        let at = open_in_root(target, m.destination())?;
        mount_on(Some(&source), &at, m, None, MsFlags::MS_BIND | rec, None)?;
        points.mounted(&dest);
        // A bind takes its flags from its source's mount: `ro`, `nosuid`... need a remount (MS_BIND with
        // MS_REMOUNT changes the new mount alone). That covers only the top mount of an `rbind`; a read-only
        // one is made read-only through and through with mount_setattr(2), so nothing of the source below
        // it is writable either. The new mount is opened again, in the root, to be changed.
        if !opts.flags.is_empty() {
            let new = open_in_root(target, m.destination())?;
            let mut flags = opts.flags;
            if plan.new_user {
                flags |= locked_flags(&source)?;
            }
            mount_on(
                None,
                &new,
                m,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
                None,
            )?;
        }
        if opts.rec && opts.flags.contains(MsFlags::MS_RDONLY) {
            let new = open_in_root(target, m.destination())?;
            let c = cstring(fd_path(&new).as_bytes())?;
            minotaur_sys::mount_setattr_rdonly_recursive(&c)
                .at(|| format!("make {} read-only", m.destination().display()))?;
        }
    } else {
        make_in_root(target, &dest, true, points).map_err(|f| named(f, m))?;
        // A new filesystem hides whatever the root's copy had mounted there (the host's /run, /proc... when
        // the root is the host's own): detach that subtree rather than keep it underneath, invisible but
        // costing memory, and copied again by every later mount namespace made from this one. Not a mount
        // point: EINVAL, nothing to do.
        let _ = nix::mount::umount2(&dest, nix::mount::MntFlags::MNT_DETACH);
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
        let at = open_in_root(target, m.destination())?;
        match mount_on(Some(&source), &at, m, Some(typ), opts.flags, data) {
            // sysfs shows a network namespace's devices, and only its owner's root may mount it: a
            // container with a user namespace of its own in a network namespace it does not own gets the
            // caller's /sys bound read-only instead, as runc does.
            Err(f) if plan.new_user && typ == "sysfs" && f.errno == Errno::EPERM as i32 => {
                let sys = Path::new("/sys");
                mount_on(
                    Some(sys),
                    &at,
                    m,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )?;
                let new = open_in_root(target, m.destination())?;
                let c = cstring(fd_path(&new).as_bytes())?;
                minotaur_sys::mount_setattr_rdonly_recursive(&c)
                    .at(|| format!("make {} read-only", m.destination().display()))?;
            }
            other => other?,
        }
        points.mounted(&dest);
    }
    if !opts.propagation.is_empty() {
        let new = open_in_root(target, m.destination())?;
        for p in &opts.propagation {
            mount_on(None, &new, m, None, *p, None)?;
        }
    }
    Ok(())
}

/// Makes mount point `dest` (`root` joined with a path already resolved in it) exist, a directory or (`dir`
/// false) an empty file, with its missing parents. Each component is opened from the one before with
/// `O_NOFOLLOW` and made with mkdirat(2) there, so a link swapped into a shared directory meanwhile fails
/// the walk instead of making directories outside the root (CVE-2021-30465). A root nobody may write (the
/// host's, read-only) gets its mount points from `points`' shims.
/// The flags of the mount `source` is on that a remount in a user namespace must keep: the kernel locks
/// them on every mount copied into a less privileged mount namespace (mount_namespaces(7)), and a bind
/// remount that would clear one fails with EPERM.
fn locked_flags(source: &Path) -> Step<MsFlags> {
    use nix::sys::statvfs::FsFlags;
    let st = nix::sys::statvfs::statvfs(source).at(|| format!("statvfs {}", source.display()))?;
    let mut flags = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if st.flags().contains(fs) {
            flags |= ms;
        }
    }
    Ok(flags)
}

fn make_in_root(root: &Path, dest: &Path, dir: bool, points: &mut MountPoints) -> Step<()> {
    use rustix::fs::{Mode, OFlags};
    let errno = |e: rustix::io::Errno| Errno::from_raw(e.raw_os_error());
    let what = || format!("create mount point {}", dest.display());
    let Ok(rel) = dest.strip_prefix(root) else {
        return points.make(dest, dir);
    };
    let names: Vec<_> = rel.components().map(|c| c.as_os_str().to_owned()).collect();
    let mut cur = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(format!("open root {}", root.display()), errno(e)))?;
    let walk = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for (i, name) in names.iter().enumerate() {
        let last = i + 1 == names.len();
        if last && !dir {
            return match rustix::fs::openat(
                &cur,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_bits_truncate(0o644),
            ) {
                Ok(_) | Err(rustix::io::Errno::EXIST) => Ok(()),
                Err(rustix::io::Errno::ROFS) => points.make(dest, dir),
                Err(e) => Err(fail(what(), errno(e))),
            };
        }
        cur = match rustix::fs::openat(&cur, name, walk, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                match rustix::fs::mkdirat(&cur, name, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(rustix::io::Errno::ROFS) => return points.make(dest, dir),
                    Err(e) => return Err(fail(what(), errno(e))),
                }
                rustix::fs::openat(&cur, name, walk, Mode::empty())
                    .map_err(|e| fail(what(), errno(e)))?
            }
            Err(e) => return Err(fail(what(), errno(e))),
        };
    }
    Ok(())
}

/// Opens mount point `dest` (a path in the container) as an `O_PATH` descriptor, resolved by the kernel
/// inside `root` (openat2(2) `RESOLVE_IN_ROOT`: an absolute link starts again at `root`, `..` stops there,
/// and `/proc`'s magic links are refused). Mounting on the descriptor's `/proc/self/fd` path mounts on
/// exactly what was opened: a path checked first and mounted on later could be redirected in between by
/// a link swapped in a directory that a running container shares, a volume (CVE-2021-30465).
fn open_in_root(root: &Path, dest: &Path) -> Step<OwnedFd> {
    use nix::fcntl::OFlag;
    let dir = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| fail(format!("open root {}", root.display()), e))?;
    minotaur_sys::resolve::open_in_root(&dir, dest, OFlag::O_PATH)
        .map_err(|e| fail(format!("open mount point {}", dest.display()), e))
}

/// The path through which the kernel reaches exactly what `fd` refers to.
fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// mount(2) on the mount point opened as `at`, naming it by its path in the container.
fn mount_on(
    source: Option<&Path>,
    at: &OwnedFd,
    m: &Mount,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Step<()> {
    mount(source, fd_path(at).as_str(), fstype, flags, data).at(|| {
        format!(
            "mount {} on {} ({})",
            source.map(|s| s.display().to_string()).unwrap_or_default(),
            m.destination().display(),
            fstype.unwrap_or("bind/remount")
        )
    })
}

/// Names a mount point by its path in the container, which is what the user wrote.
fn named(mut f: Failure, m: &Mount) -> Failure {
    let what = format!("create mount point {}", m.destination().display());
    f.step = if f.step.starts_with("create mount point") {
        what
    } else {
        format!("{what}: {}", f.step)
    };
    f
}

fn make_mountpoint(dest: &Path, dir: bool) -> Step<()> {
    if dest.exists() {
        return Ok(());
    }
    if dir {
        fs::create_dir_all(dest).at(|| format!("create mount point {}", dest.display()))
    } else {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).at(|| format!("create {}", parent.display()))?;
        }
        File::create(dest)
            .map(drop)
            .at(|| format!("create mount point {}", dest.display()))
    }
}

/// A `cgroup` mount: the container's own cgroup (the root of its cgroup namespace). On a cgroup v2 host that
/// is one cgroup2 mount; on v1 a tmpfs with one mount per controller hierarchy, named as on the host.
fn mount_cgroup(plan: &Plan<'_>, dest: &Path, opts: &MountOptions) -> Step<()> {
    make_mountpoint(dest, true)?;
    let flags = opts.flags | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if plan.host_is_cgroup2 {
        return mount_at(
            Some(Path::new("cgroup2")),
            dest,
            Some("cgroup2"),
            flags,
            None,
        );
    }
    mount_at(
        Some(Path::new("tmpfs")),
        dest,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )?;
    let hierarchies = crate::cgroup::v1_hierarchies(Path::new("/proc/self"))
        .at(|| "read the cgroup hierarchies of /proc/self".into())?;
    for (name, options) in hierarchies {
        let sub = dest.join(&name);
        make_mountpoint(&sub, true)?;
        mount_at(
            Some(Path::new("cgroup")),
            &sub,
            Some("cgroup"),
            flags,
            Some(&options),
        )?;
    }
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        mount_at(
            None,
            dest,
            None,
            MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC,
            Some("mode=755"),
        )?;
    }
    Ok(())
}

/// Fills the container's fresh `/dev` tmpfs: the default devices bound from the host's, the spec's devices
/// made with mknod, `pts`/`shm` mount points and the usual symlinks.
fn populate_dev(
    target: &Path,
    devices: &[oci_spec::runtime::LinuxDevice],
    new_user: bool,
) -> Step<()> {
    let dev = under(target, Path::new("/dev"));
    for name in DEFAULT_DEVICES {
        let host = Path::new("/dev").join(name);
        let inside = dev.join(name);
        if inside.exists() {
            continue;
        }
        make_mountpoint(&inside, false)?;
        mount_at(Some(&host), &inside, None, MsFlags::MS_BIND, None)?;
    }
    for d in devices {
        let inside = under(target, d.path());
        if inside.exists() {
            continue;
        }
        let kind = match d.typ() {
            oci_spec::runtime::LinuxDeviceType::B => nix::sys::stat::SFlag::S_IFBLK,
            oci_spec::runtime::LinuxDeviceType::P => nix::sys::stat::SFlag::S_IFIFO,
            _ => nix::sys::stat::SFlag::S_IFCHR,
        };
        let mode = nix::sys::stat::Mode::from_bits_truncate(d.file_mode().unwrap_or(0o666));
        // In a user namespace mknod(2) is refused (EPERM): the host's node is bound instead, as for the
        // default devices.
        match nix::sys::stat::mknod(
            &inside,
            kind,
            mode,
            nix::sys::stat::makedev(d.major() as u64, d.minor() as u64),
        ) {
            Ok(()) => {}
            Err(Errno::EPERM) if new_user => {
                make_mountpoint(&inside, false)?;
                mount_at(Some(d.path()), &inside, None, MsFlags::MS_BIND, None)?;
                continue;
            }
            Err(e) => return Err(fail(format!("mknod {}", d.path().display()), e)),
        }
        // mknod(2) applies the umask (0022 leaves a 0660 device 0640): the spec's mode is the node's.
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &inside,
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .at(|| format!("chmod {}", d.path().display()))?;
        if let (Some(uid), Some(gid)) = (d.uid(), d.gid()) {
            nix::unistd::chown(&inside, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .at(|| format!("chown {}", d.path().display()))?;
        }
    }
    for (to, name) in DEV_SYMLINKS {
        let link = dev.join(name);
        if link.symlink_metadata().is_ok() {
            continue;
        }
        std::os::unix::fs::symlink(to, &link).at(|| format!("symlink /dev/{name}"))?;
    }
    Ok(())
}

/// Hides a path: /dev/null over a file, an empty read-only tmpfs over a directory. Missing paths are fine.
fn mask(path: &Path) -> Step<()> {
    match fs::metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => mount_at(
            Some(Path::new("tmpfs")),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        ),
        Ok(_) => mount_at(
            Some(Path::new("/dev/null")),
            path,
            None,
            MsFlags::MS_BIND,
            None,
        ),
    }
}

/// Makes a path and everything mounted below it read-only. Missing paths are fine.
fn readonly(path: &Path) -> Step<()> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    mount_at(
        Some(path),
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let c = cstring(path.as_os_str().as_bytes())?;
    minotaur_sys::mount_setattr_rdonly_recursive(&c)
        .at(|| format!("make {} read-only", path.display()))
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
