use std::io::Write;

use minotaur_engine::lifecycle::parse_signal;

use crate::cli::Global;
use crate::cmd::create::engine;
use crate::error::CliResult;

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
    let engine = engine(global);
    let mut status = 0;
    for c in &args.containers {
        match engine.kill(c, signal) {
            Ok(_) => writeln!(std::io::stdout(), "{c}")?,
            Err(e) => {
                eprintln!("minotaur: {:#}", anyhow::Error::from(e));
                status = 1;
            }
        }
    }
    Ok(status)
}
