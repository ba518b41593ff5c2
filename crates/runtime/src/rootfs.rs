//! The container's root filesystem beyond a plain bind: an image's overlay mounted inside the container's own
//! mount namespace, and mount points made where the root is read-only.
//!
//! **The overlay.** An image container's root is an overlayfs of the image's layers and the container's own
//! upper layer ([`Overlay`]). The init mounts it over the bundle in the container's new mount namespace, after
//! that namespace has been made private: nothing of it is visible outside, so it is not copied into every
//! mount namespace made while it exists (a mount template's, other containers'), and it goes away with the
//! container's last process without anyone unmounting it.
//!
//! **Mount points on a read-only root.** A mount needs a directory (or a file) to be mounted on. On a
//! writable root the init creates what is missing, as runc does; on the `host` image's root (a read-only
//! recursive bind of the host's `/`) or on a `readonly` bind root it cannot, and must not write the directory
//! it was given. There the init puts a *shim* over the nearest directory that exists: a small tmpfs carrying
//! a bind of each of that directory's entries (the entries' own mount trees, flags and all, cloned with
//! open_tree(2)), plus the missing mount point, after which the tmpfs is made read-only. The container sees
//! the directory as it was, with one more entry; the host's files stay the same inodes on the same read-only
//! mounts; nothing is written anywhere but in that tmpfs.
//!
//! The alternative, an overlay of the directory with a throwaway upper layer, is simpler to state but wrong
//! here: overlayfs layers do not cross mount points, so an overlay of a directory hides everything mounted
//! below it. The directory that most often lacks a mount point is the root itself (`-v /srv:/www` on the host
//! image), and below it lie `/proc`, `/dev`, `/sys`, `/tmp` and `/run` of the container, and the host's own
//! `/home` or `/boot`. The shim's binds keep each of them, recursively, whatever is mounted there.

use std::ffi::OsString;
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};

use crate::status::{fail, At, Step};

/// An overlayfs root: the image's read-only layers under the container's own writable layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// The read-only layers, top first.
    pub lower: Vec<PathBuf>,
    /// The container's own layer, where its changes go.
    pub upper: PathBuf,
    /// overlayfs's work directory, empty and on the same filesystem as `upper`.
    pub work: PathBuf,
}

impl Overlay {
    /// The mount data: `lowerdir=A:B,upperdir=U,workdir=W`.
    pub fn data(&self) -> String {
        let lower: Vec<String> = self.lower.iter().map(|p| p.display().to_string()).collect();
        format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            self.upper.display(),
            self.work.display()
        )
    }
}

/// In the init: mounts `overlay` on `target` (the bundle, in the container's private mount namespace).
pub(crate) fn mount_overlay(overlay: &Overlay, target: &Path) -> Step<()> {
    let data = overlay.data();
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .at(|| format!("mount the overlay root on {}", target.display()))
}

/// In the init: attaches the detached mount `mount` (the idmapped overlay) on `target`.
pub(crate) fn move_mount_to(mount: &OwnedFd, target: &Path) -> Step<()> {
    move_mount(
        mount,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| Errno::from_raw(e.raw_os_error()))
    .at(|| format!("move the idmapped overlay root onto {}", target.display()))
}

/// In the init: makes mount points, with a shim (see the module's documentation) where the root is
/// read-only, and remembers the shims it made so that a second missing entry of the same directory reuses
/// the shim instead of stacking another.
#[derive(Debug, Default)]
pub(crate) struct MountPoints {
    shims: Vec<PathBuf>,
}

impl MountPoints {
    /// Makes `dest` exist, as a directory or (`dir` false) an empty file, with its missing parents.
    pub(crate) fn make(&mut self, dest: &Path, dir: bool) -> Step<()> {
        if dest.exists() {
            return Ok(());
        }
        match create(dest, dir) {
            Err(Errno::EROFS) => {}
            other => return other.at(|| format!("create mount point {}", dest.display())),
        }
        let mut parent = dest;
        while let Some(p) = parent.parent() {
            parent = p;
            if parent.exists() {
                break;
            }
        }
        if !self.shims.iter().any(|s| s == parent) {
            shim(parent)?;
            self.shims.push(parent.to_owned());
        } else {
            shim_writable(parent, true)?;
        }
        let made = create(dest, dir).at(|| format!("create mount point {}", dest.display()));
        shim_writable(parent, false)?;
        made
    }

    /// Something was mounted on `dest`: shims at or below it are hidden now, and the directories at those
    /// paths belong to whatever was mounted (a read-only bind must never be made writable as a shim).
    pub(crate) fn mounted(&mut self, dest: &Path) {
        self.shims.retain(|s| !s.starts_with(dest));
    }
}

fn create(dest: &Path, dir: bool) -> Result<(), Errno> {
    let errno = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    if dir {
        return fs::create_dir_all(dest).map_err(errno);
    }
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(errno)?;
    }
    fs::File::create(dest).map(drop).map_err(errno)
}

/// What a shim puts in place of one entry of the directory it covers.
enum Entry {
    /// A symbolic link, made again with the same target (links cannot be bind-mounted).
    Link(PathBuf),
    /// The entry's mount tree, cloned and not yet attached anywhere; `true` for a directory.
    Tree(OwnedFd, bool),
    /// An unbindable mount point (what the root's own bind left out): an empty mount point only.
    Hidden(bool),
}

/// Covers `dir` with a writable tmpfs that shows the same entries (see the module's documentation). The
/// caller creates what it needs in it and then makes it read-only with [`shim_writable`].
fn shim(dir: &Path) -> Step<()> {
    let step = |what: &str| format!("{what} (to add a mount point to {})", dir.display());
    let meta = fs::metadata(dir).at(|| step("look at the directory"))?;
    let old = open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .at(|| step("open the directory"))?;
    let mut entries: Vec<(OsString, Entry)> = Vec::new();
    for e in fs::read_dir(dir).at(|| step("list the directory"))? {
        let e = e.at(|| step("list the directory"))?;
        let name = e.file_name();
        let kind = e.file_type().at(|| step("look at an entry"))?;
        let entry = if kind.is_symlink() {
            Entry::Link(fs::read_link(e.path()).at(|| step("read a link"))?)
        } else {
            // A recursive clone, as `mount --rbind` makes: the entry with everything mounted below it, each
            // mount keeping its own flags (a read-only host directory stays read-only).
            match open_tree(
                &old,
                name.as_os_str(),
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC
                    | OpenTreeFlags::AT_RECURSIVE
                    | OpenTreeFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(tree) => Entry::Tree(tree, kind.is_dir()),
                Err(rustix::io::Errno::INVAL) => Entry::Hidden(kind.is_dir()),
                Err(e) => {
                    return Err(fail(
                        step(&format!("clone {}", e_name(&name))),
                        Errno::from_raw(e.raw_os_error()),
                    ))
                }
            }
        };
        entries.push((name, entry));
    }
    let data = format!(
        "mode={:o},uid={},gid={}",
        meta.mode() & 0o7777,
        meta.uid(),
        meta.gid()
    );
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        SHIM_FLAGS,
        Some(data.as_str()),
    )
    .at(|| step("mount a tmpfs"))?;
    for (name, entry) in entries {
        let path = dir.join(&name);
        match entry {
            Entry::Link(target) => std::os::unix::fs::symlink(&target, &path)
                .at(|| step(&format!("link {}", e_name(&name))))?,
            Entry::Hidden(is_dir) => {
                create(&path, is_dir).at(|| step(&format!("create {}", e_name(&name))))?
            }
            Entry::Tree(tree, is_dir) => {
                create(&path, is_dir).at(|| step(&format!("create {}", e_name(&name))))?;
                move_mount(
                    &tree,
                    "",
                    rustix::fs::CWD,
                    &path,
                    MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
                )
                .map_err(|e| Errno::from_raw(e.raw_os_error()))
                .at(|| step(&format!("attach {}", e_name(&name))))?;
            }
        }
    }
    Ok(())
}

/// The shim's tmpfs holds only mount points and links: nothing on it is to be run or opened as a device.
const SHIM_FLAGS: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// Makes the shim's own mount (not what is bound on it) writable, or read-only again.
fn shim_writable(dir: &Path, writable: bool) -> Step<()> {
    let ro = if writable {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    mount(
        None::<&str>,
        dir,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | SHIM_FLAGS | ro,
        None::<&str>,
    )
    .at(|| {
        format!(
            "make the mount point shim on {} {}",
            dir.display(),
            if writable { "writable" } else { "read-only" }
        )
    })
}

/// In the init, before `volume` is mounted on `dest`: when `volume` is an empty directory and `dest` a
/// directory of the root, copies what is in `dest` into `volume` (files, directories, symbolic links, each
/// with its mode, owner and times; other kinds are left out). Symbolic links in `dest` are copied, never
/// followed, so the copy reads only the root.
///
/// A volume is a directory other running containers may share and change meanwhile, swapping one of its
/// directories for a link to anywhere on the host (CVE-2021-30465): the copy therefore goes entirely
/// through descriptors. Each entry is made with `*at(2)` calls in the descriptor of the directory it goes
/// in, and a directory is entered again with `O_NOFOLLOW` after it is made, so a swapped link fails the
/// copy instead of leading it out of the volume; the source's directories are entered the same way.
pub(crate) fn copy_up(dest: &Path, volume: &Path) -> Step<()> {
    use rustix::fs::{Mode, OFlags};
    let errno = |e: rustix::io::Errno| Errno::from_raw(e.raw_os_error());
    let dir = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let to = rustix::fs::open(volume, dir, Mode::empty())
        .map_err(errno)
        .at(|| format!("open volume {}", volume.display()))?;
    let empty = rustix::fs::Dir::read_from(&to)
        .map_err(errno)
        .at(|| format!("read volume {}", volume.display()))?
        .filter_map(Result::ok)
        .all(|e| matches!(e.file_name().to_bytes(), b"." | b".."));
    if !empty {
        return Ok(());
    }
    // `dest` is the descriptor path of the mount point resolved in the root; not a directory: nothing to copy.
    let Ok(from) = rustix::fs::open(dest, dir, Mode::empty()) else {
        return Ok(());
    };
    copy_dir(&from, &to)
        .and_then(|()| copy_attributes(&rustix::fs::fstat(&from)?, &to, None))
        .map_err(errno)
        .at(|| format!("copy {} into the volume", dest.display()))
}

/// Copies the entries of the directory open as `from` into the one open as `to`, recursively.
fn copy_dir(from: &OwnedFd, to: &OwnedFd) -> rustix::io::Result<()> {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    let dir = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for entry in rustix::fs::Dir::read_from(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let st = rustix::fs::statat(from, name, AtFlags::SYMLINK_NOFOLLOW)?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(from, name, Vec::new())?;
                rustix::fs::symlinkat(target.as_c_str(), to, name)?;
                copy_attributes(&st, to, Some(name))?;
            }
            FileType::Directory => {
                rustix::fs::mkdirat(to, name, Mode::from_bits_truncate(0o700))?;
                let src = rustix::fs::openat(from, name, dir, Mode::empty())?;
                let dst = rustix::fs::openat(to, name, dir, Mode::empty())?;
                copy_dir(&src, &dst)?;
                copy_attributes(&st, &dst, None)?;
            }
            FileType::RegularFile => {
                // O_NONBLOCK: what was a file when looked at may be a FIFO by now; never wait on one.
                let src = rustix::fs::openat(
                    from,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                if FileType::from_raw_mode(rustix::fs::fstat(&src)?.st_mode)
                    != FileType::RegularFile
                {
                    continue;
                }
                let dst = rustix::fs::openat(
                    to,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?;
                let (mut src, mut dst) = (fs::File::from(src), fs::File::from(dst));
                std::io::copy(&mut src, &mut dst).map_err(|e| {
                    rustix::io::Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EIO))
                })?;
                copy_attributes(&st, &OwnedFd::from(dst), None)?;
            }
            _ => continue,
        }
    }
    Ok(())
}

/// Owner, mode and times of `st` onto `fd`, or onto its entry `name` when given (a symbolic link, which
/// cannot be opened: changed without following it, and its mode is not its own).
fn copy_attributes(
    st: &rustix::fs::Stat,
    fd: &OwnedFd,
    name: Option<&std::ffi::CStr>,
) -> rustix::io::Result<()> {
    use rustix::fs::{AtFlags, Gid, Mode, Timespec, Timestamps, Uid};
    let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime as _,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime as _,
            tv_nsec: st.st_mtime_nsec as _,
        },
    };
    match name {
        Some(name) => {
            rustix::fs::chownat(fd, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)?;
            rustix::fs::utimensat(fd, name, &times, AtFlags::SYMLINK_NOFOLLOW)
        }
        None => {
            rustix::fs::fchown(fd, Some(uid), Some(gid))?;
            // After the owner: chown(2) clears set-user-ID and set-group-ID bits.
            rustix::fs::fchmod(fd, Mode::from_raw_mode(st.st_mode))?;
            rustix::fs::futimens(fd, &times)
        }
    }
}

fn e_name(name: &std::ffi::OsStr) -> String {
    name.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_data_lists_layers_top_first() {
        let o = Overlay {
            lower: vec!["/l/top".into(), "/l/base".into()],
            upper: "/c/upper".into(),
            work: "/c/work".into(),
        };
        assert_eq!(
            o.data(),
            "lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work"
        );
    }
}
