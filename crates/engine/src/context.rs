//! The context every engine capability works over: the directories (`Paths`), the cgroup root, and the one
//! connection to the state store, opened on first use. Capabilities (create, start, stop, rm, exec, networks,
//! and later volumes and pulls) are modules of functions that take a `&Context`; none of them is a method of
//! one struct that every other module imports.

use std::cell::{RefCell, RefMut};
use std::path::PathBuf;

use minotaur_ns::netns::Registry;
use minotaur_state::Store;

use crate::container::{Container, State, Status};
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::paths::Paths;
use crate::process::{alive, alive_all};
use crate::store;

/// The engine's shared context: where its files are, where its cgroups go, and its state store.
#[derive(Clone, Debug)]
pub struct Context {
    pub paths: Paths,
    /// The cgroup filesystem containers' cgroups are made in.
    pub cgroup_root: PathBuf,
    store: StoreCell,
    /// The resolver's listeners, when this process holds them without a server (see
    /// `network::dns::HeldResolver`).
    pub(crate) resolver: ResolverCell,
}

/// The resolver held by this process (a supervisor); a clone of the context holds none.
#[derive(Default, Debug)]
pub(crate) struct ResolverCell(pub(crate) RefCell<Option<minotaur_dns::Dormant>>);

impl Clone for ResolverCell {
    fn clone(&self) -> Self {
        ResolverCell::default()
    }
}

/// The one connection to the state store, opened on first use. A clone of the context opens its own; a
/// process about to fork releases it first, since an SQLite connection must not cross a fork.
#[derive(Default)]
struct StoreCell(RefCell<Option<Store>>);

impl Clone for StoreCell {
    fn clone(&self) -> Self {
        StoreCell::default()
    }
}

impl std::fmt::Debug for StoreCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreCell")
    }
}

impl Context {
    pub fn new(paths: Paths) -> Context {
        Context {
            paths,
            cgroup_root: PathBuf::from(minotaur_runtime::cgroup::DEFAULT_ROOT),
            store: StoreCell::default(),
            resolver: ResolverCell::default(),
        }
    }

    /// The state store, opened once per context.
    pub fn store(&self) -> Result<RefMut<'_, Store>, EngineError> {
        let mut slot = self.store.0.borrow_mut();
        if slot.is_none() {
            *slot = Some(Store::open(&self.paths.root)?);
        }
        Ok(RefMut::map(slot, |s| s.as_mut().expect("opened above")))
    }

    /// Closes the connection to the state store (before a fork; the next use reopens it).
    pub(crate) fn release_store(&self) {
        self.store.0.borrow_mut().take();
    }

    /// [`Context::release_store`] before forking a process that opens the store at once (the supervisor):
    /// the log's index stays in use until the hold is dropped, so the child need not rebuild it (see
    /// `Store::close_holding_index`). The child drops its copy of the hold first thing.
    pub(crate) fn release_store_holding_index(&self) -> Option<minotaur_state::IndexHold> {
        self.store
            .0
            .borrow_mut()
            .take()
            .and_then(Store::close_holding_index)
    }

    /// The registry of containers' network namespace files (`<runroot>/netns`).
    pub(crate) fn netns(&self) -> Registry {
        Registry::at(self.paths.netns_dir(), "/etc/netns")
    }

    /// Finds a container by ID, name or unique ID prefix.
    pub fn find(&self, reference: &str) -> Result<Container, EngineError> {
        let mut st = self.store()?;
        Ok(st.read(|tx| store::find(tx, reference))?)
    }

    /// Like [`Context::find`], with the state corrected if its process died unrecorded: what `inspect` shows.
    pub fn find_live(&self, reference: &str) -> Result<Container, EngineError> {
        let mut c = self.find(reference)?;
        correct(&mut c);
        Ok(c)
    }

    /// All containers, oldest first, with the state of those whose processes died unrecorded corrected.
    pub fn list(&self) -> Result<Vec<Container>, EngineError> {
        self.list_as()
    }

    /// [`Context::list`], each configuration decoded as `C` (see [`store::list_as`]).
    pub fn list_as<C: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<Vec<Container<C>>, EngineError> {
        let mut st = self.store()?;
        let mut all = st.read(store::list_as::<C>)?;
        drop(st);
        // PID 1 of every running container checked at once; the rare rest one by one.
        let running: Vec<(i32, u64, u64)> = all
            .iter()
            .filter(|c| c.state.status == Status::Running)
            .map(|c| (c.state.pid, c.state.pid_start_time, c.state.pid_inode))
            .collect();
        let mut live = alive_all(&running).into_iter();
        for c in &mut all {
            if c.state.status == Status::Running {
                let alive = live.next().expect("one answer per running container");
                correct_as(c, alive);
            } else {
                correct(c);
            }
        }
        Ok(all)
    }

    /// Records a new state for a container.
    pub fn set_state(&self, id: &ContainerId, state: &State) -> Result<(), EngineError> {
        let mut st = self.store()?;
        Ok(st.write(|tx| store::set_state(tx, id, state))?)
    }
}

/// Shows a container recorded as running whose PID 1 is gone as exited. The supervisor records the exit;
/// this covers the moment before it does, and a supervisor that was killed. The record is not changed:
/// `wait`, `stop` and `rm` read it to know whether a supervisor is still to be waited for.
/// A container recorded as restarting whose supervisor is gone (killed, or a reboot) is shown as exited.
/// When the supervisor is gone, the exit code shown is -1: the real one died with it.
pub(crate) fn correct<C>(c: &mut Container<C>) {
    let s = &c.state;
    let running = s.status == Status::Running && alive(s.pid, s.pid_start_time);
    correct_as(c, running);
}

/// [`correct`], told whether a running container's PID 1 is alive.
fn correct_as<C>(c: &mut Container<C>, pid1_alive: bool) {
    let s = &mut c.state;
    let dead = match s.status {
        Status::Running => !pid1_alive,
        Status::Restarting => !alive(s.supervisor_pid, s.supervisor_start_time),
        _ => false,
    };
    if dead {
        s.status = Status::Exited;
        s.pid = 0;
        // With its supervisor gone too, nobody will record how PID 1 ended: the status is unknown, not
        // success (what `system check --repair` then records).
        if !alive(s.supervisor_pid, s.supervisor_start_time) {
            s.exit_code = -1;
            if s.error.is_empty() {
                s.error = "the supervisor died before it recorded the exit".into();
            }
        }
    }
}
