//! Registry authentication: credentials, the `WWW-Authenticate` challenges registries answer with, and the
//! token endpoint's answer.
//!
//! A registry that wants credentials answers `401` with a challenge. `Basic` means the credentials go with
//! every request. `Bearer` (Docker's token protocol) names a `realm` to `GET` with the `service` and the
//! `scope`s wanted (`repository:library/busybox:pull`), with Basic credentials if there are any (anonymous
//! otherwise); the realm answers a token that then goes with every request for that scope. The HTTP side of
//! this is in the transport; this module is the pure part.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;

/// Why a challenge or a token answer could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unsupported authentication challenge {0:?}")]
    Challenge(String),
    #[error("bad token answer from {realm}")]
    Token {
        realm: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("token answer from {0} has no token")]
    NoToken(String),
}

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The value of an `Authorization: Basic …` header.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where the client finds credentials for a registry.
pub trait CredentialSource: Send + Sync {
    /// Credentials for `registry` as references name it (`docker.io`, `localhost:5000`), or `None` to go on
    /// anonymously. It is asked only when a registry asks for authentication, at most once per registry
    /// for the client's lifetime.
    fn credentials(&self, registry: &str) -> Option<Credentials>;
}

/// No credentials at all: every registry is accessed anonymously.
#[derive(Debug, Default, Clone, Copy)]
pub struct Anonymous;

impl CredentialSource for Anonymous {
    fn credentials(&self, _registry: &str) -> Option<Credentials> {
        None
    }
}

/// Fixed credentials per registry, e.g. given on the command line.
impl CredentialSource for HashMap<String, Credentials> {
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        self.get(registry).cloned()
    }
}

/// A registry's `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value. When it holds several challenges, Bearer is preferred.
    pub fn parse(header: &str) -> Result<Self, AuthError> {
        let mut challenges = Vec::new();
        let mut rest = header.trim();
        while !rest.is_empty() {
            let (scheme, after) = rest.split_once(' ').unwrap_or((rest, ""));
            let (params, after) = parse_params(after);
            challenges.push((scheme.to_ascii_lowercase(), params));
            rest = after.trim_start_matches([',', ' ']);
        }
        let bearer = challenges.iter().find(|(s, _)| s == "bearer");
        if let Some((_, params)) = bearer {
            let realm = params.get("realm").filter(|r| !r.is_empty());
            let realm = realm.ok_or_else(|| AuthError::Challenge(header.to_string()))?;
            return Ok(Challenge::Bearer {
                realm: realm.clone(),
                service: params.get("service").cloned(),
            });
        }
        if challenges.iter().any(|(s, _)| s == "basic") {
            return Ok(Challenge::Basic);
        }
        Err(AuthError::Challenge(header.to_string()))
    }
}

/// Parses `key=value, key="quoted \" value"` up to the start of the next challenge (a bare token followed
/// by a space); returns the parameters and what follows them.
fn parse_params(mut s: &str) -> (HashMap<String, String>, &str) {
    let mut params = HashMap::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        let Some(eq) = s.find('=') else {
            return (params, s);
        };
        let key = &s[..eq];
        if key.is_empty() || key.contains([' ', ',']) {
            return (params, s);
        }
        let value_start = &s[eq + 1..];
        let (value, rest) = if let Some(quoted) = value_start.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, c)) = chars.next() {
                            value.push(c);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end.min(quoted.len())..])
        } else {
            let end = value_start.find(',').unwrap_or(value_start.len());
            (value_start[..end].trim().to_string(), &value_start[end..])
        };
        params.insert(key.to_ascii_lowercase(), value);
        s = rest;
    }
}

/// A token from a Bearer realm, and how long it is good for.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: String,
    pub lifetime: Duration,
}

/// Parses the realm's answer: `{"token": …}` or `{"access_token": …}`, with an optional `expires_in`
/// (60 seconds when absent, as the specification says).
pub(crate) fn parse_token(realm: &str, body: &[u8]) -> Result<Token, AuthError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<u64>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|source| AuthError::Token {
        realm: realm.to_string(),
        source,
    })?;
    let value = answer
        .token
        .filter(|t| !t.is_empty())
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::NoToken(realm.to_string()))?;
    Ok(Token {
        value,
        lifetime: Duration::from_secs(answer.expires_in.unwrap_or(60).max(1)),
    })
}

/// The scope a token is asked for: `repository:<path>:<actions>`.
pub(crate) fn repository_scope(path: &str, push: bool) -> String {
    if push {
        format!("repository:{path}:pull,push")
    } else {
        format!("repository:{path}:pull")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_from_docker_hub() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            }
        );
    }

    #[test]
    fn challenge_parameters_may_be_unquoted_spaced_or_escaped() {
        let c =
            Challenge::parse(r#"bearer  realm=http://127.0.0.1:1/t , service="a \"b\"""#).unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: Some(r#"a "b""#.into())
            }
        );
        let c = Challenge::parse(r#"Bearer realm="http://x/token""#).unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://x/token".into(),
                service: None
            }
        );
    }

    #[test]
    fn basic_challenge_and_several_challenges() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap(),
            Challenge::Basic
        );
        assert_eq!(Challenge::parse("Basic").unwrap(), Challenge::Basic);
        let both = r#"Basic realm="r", Bearer realm="http://t/token",service="s""#;
        assert!(matches!(
            Challenge::parse(both).unwrap(),
            Challenge::Bearer { .. }
        ));
    }

    #[test]
    fn unknown_or_incomplete_challenges_are_errors() {
        for bad in [
            "",
            "Negotiate",
            r#"Digest realm="x", nonce="y""#,
            r#"Bearer service="s""#,
        ] {
            let err = Challenge::parse(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("unsupported authentication challenge"),
                "{bad}"
            );
        }
    }

    #[test]
    fn token_answers() {
        let t = parse_token("r", br#"{"token":"abc","expires_in":300}"#).unwrap();
        assert_eq!(
            (t.value.as_str(), t.lifetime),
            ("abc", Duration::from_secs(300))
        );
        let t = parse_token("r", br#"{"access_token":"xyz"}"#).unwrap();
        assert_eq!(
            (t.value.as_str(), t.lifetime),
            ("xyz", Duration::from_secs(60))
        );
        assert!(matches!(
            parse_token("r", br#"{"token":""}"#),
            Err(AuthError::NoToken(_))
        ));
        assert!(matches!(
            parse_token("r", b"<html>"),
            Err(AuthError::Token { .. })
        ));
    }

    #[test]
    fn basic_header_and_redacted_debug() {
        let c = Credentials::new("user", "pass");
        assert_eq!(c.basic_header(), "Basic dXNlcjpwYXNz");
        assert!(!format!("{c:?}").contains("pass\""));
    }
}
