//! The athenahealth connector against an HTTP-level fake (wiremock) serving the
//! vendor-shaped payloads of `fixtures/athena/`: the client-credentials token over
//! HTTP Basic, open slots with paging and the exact query parameters, a missing
//! page, one request per department × visit in each department's zone, the
//! changed-appointments subscription feed, booking (form body, slot taken, slot
//! moved, reply lost), cancelling, 429 with `Retry-After`, athenahealth's error
//! body in plain words, and the store: the read applied to a real `Store`.

use crate::fake::Fake;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use medharmony::auth::{AuthConfig, Grant, NoAuth, TokenManager};
use medharmony::connector::athena::{self, AthenaConnector, DEFAULT_SCOPE};
use medharmony::connector::http::{FhirHttp, RetryPolicy};
use medharmony::connector::{AthenaSettings, Connector, ConnectorError, IntegrationKind, IntegrationSettings, SlotToBook};
use medharmony::model::SlotStatus;
use medharmony::store::key::DbKey;
use medharmony::store::Store;
use medharmony::time::Interval;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, Request, ResponseTemplate};

const PRACTICE: &str = "/v1/195900";

fn fixture(name: &str) -> Value {
    let text = match name {
        "token" => include_str!("../../../fixtures/athena/token.json"),
        "open-page-1" => include_str!("../../../fixtures/athena/open-page-1.json"),
        "open-page-2" => include_str!("../../../fixtures/athena/open-page-2.json"),
        "department" => include_str!("../../../fixtures/athena/department.json"),
        "provider" => include_str!("../../../fixtures/athena/provider.json"),
        "changed" => include_str!("../../../fixtures/athena/changed.json"),
        "subscription" => include_str!("../../../fixtures/athena/subscription.json"),
        "error-subscription-required" => include_str!("../../../fixtures/athena/error-subscription-required.json"),
        "book-reply" => include_str!("../../../fixtures/athena/book-reply.json"),
        "cancel-reply" => include_str!("../../../fixtures/athena/cancel-reply.json"),
        "error-taken" => include_str!("../../../fixtures/athena/error-taken.json"),
        "rate-limited-429" => include_str!("../../../fixtures/athena/rate-limited-429.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// athenahealth answers `application/json`.
fn athena_json(status: u16, v: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(v.to_string(), "application/json")
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// 4–10 March 2026 UTC: in New York the dates 03/03/2026 to 03/09/2026 (inclusive) cover it.
fn window() -> Interval {
    Interval::new(t("2026-03-04T00:00:00Z"), t("2026-03-10T00:00:00Z")).unwrap()
}

fn settings(base: &str) -> IntegrationSettings {
    let mut s = IntegrationSettings::new(base, "America/New_York", AuthConfig::None);
    s.page_size = 3;
    s.athena = Some(AthenaSettings {
        practiceid: "195900".into(),
        departmentids: vec!["1".into()],
        providerids: vec!["71".into()],
        reasonids: vec!["563".into()],
        appointmenttypeids: vec![],
    });
    s
}

fn http(sleeps: Arc<Mutex<Vec<Duration>>>) -> FhirHttp {
    FhirHttp::new(FhirHttp::default_agent(), "Main Street athenahealth", Box::new(NoAuth))
        .with_sleeper(move |d| sleeps.lock().unwrap().push(d))
        .with_policy(RetryPolicy { attempts: 3, base: Duration::from_millis(10), cap: Duration::from_secs(5) })
}

fn connector(fake: &Fake) -> AthenaConnector {
    AthenaConnector::new(settings(&fake.uri()), http(Arc::default())).unwrap()
}

fn open_path() -> String {
    format!("{PRACTICE}/appointments/open")
}

/// Department 1 (New York) and provider 71 (Dr. Ana Rivera).
fn mount_reference(fake: &Fake) {
    fake.mount(Mock::given(method("GET")).and(path(format!("{PRACTICE}/departments/1"))).respond_with(athena_json(200, &fixture("department"))));
    fake.mount(Mock::given(method("GET")).and(path(format!("{PRACTICE}/providers/71"))).respond_with(athena_json(200, &fixture("provider"))));
}

/// The two open-slot pages: page 1 answers the exact first request, page 2 the `next` link (`offset=3`).
fn mount_open_pages(fake: &Fake, page2: ResponseTemplate) {
    fake.mount(Mock::given(method("GET")).and(path(open_path())).and(query_param("offset", "3")).respond_with(page2).with_priority(1));
    fake.mount(
        Mock::given(method("GET"))
            .and(path(open_path()))
            .and(query_param("departmentid", "1"))
            .and(query_param("reasonid", "563"))
            .and(query_param("providerid", "71"))
            .and(query_param("startdate", "03/03/2026"))
            .and(query_param("enddate", "03/09/2026"))
            .and(query_param("bypassscheduletimechecks", "true"))
            .and(query_param("limit", "3"))
            .respond_with(athena_json(200, &fixture("open-page-1")))
            .with_priority(2),
    );
}

fn requests_to(fake: &Fake, p: &str) -> Vec<Request> {
    fake.requests().into_iter().filter(|r| r.url.path() == p).collect()
}

fn form_of(req: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&req.body).into_owned().collect()
}

type Row = (String, String, String, String, Option<String>);

fn rows(slots: &[medharmony::connector::RemoteSlot]) -> Vec<Row> {
    slots.iter().map(|s| (s.external_id.clone(), s.span.start.to_rfc3339(), s.span.end.to_rfc3339(), s.provider.clone(), s.location.clone())).collect()
}

fn row(id: &str, start: &str, end: &str) -> Row {
    (id.into(), start.into(), end.into(), "Dr. Ana Rivera".into(), Some("Main Street Clinic".into()))
}

#[test]
fn open_slots_follow_next_with_the_exact_parameters() {
    let fake = Fake::start();
    mount_reference(&fake);
    mount_open_pages(&fake, athena_json(200, &fixture("open-page-2")));
    let read = connector(&fake).availability(window()).unwrap();
    assert!(read.complete, "{:?}", read.incomplete_reason);
    // 659599 (3 March, before the window) is dropped; 659590 is on the spring-forward day (EDT).
    assert_eq!(
        rows(&read.slots),
        [
            row("659568", "2026-03-04T14:15:00+00:00", "2026-03-04T14:30:00+00:00"),
            row("659571", "2026-03-04T15:00:00+00:00", "2026-03-04T15:30:00+00:00"),
            row("659590", "2026-03-08T13:00:00+00:00", "2026-03-08T13:15:00+00:00"),
        ]
    );
    assert_eq!(read.quarantined.len(), 1);
    assert_eq!((read.quarantined[0].resource.as_str(), read.quarantined[0].reason.as_str()), ("appointmentid 659580", "has no start time"));
    assert_eq!(read.slots[1].service_type.as_deref(), Some("Established"));
    assert_eq!(
        read.slots[1].booking,
        json!({"appointmentid": "659571", "departmentid": "1", "date": "03/04/2026", "providerid": "71", "appointmenttypeid": "42", "reasonid": "563"})
    );
    let open = requests_to(&fake, &open_path());
    assert_eq!(open.len(), 2);
    assert_eq!(
        open[0].url.query(),
        Some("departmentid=1&reasonid=563&providerid=71&startdate=03%2F03%2F2026&enddate=03%2F09%2F2026&bypassscheduletimechecks=true&limit=3")
    );
    assert_eq!(open[1].url.query().unwrap().rsplit('&').next(), Some("offset=3"));
    // The department and the provider are each read once.
    assert_eq!(requests_to(&fake, &format!("{PRACTICE}/departments/1")).len(), 1);
    assert_eq!(requests_to(&fake, &format!("{PRACTICE}/providers/71")).len(), 1);
}

#[test]
fn a_missing_page_makes_the_read_incomplete() {
    let fake = Fake::start();
    mount_reference(&fake);
    mount_open_pages(&fake, athena_json(500, &json!({"error": "Internal error."})));
    let read = connector(&fake).availability(window()).unwrap();
    assert!(!read.complete);
    assert_eq!(
        read.incomplete_reason.as_deref(),
        Some("department 1, reasonid 563: page 2 could not be read: Main Street athenahealth answered with an error (HTTP 500): Internal error.")
    );
    // What page 1 gave is still reported (the store writes nothing for an incomplete read).
    assert_eq!(read.slots.len(), 2);
}

#[test]
fn a_totalcount_the_pages_do_not_reach_is_incomplete() {
    let fake = Fake::start();
    mount_reference(&fake);
    let mut short = fixture("open-page-2");
    short["appointments"].as_array_mut().unwrap().pop();
    mount_open_pages(&fake, athena_json(200, &short));
    let read = connector(&fake).availability(window()).unwrap();
    assert!(!read.complete);
    assert!(read.incomplete_reason.as_deref().unwrap().ends_with("athenahealth said it had 5 appointments but sent 4"), "{:?}", read.incomplete_reason);
}

#[test]
fn one_request_per_department_and_visit_in_each_departments_zone() {
    let fake = Fake::start();
    let mut tokyo = fixture("department");
    tokyo[0]["departmentid"] = json!("2");
    tokyo[0]["name"] = json!("Tokyo Annex");
    tokyo[0]["timezonename"] = json!("Asia/Tokyo");
    fake.mount(Mock::given(method("GET")).and(path(format!("{PRACTICE}/departments/1"))).respond_with(athena_json(200, &fixture("department"))));
    fake.mount(Mock::given(method("GET")).and(path(format!("{PRACTICE}/departments/2"))).respond_with(athena_json(200, &tokyo)));
    fake.mount(Mock::given(method("GET")).and(path(open_path())).respond_with(athena_json(200, &json!({"totalcount": 0, "appointments": []}))));
    let mut s = settings(&fake.uri());
    s.athena.as_mut().unwrap().departmentids = vec!["1".into(), "2".into()];
    s.athena.as_mut().unwrap().appointmenttypeids = vec!["82".into()];
    let read = AthenaConnector::new(s, http(Arc::default())).unwrap().availability(window()).unwrap();
    assert!(read.complete && read.slots.is_empty());
    let mut asked: Vec<String> = requests_to(&fake, &open_path()).iter().map(|r| r.url.query().unwrap().to_string()).collect();
    asked.sort();
    assert_eq!(
        asked,
        [
            "departmentid=1&appointmenttypeid=82&providerid=71&startdate=03%2F03%2F2026&enddate=03%2F09%2F2026&bypassscheduletimechecks=true&limit=3",
            "departmentid=1&reasonid=563&providerid=71&startdate=03%2F03%2F2026&enddate=03%2F09%2F2026&bypassscheduletimechecks=true&limit=3",
            // Tokyo is 9 hours ahead of UTC: the same window is 4–10 March there.
            "departmentid=2&appointmenttypeid=82&providerid=71&startdate=03%2F04%2F2026&enddate=03%2F10%2F2026&bypassscheduletimechecks=true&limit=3",
            "departmentid=2&reasonid=563&providerid=71&startdate=03%2F04%2F2026&enddate=03%2F10%2F2026&bypassscheduletimechecks=true&limit=3",
        ]
    );
}

#[test]
fn the_token_is_asked_for_with_basic_auth_and_sent_as_bearer() {
    // The documented reply, and the same with `expires_in` sent as a string.
    let mut string_expiry = fixture("token");
    string_expiry["expires_in"] = json!("3600");
    for token_reply in [fixture("token"), string_expiry] {
        let fake = Fake::start();
        let basic = base64::engine::general_purpose::STANDARD.encode("desk-client:desk-secret");
        fake.mount(
            Mock::given(method("POST"))
                .and(path("/oauth2/v1/token"))
                .and(header("authorization", format!("Basic {basic}").as_str()))
                .respond_with(athena_json(200, &token_reply)),
        );
        mount_reference(&fake);
        mount_open_pages(&fake, athena_json(200, &fixture("open-page-2")));
        let grant = Grant::ClientSecret {
            client_id: "desk-client".into(),
            token_url: athena::token_url(&fake.uri()),
            scope: DEFAULT_SCOPE.into(),
            secret: "desk-secret".into(),
        };
        let tokens = TokenManager::new("Main Street athenahealth", FhirHttp::default_agent(), grant).unwrap();
        let http = FhirHttp::new(FhirHttp::default_agent(), "Main Street athenahealth", Box::new(tokens));
        let read = AthenaConnector::new(settings(&fake.uri()), http).unwrap().availability(window()).unwrap();
        assert_eq!(read.slots.len(), 3, "{token_reply}");
        let token_requests = requests_to(&fake, "/oauth2/v1/token");
        assert_eq!(token_requests.len(), 1, "the token is cached for the whole read");
        let form = form_of(&token_requests[0]);
        assert!(form.contains(&("grant_type".into(), "client_credentials".into())), "{form:?}");
        assert!(form.contains(&("scope".into(), "athena/service/Athenanet.MDP.*".into())), "{form:?}");
        assert!(!form.iter().any(|(k, _)| k == "client_secret"), "the secret goes in the Basic header only");
        for r in fake.requests().iter().filter(|r| r.url.path().starts_with("/v1/")) {
            assert_eq!(r.headers.get("authorization").unwrap().to_str().unwrap(), "Bearer synthetic-athena-access-token-1", "{}", r.url);
        }
    }
}

#[test]
fn a_429_waits_what_retry_after_says() {
    let fake = Fake::start();
    mount_reference(&fake);
    fake.mount(
        Mock::given(method("GET"))
            .and(path(open_path()))
            .respond_with(athena_json(429, &fixture("rate-limited-429")).insert_header("Retry-After", "2"))
            .up_to_n_times(1)
            .with_priority(1),
    );
    mount_open_pages(&fake, athena_json(200, &fixture("open-page-2")));
    let sleeps: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let read = AthenaConnector::new(settings(&fake.uri()), http(sleeps.clone())).unwrap().availability(window()).unwrap();
    assert!(read.complete);
    assert_eq!(read.slots.len(), 3);
    assert_eq!(*sleeps.lock().unwrap(), [Duration::from_secs(2)]);
    assert_eq!(requests_to(&fake, &open_path()).len(), 3, "the throttled request, its retry, page 2");
}

#[test]
fn athenahealths_error_body_reaches_staff_in_plain_words() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path(format!("{PRACTICE}/departments/1")))
            .respond_with(athena_json(400, &json!({"error": "Invalid practice.", "detailedmessage": "The practice ID 195900 is not available to this application."}))),
    );
    let err = connector(&fake).availability(window()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Main Street athenahealth answered with an error (HTTP 400): Invalid practice. (The practice ID 195900 is not available to this application.)"
    );
}

/// A one-page open list for 4 March (the booking re-read).
fn mount_reread(fake: &Fake, appointments: Vec<Value>) {
    let n = appointments.len();
    fake.mount(
        Mock::given(method("GET"))
            .and(path(open_path()))
            .and(query_param("startdate", "03/04/2026"))
            .and(query_param("enddate", "03/04/2026"))
            .and(query_param("reasonid", "563"))
            .and(query_param("providerid", "71"))
            .and(query_param("departmentid", "1"))
            .respond_with(athena_json(200, &json!({"totalcount": n, "appointments": appointments}))),
    );
}

fn page_one_rows() -> Vec<Value> {
    fixture("open-page-1")["appointments"].as_array().unwrap().clone()
}

fn slot_659571() -> SlotToBook {
    SlotToBook {
        external_id: "659571".into(),
        span: Interval::new(t("2026-03-04T15:00:00Z"), t("2026-03-04T15:30:00Z")).unwrap(),
        provider_ref: Some("71".into()),
        location_ref: Some("1".into()),
        booking: json!({"appointmentid": "659571", "departmentid": "1", "date": "03/04/2026", "providerid": "71", "appointmenttypeid": "42", "reasonid": "563"}),
    }
}

fn book_path() -> String {
    format!("{PRACTICE}/appointments/659571")
}

#[test]
fn booking_rereads_then_puts_a_form() {
    let fake = Fake::start();
    mount_reference(&fake);
    mount_reread(&fake, page_one_rows());
    fake.mount(Mock::given(method("PUT")).and(path(book_path())).respond_with(athena_json(200, &fixture("book-reply"))));
    let booked = connector(&fake).book(&slot_659571(), "4242").unwrap();
    assert_eq!((booked.appointment_id.as_str(), booked.status.as_str()), ("659571", "booked"));
    let puts = requests_to(&fake, &book_path());
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].headers.get("content-type").unwrap().to_str().unwrap(), "application/x-www-form-urlencoded");
    assert_eq!(
        form_of(&puts[0]),
        [("patientid".to_string(), "4242".to_string()), ("reasonid".to_string(), "563".to_string()), ("departmentid".to_string(), "1".to_string())]
    );
}

#[test]
fn a_slot_gone_from_the_open_list_is_taken_and_not_booked() {
    let fake = Fake::start();
    mount_reference(&fake);
    let others: Vec<Value> = page_one_rows().into_iter().filter(|r| r["appointmentid"] != "659571").collect();
    mount_reread(&fake, others);
    fake.mount(Mock::given(method("PUT")).respond_with(athena_json(200, &fixture("book-reply"))));
    let err = connector(&fake).book(&slot_659571(), "4242").unwrap_err();
    assert!(matches!(err, ConnectorError::SlotTaken { .. }), "{err:?}");
    assert_eq!(err.to_string(), "This time is no longer available in Main Street athenahealth: someone else booked it. Pick another time.");
    assert!(requests_to(&fake, &book_path()).is_empty(), "nothing was sent to book");
}

#[test]
fn a_409_on_booking_is_taken_and_a_moved_slot_is_changed() {
    let fake = Fake::start();
    mount_reference(&fake);
    mount_reread(&fake, page_one_rows());
    fake.mount(Mock::given(method("PUT")).and(path(book_path())).respond_with(athena_json(409, &fixture("error-taken"))));
    let err = connector(&fake).book(&slot_659571(), "4242").unwrap_err();
    assert!(matches!(err, ConnectorError::SlotTaken { .. }), "{err:?}");

    // The cache says 14:45; athenahealth lists 659571 at 10:00 New York (15:00Z) now.
    let mut moved = slot_659571();
    moved.span = Interval::new(t("2026-03-04T14:45:00Z"), t("2026-03-04T15:15:00Z")).unwrap();
    let err = connector(&fake).book(&moved, "4242").unwrap_err();
    assert!(matches!(err, ConnectorError::SlotChanged { .. }), "{err:?}");
}

#[test]
fn a_garbled_booking_reply_is_booking_unknown() {
    let fake = Fake::start();
    mount_reference(&fake);
    mount_reread(&fake, page_one_rows());
    fake.mount(Mock::given(method("PUT")).and(path(book_path())).respond_with(ResponseTemplate::new(200).set_body_raw(r#"[{"date":"03/04/2026","appointmentid":"6595"#, "application/json")));
    let err = connector(&fake).book(&slot_659571(), "4242").unwrap_err();
    assert!(matches!(err, ConnectorError::BookingUnknown { .. }), "{err:?}");
    assert!(err.to_string().contains("Check in Main Street athenahealth before offering this time to anyone else"), "{err}");
    assert!(!err.to_string().contains("4242"), "no patient id in messages: {err}");

    // A refusal in athenahealth's words is certain, and shown as such.
    let fake = Fake::start();
    mount_reference(&fake);
    mount_reread(&fake, page_one_rows());
    fake.mount(Mock::given(method("PUT")).and(path(book_path())).respond_with(athena_json(400, &json!({"error": "The patient is not registered in this department."}))));
    let err = connector(&fake).book(&slot_659571(), "4242").unwrap_err();
    assert_eq!(err.to_string(), "Main Street athenahealth answered with an error (HTTP 400): The patient is not registered in this department.");
}

#[test]
fn cancelling_reads_the_patient_then_puts_the_cancel_form() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path(book_path())).respond_with(athena_json(200, &fixture("book-reply"))));
    fake.mount(Mock::given(method("PUT")).and(path(format!("{}/cancel", book_path()))).respond_with(athena_json(200, &fixture("cancel-reply"))));
    connector(&fake).cancel("659571").unwrap();
    let puts = requests_to(&fake, &format!("{}/cancel", book_path()));
    assert_eq!(puts.len(), 1);
    assert_eq!(
        form_of(&puts[0]),
        [("patientid".to_string(), "4242".to_string()), ("cancellationreason".to_string(), athena::CANCELLATION_REASON.to_string())]
    );

    // An open slot has no patient: nothing to cancel, and nothing is sent.
    let fake = Fake::start();
    let open = json!([{"appointmentid": "659568", "appointmentstatus": "o", "date": "03/04/2026", "starttime": "09:15", "departmentid": "1"}]);
    fake.mount(Mock::given(method("GET")).and(path(format!("{PRACTICE}/appointments/659568"))).respond_with(athena_json(200, &open)));
    let err = connector(&fake).cancel("659568").unwrap_err();
    assert!(matches!(err, ConnectorError::Unsupported(_)), "{err:?}");
    assert_eq!(err.to_string(), "athenahealth shows no patient on appointment 659568, so MedHarmony Desk does not know whose visit to cancel; cancel it in athenaOne.");
    assert!(fake.requests().iter().all(|r| r.method.as_str() == "GET"));
}

#[test]
fn the_changed_feed_subscribes_once_then_maps_statuses() {
    let fake = Fake::start();
    mount_reference(&fake);
    let sub = format!("{PRACTICE}/appointments/changed/subscription");
    fake.mount(Mock::given(method("POST")).and(path(sub.as_str())).respond_with(athena_json(200, &fixture("subscription"))));
    let mut changed = fixture("changed");
    // A change in a department this desk does not read is left out.
    let mut elsewhere = changed["appointments"][1].clone();
    elsewhere["departmentid"] = json!("9");
    elsewhere["appointmentid"] = json!("770001");
    changed["appointments"].as_array_mut().unwrap().push(elsewhere);
    changed["totalcount"] = json!(4);
    fake.mount(
        Mock::given(method("GET"))
            .and(path(format!("{PRACTICE}/appointments/changed")))
            .and(query_param("departmentid", "1"))
            .and(query_param("providerid", "71"))
            .and(query_param("limit", "3"))
            .respond_with(athena_json(200, &changed)),
    );
    let mut c = connector(&fake);
    let batch = c.changes_since(None, now()).unwrap().unwrap();
    assert!(batch.complete);
    assert_eq!(batch.cursor, "athena-changed-v1;polled=2026-03-01T12:00:00Z");
    let got: Vec<(String, SlotStatus, String, String)> =
        batch.slots.iter().map(|s| (s.external_id.clone(), s.status, s.span.start.to_rfc3339(), s.provider.clone())).collect();
    assert_eq!(
        got,
        [
            ("659571".into(), SlotStatus::Busy, "2026-03-04T15:00:00+00:00".into(), "Dr. Ana Rivera".into()),
            ("659602".into(), SlotStatus::Free, "2026-03-05T16:00:00+00:00".into(), "Dr. Ana Rivera".into()),
            ("659700".into(), SlotStatus::Free, "2026-03-06T19:30:00+00:00".into(), "Dr. Ana Rivera".into()),
        ]
    );
    let text = serde_json::to_string(&batch).unwrap();
    assert!(!text.contains("4242") && !text.contains("5151") && !text.contains("patient"), "no patient data in the batch: {text}");
    let subs = requests_to(&fake, &sub);
    assert_eq!(subs.len(), 1);
    assert_eq!(form_of(&subs[0]), [("departmentids".to_string(), "1".to_string())]);

    // With a cursor there is no new subscription.
    let again = c.changes_since(Some(&batch.cursor), now() + chrono::Duration::minutes(5)).unwrap().unwrap();
    assert_eq!(again.cursor, "athena-changed-v1;polled=2026-03-01T12:05:00Z");
    assert_eq!(requests_to(&fake, &sub).len(), 1);
}

#[test]
fn a_lost_subscription_is_renewed_and_the_batch_is_not_complete() {
    let fake = Fake::start();
    let sub = format!("{PRACTICE}/appointments/changed/subscription");
    fake.mount(Mock::given(method("POST")).and(path(sub.as_str())).respond_with(athena_json(200, &fixture("subscription"))));
    fake.mount(Mock::given(method("GET")).and(path(format!("{PRACTICE}/appointments/changed"))).respond_with(athena_json(403, &fixture("error-subscription-required"))));
    let batch = connector(&fake).changes_since(Some("athena-changed-v1;polled=2026-02-28T12:00:00Z"), now()).unwrap().unwrap();
    assert!(!batch.complete, "changes may have been missed while unsubscribed");
    assert!(batch.slots.is_empty());
    assert_eq!(requests_to(&fake, &sub).len(), 1);
}

fn store_with_integration(dir: &tempfile::TempDir, base: &str) -> (Store, medharmony::store::integrations::Integration) {
    let mut store = Store::open(&dir.path().join("desk.db"), &DbKey::Raw([7; 32])).unwrap();
    let integ = store.add_integration(IntegrationKind::Athena, "Main Street athenahealth", &settings(base), now()).unwrap();
    (store, integ)
}

fn cached(store: &Store) -> Vec<(String, Option<String>, String, String, SlotStatus, String)> {
    store
        .published_slots(None, window())
        .unwrap()
        .into_iter()
        .map(|s| (s.provider, s.location, s.span.start.to_rfc3339(), s.span.end.to_rfc3339(), s.status, s.source))
        .collect()
}

#[test]
fn the_read_applied_to_a_store_gives_the_slot_rows_and_books_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    mount_reference(&fake);
    mount_open_pages(&fake, athena_json(200, &fixture("open-page-2")));
    let (mut store, integ) = store_with_integration(&dir, &fake.uri());
    let read = connector(&fake).availability(window()).unwrap();
    let outcome = store.apply_window(&integ, window(), &read, now()).unwrap();
    assert_eq!((outcome.inserted, outcome.updated, outcome.removed), (3, 0, 0));
    let src = "Main Street athenahealth".to_string();
    let clinic = Some("Main Street Clinic".to_string());
    let ana = "Dr. Ana Rivera".to_string();
    assert_eq!(
        cached(&store),
        [
            (ana.clone(), clinic.clone(), "2026-03-04T14:15:00+00:00".into(), "2026-03-04T14:30:00+00:00".into(), SlotStatus::Free, src.clone()),
            (ana.clone(), clinic.clone(), "2026-03-04T15:00:00+00:00".into(), "2026-03-04T15:30:00+00:00".into(), SlotStatus::Free, src.clone()),
            (ana.clone(), clinic.clone(), "2026-03-08T13:00:00+00:00".into(), "2026-03-08T13:15:00+00:00".into(), SlotStatus::Free, src.clone()),
        ]
    );

    // An incomplete read (page 2 fails) changes nothing.
    let fake2 = Fake::start();
    mount_reference(&fake2);
    mount_open_pages(&fake2, ResponseTemplate::new(503).insert_header("Retry-After", "0"));
    let before = cached(&store);
    let read2 = connector(&fake2).availability(window()).unwrap();
    assert!(!read2.complete);
    let outcome = store.apply_window(&integ, window(), &read2, now()).unwrap();
    assert_eq!((outcome.inserted, outcome.updated, outcome.removed), (0, 0, 0));
    assert_eq!(cached(&store), before);

    // The booking data kept in the store is what the connector books with.
    let id = store.published_slots(None, window()).unwrap().into_iter().find(|s| s.span.start == t("2026-03-04T15:00:00Z")).unwrap().id;
    let to_book = store.slot_for_booking(id).unwrap().unwrap().to_book.unwrap();
    assert_eq!(to_book.external_id, "659571");
    mount_reread(&fake, page_one_rows());
    fake.mount(Mock::given(method("PUT")).and(path(book_path())).respond_with(athena_json(200, &fixture("book-reply"))));
    let booked = connector(&fake).book(&to_book, "4242").unwrap();
    assert_eq!(booked.appointment_id, "659571");

    // The changed feed then marks it busy in the store.
    let changes = {
        let mut c = connector(&fake);
        fake.mount(Mock::given(method("POST")).and(path(format!("{PRACTICE}/appointments/changed/subscription"))).respond_with(athena_json(200, &fixture("subscription"))));
        fake.mount(Mock::given(method("GET")).and(path(format!("{PRACTICE}/appointments/changed"))).respond_with(athena_json(200, &fixture("changed"))));
        c.changes_since(None, now()).unwrap().unwrap()
    };
    store.apply_changes(&integ, &changes.slots, now()).unwrap();
    let after: Vec<(String, SlotStatus)> = cached(&store).into_iter().map(|r| (r.2, r.4)).collect();
    assert_eq!(
        after,
        [
            ("2026-03-04T14:15:00+00:00".to_string(), SlotStatus::Free),
            ("2026-03-04T15:00:00+00:00".to_string(), SlotStatus::Busy),
            ("2026-03-05T16:00:00+00:00".to_string(), SlotStatus::Free),
            ("2026-03-06T19:30:00+00:00".to_string(), SlotStatus::Free),
            ("2026-03-08T13:00:00+00:00".to_string(), SlotStatus::Free),
        ]
    );
}
