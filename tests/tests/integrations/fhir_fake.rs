//! The FHIR connectors against HTTP-level fakes (wiremock): paging,
//! `_include`, de-duplication across pages, quarantine, 429 with
//! `Retry-After`, 401 then refresh, truncated JSON, a looping `next` link, a
//! `total` mismatch, the page cap, the store's "incomplete changes nothing"
//! rule, booking (including a slot taken between read and booking), Oracle
//! Health's search and Appointment shape, and Epic's `$find` / `$book`.

use crate::fake::{fhir_json, Fake};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use medharmony::auth::{AuthConfig, AuthError, NoAuth, TokenSource};
use medharmony::connector::fhir::epic::EpicConnector;
use medharmony::connector::fhir::FhirConnector;
use medharmony::connector::http::{FhirHttp, RetryPolicy};
use medharmony::connector::{Connector, ConnectorError, IntegrationKind, IntegrationSettings};
use medharmony::model::SlotStatus;
use medharmony::store::key::DbKey;
use medharmony::store::Store;
use medharmony::sync::{book_slot, sync_integration, BookError};
use medharmony::time::Interval;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn march_window() -> Interval {
    Interval::new(t("2026-03-01T00:00:00Z"), t("2026-03-15T00:00:00Z")).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn settings(base: &str) -> IntegrationSettings {
    IntegrationSettings {
        base_url: base.to_string(),
        stu3_base_url: None,
        tz: "America/New_York".into(),
        auth: AuthConfig::None,
        service_types: vec![],
        practitioners: vec![],
        locations: vec![],
        page_size: 2,
        athena: None,
        calendars: Vec::new(),
    }
}

fn slot(id: &str, start: &str, end: Option<&str>, schedule: &str, version: &str) -> Value {
    let mut s = json!({
        "resourceType": "Slot", "id": id, "meta": { "versionId": version },
        "serviceType": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "124", "display": "General Practice" }] }],
        "schedule": { "reference": schedule }, "status": "free", "start": start
    });
    if let Some(e) = end {
        s["end"] = json!(e);
    }
    s
}

fn schedule(id: &str, practitioner: &str, display: &str) -> Value {
    json!({
        "resourceType": "Schedule", "id": id, "active": true,
        "actor": [
            { "reference": practitioner, "display": display },
            { "reference": "Location/main-st", "display": "Main St Clinic" }
        ]
    })
}

fn bundle(matches: Vec<Value>, includes: Vec<Value>, next: Option<String>, total: Option<u64>) -> Value {
    let mut entries: Vec<Value> = matches.into_iter().map(|r| json!({ "resource": r, "search": { "mode": "match" } })).collect();
    entries.extend(includes.into_iter().map(|r| json!({ "resource": r, "search": { "mode": "include" } })));
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

fn connector(fake: &Fake, kind: IntegrationKind, sleeps: Arc<Mutex<Vec<Duration>>>) -> FhirConnector {
    let http = FhirHttp::new(FhirHttp::default_agent(), "Clinic FHIR", Box::new(NoAuth))
        .with_sleeper(move |d| sleeps.lock().unwrap().push(d))
        .with_policy(RetryPolicy { attempts: 3, base: Duration::from_millis(10), cap: Duration::from_secs(5) });
    let mut s = settings(&fake.base());
    if kind == IntegrationKind::OracleHealth {
        s.service_types = vec!["https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/codeSet/14249|4047611".into()];
    }
    FhirConnector::new(kind, s, http)
}

/// Mounts a two-page search: page 1 (`s1`, `s2` v1, `s3` without end, the
/// Schedule included) links to page 2 (`s2` v2 moved by 15 minutes, `s4`).
fn mount_two_pages(fake: &Fake, page2: ResponseTemplate, total: Option<u64>) {
    let base = fake.base();
    let next = format!("{base}/Slot?page=2");
    let p1 = bundle(
        vec![
            slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "1"),
            slot("s2", "2026-03-04T10:00:00-05:00", Some("2026-03-04T10:30:00-05:00"), "Schedule/rivera", "1"),
            slot("s3", "2026-03-04T11:00:00-05:00", None, "Schedule/rivera", "1"),
        ],
        vec![schedule("rivera", "Practitioner/p1", "Dr. Ana Rivera")],
        Some(next),
        total,
    );
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).and(query_param("page", "2")).respond_with(page2).with_priority(1));
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).and(query_param("_include", "Slot:schedule")).respond_with(fhir_json(p1)).with_priority(2));
}

fn page_two() -> Value {
    bundle(
        vec![
            slot("s2", "2026-03-04T10:15:00-05:00", Some("2026-03-04T10:45:00-05:00"), "Schedule/rivera", "2"),
            slot("s4", "2026-03-10T09:00:00-04:00", Some("2026-03-10T09:30:00-04:00"), "Schedule/rivera", "1"),
        ],
        vec![schedule("rivera", "Practitioner/p1", "Dr. Ana Rivera")],
        None,
        None,
    )
}

#[test]
fn paging_include_duplicates_and_quarantine() {
    let fake = Fake::start();
    mount_two_pages(&fake, fhir_json(page_two()), Some(5));
    let mut c = connector(&fake, IntegrationKind::Fhir, Arc::default());
    let read = c.availability(march_window()).unwrap();
    assert!(read.complete, "{:?}", read.incomplete_reason);
    let got: Vec<(String, String, String, String)> = read
        .slots
        .iter()
        .map(|s| (s.external_id.clone(), s.span.start.to_rfc3339(), s.span.end.to_rfc3339(), s.provider.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("s1".into(), "2026-03-04T14:00:00+00:00".into(), "2026-03-04T14:30:00+00:00".into(), "Dr. Ana Rivera".into()),
            // listed on both pages: the later version wins
            ("s2".into(), "2026-03-04T15:15:00+00:00".into(), "2026-03-04T15:45:00+00:00".into(), "Dr. Ana Rivera".into()),
            // after the DST change (EDT, UTC−4)
            ("s4".into(), "2026-03-10T13:00:00+00:00".into(), "2026-03-10T13:30:00+00:00".into(), "Dr. Ana Rivera".into()),
        ]
    );
    assert_eq!(read.slots[0].location.as_deref(), Some("Main St Clinic"));
    assert_eq!(read.slots[0].provider_ref.as_deref(), Some("Practitioner/p1"));
    assert_eq!(read.slots[0].service_type.as_deref(), Some("General Practice"));
    assert_eq!(read.quarantined.len(), 1);
    assert_eq!(read.quarantined[0].resource, "Slot/s3");
    assert!(read.quarantined[0].reason.contains("no end"), "{}", read.quarantined[0].reason);
    // The first request bounded the window by start with ge/lt and asked for the schedules.
    let first = &fake.requests()[0];
    let q = first.url.query().unwrap();
    assert!(q.contains("start=ge2026-03-01T00%3A00%3A00Z") && q.contains("start=lt2026-03-15T00%3A00%3A00Z"), "{q}");
    assert!(q.contains("status=free") && q.contains("_include=Slot:schedule") && q.contains("_count=2"), "{q}");
}

#[test]
fn truncated_page_loop_and_total_mismatch_make_the_window_incomplete() {
    // Truncated JSON on page 2.
    let fake = Fake::start();
    mount_two_pages(&fake, ResponseTemplate::new(200).set_body_raw(r#"{"resourceType":"Bundle","type":"searchset","entry":[{"resou"#, "application/fhir+json"), Some(5));
    let read = connector(&fake, IntegrationKind::Fhir, Arc::default()).availability(march_window()).unwrap();
    assert!(!read.complete);
    assert!(read.incomplete_reason.as_deref().unwrap().starts_with("page 2 could not be read"), "{:?}", read.incomplete_reason);

    // A next link that points back at page 2 itself.
    let fake = Fake::start();
    let mut looping = page_two();
    looping["link"] = json!([{ "relation": "next", "url": format!("{}/Slot?page=2", fake.base()) }]);
    mount_two_pages(&fake, fhir_json(looping), None);
    let read = connector(&fake, IntegrationKind::Fhir, Arc::default()).availability(march_window()).unwrap();
    assert!(!read.complete);
    assert_eq!(read.incomplete_reason.as_deref(), Some("the server's page links go round in a circle"));
    assert_eq!(fake.requests().len(), 2, "the loop is detected before page 2 is read again");

    // The server claims 9 slots and delivers 4.
    let fake = Fake::start();
    mount_two_pages(&fake, fhir_json(page_two()), Some(9));
    let read = connector(&fake, IntegrationKind::Fhir, Arc::default()).availability(march_window()).unwrap();
    assert!(!read.complete);
    assert_eq!(read.incomplete_reason.as_deref(), Some("the server said it had 9 slots but sent 5"));

    // The page cap.
    let fake = Fake::start();
    mount_two_pages(&fake, fhir_json(page_two()), Some(5));
    let read = connector(&fake, IntegrationKind::Fhir, Arc::default()).with_page_cap(1).availability(march_window()).unwrap();
    assert!(!read.complete);
    assert_eq!(read.incomplete_reason.as_deref(), Some("the server sent more than 1 pages; stopped reading"));

    // Truncated JSON on the first page is an error, not an empty window.
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(ResponseTemplate::new(200).set_body_raw("{\"resourceType\":\"Bun", "application/json")));
    let err = connector(&fake, IntegrationKind::Fhir, Arc::default()).availability(march_window()).unwrap_err();
    assert!(matches!(err, ConnectorError::BadReply { .. }), "{err:?}");
}

#[test]
fn throttling_is_retried_after_the_servers_delay() {
    let fake = Fake::start();
    mount_two_pages(&fake, fhir_json(page_two()), Some(5));
    // Page 1 is refused once with 429 and Retry-After: 2.
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/r4/Slot"))
            .and(query_param("_include", "Slot:schedule"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
            .up_to_n_times(1)
            .with_priority(1),
    );
    let sleeps: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let read = connector(&fake, IntegrationKind::Fhir, sleeps.clone()).availability(march_window()).unwrap();
    assert!(read.complete);
    assert_eq!(read.slots.len(), 3);
    assert_eq!(*sleeps.lock().unwrap(), [Duration::from_secs(2)]);

    // 503 every time: three tries (the policy), then a plain error.
    let fake = Fake::start();
    let outcome = json!({ "resourceType": "OperationOutcome", "issue": [{ "severity": "error", "code": "transient", "diagnostics": "Scheduling is down for maintenance" }] });
    fake.mount(Mock::given(method("GET")).respond_with(ResponseTemplate::new(503).set_body_json(outcome)));
    let sleeps: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let err = connector(&fake, IntegrationKind::Fhir, sleeps.clone()).availability(march_window()).unwrap_err();
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(sleeps.lock().unwrap().len(), 2);
    assert!(sleeps.lock().unwrap().iter().all(|d| *d <= Duration::from_millis(20)), "jittered backoff within the cap");
    let text = err.to_string();
    assert!(text.contains("HTTP 503") && text.contains("Scheduling is down for maintenance"), "{text}");
}

/// Hands out `t1`, then `t2` after a forced refresh; counts refreshes.
struct Rotating {
    refreshes: Arc<Mutex<u32>>,
}

impl TokenSource for Rotating {
    fn bearer(&mut self, force_refresh: bool) -> Result<Option<String>, AuthError> {
        let mut n = self.refreshes.lock().unwrap();
        if force_refresh {
            *n += 1;
        }
        Ok(Some(format!("t{}", *n + 1)))
    }
}

#[test]
fn an_expired_token_is_refreshed_once_on_401() {
    let fake = Fake::start();
    let page = bundle(vec![slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "1")], vec![schedule("rivera", "Practitioner/p1", "Dr. Ana Rivera")], None, Some(1));
    fake.mount(Mock::given(method("GET")).and(header("Authorization", "Bearer t2")).respond_with(fhir_json(page)).with_priority(1));
    fake.mount(Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)).with_priority(2));
    let refreshes = Arc::new(Mutex::new(0));
    let http = FhirHttp::new(FhirHttp::default_agent(), "Clinic FHIR", Box::new(Rotating { refreshes: refreshes.clone() }));
    let read = FhirConnector::new(IntegrationKind::Fhir, settings(&fake.base()), http).availability(march_window()).unwrap();
    assert_eq!(read.slots.len(), 1);
    assert_eq!(*refreshes.lock().unwrap(), 1);

    // A server that refuses the new token too: one refresh, then a plain "reconnect" error.
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)));
    let refreshes = Arc::new(Mutex::new(0));
    let http = FhirHttp::new(FhirHttp::default_agent(), "Clinic FHIR", Box::new(Rotating { refreshes: refreshes.clone() }));
    let err = FhirConnector::new(IntegrationKind::Fhir, settings(&fake.base()), http).availability(march_window()).unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized { .. }));
    assert!(err.to_string().contains("Reconnect it on the Integrations page"), "{err}");
    assert_eq!(*refreshes.lock().unwrap(), 1);
    assert_eq!(fake.requests().len(), 2);
}

fn store_with_integration(dir: &tempfile::TempDir, base: &str) -> (Store, medharmony::store::integrations::Integration) {
    let mut store = Store::open(&dir.path().join("desk.db"), &DbKey::Raw([7; 32])).unwrap();
    let integ = store.add_integration(IntegrationKind::Fhir, "Clinic FHIR", &settings(base), now()).unwrap();
    (store, integ)
}

fn cached(store: &Store) -> Vec<(String, String, SlotStatus, String)> {
    store
        .published_slots(None, march_window())
        .unwrap()
        .into_iter()
        .map(|s| (s.provider, s.span.start.to_rfc3339(), s.status, s.source))
        .collect()
}

#[test]
fn an_incomplete_sync_keeps_the_cached_window_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    mount_two_pages(&fake, fhir_json(page_two()), Some(5));
    let (mut store, integ) = store_with_integration(&dir, &fake.base());
    let mut c = connector(&fake, IntegrationKind::Fhir, Arc::default());
    let report = sync_integration(&mut store, &integ, &mut c, march_window(), now()).unwrap();
    assert_eq!((report.added, report.changed, report.removed, report.quarantined, report.complete), (3, 0, 0, 1, true));
    let before = cached(&store);
    assert_eq!(before.len(), 3);
    assert_eq!(before[0], ("Dr. Ana Rivera".into(), "2026-03-04T14:00:00+00:00".into(), SlotStatus::Free, "Clinic FHIR".into()));

    // Next sync: page 1 now lists only s1, and page 2 fails. Nothing may be removed or changed.
    let fake2 = Fake::start();
    let next = format!("{}/Slot?page=2", fake2.base());
    let p1 = bundle(vec![slot("s1", "2026-03-04T09:05:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "3")], vec![schedule("rivera", "Practitioner/p1", "Dr. Ana Rivera")], Some(next), None);
    fake2.mount(Mock::given(method("GET")).and(query_param("page", "2")).respond_with(ResponseTemplate::new(500)).with_priority(1));
    fake2.mount(Mock::given(method("GET")).respond_with(fhir_json(p1)).with_priority(2));
    let mut c2 = FhirConnector::new(IntegrationKind::Fhir, settings(&fake2.base()), FhirHttp::new(FhirHttp::default_agent(), "Clinic FHIR", Box::new(NoAuth)));
    let report = sync_integration(&mut store, &integ, &mut c2, march_window(), now()).unwrap();
    assert!(!report.complete && !report.failed);
    assert_eq!((report.added, report.changed, report.removed), (0, 0, 0));
    assert_eq!(cached(&store), before);
    let stored = store.integration("Clinic FHIR").unwrap().unwrap();
    assert!(stored.last_error.as_deref().unwrap().contains("page 2 could not be read"), "{:?}", stored.last_error);

    // A complete read that no longer lists s2 and s4 removes them, and updates s1.
    let fake3 = Fake::start();
    let only = bundle(vec![slot("s1", "2026-03-04T09:05:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "3")], vec![schedule("rivera", "Practitioner/p1", "Dr. Ana Rivera")], None, Some(1));
    fake3.mount(Mock::given(method("GET")).respond_with(fhir_json(only)));
    let mut c3 = FhirConnector::new(IntegrationKind::Fhir, settings(&fake3.base()), FhirHttp::new(FhirHttp::default_agent(), "Clinic FHIR", Box::new(NoAuth)));
    let report = sync_integration(&mut store, &integ, &mut c3, march_window(), now()).unwrap();
    assert_eq!((report.added, report.changed, report.removed, report.complete), (0, 1, 2, true));
    assert_eq!(cached(&store), [("Dr. Ana Rivera".into(), "2026-03-04T14:05:00+00:00".into(), SlotStatus::Free, "Clinic FHIR".into())]);
}

/// Answers the Appointment create with the Appointment it received, given an id.
struct EchoAppointment;

impl Respond for EchoAppointment {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut body: Value = serde_json::from_slice(&req.body).unwrap();
        body["id"] = json!("appt-1");
        ResponseTemplate::new(201).set_body_raw(body.to_string(), "application/fhir+json")
    }
}

fn slot_id_of(store: &Store, start: &str) -> String {
    let s = store.published_slots(None, march_window()).unwrap().into_iter().find(|s| s.span.start == t(start)).unwrap();
    format!("slot-{}", s.id)
}

#[test]
fn booking_writes_back_and_a_taken_slot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    mount_two_pages(&fake, fhir_json(page_two()), Some(5));
    let (mut store, integ) = store_with_integration(&dir, &fake.base());
    let mut c = connector(&fake, IntegrationKind::Fhir, Arc::default());
    sync_integration(&mut store, &integ, &mut c, march_window(), now()).unwrap();

    // s1 is still free at the source: it gets booked.
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s1")).respond_with(fhir_json(slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "1"))));
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/r4/Appointment"))
            .and(body_partial_json(json!({ "resourceType": "Appointment", "status": "booked", "slot": [{ "reference": "Slot/s1" }] })))
            .respond_with(EchoAppointment)
            .expect(1),
    );
    let make = |i: &medharmony::store::integrations::Integration| -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(Box::new(FhirConnector::new(i.kind, i.settings.clone(), FhirHttp::new(FhirHttp::default_agent(), &i.name, Box::new(NoAuth)))))
    };
    fake.mount(Mock::given(method("PUT")).and(path("/r4/Slot/s1")).respond_with(|r: &wiremock::Request| ResponseTemplate::new(200).set_body_raw(r.body.clone(), "application/fhir+json")));
    let s1 = slot_id_of(&store, "2026-03-04T14:00:00Z");
    let booked = book_slot(&mut store, &s1, "pat-1001", make, now()).unwrap();
    assert_eq!(booked.appointment_id, "Appointment/appt-1");
    // Before booking, the server was asked for an active Appointment on the Slot; after it, the
    // Slot itself is marked busy (a generic server may leave Slot.status to its clients).
    let asked = fake.requests().into_iter().find(|r| r.url.path() == "/r4/Appointment" && r.method.as_str() == "GET").expect("an Appointment search");
    assert_eq!(asked.url.query_pairs().find(|(k, _)| k == "slot").map(|(_, v)| v.into_owned()).as_deref(), Some("Slot/s1"));
    let put = fake.requests().into_iter().find(|r| r.method.as_str() == "PUT").expect("the Slot marked busy");
    let put: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!((put["id"].as_str(), put["status"].as_str()), (Some("s1"), Some("busy")));
    let sent: Value = serde_json::from_slice(&fake.requests().iter().find(|r| r.method.as_str() == "POST").unwrap().body).unwrap();
    let participants = sent["participant"].as_array().unwrap();
    assert!(participants.iter().any(|p| p["actor"]["reference"] == "Patient/pat-1001" && p["status"] == "accepted"), "{sent}");
    assert_eq!(sent["start"], "2026-03-04T14:00:00Z");
    assert_eq!(cached(&store)[0].2, SlotStatus::Busy);

    // Booking it again from the desk is refused locally: the source is not asked again.
    let err = book_slot(&mut store, &s1, "pat-1002", make, now()).unwrap_err();
    assert!(matches!(err, BookError::Store(medharmony::store::StoreError::SlotNotFree(_))), "{err:?}");

    // s2 was booked by someone else between our read and our booking.
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s2")).respond_with(fhir_json({
        let mut s = slot("s2", "2026-03-04T10:15:00-05:00", Some("2026-03-04T10:45:00-05:00"), "Schedule/rivera", "3");
        s["status"] = json!("busy");
        s
    })));
    let s2 = slot_id_of(&store, "2026-03-04T15:15:00Z");
    let err = book_slot(&mut store, &s2, "pat-1002", make, now()).unwrap_err();
    assert_eq!(err.to_string(), "This time is no longer available in Clinic FHIR: someone else booked it. Pick another time.");
    assert_eq!(cached(&store)[1].2, SlotStatus::Busy, "the taken slot is no longer offered");
    assert_eq!(fake.requests().iter().filter(|r| r.method.as_str() == "POST").count(), 1, "no second Appointment was created");

    // s4 is free when re-read, but the create conflicts (409): same answer, nothing booked locally.
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s4")).respond_with(fhir_json(slot("s4", "2026-03-10T09:00:00-04:00", Some("2026-03-10T09:30:00-04:00"), "Schedule/rivera", "1"))));
    fake.mount(Mock::given(method("POST")).and(body_partial_json(json!({ "slot": [{ "reference": "Slot/s4" }] }))).respond_with(ResponseTemplate::new(409)).with_priority(1));
    let s4 = slot_id_of(&store, "2026-03-10T13:00:00Z");
    let err = book_slot(&mut store, &s4, "pat-1003", make, now()).unwrap_err();
    assert!(matches!(err, BookError::Connector(ConnectorError::SlotTaken { .. })), "{err:?}");
    let src = store.slot_for_booking(s4.trim_start_matches("slot-").parse().unwrap()).unwrap().unwrap();
    assert!(store.bookings_of(src.source_id, "s4").unwrap().is_empty());
}

#[test]
fn oracle_health_searches_by_service_type_and_books_with_one_participant() {
    let fake = Fake::start();
    mount_two_pages(&fake, fhir_json(page_two()), Some(5));
    let mut c = connector(&fake, IntegrationKind::OracleHealth, Arc::default());
    let read = c.availability(march_window()).unwrap();
    assert_eq!(read.slots.len(), 3);
    let q = fake.requests()[0].url.query().unwrap().to_string();
    assert!(q.starts_with("service-type=https%3A%2F%2Ffhir.cerner.com"), "{q}");
    assert!(!q.contains("status="), "Oracle Health returns free slots only: {q}");

    fake.mount(
        Mock::given(method("GET"))
            .and(path("/r4/Slot"))
            .and(query_param("_id", "s1"))
            .respond_with(fhir_json(bundle(vec![slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "1")], vec![], None, Some(1))))
            .with_priority(1),
    );
    fake.mount(Mock::given(method("POST")).and(path("/r4/Appointment")).respond_with(ResponseTemplate::new(201).insert_header("Location", format!("{}/Appointment/77/_history/1", fake.base()))));
    let booked = c.book(&medharmony::connector::SlotToBook {
        external_id: "s1".into(),
        span: read.slots[0].span,
        provider_ref: Some("Practitioner/p1".into()),
        location_ref: Some("Location/main-st".into()),
        booking: json!({}),
    }, "12724066").unwrap();
    assert_eq!(booked.appointment_id, "Appointment/77");
    let sent: Value = serde_json::from_slice(&fake.requests().iter().find(|r| r.method.as_str() == "POST").unwrap().body).unwrap();
    assert_eq!(sent["status"], "booked");
    assert_eq!(sent["slot"], json!([{ "reference": "Slot/s1" }]));
    assert_eq!(sent["participant"], json!([{ "actor": { "reference": "Patient/12724066" }, "status": "accepted" }]));
}

#[test]
fn epic_finds_open_times_and_books_the_proposal() {
    let fake = Fake::start();
    let proposed = json!({
        "resourceType": "Appointment", "id": "prop-1", "status": "proposed",
        "start": "2026-03-04T09:00:00-05:00", "end": "2026-03-04T09:30:00-05:00",
        "participant": [
            { "actor": { "reference": "Practitioner/eAbc", "display": "Dr. Sam Okafor" }, "status": "needs-action" },
            { "actor": { "reference": "Location/eLoc", "display": "Lakeside Clinic" }, "status": "needs-action" }
        ]
    });
    let find = json!({ "resourceType": "Bundle", "type": "searchset", "entry": [
        { "resource": proposed, "search": { "mode": "match" } },
        { "resource": { "resourceType": "OperationOutcome", "issue": [{ "severity": "warning", "code": "informational", "details": { "text": "Some providers have no open times" } }] }, "search": { "mode": "outcome" } }
    ]});
    fake.mount(Mock::given(method("POST")).and(path("/STU3/Appointment/$find")).respond_with(fhir_json(find)));
    let mut s = settings(&format!("{}/R4", fake.server.uri()));
    s.practitioners = vec!["Practitioner/eAbc".into()];
    let mut c = EpicConnector::new(s, FhirHttp::new(FhirHttp::default_agent(), "Epic", Box::new(NoAuth)));
    let read = c.availability(march_window()).unwrap();
    assert!(read.complete);
    assert_eq!(read.slots.len(), 1);
    assert_eq!(read.slots[0].provider, "Dr. Sam Okafor");
    assert_eq!(read.slots[0].span.start, t("2026-03-04T14:00:00Z"));
    assert_eq!(read.slots[0].booking["id"], "prop-1");
    let find_body: Value = serde_json::from_slice(&fake.requests()[0].body).unwrap();
    assert_eq!(find_body["resourceType"], "Parameters");
    let names: Vec<&str> = find_body["parameter"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(names.contains(&"startTime") && names.contains(&"endTime"), "{names:?}");

    let mut booked_resp = read.slots[0].booking.clone();
    booked_resp["status"] = json!("booked");
    booked_resp["id"] = json!("appt-9");
    fake.mount(Mock::given(method("POST")).and(path("/STU3/Appointment/$book")).respond_with(fhir_json(booked_resp)));
    let to_book = medharmony::connector::SlotToBook {
        external_id: read.slots[0].external_id.clone(),
        span: read.slots[0].span,
        provider_ref: read.slots[0].provider_ref.clone(),
        location_ref: read.slots[0].location_ref.clone(),
        booking: read.slots[0].booking.clone(),
    };
    let booked = c.book(&to_book, "eP123").unwrap();
    assert_eq!(booked.appointment_id, "Appointment/appt-9");
    let book_req = fake.requests().into_iter().find(|r| r.url.path().ends_with("$book")).unwrap();
    let body: Value = serde_json::from_slice(&book_req.body).unwrap();
    assert_eq!(body["resourceType"], "Parameters");
    assert!(body.to_string().contains("Patient/eP123"), "{body}");
}

#[test]
fn epic_cancellations_come_from_the_r4_appointment_search() {
    let fake = Fake::start();
    let body = std::fs::read_to_string(medharmony_e2e::fixture("fhir/epic/appointment-search-cancelled.json")).unwrap();
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/R4/Appointment"))
            .and(query_param("practitioner", "Practitioner/eRivAna0Kx8pLq2Wm5Tz3"))
            .and(query_param("status", "cancelled"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/fhir+json")),
    );
    let mut s = settings(&format!("{}/R4", fake.server.uri()));
    s.practitioners = vec!["Practitioner/eRivAna0Kx8pLq2Wm5Tz3".into()];
    let mut c = EpicConnector::new(s, FhirHttp::new(FhirHttp::default_agent(), "Epic", Box::new(NoAuth)));
    let cancelled = c.cancellations(march_window()).unwrap();
    let got: Vec<(String, Option<DateTime<Utc>>)> = cancelled.iter().map(|a| (a.appointment_id.clone(), a.span.map(|s| s.start))).collect();
    // The booked appointment in the same bundle is not a cancellation.
    assert_eq!(
        got,
        [("Appointment/eCx1Mn2Bv5Cx8Za1Sd4Fg7".to_string(), Some(t("2026-03-05T14:00:00Z"))), ("Appointment/eCx2Qa3Ws6Ed9Rf2Tg5Yh8".to_string(), None)]
    );
    let q = fake.requests()[0].url.query().unwrap().to_string();
    assert!(q.contains("date=ge2026-03-01T00%3A00%3A00Z") && q.contains("date=lt2026-03-15T00%3A00%3A00Z"), "{q}");
}

#[test]
fn changes_since_a_cursor_use_last_updated_and_upsert_without_removing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    mount_two_pages(&fake, fhir_json(page_two()), Some(5));
    let (mut store, integ) = store_with_integration(&dir, &fake.base());
    let mut c = connector(&fake, IntegrationKind::Fhir, Arc::default());
    sync_integration(&mut store, &integ, &mut c, march_window(), now()).unwrap();

    // Without a cursor: nothing is read, and the cursor starts now.
    let first = c.changes_since(None, now()).unwrap().unwrap();
    assert_eq!((first.slots.len(), first.cursor.as_str()), (0, "2026-03-01T12:00:00Z"));

    // With it: a `_lastUpdated=gt` search; s1 was booked at the EHR.
    let fake2 = Fake::start();
    let mut busy = slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "2");
    busy["status"] = json!("busy");
    fake2.mount(
        Mock::given(method("GET"))
            .and(path("/r4/Slot"))
            .and(query_param("_lastUpdated", "gt2026-03-01T12:00:00Z"))
            .respond_with(fhir_json(bundle(vec![busy], vec![schedule("rivera", "Practitioner/p1", "Dr. Ana Rivera")], None, Some(1)))),
    );
    let mut c2 = FhirConnector::new(IntegrationKind::Fhir, settings(&fake2.base()), FhirHttp::new(FhirHttp::default_agent(), "Clinic FHIR", Box::new(NoAuth)));
    let later = t("2026-03-01T12:01:00Z");
    let batch = c2.changes_since(Some(&first.cursor), later).unwrap().unwrap();
    assert!(batch.complete);
    assert_eq!(batch.cursor, "2026-03-01T12:01:00Z");
    let outcome = store.apply_changes(&integ, &batch.slots, later).unwrap();
    assert_eq!((outcome.inserted, outcome.updated, outcome.removed), (0, 1, 0));
    let statuses: Vec<SlotStatus> = cached(&store).into_iter().map(|r| r.2).collect();
    assert_eq!(statuses, [SlotStatus::Busy, SlotStatus::Free, SlotStatus::Free], "only s1 changed; nothing was removed");

    // Oracle Health offers no change query.
    assert!(connector(&fake, IntegrationKind::OracleHealth, Arc::default()).changes_since(Some("x"), later).unwrap().is_none());
}

#[test]
fn a_next_link_to_another_server_is_not_followed() {
    let fake = Fake::start();
    let mut elsewhere = page_two();
    elsewhere["link"] = json!([{ "relation": "next", "url": "http://127.0.0.2:9/r4/Slot?page=3" }]);
    mount_two_pages(&fake, fhir_json(elsewhere), Some(5));
    let read = connector(&fake, IntegrationKind::Fhir, Arc::default()).availability(march_window()).unwrap();
    assert!(!read.complete);
    assert_eq!(read.incomplete_reason.as_deref(), Some("the server's link to the next page points to another server; stopped reading"));
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn a_retry_after_longer_than_the_cap_is_not_cut_short() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120")));
    let sleeps: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let err = connector(&fake, IntegrationKind::Fhir, sleeps.clone()).availability(march_window()).unwrap_err();
    assert_eq!(fake.requests().len(), 1, "no early retry");
    assert!(sleeps.lock().unwrap().is_empty());
    assert_eq!(
        err.to_string(),
        "Clinic FHIR answered with an error (HTTP 429): the server is busy and asked MedHarmony Desk to wait 120 seconds; try again later"
    );
}

#[test]
fn practitioners_without_a_display_are_named_from_their_resource() {
    let fake = Fake::start();
    let mut sched = schedule("okafor", "Practitioner/p2", "");
    sched["actor"][0].as_object_mut().unwrap().remove("display");
    let page = bundle(vec![slot("s9", "2026-03-04T09:00:00-06:00", Some("2026-03-04T09:20:00-06:00"), "Schedule/okafor", "1")], vec![sched], None, Some(1));
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json(page)));
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/r4/Practitioner/p2"))
            .respond_with(fhir_json(json!({ "resourceType": "Practitioner", "id": "p2", "name": [{ "use": "official", "prefix": ["Dr."], "given": ["Sam"], "family": "Okafor" }] })))
            .expect(1),
    );
    let read = connector(&fake, IntegrationKind::Fhir, Arc::default()).availability(march_window()).unwrap();
    assert_eq!(read.slots[0].provider, "Dr. Sam Okafor");
    assert_eq!(read.slots[0].provider_ref.as_deref(), Some("Practitioner/p2"));
}

#[test]
fn the_page_cap_follows_the_servers_total() {
    // The server says 3 slots at 1 per page, then keeps handing out new next links.
    struct Endless(String);
    impl Respond for Endless {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let n: u32 = req.url.query_pairs().find(|(k, _)| k == "page").map(|(_, v)| v.parse().unwrap()).unwrap_or(1);
            let base = &self.0;
            let s = slot(&format!("e{n}"), "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "1");
            fhir_json(bundle(vec![s], vec![schedule("rivera", "Practitioner/p1", "Dr. Ana Rivera")], Some(format!("{base}/Slot?page={}", n + 1)), Some(3)))
        }
    }
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).respond_with(Endless(fake.base())));
    let read = connector(&fake, IntegrationKind::Fhir, Arc::default()).availability(march_window()).unwrap();
    assert!(!read.complete);
    assert_eq!(read.incomplete_reason.as_deref(), Some("the server sent more than 13 pages; stopped reading"));
    assert_eq!(fake.requests().len(), 13, "3 pages for the total, plus 10 to spare");
}

// ---- Regressions from the QA pass on the connectors ----

fn synced_store(fake: &Fake, dir: &tempfile::TempDir) -> (Store, medharmony::store::integrations::Integration) {
    mount_two_pages(fake, fhir_json(page_two()), Some(5));
    let (mut store, integ) = store_with_integration(dir, &fake.base());
    let mut c = connector(fake, IntegrationKind::Fhir, Arc::default());
    sync_integration(&mut store, &integ, &mut c, march_window(), now()).unwrap();
    (store, integ)
}

fn open_connector(i: &medharmony::store::integrations::Integration) -> Result<Box<dyn Connector>, ConnectorError> {
    Ok(Box::new(FhirConnector::new(i.kind, i.settings.clone(), FhirHttp::new(FhirHttp::default_agent(), &i.name, Box::new(NoAuth)))))
}

fn posts(fake: &Fake) -> usize {
    fake.requests().iter().filter(|r| r.method.as_str() == "POST").count()
}

#[test]
fn a_patient_id_that_is_no_fhir_id_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    let (mut store, _) = synced_store(&fake, &dir);
    let s1 = slot_id_of(&store, "2026-03-04T14:00:00Z");
    let before = fake.requests().len();
    for bad in ["", "  ", "Practitioner/evil", "Patient/", "a b"] {
        let err = book_slot(&mut store, &s1, bad, open_connector, now()).unwrap_err();
        assert!(matches!(err, BookError::BadPatient(_)), "{bad:?}: {err:?}");
    }
    assert_eq!(fake.requests().len(), before, "nothing was sent");
    assert_eq!(cached(&store)[0].2, SlotStatus::Free);
}

#[test]
fn a_slot_moved_at_the_source_is_not_booked_at_its_old_time() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    let (mut store, _) = synced_store(&fake, &dir);
    // Still free, but now at 16:00 instead of 09:00.
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s1")).respond_with(fhir_json(slot("s1", "2026-03-04T16:00:00-05:00", Some("2026-03-04T16:30:00-05:00"), "Schedule/rivera", "2"))));
    let s1 = slot_id_of(&store, "2026-03-04T14:00:00Z");
    let err = book_slot(&mut store, &s1, "pat-1", open_connector, now()).unwrap_err();
    assert_eq!(err.to_string(), "This time was changed in Clinic FHIR since MedHarmony Desk last read it. Sync, then pick the time again.");
    assert_eq!(posts(&fake), 0);
    assert_eq!(cached(&store)[0].2, SlotStatus::Busy, "not offered at the old time");
}

#[test]
fn a_booking_whose_answer_is_lost_holds_the_slot_until_the_source_says() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    let (mut store, integ) = synced_store(&fake, &dir);
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s1")).respond_with(fhir_json(slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "1"))));
    // 201 with neither a body nor a Location: the server may well have booked it.
    fake.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)));
    let s1 = slot_id_of(&store, "2026-03-04T14:00:00Z");
    let err = book_slot(&mut store, &s1, "pat-1", open_connector, now()).unwrap_err();
    assert!(matches!(err, BookError::Connector(ConnectorError::BookingUnknown { .. })), "{err:?}");
    assert!(err.to_string().starts_with("MedHarmony Desk could not confirm whether Clinic FHIR booked this time"), "{err}");
    assert_eq!(cached(&store)[0].2, SlotStatus::BusyTentative);
    // Booking it again is refused with the same advice, without asking the source.
    let err = book_slot(&mut store, &s1, "pat-2", open_connector, now()).unwrap_err();
    assert!(matches!(err, BookError::Store(medharmony::store::StoreError::BookingUnconfirmed(_))), "{err:?}");
    assert_eq!(posts(&fake), 1);
    // A sync soon after, with the source still listing it free, keeps it held…
    let mut c = connector(&fake, IntegrationKind::Fhir, Arc::default());
    sync_integration(&mut store, &integ, &mut c, march_window(), now() + chrono::Duration::minutes(5)).unwrap();
    assert_eq!(cached(&store)[0].2, SlotStatus::BusyTentative);
    // …and one 15 minutes after the attempt believes the source: the booking did not land.
    sync_integration(&mut store, &integ, &mut c, march_window(), now() + chrono::Duration::minutes(15)).unwrap();
    assert_eq!(cached(&store)[0].2, SlotStatus::Free);
}

#[test]
fn a_booking_interrupted_before_the_answer_counts_as_unconfirmed_after_five_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    let (mut store, _) = synced_store(&fake, &dir);
    let id: i64 = slot_id_of(&store, "2026-03-04T14:00:00Z").trim_start_matches("slot-").parse().unwrap();
    let slot = store.slot_for_booking(id).unwrap().unwrap();
    store.claim_booking(&slot, "pat-1", now()).unwrap(); // the process dies here
    let err = store.claim_booking(&slot, "pat-2", now() + chrono::Duration::minutes(1)).unwrap_err();
    assert!(matches!(err, medharmony::store::StoreError::SlotNotFree(_)), "still in flight: {err:?}");
    let err = store.claim_booking(&slot, "pat-2", now() + chrono::Duration::minutes(5)).unwrap_err();
    assert!(matches!(err, medharmony::store::StoreError::BookingUnconfirmed(_)), "{err:?}");
}

#[test]
fn a_slot_with_an_active_appointment_at_the_source_is_not_booked_twice() {
    // Regression: a server that leaves Slot.status free after an Appointment was made for it let a
    // second desk book the same slot (two booked Appointments on one Slot).
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    let (mut store, _) = synced_store(&fake, &dir);
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s1")).respond_with(fhir_json(slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "1"))));
    let other_desks = json!({ "resourceType": "Bundle", "type": "searchset", "total": 1, "entry": [
        { "resource": { "resourceType": "Appointment", "id": "a-77", "status": "booked", "slot": [{ "reference": "Slot/s1" }] }, "search": { "mode": "match" } }
    ]});
    fake.mount(Mock::given(method("GET")).and(path("/r4/Appointment")).and(query_param("slot", "Slot/s1")).respond_with(fhir_json(other_desks)));
    fake.mount(Mock::given(method("POST")).respond_with(EchoAppointment).expect(0));
    let s1 = slot_id_of(&store, "2026-03-04T14:00:00Z");
    let err = book_slot(&mut store, &s1, "pat-2", open_connector, now()).unwrap_err();
    assert!(matches!(err, BookError::Connector(ConnectorError::SlotTaken { .. })), "{err:?}");
    assert_eq!(cached(&store)[0].2, SlotStatus::Busy, "no longer offered");
}

#[test]
fn a_desk_booking_the_source_took_over_opens_again_when_cancelled_there() {
    // Regression: a slot booked from the desk that the source then stopped listing (its search
    // asks for free slots) stayed busy forever, even after a cancellation freed it at the source.
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    let (mut store, integ) = synced_store(&fake, &dir);
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s1")).respond_with(fhir_json(slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "1"))));
    fake.mount(Mock::given(method("POST")).respond_with(EchoAppointment));
    let s1 = slot_id_of(&store, "2026-03-04T14:00:00Z");
    book_slot(&mut store, &s1, "pat-1", open_connector, now()).unwrap();
    let one_window = Interval::new(t("2026-03-04T00:00:00Z"), t("2026-03-05T00:00:00Z")).unwrap();
    let listed = |slots: Vec<Value>| {
        let n = slots.len() as u64;
        bundle(slots, vec![schedule("rivera", "Practitioner/p1", "Dr. Ana Rivera")], None, Some(n))
    };
    let fake2 = Fake::start();
    // First the source no longer lists s1 (it is booked there), then lists it free (cancelled).
    fake2.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json(listed(vec![]))).up_to_n_times(1).with_priority(1));
    fake2.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json(listed(vec![slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "4")]))).with_priority(2));
    let mut c2 = FhirConnector::new(IntegrationKind::Fhir, settings(&fake2.base()), FhirHttp::new(FhirHttp::default_agent(), "Clinic FHIR", Box::new(NoAuth)));
    let later = now() + chrono::Duration::minutes(1);
    sync_integration(&mut store, &integ, &mut c2, one_window, later).unwrap();
    let id: i64 = s1.trim_start_matches("slot-").parse().unwrap();
    assert!(store.slot_for_booking(id).unwrap().is_none(), "not listed by the source: kept in history only");
    let src_id = store.sources().unwrap().into_iter().find(|s| s.name == "Clinic FHIR").unwrap().id;
    assert!(store.bookings_of(src_id, "s1").unwrap().is_empty(), "the source has the booking now");
    sync_integration(&mut store, &integ, &mut c2, one_window, later).unwrap();
    let back = store.slot_for_booking(id).unwrap().expect("listed again");
    assert_eq!(back.slot.status, SlotStatus::Free, "cancelled at the source: bookable again");
    assert_eq!(store.openings_of(id).unwrap().len(), 1, "an opening to fill");
}

#[test]
fn a_slot_booked_from_the_desk_stays_busy_until_the_source_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    let (mut store, integ) = synced_store(&fake, &dir);
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot/s1")).respond_with(fhir_json(slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "1"))));
    fake.mount(Mock::given(method("POST")).respond_with(EchoAppointment));
    let s1 = slot_id_of(&store, "2026-03-04T14:00:00Z");
    book_slot(&mut store, &s1, "pat-1", open_connector, now()).unwrap();
    // This server never marks the Slot busy: the next sync still lists it free, and the desk keeps it busy.
    let mut c = connector(&fake, IntegrationKind::Fhir, Arc::default());
    sync_integration(&mut store, &integ, &mut c, march_window(), now()).unwrap();
    assert_eq!(cached(&store)[0].2, SlotStatus::Busy);

    // A server that does: busy, then free again after a cancellation — bookable again.
    let fake2 = Fake::start();
    let mut busy = slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "2");
    busy["status"] = json!("busy");
    let listed = |s: Value| bundle(vec![s], vec![schedule("rivera", "Practitioner/p1", "Dr. Ana Rivera")], None, Some(1));
    let one_window = Interval::new(t("2026-03-04T00:00:00Z"), t("2026-03-05T00:00:00Z")).unwrap();
    fake2.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json(listed(busy))).up_to_n_times(1).with_priority(1));
    fake2.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json(listed(slot("s1", "2026-03-04T09:00:00-05:00", Some("2026-03-04T09:30:00-05:00"), "Schedule/rivera", "3")))).with_priority(2));
    let mut c2 = FhirConnector::new(IntegrationKind::Fhir, settings(&fake2.base()), FhirHttp::new(FhirHttp::default_agent(), "Clinic FHIR", Box::new(NoAuth)));
    sync_integration(&mut store, &integ, &mut c2, one_window, now()).unwrap();
    assert_eq!(cached(&store)[0].2, SlotStatus::Busy);
    sync_integration(&mut store, &integ, &mut c2, one_window, now()).unwrap();
    assert_eq!(cached(&store)[0].2, SlotStatus::Free, "freed at the source after it took over");
    let src = store.slot_for_booking(s1.trim_start_matches("slot-").parse().unwrap()).unwrap().unwrap();
    assert!(store.bookings_of(src.source_id, "s1").unwrap().is_empty());
}

#[test]
fn an_error_outcome_in_the_search_makes_the_window_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    let (mut store, integ) = synced_store(&fake, &dir);
    let before = cached(&store);
    let fake2 = Fake::start();
    let costly = json!({ "resourceType": "Bundle", "type": "searchset", "total": 0, "entry": [{
        "resource": { "resourceType": "OperationOutcome", "issue": [{ "severity": "error", "code": "too-costly", "diagnostics": "Too many results; narrow your search" }] },
        "search": { "mode": "outcome" } }] });
    fake2.mount(Mock::given(method("GET")).respond_with(fhir_json(costly)));
    let mut c2 = FhirConnector::new(IntegrationKind::Fhir, settings(&fake2.base()), FhirHttp::new(FhirHttp::default_agent(), "Clinic FHIR", Box::new(NoAuth)));
    let report = sync_integration(&mut store, &integ, &mut c2, march_window(), now()).unwrap();
    assert!(!report.complete);
    assert_eq!(
        report.problem.as_deref(),
        Some("Not every open time could be read (the server reported a problem with the search: Too many results; narrow your search); what was cached before is kept.")
    );
    assert_eq!(cached(&store), before);

    // Epic: a $find answer holding only an error.
    let fake3 = Fake::start();
    let refused = json!({ "resourceType": "Bundle", "type": "searchset", "entry": [{
        "resource": { "resourceType": "OperationOutcome", "issue": [{ "severity": "error", "code": "processing", "details": { "text": "The provider is not valid for scheduling" } }] } }] });
    fake3.mount(Mock::given(method("POST")).respond_with(fhir_json(refused)));
    let mut epic = EpicConnector::new(settings(&format!("{}/R4", fake3.server.uri())), FhirHttp::new(FhirHttp::default_agent(), "Epic", Box::new(NoAuth)));
    let read = epic.availability(march_window()).unwrap();
    assert!(!read.complete);
    assert_eq!(read.incomplete_reason.as_deref(), Some("Epic reported a problem with the search: The provider is not valid for scheduling"));
}

#[test]
fn a_later_unreadable_version_of_a_slot_wins_over_the_earlier_one() {
    let fake = Fake::start();
    let mut later = page_two();
    // s2 comes back on page 2 without an end.
    later["entry"][0]["resource"].as_object_mut().unwrap().remove("end");
    mount_two_pages(&fake, fhir_json(later), Some(5));
    let read = connector(&fake, IntegrationKind::Fhir, Arc::default()).availability(march_window()).unwrap();
    let ids: Vec<&str> = read.slots.iter().map(|s| s.external_id.as_str()).collect();
    assert_eq!(ids, ["s1", "s4"]);
    let set_aside: Vec<(&str, &str)> = read.quarantined.iter().map(|q| (q.resource.as_str(), q.reason.as_str())).collect();
    assert_eq!(set_aside, [("Slot/s2", "has no end time"), ("Slot/s3", "has no end time")]);
}
