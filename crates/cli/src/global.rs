//! minotaur's own options, given before the subcommand, and the engine's context they name.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, ValueEnum};
use minotaur_engine::context::Context;
use minotaur_engine::paths::Paths;

/// Options of minotaur itself, given before the subcommand (`minotaur --root DIR ps`). They are not global
/// flags, so that subcommands keep the flag names of the tools they replace (nsenter's `--root`).
#[derive(Debug, Args)]
pub struct Global {
    /// Directory for persistent state (containers, images, networks)
    #[arg(
        long,
        env = "MINOTAUR_ROOT",
        default_value = "/var/lib/minotaur",
        value_name = "DIR"
    )]
    pub root: PathBuf,

    /// Directory for runtime files that do not survive a reboot
    #[arg(
        long,
        env = "MINOTAUR_RUNROOT",
        default_value = "/run/minotaur",
        value_name = "DIR"
    )]
    pub runroot: PathBuf,

    /// The cgroup (relative to the cgroup root) under which containers get their cgroups
    #[arg(
        long,
        env = "MINOTAUR_CGROUP_PARENT",
        default_value = "minotaur",
        value_name = "PATH"
    )]
    pub cgroup_parent: PathBuf,

    /// The cgroup v2 directory whose processes connect straight to containers when they connect to a
    /// published port on 127.0.0.0/8 (a connect4 program; the DNAT stays for everything else): "auto" is
    /// the root of the cgroup2 mount, "none" turns it off
    #[arg(
        long,
        env = "MINOTAUR_CONNECT_CGROUP",
        default_value = "auto",
        value_name = "DIR"
    )]
    pub connect_cgroup: String,

    /// The registries.conf to read (mirrors, locations, insecure and blocked registries) instead of
    /// /etc/minotaur/registries.conf or /etc/containers/registries.conf
    #[arg(long, env = "MINOTAUR_REGISTRIES_CONF", value_name = "FILE")]
    pub registries_conf: Option<PathBuf>,

    /// The certs.d directories (HOST:PORT/ca.crt, client.cert, client.key) to read instead of
    /// /etc/containers/certs.d and /etc/docker/certs.d; several are separated by ':'
    #[arg(
        long = "certs-d",
        env = "MINOTAUR_CERTS_D",
        value_name = "DIR",
        value_delimiter = ':'
    )]
    pub certs_d: Vec<PathBuf>,

    /// How many layers a pull downloads at once
    #[arg(
        long,
        env = "MINOTAUR_MAX_CONCURRENT_DOWNLOADS",
        default_value_t = minotaur_engine::image::MAX_CONCURRENT_DOWNLOADS,
        value_parser = clap::value_parser!(u16).range(1..).map(usize::from),
        value_name = "N"
    )]
    pub max_concurrent_downloads: usize,

    /// A push uploads a blob bigger than this many bytes in chunks of this size, each resumable on its own
    #[arg(
        long,
        env = "MINOTAUR_PUSH_CHUNK_SIZE",
        default_value_t = minotaur_engine::image::PUSH_CHUNK_SIZE,
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "BYTES"
    )]
    pub push_chunk_size: u64,

    /// The subordinate user IDs `--userns=auto` takes ranges from (the `containers` user's)
    #[arg(
        long,
        env = "MINOTAUR_SUBUID",
        default_value = "/etc/subuid",
        value_name = "FILE"
    )]
    pub subuid: PathBuf,

    /// The subordinate group IDs `--userns=auto` takes ranges from (the `containers` user's)
    #[arg(
        long,
        env = "MINOTAUR_SUBGID",
        default_value = "/etc/subgid",
        value_name = "FILE"
    )]
    pub subgid: PathBuf,

    /// How much to log on standard error
    #[arg(
        long,
        env = "MINOTAUR_LOG_LEVEL",
        default_value = "warn",
        value_name = "LEVEL"
    )]
    pub log_level: LogLevel,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Global {
    /// Where registries are configured, and how pulls download.
    pub fn registry(&self) -> minotaur_engine::image::RegistryOptions {
        minotaur_engine::image::RegistryOptions {
            registries_conf: self.registries_conf.clone(),
            certs_dirs: self.certs_d.clone(),
            max_concurrent_downloads: self.max_concurrent_downloads,
            push_chunk_size: self.push_chunk_size,
        }
    }

    pub fn init_logging(&self) {
        let level = match self.log_level {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        };
        let start = std::time::Instant::now();
        env_logger::Builder::new()
            .filter_level(level)
            .format(move |buf, record| {
                use std::io::Write;
                let level = record.level().as_str().to_lowercase();
                if record.level() >= log::Level::Debug {
                    // Debug lines carry the time since start, to see where a command spends it.
                    let us = start.elapsed().as_micros();
                    writeln!(buf, "minotaur: {level}: +{us}us {}", record.args())
                } else {
                    writeln!(buf, "minotaur: {level}: {}", record.args())
                }
            })
            .init();
    }
}

/// The engine's context over the directories the global options name.
pub fn context(global: &Global) -> Context {
    let mut paths = Paths::new(&global.root, &global.runroot);
    paths.cgroup_parent = global.cgroup_parent.clone();
    paths.connect_cgroup = match global.connect_cgroup.as_str() {
        "none" => None,
        "auto" => minotaur_engine::cgroup2_root(),
        dir => Some(dir.into()),
    };
    paths.subid = minotaur_engine::paths::SubidFiles {
        subuid: global.subuid.clone(),
        subgid: global.subgid.clone(),
    };
    Context::new(paths)
}
