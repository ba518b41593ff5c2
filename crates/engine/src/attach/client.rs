//! The attacher's side: relays this process's standard streams over the channel to the supervisor.
//!
//! Signals follow the Docker CLI. With the signal proxy on (the default, never with `-t`), SIGINT,
//! SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are sent to PID 1, and this process goes on until the
//! container exits. Otherwise this process dies of them (after putting the terminal back), and the
//! container runs on. SIGWINCH, with `-t`, resizes the container's terminal.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::{frame, kind, AttachError, AttachOptions, Decoder, DetachWatch, Ended};
use crate::relay::RawMode;

/// The signals an attacher handles: proxied or died of, and SIGWINCH.
const HANDLED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

fn handled_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(*s);
    }
    set
}

/// Blocks the signals an attacher handles in the calling thread, and returns the mask it had. A foreground
/// `run` calls it before it forks the supervisor: from then on those signals wait for [`relay`]'s signalfd
/// instead of killing it while it waits for the container to start (the container may already be
/// running, and be signalled as the client, before the supervisor's report arrives).
pub(crate) fn block_handled() -> nix::Result<SigSet> {
    handled_set().thread_swap_mask(SigmaskHow::SIG_BLOCK)
}

/// Sends the terminal's size on `stdin`, if it is one.
fn send_size(sock: &mut UnixStream) -> io::Result<()> {
    if let Ok(ws) = minotaur_sys::get_winsize(io::stdin()) {
        let mut p = ws.ws_row.to_be_bytes().to_vec();
        p.extend_from_slice(&ws.ws_col.to_be_bytes());
        sock.write_all(&frame(kind::RESIZE, &p))?;
    }
    Ok(())
}

/// Relays until the container exits, the detach keys are typed or a signal ends this process's part.
/// With `tty` the container has a terminal: this process's is put in raw mode (when standard input is
/// attached and is one) and put back on every way out.
pub(crate) fn relay(
    mut sock: UnixStream,
    tty: bool,
    opts: &AttachOptions,
) -> Result<Ended, AttachError> {
    let set = handled_set();
    set.thread_block().map_err(|e| AttachError::Io(e.into()))?;
    let signals = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| AttachError::Io(e.into()))?;
    let stdin = io::stdin();
    let is_term = nix::unistd::isatty(stdin.as_fd()).unwrap_or(false);
    let _raw = if tty && opts.stdin && is_term {
        RawMode::enter()
    } else {
        None
    };
    // The proxy is Docker's: never with a terminal, whose keys reach the container as bytes.
    let proxy = opts.sig_proxy && !tty;
    if tty {
        send_size(&mut sock).map_err(AttachError::Io)?;
    }
    let mut watch = DetachWatch::new(if tty {
        opts.detach_keys.clone()
    } else {
        Vec::new()
    });
    let mut stdin_open = opts.stdin;
    let mut dec = Decoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut fds = vec![
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(AttachError::Io(e.into())),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            let n = match sock.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(_) => return Err(AttachError::Lost(String::new())),
            };
            if n == 0 {
                return Err(AttachError::Lost(String::new()));
            }
            dec.push(&buf[..n]);
            while let Some((k, payload)) = dec
                .next_frame()
                .map_err(|()| AttachError::Lost(String::new()))?
            {
                match k {
                    kind::STDOUT => {
                        let mut out = io::stdout().lock();
                        // A closed stdout is not the container's business: it goes on, unread.
                        let _ = out.write_all(&payload).and_then(|_| out.flush());
                    }
                    kind::STDERR => {
                        let _ = io::stderr().write_all(&payload);
                    }
                    kind::EXIT => {
                        let code = <[u8; 4]>::try_from(payload.as_slice())
                            .map(i32::from_be_bytes)
                            .unwrap_or(255);
                        log::debug!("attach: exit status {code} received");
                        return Ok(Ended::Exited(code));
                    }
                    _ => {}
                }
            }
        }
        if ready[1] {
            while let Ok(Some(info)) = signals.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGWINCH) => {
                        if tty {
                            let _ = send_size(&mut sock);
                        }
                    }
                    Ok(sig) if proxy => {
                        let _ = sock.write_all(&frame(kind::SIGNAL, &(sig as i32).to_be_bytes()));
                    }
                    Ok(sig) => return Ok(Ended::Signal(sig)),
                    Err(_) => {}
                }
            }
        }
        if ready.get(2) == Some(&true) {
            let n = match nix::unistd::read(&stdin, &mut buf) {
                Ok(n) => n,
                Err(nix::Error::EINTR | nix::Error::EAGAIN) => continue,
                Err(_) => 0,
            };
            if n == 0 {
                stdin_open = false;
                if opts.close_stdin {
                    let _ = sock.write_all(&frame(kind::CLOSE_STDIN, &[]));
                }
                continue;
            }
            let (pass, detach) = watch.filter(&buf[..n]);
            if !pass.is_empty() {
                let _ = sock.write_all(&frame(kind::STDIN, &pass));
            }
            if detach {
                return Ok(Ended::Detached);
            }
        }
    }
}

/// Ends this process as `sig` would have, had it not been caught: what the Docker CLI does with a signal it
/// does not proxy. Call it once the terminal is put back.
pub fn die_of(sig: Signal) -> ! {
    let _ = minotaur_sys::reset_signal_to_default(sig);
    let mut one = SigSet::empty();
    one.add(sig);
    let _ = nix::sys::signal::raise(sig);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&one), None);
    std::process::exit(128 + sig as i32)
}
