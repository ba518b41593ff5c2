//! What a transaction can do: typed reads ([`ReadTx`]) and writes ([`WriteTx`]) of the rows in the layout
//! documented at the top of the crate.

use std::collections::HashSet;
use std::net::IpAddr;
use std::ops::Deref;
use std::path::Path;

use rusqlite::{ffi, params, Connection, OptionalExtension, Row};

use crate::StateError;

/// A container to insert. `config` and `state` must be valid JSON.
#[derive(Clone, Copy, Debug)]
pub struct NewContainer<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub image: &'a str,
    pub config: &'a str,
    pub state: &'a str,
}

/// A row of the `containers` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub config: String,
    pub state: String,
}

/// A network to insert. `config` must be valid JSON.
#[derive(Clone, Copy, Debug)]
pub struct NewNetwork<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub driver: &'a str,
    pub subnet: &'a str,
    pub gateway: Option<&'a str>,
    pub internal: bool,
    pub config: &'a str,
}

/// A row of the `ip_allocations` table, without its network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub address: String,
    pub container_id: String,
}

/// The inside of a read transaction (and of a write transaction, which derefs to it).
pub struct ReadTx<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

/// The inside of a write transaction: everything a [`ReadTx`] does, plus changes.
pub struct WriteTx<'a> {
    read: ReadTx<'a>,
}

impl<'a> Deref for WriteTx<'a> {
    type Target = ReadTx<'a>;

    fn deref(&self) -> &ReadTx<'a> {
        &self.read
    }
}

const CONTAINER_COLUMNS: &str = "id, name, image, created_at, config, state";

fn container_row(row: &Row<'_>) -> rusqlite::Result<ContainerRow> {
    Ok(ContainerRow {
        id: row.get(0)?,
        name: row.get(1)?,
        image: row.get(2)?,
        created_at: row.get(3)?,
        config: row.get(4)?,
        state: row.get(5)?,
    })
}

impl<'a> ReadTx<'a> {
    pub(crate) fn new(conn: &'a Connection, path: &'a Path) -> ReadTx<'a> {
        ReadTx { conn, path }
    }

    fn query_error(&self, what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StateError {
        let path = self.path.to_owned();
        let what = what.into();
        move |source| StateError::Query { path, what, source }
    }

    /// The container whose ID or name is `id_or_name` (an exact ID match wins over a name).
    pub fn container(&self, id_or_name: &str) -> Result<Option<ContainerRow>, StateError> {
        let sql = format!(
            "SELECT {CONTAINER_COLUMNS} FROM containers WHERE id = ?1 OR name = ?1
             ORDER BY id = ?1 DESC LIMIT 1"
        );
        self.conn
            .query_row(&sql, [id_or_name], container_row)
            .optional()
            .map_err(self.query_error(format!("read container {id_or_name}")))
    }

    /// The containers whose ID starts with `prefix` (for Docker's short IDs), at most `limit`.
    pub fn containers_by_id_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<ContainerRow>, StateError> {
        // IDs are lowercase hex (a CHECK constraint), so a prefix with any other character matches nothing and
        // GLOB needs no escaping.
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let sql =
            format!("SELECT {CONTAINER_COLUMNS} FROM containers WHERE id GLOB ?1 || '*' LIMIT ?2");
        let list = || -> rusqlite::Result<Vec<ContainerRow>> {
            self.conn
                .prepare(&sql)?
                .query_map(
                    params![prefix.to_ascii_lowercase(), limit as i64],
                    container_row,
                )?
                .collect()
        };
        list().map_err(self.query_error(format!("look up container ID prefix {prefix}")))
    }

    /// All containers, oldest first.
    pub fn containers(&self) -> Result<Vec<ContainerRow>, StateError> {
        let sql = format!("SELECT {CONTAINER_COLUMNS} FROM containers ORDER BY created_at, rowid");
        let list = || -> rusqlite::Result<Vec<ContainerRow>> {
            self.conn
                .prepare(&sql)?
                .query_map([], container_row)?
                .collect()
        };
        list().map_err(self.query_error("list containers"))
    }

    /// The addresses allocated on a network, in no particular order.
    pub fn allocations(&self, network_id: &str) -> Result<Vec<Allocation>, StateError> {
        let list = || -> rusqlite::Result<Vec<Allocation>> {
            self.conn
                .prepare("SELECT address, container_id FROM ip_allocations WHERE network_id = ?1")?
                .query_map([network_id], |row| {
                    Ok(Allocation {
                        address: row.get(0)?,
                        container_id: row.get(1)?,
                    })
                })?
                .collect()
        };
        list().map_err(self.query_error(format!("list addresses of network {network_id}")))
    }
}

impl<'a> WriteTx<'a> {
    pub(crate) fn new(conn: &'a Connection, path: &'a Path) -> WriteTx<'a> {
        WriteTx {
            read: ReadTx::new(conn, path),
        }
    }

    /// Inserts a container; its `created_at` is now.
    pub fn insert_container(&self, c: &NewContainer<'_>) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO containers (id, name, image, config, state) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![c.id, c.name, c.image, c.config, c.state],
            )
            .map_err(|e| {
                in_use(&e, "container", c.id, c.name)
                    .unwrap_or_else(|| self.query_error(format!("insert container {}", c.name))(e))
            })?;
        Ok(())
    }

    /// Replaces a container's state JSON. False when there was no such container.
    pub fn set_container_state(&self, id: &str, state: &str) -> Result<bool, StateError> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET state = ?2 WHERE id = ?1",
                [id, state],
            )
            .map_err(self.query_error(format!("update the state of container {id}")))?;
        Ok(n > 0)
    }

    /// Renames a container. False when there was no such container.
    pub fn rename_container(&self, id: &str, name: &str) -> Result<bool, StateError> {
        let n = self
            .conn
            .execute("UPDATE containers SET name = ?2 WHERE id = ?1", [id, name])
            .map_err(|e| {
                in_use(&e, "container", id, name)
                    .unwrap_or_else(|| self.query_error(format!("rename container {id}"))(e))
            })?;
        Ok(n > 0)
    }

    /// Deletes a container by ID, and with it its addresses. False when there was no such container.
    pub fn delete_container(&self, id: &str) -> Result<bool, StateError> {
        let n = self
            .conn
            .execute("DELETE FROM containers WHERE id = ?1", [id])
            .map_err(self.query_error(format!("delete container {id}")))?;
        Ok(n > 0)
    }

    /// Inserts a network; its `created_at` is now.
    pub fn insert_network(&self, n: &NewNetwork<'_>) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO networks (id, name, driver, subnet, gateway, internal, config)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![n.id, n.name, n.driver, n.subnet, n.gateway, n.internal, n.config],
            )
            .map_err(|e| {
                in_use(&e, "network", n.id, n.name)
                    .unwrap_or_else(|| self.query_error(format!("insert network {}", n.name))(e))
            })?;
        Ok(())
    }

    /// Gives `container_id` the first of `candidates` not yet allocated on `network_id`, and returns it. With
    /// candidates in ascending order (the subnet's host addresses minus the gateway), that is the lowest free
    /// address. The write transaction makes the choice and the insert one step for every other process.
    pub fn allocate_address(
        &self,
        network_id: &str,
        container_id: &str,
        candidates: impl IntoIterator<Item = IpAddr>,
    ) -> Result<IpAddr, StateError> {
        let taken: HashSet<String> = self
            .allocations(network_id)?
            .into_iter()
            .map(|a| a.address)
            .collect();
        let address = candidates
            .into_iter()
            .find(|a| !taken.contains(&a.to_string()))
            .ok_or_else(|| StateError::AddressesExhausted {
                network: network_id.to_owned(),
            })?;
        self.conn
            .execute(
                "INSERT INTO ip_allocations (network_id, address, container_id) VALUES (?1, ?2, ?3)",
                params![network_id, address.to_string(), container_id],
            )
            .map_err(self.query_error(format!(
                "allocate {address} on network {network_id} to container {container_id}"
            )))?;
        Ok(address)
    }
}

/// The [`StateError::NameInUse`] or [`StateError::IdInUse`] that `e` is, if it is a uniqueness violation on
/// the name or ID of a `kind` row (name is the only UNIQUE column besides the primary key).
fn in_use(e: &rusqlite::Error, kind: &'static str, id: &str, name: &str) -> Option<StateError> {
    match e.sqlite_error()?.extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE => Some(StateError::NameInUse {
            kind,
            name: name.to_owned(),
        }),
        ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Some(StateError::IdInUse {
            kind,
            id: id.to_owned(),
        }),
        _ => None,
    }
}
