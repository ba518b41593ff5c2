use std::io::Write;
use std::time::SystemTime;

use minotaur_engine::events::{self, Filter, Query};
use minotaur_engine::template::Format;

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;
use crate::output;

/// Get real time events: container lifecycle, network connections, pulls. Follows new events until
/// interrupted, or until --until
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show events since this time: a timestamp (2006-01-02T15:04:05Z), Unix seconds, or a duration ago (10m)
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this time (same forms as --since)
    #[arg(long)]
    until: Option<String>,
    /// Filter output (container=, event=, image=, label=, network=, type=)
    #[arg(short, long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Format the output with a Go template, or 'json'
    #[arg(long)]
    format: Option<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let now = SystemTime::now();
    let query = Query {
        since: args
            .since
            .as_deref()
            .map(|s| events::parse_time(s, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|s| events::parse_time(s, now))
            .transpose()?,
        filter: Filter::parse(&args.filter)?,
    };
    let json = matches!(
        args.format.as_deref().map(str::trim),
        Some("json" | "{{json .}}" | "{{ json . }}")
    );
    let format = match &args.format {
        Some(f) if !json => Some(Format::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))?),
        _ => None,
    };
    let ctx = context(global);
    let mut out = std::io::stdout().lock();
    events::follow(&ctx, &query, |e| {
        let line = if json {
            output::go_json(&e.document())
        } else if let Some(f) = &format {
            f.render(&e.document())
                .map_err(|err| minotaur_engine::error::EngineError::Io {
                    what: "format an event".into(),
                    source: std::io::Error::other(err),
                })?
        } else {
            e.line()
        };
        // Each event is written at once: a follower is read line by line.
        let written = writeln!(out, "{line}").and_then(|()| out.flush());
        Ok(written.is_ok())
    })?;
    Ok(0)
}
