use minotaur_engine::debug::{self, DebugRequest};
use minotaur_engine::image::pull::{ensure, PullOptions, PullPolicy};
use minotaur_engine::parse;

use crate::error::{CliError, CliResult};
use crate::global::context;
use crate::global::Global;

/// Debug a container with tools it does not have, changing nothing in it
///
/// Runs the host's tools (or a toolbox image's) in the container's network, PID, UTS, IPC and cgroup
/// namespaces, with its root filesystem at /target. Works on stopped, read-only and distroless containers.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run the tools of this image instead of the host's (pulled first if it is not here)
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,

    /// Take one namespace from elsewhere: TYPE (mnt, net, pid, uts, ipc, cgroup) = a container, image:NAME
    /// (mnt only), host, a PID, an `ip netns` name or a namespace file
    #[arg(long = "ns", value_name = "TYPE=SOURCE")]
    namespaces: Vec<String>,

    /// User and group: NAME|UID[:GROUP|GID], looked up in the tools' /etc/passwd (default: root)
    #[arg(short = 'u', long)]
    user: Option<String>,

    /// Add a capability to the container's set
    #[arg(long = "cap-add", value_name = "CAP")]
    cap_add: Vec<String>,

    /// Every capability, and no seccomp filter
    #[arg(long)]
    privileged: bool,

    /// Keep standard input open
    #[arg(short = 'i', long)]
    interactive: bool,

    /// Allocate a terminal
    #[arg(short = 't', long)]
    tty: bool,

    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,

    /// Working directory in the session (default: /)
    #[arg(short = 'w', long)]
    workdir: Option<String>,

    /// The container to debug
    #[arg(value_name = "TARGET")]
    target: String,

    /// The command and its arguments (default: an interactive shell)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

pub fn run(global: &Global, args: Args) -> CliResult {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for e in &args.env {
        env.extend(parse::env(e, lookup).map_err(|e| CliError::with_code(125, e))?);
    }
    let ctx = context(global);
    // A toolbox image that is not here is pulled first, as `run` does.
    if let Some(image) = &args.image {
        let reporter =
            crate::progress::reporter(crate::progress::Mode::Auto, crate::progress::Stream::Stderr);
        let policy = PullPolicy::Missing;
        ensure(
            &ctx,
            &global.registry(),
            image,
            policy,
            &PullOptions::default(),
            reporter.as_ref(),
        )
        .map_err(|e| CliError::with_code(125, e))?;
    }
    let req = DebugRequest {
        target: args.target,
        image: args.image,
        namespaces: args.namespaces,
        cmd: args.command,
        env,
        working_dir: args.workdir,
        user: args.user,
        cap_add: args.cap_add,
        privileged: args.privileged,
        tty: args.tty,
        stdin: args.interactive,
    };
    match debug::debug(&ctx, &req) {
        Ok(code) => Ok(code as u8),
        Err(e) => Err(CliError::with_code(e.exit_code() as u8, e)),
    }
}
