//! The supervisor's side of the attach channel: one `poll(2)` loop over PID 1's pidfd, its output (pipes,
//! or the pty master), the listening socket and every attacher. Output goes to the log and to each
//! attacher; attachers' input goes to the container's stdin, buffered here so that a container that does
//! not read its input never stops the supervisor from draining its output. The supervisor hangs its
//! healthcheck timer on the same loop (a [`Ticker`]).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::Winsize;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{frame, kind, Decoder};
use crate::logs::{LogWriter, Stream};

/// How long a write to an attacher (other than the one that started the container) may block before the
/// attacher is dropped: a stopped `attach` must not stop the container's output for long.
const ATTACHER_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a container runs before its supervisor gives back the memory it no longer needs.
const SHED_AFTER: Duration = Duration::from_millis(100);

/// Where attachers' input goes.
pub(crate) enum Input {
    /// Nowhere: the container has no open stdin.
    None,
    /// The pty master (`-t -i`).
    Console,
    /// The write end of the container's stdin pipe (`-i`).
    Pipe(OwnedFd),
}

/// Work the loop does beside serving, while PID 1 runs: woken when it is due or one of its descriptors is
/// readable.
pub(crate) trait Ticker {
    /// When it is due next.
    fn due(&self) -> Instant;
    /// The descriptors it waits on, and for what.
    fn fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)>;
    /// Does what is due, or what its readable descriptors have; must not block.
    fn tick(&mut self);
}

/// A container's streams as the supervisor holds them.
pub(crate) struct Streams<'a> {
    pub(crate) pid: Pid,
    pub(crate) pidfd: &'a OwnedFd,
    pub(crate) out: Option<OwnedFd>,
    pub(crate) err: Option<OwnedFd>,
    pub(crate) console: Option<OwnedFd>,
    pub(crate) input: Input,
    pub(crate) listener: Option<UnixListener>,
    /// The foreground client, connected before the container started.
    pub(crate) first: Option<UnixStream>,
    pub(crate) log: Option<&'a mut LogWriter>,
    /// Run right before the supervisor gives back its memory, once the container has run a moment: what
    /// it lets go of then (its store connection) a container that exits sooner has it keep for its end.
    pub(crate) before_shed: Option<Box<dyn FnOnce() + 'a>>,
    /// The work beside: the healthcheck timer, if the container has a check; the resolver's listeners,
    /// if this process holds them.
    pub(crate) tickers: Vec<&'a mut dyn Ticker>,
}

struct Peer {
    sock: UnixStream,
    dec: Decoder,
}

/// The attachers still connected when PID 1 has exited; they get its status with [`Attachers::exited`].
pub(crate) struct Attachers(Vec<Peer>);

impl Attachers {
    /// Sends every attacher PID 1's exit status and hangs up.
    pub(crate) fn exited(self, code: i32) {
        for mut p in self.0 {
            let _ = p.sock.write_all(&frame(kind::EXIT, &code.to_be_bytes()));
        }
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Pid,
    Out,
    Err,
    Console,
    Listener,
    Peer(usize),
    Input,
    Ticker,
}

fn set_nonblocking(fd: BorrowedFd<'_>) {
    let flags = fcntl(fd, FcntlArg::F_GETFL).unwrap_or(0);
    let _ = fcntl(
        fd,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    );
}

/// The loop's read buffer, allocated on first use.
fn buffer(buf: &mut Vec<u8>) -> &mut [u8] {
    if buf.is_empty() {
        buf.resize(64 * 1024, 0);
    }
    buf
}

/// Serves the container until PID 1 has exited and its output is drained. Returns PID 1's status and the
/// attachers still connected.
pub(crate) fn serve(mut s: Streams<'_>) -> (WaitStatus, Attachers) {
    let mut peers: Vec<Peer> = Vec::new();
    if let Some(sock) = s.first.take() {
        peers.push(Peer {
            sock,
            dec: Decoder::default(),
        });
    }
    if let Some(l) = &s.listener {
        let _ = l.set_nonblocking(true);
    }
    match &s.input {
        Input::Pipe(fd) => set_nonblocking(fd.as_fd()),
        Input::Console => {
            if let Some(c) = &s.console {
                set_nonblocking(c.as_fd());
            }
        }
        Input::None => {}
    }
    let mut pending = Pending::default();
    let mut status: Option<WaitStatus> = None;
    // Allocated at the first read: a container that stays quiet never costs the supervisor its pages.
    let mut buf: Vec<u8> = Vec::new();
    // The supervisor gives back what it no longer needs (see `minotaur_sys::shed_memory`) once the
    // container has run for a moment: from then on only this loop's code is touched again. Not at once: a
    // container that exits within its first moments (a `run --rm` of a short command) leaves the supervisor
    // its records and removal to do, which would fault every page given back in again.
    let mut shed_at = Some(Instant::now() + SHED_AFTER);
    loop {
        let streams_open = s.out.is_some() || s.err.is_some() || s.console.is_some();
        if status.is_some() && !streams_open {
            break;
        }
        let input_fd: Option<BorrowedFd<'_>> = match &s.input {
            Input::Pipe(fd) => Some(fd.as_fd()),
            Input::Console => s.console.as_ref().map(|c| c.as_fd()),
            Input::None => None,
        };
        let mut slots: Vec<(Slot, BorrowedFd<'_>, PollFlags)> = Vec::new();
        let running = status.is_none();
        if running {
            slots.push((Slot::Pid, s.pidfd.as_fd(), PollFlags::POLLIN));
        }
        for (slot, fd) in [
            (Slot::Out, &s.out),
            (Slot::Err, &s.err),
            (Slot::Console, &s.console),
        ] {
            if let Some(fd) = fd {
                slots.push((slot, fd.as_fd(), PollFlags::POLLIN));
            }
        }
        let ticking = running && !s.tickers.is_empty();
        for t in s.tickers.iter().filter(|_| ticking) {
            for (fd, flags) in t.fds() {
                slots.push((Slot::Ticker, fd, flags));
            }
        }
        if running {
            if let Some(l) = &s.listener {
                slots.push((Slot::Listener, l.as_fd(), PollFlags::POLLIN));
            }
            // While input waits for the container to read it, attachers' sockets are not read: they
            // wait in their buffers (and their senders block), which is the backpressure.
            match (pending.bytes.is_empty(), input_fd) {
                (true, _) => {
                    for (i, p) in peers.iter().enumerate() {
                        slots.push((Slot::Peer(i), p.sock.as_fd(), PollFlags::POLLIN));
                    }
                }
                (false, Some(fd)) => slots.push((Slot::Input, fd, PollFlags::POLLOUT)),
                (false, None) => pending.bytes.clear(),
            }
        }
        let mut fds: Vec<PollFd<'_>> = slots
            .iter()
            .map(|(_, fd, flags)| PollFd::new(*fd, *flags))
            .collect();
        if running && shed_at.is_some_and(|at| at <= Instant::now()) {
            shed_at = None;
            if let Some(f) = s.before_shed.take() {
                f();
            }
            minotaur_sys::shed_memory();
        }
        // What wakes the loop with nothing to read: the check that is due, the memory to give back.
        let due = s.tickers.iter().filter(|_| ticking).map(|t| t.due()).min();
        let wake = due.into_iter().chain(shed_at.filter(|_| running)).min();
        // Once PID 1 is gone its namespace is torn down and the streams close; a process outside it that
        // still holds them (with --pid host) must not keep the supervisor: give them a moment, then stop.
        let timeout = match (running, wake) {
            (false, _) => PollTimeout::from(200u16),
            (true, Some(at)) => {
                let left = at.saturating_duration_since(Instant::now());
                // Rounded up: woken a millisecond late rather than spinning until it is due.
                let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
            (true, None) => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(0) if running && wake.is_some() => {}
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<Slot> = slots
            .iter()
            .zip(&fds)
            .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|((slot, _, _), _)| *slot)
            .collect();
        drop(fds);
        if ticking {
            let woken = ready.iter().any(|slot| matches!(slot, Slot::Ticker));
            let now = Instant::now();
            // Each looks at its own descriptors without blocking: a tick with nothing to do is none.
            for t in s.tickers.iter_mut() {
                if woken || t.due() <= now {
                    t.tick();
                }
            }
        }
        let mut gone: Vec<usize> = Vec::new();
        for slot in ready {
            match slot {
                Slot::Pid => {
                    if let Ok(st) = waitpid(s.pid, Some(WaitPidFlag::WNOHANG)) {
                        if st != WaitStatus::StillAlive {
                            status = Some(st);
                        }
                    }
                }
                Slot::Out | Slot::Err | Slot::Console => {
                    let (fd, stream) = match slot {
                        Slot::Out => (&mut s.out, Stream::Stdout),
                        Slot::Err => (&mut s.err, Stream::Stderr),
                        _ => (&mut s.console, Stream::Stdout),
                    };
                    let n = match fd.as_ref().map(|f| nix::unistd::read(f, buffer(&mut buf))) {
                        Some(Ok(n)) => n,
                        Some(Err(nix::Error::EAGAIN | nix::Error::EINTR)) => continue,
                        _ => 0,
                    };
                    if n == 0 {
                        *fd = None;
                        continue;
                    }
                    if let Some(log) = s.log.as_deref_mut() {
                        let _ = log.write(stream, &buf[..n]);
                    }
                    let k = match stream {
                        Stream::Stdout => kind::STDOUT,
                        Stream::Stderr => kind::STDERR,
                    };
                    let f = frame(k, &buf[..n]);
                    for (i, p) in peers.iter_mut().enumerate() {
                        if p.sock.write_all(&f).is_err() && !gone.contains(&i) {
                            gone.push(i);
                        }
                    }
                }
                Slot::Listener => {
                    if let Some(l) = &s.listener {
                        while let Ok((sock, _)) = l.accept() {
                            let _ = sock.set_nonblocking(false);
                            let _ = sock.set_write_timeout(Some(ATTACHER_WRITE_TIMEOUT));
                            peers.push(Peer {
                                sock,
                                dec: Decoder::default(),
                            });
                        }
                    }
                }
                Slot::Peer(i) => {
                    let p = &mut peers[i];
                    match p.sock.read(buffer(&mut buf)) {
                        Ok(0) | Err(_) => {
                            gone.push(i);
                            continue;
                        }
                        Ok(n) => p.dec.push(&buf[..n]),
                    }
                    loop {
                        match p.dec.next_frame() {
                            Ok(Some((k, payload))) => {
                                handle(&mut s, k, &payload, &mut pending);
                            }
                            Ok(None) => break,
                            Err(()) => {
                                gone.push(i);
                                break;
                            }
                        }
                    }
                }
                // Done above, once for all its descriptors.
                Slot::Ticker => {}
                Slot::Input => {
                    let fd = match &s.input {
                        Input::Pipe(fd) => Some(fd.as_fd()),
                        Input::Console => s.console.as_ref().map(|c| c.as_fd()),
                        Input::None => None,
                    };
                    match fd.map(|fd| nix::unistd::write(fd, &pending.bytes)) {
                        Some(Ok(n)) => {
                            pending.bytes.drain(..n);
                        }
                        Some(Err(nix::Error::EAGAIN | nix::Error::EINTR)) => {}
                        // The container closed its stdin (EPIPE) or its terminal is gone.
                        _ => {
                            pending.bytes.clear();
                            pending.close = true;
                        }
                    }
                    if pending.bytes.is_empty() && pending.close {
                        close_input(&mut s);
                    }
                }
            }
        }
        gone.sort_unstable();
        gone.dedup();
        for i in gone.into_iter().rev() {
            peers.remove(i);
        }
    }
    let status =
        status.unwrap_or_else(|| waitpid(s.pid, None).unwrap_or(WaitStatus::Exited(s.pid, 255)));
    (status, Attachers(peers))
}

/// Input on its way to the container, and whether its stdin is to be closed once it has been written.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    close: bool,
}

/// Closes the container's stdin pipe. A terminal has no end of input of its own (its reader sees
/// ctrl-d), so it stays.
fn close_input(s: &mut Streams<'_>) {
    if let Input::Pipe(_) = s.input {
        s.input = Input::None;
    }
}

/// Acts on one frame from an attacher.
fn handle(s: &mut Streams<'_>, k: u8, payload: &[u8], pending: &mut Pending) {
    match k {
        kind::STDIN if !matches!(s.input, Input::None) && !pending.close => {
            pending.bytes.extend_from_slice(payload);
        }
        kind::CLOSE_STDIN => {
            if let Input::Console = s.input {
                return;
            }
            pending.close = true;
            if pending.bytes.is_empty() {
                close_input(s);
            }
        }
        kind::RESIZE => {
            if let (Some(c), [r0, r1, c0, c1]) = (&s.console, payload) {
                let ws = Winsize {
                    ws_row: u16::from_be_bytes([*r0, *r1]),
                    ws_col: u16::from_be_bytes([*c0, *c1]),
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                let _ = minotaur_sys::set_winsize(c, &ws);
            }
        }
        kind::SIGNAL => {
            if let Ok(b) = <[u8; 4]>::try_from(payload) {
                if let Ok(sig) = Signal::try_from(i32::from_be_bytes(b)) {
                    let _ = minotaur_sys::pidfd_send_signal(s.pidfd, sig);
                }
            }
        }
        _ => {}
    }
}

/// Makes the listening socket at `path` (replacing a stale one), readable and writable by its owner only.
pub(crate) fn listen(path: &std::path::Path) -> io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}
