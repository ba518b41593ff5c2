//! The short syntaxes of the compose spec and their long forms: `"127.0.0.1:8080-8081:80-81/udp"` as port
//! mappings, `"./data:/data:ro"` as a bind mount, `"2s"` as a duration, `"1g"` as bytes.

use std::time::Duration;

/// Why a short-syntax value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("invalid port {spec:?}: {why}")]
    Port { spec: String, why: &'static str },
    #[error("invalid volume {spec:?}: {why}")]
    Volume { spec: String, why: &'static str },
    #[error("invalid duration {text:?}")]
    Duration { text: String },
    #[error("invalid size {text:?}")]
    Bytes { text: String },
}

/// A port mapping in the long syntax's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Option<String>,
    pub published: Option<String>,
    pub target: u32,
    pub protocol: String,
}

/// Parses `[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]`, where ports may be ranges (`8000-8002:80-82` is three
/// mappings) and an IPv6 host address is written in brackets.
pub fn parse_ports(spec: &str) -> Result<Vec<PortSpec>, SyntaxError> {
    let bad = |why| SyntaxError::Port {
        spec: spec.to_owned(),
        why,
    };
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) if !p.is_empty() => (r, p.to_owned()),
        Some(_) => return Err(bad("empty protocol")),
        None => (spec, "tcp".to_owned()),
    };
    let (host_ip, rest) = if let Some(after) = rest.strip_prefix('[') {
        let (ip, r) = after
            .split_once("]:")
            .ok_or_else(|| bad("unclosed IPv6 address"))?;
        (Some(ip.to_owned()), r)
    } else {
        match rest.matches(':').count() {
            0 | 1 => (None, rest),
            2 => {
                let (ip, r) = rest.split_once(':').unwrap_or_default();
                (Some(ip.to_owned()).filter(|s| !s.is_empty()), r)
            }
            _ => {
                let (ip, r) = rest.rsplit_once(':').unwrap_or_default();
                let (ip, published) = ip.rsplit_once(':').ok_or_else(|| bad("too many colons"))?;
                return expand(Some(ip.to_owned()), Some(published), r, &protocol, spec);
            }
        }
    };
    let (published, target) = match rest.split_once(':') {
        Some((p, t)) => (Some(p), t),
        None => (None, rest),
    };
    expand(host_ip, published, target, &protocol, spec)
}

fn range(text: &str, spec: &str) -> Result<(u32, u32), SyntaxError> {
    let bad = |why| SyntaxError::Port {
        spec: spec.to_owned(),
        why,
    };
    let num = |s: &str| -> Result<u32, SyntaxError> {
        let n: u32 = s
            .parse()
            .map_err(|_| bad("a port is a number from 0 to 65535"))?;
        if n > 65535 {
            return Err(bad("a port is a number from 0 to 65535"));
        }
        Ok(n)
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(bad("a range ends after it starts"));
            }
            Ok((a, b))
        }
        None => {
            let n = num(text)?;
            Ok((n, n))
        }
    }
}

fn expand(
    host_ip: Option<String>,
    published: Option<&str>,
    target: &str,
    protocol: &str,
    spec: &str,
) -> Result<Vec<PortSpec>, SyntaxError> {
    let (t0, t1) = range(target, spec)?;
    let published = published.filter(|p| !p.is_empty());
    let prange = published.map(|p| range(p, spec)).transpose()?;
    let mut out = Vec::new();
    for (i, t) in (t0..=t1).enumerate() {
        let published = match prange {
            None => None,
            Some((p0, p1)) if t0 == t1 => Some(if p0 == p1 {
                p0.to_string()
            } else {
                format!("{p0}-{p1}")
            }),
            Some((p0, p1)) => {
                if p1 - p0 != t1 - t0 {
                    return Err(SyntaxError::Port {
                        spec: spec.to_owned(),
                        why: "the published and target ranges differ in size",
                    });
                }
                Some((p0 + i as u32).to_string())
            }
        };
        out.push(PortSpec {
            host_ip: host_ip.clone(),
            published,
            target: t,
            protocol: protocol.to_owned(),
        });
    }
    Ok(out)
}

/// A volume in the long syntax's fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeSpec {
    pub kind: &'static str,
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub nocopy: bool,
    pub propagation: Option<String>,
    pub selinux: Option<String>,
}

/// Parses `[SOURCE:]TARGET[:OPTIONS]`. A source that starts with `.`, `/` or `~` is a bind mount, another is
/// a named volume; no source is an anonymous volume. Options: `ro`, `rw`, `nocopy`, propagation, `z`/`Z`.
pub fn parse_volume(spec: &str) -> Result<VolumeSpec, SyntaxError> {
    let bad = |why| SyntaxError::Volume {
        spec: spec.to_owned(),
        why,
    };
    if spec.is_empty() {
        return Err(bad("empty volume"));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty section between colons"));
    }
    let mut v = VolumeSpec::default();
    let options = match parts.as_slice() {
        [target] => {
            v.target = (*target).to_owned();
            None
        }
        [source, target] => {
            v.source = Some((*source).to_owned());
            v.target = (*target).to_owned();
            None
        }
        [source, target, options] => {
            v.source = Some((*source).to_owned());
            v.target = (*target).to_owned();
            Some(*options)
        }
        _ => return Err(bad("too many colons")),
    };
    for option in options.into_iter().flat_map(|o| o.split(',')) {
        match option {
            "ro" => v.read_only = true,
            "rw" => v.read_only = false,
            "nocopy" => v.nocopy = true,
            "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" => {
                v.propagation = Some(option.to_owned())
            }
            "z" | "Z" => v.selinux = Some(option.to_owned()),
            _ => {}
        }
    }
    v.kind = match v.source.as_deref() {
        Some(s) if s.starts_with(['.', '/', '~']) => "bind",
        _ => "volume",
    };
    v.target = clean_path(&v.target);
    Ok(v)
}

/// The target of a short-syntax volume (what makes volumes unique when files are merged).
pub fn volume_target(spec: &str) -> Option<String> {
    parse_volume(spec).ok().map(|v| v.target)
}

/// A path with `.`, `..` and repeated slashes resolved lexically, as Go's `path.Clean`.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return String::new();
    }
    let absolute = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Parses a Go-style duration (`1m30s`, `1.5s`, `500ms`, `2h`), which is what compose files use.
pub fn parse_duration(text: &str) -> Result<Duration, SyntaxError> {
    let bad = || SyntaxError::Duration {
        text: text.to_owned(),
    };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if n == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += number * nanos;
        rest = &rest[u..];
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Formats a duration as Go's `time.Duration.String` does (`1m30s`, `1h0m0s`, `500ms`), which is how compose
/// prints durations.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let trim = |int: u128, frac: u128, digits: usize| {
        if frac == 0 {
            int.to_string()
        } else {
            let f = format!("{frac:0digits$}");
            format!("{int}.{}", f.trim_end_matches('0'))
        }
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim(nanos / 1_000, nanos % 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim(nanos / 1_000_000, nanos % 1_000_000, 6));
    }
    let secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let s = format!("{}s", trim(s, frac, 9));
    if h > 0 {
        format!("{h}h{m}m{s}")
    } else if m > 0 {
        format!("{m}m{s}")
    } else {
        s
    }
}

/// Parses a size as Docker does (`1g`, `512m`, `1.5GB`, `100k`, `1024`): binary multiples, any case, an
/// optional `b`/`ib`.
pub fn parse_bytes(text: &str) -> Result<u64, SyntaxError> {
    let bad = || SyntaxError::Bytes {
        text: text.to_owned(),
    };
    let t = text.trim().to_ascii_lowercase();
    let n = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    if n == 0 {
        return Err(bad());
    }
    let number: f64 = t[..n].parse().map_err(|_| bad())?;
    let unit = t[n..].trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    Ok((number * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = parse_ports("127.0.0.1:8080-8081:80-81/udp").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(p[1].published.as_deref(), Some("8081"));
        assert_eq!(p[1].target, 81);
        assert_eq!(p[1].protocol, "udp");
        let p = parse_ports("[::1]:80:8080").unwrap();
        assert_eq!(p[0].host_ip.as_deref(), Some("::1"));
        let p = parse_ports("3000").unwrap();
        assert_eq!((p[0].published.clone(), p[0].target), (None, 3000));
        let p = parse_ports("8000-8010:80").unwrap();
        assert_eq!(p[0].published.as_deref(), Some("8000-8010"));
        assert!(parse_ports("80-81:90-99").is_err());
        assert!(parse_ports("http").is_err());
        assert!(parse_ports("70000").is_err());
    }

    #[test]
    fn volumes() {
        let v = parse_volume("./data:/data/:ro").unwrap();
        assert_eq!(
            (v.kind, v.source.as_deref(), v.target.as_str(), v.read_only),
            ("bind", Some("./data"), "/data", true)
        );
        let v = parse_volume("db:/var/lib/db:nocopy").unwrap();
        assert_eq!((v.kind, v.nocopy), ("volume", true));
        let v = parse_volume("/anon").unwrap();
        assert_eq!((v.kind, v.source), ("volume", None));
        assert!(parse_volume("a:b:c:d").is_err());
    }

    #[test]
    fn durations_print_like_go() {
        for (input, want) in [
            ("90s", "1m30s"),
            ("1h", "1h0m0s"),
            ("500ms", "500ms"),
            ("1.5s", "1.5s"),
            ("0s", "0s"),
            ("2m", "2m0s"),
        ] {
            assert_eq!(
                format_duration(parse_duration(input).unwrap()),
                want,
                "{input}"
            );
        }
        assert!(parse_duration("10 seconds").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1gb").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert!(parse_bytes("lots").is_err());
    }
}
