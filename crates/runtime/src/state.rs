//! The container directories of the OCI runtime command line (`minotaur-runc`): what `create` leaves behind for
//! `start`, `state`, `kill`, `exec` and `delete`, each a separate short-lived process.
//!
//! Layout under the root (`--root`, `/run/minotaur-runc` by default):
//!
//! ```text
//! <root>/<id>/            made by mkdir(2) at create: its existence is the container's, so two creates of one
//!                         ID cannot both win
//! <root>/<id>/state.json  the [`Record`], written to a temporary file and renamed over, never rewritten in
//!                         place
//! <root>/<id>/exec.fifo   the start FIFO (`CreateOptions::start_fifo`): present from create until start
//! <root>/<id>/lock        flock(2)ed by every command that changes the container (start, kill, delete)
//! ```
//!
//! A container's status is not stored but derived, as runc does: `stopped` when its init is gone (or is a
//! zombie, or its PID now names another process: the record keeps the init's start time from
//! `/proc/PID/stat`), `created` while the FIFO exists, `paused` while its cgroup is frozen (`pause`), `running`
//! otherwise.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors of the container directories.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The ID is empty, or would leave the root.
    #[error("invalid container id {0:?}")]
    InvalidId(String),
    /// A container with this ID exists.
    #[error("container {0} already exists")]
    Exists(String),
    /// No container has this ID.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// A file or directory of the root could not be read or written.
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// state.json is not a record.
    #[error("malformed {path}")]
    Malformed {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A container's status, as the runtime spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    /// Frozen by `pause` (runc's status; the runtime spec has none for it).
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `create` records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The init's PID in the root's PID namespace.
    pub pid: i32,
    /// Field 22 of `/proc/PID/stat` (start time in clock ticks since boot) when it was created.
    pub start_time: u64,
    /// The bundle directory, absolute.
    pub bundle: PathBuf,
    /// The root filesystem, absolute.
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    /// The user that created it.
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Its cgroup relative to the cgroup root: `linux.cgroupsPath` of its spec, when it has one, or with the
    /// systemd driver the scope's cgroup (`/system.slice/minotaur-ID.scope`).
    #[serde(default)]
    pub cgroup: Option<PathBuf>,
    /// With the systemd cgroup driver (`--systemd-cgroup`), the transient scope systemd made for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    /// Without a mount namespace of its own, the container's root as made in the namespace it shares;
    /// `delete` detaches it (see the shared_mounts module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_root: Option<crate::shared_mounts::SharedRoot>,
}

/// The state of the runtime spec (`state` prints it, hooks read it on stdin), with runc's extra fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    /// 0 once stopped, as runc prints it.
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
}

/// The root directory of containers.
#[derive(Debug, Clone)]
pub struct Root {
    path: PathBuf,
}

/// One container's directory.
#[derive(Debug, Clone)]
pub struct Container {
    dir: PathBuf,
    pub record: Record,
}

impl Root {
    pub fn new(path: impl Into<PathBuf>) -> Root {
        Root { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self, id: &str) -> Result<PathBuf, StateError> {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." || id.contains('\0') {
            return Err(StateError::InvalidId(id.to_owned()));
        }
        Ok(self.path.join(id))
    }

    /// Makes the directory of a new container; fails when the ID is taken. Returns the directory.
    pub fn reserve(&self, id: &str) -> Result<PathBuf, StateError> {
        let dir = self.dir(id)?;
        fs::create_dir_all(&self.path).map_err(io(&self.path))?;
        match fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(StateError::Exists(id.to_owned()))
            }
            Err(e) => Err(io(&dir)(e)),
        }
    }

    /// Removes a directory made by [`Root::reserve`] whose container was never recorded.
    pub fn release(&self, id: &str) {
        if let Ok(dir) = self.dir(id) {
            let _ = fs::remove_dir_all(dir);
        }
    }

    /// The container with this ID.
    pub fn load(&self, id: &str) -> Result<Container, StateError> {
        let dir = self.dir(id)?;
        let path = dir.join("state.json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotFound(id.to_owned()))
            }
            Err(e) => return Err(io(&path)(e)),
        };
        let record = serde_json::from_slice(&bytes)
            .map_err(|source| StateError::Malformed { path, source })?;
        Ok(Container { dir, record })
    }

    /// Every recorded container, by ID. Directories without a record (a create in progress, or one that
    /// died before recording) are left out.
    pub fn list(&self) -> Result<Vec<Container>, StateError> {
        let entries = match fs::read_dir(&self.path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.path)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&self.path))?;
            let Some(id) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            match self.load(&id) {
                Ok(c) => out.push(c),
                Err(StateError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        Ok(out)
    }

    /// Writes the record of a container whose directory was reserved: atomically, by rename.
    pub fn save(&self, record: Record) -> Result<Container, StateError> {
        let dir = self.dir(&record.id)?;
        let tmp = dir.join(".state.json.tmp");
        let path = dir.join("state.json");
        let json = serde_json::to_vec(&record).map_err(|source| StateError::Malformed {
            path: path.clone(),
            source,
        })?;
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&json).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(Container { dir, record })
    }
}

/// Field 22 of `/proc/PID/stat` and whether the process is a zombie (or dead); `None` when it does not exist.
pub fn proc_start_time(pid: i32) -> Option<(u64, bool)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold anything: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, matches!(*state, "Z" | "X" | "x")))
}

/// A pidfd for the container's init, checked to be the recorded process (not a reuse of its PID).
pub fn open_pidfd(c: &Container) -> Result<std::os::fd::OwnedFd, StateError> {
    let not_running = || StateError::Io {
        path: PathBuf::from(format!("/proc/{}", c.record.pid)),
        source: std::io::Error::from_raw_os_error(libc::ESRCH),
    };
    let fd = minotaur_sys::pidfd_open(nix::unistd::Pid::from_raw(c.record.pid))
        .map_err(|_| not_running())?;
    // Checked after the pidfd is open: a PID reused before the open is caught here, and after it the pidfd
    // names the process for good.
    if !c.alive() {
        return Err(not_running());
    }
    Ok(fd)
}

impl Container {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The start FIFO's path.
    pub fn fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }

    /// The lock file's path.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// True while the recorded init runs (a zombie does not count).
    pub fn alive(&self) -> bool {
        matches!(proc_start_time(self.record.pid), Some((start, false)) if start == self.record.start_time)
    }

    pub fn status(&self) -> Status {
        if !self.alive() {
            Status::Stopped
        } else if self.fifo().exists() {
            Status::Created
        } else if self.cgroup().is_some_and(|cg| cg.is_frozen()) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The container's cgroup, when its spec has a `linux.cgroupsPath` and the cgroup is there.
    pub fn cgroup(&self) -> Option<crate::cgroup::Cgroup> {
        let path = self.record.cgroup.as_ref()?;
        crate::cgroup::Cgroup::open(Path::new(crate::cgroup::DEFAULT_ROOT), path).ok()
    }

    /// The state the runtime spec defines, at this moment.
    pub fn state(&self) -> State {
        let status = self.status();
        State {
            oci_version: oci_spec::runtime::VERSION.to_owned(),
            id: self.record.id.clone(),
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.record.pid
            },
            bundle: self.record.bundle.clone(),
            rootfs: self.record.rootfs.clone(),
            created: self.record.created.clone(),
            owner: self.record.owner.clone(),
            annotations: self.record.annotations.clone(),
        }
    }

    /// Waits until the init has exited (its pidfd becomes readable), up to `timeout`; true once it has.
    pub fn wait_exit(&self, timeout: std::time::Duration) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let Ok(pidfd) = minotaur_sys::pidfd_open(nix::unistd::Pid::from_raw(self.record.pid))
        else {
            return true;
        };
        if !self.alive() {
            return true;
        }
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(&pidfd),
            PollFlags::POLLIN,
        )];
        matches!(
            poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            ),
            Ok(1)
        )
    }

    /// Removes the directory.
    pub fn remove(&self) -> Result<(), StateError> {
        fs::remove_dir_all(&self.dir).map_err(io(&self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Record {
        Record {
            id: id.into(),
            pid: std::process::id() as i32,
            start_time: proc_start_time(std::process::id() as i32).unwrap().0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            owner: "root".into(),
            annotations: HashMap::new(),
            cgroup: None,
            systemd_unit: None,
            shared_root: None,
        }
    }

    #[test]
    fn reserve_save_load_list_and_status() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path().join("r"));
        root.reserve("a").unwrap();
        assert!(matches!(root.reserve("a"), Err(StateError::Exists(_))));
        assert!(matches!(root.load("a"), Err(StateError::NotFound(_))));
        let c = root.save(record("a")).unwrap();
        assert_eq!(c.status(), Status::Running);
        fs::write(c.fifo(), b"").unwrap();
        assert_eq!(root.load("a").unwrap().status(), Status::Created);
        let mut other = record("a");
        other.start_time += 1;
        let c = root.save(other).unwrap();
        assert_eq!(c.status(), Status::Stopped);
        assert_eq!(c.state().pid, 0);
        assert_eq!(root.list().unwrap().len(), 1);
        c.remove().unwrap();
        assert!(root.list().unwrap().is_empty());
    }

    #[test]
    fn ids_that_leave_the_root_are_refused() {
        let root = Root::new("/nonexistent");
        for id in ["", "..", ".", "a/b"] {
            assert!(matches!(root.load(id), Err(StateError::InvalidId(_))));
        }
    }
}
