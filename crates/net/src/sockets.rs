//! The listening sockets of a network namespace, as `ss -lntu` shows them, read from the kernel's
//! `/proc/PID/net/{tcp,tcp6,udp,udp6}` tables.
//!
//! Those files describe the network namespace of the process PID (the kernel picks the namespace of the
//! task whose `/proc` directory is read, not of the reader), so a namespace that a process is in is read
//! without entering it; one that only a bind mount holds is read through `/proc/thread-self/net` on a
//! short-lived thread that joins it ([`listening_in`]). sock_diag netlink would give the same rows; the
//! text tables need no socket per namespace and are what `netstat` reads.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

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

/// A table that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SocketsError {
    #[error("cannot read socket table {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
}

/// TCP state LISTEN and UDP's "close" (an unconnected socket), as include/net/tcp_states.h numbers them.
const TCP_LISTEN: &str = "0A";
const UDP_UNCONNECTED: &str = "07";

/// The listeners of the network namespace whose tables are under `net_dir` (`/proc/PID/net`). A table the
/// kernel lacks (no IPv6) is empty.
pub fn listening(net_dir: &Path) -> Result<Vec<Listener>, SocketsError> {
    let mut out = Vec::new();
    for (file, proto, state) in [
        ("tcp", "tcp", TCP_LISTEN),
        ("tcp6", "tcp", TCP_LISTEN),
        ("udp", "udp", UDP_UNCONNECTED),
        ("udp6", "udp", UDP_UNCONNECTED),
    ] {
        let path = net_dir.join(file);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(SocketsError::Read { path, source }),
        };
        out.extend(parse_table(&text, proto, state));
    }
    Ok(out)
}

/// Like [`listening`], for the network namespace of the nsfs file `netns`, read from a thread that joins it.
pub fn listening_in(netns: &Path) -> Result<Vec<Listener>, SocketsError> {
    crate::netns::in_netns(netns, || listening(Path::new("/proc/thread-self/net")))
}

/// The rows of one table in state `state`.
fn parse_table(text: &str, proto: &'static str, state: &str) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.get(3) != Some(&state) {
                return None;
            }
            let (addr, port) = f.get(1)?.split_once(':')?;
            Some(Listener {
                proto,
                addr: parse_addr(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// An address as the tables print it: the bytes of the address in memory, each 32-bit word printed as a
/// host-order hex number (so 127.0.0.1 is `0100007F` on a little-endian machine).
fn parse_addr(hex: &str) -> Option<IpAddr> {
    let words: Option<Vec<u32>> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect();
    let bytes: Vec<u8> = words?.iter().flat_map(|w| w.to_ne_bytes()).collect();
    match bytes.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(bytes).ok()?,
        ))),
        _ => None,
    }
}

/// The processes under `proc` among `pids` that hold the socket `inode`, with the descriptor number.
pub fn holders(proc: &Path, pids: &[i32], inode: u64) -> Vec<(i32, i32)> {
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
    fn reads_listeners_of_both_families() {
        let le = cfg!(target_endian = "little");
        let lo = if le { "0100007F" } else { "7F000001" };
        let tcp = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             \x20  0: {lo}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n\
             \x20  1: {lo}:0050 {lo}:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 100 0 0 10 0\n"
        );
        let got = parse_table(&tcp, "tcp", TCP_LISTEN);
        assert_eq!(
            got,
            vec![Listener {
                proto: "tcp",
                addr: "127.0.0.1".parse().unwrap(),
                port: 8080,
                inode: 4242
            }]
        );
        let any6 = "00000000000000000000000000000000";
        let udp6 = format!(
            "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             \x20 12: {any6}:0035 {any6}:0000 07 00000000:00000000 00:00000000 00000000     0        0 77 2 0 0\n"
        );
        let got = parse_table(&udp6, "udp", UDP_UNCONNECTED);
        assert_eq!(got[0].addr, "::".parse::<IpAddr>().unwrap());
        assert_eq!((got[0].port, got[0].inode), (53, 77));
    }

    #[test]
    fn ipv6_words_are_in_host_order() {
        // ::1 is fifteen zero bytes and a one: its last word, read as a host-order number.
        let last = u32::from_ne_bytes([0, 0, 0, 1]);
        let hex = format!("{:08X}{:08X}{:08X}{last:08X}", 0, 0, 0);
        assert_eq!(parse_addr(&hex), Some("::1".parse().unwrap()));
    }

    #[test]
    fn our_own_listener_is_found() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let all = listening(Path::new("/proc/self/net")).unwrap();
        let me = all
            .iter()
            .find(|x| x.proto == "tcp" && x.port == port)
            .expect("our listener");
        assert_eq!(me.addr, "127.0.0.1".parse::<IpAddr>().unwrap());
        let pid = std::process::id() as i32;
        assert_eq!(holders(Path::new("/proc"), &[pid], me.inode).len(), 1);
    }
}
