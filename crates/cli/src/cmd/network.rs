use std::collections::BTreeMap;
use std::io::Write;

use minotaur_engine::container::NetworkRequest;
use minotaur_engine::docker_types;
use minotaur_engine::filters::NetworkFilter;
use minotaur_engine::network;
use minotaur_engine::network::{Network, NetworkCreate, BUILTIN};
use minotaur_engine::template::Format;
use serde_json::json;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;
use crate::output;

/// Manage networks (the same verbs as `docker network`)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Create(CreateArgs),
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    Inspect(InspectArgs),
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    Prune(PruneArgs),
    Connect(ConnectArgs),
    Disconnect(DisconnectArgs),
    Reload(ReloadArgs),
}

/// Create a bridge network
#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// Driver (only bridge)
    #[arg(short = 'd', long)]
    driver: Option<String>,
    /// Subnet in CIDR form; one IPv4 and one IPv6 at most (default: a free one from the pools)
    #[arg(long)]
    subnet: Vec<String>,
    /// Gateway address of a subnet (default: its first address)
    #[arg(long)]
    gateway: Vec<String>,
    /// Allocate container addresses from this sub-range of a subnet
    #[arg(long)]
    ip_range: Vec<String>,
    /// No route out: containers reach each other and the host, nothing else
    #[arg(long)]
    internal: bool,
    /// Also give the network an IPv6 subnet
    #[arg(long)]
    ipv6: bool,
    /// Set metadata: KEY=VALUE
    #[arg(long)]
    label: Vec<String>,
    /// Driver options: com.docker.network.bridge.name=NAME, com.docker.network.driver.mtu=N
    #[arg(short = 'o', long = "opt", value_name = "NAME=VALUE")]
    opt: Vec<String>,
    name: String,
}

/// List networks
#[derive(Debug, clap::Args)]
struct LsArgs {
    /// Only print network IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Do not truncate IDs
    #[arg(long)]
    no_trunc: bool,
    /// Filter: name=, id=, driver=, label=KEY[=VALUE], type=custom|builtin
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Go template per network (`table` prefix for aligned columns), or `json`
    #[arg(long)]
    format: Option<String>,
}

/// Show networks as Docker-compatible JSON, or through a Go template
#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// Format the output with a Go template (e.g. '{{.IPAM.Config}}')
    #[arg(short = 'f', long)]
    format: Option<String>,
    #[arg(required = true, value_name = "NETWORK")]
    networks: Vec<String>,
}

/// Remove networks
#[derive(Debug, clap::Args)]
struct RmArgs {
    #[arg(required = true, value_name = "NETWORK")]
    networks: Vec<String>,
}

/// Remove all networks no container uses
#[derive(Debug, clap::Args)]
struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short = 'f', long)]
    force: bool,
}

/// Connect a container to a network
#[derive(Debug, clap::Args)]
struct ConnectArgs {
    /// IPv4 address
    #[arg(long)]
    ip: Option<std::net::Ipv4Addr>,
    /// IPv6 address
    #[arg(long)]
    ip6: Option<std::net::Ipv6Addr>,
    /// Another name for the container on this network
    #[arg(long)]
    alias: Vec<String>,
    network: String,
    container: String,
}

/// Disconnect a container from a network
#[derive(Debug, clap::Args)]
struct DisconnectArgs {
    /// Accepted for Docker compatibility
    #[arg(short = 'f', long)]
    force: bool,
    network: String,
    container: String,
}

/// Restore minotaur's firewall rules from its state (after someone flushed the ruleset)
#[derive(Debug, clap::Args)]
struct ReloadArgs {}

pub fn run(global: &Global, args: Args) -> CliResult {
    match args.command {
        Command::Create(a) => create(global, a),
        Command::Ls(a) => ls(global, a),
        Command::Inspect(a) => inspect(global, a),
        Command::Rm(a) => rm(global, a),
        Command::Prune(a) => prune(global, a),
        Command::Connect(a) => connect(global, a),
        Command::Disconnect(a) => disconnect(global, a),
        Command::Reload(ReloadArgs {}) => {
            network::reload(&context(global))?;
            Ok(0)
        }
    }
}

fn key_values(what: &str, items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ if !l.is_empty() && what == "--label" => Ok((l.clone(), String::new())),
            _ => anyhow::bail!("invalid {what} {l:?}: expected KEY=VALUE"),
        })
        .collect()
}

fn create(global: &Global, a: CreateArgs) -> CliResult {
    let options = key_values("--opt", &a.opt)?;
    for k in options.keys() {
        if !matches!(
            k.as_str(),
            "com.docker.network.bridge.name" | "com.docker.network.driver.mtu"
        ) {
            return Err(anyhow::anyhow!("unknown network option {k:?} (known: com.docker.network.bridge.name, com.docker.network.driver.mtu)").into());
        }
    }
    let net = network::create(
        &context(global),
        &NetworkCreate {
            name: a.name,
            driver: a.driver,
            subnets: a.subnet,
            gateways: a.gateway,
            ip_ranges: a.ip_range,
            internal: a.internal,
            ipv6: a.ipv6,
            labels: key_values("--label", &a.label)?,
            options,
        },
    )?;
    writeln!(std::io::stdout(), "{}", net.id)?;
    Ok(0)
}

/// Stored networks plus `host` and `none`, Docker's order: by name.
fn all_networks(global: &Global) -> anyhow::Result<Vec<Network>> {
    let ctx = context(global);
    // Docker always lists its default network; ours is made (recorded) on first use.
    network::default_network(&ctx)?;
    let mut nets = network::list(&ctx)?;
    nets.extend(BUILTIN.iter().map(|n| Network::builtin(n)));
    nets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(nets)
}

fn ls(global: &Global, a: LsArgs) -> CliResult {
    let filters = a
        .filter
        .iter()
        .map(|f| f.parse::<NetworkFilter>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::from)?;
    let keep: Vec<Network> = all_networks(global)?
        .into_iter()
        .filter(|n| filters.iter().all(|f| f.matches(n)))
        .collect();
    let id = |n: &Network| {
        if a.no_trunc {
            n.id.clone()
        } else {
            n.id[..12].to_owned()
        }
    };
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for n in &keep {
            writeln!(out, "{}", id(n))?;
        }
        return Ok(0);
    }
    let rows: Vec<serde_json::Value> = keep
        .iter()
        .map(|n| {
            json!({
                "ID": id(n),
                "Name": n.name,
                "Driver": n.driver,
                "Scope": "local",
                // Docker's network context gives every field as a string.
                "IPv6": n.ipv6.to_string(),
                "Internal": n.internal.to_string(),
                "CreatedAt": output::go_time(&n.created, true),
                "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            })
        })
        .collect();
    let headers = [
        ("ID", "NETWORK ID"),
        ("Name", "NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("IPv6", "IPV6"),
        ("Internal", "INTERNAL"),
        ("CreatedAt", "CREATED AT"),
        ("Labels", "LABELS"),
    ];
    let format = a
        .format
        .as_deref()
        .unwrap_or("table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}");
    output::list(&mut out, format, &rows, &headers)?;
    Ok(0)
}

fn inspect(global: &Global, a: InspectArgs) -> CliResult {
    let format = a.format.as_deref().map(Format::parse).transpose()?;
    let ctx = context(global);
    let mut docs = Vec::new();
    // As Docker: what was found is printed (`[]` if nothing), then each name that was not.
    let mut missing = Vec::new();
    for name in &a.networks {
        let net = if BUILTIN.contains(&name.as_str()) {
            Network::builtin(name)
        } else {
            match network::find(&ctx, name) {
                Ok(n) => n,
                Err(e) => {
                    missing.push(e);
                    continue;
                }
            }
        };
        let attached = if net.bridge.is_empty() {
            Vec::new()
        } else {
            network::attachments(&ctx, None, Some(&net))?
        };
        docs.push((net.inspect(&attached), &docker_types::NETWORK));
    }
    crate::output::documents(&mut std::io::stdout().lock(), format.as_ref(), &docs)?;
    for e in &missing {
        eprintln!("minotaur: {e}");
    }
    Ok(if missing.is_empty() { 0 } else { 1 })
}

fn rm(global: &Global, a: RmArgs) -> CliResult {
    let ctx = context(global);
    crate::cmd::create::each(&a.networks, |n| {
        network::remove(&ctx, n).map(|_| n.to_owned())
    })
}

fn prune(global: &Global, _a: PruneArgs) -> CliResult {
    let gone = network::prune(&context(global))?;
    let mut out = std::io::stdout().lock();
    if !gone.is_empty() {
        writeln!(out, "Deleted Networks:")?;
        for n in gone {
            writeln!(out, "{n}")?;
        }
    }
    Ok(0)
}

fn connect(global: &Global, a: ConnectArgs) -> CliResult {
    network::connect(
        &context(global),
        &a.network,
        &a.container,
        NetworkRequest {
            network: a.network.clone(),
            ipv4: a.ip,
            ipv6: a.ip6,
            aliases: a.alias,
            mac: None,
        },
    )?;
    Ok(0)
}

fn disconnect(global: &Global, a: DisconnectArgs) -> CliResult {
    let _ = a.force;
    network::disconnect(&context(global), &a.network, &a.container)?;
    Ok(0)
}
