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
pub mod exec;
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

use crate::error::CliResult;
use crate::global::Global;

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

/// Runs `command`. `describe` builds the description of the whole command line, for the subcommands that
/// print it (`completion`, `man`).
pub fn run(global: &Global, command: Command, describe: fn() -> clap::Command) -> CliResult {
    match command {
        Command::Create(args) => create::run(global, args),
        Command::Cp(args) => cp::run(global, args),
        Command::Run(args) => run::run(global, args),
        Command::Exec(args) => exec::run(global, args),
        Command::Debug(args) => debug::run(global, args),
        Command::Capture(args) => capture::run(global, args),
        Command::Attach(args) => attach::run(global, args),
        Command::Start(args) => start::run(global, args),
        Command::Stop(args) => stop::run(global, args),
        Command::Restart(args) => restart::run(global, args),
        Command::Kill(args) => kill::run(global, args),
        Command::Rm(args) => rm::run(global, args),
        Command::Ps(args) => ps::run(global, args),
        Command::Logs(args) => logs::run(global, args),
        Command::Wait(args) => wait::run(global, args),
        Command::Inspect(args) => inspect::run(global, args),
        Command::Top(args) => top::run(global, args),
        Command::Rename(args) => rename::run(global, args),
        Command::Port(args) => port::run(global, args),
        Command::PortForward(args) => port_forward::run(global, args),
        Command::Network(args) => network::run(global, args),
        Command::Volume(args) => volume::run(global, args),
        Command::System(args) => system::run(global, args),
        Command::Container(args) => container::run(global, args),
        Command::Diff(args) => diff::run(global, args),
        Command::Events(args) => events::run(global, args),
        Command::Stats(args) => stats::run(global, args),
        Command::Version(args) => version::run(args),
        Command::Completion(args) => completion::run(args, describe()),
        Command::Man(args) => man::run(args, describe()),
        Command::Netns(args) => netns::run(args, global),
        Command::Nsenter(args) => nsenter::run(global, args),
        Command::Unshare(args) => unshare::run(args),
        Command::Lsns(args) => lsns::run(global, args),
        Command::Whois(args) => whois::run(global, args),
        Command::Graph(args) => graph::run(global, args),
        Command::Why(args) => why::run(global, args),
        Command::Load(args) => load::run(global, args),
        Command::Save(args) => save::run(global, args),
        Command::Import(args) => import::run(global, args),
        Command::Images(args) => images::run(global, args),
        Command::Image(args) => image::run(global, args),
        Command::Compose(args) => compose::run(global, args),
        Command::Kube(args) => kube::run(global, args),
        Command::Pull(args) => pull::run(global, args),
        Command::Push(args) => push::run(global, args),
        Command::Login(args) => login::run(global, args),
        Command::Logout(args) => logout::run(args),
        Command::History(args) => history::run(global, args),
        Command::Rmi(args) => rmi::run(global, args),
        Command::Tag(args) => tag::run(global, args),
        Command::Runtime(args) => runtime::run(args),
        Command::DnsServe(args) => dns_serve::run(args),
    }
}
