//! Forwarding the names that are not a container's: the host's upstream servers, and a raw relay to them.
//!
//! The relay does not parse answers: it sends the client's query under an ID of its own, takes the first
//! datagram from that upstream carrying that ID, and hands it back under the client's ID. Each upstream is
//! tried in turn, for [`UPSTREAM_TIMEOUT`] each; a query over TCP is forwarded over TCP.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use minotaur_ns::netns::resolv::{nameservers, RESOLV_CONF, UPSTREAM_RESOLV_CONF};

/// How long one upstream server gets to answer.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The host's upstream servers for forwarding: the nameservers of /etc/resolv.conf, or, when those are only
/// loopback stubs (systemd-resolved's 127.0.0.53), the stub's own upstream servers from
/// /run/systemd/resolve/resolv.conf, so that answers do not depend on the stub. A loopback stub with no known
/// upstream is kept: the server runs in the host's network namespace, where the stub answers.
pub fn host_upstreams() -> Vec<SocketAddr> {
    let resolv = std::fs::read_to_string(RESOLV_CONF).ok();
    let upstream = std::fs::read_to_string(UPSTREAM_RESOLV_CONF).ok();
    upstreams_from(resolv.as_deref(), upstream.as_deref())
}

fn upstreams_from(resolv: Option<&str>, upstream: Option<&str>) -> Vec<SocketAddr> {
    let servers = resolv.and_then(nameservers).unwrap_or_default();
    let mut chosen = servers.clone();
    if !servers.is_empty() && servers.iter().all(IpAddr::is_loopback) {
        let real: Vec<IpAddr> = upstream
            .and_then(nameservers)
            .unwrap_or_default()
            .into_iter()
            .filter(|ip| !ip.is_loopback())
            .collect();
        if !real.is_empty() {
            chosen = real;
        }
    }
    chosen
        .into_iter()
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

fn random_id() -> u16 {
    RandomState::new().build_hasher().finish() as u16
}

fn with_id(message: &[u8], id: u16) -> Vec<u8> {
    let mut m = message.to_vec();
    m[..2].copy_from_slice(&id.to_be_bytes());
    m
}

/// Relays `query` (at least a header long) over UDP; the first upstream answer, under the client's ID.
pub(crate) fn relay_udp(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    let client_id = [query[0], query[1]];
    for upstream in upstreams {
        match udp_once(query, *upstream) {
            Ok(mut answer) => {
                answer[..2].copy_from_slice(&client_id);
                return Some(answer);
            }
            Err(e) => log::debug!("upstream {upstream}: {e}"),
        }
    }
    None
}

fn udp_once(query: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let any: IpAddr = match upstream {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0))?;
    // Connected: the kernel drops datagrams from any other source.
    socket.connect(upstream)?;
    let id = random_id();
    socket.send(&with_id(query, id))?;
    let deadline = Instant::now() + UPSTREAM_TIMEOUT;
    let mut buf = vec![0; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        socket.set_read_timeout(Some(left))?;
        let n = socket.recv(&mut buf)?;
        if n >= 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0x80 != 0 {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

/// Relays `query` over TCP; the first upstream answer, under the client's ID.
pub(crate) fn relay_tcp(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    let client_id = [query[0], query[1]];
    for upstream in upstreams {
        match tcp_once(query, *upstream) {
            Ok(mut answer) => {
                answer[..2].copy_from_slice(&client_id);
                return Some(answer);
            }
            Err(e) => log::debug!("upstream {upstream} (tcp): {e}"),
        }
    }
    None
}

fn tcp_once(query: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&upstream, UPSTREAM_TIMEOUT)?;
    stream.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    stream.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    let id = random_id();
    let len = u16::try_from(query.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend(with_id(query, id));
    stream.write_all(&out)?;
    let mut len = [0; 2];
    stream.read_exact(&mut len)?;
    let mut answer = vec![0; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut answer)?;
    if answer.len() < 12 || answer[..2] != id.to_be_bytes() {
        return Err(std::io::ErrorKind::InvalidData.into());
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn a_real_resolv_conf_is_used_as_is() {
        let r = "nameserver 192.0.2.1\nnameserver 2001:db8::1\nsearch x\n";
        assert_eq!(
            upstreams_from(Some(r), Some("nameserver 203.0.113.9\n")),
            addrs(&["192.0.2.1:53", "[2001:db8::1]:53"])
        );
    }

    #[test]
    fn a_loopback_stub_is_replaced_by_its_upstreams() {
        let stub = "nameserver 127.0.0.53\noptions edns0\n";
        let up = "nameserver 203.0.113.53\nnameserver 127.0.0.1\nnameserver 192.0.2.7\n";
        assert_eq!(
            upstreams_from(Some(stub), Some(up)),
            addrs(&["203.0.113.53:53", "192.0.2.7:53"])
        );
        // Without a known upstream the stub stays: it answers in the host's namespace, where we run.
        assert_eq!(upstreams_from(Some(stub), None), addrs(&["127.0.0.53:53"]));
        assert_eq!(upstreams_from(None, Some(up)), vec![]);
    }
}
