//! The name-resolution trap of `ip netns exec`, and its fix.
//!
//! On a systemd-resolved host `/etc/resolv.conf` names a stub on 127.0.0.53. Inside a fresh network
//! namespace that address is the namespace's own loopback, where nothing listens, so every lookup times out.
//! When every server the effective resolver configuration names is such an unserved loopback stub, we write a
//! copy that keeps its `search`/`options` lines and names the stub's real upstream servers instead (from
//! systemd-resolved's `/run/systemd/resolve/resolv.conf`), and bind it over `/etc/resolv.conf` in the
//! command's private mount namespace only.
//!
//! Everything here but [`fix`] is pure text processing so that it runs in unit tests.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// The resolver configuration programs read.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// systemd-resolved's list of the upstream servers its stub forwards to.
pub const UPSTREAM_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";

/// What to do about the effective resolver configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It works here (or names something we cannot judge): leave it alone.
    Keep,
    /// It names only unserved loopback stubs, and no upstream is known.
    NoUpstream { stubs: Vec<IpAddr> },
    /// It names only unserved loopback stubs: use `text`, which names `upstream` instead.
    Replace {
        stubs: Vec<IpAddr>,
        upstream: Vec<IpAddr>,
        text: String,
    },
}

/// The nameserver addresses a resolv.conf names, in order. `None` when one of them is not a plain address
/// (a scoped IPv6 address such as `fe80::1%eth0`), which we do not judge.
pub fn nameservers(text: &str) -> Option<Vec<IpAddr>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        out.push(words.next()?.parse().ok()?);
    }
    Some(out)
}

/// The local addresses of the unconnected (state 07, "close") UDP sockets listed in a
/// `/proc/net/udp` or `/proc/net/udp6` table.
///
/// The kernel prints each address as the in-memory words of the network-order bytes, in hex: 127.0.0.53
/// port 53 reads `3500007F:0035` on a little-endian machine.
pub fn udp_listeners(table: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
            continue;
        };
        if *state != "07" {
            continue;
        }
        let Some((addr, port)) = local.split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port, 16) else {
            continue;
        };
        let Some(bytes) = hex_words(addr) else {
            continue;
        };
        let ip = match bytes.len() {
            4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
            16 => {
                let b: [u8; 16] = bytes.try_into().expect("16 bytes");
                IpAddr::V6(Ipv6Addr::from(b))
            }
            _ => continue,
        };
        out.push(SocketAddr::new(ip, port));
    }
    out
}

fn hex_words(hex: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(hex.len() / 2);
    for word in hex.as_bytes().chunks(8) {
        if word.len() != 8 {
            return None;
        }
        let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        out.extend_from_slice(&word.to_ne_bytes());
    }
    Some(out)
}

/// True when a UDP socket bound to `bound` receives datagrams sent to `ip` port 53.
fn serves(bound: &SocketAddr, ip: IpAddr) -> bool {
    if bound.port() != 53 {
        return false;
    }
    let b = bound.ip();
    if b == ip || b.is_unspecified() {
        return true;
    }
    // An IPv6 socket that is not v6-only receives IPv4 datagrams as v4-mapped addresses.
    matches!((b, ip), (IpAddr::V6(b6), IpAddr::V4(v4)) if b6.to_ipv4_mapped() == Some(v4))
}

/// Decides what to do about the effective resolver configuration `effective`, given the UDP sockets that
/// listen in this network namespace and the upstream configuration (`None` when there is none).
pub fn decide(effective: &str, listeners: &[SocketAddr], upstream: Option<&str>) -> Decision {
    let Some(stubs) = nameservers(effective) else {
        return Decision::Keep;
    };
    if stubs.is_empty()
        || !stubs.iter().all(|ip| ip.is_loopback())
        || stubs
            .iter()
            .any(|ip| listeners.iter().any(|l| serves(l, *ip)))
    {
        return Decision::Keep;
    }
    let upstream: Vec<IpAddr> = upstream
        .and_then(nameservers)
        .unwrap_or_default()
        .into_iter()
        .filter(|ip| !ip.is_loopback())
        .collect();
    if upstream.is_empty() {
        return Decision::NoUpstream { stubs };
    }
    let text = rewrite(effective, &stubs, &upstream);
    Decision::Replace {
        stubs,
        upstream,
        text,
    }
}

/// `effective` with its nameserver lines replaced by `upstream`, where the first one was.
fn rewrite(effective: &str, stubs: &[IpAddr], upstream: &[IpAddr]) -> String {
    let stubs: Vec<String> = stubs.iter().map(IpAddr::to_string).collect();
    let mut out = format!(
        "# Written by minotaur netns exec: {} is not served in this network namespace,\n\
         # so this names the upstream servers from {UPSTREAM_RESOLV_CONF} instead.\n",
        stubs.join(", ")
    );
    let mut placed = false;
    for line in effective.lines() {
        if line.split_whitespace().next() == Some("nameserver") {
            if !placed {
                for ip in upstream {
                    out.push_str(&format!("nameserver {ip}\n"));
                }
                placed = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Reads the resolver state of the calling thread's network and mount namespaces and, when the effective
/// configuration names only unserved loopback stubs, binds a fixed copy over [`RESOLV_CONF`].
///
/// Must run in a private mount namespace (the bind and the scratch tmpfs must not reach the caller's).
/// `scratch` is a directory to mount a small tmpfs on while the copy is written; the tmpfs is detached
/// again once the copy is bound, so nothing remains but the (empty) directory. `netns` names the namespace
/// in log messages.
pub fn fix(netns: &str, scratch: &Path) -> Result<Decision, ResolvError> {
    let effective = match fs::read_to_string(RESOLV_CONF) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Decision::Keep),
        Err(e) => return Err(ResolvError::Read(RESOLV_CONF.into(), e)),
    };
    // /proc/thread-self/net is the calling thread's network namespace; /proc/self/net would be the
    // thread-group leader's (fs/proc/proc_net.c looks the namespace up through the PID the directory names).
    let mut listeners = Vec::new();
    for table in ["/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"] {
        match fs::read_to_string(table) {
            Ok(t) => listeners.extend(udp_listeners(&t)),
            // udp6 is absent when IPv6 is disabled.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ResolvError::Read(table.into(), e)),
        }
    }
    let upstream = fs::read_to_string(UPSTREAM_RESOLV_CONF).ok();
    let decision = decide(&effective, &listeners, upstream.as_deref());
    match &decision {
        Decision::Keep => {}
        Decision::NoUpstream { stubs } => log::warn!(
            "network namespace {netns}: {RESOLV_CONF} names {} but nothing serves it here, and {UPSTREAM_RESOLV_CONF} \
             names no upstream server: name resolution will likely fail",
            join(stubs)
        ),
        Decision::Replace {
            stubs,
            upstream,
            text,
        } => {
            bind_replacement(scratch, text)?;
            log::info!(
                "network namespace {netns}: {RESOLV_CONF} names {} but nothing serves it here; \
                 using its upstream {} from {UPSTREAM_RESOLV_CONF}",
                join(stubs),
                join(upstream)
            );
        }
    }
    Ok(decision)
}

fn join(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn bind_replacement(scratch: &Path, text: &str) -> Result<(), ResolvError> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(scratch)
    {
        Ok(()) => {}
        Err(e) => return Err(ResolvError::Scratch(scratch.to_owned(), e)),
    }
    mount(
        Some("tmpfs"),
        scratch,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )
    .map_err(|e| ResolvError::Mount(scratch.to_owned(), e))?;
    let file = scratch.join("resolv.conf");
    let result = (|| {
        fs::write(&file, text).map_err(|e| ResolvError::Write(file.clone(), e))?;
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644))
            .map_err(|e| ResolvError::Write(file.clone(), e))?;
        mount(
            Some(&file),
            RESOLV_CONF,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| ResolvError::Mount(PathBuf::from(RESOLV_CONF), e))
    })();
    // The bind keeps the tmpfs alive; the scratch mount point itself is not needed any more.
    let _ = umount2(scratch, MntFlags::MNT_DETACH);
    result
}

/// Why the resolver fix could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ResolvError {
    #[error("cannot read {0}")]
    Read(PathBuf, #[source] io::Error),
    #[error("cannot create scratch directory {0}")]
    Scratch(PathBuf, #[source] io::Error),
    #[error("cannot mount on {0}")]
    Mount(PathBuf, #[source] nix::errno::Errno),
    #[error("cannot write {0}")]
    Write(PathBuf, #[source] io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUB: &str = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n";
    const UPSTREAM: &str = "# resolved\nnameserver 203.0.113.53\nnameserver 127.0.0.1\nsearch .\n";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn udp_tables_parse_to_socket_addresses() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                  \x20 1: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0 0\n\
                  \x20 2: 0100007F:A000 0200007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 1 2 0 0\n";
        let got = udp_listeners(v4);
        if cfg!(target_endian = "little") {
            assert_eq!(got, vec![addr("127.0.0.53:53")]);
        }
        let v6 = "  sl  local_address                         remote_address                        st\n\
                  \x20 0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 0\n";
        if cfg!(target_endian = "little") {
            assert_eq!(udp_listeners(v6), vec![addr("[::1]:53")]);
        }
    }

    #[test]
    fn unserved_stub_is_replaced_by_upstream_keeping_other_lines() {
        let d = decide(STUB, &[], Some(UPSTREAM));
        let Decision::Replace {
            stubs,
            upstream,
            text,
        } = d
        else {
            panic!("expected a replacement, got {d:?}");
        };
        assert_eq!(stubs, vec!["127.0.0.53".parse::<IpAddr>().unwrap()]);
        assert_eq!(upstream, vec!["203.0.113.53".parse::<IpAddr>().unwrap()]);
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "nameserver 203.0.113.53",
                "options edns0 trust-ad",
                "search ."
            ]
        );
    }

    #[test]
    fn served_stub_is_kept() {
        for bound in [
            "127.0.0.53:53",
            "0.0.0.0:53",
            "[::]:53",
            "[::ffff:127.0.0.53]:53",
        ] {
            assert_eq!(
                decide(STUB, &[addr(bound)], Some(UPSTREAM)),
                Decision::Keep,
                "{bound}"
            );
        }
        // A socket on another port or another loopback address does not serve the stub.
        assert!(matches!(
            decide(
                STUB,
                &[addr("127.0.0.53:5353"), addr("127.0.0.1:53")],
                Some(UPSTREAM)
            ),
            Decision::Replace { .. }
        ));
    }

    #[test]
    fn configurations_naming_a_real_server_are_kept() {
        let mixed = "nameserver 127.0.0.53\nnameserver 192.0.2.1\n";
        assert_eq!(decide(mixed, &[], Some(UPSTREAM)), Decision::Keep);
        assert_eq!(decide("search x\n", &[], Some(UPSTREAM)), Decision::Keep);
        assert_eq!(
            decide("nameserver fe80::1%eth0\n", &[], Some(UPSTREAM)),
            Decision::Keep
        );
    }

    #[test]
    fn no_upstream_is_reported_not_invented() {
        let stubs = vec!["::1".parse::<IpAddr>().unwrap()];
        assert_eq!(
            decide("nameserver ::1\n", &[], None),
            Decision::NoUpstream {
                stubs: stubs.clone()
            }
        );
        assert_eq!(
            decide("nameserver ::1\n", &[], Some("nameserver 127.0.0.1\n")),
            Decision::NoUpstream { stubs }
        );
    }
}
