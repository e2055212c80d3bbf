//! Offer and book in the store (issue "Cancellation fill"): holds on free slots while staff call a
//! waiting patient, the audit log of who saw or did what, openings detected by syncs, and fills.
//! Tables of migration 9 (see its comment).
//!
//! Rules:
//! * A **hold** is a row of `holds`, never a change of the slot's own status: a sync, change feed
//!   or webhook rewrites `slots.status` from the source and leaves `holds` alone, so it cannot wipe
//!   a hold, and nothing in `holds` is ever sent to the source. [`Store::published_slots`] (and so
//!   every listing) reports a `free` slot with a hold that has not expired at [`Store::now`] as
//!   FHIR `busy-tentative`. An expired hold stops counting at once (the comparison is made when
//!   reading) and its row is deleted the next time a hold is placed or released.
//! * At most one hold per slot; a slot that is not free, already held, or has a booking from this
//!   desk under way cannot be held ([`StoreError::SlotNotFree`]). A held slot can be booked from
//!   this desk only for the held patient's id in the slot's system (see [`Store::claim_booking`]).
//! * The **audit** log (`audit`) records the time (UTC), the staff member's name given at the desk,
//!   the operating-system user, the action (`view`, `offer`, `book`, `release`), the slot id and the
//!   waitlist id: never a patient's name, phone or e-mail.
//! * An **opening** is recorded by the store's one slot write path (sync, change feed, webhook:
//!   `write_slots_in`) when a slot of an integration that starts after `now` was `busy` in the cache,
//!   or had stopped being listed by its source (kept in history, `slots.removed_seq`: FHIR searches
//!   ask for `status=free`, so a slot booked at the source simply drops out of them), and the source
//!   now lists it `free`. A desk booking the source does not show yet stays busy and is not an
//!   opening. A slot first seen free is not an opening, nor is one that was only `busy-tentative`
//!   (a booking from this desk that did not land) or `busy-unavailable`.
//! * A **fill** is a booking made through an offer; it is linked to the slot's latest opening not
//!   yet filled, detected at or before the booking, which gives the time to fill.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use super::{from_secs, log_change, to_secs, Result, Store, StoreError};
use crate::model::SlotStatus;
use crate::time::ser_instant;

/// Who is acting at the desk: the staff member's name as given there (`--staff`,
/// `MEDHARMONY_STAFF`) and the operating-system user (`USER` / `USERNAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The staff member's name, or `unknown` for a view when none was given.
    pub staff: String,
    /// The operating-system user, or `unknown`.
    pub os_user: String,
}

/// The name of the computer account this process runs as, from the system's user database
/// (for sessions without `USER`, such as services), `None` when it has none.
#[cfg(unix)]
fn account_name() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes only into `pwd` and `buf` (whose length it is given) and sets
    // `result` to `&mut pwd` or null; `pw_name` then points into `buf`, which outlives its use.
    let rc = unsafe { libc::getpwuid_r(libc::geteuid(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string inside `buf` (see above).
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }.to_string_lossy().trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// Elsewhere only the environment names the account.
#[cfg(not(unix))]
fn account_name() -> Option<String> {
    None
}

impl Actor {
    /// The staff name recorded when none was given (views only).
    pub const UNKNOWN: &'static str = "unknown";

    /// `staff` (trimmed; `unknown` when absent or blank) with the operating-system user from the
    /// environment (`USER`, else `USERNAME`, else `unknown`).
    pub fn from_env(staff: Option<&str>) -> Actor {
        let os_user = ["USER", "LOGNAME", "USERNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
            .or_else(account_name)
            .unwrap_or_else(|| Self::UNKNOWN.to_string());
        let staff = staff.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(Self::UNKNOWN).to_string();
        Actor { staff, os_user }
    }

    /// True when a staff name was given (offer, book and release need one).
    pub fn is_named(&self) -> bool {
        self.staff != Self::UNKNOWN
    }
}

/// What an audit row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    /// A patient's details were shown (waitlist list, suggest, options).
    View,
    /// A slot was held for a patient.
    Offer,
    /// A held slot was booked for the patient.
    Book,
    /// A hold was released.
    Release,
}

impl AuditAction {
    /// The stored code: `view`, `offer`, `book`, `release`.
    pub fn code(self) -> &'static str {
        match self {
            AuditAction::View => "view",
            AuditAction::Offer => "offer",
            AuditAction::Book => "book",
            AuditAction::Release => "release",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [AuditAction::View, AuditAction::Offer, AuditAction::Book, AuditAction::Release].into_iter().find(|a| a.code() == s)
    }
}

/// One audit row as `medharmony audit --json` prints it:
/// `{"at","staff","os_user","action","slot","patient_id"}` (`slot` as `slot-<n>` or null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When (UTC).
    #[serde(serialize_with = "ser_instant")]
    pub at: DateTime<Utc>,
    /// Staff member's name given at the desk, or `unknown`.
    pub staff: String,
    /// Operating-system user.
    pub os_user: String,
    /// What was done.
    pub action: AuditAction,
    /// The slot, `slot-<store id>`, when the action concerns one.
    pub slot: Option<String>,
    /// The waitlist id of the patient, when the action concerns one.
    pub patient_id: Option<i64>,
}

/// A hold on a slot for a waiting patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// The slot, `slot-<store id>`.
    pub slot: String,
    /// The slot's store id.
    #[serde(skip)]
    pub slot_id: i64,
    /// The patient's waitlist id.
    pub patient_id: i64,
    /// The patient's id in the slot's system, once known (never shown in logs).
    #[serde(skip)]
    pub patient_ref: Option<String>,
    /// Staff member who placed it.
    pub staff: String,
    /// When it was placed (UTC).
    #[serde(serialize_with = "ser_instant")]
    pub held_at: DateTime<Utc>,
    /// When it stops counting (UTC, exclusive).
    #[serde(serialize_with = "ser_instant")]
    pub expires_at: DateTime<Utc>,
}

impl Hold {
    /// True while the hold counts at `now` (`now < expires_at`).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// Fill figures of one provider (or all) over [`FillStats`]' period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderFillStats {
    /// Provider name (`All providers` for the total).
    pub provider: String,
    /// Openings detected (slots that became free after being busy).
    pub openings: u32,
    /// Bookings made through an offer.
    pub filled: u32,
    /// Median minutes from an opening's detection to its booking, over the fills linked to an
    /// opening; `None` when there is none.
    pub median_minutes_to_fill: Option<f64>,
}

/// `medharmony fill-stats`: openings detected and fills in `[from, to)`, by provider (by name), with the total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillStats {
    /// Start of the period (UTC): `to` − 30 days.
    #[serde(serialize_with = "ser_instant")]
    pub from: DateTime<Utc>,
    /// End of the period (UTC, exclusive): now.
    #[serde(serialize_with = "ser_instant")]
    pub to: DateTime<Utc>,
    /// Per provider with any opening or fill in the period.
    pub providers: Vec<ProviderFillStats>,
    /// All providers together.
    pub total: ProviderFillStats,
}

/// How many days [`Store::fill_stats`] looks back (30).
pub const FILL_STATS_DAYS: i64 = 30;

/// External ids of `source_id`'s slots that are `busy` in the cache now or that its source stopped listing.
pub(super) fn busy_before(tx: &Transaction<'_>, source_id: i64) -> Result<HashSet<String>> {
    let mut stmt = tx.prepare_cached("SELECT external_id FROM slots WHERE source_id = ?1 AND (status = 'busy' OR removed_seq IS NOT NULL)")?;
    let rows = stmt.query_map([source_id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Records an opening for each of `external_ids` of `source_id` (written by change `seq`).
pub(super) fn record_openings(tx: &Transaction<'_>, source_id: i64, external_ids: &[&str], seq: i64, now: DateTime<Utc>) -> Result<()> {
    let mut seen = HashSet::new();
    let mut ins = tx.prepare_cached(
        "INSERT INTO openings (slot_id, provider_id, detected_at, change_seq)
         SELECT id, provider_id, ?3, ?4 FROM slots WHERE source_id = ?1 AND external_id = ?2",
    )?;
    for ext in external_ids {
        if seen.insert(*ext) {
            ins.execute(params![source_id, ext, to_secs(now), seq])?;
        }
    }
    if !seen.is_empty() {
        tracing::info!(source = source_id, openings = seen.len(), "openings detected");
    }
    Ok(())
}

/// False when `slot_id` has a hold active at `now` for a patient whose id in the slot's system is
/// not `patient_ref` (or not yet known).
pub(super) fn hold_allows(tx: &Transaction<'_>, slot_id: i64, patient_ref: &str, now: DateTime<Utc>) -> Result<bool> {
    let held: Option<Option<String>> = tx
        .query_row("SELECT patient_ref FROM holds WHERE slot_id = ?1 AND expires_at > ?2", params![slot_id, to_secs(now)], |r| r.get(0))
        .optional()?;
    Ok(match held {
        None => true,
        Some(r) => r.as_deref() == Some(patient_ref),
    })
}

fn audit_in(conn: &rusqlite::Connection, action: AuditAction, actor: &Actor, slot_id: Option<i64>, patient: Option<i64>, now: DateTime<Utc>) -> Result<()> {
    conn.execute(
        "INSERT INTO audit (at, staff, os_user, action, slot_id, waitlist_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![to_secs(now), actor.staff, actor.os_user, action.code(), slot_id, patient],
    )?;
    Ok(())
}

fn hold_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, i64, Option<String>, String, i64, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn to_hold((slot_id, patient_id, patient_ref, staff, held, expires): (i64, i64, Option<String>, String, i64, i64)) -> Result<Hold> {
    Ok(Hold { slot: format!("slot-{slot_id}"), slot_id, patient_id, patient_ref, staff, held_at: from_secs(held)?, expires_at: from_secs(expires)? })
}

const HOLD_COLUMNS: &str = "slot_id, waitlist_id, patient_ref, staff, held_at, expires_at";

impl Store {
    /// The hold on slot `slot_id`, expired or not, or `None`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn hold_of(&self, slot_id: i64) -> Result<Option<Hold>> {
        let row = self
            .conn
            .query_row(&format!("SELECT {HOLD_COLUMNS} FROM holds WHERE slot_id = ?1"), [slot_id], hold_from_row)
            .optional()?;
        row.map(to_hold).transpose()
    }

    /// Holds slot `slot_id` for waitlist patient `patient_id` from `now` for `minutes` minutes (at
    /// least 1), recording `patient_ref` (the patient's id in the slot's system, if known) and an
    /// `offer` audit row, in one transaction. Expired holds are deleted first.
    ///
    /// # Errors
    /// [`StoreError::SlotNotFree`] when the slot is not `free` in the cache, already held, or has a
    /// booking from this desk on record; [`StoreError::Corrupt`] for an unknown slot or patient
    /// (check them first); SQLite errors.
    pub fn place_hold(
        &mut self,
        slot_id: i64,
        patient_id: i64,
        patient_ref: Option<&str>,
        minutes: i64,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Hold> {
        let expires = now + Duration::minutes(minutes.max(1));
        let tx = self.begin()?;
        tx.execute("DELETE FROM holds WHERE expires_at <= ?1", [to_secs(now)])?;
        let slot: Option<(String, i64, String)> = tx
            .query_row("SELECT status, source_id, external_id FROM slots WHERE id = ?1 AND removed_seq IS NULL", [slot_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((status, source_id, external_id)) = slot else { return Err(StoreError::Corrupt(format!("slot {slot_id} does not exist"))) };
        let held: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM holds WHERE slot_id = ?1)", [slot_id], |r| r.get(0))?;
        let booking: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM bookings WHERE source_id = ?1 AND slot_external_id = ?2)",
            params![source_id, external_id],
            |r| r.get(0),
        )?;
        if status != SlotStatus::Free.code() || held || booking {
            return Err(StoreError::SlotNotFree(slot_id));
        }
        tx.execute(
            &format!("INSERT INTO holds ({HOLD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![slot_id, patient_id, patient_ref, actor.staff, to_secs(now), to_secs(expires)],
        )?;
        audit_in(&tx, AuditAction::Offer, actor, Some(slot_id), Some(patient_id), now)?;
        tx.commit()?;
        Ok(Hold {
            slot: format!("slot-{slot_id}"),
            slot_id,
            patient_id,
            patient_ref: patient_ref.map(str::to_string),
            staff: actor.staff.clone(),
            held_at: now,
            expires_at: expires,
        })
    }

    /// Records the patient's id in the slot's system on the hold of `slot_id` (before booking it).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_hold_patient_ref(&mut self, slot_id: i64, patient_ref: &str) -> Result<()> {
        self.conn.execute("UPDATE holds SET patient_ref = ?2 WHERE slot_id = ?1", params![slot_id, patient_ref])?;
        Ok(())
    }

    /// Releases the hold on `slot_id` if it is active at `now`, with a `release` audit row, and
    /// returns it; `None` (nothing recorded) when there is no active hold. Expired holds are deleted.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn release_hold(&mut self, slot_id: i64, actor: &Actor, now: DateTime<Utc>) -> Result<Option<Hold>> {
        let tx = self.begin()?;
        tx.execute("DELETE FROM holds WHERE expires_at <= ?1", [to_secs(now)])?;
        let row = tx.query_row(&format!("SELECT {HOLD_COLUMNS} FROM holds WHERE slot_id = ?1"), [slot_id], hold_from_row).optional()?;
        let Some(row) = row else {
            tx.commit()?;
            return Ok(None);
        };
        let hold = to_hold(row)?;
        tx.execute("DELETE FROM holds WHERE slot_id = ?1", [slot_id])?;
        audit_in(&tx, AuditAction::Release, actor, Some(slot_id), Some(hold.patient_id), now)?;
        tx.commit()?;
        Ok(Some(hold))
    }

    /// Drops the hold on `slot_id` without an audit row (the slot was found taken at its source).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn drop_hold(&mut self, slot_id: i64) -> Result<()> {
        self.conn.execute("DELETE FROM holds WHERE slot_id = ?1", [slot_id])?;
        Ok(())
    }

    /// Records a booking made through the offer `hold`, in one transaction: the hold is deleted, a
    /// fill is recorded (linked to the slot's latest unfilled opening detected at or before `now`),
    /// the patient is taken off the waitlist (change log: `waitlist` `remove` with `{"id", "booked": true}`;
    /// the fill and the audit keep the history by id), and a `book` audit row is written. Any other
    /// time still held for the same patient is released, with a `release` audit row each.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn finish_offer(&mut self, hold: &Hold, appointment_id: &str, actor: &Actor, now: DateTime<Utc>) -> Result<()> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let provider_id: i64 = tx.query_row("SELECT provider_id FROM slots WHERE id = ?1", [hold.slot_id], |r| r.get(0))?;
        let opening: Option<i64> = tx
            .query_row(
                "SELECT o.id FROM openings o WHERE o.slot_id = ?1 AND o.detected_at <= ?2
                   AND NOT EXISTS (SELECT 1 FROM fills f WHERE f.opening_id = o.id)
                 ORDER BY o.detected_at DESC, o.id DESC LIMIT 1",
                params![hold.slot_id, to_secs(now)],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "INSERT INTO fills (slot_id, provider_id, waitlist_id, opening_id, appointment_id, booked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![hold.slot_id, provider_id, hold.patient_id, opening, appointment_id, to_secs(now)],
        )?;
        tx.execute("DELETE FROM holds WHERE slot_id = ?1", [hold.slot_id])?;
        // Other times held for the same patient are released now (they are booked elsewhere),
        // each with its own audit row, rather than vanishing with the waitlist entry.
        let others: Vec<i64> = {
            let mut stmt = tx.prepare("SELECT slot_id FROM holds WHERE waitlist_id = ?1 AND expires_at > ?2")?;
            let rows = stmt.query_map(params![hold.patient_id, to_secs(now)], |r| r.get(0))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        for slot in others {
            tx.execute("DELETE FROM holds WHERE slot_id = ?1", [slot])?;
            audit_in(&tx, AuditAction::Release, actor, Some(slot), Some(hold.patient_id), now)?;
        }
        if tx.execute("DELETE FROM waitlist WHERE id = ?1", [hold.patient_id])? > 0 {
            log_change(&tx, now, "waitlist", "remove", None, None, serde_json::json!({ "id": hold.patient_id, "booked": true }))?;
        }
        audit_in(&tx, AuditAction::Book, actor, Some(hold.slot_id), Some(hold.patient_id), now)?;
        tx.commit()?;
        self.emit_after_commit(before)
    }

    /// Marks slot `slot_id` `busy` in the cache (its source says it is taken, or no longer lists it)
    /// and drops any hold on it, with a change-log entry (`slots` `taken`).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn mark_slot_taken(&mut self, slot_id: i64, now: DateTime<Utc>) -> Result<()> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let (source_id, provider_id): (i64, i64) =
            tx.query_row("SELECT source_id, provider_id FROM slots WHERE id = ?1", [slot_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let seq = log_change(&tx, now, "slots", "taken", Some(source_id), Some(provider_id), serde_json::json!({ "slot": slot_id, "status": "busy" }))?;
        tx.execute("UPDATE slots SET status = 'busy', updated_seq = ?2 WHERE id = ?1", params![slot_id, seq])?;
        tx.execute("DELETE FROM holds WHERE slot_id = ?1", [slot_id])?;
        tx.commit()?;
        self.emit_after_commit(before)
    }

    /// Appends an audit row (used for views; offer, book and release write theirs themselves).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn record_audit(&self, action: AuditAction, actor: &Actor, slot_id: Option<i64>, patient_id: Option<i64>, now: DateTime<Utc>) -> Result<()> {
        audit_in(&self.conn, action, actor, slot_id, patient_id, now)
    }

    /// Audit rows at or after `since` (all when `None`), oldest first.
    ///
    /// # Errors
    /// SQLite errors; [`StoreError::Corrupt`] for an unknown action.
    pub fn audit_since(&self, since: Option<DateTime<Utc>>) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, staff, os_user, action, slot_id, waitlist_id FROM audit WHERE at >= ?1 ORDER BY at, id",
        )?;
        let rows = stmt
            .query_map([since.map_or(i64::MIN, to_secs)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, Option<i64>>(4)?, r.get(5)?))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(at, staff, os_user, action, slot, patient_id)| {
                Ok(AuditEntry {
                    at: from_secs(at)?,
                    staff,
                    os_user,
                    action: AuditAction::parse(&action).ok_or_else(|| StoreError::Corrupt(format!("audit action '{action}'")))?,
                    slot: slot.map(|s| format!("slot-{s}")),
                    patient_id,
                })
            })
            .collect()
    }

    /// Openings detected and fills booked in `[now − 30 days, now)`, by provider name, with the
    /// median minutes from an opening to its fill (fills linked to an opening only).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn fill_stats(&self, now: DateTime<Utc>) -> Result<FillStats> {
        let from = now - Duration::days(FILL_STATS_DAYS);
        let (a, b) = (to_secs(from), to_secs(now));
        #[derive(Default)]
        struct Acc {
            openings: u32,
            filled: u32,
            waits: Vec<i64>,
        }
        let mut by: BTreeMap<String, Acc> = BTreeMap::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.name FROM openings o JOIN providers p ON p.id = o.provider_id WHERE o.detected_at >= ?1 AND o.detected_at < ?2",
        )?;
        for name in stmt.query_map(params![a, b], |r| r.get::<_, String>(0))? {
            by.entry(name?).or_default().openings += 1;
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.name, f.booked_at - o.detected_at FROM fills f JOIN providers p ON p.id = f.provider_id
             LEFT JOIN openings o ON o.id = f.opening_id WHERE f.booked_at >= ?1 AND f.booked_at < ?2",
        )?;
        for row in stmt.query_map(params![a, b], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)))? {
            let (name, wait) = row?;
            let acc = by.entry(name).or_default();
            acc.filled += 1;
            acc.waits.extend(wait);
        }
        let stats = |provider: String, openings: u32, filled: u32, waits: &mut Vec<i64>| ProviderFillStats {
            provider,
            openings,
            filled,
            median_minutes_to_fill: median_minutes(waits),
        };
        let mut all = Vec::new();
        let (mut o, mut f) = (0, 0);
        let mut providers = Vec::new();
        for (name, mut acc) in by {
            o += acc.openings;
            f += acc.filled;
            all.extend(acc.waits.iter().copied());
            providers.push(stats(name, acc.openings, acc.filled, &mut acc.waits));
        }
        providers.sort_by_key(|x| x.provider.to_lowercase());
        Ok(FillStats { from, to: now, providers, total: stats("All providers".into(), o, f, &mut all) })
    }

    /// Openings recorded for slot `slot_id`: `(detected_at, filled)`, oldest first (for tests and the app).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn openings_of(&self, slot_id: i64) -> Result<Vec<(DateTime<Utc>, bool)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.detected_at, EXISTS (SELECT 1 FROM fills f WHERE f.opening_id = o.id) FROM openings o WHERE o.slot_id = ?1 ORDER BY o.detected_at, o.id",
        )?;
        let rows = stmt.query_map([slot_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?)))?.collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter().map(|(t, f)| Ok((from_secs(t)?, f))).collect()
    }
}

/// One opening (a synced future slot that became free after being busy), as the app lists and
/// announces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opening {
    /// The opening's id (increasing in detection order).
    pub id: i64,
    /// The slot, `slot-<store id>` (what `suggest --slot` takes).
    pub slot: String,
    /// The provider's display name.
    pub provider: String,
    /// The provider's IANA zone (the slot's times are shown in it).
    pub provider_tz: String,
    /// The location's name, if known.
    pub location: Option<String>,
    /// The slot's start (UTC).
    #[serde(serialize_with = "ser_instant")]
    pub start: DateTime<Utc>,
    /// The slot's end (UTC, exclusive).
    #[serde(serialize_with = "ser_instant")]
    pub end: DateTime<Utc>,
    /// When the desk learnt of it (UTC).
    #[serde(serialize_with = "ser_instant")]
    pub detected_at: DateTime<Utc>,
    /// True when the slot is free in the cache now (not booked again, not removed by its source,
    /// no booking from this desk under way); a held slot is still free.
    pub still_free: bool,
    /// When an active hold for a waiting patient ends (UTC), if there is one.
    #[serde(serialize_with = "crate::time::ser_opt_instant")]
    pub held_until: Option<DateTime<Utc>>,
    /// True when a booking made through an offer filled it.
    pub filled: bool,
}

const OPENING_SELECT: &str = "SELECT o.id, o.slot_id, p.name, p.tz, l.name, sl.start_utc, sl.end_utc, o.detected_at,
            (sl.status = 'free' AND sl.removed_seq IS NULL AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.source_id = sl.source_id AND b.slot_external_id = sl.external_id)),
            (SELECT h.expires_at FROM holds h WHERE h.slot_id = sl.id AND h.expires_at > ?2),
            EXISTS (SELECT 1 FROM fills f WHERE f.opening_id = o.id)
       FROM openings o JOIN slots sl ON sl.id = o.slot_id JOIN providers p ON p.id = o.provider_id
       LEFT JOIN locations l ON l.id = sl.location_id";

fn opening_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, i64, String, String, Option<String>, [i64; 3], bool, Option<i64>, bool)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, [r.get(5)?, r.get(6)?, r.get(7)?], r.get(8)?, r.get(9)?, r.get(10)?))
}

impl Store {
    /// Openings with an id above `after_id`, oldest first, at most `limit` (the app announces
    /// each once; `now` decides which holds are active).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn openings_after(&self, after_id: i64, limit: i64, now: DateTime<Utc>) -> Result<Vec<Opening>> {
        self.query_openings(&format!("{OPENING_SELECT} WHERE o.id > ?1 ORDER BY o.id LIMIT ?3"), params![after_id, to_secs(now), limit])
    }

    /// The latest opening of each slot detected from `since` up to and including `now`, whose slot starts after `now`,
    /// soonest slot first (the app's list of openings to fill).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn recent_openings(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<Opening>> {
        self.query_openings(
            &format!(
                "{OPENING_SELECT} WHERE o.detected_at >= ?1 AND o.detected_at <= ?2 AND sl.start_utc > ?2
                   AND o.id = (SELECT max(o2.id) FROM openings o2 WHERE o2.slot_id = o.slot_id)
                 ORDER BY sl.start_utc, o.id"
            ),
            params![to_secs(since), to_secs(now)],
        )
    }

    /// The highest opening id, 0 when none was ever recorded.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn last_opening_id(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT coalesce(max(id), 0) FROM openings", [], |r| r.get(0))?)
    }

    fn query_openings(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Opening>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(args, opening_from_row)?.collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, slot_id, provider, provider_tz, location, [start, end, detected], still_free, held, filled)| {
                Ok(Opening {
                    id,
                    slot: format!("slot-{slot_id}"),
                    provider,
                    provider_tz,
                    location,
                    start: from_secs(start)?,
                    end: from_secs(end)?,
                    detected_at: from_secs(detected)?,
                    still_free,
                    held_until: held.map(from_secs).transpose()?,
                    filled,
                })
            })
            .collect()
    }
}

/// Median of `secs` in minutes (mean of the two middle values for an even count); `None` when empty.
fn median_minutes(secs: &mut [i64]) -> Option<f64> {
    if secs.is_empty() {
        return None;
    }
    secs.sort_unstable();
    let n = secs.len();
    let m = if n % 2 == 1 { secs[n / 2] as f64 } else { (secs[n / 2 - 1] + secs[n / 2]) as f64 / 2.0 };
    Some(m / 60.0)
}

#[cfg(all(test, unix))]
mod tests {
    use super::account_name;

    #[test]
    fn the_computer_account_is_known_without_user_in_the_environment() {
        // Regression: the audit log said "unknown" for every row when USER was not set (services).
        let out = std::process::Command::new("id").arg("-un").output().expect("id -un");
        let expected = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(!expected.is_empty());
        assert_eq!(account_name(), Some(expected));
    }
}
