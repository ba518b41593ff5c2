//! Rows of the `events` table.

use rusqlite::{params, Row};

use super::{ReadTx, WriteTx};
use crate::error::StateError;

/// How many events the table keeps: an insert deletes those older than the last this many. Docker's
/// daemon keeps 256 in memory; a store outlives daemons' restarts, so it keeps more.
pub const EVENTS_KEPT: i64 = 1024;

/// An event to insert. `attributes` must be a JSON object.
#[derive(Clone, Copy, Debug)]
pub struct NewEvent<'a> {
    pub time_nano: i64,
    pub kind: &'a str,
    pub action: &'a str,
    pub actor_id: &'a str,
    pub attributes: &'a str,
}

/// A row of the `events` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub seq: i64,
    pub time_nano: i64,
    pub kind: String,
    pub action: String,
    pub actor_id: String,
    pub attributes: String,
}

fn event_row(row: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        seq: row.get(0)?,
        time_nano: row.get(1)?,
        kind: row.get(2)?,
        action: row.get(3)?,
        actor_id: row.get(4)?,
        attributes: row.get(5)?,
    })
}

impl ReadTx<'_> {
    /// The events inserted after `seq` (0: all), oldest first, at most `limit` of them.
    pub fn events_after(&self, seq: i64, limit: i64) -> Result<Vec<EventRow>, StateError> {
        let what = || self.query_error("list events");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, time_nano, type, action, actor_id, attributes FROM events
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(what())?;
        let rows = stmt
            .query_map(params![seq, limit], event_row)
            .map_err(what())?;
        rows.collect::<Result<_, _>>().map_err(what())
    }

    /// The `seq` of the last event inserted, 0 when there is none.
    pub fn last_event(&self) -> Result<i64, StateError> {
        self.conn
            .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
            .map_err(self.query_error("read the last event"))
    }
}

impl WriteTx<'_> {
    /// Inserts an event, and deletes those older than the last [`EVENTS_KEPT`].
    pub fn insert_event(&self, e: &NewEvent<'_>) -> Result<i64, StateError> {
        let what = || self.query_error(format!("record event {} {}", e.kind, e.action));
        self.conn
            .execute(
                "INSERT INTO events (time_nano, type, action, actor_id, attributes)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![e.time_nano, e.kind, e.action, e.actor_id, e.attributes],
            )
            .map_err(what())?;
        let seq = self.conn.last_insert_rowid();
        self.conn
            .execute("DELETE FROM events WHERE seq <= ?1", [seq - EVENTS_KEPT])
            .map_err(what())?;
        Ok(seq)
    }
}
