//! The root of a container with a user namespace of its own, made of *idmapped* mounts.
//!
//! The image's files belong to the host's root (ID 0). In a user namespace that maps its IDs `0..N` onto a
//! host range `R..R+N`, host ID 0 is not mapped: the files would show as the overflow ID (`nobody`), and the
//! container's root could not write what is its own. Chowning a copy of every layer to the range costs a
//! copy per container; an idmapped mount (mount_setattr(2) with `MOUNT_ATTR_IDMAP`, Linux 5.12) instead
//! shows host ID `h` as `R+h`, with nothing written on disk.
//!
//! overlayfs cannot itself be idmapped, but it accepts idmapped *layers* (Linux 5.19): each lower layer is
//! cloned with open_tree(2), idmapped, and handed to overlayfs as a descriptor (`lowerdir+`, Linux 6.13).
//! The overlay is made here, in the caller (root in the host's namespace: only it may idmap the host's
//! filesystems), as a detached mount; the container's init, in its new user and mount namespaces, moves it
//! onto its root. The image's files then show as root's inside the container.
//!
//! The upper layer is not idmapped: overlayfs makes its work directories with the mounter's credentials,
//! and the host's root has no ID through a mapping that starts at the range (EOVERFLOW, and overlayfs falls
//! back to read-only). The container's own files are therefore stored with the range's IDs, as the
//! container's processes write them; the caller gives the upper directory to the range's root before the
//! overlay is made, so that the container's `/` is its root's.
//!
//! A root that is not an overlay (the engine's `host` image: the host's `/`) is a recursive clone of its
//! mount tree, each mount idmapped on its own ([`tree`]).
//!
//! mount_setattr(2) takes the mapping from a user namespace, given as a descriptor: a short-lived child is
//! made in a new user namespace, its maps written as the container's will be, its namespace opened, and
//! the child let go. The namespace lives on as long as the descriptor (and the mounts) need it.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use minotaur_sys::Clone3Result;
use nix::sys::wait::waitpid;
use rustix::fs::{openat, Mode, OFlags, CWD};
use rustix::mount::{
    fsconfig_create, fsconfig_set_fd, fsconfig_set_string, fsmount, fsopen, open_tree,
    FsMountFlags, FsOpenFlags, MountAttrFlags, OpenTreeFlags,
};

use nix::unistd::Pid;

use crate::error::{IdmapError, RuntimeError};
use crate::rootfs::Overlay;

/// A user namespace with `maps` (the `uid_map` and `gid_map` texts) as its ID maps, as a descriptor.
pub(crate) fn userns(maps: &(String, String)) -> Result<OwnedFd, RuntimeError> {
    let err = |step| move |source: std::io::Error| IdmapError::Userns { step, source };
    let (mut rx, tx) = crate::status::pipe()?;
    let clone = minotaur_sys::clone3(nix::sched::CloneFlags::CLONE_NEWUSER.bits() as u64)
        .map_err(|e| err("clone3")(e.into()))?;
    let child = match clone {
        Clone3Result::Child => {
            // Wait until the parent has opened our namespace (it closes its end of the pipe), then go.
            drop(tx);
            let _ = rx.read(&mut [0u8; 1]);
            minotaur_sys::exit_now(0)
        }
        Clone3Result::Parent { child, .. } => child,
    };
    drop(rx);
    let opened = write_id_maps(child, maps).and_then(|()| {
        File::open(format!("/proc/{child}/ns/user"))
            .map(OwnedFd::from)
            .map_err(|e| err("open its nsfs file")(e).into())
    });
    drop(tx);
    let _ = waitpid(child, None);
    opened
}

/// A clone of the mount at `path` (that mount alone), idmapped as `userns` maps: the clone (closing it
/// dissolves the clone, so it is kept until the overlay is made) and its root opened as a directory.
fn idmapped(path: &Path, userns: BorrowedFd<'_>) -> Result<(OwnedFd, OwnedFd), IdmapError> {
    let err = |step, hint| {
        move |source: std::io::Error| IdmapError::Layer {
            path: path.to_owned(),
            step,
            hint,
            source,
        }
    };
    let tree = open_tree(
        CWD,
        path,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| err("open_tree", "")(e.into()))?;
    minotaur_sys::mount_setattr_idmap(tree.as_fd(), userns).map_err(|e| {
        err(
            "mount_setattr",
            ": its filesystem does not support idmapped mounts",
        )(e.into())
    })?;
    // open_tree gives an O_PATH descriptor, which fsconfig(2) does not take: open the clone's root.
    let dir = openat(
        &tree,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err("open", "")(e.into()))?;
    Ok((tree, dir))
}

/// The overlay `o` of idmapped lower layers, as a detached mount (see the module's documentation),
/// read-only when `read_only`.
pub(crate) fn overlay(
    o: &Overlay,
    userns: BorrowedFd<'_>,
    read_only: bool,
) -> Result<OwnedFd, IdmapError> {
    let err = |step| {
        let upper = o.upper.clone();
        move |e: rustix::io::Errno| IdmapError::Overlay {
            upper,
            step,
            source: e.into(),
        }
    };
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(err("fsopen"))?;
    let mut clones = Vec::with_capacity(o.lower.len());
    for lower in &o.lower {
        let (clone, fd) = idmapped(lower, userns)?;
        fsconfig_set_fd(&fs, "lowerdir+", &fd).map_err(err("lowerdir+"))?;
        clones.push(clone);
    }
    fsconfig_set_string(&fs, "upperdir", &o.upper).map_err(err("upperdir"))?;
    fsconfig_set_string(&fs, "workdir", &o.work).map_err(err("workdir"))?;
    fsconfig_create(&fs).map_err(err("create"))?;
    // The overlay holds private clones of its layers now: ours may go.
    drop(clones);
    let attrs = if read_only {
        MountAttrFlags::MOUNT_ATTR_RDONLY
    } else {
        MountAttrFlags::empty()
    };
    fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(err("fsmount"))
}

/// A recursive clone of the mount tree at `root` (the host's `/` for the `host` image), each of its mounts
/// idmapped as `userns` maps, as a detached tree. mount_setattr(2) with `AT_RECURSIVE` would fail as a whole
/// on the first filesystem that cannot be idmapped (proc, sysfs, devpts, cgroup...): each mount is idmapped
/// alone instead, and those that cannot be keep showing their files as nobody's. The container mounts its
/// own `/proc`, `/sys`, `/dev` and `/run` over most of them. The root mount itself must take the mapping.
pub(crate) fn tree(root: &Path, userns: BorrowedFd<'_>) -> Result<OwnedFd, IdmapError> {
    let err = |step| {
        move |source: std::io::Error| IdmapError::Layer {
            path: root.to_owned(),
            step,
            hint: "",
            source,
        }
    };
    let tree = open_tree(
        CWD,
        root,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(|e| err("open_tree")(e.into()))?;
    minotaur_sys::mount_setattr_idmap(tree.as_fd(), userns).map_err(|e| IdmapError::Layer {
        path: root.to_owned(),
        step: "mount_setattr",
        hint: ": its filesystem does not support idmapped mounts",
        source: e.into(),
    })?;
    let mounts =
        minotaur_ns::mountinfo::read("/proc/self/mountinfo").map_err(err("read mountinfo"))?;
    for m in &mounts {
        let Ok(rel) = m.mount_point.strip_prefix(root) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        // The walk crosses into the clone's mount at that point (the top one, where mounts are stacked).
        let Ok(at) = openat(
            &tree,
            rel,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        // EINVAL: a filesystem without idmapped mounts, or a mount point below one not cloned (an
        // unbindable mount is left out of the clone); either way that mount stays as it is.
        let _ = minotaur_sys::mount_setattr_idmap(at.as_fd(), userns);
    }
    Ok(tree)
}

/// The `uid_map` and `gid_map` texts of a new user namespace: one `inside outside count` line per mapping.
pub(crate) fn id_maps(linux: &oci_spec::runtime::Linux) -> Result<(String, String), RuntimeError> {
    let text = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>, what: &str| {
        let maps = maps.as_deref().unwrap_or_default();
        if maps.is_empty() {
            return Err(RuntimeError::InvalidSpec(format!(
                "a new user namespace needs linux.{what}"
            )));
        }
        Ok(maps
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>())
    };
    Ok((
        text(linux.uid_mappings(), "uidMappings")?,
        text(linux.gid_mappings(), "gidMappings")?,
    ))
}

/// The host ID a user namespace's ID 0 maps to, from the text of its `uid_map` or `gid_map`.
pub(crate) fn host_root(map: &str) -> Option<u32> {
    map.lines().find_map(|line| {
        let mut f = line.split_whitespace().map(str::parse::<u32>);
        match (f.next()?.ok()?, f.next()?.ok()?, f.next()?.ok()?) {
            (0, host, n) if n > 0 => Some(host),
            _ => None,
        }
    })
}

/// Writes the ID maps of the child's new user namespace. The writer (this process, root in the parent
/// namespace with CAP_SETUID and CAP_SETGID there) may map any IDs, and may write `gid_map` without denying
/// setgroups(2) first (user_namespaces(7)).
pub(crate) fn write_id_maps(
    pid: Pid,
    (uid_map, gid_map): &(String, String),
) -> Result<(), RuntimeError> {
    for (file, text) in [("uid_map", uid_map), ("gid_map", gid_map)] {
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, text).map_err(|source| RuntimeError::IdMap { path, source })?;
    }
    Ok(())
}
