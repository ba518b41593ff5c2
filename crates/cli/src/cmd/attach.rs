use minotaur_engine::attach::{self, AttachOptions, Ended, DEFAULT_DETACH_KEYS};

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Attach this terminal's input and output to a running container
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not attach standard input
    #[arg(long)]
    no_stdin: bool,

    /// Forward the signals this process gets to the container's PID 1 (not with a terminal)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    sig_proxy: bool,

    /// The keys that detach and leave the container running: comma-separated, a character or ctrl-X
    #[arg(long, value_name = "KEYS", default_value = DEFAULT_DETACH_KEYS)]
    detach_keys: String,

    #[arg(value_name = "CONTAINER")]
    container: String,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let opts = AttachOptions {
        stdin: !args.no_stdin,
        close_stdin: false,
        sig_proxy: args.sig_proxy,
        detach_keys: attach::detach_keys(&args.detach_keys)?,
    };
    let ctx = context(global);
    finish(attach::attach(&ctx, &args.container, &opts)?)
}

/// The exit of an attached command: the container's status, 0 after a detach, or death by the signal
/// that ended the attachment (as the Docker CLI dies of a signal it does not proxy).
pub fn finish(ended: Ended) -> CliResult {
    match ended {
        Ended::Exited(code) => Ok(code as u8),
        Ended::Detached => Ok(0),
        Ended::Signal(sig) => attach::die_of(sig),
    }
}

/// Parses `--detach-keys` for `run` and `start`, failing with Docker's status for bad flags.
pub fn detach_keys(keys: &str) -> Result<Vec<u8>, CliError> {
    attach::detach_keys(keys).map_err(|e| CliError::with_code(125, e))
}
