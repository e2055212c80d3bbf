//! Against a real FHIR R4 server on loopback (`tests/fhir-server`: Medplum's
//! FhirRouter in memory, started per test by [`RealFhirServer::start`]).
//!
//! First the server's own contract: the Slot search our generic FHIR connector
//! sends (HL7 FHIR R4 §12.12 Slot search parameters, search.html prefixes and
//! `_include`) answered the way the connector relies on. Then the whole path
//! through the CLI: `integrations add fhir`, `sync`, `slots`.
//!
//! Synthetic practice: Dr. Ana Rivera at Main Street Clinic, America/New_York
//! (EST −05:00 until 2026-03-08, EDT −04:00 after).

use medharmony_e2e::fhir_server::RealFhirServer;
use medharmony_e2e::Db;
use serde_json::{json, Value};

/// The seeded slots: (label, start, end, status). Instants carry New York offsets.
const SLOTS: [(&str, &str, &str, &str); 6] = [
    ("wed-0900", "2026-03-04T09:00:00-05:00", "2026-03-04T09:30:00-05:00", "free"),
    ("wed-0930", "2026-03-04T09:30:00-05:00", "2026-03-04T10:00:00-05:00", "busy"),
    ("wed-1000", "2026-03-04T10:00:00-05:00", "2026-03-04T10:30:00-05:00", "free"),
    // Local Wednesday evening, but 2026-03-05T00:00:00Z: outside a UTC window that ends at midnight.
    ("wed-1900", "2026-03-04T19:00:00-05:00", "2026-03-04T19:30:00-05:00", "free"),
    ("tue-0900", "2026-03-10T09:00:00-04:00", "2026-03-10T09:30:00-04:00", "free"),
    ("tue-0930", "2026-03-10T09:30:00-04:00", "2026-03-10T10:00:00-04:00", "busy"),
];

/// What [`seed`] created.
struct Clinic {
    practitioner: Value,
    schedule: Value,
    /// Slots as stored, in the order of [`SLOTS`].
    slots: Vec<(&'static str, Value)>,
}

impl Clinic {
    fn slot(&self, label: &str) -> &Value {
        &self.slots.iter().find(|(l, _)| *l == label).unwrap_or_else(|| panic!("no slot {label}")).1
    }
    fn slot_id(&self, label: &str) -> String {
        self.slot(label)["id"].as_str().unwrap().to_string()
    }
}

/// Seeds a Practitioner, a Location, their Schedule and the six [`SLOTS`].
fn seed(fhir: &RealFhirServer) -> Clinic {
    let practitioner = fhir.create(json!({
        "resourceType": "Practitioner",
        "active": true,
        "name": [{ "use": "official", "text": "Dr. Ana Rivera", "family": "Rivera", "given": ["Ana"], "prefix": ["Dr."] }]
    }));
    let location = fhir.create(json!({
        "resourceType": "Location",
        "status": "active",
        "name": "Main Street Clinic",
        "address": { "line": ["100 Main Street"], "city": "Springfield", "state": "NY", "postalCode": "10001" }
    }));
    let schedule = fhir.create(json!({
        "resourceType": "Schedule",
        "active": true,
        "serviceType": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "124", "display": "General Practice" }] }],
        "actor": [
            { "reference": format!("Practitioner/{}", practitioner["id"].as_str().unwrap()), "display": "Dr. Ana Rivera" },
            { "reference": format!("Location/{}", location["id"].as_str().unwrap()), "display": "Main Street Clinic" }
        ],
        "planningHorizon": { "start": "2026-03-01T00:00:00-05:00", "end": "2026-03-31T23:59:59-04:00" }
    }));
    let schedule_ref = format!("Schedule/{}", schedule["id"].as_str().unwrap());
    let slots = SLOTS
        .iter()
        .map(|&(label, start, end, status)| {
            let slot = fhir.create(json!({
                "resourceType": "Slot",
                "serviceType": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "124", "display": "General Practice" }] }],
                "schedule": { "reference": schedule_ref },
                "status": status,
                "start": start,
                "end": end
            }));
            (label, slot)
        })
        .collect();
    Clinic { practitioner, schedule, slots }
}

/// The `search.mode = match` entries' resources of a searchset.
fn matches(bundle: &Value) -> Vec<&Value> {
    entries(bundle, "match")
}

fn entries<'a>(bundle: &'a Value, mode: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["search"]["mode"] == mode).map(|e| &e["resource"]).collect())
        .unwrap_or_default()
}

fn ids(resources: &[&Value]) -> Vec<String> {
    let mut v: Vec<String> = resources.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn real_fhir_server_contract_slot_search_by_schedule_status_and_utc_window_with_include_and_total() {
    let fhir = RealFhirServer::start();
    let clinic = seed(&fhir);
    let schedule_id = clinic.schedule["id"].as_str().unwrap();

    // A second practitioner's schedule with a free slot in the same window: the `schedule` parameter must keep it out.
    let other =
        fhir.create(json!({ "resourceType": "Schedule", "actor": [{ "reference": "Practitioner/someone-else", "display": "Dr. Other" }] }));
    let other_slot = fhir.create(json!({
        "resourceType": "Slot", "schedule": { "reference": format!("Schedule/{}", other["id"].as_str().unwrap()) },
        "status": "free", "start": "2026-03-04T11:00:00-05:00", "end": "2026-03-04T11:30:00-05:00"
    }));

    // Create: 201, the id assigned, a weak ETag with the version id, a Location, FHIR JSON.
    let created =
        fhir.send("POST", "Practitioner", Some(&json!({ "resourceType": "Practitioner", "name": [{ "text": "Dr. Test Create" }] })), &[]);
    assert_eq!(created.status, 201, "{}", created.body);
    let version = created.body["meta"]["versionId"].as_str().expect("meta.versionId").to_string();
    assert_eq!(created.etag.as_deref(), Some(format!("W/\"{version}\"").as_str()));
    let id = created.body["id"].as_str().expect("id").to_string();
    assert_eq!(created.location, Some(fhir.url(&format!("Practitioner/{id}/_history/{version}"))));
    assert!(created.content_type.as_deref().unwrap_or_default().starts_with("application/fhir+json"), "{:?}", created.content_type);

    // Read: the same resource, the same ETag; an unknown id is 404 with an OperationOutcome.
    let read = fhir.send("GET", &format!("Practitioner/{}", clinic.practitioner["id"].as_str().unwrap()), None, &[]);
    assert_eq!(read.status, 200);
    assert_eq!(read.body["name"][0]["text"], "Dr. Ana Rivera");
    assert_eq!(read.etag, Some(format!("W/\"{}\"", clinic.practitioner["meta"]["versionId"].as_str().unwrap())));
    let missing = fhir.send("GET", "Slot/no-such-slot", None, &[]);
    assert_eq!((missing.status, missing.body["resourceType"].as_str()), (404, Some("OperationOutcome")));

    // The connector's search: one schedule, free, starting in [2026-03-04T00:00Z, 2026-03-05T00:00Z), with its Schedule.
    let query = format!(
        "Slot?schedule=Schedule/{schedule_id}&status=free&start=ge2026-03-04T00:00:00Z&start=lt2026-03-05T00:00:00Z&_include=Slot:schedule&_count=100"
    );
    let bundle = fhir.get(&query);
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    // 09:00 and 10:00 EST (14:00Z, 15:00Z). Not 09:30 (busy), not 19:00 EST (= 2026-03-05T00:00Z, lt is exclusive),
    // not the 10th (outside), not the other schedule's 11:00.
    let found = matches(&bundle);
    assert_eq!(ids(&found), sorted(vec![clinic.slot_id("wed-0900"), clinic.slot_id("wed-1000")]));
    let mut starts: Vec<&str> = found.iter().map(|s| s["start"].as_str().unwrap()).collect();
    starts.sort();
    assert_eq!(starts, ["2026-03-04T09:00:00-05:00", "2026-03-04T10:00:00-05:00"]);
    // Exactly one included resource: the Schedule, once, with its actors intact.
    let included = entries(&bundle, "include");
    assert_eq!(included.len(), 1, "{bundle}");
    assert_eq!(included[0]["resourceType"], "Schedule");
    assert_eq!(included[0]["id"], schedule_id);
    assert_eq!(included[0]["actor"][0]["display"], "Dr. Ana Rivera");
    assert_eq!(included[0]["actor"][1]["display"], "Main Street Clinic");
    // Every entry is a match or an include, with a fullUrl.
    let all = bundle["entry"].as_array().unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|e| e["fullUrl"]
        == fhir.url(&format!("{}/{}", e["resource"]["resourceType"].as_str().unwrap(), e["resource"]["id"].as_str().unwrap()))));
    // `total` counts the matches only (not the included Schedule); no next link on a complete page.
    assert_eq!(bundle["total"], 2);
    assert!(bundle["link"].as_array().is_none_or(|l| l.iter().all(|k| k["relation"] != "next")), "{bundle}");

    // Offsets are compared as instants: the next UTC day holds exactly the 19:00 EST slot.
    let next_day =
        fhir.get(&format!("Slot?schedule=Schedule/{schedule_id}&status=free&start=ge2026-03-05T00:00:00Z&start=lt2026-03-06T00:00:00Z"));
    assert_eq!(ids(&matches(&next_day)), vec![clinic.slot_id("wed-1900")]);
    assert_eq!(next_day["total"], 1);
    // After the DST change (-04:00): 2026-03-10T13:00Z..13:30Z holds the 09:00 EDT slot only.
    let after_dst = fhir.get(&format!("Slot?schedule=Schedule/{schedule_id}&start=ge2026-03-10T13:00:00Z&start=lt2026-03-10T13:30:00Z"));
    assert_eq!(ids(&matches(&after_dst)), vec![clinic.slot_id("tue-0900")]);

    // Without `schedule`, the other practitioner's slot is there too (so the parameter above did filter).
    let any_schedule = fhir.get("Slot?status=free&start=ge2026-03-04T00:00:00Z&start=lt2026-03-05T00:00:00Z&_include=Slot:schedule");
    assert_eq!(
        ids(&matches(&any_schedule)),
        sorted(vec![clinic.slot_id("wed-0900"), clinic.slot_id("wed-1000"), other_slot["id"].as_str().unwrap().to_string()])
    );
    assert_eq!(ids(&entries(&any_schedule, "include")), sorted(vec![schedule_id.to_string(), other["id"].as_str().unwrap().to_string()]));
    assert_eq!(any_schedule["total"], 3);

    // `total` is every match even when `_count` cuts the page, and this server sends no next link:
    // a connector that trusts `total` sees the shortfall and must not call such a window complete.
    let cut = fhir.get(&format!("Slot?schedule=Schedule/{schedule_id}&status=free&_count=1"));
    assert_eq!(matches(&cut).len(), 1);
    assert_eq!(cut["total"], 4);
    assert!(cut["link"].as_array().is_none_or(|l| l.iter().all(|k| k["relation"] != "next")), "{cut}");

    // Update: a slot booked elsewhere turns busy and leaves the free search; a stale If-Match is refused.
    let mut slot = clinic.slot("wed-1000").clone();
    let old_version = slot["meta"]["versionId"].as_str().unwrap().to_string();
    slot["status"] = json!("busy");
    let updated = fhir.put(slot.clone());
    assert_eq!(updated["status"], "busy");
    assert_ne!(updated["meta"]["versionId"].as_str().unwrap(), old_version);
    let stale =
        fhir.send("PUT", &format!("Slot/{}", clinic.slot_id("wed-1000")), Some(&slot), &[("If-Match", &format!("W/\"{old_version}\""))]);
    assert_eq!(stale.status, 412, "{}", stale.body);
    let after = fhir.get(&query);
    assert_eq!(ids(&matches(&after)), vec![clinic.slot_id("wed-0900")]);
    assert_eq!(after["total"], 1);
}

const NOW: &str = "2026-03-01T12:00:00Z";
const FROM: &str = "2026-03-01T00:00:00Z";
const TO: &str = "2026-03-15T00:00:00Z";

/// `(start, end, provider, location, status, source)` of a `slots --json` listing.
fn listed(slots: &Value) -> Vec<(String, String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    slots
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {slots}"))
        .iter()
        .map(|x| (s(&x["start"]), s(&x["end"]), s(&x["provider"]), s(&x["location"]), s(&x["status"]), s(&x["source"])))
        .collect()
}

fn row(start: &str, end: &str) -> (String, String, String, String, String, String) {
    (start.into(), end.into(), "Dr. Ana Rivera".into(), "Main Street Clinic".into(), "free".into(), "Clinic FHIR".into())
}

#[test]
fn real_server_sync_through_cli() {
    let fhir = RealFhirServer::start();
    let clinic = seed(&fhir);
    let db = Db::new();

    let add = db.run(&[
        "--now",
        NOW,
        "integrations",
        "add",
        "fhir",
        "--name",
        "Clinic FHIR",
        "--base-url",
        &fhir.base_url,
        "--auth",
        "none",
        "--tz",
        "America/New_York",
    ]);
    assert_eq!(add.code, 0, "{}", add.stderr);

    // The free slots starting in the window: 09:00, 10:00, 19:00 EST on the 4th, 09:00 EDT on the 10th.
    let sync = db.run(&["--now", NOW, "--json", "sync", "--from", FROM, "--to", TO]);
    assert_eq!(sync.code, 0, "{}", sync.stderr);
    assert_eq!(
        sync.json(),
        json!([{
            "integration": "Clinic FHIR", "kind": "fhir", "added": 4, "changed": 0, "removed": 0, "unchanged": 0, "quarantined": 0,
            "complete": true, "failed": false, "from": FROM, "to": TO, "warnings": []
        }])
    );

    let slots = db.run(&["--json", "slots", "--from", FROM, "--to", TO]);
    assert_eq!(slots.code, 0, "{}", slots.stderr);
    assert_eq!(
        listed(&slots.json()),
        vec![
            row("2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z"),
            row("2026-03-04T15:00:00Z", "2026-03-04T15:30:00Z"),
            row("2026-03-05T00:00:00Z", "2026-03-05T00:30:00Z"),
            row("2026-03-10T13:00:00Z", "2026-03-10T13:30:00Z"),
        ]
    );

    // Someone books 10:00 EST at the EHR: the slot turns busy there, and the next sync drops it from the desk.
    let mut taken = clinic.slot("wed-1000").clone();
    taken["status"] = json!("busy");
    fhir.put(taken);
    let again = db.run(&["--now", NOW, "--json", "sync", "--from", FROM, "--to", TO]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.json(),
        json!([{
            "integration": "Clinic FHIR", "kind": "fhir", "added": 0, "changed": 0, "removed": 1, "unchanged": 3, "quarantined": 0,
            "complete": true, "failed": false, "from": FROM, "to": TO, "warnings": []
        }])
    );

    let free = db.run(&["--json", "slots", "--status", "free", "--from", FROM, "--to", TO]);
    assert_eq!(free.code, 0, "{}", free.stderr);
    assert_eq!(
        listed(&free.json()),
        vec![
            row("2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z"),
            row("2026-03-05T00:00:00Z", "2026-03-05T00:30:00Z"),
            row("2026-03-10T13:00:00Z", "2026-03-10T13:30:00Z"),
        ]
    );

    // Book 09:00 EST for a patient: the Appointment lands in the server, and the desk shows the slot busy.
    let patient = fhir.create(json!({ "resourceType": "Patient", "name": [{ "family": "Testpatient", "given": ["Pat"] }] }));
    let patient_id = patient["id"].as_str().unwrap();
    let slot_id = free.json().as_array().unwrap().iter().find(|s| s["start"] == "2026-03-04T14:00:00Z").unwrap()["id"].as_str().unwrap().to_string();
    let booked = db.run(&["--now", NOW, "--json", "book", &slot_id, "--patient", patient_id]);
    assert_eq!(booked.code, 0, "{}", booked.stderr);
    let appointment_id = booked.json()["appointment_id"].as_str().unwrap().to_string();
    let appt = fhir.get(&appointment_id);
    assert_eq!(appt["status"], "booked");
    assert_eq!(appt["slot"][0]["reference"], format!("Slot/{}", clinic.slot("wed-0900")["id"].as_str().unwrap()));
    assert_eq!(appt["start"], "2026-03-04T14:00:00Z");
    assert!(appt["participant"].as_array().unwrap().iter().any(|p| p["actor"]["reference"] == format!("Patient/{patient_id}")), "{appt}");
    let after = db.run(&["--json", "slots", "--status", "busy", "--from", FROM, "--to", TO]);
    assert_eq!(listed(&after.json()).len(), 1);

    // The same slot again: refused at the desk, with words for staff, and no second Appointment.
    let again = db.run(&["--now", NOW, "book", &slot_id, "--patient", patient_id]);
    assert_eq!(again.code, 1);
    assert_eq!(again.stderr.trim(), format!("error: this time is no longer free ({}); pick another time", slot_id.replace("slot-", "slot ")));
    let appts = fhir.get("Appointment?_total=accurate");
    assert_eq!(appts["total"], 1, "{appts}");
}
