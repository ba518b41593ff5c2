use std::collections::BTreeMap;
use std::io::Write;
use std::time::SystemTime;

use minotaur_engine::container::{Container, ListedConfig, Status};
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

/// A container as `ps` reads it: of its configuration, only what it shows and filters on.
type Listed = Container<ListedConfig>;

/// The fields Docker's `ps --format` templates use; only those `shown` says (building some costs a time
/// zone conversion or a join, for each of a thousand rows).
fn fields(
    c: &Listed,
    now: SystemTime,
    no_trunc: bool,
    ports: &[Published],
    networks: &[String],
    each: &mut dyn FnMut(&str, &dyn Fn() -> String),
) {
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
    for (k, v) in fields {
        each(k, v);
    }
}

/// A row for a `--format`: the fields `shown` says, as strings.
fn row(
    c: &Listed,
    now: SystemTime,
    no_trunc: bool,
    ports: &[Published],
    networks: &[String],
    shown: &dyn Fn(&str) -> bool,
) -> serde_json::Value {
    let mut row = serde_json::Map::new();
    fields(c, now, no_trunc, ports, networks, &mut |k, v| {
        if shown(k) {
            row.insert(k.to_owned(), serde_json::Value::String(v()));
        }
    });
    row.into()
}

/// Docker's default table, as [`output::list`] renders its format, without building a JSON
/// object per container on the way: the header and each row's [`DEFAULT_COLUMNS`] joined by tabs, aligned.
fn default_table(
    out: &mut impl Write,
    containers: &[Listed],
    now: SystemTime,
    no_trunc: bool,
    ports: &BTreeMap<String, Vec<Published>>,
    networks: &BTreeMap<String, Vec<String>>,
) -> std::io::Result<()> {
    let mut text = String::new();
    let header =
        DEFAULT_COLUMNS.map(|k| HEADERS.iter().find(|(f, _)| *f == k).map_or(k, |(_, h)| *h));
    text.push_str(&header.join("\t"));
    text.push('\n');
    for c in containers {
        let id = c.id.as_str();
        let ports = ports.get(id).map_or(&[][..], Vec::as_slice);
        let networks = networks.get(id).map_or(&[][..], Vec::as_slice);
        let mut cells: [String; DEFAULT_COLUMNS.len()] = Default::default();
        fields(c, now, no_trunc, ports, networks, &mut |k, v| {
            if let Some(i) = DEFAULT_COLUMNS.iter().position(|x| *x == k) {
                cells[i] = v();
            }
        });
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    output::tabwriter(out, &text, output::DOCKER_MIN_WIDTH)
}

/// The columns of Docker's default `ps` table, `table {{.ID}}\\t{{.Image}}\\t…`, in order.
const DEFAULT_COLUMNS: [&str; 7] = [
    "ID",
    "Image",
    "Command",
    "RunningFor",
    "Status",
    "Ports",
    "Names",
];

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
    let mut containers = ctx.list_as::<ListedConfig>()?;
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
    // One write for the lot (stdout alone writes each line as it ends).
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
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
        out.flush()?;
        return Ok(0);
    }
    let ports = network::all_published(&ctx)?;
    let mut networks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in network::attachments(&ctx, None, None)? {
        networks.entry(a.container_id).or_default().push(a.network);
    }
    let Some(format) = args.format.as_deref() else {
        default_table(&mut out, &keep, now, args.no_trunc, &ports, &networks)?;
        out.flush()?;
        return Ok(0);
    };
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
    out.flush()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker's default `ps` table as a format.
    const DEFAULT_FORMAT: &str =
        "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}";

    fn container(
        id: char,
        name: &str,
        config: serde_json::Value,
        state: serde_json::Value,
    ) -> Listed {
        Container {
            id: std::iter::repeat_n(id, 64)
                .collect::<String>()
                .try_into()
                .unwrap(),
            name: name.parse().unwrap(),
            created: "2026-12-07T03:01:56.480000000Z".to_owned(),
            config: serde_json::from_value(config).unwrap(),
            state: serde_json::from_value(state).unwrap(),
        }
    }

    fn config(cmd: &[&str], entrypoint: &[&str], network: &str) -> serde_json::Value {
        let mut c: serde_json::Value = serde_json::from_str(CONFIG).unwrap();
        c["cmd"] = serde_json::json!(cmd);
        c["entrypoint"] = serde_json::json!(entrypoint);
        c["host"]["network_mode"] = serde_json::json!(network);
        c
    }

    const CONFIG: &str = r#"{"hostname":"h","user":"","env":[],"cmd":[],"entrypoint":[],
        "working_dir":"","image":"docker.io/library/alpine:latest","image_id":"sha256:1","labels":{"a":"b"},
        "tty":false,"open_stdin":false,"stop_signal":"SIGTERM","stop_timeout":null,
        "host":{"binds":[],"volumes":[],"tmpfs":{},"read_only":false,"cap_add":[],"cap_drop":[],
        "privileged":false,"seccomp":"Default","no_new_privileges":false,"memory":null,"memory_swap":null,
        "nano_cpus":null,"cpu_shares":null,"pids_limit":null,"pid_mode":null,"ipc_mode":null,
        "uts_mode":null,"network_mode":"none","port_bindings":[],"auto_remove":false,"init":false,
        "networks":[],"dns":[],"dns_search":[],"dns_options":[],"extra_hosts":[],"exposed":[],
        "publish_all":false,"restart_policy":{"name":"no"},"log_opts":{}}}"#;

    fn state(status: &str, exit_code: i32) -> serde_json::Value {
        serde_json::json!({"status":status,"pid":0,"supervisor_pid":0,"exit_code":exit_code,"error":"",
            "oom_killed":false,"started_at":"2026-12-07T03:01:56.487972018Z",
            "finished_at":"2026-12-07T03:05:00.000000000Z","sandbox_key":null})
    }

    /// The default table written directly is what the template path makes of [`DEFAULT_FORMAT`], byte for
    /// byte (the integration tests compare that with Docker's).
    #[test]
    fn default_table_is_the_default_formats_output() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_612_000);
        let cs = [
            container(
                'a',
                "web",
                config(
                    &["nginx", "-g", "daemon off;"],
                    &["/docker-entrypoint.sh"],
                    "bridge",
                ),
                state("running", 0),
            ),
            container('b', "x", config(&["true"], &[], "none"), state("exited", 3)),
            container(
                'c',
                "created-one",
                config(&[], &["sh"], "host"),
                state("created", 0),
            ),
        ];
        let mut ports = BTreeMap::new();
        ports.insert(
            cs[0].id.as_str().to_owned(),
            vec![Published {
                proto: minotaur_engine::parse::Proto::Tcp,
                host_ip: None,
                host_port: 8080,
                container_port: 80,
            }],
        );
        let mut networks: BTreeMap<String, Vec<String>> = BTreeMap::new();
        networks.insert(
            cs[0].id.as_str().to_owned(),
            vec!["bridge".into(), "n2".into()],
        );
        for no_trunc in [false, true] {
            let mut direct = Vec::new();
            default_table(&mut direct, &cs, now, no_trunc, &ports, &networks).unwrap();
            let rows: Vec<serde_json::Value> = cs
                .iter()
                .map(|c| {
                    let id = c.id.as_str();
                    row(
                        c,
                        now,
                        no_trunc,
                        ports.get(id).map_or(&[][..], Vec::as_slice),
                        networks.get(id).map_or(&[][..], Vec::as_slice),
                        &|_| true,
                    )
                })
                .collect();
            let mut templated = Vec::new();
            output::list(&mut templated, DEFAULT_FORMAT, &rows, HEADERS).unwrap();
            let direct = String::from_utf8(direct).unwrap();
            assert_eq!(direct, String::from_utf8(templated).unwrap());
            assert!(direct.starts_with("CONTAINER ID"), "{direct}");
            assert!(direct.contains("8080->80/tcp"), "{direct}");
            assert_eq!(direct.lines().count(), 4, "{direct}");
        }
    }
}
