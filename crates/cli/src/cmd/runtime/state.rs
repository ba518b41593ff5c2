use minotaur_runtime::state::Root;

/// Print a container's state as JSON
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container's ID
    id: String,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let c = root.load(&args.id)?;
    println!("{}", serde_json::to_string_pretty(&c.state())?);
    Ok(0)
}
