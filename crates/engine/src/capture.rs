//! `capture`: which network namespaces and interfaces a capture's targets name. A target is a container
//! (its network namespace file, which exists from `create` to `rm`, so a stopped container's network can be
//! watched too), an `ip netns` name, a PID or a namespace file. With `--host-side`, a container's packets
//! are taken on the host's end of its veths instead, in the engine's own namespace. The sockets, the
//! filter and the output are `minotaur-capture`'s.

use minotaur_capture::{Interfaces, Options, Session, Source};
use minotaur_ns::target::{NameResolver, NsSource, Target};
use minotaur_ns::NsKind;

use crate::context::Context;
use crate::error::{io_err, EngineError};
use crate::names::ContainerNames;
use crate::network::attach::attachments;

/// What `capture` is asked for.
#[derive(Clone, Debug, Default)]
pub struct CaptureRequest {
    pub targets: Vec<String>,
    /// `-i`: an interface name, `any`, or the default (every interface but `lo`).
    pub interface: Option<String>,
    /// On the host's ends of containers' veths.
    pub host_side: bool,
}

/// Opens the packet sockets for a capture: one per (target, interface), each in its target's namespace.
pub fn open(ctx: &Context, req: &CaptureRequest, opts: &Options) -> Result<Session, EngineError> {
    let interfaces = match req.interface.as_deref() {
        None => Interfaces::Default,
        Some("any") => Interfaces::All,
        Some(name) => Interfaces::Named(vec![name.to_owned()]),
    };
    let names = ContainerNames::load(ctx);
    let mut sources = Vec::new();
    for target in &req.targets {
        if req.host_side {
            sources.push(host_side(ctx, target, &interfaces)?);
            continue;
        }
        let path = match Target::parse(target)?.resolve(NsKind::Net, &names as &dyn NameResolver)? {
            NsSource::Pid(pid) => NsKind::Net.proc_path(pid.as_raw()).into(),
            NsSource::File(path) => path,
        };
        let netns =
            minotaur_ns::enter::open_ns_file(&path, NsKind::Net).map_err(|e| EngineError::Io {
                what: format!("open the network namespace of {target}"),
                source: std::io::Error::other(minotaur_ns::error_chain(&e)),
            })?;
        sources.push(Source {
            label: target.clone(),
            netns: Some(netns),
            interfaces: interfaces.clone(),
        });
    }
    Ok(minotaur_capture::open(sources, opts)?)
}

/// A container's veths, by their host ends: all of them, or the one whose container end is `-i`'s.
fn host_side(ctx: &Context, target: &str, interfaces: &Interfaces) -> Result<Source, EngineError> {
    let c = ctx.find(target)?;
    let ends = attachments(ctx, Some(c.id.as_str()), None)?;
    if ends.is_empty() {
        return Err(EngineError::Io {
            what: format!("capture on the host side of {}", c.name),
            source: std::io::Error::other("it has no veth (--host-side needs a bridge network)"),
        });
    }
    let veths = match interfaces {
        Interfaces::Named(names) => names
            .iter()
            .map(|n| {
                ends.iter()
                    .find(|a| &a.endpoint.ifname == n)
                    .map(|a| a.endpoint.host_veth.clone())
                    .ok_or_else(|| {
                        minotaur_capture::CaptureError::NoInterface {
                            iface: n.clone(),
                            label: c.name.to_string(),
                        }
                        .into()
                    })
            })
            .collect::<Result<Vec<_>, EngineError>>()?,
        _ => ends.iter().map(|a| a.endpoint.host_veth.clone()).collect(),
    };
    Ok(Source {
        label: c.name.to_string(),
        netns: None,
        interfaces: Interfaces::Named(veths),
    })
}

/// Creates the file a capture is written to.
pub fn create_output(path: &std::path::Path) -> Result<std::fs::File, EngineError> {
    std::fs::File::create(path).map_err(io_err(format!("create {}", path.display())))
}

/// Whether a word names a capture target (a container, an `ip netns` name, a PID or a namespace file),
/// rather than starting a filter.
pub fn is_target(ctx: &Context, word: &str) -> bool {
    let names = ContainerNames::load(ctx);
    Target::parse(word)
        .and_then(|t| t.resolve(NsKind::Net, &names as &dyn NameResolver))
        .is_ok()
}
