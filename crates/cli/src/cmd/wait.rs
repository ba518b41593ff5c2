use minotaur_engine::stop;

use crate::cli::Global;
use crate::cmd::create::{context, each};
use crate::error::CliResult;

/// Wait until containers stop, then print their exit codes
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    each(&args.containers, |c| stop::wait(&ctx, c))
}
