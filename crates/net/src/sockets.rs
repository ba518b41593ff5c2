//! The listening sockets of a network namespace, as `ss -lntu` shows them, from the kernel's socket
//! diagnostics (sock_diag(7), `NETLINK_SOCK_DIAG`).
//!
//! A sock_diag socket answers for the network namespace it was made in, so a namespace is read from a
//! thread that joins it ([`listening_in`], or many at once with [`crate::in_each_netns`]). The
//! `/proc/PID/net/tcp` tables would need no socket, but reading one walks the kernel's whole TCP hash
//! tables (shared by every namespace) at each read: several milliseconds per namespace on a host with many.
//! A diag dump that asks for listeners only walks the listening hash. Messages are built and parsed by
//! `netlink-packet-sock-diag`; the socket is `netlink-sys`'s.

use std::io;
use std::net::IpAddr;
use std::path::Path;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};
use serde::Serialize;

/// A socket bound to a local port: a listening TCP socket or an unconnected bound UDP one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Listener {
    /// `tcp` or `udp`.
    pub proto: &'static str,
    pub addr: IpAddr,
    pub port: u16,
    /// The socket's inode (`socket:[INODE]` in the owner's `/proc/PID/fd`).
    pub inode: u64,
}

/// Which transports to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protos {
    pub tcp: bool,
    pub udp: bool,
}

impl Protos {
    pub const ALL: Protos = Protos {
        tcp: true,
        udp: true,
    };
}

/// A dump that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SocketsError {
    #[error("cannot open a sock_diag netlink socket")]
    Socket(#[source] io::Error),
    #[error("cannot list {what} sockets")]
    Dump {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
}

/// TCP's LISTEN state, and UDP's "close" (what an unconnected socket reports).
const TCP_LISTEN: u8 = 10;
const UDP_UNCONNECTED: u8 = 7;

/// The listeners of the caller's network namespace.
pub fn listening(protos: Protos) -> Result<Vec<Listener>, SocketsError> {
    let mut sock = Socket::new(NETLINK_SOCK_DIAG).map_err(SocketsError::Socket)?;
    sock.bind_auto().map_err(SocketsError::Socket)?;
    sock.connect(&SocketAddr::new(0, 0))
        .map_err(SocketsError::Socket)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut seq = 0;
    for (proto, name, states, wanted) in [
        (IPPROTO_TCP, "tcp", StateFlags::LISTEN, TCP_LISTEN),
        (IPPROTO_UDP, "udp", StateFlags::CLOSE, UDP_UNCONNECTED),
    ] {
        if (name == "tcp" && !protos.tcp) || (name == "udp" && !protos.udp) {
            continue;
        }
        for family in [AF_INET, AF_INET6] {
            seq += 1;
            let err = |source| SocketsError::Dump { what: name, source };
            dump(
                &mut sock,
                &mut buf,
                seq,
                family,
                proto,
                states.clone(),
                &mut |h| {
                    if h.state == wanted {
                        out.push(Listener {
                            proto: name,
                            addr: h.socket_id.source_address,
                            port: h.socket_id.source_port,
                            inode: u64::from(h.inode),
                        });
                    }
                },
            )
            .map_err(err)?;
        }
    }
    Ok(out)
}

/// Like [`listening`], for the network namespace of the nsfs file `netns`, read from a thread that joins it.
pub fn listening_in(netns: &Path, protos: Protos) -> Result<Vec<Listener>, SocketsError> {
    crate::netns::in_netns(netns, || listening(protos))
}

/// One `SOCK_DIAG_BY_FAMILY` dump, each answer handed to `each`.
fn dump(
    sock: &mut Socket,
    buf: &mut [u8],
    seq: u32,
    family: u8,
    protocol: u8,
    states: StateFlags,
    each: &mut dyn FnMut(&netlink_packet_sock_diag::inet::InetResponseHeader),
) -> io::Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    let mut msg = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol,
            extensions: ExtensionFlags::empty(),
            states,
            socket_id,
        })
        .into(),
    );
    msg.finalize();
    let mut req = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut req);
    sock.send(&req, 0)?;
    loop {
        let n = sock.recv(&mut &mut buf[..], 0)?;
        let mut rest = &buf[..n.min(buf.len())];
        while !rest.is_empty() {
            let len = NetlinkBuffer::new_checked(rest)
                .map(|b| b.length() as usize)
                .map_err(malformed)?;
            let msg =
                NetlinkMessage::<SockDiagMessage>::deserialize(&rest[..len]).map_err(malformed)?;
            rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
            if msg.header.sequence_number != seq {
                continue;
            }
            match msg.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => each(&r.header),
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(e) => {
                    // A kernel without IPv6 (or without UDP diag) has nothing to list.
                    let e = e.to_io();
                    return match e.raw_os_error() {
                        Some(code) if code == nix::errno::Errno::ENOENT as i32 => Ok(()),
                        _ => Err(e),
                    };
                }
                _ => {}
            }
        }
    }
}

fn malformed(e: netlink_packet_core::DecodeError) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed sock_diag answer: {e}"),
    )
}

/// The processes under `proc` among `pids` that hold the socket `inode`, with the descriptor number.
pub fn holders(proc: &Path, pids: &[i32], inode: u64) -> Vec<(i32, i32)> {
    use std::fs;
    let wanted = format!("socket:[{inode}]");
    let mut out = Vec::new();
    for &pid in pids {
        let Ok(fds) = fs::read_dir(proc.join(format!("{pid}/fd"))) else {
            continue;
        };
        for fd in fds.flatten() {
            if fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str()) {
                if let Some(n) = fd.file_name().to_str().and_then(|n| n.parse().ok()) {
                    out.push((pid, n));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_listeners_are_found() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let u = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let uport = u.local_addr().unwrap().port();
        let all = listening(Protos::ALL).unwrap();
        let me = all
            .iter()
            .find(|x| x.proto == "tcp" && x.port == port)
            .expect("our TCP listener");
        assert_eq!(me.addr, "127.0.0.1".parse::<IpAddr>().unwrap());
        let pid = std::process::id() as i32;
        assert_eq!(holders(Path::new("/proc"), &[pid], me.inode).len(), 1);
        let udp = all
            .iter()
            .find(|x| x.proto == "udp" && x.port == uport)
            .expect("our UDP socket");
        assert_eq!(udp.addr, "::1".parse::<IpAddr>().unwrap());
        let tcp_only = listening(Protos {
            tcp: true,
            udp: false,
        })
        .unwrap();
        assert!(tcp_only.iter().all(|x| x.proto == "tcp"));
    }
}
