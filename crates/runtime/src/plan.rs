//! What [`create`](crate::create) hands to the container's init: the spec, paths resolved and descriptors
//! opened in the parent, and what a failing init must undo.

use std::fs::File;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use crate::cgroup::Cgroup;
use crate::rootfs::Overlay;
use crate::{hooks, seccomp, state};

/// What [`create`] hands to the child: the spec, resolved paths and descriptors opened in the parent.
pub(crate) struct Plan<'a> {
    pub spec: &'a Spec,
    /// The bundle directory; relative bind sources are resolved against it.
    pub bundle: PathBuf,
    /// Where the root is assembled: the bundle directory covered by a bind mount of the root, or with
    /// [`CreateOptions::root_in_place`] the root itself.
    pub target: PathBuf,
    /// The spec's root, resolved against the bundle.
    pub root: PathBuf,
    /// Namespaces to join: (kind flag, open nsfs file).
    pub join: Vec<(CloneFlags, OwnedFd)>,
    pub new_cgroup_ns: bool,
    /// The spec lists a UTS namespace, new or joined: the hostname is set in it.
    pub own_uts: bool,
    /// The container has a user namespace of its own: mounts copied from the caller's are locked, and
    /// devices cannot be made with mknod(2).
    pub new_user: bool,
    pub seccomp: Option<seccomp::Program>,
    pub host_is_cgroup2: bool,
    /// Descriptors to become the container's 0, 1 and 2.
    pub stdio: Option<[BorrowedFd<'a>; 3]>,
    /// Keep PID 1 as a reaper and run the command as its child.
    pub init: bool,
    /// Mount points to leave out of a recursive bind of the root ([`CreateOptions::hide`]).
    pub hide: &'a [PathBuf],
    /// [`CreateOptions::mount_template`], open.
    pub mount_template: Option<OwnedFd>,
    /// [`CreateOptions::overlay`].
    pub overlay: Option<&'a Overlay>,
    /// With a new user namespace, the root made here of idmapped mounts (see the idmap module): the
    /// overlay, or a clone of the root's tree. The init moves it onto its root instead of mounting
    /// [`Plan::overlay`] or binding [`Plan::root`] itself.
    pub idmapped_root: Option<OwnedFd>,
    /// [`CreateOptions::start_fifo`], open read-write.
    pub start_gate: Option<File>,
    /// [`CreateOptions::preserve_fds`].
    pub preserve_fds: u32,
    /// [`CreateOptions::hook_state`].
    pub hook_state: Option<&'a state::State>,
    /// The container has a mount namespace of its own (a new one). Without one (the caller's, or one
    /// joined by path) its root and mounts are made in a namespace others use too, and it is entered
    /// with chroot(2): pivot_root(2) would move the root of every process of that namespace.
    pub own_mount_ns: bool,
    /// The init says [`MOUNTED`] and waits for a GO before it enters its root.
    pub pause_before_pivot: bool,
    /// Without [`Plan::own_mount_ns`], where the init's bind of the root is while nobody else knows of it
    /// (until READY), so that a failure before then detaches it.
    pub shared_root: SharedRootUndo,
    /// The cgroup the init moves itself into, first thing (see [`Cgroup::add_self`]): without a new user
    /// namespace. In one, its IDs mean nothing until the parent has written the maps, so the parent moves
    /// it, naming its PID, which costs the kernel's thread-group lock.
    pub cgroup: Option<&'a Cgroup>,
}

/// A step of the caller's between the container's mounts and its `pivot_root`
/// ([`CreateOptions::before_pivot`]).
#[derive(Clone, Copy)]
pub struct BeforePivot<'a>(pub &'a dyn Fn(Pid) -> Result<(), hooks::HookError>);

impl std::fmt::Debug for BeforePivot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BeforePivot(..)")
    }
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
