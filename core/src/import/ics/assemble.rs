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
//! * An override with `RECURRENCE-ID;RANGE=THISANDFUTURE` (§3.8.4.4, §3.2.13)
//!   replaces the instance it designates and also every later instance: each
//!   one moves by the override's shift (its DTSTART minus the designated
//!   instance's start, in wall-clock time of the series' zone, converted with
//!   [`crate::time::Zone::to_utc`]) and takes the override's length, STATUS,
//!   TRANSP and SUMMARY (a cancelled one removes them all). Per instance, the
//!   range override with the latest RECURRENCE-ID at or before it applies; a
//!   single-instance override of that instance wins over it, unless both
//!   have the same RECURRENCE-ID and the range override takes precedence
//!   (SEQUENCE, DTSTAMP, file order). Every instance keeps its original start
//!   as `recurrence_id`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use super::event::{end_of, EventRecord, Moment};
use super::expand::{expand_wall, RuleError};
use super::BusyInstance;
use crate::import::Skipped;
use crate::time::{Interval, Zone};

/// Per-event cap on generated occurrences (from DTSTART to the window's end):
/// e.g. an hourly series may start up to ~22 years before the window ends.
pub(crate) const MAX_OCCURRENCES: usize = 200_000;
/// Per-file cap on generated occurrences, so that a file full of endless
/// high-frequency rules cannot keep the import busy for long.
pub(crate) const FILE_OCCURRENCE_BUDGET: usize = 2_000_000;

/// One member of the master's recurrence set.
struct Occurrence {
    wall: NaiveDateTime,
    instant: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

/// A `RANGE=THISANDFUTURE` override placed in the master's recurrence set.
struct RangePlan {
    /// Index into the range overrides.
    index: usize,
    /// Index of the first occurrence at or after its RECURRENCE-ID.
    from: usize,
    /// Wall-clock shift applied to the later instances.
    shift: Duration,
}

type OverrideKey = (bool, DateTime<Utc>, NaiveDate);

fn winner(records: Vec<EventRecord>) -> Option<EventRecord> {
    records.into_iter().max_by_key(EventRecord::precedence)
}

/// Key grouping overrides that designate the same instance.
fn override_key(m: &Moment) -> OverrideKey {
    if m.is_date {
        (true, DateTime::<Utc>::MIN_UTC, m.date)
    } else {
        (false, m.instant, NaiveDate::MIN)
    }
}

fn key_of(r: &EventRecord) -> Option<OverrideKey> {
    r.recurrence_id.as_ref().map(override_key)
}

/// The winning override for each RECURRENCE-ID, in RECURRENCE-ID order.
fn winners_by_rid(overrides: Vec<EventRecord>) -> Vec<EventRecord> {
    let mut by_rid: BTreeMap<OverrideKey, Vec<EventRecord>> = BTreeMap::new();
    for o in overrides {
        if let Some(k) = key_of(&o) {
            by_rid.entry(k).or_default().push(o);
        }
    }
    by_rid.into_values().filter_map(winner).collect()
}

/// True when the instance starting at `o` is the one `rid` designates or a
/// later one: compared as dates when either side is a DATE (as in
/// [`Moment::designates`]), otherwise as instants.
fn at_or_after(rid: &Moment, o: &Occurrence, date_series: bool) -> bool {
    if date_series || rid.is_date {
        o.wall.date() >= rid.date
    } else {
        o.instant >= rid.instant
    }
}

/// The start of the instance `rid` names, on the wall clock of the series
/// (`zone`, first start `first`), when no generated instance is at hand.
fn rid_wall(rid: &Moment, zone: &Zone, first: NaiveDateTime, date_series: bool) -> NaiveDateTime {
    if date_series || rid.is_date {
        rid.date.and_time(first.time())
    } else {
        zone.to_local(rid.instant)
    }
}

/// The override's DTSTART on the wall clock of the series' `zone`.
fn wall_in(ov: &EventRecord, zone: &Zone) -> NaiveDateTime {
    if ov.start.all_day || &ov.start.zone == zone {
        ov.start.wall
    } else {
        zone.to_local(ov.start.instant)
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

/// An override's own instance: its DTSTART and length, as written.
fn push_own(out: &mut Vec<BusyInstance>, ov: &EventRecord, rid: DateTime<Utc>, window: &Interval, master: Option<&EventRecord>) {
    if !ov.blocks {
        return; // a cancelled (or free) override only removes its instance
    }
    let end = end_of(&ov.start.zone, ov.start.wall, ov.start.instant, ov.length);
    let summary = ov.summary.as_ref().or(master.and_then(|m| m.summary.as_ref()));
    push(out, ov, Some(rid), ov.start.instant, end, window, summary);
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
    let (ranges, singles): (Vec<_>, Vec<_>) = overrides.into_iter().partition(|r| r.this_and_future);
    let ranges = winners_by_rid(ranges);
    let singles = winners_by_rid(singles);
    // At the same RECURRENCE-ID, a range override that takes precedence
    // supersedes the single-instance override; otherwise the single one keeps
    // that instance and the range override applies to the later ones only.
    let singles: Vec<EventRecord> =
        singles.into_iter().filter(|s| !ranges.iter().any(|r| key_of(r) == key_of(s) && r.precedence() > s.precedence())).collect();
    let own_taken: Vec<bool> = ranges.iter().map(|r| singles.iter().any(|s| key_of(s) == key_of(r))).collect();
    let master = winner(masters);

    let mut out = Vec::new();
    // Original start instant of the instance each single override replaced, if any.
    let mut matched: Vec<Option<DateTime<Utc>>> = vec![None; singles.len()];
    // Whether each range override designates a generated instance.
    let mut range_matched = vec![false; ranges.len()];

    if let Some(m) = &master {
        let zone = &m.start.zone;
        let date_series = m.start.all_day;
        let mut occurrences = Vec::new();
        if m.rules.is_empty() {
            occurrences.push(Occurrence { wall: m.start.wall, instant: m.start.instant, end: None });
        } else {
            // Bound in wall-clock time: the window's end plus more than any UTC
            // offset, plus how far a range override moves instances earlier.
            let lead = ranges
                .iter()
                .filter_map(|r| r.recurrence_id.as_ref().map(|rid| rid_wall(rid, zone, m.start.wall, date_series) - wall_in(r, zone)))
                .filter(|d| *d > Duration::zero())
                .max()
                .map_or(Duration::zero(), |d| d + Duration::days(1));
            let bound = window
                .end
                .naive_utc()
                .checked_add_signed(Duration::days(2))
                .and_then(|b| b.checked_add_signed(lead))
                .unwrap_or(NaiveDateTime::MAX);
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

        // Where each range override starts applying, and by how much it moves
        // instances: measured from the instance it designates (even an
        // excluded one), else from its RECURRENCE-ID.
        let mut plans: Vec<RangePlan> = ranges
            .iter()
            .enumerate()
            .filter_map(|(index, r)| {
                let rid = r.recurrence_id.as_ref()?;
                let from = occurrences.partition_point(|o| !at_or_after(rid, o, date_series));
                let anchor = match occurrences.get(from) {
                    Some(o) if rid.designates(o.instant, o.wall, date_series) => o.wall,
                    _ => rid_wall(rid, zone, m.start.wall, date_series),
                };
                Some(RangePlan { index, from, shift: wall_in(r, zone) - anchor })
            })
            .collect();
        // Latest RECURRENCE-ID last; equal ones by precedence.
        plans.sort_by_key(|p| {
            let r = &ranges[p.index];
            (p.from, r.recurrence_id.map(|rid| rid.instant), r.precedence())
        });

        let rid_of = |o: &Occurrence| m.is_recurring().then_some(o.instant);
        let mut next_plan = 0;
        let mut current: Option<&RangePlan> = None;
        for (k, o) in occurrences.iter().enumerate() {
            while next_plan < plans.len() && plans[next_plan].from <= k {
                current = Some(&plans[next_plan]);
                next_plan += 1;
            }
            if m.exdates.iter().any(|x| x.designates(o.instant, o.wall, date_series)) {
                continue;
            }
            let designates = |ov: &EventRecord| ov.recurrence_id.as_ref().is_some_and(|rid| rid.designates(o.instant, o.wall, date_series));
            let mut is_replaced = false;
            for (i, _) in singles.iter().enumerate().filter(|(_, ov)| designates(ov)) {
                matched[i].get_or_insert(o.instant);
                is_replaced = true;
            }
            for (i, _) in ranges.iter().enumerate().filter(|(_, ov)| designates(ov)) {
                range_matched[i] = true;
            }
            if is_replaced {
                continue;
            }
            if let Some(plan) = current {
                let ov = &ranges[plan.index];
                if k == plan.from && designates(ov) {
                    // The range override's own instance, as written.
                    push_own(&mut out, ov, o.instant, window, Some(m));
                } else if ov.blocks {
                    let Some(wall) = o.wall.checked_add_signed(plan.shift) else { continue };
                    let start = zone.to_utc(wall);
                    let end = end_of(zone, wall, start, ov.length);
                    let summary = ov.summary.as_ref().or(m.summary.as_ref());
                    push(&mut out, ov, Some(o.instant), start, end, window, summary);
                }
                continue;
            }
            if !m.blocks {
                continue;
            }
            let end = o.end.or_else(|| end_of(zone, o.wall, o.instant, m.length));
            push(&mut out, m, rid_of(o), o.instant, end, window, m.summary.as_ref());
        }
    }

    for (ov, original) in singles.iter().zip(matched) {
        let rid = original.or(ov.recurrence_id.map(|r| r.instant));
        if let Some(rid) = rid {
            push_own(&mut out, ov, rid, window, master.as_ref());
        }
    }
    // A range override that designates no instance also stands alone, unless
    // a single-instance override with the same RECURRENCE-ID took its place.
    for ((ov, hit), taken) in ranges.iter().zip(range_matched).zip(own_taken) {
        if hit || taken {
            continue;
        }
        if let Some(rid) = ov.recurrence_id {
            push_own(&mut out, ov, rid.instant, window, master.as_ref());
        }
    }
    Ok(out)
}
