//! Networks themselves: `network create` (subnets planned from the pools around what the host and the other
//! networks use), the default `bridge` network, the bridge and its firewall elements, `ls`, `rm`, `prune`.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use minotaur_firewall::Firewall;
use minotaur_net::{pool, sysctl, Netlink};
use minotaur_state::{NewNetwork, StateError};

use crate::context::Context;
use crate::error::network::NetworkError;
use crate::error::EngineError;
use crate::ids::random_hex;
use crate::network::record::{
    find_network, read_attachments, Network, Subnet, BUILTIN, DEFAULT_BRIDGE, DEFAULT_NETWORK,
};

/// What `network create` is asked for.
#[derive(Clone, Debug, Default)]
pub struct NetworkCreate {
    pub name: String,
    pub driver: Option<String>,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub internal: bool,
    pub ipv6: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

/// Creates a bridge network and its bridge.
pub fn create(ctx: &Context, req: &NetworkCreate) -> Result<Network, EngineError> {
    check_name(&req.name)?;
    if BUILTIN.contains(&req.name.as_str()) || req.name == DEFAULT_NETWORK {
        return Err(StateError::NameInUse {
            kind: "network",
            name: req.name.clone(),
        }
        .into());
    }
    let driver = req.driver.clone().unwrap_or_else(|| "bridge".into());
    if driver != "bridge" {
        return Err(NetworkError::Driver(driver).into());
    }
    let id = random_hex();
    let bridge = req
        .options
        .get("com.docker.network.bridge.name")
        .cloned()
        .unwrap_or_else(|| format!("mt-{}", &id[..12]));
    if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ']) {
        return Err(invalid(
            "bridge name",
            &bridge,
            "interface names are 1-15 characters, without '/' or spaces",
        )
        .into());
    }
    let mtu = mtu_option(&req.options)?;
    let net = insert(ctx, |existing| {
        if let Some(other) = existing.iter().find(|n| n.bridge == bridge) {
            return Err(invalid(
                "bridge name",
                &bridge,
                format!("network {} uses it", other.name),
            )
            .into());
        }
        let used = Netlink::open()
            .and_then(|mut nl| nl.used_networks())
            .map_err(NetworkError::from)?;
        Ok(Network {
            id: id.clone(),
            name: req.name.clone(),
            driver: driver.clone(),
            bridge: bridge.clone(),
            subnets: plan_subnets(req, &used, existing)?,
            internal: req.internal,
            ipv6: req.ipv6,
            labels: req.labels.clone(),
            options: req.options.clone(),
            mtu,
            created: String::new(),
        })
    })?;
    crate::crash::after("network-create:record");
    if let Err(e) = realize(&net, &mut Netlink::open().map_err(NetworkError::from)?) {
        let _ = remove(ctx, &net.id);
        return Err(e);
    }
    Ok(net)
}

/// Plans a network from the existing ones and stores it, in one write transaction (so two concurrent
/// creates cannot take the same subnet).
fn insert(
    ctx: &Context,
    plan: impl FnOnce(&[Network]) -> Result<Network, EngineError>,
) -> Result<Network, EngineError> {
    let mut st = ctx.store()?;
    let net = st.write(|tx| -> Result<Network, EngineError> {
        let existing = tx
            .networks()?
            .into_iter()
            .map(Network::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let net = plan(&existing)?;
        let first = &net.subnets[0];
        tx.insert_network(&NewNetwork {
            id: &net.id,
            name: &net.name,
            driver: &net.driver,
            subnet: &first.subnet.to_string(),
            gateway: Some(&first.gateway.to_string()),
            internal: net.internal,
            config: &serde_json::to_string(&net).expect("a network always serializes"),
        })?;
        Ok(net)
    })?;
    drop(st);
    find(ctx, &net.id)
}

/// The default `bridge` network, made on first use (a concurrent maker's wins).
pub fn default_network(ctx: &Context) -> Result<Network, EngineError> {
    match find(ctx, DEFAULT_NETWORK) {
        Ok(n) => return Ok(n),
        Err(EngineError::Network(NetworkError::NoSuchNetwork(_))) => {}
        Err(e) => return Err(e),
    }
    let made = insert(ctx, |existing| {
        let used = Netlink::open()
            .and_then(|mut nl| nl.used_networks())
            .map_err(NetworkError::from)?;
        let req = NetworkCreate {
            name: DEFAULT_NETWORK.into(),
            ..Default::default()
        };
        Ok(Network {
            id: random_hex(),
            name: DEFAULT_NETWORK.into(),
            driver: "bridge".into(),
            bridge: DEFAULT_BRIDGE.into(),
            subnets: plan_subnets(&req, &used, existing)?,
            internal: false,
            ipv6: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            mtu: None,
            created: String::new(),
        })
    });
    match made {
        Err(EngineError::State(StateError::NameInUse { .. })) => find(ctx, DEFAULT_NETWORK),
        other => other,
    }
}

/// Makes a network's bridge and firewall rules exist: the bridge with its gateway addresses, forwarding,
/// `route_localnet` for published ports on 127.0.0.1, and the network's elements in minotaur's table.
/// Returns the bridge's index.
pub(crate) fn realize(net: &Network, nl: &mut Netlink) -> Result<u32, EngineError> {
    let index = nl
        .ensure_bridge(&net.bridge, &net.gateway_addresses(), net.mtu)
        .map_err(NetworkError::from)?;
    if !net.internal {
        sysctl::set("net.ipv4.ip_forward", "1").map_err(NetworkError::from)?;
        if net.ipv6 {
            sysctl::set("net.ipv6.conf.all.forwarding", "1").map_err(NetworkError::from)?;
        }
    }
    sysctl::set(&format!("net.ipv4.conf.{}.route_localnet", net.bridge), "1")
        .map_err(NetworkError::from)?;
    let mut fw = Firewall::open().map_err(NetworkError::from)?;
    fw.add_network(&net.rules()).map_err(NetworkError::from)?;
    log::debug!("network {}: bridge {} ready", net.name, net.bridge);
    Ok(index)
}

/// A network by ID, name or unique ID prefix (not `host` or `none`).
pub fn find(ctx: &Context, reference: &str) -> Result<Network, EngineError> {
    let mut st = ctx.store()?;
    st.read(|tx| find_network(tx, reference))
}

/// All stored networks, oldest first.
pub fn list(ctx: &Context) -> Result<Vec<Network>, EngineError> {
    let mut st = ctx.store()?;
    let rows = st.read(|tx| tx.networks())?;
    Ok(rows
        .into_iter()
        .map(Network::from_row)
        .collect::<Result<_, _>>()?)
}

/// Removes a network nobody uses: its record, bridge and firewall elements.
pub fn remove(ctx: &Context, reference: &str) -> Result<Network, EngineError> {
    if BUILTIN.contains(&reference) || reference == DEFAULT_NETWORK {
        return Err(NetworkError::Predefined(reference.to_owned()).into());
    }
    let mut st = ctx.store()?;
    let net = st.write(|tx| -> Result<Network, EngineError> {
        let net = find_network(tx, reference)?;
        if net.name == DEFAULT_NETWORK {
            return Err(NetworkError::Predefined(net.name.clone()).into());
        }
        let users = read_attachments(tx, None, Some(&net))?;
        if !users.is_empty() {
            let names: Vec<_> = users.iter().map(|a| a.container_name.as_str()).collect();
            return Err(NetworkError::InUse {
                network: net.name.clone(),
                containers: names.join(", "),
            }
            .into());
        }
        let cni = tx.cni_attachments(Some(&net.id))?;
        if !cni.is_empty() {
            let keys: Vec<_> = cni
                .iter()
                .map(|a| format!("CNI {}/{}", a.container_id, a.ifname))
                .collect();
            return Err(NetworkError::InUse {
                network: net.name.clone(),
                containers: keys.join(", "),
            }
            .into());
        }
        tx.delete_network(&net.id)?;
        Ok(net)
    })?;
    drop(st);
    crate::crash::after("network-rm:record");
    let mut fw = Firewall::open().map_err(NetworkError::from)?;
    fw.remove_network(&net.rules())
        .map_err(NetworkError::from)?;
    crate::crash::after("network-rm:firewall");
    Netlink::open()
        .and_then(|mut nl| nl.delete_link(&net.bridge))
        .map_err(NetworkError::from)?;
    Ok(net)
}

/// Removes every network no container uses (not the default one); returns their names.
pub fn prune(ctx: &Context) -> Result<Vec<String>, EngineError> {
    let mut gone = Vec::new();
    let mut st = ctx.store()?;
    let attached = st.read(|tx| read_attachments(tx, None, None))?;
    drop(st);
    let used: HashSet<String> = attached
        .into_iter()
        .map(|a| a.endpoint.network_id)
        .collect();
    for n in list(ctx)? {
        if n.name != DEFAULT_NETWORK && !used.contains(&n.id) {
            match remove(ctx, &n.id) {
                Ok(_) => gone.push(n.name),
                Err(EngineError::Network(NetworkError::InUse { .. })) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(gone)
}

/// Network names: Docker's rule, and short enough to name things after.
fn check_name(name: &str) -> Result<(), NetworkError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(NetworkError::BadName(name.to_owned()))
    }
}

pub(crate) fn invalid(what: &'static str, value: &str, why: impl Into<String>) -> NetworkError {
    NetworkError::Invalid {
        what,
        value: value.to_owned(),
        why: why.into(),
    }
}

fn parse_net(what: &'static str, s: &str) -> Result<IpNet, NetworkError> {
    let n: IpNet = s.parse().map_err(|_| {
        invalid(
            what,
            s,
            "expected an address with a prefix, e.g. 10.1.0.0/24",
        )
    })?;
    if n.trunc() != n {
        return Err(invalid(
            what,
            s,
            format!("it has host bits set (the network is {})", n.trunc()),
        ));
    }
    Ok(n)
}

fn same_family(a: &IpNet, b: IpAddr) -> bool {
    a.addr().is_ipv4() == b.is_ipv4()
}

/// Resolves `network create`'s subnets, gateways and ranges; picks subnets from the pools where none is
/// given. `used` are the host's addresses and routes, `existing` the other networks.
fn plan_subnets(
    req: &NetworkCreate,
    used: &[IpNet],
    existing: &[Network],
) -> Result<Vec<Subnet>, NetworkError> {
    let mut subnets = Vec::new();
    for s in &req.subnets {
        subnets.push(parse_net("subnet", s)?);
    }
    let taken: Vec<(IpNet, &str)> = existing
        .iter()
        .flat_map(|n| n.subnets.iter().map(move |s| (s.subnet, n.name.as_str())))
        .collect();
    for s in &subnets {
        if let Some((other, network)) = taken.iter().find(|(o, _)| overlaps(o, s)) {
            return Err(NetworkError::Overlap {
                subnet: *s,
                other: *other,
                network: network.to_string(),
            });
        }
    }
    if req.gateways.len() > subnets.len().max(1) || req.ip_ranges.len() > subnets.len().max(1) {
        return Err(invalid(
            "network options",
            &req.name,
            "each --gateway and --ip-range needs a --subnet of its own",
        ));
    }
    let mut avoid: Vec<IpNet> = used.to_vec();
    avoid.extend(taken.iter().map(|(n, _)| *n));
    avoid.extend(subnets.iter().copied());
    if !subnets.iter().any(|s| s.addr().is_ipv4()) {
        let s = pool::pick_subnet(pool::DEFAULT_V4_POOLS, &avoid)
            .ok_or(NetworkError::PoolExhausted("IPv4"))?;
        avoid.push(s);
        subnets.insert(0, s);
    }
    if req.ipv6 && !subnets.iter().any(|s| s.addr().is_ipv6()) {
        let s = pool::pick_subnet(pool::DEFAULT_V6_POOLS, &avoid)
            .ok_or(NetworkError::PoolExhausted("IPv6"))?;
        subnets.push(s);
    }
    if !req.ipv6 {
        if let Some(s) = subnets.iter().find(|s| s.addr().is_ipv6()) {
            return Err(invalid(
                "subnet",
                &s.to_string(),
                "IPv6 subnets need --ipv6",
            ));
        }
    }
    let mut out = Vec::new();
    for subnet in subnets {
        let gateway = match req
            .gateways
            .iter()
            .find(|g| g.parse::<IpAddr>().is_ok_and(|a| same_family(&subnet, a)))
        {
            Some(g) => {
                let a: IpAddr = g.parse().expect("parsed above");
                if !subnet.contains(&a) || a == subnet.network() || a == subnet.broadcast() {
                    return Err(invalid(
                        "gateway",
                        g,
                        format!("it is not a host address of subnet {subnet}"),
                    ));
                }
                a
            }
            None => pool::default_gateway(&subnet),
        };
        let ip_range = match req.ip_ranges.iter().find(|r| {
            r.parse::<IpNet>()
                .is_ok_and(|n| same_family(&subnet, n.addr()))
        }) {
            Some(r) => {
                let n = parse_net("ip range", r)?;
                if !subnet.contains(&n) {
                    return Err(invalid(
                        "ip range",
                        r,
                        format!("it is not inside subnet {subnet}"),
                    ));
                }
                Some(n)
            }
            None => None,
        };
        out.push(Subnet {
            subnet,
            gateway,
            ip_range,
        });
    }
    for g in &req.gateways {
        if g.parse::<IpAddr>().is_err() {
            return Err(invalid("gateway", g, "expected an IP address"));
        }
    }
    for r in &req.ip_ranges {
        parse_net("ip range", r)?;
    }
    Ok(out)
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn mtu_option(options: &BTreeMap<String, String>) -> Result<Option<u32>, NetworkError> {
    match options.get("com.docker.network.driver.mtu") {
        None => Ok(None),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|m| (68..=65535).contains(m))
            .map(Some)
            .ok_or_else(|| invalid("MTU", v, "expected 68-65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, subnet: &str) -> Network {
        let mut n = Network::builtin(name);
        n.subnets.push(Subnet {
            subnet: subnet.parse().unwrap(),
            gateway: pool::default_gateway(&subnet.parse().unwrap()),
            ip_range: None,
        });
        n
    }

    #[test]
    fn subnets_come_from_the_pool_around_what_is_used() {
        let used: Vec<IpNet> = vec!["172.17.5.0/24".parse().unwrap()];
        let req = NetworkCreate {
            name: "a".into(),
            ..Default::default()
        };
        let s = plan_subnets(&req, &used, &[net("b", "172.18.0.0/16")]).unwrap();
        assert_eq!(s[0].subnet.to_string(), "172.19.0.0/16");
        assert_eq!(s[0].gateway.to_string(), "172.19.0.1");
    }

    #[test]
    fn given_subnets_are_checked() {
        let req = |subnet: &str, gw: &str| NetworkCreate {
            name: "a".into(),
            subnets: vec![subnet.into()],
            gateways: if gw.is_empty() {
                vec![]
            } else {
                vec![gw.into()]
            },
            ..Default::default()
        };
        assert!(plan_subnets(&req("10.1.0.0/24", "10.1.0.254"), &[], &[]).is_ok());
        let e = plan_subnets(&req("10.1.0.1/24", ""), &[], &[]).unwrap_err();
        assert!(e.to_string().contains("host bits"), "{e}");
        let e = plan_subnets(&req("10.1.0.0/24", "10.2.0.1"), &[], &[]).unwrap_err();
        assert!(e.to_string().contains("not a host address"), "{e}");
        let e = plan_subnets(&req("10.1.0.0/16", ""), &[], &[net("b", "10.1.2.0/24")]).unwrap_err();
        assert!(
            e.to_string()
                .contains("overlaps subnet 10.1.2.0/24 of network b"),
            "{e}"
        );
        let e = plan_subnets(&req("fd00::/64", ""), &[], &[]).unwrap_err();
        assert!(e.to_string().contains("--ipv6"), "{e}");
    }

    #[test]
    fn names_follow_dockers_rule() {
        assert!(check_name("my-net_1.x").is_ok());
        assert!(check_name("-x").is_err());
        assert!(check_name("a/b").is_err());
    }
}
