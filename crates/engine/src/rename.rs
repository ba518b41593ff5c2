//! `rename`: a container's new name in the store, in `/run/netns`, and in the resolver.

use crate::context::Context;
use crate::error::EngineError;
use crate::exec;
use crate::ids::ContainerName;
use crate::network::{attach, dns, netns};
use crate::store::{self, StoreError};

/// Renames a container.
pub fn rename(ctx: &Context, reference: &str, new: &ContainerName) -> Result<(), EngineError> {
    let c = ctx.find(reference)?;
    let mut st = ctx.store()?;
    st.write(|tx| {
        // The exec record of the name the store has now goes in the same transaction (see
        // `exec::record`): a supervisor writing one is ordered before or after it by the write lock.
        let now = store::find(tx, c.id.as_str())?;
        tx.rename_container(c.id.as_str(), new.as_str())?;
        exec::record::forget_name(&ctx.paths, &now.name);
        Ok::<_, StoreError>(())
    })?;
    drop(st);
    if let Some(sandbox) = &c.state.sandbox_key {
        netns::unregister(&ctx.paths, c.name.as_str(), sandbox);
        netns::register(&ctx.paths, &c.id, new.as_str(), sandbox)?;
    }
    if !attach::attachments(ctx, Some(c.id.as_str()), None)?.is_empty() {
        dns::update(ctx, &c.id)?;
    }
    Ok(())
}
