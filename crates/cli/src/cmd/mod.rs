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

/// The parser of the subcommand `name` alone, as `Command`'s derive builds it among all the others, without
/// what only help shows (a variant's doc comment, `hide`); `None` for a name that is no subcommand. Building
/// every subcommand's arguments was the largest part of the binary's start (see `cli::parse`).
pub fn parser_of(name: &str) -> Option<clap::Command> {
    use clap::Args as _;
    Some(match name {
        "create" => create::Args::augment_args(clap::Command::new("create")),
        "cp" => cp::Args::augment_args(clap::Command::new("cp")),
        "run" => run::Args::augment_args(clap::Command::new("run")),
        "exec" => exec::Args::augment_args(clap::Command::new("exec")),
        "debug" => debug::Args::augment_args(clap::Command::new("debug")),
        "capture" => capture::Args::augment_args(clap::Command::new("capture")),
        "attach" => attach::Args::augment_args(clap::Command::new("attach")),
        "start" => start::Args::augment_args(clap::Command::new("start")),
        "stop" => stop::Args::augment_args(clap::Command::new("stop")),
        "restart" => restart::Args::augment_args(clap::Command::new("restart")),
        "kill" => kill::Args::augment_args(clap::Command::new("kill")),
        "rm" => rm::Args::augment_args(clap::Command::new("rm")),
        "ps" => ps::Args::augment_args(clap::Command::new("ps")),
        "logs" => logs::Args::augment_args(clap::Command::new("logs")),
        "wait" => wait::Args::augment_args(clap::Command::new("wait")),
        "inspect" => inspect::Args::augment_args(clap::Command::new("inspect")),
        "top" => top::Args::augment_args(clap::Command::new("top")),
        "rename" => rename::Args::augment_args(clap::Command::new("rename")),
        "port" => port::Args::augment_args(clap::Command::new("port")),
        "port-forward" => port_forward::Args::augment_args(clap::Command::new("port-forward")),
        "network" => network::Args::augment_args(clap::Command::new("network")),
        "volume" => volume::Args::augment_args(clap::Command::new("volume")),
        "system" => system::Args::augment_args(clap::Command::new("system")),
        "container" => container::Args::augment_args(clap::Command::new("container")),
        "diff" => diff::Args::augment_args(clap::Command::new("diff")),
        "events" => events::Args::augment_args(clap::Command::new("events")),
        "stats" => stats::Args::augment_args(clap::Command::new("stats")),
        "version" => version::Args::augment_args(clap::Command::new("version")),
        "completion" => completion::Args::augment_args(clap::Command::new("completion")),
        "man" => man::Args::augment_args(clap::Command::new("man")),
        "netns" => netns::Args::augment_args(clap::Command::new("netns")),
        "nsenter" => nsenter::Args::augment_args(clap::Command::new("nsenter")),
        "unshare" => unshare::Args::augment_args(clap::Command::new("unshare")),
        "lsns" => lsns::Args::augment_args(clap::Command::new("lsns")),
        "whois" => whois::Args::augment_args(clap::Command::new("whois")),
        "graph" => graph::Args::augment_args(clap::Command::new("graph")),
        "why" => why::Args::augment_args(clap::Command::new("why")),
        "import" => import::Args::augment_args(clap::Command::new("import")),
        "load" => load::Args::augment_args(clap::Command::new("load")),
        "save" => save::Args::augment_args(clap::Command::new("save")),
        "images" => images::Args::augment_args(clap::Command::new("images")),
        "image" => image::Args::augment_args(clap::Command::new("image")),
        "compose" => compose::Args::augment_args(clap::Command::new("compose")),
        "kube" => kube::Args::augment_args(clap::Command::new("kube")),
        "pull" => pull::Args::augment_args(clap::Command::new("pull")),
        "push" => push::Args::augment_args(clap::Command::new("push")),
        "login" => login::Args::augment_args(clap::Command::new("login")),
        "logout" => logout::Args::augment_args(clap::Command::new("logout")),
        "history" => history::Args::augment_args(clap::Command::new("history")),
        "rmi" => rmi::Args::augment_args(clap::Command::new("rmi")),
        "tag" => tag::Args::augment_args(clap::Command::new("tag")),
        "runtime" => runtime::Args::augment_args(clap::Command::new("runtime")),
        "dns-serve" => dns_serve::Args::augment_args(clap::Command::new("dns-serve")),
        _ => return None,
    })
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
