//! The HTTP side of talking to registries: one agent per host (with that host's TLS settings), the choice of
//! HTTPS or plain HTTP, retries, and authentication.
//!
//! - **Scheme.** HTTPS always; a host that may use plain HTTP (insecure in registries.conf, or loopback) is
//!   tried with HTTPS first and, if that cannot connect, with HTTP, and the answer is remembered.
//! - **Retries.** A `429` or `5xx` answer (and a connection that breaks before an answer) is retried with
//!   exponential backoff, or after the `Retry-After` the registry asked for, both capped, a bounded number of
//!   times. A request whose body is a stream cannot be replayed and is not retried.
//! - **Authentication.** Requests go out anonymously until a host answers `401` with a challenge, which is
//!   then remembered for the host: `Basic` sends the credentials with each request; `Bearer` gets a token
//!   for the request's scopes from the realm (with the credentials, if any), caches it per scope until it
//!   expires, and sends it. A `401` on a request that carried credentials or a token re-authenticates once
//!   (a token may have expired); a second `401` is an error.
//! - **Redirects** (blob storage on another host) are followed and never carry the `Authorization` header.
//! - **Stalls.** Every read and write has a timeout (30 s by default): a connection that delivers nothing for
//!   that long fails with `TimedOut`, and the blob reader resumes it.
//! - **Reads.** A connection reads up to [`INPUT_BUFFER`] bytes per `recv`: a blob of 500 MB is some 2,000
//!   system calls rather than the 65,000 an 8 KiB buffer makes.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::config::RedirectAuthHeaders;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector as _, TcpConnector};
use ureq::Agent;

use crate::auth::{self, AuthError, Challenge, CredentialSource, Credentials};
use crate::registries::Endpoint;
use crate::tls::{self, TlsError};

/// Largest error body read to explain a failure.
const ERROR_BODY_MAX: u64 = 4096;
/// Largest token answer read.
const TOKEN_MAX: u64 = 1 << 20;
/// Bytes a connection reads from its socket at once. A blob's body is copied out of this buffer into the
/// caller's, which the image store makes 256 KiB; reading less per `recv` costs CPU on the thread that
/// also writes the blob to disk.
pub(crate) const INPUT_BUFFER: usize = 256 * 1024;

/// Why a request to a registry failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot reach registry {host} for {what}")]
    Unreachable {
        host: String,
        /// What was being fetched or sent (the request's `what`).
        what: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("unauthorized: {registry} {}", if *.with_credentials { "refused the credentials" } else { "requires authentication and no credentials are configured for it" })]
    Unauthorized {
        registry: String,
        with_credentials: bool,
    },
    #[error("cannot authenticate to {registry}")]
    Challenge {
        registry: String,
        #[source]
        source: AuthError,
    },
    #[error("{host} answered {status} to {what}: {message}")]
    Status {
        host: String,
        what: String,
        status: u16,
        message: String,
    },
    #[error("TLS settings for {host}")]
    Tls {
        host: String,
        #[source]
        source: TlsError,
    },
}

/// A registry's answer: its status, its headers and its body, as a stream.
pub(crate) struct Response(ureq::http::Response<ureq::Body>);

impl Response {
    pub fn status(&self) -> u16 {
        self.0.status().as_u16()
    }

    /// The header's value, if it is there and is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0.headers().get(name)?.to_str().ok()
    }

    /// The media type of `Content-Type`, without its parameters (`text/plain` when there is none, as
    /// HTTP's default).
    pub fn content_type(&self) -> &str {
        self.header("content-type")
            .and_then(|t| t.split(';').next())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("text/plain")
    }

    pub fn into_reader(self) -> Box<dyn Read + Send + Sync> {
        Box::new(self.0.into_body().into_reader())
    }
}

impl TransportError {
    /// An unexpected answer: the status and the registry's own explanation.
    pub(crate) fn status(host: &str, what: impl Into<String>, response: Response) -> Self {
        let status = response.status();
        let mut body = Vec::new();
        let _ = response
            .into_reader()
            .take(ERROR_BODY_MAX)
            .read_to_end(&mut body);
        TransportError::Status {
            host: host.to_string(),
            what: what.into(),
            status,
            message: explain(&body),
        }
    }
}

/// The first of distribution's `{"errors":[{"code","message"}]}`, or the body's first line.
fn explain(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: Option<String>,
        message: Option<String>,
    }
    if let Ok(errors) = serde_json::from_slice::<Errors>(body) {
        if let Some(e) = errors.errors.first() {
            return match (&e.code, &e.message) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(s), None) | (None, Some(s)) => s.clone(),
                (None, None) => "no explanation".into(),
            };
        }
    }
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "no explanation".into()
    } else {
        line.chars().take(200).collect()
    }
}

/// How often and how patiently failed requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff; it doubles with each retry.
    pub base_delay: Duration,
    /// The longest wait, whatever `Retry-After` asks.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        self.base_delay
            .saturating_mul(1 << retry.min(16))
            .min(self.max_delay)
    }
}

/// Settings the transport is built with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub certs_dirs: Vec<PathBuf>,
    pub stall_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    pub user_agent: String,
}

/// What a request is sent to.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A path (with query) on the endpoint's host: `/v2/library/busybox/manifests/latest`.
    Path(String),
    /// An absolute URL (an upload location); it gets the registry's credentials only if it is on the
    /// endpoint's host.
    Url(String),
}

/// A request, without its body.
#[derive(Debug, Clone)]
pub(crate) struct Request<'a> {
    pub method: &'static str,
    pub endpoint: &'a Endpoint,
    pub target: Target,
    pub headers: Vec<(&'static str, String)>,
    /// The token scopes it needs (`repository:library/busybox:pull`).
    pub scopes: Vec<String>,
    /// How the request is named in errors (`manifest busybox:latest`).
    pub what: String,
}

impl<'a> Request<'a> {
    pub fn new(
        method: &'static str,
        endpoint: &'a Endpoint,
        target: Target,
        what: impl Into<String>,
    ) -> Self {
        Self {
            method,
            endpoint,
            target,
            headers: Vec::new(),
            scopes: Vec::new(),
            what: what.into(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn scope(mut self, scope: String) -> Self {
        self.scopes.push(scope);
        self
    }

    /// Whether this goes to a host other than the registry's (so no credentials go with it).
    fn foreign(&self) -> bool {
        match &self.target {
            Target::Path(_) => false,
            Target::Url(url) => url_host(url) != Some(self.endpoint.host.as_str()),
        }
    }
}

/// A request body.
pub(crate) enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// A stream of known length, sent once (never retried).
    Stream(&'a mut dyn Read, u64),
}

impl Body<'_> {
    fn replayable(&self) -> bool {
        !matches!(self, Body::Stream(..))
    }
}

#[derive(Default)]
struct State {
    agents: HashMap<String, Agent>,
    /// Hosts allowed plain HTTP, and whether they answered on it.
    plain_http: HashMap<String, bool>,
    challenges: HashMap<String, Challenge>,
    /// (host, scopes) → token and when it expires.
    tokens: HashMap<(String, String), (String, Instant)>,
    credentials: HashMap<String, Option<Credentials>>,
}

/// The connections, learned challenges and cached tokens of one client.
pub(crate) struct Transport {
    settings: Settings,
    credential_source: Arc<dyn CredentialSource>,
    state: Mutex<State>,
}

impl Transport {
    pub fn new(settings: Settings, credential_source: Arc<dyn CredentialSource>) -> Self {
        Self {
            settings,
            credential_source,
            state: Mutex::default(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Sends a request, authenticating and retrying as needed. Any status comes back as a response, except
    /// a final `401`, which is [`TransportError::Unauthorized`].
    pub fn send(&self, req: &Request<'_>, mut body: Body<'_>) -> Result<Response, TransportError> {
        let foreign = req.foreign();
        let mut reauthenticated = false;
        loop {
            let authorization = if foreign {
                None
            } else {
                self.authorization(req)?
            };
            let response = self.send_retrying(req, authorization.as_deref(), &mut body)?;
            if response.status() != 401 || foreign {
                return Ok(response);
            }
            let registry = &req.endpoint.registry;
            if reauthenticated || !body.replayable() {
                return Err(self.unauthorized(registry));
            }
            let Some(header) = response.header("www-authenticate") else {
                return Err(self.unauthorized(registry));
            };
            let challenge =
                Challenge::parse(header).map_err(|source| TransportError::Challenge {
                    registry: registry.clone(),
                    source,
                })?;
            let mut state = self.state.lock().unwrap();
            state
                .challenges
                .insert(req.endpoint.host.clone(), challenge);
            state
                .tokens
                .remove(&(req.endpoint.host.clone(), req.scopes.join(" ")));
            reauthenticated = true;
        }
    }

    fn unauthorized(&self, registry: &str) -> TransportError {
        let with_credentials = self.credentials(registry).is_some();
        TransportError::Unauthorized {
            registry: registry.to_string(),
            with_credentials,
        }
    }

    /// Credentials for a registry, asked of the source once.
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        if let Some(c) = self.state.lock().unwrap().credentials.get(registry) {
            return c.clone();
        }
        let found = self.credential_source.credentials(registry);
        self.state
            .lock()
            .unwrap()
            .credentials
            .insert(registry.to_string(), found.clone());
        found
    }

    /// The `Authorization` header for a request, given what its host asked for before.
    fn authorization(&self, req: &Request<'_>) -> Result<Option<String>, TransportError> {
        let host = &req.endpoint.host;
        let challenge = self.state.lock().unwrap().challenges.get(host).cloned();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self
                .credentials(&req.endpoint.registry)
                .map(|c| c.basic_header())),
            Some(Challenge::Bearer { realm, service }) => {
                let key = (host.clone(), req.scopes.join(" "));
                if let Some((token, expires)) = self.state.lock().unwrap().tokens.get(&key) {
                    if Instant::now() < *expires {
                        return Ok(Some(format!("Bearer {token}")));
                    }
                }
                let token = self.fetch_token(req, &realm, service.as_deref())?;
                // Renew a little early rather than send a token that expires on the way.
                let margin = (token.lifetime / 10).min(Duration::from_secs(10));
                let expires = Instant::now() + token.lifetime - margin;
                let header = format!("Bearer {}", token.value);
                self.state
                    .lock()
                    .unwrap()
                    .tokens
                    .insert(key, (token.value, expires));
                Ok(Some(header))
            }
        }
    }

    fn fetch_token(
        &self,
        req: &Request<'_>,
        realm: &str,
        service: Option<&str>,
    ) -> Result<auth::Token, TransportError> {
        let registry = &req.endpoint.registry;
        let realm_host = url_host(realm).unwrap_or(realm).to_string();
        let mut request = self.agent(&realm_host)?.get(realm);
        if let Some(service) = service {
            request = request.query("service", service);
        }
        for scope in &req.scopes {
            request = request.query("scope", scope);
        }
        let credentials = self.credentials(registry);
        if let Some(c) = &credentials {
            request = request.header("Authorization", c.basic_header());
        }
        let response = match request.call() {
            Ok(r) => Response(r),
            Err(e) => {
                return Err(TransportError::Unreachable {
                    host: realm_host,
                    what: format!("a token for {}", req.what),
                    source: Box::new(e),
                })
            }
        };
        match response.status() {
            401 | 403 => {
                return Err(TransportError::Unauthorized {
                    registry: registry.clone(),
                    with_credentials: credentials.is_some(),
                })
            }
            400.. => {
                return Err(TransportError::status(
                    &realm_host,
                    format!("a token request for {registry}"),
                    response,
                ))
            }
            _ => {}
        }
        let mut body = Vec::new();
        response
            .into_reader()
            .take(TOKEN_MAX)
            .read_to_end(&mut body)
            .map_err(|e| TransportError::Status {
                host: realm_host.clone(),
                what: format!("a token request for {registry}"),
                status: 200,
                message: format!("reading the answer: {e}"),
            })?;
        auth::parse_token(realm, &body).map_err(|source| TransportError::Challenge {
            registry: registry.clone(),
            source,
        })
    }

    fn send_retrying(
        &self,
        req: &Request<'_>,
        authorization: Option<&str>,
        body: &mut Body<'_>,
    ) -> Result<Response, TransportError> {
        let policy = self.settings.retry;
        let mut retry = 0;
        loop {
            let last = retry + 1 >= policy.attempts || !body.replayable();
            match self.send_once(req, authorization, body) {
                Ok(r) if !last && (r.status() == 429 || (500..=599).contains(&r.status())) => {
                    let wait = retry_after(&r)
                        .unwrap_or_else(|| policy.backoff(retry))
                        .min(policy.max_delay);
                    log::info!(
                        "{} answered {} to {}; retrying in {wait:?}",
                        req.endpoint.host,
                        r.status(),
                        req.what
                    );
                    std::thread::sleep(wait);
                }
                Err(TransportError::Unreachable { host, source, .. })
                    if !last && broken(&source) =>
                {
                    let wait = policy.backoff(retry);
                    log::info!(
                        "{host} broke the connection during {}: {source}; retrying in {wait:?}",
                        req.what
                    );
                    std::thread::sleep(wait);
                }
                other => return other,
            }
            retry += 1;
        }
    }

    fn send_once(
        &self,
        req: &Request<'_>,
        authorization: Option<&str>,
        body: &mut Body<'_>,
    ) -> Result<Response, TransportError> {
        let endpoint = req.endpoint;
        let path = match &req.target {
            Target::Url(url) => {
                let host = url_host(url).unwrap_or(&endpoint.host).to_string();
                return self.exchange(&host, url, req, authorization, body);
            }
            Target::Path(path) => path,
        };
        let host = &endpoint.host;
        let https = format!("https://{host}{path}");
        if !endpoint.insecure {
            return self.exchange(host, &https, req, authorization, body);
        }
        let http = format!("http://{host}{path}");
        let known = self.state.lock().unwrap().plain_http.get(host).copied();
        match known {
            Some(true) => self.exchange(host, &http, req, authorization, body),
            Some(false) => self.exchange(host, &https, req, authorization, body),
            None if !body.replayable() => self.exchange(host, &https, req, authorization, body),
            None => {
                let plain = match self.exchange(host, &https, req, authorization, body) {
                    Err(TransportError::Unreachable { source, .. }) => {
                        log::debug!("{host} does not answer HTTPS ({source}); trying HTTP");
                        let response = self.exchange(host, &http, req, authorization, body)?;
                        self.state
                            .lock()
                            .unwrap()
                            .plain_http
                            .insert(host.clone(), true);
                        return Ok(response);
                    }
                    other => other,
                };
                if plain.is_ok() {
                    self.state
                        .lock()
                        .unwrap()
                        .plain_http
                        .insert(host.clone(), false);
                }
                plain
            }
        }
    }

    /// One HTTP exchange; statuses are not errors here.
    fn exchange(
        &self,
        host: &str,
        url: &str,
        req: &Request<'_>,
        authorization: Option<&str>,
        body: &mut Body<'_>,
    ) -> Result<Response, TransportError> {
        let agent = self.agent(host)?;
        let mut request = ureq::http::Request::builder().method(req.method).uri(url);
        for (name, value) in &req.headers {
            request = request.header(*name, value);
        }
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        let unreachable = |e: ureq::Error| TransportError::Unreachable {
            host: host.to_string(),
            what: req.what.clone(),
            source: Box::new(e),
        };
        let result = match body {
            // A POST, PUT or PATCH without a body says `Content-Length: 0`: the client would otherwise send
            // it chunked, which some proxies in front of registries do not read.
            Body::Empty if matches!(req.method, "POST" | "PUT" | "PATCH") => request
                .body(&[][..])
                .map_err(|e| unreachable(e.into()))
                .and_then(|r| agent.run(r).map_err(unreachable)),
            Body::Empty => request
                .body(())
                .map_err(|e| unreachable(e.into()))
                .and_then(|r| agent.run(r).map_err(unreachable)),
            Body::Bytes(bytes) => request
                .body(*bytes)
                .map_err(|e| unreachable(e.into()))
                .and_then(|r| agent.run(r).map_err(unreachable)),
            Body::Stream(reader, len) => request
                .header("Content-Length", len.to_string())
                .body(ureq::SendBody::from_reader(&mut **reader))
                .map_err(|e| unreachable(e.into()))
                .and_then(|r| agent.run(r).map_err(unreachable)),
        };
        result.map(Response)
    }

    /// The agent for a host, made with its TLS settings on first use.
    pub fn agent(&self, host: &str) -> Result<Agent, TransportError> {
        if let Some(agent) = self.state.lock().unwrap().agents.get(host) {
            return Ok(agent.clone());
        }
        let tls = tls::client_config(&self.settings.certs_dirs, host).map_err(|source| {
            TransportError::Tls {
                host: host.to_string(),
                source,
            }
        })?;
        let config = Agent::config_builder()
            // Every status is an answer here; the callers tell what each means.
            .http_status_as_error(false)
            // Not the environment's proxy: the registry's own settings say how it is reached.
            .proxy(None)
            .timeout_connect(Some(self.settings.connect_timeout))
            .timeout_per_read(Some(self.settings.stall_timeout))
            .timeout_per_write(Some(self.settings.stall_timeout))
            .redirect_auth_headers(RedirectAuthHeaders::Never)
            .user_agent(&self.settings.user_agent)
            .input_buffer_size(INPUT_BUFFER)
            .build();
        let connector = TcpConnector::default().chain(tls::Connector::new(tls));
        let agent = Agent::with_parts(config, connector, DefaultResolver::default());
        self.state
            .lock()
            .unwrap()
            .agents
            .insert(host.to_string(), agent.clone());
        Ok(agent)
    }
}

/// Whether a request failed because the connection broke or stalled (worth another try), rather than for
/// a reason that would not change.
/// A connection that could not be made (refused, timed out, or a TLS handshake with a plain-HTTP server)
/// is not retried: the scheme fallback and the caller decide what comes next.
fn broken(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(t) => !matches!(t, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        ureq::Error::Io(e) => matches!(
            e.kind(),
            K::ConnectionReset
                | K::ConnectionAborted
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::TimedOut
        ),
        _ => false,
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not honoured).
fn retry_after(response: &Response) -> Option<Duration> {
    response
        .header("retry-after")?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The `host[:port]` of an absolute URL.
pub(crate) fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_are_explained_in_one_line() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(explain(body), "MANIFEST_UNKNOWN: manifest unknown");
        assert_eq!(explain(b"502 Bad Gateway\nmore"), "502 Bad Gateway");
        assert_eq!(explain(b""), "no explanation");
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(2), Duration::from_millis(350));
        assert_eq!(p.backoff(40), Duration::from_millis(350));
    }

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("https://a.example:5000/v2/x?y"),
            Some("a.example:5000")
        );
        assert_eq!(url_host("http://[::1]:5000"), Some("[::1]:5000"));
        assert_eq!(url_host("/v2/x"), None);
    }
}
