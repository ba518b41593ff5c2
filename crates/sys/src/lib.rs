//! The one crate of minotaur that may use `unsafe`.
//!
//! It owns thin wrappers over system calls and ioctls that `nix` does not expose safely: `fork`, a clone that
//! shares the caller's memory until it execs ([`clone_vfork`], with [`ExecArgs`]), `pidfd_open`,
//! the nsfs ioctls (`NS_GET_NSTYPE`, `NS_GET_USERNS`, `NS_GET_PARENT`, `NS_GET_OWNER_UID`), `sync_file_range`,
//! bpf(2) ([`bpf`]), and the C libraries loaded at run time: libnftables ([`Nftables`]) and libpcap
//! ([`pcap`]). Each wrapper returns owned descriptors (`OwnedFd`) and keeps the kernel's errno. It owns no
//! policy: which namespace to join, in which order, or what to mount belongs to `minotaur-ns` and the crates
//! above it.

pub mod bpf;
pub mod pcap;
pub mod resolve;
mod shed;
mod spawn;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::unistd::Pid;

pub use nix::unistd::ForkResult;
pub use shed::shed_memory;
pub use spawn::{clone_vfork, cwd_is_reachable, ExecArgs};

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

/// `struct clone_args` from <linux/sched.h>, the version-2 layout (88 bytes, Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What [`clone3`] returned in each of the two processes.
#[derive(Debug)]
pub enum Clone3Result {
    /// In the parent: the child's PID (as seen from the caller's PID namespace) and a pidfd for it.
    Parent { child: Pid, pidfd: OwnedFd },
    /// In the child.
    Child,
}

/// Forks like fork(2) through clone3(2) with `flags` (the `CLONE_NEW*` flags; `CLONE_PIDFD` is always added)
/// and `SIGCHLD` as the exit signal. No new stack is given, so the child continues on a copy of the caller's
/// stack exactly as after fork(2); with `CLONE_NEWPID` the child is PID 1 of the new PID namespace.
///
/// Unlike fork(2) this bypasses glibc's `pthread_atfork` handlers; the caller must be single-threaded (the same
/// contract as [`fork`]), so no lock can be held by a thread that does not exist in the child.
pub fn clone3(flags: u64) -> Result<Clone3Result, Errno> {
    clone3_args(flags, None)
}

/// `CLONE_INTO_CGROUP` (Linux 5.7): not in the libc crate's constants.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// [`clone3`] with the child born in the cgroup v2 directory `cgroup` (`CLONE_INTO_CGROUP`), as if it had
/// been moved there before its first instruction. Moving a process afterwards (writing `cgroup.procs`)
/// takes the kernel's thread-group lock for writing, whose writer waits for an RCU grace period; a clone
/// into the cgroup takes it only for reading. `EINVAL` or `E2BIG` from a kernel older than 5.7.
pub fn clone3_into(flags: u64, cgroup: BorrowedFd<'_>) -> Result<Clone3Result, Errno> {
    clone3_args(flags, Some(cgroup))
}

fn clone3_args(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> Result<Clone3Result, Errno> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: `args` is a valid, fully initialised clone_args of the size passed; `pidfd` outlives the call and
    // the kernel writes one int to it. With no stack given the child resumes here on its own copy of the
    // address space, like fork(2); the caller is single-threaded (documented contract), so the child inherits
    // no lock owned by another thread.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match r {
        -1 => Err(Errno::last()),
        0 => Ok(Clone3Result::Child),
        child => Ok(Clone3Result::Parent {
            child: Pid::from_raw(child as i32),
            // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor in `pidfd` that nothing else owns.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}

/// Sets the calling thread's effective user ID, leaving its real and saved IDs as they are: setresuid(2) as
/// the raw system call. glibc's wrapper changes the IDs of every thread of the process (POSIX asks it to);
/// the kernel's call changes only the caller's, which is what a thread that makes one namespace as another
/// user wants. Going from 0 to another ID empties the effective capabilities, and back to 0 restores them
/// from the permitted set (capabilities(7)).
pub fn set_thread_euid(uid: u32) -> Result<(), Errno> {
    // SAFETY: setresuid takes three integers (-1: unchanged) and returns 0 or -1; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_setresuid, -1i32, uid as libc::c_int, -1i32) };
    Errno::result(r).map(drop)
}

/// [`set_thread_euid`] for the effective group ID: setresgid(2) as the raw system call.
pub fn set_thread_egid(gid: u32) -> Result<(), Errno> {
    // SAFETY: setresgid takes three integers (-1: unchanged) and returns 0 or -1; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_setresgid, -1i32, gid as libc::c_int, -1i32) };
    Errno::result(r).map(drop)
}

/// `struct mount_attr` from <linux/mount.h>.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Makes the mount at `path` and every mount below it read-only in one step (mount_setattr(2) with
/// `AT_RECURSIVE`, Linux 5.12). The mount(2) alternative, `MS_REMOUNT|MS_BIND|MS_RDONLY`, only changes one
/// mount at a time and needs each mount's other flags repeated.
pub fn mount_setattr_rdonly_recursive(path: &std::ffi::CStr) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `path` is a NUL-terminated string and `attr` a valid mount_attr of the size passed; the kernel
    // only reads both during the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(drop)
}

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// Idmaps the detached mount `mount` (a clone from open_tree(2) with `OPEN_TREE_CLONE`, not yet attached
/// anywhere) with the ID mapping of the user namespace `userns` (mount_setattr(2) with `MOUNT_ATTR_IDMAP`,
/// Linux 5.12): a file owned by host ID `h` appears owned by the ID `userns` maps `0`... onto, as if
/// `h` were that namespace's own ID. Only one mount, not its submounts: a mount tree mixing filesystems
/// fails as a whole when one of them cannot be idmapped (EINVAL).
pub fn mount_setattr_idmap(mount: BorrowedFd<'_>, userns: BorrowedFd<'_>) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: the path is an empty NUL-terminated string, used with AT_EMPTY_PATH on a descriptor we
    // borrow for the call; `attr` is a valid mount_attr of the size passed. The kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mount.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(drop)
}

/// Installs a seccomp BPF filter on the calling thread (seccomp(2) `SECCOMP_SET_MODE_FILTER`).
///
/// Unlike most wrappers it does not set `PR_SET_NO_NEW_PRIVS` itself: without it the caller needs
/// `CAP_SYS_ADMIN`, which a container runtime still has before it drops capabilities.
pub fn seccomp_set_filter(program: &[libc::sock_filter]) -> Result<(), Errno> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::EINVAL)?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `len` valid instructions that outlive the call; the kernel copies them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    Errno::result(r).map(drop)
}

/// Ends the calling process at once with `code` (_exit(2)): no atexit handlers, no stdio flushing. A forked
/// child that must not run its parent's cleanup ends this way.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// Marks every descriptor from `first` upwards close-on-exec (close_range(2) with `CLOSE_RANGE_CLOEXEC`,
/// Linux 5.11), so none of them survives the next execve. Unlike closing them, this keeps descriptors the
/// caller still needs until the exec (such as a status pipe that must close exactly at exec).
///
/// Where close_range(2) is refused (`ENOSYS` before 5.11, `EPERM` or `ENOSYS` from a seccomp filter whose
/// allow list predates the call, as the runtime-spec tools' default profile does) it falls back to what runc
/// does without it: `F_SETFD` on each descriptor listed in `/proc/self/fd`.
pub fn cloexec_from(first: u32) -> Result<(), Errno> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range takes three integers; with CLOSE_RANGE_CLOEXEC it closes nothing, so no descriptor
    // owned elsewhere in this process becomes dangling.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    match Errno::result(r) {
        Ok(_) => Ok(()),
        Err(Errno::ENOSYS | Errno::EPERM) => cloexec_listed_from(first),
        Err(e) => Err(e),
    }
}

/// [`cloexec_from`] one descriptor at a time, for the descriptors `/proc/self/fd` lists.
fn cloexec_listed_from(first: u32) -> Result<(), Errno> {
    let io_errno = |e: std::io::Error| e.raw_os_error().map_or(Errno::EIO, Errno::from_raw);
    // The listing is read whole before any change: its own descriptor is listed too, and is closed by then.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(io_errno)?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd: &i32| *fd >= 0 && *fd as u32 >= first)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD takes an integer and touches no memory; a descriptor closed since the listing (the
        // listing's own) gives EBADF, which is ignored.
        let r = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        match Errno::result(r) {
            Ok(_) | Err(Errno::EBADF) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Duplicates descriptor `fd` of the process behind `pidfd` into the caller (pidfd_getfd(2), Linux 5.6).
/// The new descriptor is close-on-exec. The caller needs ptrace access to that process (its parent, as root,
/// has it).
pub fn pidfd_getfd(pidfd: impl AsFd, fd: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_getfd takes three integers and returns a new descriptor or -1; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_fd().as_raw_fd(), fd, 0) };
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// Starts writing back the dirty pages of `fd` in `offset..offset + len` without waiting for them
/// (sync_file_range(2) with `SYNC_FILE_RANGE_WRITE`). It makes nothing durable by itself: a later `fsync`
/// does, and finds less left to write. A file written in long streams and synced at its end (a pulled
/// blob) calls this behind its writes so the disk works while the stream goes on, rather than all at the
/// `fsync`. nix does not wrap it.
pub fn start_writeback(fd: impl AsFd, offset: u64, len: u64) -> Result<(), Errno> {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(Errno::EINVAL);
    };
    // SAFETY: sync_file_range takes a descriptor, two integers and flags, and touches no memory of ours.
    let r = unsafe {
        libc::sync_file_range(
            fd.as_fd().as_raw_fd(),
            offset,
            len,
            libc::SYNC_FILE_RANGE_WRITE,
        )
    };
    Errno::result(r).map(drop)
}

/// Makes the terminal behind `fd` the controlling terminal of the calling session leader (ioctl `TIOCSCTTY`).
pub fn set_controlling_terminal(fd: impl AsFd) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal) and touches no memory of ours.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSCTTY, 0) };
    Errno::result(r).map(drop)
}

/// Sends `signal` to the process behind a pidfd (pidfd_send_signal(2), Linux 5.1): unlike kill(2) it cannot
/// hit a new process that reused the PID.
pub fn pidfd_send_signal(pidfd: impl AsFd, signal: nix::sys::signal::Signal) -> Result<(), Errno> {
    // SAFETY: the call takes a live borrowed descriptor, a signal number, a null siginfo pointer (allowed:
    // the kernel then fills in a default one) and zero flags; no memory of ours is written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_fd().as_raw_fd(),
            signal as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// The window size of the terminal behind `fd` (`TIOCGWINSZ`).
pub fn get_winsize(fd: impl AsFd) -> Result<libc::winsize, Errno> {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` through the pointer, which points at a live local.
    let r = unsafe {
        libc::ioctl(
            fd.as_fd().as_raw_fd(),
            libc::TIOCGWINSZ,
            &mut ws as *mut libc::winsize,
        )
    };
    Errno::result(r)?;
    Ok(ws)
}

/// Sets the window size of the terminal behind `fd` (`TIOCSWINSZ`).
pub fn set_winsize(fd: impl AsFd, ws: &libc::winsize) -> Result<(), Errno> {
    // SAFETY: TIOCSWINSZ reads one `struct winsize` through the pointer, which points at a live borrow.
    let r = unsafe {
        libc::ioctl(
            fd.as_fd().as_raw_fd(),
            libc::TIOCSWINSZ,
            ws as *const libc::winsize,
        )
    };
    Errno::result(r).map(drop)
}

/// `struct sigaction` as the rt_sigaction(2) system call takes it (not libc's, which differs in size).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "x86"))]
    restorer: usize,
    mask: u64,
}

/// Restores the default action of every signal, the real-time ones included (1 to `SIGRTMIN`+30, all the
/// kernel has), except SIGKILL and SIGSTOP, whose action cannot change. A process about to exec another
/// program calls this so that none stays ignored: execve keeps ignored signals, and glibc's posix_spawn,
/// used by `std::process::Command`, leaves its internal signals 32 and 33 ignored in the programs it starts.
/// glibc's sigaction refuses those two, hence the raw system call.
pub fn reset_all_signals_to_default() -> Result<(), Errno> {
    reset_signals_to_default(u64::MAX)
}

/// [`reset_all_signals_to_default`] for the signals of `which` only (bit `n - 1` for signal `n`, as the
/// `SigIgn` and `SigCgt` masks of `/proc/PID/status` give them): one system call per signal whose action is
/// not the default already, where every one takes one.
pub fn reset_signals_to_default(which: u64) -> Result<(), Errno> {
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "x86"))]
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || which & (1u64 << (sig - 1)) == 0 {
            continue;
        }
        // SAFETY: `default` is a valid kernel sigaction of the size the kernel expects (8-byte sigset) that
        // outlives the call; SIG_DFL runs no code of ours, and no old action is asked for (null pointer).
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                std::mem::size_of::<u64>(),
            )
        };
        Errno::result(r)?;
    }
    Ok(())
}

/// Sets the `IFF_UP` flag of the interface `name` (`SIOCGIFFLAGS`, then `SIOCSIFFLAGS`, as `ip link set
/// NAME up` does without netlink), in the network namespace of the calling thread.
pub fn interface_up(name: &str) -> Result<(), Errno> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: socket(2) takes three integers and returns a new descriptor or -1; no memory is passed.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let raw = Errno::result(raw)?;
    // SAFETY: `raw` is a descriptor socket(2) just returned, owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: `struct ifreq` is plain data (a name array and a union of integers and addresses), for which
    // all zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of one `struct ifreq`, a live local.
    let r = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCGIFFLAGS,
            &mut req as *mut libc::ifreq,
        )
    };
    Errno::result(r)?;
    // SAFETY: the flags member of the union is the one SIOCGIFFLAGS just wrote.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads one `struct ifreq`, a live local.
    let r = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCSIFFLAGS,
            &req as *const libc::ifreq,
        )
    };
    Errno::result(r).map(drop)
}

/// Closes every descriptor from 3 upwards except `keep`, runs `f`, and exits the process with its result
/// (exit_group, no destructors). For a process that stays behind as a reaper after forking the real work:
/// nothing that owned a closed descriptor runs again, and `f` must use no descriptor but `keep`.
pub fn exit_with_only(keep: BorrowedFd<'_>, f: impl FnOnce() -> i32) -> ! {
    close_all_but(&[keep]);
    exit_now(f())
}

/// Closes every descriptor from 3 upwards except `keep` (close_range(2) over the gaps), for a forked
/// child that goes on without an exec ([`exit_with_only`], a forked server): it must never again use an
/// object that owned one of the closed descriptors.
pub fn close_all_but(keep: &[BorrowedFd<'_>]) {
    let mut keep: Vec<libc::c_uint> = keep.iter().map(|k| k.as_raw_fd() as libc::c_uint).collect();
    keep.sort_unstable();
    let mut from = 3;
    for k in keep.into_iter().chain([u32::MAX]) {
        if k > from {
            // SAFETY: close_range takes integers only. The descriptors it closes may be owned by objects
            // of the caller, which by this function's contract are never used again.
            unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0u32) };
        }
        from = from.max(k.saturating_add(1));
    }
}

/// Whether the calling process has a single thread (`/proc/self/stat`'s `num_threads`): then it may
/// [`fork`] and go on running ordinary Rust code in the child. False when that cannot be read.
pub fn single_threaded() -> bool {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return false;
    };
    // The fields after the command name (which may hold spaces), from the third (`state`) on; the
    // twentieth is `num_threads`.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(17))
        .is_some_and(|n| n == "1")
}

/// This process's environment as `NAME=VALUE` C strings, for an exec's `envp` (see [`ExecArgs`]) or a
/// copy of `environ`. (An environment string cannot hold a NUL: each came from one.)
pub fn environment() -> Vec<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            std::ffi::CString::new(kv).ok()
        })
        .collect()
}

/// Makes `/proc/self/cmdline` (what `ps` shows, and what other processes may check a PID against) read
/// `title`, for a forked process that serves without an exec, as setproctitle(3) does: the title is
/// written over the argument and environment strings the process started with (the environment is
/// copied elsewhere first, so `getenv` still works). A title longer than the arguments leaves no NUL at
/// their end, which the kernel takes for a title that runs on into the environment's area, shown up to
/// its first NUL; a shorter one is shown followed by empty arguments. `E2BIG` when the two areas together
/// are too short for it.
///
/// The caller must be single-threaded (a forked child, as with [`fork`]): no other thread may read the
/// environment while it is moved.
pub fn set_cmdline(title: &[u8]) -> Result<(), Errno> {
    extern "C" {
        static mut environ: *const *const libc::c_char;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|_| Errno::EIO)?;
    // Fields 48 to 51 (`arg_start`, `arg_end`, `env_start`, `env_end`); the split starts at the third.
    let fields: Vec<usize> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(45)
                .take(4)
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let [arg_start, arg_end, env_start, env_end] = fields[..] else {
        return Err(Errno::EIO);
    };
    // The kernel reads on past the arguments only into an environment area right after them.
    let end = if env_start == arg_end {
        env_end
    } else {
        arg_end
    };
    if title.contains(&0) || title.len() + 1 > end - arg_start {
        return Err(Errno::E2BIG);
    }
    // The environment, copied before its strings are overwritten (leaked: it lives as long as the process).
    let copies = environment();
    let mut pointers: Vec<*const libc::c_char> = copies.iter().map(|c| c.as_ptr()).collect();
    pointers.push(std::ptr::null());
    std::mem::forget(copies);
    let pointers: &'static [*const libc::c_char] = Box::leak(pointers.into_boxed_slice());
    // SAFETY: the caller is single-threaded (a forked child), so nothing reads `environ` meanwhile; the new
    // array and its strings are leaked and stay valid. The area written lies in this process's stack
    // mapping, as the kernel reports it, and nothing uses the strings there any more: the arguments are
    // not read after start-up, and the environment is read through the new array from here on.
    unsafe {
        environ = pointers.as_ptr();
        let area = std::slice::from_raw_parts_mut(arg_start as *mut u8, end - arg_start);
        area.fill(0);
        area[..title.len()].copy_from_slice(title);
    }
    Ok(())
}

/// Why [`Nftables::open`] failed.
#[derive(Debug)]
pub enum NftLoadError {
    /// `libnftables.so.1` could not be loaded, or lacks a function we call (`detail` is dlerror's text).
    Library { detail: String },
    /// No netfilter netlink socket could be opened (libnftables would exit the process on this).
    Netlink(Errno),
    /// `nft_ctx_new` or the output buffering failed.
    Context,
}

impl std::fmt::Display for NftLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NftLoadError::Library { detail } => {
                write!(
                    f,
                    "cannot load libnftables.so.1 (is nftables installed?): {detail}"
                )
            }
            NftLoadError::Netlink(_) => f.write_str("cannot open a netfilter netlink socket"),
            NftLoadError::Context => f.write_str("cannot create a libnftables context"),
        }
    }
}

impl std::error::Error for NftLoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NftLoadError::Netlink(e) => Some(e),
            _ => None,
        }
    }
}

/// The few libnftables functions minotaur calls (<nftables/libnftables.h>), resolved once per process.
struct NftApi {
    ctx_new: unsafe extern "C" fn(libc::c_uint) -> *mut libc::c_void,
    ctx_free: unsafe extern "C" fn(*mut libc::c_void),
    buffer_output: unsafe extern "C" fn(*mut libc::c_void) -> libc::c_int,
    buffer_error: unsafe extern "C" fn(*mut libc::c_void) -> libc::c_int,
    run_cmd_from_buffer:
        unsafe extern "C" fn(*mut libc::c_void, *const libc::c_char) -> libc::c_int,
    get_output_buffer: unsafe extern "C" fn(*mut libc::c_void) -> *const libc::c_char,
    get_error_buffer: unsafe extern "C" fn(*mut libc::c_void) -> *const libc::c_char,
    /// Kept loaded for the life of the process: the function pointers above point into it.
    _lib: libloading::Library,
}

impl NftApi {
    fn load() -> Result<NftApi, String> {
        // SAFETY: loading libnftables runs its ELF constructors, which only initialise its own globals; it
        // and its dependencies (libnftnl, libmnl, libgmp, libjansson, libxtables) are ordinary C libraries.
        let lib =
            unsafe { libloading::Library::new("libnftables.so.1") }.map_err(|e| e.to_string())?;
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the declared type is the function's prototype in <nftables/libnftables.h> (nftables
                // 0.9.1 and later keep these stable); the pointer is copied out and used only while `lib` lives,
                // which is the whole process (it is never unloaded).
                *unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(|e| e.to_string())?
            };
        }
        Ok(NftApi {
            ctx_new: sym!("nft_ctx_new"),
            ctx_free: sym!("nft_ctx_free"),
            buffer_output: sym!("nft_ctx_buffer_output"),
            buffer_error: sym!("nft_ctx_buffer_error"),
            run_cmd_from_buffer: sym!("nft_run_cmd_from_buffer"),
            get_output_buffer: sym!("nft_ctx_get_output_buffer"),
            get_error_buffer: sym!("nft_ctx_get_error_buffer"),
            _lib: lib,
        })
    }

    fn get() -> Result<&'static NftApi, NftLoadError> {
        static API: std::sync::OnceLock<Result<NftApi, String>> = std::sync::OnceLock::new();
        API.get_or_init(NftApi::load)
            .as_ref()
            .map_err(|detail| NftLoadError::Library {
                detail: detail.clone(),
            })
    }
}

/// libnftables 1.0 keeps process-wide state besides its contexts (a one-time initialisation in `nft_ctx_new`,
/// the interface cache that every command fills and releases), so no two threads may be inside it at once.
static NFT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn nft_lock() -> std::sync::MutexGuard<'static, ()> {
    NFT_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A libnftables context (`struct nft_ctx`) with its output and error messages captured in buffers.
///
/// libnftables is loaded at run time (dlopen), so building minotaur needs no nftables development files and a
/// machine without nftables fails only when a firewall is needed. The context talks to the network namespace
/// of the thread that opened it: its netfilter socket is made by `nft_ctx_new`.
pub struct Nftables {
    api: &'static NftApi,
    ctx: std::ptr::NonNull<libc::c_void>,
}

impl Nftables {
    /// Loads libnftables (once per process) and makes a context (`nft_ctx_new(NFT_CTX_DEFAULT)`) whose output
    /// and errors go to buffers that [`Nftables::run`] returns.
    pub fn open() -> Result<Nftables, NftLoadError> {
        let api = NftApi::get()?;
        // libnftables exit()s the whole process when it cannot open its netlink socket; try one first.
        // SAFETY: socket(2) takes three integers and returns a new descriptor or -1; no memory is passed.
        let probe = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        };
        let probe = Errno::result(probe).map_err(NftLoadError::Netlink)?;
        // SAFETY: `probe` is a descriptor socket(2) just returned, owned by nothing else; dropping closes it.
        drop(unsafe { OwnedFd::from_raw_fd(probe) });

        let _guard = nft_lock();
        const NFT_CTX_DEFAULT: libc::c_uint = 0;
        // SAFETY: nft_ctx_new takes a flags integer and returns a new context or NULL; the global lock keeps
        // its one-time initialisation from running twice at once.
        let ctx = unsafe { (api.ctx_new)(NFT_CTX_DEFAULT) };
        let ctx = std::ptr::NonNull::new(ctx).ok_or(NftLoadError::Context)?;
        let nft = Nftables { api, ctx };
        // SAFETY: `ctx` is the live context made above; both calls only switch its output streams to buffers.
        let failed = unsafe {
            (api.buffer_output)(ctx.as_ptr()) != 0 || (api.buffer_error)(ctx.as_ptr()) != 0
        };
        if failed {
            return Err(NftLoadError::Context); // `nft` is dropped, which frees the context
        }
        Ok(nft)
    }

    /// Runs `commands` (nft syntax, one or more lines) as one transaction (`nft_run_cmd_from_buffer`): either
    /// every command takes effect or none does. Returns what nft printed, or on failure its error messages.
    pub fn run(&mut self, commands: &str) -> Result<String, String> {
        let cmds = std::ffi::CString::new(commands)
            .map_err(|_| String::from("the commands contain a NUL byte"))?;
        let _guard = nft_lock();
        let ctx = self.ctx.as_ptr();
        // SAFETY: `ctx` is our live context (we hold `&mut self`), `cmds` a NUL-terminated string that outlives
        // the call; libnftables copies it before parsing.
        let rc = unsafe { (self.api.run_cmd_from_buffer)(ctx, cmds.as_ptr()) };
        // SAFETY: both getters return a NUL-terminated string owned by the context (or a static ""), valid
        // until the next write to that buffer; it is copied at once, while we still hold the context.
        let (output, error) = unsafe {
            (
                buffer_text((self.api.get_output_buffer)(ctx)),
                buffer_text((self.api.get_error_buffer)(ctx)),
            )
        };
        if rc == 0 {
            Ok(output)
        } else if error.is_empty() {
            Err(format!("libnftables failed with code {rc}"))
        } else {
            Err(error)
        }
    }
}

/// Copies a C string from libnftables; NULL reads as empty.
///
/// # Safety
/// `p` is NULL or points at a NUL-terminated string that stays valid during the call.
unsafe fn buffer_text(p: *const libc::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the caller guarantees a valid NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

impl Drop for Nftables {
    fn drop(&mut self) {
        let _guard = nft_lock();
        // SAFETY: the context is ours and live; nothing uses it after this (we are being dropped).
        unsafe { (self.api.ctx_free)(self.ctx.as_ptr()) };
    }
}

/// Spawns `cmd` so that the new program inherits exactly the descriptors in `keep`, under their current
/// numbers, besides its standard input, output and error: in the child, between fork and exec, every
/// descriptor from 3 upwards is marked close-on-exec (close_range(2) `CLOSE_RANGE_CLOEXEC`) and then `keep`
/// are cleared of that flag. The caller's own descriptors keep their flags, so a child another thread
/// spawns at the same time inherits none of them. The numbers are for the caller to pass on (a flag).
pub fn spawn_keeping(
    cmd: &mut std::process::Command,
    keep: &[BorrowedFd<'_>],
) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    let fds: Vec<libc::c_int> = keep.iter().map(|fd| fd.as_raw_fd()).collect();
    // SAFETY: the closure runs in the forked child before exec and calls only close_range and fcntl, both
    // async-signal-safe system calls that allocate nothing (`fds` was built before the fork). The borrowed
    // descriptors are alive: `keep` outlives this call, which returns only after the fork.
    unsafe {
        cmd.pre_exec(move || {
            let r = libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        })
    };
    cmd.spawn()
}

/// Takes ownership of descriptor number `fd`, which this process inherited from the program that started it
/// (see [`spawn_keeping`]), and marks it close-on-exec. Fails with `EBADF` when no such descriptor is open.
///
/// Call it once per number, at start-up, for numbers the parent passed: nothing else in the process may own
/// that descriptor.
pub fn adopt_inherited_fd(fd: i32) -> Result<OwnedFd, Errno> {
    if fd < 3 {
        return Err(Errno::EBADF);
    }
    // SAFETY: F_GETFD/F_SETFD take and return integers; an unknown number only fails with EBADF.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: as above.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    // SAFETY: the descriptor is open (checked) and, by this function's contract, inherited and owned by
    // nothing else in this process.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writeback_starts_on_a_file_and_is_refused_on_a_pipe() {
        use std::io::Write;
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[7; 64 << 10]).unwrap();
        start_writeback(&f, 0, 64 << 10).unwrap();
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert_eq!(start_writeback(&r, 0, 4096), Err(Errno::ESPIPE));
    }

    fn is_cloexec(fd: &OwnedFd) -> bool {
        let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).expect("F_GETFD");
        flags & libc::FD_CLOEXEC != 0
    }

    /// A seccomp profile without close_range(2) made every container's init fail before exec: the listing
    /// fallback must leave the same result as the system call.
    #[test]
    fn cloexec_fallback_marks_inherited_descriptors() {
        let file = std::fs::File::open("/dev/null").expect("open /dev/null");
        // dup(2) gives a descriptor without close-on-exec, as one inherited from a caller would be.
        let inherited = nix::unistd::dup(&file).expect("dup");
        assert!(!is_cloexec(&inherited));
        let first = inherited.as_raw_fd() as u32;
        cloexec_listed_from(first).expect("mark descriptors");
        assert!(is_cloexec(&inherited));
    }

    /// What a forked server relies on, checked in a forked child (whose exit code names the first check
    /// that failed): it is single-threaded, keeps only the descriptors it names, and shows the command
    /// line it sets while its environment still reads as before.
    #[test]
    fn a_forked_child_is_single_threaded_keeps_what_it_names_and_sets_its_command_line() {
        let keep = std::fs::File::open("/dev/null").expect("open /dev/null");
        let close = std::fs::File::open("/dev/null").expect("open /dev/null");
        let path = std::env::var_os("PATH");
        let title = b"minotaur dns-serve --dir /run/minotaur/dns";
        // SAFETY: the child runs only the checks below (system calls, small allocations, which glibc's fork
        // handlers make safe) and ends with _exit.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            ForkResult::Child => {
                let code = if !single_threaded() {
                    1
                } else {
                    close_all_but(&[keep.as_fd()]);
                    let open = |fd: &std::fs::File| {
                        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok()
                    };
                    if !open(&keep) || open(&close) {
                        2
                    } else if set_cmdline(title).is_err() {
                        3
                    } else if !std::fs::read("/proc/self/cmdline")
                        .is_ok_and(|c| c.starts_with(title))
                    {
                        4
                    } else if std::env::var_os("PATH") != path {
                        5
                    } else {
                        0
                    }
                };
                exit_now(code)
            }
            ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).expect("wait");
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
