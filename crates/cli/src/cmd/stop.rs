use minotaur_engine::stop;
use std::time::Duration;

use crate::cmd::create::each;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Stop one or more running containers: the stop signal, then SIGKILL after the timeout
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds to wait before killing (default: the container's --stop-timeout, or 10)
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    time: Option<u64>,

    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    each(&args.containers, |c| {
        stop::stop(&ctx, c, args.time.map(Duration::from_secs)).map(|_| c.to_owned())
    })
}
