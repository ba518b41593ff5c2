use std::time::SystemTime;

use minotaur_engine::container::Status;
use minotaur_engine::logs::{self, ReadOptions};
use minotaur_engine::process::alive;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Fetch the logs of a container
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Follow the log output until the container stops
    #[arg(short = 'f', long)]
    follow: bool,

    /// Number of lines to show from the end ("all" for every line)
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,

    /// Show timestamps
    #[arg(short = 't', long)]
    timestamps: bool,

    /// Show logs since a time (RFC 3339, Unix seconds) or a duration ago (10m, 1h30m)
    #[arg(long)]
    since: Option<String>,

    #[arg(value_name = "CONTAINER")]
    container: String,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let tail = match args.tail.as_str() {
        "all" => None,
        n => Some(n.parse::<usize>().map_err(|_| {
            anyhow::anyhow!("invalid --tail {n:?}: expected a number of lines or \"all\"")
        })?),
    };
    let since = args
        .since
        .as_deref()
        .map(|s| logs::parse_since(s, SystemTime::now()))
        .transpose()?;
    let opts = ReadOptions {
        tail,
        since,
        timestamps: args.timestamps,
    };
    let ctx = context(global);
    let c = ctx.find(&args.container)?;
    let path = ctx.paths.log(&c.id);
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    if args.follow {
        // Until the supervisor has recorded the exit: it copies what PID 1 wrote last after PID 1 is
        // gone, and records the exit only then.
        let running = || {
            ctx.find(c.id.as_str()).is_ok_and(|c| {
                let s = &c.state;
                s.status == Status::Running
                    && (alive(s.pid, s.pid_start_time)
                        || alive(s.supervisor_pid, s.supervisor_start_time))
            })
        };
        logs::follow(&path, &opts, running, &mut out, &mut err)?;
    } else {
        let recs = logs::read(&path, &opts)?;
        logs::print(&recs, &opts, &mut out, &mut err)?;
    }
    Ok(0)
}
