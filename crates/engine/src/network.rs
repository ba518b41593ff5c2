//! Container networks: what a network is (stored in the state store's `networks` table), how a container
//! joins one (its endpoint, in `endpoints`), and the kernel work behind both, done in-process: the bridge,
//! veth and addresses through route netlink (`minotaur-net`), NAT, isolation and published ports in
//! minotaur's own nftables table (`minotaur-firewall`), names through the embedded resolver (`minotaur-dns`).
//!
//! A container's network namespace is made at `create` and joined to its networks there, before anything
//! runs in it; it lives until `rm`. The veth's container end is created directly inside that namespace and
//! its host end directly on the bridge (moving a veth costs ~25 ms). Removing the namespace lets the kernel
//! reap the veth. Firewall work per container is a few map elements, whatever the number of containers.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::Path;

use ipnet::IpNet;
use minotaur_firewall::connect::ConnectRedirect;
use minotaur_firewall::{Firewall, NetworkRules, PortRule, Proto as FwProto};
use minotaur_net::{pool, sysctl, Netlink, VethSpec};
use minotaur_state::{EndpointRow, NetworkRow, NewNetwork, PortRow, ReadTx, StateError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::container::{Container, NetworkRequest};
use crate::error::EngineError;
use crate::ids::random_hex;
use crate::ids::ContainerId;
use crate::lifecycle::Engine;
use crate::parse::{PortMapping, Proto};

pub mod error;

pub use error::NetworkError;
/// Parses a MAC address as `--mac-address` takes it.
pub use minotaur_net::pool::parse_mac;

/// The network `run` joins unless told otherwise, made on first use.
pub const DEFAULT_NETWORK: &str = "bridge";
/// The default network's bridge interface.
pub const DEFAULT_BRIDGE: &str = "minotaur0";
/// Whether a `--network` value names a bridge network (the default one or a created one), not `none`,
/// `host` or `container:X`.
pub fn is_bridge_mode(mode: &str) -> bool {
    !(mode == "none" || mode == "host" || mode.starts_with("container:"))
}

/// The networks that are not bridges: they appear in `network ls` but are not stored.
pub const BUILTIN: [&str; 2] = ["host", "none"];
/// Where `-P` and `-p CONTAINER` find host ports: Linux's default ephemeral range.
const EPHEMERAL_PORTS: (u16, u16) = (32768, 60999);

/// One subnet of a network, with its gateway (the bridge's address) and the range containers get
/// addresses from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Subnet {
    pub subnet: IpNet,
    pub gateway: IpAddr,
    #[serde(default)]
    pub ip_range: Option<IpNet>,
}

/// A bridge network.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub driver: String,
    /// The bridge interface on the host.
    pub bridge: String,
    pub subnets: Vec<Subnet>,
    pub internal: bool,
    pub ipv6: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub mtu: Option<u32>,
    /// From the row, not the JSON.
    #[serde(skip)]
    pub created: String,
}

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

/// A container's attachment to a network: the `endpoints` table's data.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub network_id: String,
    /// The interface inside the container (`eth0`, `eth1`, ...).
    pub ifname: String,
    /// The veth's host end, on the bridge.
    pub host_veth: String,
    pub mac: String,
    pub ipv4: Option<IpNet>,
    pub gateway4: Option<IpAddr>,
    pub ipv6: Option<IpNet>,
    pub gateway6: Option<IpAddr>,
    pub aliases: Vec<String>,
}

impl Endpoint {
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.ipv4.iter().chain(self.ipv6.iter()).map(|n| n.addr())
    }
}

/// An endpoint with the names it is shown under.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub container_id: String,
    pub container_name: String,
    pub network: String,
    pub endpoint: Endpoint,
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
    fn from_row(r: &PortRow) -> Published {
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

impl Network {
    fn from_row(row: NetworkRow) -> Result<Network, NetworkError> {
        let mut n: Network =
            serde_json::from_str(&row.config).map_err(|source| NetworkError::Corrupt {
                id: row.id.clone(),
                source,
            })?;
        n.created = row.created_at;
        Ok(n)
    }

    /// The bridge's addresses: each gateway with its subnet's prefix.
    fn gateway_addresses(&self) -> Vec<IpNet> {
        self.subnets
            .iter()
            .filter_map(|s| IpNet::new(s.gateway, s.subnet.prefix_len()).ok())
            .collect()
    }

    fn rules(&self) -> NetworkRules {
        NetworkRules {
            bridge: self.bridge.clone(),
            subnets: self.subnets.iter().map(|s| s.subnet).collect(),
            internal: self.internal,
        }
    }

    fn subnet_of(&self, v6: bool) -> Option<&Subnet> {
        self.subnets
            .iter()
            .find(|s| matches!(s.subnet, IpNet::V6(_)) == v6)
    }

    /// Docker's `network inspect` document.
    pub fn inspect(&self, attached: &[Attachment]) -> serde_json::Value {
        let config: Vec<_> = self
            .subnets
            .iter()
            .map(|s| {
                let mut m =
                    json!({"Subnet": s.subnet.to_string(), "Gateway": s.gateway.to_string()});
                if let Some(r) = s.ip_range {
                    m["IPRange"] = json!(r.to_string());
                }
                m
            })
            .collect();
        let containers: serde_json::Map<String, serde_json::Value> = attached
            .iter()
            .map(|a| {
                (
                    a.container_id.clone(),
                    json!({
                        "Name": a.container_name,
                        "EndpointID": endpoint_id(&a.container_id, &self.id),
                        "MacAddress": a.endpoint.mac,
                        "IPv4Address": a.endpoint.ipv4.map(|n| n.to_string()).unwrap_or_default(),
                        "IPv6Address": a.endpoint.ipv6.map(|n| n.to_string()).unwrap_or_default(),
                    }),
                )
            })
            .collect();
        let mut options = self.options.clone();
        options
            .entry("com.docker.network.bridge.name".into())
            .or_insert_with(|| self.bridge.clone());
        json!({
            "Name": self.name,
            "Id": self.id,
            "Created": self.created,
            "Scope": "local",
            "Driver": self.driver,
            "EnableIPv6": self.ipv6,
            "IPAM": {"Driver": "default", "Options": {}, "Config": config},
            "Internal": self.internal,
            "Attachable": false,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": containers,
            "Options": options,
            "Labels": self.labels,
        })
    }

    /// `host` and `none`, as `network ls` and `network inspect` show them.
    pub fn builtin(name: &str) -> Network {
        // Fixed IDs: the hex of the name, padded. They are never stored.
        let mut id: String = name.bytes().map(|b| format!("{b:02x}")).collect();
        id.push_str(&"0".repeat(64 - id.len()));
        Network {
            id,
            name: name.to_owned(),
            driver: if name == "host" { "host" } else { "null" }.to_owned(),
            bridge: String::new(),
            subnets: Vec::new(),
            internal: false,
            ipv6: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            mtu: None,
            created: String::new(),
        }
    }
}

fn endpoint_id(container: &str, network: &str) -> String {
    // Stable and unique per (container, network); Docker's are random.
    let mut s: String = container
        .bytes()
        .zip(network.bytes())
        .map(|(a, b)| {
            let h = |c: u8| (c as char).to_digit(16).unwrap_or(0);
            std::char::from_digit((h(a) + h(b)) % 16, 16).unwrap_or('0')
        })
        .collect();
    s.truncate(64);
    s
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

fn invalid(what: &'static str, value: &str, why: impl Into<String>) -> NetworkError {
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

fn corrupt_endpoint(row: &EndpointRow) -> impl FnOnce(serde_json::Error) -> NetworkError + '_ {
    move |source| NetworkError::Corrupt {
        id: format!(
            "{} (endpoint of container {})",
            row.network_id, row.container_id
        ),
        source,
    }
}

/// Reads networks and endpoints in one transaction.
pub(crate) fn attachments(
    tx: &ReadTx<'_>,
    container: Option<&str>,
    network: Option<&Network>,
) -> Result<Vec<Attachment>, EngineError> {
    let names: BTreeMap<String, String> = if network.is_none() {
        tx.networks()?.into_iter().map(|r| (r.id, r.name)).collect()
    } else {
        BTreeMap::new()
    };
    let rows = tx.endpoints(container, network.map(|n| n.id.as_str()))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let endpoint: Endpoint = serde_json::from_str(&row.data).map_err(corrupt_endpoint(&row))?;
        out.push(Attachment {
            network: network
                .map(|n| n.name.clone())
                .or_else(|| names.get(&row.network_id).cloned())
                .unwrap_or_else(|| row.network_id.clone()),
            container_id: row.container_id,
            container_name: row.container_name,
            endpoint,
        });
    }
    Ok(out)
}

fn find_network(tx: &ReadTx<'_>, reference: &str) -> Result<Network, EngineError> {
    if let Some(row) = tx.network(reference)? {
        return Ok(Network::from_row(row)?);
    }
    let matches: Vec<NetworkRow> = tx
        .networks()?
        .into_iter()
        .filter(|r| !reference.is_empty() && r.id.starts_with(reference))
        .collect();
    match matches.len() {
        1 => Ok(Network::from_row(matches.into_iter().next().expect("one"))?),
        0 => Err(NetworkError::NoSuchNetwork(reference.to_owned()).into()),
        _ => Err(NetworkError::Ambiguous(reference.to_owned()).into()),
    }
}

impl Engine {
    /// Creates a bridge network and its bridge.
    pub fn network_create(&self, req: &NetworkCreate) -> Result<Network, EngineError> {
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
        let net = self.insert_network(|existing| {
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
        if let Err(e) = self.realize(&net, &mut Netlink::open().map_err(NetworkError::from)?) {
            let _ = self.network_remove(&net.id);
            return Err(e);
        }
        Ok(net)
    }

    /// Plans a network from the existing ones and stores it, in one write transaction (so two concurrent
    /// creates cannot take the same subnet).
    fn insert_network(
        &self,
        plan: impl FnOnce(&[Network]) -> Result<Network, EngineError>,
    ) -> Result<Network, EngineError> {
        let mut st = self.store()?;
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
        self.network(&net.id)
    }

    /// The default `bridge` network, made on first use (a concurrent maker's wins).
    pub fn default_network(&self) -> Result<Network, EngineError> {
        match self.network(DEFAULT_NETWORK) {
            Ok(n) => return Ok(n),
            Err(EngineError::Network(NetworkError::NoSuchNetwork(_))) => {}
            Err(e) => return Err(e),
        }
        let made = self.insert_network(|existing| {
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
            Err(EngineError::State(StateError::NameInUse { .. })) => self.network(DEFAULT_NETWORK),
            other => other,
        }
    }

    /// Makes a network's bridge and firewall rules exist: the bridge with its gateway addresses, forwarding,
    /// `route_localnet` for published ports on 127.0.0.1, and the network's elements in minotaur's table.
    /// Returns the bridge's index.
    fn realize(&self, net: &Network, nl: &mut Netlink) -> Result<u32, EngineError> {
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
    pub fn network(&self, reference: &str) -> Result<Network, EngineError> {
        let mut st = self.store()?;
        st.read(|tx| find_network(tx, reference))
    }

    /// All stored networks, oldest first.
    pub fn networks(&self) -> Result<Vec<Network>, EngineError> {
        let mut st = self.store()?;
        let rows = st.read(|tx| tx.networks())?;
        Ok(rows
            .into_iter()
            .map(Network::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The endpoints on a network, or of a container, or all.
    pub fn attachments(
        &self,
        container: Option<&str>,
        network: Option<&Network>,
    ) -> Result<Vec<Attachment>, EngineError> {
        let mut st = self.store()?;
        st.read(|tx| attachments(tx, container, network))
    }

    /// A container's published ports.
    pub fn published(&self, container: &str) -> Result<Vec<Published>, EngineError> {
        let mut st = self.store()?;
        let rows = st.read(|tx| tx.ports(Some(container)))?;
        Ok(rows.iter().map(Published::from_row).collect())
    }

    /// Removes a network nobody uses: its record, bridge and firewall elements.
    pub fn network_remove(&self, reference: &str) -> Result<Network, EngineError> {
        if BUILTIN.contains(&reference) || reference == DEFAULT_NETWORK {
            return Err(NetworkError::Predefined(reference.to_owned()).into());
        }
        let mut st = self.store()?;
        let net = st.write(|tx| -> Result<Network, EngineError> {
            let net = find_network(tx, reference)?;
            if net.name == DEFAULT_NETWORK {
                return Err(NetworkError::Predefined(net.name.clone()).into());
            }
            let users = attachments(tx, None, Some(&net))?;
            if !users.is_empty() {
                let names: Vec<_> = users.iter().map(|a| a.container_name.as_str()).collect();
                return Err(NetworkError::InUse {
                    network: net.name.clone(),
                    containers: names.join(", "),
                }
                .into());
            }
            tx.delete_network(&net.id)?;
            Ok(net)
        })?;
        drop(st);
        let mut fw = Firewall::open().map_err(NetworkError::from)?;
        fw.remove_network(&net.rules())
            .map_err(NetworkError::from)?;
        Netlink::open()
            .and_then(|mut nl| nl.delete_link(&net.bridge))
            .map_err(NetworkError::from)?;
        Ok(net)
    }

    /// Removes every network no container uses (not the default one); returns their names.
    pub fn network_prune(&self) -> Result<Vec<String>, EngineError> {
        let mut gone = Vec::new();
        let used: HashSet<String> = self
            .attachments(None, None)?
            .into_iter()
            .map(|a| a.endpoint.network_id)
            .collect();
        for n in self.networks()? {
            if n.name != DEFAULT_NETWORK && !used.contains(&n.id) {
                match self.network_remove(&n.id) {
                    Ok(_) => gone.push(n.name),
                    Err(EngineError::Network(NetworkError::InUse { .. })) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(gone)
    }

    /// Restores minotaur's firewall table from the store (after someone flushed the ruleset), and the
    /// bridges' sysctls.
    pub fn network_reload(&self) -> Result<(), EngineError> {
        let networks = self.networks()?;
        let mut st = self.store()?;
        let (ports, attached) = st.read(|tx| -> Result<_, EngineError> {
            Ok((tx.ports(None)?, attachments(tx, None, None)?))
        })?;
        drop(st);
        let mut rules = Vec::new();
        for row in &ports {
            let eps: Vec<&Endpoint> = attached
                .iter()
                .filter(|a| a.container_id == row.container_id)
                .map(|a| &a.endpoint)
                .collect();
            rules.extend(port_rules(&Published::from_row(row), &eps));
        }
        let mut nl = Netlink::open().map_err(NetworkError::from)?;
        for n in &networks {
            if nl
                .link_index(&n.bridge)
                .map_err(NetworkError::from)?
                .is_some()
            {
                self.realize(n, &mut nl)?;
            }
        }
        let mut fw = Firewall::open().map_err(NetworkError::from)?;
        let all: Vec<NetworkRules> = networks.iter().map(Network::rules).collect();
        fw.sync(&all, &rules).map_err(NetworkError::from)?;
        if let Some(r) = self.connect_redirect() {
            r.sync(&rules).map_err(NetworkError::from)?;
        }
        Ok(())
    }

    /// Resolves the networks a new container joins and reserves its host ports, inside the transaction that
    /// records it. Returns the requests to attach after the namespace exists.
    pub(crate) fn plan_networks(
        &self,
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
                self.default_network()?
            } else {
                self.network(&r.network)?
            };
            out.push((net, r));
        }
        if !c.config.host.port_bindings.is_empty() && out.iter().all(|(n, _)| n.internal) {
            return Err(NetworkError::InternalPublish(c.name.to_string()).into());
        }
        Ok(out)
    }

    /// Records a new container's published ports, picking host ports for those without one.
    pub(crate) fn reserve_ports(
        tx: &minotaur_state::WriteTx<'_>,
        c: &Container,
        ports: &[PortMapping],
    ) -> Result<(), EngineError> {
        let mut picked: Vec<u16> = Vec::new();
        for p in ports {
            let host_ip = p.host_ip.map(|ip| ip.to_string()).unwrap_or_default();
            let proto = p.proto.as_str();
            let host_port = match p.host_port {
                Some(port) => port,
                None => tx.free_port(
                    proto,
                    &host_ip,
                    EPHEMERAL_PORTS.0,
                    EPHEMERAL_PORTS.1,
                    &picked,
                )?,
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

    /// Joins a container's namespace to a network: address, veth, routes, endpoint record.
    pub(crate) fn attach(
        &self,
        c: &Container,
        net: &Network,
        req: &NetworkRequest,
        index: usize,
    ) -> Result<Endpoint, EngineError> {
        let sandbox = c
            .state
            .sandbox_key
            .clone()
            .ok_or_else(|| NetworkError::NoOwnNetwork(c.name.to_string()))?;
        // Addresses first, in the store: the transaction makes concurrent runs take distinct ones.
        let mut st = self.store()?;
        let (ipv4, ipv6) = st.write(|tx| -> Result<_, EngineError> {
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
                    None => tx.allocate_address(
                        &net.id,
                        c.id.as_str(),
                        pool::hosts(&s.subnet, s.ip_range.as_ref(), s.gateway),
                    )?,
                };
                Ok(Some(
                    IpNet::new(addr, s.subnet.prefix_len()).expect("prefix of a valid subnet"),
                ))
            };
            Ok((
                pick(false, req.ipv4.map(IpAddr::V4))?,
                pick(true, req.ipv6.map(IpAddr::V6))?,
            ))
        })?;
        drop(st);
        log::debug!("attach {}: addresses allocated", c.name);
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
        let mut nl = Netlink::open().map_err(NetworkError::from)?;
        let master = match nl.link_index(&net.bridge).map_err(NetworkError::from)? {
            Some(i) => i,
            None => self.realize(net, &mut nl)?,
        };
        let ns = fs::File::open(&sandbox).map_err(|source| EngineError::Io {
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
        log::debug!("attach {}: veth made", c.name);
        // The host end is a bridge port only: it needs no IPv6 of its own (the bridge still forwards IPv6),
        // and without it there is no link-local address, route or MLD traffic per container on the host.
        sysctl::disable_ipv6(&endpoint.host_veth).map_err(NetworkError::from)?;
        nl.port_up(&endpoint.host_veth)
            .map_err(NetworkError::from)?;
        let addrs: Vec<IpNet> = ipv4.iter().chain(ipv6.iter()).copied().collect();
        // Only the first network gives the default route, as with Docker; internal networks none.
        let gateways: Vec<IpAddr> = if index == 0 && !net.internal {
            gateway4.iter().chain(gateway6.iter()).copied().collect()
        } else {
            Vec::new()
        };
        log::debug!("attach {}: host end up", c.name);
        minotaur_net::configure_peer(&sandbox, &endpoint.ifname, &addrs, &gateways)
            .map_err(NetworkError::from)?;
        log::debug!("attach {}: container end configured", c.name);
        let mut st = self.store()?;
        st.write(|tx| {
            tx.put_endpoint(
                c.id.as_str(),
                &net.id,
                &serde_json::to_string(&endpoint).expect("an endpoint always serializes"),
            )
        })?;
        log::debug!("attach {} to {}: {:?}", c.name, net.name, endpoint.ipv4);
        Ok(endpoint)
    }

    /// The firewall rules of a container's recorded ports, towards its endpoints' addresses.
    fn port_rules_of(&self, c: &Container) -> Result<Vec<PortRule>, EngineError> {
        let id = c.id.as_str();
        let mut st = self.store()?;
        let (ports, attached) = st.read(|tx| -> Result<_, EngineError> {
            Ok((tx.ports(Some(id))?, attachments(tx, Some(id), None)?))
        })?;
        let eps: Vec<&Endpoint> = attached.iter().map(|a| &a.endpoint).collect();
        Ok(ports
            .iter()
            .flat_map(|p| port_rules(&Published::from_row(p), &eps))
            .collect())
    }

    /// Publishes a container's recorded ports in the firewall.
    pub(crate) fn publish(&self, c: &Container) -> Result<(), EngineError> {
        let rules = self.port_rules_of(c)?;
        if rules.is_empty() {
            return Ok(());
        }
        let mut fw = Firewall::open().map_err(NetworkError::from)?;
        match fw.add_ports(&rules) {
            // Someone flushed the ruleset: put minotaur's table back from the store, which has this
            // container's ports already.
            Err(minotaur_firewall::FirewallError::TableMissing) => {
                drop(fw);
                self.network_reload()?;
            }
            other => other.map_err(NetworkError::from)?,
        }
        if let Some(r) = self.connect_redirect() {
            r.add(&rules).map_err(NetworkError::from)?;
        }
        Ok(())
    }

    /// Takes a container's ports off the firewall. Its veths go with its namespace.
    pub(crate) fn unpublish(&self, c: &Container) -> Result<(), EngineError> {
        let rules = self.port_rules_of(c)?;
        if !rules.is_empty() {
            // Whatever --connect-cgroup says now: an entry left behind would send connections to an
            // address the container no longer has.
            if let Some(r) = self.pinned_redirect() {
                r.remove_ports(&rules).map_err(NetworkError::from)?;
            }
            let mut fw = Firewall::open().map_err(NetworkError::from)?;
            fw.remove_ports(&rules).map_err(NetworkError::from)?;
        }
        Ok(())
    }

    /// The connect4 redirect of published loopback ports (see `minotaur_firewall::connect`), pinned in
    /// `<runroot>/bpf` and made on first use; `None` when `--connect-cgroup` is off, or it cannot be made
    /// here (a warning: the DNAT still carries those connections).
    fn connect_redirect(&self) -> Option<ConnectRedirect> {
        let cgroup = self.paths.connect_cgroup.as_deref()?;
        let dir = minotaur_firewall::connect::pin_dir(&self.paths.runroot);
        let made = (|| -> Result<ConnectRedirect, EngineError> {
            if let Some(r) = ConnectRedirect::open(&dir).map_err(NetworkError::from)? {
                return Ok(r);
            }
            let _lock = self.runroot_locked()?;
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
    fn pinned_redirect(&self) -> Option<ConnectRedirect> {
        let dir = minotaur_firewall::connect::pin_dir(&self.paths.runroot);
        ConnectRedirect::open(&dir)
            .map_err(|e| redirect_warning(&NetworkError::from(e).into()))
            .ok()
            .flatten()
    }

    /// `network connect`: joins a container (running or not) to one more network.
    pub fn network_connect(
        &self,
        network: &str,
        container: &str,
        req: NetworkRequest,
    ) -> Result<(), EngineError> {
        let c = self.find(container)?;
        let net = if network == DEFAULT_NETWORK {
            self.default_network()?
        } else {
            self.network(network)?
        };
        let current = self.attachments(Some(c.id.as_str()), None)?;
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
        if let Err(e) = self.attach(&c, &net, &req, index) {
            let _ = self.detach_records(&c, &net);
            return Err(e);
        }
        self.update_dns(&c.id)
    }

    /// `network disconnect`: takes a container off a network.
    pub fn network_disconnect(&self, network: &str, container: &str) -> Result<(), EngineError> {
        let c = self.find(container)?;
        let net = self.network(network)?;
        let current = self.attachments(Some(c.id.as_str()), None)?;
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
        self.detach_records(&c, &net)?;
        self.update_dns(&c.id)
    }

    fn detach_records(&self, c: &Container, net: &Network) -> Result<(), EngineError> {
        let mut st = self.store()?;
        st.write(|tx| -> Result<(), StateError> {
            tx.delete_endpoint(c.id.as_str(), &net.id)?;
            tx.release_addresses(&net.id, c.id.as_str())
        })?;
        Ok(())
    }

    /// Where the resolver keeps its configuration and lock.
    fn dns_dir(&self) -> std::path::PathBuf {
        self.paths.runroot.join("dns")
    }

    /// Updates the resolver for a change to container `id` (created, removed, renamed, connected or
    /// disconnected) and tells it. A resolver that cannot be told (say, port 53 of a gateway is taken) costs
    /// name resolution, not the container: it is a warning.
    pub(crate) fn update_dns(&self, id: &ContainerId) -> Result<(), EngineError> {
        if let Err(e) = self.try_update_dns(id) {
            log::warn!(
                "container names will not resolve: {}",
                crate::error_chain(&e)
            );
        }
        Ok(())
    }

    /// Rewrites container `id`'s record file (gone when it is on no network) and, when the networks that have
    /// containers changed, the listeners; then tells the resolver (starting it when a network has
    /// containers, letting it go when none has). Only the one container's endpoints are read: the work is
    /// the same at the first container and at the thousandth.
    fn try_update_dns(&self, id: &ContainerId) -> Result<(), EngineError> {
        let networks = self.networks()?;
        let mut st = self.store()?;
        let (in_use, own) = st.read(|tx| -> Result<_, StateError> {
            Ok((
                tx.networks_in_use()?,
                tx.endpoints(Some(id.as_str()), None)?,
            ))
        })?;
        drop(st);
        let mut listeners = Vec::new();
        for n in networks.iter().filter(|n| in_use.contains(&n.id)) {
            for s in &n.subnets {
                listeners.push(minotaur_dns::Listener {
                    address: s.gateway,
                    network: n.name.clone(),
                    internal: n.internal,
                    records: Vec::new(),
                });
            }
        }
        let mut entries = Vec::new();
        for row in own {
            let endpoint: Endpoint =
                serde_json::from_str(&row.data).map_err(|source| NetworkError::Corrupt {
                    id: format!("(endpoint of container {})", row.container_id),
                    source,
                })?;
            let Some(net) = networks.iter().find(|n| n.id == row.network_id) else {
                continue;
            };
            let mut names = vec![row.container_name.clone()];
            names.extend(endpoint.aliases.iter().cloned());
            names.push(row.container_id[..12].to_owned());
            entries.push(minotaur_dns::Entry {
                network: net.name.clone(),
                record: minotaur_dns::Record {
                    names,
                    addresses: endpoint.addresses().collect(),
                    container: row.container_id.clone(),
                },
            });
        }
        log::debug!("dns: {} entries of {}", entries.len(), id.short());
        let dir = self.dns_dir();
        if listeners.is_empty() && !dir.exists() {
            return Ok(());
        }
        fs::create_dir_all(&dir).map_err(|source| EngineError::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        minotaur_dns::write_records(&dir, id.as_str(), &entries).map_err(NetworkError::from)?;
        let config = minotaur_dns::Config {
            listeners,
            upstreams: minotaur_dns::host_upstreams(),
        };
        // A configuration that cannot be read is replaced.
        let changed = minotaur_dns::read_config(&dir).ok().as_ref() != Some(&config);
        if changed {
            minotaur_dns::write_config(&dir, &config).map_err(NetworkError::from)?;
            log::debug!("dns: listeners written");
        }
        let exe = std::env::current_exe().map_err(|source| EngineError::Io {
            what: "find the minotaur executable".into(),
            source,
        })?;
        if changed {
            minotaur_dns::notify(&dir, &exe)
        } else {
            minotaur_dns::ensure_running(&dir, &exe)
        }
        .map_err(NetworkError::from)?;
        log::debug!("dns: resolver told");
        Ok(())
    }
}

impl Engine {
    /// A container's `inspect` document with its networks and published ports filled in.
    pub fn inspect(&self, c: &Container) -> Result<serde_json::Value, EngineError> {
        let mut doc = c.inspect();
        let (attached, ports) = {
            let mut st = self.store()?;
            st.read(|tx| -> Result<_, EngineError> {
                Ok((
                    attachments(tx, Some(c.id.as_str()), None)?,
                    tx.ports(Some(c.id.as_str()))?,
                ))
            })?
        };
        let ns = &mut doc["NetworkSettings"];
        let mut nets = serde_json::Map::new();
        for a in &attached {
            let e = &a.endpoint;
            nets.insert(
                a.network.clone(),
                json!({
                    "IPAMConfig": null,
                    "Links": null,
                    "Aliases": e.aliases,
                    "MacAddress": e.mac,
                    "NetworkID": e.network_id,
                    "EndpointID": endpoint_id(&a.container_id, &e.network_id),
                    "Gateway": e.gateway4.map(|g| g.to_string()).unwrap_or_default(),
                    "IPAddress": e.ipv4.map(|n| n.addr().to_string()).unwrap_or_default(),
                    "IPPrefixLen": e.ipv4.map_or(0, |n| n.prefix_len()),
                    "IPv6Gateway": e.gateway6.map(|g| g.to_string()).unwrap_or_default(),
                    "GlobalIPv6Address": e.ipv6.map(|n| n.addr().to_string()).unwrap_or_default(),
                    "GlobalIPv6PrefixLen": e.ipv6.map_or(0, |n| n.prefix_len()),
                    "DNSNames": std::iter::once(c.name.to_string())
                        .chain(e.aliases.iter().cloned())
                        .chain(std::iter::once(c.id.short().to_owned()))
                        .collect::<Vec<_>>(),
                }),
            );
        }
        // The first network's addresses are the top-level ones, as Docker shows its default network's.
        if let Some(first) = attached.iter().min_by_key(|a| a.endpoint.ifname.clone()) {
            let e = &first.endpoint;
            ns["IPAddress"] = json!(e.ipv4.map(|n| n.addr().to_string()).unwrap_or_default());
            ns["IPPrefixLen"] = json!(e.ipv4.map_or(0, |n| n.prefix_len()));
            ns["Gateway"] = json!(e.gateway4.map(|g| g.to_string()).unwrap_or_default());
            ns["MacAddress"] = json!(e.mac);
            ns["GlobalIPv6Address"] =
                json!(e.ipv6.map(|n| n.addr().to_string()).unwrap_or_default());
            ns["IPv6Gateway"] = json!(e.gateway6.map(|g| g.to_string()).unwrap_or_default());
        }
        if matches!(c.config.host.network_mode.as_str(), "host" | "none") {
            nets.insert(
                c.config.host.network_mode.clone(),
                json!({"NetworkID": Network::builtin(&c.config.host.network_mode).id, "IPAddress": "", "Gateway": "", "MacAddress": "", "Aliases": null}),
            );
        }
        ns["Networks"] = serde_json::Value::Object(nets);
        let mut port_map: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        for &(port, proto) in &c.config.host.exposed {
            port_map.insert(
                format!("{port}/{}", proto.as_str()),
                serde_json::Value::Null,
            );
        }
        for p in ports.iter().map(Published::from_row) {
            let entry = port_map
                .entry(format!("{}/{}", p.container_port, p.proto.as_str()))
                .or_insert_with(|| json!([]));
            if !entry.is_array() {
                *entry = json!([]);
            }
            entry.as_array_mut().expect("an array").push(json!({
                "HostIp": p.host_ip.map_or("0.0.0.0".to_owned(), |ip| ip.to_string()),
                "HostPort": p.host_port.to_string(),
            }));
        }
        ns["Ports"] = json!(port_map);
        Ok(doc)
    }

    /// Every container's published ports, by container ID.
    pub fn all_published(&self) -> Result<BTreeMap<String, Vec<Published>>, EngineError> {
        let mut st = self.store()?;
        let rows = st.read(|tx| tx.ports(None))?;
        let mut out: BTreeMap<String, Vec<Published>> = BTreeMap::new();
        for r in &rows {
            out.entry(r.container_id.clone())
                .or_default()
                .push(Published::from_row(r));
        }
        Ok(out)
    }
}

/// The firewall rules of one published port: towards the container's IPv4 address, and its IPv6 one when
/// it has one and the port is not tied to an IPv4 host address.
fn port_rules(p: &Published, eps: &[&Endpoint]) -> Vec<PortRule> {
    let proto = match p.proto {
        Proto::Tcp => FwProto::Tcp,
        Proto::Udp => FwProto::Udp,
    };
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

/// Registers a container's network namespace under its name in /run/netns, with /etc/netns/NAME files, so
/// `ip netns exec NAME` sees and resolves as the container does. A name someone else holds is left alone.
///
/// The name is a symbolic link to the SandboxKey, not another bind mount: iproute2 follows it like any path,
/// and every mount in the host's namespace is copied into each new container's mount namespace, so a second
/// mount per container would make every container start slower the more there are.
pub(crate) fn register_netns(
    name: &str,
    sandbox: &Path,
    etc_dir: &Path,
) -> Result<bool, EngineError> {
    let registry = minotaur_ns::netns::Registry::system();
    let Ok(n) = minotaur_ns::netns::NetnsName::new(name) else {
        return Ok(false);
    };
    let path = registry.path(&n);
    let io = |what: String| move |source| EngineError::Io { what, source };
    let dir = Path::new(minotaur_ns::netns::RUN_DIR);
    fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
    match std::os::unix::fs::symlink(sandbox, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            log::warn!(
                "{} exists already: not registering container {name} there",
                path.display()
            );
            return Ok(false);
        }
        Err(e) => return Err(io(format!("create {}", path.display()))(e)),
    }
    let etc = Path::new(minotaur_ns::netns::ETC_DIR).join(name);
    let copy = || -> std::io::Result<()> {
        fs::create_dir_all(&etc)?;
        for f in ["resolv.conf", "hosts"] {
            fs::copy(etc_dir.join(f), etc.join(f))?;
        }
        Ok(())
    };
    copy().map_err(io(format!("write {}", etc.display())))?;
    Ok(true)
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

/// Undoes [`register_netns`], if the name is our link to `sandbox`.
pub(crate) fn unregister_netns(name: &str, sandbox: &Path) {
    let registry = minotaur_ns::netns::Registry::system();
    let Ok(n) = minotaur_ns::netns::NetnsName::new(name) else {
        return;
    };
    let path = registry.path(&n);
    if fs::read_link(&path).ok().as_deref() != Some(sandbox) {
        return;
    }
    let _ = fs::remove_file(&path);
    let _ = fs::remove_dir_all(Path::new(minotaur_ns::netns::ETC_DIR).join(name));
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

    #[test]
    fn names_follow_dockers_rule() {
        assert!(check_name("my-net_1.x").is_ok());
        assert!(check_name("-x").is_err());
        assert!(check_name("a/b").is_err());
    }
}
