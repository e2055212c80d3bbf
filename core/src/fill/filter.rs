//! Which waiting patients a free slot can go to: pure, exact rules.
//!
//! A slot suits a patient when every rule below holds; [`rejections`] lists
//! every rule that fails, each with a [`Rejection`] code.
//!
//! * **Blocked weekday / date**: the patient-local date of the slot's start (in
//!   the *patient's* zone, not the provider's) is not a blocked weekday or date.
//! * **Preferred times**: the whole slot `[start, end)` lies inside one preferred
//!   window of the patient-local day on which it starts. The window's ends are
//!   turned into instants with [`Zone::to_utc`] (a window edge in a DST gap moves
//!   forward, an ambiguous one takes the earlier instant), so on a DST-change day
//!   the window is as long as it really is on the wall clock. No windows = any time.
//! * **Notice**: `slot start − now ≥ min notice hours`. Exactly at the boundary
//!   passes (a patient who needs 24 h notice accepts a slot starting in exactly 24 h).
//!   A slot that has already started (`start ≤ now`) never passes, even with no minimum.
//! * **Latest date**: the patient-local date of the slot's start is on or before it.
//! * **Visit type**: the slot's service type equals the wanted one, ignoring case;
//!   a wanted type of "any" (or none) matches every slot, and a slot without a
//!   service type (a working-hours cell) takes any visit type.
//! * **Duration**: the slot is at least as long as the minutes the visit needs.
//! * **Provider**: the slot's provider is the wanted one (ignoring case), or any.
//! * **Location**: the slot's location is one of the wanted ones (ignoring case), or
//!   any. A slot whose location is not known does not suit a patient who named locations.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};
use serde::Serialize;

use super::model::{is_any, LocalWindow, Patient};
use crate::time::{Interval, Zone};

/// A free slot as the fill rules see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillSlot {
    /// Slot id as `medharmony slots` lists it (`slot-42`, `grid-3-20261201T140000Z`).
    pub id: String,
    /// Provider display name.
    pub provider: String,
    /// Location name, if known.
    pub location: Option<String>,
    /// `[start, end)` UTC, serialized as `"start"` and `"end"` (RFC 3339, `Z`).
    #[serde(flatten)]
    pub span: Interval,
    /// Visit / service type, if the source gives one.
    pub service_type: Option<String>,
}

/// Why a slot does not suit a patient (serialized as the snake_case code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The slot starts on a weekday the patient blocked (patient-local).
    BlockedWeekday,
    /// The slot starts on a date the patient blocked (patient-local).
    BlockedDate,
    /// The slot does not lie inside one of the patient's preferred windows.
    OutsidePreferredTimes,
    /// The slot starts too soon for the patient's minimum notice.
    NoticeTooShort,
    /// The slot has already started.
    AlreadyStarted,
    /// The slot starts after the patient's latest acceptable date (patient-local).
    AfterLatestDate,
    /// The slot's visit type is not the one the patient waits for.
    VisitType,
    /// The slot is shorter than the visit needs.
    TooShort,
    /// The slot is with another provider.
    Provider,
    /// The slot is at another (or an unknown) location.
    Location,
}

impl Rejection {
    /// The code, e.g. `blocked_weekday`.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::BlockedWeekday => "blocked_weekday",
            Rejection::BlockedDate => "blocked_date",
            Rejection::OutsidePreferredTimes => "outside_preferred_times",
            Rejection::NoticeTooShort => "notice_too_short",
            Rejection::AlreadyStarted => "already_started",
            Rejection::AfterLatestDate => "after_latest_date",
            Rejection::VisitType => "visit_type",
            Rejection::TooShort => "too_short",
            Rejection::Provider => "provider",
            Rejection::Location => "location",
        }
    }
}

/// Every rule of the module docs that `slot` breaks for `patient` at `now`, in
/// the order of [`Rejection`]; empty when the slot suits the patient.
pub fn rejections(patient: &Patient, slot: &FillSlot, now: DateTime<Utc>) -> Vec<Rejection> {
    let mut out = Vec::new();
    let zone = Zone::Iana(patient.tz);
    let local_start = zone.to_local(slot.span.start);
    let day = local_start.date();
    let p = &patient.prefs;
    if p.blocked_weekdays.contains(&day.weekday()) {
        out.push(Rejection::BlockedWeekday);
    }
    if p.blocked_dates.contains(&day) {
        out.push(Rejection::BlockedDate);
    }
    if !p.preferred_times.is_empty() && preferred_window(patient, slot.span).is_none() {
        out.push(Rejection::OutsidePreferredTimes);
    }
    let notice = slot.span.start - now;
    if notice <= Duration::zero() {
        out.push(Rejection::AlreadyStarted);
    } else if notice < Duration::hours(i64::from(p.min_notice_hours)) {
        out.push(Rejection::NoticeTooShort);
    }
    if p.latest_date.is_some_and(|latest| day > latest) {
        out.push(Rejection::AfterLatestDate);
    }
    let w = &patient.wants;
    if let (Some(want), Some(have)) = (w.service_type.as_deref().filter(|s| !is_any(s)), slot.service_type.as_deref()) {
        if !want.trim().eq_ignore_ascii_case(have.trim()) {
            out.push(Rejection::VisitType);
        }
    }
    if w.duration_minutes.is_some_and(|m| slot.span.duration() < Duration::minutes(i64::from(m))) {
        out.push(Rejection::TooShort);
    }
    if let Some(want) = w.provider.as_deref().filter(|s| !is_any(s)) {
        if !want.trim().eq_ignore_ascii_case(slot.provider.trim()) {
            out.push(Rejection::Provider);
        }
    }
    let wanted_locations: Vec<&String> = w.locations.iter().filter(|l| !is_any(l)).collect();
    if !wanted_locations.is_empty() {
        let ok = slot.location.as_deref().is_some_and(|have| wanted_locations.iter().any(|l| l.trim().eq_ignore_ascii_case(have.trim())));
        if !ok {
            out.push(Rejection::Location);
        }
    }
    out
}

/// True when `slot` suits `patient` at `now` (no [`rejections`]).
pub fn suits(patient: &Patient, slot: &FillSlot, now: DateTime<Utc>) -> bool {
    rejections(patient, slot, now).is_empty()
}

/// The first of the patient's preferred windows that holds all of `span`, on the
/// patient-local day on which `span` starts; `None` when none does (or there are none).
pub fn preferred_window(patient: &Patient, span: Interval) -> Option<LocalWindow> {
    let zone = Zone::Iana(patient.tz);
    let day = zone.to_local(span.start).date();
    patient.prefs.preferred_times.iter().copied().find(|w| {
        let ws = zone.to_utc(day.and_time(w.start));
        let we = if w.end == NaiveTime::MIN {
            zone.to_utc((day + Duration::days(1)).and_time(NaiveTime::MIN))
        } else {
            zone.to_utc(day.and_time(w.end))
        };
        ws <= span.start && span.end <= we
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fill::model::{parse_windows, Priority};
    use chrono::Weekday;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn slot(start: &str, end: &str) -> FillSlot {
        FillSlot {
            id: "slot-1".into(),
            provider: "Dr. Rivera".into(),
            location: Some("North Clinic".into()),
            span: Interval::new(t(start), t(end)).unwrap(),
            service_type: Some("Follow-up".into()),
        }
    }

    fn patient(tz: chrono_tz::Tz) -> Patient {
        let mut p = Patient::new("Test Patient", tz, t("2026-01-01T00:00:00Z"));
        p.priority = Priority::Routine;
        p
    }

    #[test]
    fn a_blocked_weekday_is_read_in_the_patients_zone() {
        // Provider in New York: Friday 2026-12-04 20:00 EST = Saturday 01:00Z; in Berlin it is Saturday 02:00.
        let s = slot("2026-12-05T01:00:00Z", "2026-12-05T01:30:00Z");
        let now = t("2026-12-01T00:00:00Z");
        let mut berlin = patient(chrono_tz::Europe::Berlin);
        berlin.prefs.blocked_weekdays = vec![Weekday::Sat];
        assert_eq!(rejections(&berlin, &s, now), vec![Rejection::BlockedWeekday]);
        // The same rule for a New York patient: it is still Friday there, so it passes.
        let mut ny = patient(chrono_tz::America::New_York);
        ny.prefs.blocked_weekdays = vec![Weekday::Sat];
        assert!(suits(&ny, &s, now));
        ny.prefs.blocked_weekdays = vec![Weekday::Fri];
        assert_eq!(rejections(&ny, &s, now), vec![Rejection::BlockedWeekday]);
    }

    #[test]
    fn a_blocked_date_is_a_patient_local_date() {
        let s = slot("2026-12-24T23:30:00Z", "2026-12-25T00:00:00Z");
        let now = t("2026-12-01T00:00:00Z");
        let mut p = patient(chrono_tz::Asia::Tokyo); // 08:30 on the 25th in Tokyo
        p.prefs.blocked_dates = vec![chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()];
        assert!(suits(&p, &s, now));
        p.prefs.blocked_dates = vec![chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()];
        assert_eq!(rejections(&p, &s, now), vec![Rejection::BlockedDate]);
    }

    #[test]
    fn a_slot_must_lie_inside_one_preferred_window() {
        let now = t("2026-12-01T00:00:00Z");
        let mut p = patient(chrono_tz::America::New_York);
        p.prefs.preferred_times = parse_windows("08:00-12:00; 13:00-15:00").unwrap();
        // Wednesday 2026-12-02, EST (UTC-5). 11:30-12:00 local: inside the morning window (end exclusive = boundary ok).
        assert!(suits(&p, &slot("2026-12-02T16:30:00Z", "2026-12-02T17:00:00Z"), now));
        assert_eq!(preferred_window(&p, slot("2026-12-02T16:30:00Z", "2026-12-02T17:00:00Z").span).unwrap().spec(), "08:00-12:00");
        // 11:45-12:15 local: runs past the window's end.
        assert_eq!(rejections(&p, &slot("2026-12-02T16:45:00Z", "2026-12-02T17:15:00Z"), now), vec![Rejection::OutsidePreferredTimes]);
        // 12:30-13:30 local: straddles the lunch gap between two windows: not inside one.
        assert_eq!(rejections(&p, &slot("2026-12-02T17:30:00Z", "2026-12-02T18:30:00Z"), now), vec![Rejection::OutsidePreferredTimes]);
        // 07:30-08:00 local: before the window.
        assert_eq!(rejections(&p, &slot("2026-12-02T12:30:00Z", "2026-12-02T13:00:00Z"), now), vec![Rejection::OutsidePreferredTimes]);
        // No windows: any time.
        p.prefs.preferred_times.clear();
        assert!(suits(&p, &slot("2026-12-02T12:30:00Z", "2026-12-02T13:00:00Z"), now));
    }

    #[test]
    fn notice_exactly_at_the_boundary_passes() {
        let mut p = patient(chrono_tz::UTC);
        p.prefs.min_notice_hours = 24;
        let s = slot("2026-12-02T09:00:00Z", "2026-12-02T09:30:00Z");
        assert!(suits(&p, &s, t("2026-12-01T09:00:00Z")), "exactly 24 h of notice");
        assert_eq!(rejections(&p, &s, t("2026-12-01T09:00:01Z")), vec![Rejection::NoticeTooShort], "one second short");
        assert!(suits(&p, &s, t("2026-12-01T08:59:59Z")));
        // A slot that has started is never offered, even with no minimum notice.
        p.prefs.min_notice_hours = 0;
        assert_eq!(rejections(&p, &s, t("2026-12-02T09:00:00Z")), vec![Rejection::AlreadyStarted]);
        assert!(suits(&p, &s, t("2026-12-02T08:59:59Z")));
    }

    #[test]
    fn preferred_window_on_a_dst_change_day() {
        // New York springs forward on Sunday 2026-03-08: 02:00 EST → 03:00 EDT.
        // Window 01:00-04:00 local is only two real hours that day: 06:00Z to 08:00Z.
        let now = t("2026-03-01T00:00:00Z");
        let mut p = patient(chrono_tz::America::New_York);
        p.prefs.preferred_times = parse_windows("01:00-04:00").unwrap();
        // 03:00-04:00 EDT = 07:00Z-08:00Z: inside.
        assert!(suits(&p, &slot("2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"), now));
        // 04:00-04:30 EDT = 08:00Z-08:30Z: outside (on a normal day 08:00Z would be 03:00 EST, inside).
        assert_eq!(rejections(&p, &slot("2026-03-08T08:00:00Z", "2026-03-08T08:30:00Z"), now), vec![Rejection::OutsidePreferredTimes]);
        assert!(suits(&p, &slot("2026-03-09T08:00:00Z", "2026-03-09T08:30:00Z"), now).eq(&false), "03/09 is EDT: 04:00 local, outside");
        assert!(suits(&p, &slot("2026-03-07T08:00:00Z", "2026-03-07T08:30:00Z"), now), "03/07 is EST: 03:00 local, inside");
        // Fall back on 2026-11-01: 01:00-04:00 local is four real hours, 05:00Z to 09:00Z.
        assert!(suits(&p, &slot("2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z"), now));
        assert_eq!(rejections(&p, &slot("2026-11-01T04:30:00Z", "2026-11-01T05:30:00Z"), now), vec![Rejection::OutsidePreferredTimes]);
    }

    #[test]
    fn a_patient_in_another_zone_than_the_provider() {
        // Provider in Los Angeles offers 09:00-09:30 PST on Monday 2026-12-07 = 17:00Z;
        // the patient lives in New York, where it is 12:00-12:30 EST.
        let s = slot("2026-12-07T17:00:00Z", "2026-12-07T17:30:00Z");
        let now = t("2026-12-01T00:00:00Z");
        let mut p = patient(chrono_tz::America::New_York);
        p.prefs.preferred_times = parse_windows("08:00-12:00").unwrap();
        assert_eq!(rejections(&p, &s, now), vec![Rejection::OutsidePreferredTimes], "noon in New York is not a morning");
        p.prefs.preferred_times = parse_windows("12:00-17:00").unwrap();
        assert!(suits(&p, &s, now));
        // Latest date read in the patient's zone: 2026-12-07T23:30Z is still the 7th in New York, the 8th in Berlin.
        let late = slot("2026-12-07T23:30:00Z", "2026-12-08T00:00:00Z");
        p.prefs.preferred_times.clear();
        p.prefs.latest_date = Some(chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
        assert!(suits(&p, &late, now));
        p.tz = chrono_tz::Europe::Berlin;
        assert_eq!(rejections(&p, &late, now), vec![Rejection::AfterLatestDate]);
    }

    #[test]
    fn visit_type_duration_provider_and_location() {
        let now = t("2026-12-01T00:00:00Z");
        let s = slot("2026-12-02T15:00:00Z", "2026-12-02T15:30:00Z");
        let mut p = patient(chrono_tz::UTC);
        p.wants.service_type = Some("FOLLOW-UP".into());
        p.wants.duration_minutes = Some(30);
        p.wants.provider = Some("dr. rivera".into());
        p.wants.locations = vec!["South".into(), "north clinic".into()];
        assert!(suits(&p, &s, now));
        p.wants.service_type = Some("any".into());
        assert!(suits(&p, &s, now));
        p.wants.service_type = Some("New patient".into());
        p.wants.duration_minutes = Some(31);
        p.wants.provider = Some("Dr. Chen".into());
        p.wants.locations = vec!["South".into()];
        assert_eq!(rejections(&p, &s, now), vec![Rejection::VisitType, Rejection::TooShort, Rejection::Provider, Rejection::Location]);
        // A working-hours cell has no service type and no location: any visit type, but not a named location.
        let cell = FillSlot { service_type: None, location: None, ..s.clone() };
        p.wants.duration_minutes = None;
        p.wants.provider = None;
        assert_eq!(rejections(&p, &cell, now), vec![Rejection::Location]);
        p.wants.locations.clear();
        assert!(suits(&p, &cell, now));
    }
}
