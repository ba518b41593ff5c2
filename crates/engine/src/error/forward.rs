//! What `port-forward` fails on (see the `portforward` module).

use std::io;
use std::net::SocketAddr;

/// Bad `-L`/`-R` specs, and what stops a forward from starting.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("invalid forward {spec:?}: {why}")]
    Invalid { spec: String, why: &'static str },
    #[error(
        "container {0} uses the host's network: its ports are the host's, connect to them directly"
    )]
    HostNetwork(String),
    #[error("container {0} has no network namespace")]
    NoNetns(String),
    #[error("nothing to forward: give -L or -R")]
    Nothing,
    #[error("cannot listen on {addr}{place}")]
    Listen {
        addr: SocketAddr,
        place: String,
        #[source]
        source: io::Error,
    },
}
