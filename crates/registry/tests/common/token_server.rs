//! A token server for distribution's token authentication: answers `GET /token?service=&scope=` with a
//! JWT signed by a test key whose certificate goes in the token's `x5c` header (and in the registry's
//! `rootcertbundle`). It grants every scope asked for, to one user (or to anyone when no user is set), and
//! counts the requests it served.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

pub const SERVICE: &str = "test-registry";
pub const ISSUER: &str = "test-issuer";

pub struct TokenServer {
    pub addr: String,
    stop: Arc<AtomicBool>,
    /// Token requests served (granted or refused).
    pub requests: Arc<AtomicUsize>,
    /// The scopes of each request.
    pub scopes: Arc<Mutex<Vec<Vec<String>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Signer {
    key: jsonwebtoken::EncodingKey,
    x5c: String,
    user: Option<(String, String)>,
}

impl TokenServer {
    pub fn start(cert: &Path, key: &Path, user: Option<(&str, &str)>) -> TokenServer {
        let signer = Arc::new(Signer {
            key: jsonwebtoken::EncodingKey::from_ec_pem(&std::fs::read(key).unwrap()).unwrap(),
            x5c: super::pki::pem_body(cert),
            user: user.map(|(u, p)| (u.to_string(), p.to_string())),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, requests, scopes) = (stop.clone(), requests.clone(), scopes.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    requests.fetch_add(1, Ordering::SeqCst);
                    let _ = serve(stream, &signer, &scopes);
                }
            })
        };
        TokenServer {
            addr,
            stop,
            requests,
            scopes,
            thread: Some(thread),
        }
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decode_query(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn serve(stream: TcpStream, signer: &Signer, log: &Mutex<Vec<Vec<String>>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let mut scopes = Vec::new();
    let mut service = String::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("scope", v)) => scopes.push(decode_query(v)),
            Some(("service", v)) => service = decode_query(v),
            _ => {}
        }
    }
    log.lock().unwrap().push(scopes.clone());
    let mut stream = stream;
    let allowed = match &signer.user {
        None => true,
        Some((u, p)) => {
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            );
            authorization.as_deref() == Some(expected.as_str())
        }
    };
    if !allowed || service != SERVICE {
        let body = r#"{"details":"access denied"}"#;
        write!(stream, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
        return Ok(());
    }
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": signer.user.as_ref().map_or("", |(u, _)| u.as_str()),
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{}", log.lock().unwrap().len()),
        "access": access,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.x5c = Some(vec![signer.x5c.clone()]);
    let token = jsonwebtoken::encode(&header, &claims, &signer.key).unwrap();
    let body = serde_json::json!({"token": token, "expires_in": 300}).to_string();
    write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    Ok(())
}
