//! `minotaur netns`: named network namespaces, interchangeable with `ip netns` (same `/run/netns` files).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;

use anyhow::anyhow;
use clap::Subcommand;
use minotaur_ns::netns::{NetnsName, Registry};

use crate::error::{CliError, CliResult};
use crate::global::Global;

/// Manage named network namespaces (the /run/netns files `ip netns` uses).
///
/// Without a subcommand, lists them.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<NetnsCommand>,
}

#[derive(Debug, Subcommand)]
enum NetnsCommand {
    /// Create a network namespace and name it
    Add {
        /// Name of the new namespace (a single path component)
        name: String,
    },
    /// List the named network namespaces, with the nsid this namespace assigned each (if any)
    #[command(visible_alias = "ls", alias = "show")]
    List,
    /// Remove a name; the namespace goes away when nothing else uses it
    #[command(alias = "del")]
    Delete {
        /// Name to remove
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Remove every name (like `ip -all netns delete`)
        #[arg(long)]
        all: bool,
    },
    /// Run a command in a named network namespace, like `ip netns exec`
    ///
    /// The command gets a private mount namespace with a /sys that describes the network namespace and
    /// each /etc/netns/NAME/FILE bound over /etc/FILE. When the resolver configuration then names only a
    /// loopback stub (such as systemd-resolved's 127.0.0.53) that nothing serves inside the namespace, the
    /// stub's upstream servers from /run/systemd/resolve/resolv.conf are used instead, so names resolve.
    Exec {
        /// Name of the namespace
        name: String,
        /// The command and its arguments
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// Print the names of the network namespace of a process (default: this one)
    Identify {
        /// Process ID
        #[arg(allow_hyphen_values = true)]
        pid: Option<String>,
    },
    /// Print the PIDs of the processes in a named network namespace
    Pids {
        /// Name of the namespace
        name: String,
    },
    /// Name the network namespace of a process
    Attach {
        /// Name to give it
        name: String,
        /// Process ID
        #[arg(allow_hyphen_values = true)]
        pid: String,
    },
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let reg = Registry::system();
    let mut out = std::io::stdout().lock();
    match args.command.unwrap_or(NetnsCommand::List) {
        NetnsCommand::Add { name } => reg.add(&name_arg(&name)?)?,
        NetnsCommand::List => {
            for (name, id) in reg.list_with_ids()? {
                match id {
                    Some(id) => writeln!(out, "{name} (id: {id})")?,
                    None => writeln!(out, "{name}")?,
                }
            }
        }
        NetnsCommand::Delete { name: None, .. } => {
            reg.delete_all()?;
        }
        NetnsCommand::Delete {
            name: Some(name), ..
        } => reg.delete(&name_arg(&name)?)?,
        NetnsCommand::Exec { name, command } => {
            let name = name_arg(&name)?;
            return exec(&reg, &name, &command, global);
        }
        NetnsCommand::Identify { pid } => {
            let pid = pid.as_deref().map(pid_arg).transpose()?;
            for name in reg.identify(pid)? {
                writeln!(out, "{name}")?;
            }
        }
        NetnsCommand::Pids { name } => {
            for pid in reg.pids(&name_arg(&name)?)? {
                writeln!(out, "{pid}")?;
            }
        }
        NetnsCommand::Attach { name, pid } => {
            let name = name_arg(&name)?;
            reg.attach(&name, pid_arg(&pid)?)?
        }
    }
    out.flush()?;
    Ok(0)
}

fn name_arg(name: &str) -> Result<NetnsName, CliError> {
    Ok(NetnsName::new(name)?)
}

fn pid_arg(pid: &str) -> Result<i32, CliError> {
    pid.parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| anyhow!("invalid PID {pid:?}").into())
}

/// Enters the namespace in this (single-threaded) process and execs the command, which inherits all of it.
/// `Command::exec` searches PATH like execvp(3) and resets SIGPIPE, which Rust ignores, to its default.
fn exec(reg: &Registry, name: &NetnsName, command: &[OsString], global: &Global) -> CliResult {
    reg.enter(name, &global.runroot.join("netns-exec"))?;
    let err = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    Err(CliError::with_code(
        code,
        anyhow::Error::new(err).context(format!(
            "failed to execute {}",
            command[0].to_string_lossy()
        )),
    ))
}
