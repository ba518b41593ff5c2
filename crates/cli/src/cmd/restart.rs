use std::time::Duration;

use minotaur_engine::supervisor::Attach;
use minotaur_engine::{start, stop};

use crate::cmd::create::each;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

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
    let ctx = context(global);
    each(&args.containers, |c| {
        stop::stop(&ctx, c, args.time.map(Duration::from_secs))
            .and_then(|c| start::start(&ctx, c.id.as_str(), Attach::Detached))
            .map(|_| c.to_owned())
    })
}
