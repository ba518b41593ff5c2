//! What the state store fails on.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use rusqlite::ErrorCode;

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create state directory {path}")]
    CreateRoot {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot open state database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite's own word for it is only "unable to open database file".
    #[error("cannot open state database {path}")]
    Descriptors {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create state database {path}")]
    CreateDb {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("state database {path} cannot use write-ahead logging (journal mode is {mode:?})")]
    NoWal { path: PathBuf, mode: String },
    #[error("cannot migrate state database {path} to schema version {version}")]
    Migrate {
        path: PathBuf,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "state database {path} has schema version {found}, newer than this minotaur knows ({known}): \
         use a newer minotaur"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("state database {path}: cannot {op} transaction")]
    Transaction {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite's `SQLITE_FULL`: the file system holding the database has no room left.
    #[error("state database {path}: no space left on its file system")]
    Full { path: PathBuf },
    #[error("state database {path}: cannot {what}")]
    Query {
        path: PathBuf,
        what: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{kind} name {name:?} is already in use")]
    NameInUse { kind: &'static str, name: String },
    #[error("{kind} ID {id} is already in use")]
    IdInUse { kind: &'static str, id: String },
    #[error("network {network} has no free address")]
    AddressesExhausted { network: String },
    #[error("address {address} is already in use on network {network}")]
    AddressInUse { network: String, address: IpAddr },
    #[error("port {proto}/{host_port} of host address {host_ip} is already published by container {container_id}")]
    PortInUse {
        proto: String,
        host_ip: String,
        host_port: u16,
        container_id: String,
    },
    #[error("no free host port for {proto} in {lo}-{hi}")]
    PortsExhausted { proto: String, lo: u16, hi: u16 },
    /// Containers (by ID) mount the volume.
    #[error("volume {name} is in use by container {}", containers.join(", "))]
    VolumeInUse {
        name: String,
        containers: Vec<String>,
    },
}

impl StateError {
    /// Whether the file system holding the database has no room left.
    pub fn is_full(&self) -> bool {
        match self {
            StateError::Full { .. } => true,
            StateError::Open { source, .. } | StateError::Migrate { source, .. } => is_full(source),
            _ => false,
        }
    }
}

/// Whether SQLite failed for want of room.
pub(crate) fn is_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::DiskFull)
}
