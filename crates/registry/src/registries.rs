//! Where a repository is served from: `registries.conf` (version 2, containers-registries.conf(5)) and
//! Docker Hub's API host.
//!
//! ```toml
//! [[registry]]
//! prefix = "docker.io/library"       # what references are matched against (default: location)
//! location = "registry.internal:5000/hub"   # where they are served from instead
//! insecure = false                   # allow plain HTTP
//! blocked = false                    # refuse to pull or push
//! [[registry.mirror]]                # tried in order, before the location, for pulls
//! location = "mirror.internal:5000/hub"
//! insecure = true
//! ```
//!
//! The entry with the longest matching prefix applies; a prefix matches a whole name or its leading path
//! components (`example.com/foo` matches `example.com/foo/bar`, not `example.com/foobar`), and `*.example.com`
//! matches any registry under that domain. The file read is `/etc/minotaur/registries.conf` if it exists,
//! otherwise `/etc/containers/registries.conf`; drop-in directories and `unqualified-search-registries`
//! are not read (short names always mean Docker Hub, as with Docker).
//!
//! Registries on loopback addresses (`localhost`, `127.0.0.0/8`, `::1`) may use plain HTTP, as Docker
//! allows.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::reference::{Repository, DEFAULT_DOMAIN};

/// Docker Hub's API host.
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
/// The registries.conf files read by default, the first that exists winning.
pub const DEFAULT_REGISTRIES_CONF: [&str; 2] = [
    "/etc/minotaur/registries.conf",
    "/etc/containers/registries.conf",
];

/// Why registries.conf could not be used, or forbids a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistriesError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TOML parser's own message, without the excerpt of the file it draws under it over several
    /// lines, and with any control character of the file's text escaped: an error is one line.
    #[error("bad registries.conf {path}: line {line}: {why}")]
    Parse {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("bad registries.conf entry {prefix:?}: {why}")]
    Entry { prefix: String, why: &'static str },
    #[error("registry {0} is blocked in registries.conf")]
    Blocked(String),
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct File {
    #[serde(default)]
    registry: Vec<Entry>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct Entry {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror: Vec<Mirror>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
struct Mirror {
    location: String,
    #[serde(default)]
    insecure: bool,
}

/// The parsed `registries.conf`; empty (no rewrites, nothing blocked) by default.
#[derive(Debug, Clone, Default)]
pub struct RegistriesConf {
    entries: Vec<Entry>,
}

/// One place to talk to about a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The registry's name as references and config.json spell it (`docker.io`): credentials are found by it.
    pub registry: String,
    /// The host (and port) its API is served from (`registry-1.docker.io`).
    pub host: String,
    /// The repository's path there.
    pub path: String,
    /// Plain HTTP is allowed.
    pub insecure: bool,
    /// A mirror: pulls only, and a failure moves on to the next endpoint.
    pub mirror: bool,
}

impl RegistriesConf {
    /// Reads the first of [`DEFAULT_REGISTRIES_CONF`] that exists; none is an empty configuration.
    pub fn load_default() -> Result<Self, RegistriesError> {
        Self::load_first(&DEFAULT_REGISTRIES_CONF)
    }

    /// Reads the first of `paths` that exists; none is an empty configuration.
    pub fn load_first(paths: &[impl AsRef<Path>]) -> Result<Self, RegistriesError> {
        for path in paths {
            let path = path.as_ref();
            match std::fs::read_to_string(path) {
                Ok(text) => return Self::parse(&text, path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(RegistriesError::Read {
                        path: path.into(),
                        source,
                    })
                }
            }
        }
        Ok(Self::default())
    }

    /// Parses the text of a registries.conf read from `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, RegistriesError> {
        let file: File = toml::from_str(text).map_err(|e| RegistriesError::Parse {
            path: path.into(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            why: one_line(e.message()),
        })?;
        let mut entries = Vec::with_capacity(file.registry.len());
        for mut entry in file.registry {
            if entry.prefix.is_empty() {
                entry.prefix = entry.location.clone();
            }
            let prefix = entry.prefix.clone();
            let bad = |why| RegistriesError::Entry {
                prefix: prefix.clone(),
                why,
            };
            if entry.prefix.is_empty() {
                return Err(bad("it has neither prefix nor location"));
            }
            if entry.prefix.starts_with("*.") && !entry.location.is_empty() {
                return Err(bad("a wildcard prefix cannot have a location"));
            }
            if entry.prefix.contains(['@', ' ']) || entry.prefix.ends_with('/') {
                return Err(bad("a prefix is a registry, namespace or repository name"));
            }
            if entry.mirror.iter().any(|m| m.location.is_empty()) {
                return Err(bad("a mirror has no location"));
            }
            entries.push(entry);
        }
        Ok(Self { entries })
    }

    fn entry_for(&self, repo: &Repository) -> Option<&Entry> {
        let name = repo.to_string();
        self.entries
            .iter()
            .filter(|e| match e.prefix.strip_prefix('*') {
                Some(suffix) => repo.domain().ends_with(suffix),
                None => {
                    name == e.prefix
                        || (name.starts_with(&e.prefix) && name[e.prefix.len()..].starts_with('/'))
                }
            })
            .max_by_key(|e| e.prefix.len())
    }

    /// Where to pull `repo` from, in order: its mirrors, then its location.
    pub(crate) fn pull_endpoints(
        &self,
        repo: &Repository,
    ) -> Result<Vec<Endpoint>, RegistriesError> {
        let Some(entry) = self.entry_for(repo) else {
            return Ok(vec![origin(repo, false)]);
        };
        if entry.blocked {
            return Err(RegistriesError::Blocked(repo.domain().to_string()));
        }
        let mut endpoints = Vec::with_capacity(entry.mirror.len() + 1);
        for m in &entry.mirror {
            let mut e = rewrite(entry, &m.location, repo)?;
            e.insecure |= m.insecure;
            e.mirror = true;
            endpoints.push(e);
        }
        endpoints.push(self.push_endpoint(repo)?);
        Ok(endpoints)
    }

    /// Where to push `repo` (and ask about its blobs and tags): its location, never a mirror.
    pub(crate) fn push_endpoint(&self, repo: &Repository) -> Result<Endpoint, RegistriesError> {
        let Some(entry) = self.entry_for(repo) else {
            return Ok(origin(repo, false));
        };
        if entry.blocked {
            return Err(RegistriesError::Blocked(repo.domain().to_string()));
        }
        let mut e = if entry.location.is_empty() {
            origin(repo, false)
        } else {
            rewrite(entry, &entry.location, repo)?
        };
        e.insecure |= entry.insecure;
        Ok(e)
    }

    /// The API endpoint of a registry by its name (`docker.io`, `localhost:5000`), as `login` needs it.
    pub(crate) fn registry_endpoint(&self, registry: &str) -> Result<Endpoint, RegistriesError> {
        // Any repository on that registry tells whether it is blocked or insecure.
        let probe =
            Repository::parse(&format!("{registry}/x")).map_err(|_| RegistriesError::Entry {
                prefix: registry.into(),
                why: "not a registry",
            })?;
        let mut endpoint = self.push_endpoint(&probe)?;
        endpoint.path.clear();
        Ok(endpoint)
    }
}

/// The repository at its own registry.
fn origin(repo: &Repository, insecure: bool) -> Endpoint {
    endpoint_at(repo.domain(), repo.path(), insecure)
}

fn endpoint_at(registry: &str, path: &str, insecure: bool) -> Endpoint {
    let host = if registry == DEFAULT_DOMAIN {
        DOCKER_HUB_HOST
    } else {
        registry
    };
    Endpoint {
        registry: registry.to_string(),
        host: host.to_string(),
        path: path.to_string(),
        insecure: insecure || is_loopback(host),
        mirror: false,
    }
}

/// `repo` moved under `location`: the part of its name after the entry's prefix is kept.
fn rewrite(entry: &Entry, location: &str, repo: &Repository) -> Result<Endpoint, RegistriesError> {
    let name = repo.to_string();
    let rest = if entry.prefix.starts_with("*.") {
        format!("/{}", repo.path())
    } else {
        name[entry.prefix.len()..].to_string()
    };
    let target = format!("{}{rest}", location.trim_end_matches('/'));
    match target.split_once('/') {
        Some((registry, path)) if !registry.is_empty() && !path.is_empty() => {
            Ok(endpoint_at(registry, path, false))
        }
        _ => Err(RegistriesError::Entry {
            prefix: entry.prefix.clone(),
            why: "its location leaves no repository path",
        }),
    }
}

/// `localhost`, `127.0.0.0/8` and `::1`, with or without a port.
/// The line (from 1) of the byte at `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// `s` with its control characters escaped (`\n`, `\u{1b}`), so that text quoted from a file stays on one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub(crate) fn is_loopback(host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    bare == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> RegistriesConf {
        RegistriesConf::parse(text, Path::new("registries.conf")).unwrap()
    }

    fn repo(s: &str) -> Repository {
        s.parse::<crate::Reference>().unwrap().repository().clone()
    }

    #[test]
    fn a_toml_error_is_one_line_naming_the_line() {
        let e = RegistriesConf::parse(
            "[[registry]]\n\"a\\nb\" = 1\n\"a\\nb\" = 2\n",
            Path::new("r.conf"),
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.starts_with("bad registries.conf r.conf: line 3: "), "{e}");
    }

    fn hosts(c: &RegistriesConf, r: &str) -> Vec<String> {
        c.pull_endpoints(&repo(r))
            .unwrap()
            .into_iter()
            .map(|e| {
                format!(
                    "{}/{}{}",
                    e.host,
                    e.path,
                    if e.insecure { " (insecure)" } else { "" }
                )
            })
            .collect()
    }

    #[test]
    fn without_configuration_docker_hub_uses_its_api_host() {
        let c = RegistriesConf::default();
        assert_eq!(
            hosts(&c, "busybox"),
            ["registry-1.docker.io/library/busybox"]
        );
        assert_eq!(hosts(&c, "quay.io/a/b"), ["quay.io/a/b"]);
        assert_eq!(
            hosts(&c, "localhost:5000/a"),
            ["localhost:5000/a (insecure)"]
        );
        assert_eq!(
            hosts(&c, "127.0.0.2:5000/a"),
            ["127.0.0.2:5000/a (insecure)"]
        );
        assert_eq!(hosts(&c, "[::1]:5000/a"), ["[::1]:5000/a (insecure)"]);
        let e = c.pull_endpoints(&repo("busybox")).unwrap();
        assert_eq!(e[0].registry, "docker.io");
    }

    #[test]
    fn mirrors_come_first_then_the_location() {
        let c = conf(
            r#"
            unqualified-search-registries = ["docker.io"]
            [[registry]]
            prefix = "docker.io"
            location = "docker.io"
            [[registry.mirror]]
            location = "mirror.local:5000"
            insecure = true
            [[registry.mirror]]
            location = "second.example/hub"
            "#,
        );
        assert_eq!(
            hosts(&c, "busybox"),
            [
                "mirror.local:5000/library/busybox (insecure)",
                "second.example/hub/library/busybox",
                "registry-1.docker.io/library/busybox"
            ]
        );
        let pull = c.pull_endpoints(&repo("busybox")).unwrap();
        assert!(pull[0].mirror && pull[1].mirror && !pull[2].mirror);
        assert_eq!(
            c.push_endpoint(&repo("busybox")).unwrap().host,
            "registry-1.docker.io"
        );
    }

    #[test]
    fn the_longest_prefix_wins_and_matches_whole_components() {
        let c = conf(
            r#"
            [[registry]]
            prefix = "example.com/foo"
            location = "internal:5000/bar"
            [[registry]]
            prefix = "example.com"
            insecure = true
            [[registry]]
            location = "plain.example"
            "#,
        );
        assert_eq!(hosts(&c, "example.com/foo/app"), ["internal:5000/bar/app"]);
        assert_eq!(hosts(&c, "example.com/foo"), ["internal:5000/bar"]);
        assert_eq!(
            hosts(&c, "example.com/foobar"),
            ["example.com/foobar (insecure)"]
        );
        assert_eq!(hosts(&c, "plain.example/x"), ["plain.example/x"]);
    }

    #[test]
    fn blocked_registries_are_refused() {
        let c = conf("[[registry]]\nprefix = \"evil.example\"\nblocked = true\n");
        let err = c.pull_endpoints(&repo("evil.example/x")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "registry evil.example is blocked in registries.conf"
        );
        assert!(c.push_endpoint(&repo("evil.example/x")).is_err());
        assert!(c.registry_endpoint("evil.example").is_err());
        assert!(c.pull_endpoints(&repo("good.example/x")).is_ok());
    }

    #[test]
    fn wildcard_prefixes_match_subdomains() {
        let c = conf("[[registry]]\nprefix = \"*.corp.example\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"m.example/cache\"\n");
        assert_eq!(
            hosts(&c, "a.corp.example/x/y"),
            ["m.example/cache/x/y", "a.corp.example/x/y (insecure)"]
        );
        assert_eq!(hosts(&c, "corp.example/x"), ["corp.example/x"]);
    }

    #[test]
    fn bad_files_name_the_problem() {
        let err = RegistriesConf::parse("[[registry]]\ninsecure = 3\n", Path::new("/x.conf"))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("bad registries.conf /x.conf"),
            "{err}"
        );
        let err = RegistriesConf::parse("[[registry]]\ninsecure = true\n", Path::new("/x.conf"))
            .unwrap_err();
        assert!(
            err.to_string().contains("neither prefix nor location"),
            "{err}"
        );
        let c = conf("[[registry]]\nprefix = \"a.example/x\"\nlocation = \"b.example\"\n");
        assert!(c.pull_endpoints(&repo("a.example/x")).is_err());
    }

    #[test]
    fn the_first_existing_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("minotaur.conf");
        let theirs = dir.path().join("containers.conf");
        std::fs::write(
            &theirs,
            "[[registry]]\nprefix = \"a.example\"\nblocked = true\n",
        )
        .unwrap();
        let c = RegistriesConf::load_first(&[&ours, &theirs]).unwrap();
        assert!(c.pull_endpoints(&repo("a.example/x")).is_err());
        std::fs::write(&ours, "").unwrap();
        let c = RegistriesConf::load_first(&[&ours, &theirs]).unwrap();
        assert!(c.pull_endpoints(&repo("a.example/x")).is_ok());
        assert!(RegistriesConf::load_first(&[dir.path().join("none")])
            .unwrap()
            .entries
            .is_empty());
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "10.0.0.1:5000",
            "example.com",
            "[2001:db8::1]:5000",
            "localhost.example",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
