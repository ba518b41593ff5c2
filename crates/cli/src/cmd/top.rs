use std::fs;

use minotaur_ns::{NsId, NsKind};

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;
use crate::output;

/// Display the running processes of a container (as `ps -ef` shows them, host PIDs)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: String,
}

struct Proc {
    pid: i32,
    ppid: i32,
    uid: u32,
    tty: i32,
    ticks: u64,
    start: u64,
    cmd: String,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    let comm = stat[stat.find('(')? + 1..close].to_owned();
    let f: Vec<&str> = stat[close + 2..].split(' ').collect();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        String::from_utf8_lossy(&cmdline)
            .trim_end_matches('\0')
            .replace('\0', " ")
    };
    Some(Proc {
        pid,
        ppid: f.get(1)?.parse().ok()?,
        tty: f.get(4)?.parse().ok()?,
        ticks: f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
        start: f.get(19)?.parse().ok()?,
        uid,
        cmd,
    })
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let c = context(global).find(&args.container)?;
    if c.state.pid <= 0 || !minotaur_engine::process::alive(c.state.pid, c.state.pid_start_time) {
        return Err(anyhow::anyhow!("container {} is not running", c.name).into());
    }
    let target = NsId::of_path(NsKind::Pid.proc_path(c.state.pid))?;
    let users = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let user = |uid: u32| {
        users
            .lines()
            .find(|l| l.split(':').nth(2) == Some(uid.to_string().as_str()))
            .and_then(|l| l.split(':').next())
            .map(str::to_owned)
            .unwrap_or_else(|| uid.to_string())
    };
    // ps(1)'s STIME: the start time of day, from the boot time and the start in clock ticks since boot.
    let hz = 100u64;
    let btime: u64 = fs::read_to_string("/proc/stat")?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut rows = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if NsId::of_path(NsKind::Pid.proc_path(pid)).ok() != Some(target) {
            continue;
        }
        if let Some(p) = read_proc(pid) {
            rows.push(p);
        }
    }
    rows.sort_by_key(|p| p.pid);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|p| {
            let secs = p.ticks / hz;
            vec![
                user(p.uid),
                p.pid.to_string(),
                p.ppid.to_string(),
                "0".into(),
                {
                    let t = btime + p.start / hz;
                    format!("{:02}:{:02}", t / 3600 % 24, t / 60 % 60)
                },
                if p.tty == 0 {
                    "?".into()
                } else {
                    format!("pts/{}", p.tty & 0xff)
                },
                format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
                p.cmd.clone(),
            ]
        })
        .collect();
    // Docker's `top` aligns with `tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)`.
    let mut text = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"].join("\t") + "\n";
    for row in &cells {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    output::tabwriter(&mut std::io::stdout().lock(), &text, 20)?;
    Ok(0)
}
