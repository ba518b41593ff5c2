use std::io::Write;

use minotaur_engine::remove;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

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
    let mut status = 0;
    let results = remove::remove_many(&ctx, &args.containers, args.force, args.volumes);
    for (reference, result) in args.containers.iter().zip(results) {
        match result {
            Ok(_) => writeln!(std::io::stdout(), "{reference}")?,
            Err(e) => {
                eprintln!("minotaur: {:#}", anyhow::Error::from(e));
                status = 1;
            }
        }
    }
    Ok(status)
}
