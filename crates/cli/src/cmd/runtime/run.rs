use minotaur_runtime::state::Root;

/// Create and start a container, and wait for it unless detached; it is deleted once it exits
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Return once the container runs
    #[arg(short, long)]
    detach: bool,

    /// Keep the container's state after it exits
    #[arg(long)]
    keep: bool,

    #[command(flatten)]
    common: super::create::CreateArgs,
}

pub fn run(root: &Root, args: Args, systemd: bool) -> anyhow::Result<u8> {
    let (container, started, _spec) = super::create::create(root, &args.common, systemd)?;
    if let Err(e) = super::start::start(&container) {
        let _ = super::delete::delete(&container, true);
        return Err(e);
    }
    if args.detach {
        return Ok(0);
    }
    // This process is the init's parent: its exit status is ours to collect.
    let status = nix::sys::wait::waitpid(started.pid, None)?;
    let code = match status {
        nix::sys::wait::WaitStatus::Exited(_, code) => code as u8,
        nix::sys::wait::WaitStatus::Signaled(_, sig, _) => 128u8.wrapping_add(sig as u8),
        _ => 0,
    };
    if !args.keep {
        super::delete::delete(&container, true)?;
    }
    Ok(code)
}
