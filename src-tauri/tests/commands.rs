//! The shell's commands through Tauri's mock runtime (no display): every
//! command is invoked over IPC exactly as the UI calls it, on a temporary
//! database opened with a `MEDHARMONY_DB_KEY`-style passphrase.

use medharmony::store::key::MemoryVault as MemVault;
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
    vault: MemVault,
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
        let vault = MemVault::default();
        medharmony_desk::attach(app.handle(), DeskState::open(db.to_path_buf(), key, Clock::Fixed(now)).with_keychain(vault.clone()));
        let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
        Desk { _dir: None, db: db.to_path_buf(), app, webview, events, vault }
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
    // Known as a provider with published slots even in a week without any.
    let empty_week = desk.week("2026-03-02");
    let pv = empty_week["all_providers"].as_array().unwrap().iter().find(|p| p["id"] == patel).unwrap();
    assert_eq!(pv["publishes_slots"], true);
    assert_eq!(pv["has_calendar"], false);
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
    // The database's own files are never opened (closing them would drop the app's locks).
    for own in [desk.db.clone(), std::path::PathBuf::from(format!("{}-wal", desk.db.display()))] {
        let check = desk.call("check_file", json!({"path": own})).unwrap();
        assert_eq!(check["problem"], "it is MedHarmony Desk's own database, not a calendar or spreadsheet");
        let err = desk.call("import_file", json!({"args": {"path": own, "provider": RIVERA}})).unwrap_err();
        assert!(err.contains("own database"), "{err}");
    }
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
    // First run on a computer without a keychain: no database exists yet.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("locked.db");
    let detail = "Couldn't access platform secure storage: Secret Service: no result found";
    let desk = Desk::open(&db, Err(KeyError::NoKeychain { detail: detail.into() }));
    let status = desk.call("app_status", json!({})).unwrap();
    assert_eq!(status["ready"], false);
    assert_eq!(status["problem_kind"], "no-keychain");
    assert_eq!(status["db_exists"], false);
    let problem = status["problem"].as_str().unwrap();
    assert!(problem.contains("keychain"), "{problem}");
    for raw in ["Secret Service", "MEDHARMONY_DB_KEY", "needs a key", "encrypted"] {
        assert!(!problem.contains(raw), "staff text must not say {raw:?}: {problem}");
    }
    // The technical side is kept for IT support.
    let it = status["problem_detail"].as_str().unwrap();
    assert!(it.contains(detail) && it.contains("MEDHARMONY_DB_KEY"), "{it}");
    assert!(!db.exists(), "no database was created");
    let err = desk.call("week", json!({"query": null})).unwrap_err();
    assert!(err.contains("keychain"), "{err}");
    // A wrong key for an existing database is another problem.
    let desk = Desk::new();
    let db = desk.db.clone();
    let wrong = Desk::open(&db, Ok(DbKey::from_env_value("not-the-key").unwrap()));
    let status = wrong.call("app_status", json!({})).unwrap();
    assert_eq!(status["ready"], false);
    assert_eq!(status["problem_kind"], "wrong-key");
    assert_eq!(status["db_exists"], true);
    assert!(status["problem"].as_str().unwrap().contains("does not match"), "{status}");
    // The key of an existing database missing from the keychain.
    let missing = Desk::open(&db, Err(KeyError::MissingForExisting { path: db.display().to_string() }));
    let status = missing.call("app_status", json!({})).unwrap();
    assert_eq!(status["problem_kind"], "key-not-in-keychain");
    assert_eq!(status["db_exists"], true);
}

/// Writes `text` to `name` in a fresh temporary folder.
fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn ambiguous_dates_are_asked_and_imported_in_the_chosen_order() {
    let desk = Desk::new();
    let (_d, path) = temp_file("ambiguous.csv", "provider,date,start,end\nDr. Li,03/04/2026,09:00,09:30\nDr. Li,04/05/2026,09:00,09:30\n");
    let check = desk.call("check_file", json!({"path": path})).unwrap();
    assert_eq!(check["kind"], "spreadsheet");
    let q = &check["date_question"];
    assert_eq!(q["value"], "03/04/2026");
    assert_eq!(q["line"], 2);
    assert_eq!(q["day_first"], "3 April 2026");
    assert_eq!(q["month_first"], "March 4, 2026");
    // Imported without an answer: refused in plain words, nothing changed.
    desk.drain();
    let err = desk.call("import_file", json!({"args": {"path": path, "new_provider_tz": "America/New_York"}})).unwrap_err();
    assert!(err.starts_with("ambiguous.csv: the dates can be read two ways (03/04/2026 on line 2 could be 3 April 2026 or March 4, 2026)"), "{err}");
    assert!(!err.contains("--"), "{err}");
    assert!(desk.drain().is_empty());
    // Month first: 4 March.
    let report = desk.call("import_file", json!({"args": {"path": path, "new_provider_tz": "America/New_York", "date_order": "mdy"}})).unwrap();
    assert_eq!(report["slots"], 2);
    let week = desk.week("2026-03-02");
    let li = provider_id(&week, "Dr. Li");
    assert_eq!(free_count(&week, li, "2026-03-04"), 1);
    // Day first: 3 April and 4 May; the file replaces its slots.
    let report = desk.call("import_file", json!({"args": {"path": path, "date_order": "dmy"}})).unwrap();
    assert_eq!(report["slots"], 2);
    assert_eq!(free_count(&desk.week("2026-03-02"), li, "2026-03-04"), 0);
    assert_eq!(free_count(&desk.week("2026-04-03"), li, "2026-04-03"), 1);
    assert_eq!(free_count(&desk.week("2026-05-04"), li, "2026-05-04"), 1);
    let err = desk.call("import_file", json!({"args": {"path": path, "date_order": "ymd"}})).unwrap_err();
    assert!(err.contains("'ymd' is not a date order"), "{err}");
    // A spreadsheet without a provider column is asked about too.
    let (_d2, solo) = temp_file("solo.csv", "date,start,end\n03/04/2026,09:00,09:30\n");
    let check = desk.call("check_file", json!({"path": solo})).unwrap();
    assert_eq!(check["needs_provider"], true);
    assert_eq!(check["date_question"]["value"], "03/04/2026");
    // A clear file asks nothing.
    let check = desk.call("check_file", json!({"path": fixture("csv/synonyms.csv")})).unwrap();
    assert!(check["date_question"].is_null());
}

const CAL_HEAD: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n";

fn vevent(uid: &str, start: &str, end: &str) -> String {
    format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART{start}\r\nDTEND{end}\r\nSUMMARY:x\r\nEND:VEVENT\r\n")
}

#[test]
fn import_summaries_speak_plainly() {
    let desk = Desk::new();
    // Every event outside the import period (25 Feb - 2 Jun 2026): not a success.
    let old = format!("{CAL_HEAD}{}{}END:VCALENDAR\r\n", vevent("a", ":20250415T150000Z", ":20250415T153000Z"), vevent("b", ":20250416T150000Z", ":20250416T153000Z"));
    let (_d, path) = temp_file("old-export.ics", &old);
    let report = desk.call("import_file", json!({"args": {"path": path, "provider": "Old Export", "new_provider_tz": "America/Chicago"}})).unwrap();
    assert_eq!(report["kind"], "calendar");
    assert_eq!(report["nothing_added"], true);
    assert_eq!(report["window_from"], "2026-02-25");
    assert_eq!(report["window_to"], "2026-06-02");
    assert_eq!(
        report["summary"],
        "old-export.ics: 2 events read for Old Export, but none falls between 25 Feb and 2 Jun 2026, so nothing was added to the schedule"
    );
    // Skipped events: several lines, reasons in staff words.
    let mut text = String::from(CAL_HEAD);
    text.push_str(&vevent("good", ";TZID=America/New_York:20260305T090000", ";TZID=America/New_York:20260305T093000"));
    for uid in ["x1", "x2", "x3"] {
        text.push_str(&vevent(uid, ";TZID=XYZ:20260305T100000", ";TZID=XYZ:20260305T103000"));
    }
    text.push_str("END:VCALENDAR\r\n");
    let (_d2, path) = temp_file("mixed.ics", &text);
    let report = desk.call("import_file", json!({"args": {"path": path, "provider": RIVERA}})).unwrap();
    assert_eq!(report["nothing_added"], false);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 3);
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.starts_with("mixed.ics: 1 event imported (1 busy time between 25 Feb and 2 Jun 2026) for Dr. Ana Rivera (Demo), 3 skipped: lines "), "{summary}");
    assert!(summary.ends_with(" — start time uses unknown time zone 'XYZ'"), "{summary}");
    assert!(!summary.contains("DTSTART") && !summary.contains("(and more)"), "{summary}");
    assert_eq!(report["skipped"][0]["reason"], "start time uses unknown time zone 'XYZ'");
    // A spreadsheet with bad rows.
    let (_d3, path) = temp_file("bad-rows.csv", "provider,date,start,end\nDr. Li,2026-03-05,11:00,11:30\nDr. Li,2026-03-05,25:99,26:00\nDr. Li,not a date,09:00,09:30\n");
    let report = desk.call("import_file", json!({"args": {"path": path, "new_provider_tz": "America/New_York"}})).unwrap();
    assert_eq!(report["kind"], "spreadsheet");
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.starts_with("bad-rows.csv: 1 open slot imported for Dr. Li, 2 skipped: line 3 — "), "{summary}");
}

#[test]
fn files_that_are_not_calendars_say_so_and_no_message_names_a_cli_flag() {
    let desk = Desk::new();
    let (_d, garbage) = temp_file("garbage.ics", "this is not a calendar\nat all\n");
    let check = desk.call("check_file", json!({"path": garbage})).unwrap();
    assert_eq!(check["problem"], "this file is not a calendar (.ics) file");
    assert_eq!(check["needs_provider"], false, "no point asking whose it is");
    let err = desk.call("import_file", json!({"args": {"path": garbage, "provider": RIVERA}})).unwrap_err();
    assert_eq!(err, "garbage.ics: this file is not a calendar (.ics) file");
    let (_d2, empty) = temp_file("empty.ics", "\n");
    assert_eq!(desk.call("check_file", json!({"path": empty})).unwrap()["problem"], "the file is empty, so it is not a calendar (.ics) file");
    // Every refusal the window can show, in staff words.
    let (_d3, cal_as_csv) = temp_file("cal.csv", "BEGIN:VCALENDAR\nEND:VCALENDAR\n");
    let (_d4, mixed) = temp_file("mixed.csv", "provider,date,start,end\nA,13/04/2026,09:00,09:30\nA,04/13/2026,09:00,09:30\n");
    let (_d5, cols) = temp_file("cols.csv", "who,when\nA,B\n");
    let (_d6, nocols) = temp_file("nocols.csv", "date,start\n2026-03-05,09:00\n");
    let messages: Vec<String> = [
        json!({"path": fixture("demo/chen.ics")}),
        json!({"path": fixture("demo/chen.ics"), "provider": "Nobody"}),
        json!({"path": fixture("csv/undecidable-date-order.csv")}),
        json!({"path": cal_as_csv}),
        json!({"path": mixed, "new_provider_tz": "UTC"}),
        json!({"path": cols}),
        json!({"path": nocols}),
        json!({"path": fixture("csv/synonyms.csv")}),
    ]
    .into_iter()
    .map(|args| desk.call("import_file", json!({"args": args})).unwrap_err())
    .collect();
    for m in &messages {
        assert!(!m.contains("--") && !m.contains("medharmony providers"), "a CLI flag reached staff: {m}");
    }
    assert!(messages[3].contains("this file is a calendar, not a spreadsheet"), "{}", messages[3]);
    assert!(messages[4].contains("correct the dates in the spreadsheet"), "{}", messages[4]);
}

#[test]
fn hidden_providers_stay_hidden_and_new_ones_appear() {
    let desk = Desk::new();
    let all = desk.week("2026-03-02");
    let chen = provider_id(&all, "Dr. Mei Chen (Demo)");
    let q = json!({"query": {"start": "2026-03-02", "provider_ids": null, "hidden_provider_ids": [chen], "location": null}});
    let names = |w: &Value| w["providers"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(names(&desk.call("week", q.clone()).unwrap()), [RIVERA, "Dr. Sam Okafor (Demo)"]);
    // Another program adds a provider while the filter is on: it shows.
    let mut cli = Store::open(&desk.db, &key()).unwrap();
    cli.add_provider("Dr. Added Later", chrono_tz::Europe::London, &medharmony::model::WorkingHours::default_week(), 30, NOW.parse().unwrap()).unwrap();
    assert!(names(&desk.call("week", q).unwrap()).contains(&"Dr. Added Later".to_string()));
}

#[test]
fn weeks_beyond_the_imported_period_are_marked() {
    let desk = Desk::new();
    let week = desk.week("2026-03-02");
    let rivera = week["providers"].as_array().unwrap().iter().find(|p| p["name"] == RIVERA).unwrap().clone();
    assert_eq!(rivera["has_calendar"], true);
    assert_eq!(rivera["uncovered_days"], json!([]));
    let later = desk.week("2026-06-22");
    let r = later["providers"].as_array().unwrap().iter().find(|p| p["name"] == RIVERA).unwrap();
    assert_eq!(r["uncovered_days"].as_array().unwrap().len(), 7);
    assert_eq!(r["calendar_to"], "2026-06-02T15:00:00Z");
    assert_eq!(free_count(&later, rivera["id"].as_i64().unwrap(), "2026-06-24"), 0);
    // A provider without a calendar has no such days.
    let mut cli = Store::open(&desk.db, &key()).unwrap();
    cli.add_provider("Dr. No Calendar", chrono_tz::America::New_York, &medharmony::model::WorkingHours::default_week(), 30, NOW.parse().unwrap()).unwrap();
    let week = desk.week("2026-03-02");
    let p = week["providers"].as_array().unwrap().iter().find(|p| p["name"] == "Dr. No Calendar").unwrap();
    assert_eq!(p["has_calendar"], false);
    assert_eq!(p["uncovered_days"], json!([]));
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

/// A FHIR address nothing listens on (a port just freed), so a sync fails at once.
fn closed_fhir_address() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}/fhir/R4")
}

fn connect_form(name: &str, base_url: &str, auth: Value) -> Value {
    json!({"form": {
        "kind": "fhir", "name": name, "base_url": base_url, "auth": auth, "tz": "America/New_York",
        "service_types": [], "practitioners": [], "locations": [], "token_url": null, "stu3_base_url": null
    }})
}

#[test]
fn connecting_an_open_server_stores_it_and_syncs_at_once() {
    let desk = Desk::new();
    desk.drain();
    let url = closed_fhir_address();
    let result = desk.call("connect_integration", connect_form(" Clinic FHIR ", &url, json!({"method": "none"}))).unwrap();
    let card = &result["card"];
    assert_eq!(card["name"], "Clinic FHIR");
    assert_eq!((card["kind"].as_str(), card["kind_label"].as_str()), (Some("fhir"), Some("FHIR server")));
    assert_eq!(card["base_url"], url.as_str());
    assert_eq!((card["auth"].as_str(), card["auth_words"].as_str()), (Some("none"), Some("No sign-in (an open server)")));
    assert_eq!(card["tz"], "America/New_York");
    // The first sync ran at once: nothing listens there, which staff read in plain words.
    let first = &result["first_sync"];
    assert_eq!((first["failed"].as_bool(), first["complete"].as_bool()), (Some(true), Some(false)));
    assert_eq!(first["problem"], "Could not reach Clinic FHIR: the connection was refused or timed out.");
    assert_eq!(first["summary"], "Clinic FHIR: the sync failed. Could not reach Clinic FHIR: the connection was refused or timed out.");
    // The default window: 7 days before now to 90 after.
    assert_eq!((first["from"].as_str(), first["to"].as_str()), (Some("2026-02-25T15:00:00Z"), Some("2026-06-02T15:00:00Z")));
    assert_eq!(card["status"], "problem");
    assert_eq!(card["problem"], first["problem"]);
    assert!(card["last_sync_at"].is_null(), "never synced completely");
    // The window heard of it (connect and sync were written on a worker connection).
    let events = desk.drain();
    assert!(events.iter().any(|e| e["entity"] == "integration" && e["op"] == "add"), "{events:?}");
    assert!(events.iter().any(|e| e["entity"] == "integration" && e["op"] == "sync"), "{events:?}");
    // The page lists it.
    let page = desk.call("integrations", json!({})).unwrap();
    assert_eq!(page["now"], NOW);
    assert!(page["connecting"].is_null());
    assert_eq!(page["cards"].as_array().unwrap().len(), 1);
    assert_eq!(page["cards"][0], *card);
    // A second connection of the same name is refused and changes nothing.
    let err = desk.call("connect_integration", connect_form("clinic fhir", &url, json!({"method": "none"}))).unwrap_err();
    assert_eq!(err, "There is already a connection named 'clinic fhir'. Choose another name.");
    assert_eq!(desk.call("integrations", json!({})).unwrap()["cards"].as_array().unwrap().len(), 1);
    // Sync now: the same failure, recorded again.
    let again = desk.call("sync_now", json!({"name": "Clinic FHIR"})).unwrap();
    assert_eq!(again["failed"], true);
    assert_eq!(
        desk.call("sync_now", json!({"name": "Nobody"})).unwrap_err(),
        "There is no connection named 'Nobody'. It may have been disconnected; the list is now up to date."
    );
    // Nothing is waiting for a browser sign-in.
    assert_eq!(desk.call("cancel_sign_in", json!({})).unwrap(), false);
}

#[test]
fn secrets_go_to_the_keychain_and_never_come_back() {
    let desk = Desk::new();
    let secret = "s3cret-never-shown-0123456789";
    let mut form = connect_form(
        "Oracle Test",
        &closed_fhir_address(),
        json!({"method": "client-secret", "client_id": "system-account-1", "client_secret": secret}),
    );
    form["form"]["kind"] = json!("oracle-health");
    form["form"]["service_types"] = json!(["", " 408443003 "]);
    // A token address given: no discovery, so connecting needs no server; the first sync's sign-in fails.
    form["form"]["token_url"] = json!(closed_fhir_address().replace("/fhir/R4", "/token"));
    let result = desk.call("connect_integration", form).unwrap();
    assert!(!result.to_string().contains(secret), "a secret came back: {result}");
    assert_eq!(result["card"]["auth"], "client-secret");
    assert_eq!(result["card"]["client_id"], "system-account-1");
    assert_eq!(result["first_sync"]["failed"], true);
    let problem = result["first_sync"]["problem"].as_str().unwrap();
    assert!(problem.starts_with("Could not reach Oracle Test to sign in"), "{problem}");
    // The secret is in the keychain, not in the database or the page, under this database's account
    // (as the `medharmony` command keeps it).
    let stored: Vec<(String, String)> = desk.vault.entries();
    let account = format!("{}|integration:Oracle Test:client-secret", std::path::absolute(&desk.db).unwrap().display());
    assert_eq!(stored, [(account, secret.to_string())]);
    let page = desk.call("integrations", json!({})).unwrap();
    assert!(!page.to_string().contains(secret));
    let cli = Store::open(&desk.db, &key()).unwrap();
    let integ = cli.integration("Oracle Test").unwrap().unwrap();
    assert!(!serde_json::to_string(&integ).unwrap().contains(secret));
    assert_eq!(integ.settings.service_types, ["408443003"]);
    // Disconnect: gone from the page and from the keychain.
    desk.drain();
    let gone = desk.call("disconnect_integration", json!({"name": "oracle test"})).unwrap();
    assert_eq!(gone, json!({"name": "Oracle Test", "warning": null}));
    assert!(desk.vault.is_empty());
    assert!(desk.call("integrations", json!({})).unwrap()["cards"].as_array().unwrap().is_empty());
    assert!(desk.drain().iter().any(|e| e["entity"] == "integration" && e["op"] == "remove"));
    assert!(cli.integration("Oracle Test").unwrap().is_none());
    let err = desk.call("disconnect_integration", json!({"name": "Oracle Test"})).unwrap_err();
    assert!(err.starts_with("There is no connection named 'Oracle Test'."), "{err}");
}

#[test]
fn the_connect_form_is_checked_in_plain_words_and_a_refusal_changes_nothing() {
    let desk = Desk::new();
    desk.drain();
    let url = "https://fhir.example.org/r4";
    let refuse = |form: Value| desk.call("connect_integration", form).unwrap_err();
    assert!(refuse(connect_form("  ", url, json!({"method": "none"}))).starts_with("Give the connection a name your team will recognise"));
    assert_eq!(
        refuse(connect_form("X", "fhir.example.org", json!({"method": "none"}))),
        "“fhir.example.org” is not a web address. Enter the FHIR address starting with https://, e.g. https://fhir.example.org/r4"
    );
    assert_eq!(
        refuse(connect_form("X", url, json!({"method": "standalone", "client_id": ""}))),
        "Enter the client ID. Your EHR administrator gives it to you when they register MedHarmony Desk."
    );
    assert!(refuse(connect_form("X", url, json!({"method": "backend-key", "client_id": "c"})))
        .starts_with("Choose the private key file (or paste the key)."));
    let secret = "pasted-not-a-key-secret";
    let err = refuse(connect_form("X", url, json!({"method": "backend-key", "client_id": "c", "private_key_pem": secret})));
    assert!(err.starts_with("What was pasted is not a private key.") && !err.contains(secret), "{err}");
    let mut oracle = connect_form("X", url, json!({"method": "none"}));
    oracle["form"]["kind"] = json!("oracle-health");
    assert!(refuse(oracle).starts_with("Oracle Health lists open times only for a visit type"));
    let mut zone = connect_form("X", url, json!({"method": "none"}));
    zone["form"]["tz"] = json!("Mars/Olympus");
    assert_eq!(refuse(zone), "'Mars/Olympus' is not a time zone MedHarmony knows; choose one from the list");
    // A key that is not a real key: the engine refuses it before anything is stored.
    let err = refuse(connect_form(
        "X",
        url,
        json!({"method": "backend-key", "client_id": "c", "private_key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}),
    ));
    assert!(err.starts_with("The private key cannot be used"), "{err}");
    assert!(!err.contains("AAAA") && !err.contains("Error") && !err.contains("{"), "{err}");
    assert!(desk.call("integrations", json!({})).unwrap()["cards"].as_array().unwrap().is_empty());
    assert!(desk.vault.is_empty());
    assert!(desk.drain().is_empty(), "a refused form changes nothing");
}

fn remote_slot(id: &str, start: &str, end: &str) -> medharmony::connector::RemoteSlot {
    medharmony::connector::RemoteSlot {
        external_id: id.into(),
        span: medharmony::time::Interval::new(start.parse().unwrap(), end.parse().unwrap()).unwrap(),
        status: medharmony::model::SlotStatus::Free,
        provider: "Dr. Lena Park".into(),
        provider_ref: Some("Practitioner/p1".into()),
        location: Some("Main Street Clinic".into()),
        location_ref: Some("Location/l1".into()),
        service_type: Some("General Practice".into()),
        schedule_ref: Some("Schedule/s1".into()),
        booking: json!({}),
    }
}

#[test]
fn synced_open_times_appear_live_with_their_source_and_cards_show_the_last_sync() {
    let desk = Desk::new();
    desk.drain();
    // Another process (the CLI's `integrations add` and `sync`) writes on its own connection.
    let mut cli = Store::open(&desk.db, &key()).unwrap();
    let settings = medharmony::connector::IntegrationSettings {
        base_url: "https://fhir.example.org/r4".into(),
        stu3_base_url: None,
        tz: "America/New_York".into(),
        auth: medharmony::auth::AuthConfig::Backend {
            client_id: "desk-app".into(),
            token_url: "https://fhir.example.org/token".into(),
            scope: "system/Slot.read".into(),
            kid: None,
        },
        service_types: vec![],
        practitioners: vec![],
        locations: vec![],
        page_size: 100,
        athena: None,
        calendars: Vec::new(),
    };
    let now: DateTime<Utc> = NOW.parse().unwrap();
    let synced_at = now - chrono::Duration::minutes(5);
    let integ = cli.add_integration(medharmony::connector::IntegrationKind::Fhir, "Clinic FHIR", &settings, synced_at).unwrap();
    let window = medharmony::sync::default_window(now);
    let read = medharmony::connector::WindowRead {
        slots: vec![
            remote_slot("s1", "2026-03-05T14:00:00Z", "2026-03-05T14:30:00Z"),
            remote_slot("s2", "2026-03-05T14:30:00Z", "2026-03-05T15:00:00Z"),
        ],
        quarantined: vec![medharmony::connector::Quarantined { resource: "Slot/s9".into(), reason: "has no end time".into() }],
        complete: true,
        incomplete_reason: None,
    };
    let mut connector = Replay(Some(read));
    let report = medharmony::sync::sync_integration(&mut cli, &integ, &mut connector, window, synced_at).unwrap();
    assert_eq!((report.added, report.quarantined), (2, 1));
    // The window hears of it and the week shows the slots with their source.
    desk.wait_for(Duration::from_secs(3), |e| e["entity"] == "slots" && e["op"] == "sync").expect("a store-changed event for the sync");
    let week = desk.week("2026-03-05");
    let park = provider_id(&week, "Dr. Lena Park");
    assert_eq!(free_count(&week, park, "2026-03-05"), 2);
    let slot = week["slots"].as_array().unwrap().iter().find(|s| s["provider_id"] == park).unwrap();
    assert_eq!((slot["source"].as_str(), slot["location"].as_str()), (Some("Clinic FHIR"), Some("Main Street Clinic")));
    assert_eq!(slot["start"], "2026-03-05T14:00:00Z");
    let source = week["sources"].as_array().unwrap().iter().find(|s| s["name"] == "Clinic FHIR").unwrap();
    assert_eq!((source["kind"].as_str(), source["system"].as_str()), (Some("integration"), Some("FHIR server")));
    assert!(week["sources"].as_array().unwrap().iter().filter(|s| s["kind"] != "integration").all(|s| s["system"].is_null()));
    // The card: synced 5 minutes ago, what it did, the record set aside and why.
    let card = desk.call("integrations", json!({})).unwrap()["cards"][0].clone();
    assert_eq!(card["status"], "ok");
    assert_eq!(card["stale"], false);
    assert_eq!(card["last_sync_at"], "2026-03-04T14:55:00Z");
    assert_eq!(card["auth_words"], "Server-to-server key (SMART Backend Services)");
    assert_eq!(card["client_id"], "desk-app");
    let last = &card["last_sync"];
    assert_eq!((last["added"].as_u64(), last["quarantined"].as_u64(), last["complete"].as_bool()), (Some(2), Some(1), Some(true)));
    assert_eq!(last["set_aside"], json!([{"resource": "Slot/s9", "reason": "has no end time"}]));
    assert_eq!(last["summary"], "Clinic FHIR: 2 open times added, 1 record set aside as unreadable.");
    assert!(card["problem"].is_null());
    // Long ago: stale (older than twice the 15-minute interval).
    cli.record_sync(integ.id, &serde_json::to_value(&report).unwrap(), None, true, None, now - chrono::Duration::minutes(31)).unwrap();
    let card = desk.call("integrations", json!({})).unwrap()["cards"][0].clone();
    assert_eq!((card["status"].as_str(), card["stale"].as_bool()), (Some("stale"), Some(true)));
    assert_eq!(card["next_sync_at"], "2026-03-04T15:00:00Z", "overdue: due now");
    assert_eq!(card["needs_reconnect"], false);
    // Pausing stops the schedule (no next sync) and keeps the open times; resuming restarts it.
    desk.call("set_integration_paused", json!({"name": "Clinic FHIR", "paused": true})).unwrap();
    let card = desk.call("integrations", json!({})).unwrap()["cards"][0].clone();
    assert_eq!((card["active"].as_bool(), card["next_sync_at"].is_null()), (Some(false), true));
    assert_eq!(free_count(&desk.week("2026-03-05"), park, "2026-03-05"), 2);
    desk.call("set_integration_paused", json!({"name": "Clinic FHIR", "paused": false})).unwrap();
    assert_eq!(desk.call("integrations", json!({})).unwrap()["cards"][0]["active"], true);
    let unknown = desk.call("set_integration_paused", json!({"name": "Nope", "paused": true})).unwrap_err();
    assert!(unknown.contains("Nope"), "{unknown}");
    // Disconnecting removes its open times from the week.
    desk.call("disconnect_integration", json!({"name": "Clinic FHIR"})).unwrap();
    let week = desk.week("2026-03-05");
    assert!(week["slots"].as_array().unwrap().iter().all(|s| s["source"] != "Clinic FHIR"));
}

/// A connector that hands back one prepared window read.
struct Replay(Option<medharmony::connector::WindowRead>);

impl medharmony::connector::Connector for Replay {
    fn kind(&self) -> medharmony::connector::IntegrationKind {
        medharmony::connector::IntegrationKind::Fhir
    }
    fn availability(
        &mut self,
        _window: medharmony::time::Interval,
    ) -> Result<medharmony::connector::WindowRead, medharmony::connector::ConnectorError> {
        Ok(self.0.take().unwrap_or_default())
    }
    fn changes_since(
        &mut self,
        _cursor: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<Option<medharmony::connector::ChangeBatch>, medharmony::connector::ConnectorError> {
        Ok(None)
    }
    fn book(
        &mut self,
        _slot: &medharmony::connector::SlotToBook,
        _patient_id: &str,
    ) -> Result<medharmony::connector::Booked, medharmony::connector::ConnectorError> {
        Err(medharmony::connector::ConnectorError::Unsupported("not in this test".into()))
    }
    fn cancel(&mut self, _appointment_id: &str) -> Result<(), medharmony::connector::ConnectorError> {
        Ok(())
    }
}

// ---- cancellation fill -------------------------------------------------

fn fill_slot(id: &str, start: &str, status: medharmony::model::SlotStatus) -> medharmony::connector::RemoteSlot {
    let start: DateTime<Utc> = start.parse().unwrap();
    medharmony::connector::RemoteSlot {
        external_id: id.into(),
        span: medharmony::time::Interval { start, end: start + chrono::Duration::minutes(30) },
        status,
        provider: "Dr. Rivera".into(),
        provider_ref: Some("Practitioner/p1".into()),
        location: None,
        location_ref: None,
        service_type: None,
        schedule_ref: None,
        booking: json!({"versionId": "1"}),
    }
}

/// A connected (unreachable) FHIR server whose 10:00 New York slot on Thu 5 Mar 2026 was booked,
/// then listed free again by another program's sync: an opening. Returns its `slot-<n>`.
fn desk_with_an_opening(desk: &Desk) -> String {
    use medharmony::model::SlotStatus::{Busy, Free};
    let mut store = Store::open(&desk.db, &key()).unwrap();
    let now: DateTime<Utc> = NOW.parse().unwrap();
    let settings = medharmony::connector::IntegrationSettings::new(&closed_fhir_address(), "America/New_York", medharmony::auth::AuthConfig::None);
    let integ = store.add_integration(medharmony::connector::IntegrationKind::Fhir, "Clinic FHIR", &settings, now).unwrap();
    let window = medharmony::time::Interval { start: "2026-03-01T00:00:00Z".parse().unwrap(), end: "2026-04-01T00:00:00Z".parse().unwrap() };
    let read = |status| medharmony::connector::WindowRead {
        slots: vec![fill_slot("s1", "2026-03-05T15:00:00Z", status)],
        quarantined: vec![],
        complete: true,
        incomplete_reason: None,
    };
    store.apply_window(&integ, window, &read(Busy), now - chrono::Duration::minutes(30)).unwrap();
    store.apply_window(&integ, window, &read(Free), now - chrono::Duration::minutes(5)).unwrap();
    let id = store.published_slots(None, window).unwrap()[0].id;
    format!("slot-{id}")
}

fn patient_form(name: &str, priority: &str, blocked: &[&str]) -> Value {
    json!({"entry": {
        "id": null, "display_name": name, "phone": "555-0100", "email": null, "tz": "America/New_York",
        "source_ids": [{"integration": "Clinic FHIR", "patient_id": "pat-1"}], "service_type": null, "provider": null,
        "locations": [], "duration_minutes": null, "priority": priority, "added_on": null, "blocked_weekdays": blocked,
        "blocked_dates": [], "preferred_times": ["08:00-12:00"], "min_notice_hours": 2, "latest_date": null
    }})
}

#[test]
fn an_opening_is_listed_with_ranked_suggestions_and_offers_need_the_staff_member() {
    let desk = Desk::new();
    // A window not yet knowing who is at the desk refuses to offer, in plain words.
    let staff = desk.call("staff", json!({})).unwrap();
    assert_eq!(staff["current"], Value::Null);
    let slot = desk_with_an_opening(&desk);
    let urgent = desk.call("save_waitlist_entry", patient_form("Ann Urgent", "urgent", &[])).unwrap();
    let routine = desk.call("save_waitlist_entry", patient_form("Bob Routine", "routine", &[])).unwrap();
    desk.call("save_waitlist_entry", patient_form("Cy Never Thursday", "urgent", &["Thu"])).unwrap();
    assert_eq!(urgent["preferred_times"], json!(["08:00-12:00"]));
    assert_eq!(urgent["source_ids"], json!([{"integration": "Clinic FHIR", "patient_id": "pat-1"}]));

    let view = desk.call("fill_view", json!({})).unwrap();
    let openings = view["openings"].as_array().unwrap();
    assert_eq!(openings.len(), 1);
    assert_eq!(
        (openings[0]["slot_id"].as_str(), openings[0]["provider"].as_str(), openings[0]["start"].as_str(), openings[0]["still_free"].as_bool()),
        (Some(slot.as_str()), Some("Dr. Rivera"), Some("2026-03-05T15:00:00Z"), Some(true))
    );
    assert_eq!((view["total"]["openings"].as_u64(), view["total"]["filled"].as_u64(), view["waiting"].as_u64()), (Some(1), Some(0), Some(3)));
    assert_eq!(view["model_on"], false);

    let s = desk.call("fill_suggestions", json!({"slotId": slot, "askModel": true})).unwrap();
    let names: Vec<&str> = s["suggestions"].as_array().unwrap().iter().map(|x| x["display_name"].as_str().unwrap()).collect();
    // Thursday is blocked for Cy; the urgent patient comes before the routine one.
    assert_eq!(names, ["Ann Urgent", "Bob Routine"]);
    assert_eq!((s["eligible"].as_u64(), s["waiting"].as_u64()), (Some(2), Some(3)));
    assert_eq!((s["ranked_by"].as_str(), s["model_asked"].as_bool()), (Some("deterministic"), Some(false)), "no model switched on");
    assert_eq!((s["provider_tz"].as_str(), s["bookable"].as_bool(), s["hold"].clone()), (Some("America/New_York"), Some(true), Value::Null));
    assert_eq!(s["suggestions"][0]["has_source_id"], true);
    assert_eq!(s["suggestions"][0]["notice_hours"], 24);

    let refused = desk.call("offer_slot", json!({"slotId": slot, "patientId": urgent["id"]})).unwrap_err();
    assert_eq!(refused, "Choose who is at the desk first: the name is written to the audit log.");
    assert_eq!(desk.call("set_staff", json!({"name": "  "})).unwrap_err(), "Type your name: it is written to the audit log with what you do.");
    let staff = desk.call("set_staff", json!({"name": " Maria "})).unwrap();
    assert_eq!((staff["current"].as_str(), staff["recent"].clone()), (Some("Maria"), json!(["Maria"])));
    // The time's system cannot be reached: nothing is held, and staff are told why.
    let e = desk.call("offer_slot", json!({"slotId": slot, "patientId": routine["id"]})).unwrap_err();
    assert!(e.starts_with("This time could not be checked with Clinic FHIR, so it was not held: "), "{e}");
    assert_eq!(desk.call("release_offer", json!({"slotId": slot})).unwrap_err(), "This time is not held for anyone any more. Offer it again.");
    // Every patient shown was audited with the OS user; nothing names a patient but by id.
    let store = Store::open(&desk.db, &key()).unwrap();
    let audit = store.audit_since(None).unwrap();
    let views: Vec<(&str, Option<i64>)> = audit.iter().map(|a| (a.staff.as_str(), a.patient_id)).collect();
    assert_eq!(views, [("unknown", urgent["id"].as_i64()), ("unknown", routine["id"].as_i64())]);
}

#[test]
fn the_waitlist_is_edited_and_checked_field_by_field() {
    let desk = Desk::new();
    let added = desk.call("save_waitlist_entry", patient_form("Ann Example", "soon", &["Sat", "Sun"])).unwrap();
    let id = added["id"].as_i64().unwrap();
    assert_eq!(added["blocked_weekdays"], json!(["Sat", "Sun"]));
    let mut edit = patient_form("Ann B. Example", "urgent", &[]);
    edit["entry"]["id"] = json!(id);
    edit["entry"]["latest_date"] = json!("2026-04-30");
    let saved = desk.call("save_waitlist_entry", edit.clone()).unwrap();
    assert_eq!((saved["id"].as_i64(), saved["display_name"].as_str(), saved["priority"].as_str()), (Some(id), Some("Ann B. Example"), Some("urgent")));
    assert_eq!((saved["latest_date"].as_str(), saved["added_on"].clone()), (Some("2026-04-30"), added["added_on"].clone()));
    let list = desk.call("waitlist", json!({})).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["display_name"], "Ann B. Example");
    // Bad fields are named and nothing changes.
    let mut bad = edit.clone();
    bad["entry"]["preferred_times"] = json!(["12:00-08:00"]);
    let e = desk.call("save_waitlist_entry", bad).unwrap_err();
    assert!(e.starts_with("Preferred times: '12:00-08:00' ends before it starts"), "{e}");
    let mut bad = edit.clone();
    bad["entry"]["blocked_dates"] = json!(["30/04/2026"]);
    assert_eq!(desk.call("save_waitlist_entry", bad).unwrap_err(), "Dates they cannot come: '30/04/2026' is not a date like 2026-12-24");
    let mut bad = edit;
    bad["entry"]["display_name"] = json!(" ");
    assert_eq!(desk.call("save_waitlist_entry", bad).unwrap_err(), "Name: a patient needs a name");
    assert_eq!(desk.call("waitlist", json!({})).unwrap()[0]["display_name"], "Ann B. Example");
    desk.call("remove_waitlist_entry", json!({"id": id})).unwrap();
    assert_eq!(desk.call("waitlist", json!({})).unwrap(), json!([]));
    assert_eq!(desk.call("remove_waitlist_entry", json!({"id": id})).unwrap_err(), "This patient is no longer on the waitlist. The list is now up to date.");
}

#[test]
fn fill_settings_keep_the_api_key_in_the_keychain_only() {
    let desk = Desk::new();
    let form = desk.call("fill_settings", json!({})).unwrap();
    assert_eq!((form["model_on"].as_bool(), form["hold_minutes"].as_i64(), form["has_api_key"].as_bool()), (Some(false), Some(15), Some(false)));
    let mut f = form.clone();
    f["model_on"] = json!(true);
    f["model_base_url"] = json!("http://127.0.0.1:11434/v1/");
    f["model_name"] = json!("llama3.1:8b");
    f["new_api_key"] = json!("sk-secret-123");
    f["quiet_on"] = json!(true);
    f["quiet_start"] = json!("19:00");
    f["quiet_end"] = json!("07:00");
    f["hold_minutes"] = json!(20);
    let saved = desk.call("save_fill_settings", json!({"form": f})).unwrap();
    assert_eq!(
        (saved["model_on"].as_bool(), saved["model_base_url"].as_str(), saved["has_api_key"].as_bool(), saved["new_api_key"].clone()),
        (Some(true), Some("http://127.0.0.1:11434/v1"), Some(true), Value::Null)
    );
    assert_eq!((saved["quiet_start"].as_str(), saved["quiet_end"].as_str(), saved["hold_minutes"].as_i64()), (Some("19:00"), Some("07:00"), Some(20)));
    let kept: Vec<String> = desk.vault.entries().into_iter().filter(|(_, v)| v == "sk-secret-123").map(|(k, _)| k).collect();
    assert_eq!(kept.len(), 1, "the key is in the keychain");
    let raw = Store::open(&desk.db, &key()).unwrap().desk_setting("fill").unwrap().unwrap();
    assert!(!raw.contains("sk-secret"), "never in the database: {raw}");
    assert_eq!(desk.call("fill_view", json!({})).unwrap()["model_on"], true);
    // Refused settings name the problem and keep what was saved.
    let mut bad = saved.clone();
    bad["quiet_end"] = json!("7pm");
    assert_eq!(desk.call("save_fill_settings", json!({"form": bad})).unwrap_err(), "The quiet hours' end time '7pm' is not a time like 19:00.");
    let mut bad = saved.clone();
    bad["model_name"] = json!(" ");
    assert_eq!(desk.call("save_fill_settings", json!({"form": bad})).unwrap_err(), "Name the language model to ask (for example llama3.1:8b).");
    assert_eq!(desk.call("fill_settings", json!({})).unwrap()["quiet_end"], "07:00");
    // "" forgets the key.
    let mut forget = saved;
    forget["new_api_key"] = json!("");
    assert_eq!(desk.call("save_fill_settings", json!({"form": forget})).unwrap()["has_api_key"], false);
}
