//! An image container's root while it is not running: its overlay mounted as a *detached* mount (the new
//! mount API: fsopen(2), fsconfig(2), fsmount(2)), which exists only as a file descriptor. Nothing is
//! attached to any mount namespace, nothing is left behind when the descriptor is closed, and the kernel
//! does the overlay's work (copy-up, whiteouts) for whoever writes through it, as it does for the running
//! container. `cp` uses it on stopped containers.
//!
//! The caller keeps the container from starting meanwhile: two overlays must not share an upper and work
//! directory.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::mount::{
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, FsMountFlags, FsOpenFlags,
    MountAttrFlags,
};

use crate::rootfs::Overlay;

/// The overlay could not be mounted.
#[derive(Debug, thiserror::Error)]
#[error("cannot mount the overlay of {upper} ({step})")]
pub struct DetachedError {
    pub upper: PathBuf,
    pub step: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// Mounts `o` detached, read-only when `read_only`; returns the root directory of the mount.
pub fn overlay(o: &Overlay, read_only: bool) -> Result<OwnedFd, DetachedError> {
    let err = |step| {
        let upper = o.upper.clone();
        move |e: rustix::io::Errno| DetachedError {
            upper,
            step,
            source: e.into(),
        }
    };
    let lower = o
        .lower
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(err("fsopen"))?;
    fsconfig_set_string(&fs, "lowerdir", lower.as_str()).map_err(err("lowerdir"))?;
    fsconfig_set_string(&fs, "upperdir", &o.upper).map_err(err("upperdir"))?;
    fsconfig_set_string(&fs, "workdir", &o.work).map_err(err("workdir"))?;
    fsconfig_create(&fs).map_err(err("create"))?;
    let attrs = if read_only {
        MountAttrFlags::MOUNT_ATTR_RDONLY
    } else {
        MountAttrFlags::empty()
    };
    fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(err("fsmount"))
}

/// The overlay `o` as a container with a user namespace of its own sees it: its lower layers idmapped by
/// `maps` (the namespace's `uid_map` and `gid_map` texts), as [`crate::idmap`] makes its root, so that
/// each file shows the host ID that the container's own ID is. Read-only when `read_only`.
pub fn idmapped_overlay(
    o: &Overlay,
    maps: &(String, String),
    read_only: bool,
) -> Result<OwnedFd, crate::error::RuntimeError> {
    let userns = crate::idmap::userns(maps)?;
    Ok(crate::idmap::overlay(o, userns.as_fd(), read_only)?)
}

/// The mount tree at `root` as a container with a user namespace of its own and that root sees it: a
/// detached clone, each mount idmapped by `maps` where its filesystem allows (see [`crate::idmap`]).
pub fn idmapped_tree(
    root: &std::path::Path,
    maps: &(String, String),
) -> Result<OwnedFd, crate::error::RuntimeError> {
    let userns = crate::idmap::userns(maps)?;
    Ok(crate::idmap::tree(root, userns.as_fd())?)
}
