use minotaur_engine::network;
use std::io::Write;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// List a container's published ports, or the host address of one of them
#[derive(Debug, clap::Args)]
pub struct Args {
    pub(crate) container: String,
    /// PRIVATE_PORT[/PROTO]
    pub(crate) port: Option<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    let c = ctx.find(&args.container)?;
    let ports = network::published(&ctx, c.id.as_str())?;
    let wanted = match &args.port {
        None => None,
        Some(p) => {
            let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            let port: u16 = port
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid port {p:?}: expected PORT[/tcp|udp]"))?;
            if proto != "tcp" && proto != "udp" {
                return Err(
                    anyhow::anyhow!("invalid port {p:?}: the protocol must be tcp or udp").into(),
                );
            }
            Some((port, proto.to_owned()))
        }
    };
    let mut out = std::io::stdout().lock();
    let mut found = false;
    for p in &ports {
        let host = format!(
            "{}:{}",
            p.host_ip.map_or("0.0.0.0".to_owned(), |ip| match ip {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            }),
            p.host_port
        );
        match &wanted {
            None => writeln!(out, "{}/{} -> {host}", p.container_port, p.proto.as_str())?,
            Some((port, proto)) if *port == p.container_port && proto == p.proto.as_str() => {
                writeln!(out, "{host}")?
            }
            Some(_) => continue,
        }
        found = true;
    }
    if let (Some(_), false) = (&wanted, found) {
        // Docker names the port as it was asked for: `81`, or `81/udp`.
        let asked = args.port.as_deref().unwrap_or_default();
        return Err(anyhow::anyhow!("no public port '{asked}' published for {}", c.name).into());
    }
    Ok(0)
}
