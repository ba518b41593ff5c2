use std::io::Write;

use minotaur_engine::start;
use minotaur_engine::supervisor::Attach;

use crate::cli::Global;
use crate::cmd::create::context;
use crate::error::{CliError, CliResult};

/// Start one or more stopped containers
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attach to the container's output and exit with its status (one container)
    #[arg(short = 'a', long)]
    attach: bool,

    /// Attach the container's standard input
    #[arg(short = 'i', long)]
    interactive: bool,

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
        let status = start::start(
            &ctx,
            c,
            Attach::Foreground {
                stdin: args.interactive,
            },
        )
        .map_err(|e| CliError::with_code(e.exit_code() as u8, e))?;
        return Ok(status.unwrap_or(0) as u8);
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
