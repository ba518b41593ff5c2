use std::io::Write;

use minotaur_engine::portforward::{self, Direction, Forward};

use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Forward ports to and from a container, also ports that are not published or listen only on the
/// container's localhost. Runs until interrupted (Ctrl-C)
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_name = "CONTAINER")]
    container: String,
    /// Host to container: listen on the host's [HOSTADDR:]PORT (127.0.0.1 by default; port 0 picks a free
    /// one) and connect to [ADDR:]PORT inside the container (127.0.0.1 by default)
    #[arg(short = 'L', value_name = "[HOSTADDR:]PORT:[ADDR:]PORT")]
    local: Vec<String>,
    /// Container to host: listen on the container's 127.0.0.1:PORT and connect to HOSTADDR:PORT on the host
    #[arg(short = 'R', value_name = "PORT:HOSTADDR:PORT")]
    remote: Vec<String>,
}

fn report(message: &str) {
    eprintln!("minotaur: port-forward: {message}");
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let forwards: Vec<Forward> = args
        .local
        .iter()
        .map(|s| Forward::local(s))
        .chain(args.remote.iter().map(|s| Forward::remote(s)))
        .collect::<Result<_, _>>()?;
    let ctx = context(global);
    let (netns, listening) = portforward::listen(&ctx, &args.container, &forwards)?;
    // The store is not needed any more: relaying runs until the process is ended.
    drop(ctx);
    let mut out = std::io::stdout().lock();
    for l in &listening {
        match l.forward.direction {
            Direction::Local => {
                writeln!(out, "Forwarding from {} -> {}", l.local, l.forward.connect)?
            }
            Direction::Remote => writeln!(
                out,
                "Forwarding from {} in the container -> {}",
                l.local, l.forward.connect
            )?,
        }
    }
    out.flush()?;
    drop(out);
    portforward::serve(netns, listening, report)
}
