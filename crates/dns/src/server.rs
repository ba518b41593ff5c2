//! The server: one thread polls every listener's UDP and TCP socket, a signalfd and an inotify descriptor on the
//! record files (applied as they change, see the crate documentation), answers local names
//! itself (a hash lookup), and hands what takes time — forwarding to an upstream, a TCP connection — to a
//! short-lived thread of its own, at most [`MAX_WORKERS`] at once (beyond that, a UDP query is dropped and the
//! client retries; a TCP connection is closed).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::answer::{answer_in, servfail, Outcome, Zone};
use crate::config::{Config, Entry, Listener};
use crate::control::RECORDS_DIR;
use crate::control::{open_lock, read_config, read_records, set_pid, try_lock, unlock};
use crate::error::DnsError;
use crate::forward::{relay_tcp, relay_udp};

/// The port the engine's servers listen on.
pub(crate) const PORT: u16 = 53;
/// The most forwarding and TCP threads alive at once.
pub const MAX_WORKERS: usize = 64;
/// How long a TCP client may stay idle between queries.
const TCP_IDLE: Duration = Duration::from_secs(10);
const WORKER_STACK: usize = 128 * 1024;
/// How long a starting server retries an address in use.
const BIND_PATIENCE: Duration = Duration::from_millis(500);

/// How often `records/` is looked at when there is no inotify to watch it.
const RECORDS_POLL: Duration = Duration::from_millis(250);
/// How long a server serves before it gives back the pages it no longer needs
/// ([`minotaur_sys::shed_memory`]). The resolver that a lone `run --rm` of a short command starts is
/// told to stop a few milliseconds after it is ready: one that shed at once spent ~0.2 ms of CPU reading
/// its `smaps` (and faulting back in what it dropped) for nothing, beside the run it serves.
const SHED_AFTER: Duration = Duration::from_secs(1);

/// Runs the server for the resolver directory `dir` on `port` (53 in production) until the configuration
/// names no listener (or SIGTERM/SIGINT). Takes the lock itself (an error when another server holds it).
/// SIGHUP reloads the configuration: new listeners are bound, gone ones closed, records replaced; a listener
/// that cannot be bound is logged and skipped. `ready`, when given, gets `ready\n` once the server serves, or
/// `error: MESSAGE\n` when it cannot start (no listener of a non-empty configuration could be bound).
pub fn serve(dir: &Path, port: u16, ready: Option<OwnedFd>) -> Result<(), DnsError> {
    serve_locked(dir, port, ready, None)
}

/// [`serve`] with the lock already taken by the process that started this one (`--lock-fd`, see
/// [`crate::notify`]): the same open file description, so the lock is never free in between.
pub fn serve_locked(
    dir: &Path,
    port: u16,
    ready: Option<OwnedFd>,
    lock: Option<OwnedFd>,
) -> Result<(), DnsError> {
    serve_handed(dir, port, ready, lock, Vec::new())
}

/// [`serve_locked`] with listeners' sockets already bound by the holder of the lock that started this
/// server (see [`crate::Dormant`]): each is served if the configuration still names its address (queries
/// that came before are waiting in it), else closed. `--listen-fds` of an exec'd server.
pub fn serve_handed(
    dir: &Path,
    port: u16,
    ready: Option<OwnedFd>,
    lock: Option<OwnedFd>,
    handed: Vec<(UdpSocket, TcpListener)>,
) -> Result<(), DnsError> {
    let mut ready = ready.map(File::from);
    let result = run(dir, port, &mut ready, lock, handed);
    if let (Err(e), Some(pipe)) = (&result, ready.as_mut()) {
        let _ = writeln!(pipe, "error: {}", minotaur_ns::error_chain(e));
    }
    result
}

/// A zone shared with the threads that answer from it, changed in place as record files change.
type Shared = Arc<RwLock<Zone>>;
/// A container's address → the zones of every network it is on.
type Members = Arc<RwLock<HashMap<IpAddr, Vec<Shared>>>>;

/// A poisoned lock (a panic while answering) still holds a usable zone.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

struct Bound {
    udp: Arc<UdpSocket>,
    tcp: TcpListener,
    zone: Shared,
}

struct Server<'a> {
    dir: &'a Path,
    port: u16,
    lock: File,
    pid: u32,
    listeners: HashMap<IpAddr, Bound>,
    members: Members,
    upstreams: Arc<Vec<SocketAddr>>,
    workers: Arc<AtomicUsize>,
    /// Watches `records/`: set up before the first scan, so no change falls in between. `None` when the
    /// user has no inotify instance or watch left (a container of the same user may have used them up):
    /// then `records/` is looked at every [`RECORDS_POLL`], by its modification time.
    inotify: Option<Inotify>,
    /// `records/`'s modification time at the last scan, when there is no inotify.
    records_mtime: Option<std::time::SystemTime>,
    /// The record files: file name → its entries.
    entries: HashMap<String, Vec<Entry>>,
    /// The configuration file as last read (the listeners), without the record files' entries.
    config: Config,
    /// Sockets bound before this server started, by address, until the first [`Server::apply`].
    handed: HashMap<IpAddr, (UdpSocket, TcpListener)>,
}

fn run(
    dir: &Path,
    port: u16,
    ready: &mut Option<File>,
    lock: Option<OwnedFd>,
    handed: Vec<(UdpSocket, TcpListener)>,
) -> Result<(), DnsError> {
    // Rule 2 of the protocol (see `control`): SIGHUP is blocked before the PID is published. Threads started
    // later inherit the mask, so only the signalfd ever sees these signals.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT] {
        signals.add(s);
    }
    signals
        .thread_block()
        .map_err(|e| DnsError::Setup("signal mask", e.into()))?;
    let signalfd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| DnsError::Setup("signalfd", e.into()))?;

    let lock = match lock {
        Some(fd) => File::from(fd),
        None => open_lock(dir)?,
    };
    // With an inherited lock this converts our own lock, which always succeeds.
    if !try_lock(dir, &lock)? {
        return Err(DnsError::Busy(dir.join(crate::control::LOCK_FILE)));
    }
    let records = dir.join(RECORDS_DIR);
    std::fs::create_dir_all(&records).map_err(|e| DnsError::Write(records.clone(), e))?;
    let inotify = match watch(&records) {
        Ok(inotify) => Some(inotify),
        // The user's instances (EMFILE) or watches (ENOSPC) are used up.
        Err(e @ (nix::errno::Errno::EMFILE | nix::errno::Errno::ENOSPC)) => {
            log::warn!(
                "no inotify left to watch {} ({e}): reading it every {} ms",
                records.display(),
                RECORDS_POLL.as_millis()
            );
            None
        }
        Err(e) => return Err(DnsError::Setup("inotify", e.into())),
    };
    let mut server = Server {
        dir,
        port,
        lock,
        pid: std::process::id(),
        listeners: HashMap::new(),
        members: Members::default(),
        upstreams: Arc::default(),
        workers: Arc::default(),
        inotify,
        records_mtime: None,
        entries: HashMap::new(),
        config: Config::default(),
        // Served as the loop serves its own: without blocking.
        handed: handed
            .into_iter()
            .filter(|(udp, tcp)| {
                udp.set_nonblocking(true)
                    .and(tcp.set_nonblocking(true))
                    .is_ok()
            })
            .filter_map(|(udp, tcp)| Some((udp.local_addr().ok()?.ip(), (udp, tcp))))
            .collect(),
    };
    server.scan_records();
    set_pid(dir, &server.lock, Some(server.pid))?;
    let config = match read_config(dir) {
        Ok(c) => c,
        Err(e) => {
            server.release();
            return Err(e);
        }
    };
    let config = if config.listeners.is_empty() {
        match server.release_and_recheck()? {
            Some(config) => config,
            None => {
                report_ready(ready);
                return Ok(());
            }
        }
    } else {
        config
    };
    let failures = server.apply(config, true);
    if server.listeners.is_empty() {
        server.release();
        let (addr, e) = failures
            .into_iter()
            .next()
            .expect("a configuration with listeners");
        return Err(DnsError::Bind(addr, e));
    }
    report_ready(ready);
    server.run(&signalfd)
}

/// An inotify descriptor watching `records` for files written, renamed and removed.
fn watch(records: &Path) -> Result<Inotify, nix::errno::Errno> {
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    inotify.add_watch(
        records,
        AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_DELETE,
    )?;
    Ok(inotify)
}

fn report_ready(ready: &mut Option<File>) {
    if let Some(mut pipe) = ready.take() {
        let _ = pipe.write_all(b"ready\n");
    }
}

/// What one polled descriptor is.
#[derive(Clone, Copy)]
enum Slot {
    Signal,
    Records,
    Udp(IpAddr),
    Tcp(IpAddr),
}

impl Server<'_> {
    fn run(mut self, signalfd: &SignalFd) -> Result<(), DnsError> {
        let mut shed_at = Some(Instant::now() + SHED_AFTER);
        loop {
            if shed_at.is_some_and(|at| Instant::now() >= at) {
                minotaur_sys::shed_memory();
                shed_at = None;
            }
            let mut slots = vec![Slot::Signal];
            let mut fds = vec![PollFd::new(signalfd.as_fd(), PollFlags::POLLIN)];
            if let Some(inotify) = &self.inotify {
                slots.push(Slot::Records);
                fds.push(PollFd::new(inotify.as_fd(), PollFlags::POLLIN));
            }
            for (ip, b) in &self.listeners {
                slots.push(Slot::Udp(*ip));
                fds.push(PollFd::new(b.udp.as_fd(), PollFlags::POLLIN));
                slots.push(Slot::Tcp(*ip));
                fds.push(PollFd::new(b.tcp.as_fd(), PollFlags::POLLIN));
            }
            let records = self.inotify.is_none().then_some(RECORDS_POLL);
            let shed = shed_at.map(|at| at.saturating_duration_since(Instant::now()));
            let timeout = match records.into_iter().chain(shed).min() {
                // Rounded up: a wake-up a little early would only poll again.
                Some(d) => {
                    PollTimeout::try_from(d.as_millis() as i32 + 1).unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(DnsError::Setup("poll", e.into())),
            }
            let due: Vec<Slot> = slots
                .iter()
                .zip(&fds)
                .filter(|(_, fd)| fd.revents().is_some_and(|r| !r.is_empty()))
                .map(|(s, _)| *s)
                .collect();
            drop(fds);
            // Without inotify, `records/` is looked at on every wake-up (one `statx`), so that a steady
            // flow of queries cannot hold a change back.
            if self.inotify.is_none() && self.read_changes() {
                let config = self.config.clone();
                self.apply(config, false);
            }
            for slot in due {
                match slot {
                    Slot::Signal => {
                        if !self.on_signal(signalfd)? {
                            return Ok(());
                        }
                        // The listeners may have changed: poll them afresh.
                        break;
                    }
                    Slot::Records => {
                        if self.read_changes() {
                            let config = self.config.clone();
                            self.apply(config, false);
                        }
                    }
                    Slot::Udp(ip) => self.on_udp(ip),
                    Slot::Tcp(ip) => self.on_tcp(ip),
                }
            }
        }
    }

    /// Handles pending signals; false when the server is to exit.
    fn on_signal(&mut self, signalfd: &SignalFd) -> Result<bool, DnsError> {
        let mut reload = false;
        while let Ok(Some(info)) = signalfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGHUP) => reload = true,
                Ok(s) => {
                    log::info!("{s}: exiting");
                    self.release();
                    return Ok(false);
                }
                Err(_) => {}
            }
        }
        if !reload {
            return Ok(true);
        }
        let config = match read_config(self.dir) {
            Ok(c) => c,
            Err(e) => {
                log::warn!(
                    "keeping the previous configuration: {}",
                    minotaur_ns::error_chain(&e)
                );
                return Ok(true);
            }
        };
        let config = if config.listeners.is_empty() {
            match self.release_and_recheck()? {
                Some(config) => config,
                None => return Ok(false),
            }
        } else {
            config
        };
        // After an exit that was called off (rule 3) nothing is bound any more: be patient as at start-up.
        let patient = self.listeners.is_empty();
        // Record files written before the signal was sent are in the inotify queue by now.
        self.read_changes();
        self.apply(config, patient);
        Ok(true)
    }

    /// Rule 3 of the protocol (see `control`): the configuration names no listener. Releases the lock, reads
    /// the configuration again and, when it names listeners after all and the lock is still free, keeps
    /// serving it. `None`: exit.
    fn release_and_recheck(&mut self) -> Result<Option<Config>, DnsError> {
        loop {
            self.release();
            if read_config(self.dir)?.listeners.is_empty() {
                log::info!("no network has containers: exiting");
                return Ok(None);
            }
            if !try_lock(self.dir, &self.lock)? {
                log::info!("a new server is starting: exiting");
                return Ok(None);
            }
            set_pid(self.dir, &self.lock, Some(self.pid))?;
            let config = read_config(self.dir)?;
            if !config.listeners.is_empty() {
                return Ok(Some(config));
            }
        }
    }

    /// Closes the listeners, empties the PID file and releases the lock (in this order: rule 3, and the next
    /// server must be able to bind what we served).
    fn release(&mut self) {
        self.listeners.clear();
        self.handed.clear();
        let _ = set_pid(self.dir, &self.lock, None);
        unlock(&self.lock);
    }

    /// Serves `config`: binds new listeners, closes gone ones, replaces records. Returns the listeners that
    /// could not be bound. `patient` (at start-up): an address in use is tried again for a moment, since the
    /// previous server may be closing it right now.
    fn apply(&mut self, config: Config, patient: bool) -> Vec<(SocketAddr, io::Error)> {
        self.config = config.clone();
        let config = self.with_entries(config);
        self.upstreams = Arc::new(config.upstreams);
        let wanted: HashMap<IpAddr, &Listener> =
            config.listeners.iter().map(|l| (l.address, l)).collect();
        self.listeners.retain(|ip, b| {
            let keep = wanted.contains_key(ip);
            if !keep {
                log::info!("network {}: closing {ip}", read(&b.zone).network);
            }
            keep
        });
        let mut failures = Vec::new();
        for (ip, listener) in wanted {
            let zone = Arc::new(RwLock::new(Zone::new(listener)));
            if let Some(b) = self.listeners.get_mut(&ip) {
                b.zone = zone;
                continue;
            }
            let addr = SocketAddr::new(ip, self.port);
            let handed = self.handed.remove(&ip).map(Ok);
            match handed.unwrap_or_else(|| bind(addr, patient)) {
                Ok((udp, tcp)) => {
                    log::info!("network {}: listening on {addr}", listener.network);
                    let udp = Arc::new(udp);
                    self.listeners.insert(ip, Bound { udp, tcp, zone });
                }
                Err(e) => {
                    log::warn!("network {}: cannot listen on {addr}: {e}", listener.network);
                    failures.push((addr, e));
                }
            }
        }
        // Every network a container is on, reached from each of its addresses.
        let mut zones_of: HashMap<&str, Vec<Shared>> = HashMap::new();
        for l in &config.listeners {
            let Some(b) = self.listeners.get(&l.address) else {
                continue;
            };
            for r in l.records.iter().filter(|r| !r.container.is_empty()) {
                let zones = zones_of.entry(r.container.as_str()).or_default();
                if !zones.iter().any(|z| Arc::ptr_eq(z, &b.zone)) {
                    zones.push(Arc::clone(&b.zone));
                }
            }
        }
        let mut members: HashMap<IpAddr, Vec<Shared>> = HashMap::new();
        for l in &config.listeners {
            for r in &l.records {
                if let Some(zones) = zones_of.get(r.container.as_str()) {
                    for a in &r.addresses {
                        members.insert(*a, zones.clone());
                    }
                }
            }
        }
        *write(&self.members) = members;
        // Handed sockets of addresses no longer served are closed.
        self.handed.clear();
        failures
    }

    /// The zones of the listeners of network `name` (one per gateway address: IPv4, IPv6).
    fn zones_of(&self, name: &str) -> Vec<Shared> {
        self.listeners
            .values()
            .filter(|b| read(&b.zone).network == name)
            .map(|b| Arc::clone(&b.zone))
            .collect()
    }

    /// Applies one container's record file in place: `old` entries out of their zones, `new` ones in, and
    /// its addresses' networks (for the answers of its other networks). The cost is that of one container,
    /// however many the zones hold.
    fn replace_entries(&self, old: &[Entry], new: &[Entry]) {
        let mut members = write(&self.members);
        for e in old {
            for z in self.zones_of(&e.network) {
                write(&z).remove(&e.record);
            }
            for a in &e.record.addresses {
                members.remove(a);
            }
        }
        let mut zones: Vec<Shared> = Vec::new();
        for e in new {
            for z in self.zones_of(&e.network) {
                write(&z).add(&e.record);
                if !e.record.container.is_empty() && !zones.iter().any(|x| Arc::ptr_eq(x, &z)) {
                    zones.push(z);
                }
            }
        }
        if zones.is_empty() {
            return;
        }
        for e in new {
            for a in &e.record.addresses {
                members.insert(*a, zones.clone());
            }
        }
    }

    /// `config` with every record file's entries added to the listener of their network.
    fn with_entries(&self, mut config: Config) -> Config {
        let mut by_network: HashMap<&str, Vec<&Entry>> = HashMap::new();
        for e in self.entries.values().flatten() {
            by_network.entry(e.network.as_str()).or_default().push(e);
        }
        for l in &mut config.listeners {
            if let Some(entries) = by_network.get(l.network.as_str()) {
                l.records.extend(entries.iter().map(|e| e.record.clone()));
            }
        }
        config
    }

    /// Reads every record file (at start-up, and when the inotify queue overflowed); the zones are rebuilt
    /// from them by the next [`Server::apply`].
    fn scan_records(&mut self) {
        self.entries.clear();
        let dir = self.dir.join(RECORDS_DIR);
        let names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(list) => list
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect(),
            Err(e) => {
                log::warn!("cannot read {}: {e}", dir.display());
                return;
            }
        };
        for name in names {
            match read_records(self.dir, &name) {
                Ok(Some(entries)) => {
                    self.entries.insert(name, entries);
                }
                Ok(None) => {}
                Err(e) => log::warn!("{}", minotaur_ns::error_chain(&e)),
            }
        }
    }

    /// Applies what the inotify queue reports about the record files, each changed file in place in the
    /// zones. True when the queue overflowed: everything was read again, and the zones need a rebuild.
    /// Without inotify: true when `records/` changed since the last look, and everything was read again.
    fn read_changes(&mut self) -> bool {
        if self.inotify.is_none() {
            let mtime = std::fs::metadata(self.dir.join(RECORDS_DIR))
                .and_then(|m| m.modified())
                .ok();
            if mtime.is_some() && mtime == self.records_mtime {
                return false;
            }
            // Read before the scan: a change during it shows at the next look.
            self.records_mtime = mtime;
            self.scan_records();
            return true;
        }
        loop {
            let Some(inotify) = &self.inotify else {
                return false;
            };
            let events = match inotify.read_events() {
                Ok(events) => events,
                Err(nix::errno::Errno::EAGAIN) => return false,
                Err(e) => {
                    log::warn!("cannot read inotify events: {e}");
                    return false;
                }
            };
            for ev in events {
                if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    while inotify.read_events().is_ok() {}
                    self.scan_records();
                    return true;
                }
                let Some(name) = ev.name.and_then(|n| n.into_string().ok()) else {
                    continue;
                };
                let new = match read_records(self.dir, &name) {
                    Ok(new) => new,
                    Err(e) => {
                        log::warn!("{}", minotaur_ns::error_chain(&e));
                        continue;
                    }
                };
                let old = self.entries.remove(&name);
                self.replace_entries(
                    old.as_deref().unwrap_or_default(),
                    new.as_deref().unwrap_or_default(),
                );
                if let Some(new) = new {
                    self.entries.insert(name, new);
                }
            }
        }
    }

    fn on_udp(&self, ip: IpAddr) {
        let Some(b) = self.listeners.get(&ip) else {
            return;
        };
        let mut buf = [0u8; 4096];
        loop {
            let (n, client) = match b.udp.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("{ip}: receive: {e}");
                    return;
                }
            };
            let query = &buf[..n];
            let zones = zones_for(&b.zone, &self.members, client.ip());
            match answer_from(query, &zones, true) {
                Outcome::Reply(bytes) => {
                    let _ = b.udp.send_to(&bytes, client);
                }
                Outcome::Drop => {}
                Outcome::Forward => {
                    let query = query.to_vec();
                    // Weak: a closed listener must not stay bound while a forward runs (the next server
                    // could not bind it).
                    let udp = Arc::downgrade(&b.udp);
                    let upstreams = Arc::clone(&self.upstreams);
                    self.spawn(move || {
                        if let Some(bytes) =
                            relay_udp(&query, &upstreams).or_else(|| servfail(&query))
                        {
                            if let Some(udp) = udp.upgrade() {
                                let _ = udp.send_to(&bytes, client);
                            }
                        }
                    });
                }
            }
        }
    }

    fn on_tcp(&self, ip: IpAddr) {
        let Some(b) = self.listeners.get(&ip) else {
            return;
        };
        loop {
            let (stream, client) = match b.tcp.accept() {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("{ip}: accept: {e}");
                    return;
                }
            };
            let zone = Arc::clone(&b.zone);
            let members = Arc::clone(&self.members);
            let upstreams = Arc::clone(&self.upstreams);
            self.spawn(move || {
                let zones = zones_for(&zone, &members, client.ip());
                if let Err(e) = tcp_client(stream, &zones, &upstreams) {
                    log::debug!("tcp client: {e}");
                }
            });
        }
    }

    /// Runs `work` on a thread of its own, unless [`MAX_WORKERS`] are busy (then drops it).
    fn spawn(&self, work: impl FnOnce() + Send + 'static) {
        if self.workers.fetch_add(1, Ordering::AcqRel) >= MAX_WORKERS {
            self.workers.fetch_sub(1, Ordering::AcqRel);
            log::debug!("{MAX_WORKERS} workers busy: dropping a query");
            return;
        }
        let workers = Arc::clone(&self.workers);
        let started = std::thread::Builder::new()
            .stack_size(WORKER_STACK)
            .spawn(move || {
                work();
                workers.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(e) = started {
            self.workers.fetch_sub(1, Ordering::AcqRel);
            log::warn!("cannot start a worker thread: {e}");
        }
    }
}

/// The zones a query from `client` on the listener of `zone` is answered from: that network's first, then
/// those of the client's other networks. Never empty.
fn zones_for(zone: &Shared, members: &Members, client: IpAddr) -> Vec<Shared> {
    // An IPv4 client on an IPv6 socket shows as ::ffff:a.b.c.d.
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    let members = read(members);
    let Some(own) = members.get(&client) else {
        // The host, or anyone else who can reach the gateway: that network's names.
        return vec![Arc::clone(zone)];
    };
    // A container asking on another network's gateway (reachable through the host's routing) gets the
    // names of its own networks only, never that network's.
    let mut zones: Vec<Shared> = Vec::new();
    if own.iter().any(|z| Arc::ptr_eq(z, zone)) {
        zones.push(Arc::clone(zone));
    }
    zones.extend(own.iter().filter(|z| !Arc::ptr_eq(z, zone)).cloned());
    zones
}

/// [`answer_in`] over shared zones, read-locked for this one query only: a slow TCP client must not hold up a
/// record change.
fn answer_from(query: &[u8], zones: &[Shared], udp: bool) -> Outcome {
    let guards: Vec<_> = zones.iter().map(|z| read(z)).collect();
    let refs: Vec<&Zone> = guards.iter().map(|g| &**g).collect();
    answer_in(query, &refs, udp)
}

fn bind(addr: SocketAddr, patient: bool) -> io::Result<(UdpSocket, TcpListener)> {
    let deadline = Instant::now() + BIND_PATIENCE;
    loop {
        match bind_once(addr) {
            Err(e)
                if patient && e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

pub(crate) fn bind_once(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let udp = UdpSocket::bind(addr)?;
    udp.set_nonblocking(true)?;
    let tcp = TcpListener::bind(addr)?;
    tcp.set_nonblocking(true)?;
    Ok((udp, tcp))
}

/// Answers the queries of one TCP connection (RFC 7766: each message preceded by its length) until the client
/// closes it or stays idle for [`TCP_IDLE`].
fn tcp_client(mut stream: TcpStream, zones: &[Shared], upstreams: &[SocketAddr]) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TCP_IDLE))?;
    stream.set_write_timeout(Some(TCP_IDLE))?;
    loop {
        let mut len = [0; 2];
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut query = vec![0; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut query)?;
        let reply = match answer_from(&query, zones, false) {
            Outcome::Reply(bytes) => bytes,
            Outcome::Drop => return Ok(()),
            Outcome::Forward => match relay_tcp(&query, upstreams).or_else(|| servfail(&query)) {
                Some(bytes) => bytes,
                None => return Ok(()),
            },
        };
        let Ok(n) = u16::try_from(reply.len()) else {
            return Ok(());
        };
        let mut out = n.to_be_bytes().to_vec();
        out.extend(reply);
        stream.write_all(&out)?;
    }
}
