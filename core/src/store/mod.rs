//! The local availability cache: one SQLite file, encrypted with SQLCipher.
//!
//! * Encrypted at rest (calendar summaries routinely carry patient names); the
//!   key comes from [`key::resolve_key`]. `PRAGMA key` is the first statement
//!   on every connection.
//! * WAL journal with a busy timeout, so the desktop app, the CLI and a sync
//!   service can share one file; write transactions are short (one per file
//!   imported) and start `IMMEDIATE` so writers queue instead of failing.
//! * Idempotent upserts keyed by (source, external id): a calendar instance's
//!   external id is its UID plus its RECURRENCE-ID instant; a published slot's
//!   is provider + start + end + location.
//! * Every write appends to the change log ([`crate::events::Change`]).
//!
//! Instants are stored as INTEGER seconds since the Unix epoch (UTC).

pub mod holds;
pub mod integrations;
pub mod key;
pub mod migrations;
pub mod webhooks;
mod waitlist;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;
use thiserror::Error;

use crate::events::{Change, EventSink};
use crate::import::ics::{BusyInstance, IcsImport};
use crate::model::{BusyStatus, Provider, SlotStatus, SourceKind, WorkingHours};
use crate::time::{fmt_instant, parse_iana, ser_opt_instant, Interval};
use key::{DbKey, KeyError};

/// How long a connection waits for another process's write lock.
pub const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// Errors of the store. Display texts are written for front-desk staff.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The key could not be had (see [`KeyError`]).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The file could not be opened or created.
    #[error("could not open the database {path}: {detail}")]
    Open {
        /// The database file.
        path: String,
        /// What the system said.
        detail: String,
    },
    /// The key does not open the file, or the file is not a MedHarmony database.
    #[error("could not open the database {path}: the key does not match, or it is not a MedHarmony database")]
    WrongKey {
        /// The database file.
        path: String,
    },
    /// The file was written by a newer MedHarmony.
    #[error("the database {path} was written by a newer version of MedHarmony Desk (schema {found}, this version knows {supported}); please update MedHarmony Desk")]
    NewerSchema {
        /// The database file.
        path: String,
        /// Its schema version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
    /// A provider name that is not in the practice.
    #[error("there is no provider named '{0}'; add it with `medharmony providers add` or give --tz to create it")]
    UnknownProvider(String),
    /// A provider name that is already taken.
    #[error("a provider named '{0}' already exists")]
    ProviderExists(String),
    /// An integration name that is already taken.
    #[error("an integration named '{0}' already exists")]
    IntegrationExists(String),
    /// The slot is not free (booked, held or blocked), or a booking of it from this desk is already under way.
    #[error("this time is no longer free (slot {0}); pick another time")]
    SlotNotFree(i64),
    /// A booking of this slot from this desk was sent but never confirmed.
    #[error("a booking of this time from this desk was not confirmed by its system (slot {0}); check there before offering it to anyone")]
    BookingUnconfirmed(i64),
    /// A stored value that this build cannot read (a damaged or hand-edited file).
    #[error("the database holds a value that cannot be read: {0}")]
    Corrupt(String),
    /// A value refused before it was written, in plain words naming the setting or field.
    #[error("{0}")]
    Invalid(String),
    /// Any other SQLite failure.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// Result alias for the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The encrypted local cache.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    sink: Option<Arc<dyn EventSink>>,
    /// Added to the system clock by [`Store::now`] (zero unless [`Store::set_now`] was called).
    clock_offset: chrono::Duration,
}

/// The platform data directory's default database file
/// (e.g. `~/.local/share/medharmonydesk/medharmony.db` on Linux).
pub fn default_db_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("health", "MedHarmony", "MedHarmony Desk").map(|d| d.data_dir().join("medharmony.db"))
}

pub(crate) fn to_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_secs(s: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(s, 0).ok_or_else(|| StoreError::Corrupt(format!("timestamp {s}")))
}

/// Summary of one applied import, the CLI's per-file JSON without the file name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportOutcome {
    /// The source (feed) id.
    pub source_id: i64,
    /// Rows inserted.
    pub inserted: usize,
    /// Rows whose content changed.
    pub updated: usize,
    /// Rows removed because the source no longer contains them.
    pub removed: usize,
    /// Rows already identical.
    pub unchanged: usize,
}

/// A provider that should be created in the import's transaction when missing.
#[derive(Debug, Clone)]
pub struct ProviderRef {
    /// Display name.
    pub name: String,
    /// Zone for a provider created by this import (an existing one keeps its own).
    pub tz_if_new: Option<Tz>,
}

/// One published slot ready to write: instants resolved, names not yet ids.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSlot {
    /// Provider display name (created when missing, with the import's zone).
    pub provider: String,
    /// Location name, if any (created when missing).
    pub location: Option<String>,
    /// `[start, end)` UTC.
    pub span: Interval,
    /// FHIR slot status.
    pub status: SlotStatus,
    /// Visit / service type.
    pub service_type: Option<String>,
    /// Zone for the provider if this row creates it (the row's own time-zone
    /// column); falls back to the import's zone.
    pub tz_if_new: Option<Tz>,
}

/// One stored busy instance, as `medharmony busy` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusyRow {
    /// Provider name.
    pub provider: String,
    /// Source (feed) name.
    pub source: String,
    /// The event's UID.
    pub uid: String,
    /// RECURRENCE-ID instant (UTC) of a recurring instance, `None` for a single event.
    pub recurrence_id: Option<DateTime<Utc>>,
    /// Start (UTC).
    pub start: DateTime<Utc>,
    /// End (UTC, exclusive).
    pub end: DateTime<Utc>,
    /// True for an all-day (DATE) event.
    pub all_day: bool,
    /// Summary (may name patients: never log it).
    pub summary: Option<String>,
    /// Busy status code.
    pub status: BusyStatus,
    /// Provider id.
    #[serde(skip)]
    pub provider_id: i64,
}

/// One stored published slot.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSlot {
    /// Store id.
    pub id: i64,
    /// Provider id and name.
    pub provider_id: i64,
    /// Provider name.
    pub provider: String,
    /// Location name.
    pub location: Option<String>,
    /// `[start, end)` UTC.
    pub span: Interval,
    /// Status as published.
    pub status: SlotStatus,
    /// Source name.
    pub source: String,
    /// Visit / service type.
    pub service_type: Option<String>,
}

/// A source (feed) with its provider name, for listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    /// Store id.
    pub id: i64,
    /// Kind (`ics`, `csv`).
    pub kind: SourceKind,
    /// Source name.
    pub name: String,
    /// Provider name for a calendar feed.
    pub provider: Option<String>,
    /// Last import or sync (UTC).
    #[serde(serialize_with = "ser_opt_instant")]
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Sync frequency in minutes (default 15).
    pub sync_minutes: u32,
    /// Start of the period this source's imports have covered (UTC), if any.
    #[serde(serialize_with = "ser_opt_instant")]
    pub covered_from: Option<DateTime<Utc>>,
    /// End of the period this source's imports have covered (UTC, exclusive).
    #[serde(serialize_with = "ser_opt_instant")]
    pub covered_to: Option<DateTime<Utc>>,
}

impl Store {
    /// Opens (creating if needed) the encrypted database at `path` with `key`,
    /// sets WAL and the busy timeout and applies pending migrations.
    ///
    /// # Errors
    /// [`StoreError::WrongKey`] when the key does not open an existing file,
    /// [`StoreError::NewerSchema`], [`StoreError::Open`].
    pub fn open(path: &Path, key: &DbKey) -> Result<Store> {
        let open_err = |detail: String| StoreError::Open { path: path.display().to_string(), detail };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        conn.execute_batch(&format!("PRAGMA key = {};", key.pragma_value()))?;
        // SQLCipher would print its own diagnostics (e.g. "hmac check failed") to
        // stderr on a wrong key; our error says it in plain words instead. The
        // level is process-wide and must be set after the codec is activated.
        conn.query_row("PRAGMA cipher_log_level = NONE", [], |_| Ok(()))?;
        // The first read proves the key; SQLCipher says "file is not a database" otherwise.
        if conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)).is_err() {
            return Err(StoreError::WrongKey { path: path.display().to_string() });
        }
        persist_wal(&conn);
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrations::migrate(&mut conn).map_err(|e| match e {
            migrations::MigrateError::Newer(found, supported) => {
                StoreError::NewerSchema { path: path.display().to_string(), found, supported }
            }
            migrations::MigrateError::Sql(detail) => open_err(detail),
        })?;
        Ok(Store { conn, path: path.to_path_buf(), sink: None, clock_offset: chrono::Duration::zero() })
    }

    /// Installs the sink that receives committed changes.
    pub fn set_event_sink(&mut self, sink: Arc<dyn EventSink>) {
        self.sink = Some(sink);
    }

    /// Makes this store's clock ([`Store::now`]) read `now` from this moment on and run on in real
    /// time (the CLI's `--now`, tests). Listings use it to tell whether a hold has expired.
    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.clock_offset = now - Utc::now();
    }

    /// The current time (UTC) as this store sees it: the system clock, shifted by [`Store::set_now`].
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn begin(&mut self) -> Result<Transaction<'_>> {
        Ok(self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    fn emit_after_commit(&self, from_seq: i64) -> Result<()> {
        if let Some(sink) = &self.sink {
            for c in self.changes_since(from_seq, i64::MAX)? {
                sink.emit(&c);
            }
        }
        Ok(())
    }

    /// Adds a provider.
    ///
    /// # Errors
    /// [`StoreError::ProviderExists`] when the name (case-insensitive) is taken.
    pub fn add_provider(&mut self, name: &str, tz: Tz, hours: &WorkingHours, slot_minutes: u32, now: DateTime<Utc>) -> Result<Provider> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        if find_provider(&tx, name)?.is_some() {
            return Err(StoreError::ProviderExists(name.to_string()));
        }
        let p = insert_provider(&tx, name, tz, hours, slot_minutes, now)?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(p)
    }

    /// Flags a provider as part of the demo practice.
    pub fn mark_demo(&mut self, provider_id: i64) -> Result<()> {
        self.conn.execute("UPDATE providers SET demo = 1 WHERE id = ?1", [provider_id])?;
        Ok(())
    }

    /// Deletes every demo provider with its feeds, busy time and slots, in
    /// one transaction; returns how many providers were removed.
    pub fn remove_demo(&mut self, now: DateTime<Utc>) -> Result<usize> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let ids: Vec<i64> = tx.prepare("SELECT id FROM providers WHERE demo = 1")?.query_map([], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?;
        for id in &ids {
            tx.execute("DELETE FROM slots WHERE provider_id = ?1", [id])?;
            tx.execute("DELETE FROM busy_blocks WHERE provider_id = ?1", [id])?;
            tx.execute("DELETE FROM sources WHERE provider_id = ?1", [id])?;
            tx.execute("DELETE FROM providers WHERE id = ?1", [id])?;
            log_change(&tx, now, "provider", "remove", None, Some(*id), serde_json::json!({"demo": true}))?;
        }
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(ids.len())
    }

    /// All locations, by name: `(id, name, IANA zone)`.
    pub fn locations(&self) -> Result<Vec<(i64, String, Tz)>> {
        let mut stmt = self.conn.prepare("SELECT id, name, tz FROM locations ORDER BY name COLLATE NOCASE")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?.collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, name, tz)| Ok((id, name, parse_iana(&tz).ok_or_else(|| StoreError::Corrupt(format!("location zone '{tz}'")))?)))
            .collect()
    }

    /// The provider with this name (case-insensitive), if any.
    pub fn provider(&self, name: &str) -> Result<Option<Provider>> {
        find_provider(&self.conn, name)
    }

    /// All providers, by name.
    pub fn providers(&self) -> Result<Vec<Provider>> {
        let mut stmt = self.conn.prepare("SELECT id, name, tz, hours, slot_minutes, demo FROM providers ORDER BY name COLLATE NOCASE")?;
        let rows = stmt.query_map([], provider_from_row)?.collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    /// All sources (feeds), by kind then name.
    pub fn sources(&self) -> Result<Vec<SourceInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.id, s.kind, s.name, p.name, s.last_sync_at, s.sync_minutes, s.covered_from, s.covered_to FROM sources s
             LEFT JOIN providers p ON p.id = s.provider_id ORDER BY s.kind, s.name COLLATE NOCASE, p.name",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    (r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?),
                    (r.get::<_, Option<i64>>(4)?, r.get(5)?, r.get::<_, Option<i64>>(6)?, r.get::<_, Option<i64>>(7)?),
                ))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|((id, kind, name, provider), (last, sync_minutes, from, to))| {
                Ok(SourceInfo {
                    id,
                    kind: kind.parse().map_err(StoreError::Corrupt)?,
                    name,
                    provider,
                    last_sync_at: last.map(from_secs).transpose()?,
                    sync_minutes,
                    covered_from: from.map(from_secs).transpose()?,
                    covered_to: to.map(from_secs).transpose()?,
                })
            })
            .collect()
    }

    /// Applies one parsed calendar file to the feed (provider, `source_name`)
    /// in one transaction: creates the provider if missing (with
    /// `provider.tz_if_new`), upserts every instance, and removes only
    /// instances of events the file no longer contains, plus instances inside
    /// `window` that a readable event no longer produces. Instances of events
    /// the file contains but could not read (`parsed.unreadable_uids`) are kept.
    ///
    /// # Errors
    /// [`StoreError::UnknownProvider`] when the provider is missing and no zone
    /// was given; SQLite errors roll everything back.
    pub fn import_ics(
        &mut self,
        provider: &ProviderRef,
        source_name: &str,
        window: Interval,
        parsed: &IcsImport,
        now: DateTime<Utc>,
    ) -> Result<(Provider, ImportOutcome)> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let prov = ensure_provider(&tx, provider, now)?;
        let source_id = ensure_source(&tx, SourceKind::Ics, source_name, Some(prov.id))?;
        let seq = log_change(&tx, now, "busy", "import", Some(source_id), Some(prov.id), serde_json::json!({}))?;
        let rows: Vec<FeedRow> = parsed.instances.iter().map(busy_feed_row).collect();
        let known: BTreeSet<&str> = parsed.read_uids.iter().chain(parsed.unreadable_uids.iter()).map(String::as_str).collect();
        let outcome = sync_feed(&tx, Table::Busy, source_id, prov.id, seq, &rows, |old, in_new| {
            let uid = old.group.as_deref().unwrap_or_default();
            !known.contains(uid) || (parsed.read_uids.contains(uid) && !in_new && old.span.overlaps(&window))
        })?;
        finish_import(&tx, seq, source_id, now, window, &outcome)?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok((prov, outcome))
    }

    /// Applies published open slots from one spreadsheet to the source
    /// `source_name` in one transaction. Providers and locations named in the
    /// rows are created when missing (zone `tz_if_new`; an existing provider
    /// keeps its zone). When `complete` is true (every row was read), slots of
    /// this source inside `window` that the file no longer lists are removed;
    /// otherwise nothing is removed.
    ///
    /// # Errors
    /// [`StoreError::UnknownProvider`] when a row names a missing provider and
    /// `tz_if_new` is `None`; everything is rolled back.
    pub fn import_slots(
        &mut self,
        source_name: &str,
        tz_if_new: Option<Tz>,
        window: Interval,
        slots: &[NewSlot],
        complete: bool,
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let source_id = ensure_source(&tx, SourceKind::Csv, source_name, None)?;
        let seq = log_change(&tx, now, "slots", "import", Some(source_id), None, serde_json::json!({}))?;
        let mut providers: HashMap<String, Provider> = HashMap::new();
        let mut locations: HashMap<String, i64> = HashMap::new();
        let mut rows = Vec::with_capacity(slots.len());
        for s in slots {
            let key = s.provider.to_lowercase();
            if !providers.contains_key(&key) {
                let p = ensure_provider(&tx, &ProviderRef { name: s.provider.clone(), tz_if_new: s.tz_if_new.or(tz_if_new) }, now)?;
                providers.insert(key.clone(), p);
            }
            let p = &providers[&key];
            let location_id = match &s.location {
                Some(name) => {
                    let lkey = name.to_lowercase();
                    match locations.get(&lkey) {
                        Some(id) => Some(*id),
                        None => {
                            let id = ensure_location(&tx, name, tz_if_new.unwrap_or(p.tz))?;
                            locations.insert(lkey, id);
                            Some(id)
                        }
                    }
                }
                None => None,
            };
            rows.push(FeedRow {
                external_id: format!(
                    "{}|{}|{}|{}",
                    p.id,
                    fmt_instant(s.span.start),
                    fmt_instant(s.span.end),
                    s.location.as_deref().unwrap_or("").to_lowercase()
                ),
                span: s.span,
                group: None,
                data: RowData::Slot { provider_id: p.id, location_id, status: s.status, service_type: s.service_type.clone(), remote: None },
            });
        }
        let outcome = sync_feed(&tx, Table::Slots, source_id, 0, seq, &rows, |old, in_new| {
            complete && !in_new && old.span.overlaps(&window)
        })?;
        finish_import(&tx, seq, source_id, now, window, &outcome)?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(outcome)
    }

    /// Busy instances overlapping `window`, sorted by start then UID then
    /// RECURRENCE-ID, optionally for one provider. Not clipped to the window.
    pub fn busy(&self, provider_id: Option<i64>, window: Interval) -> Result<Vec<BusyRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.name, s.name, b.uid, b.recurrence_id, b.start_utc, b.end_utc, b.all_day, b.summary, b.status, b.provider_id
             FROM busy_blocks b JOIN providers p ON p.id = b.provider_id JOIN sources s ON s.id = b.source_id
             WHERE b.start_utc < ?1 AND b.end_utc > ?2 AND (?3 IS NULL OR b.provider_id = ?3)
             ORDER BY b.start_utc, b.uid, b.recurrence_id, b.end_utc, s.name",
        )?;
        let raw = stmt
            .query_map(params![to_secs(window.end), to_secs(window.start), provider_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, bool>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, i64>(9)?,
                ))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        raw.into_iter()
            .map(|(provider, source, uid, rid, s, e, all_day, summary, status, provider_id)| {
                Ok(BusyRow {
                    provider,
                    source,
                    uid,
                    recurrence_id: rid.map(from_secs).transpose()?,
                    start: from_secs(s)?,
                    end: from_secs(e)?,
                    all_day,
                    summary,
                    status: status.parse().map_err(StoreError::Corrupt)?,
                    provider_id,
                })
            })
            .collect()
    }

    /// Published slots overlapping `window`, sorted by start, optionally for one provider. A `free`
    /// slot held for a waiting patient ([`holds`]) whose hold has not expired at [`Store::now`] is
    /// reported `busy-tentative`.
    pub fn published_slots(&self, provider_id: Option<i64>, window: Interval) -> Result<Vec<StoredSlot>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sl.id, sl.provider_id, p.name, l.name, sl.start_utc, sl.end_utc,
                    CASE WHEN h.slot_id IS NOT NULL AND sl.status = 'free' THEN 'busy-tentative' ELSE sl.status END, s.name, sl.service_type
             FROM slots sl JOIN providers p ON p.id = sl.provider_id JOIN sources s ON s.id = sl.source_id
             LEFT JOIN locations l ON l.id = sl.location_id
             LEFT JOIN holds h ON h.slot_id = sl.id AND h.expires_at > ?4
             WHERE sl.start_utc < ?1 AND sl.end_utc > ?2 AND (?3 IS NULL OR sl.provider_id = ?3) AND sl.removed_seq IS NULL
             ORDER BY sl.start_utc, p.name, sl.id",
        )?;
        let raw = stmt
            .query_map(params![to_secs(window.end), to_secs(window.start), provider_id, to_secs(self.now())], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        raw.into_iter()
            .map(|(id, provider_id, provider, location, s, e, status, source, service_type)| {
                Ok(StoredSlot {
                    id,
                    provider_id,
                    provider,
                    location,
                    span: Interval::new(from_secs(s)?, from_secs(e)?).ok_or_else(|| StoreError::Corrupt(format!("slot {id} ends before it starts")))?,
                    status: status.parse().map_err(|e: crate::model::UnknownSlotStatus| StoreError::Corrupt(e.to_string()))?,
                    source,
                    service_type,
                })
            })
            .collect()
    }

    /// For each provider with at least one calendar feed (whose availability
    /// is the working-hours grid minus busy time), the periods its feeds'
    /// imports have covered, `[from, to)` UTC, one per feed. Outside them
    /// nothing is known, so no slot is offered there.
    pub fn calendar_coverage(&self) -> Result<HashMap<i64, Vec<Interval>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT provider_id, covered_from, covered_to FROM sources
             WHERE kind = 'ics' AND provider_id IS NOT NULL AND covered_from IS NOT NULL AND covered_to IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?.collect::<std::result::Result<Vec<_>, _>>()?;
        let mut out: HashMap<i64, Vec<Interval>> = HashMap::new();
        for (pid, from, to) in rows {
            if let Some(iv) = Interval::new(from_secs(from)?, from_secs(to)?) {
                out.entry(pid).or_default().push(iv);
            }
        }
        Ok(out)
    }

    /// True when `path` is this database's own file or its `-wal`/`-shm`
    /// companion. Such a file must never be opened by anything else in this
    /// process: on POSIX systems closing any descriptor of it drops the
    /// process's SQLite locks (SQLite, "How To Corrupt An SQLite Database
    /// File", §2.2.1). Compared by canonical path, without opening it.
    pub fn is_own_file(&self, path: &Path) -> bool {
        let Ok(own) = std::fs::canonicalize(&self.path) else { return false };
        let Ok(other) = std::fs::canonicalize(path) else { return false };
        let own = own.as_os_str().to_owned();
        [own.clone(), { let mut w = own.clone(); w.push("-wal"); w }, { let mut s = own; s.push("-shm"); s }].iter().any(|p| p == other.as_os_str())
    }

    /// SQLite's `PRAGMA integrity_check` of the open file: `["ok"]` when the
    /// database is consistent, otherwise one line per problem found (at most 100).
    ///
    /// # Errors
    /// SQLite errors (e.g. the file cannot be read at all).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The JSON document saved under `key` in `desk_settings` (migration 10), `None` when none was saved.
    ///
    /// # Errors
    /// Store errors.
    pub fn desk_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT value FROM desk_settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    /// Saves the JSON document `value` under `key` in `desk_settings`, replacing the one there.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when `value` is not JSON; store errors.
    pub fn set_desk_setting(&mut self, key: &str, value: &str, now: DateTime<Utc>) -> Result<()> {
        if serde_json::from_str::<serde_json::Value>(value).is_err() {
            return Err(StoreError::Invalid(format!("the setting '{key}' is not a JSON document")));
        }
        self.conn.execute(
            "INSERT INTO desk_settings (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![key, value, to_secs(now)],
        )?;
        Ok(())
    }

    /// The highest change sequence number, 0 for an empty log.
    pub fn last_change_seq(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT IFNULL(MAX(seq), 0) FROM changes", [], |r| r.get(0))?)
    }

    /// Changes with `seq > after`, oldest first, at most `limit`.
    pub fn changes_since(&self, after: i64, limit: i64) -> Result<Vec<Change>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at, entity, op, source_id, provider_id, detail FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let raw = stmt
            .query_map(params![after, limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get::<_, String>(6)?))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        raw.into_iter()
            .map(|(seq, at, entity, op, source_id, provider_id, detail)| {
                Ok(Change {
                    seq,
                    at: from_secs(at)?,
                    entity,
                    op,
                    source_id,
                    provider_id,
                    detail: serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// Direct access for tests and benchmarks inside the crate.
    #[cfg(test)]
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Keeps the `-wal` and `-shm` files when a connection closes
/// (`SQLITE_FCNTL_PERSIST_WAL`). The app, the CLI and a sync service share the
/// file: if the last-closing process deleted them while another still had them
/// open (possible when locks were lost, see [`Store::is_own_file`]), that other
/// process would go on writing into a deleted file.
fn persist_wal(conn: &Connection) {
    let mut on: std::os::raw::c_int = 1;
    // SAFETY: `handle` is the live connection's pointer; the file-control call
    // only reads the int we pass for the duration of the call.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&mut on as *mut std::os::raw::c_int).cast(),
        )
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        tracing::warn!(rc, "could not keep the write-ahead log files between connections");
    }
}

fn provider_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Provider>> {
    let (id, name, tz, hours, slot_minutes, demo): (i64, String, String, String, u32, bool) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
    Ok((|| {
        Ok(Provider {
            id,
            tz: parse_iana(&tz).ok_or_else(|| StoreError::Corrupt(format!("provider '{name}' has zone '{tz}'")))?,
            hours: WorkingHours::parse(&hours).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            name,
            slot_minutes,
            demo,
        })
    })())
}

fn find_provider(conn: &Connection, name: &str) -> Result<Option<Provider>> {
    let mut stmt = conn.prepare_cached("SELECT id, name, tz, hours, slot_minutes, demo FROM providers WHERE name = ?1 COLLATE NOCASE")?;
    stmt.query_row([name.trim()], provider_from_row).optional()?.transpose()
}

fn insert_provider(tx: &Transaction<'_>, name: &str, tz: Tz, hours: &WorkingHours, slot_minutes: u32, now: DateTime<Utc>) -> Result<Provider> {
    tx.execute(
        "INSERT INTO providers (name, tz, hours, slot_minutes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name.trim(), tz.name(), hours.to_spec(), slot_minutes, to_secs(now)],
    )?;
    let id = tx.last_insert_rowid();
    log_change(tx, now, "provider", "add", None, Some(id), serde_json::json!({}))?;
    Ok(Provider { id, name: name.trim().to_string(), tz, hours: hours.clone(), slot_minutes, demo: false })
}

/// Finds the provider or creates it (default hours and slot length) in `tx`;
/// the creation is logged by [`insert_provider`].
fn ensure_provider(tx: &Transaction<'_>, r: &ProviderRef, now: DateTime<Utc>) -> Result<Provider> {
    if let Some(p) = find_provider(tx, &r.name)? {
        return Ok(p);
    }
    let tz = r.tz_if_new.ok_or_else(|| StoreError::UnknownProvider(r.name.clone()))?;
    insert_provider(tx, &r.name, tz, &WorkingHours::default_week(), 30, now)
}

fn ensure_location(tx: &Transaction<'_>, name: &str, tz: Tz) -> Result<i64> {
    tx.execute("INSERT INTO locations (name, tz) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING", params![name.trim(), tz.name()])?;
    Ok(tx.query_row("SELECT id FROM locations WHERE name = ?1 COLLATE NOCASE", [name.trim()], |r| r.get(0))?)
}

fn ensure_source(tx: &Transaction<'_>, kind: SourceKind, name: &str, provider_id: Option<i64>) -> Result<i64> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM sources WHERE kind = ?1 AND name = ?2 AND IFNULL(provider_id, 0) = IFNULL(?3, 0)",
            params![kind.as_str(), name, provider_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    tx.execute("INSERT INTO sources (kind, name, provider_id) VALUES (?1, ?2, ?3)", params![kind.as_str(), name, provider_id])?;
    Ok(tx.last_insert_rowid())
}

fn log_change(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    entity: &str,
    op: &str,
    source_id: Option<i64>,
    provider_id: Option<i64>,
    detail: serde_json::Value,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO changes (at, entity, op, source_id, provider_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![to_secs(now), entity, op, source_id, provider_id, detail.to_string()],
    )?;
    Ok(tx.last_insert_rowid())
}

fn finish_import(tx: &Transaction<'_>, seq: i64, source_id: i64, now: DateTime<Utc>, window: Interval, o: &ImportOutcome) -> Result<()> {
    let detail = serde_json::json!({
        "inserted": o.inserted, "updated": o.updated, "removed": o.removed, "unchanged": o.unchanged,
        "from": fmt_instant(window.start),
        "to": fmt_instant(window.end),
    });
    tx.execute("UPDATE changes SET detail = ?1 WHERE seq = ?2", params![detail.to_string(), seq])?;
    tx.execute(
        "UPDATE sources SET last_sync_at = ?1,
             covered_from = MIN(IFNULL(covered_from, ?3), ?3), covered_to = MAX(IFNULL(covered_to, ?4), ?4)
         WHERE id = ?2",
        params![to_secs(now), source_id, to_secs(window.start), to_secs(window.end)],
    )?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Table {
    Busy,
    Slots,
}

/// Table-specific columns of a row to write.
enum RowData {
    Busy { recurrence_id: Option<i64>, all_day: bool, summary: Option<String>, status: BusyStatus },
    Slot { provider_id: i64, location_id: Option<i64>, status: SlotStatus, service_type: Option<String>, remote: Option<String> },
}

/// A row of a feed to upsert, keyed by (source, external id).
struct FeedRow {
    external_id: String,
    span: Interval,
    /// The calendar event's UID (busy rows), used by the removal rule.
    group: Option<String>,
    data: RowData,
}

impl FeedRow {
    /// Everything stored except keys, as one comparable string; must equal
    /// the SQL expression [`fingerprint_sql`] for the same row.
    fn fingerprint(&self) -> String {
        let (s, e) = (to_secs(self.span.start), to_secs(self.span.end));
        match &self.data {
            RowData::Busy { all_day, summary, status, .. } => {
                format!("{s}|{e}|{}|{}|{}", i32::from(*all_day), summary.as_deref().unwrap_or(""), status.code())
            }
            RowData::Slot { provider_id, location_id, status, service_type, remote } => format!(
                "{s}|{e}|{provider_id}|{}|{}|{}|{}",
                location_id.map(|l| l.to_string()).unwrap_or_default(),
                status.code(),
                service_type.as_deref().unwrap_or(""),
                remote.as_deref().unwrap_or("")
            ),
        }
    }
}

fn fingerprint_sql(table: Table) -> &'static str {
    match table {
        Table::Busy => "start_utc||'|'||end_utc||'|'||all_day||'|'||IFNULL(summary,'')||'|'||status",
        Table::Slots => {
            "start_utc||'|'||end_utc||'|'||provider_id||'|'||IFNULL(location_id,'')||'|'||status||'|'||IFNULL(service_type,'')||'|'||IFNULL(remote,'')"
        }
    }
}

fn busy_feed_row(i: &BusyInstance) -> FeedRow {
    let external_id = match i.recurrence_id {
        None => i.uid.clone(),
        Some(rid) => format!("{}/RECURRENCE-ID={}", i.uid, rid.format("%Y%m%dT%H%M%SZ")),
    };
    FeedRow {
        external_id,
        span: i.span,
        group: Some(i.uid.clone()),
        data: RowData::Busy { recurrence_id: i.recurrence_id.map(to_secs), all_day: i.all_day, summary: i.summary.clone(), status: i.status },
    }
}

/// An existing row as the removal rule sees it.
struct OldRow {
    id: i64,
    span: Interval,
    group: Option<String>,
    fingerprint: String,
    /// A slot the source stopped listing, kept in history (`slots.removed_seq` set).
    removed: bool,
}

/// Upserts `rows` into `table` for `source_id` and deletes the old rows for
/// which `remove(old, still_listed)` is true. Counts what happened.
fn sync_feed(
    tx: &Transaction<'_>,
    table: Table,
    source_id: i64,
    provider_id: i64,
    seq: i64,
    rows: &[FeedRow],
    remove: impl Fn(&OldRow, bool) -> bool,
) -> Result<ImportOutcome> {
    let (tname, group_col, removed_col) = match table {
        Table::Busy => ("busy_blocks", "uid", "NULL"),
        Table::Slots => ("slots", "NULL", "removed_seq"),
    };
    let mut old: HashMap<String, OldRow> = HashMap::new();
    {
        let mut stmt = tx.prepare(&format!(
            "SELECT id, external_id, start_utc, end_utc, {group_col}, {}, {removed_col} IS NOT NULL FROM {tname} WHERE source_id = ?1",
            fingerprint_sql(table)
        ))?;
        let mut q = stmt.query([source_id])?;
        while let Some(r) = q.next()? {
            let (id, ext, s, e): (i64, String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let span = Interval::new(from_secs(s)?, from_secs(e)?).ok_or_else(|| StoreError::Corrupt(format!("{tname} {id} ends before it starts")))?;
            old.insert(ext, OldRow { id, span, group: r.get(4)?, fingerprint: r.get(5)?, removed: r.get(6)? });
        }
    }
    let mut out = ImportOutcome { source_id, inserted: 0, updated: 0, removed: 0, unchanged: 0 };
    let mut listed: HashSet<&str> = HashSet::with_capacity(rows.len());
    {
        let (mut ins, mut upd) = match table {
            Table::Busy => (
                tx.prepare_cached(
                    "INSERT INTO busy_blocks (source_id, provider_id, external_id, uid, recurrence_id, start_utc, end_utc, all_day, summary, status, updated_seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?,
                tx.prepare_cached(
                    "UPDATE busy_blocks SET start_utc = ?2, end_utc = ?3, all_day = ?4, summary = ?5, status = ?6, updated_seq = ?7 WHERE id = ?1",
                )?,
            ),
            Table::Slots => (
                tx.prepare_cached(
                    "INSERT INTO slots (source_id, provider_id, location_id, external_id, start_utc, end_utc, status, service_type, updated_seq, remote)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?,
                tx.prepare_cached(
                    "UPDATE slots SET start_utc = ?2, end_utc = ?3, provider_id = ?4, location_id = ?5, status = ?6, service_type = ?7, updated_seq = ?8, remote = ?9,
                         removed_seq = NULL
                     WHERE id = ?1",
                )?,
            ),
        };
        for row in rows {
            if !listed.insert(row.external_id.as_str()) {
                continue; // the same instance twice in one file: first one wins
            }
            let (s, e) = (to_secs(row.span.start), to_secs(row.span.end));
            match (old.get(&row.external_id), &row.data) {
                (Some(o), _) if o.fingerprint == row.fingerprint() && !o.removed => out.unchanged += 1,
                (Some(o), RowData::Busy { all_day, summary, status, .. }) => {
                    upd.execute(params![o.id, s, e, all_day, summary, status.code(), seq])?;
                    out.updated += 1;
                }
                (Some(o), RowData::Slot { provider_id, location_id, status, service_type, remote }) => {
                    upd.execute(params![o.id, s, e, provider_id, location_id, status.code(), service_type, seq, remote])?;
                    out.updated += 1;
                }
                (None, RowData::Busy { recurrence_id, all_day, summary, status }) => {
                    let uid = row.group.as_deref().unwrap_or_default();
                    ins.execute(params![source_id, provider_id, row.external_id, uid, recurrence_id, s, e, all_day, summary, status.code(), seq])?;
                    out.inserted += 1;
                }
                (None, RowData::Slot { provider_id, location_id, status, service_type, remote }) => {
                    ins.execute(params![source_id, provider_id, location_id, row.external_id, s, e, status.code(), service_type, seq, remote])?;
                    out.inserted += 1;
                }
            }
        }
    }
    // Busy time the calendar no longer has is deleted; a slot the source no longer lists is kept
    // in history (`removed_seq` = the change-log entry that removed it, which has the time) and
    // left out of every listing; it comes back if the source lists it again.
    let mut del = match table {
        Table::Busy => tx.prepare_cached("DELETE FROM busy_blocks WHERE id = ?1")?,
        Table::Slots => tx.prepare_cached("UPDATE slots SET removed_seq = ?2, updated_seq = ?2 WHERE id = ?1")?,
    };
    for (ext, o) in &old {
        if !o.removed && remove(o, listed.contains(ext.as_str())) {
            match table {
                Table::Busy => del.execute([o.id])?,
                Table::Slots => del.execute([o.id, seq])?,
            };
            out.removed += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
