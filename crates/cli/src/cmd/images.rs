use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use minotaur_image::Store;

use crate::cli::Global;
use crate::error::CliResult;
use crate::output;

/// List images
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,

    /// Only print image IDs
    #[arg(short, long)]
    quiet: bool,

    /// Print full image IDs
    #[arg(long)]
    no_trunc: bool,

    /// Show the digest each repository knows the image by
    #[arg(long)]
    digests: bool,

    /// Print JSON, one object per line
    #[arg(long)]
    json: bool,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let store = Store::open(&global.root)?;
    let (repo, tag) = match args.reference.as_deref() {
        None => (None, None),
        Some(r) if r.rsplit('/').next().is_some_and(|last| last.contains(':')) => {
            let r: minotaur_image::Reference = r.parse()?;
            (Some(r.name().to_string()), Some(r.tag().to_string()))
        }
        Some(r) => {
            let r: minotaur_image::Reference = r.parse()?;
            (Some(r.name().to_string()), None)
        }
    };
    let images: Vec<_> = store
        .images()?
        .into_iter()
        .filter(|i| repo.as_ref().is_none_or(|r| *r == i.repository))
        .filter(|i| tag.as_ref().is_none_or(|t| *t == i.tag))
        .collect();
    let mut out = std::io::stdout().lock();
    let id = |i: &minotaur_image::ImageSummary| {
        if args.no_trunc {
            i.id.to_string()
        } else {
            i.id.short().to_string()
        }
    };
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for i in &images {
            if seen.insert(i.id.clone()) {
                writeln!(out, "{}", id(i))?;
            }
        }
        return Ok(0);
    }
    if args.json {
        for i in &images {
            writeln!(out, "{}", serde_json::to_string(i)?)?;
        }
        return Ok(0);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let rows: Vec<Vec<String>> = images
        .iter()
        .map(|i| {
            let mut row = vec![i.repository.clone(), i.tag.clone()];
            if args.digests {
                row.push(
                    i.digest
                        .as_ref()
                        .map_or_else(|| "<none>".to_string(), |d| d.to_string()),
                );
            }
            row.extend([
                id(i),
                format!("{} ago", human_duration(now - i.created_unix)),
                human_size(i.size),
            ]);
            row
        })
        .collect();
    let header: &[&str] = if args.digests {
        &["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
    } else {
        &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    };
    output::table(&mut out, Some(header), &rows, &[])?;
    Ok(0)
}

/// Docker's (go-units) `HumanDuration`.
pub(crate) fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let minutes = secs / 60;
    let hours = (secs as f64 / 3600.0 + 0.5) as i64;
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{secs} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", secs / 3600 / 24 / 365),
    }
}

/// Docker's (go-units) `HumanSize`: decimal units, four significant digits.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    let decimals = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(19), "19B");
        assert_eq!(human_size(4_261_000), "4.261MB");
        assert_eq!(human_size(77_800_000), "77.8MB");
        assert_eq!(human_size(1_000), "1kB");
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(2 * 3600), "2 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(100 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
    }
}
