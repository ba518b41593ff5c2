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

pub(super) fn do_mount(
    plan: &Plan<'_>,
    target: &Path,
    m: &Mount,
    points: &mut MountPoints,
) -> Step<()> {
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
        // the root is the host's own): detach that subtree rather than keep it underneath, where a
        // container allowed to unmount its own /proc would find the host's, and copied again by every
        // later mount namespace made from this one. Mounts may be stacked there (a host whose /proc was
        // mounted again over the first), so each goes, until EINVAL: no (more) mount point. (The mount
        // template's host root has none of them, and this finds nothing.)
        if dest != *target {
            while nix::mount::umount2(&dest, nix::mount::MntFlags::MNT_DETACH).is_ok() {}
        }
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
pub(super) fn populate_dev(
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
