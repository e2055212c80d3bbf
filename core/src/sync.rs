//! One sync of an integration (read a window through its connector, apply it
//! to the store, record the report), and booking a cached slot back into its
//! source. Shared by `medharmony sync` / `medharmony book` and the desktop app.
//!
//! The periodic scheduler, change-feed polling and webhooks build on these
//! (issue "Sync worker").

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::auth;
use crate::connector::athena::AthenaConnector;
use crate::connector::caldav::CalDavConnector;
use crate::connector::fhir::epic::EpicConnector;
use crate::connector::google::GoogleCalendarConnector;
use crate::connector::fhir::FhirConnector;
use crate::connector::http::FhirHttp;
use crate::connector::{Booked, Connector, ConnectorError, IntegrationKind, Quarantined};
use crate::store::integrations::Integration;
use crate::store::key::KeyVault;
use crate::store::{Store, StoreError};
use crate::time::{ser_instant, Interval};

/// The default sync window: this many days before now…
pub const WINDOW_DAYS_BEFORE: i64 = 7;
/// …to this many days after now.
pub const WINDOW_DAYS_AFTER: i64 = 90;

/// The default window around `now`: `[now − 7 d, now + 90 d)`.
pub fn default_window(now: DateTime<Utc>) -> Interval {
    Interval { start: now - Duration::days(WINDOW_DAYS_BEFORE), end: now + Duration::days(WINDOW_DAYS_AFTER) }
}

/// What one sync of one integration did; `medharmony sync --json` prints one per integration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncReport {
    /// The integration's name.
    pub integration: String,
    /// Its kind (`fhir`, `oracle-health`, `epic`).
    pub kind: IntegrationKind,
    /// Slots added to the cache.
    pub added: usize,
    /// Slots whose time, status, provider, location or booking details changed.
    pub changed: usize,
    /// Slots removed because the source no longer lists them (complete windows only).
    pub removed: usize,
    /// Slots already identical.
    pub unchanged: usize,
    /// Rows set aside as unreadable (see `warnings`).
    pub quarantined: usize,
    /// True when the window was read completely (only then is anything removed).
    pub complete: bool,
    /// Start of the window read (UTC).
    #[serde(serialize_with = "ser_instant")]
    pub from: DateTime<Utc>,
    /// End of the window read (UTC, exclusive).
    #[serde(serialize_with = "ser_instant")]
    pub to: DateTime<Utc>,
    /// The quarantined rows with their reasons, for staff.
    pub warnings: Vec<Quarantined>,
    /// Why the window is incomplete, or why the sync failed, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// True when the sync failed outright (nothing could be read).
    pub failed: bool,
    /// True when staff must reconnect the system (sign-in expired or revoked, `invalid_grant`;
    /// a secret missing from the keychain; credentials refused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_reconnect: bool,
}

/// True when `e` can only be cured by reconnecting the system on the Integrations page.
pub fn needs_reconnect(e: &ConnectorError) -> bool {
    matches!(
        e,
        ConnectorError::Unauthorized { .. }
            | ConnectorError::Auth(auth::AuthError::NeedsReconnect { .. } | auth::AuthError::MissingSecret { .. })
    )
}

/// How long a sync waits for another sync of the same integration (in this or another
/// process on this computer) to finish before giving up: 5 minutes.
pub const SYNC_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// An exclusive lock on the syncs of one integration of one database, across processes (the
/// app's "Sync now", its worker, `medharmony sync` and `medharmony serve`): an advisory lock on
/// `<db>.sync-<integration id>.lock`, released when dropped or when the process dies. At most
/// one sync or change-feed poll of an integration runs at a time, so two never renew the same
/// refresh token at once nor write the same window twice.
#[derive(Debug)]
pub struct IntegrationLock {
    _file: std::fs::File,
}

impl IntegrationLock {
    /// The lock file of integration `integration_id` of the database `db`.
    pub fn path_for(db: &std::path::Path, integration_id: i64) -> std::path::PathBuf {
        let mut p = db.as_os_str().to_owned();
        p.push(format!(".sync-{integration_id}.lock"));
        std::path::PathBuf::from(p)
    }

    /// Takes the lock, waiting at most `wait` (checking every 50 ms); `Ok(None)` when another
    /// holder kept it all that time.
    ///
    /// # Errors
    /// The lock file cannot be created or locked (e.g. a read-only folder).
    pub fn acquire(db: &std::path::Path, integration_id: i64, wait: std::time::Duration) -> std::io::Result<Option<IntegrationLock>> {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(Self::path_for(db, integration_id))?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(IntegrationLock { _file: file })),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

/// Builds the connector for `integ`, with its sign-in from the settings and the keychain `vault`.
///
/// # Errors
/// [`ConnectorError::Auth`] when a secret is missing from the keychain.
pub fn connector_for(integ: &Integration, vault: Arc<dyn KeyVault + Send + Sync>) -> Result<Box<dyn Connector>, ConnectorError> {
    let agent = FhirHttp::default_agent();
    let tokens = auth::token_source(&integ.settings.auth, &integ.name, vault.clone(), agent.clone())?;
    let http = FhirHttp::new(agent, &integ.name, tokens);
    Ok(match integ.kind {
        IntegrationKind::Fhir | IntegrationKind::OracleHealth => Box::new(FhirConnector::new(integ.kind, integ.settings.clone(), http)),
        IntegrationKind::Epic => Box::new(EpicConnector::new(integ.settings.clone(), http)),
        IntegrationKind::Athena => Box::new(AthenaConnector::new(integ.settings.clone(), http)?),
        IntegrationKind::GoogleCalendar => Box::new(GoogleCalendarConnector::new(integ.settings.clone(), http)?),
        IntegrationKind::CalDav => {
            let (username, password) = auth::basic_credentials(&integ.settings.auth, &integ.name, vault.as_ref())?;
            Box::new(CalDavConnector::new(&integ.name, integ.settings.clone(), username, password, CalDavConnector::default_agent())?)
        }
    })
}

/// Syncs `integ` over `window` with `connector`: reads the window, applies it
/// in one transaction (an incomplete read changes nothing), and records the
/// report on the integration. A connector failure is a report with `failed`
/// set, not an error.
///
/// # Errors
/// Only store failures.
pub fn sync_integration(
    store: &mut Store,
    integ: &Integration,
    connector: &mut dyn Connector,
    window: Interval,
    now: DateTime<Utc>,
) -> Result<SyncReport, StoreError> {
    sync_integration_waiting(store, integ, connector, window, now, SYNC_LOCK_WAIT)
}

/// [`sync_integration`] waiting at most `wait` for another sync of `integ` to finish. When it
/// does not finish in time, nothing is read or recorded and the report says so (`failed`, with
/// the problem in plain words).
///
/// # Errors
/// Only store failures.
pub fn sync_integration_waiting(
    store: &mut Store,
    integ: &Integration,
    connector: &mut dyn Connector,
    window: Interval,
    now: DateTime<Utc>,
    wait: std::time::Duration,
) -> Result<SyncReport, StoreError> {
    let _lock = match IntegrationLock::acquire(store.path(), integ.id, wait) {
        Ok(Some(lock)) => Some(lock),
        Ok(None) => {
            return Ok(failed_report(
                integ,
                window,
                format!("{} is still being synced by another MedHarmony Desk program on this computer; try again in a moment.", integ.name),
            ))
        }
        Err(e) => {
            tracing::warn!(integration = integ.id, error = %e, "could not take the integration's sync lock; syncing without it");
            None
        }
    };
    read_window(store, integ, connector, window, now)
}

/// The sync proper, under the integration's lock: read `window`, apply it, record the report.
fn read_window(store: &mut Store, integ: &Integration, connector: &mut dyn Connector, window: Interval, now: DateTime<Utc>) -> Result<SyncReport, StoreError> {
    let mut report = failed_report(integ, window, String::new());
    report.failed = false;
    report.problem = None;
    match connector.availability(window) {
        Ok(read) => {
            // The crash-safety test waits for this line to kill the process mid-write.
            tracing::debug!(integration = integ.id, slots = read.slots.len(), complete = read.complete, "window read; writing it");
            let outcome = store.apply_window(integ, window, &read, now)?;
            report.added = outcome.inserted;
            report.changed = outcome.updated;
            report.removed = outcome.removed;
            report.unchanged = outcome.unchanged;
            report.quarantined = read.quarantined.len();
            report.complete = read.complete;
            report.warnings = read.quarantined;
            report.problem = read.incomplete_reason.map(|r| format!("Not every open time could be read ({r}); what was cached before is kept."));
        }
        Err(e) => {
            report.failed = true;
            report.needs_reconnect = needs_reconnect(&e);
            report.problem = Some(e.to_string());
        }
    }
    tracing::info!(
        integration = integ.id,
        added = report.added,
        changed = report.changed,
        removed = report.removed,
        quarantined = report.quarantined,
        complete = report.complete,
        failed = report.failed,
        "sync finished"
    );
    let json = serde_json::to_value(&report).unwrap_or_default();
    store.record_sync(integ.id, &json, report.problem.as_deref(), report.complete, None, now)?;
    Ok(report)
}

/// Syncs `integ` once over `window`: builds its connector with
/// `make_connector` and runs [`sync_integration`]; when the connector cannot
/// be built (a secret missing from the keychain), records a failed report
/// instead. Shared by `medharmony sync` and the sync worker.
///
/// # Errors
/// Only store failures.
pub fn sync_once(
    store: &mut Store,
    integ: &Integration,
    make_connector: impl FnOnce(&Integration) -> Result<Box<dyn Connector>, ConnectorError>,
    window: Interval,
    now: DateTime<Utc>,
) -> Result<SyncReport, StoreError> {
    match make_connector(integ) {
        Ok(mut c) => sync_integration(store, integ, c.as_mut(), window, now),
        Err(e) => {
            let mut r = failed_report(integ, window, e.to_string());
            r.needs_reconnect = needs_reconnect(&e);
            let json = serde_json::to_value(&r).unwrap_or_default();
            store.record_sync(integ.id, &json, r.problem.as_deref(), false, None, now)?;
            Ok(r)
        }
    }
}

/// What one poll of an integration's change feed did (see [`poll_changes`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PollReport {
    /// The integration's name.
    pub integration: String,
    /// Slots the feed reported that were new to the cache.
    pub added: usize,
    /// Slots whose time, status, provider, location or booking details changed.
    pub changed: usize,
    /// Slots the feed reported that the cache already had exactly so.
    pub unchanged: usize,
    /// Slots removed by a full window read the feed asked for (see `full_resync`).
    pub removed: usize,
    /// True when the feed could not be read incrementally and the whole window was read instead.
    pub full_resync: bool,
    /// True when the feed was read completely and the cursor moved on.
    pub complete: bool,
    /// Why the poll failed or was incomplete, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl PollReport {
    /// A poll of `integration` that read nothing (yet), with `problem` if it could not run.
    pub fn empty(integration: &str, problem: Option<String>) -> PollReport {
        PollReport { integration: integration.to_string(), added: 0, changed: 0, unchanged: 0, removed: 0, full_resync: false, complete: false, problem }
    }
}

/// Polls `integ`'s change feed once (FHIR `_lastUpdated`, athenahealth's changed-data feed,
/// Google `syncToken`): reads what changed since the stored cursor, upserts it through the
/// store's one write path ([`Store::apply_changes`], which logs each change for the app) and
/// moves the cursor on only when the feed was read completely. A feed never removes slots;
/// removals are the full window sync's job.
///
/// Without a stored cursor the feed starts at the last complete sync (`last_sync_at`), so
/// nothing between that sync and the first poll is missed. Returns `Ok(None)` when the source
/// offers no change feed. A connector failure is a report with `problem` set (the scheduled full
/// sync reports lasting trouble on the integration), not an error.
///
/// # Errors
/// Only store failures.
pub fn poll_changes(
    store: &mut Store,
    integ: &Integration,
    connector: &mut dyn Connector,
    now: DateTime<Utc>,
) -> Result<Option<PollReport>, StoreError> {
    let _lock = match IntegrationLock::acquire(store.path(), integ.id, std::time::Duration::ZERO) {
        Ok(Some(lock)) => Some(lock),
        Ok(None) => {
            tracing::debug!(integration = integ.id, "a sync of this integration is running; poll skipped");
            return Ok(Some(PollReport::empty(&integ.name, None)));
        }
        Err(e) => {
            tracing::warn!(integration = integ.id, error = %e, "could not take the integration's sync lock; polling without it");
            None
        }
    };
    let since = integ.cursor.as_deref();
    let start = if since.is_none() { integ.last_sync_at.unwrap_or(now).min(now) } else { now };
    let mut report = PollReport::empty(&integ.name, None);
    match connector.changes_since(since, start) {
        Ok(None) => return Ok(None),
        Ok(Some(batch)) => {
            // A feed reports changes on any date; the cache holds the sync window only (a slot
            // outside it would never be removed by a window read).
            let window = default_window(now);
            let slots: Vec<_> = batch.slots.iter().filter(|s| window.start <= s.span.start && s.span.start < window.end).cloned().collect();
            if !slots.is_empty() {
                let outcome = store.apply_changes(integ, &slots, now)?;
                report.added = outcome.inserted;
                report.changed = outcome.updated;
                report.unchanged = outcome.unchanged;
            }
            report.complete = batch.complete;
            if batch.complete {
                store.set_integration_cursor(integ.id, &batch.cursor)?;
            } else {
                // The feed could not say everything (a page failed, Google's 410 Gone for an
                // expired sync token, a changed recurrence): read the whole window instead, and
                // take the feed's new cursor only when that read was complete.
                let full = read_window(store, integ, connector, default_window(now), now)?;
                report.full_resync = true;
                report.added += full.added;
                report.changed += full.changed;
                report.removed = full.removed;
                if full.complete {
                    store.set_integration_cursor(integ.id, &batch.cursor)?;
                    report.complete = true;
                } else {
                    report.problem = full.problem.or_else(|| Some("Not every change could be read; the next poll asks again from the same point.".into()));
                }
            }
        }
        Err(e) => report.problem = Some(e.to_string()),
    }
    tracing::debug!(
        integration = integ.id,
        added = report.added,
        changed = report.changed,
        complete = report.complete,
        failed = report.problem.is_some(),
        "change feed polled"
    );
    Ok(Some(report))
}

/// A report for a sync that failed before anything was read (`problem` in plain words).
pub fn failed_report(integ: &Integration, window: Interval, problem: String) -> SyncReport {
    SyncReport {
        integration: integ.name.clone(),
        kind: integ.kind,
        added: 0,
        changed: 0,
        removed: 0,
        unchanged: 0,
        quarantined: 0,
        complete: false,
        from: window.start,
        to: window.end,
        warnings: vec![],
        problem: Some(problem),
        failed: true,
        needs_reconnect: false,
    }
}

impl SyncReport {
    /// One line for staff, e.g. "Clinic FHIR: 6 added, 1 changed, 0 removed, 1 set aside; complete".
    pub fn plain(&self) -> String {
        if self.failed {
            return format!("{}: sync failed: {}", self.integration, self.problem.as_deref().unwrap_or("unknown problem"));
        }
        format!(
            "{}: {} added, {} changed, {} removed, {} unchanged, {} set aside; {}",
            self.integration,
            self.added,
            self.changed,
            self.removed,
            self.unchanged,
            self.quarantined,
            if self.complete { "complete" } else { "incomplete, nothing removed" }
        )
    }
}

/// Why a booking from the desk did not happen, phrased for staff.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// No cached slot has this id.
    #[error("there is no slot {0}; list slots with `medharmony slots`")]
    NoSuchSlot(String),
    /// The slot came from a file or a calendar's working hours, not a connected system.
    #[error("this time comes from {0}, not a connected system; book it where that schedule is kept")]
    NotConnected(String),
    /// The patient id is not an id the source system could have given.
    #[error("'{0}' is not a patient id; give the patient's id as the source system shows it, e.g. 12724066")]
    BadPatient(String),
    /// The cache or the desk says the slot is not free.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source refused or could not be reached.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// Parses a slot id as `medharmony slots` and the app show it: `slot-<n>` or `<n>`.
pub fn parse_slot_id(id: &str) -> Option<i64> {
    id.trim().strip_prefix("slot-").unwrap_or(id.trim()).parse().ok()
}

/// Books the cached slot `slot_id` (`slot-<n>`) for the patient whose id in
/// the source system is `patient_id`, through `connector` (built by
/// `make_connector` from the slot's integration).
///
/// Order: the slot is claimed locally (a second booking of it is refused),
/// the connector re-reads the slot at the source and books it; on success the
/// cached slot becomes `busy`; when the source says it was taken, the claim is
/// dropped and the cached slot becomes `busy` too; on any other failure the
/// claim is dropped and the slot stays free.
///
/// # Errors
/// See [`BookError`].
pub fn book_slot(
    store: &mut Store,
    slot_id: &str,
    patient_id: &str,
    make_connector: impl FnOnce(&Integration) -> Result<Box<dyn Connector>, ConnectorError>,
    now: DateTime<Utc>,
) -> Result<Booked, BookError> {
    if slot_id.trim().starts_with("grid-") {
        return Err(BookError::NotConnected("a calendar and working hours".into()));
    }
    let patient_id = patient_id.trim();
    let patient_id = patient_id.strip_prefix("Patient/").unwrap_or(patient_id);
    if !crate::connector::fhir::map::is_fhir_id(patient_id) {
        return Err(BookError::BadPatient(patient_id.to_string()));
    }
    let id = parse_slot_id(slot_id).ok_or_else(|| BookError::NoSuchSlot(slot_id.to_string()))?;
    let slot = store.slot_for_booking(id)?.ok_or_else(|| BookError::NoSuchSlot(slot_id.to_string()))?;
    let (Some(integ), Some(to_book)) = (slot.integration.clone(), slot.to_book.clone()) else {
        return Err(BookError::NotConnected(format!("an imported file ({})", slot.slot.source)));
    };
    let claim = store.claim_booking(&slot, patient_id, now)?;
    let result = make_connector(&integ).and_then(|mut c| c.book(&to_book, patient_id));
    match result {
        Ok(booked) => {
            store.finish_booking(claim, &booked, now)?;
            Ok(booked)
        }
        Err(e @ ConnectorError::BookingUnknown { .. }) => {
            store.booking_unknown(claim, now)?;
            Err(e.into())
        }
        Err(e) => {
            store.release_claim(claim, matches!(e, ConnectorError::SlotTaken { .. } | ConnectorError::SlotChanged { .. }), now)?;
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::{ChangeBatch, SlotToBook, WindowRead};
    use crate::store::key::DbKey;

    /// Counts availability reads; reads an empty complete window.
    struct Counting(usize);

    impl Connector for Counting {
        fn kind(&self) -> IntegrationKind {
            IntegrationKind::Fhir
        }
        fn availability(&mut self, _: Interval) -> Result<WindowRead, ConnectorError> {
            self.0 += 1;
            Ok(WindowRead { slots: vec![], quarantined: vec![], complete: true, incomplete_reason: None })
        }
        fn changes_since(&mut self, _: Option<&str>, _: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
            self.0 += 1;
            Ok(Some(ChangeBatch { slots: vec![], quarantined: vec![], cursor: "c".into(), complete: true }))
        }
        fn book(&mut self, _: &SlotToBook, _: &str) -> Result<Booked, ConnectorError> {
            unreachable!()
        }
        fn cancel(&mut self, _: &str) -> Result<(), ConnectorError> {
            unreachable!()
        }
    }

    #[test]
    fn one_sync_of_an_integration_at_a_time_across_connections() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("lock.db");
        let mut store = Store::open(&db, &DbKey::Raw([1; 32])).unwrap();
        let now: DateTime<Utc> = "2026-03-02T12:00:00Z".parse().unwrap();
        let settings = crate::connector::IntegrationSettings::new("http://127.0.0.1:9/r4", "UTC", crate::auth::AuthConfig::None);
        let integ = store.add_integration(IntegrationKind::Fhir, "Clinic", &settings, now).unwrap();
        let other = store.add_integration(IntegrationKind::Fhir, "Other", &settings, now).unwrap();
        let window = default_window(now);

        // Another program (here: another lock holder) is syncing Clinic.
        let held = IntegrationLock::acquire(&db, integ.id, std::time::Duration::ZERO).unwrap().expect("free at first");
        assert_eq!(IntegrationLock::path_for(&db, integ.id), dir.path().join(format!("lock.db.sync-{}.lock", integ.id)));
        let mut c = Counting(0);
        let r = sync_integration_waiting(&mut store, &integ, &mut c, window, now, std::time::Duration::from_millis(120)).unwrap();
        assert!(r.failed);
        assert_eq!(
            r.problem.as_deref(),
            Some("Clinic is still being synced by another MedHarmony Desk program on this computer; try again in a moment.")
        );
        assert_eq!(c.0, 0, "the source was not asked");
        let stored = store.integration("Clinic").unwrap().unwrap();
        assert_eq!((stored.failures, stored.last_attempt_at), (0, None), "nothing recorded: it did not fail");
        // A poll does not wait: it skips.
        let polled = poll_changes(&mut store, &stored, &mut c, now).unwrap().unwrap();
        assert_eq!((polled.complete, polled.problem, c.0), (false, None, 0));
        // Other integrations are not held up.
        let r = sync_integration_waiting(&mut store, &other, &mut c, window, now, std::time::Duration::ZERO).unwrap();
        assert!(!r.failed && r.complete);
        assert_eq!(c.0, 1);

        drop(held);
        let r = sync_integration_waiting(&mut store, &integ, &mut c, window, now, std::time::Duration::ZERO).unwrap();
        assert!(!r.failed && r.complete);
        assert_eq!(store.integration("Clinic").unwrap().unwrap().last_sync_at, Some(now));
    }

    /// A feed that reports one slot inside the sync window and one far beyond it.
    struct FarFeed;

    impl Connector for FarFeed {
        fn kind(&self) -> IntegrationKind {
            IntegrationKind::Fhir
        }
        fn availability(&mut self, _: Interval) -> Result<WindowRead, ConnectorError> {
            Ok(WindowRead { slots: vec![], quarantined: vec![], complete: true, incomplete_reason: None })
        }
        fn changes_since(&mut self, _: Option<&str>, now: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
            let slot = |id: &str, days: i64| crate::connector::RemoteSlot {
                external_id: id.into(),
                span: Interval { start: now + Duration::days(days), end: now + Duration::days(days) + Duration::minutes(30) },
                status: crate::model::SlotStatus::Free,
                provider: "Dr. Rivera".into(),
                provider_ref: None,
                location: None,
                location_ref: None,
                service_type: None,
                schedule_ref: None,
                booking: serde_json::Value::Null,
            };
            Ok(Some(ChangeBatch { slots: vec![slot("near", 3), slot("far", 200)], quarantined: vec![], cursor: "c".into(), complete: true }))
        }
        fn book(&mut self, _: &SlotToBook, _: &str) -> Result<Booked, ConnectorError> {
            unreachable!()
        }
        fn cancel(&mut self, _: &str) -> Result<(), ConnectorError> {
            unreachable!()
        }
    }

    #[test]
    fn a_change_feed_only_brings_slots_inside_the_sync_window() {
        // Regression: a poll added slots months ahead, which no window read would ever remove.
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("far.db"), &DbKey::Raw([6; 32])).unwrap();
        let now: DateTime<Utc> = "2026-03-02T12:00:00Z".parse().unwrap();
        let settings = crate::connector::IntegrationSettings::new("http://127.0.0.1:9/r4", "UTC", crate::auth::AuthConfig::None);
        let mut integ = store.add_integration(IntegrationKind::Fhir, "Clinic", &settings, now).unwrap();
        integ.cursor = Some("c0".into());
        let r = poll_changes(&mut store, &integ, &mut FarFeed, now).unwrap().unwrap();
        assert_eq!((r.added, r.complete), (1, true));
        let all = Interval { start: now, end: now + Duration::days(400) };
        let listed: Vec<_> = store.published_slots(None, all).unwrap().into_iter().map(|s| s.span.start).collect();
        assert_eq!(listed, vec![now + Duration::days(3)]);
    }
}
