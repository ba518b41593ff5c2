use std::io::Write;

use minotaur_engine::attach::{AttachOptions, DEFAULT_DETACH_KEYS};
use minotaur_engine::start;
use minotaur_engine::supervisor::Attach;

use crate::cmd::attach::{detach_keys, finish};
use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Start one or more stopped containers
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attach to the container's output and exit with its status (one container)
    #[arg(short = 'a', long)]
    attach: bool,

    /// Attach the container's standard input
    #[arg(short = 'i', long)]
    interactive: bool,

    /// The keys that detach from a terminal and leave the container running
    #[arg(long, value_name = "KEYS", default_value = DEFAULT_DETACH_KEYS)]
    detach_keys: String,

    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    if args.attach || args.interactive {
        let [c] = args.containers.as_slice() else {
            return Err(
                anyhow::anyhow!("you cannot start and attach multiple containers at once").into(),
            );
        };
        let opts = AttachOptions {
            stdin: args.interactive,
            close_stdin: true,
            sig_proxy: true,
            detach_keys: detach_keys(&args.detach_keys)?,
        };
        let ended = start::start(&ctx, c, Attach::Foreground(opts))
            .map_err(|e| CliError::with_code(e.exit_code() as u8, e))?;
        return ended.map_or(Ok(0), finish);
    }
    let mut failed = None;
    for c in &args.containers {
        match start::start(&ctx, c, Attach::Detached) {
            Ok(_) => writeln!(std::io::stdout(), "{c}")?,
            Err(e) => {
                eprintln!(
                    "minotaur: cannot start container {c}: {e:#}",
                    e = anyhow::Error::from(e)
                );
                failed = Some(1);
            }
        }
    }
    Ok(failed.unwrap_or(0))
}
