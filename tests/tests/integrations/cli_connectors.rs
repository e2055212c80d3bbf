//! The connector commands of the `medharmony` CLI (`integrations add|list|remove`,
//! `sync`, `book`) end to end: the built binary and a real encrypted database
//! against wiremock fakes of FHIR servers.
//!
//! The contract checked (issue "FHIR connectors", CLI): `sync --json` prints one
//! report per integration (`added`, `changed`, `removed`, `quarantined`,
//! `complete`, …); exit 0 when every window was read completely, 2 when any was
//! incomplete, 1 on a failure, with the reason in plain words on stderr;
//! quarantined rows are named on stderr; secrets never reach the database or
//! `integrations list`; `integrations remove` deletes the keychain entries;
//! booking refuses imported slots and slots taken at the source.
//!
//! Tests that store secrets need the OS keychain: they run when
//! `MEDHARMONY_REQUIRE_KEYCHAIN=1` (as `scripts/test.sh` sets it, inside a D-Bus
//! session with an unlocked gnome-keyring) and skip otherwise.

use crate::fake::{no_keychain, unique_name};
use crate::fake::{fhir_json, Fake};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use medharmony::auth::Secrets;
use medharmony::store::key::{DatabaseVault, OsKeychain};
use medharmony_e2e::{fixture, Db, Run};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const NOW: &str = "2026-03-01T12:00:00Z";
const FROM: &str = "2026-03-01T00:00:00Z";
const TO: &str = "2026-03-15T00:00:00Z";

/// RFC 7638 thumbprint of `fixtures/keys/test-rs384.pem` (recorded in fixtures/keys/README.md).
const RS_KID: &str = "TwWEUzN_DacYqRd5GhzwDRGJMNwsDrI0Pe8fGEnt-3I";

fn slot(id: &str, start: &str, end: Option<&str>) -> Value {
    let mut s = json!({
        "resourceType": "Slot", "id": id, "meta": { "versionId": "1" },
        "serviceType": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "124", "display": "General Practice" }] }],
        "schedule": { "reference": "Schedule/rivera" }, "status": "free", "start": start
    });
    if let Some(e) = end {
        s["end"] = json!(e);
    }
    s
}

fn schedule() -> Value {
    json!({
        "resourceType": "Schedule", "id": "rivera", "active": true,
        "actor": [
            { "reference": "Practitioner/p1", "display": "Dr. Ana Rivera" },
            { "reference": "Location/main-st", "display": "Main St Clinic" }
        ]
    })
}

fn bundle(matches: Vec<Value>, next: Option<String>, total: Option<u64>) -> Value {
    let mut entries: Vec<Value> = matches.into_iter().map(|r| json!({ "resource": r, "search": { "mode": "match" } })).collect();
    entries.push(json!({ "resource": schedule(), "search": { "mode": "include" } }));
    let mut links = vec![json!({ "relation": "self", "url": "self" })];
    if let Some(n) = next {
        links.push(json!({ "relation": "next", "url": n }));
    }
    let mut b = json!({ "resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries });
    if let Some(n) = total {
        b["total"] = json!(n);
    }
    b
}

/// Page 1: `s1`, `s2`, and `s3` without an end (set aside); page 2: `s4` (after the DST change).
fn page_one(fake: &Fake, total: Option<u64>) -> Value {
    bundle(
        vec![
            slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00")),
            slot("s2", "2026-03-04T10:00:00-05:00", Some("2026-03-04T10:30:00-05:00")),
            slot("s3", "2026-03-04T11:00:00-05:00", None),
        ],
        Some(format!("{}/Slot?page=2", fake.base())),
        total,
    )
}

fn page_two() -> Value {
    bundle(vec![slot("s4", "2026-03-10T09:00:00-04:00", Some("2026-03-10T09:30:00-04:00"))], None, None)
}

/// Mounts the two-page Slot search with `page2` as the second page's answer.
fn mount_search(fake: &Fake, total: Option<u64>, page2: ResponseTemplate) {
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).and(query_param("page", "2")).respond_with(page2).with_priority(1));
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/r4/Slot"))
            .and(query_param("_include", "Slot:schedule"))
            .respond_with(fhir_json(page_one(fake, total)))
            .with_priority(2),
    );
}

fn add_open(db: &Db, name: &str, base: &str) -> Run {
    db.run(&["--now", NOW, "integrations", "add", "fhir", "--name", name, "--base-url", base, "--auth", "none", "--tz", "America/New_York"])
}

fn sync(db: &Db, extra: &[&str]) -> Run {
    let mut args = vec!["--now", NOW, "--json", "sync", "--from", FROM, "--to", TO];
    args.extend_from_slice(extra);
    db.run(&args)
}

fn report(name: &str, counts: [u64; 5], complete: bool, warnings: Value) -> Value {
    let [added, changed, removed, unchanged, quarantined] = counts;
    json!({
        "integration": name, "kind": "fhir", "added": added, "changed": changed, "removed": removed, "unchanged": unchanged,
        "quarantined": quarantined, "complete": complete, "failed": false, "from": FROM, "to": TO, "warnings": warnings
    })
}

fn s3_set_aside() -> Value {
    json!([{ "resource": "Slot/s3", "reason": "has no end time" }])
}

/// `(start, status, source)` of every slot `slots --json` lists in the test window.
fn listed(db: &Db, status: Option<&str>) -> Vec<(String, String, String)> {
    let mut args = vec!["--json", "slots", "--from", FROM, "--to", TO];
    if let Some(s) = status {
        args.extend(["--status", s]);
    }
    let r = db.run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    r.json().as_array().unwrap().iter().map(|x| (s(&x["start"]), s(&x["status"]), s(&x["source"]))).collect()
}

fn slot_id(db: &Db, start: &str) -> String {
    let r = db.run(&["--json", "slots", "--from", FROM, "--to", TO]);
    let all = r.json();
    let found = all.as_array().unwrap().iter().find(|s| s["start"] == start).unwrap_or_else(|| panic!("no slot at {start}: {all}"));
    found["id"].as_str().unwrap().to_string()
}

fn free_row(start: &str, source: &str) -> (String, String, String) {
    (start.into(), "free".into(), source.into())
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

#[test]
fn sync_json_reports_each_integration_names_set_aside_rows_and_exits_0_when_complete() {
    let (a, b) = (Fake::start(), Fake::start());
    mount_search(&a, Some(4), fhir_json(page_two()));
    b.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json(bundle(
        vec![slot("b1", "2026-03-05T14:00:00+00:00", Some("2026-03-05T14:20:00+00:00"))],
        None,
        Some(1),
    ))));
    let db = Db::new();
    assert_eq!(add_open(&db, "Clinic A", &a.base()).code, 0);
    assert_eq!(add_open(&db, "Clinic B", &b.base()).code, 0);

    let first = sync(&db, &[]);
    assert_eq!(first.code, 0, "a set-aside row does not make the window incomplete: {}", first.stderr);
    assert_eq!(
        first.json(),
        json!([report("Clinic A", [3, 0, 0, 0, 1], true, s3_set_aside()), report("Clinic B", [1, 0, 0, 0, 0], true, json!([]))])
    );
    assert_eq!(first.stderr.trim(), "Clinic A: set aside Slot/s3: has no end time");
    assert_eq!(
        listed(&db, None),
        [
            free_row("2026-03-04T14:00:00Z", "Clinic A"),
            free_row("2026-03-04T15:00:00Z", "Clinic A"),
            free_row("2026-03-05T14:00:00Z", "Clinic B"),
            free_row("2026-03-10T13:00:00Z", "Clinic A"),
        ]
    );

    // `--integration` picks one (case-insensitive): only B is asked, and nothing of it changed.
    let a_calls = a.requests().len();
    let only_b = sync(&db, &["--integration", "clinic b"]);
    assert_eq!(only_b.code, 0, "{}", only_b.stderr);
    assert_eq!(only_b.json(), json!([report("Clinic B", [0, 0, 0, 1, 0], true, json!([]))]));
    assert_eq!(only_b.stderr, "");
    assert_eq!(a.requests().len(), a_calls, "Clinic A was not synced");
    assert_eq!(b.requests().len(), 2);

    // An unknown name is refused in plain words.
    let unknown = sync(&db, &["--integration", "Clinic C"]);
    assert_eq!(unknown.code, 1);
    assert_eq!(unknown.stderr.trim(), "error: there is no integration named 'Clinic C'; see `medharmony integrations list`");

    // Without --json: one line per integration on stdout.
    let plain = db.run(&["--now", NOW, "sync", "--from", FROM, "--to", TO]);
    assert_eq!(plain.code, 0);
    assert_eq!(
        plain.stdout,
        "Clinic A: 0 added, 0 changed, 0 removed, 3 unchanged, 1 set aside; complete\nClinic B: 0 added, 0 changed, 0 removed, 1 unchanged, 0 set aside; complete\n"
    );
}

#[test]
fn an_incomplete_window_exits_2_and_keeps_the_cached_slots_exactly() {
    let fake = Fake::start();
    mount_search(&fake, Some(4), fhir_json(page_two()));
    let db = Db::new();
    assert_eq!(add_open(&db, "Clinic FHIR", &fake.base()).code, 0);
    assert_eq!(sync(&db, &[]).code, 0);
    let before = listed(&db, None);
    assert_eq!(before.len(), 3);

    // The server claims 9 slots and pages through 4; s4 is gone too: nothing may be removed.
    fake.reset();
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json({
        let mut p = page_one(&fake, Some(9));
        p["link"] = json!([]);
        p
    })));
    let mismatch = sync(&db, &[]);
    assert_eq!(mismatch.code, 2, "{}", mismatch.stderr);
    let mut want = report("Clinic FHIR", [0, 0, 0, 0, 1], false, s3_set_aside());
    want["problem"] =
        json!("Not every open time could be read (the server said it had 9 slots but sent 3); what was cached before is kept.");
    assert_eq!(mismatch.json(), json!([want]));
    assert!(
        mismatch.stderr.contains(
            "Clinic FHIR: Not every open time could be read (the server said it had 9 slots but sent 3); what was cached before is kept."
        ),
        "{}",
        mismatch.stderr
    );
    assert_eq!(listed(&db, None), before);

    // Page 2 fails with HTTP 500: incomplete again, exit 2, cache untouched.
    fake.reset();
    let outcome = json!({ "resourceType": "OperationOutcome", "issue": [{ "severity": "error", "code": "exception", "diagnostics": "Slot index unavailable" }] });
    mount_search(&fake, None, ResponseTemplate::new(500).set_body_json(outcome));
    let failing_page = sync(&db, &[]);
    assert_eq!(failing_page.code, 2, "{}", failing_page.stderr);
    let r = &failing_page.json()[0];
    assert_eq!((r["complete"].as_bool(), r["failed"].as_bool(), r["removed"].as_u64()), (Some(false), Some(false), Some(0)));
    let problem = r["problem"].as_str().unwrap();
    assert!(problem.starts_with("Not every open time could be read (page 2 could not be read: "), "{problem}");
    assert!(problem.contains("HTTP 500") && problem.contains("Slot index unavailable"), "{problem}");
    assert_eq!(listed(&db, None), before);

    // `integrations list` shows the problem; last_sync_at stays at the last complete sync.
    let list = db.run(&["--json", "integrations", "list"]).json();
    assert_eq!(list[0]["last_error"].as_str(), Some(problem));
    assert_eq!(list[0]["last_sync_at"], NOW);
}

#[test]
fn a_failed_sync_exits_1_with_the_reason_in_plain_words() {
    let db = Db::new();
    let port = closed_port();
    assert_eq!(add_open(&db, "Down FHIR", &format!("http://127.0.0.1:{port}/r4")).code, 0);
    let down = sync(&db, &[]);
    assert_eq!(down.code, 1);
    let r = &down.json()[0];
    assert_eq!((r["failed"].as_bool(), r["complete"].as_bool()), (Some(true), Some(false)));
    let problem = r["problem"].as_str().unwrap();
    assert!(problem.starts_with("could not reach Down FHIR: "), "{problem}");
    assert!(down.stderr.contains(&format!("Down FHIR: {problem}")), "{}", down.stderr);
    assert_eq!(db.run(&["--json", "integrations", "list"]).json()[0]["last_error"].as_str(), Some(problem));

    // HTTP 500 on the first page: the OperationOutcome's words reach staff; no retry.
    let fake = Fake::start();
    let outcome = json!({ "resourceType": "OperationOutcome", "issue": [{ "severity": "error", "code": "exception", "details": { "text": "The scheduling service is offline" } }] });
    fake.mount(Mock::given(method("GET")).respond_with(ResponseTemplate::new(500).set_body_json(outcome)));
    let db = Db::new();
    assert_eq!(add_open(&db, "Clinic FHIR", &fake.base()).code, 0);
    let err500 = sync(&db, &[]);
    assert_eq!(err500.code, 1);
    assert_eq!(
        err500.stderr.trim(),
        "Clinic FHIR answered with an error (HTTP 500): The scheduling service is offline",
        "stdout: {}",
        err500.stdout
    );
    assert_eq!(fake.requests().len(), 1);

    // 401 twice (one renewal attempt, then give up): "reconnect" advice.
    fake.reset();
    fake.mount(Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)));
    let err401 = sync(&db, &[]);
    assert_eq!(err401.code, 1);
    assert!(err401.stderr.starts_with("Clinic FHIR did not accept MedHarmony Desk's sign-in: "), "{}", err401.stderr);
    assert!(err401.stderr.trim_end().ends_with("Reconnect it on the Integrations page."), "{}", err401.stderr);
    assert_eq!(fake.requests().len(), 2);

    // A failure outranks an incomplete window: one failed and one incomplete integration exit 1.
    let partial = Fake::start();
    mount_search(&partial, Some(9), fhir_json(page_two()));
    assert_eq!(add_open(&db, "Partial FHIR", &partial.base()).code, 0);
    let mixed = sync(&db, &[]);
    assert_eq!(mixed.code, 1, "{}", mixed.stderr);
    let reports = mixed.json();
    let flags: Vec<(String, bool, bool)> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["integration"].as_str().unwrap().to_string(), r["failed"].as_bool().unwrap(), r["complete"].as_bool().unwrap()))
        .collect();
    assert_eq!(flags, [("Clinic FHIR".to_string(), true, false), ("Partial FHIR".to_string(), false, false)]);
}

#[test]
fn oracle_health_without_a_visit_type_is_refused_before_anything_is_stored() {
    let fake = Fake::start();
    let db = Db::new();
    let r = db.run(&["integrations", "add", "oracle-health", "--name", "Oracle", "--base-url", &fake.base(), "--tz", "America/Chicago"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.trim(), "error: Oracle Health lists open times only for a visit type: add at least one visit type (service-type)");
    assert!(fake.requests().is_empty(), "refused before any request");
    assert_eq!(db.run(&["--json", "integrations", "list"]).json(), json!([]));

    // With a visit type it is accepted, and the search carries it.
    let r = db.run(&[
        "integrations",
        "add",
        "oracle-health",
        "--name",
        "Oracle",
        "--base-url",
        &fake.base(),
        "--tz",
        "America/Chicago",
        "--service-type",
        "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/codeSet/14249|4047611",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json(bundle(vec![], None, Some(0)))));
    let s = db.run(&["--now", NOW, "--json", "sync", "--from", FROM, "--to", TO]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert_eq!(s.json()[0]["kind"], "oracle-health");
    let q: Vec<(String, String)> = fake.requests()[0].url.query_pairs().into_owned().collect();
    assert!(
        q.contains(&("service-type".into(), "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/codeSet/14249|4047611".into())),
        "{q:?}"
    );
}

#[test]
fn book_refuses_an_imported_slot() {
    let db = Db::new();
    let csv = db.dir.path().join("published.csv");
    std::fs::write(&csv, "provider,date,start,end,location\nDr. Grid,2026-03-04,10:15,10:30,Main\n").unwrap();
    let imp = db.run(&["--now", NOW, "import", csv.to_str().unwrap(), "--tz", "America/New_York"]);
    assert_eq!(imp.code, 0, "{}", imp.stderr);
    let id = slot_id(&db, "2026-03-04T15:15:00Z");
    let r = db.run(&["--now", NOW, "book", &id, "--patient", "pat-1"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        "error: this time comes from an imported file (published), not a connected system; book it where that schedule is kept"
    );
    assert_eq!(listed(&db, Some("free")), [free_row("2026-03-04T15:15:00Z", "published")]);
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

#[test]
fn book_writes_back_and_a_slot_taken_since_the_sync_is_refused() {
    let fake = Fake::start();
    mount_search(&fake, Some(4), fhir_json(page_two()));
    let db = Db::new();
    assert_eq!(add_open(&db, "Clinic FHIR", &fake.base()).code, 0);
    assert_eq!(sync(&db, &[]).code, 0);

    // s1 is still free at the source: booked.
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s1")).respond_with(fhir_json(slot(
        "s1",
        "2026-03-04T09:00:00-05:00",
        Some("2026-03-04T09:30:00-05:00"),
    ))));
    fake.mount(Mock::given(method("POST")).and(path("/r4/Appointment")).respond_with(EchoAppointment));
    let s1 = slot_id(&db, "2026-03-04T14:00:00Z");
    let booked = db.run(&["--now", NOW, "--json", "book", &s1, "--patient", "pat-1001"]);
    assert_eq!(booked.code, 0, "{}", booked.stderr);
    assert_eq!(booked.json(), json!({ "appointment_id": "Appointment/appt-1", "status": "booked" }));
    let posted: Vec<Value> =
        fake.requests().iter().filter(|r| r.method.as_str() == "POST").map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(posted.len(), 1);
    assert_eq!((posted[0]["status"].as_str(), posted[0]["slot"][0]["reference"].as_str()), (Some("booked"), Some("Slot/s1")));
    assert!(posted[0]["participant"].as_array().unwrap().iter().any(|p| p["actor"]["reference"] == "Patient/pat-1001"), "{}", posted[0]);

    // s2 was booked by someone else at the EHR after our sync.
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s2")).respond_with(fhir_json({
        let mut s = slot("s2", "2026-03-04T10:00:00-05:00", Some("2026-03-04T10:30:00-05:00"));
        s["status"] = json!("busy");
        s
    })));
    let s2 = slot_id(&db, "2026-03-04T15:00:00Z");
    let taken = db.run(&["--now", NOW, "book", &s2, "--patient", "pat-1002"]);
    assert_eq!(taken.code, 1);
    assert_eq!(taken.stdout, "");
    assert_eq!(taken.stderr.trim(), "error: This time is no longer available in Clinic FHIR: someone else booked it. Pick another time.");
    assert_eq!(fake.requests().iter().filter(|r| r.method.as_str() == "POST").count(), 1, "no Appointment was created for s2");
    // Neither the booked nor the taken slot is offered any more.
    assert_eq!(listed(&db, Some("free")), [free_row("2026-03-10T13:00:00Z", "Clinic FHIR")]);

    // Booking the taken slot again is refused at the desk without asking the EHR.
    let before = fake.requests().len();
    let again = db.run(&["--now", NOW, "book", &s2, "--patient", "pat-1003"]);
    assert_eq!(again.code, 1);
    assert_eq!(again.stderr.trim(), format!("error: this time is no longer free ({}); pick another time", s2.replace("slot-", "slot ")));
    assert_eq!(fake.requests().len(), before);
}


/// A SMART Backend Services token endpoint (SMART App Launch 2.x, Backend Services §
/// "Obtaining an access token") that checks the client assertion: header `alg` RS384,
/// `typ` JWT, `kid`; the signature with the registered public key; `iss` = `sub` =
/// client id; `aud` = its own URL; `exp` in the future and at most 5 minutes ahead;
/// a `jti` never seen; and the form parameters. Refusals are HTTP 401
/// `invalid_client` and are recorded in `refusals`.
struct TokenEndpoint {
    url: String,
    client_id: String,
    scope: String,
    public_pem: String,
    seen_jti: Mutex<HashSet<String>>,
    issued: AtomicUsize,
    refusals: Mutex<Vec<String>>,
}

impl TokenEndpoint {
    fn check(&self, request: &Request) -> Result<(), String> {
        let mut url = request.url.clone();
        url.set_query(Some(std::str::from_utf8(&request.body).map_err(|_| "body not UTF-8")?));
        let form: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        let param = |k: &str| form.get(k).cloned().unwrap_or_default();
        if param("grant_type") != "client_credentials" {
            return Err(format!("grant_type '{}'", param("grant_type")));
        }
        if param("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
            return Err("client_assertion_type".into());
        }
        if param("scope") != self.scope {
            return Err(format!("scope '{}'", param("scope")));
        }
        let jwt = param("client_assertion");
        let head = jsonwebtoken::decode_header(&jwt).map_err(|e| format!("header: {e}"))?;
        if head.alg != Algorithm::RS384 || head.typ.as_deref() != Some("JWT") || head.kid.as_deref() != Some(RS_KID) {
            return Err(format!("header {head:?}"));
        }
        let key = DecodingKey::from_rsa_pem(self.public_pem.as_bytes()).map_err(|e| format!("public key: {e}"))?;
        let mut validation = Validation::new(Algorithm::RS384);
        validation.leeway = 0;
        validation.set_audience(&[self.url.as_str()]);
        validation.set_issuer(&[self.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<Value>(&jwt, &key, &validation).map_err(|e| format!("assertion: {e}"))?.claims;
        if claims["sub"] != self.client_id.as_str() {
            return Err("sub".into());
        }
        let ahead = claims["exp"].as_i64().ok_or("exp")? - chrono::Utc::now().timestamp();
        if !(1..=300).contains(&ahead) {
            return Err(format!("exp {ahead} s ahead"));
        }
        let jti = claims["jti"].as_str().ok_or("jti")?.to_string();
        if jti.is_empty() || !self.seen_jti.lock().unwrap().insert(jti) {
            return Err("jti reused".into());
        }
        Ok(())
    }
}

struct Shared(Arc<TokenEndpoint>);

impl Respond for Shared {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        match self.0.check(request) {
            Ok(()) => {
                let n = self.0.issued.fetch_add(1, Ordering::SeqCst) + 1;
                ResponseTemplate::new(200).set_body_json(
                    json!({ "access_token": format!("backend-at-{n}"), "token_type": "bearer", "expires_in": 300, "scope": self.0.scope }),
                )
            }
            Err(why) => {
                self.0.refusals.lock().unwrap().push(why.clone());
                ResponseTemplate::new(401).set_body_json(json!({ "error": "invalid_client", "error_description": why }))
            }
        }
    }
}

#[test]
fn backend_services_sign_in_keeps_the_key_in_the_keychain_only_and_remove_deletes_it() {
    if no_keychain() {
        return;
    }
    let fake = Fake::start();
    let token_url = format!("{}/auth/token", fake.server.uri());
    let endpoint = Arc::new(TokenEndpoint {
        url: token_url.clone(),
        client_id: "desk-backend-7".into(),
        // The CLI's default scope for a FHIR server with backend access.
        scope: "system/Slot.read system/Schedule.read system/Appointment.read system/Appointment.write".into(),
        public_pem: std::fs::read_to_string(fixture("keys/test-rs384.pub.pem")).unwrap(),
        seen_jti: Mutex::default(),
        issued: AtomicUsize::new(0),
        refusals: Mutex::default(),
    });
    fake.mount(Mock::given(method("GET")).and(path("/r4/.well-known/smart-configuration")).respond_with(
        ResponseTemplate::new(200).set_body_json(json!({
            "token_endpoint": token_url,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["system/Slot.read", "system/Schedule.read", "system/Appointment.read", "system/Appointment.write"],
            "capabilities": ["client-confidential-asymmetric"]
        })),
    ));
    fake.mount(Mock::given(method("POST")).and(path("/auth/token")).respond_with(Shared(endpoint.clone())));
    // The search answers only with the issued token; anything else is 401.
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/r4/Slot"))
            .and(header("Authorization", "Bearer backend-at-1"))
            .respond_with(fhir_json(bundle(
                vec![slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"))],
                None,
                Some(1),
            )))
            .with_priority(1),
    );
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(ResponseTemplate::new(401)).with_priority(2));

    let db = Db::new();
    let name = unique_name("Backend FHIR");
    let key_file = fixture("keys/test-rs384.pem");
    let pem = std::fs::read_to_string(&key_file).unwrap();
    let add = db.run(&[
        "--now",
        NOW,
        "--json",
        "integrations",
        "add",
        "fhir",
        "--name",
        &name,
        "--base-url",
        &fake.base(),
        "--auth",
        "backend",
        "--client-id",
        "desk-backend-7",
        "--key-file",
        key_file.to_str().unwrap(),
        "--tz",
        "America/New_York",
    ]);
    assert_eq!(add.code, 0, "{}", add.stderr);
    let vault = DatabaseVault::new(OsKeychain, &db.path);
    let secrets = Secrets::new(&vault);
    // From here on, the keychain entry is removed even when an assertion fails.
    struct Forget(String, std::path::PathBuf);
    impl Drop for Forget {
        fn drop(&mut self) {
            let _ = Secrets::new(&DatabaseVault::new(OsKeychain, &self.1)).forget_integration(&self.0);
        }
    }
    let _forget = Forget(name.clone(), db.path.clone());
    // Keyed by the database: the same integration name in another database has no key.
    assert_eq!(Secrets::new(&OsKeychain).load_private_key(&name).unwrap(), None);
    assert_eq!(secrets.load_private_key(&name).unwrap().as_deref(), Some(pem.as_str()), "the key is in the OS keychain");

    let s = sync(&db, &["--integration", &name]);
    assert_eq!(s.code, 0, "{}\nrefusals: {:?}", s.stderr, endpoint.refusals.lock().unwrap());
    assert_eq!(s.json()[0]["added"], 1);
    assert!(endpoint.refusals.lock().unwrap().is_empty(), "{:?}", endpoint.refusals.lock().unwrap());
    assert_eq!(endpoint.issued.load(Ordering::SeqCst), 1);
    let searches: Vec<Request> = fake.requests().into_iter().filter(|r| r.url.path() == "/r4/Slot").collect();
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0].headers.get("authorization").unwrap().to_str().unwrap(), "Bearer backend-at-1");

    // The settings name the discovered token endpoint; no secret is listed or stored in the database.
    let list = db.run(&["--json", "integrations", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let listed_auth = &list.json()[0]["settings"]["auth"];
    assert_eq!(listed_auth["method"], "backend");
    assert_eq!(listed_auth["client_id"], "desk-backend-7");
    assert_eq!(listed_auth["token_url"], token_url.as_str());
    let body_lines: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----") && l.len() >= 40).collect();
    assert!(body_lines.len() > 10, "the fixture key has a body");
    for text in [&add.stdout, &list.stdout] {
        assert!(!text.contains("PRIVATE KEY") && !body_lines.iter().any(|l| text.contains(l)), "a secret was printed: {text}");
    }
    let mut files = 0;
    for entry in std::fs::read_dir(db.dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("medharmony.db") {
            files += 1;
            let raw = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            assert!(!raw.contains("PRIVATE KEY") && !body_lines.iter().any(|l| raw.contains(&l[..40])), "{} holds the key", p.display());
        }
    }
    assert!(files >= 1);

    // Disconnecting removes the synced slots and the keychain entry.
    let rm = db.run(&["--now", NOW, "--json", "integrations", "remove", &name]);
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    assert_eq!(rm.json(), json!({ "removed": name }));
    assert_eq!(secrets.load_private_key(&name).unwrap(), None);
    assert_eq!(db.run(&["--json", "integrations", "list"]).json(), json!([]));
    assert!(listed(&db, None).is_empty());
}

#[test]
fn a_missing_keychain_entry_fails_the_sync_with_reconnect_advice() {
    if no_keychain() {
        return;
    }
    let fake = Fake::start();
    let token_url = format!("{}/auth/token", fake.server.uri());
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/r4/.well-known/smart-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "token_endpoint": token_url }))),
    );
    let db = Db::new();
    let name = unique_name("Lost Key");
    let key_file = fixture("keys/test-rs384.pem");
    let add = db.run(&[
        "integrations",
        "add",
        "fhir",
        "--name",
        &name,
        "--base-url",
        &fake.base(),
        "--auth",
        "backend",
        "--client-id",
        "c",
        "--key-file",
        key_file.to_str().unwrap(),
        "--tz",
        "UTC",
    ]);
    assert_eq!(add.code, 0, "{}", add.stderr);
    // The keychain loses the key (another user account, a wiped keyring, …).
    Secrets::new(&DatabaseVault::new(OsKeychain, &db.path)).forget_integration(&name).unwrap();
    let s = sync(&db, &[]);
    assert_eq!(s.code, 1);
    let problem = s.json()[0]["problem"].as_str().unwrap().to_string();
    assert!(problem.contains("private key") && problem.contains("keychain"), "{problem}");
    assert!(s.stderr.contains(&problem), "{}", s.stderr);
    assert!(fake.requests().iter().all(|r| r.url.path() != "/r4/Slot"), "no search without a sign-in");
}

// ---- Regressions from the QA pass ----

#[test]
fn plain_slots_show_the_id_that_book_needs_and_grid_times_are_explained() {
    let fake = Fake::start();
    mount_search(&fake, Some(4), fhir_json(page_two()));
    let db = Db::new();
    assert_eq!(add_open(&db, "Clinic FHIR", &fake.base()).code, 0);
    assert_eq!(sync(&db, &[]).code, 0);
    let id = slot_id(&db, "2026-03-04T14:00:00Z");
    let plain = db.run(&["slots", "--status", "free", "--from", FROM, "--to", TO]);
    let first = plain.stdout.lines().next().unwrap().to_string();
    assert_eq!(first, format!("{id}\tDr. Ana Rivera\tWed 2026-03-04 09:00–09:30 EST\tfree\tMain St Clinic\tClinic FHIR"));

    let grid = db.run(&["book", "grid-1-20260304T150000Z", "--patient", "123"]);
    assert_eq!(grid.code, 1);
    assert_eq!(
        grid.stderr.trim(),
        "error: this time comes from a calendar and working hours, not a connected system; book it where that schedule is kept"
    );
    let blank = db.run(&["book", &id, "--patient", " "]);
    assert_eq!(blank.code, 1);
    assert_eq!(blank.stderr.trim(), "error: '' is not a patient id; give the patient's id as the source system shows it, e.g. 12724066");
}

#[test]
fn odd_addresses_and_names_are_refused_and_from_alone_keeps_the_default_length() {
    let db = Db::new();
    let add = |name: &str, url: &str| {
        db.run(&["integrations", "add", "fhir", "--name", name, "--base-url", url, "--auth", "none", "--tz", "UTC"])
    };
    let creds = add("A", "http://user:pw@127.0.0.1:9/fhir");
    assert_eq!(creds.code, 1);
    assert!(creds.stderr.contains("Leave the user name and password out of the address"), "{}", creds.stderr);
    let query = add("A", "http://127.0.0.1:9/fhir/?_format=json#x");
    assert_eq!(query.stderr.trim(), "error: Enter the FHIR base address without anything after '?' or '#', e.g. http://127.0.0.1:9/fhir");
    let tab = add("A\tB", "http://127.0.0.1:9/fhir");
    assert_eq!(tab.code, 1);
    assert_eq!(db.run(&["--json", "integrations", "list"]).json(), serde_json::json!([]));

    // `sync --from` alone: the window keeps its default 97-day length instead of ending at the default end.
    assert_eq!(add("Down", &format!("http://127.0.0.1:{}/fhir", closed_port())).code, 0);
    let r = db.run(&["--now", NOW, "--json", "sync", "--from", "2030-01-01T00:00:00Z"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rep = &r.json()[0];
    assert_eq!((rep["from"].as_str(), rep["to"].as_str()), (Some("2030-01-01T00:00:00Z"), Some("2030-04-08T00:00:00Z")));
}

#[test]
fn removing_an_open_integration_needs_no_keychain() {
    let fake = Fake::start();
    mount_search(&fake, Some(4), fhir_json(page_two()));
    let db = Db::new();
    assert_eq!(add_open(&db, "Open FHIR", &fake.base()).code, 0);
    // No session bus: the keychain cannot be reached.
    let rm = db.cmd().args(["integrations", "remove", "Open FHIR"]).env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent").output().unwrap();
    assert_eq!(rm.status.code(), Some(0), "{}", String::from_utf8_lossy(&rm.stderr));
    assert_eq!(String::from_utf8_lossy(&rm.stderr), "");
    assert_eq!(db.run(&["--json", "integrations", "list"]).json(), serde_json::json!([]));
}

#[test]
fn the_new_kinds_name_the_sign_in_flags_they_need_and_take_reason_id_minus_one() {
    let db = Db::new();
    for (kind, extra, flags) in [
        ("athena", vec!["--practice-id", "195900", "--department-id", "1", "--reason-id", "-1"], "--auth backend --client-id ID --client-secret-stdin"),
        ("google-calendar", vec!["--calendar", "rivera@example.com|Dr. Rivera|Mon-Fri 08:00-17:00"], "--auth standalone --client-id ID [--client-secret-stdin]"),
        ("caldav", vec!["--base-url", "https://caldav.example.com", "--calendar", "https://caldav.example.com/c/|Dr. X|Mon 09:00-10:00"], "--auth basic --username NAME --password-stdin"),
    ] {
        let args = [vec!["integrations", "add", kind, "--name", "X"], extra].concat();
        let r = db.run(&args);
        assert_eq!(r.code, 1, "{kind}: {}", r.stderr);
        assert_eq!(r.stderr.trim(), format!("error: {kind} connects with {flags}"));
    }
    // athenahealth's "any reason" (-1) is a value, not a flag; the client ID and secret are checked at once.
    let mut cmd = db.cmd();
    cmd.args(["integrations", "add", "athena", "--name", "A1", "--auth", "backend", "--client-id", "x", "--client-secret-stdin"])
        .args(["--practice-id", "195900", "--department-id", "1", "--reason-id", "-1", "--base-url", "http://127.0.0.1:9"]);
    let piped = std::process::Stdio::piped;
    let r = Run::from(cmd.stdin(piped()).stdout(piped()).stderr(piped()).spawn().and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().unwrap().write_all(b"s3cret\n")?;
        c.wait_with_output()
    }).unwrap());
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("error: Could not reach A1 to sign in"), "{}", r.stderr);
    assert_eq!(db.run(&["--json", "integrations", "list"]).json(), json!([]), "nothing stored");
}
