//! Crash points, a test hook: `MINOTAUR_CRASH_AFTER=STEP` makes the process abort (SIGABRT, no unwinding,
//! no cleanup: what a `kill -9` leaves) right after the named step, so tests can show that `system check
//! --repair` and the ordinary commands cope with whatever a crash there leaves.
//!
//! The steps, in the order each operation takes them:
//!
//! | operation | steps |
//! |---|---|
//! | `create` | `create:record` (the record is committed), `create:netns` (the network namespace file is bound), `create:endpoints` (addresses, veths, endpoint records), `create:files` (the `/etc` files and the `ip netns` name) |
//! | `start` | `start:running` (the supervisor recorded the container running) |
//! | `rm` | `rm:kernel` (namespace, name, cgroup and files gone; the record not yet), `rm:record` |
//! | `network create` | `network-create:record` |
//! | `network rm` | `network-rm:record` (the record is gone; the bridge and firewall elements not yet) |
//! | `volume create` | `volume-create:dir` (the directory is made; the record not yet committed), `volume-create:record` |

use std::sync::OnceLock;

/// The environment variable naming the step to abort after.
pub const VARIABLE: &str = "MINOTAUR_CRASH_AFTER";

/// Aborts the process if `step` is the one named by [`VARIABLE`].
pub(crate) fn after(step: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(VARIABLE).ok());
    if wanted.as_deref() == Some(step) {
        eprintln!("minotaur: crashing after {step} ({VARIABLE})");
        std::process::abort();
    }
}
