use std::io::IsTerminal;

use minotaur_composer::control::RunOptions;
use minotaur_engine::attach::{AttachOptions, DEFAULT_DETACH_KEYS};
use minotaur_engine::supervisor::Attach;
use minotaur_engine::{parse, remove, start};

use super::Args as ComposeArgs;
use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Run a one-off command on a service (its dependencies are started first)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Don't start linked services
    #[arg(long)]
    no_deps: bool,
    /// Run command with the service's ports enabled and mapped to the host
    #[arg(long)]
    service_ports: bool,
    /// Disable pseudo-TTY allocation (by default one is allocated when stdin is a terminal)
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// Pull images before running: always, missing, never, or the services' pull_policy
    #[arg(long, value_name = "POLICY", default_value = "policy", value_parser = super::PULL_POLICIES)]
    pull: String,
    #[arg(value_name = "SERVICE")]
    service: String,
    /// The command and its arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(std::slice::from_ref(&args.service), false)?;
    let ctx = context(global);
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for e in &args.env {
        env.extend(parse::env(e, lookup).map_err(|e| CliError::with_code(1, e))?);
    }
    let interactive = std::io::stdin().is_terminal();
    let opts = RunOptions {
        service: args.service.clone(),
        command: args.command.clone(),
        env,
        no_deps: args.no_deps,
        service_ports: args.service_ports,
        tty: !args.no_tty && !args.detach && interactive,
        stdin: !args.detach,
        remove: args.rm,
        pull: super::pull_policy(&args.pull),
        registry: global.registry(),
    };
    let c = minotaur_composer::control::run_oneoff(
        &ctx,
        &loaded,
        &opts,
        &mut super::progress("", false),
    )
    .map_err(|e| CliError::with_code(1, e))?;
    let attach = if args.detach {
        Attach::Detached
    } else {
        Attach::Foreground(AttachOptions {
            stdin: true,
            close_stdin: true,
            sig_proxy: true,
            detach_keys: crate::cmd::attach::detach_keys(DEFAULT_DETACH_KEYS)?,
        })
    };
    match start::start(&ctx, c.id.as_str(), attach) {
        Ok(Some(ended)) => crate::cmd::attach::finish(ended),
        Ok(None) => {
            println!("{}", c.id);
            Ok(0)
        }
        Err(e) => {
            let _ = remove::remove(&ctx, c.id.as_str(), true, true);
            Err(CliError::with_code(e.exit_code() as u8, e))
        }
    }
}
