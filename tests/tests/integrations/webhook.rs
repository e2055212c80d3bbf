//! The webhook receiver end to end (issue "real-time updates"): the real
//! axum server on a random loopback port, a real encrypted SQLite file, an
//! in-memory keychain, and signed deliveries over HTTP.
//!
//! Checked: a duplicate delivery changes nothing; booked/cancelled/updated
//! events arriving out of order end in the newest one's state; a delivery
//! replayed 9 minutes later is refused (401) even though its signature is
//! right; a bad or missing signature is refused with an empty 401 and the
//! database is unchanged; an oversized body gets 413; an unknown integration
//! or one without a secret gets 401; unreadable JSON after a good signature
//! gets 400; an id-only FHIR Subscription notification re-reads the source (a
//! wiremock FHIR fake) and ends with its slots; SCHEDULE.UPDATED re-reads the
//! window it names; a heartbeat changes nothing. And `medharmony serve
//! --webhook-listen 127.0.0.1:0` accepts a signed event (needs the OS keychain:
//! `MEDHARMONY_REQUIRE_KEYCHAIN=1`, as `scripts/test.sh` sets it).

use medharmony::store::key::MemoryVault as TestVault;
use crate::fake::{fhir_json, Fake};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use medharmony::auth::{AuthConfig, Secrets};
use medharmony::connector::{IntegrationKind, IntegrationSettings, RemoteSlot};
use medharmony::model::SlotStatus;
use medharmony::store::key::{DatabaseVault, DbKey, KeyVault};
use medharmony::store::Store;
use medharmony::time::Interval;
use medharmony::webhook::{sign, Delivery, WebhookConfig, WebhookServer, MAX_BODY_BYTES};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::Mock;

const SECRET: &str = "7f3c9a1e5b2d4f6081a3c5e7092b4d6f8a1c3e5f7092b4d6e8f0a1c3e5f70921";


fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The receiver's clock starts here; tests move it with `Rig::advance`.
fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap()
}

/// A receiver on a random port over a fresh database with one integration, "Clinic FHIR" (secret [`SECRET`]),
/// plus "No Secret" (an integration without a webhook secret).
struct Rig {
    _dir: tempfile::TempDir,
    db: PathBuf,
    key: DbKey,
    rt: tokio::runtime::Runtime,
    server: Option<WebhookServer>,
    offset: Arc<AtomicI64>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    vault: TestVault,
}

fn settings(base: &str) -> IntegrationSettings {
    IntegrationSettings { page_size: 50, ..IntegrationSettings::new(base, "America/New_York", AuthConfig::None) }
}

impl Rig {
    fn start(fhir_base: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hooks.db");
        let key = DbKey::Raw([0x5a; 32]);
        let vault = TestVault::default();
        {
            let mut store = Store::open(&db, &key).unwrap();
            store.add_integration(IntegrationKind::Fhir, "Clinic FHIR", &settings(fhir_base), base_time()).unwrap();
            store.add_integration(IntegrationKind::Fhir, "No Secret", &settings(fhir_base), base_time()).unwrap();
        }
        Secrets::new(&DatabaseVault::new(vault.clone(), &db)).store_webhook_secret("Clinic FHIR", SECRET).unwrap();
        let offset = Arc::new(AtomicI64::new(0));
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let (o, d) = (offset.clone(), deliveries.clone());
        let cfg = WebhookConfig {
            clock: Arc::new(move || base_time() + chrono::Duration::seconds(o.load(Ordering::SeqCst))),
            on_delivery: Arc::new(move |x: &Delivery| d.lock().unwrap().push(x.clone())),
            ..WebhookConfig::new("127.0.0.1:0".parse().unwrap(), db.clone(), key.clone(), vault.clone())
        };
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let server = WebhookServer::start(cfg, rt.handle()).unwrap();
        Rig { _dir: dir, db, key, rt, server: Some(server), offset, deliveries, vault }
    }

    fn now(&self) -> DateTime<Utc> {
        base_time() + chrono::Duration::seconds(self.offset.load(Ordering::SeqCst))
    }

    fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.as_ref().unwrap().local_addr())
    }

    fn store(&self) -> Store {
        Store::open(&self.db, &self.key).unwrap()
    }

    /// Slots of Clinic FHIR by external id: (status, start, provider, location).
    fn slots(&self) -> HashMap<String, (SlotStatus, DateTime<Utc>, String, Option<String>)> {
        let store = self.store();
        let integ = store.integration("Clinic FHIR").unwrap().unwrap();
        ["slot-1", "slot-2", "slot-3", "1234567"]
            .into_iter()
            .filter_map(|id| store.synced_slot(&integ, id).unwrap().map(|s| (id.to_string(), (s.status, s.span.start, s.provider, s.location))))
            .collect()
    }

    /// Everything a delivery could have changed: the change-log position and every slot.
    fn snapshot(&self) -> (i64, String) {
        let store = self.store();
        let wide = Interval::new(t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z")).unwrap();
        (store.last_change_seq().unwrap(), format!("{:?}", store.published_slots(None, wide).unwrap()))
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.stop());
        }
    }
}

/// A reply: status and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: String,
}

fn post(url: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let mut req = ureq::post(url).timeout(Duration::from_secs(10)).set("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.set(k, v);
    }
    match req.send_bytes(body) {
        Ok(r) => Reply { status: r.status(), body: r.into_string().unwrap() },
        Err(ureq::Error::Status(status, r)) => Reply { status, body: r.into_string().unwrap() },
        Err(e) => panic!("{url}: {e}"),
    }
}

/// The signing headers for `body` at `timestamp` under `secret`.
fn signed(secret: &str, timestamp: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![("X-MedHarmony-Timestamp", timestamp.to_string()), ("X-MedHarmony-Signature", sign(secret, timestamp, body))]
}

/// Sends `body` to Clinic FHIR's event address, signed now by the receiver's clock.
fn deliver(rig: &Rig, body: &Value) -> Reply {
    let bytes = body.to_string().into_bytes();
    post(&rig.url("/webhooks/Clinic%20FHIR"), &signed(SECRET, rig.now().timestamp(), &bytes), &bytes)
}

/// An appointment event for `slot` (14:00–14:30 UTC on 3 March unless `start` says otherwise).
fn appointment(id: &str, kind: &str, occurred_at: &str, slot: &str, extra: Value) -> Value {
    let mut data = json!({
        "slot_id": slot, "start": "2026-03-03T09:00:00-05:00", "end": "2026-03-03T09:30:00-05:00",
        "provider": "Dr. Ana Rivera", "location": "Main St Clinic"
    });
    for (k, v) in extra.as_object().unwrap() {
        data[k] = v.clone();
    }
    json!({ "id": id, "type": kind, "occurred_at": occurred_at, "integration": "Clinic FHIR", "data": data })
}

fn applied(r: &Reply) {
    assert_eq!((r.status, r.body.as_str()), (202, r#"{"result":"applied"}"#), "{r:?}");
}

#[test]
fn a_duplicate_delivery_is_a_no_op() {
    let rig = Rig::start("http://127.0.0.1:9/r4");
    let booked = appointment("evt-1", "APPOINTMENT.BOOKED", "2026-03-02T13:59:00Z", "slot-1", json!({}));
    applied(&deliver(&rig, &booked));
    let first = rig.slots();
    assert_eq!(first["slot-1"], (SlotStatus::Busy, t("2026-03-03T14:00:00Z"), "Dr. Ana Rivera".to_string(), Some("Main St Clinic".to_string())));
    let before = rig.snapshot();
    // The sender retries a little later (signed afresh): acknowledged, nothing written, not even a change-log entry.
    rig.advance(20);
    let again = deliver(&rig, &booked);
    assert_eq!((again.status, again.body.as_str()), (200, r#"{"result":"duplicate"}"#));
    // The same id with other content is still the same event.
    let altered = appointment("evt-1", "APPOINTMENT.CANCELLED", "2026-03-02T14:00:10Z", "slot-1", json!({}));
    assert_eq!(deliver(&rig, &altered).status, 200);
    assert_eq!(rig.snapshot(), before);
    let words: Vec<&str> = rig.deliveries.lock().unwrap().iter().map(|d| d.outcome.word()).collect();
    assert_eq!(words, ["applied", "duplicate", "duplicate"]);
}

#[test]
fn events_arriving_out_of_order_end_in_the_newest_state() {
    let rig = Rig::start("http://127.0.0.1:9/r4");
    // slot-1: booked 13:50, cancelled 13:52, booked again (tentatively, another room) 13:55; delivered cancelled, updated, booked.
    let booked = appointment("a-1", "APPOINTMENT.BOOKED", "2026-03-02T13:50:00Z", "slot-1", json!({}));
    let cancelled = appointment("a-2", "APPOINTMENT.CANCELLED", "2026-03-02T13:52:00Z", "slot-1", json!({}));
    let updated = appointment(
        "a-3",
        "APPOINTMENT.BOOKED",
        "2026-03-02T08:55:00-05:00",
        "slot-1",
        json!({ "status": "busy-tentative", "location": "Elm St Clinic" }),
    );
    applied(&deliver(&rig, &cancelled));
    assert_eq!(rig.slots()["slot-1"].0, SlotStatus::Free);
    applied(&deliver(&rig, &updated));
    let stale = deliver(&rig, &booked);
    assert_eq!((stale.status, stale.body.as_str()), (200, r#"{"result":"stale"}"#));
    let s1 = &rig.slots()["slot-1"];
    assert_eq!((s1.0, s1.3.as_deref()), (SlotStatus::BusyTentative, Some("Elm St Clinic")));
    // slot-2: booked 13:40, cancelled 13:45; delivered cancelled first: stays free.
    let s2 = |id: &str, kind: &str, at: &str| {
        appointment(id, kind, at, "slot-2", json!({ "start": "2026-03-03T10:00:00-05:00", "end": "2026-03-03T10:30:00-05:00" }))
    };
    applied(&deliver(&rig, &s2("b-2", "APPOINTMENT.CANCELLED", "2026-03-02T13:45:00Z")));
    assert_eq!(deliver(&rig, &s2("b-1", "APPOINTMENT.BOOKED", "2026-03-02T13:40:00Z")).body, r#"{"result":"stale"}"#);
    assert_eq!(rig.slots()["slot-2"].0, SlotStatus::Free);
    // The newest time per slot is what the store kept.
    let store = rig.store();
    let integ = store.integration("Clinic FHIR").unwrap().unwrap();
    assert_eq!(store.webhook_slot_version(&integ, "slot-1").unwrap(), Some(t("2026-03-02T13:55:00Z")));
    assert_eq!(store.webhook_slot_version(&integ, "slot-2").unwrap(), Some(t("2026-03-02T13:45:00Z")));
}

#[test]
fn a_replay_nine_minutes_later_is_refused() {
    let rig = Rig::start("http://127.0.0.1:9/r4");
    let body = appointment("r-1", "APPOINTMENT.BOOKED", "2026-03-02T13:59:00Z", "slot-1", json!({})).to_string().into_bytes();
    let headers = signed(SECRET, rig.now().timestamp(), &body);
    let url = rig.url("/webhooks/Clinic%20FHIR");
    // Someone captures the delivery and sends it again, unchanged, 9 minutes later, after a cancellation.
    applied(&post(&url, &headers, &body));
    applied(&deliver(&rig, &appointment("r-2", "APPOINTMENT.CANCELLED", "2026-03-02T14:00:30Z", "slot-1", json!({}))));
    rig.advance(9 * 60);
    let before = rig.snapshot();
    let replay = post(&url, &headers, &body);
    assert_eq!((replay.status, replay.body.as_str()), (401, ""));
    assert_eq!(rig.snapshot(), before);
    // A timestamp 6 minutes ahead of the clock is refused too; 4 minutes either way is accepted.
    let fresh = appointment("r-3", "APPOINTMENT.BOOKED", "2026-03-02T14:09:00Z", "slot-1", json!({})).to_string().into_bytes();
    assert_eq!(post(&url, &signed(SECRET, rig.now().timestamp() + 360, &fresh), &fresh).status, 401);
    applied(&post(&url, &signed(SECRET, rig.now().timestamp() - 240, &fresh), &fresh));
    assert_eq!(rig.slots()["slot-1"].0, SlotStatus::Busy);
}

#[test]
fn a_bad_or_missing_signature_is_refused_and_changes_nothing() {
    let rig = Rig::start("http://127.0.0.1:9/r4");
    applied(&deliver(&rig, &appointment("s-0", "APPOINTMENT.BOOKED", "2026-03-02T13:00:00Z", "slot-1", json!({}))));
    let before = rig.snapshot();
    let url = rig.url("/webhooks/Clinic%20FHIR");
    let body = appointment("s-1", "APPOINTMENT.CANCELLED", "2026-03-02T13:59:00Z", "slot-1", json!({})).to_string().into_bytes();
    let ts = rig.now().timestamp();
    let good = sign(SECRET, ts, &body);
    let tampered = {
        let mut b = body.clone();
        let i = b.len() - 3;
        b[i] ^= 1;
        b
    };
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a [u8]);
    let cases: Vec<Case> = vec![
        ("another secret", signed("not-the-secret", ts, &body), &body),
        ("a body changed after signing", vec![("X-MedHarmony-Timestamp", ts.to_string()), ("X-MedHarmony-Signature", good.clone())], &tampered),
        ("another timestamp", vec![("X-MedHarmony-Timestamp", (ts - 1).to_string()), ("X-MedHarmony-Signature", good.clone())], &body),
        ("no signature", vec![("X-MedHarmony-Timestamp", ts.to_string())], &body),
        ("no timestamp", vec![("X-MedHarmony-Signature", good.clone())], &body),
        ("a timestamp that is not a number", vec![("X-MedHarmony-Timestamp", "soon".into()), ("X-MedHarmony-Signature", good.clone())], &body),
        ("no scheme", vec![("X-MedHarmony-Timestamp", ts.to_string()), ("X-MedHarmony-Signature", good.trim_start_matches("sha256=").into())], &body),
    ];
    for (what, headers, b) in cases {
        let r = post(&url, &headers, b);
        assert_eq!((r.status, r.body.as_str()), (401, ""), "{what}");
    }
    assert_eq!(rig.snapshot(), before);
    // Signed correctly but not JSON: 400 with the reason (after the signature check).
    let junk = b"{\"id\": \"s-2\", \"type\":".to_vec();
    let r = post(&url, &signed(SECRET, ts, &junk), &junk);
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("the body is not a MedHarmony event"), "{}", r.body);
    // Signed correctly for Clinic FHIR, but the body names another integration.
    let elsewhere = appointment("s-3", "APPOINTMENT.CANCELLED", "2026-03-02T13:59:00Z", "slot-1", json!({}));
    let mut elsewhere = elsewhere;
    elsewhere["integration"] = json!("No Secret");
    let r = deliver(&rig, &elsewhere);
    assert_eq!(r.status, 400);
    assert_eq!(r.body, "the event names the integration 'No Secret' but was sent to the address of 'Clinic FHIR'");
    // An occurred_at 10 minutes in the future (a wrong sender clock would pin the slot).
    let r = deliver(&rig, &appointment("s-4", "APPOINTMENT.CANCELLED", "2026-03-02T14:10:00Z", "slot-1", json!({})));
    assert_eq!(r.status, 400);
    assert_eq!(rig.snapshot(), before);
    // Nothing above recorded its event id: once signed and sent properly, s-1 applies.
    applied(&deliver(&rig, &appointment("s-1", "APPOINTMENT.CANCELLED", "2026-03-02T13:59:00Z", "slot-1", json!({}))));
    assert_eq!(rig.slots()["slot-1"].0, SlotStatus::Free);
}

#[test]
fn a_new_secret_works_at_once_and_disconnecting_refuses_deliveries() {
    let rig = Rig::start("http://127.0.0.1:9/r4");
    applied(&deliver(&rig, &appointment("k-1", "APPOINTMENT.BOOKED", "2026-03-02T13:00:00Z", "slot-1", json!({}))));
    // Staff make a new secret (the receiver has the old one cached).
    let secrets_of = |v: &TestVault| Secrets::new(&DatabaseVault::new(v.clone(), &rig.db)).store_webhook_secret("Clinic FHIR", "n3w-secret").unwrap();
    secrets_of(&rig.vault);
    let body = appointment("k-2", "APPOINTMENT.CANCELLED", "2026-03-02T13:10:00Z", "slot-1", json!({})).to_string().into_bytes();
    applied(&post(&rig.url("/webhooks/Clinic%20FHIR"), &signed("n3w-secret", rig.now().timestamp(), &body), &body));
    assert_eq!(rig.slots()["slot-1"].0, SlotStatus::Free);
    // Disconnecting removes the integration and forgets its secrets: nothing is accepted any more, at once.
    assert!(rig.store().remove_integration("Clinic FHIR", rig.now()).unwrap());
    Secrets::new(&DatabaseVault::new(rig.vault.clone(), &rig.db)).forget_integration("Clinic FHIR").unwrap();
    assert_eq!(rig.vault.get(&format!("{}|integration:Clinic FHIR:webhook-secret", std::path::absolute(&rig.db).unwrap().display())).unwrap(), None);
    let body = appointment("k-3", "APPOINTMENT.BOOKED", "2026-03-02T13:20:00Z", "slot-1", json!({})).to_string().into_bytes();
    let r = post(&rig.url("/webhooks/Clinic%20FHIR"), &signed("n3w-secret", rig.now().timestamp(), &body), &body);
    assert_eq!((r.status, r.body.as_str()), (401, ""));
}

#[test]
fn an_oversized_body_is_refused_with_413() {
    let rig = Rig::start("http://127.0.0.1:9/r4");
    let before = rig.snapshot();
    let mut event = appointment("big-1", "APPOINTMENT.BOOKED", "2026-03-02T13:59:00Z", "slot-1", json!({}));
    event["data"]["padding"] = json!("x".repeat(MAX_BODY_BYTES));
    let r = deliver(&rig, &event);
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(rig.snapshot(), before);
    // Just under the limit is read (and applied: unknown fields are ignored).
    let mut event = appointment("big-2", "APPOINTMENT.BOOKED", "2026-03-02T13:59:00Z", "slot-1", json!({}));
    let size = event.to_string().len() + r#","padding":"""#.len();
    event["data"]["padding"] = json!("x".repeat(MAX_BODY_BYTES - size));
    assert_eq!(event.to_string().len(), MAX_BODY_BYTES);
    applied(&deliver(&rig, &event));
}

#[test]
fn an_unknown_integration_or_one_without_a_secret_gets_an_empty_401() {
    let rig = Rig::start("http://127.0.0.1:9/r4");
    let before = rig.snapshot();
    let mut event = appointment("u-1", "APPOINTMENT.BOOKED", "2026-03-02T13:59:00Z", "slot-1", json!({}));
    for (path, name) in [("/webhooks/Nowhere", "Nowhere"), ("/webhooks/No%20Secret", "No Secret"), ("/webhooks/Nowhere/fhir", "Nowhere")] {
        event["integration"] = json!(name);
        let bytes = event.to_string().into_bytes();
        // Even signed with a real secret.
        let r = post(&rig.url(path), &signed(SECRET, rig.now().timestamp(), &bytes), &bytes);
        assert_eq!((r.status, r.body.as_str()), (401, ""), "{path}");
    }
    assert_eq!(rig.snapshot(), before);
    // The name matches case-insensitively.
    event["integration"] = json!("clinic fhir");
    let bytes = event.to_string().into_bytes();
    applied(&post(&rig.url("/webhooks/clinic%20fhir"), &signed(SECRET, rig.now().timestamp(), &bytes), &bytes));
}

/// A searchset of free slots of Dr. Ana Rivera (Schedule included), as the FHIR connector searches them.
fn searchset(slots: &[(&str, &str)]) -> Value {
    let mut entries: Vec<Value> = slots
        .iter()
        .map(|(id, start)| {
            let s = t(start);
            json!({ "resource": {
                "resourceType": "Slot", "id": id, "meta": { "versionId": "2" },
                "schedule": { "reference": "Schedule/rivera" }, "status": "free",
                "start": s.to_rfc3339(), "end": (s + chrono::Duration::minutes(30)).to_rfc3339()
            }, "search": { "mode": "match" } })
        })
        .collect();
    entries.push(json!({ "resource": {
        "resourceType": "Schedule", "id": "rivera", "active": true,
        "actor": [{ "reference": "Practitioner/rivera", "display": "Dr. Ana Rivera" }, { "reference": "Location/main-st", "display": "Main St Clinic" }]
    }, "search": { "mode": "include" } }));
    json!({ "resourceType": "Bundle", "type": "searchset", "total": slots.len(), "link": [{ "relation": "self", "url": "self" }], "entry": entries })
}

fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within {limit:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn an_id_only_fhir_notification_re_reads_the_source() {
    let fake = Fake::start();
    let rig = Rig::start(&fake.base());
    // The desk has slot-1 and slot-2 free (from an earlier sync).
    {
        let mut store = rig.store();
        let integ = store.integration("Clinic FHIR").unwrap().unwrap();
        let free = |id: &str, start: &str| RemoteSlot {
            external_id: id.into(),
            span: Interval::new(t(start), t(start) + chrono::Duration::minutes(30)).unwrap(),
            status: SlotStatus::Free,
            provider: "Dr. Ana Rivera".into(),
            provider_ref: Some("Practitioner/rivera".into()),
            location: Some("Main St Clinic".into()),
            location_ref: Some("Location/main-st".into()),
            service_type: None,
            schedule_ref: Some("Schedule/rivera".into()),
            booking: json!({ "version": "1" }),
        };
        store.apply_changes(&integ, &[free("slot-1", "2026-03-03T14:00:00Z"), free("slot-2", "2026-03-03T15:00:00Z")], rig.now()).unwrap();
    }
    // At the source, slot-1 was booked (a free-slot search no longer lists it) and slot-3 opened.
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/r4/Slot"))
            .respond_with(fhir_json(searchset(&[("slot-2", "2026-03-03T15:00:00Z"), ("slot-3", "2026-03-04T14:00:00Z")]))),
    );
    let fhir_url = rig.url("/webhooks/Clinic%20FHIR/fhir");
    // A heartbeat changes nothing and reads nothing.
    let hb = std::fs::read(medharmony_e2e::fixture("fhir/r4/subscription-heartbeat.json")).unwrap();
    let r = post(&fhir_url, &signed(SECRET, rig.now().timestamp(), &hb), &hb);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"result":"ignored"}"#));
    assert!(fake.requests().is_empty());

    let note = std::fs::read(medharmony_e2e::fixture("fhir/r4/subscription-notification-id-only.json")).unwrap();
    let r = post(&fhir_url, &signed(SECRET, rig.now().timestamp(), &note), &note);
    assert_eq!((r.status, r.body.as_str()), (202, r#"{"result":"queued"}"#));
    wait_until(Duration::from_secs(5), "the re-read", || !rig.slots().contains_key("slot-1"));
    let slots = rig.slots();
    assert_eq!(slots.keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(), ["slot-2", "slot-3"].into());
    assert_eq!(slots["slot-3"], (SlotStatus::Free, t("2026-03-04T14:00:00Z"), "Dr. Ana Rivera".to_string(), Some("Main St Clinic".to_string())));
    // It read the default sync window around the receiver's clock (7 days back, 90 ahead).
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let q: HashMap<String, Vec<String>> = reqs[0].url.query_pairs().into_owned().fold(HashMap::new(), |mut m, (k, v)| {
        m.entry(k).or_default().push(v);
        m
    });
    assert_eq!(q["start"], ["ge2026-02-23T14:00:00Z", "lt2026-05-31T14:00:00Z"]);
    // The same notification again (the server retries): a duplicate, no second read.
    let r = post(&fhir_url, &signed(SECRET, rig.now().timestamp(), &note), &note);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"result":"duplicate"}"#));
    wait_until(Duration::from_secs(5), "the re-read report", || {
        rig.deliveries.lock().unwrap().iter().any(|d| matches!(d.outcome, medharmony::webhook::DeliveryOutcome::Resynced { .. }))
    });
    assert_eq!(
        rig.deliveries.lock().unwrap().iter().find(|d| d.outcome.word() == "resynced").map(Delivery::plain).as_deref(),
        // slot-3 added; slot-2 changed (its version at the source went from 1 to 2); slot-1 removed.
        Some("Clinic FHIR: FHIR notification re-read: 1 added, 1 changed, 1 removed; complete")
    );

    // SCHEDULE.UPDATED re-reads just the window it names.
    let updated = json!({
        "id": "sched-1", "type": "SCHEDULE.UPDATED", "occurred_at": "2026-03-02T13:59:00Z", "integration": "Clinic FHIR",
        "data": { "from": "2026-03-04T00:00:00-05:00", "to": "2026-03-05T00:00:00-05:00" }
    });
    fake.reset();
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(fhir_json(searchset(&[]))));
    let r = deliver(&rig, &updated);
    assert_eq!((r.status, r.body.as_str()), (202, r#"{"result":"queued"}"#));
    wait_until(Duration::from_secs(5), "the window re-read", || !rig.slots().contains_key("slot-3"));
    assert!(rig.slots().contains_key("slot-2"), "outside the window: kept");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let starts: Vec<String> = reqs[0].url.query_pairs().filter(|(k, _)| k == "start").map(|(_, v)| v.into_owned()).collect();
    assert_eq!(starts, ["ge2026-03-04T05:00:00Z", "lt2026-03-05T05:00:00Z"]);
}

#[cfg(unix)]
#[test]
fn serve_accepts_a_signed_event_on_its_webhook_address() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    if std::env::var("MEDHARMONY_REQUIRE_KEYCHAIN").as_deref() != Ok("1") {
        eprintln!("skipped: set MEDHARMONY_REQUIRE_KEYCHAIN=1 inside a session with a Secret Service");
        return;
    }
    let db = medharmony_e2e::Db::new();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("Hooks {}-{nanos}", std::process::id());
    let add = db.run(&["integrations", "add", "fhir", "--name", &name, "--base-url", "http://127.0.0.1:9/r4", "--auth", "none", "--tz", "America/New_York"]);
    assert_eq!(add.code, 0, "{}", add.stderr);
    let made = db.run(&["integrations", "webhook-secret", &name]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    // Removes the keychain entry even when an assertion fails.
    struct Forget(String, PathBuf);
    impl Drop for Forget {
        fn drop(&mut self) {
            let _ = Secrets::new(&DatabaseVault::new(medharmony::store::key::OsKeychain, &self.1)).forget_integration(&self.0);
        }
    }
    let _forget = Forget(name.clone(), db.path.clone());
    let secret = made.stdout.trim().to_string();
    assert_eq!(secret.len(), 64, "{made:?}");
    assert!(made.stderr.contains("shown only this once"), "{}", made.stderr);
    let path = medharmony::webhook::path_for(&name);
    assert!(made.stderr.contains(&path), "{}", made.stderr);

    let mut serve = db.cmd().args(["serve", "--webhook-listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let err = serve.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || BufReader::new(err).lines().map_while(Result::ok).for_each(|l| drop(tx2.send(format!("err {l}")))));
    let out = serve.stdout.take().unwrap();
    std::thread::spawn(move || BufReader::new(out).lines().map_while(Result::ok).for_each(|l| drop(tx.send(format!("out {l}")))));
    let next_line = |want: &dyn Fn(&str) -> bool| -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let l = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("a line from serve");
            if want(&l) {
                return l;
            }
        }
    };
    let banner = next_line(&|l| l.starts_with("err Receiving webhooks at http://"));
    let addr = banner.trim_start_matches("err Receiving webhooks at http://").split('/').next().unwrap().to_string();
    assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "{banner}");

    let now = Utc::now();
    let event = json!({
        "id": "cli-1", "type": "APPOINTMENT.BOOKED", "occurred_at": now.to_rfc3339(), "integration": name,
        "data": { "slot_id": "s-77", "start": "2026-03-03T09:00:00-05:00", "end": "2026-03-03T09:30:00-05:00", "provider": "Dr. Ana Rivera" }
    })
    .to_string()
    .into_bytes();
    let r = post(&format!("http://{addr}{path}"), &signed(&secret, now.timestamp(), &event), &event);
    assert_eq!((r.status, r.body.as_str()), (202, r#"{"result":"applied"}"#));
    let line = next_line(&|l| l.starts_with("out ") && l.contains("APPOINTMENT.BOOKED"));
    assert!(line.ends_with(&format!("{name}: APPOINTMENT.BOOKED applied")), "{line}");
    // Signed with another secret: refused.
    let r = post(&format!("http://{addr}{path}"), &signed(SECRET, now.timestamp(), &event), &event);
    assert_eq!((r.status, r.body.as_str()), (401, ""));

    let slots = db.run(&["--json", "slots", "--from", "2026-03-03T00:00:00Z", "--to", "2026-03-04T00:00:00Z"]);
    assert_eq!(slots.code, 0, "{}", slots.stderr);
    let list = slots.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!((list[0]["status"].as_str(), list[0]["provider"].as_str()), (Some("busy"), Some("Dr. Ana Rivera")));
    assert_eq!(list[0]["start"].as_str(), Some("2026-03-03T14:00:00Z"));

    assert!(Command::new("kill").args(["-TERM", &serve.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = serve.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
}

/// The id-only notification fixture with another event number (a new notification of the same Subscription).
fn notification(event_number: u32) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&std::fs::read(medharmony_e2e::fixture("fhir/r4/subscription-notification-id-only.json")).unwrap()).unwrap();
    let part = &mut v["entry"][0]["resource"]["parameter"][5]["part"][0];
    assert_eq!(part["name"], "event-number");
    part["valueString"] = json!(event_number.to_string());
    v.to_string().into_bytes()
}

#[test]
fn notifications_during_a_re_read_queue_one_more_and_a_failed_re_read_can_be_redelivered() {
    let fake = Fake::start();
    let rig = Rig::start(&fake.base());
    let url = rig.url("/webhooks/Clinic%20FHIR/fhir");
    let send = |n: u32| {
        let body = notification(n);
        post(&url, &signed(SECRET, rig.now().timestamp(), &body), &body)
    };
    // A slow source: each search takes 400 ms.
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/r4/Slot"))
            .respond_with(fhir_json(searchset(&[("slot-2", "2026-03-03T15:00:00Z")])).set_delay(Duration::from_millis(400))),
    );
    for n in 10..14 {
        assert_eq!(send(n).status, 202, "notification {n}");
    }
    let resynced = || rig.deliveries.lock().unwrap().iter().filter(|d| d.outcome.word() == "resynced").count();
    wait_until(Duration::from_secs(5), "two re-reads", || resynced() == 2);
    std::thread::sleep(Duration::from_millis(500));
    // Four notifications, one read running and one more queued behind it: two reads in all.
    assert_eq!((fake.requests().len(), resynced()), (2, 2));
    assert!(rig.slots().contains_key("slot-2"));

    // The source fails: the re-read is reported, nothing changes, and the same notification sent again is read again.
    fake.reset();
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(wiremock::ResponseTemplate::new(400)));
    let before = rig.snapshot();
    assert_eq!(send(20).status, 202);
    let failed = || rig.deliveries.lock().unwrap().iter().filter(|d| d.outcome.word() == "resync-failed").count();
    wait_until(Duration::from_secs(5), "the failed re-read", || failed() == 1);
    assert_eq!(rig.snapshot(), before);
    let plain = rig.deliveries.lock().unwrap().iter().find(|d| d.outcome.word() == "resync-failed").map(Delivery::plain).unwrap();
    assert!(plain.starts_with("Clinic FHIR: FHIR notification re-read failed (Clinic FHIR answered with an error (HTTP 400)"), "{plain}");
    assert!(plain.ends_with("; the next scheduled sync will catch up"), "{plain}");
    let again = send(20);
    assert_eq!((again.status, again.body.as_str()), (202, r#"{"result":"queued"}"#));
    wait_until(Duration::from_secs(5), "the second failed re-read", || failed() == 2);
}
