use std::path::PathBuf;

use anyhow::Context;
use oci_spec::runtime::Spec;

/// Write a starting config.json into the bundle directory
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bundle directory; the current directory by default
    #[arg(short, long)]
    bundle: Option<PathBuf>,

    /// A spec for a container made by an unprivileged user (a user namespace mapping that user)
    #[arg(long)]
    rootless: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let dir = args.bundle.unwrap_or_else(|| PathBuf::from("."));
    let path = dir.join("config.json");
    let spec = if args.rootless {
        Spec::rootless(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    } else {
        Spec::default()
    };
    let json = serde_json::to_string_pretty(&spec)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("create {}", path.display()))?;
    std::io::Write::write_all(&mut f, json.as_bytes())
        .with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}
