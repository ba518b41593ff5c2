use std::path::PathBuf;

use crate::error::CliResult;

/// Run the DNS server of container networks (minotaur starts it on demand; not for people)
///
/// Serves the names in DIR/config.json and DIR/records on each network's gateway address until no network has
/// containers. Record files are applied as they change; SIGHUP reloads the configuration, SIGTERM stops the
/// server.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The resolver directory: config.json, records/ and the lock file
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,

    /// The port to serve on every listener address
    #[arg(long, default_value_t = 53)]
    port: u16,

    /// Inherited pipe to write "ready" (or "error: ...") on once serving
    #[arg(long, value_name = "FD")]
    ready_fd: Option<i32>,

    /// Inherited descriptor of DIR/lock, already locked by the starting process
    #[arg(long, value_name = "FD")]
    lock_fd: Option<i32>,

    /// Fork, let the parent exit at once, and serve from a new session
    #[arg(long)]
    detach: bool,
}

pub fn run(args: Args) -> CliResult {
    let ready = args.ready_fd.map(minotaur_dns::adopt_fd).transpose()?;
    let lock = args.lock_fd.map(minotaur_dns::adopt_fd).transpose()?;
    if args.detach {
        minotaur_dns::detach()?;
    }
    minotaur_dns::serve_locked(&args.dir, args.port, ready, lock)?;
    Ok(0)
}
