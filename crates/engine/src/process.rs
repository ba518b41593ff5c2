//! Processes named for good: a PID with its start time, so that a recycled PID is never mistaken for the
//! process a record names; pidfds opened on them and waited on; and the report pipe of a forked helper.

use std::fs;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::statfs::FsType;
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

/// The magic number of pidfs (`PIDFS_MAGIC` in <linux/magic.h>), the filesystem of pidfds since Linux 6.9.
const PIDFS_MAGIC: FsType = FsType(0x5049_4446);

/// The inode of a pidfd on pidfs: a number the kernel gives each process when it is made and never gives
/// another during the boot (on 64-bit kernels; see pidfs.c), so it names one process for good, as the PID
/// and its start time do. 0 when pidfds are not on pidfs (before Linux 6.9: they share one anonymous
/// inode), and then [`alive_all`] reads the start time instead.
pub(crate) fn pidfd_inode(fd: &OwnedFd) -> u64 {
    let on_pidfs = nix::sys::statfs::fstatfs(fd).is_ok_and(|s| s.filesystem_type() == PIDFS_MAGIC);
    if !on_pidfs {
        return 0;
    }
    nix::sys::stat::fstat(fd).map_or(0, |st| st.st_ino)
}

/// How many pidfds [`alive_all`] holds open at once: well under the usual limit of 1,024 descriptors.
const CHECK_BATCH: usize = 256;

/// For each process named by its PID, start time and pidfs inode (0: not recorded), whether it is still
/// that process and has not exited; [`alive`] for many at once (`ps` asks this of every running
/// container). Where the inode is recorded, the check is a `pidfd_open(2)` and an `fstat(2)` of the pidfd
/// (the PID now names another process when the inode differs), then one `poll(2)` over a batch of them,
/// in which an exited process's pidfd is readable: a zombie is not alive. That is cheaper than reading
/// `/proc/PID/stat`, for which the kernel walks the path and formats 52 fields (two thirds of the CPU
/// time `ps` spent with 1,000 containers running).
pub fn alive_all(procs: &[(i32, u64, u64)]) -> Vec<bool> {
    let mut out = vec![false; procs.len()];
    let mut open: Vec<(usize, OwnedFd)> = Vec::with_capacity(CHECK_BATCH);
    let flush = |open: &mut Vec<(usize, OwnedFd)>, out: &mut [bool]| {
        let mut fds: Vec<PollFd> = open
            .iter()
            .map(|(_, fd)| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        let polled = loop {
            match poll(&mut fds, PollTimeout::ZERO) {
                Err(nix::Error::EINTR) => continue,
                r => break r.is_ok(),
            }
        };
        for ((i, _), fd) in open.iter().zip(&fds) {
            out[*i] = polled && fd.revents().is_some_and(|r| r.is_empty());
        }
        drop(fds);
        open.clear();
    };
    for (i, &(pid, start, inode)) in procs.iter().enumerate() {
        if pid <= 0 {
            continue;
        }
        if inode == 0 {
            out[i] = alive(pid, start);
            continue;
        }
        let Ok(fd) = minotaur_sys::pidfd_open(Pid::from_raw(pid)) else {
            continue;
        };
        if nix::sys::stat::fstat(&fd).map_or(true, |st| st.st_ino != inode) {
            continue;
        }
        open.push((i, fd));
        if open.len() == CHECK_BATCH {
            flush(&mut open, &mut out);
        }
    }
    flush(&mut open, &mut out);
    out
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
    read_ok_report(report, died).map(|_| None)
}

/// [`read_report`], handing back what the helper wrote after its "ok" (the supervisor: the container's ID).
pub(crate) fn read_ok_report(report: OwnedFd, died: &str) -> Result<String, EngineError> {
    let report = read_all(File::from(report));
    if let Some(rest) = report.strip_prefix("ok") {
        return Ok(rest.trim().to_owned());
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

    #[test]
    fn alive_all_tells_live_recycled_and_exited_processes_apart() {
        let me = std::process::id() as i32;
        let t = start_time(me).unwrap();
        let fd = minotaur_sys::pidfd_open(Pid::from_raw(me)).unwrap();
        let ino = pidfd_inode(&fd);
        // A child that has exited but is not reaped yet: a zombie, not alive.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let zpid = child.id() as i32;
        let zfd = minotaur_sys::pidfd_open(Pid::from_raw(zpid)).unwrap();
        wait_fd(&zfd, None);
        let zino = pidfd_inode(&zfd);
        let zstart = start_time(zpid).unwrap_or(0);
        let got = alive_all(&[
            (me, t, ino),
            (me, t, 0),
            (me, t + 1, 0),
            (zpid, zstart, zino),
            (zpid, zstart, 0),
            (0, t, ino),
        ]);
        child.wait().unwrap();
        if ino == 0 {
            println!("skipped: pidfds are not on pidfs here (before Linux 6.9): the inode checks");
            assert_eq!(&got[1..3], &[true, false]);
            return;
        }
        // The same PID with another inode is another process.
        let other = alive_all(&[(me, t, ino + 1)]);
        assert_eq!(got, vec![true, true, false, false, false, false]);
        assert_eq!(other, vec![false]);
    }
}
