//! `run --init`: a minimal init for PID 1 (Docker uses tini for this). It runs the command as its child,
//! forwards the signals it gets to it, reaps every zombie (orphans in the container are reparented to PID 1),
//! and exits with the command's status (128+N when signal N ended it). A command run directly as PID 1 gets
//! no default signal actions from the kernel and reaps nothing; this is what `--init` fixes.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("init: cannot {0}")]
    Sys(&'static str, #[source] nix::Error),
    #[error("init: an argument contains a NUL byte")]
    Nul,
    #[error("init: no command given")]
    NoCommand,
}

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

/// Runs `command` as a child: forwards signals, reaps zombies, returns the command's exit status.
pub fn run(command: &[std::ffi::OsString]) -> Result<i32, InitError> {
    // Block the signals before forking, so none is lost between fork and the signalfd; the child unblocks.
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    set.thread_block()
        .map_err(|e| InitError::Sys("block signals", e))?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| InitError::Sys("make a signalfd", e))?;
    let argv: Vec<CString> = command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| InitError::Nul)?;
    if argv.is_empty() {
        return Err(InitError::NoCommand);
    }
    let child = match minotaur_sys::fork().map_err(|e| InitError::Sys("fork", e))? {
        minotaur_sys::ForkResult::Child => {
            let _ = set.thread_unblock();
            let _ = minotaur_sys::reset_signal_to_default(Signal::SIGPIPE);
            let err = nix::unistd::execvp(&argv[0], &argv).unwrap_err();
            eprintln!(
                "minotaur init: cannot execute {}: {err}",
                argv[0].to_string_lossy()
            );
            minotaur_sys::exit_now(if err == nix::Error::ENOENT { 127 } else { 126 });
        }
        minotaur_sys::ForkResult::Parent { child } => child,
    };
    loop {
        let info = match sfd.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(InitError::Sys("read signals", e)),
        };
        match Signal::try_from(info.ssi_signo as i32) {
            Ok(Signal::SIGCHLD) => {
                // Reap everything that exited: the command, and orphans that were reparented to us.
                loop {
                    match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                        Ok(WaitStatus::Exited(pid, code)) if pid == child => return Ok(code),
                        Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                            return Ok(128 + sig as i32)
                        }
                        Ok(WaitStatus::StillAlive) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
            Ok(sig) => {
                let _ = nix::sys::signal::kill(child, sig);
            }
            Err(_) => {}
        }
    }
}
