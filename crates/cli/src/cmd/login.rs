use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;
use minotaur_engine::image::login;
use minotaur_registry::Credentials;

use crate::error::CliResult;
use crate::global::Global;

/// Log in to a registry
///
/// The credentials are checked against the registry, then saved in Docker's config.json
/// ($DOCKER_CONFIG/config.json, otherwise ~/.docker/config.json), or given to its credential helper
/// (credsStore, credHelpers). REGISTRY defaults to Docker Hub.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Username
    #[arg(short, long)]
    username: Option<String>,

    /// Password (visible to other users of this machine: prefer --password-stdin)
    #[arg(short, long, conflicts_with = "password_stdin")]
    password: Option<String>,

    /// Read the password from standard input
    #[arg(long)]
    password_stdin: bool,

    #[arg(value_name = "REGISTRY")]
    server: Option<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let server = login::registry_name(args.server.as_deref())?;
    let stdin = std::io::stdin();
    let username = match args.username {
        Some(u) => u,
        None if args.password_stdin => {
            return Err(anyhow::anyhow!(
                "--password-stdin needs a username: give it with --username"
            )
            .into())
        }
        None => prompt(&stdin, "Username: ", true)?,
    };
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut p = String::new();
            stdin
                .lock()
                .read_line(&mut p)
                .context("cannot read the password from standard input")?;
            p.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => prompt(&stdin, "Password: ", false)?,
    };
    login::login(
        &global.registry(),
        &server,
        &Credentials::new(username, password),
    )?;
    writeln!(std::io::stdout(), "Login Succeeded")?;
    Ok(0)
}

/// Asks on a terminal (without echoing the answer unless `echo`); without one there is nobody to ask.
fn prompt(stdin: &std::io::Stdin, question: &str, echo: bool) -> anyhow::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    if !stdin.is_terminal() {
        anyhow::bail!(
            "no username or password given, and standard input is not a terminal to ask on"
        );
    }
    eprint!("{question}");
    let saved = if echo {
        None
    } else {
        let saved = tcgetattr(stdin).context("cannot read the terminal's settings")?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(stdin, SetArg::TCSANOW, &quiet).context("cannot turn off the terminal's echo")?;
        Some(saved)
    };
    let mut answer = String::new();
    let read = stdin.lock().read_line(&mut answer);
    if let Some(saved) = saved {
        let _ = tcsetattr(stdin, SetArg::TCSANOW, &saved);
        eprintln!();
    }
    read?;
    Ok(answer.trim_end_matches(['\n', '\r']).to_owned())
}
