//! The one crate of minotaur that may use `unsafe`.
//!
//! It owns thin wrappers over system calls and ioctls that `nix` does not expose safely: `fork`, `pidfd_open`,
//! the nsfs ioctls (`NS_GET_NSTYPE`, `NS_GET_USERNS`, `NS_GET_PARENT`, `NS_GET_OWNER_UID`). Each wrapper
//! returns owned descriptors (`OwnedFd`) and keeps the kernel's errno. It owns no policy: which namespace to
//! join, in which order, or what to mount belongs to `minotaur-ns` and the crates above it.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::unistd::Pid;

pub use nix::unistd::ForkResult;

/// Forks the calling process.
///
/// Callers must be single-threaded at the time of the call (the CLI is: it starts no threads before it forks),
/// so the child holds no lock another thread owned, and may run ordinary Rust code until it execs or exits.
pub fn fork() -> Result<ForkResult, Errno> {
    // SAFETY: the CLI is single-threaded whenever it forks (documented contract above), so the child cannot
    // inherit a lock held by a thread that no longer exists there.
    unsafe { nix::unistd::fork() }
}

/// Opens a pidfd for `pid` (pidfd_open(2), Linux 5.3).
pub fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

// The nsfs ioctls, from <linux/nsfs.h>: _IO(0xb7, n).
const NSIO: u32 = 0xb7;
const fn io(nr: u32) -> libc::c_ulong {
    ((NSIO << 8) | nr) as libc::c_ulong
}
const NS_GET_USERNS: libc::c_ulong = io(0x1);
const NS_GET_PARENT: libc::c_ulong = io(0x2);
const NS_GET_NSTYPE: libc::c_ulong = io(0x3);
const NS_GET_OWNER_UID: libc::c_ulong = io(0x4);

/// Returns the `CLONE_NEW*` flag of the namespace that `fd` refers to (ioctl_ns(2) `NS_GET_NSTYPE`).
/// Fails with `ENOTTY` when `fd` is not an nsfs file.
pub fn ns_get_nstype(fd: impl AsFd) -> Result<libc::c_int, Errno> {
    // SAFETY: NS_GET_NSTYPE takes no argument and returns an integer; the descriptor is borrowed and alive.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), NS_GET_NSTYPE) };
    Errno::result(r)
}

/// Returns the owning user namespace of the namespace behind `fd` (`NS_GET_USERNS`).
pub fn ns_get_userns(fd: impl AsFd) -> Result<OwnedFd, Errno> {
    // SAFETY: NS_GET_USERNS takes no argument and returns a new descriptor; the input is borrowed and alive.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), NS_GET_USERNS) };
    let r = Errno::result(r)?;
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// Returns the parent of a hierarchical (PID or user) namespace (`NS_GET_PARENT`).
pub fn ns_get_parent(fd: impl AsFd) -> Result<OwnedFd, Errno> {
    // SAFETY: NS_GET_PARENT takes no argument and returns a new descriptor; the input is borrowed and alive.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), NS_GET_PARENT) };
    let r = Errno::result(r)?;
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// Returns the UID that owns a user namespace (`NS_GET_OWNER_UID`).
pub fn ns_get_owner_uid(fd: impl AsFd) -> Result<u32, Errno> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the pointer, which points at a live local.
    let r = unsafe {
        libc::ioctl(
            fd.as_fd().as_raw_fd(),
            NS_GET_OWNER_UID,
            &mut uid as *mut libc::uid_t,
        )
    };
    Errno::result(r)?;
    Ok(uid)
}

/// Restores the default action of `signal` (`SIG_DFL`). The Rust runtime ignores `SIGPIPE`; a program we
/// exec must start with the default, as it would from a shell.
pub fn reset_signal_to_default(signal: nix::sys::signal::Signal) -> Result<(), Errno> {
    // SAFETY: installing SIG_DFL runs no code of ours in signal context, so nothing can be unsound about
    // the handler; the previous disposition is dropped.
    unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl) }.map(drop)
}
