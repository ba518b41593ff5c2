use std::io::Write;
use std::path::PathBuf;

use minotaur_runtime::state::{Container, Root, Status};
use minotaur_runtime::Cgroup;

/// List a container's processes
#[derive(Debug, clap::Args)]
pub struct Args {
    /// table or json (the PIDs)
    #[arg(short, long, default_value = "table")]
    format: String,

    /// The container's ID
    id: String,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let c = root.load(&args.id)?;
    if c.status() == Status::Stopped {
        anyhow::bail!("container {} is not running", c.record.id);
    }
    let pids = pids(&c)?;
    let mut out = std::io::stdout().lock();
    match args.format.as_str() {
        "json" => writeln!(out, "{}", serde_json::to_string(&pids)?)?,
        "table" => {
            let mut tw = tabwriter::TabWriter::new(out);
            writeln!(tw, "PID\tCMD")?;
            for pid in pids {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmd: Vec<String> = cmd
                    .split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                writeln!(tw, "{pid}\t{}", cmd.join(" "))?;
            }
            tw.flush()?;
        }
        other => anyhow::bail!("unknown format {other:?}: table or json"),
    }
    Ok(0)
}

/// The container's processes: its cgroup's, or without one the init and its descendants.
fn pids(c: &Container) -> anyhow::Result<Vec<i32>> {
    if let Some(path) = &c.record.cgroup {
        let cg = Cgroup::open(&PathBuf::from(minotaur_runtime::cgroup::DEFAULT_ROOT), path)?;
        return Ok(cg.procs()?);
    }
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 2..].split(' ').nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut pids = vec![c.record.pid];
    let mut i = 0;
    while i < pids.len() {
        let parent = pids[i];
        pids.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    pids.sort_unstable();
    Ok(pids)
}
