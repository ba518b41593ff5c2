use minotaur_engine::image::push;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;
use crate::progress::{self, Mode, Stream};

/// Upload an image to a registry
///
/// NAME is `[REGISTRY/]REPOSITORY[:TAG]` (tag `latest` if omitted), an image in the store: tag it with the
/// registry's name first (`minotaur tag app registry:5000/app:1`). Blobs the registry has are not sent again;
/// blobs of an image pulled from another repository of the same registry are mounted from there.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print only the pushed digest
    #[arg(short, long)]
    quiet: bool,

    #[arg(value_name = "NAME[:TAG]")]
    name: String,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let mode = if args.quiet { Mode::Quiet } else { Mode::Plain };
    let reporter = progress::reporter(mode, Stream::Stdout);
    push::push(
        &context(global),
        &global.registry(),
        &args.name,
        reporter.as_ref(),
    )?;
    Ok(0)
}
