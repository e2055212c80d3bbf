//! Opening notifications (issue "Cancellation fill"): when syncs, change feeds or webhooks turn a
//! booked future slot free, the desk is told at once — "Dr. Rivera, Tue Dec 8, 10:30 AM opened —
//! 3 waitlisted patients fit" — and a click opens the app on that slot.
//!
//! * [`OpeningWatch`] follows the store's `openings` table (written in the same transaction as the
//!   slot change, see [`crate::store::holds`]) from the last opening it saw, and counts the waiting
//!   patients each new opening suits with the deterministic filter ([`super::filter::suits`], the
//!   same rule [`super::suggest_for_slot`] counts as `eligible`), so the notification never waits
//!   for a language model.
//! * [`NoticeBoard`] decides what to show: nothing during [`QuietHours`] (the openings are still
//!   listed in the app); openings arriving within [`COALESCE`] of the previous one join it, so a
//!   burst of cancellations is one notification that lists them (the shell replaces the one on
//!   screen) rather than a stack. The first opening of a burst is announced at once, never delayed
//!   by the coalescing.
//!
//! Texts name the provider and the time only, never a patient.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};

use super::settings::QuietHours;
use super::filter::suits;
use super::{free_slot, FillError};
use crate::store::holds::Opening;
use crate::store::Store;
use crate::time::parse_iana;

/// Openings arriving within this long of the previous one join its notification (3 s).
pub const COALESCE: Duration = Duration::from_secs(3);
/// At most this many openings are read per poll (the rest on the next).
pub const POLL_LIMIT: i64 = 200;
/// At most this many openings are listed in one notification's body; the rest are counted.
pub const MAX_LISTED: usize = 5;

/// A new opening and how many waiting patients it suits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOpening {
    /// The opening.
    pub opening: Opening,
    /// Waiting patients the slot suits (deterministic filter at detection time).
    pub fits: usize,
}

/// What to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Identifies this notification; a later notice with the same id replaces it on screen.
    pub id: u64,
    /// One line, e.g. `Dr. Rivera, Tue Dec 8, 10:30 AM opened — 3 waitlisted patients fit`.
    pub summary: String,
    /// What to do, and for a burst one line per opening.
    pub body: String,
    /// The slots announced (`slot-<n>`), soonest first; a click opens the app on the first.
    pub slots: Vec<String>,
}

/// `Tue Dec 8, 10:30 AM` in the provider's zone (UTC when the zone cannot be read).
pub fn slot_label(o: &Opening) -> String {
    let fmt = "%a %b %-d, %-I:%M %p";
    match parse_iana(&o.provider_tz) {
        Some(tz) => o.start.with_timezone(&tz).format(fmt).to_string(),
        None => format!("{} UTC", o.start.format(fmt)),
    }
}

fn fits_words(n: usize) -> String {
    match n {
        0 => "no waitlisted patient fits".into(),
        1 => "1 waitlisted patient fits".into(),
        n => format!("{n} waitlisted patients fit"),
    }
}

/// Decides which openings are announced and how ([`Notice`]).
#[derive(Debug, Default)]
pub struct NoticeBoard {
    next_id: u64,
    /// The notice on screen while more may join it: (its id, when its last opening came, its openings).
    current: Option<(u64, DateTime<Utc>, Vec<NewOpening>)>,
}

impl NoticeBoard {
    /// The notice for `openings` found at `now`, when the desk computer's wall clock reads
    /// `local_time`: `None` when nothing is to be shown (no opening still free and ahead, or quiet
    /// hours). Within [`COALESCE`] of the previous announced opening, the returned notice has the
    /// previous notice's id and lists both.
    pub fn on_openings(&mut self, openings: Vec<NewOpening>, now: DateTime<Utc>, local_time: NaiveTime, quiet: Option<&QuietHours>) -> Option<Notice> {
        let fresh: Vec<NewOpening> = openings.into_iter().filter(|n| n.opening.still_free && n.opening.start > now).collect();
        if fresh.is_empty() || quiet.is_some_and(|q| q.contains(local_time)) {
            return None;
        }
        let window = chrono::Duration::from_std(COALESCE).expect("3 s fits");
        let (id, mut list) = match self.current.take() {
            Some((id, last, list)) if now - last <= window => (id, list),
            _ => {
                self.next_id += 1;
                (self.next_id, Vec::new())
            }
        };
        for n in fresh {
            list.retain(|o| o.opening.slot != n.opening.slot);
            list.push(n);
        }
        list.sort_by(|a, b| a.opening.start.cmp(&b.opening.start).then_with(|| a.opening.slot.cmp(&b.opening.slot)));
        let notice = render(id, &list);
        self.current = Some((id, now, list));
        Some(notice)
    }
}

fn render(id: u64, list: &[NewOpening]) -> Notice {
    let slots = list.iter().map(|n| n.opening.slot.clone()).collect();
    if let [one] = list {
        return Notice {
            id,
            summary: format!("{}, {} opened — {}", one.opening.provider, slot_label(&one.opening), fits_words(one.fits)),
            body: if one.fits == 0 {
                "Open MedHarmony Desk to see the time.".into()
            } else {
                "Open MedHarmony Desk to see who to offer it to.".into()
            },
            slots,
        };
    }
    let mut lines: Vec<String> = list
        .iter()
        .take(MAX_LISTED)
        .map(|n| format!("{}, {} — {}", n.opening.provider, slot_label(&n.opening), fits_words(n.fits)))
        .collect();
    if list.len() > MAX_LISTED {
        lines.push(format!("and {} more", list.len() - MAX_LISTED));
    }
    lines.push("Open MedHarmony Desk to see who to offer them to.".into());
    Notice { id, summary: format!("{} times opened", list.len()), body: lines.join("\n"), slots }
}

/// Follows the store's openings from the last one seen.
#[derive(Debug)]
pub struct OpeningWatch {
    last_id: i64,
}

impl OpeningWatch {
    /// A watch that announces only openings recorded after this call (earlier ones are listed
    /// in the app, not announced again when it starts).
    ///
    /// # Errors
    /// Store errors.
    pub fn from_now(store: &Store) -> Result<Self, FillError> {
        Ok(OpeningWatch { last_id: store.last_opening_id()? })
    }

    /// A watch that announces openings with an id above `last_id`.
    pub fn after(last_id: i64) -> Self {
        OpeningWatch { last_id }
    }

    /// The openings recorded since the last poll (at most [`POLL_LIMIT`]), each with how many
    /// waiting patients it suits at `now`. A slot no longer free counts 0 fits.
    ///
    /// # Errors
    /// Store errors (the watch does not move on, so the next poll tries again).
    pub fn poll(&mut self, store: &Store, now: DateTime<Utc>) -> Result<Vec<NewOpening>, FillError> {
        let openings = store.openings_after(self.last_id, POLL_LIMIT, now)?;
        // Read once per poll (a burst of cancellations shares it), and only when a time is still free.
        let mut waiting = None;
        let mut out = Vec::with_capacity(openings.len());
        for opening in openings {
            let fits = if opening.still_free && opening.start > now {
                match free_slot(store, &opening.slot) {
                    Ok(slot) => {
                        if waiting.is_none() {
                            waiting = Some(store.waitlist()?);
                        }
                        waiting.iter().flatten().filter(|e| suits(&e.patient, &slot, now)).count()
                    }
                    Err(FillError::SlotNotFree(_)) => 0,
                    Err(e) => return Err(e),
                }
            } else {
                0
            };
            out.push(NewOpening { opening, fits });
        }
        if let Some(last) = out.last() {
            self.last_id = last.opening.id;
        }
        Ok(out)
    }
}

/// What [`bench_latency`] measured (never run in CI; `medharmony bench --notice-rounds N`).
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyReport {
    /// Cancellations measured.
    pub rounds: usize,
    /// Patients on the waitlist during the run.
    pub waitlist: usize,
    /// Median milliseconds from the sync's commit to the notice being ready to show.
    pub median_ms: f64,
    /// 95th percentile of the same, in milliseconds.
    pub p95_ms: f64,
    /// Slowest, in milliseconds.
    pub max_ms: f64,
}

/// Measures the latency from a change arriving (a sync's transaction that frees a booked slot
/// commits) to the notification call: the store's event sink wakes a watcher thread with its own
/// connection, as the desktop app's announcer does, which reads the opening, counts the waiting
/// patients who fit (deterministic filter over a `waitlist`-patient list) and renders the
/// [`Notice`]. The notification service's own time is not included. `rounds` cancellations, one
/// after another, in a new encrypted database under `dir`.
///
/// # Errors
/// Plain words when the database cannot be set up or a round finds no opening.
pub fn bench_latency(dir: &std::path::Path, rounds: usize, waitlist: usize) -> Result<LatencyReport, String> {
    use std::sync::mpsc::{sync_channel, SyncSender};
    use std::sync::Arc;
    use std::time::Instant;

    use crate::connector::{IntegrationKind, IntegrationSettings, RemoteSlot, WindowRead};
    use crate::events::{Change, EventSink};
    use crate::model::SlotStatus;
    use crate::store::key::DbKey;
    use crate::time::Interval;

    struct Wake(SyncSender<Instant>);
    impl EventSink for Wake {
        fn emit(&self, _: &Change) {
            let _ = self.0.try_send(Instant::now());
        }
    }
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let db = dir.join("notice-bench.db");
    let key = DbKey::generate().map_err(|e| err(&e))?;
    let t0 = Utc::now();
    let mut store = Store::open(&db, &key).map_err(|e| err(&e))?;
    let settings = IntegrationSettings::new("http://127.0.0.1:9/r4", "America/New_York", crate::auth::AuthConfig::None);
    let integ = store.add_integration(IntegrationKind::Fhir, "Bench FHIR", &settings, t0).map_err(|e| err(&e))?;
    let patients: Vec<super::Patient> = (0..waitlist)
        .map(|i| {
            let mut p = super::Patient::new(&format!("Patient {i}"), chrono_tz::America::New_York, t0 - chrono::Duration::days((i % 90) as i64));
            p.priority = [super::Priority::Routine, super::Priority::Soon, super::Priority::Urgent][i % 3];
            p.prefs.min_notice_hours = (i % 48) as u32;
            p
        })
        .collect();
    store.import_waitlist(&patients, t0).map_err(|e| err(&e))?;
    let first = (t0 + chrono::Duration::days(2)).date_naive().and_hms_opt(15, 0, 0).expect("15:00").and_utc();
    let window = Interval { start: first - chrono::Duration::days(1), end: first + chrono::Duration::days(30) };
    let slot = |i: usize, status| RemoteSlot {
        external_id: format!("s{i}"),
        span: Interval { start: first + chrono::Duration::hours(i as i64), end: first + chrono::Duration::hours(i as i64) + chrono::Duration::minutes(30) },
        status,
        provider: "Dr. Bench".into(),
        provider_ref: None,
        location: None,
        location_ref: None,
        service_type: None,
        schedule_ref: None,
        booking: serde_json::json!({}),
    };
    let read = |free: usize| WindowRead {
        slots: (0..rounds).map(|i| slot(i, if i < free { SlotStatus::Free } else { SlotStatus::Busy })).collect(),
        quarantined: vec![],
        complete: true,
        incomplete_reason: None,
    };
    store.apply_window(&integ, window, &read(0), t0).map_err(|e| err(&e))?;
    let (tx, rx) = sync_channel::<Instant>(1);
    store.set_event_sink(Arc::new(Wake(tx)));
    let reader = Store::open(&db, &key).map_err(|e| err(&e))?;
    // The writer waits for each round to be announced before the next cancellation.
    let (done_tx, done_rx) = sync_channel::<()>(1);
    // Started before the first cancellation (not in the thread, which may start late under load
    // and would then take the first opening as already seen).
    let mut watch = OpeningWatch::from_now(&reader).map_err(|e| err(&e))?;
    let watcher = std::thread::spawn(move || -> Result<Vec<f64>, String> {
        let mut out = Vec::with_capacity(rounds);
        while out.len() < rounds {
            let Ok(committed) = rx.recv() else { break };
            let now = Utc::now();
            let found = watch.poll(&reader, now).map_err(|e| err(&e))?;
            if found.is_empty() {
                continue;
            }
            // Each round is measured as a fresh notice (no coalescing with the previous one).
            NoticeBoard::default().on_openings(found, now, NaiveTime::MIN, None).ok_or("a freed slot gave no notice")?;
            out.push(committed.elapsed().as_secs_f64() * 1000.0);
            let _ = done_tx.send(());
        }
        Ok(out)
    });
    for i in 1..=rounds {
        store.apply_window(&integ, window, &read(i), Utc::now()).map_err(|e| err(&e))?;
        if done_rx.recv_timeout(Duration::from_secs(10)).is_err() {
            break;
        }
    }
    drop(store);
    let mut ms = watcher.join().map_err(|_| "the watcher thread failed".to_string())??;
    if ms.len() != rounds {
        return Err(format!("{} of {rounds} cancellations were announced", ms.len()));
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    Ok(LatencyReport { rounds, waitlist, median_ms: at(0.5), p95_ms: at(0.95), max_ms: at(1.0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn hm(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    fn opening(id: i64, provider: &str, tz: &str, start: &str, fits: usize) -> NewOpening {
        NewOpening {
            opening: Opening {
                id,
                slot: format!("slot-{}", id * 10),
                provider: provider.into(),
                provider_tz: tz.into(),
                location: None,
                start: t(start),
                end: t(start) + chrono::Duration::minutes(30),
                detected_at: t("2026-12-07T15:00:00Z"),
                still_free: true,
                held_until: None,
                filled: false,
            },
            fits,
        }
    }

    #[test]
    fn one_opening_names_provider_local_time_and_fits() {
        let mut b = NoticeBoard::default();
        // 15:30 UTC on Tue 8 Dec 2026 is 10:30 in New York (EST, UTC−5).
        let n = b.on_openings(vec![opening(1, "Dr. Rivera", "America/New_York", "2026-12-08T15:30:00Z", 3)], t("2026-12-07T15:00:00Z"), hm("10:00"), None);
        let n = n.expect("announced");
        assert_eq!(n.summary, "Dr. Rivera, Tue Dec 8, 10:30 AM opened — 3 waitlisted patients fit");
        assert_eq!(n.body, "Open MedHarmony Desk to see who to offer it to.");
        assert_eq!(n.slots, ["slot-10"]);
        // Summer time: 14:30 UTC on 7 Jul is 10:30 EDT.
        assert_eq!(slot_label(&opening(2, "x", "America/New_York", "2026-07-07T14:30:00Z", 0).opening), "Tue Jul 7, 10:30 AM");
    }

    #[test]
    fn openings_within_three_seconds_join_one_notification_soonest_first() {
        let mut b = NoticeBoard::default();
        let now = t("2026-12-07T15:00:00Z");
        let first = b.on_openings(vec![opening(1, "Dr. Rivera", "America/New_York", "2026-12-09T15:30:00Z", 1)], now, hm("10:00"), None).unwrap();
        let second = b
            .on_openings(vec![opening(2, "Dr. Chen", "America/Chicago", "2026-12-08T15:00:00Z", 0)], now + chrono::Duration::seconds(3), hm("10:00"), None)
            .unwrap();
        assert_eq!(second.id, first.id, "replaces the notification on screen");
        assert_eq!(second.summary, "2 times opened");
        assert_eq!(
            second.body,
            "Dr. Chen, Tue Dec 8, 9:00 AM — no waitlisted patient fits\nDr. Rivera, Wed Dec 9, 10:30 AM — 1 waitlisted patient fits\nOpen MedHarmony Desk to see who to offer them to."
        );
        assert_eq!(second.slots, ["slot-20", "slot-10"]);
        // The window slides from the last opening: 3 s after the second still joins…
        let third = b
            .on_openings(vec![opening(3, "Dr. Chen", "America/Chicago", "2026-12-10T15:00:00Z", 2)], now + chrono::Duration::seconds(6), hm("10:00"), None)
            .unwrap();
        assert_eq!((third.id, third.slots.len()), (first.id, 3));
        // …but more than 3 s later a new notification starts, listing only the new opening.
        let later = b
            .on_openings(vec![opening(4, "Dr. Chen", "America/Chicago", "2026-12-11T15:00:00Z", 2)], now + chrono::Duration::milliseconds(9001), hm("10:00"), None)
            .unwrap();
        assert_ne!(later.id, first.id);
        assert_eq!(later.slots, ["slot-40"]);
        assert_eq!(later.summary, "Dr. Chen, Fri Dec 11, 9:00 AM opened — 2 waitlisted patients fit");
    }

    #[test]
    fn a_long_burst_lists_five_and_counts_the_rest() {
        let mut b = NoticeBoard::default();
        let list = (1..=7).map(|i| opening(i, "Dr. Rivera", "America/New_York", &format!("2026-12-{:02}T15:30:00Z", 8 + i), 1)).collect();
        let n = b.on_openings(list, t("2026-12-07T15:00:00Z"), hm("10:00"), None).unwrap();
        assert_eq!(n.summary, "7 times opened");
        let lines: Vec<&str> = n.body.lines().collect();
        assert_eq!(lines.len(), 7);
        assert_eq!(lines[5], "and 2 more");
    }

    #[test]
    fn quiet_hours_and_stale_openings_are_not_announced() {
        let mut b = NoticeBoard::default();
        let now = t("2026-12-07T15:00:00Z");
        let quiet = QuietHours::parse("19:00", "07:00").unwrap();
        let one = || vec![opening(1, "Dr. Rivera", "America/New_York", "2026-12-08T15:30:00Z", 3)];
        assert_eq!(b.on_openings(one(), now, hm("22:15"), Some(&quiet)), None);
        assert_eq!(b.on_openings(one(), now, hm("06:59"), Some(&quiet)), None);
        assert!(b.on_openings(one(), now, hm("07:00"), Some(&quiet)).is_some());
        // Booked again before the poll, or already begun: nothing to offer.
        let mut taken = opening(2, "Dr. Rivera", "America/New_York", "2026-12-08T16:00:00Z", 3);
        taken.opening.still_free = false;
        let begun = opening(3, "Dr. Rivera", "America/New_York", "2026-12-07T15:00:00Z", 3);
        assert_eq!(b.on_openings(vec![taken, begun], now + chrono::Duration::seconds(60), hm("10:00"), None), None);
    }

    #[test]
    fn the_latency_bench_announces_every_cancellation() {
        let dir = tempfile::tempdir().unwrap();
        let r = bench_latency(dir.path(), 3, 20).unwrap();
        assert_eq!((r.rounds, r.waitlist), (3, 20));
        assert!(r.median_ms <= r.p95_ms && r.p95_ms <= r.max_ms, "{r:?}");
    }
}
