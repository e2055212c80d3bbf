//! What the webhook receiver ([`crate::webhook`]) keeps in the store
//! (migration 6): the event ids already received, and per synced slot the
//! `occurred_at` of the newest event applied to it.
//!
//! Rules:
//! * **Once per event id**: an event id already received for the integration
//!   is a duplicate and changes nothing ([`WebhookOutcome::Duplicate`]), also
//!   after a restart. Ids are kept [`EVENT_RETENTION_DAYS`] days, then pruned.
//! * **Newest wins**: an appointment event applies to its slot only when its
//!   `occurred_at` is not older than the newest event already applied to that
//!   slot ([`WebhookOutcome::Stale`] otherwise). Equal times: the later
//!   arrival wins. Times are compared in milliseconds (UTC).
//! * **One transaction**: the event id, the slot's newest time and the slot
//!   itself (through the same write path as [`Store::apply_changes`], with its
//!   change-log entry) commit together or not at all, so a failed write can be
//!   redelivered and applied.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};

use super::integrations::{write_slots_in, Integration};
use super::{from_secs, to_secs, ImportOutcome, Result, Store, StoreError};
use crate::connector::RemoteSlot;
use crate::model::SlotStatus;
use crate::time::Interval;

/// Received event ids are kept this many days (7), then pruned: a sender
/// retrying the same event later than that would apply it again.
pub const EVENT_RETENTION_DAYS: i64 = 7;

/// What recording or applying one webhook event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// New event, applied to its slot (counts as [`Store::apply_changes`] reports them).
    Applied(ImportOutcome),
    /// New event id recorded; nothing applied (the caller re-reads the source instead).
    Recorded,
    /// This event id was received before for this integration: nothing changed.
    Duplicate,
    /// Its `occurred_at` is older than an event already applied to the slot: the id is recorded, nothing else changed.
    Stale {
        /// The `occurred_at` of the newest event applied to the slot (UTC).
        newest: DateTime<Utc>,
    },
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("time {ms} ms is out of range")))
}

/// Inserts the event id (pruning old ones first); false when it was already there.
fn insert_event(tx: &rusqlite::Transaction<'_>, integration_id: i64, event_id: &str, now: DateTime<Utc>) -> Result<bool> {
    tx.execute("DELETE FROM webhook_events WHERE received_at < ?1", [to_secs(now - Duration::days(EVENT_RETENTION_DAYS))])?;
    let n = tx.execute(
        "INSERT OR IGNORE INTO webhook_events (integration_id, event_id, received_at) VALUES (?1, ?2, ?3)",
        params![integration_id, event_id, to_secs(now)],
    )?;
    Ok(n == 1)
}

impl Store {
    /// Records the event `event_id` of `integ` as received at `now` (UTC)
    /// without applying anything (SCHEDULE.UPDATED and FHIR notifications,
    /// which re-read the source instead).
    ///
    /// # Returns
    /// [`WebhookOutcome::Recorded`], or [`WebhookOutcome::Duplicate`] when the id was received before.
    ///
    /// # Errors
    /// SQLite errors (nothing is recorded).
    pub fn record_webhook_event(&mut self, integ: &Integration, event_id: &str, now: DateTime<Utc>) -> Result<WebhookOutcome> {
        let tx = self.begin()?;
        let new = insert_event(&tx, integ.id, event_id, now)?;
        tx.commit()?;
        Ok(if new { WebhookOutcome::Recorded } else { WebhookOutcome::Duplicate })
    }

    /// Forgets a received event id, so a redelivery is processed again (used
    /// when the re-read an event asked for could not be done).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn forget_webhook_event(&mut self, integ: &Integration, event_id: &str) -> Result<()> {
        self.conn.execute("DELETE FROM webhook_events WHERE integration_id = ?1 AND event_id = ?2", params![integ.id, event_id])?;
        Ok(())
    }

    /// Applies an appointment event to its slot in one transaction (see the
    /// module rules): records `event_id`, compares `occurred_at` (UTC) with
    /// the newest event applied to `slot.external_id`, and when newer (or
    /// equal) upserts `slot` through the write path of [`Store::apply_changes`]
    /// (change-log entry `slots`/`changes`, event sink after commit).
    ///
    /// # Errors
    /// SQLite errors roll everything back (the event id is not recorded either).
    pub fn apply_webhook_slot(
        &mut self,
        integ: &Integration,
        event_id: &str,
        occurred_at: DateTime<Utc>,
        slot: &RemoteSlot,
        now: DateTime<Utc>,
    ) -> Result<WebhookOutcome> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        if !insert_event(&tx, integ.id, event_id, now)? {
            return Ok(WebhookOutcome::Duplicate); // rolled back on drop: nothing changed
        }
        let newest: Option<i64> = tx
            .query_row(
                "SELECT occurred_at_ms FROM webhook_slot_versions WHERE integration_id = ?1 AND slot_external_id = ?2",
                params![integ.id, slot.external_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(ms) = newest.filter(|&ms| ms > millis(occurred_at)) {
            tx.commit()?;
            return Ok(WebhookOutcome::Stale { newest: from_millis(ms)? });
        }
        tx.execute(
            "INSERT INTO webhook_slot_versions (integration_id, slot_external_id, occurred_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (integration_id, slot_external_id) DO UPDATE SET occurred_at_ms = excluded.occurred_at_ms",
            params![integ.id, slot.external_id, millis(occurred_at)],
        )?;
        let outcome = write_slots_in(&tx, integ, None, std::slice::from_ref(slot), now)?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(WebhookOutcome::Applied(outcome))
    }

    /// The `occurred_at` (UTC) of the newest event applied to the slot
    /// `slot_external_id` of `integ`, `None` when no event was.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn webhook_slot_version(&self, integ: &Integration, slot_external_id: &str) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> = self
            .conn
            .query_row(
                "SELECT occurred_at_ms FROM webhook_slot_versions WHERE integration_id = ?1 AND slot_external_id = ?2",
                params![integ.id, slot_external_id],
                |r| r.get(0),
            )
            .optional()?;
        ms.map(from_millis).transpose()
    }

    /// The slot `external_id` of `integ` as cached, in the shape a connector
    /// reads it (provider and location by name, the references and booking
    /// details kept from the last sync), or `None` when it is not cached.
    ///
    /// # Errors
    /// SQLite errors; [`StoreError::Corrupt`] for an unreadable row.
    pub fn synced_slot(&self, integ: &Integration, external_id: &str) -> Result<Option<RemoteSlot>> {
        type Row = (i64, i64, String, String, Option<String>, Option<String>, Option<String>);
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT sl.start_utc, sl.end_utc, sl.status, p.name, l.name, sl.service_type, sl.remote
                 FROM slots sl JOIN sources s ON s.id = sl.source_id JOIN providers p ON p.id = sl.provider_id
                 LEFT JOIN locations l ON l.id = sl.location_id
                 WHERE s.integration_id = ?1 AND sl.external_id = ?2 AND sl.removed_seq IS NULL",
                params![integ.id, external_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .optional()?;
        let Some((start, end, status, provider, location, service_type, remote)) = row else { return Ok(None) };
        let corrupt = |what: &str| StoreError::Corrupt(format!("slot {external_id} of integration '{}': {what}", integ.name));
        let span = Interval::new(from_secs(start)?, from_secs(end)?).ok_or_else(|| corrupt("its end is not after its start"))?;
        let status: SlotStatus = status.parse().map_err(|e: crate::model::UnknownSlotStatus| corrupt(&e.to_string()))?;
        let remote: serde_json::Value = match remote {
            Some(text) => serde_json::from_str(&text).map_err(|e| corrupt(&e.to_string()))?,
            None => serde_json::Value::Null,
        };
        let s = |k: &str| remote.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        Ok(Some(RemoteSlot {
            external_id: external_id.to_string(),
            span,
            status,
            provider,
            provider_ref: s("provider_ref"),
            location,
            location_ref: s("location_ref"),
            service_type,
            schedule_ref: s("schedule_ref"),
            booking: remote.get("booking").cloned().unwrap_or(serde_json::Value::Null),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::{IntegrationKind, IntegrationSettings};
    use crate::store::key::DbKey;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    fn setup() -> (tempfile::TempDir, Store, Integration) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("w.db"), &DbKey::Raw([3; 32])).unwrap();
        let settings = IntegrationSettings::new("http://127.0.0.1:9/r4", "America/New_York", crate::auth::AuthConfig::None);
        let integ = store.add_integration(IntegrationKind::Fhir, "Clinic FHIR", &settings, at(8, 0)).unwrap();
        (dir, store, integ)
    }

    fn slot(status: SlotStatus) -> RemoteSlot {
        RemoteSlot {
            external_id: "slot-1".into(),
            span: Interval::new(at(14, 0), at(14, 30)).unwrap(),
            status,
            provider: "Dr. Rivera".into(),
            provider_ref: Some("Practitioner/p1".into()),
            location: Some("Main St Clinic".into()),
            location_ref: Some("Location/main-st".into()),
            service_type: Some("General Practice".into()),
            schedule_ref: Some("Schedule/s1".into()),
            booking: serde_json::json!({ "version": "3" }),
        }
    }

    fn status_of(store: &Store, integ: &Integration) -> Option<SlotStatus> {
        store.synced_slot(integ, "slot-1").unwrap().map(|s| s.status)
    }

    #[test]
    fn newest_occurred_at_wins_duplicates_change_nothing_and_the_slot_reads_back_whole() {
        let (_dir, mut store, integ) = setup();
        let now = at(9, 0);
        let applied = store.apply_webhook_slot(&integ, "e1", at(8, 10), &slot(SlotStatus::Busy), now).unwrap();
        assert!(matches!(applied, WebhookOutcome::Applied(ImportOutcome { inserted: 1, .. })), "{applied:?}");
        assert_eq!(store.synced_slot(&integ, "slot-1").unwrap(), Some(slot(SlotStatus::Busy)));
        let seq = store.last_change_seq().unwrap();
        // The same id again: nothing, not even a change-log entry.
        assert_eq!(store.apply_webhook_slot(&integ, "e1", at(8, 30), &slot(SlotStatus::Free), now).unwrap(), WebhookOutcome::Duplicate);
        assert_eq!((status_of(&store, &integ), store.last_change_seq().unwrap()), (Some(SlotStatus::Busy), seq));
        // Newer: applied. Older, arriving later: stale, recorded, nothing else.
        assert!(matches!(store.apply_webhook_slot(&integ, "e3", at(8, 20), &slot(SlotStatus::Free), now).unwrap(), WebhookOutcome::Applied(_)));
        assert_eq!(status_of(&store, &integ), Some(SlotStatus::Free));
        let seq = store.last_change_seq().unwrap();
        assert_eq!(
            store.apply_webhook_slot(&integ, "e2", at(8, 15), &slot(SlotStatus::Busy), now).unwrap(),
            WebhookOutcome::Stale { newest: at(8, 20) }
        );
        assert_eq!((status_of(&store, &integ), store.last_change_seq().unwrap()), (Some(SlotStatus::Free), seq));
        assert_eq!(store.apply_webhook_slot(&integ, "e2", at(8, 25), &slot(SlotStatus::Busy), now).unwrap(), WebhookOutcome::Duplicate);
        assert_eq!(store.webhook_slot_version(&integ, "slot-1").unwrap(), Some(at(8, 20)));
        // Equal time: the later arrival wins.
        assert!(matches!(store.apply_webhook_slot(&integ, "e4", at(8, 20), &slot(SlotStatus::Busy), now).unwrap(), WebhookOutcome::Applied(_)));
        assert_eq!(status_of(&store, &integ), Some(SlotStatus::Busy));
    }

    #[test]
    fn event_ids_are_per_integration_pruned_after_the_retention_and_can_be_forgotten() {
        let (_dir, mut store, integ) = setup();
        let settings = IntegrationSettings::new("http://127.0.0.1:9/r4", "UTC", crate::auth::AuthConfig::None);
        let other = store.add_integration(IntegrationKind::Fhir, "Other", &settings, at(8, 0)).unwrap();
        assert_eq!(store.record_webhook_event(&integ, "x", at(9, 0)).unwrap(), WebhookOutcome::Recorded);
        assert_eq!(store.record_webhook_event(&integ, "x", at(9, 1)).unwrap(), WebhookOutcome::Duplicate);
        assert_eq!(store.record_webhook_event(&other, "x", at(9, 1)).unwrap(), WebhookOutcome::Recorded);
        store.forget_webhook_event(&integ, "x").unwrap();
        assert_eq!(store.record_webhook_event(&integ, "x", at(9, 2)).unwrap(), WebhookOutcome::Recorded);
        // Just inside the retention: still a duplicate; past it: pruned, new again.
        let inside = at(9, 2) + Duration::days(EVENT_RETENTION_DAYS);
        assert_eq!(store.record_webhook_event(&integ, "x", inside).unwrap(), WebhookOutcome::Duplicate);
        let past = inside + Duration::seconds(1);
        assert_eq!(store.record_webhook_event(&integ, "x", past).unwrap(), WebhookOutcome::Recorded);
        // Removing an integration removes its records.
        store.apply_webhook_slot(&other, "y", at(9, 0), &slot(SlotStatus::Busy), at(9, 0)).unwrap();
        assert!(store.remove_integration("Other", at(10, 0)).unwrap());
        let left: i64 = store
            .conn
            .query_row("SELECT (SELECT count(*) FROM webhook_events) + (SELECT count(*) FROM webhook_slot_versions)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1, "only Clinic FHIR's event id is left");
    }
}
