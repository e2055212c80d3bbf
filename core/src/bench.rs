//! `medharmony bench`: throughput of the two hot paths on synthetic data, in a
//! temporary encrypted database. Never run in CI and never a timed test; the
//! README records its results with the machine they came from.
//!
//! 1. Import and expand a calendar of `events` VEVENTs (one in five a weekly
//!    RRULE on three weekdays, the rest single events, all with TZID) over a
//!    `days`-day window: parse + expand + one store transaction → events/s.
//! 2. Bulk upsert of `slots` published slots in one transaction, then the same
//!    set again (the idempotent path) → slots/s for each.

use std::fmt::Write as _;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};

use crate::import::ics::{parse_ics, IcsOptions};
use crate::model::SlotStatus;
use crate::store::key::DbKey;
use crate::store::{NewSlot, ProviderRef, Store};
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

/// Runs the benchmark and prints its results to stdout.
///
/// # Errors
/// Any failure of the temporary database or of parsing the synthetic data.
pub fn run(events: usize, days: i64, slots: usize) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let path = dir.join("bench.db");
    let mut store = Store::open(&path, &DbKey::generate()?)?;
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("fixed date");
    let window = Interval::new(now, now + Duration::days(days)).expect("positive window");
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
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = std::env::temp_dir().join(format!("medharmony-bench-{}", hex::encode(raw)));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
