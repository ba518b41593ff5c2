//! One module per subcommand; each has an `Args` struct (its `--help` is the doc comments) and a `run`.

mod completion;
mod lsns;
mod man;
mod netns;
mod nsenter;
mod unshare;
mod version;

use clap::Subcommand;

use crate::cli::Cli;
use crate::error::CliResult;

#[derive(Debug, Subcommand)]
pub enum Command {
    Version(version::Args),
    Completion(completion::Args),
    Man(man::Args),
    Netns(netns::Args),
    Nsenter(nsenter::Args),
    Unshare(unshare::Args),
    Lsns(lsns::Args),
}

pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Version(args) => version::run(args),
        Command::Completion(args) => completion::run(args),
        Command::Man(args) => man::run(args),
        Command::Netns(args) => netns::run(args, &cli.global),
        Command::Nsenter(args) => nsenter::run(args),
        Command::Unshare(args) => unshare::run(args),
        Command::Lsns(args) => lsns::run(args),
    }
}
