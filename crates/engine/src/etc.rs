//! The `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` each container gets, written into its directory
//! and bound over the image's.

use std::fs;
use std::io;
use std::path::Path;

use minotaur_ns::netns::resolv;

use crate::spec::EtcFiles;

/// `/etc/hosts` for a container: localhost, and the container's own name.
pub fn hosts(hostname: &str, own_addresses: &[String]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for a in own_addresses {
        s.push_str(&format!("{a}\t{hostname}\n"));
    }
    s
}

/// `/etc/resolv.conf` for a container that uses the host's resolvers: the host's file, except that a
/// loopback stub (systemd-resolved's 127.0.0.53), which nothing serves inside the container's network
/// namespace, is replaced by the stub's real upstream servers, as Docker does.
pub fn resolv_conf(host: &str, upstream: Option<&str>) -> String {
    match resolv::decide(host, &[], upstream) {
        resolv::Decision::Replace { upstream, .. } => {
            let mut out = String::new();
            let mut placed = false;
            for line in host.lines() {
                if line.split_whitespace().next() == Some("nameserver") {
                    if !placed {
                        for ip in &upstream {
                            out.push_str(&format!("nameserver {ip}\n"));
                        }
                        placed = true;
                    }
                } else {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out
        }
        _ => host.to_owned(),
    }
}

/// Writes the three files into `dir` and says where they are.
pub fn write(dir: &Path, hostname: &str, host_network: bool) -> io::Result<EtcFiles> {
    let files = EtcFiles::in_dir(dir);
    fs::write(&files.hostname, format!("{hostname}\n"))?;
    let hosts_text = if host_network {
        fs::read_to_string("/etc/hosts").unwrap_or_else(|_| hosts(hostname, &[]))
    } else {
        hosts(hostname, &[])
    };
    fs::write(&files.hosts, hosts_text)?;
    let host_resolv = fs::read_to_string(resolv::RESOLV_CONF).unwrap_or_default();
    let upstream = fs::read_to_string(resolv::UPSTREAM_RESOLV_CONF).ok();
    let text = if host_network {
        host_resolv
    } else {
        resolv_conf(&host_resolv, upstream.as_deref())
    };
    fs::write(&files.resolv_conf, text)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stub_is_replaced_by_its_upstream() {
        let host = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n";
        let up = "nameserver 203.0.113.53\n";
        assert_eq!(
            resolv_conf(host, Some(up)),
            "nameserver 203.0.113.53\noptions edns0 trust-ad\nsearch .\n"
        );
        assert_eq!(
            resolv_conf("nameserver 192.0.2.1\n", Some(up)),
            "nameserver 192.0.2.1\n"
        );
    }

    #[test]
    fn hosts_name_the_container() {
        let h = hosts("web", &["10.88.0.2".into()]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.ends_with("10.88.0.2\tweb\n"));
    }
}
