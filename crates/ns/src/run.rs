//! Running a program once the namespaces are right: forking (a PID namespace only applies to children),
//! waiting for the child and passing its status on, and executing the program in place.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpid, Pid};

/// A failure to fork, wait or execute.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("fork failed")]
    Fork(#[source] Errno),
    #[error("waiting for process {pid} failed")]
    Wait {
        pid: Pid,
        #[source]
        source: Errno,
    },
    #[error("failed to execute {}", program.to_string_lossy())]
    Exec {
        program: OsString,
        #[source]
        source: Errno,
    },
}

impl RunError {
    /// The exit status the shell and util-linux use for this failure: 127 when the program was not found,
    /// 126 when it was found but could not be executed, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Exec {
                source: Errno::ENOENT,
                ..
            } => 127,
            RunError::Exec { .. } => 126,
            _ => 1,
        }
    }
}

/// Which side of a fork the caller is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    Child,
    Parent(Pid),
}

/// Forks. The caller must be single-threaded (see `minotaur_sys::fork`).
pub fn fork() -> Result<Forked, RunError> {
    match minotaur_sys::fork().map_err(RunError::Fork)? {
        minotaur_sys::ForkResult::Child => Ok(Forked::Child),
        minotaur_sys::ForkResult::Parent { child } => Ok(Forked::Parent(child)),
    }
}

/// Waits for `child` to end and returns the status to exit with: its exit code, or 128+N when signal N
/// killed it, as a shell reports it. When the child stops (^Z), this process stops too and resumes the
/// child when it is continued, as util-linux's nsenter does, so job control sees one job.
pub fn wait_exit(child: Pid) -> Result<u8, RunError> {
    loop {
        match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128u8.wrapping_add(sig as u8)),
            Ok(WaitStatus::Stopped(..)) => {
                let _ = kill(getpid(), Signal::SIGSTOP);
                let _ = kill(child, Signal::SIGCONT);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(source) => return Err(RunError::Wait { pid: child, source }),
        }
    }
}

/// The program to run when the user gives none: `$SHELL`, or `/bin/sh`.
pub fn default_command() -> Vec<OsString> {
    vec![std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into())]
}

/// Replaces this process with `argv[0]` searched in `$PATH`, with `SIGPIPE` back to its default.
/// Returns only on failure.
pub fn exec(argv: &[OsString]) -> RunError {
    let program = argv.first().cloned().unwrap_or_default();
    let fail = |source| RunError::Exec {
        program: program.clone(),
        source,
    };
    let args: Result<Vec<CString>, _> = argv.iter().map(|a| cstring(a)).collect();
    let Ok(args) = args else {
        return fail(Errno::EINVAL);
    };
    let Some(file) = args.first() else {
        return fail(Errno::ENOENT);
    };
    if let Err(e) = minotaur_sys::reset_signal_to_default(Signal::SIGPIPE) {
        return fail(e);
    }
    match nix::unistd::execvp(file, &args) {
        Err(e) => fail(e),
        Ok(never) => match never {},
    }
}

fn cstring(s: &OsStr) -> Result<CString, std::ffi::NulError> {
    CString::new(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_failures_map_to_the_shells_exit_codes() {
        let missing = RunError::Exec {
            program: "nope".into(),
            source: Errno::ENOENT,
        };
        assert_eq!(missing.exit_code(), 127);
        assert_eq!(missing.to_string(), "failed to execute nope");
        let denied = RunError::Exec {
            program: "/etc".into(),
            source: Errno::EACCES,
        };
        assert_eq!(denied.exit_code(), 126);
    }
}
