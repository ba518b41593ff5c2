//! The `minotaur` command line: parses arguments, resolves them into what the library crates consume, runs one
//! subcommand, and reports its outcome once. See `docs/ARCHITECTURE.md` for the layers below.
#![forbid(unsafe_code)]

mod cli;
mod cmd;
mod error;
mod global;
mod output;
mod progress;
mod render;
mod words;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::CommandFactory;

fn main() -> ExitCode {
    // Called as `minotaur-runc` (a link to this binary), it answers runc's command line.
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0).file_name();
    if name == Some(std::ffi::OsStr::new("minotaur-runc")) {
        return runc_main();
    }
    // Called as `minotaur-cni`, it is a CNI plugin: environment and stdin in, JSON out.
    if name == Some(std::ffi::OsStr::new("minotaur-cni")) {
        return cmd::cni::main();
    }
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    cli.global.init_logging();
    match cmd::run(&cli.global, cli.command, cli::Cli::command) {
        Ok(code) => ExitCode::from(code),
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            // One line, the whole chain, never a backtrace (`{:#}` does not print one even when
            // RUST_BACKTRACE is set).
            eprintln!("minotaur: {:#}", err.error);
            ExitCode::from(err.code)
        }
    }
}

/// `minotaur-runc`: runc's command line, its errors printed as runc's are (one line on stderr).
fn runc_main() -> ExitCode {
    let args = match cmd::runtime::parse() {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 1 } else { 0 });
        }
    };
    match cmd::runtime::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("minotaur-runc: {:#}", err.error);
            ExitCode::from(err.code)
        }
    }
}

/// Reports a command-line error as one line. The exit status follows the tool being replaced: util-linux's
/// and iproute2's namespace tools exit 1 on bad usage, Docker's verbs 125. Help and version go to stdout.
fn usage_error(err: clap::Error) -> ExitCode {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let sub = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let code = match sub.as_deref() {
        Some("nsenter" | "unshare" | "lsns" | "netns") => 1,
        _ => 125,
    };
    let text = err.render().to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // clap lists what a message is about on indented lines right after it ("the following required
    // arguments were not provided:\n  <IMAGE>"): keep them, on the same line.
    let details: Vec<&str> = lines
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    let first = if details.is_empty() {
        first.to_owned()
    } else {
        format!("{first} {}", details.join(", "))
    };
    let help = match sub {
        Some(s) => format!("minotaur {s} --help"),
        None => "minotaur --help".to_owned(),
    };
    eprintln!("minotaur: {first} (see '{help}')");
    ExitCode::from(code)
}
