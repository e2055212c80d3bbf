//! The sync worker end to end (issue "Sync worker"): `medharmony serve` as a
//! child process against wiremock FHIR fakes, and crash safety of a sync
//! killed with SIGKILL.
//!
//! Checked: `serve` syncs a never-synced integration first (by the order the
//! fake saw the requests) and then an overdue one, prints one line per sync,
//! refuses a second `serve` on the same database (exit 1, naming the process
//! that holds it), and exits 0 on SIGTERM; `integrations pause|resume`; and
//! `kill -9` while a page is being fetched and right as the window is being
//! written leaves a database that passes `PRAGMA integrity_check`, holds all
//! or none of the window, and completes the next `medharmony sync`.
//!
//! Unix only (signals). `serve` runs in real time: waits poll with deadlines.

#![cfg(unix)]

use crate::fake::{fhir_json, Fake};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use medharmony::store::key::DbKey;
use medharmony::store::Store;
use medharmony_e2e::{Db, TEST_KEY};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::Mock;

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A searchset page of `n` free 15-minute slots of `who` starting tomorrow (real time, so they lie in
/// `serve`'s default window), ids `<prefix>-<i>`, with the Schedule included and an optional next link.
fn page(prefix: &str, who: &str, range: std::ops::Range<usize>, next: Option<String>) -> Value {
    let day = Utc::now().date_naive().succ_opt().unwrap().and_hms_opt(8, 0, 0).unwrap().and_utc();
    let mut entries: Vec<Value> = range
        .map(|i| {
            let start = day + chrono::Duration::minutes(15 * i as i64);
            json!({ "resource": {
                "resourceType": "Slot", "id": format!("{prefix}-{i}"), "meta": { "versionId": "1" },
                "schedule": { "reference": format!("Schedule/{prefix}") }, "status": "free",
                "start": iso(start), "end": iso(start + chrono::Duration::minutes(15))
            }, "search": { "mode": "match" } })
        })
        .collect();
    entries.push(json!({ "resource": {
        "resourceType": "Schedule", "id": prefix, "active": true,
        "actor": [{ "reference": format!("Practitioner/{prefix}"), "display": who }]
    }, "search": { "mode": "include" } }));
    let mut links = vec![json!({ "relation": "self", "url": "self" })];
    if let Some(n) = next {
        links.push(json!({ "relation": "next", "url": n }));
    }
    json!({ "resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries })
}

fn add(db: &Db, name: &str, base: &str) {
    let r = db.run(&["integrations", "add", "fhir", "--name", name, "--base-url", base, "--auth", "none", "--tz", "America/New_York"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Lines of a child's pipe, through a channel (so waits can have deadlines).
fn lines(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits until `rx` yields a line satisfying `want`, returning every line read; panics after `limit`.
fn wait_for_line(rx: &Receiver<String>, limit: Duration, want: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = want(&line);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => panic!("no matching line within {limit:?}; got {seen:#?}"),
        }
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn integrations(db: &Db) -> Vec<Value> {
    let r = db.run(&["--json", "integrations", "list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json().as_array().unwrap().clone()
}

#[test]
fn serve_syncs_never_synced_first_refuses_a_second_scheduler_and_stops_on_sigterm() {
    let fake = Fake::start();
    for (prefix, who) in [("alpha", "Dr. Alpha"), ("zeta", "Dr. Zeta")] {
        fake.mount(Mock::given(method("GET")).and(path(format!("/{prefix}/r4/Slot"))).respond_with(fhir_json(page(
            prefix,
            who,
            0..2,
            None,
        ))));
    }
    let db = Db::new();
    // "Alpha Clinic" (id 1, first by name) was synced long ago; "Zeta Clinic" (id 2) never.
    add(&db, "Alpha Clinic", &format!("{}/alpha/r4", fake.uri()));
    let old = db.run(&["--now", "2026-01-05T09:00:00Z", "sync", "--integration", "Alpha Clinic"]);
    assert_eq!(old.code, 0, "{}", old.stderr);
    add(&db, "Zeta Clinic", &format!("{}/zeta/r4", fake.uri()));
    let before = fake.requests().len();
    assert_eq!(before, 1);

    let mut serve = db.cmd().arg("serve").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let out = lines(serve.stdout.take().unwrap());
    let err = lines(serve.stderr.take().unwrap());
    let started = Instant::now();
    let synced = wait_for_line(&out, Duration::from_secs(10), |l| l.contains("Alpha Clinic"));
    assert_eq!(synced.len(), 2, "{synced:#?}");
    assert!(
        synced[0].contains(" Zeta Clinic: 2 added, 0 changed, 0 removed, 0 unchanged, 0 set aside; complete; next sync "),
        "{}",
        synced[0]
    );
    // Its old sync's window (January to April 2026) did not reach the slots, which lie tomorrow.
    assert!(
        synced[1].contains(" Alpha Clinic: 2 added, 0 changed, 0 removed, 0 unchanged, 0 set aside; complete; next sync "),
        "{}",
        synced[1]
    );
    assert!(started.elapsed() < Duration::from_secs(5), "both were due at once: {:?}", started.elapsed());
    let banner = wait_for_line(&err, Duration::from_secs(2), |l| l.starts_with("Keeping "));
    assert!(banner.last().unwrap().contains("(2 active integrations)"), "{banner:?}");

    // The fake saw the never-synced integration first.
    let paths: Vec<String> = fake.requests()[before..].iter().map(|r| r.url.path().to_string()).collect();
    assert_eq!(paths, ["/zeta/r4/Slot", "/alpha/r4/Slot"]);
    let list = integrations(&db);
    for i in &list {
        assert_eq!(i["failures"], 0, "{i}");
        assert_eq!(i["last_error"], Value::Null, "{i}");
        assert_eq!(i["last_sync_at"], i["last_attempt_at"], "{i}");
        let last: DateTime<Utc> = i["last_sync_at"].as_str().unwrap().parse().unwrap();
        assert!((Utc::now() - last).num_seconds().abs() < 30, "{i}");
    }

    // A second scheduler on the same database is refused in plain words.
    let second = db.run(&["serve"]);
    assert_eq!(second.code, 1, "{second:?}");
    let expected = format!("error: Another MedHarmony Desk is already keeping {} in sync (process {})", db.path.display(), serve.id());
    assert!(second.stderr.starts_with(&expected), "{}", second.stderr);
    assert_eq!(second.stdout, "");

    // Nothing else was due: no more requests while it idles briefly.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.requests().len(), before + 2);

    let term = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status().unwrap();
    assert!(term.success());
    assert_eq!(wait_exit(&mut serve, Duration::from_secs(5)), 0);
    wait_for_line(&err, Duration::from_secs(2), |l| l == "Stopped.");

    // Once it has stopped, another scheduler may start (the lock went with the process).
    let mut again = db.cmd().arg("serve").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let again_err = lines(again.stderr.take().unwrap());
    wait_for_line(&again_err, Duration::from_secs(5), |l| l.starts_with("Keeping "));
    Command::new("kill").args(["-INT", &again.id().to_string()]).status().unwrap();
    assert_eq!(wait_exit(&mut again, Duration::from_secs(5)), 0);

    // Pause and resume.
    let r = db.run(&["integrations", "pause", "alpha clinic"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("Paused alpha clinic: it is no longer synced on its schedule"), "{}", r.stdout);
    let active: Vec<(String, bool)> =
        integrations(&db).iter().map(|i| (i["name"].as_str().unwrap().into(), i["active"].as_bool().unwrap())).collect();
    assert_eq!(active, [("Alpha Clinic".into(), false), ("Zeta Clinic".into(), true)]);
    let listed = db.run(&["integrations", "list"]);
    assert!(listed.stdout.lines().next().unwrap().ends_with("\tpaused; ok"), "{}", listed.stdout);
    assert_eq!(db.run(&["integrations", "resume", "Alpha Clinic"]).code, 0);
    assert_eq!(integrations(&db)[0]["active"], true);
    let unknown = db.run(&["integrations", "pause", "Nope"]);
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("there is no integration named 'Nope'"), "{}", unknown.stderr);
}

/// Free slots the integration "Clinic FHIR" put in the cache, as `slots --json` lists them.
fn synced_slots(db: &Db) -> usize {
    let from = iso(Utc::now() - chrono::Duration::days(7));
    let to = iso(Utc::now() + chrono::Duration::days(90));
    let r = db.run(&["--json", "slots", "--from", &from, "--to", &to]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json().as_array().unwrap().iter().filter(|s| s["source"] == "Clinic FHIR").count()
}

fn integrity(db: &Db) -> Vec<String> {
    let key = DbKey::from_env_value(TEST_KEY).unwrap();
    Store::open(&db.path, &key).unwrap().integrity_check().unwrap()
}

#[test]
fn kill_9_mid_sync_leaves_the_database_consistent_and_the_next_sync_completes() {
    const FIRST: usize = 1500;
    const TOTAL: usize = 1502;
    let fake = Fake::start();
    let base = format!("{}/r4", fake.uri());
    let mount = |delay: Duration| {
        let p2 = page("s", "Dr. Slow", FIRST..TOTAL, None);
        fake.mount(
            Mock::given(method("GET"))
                .and(path("/r4/Slot"))
                .and(query_param("page", "2"))
                .respond_with(fhir_json(&p2).set_delay(delay))
                .with_priority(1),
        );
        let p1 = page("s", "Dr. Slow", 0..FIRST, Some(format!("{base}/Slot?page=2")));
        fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json(&p1)).with_priority(2));
    };
    mount(Duration::from_secs(30));
    let db = Db::new();
    add(&db, "Clinic FHIR", &base);

    // 1. Killed while the slow second page is being fetched.
    let mut child = db.cmd().arg("sync").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !fake.requests().iter().any(|r| r.url.query().is_some_and(|q| q.contains("page=2"))) {
        assert!(Instant::now() < deadline, "the sync never asked for page 2");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    assert_eq!(child.wait().unwrap().code(), None, "killed by a signal");
    assert_eq!(integrity(&db), ["ok"]);
    assert_eq!(synced_slots(&db), 0, "nothing of the unfinished window was written");

    // 2. Killed right as the window is being written (the debug log line comes just before the write transaction).
    fake.reset();
    mount(Duration::ZERO);
    let mut child =
        db.cmd().arg("sync").env("MEDHARMONY_LOG", "medharmony=debug").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let err = lines(child.stderr.take().unwrap());
    wait_for_line(&err, Duration::from_secs(10), |l| l.contains("window read; writing it"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(integrity(&db), ["ok"]);
    let after_kill = synced_slots(&db);
    eprintln!("after kill -9 while writing: {after_kill} of {TOTAL} slots");
    assert!(after_kill == 0 || after_kill == TOTAL, "all or nothing, not {after_kill}");

    // 3. The next sync completes.
    let r = db.run(&["--json", "sync"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = &r.json()[0];
    assert_eq!(report["complete"], true);
    assert_eq!(report["added"].as_u64().unwrap() + report["unchanged"].as_u64().unwrap(), TOTAL as u64, "{report}");
    assert_eq!(synced_slots(&db), TOTAL);
    assert_eq!(integrity(&db), ["ok"]);
    let integ = &integrations(&db)[0];
    assert_eq!((integ["failures"].as_u64(), integ["last_error"].is_null()), (Some(0), true), "{integ}");
}
