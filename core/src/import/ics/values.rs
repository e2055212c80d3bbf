//! Reading of iCalendar property *values* that the `icalendar` parser hands
//! over as plain text: DATE / DATE-TIME (RFC 5545 §3.3.4, §3.3.5), DURATION
//! (§3.3.6), PERIOD (§3.3.9) and UTC-OFFSET (§3.3.14).
//!
//! Time-zone resolution is *not* done here; a DATE-TIME keeps its form
//! (UTC, floating or with a TZID) so the caller can pick the zone.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// A DATE or DATE-TIME value as written, before any zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawTime {
    /// `YYYYMMDD` (RFC 5545 §3.3.4).
    Date(NaiveDate),
    /// `YYYYMMDDTHHMMSS` without `Z`: floating, or local in the TZID zone.
    Local(NaiveDateTime),
    /// `YYYYMMDDTHHMMSSZ`: an instant.
    Utc(DateTime<Utc>),
}

fn digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses one DATE or DATE-TIME value (whitespace around it is ignored).
pub(crate) fn parse_time(value: &str) -> Option<RawTime> {
    let v = value.trim();
    if !v.is_ascii() {
        return None;
    }
    match v.len() {
        8 if digits(v) => NaiveDate::parse_from_str(v, "%Y%m%d").ok().map(RawTime::Date),
        15 | 16 => {
            let (date, rest) = v.split_at(8);
            let rest = rest.strip_prefix(['T', 't'])?;
            let (time, utc) = match rest.strip_suffix(['Z', 'z']) {
                Some(t) => (t, true),
                None => (rest, false),
            };
            if time.len() != 6 || !digits(date) || !digits(time) || (v.len() == 16) != utc {
                return None;
            }
            let d = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
            let (h, m, s) = (time[0..2].parse().ok()?, time[2..4].parse().ok()?, time[4..6].parse::<u32>().ok()?);
            // A leap second (60) is read as 59 (RFC 5545 allows 60; chrono does not).
            let t = NaiveTime::from_hms_opt(h, m, s.min(59))?;
            let naive = d.and_time(t);
            Some(if utc { RawTime::Utc(naive.and_utc()) } else { RawTime::Local(naive) })
        }
        _ => None,
    }
}

/// A DURATION (RFC 5545 §3.3.6) split into its nominal part (days and weeks,
/// added in local wall-clock time) and its exact part (hours, minutes and
/// seconds, added to the instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Length {
    /// Nominal days (weeks count as 7 days).
    pub days: i64,
    /// Exact part.
    pub exact: Duration,
}

impl Length {
    /// True when both parts are non-negative.
    pub fn is_non_negative(&self) -> bool {
        self.days >= 0 && self.exact >= Duration::zero()
    }
}

/// Parses `[+|-]P[nW]` / `[+|-]P[nD][T[nH][nM][nS]]`. Lenient: accepts weeks
/// mixed with other units (as Outlook sometimes writes) and lower case.
pub(crate) fn parse_duration(value: &str) -> Option<Length> {
    let v = value.trim().to_ascii_uppercase();
    let (neg, rest) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, &v[..]),
    };
    let rest = rest.strip_prefix('P')?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut days = 0i64;
    let mut seconds = 0i64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, i64)], is_date: bool| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let factor = units.iter().find(|(u, _)| *u == c)?.1;
            let n: i64 = num.parse().ok()?;
            num.clear();
            any = true;
            if is_date {
                days = days.checked_add(n.checked_mul(factor)?)?;
            } else {
                seconds = seconds.checked_add(n.checked_mul(factor)?)?;
            }
        }
        num.is_empty().then_some(())
    };
    take(date_part, &[('W', 7), ('D', 1)], true)?;
    if let Some(t) = time_part {
        if t.is_empty() {
            return None;
        }
        take(t, &[('H', 3600), ('M', 60), ('S', 1)], false)?;
    }
    if !any || days.abs() > 1_000_000 || seconds.abs() > 100_000_000_000 {
        return None;
    }
    let sign = if neg { -1 } else { 1 };
    Some(Length { days: sign * days, exact: Duration::seconds(sign * seconds) })
}

/// Parses a UTC-OFFSET (`+HHMM`, `-HHMM`, `+HHMMSS`) into seconds east of UTC.
/// A missing sign is read as `+`.
pub(crate) fn parse_utc_offset(value: &str) -> Option<i32> {
    let v = value.trim();
    let (sign, rest) = match v.as_bytes().first()? {
        b'-' => (-1, &v[1..]),
        b'+' => (1, &v[1..]),
        _ => (1, v),
    };
    if !(rest.len() == 4 || rest.len() == 6) || !digits(rest) {
        return None;
    }
    let h: i32 = rest[0..2].parse().ok()?;
    let m: i32 = rest[2..4].parse().ok()?;
    let s: i32 = if rest.len() == 6 { rest[4..6].parse().ok()? } else { 0 };
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + s))
}

/// End of a PERIOD value (RFC 5545 §3.3.9): an explicit end or a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeriodEnd {
    /// `start/end`.
    At(RawTime),
    /// `start/duration`.
    After(Length),
}

/// Parses `start/end` or `start/duration`.
pub(crate) fn parse_period(value: &str) -> Option<(RawTime, PeriodEnd)> {
    let (a, b) = value.trim().split_once('/')?;
    let start = parse_time(a)?;
    let b = b.trim();
    let end = if b.starts_with(['P', 'p', '+', '-']) { PeriodEnd::After(parse_duration(b)?) } else { PeriodEnd::At(parse_time(b)?) };
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("20260105"), Some(RawTime::Date(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap())));
        assert!(matches!(parse_time("20260105T093000"), Some(RawTime::Local(_))));
        assert_eq!(parse_time(" 20260105T093000Z "), Some(RawTime::Utc("2026-01-05T09:30:00Z".parse().unwrap())));
        assert_eq!(parse_time("20260105T0930"), None);
        assert_eq!(parse_time("20261305"), None);
        assert_eq!(parse_time("2026-01-05"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT20M"), Some(Length { days: 0, exact: Duration::minutes(20) }));
        assert_eq!(parse_duration("P1D"), Some(Length { days: 1, exact: Duration::zero() }));
        assert_eq!(parse_duration("P2W"), Some(Length { days: 14, exact: Duration::zero() }));
        assert_eq!(parse_duration("P1DT2H3M4S"), Some(Length { days: 1, exact: Duration::seconds(7384) }));
        assert_eq!(parse_duration("-PT1H"), Some(Length { days: 0, exact: Duration::hours(-1) }));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("P1H"), None);
        assert_eq!(parse_duration("1D"), None);
        assert_eq!(parse_duration("PT5"), None);
    }

    #[test]
    fn offsets_and_periods() {
        assert_eq!(parse_utc_offset("-0500"), Some(-18000));
        assert_eq!(parse_utc_offset("+053000"), Some(19800));
        assert_eq!(parse_utc_offset("+5"), None);
        assert!(matches!(parse_period("20250320T140000Z/PT1H"), Some((RawTime::Utc(_), PeriodEnd::After(_)))));
        assert!(matches!(parse_period("20250320T140000Z/20250320T160000Z"), Some((RawTime::Utc(_), PeriodEnd::At(RawTime::Utc(_))))));
    }
}
