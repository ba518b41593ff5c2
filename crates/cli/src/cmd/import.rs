use std::io::Write;

use anyhow::Context;
use minotaur_image::{ExtractOptions, ImportOptions, Reference, Store};

use crate::error::CliResult;
use crate::global::Global;

/// Import a root-filesystem tarball (plain, gzip or zstd) as a one-layer image, like `docker import`
///
/// Prints the new image's ID. Without REPOSITORY the image is untagged (`<none>:<none>`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tarball, or `-` to read standard input
    #[arg(value_name = "FILE|-")]
    file: String,

    /// Name (and tag, `latest` if omitted) to give the image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,

    /// Apply a Dockerfile instruction to the image's run configuration (CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR); may be repeated
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    changes: Vec<String>,

    /// Set the image's history comment (default: "Imported from FILE")
    #[arg(short, long)]
    message: Option<String>,

    /// Create character and block device nodes found in the tarball (skipped by default)
    #[arg(long)]
    allow_devices: bool,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    // Validate the name before reading anything, so a typo costs no import.
    let reference: Option<Reference> = args.reference.as_deref().map(str::parse).transpose()?;
    let store = Store::open(&global.root)?;
    let opts = ImportOptions {
        extract: ExtractOptions {
            allow_devices: args.allow_devices,
            ..ExtractOptions::default()
        },
        source: args.file.clone(),
        message: args.message,
        changes: args.changes,
    };
    let id = if args.file == "-" {
        store.import(std::io::stdin().lock(), reference.as_ref(), &opts)?
    } else {
        let f = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file))?;
        store.import(f, reference.as_ref(), &opts)?
    };
    writeln!(std::io::stdout().lock(), "{id}")?;
    Ok(0)
}
