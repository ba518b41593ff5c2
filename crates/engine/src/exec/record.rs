//! The exec record: what `exec` needs of a running container, in a small file of its own, so that an `exec`
//! by name reads one file instead of opening the state store. Opening the store is most of what an `exec`
//! costs before it forks: SQLite parses the whole schema and, as nearly every CLI process is the only one to
//! have the database open, rebuilds the WAL's index from every frame of the WAL.
//!
//! ```text
//! <runroot>/exec/<name>   JSON: the container's ID, name, creation time, configuration and state (0600)
//! ```
//!
//! The file is a cache, never the truth:
//! - The supervisor writes it inside the write transaction that records the container running, under the
//!   name the store has in that transaction; `rename` removes the old name's file inside its own
//!   transaction. The store's write lock orders the two, so no file is left under a name its container no
//!   longer has (a crash between removing the file and committing the rename only loses the file).
//! - `exec` uses a record only when PID 1 and the supervisor it names are both alive with the start times
//!   it records (a crash, a stop or a reboot leaves none or a stale one, which is then passed over), and
//!   never for a reference that is a full ID (the store matches IDs before names). Otherwise (no file, an
//!   unreadable or stale one) it asks the store, as before.
//! - The supervisor removes the file when PID 1 exits, if it is still its container's; `rm` removes it
//!   with the container; `<runroot>` is a tmpfs, gone at reboot.
//!
//! Nothing in a running container's record changes while it runs but its name and its state, so the
//! configuration in the file is the one the store has.

use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::container::{Config, Container, State, Status};
use crate::ids::{ContainerId, ContainerName};
use crate::paths::Paths;
use crate::process::{alive, pidfd_if_alive};

/// The file's contents, as written.
#[derive(Serialize)]
struct RecordRef<'a> {
    id: &'a ContainerId,
    name: &'a ContainerName,
    created: &'a str,
    config: &'a Config,
    state: &'a State,
}

/// The file's contents, as read.
#[derive(Deserialize)]
struct Record {
    id: ContainerId,
    name: ContainerName,
    created: String,
    config: Config,
    state: State,
}

fn dir(paths: &Paths) -> PathBuf {
    paths.runroot.join("exec")
}

/// Writes the record of running container `c` (best effort: without it `exec` asks the store). Called
/// inside the transaction that records `c` running, with `c` as the store has it there.
pub(crate) fn write(paths: &Paths, c: &Container) {
    if c.state.status != Status::Running {
        return;
    }
    let dir = dir(paths);
    let json = serde_json::to_vec(&RecordRef {
        id: &c.id,
        name: &c.name,
        created: &c.created,
        config: &c.config,
        state: &c.state,
    })
    .expect("a container always serializes");
    // Written aside and renamed into place: a reader sees the old file or the whole new one.
    let temp = dir.join(format!(".{}.{}", c.id.as_str(), std::process::id()));
    let written = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .and_then(|()| {
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temp)
        })
        .and_then(|mut f| f.write_all(&json))
        .and_then(|()| fs::rename(&temp, dir.join(c.name.as_str())));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        log::debug!("no exec record for {}: {e}", c.name);
    }
}

/// Removes the record under `name`, whoever's it is (`rename`, inside its transaction).
pub(crate) fn forget_name(paths: &Paths, name: &ContainerName) {
    let _ = fs::remove_file(dir(paths).join(name.as_str()));
}

/// Removes the record under `name` if it is container `id`'s (another container may have the name now).
pub(crate) fn forget(paths: &Paths, name: &ContainerName, id: &ContainerId) {
    let path = dir(paths).join(name.as_str());
    let Ok(text) = fs::read(&path) else { return };
    if serde_json::from_slice::<Record>(&text).is_ok_and(|r| &r.id == id) {
        let _ = fs::remove_file(&path);
    }
}

/// The records in `<runroot>/exec` that no running container of `running` owns under that name (its ID
/// and name, from the store), or that cannot be read: what `system check` reports. Each with the ID it
/// names, when it names one.
pub(crate) fn stale(
    paths: &Paths,
    running: &dyn Fn(&ContainerId) -> Option<ContainerName>,
) -> Vec<(PathBuf, Option<ContainerId>)> {
    let Ok(entries) = fs::read_dir(dir(paths)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let record = fs::read(&path)
            .ok()
            .and_then(|t| serde_json::from_slice::<Record>(&t).ok());
        match record {
            Some(r)
                if running(&r.id).is_some_and(|n| n == r.name && e.file_name() == n.as_str()) => {}
            Some(r) => out.push((path, Some(r.id))),
            None => out.push((path, None)),
        }
    }
    out
}

/// The running container named `reference` and a pidfd of its PID 1, from its record; `None` when the
/// store must be asked (see the module's documentation).
pub(crate) fn running(paths: &Paths, reference: &str) -> Option<(Container, OwnedFd)> {
    // The same parse as the CLI's: a leading `/` dropped, and nothing that could leave the directory.
    let name: ContainerName = reference.parse().ok()?;
    if ContainerId::try_from(name.as_str().to_owned()).is_ok() {
        return None;
    }
    let text = fs::read(dir(paths).join(name.as_str())).ok()?;
    let r: Record = serde_json::from_slice(&text).ok()?;
    let s = &r.state;
    if r.name != name
        || s.status != Status::Running
        || !alive(s.supervisor_pid, s.supervisor_start_time)
    {
        return None;
    }
    let init = pidfd_if_alive(s.pid, s.pid_start_time)?;
    Some((
        Container {
            id: r.id,
            name: r.name,
            created: r.created,
            config: r.config,
            state: r.state,
        },
        init,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::start_time;

    fn container(name: &str, state: State) -> Container {
        Container {
            name: name.parse().unwrap(),
            state,
            ..crate::container::tests::sample()
        }
    }

    /// A state naming this test process as both PID 1 and the supervisor: alive with those start times.
    fn running_here() -> State {
        let me = std::process::id() as i32;
        let t = start_time(me).unwrap();
        State {
            status: Status::Running,
            pid: me,
            pid_start_time: t,
            supervisor_pid: me,
            supervisor_start_time: t,
            ..Default::default()
        }
    }

    #[test]
    fn a_running_containers_record_is_found_by_its_name_only() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::new(tmp.path().join("root"), tmp.path().join("run"));
        let c = container("web", running_here());
        write(&paths, &c);
        let (found, _pidfd) = running(&paths, "web").expect("found by name");
        assert_eq!(found, c);
        assert!(running(&paths, "/web").is_some(), "Docker's leading slash");
        assert!(running(&paths, "we").is_none(), "no prefixes of names");
        assert!(
            running(&paths, c.id.as_str()).is_none(),
            "IDs go to the store"
        );
        assert!(running(&paths, "../exec/web").is_none());
        let mode = fs::metadata(dir(&paths).join("web")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
    }

    #[test]
    fn a_record_whose_pid_1_or_supervisor_is_gone_is_passed_over() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::new(tmp.path().join("root"), tmp.path().join("run"));
        let mut stale = running_here();
        stale.pid_start_time += 1;
        write(&paths, &container("a", stale));
        assert!(running(&paths, "a").is_none(), "PID 1 is another process");
        let mut orphan = running_here();
        orphan.supervisor_start_time += 1;
        write(&paths, &container("b", orphan));
        assert!(running(&paths, "b").is_none(), "the supervisor is gone");
        write(&paths, &container("c", State::default()));
        assert!(!dir(&paths).join("c").exists(), "only running containers");
        fs::write(dir(&paths).join("d"), b"{not json").unwrap();
        assert!(running(&paths, "d").is_none());
    }

    #[test]
    fn forget_removes_only_the_named_containers_record() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::new(tmp.path().join("root"), tmp.path().join("run"));
        let c = container("web", running_here());
        write(&paths, &c);
        forget(&paths, &c.name, &ContainerId::random());
        assert!(running(&paths, "web").is_some(), "another container's ID");
        forget(&paths, &c.name, &c.id);
        assert!(running(&paths, "web").is_none());
        write(&paths, &c);
        forget_name(&paths, &c.name);
        assert!(running(&paths, "web").is_none());
    }
}
