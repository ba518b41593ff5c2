//! `docker import --change`: the Dockerfile instructions that set an image's run configuration.
//!
//! Accepted, as Docker accepts them for `import`: `CMD`, `ENTRYPOINT` (JSON exec form, or shell form run by
//! `/bin/sh -c`), `ENV` and `LABEL` (`key=value …`, values may be double-quoted; or the legacy `ENV key value`),
//! `EXPOSE` (`80`, `53/udp`), `USER`, `WORKDIR`, `STOPSIGNAL` and `VOLUME` (JSON array or words).

use std::collections::HashMap;

use oci_spec::image::Config;

/// Why a `--change` line was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    #[error("unsupported change instruction {0:?} (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR are)")]
    Unsupported(String),
    #[error("change {0:?} needs an argument")]
    Empty(String),
    #[error("change {0:?}: expected key=value pairs")]
    KeyValue(String),
    #[error("change {0:?}: unterminated quote")]
    Quote(String),
    #[error("change {0:?}: invalid port")]
    Port(String),
}

/// Applies one `--change` line to `config`.
pub fn apply(config: &mut Config, line: &str) -> Result<(), ChangeError> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(ChangeError::Empty(line.into()));
    }
    match word.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.set_cmd(Some(command(rest)));
        }
        "ENTRYPOINT" => {
            config.set_entrypoint(Some(command(rest)));
        }
        "ENV" => {
            let mut env = config.env().clone().unwrap_or_default();
            for (k, v) in pairs(line, rest, true)? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) != k);
                env.push(format!("{k}={v}"));
            }
            config.set_env(Some(env));
        }
        "LABEL" => {
            let mut labels: HashMap<String, String> = config.labels().clone().unwrap_or_default();
            labels.extend(pairs(line, rest, false)?);
            config.set_labels(Some(labels));
        }
        "EXPOSE" => {
            let mut ports = config.exposed_ports().clone().unwrap_or_default();
            for p in rest.split_whitespace() {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                let proto = proto.to_ascii_lowercase();
                if num.parse::<u16>().map_or(true, |n| n == 0)
                    || !["tcp", "udp", "sctp"].contains(&proto.as_str())
                {
                    return Err(ChangeError::Port(line.into()));
                }
                let port = format!("{num}/{proto}");
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
            config.set_exposed_ports(Some(ports));
        }
        "USER" => {
            config.set_user(Some(rest.into()));
        }
        "WORKDIR" => {
            config.set_working_dir(Some(rest.into()));
        }
        "STOPSIGNAL" => {
            config.set_stop_signal(Some(rest.into()));
        }
        "VOLUME" => {
            let mut volumes = config.volumes().clone().unwrap_or_default();
            let new = json_array(rest)
                .unwrap_or_else(|| rest.split_whitespace().map(String::from).collect());
            for v in new {
                if !volumes.contains(&v) {
                    volumes.push(v);
                }
            }
            config.set_volumes(Some(volumes));
        }
        _ => return Err(ChangeError::Unsupported(word.into())),
    }
    Ok(())
}

fn json_array(s: &str) -> Option<Vec<String>> {
    s.starts_with('[')
        .then(|| serde_json::from_str(s).ok())
        .flatten()
}

/// Exec form (a JSON array) as is; anything else is the shell form.
fn command(rest: &str) -> Vec<String> {
    json_array(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.into()])
}

/// `k=v k2="v 2"`; with `legacy`, a first word without `=` means `key value-to-end-of-line`.
fn pairs(line: &str, rest: &str, legacy: bool) -> Result<Vec<(String, String)>, ChangeError> {
    let words = split_quoted(rest).ok_or_else(|| ChangeError::Quote(line.into()))?;
    if legacy && !words[0].contains('=') {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| ChangeError::KeyValue(line.into()))?;
        return Ok(vec![(k.into(), v.trim().into())]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(ChangeError::KeyValue(line.into())),
        })
        .collect()
}

/// Splits on whitespace outside double quotes, dropping the quotes and honouring `\"` inside them.
fn split_quoted(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = s.chars();
    let mut started = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                started = true;
            }
            '\\' if in_quotes => cur.push(chars.next()?),
            c if c.is_whitespace() && !in_quotes => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if in_quotes {
        return None;
    }
    if started {
        out.push(cur);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lines: &[&str]) -> Result<Config, ChangeError> {
        let mut c = Config::default();
        for l in lines {
            apply(&mut c, l)?;
        }
        Ok(c)
    }

    #[test]
    fn instructions_set_the_config() {
        let c = config(&[
            r#"CMD ["/bin/sh", "-c", "echo hi"]"#,
            "ENTRYPOINT tini --",
            r#"ENV A=1 B="two words" PATH=/bin"#,
            "ENV A 3 and more",
            r#"LABEL org.example="x y" z=1"#,
            "EXPOSE 80 53/udp 80/tcp",
            "user app:app",
            "WORKDIR /srv",
            "STOPSIGNAL SIGINT",
            r#"VOLUME ["/data"]"#,
            "VOLUME /cache /data",
        ])
        .unwrap();
        assert_eq!(
            c.cmd().as_deref(),
            Some(&["/bin/sh".to_string(), "-c".into(), "echo hi".into()][..])
        );
        assert_eq!(
            c.entrypoint().as_deref(),
            Some(&["/bin/sh".to_string(), "-c".into(), "tini --".into()][..])
        );
        assert_eq!(
            c.env().as_deref(),
            Some(
                &[
                    "B=two words".to_string(),
                    "PATH=/bin".into(),
                    "A=3 and more".into()
                ][..]
            )
        );
        let labels = c.labels().clone().unwrap();
        assert_eq!(labels["org.example"], "x y");
        assert_eq!(labels["z"], "1");
        assert_eq!(
            c.exposed_ports().as_deref(),
            Some(&["80/tcp".to_string(), "53/udp".into()][..])
        );
        assert_eq!(c.user().as_deref(), Some("app:app"));
        assert_eq!(c.working_dir().as_deref(), Some("/srv"));
        assert_eq!(c.stop_signal().as_deref(), Some("SIGINT"));
        assert_eq!(
            c.volumes().as_deref(),
            Some(&["/data".to_string(), "/cache".into()][..])
        );
    }

    #[test]
    fn bad_changes_are_refused() {
        assert!(matches!(
            config(&["RUN make"]),
            Err(ChangeError::Unsupported(_))
        ));
        assert!(matches!(config(&["CMD"]), Err(ChangeError::Empty(_))));
        assert!(matches!(
            config(&["LABEL novalue"]),
            Err(ChangeError::KeyValue(_))
        ));
        assert!(matches!(
            config(&[r#"ENV A="open"#]),
            Err(ChangeError::Quote(_))
        ));
        assert!(matches!(
            config(&["EXPOSE 70000"]),
            Err(ChangeError::Port(_))
        ));
        assert!(matches!(
            config(&["EXPOSE 80/icmp"]),
            Err(ChangeError::Port(_))
        ));
    }
}
