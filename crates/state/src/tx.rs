//! What a transaction can do: typed reads ([`ReadTx`]) and writes ([`WriteTx`]) of the rows in the layout
//! documented at the top of the crate.

use std::collections::HashSet;
use std::net::IpAddr;
use std::ops::Deref;
use std::path::Path;

use rusqlite::{ffi, params, Connection, OptionalExtension, Row};

use crate::error::StateError;

pub(crate) mod cni;
pub(crate) mod event;
pub(crate) mod volume;

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

/// A row of the `containers` table as SQLite holds it, lent for one call of the closure given to
/// [`ReadTx::for_each_container`]: nothing is copied out of it but what the caller takes.
#[derive(Clone, Copy, Debug)]
pub struct ContainerRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub image: &'a str,
    /// RFC 3339, UTC.
    pub created_at: &'a str,
    pub config: &'a str,
    pub state: &'a str,
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

/// A row of the `networks` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRow {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub internal: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub config: String,
}

/// A row of the `endpoints` table, with the container's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointRow {
    pub container_id: String,
    pub container_name: String,
    pub network_id: String,
    pub data: String,
}

/// A row of the `ports` table. `host_ip` is empty for all host addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRow {
    pub proto: String,
    pub host_ip: String,
    pub host_port: u16,
    pub container_id: String,
    pub container_port: u16,
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

const NETWORK_COLUMNS: &str = "id, name, driver, internal, created_at, config";

fn network_row(row: &Row<'_>) -> rusqlite::Result<NetworkRow> {
    Ok(NetworkRow {
        id: row.get(0)?,
        name: row.get(1)?,
        driver: row.get(2)?,
        internal: row.get(3)?,
        created_at: row.get(4)?,
        config: row.get(5)?,
    })
}

const ENDPOINT_QUERY: &str = "SELECT e.container_id, c.name, e.network_id, e.data
     FROM endpoints e JOIN containers c ON c.id = e.container_id";

fn endpoint_row(row: &Row<'_>) -> rusqlite::Result<EndpointRow> {
    Ok(EndpointRow {
        container_id: row.get(0)?,
        container_name: row.get(1)?,
        network_id: row.get(2)?,
        data: row.get(3)?,
    })
}

const PORT_COLUMNS: &str = "proto, host_ip, host_port, container_id, container_port";

fn port_row(row: &Row<'_>) -> rusqlite::Result<PortRow> {
    Ok(PortRow {
        proto: row.get(0)?,
        host_ip: row.get(1)?,
        host_port: row.get(2)?,
        container_id: row.get(3)?,
        container_port: row.get(4)?,
    })
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
        move |source| {
            if crate::error::is_full(&source) {
                StateError::Full { path }
            } else {
                StateError::Query { path, what, source }
            }
        }
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

    /// Calls `f` with every container, oldest first, each row lent rather than copied: what `ps` reads
    /// of a thousand containers, where copying every row's text into strings of its own (and parsing
    /// the copies) cost a fifth of its time.
    pub fn for_each_container<E: From<StateError>>(
        &self,
        mut f: impl FnMut(ContainerRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = format!("SELECT {CONTAINER_COLUMNS} FROM containers ORDER BY created_at, rowid");
        let error = || self.query_error("list containers");
        let mut stmt = self.conn.prepare(&sql).map_err(error())?;
        let mut rows = stmt.query([]).map_err(error())?;
        while let Some(row) = rows.next().map_err(error())? {
            let text = |i: usize| -> Result<&str, StateError> {
                row.get_ref(i)
                    .and_then(|v| {
                        v.as_str().map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                i,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })
                    })
                    .map_err(error())
            };
            f(ContainerRef {
                id: text(0)?,
                name: text(1)?,
                image: text(2)?,
                created_at: text(3)?,
                config: text(4)?,
                state: text(5)?,
            })?;
        }
        Ok(())
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

impl ReadTx<'_> {
    /// The network whose ID or name is `id_or_name` (an exact ID match wins over a name).
    pub fn network(&self, id_or_name: &str) -> Result<Option<NetworkRow>, StateError> {
        let sql = format!(
            "SELECT {NETWORK_COLUMNS} FROM networks WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1"
        );
        self.conn
            .query_row(&sql, [id_or_name], network_row)
            .optional()
            .map_err(self.query_error(format!("look up network {id_or_name}")))
    }

    /// All networks, oldest first.
    pub fn networks(&self) -> Result<Vec<NetworkRow>, StateError> {
        let list = || -> rusqlite::Result<Vec<NetworkRow>> {
            self.conn
                .prepare(&format!(
                    "SELECT {NETWORK_COLUMNS} FROM networks ORDER BY created_at, id"
                ))?
                .query_map([], network_row)?
                .collect()
        };
        list().map_err(self.query_error("list networks"))
    }

    /// The IDs of the networks that have at least one endpoint.
    pub fn networks_in_use(&self) -> Result<Vec<String>, StateError> {
        let list = || -> rusqlite::Result<Vec<String>> {
            self.conn
                .prepare("SELECT DISTINCT network_id FROM endpoints")?
                .query_map([], |r| r.get(0))?
                .collect()
        };
        list().map_err(self.query_error("list the networks in use"))
    }

    /// The IDs of the networks that have an endpoint of a container whose state's `status` is one of
    /// `statuses` (what the words mean is the engine's).
    pub fn networks_with_containers_in(
        &self,
        statuses: &[&str],
    ) -> Result<Vec<String>, StateError> {
        let list = || -> rusqlite::Result<Vec<String>> {
            let marks = vec!["?"; statuses.len()].join(", ");
            self.conn
                .prepare(&format!(
                    "SELECT DISTINCT e.network_id FROM endpoints e JOIN containers c ON c.id = e.container_id
                     WHERE json_extract(c.state, '$.status') IN ({marks})"
                ))?
                .query_map(rusqlite::params_from_iter(statuses), |r| r.get(0))?
                .collect()
        };
        list().map_err(self.query_error("list the networks with running containers"))
    }

    /// Endpoints: of one container, on one network, or (both `None`) all.
    pub fn endpoints(
        &self,
        container_id: Option<&str>,
        network_id: Option<&str>,
    ) -> Result<Vec<EndpointRow>, StateError> {
        // Each condition only when asked: "?1 IS NULL OR ..." would keep SQLite from using the key, and a
        // container's own endpoints are read at every container start.
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        for (column, value) in [
            ("e.container_id", container_id),
            ("e.network_id", network_id),
        ] {
            if let Some(v) = value {
                values.push(v);
                conditions.push(format!("{column} = ?{}", values.len()));
            }
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let list = || -> rusqlite::Result<Vec<EndpointRow>> {
            self.conn
                .prepare(&format!(
                    "{ENDPOINT_QUERY} {filter} ORDER BY c.created_at, c.id, e.network_id"
                ))?
                .query_map(rusqlite::params_from_iter(&values), endpoint_row)?
                .collect()
        };
        list().map_err(self.query_error("list endpoints"))
    }

    /// Published ports: of one container, or (`None`) all.
    pub fn ports(&self, container_id: Option<&str>) -> Result<Vec<PortRow>, StateError> {
        let list = || -> rusqlite::Result<Vec<PortRow>> {
            self.conn
                .prepare(&format!(
                    "SELECT {PORT_COLUMNS} FROM ports WHERE ?1 IS NULL OR container_id = ?1
                     ORDER BY container_port, proto, host_ip"
                ))?
                .query_map(params![container_id], port_row)?
                .collect()
        };
        list().map_err(self.query_error("list published ports"))
    }

    /// The published port that `proto`/`host_port` on `host_ip` (empty: all addresses) would collide with.
    fn port_holder(
        &self,
        proto: &str,
        host_ip: &str,
        host_port: u16,
    ) -> Result<Option<PortRow>, StateError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {PORT_COLUMNS} FROM ports WHERE proto = ?1 AND host_port = ?3
                     AND (host_ip = ?2 OR host_ip = '' OR ?2 = '') LIMIT 1"
                ),
                params![proto, host_ip, host_port],
                port_row,
            )
            .optional()
            .map_err(self.query_error(format!("look up port {proto}/{host_port}")))
    }
}

impl<'a> WriteTx<'a> {
    pub(crate) fn new(conn: &'a Connection, path: &'a Path) -> WriteTx<'a> {
        WriteTx {
            read: ReadTx::new(conn, path),
        }
    }

    /// Inserts a container; its `created_at` is now, and returned.
    pub fn insert_container(&self, c: &NewContainer<'_>) -> Result<String, StateError> {
        self.conn
            .query_row(
                "INSERT INTO containers (id, name, image, config, state) VALUES (?1, ?2, ?3, ?4, ?5) \
                 RETURNING created_at",
                params![c.id, c.name, c.image, c.config, c.state],
                |row| row.get(0),
            )
            .map_err(|e| {
                in_use(&e, "container", c.id, c.name)
                    .unwrap_or_else(|| self.query_error(format!("insert container {}", c.name))(e))
            })
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
        let taken = self.taken_addresses(network_id)?;
        let address = candidates
            .into_iter()
            .find(|a| !taken.contains(a))
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

impl ReadTx<'_> {
    /// Every address held on `network_id`, by containers and by CNI attachments. Addresses only, parsed
    /// once: with a thousand containers on a network this runs at every start, and formatting every
    /// candidate to compare it as text cost more than reading the table.
    pub(crate) fn taken_addresses(&self, network_id: &str) -> Result<HashSet<IpAddr>, StateError> {
        let taken = || -> rusqlite::Result<HashSet<IpAddr>> {
            let mut stmt = self.conn.prepare(
                "SELECT address FROM ip_allocations WHERE network_id = ?1
                 UNION ALL SELECT address FROM cni_addresses WHERE network_id = ?1",
            )?;
            let rows = stmt.query_map([network_id], |r| r.get::<_, String>(0))?;
            let mut set = HashSet::new();
            for a in rows {
                if let Ok(ip) = a?.parse() {
                    set.insert(ip);
                }
            }
            Ok(set)
        };
        taken().map_err(self.query_error(format!("list addresses of network {network_id}")))
    }
}

impl WriteTx<'_> {
    /// Deletes a network by ID. False when there was none. Fails while containers have endpoints on it.
    pub fn delete_network(&self, id: &str) -> Result<bool, StateError> {
        let n = self
            .conn
            .execute("DELETE FROM networks WHERE id = ?1", [id])
            .map_err(self.query_error(format!("delete network {id}")))?;
        Ok(n > 0)
    }

    /// Gives `container_id` exactly `address` on `network_id`.
    pub fn claim_address(
        &self,
        network_id: &str,
        container_id: &str,
        address: IpAddr,
    ) -> Result<(), StateError> {
        if self.cni_holds(network_id, address)? {
            return Err(StateError::AddressInUse {
                network: network_id.to_owned(),
                address,
            });
        }
        self.conn
            .execute(
                "INSERT INTO ip_allocations (network_id, address, container_id) VALUES (?1, ?2, ?3)",
                params![network_id, address.to_string(), container_id],
            )
            .map_err(|e| match e.sqlite_error().map(|e| e.extended_code) {
                Some(ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => StateError::AddressInUse {
                    network: network_id.to_owned(),
                    address,
                },
                _ => self.query_error(format!("claim {address} on network {network_id}"))(e),
            })?;
        Ok(())
    }

    /// Gives back every address `container_id` holds on `network_id`.
    pub fn release_addresses(
        &self,
        network_id: &str,
        container_id: &str,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM ip_allocations WHERE network_id = ?1 AND container_id = ?2",
                [network_id, container_id],
            )
            .map_err(self.query_error(format!("release addresses on network {network_id}")))?;
        Ok(())
    }

    /// Records a container's endpoint on a network (replacing an earlier one).
    pub fn put_endpoint(
        &self,
        container_id: &str,
        network_id: &str,
        data: &str,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO endpoints (container_id, network_id, data) VALUES (?1, ?2, ?3)",
                [container_id, network_id, data],
            )
            .map_err(self.query_error(format!("record endpoint on network {network_id}")))?;
        Ok(())
    }

    /// Deletes a container's endpoint on a network. False when there was none.
    pub fn delete_endpoint(
        &self,
        container_id: &str,
        network_id: &str,
    ) -> Result<bool, StateError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM endpoints WHERE container_id = ?1 AND network_id = ?2",
                [container_id, network_id],
            )
            .map_err(self.query_error(format!("delete endpoint on network {network_id}")))?;
        Ok(n > 0)
    }

    /// Publishes a port: refused with [`StateError::PortInUse`] when the same protocol and port is published
    /// on the same host address, or on all addresses, or (for all addresses) on any one.
    pub fn publish_port(&self, p: &PortRow) -> Result<(), StateError> {
        if let Some(held) = self.port_holder(&p.proto, &p.host_ip, p.host_port)? {
            return Err(StateError::PortInUse {
                proto: held.proto,
                host_ip: if held.host_ip.is_empty() {
                    "0.0.0.0".into()
                } else {
                    held.host_ip
                },
                host_port: held.host_port,
                container_id: held.container_id,
            });
        }
        self.conn
            .execute(
                &format!("INSERT INTO ports ({PORT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![
                    p.proto,
                    p.host_ip,
                    p.host_port,
                    p.container_id,
                    p.container_port
                ],
            )
            .map_err(self.query_error(format!("publish port {}/{}", p.proto, p.host_port)))?;
        Ok(())
    }

    /// The lowest port in `lo..=hi` free for `proto` on `host_ip` (empty: all addresses), as `-P` and
    /// `-p CONTAINER` pick one. `also_taken` are ports this transaction is about to publish.
    pub fn free_port(
        &self,
        proto: &str,
        host_ip: &str,
        lo: u16,
        hi: u16,
        also_taken: &[u16],
    ) -> Result<u16, StateError> {
        let taken: HashSet<u16> = {
            let list = || -> rusqlite::Result<HashSet<u16>> {
                self.conn
                    .prepare(
                        "SELECT host_port FROM ports WHERE proto = ?1
                         AND (host_ip = ?2 OR host_ip = '' OR ?2 = '') AND host_port BETWEEN ?3 AND ?4",
                    )?
                    .query_map(params![proto, host_ip, lo, hi], |r| r.get(0))?
                    .collect()
            };
            list().map_err(self.query_error("list published ports"))?
        };
        (lo..=hi)
            .find(|p| !taken.contains(p) && !also_taken.contains(p))
            .ok_or_else(|| StateError::PortsExhausted {
                proto: proto.to_owned(),
                lo,
                hi,
            })
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
