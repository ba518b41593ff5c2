//! Extracting an untrusted layer tarball into a directory without letting it write anywhere else.
//!
//! Every entry is created relative to the layer root through a directory descriptor of its parent, and that
//! parent is opened with `openat2(2)` and `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: the kernel resolves the
//! path as if the layer root were `/`, so `..` and absolute symlinks planted by earlier entries (`evil -> /`,
//! then `evil/etc/x`) stay inside it. The final component is never followed: files are created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` after removing whatever was there, directories with `mkdirat`, links with
//! `symlinkat`/`linkat` (which do not follow). Entry names are first cleaned lexically the way containerd
//! does (`/` and `.` dropped, `..` clamped at the root), so an archive cannot even name a path above it; the
//! kernel check is what holds against symlinks. A userspace `realpath`-then-open check (Docker's old
//! `FollowSymlinkInScope`) would be racy and is what this replaces.
//!
//! - Symlink targets are stored verbatim: they are resolved only later, inside the container's root.
//! - Hardlink targets are resolved inside the root like any path; the link itself is not followed, so a hard
//!   link can only ever point at an inode that is already inside the layer.
//! - Ownership, modes, mtimes and `SCHILY.xattr.*` PAX records (except overlayfs' own `trusted.overlay.*` and
//!   `user.overlay.*`, which a layer may not forge) are applied when [`Options::same_owner`] is set
//!   (the default when running as root); directories get their mode and mtime last, deepest first, so that
//!   creating their children neither fails on a read-only mode nor bumps the mtime.
//! - Character and block devices are created only with [`Options::allow_devices`]; otherwise they are skipped
//!   with a warning. FIFOs are always created.
//! - Whiteouts become what overlayfs reads: `.wh.NAME` a character device 0:0 named `NAME`, and
//!   `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr on its directory. Both need root.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use minotaur_sys::resolve;
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmod, futimens, makedev, mkdirat, mknodat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

/// What to do with the parts of a layer that need care.
#[derive(Debug, Clone)]
pub struct Options {
    /// Create character and block device nodes (off: skip them with a warning).
    pub allow_devices: bool,
    /// Apply the archive's owners and xattrs (needs root; on by default when running as root).
    pub same_owner: bool,
    /// The IDs of a user namespace the files are for: with `same_owner` the archive's owners are the
    /// namespace's IDs, written as the host IDs they are (an ID outside the range is an error); without it
    /// every entry belongs to the namespace's root.
    pub id_map: Option<IdRange>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_devices: false,
            same_owner: nix::unistd::geteuid().is_root(),
            id_map: None,
        }
    }
}

/// A user namespace's IDs `0..size`, which are the host's `uid..uid+size` and `gid..gid+size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
}

impl IdRange {
    /// The host IDs of the namespace's `(uid, gid)`, or which of them is outside the range.
    pub fn to_host(&self, uid: u64, gid: u64) -> Result<(u64, u64), (&'static str, u64)> {
        let size = u64::from(self.size);
        if uid >= size {
            return Err(("uid", uid));
        }
        if gid >= size {
            return Err(("gid", gid));
        }
        Ok((u64::from(self.uid) + uid, u64::from(self.gid) + gid))
    }

    /// The namespace's ID for host ID `host` whose range starts at `start`: the overflow ID (65534,
    /// `nobody`) when the namespace has none for it, as the kernel shows such IDs inside.
    pub fn to_inside(start: u32, size: u32, host: u64) -> u64 {
        host.checked_sub(u64::from(start))
            .filter(|id| *id < u64::from(size))
            .unwrap_or(OVERFLOW_ID)
    }
}

/// The ID the kernel shows for one a user namespace does not map (`/proc/sys/kernel/overflowuid`).
pub const OVERFLOW_ID: u64 = 65534;

/// Why a layer could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("cannot read the layer archive")]
    Read(#[source] io::Error),
    #[error("cannot open the layer root {0}")]
    Root(PathBuf, #[source] Errno),
    #[error("cannot {op} {path:?} in the layer")]
    Entry {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("cannot write {0:?} in the layer")]
    Write(PathBuf, #[source] io::Error),
    #[error("hard link {path:?} points at {target:?}, which is not a file in the layer")]
    HardlinkTarget {
        path: PathBuf,
        target: PathBuf,
        #[source]
        source: Errno,
    },
    #[error(
        "sparse file {path:?} in the layer claims {real} bytes with {data} of data: more than 1 GiB of holes"
    )]
    SparseHoles { path: PathBuf, real: u64, data: u64 },
    #[error("{path:?} is owned by {what} {id}, outside the container's {size} IDs")]
    OutOfRange {
        path: PathBuf,
        what: &'static str,
        id: u64,
        size: u32,
    },
    #[error("openat2 is not available (Linux 5.6 or later is needed to extract layers safely)")]
    NoOpenat2(#[source] Errno),
}

/// The most a GNU sparse entry's holes may add to its data. The tar reader hands holes over as zeros, so a
/// header of a few hundred bytes could otherwise claim terabytes: written out they would fill the disk, and
/// even read they take minutes. Image tools do not write sparse entries (the OCI layer format advises
/// against them), so a real layer does not come near this.
const SPARSE_HOLES_MAX: u64 = 1 << 30;

/// Copies a sparse entry, leaving its runs of zeros as holes in `file` rather than writing them.
fn copy_sparse(entry: &mut impl Read, file: &mut std::fs::File) -> io::Result<u64> {
    use std::io::{Seek, SeekFrom, Write};
    let mut buf = vec![0u8; 64 << 10];
    let mut at = 0u64;
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf[..n].iter().any(|&b| b != 0) {
            file.seek(SeekFrom::Start(at))?;
            file.write_all(&buf[..n])?;
        }
        at += n as u64;
    }
    file.set_len(at)?;
    Ok(at)
}

/// A read error of the archive, with the control characters it quotes from the archive's headers (the
/// tar reader names the bytes it could not parse) escaped, so that the error stays one line.
fn read_err(e: io::Error) -> ExtractError {
    let text = e.to_string();
    if !text.contains(|c: char| c.is_control()) {
        return ExtractError::Read(e);
    }
    let escaped: String = text
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    ExtractError::Read(io::Error::new(e.kind(), escaped))
}

fn entry_err(op: &'static str, path: &Path) -> impl FnOnce(Errno) -> ExtractError {
    let path = path.to_path_buf();
    move |source| ExtractError::Entry { op, path, source }
}

/// What an extraction produced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Bytes of regular file content written (hard links counted once), Docker's layer size.
    pub size: u64,
    /// Entries not extracted (devices without `allow_devices`, unknown entry types).
    pub skipped: usize,
}

/// Extracts the uncompressed tar stream `archive` into the existing directory `root`.
///
/// Reads entries until the end-of-archive marker; the caller drains whatever follows if it hashes the stream.
/// On error `root` holds a partial tree: extract into a temporary directory and rename it into place.
pub fn extract(archive: impl Read, root: &Path, opts: &Options) -> Result<Summary, ExtractError> {
    let root_fd = openat(
        nix::fcntl::AT_FDCWD,
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ExtractError::Root(root.to_path_buf(), e))?;
    let mut ex = Extractor {
        root: root_fd,
        opts,
        summary: Summary::default(),
        dirs: HashMap::new(),
        buf: vec![0; COPY_BUFFER],
    };
    let mut ar = tar::Archive::new(archive);
    for entry in ar.entries().map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        ex.entry(entry)?;
    }
    ex.finish_dirs()?;
    Ok(ex.summary)
}

/// Opens the file at `path` below `root` for reading, resolving every component (symlinks included) as if
/// `root` were `/`: what an archive unpacked with [`extract`] names can only be found inside it.
pub fn open_in_root(root: &Path, path: &Path) -> Result<std::fs::File, ExtractError> {
    let root_fd = openat(
        nix::fcntl::AT_FDCWD,
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ExtractError::Root(root.to_path_buf(), e))?;
    let p = clean(path);
    let fd = resolve::open_in_root(&root_fd, &p, OFlag::O_RDONLY).map_err(entry_err("open", &p))?;
    Ok(std::fs::File::from(fd))
}

/// Cleans an archive path lexically: drops `/` and `.`, clamps `..` at the root. `None` for the root itself.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Bytes of file content written at once. `io::copy` writes 8 KiB at a time: 128 system calls per MiB
/// where this makes four.
const COPY_BUFFER: usize = 256 * 1024;

/// Copies `from` to its end into `to`, through `buf`, each write as large as `buf`; returns the bytes copied.
fn copy(from: &mut impl Read, to: &mut std::fs::File, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match from.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok(total);
        }
        to.write_all(&buf[..filled])?;
        total += filled as u64;
    }
}

/// Metadata applied to a directory once everything below it exists.
struct DirMeta {
    path: PathBuf,
    mode: u32,
    mtime: TimeSpec,
}

struct Extractor<'o> {
    root: OwnedFd,
    opts: &'o Options,
    summary: Summary,
    /// Keyed by path: a directory listed twice gets the metadata of its last entry.
    dirs: HashMap<PathBuf, DirMeta>,
    /// File content passes through here, [`COPY_BUFFER`] bytes per write.
    buf: Vec<u8>,
}

impl Extractor<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ExtractError> {
        let raw = entry.path().map_err(read_err)?.into_owned();
        let path = clean(&raw);
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().map_err(read_err)? & 0o7777;
        let device = (header.device_major(), header.device_minor());
        let link = entry.link_name().map_err(read_err)?.map(|l| l.into_owned());
        // PAX records override the header (sub-second mtimes, large IDs) and carry the xattrs.
        let pax = pax(&mut entry)?;
        let header = entry.header();
        let mtime = match pax.mtime {
            Some(t) => t,
            None => TimeSpec::new(header.mtime().map_err(read_err)? as i64, 0),
        };
        // Owners are parsed only when applied: some writers leave the fields blank.
        let (uid, gid, xattrs) = if self.opts.same_owner {
            let uid = match pax.uid {
                Some(u) => u,
                None => header.uid().map_err(read_err)?,
            };
            let gid = match pax.gid {
                Some(g) => g,
                None => header.gid().map_err(read_err)?,
            };
            (uid, gid, pax.xattrs)
        } else {
            (0, 0, Vec::new())
        };
        let owner = match (self.opts.same_owner, self.opts.id_map) {
            (true, None) => Some((uid, gid)),
            (true, Some(m)) => {
                Some(
                    m.to_host(uid, gid)
                        .map_err(|(what, id)| ExtractError::OutOfRange {
                            path: path.clone(),
                            what,
                            id,
                            size: m.size,
                        })?,
                )
            }
            (false, Some(m)) => Some((u64::from(m.uid), u64::from(m.gid))),
            (false, None) => None,
        };

        let name = path.file_name().map(OsStr::to_os_string);
        let parent_path = path.parent().unwrap_or(Path::new("")).to_path_buf();

        // Whiteouts first: they are regular-looking entries with a reserved name.
        if let Some(n) = name
            .as_ref()
            .and_then(|n| n.as_bytes().strip_prefix(b".wh."))
        {
            let parent = self.ensure_dir(&parent_path)?;
            if n == b".wh..opq" {
                let dir = self
                    .open_in_root(&parent_path.join("."), OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
                rustix::fs::fsetxattr(
                    &dir,
                    "trusted.overlay.opaque",
                    b"y",
                    rustix::fs::XattrFlags::empty(),
                )
                .map_err(|e| {
                    entry_err("mark opaque", &parent_path)(Errno::from_raw(e.raw_os_error()))
                })?;
            } else if n.starts_with(b".wh.") {
                log::debug!("skipping aufs metadata {}", raw.display());
            } else if matches!(n, b"" | b"." | b"..") {
                // Whiting out "." or ".." would name the directory itself or its parent, which for the
                // layer root is outside the layer: regression `whiteouts_of_dot_and_dotdot_remove_nothing`.
                log::warn!("skipping whiteout {} of no file", raw.display());
                self.summary.skipped += 1;
            } else {
                let hidden = OsStr::from_bytes(n);
                let target = parent_path.join(hidden);
                remove_at(&parent, hidden).map_err(entry_err("replace", &target))?;
                mknodat(
                    &parent,
                    hidden,
                    SFlag::S_IFCHR,
                    Mode::empty(),
                    makedev(0, 0),
                )
                .map_err(entry_err("create whiteout", &target))?;
                if let Some((u, g)) = owner {
                    chown_at(&parent, hidden, u, g).map_err(entry_err("chown", &target))?;
                }
            }
            return Ok(());
        }

        let Some(name) = name else {
            // The root itself (`./`): only its metadata matters.
            if kind.is_dir() {
                self.dir_meta(&path, mode, mtime, owner, &xattrs)?;
            }
            return Ok(());
        };
        if raw.components().any(|c| c == Component::ParentDir) {
            log::warn!(
                "layer entry {} has '..' components; extracting it as {}",
                raw.display(),
                path.display()
            );
        }

        let parent = self.ensure_dir(&parent_path)?;
        match kind {
            tar::EntryType::Directory => {
                let exists_as_dir = matches!(
                    nix::sys::stat::fstatat(&parent, name.as_os_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW),
                    Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
                );
                if !exists_as_dir {
                    remove_at(&parent, &name).map_err(entry_err("replace", &path))?;
                    mkdirat(&parent, name.as_os_str(), Mode::from_bits_truncate(0o700))
                        .map_err(entry_err("create directory", &path))?;
                }
                self.dir_meta(&path, mode, mtime, owner, &xattrs)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                remove_at(&parent, &name).map_err(entry_err("replace", &path))?;
                let fd = openat(
                    &parent,
                    name.as_os_str(),
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(entry_err("create file", &path))?;
                let mut file = std::fs::File::from(fd);
                let written = if kind == tar::EntryType::GNUSparse {
                    let (real, data) = (entry.size(), entry.header().entry_size().unwrap_or(0));
                    if real.saturating_sub(data) > SPARSE_HOLES_MAX {
                        return Err(ExtractError::SparseHoles { path, real, data });
                    }
                    copy_sparse(&mut entry, &mut file)
                } else {
                    copy(&mut entry, &mut file, &mut self.buf)
                };
                self.summary.size += written.map_err(|e| ExtractError::Write(path.clone(), e))?;
                if let Some((u, g)) = owner {
                    fchown(
                        &file,
                        Some(Uid::from_raw(u as u32)),
                        Some(Gid::from_raw(g as u32)),
                    )
                    .map_err(entry_err("chown", &path))?;
                }
                fchmod(&file, Mode::from_bits_truncate(mode)).map_err(entry_err("chmod", &path))?;
                set_xattrs(&file, &xattrs, &path)?;
                let t = mtime;
                futimens(&file, &t, &t).map_err(entry_err("set the mtime of", &path))?;
            }
            tar::EntryType::Symlink => {
                let target = link.unwrap_or_default();
                remove_at(&parent, &name).map_err(entry_err("replace", &path))?;
                symlinkat(target.as_os_str(), &parent, name.as_os_str())
                    .map_err(entry_err("create symlink", &path))?;
                if let Some((u, g)) = owner {
                    chown_at(&parent, &name, u, g).map_err(entry_err("chown", &path))?;
                }
                let t = mtime;
                nix::sys::stat::utimensat(
                    &parent,
                    name.as_os_str(),
                    &t,
                    &t,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )
                .map_err(entry_err("set the mtime of", &path))?;
            }
            tar::EntryType::Link => {
                let target = clean(&link.unwrap_or_default());
                let hardlink_err = |source| ExtractError::HardlinkTarget {
                    path: path.clone(),
                    target: target.clone(),
                    source,
                };
                let (Some(tname), Some(tparent)) = (target.file_name(), target.parent()) else {
                    return Err(hardlink_err(Errno::EISDIR));
                };
                let tdir = self
                    .open_in_root(&tparent.join("."), OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .map_err(|_| hardlink_err(Errno::ENOENT))?;
                // Refuse before removing anything: the target must exist and must not be a directory.
                match nix::sys::stat::fstatat(
                    &tdir,
                    tname,
                    nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                ) {
                    Ok(st)
                        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
                            == SFlag::S_IFDIR =>
                    {
                        return Err(hardlink_err(Errno::EISDIR))
                    }
                    Ok(_) => {}
                    Err(e) => return Err(hardlink_err(e)),
                }
                if target == path {
                    return Ok(());
                }
                remove_at(&parent, &name).map_err(entry_err("replace", &path))?;
                // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself, never what it points at.
                linkat(
                    &tdir,
                    tname,
                    &parent,
                    name.as_os_str(),
                    nix::fcntl::AtFlags::empty(),
                )
                .map_err(hardlink_err)?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let sflag = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                if sflag != SFlag::S_IFIFO && !self.opts.allow_devices {
                    log::warn!(
                        "skipping device node {} (devices are not allowed in this layer)",
                        path.display()
                    );
                    self.summary.skipped += 1;
                    return Ok(());
                }
                let (major, minor) = match device {
                    (Ok(Some(ma)), Ok(Some(mi))) => (ma, mi),
                    _ => (0, 0),
                };
                remove_at(&parent, &name).map_err(entry_err("replace", &path))?;
                mknodat(
                    &parent,
                    name.as_os_str(),
                    sflag,
                    Mode::from_bits_truncate(mode),
                    makedev(major.into(), minor.into()),
                )
                .map_err(entry_err("create node", &path))?;
                if let Some((u, g)) = owner {
                    chown_at(&parent, &name, u, g).map_err(entry_err("chown", &path))?;
                }
                // mknod applies the umask; the node was just created here (not a symlink), so set its exact mode.
                nix::sys::stat::fchmodat(
                    &parent,
                    name.as_os_str(),
                    Mode::from_bits_truncate(mode),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .map_err(entry_err("chmod", &path))?;
                let t = mtime;
                nix::sys::stat::utimensat(
                    &parent,
                    name.as_os_str(),
                    &t,
                    &t,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )
                .map_err(entry_err("set the mtime of", &path))?;
            }
            other => {
                log::warn!(
                    "skipping {} of unsupported tar type {other:?}",
                    path.display()
                );
                self.summary.skipped += 1;
            }
        }
        Ok(())
    }

    /// Applies owner and xattrs to the directory at `path` now, and records its mode and mtime for the end.
    fn dir_meta(
        &mut self,
        path: &Path,
        mode: u32,
        mtime: TimeSpec,
        owner: Option<(u64, u64)>,
        xattrs: &[(OsString, Vec<u8>)],
    ) -> Result<(), ExtractError> {
        let dir = self.open_in_root(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        if let Some((u, g)) = owner {
            fchown(
                &dir,
                Some(Uid::from_raw(u as u32)),
                Some(Gid::from_raw(g as u32)),
            )
            .map_err(entry_err("chown", path))?;
        }
        set_xattrs(&dir, xattrs, path)?;
        self.dirs.insert(
            path.to_path_buf(),
            DirMeta {
                path: path.to_path_buf(),
                mode,
                mtime,
            },
        );
        Ok(())
    }

    /// Sets the recorded directory modes and mtimes, deepest first.
    fn finish_dirs(&mut self) -> Result<(), ExtractError> {
        let mut dirs: Vec<DirMeta> = std::mem::take(&mut self.dirs).into_values().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.path.components().count()));
        for d in dirs {
            // A later entry may have replaced the directory with something else: then there is nothing to do.
            let Ok(dir) = self.open_in_root(&d.path, OFlag::O_RDONLY | OFlag::O_DIRECTORY) else {
                continue;
            };
            fchmod(&dir, Mode::from_bits_truncate(d.mode)).map_err(entry_err("chmod", &d.path))?;
            let t = d.mtime;
            futimens(&dir, &t, &t).map_err(entry_err("set the mtime of", &d.path))?;
        }
        Ok(())
    }

    /// Opens `path` (relative to the layer root, resolved as if the root were `/`), not following a final
    /// symlink. The empty path is the root itself.
    fn open_in_root(&self, path: &Path, flags: OFlag) -> Result<OwnedFd, ExtractError> {
        match resolve::open_in_root(&self.root, path, flags | OFlag::O_NOFOLLOW) {
            Err(e @ Errno::ENOSYS) => Err(ExtractError::NoOpenat2(e)),
            r => r.map_err(entry_err("open", path)),
        }
    }

    /// Opens directory `path` inside the root, creating missing components (mode 0755) one at a time, each
    /// inside a parent that was itself resolved in the root. A component that is a dangling symlink has its
    /// target created (inside the root), as Docker's `MkdirAll` through the symlink would.
    fn ensure_dir(&self, path: &Path) -> Result<OwnedFd, ExtractError> {
        self.ensure_dir_depth(path, 0)
    }

    fn ensure_dir_depth(&self, path: &Path, depth: usize) -> Result<OwnedFd, ExtractError> {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
        // "path/." so that a symlinked directory as the last component is followed (inside the root).
        match self.open_in_root(&path.join("."), flags) {
            Err(ExtractError::Entry {
                source: Errno::ENOENT,
                ..
            }) => {}
            r => return r,
        }
        let mut cur = PathBuf::new();
        let mut dir = self.open_in_root(&cur, flags)?;
        for c in path.components() {
            cur.push(c);
            match self.open_in_root(&cur.join("."), flags) {
                Ok(d) => dir = d,
                Err(ExtractError::Entry {
                    source: Errno::ENOENT,
                    ..
                }) => {
                    match mkdirat(&dir, c.as_os_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) => {}
                        Err(Errno::EEXIST) => {
                            // A dangling symlink. Its target is cleaned lexically like an entry name (relative
                            // to the symlink's own path) and created; the re-open below still resolves the
                            // symlink in the root, so a wrong guess can only fail, never escape.
                            let target = nix::fcntl::readlinkat(&dir, c.as_os_str())
                                .map_err(entry_err("read symlink", &cur))?;
                            if depth >= 16 {
                                return Err(entry_err("resolve", &cur)(Errno::ELOOP));
                            }
                            let base = cur.parent().unwrap_or(Path::new(""));
                            self.ensure_dir_depth(&clean(&base.join(target)), depth + 1)?;
                        }
                        Err(e) => return Err(entry_err("create directory", &cur)(e)),
                    }
                    dir = self.open_in_root(&cur.join("."), flags)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(dir)
    }
}

/// Removes whatever is at `name` in `dir` (a whole tree for a directory); absent is fine.
fn remove_at(dir: &impl AsFd, name: &OsStr) -> Result<(), Errno> {
    // Never "." or "..": those are the directory itself and its parent, not entries in it.
    if name.is_empty() || name == "." || name == ".." || name.as_bytes().contains(&b'/') {
        return Err(Errno::EINVAL);
    }
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR) => {}
        Err(e) => return Err(e),
    }
    let sub = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut entries = nix::dir::Dir::from_fd(sub)?;
    let names: Vec<OsString> = entries
        .iter()
        .filter_map(Result::ok)
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect();
    for n in names {
        remove_at(&entries, &n)?;
    }
    drop(entries);
    unlinkat(dir, name, UnlinkatFlags::RemoveDir)
}

fn chown_at(dir: &impl AsFd, name: &OsStr, uid: u64, gid: u64) -> Result<(), Errno> {
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(uid as u32)),
        Some(Gid::from_raw(gid as u32)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// What an entry's PAX records say that matters here.
#[derive(Default)]
struct Pax {
    xattrs: Vec<(OsString, Vec<u8>)>,
    mtime: Option<TimeSpec>,
    uid: Option<u64>,
    gid: Option<u64>,
}

/// Reads an entry's PAX records: `SCHILY.xattr.*`, `mtime` (decimal seconds, maybe fractional), `uid`, `gid`.
/// Malformed numbers are ignored in favour of the header's fields.
fn pax<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Pax, ExtractError> {
    let mut out = Pax::default();
    let Some(exts) = entry.pax_extensions().map_err(read_err)? else {
        return Ok(out);
    };
    for ext in exts {
        let ext = ext.map_err(read_err)?;
        let key = ext.key_bytes();
        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
            // overlayfs reads its own xattrs (redirect, metacopy, origin, opaque…) from lower layers: a layer
            // may not forge them. Opaque directories come only from `.wh..wh..opq` markers.
            if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
                log::warn!(
                    "skipping overlayfs xattr {} in the layer",
                    String::from_utf8_lossy(name)
                );
                continue;
            }
            out.xattrs.push((
                OsStr::from_bytes(name).to_os_string(),
                ext.value_bytes().to_vec(),
            ));
            continue;
        }
        let Ok(value) = std::str::from_utf8(ext.value_bytes()) else {
            continue;
        };
        match key {
            b"mtime" => out.mtime = parse_pax_time(value),
            b"uid" => out.uid = value.parse().ok(),
            b"gid" => out.gid = value.parse().ok(),
            _ => {}
        }
    }
    Ok(out)
}

/// `1700000000.123456789` (or without a fraction) as a TimeSpec.
fn parse_pax_time(v: &str) -> Option<TimeSpec> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    if secs < 0 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    Some(TimeSpec::new(secs, digits.parse().ok()?))
}

fn set_xattrs(
    fd: &impl AsFd,
    xattrs: &[(OsString, Vec<u8>)],
    path: &Path,
) -> Result<(), ExtractError> {
    for (name, value) in xattrs {
        rustix::fs::fsetxattr(fd, name.as_os_str(), value, rustix::fs::XattrFlags::empty())
            .map_err(|e| entry_err("set an xattr on", path)(Errno::from_raw(e.raw_os_error())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_clamps_and_strips() {
        assert_eq!(clean(Path::new("/etc/passwd")), Path::new("etc/passwd"));
        assert_eq!(clean(Path::new("../../x")), Path::new("x"));
        assert_eq!(clean(Path::new("a/../../b/./c")), Path::new("b/c"));
        assert_eq!(clean(Path::new("./")), Path::new(""));
    }

    #[test]
    fn pax_times_parse_with_and_without_fraction() {
        assert_eq!(
            parse_pax_time("1795977346.87845033"),
            Some(TimeSpec::new(1795977346, 878450330))
        );
        assert_eq!(parse_pax_time("5"), Some(TimeSpec::new(5, 0)));
        assert_eq!(parse_pax_time("-5.5"), None);
        assert_eq!(parse_pax_time("x"), None);
    }
}
