use std::io::Write;

use minotaur_engine::supervisor::Attach;
use minotaur_engine::{create, remove, start};

use crate::cli::Global;
use crate::cmd::create::{context, pull_image, Flags};
use crate::error::{CliError, CliResult};

/// Create and run a new container; without -d, wait for it and exit with its status
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Run in the background and print the container ID
    #[arg(short = 'd', long)]
    detach: bool,

    #[command(flatten)]
    flags: Flags,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let code = |e: minotaur_engine::error::EngineError| CliError::with_code(e.exit_code() as u8, e);
    let req = args
        .flags
        .request()
        .map_err(|e| CliError::with_code(125, e))?;
    let ctx = context(global);
    pull_image(global, &ctx, &args.flags)?;
    let c = create::create(&ctx, req).map_err(code)?;
    let attach = if args.detach {
        Attach::Detached
    } else {
        Attach::Foreground {
            stdin: args.flags.interactive,
        }
    };
    match start::start(&ctx, c.id.as_str(), attach) {
        Ok(Some(status)) => Ok(status as u8),
        Ok(None) => {
            writeln!(std::io::stdout(), "{}", c.id)?;
            Ok(0)
        }
        Err(e) => {
            // A container whose command never ran is not left behind.
            let _ = remove::remove(&ctx, c.id.as_str(), true, true);
            Err(code(e))
        }
    }
}
