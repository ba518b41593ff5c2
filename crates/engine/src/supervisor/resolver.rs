//! The resolver's listeners as the supervisor's waiting loop holds them (see `network::dns::start_early`):
//! the server is started the moment a query or another network's container wants it.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::poll::PollFlags;

use crate::attach::serve::Ticker;
use crate::context::Context;
use crate::network::dns;

/// The listeners taken out of the context for the loop, and put back when it ends (the exit's update
/// hands them over, or the supervisor's last step does).
pub(super) struct Held<'a> {
    ctx: &'a Context,
    held: Option<minotaur_dns::Dormant>,
}

impl<'a> Held<'a> {
    /// What the context holds, if anything; `None` when nothing is held.
    pub(super) fn take(ctx: &'a Context) -> Option<Held<'a>> {
        let held = ctx.resolver.0.borrow_mut().take()?;
        Some(Held {
            ctx,
            held: Some(held),
        })
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            *self.ctx.resolver.0.borrow_mut() = Some(held);
        }
    }
}

impl Ticker for Held<'_> {
    /// Never due: only its descriptors wake it.
    fn due(&self) -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    fn fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        self.held
            .iter()
            .flat_map(|h| h.fds())
            .map(|fd| (fd, PollFlags::POLLIN))
            .collect()
    }

    fn tick(&mut self) {
        if !self.held.as_mut().is_some_and(|h| h.wanted()) {
            return;
        }
        if let Some(held) = self.held.take() {
            if let Err(e) = dns::hand_over_held(held) {
                log::warn!(
                    "container names will not resolve: {}",
                    crate::error_chain(&e)
                );
            }
        }
    }
}
