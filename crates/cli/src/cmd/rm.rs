use minotaur_engine::remove;

use crate::cli::Global;
use crate::cmd::create::{context, each};
use crate::error::CliResult;

/// Remove one or more containers, with everything they own
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill and remove running containers too
    #[arg(short = 'f', long)]
    force: bool,

    /// Remove the containers' anonymous volumes too
    #[arg(short = 'v', long)]
    volumes: bool,

    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    each(&args.containers, |c| {
        remove::remove(&ctx, c, args.force, args.volumes).map(|_| c.to_owned())
    })
}
