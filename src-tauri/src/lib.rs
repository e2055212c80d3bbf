//! MedHarmony Desk: a thin Tauri v2 shell over the `medharmony` engine.
//!
//! * [`state`] opens the encrypted store ([`state::DeskState`]); a database
//!   that cannot be opened becomes a message in the window, not a crash.
//! * [`commands`] are small wrappers over the engine returning [`dto`] types
//!   or a [`error::DeskError`] (serialized as its plain message).
//! * [`live`] turns the store's change log into `store-changed` events, for
//!   this app's writes (an [`medharmony::events::EventSink`]) and for other
//!   processes' (a polling follower).
//! * [`week`] assembles the providers × days view.
//! * [`words`] says the engine's messages in front-desk words.
//! * [`integrations`] connects, syncs and disconnects EHRs (the engine's
//!   `connect` and `sync`) on worker connections, off the UI thread.
//! * [`fill`] is cancellation fill in the window (openings, suggestions, offer and book, the
//!   waitlist, settings, who is at the desk); [`openings`] announces new openings with a
//!   desktop notification that opens the window on the time.
//!
//! The UI lives in `ui/` (TypeScript + Vite) and is embedded from `ui/dist`.

#![warn(missing_docs)]

pub mod commands;
pub mod dto;
pub mod error;
pub mod fill;
pub mod integrations;
pub mod live;
pub mod notify;
pub mod openings;
pub mod state;
pub mod week;
pub mod words;

use std::sync::{Arc, Mutex};

use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

use crate::live::{ChangeEmitter, Follower, POLL_INTERVAL};
use crate::state::DeskState;

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// When this process started the app ([`run`] records it first thing).
pub fn started() -> std::time::Instant {
    *STARTED.get_or_init(std::time::Instant::now)
}

/// Label of the main window (see `tauri.conf.json`).
pub const MAIN_WINDOW: &str = "main";

/// The bundle identifier (see `tauri.conf.json`).
pub const IDENTIFIER: &str = "health.medharmony.desk";

/// The single-instance key on Linux (a D-Bus name): one running window per
/// database. The default database uses the bundle identifier; a database
/// named by `MEDHARMONY_DB` (tests, a second practice) gets its own key, so
/// a second launch on the same file focuses the first window while apps on
/// other files run side by side.
pub fn instance_id(db_env: Option<&std::ffi::OsStr>) -> String {
    use std::hash::{Hash, Hasher};
    match db_env.filter(|v| !v.is_empty()) {
        None => IDENTIFIER.to_string(),
        Some(db) => {
            let path = std::path::absolute(db).unwrap_or_else(|_| std::path::PathBuf::from(db));
            let mut h = std::collections::hash_map::DefaultHasher::new();
            path.hash(&mut h);
            format!("{IDENTIFIER}.db_{:016x}", h.finish())
        }
    }
}

/// True when a D-Bus session bus can be reached, which the single-instance
/// plugin needs on Linux to hand a second launch over to the running window:
/// `DBUS_SESSION_BUS_ADDRESS`, else the standard socket `$XDG_RUNTIME_DIR/bus`.
pub fn session_bus_available(address: Option<&std::ffi::OsStr>, runtime_dir: Option<&std::ffi::OsStr>) -> bool {
    if address.is_some_and(|a| !a.is_empty()) {
        return true;
    }
    runtime_dir.filter(|d| !d.is_empty()).is_some_and(|d| std::path::Path::new(d).join("bus").exists())
}

/// The IPC handler with every command of [`dto::names::COMMANDS`].
pub fn invoke_handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        commands::app_status,
        commands::week,
        commands::check_file,
        commands::import_file,
        commands::remove_demo,
        commands::load_demo,
        commands::time_zones,
        commands::ui_ready,
        commands::integrations,
        commands::connect_integration,
        commands::cancel_sign_in,
        commands::sync_now,
        commands::disconnect_integration,
        commands::reconnect_integration,
        commands::find_calendars,
        commands::set_integration_paused,
        commands::fill_view,
        commands::fill_suggestions,
        commands::offer_slot,
        commands::book_offer,
        commands::release_offer,
        commands::waitlist,
        commands::save_waitlist_entry,
        commands::remove_waitlist_entry,
        commands::import_waitlist,
        commands::patient_options,
        commands::fill_settings,
        commands::save_fill_settings,
        commands::staff,
        commands::set_staff,
        commands::pending_open_slot,
    ]
}

/// Keeps the change follower alive for the life of the app.
pub struct FollowerSlot(pub Mutex<Option<Follower>>);

/// Wires `state` into the app: seeds the demo practice on first run, installs
/// the change emitter as the store's event sink, starts the change-log
/// follower and manages the state. Used by [`run`] and by the tests.
pub fn attach<R: Runtime>(app: &AppHandle<R>, state: DeskState) {
    if state.problem().is_none() {
        match state.seed_demo_on_first_run() {
            Ok(true) => log::info!("first run: loaded the demo practice"),
            Ok(false) => {}
            Err(e) => log::warn!("could not load the demo practice on first run ({})", e.kind()),
        }
    }
    let last = state.with_store(|s| Ok(s.last_change_seq()?)).unwrap_or(0);
    let emitter = ChangeEmitter::new(app.clone(), last);
    state.set_event_sink(Arc::new(emitter.clone()));
    let follower = match state.open_reader() {
        Some(Ok(reader)) => Some(Follower::spawn(reader, emitter.clone(), POLL_INTERVAL)),
        Some(Err(e)) => {
            log::warn!("live updates from other programs are off: {e}");
            None
        }
        None => None,
    };
    if let Some(problem) = state.problem_info() {
        // The reason names no patient data (key or file problems).
        log::error!("the database could not be opened ({:?}): {}", problem.kind, problem.detail.as_deref().unwrap_or(&problem.text));
    }
    app.manage(state);
    app.manage(FollowerSlot(Mutex::new(follower)));
    let announcer = openings::start(app, &emitter);
    app.manage(OpeningsSlot(Mutex::new(announcer)));
}

/// Keeps the opening announcer ([`openings`]) alive for the life of the app.
pub struct OpeningsSlot(pub Mutex<Option<openings::Announcer>>);

/// Keeps the sync worker running for the life of the app.
pub struct WorkerSlot(pub Mutex<Option<medharmony::worker::WorkerHandle>>);

/// How often the app's worker re-reads the schedule, so an integration
/// connected by the `medharmony` command or paused elsewhere is seen soon: 5 s.
pub const WORKER_RESCAN: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts the sync worker (issue "Sync worker"): every active integration is
/// synced on its schedule while the app runs. When another program (e.g.
/// `medharmony serve`) already keeps this database in sync, the app leaves it
/// to that program.
pub fn start_worker<R: Runtime>(app: &AppHandle<R>) {
    let Some(mut config) = app.state::<DeskState>().worker_config(WORKER_RESCAN) else { return };
    let notices = Arc::new(notify::ReconnectNotices::default());
    config.on_event = Arc::new(move |e| {
        if let Some((summary, body)) = notices.on_event(e) {
            notify::show(summary, body);
        }
    });
    let sink = config.sink.clone();
    let (db_path, key) = (config.db_path.clone(), config.key.clone());
    let runtime = tauri::async_runtime::handle();
    let handle = match medharmony::worker::Worker::start(config, runtime.inner()) {
        Ok(h) => Some(h),
        Err(medharmony::worker::WorkerError::Lock(e @ medharmony::worker::LockError::Held { .. })) => {
            log::info!("another program keeps this database in sync; this window only shows it ({e})");
            None
        }
        Err(e) => {
            log::warn!("scheduled syncs are off: {e}");
            None
        }
    };
    // The webhook receiver runs beside the scheduler (same process, same database), so pushed
    // changes from the practice's network appear at once; `medharmony serve` runs its own.
    let webhooks = match (&handle, webhook_listen(std::env::var("MEDHARMONY_WEBHOOK_LISTEN").ok().as_deref())) {
        (Some(_), Some(listen)) => {
            let cfg = medharmony::webhook::WebhookConfig {
                sink,
                ..medharmony::webhook::WebhookConfig::new(listen, db_path, key, medharmony::store::key::OsKeychain)
            };
            match medharmony::webhook::WebhookServer::start(cfg, runtime.inner()) {
                Ok(server) => {
                    log::info!("receiving webhooks on {}", server.local_addr());
                    Some(server)
                }
                Err(e) => {
                    log::warn!("webhooks are off: {e}");
                    None
                }
            }
        }
        _ => None,
    };
    app.manage(WorkerSlot(Mutex::new(handle)));
    app.manage(WebhookSlot(Mutex::new(webhooks)));
}

/// Keeps the webhook receiver running for the life of the app.
pub struct WebhookSlot(pub Mutex<Option<medharmony::webhook::WebhookServer>>);

/// Where the app receives webhooks: `MEDHARMONY_WEBHOOK_LISTEN` (an `address:port`, e.g. a LAN
/// address for the practice's interface engine), [`medharmony::webhook::DEFAULT_LISTEN`] when
/// unset, `None` for `off` or an unreadable value (logged).
pub fn webhook_listen(setting: Option<&str>) -> Option<std::net::SocketAddr> {
    match setting.map(str::trim) {
        None | Some("") => medharmony::webhook::DEFAULT_LISTEN.parse().ok(),
        Some(v) if v.eq_ignore_ascii_case("off") => None,
        Some(v) => match v.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                log::warn!("MEDHARMONY_WEBHOOK_LISTEN is not an address:port ({v}); webhooks are off");
                None
            }
        },
    }
}

/// Shows, unminimizes and focuses the main window.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// The tray icon with "Open" and "Quit".
fn build_tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open MedHarmony Desk", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut tray = TrayIconBuilder::with_id("main-tray")
        .tooltip("MedHarmony Desk")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_main(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                show_main(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Runs the desktop app.
///
/// # Panics
/// When the windowing system cannot be started (Tauri's own start-up failure).
pub fn run() {
    started();
    // Without a session bus the single-instance plugin cannot find a running
    // window; the database lock (see `state::lock_database`) still keeps a
    // second window off the same database.
    let no_bus = cfg!(target_os = "linux")
        && !session_bus_available(std::env::var_os("DBUS_SESSION_BUS_ADDRESS").as_deref(), std::env::var_os("XDG_RUNTIME_DIR").as_deref());
    let log = tauri_plugin_log::Builder::new()
        .clear_targets()
        .targets([
            tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::Stdout),
            tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::LogDir { file_name: Some("medharmony-desk".into()) }),
        ])
        .level(log::LevelFilter::Info)
        .rotation_strategy(tauri_plugin_log::RotationStrategy::KeepSome(5))
        .max_file_size(2_000_000)
        .build();
    let window_state = tauri_plugin_window_state::Builder::new()
        .with_state_flags(
            tauri_plugin_window_state::StateFlags::SIZE | tauri_plugin_window_state::StateFlags::POSITION | tauri_plugin_window_state::StateFlags::MAXIMIZED,
        )
        .build();
    tauri::Builder::default()
        // First, so a second launch only focuses the running window.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .callback(|app, _args, _cwd| show_main(app))
                .dbus_id(instance_id(std::env::var_os(state::DB_ENV).as_deref()))
                .build(),
        )
        .plugin(log)
        .plugin(window_state)
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(invoke_handler())
        .setup(move |app| {
            if no_bus {
                log::warn!(
                    "no D-Bus session bus: a second launch cannot switch to this window; the database lock keeps a second window off the same database"
                );
            }
            attach(app.handle(), DeskState::from_env());
            start_worker(app.handle());
            if let Err(e) = build_tray(app.handle()) {
                log::warn!("no tray icon: {e}");
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("MedHarmony Desk could not start its window");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_listen_setting() {
        assert_eq!(webhook_listen(None), Some("127.0.0.1:8737".parse().unwrap()));
        assert_eq!(webhook_listen(Some(" ")), Some("127.0.0.1:8737".parse().unwrap()));
        assert_eq!(webhook_listen(Some("OFF")), None);
        assert_eq!(webhook_listen(Some("192.168.1.20:9000")), Some("192.168.1.20:9000".parse().unwrap()));
        assert_eq!(webhook_listen(Some("192.168.1.20")), None);
    }

    #[test]
    fn identifier_matches_the_config() {
        let conf: serde_json::Value = serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        assert_eq!(conf["identifier"], IDENTIFIER);
        assert_eq!(conf["productName"], "MedHarmony Desk");
    }

    #[test]
    fn session_bus_detection() {
        let dir = tempfile::tempdir().unwrap();
        assert!(session_bus_available(Some("unix:path=/run/user/1000/bus".as_ref()), None));
        assert!(!session_bus_available(Some("".as_ref()), None));
        assert!(!session_bus_available(None, Some(dir.path().as_os_str())));
        std::fs::write(dir.path().join("bus"), b"").unwrap();
        assert!(session_bus_available(None, Some(dir.path().as_os_str())));
        assert!(!session_bus_available(None, None));
    }

    #[test]
    fn one_instance_per_database() {
        assert_eq!(instance_id(None), IDENTIFIER);
        assert_eq!(instance_id(Some("".as_ref())), IDENTIFIER);
        let a = instance_id(Some("/tmp/a.db".as_ref()));
        assert_eq!(a, instance_id(Some("/tmp/a.db".as_ref())));
        assert_ne!(a, instance_id(Some("/tmp/b.db".as_ref())));
        // A valid D-Bus name element: letters, digits and underscores, not starting with a digit.
        let last = a.rsplit('.').next().unwrap();
        assert!(last.starts_with("db_") && last.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{a}");
    }
}
