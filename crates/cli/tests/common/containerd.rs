//! A containerd started in the throwaway host for the tests that put minotaur under it (`runc_callers.rs`:
//! `minotaur-runc` under the runc v2 shim; `cni_cri.rs`: `minotaur-cni` under the CRI plugin): its
//! configuration, root, state and sockets in the box's own directories, started in the box and killed by
//! its PID when dropped.

use std::io::Write;
use std::process::Output;

use minotaur_testhost::{wait_until, TestHost};

use super::show;

pub struct Containerd<'a> {
    pub h: &'a TestHost,
    pid: String,
    /// Its gRPC socket.
    pub socket: String,
    /// Its directory in the box's: `config.toml`, `root/`, `log`.
    pub dir: std::path::PathBuf,
}

impl<'a> Containerd<'a> {
    /// Starts containerd named `name` (its directory in the box's and its state under `/run/NAME`), with
    /// `extra` appended to its `config.toml` (plugin settings), and waits until `ctr version` answers.
    /// containerd passes its environment (the box's `MINOTAUR_*` directories) on to what it runs.
    pub fn start(h: &'a TestHost, name: &str, extra: &str) -> Containerd<'a> {
        let dir = h.dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.toml");
        let socket = format!("/run/{name}/containerd.sock");
        let mut f = std::fs::File::create(&config).unwrap();
        write!(
            f,
            "version = 2\nroot = \"{root}\"\nstate = \"/run/{name}/state\"\n\
             [grpc]\n  address = \"{socket}\"\n[ttrpc]\n  address = \"{socket}.ttrpc\"\n{extra}",
            root = dir.join("root").display(),
        )
        .unwrap();
        let pid = h
            .sh_ok(&format!(
                "mkdir -p /run/{name}; containerd --config {c} >{l} 2>&1 & echo $!",
                c = config.display(),
                l = dir.join("log").display()
            ))
            .trim()
            .to_owned();
        let d = Containerd {
            h,
            pid,
            socket,
            dir,
        };
        wait_until("containerd's socket", || {
            Ok(d.ctr(&["version"]).status.success())
        })
        .unwrap();
        d
    }

    /// Runs `ctr` against it (global flags such as `--namespace` first in `args`).
    pub fn ctr(&self, args: &[&str]) -> Output {
        self.h
            .command("ctr")
            .args(["--address", &self.socket])
            .args(args)
            .output()
            .expect("running ctr")
    }

    /// [`Containerd::ctr`], asserting success; its stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(out.status.success(), "ctr {args:?}: {}", show(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Containerd<'_> {
    fn drop(&mut self) {
        let _ = self.h.sh(&format!("kill {}", self.pid));
    }
}
