//! `minotaur graph`: a picture of what is connected to what.

use std::io::Write;

use minotaur_engine::topology::graph::{self, GraphOptions};

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;
use crate::render;

/// Draw containers, namespaces, veths, bridges, networks and ports
///
/// Reads live kernel state (namespaces, links and their veth peers, addresses, routes, minotaur's nftables
/// table) together with the store, so what it draws is what exists: containers and their network
/// namespaces, veth pairs, bridges, networks, published ports, `container:X` sharing, host-network
/// containers and the uplink to the outside. `--all` adds the namespaces minotaur did not make (`ip
/// netns` names, other engines', processes'). `text` is a tree for the terminal, `dot` is Graphviz,
/// `svg` is drawn here with no Graphviz needed, `mermaid` goes into Markdown and `json` is for tools.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,

    /// Only this network, its containers and their ports
    #[arg(long, value_name = "NAME")]
    network: Option<String>,

    /// Also the namespaces minotaur did not make
    #[arg(long)]
    all: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Format {
    Text,
    Dot,
    Svg,
    Mermaid,
    Json,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let opts = GraphOptions {
        network: args.network,
        all: args.all,
    };
    let g = graph::graph(&context(global), &opts).map_err(|e| CliError::with_code(1, e))?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => render::text(&mut out, &g)?,
        Format::Dot => render::dot(&mut out, &g)?,
        Format::Svg => render::svg(&mut out, &g)?,
        Format::Mermaid => render::mermaid(&mut out, &g)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &g)?;
            writeln!(out)?;
        }
    }
    Ok(0)
}
