//! `container VERB`: Docker's management-command spelling of the container verbs (`container inspect`,
//! `container ls`, …), the same commands as the top-level ones.

use crate::error::CliResult;
use crate::global::Global;

use super::{
    create, exec, inspect, kill, logs, port, ps, rename, restart, rm, run as run_cmd, start, stop,
    top, wait,
};

/// Manage containers (the same commands as `run`, `ps`, `inspect`, …)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Create(create::Args),
    Run(run_cmd::Args),
    Exec(exec::Args),
    Start(start::Args),
    Stop(stop::Args),
    Restart(restart::Args),
    Kill(kill::Args),
    #[command(alias = "remove")]
    Rm(rm::Args),
    #[command(name = "ls", aliases = ["ps", "list"])]
    Ls(ps::Args),
    Logs(logs::Args),
    Wait(wait::Args),
    Inspect(inspect::Args),
    Top(top::Args),
    Rename(rename::Args),
    Port(port::Args),
}

pub fn run(global: &Global, args: Args) -> CliResult {
    match args.command {
        Command::Create(a) => create::run(global, a),
        Command::Run(a) => run_cmd::run(global, a),
        Command::Exec(a) => exec::run(global, a),
        Command::Start(a) => start::run(global, a),
        Command::Stop(a) => stop::run(global, a),
        Command::Restart(a) => restart::run(global, a),
        Command::Kill(a) => kill::run(global, a),
        Command::Rm(a) => rm::run(global, a),
        Command::Ls(a) => ps::run(global, a),
        Command::Logs(a) => logs::run(global, a),
        Command::Wait(a) => wait::run(global, a),
        Command::Inspect(a) => inspect::run(global, a),
        Command::Top(a) => top::run(global, a),
        Command::Rename(a) => rename::run(global, a),
        Command::Port(a) => port::run(global, a),
    }
}
