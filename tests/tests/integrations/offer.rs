//! Offer and book end to end (issue "Cancellation fill"): the built `medharmony` binary and a real
//! encrypted database against a wiremock FHIR R4 fake. `offer` re-reads the slot at the source and
//! holds it (listed `busy-tentative`), `book-offer` books the held patient there (the Appointment
//! names the patient's id from the waitlist) and takes them off the waitlist, a slot taken at the
//! source since the sync is refused at offer time, a slot the source lists free again is an opening
//! that `fill-stats` counts with its time to fill, and `audit` lists who did what by ids only.

use crate::fake::{fhir_json, Fake};
use medharmony_e2e::{Db, Run};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const NOW: &str = "2026-03-01T12:00:00Z";
const FROM: &str = "2026-03-01T00:00:00Z";
const TO: &str = "2026-03-15T00:00:00Z";
/// The desk's operating-system user for every run.
const OS_USER: &str = "frontdesk-pc1";

fn slot(id: &str, start: &str, end: &str) -> Value {
    json!({
        "resourceType": "Slot", "id": id, "meta": { "versionId": "1" },
        "schedule": { "reference": "Schedule/rivera" }, "status": "free", "start": start, "end": end
    })
}

fn s1() -> Value {
    slot("s1", "2026-03-04T09:00:00-05:00", "2026-03-04T09:30:00-05:00")
}

fn s2() -> Value {
    slot("s2", "2026-03-04T10:00:00-05:00", "2026-03-04T10:30:00-05:00")
}

/// A `searchset` Bundle of free Slots with their Schedule included (one page).
fn search(slots: Vec<Value>) -> Value {
    let n = slots.len();
    let mut entries: Vec<Value> = slots.into_iter().map(|r| json!({ "resource": r, "search": { "mode": "match" } })).collect();
    entries.push(json!({ "resource": {
        "resourceType": "Schedule", "id": "rivera", "active": true,
        "actor": [{ "reference": "Practitioner/p1", "display": "Dr. Ana Rivera" }, { "reference": "Location/main-st", "display": "Main St Clinic" }]
    }, "search": { "mode": "include" } }));
    json!({ "resourceType": "Bundle", "type": "searchset", "total": n, "link": [{ "relation": "self", "url": "self" }], "entry": entries })
}

/// The source now lists exactly `slots` as free (every Slot search answers so).
fn source_lists(fake: &Fake, slots: Vec<Value>) {
    fake.reset();
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).and(query_param("_include", "Slot:schedule")).respond_with(fhir_json(search(slots))));
}

/// Answers an Appointment create with what it received, given an id.
struct EchoAppointment;

impl Respond for EchoAppointment {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut body: Value = serde_json::from_slice(&req.body).unwrap();
        body["id"] = json!("appt-1");
        ResponseTemplate::new(201).set_body_raw(body.to_string(), "application/fhir+json")
    }
}

/// `medharmony --now AT ARGS` as desk user [`OS_USER`], without MEDHARMONY_STAFF from the environment.
fn at(db: &Db, when: &str, args: &[&str]) -> Run {
    db.cmd().env("USER", OS_USER).env_remove("USERNAME").env_remove("MEDHARMONY_STAFF").arg("--now").arg(when).args(args).output().unwrap().into()
}

fn sync(db: &Db, when: &str) {
    let r = at(db, when, &["--json", "sync", "--from", FROM, "--to", TO]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// `(id, status)` of the slot starting at `start`.
fn listed(db: &Db, when: &str, start: &str) -> (String, String) {
    let r = at(db, when, &["--json", "slots", "--from", FROM, "--to", TO]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = r.json();
    let s = all.as_array().unwrap().iter().find(|s| s["start"] == start).unwrap_or_else(|| panic!("no slot at {start}: {all}"));
    (s["id"].as_str().unwrap().to_string(), s["status"].as_str().unwrap().to_string())
}

fn add_patient(db: &Db, name: &str, phone: &str, patient_id: &str) -> i64 {
    let r = at(db, NOW, &["--json", "waitlist", "add", name, "--tz", "America/New_York", "--phone", phone, "--patient-id", patient_id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()["id"].as_i64().unwrap()
}

/// The Appointments the fake received, as JSON.
fn posted(fake: &Fake) -> Vec<Value> {
    fake.requests().iter().filter(|r| r.method.as_str() == "POST" && r.url.path() == "/r4/Appointment").map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

#[test]
fn offer_holds_after_a_re_read_book_offer_books_the_patient_and_audit_and_fill_stats_follow() {
    let fake = Fake::start();
    source_lists(&fake, vec![s1(), s2()]);
    let db = Db::new();
    let add = at(&db, NOW, &["integrations", "add", "fhir", "--name", "Clinic FHIR", "--base-url", &fake.base(), "--auth", "none", "--tz", "America/New_York"]);
    assert_eq!(add.code, 0, "{}", add.stderr);
    sync(&db, NOW);
    let jane = add_patient(&db, "Jane Example", "555-0101", "Clinic FHIR=pat-1001");
    let bob = add_patient(&db, "Bob Sample", "555-0102", "clinic fhir=pat-1002");
    let (id1, st) = listed(&db, NOW, "2026-03-04T14:00:00Z");
    assert_eq!(st, "free");
    let (id2, _) = listed(&db, NOW, "2026-03-04T15:00:00Z");

    // Offer without saying who is at the desk: refused, nothing asked.
    let before = fake.requests().len();
    let anon = at(&db, "2026-03-01T12:01:00Z", &["offer", "--slot", &id1, "--patient", &jane.to_string()]);
    assert_eq!(anon.code, 1);
    assert_eq!(anon.stderr.trim(), "error: say who is at the desk: give --staff NAME or set MEDHARMONY_STAFF (it is written to the audit log)");
    assert_eq!(fake.requests().len(), before);

    // Offer s1 to Jane: the source is asked about s1's exact time first, then it is held for 15 minutes.
    let offer = at(&db, "2026-03-01T12:01:00Z", &["--json", "--staff", "Maria", "offer", "--slot", &id1, "--patient", &jane.to_string()]);
    assert_eq!(offer.code, 0, "{}", offer.stderr);
    assert_eq!(
        offer.json(),
        json!({ "slot": id1, "patient_id": jane, "staff": "Maria", "held_at": "2026-03-01T12:01:00Z", "expires_at": "2026-03-01T12:16:00Z" })
    );
    let reread: Vec<Vec<(String, String)>> = fake.requests()[before..].iter().map(|r| r.url.query_pairs().into_owned().collect()).collect();
    assert_eq!(reread.len(), 1, "one re-read");
    assert!(reread[0].contains(&("start".into(), "ge2026-03-04T14:00:00Z".into())) && reread[0].contains(&("start".into(), "lt2026-03-04T14:30:00Z".into())), "{reread:?}");
    assert_eq!(listed(&db, "2026-03-01T12:02:00Z", "2026-03-04T14:00:00Z").1, "busy-tentative");
    // Other offers of s1 are refused while the hold lasts.
    let twice = at(&db, "2026-03-01T12:02:00Z", &["--staff", "Maria", "offer", "--slot", &id1, "--patient", &bob.to_string()]);
    assert_eq!((twice.code, twice.stderr.trim()), (1, format!("error: {id1} is not free now (booked, held or blocked); pick another time").as_str()));

    // Book the offer: the Appointment names Jane's id in Clinic FHIR; she leaves the waitlist.
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s1")).respond_with(fhir_json(s1())));
    fake.mount(Mock::given(method("POST")).and(path("/r4/Appointment")).respond_with(EchoAppointment));
    let booked = at(&db, "2026-03-01T12:03:00Z", &["--json", "--staff", "Maria", "book-offer", "--slot", &id1]);
    assert_eq!(booked.code, 0, "{}", booked.stderr);
    assert_eq!(
        booked.json(),
        json!({ "slot": id1, "patient_id": jane, "integration": "Clinic FHIR", "appointment_id": "Appointment/appt-1", "status": "booked", "booked_at": "2026-03-01T12:03:00Z" })
    );
    let appts = posted(&fake);
    assert_eq!(appts.len(), 1);
    assert_eq!(appts[0]["slot"][0]["reference"], "Slot/s1");
    assert!(appts[0]["participant"].as_array().unwrap().iter().any(|p| p["actor"]["reference"] == "Patient/pat-1001"), "{}", appts[0]);
    assert_eq!(listed(&db, "2026-03-01T12:04:00Z", "2026-03-04T14:00:00Z").1, "busy");
    let wl = at(&db, "2026-03-01T12:04:00Z", &["--json", "waitlist", "list"]);
    let left: Vec<i64> = wl.json().as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(left, vec![bob]);

    // s2 was booked at the EHR since the sync: its free list no longer has it. Refused at offer time.
    source_lists(&fake, vec![s1()]);
    let taken = at(&db, "2026-03-01T12:05:00Z", &["--staff", "Maria", "offer", "--slot", &id2, "--patient", &bob.to_string()]);
    assert_eq!(taken.code, 1);
    assert_eq!(taken.stdout, "");
    assert_eq!(taken.stderr.trim(), format!("error: {id2} is no longer free in Clinic FHIR: someone else has it. It will not be offered again; pick another time"));
    assert_eq!(listed(&db, "2026-03-01T12:05:00Z", "2026-03-04T15:00:00Z").1, "busy");

    // That patient cancels at the EHR: the next sync lists s2 free again, an opening.
    source_lists(&fake, vec![s2()]);
    sync(&db, "2026-03-01T12:20:00Z");
    assert_eq!(listed(&db, "2026-03-01T12:20:00Z", "2026-03-04T15:00:00Z").1, "free");
    let o = at(&db, "2026-03-01T12:25:00Z", &["--staff", "Maria", "offer", "--slot", &id2, "--patient", &bob.to_string(), "--minutes", "5"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), format!("Held {id2} for patient {bob} until 2026-03-01T12:30:00Z; book it with: medharmony book-offer --slot {id2} (or release it with: medharmony release --slot {id2})."));
    // Released and offered again by someone else.
    let rel = at(&db, "2026-03-01T12:26:00Z", &["--staff", "Tom", "release", "--slot", &id2]);
    assert_eq!(rel.code, 0, "{}", rel.stderr);
    assert_eq!(listed(&db, "2026-03-01T12:26:00Z", "2026-03-04T15:00:00Z").1, "free");
    assert_eq!(at(&db, "2026-03-01T12:27:00Z", &["--staff", "Tom", "offer", "--slot", &id2, "--patient", &bob.to_string()]).code, 0);
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s2")).respond_with(fhir_json(s2())));
    fake.mount(Mock::given(method("POST")).and(path("/r4/Appointment")).respond_with(EchoAppointment));
    let b2 = at(&db, "2026-03-01T12:30:00Z", &["--staff", "Tom", "book-offer", "--slot", &id2]);
    assert_eq!(b2.code, 0, "{}", b2.stderr);
    assert!(posted(&fake)[0]["participant"].as_array().unwrap().iter().any(|p| p["actor"]["reference"] == "Patient/pat-1002"));

    // Fill stats: one opening (s2, seen 12:20), two fills, s2 filled 10 minutes after it opened.
    let stats = at(&db, "2026-03-01T13:00:00Z", &["--json", "fill-stats"]);
    assert_eq!(stats.code, 0, "{}", stats.stderr);
    let dr = json!({ "provider": "Dr. Ana Rivera", "openings": 1, "filled": 2, "median_minutes_to_fill": 10.0 });
    assert_eq!(
        stats.json(),
        json!({ "from": "2026-01-30T13:00:00Z", "to": "2026-03-01T13:00:00Z", "providers": [dr],
                "total": { "provider": "All providers", "openings": 1, "filled": 2, "median_minutes_to_fill": 10.0 } })
    );

    // The audit: who offered, booked, released, viewed; slot and waitlist ids only.
    let audit = at(&db, "2026-03-01T13:00:00Z", &["--json", "audit", "--since", "2026-03-01T12:01:00Z"]);
    assert_eq!(audit.code, 0, "{}", audit.stderr);
    let rows: Vec<(String, String, String, Value, Value)> = audit
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["os_user"], OS_USER);
            (e["at"].as_str().unwrap().into(), e["staff"].as_str().unwrap().into(), e["action"].as_str().unwrap().into(), e["slot"].clone(), e["patient_id"].clone())
        })
        .collect();
    let row = |at: &str, staff: &str, action: &str, slot: &str, p: i64| (at.to_string(), staff.to_string(), action.to_string(), json!(slot), json!(p));
    assert_eq!(
        rows,
        vec![
            row("2026-03-01T12:01:00Z", "Maria", "offer", &id1, jane),
            row("2026-03-01T12:03:00Z", "Maria", "book", &id1, jane),
            ("2026-03-01T12:04:00Z".to_string(), "unknown".to_string(), "view".to_string(), Value::Null, json!(bob)),
            row("2026-03-01T12:25:00Z", "Maria", "offer", &id2, bob),
            row("2026-03-01T12:26:00Z", "Tom", "release", &id2, bob),
            row("2026-03-01T12:27:00Z", "Tom", "offer", &id2, bob),
            row("2026-03-01T12:30:00Z", "Tom", "book", &id2, bob),
        ]
    );
    let plain = at(&db, "2026-03-01T13:00:00Z", &["audit"]);
    assert!(!plain.stdout.contains("Jane") && !plain.stdout.contains("555-01") && !plain.stdout.contains("pat-100"), "{}", plain.stdout);
    assert!(plain.stdout.contains(&format!("2026-03-01T12:01:00Z\tMaria\t{OS_USER}\toffer\t{id1}\tpatient {jane}")), "{}", plain.stdout);
}

#[test]
fn an_imported_slot_can_be_held_but_not_booked_and_an_expired_hold_frees_it() {
    let db = Db::new();
    let csv = db.dir.path().join("published.csv");
    std::fs::write(&csv, "provider,date,start,end,location\nDr. Grid,2026-03-04,10:15,10:30,Main\n").unwrap();
    let imp = at(&db, NOW, &["import", csv.to_str().unwrap(), "--tz", "America/New_York"]);
    assert_eq!(imp.code, 0, "{}", imp.stderr);
    let p = add_patient(&db, "Ann Local", "555-0109", "Clinic FHIR=pat-9");
    let (id, _) = listed(&db, NOW, "2026-03-04T15:15:00Z");
    // Suggestions show names and phones: each suggested patient is a view of that slot in the audit.
    let sug = at(&db, "2026-03-01T11:59:00Z", &["--json", "suggest", "--slot", &id]);
    assert_eq!(sug.code, 0, "{}", sug.stderr);
    assert_eq!(sug.json()["suggestions"][0]["patient_id"], p);
    let opt = at(&db, "2026-03-01T11:59:30Z", &["--json", "--staff", "Tom", "options", "--patient", &p.to_string()]);
    assert_eq!(opt.code, 0, "{}", opt.stderr);
    let audit = at(&db, NOW, &["--json", "audit"]);
    assert_eq!(
        audit.json(),
        json!([
            { "at": "2026-03-01T11:59:00Z", "staff": "unknown", "os_user": OS_USER, "action": "view", "slot": id, "patient_id": p },
            { "at": "2026-03-01T11:59:30Z", "staff": "Tom", "os_user": OS_USER, "action": "view", "slot": null, "patient_id": p }
        ])
    );
    let o = at(&db, NOW, &["--staff", "Maria", "offer", "--slot", &id, "--patient", &p.to_string()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(listed(&db, "2026-03-01T12:14:59Z", "2026-03-04T15:15:00Z").1, "busy-tentative");
    let b = at(&db, "2026-03-01T12:05:00Z", &["--staff", "Maria", "book-offer", "--slot", &id]);
    assert_eq!((b.code, b.stderr.trim()), (1, "error: This time comes from an imported file; book it in the provider's own system"));
    // 15 minutes after the offer the hold no longer counts.
    assert_eq!(listed(&db, "2026-03-01T12:15:00Z", "2026-03-04T15:15:00Z").1, "free");
    let late = at(&db, "2026-03-01T12:15:00Z", &["--staff", "Maria", "release", "--slot", &id]);
    assert_eq!((late.code, late.stderr.trim()), (1, format!("error: {id} is not held for anyone; offer it first with `medharmony offer --slot ID --patient ID`").as_str()));
}

/// `medharmony ARGS` with `input` on standard input.
fn with_stdin(db: &Db, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = db.cmd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap().into()
}

#[test]
fn llm_set_key_refuses_an_empty_key_before_touching_the_keychain() {
    let db = Db::new();
    let r = with_stdin(&db, &["llm", "set-key"], "  \n");
    assert_eq!((r.code, r.stderr.trim()), (1, "error: no API key on standard input"));
}

#[test]
fn llm_set_key_keeps_the_key_in_the_keychain_for_this_database_and_forget_key_removes_it() {
    if std::env::var("MEDHARMONY_REQUIRE_KEYCHAIN").as_deref() != Ok("1") {
        eprintln!("skipped: set MEDHARMONY_REQUIRE_KEYCHAIN=1 inside a session with a Secret Service");
        return;
    }
    use medharmony::store::key::{DatabaseVault, KeyVault, OsKeychain};
    let db = Db::new();
    let r = with_stdin(&db, &["--json", "llm", "set-key"], "sk-test-123\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json(), json!({ "stored": "llm:api-key" }));
    assert!(!r.stdout.contains("sk-test"));
    let vault = DatabaseVault::new(OsKeychain, &db.path);
    assert_eq!(vault.get(medharmony::fill::llm::API_KEY_ACCOUNT).unwrap().as_deref(), Some("sk-test-123"));
    // Another database on this computer does not see it.
    let other = Db::new();
    assert_eq!(DatabaseVault::new(OsKeychain, &other.path).get("llm:api-key").unwrap(), None);
    let f = db.run(&["llm", "forget-key"]);
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(vault.get("llm:api-key").unwrap(), None);
}

#[test]
fn waitlist_show_is_audited_as_a_view_with_the_staff_name() {
    let db = Db::new();
    let p = add_patient(&db, "Cara Person", "555-0111", "Clinic FHIR=pat-5");
    let show = at(&db, "2026-03-01T12:10:00Z", &["--staff", "Maria", "waitlist", "show", &p.to_string()]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(show.stdout.starts_with(&format!("Patient {p} (Cara Person, routine), added {NOW}\nPhone: 555-0111")), "{}", show.stdout);
    let missing = at(&db, NOW, &["waitlist", "show", "999"]);
    assert_eq!((missing.code, missing.stderr.trim()), (1, "error: there is no patient 999 on the waitlist; see `medharmony waitlist list`"));
    let audit = at(&db, NOW, &["--json", "audit"]);
    assert_eq!(
        audit.json(),
        json!([{ "at": "2026-03-01T12:10:00Z", "staff": "Maria", "os_user": OS_USER, "action": "view", "slot": null, "patient_id": p }])
    );
}
