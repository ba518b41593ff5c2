use std::time::Duration;

use minotaur_engine::supervisor::Attach;

use crate::cli::Global;
use crate::cmd::create::{each, engine};
use crate::error::CliResult;

/// Restart one or more containers
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds to wait for the stop before killing
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    time: Option<u64>,

    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let engine = engine(global);
    each(&args.containers, |c| {
        engine
            .stop(c, args.time.map(Duration::from_secs))
            .and_then(|c| engine.start(c.id.as_str(), Attach::Detached))
            .map(|_| c.to_owned())
    })
}
