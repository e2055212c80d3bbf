//! End-to-end tests of the `medharmony` CLI contract (README, "CLI contract"):
//! the built binary, a real encrypted SQLite file, real fixture files.

use medharmony_e2e::{fixture, Db, Run, TEST_KEY};
use serde_json::{json, Value};

const FROM: &str = "2024-01-01T00:00:00Z";
const TO: &str = "2028-01-01T00:00:00Z";

fn expected(dir: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixture(&format!("{dir}/expected.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// (start, end, all_day) triples of a `busy --json` listing.
fn spans(busy: &Value) -> Vec<(String, String, bool)> {
    busy.as_array()
        .unwrap()
        .iter()
        .map(|b| (b["start"].as_str().unwrap().to_string(), b["end"].as_str().unwrap().to_string(), b["all_day"].as_bool().unwrap()))
        .collect()
}

#[test]
fn every_shared_calendar_case_yields_exactly_the_expected_busy_time() {
    let mut failures = Vec::new();
    for case in expected("calendar") {
        let file = case["file"].as_str().unwrap();
        let tz = case["provider_tz"].as_str().unwrap();
        let db = Db::new();
        let path = fixture(&format!("calendar/{file}"));
        let imp = db.run(&["import", path.to_str().unwrap(), "--provider", "Dr Case", "--tz", tz, "--from", FROM, "--to", TO, "--json"]);
        if imp.code != 0 {
            failures.push(format!("{file}: import exit {} {}", imp.code, imp.stderr));
            continue;
        }
        let summary = imp.json();
        assert_eq!(summary["file"], path.to_str().unwrap());
        assert_eq!(summary["source"], file.trim_end_matches(".ics"));
        assert_eq!(summary["provider"], "Dr Case");
        let busy = db.run(&["--json", "busy", "--provider", "Dr Case", "--from", FROM, "--to", TO]);
        assert_eq!(busy.code, 0, "{}", busy.stderr);
        let got = spans(&busy.json());
        let want: Vec<(String, String, bool)> = case["expected_busy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["start"].as_str().unwrap().into(), b["end"].as_str().unwrap().into(), b["all_day"].as_bool().unwrap_or(false)))
            .collect();
        if got != want {
            failures.push(format!("{file} ({}):\n  got  {got:?}\n  want {want:?}", case["why"]));
        }
        assert_eq!(summary["instances"].as_u64().unwrap() as usize, want.len(), "{file}: summary instances");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn busy_json_has_the_documented_shape() {
    let db = Db::new();
    let f = fixture("calendar/recurrence-id-override.ics");
    let r = db.run(&["import", f.to_str().unwrap(), "--provider", "Dr Case", "--tz", "America/New_York", "--from", FROM, "--to", TO]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let busy = db.run(&["busy", "--from", "2025-07-09T00:00:00Z", "--to", "2025-07-10T00:00:00Z", "--json"]).json();
    assert_eq!(
        busy,
        json!([{
            "provider": "Dr Case",
            "source": "recurrence-id-override",
            "uid": "b11@x",
            "recurrence_id": "2025-07-09T12:00:00Z",
            "start": "2025-07-09T13:15:00Z",
            "end": "2025-07-09T13:45:00Z",
            "all_day": false,
            "summary": "Rounds (moved)"
        }])
    );
}

#[test]
fn shared_csv_cases() {
    for case in expected("csv") {
        let file = case["file"].as_str().unwrap();
        let tz = case["practice_tz"].as_str().unwrap();
        let db = Db::new();
        let path = fixture(&format!("csv/{file}"));
        let before = db.content();
        let imp = db.run(&["--json", "import", path.to_str().unwrap(), "--tz", tz, "--from", FROM, "--to", TO]);
        if let Some(err) = case["expected_error"].as_str() {
            assert_eq!(imp.code, 1, "{file}: {}", imp.stdout);
            assert!(imp.stderr.contains(err), "{file}: stderr {:?} lacks {err:?}", imp.stderr);
            assert!(imp.stderr.contains(file), "{file}: error must name the file: {}", imp.stderr);
            assert!(imp.stderr.contains("--date-order"), "{file}: error must say how to choose: {}", imp.stderr);
            let line: Value = serde_json::from_str(imp.stdout.trim()).unwrap();
            assert_eq!(line["file"], path.to_str().unwrap());
            assert!(line["error"].as_str().unwrap().contains(err));
            assert_eq!(db.content(), before, "{file}: a refused import changed the database");
            continue;
        }
        assert_eq!(imp.code, 0, "{file}: {}", imp.stderr);
        let slots = db.run(&["--json", "slots", "--from", FROM, "--to", TO]).json();
        let got: Vec<(String, String, String)> = slots
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["provider"].as_str().unwrap().into(), s["start"].as_str().unwrap().into(), s["end"].as_str().unwrap().into()))
            .collect();
        let want: Vec<(String, String, String)> = case["expected_slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["provider"].as_str().unwrap().into(), s["start"].as_str().unwrap().into(), s["end"].as_str().unwrap().into()))
            .collect();
        assert_eq!(got, want, "{file}");
        assert!(slots.as_array().unwrap().iter().all(|s| s["status"] == "free" && s["source"] == file.trim_end_matches(".csv")));
    }
}

#[test]
fn date_order_option_decides_an_undecidable_file() {
    let db = Db::new();
    let path = fixture("csv/undecidable-date-order.csv");
    let r = db.run(&["import", path.to_str().unwrap(), "--tz", "America/New_York", "--date-order", "mdy", "--from", FROM, "--to", TO]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let slots = db.run(&["--json", "slots", "--from", FROM, "--to", TO]).json();
    let starts: Vec<&str> = slots.as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()).collect();
    // 03/04/2026 as March 4 (EST, UTC-5); 04/12/2026 as April 12 (EDT, UTC-4).
    assert_eq!(starts, ["2026-03-04T14:00:00Z", "2026-04-12T18:00:00Z"]);
}

fn write(db: &Db, name: &str, text: &str) -> String {
    let p = db.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn vevent(uid: &str, start: &str, end: &str, summary: &str, extra: &str) -> String {
    format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=America/New_York:{start}\r\nDTEND;TZID=America/New_York:{end}\r\n{extra}SUMMARY:{summary}\r\nEND:VEVENT\r\n")
}

fn calendar(events: &[String]) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{}END:VCALENDAR\r\n", events.concat())
}

#[test]
fn reimport_is_idempotent_and_a_partly_readable_newer_export_keeps_what_it_cannot_read() {
    let db = Db::new();
    let v1 = calendar(&[
        vevent("a@t", "20260302T090000", "20260302T093000", "Admin", ""),
        vevent("b@t", "20260302T100000", "20260302T103000", "Rounds", "RRULE:FREQ=DAILY;COUNT=3\r\n"),
        vevent("c@t", "20260302T110000", "20260302T113000", "Team", ""),
    ]);
    let f = write(&db, "rivera.ics", &v1);
    let args = ["--json", "import", &f, "--provider", "Dr. Rivera", "--tz", "America/New_York", "--from", "2026-03-01T00:00:00Z", "--to", "2026-04-01T00:00:00Z"];
    let first = db.run(&args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.json()["events"], 3);
    assert_eq!(first.json()["instances"], 5);
    let content = db.run(&["--json", "busy", "--from", FROM, "--to", TO]).stdout;
    let again = db.run(&args);
    assert_eq!(again.code, 0);
    assert_eq!(again.json()["removed"], 0);
    assert_eq!(db.run(&["--json", "busy", "--from", FROM, "--to", TO]).stdout, content);

    // Newer export: c@t deleted, b@t now has an unknown zone (DTSTART on line 14).
    let v2 = calendar(&[
        vevent("a@t", "20260302T090000", "20260302T094500", "Admin", ""),
        "BEGIN:VEVENT\r\nUID:b@t\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Mars/Olympus_Mons:20260302T100000\r\nDTEND;TZID=Mars/Olympus_Mons:20260302T103000\r\nRRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY:Rounds\r\nEND:VEVENT\r\n".to_string(),
    ]);
    std::fs::write(&f, v2).unwrap();
    let second = db.run(&args);
    assert_eq!(second.code, 2, "skipped items must give exit code 2: {}", second.stderr);
    let s = second.json();
    assert_eq!(s["removed"], 1, "only c@t's instance goes: {s}");
    let skipped = s["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["uid"], "b@t");
    assert_eq!(skipped[0]["line"], 14, "the line of the DTSTART with the unknown zone");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("Mars/Olympus_Mons"), "{s}");
    assert!(second.stderr.contains("line 14"), "{}", second.stderr);
    let busy = db.run(&["--json", "busy", "--from", FROM, "--to", TO]).json();
    let got: Vec<(String, String, String)> = busy
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["uid"].as_str().unwrap().into(), b["start"].as_str().unwrap().into(), b["end"].as_str().unwrap().into()))
        .collect();
    let want = [
        ("a@t", "2026-03-02T14:00:00Z", "2026-03-02T14:45:00Z"),
        ("b@t", "2026-03-02T15:00:00Z", "2026-03-02T15:30:00Z"),
        ("b@t", "2026-03-03T15:00:00Z", "2026-03-03T15:30:00Z"),
        ("b@t", "2026-03-04T15:00:00Z", "2026-03-04T15:30:00Z"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(got, want);
}

#[test]
fn a_refused_import_leaves_the_database_unchanged() {
    let db = Db::new();
    let good = write(&db, "good.ics", &calendar(&[vevent("a@t", "20260302T090000", "20260302T093000", "Admin", "")]));
    assert_eq!(db.run(&["import", &good, "--provider", "Dr. Rivera", "--tz", "America/New_York", "--now", "2026-03-01T00:00:00Z"]).code, 0);
    let before = db.content();
    let not_cal = write(&db, "notes.ics", "Dear team,\nplease see the schedule.\n");
    let r = db.run(&["import", &not_cal, "--provider", "Dr. New", "--tz", "America/Chicago"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("notes.ics"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "one clear sentence: {}", r.stderr);
    let missing_provider = db.run(&["import", &good]);
    assert_eq!(missing_provider.code, 1);
    assert!(missing_provider.stderr.contains("--provider"), "{}", missing_provider.stderr);
    let unknown = db.run(&["import", &good, "--provider", "Dr. Nobody"]);
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("Dr. Nobody") && unknown.stderr.contains("--tz"), "{}", unknown.stderr);
    assert_eq!(db.content(), before);
}

#[test]
fn the_database_file_holds_no_imported_text_in_plain() {
    let db = Db::new();
    let f = write(&db, "cal.ics", &calendar(&[vevent("quimby-follow-up-7f3a@clinic.example", "20260302T090000", "20260302T093000", "Follow-up Jane Quimby-Roe", "")]));
    assert_eq!(db.run(&["import", &f, "--provider", "Dr. Zebulon", "--tz", "America/New_York", "--now", "2026-03-01T00:00:00Z"]).code, 0);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(db.dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("medharmony.db") {
            bytes.extend(std::fs::read(&p).unwrap());
        }
    }
    assert!(bytes.len() > 4096);
    let hay = String::from_utf8_lossy(&bytes);
    // Needles long enough that random ciphertext cannot contain them by chance
    // (a 3-byte needle turns up in ~100 KiB of random bytes about once in 160 runs).
    for secret in ["Jane Quimby-Roe", "Zebulon", "SQLite format 3", "quimby-follow-up-7f3a@clinic.example"] {
        assert!(!hay.contains(secret), "'{secret}' is readable in the database file");
    }
    // And the wrong key cannot open it.
    let r = db.cmd().env("MEDHARMONY_DB_KEY", "not the key").args(["providers", "list"]).output().unwrap();
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("key does not match"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence, no SQLCipher diagnostics: {err}");
}

#[test]
fn without_key_or_keychain_the_cli_stops_with_a_clear_message() {
    let db = Db::new();
    let r = db
        .cmd()
        .env_remove("MEDHARMONY_DB_KEY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env("XDG_RUNTIME_DIR", db.dir.path())
        .args(["providers", "list"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("MEDHARMONY_DB_KEY") && err.contains("keychain"), "{err}");
    assert!(!db.path.exists() || std::fs::metadata(&db.path).unwrap().len() == 0, "no plaintext database may be left behind");
}

#[test]
fn keychain_holds_the_generated_key_when_one_is_available() {
    // CI runs the tests inside a D-Bus session with an unlocked gnome-keyring
    // and sets MEDHARMONY_REQUIRE_KEYCHAIN=1, so there this test cannot skip.
    if std::env::var("MEDHARMONY_REQUIRE_KEYCHAIN").as_deref() != Ok("1") {
        eprintln!("skipped: set MEDHARMONY_REQUIRE_KEYCHAIN=1 inside a session with a Secret Service");
        return;
    }
    let db = Db::new();
    let add = db.cmd().env_remove("MEDHARMONY_DB_KEY").args(["providers", "add", "Dr. Key", "--tz", "Europe/Paris"]).output().unwrap();
    assert_eq!(add.status.code(), Some(0), "{}", String::from_utf8_lossy(&add.stderr));
    let list = db.cmd().env_remove("MEDHARMONY_DB_KEY").args(["--json", "providers", "list"]).output().unwrap();
    assert_eq!(list.status.code(), Some(0), "{}", String::from_utf8_lossy(&list.stderr));
    let v: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v[0]["name"], "Dr. Key");
    // The env key is a different key: it must not open the keychain-keyed file.
    assert_eq!(db.cmd().env("MEDHARMONY_DB_KEY", TEST_KEY).args(["providers", "list"]).output().unwrap().status.code(), Some(1));
}

#[test]
fn calendar_providers_get_the_working_hours_grid_minus_busy_time() {
    let db = Db::new();
    assert_eq!(db.run(&["providers", "add", "Dr. Grid", "--tz", "America/New_York", "--hours", "Mon-Fri 09:00-12:00", "--slot-minutes", "30"]).code, 0);
    let f = write(&db, "grid.ics", &calendar(&[vevent("x@t", "20260302T100000", "20260302T104500", "Busy", "")]));
    assert_eq!(db.run(&["import", &f, "--provider", "Dr. Grid", "--now", "2026-03-01T00:00:00Z"]).code, 0);
    let args = ["--json", "slots", "--provider", "Dr. Grid", "--from", "2026-03-02T00:00:00Z", "--to", "2026-03-03T00:00:00Z"];
    let slots = db.run(&args).json();
    let starts: Vec<&str> = slots.as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()).collect();
    // 09:00-12:00 EST in 30-minute cells; 10:00-10:45 busy blocks the 10:00 and 10:30 cells.
    assert_eq!(starts, ["2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "2026-03-02T16:00:00Z", "2026-03-02T16:30:00Z"]);
    assert_eq!(slots[0]["end"], "2026-03-02T14:30:00Z");
    assert_eq!(slots[0]["status"], "free");
    assert_eq!(slots[0]["provider"], "Dr. Grid");
    assert_eq!(slots[0]["location"], Value::Null);
    // Ids are stable across runs.
    assert_eq!(db.run(&args).stdout, db.run(&args).stdout);
    let id = slots[0]["id"].as_str().unwrap().to_string();
    assert!(id.contains("20260302T140000Z"), "{id}");

    // A published slot that overlaps the provider's busy time is busy-unavailable.
    let csv = write(&db, "published.csv", "provider,date,start,end,location\nDr. Grid,2026-03-02,10:15,10:30,Main\nDr. Grid,2026-03-02,11:00,11:15,Main\n");
    let r = db.run(&["import", &csv, "--now", "2026-03-01T00:00:00Z"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let published = db.run(&["--json", "slots", "--provider", "Dr. Grid", "--from", "2026-03-02T00:00:00Z", "--to", "2026-03-03T00:00:00Z", "--status", "busy-unavailable"]).json();
    assert_eq!(published.as_array().unwrap().len(), 1);
    assert_eq!(published[0]["start"], "2026-03-02T15:15:00Z");
    assert_eq!(published[0]["location"], "Main");
    assert_eq!(published[0]["source"], "published");
}

#[test]
fn global_options_work_before_or_after_the_subcommand_and_now_sets_the_default_window() {
    let db = Db::new();
    // Event on 2026-03-10: inside [now-7d, now+90d) for now = 2026-03-05, outside for now = 2026-07-01.
    let f = write(&db, "w.ics", &calendar(&[vevent("w@t", "20260310T090000", "20260310T093000", "W", "")]));
    let r = db.run(&["import", &f, "--provider", "Dr. W", "--tz", "America/New_York", "--now", "2026-07-01T00:00:00Z", "--json"]);
    assert_eq!(r.json()["instances"], 0);
    let r = db.run(&["--now", "2026-03-05T00:00:00Z", "--json", "import", &f, "--provider", "Dr. W"]);
    assert_eq!(r.json()["instances"], 1);
    let busy_after = db.run(&["busy", "--now", "2026-03-09T00:00:00Z", "--json"]).json();
    let busy_before = db.run(&["--json", "--now", "2026-03-09T00:00:00Z", "busy"]).json();
    assert_eq!(busy_after, busy_before);
    assert_eq!(busy_after.as_array().unwrap().len(), 1);
    // Default busy window is [now, now + 7 days).
    assert_eq!(db.run(&["--json", "--now", "2026-03-11T00:00:00Z", "busy"]).json(), json!([]));
}

#[test]
fn bad_arguments_are_refused_with_exit_code_1() {
    let db = Db::new();
    let r = db.run(&["providers", "add", "Dr. X", "--tz", "Mars/Base"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Mars/Base"), "{}", r.stderr);
    let r = db.run(&["providers", "add", "Dr. X", "--tz", "UTC", "--hours", "Mon-Fri 17:00-09:00"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("ends before it starts"), "{}", r.stderr);
    let r = db.run(&["busy", "--from", "2026-03-02"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("RFC 3339"), "{}", r.stderr);
    let r = db.run(&["slots", "--status", "open"]);
    assert_eq!(r.code, 1);
}

/// `busy --json` of one import, as (uid, start, end).
fn import_and_list(file: &str, tz: &str, from: &str, to: &str) -> (Run, Vec<(String, String, String)>) {
    let db = Db::new();
    let path = fixture(file);
    let imp = db.run(&["--json", "import", path.to_str().unwrap(), "--provider", "Dr. Gap", "--tz", tz, "--from", from, "--to", to]);
    let busy = db.run(&["--json", "busy", "--from", from, "--to", to]).json();
    let list = busy
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["uid"].as_str().unwrap().into(), b["start"].as_str().unwrap().into(), b["end"].as_str().unwrap().into()))
        .collect();
    (imp, list)
}

fn triples(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    v.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

#[test]
fn events_starting_in_a_dst_gap_shift_forward_and_keep_their_length() {
    // Regression (QA): the gap was taken out of the duration, so these vanished or were refused.
    let (imp, got) = import_and_list("calendar/gap-start-dtend-vs-duration.ics", "America/New_York", "2026-03-07T00:00:00Z", "2026-03-09T00:00:00Z");
    assert_eq!(imp.code, 0, "{}", imp.stderr);
    assert_eq!(
        got,
        triples(&[
            ("gs4@x", "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"),
            ("gs1@x", "2026-03-08T07:30:00Z", "2026-03-08T08:00:00Z"),
            ("gs2@x", "2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z"),
            ("gs3@x", "2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z"),
        ])
    );
    let (imp, got) = import_and_list("calendar/gap-start-weekly-series.ics", "America/New_York", "2026-03-01T00:00:00Z", "2026-03-23T00:00:00Z");
    assert_eq!(imp.code, 0, "{}", imp.stderr);
    assert_eq!(
        got,
        triples(&[
            ("oncall@x", "2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z"),
            ("oncall@x", "2026-03-15T06:30:00Z", "2026-03-15T07:30:00Z"),
            ("oncall@x", "2026-03-22T06:30:00Z", "2026-03-22T07:30:00Z"),
        ])
    );
    let (imp, got) = import_and_list("calendar/gap-start-floating-london.ics", "America/New_York", "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z");
    assert_eq!(imp.code, 0, "{}", imp.stderr);
    assert_eq!(got, triples(&[("floatgap@google.com", "2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z")]));
}

#[test]
fn json_import_prints_one_line_per_file_and_refused_files_count_as_exit_1() {
    let db = Db::new();
    let good = write(&db, "good.ics", &calendar(&[vevent("a@t", "20260302T090000", "20260302T093000", "Admin", "")]));
    let bad = write(&db, "notes.ics", "Dear team,\nplease see the schedule.\n");
    let r = db.run(&["--json", "--now", "2026-03-01T00:00:00Z", "import", &good, &bad, "--provider", "Dr. J", "--tz", "America/New_York"]);
    assert_eq!(r.code, 1, "a refused file outranks success: {}", r.stderr);
    let lines: Vec<Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert_eq!(lines[0]["instances"], 1);
    assert_eq!(lines[1]["file"], bad.as_str());
    assert!(lines[1]["error"].as_str().unwrap().contains("not a calendar"), "{}", lines[1]);
    // The good file was still imported (each file is its own transaction).
    assert_eq!(db.run(&["--json", "busy", "--from", FROM, "--to", TO]).json().as_array().unwrap().len(), 1);
}

#[test]
fn spreadsheet_slots_starting_in_a_dst_gap_keep_their_length() {
    // Regression (QA): these were skipped as "no length".
    for (file, start, end) in [
        ("csv/gap-start-excel-serial.csv", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"),
        ("csv/gap-start-local.csv", "2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z"),
    ] {
        let db = Db::new();
        let path = fixture(file);
        let r = db.run(&["import", path.to_str().unwrap(), "--tz", "America/New_York", "--from", FROM, "--to", TO]);
        assert_eq!(r.code, 0, "{file}: {}", r.stderr);
        let slots = db.run(&["--json", "slots", "--from", FROM, "--to", TO]).json();
        assert_eq!(slots.as_array().unwrap().len(), 1, "{file}");
        assert_eq!((slots[0]["start"].as_str().unwrap(), slots[0]["end"].as_str().unwrap()), (start, end), "{file}");
    }
}

#[test]
fn spreadsheet_times_with_a_utc_offset_are_instants() {
    let db = Db::new();
    let path = fixture("csv/instant-utc-offset.csv");
    let r = db.run(&["import", path.to_str().unwrap(), "--tz", "America/New_York", "--from", FROM, "--to", TO]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let slots = db.run(&["--json", "slots", "--from", FROM, "--to", TO]).json();
    assert_eq!(slots[0]["start"], "2026-03-05T17:00:00Z");
    assert_eq!(slots[0]["end"], "2026-03-05T17:30:00Z");
}

#[test]
fn providers_created_from_a_spreadsheet_take_the_rows_own_time_zone() {
    // Regression (QA): new providers got the import's zone even when the row named its own.
    let db = Db::new();
    let path = fixture("csv/tz-column-new-providers.csv");
    let r = db.run(&["import", path.to_str().unwrap(), "--tz", "Etc/UTC", "--from", FROM, "--to", TO]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let providers = db.run(&["--json", "providers", "list"]).json();
    let zones: Vec<(&str, &str)> = providers.as_array().unwrap().iter().map(|p| (p["name"].as_str().unwrap(), p["tz"].as_str().unwrap())).collect();
    assert_eq!(zones, [("Dr. Honolulu", "Pacific/Honolulu"), ("Dr. Phoenix", "America/Phoenix")]);
    let slots = db.run(&["--json", "slots", "--from", FROM, "--to", TO]).json();
    let starts: Vec<&str> = slots.as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2026-03-02T16:00:00Z", "2026-03-03T01:00:00Z"]);
}

#[test]
fn a_calendar_with_no_readable_event_changes_nothing() {
    // Regression (QA): a damaged newer export removed every earlier busy time of the feed.
    let db = Db::new();
    let f = write(&db, "owl.ics", &calendar(&[vevent("a@t", "20260302T090000", "20260302T093000", "Admin", ""), vevent("b@t", "20260303T090000", "20260303T093000", "Admin", "")]));
    let args = ["import", &f, "--provider", "Dr. Owl", "--tz", "America/New_York", "--now", "2026-03-01T00:00:00Z"];
    assert_eq!(db.run(&args).code, 0);
    let before = db.content();
    std::fs::write(&f, calendar(&["BEGIN:VEVENT\r\nUID:x@t\r\nDTSTART:garbage\r\nSUMMARY:Broken\r\nEND:VEVENT\r\n".to_string()])).unwrap();
    let r = db.run(&args);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("its only event could not be read (line 6: DTSTART") && r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert_eq!(db.content(), before);
    // An export that is empty on purpose still clears the feed.
    std::fs::write(&f, calendar(&[])).unwrap();
    let r = db.run(&["--json", "import", &f, "--provider", "Dr. Owl", "--now", "2026-03-01T00:00:00Z"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.json()["removed"], 2);
}

#[test]
fn the_database_itself_is_never_imported() {
    let db = Db::new();
    assert_eq!(db.run(&["providers", "add", "Dr. Own", "--tz", "UTC"]).code, 0);
    for suffix in ["", "-wal"] {
        let p = format!("{}{suffix}", db.path.display());
        let r = db.run(&["import", &p, "--provider", "Dr. Own"]);
        assert_eq!(r.code, 1, "{p}");
        assert!(r.stderr.contains("own database"), "{}", r.stderr);
    }
}

#[test]
fn no_slot_is_offered_where_no_calendar_was_read() {
    // Regression (QA): weeks beyond the import window showed the whole working day as free.
    let db = Db::new();
    assert_eq!(db.run(&["providers", "add", "Dr. Cover", "--tz", "America/New_York", "--hours", "Mon-Fri 09:00-10:00"]).code, 0);
    let f = write(&db, "cover.ics", &calendar(&[vevent("c@t", "20260302T090000", "20260302T093000", "Busy", "")]));
    let r = db.run(&["import", &f, "--provider", "Dr. Cover", "--from", "2026-03-01T00:00:00Z", "--to", "2026-03-08T00:00:00Z"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let free = |from: &str, to: &str| db.run(&["--json", "slots", "--status", "free", "--from", from, "--to", to]).json().as_array().unwrap().len();
    assert_eq!(free("2026-03-02T00:00:00Z", "2026-03-07T00:00:00Z"), 9, "Mon 09:30 plus Tue-Fri 09:00 and 09:30");
    assert_eq!(free("2026-03-09T00:00:00Z", "2026-03-14T00:00:00Z"), 0, "nothing known beyond the import window");
    let sources = db.run(&["--json", "sources"]).json();
    assert_eq!(sources[0]["covered_from"], "2026-03-01T00:00:00Z");
    assert_eq!(sources[0]["covered_to"], "2026-03-08T00:00:00Z");
    // A later import of another period widens what is covered.
    assert_eq!(db.run(&["import", &f, "--provider", "Dr. Cover", "--from", "2026-03-08T00:00:00Z", "--to", "2026-03-15T00:00:00Z"]).code, 0);
    assert_eq!(free("2026-03-09T00:00:00Z", "2026-03-14T00:00:00Z"), 10);
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let db = Db::new();
    for i in 0..50 {
        assert_eq!(db.run(&["providers", "add", &format!("Dr. Pipe {i:02}"), "--tz", "UTC"]).code, 0);
    }
    let mut child = db.cmd().args(["providers", "list"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take()); // the reader goes away at once, like `| head -0`
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}
