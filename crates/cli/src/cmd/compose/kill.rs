use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Force stop service containers
#[derive(Debug, clap::Args)]
pub struct Args {
    /// SIGNAL to send to the container
    #[arg(short = 's', long, default_value = "SIGKILL")]
    signal: String,
    #[arg(value_name = "SERVICE")]
    service: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let signal = minotaur_engine::stop::parse_signal(&args.signal)?;
    let loaded = compose.load(&args.service, false)?;
    minotaur_composer::control::kill(
        &context(global),
        &loaded,
        &args.service,
        signal,
        &mut super::progress("", false),
    )?;
    Ok(0)
}
