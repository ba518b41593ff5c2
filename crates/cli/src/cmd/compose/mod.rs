//! `minotaur compose`: the compose specification's projects. The options before the verb say which project
//! (files, name, profiles, environment files, directory); each verb is a file of this directory. The verbs
//! that run things call `minotaur-composer`; this module only parses, loads and prints.

mod config;
mod down;
mod exec;
mod images;
mod kill;
mod logs;
mod ls;
mod port;
mod ps;
mod pull;
mod restart;
mod rm;
mod run;
mod start;
mod stop;
mod top;
mod up;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use minotaur_compose::{Loaded, Options};
use minotaur_composer::Event;

use crate::error::CliResult;
use crate::global::Global;

/// Define and run multi-container applications from compose files
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Compose file; several are merged in order (default: compose.yaml, compose.yml, docker-compose.yaml or
    /// docker-compose.yml, searched in the current directory and its parents, or COMPOSE_FILE)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Vec<PathBuf>,
    /// Project name (default: the file's `name:`, COMPOSE_PROJECT_NAME, or the project directory's name)
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    project_name: Option<String>,
    /// Enable the services of a profile (default: COMPOSE_PROFILES)
    #[arg(long, value_name = "PROFILE")]
    profile: Vec<String>,
    /// Read interpolation variables from this file instead of the project directory's .env
    #[arg(long, value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// The directory relative paths are relative to (default: the first compose file's directory)
    #[arg(long, value_name = "DIR")]
    project_directory: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Config(config::Args),
    Up(up::Args),
    Down(down::Args),
    Ps(ps::Args),
    Pull(pull::Args),
    Logs(logs::Args),
    Exec(exec::Args),
    Run(run::Args),
    Start(start::Args),
    Stop(stop::Args),
    Restart(restart::Args),
    Rm(rm::Args),
    Kill(kill::Args),
    Top(top::Args),
    Port(port::Args),
    Images(images::Args),
    Ls(ls::Args),
}

pub fn run(global: &Global, args: Args) -> CliResult {
    match &args.command {
        Command::Config(c) => config::run(&args, c),
        Command::Up(c) => up::run(global, &args, c),
        Command::Down(c) => down::run(global, &args, c),
        Command::Ps(c) => ps::run(global, &args, c),
        Command::Pull(c) => pull::run(global, &args, c),
        Command::Logs(c) => logs::run(global, &args, c),
        Command::Exec(c) => exec::run(global, &args, c),
        Command::Run(c) => run::run(global, &args, c),
        Command::Start(c) => start::run(global, &args, c),
        Command::Stop(c) => stop::run(global, &args, c),
        Command::Restart(c) => restart::run(global, &args, c),
        Command::Rm(c) => rm::run(global, &args, c),
        Command::Kill(c) => kill::run(global, &args, c),
        Command::Top(c) => top::run(global, &args, c),
        Command::Port(c) => port::run(global, &args, c),
        Command::Images(c) => images::run(global, &args, c),
        Command::Ls(c) => ls::run(global, c),
    }
}

impl Args {
    /// Loads the project these options name, with `services` named on the command line, and prints the
    /// loader's warnings once.
    fn load(&self, services: &[String], strict: bool) -> anyhow::Result<Loaded> {
        let options = Options {
            files: self.file.clone(),
            project_name: self.project_name.clone(),
            profiles: self.profile.clone(),
            env_files: self.env_file.clone(),
            project_directory: self.project_directory.clone(),
            working_dir: std::env::current_dir()?,
            environment: std::env::vars().collect(),
            services: services.to_vec(),
            strict,
        };
        let loaded = minotaur_compose::load(&options)?;
        for w in &loaded.warnings {
            log::warn!("{w}");
        }
        Ok(loaded)
    }
}

/// Prints what a verb did as docker compose does without a terminal (` Container NAME  Started` on stderr),
/// `prefix` before each line (`DRY-RUN MODE - `). With `explain`, a recreation says why.
fn progress(prefix: &'static str, explain: bool) -> impl FnMut(Event) {
    move |e| {
        let mut err = std::io::stderr().lock();
        let _ = match e {
            Event::Network { name, action } => writeln!(err, "{prefix} Network {name}  {action}"),
            Event::Volume { name, action } => writeln!(err, "{prefix} Volume {name}  {action}"),
            Event::Container { name, action } => {
                writeln!(err, "{prefix} Container {name}  {action}")
            }
            Event::Image { name, action } => writeln!(err, "{prefix} Image {name}  {action}"),
            Event::Pull { service, status } => writeln!(err, "{prefix} {service} {status}"),
            Event::Recreate { name, reasons } if explain => writeln!(
                err,
                "{prefix} Container {name}  Recreate: changed {}",
                reasons.join(", ")
            ),
            Event::Recreate { .. } => Ok(()),
            Event::Warning(w) => writeln!(err, "WARN[0000] {w}"),
        };
    }
}

/// The values of `up --pull` and `run --pull`: `policy` is each service's own `pull_policy`.
const PULL_POLICIES: [&str; 5] = ["always", "missing", "never", "build", "policy"];

/// The policy a `--pull` value names, `None` for `policy`.
fn pull_policy(value: &str) -> Option<minotaur_composer::pull::Policy> {
    // Every value clap lets through parses, except `policy`.
    value.parse().ok()
}

/// Whether to colour service prefixes: on a terminal, unless NO_COLOR is set.
fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A table as docker compose prints it (Go's tabwriter, three spaces between columns).
fn table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut text = header.join("\t");
    text.push('\n');
    for r in rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    crate::output::tabwriter(out, &text, 0)
}
