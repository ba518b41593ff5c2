//! ADD, DEL, CHECK, GC and STATUS: a CNI runtime's network namespace on a minotaur network.
//!
//! ADD takes the addresses and records the attachment in one write transaction (so parallel ADDs get
//! distinct addresses, and a DEL after a half-done ADD finds what to undo), then makes the veth with its
//! inside end created directly in `CNI_NETNS` (the plumbing containers' endpoints use), its routes, its
//! shaping (the `bandwidth` capability, [`crate::cni::bandwidth`]) and its ports. DEL removes the host end
//! (the kernel takes the inside end with it, and with the namespace gone it is gone already), the ifb
//! device, the ports and the record; what is already gone is not an error, so DEL is idempotent.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use minotaur_net::{pool, Netlink};
use minotaur_state::{CniAttachmentRow, StateError};
use serde_json::{json, Value};

use crate::cni::config::{Invocation, NetConf, Range};
use crate::cni::error::CniError;
use crate::cni::{bandwidth, ipam};
use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::ids::random_hex;
use crate::network::attach::plumb;
use crate::network::dns;
use crate::network::networks::{self, NetworkCreate};
use crate::network::ports::{add_rules, cni_port_rules, remove_rules};
use crate::network::record::{
    CniRecord, CniRoute, Endpoint, Network, DEFAULT_NETWORK, INHIBIT_IPV4,
};

/// The prefix of an attachment's host veth: `mc` and 13 hex digits (a container's are `mt…`).
const VETH_PREFIX: &str = "mc";

/// Whether `name` is an attachment's host veth by its form.
pub(crate) fn is_cni_veth(name: &str) -> bool {
    name.strip_prefix(VETH_PREFIX)
        .is_some_and(|h| h.len() == 13 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// ADD: joins `CNI_NETNS` to the network and returns the spec's result.
pub fn add(ctx: &Context, inv: &Invocation, conf: &NetConf) -> Result<Value, CniError> {
    let netns = inv.netns.as_deref().expect("ADD has CNI_NETNS (checked)");
    // Opened first: a namespace that is not there costs nothing in the store.
    File::open(netns).map_err(|source| {
        CniError::from(EngineError::Io {
            what: format!("open network namespace {}", netns.display()),
            source,
        })
    })?;
    let net = network_for(ctx, conf)?;
    let ports = conf
        .runtime_config
        .port_mappings
        .iter()
        .map(|p| p.port())
        .collect::<Result<Vec<_>, _>>()?;
    if !ports.is_empty() && net.internal {
        return Err(
            NetworkError::InternalPublish(format!("{}/{}", inv.container_id, inv.ifname)).into(),
        );
    }
    let wanted = ipam::wanted_ips(conf, inv)?;
    // A default route with a gateway of its own is a route like the others; one without goes via the
    // network's gateway, as the default routes do.
    let routes: Vec<CniRoute> = conf
        .routes()
        .iter()
        .filter(|r| r.dst.prefix_len() != 0 || r.gw.is_some())
        .map(|r| CniRoute {
            dst: r.dst.trunc(),
            gw: r.gw,
        })
        .collect();
    // Default routes unless the configuration lists routes without one (host-local's `routes`), or the
    // bridge holds no gateway and the routes do not name one.
    let named_default = conf
        .routes()
        .iter()
        .any(|r| r.dst.prefix_len() == 0 && r.gw.is_none());
    let default_routes = !net.internal
        && (named_default
            || conf.is_default_gateway == Some(true)
            || (conf.routes().is_empty() && net.bridge_holds_gateway(false)));
    let host_veth = format!("{VETH_PREFIX}{}", &random_hex()[..13]);
    // The pod's name where a Kubernetes runtime gives it, and the container ID, as DNS labels.
    let names: Vec<String> = inv
        .args
        .get("K8S_POD_NAME")
        .into_iter()
        .chain(std::iter::once(&inv.container_id))
        .filter(|n| is_dns_label(n))
        .cloned()
        .collect();
    let mut st = ctx.store()?;
    let rec = st.write(|tx| -> Result<CniRecord, CniError> {
        check_ports(tx, &ports)?;
        tx.insert_cni_attachment(&CniAttachmentRow {
            network_id: net.id.clone(),
            container_id: inv.container_id.clone(),
            ifname: inv.ifname.clone(),
            netns: netns.display().to_string(),
            created_at: String::new(),
            data: "{}".into(),
        })
        .map_err(|e| match e {
            StateError::IdInUse { id, .. } => CniError::InvalidConfig(format!(
                "{id} is already attached to network {} (DEL it first)",
                net.name
            )),
            e => e.into(),
        })?;
        let addrs = ipam::allocate(tx, &net, conf, inv, &wanted)?;
        let first = |v6: bool| addrs.iter().copied().find(|a| a.addr().is_ipv6() == v6);
        let (ipv4, ipv6) = (first(false), first(true));
        let extra_addresses: Vec<IpNet> = addrs
            .iter()
            .copied()
            .filter(|a| Some(*a) != ipv4 && Some(*a) != ipv6)
            .collect();
        let mac = match ipv4.map(|n| n.addr()) {
            Some(IpAddr::V4(a)) => pool::mac_for(a),
            _ => {
                let b = random_hex();
                let byte = |i: usize| u8::from_str_radix(&b[i * 2..i * 2 + 2], 16).unwrap_or(0);
                [0x02, 0x42, byte(0), byte(1), byte(2), byte(3)]
            }
        };
        let rec = CniRecord {
            endpoint: Endpoint {
                network_id: net.id.clone(),
                ifname: inv.ifname.clone(),
                host_veth: host_veth.clone(),
                mac: pool::format_mac(&mac),
                ipv4,
                gateway4: ipv4.and(net.subnet_of(false).map(|s| s.gateway)),
                ipv6,
                gateway6: ipv6.and(net.subnet_of(true).map(|s| s.gateway)),
                aliases: Vec::new(),
            },
            ports: ports.clone(),
            routes: routes.clone(),
            default_routes,
            names: names.clone(),
            bandwidth: conf.runtime_config.bandwidth.filter(|b| b.shapes()),
            extra_addresses,
        };
        tx.set_cni_attachment_data(
            &net.id,
            &inv.container_id,
            &inv.ifname,
            &serde_json::to_string(&rec).expect("a record always serializes"),
        )?;
        Ok(rec)
    })?;
    drop(st);
    let who = format!("CNI {}/{}", inv.container_id, inv.ifname);
    log::debug!("{who}: addresses allocated on {}", net.name);
    let made = (|| -> Result<(), CniError> {
        let mac = pool::parse_mac(&rec.endpoint.mac).expect("a MAC we formatted");
        plumb(
            &who,
            netns,
            &net,
            &rec.endpoint,
            if default_routes { 0 } else { 1 },
            mac,
            None,
        )?;
        if !rec.routes.is_empty() || !rec.extra_addresses.is_empty() {
            finish_inside(netns, &rec)?;
        }
        if let Some(bw) = &rec.bandwidth {
            let mut nl = Netlink::open().map_err(NetworkError::from)?;
            bandwidth::shape(&mut nl, &rec, bw, net.mtu.unwrap_or(1500))?;
        }
        add_rules(ctx, &cni_port_rules(&rec))?;
        Ok(())
    })();
    if let Err(e) = made {
        let row = CniAttachmentRow {
            network_id: net.id.clone(),
            container_id: inv.container_id.clone(),
            ifname: inv.ifname.clone(),
            netns: netns.display().to_string(),
            created_at: String::new(),
            data: serde_json::to_string(&rec).expect("a record always serializes"),
        };
        if let Err(undo) = teardown(ctx, &row) {
            log::warn!(
                "{who}: cannot undo the attachment: {}",
                crate::error_chain(&undo)
            );
        }
        return Err(e);
    }
    let key = dns_key(&net.id, &inv.container_id, &inv.ifname);
    dns::update_cni(ctx, &key, &dns_entries(&net, &rec, &key));
    Ok(result(conf, &net, &rec, netns))
}

/// The resolver's record file of an attachment: not a container ID, so the records check leaves it alone.
fn dns_key(network_id: &str, container_id: &str, ifname: &str) -> String {
    format!("cni-{}-{container_id}-{ifname}", &network_id[..12])
}

/// What the resolver answers for an attachment: its names with its addresses, on its network.
fn dns_entries(net: &Network, rec: &CniRecord, key: &str) -> Vec<minotaur_dns::Entry> {
    if rec.names.is_empty() {
        return Vec::new();
    }
    vec![minotaur_dns::Entry {
        network: net.name.clone(),
        record: minotaur_dns::Record {
            names: rec.names.clone(),
            addresses: rec.addresses().map(|a| a.addr()).collect(),
            container: key.to_owned(),
        },
    }]
}

/// Whether `s` can be a DNS name's label (letters, digits, `-`, `_`; at most 63).
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// DEL: takes the attachment away. Nothing there (no network, no record, no namespace) is success.
pub fn del(ctx: &Context, inv: &Invocation, conf: &NetConf) -> Result<(), CniError> {
    let Some(net) = network_named(ctx, &conf.name)? else {
        return Ok(());
    };
    let mut st = ctx.store()?;
    let row = st.read(|tx| tx.cni_attachment(&net.id, &inv.container_id, &inv.ifname))?;
    drop(st);
    match row {
        Some(row) => teardown(ctx, &row),
        None => Ok(()),
    }
}

/// CHECK: the interface is in the namespace with the recorded MAC and addresses and is up, its host end
/// is a port of the network's bridge, and the previous result holds the recorded addresses.
pub fn check(ctx: &Context, inv: &Invocation, conf: &NetConf) -> Result<(), CniError> {
    let netns = inv.netns.as_deref().expect("CHECK has CNI_NETNS (checked)");
    let unknown = || {
        CniError::UnknownContainer(format!(
            "{}/{} is not attached to network {}",
            inv.container_id, inv.ifname, conf.name
        ))
    };
    let net = network_named(ctx, &conf.name)?.ok_or_else(unknown)?;
    let mut st = ctx.store()?;
    let row = st
        .read(|tx| tx.cni_attachment(&net.id, &inv.container_id, &inv.ifname))?
        .ok_or_else(unknown)?;
    drop(st);
    let rec = record_of(&row)?;
    let ep = &rec.endpoint;
    let mut inside = Netlink::open_in(netns).map_err(NetworkError::from)?;
    let link = inside
        .link_named(&ep.ifname)
        .map_err(NetworkError::from)?
        .ok_or_else(|| {
            CniError::Check(format!(
                "interface {} is not in network namespace {}",
                ep.ifname,
                netns.display()
            ))
        })?;
    if !link
        .mac
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case(&ep.mac))
    {
        return Err(CniError::Check(format!(
            "interface {} has MAC {}, not {}",
            ep.ifname,
            link.mac.as_deref().unwrap_or("none"),
            ep.mac
        )));
    }
    if !link.up {
        return Err(CniError::Check(format!("interface {} is down", ep.ifname)));
    }
    for want in rec.addresses() {
        if !link.addrs.contains(&want) {
            return Err(CniError::Check(format!(
                "interface {} lacks address {want}",
                ep.ifname
            )));
        }
    }
    let mut host = Netlink::open().map_err(NetworkError::from)?;
    let bridge = host.link_index(&net.bridge).map_err(NetworkError::from)?;
    let port = host.link_named(&ep.host_veth).map_err(NetworkError::from)?;
    let master = port.and_then(|p| p.master);
    if master.is_none() || master != bridge {
        return Err(CniError::Check(format!(
            "the host end {} is not a port of bridge {}",
            ep.host_veth, net.bridge
        )));
    }
    bandwidth::check(&mut host, &rec)?;
    if let Some(prev) = &conf.prev_result {
        let prev_ips: BTreeSet<String> = prev
            .get("ips")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.get("address")?.as_str().map(str::to_owned))
            .collect();
        let ours: BTreeSet<String> = rec.addresses().map(|n| n.to_string()).collect();
        // Other plugins of the list may have added addresses of their own.
        if !ours.is_subset(&prev_ips) {
            return Err(CniError::Check(format!(
                "the previous result's addresses ({}) lack the attachment's ({})",
                prev_ips.into_iter().collect::<Vec<_>>().join(", "),
                ours.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

/// GC: takes away every attachment on the network that `cni.dev/valid-attachments` does not list (all of
/// them when there is no list, see [`NetConf::valid`]). Goes on past errors and reports them together.
pub fn gc(ctx: &Context, conf: &NetConf) -> Result<(), CniError> {
    let valid = conf.valid();
    let Some(net) = network_named(ctx, &conf.name)? else {
        return Ok(());
    };
    let mut st = ctx.store()?;
    let rows = st.read(|tx| tx.cni_attachments(Some(&net.id)))?;
    drop(st);
    let mut failed = Vec::new();
    for row in rows.iter().filter(|r| {
        !valid
            .iter()
            .any(|v| v.container_id == r.container_id && v.ifname == r.ifname)
    }) {
        log::debug!("gc: {}/{} on {}", row.container_id, row.ifname, net.name);
        if let Err(e) = teardown(ctx, row) {
            failed.push(format!(
                "{}/{}: {}",
                row.container_id,
                row.ifname,
                crate::error_chain(&e)
            ));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CniError::Gc(failed))
    }
}

/// STATUS: ready when the store can be opened and the network (if it exists) has a free address.
pub fn status(ctx: &Context, conf: &NetConf) -> Result<(), CniError> {
    ctx.store()
        .map_err(|e| CniError::NotAvailable(Box::new(e)))?;
    let Some(net) = network_named(ctx, &conf.name).map_err(|e| match e {
        CniError::Engine(e) => CniError::NotAvailable(e),
        e => e,
    })?
    else {
        return Ok(());
    };
    let mut st = ctx.store()?;
    let taken = st.read(|tx| -> Result<_, StateError> {
        Ok(tx.allocations(&net.id)?.len() + tx.cni_attachments(Some(&net.id))?.len())
    })?;
    drop(st);
    if let Some(s) = net.subnets.first() {
        let free = pool::hosts(&s.subnet, s.ip_range.as_ref(), s.gateway)
            .nth(taken)
            .is_some();
        if !free {
            return Err(CniError::NotAvailable(Box::new(
                StateError::AddressesExhausted {
                    network: net.name.clone(),
                }
                .into(),
            )));
        }
    }
    Ok(())
}

/// Undoes an attachment: its ports, its veth (both ends go with the host end), its record with its
/// addresses. Goes on past errors; the record goes last, and only when the rest is gone.
fn teardown(ctx: &Context, row: &CniAttachmentRow) -> Result<(), CniError> {
    let mut first: Option<CniError> = None;
    // A record an ADD died before filling holds "{}": nothing was made but the addresses.
    if let Ok(rec) = serde_json::from_str::<CniRecord>(&row.data) {
        if let Err(e) = remove_rules(ctx, &cni_port_rules(&rec)) {
            first.get_or_insert(e.into());
        }
        match Netlink::open() {
            Ok(mut nl) => {
                if let Err(e) = nl.delete_link(&rec.endpoint.host_veth) {
                    first.get_or_insert(NetworkError::from(e).into());
                }
                if let Err(e) = bandwidth::unshape(&mut nl, &rec) {
                    first.get_or_insert(e.into());
                }
            }
            Err(e) => {
                first.get_or_insert(NetworkError::from(e).into());
            }
        }
    }
    if let Some(e) = first {
        return Err(e);
    }
    Ok(forget(
        ctx,
        &row.network_id,
        &row.container_id,
        &row.ifname,
    )?)
}

/// Deletes an attachment's record with its addresses, and its names from the resolver. Its ports leave
/// the firewall with its teardown, or with the next `network reload`.
pub(crate) fn forget(
    ctx: &Context,
    network_id: &str,
    container_id: &str,
    ifname: &str,
) -> Result<(), EngineError> {
    let mut st = ctx.store()?;
    st.write(|tx| tx.delete_cni_attachment(network_id, container_id, ifname))?;
    drop(st);
    dns::update_cni(ctx, &dns_key(network_id, container_id, ifname), &[]);
    Ok(())
}

fn record_of(row: &CniAttachmentRow) -> Result<CniRecord, CniError> {
    serde_json::from_str(&row.data).map_err(|source| {
        NetworkError::Corrupt {
            id: format!(
                "{} (CNI attachment {}/{})",
                row.network_id, row.container_id, row.ifname
            ),
            source,
        }
        .into()
    })
}

/// The addresses of the second and later range sets, then the routes of the IPAM section other than the
/// default ones (via their gateway or the network's).
fn finish_inside(netns: &Path, rec: &CniRecord) -> Result<(), CniError> {
    let mut nl = Netlink::open_in(netns).map_err(NetworkError::from)?;
    let index = nl
        .link_index(&rec.endpoint.ifname)
        .map_err(NetworkError::from)?
        .ok_or_else(|| CniError::Check(format!("interface {} vanished", rec.endpoint.ifname)))?;
    for a in &rec.extra_addresses {
        nl.add_address(index, *a).map_err(NetworkError::from)?;
    }
    for r in &rec.routes {
        let gw = r.gw.or(if r.dst.addr().is_ipv6() {
            rec.endpoint.gateway6
        } else {
            rec.endpoint.gateway4
        });
        nl.add_route(Some(r.dst), gw, index)
            .map_err(NetworkError::from)?;
    }
    Ok(())
}

/// The spec's result: the bridge, the host end and the inside interface; the addresses on the inside one;
/// the routes; the resolver. Chained after another plugin, the previous result's interfaces, addresses
/// and routes come first and ours follow (our addresses' `interface` indexes count theirs), as the spec
/// asks of a plugin that adds to a result.
fn result(conf: &NetConf, net: &Network, rec: &CniRecord, netns: &Path) -> Value {
    let prev = conf.prev_result.as_ref();
    let prev_list = |key: &str| -> Vec<Value> {
        prev.and_then(|p| p.get(key)?.as_array().cloned())
            .unwrap_or_default()
    };
    let mut interfaces = prev_list("interfaces");
    let inside_index = interfaces.len() + 2;
    let ep = &rec.endpoint;
    let mac_of = |name: &str| {
        Netlink::open()
            .and_then(|mut nl| nl.link_named(name))
            .ok()
            .flatten()
            .and_then(|l| l.mac)
    };
    let mut bridge = json!({"name": net.bridge});
    if let Some(m) = mac_of(&net.bridge) {
        bridge["mac"] = json!(m);
    }
    let mut host = json!({"name": ep.host_veth});
    if let Some(m) = mac_of(&ep.host_veth) {
        host["mac"] = json!(m);
    }
    let inside = json!({"name": ep.ifname, "mac": ep.mac, "sandbox": netns.display().to_string()});
    interfaces.extend([bridge, host, inside]);
    let mut ips = prev_list("ips");
    let mut routes = prev_list("routes");
    let mut routed = BTreeSet::new();
    for addr in rec.addresses() {
        let gw = if addr.addr().is_ipv6() {
            ep.gateway6
        } else {
            ep.gateway4
        };
        let mut ip = json!({"address": addr.to_string(), "interface": inside_index});
        if let Some(gw) = gw {
            ip["gateway"] = json!(gw.to_string());
            if rec.default_routes && routed.insert(gw) {
                let dst = if gw.is_ipv6() { "::/0" } else { "0.0.0.0/0" };
                routes.push(json!({"dst": dst, "gw": gw.to_string()}));
            }
        }
        if conf.legacy_result() {
            ip["version"] = json!(if addr.addr().is_ipv6() { "6" } else { "4" });
        }
        ips.push(ip);
    }
    for r in &rec.routes {
        let mut route = json!({"dst": r.dst.to_string()});
        if let Some(gw) = r.gw {
            route["gw"] = json!(gw.to_string());
        }
        routes.push(route);
    }
    json!({
        "cniVersion": conf.cni_version,
        "interfaces": interfaces,
        "ips": ips,
        "routes": routes,
        "dns": dns(conf, net, rec),
    })
}

/// The result's `dns`: minotaur's resolver on the gateways (when the attachment has names), then the
/// `dns` capability's servers, searches and options, then the previous result's. The runtime writes the
/// namespace's `resolv.conf` from it.
fn dns(conf: &NetConf, net: &Network, rec: &CniRecord) -> Value {
    let ep = &rec.endpoint;
    let cap = conf.runtime_config.dns.clone().unwrap_or_default();
    let prev = conf.prev_result.as_ref().and_then(|p| p.get("dns"));
    let prev_list = |key: &str| -> Vec<String> {
        prev.and_then(|d| d.get(key)?.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let gateways: Vec<String> = if rec.names.is_empty() {
        Vec::new()
    } else {
        [ep.gateway4, ep.gateway6]
            .into_iter()
            .flatten()
            .filter(|g| net.bridge_holds_gateway(g.is_ipv6()))
            .map(|g| g.to_string())
            .collect()
    };
    let mut doc = serde_json::Map::new();
    for (key, lists) in [
        (
            "nameservers",
            [gateways, cap.servers, prev_list("nameservers")],
        ),
        ("search", [Vec::new(), cap.searches, prev_list("search")]),
        ("options", [Vec::new(), cap.options, prev_list("options")]),
    ] {
        let mut all: Vec<String> = Vec::new();
        for v in lists.into_iter().flatten() {
            if !all.contains(&v) {
                all.push(v);
            }
        }
        if !all.is_empty() {
            doc.insert(key.to_owned(), json!(all));
        }
    }
    if let Some(domain) = prev.and_then(|d| d.get("domain")) {
        doc.insert("domain".to_owned(), domain.clone());
    }
    Value::Object(doc)
}

/// The network of a configuration's name (an exact name: a CNI name is never taken as an ID prefix).
fn network_named(ctx: &Context, name: &str) -> Result<Option<Network>, CniError> {
    Ok(networks::list(ctx)?.into_iter().find(|n| n.name == name))
}

/// The network a configuration names, made as `network create` would (with the configuration's bridge
/// name, MTU and ranges) when it does not exist; an existing one must agree with what the configuration
/// says about it.
fn network_for(ctx: &Context, conf: &NetConf) -> Result<Network, CniError> {
    let net = match network_named(ctx, &conf.name)? {
        Some(n) => n,
        None if conf.name == DEFAULT_NETWORK => networks::default_network(ctx)?,
        None => {
            // The sets of a family are windows of one subnet (checked): the first set's first range
            // names it, and the gateway is the first one a range of that set gives.
            let ranges: Vec<Range> = [conf.range_sets_of(false), conf.range_sets_of(true)]
                .iter()
                .filter_map(|sets| sets.first())
                .filter_map(|set| {
                    let mut r = set.first()?.clone();
                    r.gateway = set.iter().find_map(|r| r.gateway);
                    Some(r)
                })
                .collect();
            let mut options = std::collections::BTreeMap::new();
            if let Some(b) = &conf.bridge {
                options.insert("com.docker.network.bridge.name".to_owned(), b.clone());
            }
            if let Some(m) = conf.mtu {
                options.insert("com.docker.network.driver.mtu".to_owned(), m.to_string());
            }
            if conf.gateway_on_bridge() == Some(false) {
                options.insert(INHIBIT_IPV4.to_owned(), "true".to_owned());
            }
            let req = NetworkCreate {
                name: conf.name.clone(),
                subnets: ranges.iter().map(|r| r.subnet.to_string()).collect(),
                gateways: if ranges.iter().all(|r| r.gateway.is_some()) {
                    ranges
                        .iter()
                        .filter_map(|r| r.gateway)
                        .map(|g| g.to_string())
                        .collect()
                } else {
                    Vec::new()
                },
                ipv6: ranges.iter().any(|r| r.subnet.addr().is_ipv6()),
                options,
                ..Default::default()
            };
            match networks::create(ctx, &req) {
                Ok(n) => n,
                // Another ADD made it first.
                Err(EngineError::State(StateError::NameInUse { .. })) => {
                    network_named(ctx, &conf.name)?.ok_or_else(|| {
                        CniError::from(NetworkError::NoSuchNetwork(conf.name.clone()))
                    })?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    if let Some(want) = conf.gateway_on_bridge() {
        if want != net.bridge_holds_gateway(false) {
            return Err(CniError::InvalidConfig(format!(
                "network {} exists {} its gateway on the bridge, and the configuration says isGateway \
                 {want}",
                net.name,
                if want { "without" } else { "with" }
            )));
        }
    }
    if let Some(b) = &conf.bridge {
        if *b != net.bridge {
            return Err(CniError::InvalidConfig(format!(
                "network {} exists with bridge {}, not {b}",
                net.name, net.bridge
            )));
        }
    }
    for r in conf.ranges() {
        let Some(s) = net
            .subnets
            .iter()
            .find(|s| s.subnet.trunc() == r.subnet.trunc())
        else {
            return Err(CniError::InvalidConfig(format!(
                "network {} exists without subnet {}",
                net.name, r.subnet
            )));
        };
        if r.gateway.is_some_and(|g| g != s.gateway) {
            return Err(CniError::InvalidConfig(format!(
                "network {} has gateway {} in {}, not {}",
                net.name,
                s.gateway,
                s.subnet,
                r.gateway.expect("checked")
            )));
        }
    }
    Ok(net)
}

/// Refuses host ports that a container or another attachment publishes already.
fn check_ports(
    tx: &minotaur_state::WriteTx<'_>,
    ports: &[crate::network::record::CniPort],
) -> Result<(), CniError> {
    if ports.is_empty() {
        return Ok(());
    }
    let containers = tx.ports(None)?;
    let attachments = tx.cni_attachments(None)?;
    for p in ports {
        let clash = |proto: &str, host_ip: Option<IpAddr>, host_port: u16| {
            proto == p.proto.as_str()
                && host_port == p.host_port
                && (host_ip.is_none() || p.host_ip.is_none() || host_ip == p.host_ip)
        };
        if let Some(c) = containers
            .iter()
            .find(|c| clash(&c.proto, c.host_ip.parse().ok(), c.host_port))
        {
            return Err(StateError::PortInUse {
                proto: c.proto.clone(),
                host_ip: p.host_ip.map_or("0.0.0.0".into(), |i| i.to_string()),
                host_port: c.host_port,
                container_id: c.container_id.clone(),
            }
            .into());
        }
        for a in &attachments {
            let Ok(rec) = serde_json::from_str::<CniRecord>(&a.data) else {
                continue;
            };
            if rec
                .ports
                .iter()
                .any(|q| clash(q.proto.as_str(), q.host_ip, q.host_port))
            {
                return Err(StateError::PortInUse {
                    proto: p.proto.as_str().to_owned(),
                    host_ip: p.host_ip.map_or("0.0.0.0".into(), |i| i.to_string()),
                    host_port: p.host_port,
                    container_id: format!("{} (CNI)", a.container_id),
                }
                .into());
            }
        }
    }
    Ok(())
}
