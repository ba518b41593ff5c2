use std::io::Write;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Inspect changes to files or directories on a container's filesystem (A added, C changed, D deleted)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "CONTAINER")]
    container: String,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let changes = minotaur_engine::diff::diff(&context(global), &args.container)?;
    let mut out = std::io::stdout().lock();
    for (path, kind) in changes {
        writeln!(out, "{} {}", kind.letter(), path.display())?;
    }
    Ok(0)
}
