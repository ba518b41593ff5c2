//! The container's init process, from clone3 to execve.
//!
//! Everything here runs in the forked child. It never returns into the caller's code: it execs the command
//! or reports a [`Failure`] over the status pipe and exits (125 for setup errors, 126/127 for exec errors).
//! The order follows runc's: namespaces, mount propagation, root, mounts, `/dev`, `pivot_root`, masked and
//! read-only paths, hostname, sysctls, rlimits, cwd; then, once started: default signal handling, seccomp
//! (before the capability drop when `noNewPrivileges` is off, because installing a filter then needs
//! `CAP_SYS_ADMIN`), no_new_privs, the bounding set, the user, the remaining capability sets, close-on-exec
//! for every inherited descriptor, exec. The steps from the process's limits onwards ([`ProcessPlan`],
//! [`attach_stdio`], [`become_process`]) are shared with processes exec'd into a running container.

mod mount;
mod process;

use std::convert::Infallible;
use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{chdir, pivot_root, sethostname, Gid, Uid};

use crate::cgroup::CgroupError;
use crate::error::exec_exit_code;
use crate::plan::Plan;
use crate::rootfs::MountPoints;
use crate::status::{fail, At, Step};
use crate::status::{Failure, FAILED, MOUNTED, READY, SHARED_ROOT};

use mount::{
    do_mount, mask, mount_at, parent_mount_private, populate_dev, readonly, set_propagation, Root,
};
pub(crate) use process::{attach_stdio, become_process, open_console, ProcessPlan};

/// The child's entry point.
pub(crate) fn run(plan: Plan<'_>, status: File, mut go: File) -> ! {
    child_main(status, |status| {
        let failure = body(&plan, status, &mut go);
        undo_shared_root(&plan);
        failure
    })
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
        // Not a mount point (or not there at all): nothing to leave out then.
        set_propagation(p, MsFlags::MS_UNBINDABLE, "unbindable")?;
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
    let all_private = plan.own_mount_ns && propagation == MsFlags::MS_PRIVATE | MsFlags::MS_REC;
    let mut root = Root::open(target, all_private)?;
    for m in spec.mounts().iter().flatten() {
        do_mount(plan, &mut root, m, &mut points)?;
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
    drop(root);
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
    let process_plan = ProcessPlan::new(process);
    process_plan.context()?;

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
    become_process(
        &process_plan,
        plan.seccomp.as_ref(),
        plan.init,
        plan.preserve_fds,
    )
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

fn cstring(bytes: &[u8]) -> Step<CString> {
    CString::new(bytes).map_err(|_| fail("string with a NUL byte", Errno::EINVAL))
}
