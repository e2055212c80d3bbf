//! The opening announcer (issue "Cancellation fill"): when a change committed by this app (a
//! sync, a change feed, a webhook, an offer) or by another program on the same database records
//! openings, the window's Openings page is refreshed (`openings-found`) and a desktop
//! notification goes out at once — "Dr. Rivera, Tue Dec 8, 10:30 AM opened — 3 waitlisted
//! patients fit" — unless it is quiet hours. Clicking it (or its "Show suggestions" action)
//! brings the window up on that time (`open-slot`).
//!
//! The announcer is one thread with its own database connection, woken by the
//! [`crate::live::ChangeEmitter`] after every change (and every [`FALLBACK_POLL`] in case a wake
//! was missed). What is announced and how bursts are coalesced is the engine's
//! [`medharmony::fill::notice`]; the count of waiting patients who fit uses the deterministic
//! filter only, so the notification never waits for a language model.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::Local;
use medharmony::fill::notice::{Notice, NoticeBoard, OpeningWatch};
use medharmony::store::Store;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::dto::names::{OPENINGS_FOUND, OPEN_SLOT};
use crate::dto::{OpenSlot, OpeningDto};
use crate::live::ChangeEmitter;
use crate::state::DeskState;

/// How often the announcer looks without being woken (10 s).
pub const FALLBACK_POLL: Duration = Duration::from_secs(10);

/// The notification's action that opens the app on the time (besides a click on its body,
/// which the freedesktop protocol names `default`).
pub const SHOW_ACTION: &str = "show";

/// The running announcer; stops when dropped.
pub struct Announcer {
    stop: Arc<AtomicBool>,
    wake: std::sync::mpsc::SyncSender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.try_send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Which notification on screen shows which times: a notice that grows replaces the one shown
/// (same server id), and a click opens the soonest time of the latest version.
#[derive(Default)]
struct OnScreen {
    /// Notice id → (notification server id, its times soonest first).
    shown: HashMap<u64, (u32, Vec<String>)>,
}

/// Starts the announcer for the app's database; `None` when the database is not open.
pub fn start<R: Runtime>(app: &AppHandle<R>, emitter: &ChangeEmitter<R>) -> Option<Announcer> {
    let state = app.state::<DeskState>();
    let reader = match state.open_reader()? {
        Ok(r) => r,
        Err(e) => {
            log::warn!("openings will not be announced: {e}");
            return None;
        }
    };
    let watch = match OpeningWatch::from_now(&reader) {
        Ok(w) => w,
        Err(e) => {
            log::warn!("openings will not be announced: {e}");
            return None;
        }
    };
    let (tx, rx) = sync_channel::<()>(1);
    emitter.set_waker(tx.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let app = app.clone();
    let thread = std::thread::Builder::new()
        .name("medharmony-openings".into())
        .spawn(move || {
            let mut watch = watch;
            let mut board = NoticeBoard::default();
            let screen = Arc::new(Mutex::new(OnScreen::default()));
            let mut failing = false;
            loop {
                match rx.recv_timeout(FALLBACK_POLL) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                match tick(&app, &reader, &mut watch, &mut board) {
                    Ok(Some(notice)) => show(&app, notice, &screen),
                    Ok(None) => failing = false,
                    Err(e) => {
                        if !failing {
                            log::warn!("could not read new openings: {e}");
                        }
                        failing = true;
                    }
                }
            }
        })
        .map_err(|e| log::error!("could not start the opening announcer: {e}"))
        .ok();
    Some(Announcer { stop, wake: tx, thread })
}

/// Reads new openings, tells the window, and returns the notice to show, if any.
fn tick<R: Runtime>(app: &AppHandle<R>, reader: &Store, watch: &mut OpeningWatch, board: &mut NoticeBoard) -> Result<Option<Notice>, String> {
    let now = app.state::<DeskState>().clock().now();
    let found = watch.poll(reader, now).map_err(|e| e.to_string())?;
    if found.is_empty() {
        return Ok(None);
    }
    let dtos: Vec<OpeningDto> = found.iter().map(|n| OpeningDto::from(&n.opening)).collect();
    if let Err(e) = app.emit(OPENINGS_FOUND, dtos) {
        log::warn!("could not tell the window about new openings: {e}");
    }
    let quiet = reader.fill_settings().map_err(|e| e.to_string())?.quiet_hours;
    let local = now.with_timezone(&Local).time();
    let notice = board.on_openings(found, now, local, quiet.as_ref());
    if notice.is_none() {
        log::info!("new openings listed; no notification (quiet hours, or none still free)");
    }
    Ok(notice)
}

/// Shows (or replaces) the notification for `notice` and waits, on a thread of its own, for a
/// click, which opens the window on the notice's soonest time.
fn show<R: Runtime>(app: &AppHandle<R>, notice: Notice, screen: &Arc<Mutex<OnScreen>>) {
    let mut n = notify_rust::Notification::new();
    n.appname("MedHarmony Desk").summary(&notice.summary).body(&notice.body).action("default", "Show").action(SHOW_ACTION, "Show suggestions");
    let replaces = screen.lock().ok().and_then(|s| s.shown.get(&notice.id).map(|(server, _)| *server));
    if let Some(server_id) = replaces {
        n.id(server_id);
    }
    let handle = match n.show() {
        Ok(h) => h,
        Err(e) => {
            log::warn!("could not show a desktop notification: {e}");
            return;
        }
    };
    log::info!("opening notification shown ({} time(s))", notice.slots.len());
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let server_id = handle.id();
        if let Ok(mut s) = screen.lock() {
            s.shown.insert(notice.id, (server_id, notice.slots.clone()));
        }
        if replaces.is_some() {
            return; // the thread waiting on the first version answers its clicks
        }
        let (app, screen, notice_id) = (app.clone(), Arc::clone(screen), notice.id);
        let _ = std::thread::Builder::new().name("medharmony-notification".into()).spawn(move || {
            handle.wait_for_action(|action| {
                if action != "default" && action != SHOW_ACTION {
                    return;
                }
                let slot = screen.lock().ok().and_then(|s| s.shown.get(&notice_id).and_then(|(_, slots)| slots.first().cloned()));
                if let Some(slot_id) = slot {
                    open_slot(&app, &slot_id);
                }
            });
            if let Ok(mut s) = screen.lock() {
                s.shown.remove(&notice_id);
            }
        });
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = (handle, screen, app);
    }
}

/// Brings the window up on `slot_id`: remembered for a window that is not listening yet
/// (`pending_open_slot`), and emitted as `open-slot`.
pub fn open_slot<R: Runtime>(app: &AppHandle<R>, slot_id: &str) {
    app.state::<DeskState>().set_open_slot(slot_id);
    crate::show_main(app);
    if let Err(e) = app.emit(OPEN_SLOT, OpenSlot { slot_id: slot_id.to_string() }) {
        log::warn!("could not ask the window to show the time: {e}");
    }
}
