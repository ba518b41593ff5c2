use std::collections::BTreeMap;
use std::io::Write;

use crate::global::context;
use anyhow::Context as _;
use minotaur_engine::container::{HostConfig, Seccomp};
use minotaur_engine::context::Context;
use minotaur_engine::create::{self, CreateRequest};
use minotaur_engine::image::pull::{self as image_pull, PullOptions, PullPolicy};
use minotaur_engine::parse;

use crate::error::{CliError, CliResult};
use crate::global::Global;

/// Create a new container (without starting it)
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    #[command(flatten)]
    pub flags: Flags,
}

/// The flags `create` and `run` share, Docker's names.
#[derive(Debug, clap::Args)]
pub struct Flags {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,

    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,

    /// Pull the image first: missing (when it is not in the store), always, or never
    #[arg(long, default_value = "missing", value_name = "POLICY")]
    pub pull: PullPolicy,

    /// Container host name (default: the first 12 characters of its ID)
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,

    /// Set environment variables (NAME=VALUE, or NAME to take it from this environment)
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,

    /// Read environment variables from a file
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,

    /// Mount a volume or a host path: VOLUME:CONTAINER-PATH[:ro] (made on first use, filled from the
    /// image when new), HOST-PATH:CONTAINER-PATH[:ro], or CONTAINER-PATH (an anonymous volume)
    #[arg(short = 'v', long = "volume", value_name = "[SOURCE:]CONTAINER[:ro]")]
    pub volume: Vec<String>,

    /// Mount a bind, volume or tmpfs: type=bind|volume|tmpfs,source=…,target=…[,readonly]
    /// [,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…]
    #[arg(long, value_name = "type=…,source=…,target=…")]
    pub mount: Vec<String>,

    /// Mount a tmpfs: CONTAINER-PATH[:OPTIONS]
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    pub tmpfs: Vec<String>,

    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,

    /// User and group: NAME|UID[:GROUP|GID], resolved in the image's /etc/passwd and /etc/group
    #[arg(short = 'u', long)]
    pub user: Option<String>,

    /// Overwrite the image's entrypoint
    #[arg(long)]
    pub entrypoint: Option<String>,

    /// Mount the container's root filesystem read-only
    #[arg(long)]
    pub read_only: bool,

    /// Add Linux capabilities (NET_ADMIN, ALL, …)
    #[arg(long)]
    pub cap_add: Vec<String>,

    /// Drop Linux capabilities
    #[arg(long)]
    pub cap_drop: Vec<String>,

    /// Give every capability, no seccomp filter, no masked paths, writable /sys
    #[arg(long)]
    pub privileged: bool,

    /// Security options: seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges
    #[arg(long, value_name = "OPTION")]
    pub security_opt: Vec<String>,

    /// Log driver options of json-file: max-size=SIZE (e.g. 10m), max-file=N
    #[arg(long, value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,

    /// A resource limit of the container's processes, NAME=SOFT[:HARD] (e.g. nofile=4096); repeatable
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,

    /// Memory limit (e.g. 512m)
    #[arg(short = 'm', long)]
    pub memory: Option<String>,

    /// Memory plus swap limit; -1 for unlimited swap
    #[arg(long)]
    pub memory_swap: Option<String>,

    /// Number of CPUs (e.g. 1.5)
    #[arg(long)]
    pub cpus: Option<String>,

    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,

    /// Limit the number of processes (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,

    /// PID namespace: host, or container:NAME
    #[arg(long)]
    pub pid: Option<String>,

    /// IPC namespace: host, or container:NAME
    #[arg(long)]
    pub ipc: Option<String>,

    /// UTS namespace: host, or container:NAME
    #[arg(long)]
    pub uts: Option<String>,

    /// User namespace: host (the default), or auto[:size=N] for one of its own mapping the container's IDs
    /// 0..N (65536) onto a free range of the `containers` user's in /etc/subuid and /etc/subgid
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,

    /// Network: bridge (the default), a network's name, none, host, or container:NAME; repeat to join several
    #[arg(long, visible_alias = "net", value_name = "NETWORK")]
    pub network: Vec<String>,

    /// IPv4 address on the (first) network
    #[arg(long)]
    pub ip: Option<std::net::Ipv4Addr>,

    /// IPv6 address on the (first) network
    #[arg(long)]
    pub ip6: Option<std::net::Ipv6Addr>,

    /// Another name for the container on its (first) network
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,

    /// MAC address of the container's (first) interface
    #[arg(long)]
    pub mac_address: Option<String>,

    /// DNS server for the container (instead of the network's resolver)
    #[arg(long, value_name = "IP")]
    pub dns: Vec<std::net::IpAddr>,

    /// DNS search domain
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,

    /// DNS resolver option (resolv.conf's options)
    #[arg(long, value_name = "OPTION")]
    pub dns_option: Vec<String>,

    /// Add a line to /etc/hosts: NAME:IP
    #[arg(long, value_name = "NAME:IP")]
    pub add_host: Vec<String>,

    /// Publish a container's port: [IP:][HOST:]CONTAINER[/tcp|udp], ranges allowed
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,

    /// Publish every exposed port to a free host port
    #[arg(short = 'P', long)]
    pub publish_all: bool,

    /// Expose a port or range: PORT[-PORT][/tcp|udp]
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,

    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,

    /// Seconds to wait for the stop signal before killing
    #[arg(long)]
    pub stop_timeout: Option<u32>,

    /// Set metadata: KEY=VALUE
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,

    /// Run an init as PID 1 that forwards signals and reaps zombies; the command runs as its child
    #[arg(long)]
    pub init: bool,

    /// Keep standard input open
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Allocate a terminal
    #[arg(short = 't', long)]
    pub tty: bool,

    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,

    #[command(flatten)]
    pub lifecycle: crate::cmd::lifecycle::LifecycleFlags,

    /// The image (`host` for the host's own filesystem, read-only), then the command and its arguments
    // One positional whose values after the first are all trailing: everything after the image belongs to
    // the command, flags too, as with Docker (in `run host sh -c …`, `-c` is not `--cpu-shares`).
    #[arg(
        value_names = ["IMAGE", "COMMAND"],
        num_args = 1..,
        required = true,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

impl Flags {
    /// The image named on the command line.
    pub fn image(&self) -> &str {
        &self.image_and_command[0]
    }

    /// The command given after the image (empty: the image's).
    pub fn command(&self) -> &[String] {
        &self.image_and_command[1..]
    }

    /// Resolves the flags into what the engine consumes; every bad value is an error naming it.
    pub fn request(&self) -> anyhow::Result<CreateRequest> {
        let lookup = |k: &str| std::env::var(k).ok();
        let mut env = Vec::new();
        for f in &self.env_file {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read env file {}", f.display()))?;
            env.extend(parse::env_file(&text, lookup)?);
        }
        for e in &self.env {
            env.extend(parse::env(e, lookup)?);
        }
        let mut host = HostConfig {
            read_only: self.read_only,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            memory: self.memory.as_deref().map(parse::size).transpose()?,
            memory_swap: match self.memory_swap.as_deref() {
                Some("-1") => Some(-1),
                Some(s) => Some(parse::size(s)? as i64),
                None => None,
            },
            nano_cpus: self.cpus.as_deref().map(parse::nano_cpus).transpose()?,
            cpu_shares: self.cpu_shares,
            pids_limit: self.pids_limit,
            pid_mode: self
                .pid
                .as_deref()
                .map(|s| parse::ns_mode("pid", s))
                .transpose()?,
            ipc_mode: self
                .ipc
                .as_deref()
                .map(|s| parse::ns_mode("ipc", s))
                .transpose()?,
            uts_mode: self
                .uts
                .as_deref()
                .map(|s| parse::ns_mode("uts", s))
                .transpose()?,
            network_mode: match self.network.first().map(String::as_str) {
                None | Some("default") => minotaur_engine::network::DEFAULT_NETWORK.into(),
                Some(n) => n.to_owned(),
            },
            auto_remove: self.rm,
            init: self.init,
            userns_mode: self.userns.clone().unwrap_or_default(),
            ..Default::default()
        };
        let requests = self
            .volume
            .iter()
            .map(|v| parse::volume(v))
            .chain(self.mount.iter().map(|m| parse::mount(m)));
        for r in requests {
            match r? {
                parse::MountRequest::Bind(b) => host.binds.push(b),
                parse::MountRequest::Volume(v) => host.volumes.push(v),
                parse::MountRequest::Tmpfs(p, o) => {
                    host.tmpfs.insert(p, o);
                }
            }
        }
        for t in &self.tmpfs {
            let (p, o) = parse::tmpfs(t)?;
            host.tmpfs.insert(p, o);
        }
        for p in &self.publish {
            host.port_bindings.extend(parse::ports(p)?);
        }
        for e in &self.expose {
            for p in parse::ports(e)? {
                if p.host_port.is_some() || p.host_ip.is_some() {
                    anyhow::bail!("invalid --expose {e:?}: expected PORT[-PORT][/tcp|udp]");
                }
                host.exposed.push((p.container_port, p.proto));
            }
        }
        host.publish_all = self.publish_all;
        if self.publish_all {
            let published: Vec<_> = host
                .port_bindings
                .iter()
                .map(|p| (p.container_port, p.proto))
                .collect();
            for &(port, proto) in &host.exposed {
                if !published.contains(&(port, proto)) {
                    host.port_bindings.push(parse::PortMapping {
                        host_ip: None,
                        host_port: None,
                        container_port: port,
                        proto,
                    });
                }
            }
        }
        let mode = host.network_mode.clone();
        let bridged = minotaur_engine::network::is_bridge_mode(&mode);
        if !host.port_bindings.is_empty() && !bridged {
            anyhow::bail!(
                "cannot publish ports with --network {mode}: publishing needs a bridge network"
            );
        }
        if self.network.len() > 1 && !bridged {
            anyhow::bail!("--network {mode} cannot be combined with other networks");
        }
        let first_only = self.ip.is_some()
            || self.ip6.is_some()
            || !self.network_alias.is_empty()
            || self.mac_address.is_some();
        if first_only && !bridged {
            anyhow::bail!(
                "--ip, --ip6, --network-alias and --mac-address need a bridge network, not --network {mode}"
            );
        }
        if let Some(m) = &self.mac_address {
            if minotaur_engine::network::parse_mac(m).is_none() {
                anyhow::bail!(
                    "invalid --mac-address {m:?}: expected 6 hex bytes like 02:42:ac:11:00:02"
                );
            }
        }
        if bridged {
            let names: Vec<String> = if self.network.is_empty() {
                vec![mode.clone()]
            } else {
                self.network.clone()
            };
            for (i, n) in names.iter().enumerate() {
                if !minotaur_engine::network::is_bridge_mode(n) {
                    anyhow::bail!("--network {n} cannot be combined with other networks");
                }
                let mut r = minotaur_engine::container::NetworkRequest {
                    network: if n == "default" {
                        "bridge".into()
                    } else {
                        n.clone()
                    },
                    ..Default::default()
                };
                if i == 0 {
                    r.ipv4 = self.ip;
                    r.ipv6 = self.ip6;
                    r.aliases = self.network_alias.clone();
                    r.mac = self.mac_address.clone();
                }
                host.networks.push(r);
            }
        }
        host.dns = self.dns.clone();
        host.dns_search = self.dns_search.clone();
        host.dns_options = self.dns_option.clone();
        for h in &self.add_host {
            let (name, ip) = h
                .split_once(':')
                .filter(|(n, _)| !n.is_empty())
                .and_then(|(n, ip)| Some((n.to_owned(), ip.trim_matches(['[', ']']).parse().ok()?)))
                .ok_or_else(|| anyhow::anyhow!("invalid --add-host {h:?}: expected NAME:IP"))?;
            host.extra_hosts.push((name, ip));
        }
        for opt in &self.security_opt {
            match opt.split_once(['=', ':']) {
                Some(("seccomp", "unconfined")) => host.seccomp = Seccomp::Unconfined,
                Some(("seccomp", file)) => {
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read seccomp profile {file}"))?;
                    serde_json::from_str::<serde_json::Value>(&text)
                        .with_context(|| format!("invalid seccomp profile {file}"))?;
                    host.seccomp = Seccomp::Profile(text);
                }
                None if opt == "no-new-privileges" => host.no_new_privileges = true,
                Some(("no-new-privileges", v)) => host.no_new_privileges = v == "true",
                _ => anyhow::bail!(
                    "invalid --security-opt {opt:?}: expected seccomp=unconfined, seccomp=FILE or no-new-privileges"
                ),
            }
        }
        for opt in &self.log_opt {
            let (k, v) = parse::log_opt(opt)?;
            host.log_opts.insert(k, v);
        }
        for u in &self.ulimit {
            let u = parse::ulimit(u)?;
            // A name given twice: the last one counts, as with Docker.
            host.ulimits.retain(|have| have.name != u.name);
            host.ulimits.push(u);
        }
        let mut labels = BTreeMap::new();
        for l in &self.label {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            if k.is_empty() {
                anyhow::bail!("invalid label {l:?}: expected KEY=VALUE");
            }
            labels.insert(k.to_owned(), v.to_owned());
        }
        if let Some(w) = self.workdir.as_deref().filter(|w| !w.starts_with('/')) {
            anyhow::bail!("invalid working directory {w:?}: it must be an absolute path");
        }
        if let Some(s) = &self.stop_signal {
            minotaur_engine::stop::parse_signal(s)?;
        }
        let mut req = CreateRequest {
            name: self.name.as_deref().map(str::parse).transpose()?,
            image: self.image().to_owned(),
            cmd: self.command().to_vec(),
            entrypoint: self.entrypoint.as_ref().map(|e| {
                if e.is_empty() {
                    Vec::new()
                } else {
                    vec![e.clone()]
                }
            }),
            env,
            hostname: self.hostname.clone(),
            user: self.user.clone(),
            working_dir: self.workdir.clone(),
            tty: self.tty,
            open_stdin: self.interactive,
            labels,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            healthcheck: None,
            readiness: None,
            startup: None,
            host,
        };
        self.lifecycle.apply(&mut req)?;
        Ok(req)
    }
}

/// Runs `act` on each named container as Docker's multi-container verbs do: print what it returns, report a
/// failure on stderr and go on with the others; exit 1 if any failed.
pub fn each<T: std::fmt::Display, E: Into<anyhow::Error>>(
    containers: &[String],
    mut act: impl FnMut(&str) -> Result<T, E>,
) -> CliResult {
    let mut status = 0;
    for c in containers {
        match act(c) {
            Ok(line) => writeln!(std::io::stdout(), "{line}")?,
            Err(e) => {
                eprintln!("minotaur: {:#}", e.into());
                status = 1;
            }
        }
    }
    Ok(status)
}

/// Pulls the image of a `create` or `run` as `--pull` says, showing progress on stderr. A missing image that
/// is not pulled, or a pull that fails, fails the command with Docker's status 125.
pub fn pull_image(global: &Global, ctx: &Context, flags: &Flags) -> Result<(), CliError> {
    let reporter =
        crate::progress::reporter(crate::progress::Mode::Auto, crate::progress::Stream::Stderr);
    image_pull::ensure(
        ctx,
        &global.registry(),
        flags.image(),
        flags.pull,
        &PullOptions::default(),
        reporter.as_ref(),
    )
    .map_err(|e| CliError::with_code(125, e))
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let req = args
        .flags
        .request()
        .map_err(|e| CliError::with_code(125, e))?;
    let ctx = context(global);
    pull_image(global, &ctx, &args.flags)?;
    let c = create::create(&ctx, req).map_err(|e| CliError::with_code(e.exit_code() as u8, e))?;
    writeln!(std::io::stdout(), "{}", c.id)?;
    Ok(0)
}
