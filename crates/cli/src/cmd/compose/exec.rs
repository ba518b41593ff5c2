use std::io::IsTerminal;

use minotaur_engine::exec::{self, ExecRequest};
use minotaur_engine::parse;

use super::Args as ComposeArgs;
use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Execute a command in a running service container
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Detached mode: run the command in the background
    #[arg(short = 'd', long)]
    detach: bool,
    /// Disable pseudo-TTY allocation (by default one is allocated when stdin is a terminal)
    #[arg(short = 'T', long = "no-tty")]
    no_tty: bool,
    /// Run the command as this user
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Path to workdir directory for this command
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    index: u32,
    #[arg(value_name = "SERVICE")]
    service: String,
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&[], false)?;
    let ctx = context(global);
    let name = service_container(&ctx, &loaded.project.name, &args.service, args.index)?;
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for e in &args.env {
        env.extend(parse::env(e, lookup).map_err(|e| CliError::with_code(1, e))?);
    }
    let tty = !args.no_tty && !args.detach && std::io::stdin().is_terminal();
    let req = ExecRequest {
        cmd: args.command.clone(),
        env,
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        tty,
        stdin: !args.detach,
        detach: args.detach,
    };
    match exec::exec(&ctx, &name, &req) {
        Ok(code) => Ok(code.unwrap_or(0).clamp(0, 255) as u8),
        Err(e) => Err(CliError::with_code(
            match e.exit_code() {
                125 => 1,
                c => c as u8,
            },
            e,
        )),
    }
}

/// The name of a service's container number `index`.
pub fn service_container(
    ctx: &minotaur_engine::context::Context,
    project: &str,
    service: &str,
    index: u32,
) -> anyhow::Result<String> {
    let existing = minotaur_composer::project::containers(ctx, project, None)?;
    existing
        .services
        .get(service)
        .and_then(|cs| {
            cs.iter()
                .find(|c| minotaur_composer::project::number(c) == index)
        })
        .map(|c| c.name.to_string())
        .ok_or_else(|| anyhow::anyhow!("service {service:?} is not running"))
}
