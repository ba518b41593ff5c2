//! The ID the network stack gives another network namespace (`ip netns list`'s `(id: N)`, lsns's NETNSID).
//!
//! A network namespace can number its peers: the ID under which namespace A knows namespace B is what
//! `ip link` prints as `link-netnsid` for a veth whose peer lives in B. The kernel answers `RTM_GETNSID`
//! with a descriptor of B (`NETNSA_FD`) over a route netlink socket opened in A (rtnetlink(7)). Messages are
//! built and parsed by `netlink-packet-route`; the socket is `netlink-sys`'s.

use std::os::fd::{AsFd, AsRawFd};

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// What the asking namespace calls a network namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetnsId {
    Assigned(i32),
    /// The kernel knows no ID for it (the asker's own namespace is typically this).
    Unassigned,
}

/// A route netlink socket in the caller's network namespace, for asking IDs of others.
pub struct NetnsIds {
    sock: Socket,
    seq: u32,
}

/// A failed `RTM_GETNSID` exchange.
#[derive(Debug, thiserror::Error)]
pub enum NetnsIdError {
    #[error("cannot open a route netlink socket")]
    Socket(#[source] std::io::Error),
    #[error("netlink request for a namespace ID failed")]
    Io(#[source] std::io::Error),
    #[error("the kernel refused the namespace ID request")]
    Kernel(#[source] std::io::Error),
    #[error("malformed netlink answer to a namespace ID request")]
    Malformed,
}

impl NetnsIds {
    pub fn open() -> Result<NetnsIds, NetnsIdError> {
        let sock = Socket::new(NETLINK_ROUTE).map_err(NetnsIdError::Socket)?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(NetnsIdError::Socket)?;
        Ok(NetnsIds { sock, seq: 0 })
    }

    /// The ID of the network namespace that `ns` (an nsfs file, e.g. `/proc/PID/ns/net`) refers to.
    pub fn get(&mut self, ns: impl AsFd) -> Result<NetnsId, NetnsIdError> {
        self.seq = self.seq.wrapping_add(1);
        let fd = u32::try_from(ns.as_fd().as_raw_fd()).map_err(|_| NetnsIdError::Malformed)?;
        let req = request(self.seq, fd);
        self.sock.send(&req, 0).map_err(NetnsIdError::Io)?;
        let mut buf = vec![0u8; 4096];
        let n = self
            .sock
            .recv(&mut &mut buf[..], 0)
            .map_err(NetnsIdError::Io)?;
        parse_answer(&buf[..n])
    }
}

fn request(seq: u32, fd: u32) -> Vec<u8> {
    let mut nsid = NsidMessage::default();
    nsid.attributes.push(NsidAttribute::Fd(fd));
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(
        header,
        NetlinkPayload::from(RouteNetlinkMessage::GetNsId(nsid)),
    );
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

fn parse_answer(buf: &[u8]) -> Result<NetnsId, NetnsIdError> {
    let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(buf)
        .map_err(|_| NetnsIdError::Malformed)?;
    match msg.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(m)) => m
            .attributes
            .iter()
            .find_map(|a| match a {
                NsidAttribute::Id(-1) => Some(NetnsId::Unassigned),
                NsidAttribute::Id(id) => Some(NetnsId::Assigned(*id)),
                _ => None,
            })
            .ok_or(NetnsIdError::Malformed),
        NetlinkPayload::Error(e) => Err(NetnsIdError::Kernel(e.to_io())),
        _ => Err(NetnsIdError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: i32) -> Vec<u8> {
        let mut nsid = NsidMessage::default();
        nsid.attributes.push(NsidAttribute::Id(id));
        let mut msg = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::from(RouteNetlinkMessage::NewNsId(nsid)),
        );
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf);
        buf
    }

    #[test]
    fn reads_assigned_and_unassigned_ids() {
        assert_eq!(parse_answer(&answer(5)).unwrap(), NetnsId::Assigned(5));
        assert_eq!(parse_answer(&answer(-1)).unwrap(), NetnsId::Unassigned);
        assert!(matches!(
            parse_answer(&[1, 2, 3]),
            Err(NetnsIdError::Malformed)
        ));
    }

    #[test]
    fn request_is_a_getnsid_with_the_fd() {
        let req = request(9, 42);
        let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&req).unwrap();
        assert_eq!(msg.header.sequence_number, 9);
        match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::GetNsId(m)) => {
                assert_eq!(m.attributes, vec![NsidAttribute::Fd(42)])
            }
            other => panic!("{other:?}"),
        }
    }
}
