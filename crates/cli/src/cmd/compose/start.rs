use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Start services' existing containers, dependencies first
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "SERVICE")]
    service: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&args.service, false)?;
    minotaur_composer::control::start(
        &context(global),
        &loaded,
        &args.service,
        &mut super::progress("", false),
    )?;
    Ok(0)
}
