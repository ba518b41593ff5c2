//! The top-level command line: global options shared by every subcommand.

use std::ffi::OsString;

use clap::{Args, FromArgMatches, Parser};

use crate::cmd::Command;
use crate::global::Global;
use crate::words::subcommand_name;

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

/// minotaur's own settings, as `Cli`'s derive gives them (a test keeps the two the same), for a parser built
/// with one subcommand.
fn top() -> clap::Command {
    clap::Command::new("minotaur")
        .group(clap::ArgGroup::new("Cli").multiple(true))
        .bin_name("minotaur")
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(true)
        .max_term_width(110)
        .subcommand_required(true)
        .arg_required_else_help(true)
}

/// Parses the command line. clap's derive builds the arguments of every subcommand (and of theirs) before
/// it looks at the command line, which was half the page faults of `minotaur --version` and more CPU than
/// the rest of the parse. So the command line is parsed first with only the subcommand it names built (its
/// first word after minotaur's own options, each of which takes a value). Anything but a clean parse
/// (help, `--version`, a mistake, a word that is no subcommand) is parsed again by the full parser, so that
/// what it prints, suggestions included, stays the same; only `minotaur --version` alone is answered without
/// any subcommand built, as the full parser answers it.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os().collect())
}

fn parse_from(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    if let Some(cli) = parse_one(&args) {
        return Ok(cli);
    }
    // `minotaur --version` needs no subcommand's parser either: the error that prints the version is the
    // same without them.
    if let [_, word] = args.as_slice() {
        if word == "--version" || word == "-V" {
            if let Err(version) = Global::augment_args(top()).try_get_matches_from(&args) {
                if version.kind() == clap::error::ErrorKind::DisplayVersion {
                    return Err(version);
                }
            }
        }
    }
    Cli::try_parse_from(args)
}

/// The command line parsed with only its subcommand's parser built, or `None` when that is not a clean
/// parse.
fn parse_one(args: &[OsString]) -> Option<Cli> {
    let sub = crate::cmd::parser_of(subcommand_name(args, &[])?)?;
    let parser = Global::augment_args(top()).subcommand(sub);
    let matches = parser.try_get_matches_from(args).ok()?;
    Cli::from_arg_matches(&matches).ok()
}

#[cfg(test)]
pub(crate) mod tests {
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

    pub(crate) fn args(line: &str) -> Vec<OsString> {
        line.split(' ').map(Into::into).collect()
    }

    /// `cmd` with the help texts of `from`.
    pub(crate) fn help_of(cmd: clap::Command, from: &clap::Command) -> clap::Command {
        let cmd = cmd.about(None::<&str>).long_about(None::<&str>);
        let cmd = match from.get_about() {
            Some(about) => cmd.about(about.clone()),
            None => cmd,
        };
        match from.get_long_about() {
            Some(about) => cmd.long_about(about.clone()),
            None => cmd,
        }
    }

    /// Fails naming the first setting in which two parsers differ.
    pub(crate) fn assert_same(rebuilt: &clap::Command, full: &clap::Command) {
        let (rebuilt, full) = (format!("{rebuilt:#?}"), format!("{full:#?}"));
        // The first line that differs, with the lines before it that say where it is.
        let lines: Vec<_> = rebuilt.lines().zip(full.lines()).collect();
        if let Some(at) = lines.iter().position(|(a, b)| a != b) {
            let context: Vec<_> = lines[at.saturating_sub(30)..at]
                .iter()
                .map(|l| l.0)
                .collect();
            panic!(
                "{}\nrebuilt: {}\nderive:  {}",
                context.join("\n"),
                lines[at].0,
                lines[at].1
            );
        }
        assert_eq!(rebuilt.lines().count(), full.lines().count());
    }

    /// `top()` and `parser_of` make what the derive makes: the full parser rebuilt from them, with the
    /// help texts only the derive's variants carry copied over, is the derive's, setting for setting.
    #[test]
    fn every_subcommand_parser_alone_is_the_derives() {
        let full = Cli::command();
        let mut rebuilt = Global::augment_args(top());
        for sub in full.get_subcommands() {
            let name = sub.get_name();
            let alone = crate::cmd::parser_of(name)
                .unwrap_or_else(|| panic!("no parser_of({name:?})"))
                .hide(sub.is_hide_set());
            rebuilt = rebuilt.subcommand(help_of(alone, sub));
        }
        let rebuilt = help_of(rebuilt, &full);
        assert_same(&rebuilt, &full);
        assert!(crate::cmd::parser_of("nosuch").is_none());
    }

    #[test]
    fn a_command_line_parsed_alone_is_what_the_full_parser_makes() {
        for line in [
            "minotaur exec c true",
            "minotaur exec -e A=1 -w /tmp -u 1:2 -i c sh -c x",
            "minotaur exec -d c ls --version -x",
            "minotaur ps",
            "minotaur ps -a --no-trunc",
            "minotaur --root /x exec c true",
            "minotaur --root=/x --log-level debug run --rm --network none host true",
            "minotaur --runroot /r --root ps ps -q",
            "minotaur run -d --name php -p 8080:80 -e A=1 -v /a:/b host sleep 1",
            "minotaur run --rm -it host sh -c --help",
            "minotaur create --name a host",
            "minotaur rm -f a b",
            "minotaur inspect --format {{.State.Pid}} c",
            "minotaur network create --internal --subnet 10.1.0.0/24 n",
            "minotaur container ls -a",
            "minotaur netns ls",
            "minotaur image ls",
            "minotaur compose -f a.yml -p p up -d",
            "minotaur system check --repair",
            "minotaur nsenter -t 1 -a true",
            "minotaur unshare -fpmuin --mount-proc true",
            "minotaur port-forward c -L 8080:80",
            "minotaur runtime --root /r state c",
            "minotaur dns-serve --dir /d --port 5353",
        ] {
            let alone = parse_one(&args(line)).expect(line);
            let full = Cli::try_parse_from(args(line)).expect(line);
            assert_eq!(format!("{alone:?}"), format!("{full:?}"), "{line}");
        }
    }

    #[test]
    fn anything_but_a_clean_parse_is_left_to_the_full_parser() {
        for line in [
            "minotaur",
            "minotaur --version",
            "minotaur -V",
            "minotaur --version ps",
            "minotaur --root /x --version",
            "minotaur --help",
            "minotaur help",
            "minotaur help run",
            "minotaur ps --help",
            "minotaur ps -h",
            "minotaur ps --version",
            "minotaur run --help",
            "minotaur exec --version",
            "minotaur exec c",
            "minotaur exec --bogus c true",
            "minotaur pss",
            "minotaur --root",
            "minotaur --bogus ps",
            "minotaur -x ps",
            "minotaur -- ps",
            "minotaur network",
            "minotaur network lss",
            "minotaur run",
        ] {
            assert!(parse_one(&args(line)).is_none(), "{line}");
            // And what the full parser then says is all that is said.
            let from = parse_from(args(line)).map(|c| format!("{c:?}"));
            let full = Cli::try_parse_from(args(line)).map(|c| format!("{c:?}"));
            match (from, full) {
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{line}");
                    assert_eq!(a.use_stderr(), b.use_stderr(), "{line}");
                    assert_eq!(a.render().to_string(), b.render().to_string(), "{line}");
                    assert_eq!(a.render().ansi().to_string(), b.render().ansi().to_string());
                }
                (a, b) => assert_eq!(a.ok(), b.ok(), "{line}"),
            }
        }
    }
}
