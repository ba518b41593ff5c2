//! `minotaur compose`: the compose specification's projects. The options before the verb say which project
//! (files, name, profiles, environment files, directory); each verb is a file of this directory.

mod config;

use std::path::PathBuf;

use minotaur_compose::{Loaded, Options};

use crate::error::CliResult;

/// Define and run multi-container applications from compose files
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Compose file; several are merged in order (default: compose.yaml, compose.yml, docker-compose.yaml or
    /// docker-compose.yml, searched in the current directory and its parents, or COMPOSE_FILE)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Vec<PathBuf>,
    /// Project name (default: COMPOSE_PROJECT_NAME, the file's `name:`, or the project directory's name)
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
}

pub fn run(args: Args) -> CliResult {
    match &args.command {
        Command::Config(c) => config::run(&args, c),
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
