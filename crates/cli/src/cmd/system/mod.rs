//! `system`: commands about the engine on this machine as a whole; one file per subcommand.

mod boot;
mod check;
mod df;
mod info;
mod prune;
mod reset;

use crate::error::CliResult;
use crate::global::Global;

/// Manage minotaur on this machine
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Boot(boot::Args),
    Check(check::Args),
    Df(df::Args),
    Info(info::Args),
    Prune(prune::Args),
    Reset(reset::Args),
}

pub fn run(global: &Global, args: Args) -> CliResult {
    match args.command {
        Command::Boot(a) => boot::run(global, a),
        Command::Check(a) => check::run(global, a),
        Command::Df(a) => df::run(global, a),
        Command::Info(a) => info::run(global, a),
        Command::Prune(a) => prune::run(global, a),
        Command::Reset(a) => reset::run(global, a),
    }
}
