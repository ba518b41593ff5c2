//! Rows of the `volumes` and `volume_mounts` tables.

use rusqlite::{ffi, params, OptionalExtension, Row};

use super::{ReadTx, WriteTx};
use crate::error::StateError;

/// A volume to insert. `config` must be valid JSON.
#[derive(Clone, Copy, Debug)]
pub struct NewVolume<'a> {
    pub name: &'a str,
    pub driver: &'a str,
    pub anonymous: bool,
    pub config: &'a str,
}

/// A row of the `volumes` table, with the IDs of the containers that mount it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeRow {
    pub name: String,
    pub driver: String,
    pub anonymous: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub config: String,
    pub containers: Vec<String>,
}

const VOLUME_QUERY: &str = "SELECT v.name, v.driver, v.anonymous, v.created_at, v.config,
            coalesce((SELECT group_concat(m.container_id) FROM volume_mounts m WHERE m.volume = v.name), '')
     FROM volumes v";

fn volume_row(row: &Row<'_>) -> rusqlite::Result<VolumeRow> {
    let users: String = row.get(5)?;
    Ok(VolumeRow {
        name: row.get(0)?,
        driver: row.get(1)?,
        anonymous: row.get(2)?,
        created_at: row.get(3)?,
        config: row.get(4)?,
        containers: users
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    })
}

impl ReadTx<'_> {
    /// The volume named `name`.
    pub fn volume(&self, name: &str) -> Result<Option<VolumeRow>, StateError> {
        self.conn
            .query_row(
                &format!("{VOLUME_QUERY} WHERE v.name = ?1"),
                [name],
                volume_row,
            )
            .optional()
            .map_err(self.query_error(format!("read volume {name}")))
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<VolumeRow>, StateError> {
        let what = || self.query_error("list volumes");
        let mut stmt = self
            .conn
            .prepare(&format!("{VOLUME_QUERY} ORDER BY v.name"))
            .map_err(what())?;
        let rows = stmt.query_map([], volume_row).map_err(what())?;
        rows.collect::<Result<_, _>>().map_err(what())
    }

    /// The names of the volumes container `container_id` mounts, anonymous ones with `anonymous` set.
    pub fn volumes_of(&self, container_id: &str) -> Result<Vec<(String, bool)>, StateError> {
        let what = || self.query_error(format!("list volumes of container {container_id}"));
        let mut stmt = self
            .conn
            .prepare(
                "SELECT v.name, v.anonymous FROM volume_mounts m JOIN volumes v ON v.name = m.volume
                 WHERE m.container_id = ?1 ORDER BY v.name",
            )
            .map_err(what())?;
        let rows = stmt
            .query_map([container_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(what())?;
        rows.collect::<Result<_, _>>().map_err(what())
    }
}

impl WriteTx<'_> {
    /// Inserts a volume unless one of that name exists; true when it was inserted.
    pub fn insert_volume(&self, v: &NewVolume<'_>) -> Result<bool, StateError> {
        let n = self
            .conn
            .execute(
                "INSERT INTO volumes (name, driver, anonymous, config) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO NOTHING",
                params![v.name, v.driver, v.anonymous, v.config],
            )
            .map_err(self.query_error(format!("insert volume {}", v.name)))?;
        Ok(n > 0)
    }

    /// Records that container `container_id` mounts volume `volume` (both must exist).
    pub fn mount_volume(&self, volume: &str, container_id: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO volume_mounts (volume, container_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![volume, container_id],
            )
            .map_err(self.query_error(format!(
                "record volume {volume} of container {container_id}"
            )))?;
        Ok(())
    }

    /// Deletes a volume. False when there was none; [`StateError::VolumeInUse`] while containers mount it.
    pub fn delete_volume(&self, name: &str) -> Result<bool, StateError> {
        match self
            .conn
            .execute("DELETE FROM volumes WHERE name = ?1", [name])
        {
            Ok(n) => Ok(n > 0),
            Err(e)
                if e.sqlite_error()
                    .is_some_and(|s| s.extended_code == ffi::SQLITE_CONSTRAINT_FOREIGNKEY) =>
            {
                let containers = self.volume(name)?.map(|v| v.containers).unwrap_or_default();
                Err(StateError::VolumeInUse {
                    name: name.to_owned(),
                    containers,
                })
            }
            Err(e) => Err(self.query_error(format!("delete volume {name}"))(e)),
        }
    }
}
