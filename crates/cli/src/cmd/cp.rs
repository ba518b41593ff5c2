use std::io::{IsTerminal, Write};

use minotaur_engine::cp::{self, CopyOptions, CpError, End};

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Copy files/folders between a container and the local filesystem. Use '-' as the source to read a tar
/// archive from stdin and extract it to a directory destination in a container; use '-' as the destination
/// to stream a tar archive of a container source to stdout
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CONTAINER:SRC_PATH, SRC_PATH or -
    #[arg(value_name = "SRC")]
    src: String,
    /// CONTAINER:DEST_PATH, DEST_PATH or -
    #[arg(value_name = "DEST")]
    dest: String,
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// Suppress progress output during copy (it is shown only when stderr is a terminal)
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let opts = CopyOptions {
        archive: args.archive,
        follow_link: args.follow_link,
    };
    let ctx = context(global);
    let (bytes, to) = match (End::parse(&args.src), End::parse(&args.dest)) {
        (End::Container { .. }, End::Container { .. }) => {
            return Err(CpError::BetweenContainers.into())
        }
        (End::Container { container, path }, End::Stream) => {
            let mut out = std::io::stdout().lock();
            cp::copy_out(&ctx, &container, &path, None, &mut out, opts)?;
            out.flush()?;
            return Ok(0);
        }
        (End::Container { container, path }, End::Local(local)) => (
            cp::copy_out(
                &ctx,
                &container,
                &path,
                Some(&local),
                &mut std::io::sink(),
                opts,
            )?,
            args.dest.clone(),
        ),
        (End::Stream, End::Container { container, path }) => {
            let mut input = std::io::stdin().lock();
            cp::copy_in(&ctx, &container, &path, None, &mut input, opts)?;
            return Ok(0);
        }
        (End::Local(local), End::Container { container, path }) => (
            cp::copy_in(
                &ctx,
                &container,
                &path,
                Some(&local),
                &mut std::io::empty(),
                opts,
            )?,
            args.dest.clone(),
        ),
        _ => return Err(CpError::NoContainer.into()),
    };
    let mut err = std::io::stderr();
    if !args.quiet && err.is_terminal() {
        let _ = writeln!(
            err,
            "Successfully copied {} to {to}",
            minotaur_engine::stats::decimal_size(bytes)
        );
    }
    Ok(0)
}
