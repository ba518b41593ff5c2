//! Containers in the state store: rows to [`Container`]s and back, and Docker's ways of naming one
//! (full ID, name, or a unique ID prefix).

use minotaur_state::{ContainerRef, ContainerRow, NewContainer, ReadTx, WriteTx};

use serde::de::DeserializeOwned;

use crate::container::{Container, State};
use crate::ids::ContainerId;

pub use crate::error::store::StoreError;

fn from_row(row: ContainerRow) -> Result<Container, StoreError> {
    from_ref(ContainerRef {
        id: &row.id,
        name: &row.name,
        image: &row.image,
        created_at: &row.created_at,
        config: &row.config,
        state: &row.state,
    })
}

fn from_ref<C: DeserializeOwned>(row: ContainerRef<'_>) -> Result<Container<C>, StoreError> {
    let corrupt = |what| {
        let id = row.id.to_owned();
        move |source| StoreError::Corrupt { id, what, source }
    };
    Ok(Container {
        config: serde_json::from_str::<C>(row.config).map_err(corrupt("config"))?,
        state: serde_json::from_str::<State>(row.state).map_err(corrupt("state"))?,
        id: ContainerId::try_from(row.id.to_owned())
            .map_err(|_| StoreError::NoSuchContainer(row.id.to_owned()))?,
        name: row
            .name
            .parse()
            .map_err(|_| StoreError::NoSuchContainer(row.name.to_owned()))?,
        created: row.created_at.to_owned(),
    })
}

/// Finds a container by full ID, name, or unique ID prefix, as Docker resolves references.
pub fn find(tx: &ReadTx<'_>, reference: &str) -> Result<Container, StoreError> {
    let reference = reference.strip_prefix('/').unwrap_or(reference);
    if let Some(row) = tx.container(reference)? {
        return from_row(row);
    }
    let mut rows = tx.containers_by_id_prefix(reference, 2)?;
    match rows.len() {
        1 => from_row(rows.remove(0)),
        0 => Err(StoreError::NoSuchContainer(reference.to_owned())),
        _ => Err(StoreError::Ambiguous(reference.to_owned())),
    }
}

/// All containers, oldest first.
pub fn list(tx: &ReadTx<'_>) -> Result<Vec<Container>, StoreError> {
    list_as(tx)
}

/// All containers, oldest first, each configuration decoded as `C`: [`crate::container::Config`], or a type that reads
/// part of it (such as [`crate::container::ListedConfig`]).
pub fn list_as<C: DeserializeOwned>(tx: &ReadTx<'_>) -> Result<Vec<Container<C>>, StoreError> {
    let mut all = Vec::new();
    tx.for_each_container(|row| -> Result<(), StoreError> {
        all.push(from_ref(row)?);
        Ok(())
    })?;
    Ok(all)
}

/// Inserts a new container; fails with `NameInUse` when the name is taken. Returns its creation time, as recorded.
pub fn insert(tx: &WriteTx<'_>, c: &Container) -> Result<String, StoreError> {
    let config = serde_json::to_string(&c.config).expect("a config always serializes");
    let state = serde_json::to_string(&c.state).expect("a state always serializes");
    Ok(tx.insert_container(&NewContainer {
        id: c.id.as_str(),
        name: c.name.as_str(),
        image: &c.config.image,
        config: &config,
        state: &state,
    })?)
}

/// Replaces a container's state.
pub fn set_state(tx: &WriteTx<'_>, id: &ContainerId, state: &State) -> Result<(), StoreError> {
    let json = serde_json::to_string(state).expect("a state always serializes");
    if !tx.set_container_state(id.as_str(), &json)? {
        return Err(StoreError::NoSuchContainer(id.to_string()));
    }
    Ok(())
}

/// Changes a container's state as `change` says, inside the caller's write transaction: what others
/// recorded meanwhile (the supervisor's health, `stop`'s request) is read in the same transaction, so
/// nothing of it is lost. Returns the state as written.
pub fn update_state(
    tx: &WriteTx<'_>,
    id: &ContainerId,
    change: impl FnOnce(&mut State),
) -> Result<State, StoreError> {
    update(tx, id, change).map(|c| c.state)
}

/// [`update_state`], returning the whole container as the transaction now has it (its name included).
pub fn update(
    tx: &WriteTx<'_>,
    id: &ContainerId,
    change: impl FnOnce(&mut State),
) -> Result<Container, StoreError> {
    let mut c = find(tx, id.as_str())?;
    change(&mut c.state);
    set_state(tx, id, &c.state)?;
    Ok(c)
}
