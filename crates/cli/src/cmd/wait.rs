use std::io::Write;

use crate::cli::Global;
use crate::cmd::create::engine;
use crate::error::CliResult;

/// Wait until containers stop, then print their exit codes
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let engine = engine(global);
    let mut status = 0;
    for c in &args.containers {
        match engine.wait(c) {
            Ok(code) => writeln!(std::io::stdout(), "{code}")?,
            Err(e) => {
                eprintln!("minotaur: {:#}", anyhow::Error::from(e));
                status = 1;
            }
        }
    }
    Ok(status)
}
