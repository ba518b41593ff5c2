use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Remove stopped service containers
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Don't ask to confirm removal (minotaur never asks)
    #[arg(short = 'f', long)]
    force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short = 's', long)]
    stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    volumes: bool,
    #[arg(value_name = "SERVICE")]
    service: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&args.service, false)?;
    let _ = args.force;
    minotaur_composer::control::rm(
        &context(global),
        &loaded,
        &args.service,
        args.stop,
        args.volumes,
        &mut super::progress("", false),
    )?;
    Ok(0)
}
