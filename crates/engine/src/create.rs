//! `create`: resolving a request into a container's configuration (the image's defaults under the flags),
//! recording it, and making what it owns from now until `rm`: its directory and `/etc` files, its network
//! namespace, its endpoints, published ports and resolver records.
//!
//! Images and mounts enter here: `resolve_image` is where an image name becomes an ID and a configuration
//! (where a registry pull plugs in), and `check_mounts` checks what the container mounts before anything is
//! recorded (where named volumes resolve). The root filesystem itself is mounted at each start
//! ([`crate::start`], [`crate::runroot`]).

use std::fs;
use std::time::SystemTime;

use minotaur_net::{Netlink, NetlinkError};
use minotaur_ns::netns::{Adding, Loopback, NetnsName};
use minotaur_state::StateError;
use oci_spec::image::Config as ImageConfig;

use crate::container::{Config, Container, HostConfig, NetworkRequest, State};
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::{io_err, EngineError};
use crate::events;
use crate::healthcheck::Healthcheck;
use crate::ids::{ContainerId, ContainerName};
use crate::network::attach::{self, Addresses};
use crate::network::record::{is_bridge_mode, Network};
use crate::network::{dns, netns, ports};
use crate::parse::NsMode;
use crate::remove;
use crate::runroot;
use crate::spec;
use crate::store::{self, StoreError};
use crate::userns;
use crate::volume;

/// The name of the built-in image whose root filesystem is the host's own.
pub const HOST_IMAGE: &str = "host";

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
    /// `--health-*` (`None`: the image's healthcheck applies).
    pub healthcheck: Option<crate::healthcheck::Healthcheck>,
    /// A readiness check (Kubernetes' readinessProbe).
    pub readiness: Option<crate::healthcheck::Healthcheck>,
    /// A startup check (Kubernetes' startupProbe).
    pub startup: Option<crate::healthcheck::Healthcheck>,
    pub host: HostConfig,
}

/// Creates a container: its record, its directory and files, and its network namespace.
pub fn create(ctx: &Context, req: CreateRequest) -> Result<Container, EngineError> {
    create_with(ctx, req, ContainerId::random(), Records::Now).map(|(c, _, _)| c)
}

/// [`create`], handing back the container directory's lock for the start that follows ([`crate::start::run`],
/// in the supervisor): it starts what it made with no moment in which `system prune` could take it for a
/// stopped container. The resolver's record of the container is left to that start, which writes it
/// anyway (and `run` removes a container whose start failed).
///
/// The record itself may be left to the supervisor: then a [`PendingRecord`] comes back too, which must
/// be written before the container's command runs. `id`: the container's, chosen by the CLI, which makes
/// its cgroup meanwhile (see `supervisor::fork`).
pub(crate) fn create_locked(
    ctx: &Context,
    req: CreateRequest,
    id: ContainerId,
) -> Result<(Container, runroot::ContainerLock, Option<PendingRecord>), EngineError> {
    create_with(ctx, req, id, Records::AtStart)
}

/// When a new container's record for the resolver is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Records {
    /// At its creation: names resolve to a created container while other containers of its networks
    /// run.
    Now,
    /// At the start that follows at once.
    AtStart,
}

fn create_with(
    ctx: &Context,
    req: CreateRequest,
    id: ContainerId,
    records: Records,
) -> Result<(Container, runroot::ContainerLock, Option<PendingRecord>), EngineError> {
    let mut config = resolve_config(ctx, &req)?;
    if config.hostname.is_empty() {
        config.hostname = id.short().to_owned();
    }
    check_mounts(&config)?;
    let userns_size = match userns::parse_mode(&config.host.userns_mode)? {
        userns::Mode::Host => {
            config.host.userns_mode.clear();
            None
        }
        userns::Mode::Auto { size } => {
            userns::check(&ctx.paths.subid)?;
            Some(size)
        }
    };
    volume::name(ctx, &mut config.host);
    // Containers named on the command line must exist (and, for namespaces, be running) now: one read
    // transaction, when any is named.
    let named: Vec<&str> = [
        &config.host.pid_mode,
        &config.host.ipc_mode,
        &config.host.uts_mode,
    ]
    .into_iter()
    .flatten()
    .filter_map(|mode| match mode {
        NsMode::Container(x) => Some(x.as_str()),
        _ => None,
    })
    .chain(config.host.network_mode.strip_prefix("container:"))
    .collect();
    if !named.is_empty() {
        ctx.store()?.read(|tx| -> Result<(), EngineError> {
            for x in &named {
                store::find(tx, x)?;
            }
            Ok(())
        })?;
    }
    let own_netns = !matches!(config.host.network_mode.as_str(), "host")
        && !config.host.network_mode.starts_with("container:");
    let mut state = State::default();
    if own_netns {
        state.sandbox_key = Some(ctx.paths.sandbox_key(&id));
    }
    let mut container = Container {
        id: id.clone(),
        name: req.name.clone().unwrap_or_else(ContainerName::random),
        created: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
        config,
        state,
    };
    // The directory and its lock come before the record: whoever sees the record (prune) finds the lock
    // held until the container is made, and with `run`, started. That is the directory its files go in
    // (see `runroot::lock_container`): for a container whose files are in its run directory, that one, and
    // its directory under the state root is made with its log, while its init sets itself up.
    let dir = if crate::etc::in_run_dir(&container.config.host, records == Records::AtStart) {
        ctx.paths.run_dir(&id)
    } else {
        ctx.paths.container_dir(&id)
    };
    fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
    // Until the record is written, a failure leaves nothing: the directory goes with it.
    let begun = (|| -> Result<_, EngineError> {
        let lock = runroot::ContainerLock(runroot::lock_dir(&dir)?);
        // Its network namespace is made on a thread of its own while the record and the files are
        // written (see `make_files`); should anything fail before, dropping it removes the namespace again.
        // On a network, the thread also opens a netlink socket in the namespace for the container's
        // ends of its veths: no thread has to enter it again for that.
        let on_network = is_bridge_mode(&container.config.host.network_mode);
        let adding = if own_netns {
            runroot::ready(ctx)?;
            Some(ctx.netns().begin_add_then(
                &NetnsName::new(id.as_str())?,
                Loopback::Up,
                move || Inside {
                    netlink: on_network.then(Netlink::open),
                },
            )?)
        } else {
            None
        };
        // The networks it joins, read (the store opened) while the thread makes the namespace.
        let networks = attach::plan(ctx, &container)?;
        Ok((lock, adding, networks))
    })();
    let (lock, adding, networks) = match begun {
        Ok(begun) => begun,
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    // `run` of a container whose start needs nothing from its record (no network to take addresses on,
    // no user namespace range, no volume, no host port): the record is written by its supervisor while
    // the runtime sets the container up (see `PendingRecord`).
    let h = &container.config.host;
    if records == Records::AtStart
        && networks.is_empty()
        && userns_size.is_none()
        && h.volumes.is_empty()
        && h.port_bindings.is_empty()
    {
        if let Err(e) = make_files(ctx, &container, adding, &[], Vec::new(), records) {
            // Nothing is recorded: what was made goes.
            let _ = remove::cleanup(ctx, &container);
            return Err(e);
        }
        log::debug!(
            "create {}: files and network namespace made",
            container.name
        );
        let pending = PendingRecord {
            named: req.name.is_some(),
        };
        return Ok((container, lock, Some(pending)));
    }
    // The record first: it is the commit point that makes the name taken (and the host ports).
    let mut volumes = volume::Made::default();
    let recorded = ctx.store().and_then(|mut st| {
        write_record(
            ctx,
            &mut st,
            &mut container,
            req.name.is_some(),
            userns_size,
            &networks,
            &mut volumes,
        )
    });
    let addresses = match recorded {
        Ok(addresses) => addresses,
        Err(e) => {
            drop(adding);
            volumes.forget();
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    log::debug!("create {}: recorded", container.name);
    crate::crash::after("create:record");
    if let Err(e) = make_files(ctx, &container, adding, &networks, addresses, records) {
        let _ = remove::remove_stopped(ctx, &container);
        return Err(e);
    }
    log::debug!(
        "create {}: record, files and network namespace made",
        container.name
    );
    Ok((container, lock, None))
}

/// Writes a new container's record, with what is taken in the same commit: its user namespace range
/// (`userns_size`), its volumes, host ports and addresses on `networks` (returned), and its `create`
/// event. A random name (not `named`) that collides gets a fresh one. The creation time the store
/// recorded is the container's from then on.
fn write_record(
    ctx: &Context,
    st: &mut minotaur_state::Store,
    container: &mut Container,
    named: bool,
    userns_size: Option<u32>,
    networks: &[(Network, NetworkRequest)],
    volumes: &mut volume::Made,
) -> Result<Vec<Addresses>, EngineError> {
    let mut attempt = 0;
    loop {
        let written = st.write(|tx| -> Result<(Vec<Addresses>, String), EngineError> {
            // The ID range is chosen in the transaction that records it: no other create can take it too.
            if let Some(size) = userns_size {
                container.config.host.userns = Some(userns::allocate(tx, &ctx.paths.subid, size)?);
            }
            let created = store::insert(tx, container)?;
            volume::attach(ctx, tx, &container.id, &container.config.host, volumes)?;
            ports::reserve(tx, container, &container.config.host.port_bindings)?;
            // Its addresses on its networks too: a write transaction fewer than taking them apart, and
            // an address that cannot be had fails the create before anything is made.
            let addresses = networks
                .iter()
                .map(|(net, req)| attach::take_addresses(tx, container, net, req))
                .collect::<Result<Vec<_>, _>>()?;
            // The event in the same commit: a create that fails later is removed, with its `destroy`.
            events::container_in(tx, "create", container, &[])?;
            Ok((addresses, created))
        });
        match written {
            Err(EngineError::Store(StoreError::State(StateError::NameInUse { .. })))
                if !named && attempt < 20 =>
            {
                attempt += 1;
                container.name = ContainerName::random_for(attempt);
            }
            Err(e) => return Err(e),
            Ok((addresses, created)) => {
                container.created = created;
                return Ok(addresses);
            }
        }
    }
}

/// The record of a container `run` made without one yet (see `create_with`): its supervisor writes it
/// while the runtime sets the container up, before the container's command may run. Until then a
/// failure takes apart what was made (`remove::cleanup`), as a failed create does.
pub(crate) struct PendingRecord {
    /// The name was asked for: a collision is an error, not a reason to draw another.
    named: bool,
}

impl PendingRecord {
    /// Writes the record (`c` gets the name it was recorded under and its creation time). Its network
    /// namespace is named for `ip netns` later, under that name ([`register_netns`]).
    pub(crate) fn write(self, ctx: &Context, c: &mut Container) -> Result<(), EngineError> {
        let mut volumes = volume::Made::default();
        write_record(
            ctx,
            &mut *ctx.store()?,
            c,
            self.named,
            None,
            &[],
            &mut volumes,
        )?;
        log::debug!("create {}: recorded", c.name);
        crate::crash::after("create:record");
        Ok(())
    }
}

/// Names the network namespace of a container `run` made ([`create_locked`]) for `ip netns`, once its
/// command runs and before its `run` returns: the supervisor has nothing else to do while the command
/// starts, where the name's directory and links in `/etc/netns` (a file system that may be slow to make
/// entries in) would have delayed the start. A name that cannot be given is a warning: the container
/// runs, and `nsenter --net=` its SandboxKey works.
pub(crate) fn register_netns(ctx: &Context, c: &Container) {
    if let Some(sandbox) = &c.state.sandbox_key {
        if let Err(e) = netns::register(&ctx.paths, &c.id, c.name.as_str(), sandbox) {
            log::warn!(
                "container {}: no ip netns name: {}",
                c.name,
                crate::error_chain(&e)
            );
        }
    }
}

/// The container's own network namespace being made, with what its thread makes besides.
type MakingNetns = Adding<Inside>;

/// What the thread that makes a container's network namespace makes besides.
struct Inside {
    /// On a network: a netlink socket opened in the namespace, for the container's ends of its veths.
    netlink: Option<Result<Netlink, NetlinkError>>,
}

/// The container's files, network namespace and endpoints. `adding`: its own network namespace, being
/// made: waited for before its endpoints are made in it, or (on no network) once the files are written.
/// `addresses`: those taken on each of `networks` with the record.
fn make_files(
    ctx: &Context,
    c: &Container,
    adding: Option<MakingNetns>,
    networks: &[(Network, NetworkRequest)],
    addresses: Vec<Addresses>,
    records: Records,
) -> Result<(), EngineError> {
    let dir = if crate::etc::in_run_dir(&c.config.host, records == Records::AtStart) {
        let run = ctx.paths.run_dir(&c.id);
        fs::create_dir_all(&run).map_err(io_err(format!("create {}", run.display())))?;
        run
    } else {
        ctx.paths.container_dir(&c.id)
    };
    let own_netns = adding.is_some();
    let mut adding = adding;
    let mut endpoints = Vec::new();
    if own_netns && !networks.is_empty() {
        let mut inside = match adding.take() {
            Some(a) => netns_made(c, a)?
                .netlink
                .transpose()
                .map_err(NetworkError::from)?,
            None => None,
        };
        for (i, ((net, req), addrs)) in networks.iter().zip(addresses).enumerate() {
            endpoints.push(attach::join(ctx, c, net, req, i, addrs, inside.as_mut())?);
        }
        crate::crash::after("create:endpoints");
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
    if let Some(a) = adding.take() {
        netns_made(c, a)?;
    }
    // A container `run` makes is named for `ip netns` once its command runs (see `register_netns`).
    if own_netns && records == Records::Now {
        netns::register(
            &ctx.paths,
            &c.id,
            c.name.as_str(),
            &ctx.paths.sandbox_key(&c.id),
        )?;
    }
    log::debug!("create {}: files written", c.name);
    crate::crash::after("create:files");
    if !networks.is_empty() {
        ports::publish(ctx, c)?;
        if records == Records::Now {
            dns::update(ctx, &c.id)?;
        }
    }
    Ok(())
}

/// Waits for the container's network namespace (its `lo` up) to be made; returns what its thread
/// opened in it.
fn netns_made<T>(c: &Container, adding: Adding<T>) -> Result<T, EngineError> {
    let inside = adding.wait()?;
    log::debug!("create {}: network namespace made", c.name);
    crate::crash::after("create:netns");
    Ok(inside)
}

fn resolve_config(ctx: &Context, req: &CreateRequest) -> Result<Config, EngineError> {
    let (image_id, img, img_health) = resolve_image(ctx, &req.image)?;
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
        if host.publish_all && is_bridge_mode(&host.network_mode) && !published {
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
        // As Docker: the flags' fields over the image's.
        healthcheck: match (req.healthcheck.clone(), img_health) {
            (Some(mine), img) => Some(mine.over(img.as_ref())),
            (None, img) => img,
        },
        readiness: req.readiness.clone(),
        startup: req.startup.clone(),
        host,
    };
    // Unknown capability names are bad input to create, as with Docker, not a failure at start.
    spec::capabilities(&config)?;
    Ok(config)
}

/// An image named on the command line: its ID, its configuration and its healthcheck (none for the
/// built-in `host` image). The one place a create looks for an image, so the one place an image not yet
/// stored can be pulled.
fn resolve_image(
    ctx: &Context,
    name: &str,
) -> Result<(String, Option<ImageConfig>, Option<Healthcheck>), EngineError> {
    if name == HOST_IMAGE {
        return Ok(("host".to_owned(), None, None));
    }
    let images = minotaur_image::Store::open(&ctx.paths.root)?;
    let id = images.resolve(name)?;
    let cfg = images.config(&id)?;
    // Docker keeps HEALTHCHECK in the config document, where the OCI image spec has no field for it.
    let health = images
        .config_document(&id)?
        .as_ref()
        .and_then(crate::healthcheck::from_image_config);
    Ok((id.to_string(), cfg.config().clone(), health))
}

/// Checks what a container mounts before anything of it is recorded: every bind's source exists, and no
/// two mounts share a path.
fn check_mounts(config: &Config) -> Result<(), EngineError> {
    for b in &config.host.binds {
        if !b.source.exists() {
            return Err(EngineError::NoBindSource(b.source.clone()));
        }
    }
    volume::check_mount_points(&config.host)?;
    Ok(())
}
