use std::io::BufRead;

use minotaur_engine::system::reset;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Remove everything of minotaur's on this machine: containers (killed), networks, minotaur's firewall
/// table, volumes, images, the state and the run root
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    if !args.force {
        eprint!(
            "WARNING! This will remove every container, network, volume and image of minotaur, and its state.\nAre you sure you want to continue? [y/N] "
        );
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let ctx = context(global);
    let errors = reset::reset(&ctx);
    for e in &errors {
        eprintln!("minotaur: {}", minotaur_engine::error_chain(e));
    }
    Ok(u8::from(!errors.is_empty()))
}
