use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use minotaur_engine::container::{HostConfig, Seccomp};
use minotaur_engine::lifecycle::{CreateRequest, Engine};
use minotaur_engine::parse;
use minotaur_engine::paths::Paths;

use crate::cli::Global;
use crate::error::{CliError, CliResult};

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

    /// Container host name (default: the first 12 characters of its ID)
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,

    /// Set environment variables (NAME=VALUE, or NAME to take it from this environment)
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,

    /// Read environment variables from a file
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,

    /// Bind mount a host path: HOST-PATH:CONTAINER-PATH[:ro]
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    pub volume: Vec<String>,

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

    /// Network: none, host, or container:NAME
    #[arg(long, visible_alias = "net", default_value = "none")]
    pub network: String,

    /// Publish a container's port: [IP:][HOST:]CONTAINER[/tcp|udp]
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,

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
            network_mode: if self.network == "default" {
                "none".into()
            } else {
                self.network.clone()
            },
            auto_remove: self.rm,
            init: self.init,
            ..Default::default()
        };
        for v in &self.volume {
            host.binds.push(parse::volume(v)?);
        }
        for t in &self.tmpfs {
            let (p, o) = parse::tmpfs(t)?;
            host.tmpfs.insert(p, o);
        }
        for p in &self.publish {
            host.port_bindings.extend(parse::ports(p)?);
        }
        if !host.port_bindings.is_empty() {
            anyhow::bail!(
                "cannot publish ports with --network {}: publishing needs a bridge network",
                host.network_mode
            );
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
            minotaur_engine::lifecycle::parse_signal(s)?;
        }
        Ok(CreateRequest {
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
            host,
        })
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

/// The engine over the directories the global options name.
pub fn engine(global: &Global) -> Engine {
    let mut paths = Paths::new(&global.root, &global.runroot);
    paths.cgroup_parent = global.cgroup_parent.clone();
    Engine::new(paths)
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let req = args
        .flags
        .request()
        .map_err(|e| CliError::with_code(125, e))?;
    let c = engine(global)
        .create(req)
        .map_err(|e| CliError::with_code(e.exit_code() as u8, e))?;
    writeln!(std::io::stdout(), "{}", c.id)?;
    Ok(0)
}
