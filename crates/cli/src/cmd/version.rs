use std::io::Write;

use crate::error::CliResult;

/// Show the version of minotaur and of the kernel it runs on
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> CliResult {
    let uname = nix::sys::utsname::uname()?;
    let kernel = uname.release().to_string_lossy().into_owned();
    let mut out = std::io::stdout().lock();
    if args.json {
        let v =
            serde_json::json!({ "Version": env!("CARGO_PKG_VERSION"), "KernelVersion": kernel });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "minotaur {}", env!("CARGO_PKG_VERSION"))?;
        writeln!(out, "kernel   {kernel}")?;
    }
    Ok(0)
}
