//! Processes named for good: a PID with its start time, so that a recycled PID is never mistaken for the
//! process a record names; pidfds opened on them and waited on; and the report pipe of a forked helper.

use std::fs;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;

use crate::error::EngineError;

/// The start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot): with the PID, it
/// names one process for good, where the PID alone may be reused.
pub fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|(_, start)| start)
}

/// The state letter (field 3) and start time (field 22) of a process. `ps` asks this of every running
/// container, so it is one `read(2)` into a buffer on the stack: the kernel formats the whole line for
/// each read, and `read_to_string`'s size probe and second read to find the end cost as much again.
fn stat(pid: i32) -> Option<(char, u64)> {
    let mut buf = [0u8; 1024];
    let n = File::open(format!("/proc/{pid}/stat"))
        .ok()?
        .read(&mut buf)
        .ok()?;
    let stat = std::str::from_utf8(&buf[..n]).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields after it follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    Some((state, fields.nth(18)?.parse().ok()?))
}

/// True when `pid` is still the process that started at `start` and has not exited: a zombie (exited,
/// not yet reaped, as a container's PID 1 is when its supervisor was killed and init has not reaped it yet)
/// is not alive.
pub fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && matches!(stat(pid), Some((state, t)) if t == start && state != 'Z' && state != 'X')
}

/// A pidfd for `pid` when it is still the process that started at `start`. Opening the pidfd first and
/// checking the start time after makes the check hold for the pidfd.
pub(crate) fn pidfd_if_alive(pid: i32, start: u64) -> Option<OwnedFd> {
    if pid <= 0 {
        return None;
    }
    let fd = minotaur_sys::pidfd_open(Pid::from_raw(pid)).ok()?;
    alive(pid, start).then_some(fd)
}

/// Waits until the process behind a pidfd exits; false if `timeout` passed first.
pub fn wait_fd(fd: &OwnedFd, timeout: Option<Duration>) -> bool {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
                None => return false,
            },
            None => PollTimeout::NONE,
        };
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, left) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return true,
        }
    }
}

/// Reads a pipe to its end (the supervisor's report).
pub(crate) fn read_all(mut f: fs::File) -> String {
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    s
}

/// Reads a forked helper's report: "ok" once it has done its part, or "CODE MESSAGE" when it failed;
/// nothing at all when it died first (`died` says what that means).
pub(crate) fn read_report(report: OwnedFd, died: &str) -> Result<Option<i32>, EngineError> {
    let report = read_all(File::from(report));
    if report.starts_with("ok") {
        return Ok(None);
    }
    let (code, message) = report.split_once(' ').unwrap_or(("125", ""));
    let message = if message.is_empty() {
        died.to_owned()
    } else {
        message.to_owned()
    };
    Err(EngineError::Supervisor {
        message,
        code: code.parse().unwrap_or(125),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_names_this_process() {
        let me = std::process::id() as i32;
        let t = start_time(me).unwrap();
        assert!(alive(me, t));
        assert!(!alive(me, t + 1));
        assert!(!alive(0, t));
    }
}
