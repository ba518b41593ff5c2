//! Named network namespaces: the `/run/netns` registry that iproute2 keeps, kept the same way.
//!
//! A named network namespace is an empty file `/run/netns/NAME` with the namespace's nsfs file bind-mounted
//! on it; `/run/netns` itself is a shared mount point, so that unmounting a name in one mount namespace
//! unmounts it in every peer and the namespace can go away. That is exactly what `ip netns add` makes
//! (iproute2's `ip/ipnetns.c`), so either tool sees, enters and deletes what the other made.
//!
//! Entering one for a command ([`Registry::enter`]) does what `ip netns exec` does, plus the resolver fix
//! described in [`resolv`].

pub mod resolv;

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, Flock, FlockArg, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{statvfs, FsFlags};

use crate::kind::{NsId, NsKind};
use crate::netnsid::{NetnsId, NetnsIds};

/// Where iproute2 keeps the names.
pub const RUN_DIR: &str = "/run/netns";
/// Where iproute2 keeps per-namespace files that `exec` binds over `/etc`.
pub const ETC_DIR: &str = "/etc/netns";

/// The name of a network namespace: one path component, as iproute2 accepts it (not empty, at most
/// 255 bytes, no `/`, not `.` or `..`; we also refuse NUL, which no path can hold).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetnsName(String);

impl NetnsName {
    pub fn new(name: &str) -> Result<NetnsName, NetnsError> {
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > 255 {
            Some("it is longer than 255 bytes")
        } else if name.contains('/') {
            Some("it contains '/'")
        } else if name == "." || name == ".." {
            Some("it is '.' or '..'")
        } else if name.contains('\0') {
            Some("it contains a NUL byte")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(NetnsError::InvalidName {
                name: name.to_owned(),
                reason,
            }),
            None => Ok(NetnsName(name.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NetnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for NetnsName {
    type Err = NetnsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NetnsName::new(s)
    }
}

/// Errors of the `/run/netns` registry.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("invalid network namespace name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("network namespace \"{0}\" already exists")]
    Exists(NetnsName),
    #[error("network namespace \"{0}\" not found")]
    NotFound(NetnsName),
    #[error("{0} is not a network namespace")]
    NotNetns(PathBuf),
    #[error("no process with PID {0}")]
    NoProcess(i32),
    #[error("cannot create {0}")]
    CreateDir(PathBuf, #[source] io::Error),
    #[error("cannot make {0} a shared mount point")]
    MakeShared(PathBuf, #[source] Errno),
    #[error("cannot create {0}")]
    CreateFile(PathBuf, #[source] Errno),
    #[error("cannot create a network namespace for \"{0}\"")]
    Unshare(NetnsName, #[source] Errno),
    #[error("cannot bind {0} onto {1}")]
    Bind(PathBuf, PathBuf, #[source] Errno),
    #[error("cannot bring up the loopback interface of network namespace \"{0}\"")]
    LoopbackUp(NetnsName, #[source] Errno),
    #[error("cannot start a thread to create network namespace \"{0}\"")]
    Thread(NetnsName, #[source] io::Error),
    #[error("cannot open {0}")]
    Open(PathBuf, #[source] io::Error),
    #[error("cannot read {0}")]
    ReadDir(PathBuf, #[source] io::Error),
    #[error("cannot remove {0}")]
    Remove(PathBuf, #[source] io::Error),
    #[error("{}", .0.iter().map(|e| crate::error_chain(e)).collect::<Vec<_>>().join("; "))]
    Several(Vec<NetnsError>),
    #[error("cannot enter network namespace \"{0}\"")]
    Setns(NetnsName, #[source] Errno),
    #[error("cannot make a private mount namespace")]
    UnshareMount(#[source] Errno),
    #[error("cannot make / a slave mount")]
    MakeSlave(#[source] Errno),
    #[error("cannot mount sysfs on /sys")]
    MountSys(#[source] Errno),
}

/// Whether [`Registry::begin_add`] brings the new namespace's loopback interface up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loopback {
    /// Left down, as `ip netns add` leaves it.
    Down,
    /// Up, as a container's namespace needs it.
    Up,
}

/// A network namespace being made on a thread of its own ([`Registry::begin_add`]); `T` is what the
/// thread also did inside it ([`Registry::begin_add_then`]).
#[derive(Debug)]
pub struct Adding<T = ()> {
    path: PathBuf,
    thread: Option<std::thread::JoinHandle<Result<T, NetnsError>>>,
}

impl<T> Adding<T> {
    /// Waits until the namespace is made and named; on failure the name is removed again.
    pub fn wait(mut self) -> Result<T, NetnsError> {
        let made = self.join().expect("only a drop or this takes the thread");
        if made.is_ok() {
            // Named: nothing left for the drop to undo.
            self.path = PathBuf::new();
        }
        made
    }

    /// The thread's result; `None` when it was taken already.
    fn join(&mut self) -> Option<Result<T, NetnsError>> {
        let thread = self.thread.take()?;
        let made = thread
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        if made.is_err() {
            undo(&self.path);
            self.path = PathBuf::new();
        }
        Some(made)
    }
}

impl<T> Drop for Adding<T> {
    /// An `Adding` given up (the caller failed before waiting): the thread is waited for, and the name
    /// it made removed.
    fn drop(&mut self) {
        let _ = self.join();
        if !self.path.as_os_str().is_empty() {
            undo(&self.path);
        }
    }
}

/// A `/run/netns`-style registry. [`Registry::system`] is the one iproute2 uses; other roots are for tests.
#[derive(Clone, Debug)]
pub struct Registry {
    run_dir: PathBuf,
    etc_dir: PathBuf,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::system()
    }
}

impl Registry {
    /// The registry at `/run/netns`, with per-namespace `/etc` files in `/etc/netns`.
    pub fn system() -> Registry {
        Registry::at(RUN_DIR, ETC_DIR)
    }

    pub fn at(run_dir: impl Into<PathBuf>, etc_dir: impl Into<PathBuf>) -> Registry {
        Registry {
            run_dir: run_dir.into(),
            etc_dir: etc_dir.into(),
        }
    }

    /// The file a name is bound on.
    pub fn path(&self, name: &NetnsName) -> PathBuf {
        self.run_dir.join(name.as_str())
    }

    /// Creates a network namespace and names it, like `ip netns add`.
    ///
    /// The namespace is made by `unshare(CLONE_NEWNET)` on a short-lived thread of its own, so the caller's
    /// network namespace never changes (iproute2 unshares in the process and setns's back). On failure the
    /// name file is removed again.
    pub fn add(&self, name: &NetnsName) -> Result<(), NetnsError> {
        self.begin_add(name, Loopback::Down)?.wait()
    }

    /// [`Registry::add`], with the namespace made on its thread while the caller goes on: the caller
    /// does other work and then [`Adding::wait`]s for it. With [`Loopback::Up`] the thread, which is in
    /// the new namespace anyway, also brings its `lo` up (no second thread has to enter it for that).
    /// The name file exists when this returns; a failure (or an [`Adding`] dropped unwaited) removes it.
    pub fn begin_add(&self, name: &NetnsName, lo: Loopback) -> Result<Adding, NetnsError> {
        self.begin_add_then(name, lo, || ())
    }

    /// [`Registry::begin_add`], whose thread then runs `then` inside the new namespace (after `lo`) and
    /// hands its result to [`Adding::wait`]: e.g. a netlink socket opened there, which belongs to the
    /// namespace for good, so the caller needs no thread of its own to enter it. Not run when the
    /// namespace could not be made.
    pub fn begin_add_then<T: Send + 'static>(
        &self,
        name: &NetnsName,
        lo: Loopback,
        then: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Adding<T>, NetnsError> {
        let path = self.create_file(name)?;
        let thread_path = path.clone();
        let thread_name = name.clone();
        let spawned = std::thread::Builder::new().name("netns-add".into()).spawn(
            move || -> Result<T, NetnsError> {
                unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(|e| NetnsError::Unshare(thread_name.clone(), e))?;
                bind(Path::new("/proc/thread-self/ns/net"), &thread_path)?;
                if lo == Loopback::Up {
                    minotaur_sys::interface_up("lo")
                        .map_err(|e| NetnsError::LoopbackUp(thread_name, e))?;
                }
                Ok(then())
            },
        );
        match spawned {
            Ok(thread) => Ok(Adding {
                path,
                thread: Some(thread),
            }),
            Err(e) => {
                undo(&path);
                Err(NetnsError::Thread(name.clone(), e))
            }
        }
    }

    /// Names the network namespace of process `pid`, like `ip netns attach NAME PID`.
    pub fn attach(&self, name: &NetnsName, pid: i32) -> Result<(), NetnsError> {
        // Open the namespace first: a bad PID must leave nothing behind, and binding through the open
        // descriptor names the namespace we checked even if the PID is reused meanwhile.
        let ns = open_proc_net(pid)?;
        let path = self.create_file(name)?;
        let source = PathBuf::from(format!("/proc/self/fd/{}", ns.as_raw_fd()));
        if let Err(e) = bind(&source, &path) {
            undo(&path);
            return Err(e);
        }
        Ok(())
    }

    /// Removes a name (`umount2(MNT_DETACH)` and unlink, like `ip netns delete`). The namespace itself goes
    /// away when nothing else uses it. Like iproute2, this also removes a stray file that is not bound.
    pub fn delete(&self, name: &NetnsName) -> Result<(), NetnsError> {
        let path = self.path(name);
        if fs::symlink_metadata(&path).is_err() {
            return Err(NetnsError::NotFound(name.clone()));
        }
        let _ = umount2(&path, MntFlags::MNT_DETACH);
        match fs::remove_file(&path) {
            // Removed by another process since it was seen (a container's own cleanup beside a prune):
            // the name is gone, as asked.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r.map_err(|e| NetnsError::Remove(path, e)),
        }
    }

    /// Removes every name (`ip -all netns delete`), carrying on past failures. Returns the names removed.
    pub fn delete_all(&self) -> Result<Vec<String>, NetnsError> {
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for name in self.list()? {
            let path = self.run_dir.join(&name);
            let _ = umount2(&path, MntFlags::MNT_DETACH);
            match fs::remove_file(&path) {
                Ok(()) => done.push(name),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => failed.push(NetnsError::Remove(path, e)),
            }
        }
        match failed.len() {
            0 => Ok(done),
            1 => Err(failed.remove(0)),
            _ => Err(NetnsError::Several(failed)),
        }
    }

    /// The names, in directory order (as `ip netns list` prints them). No directory means no names.
    pub fn list(&self) -> Result<Vec<String>, NetnsError> {
        let entries = match fs::read_dir(&self.run_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(NetnsError::ReadDir(self.run_dir.clone(), e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| NetnsError::ReadDir(self.run_dir.clone(), e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    /// The names with the nsid the caller's network namespace assigned each (`ip netns list`'s
    /// ` (id: N)`), asked of the kernel with `RTM_GETNSID`. A name has no id when none is assigned, when its
    /// file is not a namespace, or when the kernel cannot be asked.
    pub fn list_with_ids(&self) -> Result<Vec<(String, Option<i32>)>, NetnsError> {
        let names = self.list()?;
        let mut nl = NetnsIds::open().ok();
        Ok(names
            .into_iter()
            .map(|name| {
                let id = nl.as_mut().and_then(|nl| {
                    let f = File::open(self.run_dir.join(&name)).ok()?;
                    match nl.get(f.as_fd()).ok()? {
                        NetnsId::Assigned(id) => Some(id),
                        NetnsId::Unassigned => None,
                    }
                });
                (name, id)
            })
            .collect())
    }

    /// Opens a named network namespace, checking that the file is one.
    pub fn open(&self, name: &NetnsName) -> Result<File, NetnsError> {
        let path = self.path(name);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(NetnsError::NotFound(name.clone()))
            }
            Err(e) => return Err(NetnsError::Open(path, e)),
        };
        if NsKind::of_fd(&file) != Some(NsKind::Net) {
            return Err(NetnsError::NotNetns(path));
        }
        Ok(file)
    }

    /// The names bound to the network namespace of `pid` (the caller when `None`), like
    /// `ip netns identify` (which prints only the last match).
    pub fn identify(&self, pid: Option<i32>) -> Result<Vec<String>, NetnsError> {
        let target = match pid {
            Some(pid) => id_of(&open_proc_net(pid)?),
            None => NsId::of_path("/proc/thread-self/ns/net")
                .map_err(|e| NetnsError::Open("/proc/thread-self/ns/net".into(), e))?,
        };
        Ok(self
            .list()?
            .into_iter()
            .filter(|name| NsId::of_path(self.run_dir.join(name)).ok() == Some(target))
            .collect())
    }

    /// The PIDs of the processes in a named network namespace, ascending, like `ip netns pids`.
    pub fn pids(&self, name: &NetnsName) -> Result<Vec<i32>, NetnsError> {
        let target = id_of(&self.open(name)?);
        let proc = Path::new("/proc");
        let entries = fs::read_dir(proc).map_err(|e| NetnsError::ReadDir(proc.into(), e))?;
        let mut pids: Vec<i32> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|pid: &i32| NsId::of_path(NsKind::Net.proc_path(*pid)).ok() == Some(target))
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// Moves the calling process into a named network namespace the way `ip netns exec` does before it
    /// execs: joins the namespace, unshares a mount namespace that receives no propagation back to the
    /// caller's (`/` made rslave), mounts a sysfs that describes the namespace on `/sys`, binds each file
    /// of `/etc/netns/NAME/` over its namesake in `/etc`; then applies the resolver fix ([`resolv::fix`]),
    /// using `scratch` for the replacement file.
    ///
    /// The caller must be single-threaded: `setns` and `unshare` change only the calling thread, and the
    /// command it then execs must see all of it.
    pub fn enter(&self, name: &NetnsName, scratch: &Path) -> Result<(), NetnsError> {
        let ns = self.open(name)?;
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| NetnsError::Setns(name.clone(), e))?;
        drop(ns);
        unshare(CloneFlags::CLONE_NEWNS).map_err(NetnsError::UnshareMount)?;
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(NetnsError::MakeSlave)?;
        self.remount_sys(name)?;
        self.bind_etc(name);
        if let Err(e) = resolv::fix(name.as_str(), scratch) {
            log::warn!(
                "network namespace {name}: cannot fix name resolution: {}",
                crate::error_chain(&e)
            );
        }
        Ok(())
    }

    fn remount_sys(&self, name: &NetnsName) -> Result<(), NetnsError> {
        let mut flags = MsFlags::empty();
        if umount2("/sys", MntFlags::MNT_DETACH).is_err() {
            // Nothing to detach, or it cannot be: the new sysfs goes on top, and a read-only one
            // cannot be shadowed by a read-write one.
            if let Ok(st) = statvfs("/sys") {
                if st.flags().contains(FsFlags::ST_RDONLY) {
                    flags |= MsFlags::MS_RDONLY;
                }
            }
        }
        mount(
            Some(name.as_str()),
            "/sys",
            Some("sysfs"),
            flags,
            None::<&str>,
        )
        .map_err(NetnsError::MountSys)
    }

    /// Binds `/etc/netns/NAME/ENTRY` over `/etc/ENTRY` for every entry; like iproute2, a bind that fails is
    /// reported and skipped.
    fn bind_etc(&self, name: &NetnsName) {
        let dir = self.etc_dir.join(name.as_str());
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let from = entry.path();
            let to = Path::new("/etc").join(entry.file_name());
            match bind(&from, &to) {
                Ok(()) => log::info!("network namespace {name}: bound {}", from.display()),
                Err(e) => log::warn!("{}", crate::error_chain(&e)),
            }
        }
    }

    /// Makes the directory a shared mount point as iproute2 does, then creates the empty name file.
    fn create_file(&self, name: &NetnsName) -> Result<PathBuf, NetnsError> {
        self.prepare()?;
        let path = self.path(name);
        match open(
            &path,
            OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(_fd) => Ok(path),
            Err(Errno::EEXIST) => Err(NetnsError::Exists(name.clone())),
            Err(e) => Err(NetnsError::CreateFile(path, e)),
        }
    }

    /// Creates the directory (mode 0755) and makes it a shared mount, bound onto itself first when it is not
    /// a mount point (`MS_SHARED` on a non-mount-point fails with `EINVAL`). The bind is made private before
    /// it is made shared so that it starts a peer group of its own. An exclusive `flock` on the directory
    /// keeps concurrent adders from stacking binds (iproute2 does the same, after Debian bug 949235).
    pub fn prepare(&self) -> Result<(), NetnsError> {
        let dir = &self.run_dir;
        let created = match fs::DirBuilder::new().mode(0o755).create(dir) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(NetnsError::CreateDir(dir.clone(), e)),
        };
        let result = (|| {
            let lock = File::open(dir).map_err(|e| NetnsError::Open(dir.clone(), e))?;
            let _lock = match Flock::lock(lock, FlockArg::LockExclusive) {
                Ok(l) => Some(l),
                Err((_, e)) => {
                    log::warn!("cannot lock {}: {e}", dir.display());
                    None
                }
            };
            let mut made_mount_point = false;
            loop {
                // Not recursive once it is a mount point: iproute2 uses MS_REC every time, which walks every
                // name bound below (thousands, with a container engine's). A mount attached below a shared
                // mount is made shared anyway; only binds carried over by our own rbind need the walk.
                let rec = if made_mount_point {
                    MsFlags::MS_REC
                } else {
                    MsFlags::empty()
                };
                let shared = mount(
                    None::<&str>,
                    dir,
                    None::<&str>,
                    MsFlags::MS_SHARED | rec,
                    None::<&str>,
                );
                match shared {
                    Ok(()) => return Ok(()),
                    Err(Errno::EINVAL) if !made_mount_point => {
                        mount(
                            Some(dir),
                            dir,
                            None::<&str>,
                            MsFlags::MS_BIND | MsFlags::MS_REC,
                            None::<&str>,
                        )
                        .map_err(|e| NetnsError::Bind(dir.clone(), dir.clone(), e))?;
                        made_mount_point = true;
                        mount(
                            None::<&str>,
                            dir,
                            None::<&str>,
                            MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                            None::<&str>,
                        )
                        .map_err(|e| NetnsError::MakeShared(dir.clone(), e))?;
                    }
                    Err(e) => return Err(NetnsError::MakeShared(dir.clone(), e)),
                }
            }
        })();
        if result.is_err() && created {
            let _ = umount2(dir, MntFlags::MNT_DETACH);
            let _ = fs::remove_dir(dir);
        }
        result
    }
}

fn bind(from: &Path, to: &Path) -> Result<(), NetnsError> {
    mount(Some(from), to, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| NetnsError::Bind(from.to_owned(), to.to_owned(), e))
}

/// Undoes a half-made name: the bind (if any) and the file.
fn undo(path: &Path) {
    let _ = umount2(path, MntFlags::MNT_DETACH);
    if let Err(e) = fs::remove_file(path) {
        log::warn!("cannot remove {}: {e}", path.display());
    }
}

fn open_proc_net(pid: i32) -> Result<File, NetnsError> {
    if pid <= 0 {
        return Err(NetnsError::NoProcess(pid));
    }
    let path = NsKind::Net.proc_path(pid);
    match File::open(&path) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(NetnsError::NoProcess(pid)),
        Err(e) => Err(NetnsError::Open(path.into(), e)),
    }
}

fn id_of(file: &File) -> NsId {
    use std::os::linux::fs::MetadataExt;
    let m = file.metadata().expect("fstat of an open file");
    NsId {
        dev: m.st_dev(),
        ino: m.st_ino(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_path_components() {
        for bad in ["", ".", "..", "a/b", "../x", "/abs", "a\0b"] {
            assert!(NetnsName::new(bad).is_err(), "{bad:?}");
        }
        assert!(NetnsName::new(&"x".repeat(256)).is_err());
        for good in ["a", "blue-1", "x.y", "...", &"x".repeat(255)] {
            assert_eq!(NetnsName::new(good).unwrap().as_str(), good);
        }
        let e = NetnsName::new("a/b").unwrap_err().to_string();
        assert_eq!(e, "invalid network namespace name \"a/b\": it contains '/'");
    }

    #[test]
    fn list_and_identify_read_the_directory_given() {
        let d = tempfile::tempdir().unwrap();
        let reg = Registry::at(d.path().join("netns"), d.path().join("etc"));
        assert!(reg.list().unwrap().is_empty(), "no directory is no names");
        fs::create_dir(d.path().join("netns")).unwrap();
        fs::write(d.path().join("netns/a"), "").unwrap();
        fs::write(d.path().join("netns/b"), "").unwrap();
        let mut names = reg.list().unwrap();
        names.sort();
        assert_eq!(names, ["a", "b"]);
        let a = NetnsName::new("a").unwrap();
        assert!(matches!(reg.open(&a), Err(NetnsError::NotNetns(_))));
        let c = NetnsName::new("c").unwrap();
        assert!(matches!(reg.open(&c), Err(NetnsError::NotFound(_))));
        assert!(matches!(reg.delete(&c), Err(NetnsError::NotFound(_))));
        reg.delete(&a).unwrap();
        assert_eq!(reg.list().unwrap(), ["b"]);
    }
}
