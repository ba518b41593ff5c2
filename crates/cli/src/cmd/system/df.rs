use std::io::Write;

use minotaur_engine::system::df;
use minotaur_image::human_size;

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;
use crate::output;

/// Show the space images, containers and volumes take, and what removing the unused ones would free
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show each image, container and volume
    #[arg(short, long)]
    verbose: bool,

    /// Output format: `json`
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    let d = df::df(&ctx)?;
    let mut out = std::io::stdout().lock();
    match args.format.as_deref() {
        Some("json") => {
            serde_json::to_writer_pretty(&mut out, &d)?;
            writeln!(out)?;
            return Ok(0);
        }
        None => {}
        Some(other) => {
            return Err(CliError::with_code(
                2,
                anyhow::anyhow!("unknown format {other:?}: json"),
            ))
        }
    }
    let rows: Vec<Vec<String>> = d
        .usage
        .iter()
        .map(|u| {
            vec![
                u.kind.to_owned(),
                u.total.to_string(),
                u.active.to_string(),
                human_size(u.size),
                human_size(u.reclaimable),
            ]
        })
        .collect();
    output::table(
        &mut out,
        Some(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]),
        &rows,
        &[],
    )?;
    if args.verbose {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = d
            .items
            .iter()
            .map(|i| {
                vec![
                    i.kind.to_owned(),
                    i.name.clone(),
                    human_size(i.size),
                    if i.active { "yes" } else { "no" }.to_owned(),
                ]
            })
            .collect();
        output::table(
            &mut out,
            Some(&["KIND", "NAME", "SIZE", "ACTIVE"]),
            &rows,
            &[],
        )?;
    }
    Ok(0)
}
