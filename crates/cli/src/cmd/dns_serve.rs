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

    /// Inherited UDP socket and TCP listener of one listener address, bound by the starting process
    #[arg(long, value_name = "UDP:TCP", value_parser = fd_pair)]
    listen_fds: Vec<(i32, i32)>,

    /// Fork, let the parent exit at once, and serve from a new session
    #[arg(long)]
    detach: bool,
}

pub fn run(args: Args) -> CliResult {
    let ready = args.ready_fd.map(minotaur_dns::adopt_fd).transpose()?;
    let lock = args.lock_fd.map(minotaur_dns::adopt_fd).transpose()?;
    let mut handed = Vec::new();
    for (udp, tcp) in args.listen_fds {
        let udp = std::net::UdpSocket::from(minotaur_dns::adopt_fd(udp)?);
        let tcp = std::net::TcpListener::from(minotaur_dns::adopt_fd(tcp)?);
        handed.push((udp, tcp));
    }
    if args.detach {
        minotaur_dns::detach()?;
    }
    minotaur_dns::serve_handed(&args.dir, args.port, ready, lock, handed)?;
    Ok(0)
}

/// `U:T`, two descriptor numbers.
fn fd_pair(s: &str) -> Result<(i32, i32), String> {
    let bad = || format!("{s:?} is not two descriptor numbers as UDP:TCP");
    let (u, t) = s.split_once(':').ok_or_else(bad)?;
    Ok((u.parse().map_err(|_| bad())?, t.parse().map_err(|_| bad())?))
}
