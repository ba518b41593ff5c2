//! Checks that run no command in the container: a TCP connection or an HTTP GET, made by the supervisor
//! from inside the container's network namespace. Images often have no `curl` or `nc`, and Kubernetes'
//! `httpGet` and `tcpSocket` probes need none: the kubelet makes them from the node.
//!
//! The socket is made by a short-lived thread that joins the namespace (a socket keeps the namespace it
//! was made in: see `minotaur_net::netns::in_netns`), and everything after that (the connection, the
//! request, the response) is non-blocking, driven by the supervisor's poll loop like an exec'd check,
//! so a check never holds up the container's logs. No thread outlives the socket's making, so the
//! supervisor stays single-threaded when it clones a check or a restarted container.
//!
//! As the kubelet does: a status from 200 to 399 is healthy (a redirect is not followed), the response's
//! headers are all that is read, and `Host` is the URL's. `http` and `https` URLs with an IP address are
//! taken: there is no name resolution here.
//!
//! An `https` check speaks TLS through rustls (the registry client's stack, so the binary carries no
//! second one), driven by the same poll loop: rustls keeps the records, the socket stays non-blocking.
//! Like the kubelet's (Go's `InsecureSkipVerify`), it does not verify the server's certificate: a pod's
//! certificate is usually self-signed or names a Service, not the address probed. The handshake's own
//! signature is still checked against the certificate's key, so the peer must hold that key. No SNI is
//! sent, since the URL's host is an address (Go sends none for one either).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use nix::poll::PollFlags;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::step::Step;
use crate::healthcheck::Action;

/// Bytes of a response read before its headers must be complete.
const MAX_RESPONSE: usize = 16 * 1024;

/// What an `HTTP-GET` or `TCP` test failed on.
#[derive(Debug, thiserror::Error)]
pub enum NetProbeError {
    #[error(transparent)]
    Netns(#[from] minotaur_net::netns::NetnsError),
    #[error("cannot make a socket in the container's network namespace")]
    Socket(#[source] io::Error),
}

/// The request an `HTTP-GET` check sends.
fn request(path: &str, host: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut r = format!("GET {path} HTTP/1.1\r\n");
    let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !has("host") {
        r.push_str(&format!("Host: {host}\r\n"));
    }
    if !has("user-agent") {
        r.push_str("User-Agent: minotaur-probe\r\n");
    }
    if !has("accept") {
        r.push_str("Accept: */*\r\n");
    }
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("Connection: close\r\n\r\n");
    r.into_bytes()
}

enum Stage {
    Connecting,
    Writing,
    Reading,
    /// An `https` check once connected: the handshake, the request and the response, through rustls.
    Tls(Box<rustls::ClientConnection>),
    /// A gRPC check once connected.
    Grpc(Box<super::grpc::GrpcCall>),
}

/// A TCP or HTTP check under way.
pub(crate) struct NetProbe {
    sock: Socket,
    addr: SocketAddr,
    stage: Stage,
    /// The HTTP request still to send; `None` for a TCP check.
    request: Option<Vec<u8>>,
    /// Whether the request goes over TLS.
    tls: bool,
    /// The service a gRPC check asks about; `None` for another check.
    grpc: Option<String>,
    response: Vec<u8>,
}

impl NetProbe {
    /// Starts `action` (a TCP or HTTP check) from inside the network namespace of the nsfs file `netns`.
    pub(crate) fn start(netns: &Path, action: &Action) -> Result<NetProbe, String> {
        let mut grpc = None;
        let (addr, request, tls) = match action {
            Action::Tcp(a) => (*a, None, false),
            Action::Grpc { addr, service } => {
                grpc = Some(service.clone());
                (*addr, None, false)
            }
            Action::HttpGet {
                tls,
                addr,
                path,
                host,
                headers,
            } => (*addr, Some(request(path, host, headers)), *tls),
            Action::Exec(_) => return Err("an exec check has no socket".into()),
        };
        let sock = minotaur_net::netns::in_netns(netns, || -> Result<Socket, NetProbeError> {
            let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
                .map_err(NetProbeError::Socket)?;
            s.set_nonblocking(true).map_err(NetProbeError::Socket)?;
            Ok(s)
        })
        .map_err(|e| crate::error_chain(&e))?;
        match sock.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
            Err(e) => return Err(dial_error(addr, &e)),
        }
        Ok(NetProbe {
            sock,
            addr,
            stage: Stage::Connecting,
            request,
            tls,
            grpc,
            response: Vec::new(),
        })
    }

    /// The descriptor to poll and what for.
    pub(crate) fn interest(&self) -> (BorrowedFd<'_>, PollFlags) {
        let flags = match &self.stage {
            Stage::Connecting | Stage::Writing => PollFlags::POLLOUT,
            Stage::Reading => PollFlags::POLLIN,
            Stage::Tls(conn) if conn.wants_write() => PollFlags::POLLOUT,
            Stage::Tls(_) => PollFlags::POLLIN,
            Stage::Grpc(call) if call.wants_write() => PollFlags::POLLOUT,
            Stage::Grpc(_) => PollFlags::POLLIN,
        };
        (self.sock.as_fd(), flags)
    }

    /// Goes as far as the socket allows without blocking.
    pub(crate) fn step(&mut self) -> Step {
        loop {
            match &mut self.stage {
                Stage::Connecting => {
                    match self.sock.take_error() {
                        Ok(Some(e)) | Err(e) => return Step::Done(1, dial_error(self.addr, &e)),
                        Ok(None) => {}
                    }
                    if self.sock.peer_addr().is_err() {
                        return Step::Pending;
                    }
                    if let Some(service) = &self.grpc {
                        match super::grpc::GrpcCall::start(&self.sock, self.addr, service) {
                            Ok(call) => {
                                self.stage = Stage::Grpc(Box::new(call));
                                continue;
                            }
                            Err(e) => return Step::Done(1, format!("gRPC probe failed: {e}")),
                        }
                    }
                    match self.request.take() {
                        None => return Step::Done(0, format!("connected to {}", self.addr)),
                        Some(req) if self.tls => match tls_connection(self.addr, &req) {
                            Ok(conn) => self.stage = Stage::Tls(Box::new(conn)),
                            Err(e) => return Step::Done(1, format!("HTTPS probe failed: {e}")),
                        },
                        Some(req) => {
                            self.request = Some(req);
                            self.stage = Stage::Writing;
                        }
                    }
                }
                Stage::Writing => {
                    let req = self.request.as_mut().expect("an HTTP check has a request");
                    match (&self.sock).write(req) {
                        Ok(n) => {
                            req.drain(..n);
                            if req.is_empty() {
                                self.stage = Stage::Reading;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Pending,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Step::Done(1, format!("HTTP probe failed: {e}")),
                    }
                }
                Stage::Reading => {
                    let mut buf = [0u8; 4096];
                    match (&self.sock).read(&mut buf) {
                        Ok(0) => {
                            return Step::Done(
                                1,
                                "HTTP probe failed: the connection closed before the response's headers"
                                    .into(),
                            )
                        }
                        Ok(n) => self.response.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Pending,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Step::Done(1, format!("HTTP probe failed: {e}")),
                    }
                    if let Some(done) = verdict(&self.response) {
                        return done;
                    }
                }
                Stage::Tls(conn) => {
                    return tls_step(conn, &self.sock, &mut self.response);
                }
                Stage::Grpc(call) => return call.step(),
            }
        }
    }
}

/// Goes as far as the socket allows with an `https` check: writes what rustls has to send, reads what
/// the server sent, and hands the decrypted response to [`verdict`].
fn tls_step(
    conn: &mut rustls::ClientConnection,
    mut sock: &Socket,
    response: &mut Vec<u8>,
) -> Step {
    let failed = |conn: &rustls::ClientConnection, e: &dyn std::fmt::Display| {
        let what = if conn.is_handshaking() {
            "TLS handshake"
        } else {
            "HTTPS probe"
        };
        Step::Done(1, format!("{what} failed: {e}"))
    };
    loop {
        while conn.wants_write() {
            match conn.write_tls(&mut sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return failed(conn, &e),
            }
        }
        let mut buf = [0u8; 4096];
        match conn.reader().read(&mut buf) {
            Ok(0) => {
                return Step::Done(
                    1,
                    "HTTPS probe failed: the connection closed before the response's headers"
                        .into(),
                )
            }
            Ok(n) => {
                response.extend_from_slice(&buf[..n]);
                match verdict(response) {
                    Some(done) => return done,
                    None => continue,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return failed(conn, &"the connection closed")
            }
            Err(e) => return failed(conn, &e),
        }
        match conn.read_tls(&mut sock) {
            // The end of the stream: rustls now reports it through its reader, above.
            Ok(0) => {}
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Pending,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return failed(conn, &e),
        }
        if let Err(e) = conn.process_new_packets() {
            // The alert that tells the server why, if the socket takes it now.
            let _ = conn.write_tls(&mut sock);
            return failed(conn, &e);
        }
    }
}

/// A TLS client for `addr` with `request` queued (rustls sends it once the handshake is done).
fn tls_connection(
    addr: SocketAddr,
    request: &[u8],
) -> Result<rustls::ClientConnection, rustls::Error> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = match CONFIG.get() {
        Some(c) => c.clone(),
        None => {
            // ring, as the registry client uses: rustls deprecates it for lacking post-quantum key
            // exchange, which a probe of a pod's own port does not need.
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let c = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
                .with_no_client_auth();
            CONFIG.get_or_init(|| Arc::new(c)).clone()
        }
    };
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let mut conn = rustls::ClientConnection::new(config, name)?;
    conn.writer()
        .write_all(request)
        .map_err(|e| rustls::Error::General(e.to_string()))?;
    Ok(conn)
}

/// Accepts any server certificate, as the kubelet's probes do, but still checks the handshake's
/// signature against the certificate's key.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The result a response's beginning gives, once its headers are complete (or it cannot be HTTP).
fn verdict(response: &[u8]) -> Option<Step> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    match r.parse(response) {
        Ok(httparse::Status::Complete(_)) => {
            let code = r.code.unwrap_or(0);
            let text = format!("HTTP probe: status code {code}");
            Some(Step::Done(
                if (200..400).contains(&code) { 0 } else { 1 },
                text,
            ))
        }
        Ok(httparse::Status::Partial) if response.len() < MAX_RESPONSE => None,
        Ok(httparse::Status::Partial) => Some(Step::Done(
            1,
            "HTTP probe failed: the response's headers are too long".into(),
        )),
        Err(e) => Some(Step::Done(
            1,
            format!("HTTP probe failed: malformed response: {e}"),
        )),
    }
}

fn dial_error(addr: SocketAddr, e: &io::Error) -> String {
    format!("dial tcp {addr}: connect: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::healthcheck::{http_action, TargetError};

    #[test]
    fn urls_and_headers_become_a_request() {
        let a = http_action(
            "http://127.0.0.1:8080/healthz?x=1",
            &["X-Probe: yes".into()],
        )
        .unwrap();
        let Action::HttpGet {
            tls,
            addr,
            path,
            host,
            headers,
        } = &a
        else {
            panic!("{a:?}")
        };
        assert_eq!(addr.to_string(), "127.0.0.1:8080");
        assert!(!tls);
        assert_eq!(path, "/healthz?x=1");
        let req = String::from_utf8(request(path, host, headers)).unwrap();
        assert_eq!(
            req,
            "GET /healthz?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: minotaur-probe\r\n\
             Accept: */*\r\nX-Probe: yes\r\nConnection: close\r\n\r\n"
        );
        let Action::HttpGet { addr, .. } = http_action("http://[::1]/", &[]).unwrap() else {
            unreachable!()
        };
        assert_eq!(addr.to_string(), "[::1]:80");
        let Action::HttpGet { tls, addr, .. } = http_action("https://10.0.0.2/", &[]).unwrap()
        else {
            unreachable!()
        };
        assert_eq!((tls, addr.to_string().as_str()), (true, "10.0.0.2:443"));
        for (url, why) in [
            ("ftp://127.0.0.1/", "only http and https"),
            ("http://localhost/", "IP address"),
            ("nonsense", "relative URL"),
        ] {
            let e = http_action(url, &[]).unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
        }
        assert!(matches!(
            http_action("http://127.0.0.1/", &["nocolon".into()]),
            Err(TargetError::Header(h)) if h == "nocolon"
        ));
        assert!(http_action("http://127.0.0.1/", &["X: a\r\nY: b".into()]).is_err());
    }

    #[test]
    fn status_codes_from_200_to_399_are_healthy() {
        let code = |r: &[u8]| match verdict(r) {
            Some(Step::Done(c, _)) => Some(c),
            _ => None,
        };
        assert_eq!(code(b"HTTP/1.1 200 OK\r\n\r\n"), Some(0));
        assert_eq!(code(b"HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n"), Some(0));
        assert_eq!(code(b"HTTP/1.1 404 Not Found\r\n\r\n"), Some(1));
        assert_eq!(code(b"HTTP/1.1 503 Unavailable\r\n\r\n"), Some(1));
        assert_eq!(
            code(b"HTTP/1.1 200 OK\r\nContent-"),
            None,
            "headers not complete"
        );
        assert_eq!(code(b"SSH-2.0-OpenSSH\r\n\r\n"), Some(1));
    }
}
