//! `minotaur-cni`: this binary as a CNI plugin. A CNI runtime runs it with the `CNI_*` variables in its
//! environment and the network configuration on stdin; the result, or the spec's error document, goes to
//! stdout. minotaur's own directories come from `MINOTAUR_ROOT` and `MINOTAUR_RUNROOT`, as for every
//! command. The work is the engine's (`minotaur_engine::cni`).

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Parser;
use minotaur_engine::cni::{self, CniError, Invocation, SUPPORTED_VERSIONS};

use crate::global::context;
use crate::global::Global;

/// The global options, taken from the environment only (a CNI plugin gets no arguments).
#[derive(Debug, Parser)]
#[command(name = "minotaur-cni", no_binary_name = true)]
struct FromEnv {
    #[command(flatten)]
    global: Global,
}

/// Runs one CNI command and reports it the spec's way.
pub fn main() -> ExitCode {
    let global = match FromEnv::try_parse_from(std::iter::empty::<String>()) {
        Ok(f) => f.global,
        Err(e) => {
            let err = CniError::InvalidEnv(e.render().to_string().trim().to_owned());
            return fail(&err, SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.len() - 1]);
        }
    };
    if std::env::var_os("CNI_COMMAND").is_none_or(|c| c.is_empty()) {
        // What the reference plugins do when run by hand.
        eprintln!(
            "minotaur-cni: minotaur's network as a CNI plugin (CNI spec {})",
            SUPPORTED_VERSIONS.join(", ")
        );
        return ExitCode::SUCCESS;
    }
    global.init_logging();
    let mut config = Vec::new();
    let outcome = std::io::stdin()
        .read_to_end(&mut config)
        .map_err(CniError::Io)
        .and_then(|_| Invocation::from_env(|k| std::env::var(k).ok()))
        .and_then(|inv| cni::run(&context(&global), &inv, &config));
    let version = serde_json::from_slice::<serde_json::Value>(&config)
        .ok()
        .and_then(|v| v.get("cniVersion")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.len() - 1].to_owned());
    match outcome {
        Ok(doc) => {
            if let Some(doc) = doc {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{doc:#}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, &version),
    }
}

fn fail(e: &CniError, version: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{:#}", e.to_json(version));
    ExitCode::FAILURE
}
