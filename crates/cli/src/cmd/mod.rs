//! One module per subcommand; each has an `Args` struct (its `--help` is the doc comments) and a `run`.

mod attach;
mod capture;
pub mod cni;
mod completion;
mod compose;
mod container;
mod cp;
mod create;
mod debug;
mod diff;
mod dns_serve;
mod events;
mod exec;
mod graph;
mod history;
mod image;
mod image_prune;
mod images;
mod import;
mod inspect;
mod kill;
mod kube;
mod lifecycle;
mod load;
mod login;
mod logout;
mod logs;
mod lsns;
mod man;
mod netns;
mod network;
mod nsenter;
mod port;
mod port_forward;
mod ps;
mod pull;
mod push;
mod rename;
mod restart;
mod rm;
mod rmi;
mod run;
pub mod runtime;
mod save;
mod start;
mod stats;
mod stop;
mod system;
mod tag;
mod top;
mod unshare;
mod version;
mod volume;
mod wait;
mod whois;
mod why;

use clap::Subcommand;

use crate::cli::Cli;
use crate::error::CliResult;

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

#[derive(Debug, Subcommand)]
pub enum Command {
    Create(create::Args),
    Cp(cp::Args),
    Run(run::Args),
    Exec(exec::Args),
    Debug(debug::Args),
    Capture(capture::Args),
    Attach(attach::Args),
    Start(start::Args),
    Stop(stop::Args),
    Restart(restart::Args),
    Kill(kill::Args),
    Rm(rm::Args),
    Ps(ps::Args),
    Logs(logs::Args),
    Wait(wait::Args),
    Inspect(inspect::Args),
    Top(top::Args),
    Rename(rename::Args),
    Port(port::Args),
    PortForward(port_forward::Args),
    Network(network::Args),
    Volume(volume::Args),
    System(system::Args),
    Container(container::Args),
    Diff(diff::Args),
    Events(events::Args),
    Stats(stats::Args),
    Version(version::Args),
    Completion(completion::Args),
    Man(man::Args),
    Netns(netns::Args),
    Nsenter(nsenter::Args),
    Unshare(unshare::Args),
    Lsns(lsns::Args),
    Whois(whois::Args),
    Graph(graph::Args),
    Why(why::Args),
    Import(import::Args),
    Load(load::Args),
    Save(save::Args),
    Images(images::Args),
    Image(image::Args),
    Compose(compose::Args),
    Kube(kube::Args),
    Pull(pull::Args),
    Push(push::Args),
    Login(login::Args),
    Logout(logout::Args),
    History(history::Args),
    Rmi(rmi::Args),
    Tag(tag::Args),
    /// The OCI runtime command line (runc's), also answered as `minotaur-runc`
    Runtime(runtime::Args),
    #[command(hide = true)]
    DnsServe(dns_serve::Args),
}

pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Create(args) => create::run(&cli.global, args),
        Command::Cp(args) => cp::run(&cli.global, args),
        Command::Run(args) => run::run(&cli.global, args),
        Command::Exec(args) => exec::run(&cli.global, args),
        Command::Debug(args) => debug::run(&cli.global, args),
        Command::Capture(args) => capture::run(&cli.global, args),
        Command::Attach(args) => attach::run(&cli.global, args),
        Command::Start(args) => start::run(&cli.global, args),
        Command::Stop(args) => stop::run(&cli.global, args),
        Command::Restart(args) => restart::run(&cli.global, args),
        Command::Kill(args) => kill::run(&cli.global, args),
        Command::Rm(args) => rm::run(&cli.global, args),
        Command::Ps(args) => ps::run(&cli.global, args),
        Command::Logs(args) => logs::run(&cli.global, args),
        Command::Wait(args) => wait::run(&cli.global, args),
        Command::Inspect(args) => inspect::run(&cli.global, args),
        Command::Top(args) => top::run(&cli.global, args),
        Command::Rename(args) => rename::run(&cli.global, args),
        Command::Port(args) => port::run(&cli.global, args),
        Command::PortForward(args) => port_forward::run(&cli.global, args),
        Command::Network(args) => network::run(&cli.global, args),
        Command::Volume(args) => volume::run(&cli.global, args),
        Command::System(args) => system::run(&cli.global, args),
        Command::Container(args) => container::run(&cli.global, args),
        Command::Diff(args) => diff::run(&cli.global, args),
        Command::Events(args) => events::run(&cli.global, args),
        Command::Stats(args) => stats::run(&cli.global, args),
        Command::Version(args) => version::run(args),
        Command::Completion(args) => completion::run(args),
        Command::Man(args) => man::run(args),
        Command::Netns(args) => netns::run(args, &cli.global),
        Command::Nsenter(args) => nsenter::run(&cli.global, args),
        Command::Unshare(args) => unshare::run(args),
        Command::Lsns(args) => lsns::run(&cli.global, args),
        Command::Whois(args) => whois::run(&cli.global, args),
        Command::Graph(args) => graph::run(&cli.global, args),
        Command::Why(args) => why::run(&cli.global, args),
        Command::Load(args) => load::run(&cli.global, args),
        Command::Save(args) => save::run(&cli.global, args),
        Command::Import(args) => import::run(&cli.global, args),
        Command::Images(args) => images::run(&cli.global, args),
        Command::Image(args) => image::run(&cli.global, args),
        Command::Compose(args) => compose::run(&cli.global, args),
        Command::Kube(args) => kube::run(&cli.global, args),
        Command::Pull(args) => pull::run(&cli.global, args),
        Command::Push(args) => push::run(&cli.global, args),
        Command::Login(args) => login::run(&cli.global, args),
        Command::Logout(args) => logout::run(args),
        Command::History(args) => history::run(&cli.global, args),
        Command::Rmi(args) => rmi::run(&cli.global, args),
        Command::Tag(args) => tag::run(&cli.global, args),
        Command::Runtime(args) => runtime::run(args),
        Command::DnsServe(args) => dns_serve::run(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

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
