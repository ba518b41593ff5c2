//! Crash points, a test hook: `MINOTAUR_CRASH_AFTER=STEP` makes the process abort (SIGABRT, no unwinding,
//! no cleanup: what a `kill -9` leaves) right after the named step, so tests can show that `system check
//! --repair` and the ordinary commands cope with whatever a crash there leaves.
//!
//! The steps, in the order each operation takes them:
//!
//! | operation | steps |
//! |---|---|
//! | `create` | `create:record` (the record is committed), `create:netns` (the network namespace file is bound), `create:endpoints` (addresses, veths, endpoint records), `create:files` (the `/etc` files and the `ip netns` name) |
//! | attaching an endpoint (`create`, `network connect`) | `attach:addresses` (addresses taken in the store; `network connect` only: `create` takes them in the transaction of its record), `attach:veth` (the veth made and configured; the endpoint not recorded) |
//! | `start` | `start:running` (the supervisor recorded the container running) |
//! | `stop` | `stop:marked` (the stop is recorded; no signal sent), `stop:signalled` (the stop signal sent; its end not waited for) |
//! | `exec` | `exec:started` (the process runs in the container; its end not waited for) |
//! | `rm` | `rm:kernel` (namespace, name, cgroup and files gone; the record not yet), `rm:record` |
//! | `network create` | `network-create:record` |
//! | `network rm` | `network-rm:record` (the record is gone; the bridge and firewall elements not yet), `network-rm:firewall` (the firewall elements are gone; the bridge not yet) |
//! | `network connect` | the attach steps, then `network-connect:endpoint` (the endpoint recorded; the resolver not told) |
//! | `network disconnect` | `network-disconnect:link` (the container's interface is gone; the endpoint still recorded), `network-disconnect:record` (the endpoint and addresses are gone; the resolver not told) |
//! | `volume create` | `volume-create:dir` (the directory is made; the record not yet committed), `volume-create:record` |
//! | `volume rm` | `volume-rm:record` (the record is gone; the directory not yet) |
//! | `pull` | `pull:layers` (every layer ingested, blobs and trees in place; the image not registered) |
//! | `compose up` | `compose-up:networks` (networks, volumes and secret files made; no container yet), `compose-up:created` (every container made; none started) |
//! | `compose down` | `compose-down:containers` (the containers removed; networks and volumes not yet) |
//! | `system boot` | `boot:sandboxes` (lost network namespaces made again; the firewall table and the resolver not yet, nothing started) |

use std::sync::OnceLock;

/// The environment variable naming the step to abort after.
pub const VARIABLE: &str = "MINOTAUR_CRASH_AFTER";

/// Aborts the process if `step` is the one named by [`VARIABLE`].
pub fn after(step: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(VARIABLE).ok());
    if wanted.as_deref() == Some(step) {
        eprintln!("minotaur: crashing after {step} ({VARIABLE})");
        std::process::abort();
    }
}
