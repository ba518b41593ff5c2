use std::time::Duration;

use minotaur_composer::down::DownOptions;

use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Stop and remove containers and networks (with -v, volumes)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove named volumes declared in the "volumes" section of the compose file and anonymous volumes
    /// attached to containers
    #[arg(short = 'v', long)]
    volumes: bool,
    /// Remove images used by services: "all" removes every image the project used
    #[arg(long, value_name = "TYPE", value_parser = ["local", "all"])]
    rmi: Option<String>,
    /// Remove containers for services not defined in the compose file
    #[arg(long)]
    remove_orphans: bool,
    /// Shutdown timeout in seconds
    #[arg(short = 't', long, value_name = "SECONDS")]
    timeout: Option<u64>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let project = super::ls::project_or_name(compose)?;
    let ctx = context(global);
    let opts = DownOptions {
        volumes: args.volumes,
        remove_orphans: args.remove_orphans,
        timeout: args.timeout.map(Duration::from_secs),
        rmi: args.rmi.clone(),
    };
    minotaur_composer::down::down(&ctx, &project, &opts, &mut super::progress("", false))?;
    Ok(0)
}
