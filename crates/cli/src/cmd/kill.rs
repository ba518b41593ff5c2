use minotaur_engine::lifecycle::parse_signal;

use crate::cli::Global;
use crate::cmd::create::{each, engine};
use crate::error::CliResult;

/// Send a signal (default SIGKILL) to one or more running containers
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The signal: a name (SIGTERM, TERM) or a number
    #[arg(short = 's', long, default_value = "KILL")]
    signal: String,

    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let signal = parse_signal(&args.signal)?;
    let engine = engine(global);
    each(&args.containers, |c| {
        engine.kill(c, signal).map(|_| c.to_owned())
    })
}
