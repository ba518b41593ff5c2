//! The ID the network stack gives another network namespace (`ip netns list-id`, lsns's NETNSID).
//!
//! A network namespace can number its peers: the ID under which namespace A knows namespace B is what
//! `ip link` prints as `link-netnsid` for a veth whose peer lives in B. The kernel answers `RTM_GETNSID`
//! with a descriptor of B (`NETNSA_FD`) over a route netlink socket opened in A. This is the one netlink
//! request the namespace tools need, so it is written out here with its byte layout (rtnetlink(7),
//! <linux/net_namespace.h>) rather than pulled in from a netlink crate.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;
/// `NETNSA_NSID_NOT_ASSIGNED`: the namespace is known but has no ID here.
const NSID_NOT_ASSIGNED: i32 = -1;

/// What the asking namespace calls a network namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetnsId {
    Assigned(i32),
    /// The kernel knows no ID for it (the asker's own namespace is typically this).
    Unassigned,
}

/// A route netlink socket in the caller's network namespace, for asking IDs of others.
pub struct NetnsIds {
    sock: File,
    seq: u32,
}

/// A failed `RTM_GETNSID` exchange.
#[derive(Debug, thiserror::Error)]
pub enum NetnsIdError {
    #[error("cannot open a route netlink socket")]
    Socket(#[source] nix::Error),
    #[error("netlink request for a namespace ID failed")]
    Io(#[source] io::Error),
    #[error("the kernel refused the namespace ID request")]
    Kernel(#[source] nix::Error),
    #[error("malformed netlink answer to a namespace ID request")]
    Malformed,
}

impl NetnsIds {
    pub fn open() -> Result<NetnsIds, NetnsIdError> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map_err(NetnsIdError::Socket)?;
        Ok(NetnsIds {
            sock: File::from(fd),
            seq: 0,
        })
    }

    /// The ID of the network namespace that `ns` (an nsfs file, e.g. `/proc/PID/ns/net`) refers to.
    pub fn get(&mut self, ns: impl AsFd) -> Result<NetnsId, NetnsIdError> {
        self.seq = self.seq.wrapping_add(1);
        let req = request(self.seq, ns.as_fd().as_raw_fd());
        // An unconnected netlink socket sends to the kernel; write(2) on a socket is send(2) without flags.
        self.sock.write_all(&req).map_err(NetnsIdError::Io)?;
        let mut buf = [0u8; 256];
        let n = self.sock.read(&mut buf).map_err(NetnsIdError::Io)?;
        parse_answer(&buf[..n])
    }
}

/// `nlmsghdr` + `rtgenmsg` (padded to 4) + one `NETNSA_FD` attribute.
fn request(seq: u32, fd: i32) -> [u8; 28] {
    let mut m = [0u8; 28];
    m[0..4].copy_from_slice(&28u32.to_ne_bytes());
    m[4..6].copy_from_slice(&RTM_GETNSID.to_ne_bytes());
    m[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    // m[12..16]: port 0, filled in by the kernel; m[16]: rtgen_family AF_UNSPEC, then padding.
    m[20..22].copy_from_slice(&8u16.to_ne_bytes());
    m[22..24].copy_from_slice(&NETNSA_FD.to_ne_bytes());
    m[24..28].copy_from_slice(&fd.to_ne_bytes());
    m
}

fn parse_answer(msg: &[u8]) -> Result<NetnsId, NetnsIdError> {
    let u16_at = |i: usize| msg.get(i..i + 2).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let i32_at = |i: usize| {
        msg.get(i..i + 4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let len = i32_at(0).ok_or(NetnsIdError::Malformed)? as usize;
    let msg = msg.get(..len).ok_or(NetnsIdError::Malformed)?;
    match u16_at(4) {
        Some(RTM_NEWNSID) => {}
        Some(NLMSG_ERROR) => {
            let errno = i32_at(NLMSG_HDRLEN).ok_or(NetnsIdError::Malformed)?;
            return Err(NetnsIdError::Kernel(nix::Error::from_raw(-errno)));
        }
        _ => return Err(NetnsIdError::Malformed),
    }
    // Attributes follow the 4-byte rtgenmsg; each is (len, type, payload) padded to 4 bytes.
    let mut at = NLMSG_HDRLEN + 4;
    while let (Some(alen), Some(atype)) = (u16_at(at), u16_at(at + 2)) {
        let alen = usize::from(alen);
        if alen < 4 || at + alen > msg.len() {
            break;
        }
        if atype == NETNSA_NSID {
            return match i32_at(at + 4).ok_or(NetnsIdError::Malformed)? {
                NSID_NOT_ASSIGNED => Ok(NetnsId::Unassigned),
                id => Ok(NetnsId::Assigned(id)),
            };
        }
        at += (alen + 3) & !3;
    }
    Err(NetnsIdError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(kind: u16, attrs: &[(u16, i32)]) -> Vec<u8> {
        let mut m = vec![0u8; NLMSG_HDRLEN + 4];
        m[4..6].copy_from_slice(&kind.to_ne_bytes());
        for (t, v) in attrs {
            m.extend_from_slice(&8u16.to_ne_bytes());
            m.extend_from_slice(&t.to_ne_bytes());
            m.extend_from_slice(&v.to_ne_bytes());
        }
        let len = m.len() as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        m
    }

    #[test]
    fn reads_the_nsid_attribute_after_others() {
        let m = answer(RTM_NEWNSID, &[(2, 77), (NETNSA_NSID, 5)]);
        assert_eq!(parse_answer(&m).unwrap(), NetnsId::Assigned(5));
        let m = answer(RTM_NEWNSID, &[(NETNSA_NSID, -1)]);
        assert_eq!(parse_answer(&m).unwrap(), NetnsId::Unassigned);
    }

    #[test]
    fn a_netlink_error_keeps_its_errno() {
        let m = answer(NLMSG_ERROR, &[]);
        let mut m = m;
        m[16..20].copy_from_slice(&(-libc::EBADF).to_ne_bytes());
        match parse_answer(&m) {
            Err(NetnsIdError::Kernel(e)) => assert_eq!(e, nix::Error::EBADF),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_answer(&m[..10]),
            Err(NetnsIdError::Malformed)
        ));
    }

    #[test]
    fn request_layout_matches_rtnetlink() {
        let r = request(9, 42);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 28);
        assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), RTM_GETNSID);
        assert_eq!(i32::from_ne_bytes(r[24..28].try_into().unwrap()), 42);
    }
}
