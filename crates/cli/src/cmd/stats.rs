use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use minotaur_engine::container::{Container, Status};
use minotaur_engine::stats::{self, Sample};

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;
use crate::output;

/// Display a live stream of containers' resource usage: CPU, memory, network and block I/O, PIDs
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Format output using a Go template ('table ...' for a table), or 'json'
    #[arg(long)]
    format: Option<String>,
    /// Do not truncate output (accepted for Docker's command lines; nothing is truncated)
    #[arg(long)]
    no_trunc: bool,
    #[arg(value_name = "CONTAINER")]
    containers: Vec<String>,
}

/// Docker's default `stats` table.
const TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

const HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// The time between two samples: CPU % is the CPU time used over it.
const INTERVAL: Duration = Duration::from_secs(1);

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    let named = !args.containers.is_empty();
    let pick = || -> anyhow::Result<Vec<Container>> {
        Ok(if named {
            args.containers
                .iter()
                .map(|r| ctx.find_live(r))
                .collect::<Result<_, _>>()?
        } else {
            ctx.list()?
                .into_iter()
                .filter(|c| args.all || c.state.status == Status::Running)
                .collect()
        })
    };
    let format = args.format.as_deref().unwrap_or(TABLE);
    // A bad template is reported before any waiting.
    minotaur_engine::template::Format::parse(format.strip_prefix("table").unwrap_or(format))?;
    let host_memory = stats::host_memory();
    let mut out = std::io::stdout().lock();
    let clear = !args.no_stream && out.is_terminal();
    let mut prev: Vec<(Container, Sample)> = pick()?
        .into_iter()
        .map(|c| {
            let s = stats::sample(&ctx, &c);
            (c, s)
        })
        .collect();
    let mut next = Instant::now() + INTERVAL;
    loop {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += INTERVAL;
        let now: Vec<(Container, Sample)> = pick()?
            .into_iter()
            .map(|c| {
                let s = stats::sample(&ctx, &c);
                (c, s)
            })
            .collect();
        let rows: Vec<serde_json::Value> = now
            .iter()
            .map(|(c, s)| {
                let before = prev
                    .iter()
                    .find(|(p, _)| p.id == c.id)
                    .map_or(s, |(_, p)| p);
                stats::document(c, &stats::between(before, s, host_memory))
            })
            .collect();
        if clear {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        output::list(&mut out, format, &rows, HEADERS)?;
        out.flush()?;
        if args.no_stream {
            return Ok(0);
        }
        prev = now;
    }
}
