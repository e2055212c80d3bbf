//! How the engine tells its host (the desktop shell, the CLI, a sync service)
//! that something changed, without depending on any GUI toolkit.
//!
//! Every write appends [`Change`] rows to the store's change log (a monotonic
//! sequence); after the transaction commits, the same changes are handed to
//! the [`EventSink`] the host installed. A host that shares the database with
//! other processes (the CLI, a sync service) also polls
//! [`crate::store::Store::changes_since`] to see their writes.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Monotonic sequence number (SQLite `AUTOINCREMENT`: never reused).
    pub seq: i64,
    /// When it was written (UTC; the CLI's `--now` when given).
    pub at: DateTime<Utc>,
    /// What changed: `provider`, `source`, `busy` (calendar busy blocks) or `slots` (published slots).
    pub entity: String,
    /// How: `add`, `import`.
    pub op: String,
    /// The source (feed) concerned, if any.
    pub source_id: Option<i64>,
    /// The provider concerned, if any.
    pub provider_id: Option<i64>,
    /// Counts and the affected window, e.g.
    /// `{"inserted":3,"updated":0,"removed":1,"from":"…Z","to":"…Z"}`.
    pub detail: serde_json::Value,
}

/// Receives changes after they are committed. Implementations must be cheap
/// and must not block: the desktop shell forwards them as typed events.
pub trait EventSink: Send + Sync {
    /// Called once per committed change, in sequence order.
    fn emit(&self, change: &Change);
}
