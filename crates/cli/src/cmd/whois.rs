//! `minotaur whois`: who owns an address, an interface, a host port, a process or a namespace.

use std::io::Write;

use minotaur_engine::topology::whois::{self, Finding, IfaceRef, Query};

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Tell which container, network, network namespace and interface own something
///
/// TARGET is an address (`172.17.0.2`), an interface (`mt1a2b3c4d50`, `eth0`), a host port (`:8080`,
/// `:53/udp`), a PID, or a namespace inode (`4026532301`, `net:[4026532301]`). A veth's peer comes from
/// the kernel (IFLA_LINK and IFLA_LINK_NETNSID); a host port from minotaur's nftables table (published
/// ports are DNATed, so `ss` does not show them) and from the sockets in every namespace. What minotaur did
/// not make is labelled by what it is: an `ip netns` name, docker's or podman's, a process's. Needs no
/// minotaur process running.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "TARGET")]
    target: String,

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
    let query = Query::parse(&args.target).map_err(|e| CliError::with_code(1, e))?;
    let found = whois::whois(&context(global), &query).map_err(|e| CliError::with_code(1, e))?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &found)?;
            writeln!(out)?;
        }
        Format::Text => {
            for (i, f) in found.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                for line in text(f) {
                    writeln!(out, "{line}")?;
                }
            }
        }
    }
    Ok(0)
}

fn iface(i: &IfaceRef) -> String {
    let mut s = format!("{} (ifindex {}", i.name, i.index);
    if !i.kind.is_empty() {
        s.push_str(&format!(", {}", i.kind));
    }
    s.push(')');
    for a in &i.addrs {
        s.push_str(&format!(" {a}"));
    }
    if let Some(b) = &i.bridge {
        s.push_str(&format!(" on bridge {b}"));
    }
    if let Some(m) = &i.mac {
        s.push_str(&format!(" mac {m}"));
    }
    s.push_str(&format!(" in {} net:[{}]", i.owner, i.netns));
    s
}

/// One finding as `key  value` lines under its title.
fn text(f: &Finding) -> Vec<String> {
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(o) = &f.owner {
        rows.push(("owner", o.to_string()));
    }
    if let Some(c) = &f.container {
        rows.push((
            "container",
            format!("{} ({}, {})", c.name, &c.id[..12.min(c.id.len())], c.status),
        ));
    }
    if !f.networks.is_empty() {
        rows.push(("network", f.networks.join(", ")));
    }
    if let Some(n) = &f.netns {
        rows.push((
            "netns",
            format!("net:[{}] {} ({})", n.inode, n.path.display(), n.owner),
        ));
    }
    if let Some(i) = &f.interface {
        rows.push(("interface", iface(i)));
    }
    if let Some(p) = &f.peer {
        rows.push(("veth peer", iface(p)));
    }
    for p in &f.published {
        rows.push(("published", p.clone()));
    }
    for l in &f.listeners {
        let who = if l.processes.is_empty() {
            String::new()
        } else {
            format!(" by {}", l.processes.join(", "))
        };
        rows.push((
            "listener",
            format!(
                "{} {}:{} in {} net:[{}]{who}",
                l.proto, l.addr, l.port, l.owner, l.netns
            ),
        ));
    }
    if let Some(p) = &f.process {
        let role = if p.role.is_empty() {
            String::new()
        } else {
            format!(", {}", p.role)
        };
        rows.push(("process", format!("{} ({}){role}", p.pid, p.command)));
    }
    if !f.pids.is_empty() {
        let shown: Vec<String> = f.pids.iter().take(20).map(i32::to_string).collect();
        let more = if f.pids.len() > 20 {
            format!(" (+{} more)", f.pids.len() - 20)
        } else {
            String::new()
        };
        rows.push(("processes", format!("{}{more}", shown.join(" "))));
    }
    for m in &f.mounts {
        rows.push(("mounted at", m.display().to_string()));
    }
    for n in &f.notes {
        rows.push(("note", n.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = vec![f.what.clone()];
    out.extend(rows.into_iter().map(|(k, v)| format!("  {k:width$}  {v}")));
    out
}
