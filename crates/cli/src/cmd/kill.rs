use minotaur_engine::stop;
use minotaur_engine::stop::parse_signal;

use crate::cmd::create::each;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

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
    let ctx = context(global);
    each(&args.containers, |c| {
        stop::kill(&ctx, c, signal).map(|_| c.to_owned())
    })
}
