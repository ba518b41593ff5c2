use std::path::PathBuf;

use minotaur_runtime::state::{Container, Root, Status};
use minotaur_runtime::Cgroup;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Send a signal (default SIGTERM) to a container's init process
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Signal every process of the container's cgroup, not only its init
    #[arg(short, long)]
    all: bool,

    /// The container's ID
    id: String,

    /// The signal: a name (TERM, SIGTERM) or a number
    #[arg(default_value = "SIGTERM")]
    signal: String,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let signal = parse_signal(&args.signal)?;
    let c = root.load(&args.id)?;
    let _lock = super::lock(&c)?;
    if c.status() == Status::Stopped {
        // runc's words: containerd's shim reads "container not running" in a failed kill as "already
        // exited", and fails the kill (and with it a CRI StopPodSandbox) on any other message.
        anyhow::bail!("container not running: {}", c.record.id);
    }
    kill(&c, signal, args.all)?;
    Ok(0)
}

/// Sends `signal` to the container's init, or with `all` to every process of its cgroup.
pub fn kill(c: &Container, signal: Signal, all: bool) -> anyhow::Result<()> {
    if all {
        if let Some(path) = &c.record.cgroup {
            let cg = Cgroup::open(&PathBuf::from(minotaur_runtime::cgroup::DEFAULT_ROOT), path)?;
            for pid in cg.procs()? {
                // A process that has exited since the list was read is not an error.
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
            }
            return Ok(());
        }
    }
    nix::sys::signal::kill(Pid::from_raw(c.record.pid), signal).map_err(|e| {
        anyhow::anyhow!(
            "signal container {} init {}: {e}",
            c.record.id,
            c.record.pid
        )
    })
}

/// A signal by name (with or without SIG) or number.
pub fn parse_signal(s: &str) -> anyhow::Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| anyhow::anyhow!("unknown signal {s}"));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map_err(|_| anyhow::anyhow!("unknown signal {s}"))
}
