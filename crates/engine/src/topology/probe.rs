//! One connection attempt from inside a network namespace, to confirm what the network model says: a TCP
//! connect, a UDP datagram (an ICMP "port unreachable" comes back as `ECONNREFUSED` on a connected
//! socket), or an ICMP echo. The socket is made on a short-lived thread that joins the namespace; the
//! caller's threads never change namespace. The namespace is the source's own, so the packet takes the
//! path the source's would: its routes, the bridge, the host's forwarding and minotaur's rules.

use std::io::{self, ErrorKind, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde::Serialize;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::topology::TopologyError;

/// What came of an attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// TCP connected, or an ICMP echo was answered, or a UDP datagram drew an answer.
    Reached,
    /// Something answered that nothing listens there (TCP RST, ICMP port unreachable).
    Refused,
    /// No route, or ICMP host/network unreachable: the kernel's words.
    Unreachable(String),
    /// Nothing came back in time: dropped on the way, or (UDP) delivered to something silent.
    NoAnswer,
}

impl Outcome {
    pub fn describe(&self) -> String {
        match self {
            Outcome::Reached => "reached".to_owned(),
            Outcome::Refused => "refused: nothing listens there".to_owned(),
            Outcome::Unreachable(why) => format!("unreachable: {why}"),
            Outcome::NoAnswer => "no answer".to_owned(),
        }
    }
}

/// The transport of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
    /// An ICMP echo (no port).
    Icmp,
}

/// Tries `dest` (`port` ignored for ICMP) from the network namespace of the nsfs file `netns`, waiting at
/// most `timeout`.
pub fn attempt(
    netns: &Path,
    transport: Transport,
    dest: IpAddr,
    port: u16,
    timeout: Duration,
) -> Result<Outcome, TopologyError> {
    let from = netns.display().to_string();
    minotaur_net::in_netns(netns, || -> Result<Outcome, TopologyError> {
        let r = match transport {
            Transport::Tcp => tcp(SocketAddr::new(dest, port), timeout),
            Transport::Udp => udp(SocketAddr::new(dest, port), timeout),
            Transport::Icmp => echo(dest, timeout),
        };
        r.map_err(|source| TopologyError::Probe {
            from: from.clone(),
            source,
        })
    })
}

/// Turns what the kernel said into an outcome; other errors are the probe's own failure.
fn judge(e: io::Error) -> io::Result<Outcome> {
    let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
    match errno {
        Errno::ECONNREFUSED => Ok(Outcome::Refused),
        Errno::ETIMEDOUT | Errno::EAGAIN => Ok(Outcome::NoAnswer),
        Errno::ENETUNREACH
        | Errno::EHOSTUNREACH
        | Errno::EACCES
        | Errno::EPERM
        | Errno::EADDRNOTAVAIL => Ok(Outcome::Unreachable(errno.desc().to_lowercase())),
        _ if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
            Ok(Outcome::NoAnswer)
        }
        _ => Err(e),
    }
}

fn tcp(dest: SocketAddr, timeout: Duration) -> io::Result<Outcome> {
    let s = Socket::new(Domain::for_address(dest), Type::STREAM, Some(Protocol::TCP))?;
    match s.connect_timeout(&dest.into(), timeout) {
        Ok(()) => Ok(Outcome::Reached),
        Err(e) => judge(e),
    }
}

fn udp(dest: SocketAddr, timeout: Duration) -> io::Result<Outcome> {
    let s = Socket::new(Domain::for_address(dest), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = s.connect(&dest.into()) {
        return judge(e);
    }
    s.set_read_timeout(Some(timeout))?;
    // A DNS query for the root's NS records: a resolver answers it, anything else ignores or refuses it.
    let query = [
        0x6d, 0x69, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1,
    ];
    if let Err(e) = s.send(&query) {
        return judge(e);
    }
    let mut buf = [0u8; 512];
    match (&s).read(&mut buf) {
        Ok(n) if n > 0 => Ok(Outcome::Reached),
        Ok(_) => Ok(Outcome::NoAnswer),
        Err(e) => judge(e),
    }
}

/// An ICMP echo over a raw socket (root has CAP_NET_RAW; the unprivileged "ping" sockets depend on each
/// namespace's `ping_group_range`). Only an echo reply from `dest` with our identifier counts.
fn echo(dest: IpAddr, timeout: Duration) -> io::Result<Outcome> {
    let (domain, proto, request, reply) = match dest {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, 8u8, 0u8),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, 128, 129),
    };
    let s = Socket::new(domain, Type::RAW, Some(proto))?;
    let id = (std::process::id() as u16) ^ 0x6d69;
    let mut packet = vec![request, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    packet.extend_from_slice(b"minotaur why");
    if dest.is_ipv4() {
        // ICMPv6's checksum covers a pseudo-header, and the kernel fills it in for raw ICMPv6 sockets.
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    // Connected, the raw socket receives only what `dest` sends.
    let to: SockAddr = SocketAddr::new(dest, 0).into();
    if let Err(e) = s.connect(&to).and_then(|()| s.send(&packet)) {
        return judge(e);
    }
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Outcome::NoAnswer);
        }
        s.set_read_timeout(Some(left))?;
        let n = match (&s).read(&mut buf) {
            Ok(n) => n,
            Err(e) => return judge(e),
        };
        let got = &buf[..n];
        // A raw IPv4 socket hands over the IP header too; its length is in the first byte.
        let icmp = if dest.is_ipv4() {
            let ihl = usize::from(got.first().copied().unwrap_or(0) & 0x0f) * 4;
            got.get(ihl..).unwrap_or_default()
        } else {
            got
        };
        if icmp.len() >= 8 && icmp[0] == reply && icmp[4..6] == id.to_be_bytes() {
            return Ok(Outcome::Reached);
        }
    }
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_an_echo_request() {
        // RFC 1071's example bytes, and a packet whose checksum field is filled sums to zero.
        let mut p = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, b'h', b'i'];
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(checksum(&p), 0);
    }

    #[test]
    fn kernel_errors_become_outcomes() {
        let e = |c: Errno| judge(io::Error::from_raw_os_error(c as i32)).unwrap();
        assert_eq!(e(Errno::ECONNREFUSED), Outcome::Refused);
        assert_eq!(e(Errno::ETIMEDOUT), Outcome::NoAnswer);
        assert_eq!(
            e(Errno::ENETUNREACH),
            Outcome::Unreachable("network is unreachable".into())
        );
        assert!(judge(io::Error::from_raw_os_error(Errno::EBADF as i32)).is_err());
    }
}
