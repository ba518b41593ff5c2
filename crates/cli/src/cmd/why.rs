//! `minotaur why`: whether one party can reach another, and if not, why.

use std::io::Write;

use minotaur_engine::topology::probe::Transport;
use minotaur_engine::topology::why;

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Explain whether SOURCE can reach DEST, and if not, why
///
/// SOURCE and DEST are containers, `host`, `outside` (the host's default route) or addresses. DEST may
/// carry a port (`web:80`, `10.0.0.2:53/udp`, `[fd00::2]:80`). The answer comes from minotaur's network
/// model (networks, internal networks, isolation, published ports, names) and is confirmed by one real
/// attempt from SOURCE's network namespace: a TCP connect, a UDP datagram, or a ping without a port.
/// Exits 0 when DEST is reachable and 1 when it is not, naming the reason and the nftables rule behind it;
/// 2 when the question cannot be asked (an unknown container, a malformed DEST).
#[derive(Debug, clap::Args)]
pub struct Args {
    source: String,
    #[arg(value_name = "DEST[:PORT][/udp]")]
    dest: String,

    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    // Bad input is exit 2, so that it is not mistaken for "unreachable" (1).
    let bad = |e| CliError::with_code(2, e);
    let source = why::parse_source(&args.source).map_err(bad)?;
    let dest = why::parse_dest(&args.dest).map_err(bad)?;
    let v = why::why(&context(global), &source, &dest).map_err(bad)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        Format::Text => {
            let verdict = if v.reachable {
                "reachable"
            } else {
                "unreachable"
            };
            writeln!(out, "{} -> {}: {verdict}", v.source, v.dest)?;
            for step in &v.path {
                writeln!(out, "  - {step}")?;
            }
            writeln!(out, "  reason: {}", v.reason)?;
            if let Some(r) = &v.rule {
                writeln!(out, "  rule:   {r}")?;
            }
            if let Some(p) = &v.probe {
                writeln!(
                    out,
                    "  probe:  {} to {} from {}: {}",
                    match p.transport {
                        Transport::Tcp => "tcp connect",
                        Transport::Udp => "udp datagram",
                        Transport::Icmp => "ping",
                    },
                    p.to,
                    p.from,
                    p.outcome.describe()
                )?;
            }
        }
    }
    Ok(if v.reachable { 0 } else { 1 })
}
