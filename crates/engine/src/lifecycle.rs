//! The container lifecycle: create, start, stop, kill, remove, wait, rename, and listing with liveness.
//!
//! There is no daemon. A running container has one supervisor process (see [`crate::supervisor`]), which is
//! the parent of its PID 1 and records what happens to it in the state store. Every other command is a
//! short-lived process that reads the store, acts on the kernel objects it names (by pidfd, so a recycled PID
//! is never signalled), and writes its change in one transaction.
//!
//! A container's network namespace is a bind-mounted nsfs file made at `create` and removed at `rm`, not tied
//! to any process: `--network container:X` joiners keep their network while X restarts.

use std::cell::{RefCell, RefMut};
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use minotaur_ns::netns::{NetnsError, NetnsName, Registry};
use minotaur_state::{StateError, Store};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::Signal;

use crate::container::{Config, Container, HostConfig, NetworkRequest, State, Status};
use crate::error::{io_err, EngineError};
use crate::ids::{ContainerId, ContainerName};
use crate::network::{self, Network};
use crate::parse::NsMode;
use crate::paths::Paths;
use crate::process::{alive, pidfd_if_alive, wait_fd};
use crate::spec::{self, Joins, Root};
use crate::store::{self, StoreError};
use crate::supervisor::{self, Attach};
use crate::user;

/// What `create` is asked for, after the CLI parsed its flags.
#[derive(Clone, Debug, Default)]
pub struct CreateRequest {
    pub name: Option<ContainerName>,
    pub image: String,
    /// The command; empty: the image's.
    pub cmd: Vec<String>,
    /// `--entrypoint`; `None`: the image's.
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub labels: std::collections::BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
    pub host: HostConfig,
}

/// What `exec` is asked for.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub stdin: bool,
    pub detach: bool,
}

/// The engine: the state store and the directories it owns.
#[derive(Clone, Debug)]
pub struct Engine {
    pub paths: Paths,
    pub cgroup_root: PathBuf,
    store: StoreCell,
}

/// The engine's one connection to the state store, opened on first use. A clone of the engine opens its
/// own; a process about to fork releases it first, since an SQLite connection must not cross a fork.
#[derive(Default)]
struct StoreCell(RefCell<Option<Store>>);

impl Clone for StoreCell {
    fn clone(&self) -> Self {
        StoreCell::default()
    }
}

impl std::fmt::Debug for StoreCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreCell")
    }
}

/// How long a SIGKILLed container may take to be gone.
const KILL_TIMEOUT: Duration = Duration::from_secs(30);

/// The name of the built-in image whose root filesystem is the host's own.
pub const HOST_IMAGE: &str = "host";

impl Engine {
    pub fn new(paths: Paths) -> Engine {
        Engine {
            paths,
            cgroup_root: PathBuf::from(minotaur_runtime::cgroup::DEFAULT_ROOT),
            store: StoreCell::default(),
        }
    }

    /// The state store, opened once per engine.
    pub fn store(&self) -> Result<RefMut<'_, Store>, EngineError> {
        let mut slot = self.store.0.borrow_mut();
        if slot.is_none() {
            *slot = Some(Store::open(&self.paths.root)?);
        }
        Ok(RefMut::map(slot, |s| s.as_mut().expect("opened above")))
    }

    /// Closes the connection to the state store (before a fork; the next use reopens it).
    pub(crate) fn release_store(&self) {
        self.store.0.borrow_mut().take();
    }

    fn netns(&self) -> Registry {
        Registry::at(self.paths.netns_dir(), "/etc/netns")
    }

    /// Finds a container by ID, name or unique ID prefix.
    pub fn find(&self, reference: &str) -> Result<Container, EngineError> {
        let mut st = self.store()?;
        Ok(st.read(|tx| store::find(tx, reference))?)
    }

    /// Like [`Engine::find`], with the state corrected if its process died unrecorded: what `inspect` shows.
    pub fn find_live(&self, reference: &str) -> Result<Container, EngineError> {
        let mut c = self.find(reference)?;
        correct(&mut c);
        Ok(c)
    }

    /// All containers, oldest first, with the state of those whose processes died unrecorded corrected.
    pub fn list(&self) -> Result<Vec<Container>, EngineError> {
        let mut st = self.store()?;
        let mut all = st.read(store::list)?;
        all.iter_mut().for_each(correct);
        Ok(all)
    }

    /// Creates a container: its record, its directory and files, and its network namespace.
    pub fn create(&self, req: CreateRequest) -> Result<Container, EngineError> {
        let mut config = self.resolve_config(&req)?;
        let id = ContainerId::random();
        if config.hostname.is_empty() {
            config.hostname = id.short().to_owned();
        }
        for b in &config.host.binds {
            if !b.source.exists() {
                return Err(EngineError::NoBindSource(b.source.clone()));
            }
        }
        let mut st = self.store()?;
        // Containers named on the command line must exist (and, for namespaces, be running) now.
        st.read(|tx| -> Result<(), EngineError> {
            for mode in [
                &config.host.pid_mode,
                &config.host.ipc_mode,
                &config.host.uts_mode,
            ]
            .into_iter()
            .flatten()
            {
                if let NsMode::Container(x) = mode {
                    store::find(tx, x)?;
                }
            }
            if let Some(x) = config.host.network_mode.strip_prefix("container:") {
                store::find(tx, x)?;
            }
            Ok(())
        })?;
        let own_netns = !matches!(config.host.network_mode.as_str(), "host")
            && !config.host.network_mode.starts_with("container:");
        let mut state = State::default();
        if own_netns {
            state.sandbox_key = Some(self.paths.sandbox_key(&id));
        }
        let mut container = Container {
            id: id.clone(),
            name: req.name.clone().unwrap_or_else(ContainerName::random),
            created: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
            config,
            state,
        };
        drop(st);
        let networks = self.plan_networks(&container)?;
        let mut st = self.store()?;
        // The record first: it is the commit point that makes the name taken (and the host ports). A random
        // name that collides gets a fresh one.
        let mut attempt = 0;
        loop {
            match st.write(|tx| -> Result<(), EngineError> {
                store::insert(tx, &container)?;
                Engine::reserve_ports(tx, &container, &container.config.host.port_bindings)
            }) {
                Err(EngineError::Store(StoreError::State(StateError::NameInUse { .. })))
                    if req.name.is_none() && attempt < 20 =>
                {
                    attempt += 1;
                    container.name = ContainerName::random_for(attempt);
                }
                other => break other?,
            }
        }
        drop(st);
        log::debug!("create {}: recorded", container.name);
        if let Err(e) = self.make_files(&container, own_netns, &networks) {
            let _ = self.remove_stopped(&container);
            return Err(e);
        }
        log::debug!(
            "create {}: record, files and network namespace made",
            container.name
        );
        // The creation time the store recorded is the one inspect shows.
        self.find(id.as_str())
    }

    /// Makes the run root (where the per-container mounts go: namespace files, image roots) and makes it a
    /// mount point of its own, bound onto itself the first time. Containers of the `host` image have the
    /// host's `/` as their root, a recursive bind; as a mount point the run root can be left out of it (see
    /// `hide` in the runtime's options), so a container start does not copy, then detach, every other
    /// container's mounts. An exclusive flock on the directory keeps two engines from both binding it. It is a
    /// shared mount (for the mount template, see [`Engine::mount_template`]) in a peer group of its own.
    fn runroot_ready(&self) -> Result<(), EngineError> {
        let dir = &self.paths.runroot;
        fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
        if is_mount_point(dir)? {
            return Ok(());
        }
        let lock = lock_dir(dir)?;
        if !is_mount_point(dir)? {
            bind_onto_itself(dir)?;
            // Shared, so image roots mounted below it reach the mount template; a peer group of its own
            // (private first), so they are not also copied onto the mount the run root sits on.
            for (flags, what) in [
                (nix::mount::MsFlags::MS_PRIVATE, "private"),
                (nix::mount::MsFlags::MS_SHARED, "shared"),
            ] {
                set_propagation(dir, flags, what)?;
            }
        }
        drop(lock);
        Ok(())
    }

    /// The run root, ready, under an exclusive flock until the guard is dropped: for making what is made
    /// once per boot below it.
    pub(crate) fn runroot_locked(&self) -> Result<Flock<fs::File>, EngineError> {
        self.runroot_ready()?;
        lock_dir(&self.paths.runroot)
    }

    /// The mount namespace containers' mount namespaces are copied from (the runtime's mount template): the
    /// host's mounts without the containers' namespace files, so that a start does not copy and then detach
    /// a mount for every other container. Made on first use, under the run root's lock; `None` where the
    /// host's root mount is private (a template would not follow the host's later mounts), and containers
    /// then copy the engine's own namespace as before.
    fn mount_template(&self) -> Result<Option<PathBuf>, EngineError> {
        let dir = self.paths.runroot.join("mnt");
        let file = dir.join("template");
        if is_mount_point(&file).unwrap_or(false) {
            return Ok(Some(file));
        }
        if !minotaur_runtime::mount_template::root_is_shared().unwrap_or(false) {
            return Ok(None);
        }
        let lock = self.runroot_locked()?;
        if is_mount_point(&file).unwrap_or(false) {
            return Ok(Some(file));
        }
        // The template's file must sit on a mount that does not propagate (the kernel will not propagate a
        // bound mount namespace); the directory of namespace files must be a mount point before the template
        // is made, so the template can leave it out whole, with whatever is bound there later.
        fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        if !is_mount_point(&dir)? {
            bind_onto_itself(&dir)?;
        }
        set_propagation(&dir, nix::mount::MsFlags::MS_PRIVATE, "private")?;
        self.netns().prepare()?;
        let _ = fs::remove_file(&file);
        let made = minotaur_runtime::mount_template::make(&file, &[self.paths.netns_dir()]);
        drop(lock);
        match made {
            Ok(()) => Ok(Some(file)),
            Err(e) => {
                log::warn!("no mount template, containers copy the host's mounts: {e}");
                Ok(None)
            }
        }
    }

    fn make_files(
        &self,
        c: &Container,
        own_netns: bool,
        networks: &[(Network, NetworkRequest)],
    ) -> Result<(), EngineError> {
        let dir = self.paths.container_dir(&c.id);
        fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        let mut endpoints = Vec::new();
        if own_netns {
            self.runroot_ready()?;
            self.netns().add(&NetnsName::new(c.id.as_str())?)?;
            loopback_up(&self.paths.sandbox_key(&c.id))?;
            log::debug!("create {}: network namespace made", c.name);
            for (i, (net, req)) in networks.iter().enumerate() {
                endpoints.push(self.attach(c, net, req, i)?);
            }
        }
        let h = &c.config.host;
        let nameservers = if !h.dns.is_empty() {
            h.dns.clone()
        } else {
            // The network's resolver answers on its gateway.
            endpoints
                .iter()
                .find_map(|e| e.gateway4.or(e.gateway6))
                .into_iter()
                .collect()
        };
        crate::etc::write(
            &dir,
            &crate::etc::EtcSpec {
                hostname: &c.config.hostname,
                host_network: h.network_mode == "host",
                addresses: endpoints.iter().flat_map(|e| e.addresses()).collect(),
                extra_hosts: &h.extra_hosts,
                nameservers,
                search: &h.dns_search,
                options: &h.dns_options,
            },
        )
        .map_err(io_err(format!(
            "write the /etc files of container {}",
            c.name
        )))?;
        if own_netns {
            network::register_netns(c.name.as_str(), &self.paths.sandbox_key(&c.id), &dir)?;
        }
        log::debug!("create {}: files written", c.name);
        if !networks.is_empty() {
            self.publish(c)?;
            self.update_dns(&c.id)?;
        }
        Ok(())
    }

    fn resolve_config(&self, req: &CreateRequest) -> Result<Config, EngineError> {
        let (image_id, img) = if req.image == HOST_IMAGE {
            ("host".to_owned(), None)
        } else {
            let images = minotaur_image::Store::open(&self.paths.root)?;
            let id = images.resolve(&req.image)?;
            let cfg = images.config(&id)?;
            (id.to_string(), cfg.config().clone())
        };
        let img_cmd = img
            .as_ref()
            .and_then(|c| c.cmd().clone())
            .unwrap_or_default();
        let img_entry = img
            .as_ref()
            .and_then(|c| c.entrypoint().clone())
            .unwrap_or_default();
        let entrypoint = req.entrypoint.clone().unwrap_or(img_entry);
        // As Docker: --entrypoint resets the image's CMD; a command given replaces it.
        let cmd = if !req.cmd.is_empty() {
            req.cmd.clone()
        } else if req.entrypoint.is_some() {
            Vec::new()
        } else {
            img_cmd
        };
        if entrypoint.is_empty() && cmd.is_empty() {
            return Err(EngineError::NoCommand(req.image.clone()));
        }
        let mut env = img
            .as_ref()
            .and_then(|c| c.env().clone())
            .unwrap_or_default();
        for e in &req.env {
            let key = e.split('=').next().unwrap_or_default();
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        let mut host = req.host.clone();
        // The image's EXPOSE ports are exposed too, and published by -P.
        for p in img
            .as_ref()
            .and_then(|c| c.exposed_ports().clone())
            .unwrap_or_default()
        {
            let (port, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
            let proto = match proto {
                "udp" => crate::parse::Proto::Udp,
                _ => crate::parse::Proto::Tcp,
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            if !host.exposed.contains(&(port, proto)) {
                host.exposed.push((port, proto));
            }
            let published = host
                .port_bindings
                .iter()
                .any(|b| b.container_port == port && b.proto == proto);
            if host.publish_all && network::is_bridge_mode(&host.network_mode) && !published {
                host.port_bindings.push(crate::parse::PortMapping {
                    host_ip: None,
                    host_port: None,
                    container_port: port,
                    proto,
                });
            }
        }
        let config = Config {
            hostname: req.hostname.clone().unwrap_or_default(),
            user: req
                .user
                .clone()
                .or_else(|| img.as_ref().and_then(|c| c.user().clone()))
                .unwrap_or_default(),
            env,
            cmd,
            entrypoint,
            working_dir: req
                .working_dir
                .clone()
                .or_else(|| img.as_ref().and_then(|c| c.working_dir().clone()))
                .unwrap_or_default(),
            image: req.image.clone(),
            image_id,
            labels: req.labels.clone(),
            tty: req.tty,
            open_stdin: req.open_stdin,
            stop_signal: req
                .stop_signal
                .clone()
                .or_else(|| img.as_ref().and_then(|c| c.stop_signal().clone()))
                .unwrap_or_else(|| "SIGTERM".into()),
            stop_timeout: req.stop_timeout,
            host,
        };
        // Unknown capability names are bad input to create, as with Docker, not a failure at start.
        spec::capabilities(&config)?;
        Ok(config)
    }

    /// Starts a created or exited container. Detached: returns once its command runs, with `None`.
    /// Attached: this process supervises it and returns its exit status.
    ///
    /// Starts of one container are serialized by an exclusive `flock(2)` on its directory, held until it is
    /// recorded running (or failed to start): of two concurrent starts, the second finds it running and
    /// does nothing, where both would otherwise run it, each with a supervisor and a PID 1 of its own.
    pub fn start(&self, reference: &str, attach: Attach) -> Result<Option<i32>, EngineError> {
        let c = self.find(reference)?;
        let lock = lock_dir(&self.paths.container_dir(&c.id))?;
        let c = self.find(c.id.as_str())?;
        if c.state.status == Status::Running && alive(c.state.pid, c.state.pid_start_time) {
            return Ok(None);
        }
        let mut prepared = self.prepare(&c)?;
        prepared.lock = Some(lock);
        log::debug!("start {}: prepared", c.name);
        supervisor::start(self, c, prepared, attach)
    }

    /// Everything the supervisor needs that is looked up before it starts: the root and the spec.
    fn prepare(&self, c: &Container) -> Result<supervisor::Prepared, EngineError> {
        let mut st = self.store()?;
        let joins = st.read(|tx| -> Result<Joins, EngineError> {
            let h = &c.config.host;
            let mut j = Joins {
                net: c.state.sandbox_key.clone(),
                ..Default::default()
            };
            j.host_net = h.network_mode == "host";
            if let Some(x) = h.network_mode.strip_prefix("container:") {
                let mut other = store::find(tx, x)?;
                // A container that joined another's network hands that one on, as with Docker; the
                // chain is bounded so that a loop of renamed containers cannot hang this.
                for _ in 0..16 {
                    match other.config.host.network_mode.strip_prefix("container:") {
                        Some(y) if other.state.sandbox_key.is_none() => other = store::find(tx, y)?,
                        _ => break,
                    }
                }
                if other.config.host.network_mode == "host" {
                    j.host_net = true;
                    j.net = None;
                } else {
                    j.net = Some(other.state.sandbox_key.clone().ok_or_else(|| {
                        EngineError::NotRunning(format!(
                            "{x} (it has no network namespace of its own)"
                        ))
                    })?);
                }
            }
            let path_of = |mode: &Option<NsMode>,
                           kind: &str|
             -> Result<(bool, Option<PathBuf>), EngineError> {
                match mode {
                    Some(NsMode::Host) => Ok((true, None)),
                    Some(NsMode::Container(x)) => {
                        let other = store::find(tx, x)?;
                        if other.state.status != Status::Running
                            || !alive(other.state.pid, other.state.pid_start_time)
                        {
                            return Err(EngineError::NotRunning(x.clone()));
                        }
                        Ok((
                            false,
                            Some(PathBuf::from(format!(
                                "/proc/{}/ns/{kind}",
                                other.state.pid
                            ))),
                        ))
                    }
                    _ => Ok((false, None)),
                }
            };
            (j.host_pid, j.pid) = path_of(&h.pid_mode, "pid")?;
            (j.host_ipc, j.ipc) = path_of(&h.ipc_mode, "ipc")?;
            (j.host_uts, j.uts) = path_of(&h.uts_mode, "uts")?;
            Ok(j)
        })?;
        drop(st);
        let bundle = self.paths.bundle(&c.id);
        fs::create_dir_all(&bundle).map_err(io_err(format!("create {}", bundle.display())))?;
        let (root, root_dir, overlay) = if c.config.image_id == "host" {
            (Root::Host, PathBuf::from("/"), None)
        } else {
            let images = minotaur_image::Store::open(&self.paths.root)?;
            let id = images.resolve(&c.config.image_id)?;
            let lower = images.lower_dirs(&id)?;
            let merged = self.paths.run_dir(&c.id).join("rootfs");
            self.runroot_ready()?;
            mount_overlay(&lower, &self.paths.container_dir(&c.id), &merged)?;
            (Root::Dir(merged.clone()), merged.clone(), Some(merged))
        };
        let result = (|| {
            let identity = user::resolve(&c.config.user, &root_dir)?;
            let etc = crate::spec::EtcFiles::in_dir(&self.paths.container_dir(&c.id));
            let spec = spec::build(
                &c.config,
                &identity,
                &root,
                &joins,
                &etc,
                &self.paths.cgroup(&c.id),
            )?;
            if let Root::Dir(dir) = &root {
                make_mount_points(dir, &spec)?;
            }
            Ok(supervisor::Prepared {
                spec,
                bundle,
                overlay: overlay.clone(),
                mount_template: self.mount_template()?,
                lock: None,
            })
        })();
        if result.is_err() {
            if let Some(m) = &overlay {
                let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        result
    }

    /// Runs another process in a running container, as `docker exec`: the container's namespaces, cgroup,
    /// seccomp filter and capabilities; its environment plus `env`; its working directory and user unless
    /// given. Returns the process's exit status, or `None` when `detach` (it then runs on unwaited).
    pub fn exec(&self, reference: &str, req: &ExecRequest) -> Result<Option<i32>, EngineError> {
        let c = self.find(reference)?;
        log::debug!("exec in {}: found", c.name);
        let init = self
            .pidfd(&c)?
            .ok_or_else(|| EngineError::NotRunning(c.name.to_string()))?;
        let root_dir = if c.config.image_id == "host" {
            PathBuf::from("/")
        } else {
            self.paths.run_dir(&c.id).join("rootfs")
        };
        let identity = user::resolve(req.user.as_deref().unwrap_or(&c.config.user), &root_dir)?;
        let mut config = c.config.clone();
        config.cmd = req.cmd.clone();
        config.entrypoint = Vec::new();
        config.tty = req.tty;
        config.host.init = false;
        for e in &req.env {
            let key = e.split('=').next().unwrap_or_default();
            config.env.retain(|x| x.split('=').next() != Some(key));
            config.env.push(e.clone());
        }
        if let Some(w) = &req.working_dir {
            config.working_dir = w.clone();
        }
        let etc = crate::spec::EtcFiles::in_dir(&self.paths.container_dir(&c.id));
        let spec = spec::build(
            &config,
            &identity,
            &Root::Dir(root_dir),
            &Joins::default(),
            &etc,
            &self.paths.cgroup(&c.id),
        )?;
        let process = spec.process().clone().expect("a built spec has a process");
        log::debug!("exec in {}: spec built", c.name);
        supervisor::exec(self, &spec, &init, &process, req)
    }

    /// Sends `signal` to a running container's PID 1.
    pub fn kill(&self, reference: &str, signal: Signal) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        let fd = self
            .pidfd(&c)?
            .ok_or_else(|| EngineError::NotRunning(c.name.to_string()))?;
        minotaur_sys::pidfd_send_signal(&fd, signal).map_err(|source| EngineError::Sys {
            what: format!("signal container {}", c.name),
            source,
        })?;
        Ok(c)
    }

    /// Stops a container: its stop signal, then SIGKILL after `timeout`; returns once its exit is recorded.
    pub fn stop(
        &self,
        reference: &str,
        timeout: Option<Duration>,
    ) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        let Some(fd) = self.pidfd(&c)? else {
            self.settle(&c);
            return Ok(c);
        };
        let timeout = timeout
            .or(c.config.stop_timeout.map(|s| Duration::from_secs(s.into())))
            .unwrap_or(Duration::from_secs(10));
        let sig = parse_signal(&c.config.stop_signal)?;
        let _ = minotaur_sys::pidfd_send_signal(&fd, sig);
        if !wait_fd(&fd, Some(timeout)) {
            self.kill_and_wait(&c, &fd)?;
        }
        self.wait_supervisor(&c);
        Ok(c)
    }

    /// Waits until the container is not running; returns its exit code.
    pub fn wait(&self, reference: &str) -> Result<i32, EngineError> {
        let c = self.find(reference)?;
        if let Some(fd) = self.pidfd(&c)? {
            wait_fd(&fd, None);
        }
        self.settle(&c);
        let c = self.find(c.id.as_str())?;
        Ok(c.state.exit_code)
    }

    /// SIGKILLs PID 1 and waits for it to be gone. Bounded: a PID 1 whose exit waits on a process of its
    /// namespace that nobody reaps would otherwise hang the caller.
    fn kill_and_wait(&self, c: &Container, fd: &OwnedFd) -> Result<(), EngineError> {
        let _ = minotaur_sys::pidfd_send_signal(fd, Signal::SIGKILL);
        if wait_fd(fd, Some(KILL_TIMEOUT)) {
            Ok(())
        } else {
            Err(EngineError::Stuck(
                c.name.to_string(),
                KILL_TIMEOUT.as_secs(),
            ))
        }
    }

    /// For a container recorded as running: waits until its supervisor has recorded how it ended. PID 1
    /// may already be gone (killed a moment ago) while the record still says running, with no exit code.
    fn settle(&self, c: &Container) {
        if c.state.status == Status::Running {
            self.wait_supervisor(c);
        }
    }

    /// Waits until the supervisor has recorded the exit (it exits right after).
    fn wait_supervisor(&self, c: &Container) {
        if let Some(fd) = pidfd_if_alive(c.state.supervisor_pid, c.state.supervisor_start_time) {
            wait_fd(&fd, Some(Duration::from_secs(30)));
        }
    }

    /// A pidfd for the container's PID 1 if it is still the process the state names.
    fn pidfd(&self, c: &Container) -> Result<Option<OwnedFd>, EngineError> {
        if c.state.status != Status::Running {
            return Ok(None);
        }
        Ok(pidfd_if_alive(c.state.pid, c.state.pid_start_time))
    }

    /// Removes a container and everything it owns: mounts, network namespace, cgroup, files, record.
    pub fn remove(&self, reference: &str, force: bool) -> Result<Container, EngineError> {
        let c = self.find(reference)?;
        if let Some(fd) = self.pidfd(&c)? {
            if !force {
                return Err(EngineError::Running(c.name.to_string()));
            }
            self.kill_and_wait(&c, &fd)?;
        }
        self.settle(&c);
        self.remove_stopped(&c)?;
        Ok(c)
    }

    /// Removes what a stopped container owns. Goes on past errors and reports the first.
    pub fn remove_stopped(&self, c: &Container) -> Result<(), EngineError> {
        let networked = self
            .attachments(Some(c.id.as_str()), None)
            .map(|a| !a.is_empty())
            .unwrap_or(true);
        let mut first = self.cleanup(c).err();
        let deleted = self
            .store()
            .and_then(|mut st| Ok(st.write(|tx| tx.delete_container(c.id.as_str()))?));
        if let Err(e) = deleted {
            first.get_or_insert(e);
        }
        if networked {
            if let Err(e) = self.update_dns(&c.id) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Deletes a container's kernel objects and files (not its record).
    fn cleanup(&self, c: &Container) -> Result<(), EngineError> {
        let mut first: Option<EngineError> = self.unpublish(c).err();
        if let Some(sandbox) = &c.state.sandbox_key {
            network::unregister_netns(c.name.as_str(), sandbox);
        }
        let rootfs = self.paths.run_dir(&c.id).join("rootfs");
        let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
        if c.state.sandbox_key.is_some() {
            if let Ok(name) = NetnsName::new(c.id.as_str()) {
                match self.netns().delete(&name) {
                    Ok(()) | Err(NetnsError::NotFound(..)) => {}
                    Err(e) => {
                        first.get_or_insert(e.into());
                    }
                }
            }
        }
        if let Err(e) =
            minotaur_runtime::Cgroup::existing(&self.cgroup_root, &self.paths.cgroup(&c.id))
                .remove()
        {
            first.get_or_insert(EngineError::Runtime(e.into()));
        }
        for dir in [self.paths.run_dir(&c.id), self.paths.container_dir(&c.id)] {
            match fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    first.get_or_insert(EngineError::Io {
                        what: format!("remove {}", dir.display()),
                        source: e,
                    });
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Renames a container.
    pub fn rename(&self, reference: &str, new: &ContainerName) -> Result<(), EngineError> {
        let c = self.find(reference)?;
        let mut st = self.store()?;
        st.write(|tx| tx.rename_container(c.id.as_str(), new.as_str()))?;
        drop(st);
        if let Some(sandbox) = &c.state.sandbox_key {
            network::unregister_netns(c.name.as_str(), sandbox);
            network::register_netns(new.as_str(), sandbox, &self.paths.container_dir(&c.id))?;
        }
        if !self.attachments(Some(c.id.as_str()), None)?.is_empty() {
            self.update_dns(&c.id)?;
        }
        Ok(())
    }

    /// Records a new state for a container.
    pub fn set_state(&self, id: &ContainerId, state: &State) -> Result<(), EngineError> {
        let mut st = self.store()?;
        Ok(st.write(|tx| store::set_state(tx, id, state))?)
    }
}

/// Brings up `lo` in the network namespace at `path`, as Docker does in every network namespace it makes
/// (with `--network none` too: 127.0.0.1 works). On a thread of its own that joins the namespace and ends,
/// so this process never leaves its own; the CLI forks only later, single-threaded again.
fn loopback_up(path: &Path) -> Result<(), EngineError> {
    minotaur_net::in_netns(path, || {
        minotaur_sys::interface_up("lo").map_err(|source| EngineError::Sys {
            what: format!("bring up the loopback interface in {}", path.display()),
            source,
        })
    })
}

/// Shows a container recorded as running whose PID 1 is gone as exited. The supervisor records the exit;
/// this covers the moment before it does, and a supervisor that was killed. The record is not changed:
/// `wait`, `stop` and `rm` read it to know whether a supervisor is still to be waited for.
fn correct(c: &mut Container) {
    if c.state.status == Status::Running && !alive(c.state.pid, c.state.pid_start_time) {
        c.state.status = Status::Exited;
        c.state.pid = 0;
    }
}

/// Mounts an overlayfs of `lower` (top first) with the container's upper layer at `merged`.
fn mount_overlay(
    lower: &[PathBuf],
    container_dir: &Path,
    merged: &Path,
) -> Result<(), EngineError> {
    let upper = container_dir.join("upper");
    let work = container_dir.join("work");
    for d in [&upper, &work, &merged.to_path_buf()] {
        fs::create_dir_all(d).map_err(io_err(format!("create {}", d.display())))?;
    }
    let lowers: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        work.display()
    );
    nix::mount::mount(
        Some("overlay"),
        merged,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|source| EngineError::Sys {
        what: format!("mount the root filesystem at {}", merged.display()),
        source,
    })
}

/// Creates, in a container's own root, the mount points its spec needs that the image lacks, so that a
/// read-only root (`--read-only`) can still be mounted on (Docker keeps them in an init layer). Paths are
/// resolved inside the root, so an image's symlinks cannot point the creation outside it.
fn make_mount_points(root: &Path, spec: &oci_spec::runtime::Spec) -> Result<(), EngineError> {
    for m in spec.mounts().iter().flatten() {
        let dest = minotaur_runtime::mounts::secure_join(root, m.destination()).map_err(io_err(
            format!(
                "resolve {} in the container's root",
                m.destination().display()
            ),
        ))?;
        if dest.symlink_metadata().is_ok() {
            continue;
        }
        let file_source = m.typ().as_deref() == Some("bind")
            && m.source()
                .as_ref()
                .is_some_and(|s| s.metadata().is_ok_and(|md| !md.is_dir()));
        let made = if file_source {
            dest.parent()
                .map_or(Ok(()), fs::create_dir_all)
                .and_then(|_| fs::File::create(&dest).map(drop))
        } else {
            fs::create_dir_all(&dest)
        };
        made.map_err(io_err(format!(
            "create mount point {}",
            m.destination().display()
        )))?;
    }
    Ok(())
}

/// Parses a signal name (`SIGTERM`, `TERM`, `term`) or number.
pub fn parse_signal(s: &str) -> Result<Signal, EngineError> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| EngineError::BadSignal(s.to_owned()));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse()
        .map_err(|_| EngineError::BadSignal(s.to_owned()))
}

/// An exclusive `flock(2)` on directory `dir`, held until the returned file is dropped.
fn lock_dir(dir: &Path) -> Result<Flock<fs::File>, EngineError> {
    fs::File::open(dir)
        .map_err(io_err(format!("open {}", dir.display())))
        .and_then(|f| {
            Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, source)| EngineError::Sys {
                what: format!("lock {}", dir.display()),
                source,
            })
        })
}

/// True when `dir` is the root of a mount.
fn is_mount_point(dir: &Path) -> Result<bool, EngineError> {
    rustix::fs::statx(
        rustix::fs::CWD,
        dir,
        rustix::fs::AtFlags::empty(),
        rustix::fs::StatxFlags::BASIC_STATS,
    )
    .map(|s| {
        let root = rustix::fs::StatxAttributes::MOUNT_ROOT;
        s.stx_attributes_mask.contains(root) && s.stx_attributes.contains(root)
    })
    .map_err(|e| EngineError::Sys {
        what: format!("look at {}", dir.display()),
        source: nix::errno::Errno::from_raw(e.raw_os_error()),
    })
}

/// Binds `dir` onto itself (with what is mounted below it), making it a mount point.
fn bind_onto_itself(dir: &Path) -> Result<(), EngineError> {
    nix::mount::mount(
        Some(dir),
        dir,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|source| EngineError::Sys {
        what: format!("bind {} onto itself", dir.display()),
        source,
    })
}

/// Changes the propagation of the mount at `dir` (`what`: the type's name, for the error).
fn set_propagation(dir: &Path, flags: nix::mount::MsFlags, what: &str) -> Result<(), EngineError> {
    nix::mount::mount(None::<&str>, dir, None::<&str>, flags, None::<&str>).map_err(|source| {
        EngineError::Sys {
            what: format!("make {} {what}", dir.display()),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("kill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("SIGFOO").is_err());
        assert!(parse_signal("99").is_err());
    }
}
