//! Google Calendar against HTTP-level fakes (wiremock) with payloads shaped like the Calendar API
//! v3 reference (fixtures/google/): the token refresh with the desktop client's secret, freeBusy
//! request bodies and the open slots they yield, windows split into 90-day queries and 50-calendar
//! groups, a calendar in error (incomplete read, cache kept), events with sync tokens and paging,
//! 410 Gone, booking and cancelling, rate limits; and Google's browser sign-in over the loopback
//! redirect (the test plays the browser and Google's token endpoint).

use medharmony::store::key::MemoryVault as TestVault;
use crate::fake::Fake;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use medharmony::auth::google::{save_sign_in, sign_in, GoogleSignIn, CALENDAR_SCOPE};
use medharmony::auth::{token_source, AuthConfig, AuthError, NoAuth, Secrets};
use medharmony::connector::calendar::CalendarSettings;
use medharmony::connector::google::GoogleCalendarConnector;
use medharmony::connector::http::{FhirHttp, RetryPolicy};
use medharmony::connector::{Connector, ConnectorError, IntegrationKind, IntegrationSettings, SlotToBook};
use medharmony::model::SlotStatus;
use medharmony::store::key::{DbKey, KeyVault};
use medharmony::store::Store;
use medharmony::sync::sync_integration;
use medharmony::time::Interval;
use medharmony_e2e::fixture;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, ResponseTemplate};

const RIVERA: &str = "dr.rivera@example.com";
const CHEN: &str = "dr.chen@example.com";
const FREEBUSY: &str = "/calendar/v3/freeBusy";
const RIVERA_EVENTS: &str = "/calendar/v3/calendars/dr.rivera@example.com/events";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn span(a: &str, b: &str) -> Interval {
    Interval::new(t(a), t(b)).unwrap()
}

fn google(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("google/{name}"))).unwrap()).unwrap()
}

fn google_json(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(google(name).to_string(), "application/json; charset=UTF-8")
}

fn google_error(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(google(name).to_string(), "application/json; charset=UTF-8")
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

fn calendar(id: &str, provider: &str, tz: &str, hours: &str) -> CalendarSettings {
    CalendarSettings { id: id.into(), provider: provider.into(), tz: Some(tz.into()), hours: hours.into(), slot_minutes: 30, location: None }
}

/// Dr. Rivera (New York, Tuesdays 09:00–11:00) and Dr. Chen (Chicago, Tuesdays 10:00–12:00).
fn settings(fake: &Fake) -> IntegrationSettings {
    let mut s = IntegrationSettings::new(&format!("{}/calendar/v3", fake.uri()), "America/New_York", AuthConfig::None);
    s.calendars = vec![
        calendar(RIVERA, "Dr. Rivera", "America/New_York", "Tue 09:00-11:00"),
        calendar(CHEN, "Dr. Chen", "America/Chicago", "Tue 10:00-12:00"),
    ];
    s
}

fn http(sleeps: Arc<Mutex<Vec<Duration>>>) -> FhirHttp {
    FhirHttp::new(FhirHttp::default_agent(), "Google Calendar", Box::new(NoAuth))
        .with_sleeper(move |d| sleeps.lock().unwrap().push(d))
        .with_policy(RetryPolicy { attempts: 3, base: Duration::from_millis(10), cap: Duration::from_secs(5) })
}

fn connector(_fake: &Fake, s: IntegrationSettings) -> GoogleCalendarConnector {
    GoogleCalendarConnector::new(s, http(Arc::default())).unwrap()
}

fn rivera_only(fake: &Fake) -> IntegrationSettings {
    let mut s = settings(fake);
    s.calendars.truncate(1);
    s
}

fn requests_to(fake: &Fake, p: &str) -> Vec<Request> {
    fake.requests().into_iter().filter(|r| r.url.path() == p).collect()
}

/// The open slots of a read as (calendar#start, status).
fn ids(slots: &[medharmony::connector::RemoteSlot]) -> Vec<(String, SlotStatus)> {
    slots.iter().map(|s| (s.external_id.clone(), s.status)).collect()
}

#[test]
fn freebusy_is_asked_for_the_window_and_busy_time_is_cut_out_of_the_working_hours() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(google_json("freebusy_two_calendars.json")));
    let mut c = connector(&fake, settings(&fake));
    let read = c.availability(span("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z")).unwrap();

    let sent = requests_to(&fake, FREEBUSY);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        body(&sent[0]),
        json!({"timeMin": "2026-03-03T00:00:00Z", "timeMax": "2026-03-04T00:00:00Z", "calendarExpansionMax": 2,
               "items": [{"id": RIVERA}, {"id": CHEN}]})
    );
    assert_eq!(sent[0].headers.get("content-type").unwrap().to_str().unwrap(), "application/json");

    assert!(read.complete, "{:?}", read.incomplete_reason);
    // Rivera: 09:00–11:00 New York = 14:00–16:00Z; busy 14:30–15:00Z and 15:40–15:50Z.
    // Chen: 10:00–12:00 Chicago = 16:00–18:00Z; busy 16:00–17:00Z.
    assert_eq!(
        ids(&read.slots),
        vec![
            ("dr.rivera@example.com#20260303T140000Z".to_string(), SlotStatus::Free),
            ("dr.rivera@example.com#20260303T150000Z".to_string(), SlotStatus::Free),
            ("dr.chen@example.com#20260303T170000Z".to_string(), SlotStatus::Free),
            ("dr.chen@example.com#20260303T173000Z".to_string(), SlotStatus::Free),
        ]
    );
    let first = &read.slots[0];
    assert_eq!(first.span, span("2026-03-03T14:00:00Z", "2026-03-03T14:30:00Z"));
    assert_eq!(first.provider, "Dr. Rivera");
    assert_eq!(first.booking, json!({"calendar": RIVERA}));
}

/// Answers every freeBusy query with no busy time for each calendar asked for, echoing the span.
fn echo_free(request: &Request) -> ResponseTemplate {
    let b = body(request);
    let calendars: serde_json::Map<String, Value> =
        b["items"].as_array().unwrap().iter().map(|i| (i["id"].as_str().unwrap().to_string(), json!({"busy": []}))).collect();
    ResponseTemplate::new(200)
        .set_body_json(json!({"kind": "calendar#freeBusy", "timeMin": b["timeMin"], "timeMax": b["timeMax"], "calendars": calendars}))
}

#[test]
fn a_window_longer_than_90_days_and_more_than_50_calendars_are_split_into_queries() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(echo_free));
    let mut c = connector(&fake, rivera_only(&fake));
    // 1 March to 1 July 2026: 122 days = 90 + 32.
    let read = c.availability(span("2026-03-01T00:00:00Z", "2026-07-01T00:00:00Z")).unwrap();
    assert!(read.complete);
    let spans: Vec<(Value, Value)> = requests_to(&fake, FREEBUSY).iter().map(|r| (body(r)["timeMin"].clone(), body(r)["timeMax"].clone())).collect();
    assert_eq!(
        spans,
        vec![(json!("2026-03-01T00:00:00Z"), json!("2026-05-30T00:00:00Z")), (json!("2026-05-30T00:00:00Z"), json!("2026-07-01T00:00:00Z"))]
    );
    // 18 Tuesdays × 4 cells; the slots of both queries are there, across the split.
    assert_eq!(read.slots.len(), 18 * 4);
    assert!(read.slots.iter().any(|s| s.external_id == "dr.rivera@example.com#20260526T130000Z"));
    assert!(read.slots.iter().any(|s| s.external_id == "dr.rivera@example.com#20260630T130000Z"));

    fake.reset();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(echo_free));
    let mut s = rivera_only(&fake);
    s.calendars = (0..51).map(|i| calendar(&format!("room{i:02}@example.com"), &format!("Room {i}"), "UTC", "Tue 09:00-10:00")).collect();
    let mut c = connector(&fake, s);
    let read = c.availability(span("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z")).unwrap();
    assert!(read.complete);
    let sizes: Vec<usize> = requests_to(&fake, FREEBUSY).iter().map(|r| body(r)["items"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, vec![50, 1]);
    assert_eq!(body(&requests_to(&fake, FREEBUSY)[1])["items"], json!([{"id": "room50@example.com"}]));
    assert_eq!(read.slots.len(), 51 * 2);
}

#[test]
fn a_calendar_in_error_makes_the_read_incomplete_naming_the_provider_and_the_cache_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(google_json("freebusy_two_calendars.json")));
    let mut store = Store::open(&dir.path().join("desk.db"), &DbKey::Raw([7; 32])).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap();
    let integ = store.add_integration(IntegrationKind::GoogleCalendar, "Google Calendar", &settings(&fake), now).unwrap();
    let window = span("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z");
    let report = sync_integration(&mut store, &integ, &mut connector(&fake, settings(&fake)), window, now).unwrap();
    assert_eq!((report.added, report.removed, report.complete), (4, 0, true));
    let before = store.published_slots(None, window).unwrap().iter().map(|s| (s.provider.clone(), s.span)).collect::<Vec<_>>();
    assert_eq!(before.len(), 4);

    fake.reset();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(google_json("freebusy_one_calendar_in_error.json")));
    let mut c = connector(&fake, settings(&fake));
    let read = c.availability(window).unwrap();
    assert!(!read.complete);
    assert_eq!(
        read.incomplete_reason.as_deref(),
        Some(
            "Google Calendar could not give the busy time of Dr. Chen's calendar (dr.chen@example.com): \
             the calendar was not found or is not shared with the signed-in Google account"
        )
    );
    let report = sync_integration(&mut store, &integ, &mut c, window, now).unwrap();
    assert!(!report.complete && !report.failed);
    assert_eq!((report.added, report.changed, report.removed), (0, 0, 0));
    let after = store.published_slots(None, window).unwrap().iter().map(|s| (s.provider.clone(), s.span)).collect::<Vec<_>>();
    assert_eq!(after, before);
    assert!(report.problem.unwrap().contains("Dr. Chen's calendar"));
}

#[test]
fn a_calendar_left_out_of_the_reply_or_a_later_query_failing_is_incomplete() {
    let fake = Fake::start();
    // The reply names only Rivera.
    fake.mount(
        Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"kind": "calendar#freeBusy", "calendars": {RIVERA: {"busy": []}}})),
        ),
    );
    let read = connector(&fake, settings(&fake)).availability(span("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z")).unwrap();
    assert!(!read.complete);
    assert_eq!(read.incomplete_reason.as_deref(), Some("Google Calendar's reply left out Dr. Chen's calendar (dr.chen@example.com)"));

    // First 90-day query fine, the second one fails with a Google 500.
    fake.reset();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(move |r: &Request| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            echo_free(r)
        } else {
            ResponseTemplate::new(400).set_body_json(json!({"error": {"code": 400, "message": "Bad Request",
                "errors": [{"domain": "global", "reason": "badRequest", "message": "Bad Request"}]}}))
        }
    }));
    let read = connector(&fake, rivera_only(&fake)).availability(span("2026-03-01T00:00:00Z", "2026-07-01T00:00:00Z")).unwrap();
    assert!(!read.complete);
    let reason = read.incomplete_reason.unwrap();
    assert!(reason.starts_with("the busy time from 2026-05-30T00:00:00Z on could not be read (Google Calendar answered with an error (HTTP 400)"), "{reason}");

    // The very first query failing is an error: nothing could be read.
    fake.reset();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(google_error(403, "error_forbidden.json")));
    let err = connector(&fake, settings(&fake)).availability(span("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Google Calendar answered with an error (HTTP 403): the signed-in Google account is not allowed to do this on that calendar \
         (Google said: Forbidden)"
    );
    assert_eq!(requests_to(&fake, FREEBUSY).len(), 1, "a 403 that is not a rate limit is not retried");
}

#[test]
fn a_rate_limit_403_is_retried_with_backoff() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(google_error(403, "error_rate_limit.json")).up_to_n_times(2).with_priority(1));
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(google_json("freebusy_two_calendars.json")).with_priority(2));
    let sleeps = Arc::new(Mutex::new(Vec::new()));
    let mut c = GoogleCalendarConnector::new(settings(&fake), http(sleeps.clone())).unwrap();
    let read = c.availability(span("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z")).unwrap();
    assert!(read.complete);
    assert_eq!(read.slots.len(), 4);
    assert_eq!(requests_to(&fake, FREEBUSY).len(), 3);
    let waits = sleeps.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(waits[0] <= Duration::from_millis(10) && waits[1] <= Duration::from_millis(20), "{waits:?}");

    // Still limited after every try: a plain error, not a silent empty read.
    fake.reset();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(google_error(429, "error_rate_limit.json")));
    let err = GoogleCalendarConnector::new(settings(&fake), http(Arc::default()))
        .unwrap()
        .availability(span("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Google Calendar answered with an error (HTTP 429): the server asked us to slow down and kept refusing \
         (Google asked MedHarmony Desk to slow down (Google said: Rate Limit Exceeded))"
    );
    assert_eq!(requests_to(&fake, FREEBUSY).len(), 3);
}

fn now_march_4() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

#[test]
fn changes_follow_sync_tokens_across_pages_and_recompute_the_changed_days() {
    let fake = Fake::start();
    // Initial listing: two pages, the second with the sync token.
    fake.mount(
        Mock::given(method("GET"))
            .and(path(RIVERA_EVENTS))
            .and(query_param("pageToken", "CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA"))
            .respond_with(google_json("events_initial_page2.json"))
            .with_priority(1),
    );
    fake.mount(
        Mock::given(method("GET"))
            .and(path(RIVERA_EVENTS))
            .and(query_param("syncToken", "CPDAlvWDx70CEPDAlvWDx70CGAU="))
            .respond_with(google_json("events_incremental.json"))
            .with_priority(1),
    );
    fake.mount(Mock::given(method("GET")).and(path(RIVERA_EVENTS)).respond_with(google_json("events_initial_page1.json")).with_priority(2));
    // The recomputation: the new event on 10 March is busy; the deleted one on 17 March no longer is.
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(
        ResponseTemplate::new(200).set_body_json(json!({"kind": "calendar#freeBusy", "calendars": {RIVERA: {"busy": [
            {"start": "2026-03-10T14:00:00Z", "end": "2026-03-10T15:00:00Z"}
        ]}}})),
    ));
    let mut c = connector(&fake, rivera_only(&fake));

    let first = c.changes_since(None, now_march_4()).unwrap().unwrap();
    assert_eq!(first.cursor, r#"{"dr.rivera@example.com":"CPDAlvWDx70CEPDAlvWDx70CGAU="}"#);
    assert!(first.complete && first.slots.is_empty());
    let listed = requests_to(&fake, RIVERA_EVENTS);
    assert_eq!(listed.len(), 2);
    assert_eq!(query(&listed[0]), HashMap::from([("maxResults".into(), "100".into()), ("timeMin".into(), "2026-03-04T12:00:00Z".into())]));
    assert_eq!(
        query(&listed[1]),
        HashMap::from([
            ("maxResults".into(), "100".into()),
            ("timeMin".into(), "2026-03-04T12:00:00Z".into()),
            ("pageToken".into(), "CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA".into())
        ])
    );
    assert!(requests_to(&fake, FREEBUSY).is_empty(), "an initial listing reports nothing");

    let second = c.changes_since(Some(&first.cursor), now_march_4()).unwrap().unwrap();
    let listed = requests_to(&fake, RIVERA_EVENTS);
    assert_eq!(listed.len(), 3);
    assert_eq!(query(&listed[2]), HashMap::from([("maxResults".into(), "100".into()), ("syncToken".into(), "CPDAlvWDx70CEPDAlvWDx70CGAU=".into())]));
    assert_eq!(second.cursor, r#"{"dr.rivera@example.com":"CKCbrNqDx70CEKCbrNqDx70CGAU="}"#);
    assert!(second.complete);
    // 10 and 17 March in New York (UTC−4 after 8 March): from 10 March 00:00 to 18 March 00:00 local.
    let asked = requests_to(&fake, FREEBUSY);
    assert_eq!(asked.len(), 1);
    assert_eq!(
        body(&asked[0]),
        json!({"timeMin": "2026-03-10T04:00:00Z", "timeMax": "2026-03-18T04:00:00Z", "calendarExpansionMax": 1, "items": [{"id": RIVERA}]})
    );
    // Every cell of the span: free ones free, the covered ones busy (so an upsert removes them from the free list).
    assert_eq!(
        ids(&second.slots),
        vec![
            ("dr.rivera@example.com#20260310T130000Z".into(), SlotStatus::Free),
            ("dr.rivera@example.com#20260310T133000Z".into(), SlotStatus::Free),
            ("dr.rivera@example.com#20260310T140000Z".into(), SlotStatus::Busy),
            ("dr.rivera@example.com#20260310T143000Z".into(), SlotStatus::Busy),
            ("dr.rivera@example.com#20260317T130000Z".into(), SlotStatus::Free),
            ("dr.rivera@example.com#20260317T133000Z".into(), SlotStatus::Free),
            ("dr.rivera@example.com#20260317T140000Z".into(), SlotStatus::Free),
            ("dr.rivera@example.com#20260317T143000Z".into(), SlotStatus::Free),
        ]
    );
}

#[test]
fn an_expired_sync_token_gets_a_new_one_and_asks_for_a_full_read() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path(RIVERA_EVENTS))
            .and(query_param("syncToken", "CPDAlvWDx70C-expired"))
            .respond_with(google_error(410, "error_sync_token_gone.json"))
            .with_priority(1),
    );
    fake.mount(Mock::given(method("GET")).and(path(RIVERA_EVENTS)).respond_with(google_json("events_initial_page2.json")).with_priority(2));
    let mut c = connector(&fake, rivera_only(&fake));
    let batch = c.changes_since(Some(r#"{"dr.rivera@example.com":"CPDAlvWDx70C-expired"}"#), now_march_4()).unwrap().unwrap();
    assert!(!batch.complete, "the caller must run a full window read");
    assert!(batch.slots.is_empty());
    assert_eq!(batch.cursor, r#"{"dr.rivera@example.com":"CPDAlvWDx70CEPDAlvWDx70CGAU="}"#);
    let listed = requests_to(&fake, RIVERA_EVENTS);
    assert_eq!(listed.len(), 2);
    assert_eq!(query(&listed[1]), HashMap::from([("maxResults".into(), "100".into()), ("timeMin".into(), "2026-03-04T12:00:00Z".into())]));
    assert!(requests_to(&fake, FREEBUSY).is_empty());

    // A deleted event listed with its id only cannot be placed: a full read too.
    fake.reset();
    fake.mount(Mock::given(method("GET")).and(path(RIVERA_EVENTS)).respond_with(ResponseTemplate::new(200).set_body_json(json!({
        "kind": "calendar#events", "nextSyncToken": "CKCbrNqDx70C-next",
        "items": [{"kind": "calendar#event", "etag": "\"1\"", "id": "1b3d5f7h9j1l3n5p7r9t1v3b5d", "status": "cancelled"}]
    }))));
    let batch = connector(&fake, rivera_only(&fake)).changes_since(Some(r#"{"dr.rivera@example.com":"CPDAlvWDx70C"}"#), now_march_4()).unwrap().unwrap();
    assert!(!batch.complete);
    assert_eq!(batch.cursor, r#"{"dr.rivera@example.com":"CKCbrNqDx70C-next"}"#);
}

fn slot_to_book(start: &str, end: &str) -> SlotToBook {
    let s = span(start, end);
    SlotToBook {
        external_id: format!("{RIVERA}#{}", s.start.format("%Y%m%dT%H%M%SZ")),
        span: s,
        provider_ref: None,
        location_ref: None,
        booking: json!({"calendar": RIVERA}),
    }
}

#[test]
fn booking_rechecks_the_span_then_inserts_an_event_without_patient_details_and_cancel_deletes_it() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(echo_free));
    fake.mount(Mock::given(method("POST")).and(path(RIVERA_EVENTS)).respond_with(google_json("event_inserted.json")));
    fake.mount(
        Mock::given(method("DELETE"))
            .and(path("/calendar/v3/calendars/dr.rivera@example.com/events/9v1nc3k0q2bq4a1t2rq7h8t0mo"))
            .respond_with(ResponseTemplate::new(204)),
    );
    let mut c = connector(&fake, settings(&fake));
    let slot = slot_to_book("2026-03-03T14:00:00Z", "2026-03-03T14:30:00Z");
    let booked = c.book(&slot, "pat-42").unwrap();
    assert_eq!(booked.appointment_id, "calendars/dr.rivera@example.com/events/9v1nc3k0q2bq4a1t2rq7h8t0mo");
    assert_eq!(booked.status, "booked");

    let check = requests_to(&fake, FREEBUSY);
    assert_eq!(
        body(&check[0]),
        json!({"timeMin": "2026-03-03T14:00:00Z", "timeMax": "2026-03-03T14:30:00Z", "calendarExpansionMax": 1, "items": [{"id": RIVERA}]})
    );
    let insert = requests_to(&fake, RIVERA_EVENTS);
    assert_eq!(insert.len(), 1);
    let sent = body(&insert[0]);
    assert_eq!(sent["summary"], "Booked by MedHarmony Desk");
    assert_eq!(sent["start"], json!({"dateTime": "2026-03-03T09:00:00-05:00", "timeZone": "America/New_York"}));
    assert_eq!(sent["end"], json!({"dateTime": "2026-03-03T09:30:00-05:00", "timeZone": "America/New_York"}));
    assert_eq!(sent["extendedProperties"]["private"]["medharmonyPatientId"], "pat-42");
    assert!(sent["description"].as_str().unwrap().starts_with("Reference MHD-"));
    let mut visible = sent.clone();
    visible.as_object_mut().unwrap().remove("extendedProperties");
    assert!(!visible.to_string().contains("pat-42"), "the patient id is only in the private properties: {visible}");
    assert_eq!(insert[0].headers.get("content-type").unwrap().to_str().unwrap(), "application/json");

    c.cancel(&booked.appointment_id).unwrap();
    assert_eq!(fake.requests().iter().filter(|r| r.method.as_str() == "DELETE").count(), 1);
    // Already deleted at Google (410): the cancellation stands.
    fake.reset();
    fake.mount(Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(410).set_body_json(json!({"error": {"code": 410,
        "message": "Resource has been deleted", "errors": [{"domain": "global", "reason": "deleted", "message": "Resource has been deleted"}]}}))));
    c.cancel(&booked.appointment_id).unwrap();
    assert!(matches!(c.cancel("Appointment/123"), Err(ConnectorError::Unsupported(_))));
}

#[test]
fn a_slot_busy_at_google_is_taken_and_nothing_is_inserted() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(
        ResponseTemplate::new(200).set_body_json(json!({"kind": "calendar#freeBusy", "calendars": {RIVERA: {"busy": [
            {"start": "2026-03-03T14:20:00Z", "end": "2026-03-03T14:40:00Z"}
        ]}}})),
    ));
    fake.mount(Mock::given(method("POST")).and(path(RIVERA_EVENTS)).respond_with(google_json("event_inserted.json")));
    let mut c = connector(&fake, settings(&fake));
    let err = c.book(&slot_to_book("2026-03-03T14:00:00Z", "2026-03-03T14:30:00Z"), "pat-42").unwrap_err();
    assert!(matches!(err, ConnectorError::SlotTaken { .. }), "{err:?}");
    assert_eq!(err.to_string(), "This time is no longer available in Google Calendar: someone else booked it. Pick another time.");
    assert!(requests_to(&fake, RIVERA_EVENTS).is_empty());

    // A time that is no longer a working-hours cell (hours edited since the sync) has changed.
    let err = c.book(&slot_to_book("2026-03-03T14:10:00Z", "2026-03-03T14:40:00Z"), "pat-42").unwrap_err();
    assert!(matches!(err, ConnectorError::SlotChanged { .. }), "{err:?}");

    // The insert's answer is lost: the booking's fate is unknown.
    fake.reset();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(echo_free));
    fake.mount(Mock::given(method("POST")).and(path(RIVERA_EVENTS)).respond_with(ResponseTemplate::new(200).set_body_raw("{\"kind\": \"calendar#ev", "application/json")));
    let err = c.book(&slot_to_book("2026-03-03T14:00:00Z", "2026-03-03T14:30:00Z"), "pat-42").unwrap_err();
    assert!(matches!(err, ConnectorError::BookingUnknown { .. }), "{err:?}");
}

#[test]
fn bad_calendar_settings_are_refused_in_plain_words() {
    let fake = Fake::start();
    let mut s = settings(&fake);
    s.calendars[1].hours = "Someday".into();
    let err = GoogleCalendarConnector::new(s, http(Arc::default())).unwrap_err();
    assert!(err.to_string().starts_with("Google Calendar calendar settings: Dr. Chen: working hours 'Someday'"), "{err}");
    let mut s = settings(&fake);
    s.calendars.clear();
    let err = GoogleCalendarConnector::new(s, http(Arc::default())).unwrap_err();
    assert_eq!(err.to_string(), "This Google Calendar connection lists no calendar: add each provider's calendar with its working hours.");
    let mut s = settings(&fake);
    s.calendars[1].id = RIVERA.into();
    assert!(GoogleCalendarConnector::new(s, http(Arc::default())).unwrap_err().to_string().contains("is listed twice"));
}


const CLIENT_ID: &str = "123456789012-desk.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-test-desktop-secret";

fn installed_app(fake: &Fake) -> AuthConfig {
    AuthConfig::InstalledApp {
        client_id: CLIENT_ID.into(),
        authorize_url: format!("{}/o/oauth2/v2/auth", fake.uri()),
        token_url: format!("{}/token", fake.uri()),
        scope: CALENDAR_SCOPE.into(),
    }
}

#[test]
fn the_refresh_token_is_renewed_with_the_client_secret_and_the_token_reaches_google() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/token")).respond_with(|r: &Request| {
        let f = form(r);
        let expected = HashMap::from([
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".to_string(), "1//0gStoredRefresh".to_string()),
            ("client_id".to_string(), CLIENT_ID.to_string()),
            ("client_secret".to_string(), CLIENT_SECRET.to_string()),
        ]);
        if f == expected && r.headers.get("authorization").is_none() {
            google_json("token_refresh.json")
        } else if f.get("refresh_token").map(String::as_str) == Some("1//0gRevoked") {
            google_error(400, "error_invalid_grant.json")
        } else {
            ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client", "error_description": "Unauthorized"}))
        }
    }));
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(google_json("freebusy_two_calendars.json")));
    let vault = Arc::new(TestVault::default());
    let secrets = Secrets::new(vault.as_ref());
    secrets.store_refresh_token("Google Calendar", "1//0gStoredRefresh").unwrap();
    secrets.store_client_secret("Google Calendar", CLIENT_SECRET).unwrap();

    let tokens = token_source(&installed_app(&fake), "Google Calendar", vault.clone(), ureq::Agent::new()).unwrap();
    let http = FhirHttp::new(FhirHttp::default_agent(), "Google Calendar", tokens);
    let mut c = GoogleCalendarConnector::new(settings(&fake), http).unwrap();
    let read = c.availability(span("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z")).unwrap();
    assert!(read.complete);
    let fb = requests_to(&fake, FREEBUSY);
    assert_eq!(fb[0].headers.get("authorization").unwrap().to_str().unwrap(), "Bearer ya29.a0AfH6SMBx-test-refreshed");
    assert_eq!(requests_to(&fake, "/token").len(), 1);

    // Revoked at Google: staff must reconnect (and the message holds no token).
    secrets.store_refresh_token("Google Calendar", "1//0gRevoked").unwrap();
    let mut source = token_source(&installed_app(&fake), "Google Calendar", vault.clone(), ureq::Agent::new()).unwrap();
    let err = source.bearer(false).unwrap_err();
    assert!(matches!(err, AuthError::NeedsReconnect { .. }), "{err:?}");
    assert_eq!(err.to_string(), "Sign-in to Google Calendar has expired. Reconnect it on the Integrations page.");

    // No refresh token in the keychain: named plainly.
    let empty = Arc::new(TestVault::default());
    let err = token_source(&installed_app(&fake), "Google Calendar", empty, ureq::Agent::new()).err().unwrap();
    assert!(err.to_string().starts_with("The sign-in (refresh token) for Google Calendar is missing"), "{err}");
}

fn s256(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// A fake Google token endpoint for the code exchange; remembers the challenge the "browser" saw.
fn mount_code_exchange(fake: &Fake, challenge: Arc<Mutex<String>>, redirect: Arc<Mutex<String>>) {
    fake.mount(Mock::given(method("POST")).and(path("/token")).respond_with(move |r: &Request| {
        let f = form(r);
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        let ok = get("grant_type") == "authorization_code"
            && get("code") == "4/0AeanS0Test-code"
            && get("client_id") == CLIENT_ID
            && get("client_secret") == CLIENT_SECRET
            && get("redirect_uri") == *redirect.lock().unwrap()
            && s256(&get("code_verifier")) == *challenge.lock().unwrap();
        if ok {
            google_json("token_exchange.json")
        } else {
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant", "error_description": "Bad Request"}))
        }
    }));
}

/// Starts [`sign_in`] on a thread; returns the authorization URL it asked the browser to open.
fn begin_sign_in(fake: &Fake, timeout: Duration) -> (url::Url, std::thread::JoinHandle<Result<medharmony::auth::TokenSet, AuthError>>) {
    let mut req = GoogleSignIn::new("Google Calendar", CLIENT_ID, Some(CLIENT_SECRET));
    req.authorize_url = format!("{}/o/oauth2/v2/auth", fake.uri());
    req.token_url = format!("{}/token", fake.uri());
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        sign_in(&req, |u| tx.send(u.to_string()).unwrap(), &AtomicBool::new(false), timeout, &ureq::Agent::new())
    });
    let url = url::Url::parse(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    (url, waiter)
}

fn browse(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("browser could not load {url}: {e}"),
    }
}

#[test]
fn google_sign_in_over_the_loopback_sends_offline_access_pkce_and_the_client_secret() {
    let fake = Fake::start();
    let challenge = Arc::new(Mutex::new(String::new()));
    let redirect = Arc::new(Mutex::new(String::new()));
    mount_code_exchange(&fake, challenge.clone(), redirect.clone());
    let (url, waiter) = begin_sign_in(&fake, Duration::from_secs(30));

    // The browser's view of the authorization request.
    assert_eq!(url.path(), "/o/oauth2/v2/auth");
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["scope"], "https://www.googleapis.com/auth/calendar.freebusy https://www.googleapis.com/auth/calendar.events");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(URL_SAFE_NO_PAD.decode(&q["code_challenge"]).unwrap().len(), 32);
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:") && q["redirect_uri"].ends_with("/callback"), "{}", q["redirect_uri"]);
    assert!(!q.contains_key("client_secret") && !url.as_str().contains("GOCSPX"));
    *challenge.lock().unwrap() = q["code_challenge"].clone();
    *redirect.lock().unwrap() = q["redirect_uri"].clone();

    // Google redirects back with the code and our state.
    let back = format!("{}?state={}&code=4/0AeanS0Test-code&scope={}", q["redirect_uri"], q["state"], url::form_urlencoded::byte_serialize(CALENDAR_SCOPE.as_bytes()).collect::<String>());
    let (status, page) = browse(&back);
    assert_eq!(status, 200);
    assert!(page.contains("You can return to MedHarmony Desk"), "{page}");
    let tokens = waiter.join().unwrap().unwrap();
    assert_eq!(tokens.access_token, "ya29.a0AfH6SMBx-test-exchange");
    assert_eq!(tokens.refresh_token.as_deref(), Some("1//0gTestRefreshToken-exchange"));
    assert_eq!(requests_to(&fake, "/token").len(), 1);

    // Stored for later: refresh token and client secret in the keychain, settings without secrets.
    let vault = TestVault::default();
    let mut req = GoogleSignIn::new("Google Calendar", CLIENT_ID, Some(CLIENT_SECRET));
    req.token_url = format!("{}/token", fake.uri());
    let cfg = save_sign_in(&vault, "Google Calendar", &req, &tokens).unwrap();
    assert_eq!(vault.get("integration:Google Calendar:refresh-token").unwrap().as_deref(), Some("1//0gTestRefreshToken-exchange"));
    assert_eq!(vault.get("integration:Google Calendar:client-secret").unwrap().as_deref(), Some(CLIENT_SECRET));
    let stored = serde_json::to_string(&cfg).unwrap();
    assert!(stored.contains(r#""method":"installed-app""#) && !stored.contains("GOCSPX") && !stored.contains("1//0g"), "{stored}");
}

#[test]
fn a_google_redirect_with_a_wrong_state_is_refused_and_no_code_is_exchanged() {
    let fake = Fake::start();
    mount_code_exchange(&fake, Arc::default(), Arc::default());
    let (url, waiter) = begin_sign_in(&fake, Duration::from_secs(30));
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let (status, page) = browse(&format!("{}?state=forged-elsewhere&code=4/0AeanS0Test-code", q["redirect_uri"]));
    assert_eq!(status, 400);
    assert!(page.contains("does not belong to MedHarmony Desk's current sign-in"), "{page}");
    let err = waiter.join().unwrap().unwrap_err();
    assert!(matches!(err, AuthError::StateMismatch), "{err:?}");
    assert!(requests_to(&fake, "/token").is_empty());

    // The user declines on Google's consent screen.
    let (url, waiter) = begin_sign_in(&fake, Duration::from_secs(30));
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let (status, _) = browse(&format!("{}?error=access_denied&state={}", q["redirect_uri"], q["state"]));
    assert_eq!(status, 200);
    assert_eq!(waiter.join().unwrap().unwrap_err().to_string(), "Sign-in to Google Calendar was not completed: access was declined");
    assert!(requests_to(&fake, "/token").is_empty());
}

#[test]
fn a_calendar_new_to_the_cursor_or_an_unreadable_cursor_starts_over_and_asks_for_a_full_read() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path(RIVERA_EVENTS)).respond_with(google_json("events_initial_page2.json")));
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/calendar/v3/calendars/dr.chen@example.com/events"))
            .and(query_param("syncToken", "CHEN-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"kind": "calendar#events", "items": [], "nextSyncToken": "CHEN-token-2"}))),
    );
    let mut c = connector(&fake, settings(&fake));
    // Chen was followed; Rivera was added to the connection since.
    let batch = c.changes_since(Some(r#"{"dr.chen@example.com":"CHEN-token"}"#), now_march_4()).unwrap().unwrap();
    assert!(!batch.complete);
    assert_eq!(batch.cursor, r#"{"dr.chen@example.com":"CHEN-token-2","dr.rivera@example.com":"CPDAlvWDx70CEPDAlvWDx70CGAU="}"#);
    assert!(batch.slots.is_empty() && requests_to(&fake, FREEBUSY).is_empty());

    let mut c = connector(&fake, rivera_only(&fake));
    let batch = c.changes_since(Some("2026-03-01T00:00:00Z"), now_march_4()).unwrap().unwrap();
    assert!(!batch.complete);
    assert_eq!(batch.cursor, r#"{"dr.rivera@example.com":"CPDAlvWDx70CEPDAlvWDx70CGAU="}"#);
}

#[test]
fn endless_or_tokenless_event_lists_and_a_failed_recomputation_are_not_trusted() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path(RIVERA_EVENTS)).respond_with(google_json("events_initial_page1.json")));
    let mut c = connector(&fake, rivera_only(&fake)).with_page_cap(3);
    let err = c.changes_since(None, now_march_4()).unwrap_err();
    assert_eq!(err.to_string(), "Google Calendar sent a reply MedHarmony Desk could not read (the event list of Dr. Rivera went on for more than 3 pages)");
    assert_eq!(requests_to(&fake, RIVERA_EVENTS).len(), 3);

    fake.reset();
    fake.mount(Mock::given(method("GET")).and(path(RIVERA_EVENTS)).respond_with(ResponseTemplate::new(200).set_body_json(json!({"kind": "calendar#events", "items": []}))));
    let err = connector(&fake, rivera_only(&fake)).changes_since(None, now_march_4()).unwrap_err();
    assert!(err.to_string().ends_with("(the event list of Dr. Rivera ended without a sync token)"), "{err}");

    // Changes listed, but Google cannot give the busy time for the changed days: keep the new
    // token (the changes are covered by the full read the caller now runs).
    fake.reset();
    fake.mount(Mock::given(method("GET")).and(path(RIVERA_EVENTS)).respond_with(google_json("events_incremental.json")));
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(
        ResponseTemplate::new(200).set_body_json(json!({"kind": "calendar#freeBusy", "calendars": {RIVERA: {"errors": [{"domain": "global", "reason": "internalError"}], "busy": []}}})),
    ));
    let batch = connector(&fake, rivera_only(&fake)).changes_since(Some(r#"{"dr.rivera@example.com":"CPDA"}"#), now_march_4()).unwrap().unwrap();
    assert!(!batch.complete && batch.slots.is_empty());
    assert_eq!(batch.cursor, r#"{"dr.rivera@example.com":"CKCbrNqDx70CEKCbrNqDx70CGAU="}"#);
}

#[test]
fn booking_a_calendar_that_is_gone_or_unreadable_books_nothing() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(google_json("freebusy_one_calendar_in_error.json")));
    let mut c = connector(&fake, settings(&fake));
    let mut slot = slot_to_book("2026-03-03T16:00:00Z", "2026-03-03T16:30:00Z");
    slot.external_id = format!("{CHEN}#20260303T160000Z");
    slot.booking = json!({"calendar": CHEN});
    let err = c.book(&slot, "pat-42").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Google Calendar could not give the busy time of Dr. Chen's calendar (dr.chen@example.com): the calendar was not found \
         or is not shared with the signed-in Google account. Nothing was booked; try again later."
    );
    slot.booking = json!({"calendar": "someone.else@example.com"});
    let err = c.book(&slot, "pat-42").unwrap_err();
    assert!(err.to_string().starts_with("The calendar 'someone.else@example.com' is no longer part of Google Calendar"), "{err}");
    assert_eq!(fake.requests().iter().filter(|r| r.url.path().ends_with("/events")).count(), 0);
}

#[test]
fn a_change_batch_applied_to_the_store_marks_the_newly_covered_cells_busy() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(echo_free));
    let mut store = Store::open(&dir.path().join("desk.db"), &DbKey::Raw([7; 32])).unwrap();
    let integ = store.add_integration(IntegrationKind::GoogleCalendar, "Google Calendar", &rivera_only(&fake), now_march_4()).unwrap();
    let window = span("2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z");
    let report = sync_integration(&mut store, &integ, &mut connector(&fake, rivera_only(&fake)), window, now_march_4()).unwrap();
    assert_eq!((report.added, report.complete), (4, true));

    fake.reset();
    fake.mount(Mock::given(method("GET")).and(path(RIVERA_EVENTS)).respond_with(google_json("events_incremental.json")));
    fake.mount(Mock::given(method("POST")).and(path(FREEBUSY)).respond_with(
        ResponseTemplate::new(200).set_body_json(json!({"kind": "calendar#freeBusy", "calendars": {RIVERA: {"busy": [
            {"start": "2026-03-10T14:00:00Z", "end": "2026-03-10T15:00:00Z"}
        ]}}})),
    ));
    let batch = connector(&fake, rivera_only(&fake)).changes_since(Some(r#"{"dr.rivera@example.com":"CPDA"}"#), now_march_4()).unwrap().unwrap();
    assert!(batch.complete);
    store.apply_changes(&integ, &batch.slots, now_march_4()).unwrap();
    let cached: Vec<(String, SlotStatus)> =
        store.published_slots(None, window).unwrap().into_iter().map(|s| (s.span.start.format("%H:%M").to_string(), s.status)).collect();
    assert_eq!(
        cached,
        vec![
            ("13:00".into(), SlotStatus::Free),
            ("13:30".into(), SlotStatus::Free),
            ("14:00".into(), SlotStatus::Busy),
            ("14:30".into(), SlotStatus::Busy),
        ]
    );
}
