use std::path::PathBuf;

use anyhow::Context;

use crate::error::CliResult;

/// Print the man page, or write one page per subcommand into a directory
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write minotaur.1 and minotaur-SUBCOMMAND.1 pages into DIR instead of printing minotaur(1)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// `cmd`: the description of minotaur's whole command line.
pub fn run(args: Args, cmd: clap::Command) -> CliResult {
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write man pages to {}", dir.display()))?;
        }
        None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout().lock())?,
    }
    Ok(0)
}
