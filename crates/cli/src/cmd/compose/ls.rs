use std::io::Write;

use minotaur_compose::Project;

use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// List running compose projects (found by their containers' labels)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all stopped compose projects too
    #[arg(short = 'a', long)]
    all: bool,
    /// Only display project names
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Format the output: "table" or "json"
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

pub fn run(global: &Global, args: &Args) -> CliResult {
    let projects = minotaur_composer::project::list(&context(global), args.all)?;
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for p in &projects {
            writeln!(out, "{}", p.name)?;
        }
        return Ok(0);
    }
    if args.format == "json" {
        let docs: Vec<_> = projects
            .iter()
            .map(|p| serde_json::json!({"Name": p.name, "Status": p.status, "ConfigFiles": p.config_files}))
            .collect();
        writeln!(out, "{}", serde_json::to_string(&docs)?)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = projects
        .iter()
        .map(|p| vec![p.name.clone(), p.status.clone(), p.config_files.clone()])
        .collect();
    super::table(&mut out, &["NAME", "STATUS", "CONFIG FILES"], &rows)?;
    Ok(0)
}

/// The project the options name; without a compose file, `-p NAME` alone names one (as for `down`).
pub fn project_or_name(compose: &ComposeArgs) -> anyhow::Result<Project> {
    match compose.load(&[], false) {
        Ok(l) => Ok(l.project),
        Err(e) => match &compose.project_name {
            Some(name) if compose.file.is_empty() => Ok(Project {
                name: name.clone(),
                ..Default::default()
            }),
            _ => Err(e),
        },
    }
}
