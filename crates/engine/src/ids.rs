//! Container IDs and names: untrusted strings become these newtypes at the CLI boundary.

use std::fmt;
use std::str::FromStr;

/// A container's ID: 64 lowercase hex digits, random. Docker shows the first 12.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerId(String);

impl ContainerId {
    /// A fresh random ID from the kernel's random pool.
    pub fn random() -> ContainerId {
        ContainerId(random_hex())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 12-character form Docker prints in `ps` and uses as the default hostname.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ContainerId> for String {
    fn from(id: ContainerId) -> String {
        id.0
    }
}

impl TryFrom<String> for ContainerId {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(ContainerId(s))
        } else {
            Err(IdError::BadId(s))
        }
    }
}

/// 64 random lowercase hex digits from the kernel's random pool: the form of container and network IDs.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the kernel's random pool is always readable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum IdError {
    #[error("invalid container id {0:?}: expected 64 lowercase hex digits")]
    BadId(String),
    #[error(
        "invalid container name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, up to 128 characters"
    )]
    BadName(String),
}

/// A container's name, as Docker allows them: `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (a leading `/`, as Docker prints
/// names, is accepted and dropped). Names also become `/run/netns` entries, so nothing else may pass.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerName(String);

impl ContainerName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A random `adjective_noun` name for the `retry`th try, as Docker makes when `--name` is not given: from
    /// the second try on, a random number is appended, so that many containers still find a free name fast.
    pub fn random_for(retry: u32) -> ContainerName {
        let base = ContainerName::random();
        if retry == 0 {
            return base;
        }
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).expect("the kernel's random pool is always readable");
        ContainerName(format!("{base}{}", u32::from_le_bytes(b) % 100_000))
    }

    /// A random `adjective_noun` name.
    pub fn random() -> ContainerName {
        const ADJECTIVES: &[&str] = &[
            "agile", "bold", "brave", "calm", "clever", "curious", "eager", "fierce", "gentle",
            "happy", "keen", "lucid", "nimble", "patient", "quiet", "rapid", "serene", "sharp",
            "steady", "witty",
        ];
        const NOUNS: &[&str] = &[
            "ariadne",
            "daedalus",
            "icarus",
            "minos",
            "pasiphae",
            "theseus",
            "aegeus",
            "phaedra",
            "talos",
            "labyrinth",
            "thread",
            "knossos",
            "crete",
            "bull",
            "maze",
            "spindle",
            "corridor",
            "lantern",
            "compass",
            "keystone",
        ];
        let mut b = [0u8; 2];
        getrandom::fill(&mut b).expect("the kernel's random pool is always readable");
        let a = ADJECTIVES[b[0] as usize % ADJECTIVES.len()];
        let n = NOUNS[b[1] as usize % NOUNS.len()];
        ContainerName(format!("{a}_{n}"))
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ContainerName> for String {
    fn from(n: ContainerName) -> String {
        n.0
    }
}

impl TryFrom<String> for ContainerName {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl FromStr for ContainerName {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.strip_prefix('/').unwrap_or(s);
        let mut bytes = name.bytes();
        let ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric())
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            && name.len() <= 128;
        if ok {
            Ok(ContainerName(name.to_owned()))
        } else {
            Err(IdError::BadName(s.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_64_hex_and_distinct() {
        let (a, b) = (ContainerId::random(), ContainerId::random());
        assert_ne!(a, b);
        assert!(ContainerId::try_from(a.to_string()).is_ok());
        assert_eq!(a.short().len(), 12);
    }

    #[test]
    fn names_follow_dockers_rule() {
        for good in ["web", "php-fpm", "a.b_c", "/mynginx", "0"] {
            assert!(good.parse::<ContainerName>().is_ok(), "{good}");
        }
        for bad in ["", "-x", "_x", "a/b", "../x", "a b", "é", &"x".repeat(129)] {
            assert!(bad.parse::<ContainerName>().is_err(), "{bad}");
        }
        assert!(ContainerName::random()
            .as_str()
            .parse::<ContainerName>()
            .is_ok());
    }
}
