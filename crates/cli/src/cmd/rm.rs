use std::io::Write;

use crate::cli::Global;
use crate::cmd::create::engine;
use crate::error::CliResult;

/// Remove one or more containers, with everything they own
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill and remove running containers too
    #[arg(short = 'f', long)]
    force: bool,

    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let engine = engine(global);
    let mut status = 0;
    for c in &args.containers {
        match engine.remove(c, args.force) {
            Ok(_) => writeln!(std::io::stdout(), "{c}")?,
            Err(e) => {
                eprintln!("minotaur: {:#}", anyhow::Error::from(e));
                status = 1;
            }
        }
    }
    Ok(status)
}
