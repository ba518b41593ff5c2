//! Making new namespaces, the way unshare(1) does: unshare(2) the kinds asked for, optionally keep some of
//! them alive on a bind mount, map root in a new user namespace, set mount propagation, fork into a new PID
//! namespace and mount a fresh `/proc` there.
//!
//! Keeping a namespace on a file needs a bind mount of `/proc/PID/ns/KIND` made in the *original* mount and
//! user namespaces: made from inside a new mount namespace it would be invisible to everyone else, and inside
//! a new user namespace we have no right to mount at all. So, like util-linux, we fork a helper before
//! unsharing; it waits on a pipe until we have unshared (and, for a PID namespace, forked its first process,
//! which is when `pid_for_children` starts to exist), binds our namespace files onto the targets and reports
//! back. If anything fails, the files this call created are removed and a forked child is killed, so a failed
//! `unshare` leaves nothing behind.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{getpid, Pid};

use crate::run::{self, Forked, RunError};
use crate::NsKind;

/// The propagation to give every mount in a new mount namespace (`mount --make-r…`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// No mount or unmount crosses between the new namespace and the old one (util-linux's default).
    #[default]
    Private,
    /// Mounts in the old namespace appear in the new one, not the other way.
    Slave,
    /// Mounts propagate both ways.
    Shared,
    /// Keep what the copied mounts had.
    Unchanged,
}

impl Propagation {
    fn flags(self) -> Option<MsFlags> {
        match self {
            Propagation::Private => Some(MsFlags::MS_REC | MsFlags::MS_PRIVATE),
            Propagation::Slave => Some(MsFlags::MS_REC | MsFlags::MS_SLAVE),
            Propagation::Shared => Some(MsFlags::MS_REC | MsFlags::MS_SHARED),
            Propagation::Unchanged => None,
        }
    }
}

/// A propagation that is not one of private, slave, shared, unchanged.
#[derive(Debug, thiserror::Error)]
#[error("unsupported propagation mode {0:?} (expected private, slave, shared or unchanged)")]
pub struct ParsePropagationError(pub String);

impl FromStr for Propagation {
    type Err = ParsePropagationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "private" => Ok(Propagation::Private),
            "slave" => Ok(Propagation::Slave),
            "shared" => Ok(Propagation::Shared),
            "unchanged" => Ok(Propagation::Unchanged),
            _ => Err(ParsePropagationError(s.to_owned())),
        }
    }
}

/// What to unshare and how.
#[derive(Clone, Debug, Default)]
pub struct UnshareSpec {
    pub kinds: BTreeSet<NsKind>,
    /// Namespaces to keep on a file after the program ends (each kind must also be in `kinds`). A missing
    /// file is created.
    pub persist: BTreeMap<NsKind, PathBuf>,
    /// Fork, so that the program is the first process of a new PID namespace.
    pub fork: bool,
    /// Mount a new proc filesystem here, in the new mount namespace, after forking.
    pub mount_proc: Option<PathBuf>,
    /// Map our user and group to root in the new user namespace.
    pub map_root: bool,
    pub propagation: Propagation,
}

/// A failure to make or keep namespaces.
#[derive(Debug, thiserror::Error)]
pub enum UnshareError {
    #[error("{kind} namespace is to be kept on {} but not unshared", path.display())]
    PersistNotUnshared { kind: NsKind, path: PathBuf },
    #[error("keeping a pid namespace on a file needs --fork (the namespace exists once it has a process)")]
    PersistPidWithoutFork,
    #[error("cannot create {}", path.display())]
    CreateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up the bind-mount helper")]
    Helper(#[source] std::io::Error),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("cannot unshare the {kinds} namespace")]
    Unshare {
        kinds: String,
        #[source]
        source: Errno,
    },
    #[error("cannot write {path}")]
    MapIds {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot change the propagation of the mounts of the new mount namespace")]
    Propagation(#[source] Errno),
    #[error("cannot bind {src} onto {}", path.display())]
    Bind {
        src: String,
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("cannot mount proc on {}", path.display())]
    MountProc {
        path: PathBuf,
        #[source]
        source: Errno,
    },
}

/// Which process the caller is after [`unshare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unshared {
    /// The namespaces are ready; this process goes on to run the program.
    Ready,
    /// We forked: the child runs the program; this process should wait for it ([`run::wait_exit`]).
    Parent(Pid),
}

/// Makes the namespaces `spec` asks for. See the module documentation.
pub fn unshare(spec: &UnshareSpec) -> Result<Unshared, UnshareError> {
    for (&kind, path) in &spec.persist {
        if !spec.kinds.contains(&kind) {
            return Err(UnshareError::PersistNotUnshared {
                kind,
                path: path.clone(),
            });
        }
        if kind == NsKind::Pid && !spec.fork {
            return Err(UnshareError::PersistPidWithoutFork);
        }
    }
    let mut created = Created::default();
    for path in spec.persist.values() {
        created.create(path)?;
    }
    let helper = if spec.persist.is_empty() {
        None
    } else {
        Some(BindHelper::spawn(&spec.persist)?)
    };
    let flags = spec
        .kinds
        .iter()
        .fold(CloneFlags::empty(), |f, k| f | k.clone_flag());
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    // From here on, a failure cancels the helper (dropping it) and removes the files (dropping `created`).
    nix::sched::unshare(flags).map_err(|source| UnshareError::Unshare {
        kinds: spec
            .kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        source,
    })?;
    if spec.map_root {
        map_root(uid.as_raw(), gid.as_raw())?;
    }
    if spec.kinds.contains(&NsKind::Mnt) {
        if let Some(flags) = spec.propagation.flags() {
            nix::mount::mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
                .map_err(UnshareError::Propagation)?;
        }
    }
    let forked = if spec.fork {
        run::fork()?
    } else {
        Forked::Child
    };
    match forked {
        Forked::Parent(child) => {
            if let Some(helper) = helper {
                if let Err(e) = helper.bind() {
                    let _ = kill(child, Signal::SIGKILL);
                    let _ = waitpid(child, None);
                    return Err(e);
                }
            }
            created.keep();
            Ok(Unshared::Parent(child))
        }
        Forked::Child => {
            if !spec.fork {
                if let Some(helper) = helper {
                    helper.bind()?;
                }
            }
            // The forked child must not remove files the parent is binding.
            created.keep();
            if let Some(dir) = &spec.mount_proc {
                mount_proc(dir, spec.propagation)?;
            }
            Ok(Unshared::Ready)
        }
    }
}

/// Writes `0 UID 1` and `0 GID 1` maps for the user namespace we just made (setgroups denied first, as an
/// unprivileged gid_map requires).
fn map_root(uid: u32, gid: u32) -> Result<(), UnshareError> {
    let write = |path: &'static str, text: String| {
        std::fs::write(path, text).map_err(|source| UnshareError::MapIds { path, source })
    };
    match write("/proc/self/setgroups", "deny".into()) {
        Err(UnshareError::MapIds { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound => {}
        r => r?,
    }
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))
}

fn mount_proc(dir: &Path, propagation: Propagation) -> Result<(), UnshareError> {
    let fail = |source| UnshareError::MountProc {
        path: dir.to_owned(),
        source,
    };
    // With private propagation the old proc mount is already private; otherwise make it so, or mounting
    // over it would propagate our proc back to the old namespace. EINVAL: nothing is mounted there.
    if propagation != Propagation::Private {
        match nix::mount::mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        ) {
            Ok(()) | Err(Errno::EINVAL) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    nix::mount::mount(
        Some("proc"),
        dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(fail)
}

/// Files this call created, removed again unless kept.
#[derive(Default)]
struct Created(Vec<PathBuf>);

impl Created {
    fn create(&mut self, path: &Path) -> Result<(), UnshareError> {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(path)
        {
            Ok(_) => {
                self.0.push(path.to_owned());
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(source) => Err(UnshareError::CreateFile {
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn keep(&mut self) {
        self.0.clear();
    }
}

impl Drop for Created {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A process forked before unsharing, still in the original namespaces, that binds our namespace files
/// when told to. Dropping it untold makes it exit without binding.
struct BindHelper {
    pid: Pid,
    go: Option<OwnedFd>,
    result: OwnedFd,
    targets: Vec<(String, PathBuf)>,
}

impl BindHelper {
    fn spawn(persist: &BTreeMap<NsKind, PathBuf>) -> Result<BindHelper, UnshareError> {
        let me = getpid();
        let targets: Vec<(String, PathBuf)> = persist
            .iter()
            .map(|(kind, path)| {
                let name = match kind {
                    NsKind::Pid => "pid_for_children",
                    NsKind::Time => "time_for_children",
                    k => k.name(),
                };
                (format!("/proc/{me}/ns/{name}"), path.clone())
            })
            .collect();
        let helper_err = |e: Errno| UnshareError::Helper(e.into());
        // Close-on-exec: the program we run must not hold the helper's pipes.
        let (go_r, go_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(helper_err)?;
        let (res_r, res_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(helper_err)?;
        match run::fork()? {
            Forked::Child => {
                drop((go_w, res_r));
                let mut byte = [0u8];
                let told = std::fs::File::from(go_r).read(&mut byte).unwrap_or(0) == 1;
                let mut code = 0;
                if told {
                    for (i, (src, path)) in targets.iter().enumerate() {
                        let r = nix::mount::mount(
                            Some(src.as_str()),
                            path,
                            None::<&str>,
                            MsFlags::MS_BIND,
                            None::<&str>,
                        );
                        if let Err(e) = r {
                            // Undo the binds already made: all or nothing.
                            for (_, done) in &targets[..i] {
                                let _ = nix::mount::umount2(done, MntFlags::MNT_DETACH);
                            }
                            let mut msg = [0u8; 8];
                            msg[..4].copy_from_slice(&(i as u32).to_ne_bytes());
                            msg[4..].copy_from_slice(&(e as i32).to_ne_bytes());
                            let _ = std::fs::File::from(res_w).write_all(&msg);
                            code = 1;
                            break;
                        }
                    }
                }
                std::process::exit(code);
            }
            Forked::Parent(pid) => Ok(BindHelper {
                pid,
                go: Some(go_w),
                result: res_r,
                targets,
            }),
        }
    }

    /// Tells the helper to bind, waits for it, and reports the first bind that failed.
    fn bind(mut self) -> Result<(), UnshareError> {
        let go = self.go.take().map(std::fs::File::from);
        if let Some(mut go) = go {
            go.write_all(&[1]).map_err(UnshareError::Helper)?;
        }
        let _ = waitpid(self.pid, None);
        let mut msg = Vec::new();
        let result = self.result.try_clone().map_err(UnshareError::Helper)?;
        std::fs::File::from(result)
            .read_to_end(&mut msg)
            .map_err(UnshareError::Helper)?;
        if msg.len() == 8 {
            let i = u32::from_ne_bytes(msg[..4].try_into().unwrap_or_default()) as usize;
            let errno = i32::from_ne_bytes(msg[4..].try_into().unwrap_or_default());
            if let Some((src, path)) = self.targets.get(i) {
                return Err(UnshareError::Bind {
                    src: src.clone(),
                    path: path.clone(),
                    source: Errno::from_raw(errno),
                });
            }
        }
        Ok(())
    }
}

impl Drop for BindHelper {
    fn drop(&mut self) {
        if let Some(go) = self.go.take() {
            // Untold: closing the pipe makes it exit without binding.
            drop(go);
            let _ = waitpid(self.pid, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_names_match_util_linux() {
        for (s, p) in [
            ("private", Propagation::Private),
            ("slave", Propagation::Slave),
            ("shared", Propagation::Shared),
            ("unchanged", Propagation::Unchanged),
        ] {
            assert_eq!(s.parse::<Propagation>().unwrap(), p);
        }
        assert!("rshared".parse::<Propagation>().is_err());
        assert_eq!(Propagation::default(), Propagation::Private);
    }

    #[test]
    fn keeping_a_namespace_that_is_not_unshared_is_refused_before_anything_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("net");
        let spec = UnshareSpec {
            persist: [(NsKind::Net, file.clone())].into(),
            ..Default::default()
        };
        assert!(matches!(
            unshare(&spec),
            Err(UnshareError::PersistNotUnshared { .. })
        ));
        assert!(!file.exists());
    }
}
