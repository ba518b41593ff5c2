use minotaur_runtime::state::{Root, Status};

/// Resume every process of a paused container
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container's ID
    id: String,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let c = root.load(&args.id)?;
    let _lock = super::lock(&c)?;
    match c.status() {
        Status::Paused => {}
        status => anyhow::bail!("container {} is {status}, not paused", c.record.id),
    }
    super::pause::cgroup(&c)?.thaw()?;
    Ok(0)
}
