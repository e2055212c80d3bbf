//! Turning the VEVENTs of one UID into busy instances (RFC 5545 §3.8.5
//! recurrence set, §3.8.4.4 RECURRENCE-ID overrides, §3.8.7.4 SEQUENCE).
//!
//! * Among several masters, or several overrides of the same instance, the
//!   highest SEQUENCE wins, then the later DTSTAMP, then the later one in the
//!   file.
//! * The master's recurrence set is DTSTART + RRULE occurrences + RDATEs,
//!   minus EXDATEs, with instances replaced by overrides whose RECURRENCE-ID
//!   designates them; an override that designates nothing stands alone.
//! * Each generated instance keeps the master's length, nominal days in
//!   wall-clock time and the exact part exact; PERIOD RDATEs keep their own.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::event::{end_of, EventRecord, Moment};
use super::expand::{expand_wall, RuleError};
use super::BusyInstance;
use crate::import::Skipped;
use crate::time::Interval;

/// Per-event cap on generated occurrences (from DTSTART to the window's end):
/// e.g. an hourly series may start up to ~22 years before the window ends.
pub(crate) const MAX_OCCURRENCES: usize = 200_000;
/// Per-file cap on generated occurrences, so that a file full of endless
/// high-frequency rules cannot keep the import busy for long.
pub(crate) const FILE_OCCURRENCE_BUDGET: usize = 2_000_000;

/// One member of the master's recurrence set.
struct Occurrence {
    wall: chrono::NaiveDateTime,
    instant: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

fn winner(records: Vec<EventRecord>) -> Option<EventRecord> {
    records.into_iter().max_by_key(EventRecord::precedence)
}

/// Key grouping overrides that designate the same instance.
fn override_key(m: &Moment) -> (bool, DateTime<Utc>, chrono::NaiveDate) {
    if m.is_date {
        (true, DateTime::<Utc>::MIN_UTC, m.date)
    } else {
        (false, m.instant, chrono::NaiveDate::MIN)
    }
}

fn push(
    out: &mut Vec<BusyInstance>,
    rec: &EventRecord,
    rid: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    window: &Interval,
    summary: Option<&String>,
) {
    let Some(span) = end.and_then(|end| Interval::new(start, end)) else { return };
    if span.is_empty() || !span.overlaps(window) {
        return;
    }
    out.push(BusyInstance {
        uid: rec.uid.clone(),
        recurrence_id: rid,
        span,
        all_day: rec.start.all_day,
        summary: summary.cloned(),
        status: rec.status,
    });
}

/// Busy instances of one UID overlapping `window`.
///
/// `budget` is what is left of [`FILE_OCCURRENCE_BUDGET`]; the occurrences
/// generated here are taken from it.
///
/// # Errors
/// A [`Skipped`] (naming the RRULE line) when the recurrence cannot be
/// expanded: it repeats more than [`MAX_OCCURRENCES`] times before the
/// window's end, or the file's budget is used up.
pub(crate) fn assemble(records: Vec<EventRecord>, window: &Interval, budget: &mut usize) -> Result<Vec<BusyInstance>, Skipped> {
    let (overrides, masters): (Vec<_>, Vec<_>) = records.into_iter().partition(|r| r.recurrence_id.is_some());
    let mut by_rid: BTreeMap<_, Vec<EventRecord>> = BTreeMap::new();
    for o in overrides {
        if let Some(m) = &o.recurrence_id {
            by_rid.entry(override_key(m)).or_default().push(o);
        }
    }
    let overrides: Vec<EventRecord> = by_rid.into_values().filter_map(winner).collect();
    let master = winner(masters);

    let mut out = Vec::new();
    // Original start instant of the instance each override replaced, if any.
    let mut matched: Vec<Option<DateTime<Utc>>> = vec![None; overrides.len()];

    if let Some(m) = &master {
        let zone = &m.start.zone;
        let mut occurrences = Vec::new();
        if m.rules.is_empty() {
            occurrences.push(Occurrence { wall: m.start.wall, instant: m.start.instant, end: None });
        } else {
            // Bound in wall-clock time: the window's end plus more than any UTC offset.
            let bound = window.end.naive_utc().checked_add_signed(Duration::days(2)).unwrap_or(chrono::NaiveDateTime::MAX);
            let max = MAX_OCCURRENCES.min(*budget);
            let walls = expand_wall(m.start.wall, &m.rules, bound, max).map_err(|e| Skipped {
                line: Some(m.rule_line),
                uid: Some(m.uid.clone()),
                reason: match e {
                    RuleError::TooMany(_) if max < MAX_OCCURRENCES => {
                        "RRULE could not be expanded because the file's repeating events produce too many occurrences to import".to_string()
                    }
                    RuleError::TooMany(max) => {
                        format!("RRULE repeats too often to import (more than {max} times before the end of the import window)")
                    }
                    RuleError::Invalid(detail) => format!("RRULE cannot be used: {detail}"),
                },
            })?;
            *budget = budget.saturating_sub(walls.len());
            occurrences.extend(walls.into_iter().map(|wall| Occurrence { wall, instant: zone.to_utc(wall), end: None }));
        }
        for r in &m.rdates {
            let wall = if &r.start.zone == zone { r.start.wall } else { zone.to_local(r.start.instant) };
            occurrences.push(Occurrence { wall, instant: r.start.instant, end: r.end });
        }
        // Same start instant twice (RDATE repeating an RRULE occurrence): keep the first.
        occurrences.sort_by_key(|o| o.instant);
        occurrences.dedup_by_key(|o| o.instant);

        let rid_of = |o: &Occurrence| m.is_recurring().then_some(o.instant);
        for o in &occurrences {
            if m.exdates.iter().any(|x| x.designates(o.instant, o.wall, m.start.all_day)) {
                continue;
            }
            let replaced = overrides
                .iter()
                .enumerate()
                .filter(|(_, ov)| ov.recurrence_id.as_ref().is_some_and(|rid| rid.designates(o.instant, o.wall, m.start.all_day)));
            let mut is_replaced = false;
            for (i, _) in replaced {
                matched[i].get_or_insert(o.instant);
                is_replaced = true;
            }
            if is_replaced || !m.blocks {
                continue;
            }
            let end = o.end.or_else(|| end_of(zone, o.wall, o.instant, m.length));
            push(&mut out, m, rid_of(o), o.instant, end, window, m.summary.as_ref());
        }
    }

    for (ov, original) in overrides.iter().zip(matched) {
        if !ov.blocks {
            continue; // a cancelled (or free) override only removes its instance
        }
        let rid = original.or(ov.recurrence_id.map(|r| r.instant));
        let end = end_of(&ov.start.zone, ov.start.wall, ov.start.instant, ov.length);
        let summary = ov.summary.as_ref().or(master.as_ref().and_then(|m| m.summary.as_ref()));
        push(&mut out, ov, rid, ov.start.instant, end, window, summary);
    }
    Ok(out)
}
