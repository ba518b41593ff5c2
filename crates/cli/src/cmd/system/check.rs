use std::io::Write;

use minotaur_engine::system::check;

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Compare the store with the kernel and the filesystem, as a crash can leave them: orphan and missing
/// network namespaces, `ip netns` names, veths, bridges, cgroups, resolver records, container directories,
/// supervisors that died, half-pulled blobs. Prints one line per finding, naming its owner, and exits 1 when
/// it found something (0 when all agree; 2 when it could not check), as fsck does
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Repair what was found (exit 0 when every repair worked)
    #[arg(long)]
    repair: bool,

    /// Output format: `json` for one JSON array of findings
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let json = match args.format.as_deref() {
        None | Some("table") => false,
        Some("json") => true,
        Some(other) => {
            return Err(CliError::with_code(
                2,
                anyhow::anyhow!("unknown format {other:?}: json or table"),
            ))
        }
    };
    let ctx = context(global);
    // Exit 1 says "found something": a check that could not run is 2.
    let found = check::check(&ctx).map_err(|e| CliError::with_code(2, e))?;
    let mut out = std::io::stdout().lock();
    if !args.repair {
        if json {
            serde_json::to_writer_pretty(&mut out, &found)?;
            writeln!(out)?;
        } else {
            for f in &found {
                writeln!(out, "{f}")?;
            }
        }
        return Ok(u8::from(!found.is_empty()));
    }
    let repaired = check::repair(&ctx, &found);
    let mut failed = false;
    let mut rows = Vec::new();
    for (f, err) in &repaired {
        failed |= err.is_some();
        let error = err.as_ref().map(|e| minotaur_engine::error_chain(e));
        if json {
            rows.push(
                serde_json::json!({ "finding": f, "repaired": error.is_none(), "error": error }),
            );
        } else if let Some(e) = error {
            writeln!(out, "{f}: not repaired: {e}")?;
        } else {
            writeln!(out, "{f}: repaired")?;
        }
    }
    if json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    }
    Ok(u8::from(failed))
}
