//! The sync worker: keeps every active integration in sync on its schedule,
//! for the desktop app and for `medharmony serve` (issue "Sync worker").
//!
//! Two halves:
//!
//! * **The policy** ([`next_due`], [`backoff`], [`plan`]): pure functions of an
//!   integration's [`ScheduleState`], the current time and a [`Jitter`]
//!   source, tested without clocks or threads.
//! * **The runner** ([`Worker`]): a tokio task that picks the due
//!   integrations, runs each sync on the blocking pool (the connectors and the
//!   store are blocking) with its own [`Store`] connection on the same file,
//!   records the outcome through the store, and sleeps until the next due
//!   time, a [`WorkerHandle`] command, or a periodic re-read of the schedule.
//!
//! # Policy
//!
//! * **Paused** integrations (`active = false`) are never scheduled; "Sync
//!   now" still runs them once. Nor are integrations whose last sync found that
//!   staff must **reconnect** them (sign-in expired or refused): retrying a
//!   refused app password can lock the account; reconnecting clears it.
//! * **Never attempted** (no `last_attempt_at`, no `last_sync_at`): due at
//!   once, without jitter. The original design's query
//!   `last_sync_at <= now − 15 min` silently skipped these.
//! * **Healthy** (`failures = 0`): due `sync_minutes` (default 15) after the
//!   last attempt, plus jitter.
//! * **Failing** (`failures = n ≥ 1`: the last `n` attempts failed or read an
//!   incomplete window): due after `2^(n−1)` minutes — 1, 2, 4, 8, 16, 32 … —
//!   capped at the integration's own interval and at
//!   [`BACKOFF_CAP_MINUTES`] (60), whichever is smaller, plus jitter. A
//!   failing source is never polled less often than a healthy one would be.
//! * **Jitter**: `[0, MAX_JITTER)` (5 s) added to every scheduled (not
//!   first or manual) run, derived from the integration and the scheduled
//!   time, so integrations synced together drift apart instead of firing in
//!   the same second, and the due time does not move between two looks.
//! * **Order**: never-synced integrations (no complete sync yet) first —
//!   among them, never-attempted (just connected) before failing ones — then
//!   the most overdue; ties by id. With the default of one sync at a time
//!   ([`WorkerConfig::max_parallel`]) this is also the order they run in.
//! * A last attempt in the future (the clock was set back) counts as now.
//!
//! The schedule lives in the database (`last_attempt_at`, `failures`,
//! `active`, written by [`Store::record_sync`] and
//! [`Store::set_integration_active`]), so `medharmony sync` runs, a restart
//! and other processes' pause/resume all count; the runner re-reads it at
//! least every [`WorkerConfig::rescan`].
//!
//! # Change feeds
//!
//! Between full syncs, every active integration that has completed a sync is
//! polled for changes every [`WorkerConfig::poll_every`] (default 1 minute)
//! through [`crate::sync::poll_changes`] (FHIR `_lastUpdated`, athenahealth's
//! changed-data feed, Google `syncToken`), so a cancellation reaches the desk
//! within about a minute without a full resync. A source without a change
//! feed is not polled again until the worker restarts. Polls count as work on
//! the integration: never two at once with its sync. A failed poll does not
//! count as a failed sync (the next scheduled sync reports lasting trouble).
//!
//! # One scheduler per database
//!
//! [`Worker::start`] takes an exclusive lock on `<db>.scheduler.lock`
//! ([`SchedulerLock`]); a second scheduler on the same database is refused
//! with [`LockError::Held`], which names the process holding it. The lock is
//! released when the worker stops or its process dies (even by `kill -9`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions, TryLockError};
use std::hash::BuildHasher;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::connector::{Connector, ConnectorError};
use crate::events::EventSink;
use crate::store::integrations::Integration;
use crate::store::key::{DatabaseVault, DbKey, KeyVault};
use crate::store::{Store, StoreError};
use crate::sync::{connector_for, default_window, poll_changes, sync_once, PollReport, SyncReport};

/// How often change feeds are polled by default: every minute.
pub const DEFAULT_POLL_EVERY: StdDuration = StdDuration::from_secs(60);

/// Backoff after failures never exceeds this many minutes (nor the integration's own interval).
pub const BACKOFF_CAP_MINUTES: u32 = 60;

/// Scheduled runs start up to this much after their due time (exclusive bound).
pub const MAX_JITTER: StdDuration = StdDuration::from_secs(5);

/// What the policy needs to know about one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleState {
    /// Store id.
    pub integration_id: i64,
    /// Sync interval in minutes (0 is treated as 1).
    pub sync_minutes: u32,
    /// True when paused (never scheduled).
    pub paused: bool,
    /// Last complete sync (UTC), `None` if it never completed one.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Start of the last attempt (UTC), complete or not.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Attempts in a row that failed or were incomplete.
    pub failures: u32,
    /// True when the last sync found that staff must reconnect (sign-in expired or refused):
    /// not scheduled until they do, since retrying a refused password can lock the account
    /// (iCloud, Fastmail) and retrying an expired sign-in cannot succeed.
    pub needs_reconnect: bool,
}

impl From<&Integration> for ScheduleState {
    fn from(i: &Integration) -> Self {
        ScheduleState {
            integration_id: i.id,
            sync_minutes: i.sync_minutes,
            paused: !i.active,
            last_sync_at: i.last_sync_at,
            last_attempt_at: i.last_attempt_at,
            failures: i.failures,
            needs_reconnect: i.needs_reconnect(),
        }
    }
}

/// A source of start jitter. Must be deterministic for the same inputs (the
/// runner asks again on every look at the schedule).
pub trait Jitter: Send + Sync {
    /// The delay for the run of `integration_id` scheduled at `base`
    /// (values of [`MAX_JITTER`] or more are cut to just below it).
    fn delay(&self, integration_id: i64, base: DateTime<Utc>) -> StdDuration;
}

impl<F: Fn(i64, DateTime<Utc>) -> StdDuration + Send + Sync> Jitter for F {
    fn delay(&self, integration_id: i64, base: DateTime<Utc>) -> StdDuration {
        self(integration_id, base)
    }
}

/// The default jitter: a keyed hash (std's `RandomState`, a fresh random key
/// per worker) of the integration and the scheduled time, spread over `[0, MAX_JITTER)`.
#[derive(Debug, Clone, Default)]
pub struct HashJitter(std::hash::RandomState);

impl Jitter for HashJitter {
    fn delay(&self, integration_id: i64, base: DateTime<Utc>) -> StdDuration {
        let h = self.0.hash_one((integration_id, base.timestamp()));
        StdDuration::from_millis(h % MAX_JITTER.as_millis() as u64)
    }
}

/// How long to wait after `failures` failed attempts in a row:
/// `2^(failures − 1)` minutes, capped at `min(sync_minutes, BACKOFF_CAP_MINUTES)`
/// (at least 1 minute); zero for no failures.
pub fn backoff(failures: u32, sync_minutes: u32) -> Duration {
    if failures == 0 {
        return Duration::zero();
    }
    let cap = sync_minutes.clamp(1, BACKOFF_CAP_MINUTES);
    let minutes = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX).min(cap);
    Duration::minutes(i64::from(minutes))
}

/// When `s` is next due (UTC), or `None` when it is paused. See the module
/// documentation for the rules. A result at or before `now` means "run now".
pub fn next_due(s: &ScheduleState, now: DateTime<Utc>, jitter: &dyn Jitter) -> Option<DateTime<Utc>> {
    if s.paused || s.needs_reconnect {
        return None;
    }
    let Some(last) = s.last_attempt_at.max(s.last_sync_at) else { return Some(now) };
    let wait = if s.failures > 0 { backoff(s.failures, s.sync_minutes) } else { Duration::minutes(i64::from(s.sync_minutes.max(1))) };
    let base = last.min(now) + wait;
    let max_ms = MAX_JITTER.as_millis() as u64 - 1;
    let delay = jitter.delay(s.integration_id, base).as_millis().min(u128::from(max_ms)) as i64;
    Some(base + Duration::milliseconds(delay))
}

/// What the runner should do now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Integration ids due now, in the order to run them (never-synced first, then most overdue; see the module documentation).
    pub due_now: Vec<i64>,
    /// The earliest due time after `now` among the others (UTC), if any.
    pub next_wake: Option<DateTime<Utc>>,
}

/// Orders `states` by the policy at `now`.
pub fn plan(states: &[ScheduleState], now: DateTime<Utc>, jitter: &dyn Jitter) -> Plan {
    let mut due = Vec::new();
    let mut next_wake: Option<DateTime<Utc>> = None;
    for s in states {
        match next_due(s, now, jitter) {
            None => {}
            Some(t) if t <= now => due.push((s.last_sync_at.is_some(), s.last_attempt_at.is_some(), t, s.integration_id)),
            Some(t) => next_wake = Some(next_wake.map_or(t, |w| w.min(t))),
        }
    }
    due.sort();
    Plan { due_now: due.into_iter().map(|(_, _, _, id)| id).collect(), next_wake }
}

/// Why the scheduler lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process (or worker) already runs the scheduler for this database.
    #[error(
        "Another MedHarmony Desk is already keeping {db} in sync ({}); stop it first, or run `medharmony sync` for a one-off sync",
        .pid.map_or_else(|| "another process".to_string(), |p| format!("process {p}"))
    )]
    Held {
        /// The database file.
        db: String,
        /// The holder's process id, when it could be read from the lock file.
        pid: Option<u32>,
    },
    /// The lock file could not be created or locked.
    #[error("could not use the scheduler lock file {path}: {detail}")]
    Io {
        /// The lock file.
        path: String,
        /// What the system said.
        detail: String,
    },
}

/// An exclusive, advisory lock on `<db>.scheduler.lock` (`File::try_lock`:
/// `flock` on Unix, `LockFileEx` on Windows), holding the owner's process id
/// as text. Released on drop or when the process ends; the file itself stays.
#[derive(Debug)]
pub struct SchedulerLock {
    _file: File,
    path: PathBuf,
}

impl SchedulerLock {
    /// The lock file for the database `db`: `<db>.scheduler.lock`.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut p = db.as_os_str().to_owned();
        p.push(".scheduler.lock");
        PathBuf::from(p)
    }

    /// Takes the lock for `db` without waiting.
    ///
    /// # Errors
    /// [`LockError::Held`] when another holder has it; [`LockError::Io`] when
    /// the file cannot be created or locked.
    pub fn acquire(db: &Path) -> Result<SchedulerLock, LockError> {
        let path = Self::path_for(db);
        let io = |e: std::io::Error| LockError::Io { path: path.display().to_string(), detail: e.to_string() };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Not truncated on open: the holder's pid stays readable for the message.
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).map_err(io)?;
                writeln!(file, "{}", std::process::id()).map_err(io)?;
                file.flush().map_err(io)?;
                Ok(SchedulerLock { _file: file, path })
            }
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok());
                Err(LockError::Held { db: db.display().to_string(), pid })
            }
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Errors of the worker. Display texts are written for front-desk staff.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Another scheduler runs for this database.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The database could not be opened, read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No integration has this name.
    #[error("there is no integration named '{0}'; see `medharmony integrations list`")]
    UnknownIntegration(String),
    /// The worker has stopped and takes no more requests.
    #[error("the sync worker has stopped")]
    Stopped,
    /// A sync task panicked or was cancelled.
    #[error("a sync ended abnormally: {0}")]
    Task(String),
}

/// What the worker reports to its host (one per sync run).
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    /// A sync ran (failed ones too: see `report.failed`).
    Synced {
        /// The sync's report.
        report: SyncReport,
        /// True when it ran because of "Sync now".
        manual: bool,
        /// When the integration is next due (UTC) by the policy, `None` when paused.
        next_due: Option<DateTime<Utc>>,
    },
    /// A change feed was polled and brought something (polls that brought nothing are not reported).
    Polled {
        /// What the poll did.
        report: PollReport,
    },
    /// A sync could not run at all (the database could not be opened or written).
    Error {
        /// The integration's name.
        integration: String,
        /// What went wrong, in plain words.
        error: String,
    },
}

/// Builds the connector for an integration (called on the blocking pool).
pub type ConnectorFactory = Arc<dyn Fn(&Integration) -> Result<Box<dyn Connector>, ConnectorError> + Send + Sync>;

/// The current time (UTC).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How a [`Worker`] runs.
#[derive(Clone)]
pub struct WorkerConfig {
    /// The database file; every sync opens its own connection to it.
    pub db_path: PathBuf,
    /// Its key.
    pub key: DbKey,
    /// Builds connectors (default: [`connector_for`] with the database's keychain secrets).
    pub connectors: ConnectorFactory,
    /// The current time (default: the system clock).
    pub clock: Clock,
    /// Start jitter (default: [`HashJitter`]).
    pub jitter: Arc<dyn Jitter>,
    /// Syncs running at once, over all integrations (default 1; at least 1).
    pub max_parallel: usize,
    /// The schedule is re-read at least this often, so changes by other
    /// processes (a new integration, pause/resume from the CLI) are seen (default 15 s).
    pub rescan: StdDuration,
    /// On stop, running syncs get this long to finish (default 5 s); a sync cut
    /// short by the process ending is rolled back by SQLite.
    pub stop_grace: StdDuration,
    /// Receives every [`WorkerEvent`], on the worker's task: must be cheap and not block.
    pub on_event: Arc<dyn Fn(&WorkerEvent) + Send + Sync>,
    /// Receives the store's committed changes from every sync (the desktop's live updates).
    pub sink: Option<Arc<dyn EventSink>>,
    /// How often change feeds are polled ([`DEFAULT_POLL_EVERY`]); `None` = never.
    pub poll_every: Option<StdDuration>,
}

impl WorkerConfig {
    /// The defaults for the database `db_path` opened with `key`, reading
    /// integration secrets from `vault` (scoped to this database with [`DatabaseVault`]).
    pub fn new<V: KeyVault + Send + Sync + 'static>(db_path: PathBuf, key: DbKey, vault: V) -> WorkerConfig {
        let vault: Arc<dyn KeyVault + Send + Sync> = Arc::new(DatabaseVault::new(vault, &db_path));
        WorkerConfig {
            db_path,
            key,
            connectors: Arc::new(move |i| connector_for(i, vault.clone())),
            clock: Arc::new(Utc::now),
            jitter: Arc::new(HashJitter::default()),
            max_parallel: 1,
            rescan: StdDuration::from_secs(15),
            stop_grace: StdDuration::from_secs(5),
            on_event: Arc::new(|_| {}),
            sink: None,
            poll_every: Some(DEFAULT_POLL_EVERY),
        }
    }
}

enum Cmd {
    SyncNow(String, oneshot::Sender<Result<(), WorkerError>>),
    SetActive(String, bool, oneshot::Sender<Result<(), WorkerError>>),
    Wake,
    Stop,
}

/// The sync worker; see the module documentation.
pub struct Worker;

impl Worker {
    /// Takes the scheduler lock for `config.db_path`, opens the database and
    /// starts the worker's loop on `runtime`.
    ///
    /// # Errors
    /// [`WorkerError::Lock`] when another scheduler runs for this database;
    /// [`WorkerError::Store`] when the database cannot be opened.
    pub fn start(config: WorkerConfig, runtime: &tokio::runtime::Handle) -> Result<WorkerHandle, WorkerError> {
        let lock = SchedulerLock::acquire(&config.db_path)?;
        let mut store = Store::open(&config.db_path, &config.key)?;
        if let Some(sink) = &config.sink {
            store.set_event_sink(sink.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Loop {
            cfg: Arc::new(config),
            store: Arc::new(Mutex::new(store)),
            rx,
            running: HashSet::new(),
            again: HashSet::new(),
            manual: VecDeque::new(),
            local_failures: HashMap::new(),
            joins: JoinSet::new(),
            polled: HashMap::new(),
            no_feed: HashSet::new(),
            _lock: lock,
        };
        let task = runtime.spawn(state.run());
        Ok(WorkerHandle { tx, task })
    }
}

/// Controls a running [`Worker`]. Dropping it stops the worker at its next look at the schedule.
pub struct WorkerHandle {
    tx: mpsc::UnboundedSender<Cmd>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    async fn ask(&self, make: impl FnOnce(oneshot::Sender<Result<(), WorkerError>>) -> Cmd) -> Result<(), WorkerError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| WorkerError::Stopped)?;
        answer.await.map_err(|_| WorkerError::Stopped)?
    }

    /// Queues a sync of the integration `name` (case-insensitive) now, even
    /// when it is paused; if it is already syncing, it runs again right after.
    /// Returns once queued; the result arrives as a [`WorkerEvent`].
    ///
    /// # Errors
    /// [`WorkerError::UnknownIntegration`], [`WorkerError::Stopped`], [`WorkerError::Store`].
    pub async fn sync_now(&self, name: &str) -> Result<(), WorkerError> {
        self.ask(|r| Cmd::SyncNow(name.to_string(), r)).await
    }

    /// Pauses the integration `name`: it is no longer scheduled (a sync under way finishes).
    ///
    /// # Errors
    /// As [`WorkerHandle::sync_now`].
    pub async fn pause(&self, name: &str) -> Result<(), WorkerError> {
        self.ask(|r| Cmd::SetActive(name.to_string(), false, r)).await
    }

    /// Resumes the integration `name`; it is due by the policy (at once when overdue).
    ///
    /// # Errors
    /// As [`WorkerHandle::sync_now`].
    pub async fn resume(&self, name: &str) -> Result<(), WorkerError> {
        self.ask(|r| Cmd::SetActive(name.to_string(), true, r)).await
    }

    /// Makes the worker re-read the schedule now (e.g. after an integration was connected).
    pub fn wake(&self) {
        let _ = self.tx.send(Cmd::Wake);
    }

    /// Stops the worker: no new syncs start, running ones get
    /// [`WorkerConfig::stop_grace`] to finish, and the scheduler lock is released.
    ///
    /// # Errors
    /// [`WorkerError::Task`] when the worker's loop panicked.
    pub async fn stop(self) -> Result<(), WorkerError> {
        let _ = self.tx.send(Cmd::Stop);
        self.task.await.map_err(|e| WorkerError::Task(e.to_string()))
    }
}

/// What a finished task did: a sync (manual or scheduled) or a change-feed poll.
enum Outcome {
    Synced(SyncReport, Option<DateTime<Utc>>),
    Polled(Option<PollReport>),
}

/// A finished task: integration id, name, manual (syncs only), poll or sync, outcome.
type Done = (i64, String, bool, bool, Result<Outcome, WorkerError>);

struct Loop {
    cfg: Arc<WorkerConfig>,
    store: Arc<Mutex<Store>>,
    rx: mpsc::UnboundedReceiver<Cmd>,
    running: HashSet<i64>,
    /// "Sync now" arrived while the integration was syncing: run it again after.
    again: HashSet<i64>,
    /// "Sync now" requests not started yet, in order.
    manual: VecDeque<i64>,
    /// Runs that could not even record their outcome (database errors): failures and last time, per id.
    local_failures: HashMap<i64, (u32, DateTime<Utc>)>,
    joins: JoinSet<Done>,
    /// When each integration's change feed was last polled (or it last synced).
    polled: HashMap<i64, DateTime<Utc>>,
    /// Integrations whose source has no change feed.
    no_feed: HashSet<i64>,
    _lock: SchedulerLock,
}

impl Loop {
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, WorkerError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| WorkerError::Task(e.to_string()))?
        .map_err(WorkerError::from)
    }

    async fn run(mut self) {
        tracing::info!("sync worker started");
        loop {
            let now = (self.cfg.clock)();
            let wait = match self.with_store(|s| s.integrations()).await {
                Ok(integs) => self.launch(&integs, now),
                Err(e) => {
                    tracing::warn!(error = %e, "sync worker could not read the schedule");
                    self.cfg.rescan
                }
            };
            tokio::select! {
                Some(done) = self.joins.join_next(), if !self.joins.is_empty() => self.finish(done),
                cmd = self.rx.recv() => match cmd {
                    None | Some(Cmd::Stop) => break,
                    Some(cmd) => self.command(cmd).await,
                },
                () = tokio::time::sleep(wait) => {}
            }
        }
        let grace = self.cfg.stop_grace;
        let pending = self.joins.len();
        let drained = tokio::time::timeout(grace, async {
            while let Some(done) = self.joins.join_next().await {
                self.finish(done);
            }
        })
        .await;
        if drained.is_err() {
            // Blocking syncs cannot be cancelled; they end with the process, and SQLite rolls back an unfinished write.
            tracing::warn!(running = self.joins.len(), "sync worker stopped with syncs still running");
            self.joins.detach_all();
        }
        tracing::info!(waited_for = pending, "sync worker stopped");
    }

    /// Starts what is due and returns how long to sleep at most.
    fn launch(&mut self, integs: &[Integration], now: DateTime<Utc>) -> StdDuration {
        let by_id: HashMap<i64, &Integration> = integs.iter().map(|i| (i.id, i)).collect();
        let states: Vec<ScheduleState> = integs
            .iter()
            .map(|i| {
                let mut s = ScheduleState::from(i);
                if let Some(&(n, at)) = self.local_failures.get(&i.id) {
                    if s.last_attempt_at.is_none_or(|t| t < at) {
                        s.last_attempt_at = Some(at);
                        s.failures += n;
                    }
                }
                s
            })
            .collect();
        let p = plan(&states, now, self.cfg.jitter.as_ref());
        let capacity = self.cfg.max_parallel.max(1);
        let mut queue: Vec<(i64, bool)> = Vec::new();
        while let Some(id) = self.manual.pop_front() {
            queue.push((id, true));
        }
        queue.extend(p.due_now.iter().map(|&id| (id, false)));
        let mut seen = HashSet::new();
        for (id, manual) in queue {
            if !seen.insert(id) || self.running.contains(&id) {
                continue;
            }
            let Some(integ) = by_id.get(&id) else { continue };
            if self.joins.len() >= capacity {
                if manual {
                    self.manual.push_back(id);
                }
                continue;
            }
            self.spawn(integ, manual);
        }
        let mut wake = p.next_wake;
        if let Some(every) = self.cfg.poll_every.and_then(|e| Duration::from_std(e).ok()) {
            for integ in integs {
                // A failing source is left to its backed-off full syncs: polling it would only repeat the failure.
                if !integ.active || integ.last_sync_at.is_none() || integ.failures > 0 || self.no_feed.contains(&integ.id) || self.running.contains(&integ.id) {
                    continue;
                }
                let due = self.polled.get(&integ.id).map_or(now, |t| *t + every);
                if due > now {
                    wake = Some(wake.map_or(due, |w| w.min(due)));
                } else if self.joins.len() < capacity {
                    self.spawn_poll(integ);
                }
            }
        }
        match wake {
            Some(t) => (t - now).to_std().unwrap_or_default().min(self.cfg.rescan),
            None => self.cfg.rescan,
        }
    }

    fn spawn_poll(&mut self, integ: &Integration) {
        let cfg = self.cfg.clone();
        let (id, name) = (integ.id, integ.name.clone());
        self.running.insert(id);
        self.joins.spawn_blocking(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_poll(&cfg, id, &name)))
                .unwrap_or_else(|_| Err(WorkerError::Task("the change-feed poll panicked".into())));
            (id, name, false, true, result)
        });
    }

    fn spawn(&mut self, integ: &Integration, manual: bool) {
        let cfg = self.cfg.clone();
        let (id, name) = (integ.id, integ.name.clone());
        self.running.insert(id);
        tracing::info!(integration = id, manual, "sync started");
        self.joins.spawn_blocking(move || {
            // A panic in a connector must not leave the integration marked as running forever.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_sync(&cfg, id, &name)))
                .unwrap_or_else(|_| Err(WorkerError::Task("the sync panicked".into())));
            (id, name, manual, false, result.map(|(r, next)| Outcome::Synced(r, next)))
        });
    }

    fn finish(&mut self, done: Result<Done, tokio::task::JoinError>) {
        let (id, name, manual, poll, result) = match done {
            Ok(d) => d,
            Err(e) => {
                // Only cancellation gets here (panics are caught in the task), and blocking tasks are never cancelled.
                tracing::error!(error = %e, "a sync task ended abnormally");
                return;
            }
        };
        self.running.remove(&id);
        if self.again.remove(&id) {
            self.manual.push_back(id);
        }
        let now = (self.cfg.clock)();
        self.polled.insert(id, now);
        let event = match result {
            Ok(Outcome::Synced(report, next_due)) => {
                self.local_failures.remove(&id);
                WorkerEvent::Synced { report, manual, next_due }
            }
            Ok(Outcome::Polled(None)) => {
                tracing::debug!(integration = id, "no change feed at this source; not polled again");
                self.no_feed.insert(id);
                return;
            }
            Ok(Outcome::Polled(Some(report))) => {
                if report.added + report.changed == 0 && report.problem.is_none() {
                    return;
                }
                WorkerEvent::Polled { report }
            }
            Err(e) if poll => {
                tracing::info!(integration = id, error = %e, "change-feed poll could not run");
                return;
            }
            Err(WorkerError::UnknownIntegration(_)) => return, // disconnected while queued
            Err(e) => {
                tracing::warn!(integration = id, error = %e, "sync could not run");
                let now = (self.cfg.clock)();
                let entry = self.local_failures.entry(id).or_insert((0, now));
                *entry = (entry.0 + 1, now);
                WorkerEvent::Error { integration: name, error: e.to_string() }
            }
        };
        (self.cfg.on_event)(&event);
    }

    async fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Wake | Cmd::Stop => {}
            Cmd::SyncNow(name, reply) => {
                let lookup = name.clone();
                let found = self.with_store(move |s| s.integration(&lookup)).await;
                let answer = match found {
                    Ok(Some(integ)) => {
                        if self.running.contains(&integ.id) {
                            self.again.insert(integ.id);
                        } else if !self.manual.contains(&integ.id) {
                            self.manual.push_back(integ.id);
                        }
                        Ok(())
                    }
                    Ok(None) => Err(WorkerError::UnknownIntegration(name)),
                    Err(e) => Err(e),
                };
                let _ = reply.send(answer);
            }
            Cmd::SetActive(name, active, reply) => {
                let (lookup, now) = (name.clone(), (self.cfg.clock)());
                let answer = match self.with_store(move |s| s.set_integration_active(&lookup, active, now)).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(WorkerError::UnknownIntegration(name)),
                    Err(e) => Err(e),
                };
                let _ = reply.send(answer);
            }
        }
    }
}

/// One change-feed poll, on the blocking pool, with its own connection.
fn run_poll(cfg: &WorkerConfig, id: i64, name: &str) -> Result<Outcome, WorkerError> {
    let mut store = Store::open(&cfg.db_path, &cfg.key)?;
    if let Some(sink) = &cfg.sink {
        store.set_event_sink(sink.clone());
    }
    let integ = store.integrations()?.into_iter().find(|i| i.id == id).ok_or_else(|| WorkerError::UnknownIntegration(name.to_string()))?;
    let now = (cfg.clock)();
    let mut connector = match (cfg.connectors)(&integ) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Outcome::Polled(Some(PollReport::empty(&integ.name, Some(e.to_string())))))
        }
    };
    Ok(Outcome::Polled(poll_changes(&mut store, &integ, connector.as_mut(), now)?))
}

/// One scheduled or manual sync, on the blocking pool, with its own connection.
fn run_sync(cfg: &WorkerConfig, id: i64, name: &str) -> Result<(SyncReport, Option<DateTime<Utc>>), WorkerError> {
    let mut store = Store::open(&cfg.db_path, &cfg.key)?;
    if let Some(sink) = &cfg.sink {
        store.set_event_sink(sink.clone());
    }
    let find = |store: &Store| -> Result<Option<Integration>, StoreError> { Ok(store.integrations()?.into_iter().find(|i| i.id == id)) };
    let integ = find(&store)?.ok_or_else(|| WorkerError::UnknownIntegration(name.to_string()))?;
    let now = (cfg.clock)();
    let report = sync_once(&mut store, &integ, |i| (cfg.connectors)(i), default_window(now), now)?;
    let next = find(&store)?.and_then(|i| next_due(&ScheduleState::from(&i), now, cfg.jitter.as_ref()));
    Ok((report, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, s).unwrap()
    }

    fn state(id: i64) -> ScheduleState {
        ScheduleState {
            integration_id: id,
            sync_minutes: 15,
            paused: false,
            last_sync_at: None,
            last_attempt_at: None,
            failures: 0,
            needs_reconnect: false,
        }
    }

    fn synced(id: i64, t: DateTime<Utc>) -> ScheduleState {
        ScheduleState { last_sync_at: Some(t), last_attempt_at: Some(t), ..state(id) }
    }

    fn no_jitter() -> impl Jitter {
        |_: i64, _: DateTime<Utc>| StdDuration::ZERO
    }

    #[test]
    fn never_synced_is_due_at_once_and_healthy_ones_every_interval() {
        let now = at(12, 0, 0);
        assert_eq!(next_due(&state(1), now, &no_jitter()), Some(now));
        assert_eq!(next_due(&synced(2, at(11, 50, 0)), now, &no_jitter()), Some(at(12, 5, 0)));
        let hourly = ScheduleState { sync_minutes: 60, ..synced(3, at(11, 50, 0)) };
        assert_eq!(next_due(&hourly, now, &no_jitter()), Some(at(12, 50, 0)));
        // A legacy row (synced before attempts were recorded) counts from its last sync.
        let legacy = ScheduleState { last_attempt_at: None, ..synced(4, at(11, 40, 0)) };
        assert_eq!(next_due(&legacy, now, &no_jitter()), Some(at(11, 55, 0)));
        // A last attempt in the future (clock set back) counts as now.
        assert_eq!(next_due(&synced(5, at(18, 0, 0)), now, &no_jitter()), Some(at(12, 15, 0)));
    }

    #[test]
    fn paused_is_never_due() {
        let now = at(12, 0, 0);
        assert_eq!(next_due(&ScheduleState { paused: true, ..state(1) }, now, &no_jitter()), None);
        let overdue = ScheduleState { paused: true, ..synced(2, at(1, 0, 0)) };
        assert_eq!(next_due(&overdue, now, &no_jitter()), None);
        assert_eq!(plan(&[overdue], now, &no_jitter()), Plan::default());
        // Nor is one that needs reconnecting, however long ago it failed.
        let refused = ScheduleState { needs_reconnect: true, failures: 3, ..synced(3, at(1, 0, 0)) };
        assert_eq!(next_due(&refused, now, &no_jitter()), None);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_interval_or_an_hour() {
        let minutes = |n: u32, every: u32| backoff(n, every).num_minutes();
        assert_eq!((0..=7).map(|n| minutes(n, 15)).collect::<Vec<_>>(), [0, 1, 2, 4, 8, 15, 15, 15]);
        assert_eq!((1..=9).map(|n| minutes(n, 240)).collect::<Vec<_>>(), [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(minutes(u32::MAX, 240), 60, "no overflow");
        assert_eq!(minutes(3, 0), 1, "at least a minute");
        // Measured from the failed attempt, not the last complete sync.
        let failing = ScheduleState { last_sync_at: Some(at(9, 0, 0)), last_attempt_at: Some(at(11, 58, 0)), failures: 3, ..state(1) };
        assert_eq!(next_due(&failing, at(12, 0, 0), &no_jitter()), Some(at(12, 2, 0)));
        // Never synced and failing: backs off too.
        let new_failing = ScheduleState { last_attempt_at: Some(at(11, 59, 30)), failures: 1, ..state(2) };
        assert_eq!(next_due(&new_failing, at(12, 0, 0), &no_jitter()), Some(at(12, 0, 30)));
    }

    #[test]
    fn never_synced_first_then_most_overdue_and_the_next_wake() {
        let now = at(12, 0, 0);
        let states = [
            synced(1, at(11, 40, 0)),                                                                      // due 11:55
            synced(2, at(10, 0, 0)),                                                                       // due 10:15, most overdue
            state(3),                                                                                      // never synced
            synced(4, at(11, 50, 0)),                                                                      // due 12:05
            ScheduleState { paused: true, ..state(5) },                                                    // paused
            ScheduleState { last_attempt_at: Some(at(11, 30, 0)), failures: 2, ..state(6) }, // never synced, failing, due 11:32
            ScheduleState { last_attempt_at: Some(at(11, 59, 0)), failures: 4, ..synced(7, at(8, 0, 0)) }, // due 12:07
        ];
        let p = plan(&states, now, &no_jitter());
        assert_eq!(p.due_now, [3, 6, 2, 1]);
        assert_eq!(p.next_wake, Some(at(12, 5, 0)));
    }

    #[test]
    fn jitter_delays_scheduled_runs_within_bounds_only() {
        let now = at(12, 0, 0);
        let big = |_: i64, _: DateTime<Utc>| StdDuration::from_secs(3600);
        // Out-of-range jitter is cut to just below MAX_JITTER.
        assert_eq!(next_due(&synced(1, at(11, 50, 0)), now, &big), Some(at(12, 5, 4) + Duration::milliseconds(999)));
        // Never-synced integrations are not delayed.
        assert_eq!(next_due(&state(1), now, &big), Some(now));
        // The default source: within [0, 5 s), stable for the same run, and spreads integrations.
        let j = HashJitter::default();
        let delays: Vec<StdDuration> = (0..200).map(|id| j.delay(id, at(12, 15, 0))).collect();
        assert!(delays.iter().all(|d| *d < MAX_JITTER));
        assert_eq!(j.delay(7, at(12, 15, 0)), j.delay(7, at(12, 15, 0)));
        let distinct: HashSet<u128> = delays.iter().map(|d| d.as_millis() / 500).collect();
        assert!(distinct.len() >= 8, "200 integrations should spread over the 10 half-seconds: {distinct:?}");
        let due = next_due(&synced(9, at(11, 50, 0)), now, &j).unwrap();
        assert!(due >= at(12, 5, 0) && due < at(12, 5, 5), "{due}");
        assert_eq!(next_due(&synced(9, at(11, 50, 0)), now, &j), Some(due), "the due time does not move between looks");
    }

    /// A vault without secrets (the fake connectors need none).
    struct NoSecrets;

    impl KeyVault for NoSecrets {
        fn get(&self, _: &str) -> Result<Option<String>, String> {
            Ok(None)
        }
        fn set(&self, _: &str, _: &str) -> Result<(), String> {
            Err("read-only".into())
        }
        fn delete(&self, _: &str) -> Result<(), String> {
            Ok(())
        }
    }

    /// A connector that reads an empty complete window, or fails as unreachable.
    struct FakeConnector {
        fail: bool,
    }

    impl Connector for FakeConnector {
        fn kind(&self) -> crate::connector::IntegrationKind {
            crate::connector::IntegrationKind::Fhir
        }
        fn availability(&mut self, _: crate::time::Interval) -> Result<crate::connector::WindowRead, ConnectorError> {
            if self.fail {
                return Err(ConnectorError::Unreachable { system: "Bad".into(), detail: "connection refused".into() });
            }
            Ok(crate::connector::WindowRead { slots: vec![], quarantined: vec![], complete: true, incomplete_reason: None })
        }
        fn changes_since(&mut self, _: Option<&str>, _: DateTime<Utc>) -> Result<Option<crate::connector::ChangeBatch>, ConnectorError> {
            Ok(None)
        }
        fn book(&mut self, _: &crate::connector::SlotToBook, _: &str) -> Result<crate::connector::Booked, ConnectorError> {
            unreachable!("not booked in these tests")
        }
        fn cancel(&mut self, _: &str) -> Result<(), ConnectorError> {
            unreachable!("not cancelled in these tests")
        }
    }

    #[test]
    fn the_runner_syncs_records_failures_pauses_and_syncs_now() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.db");
        let key = DbKey::Raw([7; 32]);
        let t0 = at(12, 0, 0);
        let settings = crate::connector::IntegrationSettings {
            base_url: "http://127.0.0.1:9/r4".into(),
            stu3_base_url: None,
            tz: "UTC".into(),
            auth: crate::auth::AuthConfig::None,
            service_types: vec![],
            practitioners: vec![],
            locations: vec![],
            page_size: 100,
            athena: None,
            calendars: Vec::new(),
        };
        {
            let mut store = Store::open(&db, &key).unwrap();
            store.add_integration(crate::connector::IntegrationKind::Fhir, "Bad", &settings, t0).unwrap();
            store.add_integration(crate::connector::IntegrationKind::Fhir, "Good", &settings, t0).unwrap();
        }
        let (tx, rx) = std::sync::mpsc::channel::<WorkerEvent>();
        let tx = Mutex::new(tx);
        let config = WorkerConfig {
            connectors: Arc::new(|i: &Integration| Ok(Box::new(FakeConnector { fail: i.name == "Bad" }) as Box<dyn Connector>)),
            clock: Arc::new(move || t0),
            jitter: Arc::new(|_: i64, _: DateTime<Utc>| StdDuration::ZERO),
            on_event: Arc::new(move |e: &WorkerEvent| tx.lock().unwrap().send(e.clone()).unwrap()),
            ..WorkerConfig::new(db.clone(), key.clone(), NoSecrets)
        };
        // The worker runs in the background on the runtime's own thread.
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let next_event = || rx.recv_timeout(StdDuration::from_secs(5)).expect("a worker event");
        let handle = Worker::start(config.clone(), rt.handle()).unwrap();
        // Both never synced: by id, Bad then Good.
        let first = next_event();
        let second = next_event();
        let summary = |e: &WorkerEvent| match e {
            WorkerEvent::Synced { report, manual, next_due } => (report.integration.clone(), report.failed, *manual, *next_due),
            WorkerEvent::Error { integration, error } => panic!("{integration}: {error}"),
            WorkerEvent::Polled { report } => panic!("unexpected poll: {report:?}"),
        };
        assert_eq!(summary(&first), ("Bad".into(), true, false, Some(t0 + Duration::minutes(1))));
        assert_eq!(summary(&second), ("Good".into(), false, false, Some(t0 + Duration::minutes(15))));
        {
            let store = Store::open(&db, &key).unwrap();
            let bad = store.integration("Bad").unwrap().unwrap();
            assert_eq!((bad.failures, bad.last_attempt_at, bad.last_sync_at), (1, Some(t0), None));
            assert_eq!(bad.last_error.as_deref(), Some("could not reach Bad: connection refused"));
            let good = store.integration("Good").unwrap().unwrap();
            assert_eq!((good.failures, good.last_attempt_at, good.last_sync_at, good.last_error), (0, Some(t0), Some(t0), None));
        }
        // A second scheduler on the same database is refused while this one runs.
        assert!(matches!(Worker::start(config.clone(), rt.handle()), Err(WorkerError::Lock(LockError::Held { .. }))));

        rt.block_on(handle.pause("good")).unwrap();
        assert!(!Store::open(&db, &key).unwrap().integration("Good").unwrap().unwrap().active);
        // "Sync now" runs a paused integration; it stays paused (no next due time).
        rt.block_on(handle.sync_now("Good")).unwrap();
        assert_eq!(summary(&next_event()), ("Good".into(), false, true, None));
        assert!(matches!(rt.block_on(handle.sync_now("Nope")), Err(WorkerError::UnknownIntegration(n)) if n == "Nope"));
        rt.block_on(handle.resume("Good")).unwrap();
        assert!(Store::open(&db, &key).unwrap().integration("Good").unwrap().unwrap().active);
        // Nothing else is due at the frozen clock.
        assert!(rx.recv_timeout(StdDuration::from_millis(200)).is_err());
        rt.block_on(handle.stop()).unwrap();
        // Stopped: the lock is free again.
        let again = Worker::start(config, rt.handle()).unwrap();
        rt.block_on(again.stop()).unwrap();
    }

    /// A connector with a change feed: each poll returns the next scripted batch and records
    /// the cursor and start it was asked with.
    /// The cursor and start each poll was asked with.
    type Calls = Arc<Mutex<Vec<(Option<String>, DateTime<Utc>)>>>;

    struct FeedConnector {
        calls: Calls,
        batches: Arc<Mutex<VecDeque<crate::connector::ChangeBatch>>>,
    }

    impl Connector for FeedConnector {
        fn kind(&self) -> crate::connector::IntegrationKind {
            crate::connector::IntegrationKind::Fhir
        }
        fn availability(&mut self, _: crate::time::Interval) -> Result<crate::connector::WindowRead, ConnectorError> {
            Ok(crate::connector::WindowRead { slots: vec![], quarantined: vec![], complete: true, incomplete_reason: None })
        }
        fn changes_since(&mut self, cursor: Option<&str>, start: DateTime<Utc>) -> Result<Option<crate::connector::ChangeBatch>, ConnectorError> {
            self.calls.lock().unwrap().push((cursor.map(str::to_string), start));
            Ok(self.batches.lock().unwrap().pop_front())
        }
        fn book(&mut self, _: &crate::connector::SlotToBook, _: &str) -> Result<crate::connector::Booked, ConnectorError> {
            unreachable!("not booked in these tests")
        }
        fn cancel(&mut self, _: &str) -> Result<(), ConnectorError> {
            unreachable!("not cancelled in these tests")
        }
    }

    fn feed_slot(status: crate::model::SlotStatus) -> crate::connector::RemoteSlot {
        crate::connector::RemoteSlot {
            external_id: "slot-1".into(),
            span: crate::time::Interval { start: at(15, 0, 0), end: at(15, 30, 0) },
            status,
            provider: "Dr. Rivera".into(),
            provider_ref: None,
            location: None,
            location_ref: None,
            service_type: None,
            schedule_ref: None,
            booking: serde_json::Value::Null,
        }
    }

    #[test]
    fn change_feeds_are_polled_every_minute_between_syncs_and_move_the_cursor() {
        use crate::connector::ChangeBatch;
        use crate::model::SlotStatus;
        use std::sync::atomic::{AtomicI64, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("feed.db");
        let key = DbKey::Raw([9; 32]);
        let t0 = at(12, 0, 0);
        let settings = crate::connector::IntegrationSettings::new("http://127.0.0.1:9/r4", "UTC", crate::auth::AuthConfig::None);
        Store::open(&db, &key).unwrap().add_integration(crate::connector::IntegrationKind::Fhir, "Feed", &settings, t0).unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let batch = |status, cursor: &str, complete| ChangeBatch { slots: vec![feed_slot(status)], quarantined: vec![], cursor: cursor.into(), complete };
        let batches = Arc::new(Mutex::new(VecDeque::from([
            batch(SlotStatus::Free, "c1", true),
            // Incomplete (say, Google's 410 Gone): applied, then the whole window is read, and
            // the new cursor is kept because that read was complete.
            batch(SlotStatus::Busy, "c2", false),
            batch(SlotStatus::Free, "c3", true),
        ])));
        let clock = Arc::new(AtomicI64::new(t0.timestamp()));
        let (tx, rx) = std::sync::mpsc::channel::<WorkerEvent>();
        let tx = Mutex::new(tx);
        let (c, b, k) = (calls.clone(), batches.clone(), clock.clone());
        let config = WorkerConfig {
            connectors: Arc::new(move |_: &Integration| Ok(Box::new(FeedConnector { calls: c.clone(), batches: b.clone() }) as Box<dyn Connector>)),
            clock: Arc::new(move || DateTime::from_timestamp(k.load(Ordering::SeqCst), 0).unwrap()),
            jitter: Arc::new(|_: i64, _: DateTime<Utc>| StdDuration::ZERO),
            on_event: Arc::new(move |e: &WorkerEvent| tx.lock().unwrap().send(e.clone()).unwrap()),
            rescan: StdDuration::from_millis(50),
            ..WorkerConfig::new(db.clone(), key.clone(), NoSecrets)
        };
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let next_event = || rx.recv_timeout(StdDuration::from_secs(5)).expect("a worker event");
        let handle = Worker::start(config, rt.handle()).unwrap();
        assert!(matches!(next_event(), WorkerEvent::Synced { .. }));
        // Not polled right after its sync: the next poll is a minute later.
        assert!(rx.recv_timeout(StdDuration::from_millis(300)).is_err());
        assert!(calls.lock().unwrap().is_empty());
        let polled = |e: WorkerEvent| match e {
            WorkerEvent::Polled { report } => (report.added, report.changed, report.removed, report.full_resync, report.complete),
            other => panic!("expected a poll, got {other:?}"),
        };
        let cursor = || Store::open(&db, &key).unwrap().integration("Feed").unwrap().unwrap().cursor;
        let status = || Store::open(&db, &key).unwrap().published_slots(None, crate::time::Interval { start: at(0, 0, 0), end: at(23, 0, 0) }).unwrap()
            .iter().map(|s| s.status).collect::<Vec<_>>();

        clock.store(t0.timestamp() + 60, Ordering::SeqCst);
        assert_eq!(polled(next_event()), (1, 0, 0, false, true));
        // The first poll starts from the last complete sync (t0), not from now.
        assert_eq!(calls.lock().unwrap()[0], (None, t0));
        assert_eq!(cursor().as_deref(), Some("c1"));
        assert_eq!(status(), vec![SlotStatus::Free]);

        clock.store(t0.timestamp() + 120, Ordering::SeqCst);
        // The slot turned busy, then the full read (which lists nothing) removed it.
        assert_eq!(polled(next_event()), (0, 1, 1, true, true));
        assert_eq!(calls.lock().unwrap()[1], (Some("c1".into()), t0 + Duration::seconds(120)));
        assert_eq!(cursor().as_deref(), Some("c2"));
        assert_eq!(status(), Vec::<SlotStatus>::new());
        let integ = Store::open(&db, &key).unwrap().integration("Feed").unwrap().unwrap();
        assert_eq!(integ.last_sync_at, Some(t0 + Duration::seconds(120)), "the full read counts as a sync");

        clock.store(t0.timestamp() + 180, Ordering::SeqCst);
        // Listed again: the slot kept in history comes back (a change, not a new slot).
        assert_eq!(polled(next_event()), (0, 1, 0, false, true));
        assert_eq!(status(), vec![SlotStatus::Free]);
        assert_eq!(calls.lock().unwrap()[2].0.as_deref(), Some("c2"));
        assert_eq!(cursor().as_deref(), Some("c3"));
        // The feed is now empty (None = no feed): polled once more, then never again.
        clock.store(t0.timestamp() + 240, Ordering::SeqCst);
        std::thread::sleep(StdDuration::from_millis(300));
        clock.store(t0.timestamp() + 300, Ordering::SeqCst);
        std::thread::sleep(StdDuration::from_millis(300));
        assert_eq!(calls.lock().unwrap().len(), 4);
        rt.block_on(handle.stop()).unwrap();
    }

    #[test]
    fn a_second_scheduler_lock_on_one_database_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        let first = SchedulerLock::acquire(&db).unwrap();
        assert_eq!(first.path(), dir.path().join("m.db.scheduler.lock"));
        match SchedulerLock::acquire(&db) {
            Err(e @ LockError::Held { pid, .. }) => {
                assert_eq!(pid, Some(std::process::id()));
                let text = e.to_string();
                assert!(text.starts_with("Another MedHarmony Desk is already keeping "), "{text}");
                assert!(text.contains(&format!("(process {})", std::process::id())), "{text}");
            }
            other => panic!("expected Held, got {other:?}"),
        }
        // Another database is independent.
        let _other = SchedulerLock::acquire(&dir.path().join("n.db")).unwrap();
        drop(first);
        let again = SchedulerLock::acquire(&db).unwrap();
        assert_eq!(std::fs::read_to_string(again.path()).unwrap().trim(), std::process::id().to_string());
    }
}
