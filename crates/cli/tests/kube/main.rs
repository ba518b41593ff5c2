//! `kube generate` and `kube play` in a throwaway host: generate → play → generate is a fixpoint, the
//! generated manifests pass Kubernetes' own schemas (kubernetes-validate, when installed), ConfigMaps,
//! Secrets, init containers and Deployments play, probes run (httpGet and tcpSocket from inside the pod's
//! network, with no tool in the image; HTTPS without verifying the certificate; gRPC health checks; a
//! startup probe holds the others; a failing liveness probe restarts), a Service's name resolves to the
//! pods it selects while they are ready, `--down` leaves nothing, and bad input changes nothing.

#[path = "../common/mod.rs"]
mod common;

mod generate;
mod play;
mod probes;
mod service_ports;
mod services;

use std::path::Path;

use common::{fails, host, import_busybox, inspect, ok, show};
use minotaur_testhost::{wait_until, TestHost};

/// Validates `file` against Kubernetes' schemas, strictly (unknown fields fail), when the validator is
/// installed; says so when it is not.
fn validate(file: &Path) {
    let o = std::process::Command::new("python3")
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--quiet",
            "-k",
            "1.33.0",
        ])
        .arg(file)
        .output()
        .expect("python3 runs");
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("No module named kubernetes_validate") {
        eprintln!(
            "skipped: kubernetes-validate is not installed (pip install kubernetes-validate)"
        );
        return;
    }
    assert!(
        o.status.success(),
        "kubernetes-validate {}: {}{err}",
        file.display(),
        String::from_utf8_lossy(&o.stdout),
    );
}

fn write(h: &TestHost, name: &str, text: &str) -> String {
    let path = h.dir().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn names(h: &TestHost) -> Vec<String> {
    let mut v: Vec<String> = ok(h, &["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// Waits until `inspect -f TEMPLATE C` prints `want`.
fn wait_for(h: &TestHost, c: &str, template: &str, want: &str) {
    wait_until(&format!("{c}: {template} to be {want}"), || {
        let o = h.mino(&["inspect", "-f", template, c]);
        Ok(String::from_utf8_lossy(&o.stdout).trim() == want)
    })
    .unwrap_or_else(|e| panic!("{e}: {}", inspect(h, c, "{{json .State}}")));
}
