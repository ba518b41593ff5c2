use std::io::Write;

use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// List images used by the created containers
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only display IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    #[arg(value_name = "SERVICE")]
    service: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&args.service, false)?;
    let ctx = context(global);
    let list = minotaur_composer::control::selected(&ctx, &loaded, &args.service, false)?;
    let mut out = std::io::stdout().lock();
    let mut rows = Vec::new();
    for (_, c) in &list {
        let id = c.config.image_id.trim_start_matches("sha256:");
        let short: String = id.chars().take(12).collect();
        if args.quiet {
            writeln!(out, "{}", c.config.image_id)?;
            continue;
        }
        let (repo, tag) = match c.config.image.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_owned(), t.to_owned()),
            _ => (c.config.image.clone(), "latest".to_owned()),
        };
        rows.push(vec![c.name.to_string(), repo, tag, short]);
    }
    if !args.quiet {
        super::table(
            &mut out,
            &["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID"],
            &rows,
        )?;
    }
    Ok(0)
}
