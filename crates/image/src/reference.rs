//! Image names as users type them (`busybox`, `registry:5000/team/app:1.2`) and image IDs (`sha256:<hex>`).
//!
//! A [`Reference`] is parsed and normalised once, at the boundary, with Docker's grammar: lowercase path
//! components separated by `/`, an optional registry domain (with a port) in front, and a tag of at most 128
//! word characters, dots and dashes. A missing tag means `latest`; `docker.io/library/busybox` is stored in its
//! familiar form `busybox`, as Docker displays it. Digest references (`name@sha256:…`) are not accepted: this
//! store tags images by name only.

use std::fmt;
use std::str::FromStr;

/// Longest repository name Docker accepts.
const NAME_MAX: usize = 255;
/// Longest tag Docker accepts.
const TAG_MAX: usize = 128;

/// Why a string is not an image reference or ID.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format: {0:?} is empty")]
    Empty(String),
    #[error("invalid reference format: repository name {0:?} must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format: {0:?}")]
    Invalid(String),
    #[error("invalid reference format: repository name {0:?} is longer than 255 characters")]
    NameTooLong(String),
    #[error("invalid tag format in {0:?}: a tag is 1 to 128 of [A-Za-z0-9_.-] and does not start with . or -")]
    Tag(String),
    #[error("digest references such as {0:?} are not supported: use a tag or an image ID")]
    Digest(String),
    #[error("invalid image ID {0:?}: expected sha256:<64 hex digits>")]
    Id(String),
}

/// A validated, normalised `name:tag`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    name: String,
    tag: String,
}

impl Reference {
    /// The repository, e.g. `busybox` or `registry:5000/team/app`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tag, `latest` when none was given.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ReferenceError::Empty(s.into()));
        }
        if s.contains('@') {
            return Err(ReferenceError::Digest(s.into()));
        }
        // The tag is after the last ':' that comes after the last '/' (a ':' before it is a registry port).
        let last_slash = s.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match s[last_slash..].rfind(':') {
            Some(i) => (&s[..last_slash + i], &s[last_slash + i + 1..]),
            None => (s, "latest"),
        };
        if !valid_tag(tag) {
            return Err(ReferenceError::Tag(s.into()));
        }
        let name = normalise_name(name, s)?;
        Ok(Reference {
            name,
            tag: tag.into(),
        })
    }
}

fn valid_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    !tag.is_empty()
        && tag.len() <= TAG_MAX
        && tag.starts_with(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-')
}

/// Validates `name` and returns its familiar form (no `docker.io/`, no `library/`).
fn normalise_name(name: &str, whole: &str) -> Result<String, ReferenceError> {
    if name.is_empty() {
        return Err(ReferenceError::Invalid(whole.into()));
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // As Docker: the first component is a registry domain when it has a '.' or ':', is `localhost`, or has
    // uppercase letters (path components never may).
    let domain = if parts.len() > 1
        && (parts[0].contains(['.', ':'])
            || parts[0] == "localhost"
            || parts[0].chars().any(|c| c.is_ascii_uppercase()))
    {
        Some(parts.remove(0))
    } else {
        None
    };
    if let Some(d) = domain {
        if !valid_domain(d) {
            return Err(ReferenceError::Invalid(whole.into()));
        }
    }
    for p in &parts {
        if p.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(whole.into()));
        }
        if !valid_path_component(p) {
            return Err(ReferenceError::Invalid(whole.into()));
        }
    }
    let mut path = parts.join("/");
    let name = match domain {
        Some("docker.io" | "index.docker.io") => {
            if let Some(rest) = path.strip_prefix("library/") {
                if !rest.contains('/') {
                    path = rest.to_string();
                }
            }
            path
        }
        Some(d) => format!("{d}/{path}"),
        None => path,
    };
    if name.len() > NAME_MAX {
        return Err(ReferenceError::NameTooLong(whole.into()));
    }
    Ok(name)
}

/// `[a-z0-9]+` separated by `.`, `_`, `__` or one or more `-`.
fn valid_path_component(p: &str) -> bool {
    let b = p.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[.host…][:port]` with host labels of letters, digits and inner dashes.
fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// A sha256 content digest: of a blob, of an uncompressed layer (a diff ID), or of an image config (an image ID).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    /// Wraps 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, ReferenceError> {
        if hex.len() == 64
            && hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            Ok(Digest(hex.into()))
        } else {
            Err(ReferenceError::Id(hex.into()))
        }
    }

    /// Digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Digest::from_sha256(sha2::Sha256::digest(bytes).into())
    }

    pub(crate) fn from_sha256(raw: [u8; 32]) -> Self {
        Digest(raw.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, as `docker images` shows IDs.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

impl FromStr for Digest {
    type Err = ReferenceError;

    /// Parses `sha256:<hex>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix("sha256:")
            .ok_or_else(|| ReferenceError::Id(s.into()))
            .and_then(Digest::from_hex)
            .map_err(|_| ReferenceError::Id(s.into()))
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An image's ID: the digest of its config JSON.
pub type ImageId = Digest;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<String, ReferenceError> {
        s.parse::<Reference>().map(|r| r.to_string())
    }

    #[test]
    fn names_get_latest_and_familiar_form() {
        assert_eq!(parse("busybox").unwrap(), "busybox:latest");
        assert_eq!(parse("busybox:1.36").unwrap(), "busybox:1.36");
        assert_eq!(
            parse("docker.io/library/busybox").unwrap(),
            "busybox:latest"
        );
        assert_eq!(parse("docker.io/team/app:v1").unwrap(), "team/app:v1");
        assert_eq!(
            parse("localhost:5000/app").unwrap(),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            parse("registry.example:5000/a/b-c__d.e:T_1.x-y").unwrap(),
            "registry.example:5000/a/b-c__d.e:T_1.x-y"
        );
        assert_eq!(parse("localhost/app:1").unwrap(), "localhost/app:1");
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(matches!(
            parse("Busybox"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(matches!(
            parse("a/Busybox"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(matches!(parse(""), Err(ReferenceError::Empty(_))));
        assert!(matches!(parse("app:"), Err(ReferenceError::Tag(_))));
        assert!(matches!(parse("app:.x"), Err(ReferenceError::Tag(_))));
        assert!(matches!(
            parse(&format!("app:{}", "x".repeat(129))),
            Err(ReferenceError::Tag(_))
        ));
        assert!(matches!(
            parse("app@sha256:00"),
            Err(ReferenceError::Digest(_))
        ));
        for bad in [
            "-app",
            "app-",
            "a..b",
            "a___b",
            "a//b",
            "/app",
            "app/",
            "a b",
            "../etc",
            "ex:ample.com/app",
        ] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
        assert!(matches!(
            parse(&"a".repeat(256)),
            Err(ReferenceError::NameTooLong(_))
        ));
    }

    #[test]
    fn digests_parse_and_print() {
        let hex = "a".repeat(64);
        let d: Digest = format!("sha256:{hex}").parse().unwrap();
        assert_eq!(d.hex(), hex);
        assert_eq!(d.short(), &hex[..12]);
        assert!("sha256:abc".parse::<Digest>().is_err());
        assert!(hex.parse::<Digest>().is_err());
        assert!(format!("sha256:{}", "A".repeat(64))
            .parse::<Digest>()
            .is_err());
        assert_eq!(
            Digest::of(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
