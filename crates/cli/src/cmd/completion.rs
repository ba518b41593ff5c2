use std::io::Write;

use clap_complete::Shell;

use crate::error::CliResult;

/// Print a shell completion script (e.g. `minotaur completion bash > /etc/bash_completion.d/minotaur`)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for
    shell: Shell,
}

/// `cmd`: the description of minotaur's whole command line.
pub fn run(args: Args, mut cmd: clap::Command) -> CliResult {
    // clap_complete panics on a write error: render to memory, then write (a closed pipe is then a plain
    // broken-pipe error, which is not reported).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "minotaur", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(0)
}
