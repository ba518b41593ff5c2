//! A container on a network: which networks a new container joins, its endpoint (addresses taken in the
//! store, the veth with its container end made inside the container's namespace, routes), and `network
//! connect` / `disconnect`.

use std::fs;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::Path;

use ipnet::IpNet;
use minotaur_net::{pool, sysctl, Netlink, VethSpec};
use minotaur_state::{StateError, WriteTx};

use crate::container::{Container, NetworkRequest};
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::events;
use crate::network::dns;
use crate::network::networks::{self, default_network, invalid, realize};
use crate::network::record::{
    is_bridge_mode, read_attachments, Attachment, Endpoint, Network, DEFAULT_NETWORK,
};

/// The endpoints on a network, or of a container, or all.
pub fn attachments(
    ctx: &Context,
    container: Option<&str>,
    network: Option<&Network>,
) -> Result<Vec<Attachment>, EngineError> {
    let mut st = ctx.store()?;
    st.read(|tx| read_attachments(tx, container, network))
}

/// Resolves the networks a new container joins and reserves its host ports, inside the transaction that
/// records it. Returns the requests to attach after the namespace exists.
pub(crate) fn plan(
    ctx: &Context,
    c: &Container,
) -> Result<Vec<(Network, NetworkRequest)>, EngineError> {
    let mode = c.config.host.network_mode.as_str();
    if !is_bridge_mode(mode) {
        return Ok(Vec::new());
    }
    let mut requests = c.config.host.networks.clone();
    if requests.is_empty() {
        requests.push(NetworkRequest {
            network: mode.to_owned(),
            ..Default::default()
        });
    }
    let mut out = Vec::new();
    for r in requests {
        let net = if r.network == DEFAULT_NETWORK {
            default_network(ctx)?
        } else {
            networks::find(ctx, &r.network)?
        };
        out.push((net, r));
    }
    if !c.config.host.port_bindings.is_empty() && out.iter().all(|(n, _)| n.internal) {
        return Err(NetworkError::InternalPublish(c.name.to_string()).into());
    }
    Ok(out)
}

/// The addresses of a container's endpoint on a network, IPv4 and IPv6 (each with the subnet's prefix).
pub(crate) type Addresses = (Option<IpNet>, Option<IpNet>);

/// Takes the addresses of `c`'s endpoint on `net` in the write transaction `tx`: those `req` asks for
/// (checked against the network), else the lowest free ones. The transaction makes concurrent runs take
/// distinct ones; `create` takes them in the one that records the container.
pub(crate) fn take_addresses(
    tx: &WriteTx<'_>,
    c: &Container,
    net: &Network,
    req: &NetworkRequest,
) -> Result<Addresses, EngineError> {
    let pick = |v6: bool, wanted: Option<IpAddr>| -> Result<Option<IpNet>, EngineError> {
        let Some(s) = net.subnet_of(v6) else {
            return match wanted {
                Some(a) => Err(NetworkError::AddressOutside {
                    address: a,
                    network: net.name.clone(),
                }
                .into()),
                None => Ok(None),
            };
        };
        let addr = match wanted {
            Some(a) => {
                let range = s.ip_range.unwrap_or(s.subnet);
                if !range.contains(&a) || a == s.gateway || a == s.subnet.network() {
                    return Err(NetworkError::AddressOutside {
                        address: a,
                        network: net.name.clone(),
                    }
                    .into());
                }
                tx.claim_address(&net.id, c.id.as_str(), a)?;
                a
            }
            None => tx
                .allocate_address(
                    &net.id,
                    c.id.as_str(),
                    pool::hosts(&s.subnet, s.ip_range.as_ref(), s.gateway),
                )
                // The store knows networks by ID; the user by name.
                .map_err(|e| match e {
                    StateError::AddressesExhausted { .. } => StateError::AddressesExhausted {
                        network: net.name.clone(),
                    },
                    e => e,
                })?,
        };
        Ok(Some(
            IpNet::new(addr, s.subnet.prefix_len()).expect("prefix of a valid subnet"),
        ))
    };
    Ok((
        pick(false, req.ipv4.map(IpAddr::V4))?,
        pick(true, req.ipv6.map(IpAddr::V6))?,
    ))
}

/// Joins a container's namespace to one more network (`network connect`): its addresses taken in a
/// transaction of their own, then [`join`].
pub(crate) fn attach(
    ctx: &Context,
    c: &Container,
    net: &Network,
    req: &NetworkRequest,
    index: usize,
) -> Result<Endpoint, EngineError> {
    if c.state.sandbox_key.is_none() {
        return Err(NetworkError::NoOwnNetwork(c.name.to_string()).into());
    }
    let mut st = ctx.store()?;
    let addresses = st.write(|tx| take_addresses(tx, c, net, req))?;
    drop(st);
    log::debug!("attach {}: addresses allocated", c.name);
    crate::crash::after("attach:addresses");
    join(ctx, c, net, req, index, addresses, None)
}

/// The rest of a join once the addresses are taken: the veth, its container end configured (over
/// `inside`, a socket in the container's namespace, when there is one; else one opened there), routes,
/// the endpoint record.
pub(crate) fn join(
    ctx: &Context,
    c: &Container,
    net: &Network,
    req: &NetworkRequest,
    index: usize,
    (ipv4, ipv6): Addresses,
    inside: Option<&mut Netlink>,
) -> Result<Endpoint, EngineError> {
    let sandbox = c
        .state
        .sandbox_key
        .clone()
        .ok_or_else(|| NetworkError::NoOwnNetwork(c.name.to_string()))?;
    let mac = match &req.mac {
        Some(m) => pool::parse_mac(m).ok_or_else(|| {
            invalid(
                "MAC address",
                m,
                "expected 6 hex bytes like 02:42:ac:11:00:02",
            )
        })?,
        None => match ipv4.map(|n| n.addr()) {
            Some(IpAddr::V4(a)) => pool::mac_for(a),
            _ => {
                let mut b = [0u8; 6];
                b.copy_from_slice(&c.id.as_str().as_bytes()[..6]);
                [0x02, 0x42, b[0], b[1], b[2], b[3]]
            }
        },
    };
    let gateway4 = ipv4.and(net.subnet_of(false).map(|s| s.gateway));
    let gateway6 = ipv6.and(net.subnet_of(true).map(|s| s.gateway));
    let endpoint = Endpoint {
        network_id: net.id.clone(),
        ifname: format!("eth{index}"),
        host_veth: format!("mt{}{index}", &c.id.as_str()[..10]),
        mac: pool::format_mac(&mac),
        ipv4,
        gateway4,
        ipv6,
        gateway6,
        aliases: req.aliases.clone(),
    };
    plumb(
        c.name.as_str(),
        &sandbox,
        net,
        &endpoint,
        index,
        mac,
        inside,
    )?;
    crate::crash::after("attach:veth");
    // The endpoint and its `connect` event in one commit.
    let mut st = ctx.store()?;
    st.write(|tx| {
        tx.put_endpoint(
            c.id.as_str(),
            &net.id,
            &serde_json::to_string(&endpoint).expect("an endpoint always serializes"),
        )?;
        events::record_in(
            tx,
            "network",
            "connect",
            &net.id,
            &network_attributes(c, net),
        )
    })?;
    drop(st);
    log::debug!("attach {} to {}: {:?}", c.name, net.name, endpoint.ipv4);
    Ok(endpoint)
}

/// The kernel's side of an endpoint: the bridge (made when missing), the veth with its container end
/// inside the namespace at `sandbox`, its addresses and routes (over `inside`, a socket of that namespace,
/// when the caller has one). At `create` and `network connect`, and again after a reboot took the
/// namespace (see [`crate::network::restore`]).
pub(crate) fn plumb(
    who: &str,
    sandbox: &Path,
    net: &Network,
    endpoint: &Endpoint,
    index: usize,
    mac: [u8; 6],
    inside: Option<&mut Netlink>,
) -> Result<(), EngineError> {
    let mut nl = Netlink::open().map_err(NetworkError::from)?;
    let master = match nl.link_index(&net.bridge).map_err(NetworkError::from)? {
        Some(i) => i,
        None => realize(net, &mut nl)?,
    };
    let ns = fs::File::open(sandbox).map_err(|source| EngineError::Io {
        what: format!("open network namespace {}", sandbox.display()),
        source,
    })?;
    nl.add_veth(&VethSpec {
        host_name: &endpoint.host_veth,
        master,
        peer_name: &endpoint.ifname,
        peer_netns: ns.as_fd(),
        peer_mac: Some(mac),
        mtu: net.mtu,
    })
    .map_err(NetworkError::from)?;
    log::debug!("attach {}: veth made", who);
    // The host end is a bridge port only: it needs no IPv6 of its own (the bridge still forwards IPv6),
    // and without it there is no link-local address, route or MLD traffic per container on the host.
    sysctl::disable_ipv6(&endpoint.host_veth).map_err(NetworkError::from)?;
    nl.port_up(&endpoint.host_veth)
        .map_err(NetworkError::from)?;
    let addrs: Vec<IpNet> = endpoint
        .ipv4
        .iter()
        .chain(endpoint.ipv6.iter())
        .copied()
        .collect();
    // Only the first network gives the default route, as with Docker; internal networks none.
    let gateways: Vec<IpAddr> = if index == 0 && !net.internal {
        endpoint
            .gateway4
            .iter()
            .chain(endpoint.gateway6.iter())
            .copied()
            .collect()
    } else {
        Vec::new()
    };
    log::debug!("attach {}: host end up", who);
    match inside {
        Some(nl) => nl.configure_peer(&endpoint.ifname, &addrs, &gateways),
        None => minotaur_net::configure_peer(sandbox, &endpoint.ifname, &addrs, &gateways),
    }
    .map_err(NetworkError::from)?;
    log::debug!("attach {}: container end configured", who);
    Ok(())
}

/// `network connect`: joins a container (running or not) to one more network.
pub fn connect(
    ctx: &Context,
    network: &str,
    container: &str,
    req: NetworkRequest,
) -> Result<(), EngineError> {
    let c = ctx.find(container)?;
    let net = if network == DEFAULT_NETWORK {
        default_network(ctx)?
    } else {
        networks::find(ctx, network)?
    };
    let current = attachments(ctx, Some(c.id.as_str()), None)?;
    if current.iter().any(|a| a.endpoint.network_id == net.id) {
        return Err(NetworkError::AlreadyConnected {
            container: c.name.to_string(),
            network: net.name,
        }
        .into());
    }
    let index = (0..)
        .find(|i| {
            !current
                .iter()
                .any(|a| a.endpoint.ifname == format!("eth{i}"))
        })
        .expect("a free interface index");
    if let Err(e) = attach(ctx, &c, &net, &req, index) {
        let _ = detach_records(ctx, &c, &net);
        return Err(e);
    }
    crate::crash::after("network-connect:endpoint");
    dns::update(ctx, &c.id)
}

/// `network disconnect`: takes a container off a network.
pub fn disconnect(ctx: &Context, network: &str, container: &str) -> Result<(), EngineError> {
    let c = ctx.find(container)?;
    let net = networks::find(ctx, network)?;
    let current = attachments(ctx, Some(c.id.as_str()), None)?;
    let Some(a) = current.iter().find(|a| a.endpoint.network_id == net.id) else {
        return Err(NetworkError::NotConnected {
            container: c.name.to_string(),
            network: net.name,
        }
        .into());
    };
    if let Some(sandbox) = &c.state.sandbox_key {
        Netlink::open_in(sandbox)
            .and_then(|mut nl| nl.delete_link(&a.endpoint.ifname))
            .map_err(NetworkError::from)?;
    }
    crate::crash::after("network-disconnect:link");
    detach_records(ctx, &c, &net)?;
    crate::crash::after("network-disconnect:record");
    events::record(
        ctx,
        "network",
        "disconnect",
        &net.id,
        &network_attributes(&c, &net),
    );
    dns::update(ctx, &c.id)
}

/// Docker's attributes of a network event about container `c`: the container, the network's name and
/// driver.
fn network_attributes<'a>(c: &'a Container, net: &'a Network) -> [(&'a str, &'a str); 3] {
    [
        ("container", c.id.as_str()),
        ("name", &net.name),
        ("type", &net.driver),
    ]
}

fn detach_records(ctx: &Context, c: &Container, net: &Network) -> Result<(), EngineError> {
    let mut st = ctx.store()?;
    st.write(|tx| -> Result<(), StateError> {
        tx.delete_endpoint(c.id.as_str(), &net.id)?;
        tx.release_addresses(&net.id, c.id.as_str())
    })?;
    Ok(())
}
