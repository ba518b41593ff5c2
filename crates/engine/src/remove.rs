//! `rm`: removing a container and everything it owns (published ports, `ip netns` name, network namespace,
//! cgroup, files, record, and on request its anonymous volumes), going on past errors.

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use minotaur_ns::netns::{NetnsError, NetnsName};
use minotaur_state::WriteTx;
use nix::sys::signal::Signal;

use crate::container::{Container, Status};
use crate::context::Context;
use crate::error::EngineError;
use crate::events;
use crate::network::{attach, dns, netns, ports};
use crate::process::alive;
use crate::stop;
use crate::store::{self, StoreError};
use crate::volume;

/// Removes a container and everything it owns: network namespace, cgroup, files, record; with `volumes`
/// (`rm -v`), its anonymous volumes too.
pub fn remove(
    ctx: &Context,
    reference: &str,
    force: bool,
    volumes: bool,
) -> Result<Container, EngineError> {
    remove_many(ctx, &[reference.to_owned()], force, volumes)
        .pop()
        .expect("one result per reference")
}

/// How many containers [`remove_many`] takes apart at once. Taking one apart is mostly waiting (for its
/// supervisor to go, for the filesystem's journal, for the kernel's unmount), not computing: threads
/// overlap the waits, on any number of cores.
const WORKERS: usize = 8;

/// A container [`remove_many`] found: whether its PID 1 was SIGKILLed (the PID, else 0) and whether its
/// supervisor is waiting to restart it.
struct Target {
    c: Container,
    signalled: i32,
    restarting: bool,
}

/// What taking a container apart left for the record's removal: its anonymous volumes, whether it was on
/// a network, and the first error of its kernel objects and files.
struct TakenApart {
    anonymous: Vec<(String, bool)>,
    networked: bool,
    error: Option<EngineError>,
}

/// Removes several containers, as `rm A B C` asks, with the result of each in the order given. With
/// `force`, every running one is SIGKILLed before any is waited for: their supervisors then record the
/// exits side by side. The records are read in one transaction; the running ones are marked stopped
/// (with their `kill` events) in one, and the removed ones deleted (with their `destroy` events) in
/// one; in between, [`WORKERS`] threads wait for the supervisors and take the containers' kernel
/// objects and files apart. So removing a thousand running containers costs about one exit, a thousand
/// removals side by side and three transactions, rather than a thousand of each one after another. A
/// container named twice is removed once; the second name finds it gone, as it would one command later.
pub fn remove_many(
    ctx: &Context,
    references: &[String],
    force: bool,
    volumes: bool,
) -> Vec<Result<Container, EngineError>> {
    let mut results: Vec<Result<Target, EngineError>> = find_all(ctx, references)
        .into_iter()
        .map(|found| {
            let c = found?;
            let restarting = c.state.status == Status::Restarting
                && alive(c.state.supervisor_pid, c.state.supervisor_start_time);
            let running = stop::pidfd(&c)?.is_some();
            if (running || restarting) && !force {
                return Err(EngineError::Running(c.name.to_string()));
            }
            Ok(Target {
                signalled: if running { c.state.pid } else { 0 },
                c,
                restarting,
            })
        })
        .collect();
    mark_stopped(ctx, &mut results);
    for t in results.iter_mut().flatten() {
        if t.signalled != 0 {
            // Gone meanwhile (or another process now): nothing to signal, the wait below finds it gone.
            match stop::pidfd(&t.c) {
                Ok(Some(fd)) => {
                    let _ = minotaur_sys::pidfd_send_signal(&fd, Signal::SIGKILL);
                }
                _ => t.signalled = 0,
            }
        }
    }
    let apart = take_apart_all(ctx, &results, volumes);
    let mut results: Vec<Result<(Target, TakenApart), EngineError>> = results
        .into_iter()
        .zip(apart)
        .map(|(t, a)| Ok((t?, a?)))
        .collect();
    delete_records(ctx, &mut results);
    results
        .into_iter()
        .map(|r| {
            let (t, a) = r?;
            let mut first = a.error;
            if let Err(e) = volume::remove_anonymous(ctx, &a.anonymous) {
                first.get_or_insert(e.into());
            }
            if a.networked {
                if let Err(e) = dns::update(ctx, &t.c.id) {
                    first.get_or_insert(e);
                }
            }
            // Its record is gone: the cluster IPs it backed lose it as an endpoint.
            crate::network::services::update(ctx, &t.c);
            first.map_or(Ok(t.c), Err)
        })
        .collect()
}

/// The containers `references` name, read in one transaction; a container named twice is found once.
fn find_all(ctx: &Context, references: &[String]) -> Vec<Result<Container, EngineError>> {
    let read = ctx.store().and_then(|mut st| {
        Ok(st.read(
            |tx| -> Result<Vec<Result<Container, StoreError>>, StoreError> {
                Ok(references.iter().map(|r| store::find(tx, r)).collect())
            },
        )?)
    });
    let found = match read {
        Ok(found) => found,
        // The store cannot be read at all: each reference gets that error.
        Err(_) => return references.iter().map(|r| ctx.find(r)).collect(),
    };
    let mut seen = HashSet::new();
    found
        .into_iter()
        .zip(references)
        .map(|(f, r)| {
            let c = f?;
            if !seen.insert(c.id.clone()) {
                return Err(StoreError::NoSuchContainer(r.clone()).into());
            }
            Ok(c)
        })
        .collect()
}

/// Records that the user stopped the running and restarting containers of `targets` (so that their
/// supervisors do not restart them), with a `kill` event for each one to be SIGKILLed, in one
/// transaction. A container removed meanwhile gets its error. Should the transaction fail, each is
/// marked on its own, and gets its own error.
fn mark_stopped(ctx: &Context, targets: &mut [Result<Target, EngineError>]) {
    let to_mark = |t: &Target| t.signalled != 0 || t.restarting;
    if !targets.iter().flatten().any(to_mark) {
        return;
    }
    let batch = ctx.store().and_then(|mut st| {
        Ok(st.write(|tx| -> Result<Vec<bool>, StoreError> {
            let mut gone = Vec::new();
            for t in targets.iter().flatten().filter(|t| to_mark(t)) {
                match mark_one(tx, t) {
                    Ok(()) => gone.push(false),
                    Err(StoreError::NoSuchContainer(_)) => gone.push(true),
                    Err(e) => return Err(e),
                }
            }
            Ok(gone)
        })?)
    });
    let marked: Vec<&mut Result<Target, EngineError>> = targets
        .iter_mut()
        .filter(|t| t.as_ref().is_ok_and(to_mark))
        .collect();
    match batch {
        Ok(gone) => {
            for (t, gone) in marked.into_iter().zip(gone) {
                if gone {
                    let id = t.as_ref().map(|t| t.c.id.to_string()).unwrap_or_default();
                    *t = Err(StoreError::NoSuchContainer(id).into());
                }
            }
        }
        Err(_) => {
            for t in marked {
                let Ok(target) = t else { continue };
                let one = ctx
                    .store()
                    .and_then(|mut st| Ok(st.write(|tx| mark_one(tx, target))?));
                if let Err(e) = one {
                    *t = Err(e);
                }
            }
        }
    }
}

/// Marks one container stopped by the user, with its `kill` event when it was signalled; a signalled one
/// is also marked as being removed, which leaves its exit by the SIGKILL for [`delete_one`] to record.
fn mark_one(tx: &WriteTx<'_>, t: &Target) -> Result<(), StoreError> {
    store::update_state(tx, &t.c.id, |s| {
        s.stopped_by_user = true;
        s.removing = t.signalled != 0;
    })?;
    if t.signalled != 0 {
        events::container_in(tx, "kill", &t.c, &[("signal", "9")])?;
    }
    Ok(())
}

/// Waits for each container's supervisor to be gone and takes the container's kernel objects and files
/// apart, on up to [`WORKERS`] threads (one container: on this one), each with its own connection to
/// the store.
fn take_apart_all(
    ctx: &Context,
    targets: &[Result<Target, EngineError>],
    volumes: bool,
) -> Vec<Result<TakenApart, EngineError>> {
    let todo: Vec<(usize, &Target)> = targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, t.as_ref().ok()?)))
        .collect();
    let mut out: Vec<Option<Result<TakenApart, EngineError>>> =
        targets.iter().map(|_| None).collect();
    let workers = WORKERS.min(todo.len());
    if workers <= 1 {
        for (i, t) in todo {
            out[i] = Some(take_apart(ctx, t, volumes));
        }
    } else {
        let next = AtomicUsize::new(0);
        let done: Vec<(usize, Result<TakenApart, EngineError>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let ctx = ctx.clone();
                    let (todo, next) = (&todo, &next);
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&(i, t)) = todo.get(k) else { break };
                            done.push((i, take_apart(&ctx, t, volumes)));
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a removal thread panicked"))
                .collect()
        });
        for (i, r) in done {
            out[i] = Some(r);
        }
    }
    out.into_iter()
        .map(|r| {
            // None: failed earlier; its error stays in `targets`, and this one is never looked at.
            r.unwrap_or(Ok(TakenApart {
                anonymous: Vec::new(),
                networked: false,
                error: None,
            }))
        })
        .collect()
}

/// One container's part of [`take_apart_all`].
fn take_apart(ctx: &Context, t: &Target, volumes: bool) -> Result<TakenApart, EngineError> {
    let c = &t.c;
    if t.signalled != 0 || t.restarting {
        stop::wait_halted(ctx, c, Signal::SIGKILL, Duration::ZERO, t.signalled)?;
    }
    stop::settle(ctx, c);
    let anonymous = if volumes || c.config.host.auto_remove {
        volume::of_container(ctx, c)?
    } else {
        Vec::new()
    };
    let networked = attach::attachments(ctx, Some(c.id.as_str()), None)
        .map(|a| !a.is_empty())
        .unwrap_or(true);
    let error = cleanup(ctx, c).err();
    crate::crash::after("rm:kernel");
    Ok(TakenApart {
        anonymous,
        networked,
        error,
    })
}

/// Deletes the records of the containers taken apart, with a `destroy` event for each, in one
/// transaction (on a full disk, with the store's reserve given back). Should it fail, each is deleted on
/// its own, and gets its own error.
fn delete_records(ctx: &Context, results: &mut [Result<(Target, TakenApart), EngineError>]) {
    if !results.iter().any(Result::is_ok) {
        return;
    }
    let batch = ctx.store().and_then(|mut st| {
        Ok(st.write_freeing(|tx| -> Result<(), StoreError> {
            for (t, _) in results.iter().flatten() {
                delete_one(tx, &t.c)?;
            }
            Ok(())
        })?)
    });
    crate::crash::after("rm:record");
    if batch.is_ok() {
        return;
    }
    for r in results.iter_mut() {
        let Ok((t, _)) = r else { continue };
        let one = ctx
            .store()
            .and_then(|mut st| Ok(st.write_freeing(|tx| delete_one(tx, &t.c))?));
        if let Err(e) = one {
            *r = Err(e);
        }
    }
}

/// Deletes one container's record, with its `destroy` event. A container whose supervisor left its exit to
/// the `rm` (it was SIGKILLed while marked as being removed: see `State::removing`) still shows running
/// here, and gets its `die` event first, with the status of that signal.
fn delete_one(tx: &WriteTx<'_>, c: &Container) -> Result<(), StoreError> {
    match store::find(tx, c.id.as_str()) {
        Ok(now) if now.state.removing && now.state.status == Status::Running => {
            let code = (128 + Signal::SIGKILL as i32).to_string();
            events::container_in(tx, "die", &now, &[("exitCode", &code)])?;
        }
        Ok(_) | Err(StoreError::NoSuchContainer(_)) => {}
        Err(e) => return Err(e),
    }
    tx.delete_container(c.id.as_str())?;
    events::container_in(tx, "destroy", c, &[])?;
    Ok(())
}

/// Removes what a stopped container owns, and its anonymous volumes when it was run with `--rm`. Goes on
/// past errors and reports the first.
pub fn remove_stopped(ctx: &Context, c: &Container) -> Result<(), EngineError> {
    remove_stopped_with(ctx, c, c.config.host.auto_remove)
}

fn remove_stopped_with(ctx: &Context, c: &Container, volumes: bool) -> Result<(), EngineError> {
    let anonymous = if volumes {
        volume::of_container(ctx, c)?
    } else {
        Vec::new()
    };
    // The record and its `destroy` event in one commit.
    let (removed, untold) = finish_removal(ctx, c, &anonymous, true, |tx| {
        tx.delete_container(c.id.as_str())?;
        Ok(events::container_in(tx, "destroy", c, &[])?)
    });
    let told = untold.tell(ctx, c);
    removed.and(told)
}

/// The end of a `--rm` container (with no restart policy) whose PID 1 exited, in its supervisor, which
/// has just removed its cgroup (`cgroup_gone`: successfully, so it is not looked for again): what it owns
/// is taken apart, then the exit's events (`oom`, `die`), the deletion of the record and its `destroy`
/// event are one commit, where recording the exit and then the removal took two. A crash in between
/// leaves a record of a running container whose processes are gone, which every reader takes for an
/// exited one and `system check` repairs. Goes on past errors and reports the first. The resolver and
/// the Service rules are left to tell (see [`Untold`]): the supervisor tells them once the container's
/// attachers have its status.
pub(crate) fn remove_exited(
    ctx: &Context,
    c: &Container,
    code: i32,
    oom_killed: bool,
    cgroup_gone: bool,
) -> (Result<(), EngineError>, Untold) {
    let anonymous = match volume::of_container(ctx, c) {
        Ok(anonymous) => anonymous,
        Err(e) => return (Err(e.into()), Untold { networked: true }),
    };
    finish_removal(ctx, c, &anonymous, !cgroup_gone, |tx| {
        if oom_killed {
            events::container_in(tx, "oom", c, &[])?;
        }
        events::container_in(tx, "die", c, &[("exitCode", &code.to_string())])?;
        // Gone already when an `rm` took it apart meanwhile: its exit is still recorded.
        if tx.delete_container(c.id.as_str())? {
            events::container_in(tx, "destroy", c, &[])?;
        }
        Ok(())
    })
}

/// What both removals share: the container's kernel objects and files (its cgroup too with `cgroup`),
/// then `record` in one commit (the deletion and its events), then the `anonymous` volumes once the record
/// is gone; the resolver and the Service rules are left to tell. Goes on past errors and reports the
/// first.
fn finish_removal(
    ctx: &Context,
    c: &Container,
    anonymous: &[(String, bool)],
    cgroup: bool,
    record: impl Fn(&WriteTx<'_>) -> Result<(), StoreError>,
) -> (Result<(), EngineError>, Untold) {
    let mut first = cleanup_with(ctx, c, cgroup).err();
    crate::crash::after("rm:kernel");
    // Whether it had endpoints (the resolver is told then) is read in the same commit, before the
    // deletion takes them: a transaction fewer than a read of its own.
    let deleted = ctx.store().and_then(|mut st| {
        Ok(st.write_freeing(|tx| {
            let endpoints = tx.endpoints(Some(c.id.as_str()), None)?;
            record(tx)?;
            Ok::<_, StoreError>(!endpoints.is_empty())
        })?)
    });
    crate::crash::after("rm:record");
    // Told when that cannot be known.
    let mut networked = true;
    match deleted {
        Ok(had_endpoints) => {
            networked = had_endpoints;
            if let Err(e) = volume::remove_anonymous(ctx, anonymous) {
                first.get_or_insert(e.into());
            }
        }
        Err(e) => {
            first.get_or_insert(e);
        }
    }
    (first.map_or(Ok(()), Err), Untold { networked })
}

/// What a removal leaves to tell once the container is gone: its networks' resolver, when it had
/// endpoints (it rereads the records and lets go of names no longer there), and the Service rules.
#[must_use]
pub(crate) struct Untold {
    networked: bool,
}

impl Untold {
    pub(crate) fn tell(self, ctx: &Context, c: &Container) -> Result<(), EngineError> {
        let told = if self.networked {
            dns::update(ctx, &c.id)
        } else {
            Ok(())
        };
        crate::network::services::update(ctx, c);
        told
    }
}

/// Deletes a container's kernel objects and files (not its record).
pub(crate) fn cleanup(ctx: &Context, c: &Container) -> Result<(), EngineError> {
    cleanup_with(ctx, c, true)
}

/// [`cleanup`]; `cgroup`: its cgroup too (false: its supervisor removed it a moment ago).
fn cleanup_with(ctx: &Context, c: &Container, cgroup: bool) -> Result<(), EngineError> {
    let mut first: Option<EngineError> = ports::unpublish(ctx, c).err();
    if let Some(sandbox) = &c.state.sandbox_key {
        netns::unregister(&ctx.paths, c.name.as_str(), sandbox);
    }
    if c.state.sandbox_key.is_some() {
        if let Ok(name) = NetnsName::new(c.id.as_str()) {
            match ctx.netns().delete(&name) {
                Ok(()) | Err(NetnsError::NotFound(..)) => {}
                Err(e) => {
                    first.get_or_insert(e.into());
                }
            }
        }
    }
    if cgroup {
        if let Err(e) =
            minotaur_runtime::Cgroup::existing(&ctx.cgroup_root, &ctx.paths.cgroup(&c.id)).remove()
        {
            first.get_or_insert(EngineError::Runtime(e.into()));
        }
    }
    crate::exec::record::forget(&ctx.paths, &c.name, &c.id);
    for dir in [ctx.paths.run_dir(&c.id), ctx.paths.container_dir(&c.id)] {
        match crate::tree::remove(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                first.get_or_insert(EngineError::Io {
                    what: format!("remove {}", dir.display()),
                    source: e,
                });
            }
        }
    }
    first.map_or(Ok(()), Err)
}
