//! Live updates: every committed change of the database becomes one
//! `store-changed` Tauri event ([`crate::dto::StoreChanged`]).
//!
//! * Writes made by this app reach the [`ChangeEmitter`] through the store's
//!   [`EventSink`] right after they commit.
//! * Writes made by other processes on the same file (the CLI, later the sync
//!   worker) are found by a [`Follower`] thread that polls
//!   [`Store::changes_since`] on its own connection every [`POLL_INTERVAL`].
//!
//! Both paths share the highest sequence number already emitted, so each
//! change is emitted exactly once whichever path sees it first.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use medharmony::events::{Change, EventSink};
use medharmony::store::Store;
use tauri::{AppHandle, Emitter, Runtime};

use crate::dto::{names::STORE_CHANGED, StoreChanged};

/// How often the follower looks for other processes' changes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(700);

/// Most changes read per poll; the rest come on the next poll.
const BATCH: i64 = 500;

/// Turns committed changes into `store-changed` events, once per sequence number.
pub struct ChangeEmitter<R: Runtime> {
    app: AppHandle<R>,
    last: Arc<AtomicI64>,
    waker: Arc<OnceLock<SyncSender<()>>>,
}

impl<R: Runtime> Clone for ChangeEmitter<R> {
    fn clone(&self) -> Self {
        Self { app: self.app.clone(), last: Arc::clone(&self.last), waker: Arc::clone(&self.waker) }
    }
}

impl<R: Runtime> ChangeEmitter<R> {
    /// An emitter that treats changes up to `last_seq` as already seen.
    pub fn new(app: AppHandle<R>, last_seq: i64) -> Self {
        Self { app, last: Arc::new(AtomicI64::new(last_seq)), waker: Arc::new(OnceLock::new()) }
    }

    /// Wakes `waker`'s receiver after every change emitted (the opening announcer): a full
    /// channel means it is awake already, so the send never blocks the committing thread.
    pub fn set_waker(&self, waker: SyncSender<()>) {
        let _ = self.waker.set(waker);
    }

    /// The highest sequence number emitted (or seen at start).
    pub fn last_seq(&self) -> i64 {
        self.last.load(Ordering::SeqCst)
    }

    /// Emits `change` unless a change with this or a later sequence number
    /// was emitted already. Returns true when it emitted.
    pub fn emit_change(&self, change: &Change) -> bool {
        if self.last.fetch_max(change.seq, Ordering::SeqCst) >= change.seq {
            return false;
        }
        if let Err(e) = self.app.emit(STORE_CHANGED, StoreChanged::from(change)) {
            log::warn!("could not emit a store change event: {e}");
        }
        if let Some(w) = self.waker.get() {
            let _ = w.try_send(());
        }
        true
    }
}

impl<R: Runtime> EventSink for ChangeEmitter<R> {
    fn emit(&self, change: &Change) {
        self.emit_change(change);
    }
}

/// The background thread following the change log; stops when dropped.
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Follower {
    /// Starts following `reader` (a connection of its own) from the emitter's
    /// last sequence number, polling every `interval`.
    pub fn spawn<R: Runtime>(reader: Store, emitter: ChangeEmitter<R>, interval: Duration) -> Follower {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("medharmony-change-follower".into())
            .spawn(move || {
                let mut failing = false;
                while !flag.load(Ordering::SeqCst) {
                    match reader.changes_since(emitter.last_seq(), BATCH) {
                        Ok(changes) => {
                            failing = false;
                            for c in &changes {
                                emitter.emit_change(c);
                            }
                            if changes.len() as i64 == BATCH {
                                continue; // more waiting: read on without sleeping
                            }
                        }
                        Err(e) => {
                            if !failing {
                                log::warn!("could not read the change log: {e}");
                            }
                            failing = true;
                        }
                    }
                    std::thread::sleep(interval);
                }
            })
            .map_err(|e| log::error!("could not start the change follower: {e}"))
            .ok();
        Follower { stop, thread }
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.halt();
    }
}
