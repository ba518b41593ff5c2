use std::io::Write;
use std::time::SystemTime;

use minotaur_engine::container::Status;
use minotaur_engine::{gofmt, human, network};

use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// List containers of the project
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all stopped containers (including those created by the run command)
    #[arg(short = 'a', long)]
    all: bool,
    /// Only display IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Display services
    #[arg(long)]
    services: bool,
    /// Format the output: "table" or "json"
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
    #[arg(value_name = "SERVICE")]
    service: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let project = super::ls::project_or_name(compose)?;
    let ctx = context(global);
    let existing = minotaur_composer::project::containers(&ctx, &project.name, None)?;
    let mut list: Vec<_> = existing
        .services
        .into_values()
        .flatten()
        .chain(existing.oneoffs.into_iter().filter(|_| args.all))
        .filter(|c| {
            args.service.is_empty()
                || args
                    .service
                    .iter()
                    .any(|s| s == minotaur_composer::project::service_of(c))
        })
        .filter(|c| args.all || c.state.status == Status::Running)
        .collect();
    list.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    let mut out = std::io::stdout().lock();
    if args.services {
        let mut names: Vec<&str> = list
            .iter()
            .map(minotaur_composer::project::service_of)
            .collect();
        names.dedup();
        for n in names {
            writeln!(out, "{n}")?;
        }
        return Ok(0);
    }
    if args.quiet {
        for c in &list {
            writeln!(out, "{}", c.id)?;
        }
        return Ok(0);
    }
    let ports = network::all_published(&ctx)?;
    let now = SystemTime::now();
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    for c in &list {
        let service = minotaur_composer::project::service_of(c).to_owned();
        let command: String = c
            .config
            .entrypoint
            .iter()
            .chain(&c.config.cmd)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        let short = if command.chars().count() > 20 {
            command.chars().take(19).collect::<String>() + "…"
        } else {
            command.clone()
        };
        let published = if c.state.status == Status::Running {
            ports
                .get(c.id.as_str())
                .map(|ps| {
                    ps.iter()
                        .map(|p| p.display())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut status = human::status(&c.state, now);
        if let Some(h) =
            minotaur_composer::wait::health(c).filter(|_| c.state.status == Status::Running)
        {
            status = format!("{status} ({h})");
        }
        let created = human::since(&c.created, now)
            .map(human::duration)
            .map(|d| format!("{d} ago"))
            .unwrap_or_default();
        rows.push(vec![
            c.name.to_string(),
            c.config.image.clone(),
            gofmt::quote(&short, false),
            service.clone(),
            created.clone(),
            status.clone(),
            published.clone(),
        ]);
        docs.push(serde_json::json!({
            "ID": c.id.as_str(), "Name": c.name.as_str(), "Image": c.config.image, "Command": gofmt::quote(&command, false),
            "Project": project.name, "Service": service, "Created": created, "State": c.state.status.as_str(),
            "Status": status, "Health": minotaur_composer::wait::health(c).unwrap_or_default(),
            "ExitCode": c.state.exit_code, "Publishers": published, "Labels": c.config.labels,
        }));
    }
    if args.format == "json" {
        writeln!(out, "{}", serde_json::to_string(&docs)?)?;
        return Ok(0);
    }
    super::table(
        &mut out,
        &[
            "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
        ],
        &rows,
    )?;
    Ok(0)
}
