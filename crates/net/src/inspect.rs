//! Reading a network namespace's links, addresses and default routes back, as `ip -d link`, `ip addr` and
//! `ip route show default` print them, for the debugging verbs (`whois`, `graph`, `why`).
//!
//! A veth's peer is named by the kernel, not guessed: `IFLA_LINK` is the peer's ifindex and
//! `IFLA_LINK_NETNSID` the ID under which *this* namespace knows the peer's namespace (absent when the peer
//! is in the same namespace). Which namespace an ID stands for is asked with `RTM_GETNSID` and a descriptor
//! of a candidate namespace ([`Netlink::nsid_of`]); the kernel gave the ID when the veth was made across
//! namespaces. Guessing "the peer is ifindex + 1" is wrong as soon as two veths are made at once, or the
//! peer was moved.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd};

use ipnet::IpNet;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;
use serde::Serialize;

use crate::link::{libc_errno, local_of, Answer, Netlink, NetlinkError};

/// One network interface, as `ip -d link` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `veth`, `bridge`, `dummy`, ...; empty for a device without a kind (loopback, physical NICs).
    pub kind: String,
    pub mac: Option<String>,
    pub up: bool,
    pub mtu: Option<u32>,
    /// The ifindex of the bridge (or other controller) it is a port of.
    pub master: Option<u32>,
    /// `IFLA_LINK`: for a veth, its peer's ifindex (in the namespace `link_netnsid` names).
    pub link: Option<u32>,
    /// `IFLA_LINK_NETNSID`: the ID this namespace gives the namespace of the peer, when that is another.
    pub link_netnsid: Option<i32>,
    /// The link's addresses with their prefixes.
    pub addrs: Vec<IpNet>,
}

/// A default route of the main table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DefaultRoute {
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
}

impl Netlink {
    /// Every link of the socket's namespace, with its addresses, lowest ifindex first.
    pub fn links(&mut self) -> Result<Vec<Link>, NetlinkError> {
        let reply = self
            .exchange(
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                Answer::Dump,
            )
            .map_err(|source| NetlinkError::Dump {
                what: "links",
                source,
            })?;
        let mut links: Vec<Link> = reply
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(&l)),
                _ => None,
            })
            .collect();
        for a in self.addresses()? {
            let Some(ip) = local_of(&a) else { continue };
            let Ok(net) = IpNet::new(ip, a.header.prefix_len) else {
                continue;
            };
            if let Some(l) = links.iter_mut().find(|l| l.index == a.header.index) {
                l.addrs.push(net);
            }
        }
        links.sort_by_key(|l| l.index);
        Ok(links)
    }

    /// Link `index` with its addresses, `None` when there is none: one `RTM_GETLINK` and one address dump,
    /// where [`Netlink::links`] dumps every link (a thousand veths on a busy host).
    pub fn link(&mut self, index: u32) -> Result<Option<Link>, NetlinkError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.one_link(m, &format!("#{index}"))
    }

    /// Link `name` with its addresses, `None` when there is none (see [`Netlink::link`]).
    pub fn link_named(&mut self, name: &str) -> Result<Option<Link>, NetlinkError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        self.one_link(m, name)
    }

    /// The links that carry address `ip`, with their addresses: one address dump (a host's veths carry
    /// none), then the links it names.
    pub fn links_with_address(&mut self, ip: IpAddr) -> Result<Vec<Link>, NetlinkError> {
        let mut indexes: Vec<u32> = self
            .addresses()?
            .iter()
            .filter(|a| local_of(a) == Some(ip))
            .map(|a| a.header.index)
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        let mut out = Vec::new();
        for i in indexes {
            out.extend(self.link(i)?);
        }
        Ok(out)
    }

    fn one_link(&mut self, m: LinkMessage, what: &str) -> Result<Option<Link>, NetlinkError> {
        let reply = match self.exchange(RouteNetlinkMessage::GetLink(m), Answer::One) {
            Ok(r) => r,
            Err(e) if e.raw_os_error() == Some(libc_errno(Errno::ENODEV)) => return Ok(None),
            Err(source) => {
                return Err(NetlinkError::GetLink {
                    link: what.to_owned(),
                    source,
                })
            }
        };
        let Some(mut link) = reply.iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(link_of(l)),
            _ => None,
        }) else {
            return Ok(None);
        };
        for a in self.addresses()? {
            if a.header.index != link.index {
                continue;
            }
            if let Some(net) = local_of(&a).and_then(|ip| IpNet::new(ip, a.header.prefix_len).ok())
            {
                link.addrs.push(net);
            }
        }
        Ok(Some(link))
    }

    /// The default routes of the main table (one per family, usually).
    pub fn default_routes(&mut self) -> Result<Vec<DefaultRoute>, NetlinkError> {
        let mut m = RouteMessage::default();
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        let reply = self
            .exchange(RouteNetlinkMessage::GetRoute(m), Answer::Dump)
            .map_err(|source| NetlinkError::Dump {
                what: "routes",
                source,
            })?;
        let mut out = Vec::new();
        for r in reply {
            let RouteNetlinkMessage::NewRoute(r) = r else {
                continue;
            };
            let table = r
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Table(t) => Some(*t),
                    _ => None,
                })
                .unwrap_or(u32::from(r.header.table));
            if table != u32::from(RouteHeader::RT_TABLE_MAIN)
                || r.header.destination_prefix_length != 0
            {
                continue;
            }
            let mut route = DefaultRoute {
                gateway: None,
                oif: None,
            };
            for a in &r.attributes {
                match a {
                    RouteAttribute::Gateway(RouteAddress::Inet(ip)) => {
                        route.gateway = Some(IpAddr::V4(*ip))
                    }
                    RouteAttribute::Gateway(RouteAddress::Inet6(ip)) => {
                        route.gateway = Some(IpAddr::V6(*ip))
                    }
                    RouteAttribute::Oif(i) => route.oif = Some(*i),
                    _ => {}
                }
            }
            out.push(route);
        }
        Ok(out)
    }

    /// The ID the socket's namespace gives the network namespace `ns` (an nsfs descriptor), as
    /// `IFLA_LINK_NETNSID` carries it; `None` when it has none (its own namespace has none either).
    pub fn nsid_of(&mut self, ns: impl AsFd) -> Result<Option<i32>, NetlinkError> {
        let fd = u32::try_from(ns.as_fd().as_raw_fd()).unwrap_or(u32::MAX);
        let mut m = NsidMessage::default();
        m.attributes.push(NsidAttribute::Fd(fd));
        let reply = self
            .exchange(RouteNetlinkMessage::GetNsId(m), Answer::One)
            .map_err(|source| NetlinkError::Dump {
                what: "namespace IDs",
                source,
            })?;
        let id = reply
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNsId(m) => Some(m),
                _ => None,
            })
            .flat_map(|m| &m.attributes)
            .find_map(|a| match a {
                NsidAttribute::Id(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| NetlinkError::Dump {
                what: "namespace IDs",
                source: io::Error::new(io::ErrorKind::InvalidData, "an answer without an ID"),
            })?;
        Ok((id >= 0).then_some(id))
    }
}

fn link_of(l: &LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        name: String::new(),
        kind: String::new(),
        mac: None,
        up: l.header.flags.contains(LinkFlags::Up),
        mtu: None,
        master: None,
        link: None,
        link_netnsid: None,
        addrs: Vec::new(),
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => link.name = n.clone(),
            LinkAttribute::Address(mac) if mac.len() == 6 => {
                link.mac = Some(
                    mac.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                )
            }
            LinkAttribute::Mtu(m) => link.mtu = Some(*m),
            LinkAttribute::Controller(m) => link.master = Some(*m),
            LinkAttribute::Link(i) if *i != 0 => link.link = Some(*i),
            LinkAttribute::LinkNetNsId(id) => link.link_netnsid = Some(*id),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        link.kind = k.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    // A link that names itself (IFLA_LINK = its own index) in its own namespace has no peer; in another
    // namespace the same number is a peer that happens to have the same ifindex there.
    if link.link == Some(link.index) && link.link_netnsid.is_none() {
        link.link = None;
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_link_is_the_same_as_in_the_dump() {
        // Loopback of the test's own namespace: read only.
        let mut nl = Netlink::open().unwrap();
        let all = nl.links().unwrap();
        let lo = all.iter().find(|l| l.name == "lo").expect("lo");
        assert_eq!(nl.link(lo.index).unwrap().as_ref(), Some(lo));
        assert_eq!(nl.link_named("lo").unwrap().as_ref(), Some(lo));
        assert_eq!(nl.link_named("no-such-if0").unwrap(), None);
        assert_eq!(nl.link(u32::MAX >> 1).unwrap(), None);
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        if lo.addrs.iter().any(|a| a.addr() == local) {
            assert_eq!(nl.links_with_address(local).unwrap(), vec![lo.clone()]);
        }
        let nowhere: IpAddr = "192.0.2.255".parse().unwrap();
        assert_eq!(nl.links_with_address(nowhere).unwrap(), Vec::new());
    }
}
