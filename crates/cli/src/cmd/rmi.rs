use std::io::Write;

use minotaur_engine::names::ContainerNames;
use minotaur_image::{Removed, Store};

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Remove one or more images (untag them; delete an image and its unused layers when no tag is left)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove an image given by ID even when several tags refer to it
    #[arg(short, long)]
    force: bool,

    /// Names, IDs or ID prefixes
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let store = Store::open(&global.root)?;
    let names = ContainerNames::load(&context(global));
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    // As Docker: go on with the other images and report each failure, exit 1 if any failed.
    for image in &args.images {
        // An image a container was created from stays while the container exists (its layers are the
        // container's root), as with Docker; -f removes the tag only in Docker, so it is refused here too.
        if let Ok(id) = store.resolve(image) {
            if let Some(c) = names.using_image(&id.to_string()) {
                let e =
                    anyhow::anyhow!("unable to remove image {image}: container {c} is using it");
                if let Some(prev) = failed.replace(e) {
                    eprintln!("minotaur: {prev:#}");
                }
                continue;
            }
        }
        match store.rmi(image, args.force).map_err(anyhow::Error::from) {
            Ok(done) => {
                for d in done {
                    match d {
                        Removed::Untagged(r) => writeln!(out, "Untagged: {r}")?,
                        Removed::UntaggedDigest(r) => writeln!(out, "Untagged: {r}")?,
                        Removed::Deleted(id) => writeln!(out, "Deleted: {id}")?,
                    }
                }
            }
            Err(e) => {
                if let Some(prev) = failed.replace(e) {
                    eprintln!("minotaur: {prev:#}");
                }
            }
        }
    }
    match failed {
        Some(e) => Err(CliError::with_code(1, e)),
        None => Ok(0),
    }
}
