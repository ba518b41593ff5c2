use std::io::Write;
use std::time::Duration;

use minotaur_engine::boot::{self, Outcome};

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Bring containers back after the machine started: make every container's network namespace again, and
/// start those whose restart policy says so (always; unless-stopped unless stopped by the user),
/// dependencies first. Run once per boot, by the minotaur-boot systemd unit.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds to wait for a dependency to become healthy (or to complete) before giving up on the
    /// containers that need it
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    wait_timeout: u64,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    let outcomes = boot::boot(&ctx, Duration::from_secs(args.wait_timeout))?;
    let mut out = std::io::stdout().lock();
    let mut status = 0;
    for (name, outcome) in outcomes {
        match outcome {
            Outcome::Started => writeln!(out, "{name}")?,
            Outcome::Restored => {}
            Outcome::Failed(why) => {
                eprintln!("minotaur: cannot start container {name}: {why}");
                status = 1;
            }
        }
    }
    Ok(status)
}
