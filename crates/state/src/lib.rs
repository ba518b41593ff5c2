//! minotaur's state store: one SQLite database under `--root`, shared by every minotaur process.
//!
//! This crate owns the database file, its schema and migrations, and how transactions are taken. It does not
//! own what the rows mean to the engine: it stores container and network configuration as opaque JSON, and
//! allocates addresses from a list of candidates the caller computes from the subnet.
//!
//! # Concurrency
//!
//! There is no daemon: many short-lived CLI processes open the database at once. The database is in WAL mode,
//! so readers never wait for the writer and the writer never waits for readers. Every write runs in a
//! `BEGIN IMMEDIATE` transaction ([`Store::write`]): it takes the database's single write lock before its first
//! read, so a read-modify-write (e.g. "find the lowest free address, then take it") cannot interleave with
//! another process's, and a second writer waits for the lock (up to [`BUSY_TIMEOUT`]) instead of failing. A
//! deferred transaction that read first and wrote later could instead fail with `SQLITE_BUSY_SNAPSHOT`, which no
//! busy timeout retries. Reads ([`Store::read`]) run in a deferred transaction and see one consistent snapshot.
//!
//! `synchronous=NORMAL`: a commit is durable against a crash of the process, not against power loss (WAL
//! mode keeps the database consistent either way).
//!
//! # On-disk layout
//!
//! ```text
//! <root>/                  mode 0700, created by Store::open
//! <root>/minotaur.db       the database, mode 0600
//! <root>/minotaur.db-wal   SQLite's write-ahead log and its shared-memory index; present while a process has
//! <root>/minotaur.db-shm   the database open (do not copy the .db file alone while they exist)
//! <root>/minotaur.reserve  RESERVE_SIZE bytes of zeros, written out: room kept back for deletions
//! ```
//!
//! # A full file system
//!
//! SQLite needs room to delete too: in WAL mode a transaction that removes rows appends the pages it
//! changed to the log. On a full file system a command that made part of a container and failed could not
//! then delete its record, and a user could not `rm` anything to make room. So [`Store::open`] keeps
//! [`RESERVE_SIZE`] bytes allocated in `minotaur.reserve`, and [`Store::write_freeing`], meant for
//! transactions that delete, gives that room back and tries once more when its first attempt fails. The
//! next `open` that finds room makes the reserve again. A commit that fails for want of room is
//! [`StateError::Full`].
//!
//! `PRAGMA user_version` is the schema version: the number of migrations applied (see [`SCHEMA_VERSION`]). All
//! tables are `STRICT`. IDs are 64 lowercase hex characters. Times are RFC 3339 in UTC with milliseconds
//! (`2026-11-29T18:55:00.123Z`), set by the database when the row is inserted.
//!
//! `containers`: one row per container.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `id` | TEXT PRIMARY KEY | the container ID |
//! | `name` | TEXT UNIQUE NOT NULL | the container name |
//! | `image` | TEXT NOT NULL | the image reference it was created from |
//! | `created_at` | TEXT NOT NULL | when it was created |
//! | `config` | TEXT NOT NULL, valid JSON | what it was created with (the engine's format) |
//! | `state` | TEXT NOT NULL, valid JSON | what it is doing now: status, PID... (the engine's format) |
//!
//! Index `containers_created` on `created_at` (schema 6): listings are oldest first (`created_at`, then the
//! rowid, which every index entry carries), and walking the index in order spares sorting every row with its
//! JSON, which at 1,000 containers was a sixth of `ps`.
//!
//! `networks`: one row per network.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `id` | TEXT PRIMARY KEY | the network ID |
//! | `name` | TEXT UNIQUE NOT NULL | the network name |
//! | `driver` | TEXT NOT NULL | e.g. `bridge` |
//! | `subnet` | TEXT NOT NULL | CIDR, e.g. `10.88.0.0/16` |
//! | `gateway` | TEXT, NULL for none | the gateway's address in the subnet |
//! | `internal` | INTEGER NOT NULL, 0 or 1 | 1 when the network has no route out |
//! | `created_at` | TEXT NOT NULL | when it was created |
//! | `config` | TEXT NOT NULL, valid JSON | the rest of its configuration (the engine's format) |
//!
//! `ip_allocations`: which container holds which address on which network. The primary key makes an address
//! unique within its network. Deleting the network or the container deletes its rows (foreign keys are on in
//! every connection), so an address is never leaked by a removed container.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `network_id` | TEXT NOT NULL, REFERENCES `networks(id)` ON DELETE CASCADE | the network |
//! | `address` | TEXT NOT NULL | the address, as Rust's `IpAddr` displays it (`10.88.0.2`, `fd00::2`) |
//! | `container_id` | TEXT NOT NULL, REFERENCES `containers(id)` ON DELETE CASCADE | who holds it |
//!
//! PRIMARY KEY (`network_id`, `address`); index `ip_allocations_container` on `container_id`.
//!
//! `endpoints`: a container's attachment to a network (interface, addresses, aliases: the engine's JSON). A
//! network with endpoints cannot be deleted (no cascade); a removed container's endpoints go with it.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `container_id` | TEXT NOT NULL, REFERENCES `containers(id)` ON DELETE CASCADE | the container |
//! | `network_id` | TEXT NOT NULL, REFERENCES `networks(id)` | the network |
//! | `data` | TEXT NOT NULL, valid JSON | the endpoint (the engine's format) |
//!
//! PRIMARY KEY (`container_id`, `network_id`); index `endpoints_network` on `network_id`.
//!
//! `ports`: published ports. The primary key makes a host port taken once per protocol and host address;
//! [`WriteTx::publish_port`] also keeps a port on all addresses (`host_ip` empty) apart from the same port
//! on one address.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `proto` | TEXT NOT NULL, `tcp` or `udp` | the protocol |
//! | `host_ip` | TEXT NOT NULL | the host address it is published on; empty for all |
//! | `host_port` | INTEGER NOT NULL | the host port |
//! | `container_id` | TEXT NOT NULL, REFERENCES `containers(id)` ON DELETE CASCADE | who publishes it |
//! | `container_port` | INTEGER NOT NULL | the port in the container |
//!
//! PRIMARY KEY (`proto`, `host_ip`, `host_port`); index `ports_container` on `container_id`.
//!
//! `volumes`: one row per named or anonymous volume (its data lives in the engine's directory for it).
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `name` | TEXT PRIMARY KEY | the volume name (an anonymous volume's is 64 hex characters) |
//! | `driver` | TEXT NOT NULL | `local` |
//! | `anonymous` | INTEGER NOT NULL, 0 or 1 | 1 when made for one container's `-v /path` |
//! | `created_at` | TEXT NOT NULL | when it was created |
//! | `config` | TEXT NOT NULL, valid JSON | labels and options (the engine's format) |
//!
//! `volume_mounts`: which container mounts which volume. A volume with rows here cannot be deleted (no
//! cascade): that is the in-use check, made in the same transaction as the delete. A removed container's
//! rows go with it.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `volume` | TEXT NOT NULL, REFERENCES `volumes(name)` | the volume |
//! | `container_id` | TEXT NOT NULL, REFERENCES `containers(id)` ON DELETE CASCADE | who mounts it |
//!
//! PRIMARY KEY (`volume`, `container_id`); index `volume_mounts_container` on `container_id`.
//!
//! `events`: what happened to containers, networks and images (Docker's events), newest last. There is no
//! daemon to hold them in memory: the process that caused an event inserts it, and `events` reads them
//! from here and follows new ones. Only the last [`EVENTS_KEPT`] are kept: an insert deletes older ones.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `seq` | INTEGER PRIMARY KEY | the order of insertion (the newest row is never deleted, so a new one always gets a higher number) |
//! | `time_nano` | INTEGER NOT NULL | when it happened, nanoseconds since the Unix epoch (set by the caller) |
//! | `type` | TEXT NOT NULL | `container`, `network`, `image`, `volume` |
//! | `action` | TEXT NOT NULL | `create`, `start`, `die`, `kill`, `destroy`, `connect`, `pull`... |
//! | `actor_id` | TEXT NOT NULL | the ID (or, for images, the reference) of what it happened to |
//! | `attributes` | TEXT NOT NULL, valid JSON | a JSON object of strings (Docker's `Actor.Attributes`) |
//!
//! `cni_attachments`: what `minotaur-cni` ADD made: a network namespace of a CNI runtime (not a minotaur
//! container) on a network, keyed as CNI keys it. A network with attachments cannot be deleted (no cascade).
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `network_id` | TEXT NOT NULL, REFERENCES `networks(id)` | the network (the CNI configuration's `name`) |
//! | `container_id` | TEXT NOT NULL | the runtime's `CNI_CONTAINERID` |
//! | `ifname` | TEXT NOT NULL | `CNI_IFNAME`, the interface inside the namespace |
//! | `netns` | TEXT NOT NULL | `CNI_NETNS`, the namespace's path when it was attached |
//! | `created_at` | TEXT NOT NULL | when it was attached |
//! | `data` | TEXT NOT NULL, valid JSON | the endpoint, port mappings and result (the engine's format) |
//!
//! PRIMARY KEY (`network_id`, `container_id`, `ifname`).
//!
//! `cni_addresses`: the addresses CNI attachments hold. An address is taken once per network across this
//! table and `ip_allocations`: both allocators read both tables inside their write transaction. Deleting
//! the attachment deletes its rows.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `network_id`, `container_id`, `ifname` | TEXT NOT NULL, REFERENCES `cni_attachments` ON DELETE CASCADE | the attachment |
//! | `address` | TEXT NOT NULL | the address, as in `ip_allocations` |
//!
//! PRIMARY KEY (`network_id`, `address`); index `cni_addresses_attachment` on the attachment's key.
#![forbid(unsafe_code)]

mod error;
mod tx;

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use error::is_full;
pub use error::StateError;
pub use tx::cni::CniAttachmentRow;
pub use tx::event::{EventRow, NewEvent, EVENTS_KEPT};
pub use tx::volume::{NewVolume, VolumeRow};
pub use tx::{
    Allocation, ContainerRef, ContainerRow, EndpointRow, NetworkRow, NewContainer, NewNetwork,
    PortRow, ReadTx, WriteTx,
};

/// The database's file name under the root directory.
pub const DB_FILE: &str = "minotaur.db";

/// The file whose blocks are kept back for deletions on a full file system (see the crate documentation).
pub const RESERVE_FILE: &str = "minotaur.reserve";

/// The reserve's size: 64 pages, more than SQLite appends to the log to delete a container and every row
/// that refers to it.
pub const RESERVE_SIZE: usize = 256 * 1024;

/// How long a process waits for another one's write lock before giving up with "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations, in order. Migration `i` (from 0) takes the schema from version `i` to `i + 1`. Never edit
/// one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: containers, networks, address allocations.
    "CREATE TABLE containers (
        id         TEXT NOT NULL PRIMARY KEY
                   CHECK (length(id) = 64 AND id NOT GLOB '*[^0-9a-f]*'),
        name       TEXT NOT NULL UNIQUE,
        image      TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        config     TEXT NOT NULL CHECK (json_valid(config)),
        state      TEXT NOT NULL CHECK (json_valid(state))
    ) STRICT;
    CREATE TABLE networks (
        id         TEXT NOT NULL PRIMARY KEY
                   CHECK (length(id) = 64 AND id NOT GLOB '*[^0-9a-f]*'),
        name       TEXT NOT NULL UNIQUE,
        driver     TEXT NOT NULL,
        subnet     TEXT NOT NULL,
        gateway    TEXT,
        internal   INTEGER NOT NULL CHECK (internal IN (0, 1)),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        config     TEXT NOT NULL CHECK (json_valid(config))
    ) STRICT;
    CREATE TABLE ip_allocations (
        network_id   TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
        address      TEXT NOT NULL,
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        PRIMARY KEY (network_id, address)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX ip_allocations_container ON ip_allocations(container_id);",
    // 2: a container's endpoints on networks, and its published ports.
    "CREATE TABLE endpoints (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        network_id   TEXT NOT NULL REFERENCES networks(id),
        data         TEXT NOT NULL CHECK (json_valid(data)),
        PRIMARY KEY (container_id, network_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX endpoints_network ON endpoints(network_id);
    CREATE TABLE ports (
        proto          TEXT NOT NULL CHECK (proto IN ('tcp', 'udp')),
        host_ip        TEXT NOT NULL,
        host_port      INTEGER NOT NULL CHECK (host_port BETWEEN 1 AND 65535),
        container_id   TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        container_port INTEGER NOT NULL CHECK (container_port BETWEEN 1 AND 65535),
        PRIMARY KEY (proto, host_ip, host_port)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX ports_container ON ports(container_id);",
    // 3: volumes, and which containers mount them.
    "CREATE TABLE volumes (
        name       TEXT NOT NULL PRIMARY KEY,
        driver     TEXT NOT NULL,
        anonymous  INTEGER NOT NULL CHECK (anonymous IN (0, 1)),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        config     TEXT NOT NULL CHECK (json_valid(config))
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE volume_mounts (
        volume       TEXT NOT NULL REFERENCES volumes(name),
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        PRIMARY KEY (volume, container_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX volume_mounts_container ON volume_mounts(container_id);",
    // 4: lifecycle events, recorded by whichever process caused them.
    "CREATE TABLE events (
        seq        INTEGER PRIMARY KEY,
        time_nano  INTEGER NOT NULL,
        type       TEXT NOT NULL,
        action     TEXT NOT NULL,
        actor_id   TEXT NOT NULL,
        attributes TEXT NOT NULL CHECK (json_valid(attributes))
    ) STRICT;",
    // 5: CNI attachments (a caller's network namespace on a network, not a minotaur container), and the
    // addresses they hold.
    "CREATE TABLE cni_attachments (
        network_id   TEXT NOT NULL REFERENCES networks(id),
        container_id TEXT NOT NULL,
        ifname       TEXT NOT NULL,
        netns        TEXT NOT NULL,
        created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        data         TEXT NOT NULL CHECK (json_valid(data)),
        PRIMARY KEY (network_id, container_id, ifname)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE cni_addresses (
        network_id   TEXT NOT NULL,
        address      TEXT NOT NULL,
        container_id TEXT NOT NULL,
        ifname       TEXT NOT NULL,
        PRIMARY KEY (network_id, address),
        FOREIGN KEY (network_id, container_id, ifname)
            REFERENCES cni_attachments(network_id, container_id, ifname) ON DELETE CASCADE
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX cni_addresses_attachment ON cni_addresses(network_id, container_id, ifname);",
    // 6: containers listed oldest first without a sort.
    "CREATE INDEX containers_created ON containers(created_at);",
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The number of WAL frames (pages) past which a write first checkpoints the WAL (see
/// [`Store::bound_wal`]). Every command reads the WAL's frames when it opens the database, so this bounds
/// that read (at 256 pages it was a third of what the 1,000th container start cost more than the first); a
/// checkpoint copies at most this many pages.
const WAL_LIMIT: u32 = 64;

/// The byte of the `-shm` file whose shared `fcntl` lock says "a process has the log's index open" (SQLite's
/// `UNIX_SHM_DMS`: after the 8 lock bytes from byte 120).
const SHM_DMS: libc::off_t = 128;

/// The log's index kept in use after this process closed its connection (see
/// [`Store::close_holding_index`]); released when dropped.
#[derive(Debug)]
pub struct IndexHold {
    _shm: std::fs::File,
}

/// An open state database. One per process (or per thread): it holds one SQLite connection.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens the state database under `root`, creating the directory (mode 0700) and the database as needed,
    /// and brings its schema up to [`SCHEMA_VERSION`]. Safe to call from many processes at once.
    ///
    /// Opening needs room too (SQLite makes the log's index file): on a full file system the reserve is
    /// given back and the open tried once more, so that a user can still list and remove what takes room.
    pub fn open(root: &Path) -> Result<Store, StateError> {
        match Store::open_once(root) {
            Err(e) if e.is_full() && std::fs::remove_file(root.join(RESERVE_FILE)).is_ok() => {
                Store::open_once(root)
            }
            other => other,
        }
    }

    fn open_once(root: &Path) -> Result<Store, StateError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|source| StateError::CreateRoot {
                path: root.to_owned(),
                source,
            })?;
        let path = root.join(DB_FILE);
        // SQLite would create the file 0644; the -wal and -shm files it makes later copy the database's mode.
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| StateError::CreateDb {
                path: path.clone(),
                source,
            })?;
        let conn = Connection::open(&path).map_err(|source| StateError::Open {
            path: path.clone(),
            source,
        })?;
        let store = Store { conn, path };
        store
            .configure()
            .map_err(|e| out_of_descriptors(&store.path, e))?;
        store.migrate()?;
        keep_reserve(root);
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the connection and keeps the log's index (`minotaur.db-shm`) in use, for a process this one
    /// forks next (a supervisor) to open the database without rebuilding the index. SQLite's first
    /// process to open a database, the one that finds no other holding the index's "dead man switch"
    /// (a shared `fcntl` lock on byte 128 of the `-shm` file, `UNIX_SHM_DMS` in its `os_unix.c`), cannot
    /// trust the index a process that died may have left half-written: it clears it and reads every
    /// frame of the WAL back to rebuild it (up to [`WAL_LIMIT`] frames, each a page and a checksum). The
    /// hold is that shared lock, taken once the connection is closed (closing it releases every lock
    /// this process has on the file, SQLite's and the hold's alike); a process that finds it held takes
    /// the index as it is, after SQLite's own checks of its header. The hold never writes the index and
    /// takes no lock a reader or writer waits for. `None` when there is no index to hold, or another
    /// process has it exclusively (rebuilding it) at that moment.
    ///
    /// A forked child must close its copy of the hold before it opens the database: `fcntl` locks are
    /// not inherited, but closing any descriptor of the file would drop the child's own SQLite locks.
    pub fn close_holding_index(self) -> Option<IndexHold> {
        let mut shm = self.path.clone().into_os_string();
        shm.push("-shm");
        drop(self.conn);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(shm)
            .ok()?;
        let dms = libc::flock {
            l_type: libc::F_RDLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: SHM_DMS,
            l_len: 1,
            l_pid: 0,
        };
        nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETLK(&dms)).ok()?;
        Some(IndexHold { _shm: file })
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction: commits when it returns `Ok`, rolls back when it returns
    /// `Err` (or panics). Waits up to [`BUSY_TIMEOUT`] for another process's write to finish.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&WriteTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StateError>,
    {
        self.bound_wal();
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| tx_error(path, "begin", source))?;
        let value = f(&WriteTx::new(&tx, path))?;
        tx.commit()
            .map_err(|source| tx_error(path, "commit", source))?;
        Ok(value)
    }

    /// [`Store::write`] for a transaction that frees room (deletes rows): when it fails, the reserve (see the
    /// crate documentation) is given back to the file system and `f` runs once more in a new transaction.
    /// Whatever made the first attempt fail, the second one's result is returned.
    pub fn write_freeing<T, E>(&mut self, f: impl Fn(&WriteTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StateError>,
    {
        match self.write(&f) {
            Ok(value) => Ok(value),
            Err(first) => match self.path.parent().map(|root| root.join(RESERVE_FILE)) {
                Some(reserve) if std::fs::remove_file(&reserve).is_ok() => self.write(f),
                _ => Err(first),
            },
        }
    }

    /// Keeps the WAL short. A process that opens the database while no other has it open rebuilds the WAL's
    /// index by reading the WAL's frames (SQLite's recovery), and that is nearly every CLI command. So
    /// before a write, a WAL of more than [`WAL_LIMIT`] frames is checkpointed into the database; the write
    /// that follows then starts the log over from its first frame (SQLite does that when a writer finds
    /// every frame checkpointed and no reader using them), under a new salt that makes the old frames
    /// invalid to a later recovery.
    ///
    /// The file is not truncated (`wal_checkpoint(TRUNCATE)` did, until the fifth work on issue 15): its
    /// blocks are written over in place. Truncating freed them, and freeing blocks on a file system
    /// mounted with `discard` waits for the disk's discard, plus one more `fsync`; that was the largest
    /// disk wait of a `run --rm` after the checkpoint's own two `fsync`s. The checkpoint runs before the
    /// write, not after a commit: a log checkpointed by a process's last commit would not start over
    /// until the next write, and a process that opened the database alone in between would read its
    /// stale frames back as live (recovery forgets what was checkpointed) and checkpoint them again. A
    /// busy database (a reader or writer in the way) is left for a later write.
    fn bound_wal(&self) {
        if self.wal_past_limit() {
            // Waiting long for others is not worth it: they write too, and one of them will do it.
            let _ = self.conn.busy_timeout(Duration::from_millis(20));
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
        }
    }

    /// Whether the WAL holds more than [`WAL_LIMIT`] frames of its current generation, read from the WAL
    /// file as SQLite's file format documents it (fileformat.html, "WAL file format"): a 32-byte header
    /// with the page size (big-endian, at byte 8) and two salts (bytes 16..24), then frames of a 24-byte
    /// header and a page each, and a frame belongs to the log only while its salts (bytes 8..16 of its
    /// header) are the file header's; a restart of the log changes them. So one frame header is read:
    /// the one past the limit. SQLite has no call that tells the frame count without checkpointing. Read
    /// without SQLite's locks, so a writer may be changing it: this only decides when to checkpoint.
    ///
    /// (The `-shm` index is not read instead: opening and closing a file drops every `fcntl` lock the
    /// process holds on it, SQLite's own included; SQLite takes none on the WAL file.)
    fn wal_past_limit(&self) -> bool {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let Ok(file) = std::fs::File::open(wal) else {
            return false;
        };
        let mut header = [0u8; 32];
        if file.read_exact_at(&mut header, 0).is_err() {
            return false;
        }
        let page = match u32::from_be_bytes([header[8], header[9], header[10], header[11]]) {
            1 => 65536,
            n => u64::from(n),
        };
        let mut frame = [0u8; 24];
        let at = 32 + u64::from(WAL_LIMIT) * (24 + page);
        file.read_exact_at(&mut frame, at).is_ok() && frame[8..16] == header[16..24]
    }

    /// Runs `f` in a read-only transaction: everything it reads comes from one snapshot of the database.
    pub fn read<T, E>(&mut self, f: impl FnOnce(&ReadTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StateError>,
    {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|source| tx_error(path, "begin", source))?;
        let value = f(&ReadTx::new(&tx, path))?;
        // Nothing to keep: ending it either way releases the snapshot.
        tx.commit()
            .map_err(|source| tx_error(path, "end", source))?;
        Ok(value)
    }

    /// The connection settings, which SQLite keeps per connection (except the journal mode, which is stored
    /// in the file and set here the first time).
    fn configure(&self) -> Result<(), StateError> {
        let open_error = |source| {
            if is_full(&source) {
                StateError::Full {
                    path: self.path.clone(),
                }
            } else {
                StateError::Open {
                    path: self.path.clone(),
                    source,
                }
            }
        };
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        self.conn
            .pragma_update(None, "foreign_keys", true)
            .map_err(open_error)?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        // Every CLI process is usually the last one to close the database. By default that process would
        // checkpoint the WAL into the database and delete it (several fsyncs, then the next process re-creates
        // it and syncs the directory): most of the cost of a short command. The WAL is checkpointed instead
        // by the write that finds it past `WAL_LIMIT` frames (see `bound_wal`), and its file kept.
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(open_error)?;
        self.conn
            .pragma_update(None, "journal_size_limit", 4 << 20)
            .map_err(open_error)?;
        // Switching a new database to WAL takes the write lock of its rollback journal. SQLite's busy handler
        // waits for most locks, but a connection holding SHARED that wants RESERVED while another one holds
        // RESERVED gets SQLITE_BUSY at once (waiting could deadlock). Several processes opening a new database
        // at once hit that (tests/processes.rs fails without this loop): the loser retries from scratch.
        let deadline = Instant::now() + BUSY_TIMEOUT;
        let mode = loop {
            match self.conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
                row.get::<_, String>(0)
            }) {
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5))
                }
                result => break result.map_err(open_error)?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StateError::NoWal {
                path: self.path.clone(),
                mode,
            });
        }
        Ok(())
    }

    /// Applies the migrations the database lacks, each in its own IMMEDIATE transaction that first re-reads
    /// the version: of several processes opening a new database at once, one applies each migration and the
    /// others find it done.
    fn migrate(&self) -> Result<(), StateError> {
        loop {
            let version = self.user_version().map_err(|source| StateError::Open {
                path: self.path.clone(),
                source,
            })?;
            if version > SCHEMA_VERSION {
                return Err(StateError::TooNew {
                    path: self.path.clone(),
                    found: version,
                    known: SCHEMA_VERSION,
                });
            }
            if version == SCHEMA_VERSION {
                return Ok(());
            }
            self.apply_migration(version + 1)
                .map_err(|source| StateError::Migrate {
                    path: self.path.clone(),
                    version: version + 1,
                    source,
                })?;
        }
    }

    /// Takes the schema to `version` if it is at `version - 1` when the write lock is held.
    fn apply_migration(&self, version: u32) -> rusqlite::Result<()> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        if self.user_version()? == version - 1 {
            tx.execute_batch(MIGRATIONS[version as usize - 1])?;
            tx.pragma_update(None, "user_version", version)?;
        }
        tx.commit()
    }

    fn user_version(&self) -> rusqlite::Result<u32> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
    }
}

/// An open that failed for want of a descriptor, said so. SQLite opens the log and its index at the first
/// statement and answers `EMFILE` there with "unable to open database file" only; asked while the
/// connection still holds what it opened, one more descriptor of this process's own tells whether that
/// was the reason.
fn out_of_descriptors(path: &Path, e: StateError) -> StateError {
    let cannot_open = matches!(&e, StateError::Open { source, .. }
        if source.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen));
    if cannot_open {
        if let Err(source) = std::fs::File::open("/dev/null") {
            if source.raw_os_error() == Some(libc::EMFILE) {
                return StateError::Descriptors {
                    path: path.to_owned(),
                    source,
                };
            }
        }
    }
    e
}

/// Makes the reserve under `root` if it is missing. Best effort: with no room for all of it, nothing is kept
/// (a partial reserve would only take room the failing command needs), and the next open tries again.
fn keep_reserve(root: &Path) {
    let path = root.join(RESERVE_FILE);
    if path.exists() {
        return;
    }
    // Another process making it at the same time makes `create_new` fail: one reserve is enough.
    let Ok(mut file) = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    else {
        return;
    };
    // Written, not `set_len`: a sparse file would keep nothing back.
    if file.write_all(&[0; RESERVE_SIZE]).is_err() {
        drop(file);
        let _ = std::fs::remove_file(&path);
    }
}

fn tx_error(path: &Path, op: &'static str, source: rusqlite::Error) -> StateError {
    if is_full(&source) {
        return StateError::Full {
            path: path.to_owned(),
        };
    }
    StateError::Transaction {
        path: path.to_owned(),
        op,
        source,
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}
