//! Parsers for the values of `run`/`create` flags, with Docker's syntax. Each bad value is an error that
//! names the flag and the value.

use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error(
        "invalid size {0:?}: expected a number with an optional unit b, k, m or g (e.g. 512m)"
    )]
    Size(String),
    #[error("invalid --cpus {0:?}: expected a positive decimal number of CPUs (e.g. 1.5)")]
    Cpus(String),
    #[error(
        "invalid volume specification {0:?}: expected [HOST-PATH|VOLUME:]CONTAINER-PATH[:ro|rw]"
    )]
    Volume(String),
    #[error("invalid --mount {0:?}: {1}")]
    Mount(String, String),
    #[error("invalid volume name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters")]
    VolumeName(String),
    #[error("invalid volume specification {0:?}: {1}")]
    VolumePath(String, &'static str),
    #[error("invalid --tmpfs {0:?}: expected an absolute CONTAINER-PATH[:OPTIONS]")]
    Tmpfs(String),
    #[error("invalid port specification {0:?}: {1}")]
    Port(String, &'static str),
    #[error("invalid environment variable {0:?}: the name must not be empty or contain '='")]
    Env(String),
    #[error("invalid --{0} {1:?}: expected host or container:NAME")]
    Mode(&'static str, String),
    #[error("invalid --log-opt {0:?}: {1}")]
    LogOpt(String, &'static str),
    #[error("invalid --ulimit {0:?}: {1}")]
    Ulimit(String, &'static str),
}

/// One `--ulimit NAME=SOFT[:HARD]`: a resource limit of the container's process (setrlimit(2)).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ulimit {
    /// Docker's name: `nofile`, `nproc`, `core`, … (see [`ULIMIT_NAMES`]).
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// The names `--ulimit` takes, as Docker's have them (each is `RLIMIT_` and the name in capitals).
pub const ULIMIT_NAMES: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Parses `--ulimit NAME=SOFT[:HARD]` as Docker does: a known name, whole numbers (`-1` or `unlimited`
/// for no limit), the hard limit the soft one unless given, and never a soft limit above the hard one.
pub fn ulimit(s: &str) -> Result<Ulimit, ParseError> {
    let bad = |why| ParseError::Ulimit(s.to_owned(), why);
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=SOFT[:HARD]"))?;
    if !ULIMIT_NAMES.contains(&name) {
        return Err(bad("unknown name (nofile, nproc, core, stack, memlock, …)"));
    }
    let number = |v: &str| match v {
        "-1" | "unlimited" => Ok(u64::MAX),
        _ => v
            .parse::<u64>()
            .map_err(|_| bad("limits are whole numbers, -1 or unlimited")),
    };
    let (soft, hard) = match values.split_once(':') {
        Some((soft, hard)) => (number(soft)?, number(hard)?),
        None => {
            let n = number(values)?;
            (n, n)
        }
    };
    if soft > hard {
        return Err(bad("the soft limit is above the hard one"));
    }
    Ok(Ulimit {
        name: name.to_owned(),
        soft,
        hard,
    })
}

/// Parses a `--log-opt KEY=VALUE` of the json-file driver: `max-size` (a size above zero, as `--memory`
/// takes it: `10m`) or `max-file` (how many files, at least 1; counts only with `max-size`).
pub fn log_opt(s: &str) -> Result<(String, String), ParseError> {
    let bad = |why| ParseError::LogOpt(s.to_owned(), why);
    let (key, value) = s.split_once('=').ok_or_else(|| bad("expected KEY=VALUE"))?;
    match key {
        "max-size" => {
            if size(value).map_err(|_| bad("max-size must be a size such as 10m"))? == 0 {
                return Err(bad("max-size must be above zero"));
            }
        }
        "max-file" => {
            if !value.parse::<u32>().is_ok_and(|n| n >= 1) {
                return Err(bad("max-file must be a whole number of at least 1"));
            }
        }
        _ => return Err(bad("the json-file driver takes max-size and max-file")),
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// Parses a byte size the way Docker's `--memory` does: `1024`, `512k`, `256m`, `1g` (binary units).
pub fn size(s: &str) -> Result<u64, ParseError> {
    let bad = || ParseError::Size(s.to_owned());
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix('b')
        .filter(|r| !r.is_empty() && r.ends_with(['k', 'm', 'g']))
        .unwrap_or(&t);
    let (num, mult) = match t.chars().last().ok_or_else(bad)? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        'b' => (&t[..t.len() - 1], 1),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(bad());
    }
    Ok((n * mult as f64) as u64)
}

/// Parses `--cpus` into billionths of a CPU (Docker's NanoCpus).
pub fn nano_cpus(s: &str) -> Result<i64, ParseError> {
    let n: f64 = s
        .trim()
        .parse()
        .map_err(|_| ParseError::Cpus(s.to_owned()))?;
    if !(n.is_finite() && n > 0.0 && n <= 4096.0) {
        return Err(ParseError::Cpus(s.to_owned()));
    }
    Ok((n * 1e9).round() as i64)
}

/// A bind mount from `-v HOST:CONTAINER[:ro]`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bind {
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
}

/// A volume mounted into a container: `-v NAME:/path`, `-v /path` (anonymous), `--mount type=volume`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VolumeMount {
    /// The volume's name; empty for an anonymous volume until `create` names it.
    pub name: String,
    pub destination: PathBuf,
    pub read_only: bool,
    /// `volume-nocopy`: a new volume is not filled from the image.
    #[serde(default)]
    pub no_copy: bool,
    /// Made for this container alone (`-v /path`), and removed with it by `run --rm` and `rm -v`.
    #[serde(default)]
    pub anonymous: bool,
    /// Where the volume's data is on the host (set by `create`).
    #[serde(default)]
    pub source: PathBuf,
}

/// What one `-v` or `--mount` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountRequest {
    Bind(Bind),
    Volume(VolumeMount),
    /// A tmpfs at the path, with its mount options (`size=…,mode=…`).
    Tmpfs(PathBuf, String),
}

/// True for a name Docker accepts for a volume: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn is_volume_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Checks a volume name (see [`is_volume_name`]).
pub fn volume_name(s: &str) -> Result<String, ParseError> {
    if is_volume_name(s) {
        Ok(s.to_owned())
    } else {
        Err(ParseError::VolumeName(s.to_owned()))
    }
}

fn container_path(spec: &str, dst: &str) -> Result<PathBuf, ParseError> {
    if !dst.starts_with('/') {
        return Err(ParseError::VolumePath(
            spec.to_owned(),
            "the container path must be absolute",
        ));
    }
    if dst.split('/').any(|c| c == "..") {
        return Err(ParseError::VolumePath(
            spec.to_owned(),
            "the container path must not contain '..'",
        ));
    }
    Ok(dst.into())
}

/// Parses `-v`: `HOST-PATH:CONTAINER-PATH[:OPTS]` (a bind), `VOLUME:CONTAINER-PATH[:OPTS]` (a named
/// volume, made on first use) or `CONTAINER-PATH` (an anonymous volume). OPTS: `ro`, `rw`, `nocopy`.
pub fn volume(s: &str) -> Result<MountRequest, ParseError> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        [src, dst] => (*src, *dst, ""),
        [src, dst, opts] => (*src, *dst, *opts),
        _ => return Err(ParseError::Volume(s.to_owned())),
    };
    let destination = container_path(s, dst)?;
    let (mut read_only, mut no_copy) = (false, false);
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" if !src.starts_with('/') => no_copy = true,
            // SELinux relabelling and propagation hints that change nothing here.
            "z" | "Z" | "rprivate" | "private" => {}
            _ => {
                return Err(ParseError::VolumePath(
                    s.to_owned(),
                    "unknown option (expected ro or rw)",
                ))
            }
        }
    }
    if src.starts_with('/') {
        return Ok(MountRequest::Bind(Bind {
            source: src.into(),
            destination,
            read_only,
        }));
    }
    let name = if src.is_empty() {
        String::new()
    } else {
        volume_name(src)?
    };
    Ok(MountRequest::Volume(VolumeMount {
        anonymous: name.is_empty(),
        name,
        destination,
        read_only,
        no_copy,
        source: PathBuf::new(),
    }))
}

/// Parses `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,volume-nocopy]
/// [,tmpfs-size=…][,tmpfs-mode=…]`, as Docker does (`type` defaults to `volume`; `src`, `dst` and
/// `destination` are accepted too).
pub fn mount(s: &str) -> Result<MountRequest, ParseError> {
    let bad = |why: String| ParseError::Mount(s.to_owned(), why);
    let (mut typ, mut source, mut target) = ("volume".to_owned(), String::new(), None);
    let (mut read_only, mut no_copy) = (false, false);
    let mut tmpfs_opts = Vec::new();
    for field in s.split(',') {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let flag = |v: Option<&str>| match v {
            None | Some("1") | Some("true") => Ok(true),
            Some("0") | Some("false") => Ok(false),
            Some(v) => Err(bad(format!("{key}={v:?}: expected true or false"))),
        };
        let value_of = |v: Option<&str>| {
            v.filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("{key} needs a value")))
        };
        match key {
            "type" => typ = value_of(value)?,
            "source" | "src" => source = value_of(value)?,
            "target" | "destination" | "dst" => target = Some(value_of(value)?),
            "readonly" | "ro" => read_only = flag(value)?,
            "volume-nocopy" => no_copy = flag(value)?,
            "tmpfs-size" => {
                let v = value_of(value)?;
                size(&v).map_err(|_| bad(format!("tmpfs-size={v:?}: expected a size")))?;
                tmpfs_opts.push(format!("size={v}"));
            }
            "tmpfs-mode" => {
                let v = value_of(value)?;
                u32::from_str_radix(&v, 8)
                    .map_err(|_| bad(format!("tmpfs-mode={v:?}: expected an octal mode")))?;
                tmpfs_opts.push(format!("mode={v}"));
            }
            // Propagation and consistency hints that change nothing here.
            "bind-propagation" | "consistency" => {}
            "" => return Err(bad("empty field".into())),
            other => return Err(bad(format!("unknown field {other:?}"))),
        }
    }
    let target = target.ok_or_else(|| bad("target is required".into()))?;
    let destination = container_path(s, &target)?;
    match typ.as_str() {
        "bind" => {
            if !source.starts_with('/') {
                return Err(bad("a bind needs an absolute source path".into()));
            }
            Ok(MountRequest::Bind(Bind {
                source: source.into(),
                destination,
                read_only,
            }))
        }
        "volume" => {
            let name = if source.is_empty() {
                source
            } else {
                volume_name(&source)?
            };
            Ok(MountRequest::Volume(VolumeMount {
                anonymous: name.is_empty(),
                name,
                destination,
                read_only,
                no_copy,
                source: PathBuf::new(),
            }))
        }
        "tmpfs" if !source.is_empty() => Err(bad("a tmpfs has no source".into())),
        "tmpfs" => {
            if read_only {
                tmpfs_opts.push("ro".into());
            }
            Ok(MountRequest::Tmpfs(destination, tmpfs_opts.join(",")))
        }
        other => Err(bad(format!(
            "unknown type {other:?} (expected bind, volume or tmpfs)"
        ))),
    }
}

/// Parses `--tmpfs PATH[:OPTIONS]` into the path and its mount options.
pub fn tmpfs(s: &str) -> Result<(PathBuf, String), ParseError> {
    let (path, opts) = s.split_once(':').unwrap_or((s, ""));
    if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
        return Err(ParseError::Tmpfs(s.to_owned()));
    }
    Ok((path.into(), opts.to_owned()))
}

/// The transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One published port from `-p [IP:][HOST:]CONTAINER[/PROTO]` (ranges expand into several).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortMapping {
    pub host_ip: Option<IpAddr>,
    /// None: a port chosen at start time (`-p 80` or `-P`).
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub proto: Proto,
}

/// Parses one `-p` value; a range maps each port in it (host and container ranges must have equal length).
pub fn ports(s: &str) -> Result<Vec<PortMapping>, ParseError> {
    let bad = |why| ParseError::Port(s.to_owned(), why);
    let (spec, proto) = match s.rsplit_once('/') {
        Some((spec, "tcp")) => (spec, Proto::Tcp),
        Some((spec, "udp")) => (spec, Proto::Udp),
        Some(_) => return Err(bad("the protocol must be tcp or udp")),
        None => (s, Proto::Tcp),
    };
    // An IPv6 host address is written in brackets: [::1]:8080:80.
    let (ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        let (ip, rest) = r
            .split_once("]:")
            .ok_or_else(|| bad("unterminated [IPv6] address"))?;
        (Some(ip), rest)
    } else {
        match spec.matches(':').count() {
            0 | 1 => (None, spec),
            2 => {
                let (ip, rest) = spec.split_once(':').expect("two colons");
                (Some(ip), rest)
            }
            _ => return Err(bad("too many ':' (write an IPv6 address in brackets)")),
        }
    };
    let host_ip = match ip {
        None | Some("") => None,
        Some(ip) => Some(
            ip.parse()
                .map_err(|_| bad("the host address is not an IP address"))?,
        ),
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (Some(h).filter(|h| !h.is_empty()), c),
        None => (None, rest),
    };
    let (c_lo, c_hi) = port_range(container)
        .ok_or_else(|| bad("the container port must be 1-65535 or a range"))?;
    let host_range = match host {
        Some(h) => {
            Some(port_range(h).ok_or_else(|| bad("the host port must be 1-65535 or a range"))?)
        }
        None => None,
    };
    if let Some((h_lo, h_hi)) = host_range {
        if h_hi - h_lo != c_hi - c_lo {
            return Err(bad("the host and container port ranges differ in length"));
        }
    }
    Ok((c_lo..=c_hi)
        .enumerate()
        .map(|(i, cp)| PortMapping {
            host_ip,
            host_port: host_range.map(|(lo, _)| lo + i as u16),
            container_port: cp,
            proto,
        })
        .collect())
}

fn port_range(s: &str) -> Option<(u16, u16)> {
    let one = |p: &str| p.parse::<u16>().ok().filter(|&p| p > 0);
    match s.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (one(lo)?, one(hi)?);
            (lo <= hi).then_some((lo, hi))
        }
        None => one(s).map(|p| (p, p)),
    }
}

/// Parses `-e NAME=VALUE` or `-e NAME` (taken from `lookup`, skipped when unset there).
pub fn env(s: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Option<String>, ParseError> {
    match s.split_once('=') {
        Some(("", _)) => Err(ParseError::Env(s.to_owned())),
        Some(_) => Ok(Some(s.to_owned())),
        None if s.is_empty() => Err(ParseError::Env(s.to_owned())),
        None => Ok(lookup(s).map(|v| format!("{s}={v}"))),
    }
}

/// Parses an `--env-file`: one `NAME=VALUE` or `NAME` per line; blank lines and `#` comments skipped.
pub fn env_file(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(v) = env(line, &lookup)? {
            out.push(v);
        }
    }
    Ok(out)
}

/// How a container gets one kind of namespace: its own, the host's, or another container's.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NsMode {
    Private,
    Host,
    Container(String),
}

/// Parses `--pid`, `--ipc`, `--uts` values.
pub fn ns_mode(flag: &'static str, s: &str) -> Result<NsMode, ParseError> {
    match s {
        "" | "private" | "shareable" => Ok(NsMode::Private),
        "host" => Ok(NsMode::Host),
        _ => match s.strip_prefix("container:") {
            Some(c) if !c.is_empty() => Ok(NsMode::Container(c.to_owned())),
            _ => Err(ParseError::Mode(flag, s.to_owned())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_take_dockers_syntax() {
        let u = |name: &str, soft, hard| Ulimit {
            name: name.to_owned(),
            soft,
            hard,
        };
        assert_eq!(ulimit("nofile=1024").unwrap(), u("nofile", 1024, 1024));
        assert_eq!(ulimit("nofile=1024:4096").unwrap(), u("nofile", 1024, 4096));
        assert_eq!(ulimit("core=-1").unwrap(), u("core", u64::MAX, u64::MAX));
        assert_eq!(
            ulimit("memlock=64:unlimited").unwrap(),
            u("memlock", 64, u64::MAX)
        );
        for bad in [
            "nofile",
            "nofile=",
            "nofile=4096:1024",
            "files=10",
            "nofile=1k",
            "nofile=1:2:3",
            "nofile=-2",
        ] {
            assert!(ulimit(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ulimit("nofile=4096:1024").unwrap_err().to_string(),
            "invalid --ulimit \"nofile=4096:1024\": the soft limit is above the hard one"
        );
    }

    #[test]
    fn a_mount_value_with_a_newline_stays_on_the_errors_one_line() {
        for bad in [
            "type=tmpfs,target=/x,tmpfs-size=\n",
            "type=tmpfs,target=/x,tmpfs-mode=7\n7",
            "target=/x,readonly=yes\nminotaur: forged",
        ] {
            let e = mount(bad).unwrap_err().to_string();
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(size("1024").unwrap(), 1024);
        assert_eq!(size("512k").unwrap(), 512 << 10);
        assert_eq!(size("256m").unwrap(), 256 << 20);
        assert_eq!(size("1G").unwrap(), 1 << 30);
        assert_eq!(size("2gb").unwrap(), 2 << 30);
        assert_eq!(size("1.5m").unwrap(), 3 << 19);
        for bad in ["", "m", "12x", "-1m", "lots"] {
            assert!(size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus_become_nano_cpus() {
        assert_eq!(nano_cpus("1.5").unwrap(), 1_500_000_000);
        assert!(nano_cpus("0").is_err());
        assert!(nano_cpus("two").is_err());
    }

    #[test]
    fn volumes() {
        assert_eq!(
            volume("/srv/www:/usr/share/nginx/html:ro").unwrap(),
            MountRequest::Bind(Bind {
                source: "/srv/www".into(),
                destination: "/usr/share/nginx/html".into(),
                read_only: true
            })
        );
        let named = |name: &str, dst: &str, read_only| {
            MountRequest::Volume(VolumeMount {
                name: name.into(),
                destination: dst.into(),
                read_only,
                no_copy: false,
                anonymous: name.is_empty(),
                source: PathBuf::new(),
            })
        };
        assert_eq!(volume("data:/b").unwrap(), named("data", "/b", false));
        assert_eq!(
            volume("my.vol_1:/b:ro").unwrap(),
            named("my.vol_1", "/b", true)
        );
        assert_eq!(volume("/b").unwrap(), named("", "/b", false));
        for bad in [
            "-x:/b",
            "a:/b",
            "da$ta:/b",
            "b",
            "/a:b",
            "/a:/b:rx",
            "/a:/../etc",
            "/a:/b:ro:x",
        ] {
            assert!(volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mounts_follow_docker() {
        assert_eq!(
            mount("type=bind,source=/srv,target=/www,readonly").unwrap(),
            MountRequest::Bind(Bind {
                source: "/srv".into(),
                destination: "/www".into(),
                read_only: true
            })
        );
        assert_eq!(
            mount("src=data,dst=/data,volume-nocopy").unwrap(),
            MountRequest::Volume(VolumeMount {
                name: "data".into(),
                destination: "/data".into(),
                read_only: false,
                no_copy: true,
                anonymous: false,
                source: PathBuf::new(),
            })
        );
        assert_eq!(
            mount("type=tmpfs,destination=/scratch,tmpfs-size=1m,tmpfs-mode=1770").unwrap(),
            MountRequest::Tmpfs("/scratch".into(), "size=1m,mode=1770".into())
        );
        for bad in [
            "type=bind,target=/x",
            "type=bind,source=rel,target=/x",
            "type=nfs,target=/x",
            "type=tmpfs,source=x,target=/x",
            "source=data",
            "target=x",
            "source=data,target=/x,colour=red",
            "source=data,target=/x,readonly=maybe",
            "type=tmpfs,target=/x,tmpfs-size=lots",
            "type=tmpfs,target=/x,tmpfs-mode=999",
            "source=a,target=/x",
        ] {
            assert!(mount(bad).is_err(), "{bad}");
        }
        assert_eq!(
            mount("type=volume,target=/x,colour=red")
                .unwrap_err()
                .to_string(),
            "invalid --mount \"type=volume,target=/x,colour=red\": unknown field \"colour\""
        );
    }

    #[test]
    fn ports_follow_docker() {
        let p = ports("8080:80").unwrap();
        assert_eq!(
            p,
            vec![PortMapping {
                host_ip: None,
                host_port: Some(8080),
                container_port: 80,
                proto: Proto::Tcp
            }]
        );
        let p = ports("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(p[0].host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(p[0].proto, Proto::Udp);
        assert_eq!(ports("80").unwrap()[0].host_port, None);
        assert_eq!(ports("127.0.0.1::80").unwrap()[0].host_port, None);
        assert_eq!(
            ports("[::1]:8080:80").unwrap()[0].host_ip,
            Some("::1".parse().unwrap())
        );
        let r = ports("8000-8002:9000-9002").unwrap();
        assert_eq!(
            r.iter()
                .map(|m| (m.host_port.unwrap(), m.container_port))
                .collect::<Vec<_>>(),
            vec![(8000, 9000), (8001, 9001), (8002, 9002)]
        );
        for bad in [
            "",
            "0",
            "70000",
            "80/sctp",
            "a:80",
            "8000-8001:80",
            "1.2.3:80:80",
            "x:y:z:w",
            "90-80",
        ] {
            assert!(ports(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_values() {
        let look = |k: &str| (k == "HOME").then(|| "/root".to_owned());
        assert_eq!(env("A=1", look).unwrap(), Some("A=1".into()));
        assert_eq!(env("HOME", look).unwrap(), Some("HOME=/root".into()));
        assert_eq!(env("UNSET", look).unwrap(), None);
        assert!(env("=x", look).is_err());
        let f = env_file("# c\n\nA=1\nHOME\n B=2\n", look).unwrap();
        assert_eq!(f, vec!["A=1", "HOME=/root", "B=2"]);
    }

    #[test]
    fn namespace_modes() {
        assert_eq!(ns_mode("pid", "host").unwrap(), NsMode::Host);
        assert_eq!(
            ns_mode("pid", "container:web").unwrap(),
            NsMode::Container("web".into())
        );
        assert!(ns_mode("pid", "container:").is_err());
        assert!(ns_mode("ipc", "other").is_err());
    }

    #[test]
    fn log_opts_of_the_json_file_driver() {
        assert_eq!(
            log_opt("max-size=1m").unwrap(),
            ("max-size".to_owned(), "1m".to_owned())
        );
        assert_eq!(log_opt("max-file=2").unwrap().1, "2");
        for bad in [
            "max-size=0",
            "max-size=lots",
            "max-file=0",
            "max-file=x",
            "compress",
            "mode=non-blocking",
        ] {
            assert!(log_opt(bad).is_err(), "{bad}");
        }
    }
}
