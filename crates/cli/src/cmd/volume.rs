use std::collections::BTreeMap;
use std::io::Write;

use minotaur_engine::docker_types;
use minotaur_engine::template::Format;
use minotaur_engine::volume::{self, Filter, Volume};
use serde_json::json;

use crate::cmd::create::each;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;
use crate::output;

/// Manage volumes (the same verbs as `docker volume`)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Create(CreateArgs),
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    Inspect(InspectArgs),
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    Prune(PruneArgs),
}

/// Create a volume (with a random name when none is given); an existing one is left as it is
#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// Driver (only local)
    #[arg(short = 'd', long)]
    driver: Option<String>,
    /// Set metadata: KEY=VALUE
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    label: Vec<String>,
    #[arg(value_name = "VOLUME")]
    name: Option<String>,
}

/// List volumes
#[derive(Debug, clap::Args)]
struct LsArgs {
    /// Only print volume names
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Filter: dangling=true|false, name=, driver=, label=KEY[=VALUE]
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Go template per volume (`table` prefix for aligned columns), or `json`
    #[arg(long)]
    format: Option<String>,
}

/// Show volumes as Docker-compatible JSON, or through a Go template
#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// Format the output with a Go template (e.g. '{{.Mountpoint}}')
    #[arg(short = 'f', long)]
    format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    volumes: Vec<String>,
}

/// Remove volumes (not while a container uses them)
#[derive(Debug, clap::Args)]
struct RmArgs {
    /// Do not fail on volumes that do not exist
    #[arg(short = 'f', long)]
    force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    volumes: Vec<String>,
}

/// Remove the anonymous volumes no container uses (with --all, named ones too)
#[derive(Debug, clap::Args)]
struct PruneArgs {
    /// Remove unused named volumes too
    #[arg(short = 'a', long)]
    all: bool,
    /// Do not ask for confirmation
    #[arg(short = 'f', long)]
    force: bool,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    match args.command {
        Command::Create(a) => create(global, a),
        Command::Ls(a) => ls(global, a),
        Command::Inspect(a) => inspect(global, a),
        Command::Rm(a) => {
            let ctx = context(global);
            each(&a.volumes, |v| {
                volume::remove(&ctx, v, a.force).map(|()| v.to_owned())
            })
        }
        Command::Prune(a) => prune(global, a),
    }
}

fn create(global: &Global, a: CreateArgs) -> CliResult {
    let mut labels = BTreeMap::new();
    for l in &a.label {
        match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => labels.insert(k.to_owned(), v.to_owned()),
            _ if !l.is_empty() && !l.contains('=') => labels.insert(l.clone(), String::new()),
            _ => return Err(anyhow::anyhow!("invalid --label {l:?}: expected KEY=VALUE").into()),
        };
    }
    let v = volume::create(
        &context(global),
        a.name.as_deref(),
        a.driver.as_deref(),
        labels,
    )?;
    writeln!(std::io::stdout(), "{}", v.name)?;
    Ok(0)
}

fn ls(global: &Global, a: LsArgs) -> CliResult {
    let filters: Vec<Filter> = a
        .filter
        .iter()
        .map(|f| f.parse())
        .collect::<Result<_, _>>()?;
    let keep: Vec<Volume> = volume::list(&context(global))?
        .into_iter()
        .filter(|v| filters.iter().all(|f| v.matches(f)))
        .collect();
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for v in &keep {
            writeln!(out, "{}", v.name)?;
        }
        return Ok(0);
    }
    let rows: Vec<serde_json::Value> = keep
        .iter()
        .map(|v| {
            json!({
                "Name": v.name,
                "Driver": v.driver,
                "Scope": "local",
                "Mountpoint": v.mountpoint,
                "CreatedAt": v.created_at,
                "Labels": v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "Links": v.containers.len().to_string(),
            })
        })
        .collect();
    let headers = [
        ("Name", "VOLUME NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("Mountpoint", "MOUNTPOINT"),
        ("CreatedAt", "CREATED AT"),
        ("Labels", "LABELS"),
        ("Links", "LINKS"),
    ];
    // Docker's default table, through the same formatter as its `--format`.
    let format = a
        .format
        .as_deref()
        .unwrap_or("table {{.Driver}}\\t{{.Name}}");
    output::list(&mut out, format, &rows, &headers)?;
    Ok(0)
}

fn inspect(global: &Global, a: InspectArgs) -> CliResult {
    let format = a.format.as_deref().map(Format::parse).transpose()?;
    let ctx = context(global);
    let mut docs = Vec::new();
    for name in &a.volumes {
        docs.push((
            volume::inspect(&ctx, name)?.inspect(),
            &docker_types::VOLUME,
        ));
    }
    output::documents(&mut std::io::stdout().lock(), format.as_ref(), &docs)?;
    Ok(0)
}

fn prune(global: &Global, a: PruneArgs) -> CliResult {
    let gone = volume::prune(&context(global), a.all)?;
    let mut out = std::io::stdout().lock();
    if !gone.is_empty() {
        writeln!(out, "Deleted Volumes:")?;
        for v in &gone {
            writeln!(out, "{v}")?;
        }
    }
    Ok(0)
}
