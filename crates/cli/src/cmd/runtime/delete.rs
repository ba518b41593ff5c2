use std::path::PathBuf;
use std::time::Duration;

use minotaur_runtime::cgroup::systemd::Systemd;
use minotaur_runtime::state::{Container, Root, StateError, Status};
use minotaur_runtime::Cgroup;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Delete a stopped container: its cgroup, its state, then the poststop hooks
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill a running container first
    #[arg(short, long)]
    force: bool,

    /// The container's ID
    id: String,
}

pub fn run(root: &Root, args: Args) -> anyhow::Result<u8> {
    let c = match root.load(&args.id) {
        Ok(c) => c,
        // runc: deleting what does not exist is fine with --force.
        Err(StateError::NotFound(_)) if args.force => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let _lock = super::lock(&c)?;
    delete(&c, args.force)?;
    Ok(0)
}

/// Deletes a stopped container; a created or running one only with `force`, killed first.
pub fn delete(c: &Container, force: bool) -> anyhow::Result<()> {
    match c.status() {
        Status::Stopped => {}
        // The runtime spec: deleting a container that is not stopped is an error (runc deletes a created
        // one anyway; its conformance suite checks the spec's rule).
        _ if force => kill_and_wait(c)?,
        status => anyhow::bail!(
            "container {} is {status}: stop it first, or delete it with --force",
            c.record.id
        ),
    }
    let mut errors = Vec::new();
    let cgroup_root = PathBuf::from(minotaur_runtime::cgroup::DEFAULT_ROOT);
    if let Some(unit) = &c.record.systemd_unit {
        // systemd removes the scope's cgroups once it has stopped; what it does not manage (the freezer,
        // cpuset on v1) was made by the runtime and is removed here.
        if let Err(e) = Systemd::connect().and_then(|sd| sd.stop(unit)) {
            errors.push(anyhow::Error::from(e));
        }
        if let Some(path) = &c.record.cgroup {
            if let Err(e) = Cgroup::existing(&cgroup_root, path).remove() {
                errors.push(e.into());
            }
        }
    } else if let Some(path) = &c.record.cgroup {
        match Cgroup::open(&cgroup_root, path) {
            Ok(cg) => {
                if let Err(e) = cg.remove() {
                    errors.push(anyhow::Error::from(e));
                }
            }
            Err(minotaur_runtime::cgroup::CgroupError::Missing { .. }) => {}
            Err(e) => errors.push(e.into()),
        }
    }
    if let Some(shared) = &c.record.shared_root {
        if let Err(e) = minotaur_runtime::shared_mounts::release(shared) {
            errors.push(e.into());
        }
    }
    let spec = super::container_spec(c);
    let state = c.state();
    if let Err(e) = c.remove() {
        errors.push(e.into());
    }
    match spec {
        Ok(spec) => {
            if let Some(hooks) = spec.hooks() {
                for e in minotaur_runtime::hooks::run_all(
                    "poststop",
                    hooks.poststop().as_deref().unwrap_or_default(),
                    &state,
                ) {
                    eprintln!("minotaur-runc: warning: {e}");
                }
            }
        }
        // The bundle may be gone already; the container still goes.
        Err(e) => eprintln!("minotaur-runc: warning: no poststop hooks run: {e:#}"),
    }
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// SIGKILLs the init (and a cgroup's other processes) and waits until it has exited.
fn kill_and_wait(c: &Container) -> anyhow::Result<()> {
    if !c.alive() {
        return Ok(());
    }
    super::kill::kill(c, Signal::SIGKILL, true)?;
    let _ = nix::sys::signal::kill(Pid::from_raw(c.record.pid), Signal::SIGKILL);
    // A frozen process takes its SIGKILL only once thawed (as runc does, thaw after the signal).
    if let Some(cg) = c.cgroup().filter(|cg| cg.is_frozen()) {
        cg.thaw()?;
    }
    if !c.wait_exit(Duration::from_secs(10)) {
        anyhow::bail!("container {} did not exit after SIGKILL", c.record.id);
    }
    Ok(())
}
