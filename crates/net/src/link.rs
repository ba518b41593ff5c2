//! Links, addresses and routes over a route netlink socket (rtnetlink(7)), like `ip link`/`addr`/`route`.
//!
//! A [`Netlink`] is one socket and the namespace it belongs to: a netlink socket works on the network
//! namespace of the task that created it, for its whole life, whichever namespace the thread using it is in
//! later. So a socket for a container's namespace is made once, on a short-lived thread that joins that
//! namespace ([`Netlink::open_in`]), and no thread of the caller ever switches namespace.
//!
//! Each request is sent with `NLM_F_ACK` and answered before the next one goes out; errors keep the
//! kernel's errno.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE,
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoBridgePort, InfoData, InfoKind, InfoPortData,
    InfoPortKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;

/// A failed route netlink operation: what was asked, on what, and the kernel's answer.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("cannot open a route netlink socket")]
    Socket(#[source] io::Error),
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
    #[error("cannot look up link {link}")]
    GetLink {
        link: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot create bridge {name}")]
    CreateBridge {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot create veth {name} with peer {peer}")]
    CreateVeth {
        name: String,
        peer: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot delete link {name}")]
    DeleteLink {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot bring up bridge port {link} in hairpin mode")]
    PortUp {
        link: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot turn off IPv6 link-local addressing on link {link}")]
    NoLinkLocal {
        link: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot set link {link} up")]
    SetUp {
        link: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot add address {addr} to link {link}")]
    AddAddress {
        link: String,
        addr: IpNet,
        #[source]
        source: io::Error,
    },
    #[error("cannot add route {route}")]
    AddRoute {
        /// In `ip route` syntax: `default via 172.18.0.1 dev eth0`.
        route: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot list {what}")]
    Dump {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

/// A veth pair to create in one request: see [`Netlink::add_veth`].
#[derive(Debug, Clone, Copy)]
pub struct VethSpec<'a> {
    /// The end in the socket's namespace (e.g. `veth1a2b3c4`).
    pub host_name: &'a str,
    /// The ifindex of the bridge the host end joins.
    pub master: u32,
    /// The end created in `peer_netns` (e.g. `eth0`).
    pub peer_name: &'a str,
    /// The container's network namespace (an nsfs descriptor).
    pub peer_netns: BorrowedFd<'a>,
    pub peer_mac: Option<[u8; 6]>,
    /// Both ends' MTU; the kernel's default (1500) when `None`.
    pub mtu: Option<u32>,
}

/// A route netlink socket bound to one network namespace.
pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// How a request's answer ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A change: the kernel acknowledges it (an error message with code 0) or refuses it.
    Ack,
    /// A get: one message, or an error.
    One,
    /// A dump: messages until `NLMSG_DONE`.
    Dump,
}

impl Netlink {
    /// A route netlink socket in the caller's network namespace.
    pub fn open() -> Result<Netlink, NetlinkError> {
        let sock = Socket::new(NETLINK_ROUTE).map_err(NetlinkError::Socket)?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(NetlinkError::Socket)?;
        Ok(Netlink {
            sock,
            seq: 0,
            // Dumps come in datagrams of at most 32 KiB (the kernel's cap on its dump buffer).
            buf: vec![0; 64 * 1024],
        })
    }

    /// A route netlink socket in the network namespace of the nsfs file `netns` (e.g. a bind-mounted
    /// /run/netns/x). It is created on a short-lived thread that setns()es there: the socket belongs to the
    /// namespace of its creator for good, so it keeps working there from any thread.
    pub fn open_in(netns: &Path) -> Result<Netlink, NetlinkError> {
        crate::netns::in_netns(netns, Netlink::open)
    }

    /// The ifindex of link `name`; `None` when there is none.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>, NetlinkError> {
        Ok(self.get_link(name)?.map(|l| l.header.index))
    }

    /// Creates bridge `name` if it is missing (with `mtu`), adds whichever of `addrs` it lacks (gateway
    /// addresses with their prefix, e.g. 172.18.0.1/16 or fd00:1::1/64), sets it up and returns its ifindex.
    /// Idempotent, and safe against a concurrent creator: an `EEXIST` on creation means someone else made
    /// it first, so it is looked up again.
    pub fn ensure_bridge(
        &mut self,
        name: &str,
        addrs: &[IpNet],
        mtu: Option<u32>,
    ) -> Result<u32, NetlinkError> {
        let link = match self.get_link(name)? {
            Some(link) => link,
            None => {
                match self.create_bridge(name, mtu) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc_errno(Errno::EEXIST)) => {}
                    Err(source) => {
                        return Err(NetlinkError::CreateBridge {
                            name: name.to_owned(),
                            source,
                        })
                    }
                }
                self.get_link(name)?
                    .ok_or_else(|| no_such_link(name.to_owned()))?
            }
        };
        let kind = link.attributes.iter().find_map(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
                LinkInfo::Kind(k) => Some(k.clone()),
                _ => None,
            }),
            _ => None,
        });
        if kind != Some(InfoKind::Bridge) {
            let kind = kind.map_or_else(|| "none".to_owned(), |k| k.to_string());
            return Err(NetlinkError::CreateBridge {
                name: name.to_owned(),
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("a link of kind {kind} has that name"),
                ),
            });
        }
        let index = link.header.index;
        if !addrs.is_empty() {
            let present: HashSet<(IpAddr, u8)> = self
                .addresses()?
                .iter()
                .filter(|a| a.header.index == index)
                .filter_map(|a| Some((local_of(a)?, a.header.prefix_len)))
                .collect();
            for addr in addrs {
                if !present.contains(&(addr.addr(), addr.prefix_len())) {
                    self.add_address_to(index, name, *addr)?;
                }
            }
        }
        if !link.header.flags.contains(LinkFlags::Up) {
            self.set_up_link(index, name)?;
        }
        Ok(index)
    }

    /// Deletes link `name` (a veth takes its peer with it); `Ok(false)` when there was none.
    pub fn delete_link(&mut self, name: &str) -> Result<bool, NetlinkError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.exchange(RouteNetlinkMessage::DelLink(m), Answer::Ack) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc_errno(Errno::ENODEV)) => Ok(false),
            Err(source) => Err(NetlinkError::DeleteLink {
                name: name.to_owned(),
                source,
            }),
        }
    }

    /// Creates a veth pair in ONE request: `host_name` in this socket's namespace, enslaved to `master` (and
    /// left down, so that its IPv6 can be switched off before it comes up: see [`Netlink::port_up`]); its peer
    /// `peer_name` created directly inside `peer_netns` (the peer's own `IFLA_NET_NS_FD`, inside
    /// `VETH_INFO_PEER`), with `peer_mac` if given; `mtu` on both ends. Creating the peer here and moving it
    /// with a second `RTM_NEWLINK` would cost a namespace move (~25 ms: it waits for an RCU grace period
    /// while unregistering the device from the first namespace). The peer is left down, for
    /// [`configure_peer`].
    ///
    /// Both ends are made with one transmit and one receive queue, said in the request. Without that, a
    /// veth gets a queue per possible CPU and the driver then cuts the number in use down to one on each
    /// end once it is registered (`veth_init_queues`), and fewer transmit queues on a registered device
    /// wait for an RCU grace period (`synchronize_net` in `netif_set_real_num_tx_queues`) while holding
    /// the RTNL lock: 0.4–5.6 ms of a bridged run under load (`perf sched timehist`), and every other
    /// netlink change on the machine, a namespace being made included, waited for it too. The ends work
    /// the same: one queue each is what they had in use.
    pub fn add_veth(&mut self, v: &VethSpec<'_>) -> Result<(), NetlinkError> {
        let queues = [LinkAttribute::NumTxQueues(1), LinkAttribute::NumRxQueues(1)];
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(v.peer_name.to_owned()));
        peer.attributes.extend(queues.iter().cloned());
        peer.attributes
            .push(LinkAttribute::NetNsFd(v.peer_netns.as_raw_fd()));
        if let Some(mac) = v.peer_mac {
            peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(mtu) = v.mtu {
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }
        let mut host = LinkMessage::default();
        host.attributes
            .push(LinkAttribute::IfName(v.host_name.to_owned()));
        host.attributes.extend(queues);
        if let Some(mtu) = v.mtu {
            host.attributes.push(LinkAttribute::Mtu(mtu));
        }
        host.attributes.push(LinkAttribute::Controller(v.master));
        host.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.create(RouteNetlinkMessage::NewLink(host))
            .map_err(|source| NetlinkError::CreateVeth {
                name: v.host_name.to_owned(),
                peer: v.peer_name.to_owned(),
                source,
            })
    }

    /// Adds `addr` (address and prefix) to link `ifindex`. IPv6 addresses get `IFA_F_NODAD`: duplicate
    /// address detection would keep them "tentative", unusable as a source, for about a second, and on a
    /// bridge we own no duplicate can exist. An address already there (`EEXIST`) is success.
    pub fn add_address(&mut self, ifindex: u32, addr: IpNet) -> Result<(), NetlinkError> {
        self.add_address_to(ifindex, &format!("#{ifindex}"), addr)
    }

    /// Adds a route to `dst` (`None`: the default route) via `gateway` (`None`: on-link) out of `ifindex`,
    /// in the main table. The family is `dst`'s, else `gateway`'s, else IPv4. A route to the same
    /// destination already there (`EEXIST`) is success.
    pub fn add_route(
        &mut self,
        dst: Option<IpNet>,
        gateway: Option<IpAddr>,
        ifindex: u32,
    ) -> Result<(), NetlinkError> {
        self.add_route_dev(dst, gateway, ifindex, &format!("#{ifindex}"))
    }

    /// Sets bridge port `name` up, in hairpin mode: the bridge may send a frame back out of the port it came
    /// in on. Needed where `br_netfilter` is loaded (bridge-nf-call-iptables=1): a container's connection to
    /// its own published port is DNATed back to itself while being bridged, and without hairpin the bridge
    /// drops it. A bridge-port option is changed with `RTM_NEWLINK` on the existing link (as `ip link set
    /// dev NAME type bridge_slave hairpin on` does); `RTM_SETLINK` ignores port data.
    pub fn port_up(&mut self, name: &str) -> Result<(), NetlinkError> {
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                true,
            )])),
        ]));
        self.exchange(RouteNetlinkMessage::NewLink(m), Answer::Ack)
            .map(drop)
            .map_err(|source| NetlinkError::PortUp {
                link: name.to_owned(),
                source,
            })
    }

    /// Sets link `ifindex` up.
    pub fn set_up(&mut self, ifindex: u32) -> Result<(), NetlinkError> {
        self.set_up_link(ifindex, &format!("#{ifindex}"))
    }

    /// The hardware address of link `ifindex`.
    pub fn mac(&mut self, ifindex: u32) -> Result<[u8; 6], NetlinkError> {
        let link = format!("#{ifindex}");
        let mut m = LinkMessage::default();
        m.header.index = ifindex;
        let reply = self
            .exchange(RouteNetlinkMessage::GetLink(m), Answer::One)
            .map_err(|source| NetlinkError::GetLink {
                link: link.clone(),
                source,
            })?;
        reply
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .flat_map(|l| &l.attributes)
            .find_map(|a| match a {
                LinkAttribute::Address(mac) => <[u8; 6]>::try_from(mac.as_slice()).ok(),
                _ => None,
            })
            .ok_or_else(|| NetlinkError::GetLink {
                link,
                source: io::Error::new(io::ErrorKind::InvalidData, "no ethernet address"),
            })
    }

    /// Every address (as its network: 10.0.0.5/24 gives 10.0.0.0/24) and every route destination of the main
    /// table in this namespace, all families, without duplicates: what a new subnet must not overlap. Default
    /// routes are left out (they overlap everything).
    pub fn used_networks(&mut self) -> Result<Vec<IpNet>, NetlinkError> {
        let mut used = Vec::new();
        for a in self.addresses()? {
            let addr = a.attributes.iter().find_map(|x| match x {
                // IFA_ADDRESS is the prefix address (the peer's on a point-to-point link).
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            });
            if let Some(net) = addr
                .or_else(|| local_of(&a))
                .and_then(|ip| IpNet::new(ip, a.header.prefix_len).ok())
            {
                used.push(net.trunc());
            }
        }
        let mut m = RouteMessage::default();
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        let routes = self
            .exchange(RouteNetlinkMessage::GetRoute(m), Answer::Dump)
            .map_err(|source| NetlinkError::Dump {
                what: "routes",
                source,
            })?;
        for r in routes {
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
                || r.header.destination_prefix_length == 0
            {
                continue;
            }
            let dst = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(IpAddr::V4(*ip)),
                RouteAttribute::Destination(RouteAddress::Inet6(ip)) => Some(IpAddr::V6(*ip)),
                _ => None,
            });
            if let Some(net) =
                dst.and_then(|ip| IpNet::new(ip, r.header.destination_prefix_length).ok())
            {
                used.push(net.trunc());
            }
        }
        let mut seen = HashSet::new();
        used.retain(|n| seen.insert(*n));
        Ok(used)
    }

    fn get_link(&mut self, name: &str) -> Result<Option<LinkMessage>, NetlinkError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.exchange(RouteNetlinkMessage::GetLink(m), Answer::One) {
            Ok(reply) => Ok(reply.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc_errno(Errno::ENODEV)) => Ok(None),
            Err(source) => Err(NetlinkError::GetLink {
                link: name.to_owned(),
                source,
            }),
        }
    }

    fn create_bridge(&mut self, name: &str, mtu: Option<u32>) -> io::Result<()> {
        // A bridge whose MAC the kernel chose takes the lowest MAC of its ports, so it would change whenever a
        // container comes or goes, and containers would keep sending to a stale gateway MAC from their ARP
        // caches. A MAC given at creation is "set" (NET_ADDR_SET) and the bridge keeps it, as Docker's does.
        let mut mac = [0u8; 6];
        File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut mac))?;
        mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        if let Some(mtu) = mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.create(RouteNetlinkMessage::NewLink(m))
    }

    /// Every address message of this namespace (one dump).
    pub(crate) fn addresses(&mut self) -> Result<Vec<AddressMessage>, NetlinkError> {
        let reply = self
            .exchange(
                RouteNetlinkMessage::GetAddress(AddressMessage::default()),
                Answer::Dump,
            )
            .map_err(|source| NetlinkError::Dump {
                what: "addresses",
                source,
            })?;
        Ok(reply
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => Some(a),
                _ => None,
            })
            .collect())
    }

    fn add_address_to(
        &mut self,
        ifindex: u32,
        link: &str,
        addr: IpNet,
    ) -> Result<(), NetlinkError> {
        let mut m = AddressMessage::default();
        m.header.prefix_len = addr.prefix_len();
        m.header.index = ifindex;
        m.header.scope = AddressScope::Universe;
        match addr {
            IpNet::V4(a) => {
                m.header.family = AddressFamily::Inet;
                // As `ip addr add`: IFA_LOCAL is the interface's address, IFA_ADDRESS the prefix address
                // (the same on anything but a point-to-point link).
                m.attributes.push(AddressAttribute::Local(addr.addr()));
                m.attributes.push(AddressAttribute::Address(addr.addr()));
                if a.prefix_len() <= 30 {
                    m.attributes
                        .push(AddressAttribute::Broadcast(a.broadcast()));
                }
            }
            IpNet::V6(_) => {
                m.header.family = AddressFamily::Inet6;
                m.header.flags = AddressHeaderFlags::Nodad;
                m.attributes.push(AddressAttribute::Address(addr.addr()));
                m.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
        match self.create(RouteNetlinkMessage::NewAddress(m)) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc_errno(Errno::EEXIST)) => Ok(()),
            Err(source) => Err(NetlinkError::AddAddress {
                link: link.to_owned(),
                addr,
                source,
            }),
        }
    }

    fn add_route_dev(
        &mut self,
        dst: Option<IpNet>,
        gateway: Option<IpAddr>,
        ifindex: u32,
        link: &str,
    ) -> Result<(), NetlinkError> {
        let v6 = dst
            .map(|d| d.addr().is_ipv6())
            .or(gateway.map(|g| g.is_ipv6()))
            == Some(true);
        let mut m = RouteMessage::default();
        m.header.address_family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.kind = RouteType::Unicast;
        // A route without a gateway reaches its destination directly on the link.
        m.header.scope = if gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        if let Some(dst) = dst {
            m.header.destination_prefix_length = dst.prefix_len();
            m.attributes
                .push(RouteAttribute::Destination(dst.network().into()));
        }
        if let Some(gw) = gateway {
            m.attributes.push(RouteAttribute::Gateway(gw.into()));
        }
        m.attributes.push(RouteAttribute::Oif(ifindex));
        match self.create(RouteNetlinkMessage::NewRoute(m)) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc_errno(Errno::EEXIST)) => Ok(()),
            Err(source) => {
                let mut route = dst.map_or_else(|| "default".to_owned(), |d| d.trunc().to_string());
                if let Some(gw) = gateway {
                    route.push_str(&format!(" via {gw}"));
                }
                route.push_str(&format!(" dev {link}"));
                Err(NetlinkError::AddRoute { route, source })
            }
        }
    }

    /// Sets link `index`'s IPv6 address generation mode to `none`: it gets no link-local address when it
    /// comes up (as `ip link set dev X addrgenmode none`). Only an existing link takes it.
    fn no_link_local(&mut self, index: u32, link: &str) -> Result<(), NetlinkError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes
            .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
            )]));
        self.exchange(RouteNetlinkMessage::SetLink(m), Answer::Ack)
            .map(drop)
            .map_err(|source| NetlinkError::NoLinkLocal {
                link: link.to_owned(),
                source,
            })
    }

    fn set_up_link(&mut self, ifindex: u32, link: &str) -> Result<(), NetlinkError> {
        let mut m = LinkMessage::default();
        m.header.index = ifindex;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.exchange(RouteNetlinkMessage::SetLink(m), Answer::Ack)
            .map(drop)
            .map_err(|source| NetlinkError::SetUp {
                link: link.to_owned(),
                source,
            })
    }

    /// [`configure_peer`] over this socket, which belongs to the container's namespace (one opened where
    /// the namespace was made, say, so that no thread has to enter it again).
    pub fn configure_peer(
        &mut self,
        ifname: &str,
        addrs: &[IpNet],
        gateways: &[IpAddr],
    ) -> Result<(), NetlinkError> {
        let link = self
            .get_link(ifname)?
            .ok_or_else(|| no_such_link(ifname.to_owned()))?;
        let index = link.header.index;
        if !addrs.iter().any(|a| a.addr().is_ipv6()) {
            self.no_link_local(index, ifname)?;
        }
        for addr in addrs {
            self.add_address_to(index, ifname, *addr)?;
        }
        if !link.header.flags.contains(LinkFlags::Up) {
            self.set_up_link(index, ifname)?;
        }
        for gw in gateways {
            self.add_route_dev(None, Some(*gw), index, ifname)?;
        }
        Ok(())
    }

    /// Sends a creating request (`NLM_F_CREATE | NLM_F_EXCL`, as `ip ... add` does) and waits for its ack.
    pub(crate) fn create(&mut self, msg: RouteNetlinkMessage) -> io::Result<()> {
        self.send(msg, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK)?;
        self.receive(Answer::Ack).map(drop)
    }

    pub(crate) fn exchange(
        &mut self,
        msg: RouteNetlinkMessage,
        answer: Answer,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let flags = match answer {
            Answer::Ack => NLM_F_ACK,
            Answer::One => 0,
            Answer::Dump => NLM_F_DUMP,
        };
        // A dump that a concurrent change interrupted (NLM_F_DUMP_INTR on its messages) may have missed or
        // repeated entries: it is asked again.
        for _ in 0..3 {
            self.send(msg.clone(), flags)?;
            let (replies, interrupted) = self.receive(answer)?;
            if !interrupted {
                return Ok(replies);
            }
        }
        Err(io::Error::from_raw_os_error(libc_errno(Errno::EINTR)))
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.sock.send(&buf, 0).map(drop)
    }

    /// Reads the answer to the request just sent (messages of other sequence numbers, left over from an
    /// earlier request that failed half-way, are skipped).
    fn receive(&mut self, answer: Answer) -> io::Result<(Vec<RouteNetlinkMessage>, bool)> {
        let mut replies = Vec::new();
        let mut interrupted = false;
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            let mut rest = &self.buf[..n.min(self.buf.len())];
            while !rest.is_empty() {
                let len = NetlinkBuffer::new_checked(rest)
                    .map(|b| b.length() as usize)
                    .map_err(malformed)?;
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..len])
                    .map_err(malformed)?;
                // NLMSG_ALIGN: messages in one datagram start on 4-byte boundaries.
                rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
                if msg.header.sequence_number != self.seq {
                    continue;
                }
                interrupted |= msg.header.flags & NLM_F_DUMP_INTR != 0;
                match msg.payload {
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => {
                        return Ok((replies, interrupted))
                    }
                    NetlinkPayload::InnerMessage(m) => {
                        replies.push(m);
                        if answer == Answer::One {
                            return Ok((replies, interrupted));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The container side, over a socket opened in `netns`: `ifname`'s addresses, the link up, then a default
/// route via each gateway (one per family; none when `gateways` is empty, as on internal networks). The
/// link is set up before the routes: the kernel refuses a gateway it cannot reach, and an IPv4 prefix
/// route exists only while its link is up. Without an IPv6 address in `addrs`, `ifname` gets no IPv6
/// link-local address (address generation mode `none`, set over netlink before the link comes up), so it
/// sends nothing when it comes up: otherwise its router solicitation, MLD reports and DAD probe are flooded
/// by the bridge to every other container on it, which makes each start cost more the more containers
/// there are. Docker switches IPv6 off there with the `disable_ipv6` sysctl; a sysctl in the container's
/// namespace is avoided here because every namespace whose /proc/sys/net is looked up leaves dentries of
/// the same names behind, and each later lookup of those names, in any namespace, walks all of them.
pub fn configure_peer(
    netns: &Path,
    ifname: &str,
    addrs: &[IpNet],
    gateways: &[IpAddr],
) -> Result<(), NetlinkError> {
    Netlink::open_in(netns)?.configure_peer(ifname, addrs, gateways)
}

/// The local address of an address message: IFA_LOCAL where present (IPv4), else IFA_ADDRESS.
pub(crate) fn local_of(a: &AddressMessage) -> Option<IpAddr> {
    let mut address = None;
    for attr in &a.attributes {
        match attr {
            AddressAttribute::Local(ip) => return Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    address
}

fn no_such_link(link: String) -> NetlinkError {
    NetlinkError::GetLink {
        link,
        source: io::Error::from_raw_os_error(libc_errno(Errno::ENODEV)),
    }
}

pub(crate) fn libc_errno(e: Errno) -> i32 {
    e as i32
}

fn malformed(e: netlink_packet_core::DecodeError) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed netlink answer: {e}"),
    )
}
