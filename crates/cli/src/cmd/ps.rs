use std::io::Write;
use std::time::SystemTime;

use minotaur_engine::container::{Container, Status};
use minotaur_engine::filters::ContainerFilter;
use minotaur_engine::gofmt;
use minotaur_engine::human;
use minotaur_engine::network;
use minotaur_engine::network::Published;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;
use crate::output;

/// List containers (running ones, or all with -a)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all containers, not only running ones
    #[arg(short = 'a', long)]
    all: bool,

    /// Only print container IDs
    #[arg(short = 'q', long)]
    quiet: bool,

    /// Do not truncate IDs and commands
    #[arg(long)]
    no_trunc: bool,

    /// Filter: id=, name=, status=, label=KEY[=VALUE], ancestor=IMAGE, health=starting|healthy|unhealthy|none
    /// (repeatable; all must match)
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,

    /// Go template per container (`table` prefix for aligned columns with headers), or `json`
    #[arg(long)]
    format: Option<String>,

    /// Show the latest created container
    #[arg(short = 'l', long)]
    latest: bool,
}

/// The fields Docker's `ps --format` templates use; only those `shown` says (building some costs a time
/// zone conversion or a join, for each of a thousand rows).
fn row(
    c: &Container,
    now: SystemTime,
    no_trunc: bool,
    ports: &[Published],
    networks: &[String],
    shown: &dyn Fn(&str) -> bool,
) -> serde_json::Value {
    // The daemon's `Command`: the arguments joined by spaces, those with a space in single quotes.
    let command = || {
        let cmd: Vec<String> = c
            .config
            .entrypoint
            .iter()
            .chain(&c.config.cmd)
            .enumerate()
            .map(|(i, a)| {
                if i > 0 && a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            })
            .collect();
        let mut command = cmd.join(" ");
        if !no_trunc && command.chars().count() > 20 {
            command = command.chars().take(19).collect::<String>() + "…";
        }
        gofmt::quote(&command, false)
    };
    let id = || {
        if no_trunc {
            c.id.as_str().to_owned()
        } else {
            c.id.short().to_owned()
        }
    };
    let ago = || {
        let ago = human::since(&c.created, now)
            .map(human::duration)
            .unwrap_or_default();
        format!("{ago} ago")
    };
    // Bind mounts are named by their source, cut to 12 characters unless --no-trunc.
    let mounts = || {
        let mounts: Vec<String> = c
            .config
            .host
            .binds
            .iter()
            .map(|b| {
                let s = b.source.display().to_string();
                if no_trunc {
                    s
                } else {
                    s.chars().take(12).collect()
                }
            })
            .collect();
        mounts.join(",")
    };
    // Docker shows a stopped container's ports as none.
    let ports = || {
        if c.state.status == Status::Running {
            ports
                .iter()
                .map(Published::display)
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            String::new()
        }
    };
    let labels = || {
        c.config
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let networks = || {
        if networks.is_empty() {
            c.config.host.network_mode.clone()
        } else {
            networks.join(",")
        }
    };
    let fields: [(&str, &dyn Fn() -> String); 14] = [
        ("ID", &id),
        ("Image", &|| c.config.image.clone()),
        ("Command", &command),
        ("CreatedAt", &|| output::go_time(&c.created, false)),
        ("RunningFor", &ago),
        ("Ports", &ports),
        ("State", &|| c.state.status.as_str().to_owned()),
        ("Status", &|| human::status(&c.state, now)),
        ("Names", &|| c.name.as_str().to_owned()),
        ("Mounts", &mounts),
        // Only volumes count, and minotaur has none yet.
        ("LocalVolumes", &|| "0".to_owned()),
        // Sizes are not computed: Docker prints this when it was not asked to compute them either.
        ("Size", &|| "0B".to_owned()),
        ("Labels", &labels),
        ("Networks", &networks),
    ];
    fields
        .iter()
        .filter(|(k, _)| shown(k))
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Docker's default `ps` table.
const DEFAULT_FORMAT: &str =
    "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}";

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Networks", "NETWORKS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Size", "SIZE"),
];

pub fn run(global: &Global, args: Args) -> CliResult {
    // Bad filters are bad with no container to filter too.
    let filters = args
        .filter
        .iter()
        .map(|f| f.parse::<ContainerFilter>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::from)?;
    let now = SystemTime::now();
    // One context, so one connection to the store, for the list, the ports and the networks.
    let ctx = context(global);
    let mut containers = ctx.list()?;
    let mut keep = Vec::new();
    for c in containers.drain(..) {
        let mut ok = args.all || args.latest || c.state.status == Status::Running;
        ok &= filters.iter().all(|f| f.matches(&c, c.state.status));
        if ok {
            keep.push(c);
        }
    }
    // Newest first, as Docker lists them.
    keep.reverse();
    if args.latest {
        keep.truncate(1);
    }
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for c in &keep {
            writeln!(
                out,
                "{}",
                if args.no_trunc {
                    c.id.as_str()
                } else {
                    c.id.short()
                }
            )?;
        }
        return Ok(0);
    }
    let ports = network::all_published(&ctx)?;
    let mut networks: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for a in network::attachments(&ctx, None, None)? {
        networks.entry(a.container_id).or_default().push(a.network);
    }
    let format = args.format.as_deref().unwrap_or(DEFAULT_FORMAT);
    let fields = output::fields_shown(format);
    let shown = |k: &str| fields.as_ref().is_none_or(|f| f.iter().any(|x| x == k));
    let rows: Vec<serde_json::Value> = keep
        .iter()
        .map(|c| {
            let id = c.id.as_str();
            row(
                c,
                now,
                args.no_trunc,
                ports.get(id).map_or(&[][..], Vec::as_slice),
                networks.get(id).map_or(&[][..], Vec::as_slice),
                &shown,
            )
        })
        .collect();
    output::list(&mut out, format, &rows, HEADERS)?;
    Ok(0)
}
