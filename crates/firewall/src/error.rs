//! The firewall's errors, and what libnftables said when it refused a batch.

use std::fmt;
use std::net::IpAddr;

use minotaur_sys::NftLoadError;

use crate::batch::Proto;

/// Errors of the firewall.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error(transparent)]
    Load(#[from] NftLoadError),
    #[error("cannot {action} (nftables table inet minotaur)")]
    Apply {
        action: String,
        #[source]
        source: NftError,
    },
    #[error("{} port {} is already published", .proto, endpoint(*.host_ip, *.host_port))]
    PortInUse {
        proto: Proto,
        host_ip: Option<IpAddr>,
        host_port: u16,
    },
    #[error("nftables table inet minotaur does not exist (no network has been set up, or it was flushed)")]
    TableMissing,
    #[error("invalid bridge name {name:?}: {reason}")]
    InvalidBridge { name: String, reason: &'static str },
    #[error("cannot publish {port}: {reason}")]
    InvalidPort { port: String, reason: &'static str },
    #[error("invalid cluster IP port {port}: {reason}")]
    InvalidServicePort { port: String, reason: &'static str },
}

fn endpoint(ip: Option<IpAddr>, port: u16) -> String {
    let mut s = String::new();
    let _ = write_endpoint(&mut s, ip, port);
    s
}

/// `ADDR:PORT`, `[ADDR6]:PORT`, or `*:PORT` for every address.
pub(crate) fn write_endpoint(
    f: &mut impl fmt::Write,
    ip: Option<IpAddr>,
    port: u16,
) -> fmt::Result {
    match ip {
        None => write!(f, "*:{port}"),
        Some(IpAddr::V4(a)) => write!(f, "{a}:{port}"),
        Some(IpAddr::V6(a)) => write!(f, "[{a}]:{port}"),
    }
}

/// What libnftables said when it refused a batch: its error lines, without the caret lines that underline
/// the refused command.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NftError(String);

impl NftError {
    pub(crate) fn new(raw: &str) -> NftError {
        let mut parts = Vec::new();
        let mut lines = raw.lines().peekable();
        while let Some(line) = lines.next() {
            let Some((_, message)) = line.split_once("Error: ") else {
                continue;
            };
            // The next line is the refused command; the one after it underlines the culprit.
            match lines.peek() {
                Some(cmd) if !cmd.contains("Error: ") => {
                    parts.push(format!("{message} (in `{}`)", cmd.trim()))
                }
                _ => parts.push(message.to_owned()),
            }
        }
        if parts.is_empty() {
            NftError(raw.trim().to_owned())
        } else {
            NftError(parts.join("; "))
        }
    }

    pub(crate) fn is_exists(&self) -> bool {
        self.0.contains("File exists")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_errors_keep_the_message_and_the_refused_command() {
        let raw = "<cmdline>:2:39-48: Error: Could not process rule: File exists\n\
                   create element inet minotaur ports4 { tcp . 8080 : 10.88.0.9 . 80 }\n\
                   \x20                                     ^^^^^^^^^^\n";
        let e = NftError::new(raw);
        assert_eq!(
            e.to_string(),
            "Could not process rule: File exists \
             (in `create element inet minotaur ports4 { tcp . 8080 : 10.88.0.9 . 80 }`)"
        );
        assert!(e.is_exists());
        assert_eq!(NftError::new("  odd output\n").to_string(), "odd output");
    }

    #[test]
    fn a_missing_library_says_so() {
        let e = FirewallError::from(NftLoadError::Library {
            detail: "libnftables.so.1: cannot open shared object file".into(),
        });
        assert!(e
            .to_string()
            .starts_with("cannot load libnftables.so.1 (is nftables installed?)"));
    }
}
