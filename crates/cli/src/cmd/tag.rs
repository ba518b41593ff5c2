use minotaur_image::{Reference, Store};

use crate::error::CliResult;
use crate::global::Global;

/// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image to tag: a name, an ID or an ID prefix
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    source: String,

    /// The new name
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    target: String,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let target: Reference = args.target.parse()?;
    Store::open(&global.root)?.tag(&args.source, &target)?;
    Ok(0)
}
