//! The `minotaur` command line: parses arguments, resolves them into what the library crates consume, runs one
//! subcommand, and reports its outcome once. See `docs/ARCHITECTURE.md` for the layers below.
#![forbid(unsafe_code)]

mod cli;
mod cmd;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli.global.init_logging();
    match cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            // One line, the whole chain, never a backtrace (`{:#}` does not print one even when
            // RUST_BACKTRACE is set).
            eprintln!("minotaur: {:#}", err.error);
            ExitCode::from(err.code)
        }
    }
}
