//! Relaying a container process's life to the caller: one `poll(2)` loop that copies its output (to the log
//! and, attached, to this process's stdout and stderr), feeds it this process's input through its terminal,
//! forwards the signals this process gets, and ends when it has exited. Used by `exec`; the supervisor serves a
//! container's streams in its own loop (the `attach` module's `serve`).

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::logs::{LogWriter, Stream};

/// Signals an attached supervisor forwards to the container, as `docker run`'s signal proxy does.
const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

pub(crate) fn block_forwarded() -> Option<SignalFd> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGWINCH);
    set.thread_block().ok()?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok()
}

/// The user's terminal in raw mode while a `-t` container runs attached; restored on drop.
pub(crate) struct RawMode(termios::Termios);

impl RawMode {
    pub(crate) fn enter() -> Option<RawMode> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin(), termios::SetArg::TCSANOW, &self.0);
    }
}

pub(crate) struct Pump<'a> {
    pub(crate) pid: Pid,
    pub(crate) pidfd: &'a OwnedFd,
    pub(crate) out: Option<OwnedFd>,
    pub(crate) err: Option<OwnedFd>,
    pub(crate) console: Option<OwnedFd>,
    pub(crate) relay: bool,
    pub(crate) relay_stdin: bool,
    pub(crate) signals: Option<&'a SignalFd>,
    pub(crate) log: Option<&'a mut LogWriter>,
}

/// Copies output until PID 1 has exited and its streams are closed; forwards signals. Returns PID 1's status.
pub(crate) fn pump(mut p: Pump<'_>) -> WaitStatus {
    let mut status: Option<WaitStatus> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let stdin = io::stdin();
    let mut stdin_open = p.relay_stdin;
    loop {
        // Slots: 0 pidfd, 1 stdout, 2 stderr, 3 console, 4 signals, 5 stdin.
        let mut slots: Vec<(usize, BorrowedFd<'_>)> = Vec::new();
        if status.is_none() {
            slots.push((0, p.pidfd.as_fd()));
        }
        if let Some(f) = &p.out {
            slots.push((1, f.as_fd()));
        }
        if let Some(f) = &p.err {
            slots.push((2, f.as_fd()));
        }
        if let Some(f) = &p.console {
            slots.push((3, f.as_fd()));
        }
        if let Some(s) = p.signals {
            slots.push((4, s.as_fd()));
        }
        if stdin_open {
            slots.push((5, stdin.as_fd()));
        }
        let streams_open = p.out.is_some() || p.err.is_some() || p.console.is_some();
        if status.is_some() && !streams_open {
            break;
        }
        let mut fds: Vec<PollFd<'_>> = slots
            .iter()
            .map(|(_, fd)| PollFd::new(*fd, PollFlags::POLLIN))
            .collect();
        // Once PID 1 is gone its namespace is torn down and the streams close; a process outside it that still
        // holds them (with --pid host) must not keep the supervisor: give them a moment, then stop.
        let timeout = if status.is_some() {
            PollTimeout::from(200u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<(usize, PollFlags)> = slots
            .iter()
            .zip(&fds)
            .map(|((slot, _), f)| (*slot, f.revents().unwrap_or(PollFlags::empty())))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        for (slot, _) in ready {
            match slot {
                0 => {
                    if let Ok(s) = waitpid(p.pid, Some(WaitPidFlag::WNOHANG)) {
                        if s != WaitStatus::StillAlive {
                            status = Some(s);
                        }
                    }
                }
                1..=3 => {
                    let (fd, stream) = match slot {
                        1 => (p.out.as_ref(), Stream::Stdout),
                        2 => (p.err.as_ref(), Stream::Stderr),
                        _ => (p.console.as_ref(), Stream::Stdout),
                    };
                    let n = fd
                        .map(|fd| nix::unistd::read(fd, &mut buf).unwrap_or(0))
                        .unwrap_or(0);
                    if n == 0 {
                        match slot {
                            1 => p.out = None,
                            2 => p.err = None,
                            _ => p.console = None,
                        }
                        continue;
                    }
                    if let Some(log) = p.log.as_deref_mut() {
                        let _ = log.write(stream, &buf[..n]);
                    }
                    if p.relay {
                        let _ = match stream {
                            Stream::Stdout => io::stdout()
                                .write_all(&buf[..n])
                                .and_then(|_| io::stdout().flush()),
                            Stream::Stderr => io::stderr().write_all(&buf[..n]),
                        };
                    }
                }
                4 => {
                    if let Some(Ok(Some(info))) = p.signals.map(|s| s.read_signal()) {
                        match Signal::try_from(info.ssi_signo as i32) {
                            Ok(Signal::SIGWINCH) => {
                                if let (Some(c), Ok(ws)) =
                                    (&p.console, minotaur_sys::get_winsize(io::stdin()))
                                {
                                    let _ = minotaur_sys::set_winsize(c, &ws);
                                }
                            }
                            Ok(sig) => {
                                let _ = minotaur_sys::pidfd_send_signal(p.pidfd, sig);
                            }
                            Err(_) => {}
                        }
                    }
                }
                5 => {
                    let n = nix::unistd::read(&stdin, &mut buf).unwrap_or(0);
                    if n == 0 {
                        stdin_open = false;
                    } else if let Some(c) = &p.console {
                        let _ = nix::unistd::write(c, &buf[..n]);
                    }
                }
                _ => {}
            }
        }
    }
    status.unwrap_or_else(|| waitpid(p.pid, None).unwrap_or(WaitStatus::Exited(p.pid, 255)))
}
