//! One module per subcommand; each has an `Args` struct (its `--help` is the doc comments) and a `run`.

mod completion;
mod images;
mod import;
mod lsns;
mod man;
mod netns;
mod nsenter;
mod rmi;
mod tag;
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
    Import(import::Args),
    Images(images::Args),
    Rmi(rmi::Args),
    Tag(tag::Args),
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
        Command::Import(args) => import::run(&cli.global, args),
        Command::Images(args) => images::run(&cli.global, args),
        Command::Rmi(args) => rmi::run(&cli.global, args),
        Command::Tag(args) => tag::run(&cli.global, args),
    }
}
