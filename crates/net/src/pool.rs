//! Subnets, gateways, container addresses and MACs: pure arithmetic, no kernel.
//!
//! A new network gets the first subnet of a pool that overlaps nothing in use (the host's addresses and
//! routes, and the networks already made), as Docker's default address pools do; a container gets the
//! lowest free address of its network's range.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpAddrRange, IpNet, Ipv4AddrRange, Ipv4Net, Ipv6AddrRange, Ipv6Net};

const fn v4(a: u8, b: u8, prefix: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, 0, 0), prefix))
}

/// Docker's default pools, as (pool, prefix of each subnet): 172.17.0.0/16 … 172.31.0.0/16 as /16s, then
/// 192.168.0.0/16 as /20s.
pub const DEFAULT_V4_POOLS: &[(IpNet, u8)] = &[
    (v4(172, 17, 16), 16),
    (v4(172, 18, 16), 16),
    (v4(172, 19, 16), 16),
    (v4(172, 20, 14), 16),
    (v4(172, 24, 14), 16),
    (v4(172, 28, 14), 16),
    (v4(192, 168, 16), 20),
];

/// minotaur's IPv6 pool: the ULA prefix fd6d:696e:6f74::/48 ("mnot") split into /64s.
pub const DEFAULT_V6_POOLS: &[(IpNet, u8)] = &[(
    IpNet::V6(Ipv6Net::new_assert(
        Ipv6Addr::new(0xfd6d, 0x696e, 0x6f74, 0, 0, 0, 0, 0),
        48,
    )),
    64,
)];

/// Whether two networks share an address (networks of different families never do).
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first subnet from `pools` (in order; each pool split into subnets of its prefix, ascending) that
/// overlaps none of `used` (host addresses and routes, existing networks). `None` when all are taken. The
/// split is lazy: a /48 holds 65536 /64s and only those up to the answer are looked at.
pub fn pick_subnet(pools: &[(IpNet, u8)], used: &[IpNet]) -> Option<IpNet> {
    pools
        .iter()
        .filter_map(|(pool, prefix)| pool.subnets(*prefix).ok())
        .flatten()
        .find(|candidate| !used.iter().any(|u| overlaps(candidate, u)))
}

/// The conventional gateway of a subnet: its first host address (the network address + 1; for a /31, /32,
/// /127 or /128, which have no spare address, the network address itself).
pub fn default_gateway(subnet: &IpNet) -> IpAddr {
    match subnet {
        IpNet::V4(n) if n.prefix_len() <= 30 => {
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()).wrapping_add(1)))
        }
        IpNet::V6(n) if n.prefix_len() <= 126 => {
            IpAddr::V6(Ipv6Addr::from(u128::from(n.network()).wrapping_add(1)))
        }
        n => n.network(),
    }
}

/// Candidate container addresses in ascending order: the addresses of `ip_range` (or of `subnet`) that lie in
/// `subnet`, without the subnet's network and broadcast (IPv6: all-ones) addresses and without `gateway`.
/// Lazy: an IPv6 /64 has 2^64 of them.
pub fn hosts(
    subnet: &IpNet,
    ip_range: Option<&IpNet>,
    gateway: IpAddr,
) -> impl Iterator<Item = IpAddr> {
    let subnet = subnet.trunc();
    let range = ip_range.map_or(subnet, IpNet::trunc);
    let all: IpAddrRange = match range {
        IpNet::V4(r) => Ipv4AddrRange::new(r.network(), r.broadcast()).into(),
        IpNet::V6(r) => Ipv6AddrRange::new(r.network(), r.broadcast()).into(),
    };
    // A /31 or /32 (/127, /128) has no network or broadcast address to spare.
    let reserved = match subnet {
        IpNet::V4(n) if n.prefix_len() >= 31 => None,
        IpNet::V6(n) if n.prefix_len() >= 127 => None,
        n => Some((n.network(), n.broadcast())),
    };
    all.filter(move |ip| {
        subnet.contains(ip)
            && *ip != gateway
            && !matches!(reserved, Some((net, bcast)) if *ip == net || *ip == bcast)
    })
}

/// Docker's MAC for an IPv4 address: 02:42 (locally administered, unicast) followed by the address's four
/// bytes, so a container keeps its MAC as long as it keeps its address.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// `02:42:ac:11:00:02`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Six two-digit hex bytes separated by `:` (or `-`), any case.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let sep = if s.contains('-') { '-' } else { ':' };
    let mut mac = [0u8; 6];
    let mut parts = s.split(sep);
    for byte in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn picks_the_first_free_default_subnet() {
        assert_eq!(
            pick_subnet(DEFAULT_V4_POOLS, &[]),
            Some(net("172.17.0.0/16"))
        );
        // The docker0 address and an unrelated route are skipped over.
        let used = [
            net("172.17.0.0/16"),
            net("172.18.5.0/24"),
            net("10.0.0.0/8"),
        ];
        assert_eq!(
            pick_subnet(DEFAULT_V4_POOLS, &used),
            Some(net("172.19.0.0/16"))
        );
        // A wide route covering several /16s blocks all of them.
        let used = [net("172.16.0.0/12")];
        assert_eq!(
            pick_subnet(DEFAULT_V4_POOLS, &used),
            Some(net("192.168.0.0/20"))
        );
    }

    #[test]
    fn splits_192_168_into_20s() {
        let mut used = vec![net("172.16.0.0/12"), net("192.168.0.0/20")];
        assert_eq!(
            pick_subnet(DEFAULT_V4_POOLS, &used),
            Some(net("192.168.16.0/20"))
        );
        // A host address in the middle of the next /20 (as its network) blocks that /20 only.
        used.push(net("192.168.17.0/24"));
        used.push(net("192.168.40.7/32"));
        assert_eq!(
            pick_subnet(DEFAULT_V4_POOLS, &used),
            Some(net("192.168.48.0/20"))
        );
        let all: Vec<_> = DEFAULT_V4_POOLS[6].0.subnets(20).unwrap().collect();
        assert_eq!(all.len(), 16);
        assert_eq!(all[15], net("192.168.240.0/20"));
    }

    #[test]
    fn exhausted_pools_give_none() {
        let used = [net("172.16.0.0/12"), net("192.168.0.0/16")];
        assert_eq!(pick_subnet(DEFAULT_V4_POOLS, &used), None);
        // A subnet prefix shorter than its pool's yields nothing rather than panicking.
        assert_eq!(pick_subnet(&[(net("10.0.0.0/16"), 8)], &[]), None);
        // Addresses of the other family do not count.
        assert_eq!(
            pick_subnet(&[(net("10.0.0.0/24"), 24)], &[net("fd00::/8")]),
            Some(net("10.0.0.0/24"))
        );
    }

    #[test]
    fn v6_pool_is_split_lazily() {
        let first = net("fd6d:696e:6f74::/64");
        assert_eq!(pick_subnet(DEFAULT_V6_POOLS, &[]), Some(first));
        assert_eq!(
            pick_subnet(DEFAULT_V6_POOLS, &[first, net("fd6d:696e:6f74:1::1/128")]),
            Some(net("fd6d:696e:6f74:2::/64"))
        );
        // The last /64 of the /48 is found when all before it are taken (65535 candidates looked at).
        let used = [
            net("fd6d:696e:6f74::/49"),
            net("fd6d:696e:6f74:8000::/50"),
            net("fd6d:696e:6f74:c000::/51"),
            net("fd6d:696e:6f74:e000::/52"),
            net("fd6d:696e:6f74:f000::/53"),
            net("fd6d:696e:6f74:f800::/54"),
            net("fd6d:696e:6f74:fc00::/55"),
            net("fd6d:696e:6f74:fe00::/56"),
            net("fd6d:696e:6f74:ff00::/57"),
            net("fd6d:696e:6f74:ff80::/58"),
            net("fd6d:696e:6f74:ffc0::/59"),
            net("fd6d:696e:6f74:ffe0::/60"),
            net("fd6d:696e:6f74:fff0::/61"),
            net("fd6d:696e:6f74:fff8::/62"),
            net("fd6d:696e:6f74:fffc::/63"),
            net("fd6d:696e:6f74:fffe::/64"),
        ];
        assert_eq!(
            pick_subnet(DEFAULT_V6_POOLS, &used),
            Some(net("fd6d:696e:6f74:ffff::/64"))
        );
        // A whole /64's hosts: the first few come at once, without walking 2^64 addresses.
        let subnet = net("fd6d:696e:6f74::/64");
        let gw = default_gateway(&subnet);
        assert_eq!(gw, ip("fd6d:696e:6f74::1"));
        let first: Vec<_> = hosts(&subnet, None, gw).take(2).collect();
        assert_eq!(first, [ip("fd6d:696e:6f74::2"), ip("fd6d:696e:6f74::3")]);
    }

    #[test]
    fn gateway_is_the_first_host() {
        assert_eq!(default_gateway(&net("172.17.0.0/16")), ip("172.17.0.1"));
        assert_eq!(default_gateway(&net("192.168.16.0/20")), ip("192.168.16.1"));
        // A subnet given with host bits set still has its network's first host.
        assert_eq!(default_gateway(&net("10.1.2.3/24")), ip("10.1.2.1"));
        assert_eq!(default_gateway(&net("10.1.2.4/31")), ip("10.1.2.4"));
        assert_eq!(default_gateway(&net("fd00:1::/64")), ip("fd00:1::1"));
    }

    #[test]
    fn hosts_skip_network_broadcast_and_gateway() {
        let subnet = net("10.9.0.0/29");
        let all: Vec<_> = hosts(&subnet, None, ip("10.9.0.1")).collect();
        let want: Vec<IpAddr> = (2..=6)
            .map(|i| IpAddr::V4(Ipv4Addr::new(10, 9, 0, i)))
            .collect();
        assert_eq!(all, want);
        // A gateway in the middle is skipped too.
        let all: Vec<_> = hosts(&subnet, None, ip("10.9.0.3")).collect();
        assert_eq!(
            all,
            [
                ip("10.9.0.1"),
                ip("10.9.0.2"),
                ip("10.9.0.4"),
                ip("10.9.0.5"),
                ip("10.9.0.6")
            ]
        );
    }

    #[test]
    fn hosts_of_an_ip_range() {
        let subnet = net("172.20.0.0/16");
        let gw = ip("172.20.0.1");
        // --ip-range 172.20.5.0/30: all four addresses are usable hosts of the subnet.
        let range = net("172.20.5.0/30");
        let all: Vec<_> = hosts(&subnet, Some(&range), gw).collect();
        assert_eq!(
            all,
            [
                ip("172.20.5.0"),
                ip("172.20.5.1"),
                ip("172.20.5.2"),
                ip("172.20.5.3")
            ]
        );
        // A range at the subnet's edges loses the network, broadcast and gateway addresses.
        let range = net("172.20.0.0/30");
        assert_eq!(
            hosts(&subnet, Some(&range), gw).collect::<Vec<_>>(),
            [ip("172.20.0.2"), ip("172.20.0.3")]
        );
        let range = net("172.20.255.252/30");
        assert_eq!(
            hosts(&subnet, Some(&range), gw).collect::<Vec<_>>(),
            [
                ip("172.20.255.252"),
                ip("172.20.255.253"),
                ip("172.20.255.254")
            ]
        );
        // A range outside the subnet has no candidates.
        assert_eq!(hosts(&subnet, Some(&net("10.0.0.0/30")), gw).count(), 0);
    }

    #[test]
    fn macs() {
        let mac = mac_for(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        assert_eq!(format_mac(&mac), "02:42:ac:11:00:02");
        assert_eq!(parse_mac("02:42:AC:11:00:02"), Some(mac));
        assert_eq!(parse_mac("02-42-ac-11-00-02"), Some(mac));
        for bad in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "2:42:ac:11:00:02",
            "02:42:ac:11:00:zz",
            "02:42-ac:11:00:02",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
