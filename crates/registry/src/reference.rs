//! Image references as users type them, with Docker's grammar:
//!
//! ```text
//! reference   := name [ ":" tag ] [ "@" digest ]
//! name        := [ domain "/" ] path-component ( "/" path-component )*
//! domain      := host [ ":" port ]          host: DNS name, IPv4 address or "[" IPv6 "]"
//! path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag         := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest      := "sha256:" 64 lowercase hex digits
//! ```
//!
//! The first component is a domain when it contains `.` or `:`, is `localhost`, or has an uppercase letter
//! (which a path component never may). Without a domain the image is on Docker Hub: `busybox` is
//! `docker.io/library/busybox:latest`. A reference with both a tag and a digest resolves by the digest; the
//! tag is kept for display only.

use std::fmt;
use std::str::FromStr;

use oci_spec::image::Digest;

/// The registry that unqualified names live on.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_NAMESPACE: &str = "library";
/// Longest repository name (domain and path) Docker accepts.
const NAME_MAX: usize = 255;
/// Longest tag Docker accepts.
const TAG_MAX: usize = 128;

/// Why a string is not an image reference.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format: empty reference")]
    Empty,
    #[error("invalid reference format: repository name {0:?} must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format: repository name {0:?} is longer than 255 characters")]
    NameTooLong(String),
    #[error("invalid reference format: {0:?}")]
    Invalid(String),
    #[error("invalid reference format: bad domain {domain:?} in {reference:?}")]
    Domain { domain: String, reference: String },
    #[error("invalid reference format: bad tag in {0:?} (1 to 128 of [A-Za-z0-9_.-], not starting with . or -)")]
    Tag(String),
    #[error(
        "invalid reference format: bad digest in {0:?} (expected sha256:<64 lowercase hex digits>)"
    )]
    Digest(String),
}

/// A repository on a registry: `docker.io` + `library/busybox`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Repository {
    domain: String,
    path: String,
}

impl Repository {
    /// The registry's name as references spell it (`docker.io`, `localhost:5000`); not necessarily the host
    /// its API is served from (see [`crate::registries`]).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository's path on its registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The name as Docker displays it: `busybox`, `user/app`, `localhost:5000/app`.
    pub fn familiar(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// Parses a repository name without tag or digest (`busybox`, `localhost:5000/app`).
    pub fn parse(name: &str) -> Result<Self, ReferenceError> {
        split_name(name, name)
    }
}

impl fmt::Display for Repository {
    /// The fully qualified name: `docker.io/library/busybox`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)
    }
}

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    repository: Repository,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// A reference to `repository` by tag.
    pub fn with_tag(repository: Repository, tag: &str) -> Result<Self, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError::Tag(tag.to_string()));
        }
        Ok(Self {
            repository,
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    /// A reference to `repository` by digest.
    pub fn with_digest(repository: Repository, digest: Digest) -> Self {
        Self {
            repository,
            tag: None,
            digest: Some(digest),
        }
    }

    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The tag, if the reference has one (`latest` when it had neither tag nor digest).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference has one: the manifest is then fetched by it and verified against it.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What the registry's manifest endpoint is asked for: the digest if there is one, otherwise the tag.
    pub fn manifest_key(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => unreachable!("a reference has a tag or a digest"),
        }
    }

    /// The reference as Docker displays it: `busybox:latest`, `localhost:5000/app:1`, `app@sha256:…`.
    pub fn familiar(&self) -> String {
        self.render(self.repository.familiar())
    }

    fn render(&self, name: String) -> String {
        let mut s = name;
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest.as_ref());
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(self.repository.to_string()))
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => (rest, Some(parse_digest(digest, s)?)),
            None => (s, None),
        };
        // The tag is after the last ':' that follows the last '/' (an earlier ':' is a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(ReferenceError::Tag(s.to_string()));
            }
        }
        let repository = split_name(name, s)?;
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(Self {
            repository,
            tag,
            digest,
        })
    }
}

fn parse_digest(digest: &str, reference: &str) -> Result<Digest, ReferenceError> {
    let invalid = || ReferenceError::Digest(reference.to_string());
    let hex = digest.strip_prefix("sha256:").ok_or_else(invalid)?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(invalid());
    }
    Digest::from_str(digest).map_err(|_| invalid())
}

/// Splits and validates `domain/path`, normalising Docker Hub names.
fn split_name(name: &str, reference: &str) -> Result<Repository, ReferenceError> {
    if name.is_empty() {
        return Err(ReferenceError::Invalid(reference.to_string()));
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, name),
    };
    if !valid_domain(domain) {
        return Err(ReferenceError::Domain {
            domain: domain.to_string(),
            reference: reference.to_string(),
        });
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase(name.to_string()));
    }
    if !path.split('/').all(valid_path_component) {
        return Err(ReferenceError::Invalid(reference.to_string()));
    }
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_NAMESPACE}/{path}")
    } else {
        path.to_string()
    };
    if domain.len() + 1 + path.len() > NAME_MAX {
        return Err(ReferenceError::NameTooLong(name.to_string()));
    }
    Ok(Repository {
        domain: domain.to_string(),
        path,
    })
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[sep_start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
}

/// A DNS name, IPv4 address or bracketed IPv6 address, with an optional port.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return false;
        };
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if domain.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= TAG_MAX
        && word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| word(b) || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    fn parse(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn parts(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = parse(s);
        (
            r.repository().domain().to_string(),
            r.repository().path().to_string(),
            r.tag().map(str::to_string),
            r.digest().map(|d| d.to_string()),
        )
    }

    #[test]
    fn short_names_are_docker_hub_official_images() {
        let r = parse("busybox");
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(parse("user/app:1").to_string(), "docker.io/user/app:1");
        assert_eq!(parse("user/app:1").familiar(), "user/app:1");
        assert_eq!(
            parse("docker.io/library/busybox").familiar(),
            "busybox:latest"
        );
        assert_eq!(
            parse("index.docker.io/busybox").to_string(),
            "docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn domains_need_a_dot_a_port_or_localhost() {
        assert_eq!(parts("test.com/repo:tag").0, "test.com");
        assert_eq!(parts("test:5000/repo").0, "test:5000");
        assert_eq!(parts("localhost/repo").0, "localhost");
        assert_eq!(parts("localhost:5000/app:1").0, "localhost:5000");
        assert_eq!(
            parse("localhost:5000/app:1").familiar(),
            "localhost:5000/app:1"
        );
        assert_eq!(parts("sub-dom1.foo.com/bar/baz/quux").1, "bar/baz/quux");
        assert_eq!(parts("192.168.1.1:5000/repo").0, "192.168.1.1:5000");
        assert_eq!(parts("[2001:db8::1]:5000/repo").0, "[2001:db8::1]:5000");
        assert_eq!(parts("[2001:db8::1]/repo:tag").2.as_deref(), Some("tag"));
        // Without a '/', a ':' is a tag separator, not a port.
        assert_eq!(
            parts("test.com:5000"),
            (
                "docker.io".into(),
                "library/test.com".into(),
                Some("5000".into()),
                None
            )
        );
        assert_eq!(parts("foo/foo_bar.com:8080").1, "foo/foo_bar.com");
        assert_eq!(parts("test_com").1, "library/test_com");
        // A first component that is neither is a Docker Hub namespace.
        assert_eq!(parts("library/busybox").0, "docker.io");
    }

    #[test]
    fn digests_and_tags() {
        let d = format!("sha256:{HEX}");
        let (domain, path, tag, digest) = parts(&format!("test:5000/repo@{d}"));
        assert_eq!(
            (domain.as_str(), path.as_str(), tag, digest.as_deref()),
            ("test:5000", "repo", None, Some(d.as_str()))
        );
        let r = parse(&format!("test:5000/repo:tag@{d}"));
        assert_eq!(r.tag(), Some("tag"));
        // Tag and digest: resolved by the digest.
        assert_eq!(r.manifest_key(), d);
        assert_eq!(parse("busybox:1.36").manifest_key(), "1.36");
        assert_eq!(
            parse(&format!("busybox@{d}")).familiar(),
            format!("busybox@{d}")
        );
        assert_eq!(parts("lowercase:Uppercase").2.as_deref(), Some("Uppercase"));
    }

    #[test]
    fn bad_references_are_rejected_with_docker_wording() {
        let long_tag = "a".repeat(129);
        let long_name = format!("{}/{}", "a".repeat(128), "a".repeat(128));
        for bad in [
            "",
            ":justtag",
            &format!("@sha256:{HEX}"),
            "repo@sha256:ffff",
            "validname@invaliddigest:ffff",
            &format!("repo@sha256:{}", HEX.to_uppercase()),
            "aa/asdf$$^/aa",
            "a/-b",
            "a//b",
            "a/b/",
            "a..b",
            "a___b",
            "test:5000/repo:-tag",
            &format!("repo:{long_tag}"),
            &long_name,
            "-domain.com/repo",
            "host:port/repo",
            "[::1/repo",
        ] {
            let err = bad.parse::<Reference>().expect_err(bad);
            assert!(
                err.to_string().starts_with("invalid reference format: "),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn uppercase_repository_names_are_rejected() {
        for bad in [
            "Uppercase:tag",
            "test:5000/Uppercase/lowercase:tag",
            "docker.io/User/app",
        ] {
            let err = bad.parse::<Reference>().expect_err(bad);
            assert!(matches!(err, ReferenceError::Uppercase(_)), "{bad}: {err}");
            assert!(err.to_string().contains("must be lowercase"));
        }
        // An uppercase first component is a domain (domains are case-insensitive).
        assert_eq!(parts("Docker.IO/app").0, "Docker.IO");
    }

    #[test]
    fn separators_follow_docker() {
        for ok in ["a.b/c", "a_b", "a__b", "a---b", "a-b.c_d__e", "0/1"] {
            parse(ok);
        }
    }

    #[test]
    fn repository_parse_and_with_tag() {
        let repo = Repository::parse("localhost:5000/team/app").unwrap();
        assert_eq!(repo.to_string(), "localhost:5000/team/app");
        let r = Reference::with_tag(repo.clone(), "v1").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/team/app:v1");
        assert!(Reference::with_tag(repo, ".bad").is_err());
    }
}
