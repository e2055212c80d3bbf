//! Time zones and the one place where local wall-clock times become instants.
//!
//! Every instant in MedHarmony is a UTC [`DateTime<Utc>`]; local times exist
//! only as [`NaiveDateTime`] values paired with a [`Zone`], and are turned into
//! instants by [`Zone::to_utc`], which applies the product's DST policy:
//!
//! * a local time inside a DST **gap** (it never happens on the wall clock) is
//!   interpreted with the UTC offset in effect *before* the gap, which shifts
//!   it forward by the length of the gap (RFC 5545 §3.3.5, "If the local time
//!   represented by a DATE-TIME value is nonexistent due to a DST transition,
//!   the DATE-TIME value is interpreted using the UTC offset before the gap";
//!   Google Calendar behaves the same way);
//! * a local time inside a DST **overlap** (it happens twice) is the *first*
//!   occurrence, i.e. the earlier instant.
//!
//! Intervals are half-open `[start, end)` throughout ([`Interval`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// A half-open interval of instants `[start, end)`, both UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    /// First instant inside the interval (UTC).
    pub start: DateTime<Utc>,
    /// First instant after the interval (UTC); never before `start`.
    pub end: DateTime<Utc>,
}

impl Interval {
    /// Builds `[start, end)`. Returns `None` when `end < start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (end >= start).then_some(Self { start, end })
    }

    /// True when the two half-open intervals share at least one instant.
    /// An empty interval overlaps nothing.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end && !self.is_empty() && !other.is_empty()
    }

    /// True when `start == end` (a zero-length interval, which blocks nothing).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Length of the interval.
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }
}

/// A custom zone defined only by an iCalendar VTIMEZONE (RFC 5545 §3.6.5),
/// precomputed as a table of transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomZone {
    /// The TZID the calendar used, e.g. `Customized Time Zone`.
    pub name: String,
    /// UTC offset in seconds before the first transition (east of UTC positive).
    pub initial_offset_seconds: i32,
    /// Transitions sorted by instant: from this UTC instant on, the offset is
    /// the given number of seconds east of UTC.
    pub transitions: Vec<(DateTime<Utc>, i32)>,
}

impl CustomZone {
    /// UTC offset in seconds (east positive) in effect at the instant `t`.
    pub fn offset_seconds_at(&self, t: DateTime<Utc>) -> i32 {
        let idx = self.transitions.partition_point(|(at, _)| *at <= t);
        if idx == 0 {
            self.initial_offset_seconds
        } else {
            self.transitions[idx - 1].1
        }
    }
}

/// A zone that local wall-clock times can be read in.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    /// An IANA zone from the tz database (via `chrono-tz`).
    Iana(Tz),
    /// A zone known only from a VTIMEZONE definition in a calendar file.
    Custom(Arc<CustomZone>),
}

impl Zone {
    /// The zone's name: the IANA name, or the custom TZID.
    pub fn name(&self) -> String {
        match self {
            Zone::Iana(tz) => tz.name().to_string(),
            Zone::Custom(c) => c.name.clone(),
        }
    }

    /// UTC offset in effect at the instant `t`.
    pub fn offset_at(&self, t: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Iana(tz) => tz.offset_from_utc_datetime(&t.naive_utc()).fix(),
            Zone::Custom(c) => FixedOffset::east_opt(c.offset_seconds_at(t)).unwrap_or(FixedOffset::east_opt(0).expect("zero offset")),
        }
    }

    /// Wall-clock time in this zone at the instant `t`.
    pub fn to_local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.naive_utc() + Duration::seconds(i64::from(self.offset_at(t).local_minus_utc()))
    }

    /// Converts a local wall-clock time in this zone into an instant, applying
    /// the DST policy of this module: a time in a gap uses the offset before the
    /// gap (RFC 5545 §3.3.5), a time in an overlap is its first occurrence.
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        if let Zone::Iana(tz) = self {
            match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => return t.with_timezone(&Utc),
                LocalResult::Ambiguous(a, b) => return a.min(b).with_timezone(&Utc),
                LocalResult::None => {}
            }
        }
        let as_utc = local.and_utc();
        let before = self.offset_at(as_utc - Duration::days(1)).local_minus_utc();
        let after = self.offset_at(as_utc + Duration::days(1)).local_minus_utc();
        let mut valid: Option<DateTime<Utc>> = None;
        for off in [before, after] {
            let t = as_utc - Duration::seconds(i64::from(off));
            if self.offset_at(t).local_minus_utc() == off {
                valid = Some(valid.map_or(t, |v| v.min(t)));
            }
        }
        valid.unwrap_or(as_utc - Duration::seconds(i64::from(before)))
    }

    /// How far [`Zone::to_utc`] moves `local` forward because it falls in a
    /// DST gap: the gap's length for a nonexistent local time, zero otherwise.
    pub fn gap_shift(&self, local: NaiveDateTime) -> Duration {
        self.to_local(self.to_utc(local)) - local
    }

    /// Converts a local span `[start, end)` (wall-clock times in this zone)
    /// into instants. The start follows [`Zone::to_utc`]; when it falls in a
    /// DST gap and so moves forward, the span keeps the length it has on the
    /// wall clock (the issue's DST policy: "shifts forward by the gap and keeps
    /// its exact duration") instead of shrinking or turning negative.
    /// Returns `(start, end)` in UTC.
    pub fn span_to_utc(&self, start: NaiveDateTime, end: NaiveDateTime) -> (DateTime<Utc>, DateTime<Utc>) {
        let s = self.to_utc(start);
        let shift = self.gap_shift(start);
        let e = self.to_utc(end);
        if shift.is_zero() {
            (s, e)
        } else {
            // Measure the length as if neither end had been moved by the gap.
            (s, e - self.gap_shift(end) + shift)
        }
    }
}

/// An instant as RFC 3339 UTC with whole seconds and a `Z` suffix, the form
/// every JSON output and change-log entry uses: `2026-03-08T07:30:00Z`.
pub fn fmt_instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Serde `serialize_with` for an instant in the [`fmt_instant`] form.
pub fn ser_instant<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_instant(*t))
}

/// Serde `serialize_with` for an optional instant in the [`fmt_instant`] form, or null.
pub fn ser_opt_instant<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&fmt_instant(*t)),
        None => s.serialize_none(),
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Parses an IANA zone name exactly as the tz database spells it
/// (e.g. `America/New_York`, `UTC`). Returns `None` for anything else.
pub fn parse_iana(name: &str) -> Option<Tz> {
    Tz::from_str(name.trim()).ok()
}

/// Resolves a time-zone identifier as calendar generators write it into an
/// IANA zone, without looking at any VTIMEZONE:
///
/// 1. an IANA name (`America/New_York`), quotes stripped;
/// 2. an IANA name inside a vendor prefix (`/mozilla.org/20050126_1/America/New_York`,
///    `/softwarestudio.org/Olson_20011030_5/Europe/Paris`);
/// 3. a Windows zone name (`Eastern Standard Time`) or its display name
///    (`(UTC-05:00) Eastern Time (US & Canada)`), mapped through the Unicode
///    CLDR `windowsZones.xml` table (crate `windows-timezones`, territory 001).
///
/// Returns `None` when nothing matches.
pub fn resolve_tzid(raw: &str) -> Option<Tz> {
    let name = raw.trim().trim_matches('"').trim();
    if name.is_empty() {
        return None;
    }
    if let Some(tz) = parse_iana(name) {
        return Some(tz);
    }
    // Vendor-prefixed identifiers: try the trailing path segments.
    let segments: Vec<&str> = name.split('/').filter(|s| !s.is_empty()).collect();
    for take in [3usize, 2, 1] {
        if segments.len() >= take {
            let candidate = segments[segments.len() - take..].join("/");
            if let Some(tz) = parse_iana(&candidate) {
                return Some(tz);
            }
        }
    }
    windows_zone(name)
}

/// Maps a Windows zone name or display name to its CLDR default IANA zone.
pub fn windows_zone(name: &str) -> Option<Tz> {
    use windows_timezones::WindowsTimezone;
    if let Ok(w) = WindowsTimezone::from_str(name) {
        return Some(Tz::from(w));
    }
    use strum::IntoEnumIterator;
    WindowsTimezone::iter()
        .find(|w| w.description().eq_ignore_ascii_case(name))
        .map(Tz::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, min, 0).unwrap()
    }

    #[test]
    fn gap_shifts_forward_by_the_gap() {
        let ny = Zone::Iana(chrono_tz::America::New_York);
        // 02:30 on 2026-03-08 does not exist in New York; offset before is -5h.
        assert_eq!(ny.to_utc(local(2026, 3, 8, 2, 30)).to_rfc3339(), "2026-03-08T07:30:00+00:00");
    }

    #[test]
    fn spans_starting_in_a_gap_keep_their_wall_clock_length() {
        let ny = Zone::Iana(chrono_tz::America::New_York);
        let f = |a: NaiveDateTime, b: NaiveDateTime| {
            let (s, e) = ny.span_to_utc(a, b);
            (s.to_rfc3339(), e.to_rfc3339())
        };
        // Start in the gap, end after it: 02:30-03:00 is 30 minutes from 03:30 EDT.
        assert_eq!(f(local(2026, 3, 8, 2, 30), local(2026, 3, 8, 3, 0)), ("2026-03-08T07:30:00+00:00".into(), "2026-03-08T08:00:00+00:00".into()));
        assert_eq!(f(local(2026, 3, 8, 2, 0), local(2026, 3, 8, 3, 0)), ("2026-03-08T07:00:00+00:00".into(), "2026-03-08T08:00:00+00:00".into()));
        // Both ends in the gap.
        assert_eq!(f(local(2026, 3, 8, 2, 10), local(2026, 3, 8, 2, 40)), ("2026-03-08T07:10:00+00:00".into(), "2026-03-08T07:40:00+00:00".into()));
        // Only the end in the gap: real elapsed time, the end read with the offset before the gap.
        assert_eq!(f(local(2026, 3, 8, 1, 30), local(2026, 3, 8, 2, 30)), ("2026-03-08T06:30:00+00:00".into(), "2026-03-08T07:30:00+00:00".into()));
        // No gap: plain conversion, across the fall-back overlap too.
        assert_eq!(f(local(2026, 11, 1, 0, 30), local(2026, 11, 1, 3, 0)), ("2026-11-01T04:30:00+00:00".into(), "2026-11-01T08:00:00+00:00".into()));
        assert_eq!(ny.gap_shift(local(2026, 3, 8, 2, 30)), Duration::hours(1));
        assert_eq!(ny.gap_shift(local(2026, 11, 1, 1, 30)), Duration::zero());
    }

    #[test]
    fn overlap_takes_first_occurrence() {
        let ny = Zone::Iana(chrono_tz::America::New_York);
        // 01:30 on 2025-11-02 happens at -4h (05:30Z) and -5h (06:30Z).
        assert_eq!(ny.to_utc(local(2025, 11, 2, 1, 30)).to_rfc3339(), "2025-11-02T05:30:00+00:00");
    }

    fn custom_us_eastern() -> Zone {
        // Hand-built table for 2025: DST starts 2025-03-09 07:00Z, ends 2025-11-02 06:00Z.
        Zone::Custom(Arc::new(CustomZone {
            name: "Custom".into(),
            initial_offset_seconds: -5 * 3600,
            transitions: vec![
                ("2025-03-09T07:00:00Z".parse().unwrap(), -4 * 3600),
                ("2025-11-02T06:00:00Z".parse().unwrap(), -5 * 3600),
            ],
        }))
    }

    #[test]
    fn custom_zone_applies_the_same_policy() {
        let z = custom_us_eastern();
        assert_eq!(z.to_utc(local(2025, 3, 9, 2, 30)).to_rfc3339(), "2025-03-09T07:30:00+00:00");
        assert_eq!(z.to_utc(local(2025, 11, 2, 1, 30)).to_rfc3339(), "2025-11-02T05:30:00+00:00");
        assert_eq!(z.to_utc(local(2025, 7, 1, 9, 0)).to_rfc3339(), "2025-07-01T13:00:00+00:00");
        assert_eq!(z.to_local("2025-12-01T14:00:00Z".parse().unwrap()), local(2025, 12, 1, 9, 0));
    }

    #[test]
    fn resolves_vendor_and_windows_names() {
        assert_eq!(resolve_tzid("\"America/Chicago\""), Some(chrono_tz::America::Chicago));
        assert_eq!(resolve_tzid("/mozilla.org/20050126_1/America/New_York"), Some(chrono_tz::America::New_York));
        assert_eq!(resolve_tzid("Eastern Standard Time"), Some(chrono_tz::America::New_York));
        assert_eq!(resolve_tzid("W. Europe Standard Time"), Some(chrono_tz::Europe::Berlin));
        assert_eq!(resolve_tzid("(UTC-06:00) Central Time (US & Canada)"), Some(chrono_tz::America::Chicago));
        assert_eq!(resolve_tzid("Customized Time Zone"), None);
    }

    #[test]
    fn intervals_are_half_open() {
        let a = Interval::new("2025-01-01T10:00:00Z".parse().unwrap(), "2025-01-01T11:00:00Z".parse().unwrap()).unwrap();
        let b = Interval::new("2025-01-01T11:00:00Z".parse().unwrap(), "2025-01-01T12:00:00Z".parse().unwrap()).unwrap();
        assert!(!a.overlaps(&b));
        let empty = Interval::new(a.start, a.start).unwrap();
        assert!(!empty.overlaps(&a));
    }
}
