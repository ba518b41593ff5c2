//! The `exec` child runs in its caller's memory until it execs (`minotaur_sys::clone_vfork`), so it must not
//! allocate on its way there: a child killed inside malloc would leave the caller's heap half-updated, and
//! what it allocates stays in the caller's heap. This test counts, through its own global allocator, the
//! allocations made in the test thread's memory by any task but the test thread itself: the child, which
//! shares the thread's memory and its thread-local storage but has a thread ID of its own.
//!
//! The container is a `sleep` child of the test in the test's own namespaces, with no cgroup: joining them
//! changes nothing outside the exec'd child, which runs `true`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::os::fd::AsFd;
use std::process::{Child, Command};

use minotaur_runtime::{exec, ExecOptions};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{gettid, Pid};

struct Counting;

thread_local! {
    /// The thread whose memory is watched (0: none).
    static OWNER: Cell<i32> = const { Cell::new(0) };
    /// Allocations and frees made by another task in that thread's memory.
    static FOREIGN: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    let _ = OWNER.try_with(|owner| {
        let o = owner.get();
        if o != 0 && gettid().as_raw() != o {
            let _ = FOREIGN.try_with(|f| f.set(f.get() + 1));
        }
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; `note` allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Execs `args` into a `sleep` child of ours; returns the exec's outcome (the exec'd process reaped) and
/// the allocations the child made in our memory.
fn exec_counting(args: &[&str]) -> (Result<i32, String>, usize) {
    let sleeper = Sleeper(Command::new("sleep").arg("1000").spawn().unwrap());
    let pidfd = minotaur_sys::pidfd_open(Pid::from_raw(sleeper.0.id() as i32)).unwrap();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let mut spec = minotaur_runtime::defaults::default_spec(&args);
    spec.linux_mut().as_mut().unwrap().set_cgroups_path(None);
    let process = spec.process().clone().unwrap();
    FOREIGN.with(|f| f.set(0));
    OWNER.with(|o| o.set(gettid().as_raw()));
    let ex = exec(&spec, pidfd.as_fd(), &process, &ExecOptions::default());
    OWNER.with(|o| o.set(0));
    let foreign = FOREIGN.with(|f| f.get());
    let outcome = ex
        .map_err(|e| e.to_string())
        .map(|ex| match waitpid(ex.pid, None).unwrap() {
            WaitStatus::Exited(_, code) => code,
            other => panic!("{other:?}"),
        });
    (outcome, foreign)
}

#[test]
fn the_exec_child_allocates_nothing_on_its_way_to_execve() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: joining namespaces and changing credentials needs root");
        return;
    }
    let (outcome, foreign) = exec_counting(&["true"]);
    assert_eq!(outcome, Ok(0));
    assert_eq!(
        foreign, 0,
        "the exec child allocated in its caller's memory"
    );
    // The counter sees the child: a failing child allocates its failure's description.
    let (outcome, foreign) = exec_counting(&["no-such-program"]);
    assert!(outcome.is_err(), "{outcome:?}");
    assert!(foreign > 0, "the child's failure was not counted");
}
