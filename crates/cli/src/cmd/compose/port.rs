use super::Args as ComposeArgs;
use crate::error::CliResult;
use crate::global::context;
use crate::global::Global;

/// Print the public port for a port binding of a service
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    index: u32,
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    protocol: String,
    #[arg(value_name = "SERVICE")]
    service: String,
    #[arg(value_name = "PRIVATE_PORT")]
    port: u16,
}

pub fn run(global: &Global, compose: &ComposeArgs, args: &Args) -> CliResult {
    let loaded = compose.load(&[], false)?;
    let ctx = context(global);
    let name =
        super::exec::service_container(&ctx, &loaded.project.name, &args.service, args.index)?;
    crate::cmd::port::run(
        global,
        crate::cmd::port::Args {
            container: name,
            port: Some(format!("{}/{}", args.port, args.protocol)),
        },
    )
}
