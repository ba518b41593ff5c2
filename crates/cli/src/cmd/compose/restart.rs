use std::time::Duration;

use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Restart service containers
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long, value_name = "SECONDS")]
    timeout: Option<u64>,
    #[arg(value_name = "SERVICE")]
    service: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&args.service, false)?;
    minotaur_composer::control::restart(
        &context(global),
        &loaded,
        &args.service,
        args.timeout.map(Duration::from_secs),
        &mut super::progress("", false),
    )?;
    Ok(0)
}
