use minotaur_engine::template::Format;

use crate::cmd::{history, image_prune, images, import, load, pull, push, rmi, save, tag};
use crate::error::CliResult;
use crate::global::Global;

/// Manage images (the same verbs as `docker image`)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Show images as Docker-compatible JSON, or through a Go template
    Inspect(InspectArgs),
    #[command(visible_alias = "list")]
    Ls(images::Args),
    Rm(rmi::Args),
    Tag(tag::Args),
    Import(import::Args),
    Load(load::Args),
    Save(save::Args),
    Pull(pull::Args),
    Push(push::Args),
    History(history::Args),
    Prune(image_prune::Args),
}

#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// Format the output with a Go template (e.g. '{{.Id}}')
    #[arg(short = 'f', long)]
    format: Option<String>,

    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    match args.command {
        Command::Inspect(a) => inspect(global, a),
        Command::Ls(a) => images::run(global, a),
        Command::Rm(a) => rmi::run(global, a),
        Command::Tag(a) => tag::run(global, a),
        Command::Import(a) => import::run(global, a),
        Command::Load(a) => load::run(global, a),
        Command::Save(a) => save::run(global, a),
        Command::Pull(a) => pull::run(global, a),
        Command::Push(a) => push::run(global, a),
        Command::History(a) => history::run(global, a),
        Command::Prune(a) => image_prune::run(global, a),
    }
}

fn inspect(global: &Global, args: InspectArgs) -> CliResult {
    let format = args.format.as_deref().map(Format::parse).transpose()?;
    let store = minotaur_image::Store::open(&global.root)?;
    let mut docs = Vec::new();
    for name in &args.images {
        docs.push((
            serde_json::to_value(store.inspect(name)?)?,
            &minotaur_engine::docker_types::IMAGE,
        ));
    }
    crate::output::documents(&mut std::io::stdout().lock(), format.as_ref(), &docs)?;
    Ok(0)
}
