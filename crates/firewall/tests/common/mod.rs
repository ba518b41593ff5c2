//! Throwaway network namespaces for the firewall's tests, each owned by one thread.
//!
//! unshare(CLONE_NEWNET) on a thread moves only that thread; the programs it starts, the threads it spawns
//! and the sockets it makes stay in its namespace, and the namespace goes away with the thread and its
//! sockets. The host's own namespace is never touched: every job runs on a namespace's thread.

#![allow(dead_code)]

use std::process::Command;
use std::sync::mpsc;
use std::thread;

type Job = Box<dyn FnOnce() + Send>;

/// A network namespace and the thread that lives in it.
pub struct Ns {
    tid: i32,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Ns {
    /// A new network namespace with its loopback up.
    pub fn new() -> Ns {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (tid_tx, tid_rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let r = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET);
            let _ = tid_tx.send(r.map(|_| nix::unistd::gettid().as_raw()));
            if r.is_err() {
                return;
            }
            for job in rx {
                job();
            }
        });
        let tid = tid_rx
            .recv()
            .expect("namespace thread")
            .expect("unshare(CLONE_NEWNET)");
        let ns = Ns {
            tid,
            jobs: Some(jobs),
            thread: Some(thread),
        };
        ns.sh("ip link set lo up");
        ns
    }

    /// The thread's ID, which `ip link ... netns` accepts as a PID.
    pub fn tid(&self) -> i32 {
        self.tid
    }

    /// Runs `f` on the namespace's thread and returns what it returned; a panic there is re-raised here.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        });
        self.jobs.as_ref().unwrap().send(job).unwrap();
        match rx.recv().expect("namespace thread died") {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Runs a shell script in the namespace and panics if it fails.
    pub fn sh(&self, script: &str) -> String {
        let script = script.to_owned();
        self.run(move || sh(&script))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `sh -ec script` in the calling thread's namespace; panics with its output when it fails.
pub fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .args(["-ec", script])
        .output()
        .expect("running sh");
    assert!(
        out.status.success(),
        "{script}\nfailed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether these tests can run here: root, libnftables and the `nft` and `ip` tools. Prints "skipped: …"
/// and returns false when not, unless MINOTAUR_TEST_REQUIRE_HOST=1 (then it panics).
pub fn can_run() -> bool {
    let why = if !nix::unistd::geteuid().is_root() {
        Some("needs root".to_owned())
    } else if let Err(e) = Ns::probe_nft() {
        Some(e)
    } else {
        ["nft", "ip"]
            .iter()
            .find(|t| Command::new(t).arg("--version").output().is_err())
            .map(|t| format!("needs the {t} tool"))
    };
    match why {
        None => true,
        Some(why) if std::env::var_os("MINOTAUR_TEST_REQUIRE_HOST").is_some_and(|v| v == "1") => {
            panic!("MINOTAUR_TEST_REQUIRE_HOST=1 but: {why}")
        }
        Some(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

impl Ns {
    fn probe_nft() -> Result<(), String> {
        // Opened in a throwaway namespace: the context's netlink socket belongs to it.
        Ns::new()
            .run(|| minotaur_firewall::Firewall::open().map(drop))
            .map_err(|e| e.to_string())
    }
}
