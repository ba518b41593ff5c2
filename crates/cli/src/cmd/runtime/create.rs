use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::Context;
use minotaur_runtime::cgroup::systemd::{Scope, Systemd};
use minotaur_runtime::state::{proc_start_time, Container, Record, Root, Status};
use minotaur_runtime::{CreateOptions, Started};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;

/// Create a container from a bundle; it waits for `start` to run its process
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CreateArgs,
}

/// The flags `create` and `run` share.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The bundle directory (holding config.json); the current directory by default
    #[arg(short, long)]
    pub bundle: Option<PathBuf>,

    /// Write the container's PID to this file
    #[arg(long)]
    pub pid_file: Option<PathBuf>,

    /// A Unix socket to send the master of the container's terminal to (SCM_RIGHTS)
    #[arg(long)]
    pub console_socket: Option<PathBuf>,

    /// Accepted for compatibility; pivot_root is always used
    #[arg(long)]
    pub no_pivot: bool,

    /// Accepted for compatibility; no session keyring is made
    #[arg(long)]
    pub no_new_keyring: bool,

    /// Pass this many descriptors after stdio (3 and up) to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,

    /// The container's ID
    pub id: String,
}

pub fn run(root: &Root, args: Args, systemd: bool) -> anyhow::Result<u8> {
    let (container, started, _) = create(root, &args.common, systemd)?;
    drop(container);
    drop(started);
    Ok(0)
}

/// Creates the container and records it; its init waits on the start FIFO. Returns the record, the init
/// (this process is its parent until it exits) and its spec. With `systemd`, its cgroup is a transient scope
/// systemd makes (see [`systemd_scope`]).
pub fn create(
    root: &Root,
    args: &CreateArgs,
    systemd: bool,
) -> anyhow::Result<(Container, Started, Spec)> {
    let bundle = match &args.bundle {
        Some(b) => b.clone(),
        None => std::env::current_dir().context("current directory")?,
    };
    let bundle = bundle
        .canonicalize()
        .with_context(|| format!("bundle {}", bundle.display()))?;
    let mut spec = super::load_spec(&bundle)?;
    let listen_fds = listen_fds(&mut spec);
    let scope = if systemd {
        Some(systemd_scope(&spec, &args.id)?)
    } else {
        None
    };
    let dir = root.reserve(&args.id)?;
    match create_in(root, &dir, &bundle, &spec, args, listen_fds, scope) {
        Ok((c, s)) => Ok((c, s, spec)),
        Err(e) => {
            root.release(&args.id);
            Err(e)
        }
    }
}

/// The container's scope with `--systemd-cgroup`: `linux.cgroupsPath` in systemd's `SLICE:PREFIX:NAME` form,
/// or `system.slice:minotaur:ID` without one (runc's default, with our prefix). Refused where systemd does
/// not run, and for a directory path (which runc refuses too).
fn systemd_scope(spec: &Spec, id: &str) -> anyhow::Result<Scope> {
    if let Some(why) = super::systemd_refusal(Path::new("/")) {
        anyhow::bail!(why);
    }
    let path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| format!("system.slice:minotaur:{id}"));
    Ok(Scope::parse(&path)?)
}

/// Socket activation (sd_listen_fds(3)): with `LISTEN_FDS=N` in the runtime's environment, descriptors 3 to
/// 3+N-1 go to the container's process too, which is told so by `LISTEN_FDS=N` and `LISTEN_PID=1` in its
/// environment (as runc does). Returns N (0 without it).
fn listen_fds(spec: &mut Spec) -> u32 {
    let Some(n) = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| *n > 0)
    else {
        return 0;
    };
    if let Some(process) = spec.process_mut() {
        let mut env: Vec<String> = process
            .env()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|kv| !kv.starts_with("LISTEN_FDS=") && !kv.starts_with("LISTEN_PID="))
            .collect();
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".to_owned());
        process.set_env(Some(env));
    }
    n
}

fn create_in(
    root: &Root,
    dir: &Path,
    bundle: &Path,
    spec: &Spec,
    args: &CreateArgs,
    listen_fds: u32,
    scope: Option<Scope>,
) -> anyhow::Result<(Container, Started)> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && args.console_socket.is_none() {
        anyhow::bail!(
            "the spec asks for a terminal (process.terminal) but no --console-socket was given"
        );
    }
    let fifo = dir.join("exec.fifo");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600))
        .with_context(|| format!("mkfifo {}", fifo.display()))?;
    let root_path = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_default();
    // What the startContainer hooks are told; the init fills in its PID and the status.
    let hook_state = minotaur_runtime::state::State {
        oci_version: oci_spec::runtime::VERSION.to_owned(),
        id: args.id.clone(),
        status: Status::Created,
        pid: 0,
        bundle: bundle.to_owned(),
        rootfs: bundle.join(&root_path),
        created: jiff::Timestamp::now().to_string(),
        owner: owner_name(),
        annotations: spec.annotations().clone().unwrap_or_default(),
    };
    // prestart and createRuntime hooks run once the init has made the mounts, before it enters its root
    // and runs the createContainer hooks (the runtime spec's order), with the state as runc gives it.
    let hooks = spec.hooks().clone().unwrap_or_default();
    #[allow(deprecated)]
    let prestart = hooks.prestart().clone().unwrap_or_default();
    let create_runtime = hooks.create_runtime().clone().unwrap_or_default();
    let runtime_hooks = |pid: nix::unistd::Pid| {
        let mut state = hook_state.clone();
        state.pid = pid.as_raw();
        minotaur_runtime::hooks::run("prestart", &prestart, &state)?;
        minotaur_runtime::hooks::run("createRuntime", &create_runtime, &state)
    };
    let before_pivot = (!prestart.is_empty() || !create_runtime.is_empty())
        .then_some(minotaur_runtime::BeforePivot(&runtime_hooks));
    let opts = CreateOptions {
        start_fifo: Some(fifo),
        preserve_fds: args.preserve_fds + listen_fds,
        root_in_place: true,
        hook_state: Some(hook_state.clone()),
        before_pivot,
        systemd_scope: scope.clone(),
        ..CreateOptions::default()
    };
    let mut created = minotaur_runtime::create(spec, bundle, &opts)?;
    let console: Option<OwnedFd> = created.take_console();
    let shared = shared_root(spec, &created);
    let started = created.detach()?;
    let kill = |started: &Started| {
        let _ = nix::sys::signal::kill(started.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(started.pid, None);
    };
    let result = (|| {
        if let (Some(master), Some(path)) = (console, &args.console_socket) {
            minotaur_runtime::console::send(path, master)?;
        }
        let pid = started.pid.as_raw();
        let start_time = proc_start_time(pid)
            .map(|(t, _)| t)
            .context("read the container init's start time")?;
        let root_path = spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_default();
        let record = Record {
            id: args.id.clone(),
            pid,
            start_time,
            bundle: bundle.to_owned(),
            rootfs: bundle.join(root_path),
            created: jiff::Timestamp::now().to_string(),
            owner: owner_name(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            cgroup: match &scope {
                Some(s) => Some(s.cgroup.clone()),
                None => spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()),
            },
            systemd_unit: scope.as_ref().map(|s| s.unit.clone()),
            shared_root: shared.clone(),
        };
        let container = root.save(record)?;
        if let Some(path) = &args.pid_file {
            super::write_pid_file(path, pid)?;
        }
        Ok(container)
    })();
    match result {
        Ok(c) => Ok((c, started)),
        Err(e) => {
            kill(&started);
            if let Some(root) = &shared {
                let _ = minotaur_runtime::shared_mounts::release(root);
            }
            if let Some(s) = &scope {
                let _ = Systemd::connect().and_then(|sd| sd.stop(&s.unit));
            }
            if let Some(cg) = started.cgroup {
                let _ = cg.remove();
            }
            Err(e)
        }
    }
}

/// Without a mount namespace of its own, the root the init made in the namespace it shares, for `delete` to
/// detach.
fn shared_root(
    spec: &Spec,
    created: &minotaur_runtime::Created,
) -> Option<minotaur_runtime::shared_mounts::SharedRoot> {
    let (mount_id, mount_point) = created.shared_root()?;
    let namespace = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|nss| {
            nss.iter()
                .find(|ns| ns.typ() == oci_spec::runtime::LinuxNamespaceType::Mount)
        })
        .and_then(|ns| ns.path().clone());
    Some(minotaur_runtime::shared_mounts::SharedRoot {
        mount_id,
        mount_point: mount_point.to_owned(),
        namespace,
    })
}

/// The name of the user running the runtime (its UID when it has none), as runc records the owner.
fn owner_name() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| nix::unistd::geteuid().to_string())
}
