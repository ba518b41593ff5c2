use std::io::Write;

use minotaur_engine::image::login;

use crate::error::CliResult;

/// Log out from a registry: forget the credentials `login` saved for it
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The registry (default: Docker Hub)
    #[arg(value_name = "REGISTRY")]
    server: Option<String>,
}

pub fn run(args: Args) -> CliResult {
    let server = login::registry_name(args.server.as_deref())?;
    let mut out = std::io::stdout().lock();
    if login::logout(&server)? {
        writeln!(out, "Removing login credentials for {server}")?;
    } else {
        writeln!(out, "Not logged in to {server}")?;
    }
    Ok(0)
}
