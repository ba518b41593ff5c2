//! The `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` each container gets, written into its directory
//! and bound over the image's.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use minotaur_ns::netns::resolv;

use crate::container::HostConfig;
use crate::ids::ContainerId;
use crate::paths::Paths;
use crate::restart::RestartPolicy;
use crate::spec::EtcFiles;

/// Where container `id`'s files lie: in its run directory when `run --rm` made it (see
/// [`in_run_dir`]), in its directory under the state root otherwise. One `stat` of a tmpfs tells.
pub fn dir(paths: &Paths, id: &ContainerId) -> PathBuf {
    let run = paths.run_dir(id);
    if run.join("hosts").exists() {
        run
    } else {
        paths.container_dir(id)
    }
}

/// Whether a new container's files go into its run directory (a tmpfs, where podman keeps every
/// container's) rather than under the state root: for a container `run` makes that is removed when it
/// exits and never restarted (`--rm`, no restart policy), which cannot outlive the boot that empties the
/// run directory. Three new files on this machine's root file system (ext4 mounted `discard`) were 0.6 ms
/// of a start; a tmpfs makes them in some µs. A container that can be stopped and started again keeps
/// them under the state root, which a reboot leaves. (The runtime binds them from under the run root,
/// which it makes unbindable in the container's mount namespace: see its `Plan::hide`.)
pub fn in_run_dir(host: &HostConfig, made_by_run: bool) -> bool {
    made_by_run && host.auto_remove && host.restart_policy == RestartPolicy::No
}

/// `/etc/hosts` for a container: localhost, the container's own name, and `--add-host` entries.
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

/// What a container's `/etc` files say beyond the host's defaults.
#[derive(Clone, Debug, Default)]
pub struct EtcSpec<'a> {
    pub hostname: &'a str,
    /// `--network host` (or joined to a container that has it): the host's files.
    pub host_network: bool,
    /// The container's own addresses, for its name in `/etc/hosts`.
    pub addresses: Vec<IpAddr>,
    /// `--add-host` entries.
    pub extra_hosts: &'a [(String, IpAddr)],
    /// Name servers: `--dns`, else the network's resolver; empty: the host's.
    pub nameservers: Vec<IpAddr>,
    /// `--dns-search` and `--dns-option`; empty: the host's.
    pub search: &'a [String],
    pub options: &'a [String],
}

/// `/etc/resolv.conf` with `nameservers` instead of the host's, and `search`/`options` lines replaced
/// where given.
pub fn resolv_conf_with(
    host: &str,
    nameservers: &[IpAddr],
    search: &[String],
    options: &[String],
) -> String {
    let mut out = String::new();
    for ns in nameservers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    for line in host.lines() {
        match line.split_whitespace().next() {
            Some("nameserver") if !nameservers.is_empty() => {}
            Some("search" | "domain") if !search.is_empty() => {}
            Some("options") if !options.is_empty() => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
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
pub fn write(dir: &Path, spec: &EtcSpec<'_>) -> io::Result<EtcFiles> {
    let files = EtcFiles::in_dir(dir);
    fs::write(&files.hostname, format!("{}\n", spec.hostname))?;
    let mut hosts_text = if spec.host_network {
        fs::read_to_string("/etc/hosts").unwrap_or_else(|_| hosts(spec.hostname, &[]))
    } else {
        let own: Vec<String> = spec.addresses.iter().map(|a| a.to_string()).collect();
        hosts(spec.hostname, &own)
    };
    for (name, ip) in spec.extra_hosts {
        hosts_text.push_str(&format!("{ip}\t{name}\n"));
    }
    fs::write(&files.hosts, hosts_text)?;
    let host_resolv = fs::read_to_string(resolv::RESOLV_CONF).unwrap_or_default();
    let upstream = fs::read_to_string(resolv::UPSTREAM_RESOLV_CONF).ok();
    let text = if spec.host_network {
        host_resolv
    } else {
        let base = resolv_conf(&host_resolv, upstream.as_deref());
        if spec.nameservers.is_empty() && spec.search.is_empty() && spec.options.is_empty() {
            base
        } else {
            resolv_conf_with(&base, &spec.nameservers, spec.search, spec.options)
        }
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
    fn resolvers_and_search_replace_the_hosts() {
        let host = "nameserver 192.0.2.1\nsearch example.test\noptions ndots:1\n";
        let out = resolv_conf_with(
            host,
            &["10.88.0.1".parse().unwrap()],
            &[],
            &["ndots:2".into()],
        );
        assert_eq!(
            out,
            "nameserver 10.88.0.1\nsearch example.test\noptions ndots:2\n"
        );
    }

    #[test]
    fn hosts_name_the_container() {
        let h = hosts("web", &["10.88.0.2".into()]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.ends_with("10.88.0.2\tweb\n"));
    }
}
