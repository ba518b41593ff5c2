//! What a network and a container's place on one are, as the state store keeps them: the `networks` rows
//! (a [`Network`] with its subnets) and the `endpoints` rows (an [`Endpoint`] per container and network), and
//! reading them back, with Docker's `network inspect` document.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use minotaur_firewall::NetworkRules;
use minotaur_state::{EndpointRow, NetworkRow, ReadTx};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::network::NetworkError;
use crate::error::EngineError;

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

/// Docker's network option that keeps IPv4 addresses off the bridge.
pub const INHIBIT_IPV4: &str = "com.docker.network.bridge.inhibit_ipv4";

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

/// A CNI attachment's data (the `cni_attachments` table's): a caller's network namespace on a network, made
/// by `minotaur-cni` ADD (see the `cni` module).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CniRecord {
    /// The interface, addresses and host veth, as a container's; `ifname` is `CNI_IFNAME`.
    pub endpoint: Endpoint,
    /// The `portMappings` capability's ports, published towards the endpoint's addresses.
    #[serde(default)]
    pub ports: Vec<CniPort>,
    /// Routes added besides the default ones (the IPAM configuration's `routes`).
    #[serde(default)]
    pub routes: Vec<CniRoute>,
    /// Whether the default routes via the gateways were added.
    #[serde(default)]
    pub default_routes: bool,
    /// The names the resolver answers with its addresses on the network (`K8S_POD_NAME` and the
    /// container ID).
    #[serde(default)]
    pub names: Vec<String>,
    /// The `bandwidth` capability's shaping, on the host end of the veth and the ifb device beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<CniBandwidth>,
    /// The addresses of the second and later range sets of a family (host-local gives one per set), on
    /// the inside interface beside the endpoint's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_addresses: Vec<IpNet>,
}

impl CniRecord {
    /// Every address of the attachment: the endpoint's, then the extra ones.
    pub fn addresses(&self) -> impl Iterator<Item = IpNet> + '_ {
        let ep = &self.endpoint;
        ep.ipv4
            .iter()
            .chain(ep.ipv6.iter())
            .chain(self.extra_addresses.iter())
            .copied()
    }
}

/// The `bandwidth` capability's settings, as the reference `bandwidth` plugin reads them: rates in bits
/// per second and bursts in bits. Ingress is traffic into the container, egress traffic out of it; a
/// direction with no rate is not shaped.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CniBandwidth {
    #[serde(default)]
    pub ingress_rate: u64,
    #[serde(default)]
    pub ingress_burst: u64,
    #[serde(default)]
    pub egress_rate: u64,
    #[serde(default)]
    pub egress_burst: u64,
}

impl CniBandwidth {
    /// Whether any direction is shaped.
    pub fn shapes(&self) -> bool {
        self.ingress_rate > 0 || self.egress_rate > 0
    }
}

/// A published port of a CNI attachment.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CniPort {
    pub proto: crate::parse::Proto,
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
}

/// A route of a CNI attachment: towards `dst` via `gw` (the network's gateway when `None`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CniRoute {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
}

/// An endpoint with the names it is shown under.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub container_id: String,
    pub container_name: String,
    pub network: String,
    pub endpoint: Endpoint,
}

impl Network {
    pub(crate) fn from_row(row: NetworkRow) -> Result<Network, NetworkError> {
        let mut n: Network =
            serde_json::from_str(&row.config).map_err(|source| NetworkError::Corrupt {
                id: row.id.clone(),
                source,
            })?;
        n.created = row.created_at;
        Ok(n)
    }

    /// The bridge's addresses: each gateway with its subnet's prefix, but IPv4's when Docker's
    /// `com.docker.network.bridge.inhibit_ipv4` is set (the CNI bridge plugin's `isGateway: false`).
    pub(crate) fn gateway_addresses(&self) -> Vec<IpNet> {
        self.subnets
            .iter()
            .filter(|s| self.bridge_holds_gateway(s.subnet.addr().is_ipv6()))
            .filter_map(|s| IpNet::new(s.gateway, s.subnet.prefix_len()).ok())
            .collect()
    }

    /// Whether the bridge holds the gateway of the family's subnet: always, but for IPv4 under
    /// `com.docker.network.bridge.inhibit_ipv4` (whose gateway is then someone else's, or none).
    pub(crate) fn bridge_holds_gateway(&self, v6: bool) -> bool {
        v6 || !self
            .options
            .get(INHIBIT_IPV4)
            .is_some_and(|v| matches!(v.as_str(), "true" | "1"))
    }

    pub(crate) fn rules(&self) -> NetworkRules {
        NetworkRules {
            bridge: self.bridge.clone(),
            subnets: self.subnets.iter().map(|s| s.subnet).collect(),
            internal: self.internal,
        }
    }

    pub(crate) fn subnet_of(&self, v6: bool) -> Option<&Subnet> {
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

pub(crate) fn endpoint_id(container: &str, network: &str) -> String {
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

pub(crate) fn corrupt_endpoint(
    row: &EndpointRow,
) -> impl FnOnce(serde_json::Error) -> NetworkError + '_ {
    move |source| NetworkError::Corrupt {
        id: format!(
            "{} (endpoint of container {})",
            row.network_id, row.container_id
        ),
        source,
    }
}

/// Reads networks and endpoints in one transaction.
pub(crate) fn read_attachments(
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

pub(crate) fn find_network(tx: &ReadTx<'_>, reference: &str) -> Result<Network, EngineError> {
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
