use minotaur_engine::stop;

use crate::cmd::create::each;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

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
