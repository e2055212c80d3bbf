//! The shell's commands through Tauri's mock runtime (no display): every
//! command is invoked over IPC exactly as the UI calls it, on a temporary
//! database opened with a `MEDHARMONY_DB_KEY`-style passphrase.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use medharmony::store::key::{DbKey, KeyError};
use medharmony::store::Store;
use medharmony_desk::dto::names::{COMMANDS, STORE_CHANGED};
use medharmony_desk::state::{Clock, DeskState};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};

const NOW: &str = "2026-03-04T15:00:00Z";
const RIVERA: &str = "Dr. Ana Rivera (Demo)";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(rel)
}

fn key() -> DbKey {
    DbKey::from_env_value("medharmony-desk-test").unwrap()
}

struct Desk {
    _dir: Option<tempfile::TempDir>,
    db: PathBuf,
    app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    events: Receiver<Value>,
}

impl Desk {
    /// An app on a fresh database in a temporary folder.
    fn new() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("desk.db");
        let mut d = Desk::open(&db, Ok(key()));
        d._dir = Some(dir);
        d
    }

    /// An app on `db` with the given key outcome.
    fn open(db: &Path, key: Result<DbKey, KeyError>) -> Desk {
        let app = mock_builder().invoke_handler(medharmony_desk::invoke_handler()).build(mock_context(noop_assets())).unwrap();
        let (tx, events) = channel();
        app.listen_any(STORE_CHANGED, move |e| {
            let _ = tx.send(serde_json::from_str::<Value>(e.payload()).unwrap());
        });
        let now: DateTime<Utc> = NOW.parse().unwrap();
        medharmony_desk::attach(app.handle(), DeskState::open(db.to_path_buf(), key, Clock::Fixed(now)));
        let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
        Desk { _dir: None, db: db.to_path_buf(), app, webview, events }
    }

    /// Invokes `cmd` with `args` over IPC; the error is the plain message.
    fn call(&self, cmd: &str, args: Value) -> Result<Value, String> {
        let req = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.webview, req)
            .map(|b| b.deserialize::<Value>().unwrap())
            .map_err(|e| e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string()))
    }

    fn week(&self, start: &str) -> Value {
        self.call("week", json!({"query": {"start": start}})).unwrap()
    }

    /// Events received so far.
    fn drain(&self) -> Vec<Value> {
        self.events.try_iter().collect()
    }

    /// Waits up to `limit` for an event matching `pred`.
    fn wait_for(&self, limit: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(v) = self.events.recv_timeout(Duration::from_millis(50)) {
                if pred(&v) {
                    return Some(v);
                }
            }
        }
        None
    }
}

fn provider_id(week: &Value, name: &str) -> i64 {
    week["all_providers"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no provider {name}"))["id"].as_i64().unwrap()
}

fn free_count(week: &Value, provider: i64, day: &str) -> usize {
    week["slots"].as_array().unwrap().iter().filter(|s| s["provider_id"] == provider && s["day"] == day && s["status"] == "free").count()
}

fn counts(week: &Value) -> (usize, usize, usize) {
    (week["all_providers"].as_array().unwrap().len(), week["slots"].as_array().unwrap().len(), week["busy"].as_array().unwrap().len())
}

#[test]
fn first_run_shows_the_demo_week_with_local_free_slots() {
    let desk = Desk::new();
    let status = desk.call("app_status", json!({})).unwrap();
    assert_eq!(status["ready"], true);
    assert_eq!(status["now"], NOW);
    assert_eq!(status["now_fixed"], true);
    let week = desk.week("2026-03-04");
    assert_eq!(week["start"], "2026-03-02");
    assert_eq!(week["has_demo"], true);
    assert_eq!(week["days"].as_array().unwrap().len(), 7);
    // Today is marked on the day the status calls today (the desk's own zone).
    let today = status["today"].as_str().unwrap();
    assert!(week["days"].as_array().unwrap().iter().all(|d| (d["date"] == today) == (d["is_today"] == true)));
    let names: Vec<&str> = week["providers"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, [RIVERA, "Dr. Mei Chen (Demo)", "Dr. Sam Okafor (Demo)"]);
    assert!(week["providers"].as_array().unwrap().iter().all(|p| p["demo"] == true));
    let rivera = provider_id(&week, RIVERA);
    let rv = week["providers"].as_array().unwrap().iter().find(|p| p["id"] == rivera).unwrap();
    assert_eq!(rv["tz"], "America/New_York");
    assert_eq!(rv["tz_abbrev"], "EST");
    // Wednesday 2026-03-04, 08:00-16:00 EST in 30-minute cells, minus huddle, lunch and visits.
    assert_eq!(free_count(&week, rivera, "2026-03-04"), 11);
    let first = week["slots"].as_array().unwrap().iter().find(|s| s["provider_id"] == rivera && s["day"] == "2026-03-04").unwrap();
    assert_eq!(first["start"], "2026-03-04T13:30:00Z", "08:30 EST, after the huddle");
    assert_eq!(first["source"], "working-hours");
    assert_eq!(week["sources"].as_array().unwrap().len(), 3);
    assert_eq!(week["sources"][0]["last_sync_at"], NOW);
    // The default week is today's week.
    let default = desk.call("week", json!({"query": null})).unwrap();
    assert_eq!(default["start"], status["week_start"]);
}

#[test]
fn filters_by_provider() {
    let desk = Desk::new();
    let all = desk.week("2026-03-02");
    let chen = provider_id(&all, "Dr. Mei Chen (Demo)");
    let only = desk.call("week", json!({"query": {"start": "2026-03-02", "provider_ids": [chen], "location": null}})).unwrap();
    assert_eq!(only["providers"].as_array().unwrap().len(), 1);
    assert_eq!(only["all_providers"].as_array().unwrap().len(), 3);
    assert!(only["slots"].as_array().unwrap().iter().all(|s| s["provider_id"] == chen));
    let err = desk.call("week", json!({"query": {"start": "next tuesday"}})).unwrap_err();
    assert_eq!(err, "'next tuesday' is not a date like 2026-03-02");
}

#[test]
fn imports_a_calendar_for_a_new_provider_and_emits_a_change() {
    let desk = Desk::new();
    desk.drain();
    let path = fixture("demo/rivera.ics");
    let check = desk.call("check_file", json!({"path": path})).unwrap();
    assert_eq!(check["kind"], "calendar");
    assert_eq!(check["needs_provider"], true);
    assert_eq!(check["calendar_name"], RIVERA);
    assert_eq!(check["calendar_zone"], "America/New_York");
    let report = desk
        .call("import_file", json!({"args": {"path": path, "provider": "Dr. Lee", "new_provider_tz": "America/Denver"}}))
        .unwrap();
    assert_eq!(report["file"], "rivera.ics");
    assert_eq!(report["provider"], "Dr. Lee");
    assert_eq!(report["events"], 5);
    assert!(report["instances"].as_u64().unwrap() > 50);
    assert!(report["summary"].as_str().unwrap().starts_with("rivera.ics: 5 events imported ("), "{report}");
    // The change reached the UI as typed events (provider added, busy time imported).
    let events = desk.drain();
    assert!(events.iter().any(|e| e["entity"] == "busy" && e["op"] == "import"), "{events:?}");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "each change once, in order: {seqs:?}");
    // A new provider gets default hours (Mon-Fri 07:00-17:00, 30 min) in Denver time: 20 cells on
    // Wednesday. The calendar's times are New York times: lunch 12-13 EST is 10-11 MST and the
    // visits 14-15 EST are 12-13 MST (4 cells); the 08:00 EST huddle is 06:00 MST, before hours.
    let week = desk.week("2026-03-02");
    let lee = provider_id(&week, "Dr. Lee");
    assert_eq!(week["providers"].as_array().unwrap().iter().find(|p| p["id"] == lee).unwrap()["tz_abbrev"], "MST");
    assert_eq!(free_count(&week, lee, "2026-03-04"), 16);
    // The follower does not repeat what the sink already emitted.
    assert!(desk.wait_for(Duration::from_millis(1600), |_| true).is_none());
}

#[test]
fn imports_a_spreadsheet_and_filters_by_location() {
    let desk = Desk::new();
    let path = fixture("csv/synonyms.csv");
    let check = desk.call("check_file", json!({"path": path})).unwrap();
    assert_eq!(check["kind"], "spreadsheet");
    assert_eq!(check["needs_provider"], false);
    let report = desk.call("import_file", json!({"args": {"path": path, "provider": null, "new_provider_tz": "America/New_York"}})).unwrap();
    assert_eq!(report["slots"], 2);
    assert_eq!(report["summary"], "synonyms.csv: 2 open slots imported for Dr Patel");
    let week = desk.week("2026-04-06");
    let patel = provider_id(&week, "Dr Patel");
    assert_eq!(free_count(&week, patel, "2026-04-06"), 2);
    let slot = week["slots"].as_array().unwrap().iter().find(|s| s["provider_id"] == patel).unwrap();
    assert_eq!(slot["location"], "Northside Clinic");
    assert_eq!(slot["start"], "2026-04-06T12:30:00Z", "08:30 EDT");
    assert!(slot["id"].as_str().unwrap().starts_with("slot-"));
    assert_eq!(week["locations"][0]["name"], "Northside Clinic");
    let at = desk.call("week", json!({"query": {"start": "2026-04-06", "location": "Northside Clinic"}})).unwrap();
    let names: Vec<&str> = at["providers"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Dr Patel"]);
}

#[test]
fn a_spreadsheet_without_provider_column_asks_for_one() {
    let desk = Desk::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("solo.csv");
    std::fs::write(&path, "date,start,end\n2026-03-05,09:00,09:30\n2026-03-05,09:30,10:00\n").unwrap();
    let check = desk.call("check_file", json!({"path": path})).unwrap();
    assert_eq!(check["needs_provider"], true);
    let report = desk.call("import_file", json!({"args": {"path": path, "provider": "Dr. Solo", "new_provider_tz": "America/Chicago"}})).unwrap();
    assert_eq!(report["slots"], 2);
    let week = desk.week("2026-03-05");
    assert_eq!(free_count(&week, provider_id(&week, "Dr. Solo"), "2026-03-05"), 2);
}

#[test]
fn refused_files_change_nothing() {
    let desk = Desk::new();
    let before = desk.week("2026-03-02");
    desk.drain();
    let bad = fixture("calendar/not-a-calendar.ics");
    let err = desk.call("import_file", json!({"args": {"path": bad, "provider": RIVERA}})).unwrap_err();
    assert!(err.starts_with("not-a-calendar.ics: "), "{err}");
    assert!(err.contains("not a calendar"), "{err}");
    let err = desk.call("import_file", json!({"args": {"path": fixture("demo/chen.ics")}})).unwrap_err();
    assert_eq!(err, "chen.ics: a calendar belongs to one provider; choose whose calendar it is");
    let err = desk.call("import_file", json!({"args": {"path": fixture("demo/chen.ics"), "provider": "Nobody"}})).unwrap_err();
    assert!(err.contains("choose a time zone"), "{err}");
    let err = desk.call("import_file", json!({"args": {"path": fixture("demo/chen.ics"), "provider": "X", "new_provider_tz": "Mars/Olympus"}})).unwrap_err();
    assert!(err.contains("'Mars/Olympus' is not a time zone"), "{err}");
    let err = desk.call("import_file", json!({"args": {"path": "/nonexistent/cal.ics", "provider": RIVERA}})).unwrap_err();
    assert!(err.starts_with("could not read cal.ics"), "{err}");
    let undecidable = fixture("csv/undecidable-date-order.csv");
    assert!(desk.call("import_file", json!({"args": {"path": undecidable, "new_provider_tz": "America/New_York"}})).is_err());
    let after = desk.week("2026-03-02");
    assert_eq!(counts(&before), counts(&after));
    assert_eq!(before["slots"], after["slots"]);
    assert!(desk.drain().is_empty(), "a refused file emits no change");
    let check = desk.call("check_file", json!({"path": fixture("demo/practice.json")})).unwrap();
    assert_eq!(check["kind"], "unsupported");
    assert_eq!(check["problem"], "it is not a calendar (.ics) or a schedule spreadsheet (.csv)");
}

#[test]
fn removing_the_demo_empties_the_week_and_it_stays_removed() {
    let desk = Desk::new();
    desk.drain();
    let removed = desk.call("remove_demo", json!({})).unwrap();
    assert_eq!(removed["providers"], 3);
    assert!(desk.drain().iter().any(|e| e["entity"] == "provider" && e["op"] == "remove"));
    let week = desk.week("2026-03-02");
    assert_eq!(counts(&week), (0, 0, 0));
    assert_eq!(week["has_demo"], false);
    assert!(week["sources"].as_array().unwrap().is_empty());
    // Next start of the app: no demo again (it is only for a database never written).
    let db = desk.db.clone();
    let dir = desk._dir;
    drop((desk.app, desk.webview));
    let again = Desk::open(&db, Ok(key()));
    assert_eq!(counts(&again.week("2026-03-02")), (0, 0, 0));
    // It can be loaded back from the empty state.
    assert_eq!(again.call("load_demo", json!({})).unwrap()["providers"], 3);
    assert_eq!(again.week("2026-03-02")["has_demo"], true);
    drop(dir);
}

#[test]
fn changes_by_another_process_arrive_as_events() {
    let desk = Desk::new();
    desk.drain();
    // Another process (the CLI) writes to the same file on its own connection.
    let mut cli = Store::open(&desk.db, &key()).unwrap();
    let started = Instant::now();
    cli.add_provider("Dr. Outside", chrono_tz::Europe::London, &medharmony::model::WorkingHours::default_week(), 30, NOW.parse().unwrap())
        .unwrap();
    let ev = desk.wait_for(Duration::from_secs(3), |e| e["entity"] == "provider" && e["op"] == "add").expect("an event for the CLI's write");
    assert!(started.elapsed() < Duration::from_secs(2), "arrived after {:?}", started.elapsed());
    assert!(ev["provider_id"].as_i64().is_some());
    assert!(ev["source_id"].is_null());
    assert!(desk.week("2026-03-02")["all_providers"].as_array().unwrap().iter().any(|p| p["name"] == "Dr. Outside"));
}

#[test]
fn without_a_key_the_app_explains_instead_of_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(&dir.path().join("locked.db"), Err(KeyError::NoKeychain { detail: "no secret service".into() }));
    let status = desk.call("app_status", json!({})).unwrap();
    assert_eq!(status["ready"], false);
    assert!(status["problem"].as_str().unwrap().contains("MEDHARMONY_DB_KEY"), "{status}");
    let err = desk.call("week", json!({"query": null})).unwrap_err();
    assert!(err.contains("keychain"), "{err}");
    // A wrong key for an existing database is explained too.
    let desk = Desk::new();
    let db = desk.db.clone();
    let wrong = Desk::open(&db, Ok(DbKey::from_env_value("not-the-key").unwrap()));
    let status = wrong.call("app_status", json!({})).unwrap();
    assert_eq!(status["ready"], false);
    assert!(status["problem"].as_str().unwrap().contains("the key does not match"), "{status}");
}

#[test]
fn every_listed_command_is_registered() {
    let desk = Desk::new();
    for cmd in COMMANDS {
        // Missing arguments are fine; an unknown command is not.
        if let Err(e) = desk.call(cmd, json!({})) {
            assert!(!e.contains("not found"), "{cmd}: {e}");
        }
    }
    assert!(desk.call("no_such_command", json!({})).is_err());
    let zones = desk.call("time_zones", json!({})).unwrap();
    assert!(zones.as_array().unwrap().iter().any(|z| z == "America/Chicago"));
}
