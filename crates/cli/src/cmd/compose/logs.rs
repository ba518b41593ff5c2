use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Duration;

use minotaur_engine::container::Status;
use minotaur_engine::context::Context;
use minotaur_engine::logs::{self, ReadOptions};
use minotaur_engine::process::alive;

use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// View output from containers, each line after its container's name (coloured on a terminal)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Follow log output
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs for each container ("all" for every line)
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    no_log_prefix: bool,
    /// Produce monochrome output
    #[arg(long)]
    no_color: bool,
    #[arg(value_name = "SERVICE")]
    service: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let tail = match args.tail.as_str() {
        "all" => None,
        n => Some(n.parse::<usize>().map_err(|_| {
            anyhow::anyhow!("invalid --tail {n:?}: expected a number of lines or \"all\"")
        })?),
    };
    let project = super::ls::project_or_name(compose)?;
    let ctx = context(global);
    let existing = minotaur_composer::project::containers(&ctx, &project.name, None)?;
    let list: Vec<_> = existing
        .services
        .into_values()
        .flatten()
        .filter(|c| {
            args.service.is_empty()
                || args
                    .service
                    .iter()
                    .any(|s| s == minotaur_composer::project::service_of(c))
        })
        .collect();
    let opts = ReadOptions {
        tail,
        since: None,
        timestamps: args.timestamps,
    };
    let width = list
        .iter()
        .map(|c| c.name.as_str().len())
        .max()
        .unwrap_or(0);
    let colour = super::colour() && !args.no_color;
    let out = Mutex::new(());
    std::thread::scope(|scope| {
        for (i, c) in list.iter().enumerate() {
            let prefix = if args.no_log_prefix {
                String::new()
            } else {
                prefix(c.name.as_str(), width, colour.then_some(i))
            };
            let (ctx, opts, out) = (ctx.clone(), opts.clone(), &out);
            let follow = args.follow;
            scope.spawn(move || -> Result<(), logs::LogError> {
                let mut w = Prefixed::new(prefix, out);
                let path = ctx.paths.log(&c.id);
                if follow {
                    let running = || is_running(&ctx, c.id.as_str());
                    logs::follow(&path, &opts, running, &mut w, &mut io::sink())
                } else {
                    let recs = logs::read(&path, &opts)?;
                    let mut e = io::sink();
                    logs::print(&recs, &opts, &mut w, &mut e).map_err(|source| {
                        logs::LogError::Read {
                            path: path.clone(),
                            source,
                        }
                    })
                }
            });
        }
    });
    Ok(0)
}

fn is_running(ctx: &Context, id: &str) -> bool {
    ctx.find(id).is_ok_and(|c| {
        c.state.status == Status::Running && alive(c.state.pid, c.state.pid_start_time)
    })
}

/// `NAME  | `, padded to the longest name, in one of docker compose's colours when `colour` is given.
fn prefix(name: &str, width: usize, colour: Option<usize>) -> String {
    const COLOURS: [u8; 6] = [36, 33, 32, 35, 34, 31];
    let text = format!("{name:<width$}  | ");
    match colour {
        Some(i) => format!("\x1b[{}m{text}\x1b[0m", COLOURS[i % COLOURS.len()]),
        None => text,
    }
}

/// A writer that puts a prefix before each line and writes whole lines to stdout under a lock, so the
/// lines of several containers do not interleave.
struct Prefixed<'a> {
    prefix: String,
    partial: Vec<u8>,
    lock: &'a Mutex<()>,
}

impl<'a> Prefixed<'a> {
    fn new(prefix: String, lock: &'a Mutex<()>) -> Prefixed<'a> {
        Prefixed {
            prefix,
            partial: Vec::new(),
            lock,
        }
    }
}

impl Write for Prefixed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(nl) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=nl).collect();
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = io::stdout().lock();
            out.write_all(self.prefix.as_bytes())?;
            out.write_all(&line)?;
            out.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `up` without `-d`: follows the logs of `containers` (service, name) until all have exited, or the first
/// has when `abort`; returns the exit code of the first to exit.
pub fn attach(
    global: &Global,
    containers: &[(String, String)],
    abort: bool,
) -> anyhow::Result<Option<i32>> {
    let ctx = context(global);
    let list: Vec<_> = containers
        .iter()
        .map(|(_, n)| ctx.find(n))
        .collect::<Result<_, _>>()?;
    let width = list
        .iter()
        .map(|c| c.name.as_str().len())
        .max()
        .unwrap_or(0);
    let colour = super::colour();
    let out = Mutex::new(());
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut first = None;
    std::thread::scope(|scope| {
        for (i, c) in list.iter().enumerate() {
            let prefix = prefix(c.name.as_str(), width, colour.then_some(i));
            let (ctx, out, done) = (ctx.clone(), &out, &done);
            scope.spawn(move || {
                let mut w = Prefixed::new(prefix, out);
                let running = || {
                    !done.load(std::sync::atomic::Ordering::Relaxed)
                        && is_running(&ctx, c.id.as_str())
                };
                let _ = logs::follow(
                    &ctx.paths.log(&c.id),
                    &ReadOptions::default(),
                    running,
                    &mut w,
                    &mut io::sink(),
                );
            });
        }
        // Polls the containers' states: the supervisor records each exit in the store.
        let mut exited = vec![false; list.len()];
        loop {
            for (i, c) in list.iter().enumerate() {
                if !exited[i] && !is_running(&ctx, c.id.as_str()) {
                    exited[i] = true;
                    let code = ctx
                        .find(c.id.as_str())
                        .map(|c| c.state.exit_code)
                        .unwrap_or(0);
                    first.get_or_insert(code);
                    let _g = out.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = writeln!(io::stdout(), "{} exited with code {code}", c.name);
                }
            }
            if exited.iter().all(|e| *e) || (abort && exited.iter().any(|e| *e)) {
                done.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    Ok(first)
}
