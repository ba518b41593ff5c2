//! Connections from the host itself to a published port on a loopback address go straight to the container.
//!
//! The DNAT of the `output` hook works for them, but the kernel then translates and re-routes every packet of
//! the flow (the socket was routed to `lo`), which costs about a tenth of the throughput of connecting to the
//! container's address. A cgroup `connect4` program changes the destination once, in `connect(2)`: a TCP
//! connection (or connected UDP socket) from the engine's network namespace to `127.0.0.0/8:PORT` of a port
//! in the map is made to the container's address instead, and never passes the NAT. Everything else
//! (another address, another namespace, `sendto` without `connect`) keeps the DNAT, which stays in place.
//!
//! The program and its map are pinned in a bpffs directory (`<runroot>/bpf`): the engine has no daemon, so
//! each command opens the pinned map. The program is attached to one cgroup v2 directory (by default the
//! root of the cgroup2 mount) and applies to every process below it; it checks the network namespace, so
//! processes of other namespaces are not affected. Once made, the program stays attached (with an empty map
//! when nothing is published), as the table stays, until reboot. IPv4 only (`::1` is never DNATed, see the
//! crate docs).
//!
//! Unlike the DNAT, the connected socket's peer (`getpeername`) is the container's address and port.

use std::ffi::CString;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use minotaur_sys::bpf;
use nix::errno::Errno;

use crate::batch::Proto;
use crate::rules::PortRule;

/// The pinned map of published loopback ports, and the program that reads it.
const MAP: &str = "connect4-ports";
const PROG: &str = "connect4";
const MAX_PORTS: u32 = 65536;
const KEY_SIZE: usize = 16;
const VALUE_SIZE: usize = 8;

/// Errors of the connect redirect.
#[derive(Debug, thiserror::Error)]
pub enum RedirectError {
    #[error("cannot {what}")]
    Sys {
        what: String,
        #[source]
        source: Errno,
    },
    #[error("the kernel refused the connect4 program ({source}): {log}")]
    Verifier { source: Errno, log: String },
}

fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> RedirectError {
    let what = what.into();
    move |source| RedirectError::Sys { what, source }
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("paths have no NUL byte")
}

/// The pinned map of a redirect, with the network namespace its keys are for.
pub struct ConnectRedirect {
    map: OwnedFd,
    cookie: u64,
}

impl ConnectRedirect {
    /// Opens the redirect pinned in `dir` (a bpffs directory); `None` when none is pinned there.
    pub fn open(dir: &Path) -> Result<Option<ConnectRedirect>, RedirectError> {
        match bpf::obj_get(&cpath(&dir.join(MAP))) {
            Ok(map) => Ok(Some(ConnectRedirect {
                map,
                cookie: bpf::netns_cookie().map_err(sys("read the network namespace cookie"))?,
            })),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(sys(format!("open {}", dir.join(MAP).display()))(e)),
        }
    }

    /// Makes the map and the program, attaches the program to the cgroup v2 directory `cgroup`, and pins
    /// both in `dir`. The caller serialises makers (a lock), and calls this only when [`open`] found none.
    ///
    /// [`open`]: ConnectRedirect::open
    pub fn make(dir: &Path, cgroup: &Path) -> Result<ConnectRedirect, RedirectError> {
        let map = bpf::map_create_hash(KEY_SIZE as u32, VALUE_SIZE as u32, MAX_PORTS)
            .map_err(sys("create the connect4 port map"))?;
        let insns = program(map.as_raw_fd());
        let prog = bpf::prog_load(
            bpf::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            bpf::BPF_CGROUP_INET4_CONNECT,
            &insns,
            c"GPL",
            "minotaur_conn4",
        )
        .map_err(|(source, log)| RedirectError::Verifier {
            source,
            log: log.lines().rev().take(3).collect::<Vec<_>>().join(" / "),
        })?;
        let cg = fs::File::open(cgroup)
            .map_err(|e| sys(format!("open {}", cgroup.display()))(io_errno(&e)))?;
        let (map_pin, prog_pin) = (dir.join(MAP), dir.join(PROG));
        // Pinned before it is attached: a pinned, unattached program does nothing, while an attached one
        // nobody can find could not be detached.
        bpf::obj_pin(&prog, &cpath(&prog_pin))
            .map_err(sys(format!("pin {}", prog_pin.display())))?;
        let attached = bpf::prog_attach(
            &cg,
            &prog,
            bpf::BPF_CGROUP_INET4_CONNECT,
            bpf::BPF_F_ALLOW_MULTI,
        )
        .map_err(sys(format!("attach connect4 to {}", cgroup.display())))
        .and_then(|()| {
            bpf::obj_pin(&map, &cpath(&map_pin)).map_err(sys(format!("pin {}", map_pin.display())))
        });
        if let Err(e) = attached {
            let _ = bpf::prog_detach(&cg, &prog, bpf::BPF_CGROUP_INET4_CONNECT);
            let _ = fs::remove_file(&prog_pin);
            return Err(e);
        }
        Ok(ConnectRedirect {
            map,
            cookie: bpf::netns_cookie().map_err(sys("read the network namespace cookie"))?,
        })
    }

    /// Adds the loopback keys of `ports` (ports of other host addresses or of IPv6 are not redirected).
    pub fn add(&self, ports: &[PortRule]) -> Result<(), RedirectError> {
        for (key, value) in ports.iter().filter_map(|p| self.entry(p)) {
            bpf::map_update(&self.map, &key, &value)
                .map_err(sys("add to the connect4 port map"))?;
        }
        Ok(())
    }

    /// Removes the keys of `ports` that still lead to the container they name (a key published again towards
    /// another container in the meantime is left alone, as the DNAT map does).
    pub fn remove_ports(&self, ports: &[PortRule]) -> Result<(), RedirectError> {
        for (key, value) in ports.iter().filter_map(|p| self.entry(p)) {
            match bpf::map_lookup(&self.map, &key, VALUE_SIZE) {
                Ok(v) if v == value => match bpf::map_delete(&self.map, &key) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(e) => return Err(sys("remove from the connect4 port map")(e)),
                },
                Ok(_) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(sys("read the connect4 port map")(e)),
            }
        }
        Ok(())
    }

    /// Makes the map hold exactly the keys of `ports` (`network reload`).
    pub fn sync(&self, ports: &[PortRule]) -> Result<(), RedirectError> {
        let wanted: Vec<[u8; KEY_SIZE]> = ports
            .iter()
            .filter_map(|p| self.entry(p))
            .map(|(k, _)| k)
            .collect();
        for key in bpf::map_keys(&self.map, KEY_SIZE).map_err(sys("list the connect4 port map"))? {
            if !wanted.iter().any(|w| w[..] == key[..]) {
                let _ = bpf::map_delete(&self.map, &key);
            }
        }
        self.add(ports)
    }

    /// Every element of the map, read back (`system check` compares them with the store's ports).
    pub fn elements(&self) -> Result<Vec<RedirectElement>, RedirectError> {
        let mut out = Vec::new();
        for key in bpf::map_keys(&self.map, KEY_SIZE).map_err(sys("list the connect4 port map"))? {
            match bpf::map_lookup(&self.map, &key, VALUE_SIZE) {
                Ok(value) => out.extend(RedirectElement::decode(&key, &value, self.cookie)),
                // Removed since it was listed.
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(sys("read the connect4 port map")(e)),
            }
        }
        Ok(out)
    }

    /// The elements that `ports` make (those of them the program redirects), as [`Self::sync`] would
    /// write them.
    pub fn elements_of(&self, ports: &[PortRule]) -> Vec<RedirectElement> {
        ports
            .iter()
            .filter_map(|p| self.entry(p))
            .filter_map(|(k, v)| RedirectElement::decode(&k, &v, self.cookie))
            .collect()
    }

    /// The map element of a published port, if it is one the program redirects: an IPv4 container, published
    /// on every address (key address 0) or on a loopback address.
    fn entry(&self, p: &PortRule) -> Option<([u8; KEY_SIZE], [u8; VALUE_SIZE])> {
        let IpAddr::V4(to) = p.container_ip else {
            return None;
        };
        let on = match p.bound_ip() {
            None => Ipv4Addr::UNSPECIFIED,
            Some(IpAddr::V4(ip)) if ip.is_loopback() => ip,
            Some(_) => return None,
        };
        let mut key = [0u8; KEY_SIZE];
        key[..8].copy_from_slice(&self.cookie.to_ne_bytes());
        key[8..12].copy_from_slice(&on.octets());
        key[12..14].copy_from_slice(&p.host_port.to_be_bytes());
        key[14] = match p.proto {
            Proto::Tcp => libc::IPPROTO_TCP as u8,
            Proto::Udp => libc::IPPROTO_UDP as u8,
        };
        let mut value = [0u8; VALUE_SIZE];
        value[..4].copy_from_slice(&to.octets());
        value[4..6].copy_from_slice(&p.container_port.to_be_bytes());
        Some((key, value))
    }
}

/// One element of the connect4 map: a connection over `proto` to `host_ip:host_port` (`0.0.0.0`: any
/// loopback address) goes to `container_ip:container_port` instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RedirectElement {
    pub proto: Proto,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    /// Whether the key is for the network namespace this process runs in (the one the engine publishes
    /// ports in); a key of another one is never written by this engine's commands.
    pub this_namespace: bool,
}

impl RedirectElement {
    /// The element a key and value of the map hold; `None` for a key of a protocol the program does not
    /// redirect, or of the wrong size.
    fn decode(key: &[u8], value: &[u8], cookie: u64) -> Option<RedirectElement> {
        let key: &[u8; KEY_SIZE] = key.try_into().ok()?;
        let value: &[u8; VALUE_SIZE] = value.try_into().ok()?;
        let proto = match i32::from(key[14]) {
            libc::IPPROTO_TCP => Proto::Tcp,
            libc::IPPROTO_UDP => Proto::Udp,
            _ => return None,
        };
        let ip = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
        Some(RedirectElement {
            proto,
            host_ip: ip(&key[8..12]),
            host_port: u16::from_be_bytes([key[12], key[13]]),
            container_ip: ip(&value[..4]),
            container_port: u16::from_be_bytes([value[4], value[5]]),
            this_namespace: key[..8] == cookie.to_ne_bytes(),
        })
    }
}

impl std::fmt::Display for RedirectElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}:{} -> {}:{}",
            self.proto, self.host_ip, self.host_port, self.container_ip, self.container_port
        )?;
        if !self.this_namespace {
            f.write_str(" (of another network namespace)")?;
        }
        Ok(())
    }
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Where the pins go: `<runroot>/bpf`, which must be a bpffs mount.
pub fn pin_dir(runroot: &Path) -> PathBuf {
    runroot.join("bpf")
}

// eBPF instruction encoding (linux/bpf_common.h, linux/bpf.h): opcode, dst and src registers, offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    code as u64
        | ((src as u64) << 12)
        | ((dst as u64) << 8)
        | ((off as u16 as u64) << 16)
        | ((imm as u32 as u64) << 32)
}

/// The connect4 program over the map `map`. In C:
///
/// ```c
/// if ((ctx->user_ip4 & 0xff) != 127) return 1;            // 127.0.0.0/8 (network byte order)
/// struct key k = { bpf_get_netns_cookie(ctx), ctx->user_ip4, ctx->user_port, ctx->protocol, 0 };
/// struct value *v = bpf_map_lookup_elem(&map, &k);
/// if (!v) { k.ip = 0; v = bpf_map_lookup_elem(&map, &k); }   // published on every address
/// if (v) { ctx->user_ip4 = v->ip; ctx->user_port = v->port; }
/// return 1;                                                  // allow the connect
/// ```
///
/// The key is on the stack at r10-16: cookie (8 bytes), address (4), port (2, network order), protocol (1),
/// zero (1). `bpf_sock_addr` offsets: user_ip4 4, user_port 24, protocol 36.
fn program(map: i32) -> Vec<u64> {
    const MOV_X: u8 = 0xbf; // r_dst = r_src
    const MOV_K: u8 = 0xb7; // r_dst = imm
    const AND_K: u8 = 0x57;
    const ADD_K: u8 = 0x07;
    const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
    const STX_W: u8 = 0x63; // *(u32 *)(r_dst + off) = r_src
    const STX_H: u8 = 0x6b;
    const STX_B: u8 = 0x73;
    const STX_DW: u8 = 0x7b;
    const ST_W: u8 = 0x62; // *(u32 *)(r_dst + off) = imm
    const ST_B: u8 = 0x72;
    const JNE_K: u8 = 0x55;
    const JEQ_K: u8 = 0x15;
    const CALL: u8 = 0x85;
    const EXIT: u8 = 0x95;
    const LD_DW: u8 = 0x18; // with src 1 (BPF_PSEUDO_MAP_FD): r_dst = the map of fd imm
    const GET_NETNS_COOKIE: i32 = 122;
    const MAP_LOOKUP_ELEM: i32 = 1;
    let lookup = [
        insn(LD_DW, 1, 1, 0, map),
        insn(0, 0, 0, 0, 0),
        insn(MOV_X, 2, 10, 0, 0),
        insn(ADD_K, 2, 0, 0, -16),
        insn(CALL, 0, 0, 0, MAP_LOOKUP_ELEM),
    ];
    let mut p = vec![
        insn(MOV_X, 6, 1, 0, 0),               // 0: r6 = ctx
        insn(LDX_W, 7, 6, 4, 0),               // 1: r7 = user_ip4
        insn(MOV_X, 2, 7, 0, 0),               // 2
        insn(AND_K, 2, 0, 0, 0xff),            // 3
        insn(JNE_K, 2, 0, 26, 127),            // 4: not 127/8: to 31
        insn(MOV_X, 1, 6, 0, 0),               // 5
        insn(CALL, 0, 0, 0, GET_NETNS_COOKIE), // 6
        insn(STX_DW, 10, 0, -16, 0),           // 7
        insn(STX_W, 10, 7, -8, 0),             // 8
        insn(LDX_W, 2, 6, 24, 0),              // 9: user_port
        insn(STX_H, 10, 2, -4, 0),             // 10
        insn(LDX_W, 2, 6, 36, 0),              // 11: protocol
        insn(STX_B, 10, 2, -2, 0),             // 12
        insn(ST_B, 10, 0, -1, 0),              // 13
    ];
    p.extend(lookup); // 14-18
    p.push(insn(JNE_K, 0, 0, 7, 0)); // 19: found: to 27
    p.push(insn(ST_W, 10, 0, -8, 0)); // 20: every address
    p.extend(lookup); // 21-25
    p.push(insn(JEQ_K, 0, 0, 4, 0)); // 26: not found: to 31
    p.extend([
        insn(LDX_W, 2, 0, 0, 0),  // 27
        insn(STX_W, 6, 2, 4, 0),  // 28: user_ip4
        insn(LDX_W, 2, 0, 4, 0),  // 29
        insn(STX_W, 6, 2, 24, 0), // 30: user_port
        insn(MOV_K, 0, 0, 0, 1),  // 31
        insn(EXIT, 0, 0, 0, 0),   // 32
    ]);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_elements_read_back_as_published_ports() {
        let cookie = 0x1234_5678_9abc_def0_u64;
        let mut key = [0u8; KEY_SIZE];
        key[..8].copy_from_slice(&cookie.to_ne_bytes());
        key[8..12].copy_from_slice(&[127, 0, 0, 1]);
        key[12..14].copy_from_slice(&8080u16.to_be_bytes());
        key[14] = libc::IPPROTO_UDP as u8;
        let value = [10, 88, 0, 2, 0, 80, 0, 0];
        let e = RedirectElement::decode(&key, &value, cookie).unwrap();
        assert_eq!(e.to_string(), "udp 127.0.0.1:8080 -> 10.88.0.2:80");
        let other = RedirectElement::decode(&key, &value, cookie + 1).unwrap();
        assert_eq!(
            other.to_string(),
            "udp 127.0.0.1:8080 -> 10.88.0.2:80 (of another network namespace)"
        );
        assert_ne!(e, other);
        key[14] = 1;
        assert_eq!(RedirectElement::decode(&key, &value, cookie), None);
        assert_eq!(RedirectElement::decode(&key[..15], &value, cookie), None);
    }

    #[test]
    fn jumps_land_where_the_comments_say() {
        let p = program(3);
        assert_eq!(p.len(), 33);
        let target = |at: usize| at as i64 + 1 + ((p[at] >> 16) as u16 as i16) as i64;
        assert_eq!(target(4), 31);
        assert_eq!(target(19), 27);
        assert_eq!(target(26), 31);
        assert_eq!(p[31] & 0xff, 0xb7);
        assert_eq!(p[14] >> 32, 3, "the map's descriptor");
        assert_eq!((p[14] >> 12) & 0xf, 1, "BPF_PSEUDO_MAP_FD");
    }
}
