//! A real registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 at a free port,
//! with filesystem storage in a temporary directory, optionally with TLS, Basic or token authentication, or
//! as a pull-through cache of another registry. It is started with a generated YAML configuration, polled
//! until it answers, and killed by PID when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// Token authentication settings (`auth.token`).
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    /// PEM bundle of the certificates whose keys may sign tokens.
    pub root_cert_bundle: PathBuf,
}

/// How to run the registry.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Certificate and key (PEM) to serve HTTPS with.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// With `tls`: CA certificates that client certificates must be signed by (then required).
    pub client_cas: Option<PathBuf>,
    /// An htpasswd file (bcrypt) for Basic authentication.
    pub htpasswd: Option<PathBuf>,
    pub token: Option<TokenAuth>,
    /// Run as a pull-through cache of this registry URL.
    pub proxy: Option<String>,
}

/// A running registry; killed when dropped.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`, as references name it.
    pub host: String,
    pub dir: tempfile::TempDir,
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the registry binary is there; prints why a test is skipped otherwise.
pub fn available() -> bool {
    if Path::new(REGISTRY_BIN).exists() {
        true
    } else {
        println!("skipped: {REGISTRY_BIN} is not installed (Debian package docker-registry)");
        false
    }
}

impl Registry {
    pub fn start(options: Options) -> Registry {
        // Another process may take the port between our probe and the registry's bind: try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            std::fs::write(&config, yaml(&options, &host, dir.path())).unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut registry = Registry { child, host, dir };
            if registry.wait_ready(options.tls.is_none()) {
                return registry;
            }
        }
        panic!("docker-registry did not start");
    }

    /// Polls until `/v2/` answers (plain HTTP) or the port accepts connections (TLS); false if the process
    /// exited (the port was taken).
    fn wait_ready(&mut self, plain: bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(mut stream) = TcpStream::connect(&self.host) {
                if !plain {
                    return true;
                }
                let request = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.host);
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.")
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "docker-registry did not answer on {}: {}",
            self.host,
            self.log()
        );
    }

    /// The registry's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn yaml(options: &Options, host: &str, dir: &Path) -> String {
    let mut y = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {host}\n  secret: test-secret\n",
        dir.join("data").display()
    );
    if let Some((cert, key)) = &options.tls {
        y += &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        );
    }
    y += "health:\n  storagedriver:\n    enabled: false\n";
    if let Some(htpasswd) = &options.htpasswd {
        y += &format!(
            "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
            htpasswd.display()
        );
    }
    if let Some(t) = &options.token {
        y += &format!(
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            t.realm,
            t.service,
            t.issuer,
            t.root_cert_bundle.display()
        );
    }
    if let Some(remote) = &options.proxy {
        y += &format!("proxy:\n  remoteurl: {remote}\n");
    }
    y
}

/// Writes an htpasswd file (bcrypt, as distribution requires) with one user, using `htpasswd` from
/// apache2-utils; `None` (after printing why) if it is not installed.
pub fn htpasswd(dir: &Path, user: &str, password: &str) -> Option<PathBuf> {
    let out = match Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
    {
        Ok(out) if out.status.success() => out,
        _ => {
            println!("skipped: htpasswd (apache2-utils) is not installed");
            return None;
        }
    };
    let path = dir.join("htpasswd");
    std::fs::write(&path, out.stdout).unwrap();
    Some(path)
}
