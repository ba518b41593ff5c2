//! The resolver directory and the protocol between the engine and the server.
//!
//! # Protocol
//!
//! The configuration is a file replaced atomically; the server is whoever holds an exclusive flock(2) on
//! `DIR/lock`, and it writes its PID into that file. Three rules make a new configuration never get lost, even
//! against a server that is deciding to exit at that very moment:
//!
//! 1. *A writer* ([`notify`]) first writes the configuration, then tries the lock without waiting. Held: it
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
//! A stale PID (a server killed by SIGKILL leaves its PID; the next writer to take the lock empties the file)
//! could be read in the moment between a writer taking the lock and emptying the file, so a PID is only
//! signalled when that process's command line is `... dns-serve --dir DIR`: as arguments (an exec'd server), or
//! as one title ending so (a forked one, see [`Launch::Fork`]). SIGTERM ends a server whatever the configuration
//! says.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
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
/// How long [`notify`] waits for a server it started to report that it serves.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

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
    file.set_len(0)
        .and_then(|()| file.write_all_at(text.as_bytes(), 0))
        .map_err(|e| DnsError::Write(dir.join(LOCK_FILE), e))
}

/// The PID in the lock file, when it names a DNS server for `dir`.
fn server_pid(dir: &Path) -> Option<Pid> {
    let mut text = String::new();
    File::open(dir.join(LOCK_FILE))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
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

/// Makes the configuration last written with [`write_config`] take effect: signals the running server to
/// reload it, or, when none runs and the configuration has listeners, starts one (`EXE dns-serve --dir DIR`,
/// see [`Launch`]) detached (its own session, standard streams on /dev/null, no descriptors but the two
/// below) and returns once it serves. See the module documentation for why no concurrent change is lost.
///
/// The server inherits the lock (already taken) and a pipe on which it writes `ready` once it serves, or
/// `error: MESSAGE` (exec'd: `--lock-fd N`, `--ready-fd N`).
pub fn notify(dir: &Path, launch: Launch<'_>) -> Result<(), DnsError> {
    notify_with(dir, launch, true)?.map_or(Ok(()), Starting::wait)
}

/// [`notify`] after a change to record files only (see [`write_records`]): a running server is left alone,
/// since it applies record files by itself; one is started when none runs.
pub fn ensure_running(dir: &Path, launch: Launch<'_>) -> Result<(), DnsError> {
    notify_with(dir, launch, false)?.map_or(Ok(()), Starting::wait)
}

/// How [`notify`] starts a server when none runs.
#[derive(Clone, Copy, Debug)]
pub enum Launch<'a> {
    /// `EXE dns-serve --dir DIR --ready-fd N --lock-fd M --detach`, exec'd.
    Exec(&'a Path),
    /// A fork of the calling process, which is `EXE`, serving on port 53 without an exec (see
    /// `start_forked`): when the caller is single-threaded; else as [`Launch::Exec`].
    Fork(&'a Path),
}

/// [`notify`] (with `reload`; without, [`ensure_running`]) that does not wait for a server it starts to
/// serve: the server is given back, for the caller to [`Starting::wait`] for once it has done something
/// else meanwhile. The protocol is the same: the started server holds the lock from the moment it exists,
/// so a writer that comes before it serves signals it or counts on its first read (rule 2).
pub fn notify_nowait(
    dir: &Path,
    launch: Launch<'_>,
    reload: bool,
) -> Result<Option<Starting>, DnsError> {
    notify_with(dir, launch, reload)
}

/// Whether a server for `dir` runs: the lock file names a live `dns-serve` of `dir`. Only reads; a server
/// that is starting (it has yet to write its PID) or exiting may be missed or counted, so this is a hint for
/// skipping work, never a step of the protocol.
pub fn serving(dir: &Path) -> bool {
    fs::canonicalize(dir).is_ok_and(|dir| server_pid(&dir).is_some())
}

/// A server that [`notify_nowait`] started and that may not serve yet.
#[derive(Debug)]
pub struct Starting {
    dir: std::path::PathBuf,
    ready: OwnedFd,
    /// The process started, which forks the server and exits at once (see [`detach`]).
    starter: Pid,
}

impl Starting {
    /// Waits until the server serves (it wrote `ready`), or says why it does not: it failed, or it exited
    /// before it was ready (also what a server does that found no listener in the configuration, which a
    /// later writer may have emptied meanwhile).
    pub fn wait(self) -> Result<(), DnsError> {
        let Starting {
            dir,
            ready,
            starter,
        } = self;
        let result = await_ready(&dir, ready);
        // The process we started forks the server and exits at once (see `detach`).
        let _ = nix::sys::wait::waitpid(starter, None);
        result
    }
}

fn notify_with(dir: &Path, launch: Launch<'_>, signal: bool) -> Result<Option<Starting>, DnsError> {
    let dir = fs::canonicalize(dir).map_err(|e| DnsError::Read(dir.to_owned(), e))?;
    loop {
        let lock = open_lock(&dir)?;
        if !try_lock(&dir, &lock)? {
            if !signal {
                return Ok(None);
            }
            let Some(pid) = server_pid(&dir) else {
                // Rule 2: the holder has yet to write its PID and read the configuration.
                return Ok(None);
            };
            match kill(pid, Signal::SIGHUP) {
                Ok(()) => return Ok(None),
                // It ended since we read its PID (SIGTERM or a crash): look again.
                Err(Errno::ESRCH) => continue,
                Err(e) => return Err(DnsError::Signal(pid.as_raw(), e)),
            }
        }
        set_pid(&dir, &lock, None)?;
        if !read_config(&dir)?.listeners.is_empty() {
            return match launch {
                Launch::Fork(exe) if minotaur_sys::single_threaded() => {
                    start_forked(&dir, exe, lock)
                }
                Launch::Fork(exe) | Launch::Exec(exe) => start(&dir, exe, lock),
            }
            .map(Some);
        }
        unlock(&lock);
        drop(lock);
        if read_config(&dir)?.listeners.is_empty() {
            return Ok(None);
        }
    }
}

/// Starts `exe dns-serve --dir DIR --ready-fd N --lock-fd M --detach`, which inherits `lock` (held) and the
/// write end of the ready pipe, and nothing else besides standard streams on /dev/null.
///
/// The child is made with [`minotaur_sys::clone_vfork`], not forked: a fork copies the caller's page tables
/// (a supervisor's, or a CLI's with the whole 30 MB binary mapped) and leaves the caller a copy-on-write
/// fault for every page it writes afterwards, and the caller would wait for the child's exec all the same
/// (`Command::spawn` does, to report an exec that failed). The child runs only what is prepared here: the
/// argument and environment arrays, the descriptors' flags (close_range(2), fcntl(2)), dup2(2), execve(2);
/// an exec that fails is written to the ready pipe, where [`Starting::wait`] reads it.
fn start(dir: &Path, exe: &Path, lock: File) -> Result<Starting, DnsError> {
    let Exec {
        ready_rx,
        ready_tx,
        null,
        path,
        args,
    } = Exec::prepare(dir, exe, &lock, true)?;
    let keep = [ready_tx.as_fd(), lock.as_fd()];
    let mut child = || -> i32 {
        let ready = minotaur_sys::cloexec_from(3).is_ok()
            && keep.iter().all(|fd| inherit(*fd).is_ok())
            && nix::unistd::dup2_stdin(&null).is_ok()
            && nix::unistd::dup2_stdout(&null).is_ok()
            && nix::unistd::dup2_stderr(&null).is_ok();
        if ready {
            args.execve(&path);
        }
        let _ = nix::unistd::write(&ready_tx, b"error: cannot execute the resolver\n");
        127
    };
    let (starter, _pidfd) = minotaur_sys::clone_vfork(&mut child)
        .map_err(|e| DnsError::Spawn(exe.to_owned(), e.into()))?;
    drop(ready_tx);
    // Our copy of the lock goes; the server's copy (the same open file description) keeps it held.
    drop(lock);
    Ok(Starting {
        dir: dir.to_owned(),
        ready: ready_rx,
        starter,
    })
}

/// What a server's start prepares before its fork or clone: the ready pipe, /dev/null for the standard
/// streams, and the exec of `EXE dns-serve --dir DIR --ready-fd N --lock-fd M [--detach]`.
struct Exec {
    ready_rx: OwnedFd,
    ready_tx: OwnedFd,
    null: File,
    path: std::ffi::CString,
    args: minotaur_sys::ExecArgs,
}

impl Exec {
    fn prepare(dir: &Path, exe: &Path, lock: &File, detach: bool) -> Result<Exec, DnsError> {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let spawn_error = |e: io::Error| DnsError::Spawn(exe.to_owned(), e);
        let c_string = |b: &[u8]| {
            CString::new(b).map_err(|_| spawn_error(io::Error::from_raw_os_error(libc::EINVAL)))
        };
        let (ready_rx, ready_tx) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| spawn_error(e.into()))?;
        let null = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(spawn_error)?;
        let ready_fd = raw(&ready_tx).to_string();
        let lock_fd = raw(lock).to_string();
        let argv = [
            exe.as_os_str().as_bytes(),
            b"dns-serve",
            b"--dir",
            dir.as_os_str().as_bytes(),
            b"--ready-fd",
            ready_fd.as_bytes(),
            b"--lock-fd",
            lock_fd.as_bytes(),
        ]
        .into_iter()
        .chain(detach.then_some(&b"--detach"[..]))
        .map(c_string)
        .collect::<Result<Vec<_>, _>>()?;
        let envp = std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                c_string(&kv)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Exec {
            ready_rx,
            ready_tx,
            null,
            path: argv[0].clone(),
            args: minotaur_sys::ExecArgs::new(argv, envp),
        })
    }
}

/// Clears close-on-exec on `fd`, for a descriptor an exec'd server inherits.
fn inherit(fd: BorrowedFd<'_>) -> nix::Result<libc::c_int> {
    nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
}

/// Starts a server as a fork of this process that serves without an exec: no program loaded, linked and
/// started again (on a VM whose `cpuid` traps, glibc's start-up alone is half a millisecond), no arguments
/// parsed; the resolver a bridged `run` starts costs that much less. The caller must be single-threaded
/// (see [`minotaur_sys::fork`]).
///
/// The child keeps the lock, the ready pipe and standard streams on /dev/null, detaches as `dns-serve
/// --detach` does, and shows the title `EXE dns-serve --dir DIR` as its command line (written over its
/// argument and environment strings, see [`minotaur_sys::set_cmdline`]), by which writers recognise a
/// server's PID (see the module documentation) and `pgrep -f` finds it. Where that title does not fit
/// (a starter with almost no environment) it execs `EXE dns-serve` after all.
///
/// The fork is not free: the caller takes a copy-on-write fault, on a VM with a TLB shootdown, for each
/// page it writes while the server shares it (about 0.3 ms per bridged `run`, docs/speed/bridge.md), which
/// is less than the exec it spares.
fn start_forked(dir: &Path, exe: &Path, lock: File) -> Result<Starting, DnsError> {
    use std::os::unix::ffi::OsStrExt;
    // The exec of the fallback is prepared before the fork like everything the child uses.
    let Exec {
        ready_rx,
        ready_tx,
        null,
        path,
        args,
    } = Exec::prepare(dir, exe, &lock, false)?;
    let title = [
        exe.as_os_str().as_bytes(),
        b"dns-serve",
        b"--dir",
        dir.as_os_str().as_bytes(),
    ]
    .join(&b' ');
    match minotaur_sys::fork().map_err(|e| DnsError::Spawn(exe.to_owned(), e.into()))? {
        minotaur_sys::ForkResult::Parent { child } => {
            drop(ready_tx);
            // Our copy of the lock goes; the server's copy (the same open file description) keeps it held.
            drop(lock);
            Ok(Starting {
                dir: dir.to_owned(),
                ready: ready_rx,
                starter: child,
            })
        }
        minotaur_sys::ForkResult::Child => {
            drop(ready_rx);
            let ready = nix::unistd::dup2_stdin(&null).is_ok()
                && nix::unistd::dup2_stdout(&null).is_ok()
                && nix::unistd::dup2_stderr(&null).is_ok();
            // Nothing of the caller's runs again here: its descriptors go, and the process ends with
            // `exit_now`, never returning into the caller's frames.
            minotaur_sys::close_all_but(&[ready_tx.as_fd(), lock.as_fd()]);
            if !ready || detach().is_err() {
                let _ = nix::unistd::write(&ready_tx, b"error: cannot start the resolver\n");
                minotaur_sys::exit_now(127);
            }
            if minotaur_sys::set_cmdline(&title).is_err() {
                if inherit(ready_tx.as_fd()).is_ok() && inherit(lock.as_fd()).is_ok() {
                    args.execve(&path);
                }
                let _ = nix::unistd::write(&ready_tx, b"error: cannot execute the resolver\n");
                minotaur_sys::exit_now(127);
            }
            let served = crate::server::serve_locked(dir, 53, Some(ready_tx), Some(lock.into()));
            minotaur_sys::exit_now(i32::from(served.is_err()))
        }
    }
}

fn raw(fd: &impl AsFd) -> i32 {
    use std::os::fd::AsRawFd;
    fd.as_fd().as_raw_fd()
}

fn await_ready(dir: &Path, pipe: OwnedFd) -> Result<(), DnsError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut pipe = File::from(pipe);
    let mut message = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DnsError::NotReady(dir.to_owned(), READY_TIMEOUT));
        }
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(left.as_millis().min(60_000) as i32 + 1)
            .unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(DnsError::Read(dir.to_owned(), e.into())),
        }
        let mut buf = [0; 512];
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => message.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DnsError::Read(dir.to_owned(), e)),
        }
        if message.ends_with(b"\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&message);
    let text = text.trim();
    match text.strip_prefix("error: ") {
        None if text == "ready" => Ok(()),
        None if text.is_empty() => Err(DnsError::Failed(
            dir.to_owned(),
            "it exited before it was ready".into(),
        )),
        None => Err(DnsError::Failed(dir.to_owned(), text.to_owned())),
        Some(why) => Err(DnsError::Failed(dir.to_owned(), why.to_owned())),
    }
}

/// Takes ownership of descriptor `fd`, inherited from the [`notify`] that started this process (the numbers of
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

    #[test]
    fn notify_with_an_empty_config_starts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), &Config::default()).unwrap();
        notify(dir.path(), Launch::Exec(Path::new("/nonexistent/minotaur"))).unwrap();
    }
}
