//! The waitlist in the store (table `waitlist`, see the migration's comment for the columns).
//!
//! Patient details are written only to the encrypted file. The change log gets
//! one entry per write with the waitlist id alone (`entity` `waitlist`, op `add`,
//! `update`, `remove` or `import` with `{"count": n}`), never a name or contact.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use rusqlite::{OptionalExtension, Transaction};

use super::{from_secs, log_change, to_secs, Result, Store, StoreError};
use crate::fill::model::{LocalWindow, Patient, Preferences, Priority, WaitlistEntry, Wants};
use crate::time::parse_iana;

const COLUMNS: &str = "id, display_name, phone, email, tz, source_ids, service_type, provider, locations, duration_minutes, priority, added_at, \
     blocked_weekdays, blocked_dates, preferred_times, min_notice_hours, latest_date";

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

fn corrupt(id: i64, what: &str) -> StoreError {
    StoreError::Corrupt(format!("waitlist entry {id}: {what}"))
}

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<WaitlistEntry>> {
    let id: i64 = r.get(0)?;
    let (display_name, phone, email, tz): (String, Option<String>, Option<String>, String) = (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
    let (source_ids, service_type, provider, locations): (String, Option<String>, Option<String>, String) =
        (r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?);
    let (duration_minutes, priority, added_at): (Option<u32>, String, i64) = (r.get(9)?, r.get(10)?, r.get(11)?);
    let (weekdays, dates, windows, min_notice_hours, latest): (String, String, String, u32, Option<String>) =
        (r.get(12)?, r.get(13)?, r.get(14)?, r.get(15)?, r.get(16)?);
    Ok((|| {
        let source_ids: BTreeMap<String, String> = serde_json::from_str(&source_ids).map_err(|_| corrupt(id, "patient ids"))?;
        let locations: Vec<String> = serde_json::from_str(&locations).map_err(|_| corrupt(id, "locations"))?;
        let blocked_weekdays: Vec<Weekday> = serde_json::from_str(&weekdays).map_err(|_| corrupt(id, "blocked weekdays"))?;
        let blocked_dates: Vec<NaiveDate> = serde_json::from_str(&dates).map_err(|_| corrupt(id, "blocked dates"))?;
        let preferred_times: Vec<LocalWindow> = serde_json::from_str(&windows).map_err(|_| corrupt(id, "preferred times"))?;
        let latest_date = latest.map(|d| d.parse::<NaiveDate>().map_err(|_| corrupt(id, "latest date"))).transpose()?;
        Ok(WaitlistEntry {
            id,
            patient: Patient {
                display_name,
                phone,
                email,
                tz: parse_iana(&tz).ok_or_else(|| corrupt(id, "time zone"))?,
                source_ids,
                wants: Wants { service_type, provider, locations, duration_minutes },
                priority: priority.parse::<Priority>().map_err(|_| corrupt(id, "priority"))?,
                added_at: from_secs(added_at)?,
                prefs: Preferences { blocked_weekdays, blocked_dates, preferred_times, min_notice_hours, latest_date },
            },
        })
    })())
}

/// The stored columns of a waitlist entry other than `id`, in the order of [`row_values`] (as [`COLUMNS`] reads them, without `id` and with `updated_at`).
const WRITTEN: &str = "display_name, phone, email, tz, source_ids, service_type, provider, locations, duration_minutes, priority, \
     added_at, blocked_weekdays, blocked_dates, preferred_times, min_notice_hours, latest_date, updated_at";

/// `?1, ?2, … ?17`: one placeholder per column of [`WRITTEN`].
fn placeholders() -> String {
    (1..=17).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

/// `p` as the values of [`WRITTEN`], `updated_at` being `now` (UTC seconds).
fn row_values(p: &Patient, now: DateTime<Utc>) -> [rusqlite::types::Value; 17] {
    use rusqlite::types::Value;
    let opt = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    [
        Value::Text(p.display_name.trim().to_string()),
        opt(&p.phone),
        opt(&p.email),
        Value::Text(p.tz.name().to_string()),
        Value::Text(json(&p.source_ids)),
        opt(&p.wants.service_type),
        opt(&p.wants.provider),
        Value::Text(json(&p.wants.locations)),
        p.wants.duration_minutes.map_or(Value::Null, |m| Value::Integer(i64::from(m))),
        Value::Text(p.priority.code().to_string()),
        Value::Integer(to_secs(p.added_at)),
        Value::Text(json(&p.prefs.blocked_weekdays)),
        Value::Text(json(&p.prefs.blocked_dates)),
        Value::Text(json(&p.prefs.preferred_times)),
        Value::Integer(i64::from(p.prefs.min_notice_hours)),
        opt(&p.prefs.latest_date.map(|d| d.format("%Y-%m-%d").to_string())),
        Value::Integer(to_secs(now)),
    ]
}

fn insert(tx: &Transaction<'_>, p: &Patient, now: DateTime<Utc>) -> Result<i64> {
    tx.execute(&format!("INSERT INTO waitlist ({WRITTEN}) VALUES ({})", placeholders()), rusqlite::params_from_iter(row_values(p, now)))?;
    Ok(tx.last_insert_rowid())
}

impl Store {
    /// Puts `patient` on the waitlist and returns the stored entry (with its new id).
    ///
    /// # Errors
    /// SQLite errors (including a schema CHECK: empty name, zero duration).
    pub fn add_waitlist(&mut self, patient: &Patient, now: DateTime<Utc>) -> Result<WaitlistEntry> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let id = insert(&tx, patient, now)?;
        log_change(&tx, now, "waitlist", "add", None, None, serde_json::json!({ "id": id }))?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(WaitlistEntry { id, patient: patient.clone() })
    }

    /// Adds every patient in one transaction: all of them, or (on any error) none.
    /// Returns the new entries in the given order.
    ///
    /// # Errors
    /// SQLite errors; nothing is written then.
    pub fn import_waitlist(&mut self, patients: &[Patient], now: DateTime<Utc>) -> Result<Vec<WaitlistEntry>> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let mut out = Vec::with_capacity(patients.len());
        for p in patients {
            let id = insert(&tx, p, now)?;
            out.push(WaitlistEntry { id, patient: p.clone() });
        }
        log_change(&tx, now, "waitlist", "import", None, None, serde_json::json!({ "count": out.len() }))?;
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(out)
    }

    /// Replaces everything stored for waitlist entry `id` (its date added included) with `patient`.
    /// Returns `false` when there is no such entry.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn update_waitlist(&mut self, id: i64, patient: &Patient, now: DateTime<Utc>) -> Result<bool> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        // Row-value UPDATE (SQLite ≥ 3.15): the same columns and values as an insert.
        let sql = format!("UPDATE waitlist SET ({WRITTEN}) = ({}) WHERE id = ?18", placeholders());
        let n = tx.execute(&sql, rusqlite::params_from_iter(row_values(patient, now).into_iter().chain([rusqlite::types::Value::Integer(id)])))?;
        if n > 0 {
            log_change(&tx, now, "waitlist", "update", None, None, serde_json::json!({ "id": id }))?;
        }
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(n > 0)
    }

    /// Takes entry `id` off the waitlist; `false` when there is no such entry.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn remove_waitlist(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let before = self.last_change_seq()?;
        let tx = self.begin()?;
        let n = tx.execute("DELETE FROM waitlist WHERE id = ?1", [id])?;
        if n > 0 {
            log_change(&tx, now, "waitlist", "remove", None, None, serde_json::json!({ "id": id }))?;
        }
        tx.commit()?;
        self.emit_after_commit(before)?;
        Ok(n > 0)
    }

    /// Waitlist entry `id`, or `None`.
    ///
    /// # Errors
    /// SQLite errors; [`StoreError::Corrupt`] for an unreadable stored value.
    pub fn waitlist_entry(&self, id: i64) -> Result<Option<WaitlistEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM waitlist WHERE id = ?1"))?;
        stmt.query_row([id], entry_from_row).optional()?.transpose()
    }

    /// How many patients are on the waitlist (without reading their details).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn waitlist_count(&self) -> Result<usize> {
        Ok(self.conn.query_row("SELECT count(*) FROM waitlist", [], |r| r.get::<_, i64>(0))? as usize)
    }

    /// The whole waitlist: urgent first, then soon, then routine; within a tier by date added, then id.
    ///
    /// # Errors
    /// SQLite errors; [`StoreError::Corrupt`] for an unreadable stored value.
    pub fn waitlist(&self) -> Result<Vec<WaitlistEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM waitlist
             ORDER BY CASE priority WHEN 'urgent' THEN 0 WHEN 'soon' THEN 1 ELSE 2 END, added_at, id"
        ))?;
        let rows = stmt.query_map([], entry_from_row)?.collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fill::model::parse_windows;
    use crate::store::key::DbKey;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn full_patient() -> Patient {
        let mut p = Patient::new("Ana Example", chrono_tz::Europe::Berlin, t("2026-10-21T08:15:00Z"));
        p.phone = Some("+49 30 1234567".into());
        p.email = Some("ana@example.org".into());
        p.source_ids.insert("Main St Epic".into(), "E1234".into());
        p.source_ids.insert("athena".into(), "42".into());
        p.wants = Wants {
            service_type: Some("Follow-up".into()),
            provider: Some("Dr. Rivera".into()),
            locations: vec!["North".into(), "South".into()],
            duration_minutes: Some(40),
        };
        p.priority = Priority::Soon;
        p.prefs = Preferences {
            blocked_weekdays: vec![Weekday::Sat, Weekday::Sun],
            blocked_dates: vec![NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()],
            preferred_times: parse_windows("08:00-12:00; 18:00-24:00").unwrap(),
            min_notice_hours: 36,
            latest_date: Some(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()),
        };
        p
    }

    #[test]
    fn add_get_list_update_remove_round_trip_on_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let now = t("2026-12-01T12:00:00Z");
        let mut store = Store::open(&path, &DbKey::Raw([7; 32])).unwrap();
        let full = full_patient();
        let a = store.add_waitlist(&full, now).unwrap();
        let b = store.add_waitlist(&Patient { priority: Priority::Urgent, ..Patient::new("Ben", chrono_tz::UTC, t("2026-11-30T00:00:00Z")) }, now).unwrap();
        drop(store);
        // Everything survives closing and reopening the encrypted file.
        let mut store = Store::open(&path, &DbKey::Raw([7; 32])).unwrap();
        assert_eq!(store.waitlist_entry(a.id).unwrap().unwrap(), a);
        assert_eq!(store.waitlist_entry(a.id).unwrap().unwrap().patient, full);
        let ids: Vec<i64> = store.waitlist().unwrap().iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![b.id, a.id], "urgent first");
        let mut changed = full.clone();
        changed.priority = Priority::Routine;
        changed.prefs.preferred_times.clear();
        changed.wants.provider = None;
        assert!(store.update_waitlist(a.id, &changed, now).unwrap());
        assert_eq!(store.waitlist_entry(a.id).unwrap().unwrap().patient, changed);
        assert!(!store.update_waitlist(999, &changed, now).unwrap());
        assert!(store.remove_waitlist(b.id, now).unwrap());
        assert!(!store.remove_waitlist(b.id, now).unwrap());
        assert_eq!(store.waitlist_entry(b.id).unwrap(), None);
        assert_eq!(store.waitlist().unwrap().len(), 1);
        // The change log names ids only, never the patient.
        let log = store.changes_since(0, 100).unwrap();
        let wl: Vec<(String, String)> = log.iter().filter(|c| c.entity == "waitlist").map(|c| (c.op.clone(), c.detail.to_string())).collect();
        assert_eq!(
            wl,
            vec![
                ("add".to_string(), format!("{{\"id\":{}}}", a.id)),
                ("add".to_string(), format!("{{\"id\":{}}}", b.id)),
                ("update".to_string(), format!("{{\"id\":{}}}", a.id)),
                ("remove".to_string(), format!("{{\"id\":{}}}", b.id)),
            ]
        );
        // No plaintext patient detail in the file on disk (SQLCipher encrypts it).
        drop(store);
        let raw = std::fs::read(&path).unwrap();
        let wal = std::fs::read(dir.path().join("w.db-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(11).any(|w| w == b"Ana Example"));
        }
    }

    #[test]
    fn a_failing_import_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let now = t("2026-12-01T12:00:00Z");
        let mut store = Store::open(&dir.path().join("w.db"), &DbKey::Raw([7; 32])).unwrap();
        let good = full_patient();
        // The schema refuses an empty name: the whole batch rolls back.
        let bad = Patient::new("  ", chrono_tz::UTC, now);
        assert!(store.import_waitlist(&[good.clone(), bad], now).is_err());
        assert!(store.waitlist().unwrap().is_empty());
        let added = store.import_waitlist(&[good.clone(), good], now).unwrap();
        assert_eq!(added.len(), 2);
        assert_eq!(store.waitlist().unwrap(), added);
    }
}
