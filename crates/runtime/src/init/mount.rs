//! The container's filesystem, made by its init before it enters it: the spec's mounts (each mount point
//! created and opened inside the root, so a link swapped in meanwhile cannot redirect it), a fresh `/dev`,
//! the cgroup mount, and the masked and read-only paths.

use std::fs::{self, File};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Mount;

use super::cstring;
use crate::mounts::{parse_options, MountOptions};
use crate::plan::Plan;
use crate::rootfs::MountPoints;
use crate::status::Failure;
use crate::status::{fail, At, Step};

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

/// Makes the mount that holds `path` private (not recursively), when it is shared.
pub(super) fn parent_mount_private(path: &Path) -> Step<()> {
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

pub(super) fn mount_at(
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

/// The container's root while its mounts are made: its path under the bundle, and a descriptor of it that
/// every mount point is opened from (one open for all of them, where each used to open the root again).
pub(super) struct Root {
    path: PathBuf,
    fd: OwnedFd,
    /// Every mount of the namespace was made private (the default `rootfsPropagation`, in a namespace of
    /// the container's own): a mount made in it is private too (see [`do_mount`]).
    private: bool,
}

impl Root {
    pub(super) fn open(path: &Path, private: bool) -> Step<Root> {
        Ok(Root {
            path: path.to_owned(),
            fd: open_dir(path)?,
            private,
        })
    }

    /// Opens the root again: something was mounted on the directory itself (a mount point shim, a mount
    /// whose destination is `/`), which a lookup from the old descriptor would not see.
    fn reopen(&mut self) -> Step<()> {
        self.fd = open_dir(&self.path)?;
        Ok(())
    }

    /// Opens mount point `dest` (a path in the container) as an `O_PATH` descriptor, resolved by the
    /// kernel inside the root (openat2(2) `RESOLVE_IN_ROOT`: an absolute link starts again at the root,
    /// `..` stops there, and `/proc`'s magic links are refused). Mounting on the descriptor's
    /// `/proc/self/fd` path mounts on exactly what was opened: a path checked first and mounted on later
    /// could be redirected in between by a link swapped in a directory that a running container shares, a
    /// volume (CVE-2021-30465).
    fn open_point(&self, dest: &Path, flags: nix::fcntl::OFlag) -> Result<OwnedFd, Errno> {
        minotaur_sys::resolve::open_in_root(&self.fd, dest, nix::fcntl::OFlag::O_PATH | flags)
    }

    fn open_mounted(&self, dest: &Path) -> Step<OwnedFd> {
        self.open_point(dest, nix::fcntl::OFlag::empty())
            .map_err(|e| fail(format!("open mount point {}", dest.display()), e))
    }

    /// The mount point of `m` (at `dest`, its path resolved in the root), opened to be mounted on. One that
    /// exists, of the kind wanted (a directory, or with `dir` false anything: a bind of a file on a
    /// directory fails in mount(2), as before), is opened as it is: nothing is created, so nothing can be
    /// created in the wrong place, and the mount goes on what the kernel resolved inside the root. Only a
    /// missing one is made by [`make_in_root`]'s walk, whose descriptor is mounted on (or in a shim, and
    /// then opened).
    fn mount_point(
        &mut self,
        dest: &Path,
        m: &Mount,
        dir: bool,
        points: &mut MountPoints,
    ) -> Step<OwnedFd> {
        let kind = if dir {
            nix::fcntl::OFlag::O_DIRECTORY
        } else {
            nix::fcntl::OFlag::empty()
        };
        if let Ok(at) = self.open_point(m.destination(), kind) {
            return Ok(at);
        }
        match make_in_root(&self.path, &self.fd, dest, dir, points).map_err(|f| named(f, m))? {
            Some(at) => Ok(at),
            None => {
                // Perhaps made in a shim mounted over a directory on the way, the root itself included.
                self.reopen()?;
                self.open_mounted(m.destination())
            }
        }
    }

    /// After a mount on `dest`: one on the root itself hides the directory the descriptor refers to.
    fn mounted(&mut self, dest: &Path, points: &mut MountPoints) -> Step<()> {
        points.mounted(dest);
        if dest == self.path {
            self.reopen()?;
        }
        Ok(())
    }
}

fn open_dir(path: &Path) -> Step<OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| fail(format!("open root {}", path.display()), e))
}

/// Creates `name` in `dir` as a new, empty file to mount on: one that was not there (`O_EXCL`), no link
/// followed, so the file made is the one returned, wherever links in a shared directory point meanwhile.
fn create_new_file(dir: &OwnedFd, name: impl rustix::path::Arg) -> rustix::io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )
}

/// A `rustix` error as the `nix` one the init's failures carry.
fn errno(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

/// Mounts one of the spec's mounts in the root. Per mount point that already exists (the usual case: the
/// `host` image's `/proc`, `/dev`, `/sys`, `/tmp`, `/run` and `/etc` files, a fresh `/dev`'s `pts`), the
/// system calls are the resolution of the destination (a `statx` per component, [`secure_join`]), at most
/// one `umount2` that finds nothing, one `openat2` of the point and the mount on it.
///
/// [`secure_join`]: crate::mounts::secure_join
pub(super) fn do_mount(
    plan: &Plan<'_>,
    root: &mut Root,
    m: &Mount,
    points: &mut MountPoints,
) -> Step<()> {
    let target = root.path.clone();
    let dest = crate::mounts::secure_join(&target, m.destination())
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
            if let Ok(at) = root.open_point(m.destination(), nix::fcntl::OFlag::empty()) {
                crate::rootfs::copy_up(&Path::new(&fd_path(&at)).join("."), &source)?;
            }
        }
        let at = root.mount_point(&dest, m, is_dir, points)?;
        let rec = if opts.rec {
            MsFlags::MS_REC
        } else {
            MsFlags::empty()
        };
        // A file from under a mount left out of the root's recursive bind (the engine's run root, made
        // unbindable in this namespace, see `Plan::hide`): no bind may take its source from an unbindable
        // mount (EINVAL), so it is made private for this one bind, of a file (nothing below it to copy)
        // or not recursive, and unbindable again.
        let hidden = plan
            .hide
            .iter()
            .find(|h| plan.own_mount_ns && (!opts.rec || !is_dir) && source.starts_with(h));
        if let Some(h) = hidden {
            set_propagation(h, MsFlags::MS_PRIVATE, "private")?;
        }
        mount_on(Some(&source), &at, m, None, MsFlags::MS_BIND | rec, None)?;
        if let Some(h) = hidden {
            set_propagation(h, MsFlags::MS_UNBINDABLE, "unbindable")?;
        }
        root.mounted(&dest, points)?;
        // A bind takes its flags from its source's mount: `ro`, `nosuid`... need a remount (MS_BIND with
        // MS_REMOUNT changes the new mount alone). That covers only the top mount of an `rbind`; a read-only
        // one is made read-only through and through with mount_setattr(2), so nothing of the source below
        // it is writable either. The new mount is opened again, in the root, to be changed.
        if !opts.flags.is_empty() {
            let new = root.open_mounted(m.destination())?;
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
            let new = root.open_mounted(m.destination())?;
            let c = cstring(fd_path(&new).as_bytes())?;
            minotaur_sys::mount_setattr_rdonly_recursive(&c)
                .at(|| format!("make {} read-only", m.destination().display()))?;
        }
    } else {
        // A new filesystem hides whatever the root's copy had mounted there (the host's /run, /proc... when
        // the root is the host's own): detach that subtree rather than keep it underneath, where a
        // container allowed to unmount its own /proc would find the host's, and copied again by every
        // later mount namespace made from this one. Mounts may be stacked there (a host whose /proc was
        // mounted again over the first), so each goes, until EINVAL: no (more) mount point (or ENOENT:
        // no mount point yet). The mount template's host root has none of them, and this finds nothing.
        if dest != target {
            while nix::mount::umount2(&dest, nix::mount::MntFlags::MNT_DETACH).is_ok() {}
        }
        let at = root.mount_point(&dest, m, true, points)?;
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
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
                let new = root.open_mounted(m.destination())?;
                let c = cstring(fd_path(&new).as_bytes())?;
                minotaur_sys::mount_setattr_rdonly_recursive(&c)
                    .at(|| format!("make {} read-only", m.destination().display()))?;
            }
            other => other?,
        }
        root.mounted(&dest, points)?;
    }
    // `private`/`rprivate` in a namespace whose mounts were all made private (recursively) before the
    // root was bound: a new mount is private unless its parent, or for a bind its source, is shared
    // (mount_namespaces(7)), and a recursive bind copies its source's private submounts as private. The
    // mount and everything below it is private already; the remount would change nothing.
    let private = MsFlags::MS_PRIVATE;
    let already = root.private
        && opts
            .propagation
            .iter()
            .all(|p| *p == private || *p == private | MsFlags::MS_REC);
    if !opts.propagation.is_empty() && !already {
        let new = root.open_mounted(m.destination())?;
        for p in &opts.propagation {
            mount_on(None, &new, m, None, *p, None)?;
        }
    }
    Ok(())
}

/// The flags of the mount `source` is on that a remount in a user namespace must keep: the kernel locks
/// them on every mount copied into a less privileged mount namespace (mount_namespaces(7)), and a bind
/// remount that would clear one fails with EPERM.
fn locked_flags(source: &Path) -> Step<MsFlags> {
    let st = nix::sys::statvfs::statvfs(source).at(|| format!("statvfs {}", source.display()))?;
    Ok(crate::mounts::mount_flags(&st))
}

/// Makes mount point `dest` (`root` joined with a path already resolved in it) exist, a directory or (`dir`
/// false) an empty file, with its missing parents. Each component is opened from the one before with
/// `O_NOFOLLOW` and made with mkdirat(2) there, so a link swapped into a shared directory meanwhile fails
/// the walk instead of making directories outside the root (CVE-2021-30465). A root nobody may write (the
/// host's, read-only) gets its mount points from `points`' shims.
///
/// Returns the walk's descriptor of the mount point (the file it made, for a file) to mount on: it was
/// reached from `root_fd` through directories only, no link followed and no `..` taken, so it lies in the
/// root as surely as one opened with `RESOLVE_IN_ROOT`. `None` when the point was there already as a file,
/// or was made in a shim (mounted by path, over a directory on the way): the caller opens it again.
fn make_in_root(
    root: &Path,
    root_fd: &OwnedFd,
    dest: &Path,
    dir: bool,
    points: &mut MountPoints,
) -> Step<Option<OwnedFd>> {
    use rustix::fs::{Mode, OFlags};
    use std::path::Component;
    let what = || format!("create mount point {}", dest.display());
    let Ok(rel) = dest.strip_prefix(root) else {
        return points.make(dest, dir).map(|()| None);
    };
    let mut names = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(name) => names.push(name.to_owned()),
            // `secure_join` gives none: never walked, whatever it is.
            _ => return Err(fail(what(), Errno::EINVAL)),
        }
    }
    let walk = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut cur: Option<OwnedFd> = None;
    for (i, name) in names.iter().enumerate() {
        let at = cur.as_ref().unwrap_or(root_fd);
        let last = i + 1 == names.len();
        if last && !dir {
            return match create_new_file(at, name) {
                Ok(made) => Ok(Some(made)),
                Err(rustix::io::Errno::EXIST) => Ok(None),
                Err(rustix::io::Errno::ROFS) => points.make(dest, dir).map(|()| None),
                Err(e) => Err(fail(what(), errno(e))),
            };
        }
        let next = match rustix::fs::openat(at, name, walk, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                match rustix::fs::mkdirat(at, name, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(rustix::io::Errno::ROFS) => return points.make(dest, dir).map(|()| None),
                    Err(e) => return Err(fail(what(), errno(e))),
                }
                rustix::fs::openat(at, name, walk, Mode::empty())
                    .map_err(|e| fail(what(), errno(e)))?
            }
            Err(e) => return Err(fail(what(), errno(e))),
        };
        cur = Some(next);
    }
    Ok(cur)
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

/// Makes the mount at `path` `what` (`flag`, a propagation); not a mount point (EINVAL) or not there
/// (ENOENT) is nothing to do.
pub(super) fn set_propagation(path: &Path, flag: MsFlags, what: &str) -> Step<()> {
    match nix::mount::mount(None::<&str>, path, None::<&str>, flag, None::<&str>) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(fail(format!("make {} {what}", path.display()), e)),
    }
}

pub(super) fn make_mountpoint(dest: &Path, dir: bool) -> Step<()> {
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
        // The tmpfs was just mounted: the directory is made, not looked for first.
        let sub = dest.join(&name);
        fs::create_dir_all(&sub).at(|| format!("create mount point {}", sub.display()))?;
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
pub(super) fn populate_dev(
    target: &Path,
    devices: &[oci_spec::runtime::LinuxDevice],
    new_user: bool,
) -> Step<()> {
    let dev = under(target, Path::new("/dev"));
    // The container's own tmpfs, just mounted: each default device is made as an empty file that was not
    // there (`O_EXCL`, links not followed), and the host's device is bound on that very file.
    let dir = open_dir(&dev)?;
    for name in DEFAULT_DEVICES {
        let file = match create_new_file(&dir, *name) {
            Ok(file) => file,
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(fail(format!("create mount point /dev/{name}"), errno(e))),
        };
        let host = Path::new("/dev").join(name);
        mount(
            Some(&host),
            fd_path(&file).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .at(|| format!("mount {} on /dev/{name} (bind)", host.display()))?;
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
        match rustix::fs::symlinkat(*to, &dir, *name) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(fail(format!("symlink /dev/{name}"), errno(e))),
        }
    }
    Ok(())
}

/// Hides a path: /dev/null over a file, an empty read-only tmpfs over a directory. Missing paths are fine.
pub(super) fn mask(path: &Path) -> Step<()> {
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
pub(super) fn readonly(path: &Path) -> Step<()> {
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
