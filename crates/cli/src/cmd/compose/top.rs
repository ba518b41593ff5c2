use std::io::Write;

use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Display the running processes of each service container
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "SERVICE")]
    service: Vec<String>,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&args.service, false)?;
    let ctx = context(global);
    let list = minotaur_composer::control::selected(&ctx, &loaded, &args.service, false)?;
    for (_, c) in list {
        let live = ctx.find_live(c.id.as_str())?;
        if live.state.status != minotaur_engine::container::Status::Running {
            continue;
        }
        writeln!(std::io::stdout(), "{}", c.name)?;
        crate::cmd::top::run(
            global,
            crate::cmd::top::Args {
                container: c.id.to_string(),
            },
        )?;
        writeln!(std::io::stdout())?;
    }
    Ok(0)
}
