//! `minotaur lsns`: lsns(8) with a NAME column and the namespaces that only a bind mount holds.

use std::collections::HashMap;
use std::os::linux::fs::MetadataExt;
use std::path::Path;

use anyhow::anyhow;
use minotaur_engine::names::ContainerNames;
use minotaur_ns::discover::{self, Relations};
use minotaur_ns::netnsid::{NetnsId, NetnsIds};

use crate::global::context;
use crate::global::Global;
use minotaur_ns::{Namespace, NsKind};
use serde_json::Value;

use crate::error::{CliError, CliResult};
use crate::output;

/// List namespaces, with what each is known as
///
/// Lists every namespace that a process is in, plus those that only an nsfs bind mount keeps alive
/// (`ip netns add`, `unshare --net=FILE`), including bind mounts made inside other mount namespaces.
/// Takes util-linux lsns(8)'s options and columns. The default output adds a NAME column at the end:
/// the `ip netns` name of a network namespace, or the path of an nsfs bind mount that holds it
/// (`/proc/PID/root/PATH` when the mount is in another mount namespace). For util-linux's exact
/// columns use `-o NS,TYPE,NPROCS,PID,USER,COMMAND`. Output is always a list sorted by inode
/// (lsns's `--list`); `--json` is flat as with `lsns --json --list`.
#[derive(Debug, clap::Args)]
#[command(after_help = COLUMNS_HELP)]
pub struct Args {
    /// Show only the processes in the namespace with this inode number
    #[arg(value_name = "NAMESPACE")]
    namespace: Option<String>,

    /// Use JSON output format
    #[arg(short = 'J', long)]
    json: bool,

    /// Use list format output (the only format; accepted for compatibility)
    #[arg(short = 'l', long)]
    list: bool,

    /// Don't print headings
    #[arg(short = 'n', long)]
    noheadings: bool,

    /// Columns to print, comma-separated; `+COL,...` appends to the default columns
    #[arg(short = 'o', long, value_name = "LIST")]
    output: Option<String>,

    /// Output all columns
    #[arg(long)]
    output_all: bool,

    /// Print only the namespaces of the process with this PID
    #[arg(short = 'p', long = "task", value_name = "PID")]
    task: Option<String>,

    /// Use the raw output format
    #[arg(short = 'r', long)]
    raw: bool,

    /// Don't truncate text in columns (nothing is truncated; accepted for compatibility)
    #[arg(short = 'u', long)]
    notruncate: bool,

    /// Separate several NSFS mount points by commas in JSON too
    #[arg(short = 'W', long)]
    nowrap: bool,

    /// Namespace type to list (mnt, net, ipc, user, pid, uts, cgroup, time); repeatable
    #[arg(short = 't', long = "type", value_name = "NAME")]
    types: Vec<String>,
}

const COLUMNS_HELP: &str = "\
Available output columns:
         NS  namespace identifier (inode number)
       TYPE  kind of namespace
       PATH  path to the namespace
     NPROCS  number of processes in the namespace
        PID  lowest PID in the namespace
       PPID  PPID of the PID
    COMMAND  command line of the PID
        UID  UID of the PID (of the owner, when no process is in the namespace)
       USER  username of the PID (of the owner, when no process is in the namespace)
    NETNSID  namespace ID as used by network subsystem
       NSFS  nsfs mountpoint (usually used network subsystem)
        PNS  parent namespace identifier (inode number)
        ONS  owner namespace identifier (inode number)
       NAME  what the namespace is known as: its ip netns name or bind-mount path";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Ns,
    Type,
    Path,
    Nprocs,
    Pid,
    Ppid,
    Command,
    Uid,
    User,
    Netnsid,
    Nsfs,
    Pns,
    Ons,
    Name,
}

impl Column {
    const ALL: [Column; 14] = [
        Column::Ns,
        Column::Type,
        Column::Path,
        Column::Nprocs,
        Column::Pid,
        Column::Ppid,
        Column::Command,
        Column::Uid,
        Column::User,
        Column::Netnsid,
        Column::Nsfs,
        Column::Pns,
        Column::Ons,
        Column::Name,
    ];

    fn header(self) -> &'static str {
        match self {
            Column::Ns => "NS",
            Column::Type => "TYPE",
            Column::Path => "PATH",
            Column::Nprocs => "NPROCS",
            Column::Pid => "PID",
            Column::Ppid => "PPID",
            Column::Command => "COMMAND",
            Column::Uid => "UID",
            Column::User => "USER",
            Column::Netnsid => "NETNSID",
            Column::Nsfs => "NSFS",
            Column::Pns => "PNS",
            Column::Ons => "ONS",
            Column::Name => "NAME",
        }
    }

    /// Numbers are right-aligned in tables, as util-linux aligns them.
    fn right(self) -> bool {
        matches!(
            self,
            Column::Ns
                | Column::Nprocs
                | Column::Pid
                | Column::Ppid
                | Column::Uid
                | Column::Netnsid
                | Column::Pns
                | Column::Ons
        )
    }

    /// Columns util-linux prints as JSON numbers (NETNSID is a string there: it may say "unassigned").
    fn json_number(self) -> bool {
        self.right() && self != Column::Netnsid
    }

    fn parse(name: &str) -> Result<Column, CliError> {
        Column::ALL
            .into_iter()
            .find(|c| c.header().eq_ignore_ascii_case(name))
            .ok_or_else(|| CliError::with_code(1, anyhow!("unknown column: {name}")))
    }
}

/// A source of names for namespaces. The nsfs mounts are one; the engine will add its containers' names
/// through this seam without `minotaur-ns` learning what a container is.
pub trait Namer {
    /// The names `ns` is known by, best first.
    fn names(&self, ns: &Namespace) -> Vec<String>;
}

/// Names from nsfs bind mounts: `ip netns` names as such, other mounts as the path that opens them.
pub struct MountNamer;

impl Namer for MountNamer {
    fn names(&self, ns: &Namespace) -> Vec<String> {
        ns.mounts
            .iter()
            .map(|m| match m.netns_name() {
                Some(name) => name.to_owned(),
                None => m.path.display().to_string(),
            })
            .collect()
    }
}

/// Names from minotaur's containers: the containers a namespace belongs to.
struct ContainerNamer(ContainerNames);

impl Namer for ContainerNamer {
    fn names(&self, ns: &Namespace) -> Vec<String> {
        self.0.names_of(ns)
    }
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let containers = ContainerNamer(ContainerNames::load(&context(global)));
    run_with(args, &[&containers, &MountNamer])
}

/// What one listing shows.
struct Request {
    columns: Vec<Column>,
    kinds: Vec<NsKind>,
    task: Option<i32>,
    namespace: Option<u64>,
}

fn resolve(args: &Args) -> Result<Request, CliError> {
    let bad = |msg: String| CliError::with_code(1, anyhow!(msg));
    let kinds = args
        .types
        .iter()
        .map(|t| t.parse::<NsKind>().map_err(|e| CliError::with_code(1, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let task = match &args.task {
        Some(p) => Some(
            p.parse::<i32>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(format!("invalid PID argument: '{p}'")))?,
        ),
        None => None,
    };
    let namespace = match &args.namespace {
        Some(n) => Some(
            n.parse::<u64>()
                .map_err(|_| bad(format!("invalid namespace argument: '{n}'")))?,
        ),
        None => None,
    };
    if args.json && args.raw {
        return Err(bad(
            "options --json and --raw are mutually exclusive".to_owned()
        ));
    }
    if namespace.is_some() && task.is_some() {
        return Err(bad(
            "--task is mutually exclusive with <namespace>".to_owned()
        ));
    }
    // util-linux's defaults: the processes of one namespace, or the namespaces; a listing of network
    // namespaces adds their NETNSID and NSFS. NAME is minotaur's addition.
    let mut columns = if namespace.is_some() {
        vec![Column::Pid, Column::Ppid, Column::User, Column::Command]
    } else {
        let mut c = vec![
            Column::Ns,
            Column::Type,
            Column::Nprocs,
            Column::Pid,
            Column::User,
        ];
        if kinds.contains(&NsKind::Net) {
            c.extend([Column::Netnsid, Column::Nsfs]);
        }
        c.extend([Column::Command, Column::Name]);
        c
    };
    if args.output_all {
        columns = Column::ALL.to_vec();
    }
    if let Some(list) = &args.output {
        let (append, list) = match list.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, list.as_str()),
        };
        if !append {
            columns.clear();
        }
        for name in list.split(',') {
            columns.push(Column::parse(name)?);
        }
    }
    Ok(Request {
        columns,
        kinds,
        task,
        namespace,
    })
}

/// Runs `lsns` with `namers` asked, in order, for the NAME column.
pub fn run_with(args: Args, namers: &[&dyn Namer]) -> CliResult {
    let req = resolve(&args)?;
    let proc = Path::new("/proc");
    let all = discover::discover(proc, &req.kinds)?;

    // Rows are (namespace, process): one per namespace, or one per process of the namespace asked for.
    let rows: Vec<(&Namespace, Option<i32>)> = match req.namespace {
        Some(ino) => {
            let ns = all
                .iter()
                .find(|ns| ns.id.ino == ino)
                .ok_or_else(|| CliError::with_code(1, anyhow!("not found namespace: {ino}")))?;
            ns.pids.iter().map(|&pid| (ns, Some(pid))).collect()
        }
        None => all
            .iter()
            .filter(|ns| req.task.is_none_or(|pid| ns.has_pid(pid)))
            .map(|ns| (ns, ns.lowest_pid()))
            .collect(),
    };

    let nsfs_sep = if args.json && !args.nowrap { "\n" } else { "," };
    let mut facts = Facts {
        proc,
        users: HashMap::new(),
        relations: HashMap::new(),
        netns_ids: None,
        namers,
        nsfs_sep,
    };
    let cells: Vec<Vec<Option<String>>> = rows
        .iter()
        .map(|&(ns, pid)| {
            req.columns
                .iter()
                .map(|&c| facts.cell(c, ns, pid))
                .collect()
        })
        .collect();

    let mut out = std::io::stdout().lock();
    if args.json {
        let keys: Vec<String> = req
            .columns
            .iter()
            .map(|c| c.header().to_lowercase())
            .collect();
        let values: Vec<Vec<Value>> = cells
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .zip(&req.columns)
                    .map(|(cell, c)| json_value(cell, *c))
                    .collect()
            })
            .collect();
        output::json_records(&mut out, "namespaces", &keys, &values)?;
        return Ok(0);
    }
    if cells.is_empty() {
        // util-linux prints no heading over an empty table.
        return Ok(0);
    }
    let headers: Vec<&str> = req.columns.iter().map(|c| c.header()).collect();
    let header = (!args.noheadings).then_some(headers.as_slice());
    let text: Vec<Vec<String>> = cells
        .into_iter()
        .map(|row| row.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    if args.raw {
        output::raw(&mut out, header, &text)?;
    } else {
        let text: Vec<Vec<String>> = text
            .iter()
            .map(|row| row.iter().map(|c| output::printable(c)).collect())
            .collect();
        let right: Vec<bool> = req.columns.iter().map(|c| c.right()).collect();
        match header {
            Some(h) => output::table(&mut out, Some(h), &text, &right)?,
            None => output::table_sized_by_header(&mut out, &headers, &text, &right)?,
        }
    }
    Ok(0)
}

fn json_value(cell: Option<String>, column: Column) -> Value {
    match cell {
        None => Value::Null,
        Some(s) if column.json_number() => s
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or(Value::String(s)),
        Some(s) => Value::String(s),
    }
}

/// What the cells are computed from, read lazily: only the columns asked for cost anything.
struct Facts<'a> {
    proc: &'a Path,
    users: HashMap<u32, String>,
    relations: HashMap<u64, Relations>,
    /// The netlink socket for NETNSID, opened on first use (`None` inside: it could not be opened).
    netns_ids: Option<Option<NetnsIds>>,
    namers: &'a [&'a dyn Namer],
    nsfs_sep: &'a str,
}

impl Facts<'_> {
    fn cell(&mut self, column: Column, ns: &Namespace, pid: Option<i32>) -> Option<String> {
        match column {
            Column::Ns => Some(ns.id.ino.to_string()),
            Column::Type => Some(ns.kind.name().to_owned()),
            Column::Path => pid.map(|p| ns_path(self.proc, p, ns.kind)),
            Column::Nprocs => Some(ns.pids.len().to_string()),
            Column::Pid => pid.map(|p| p.to_string()),
            Column::Ppid => pid.and_then(|p| self.ppid(p)).map(|p| p.to_string()),
            Column::Command => pid.and_then(|p| self.command(p)),
            Column::Uid => self.uid(ns, pid).map(|u| u.to_string()),
            Column::User => self.uid(ns, pid).map(|u| self.user(u)),
            Column::Netnsid => self.netnsid(ns),
            Column::Nsfs => {
                let mut points: Vec<String> = Vec::new();
                for m in ns.mounts.iter().filter(|m| m.via_pid.is_none()) {
                    let p = m.mount_point.display().to_string();
                    if !points.contains(&p) {
                        points.push(p);
                    }
                }
                (!points.is_empty()).then(|| points.join(self.nsfs_sep))
            }
            Column::Pns => Some(self.relations(ns).parent.unwrap_or(0).to_string()),
            Column::Ons => Some(self.relations(ns).owner.unwrap_or(0).to_string()),
            Column::Name => {
                let names: Vec<String> = self.namers.iter().flat_map(|n| n.names(ns)).collect();
                (!names.is_empty()).then(|| names.join(","))
            }
        }
    }

    /// The owner of the process, as lsns reads it (the owner of `/proc/PID`); with no process, the UID
    /// that owns the namespace's user namespace.
    fn uid(&mut self, ns: &Namespace, pid: Option<i32>) -> Option<u32> {
        match pid {
            Some(p) => std::fs::metadata(self.proc.join(p.to_string()))
                .ok()
                .map(|m| m.st_uid()),
            None => self.relations(ns).owner_uid,
        }
    }

    fn user(&mut self, uid: u32) -> String {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
                    .unwrap_or_else(|| uid.to_string())
            })
            .clone()
    }

    /// The ID this network namespace has in ours, as lsns prints it; empty when it cannot be asked.
    fn netnsid(&mut self, ns: &Namespace) -> Option<String> {
        if ns.kind != NsKind::Net {
            return None;
        }
        let ids = self
            .netns_ids
            .get_or_insert_with(|| NetnsIds::open().ok())
            .as_mut()?;
        let file = std::fs::File::open(&ns.path).ok()?;
        match ids.get(&file).ok()? {
            NetnsId::Assigned(id) => Some(id.to_string()),
            NetnsId::Unassigned => Some("unassigned".to_owned()),
        }
    }

    fn relations(&mut self, ns: &Namespace) -> Relations {
        *self
            .relations
            .entry(ns.id.ino)
            .or_insert_with(|| discover::relations(&ns.path, ns.kind).unwrap_or_default())
    }

    /// The parent PID, from the field after the command name in `/proc/PID/stat` (the name may itself
    /// contain spaces and parentheses, so the line is split at its last `)`).
    fn ppid(&self, pid: i32) -> Option<i32> {
        let stat = std::fs::read_to_string(self.proc.join(format!("{pid}/stat"))).ok()?;
        let (_, rest) = stat.rsplit_once(')')?;
        rest.split_whitespace().nth(1)?.parse().ok()
    }

    /// The command line with its arguments joined by spaces, or the thread name for kernel threads.
    fn command(&self, pid: i32) -> Option<String> {
        let dir = self.proc.join(pid.to_string());
        if let Ok(raw) = std::fs::read(dir.join("cmdline")) {
            let raw = raw.strip_suffix(b"\0").unwrap_or(&raw);
            if !raw.is_empty() {
                let joined: Vec<u8> = raw.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
                return Some(String::from_utf8_lossy(&joined).into_owned());
            }
        }
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        Some(comm.trim_end_matches('\n').to_owned())
    }
}

fn ns_path(proc: &Path, pid: i32, kind: NsKind) -> String {
    proc.join(format!("{pid}/ns/{}", kind.name()))
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: Args,
    }

    fn resolve_args(argv: &[&str]) -> Result<Request, CliError> {
        let cmd = Cmd::try_parse_from(std::iter::once("lsns").chain(argv.iter().copied())).unwrap();
        resolve(&cmd.args)
    }

    fn headers(argv: &[&str]) -> Vec<&'static str> {
        resolve_args(argv)
            .unwrap()
            .columns
            .iter()
            .map(|c| c.header())
            .collect()
    }

    #[test]
    fn default_columns_are_util_linuxs_plus_name() {
        assert_eq!(
            headers(&[]),
            ["NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND", "NAME"]
        );
        assert_eq!(
            headers(&["-t", "net"]),
            ["NS", "TYPE", "NPROCS", "PID", "USER", "NETNSID", "NSFS", "COMMAND", "NAME"]
        );
        assert_eq!(headers(&["4026531840"]), ["PID", "PPID", "USER", "COMMAND"]);
    }

    #[test]
    fn output_replaces_or_appends_columns_case_insensitively() {
        assert_eq!(headers(&["-o", "ns,Type"]), ["NS", "TYPE"]);
        assert_eq!(
            headers(&["-o", "+ppid", "4026531840"]),
            ["PID", "PPID", "USER", "COMMAND", "PPID"]
        );
        assert_eq!(headers(&["--output-all"]).len(), Column::ALL.len());
    }

    #[test]
    fn bad_input_is_one_line_and_exit_1() {
        for (argv, msg) in [
            (&["-o", "NS,FOO"][..], "unknown column: FOO"),
            (&["-t", "network"], "unknown namespace type \"network\""),
            (&["-p", "abc"], "invalid PID argument: 'abc'"),
            (&["-p", "0"], "invalid PID argument: '0'"),
            (&["4026x"], "invalid namespace argument: '4026x'"),
            (
                &["-p", "1", "4026531840"],
                "--task is mutually exclusive with <namespace>",
            ),
        ] {
            let err = resolve_args(argv)
                .err()
                .unwrap_or_else(|| panic!("{argv:?} accepted"));
            assert_eq!(err.code, 1);
            let text = format!("{:#}", err.error);
            assert!(text.starts_with(msg), "{argv:?}: {text}");
            assert!(!text.contains('\n'));
        }
    }

    #[test]
    fn help_lists_every_column_once() {
        for c in Column::ALL {
            let line = format!(" {}  ", c.header());
            assert_eq!(COLUMNS_HELP.matches(&line).count(), 1, "{}", c.header());
        }
    }

    #[test]
    fn json_numbers_are_numbers_and_empty_cells_null() {
        assert_eq!(
            json_value(Some("42".into()), Column::Pid),
            Value::from(42u64)
        );
        assert_eq!(
            json_value(Some("7".into()), Column::Netnsid),
            Value::from("7")
        );
        assert_eq!(json_value(None, Column::Command), Value::Null);
    }
}
