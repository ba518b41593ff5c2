use minotaur_engine::ids::ContainerName;
use minotaur_engine::rename;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Rename a container
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "CONTAINER")]
    container: String,

    #[arg(value_name = "NEW_NAME")]
    new_name: String,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let name: ContainerName = args.new_name.parse()?;
    rename::rename(&context(global), &args.container, &name)?;
    Ok(0)
}
