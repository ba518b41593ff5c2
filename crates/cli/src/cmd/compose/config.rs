use std::io::Write;

use clap::ValueEnum;
use minotaur_compose::output::to_yaml;

use super::Args as ComposeArgs;
use crate::error::CliResult;

/// Check the compose files and print the project in its normalised form (interpolated, merged, every
/// short syntax in its long form)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    format: Format,
    /// Print the names of the enabled services, one per line
    #[arg(long)]
    services: bool,
    /// Print "SERVICE HASH" for these services (comma-separated, or "*" for all): the configuration hash
    /// `up` compares to decide whether to recreate a container
    #[arg(long, value_name = "SERVICES")]
    hash: Option<String>,
    /// Only check the files: print nothing
    #[arg(short, long)]
    quiet: bool,
    /// Fail on keys of the compose specification that minotaur does not implement, instead of warning
    #[arg(long)]
    strict: bool,
    /// Services to include (enabled whatever their profiles, with their dependencies)
    #[arg(value_name = "SERVICE")]
    service: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

pub fn run(compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&args.service, args.strict)?;
    let mut out = std::io::stdout().lock();
    if args.quiet {
        return Ok(0);
    }
    let services = loaded.project.services.keys();
    if args.services {
        for name in services {
            writeln!(out, "{name}")?;
        }
        return Ok(0);
    }
    if let Some(list) = &args.hash {
        let wanted: Vec<&str> = if list == "*" {
            services.map(String::as_str).collect()
        } else {
            list.split(',').map(str::trim).collect()
        };
        for name in wanted {
            let hash = loaded
                .service_hash(name)
                .ok_or_else(|| anyhow::anyhow!("no such service: {name}"))?;
            writeln!(out, "{name} {hash}")?;
        }
        return Ok(0);
    }
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&loaded.config)?)?,
        Format::Yaml => write!(out, "{}", to_yaml(&loaded.config))?,
    }
    Ok(0)
}
