//! The fixed skeleton of `table inet minotaur`: its sets and maps, its chains with their rules, and the
//! rules `why` names.

/// The one table minotaur owns.
pub const TABLE: &str = "inet minotaur";

/// A named set or map of the table and its declaration.
pub(crate) struct SetDef {
    pub(crate) name: &'static str,
    /// `set` or `map`.
    pub(crate) kind: &'static str,
    pub(crate) spec: &'static str,
}

pub(crate) const SETS: &[SetDef] = &[
    SetDef {
        name: "bridges",
        kind: "set",
        spec: "type ifname;",
    },
    SetDef {
        name: "internal",
        kind: "set",
        spec: "type ifname;",
    },
    SetDef {
        name: "same_bridge",
        kind: "set",
        spec: "type ifname . ifname;",
    },
    SetDef {
        name: "subnets4",
        kind: "set",
        spec: "type ipv4_addr; flags interval;",
    },
    SetDef {
        name: "subnets6",
        kind: "set",
        spec: "type ipv6_addr; flags interval;",
    },
    SetDef {
        name: "masquerade4",
        kind: "set",
        spec: "type ipv4_addr; flags interval;",
    },
    SetDef {
        name: "masquerade6",
        kind: "set",
        spec: "type ipv6_addr; flags interval;",
    },
    SetDef {
        name: "ports4",
        kind: "map",
        spec: "type inet_proto . inet_service : ipv4_addr . inet_service;",
    },
    SetDef {
        name: "ports4_host",
        kind: "map",
        spec: "type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service;",
    },
    SetDef {
        name: "ports6",
        kind: "map",
        spec: "type inet_proto . inet_service : ipv6_addr . inet_service;",
    },
    SetDef {
        name: "ports6_host",
        kind: "map",
        spec: "type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service;",
    },
    SetDef {
        name: MAPS[0].0,
        kind: "map",
        spec: MAPS[0].1,
    },
    SetDef {
        name: MAPS[1].0,
        kind: "map",
        spec: MAPS[1].1,
    },
    SetDef {
        name: MAPS[2].0,
        kind: "map",
        spec: MAPS[2].1,
    },
    SetDef {
        name: MAPS[3].0,
        kind: "map",
        spec: MAPS[3].1,
    },
    SetDef {
        name: MAPS[4].0,
        kind: "map",
        spec: MAPS[4].1,
    },
    SetDef {
        name: MAPS[5].0,
        kind: "map",
        spec: MAPS[5].1,
    },
    SetDef {
        name: "cluster_ips4",
        kind: "set",
        spec: "type ipv4_addr;",
    },
    SetDef {
        name: "cluster_ips6",
        kind: "set",
        spec: "type ipv6_addr;",
    },
];

/// The fixed rules that decide reachability, by what they do, so that `why` can name the rule that drops or
/// lets through a flow (the chains below are built from the same strings).
pub mod rule {
    /// One network talking to itself (bridged traffic between two ports of one bridge).
    pub const SAME_BRIDGE: &str = "iifname . oifname @same_bridge accept";
    /// Nothing is forwarded out of an internal network's bridge.
    pub const INTERNAL_OUT: &str = "iifname @internal drop";
    /// Nothing is forwarded into an internal network's bridge.
    pub const INTERNAL_IN: &str = "oifname @internal drop";
    /// Published ports reached through the host's address (hairpin) cross networks.
    pub const DNAT_ACCEPT: &str = "ct status dnat oifname @bridges accept";
    /// Isolation: one minotaur bridge to another is dropped.
    pub const ISOLATION: &str = "iifname @bridges oifname @bridges drop";
    /// Traffic of a non-internal IPv4 network leaving through a non-minotaur interface is masqueraded.
    pub const MASQUERADE4: &str = "ip saddr @masquerade4 oifname != @bridges masquerade";
    /// Traffic to a local address is looked up in the published-port maps.
    pub const PUBLISHED_PREROUTING: &str = "fib daddr type local jump published";
    /// The host's own connections to a local address are looked up in the published-port maps.
    pub const PUBLISHED_OUTPUT: &str = "meta nfproto ipv4 fib daddr type local jump published";
    /// The DNAT of a port published on every address.
    pub const DNAT4: &str =
        "meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map @ports4";
    /// The DNAT of a port published on one host address.
    pub const DNAT4_HOST: &str =
        "meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport map @ports4_host";
    /// Traffic to a cluster IP is looked up in the cluster IPs' map.
    pub const SERVICES_JUMP: &str = "ip daddr @cluster_ips4 jump services";
    /// The DNAT of a cluster IP's port to one of its ready endpoints, by the slot of the source port.
    pub const SERVICES_DNAT: &str = "meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport . ( th sport & 0x1e ) map @services4";
    /// The same with `sessionAffinity: ClientIP`, by the slot of the source address.
    pub const SERVICES_DNAT_CLIENT: &str = "meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport . ( ip saddr & 0.0.0.15 ) map @services4_client";
    /// The DNAT of a node port (on a local address) to one of its Service's ready endpoints.
    pub const NODE_PORTS_DNAT: &str = "meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport . ( th sport & 0x1e ) map @node_ports4";
    /// The same with `sessionAffinity: ClientIP`.
    pub const NODE_PORTS_DNAT_CLIENT: &str = "meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport . ( ip saddr & 0.0.0.15 ) map @node_ports4_client";
    /// A cluster IP's port with no ready endpoint (not DNATed) is refused, never routed on.
    pub const SERVICES_REJECT: &str = "ip daddr @cluster_ips4 reject";
    /// Traffic to an IPv6 cluster IP is looked up in the IPv6 cluster IPs' maps.
    pub const SERVICES6_JUMP: &str = "ip6 daddr @cluster_ips6 jump services";
    /// The DNAT of an IPv6 cluster IP's port, by the slot of the source port.
    pub const SERVICES6_DNAT: &str = "meta l4proto { tcp, udp } dnat ip6 to ip6 daddr . meta l4proto . th dport . ( th sport & 0x1e ) map @services6";
    /// The same with `sessionAffinity: ClientIP`, by the slot of the source address.
    pub const SERVICES6_DNAT_CLIENT: &str = "meta l4proto { tcp, udp } dnat ip6 to ip6 daddr . meta l4proto . th dport . ( ip6 saddr & ::f ) map @services6_client";
    /// An IPv6 cluster IP's port with no ready endpoint is refused.
    pub const SERVICES6_REJECT: &str = "ip6 daddr @cluster_ips6 reject";

    /// `table inet minotaur chain CHAIN: RULE`, as `why` names it.
    pub fn cite(chain: &str, rule: &str) -> String {
        format!("table {} chain {chain}: {rule}", super::TABLE)
    }
}

/// A chain of the table: its hook (none for a chain that is only jumped to) and its fixed rules.
pub(crate) struct ChainDef {
    pub(crate) name: &'static str,
    pub(crate) base: Option<&'static str>,
    pub(crate) rules: &'static [&'static str],
}

/// The fixed rules. The crate documentation explains them; the sets and maps carry everything per network
/// and per port, so no rule is ever added for one of those.
pub(crate) const CHAINS: &[ChainDef] = &[
    ChainDef {
        name: "prerouting",
        base: Some("type nat hook prerouting priority dstnat; policy accept;"),
        rules: &[
            rule::PUBLISHED_PREROUTING,
            rule::SERVICES_JUMP,
            rule::SERVICES6_JUMP,
        ],
    },
    ChainDef {
        name: "output",
        // The nat output hook has no named priority; -100 is dstnat's value.
        base: Some("type nat hook output priority -100; policy accept;"),
        rules: &[
            rule::PUBLISHED_OUTPUT,
            // IPv6 never routes ::1 out of the host, so a DNAT of it could only black-hole the connection.
            "ip6 daddr != ::1 fib daddr type local jump published",
            rule::SERVICES_JUMP,
            rule::SERVICES6_JUMP,
        ],
    },
    ChainDef {
        name: "services",
        base: None,
        rules: &[
            rule::SERVICES_DNAT_CLIENT,
            rule::SERVICES_DNAT,
            rule::SERVICES6_DNAT_CLIENT,
            rule::SERVICES6_DNAT,
        ],
    },
    ChainDef {
        name: "published",
        base: None,
        rules: &[
            rule::DNAT4_HOST,
            rule::DNAT4,
            rule::NODE_PORTS_DNAT_CLIENT,
            rule::NODE_PORTS_DNAT,
            "meta l4proto { tcp, udp } dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports6_host",
            "meta l4proto { tcp, udp } dnat ip6 to meta l4proto . th dport map @ports6",
        ],
    },
    ChainDef {
        name: "postrouting",
        base: Some("type nat hook postrouting priority srcnat; policy accept;"),
        rules: &[
            // Loopback-sourced traffic leaving through a bridge (route_localnet) is DNATed from 127.0.0.1, or
            // redirected at connect() from a socket bound to it (see `connect`): either way the container
            // could not answer 127.0.0.1.
            "ip saddr 127.0.0.0/8 oifname @bridges masquerade",
            "ct status dnat ip saddr @subnets4 oifname @bridges masquerade",
            "ct status dnat ip6 saddr @subnets6 oifname @bridges masquerade",
            rule::MASQUERADE4,
            "ip6 saddr @masquerade6 oifname != @bridges masquerade",
        ],
    },
    ChainDef {
        name: "local_out",
        // After the nat output hook (-100): what it DNATed no longer goes to a cluster IP.
        base: Some("type filter hook output priority filter; policy accept;"),
        // The host's own connection to a cluster IP's port with no ready endpoint is refused, as a
        // container's is in forward, rather than sent along the host's routes.
        rules: &[rule::SERVICES_REJECT, rule::SERVICES6_REJECT],
    },
    ChainDef {
        name: "forward",
        base: Some("type filter hook forward priority filter; policy accept;"),
        rules: &[
            // With br_netfilter loaded (Docker loads it), frames bridged between two ports of one bridge pass
            // this hook too, as bridge -> same bridge: that is one network talking to itself, always allowed.
            // Before it: a cluster IP that was not DNATed has no ready endpoint.
            rule::SERVICES_REJECT,
            rule::SERVICES6_REJECT,
            rule::SAME_BRIDGE,
            rule::INTERNAL_OUT,
            rule::INTERNAL_IN,
            "ct state established,related accept",
            rule::DNAT_ACCEPT,
            rule::ISOLATION,
        ],
    },
];

/// The number of fixed rules in the table (for tests and checks).
pub fn fixed_rule_count() -> usize {
    CHAINS.iter().map(|c| c.rules.len()).sum()
}

/// The maps' names and declarations. A source-port slot is typed as a port (it is the masked source
/// port), a source-address slot as an address.
pub(crate) const MAPS: [(&str, &str); 6] = [
    (
        "services4",
        "type ipv4_addr . inet_proto . inet_service . inet_service : ipv4_addr . inet_service;",
    ),
    (
        "services4_client",
        "type ipv4_addr . inet_proto . inet_service . ipv4_addr : ipv4_addr . inet_service;",
    ),
    (
        "services6",
        "type ipv6_addr . inet_proto . inet_service . inet_service : ipv6_addr . inet_service;",
    ),
    (
        "services6_client",
        "type ipv6_addr . inet_proto . inet_service . ipv6_addr : ipv6_addr . inet_service;",
    ),
    (
        "node_ports4",
        "type inet_proto . inet_service . inet_service : ipv4_addr . inet_service;",
    ),
    (
        "node_ports4_client",
        "type inet_proto . inet_service . ipv4_addr : ipv4_addr . inet_service;",
    ),
];
