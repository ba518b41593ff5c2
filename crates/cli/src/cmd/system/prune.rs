use std::io::{BufRead, Write};
use std::time::SystemTime;

use minotaur_engine::system::prune::{self, Filter, Options};
use minotaur_image::{human_size, Removed};

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Remove stopped containers, networks no container uses, dangling images (with -a, every image no
/// container uses) and, with --volumes, unused volumes
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove every image no container uses, not only dangling ones (with --volumes: named volumes too)
    #[arg(short, long)]
    all: bool,

    /// Remove unused volumes too
    #[arg(long)]
    volumes: bool,

    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,

    /// Which stopped containers go: label=KEY[=VALUE], label!=KEY[=VALUE], until=DURATION|TIME
    #[arg(long, value_name = "FILTER")]
    filter: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let now = SystemTime::now();
    let filters = args
        .filter
        .iter()
        .map(|f| Filter::parse(f, now))
        .collect::<Result<Vec<_>, _>>()?;
    if !args.force {
        let mut what = vec![
            "all stopped containers",
            "all networks not used by at least one container",
        ];
        if args.volumes {
            what.push("all volumes not used by at least one container");
        }
        what.push(if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        });
        eprint!(
            "WARNING! This will remove:\n  - {}\nAre you sure you want to continue? [y/N] ",
            what.join("\n  - ")
        );
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let ctx = context(global);
    let opts = Options {
        all: args.all,
        volumes: args.volumes,
        filters,
    };
    let (done, failed) = prune::prune(&ctx, &opts)?;
    let mut out = std::io::stdout().lock();
    let mut section = |title: &str, names: &[String]| -> std::io::Result<()> {
        if !names.is_empty() {
            writeln!(out, "{title}:")?;
            for n in names {
                writeln!(out, "{n}")?;
            }
            writeln!(out)?;
        }
        Ok(())
    };
    section("Deleted Containers", &done.containers)?;
    section("Deleted Networks", &done.networks)?;
    section("Deleted Volumes", &done.volumes)?;
    let images: Vec<String> = done
        .images
        .iter()
        .map(|r| match r {
            Removed::Untagged(r) => format!("untagged: {r}"),
            Removed::UntaggedDigest(r) => format!("untagged: {r}"),
            Removed::Deleted(id) => format!("deleted: {id}"),
        })
        .collect();
    section("Deleted Images", &images)?;
    writeln!(out, "Total reclaimed space: {}", human_size(done.reclaimed))?;
    match failed {
        Some(e) => Err(CliError::from(e)),
        None => Ok(0),
    }
}
