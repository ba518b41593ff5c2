use std::fs::File;
use std::io::{IsTerminal, Write};

use anyhow::Context;
use minotaur_image::Store;

use crate::error::CliResult;
use crate::global::Global;

/// Save images to a `docker save` archive (tar), on standard output or into a file
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,

    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let store = Store::open(&global.root)?;
    let refs: Vec<&str> = args.images.iter().map(String::as_str).collect();
    match &args.output {
        Some(path) => {
            // Written beside the target and renamed into place: a failed save leaves no partial archive.
            let tmp = path.with_extension("partial");
            let file =
                File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
            if let Err(e) = store.save(&refs, &file) {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(anyhow::anyhow!(
                    "cowardly refusing to write an archive to a terminal (use -o FILE or redirect)"
                )
                .into());
            }
            let mut out = stdout.lock();
            store.save(&refs, &mut out)?;
            out.flush()?;
        }
    }
    Ok(0)
}
