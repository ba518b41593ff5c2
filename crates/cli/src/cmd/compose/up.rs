use std::time::Duration;

use minotaur_composer::UpOptions;

use super::Args as ComposeArgs;
use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Create and start containers: networks, volumes and containers made to match the file, in dependency order
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Detached mode: run containers in the background
    #[arg(short = 'd', long)]
    detach: bool,
    /// Wait for services to be running|healthy (a one-shot service that exited 0 counts as done); implies -d
    #[arg(long)]
    wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long, value_name = "SECONDS")]
    wait_timeout: Option<u64>,
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long, conflicts_with = "no_recreate")]
    force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long)]
    no_recreate: bool,
    /// Remove containers for services not defined in the compose file
    #[arg(long)]
    remove_orphans: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    no_start: bool,
    /// Don't start linked services
    #[arg(long)]
    no_deps: bool,
    /// Stops all containers if any container was stopped; incompatible with -d
    #[arg(long, conflicts_with = "detach")]
    abort_on_container_exit: bool,
    /// Return the exit code of the selected service container; implies --abort-on-container-exit
    #[arg(long, value_name = "SERVICE", conflicts_with = "detach")]
    exit_code_from: Option<String>,
    /// Pull images before running: always, missing, never, build (refuses services that must be built), or
    /// the services' pull_policy (default: missing)
    #[arg(long, value_name = "POLICY", default_value = "policy", value_parser = super::PULL_POLICIES)]
    pull: String,
    /// Execute the command in dry-run mode: say what would be done, change nothing
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: say which configuration keys make a container be recreated
    #[arg(long)]
    explain: bool,
    /// Services to start (with their dependencies)
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&args.services, false)?;
    if let Some(s) = &args.exit_code_from {
        if !loaded.project.services.contains_key(s) {
            return Err(anyhow::anyhow!("no such service: {s}").into());
        }
    }
    let ctx = context(global);
    let opts = UpOptions {
        services: args.services.clone(),
        no_deps: args.no_deps,
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        remove_orphans: args.remove_orphans,
        no_start: args.no_start,
        dry_run: args.dry_run,
        wait: args.wait,
        wait_timeout: args.wait_timeout.map(Duration::from_secs),
        pull: super::pull_policy(&args.pull),
        registry: global.registry(),
    };
    let prefix = if args.dry_run { "DRY-RUN MODE - " } else { "" };
    let mut events = super::progress(prefix, args.explain || args.dry_run);
    let handled = minotaur_composer::up(&ctx, &loaded, &opts, &mut events)
        .map_err(|e| CliError::with_code(1, e))?;
    if args.detach || args.wait || args.dry_run || args.no_start {
        return Ok(0);
    }
    // Attached: the services' logs with their prefixes until they all exit (or one does, with
    // --abort-on-container-exit), then the exit status asked for.
    let names: Vec<(String, String)> = handled
        .iter()
        .map(|h| (h.service.clone(), h.name.clone()))
        .collect();
    let abort = args.abort_on_container_exit || args.exit_code_from.is_some();
    let first_exit = super::logs::attach(global, &names, abort)?;
    if abort {
        let mut quiet = |_| {};
        minotaur_composer::control::stop(&ctx, &loaded, &[], None, &mut quiet)
            .map_err(|e| CliError::with_code(1, e))?;
    }
    let code = match &args.exit_code_from {
        Some(s) => {
            let name = minotaur_composer::plan::container_of(&loaded.project, s);
            ctx.find(&name)?.state.exit_code
        }
        None if abort => first_exit.unwrap_or(0),
        None => 0,
    };
    Ok(code.clamp(0, 255) as u8)
}
