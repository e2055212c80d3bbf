//! The app's state: the database (opened once at start-up), the clock and
//! what the change-log follower needs to open its own connection.
//!
//! * Database file: `MEDHARMONY_DB`, else [`medharmony::store::default_db_path`].
//! * Key: [`resolve_key`] with `MEDHARMONY_DB_KEY` and the OS keychain.
//! * `MEDHARMONY_NOW` (RFC 3339) pretends the current time, for repeatable
//!   end-to-end tests and screenshots.
//!
//! When the database cannot be opened the state still exists, holding the
//! reason: the window opens and shows it instead of crashing.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Datelike, Duration, Local, NaiveDate, Utc};
use medharmony::store::key::{resolve_key, DbKey, KeyError, OsKeychain, KEY_ENV};
use medharmony::store::{default_db_path, Store};

use crate::dto::AppStatus;
use crate::error::DeskError;

/// Environment variable naming the database file.
pub const DB_ENV: &str = "MEDHARMONY_DB";
/// Environment variable that pretends the current time (RFC 3339).
pub const NOW_ENV: &str = "MEDHARMONY_NOW";

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The computer's clock.
    System,
    /// A pretended, fixed instant (`MEDHARMONY_NOW`).
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The clock for a `MEDHARMONY_NOW` value: fixed when it is an RFC 3339
    /// time, the system clock when unset. An unreadable value is ignored with
    /// a warning in the log (it is a test aid, not a user setting).
    pub fn from_env_value(value: Option<&str>) -> Clock {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Clock::System,
            Some(v) => match DateTime::parse_from_rfc3339(v) {
                Ok(t) => Clock::Fixed(t.with_timezone(&Utc)),
                Err(_) => {
                    log::warn!("{NOW_ENV} is not an RFC 3339 time; using the system clock");
                    Clock::System
                }
            },
        }
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }

    /// Today's date at the front desk (the computer's local zone).
    pub fn today(&self) -> NaiveDate {
        self.now().with_timezone(&Local).date_naive()
    }
}

/// Monday of the week containing `d`.
pub fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// The state every command reads (managed by Tauri).
pub struct DeskState {
    db_path: PathBuf,
    clock: Clock,
    key: Option<DbKey>,
    store: Result<Mutex<Store>, String>,
}

impl DeskState {
    /// Opens the database named by the environment (see the module docs).
    /// Never fails: a problem is kept and shown by the UI.
    pub fn from_env() -> DeskState {
        let clock = Clock::from_env_value(std::env::var(NOW_ENV).ok().as_deref());
        let path = std::env::var_os(DB_ENV).filter(|p| !p.is_empty()).map(PathBuf::from).or_else(default_db_path);
        let Some(path) = path else {
            return DeskState::unavailable(
                PathBuf::new(),
                format!("MedHarmony Desk cannot find a folder for its database on this computer; set {DB_ENV} to a file path"),
                clock,
            );
        };
        let key = resolve_key(&path, std::env::var(KEY_ENV).ok().as_deref(), &OsKeychain);
        DeskState::open(path, key, clock)
    }

    /// Opens `db_path` with the resolved `key`; any failure is kept as the
    /// state's problem.
    pub fn open(db_path: PathBuf, key: Result<DbKey, KeyError>, clock: Clock) -> DeskState {
        let key = match key {
            Ok(k) => k,
            Err(e) => return DeskState::unavailable(db_path, e.to_string(), clock),
        };
        match Store::open(&db_path, &key) {
            Ok(store) => DeskState { db_path, clock, key: Some(key), store: Ok(Mutex::new(store)) },
            Err(e) => DeskState::unavailable(db_path, e.to_string(), clock),
        }
    }

    /// A state without a database, holding why.
    pub fn unavailable(db_path: PathBuf, problem: String, clock: Clock) -> DeskState {
        DeskState { db_path, clock, key: None, store: Err(problem) }
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Why the database is not open, if it is not.
    pub fn problem(&self) -> Option<&str> {
        self.store.as_ref().err().map(String::as_str)
    }

    /// Runs `f` with the open store (one command at a time).
    ///
    /// # Errors
    /// [`DeskError::Unavailable`] when the database is not open, or `f`'s error.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, DeskError>) -> Result<T, DeskError> {
        let store = self.store.as_ref().map_err(|p| DeskError::Unavailable(p.clone()))?;
        let mut guard = store.lock().map_err(|_| DeskError::Poisoned)?;
        f(&mut guard)
    }

    /// A second connection to the same database (for the change-log
    /// follower), or `None` when the database is not open.
    ///
    /// # Errors
    /// The store's error when the file cannot be opened again.
    pub fn open_reader(&self) -> Option<Result<Store, DeskError>> {
        let key = self.key.as_ref()?;
        self.store.as_ref().ok()?;
        Some(Store::open(&self.db_path, key).map_err(DeskError::from))
    }

    /// First run: seeds the demo practice when the database has never been
    /// written (empty change log, no providers). Returns true when it did.
    /// After the demo is removed the log is not empty, so it is not seeded again.
    ///
    /// # Errors
    /// Store or demo errors.
    pub fn seed_demo_on_first_run(&self) -> Result<bool, DeskError> {
        let now = self.clock.now();
        self.with_store(|store| {
            if store.last_change_seq()? != 0 || !store.providers()?.is_empty() {
                return Ok(false);
            }
            medharmony::demo::seed(store, now)?;
            Ok(true)
        })
    }

    /// What the UI needs before anything else.
    pub fn status(&self) -> AppStatus {
        let today = self.clock.today();
        AppStatus {
            ready: self.store.is_ok(),
            problem: self.problem().map(str::to_string),
            db_path: self.db_path.display().to_string(),
            now: medharmony::cli::fmt_instant(self.clock.now()),
            now_fixed: matches!(self.clock, Clock::Fixed(_)),
            today: today.to_string(),
            week_start: monday_of(today).to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_from_env_value() {
        assert_eq!(Clock::from_env_value(None), Clock::System);
        assert_eq!(Clock::from_env_value(Some("  ")), Clock::System);
        assert_eq!(Clock::from_env_value(Some("yesterday")), Clock::System);
        let t: DateTime<Utc> = "2026-03-04T15:00:00Z".parse().unwrap();
        assert_eq!(Clock::from_env_value(Some("2026-03-04T10:00:00-05:00")), Clock::Fixed(t));
        assert_eq!(Clock::Fixed(t).now(), t);
    }

    #[test]
    fn monday_of_any_day() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(monday_of(d("2026-03-04")), d("2026-03-02"));
        assert_eq!(monday_of(d("2026-03-02")), d("2026-03-02"));
        assert_eq!(monday_of(d("2026-03-08")), d("2026-03-02"));
    }

    #[test]
    fn missing_key_keeps_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let st = DeskState::open(dir.path().join("x.db"), Err(KeyError::EmptyEnv), Clock::System);
        assert!(!st.status().ready);
        assert!(st.problem().unwrap().contains("MEDHARMONY_DB_KEY"));
        let err = st.with_store(|_| Ok(())).unwrap_err();
        assert!(matches!(err, DeskError::Unavailable(_)));
        assert!(st.open_reader().is_none());
    }
}
