use std::io::Write;

use minotaur_engine::attach::{AttachOptions, DEFAULT_DETACH_KEYS};
use minotaur_engine::start;
use minotaur_engine::supervisor::{Attach, Started};

use crate::cmd::attach::{detach_keys, finish};
use crate::cmd::create::{pull_image, Flags};
use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Create and run a new container; without -d, wait for it and exit with its status
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Run in the background and print the container ID
    #[arg(short = 'd', long)]
    detach: bool,

    /// Forward the signals this process gets to the container's PID 1 (not with a terminal)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    sig_proxy: bool,

    /// The keys that detach from a terminal and leave the container running: comma-separated, a
    /// character or ctrl-X
    #[arg(long, value_name = "KEYS", default_value = DEFAULT_DETACH_KEYS)]
    detach_keys: String,

    #[command(flatten)]
    flags: Flags,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let code = |e: minotaur_engine::error::EngineError| CliError::with_code(e.exit_code() as u8, e);
    let req = args
        .flags
        .request()
        .map_err(|e| CliError::with_code(125, e))?;
    let keys = detach_keys(&args.detach_keys)?;
    let ctx = context(global);
    pull_image(global, &ctx, &args.flags)?;
    let attach = if args.detach {
        Attach::Detached
    } else {
        Attach::Foreground(AttachOptions {
            stdin: args.flags.interactive,
            close_stdin: true,
            sig_proxy: args.sig_proxy,
            detach_keys: keys,
        })
    };
    // The supervisor makes the container and starts it; one that it made and could not start, it removed.
    // An attachment that failed after the start leaves the container running, as with Docker.
    match start::run(&ctx, req, attach).map_err(code)? {
        Started {
            ended: Some(ended), ..
        } => finish(ended),
        Started { id, ended: None } => {
            writeln!(std::io::stdout(), "{id}")?;
            Ok(0)
        }
    }
}
