//! Property tests of the parsers that take a user's text: `run`/`create` flag values, `--filter` expressions
//! (`ps`, `network ls`, `volume ls`, the prunes, `events`), `--since`/`--until` times and `--format` Go
//! templates. No input may panic or hang; each is accepted or
//! refused with a one-line error. Inputs are the seeds in `tests/seeds/<parser>/` with small edits made of the
//! grammar's own tokens (see `minotaur-fuzzkit`); failures found are kept in `proptest-regressions/`.

use std::time::{Duration, SystemTime};

use minotaur_engine::events::{self, Filter as EventsFilter};
use minotaur_engine::filters::{ContainerFilter, NetworkFilter};
use minotaur_engine::ids::ContainerName;
use minotaur_engine::parse;
use minotaur_engine::system::prune::Filter as PruneFilter;
use minotaur_engine::template::Format;
use minotaur_engine::volume::Filter as VolumeFilter;
use minotaur_fuzzkit::{assert_one_line, config, near, seed_lines, within};
use proptest::prelude::*;

fn seeds(parser: &str) -> Vec<String> {
    seed_lines(format!(
        "{}/tests/seeds/{parser}",
        env!("CARGO_MANIFEST_DIR")
    ))
}

/// The result of one parse: fine, or an error that reads as one line.
fn check<T, E: std::error::Error + 'static>(r: Result<T, E>) -> Option<T> {
    match r {
        Ok(t) => Some(t),
        Err(e) => {
            assert_one_line(&e);
            None
        }
    }
}

const PORT_TOKENS: &[&str] = &[
    ":",
    "::",
    "-",
    "/",
    "/tcp",
    "/udp",
    "[",
    "]",
    "[::1]",
    "0",
    "1",
    "65535",
    "65536",
    "99999",
    "127.0.0.1",
    "0.0.0.0",
    "8080",
    "80",
    "-1",
    " ",
    "\n",
];

fn check_ports(s: String) {
    within(&format!("-p {s:?}"), move || {
        if let Some(maps) = check(parse::ports(&s)) {
            assert!(!maps.is_empty(), "{s:?} published no port");
            for m in maps {
                assert_ne!(m.container_port, 0, "{s:?} gave container port 0");
                assert_ne!(m.host_port, Some(0), "{s:?} gave host port 0");
            }
        }
    });
}

const MOUNT_TOKENS: &[&str] = &[
    ",",
    "=",
    ":",
    "/",
    "..",
    "type=",
    "bind",
    "volume",
    "tmpfs",
    "source=",
    "src=",
    "target=",
    "dst=",
    "destination=",
    "readonly",
    "ro",
    "rw",
    "volume-nocopy",
    "tmpfs-size=",
    "tmpfs-mode=",
    "64m",
    "1777",
    "9",
    "true",
    "false",
    "nocopy",
    "z",
    "Z",
    "bind-propagation=",
    "\n",
    "\"",
    " ",
];

fn check_mount_like(s: String) {
    within(&format!("mount spec {s:?}"), move || {
        check(parse::volume(&s));
        check(parse::mount(&s));
        check(parse::tmpfs(&s));
        check(parse::volume_name(&s));
    });
}

const NUMBER_TOKENS: &[&str] = &[
    "0",
    "1",
    "9",
    ".",
    "e",
    "-",
    "+",
    "b",
    "k",
    "m",
    "g",
    "K",
    "M",
    "G",
    "t",
    "18446744073709551615",
    "99999999999999999999",
    " ",
    "=",
    "max-size",
    "max-file",
    "\n",
];

fn check_numbers(s: String) {
    within(&format!("number {s:?}"), move || {
        check(parse::size(&s));
        check(parse::nano_cpus(&s));
        check(parse::log_opt(&s));
    });
}

const WORD_TOKENS: &[&str] = &[
    "=",
    ":",
    "/",
    "container:",
    "host",
    "private",
    "-",
    "_",
    ".",
    " ",
    "\n",
    "\0",
    "é",
    "#",
];

fn check_words(s: String) {
    within(&format!("word {s:?}"), move || {
        check(parse::env(&s, |_| Some("v\nw".into())));
        check(parse::env_file(&s, |_| None));
        check(parse::ns_mode("pid", &s));
        check(s.parse::<ContainerName>());
    });
}

const FILTER_TOKENS: &[&str] = &[
    "=",
    "!=",
    "label",
    "label!",
    "until",
    "name",
    "id",
    "driver",
    "dangling",
    "container",
    "event",
    "image",
    "network",
    "type",
    "status",
    "health",
    "ancestor",
    "builtin",
    "custom",
    "healthy",
    "true",
    "false",
    "1",
    "0",
    "24h",
    "1h30m",
    "2006-01-02T15:04:05",
    "\n",
    " ",
    "99999999999999999999s",
    "T",
    "Z",
];

fn check_filters(s: String) {
    within(&format!("filter {s:?}"), move || {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        check(PruneFilter::parse(&s, now));
        check(s.parse::<VolumeFilter>());
        check(s.parse::<ContainerFilter>());
        check(s.parse::<NetworkFilter>());
        check(EventsFilter::parse(&[s.as_str(), "type=container"]));
        check(events::parse_time(&s, now));
    });
}

const TEMPLATE_TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    ".",
    ".Id",
    ".Name",
    ".State",
    ".Config.Labels",
    ".Mounts",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "\"",
    "`",
    " ",
    "range",
    "if",
    "else",
    "end",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "nil",
    "printf",
    "json",
    "join",
    "upper",
    "lower",
    "split",
    "title",
    "truncate",
    "pad",
    "index",
    "len",
    "println",
    "slice",
    "and",
    "or",
    "not",
    "eq",
    "%",
    "%d",
    "%s",
    "%v",
    "%q",
    "%*d",
    "%.*f",
    "%-08.3x",
    "999999999999",
    "1000001",
    "-1",
    "1e300",
    "/*",
    "*/",
    "\n",
];

/// What `inspect` documents look like, small: maps, lists, numbers, strings, booleans and null.
fn document() -> serde_json::Value {
    serde_json::json!({
        "Id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "Name": "/web",
        "Names": "web",
        "Status": "Up 2 seconds",
        "State": {"Running": true, "Pid": 4242, "ExitCode": 0, "Health": null},
        "Config": {"Cmd": ["sh", "-c", "echo hi"], "Labels": {"a": "1", "b": ""}, "Env": null},
        "Mounts": [{"Source": "/srv", "Destination": "/data", "RW": false}],
        "NetworkSettings": {"IPAddress": "172.17.0.2", "Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
        "Size": 1.5e300,
    })
}

fn check_template(s: String) {
    within(&format!("template {s:?}"), move || {
        if let Some(f) = check(Format::parse(&s)) {
            check(f.render(&document()));
            check(f.render(&serde_json::Value::Null));
        }
    });
}

#[test]
fn seeds_parse_or_fail_in_one_line() {
    seeds("ports").into_iter().for_each(check_ports);
    for p in ["volume", "mount", "tmpfs"] {
        seeds(p).into_iter().for_each(check_mount_like);
    }
    for p in ["size", "cpus", "log_opt"] {
        seeds(p).into_iter().for_each(check_numbers);
    }
    for p in ["env", "ns_mode", "container_name"] {
        seeds(p).into_iter().for_each(check_words);
    }
    for p in ["filters", "time"] {
        seeds(p).into_iter().for_each(check_filters);
    }
    seeds("template").into_iter().for_each(check_template);
}

proptest! {
    #![proptest_config(config(3000))]
    #[test]
    fn port_specs(s in near(seeds("ports"), PORT_TOKENS)) {
        check_ports(s);
    }
}

proptest! {
    #![proptest_config(config(3000))]
    #[test]
    fn mount_and_volume_specs(
        s in near([seeds("volume"), seeds("mount"), seeds("tmpfs")].concat(), MOUNT_TOKENS)
    ) {
        check_mount_like(s);
    }
}

proptest! {
    #![proptest_config(config(2000))]
    #[test]
    fn sizes_cpus_and_log_opts(
        s in near([seeds("size"), seeds("cpus"), seeds("log_opt")].concat(), NUMBER_TOKENS)
    ) {
        check_numbers(s);
    }
}

proptest! {
    #![proptest_config(config(2000))]
    #[test]
    fn env_ns_modes_and_names(
        s in near([seeds("env"), seeds("ns_mode"), seeds("container_name")].concat(), WORD_TOKENS)
    ) {
        check_words(s);
    }
}

proptest! {
    #![proptest_config(config(3000))]
    #[test]
    fn filters_and_times(s in near([seeds("filters"), seeds("time")].concat(), FILTER_TOKENS)) {
        check_filters(s);
    }
}

proptest! {
    #![proptest_config(config(3000))]
    #[test]
    fn go_templates(s in near(seeds("template"), TEMPLATE_TOKENS)) {
        check_template(s);
    }
}
