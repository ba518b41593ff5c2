//! A container's network after a reboot: the run root is a tmpfs, so the namespace file, the veths (which
//! died with the namespace), the bridges, minotaur's firewall table, the resolver's files and the
//! `/run/netns` names are gone, while the records of all of them are in the state store. This makes a
//! container's namespace again from its records: a new namespace bound at the same SandboxKey, `lo` up,
//! each endpoint plumbed again with its recorded addresses, MAC and interface name (the bridge made again
//! by the first one that needs it), its `ip netns` name. The caller then puts the firewall table back
//! (`network reload`, once for all containers) and tells the resolver.
//!
//! Nothing is allocated: a restored container has the addresses and host ports it had, so `--network
//! container:X` joiners, published ports and names come back as they were.

use std::path::Path;

use minotaur_ns::netns::{NetnsError, NetnsName};

use crate::container::Container;
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::network::attach::{attachments, plumb};
use crate::network::netns;
use crate::network::record::{Endpoint, Network};
use crate::runroot;

/// Whether the container's network namespace file is gone (or is no longer a namespace): what a reboot
/// leaves.
pub(crate) fn lost(c: &Container) -> bool {
    c.state.sandbox_key.as_deref().is_some_and(|key| {
        !nix::sys::statfs::statfs(key)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
    })
}

/// Makes a container's network namespace and endpoints again from its records, when it has its own
/// namespace and the file is gone. Returns whether it did. The firewall table and the resolver are the
/// caller's (see the module's documentation).
pub(crate) fn sandbox(ctx: &Context, c: &Container) -> Result<bool, EngineError> {
    let Some(key) = c.state.sandbox_key.as_deref() else {
        return Ok(false);
    };
    if !lost(c) {
        return Ok(false);
    }
    log::info!("container {}: making its network namespace again", c.name);
    runroot::ready(ctx)?;
    let name = NetnsName::new(c.id.as_str())?;
    let registry = ctx.netns();
    // Whatever is left where the file was (a file the mount was lost from) goes first.
    match registry.delete(&name) {
        Ok(()) | Err(NetnsError::NotFound(..)) => {}
        Err(e) => return Err(e.into()),
    }
    registry.add(&name)?;
    loopback_up(key)?;
    let mut endpoints = attachments(ctx, Some(c.id.as_str()), None)?;
    endpoints.sort_by_key(|a| index_of(&a.endpoint.ifname));
    let networks = crate::network::networks::list(ctx)?;
    for a in &endpoints {
        endpoint(c, key, &networks, &a.endpoint)?;
    }
    netns::unregister(&ctx.paths, c.name.as_str(), key);
    netns::register(&ctx.paths, &c.id, c.name.as_str(), key)?;
    Ok(true)
}

/// Makes one recorded endpoint of container `c` again in its namespace at `key`: the veth, with its
/// recorded addresses, MAC and interface name (`system check --repair` of an endpoint whose veth is gone).
pub(crate) fn endpoint(
    c: &Container,
    key: &Path,
    networks: &[Network],
    e: &Endpoint,
) -> Result<(), EngineError> {
    let net = networks
        .iter()
        .find(|n| n.id == e.network_id)
        .ok_or_else(|| NetworkError::NoSuchNetwork(e.network_id.clone()))?;
    let mac = minotaur_net::pool::parse_mac(&e.mac).ok_or_else(|| {
        crate::network::networks::invalid("MAC address", &e.mac, "the endpoint's record is corrupt")
    })?;
    plumb(c.name.as_str(), key, net, e, index_of(&e.ifname), mac, None)
}

/// `eth3` → 3.
fn index_of(ifname: &str) -> usize {
    ifname
        .trim_start_matches(|ch: char| !ch.is_ascii_digit())
        .parse()
        .unwrap_or(0)
}

/// Brings up `lo` in the network namespace at `path`, as Docker does in every network namespace it makes
/// (with `--network none` too: 127.0.0.1 works). On a thread of its own that joins the namespace and ends,
/// so this process never leaves its own; the CLI forks only later, single-threaded again.
pub(crate) fn loopback_up(path: &Path) -> Result<(), EngineError> {
    minotaur_net::in_netns(path, || {
        minotaur_sys::interface_up("lo").map_err(|source| EngineError::Sys {
            what: format!("bring up the loopback interface in {}", path.display()),
            source,
        })
    })
}
