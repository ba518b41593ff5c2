//! Docker's `config.json`: the credentials `docker login` stores, read and written the way Docker does.
//!
//! The file is `$DOCKER_CONFIG/config.json`, otherwise `~/.docker/config.json`. Credentials are found, for a
//! registry, in this order:
//!
//! 1. `credHelpers[registry]`: the program `docker-credential-<name>`;
//! 2. `credsStore`: the same for every registry;
//! 3. `auths[registry].auth`: base64 of `user:password` in the file itself.
//!
//! Keys are compared the way Docker writes them: with or without `https://`, with or without a path, and
//! Docker Hub under any of its names (`https://index.docker.io/v1/`, `index.docker.io`, `docker.io`,
//! `registry-1.docker.io`). Credential helpers speak Docker's protocol: the action (`get`, `store`,
//! `erase`) is the argument, the server URL (or, for `store`, a JSON object) is the input, and `get` answers
//! `{"ServerURL", "Username", "Secret"}`. A helper that is configured but not installed is warned about and
//! the registry is accessed anonymously, as Docker does.
//!
//! Writing (login, logout) keeps every other field of the file, and replaces the file atomically with
//! permissions 0600. Identity tokens (`identitytoken`, OAuth refresh tokens) are not supported.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::auth::{CredentialSource, Credentials};
use crate::reference::DEFAULT_DOMAIN;

/// How Docker names Docker Hub in `config.json` and to credential helpers.
pub const DOCKER_HUB_SERVER_URL: &str = "https://index.docker.io/v1/";

/// Why credentials could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("bad Docker configuration {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("bad credentials for {registry} in {path}: {why}")]
    BadAuth {
        registry: String,
        path: PathBuf,
        why: &'static str,
    },
    #[error("credential helper {helper} is not installed")]
    HelperMissing { helper: String },
    #[error("credential helper {helper} failed to {action} credentials for {registry}: {message}")]
    Helper {
        helper: String,
        action: &'static str,
        registry: String,
        message: String,
    },
    #[error("neither DOCKER_CONFIG nor HOME is set: no Docker configuration to use")]
    NoHome,
}

/// A loaded `config.json` (empty if the file does not exist).
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
    /// The whole document, so that writing keeps what this code does not know.
    document: Map<String, Value>,
    /// Where `docker-credential-*` programs are; `None` searches `PATH`.
    helper_dir: Option<PathBuf>,
}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json`, otherwise `$HOME/.docker/config.json`.
    pub fn default_path() -> Result<PathBuf, ConfigError> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir).join("config.json"));
        }
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or(ConfigError::NoHome)?;
        Ok(PathBuf::from(home).join(".docker").join("config.json"))
    }

    /// Loads [`DockerConfig::default_path`].
    pub fn load_default() -> Result<Self, ConfigError> {
        Self::load(&Self::default_path()?)
    }

    /// Loads `path`; a missing file is an empty configuration (written on the first `store`).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let document = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| ConfigError::Parse {
                path: path.into(),
                source,
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Map::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.into(),
                    source,
                })
            }
        };
        Ok(Self {
            path: path.into(),
            document,
            helper_dir: None,
        })
    }

    /// Looks for credential helpers in `dir` instead of `PATH`.
    pub fn with_helper_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.helper_dir = Some(dir.into());
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The credentials for `registry` (`docker.io`, `localhost:5000`), or `None`.
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>, ConfigError> {
        if let Some(helper) = self.helper_for(registry) {
            return self.helper_get(&helper, registry);
        }
        let Some((_, entry)) = self.auth_entry(registry) else {
            return Ok(None);
        };
        let bad = |why| ConfigError::BadAuth {
            registry: registry.into(),
            path: self.path.clone(),
            why,
        };
        if let Some(auth) = entry
            .get("auth")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad("auth is not base64"))?;
            let decoded = String::from_utf8(decoded).map_err(|_| bad("auth is not UTF-8"))?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or(bad("auth is not user:password"))?;
            return Ok(Some(Credentials::new(user, password)));
        }
        // Older files have the fields apart.
        match (
            entry.get("username").and_then(Value::as_str),
            entry.get("password").and_then(Value::as_str),
        ) {
            (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credentials::new(u, p))),
            _ => Ok(None),
        }
    }

    /// Stores credentials for `registry`, as `login` does: with its helper if one is configured,
    /// otherwise in `auths`, rewriting the file.
    pub fn store(&mut self, registry: &str, credentials: &Credentials) -> Result<(), ConfigError> {
        if let Some(helper) = self.helper_for(registry) {
            let input = serde_json::json!({
                "ServerURL": server_url(registry),
                "Username": credentials.username,
                "Secret": credentials.password,
            });
            self.run_helper(&helper, "store", registry, input.to_string().as_bytes())?;
            return Ok(());
        }
        let key = self
            .auth_entry(registry)
            .map_or_else(|| server_url(registry), |(k, _)| k);
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", credentials.username, credentials.password));
        let auths = self
            .document
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        auths
            .as_object_mut()
            .expect("made an object")
            .insert(key, serde_json::json!({ "auth": auth }));
        self.write()
    }

    /// Forgets the credentials for `registry`, as `logout` does. Returns whether there were any.
    pub fn erase(&mut self, registry: &str) -> Result<bool, ConfigError> {
        if let Some(helper) = self.helper_for(registry) {
            return match self.run_helper(
                &helper,
                "erase",
                registry,
                server_url(registry).as_bytes(),
            ) {
                Ok(_) => Ok(true),
                Err(ConfigError::Helper { message, .. }) if not_found(&message) => Ok(false),
                Err(e) => Err(e),
            };
        }
        let Some((key, _)) = self.auth_entry(registry) else {
            return Ok(false);
        };
        if let Some(auths) = self
            .document
            .get_mut("auths")
            .and_then(Value::as_object_mut)
        {
            auths.remove(&key);
        }
        self.write()?;
        Ok(true)
    }

    /// The `auths` entry for a registry, under whichever of Docker's key forms it was written.
    fn auth_entry(&self, registry: &str) -> Option<(String, &Map<String, Value>)> {
        let auths = self.document.get("auths")?.as_object()?;
        let wanted = normalise_key(registry);
        auths
            .iter()
            .find(|(k, _)| normalise_key(k) == wanted)
            .and_then(|(k, v)| Some((k.clone(), v.as_object()?)))
    }

    /// The helper configured for a registry, if any.
    fn helper_for(&self, registry: &str) -> Option<String> {
        let wanted = normalise_key(registry);
        let per_registry = self
            .document
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|helpers| {
                helpers
                    .iter()
                    .find(|(k, _)| normalise_key(k) == wanted)
                    .and_then(|(_, v)| v.as_str())
            });
        per_registry
            .or_else(|| self.document.get("credsStore").and_then(Value::as_str))
            .filter(|h| !h.is_empty())
            .map(str::to_string)
    }

    fn helper_get(&self, helper: &str, registry: &str) -> Result<Option<Credentials>, ConfigError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(rename = "Username")]
            username: String,
            #[serde(rename = "Secret")]
            secret: String,
        }
        let out = match self.run_helper(helper, "get", registry, server_url(registry).as_bytes()) {
            Ok(out) => out,
            Err(ConfigError::Helper { message, .. }) if not_found(&message) => return Ok(None),
            Err(e) => return Err(e),
        };
        let answer: Answer = serde_json::from_slice(&out).map_err(|e| ConfigError::Helper {
            helper: helper_program(helper),
            action: "get",
            registry: registry.into(),
            message: format!("bad answer: {e}"),
        })?;
        if answer.username.is_empty() && answer.secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credentials::new(answer.username, answer.secret)))
    }

    fn run_helper(
        &self,
        helper: &str,
        action: &'static str,
        registry: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, ConfigError> {
        let program = helper_program(helper);
        let path = match &self.helper_dir {
            Some(dir) => dir.join(&program),
            None => PathBuf::from(&program),
        };
        let failed = |message: String| ConfigError::Helper {
            helper: program.clone(),
            action,
            registry: registry.into(),
            message,
        };
        let mut child = match Command::new(&path)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ConfigError::HelperMissing { helper: program })
            }
            Err(e) => return Err(failed(e.to_string())),
        };
        let mut stdin = child.stdin.take().expect("piped");
        let written = stdin.write_all(input);
        drop(stdin);
        let out = child
            .wait_with_output()
            .map_err(|e| failed(e.to_string()))?;
        written.map_err(|e| failed(format!("writing its input: {e}")))?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(if out.stdout.is_empty() {
                &out.stderr
            } else {
                &out.stdout
            });
            return Err(failed(text.trim().to_string()));
        }
        Ok(out.stdout)
    }

    /// Replaces the file: a temporary file beside it, 0600, synced, renamed over it.
    fn write(&self) -> Result<(), ConfigError> {
        let write_error = |source| ConfigError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(write_error)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(write_error)?;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(write_error)?;
        serde_json::to_writer_pretty(&mut file, &self.document)
            .map_err(|e| write_error(e.into()))?;
        file.write_all(b"\n").map_err(write_error)?;
        file.as_file().sync_all().map_err(write_error)?;
        file.persist(&self.path).map_err(|e| write_error(e.error))?;
        Ok(())
    }
}

impl CredentialSource for DockerConfig {
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        match self.get(registry) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("{e}; accessing {registry} anonymously");
                None
            }
        }
    }
}

/// How a registry is named to credential helpers and as a new `auths` key.
fn server_url(registry: &str) -> String {
    if normalise_key(registry) == DEFAULT_DOMAIN {
        DOCKER_HUB_SERVER_URL.to_string()
    } else {
        registry.to_string()
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/v2/` → `host:5000`.
fn normalise_key(key: &str) -> String {
    let key = key.trim();
    let key = key.split_once("://").map_or(key, |(_, rest)| rest);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DEFAULT_DOMAIN.into()
        }
        _ => host,
    }
}

fn helper_program(helper: &str) -> String {
    format!("docker-credential-{helper}")
}

/// Whether a helper's failure says it has nothing for that registry.
fn not_found(message: &str) -> bool {
    message
        .to_ascii_lowercase()
        .contains("credentials not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, text: &str) -> DockerConfig {
        let path = dir.join("config.json");
        std::fs::write(&path, text).unwrap();
        DockerConfig::load(&path).unwrap().with_helper_dir(dir)
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn auths_in_every_key_form_docker_writes() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(
            dir.path(),
            &format!(
                r#"{{"auths": {{
                    "https://index.docker.io/v1/": {{"auth": "{}"}},
                    "localhost:5000": {{"auth": "{}"}},
                    "https://quay.io": {{"auth": "{}"}},
                    "http://old.example/v1/": {{"username": "u", "password": "p"}},
                    "empty.example": {{}}
                }}}}"#,
                b64("hub:pw"),
                b64("local:pw:with:colons"),
                b64("quay:pw")
            ),
        );
        assert_eq!(
            c.get("docker.io").unwrap(),
            Some(Credentials::new("hub", "pw"))
        );
        assert_eq!(
            c.get("localhost:5000").unwrap(),
            Some(Credentials::new("local", "pw:with:colons"))
        );
        assert_eq!(
            c.get("quay.io").unwrap(),
            Some(Credentials::new("quay", "pw"))
        );
        assert_eq!(
            c.get("old.example").unwrap(),
            Some(Credentials::new("u", "p"))
        );
        assert_eq!(c.get("empty.example").unwrap(), None);
        assert_eq!(c.get("elsewhere.example").unwrap(), None);
    }

    #[test]
    fn bad_auth_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), r#"{"auths": {"a.example": {"auth": "!!!"}}}"#);
        let err = c.get("a.example").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad credentials for a.example in "),
            "{err}"
        );
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{nope").unwrap();
        assert!(matches!(
            DockerConfig::load(&path),
            Err(ConfigError::Parse { .. })
        ));
        assert!(DockerConfig::load(&dir.path().join("absent.json"))
            .unwrap()
            .get("x")
            .unwrap()
            .is_none());
    }

    #[test]
    fn store_and_erase_keep_other_fields_and_use_0600() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(
            dir.path(),
            r#"{"psFormat": "table {{.ID}}", "auths": {"https://index.docker.io/v1/": {"auth": "eDp5"}}}"#,
        );
        c.store("docker.io", &Credentials::new("me", "pw")).unwrap();
        c.store("localhost:5000", &Credentials::new("you", "pw2"))
            .unwrap();
        let text = std::fs::read_to_string(c.path()).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["psFormat"], "table {{.ID}}");
        assert_eq!(
            doc["auths"]["https://index.docker.io/v1/"]["auth"],
            b64("me:pw")
        );
        assert_eq!(doc["auths"]["localhost:5000"]["auth"], b64("you:pw2"));
        let mode = std::fs::metadata(c.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let reloaded = DockerConfig::load(c.path()).unwrap();
        assert_eq!(
            reloaded.get("docker.io").unwrap(),
            Some(Credentials::new("me", "pw"))
        );
        assert!(c.erase("docker.io").unwrap());
        assert!(!c.erase("docker.io").unwrap());
        let reloaded = DockerConfig::load(c.path()).unwrap();
        assert_eq!(reloaded.get("docker.io").unwrap(), None);
        assert!(reloaded.get("localhost:5000").unwrap().is_some());
        // No temporary file is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A credential helper that keeps one secret per server URL in files under its directory.
    fn install_helper(dir: &Path, name: &str) {
        let script = format!(
            r#"#!/bin/sh
store="{store}"
mkdir -p "$store"
case "$1" in
get)
    url=$(cat); key=$(printf %s "$url" | od -An -tx1 | tr -d ' \n')
    if [ -f "$store/$key" ]; then cat "$store/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
    input=$(cat); url=$(printf %s "$input" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/')
    key=$(printf %s "$url" | od -An -tx1 | tr -d ' \n'); printf %s "$input" > "$store/$key" ;;
erase)
    url=$(cat); key=$(printf %s "$url" | od -An -tx1 | tr -d ' \n')
    if [ -f "$store/$key" ]; then rm "$store/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
esac
"#,
            store = dir.join(format!("{name}-store")).display()
        );
        let path = dir.join(helper_program(name));
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn credential_helpers_store_get_and_erase() {
        let dir = tempfile::tempdir().unwrap();
        install_helper(dir.path(), "test");
        let mut c = config(
            dir.path(),
            r#"{"credHelpers": {"localhost:5000": "test"}, "auths": {}}"#,
        );
        assert_eq!(c.get("localhost:5000").unwrap(), None);
        c.store("localhost:5000", &Credentials::new("alice", "s3cret"))
            .unwrap();
        assert_eq!(
            c.get("localhost:5000").unwrap(),
            Some(Credentials::new("alice", "s3cret"))
        );
        // Nothing went into the file.
        assert!(!std::fs::read_to_string(c.path()).unwrap().contains("alice"));
        assert!(c.erase("localhost:5000").unwrap());
        assert_eq!(c.get("localhost:5000").unwrap(), None);
        assert!(!c.erase("localhost:5000").unwrap());
    }

    #[test]
    fn creds_store_applies_to_every_registry_and_docker_hub_uses_its_url() {
        let dir = tempfile::tempdir().unwrap();
        install_helper(dir.path(), "all");
        let mut c = config(dir.path(), r#"{"credsStore": "all"}"#);
        c.store("docker.io", &Credentials::new("hub", "pw"))
            .unwrap();
        let stored: Vec<_> = std::fs::read_dir(dir.path().join("all-store"))
            .unwrap()
            .collect();
        assert_eq!(stored.len(), 1);
        let text = std::fs::read_to_string(stored[0].as_ref().unwrap().path()).unwrap();
        assert!(text.contains(DOCKER_HUB_SERVER_URL), "{text}");
        assert_eq!(
            c.get("index.docker.io").unwrap(),
            Some(Credentials::new("hub", "pw"))
        );
    }

    #[test]
    fn a_missing_helper_means_anonymous_access() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(
            dir.path(),
            r#"{"credsStore": "absent", "auths": {"x.example": {"auth": "eDp5"}}}"#,
        );
        assert!(matches!(
            c.get("x.example"),
            Err(ConfigError::HelperMissing { .. })
        ));
        assert_eq!(c.credentials("x.example"), None);
    }
}
