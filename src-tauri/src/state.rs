//! The app's state: the database (opened once at start-up), the clock and
//! what the change-log follower needs to open its own connection.
//!
//! * Database file: `MEDHARMONY_DB`, else [`medharmony::store::default_db_path`].
//! * Key: [`resolve_key`] with `MEDHARMONY_DB_KEY` and the OS keychain.
//! * `MEDHARMONY_NOW` (RFC 3339) pretends the current time, for repeatable
//!   end-to-end tests and screenshots.
//!
//! When the database cannot be opened the state still exists, holding the
//! reason ([`Problem`]): the window opens and shows it instead of crashing.
//!
//! One window per database: [`lock_database`] holds `<database>.lock` for the
//! life of the app, so a second launch that the single-instance plugin could
//! not hand over (no D-Bus session on Linux) says so instead of opening the
//! same database in a second window. The `medharmony` command does not take
//! the lock: it writes next to the app by design.

use std::collections::HashSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Duration, Local, NaiveDate, Utc};
use medharmony::events::EventSink;
use medharmony::store::key::{account_for, resolve_key, DatabaseVault, DbKey, KeyError, KeyVault, OsKeychain, KEYCHAIN_SERVICE, KEY_ENV};
use medharmony::store::{default_db_path, Store, StoreError};

use crate::dto::{AppStatus, ProblemKind};
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

/// Why the database is not open: plain words for staff, a kind, and the
/// technical detail for IT support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// Plain words for front-desk staff (no setting names).
    pub text: String,
    /// For IT support: setting names, what the keychain or the file system said.
    pub detail: Option<String>,
}

const FIX_KEYCHAIN: &str = "Set up a keychain for this user account (on Linux a Secret Service such as GNOME Keyring, with the login keyring unlocked at sign-in)";

impl Problem {
    /// The problem of a key that could not be had. `db_exists`: whether the
    /// database file already holds data.
    pub fn from_key(e: &KeyError, db_exists: bool) -> Problem {
        match e {
            KeyError::NoKeychain { detail } => Problem {
                kind: ProblemKind::NoKeychain,
                text: if db_exists {
                    "MedHarmony Desk keeps the key that unlocks its schedule database in this computer's keychain, \
                     but no keychain is available for this user account, so the database cannot be opened."
                        .into()
                } else {
                    "MedHarmony Desk keeps the key that protects its schedule database in this computer's keychain, \
                     but no keychain is available for this user account, so it cannot set up its database."
                        .into()
                },
                detail: Some(if db_exists {
                    format!("The keychain could not be used ({detail}). {FIX_KEYCHAIN} and make sure it holds this database's key, or start MedHarmony Desk with MEDHARMONY_DB_KEY set to the key the database was created with.")
                } else {
                    format!("The keychain could not be used ({detail}). {FIX_KEYCHAIN}, or start MedHarmony Desk with MEDHARMONY_DB_KEY set to a passphrase or 64 hex digits (keep it safe: it is needed to open the database later).")
                }),
            },
            KeyError::MissingForExisting { path } => Problem {
                kind: ProblemKind::KeyNotInKeychain,
                text: "The schedule database is on this computer, but the key that unlocks it is not in this computer's keychain, so it cannot be opened.".into(),
                detail: Some(format!(
                    "{e}. The keychain entry is service '{KEYCHAIN_SERVICE}', account '{}'.",
                    account_for(Path::new(path))
                )),
            },
            KeyError::EmptyEnv => Problem {
                kind: ProblemKind::EmptyKeySetting,
                text: "The setting that gives MedHarmony Desk its database key is empty, so the schedule database cannot be opened.".into(),
                detail: Some(e.to_string()),
            },
            KeyError::Random(_) => Problem {
                kind: ProblemKind::CannotOpen,
                text: "MedHarmony Desk could not make a key for its schedule database.".into(),
                detail: Some(e.to_string()),
            },
        }
    }

    /// The problem of a database that could not be opened.
    pub fn from_store(e: &StoreError, db_exists: bool) -> Problem {
        match e {
            StoreError::Key(k) => Problem::from_key(k, db_exists),
            StoreError::WrongKey { .. } => Problem {
                kind: ProblemKind::WrongKey,
                text: "The key MedHarmony Desk was given does not match its schedule database (or the file is not a MedHarmony database), so it cannot be opened.".into(),
                detail: Some(format!("{e}. Check MEDHARMONY_DB_KEY or the keychain entry (service '{KEYCHAIN_SERVICE}'): it must be the key the database was created with.")),
            },
            StoreError::NewerSchema { .. } => Problem {
                kind: ProblemKind::NewerVersion,
                text: "The schedule database was last used by a newer version of MedHarmony Desk; please update MedHarmony Desk on this computer.".into(),
                detail: Some(e.to_string()),
            },
            _ => Problem { kind: ProblemKind::CannotOpen, text: "MedHarmony Desk could not open its schedule database file.".into(), detail: Some(e.to_string()) },
        }
    }

    /// Another window holds the database.
    pub fn already_open(lock: &Path) -> Problem {
        Problem {
            kind: ProblemKind::AlreadyOpen,
            text: "MedHarmony Desk is already open on this computer with this schedule database.".into(),
            detail: Some(format!(
                "Another MedHarmony Desk process holds the lock file {}. A second launch normally switches to the running window; \
                 on Linux that needs a D-Bus session bus (DBUS_SESSION_BUS_ADDRESS).",
                lock.display()
            )),
        }
    }
}

/// The lock file that keeps a second window off the same database: `<database>.lock`.
pub fn lock_path(db_path: &Path) -> PathBuf {
    let mut p = db_path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Outcome of [`lock_database`].
#[derive(Debug)]
pub enum DbLock {
    /// This process holds the lock until it exits (or the file is dropped).
    Held(File),
    /// Another process holds it: another window has the database open.
    HeldElsewhere(PathBuf),
    /// No lock could be taken (read-only folder…); the app goes on without.
    Unavailable(String),
}

/// Takes the exclusive lock on `<db_path>.lock` without waiting.
pub fn lock_database(db_path: &Path) -> DbLock {
    let path = lock_path(db_path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = match OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path) {
        Ok(f) => f,
        Err(e) => return DbLock::Unavailable(format!("could not create {}: {e}", path.display())),
    };
    match file.try_lock() {
        Ok(()) => DbLock::Held(file),
        Err(TryLockError::WouldBlock) => DbLock::HeldElsewhere(path),
        Err(TryLockError::Error(e)) => DbLock::Unavailable(format!("could not lock {}: {e}", path.display())),
    }
}

fn has_data(path: &Path) -> bool {
    std::fs::metadata(path).map(|m| m.is_file() && m.len() > 0).unwrap_or(false)
}

/// The state every command reads (managed by Tauri).
pub struct DeskState {
    db_path: PathBuf,
    clock: Clock,
    key: Option<DbKey>,
    store: Result<Mutex<Store>, Problem>,
    db_existed: bool,
    _lock: Option<File>,
    work: WorkState,
}

/// What the connected-systems work shares: the keychain, the event sink for
/// writes made on worker connections, the pending sign-in and running syncs.
struct WorkState {
    vault: Arc<dyn KeyVault + Send + Sync>,
    sink: Mutex<Option<Arc<dyn EventSink>>>,
    connecting: Mutex<Option<String>>,
    cancel_sign_in: AtomicBool,
    syncing: Mutex<HashSet<String>>,
    staff: Mutex<Option<String>>,
    open_slot: Mutex<Option<String>>,
}

impl WorkState {
    /// The OS keychain, with accounts scoped to the database at `db_path`
    /// (as the `medharmony` command keeps them, so both see the same secrets).
    fn new(db_path: &Path) -> Self {
        WorkState {
            vault: Arc::new(DatabaseVault::new(OsKeychain, db_path)),
            sink: Mutex::new(None),
            connecting: Mutex::new(None),
            cancel_sign_in: AtomicBool::new(false),
            syncing: Mutex::new(HashSet::new()),
            staff: Mutex::new(None),
            open_slot: Mutex::new(None),
        }
    }
}

/// Held while a connection is being made (see [`DeskState::begin_connect`]); ends it when dropped.
pub struct ConnectGuard<'a> {
    state: &'a DeskState,
}

impl Drop for ConnectGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut c) = self.state.work.connecting.lock() {
            *c = None;
        }
    }
}

/// Held while a system syncs (see [`DeskState::begin_sync`]); ends it when dropped.
pub struct SyncGuard<'a> {
    state: &'a DeskState,
    key: String,
}

impl Drop for SyncGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.state.work.syncing.lock() {
            s.remove(&self.key);
        }
    }
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
                Problem {
                    kind: ProblemKind::CannotOpen,
                    text: "MedHarmony Desk cannot find a folder for its schedule database on this computer.".into(),
                    detail: Some(format!("No data folder is known for this user account; set {DB_ENV} to a file path.")),
                },
                clock,
            );
        };
        // Before the key: two windows must not both create a key for a new database.
        let lock = match lock_database(&path) {
            DbLock::Held(f) => Some(f),
            DbLock::HeldElsewhere(lock) => {
                log::warn!("another MedHarmony Desk window has this database open; not opening it twice");
                let existed = has_data(&path);
                let mut st = DeskState::unavailable(path, Problem::already_open(&lock), clock);
                st.db_existed = existed;
                return st;
            }
            DbLock::Unavailable(why) => {
                log::warn!("no database lock file, a second window could open the same database: {why}");
                None
            }
        };
        let key = resolve_key(&path, std::env::var(KEY_ENV).ok().as_deref(), &OsKeychain);
        let mut st = DeskState::open(path, key, clock);
        st._lock = lock;
        st
    }

    /// Opens `db_path` with the resolved `key`; any failure is kept as the
    /// state's problem.
    pub fn open(db_path: PathBuf, key: Result<DbKey, KeyError>, clock: Clock) -> DeskState {
        let existed = has_data(&db_path);
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                let problem = Problem::from_key(&e, existed);
                let mut st = DeskState::unavailable(db_path, problem, clock);
                st.db_existed = existed;
                return st;
            }
        };
        match Store::open(&db_path, &key) {
            Ok(store) => DeskState {
                work: WorkState::new(&db_path),
                db_path,
                clock,
                key: Some(key),
                store: Ok(Mutex::new(store)),
                db_existed: existed,
                _lock: None,
            },
            Err(e) => {
                let problem = Problem::from_store(&e, existed);
                let mut st = DeskState::unavailable(db_path, problem, clock);
                st.db_existed = existed;
                st
            }
        }
    }

    /// A state without a database, holding why.
    pub fn unavailable(db_path: PathBuf, problem: Problem, clock: Clock) -> DeskState {
        let work = WorkState::new(&db_path);
        DeskState { db_path, clock, key: None, store: Err(problem), db_existed: false, _lock: None, work }
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// How the app's sync worker runs on this database (`None` when the
    /// database could not be opened): the engine's defaults (keychain
    /// secrets scoped to this database, one sync at a time), the app's clock
    /// (`MEDHARMONY_NOW` freezes the schedule too), the schedule re-read every
    /// `rescan`, and writes reported through the app's event sink.
    pub fn worker_config(&self, rescan: std::time::Duration) -> Option<medharmony::worker::WorkerConfig> {
        if self.store.is_err() {
            return None;
        }
        let key = self.key.clone()?;
        let clock = self.clock;
        let mut config = medharmony::worker::WorkerConfig::new(self.db_path.clone(), key, OsKeychain);
        config.clock = Arc::new(move || clock.now());
        config.rescan = rescan;
        config.sink = self.work.sink.lock().ok().and_then(|s| s.clone());
        Some(config)
    }

    /// Why the database is not open, if it is not (plain words).
    pub fn problem(&self) -> Option<&str> {
        self.store.as_ref().err().map(|p| p.text.as_str())
    }

    /// Why the database is not open, with its kind and technical detail.
    pub fn problem_info(&self) -> Option<&Problem> {
        self.store.as_ref().err()
    }

    /// Runs `f` with the open store (one command at a time).
    ///
    /// # Errors
    /// [`DeskError::Unavailable`] when the database is not open, or `f`'s error.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, DeskError>) -> Result<T, DeskError> {
        let store = self.store.as_ref().map_err(|p| DeskError::Unavailable(p.text.clone()))?;
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

    /// The keychain holding connected systems' secrets: the OS keychain
    /// (unless replaced with [`DeskState::with_keychain`]), its accounts scoped
    /// to this database ([`DatabaseVault`]), as the `medharmony` command keeps them.
    pub fn vault(&self) -> Arc<dyn KeyVault + Send + Sync> {
        Arc::clone(&self.work.vault)
    }

    /// The same state with another keychain in place of the OS one (tests use
    /// an in-memory one); its accounts are scoped to this database too.
    #[must_use]
    pub fn with_keychain<V: KeyVault + Send + Sync + 'static>(mut self, keychain: V) -> Self {
        self.work.vault = Arc::new(DatabaseVault::new(keychain, &self.db_path));
        self
    }

    /// The staff member chosen at the desk in this window (written to the audit log), if any.
    pub fn staff(&self) -> Option<String> {
        self.work.staff.lock().ok().and_then(|s| s.clone())
    }

    /// Sets the staff member at the desk (trimmed).
    pub fn set_staff(&self, name: &str) {
        if let Ok(mut s) = self.work.staff.lock() {
            *s = Some(name.trim().to_string());
        }
    }

    /// Remembers the time a clicked notification asked to show, until the window takes it
    /// ([`DeskState::take_open_slot`]).
    pub fn set_open_slot(&self, slot_id: &str) {
        if let Ok(mut s) = self.work.open_slot.lock() {
            *s = Some(slot_id.to_string());
        }
    }

    /// The time a clicked notification asked to show, once.
    pub fn take_open_slot(&self) -> Option<String> {
        self.work.open_slot.lock().ok().and_then(|mut s| s.take())
    }

    /// Makes `sink` receive every change this app commits, on the main
    /// connection and on the worker connections of [`DeskState::open_worker`].
    pub fn set_event_sink(&self, sink: Arc<dyn EventSink>) {
        if let Ok(mut s) = self.work.sink.lock() {
            *s = Some(Arc::clone(&sink));
        }
        let _ = self.with_store(|store| {
            store.set_event_sink(sink);
            Ok(())
        });
    }

    /// A connection of its own for long work (a sync, connecting a system,
    /// which wait on the network): the main connection stays free for the
    /// week view meanwhile. Its writes reach the event sink like the main one's.
    ///
    /// # Errors
    /// [`DeskError::Unavailable`] when the database is not open, or the store's error.
    pub fn open_worker(&self) -> Result<Store, DeskError> {
        let mut store = match self.open_reader() {
            Some(r) => r?,
            None => return Err(DeskError::Unavailable(self.problem().unwrap_or("The schedule database is not open.").to_string())),
        };
        if let Some(sink) = self.work.sink.lock().ok().and_then(|s| s.clone()) {
            store.set_event_sink(sink);
        }
        Ok(store)
    }

    /// Starts connecting `name`: one connection at a time (a browser sign-in
    /// can wait minutes). Clears an earlier cancel request.
    ///
    /// # Errors
    /// [`DeskError::Busy`] while another connection is being made.
    pub fn begin_connect(&self, name: &str) -> Result<ConnectGuard<'_>, DeskError> {
        let mut c = self.work.connecting.lock().map_err(|_| DeskError::Poisoned)?;
        if let Some(other) = c.as_deref() {
            return Err(DeskError::Busy(format!("MedHarmony Desk is still connecting {other}. Finish or cancel that sign-in first.")));
        }
        *c = Some(name.to_string());
        self.work.cancel_sign_in.store(false, Ordering::SeqCst);
        Ok(ConnectGuard { state: self })
    }

    /// The connection being made, if any.
    pub fn connecting(&self) -> Option<String> {
        self.work.connecting.lock().ok().and_then(|c| c.clone())
    }

    /// The flag a waiting browser sign-in watches.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.work.cancel_sign_in
    }

    /// Asks the waiting browser sign-in to stop. Returns false when none is waiting.
    pub fn cancel_sign_in(&self) -> bool {
        let waiting = self.connecting().is_some();
        if waiting {
            self.work.cancel_sign_in.store(true, Ordering::SeqCst);
        }
        waiting
    }

    /// Starts a sync of `name`: one at a time per system.
    ///
    /// # Errors
    /// [`DeskError::Busy`] while that system is already syncing.
    pub fn begin_sync(&self, name: &str) -> Result<SyncGuard<'_>, DeskError> {
        let key = name.trim().to_lowercase();
        let mut s = self.work.syncing.lock().map_err(|_| DeskError::Poisoned)?;
        if !s.insert(key.clone()) {
            return Err(DeskError::Busy(format!("{} is already syncing; its result appears in a moment.", name.trim())));
        }
        Ok(SyncGuard { state: self, key })
    }

    /// True while `name` syncs.
    pub fn is_syncing(&self, name: &str) -> bool {
        self.work.syncing.lock().map(|s| s.contains(&name.trim().to_lowercase())).unwrap_or(false)
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
        let info = self.problem_info();
        AppStatus {
            ready: self.store.is_ok(),
            problem: info.map(|p| p.text.clone()),
            problem_kind: info.map(|p| p.kind),
            problem_detail: info.and_then(|p| p.detail.clone()),
            db_exists: self.store.is_ok() || self.db_existed,
            db_path: self.db_path.display().to_string(),
            now: medharmony::time::fmt_instant(self.clock.now()),
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
        let status = st.status();
        assert!(!status.ready);
        assert_eq!(status.problem_kind, Some(ProblemKind::EmptyKeySetting));
        assert!(!st.problem().unwrap().contains("MEDHARMONY_DB_KEY"), "staff text names no setting");
        assert!(status.problem_detail.unwrap().contains("MEDHARMONY_DB_KEY"), "IT detail does");
        let err = st.with_store(|_| Ok(())).unwrap_err();
        assert!(matches!(err, DeskError::Unavailable(_)));
        assert!(st.open_reader().is_none());
    }

    #[test]
    fn no_keychain_on_first_run_is_not_a_locked_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("new.db");
        let no_keychain = || Err(KeyError::NoKeychain { detail: "Couldn't access platform secure storage: Secret Service: no result found".into() });
        let st = DeskState::open(db.clone(), no_keychain(), Clock::System);
        let status = st.status();
        assert_eq!(status.problem_kind, Some(ProblemKind::NoKeychain));
        assert!(!status.db_exists);
        let text = status.problem.unwrap();
        assert!(text.contains("keychain") && text.contains("set up"), "{text}");
        assert!(!text.contains("Secret Service") && !text.contains("MEDHARMONY_DB_KEY"), "{text}");
        let detail = status.problem_detail.unwrap();
        assert!(detail.contains("Secret Service") && detail.contains("MEDHARMONY_DB_KEY"), "{detail}");
        assert!(!db.exists(), "nothing is created without a key");
        // With a database already there, the wording is about opening it.
        std::fs::write(&db, b"SQLite format 3").unwrap();
        let st = DeskState::open(db, no_keychain(), Clock::System);
        assert!(st.status().db_exists);
        assert!(st.problem().unwrap().contains("cannot be opened"));
    }

    #[test]
    fn a_second_lock_on_the_same_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub").join("l.db");
        let DbLock::Held(first) = lock_database(&db) else { panic!("first lock") };
        assert!(lock_path(&db).exists());
        assert!(matches!(lock_database(&db), DbLock::HeldElsewhere(p) if p == lock_path(&db)));
        drop(first);
        assert!(matches!(lock_database(&db), DbLock::Held(_)), "released with the first window");
        let p = Problem::already_open(&lock_path(&db));
        assert_eq!(p.kind, ProblemKind::AlreadyOpen);
    }
}
