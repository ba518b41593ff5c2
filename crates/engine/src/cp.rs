//! `cp`: copying files between a container and the host (or a tar stream), both ways, on running and
//! stopped containers, as Docker's `cp` does.
//!
//! Every path in the container is resolved by the kernel with `openat2(2)` and `RESOLVE_IN_ROOT` from a
//! descriptor of the container's root, so `..` and symbolic links (absolute ones included) stay inside it,
//! whatever the container planted; below the resolved path, directories are walked entry by entry with
//! `O_NOFOLLOW`, and a symbolic link is copied as a link, never followed. Writes go through the image
//! store's layer extractor, which creates each entry the same way.
//!
//! Which root:
//! - a running container: its root as its processes see it, `/proc/PID/root`, mounts included (its
//!   overlay, volumes, binds, tmpfs). What is read-only there (`--read-only`, the `host` image's `/`, a
//!   `:ro` bind) refuses writes with EROFS, reported as Docker reports a read-only root;
//! - a stopped image container: its overlay, mounted detached (see the runtime's `detached` module),
//!   read-only for `--read-only`, so writes go to its upper layer; its start is held off meanwhile;
//! - a stopped `host` container: the host's `/`, read-only;
//! - and for a stopped container, a path below a volume or bind mount point is resolved in that volume or
//!   bind's directory instead (the mount point being its root).
//!
//! A container with a user namespace of its own (`--userns=auto`) has its IDs `0..N` at a range of host
//! IDs. Its root is seen with host IDs (a stopped one's through the same idmapped layers it runs on, see
//! the runtime's `idmap` module), and `cp` speaks the container's IDs, as Docker's does with
//! userns-remap: what it writes belongs to the container's root, or with `-a` (and from a tar stream) to
//! the source's owners taken as the container's IDs, written as the range's (an owner outside the range
//! is refused); what it reads is shown with the container's IDs (`nobody`, 65534, for a host ID outside
//! the range, as the kernel shows it inside).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use minotaur_image::extract::{self, ExtractError, IdRange, Options};
use minotaur_sys::resolve::open_in_root;
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};

use crate::container::IdMap;
use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::EngineError;
use crate::process::alive;
use crate::runroot;

pub use crate::error::cp::CpError;

/// One side of a copy, as Docker reads `cp`'s arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// `-`: a tar stream on standard input or output.
    Stream,
    Local(PathBuf),
    Container {
        container: String,
        path: String,
    },
}

impl End {
    /// Docker's rule: an argument that starts with `/` or `.` is a local path (so `./a:b` is a file), else
    /// `NAME:PATH` names a path in a container, else it is a local path.
    pub fn parse(arg: &str) -> End {
        if arg == "-" {
            return End::Stream;
        }
        if arg.starts_with('/') || arg.starts_with('.') {
            return End::Local(arg.into());
        }
        match arg.split_once(':') {
            Some((c, p)) if !c.is_empty() => End::Container {
                container: c.to_owned(),
                path: p.to_owned(),
            },
            _ => End::Local(arg.into()),
        }
    }
}

/// `cp`'s flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyOptions {
    /// `-a`: keep the source's owners (by default what is copied into a container belongs to root).
    pub archive: bool,
    /// `-L`: follow a symbolic link that is the source.
    pub follow_link: bool,
}

/// A mount point whose directory stands in for the container's path while it does not run.
struct MountPoint {
    destination: PathBuf,
    source: PathBuf,
}

/// A container's root, as `cp` reaches it.
struct View {
    name: String,
    root: OwnedFd,
    /// Volumes and binds, for a stopped container (a running one's are in its root).
    mounts: Vec<MountPoint>,
    /// False for a stopped `host` container's root, which is the host's.
    writable: bool,
    /// The container's ID range, with `--userns=auto`: the root shows host IDs (its layers idmapped as
    /// the container's own root has them), which `cp` maps to the container's and back.
    ids: Option<IdMap>,
    _lock: Option<nix::fcntl::Flock<File>>,
}

/// What a path is resolved in: the container's root, or a volume's or bind's directory.
enum Root<'a> {
    Container(BorrowedFd<'a>),
    Mount(OwnedFd),
}

impl AsFd for Root<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Root::Container(fd) => fd.as_fd(),
            Root::Mount(fd) => fd.as_fd(),
        }
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    openat(
        nix::fcntl::AT_FDCWD,
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// `path` in the container, cleaned: absolute, no `.` or `..` (clamped at the root).
fn container_path(path: &str) -> PathBuf {
    Path::new("/").join(extract::clean(Path::new(path)))
}

impl View {
    fn open(ctx: &Context, c: &Container) -> Result<View, EngineError> {
        let name = c.name.to_string();
        let sys = |what: &'static str, path: &Path| {
            let (name, path) = (name.clone(), path.display().to_string());
            move |source| CpError::Container {
                what,
                path,
                container: name,
                source,
            }
        };
        let h = &c.config.host;
        let ids = h.userns;
        if c.state.status == Status::Running && alive(c.state.pid, c.state.pid_start_time) {
            let root = PathBuf::from(format!("/proc/{}/root", c.state.pid));
            return Ok(View {
                root: open_dir(&root).map_err(sys("open the root", Path::new("/")))?,
                mounts: Vec::new(),
                writable: true,
                ids,
                name,
                _lock: None,
            });
        }
        let mut mounts: Vec<MountPoint> = h
            .binds
            .iter()
            .map(|b| MountPoint {
                destination: container_path(&b.destination.to_string_lossy()),
                source: b.source.clone(),
            })
            .chain(h.volumes.iter().map(|v| MountPoint {
                destination: container_path(&v.destination.to_string_lossy()),
                source: ctx.paths.volume_dir(&v.name).join("_data"),
            }))
            .collect();
        // The deepest mount point first: it is the one a path below several is in.
        mounts.sort_by_key(|m| std::cmp::Reverse(m.destination.components().count()));
        if c.config.image_id == "host" {
            let root = match &ids {
                // The host's tree as the container sees it, each mount idmapped where it can be.
                Some(m) => minotaur_runtime::detached::idmapped_tree(Path::new("/"), &m.maps())?,
                None => open_dir(Path::new("/")).map_err(sys("open the root", Path::new("/")))?,
            };
            return Ok(View {
                root,
                mounts,
                writable: false,
                ids,
                name,
                _lock: None,
            });
        }
        // Held until the copy ends: a start meanwhile would mount the same upper layer again.
        let lock = runroot::lock_container(&ctx.paths, &c.id)?;
        let images = minotaur_image::Store::open(&ctx.paths.root)?;
        let id = images.resolve(&c.config.image_id)?;
        let overlay = runroot::overlay(images.lower_dirs(&id)?, &ctx.paths.container_dir(&c.id))?;
        let root = match &ids {
            Some(m) => {
                minotaur_runtime::detached::idmapped_overlay(&overlay, &m.maps(), h.read_only)?
            }
            None => {
                minotaur_runtime::detached::overlay(&overlay, h.read_only).map_err(CpError::from)?
            }
        };
        Ok(View {
            root,
            mounts,
            writable: true,
            ids,
            name,
            _lock: Some(lock),
        })
    }

    /// The root to resolve `path` (absolute, clean) in, the path relative to it, and whether writes may
    /// be tried there.
    fn place(&self, path: &Path) -> Result<(Root<'_>, PathBuf, bool), CpError> {
        for m in &self.mounts {
            if let Ok(rest) = path.strip_prefix(&m.destination) {
                // Opened per call: volumes are few and a copy resolves a handful of paths.
                let fd = open_dir(&m.source).map_err(|source| CpError::Container {
                    what: "open the mount source of",
                    path: m.destination.display().to_string(),
                    container: self.name.clone(),
                    source,
                })?;
                return Ok((Root::Mount(fd), rest.to_owned(), true));
            }
        }
        let rel = path.strip_prefix("/").unwrap_or(path).to_owned();
        Ok((Root::Container(self.root.as_fd()), rel, self.writable))
    }

    /// Opens `path` (absolute, clean) with `O_PATH`, resolved in the container's root; the last component
    /// is followed only with `follow`.
    fn resolve(&self, path: &Path, follow: bool) -> Result<Option<(OwnedFd, bool)>, CpError> {
        let (root, rel, writable) = self.place(path)?;
        let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
        if !follow {
            flags |= OFlag::O_NOFOLLOW;
        }
        match open_in_root(root, &rel, flags) {
            Ok(fd) => Ok(Some((fd, writable))),
            Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
            Err(source) => Err(CpError::Container {
                what: "resolve",
                path: path.display().to_string(),
                container: self.name.clone(),
                source,
            }),
        }
    }

    fn not_found(&self, path: &Path) -> CpError {
        CpError::NotFound {
            path: path.display().to_string(),
            container: self.name.clone(),
        }
    }
}

fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

/// True when the user's path names a directory's contents (`dir/.`), Docker's "copy what is inside".
fn names_contents(path: &str) -> bool {
    path.ends_with("/.") || path == "."
}

/// A path's last component, as the name its copy gets; `.` for the root.
fn base_name(path: &Path) -> PathBuf {
    path.file_name()
        .map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// Copies `path` of container `reference` out: as a tar stream to `to`, or to the local path `local`
/// (Docker's rules: into it when it is a directory, as it otherwise). Returns the bytes of file content.
pub fn copy_out(
    ctx: &Context,
    reference: &str,
    path: &str,
    local: Option<&Path>,
    to: &mut dyn Write,
    opts: CopyOptions,
) -> Result<u64, EngineError> {
    let c = ctx.find(reference)?;
    let view = View::open(ctx, &c)?;
    let src = container_path(path);
    let (fd, _) = view
        .resolve(&src, opts.follow_link)?
        .ok_or_else(|| view.not_found(&src))?;
    let st = fstat(&fd).map_err(|source| CpError::Container {
        what: "stat",
        path: src.display().to_string(),
        container: view.name.clone(),
        source,
    })?;
    if path.ends_with('/') && !is_dir(&st) {
        return Err(CpError::NotADirectory(path.to_owned()).into());
    }
    let contents = names_contents(path) && is_dir(&st);
    let Some(local) = local else {
        let top = if contents {
            PathBuf::from(".")
        } else {
            base_name(&src)
        };
        let mut w = TarWriter::new(to, &view);
        w.entry(&fd, &st, &top, &src)?;
        w.finish()?;
        return Ok(w.bytes);
    };
    // Where the copy goes on the host, and its top name there.
    let local_err = |what, p: &Path| {
        let p = p.to_owned();
        move |source| CpError::Local {
            what,
            path: p,
            source,
        }
    };
    let (dir, top) = match std::fs::metadata(local) {
        Ok(m) if m.is_dir() => (
            local.to_owned(),
            if contents {
                PathBuf::from(".")
            } else {
                base_name(&src)
            },
        ),
        Ok(_) if is_dir(&st) => return Err(CpError::DirToFile(local.display().to_string()).into()),
        Ok(_) => (parent_of(local), base_name(local)),
        Err(_) => {
            let parent = parent_of(local);
            if !parent.is_dir() {
                return Err(CpError::NoLocalDir(parent).into());
            }
            if local.as_os_str().as_bytes().ends_with(b"/") && !is_dir(&st) {
                return Err(CpError::NoLocalDir(local.to_owned()).into());
            }
            if contents {
                std::fs::create_dir(local).map_err(local_err("create", local))?;
                (local.to_owned(), PathBuf::from("."))
            } else {
                (parent, base_name(local))
            }
        }
    };
    let (r, w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(crate::error::sys_err("make a pipe"))?;
    let mut reader = File::from(r);
    let mut writer = File::from(w);
    let (view, fd, st, top, src) = (&view, &fd, &st, &top, &src);
    std::thread::scope(|s| -> Result<u64, EngineError> {
        let producer = s.spawn(move || -> Result<u64, EngineError> {
            let n = {
                let mut w = TarWriter::new(&mut writer, view);
                w.entry(fd, st, top, src)?;
                w.finish()?;
                w.bytes
            };
            // The end of the stream for the reader.
            drop(writer);
            Ok(n)
        });
        let mut ar = tar::Archive::new(&mut reader);
        ar.set_preserve_permissions(true);
        ar.set_preserve_mtime(true);
        ar.set_preserve_ownerships(opts.archive);
        ar.set_overwrite(true);
        let unpacked = ar.unpack(&dir).map_err(local_err("write to", &dir));
        // Whatever the producer still writes fails (EPIPE) once the reader is gone: it cannot block.
        drop(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        unpacked?;
        produced
    })
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Copies into `path` of container `reference`: a tar stream read from `from` (extracted into `path`,
/// which must be a directory), or the local path `local` (Docker's rules, as for [`copy_out`]). Returns
/// the bytes of file content written.
pub fn copy_in(
    ctx: &Context,
    reference: &str,
    path: &str,
    local: Option<&Path>,
    from: &mut dyn Read,
    opts: CopyOptions,
) -> Result<u64, EngineError> {
    let c = ctx.find(reference)?;
    let local_meta = match local {
        Some(l) => Some(std::fs::symlink_metadata(l).map_err(|_| CpError::NoLocal(l.to_owned()))?),
        None => None,
    };
    let view = View::open(ctx, &c)?;
    let dest = container_path(path);
    let contents = local.is_some_and(|l| names_contents(&l.to_string_lossy()));
    let src_dir = local_meta.as_ref().is_some_and(|m| m.is_dir());
    let stat = |fd: &OwnedFd, p: &Path| {
        fstat(fd).map_err(|source| CpError::Container {
            what: "stat",
            path: p.display().to_string(),
            container: view.name.clone(),
            source,
        })
    };
    // The directory to extract into, and the name the source gets there.
    let (dir, top, writable) = match view.resolve(&dest, true)? {
        Some((fd, w)) if is_dir(&stat(&fd, &dest)?) => {
            let top = match local {
                None => None,
                Some(_) if contents => Some(PathBuf::from(".")),
                Some(l) => Some(base_name(&extract::clean(l))),
            };
            (fd, top, w)
        }
        Some(_) if local.is_none() => return Err(CpError::NotADirectory(path.to_owned()).into()),
        Some(_) if src_dir => return Err(CpError::DirToFile(path.to_owned()).into()),
        found => {
            if local.is_none() {
                return Err(view.not_found(&dest).into());
            }
            let parent = dest.parent().unwrap_or(Path::new("/")).to_owned();
            if found.is_none() && path.ends_with('/') && !src_dir {
                return Err(view.not_found(&dest).into());
            }
            let (fd, w) = view
                .resolve(&parent, true)?
                .filter(|(fd, _)| stat(fd, &parent).is_ok_and(|s| is_dir(&s)))
                .ok_or_else(|| view.not_found(&parent))?;
            (fd, Some(base_name(&dest)), w)
        }
    };
    if !writable {
        return Err(CpError::ReadOnly.into());
    }
    let root = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    // Into a container with a user namespace of its own, owners are its IDs: its root's, or with `-a`
    // the source's taken as the container's.
    let xopts = Options {
        allow_devices: false,
        same_owner: opts.archive || local.is_none(),
        id_map: view.ids.map(|m| IdRange {
            uid: m.uid,
            gid: m.gid,
            size: m.size,
        }),
    };
    let extract_err = |e: ExtractError| -> EngineError {
        if error_is(&e, Errno::EROFS) {
            CpError::ReadOnly.into()
        } else {
            CpError::Extract {
                container: view.name.clone(),
                source: e,
            }
            .into()
        }
    };
    let (Some(local), Some(top)) = (local, top) else {
        let summary = extract::extract(from, &root, &xopts).map_err(extract_err)?;
        return Ok(summary.size);
    };
    let (r, w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(crate::error::sys_err("make a pipe"))?;
    let mut reader = File::from(r);
    let writer = File::from(w);
    std::thread::scope(|s| -> Result<u64, EngineError> {
        let producer = s.spawn(move || -> io::Result<()> {
            let mut b = tar::Builder::new(writer);
            b.follow_symlinks(false);
            if local_meta.as_ref().is_some_and(|m| m.is_dir()) {
                b.append_dir_all(&top, local)?;
            } else {
                b.append_path_with_name(local, &top)?;
            }
            b.into_inner()?.flush()
        });
        let extracted = extract::extract(&mut reader, &root, &xopts);
        drop(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let summary = extracted.map_err(extract_err)?;
        produced.map_err(|source| CpError::Local {
            what: "read",
            path: local.to_owned(),
            source,
        })?;
        Ok(summary.size)
    })
}

/// True when `e`'s chain holds the errno `errno`.
fn error_is(e: &ExtractError, errno: Errno) -> bool {
    match e {
        ExtractError::Entry { source, .. } | ExtractError::HardlinkTarget { source, .. } => {
            *source == errno
        }
        ExtractError::Write(_, io) | ExtractError::Read(io) => {
            io.raw_os_error() == Some(errno as i32)
        }
        ExtractError::Root(_, source) => *source == errno,
        _ => false,
    }
}

/// Writes a tree of the container as tar, walking it by descriptors without following links.
struct TarWriter<'a, 'v> {
    builder: tar::Builder<&'a mut dyn Write>,
    view: &'v View,
    bytes: u64,
}

impl<'a, 'v> TarWriter<'a, 'v> {
    fn new(to: &'a mut dyn Write, view: &'v View) -> Self {
        let mut builder = tar::Builder::new(to);
        builder.mode(tar::HeaderMode::Complete);
        TarWriter {
            builder,
            view,
            bytes: 0,
        }
    }

    fn err(&self, what: &'static str, path: &Path) -> impl FnOnce(Errno) -> CpError {
        let (path, container) = (path.display().to_string(), self.view.name.clone());
        move |source| CpError::Container {
            what,
            path,
            container,
            source,
        }
    }

    fn io_err(&self, path: &Path) -> impl FnOnce(io::Error) -> CpError {
        let (path, container) = (path.display().to_string(), self.view.name.clone());
        move |e| CpError::Container {
            what: "copy",
            path,
            container,
            source: Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32)),
        }
    }

    /// Writes the entry `name` for the file `fd` (an `O_PATH` descriptor, `st` its status; `shown` its
    /// path in the container, for errors), and everything below it.
    fn entry(
        &mut self,
        fd: &OwnedFd,
        st: &FileStat,
        name: &Path,
        shown: &Path,
    ) -> Result<(), CpError> {
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        // The owners as the container has them.
        let (uid, gid) = match &self.view.ids {
            Some(m) => (
                IdRange::to_inside(m.uid, m.size, st.st_uid.into()),
                IdRange::to_inside(m.gid, m.size, st.st_gid.into()),
            ),
            None => (st.st_uid.into(), st.st_gid.into()),
        };
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(st.st_mtime.max(0) as u64);
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        match kind {
            SFlag::S_IFDIR => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                if name != Path::new(".") {
                    // A directory's name ends with a slash, as tar(1) writes it.
                    self.builder
                        .append_data(&mut h, name.join(""), io::empty())
                        .map_err(self.io_err(shown))?;
                }
                let dir = openat(
                    fd,
                    ".",
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(self.err("open", shown))?;
                let mut names: Vec<Vec<u8>> = Vec::new();
                let mut d = nix::dir::Dir::from_fd(dir).map_err(self.err("read", shown))?;
                for e in d.iter() {
                    let e = e.map_err(self.err("read", shown))?;
                    let n = e.file_name().to_bytes();
                    if n != b"." && n != b".." {
                        names.push(n.to_vec());
                    }
                }
                names.sort();
                for n in names {
                    let n = OsStr::from_bytes(&n);
                    let child_shown = shown.join(n);
                    let child = openat(
                        fd,
                        n,
                        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(self.err("open", &child_shown))?;
                    let cst = fstatat(fd, n, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                        .map_err(self.err("stat", &child_shown))?;
                    let child_name = if name == Path::new(".") {
                        PathBuf::from(n)
                    } else {
                        name.join(n)
                    };
                    self.entry(&child, &cst, &child_name, &child_shown)?;
                }
            }
            SFlag::S_IFREG => {
                let file = openat(fd, ".", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                    .or_else(|_| {
                        // An O_PATH descriptor of a file: reopen it through its proc link, which
                        // names this very inode (no path is looked up again).
                        nix::fcntl::open(
                            format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
                            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                            Mode::empty(),
                        )
                    })
                    .map_err(self.err("open", shown))?;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(st.st_size as u64);
                let file = File::from(file);
                self.builder
                    .append_data(&mut h, name, file.take(st.st_size as u64))
                    .map_err(self.io_err(shown))?;
                self.bytes += st.st_size as u64;
            }
            SFlag::S_IFLNK => {
                let target =
                    nix::fcntl::readlinkat(fd, "").map_err(self.err("read link", shown))?;
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                // The target as it is: tar's path-cleaning writer turns `/` into `//`. A target too long
                // for the header takes the GNU long-link record, which the builder writes.
                if target.len() <= 100 {
                    h.set_link_name_literal(target.as_bytes())
                        .map_err(self.io_err(shown))?;
                    self.builder
                        .append_data(&mut h, name, io::empty())
                        .map_err(self.io_err(shown))?;
                } else {
                    self.builder
                        .append_link(&mut h, name, &target)
                        .map_err(self.io_err(shown))?;
                }
            }
            SFlag::S_IFIFO => {
                h.set_entry_type(tar::EntryType::Fifo);
                h.set_size(0);
                self.builder
                    .append_data(&mut h, name, io::empty())
                    .map_err(self.io_err(shown))?;
            }
            // Devices and sockets are not copied, as Docker does not.
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), CpError> {
        self.builder.finish().map_err(self.io_err(Path::new("/")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_read_as_dockers() {
        assert_eq!(End::parse("-"), End::Stream);
        assert_eq!(End::parse("/tmp/x"), End::Local("/tmp/x".into()));
        assert_eq!(End::parse("./a:b"), End::Local("./a:b".into()));
        assert_eq!(End::parse("file"), End::Local("file".into()));
        assert_eq!(
            End::parse("web:/etc/hosts"),
            End::Container {
                container: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(container_path("../../etc/./x/.."), PathBuf::from("/etc"));
        assert!(names_contents("/dir/.") && !names_contents("/dir"));
    }
}
