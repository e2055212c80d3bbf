//! `medharmony bench`: throughput of the hot paths (import, upsert, FHIR sync) on synthetic data, in a
//! temporary encrypted database. Never run in CI and never a timed test; the
//! README records its results with the machine they came from.
//!
//! 1. Import and expand a calendar of `events` VEVENTs (one in five a weekly
//!    RRULE on three weekdays, the rest single events, all with TZID) over a
//!    `days`-day window: parse + expand + one store transaction → events/s.
//! 2. Bulk upsert of `slots` published slots in one transaction, then the same
//!    set again (the idempotent path) → slots/s for each.
//! 3. FHIR sync (issue "FHIR connectors", benchmark): a local fake FHIR R4
//!    server (`tiny_http` on 127.0.0.1) serves `fhir_slots` Slots as searchset
//!    Bundles of `page_size` entries (`next` links, `_include`d Schedules,
//!    `total`); a real [`FhirConnector`] reads the window through [`FhirHttp`]
//!    and [`sync_integration`] applies it to the store, twice (the second read
//!    finds every slot unchanged) → slots/s for fetch + map, for the upsert,
//!    and end to end.
//!
//! 4. Cancellation fill (issue "Cancellation fill", benchmark): a synthetic
//!    waitlist of `waitlist` patients ([`synthetic_waitlist`]: varied priorities,
//!    zones, blocked weekdays and dates, preferred times, notice, wanted
//!    provider, visit type, locations, visit length, latest date) and
//!    [`FILL_SLOTS`] free published slots in the encrypted store; then
//!    [`crate::fill::suggest_for_slot`] (no language model) is timed
//!    `waitlist_runs` times, going round the free slots → median, 95th
//!    percentile and slowest milliseconds per suggestion ([`fill_suggest`]).
//!
//! On Linux each part also prints the process's peak resident set size so far
//! (`VmHWM` in `/proc/self/status`).
//!
//! A part whose count is 0 is skipped.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail};
use chrono::{DateTime, Duration, FixedOffset, SecondsFormat, TimeZone, Utc, Weekday};
use serde_json::{json, Value};

use crate::auth::{AuthConfig, NoAuth};
use crate::connector::fhir::{FhirConnector, PAGE_CAP};
use crate::connector::http::FhirHttp;
use crate::connector::{Booked, ChangeBatch, Connector, ConnectorError, IntegrationKind, IntegrationSettings, SlotToBook, WindowRead};
use crate::fill::model::{parse_windows, Patient, Priority};
use crate::import::ics::{parse_ics, IcsOptions};
use crate::model::SlotStatus;
use crate::store::key::DbKey;
use crate::store::{NewSlot, ProviderRef, Store};
use crate::sync::{sync_integration, SyncReport};
use crate::time::Interval;

/// Synthetic calendar text with `events` VEVENTs starting on 2026-01-05.
pub fn synthetic_calendar(events: usize) -> String {
    let mut s = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//MedHarmony//bench//EN\r\n");
    let first = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).expect("valid date");
    for i in 0..events {
        let date = (first + Duration::days((i % 80) as i64)).format("%Y%m%d");
        let hour = 7 + (i % 10);
        let (start_min, end_min) = if i % 2 == 0 { (0, 20) } else { (30, 50) };
        let _ = write!(
            s,
            "BEGIN:VEVENT\r\nUID:bench-{i}@medharmony\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART;TZID=America/New_York:{date}T{hour:02}{start_min:02}00\r\n\
             DTEND;TZID=America/New_York:{date}T{hour:02}{end_min:02}00\r\n"
        );
        if i % 5 == 0 {
            s.push_str("RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR\r\n");
        }
        let _ = write!(s, "SUMMARY:Bench event {i}\r\nEND:VEVENT\r\n");
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

/// What one `medharmony bench` run measures; a part whose count is 0 is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Calendar events to generate and expand (part 1).
    pub events: usize,
    /// Days of the expansion window (part 1).
    pub days: i64,
    /// Published slots to upsert (part 2).
    pub slots: usize,
    /// FHIR Slots to sync through the local fake server (part 3).
    pub fhir_slots: usize,
    /// Slots per FHIR search page (part 3; 0 is treated as 1).
    pub page_size: usize,
    /// Waiting patients of the cancellation-fill part (part 4).
    pub waitlist: usize,
    /// Timed suggestions of the cancellation-fill part (part 4; 0 is treated as 1).
    pub waitlist_runs: usize,
}

/// Runs the benchmark `plan` and prints its results to stdout, one part
/// after the other (see the module docs); a part with a count of 0 is skipped.
///
/// # Errors
/// Any failure of the temporary database, of parsing the synthetic data, of
/// the local fake FHIR server, a FHIR sync that did not read every slot, or
/// a suggestion that failed.
pub fn run(plan: &Plan) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let result = run_in(&dir, plan);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(dir: &std::path::Path, plan: &Plan) -> anyhow::Result<()> {
    let Plan { events, days, slots, fhir_slots, page_size, .. } = *plan;
    let path = dir.join("bench.db");
    let mut store = Store::open(&path, &DbKey::generate()?)?;
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("fixed date");

    if events > 0 {
        let window = Interval::new(now, now + Duration::days(days)).ok_or_else(|| anyhow!("--days must not be negative"))?;
        let text = synthetic_calendar(events);
        let t = Instant::now();
        let parsed = parse_ics(text.as_bytes(), &IcsOptions { provider_zone: chrono_tz::America::New_York, window })?;
        let parse_secs = t.elapsed().as_secs_f64();
        let provider = ProviderRef { name: "Bench Provider".into(), tz_if_new: Some(chrono_tz::America::New_York) };
        store.import_ics(&provider, "bench", window, &parsed, now)?;
        let total = t.elapsed().as_secs_f64();
        println!(
            "ics import: {} events -> {} instances over {days} days in {:.3} s (parse+expand {:.3} s): {:.0} events/s, {:.0} instances/s",
            parsed.events,
            parsed.instances.len(),
            total,
            parse_secs,
            parsed.events as f64 / total,
            parsed.instances.len() as f64 / total
        );
        print_peak_rss();
    }

    if slots > 0 {
        let rows: Vec<NewSlot> = (0..slots)
            .map(|i| {
                let start = now + Duration::minutes(15 * (i / 20) as i64);
                NewSlot {
                    provider: format!("Bench Provider {}", i % 20),
                    location: Some(format!("Room {}", i % 5)),
                    span: Interval::new(start, start + Duration::minutes(15)).expect("positive"),
                    status: SlotStatus::Free,
                    service_type: None,
                    tz_if_new: None,
                }
            })
            .collect();
        let slot_window = Interval::new(now, now + Duration::days(3650)).expect("positive window");
        for pass in ["first", "repeat"] {
            let t = Instant::now();
            let o = store.import_slots("bench-slots", Some(chrono_tz::America::Chicago), slot_window, &rows, true, now)?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "slot upsert ({pass}): {} slots in {:.3} s: {:.0} slots/s (inserted {}, unchanged {})",
                rows.len(),
                secs,
                rows.len() as f64 / secs,
                o.inserted,
                o.unchanged
            );
        }
        print_peak_rss();
    }
    drop(store);

    if fhir_slots > 0 {
        let mut store = Store::open(&dir.join("bench-fhir.db"), &DbKey::generate()?)?;
        let result = fhir_sync(&mut store, fhir_slots, page_size, now)?;
        for (pass, t) in [("first", &result.first), ("repeat", &result.repeat)] {
            let n = result.slots as f64;
            println!(
                "fhir sync ({pass}): {} slots in {} pages of {}: fetch+map {:.3} s ({:.0} slots/s), upsert {:.3} s ({:.0} slots/s), \
                 end to end {:.3} s ({:.0} slots/s) (added {}, unchanged {})",
                result.slots,
                result.pages,
                page_size,
                t.fetch_map_secs,
                n / t.fetch_map_secs,
                t.upsert_secs(),
                n / t.upsert_secs(),
                t.total_secs,
                n / t.total_secs,
                t.report.added,
                t.report.unchanged
            );
        }
        print_peak_rss();
    }

    if plan.waitlist > 0 {
        let mut store = Store::open(&dir.join("bench-fill.db"), &DbKey::generate()?)?;
        let r = fill_suggest(&mut store, plan.waitlist, plan.waitlist_runs, now)?;
        println!(
            "fill suggest: {} waiting, {} free slots ({}..{} eligible per slot), loaded in {:.3} s; {} suggestions (no language model): \
             median {:.1} ms, p95 {:.1} ms, max {:.1} ms (reading the waitlist alone: median {:.1} ms)",
            r.waiting, r.slots, r.eligible_min, r.eligible_max, r.load_secs, r.runs, r.median_ms, r.p95_ms, r.max_ms, r.read_median_ms
        );
        print_peak_rss();
    }
    Ok(())
}

/// The providers of the cancellation-fill benchmark's slots (all in New York).
pub const FILL_PROVIDERS: [&str; 4] = ["Dr. Bench 0", "Dr. Bench 1", "Dr. Bench 2", "Dr. Bench 3"];
/// The locations of the cancellation-fill benchmark's slots.
pub const FILL_LOCATIONS: [&str; 3] = ["North", "South", "East"];
/// The visit types of the cancellation-fill benchmark's slots.
pub const FILL_TYPES: [&str; 2] = ["Follow-up", "New patient"];
/// How many free slots the cancellation-fill benchmark offers (see [`fill_slots`]).
pub const FILL_SLOTS: usize = 12;
/// The zones of the synthetic waitlist's patients.
const FILL_ZONES: [chrono_tz::Tz; 7] = [
    chrono_tz::America::New_York,
    chrono_tz::America::Chicago,
    chrono_tz::America::Denver,
    chrono_tz::America::Phoenix,
    chrono_tz::America::Los_Angeles,
    chrono_tz::America::Anchorage,
    chrono_tz::Pacific::Honolulu,
];

/// A synthetic waitlist of `n` patients ("Bench Patient <i>"), added up to
/// 400 days before `now`, each choice taken from `i` modulo a different
/// number so that the combinations spread (the moduli are coprime):
///
/// * priority (`i % 10`): 0 urgent, 1–3 soon, else routine;
/// * zone (`i % 7`): New York, Chicago, Denver, Phoenix, Los Angeles, Anchorage, Honolulu;
/// * preferred times (`i % 3`): 08:00–12:00; 12:00–17:00 and 17:00–20:00; any time;
/// * minimum notice (`i % 5`): 0, 4, 12, 24 or 48 hours;
/// * visit type (`i % 4`): Follow-up, New patient, else any;
/// * blocked weekdays (`i % 11`): 0–2 Sat and Sun, 3 Mon, 4 Wed and Fri, else none;
/// * wanted provider (`i % 13`): 0–3 that one of [`FILL_PROVIDERS`], else any;
/// * locations (`i % 17`): 0–2 that one of [`FILL_LOCATIONS`], 3 North or South, else any;
/// * blocked date (`i % 19 == 0`): the date 4 days after `now`'s UTC date (the second day of [`fill_slots`]);
/// * visit length (`i % 23`): 0 60 minutes, 1–4 30 minutes, else any;
/// * latest date (`i % 29 == 0`): the date 1 day after `now`'s UTC date (the first day of [`fill_slots`]).
///
/// The slots' patient-local dates are their UTC dates in all these zones.
///
/// Every patient has a phone, an e-mail and one source-system id.
pub fn synthetic_waitlist(n: usize, now: DateTime<Utc>) -> Vec<Patient> {
    let windows = |spec: &str| parse_windows(spec).expect("valid windows");
    let (morning, afternoon_evening) = (windows("08:00-12:00"), windows("12:00-17:00;17:00-20:00"));
    (0..n)
        .map(|i| {
            let today = now.date_naive();
            let added = now - Duration::days(((i * 37) % 400) as i64) - Duration::hours((i % 24) as i64);
            let mut p = Patient::new(&format!("Bench Patient {i}"), FILL_ZONES[i % 7], added);
            p.phone = Some(format!("+1 555 {:07}", i));
            p.email = Some(format!("bench{i}@example.org"));
            p.source_ids.insert("Bench EHR".into(), format!("B{i}"));
            p.priority = match i % 10 {
                0 => Priority::Urgent,
                1..=3 => Priority::Soon,
                _ => Priority::Routine,
            };
            p.prefs.preferred_times = match i % 3 {
                0 => morning.clone(),
                1 => afternoon_evening.clone(),
                _ => vec![],
            };
            p.prefs.min_notice_hours = [0, 4, 12, 24, 48][i % 5];
            p.wants.service_type = FILL_TYPES.get(i % 4).map(|t| t.to_string());
            p.prefs.blocked_weekdays = match i % 11 {
                0..=2 => vec![Weekday::Sat, Weekday::Sun],
                3 => vec![Weekday::Mon],
                4 => vec![Weekday::Wed, Weekday::Fri],
                _ => vec![],
            };
            p.wants.provider = FILL_PROVIDERS.get(i % 13).map(|s| s.to_string());
            p.wants.locations = match i % 17 {
                k @ 0..=2 => vec![FILL_LOCATIONS[k].to_string()],
                3 => vec!["North".into(), "South".into()],
                _ => vec![],
            };
            if i % 19 == 0 {
                p.prefs.blocked_dates = vec![today + Duration::days(4)];
            }
            p.wants.duration_minutes = match i % 23 {
                0 => Some(60),
                1..=4 => Some(30),
                _ => None,
            };
            if i % 29 == 0 {
                p.prefs.latest_date = Some(today + Duration::days(1));
            }
            p
        })
        .collect()
}

/// The [`FILL_SLOTS`] free 30-minute published slots of the fill benchmark: slot `j` is
/// with `FILL_PROVIDERS[j % 4]` at `FILL_LOCATIONS[j % 3]`, visit type `FILL_TYPES[j % 2]`,
/// on day 1, 4 or 5 after `now`'s UTC date (`j / 4`) at 14:00, 16:00, 18:00 or 20:00 UTC
/// (`j % 4`; 09:00–15:00 in New York in winter).
pub fn fill_slots(now: DateTime<Utc>) -> Vec<NewSlot> {
    let midnight = now.date_naive().and_hms_opt(0, 0, 0).expect("valid time").and_utc();
    (0..FILL_SLOTS)
        .map(|j| {
            let start = midnight + Duration::days([1, 4, 5][j / 4]) + Duration::hours(14 + 2 * (j % 4) as i64);
            NewSlot {
                provider: FILL_PROVIDERS[j % 4].into(),
                location: Some(FILL_LOCATIONS[j % 3].into()),
                span: Interval::new(start, start + Duration::minutes(30)).expect("positive"),
                status: SlotStatus::Free,
                service_type: Some(FILL_TYPES[j % 2].into()),
                tz_if_new: None,
            }
        })
        .collect()
}

/// The result of [`fill_suggest`].
#[derive(Debug, Clone, PartialEq)]
pub struct FillBench {
    /// Patients on the waitlist.
    pub waiting: usize,
    /// Free slots suggestions were asked for.
    pub slots: usize,
    /// Timed suggestions.
    pub runs: usize,
    /// Fewest patients one of the slots suits.
    pub eligible_min: usize,
    /// Most patients one of the slots suits.
    pub eligible_max: usize,
    /// Seconds to put the waitlist and the slots into the store.
    pub load_secs: f64,
    /// Median milliseconds per suggestion.
    pub median_ms: f64,
    /// 95th percentile (nearest rank), milliseconds per suggestion.
    pub p95_ms: f64,
    /// Slowest suggestion, milliseconds.
    pub max_ms: f64,
    /// Median milliseconds of reading the whole waitlist from the store alone ([`Store::waitlist`],
    /// the part of a suggestion that does not depend on the slot).
    pub read_median_ms: f64,
}

/// Puts [`synthetic_waitlist`]`(waiting)` and [`fill_slots`] into `store` (one
/// transaction each), then times [`crate::fill::suggest_for_slot`] without a
/// language model `runs` times (0 is treated as 1) at `now`, going round the free
/// slots in id order, after one untimed call per slot (which also gives the eligible counts);
/// then times reading the waitlist alone `runs` times.
///
/// # Errors
/// Store errors, or a suggestion that failed.
pub fn fill_suggest(store: &mut Store, waiting: usize, runs: usize, now: DateTime<Utc>) -> anyhow::Result<FillBench> {
    let t = Instant::now();
    let slots = fill_slots(now);
    let window = Interval::new(now, now + Duration::days(30)).expect("positive window");
    store.import_slots("bench-fill", Some(chrono_tz::America::New_York), window, &slots, true, now)?;
    store.import_waitlist(&synthetic_waitlist(waiting, now), now)?;
    let load_secs = t.elapsed().as_secs_f64();
    let ids: Vec<String> = store.published_slots(None, window)?.iter().map(|s| format!("slot-{}", s.id)).collect();
    let mut eligible = Vec::with_capacity(ids.len());
    for id in &ids {
        eligible.push(crate::fill::suggest_for_slot(store, id, now, None)?.eligible);
    }
    let runs = runs.max(1);
    let mut samples = Vec::with_capacity(runs);
    for id in ids.iter().cycle().take(runs) {
        let t = Instant::now();
        let s = crate::fill::suggest_for_slot(store, id, now, None)?;
        samples.push(t.elapsed());
        std::hint::black_box(s);
    }
    samples.sort();
    let ms = |q: f64| nearest_rank(&samples, q).as_secs_f64() * 1000.0;
    let mut reads = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(store.waitlist()?);
        reads.push(t.elapsed());
    }
    reads.sort();
    Ok(FillBench {
        waiting,
        slots: ids.len(),
        runs,
        eligible_min: eligible.iter().copied().min().unwrap_or(0),
        eligible_max: eligible.iter().copied().max().unwrap_or(0),
        load_secs,
        median_ms: ms(0.5),
        p95_ms: ms(0.95),
        max_ms: ms(1.0),
        read_median_ms: nearest_rank(&reads, 0.5).as_secs_f64() * 1000.0,
    })
}

/// The `q`-quantile (0 < q ≤ 1) of `sorted` by the nearest-rank method: the element at
/// rank ⌈q·n⌉; zero for an empty list.
pub fn nearest_rank(sorted: &[std::time::Duration], q: f64) -> std::time::Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied().unwrap_or_default()
}

/// How many practitioners (each with its own Schedule) the synthetic FHIR slots are spread over.
pub const FHIR_PRACTITIONERS: usize = 20;

/// Synthetic R4 Slot search results: `slots` free 15-minute Slots (ids
/// `bench-<n>`) in searchset Bundles (HL7 FHIR R4 §3.1.1.6 paging, §3.1.1.5.7
/// `_include`) of `page_size` match entries each, every page carrying the
/// Schedules its Slots reference as `search.mode = include` entries, `total` =
/// `slots`, and a `next` link `{base_url}/Slot?page=<k+1>` except on the last
/// page. Slots are spread over [`FHIR_PRACTITIONERS`] schedules, 36 a day
/// from 08:00 EST (13:00 UTC) starting on `first_day`'s date, and written
/// with a `-05:00` offset as FHIR `instant`s.
///
/// Returns the pages' JSON text, page 1 first (none when `slots` is 0).
/// `page_size` 0 is treated as 1.
pub fn synthetic_slot_pages(base_url: &str, slots: usize, page_size: usize, first_day: DateTime<Utc>) -> Vec<String> {
    let page_size = page_size.max(1);
    let est = FixedOffset::west_opt(5 * 3600).expect("valid offset");
    let day0 = first_day.date_naive().and_hms_opt(13, 0, 0).expect("valid time").and_utc();
    let instant = |t: DateTime<Utc>| t.with_timezone(&est).to_rfc3339_opts(SecondsFormat::Secs, false);
    let pages = slots.div_ceil(page_size);
    (0..pages)
        .map(|p| {
            let range = p * page_size..((p + 1) * page_size).min(slots);
            let mut entries: Vec<Value> = Vec::with_capacity(range.len() + FHIR_PRACTITIONERS);
            let mut schedules = std::collections::BTreeSet::new();
            for i in range {
                let (k, n) = (i % FHIR_PRACTITIONERS, i / FHIR_PRACTITIONERS);
                let start = day0 + Duration::days((n / 36) as i64) + Duration::minutes(15 * (n % 36) as i64);
                schedules.insert(k);
                entries.push(json!({
                    "fullUrl": format!("{base_url}/Slot/bench-{i}"),
                    "resource": {
                        "resourceType": "Slot",
                        "id": format!("bench-{i}"),
                        "meta": { "versionId": "1", "lastUpdated": "2025-12-31T12:00:00Z" },
                        "serviceType": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "124", "display": "General Practice" }] }],
                        "schedule": { "reference": format!("Schedule/bench-schedule-{k}") },
                        "status": "free",
                        "start": instant(start),
                        "end": instant(start + Duration::minutes(15))
                    },
                    "search": { "mode": "match" }
                }));
            }
            for k in schedules {
                entries.push(json!({
                    "fullUrl": format!("{base_url}/Schedule/bench-schedule-{k}"),
                    "resource": {
                        "resourceType": "Schedule",
                        "id": format!("bench-schedule-{k}"),
                        "active": true,
                        "actor": [
                            { "reference": format!("Practitioner/bench-practitioner-{k}"), "display": format!("Dr. Bench {k}") },
                            { "reference": format!("Location/bench-location-{}", k % 5), "display": format!("Bench Clinic {}", k % 5) }
                        ]
                    },
                    "search": { "mode": "include" }
                }));
            }
            let mut links = vec![json!({ "relation": "self", "url": format!("{base_url}/Slot?page={}", p + 1) })];
            if p + 1 < pages {
                links.push(json!({ "relation": "next", "url": format!("{base_url}/Slot?page={}", p + 2) }));
            }
            json!({ "resourceType": "Bundle", "type": "searchset", "total": slots, "link": links, "entry": entries }).to_string()
        })
        .collect()
}

/// A local fake FHIR server: answers `GET /r4/Slot` with page 1 of its pages
/// and `GET /r4/Slot?page=k` with page k; anything else is 404. Stops when dropped.
struct FakeFhir {
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeFhir {
    /// Binds 127.0.0.1 on a free port; returns the server and its FHIR base URL.
    fn bind() -> anyhow::Result<(Arc<tiny_http::Server>, String)> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow!("could not start the local fake FHIR server: {e}"))?;
        let port = server.server_addr().to_ip().map(|a| a.port()).ok_or_else(|| anyhow!("the local fake FHIR server has no port"))?;
        Ok((Arc::new(server), format!("http://127.0.0.1:{port}/r4")))
    }

    fn serve(server: Arc<tiny_http::Server>, pages: Vec<String>) -> FakeFhir {
        let listener = server.clone();
        let thread = std::thread::spawn(move || {
            let content_type = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/fhir+json"[..]).expect("valid header");
            for request in listener.incoming_requests() {
                let response = match page_of(request.url(), pages.len()) {
                    Some(k) => tiny_http::Response::from_string(pages[k - 1].as_str()).with_header(content_type.clone()),
                    None => tiny_http::Response::from_string("{}").with_status_code(404),
                };
                // tiny_http's own `respond` writes through a 1 KiB buffer, so a
                // page leaves in many small writes and Nagle's algorithm meets
                // the client's delayed ACK (about 40 ms per page on Linux
                // loopback). Print the whole response first, then write it at once.
                let mut bytes = Vec::new();
                if response.raw_print(&mut bytes, request.http_version().clone(), request.headers(), false, None).is_ok() {
                    let mut writer = request.into_writer();
                    let _ = writer.write_all(&bytes).and_then(|()| writer.flush());
                }
            }
        });
        FakeFhir { server, thread: Some(thread) }
    }
}

impl Drop for FakeFhir {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The 1-based page a request path asks for (`/r4/Slot` → 1, `/r4/Slot?page=3` → 3), if it exists.
fn page_of(path_and_query: &str, pages: usize) -> Option<usize> {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    if path != "/r4/Slot" {
        return None;
    }
    let page = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "page")
        .map(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(Some(1))?;
    (1..=pages).contains(&page).then_some(page)
}

/// Times [`Connector::availability`] (fetch + map) inside a real sync.
struct Timed<C> {
    inner: C,
    fetch_map_secs: f64,
}

impl<C: Connector> Connector for Timed<C> {
    fn kind(&self) -> IntegrationKind {
        self.inner.kind()
    }
    fn availability(&mut self, window: Interval) -> Result<WindowRead, ConnectorError> {
        let t = Instant::now();
        let read = self.inner.availability(window);
        self.fetch_map_secs += t.elapsed().as_secs_f64();
        read
    }
    fn changes_since(&mut self, cursor: Option<&str>, now: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
        self.inner.changes_since(cursor, now)
    }
    fn book(&mut self, slot: &SlotToBook, patient_id: &str) -> Result<Booked, ConnectorError> {
        self.inner.book(slot, patient_id)
    }
    fn cancel(&mut self, appointment_id: &str) -> Result<(), ConnectorError> {
        self.inner.cancel(appointment_id)
    }
}

/// One timed sync of the FHIR benchmark.
#[derive(Debug, Clone)]
pub struct SyncTiming {
    /// Seconds in [`Connector::availability`]: HTTP, JSON parsing and mapping of every page.
    pub fetch_map_secs: f64,
    /// Seconds of the whole [`sync_integration`] call.
    pub total_secs: f64,
    /// The sync's report.
    pub report: SyncReport,
}

impl SyncTiming {
    /// Seconds spent applying the window to the store (and recording the report): total − fetch+map.
    pub fn upsert_secs(&self) -> f64 {
        (self.total_secs - self.fetch_map_secs).max(f64::MIN_POSITIVE)
    }
}

/// The result of [`fhir_sync`].
#[derive(Debug, Clone)]
pub struct FhirBench {
    /// Slots served.
    pub slots: usize,
    /// Pages served.
    pub pages: usize,
    /// The first sync (every slot new).
    pub first: SyncTiming,
    /// The same sync again (every slot unchanged).
    pub repeat: SyncTiming,
}

/// Serves [`synthetic_slot_pages`] (`slots` in pages of `page_size`) from a
/// local fake FHIR server, connects a generic FHIR integration to it in
/// `store`, and runs [`sync_integration`] twice over a window holding every slot.
///
/// # Errors
/// The fake server could not start, a store failure, or a sync that failed or
/// was incomplete, or did not add (first) / find unchanged (repeat) exactly `slots` slots.
pub fn fhir_sync(store: &mut Store, slots: usize, page_size: usize, now: DateTime<Utc>) -> anyhow::Result<FhirBench> {
    let page_size = page_size.max(1);
    let (server, base_url) = FakeFhir::bind()?;
    let first_day = now + Duration::days(1);
    let pages = synthetic_slot_pages(&base_url, slots, page_size, first_day);
    let page_count = pages.len();
    let _fake = FakeFhir::serve(server, pages);
    let days = (slots.div_ceil(FHIR_PRACTITIONERS).div_ceil(36) + 2) as i64;
    let window = Interval::new(now, first_day + Duration::days(days)).expect("positive window");
    let settings = IntegrationSettings {
        base_url,
        stu3_base_url: None,
        tz: "America/New_York".into(),
        auth: AuthConfig::None,
        service_types: vec![],
        practitioners: vec![],
        locations: vec![],
        page_size: u32::try_from(page_size).unwrap_or(u32::MAX),
        athena: None,
        calendars: Vec::new(),
    };
    let integ = store.add_integration(IntegrationKind::Fhir, "Bench FHIR", &settings, now)?;
    let mut timings = Vec::new();
    for pass in 0..2 {
        let http = FhirHttp::new(FhirHttp::default_agent(), &integ.name, Box::new(NoAuth));
        // The product's page cap (500 pages) stays in force unless more pages were asked for.
        let connector = FhirConnector::new(IntegrationKind::Fhir, integ.settings.clone(), http).with_page_cap(page_count.max(PAGE_CAP));
        let mut timed = Timed { inner: connector, fetch_map_secs: 0.0 };
        let t = Instant::now();
        let report = sync_integration(store, &integ, &mut timed, window, now)?;
        let total_secs = t.elapsed().as_secs_f64();
        if report.failed || !report.complete {
            bail!("the benchmark sync did not read every slot: {}", report.problem.as_deref().unwrap_or("unknown problem"));
        }
        let (want, got) = if pass == 0 { ("added", report.added) } else { ("unchanged", report.unchanged) };
        if got != slots || report.quarantined != 0 {
            bail!("the benchmark sync should have {want} {slots} slots but {want} {got} ({} set aside)", report.quarantined);
        }
        timings.push(SyncTiming { fetch_map_secs: timed.fetch_map_secs, total_secs, report });
    }
    let repeat = timings.pop().expect("two passes");
    let first = timings.pop().expect("two passes");
    Ok(FhirBench { slots, pages: page_count, first, repeat })
}

/// The process's peak resident set size in KiB (`VmHWM`), where the OS tells it (Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn print_peak_rss() {
    if let Some(kib) = peak_rss_kib() {
        println!("  peak RSS so far: {:.1} MiB", kib as f64 / 1024.0);
    }
}

/// A new empty folder under the system temp dir for one benchmark run (the caller removes it).
///
/// # Errors
/// The folder cannot be created.
pub fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = std::env::temp_dir().join(format!("medharmony-bench-{}", hex::encode(raw)));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::fhir::map::slot_page;

    #[test]
    fn synthetic_pages_parse_to_exactly_the_slots_asked_for_with_next_links_and_includes() {
        let base = "http://127.0.0.1:9/r4";
        let first_day = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).single().unwrap();
        let pages = synthetic_slot_pages(base, 250, 100, first_day);
        assert_eq!(pages.len(), 3);
        let mut ids = std::collections::HashSet::new();
        for (p, text) in pages.iter().enumerate() {
            let bundle: Value = serde_json::from_str(text).unwrap();
            let page = slot_page(&bundle).unwrap();
            assert_eq!(page.total, Some(250));
            assert!(page.quarantined.is_empty(), "{:?}", page.quarantined);
            assert_eq!(page.slots.len(), if p < 2 { 100 } else { 50 });
            assert_eq!(page.schedules.len(), FHIR_PRACTITIONERS, "each page includes the schedules of its slots");
            assert_eq!(page.next, (p < 2).then(|| format!("{base}/Slot?page={}", p + 2)));
            for s in &page.slots {
                assert!(s.provider.starts_with("Dr. Bench "), "resolved through the included Schedule: {}", s.provider);
                assert_eq!(s.span.duration(), Duration::minutes(15));
                assert!(ids.insert(s.external_id.clone()), "{} listed twice", s.external_id);
            }
        }
        assert_eq!(ids.len(), 250);
        // Slot 0 starts at 08:00 EST on the first day: 13:00 UTC.
        let first: Value = serde_json::from_str(&pages[0]).unwrap();
        assert_eq!(first["entry"][0]["resource"]["start"], "2026-01-02T08:00:00-05:00");
        assert!(synthetic_slot_pages(base, 0, 100, first_day).is_empty());
    }

    #[test]
    fn the_synthetic_waitlist_varies_every_choice_and_fill_suggest_counts_what_the_filter_allows() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap();
        let list = synthetic_waitlist(1000, now);
        assert_eq!(list.len(), 1000);
        let count = |f: &dyn Fn(&Patient) -> bool| list.iter().filter(|p| f(p)).count();
        assert_eq!(count(&|p| p.priority == Priority::Urgent), 100);
        assert_eq!(count(&|p| p.priority == Priority::Soon), 300);
        assert_eq!(list.iter().map(|p| p.tz).collect::<std::collections::HashSet<_>>().len(), 7);
        assert_eq!(count(&|p| p.prefs.preferred_times.is_empty()), 333);
        assert_eq!(count(&|p| p.wants.provider.is_some()), 308, "i % 13 in 0..=3");
        assert_eq!(count(&|p| p.prefs.blocked_weekdays.contains(&Weekday::Sat)), 273, "i % 11 in 0..=2");
        assert_eq!(count(&|p| p.prefs.min_notice_hours == 48), 200);
        assert_eq!(count(&|p| p.prefs.latest_date.is_some()), 35);
        assert!(list.iter().all(|p| p.validate().is_ok() && p.added_at <= now));

        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("f.db"), &DbKey::Raw([5; 32])).unwrap();
        let r = fill_suggest(&mut store, 1000, 30, now).unwrap();
        assert_eq!((r.waiting, r.slots, r.runs), (1000, FILL_SLOTS, 30));
        // The eligible counts are exactly what the filter says for each slot.
        let slots = store.published_slots(None, Interval::new(now, now + Duration::days(30)).unwrap()).unwrap();
        let eligible: Vec<usize> = slots
            .iter()
            .map(|s| {
                let slot = crate::fill::free_slot(&store, &format!("slot-{}", s.id)).unwrap();
                list.iter().filter(|p| crate::fill::filter::suits(p, &slot, now)).count()
            })
            .collect();
        assert_eq!((r.eligible_min, r.eligible_max), (*eligible.iter().min().unwrap(), *eligible.iter().max().unwrap()));
        assert!(r.eligible_min > 0 && r.eligible_max < 1000 && r.eligible_min < r.eligible_max, "{eligible:?}");
        assert!(r.median_ms > 0.0 && r.median_ms <= r.p95_ms && r.p95_ms <= r.max_ms);
    }

    #[test]
    fn nearest_rank_picks_the_ceiling_rank() {
        let ms = |v: &[u64]| v.iter().map(|m| std::time::Duration::from_millis(*m)).collect::<Vec<_>>();
        let s = ms(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
        assert_eq!(nearest_rank(&s, 0.5), std::time::Duration::from_millis(10));
        assert_eq!(nearest_rank(&s, 0.95), std::time::Duration::from_millis(19));
        assert_eq!(nearest_rank(&s, 1.0), std::time::Duration::from_millis(20));
        assert_eq!(nearest_rank(&ms(&[7]), 0.95), std::time::Duration::from_millis(7));
        assert_eq!(nearest_rank(&[], 0.5), std::time::Duration::ZERO);
    }

    #[test]
    fn page_of_reads_the_page_parameter() {
        assert_eq!(page_of("/r4/Slot?status=free&_count=100", 3), Some(1));
        assert_eq!(page_of("/r4/Slot?page=3", 3), Some(3));
        assert_eq!(page_of("/r4/Slot?page=4", 3), None);
        assert_eq!(page_of("/r4/Slot?page=x", 3), None);
        assert_eq!(page_of("/r4/Schedule/1", 3), None);
    }

    #[test]
    fn fhir_sync_reads_every_page_through_the_connector_and_finds_them_unchanged_the_second_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("b.db"), &DbKey::Raw([3; 32])).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap();
        let r = fhir_sync(&mut store, 230, 50, now).unwrap();
        assert_eq!(r.pages, 5);
        assert_eq!((r.first.report.added, r.first.report.unchanged), (230, 0));
        assert_eq!((r.repeat.report.added, r.repeat.report.changed, r.repeat.report.unchanged), (0, 0, 230));
        let window = Interval::new(now, now + Duration::days(30)).unwrap();
        let cached = store.published_slots(None, window).unwrap();
        assert_eq!(cached.len(), 230);
        assert!(cached.iter().all(|s| s.source == "Bench FHIR" && s.provider.starts_with("Dr. Bench ")));
    }
}
