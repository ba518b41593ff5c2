use minotaur_engine::docker_types;
use minotaur_engine::template::Format;
use minotaur_engine::{inspect, network};

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Show low-level information about containers or images as JSON, or through a Go template
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format the output with a Go template (e.g. '{{.State.Pid}}')
    #[arg(short = 'f', long)]
    format: Option<String>,

    /// Only inspect objects of this type
    #[arg(long = "type", value_parser = ["container", "image", "network"])]
    kind: Option<String>,

    #[arg(required = true, value_name = "NAME|ID")]
    objects: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let format = args.format.as_deref().map(Format::parse).transpose()?;
    let ctx = context(global);
    let images = minotaur_image::Store::open(&global.root);
    let mut docs = Vec::new();
    let mut status = 0;
    for name in &args.objects {
        let container = match args.kind.as_deref() {
            Some("image") => None,
            _ => ctx.find_live(name).ok(),
        };
        let doc = match container {
            Some(c) => Some((inspect::inspect(&ctx, &c)?, &docker_types::CONTAINER)),
            None if args.kind.as_deref() == Some("network") => {
                network::find(&ctx, name).ok().map(|n| {
                    let attached = network::attachments(&ctx, None, Some(&n)).unwrap_or_default();
                    (n.inspect(&attached), &docker_types::NETWORK)
                })
            }
            None if args.kind.as_deref() != Some("container") => images
                .as_ref()
                .ok()
                .and_then(|s| s.inspect(name).ok())
                .and_then(|i| serde_json::to_value(i).ok())
                .map(|d| (d, &docker_types::IMAGE))
                .or_else(|| {
                    let n = network::find(&ctx, name).ok()?;
                    let attached = network::attachments(&ctx, None, Some(&n)).ok()?;
                    Some((n.inspect(&attached), &docker_types::NETWORK))
                }),
            None => None,
        };
        match doc {
            Some(d) => docs.push(d),
            None => {
                eprintln!("minotaur: no such object: {name}");
                status = 1;
            }
        }
    }
    crate::output::documents(&mut std::io::stdout().lock(), format.as_ref(), &docs)?;
    Ok(status)
}
