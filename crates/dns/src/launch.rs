//! Telling the server, and starting it: the writer's side of the protocol in [`crate::control`]'s
//! documentation, and the two ways a server is started ([`Launch`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::config::Config;
use crate::control::{detach, open_lock, read_config, server_pid, set_pid, try_lock, unlock};
use crate::error::DnsError;

/// A listener's sockets, bound by a holder of the lock before any server existed (see
/// [`crate::Dormant`]), handed to the server it starts: the UDP socket and the TCP listener of one address.
pub(crate) type Handed = Vec<(std::net::UdpSocket, std::net::TcpListener)>;

/// How long [`notify`] waits for a server it started to report that it serves.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes the configuration last written with [`crate::write_config`] take effect: signals the running server to
/// reload it, or, when none runs and the configuration has listeners, starts one (`EXE dns-serve --dir DIR`,
/// see [`Launch`]) detached (its own session, standard streams on /dev/null, no descriptors but the two
/// below) and returns once it serves. See the module documentation for why no concurrent change is lost.
///
/// The server inherits the lock (already taken) and a pipe on which it writes `ready` once it serves, or
/// `error: MESSAGE` (exec'd: `--lock-fd N`, `--ready-fd N`).
pub fn notify(dir: &Path, launch: Launch<'_>) -> Result<(), DnsError> {
    notify_with(dir, launch, true)?.map_or(Ok(()), Starting::wait)
}

/// [`notify`] after a change to record files only (see [`crate::write_records`]): a running server is left alone,
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

/// A server started that may not serve yet.
#[derive(Debug)]
pub(crate) struct Starting {
    dir: std::path::PathBuf,
    ready: OwnedFd,
    /// The process started, which forks the server and exits at once (see [`detach`]).
    starter: Pid,
}

impl Starting {
    /// Waits until the server serves (it wrote `ready`), or says why it does not: it failed, or it exited
    /// before it was ready (also what a server does that found no listener in the configuration, which a
    /// later writer may have emptied meanwhile).
    pub(crate) fn wait(self) -> Result<(), DnsError> {
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
    match take(&dir, signal)? {
        Some((lock, _)) => start_with(&dir, launch, lock, Vec::new()).map(Some),
        None => Ok(None),
    }
}

/// Rule 1 of the protocol up to a server's start: the lock held by someone else is told (with `signal`)
/// and `None` given back, as when the configuration names no listener; else the lock, taken with its PID
/// file emptied, and the configuration read after that: its listeners are the caller's to serve.
pub(crate) fn take(dir: &Path, signal: bool) -> Result<Option<(File, Config)>, DnsError> {
    loop {
        let lock = open_lock(dir)?;
        if !try_lock(dir, &lock)? {
            if !signal {
                return Ok(None);
            }
            let Some(pid) = server_pid(dir) else {
                // Rule 2: the holder has yet to write its PID and read the configuration; or it keeps
                // the listeners bound without a server, and is woken to start one (see `Dormant`).
                crate::control::wake_holder(dir);
                return Ok(None);
            };
            match kill(pid, Signal::SIGHUP) {
                Ok(()) => return Ok(None),
                // It ended since we read its PID (SIGTERM or a crash): look again.
                Err(Errno::ESRCH) => continue,
                Err(e) => return Err(DnsError::Signal(pid.as_raw(), e)),
            }
        }
        set_pid(dir, &lock, None)?;
        let config = read_config(dir)?;
        if !config.listeners.is_empty() {
            return Ok(Some((lock, config)));
        }
        unlock(&lock);
        drop(lock);
        if read_config(dir)?.listeners.is_empty() {
            return Ok(None);
        }
    }
}

/// Starts a server as `launch` says, holding `lock` and serving the `handed` sockets (see [`Launch`]).
pub(crate) fn start_with(
    dir: &Path,
    launch: Launch<'_>,
    lock: File,
    handed: Handed,
) -> Result<Starting, DnsError> {
    match launch {
        Launch::Fork(exe) if minotaur_sys::single_threaded() => {
            start_forked(dir, exe, lock, handed)
        }
        Launch::Fork(exe) | Launch::Exec(exe) => start(dir, exe, lock, handed),
    }
}

/// Starts `exe dns-serve --dir DIR --ready-fd N --lock-fd M [--listen-fds U:T]... --detach`, which inherits
/// `lock` (held), the write end of the ready pipe and the `handed` sockets, and nothing else besides
/// standard streams on /dev/null.
///
/// The child is made with [`minotaur_sys::clone_vfork`], not forked: a fork copies the caller's page tables
/// (a supervisor's, or a CLI's with the whole 30 MB binary mapped) and leaves the caller a copy-on-write
/// fault for every page it writes afterwards, and the caller would wait for the child's exec all the same
/// (`Command::spawn` does, to report an exec that failed). The child runs only what is prepared here: the
/// argument and environment arrays, the descriptors' flags (close_range(2), fcntl(2)), dup2(2), execve(2);
/// an exec that fails is written to the ready pipe, where [`Starting::wait`] reads it.
fn start(dir: &Path, exe: &Path, lock: File, handed: Handed) -> Result<Starting, DnsError> {
    let exec = Exec::prepare(dir, exe, &lock, &handed, true)?;
    let keep = kept(&exec.ready_tx, &lock, &handed);
    let mut child = || -> i32 {
        let ready = minotaur_sys::cloexec_from(3).is_ok()
            && keep.iter().all(|fd| inherit(*fd).is_ok())
            && nix::unistd::dup2_stdin(&exec.null).is_ok()
            && nix::unistd::dup2_stdout(&exec.null).is_ok()
            && nix::unistd::dup2_stderr(&exec.null).is_ok();
        if ready {
            exec.args.execve(&exec.path);
        }
        let _ = nix::unistd::write(&exec.ready_tx, b"error: cannot execute the resolver\n");
        127
    };
    let (starter, _pidfd) = minotaur_sys::clone_vfork(&mut child)
        .map_err(|e| DnsError::Spawn(exe.to_owned(), e.into()))?;
    // The server has its own copies now.
    drop(handed);
    Ok(exec.started(dir, lock, starter))
}

/// What a server's start prepares before its fork or clone: the ready pipe, /dev/null for the standard
/// streams, and the exec of `EXE dns-serve --dir DIR --ready-fd N --lock-fd M [--listen-fds U:T]...
/// [--detach]`.
struct Exec {
    ready_rx: OwnedFd,
    ready_tx: OwnedFd,
    null: File,
    path: std::ffi::CString,
    args: minotaur_sys::ExecArgs,
}

impl Exec {
    fn prepare(
        dir: &Path,
        exe: &Path,
        lock: &File,
        handed: &Handed,
        detach: bool,
    ) -> Result<Exec, DnsError> {
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
        let listen: Vec<String> = handed
            .iter()
            .map(|(u, t)| format!("{}:{}", raw(u), raw(t)))
            .collect();
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
        .chain(
            listen
                .iter()
                .flat_map(|l| [&b"--listen-fds"[..], l.as_bytes()]),
        )
        .chain(detach.then_some(&b"--detach"[..]))
        .map(c_string)
        .collect::<Result<Vec<_>, _>>()?;
        let envp = minotaur_sys::environment();
        Ok(Exec {
            ready_rx,
            ready_tx,
            null,
            path: argv[0].clone(),
            args: minotaur_sys::ExecArgs::new(argv, envp),
        })
    }

    /// The starter's side once the child (`starter`) exists: its copies of the pipe's write end and of
    /// the lock go (the server's copy, the same open file description, keeps the lock held).
    fn started(self, dir: &Path, lock: File, starter: Pid) -> Starting {
        drop(lock);
        Starting {
            dir: dir.to_owned(),
            ready: self.ready_rx,
            starter,
        }
    }
}

/// The descriptors a started server keeps: the ready pipe's write end, the lock, the handed sockets.
fn kept<'a>(ready: &'a OwnedFd, lock: &'a File, handed: &'a Handed) -> Vec<BorrowedFd<'a>> {
    [ready.as_fd(), lock.as_fd()]
        .into_iter()
        .chain(handed.iter().flat_map(|(u, t)| [u.as_fd(), t.as_fd()]))
        .collect()
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
fn start_forked(dir: &Path, exe: &Path, lock: File, handed: Handed) -> Result<Starting, DnsError> {
    use std::os::unix::ffi::OsStrExt;
    // The exec of the fallback is prepared before the fork like everything the child uses.
    let exec = Exec::prepare(dir, exe, &lock, &handed, false)?;
    let title = [
        exe.as_os_str().as_bytes(),
        b"dns-serve",
        b"--dir",
        dir.as_os_str().as_bytes(),
    ]
    .join(&b' ');
    match minotaur_sys::fork().map_err(|e| DnsError::Spawn(exe.to_owned(), e.into()))? {
        minotaur_sys::ForkResult::Parent { child } => Ok(exec.started(dir, lock, child)),
        minotaur_sys::ForkResult::Child => {
            let Exec {
                ready_rx,
                ready_tx,
                null,
                path,
                args,
            } = exec;
            drop(ready_rx);
            let ready = nix::unistd::dup2_stdin(&null).is_ok()
                && nix::unistd::dup2_stdout(&null).is_ok()
                && nix::unistd::dup2_stderr(&null).is_ok();
            // Nothing of the caller's runs again here: its descriptors go, and the process ends with
            // `exit_now`, never returning into the caller's frames.
            let keep = kept(&ready_tx, &lock, &handed);
            minotaur_sys::close_all_but(&keep);
            if !ready || detach().is_err() {
                let _ = nix::unistd::write(&ready_tx, b"error: cannot start the resolver\n");
                minotaur_sys::exit_now(127);
            }
            if minotaur_sys::set_cmdline(&title).is_err() {
                if keep.iter().all(|fd| inherit(*fd).is_ok()) {
                    args.execve(&path);
                }
                let _ = nix::unistd::write(&ready_tx, b"error: cannot execute the resolver\n");
                minotaur_sys::exit_now(127);
            }
            drop(keep);
            let served = crate::server::serve_handed(
                dir,
                crate::server::PORT,
                Some(ready_tx),
                Some(lock.into()),
                handed,
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::write_config;

    #[test]
    fn notify_with_an_empty_config_starts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), &Config::default()).unwrap();
        notify(dir.path(), Launch::Exec(Path::new("/nonexistent/minotaur"))).unwrap();
    }
}
