use std::io::Write;

use minotaur_runtime::state::Root;

/// List containers
#[derive(Debug, clap::Args)]
pub struct Args {
    /// table or json
    #[arg(short, long, default_value = "table")]
    format: String,

    /// Print only the IDs
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let containers = root.list()?;
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for c in &containers {
            writeln!(out, "{}", c.record.id)?;
        }
        return Ok(0);
    }
    let states: Vec<_> = containers.iter().map(|c| c.state()).collect();
    match args.format.as_str() {
        "json" => writeln!(out, "{}", serde_json::to_string(&states)?)?,
        "table" => {
            let mut tw = tabwriter::TabWriter::new(out);
            writeln!(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")?;
            for s in &states {
                writeln!(
                    tw,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    s.id,
                    s.pid,
                    s.status,
                    s.bundle.display(),
                    s.created,
                    s.owner
                )?;
            }
            tw.flush()?;
        }
        other => anyhow::bail!("unknown format {other:?}: table or json"),
    }
    Ok(0)
}
