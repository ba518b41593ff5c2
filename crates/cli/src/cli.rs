//! The top-level command line: global options shared by every subcommand.

use clap::Parser;

use crate::cmd::{exec, Command};
use crate::global::Global;

/// minotaur: a daemonless container engine built around kernel namespaces.
///
/// Runs isolated processes with Docker-style networks, and lets you see into, enter, debug and capture any
/// namespace on the machine: minotaur's own containers, any other process's, or a named network namespace.
#[derive(Debug, Parser)]
#[command(
    name = "minotaur",
    // Fixed, not argv[0]: installed as `docker` (a symbolic link, for scripts that call docker), minotaur
    // behaves and speaks as itself. Nothing else reads argv[0].
    bin_name = "minotaur",
    version,
    propagate_version = true,
    max_term_width = 110
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// The command line of `minotaur exec ...` parsed with only `exec`'s parser built, or `None` for any other
/// command line. clap's derive builds the parser of every subcommand before it looks at the arguments,
/// which costs an `exec` (whose time is measured against nsenter's) about a fifth of its CPU time.
/// Anything but a clean parse (help, `--version`, a mistake, options before the subcommand) is left to the
/// full parser, so that what it prints stays the same.
pub fn parse_exec() -> Option<Cli> {
    parse_exec_from(std::env::args_os().collect())
}

fn parse_exec_from(args: Vec<std::ffi::OsString>) -> Option<Cli> {
    use clap::{Args, FromArgMatches};
    if args.get(1).is_none_or(|a| a != "exec") {
        return None;
    }
    let parser = crate::cli::Global::augment_args(clap::Command::new("minotaur"))
        .subcommand(exec::Args::augment_args(clap::Command::new("exec")))
        .subcommand_required(true);
    let matches = parser.try_get_matches_from(args).ok()?;
    Cli::from_arg_matches(&matches).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn invoked_as_docker_it_is_minotaur() {
        let cli = Cli::try_parse_from(["/usr/local/bin/docker", "ps", "-a"]).unwrap();
        assert!(matches!(cli.command, Command::Ps(_)));
        let err = Cli::try_parse_from(["docker", "ps", "--bogus"]).unwrap_err();
        assert!(err.to_string().contains("Usage: minotaur ps"), "{err}");
        let mut cmd = Cli::command();
        assert!(cmd.render_usage().to_string().contains("minotaur"));
    }

    fn args(line: &str) -> Vec<std::ffi::OsString> {
        line.split(' ').map(Into::into).collect()
    }

    #[test]
    fn exec_parsed_alone_is_what_the_full_parser_makes() {
        for line in [
            "minotaur exec c true",
            "minotaur exec -e A=1 -w /tmp -u 1:2 -i c sh -c x",
            "minotaur exec -d c ls --version -x",
        ] {
            let fast = parse_exec_from(args(line)).expect(line);
            let full = Cli::try_parse_from(args(line)).expect(line);
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{line}");
        }
    }

    #[test]
    fn anything_but_a_clean_exec_is_left_to_the_full_parser() {
        for line in [
            "minotaur ps",
            "minotaur --root /x exec c true",
            "minotaur exec --help",
            "minotaur exec --version",
            "minotaur exec c",
            "minotaur exec --bogus c true",
        ] {
            assert!(parse_exec_from(args(line)).is_none(), "{line}");
        }
    }
}
