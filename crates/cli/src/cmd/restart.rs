use std::io::Write;
use std::time::Duration;

use minotaur_engine::supervisor::Attach;

use crate::cli::Global;
use crate::cmd::create::engine;
use crate::error::CliResult;

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
    let engine = engine(global);
    let mut status = 0;
    for c in &args.containers {
        let r = engine
            .stop(c, args.time.map(Duration::from_secs))
            .and_then(|c| engine.start(c.id.as_str(), Attach::Detached));
        match r {
            Ok(_) => writeln!(std::io::stdout(), "{c}")?,
            Err(e) => {
                eprintln!("minotaur: {:#}", anyhow::Error::from(e));
                status = 1;
            }
        }
    }
    Ok(status)
}
