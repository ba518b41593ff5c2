use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use minotaur_engine::create::HOST_IMAGE;
use minotaur_engine::human;
use minotaur_image::{ImageFilter, Store};

use crate::error::CliResult;
use crate::global::Global;
use crate::output;

/// List images
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,

    /// Filter: dangling=true|false, reference=PATTERN (a shell pattern over REPOSITORY[:TAG]),
    /// label=KEY[=VALUE], before=IMAGE, since=IMAGE
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,

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

    /// Go template per image (`table` prefix for aligned columns with headers), or `json`
    #[arg(long)]
    format: Option<String>,
}

/// Docker's default `images` table.
const DEFAULT_FORMAT: &str =
    "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}";

/// Docker's default table with `--digests`.
const DIGESTS_FORMAT: &str =
    "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}";

const HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("VirtualSize", "SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("Containers", "CONTAINERS"),
    ("Digest", "DIGEST"),
];

pub fn run(global: &Global, args: Args) -> CliResult {
    let filters = args
        .filter
        .iter()
        .map(|f| f.parse::<ImageFilter>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::from)?;
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
    let mut images: Vec<_> = store
        .images_filtered(&filters)?
        .into_iter()
        .filter(|i| repo.as_ref().is_none_or(|r| *r == i.repository))
        .filter(|i| tag.as_ref().is_none_or(|t| *t == i.tag))
        .map(Some)
        .collect();
    // The built-in image, always there: the host's own filesystem, no layers, no creation time.
    if repo.as_ref().is_none_or(|r| r == HOST_IMAGE)
        && tag.is_none()
        && filters.iter().all(|f| f.matches_name(HOST_IMAGE, "latest"))
    {
        images.push(None);
    }
    let mut out = std::io::stdout().lock();
    let id = |i: &minotaur_image::ImageSummary| {
        if args.no_trunc {
            i.id.to_string()
        } else {
            i.id.short().to_string()
        }
    };
    if args.quiet {
        // IDs to feed `rmi` and the like: the built-in image is not one of them.
        let mut seen = std::collections::HashSet::new();
        for i in images.iter().flatten() {
            if seen.insert(i.id.clone()) {
                writeln!(out, "{}", id(i))?;
            }
        }
        return Ok(0);
    }
    if args.json {
        for i in images.iter().flatten() {
            writeln!(out, "{}", serde_json::to_string(i)?)?;
        }
        return Ok(0);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let rows: Vec<serde_json::Value> = images
        .iter()
        .map(|i| match i {
            Some(i) => serde_json::json!({
                "Repository": i.repository,
                "Tag": i.tag,
                "ID": id(i),
                "CreatedSince": format!("{} ago", since_unix(now, i.created_unix)),
                "CreatedAt": output::go_time(&i.created, false),
                "Size": human_size(i.size),
                "VirtualSize": human_size(i.size),
                "SharedSize": "N/A",
                "UniqueSize": "N/A",
                "Containers": "N/A",
                "Digest": i.digest.as_ref().map_or_else(|| "<none>".to_string(), |d| d.to_string()),
            }),
            None => serde_json::json!({
                "Repository": HOST_IMAGE,
                "Tag": "latest",
                "ID": HOST_IMAGE,
                // Docker's answer for an image without a creation time.
                "CreatedSince": "N/A",
                "CreatedAt": "N/A",
                "Size": human_size(0),
                "VirtualSize": human_size(0),
                "SharedSize": "N/A",
                "UniqueSize": "N/A",
                "Containers": "N/A",
                "Digest": "<none>",
            }),
        })
        .collect();
    let format = match (args.format.as_deref(), args.digests) {
        (Some(f), _) => f,
        (None, false) => DEFAULT_FORMAT,
        (None, true) => DIGESTS_FORMAT,
    };
    output::list(&mut out, format, &rows, HEADERS)?;
    Ok(0)
}

/// How long before `now` the Unix time `created` was, as Docker says it (`3 days`).
pub(crate) fn since_unix(now: i64, created: i64) -> String {
    human::duration(Duration::from_secs((now - created).max(0) as u64))
}

/// Docker's `HumanSizeWithPrecision(size, 3)` (go-units), as its CLI prints image sizes since version 23:
/// decimal units, Go's `%.3g`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    let n = minotaur_engine::gofmt::format_g(v, 3);
    format!("{n}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(19), "19B");
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(1_982_464), "1.98MB");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(human_size(77_800_000), "77.8MB");
        assert_eq!(human_size(1_000), "1kB");
    }
}
