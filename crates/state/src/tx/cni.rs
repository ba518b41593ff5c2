//! Rows of the `cni_attachments` and `cni_addresses` tables: what `minotaur-cni` ADD made, keyed as a CNI
//! runtime keys it (network, `CNI_CONTAINERID`, `CNI_IFNAME`).

use std::net::IpAddr;

use rusqlite::{ffi, params, OptionalExtension, Row};

use super::{ReadTx, WriteTx};
use crate::error::StateError;

/// A row of the `cni_attachments` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CniAttachmentRow {
    pub network_id: String,
    pub container_id: String,
    pub ifname: String,
    pub netns: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub data: String,
}

const COLUMNS: &str = "network_id, container_id, ifname, netns, created_at, data";

fn attachment_row(row: &Row<'_>) -> rusqlite::Result<CniAttachmentRow> {
    Ok(CniAttachmentRow {
        network_id: row.get(0)?,
        container_id: row.get(1)?,
        ifname: row.get(2)?,
        netns: row.get(3)?,
        created_at: row.get(4)?,
        data: row.get(5)?,
    })
}

impl ReadTx<'_> {
    /// The CNI attachments on a network (all when `None`), oldest first.
    pub fn cni_attachments(
        &self,
        network_id: Option<&str>,
    ) -> Result<Vec<CniAttachmentRow>, StateError> {
        let what = || self.query_error("list CNI attachments");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM cni_attachments WHERE ?1 IS NULL OR network_id = ?1
                 ORDER BY created_at, container_id, ifname"
            ))
            .map_err(what())?;
        let rows = stmt
            .query_map([network_id], attachment_row)
            .map_err(what())?;
        rows.collect::<Result<_, _>>().map_err(what())
    }

    /// The attachment of `container_id`'s `ifname` to `network_id`.
    pub fn cni_attachment(
        &self,
        network_id: &str,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<CniAttachmentRow>, StateError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM cni_attachments
                     WHERE network_id = ?1 AND container_id = ?2 AND ifname = ?3"
                ),
                [network_id, container_id, ifname],
                attachment_row,
            )
            .optional()
            .map_err(self.query_error(format!(
                "read CNI attachment {container_id}/{ifname} on network {network_id}"
            )))
    }

    /// Whether a CNI attachment holds `address` on `network_id`.
    pub(crate) fn cni_holds(&self, network_id: &str, address: IpAddr) -> Result<bool, StateError> {
        self.conn
            .query_row(
                "SELECT 1 FROM cni_addresses WHERE network_id = ?1 AND address = ?2",
                [network_id, &address.to_string()],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(self.query_error(format!("look up {address} on network {network_id}")))
    }
}

impl WriteTx<'_> {
    /// Records a new attachment. Refused with [`StateError::IdInUse`] when the network already has one for
    /// the same container and interface.
    pub fn insert_cni_attachment(&self, row: &CniAttachmentRow) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO cni_attachments (network_id, container_id, ifname, netns, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    row.network_id,
                    row.container_id,
                    row.ifname,
                    row.netns,
                    row.data
                ],
            )
            .map_err(|e| match e.sqlite_error().map(|e| e.extended_code) {
                Some(ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => StateError::IdInUse {
                    kind: "CNI attachment",
                    id: format!("{}/{}", row.container_id, row.ifname),
                },
                _ => self.query_error(format!(
                    "record CNI attachment {}/{}",
                    row.container_id, row.ifname
                ))(e),
            })?;
        Ok(())
    }

    /// Replaces an attachment's data. False when there is no such attachment.
    pub fn set_cni_attachment_data(
        &self,
        network_id: &str,
        container_id: &str,
        ifname: &str,
        data: &str,
    ) -> Result<bool, StateError> {
        let n = self
            .conn
            .execute(
                "UPDATE cni_attachments SET data = ?4
                 WHERE network_id = ?1 AND container_id = ?2 AND ifname = ?3",
                [network_id, container_id, ifname, data],
            )
            .map_err(self.query_error(format!("update CNI attachment {container_id}/{ifname}")))?;
        Ok(n > 0)
    }

    /// Deletes an attachment and its addresses. False when there was none.
    pub fn delete_cni_attachment(
        &self,
        network_id: &str,
        container_id: &str,
        ifname: &str,
    ) -> Result<bool, StateError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM cni_attachments
                 WHERE network_id = ?1 AND container_id = ?2 AND ifname = ?3",
                [network_id, container_id, ifname],
            )
            .map_err(self.query_error(format!("delete CNI attachment {container_id}/{ifname}")))?;
        Ok(n > 0)
    }

    /// Gives an attachment the first of `candidates` that neither a container nor another attachment
    /// holds on `network_id` (or exactly `wanted`, when given), and returns it.
    pub fn allocate_cni_address(
        &self,
        network_id: &str,
        container_id: &str,
        ifname: &str,
        wanted: Option<IpAddr>,
        candidates: impl IntoIterator<Item = IpAddr>,
    ) -> Result<IpAddr, StateError> {
        let taken = self.taken_addresses(network_id)?;
        let address = match wanted {
            Some(a) if taken.contains(&a) => {
                return Err(StateError::AddressInUse {
                    network: network_id.to_owned(),
                    address: a,
                })
            }
            Some(a) => a,
            None => candidates
                .into_iter()
                .find(|a| !taken.contains(a))
                .ok_or_else(|| StateError::AddressesExhausted {
                    network: network_id.to_owned(),
                })?,
        };
        self.conn
            .execute(
                "INSERT INTO cni_addresses (network_id, address, container_id, ifname)
                 VALUES (?1, ?2, ?3, ?4)",
                params![network_id, address.to_string(), container_id, ifname],
            )
            .map_err(self.query_error(format!(
                "allocate {address} on network {network_id} to CNI attachment {container_id}/{ifname}"
            )))?;
        Ok(address)
    }
}
