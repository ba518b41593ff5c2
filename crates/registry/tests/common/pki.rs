//! Certificates for tests, made with the `openssl` command: a CA, server certificates for 127.0.0.1 signed
//! by it, client certificates, and a self-signed EC key pair for signing tokens.

use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `openssl` is there; prints why a test is skipped otherwise.
pub fn available() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: the openssl command is not installed");
    }
    ok
}

pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// A CA (`ca.crt`, `ca.key`) in `dir`.
    pub fn new(dir: &Path) -> Pki {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=minotaur test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            dir,
        );
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// `<name>.crt` and `<name>.key` signed by the CA, for 127.0.0.1 (server) or for a client.
    pub fn issue(&self, name: &str, server: bool) -> (PathBuf, PathBuf) {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let crt = format!("{name}.crt");
        let ext = format!("{name}.ext");
        openssl(
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
            &self.dir,
        );
        let extensions = if server {
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
        } else {
            "extendedKeyUsage=clientAuth\n"
        };
        std::fs::write(self.dir.join(&ext), extensions).unwrap();
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
            &self.dir,
        );
        (self.dir.join(crt), self.dir.join(key))
    }
}

/// A self-signed P-256 key pair for signing tokens: (certificate PEM path, PKCS#8 key PEM path).
pub fn token_signer(dir: &Path) -> (PathBuf, PathBuf) {
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "signer.key",
        ],
        dir,
    );
    openssl(
        &[
            "req",
            "-x509",
            "-key",
            "signer.key",
            "-out",
            "signer.crt",
            "-days",
            "2",
            "-subj",
            "/CN=token signer",
        ],
        dir,
    );
    (dir.join("signer.crt"), dir.join("signer.key"))
}

/// The base64 body of a one-certificate PEM file (the certificate's DER, as a JWT `x5c` entry wants it).
pub fn pem_body(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}
