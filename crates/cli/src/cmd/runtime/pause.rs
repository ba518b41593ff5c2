use minotaur_runtime::state::{Container, Root, Status};

/// Suspend every process of a running container (cgroup freezer)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container's ID
    id: String,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let c = root.load(&args.id)?;
    let _lock = super::lock(&c)?;
    match c.status() {
        Status::Running => {}
        status => anyhow::bail!("container {} is {status}, not running", c.record.id),
    }
    cgroup(&c)?.freeze()?;
    Ok(0)
}

/// The container's cgroup, which pause and resume need.
pub fn cgroup(c: &Container) -> anyhow::Result<minotaur_runtime::Cgroup> {
    c.cgroup().ok_or_else(|| {
        anyhow::anyhow!(
            "container {} has no cgroup (its spec has no linux.cgroupsPath) to freeze",
            c.record.id
        )
    })
}
