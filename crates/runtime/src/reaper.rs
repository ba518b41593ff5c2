//! `--init`: the container's PID 1 stays minotaur's code instead of becoming the command.
//!
//! The command runs as PID 1's child; PID 1 forwards the signals it gets to it, reaps every process that
//! exits (orphans in the container's PID namespace are reparented to PID 1), and exits with the command's
//! status (128+N when signal N ended it). A command run directly as PID 1 gets no default signal actions
//! from the kernel (SIGTERM is ignored unless it installs a handler) and reaps nothing; that is what `--init`
//! fixes, as Docker's tini does. Being a fork of the runtime's own init process, it needs no binary inside
//! the container's filesystem, so it works on any image.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Signals passed on to the command; SIGCHLD is kept for reaping.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

/// The signals the reaper takes over: blocked before forking the command (none is lost between the fork
/// and the signalfd), unblocked again in the command.
pub fn signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks [`signals`] and opens a signalfd for them.
pub fn prepare() -> nix::Result<SignalFd> {
    let set = signals();
    set.thread_block()?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)
}

/// Forwards signals to `child` and reaps every exited process until `child` exits; returns its status.
pub fn run(sfd: &SignalFd, child: Pid) -> i32 {
    loop {
        let info = match sfd.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(nix::Error::EINTR) => continue,
            Err(_) => return 255,
        };
        match Signal::try_from(info.ssi_signo as i32) {
            Ok(Signal::SIGCHLD) => loop {
                match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(pid, code)) if pid == child => return code,
                    Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                        return 128 + sig as i32
                    }
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => {}
                }
            },
            Ok(sig) => {
                let _ = nix::sys::signal::kill(child, sig);
            }
            Err(_) => {}
        }
    }
}
