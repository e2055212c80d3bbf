//! The deterministic ranking of waiting patients for one free slot.
//!
//! Order (fully deterministic, no randomness, no floating point):
//! 1. **Priority tier**: urgent, then soon, then routine. Tiers never mix: a
//!    routine patient with a huge score still comes after every soon one.
//! 2. **Score**, highest first, within the tier (integer points):
//!    * days waiting: [`POINTS_PER_DAY_WAITING`] per whole day since the patient was
//!      added, at most [`MAX_WAITING_POINTS`];
//!    * fit to preferences: [`PREFERRED_WINDOW_POINTS`] when the patient named
//!      preferred times and the slot lies inside one; 0 for a patient without a
//!      preference (such a patient takes any time, so the slot is no better a fit);
//!    * notice margin: one point per [`MARGIN_HOURS_PER_POINT`] hours of notice beyond
//!      the patient's minimum notice, at most [`MAX_MARGIN_POINTS`] (a patient with
//!      room to spare is more likely to make it).
//! 3. **Date added**, earliest first; then **patient id** (waitlist id), lowest first.
//!
//! The karma bonus ([`karma_bonus`]) rewards a patient who takes a slot at short
//! notice; it is the same for every patient offered the same slot, so it is shown
//! with each suggestion but does not change the order.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::filter::{preferred_window, suits, FillSlot};
use super::model::{LocalWindow, Priority, WaitlistEntry};

/// Points per whole day on the waitlist (1).
pub const POINTS_PER_DAY_WAITING: i64 = 1;
/// Cap on the waiting points (180: half a year).
pub const MAX_WAITING_POINTS: i64 = 180;
/// Points when the slot lies inside one of the patient's preferred windows (20).
pub const PREFERRED_WINDOW_POINTS: i64 = 20;
/// Hours of notice beyond the patient's minimum that earn one point (12).
pub const MARGIN_HOURS_PER_POINT: i64 = 12;
/// Cap on the notice-margin points (6, reached at 72 h beyond the minimum).
pub const MAX_MARGIN_POINTS: i64 = 6;

/// Karma bonus points for taking a slot offered `notice` before it starts:
/// under 24 h: 30; under 48 h: 20; under 72 h: 10; 72 h or more: 0.
/// Boundaries belong to the longer band (exactly 24 h earns 20).
pub fn karma_bonus(notice: Duration) -> u32 {
    let h = Duration::hours;
    if notice < h(24) {
        30
    } else if notice < h(48) {
        20
    } else if notice < h(72) {
        10
    } else {
        0
    }
}

/// One waiting patient who can take the slot, with why they rank where they do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The waiting patient.
    pub entry: WaitlistEntry,
    /// Priority tier (the first sort key).
    pub priority: Priority,
    /// Score within the tier (see the module docs).
    pub score: i64,
    /// Whole days since the patient was added.
    pub days_waiting: i64,
    /// Whole hours from now to the slot's start.
    pub notice_hours: i64,
    /// The preferred window the slot lies in; `None` when the patient has no preferred times.
    pub preferred_window: Option<LocalWindow>,
    /// Points for each part: `(waiting, preference, margin)`.
    pub points: (i64, i64, i64),
    /// For staff, e.g. `Waiting 41 days · prefers mornings · urgent`.
    pub reason: String,
    /// Karma bonus for taking this slot at this notice ([`karma_bonus`]).
    pub karma_bonus: u32,
}

/// Scores `entry` for `slot` at `now` without checking that the slot suits the patient.
pub fn candidate(entry: &WaitlistEntry, slot: &FillSlot, now: DateTime<Utc>) -> Candidate {
    let p = &entry.patient;
    let days_waiting = (now - p.added_at).num_days().max(0);
    let notice = slot.span.start - now;
    let window = preferred_window(p, slot.span);
    let waiting = (days_waiting * POINTS_PER_DAY_WAITING).min(MAX_WAITING_POINTS);
    let preference = if window.is_some() { PREFERRED_WINDOW_POINTS } else { 0 };
    let margin_hours = (notice - Duration::hours(i64::from(p.prefs.min_notice_hours))).num_hours().max(0);
    let margin = (margin_hours / MARGIN_HOURS_PER_POINT).min(MAX_MARGIN_POINTS);
    let day_word = if days_waiting == 1 { "day" } else { "days" };
    let pref_text = match (&window, p.prefs.preferred_times.is_empty()) {
        (Some(w), _) => format!("prefers {}", w.describe()),
        (None, true) => "any time".to_string(),
        (None, false) => "outside preferred times".to_string(),
    };
    Candidate {
        entry: entry.clone(),
        priority: p.priority,
        score: waiting + preference + margin,
        days_waiting,
        notice_hours: notice.num_hours(),
        preferred_window: window,
        points: (waiting, preference, margin),
        reason: format!("Waiting {days_waiting} {day_word} · {pref_text} · {}", p.priority),
        karma_bonus: karma_bonus(notice),
    }
}

/// The order of the module docs: tier, score, date added, id.
pub fn compare(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(b.score.cmp(&a.score))
        .then(a.entry.patient.added_at.cmp(&b.entry.patient.added_at))
        .then(a.entry.id.cmp(&b.entry.id))
}

/// Every entry the slot suits ([`suits`]), scored and sorted by [`compare`].
pub fn rank(entries: &[WaitlistEntry], slot: &FillSlot, now: DateTime<Utc>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = entries.iter().filter(|e| suits(&e.patient, slot, now)).map(|e| candidate(e, slot, now)).collect();
    out.sort_by(compare);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fill::model::{parse_windows, Patient};
    use crate::time::Interval;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn entry(id: i64, name: &str, priority: Priority, added: &str, windows: &str, min_notice: u32) -> WaitlistEntry {
        let mut p = Patient::new(name, chrono_tz::America::New_York, t(added));
        p.priority = priority;
        p.prefs.preferred_times = parse_windows(windows).unwrap();
        p.prefs.min_notice_hours = min_notice;
        WaitlistEntry { id, patient: p }
    }

    #[test]
    fn karma_bands() {
        let h = Duration::hours;
        assert_eq!(karma_bonus(h(3)), 30);
        assert_eq!(karma_bonus(h(24) - Duration::seconds(1)), 30);
        assert_eq!(karma_bonus(h(24)), 20);
        assert_eq!(karma_bonus(h(47)), 20);
        assert_eq!(karma_bonus(h(48)), 10);
        assert_eq!(karma_bonus(h(71)), 10);
        assert_eq!(karma_bonus(h(72)), 0);
    }

    #[test]
    fn deterministic_order_on_a_small_waitlist() {
        // Slot: Wednesday 2026-12-02 09:00-09:30 EST (14:00Z); now is Tuesday 12:00Z, so notice is 26 h.
        let slot = FillSlot {
            id: "slot-9".into(),
            provider: "Dr. Rivera".into(),
            location: None,
            span: Interval::new(t("2026-12-02T14:00:00Z"), t("2026-12-02T14:30:00Z")).unwrap(),
            service_type: None,
        };
        let now = t("2026-12-01T12:00:00Z");
        let list = vec![
            // A: routine, waiting 200 days (capped at 180), mornings (+20), no minimum (26 h margin = 2): 202.
            entry(1, "A", Priority::Routine, "2026-05-15T12:00:00Z", "08:00-12:00", 0),
            // B: urgent, waiting 3 days, no preference, no minimum (2): 5.
            entry(2, "B", Priority::Urgent, "2026-11-28T12:00:00Z", "", 0),
            // C: soon, waiting 41 days, mornings (+20), 24 h minimum (2 h margin = 0): 61.
            entry(3, "C", Priority::Soon, "2026-10-21T12:00:00Z", "08:00-12:00", 24),
            // D: soon, waiting 41 days, no preference, no minimum (2): 43.
            entry(4, "D", Priority::Soon, "2026-10-21T12:00:00Z", "", 0),
            // E: soon, same as D in every way but added one hour later (still 40 whole days + 23 h = 40 days): 42.
            entry(5, "E", Priority::Soon, "2026-10-21T13:00:00Z", "", 0),
            // F: soon, exactly the same as D (same instant added), higher id: tie broken by id.
            entry(6, "F", Priority::Soon, "2026-10-21T12:00:00Z", "", 0),
            // G: urgent but prefers afternoons: filtered out (09:00 is outside 13:00-17:00).
            entry(7, "G", Priority::Urgent, "2026-01-01T00:00:00Z", "13:00-17:00", 0),
            // H: urgent, needs 48 h notice: filtered out (26 h < 48 h).
            entry(8, "H", Priority::Urgent, "2026-01-01T00:00:00Z", "", 48),
        ];
        // Right order: B first, as the only urgent candidate left, whatever its score;
        // then the soon tier by score: C (61) > D (43) = F (43) > E (42); D before F
        // because the tie goes to the earlier date added, and as they were added at the
        // same instant, to the lower id; A (202) last, routine, despite the highest score.
        let ranked = rank(&list, &slot, now);
        let names: Vec<&str> = ranked.iter().map(|c| c.entry.patient.display_name.as_str()).collect();
        assert_eq!(names, ["B", "C", "D", "F", "E", "A"]);
        let scores: Vec<i64> = ranked.iter().map(|c| c.score).collect();
        assert_eq!(scores, [5, 61, 43, 43, 42, 202]);
        assert_eq!(ranked[1].points, (41, 20, 0));
        assert_eq!(ranked[1].reason, "Waiting 41 days · prefers mornings · soon");
        assert_eq!(ranked[0].reason, "Waiting 3 days · any time · urgent");
        assert!(ranked.iter().all(|c| c.karma_bonus == 20 && c.notice_hours == 26));
        // The same input in another order gives the same ranking.
        let mut reversed = list.clone();
        reversed.reverse();
        assert_eq!(rank(&reversed, &slot, now), ranked);
    }
}
