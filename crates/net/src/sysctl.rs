//! Kernel parameters under /proc/sys, in a given network namespace.
//!
//! The files below /proc/sys/net belong to the network namespace of the thread that *opens* them (the
//! kernel looks the table up in `current`'s namespace at open time; the mount of /proc does not matter).
//! So [`set_in`] switches a short-lived thread into the target namespace and opens the file there; the
//! caller's threads never change namespace.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A sysctl that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    #[error("invalid sysctl name {0:?}")]
    InvalidKey(String),
    #[error("cannot read sysctl {key}")]
    Read {
        key: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot set sysctl {key} to {value}")]
    Write {
        key: String,
        value: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
}

/// The file of `key`: dots become slashes (`net.ipv4.ip_forward`), unless the key already uses slashes
/// (sysctl(8)'s form for names with dots in them, such as `net/ipv4/conf/eth0.5/forwarding`).
fn path_of(key: &str) -> Result<PathBuf, SysctlError> {
    let rel = if key.contains('/') {
        key.to_owned()
    } else {
        key.replace('.', "/")
    };
    let valid = !rel.is_empty()
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if !valid {
        return Err(SysctlError::InvalidKey(key.to_owned()));
    }
    Ok(Path::new("/proc/sys").join(rel))
}

/// Writes `value` to the sysctl `key` (e.g. `net.ipv4.ip_forward` = `1`) in the caller's network namespace.
/// Nothing is written when it already holds the value (a write can have side effects, and may be refused
/// where reading is allowed).
pub fn set(key: &str, value: &str) -> Result<(), SysctlError> {
    let path = path_of(key)?;
    let current = fs::read_to_string(&path).map_err(|source| SysctlError::Read {
        key: key.to_owned(),
        source,
    })?;
    if current.trim() == value.trim() {
        return Ok(());
    }
    File::options()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| SysctlError::Write {
            key: key.to_owned(),
            value: value.to_owned(),
            source,
        })
}

/// Switches IPv6 off on link `ifname` of the caller's network namespace (`disable_ipv6`; set it before the
/// link comes up, and the link never gets a link-local address, routes or multicast memberships). Nothing to
/// do when the kernel has no IPv6 (booted with `ipv6.disable=1`: no /proc/sys/net/ipv6).
pub fn disable_ipv6(ifname: &str) -> Result<(), SysctlError> {
    if !Path::new("/proc/sys/net/ipv6").exists() {
        return Ok(());
    }
    set(&format!("net/ipv6/conf/{ifname}/disable_ipv6"), "1")
}

/// Like [`set`], inside the network namespace of the nsfs file `netns` (e.g. a bind-mounted /run/netns/x).
/// Done on a short-lived thread that setns()es there, since /proc/sys/net follows the opening thread's
/// network namespace.
pub fn set_in(netns: &Path, key: &str, value: &str) -> Result<(), SysctlError> {
    crate::netns::in_netns(netns, || set(key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths() {
        assert_eq!(
            path_of("net.ipv4.ip_forward").unwrap(),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            path_of("net/ipv4/conf/eth0.5/forwarding").unwrap(),
            Path::new("/proc/sys/net/ipv4/conf/eth0.5/forwarding")
        );
        for bad in [
            "",
            "net..ipv4",
            "net/../../etc/passwd",
            "/net/ipv4",
            "net.ipv4.",
        ] {
            assert!(
                matches!(path_of(bad), Err(SysctlError::InvalidKey(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_value_already_there_is_not_written() {
        // kernel.ostype is read-only (0444) for everyone: only a write can fail, and nothing can change.
        let current = fs::read_to_string("/proc/sys/kernel/ostype").unwrap();
        set("kernel.ostype", current.trim()).unwrap();
        let e = set("kernel.ostype", "Minix").unwrap_err();
        assert!(matches!(e, SysctlError::Write { .. }), "{e:?}");
        assert_eq!(e.to_string(), "cannot set sysctl kernel.ostype to Minix");
    }

    #[test]
    fn read_error_names_the_key() {
        let e = set("net.minotaur.no_such_key", "1").unwrap_err();
        assert_eq!(e.to_string(), "cannot read sysctl net.minotaur.no_such_key");
    }
}
