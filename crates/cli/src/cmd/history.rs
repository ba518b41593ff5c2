use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use minotaur_image::{human_size, Store};

use crate::cmd::images::since_unix;
use crate::error::CliResult;
use crate::global::Global;
use crate::output;

/// Show the history of an image: the steps that made it, newest first
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not truncate the CREATED BY column
    #[arg(long)]
    no_trunc: bool,

    /// Only print image IDs (`<missing>` for the steps below the top)
    #[arg(short, long)]
    quiet: bool,

    /// Print JSON, one object per line
    #[arg(long)]
    json: bool,

    #[arg(value_name = "IMAGE")]
    image: String,
}

/// How much of CREATED BY is shown unless --no-trunc, as Docker does.
const CREATED_BY_WIDTH: usize = 45;

pub fn run(global: &Global, args: Args) -> CliResult {
    let store = Store::open(&global.root)?;
    let steps = store.history(&args.image)?;
    let mut out = std::io::stdout().lock();
    let id = |i: &Option<minotaur_image::ImageId>| match i {
        Some(id) if args.no_trunc => id.to_string(),
        Some(id) => id.short().to_owned(),
        None => "<missing>".to_owned(),
    };
    if args.quiet {
        for s in &steps {
            writeln!(out, "{}", id(&s.id))?;
        }
        return Ok(0);
    }
    if args.json {
        for s in &steps {
            writeln!(out, "{}", serde_json::to_string(s)?)?;
        }
        return Ok(0);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|s| {
            let created_by = s.created_by.replace(['\n', '\t'], " ");
            let created_by = if args.no_trunc || created_by.chars().count() <= CREATED_BY_WIDTH {
                created_by
            } else {
                let cut: String = created_by.chars().take(CREATED_BY_WIDTH - 1).collect();
                format!("{cut}…")
            };
            let created = if s.created_unix == 0 {
                "N/A".to_owned()
            } else {
                format!("{} ago", since_unix(now, s.created_unix))
            };
            vec![
                id(&s.id),
                created,
                created_by,
                human_size(s.size),
                s.comment.clone(),
            ]
        })
        .collect();
    output::table(
        &mut out,
        Some(&["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]),
        &rows,
        &[],
    )?;
    Ok(0)
}
