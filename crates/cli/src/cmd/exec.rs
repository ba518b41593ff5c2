use minotaur_engine::exec;
use minotaur_engine::exec::ExecRequest;
use minotaur_engine::parse;

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Run a command in a running container
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run in the background
    #[arg(short = 'd', long)]
    detach: bool,

    /// Keep standard input open
    #[arg(short = 'i', long)]
    interactive: bool,

    /// Allocate a terminal
    #[arg(short = 't', long)]
    tty: bool,

    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,

    /// Read environment variables from a file
    #[arg(long, value_name = "FILE")]
    env_file: Vec<std::path::PathBuf>,

    /// Working directory inside the container
    #[arg(short = 'w', long)]
    workdir: Option<String>,

    /// User and group: NAME|UID[:GROUP|GID]
    #[arg(short = 'u', long)]
    user: Option<String>,

    #[arg(value_name = "CONTAINER")]
    container: String,

    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for f in &args.env_file {
        let text = std::fs::read_to_string(f).map_err(|e| {
            CliError::with_code(
                125,
                anyhow::anyhow!("cannot read env file {}: {e}", f.display()),
            )
        })?;
        env.extend(parse::env_file(&text, lookup).map_err(|e| CliError::with_code(125, e))?);
    }
    for e in &args.env {
        env.extend(parse::env(e, lookup).map_err(|e| CliError::with_code(125, e))?);
    }
    let req = ExecRequest {
        cmd: args.command,
        env,
        working_dir: args.workdir,
        user: args.user,
        tty: args.tty,
        stdin: args.interactive,
        detach: args.detach,
    };
    match exec::exec(&context(global), &args.container, &req) {
        Ok(code) => Ok(code.unwrap_or(0) as u8),
        // Docker's `exec` exits 1 when it cannot run at all (no such container, not running) and 126 when
        // the command cannot be started, found or not: 125 and 127 are `run`'s.
        Err(e) => Err(CliError::with_code(
            match e.exit_code() {
                125 => 1,
                127 => 126,
                c => c as u8,
            },
            e,
        )),
    }
}
