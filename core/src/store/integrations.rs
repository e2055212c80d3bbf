//! Integrations (connected systems) in the store: their settings, the slots a
//! sync read, and bookings made from the desk.
//!
//! Rules (issue "FHIR connectors", data quality):
//! * A **complete** window read replaces the integration's cached slots whose
//!   start lies in the window: new ones are added, changed ones updated, and
//!   ones the source no longer lists removed.
//! * An **incomplete** read (a page failed, paging looped, `total` disagreed)
//!   changes no slot at all: the cached availability for the window stays
//!   exactly as it was. Only the sync report is recorded.
//! * A slot is booked at most once from this desk: a pending claim is written
//!   before the source is called, so a second booking of the same slot is
//!   refused locally even while the first is in flight. A claim left
//!   `pending` for [`CLAIM_TIMEOUT_MINUTES`] (the process died mid-booking)
//!   counts as `unknown`: the source may have booked it.
//! * Until the source itself reports a booked slot as taken, a sync keeps it
//!   `busy` in the cache (some servers never update a Slot when an
//!   Appointment is made for it); once the source reports it not free, the
//!   source is the truth again and the desk's record is dropped, so a slot
//!   freed later can be booked again. A slot whose booking is `unknown` stays
//!   `busy-tentative` until the source reports it taken, or still free
//!   [`UNKNOWN_EXPIRY_MINUTES`] after the attempt (then the booking did not land).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{
    ensure_location, ensure_provider, ensure_source, finish_import, from_secs, log_change, sync_feed, to_secs, FeedRow, ImportOutcome,
    ProviderRef, Result, RowData, Store, StoreError, StoredSlot, Table,
};
use crate::connector::{Booked, IntegrationKind, IntegrationSettings, RemoteSlot, SlotToBook, WindowRead};
use crate::model::{SlotStatus, SourceKind};
use crate::time::{parse_iana, ser_opt_instant, Interval};

/// A connected system as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Integration {
    /// Store id.
    pub id: i64,
    /// What kind of system.
    pub kind: IntegrationKind,
    /// The name staff gave it (unique), also the name of its slot source.
    pub name: String,
    /// Connection settings (no secrets).
    pub settings: IntegrationSettings,
    /// Sync frequency in minutes (default 15).
    pub sync_minutes: u32,
    /// False when paused.
    pub active: bool,
    /// Last sync that read its window completely (UTC).
    #[serde(serialize_with = "ser_opt_instant")]
    pub last_sync_at: Option<DateTime<Utc>>,
    /// The last sync's error in plain words, `None` after a complete sync.
    pub last_error: Option<String>,
    /// The last sync's report (JSON, as `medharmony sync --json` prints it).
    pub last_report: Option<serde_json::Value>,
    /// Change-feed cursor, where the source offers one.
    pub cursor: Option<String>,
    /// When the last sync attempt started (UTC), complete or not; `None` before the first.
    #[serde(serialize_with = "ser_opt_instant")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Sync attempts in a row that failed or read an incomplete window (0 after a complete sync).
    pub failures: u32,
}

impl Integration {
    /// True when its last sync failed because staff must reconnect it (the report's
    /// `needs_reconnect`, see [`crate::sync::SyncReport`]); false once a sync succeeds or it
    /// is reconnected (both clear `last_error`).
    pub fn needs_reconnect(&self) -> bool {
        self.last_error.is_some()
            && self.last_report.as_ref().and_then(|r| r.get("needs_reconnect")).and_then(serde_json::Value::as_bool).unwrap_or(false)
    }
}

/// A cached slot with what booking it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct BookableSlot {
    /// The slot as listed.
    pub slot: StoredSlot,
    /// Its source (feed) id.
    pub source_id: i64,
    /// The integration it came from; `None` for a spreadsheet or calendar.
    pub integration: Option<Integration>,
    /// What the connector needs (`None` when the slot was not synced).
    pub to_book: Option<SlotToBook>,
}

/// A claim on a slot while the source is asked to book it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingClaim {
    /// `bookings.id`.
    pub id: i64,
    /// The slot's store id.
    pub slot_id: i64,
}

/// Minutes after which a claim still `pending` counts as `unknown` (5).
pub const CLAIM_TIMEOUT_MINUTES: i64 = 5;

/// Minutes after an unconfirmed booking after which a source that still lists
/// the slot as free is believed: the booking did not land (15).
pub const UNKNOWN_EXPIRY_MINUTES: i64 = 15;

const INTEGRATION_COLUMNS: &str =
    "id, kind, name, settings, sync_minutes, active, last_sync_at, last_error, last_report, cursor, last_attempt_at, failures";

fn integration_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Integration>> {
    let name: String = r.get(2)?;
    let kind: String = r.get(1)?;
    let settings: String = r.get(3)?;
    let last_sync_at: Option<i64> = r.get(6)?;
    let last_report: Option<String> = r.get(8)?;
    let (id, sync_minutes, active, last_error, cursor) = (r.get(0)?, r.get(4)?, r.get(5)?, r.get(7)?, r.get(9)?);
    let (last_attempt_at, failures): (Option<i64>, u32) = (r.get(10)?, r.get(11)?);
    Ok((|| {
        Ok(Integration {
            id,
            kind: kind.parse().map_err(StoreError::Corrupt)?,
            settings: serde_json::from_str(&settings).map_err(|e| StoreError::Corrupt(format!("settings of integration '{name}': {e}")))?,
            name,
            sync_minutes,
            active,
            last_sync_at: last_sync_at.map(from_secs).transpose()?,
            last_error,
            last_report: last_report.and_then(|t| serde_json::from_str(&t).ok()),
            cursor,
            last_attempt_at: last_attempt_at.map(from_secs).transpose()?,
            failures,
        })
    })())
}

impl Store {
    /// Adds an integration.
    ///
    /// # Errors
    /// [`StoreError::IntegrationExists`] when the name is taken (case-insensitive);
    /// [`StoreError::Corrupt`] when `settings.tz` is not an IANA zone.
    pub fn add_integration(&mut self, kind: IntegrationKind, name: &str, settings: &IntegrationSettings, now: DateTime<Utc>) -> Result<Integration> {
        let name = name.trim();
        if parse_iana(&settings.tz).is_none() {
            return Err(StoreError::Corrupt(format!("'{}' is not an IANA time zone", settings.tz)));
        }
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let taken: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM integrations WHERE name = ?1 COLLATE NOCASE)", [name], |r| r.get(0))?;
        if taken {
            return Err(StoreError::IntegrationExists(name.to_string()));
        }
        let json = serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO integrations (kind, name, settings, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![kind.as_str(), name, json, to_secs(now)],
        )?;
        let id = tx.last_insert_rowid();
        log_change(&tx, now, "integration", "add", None, None, serde_json::json!({ "integration": id, "kind": kind.as_str() }))?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        self.integration(name)?.ok_or_else(|| StoreError::Corrupt(format!("integration '{name}' vanished")))
    }

    /// All integrations, by name.
    pub fn integrations(&self) -> Result<Vec<Integration>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {INTEGRATION_COLUMNS} FROM integrations ORDER BY name COLLATE NOCASE"))?;
        let rows = stmt.query_map([], integration_from_row)?.collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    /// One integration by name (case-insensitive).
    pub fn integration(&self, name: &str) -> Result<Option<Integration>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE name = ?1 COLLATE NOCASE"))?;
        stmt.query_row([name.trim()], integration_from_row).optional()?.transpose()
    }

    /// Removes an integration with its synced slots and booking records.
    /// Returns false when there is no such integration.
    pub fn remove_integration(&mut self, name: &str, now: DateTime<Utc>) -> Result<bool> {
        let Some(integ) = self.integration(name)? else { return Ok(false) };
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let removed = tx.execute("DELETE FROM slots WHERE source_id IN (SELECT id FROM sources WHERE integration_id = ?1)", [integ.id])?;
        tx.execute("DELETE FROM sources WHERE integration_id = ?1", [integ.id])?;
        tx.execute("DELETE FROM integrations WHERE id = ?1", [integ.id])?;
        log_change(&tx, now, "integration", "remove", None, None, serde_json::json!({ "integration": integ.id, "removed": removed }))?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(true)
    }

    /// Applies one window read from `integ` in one transaction (see the
    /// module rules). Providers and locations the slots name are created when
    /// missing, in the integration's zone. Returns zero counts for an
    /// incomplete read, which writes nothing.
    ///
    /// # Errors
    /// SQLite errors roll everything back.
    pub fn apply_window(&mut self, integ: &Integration, window: Interval, read: &WindowRead, now: DateTime<Utc>) -> Result<ImportOutcome> {
        if !read.complete {
            return Ok(ImportOutcome { source_id: self.integration_source(integ.id)?.unwrap_or(0), inserted: 0, updated: 0, removed: 0, unchanged: 0 });
        }
        self.write_slots(integ, Some(window), &read.slots, now)
    }

    /// Upserts slots from a change feed (no removals: a change feed lists only what changed).
    ///
    /// # Errors
    /// SQLite errors roll everything back.
    pub fn apply_changes(&mut self, integ: &Integration, slots: &[RemoteSlot], now: DateTime<Utc>) -> Result<ImportOutcome> {
        self.write_slots(integ, None, slots, now)
    }

    fn write_slots(&mut self, integ: &Integration, window: Option<Interval>, slots: &[RemoteSlot], now: DateTime<Utc>) -> Result<ImportOutcome> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let outcome = write_slots_in(&tx, integ, window, slots, now)?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(outcome)
    }

    fn integration_source(&self, integration_id: i64) -> Result<Option<i64>> {
        Ok(self.conn.query_row("SELECT id FROM sources WHERE integration_id = ?1", [integration_id], |r| r.get(0)).optional()?)
    }
}

/// The body of [`Store::apply_window`] / [`Store::apply_changes`] inside the caller's transaction (also used by
/// the webhook receiver, so its de-duplication and ordering records commit together with the slots).
pub(super) fn write_slots_in(
    tx: &rusqlite::Transaction<'_>,
    integ: &Integration,
    window: Option<Interval>,
    slots: &[RemoteSlot],
    now: DateTime<Utc>,
) -> Result<ImportOutcome> {
    let tz = parse_iana(&integ.settings.tz).ok_or_else(|| StoreError::Corrupt(format!("integration '{}' has zone '{}'", integ.name, integ.settings.tz)))?;
    let source_id = ensure_source(tx, SourceKind::Integration, &integ.name, None)?;
    tx.execute("UPDATE sources SET integration_id = ?1 WHERE id = ?2", params![integ.id, source_id])?;
    let seq = log_change(tx, now, "slots", if window.is_some() { "sync" } else { "changes" }, Some(source_id), None, serde_json::json!({}))?;
    let mut providers = std::collections::HashMap::new();
    let mut locations = std::collections::HashMap::new();
    let mut rows = Vec::with_capacity(slots.len());
    let bookings = desk_bookings(tx, source_id)?;
    let was_busy = super::holds::busy_before(tx, source_id)?;
    let mut acknowledged: Vec<i64> = Vec::new();
    for s in slots {
        let mut status = s.status;
        if let Some(&(booking_id, ref state, at)) = bookings.get(&s.external_id) {
            let age = to_secs(now) - at;
            if s.status != SlotStatus::Free {
                acknowledged.push(booking_id); // the source has it now
            } else if state == "booked" {
                status = SlotStatus::Busy;
            } else if state == "unknown" || age >= CLAIM_TIMEOUT_MINUTES * 60 {
                if age >= UNKNOWN_EXPIRY_MINUTES * 60 {
                    acknowledged.push(booking_id); // still free long after: it did not land
                } else {
                    status = SlotStatus::BusyTentative;
                }
            } else {
                status = SlotStatus::BusyTentative; // a booking is in flight
            }
        }
        let key = s.provider.to_lowercase();
        let provider_id = match providers.get(&key) {
            Some(id) => *id,
            None => {
                let p = ensure_provider(tx, &ProviderRef { name: s.provider.clone(), tz_if_new: Some(tz) }, now)?;
                providers.insert(key, p.id);
                p.id
            }
        };
        let location_id = match &s.location {
            Some(name) => match locations.get(&name.to_lowercase()) {
                Some(id) => Some(*id),
                None => {
                    let id = ensure_location(tx, name, tz)?;
                    locations.insert(name.to_lowercase(), id);
                    Some(id)
                }
            },
            None => None,
        };
        let remote = serde_json::json!({
            "provider_ref": s.provider_ref, "location_ref": s.location_ref, "schedule_ref": s.schedule_ref, "booking": s.booking,
        });
        rows.push(FeedRow {
            external_id: s.external_id.clone(),
            span: s.span,
            group: None,
            data: RowData::Slot {
                provider_id,
                location_id,
                status,
                service_type: s.service_type.clone(),
                remote: Some(remote.to_string()),
            },
        });
    }
    // A slot booked from this desk that a complete window no longer lists as open: the source
    // has the booking, so the desk stops holding it busy; if it comes back free later (a
    // cancellation at the source), it is an opening like any other.
    if let Some(w) = window {
        let listed: std::collections::HashSet<&str> = slots.iter().map(|s| s.external_id.as_str()).collect();
        for (ext, &(booking_id, ref state, _)) in &bookings {
            if state != "booked" || listed.contains(ext.as_str()) {
                continue;
            }
            let start: Option<i64> = tx
                .query_row("SELECT start_utc FROM slots WHERE source_id = ?1 AND external_id = ?2", params![source_id, ext], |r| r.get(0))
                .optional()?;
            if start.is_some_and(|s| to_secs(w.start) <= s && s < to_secs(w.end)) {
                acknowledged.push(booking_id);
            }
        }
    }
    for id in acknowledged {
        tx.execute("DELETE FROM bookings WHERE id = ?1", [id])?;
    }
    // The connectors search by start (`start=ge…&start=lt…`), so a window
    // speaks for the slots that start inside it.
    let outcome = sync_feed(tx, Table::Slots, source_id, 0, seq, &rows, |old, in_new| match window {
        Some(w) => !in_new && w.start <= old.span.start && old.span.start < w.end,
        None => false,
    })?;
    // A future slot the source had busy and now lists free is a cancellation: an opening to fill.
    let freed: Vec<&str> = rows
        .iter()
        .filter(|r| matches!(r.data, RowData::Slot { status: SlotStatus::Free, .. }) && r.span.start > now && was_busy.contains(&r.external_id))
        .map(|r| r.external_id.as_str())
        .collect();
    super::holds::record_openings(tx, source_id, &freed, seq, now)?;
    match window {
        Some(w) => finish_import(tx, seq, source_id, now, w, &outcome)?,
        None => {
            let detail = serde_json::json!({ "inserted": outcome.inserted, "updated": outcome.updated, "removed": 0, "unchanged": outcome.unchanged });
            tx.execute("UPDATE changes SET detail = ?1 WHERE seq = ?2", params![detail.to_string(), seq])?;
        }
    }
    Ok(outcome)
}

impl Store {
    /// Records the outcome of a sync of `integration_id` that started at
    /// `now`: its report (JSON), its error in plain words (`None` when it
    /// succeeded), the attempt time, and, when the window was read
    /// completely, the sync time. A complete sync resets the count of failed
    /// attempts in a row; anything else adds one (the worker backs off on it).
    /// An optional new change-feed cursor is kept.
    pub fn record_sync(
        &mut self,
        integration_id: i64,
        report: &serde_json::Value,
        error: Option<&str>,
        complete: bool,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        tx.execute(
            "UPDATE integrations SET last_report = ?2, last_error = ?3,
                 last_sync_at = CASE WHEN ?4 THEN ?5 ELSE last_sync_at END, cursor = IFNULL(?6, cursor),
                 last_attempt_at = ?5, failures = CASE WHEN ?4 THEN 0 ELSE failures + 1 END
             WHERE id = ?1",
            params![integration_id, report.to_string(), error, complete, to_secs(now), cursor],
        )?;
        log_change(&tx, now, "integration", "sync", None, None, serde_json::json!({ "integration": integration_id, "complete": complete }))?;
        tx.commit()?;
        self.emit_after_commit(before)
    }

    /// Pauses (`active = false`) or resumes an integration by name
    /// (case-insensitive). A paused integration keeps its slots but the sync
    /// worker does not sync it until it is resumed; `medharmony sync` and
    /// "Sync now" still can. Returns false when there is no such integration.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_integration_active(&mut self, name: &str, active: bool, now: DateTime<Utc>) -> Result<bool> {
        let Some(integ) = self.integration(name)? else { return Ok(false) };
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        tx.execute("UPDATE integrations SET active = ?2 WHERE id = ?1", params![integ.id, active])?;
        let op = if active { "resume" } else { "pause" };
        log_change(&tx, now, "integration", op, None, None, serde_json::json!({ "integration": integ.id }))?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(true)
    }

    /// Stores the change-feed cursor of integration `integration_id` (see
    /// [`crate::sync::poll_changes`]); nothing is logged (the slots it brought were).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_integration_cursor(&mut self, integration_id: i64, cursor: &str) -> Result<()> {
        self.conn.execute("UPDATE integrations SET cursor = ?2 WHERE id = ?1", params![integration_id, cursor])?;
        Ok(())
    }

    /// Replaces the sign-in settings of `name` after a reconnect and clears its last problem and
    /// failure count, so the worker syncs it again at once. Returns false when there is no such
    /// integration.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_integration_auth(&mut self, name: &str, auth: &crate::auth::AuthConfig, now: DateTime<Utc>) -> Result<bool> {
        let Some(mut integ) = self.integration(name)? else { return Ok(false) };
        integ.settings.auth = auth.clone();
        let settings = serde_json::to_string(&integ.settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        tx.execute(
            "UPDATE integrations SET settings = ?2, last_error = NULL, failures = 0, last_sync_at = NULL, cursor = NULL WHERE id = ?1",
            params![integ.id, settings],
        )?;
        log_change(&tx, now, "integration", "reconnect", None, None, serde_json::json!({ "integration": integ.id }))?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(true)
    }

    /// The cached slot `slot_id` with its source and booking details, or `None`.
    pub fn slot_for_booking(&self, slot_id: i64) -> Result<Option<BookableSlot>> {
        let row: Option<(i64, Option<i64>, String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT sl.source_id, s.integration_id, sl.external_id, sl.remote FROM slots sl JOIN sources s ON s.id = sl.source_id
                 WHERE sl.id = ?1 AND sl.removed_seq IS NULL",
                [slot_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((source_id, integration_id, external_id, remote)) = row else { return Ok(None) };
        let slot = self.slot_by_id(slot_id)?.ok_or_else(|| StoreError::Corrupt(format!("slot {slot_id} vanished")))?;
        let integration = match integration_id {
            Some(id) => self.integrations()?.into_iter().find(|i| i.id == id),
            None => None,
        };
        let to_book = match (&integration, remote) {
            (Some(_), Some(text)) => {
                let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("slot {slot_id}: {e}")))?;
                let s = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
                Some(SlotToBook {
                    external_id,
                    span: slot.span,
                    provider_ref: s("provider_ref"),
                    location_ref: s("location_ref"),
                    booking: v.get("booking").cloned().unwrap_or(serde_json::Value::Null),
                })
            }
            _ => None,
        };
        Ok(Some(BookableSlot { slot, source_id, integration, to_book }))
    }

    fn slot_by_id(&self, slot_id: i64) -> Result<Option<StoredSlot>> {
        let span: Option<(i64, i64)> =
            self.conn.query_row("SELECT start_utc, end_utc FROM slots WHERE id = ?1", [slot_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        let Some((s, e)) = span else { return Ok(None) };
        let window = Interval::new(from_secs(s)?, from_secs(e.max(s + 1))?).ok_or_else(|| StoreError::Corrupt(format!("slot {slot_id}")))?;
        Ok(self.published_slots(None, window)?.into_iter().find(|x| x.id == slot_id))
    }

    /// Claims `slot` for a booking of `patient_ref` before the source is
    /// called.
    ///
    /// # Errors
    /// [`StoreError::SlotNotFree`] when the cached slot is not `free` or is
    /// already claimed or booked from this desk.
    pub fn claim_booking(&mut self, slot: &BookableSlot, patient_ref: &str, now: DateTime<Utc>) -> Result<BookingClaim> {
        let tx = self.begin()?;
        let status: String = tx.query_row("SELECT status FROM slots WHERE id = ?1", [slot.slot.id], |r| r.get(0))?;
        let external_id: String = tx.query_row("SELECT external_id FROM slots WHERE id = ?1", [slot.slot.id], |r| r.get(0))?;
        let existing: Option<(String, i64)> = tx
            .query_row(
                "SELECT status, at FROM bookings WHERE source_id = ?1 AND slot_external_id = ?2",
                params![slot.source_id, external_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match existing {
            Some((state, at)) if state == "unknown" || (state == "pending" && to_secs(now) - at >= CLAIM_TIMEOUT_MINUTES * 60) => {
                return Err(StoreError::BookingUnconfirmed(slot.slot.id));
            }
            Some(_) => return Err(StoreError::SlotNotFree(slot.slot.id)),
            None if status != SlotStatus::Free.code() => return Err(StoreError::SlotNotFree(slot.slot.id)),
            None => {}
        }
        // A slot held for a waiting patient can be booked only for that patient (see `holds`).
        if !super::holds::hold_allows(&tx, slot.slot.id, patient_ref, now)? {
            return Err(StoreError::SlotNotFree(slot.slot.id));
        }
        tx.execute(
            "INSERT INTO bookings (source_id, slot_external_id, patient_ref, status, at) VALUES (?1, ?2, ?3, 'pending', ?4)",
            params![slot.source_id, external_id, patient_ref, to_secs(now)],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(BookingClaim { id, slot_id: slot.slot.id })
    }

    /// Records a booking the source accepted: the claim becomes `booked` and
    /// the cached slot `busy`, in one transaction with a change-log entry.
    pub fn finish_booking(&mut self, claim: BookingClaim, booked: &Booked, now: DateTime<Utc>) -> Result<()> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        tx.execute("UPDATE bookings SET status = 'booked', appointment_id = ?2, at = ?3 WHERE id = ?1", params![claim.id, booked.appointment_id, to_secs(now)])?;
        set_slot_status(&tx, claim.slot_id, SlotStatus::Busy, "book", now)?;
        tx.commit()?;
        self.emit_after_commit(before)
    }

    /// Drops a claim whose booking did not happen. With `taken`, the source
    /// said someone else has the slot: the cached slot becomes `busy` so it is
    /// no longer offered.
    pub fn release_claim(&mut self, claim: BookingClaim, taken: bool, now: DateTime<Utc>) -> Result<()> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        tx.execute("DELETE FROM bookings WHERE id = ?1 AND status = 'pending'", [claim.id])?;
        if taken {
            set_slot_status(&tx, claim.slot_id, SlotStatus::Busy, "taken", now)?;
        }
        tx.commit()?;
        self.emit_after_commit(before)
    }

    /// Records a booking whose answer was lost: the claim becomes `unknown`
    /// and the cached slot `busy-tentative`, so it is not offered until the
    /// source says what happened (see the module rules).
    pub fn booking_unknown(&mut self, claim: BookingClaim, now: DateTime<Utc>) -> Result<()> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        tx.execute("UPDATE bookings SET status = 'unknown', at = ?2 WHERE id = ?1", params![claim.id, to_secs(now)])?;
        set_slot_status(&tx, claim.slot_id, SlotStatus::BusyTentative, "unconfirmed", now)?;
        tx.commit()?;
        self.emit_after_commit(before)
    }

    /// Bookings made from this desk for the slot's source id and external id:
    /// `(patient_ref, appointment_id, status)`.
    pub fn bookings_of(&self, source_id: i64, slot_external_id: &str) -> Result<Vec<(String, Option<String>, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT patient_ref, appointment_id, status FROM bookings WHERE source_id = ?1 AND slot_external_id = ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![source_id, slot_external_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }
}

/// This desk's booking records of a source: external slot id → (id, status, at).
fn desk_bookings(tx: &rusqlite::Transaction<'_>, source_id: i64) -> Result<std::collections::HashMap<String, (i64, String, i64)>> {
    let mut stmt = tx.prepare_cached("SELECT slot_external_id, id, status, at FROM bookings WHERE source_id = ?1")?;
    let rows = stmt.query_map([source_id], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

fn set_slot_status(tx: &rusqlite::Transaction<'_>, slot_id: i64, status: SlotStatus, op: &str, now: DateTime<Utc>) -> Result<()> {
    let (source_id, provider_id): (i64, i64) = tx.query_row("SELECT source_id, provider_id FROM slots WHERE id = ?1", [slot_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let seq = log_change(tx, now, "slots", op, Some(source_id), Some(provider_id), serde_json::json!({ "slot": slot_id, "status": status.code() }))?;
    tx.execute("UPDATE slots SET status = ?2, updated_seq = ?3 WHERE id = ?1", params![slot_id, status.code(), seq])?;
    Ok(())
}
