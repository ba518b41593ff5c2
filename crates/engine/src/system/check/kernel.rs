//! The findings of `system check` in the kernel: namespace files and `ip netns` names, links (veths,
//! bridges, CNI host ends and their ifb devices) and the addresses the store holds for them.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use minotaur_ns::netns::NetnsName;
use minotaur_state::{Allocation, EndpointRow};

use super::{entries, owner, owner_of, Finding, Fix, Problem};
use crate::cni::attachment::is_cni_veth;
use crate::cni::bandwidth::veth_of_ifb;
use crate::container::Container;
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::network::record::CniRecord;
use crate::network::{attach, restore, DEFAULT_BRIDGE};

/// Namespace files of the run root without a container, and containers whose namespace file is gone.
pub(super) fn namespaces(
    ctx: &Context,
    containers: &[Container],
    by_id: &HashMap<&str, &Container>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let dir = ctx.paths.netns_dir();
    for name in entries(&dir)? {
        if !by_id.contains_key(name.as_str()) {
            found.push(Finding {
                owner: owner_of(by_id, &name),
                problem: Problem::Orphan,
                object: format!("network namespace file {}", dir.join(&name).display()),
                fix: Fix::DeleteNetns(name),
            });
        }
    }
    for c in containers {
        if let Some(key) = &c.state.sandbox_key {
            if restore::lost(c) {
                found.push(Finding {
                    owner: owner(c),
                    problem: Problem::Missing,
                    object: format!("network namespace file {}", key.display()),
                    fix: Fix::RestoreSandbox(c.id.clone()),
                });
            }
        }
    }
    Ok(())
}

/// `/run/netns` names: links into the run root's namespace directory that no container (of that name)
/// owns, and containers without their name. Names that are not such links (iproute2's bind mounts, links
/// elsewhere) are someone else's and are never looked at again.
pub(super) fn ip_netns(
    ctx: &Context,
    containers: &[Container],
    by_id: &HashMap<&str, &Container>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let run = Path::new(minotaur_ns::netns::RUN_DIR);
    let etc = Path::new(minotaur_ns::netns::ETC_DIR);
    let ours = ctx.paths.netns_dir();
    let mut named = HashSet::new();
    for name in entries(run)? {
        let link = run.join(&name);
        let Ok(target) = fs::read_link(&link) else {
            continue;
        };
        if target.parent() != Some(ours.as_path()) {
            continue;
        }
        let id = target
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        match by_id.get(id.as_str()) {
            Some(c) if c.name.as_str() == name => {
                named.insert(id);
            }
            _ => found.push(Finding {
                owner: owner_of(by_id, &id),
                problem: Problem::Orphan,
                object: format!("ip netns name {}", link.display()),
                fix: Fix::Unregister {
                    link,
                    etc: etc.join(&name),
                    alias: ctx.paths.netns_alias(&name),
                },
            }),
        }
    }
    // The aliases `/etc/netns` entries link through (see `Paths::netns_alias`): one named after no container
    // is a removal's leftover (a container that lost its name gets it back, alias and all, below).
    let aliases = ctx.paths.netns_aliases();
    for name in entries(&aliases)? {
        if !containers.iter().any(|c| c.name.as_str() == name) {
            let path = aliases.join(&name);
            found.push(Finding {
                owner: format!("container {name}"),
                problem: Problem::Orphan,
                object: format!("ip netns alias {}", path.display()),
                fix: Fix::Remove(path),
            });
        }
    }
    for c in containers {
        if c.state.sandbox_key.is_none() || named.contains(c.id.as_str()) || restore::lost(c) {
            continue;
        }
        let Ok(n) = NetnsName::new(c.name.as_str()) else {
            continue;
        };
        let path = minotaur_ns::netns::Registry::system().path(&n);
        // A name someone else holds is left to them, as `create` does.
        if fs::symlink_metadata(&path).is_err() {
            found.push(Finding {
                owner: owner(c),
                problem: Problem::Missing,
                object: format!("ip netns name {}", path.display()),
                fix: Fix::Register(c.id.clone()),
            });
        }
    }
    Ok(())
}

/// Veths named after a container (`mt` + 10 hex digits of its ID + an index) that no endpoint records,
/// minotaur's bridges (`mt-` + 12 hex digits, `minotaur0`) that no network records, and recorded endpoints
/// whose veth is gone while the container's namespace is there (a `network disconnect` that died after
/// taking the interface away). Returns the names of the host's links.
pub(super) fn links(
    ctx: &Context,
    containers: &[Container],
    nets: &[crate::network::Network],
    found: &mut Vec<Finding>,
) -> Result<HashSet<String>, EngineError> {
    let endpoints = attach::attachments(ctx, None, None)?;
    let veths: HashSet<&str> = endpoints
        .iter()
        .map(|a| a.endpoint.host_veth.as_str())
        .collect();
    let bridges: HashMap<&str, &str> = nets
        .iter()
        .map(|n| (n.bridge.as_str(), n.name.as_str()))
        .collect();
    let mut nl = minotaur_net::Netlink::open().map_err(NetworkError::from)?;
    let mut names = HashSet::new();
    // A removed container's veth goes with its namespace, which the kernel tears down after the last
    // reference is gone, on a work queue: for a moment the host end outlives the record.
    let settle = Instant::now() + NAMESPACE_TEARDOWN;
    for link in nl.links().map_err(NetworkError::from)? {
        let name = link.name;
        match Some(link.kind.as_str()).filter(|k| !k.is_empty()) {
            Some("veth") if is_our_veth(&name) && !veths.contains(name.as_str()) => {
                let prefix = &name[2..12];
                let holder = containers
                    .iter()
                    .find(|c| c.id.as_str().starts_with(prefix));
                if holder.is_none() && gone_by(&mut nl, &name, settle) {
                    continue;
                }
                found.push(Finding {
                    owner: holder.map_or_else(|| format!("container {prefix}"), owner),
                    problem: Problem::Orphan,
                    object: format!("veth {name}"),
                    fix: Fix::DeleteLink(name.clone()),
                })
            }
            Some("bridge") if is_our_bridge(&name) && !bridges.contains_key(name.as_str()) => found
                .push(Finding {
                    owner: "network (no record)".into(),
                    problem: Problem::Orphan,
                    object: format!("bridge {name}"),
                    fix: Fix::DeleteLink(name.clone()),
                }),
            _ => {}
        }
        names.insert(name);
    }
    let live: HashMap<&str, &Container> = containers
        .iter()
        .filter(|c| c.state.sandbox_key.is_some() && !restore::lost(c))
        .map(|c| (c.id.as_str(), c))
        .collect();
    for a in &endpoints {
        let Some(c) = live.get(a.container_id.as_str()) else {
            continue;
        };
        if !names.contains(&a.endpoint.host_veth) {
            found.push(Finding {
                owner: owner(c),
                problem: Problem::Missing,
                object: format!(
                    "veth {} (its endpoint on network {})",
                    a.endpoint.host_veth, a.network
                ),
                fix: Fix::Endpoint {
                    container: c.id.clone(),
                    network: a.endpoint.network_id.clone(),
                },
            });
        }
    }
    Ok(names)
}

/// How long the kernel may take to tear down a network namespace whose last reference went.
pub(super) const NAMESPACE_TEARDOWN: Duration = Duration::from_secs(2);

/// Whether link `name` is gone by `deadline`, polled.
pub(super) fn gone_by(nl: &mut minotaur_net::Netlink, name: &str, deadline: Instant) -> bool {
    loop {
        match nl.link_index(name) {
            Ok(None) => return true,
            Ok(Some(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => return false,
        }
    }
}

/// Addresses the store gives a container on a network where it has no endpoint: an attach that died
/// between taking them and recording the endpoint. A container half made is removed whole instead.
pub(super) fn addresses(
    rows: &[EndpointRow],
    allocations: &[(&crate::network::Network, Allocation)],
    by_id: &HashMap<&str, &Container>,
    half: &HashSet<&str>,
    found: &mut Vec<Finding>,
) {
    let attached: HashSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r.container_id.as_str(), r.network_id.as_str()))
        .collect();
    for (net, a) in allocations {
        if half.contains(a.container_id.as_str())
            || attached.contains(&(a.container_id.as_str(), net.id.as_str()))
        {
            continue;
        }
        found.push(Finding {
            owner: owner_of(by_id, &a.container_id),
            problem: Problem::Orphan,
            object: format!(
                "address {} on network {} (no endpoint)",
                a.address, net.name
            ),
            fix: Fix::ReleaseAddresses {
                network: net.id.clone(),
                container: a.container_id.clone(),
            },
        });
    }
}

/// CNI attachments: a host end (`mc…`) that no record names is an orphan, and so is an ifb device (`mb…`)
/// whose host end is gone; a record whose host end is
/// gone (its namespace went away without a DEL, or an ADD died before making it) is stale, and goes with
/// its addresses and ports, as a GC would take it.
pub(super) fn cni(
    ctx: &Context,
    nets: &[crate::network::Network],
    links: &HashSet<String>,
    found: &mut Vec<Finding>,
) -> Result<(), EngineError> {
    let rows = {
        let mut st = ctx.store()?;
        st.read(|tx| tx.cni_attachments(None))?
    };
    let mut recorded = HashSet::new();
    for row in &rows {
        let net = nets
            .iter()
            .find(|n| n.id == row.network_id)
            .map_or(row.network_id.as_str(), |n| n.name.as_str());
        let veth = serde_json::from_str::<CniRecord>(&row.data)
            .ok()
            .map(|r| r.endpoint.host_veth);
        if let Some(v) = &veth {
            recorded.insert(v.clone());
        }
        if veth.as_ref().is_some_and(|v| links.contains(v)) {
            continue;
        }
        found.push(Finding {
            owner: format!(
                "CNI attachment {}/{} on network {net}",
                row.container_id, row.ifname
            ),
            problem: Problem::Stale,
            object: match veth {
                Some(v) => format!("record (its veth {v} is gone)"),
                None => "record of an attachment half made".into(),
            },
            fix: Fix::CniRecord {
                network: row.network_id.clone(),
                container: row.container_id.clone(),
                ifname: row.ifname.clone(),
            },
        });
    }
    for name in links
        .iter()
        .filter(|l| is_cni_veth(l) && !recorded.contains(*l))
    {
        found.push(Finding {
            owner: "CNI attachment (no record)".into(),
            problem: Problem::Orphan,
            object: format!("veth {name}"),
            fix: Fix::DeleteLink(name.clone()),
        });
    }
    // An ifb device shapes its host end's egress: without that host end it serves nothing.
    for (name, veth) in links
        .iter()
        .filter_map(|l| Some((l, veth_of_ifb(l)?)))
        .filter(|(_, veth)| !links.contains(veth))
    {
        found.push(Finding {
            owner: "CNI attachment (no host end)".into(),
            problem: Problem::Orphan,
            object: format!("ifb {name} (its veth {veth} is gone)"),
            fix: Fix::DeleteLink(name.clone()),
        });
    }
    Ok(())
}

pub(crate) fn is_our_veth(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("mt") else {
        return false;
    };
    rest.len() > 10
        && rest[..10].bytes().all(|b| b.is_ascii_hexdigit())
        && rest[10..].bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn is_our_bridge(name: &str) -> bool {
    name == DEFAULT_BRIDGE
        || name
            .strip_prefix("mt-")
            .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_link_names() {
        assert!(is_our_veth("mt01234567890"));
        assert!(is_our_veth("mtabcdef012312"));
        assert!(!is_our_veth("mtabcdef0123x1"));
        assert!(!is_our_veth("veth0123456789"));
        assert!(!is_our_veth("mt0123456789"));
        assert!(is_our_bridge("minotaur0"));
        assert!(is_our_bridge("mt-0123456789ab"));
        assert!(!is_our_bridge("br-0123456789ab"));
        assert!(!is_our_bridge("docker0"));
        assert!(!is_our_bridge("mt-xyz"));
    }
}
