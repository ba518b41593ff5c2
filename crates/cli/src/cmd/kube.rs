//! `kube generate` and `kube play`: Kubernetes YAML from containers, played pods and compose projects,
//! and back.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use minotaur_engine::image::pull::{self as image_pull, PullOptions, PullPolicy};
use minotaur_kube::apply::{self, Event};
use minotaur_kube::generate::{self, Kind};
use minotaur_kube::play;
use minotaur_kube::{find, manifest};

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Kubernetes YAML: generate it from containers, play it as containers
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Generate(GenerateArgs),
    Play(PlayArgs),
}

/// Write a Pod (or a Deployment) for containers, a played pod or a compose project
#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// What to generate: `pod` or `deployment`
    #[arg(long = "type", default_value = "pod", value_parser = ["pod", "deployment"])]
    kind: String,
    /// Also write a Service for the containers' ports
    #[arg(short = 's', long)]
    service: bool,
    /// Write to this file instead of standard output
    #[arg(short = 'f', long = "filename")]
    file: Option<PathBuf>,
    /// Generate one object per service of this compose project
    #[arg(long, conflicts_with = "targets")]
    compose: Option<String>,
    /// Containers, played pods or Deployments
    #[arg(required_unless_present = "compose")]
    targets: Vec<String>,
}

/// Run the Pods and Deployments of a YAML file (`-` for standard input) as containers
#[derive(Debug, clap::Args)]
struct PlayArgs {
    /// Remove what the file's pods made (their volumes of PersistentVolumeClaims are kept)
    #[arg(long, conflicts_with = "replace")]
    down: bool,
    /// Remove pods of the same names first
    #[arg(long)]
    replace: bool,
    /// Fail on unknown kinds and fields instead of warning
    #[arg(long)]
    strict: bool,
    /// The network the pods join (the host's, with `hostNetwork: true`)
    #[arg(long, default_value = "bridge")]
    network: String,
    /// The YAML file, or `-`
    file: PathBuf,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    match args.command {
        Command::Generate(a) => generate(global, a),
        Command::Play(a) => play(global, a),
    }
}

fn generate(global: &Global, a: GenerateArgs) -> CliResult {
    let ctx = context(global);
    let all = find::all(&ctx)?;
    let groups = match &a.compose {
        Some(project) => find::project(&all, project)?,
        None => find::groups(&ctx, &all, &a.targets)?,
    };
    let kind = if a.kind == "deployment" {
        Kind::Deployment
    } else {
        Kind::Pod
    };
    let mut text = String::new();
    for g in &groups {
        for doc in generate::generate(g, kind, a.service) {
            if !text.is_empty() {
                text.push_str("---\n");
            }
            text.push_str(&minotaur_compose::output::to_yaml(&doc));
        }
    }
    match &a.file {
        Some(f) => std::fs::write(f, &text).with_context(|| format!("write {}", f.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(0)
}

fn play(global: &Global, a: PlayArgs) -> CliResult {
    let (text, label) = read(&a.file)?;
    let (objects, warnings) = manifest::read(&text, Path::new(&label))?;
    let node = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let plan = play::plan(&objects, node.trim(), &a.network)?;
    let warnings: Vec<&String> = warnings.iter().chain(&plan.warnings).collect();
    if a.strict {
        if let Some(w) = warnings.first() {
            return Err(CliError::with_code(1, anyhow::anyhow!("{w} (--strict)")));
        }
    }
    for w in &warnings {
        eprintln!("minotaur: warning: {w}");
    }
    let ctx = context(global);
    let mut report = |e: Event<'_>| {
        let line = match e {
            Event::Pod(n) => format!("Pod {n}"),
            Event::Container(n) => format!("Container {n}"),
            Event::Volume(n) => format!("Volume {n}"),
            Event::Removed(n) => format!("Removed {n}"),
        };
        let _ = writeln!(std::io::stdout(), "{line}");
    };
    if a.down {
        let names: Vec<&str> = plan.pods.iter().map(|p| p.name.as_str()).collect();
        apply::down(&ctx, &names, &mut report)?;
        return Ok(0);
    }
    let reporter =
        crate::progress::reporter(crate::progress::Mode::Auto, crate::progress::Stream::Stderr);
    for p in &plan.pods {
        for image in p.images() {
            image_pull::ensure(
                &ctx,
                &global.registry(),
                image,
                PullPolicy::Missing,
                &PullOptions::default(),
                reporter.as_ref(),
            )
            .map_err(|e| CliError::with_code(125, e))?;
        }
    }
    apply::apply(&ctx, &plan, a.replace, &mut report)?;
    Ok(0)
}

/// The file's text and the name errors give it.
fn read(file: &Path) -> Result<(String, String), CliError> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok((text, "<stdin>".into()));
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
    Ok((text, file.display().to_string()))
}
