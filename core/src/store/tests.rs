//! Store tests on real (encrypted) SQLite files in temporary directories.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::*;
use crate::events::{Change, EventSink};
use crate::import::ics::{BusyInstance, IcsImport};
use crate::model::BusyStatus;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn iv(a: &str, b: &str) -> Interval {
    Interval::new(t(a), t(b)).unwrap()
}

fn key() -> DbKey {
    DbKey::Raw([7; 32])
}

fn now() -> DateTime<Utc> {
    t("2026-03-01T12:00:00Z")
}

fn window() -> Interval {
    iv("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
}

fn inst(uid: &str, rid: Option<&str>, start: &str, end: &str, summary: &str) -> BusyInstance {
    BusyInstance {
        uid: uid.into(),
        recurrence_id: rid.map(t),
        span: iv(start, end),
        all_day: false,
        summary: Some(summary.into()),
        status: BusyStatus::Busy,
    }
}

fn parsed(instances: Vec<BusyInstance>, unreadable: &[&str]) -> IcsImport {
    let read_uids: BTreeSet<String> = instances.iter().map(|i| i.uid.clone()).filter(|u| !unreadable.contains(&u.as_str())).collect();
    IcsImport {
        events: read_uids.len(),
        instances,
        read_uids,
        unreadable_uids: unreadable.iter().map(|s| s.to_string()).collect(),
        skipped: vec![],
    }
}

fn rivera() -> ProviderRef {
    ProviderRef { name: "Dr. Rivera".into(), tz_if_new: Some(chrono_tz::America::New_York) }
}

/// (uid, recurrence id, start, end) of a stored busy instance.
type BusyTuple = (String, Option<DateTime<Utc>>, DateTime<Utc>, DateTime<Utc>);

fn busy_list(store: &Store) -> Vec<BusyTuple> {
    store
        .busy(None, iv("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"))
        .unwrap()
        .into_iter()
        .map(|b| (b.uid, b.recurrence_id, b.start, b.end))
        .collect()
}

#[test]
fn file_is_encrypted_and_needs_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    {
        let mut s = Store::open(&path, &key()).unwrap();
        let p = parsed(vec![inst("a@x", None, "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "Visit with Jane Roe")], &[]);
        s.import_ics(&rivera(), "rivera", window(), &p, now()).unwrap();
        s.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    for side in ["-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{}{side}", path.display())) {
            bytes.extend(b);
        }
    }
    let hay = String::from_utf8_lossy(&bytes);
    assert!(!hay.contains("Jane Roe"), "summary leaked in plain text");
    assert!(!hay.contains("Rivera"), "provider name leaked in plain text");
    assert!(!hay.contains("SQLite format 3"), "file is a plaintext SQLite database");

    let wrong = Store::open(&path, &DbKey::Raw([8; 32]));
    assert!(matches!(wrong, Err(StoreError::WrongKey { .. })), "{:?}", wrong.err());
    let reopened = Store::open(&path, &key()).unwrap();
    assert_eq!(busy_list(&reopened).len(), 1);
    assert_eq!(reopened.schema_version().unwrap(), migrations::latest_version());
}

#[test]
fn reimport_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db"), &key()).unwrap();
    let p = parsed(
        vec![
            inst("r@x", Some("2026-03-02T14:00:00Z"), "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "Rounds"),
            inst("r@x", Some("2026-03-03T14:00:00Z"), "2026-03-03T14:00:00Z", "2026-03-03T14:30:00Z", "Rounds"),
            inst("a@x", None, "2026-03-04T15:00:00Z", "2026-03-04T16:00:00Z", "Admin"),
        ],
        &[],
    );
    let (_, first) = s.import_ics(&rivera(), "rivera", window(), &p, now()).unwrap();
    assert_eq!((first.inserted, first.updated, first.removed, first.unchanged), (3, 0, 0, 0));
    let before = busy_list(&s);
    let (_, second) = s.import_ics(&rivera(), "rivera", window(), &p, now()).unwrap();
    assert_eq!((second.inserted, second.updated, second.removed, second.unchanged), (0, 0, 0, 3));
    assert_eq!(busy_list(&s), before);
    let n: i64 = s.conn().query_row("SELECT count(*) FROM busy_blocks", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 3);
}

#[test]
fn newer_export_removes_only_what_it_no_longer_contains() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db"), &key()).unwrap();
    let v1 = parsed(
        vec![
            inst("keep@x", None, "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "Keep"),
            inst("gone@x", None, "2026-03-03T14:00:00Z", "2026-03-03T14:30:00Z", "Gone"),
            inst("bad@x", Some("2026-03-04T14:00:00Z"), "2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z", "Bad later"),
            inst("bad@x", Some("2026-03-05T14:00:00Z"), "2026-03-05T14:00:00Z", "2026-03-05T14:30:00Z", "Bad later"),
            inst("moved@x", None, "2026-03-06T14:00:00Z", "2026-03-06T14:30:00Z", "Moved"),
        ],
        &[],
    );
    s.import_ics(&rivera(), "rivera", window(), &v1, now()).unwrap();
    // v2: gone@x left the file, bad@x is present but unreadable, moved@x changed time.
    let v2 = parsed(
        vec![
            inst("keep@x", None, "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "Keep"),
            inst("moved@x", None, "2026-03-06T16:00:00Z", "2026-03-06T16:30:00Z", "Moved"),
        ],
        &["bad@x"],
    );
    let (_, o) = s.import_ics(&rivera(), "rivera", window(), &v2, now()).unwrap();
    assert_eq!((o.inserted, o.updated, o.removed, o.unchanged), (0, 1, 1, 1));
    let uids: Vec<String> = busy_list(&s).into_iter().map(|b| b.0).collect();
    assert_eq!(uids, ["keep@x", "bad@x", "bad@x", "moved@x"]);
    let moved = busy_list(&s).into_iter().find(|b| b.0 == "moved@x").unwrap();
    assert_eq!(moved.2, t("2026-03-06T16:00:00Z"));
}

#[test]
fn instances_outside_the_window_of_a_readable_event_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db"), &key()).unwrap();
    let early = parsed(vec![inst("r@x", Some("2026-02-02T14:00:00Z"), "2026-02-02T14:00:00Z", "2026-02-02T14:30:00Z", "R")], &[]);
    s.import_ics(&rivera(), "rivera", iv("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"), &early, now()).unwrap();
    let later = parsed(vec![inst("r@x", Some("2026-03-02T14:00:00Z"), "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "R")], &[]);
    let (_, o) = s.import_ics(&rivera(), "rivera", window(), &later, now()).unwrap();
    assert_eq!(o.removed, 0);
    assert_eq!(busy_list(&s).len(), 2);
}

#[test]
fn feeds_are_per_provider_and_source_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db"), &key()).unwrap();
    let p = parsed(vec![inst("a@x", None, "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "A")], &[]);
    s.import_ics(&rivera(), "work", window(), &p, now()).unwrap();
    s.import_ics(&ProviderRef { name: "Dr. Chen".into(), tz_if_new: Some(chrono_tz::America::Denver) }, "work", window(), &p, now()).unwrap();
    // An empty newer export of Rivera's feed removes only Rivera's instance.
    let (_, o) = s.import_ics(&rivera(), "work", window(), &parsed(vec![], &[]), now()).unwrap();
    assert_eq!(o.removed, 1);
    let left = s.busy(None, window()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].provider, "Dr. Chen");
    assert_eq!(s.sources().unwrap().len(), 2);
}

#[test]
fn unknown_provider_without_zone_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db"), &key()).unwrap();
    let p = parsed(vec![inst("a@x", None, "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "A")], &[]);
    let err = s.import_ics(&ProviderRef { name: "Nobody".into(), tz_if_new: None }, "x", window(), &p, now()).unwrap_err();
    assert!(matches!(err, StoreError::UnknownProvider(_)));
    assert_eq!(s.last_change_seq().unwrap(), 0);
    assert!(s.sources().unwrap().is_empty());
}

fn slot(provider: &str, location: Option<&str>, a: &str, b: &str) -> NewSlot {
    NewSlot { provider: provider.into(), location: location.map(Into::into), span: iv(a, b), status: SlotStatus::Free, service_type: None, tz_if_new: None }
}

#[test]
fn slot_imports_upsert_and_remove_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db"), &key()).unwrap();
    let tz = Some(chrono_tz::America::New_York);
    let v1 = vec![
        slot("P-001", Some("Main"), "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z"),
        slot("P-002", None, "2026-03-02T15:00:00Z", "2026-03-02T15:20:00Z"),
    ];
    let o = s.import_slots("schedule", tz, window(), &v1, true, now()).unwrap();
    assert_eq!((o.inserted, o.removed), (2, 0));
    let ids: Vec<i64> = s.published_slots(None, window()).unwrap().iter().map(|x| x.id).collect();
    // Same content again: unchanged, same ids (stable for booking references).
    let o = s.import_slots("schedule", tz, window(), &v1, true, now()).unwrap();
    assert_eq!((o.inserted, o.unchanged), (0, 2));
    assert_eq!(s.published_slots(None, window()).unwrap().iter().map(|x| x.id).collect::<Vec<_>>(), ids);
    // Incomplete newer file (a row was unreadable): nothing removed.
    let o = s.import_slots("schedule", tz, window(), &v1[..1], false, now()).unwrap();
    assert_eq!(o.removed, 0);
    // Complete newer file: the missing slot goes.
    let o = s.import_slots("schedule", tz, window(), &v1[..1], true, now()).unwrap();
    assert_eq!(o.removed, 1);
    let left = s.published_slots(None, window()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].location.as_deref(), Some("Main"));
    let providers: Vec<String> = s.providers().unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(providers, ["P-001", "P-002"]);
}

#[test]
fn existing_provider_keeps_its_zone() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db"), &key()).unwrap();
    s.add_provider("P-001", chrono_tz::Europe::London, &WorkingHours::default_week(), 20, now()).unwrap();
    s.import_slots("x", Some(chrono_tz::Asia::Tokyo), window(), &[slot("p-001", None, "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z")], true, now())
        .unwrap();
    let p = s.provider("P-001").unwrap().unwrap();
    assert_eq!((p.tz, p.slot_minutes), (chrono_tz::Europe::London, 20));
    assert!(matches!(
        s.add_provider("p-001", chrono_tz::UTC, &WorkingHours::default_week(), 30, now()),
        Err(StoreError::ProviderExists(_))
    ));
}

struct Recorder(Mutex<Vec<Change>>);
impl EventSink for Recorder {
    fn emit(&self, change: &Change) {
        self.0.lock().unwrap().push(change.clone());
    }
}

#[test]
fn change_log_is_monotonic_visible_to_other_connections_and_emitted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut writer = Store::open(&path, &key()).unwrap();
    let rec = Arc::new(Recorder(Mutex::new(vec![])));
    writer.set_event_sink(rec.clone());
    let reader = Store::open(&path, &key()).unwrap();
    let p = parsed(vec![inst("a@x", None, "2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "A")], &[]);
    writer.import_ics(&rivera(), "rivera", window(), &p, now()).unwrap();
    writer.import_ics(&rivera(), "rivera", window(), &p, now()).unwrap();
    let seen = reader.changes_since(0, 100).unwrap();
    let kinds: Vec<(String, String)> = seen.iter().map(|c| (c.entity.clone(), c.op.clone())).collect();
    assert_eq!(kinds, [("provider", "add"), ("busy", "import"), ("busy", "import")].map(|(a, b)| (a.to_string(), b.to_string())));
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(seen[1].detail["inserted"], 1);
    assert_eq!(seen[2].detail["unchanged"], 1);
    assert_eq!(seen[2].detail["from"], "2026-03-01T00:00:00Z");
    assert_eq!(*rec.0.lock().unwrap(), seen);
    assert_eq!(reader.changes_since(seen[1].seq, 100).unwrap().len(), 1);
    let src = &reader.sources().unwrap()[0];
    assert_eq!(src.last_sync_at, Some(now()));
    assert_eq!(src.sync_minutes, 15);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    {
        let s = Store::open(&path, &key()).unwrap();
        s.conn().pragma_update(None, "user_version", 999).unwrap();
    }
    assert!(matches!(Store::open(&path, &key()), Err(StoreError::NewerSchema { found: 999, .. })));
}

#[test]
fn slots_a_source_stops_listing_are_kept_in_history_and_come_back_when_listed_again() {
    use crate::connector::{IntegrationKind, IntegrationSettings, RemoteSlot, WindowRead};
    use crate::model::SlotStatus;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("h.db"), &key()).unwrap();
    let settings = IntegrationSettings::new("https://fhir.example.org/r4", "America/New_York", crate::auth::AuthConfig::None);
    let integ = store.add_integration(IntegrationKind::Fhir, "Clinic FHIR", &settings, now()).unwrap();
    let slot = |id: &str, start: &str, end: &str| RemoteSlot {
        external_id: id.into(),
        span: iv(start, end),
        status: SlotStatus::Free,
        provider: "Dr. Rivera".into(),
        provider_ref: Some("Practitioner/p1".into()),
        location: None,
        location_ref: None,
        service_type: None,
        schedule_ref: None,
        booking: serde_json::json!({"versionId": "1"}),
    };
    let read = |slots: Vec<RemoteSlot>| WindowRead { slots, quarantined: vec![], complete: true, incomplete_reason: None };
    let a = slot("a", "2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z");
    let b = slot("b", "2026-03-04T15:00:00Z", "2026-03-04T15:30:00Z");
    store.apply_window(&integ, window(), &read(vec![a.clone(), b.clone()]), now()).unwrap();
    let listed = |store: &Store| store.published_slots(None, window()).unwrap().into_iter().map(|s| (s.id, s.span.start)).collect::<Vec<_>>();
    let before = listed(&store);
    assert_eq!(before.len(), 2);
    let b_id = before[1].0;

    // b is gone at the source: no longer listed nor bookable, but still in the database with the
    // change that removed it.
    let out = store.apply_window(&integ, window(), &read(vec![a.clone()]), now()).unwrap();
    assert_eq!((out.removed, out.unchanged), (1, 1));
    assert_eq!(listed(&store), vec![before[0]]);
    assert!(store.slot_for_booking(b_id).unwrap().is_none());
    let (kept, removed_seq): (i64, Option<i64>) =
        store.conn.query_row("SELECT count(*), max(removed_seq) FROM slots WHERE external_id = 'b'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(kept, 1);
    let removal = store.changes_since(0, 100).unwrap().into_iter().find(|c| Some(c.seq) == removed_seq).expect("the removing change");
    assert_eq!(removal.at, now());
    // Reading the same window again removes nothing more.
    let out = store.apply_window(&integ, window(), &read(vec![a.clone()]), now()).unwrap();
    assert_eq!((out.removed, out.unchanged), (0, 1));

    // Listed again: the same row comes back.
    let out = store.apply_window(&integ, window(), &read(vec![a, b]), now()).unwrap();
    assert_eq!((out.inserted, out.updated, out.removed, out.unchanged), (0, 1, 0, 1));
    assert_eq!(listed(&store), before);
    assert!(store.slot_for_booking(b_id).unwrap().is_some());
}
