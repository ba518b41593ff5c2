//! A child that shares the caller's memory until it execs (`CLONE_VM | CLONE_VFORK`, as posix_spawn(3) makes
//! one), and the calls such a child makes without allocating.
//!
//! fork(2) copies the caller's page tables and then takes a copy-on-write fault for every page either
//! process writes before the child execs; for a 30 MB binary that is a large share of what starting one short
//! command costs. A child made with `CLONE_VM` runs in the caller's address space instead, on a stack of its
//! own, while `CLONE_VFORK` keeps the caller stopped until the child has exec'd or exited. The price is on
//! the child's side: everything it writes is the caller's memory. So the child must not allocate (a child
//! killed inside malloc would leave the caller's heap half-updated, and what it allocates and never frees
//! stays in the caller's heap), must not free what the caller owns, and must run only code prepared for it:
//! [`ExecArgs`] holds argv and envp as the pointer arrays execve(2) takes, built beforehand;
//! [`cwd_is_reachable`] asks getcwd(2) into a buffer on the stack.
//!
//! The kernel refuses one thing to a task that shares its memory with another: joining a time namespace
//! (setns(2) gives `EUSERS`: `timens_install` wants a process whose memory nobody else uses). A caller that
//! needs that forks.

use std::ffi::{c_void, CStr, CString};
use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::unistd::Pid;

/// The size of the child's stack. Only the pages the child touches are ever backed by memory.
const STACK_SIZE: usize = 512 * 1024;

/// Runs `child` in a new process that shares the caller's memory (`CLONE_VM | CLONE_VFORK | CLONE_PIDFD`,
/// `SIGCHLD` as the exit signal), on a stack of its own, and returns once the child has exec'd or exited:
/// the child's PID and a pidfd for it. `child` returns only to fail; its return value is the child's exit
/// status. Every signal is blocked in the caller around the call, so the child starts with all of them
/// blocked and runs no handler of the caller's before it resets them; the caller's mask is restored before
/// this returns.
///
/// The child gets copies of the caller's descriptor table, filesystem context (root, working directory) and
/// signal handlers, as after fork(2); only memory is shared. `child` must follow the rules in the module's
/// documentation: no allocation, no freeing of anything the caller owns, nothing that waits for the caller.
/// The caller must be single-threaded (the same contract as [`crate::fork`]).
pub fn clone_vfork(child: &mut dyn FnMut() -> i32) -> Result<(Pid, OwnedFd), Errno> {
    // SAFETY: an anonymous private mapping of STACK_SIZE bytes, owned here and unmapped below; nothing else
    // refers to it.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    // The lowest page is a guard: a child that overflows its stack faults there instead of writing over the
    // caller's memory below it. SAFETY: the first page of the mapping made above.
    let guarded = unsafe { libc::mprotect(stack, page_size(), libc::PROT_NONE) };
    let result = Errno::result(guarded).and_then(|_| {
        let all = nix::sys::signal::SigSet::all();
        let old = all.thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_SETMASK)?;
        let cloned = clone_on(stack, child);
        // The caller's own mask back, whatever the clone did.
        let _ = old.thread_set_mask();
        cloned
    });
    // SAFETY: the mapping made above; the child no longer runs on it (it has exec'd or exited: CLONE_VFORK).
    unsafe { libc::munmap(stack, STACK_SIZE) };
    result
}

fn page_size() -> usize {
    // SAFETY: sysconf takes an integer and touches no memory.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// The clone itself, on the mapping at `stack` (STACK_SIZE bytes).
fn clone_on(
    stack: *mut c_void,
    mut child: &mut dyn FnMut() -> i32,
) -> Result<(Pid, OwnedFd), Errno> {
    extern "C" fn trampoline(arg: *mut c_void) -> libc::c_int {
        // SAFETY: `arg` is the pointer to the `&mut dyn FnMut` below, which lives on the caller's stack for
        // as long as the caller is stopped by CLONE_VFORK, i.e. as long as the child runs this code.
        let child = unsafe { &mut *(arg as *mut &mut dyn FnMut() -> i32) };
        child()
    }
    let mut pidfd: libc::c_int = -1;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
    // SAFETY: the stack pointer is the top of a writable mapping of STACK_SIZE bytes (stacks grow down on every
    // architecture Linux runs this on but HP-PA, which Rust does not target) that outlives the child's use of it
    // (CLONE_VFORK: the call returns once the child has exec'd or exited); `trampoline` only calls `child`,
    // whose rules are the caller's contract; with CLONE_PIDFD the kernel writes one int to `pidfd`, which
    // outlives the call.
    let pid = unsafe {
        libc::clone(
            trampoline,
            (stack as *mut u8).add(STACK_SIZE) as *mut c_void,
            flags,
            &mut child as *mut &mut dyn FnMut() -> i32 as *mut c_void,
            &mut pidfd as *mut libc::c_int,
        )
    };
    if pid == -1 {
        return Err(Errno::last());
    }
    // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor in `pidfd` that nothing else owns.
    Ok((Pid::from_raw(pid), unsafe { OwnedFd::from_raw_fd(pidfd) }))
}

/// A command's argv and envp as execve(2) takes them: NUL-terminated arrays of pointers to the strings,
/// built once, so that [`ExecArgs::execve`] allocates nothing (nix's `execve` builds the arrays at each
/// call).
#[derive(Debug)]
pub struct ExecArgs {
    argv: Vec<CString>,
    envp: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
}

impl ExecArgs {
    pub fn new(argv: Vec<CString>, envp: Vec<CString>) -> ExecArgs {
        let ptrs = |v: &[CString]| {
            v.iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        ExecArgs {
            argv_ptrs: ptrs(&argv),
            envp_ptrs: ptrs(&envp),
            argv,
            envp,
        }
    }

    /// The arguments, the first being the program's name as given.
    pub fn argv(&self) -> &[CString] {
        &self.argv
    }

    /// The environment, `NAME=VALUE` each.
    pub fn envp(&self) -> &[CString] {
        &self.envp
    }

    /// execve(2) of `path` with these arguments and environment; returns only on failure, with its errno.
    pub fn execve(&self, path: &CStr) -> Errno {
        // SAFETY: both arrays are NUL-terminated and point into CStrings owned by `self`, which outlives the
        // call (the heap buffers of a CString do not move when the Vec holding it does).
        unsafe {
            libc::execve(
                path.as_ptr(),
                self.argv_ptrs.as_ptr(),
                self.envp_ptrs.as_ptr(),
            )
        };
        Errno::last()
    }
}

/// Whether the calling process's working directory lies inside its root: getcwd(2) answers with a path that
/// does not start with `/` ("(unreachable)/...") when it does not (glibc's getcwd turns that into ENOENT).
/// Asks into a buffer on the stack, so it allocates nothing.
pub fn cwd_is_reachable() -> Result<bool, Errno> {
    let mut buf = [0u8; libc::PATH_MAX as usize];
    // SAFETY: the raw system call writes at most `buf.len()` bytes into `buf`, which outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    Errno::result(r)?;
    Ok(buf[0] == b'/')
}

#[cfg(test)]
mod tests {
    use nix::sys::wait::{waitpid, WaitStatus};

    use super::*;

    #[test]
    fn the_child_runs_in_the_callers_memory_and_the_caller_waits_for_its_exit() {
        let mut seen = 0;
        let mut child = || {
            seen = 7;
            3
        };
        let (pid, _pidfd) = clone_vfork(&mut child).unwrap();
        // CLONE_VFORK: the child has exited by now, and its write landed in our memory.
        assert_eq!(seen, 7);
        assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 3));
    }

    #[test]
    fn a_child_execs_prepared_arguments() {
        let args = ExecArgs::new(
            vec![c"sh".into(), c"-c".into(), c"exit $CODE".into()],
            vec![c"CODE=5".into()],
        );
        let mut child = || {
            args.execve(c"/nonexistent/sh");
            args.execve(c"/bin/sh") as i32
        };
        let (pid, _pidfd) = clone_vfork(&mut child).unwrap();
        assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 5));
        assert_eq!(args.argv().len(), 3);
        assert_eq!(args.envp(), [CString::from(c"CODE=5")]);
    }

    #[test]
    fn the_callers_signal_mask_is_the_same_after_the_clone() {
        let before = nix::sys::signal::SigSet::thread_get_mask().unwrap();
        let (pid, _pidfd) = clone_vfork(&mut || 0).unwrap();
        waitpid(pid, None).unwrap();
        assert_eq!(nix::sys::signal::SigSet::thread_get_mask().unwrap(), before);
    }

    #[test]
    fn a_working_directory_under_the_root_is_reachable() {
        assert_eq!(cwd_is_reachable(), Ok(true));
    }
}
