//! What a CNI runtime hands the plugin: the `CNI_*` environment ([`Invocation`]) and the network
//! configuration on stdin ([`NetConf`]), with the reference bridge plugin's keys and host-local's IPAM
//! section, checked into what an attachment needs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;

use crate::cni::error::CniError;
use crate::network::record::CniBandwidth;
use crate::parse::Proto;

/// The spec versions this plugin answers for, oldest first. The result's shape is 1.0's for all of them
/// but the 0.x ones, which also name each address's IP version.
pub const SUPPORTED_VERSIONS: [&str; 5] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// The CNI commands (the spec's `CNI_COMMAND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Status,
    Gc,
    Version,
}

impl Command {
    pub fn parse(s: &str) -> Result<Command, CniError> {
        Ok(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            "VERSION" => Command::Version,
            other => {
                return Err(CniError::InvalidEnv(format!(
                    "CNI_COMMAND {other:?} is not one of ADD, DEL, CHECK, STATUS, GC, VERSION"
                )))
            }
        })
    }
}

/// The `CNI_*` environment of one invocation.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub command: Command,
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`: the namespace's path (empty where the spec allows it: DEL, GC, STATUS).
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS`, `K=V;K=V`.
    pub args: BTreeMap<String, String>,
}

impl Invocation {
    /// Reads the invocation from an environment lookup (`std::env::var` for the real one). Which variables
    /// are required depends on the command, as the spec's table says.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Invocation, CniError> {
        let get = |k: &str| var(k).filter(|v| !v.is_empty());
        let command = Command::parse(
            &get("CNI_COMMAND")
                .ok_or_else(|| CniError::InvalidEnv("CNI_COMMAND is not set".into()))?,
        )?;
        let needs_attachment = matches!(command, Command::Add | Command::Del | Command::Check);
        let required = |k: &str| -> Result<String, CniError> {
            match get(k) {
                Some(v) => Ok(v),
                None if needs_attachment => Err(CniError::InvalidEnv(format!("{k} is not set"))),
                None => Ok(String::new()),
            }
        };
        let container_id = required("CNI_CONTAINERID")?;
        let ifname = required("CNI_IFNAME")?;
        let netns = get("CNI_NETNS").map(PathBuf::from);
        if netns.is_none() && matches!(command, Command::Add | Command::Check) {
            return Err(CniError::InvalidEnv("CNI_NETNS is not set".into()));
        }
        if needs_attachment {
            check_container_id(&container_id)?;
            check_ifname(&ifname)?;
        }
        let args = get("CNI_ARGS")
            .map(|a| {
                a.split(';')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
                        None => Err(CniError::InvalidEnv(format!(
                            "CNI_ARGS item {kv:?} is not KEY=VALUE"
                        ))),
                    })
                    .collect::<Result<_, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Invocation {
            command,
            container_id,
            netns,
            ifname,
            args,
        })
    }
}

/// The spec's rule for container IDs: alphanumerics, then also `_`, `.` and `-`.
fn check_container_id(id: &str) -> Result<(), CniError> {
    let ok = id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CniError::InvalidEnv(format!(
            "CNI_CONTAINERID {id:?} has characters other than letters, digits, '_', '.' and '-'"
        )))
    }
}

/// Linux's rule for interface names, which the spec repeats.
fn check_ifname(name: &str) -> Result<(), CniError> {
    if name.len() > 15
        || name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        return Err(CniError::InvalidEnv(format!(
            "CNI_IFNAME {name:?} is not a valid interface name (1-15 characters, no '/', ':' or spaces)"
        )));
    }
    Ok(())
}

/// The network configuration on stdin. Keys of other plugins (and the reference bridge plugin's that have
/// no meaning here) are ignored, as the spec asks.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    #[serde(default)]
    pub cni_version: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub plugin: String,
    /// The bridge's name; a new network's bridge is named after it.
    pub bridge: Option<String>,
    /// Whether the bridge holds the gateway (see [`NetConf::gateway_on_bridge`]).
    pub is_gateway: Option<bool>,
    /// Whether the default route goes via the gateway; the default when the IPAM section has no routes.
    pub is_default_gateway: Option<bool>,
    /// Whether traffic leaving the network is masqueraded. Accepted and not used: a minotaur network that
    /// is not internal always masquerades what leaves it.
    pub ip_masq: Option<bool>,
    pub mtu: Option<u32>,
    #[serde(default)]
    pub ipam: Option<Ipam>,
    #[serde(default)]
    pub runtime_config: RuntimeConfig,
    /// The configuration's own arguments: `args.cni.ips` asks for addresses, as host-local reads it.
    #[serde(default)]
    pub args: ConfArgs,
    /// The previous plugin's result: on ADD when this plugin is chained after another (its interfaces,
    /// addresses and routes are kept in ours), and what ADD returned on CHECK and DEL.
    pub prev_result: Option<serde_json::Value>,
    /// GC's list of the attachments to keep. Absent or `null` means none is (see [`NetConf::valid`]).
    #[serde(rename = "cni.dev/valid-attachments")]
    pub valid_attachments: Option<Vec<ValidAttachment>>,
    /// The same list under the name the spec's text once gave it; libcni sends both.
    #[serde(rename = "cni.dev/attachments")]
    pub attachments: Option<Vec<ValidAttachment>>,
}

/// The `args` key of a configuration; only the `cni` namespace's `ips` is read.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfArgs {
    #[serde(default)]
    pub cni: ConfCniArgs,
}

/// `args.cni`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfCniArgs {
    /// Addresses to take (with or without a prefix length), one per address family.
    #[serde(default)]
    pub ips: Vec<String>,
}

/// host-local's IPAM section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ipam {
    #[serde(rename = "type", default)]
    pub plugin: String,
    /// Range sets, at most one per address family. The ranges of a set are windows of one subnet, tried
    /// in order, as host-local tries them.
    #[serde(default)]
    pub ranges: Vec<Vec<Range>>,
    #[serde(default)]
    pub routes: Vec<Route>,
    /// host-local's older single range (`subnet`, `gateway`, `rangeStart`, `rangeEnd` at this level).
    #[serde(flatten)]
    pub single: Option<Range>,
}

/// One host-local range.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    pub subnet: IpNet,
    pub gateway: Option<IpAddr>,
    pub range_start: Option<IpAddr>,
    pub range_end: Option<IpAddr>,
}

/// A route of the IPAM section: `gw` absent means via the network's gateway.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Route {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
}

/// The capabilities a runtime passes in `runtimeConfig`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfig {
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    /// The `ips` capability: addresses to take, as `args.cni.ips`.
    #[serde(default)]
    pub ips: Vec<String>,
    /// The `ipRanges` capability: range sets that replace the IPAM section's, as host-local takes them.
    #[serde(default)]
    pub ip_ranges: Vec<Vec<Range>>,
    /// The `dns` capability: what the runtime wants in the namespace's resolver configuration.
    #[serde(default)]
    pub dns: Option<DnsCapability>,
    /// The `bandwidth` capability: rates to shape the attachment's traffic to.
    #[serde(default)]
    pub bandwidth: Option<CniBandwidth>,
}

/// The `bandwidth` capability's checks, as the reference plugin makes them: a rate needs a burst and a
/// burst a rate; a burst must fit the kernel's 32-bit byte count.
fn check_bandwidth(bw: &CniBandwidth) -> Result<(), CniError> {
    for (dir, rate, burst) in [
        ("ingress", bw.ingress_rate, bw.ingress_burst),
        ("egress", bw.egress_rate, bw.egress_burst),
    ] {
        if (rate == 0) != (burst == 0) {
            return Err(CniError::InvalidConfig(format!(
                "bandwidth: {dir}Rate and {dir}Burst must be given together ({rate} and {burst})"
            )));
        }
        if burst / 8 >= u64::from(u32::MAX) {
            return Err(CniError::InvalidConfig(format!(
                "bandwidth: {dir}Burst {burst} is 4 GiB or more"
            )));
        }
    }
    Ok(())
}

/// The `dns` capability's settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct DnsCapability {
    #[serde(default)]
    pub servers: Vec<String>,
    #[serde(default)]
    pub searches: Vec<String>,
    #[serde(default)]
    pub options: Vec<String>,
}

/// One entry of the `portMappings` capability.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    #[serde(default = "tcp")]
    pub protocol: String,
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
}

fn tcp() -> String {
    "tcp".into()
}

/// One entry of `cni.dev/valid-attachments`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct ValidAttachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

impl NetConf {
    /// Parses and checks the configuration: a version this plugin answers for, a name, our type, and
    /// IPAM and port settings it can honour.
    pub fn parse(bytes: &[u8]) -> Result<NetConf, CniError> {
        let conf: NetConf = serde_json::from_slice(bytes).map_err(CniError::Decode)?;
        conf.check_version()?;
        if conf.name.is_empty() {
            return Err(CniError::InvalidConfig(
                "the configuration has no name".into(),
            ));
        }
        if conf.gateway_on_bridge() == Some(false)
            && conf
                .range_sets()
                .iter()
                .flatten()
                .any(|r| r.subnet.addr().is_ipv6())
        {
            return Err(CniError::Unsupported(
                "isGateway false with an IPv6 range: a minotaur bridge can go without its IPv4 gateway \
                 only"
                    .into(),
            ));
        }
        if let Some(ipam) = &conf.ipam {
            if !matches!(ipam.plugin.as_str(), "" | "host-local" | "minotaur-cni") {
                return Err(CniError::Unsupported(format!(
                    "ipam type {:?}: addresses come from minotaur's own allocator (host-local's keys are \
                     understood)",
                    ipam.plugin
                )));
            }
        }
        for p in &conf.runtime_config.port_mappings {
            p.port()?;
        }
        conf.check_range_sets()?;
        conf.requested_ips()?;
        if let Some(bw) = &conf.runtime_config.bandwidth {
            check_bandwidth(bw)?;
        }
        Ok(conf)
    }

    /// A minotaur network has one subnet per address family, so a range set's ranges must be windows of
    /// one subnet, and the sets of one family must share it (each gives the attachment an address, as
    /// host-local's do).
    fn check_range_sets(&self) -> Result<(), CniError> {
        let sets = self.range_sets();
        for (i, set) in sets.iter().enumerate() {
            let Some(first) = set.first() else {
                return Err(CniError::InvalidConfig(format!("range set {i} is empty")));
            };
            let subnet = first.subnet.trunc();
            for r in set {
                if r.subnet.trunc() != subnet {
                    return Err(CniError::Unsupported(format!(
                        "range set {i} mixes subnets {subnet} and {}: a minotaur network has one subnet \
                         per address family (its ranges may be windows of that subnet)",
                        r.subnet.trunc()
                    )));
                }
                for a in [r.range_start, r.range_end].into_iter().flatten() {
                    if !subnet.contains(&a) {
                        return Err(CniError::InvalidConfig(format!(
                            "range boundary {a} is outside its subnet {subnet}"
                        )));
                    }
                }
            }
            if let Some(other) = sets[..i]
                .iter()
                .map(|o| o[0].subnet.trunc())
                .find(|o| o.addr().is_ipv6() == subnet.addr().is_ipv6() && *o != subnet)
            {
                return Err(CniError::Unsupported(format!(
                    "range sets of one address family in subnets {other} and {subnet}: a minotaur \
                     network has one subnet per family (several sets in it give one address each)"
                )));
            }
        }
        Ok(())
    }

    /// The version check the spec asks every command to make (error 1).
    pub fn check_version(&self) -> Result<(), CniError> {
        if self.cni_version.is_empty() {
            return Err(CniError::InvalidConfig(
                "the configuration has no cniVersion".into(),
            ));
        }
        if !SUPPORTED_VERSIONS.contains(&self.cni_version.as_str()) {
            return Err(CniError::IncompatibleVersion(self.cni_version.clone()));
        }
        Ok(())
    }

    /// The range sets in force: the `ipRanges` capability's when the runtime gives them, else the IPAM
    /// section's `ranges`, else its older single range as a set of one.
    pub fn range_sets(&self) -> Vec<Vec<Range>> {
        if !self.runtime_config.ip_ranges.is_empty() {
            return self.runtime_config.ip_ranges.clone();
        }
        let Some(ipam) = &self.ipam else {
            return Vec::new();
        };
        if !ipam.ranges.is_empty() {
            return ipam.ranges.clone();
        }
        ipam.single
            .clone()
            .map(|r| vec![vec![r]])
            .unwrap_or_default()
    }

    /// Every range of every set in force.
    pub fn ranges(&self) -> Vec<Range> {
        self.range_sets().into_iter().flatten().collect()
    }

    /// The range sets of one address family, in order: an attachment gets an address from each.
    pub fn range_sets_of(&self, v6: bool) -> Vec<Vec<Range>> {
        self.range_sets()
            .into_iter()
            .filter(|set| set.first().is_some_and(|r| r.subnet.addr().is_ipv6() == v6))
            .collect()
    }

    /// The addresses asked for by the `ips` capability and `args.cni.ips` (a prefix length is allowed and
    /// ignored), at most one per address family. `CNI_ARGS`' `IP` is the invocation's.
    pub fn requested_ips(&self) -> Result<Vec<IpAddr>, CniError> {
        parse_ips(
            self.runtime_config
                .ips
                .iter()
                .chain(&self.args.cni.ips)
                .map(String::as_str),
            "requested address",
        )
    }

    /// GC's attachments to keep: `cni.dev/valid-attachments`, or `cni.dev/attachments`. Neither (or
    /// `null`, which is how libcni encodes an empty Go list) means that none is valid, as the reference
    /// plugins' library reads it and as `cnitool gc` means it ("all attachments are stale"): libcni has
    /// already sent a DEL for each attachment it cached before it sends GC.
    pub fn valid(&self) -> &[ValidAttachment] {
        self.valid_attachments
            .as_deref()
            .or(self.attachments.as_deref())
            .unwrap_or(&[])
    }

    /// Whether the bridge holds the gateway, when the configuration says: `isGateway`, made true by
    /// `isDefaultGateway` as the reference bridge plugin makes it. `false` is Docker's
    /// `com.docker.network.bridge.inhibit_ipv4` on the network: no address on the bridge, and no default
    /// route unless the IPAM section's routes name one.
    pub fn gateway_on_bridge(&self) -> Option<bool> {
        if self.is_default_gateway == Some(true) {
            return Some(true);
        }
        self.is_gateway
    }

    /// The IPAM section's routes.
    pub fn routes(&self) -> &[Route] {
        self.ipam.as_ref().map_or(&[], |i| &i.routes)
    }

    /// Whether the results of this version name each address's IP version (0.3.x and 0.4.0).
    pub fn legacy_result(&self) -> bool {
        self.cni_version.starts_with("0.")
    }
}

/// Addresses with or without a prefix length; duplicates are one; two of one family are refused.
pub fn parse_ips<'a>(
    list: impl Iterator<Item = &'a str>,
    what: &str,
) -> Result<Vec<IpAddr>, CniError> {
    let mut out: Vec<IpAddr> = Vec::new();
    for s in list {
        let a: IpAddr = s
            .split('/')
            .next()
            .unwrap_or(s)
            .parse()
            .map_err(|_| CniError::InvalidConfig(format!("{what} {s:?} is not an address")))?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

impl PortMapping {
    /// The mapping as a published port.
    pub fn port(&self) -> Result<crate::network::record::CniPort, CniError> {
        let proto = match self.protocol.to_ascii_lowercase().as_str() {
            "tcp" | "" => Proto::Tcp,
            "udp" => Proto::Udp,
            other => {
                return Err(CniError::Unsupported(format!(
                    "port mapping protocol {other:?} (only tcp and udp)"
                )))
            }
        };
        if self.host_port == 0 || self.container_port == 0 {
            return Err(CniError::InvalidConfig(format!(
                "port mapping {}:{} has a zero port",
                self.host_port, self.container_port
            )));
        }
        let host_ip = match self.host_ip.as_deref() {
            None | Some("") | Some("0.0.0.0") | Some("::") => None,
            Some(ip) => Some(ip.parse::<IpAddr>().map_err(|_| {
                CniError::InvalidConfig(format!("port mapping hostIP {ip:?} is not an address"))
            })?),
        };
        Ok(crate::network::record::CniPort {
            proto,
            host_ip,
            host_port: self.host_port,
            container_port: self.container_port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimal_configuration_parses() {
        let c = NetConf::parse(br#"{"cniVersion":"1.0.0","name":"net1","type":"minotaur-cni"}"#)
            .unwrap();
        assert_eq!(c.name, "net1");
        assert!(c.ranges().is_empty());
    }

    #[test]
    fn a_bridge_plugin_configuration_parses() {
        let c = NetConf::parse(
            br#"{"cniVersion":"1.1.0","name":"mynet","type":"minotaur-cni","bridge":"cni0",
                "isGateway":true,"ipMasq":true,"mtu":1400,"hairpinMode":true,
                "ipam":{"type":"host-local","ranges":[[{"subnet":"10.22.0.0/16","rangeStart":"10.22.0.10",
                "rangeEnd":"10.22.0.20","gateway":"10.22.0.1"}]],"routes":[{"dst":"0.0.0.0/0"}]},
                "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}}"#,
        )
        .unwrap();
        assert_eq!(c.bridge.as_deref(), Some("cni0"));
        assert_eq!(c.mtu, Some(1400));
        let r = c.ranges();
        assert_eq!(r[0].subnet.to_string(), "10.22.0.0/16");
        assert_eq!(r[0].range_start, Some("10.22.0.10".parse().unwrap()));
        assert_eq!(c.routes()[0].dst.to_string(), "0.0.0.0/0");
        assert_eq!(
            c.runtime_config.port_mappings[0].port().unwrap().host_port,
            8080
        );
    }

    #[test]
    fn host_local_single_range_parses() {
        let c = NetConf::parse(
            br#"{"cniVersion":"0.4.0","name":"n","type":"minotaur-cni",
                "ipam":{"type":"host-local","subnet":"10.9.0.0/24","gateway":"10.9.0.1"}}"#,
        )
        .unwrap();
        assert_eq!(c.ranges()[0].gateway, Some("10.9.0.1".parse().unwrap()));
        assert!(c.legacy_result());
    }

    #[test]
    fn range_sets_come_from_ip_ranges_before_the_ipam_section() {
        let c = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"n","type":"minotaur-cni",
                "ipam":{"type":"host-local","ranges":[
                    [{"subnet":"10.5.0.0/24","rangeStart":"10.5.0.10","rangeEnd":"10.5.0.11"},
                     {"subnet":"10.5.0.0/24","rangeStart":"10.5.0.50","gateway":"10.5.0.1"}],
                    [{"subnet":"fd00:5::/64"}]]}}"#,
        )
        .unwrap();
        assert_eq!(c.range_sets().len(), 2);
        assert_eq!(c.range_sets_of(false)[0].len(), 2);
        assert_eq!(
            c.range_sets_of(true)[0][0].subnet.to_string(),
            "fd00:5::/64"
        );
        let c = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"n","type":"minotaur-cni",
                "ipam":{"type":"host-local","subnet":"10.5.0.0/24"},
                "runtimeConfig":{"ipRanges":[[{"subnet":"10.6.0.0/24","rangeStart":"10.6.0.7"}]]}}"#,
        )
        .unwrap();
        assert_eq!(c.ranges().len(), 1);
        assert_eq!(c.ranges()[0].subnet.to_string(), "10.6.0.0/24");
        assert!(c.range_sets_of(true).is_empty());
    }

    #[test]
    fn range_sets_a_network_cannot_hold_are_refused() {
        let code = |ipam: &str| {
            NetConf::parse(
                format!(
                    r#"{{"cniVersion":"1.0.0","name":"n","type":"minotaur-cni","ipam":{ipam}}}"#
                )
                .as_bytes(),
            )
            .unwrap_err()
            .code()
        };
        // Two subnets in one set, or in two sets of one family: a network has one subnet per family.
        assert_eq!(
            code(r#"{"ranges":[[{"subnet":"10.5.0.0/24"},{"subnet":"10.6.0.0/24"}]]}"#),
            2
        );
        assert_eq!(
            code(r#"{"ranges":[[{"subnet":"10.5.0.0/24"}],[{"subnet":"10.6.0.0/24"}]]}"#),
            2
        );
        // Two sets in one subnet are two addresses of the family.
        let two = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"n","ipam":{"ranges":[
                [{"subnet":"10.5.0.0/24","rangeStart":"10.5.0.10"}],
                [{"subnet":"10.5.0.0/24","rangeStart":"10.5.0.100"}],
                [{"subnet":"fd00:5::/64"}]]}}"#,
        )
        .unwrap();
        assert_eq!(two.range_sets_of(false).len(), 2);
        assert_eq!(two.range_sets_of(true).len(), 1);
        assert_eq!(
            code(r#"{"ranges":[[{"subnet":"10.5.0.0/24","rangeEnd":"10.9.0.1"}]]}"#),
            7
        );
        assert_eq!(code(r#"{"ranges":[[]]}"#), 7);
    }

    #[test]
    fn requested_addresses_come_from_the_ips_capability_and_args() {
        let c = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"n","type":"minotaur-cni",
                "args":{"cni":{"ips":["10.5.0.9"]}},
                "runtimeConfig":{"ips":["fd00:5::9/64","10.5.0.9/24"]}}"#,
        )
        .unwrap();
        assert_eq!(
            c.requested_ips().unwrap(),
            vec![
                "fd00:5::9".parse::<IpAddr>().unwrap(),
                "10.5.0.9".parse().unwrap()
            ]
        );
        // Two of one family are for two range sets: checked as they are taken.
        let two = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"n","type":"minotaur-cni",
                "args":{"cni":{"ips":["10.5.0.9","10.5.0.8"]}}}"#,
        )
        .unwrap();
        assert_eq!(two.requested_ips().unwrap().len(), 2);
        let err = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"n","type":"minotaur-cni",
                "runtimeConfig":{"ips":["ten"]}}"#,
        )
        .unwrap_err();
        assert_eq!(err.code(), 7);
    }

    #[test]
    fn gc_without_a_list_or_with_null_keeps_nothing() {
        let valid = |s: &str| NetConf::parse(s.as_bytes()).unwrap().valid().to_vec();
        let base = r#""cniVersion":"1.1.0","name":"n","type":"minotaur-cni""#;
        assert!(valid(&format!("{{{base}}}")).is_empty());
        assert!(valid(&format!(r#"{{{base},"cni.dev/valid-attachments":null}}"#)).is_empty());
        let one = r#"[{"containerID":"a","ifname":"eth0"}]"#;
        assert_eq!(
            valid(&format!(r#"{{{base},"cni.dev/attachments":{one}}}"#))[0].container_id,
            "a"
        );
        assert_eq!(
            valid(&format!(
                r#"{{{base},"cni.dev/valid-attachments":{one},"cni.dev/attachments":{one}}}"#
            ))
            .len(),
            1
        );
    }

    #[test]
    fn bad_configurations_get_the_spec_codes() {
        let code = |s: &str| NetConf::parse(s.as_bytes()).unwrap_err().code();
        assert_eq!(
            code(r#"{"cniVersion":"9.9.9","name":"n","type":"minotaur-cni"}"#),
            1
        );
        assert_eq!(
            code(r#"{"cniVersion":"1.0.0","name":"n","ipam":{"type":"dhcp"}}"#),
            2
        );
        assert_eq!(code(r#"{"cniVersion":"1.0.0","#), 6);
        assert_eq!(code(r#"{"cniVersion":"1.0.0","type":"minotaur-cni"}"#), 7);
    }

    #[test]
    fn the_bandwidth_capability_needs_rates_with_bursts() {
        let with = |bw: &str| {
            NetConf::parse(
                format!(
                    r#"{{"cniVersion":"1.0.0","name":"n","runtimeConfig":{{"bandwidth":{bw}}}}}"#
                )
                .as_bytes(),
            )
        };
        let c = with(r#"{"ingressRate":1000000,"ingressBurst":80000}"#).unwrap();
        let bw = c.runtime_config.bandwidth.unwrap();
        assert_eq!((bw.ingress_rate, bw.ingress_burst), (1_000_000, 80_000));
        assert_eq!((bw.egress_rate, bw.egress_burst), (0, 0));
        assert!(bw.shapes());
        assert!(!with("{}")
            .unwrap()
            .runtime_config
            .bandwidth
            .unwrap()
            .shapes());
        for bad in [
            r#"{"egressRate":1000000}"#,
            r#"{"ingressBurst":80000}"#,
            r#"{"egressRate":1,"egressBurst":40000000000}"#,
        ] {
            assert_eq!(with(bad).unwrap_err().code(), 7, "{bad}");
        }
    }

    #[test]
    fn the_environment_is_checked_per_command() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let add = Invocation::from_env(env(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_NETNS", "/run/netns/x"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=p"),
        ]))
        .unwrap();
        assert_eq!(add.command, Command::Add);
        assert_eq!(add.args["K8S_POD_NAME"], "p");
        let err = Invocation::from_env(env(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_IFNAME", "eth0"),
        ]))
        .unwrap_err();
        assert_eq!(err.code(), 4);
        assert_eq!(err.to_string(), "CNI_NETNS is not set");
        let err = Invocation::from_env(env(&[
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "a/b"),
            ("CNI_IFNAME", "eth0"),
        ]))
        .unwrap_err();
        assert_eq!(err.code(), 4);
        assert!(Invocation::from_env(env(&[("CNI_COMMAND", "STATUS")])).is_ok());
        assert_eq!(
            Invocation::from_env(env(&[("CNI_COMMAND", "BOGUS")]))
                .unwrap_err()
                .code(),
            4
        );
    }
}
