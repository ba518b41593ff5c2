//! Container names and IDs as namespace targets (`nsenter --net=web`, `-t web`) and as what `lsns` calls a
//! namespace. The namespace tools know nothing of containers; the engine answers for them here.

use std::path::Path;

use minotaur_ns::target::{NameResolver, NetnsNames, NsSource, TargetError};
use minotaur_ns::{Namespace, NsId, NsKind};
use minotaur_state::DB_FILE;
use nix::unistd::Pid;

use crate::container::{Container, Status};
use crate::context::Context;
use crate::process::alive;

/// Resolves container names and IDs, then `/run/netns` names.
pub struct ContainerNames {
    containers: Vec<Container>,
    netns: NetnsNames,
}

impl ContainerNames {
    /// The containers of the engine's context, read once. A machine where minotaur never ran has none, and
    /// this does not create the state directory.
    pub fn load(ctx: &Context) -> ContainerNames {
        let containers = if ctx.paths.root.join(DB_FILE).exists() {
            ctx.list().unwrap_or_default()
        } else {
            Vec::new()
        };
        ContainerNames {
            containers,
            netns: NetnsNames::default(),
        }
    }

    /// The name of a container created from the image with ID `image_id`, if any.
    pub fn using_image(&self, image_id: &str) -> Option<&str> {
        self.containers
            .iter()
            .find(|c| c.config.image_id == image_id)
            .map(|c| c.name.as_str())
    }

    fn find(&self, name: &str) -> Option<&Container> {
        let name = name.strip_prefix('/').unwrap_or(name);
        self.containers
            .iter()
            .find(|c| c.id.as_str() == name || c.name.as_str() == name)
            .or_else(|| {
                let mut by_prefix = self
                    .containers
                    .iter()
                    .filter(|c| c.id.as_str().starts_with(name));
                match (by_prefix.next(), by_prefix.next()) {
                    (Some(c), None) => Some(c),
                    _ => None,
                }
            })
    }

    /// The names of the containers a namespace belongs to: those whose PID 1 is in it, or whose network
    /// namespace file holds it. A namespace the containers share with the host's init (the user and time
    /// namespaces, or the PID namespace of a `--pid host` container) is the host's, not theirs.
    pub fn names_of(&self, ns: &Namespace) -> Vec<String> {
        if NsId::of_path(ns.kind.proc_path(1)).ok() == Some(ns.id) {
            return Vec::new();
        }
        self.containers
            .iter()
            .filter(|c| {
                let running =
                    c.state.status == Status::Running && alive(c.state.pid, c.state.pid_start_time);
                (running && NsId::of_path(ns.kind.proc_path(c.state.pid)).ok() == Some(ns.id))
                    || (ns.kind == NsKind::Net
                        && c.state
                            .sandbox_key
                            .as_deref()
                            .and_then(|k| NsId::of_path(k).ok())
                            == Some(ns.id))
            })
            .map(|c| c.name.to_string())
            .collect()
    }
}

impl NameResolver for ContainerNames {
    fn resolve(&self, name: &str, kind: NsKind) -> Result<Option<NsSource>, TargetError> {
        let Some(c) = self.find(name) else {
            return self.netns.resolve(name, kind);
        };
        // The network namespace outlives the process: it is the container's own file.
        if kind == NsKind::Net {
            if let Some(key) = &c.state.sandbox_key {
                if Path::new(key).exists() {
                    return Ok(Some(NsSource::File(key.clone())));
                }
            }
        }
        if c.state.status == Status::Running && alive(c.state.pid, c.state.pid_start_time) {
            return Ok(Some(NsSource::Pid(Pid::from_raw(c.state.pid))));
        }
        Err(TargetError::Unavailable {
            name: name.to_owned(),
            kind,
            why: format!("container {} is not running", c.name),
        })
    }
}
