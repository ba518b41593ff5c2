//! The resolver directory and the protocol between the engine and the server.
//!
//! # Protocol
//!
//! The configuration is a file replaced atomically; the server is whoever holds an exclusive flock(2) on
//! `DIR/lock`, and it writes its PID into that file. Three rules make a new configuration never get lost, even
//! against a server that is deciding to exit at that very moment:
//!
//! 1. *A writer* ([`crate::notify`]) first writes the configuration, then tries the lock without waiting. Held: it
//!    reads the PID in the lock file and sends SIGHUP there; an empty file means no signal is needed (rule 2).
//!    Free: it holds the lock, empties the file (a crashed server's PID), and starts a server that inherits the
//!    lock (the same open file description, so there is no moment without a holder) — or, if the configuration
//!    it read names no listener, releases the lock and reads the configuration again, starting over when that
//!    one has listeners (another writer may have seen the lock held by us and counted on rule 2).
//! 2. *A holder reads the configuration after it writes its PID*, and it blocks SIGHUP before it writes its
//!    PID (a signal then waits for it instead of killing it). So a writer that found the file empty is
//!    covered by the holder's next read, and one that found a PID is covered by the reload its signal causes.
//! 3. *A server that exits* because the configuration names no listener empties the PID file, releases the
//!    lock, and only then reads the configuration once more. If that one has listeners, it tries to take the
//!    lock again: got it, it writes its PID, reads the configuration again (rule 2) and keeps serving; held by
//!    someone else (a writer from rule 1, who will start a server), it exits. A writer that saw the lock held
//!    and signalled (or found the file empty) did so before the release, so its configuration was written
//!    before that last read.
//!
//! A holder that binds the listeners without serving them ([`crate::Dormant`]) is a holder of rule 2 that
//! never writes a PID: it watches the configuration instead and starts the server when it changes, and
//! follows rule 3 when it lets the lock go.
//!
//! A stale PID (a server killed by SIGKILL leaves its PID; the next writer to take the lock empties the file)
//! could be read in the moment between a writer taking the lock and emptying the file, so a PID is only
//! signalled when that process's command line is `... dns-serve --dir DIR`: as arguments (an exec'd
//! server), or as one title ending so (a forked one, see [`crate::Launch::Fork`]). SIGTERM ends a server
//! whatever the configuration says.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::Pid;
use rustix::fs::{flock, FlockOperation};

use crate::config::Config;
use crate::error::DnsError;

/// The configuration, in the resolver directory.
pub const CONFIG_FILE: &str = "config.json";
/// The directory of per-container record files, in the resolver directory.
pub const RECORDS_DIR: &str = "records";
/// The lock and PID file, in the resolver directory.
pub const LOCK_FILE: &str = "lock";
/// The FIFO a holder of the lock without a server reads to be woken (see [`crate::Dormant`]), in the
/// resolver directory.
pub const WAKE_FIFO: &str = "wake";

/// Writes `config` to `dir/config.json` atomically (a temporary file in `dir`, then rename), creating `dir`.
pub fn write_config(dir: &Path, config: &Config) -> Result<(), DnsError> {
    fs::create_dir_all(dir).map_err(|e| DnsError::Write(dir.to_owned(), e))?;
    replace_json(dir, CONFIG_FILE, config)
}

/// Replaces `dir/name` with `value` as JSON, atomically: a temporary file in `dir` (its name starts with a
/// dot, which the server skips in `records/`), then rename.
fn replace_json(dir: &Path, name: &str, value: &impl serde::Serialize) -> Result<(), DnsError> {
    let path = dir.join(name);
    let write = || -> io::Result<()> {
        let mut tmp = tempfile::Builder::new().prefix(".").tempfile_in(dir)?;
        // One write: serde_json writes token by token, and an unbuffered file made that a write(2) per
        // token, thousands per container at a thousand containers.
        let mut bytes = serde_json::to_vec(value)?;
        bytes.push(b'\n');
        tmp.write_all(&bytes)?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|e| DnsError::Write(path.clone(), e))
}

/// Writes container `container`'s entries to `dir/records/CONTAINER.json` atomically, or removes that file
/// when there are none. A running server picks the change up by itself (it watches the directory with
/// inotify), so a container's start or removal costs the same however many containers there are; the
/// configuration file holds only the listeners, and changes when a network gets its first container or
/// loses its last.
pub fn write_records(
    dir: &Path,
    container: &str,
    entries: &[crate::config::Entry],
) -> Result<(), DnsError> {
    let records = dir.join(RECORDS_DIR);
    let path = records.join(format!("{container}.json"));
    if container.is_empty() || container.starts_with('.') || container.contains('/') {
        return Err(DnsError::Write(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a container ID"),
        ));
    }
    if entries.is_empty() {
        return match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(DnsError::Write(path, e)),
            _ => Ok(()),
        };
    }
    fs::create_dir_all(&records).map_err(|e| DnsError::Write(records.clone(), e))?;
    replace_json(&records, &format!("{container}.json"), &entries)
}

/// Reads one record file of `dir/records` by file name: `None` when it is gone (or is not a record file).
pub fn read_records(dir: &Path, file: &str) -> Result<Option<Vec<crate::config::Entry>>, DnsError> {
    if file.starts_with('.') || !file.ends_with(".json") {
        return Ok(None);
    }
    let path = dir.join(RECORDS_DIR).join(file);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DnsError::Parse(path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DnsError::Read(path, e)),
    }
}

/// Reads `dir/config.json`; a missing file is the empty configuration.
pub fn read_config(dir: &Path) -> Result<Config, DnsError> {
    let path = dir.join(CONFIG_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| DnsError::Parse(path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(DnsError::Read(path, e)),
    }
}

pub(crate) fn open_lock(dir: &Path) -> Result<File, DnsError> {
    let path = dir.join(LOCK_FILE);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .map_err(|e| DnsError::Lock(path, e))
}

/// Takes the lock without waiting: `Ok(false)` when someone else holds it.
pub(crate) fn try_lock(dir: &Path, file: &File) -> Result<bool, DnsError> {
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(DnsError::Lock(dir.join(LOCK_FILE), e.into())),
    }
}

pub(crate) fn unlock(file: &File) {
    let _ = flock(file, FlockOperation::Unlock);
}

/// Replaces the lock file's content with `pid` (or nothing).
pub(crate) fn set_pid(dir: &Path, file: &File, pid: Option<u32>) -> Result<(), DnsError> {
    let text = pid.map(|p| format!("{p}\n")).unwrap_or_default();
    set_text(dir, file, &text)
}

/// Marks the lock file's holder as one that keeps the listeners without a server: `PID dormant` (see
/// [`holder_pid`]).
pub(crate) fn set_holder(dir: &Path, file: &File) -> Result<(), DnsError> {
    set_text(dir, file, &format!("{} dormant\n", std::process::id()))
}

/// Replaces the lock file's content with `text`.
fn set_text(dir: &Path, file: &File, text: &str) -> Result<(), DnsError> {
    file.set_len(0)
        .and_then(|()| file.write_all_at(text.as_bytes(), 0))
        .map_err(|e| DnsError::Write(dir.join(LOCK_FILE), e))
}

/// The PID in the lock file, when it names a DNS server for `dir`.
pub(crate) fn server_pid(dir: &Path) -> Option<Pid> {
    let text = fs::read_to_string(dir.join(LOCK_FILE)).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let dir = dir.as_os_str().as_encoded_bytes();
    // A forked server shows its command line as one title (see `start_forked`).
    let title = [&b" dns-serve --dir "[..], dir].concat();
    let ours = (args.contains(&&b"dns-serve"[..])
        && args.windows(2).any(|w| w[0] == b"--dir" && w[1] == dir))
        || args.first().is_some_and(|a| a.ends_with(&title));
    ours.then_some(Pid::from_raw(pid))
}

/// Whether a server for `dir` runs: the lock file names a live `dns-serve` of `dir`. Only reads; a server
/// that is starting (it has yet to write its PID) or exiting may be missed or counted, so this is a hint for
/// skipping work, never a step of the protocol.
pub fn serving(dir: &Path) -> bool {
    fs::canonicalize(dir).is_ok_and(|dir| server_pid(&dir).is_some())
}

/// Takes ownership of descriptor `fd`, inherited from the [`crate::notify`] that started this process (the numbers of
/// `--ready-fd` and `--lock-fd`). Call once per number, at start-up.
pub fn adopt_fd(fd: i32) -> Result<OwnedFd, DnsError> {
    minotaur_sys::adopt_inherited_fd(fd).map_err(|e| DnsError::Inherited(fd, e))
}

/// Detaches the calling process from whoever started it: forks, the parent exits at once (so the starter reaps
/// it and leaves no zombie behind), and the child goes on in a new session. The caller must be single-threaded.
pub fn detach() -> Result<(), DnsError> {
    match minotaur_sys::fork().map_err(|e| DnsError::Setup("fork", e.into()))? {
        minotaur_sys::ForkResult::Parent { .. } => minotaur_sys::exit_now(0),
        minotaur_sys::ForkResult::Child => {
            nix::unistd::setsid().map_err(|e| DnsError::Setup("session", e.into()))?;
            Ok(())
        }
    }
}

/// The PID the lock file names as a holder of the listeners without a server (`PID dormant`, see
/// [`crate::Dormant`]), whether or not that process still lives.
pub(crate) fn holder_pid(dir: &Path) -> Option<u32> {
    let text = fs::read_to_string(dir.join(LOCK_FILE)).ok()?;
    text.trim().strip_suffix(" dormant")?.parse().ok()
}

/// The FIFO `DIR/wake` (made when missing), open for reading and writing without blocking, emptied of
/// what writers left for an earlier holder.
pub(crate) fn open_wake(dir: &Path) -> Result<File, DnsError> {
    let path = dir.join(WAKE_FIFO);
    match nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(DnsError::Write(path, e.into())),
    }
    let mut wake = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| DnsError::Write(path.clone(), e))?;
    // Something else by that name (not ours to remove) would never wake the holder.
    let fifo = wake.metadata().is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_fifo()
    });
    if !fifo {
        let not_fifo = io::Error::new(io::ErrorKind::InvalidInput, "not a FIFO");
        return Err(DnsError::Write(path, not_fifo));
    }
    let mut buf = [0; 64];
    while matches!(wake.read(&mut buf), Ok(n) if n > 0) {}
    Ok(wake)
}

/// Wakes the holder of `dir`'s lock if it keeps the listeners without a server (its lock file says
/// `PID dormant`): a writer's part of the protocol, after it wrote a new configuration and found the lock
/// held. Nothing when no holder reads the FIFO, or when it is full (the holder is woken already).
pub(crate) fn wake_holder(dir: &Path) {
    if holder_pid(dir).is_none() {
        return;
    }
    // ENXIO: nobody holds it open for reading (the holder is gone).
    if let Ok(mut fifo) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(dir.join(WAKE_FIFO))
    {
        let _ = fifo.write(b"!");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Listener, Record};
    use std::path::PathBuf;
    use std::process::Command;

    #[test]
    fn serving_only_when_the_lock_file_names_a_live_server_of_this_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!serving(dir.path()), "no lock file");
        assert!(!serving(&dir.path().join("missing")), "no directory");
        let lock = open_lock(dir.path()).unwrap();
        set_pid(dir.path(), &lock, Some(std::process::id())).unwrap();
        assert!(!serving(dir.path()), "a PID that is not a dns-serve");
        // A process whose command line is a server's of this directory (the shell stays, as `sleep` is not
        // its last command).
        let real = fs::canonicalize(dir.path()).unwrap();
        let mut fake = Command::new("sh")
            .args(["-c", "sleep 30; true", "dns-serve", "--dir"])
            .arg(&real)
            .spawn()
            .unwrap();
        set_pid(dir.path(), &lock, Some(fake.id())).unwrap();
        // `spawn` returns once the exec has begun (the close-on-exec pipe closed), but the new program's
        // arguments are in place, and in /proc/PID/cmdline, only a moment later: a real server writes its PID
        // itself, long after.
        let cmdline = format!("/proc/{}/cmdline", fake.id());
        for _ in 0..1000 {
            if fs::read(&cmdline).is_ok_and(|c| c.windows(9).any(|w| w == b"dns-serve")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let other = tempfile::tempdir().unwrap();
        let named = serving(dir.path());
        fake.kill().unwrap();
        fake.wait().unwrap();
        assert!(named, "a live server of this directory");
        assert!(!serving(other.path()), "another directory");
        assert!(!serving(dir.path()), "the server is gone");
    }

    /// A forked server shows one title, `EXE dns-serve --dir DIR` (see `start_forked`): recognised as a
    /// server of DIR, not of a directory whose name only begins so.
    #[test]
    fn a_forked_servers_title_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let real = fs::canonicalize(dir.path()).unwrap();
        let lock = open_lock(dir.path()).unwrap();
        // bash's `exec -a` sets the first argument, spaces and all; the second is `sleep`'s own.
        let title = format!("/usr/bin/minotaur dns-serve --dir {}", real.display());
        let mut fake = Command::new("bash")
            .args(["-c", "exec -a \"$0\" sleep 30"])
            .arg(&title)
            .spawn()
            .unwrap();
        set_pid(dir.path(), &lock, Some(fake.id())).unwrap();
        let cmdline = format!("/proc/{}/cmdline", fake.id());
        for _ in 0..1000 {
            if fs::read(&cmdline).is_ok_and(|c| c.starts_with(title.as_bytes())) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let named = serving(dir.path());
        let longer = PathBuf::from(format!("{}x", real.display()));
        fs::create_dir(&longer).unwrap();
        let other_lock = open_lock(&longer).unwrap();
        set_pid(&longer, &other_lock, Some(fake.id())).unwrap();
        let named_longer = serving(&longer);
        fake.kill().unwrap();
        fake.wait().unwrap();
        fs::remove_dir_all(&longer).unwrap();
        assert!(named, "a forked server of this directory");
        assert!(!named_longer, "a directory whose name only begins so");
    }

    #[test]
    fn config_round_trips_and_missing_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_config(dir.path()).unwrap(), Config::default());
        let config = Config {
            listeners: vec![Listener {
                address: "10.89.0.1".parse().unwrap(),
                network: "net".into(),
                internal: true,
                records: vec![Record {
                    names: vec!["web".into(), "alias".into()],
                    addresses: vec!["10.89.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
                    container: "c1".into(),
                }],
            }],
            upstreams: vec!["192.0.2.1:53".parse().unwrap()],
        };
        write_config(dir.path(), &config).unwrap();
        assert_eq!(read_config(dir.path()).unwrap(), config);
        write_config(dir.path(), &Config::default()).unwrap();
        assert_eq!(read_config(dir.path()).unwrap(), Config::default());
        // Only the configuration is left: no temporary files.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [CONFIG_FILE]);
    }

    #[test]
    fn a_broken_config_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CONFIG_FILE), "{").unwrap();
        let e = read_config(dir.path()).unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
    }

    /// A writer wakes a holder only when the lock file names one (`PID dormant`), through the FIFO the
    /// holder opened, which starts empty for each holder; a file of that name that is no FIFO is refused.
    #[test]
    fn a_writer_wakes_a_holder_through_the_fifo_only_when_the_lock_file_names_one() {
        let dir = tempfile::tempdir().unwrap();
        let lock = open_lock(dir.path()).unwrap();
        let mut wake = open_wake(dir.path()).unwrap();
        let mut buf = [0; 8];
        wake_holder(dir.path());
        assert!(
            wake.read(&mut buf).is_err(),
            "woken without a holder's marker"
        );
        set_holder(dir.path(), &lock).unwrap();
        wake_holder(dir.path());
        assert_eq!(wake.read(&mut buf).unwrap(), 1, "not woken");
        // A byte left for this holder is not the next one's.
        wake_holder(dir.path());
        drop(wake);
        let mut next = open_wake(dir.path()).unwrap();
        assert!(next.read(&mut buf).is_err(), "an earlier holder's byte");

        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join(WAKE_FIFO), "").unwrap();
        let e = open_wake(other.path()).unwrap_err();
        assert!(e.to_string().contains("wake"), "{e}");
    }
}
