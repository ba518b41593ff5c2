//! Joining existing namespaces, the way nsenter(1) does, with one improvement: each kind of namespace may
//! come from a different source.
//!
//! A [`JoinSpec`] says, per kind, where the namespace comes from. [`JoinPlan::open`] opens every namespace
//! file, pidfd and directory first, because paths stop meaning what they meant once the mount namespace (or
//! the root) changes, and checks each file is a namespace of the kind asked for (`NS_GET_NSTYPE`).
//! [`JoinPlan::join`] then calls setns(2) the way util-linux does: a first pass joins everything but the user
//! namespace and ignores failures (so that a privileged caller can join a less privileged container's user
//! namespace last), a second pass joins what is left in [`NsKind::ALL`] order (user first, so that an
//! unprivileged caller gains the capabilities the other joins need) and reports failures. Several kinds from
//! one process are joined with a single `setns(pidfd, flags)` (Linux 5.8), which the kernel applies atomically
//! and in the right order. Joining the user namespace we are already in fails with `EINVAL`; it is skipped.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, OwnedFd};
use std::os::linux::fs::MetadataExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Pid, Uid};

use crate::kind::{NsId, NsKind};
use crate::target::NsSource;

/// What to join: a source per namespace kind, and optionally a root and working directory to take.
#[derive(Clone, Debug, Default)]
pub struct JoinSpec {
    pub namespaces: BTreeMap<NsKind, NsSource>,
    /// The root directory to change to after joining (nsenter's `--root`).
    pub root: Option<DirSource>,
    /// The working directory to change to after joining (nsenter's `--wd`). With a root but no working
    /// directory, the working directory stays what it was after joining, as in util-linux.
    pub wd: Option<DirSource>,
}

/// A directory to open before joining and use after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirSource {
    /// A process's root directory (`/proc/PID/root`).
    RootOf(Pid),
    /// A process's working directory (`/proc/PID/cwd`).
    CwdOf(Pid),
    /// A path, resolved before joining.
    Path(PathBuf),
}

impl DirSource {
    fn path(&self) -> PathBuf {
        match self {
            DirSource::RootOf(pid) => format!("/proc/{pid}/root").into(),
            DirSource::CwdOf(pid) => format!("/proc/{pid}/cwd").into(),
            DirSource::Path(p) => p.clone(),
        }
    }
}

/// A failure to open or join a namespace, or to set up the process after joining.
#[derive(Debug, thiserror::Error)]
pub enum EnterError {
    #[error("no process with PID {pid}")]
    NoProcess {
        pid: Pid,
        #[source]
        source: Errno,
    },
    #[error("cannot open process {pid}")]
    OpenProcess {
        pid: Pid,
        #[source]
        source: Errno,
    },
    #[error("this kernel has no {kind} namespaces")]
    Unsupported { kind: NsKind },
    #[error("cannot open {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a namespace file", path.display())]
    NotNamespace { path: PathBuf },
    #[error("{} is a {got} namespace, not a {want} namespace", path.display())]
    WrongKind {
        path: PathBuf,
        want: NsKind,
        got: NsKind,
    },
    #[error("cannot join the {kinds} namespace of {from}")]
    Join {
        kinds: String,
        from: String,
        #[source]
        source: Errno,
    },
    #[error("cannot open directory {}", path.display())]
    OpenDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot change the root directory")]
    Chroot(#[source] Errno),
    #[error("cannot change the working directory")]
    Chdir(#[source] Errno),
    #[error("cannot read the owner of process {pid}")]
    Owner {
        pid: Pid,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot drop supplementary groups")]
    Setgroups(#[source] Errno),
    #[error("cannot change group to {gid}")]
    Setgid {
        gid: Gid,
        #[source]
        source: Errno,
    },
    #[error("cannot change user to {uid}")]
    Setuid {
        uid: Uid,
        #[source]
        source: Errno,
    },
}

/// One setns(2) call: a namespace file for one kind, or a pidfd for several kinds of one process.
#[derive(Debug)]
struct Join {
    fd: OwnedFd,
    kinds: Vec<NsKind>,
    from: String,
}

impl Join {
    fn flags(&self, except_user: bool) -> CloneFlags {
        self.kinds
            .iter()
            .filter(|k| !(except_user && **k == NsKind::User))
            .fold(CloneFlags::empty(), |f, k| f | k.clone_flag())
    }
}

/// Everything opened and checked; nothing joined yet. Dropping it changes nothing.
#[derive(Debug)]
pub struct JoinPlan {
    joins: Vec<Join>,
    root: Option<OwnedFd>,
    wd: Option<OwnedFd>,
}

impl JoinPlan {
    /// Opens every source in `spec`. Fails on the first source that does not exist, is not a namespace of
    /// the kind asked for, or cannot be opened.
    pub fn open(spec: &JoinSpec) -> Result<JoinPlan, EnterError> {
        let my_user = NsId::of_path(self_path(NsKind::User)).ok();
        let mut by_pid: BTreeMap<Pid, Vec<NsKind>> = BTreeMap::new();
        let mut joins = Vec::new();
        for (&kind, source) in &spec.namespaces {
            match source {
                NsSource::Pid(pid) => by_pid.entry(*pid).or_default().push(kind),
                NsSource::File(path) => {
                    let file = open_ns_file(path, kind)?;
                    if kind == NsKind::User && my_user.is_some() && my_user == fd_id(&file) {
                        continue;
                    }
                    joins.push(Join {
                        fd: file.into(),
                        kinds: vec![kind],
                        from: path.display().to_string(),
                    });
                }
            }
        }
        for (pid, mut kinds) in by_pid {
            let fd = minotaur_sys::pidfd_open(pid).map_err(|source| match source {
                Errno::ESRCH => EnterError::NoProcess { pid, source },
                _ => EnterError::OpenProcess { pid, source },
            })?;
            // Whether the kernel has the kind at all; the target's own files may not be ours to stat.
            if let Some(&kind) = kinds.iter().find(|k| !Path::new(&self_path(**k)).exists()) {
                return Err(EnterError::Unsupported { kind });
            }
            if kinds.contains(&NsKind::User)
                && my_user.is_some()
                && my_user == NsId::of_path(NsKind::User.proc_path(pid.as_raw())).ok()
            {
                kinds.retain(|k| *k != NsKind::User);
            }
            if !kinds.is_empty() {
                joins.push(Join {
                    fd,
                    kinds,
                    from: format!("process {pid}"),
                });
            }
        }
        let root = spec.root.as_ref().map(open_dir).transpose()?;
        let wd = spec.wd.as_ref().map(open_dir).transpose()?;
        Ok(JoinPlan { joins, root, wd })
    }

    /// The kinds this plan will join (a user namespace we are already in is left out).
    pub fn kinds(&self) -> Vec<NsKind> {
        let mut kinds: Vec<NsKind> = self.joins.iter().flat_map(|j| j.kinds.clone()).collect();
        kinds.sort();
        kinds
    }

    /// Joins the namespaces, then changes root and working directory as the spec said. On failure the
    /// process may be half inside: the caller must exit, not carry on.
    pub fn join(self) -> Result<(), EnterError> {
        let JoinPlan {
            mut joins,
            root,
            mut wd,
        } = self;
        // First pass: everything but user, errors ignored.
        for join in &mut joins {
            let flags = join.flags(true);
            if !flags.is_empty() && nix::sched::setns(&join.fd, flags).is_ok() {
                join.kinds.retain(|k| *k == NsKind::User);
            }
        }
        // Second pass: what is left, user first, errors reported.
        joins.retain(|j| !j.kinds.is_empty());
        joins.sort_by_key(|j| j.kinds.iter().min().copied());
        for join in &joins {
            nix::sched::setns(&join.fd, join.flags(false)).map_err(|source| EnterError::Join {
                kinds: join
                    .kinds
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                from: join.from.clone(),
                source,
            })?;
        }
        if let Some(root) = root {
            if wd.is_none() {
                wd = Some(open_dir(&DirSource::Path(".".into()))?);
            }
            nix::unistd::fchdir(&root).map_err(EnterError::Chroot)?;
            nix::unistd::chroot(".").map_err(EnterError::Chroot)?;
            nix::unistd::chdir("/").map_err(EnterError::Chdir)?;
        }
        if let Some(wd) = wd {
            nix::unistd::fchdir(&wd).map_err(EnterError::Chdir)?;
        }
        Ok(())
    }
}

/// The kinds of namespace this kernel has (those in `/proc/self/ns`), for nsenter's `--all`.
pub fn available_kinds() -> Vec<NsKind> {
    NsKind::ALL
        .into_iter()
        .filter(|k| Path::new(&self_path(*k)).exists())
        .collect()
}

/// The user and group that own a process (nsenter's `--setuid follow` / `--setgid follow`).
pub fn process_owner(pid: Pid) -> Result<(Uid, Gid), EnterError> {
    let m = std::fs::metadata(format!("/proc/{pid}"))
        .map_err(|source| EnterError::Owner { pid, source })?;
    Ok((Uid::from_raw(m.st_uid()), Gid::from_raw(m.st_gid())))
}

/// Drops supplementary groups before entering a user namespace, which may deny setgroups(2) once we are
/// inside (util-linux does the same). Returns whether it worked; see [`switch_credentials`].
pub fn drop_groups_early() -> bool {
    nix::unistd::setgroups(&[]).is_ok()
}

/// Drops supplementary groups and switches group and user, in that order. A `None` leaves that id alone;
/// dropping groups goes with changing the group. When the groups were already dropped (before entering a
/// user namespace that denies setgroups(2)), failing to drop them again is not an error.
pub fn switch_credentials(
    uid: Option<Uid>,
    gid: Option<Gid>,
    groups_dropped: bool,
) -> Result<(), EnterError> {
    if let Some(gid) = gid {
        match nix::unistd::setgroups(&[]) {
            Err(e) if !groups_dropped => return Err(EnterError::Setgroups(e)),
            _ => {}
        }
        nix::unistd::setgid(gid).map_err(|source| EnterError::Setgid { gid, source })?;
    }
    if let Some(uid) = uid {
        nix::unistd::setuid(uid).map_err(|source| EnterError::Setuid { uid, source })?;
    }
    Ok(())
}

/// Opens a namespace file and checks it is one, of `kind`.
pub fn open_ns_file(path: &Path, kind: NsKind) -> Result<File, EnterError> {
    let file = File::open(path).map_err(|source| EnterError::Open {
        path: path.to_owned(),
        source,
    })?;
    match NsKind::of_fd(&file) {
        None => Err(EnterError::NotNamespace {
            path: path.to_owned(),
        }),
        Some(got) if got != kind => Err(EnterError::WrongKind {
            path: path.to_owned(),
            want: kind,
            got,
        }),
        Some(_) => Ok(file),
    }
}

/// `/proc/self/ns/KIND`.
fn self_path(kind: NsKind) -> String {
    format!("/proc/self/ns/{}", kind.name())
}

fn fd_id(fd: &impl AsFd) -> Option<NsId> {
    let st = nix::sys::stat::fstat(fd.as_fd()).ok()?;
    Some(NsId {
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

fn open_dir(dir: &DirSource) -> Result<OwnedFd, EnterError> {
    let path = dir.path();
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(&path)
        .map(OwnedFd::from)
        .map_err(|source| EnterError::OpenDir { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_not_a_namespace() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let err = open_ns_file(f.path(), NsKind::Net).unwrap_err();
        assert!(matches!(err, EnterError::NotNamespace { .. }), "{err}");
    }

    #[test]
    fn a_namespace_of_another_kind_is_refused() {
        let err = open_ns_file(Path::new("/proc/self/ns/uts"), NsKind::Net).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/proc/self/ns/uts is a uts namespace, not a net namespace"
        );
    }

    #[test]
    fn our_own_user_namespace_is_left_out_of_the_plan() {
        let mut spec = JoinSpec::default();
        spec.namespaces
            .insert(NsKind::User, NsSource::Pid(nix::unistd::getpid()));
        spec.namespaces
            .insert(NsKind::Uts, NsSource::File("/proc/self/ns/uts".into()));
        let plan = JoinPlan::open(&spec).unwrap();
        assert_eq!(plan.kinds(), vec![NsKind::Uts]);
    }

    #[test]
    fn an_unknown_pid_is_named() {
        let mut spec = JoinSpec::default();
        // PIDs are at most 2^22 on Linux.
        spec.namespaces
            .insert(NsKind::Net, NsSource::Pid(Pid::from_raw(1 << 23)));
        let err = JoinPlan::open(&spec).unwrap_err();
        assert_eq!(err.to_string(), "no process with PID 8388608");
    }
}
