use minotaur_composer::pull::PullOptions;
use minotaur_composer::Event;

use super::Args as ComposeArgs;
use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Pull service images: each distinct image once, an image already pulled checked with one request
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pull what it can and ignore images with pull failures
    #[arg(long)]
    ignore_pull_failures: bool,
    /// Ignore images that can be built
    #[arg(long)]
    ignore_buildable: bool,
    /// Also pull services declared as dependencies
    #[arg(long)]
    include_deps: bool,
    /// Pull without printing progress information
    #[arg(short, long)]
    quiet: bool,
    /// Apply this pull policy to every service, in place of its pull_policy
    #[arg(long, value_name = "POLICY", value_parser = ["missing", "always"])]
    policy: Option<String>,
    /// Services whose images to pull (default: all)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&args.services, false)?;
    let ctx = context(global);
    let opts = PullOptions {
        services: args.services.clone(),
        include_deps: args.include_deps,
        ignore_failures: args.ignore_pull_failures,
        ignore_buildable: args.ignore_buildable,
        policy: args.policy.as_deref().and_then(super::pull_policy),
        registry: global.registry(),
    };
    let mut progress = super::progress("", false);
    let quiet = args.quiet;
    // Quiet: only the warnings.
    let mut events = |e: Event| {
        if !quiet || matches!(e, Event::Warning(_)) {
            progress(e)
        }
    };
    minotaur_composer::pull::pull(&ctx, &loaded, &opts, &mut events)
        .map_err(|e| CliError::with_code(1, e))?;
    Ok(0)
}
