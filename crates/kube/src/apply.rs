//! Making what [`crate::play::plan`] planned: volumes and their files, the infra container, init
//! containers run to completion in order, then the pod's containers; and `--down`.

use std::collections::BTreeMap;

use minotaur_engine::context::Context;

use crate::error::KubeError;
use crate::labels;
use crate::play::{Plan, PodAddresses, PodPlan};

/// How `apply` reports what it does, for the CLI to word.
pub enum Event<'a> {
    Pod(&'a str),
    Container(&'a str),
    Volume(&'a str),
    Removed(&'a str),
}

/// Makes the pods of `plan`: for each, its volumes and files, the infra container, the init containers
/// one after the other (each must exit 0), then the containers. A pod that exists is an error unless
/// `replace`, which removes it first. A failure removes what this pod got so far.
pub fn apply(
    ctx: &Context,
    plan: &Plan,
    replace: bool,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<(), KubeError> {
    let all = crate::find::all(ctx)?;
    for p in &plan.pods {
        let exists = all
            .iter()
            .any(|c| c.config.labels.get(labels::POD).map(String::as_str) == Some(&p.name));
        if exists && !replace {
            return Err(KubeError::Pod {
                pod: p.name.clone(),
                what: "exists: remove it with kube play --down, or use --replace".into(),
            });
        }
    }
    let cluster_ips = crate::service::assign(ctx, plan)?;
    let names: Vec<&str> = plan.pods.iter().map(|p| p.name.as_str()).collect();
    down(ctx, &names, events)?;
    for claim in plan
        .claims
        .iter()
        .chain(plan.pods.iter().flat_map(|p| &p.claims))
    {
        if minotaur_engine::volume::inspect(ctx, claim).is_err() {
            minotaur_engine::volume::create(ctx, Some(claim), None, BTreeMap::new())
                .map_err(volume_error("create", claim))?;
            events(Event::Volume(claim));
        }
    }
    for p in &plan.pods {
        if let Err(e) = make_pod(ctx, p, &cluster_ips, events) {
            let _ = down(ctx, &[&p.name], &mut |_| {});
            return Err(e);
        }
    }
    Ok(())
}

fn make_pod(
    ctx: &Context,
    p: &PodPlan,
    cluster_ips: &crate::service::Assigned,
    events: &mut dyn FnMut(Event<'_>),
) -> Result<(), KubeError> {
    use crate::error::engine;
    use minotaur_engine::supervisor::Attach;
    use minotaur_engine::{create, start, stop};

    let owned = BTreeMap::from([(labels::POD.to_owned(), p.name.clone())]);
    for v in &p.volumes {
        let vol = minotaur_engine::volume::create(ctx, Some(v), None, owned.clone())
            .map_err(volume_error("create", v))?;
        for (_, path, content, mode) in p.files.iter().filter(|f| &f.0 == v) {
            write_file(&vol.mountpoint, path, content, *mode)?;
        }
    }
    let infra = p
        .infra
        .name
        .as_ref()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let made = create::create(ctx, crate::service::fill(p, cluster_ips))
        .map_err(engine("create container", &infra))?;
    start::start(ctx, &infra, Attach::Detached).map_err(engine("start container", &infra))?;
    events(Event::Pod(&p.name));
    let addrs = if p.late_env.is_empty() {
        PodAddresses::default()
    } else {
        addresses(ctx, &made).map_err(engine("inspect container", &infra))?
    };
    for req in p.init.iter().chain(&p.containers) {
        let req = &p.fill(req, &addrs).map_err(|what| KubeError::Pod {
            pod: p.name.clone(),
            what,
        })?;
        let name = req
            .name
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        create::create(ctx, req.clone()).map_err(engine("create container", &name))?;
        start::start(ctx, &name, Attach::Detached).map_err(engine("start container", &name))?;
        if req.labels.contains_key(labels::INIT) {
            let code = stop::wait(ctx, &name).map_err(engine("wait for container", &name))?;
            if code != 0 {
                return Err(KubeError::Pod {
                    pod: p.name.clone(),
                    what: format!("init container {name} exited with {code}"),
                });
            }
        }
        events(Event::Container(&name));
    }
    Ok(())
}

/// The pod's addresses (its infra container's, on its first network) and the host's on that network (the
/// gateway), for the `status` fields of `fieldRef`s.
fn addresses(
    ctx: &Context,
    infra: &minotaur_engine::container::Container,
) -> Result<PodAddresses, minotaur_engine::error::EngineError> {
    let doc = minotaur_engine::inspect::inspect(ctx, infra)?;
    let ns = &doc["NetworkSettings"];
    let pick = |keys: [&str; 2]| -> Vec<String> {
        keys.iter()
            .filter_map(|k| ns[*k].as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    Ok(PodAddresses {
        pod: pick(["IPAddress", "GlobalIPv6Address"]),
        host: pick(["Gateway", "IPv6Gateway"]),
    })
}

/// Writes one file of a configMap or secret volume, making its directories.
fn write_file(
    root: &std::path::Path,
    path: &str,
    content: &[u8],
    mode: u32,
) -> Result<(), KubeError> {
    use std::os::unix::fs::PermissionsExt;
    let target = root.join(path);
    let io = |what: &'static str, path: &std::path::Path| {
        let path = path.to_owned();
        move |source| KubeError::Io { what, path, source }
    };
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    std::fs::write(&target, content).map_err(io("write", &target))?;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(io("set the mode of", &target))
}

/// Removes every container of the pods named (stopped first) and the volumes they own.
pub fn down(
    ctx: &Context,
    pods: &[&str],
    events: &mut dyn FnMut(Event<'_>),
) -> Result<(), KubeError> {
    use crate::error::engine;
    let of_pods = |l: &BTreeMap<String, String>| {
        l.get(labels::POD)
            .is_some_and(|p| pods.contains(&p.as_str()))
    };
    let mut members: Vec<_> = crate::find::all(ctx)?
        .into_iter()
        .filter(|c| of_pods(&c.config.labels))
        .collect();
    // The infra containers last: the others share their namespaces.
    members.sort_by_key(|c| c.config.labels.contains_key(labels::INFRA));
    for c in members {
        minotaur_engine::remove::remove(ctx, c.id.as_str(), true, false)
            .map_err(engine("remove container", c.name.as_str()))?;
        events(Event::Removed(c.name.as_str()));
    }
    for v in minotaur_engine::volume::list(ctx).map_err(volume_error("list", "volumes"))? {
        if of_pods(&v.labels) {
            minotaur_engine::volume::remove(ctx, &v.name, true)
                .map_err(volume_error("remove", &v.name))?;
        }
    }
    Ok(())
}

fn volume_error(
    what: &'static str,
    name: &str,
) -> impl FnOnce(minotaur_engine::error::volume::VolumeError) -> KubeError {
    let name = name.to_owned();
    move |source| KubeError::Volume {
        what,
        name,
        source: Box::new(source),
    }
}
