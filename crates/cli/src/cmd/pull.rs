use minotaur_engine::image::pull::{self, PullOptions};
use minotaur_registry::Platform;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;
use crate::progress::{self, Mode, Stream};

/// Download an image from a registry
///
/// NAME is `[REGISTRY/]REPOSITORY[:TAG|@DIGEST]`; a name without a registry is on Docker Hub, and without a
/// tag it is `latest`. An image already pulled is checked with one request and not downloaded again.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Download every tagged image of the repository
    #[arg(short, long)]
    all_tags: bool,

    /// Print only the image's name
    #[arg(short, long)]
    quiet: bool,

    /// The platform to pull from a multi-platform image: OS/ARCH[/VARIANT] (default: this host's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,

    /// How to show progress
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    progress: Mode,

    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    name: String,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let mode = if args.quiet {
        Mode::Quiet
    } else {
        args.progress
    };
    let reporter = progress::reporter(mode, Stream::Stdout);
    let opts = PullOptions {
        platform: args.platform,
        all_tags: args.all_tags,
        ..PullOptions::default()
    };
    pull::pull(
        &context(global),
        &global.registry(),
        &args.name,
        &opts,
        reporter.as_ref(),
    )?;
    Ok(0)
}
