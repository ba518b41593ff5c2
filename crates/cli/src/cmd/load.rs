use std::fs::File;
use std::io::Write;

use anyhow::Context;
use minotaur_image::{ExtractOptions, Store};

use crate::error::CliResult;
use crate::global::Global;

/// Load images from a `docker save` archive or an OCI layout archive (tar, from a file or standard input)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read from this archive instead of standard input
    #[arg(short, long, value_name = "FILE")]
    input: Option<String>,

    /// Do not print the loaded images
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let store = Store::open(&global.root)?;
    let opts = ExtractOptions::default();
    let loaded = match args.input.as_deref() {
        None | Some("-") => store.load(std::io::stdin().lock(), &opts)?,
        Some(f) => store.load(
            File::open(f).with_context(|| format!("cannot open {f}"))?,
            &opts,
        )?,
    };
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        for l in &loaded {
            if l.tags.is_empty() {
                writeln!(out, "Loaded image ID: {}", l.id)?;
            }
            for t in &l.tags {
                writeln!(out, "Loaded image: {t}")?;
            }
        }
    }
    Ok(0)
}
