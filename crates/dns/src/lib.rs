//! The embedded DNS resolver of minotaur's container networks.
//!
//! One server process per machine (per resolver directory) answers for every network that has containers: it
//! listens on each network's gateway address, port 53, UDP and TCP, and answers the names of that network's
//! containers (A, AAAA, and PTR for their addresses). Other names are forwarded to the host's upstream
//! servers, except on internal networks, where they do not exist. Like aardvark-dns, it is started on demand
//! when the first container joins a network ([`notify`]) and goes away by itself when the configuration names
//! no network any more; there is no daemon otherwise. The engine's supervisors go one step further: the first
//! holds the listeners without a server ([`Dormant`]) and starts one only when a name is asked.
//!
//! This crate owns the resolver directory (layout below), the server ([`serve`]) and the protocol by which the
//! engine hands it a new configuration ([`write_config`], then [`notify`]). It does not know what a container
//! or a network is beyond the names and addresses in [`Config`]: the engine computes those. Messages are
//! parsed and built with `hickory-proto`; the server itself is plain blocking sockets and threads.
//!
//! ```text
//! DIR/config.json            the Config, replaced atomically (temp file + rename) by write_config
//! DIR/records/<container>.json  one container's Entries (its records on each network), by write_records
//! DIR/lock                   flock(2)ed exclusively by the running server, which writes its PID there
//!                            (or by a holder of the listeners without a server: `PID dormant`, see Dormant)
//! DIR/wake                   a FIFO such a holder reads: a byte from a writer is a new configuration
//! ```
//!
//! A listener's zone holds the records of its [`Listener`] plus the entries of every record file that name its
//! network. The server watches `records/` with inotify and applies a changed file by itself, so starting or
//! removing a container costs the engine one small file whatever the number of containers; SIGHUP is only
//! needed when the listeners change (the engine sends it every time anyway: it is cheap and it is what
//! starts a server that is not running). A server whose user has no inotify left (a container running as the
//! same user may have used up its instances) looks at `records/`'s modification time on every wake-up and at
//! least every 250 ms instead, and warns once: the names still resolve.
#![forbid(unsafe_code)]

mod answer;
mod config;
mod control;
mod dormant;
mod error;
mod forward;
mod launch;
mod server;

pub use answer::{answer, Outcome, Zone, TTL};
pub use config::{Config, Entry, Listener, Record};
pub use control::{
    adopt_fd, detach, read_config, read_records, serving, write_config, write_records, CONFIG_FILE,
    LOCK_FILE, RECORDS_DIR,
};
pub use dormant::{answered, hold, Dormant};
pub use error::DnsError;
pub use forward::host_upstreams;
pub use launch::{ensure_running, notify, Launch};
pub use server::{serve, serve_handed, serve_locked};
