use std::io::{self, Write};
use std::path::PathBuf;

use minotaur_capture::{Options, Output, DEFAULT_SNAPLEN};
use minotaur_engine::capture::{self, CaptureRequest};

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Capture packets in containers' network namespaces, with no tool inside them
///
/// Opens a packet socket inside each target's network namespace (a container, an `ip netns` name, a PID or a
/// namespace file). Writes pcapng with -w (one interface per target and interface), or prints one line per
/// packet as tcpdump does. Ends after -c packets or at Ctrl-C, and reports tcpdump's counters.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The interface to capture on, or `any` (default: every interface but lo)
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interface: Option<String>,

    /// Stop after this many packets
    #[arg(short = 'c', long = "count", value_name = "N")]
    count: Option<u64>,

    /// Bytes kept of each packet
    #[arg(short = 's', long = "snapshot-length", value_name = "SNAPLEN", default_value_t = DEFAULT_SNAPLEN)]
    snaplen: u32,

    /// Write pcapng to FILE, or to standard output with `-`
    #[arg(short = 'w', value_name = "FILE")]
    write: Option<PathBuf>,

    /// Capture on the host's end of each container's veth instead
    #[arg(long)]
    host_side: bool,

    /// Targets, then a filter in tcpdump's expression syntax (after `--`, or once a word is not a target)
    #[arg(value_name = "TARGET", required = true, num_args = 1..)]
    targets: Vec<String>,

    #[arg(last = true, value_name = "FILTER", hide = true)]
    filter: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let ctx = context(global);
    // Without `--`, the filter starts at the first word that names no target (`web tcp port 80`).
    let mut targets = args.targets;
    let mut filter = args.filter;
    if filter.is_empty() && targets.len() > 1 {
        if let Some(i) = (1..targets.len()).find(|&i| !capture::is_target(&ctx, &targets[i])) {
            filter = targets.split_off(i);
        }
    }
    let to_stdout = args.write.as_deref() == Some(std::path::Path::new("-"));
    let opts = Options {
        filter: filter.join(" "),
        count: args.count,
        snaplen: args.snaplen,
        immediate: args.write.is_none() || to_stdout,
    };
    let req = CaptureRequest {
        targets,
        interface: args.interface,
        host_side: args.host_side,
    };
    let fail = |e: minotaur_engine::error::EngineError| CliError::with_code(125, e);
    let session = capture::open(&ctx, &req, &opts).map_err(fail)?;
    let output = match &args.write {
        None => Output::Summary(Box::new(io::BufWriter::new(io::stdout()))),
        Some(_) if to_stdout => Output::Pcapng(Box::new(io::BufWriter::new(io::stdout()))),
        Some(path) => Output::Pcapng(Box::new(io::BufWriter::new(
            capture::create_output(path).map_err(fail)?,
        ))),
    };
    let mut err = io::stderr();
    let _ = writeln!(
        err,
        "listening on {}, snapshot length {} bytes",
        session.names().join(", "),
        args.snaplen
    );
    let stats = session
        .run(output, &opts)
        .map_err(|e| CliError::with_code(125, e))?;
    let _ = writeln!(err, "{}", stats.report());
    Ok(0)
}
