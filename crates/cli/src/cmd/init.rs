use crate::error::{CliError, CliResult};

/// A minimal init for `run --init`: runs the command as its child, forwards signals to it, reaps every
/// zombie, and exits with the command's status (128+N when a signal ended it)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<std::ffi::OsString>,
}

pub fn run(args: Args) -> CliResult {
    match minotaur_engine::init::run(&args.command) {
        Ok(code) => Ok(code as u8),
        Err(e) => Err(CliError::with_code(125, e)),
    }
}
