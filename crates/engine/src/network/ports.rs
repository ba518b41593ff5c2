//! Published ports: their records (the `ports` table, host ports picked in the transaction that records the
//! container), and their rules in minotaur's firewall table and in the connect4 redirect of loopback ports.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::Path;

use minotaur_firewall::connect::ConnectRedirect;
use minotaur_firewall::{Firewall, NetworkRules, PortRule, Proto as FwProto};
use minotaur_net::Netlink;
use minotaur_state::PortRow;

use crate::container::Container;
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::network::networks::{self, realize};
use crate::network::record::{read_attachments, CniRecord, Endpoint, Network};
use crate::parse::{PortMapping, Proto};
use crate::runroot;

/// Where `-P` and `-p CONTAINER` find host ports when the kernel does not say: Linux's default ephemeral
/// range.
const EPHEMERAL_PORTS: (u16, u16) = (32768, 60999);

/// Where `-P` and `-p CONTAINER` find host ports: the host's ephemeral range, as Docker takes it,
/// `net.ipv4.ip_local_port_range` of the network namespace minotaur runs in (the sysctl is per namespace).
fn ephemeral_ports() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| parse_port_range(&s))
        .unwrap_or(EPHEMERAL_PORTS)
}

/// `ip_local_port_range`'s two numbers, low and high, separated by white space.
fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let mut it = s.split_whitespace().map(|n| n.parse::<u16>().ok());
    match (it.next()??, it.next()??, it.next()) {
        (lo, hi, None) if lo > 0 && lo <= hi => Some((lo, hi)),
        _ => None,
    }
}

/// A published port as recorded: `host_ip` `None` is every host address.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub proto: Proto,
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
}

impl Published {
    pub(crate) fn from_row(r: &PortRow) -> Published {
        Published {
            proto: if r.proto == "udp" {
                Proto::Udp
            } else {
                Proto::Tcp
            },
            host_ip: r.host_ip.parse().ok(),
            host_port: r.host_port,
            container_port: r.container_port,
        }
    }

    /// Docker's `0.0.0.0:8080->80/tcp`.
    pub fn display(&self) -> String {
        format!(
            "{}:{}->{}/{}",
            self.host_ip
                .map_or("0.0.0.0".to_owned(), |ip| ip.to_string()),
            self.host_port,
            self.container_port,
            self.proto.as_str()
        )
    }
}

/// A container's published ports.
pub fn published(ctx: &Context, container: &str) -> Result<Vec<Published>, EngineError> {
    let mut st = ctx.store()?;
    let rows = st.read(|tx| tx.ports(Some(container)))?;
    Ok(rows.iter().map(Published::from_row).collect())
}

/// Every container's published ports, by container ID.
pub fn all_published(ctx: &Context) -> Result<BTreeMap<String, Vec<Published>>, EngineError> {
    let mut st = ctx.store()?;
    let rows = st.read(|tx| tx.ports(None))?;
    let mut out: BTreeMap<String, Vec<Published>> = BTreeMap::new();
    for r in &rows {
        out.entry(r.container_id.clone())
            .or_default()
            .push(Published::from_row(r));
    }
    Ok(out)
}

/// Records a new container's published ports, picking host ports for those without one.
pub(crate) fn reserve(
    tx: &minotaur_state::WriteTx<'_>,
    c: &Container,
    ports: &[PortMapping],
) -> Result<(), EngineError> {
    let mut picked: Vec<u16> = Vec::new();
    let (lo, hi) = if ports.iter().any(|p| p.host_port.is_none()) {
        ephemeral_ports()
    } else {
        EPHEMERAL_PORTS
    };
    for p in ports {
        let host_ip = p.host_ip.map(|ip| ip.to_string()).unwrap_or_default();
        let proto = p.proto.as_str();
        let host_port = match p.host_port {
            Some(port) => port,
            None => tx.free_port(proto, &host_ip, lo, hi, &picked)?,
        };
        picked.push(host_port);
        tx.publish_port(&PortRow {
            proto: proto.to_owned(),
            host_ip,
            host_port,
            container_id: c.id.to_string(),
            container_port: p.container_port,
        })?;
    }
    Ok(())
}

/// Restores minotaur's firewall table from the store (after someone flushed the ruleset), with the
/// cluster IPs' ready endpoints, and the bridges' sysctls.
pub fn reload(ctx: &Context) -> Result<(), EngineError> {
    let networks = networks::list(ctx)?;
    let rules = wanted(ctx)?.into_iter().map(|(_, r)| r).collect::<Vec<_>>();
    let mut nl = Netlink::open().map_err(NetworkError::from)?;
    for n in &networks {
        if nl
            .link_index(&n.bridge)
            .map_err(NetworkError::from)?
            .is_some()
        {
            realize(n, &mut nl)?;
        }
    }
    let mut fw = Firewall::open().map_err(NetworkError::from)?;
    let all: Vec<NetworkRules> = networks.iter().map(Network::rules).collect();
    fw.sync(&all, &rules).map_err(NetworkError::from)?;
    // The table was made anew: the cluster IPs' endpoints go back in.
    crate::network::services::reload(ctx, &mut fw)?;
    // A map pinned by an earlier command is synced too, whatever --connect-cgroup says now: its
    // program still redirects by it.
    if let Some(r) = connect_redirect(ctx).or_else(|| pinned_redirect(ctx)) {
        r.sync(&rules).map_err(NetworkError::from)?;
    }
    Ok(())
}

/// Every recorded port's firewall rules, each with the ID of the container that publishes it: what
/// minotaur's port maps hold when they agree with the store.
pub fn wanted(ctx: &Context) -> Result<Vec<(String, PortRule)>, EngineError> {
    let mut st = ctx.store()?;
    let (ports, attached) = st.read(|tx| -> Result<_, EngineError> {
        Ok((tx.ports(None)?, read_attachments(tx, None, None)?))
    })?;
    let cni = st.read(|tx| tx.cni_attachments(None))?;
    drop(st);
    let mut rules = Vec::new();
    for row in &cni {
        let Ok(rec) = serde_json::from_str::<CniRecord>(&row.data) else {
            continue;
        };
        rules.extend(
            cni_port_rules(&rec)
                .into_iter()
                .map(|r| (format!("cni:{}/{}", row.container_id, row.ifname), r)),
        );
    }
    for row in &ports {
        let eps: Vec<&Endpoint> = attached
            .iter()
            .filter(|a| a.container_id == row.container_id)
            .map(|a| &a.endpoint)
            .collect();
        rules.extend(
            port_rules(&Published::from_row(row), &eps)
                .into_iter()
                .map(|r| (row.container_id.clone(), r)),
        );
    }
    Ok(rules)
}

/// The firewall rules of a container's recorded ports, towards its endpoints' addresses.
fn port_rules_of(ctx: &Context, c: &Container) -> Result<Vec<PortRule>, EngineError> {
    // Its ports are recorded from its bindings alone (see [`reserve`]): none, nothing to read.
    if c.config.host.port_bindings.is_empty() {
        return Ok(Vec::new());
    }
    let id = c.id.as_str();
    let mut st = ctx.store()?;
    let (ports, attached) = st.read(|tx| -> Result<_, EngineError> {
        Ok((tx.ports(Some(id))?, read_attachments(tx, Some(id), None)?))
    })?;
    let eps: Vec<&Endpoint> = attached.iter().map(|a| &a.endpoint).collect();
    Ok(ports
        .iter()
        .flat_map(|p| port_rules(&Published::from_row(p), &eps))
        .collect())
}

/// The firewall rules of a CNI attachment's ports, towards its addresses.
pub(crate) fn cni_port_rules(rec: &CniRecord) -> Vec<PortRule> {
    rec.ports
        .iter()
        .flat_map(|p| {
            let published = Published {
                proto: p.proto,
                host_ip: p.host_ip,
                host_port: p.host_port,
                container_port: p.container_port,
            };
            port_rules(&published, &[&rec.endpoint])
        })
        .collect()
}

/// Publishes a container's recorded ports in the firewall.
pub(crate) fn publish(ctx: &Context, c: &Container) -> Result<(), EngineError> {
    add_rules(ctx, &port_rules_of(ctx, c)?)
}

/// Puts port rules in the firewall (and the connect4 redirect, when there is one), whoever's they are.
/// They must be in the store already: a flushed table is put back from it.
pub(crate) fn add_rules(ctx: &Context, rules: &[PortRule]) -> Result<(), EngineError> {
    if rules.is_empty() {
        return Ok(());
    }
    let mut fw = Firewall::open().map_err(NetworkError::from)?;
    match fw.add_ports(rules) {
        // Someone flushed the ruleset: put minotaur's table back from the store, which has this
        // container's ports already.
        Err(minotaur_firewall::FirewallError::TableMissing) => {
            drop(fw);
            reload(ctx)?;
        }
        other => other.map_err(NetworkError::from)?,
    }
    if let Some(r) = connect_redirect(ctx) {
        r.add(rules).map_err(NetworkError::from)?;
    }
    Ok(())
}

/// Takes a container's ports off the firewall. Its veths go with its namespace.
pub(crate) fn unpublish(ctx: &Context, c: &Container) -> Result<(), EngineError> {
    remove_rules(ctx, &port_rules_of(ctx, c)?)
}

/// Takes port rules off the firewall and the connect4 redirect.
pub(crate) fn remove_rules(ctx: &Context, rules: &[PortRule]) -> Result<(), EngineError> {
    if !rules.is_empty() {
        // Whatever --connect-cgroup says now: an entry left behind would send connections to an
        // address the container no longer has.
        if let Some(r) = pinned_redirect(ctx) {
            r.remove_ports(rules).map_err(NetworkError::from)?;
        }
        let mut fw = Firewall::open().map_err(NetworkError::from)?;
        fw.remove_ports(rules).map_err(NetworkError::from)?;
    }
    Ok(())
}

/// The connect4 redirect of published loopback ports (see `minotaur_firewall::connect`), pinned in
/// `<runroot>/bpf` and made on first use; `None` when `--connect-cgroup` is off, or it cannot be made
/// here (a warning: the DNAT still carries those connections).
fn connect_redirect(ctx: &Context) -> Option<ConnectRedirect> {
    let cgroup = ctx.paths.connect_cgroup.as_deref()?;
    let dir = minotaur_firewall::connect::pin_dir(&ctx.paths.runroot);
    let made = (|| -> Result<ConnectRedirect, EngineError> {
        if let Some(r) = ConnectRedirect::open(&dir).map_err(NetworkError::from)? {
            return Ok(r);
        }
        let _lock = runroot::locked(ctx)?;
        if !is_bpffs(&dir) {
            fs::create_dir_all(&dir).map_err(|source| EngineError::Io {
                what: format!("create {}", dir.display()),
                source,
            })?;
            nix::mount::mount(
                Some("bpf"),
                &dir,
                Some("bpf"),
                nix::mount::MsFlags::empty(),
                Some("mode=0700"),
            )
            .map_err(|source| EngineError::Sys {
                what: format!("mount a bpffs on {}", dir.display()),
                source,
            })?;
        }
        match ConnectRedirect::open(&dir).map_err(NetworkError::from)? {
            Some(r) => Ok(r),
            None => Ok(ConnectRedirect::make(&dir, cgroup).map_err(NetworkError::from)?),
        }
    })();
    made.map_err(|e| redirect_warning(&e)).ok()
}

/// The connect4 redirect if one is pinned, made or not by this invocation's `--connect-cgroup`.
pub(crate) fn pinned_redirect(ctx: &Context) -> Option<ConnectRedirect> {
    let dir = minotaur_firewall::connect::pin_dir(&ctx.paths.runroot);
    ConnectRedirect::open(&dir)
        .map_err(|e| redirect_warning(&NetworkError::from(e).into()))
        .ok()
        .flatten()
}

/// The firewall rules of one published port: towards the container's IPv4 address, and its IPv6 one when
/// it has one and the port is not tied to an IPv4 host address.
fn port_rules(p: &Published, eps: &[&Endpoint]) -> Vec<PortRule> {
    let proto = match p.proto {
        Proto::Tcp => FwProto::Tcp,
        Proto::Udp => FwProto::Udp,
    };
    // The first interface's (eth0's) addresses, whatever order the endpoints were read in: the store lists
    // them by network ID, and a port must lead to the same address at `create` (one endpoint) as at a
    // reload after a `network connect` (several).
    let mut eps = eps.to_vec();
    eps.sort_by_key(|e| {
        e.ifname
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse::<usize>()
            .unwrap_or(usize::MAX)
    });
    let v4 = eps.iter().find_map(|e| e.ipv4.map(|n| n.addr()));
    let v6 = eps.iter().find_map(|e| e.ipv6.map(|n| n.addr()));
    let mut out = Vec::new();
    for target in [v4, v6].into_iter().flatten() {
        if p.host_ip.is_some_and(|h| h.is_ipv4() != target.is_ipv4()) {
            continue;
        }
        out.push(PortRule {
            proto,
            host_ip: p.host_ip,
            host_port: p.host_port,
            container_ip: target,
            container_port: p.container_port,
        });
    }
    out
}

fn redirect_warning(e: &EngineError) {
    log::warn!(
        "published ports on 127.0.0.1 go through DNAT only: {}",
        crate::error_chain(e)
    );
}

/// Whether `dir` is the root of a bpffs.
fn is_bpffs(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir)
        .map(|s| s.filesystem_type() == nix::sys::statfs::BPF_FS_MAGIC)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_port_range_is_read_as_it_prints_it() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_port_range("40000 40000"), Some((40000, 40000)));
        for bad in ["", "40000", "2 1", "0 10", "1 2 3", "1 65536", "a b"] {
            assert_eq!(parse_port_range(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ports_reach_both_families_unless_tied_to_one() {
        let ep = Endpoint {
            network_id: "n".into(),
            ifname: "eth0".into(),
            host_veth: "v".into(),
            mac: String::new(),
            ipv4: Some("10.0.0.2/24".parse().unwrap()),
            gateway4: None,
            ipv6: Some("fd00::2/64".parse().unwrap()),
            gateway6: None,
            aliases: vec![],
        };
        let p = Published {
            proto: Proto::Tcp,
            host_ip: None,
            host_port: 8080,
            container_port: 80,
        };
        assert_eq!(port_rules(&p, &[&ep]).len(), 2);
        let p = Published {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            ..p
        };
        let r = port_rules(&p, &[&ep]);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].container_ip.to_string(), "10.0.0.2");
    }
}
