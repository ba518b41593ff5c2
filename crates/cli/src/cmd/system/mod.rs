//! `system`: commands about the engine on this machine as a whole; one file per subcommand.

mod boot;

use crate::cli::Global;
use crate::error::CliResult;

/// Manage minotaur on this machine
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Boot(boot::Args),
}

pub fn run(global: &Global, args: Args) -> CliResult {
    match args.command {
        Command::Boot(a) => boot::run(global, a),
    }
}
