//! One module per subcommand; each has an `Args` struct (its `--help` is the doc comments) and a `run`.

mod completion;
mod create;
mod dns_serve;
mod exec;
mod graph;
mod image;
mod images;
mod import;
mod inspect;
mod kill;
mod load;
mod logs;
mod lsns;
mod man;
mod netns;
mod network;
mod nsenter;
mod port;
mod ps;
mod rename;
mod restart;
mod rm;
mod rmi;
mod run;
mod save;
mod start;
mod stop;
mod tag;
mod top;
mod unshare;
mod version;
mod wait;
mod whois;
mod why;

use clap::Subcommand;

use crate::cli::Cli;
use crate::error::CliResult;

#[derive(Debug, Subcommand)]
pub enum Command {
    Create(create::Args),
    Run(run::Args),
    Exec(exec::Args),
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
    Network(network::Args),
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
    Rmi(rmi::Args),
    Tag(tag::Args),
    #[command(hide = true)]
    DnsServe(dns_serve::Args),
}

pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Create(args) => create::run(&cli.global, args),
        Command::Run(args) => run::run(&cli.global, args),
        Command::Exec(args) => exec::run(&cli.global, args),
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
        Command::Network(args) => network::run(&cli.global, args),
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
        Command::Rmi(args) => rmi::run(&cli.global, args),
        Command::Tag(args) => tag::run(&cli.global, args),
        Command::DnsServe(args) => dns_serve::run(args),
    }
}
