//! The anchor's side of a debug session: it takes the clones it needs from other mount namespaces, makes
//! its own, builds the session's root in a tmpfs, joins the chosen namespaces and moves into the root. It
//! runs in a forked child; what fails comes back to the CLI as one message with the errno.
//!
//! Steps, in order, and why:
//! 1. Clones first (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`): the kernel clones only mounts of the
//!    caller's own mount namespace, so the anchor joins the target's (and the tools' namespace, if one was
//!    named) for the clone and goes back to its own. A clone is a detached tree that belongs to no
//!    namespace; nothing in the target changes.
//! 2. A new mount namespace, made a slave of the caller's: what the session mounts reaches no one, what the
//!    host unmounts later reaches the session (so it never keeps a host's filesystem busy).
//! 3. The root in a tmpfs on `<runroot>/debug` (mounted there in the session's namespace only): binds of the
//!    tools' top-level directories, read-only, or an overlay of a toolbox image with its upper layer in the
//!    tmpfs. Into it: the target's tree at `/target` (`move_mount`), a small `/dev` with a devpts instance of
//!    the session's own, tmpfs `/tmp` and `/run`, and the target's `resolv.conf` and `hosts`.
//! 4. The network, UTS, IPC and cgroup namespaces are joined (the PID namespace was chosen at fork), then
//!    `pivot_root`, then `/proc` and `/sys`: mounted here, by a process in the session's PID and network
//!    namespaces, they show the target's processes and interfaces.

use std::fs::{self, File};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};

use super::{NsChoice, Session, TargetFs, Tools};

type Step<T> = Result<T, String>;

/// Adds what was being done to an error.
trait At<T> {
    fn at(self, what: impl FnOnce() -> String) -> Step<T>;
}

impl<T, E: std::fmt::Display> At<T> for Result<T, E> {
    fn at(self, what: impl FnOnce() -> String) -> Step<T> {
        self.map_err(|e| format!("{}: {e}", what()))
    }
}

/// Top-level directories of the tools' root that the session makes its own.
const OWN: &[&str] = &["proc", "sys", "dev", "tmp", "run", "target"];

/// Device nodes bound into the session's `/dev` from the host's.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Sets the session up in this (forked, single-threaded) process. On success the process is in every
/// namespace of the session, with the session's root as its root.
pub(super) fn anchor(s: &Session, own_mnt: &File) -> Step<()> {
    // 1. Clones of other namespaces' trees.
    let clone_of = |ns: &File, what: &str| -> Step<OwnedFd> {
        setns(ns, CloneFlags::CLONE_NEWNS).at(|| format!("join the {what}'s mount namespace"))?;
        let tree = open_tree(
            rustix::fs::CWD,
            "/",
            OpenTreeFlags::OPEN_TREE_CLONE
                | OpenTreeFlags::AT_RECURSIVE
                | OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )
        .at(|| format!("clone the {what}'s mount tree"))?;
        setns(own_mnt, CloneFlags::CLONE_NEWNS)
            .at(|| "go back to the engine's mount namespace".into())?;
        Ok(tree)
    };
    let target_tree = match &s.target_fs {
        TargetFs::Namespace(ns) => Some(clone_of(ns, "target")?),
        _ => None,
    };
    let tools_tree = match &s.tools {
        Tools::Namespace(ns) => Some(clone_of(ns, "tools")?),
        _ => None,
    };

    // 2. The session's mount namespace, and the new UTS, IPC and network namespaces it asks for.
    let mut flags = CloneFlags::CLONE_NEWNS;
    for (choice, flag) in [
        (&s.uts, CloneFlags::CLONE_NEWUTS),
        (&s.ipc, CloneFlags::CLONE_NEWIPC),
        (&s.net, CloneFlags::CLONE_NEWNET),
    ] {
        if matches!(choice, NsChoice::New) {
            flags |= flag;
        }
    }
    unshare(flags).at(|| "make the session's namespaces".into())?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .at(|| "make the session's mounts slaves of the engine's".into())?;
    if matches!(s.uts, NsChoice::New) {
        nix::unistd::sethostname(&s.hostname).at(|| "set the hostname".into())?;
    }
    if matches!(s.net, NsChoice::New) {
        minotaur_sys::interface_up("lo").at(|| "bring up lo".into())?;
    }

    // 3. The root.
    let base = &s.base;
    mount_fs("tmpfs", base, "tmpfs", MsFlags::MS_NOSUID, "mode=755")?;
    let root = base.join("root");
    match &s.tools {
        Tools::Host => skeleton(Path::new("/"), &root)?,
        Tools::Namespace(_) => {
            let src = base.join("tools");
            mkdir(&src)?;
            attach(tools_tree.as_ref().expect("cloned above"), &src)?;
            skeleton(&src, &root)?;
        }
        Tools::Image(lowers) => {
            let (upper, work) = (base.join("upper"), base.join("work"));
            for d in [&upper, &work, &root] {
                mkdir(d)?;
            }
            let data = format!(
                "lowerdir={},upperdir={},workdir={}",
                join_paths(lowers),
                upper.display(),
                work.display()
            );
            mount_fs("overlay", &root, "overlay", MsFlags::empty(), &data)?;
        }
    }
    for d in OWN {
        mkdir(&root.join(d))?;
    }
    let target = root.join("target");
    match &s.target_fs {
        TargetFs::Namespace(_) => {
            attach(target_tree.as_ref().expect("cloned above"), &target)?;
            // A clone of a shared mount is a peer of it: as a slave, the session still sees what the target
            // mounts later, and nothing it mounts below /target reaches the target.
            mount(
                None::<&str>,
                &target,
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_SLAVE,
                None::<&str>,
            )
            .at(|| "make /target a slave of the target's mounts".into())?;
        }
        TargetFs::Layers(layers) => {
            // Every layer a lower layer: overlayfs then has nowhere to write.
            let data = format!("lowerdir={}", join_paths(layers));
            mount_fs("overlay", &target, "overlay", MsFlags::MS_RDONLY, &data)?;
        }
        TargetFs::HostRoot => bind(Path::new("/"), &target, true)?,
    }
    dev(&root.join("dev"))?;
    for d in ["tmp", "run"] {
        let opts = if d == "tmp" { "mode=1777" } else { "mode=755" };
        mount_fs(
            "tmpfs",
            &root.join(d),
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            opts,
        )?;
    }
    if let Some(dir) = &s.etc_dir {
        for f in ["resolv.conf", "hosts"] {
            etc_file(&root, &dir.join(f), f)?;
        }
    }

    // 4. The other namespaces, then the root, then what must be mounted from inside.
    for (choice, flag, what) in [
        (&s.cgroup, CloneFlags::CLONE_NEWCGROUP, "cgroup"),
        (&s.ipc, CloneFlags::CLONE_NEWIPC, "IPC"),
        (&s.uts, CloneFlags::CLONE_NEWUTS, "UTS"),
        (&s.net, CloneFlags::CLONE_NEWNET, "network"),
    ] {
        if let NsChoice::Join(ns) = choice {
            setns(ns, flag).at(|| format!("join the {what} namespace"))?;
        }
    }
    nix::unistd::chdir(&root).at(|| format!("enter {}", root.display()))?;
    nix::unistd::pivot_root(".", ".").at(|| "pivot_root into the session's root".into())?;
    umount2(".", MntFlags::MNT_DETACH).at(|| "detach the engine's root".into())?;
    nix::unistd::chdir("/").at(|| "enter /".into())?;
    let hidden = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_fs("proc", Path::new("/proc"), "proc", hidden, "")?;
    mount_fs(
        "sysfs",
        Path::new("/sys"),
        "sysfs",
        hidden | MsFlags::MS_RDONLY,
        "",
    )?;
    Ok(())
}

/// A root made of the top-level entries of `src`: each directory bound (with what is mounted below it)
/// read-only, each symbolic link copied, each file bound; the session's own directories left out.
fn skeleton(src: &Path, root: &Path) -> Step<()> {
    mkdir(root)?;
    bind(root, root, false)?;
    let entries = fs::read_dir(src).at(|| format!("list {}", src.display()))?;
    for entry in entries {
        let entry = entry.at(|| format!("list {}", src.display()))?;
        let name = entry.file_name();
        if OWN.iter().any(|o| name == *o) {
            continue;
        }
        let (from, to) = (entry.path(), root.join(&name));
        let ty = entry
            .file_type()
            .at(|| format!("look at {}", from.display()))?;
        if ty.is_symlink() {
            let link = fs::read_link(&from).at(|| format!("read {}", from.display()))?;
            symlink(&link, &to).at(|| format!("copy the link {}", from.display()))?;
        } else if ty.is_dir() {
            mkdir(&to)?;
            bind(&from, &to, true)?;
        } else if ty.is_file() {
            File::create(&to).at(|| format!("create {}", to.display()))?;
            bind(&from, &to, true)?;
        }
    }
    Ok(())
}

/// A `/dev` of the session's own: a tmpfs with the host's harmless devices, a devpts instance (so a
/// terminal made for the command is nobody else's), `/dev/shm`, and the usual links.
fn dev(dir: &Path) -> Step<()> {
    mount_fs("tmpfs", dir, "tmpfs", MsFlags::MS_NOSUID, "mode=755")?;
    for d in DEVICES {
        let to = dir.join(d);
        File::create(&to).at(|| format!("create {}", to.display()))?;
        bind(&Path::new("/dev").join(d), &to, false)?;
    }
    let pts = dir.join("pts");
    mkdir(&pts)?;
    mount_fs(
        "devpts",
        &pts,
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620",
    )?;
    let shm = dir.join("shm");
    mkdir(&shm)?;
    mount_fs(
        "shm",
        &shm,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        "mode=1777",
    )?;
    for (name, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, dir.join(name)).at(|| format!("link /dev/{name}"))?;
    }
    Ok(())
}

/// Binds one of the target's generated `/etc` files over the tools' (`resolv.conf`, `hosts`), so names
/// resolve as they do in the target. Where the tools' file is a link, its destination inside the root is
/// bound instead; where there is no such file (an image without one), one is made in the session's tmpfs
/// directories only. A target without the file (a `host`-network one) keeps the tools'.
fn etc_file(root: &Path, from: &Path, name: &str) -> Step<()> {
    if !from.is_file() {
        return Ok(());
    }
    let to = minotaur_runtime::mounts::secure_join(root, &Path::new("/etc").join(name))
        .at(|| format!("resolve /etc/{name} in the session's root"))?;
    if !to.exists() {
        let parent = to.parent().unwrap_or(root);
        if fs::create_dir_all(parent)
            .and_then(|_| File::create(&to).map(drop))
            .is_err()
        {
            // A read-only place of the tools (the host's /etc without the file): nothing to bind over.
            return Ok(());
        }
    }
    bind(from, &to, false)
}

/// Attaches a detached mount tree (from `open_tree`) at `to`.
fn attach(tree: &OwnedFd, to: &Path) -> Step<()> {
    move_mount(
        tree.as_fd(),
        "",
        rustix::fs::CWD,
        to,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .at(|| format!("move the cloned tree to {}", to.display()))
}

/// Binds `from` (with its submounts) at `to`; read-only if asked, keeping the source's other flags.
fn bind(from: &Path, to: &Path, ro: bool) -> Step<()> {
    mount(
        Some(from),
        to,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .at(|| format!("bind {} to {}", from.display(), to.display()))?;
    if !ro {
        return Ok(());
    }
    // A bind takes the source's per-mount flags; a remount sets all of them, so the ones it had are kept.
    let kept = nix::sys::statvfs::statvfs(to)
        .map(|st| minotaur_runtime::mounts::mount_flags(&st))
        .at(|| format!("look at {}", to.display()))?;
    mount(
        None::<&str>,
        to,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept,
        None::<&str>,
    )
    .at(|| format!("make {} read-only", to.display()))
}

fn mount_fs(source: &str, to: &Path, fstype: &str, flags: MsFlags, data: &str) -> Step<()> {
    mount(Some(source), to, Some(fstype), flags, Some(data))
        .at(|| format!("mount {fstype} on {}", to.display()))
}

fn mkdir(dir: &Path) -> Step<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(format!("create {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}
