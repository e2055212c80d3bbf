//! Cancellation fill's language-model re-rank against a wiremock OpenAI-compatible
//! Chat Completions endpoint, with replies from `fixtures/openai/`, and the
//! `medharmony suggest --json` command on a small real database.
//!
//! The waitlist used throughout (slot: Wed 2026-12-02 09:00–09:30 EST, now 26 h before):
//! deterministic order is c1 Ursula (urgent), c2 Sam (soon, score 61), c3 Sue (soon,
//! score 52), c4 Rob (routine, score 182: routine always last).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use medharmony::fill::filter::FillSlot;
use medharmony::fill::llm::{rerank, LlmSettings, RankedBy, Reranked};
use medharmony::fill::model::{parse_windows, Patient, Priority, WaitlistEntry};
use medharmony::fill::rank::rank;
use medharmony::time::{parse_iana, Interval};
use medharmony_e2e::{fixture, Db};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::fake::Fake;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub(crate) fn now() -> DateTime<Utc> {
    t("2026-12-01T12:00:00Z")
}

pub(crate) fn slot() -> FillSlot {
    FillSlot {
        id: "slot-1".into(),
        provider: "Dr. Rivera".into(),
        location: Some("North".into()),
        span: Interval::new(t("2026-12-02T14:00:00Z"), t("2026-12-02T14:30:00Z")).unwrap(),
        service_type: Some("Follow-up".into()),
    }
}

fn entry(id: i64, name: &str, phone: &str, priority: Priority, added: &str, windows: &str, min_notice: u32) -> WaitlistEntry {
    let mut p = Patient::new(name, parse_iana("America/New_York").unwrap(), t(added));
    p.phone = Some(phone.into());
    p.email = Some(format!("{}@example.org", name.split(' ').next().unwrap().to_lowercase()));
    p.source_ids.insert("Main St Epic".into(), format!("E{id}00{id}"));
    p.priority = priority;
    p.prefs.preferred_times = parse_windows(windows).unwrap();
    p.prefs.min_notice_hours = min_notice;
    WaitlistEntry { id, patient: p }
}

pub(crate) fn waitlist() -> Vec<WaitlistEntry> {
    vec![
        entry(1, "Ursula Urgent", "+1 212 555 0101", Priority::Urgent, "2026-11-28T12:00:00Z", "", 0),
        entry(2, "Sam Soon", "+1 212 555 0102", Priority::Soon, "2026-10-01T12:00:00Z", "", 24),
        entry(3, "Sue Soon", "+1 212 555 0103", Priority::Soon, "2026-11-01T12:00:00Z", "08:00-12:00", 0),
        entry(4, "Rob Routine", "+1 212 555 0104", Priority::Routine, "2026-06-01T12:00:00Z", "", 0),
    ]
}

fn settings(fake: &Fake) -> LlmSettings {
    let mut s = LlmSettings::new(&format!("{}/v1", fake.uri()), "test-model");
    s.api_key = Some("sk-test-not-real".into());
    s
}

fn completion_fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("openai/{name}"))).unwrap()).unwrap()
}

fn reply(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(completion_fixture(name))
}

fn mount(fake: &Fake, response: ResponseTemplate) {
    fake.mount(Mock::given(method("POST")).and(path("/v1/chat/completions")).respond_with(response));
}

fn run(s: &LlmSettings) -> Reranked {
    let ranked = rank(&waitlist(), &slot(), now());
    let det: Vec<i64> = ranked.iter().map(|c| c.entry.id).collect();
    assert_eq!(det, [1, 2, 3, 4], "the deterministic order the fixtures' ids refer to");
    rerank(s, &slot(), ranked)
}

fn ids(r: &Reranked) -> Vec<i64> {
    r.order.iter().map(|(c, _)| c.entry.id).collect()
}

fn assert_fallback(r: &Reranked, reason_part: &str) {
    assert_eq!(r.ranked_by, RankedBy::Deterministic);
    assert_eq!(ids(r), [1, 2, 3, 4], "deterministic order kept");
    let why = r.fallback_reason.as_deref().unwrap_or_default();
    assert!(why.contains(reason_part), "fallback reason {why:?} should say {reason_part:?}");
    assert!(r.order.iter().all(|(_, reason)| reason.is_none()));
}

#[test]
fn a_valid_reply_reorders_within_tiers_and_the_request_is_de_identified() {
    let fake = Fake::start();
    mount(&fake, reply("chat-completion-ranking.json"));
    let r = run(&settings(&fake));
    // Model: c1, c3, c2 (c4 left out). c4 keeps its place after the ranked ones.
    assert_eq!(ids(&r), [1, 3, 2, 4]);
    assert_eq!((r.ranked_by, r.fallback_reason.as_deref()), (RankedBy::Llm, None));
    assert_eq!(r.order[1].1.as_deref(), Some("wide notice margin"));
    assert_eq!(r.order[3].1, None);

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.headers.get("authorization").unwrap().to_str().unwrap(), "Bearer sk-test-not-real");
    let text = String::from_utf8(req.body.clone()).unwrap();
    for secret in ["Ursula", "Sam Soon", "Sue", "Rob", "555", "example.org", "E1001", "Main St Epic", "2026", "Dr. Rivera", "North"] {
        assert!(!text.contains(secret), "the request must not carry {secret:?}: {text}");
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["model"], "test-model");
    let rf = &body["response_format"];
    assert_eq!(rf["type"], "json_schema");
    assert_eq!(rf["json_schema"]["strict"], true);
    let ranking = &rf["json_schema"]["schema"]["properties"]["ranking"];
    assert_eq!(ranking["maxItems"], 4);
    assert_eq!(ranking["items"]["properties"]["id"]["enum"], serde_json::json!(["c1", "c2", "c3", "c4"]));
    // The user message holds only relative features under the opaque ids.
    let user: Value = serde_json::from_str(body["messages"][1]["content"].as_str().unwrap()).unwrap();
    let c2 = &user["candidates"][1];
    assert_eq!(c2["id"], "c2");
    assert_eq!(c2["priority"], "soon");
    assert_eq!(c2["days_waiting"], 61);
    assert_eq!(c2["hours_of_notice"], 26);
    assert_eq!(c2["hours_beyond_minimum_notice"], 2);
    assert_eq!(user["candidates"][2]["inside_preferred_time"], true);
    let keys: Vec<&String> = c2.as_object().unwrap().keys().collect();
    assert!(keys.iter().all(|k| !k.contains("name") && !k.contains("phone") && !k.contains("date")), "{keys:?}");
}

#[test]
fn only_the_top_n_are_sent_and_the_rest_follow() {
    let fake = Fake::start();
    mount(&fake, reply("chat-completion-ranking.json"));
    let mut s = settings(&fake);
    s.top_n = 3;
    // The fixture ranks c1, c3, c2: valid with three sent; c4 (not sent) follows.
    let r = run(&s);
    assert_eq!((ids(&r), r.ranked_by), (vec![1, 3, 2, 4], RankedBy::Llm));
    let body: Value = serde_json::from_slice(&fake.requests()[0].body).unwrap();
    let schema = &body["response_format"]["json_schema"]["schema"]["properties"]["ranking"];
    assert_eq!(schema["items"]["properties"]["id"]["enum"], serde_json::json!(["c1", "c2", "c3"]));
    assert_eq!(schema["maxItems"], 3);
    // With two sent, the same reply names c3, which was not sent: refused.
    fake.reset();
    mount(&fake, reply("chat-completion-ranking.json"));
    s.top_n = 2;
    assert_fallback(&run(&s), "named a candidate it was not given");
}

#[test]
fn an_urgent_patient_ranked_below_a_routine_one_is_put_back() {
    let fake = Fake::start();
    mount(&fake, reply("chat-completion-tier-violation.json"));
    let r = run(&settings(&fake));
    // Model: c4 (routine), c3, c1 (urgent), c2. Tiers restored, the model's order kept inside the soon tier.
    assert_eq!(ids(&r), [1, 3, 2, 4]);
    assert_eq!(r.ranked_by, RankedBy::Llm);
    let tiers: Vec<Priority> = r.order.iter().map(|(c, _)| c.priority).collect();
    assert_eq!(tiers, [Priority::Urgent, Priority::Soon, Priority::Soon, Priority::Routine]);
}

#[test]
fn malformed_json_falls_back() {
    let fake = Fake::start();
    mount(&fake, reply("chat-completion-malformed.json"));
    assert_fallback(&run(&settings(&fake)), "not valid JSON");
}

#[test]
fn an_unknown_id_falls_back() {
    let fake = Fake::start();
    mount(&fake, reply("chat-completion-unknown-id.json"));
    assert_fallback(&run(&settings(&fake)), "named a candidate it was not given");
}

#[test]
fn finish_reason_length_falls_back() {
    let fake = Fake::start();
    mount(&fake, reply("chat-completion-length.json"));
    assert_fallback(&run(&settings(&fake)), "cut off");
}

#[test]
fn an_error_inside_http_200_falls_back() {
    let fake = Fake::start();
    mount(&fake, reply("error-in-200.json"));
    assert_fallback(&run(&settings(&fake)), "reported an error: Provider returned error");
}

#[test]
fn a_timeout_falls_back_in_time() {
    let fake = Fake::start();
    mount(&fake, reply("chat-completion-ranking.json").set_delay(Duration::from_secs(5)));
    let mut s = settings(&fake);
    s.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let r = run(&s);
    assert!(started.elapsed() < Duration::from_secs(4), "gave up after the timeout, took {:?}", started.elapsed());
    assert_fallback(&r, "did not answer within 1 s");
}

#[test]
fn a_429_with_a_short_retry_after_is_retried_once() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
            .up_to_n_times(1),
    );
    mount(&fake, reply("chat-completion-ranking.json"));
    let started = Instant::now();
    let r = run(&settings(&fake));
    assert!(started.elapsed() >= Duration::from_secs(1), "waited the Retry-After");
    assert_eq!((ids(&r), r.ranked_by), (vec![1, 3, 2, 4], RankedBy::Llm));
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn a_429_with_a_long_retry_after_or_twice_falls_back() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30")));
    let started = Instant::now();
    assert_fallback(&run(&settings(&fake)), "asked to wait 30 s");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.requests().len(), 1, "not asked again");
    // Busy again after the one short wait: no second retry.
    fake.reset();
    fake.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1")));
    assert_fallback(&run(&settings(&fake)), "still busy");
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn an_http_error_falls_back() {
    let fake = Fake::start();
    mount(&fake, ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": {"message": "No auth credentials found", "code": 401}})));
    assert_fallback(&run(&settings(&fake)), "HTTP 401");
}

/// `medharmony suggest --slot ID --json` on a real database: published slot, imported waitlist,
/// first deterministic, then re-ranked by the fake model configured through the environment.
#[test]
fn cli_suggest_json_on_a_small_database() {
    let db = Db::new();
    let now = "--now=2026-12-01T12:00:00Z";
    let slots = db.dir.path().join("schedule.csv");
    std::fs::write(&slots, "provider,date,start,end,location,service type\nDr. Rivera,2026-12-02,09:00,09:30,North,Follow-up\n").unwrap();
    let imp = db.run(&[now, "import", slots.to_str().unwrap(), "--tz", "America/New_York"]);
    assert_eq!(imp.code, 0, "{}", imp.stderr);
    let wl = db.dir.path().join("waitlist.csv");
    std::fs::write(
        &wl,
        "name,tz,phone,patient_ids,priority,added,preferred_times,min_notice_hours\n\
         Ursula Urgent,America/New_York,+1 212 555 0101,schedule=U1,urgent,2026-11-28T12:00:00Z,,0\n\
         Sam Soon,America/New_York,+1 212 555 0102,,soon,2026-10-01T12:00:00Z,,24\n\
         Sue Soon,America/New_York,+1 212 555 0103,,soon,2026-11-01T12:00:00Z,08:00-12:00,0\n\
         Rob Routine,America/New_York,+1 212 555 0104,,routine,2026-06-01T12:00:00Z,,0\n\
         Wendy Weekend,America/New_York,,,urgent,2026-01-01T00:00:00Z,,48\n",
    )
    .unwrap();
    let imp = db.run(&[now, "--json", "waitlist", "import", wl.to_str().unwrap()]);
    assert_eq!(imp.code, 0, "{}", imp.stderr);
    assert_eq!(imp.json()["added"], 5);

    // Deterministic (no model configured): top 3 of the 4 who can come (Wendy needs 48 h notice).
    let out = db.cmd().args([now, "suggest", "--slot", "slot-1", "--json"]).env_remove("MEDHARMONY_LLM_BASE_URL").output().unwrap();
    let run: medharmony_e2e::Run = out.into();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["ranked_by"], "deterministic");
    assert_eq!(v["fallback_reason"], Value::Null);
    assert_eq!((v["eligible"].as_u64(), v["waiting"].as_u64()), (Some(4), Some(5)));
    let names = |v: &Value| v["suggestions"].as_array().unwrap().iter().map(|s| s["display_name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(names(&v), ["Ursula Urgent", "Sam Soon", "Sue Soon"]);
    let first = &v["suggestions"][0];
    assert_eq!(first["reason"], "Waiting 3 days · any time · urgent");
    assert_eq!((first["score"].as_i64(), first["karma_bonus"].as_u64(), first["notice_hours"].as_i64()), (Some(5), Some(20), Some(26)));
    assert_eq!(v["suggestions"][2]["score"], 52);
    assert_eq!(v["slot"]["start"], "2026-12-02T14:00:00Z");

    // With the fake model: its order within tiers, marked llm.
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(header("authorization", "Bearer sk-env-key"))
            .respond_with(reply("chat-completion-ranking.json")),
    );
    let out = db
        .cmd()
        .args([now, "suggest", "--slot", "slot-1", "--json"])
        .env("MEDHARMONY_LLM_BASE_URL", format!("{}/v1", fake.uri()))
        .env("MEDHARMONY_LLM_MODEL", "test-model")
        .env("MEDHARMONY_LLM_API_KEY", "sk-env-key")
        .output()
        .unwrap();
    let run: medharmony_e2e::Run = out.into();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["ranked_by"], "llm", "{v}");
    assert_eq!(names(&v), ["Ursula Urgent", "Sue Soon", "Sam Soon"]);
    assert_eq!(v["suggestions"][1]["llm_reason"], "wide notice margin");
    assert_eq!(v["suggestions"][1]["reason"], "Waiting 30 days · prefers mornings · soon", "the staff reason stays deterministic");
    assert!(!run.stderr.contains("Ursula") && !run.stderr.contains("555"), "no patient detail in logs: {}", run.stderr);
    let body = String::from_utf8(fake.requests()[0].body.clone()).unwrap();
    assert!(!body.contains("Ursula") && !body.contains("555") && !body.contains("U1"));

    // A model that is down: deterministic, with the reason.
    let out = db
        .cmd()
        .args([now, "suggest", "--slot", "slot-1", "--json"])
        .env("MEDHARMONY_LLM_BASE_URL", "http://127.0.0.1:9/v1")
        .env("MEDHARMONY_LLM_MODEL", "test-model")
        .env("MEDHARMONY_LLM_API_KEY", "sk-env-key")
        .output()
        .unwrap();
    let run: medharmony_e2e::Run = out.into();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["ranked_by"], "deterministic");
    assert!(v["fallback_reason"].as_str().unwrap().contains("could not be reached"), "{v}");
    assert_eq!(names(&v), ["Ursula Urgent", "Sam Soon", "Sue Soon"]);
}

/// `waitlist add|list|remove|import` and `options --patient --json` through the built CLI.
#[test]
fn cli_waitlist_commands_and_options() {
    let db = Db::new();
    let now = "--now=2026-12-01T12:00:00Z";
    let slots = db.dir.path().join("schedule.csv");
    std::fs::write(
        &slots,
        "provider,date,start,end,location,service type\n\
         Dr. Rivera,2026-12-02,09:00,09:30,North,Follow-up\n\
         Dr. Rivera,2026-12-05,09:00,09:30,North,Follow-up\n\
         Dr. Rivera,2026-12-07,14:00,14:30,South,Follow-up\n",
    )
    .unwrap();
    assert_eq!(db.run(&[now, "import", slots.to_str().unwrap(), "--tz", "America/New_York"]).code, 0);
    let add = db.run(&[
        now, "--json", "waitlist", "add", "Ana Example", "--tz", "Europe/Berlin", "--phone", "+49 30 1234567", "--priority", "soon",
        "--blocked-weekdays", "Sat,Sun", "--preferred-time", "14:00-18:00", "--location", "North", "--min-notice-hours", "12",
        "--patient-id", "Main St Epic=E1234",
    ]);
    assert_eq!(add.code, 0, "{}", add.stderr);
    let id = add.json()["id"].as_i64().unwrap();
    let list = db.run(&["--json", "waitlist", "list"]);
    let entry = &list.json()[0];
    assert_eq!((entry["id"].as_i64(), entry["display_name"].as_str(), entry["tz"].as_str()), (Some(id), Some("Ana Example"), Some("Europe/Berlin")));
    assert_eq!(entry["prefs"]["preferred_times"], serde_json::json!(["14:00-18:00"]));
    assert_eq!(entry["source_ids"]["Main St Epic"], "E1234");
    // Options: Wed 09:00 EST is 15:00 in Berlin (inside 14:00-18:00, at North); Sat is blocked; Mon is at South.
    let o = db.run(&[now, "--json", "options", "--patient", &id.to_string()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v = o.json();
    let starts: Vec<&str> = v["options"].as_array().unwrap().iter().map(|x| x["slot"]["start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2026-12-02T14:00:00Z"]);
    assert_eq!(v["options"][0]["patient_local_start"], "2026-12-02 15:00");
    assert_eq!(v["options"][0]["karma_bonus"], 20);
    // A bad option value is refused with the option named; a bad CSV row names line and column and adds nobody.
    let bad = db.run(&[now, "waitlist", "add", "X", "--tz", "UTC", "--preferred-time", "9-10"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--preferred-time"), "{}", bad.stderr);
    let csv = db.dir.path().join("w.csv");
    std::fs::write(&csv, "name,tz,priority\nBen,UTC,soon\nCara,UTC,whenever\n").unwrap();
    let imp = db.run(&[now, "waitlist", "import", csv.to_str().unwrap()]);
    assert_eq!(imp.code, 1);
    assert!(imp.stderr.contains("line 3, column 'priority'") && imp.stderr.contains("nothing was imported"), "{}", imp.stderr);
    assert!(!imp.stderr.contains("Cara"), "{}", imp.stderr);
    assert_eq!(db.run(&["--json", "waitlist", "list"]).json().as_array().unwrap().len(), 1);
    // Remove, twice.
    assert_eq!(db.run(&[now, "waitlist", "remove", &id.to_string()]).code, 0);
    let again = db.run(&[now, "waitlist", "remove", &id.to_string()]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains(&format!("no patient {id}")), "{}", again.stderr);
    assert_eq!(db.run(&["--json", "waitlist", "list"]).json(), serde_json::json!([]));
}

/// `waitlist update ID` changes only the options given; `waitlist show --json` proves the rest unchanged.
#[test]
fn cli_waitlist_update_changes_only_the_given_fields() {
    let db = Db::new();
    let now = "--now=2026-12-01T12:00:00Z";
    let add = db.run(&[
        now, "--json", "waitlist", "add", "Ana Example", "--tz", "Europe/Berlin", "--phone", "+49 30 1234567", "--email", "ana@example.org",
        "--priority", "soon", "--visit-type", "Follow-up", "--provider", "Dr. Rivera", "--location", "North", "--location", "South",
        "--duration-minutes", "40", "--blocked-weekdays", "Sat,Sun", "--blocked-date", "2026-12-24", "--preferred-time", "14:00-18:00",
        "--min-notice-hours", "12", "--latest-date", "2027-01-31", "--patient-id", "Main St Epic=E1234", "--added", "2026-10-21T08:15:00Z",
    ]);
    assert_eq!(add.code, 0, "{}", add.stderr);
    let id = add.json()["id"].as_i64().unwrap().to_string();
    let show = || {
        let r = db.run(&["--json", "waitlist", "show", &id]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    };
    let before = show();
    assert_eq!(before["wants"]["duration_minutes"], 40);

    let upd = db.run(&[
        now, "--json", "waitlist", "update", &id, "--phone", "+49 30 7654321", "--priority", "urgent", "--location", "East",
        "--preferred-time", "08:00-12:00", "--preferred-time", "16:00-18:00", "--provider", "any", "--duration-minutes", "any",
        "--min-notice-hours", "0",
    ]);
    assert_eq!(upd.code, 0, "{}", upd.stderr);
    let after = show();
    assert_eq!(upd.json(), after, "update prints the stored entry");
    // Changed.
    assert_eq!(after["phone"], "+49 30 7654321");
    assert_eq!(after["priority"], "urgent");
    assert_eq!(after["wants"]["locations"], serde_json::json!(["East"]));
    assert_eq!(after["prefs"]["preferred_times"], serde_json::json!(["08:00-12:00", "16:00-18:00"]));
    assert_eq!(after["wants"]["provider"], Value::Null, "`any` clears the wanted provider");
    assert_eq!(after["wants"]["duration_minutes"], Value::Null, "`any` clears the visit length");
    assert_eq!(after["prefs"]["min_notice_hours"], 0);
    // Unchanged: everything else, exactly as added.
    for key in ["id", "display_name", "email", "tz", "source_ids", "added_at"] {
        assert_eq!(after[key], before[key], "{key}");
    }
    assert_eq!(after["display_name"], "Ana Example");
    assert_eq!(after["added_at"], "2026-10-21T08:15:00Z");
    assert_eq!(after["wants"]["service_type"], "Follow-up");
    for key in ["blocked_weekdays", "blocked_dates", "latest_date"] {
        assert_eq!(after["prefs"][key], before["prefs"][key], "{key}");
    }
    assert_eq!(after["prefs"]["blocked_weekdays"], serde_json::json!(["Sat", "Sun"]));
    assert_eq!(after["prefs"]["latest_date"], "2027-01-31");

    // Name and zone too; then a bad value, nothing to change and an unknown id are refused and change nothing.
    let upd = db.run(&[now, "waitlist", "update", &id, "--name", "Ana B. Example", "--tz", "America/New_York", "--latest-date", "none"]);
    assert_eq!(upd.code, 0, "{}", upd.stderr);
    assert_eq!(upd.stdout.trim(), format!("Updated patient {id} on the waitlist (urgent)."));
    let renamed = show();
    assert_eq!((renamed["display_name"].as_str(), renamed["tz"].as_str()), (Some("Ana B. Example"), Some("America/New_York")));
    assert_eq!(renamed["prefs"]["latest_date"], Value::Null);
    assert_eq!(renamed["phone"], "+49 30 7654321");
    let bad = db.run(&[now, "waitlist", "update", &id, "--preferred-time", "9-10", "--phone", "+1 000"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--preferred-time"), "{}", bad.stderr);
    let bad = db.run(&[now, "waitlist", "update", &id, "--duration-minutes", "0"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--duration-minutes") && bad.stderr.contains("1 to 1440"), "{}", bad.stderr);
    let empty = db.run(&[now, "waitlist", "update", &id]);
    assert_eq!(empty.code, 1);
    assert!(empty.stderr.contains("nothing to change"), "{}", empty.stderr);
    assert_eq!(show(), renamed, "refused updates change nothing");
    let missing = db.run(&[now, "waitlist", "update", "999", "--phone", "+1 212 555 0100"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no patient 999"), "{}", missing.stderr);
    assert!(!missing.stderr.contains("555"), "{}", missing.stderr);
}
