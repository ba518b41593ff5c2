use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::Context;
use minotaur_runtime::state::{Root, Status};
use minotaur_runtime::ExecOptions;
use oci_spec::runtime::Process;

/// Run a process in a running container
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON file holding the process (the runtime spec's `process`); the command line's command otherwise
    #[arg(short, long)]
    process: Option<PathBuf>,

    /// Give the process a terminal (its master goes to --console-socket)
    #[arg(short, long)]
    tty: bool,

    /// Return once the process runs
    #[arg(short, long)]
    detach: bool,

    /// Write the process's PID to this file
    #[arg(long)]
    pid_file: Option<PathBuf>,

    /// A Unix socket to send the master of the process's terminal to (SCM_RIGHTS)
    #[arg(long)]
    console_socket: Option<PathBuf>,

    /// The working directory
    #[arg(long)]
    cwd: Option<PathBuf>,

    /// An environment variable, KEY=VALUE
    #[arg(short, long)]
    env: Vec<String>,

    /// Accepted for compatibility
    #[arg(long)]
    preserve_fds: Option<u32>,

    /// The container's ID
    id: String,

    /// The command and its arguments (without --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let c = root.load(&args.id)?;
    if c.status() != Status::Running {
        anyhow::bail!("container {} is {}, not running", c.record.id, c.status());
    }
    let mut spec = super::container_spec(&c)?;
    let mut process: Process = match &args.process {
        Some(path) => {
            let f =
                std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
            serde_json::from_reader(f).with_context(|| format!("parse {}", path.display()))?
        }
        None => {
            if args.command.is_empty() {
                anyhow::bail!("no command: give one, or --process FILE");
            }
            let mut p = spec.process().clone().unwrap_or_default();
            p.set_args(Some(args.command.clone()));
            p.set_terminal(Some(args.tty));
            p
        }
    };
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    if !args.env.is_empty() {
        let mut env = process.env().clone().unwrap_or_default();
        env.extend(args.env.iter().cloned());
        process.set_env(Some(env));
    }
    let terminal = process.terminal() == Some(true);
    if terminal && args.console_socket.is_none() {
        anyhow::bail!("a terminal needs --console-socket");
    }
    // With the systemd driver the spec's cgroupsPath is SLICE:PREFIX:NAME; the process joins the scope's
    // cgroup, which the record keeps.
    if c.record.systemd_unit.is_some() {
        if let Some(linux) = spec.linux_mut() {
            linux.set_cgroups_path(c.record.cgroup.clone());
        }
    }
    let pidfd = minotaur_runtime::state::open_pidfd(&c)?;
    let mut exec = minotaur_runtime::exec(&spec, pidfd.as_fd(), &process, &ExecOptions::default())?;
    if let (Some(master), Some(path)) = (exec.console.take(), &args.console_socket) {
        minotaur_runtime::console::send(path, master)?;
    }
    if let Some(path) = &args.pid_file {
        super::write_pid_file(path, exec.pid.as_raw())?;
    }
    if args.detach {
        return Ok(0);
    }
    let status = nix::sys::wait::waitpid(exec.pid, None)?;
    Ok(match status {
        nix::sys::wait::WaitStatus::Exited(_, code) => code as u8,
        nix::sys::wait::WaitStatus::Signaled(_, sig, _) => 128u8.wrapping_add(sig as u8),
        _ => 0,
    })
}
