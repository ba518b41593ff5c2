//! minotaur as a CNI plugin (`minotaur-cni`): a CNI runtime's network namespace joined to a minotaur
//! network, the way a container's is, but keyed as CNI keys it (network, `CNI_CONTAINERID`, `CNI_IFNAME`)
//! and recorded in the store's `cni_attachments`, not as a container.
//!
//! The CNI network is the minotaur network of the configuration's `name`, made with `network create`'s
//! defaults (or the configuration's bridge name, MTU and host-local ranges) on the first ADD that needs it.
//! Addresses come from the same allocator as containers' (one write transaction per ADD, so parallel ADDs
//! get distinct ones); the veth's host end is a port of the network's bridge, named `mc<13 hex>`; the
//! `portMappings` capability's ports are elements of minotaur's firewall table, kept by `network reload`
//! like containers' published ports.
//!
//! | module | owns |
//! |---|---|
//! | [`config`] | the `CNI_*` environment and the network configuration, with the spec's checks |
//! | [`attachment`] | ADD, DEL, CHECK and GC: the record, the veth, the routes, the ports |
//! | [`bandwidth`] | the `bandwidth` capability: token buckets on the host end and on an ifb device |
//! | [`ipam`] | the addresses: one per range set, requested ones to the set that holds them |
//! | [`error`] | [`CniError`] and the spec's error codes and document |
//!
//! The resolver answers an attachment's names (`K8S_POD_NAME` from `CNI_ARGS`, and the container ID) with
//! its addresses on the network's gateways.

pub mod attachment;
pub mod bandwidth;
pub mod config;
pub mod error;
pub mod ipam;

use crate::context::Context;
pub use config::{Command, Invocation, NetConf, SUPPORTED_VERSIONS};
pub use error::CniError;

/// Runs one CNI command with the configuration read from stdin (`config`). Returns the document to print
/// on stdout, if the command has one.
pub fn run(
    ctx: &Context,
    inv: &Invocation,
    config: &[u8],
) -> Result<Option<serde_json::Value>, CniError> {
    if inv.command == Command::Version {
        // The spec sends a configuration with only cniVersion; answer in that version (or the newest).
        let version = serde_json::from_slice::<serde_json::Value>(config)
            .ok()
            .and_then(|v| v.get("cniVersion")?.as_str().map(str::to_owned))
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.len() - 1].to_owned());
        return Ok(Some(serde_json::json!({
            "cniVersion": version,
            "supportedVersions": SUPPORTED_VERSIONS,
        })));
    }
    let conf = NetConf::parse(config)?;
    // Without a store nothing was ever attached: the commands that only look or take away do not make one
    // (a DEL run with another MINOTAUR_ROOT than its ADD must not leave a database behind).
    if inv.command != Command::Add && !ctx.paths.root.join(minotaur_state::DB_FILE).exists() {
        return match inv.command {
            Command::Check => Err(CniError::UnknownContainer(format!(
                "{}/{} is not attached to network {} (there is no state in {})",
                inv.container_id,
                inv.ifname,
                conf.name,
                ctx.paths.root.display()
            ))),
            _ => Ok(None),
        };
    }
    match inv.command {
        Command::Add => attachment::add(ctx, inv, &conf).map(Some),
        Command::Del => attachment::del(ctx, inv, &conf).map(|()| None),
        Command::Check => attachment::check(ctx, inv, &conf).map(|()| None),
        Command::Gc => attachment::gc(ctx, &conf).map(|()| None),
        Command::Status => attachment::status(ctx, &conf).map(|()| None),
        Command::Version => unreachable!("answered above"),
    }
}
