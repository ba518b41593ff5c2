//! The lock held and the listeners bound, without a server: the resolver of a container that has not
//! asked a name yet.
//!
//! A server is a process: started for a lone container that never resolves a name (a `run --rm` of a
//! short command), its fork or exec, set-up and exit are most of what a bridged start costs more than one
//! without a network. So the process that would start it (the container's supervisor) takes the lock as a
//! starting writer does (rule 1), binds the configuration's listeners itself, and starts the server only
//! when it is wanted ([`Dormant::wanted`]): a query has come (it waits in the socket, which the server is
//! handed), or the configuration changed (another network got a container: a writer that finds the lock
//! held without a PID counts on the holder, as in rule 2, and wakes this one, below).
//! When the holder is done ([`Dormant::hand_over`]), it starts the server if the configuration still
//! names listeners (other containers run), or lets the lock go and reads the configuration once more
//! (rule 3).
//!
//! The lock file then holds `PID dormant`: no writer signals it (it names no `dns-serve`), and
//! [`answered`] counts it. A writer that finds it (rule 1, with a new configuration) writes a byte
//! into the FIFO `DIR/wake`, which the holder reads; the holder opens the FIFO before it writes the marker
//! and reads the configuration again after, so a writer either finds the marker or wrote before that read.
//! (Not an inotify watch on `config.json`: closing an inotify instance waits for an SRCU grace period,
//! 15 ms here, and the holder closes it on a container's way out.)

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::config::Config;
use crate::control::{open_wake, read_config, set_holder, set_pid, unlock};
use crate::error::DnsError;
use crate::launch::{start_with, take, Handed, Launch};

/// The resolver's lock and listeners, held by a process that is not a server (see the module
/// documentation). Must be handed over ([`Dormant::hand_over`]); dropped, the lock goes with the process's
/// descriptor and nobody serves until the next writer.
#[derive(Debug)]
pub struct Dormant {
    dir: PathBuf,
    lock: File,
    sockets: Handed,
    /// `DIR/wake`, read and written (so that it never reads end-of-file): a byte is a new configuration.
    wake: File,
    /// The configuration whose listeners are bound.
    config: Config,
    /// The configuration changed since (a server is wanted).
    changed: bool,
}

/// Takes the lock as a writer that is to start a server does ([`notify`](crate::launch::notify); with
/// `reload`, a running server is signalled), but binds the configuration's listeners and starts nothing.
/// `None`: someone else holds the lock, or no listener is configured. An address that cannot be bound is
/// an error (the lock is let go): a server started the usual way reports it and serves the others.
pub fn hold(dir: &Path, reload: bool) -> Result<Option<Dormant>, DnsError> {
    let dir = std::fs::canonicalize(dir).map_err(|e| DnsError::Read(dir.to_owned(), e))?;
    let Some((lock, config)) = take(&dir, reload)? else {
        return Ok(None);
    };
    let give_up = |lock: &File, e: DnsError| {
        unlock(lock);
        e
    };
    let mut sockets = Vec::new();
    for l in &config.listeners {
        let addr = std::net::SocketAddr::new(l.address, crate::server::PORT);
        match crate::server::bind_once(addr) {
            Ok(pair) => sockets.push(pair),
            Err(e) => return Err(give_up(&lock, DnsError::Bind(addr, e))),
        }
    }
    let wake = open_wake(&dir).map_err(|e| give_up(&lock, e))?;
    set_holder(&dir, &lock).map_err(|e| give_up(&lock, e))?;
    // A writer that came before the marker, and so did not wake us, wrote before this read.
    let changed = read_config(&dir).map_or(true, |now| now != config);
    Ok(Some(Dormant {
        dir,
        lock,
        sockets,
        wake,
        config,
        changed,
    }))
}

impl Dormant {
    /// What to poll for [`Dormant::wanted`]: the listeners' sockets and the wake FIFO.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut fds = vec![self.wake.as_fd()];
        for (udp, tcp) in &self.sockets {
            fds.push(udp.as_fd());
            fds.push(tcp.as_fd());
        }
        fds
    }

    /// Whether a server is wanted now: a writer changed the configuration, or a query waits in a listener
    /// (both looked at without blocking). Then [`Dormant::hand_over`].
    pub fn wanted(&mut self) -> bool {
        if self.config_changed() {
            return true;
        }
        let mut fds: Vec<PollFd<'_>> = self
            .sockets
            .iter()
            .flat_map(|(u, t)| [u.as_fd(), t.as_fd()])
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
    }

    /// Whether `config`, which this process just wrote to `config.json` (or found there), is the
    /// configuration bound, and no writer woke the holder since (one that wrote after us did): the
    /// holder is handed over when not.
    pub fn current(&mut self, config: &Config) -> bool {
        !self.config_changed() && *config == self.config
    }

    /// Whether a writer changed the configuration since it was bound: the wake FIFO read.
    fn config_changed(&mut self) -> bool {
        let mut buf = [0; 64];
        while matches!(self.wake.read(&mut buf), Ok(n) if n > 0) {
            self.changed = true;
        }
        self.changed
    }

    /// Ends the holding: when the configuration names listeners, starts the server as `launch` says,
    /// handing it the lock and the sockets (a query waiting in one is answered), and waits until it serves;
    /// else empties the lock file, lets the lock go, and tells the configuration as any writer does (rule
    /// 3: a writer that found the lock held counted on us).
    pub fn hand_over(self, launch: Launch<'_>) -> Result<(), DnsError> {
        let Dormant {
            dir, lock, sockets, ..
        } = self;
        if !read_config(&dir)?.listeners.is_empty() {
            // The server writes its PID over the marker before it reads the configuration (rule 2).
            return start_with(&dir, launch, lock, sockets)?.wait();
        }
        drop(sockets);
        let _ = set_pid(&dir, &lock, None);
        unlock(&lock);
        drop(lock);
        crate::launch::notify(&dir, launch)
    }
}

/// Whether names are answered for `dir`: a server runs ([`serving`](crate::control::serving)), or a live
/// process holds the lock with the listeners bound ([`Dormant`]). A hint for skipping work, as `serving`
/// is.
pub fn answered(dir: &Path) -> bool {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return false;
    };
    crate::control::server_pid(&dir).is_some()
        || crate::control::holder_pid(&dir)
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}
