use std::collections::HashSet;
use std::io::{BufRead, Write};

use minotaur_image::{human_size, ImageId, Removed, Store};

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Remove unused images: dangling (untagged) ones, or with -a every image no container uses; then every
/// blob and layer no image needs
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove every image no container was created from, not only dangling ones
    #[arg(short, long)]
    all: bool,

    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    if !args.force {
        let what = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let store = Store::open(&global.root)?;
    // Images containers were created from stay, as with Docker.
    let ctx = context(global);
    let in_use: HashSet<ImageId> = if ctx.paths.root.join(minotaur_state::DB_FILE).exists() {
        ctx.list()?
            .iter()
            .filter_map(|c| c.config.image_id.parse().ok())
            .collect()
    } else {
        HashSet::new()
    };
    let pruned = store.prune(args.all, &in_use)?;
    let mut out = std::io::stdout().lock();
    if !pruned.images.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for r in &pruned.images {
            match r {
                Removed::Untagged(r) => writeln!(out, "untagged: {r}")?,
                Removed::UntaggedDigest(r) => writeln!(out, "untagged: {r}")?,
                Removed::Deleted(id) => writeln!(out, "deleted: {id}")?,
            }
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(pruned.reclaimed.bytes)
    )?;
    Ok(0)
}
