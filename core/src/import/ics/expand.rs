//! Recurrence expansion in local wall-clock time (RFC 5545 §3.8.5.3 RRULE).
//!
//! The `rrule` crate does the rule arithmetic, but it is handed *naive local
//! wall times dressed up as UTC* so that its own time-zone handling (which
//! does not follow the product's DST policy) never runs: every occurrence it
//! returns is a wall-clock time in the series' zone, turned into an instant by
//! the caller with [`crate::time::Zone::to_utc`].

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use rrule::{RRule, RRuleError, RRuleSet, Unvalidated};

use super::values::{parse_time, RawTime};

/// One RRULE with its UNTIL already converted to the series' wall-clock time.
#[derive(Debug, Clone)]
pub(crate) struct WallRule {
    /// The rule without its UNTIL part.
    pub rule: RRule<Unvalidated>,
    /// Inclusive last wall-clock time, when the rule has an UNTIL.
    pub until: Option<NaiveDateTime>,
}

/// UNTIL as written (RFC 5545 §3.3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// `UNTIL=YYYYMMDD`.
    Date(NaiveDate),
    /// `UNTIL=YYYYMMDDTHHMMSS` (local wall-clock time).
    Local(NaiveDateTime),
    /// `UNTIL=YYYYMMDDTHHMMSSZ`.
    Utc(DateTime<chrono::Utc>),
}

impl Until {
    /// Wall-clock form of UNTIL for a series whose starts are DATE values
    /// (`date_series`) or DATE-TIMEs. `utc_to_wall` converts a UTC UNTIL to
    /// the series' wall-clock time. A DATE UNTIL on a DATE series includes
    /// that date; on a DATE-TIME series it means the end of that local day.
    pub fn to_wall(self, date_series: bool, utc_to_wall: impl Fn(DateTime<chrono::Utc>) -> NaiveDateTime) -> NaiveDateTime {
        match self {
            Until::Date(d) if date_series => d.and_time(NaiveTime::MIN),
            Until::Date(d) => d.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN)),
            Until::Local(n) => n,
            Until::Utc(t) => utc_to_wall(t),
        }
    }
}

/// Why a rule could not be read or expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuleError {
    /// The rule text or its UNTIL is not valid; plain-words detail.
    Invalid(String),
    /// More than the allowed number of occurrences before the bound.
    TooMany(usize),
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleError::Invalid(detail) => f.write_str(detail),
            RuleError::TooMany(max) => write!(f, "it repeats more than {max} times"),
        }
    }
}

/// Splits an RRULE value into the rule (for the `rrule` crate) and its UNTIL.
pub(crate) fn parse_rule(value: &str) -> Result<(RRule<Unvalidated>, Option<Until>), RuleError> {
    let mut rest = Vec::new();
    let mut until = None;
    for part in value.trim().split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("UNTIL") => {
                until = Some(match parse_time(v) {
                    Some(RawTime::Date(d)) => Until::Date(d),
                    Some(RawTime::Local(n)) => Until::Local(n),
                    Some(RawTime::Utc(t)) => Until::Utc(t),
                    None => return Err(RuleError::Invalid(format!("UNTIL value '{}' is not a date or date-time", v.trim()))),
                });
            }
            _ => rest.push(part),
        }
    }
    let rule = RRule::<Unvalidated>::from_str(&rest.join(";")).map_err(plain)?;
    Ok((rule, until))
}

/// The `rrule` crate's message without its "RRule parsing error:" prefix.
fn plain(e: RRuleError) -> RuleError {
    let text = match e {
        RRuleError::ParserError(p) => p.to_string(),
        RRuleError::ValidationError(v) => v.to_string(),
        other => other.to_string(),
    };
    // Keep the first sentence only: reasons are one plain sentence.
    let first = text.split(". ").next().unwrap_or(&text);
    RuleError::Invalid(first.trim_end_matches('.').to_string())
}

fn fake_utc(wall: NaiveDateTime) -> DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(&wall)
}

/// Checks that `rule` can be expanded from `start` (the `rrule` crate's
/// validation: BYxxx ranges, BYSETPOS use, and so on).
pub(crate) fn validate(start: NaiveDateTime, rule: &WallRule) -> Result<(), RuleError> {
    let mut r = rule.rule.clone();
    if let Some(u) = rule.until {
        if u < start {
            return Ok(());
        }
        r = r.until(fake_utc(u));
    }
    r.validate(fake_utc(start)).map(|_| ()).map_err(plain)
}

/// Expands the recurrence set `DTSTART + RRULEs` in wall-clock time: returns
/// the sorted, de-duplicated wall-clock starts up to and including `bound`.
///
/// * `start` (DTSTART) is always the first occurrence (RFC 5545 §3.8.5.3:
///   "The DTSTART property value always counts as the first occurrence"), so
///   when the rule itself does not produce `start`, COUNT allows one
///   occurrence less from the rule.
/// * COUNT is counted from `start` even when `start` lies long before `bound`.
/// * An UNTIL before `start` leaves just `start`.
/// * Expansion stops after `max` generated occurrences per rule and reports
///   [`RuleError::TooMany`] so that e.g. `FREQ=SECONDLY` without an end cannot
///   hang the import.
pub(crate) fn expand_wall(
    start: NaiveDateTime,
    rules: &[WallRule],
    bound: NaiveDateTime,
    max: usize,
) -> Result<Vec<NaiveDateTime>, RuleError> {
    let mut out = vec![start];
    for wr in rules {
        let mut rule = wr.rule.clone();
        if let Some(u) = wr.until {
            if u < start {
                continue;
            }
            rule = rule.until(fake_utc(u));
        }
        let validated = rule.validate(fake_utc(start)).map_err(plain)?;
        let count = validated.get_count();
        let set = RRuleSet::new(fake_utc(start)).rrule(validated).limit();
        let mut allowed: Option<u32> = count;
        // Every occurrence before a `break` is kept, so `i` counts the kept ones.
        for (i, occ) in (&set).into_iter().enumerate() {
            let wall = occ.naive_utc();
            if i == 0 && wall != start {
                allowed = allowed.map(|c| c.saturating_sub(1));
            }
            if allowed.is_some_and(|c| i >= c as usize) || wall > bound {
                break;
            }
            if i >= max {
                return Err(RuleError::TooMany(max));
            }
            out.push(wall);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn rules(v: &str, date_series: bool) -> Vec<WallRule> {
        let (rule, until) = parse_rule(v).unwrap();
        vec![WallRule { rule, until: until.map(|u| u.to_wall(date_series, |t| t.naive_utc())) }]
    }

    #[test]
    fn negative_byday_with_interval() {
        let got = expand_wall(
            wall("2025-10-27 09:30"),
            &rules("FREQ=MONTHLY;INTERVAL=2;BYDAY=-1MO;COUNT=4", false),
            wall("2030-01-01 00:00"),
            1000,
        )
        .unwrap();
        let want: Vec<_> = ["2025-10-27 09:30", "2025-12-29 09:30", "2026-02-23 09:30", "2026-04-27 09:30"].map(wall).to_vec();
        assert_eq!(got, want);
    }

    #[test]
    fn dtstart_counts_as_first_occurrence() {
        // DTSTART is a Tuesday, the rule wants Mondays: DTSTART + 2 Mondays.
        let got =
            expand_wall(wall("2025-03-04 09:00"), &rules("FREQ=WEEKLY;BYDAY=MO;COUNT=3", false), wall("2030-01-01 00:00"), 1000).unwrap();
        assert_eq!(got, ["2025-03-04 09:00", "2025-03-10 09:00", "2025-03-17 09:00"].map(wall).to_vec());
    }

    #[test]
    fn until_rules_and_caps() {
        // DATE UNTIL on a DATE-TIME series: end of that local day.
        let got = expand_wall(wall("2025-03-03 09:00"), &rules("FREQ=DAILY;UNTIL=20250305", false), wall("2030-01-01 00:00"), 100).unwrap();
        assert_eq!(got.len(), 3);
        // UNTIL before DTSTART: only DTSTART.
        let got = expand_wall(wall("2025-03-03 09:00"), &rules("FREQ=DAILY;UNTIL=20250301T000000Z", false), wall("2030-01-01 00:00"), 100)
            .unwrap();
        assert_eq!(got, vec![wall("2025-03-03 09:00")]);
        // Endless secondly rule: capped.
        let err = expand_wall(wall("2025-03-03 09:00"), &rules("FREQ=SECONDLY", false), wall("2030-01-01 00:00"), 1000).unwrap_err();
        assert_eq!(err, RuleError::TooMany(1000));
        assert!(matches!(parse_rule("FREQ=DAILY;UNTIL=tomorrow"), Err(RuleError::Invalid(_))));
        assert!(matches!(parse_rule("FREQ=FORTNIGHTLY"), Err(RuleError::Invalid(_))));
    }
}
