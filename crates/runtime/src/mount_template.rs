//! A mount namespace for containers' mount namespaces to be copied from, instead of the caller's.
//!
//! A new mount namespace starts as a copy of every mount of the one it is made from, and a container's init
//! then detaches them all again when it leaves the old root behind `pivot_root`. An engine keeps one mount
//! per container on the host (its network namespace file), so both steps grow with the number of
//! containers: at a thousand, about 2.5 ms of every start. A template is a mount namespace that has the
//! host's mounts without those: it is made once, as a copy of the host's whose mounts are all slaves of the
//! host's, so that what the host mounts or unmounts later reaches it, and with the directories of namespace
//! files (`leave_out`) detached, so that nothing mounted there does.
//!
//! Propagation only reaches the template from shared mounts; [`make`] refuses unless the caller's `/` is
//! shared (as systemd makes it), because a template of a private host would keep a stale view of it.
//!
//! **The host root.** A `host` image container's root is a recursive bind of the host's `/`, which brings
//! the host's `/proc`, `/dev`, `/sys` and `/run` along. The container gets filesystems of its own there,
//! and the host's must not stay underneath them (a container that unmounts its `/proc` would find the
//! host's), so its init would detach each of them, and each `umount2(2)` that takes a mount away waits for
//! an expedited RCU grace period (`namespace_unlock`): 0.1 to over 10 ms on a busy machine, four times a
//! start. The template can hold that root ready instead ([`HostRoot`]): a recursive bind of its `/` with
//! those subtrees detached once, when the template is made. It is a slave of the host's mounts as the
//! template's `/` is (a bind of a slave mount is a slave of the same master), so what the host mounts later
//! reaches it too, except below the paths left out. A container whose spec mounts a new filesystem on
//! each of those paths binds it as its root (see [`host_root`]) and has nothing to detach but its old
//! root after `pivot_root`: what lies under its `/proc` is the host root filesystem's empty directory,
//! exactly what the detach left before.

use std::fs::{self, OpenOptions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{sched_getaffinity, sched_setaffinity, unshare, CloneFlags, CpuSet};
use nix::unistd::Pid;

/// Why a template could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The caller's root mount does not propagate, so a template would not follow the host's mounts.
    #[error("the root mount is not shared: a mount template would not see later mounts")]
    RootNotShared,
    #[error("read the mount table")]
    MountTable(#[source] std::io::Error),
    #[error("create {0}")]
    CreateFile(PathBuf, #[source] std::io::Error),
    #[error("bind the mount template on {0}")]
    Bind(PathBuf, #[source] Errno),
    #[error("{what}")]
    Sys {
        what: String,
        #[source]
        source: Errno,
    },
}

/// True when the caller's root mount is shared (propagates what is mounted on it to its peers and slaves).
/// Reads only as far as the root's line, the first of the table.
pub fn root_is_shared() -> std::io::Result<bool> {
    let mut shared = false;
    minotaur_ns::mountinfo::scan("/proc/self/mountinfo", |m| {
        if m.mount_point == Path::new("/") {
            shared = m.is_shared();
            return false;
        }
        true
    })?;
    Ok(shared)
}

/// The host root a template holds ready (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot {
    /// An existing directory, in the template's namespace a recursive bind of its `/`. It must not be
    /// below a shared mount, nor below one of `without`.
    pub dir: PathBuf,
    /// Absolute paths whose mounts, with all below them, are detached from the bind: `/proc`, `/dev`...
    pub without: Vec<PathBuf>,
}

impl HostRoot {
    /// The file that says a template holds this root: beside `dir`, written once the template is bound.
    fn marker(&self) -> PathBuf {
        let mut name = self.dir.clone().into_os_string();
        name.push(".template");
        PathBuf::from(name)
    }
}

/// What the marker of a host root says: the identity of the template it was made in (so that a marker
/// outliving its template, or a template made later without a host root, is never taken for one), then
/// the paths left out, one a line.
fn marker_text(identity: (u64, u64), without: &[PathBuf]) -> String {
    let mut text = format!("{}:{}\n", identity.0, identity.1);
    for p in without {
        text.push_str(&p.display().to_string());
        text.push('\n');
    }
    text
}

/// Writes `root`'s marker for the template namespace `ns`: aside, then renamed, so a start never reads half
/// of one.
fn write_marker(root: &HostRoot, ns: &OwnedFd) -> Result<(), TemplateError> {
    let marker = root.marker();
    let aside = marker.with_extension("new");
    let st = nix::sys::stat::fstat(ns).map_err(|source| TemplateError::Sys {
        what: "look at the template's namespace".into(),
        source,
    })?;
    let text = marker_text((st.st_dev, st.st_ino), &root.without);
    let written = fs::write(&aside, text).and_then(|()| fs::rename(&aside, &marker));
    written.map_err(|e| {
        let _ = fs::remove_file(&aside);
        TemplateError::CreateFile(marker, e)
    })
}

/// The device and inode of the namespace bound at `file` (of the file itself where nothing is bound).
fn identity(file: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(file).map(|m| (m.dev(), m.ino()))
}

/// When the template bound at `file` holds `root` ready: the paths left out of it (a container must get a
/// filesystem of its own on each, or it would see an empty directory where the host has its mounts).
/// `None`: no template there, or one made without this host root (by an older build, or before a reboot),
/// or the directory gone (removed, its mount in the template goes with it).
pub fn host_root(file: &Path, root: &Path) -> Option<Vec<PathBuf>> {
    let marker = HostRoot {
        dir: root.to_owned(),
        without: Vec::new(),
    }
    .marker();
    let text = fs::read_to_string(marker).ok()?;
    let mut lines = text.lines();
    let (dev, ino) = lines.next()?.split_once(':')?;
    let made_in = (dev.parse().ok()?, ino.parse().ok()?);
    if identity(file).ok()? != made_in || !text.ends_with('\n') || !root.is_dir() {
        return None;
    }
    Some(lines.map(PathBuf::from).collect())
}

/// Makes a template at `file` (created, and then a bind mount of the template's namespace file): a copy of
/// the caller's mount namespace, slave to it, without the mounts at or below each of `leave_out` (directories
/// of bound namespace files; one that is not a mount point is skipped), and with `host_root` ready in it
/// when given.
///
/// `file` must be on a mount that is not shared: the kernel refuses to propagate a bound mount namespace
/// file, and so refuses to bind one under a shared mount. On failure nothing is left behind.
pub fn make(
    file: &Path,
    leave_out: &[PathBuf],
    host_root: Option<&HostRoot>,
) -> Result<(), TemplateError> {
    if !root_is_shared().map_err(TemplateError::MountTable)? {
        return Err(TemplateError::RootNotShared);
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(file)
        .map_err(|e| TemplateError::CreateFile(file.to_owned(), e))?;
    // The kernel refuses to bind a mount namespace older than the caller's (that could make a loop), and
    // judges age by namespace ids, which each CPU hands out from a batch of its own: a namespace made on one
    // CPU may get a smaller id than one made earlier on another. The caller's was made on some CPU, whose
    // next id is larger: on EINVAL, try again on each CPU in turn.
    let bind = |ns: &OwnedFd| {
        // The marker first, naming the namespace about to be bound: a start that sees the template
        // bound finds it complete.
        if let Some(root) = host_root {
            write_marker(root, ns)?;
        }
        let source = format!("/proc/self/fd/{}", ns.as_raw_fd());
        mount(
            Some(source.as_str()),
            file,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| {
            if let Some(root) = host_root {
                let _ = fs::remove_file(root.marker());
            }
            TemplateError::Bind(file.to_owned(), e)
        })
    };
    let cpus = sched_getaffinity(Pid::from_raw(0)).map_or(Vec::new(), |set| {
        (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect()
    });
    if let Some(root) = host_root {
        // A marker left from an earlier template names that one's namespace, but goes first all the same.
        let _ = fs::remove_file(root.marker());
    }
    let mut bound = in_template(leave_out, host_root, None, bind);
    for &cpu in &cpus {
        if !matches!(bound, Err(TemplateError::Bind(_, Errno::EINVAL))) {
            break;
        }
        bound = in_template(leave_out, host_root, Some(cpu), bind);
    }
    if bound.is_err() {
        let _ = fs::remove_file(file);
    }
    bound
}

/// Makes the template's namespace on a thread of its own (so the caller's stays as it is), on `cpu` if given,
/// and binds it with `bind`. The open namespace file keeps the namespace alive after the thread ends.
fn in_template(
    leave_out: &[PathBuf],
    host_root: Option<&HostRoot>,
    cpu: Option<usize>,
    bind: impl FnOnce(&OwnedFd) -> Result<(), TemplateError>,
) -> Result<(), TemplateError> {
    let leave_out = leave_out.to_vec();
    let host_root = host_root.cloned();
    let ns = std::thread::Builder::new()
        .name("mount-template".into())
        .spawn(move || {
            if let Some(c) = cpu {
                let mut set = CpuSet::new();
                set.set(c)
                    .and_then(|()| sched_setaffinity(Pid::from_raw(0), &set))
                    .map_err(|source| TemplateError::Sys {
                        what: format!("move to CPU {c}"),
                        source,
                    })?;
            }
            make_namespace(&leave_out, host_root.as_ref())
        })
        .map_err(|e| TemplateError::Sys {
            what: "start a thread".into(),
            source: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        })?
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
    bind(&ns)
}

/// In a new thread: the template's namespace, left out and all, with its host root, as an open namespace
/// file.
fn make_namespace(
    leave_out: &[PathBuf],
    host_root: Option<&HostRoot>,
) -> Result<OwnedFd, TemplateError> {
    let sys = |what: String| move |source| TemplateError::Sys { what, source };
    unshare(CloneFlags::CLONE_NEWNS).map_err(sys("new mount namespace".into()))?;
    // Slaves receive the host's mounts and unmounts and send nothing back: the detaching below must
    // not reach the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys("make / a slave".into()))?;
    for dir in leave_out {
        detach_all(dir)?;
    }
    if let Some(root) = host_root {
        // The bind copies the template's mounts as they are now (its own target included, as the
        // directory it was), each a slave of the host mount it copies.
        mount(
            Some("/"),
            &root.dir,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(sys(format!("bind / on {}", root.dir.display())))?;
        for p in &root.without {
            detach_all(&root.dir.join(p.strip_prefix("/").unwrap_or(p)))?;
        }
    }
    fs::File::open("/proc/thread-self/ns/mnt")
        .map(OwnedFd::from)
        .map_err(|e| TemplateError::Sys {
            what: "open the template's namespace".into(),
            source: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        })
}

/// Detaches every mount stacked at `dir`, each with all below it. EINVAL: no (more) mount there.
fn detach_all(dir: &Path) -> Result<(), TemplateError> {
    loop {
        match umount2(dir, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL) | Err(Errno::ENOENT) => return Ok(()),
            Err(source) => {
                return Err(TemplateError::Sys {
                    what: format!("detach {}", dir.display()),
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_read_only_for_the_template_it_names() {
        let dir = std::env::temp_dir().join(format!("minotaur-tpl-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("template");
        fs::write(&file, "").unwrap();
        let root = HostRoot {
            dir: dir.join("root"),
            without: vec!["/proc".into(), "/run".into()],
        };
        assert_eq!(host_root(&file, &root.dir), None, "no marker yet");
        fs::create_dir(&root.dir).unwrap();
        let id = identity(&file).unwrap();
        fs::write(root.marker(), marker_text(id, &root.without)).unwrap();
        assert_eq!(host_root(&file, &root.dir), Some(root.without.clone()));
        // Another template at the same path: a new file renamed over it, while the old one keeps its inode
        // (through a second link), so the new one cannot be given the same inode number.
        fs::hard_link(&file, dir.join("old")).unwrap();
        fs::write(dir.join("new"), "").unwrap();
        fs::rename(dir.join("new"), &file).unwrap();
        assert_ne!(identity(&file).unwrap(), id);
        assert_eq!(
            host_root(&file, &root.dir),
            None,
            "a marker of another template"
        );
        // Half a marker (no final newline) is none.
        let text = marker_text(identity(&file).unwrap(), &root.without);
        fs::write(root.marker(), &text[..text.len() - 1]).unwrap();
        assert_eq!(host_root(&file, &root.dir), None);
        fs::write(root.marker(), text).unwrap();
        assert_eq!(host_root(&file, &root.dir), Some(root.without.clone()));
        fs::remove_dir(&root.dir).unwrap();
        assert_eq!(host_root(&file, &root.dir), None, "the directory gone");
        fs::remove_dir_all(&dir).unwrap();
    }
}
