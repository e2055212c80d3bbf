//! Assembles the week view (providers × days) from the engine's
//! availability and busy time. Each provider's days are its own local days:
//! a slot belongs to the provider-local date of its start.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use medharmony::availability;
use medharmony::time::fmt_instant;
use medharmony::model::{Provider, SlotStatus, SourceKind};
use medharmony::store::Store;
use medharmony::time::{Interval, Zone};

use crate::dto::{BusyDto, DayView, LocationView, ProviderView, SlotDto, SourceView, Week, WeekQuery};
use crate::error::DeskError;
use crate::state::monday_of;

/// Parses an optional `YYYY-MM-DD` date.
///
/// # Errors
/// [`DeskError::BadDate`].
pub fn parse_date(s: &str) -> Result<NaiveDate, DeskError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| DeskError::BadDate(s.to_string()))
}

/// The zone abbreviation in effect at `t`, e.g. `EST`.
fn abbrev(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%Z").to_string()
}

/// `[monday 00:00, next monday 00:00)` in the provider's local time.
fn local_week(tz: Tz, monday: NaiveDate) -> Interval {
    local_week_days(tz, monday, 7)
}

/// What the provider's calendar feeds cover: whether there is one, and the
/// periods their imports have read (`[from, to)` UTC, one per feed).
#[derive(Debug, Clone, Default)]
struct Coverage {
    has_calendar: bool,
    periods: Vec<Interval>,
}

/// Coverage by provider name, from the sources' covered periods.
fn coverage_by_provider(sources: &[medharmony::store::SourceInfo]) -> HashMap<String, Coverage> {
    let mut out: HashMap<String, Coverage> = HashMap::new();
    for s in sources.iter().filter(|s| s.kind.as_str() == "ics") {
        let Some(name) = &s.provider else { continue };
        let c = out.entry(name.clone()).or_default();
        c.has_calendar = true;
        if let Some(iv) = s.covered_from.zip(s.covered_to).and_then(|(a, b)| Interval::new(a, b)) {
            c.periods.push(iv);
        }
    }
    out
}

/// The week's days (provider-local) that no covered period contains whole.
fn uncovered_days(tz: Tz, monday: NaiveDate, cover: &Coverage) -> Vec<String> {
    if !cover.has_calendar {
        return Vec::new();
    }
    (0..7)
        .map(|i| monday + Duration::days(i))
        .filter(|d| {
            let day = local_week_days(tz, *d, 1);
            !cover.periods.iter().any(|c| c.start <= day.start && day.end <= c.end)
        })
        .map(|d| d.to_string())
        .collect()
}

/// `[first 00:00, first + n days 00:00)` in the provider's local time.
fn local_week_days(tz: Tz, first: NaiveDate, n: i64) -> Interval {
    let zone = Zone::Iana(tz);
    Interval { start: zone.to_utc(first.and_time(NaiveTime::MIN)), end: zone.to_utc((first + Duration::days(n)).and_time(NaiveTime::MIN)) }
}

fn provider_view(p: &Provider, monday: NaiveDate, cover: &Coverage, publishes_slots: bool) -> ProviderView {
    let win = local_week(p.tz, monday);
    let first = abbrev(p.tz, win.start);
    // A change of abbreviation at local noon of a later day means the clocks change that week.
    let note = (1..7).find_map(|i| {
        let day = monday + Duration::days(i);
        let noon = Zone::Iana(p.tz).to_utc(day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN)));
        let a = abbrev(p.tz, noon);
        (a != first).then(|| format!("Clocks change {} ({first} → {a})", day.format("%a %b %-d")))
    });
    ProviderView {
        id: p.id,
        name: p.name.clone(),
        tz: p.tz.name().to_string(),
        tz_abbrev: first,
        tz_note: note,
        demo: p.demo,
        hours: p.hours.to_spec(),
        slot_minutes: p.slot_minutes,
        has_calendar: cover.has_calendar,
        calendar_from: cover.periods.iter().map(|c| c.start).min().map(fmt_instant),
        calendar_to: cover.periods.iter().map(|c| c.end).max().map(fmt_instant),
        publishes_slots,
        uncovered_days: uncovered_days(p.tz, monday, cover),
    }
}

fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    tz.from_utc_datetime(&t.naive_utc()).date_naive()
}

/// Builds the week containing `query.start` (default: the week of `today`).
///
/// # Errors
/// [`DeskError::BadDate`], store errors.
pub fn build_week(store: &Store, query: &WeekQuery, today: NaiveDate, now: DateTime<Utc>) -> Result<Week, DeskError> {
    let anchor = match query.start.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => parse_date(s)?,
        None => today,
    };
    let monday = monday_of(anchor);
    let week_days: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
    let all = store.providers()?;
    let wanted: Option<HashSet<i64>> = query.provider_ids.as_ref().filter(|ids| !ids.is_empty()).map(|ids| ids.iter().copied().collect());
    let hidden: HashSet<i64> = query.hidden_provider_ids.iter().flatten().copied().collect();
    let location = query.location.as_deref().map(str::trim).filter(|l| !l.is_empty());
    let source_infos = store.sources()?;
    let coverage = coverage_by_provider(&source_infos);
    let cover_of = |p: &Provider| coverage.get(&p.name).cloned().unwrap_or_default();
    // Who has published slots at all (imports cover 97 days, so a year either side is plenty).
    let around = Interval { start: Utc.from_utc_datetime(&(monday - Duration::days(366)).and_time(NaiveTime::MIN)), end: Utc.from_utc_datetime(&(monday + Duration::days(373)).and_time(NaiveTime::MIN)) };
    let publishing: HashSet<i64> = store.published_slots(None, around)?.into_iter().map(|s| s.provider_id).collect();

    let mut providers = Vec::new();
    let mut slots = Vec::new();
    let mut busy = Vec::new();
    for p in all.iter().filter(|p| wanted.as_ref().is_none_or(|w| w.contains(&p.id)) && !hidden.contains(&p.id)) {
        let win = local_week(p.tz, monday);
        let mut mine: Vec<SlotDto> = availability::slots(store, Some(p), win, None)?
            .into_iter()
            .filter(|s| location.is_none_or(|l| s.location.as_deref().is_some_and(|sl| sl.eq_ignore_ascii_case(l))))
            .filter_map(|s| {
                let day = local_date(p.tz, s.start);
                week_days.contains(&day).then(|| SlotDto {
                    id: s.id,
                    provider_id: p.id,
                    day: day.to_string(),
                    start: fmt_instant(s.start),
                    end: fmt_instant(s.end),
                    status: s.status.code().to_string(),
                    source: s.source,
                    location: s.location,
                })
            })
            .collect();
        if location.is_some() && mine.is_empty() {
            continue;
        }
        for b in store.busy(Some(p.id), win)? {
            let first = local_date(p.tz, b.start).max(monday);
            let last_instant = if b.end > b.start { b.end - Duration::seconds(1) } else { b.end };
            let last = local_date(p.tz, last_instant).min(monday + Duration::days(6));
            let mut days = Vec::new();
            let mut d = first;
            while d <= last {
                days.push(d.to_string());
                d += Duration::days(1);
            }
            if days.is_empty() {
                continue;
            }
            let rid = b.recurrence_id.map(fmt_instant).unwrap_or_default();
            busy.push(BusyDto {
                id: format!("{}/{}/{rid}", b.source, b.uid),
                provider_id: p.id,
                days,
                start: fmt_instant(b.start),
                end: fmt_instant(b.end),
                all_day: b.all_day,
                summary: b.summary,
                status: b.status.code().to_string(),
                source: b.source,
                uid: b.uid,
            });
        }
        slots.append(&mut mine);
        providers.push(provider_view(p, monday, &cover_of(p), publishing.contains(&p.id)));
    }
    slots.sort_by(|a, b| (&a.start, a.provider_id, &a.id).cmp(&(&b.start, b.provider_id, &b.id)));
    busy.sort_by(|a, b| (&a.start, a.provider_id, &a.id).cmp(&(&b.start, b.provider_id, &b.id)));

    let demo_names: HashSet<&str> = all.iter().filter(|p| p.demo).map(|p| p.name.as_str()).collect();
    // A connected system's source carries the integration's name.
    let systems: HashMap<String, &'static str> =
        store.integrations()?.into_iter().map(|i| (i.name.to_lowercase(), i.kind.label())).collect();
    let sources = source_infos
        .into_iter()
        .map(|s| SourceView {
            id: s.id,
            demo: s.provider.as_deref().is_some_and(|p| demo_names.contains(p)),
            system: (s.kind == SourceKind::Integration).then(|| systems.get(&s.name.to_lowercase()).map(|l| l.to_string())).flatten(),
            name: s.name,
            kind: s.kind.as_str().to_string(),
            provider: s.provider,
            last_sync_at: s.last_sync_at.map(fmt_instant),
        })
        .collect();
    let locations = store.locations()?.into_iter().map(|(_, name, tz)| LocationView { name, tz: tz.name().to_string() }).collect();

    Ok(Week {
        start: monday.to_string(),
        days: week_days.iter().map(|d| DayView { date: d.to_string(), is_today: *d == today }).collect(),
        today: today.to_string(),
        providers,
        all_providers: all.iter().map(|p| provider_view(p, monday, &cover_of(p), publishing.contains(&p.id))).collect(),
        locations,
        slots,
        busy,
        sources,
        has_demo: !demo_names.is_empty(),
        now: fmt_instant(now),
    })
}

/// Number of free slots of `provider_id` on `day` in a built week (used by tests and the UI's counts).
pub fn free_count(week: &Week, provider_id: i64, day: &str) -> usize {
    week.slots.iter().filter(|s| s.provider_id == provider_id && s.day == day && s.status == SlotStatus::Free.code()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use medharmony::store::key::DbKey;

    fn seeded() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("w.db"), &DbKey::Raw([7; 32])).unwrap();
        medharmony::demo::seed(&mut store, "2026-03-04T15:00:00Z".parse().unwrap()).unwrap();
        (dir, store)
    }

    #[test]
    fn demo_week_in_local_days() {
        let (_d, store) = seeded();
        let today: NaiveDate = "2026-03-04".parse().unwrap();
        let w = build_week(&store, &WeekQuery::default(), today, "2026-03-04T15:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(w.start, "2026-03-02");
        assert_eq!(w.days.len(), 7);
        assert!(w.days[2].is_today);
        assert_eq!(w.providers.len(), 3);
        assert!(w.has_demo);
        let rivera = w.providers.iter().find(|p| p.name == "Dr. Ana Rivera (Demo)").unwrap();
        assert_eq!(rivera.tz_abbrev, "EST");
        assert_eq!(rivera.tz_note.as_deref(), Some("Clocks change Sun Mar 8 (EST → EDT)"));
        assert_eq!(free_count(&w, rivera.id, "2026-03-04"), 11);
        // Rivera works Mon-Fri: nothing on the weekend.
        assert_eq!(free_count(&w, rivera.id, "2026-03-07"), 0);
        // Lunch is busy every weekday.
        assert!(w.busy.iter().any(|b| b.provider_id == rivera.id && b.days == ["2026-03-04"] && b.summary.as_deref() == Some("Lunch")));
        assert_eq!(w.sources.len(), 3);
        assert!(w.sources.iter().all(|s| s.demo && s.last_sync_at.as_deref() == Some("2026-03-04T15:00:00Z")));
        // The demo calendars cover 25 Feb - 2 Jun (the import period): this week is covered whole.
        assert!(rivera.has_calendar);
        assert_eq!(rivera.calendar_from.as_deref(), Some("2026-02-25T15:00:00Z"));
        assert!(rivera.uncovered_days.is_empty());
        // Weeks beyond the period are not known.
        let later = build_week(&store, &WeekQuery { start: Some("2026-06-08".into()), ..Default::default() }, today, "2026-03-04T15:00:00Z".parse().unwrap()).unwrap();
        let rivera = later.providers.iter().find(|p| p.name == "Dr. Ana Rivera (Demo)").unwrap();
        assert_eq!(rivera.uncovered_days.len(), 7);
        assert_eq!(free_count(&later, rivera.id, "2026-06-10"), 0);
        // The week of 1 June: the period ends on Tuesday 2 June at 15:00 UTC.
        let edge = build_week(&store, &WeekQuery { start: Some("2026-06-01".into()), ..Default::default() }, today, "2026-03-04T15:00:00Z".parse().unwrap()).unwrap();
        let rivera = edge.providers.iter().find(|p| p.name == "Dr. Ana Rivera (Demo)").unwrap();
        assert_eq!(rivera.uncovered_days, ["2026-06-02", "2026-06-03", "2026-06-04", "2026-06-05", "2026-06-06", "2026-06-07"]);
    }

    #[test]
    fn filters_and_bad_dates() {
        let (_d, store) = seeded();
        let today: NaiveDate = "2026-03-04".parse().unwrap();
        let now = "2026-03-04T15:00:00Z".parse().unwrap();
        let all = build_week(&store, &WeekQuery::default(), today, now).unwrap();
        let chen = all.providers.iter().find(|p| p.name.contains("Chen")).unwrap().id;
        let q = WeekQuery { start: Some("2026-03-12".into()), provider_ids: Some(vec![chen]), ..Default::default() };
        let w = build_week(&store, &q, today, now).unwrap();
        assert_eq!(w.start, "2026-03-09");
        assert_eq!(w.providers.len(), 1);
        assert_eq!(w.all_providers.len(), 3);
        assert!(w.slots.iter().all(|s| s.provider_id == chen));
        assert!(w.days.iter().all(|d| !d.is_today));
        // Hiding providers leaves the others, and any added later, shown.
        let q = WeekQuery { hidden_provider_ids: Some(vec![chen]), ..Default::default() };
        let w = build_week(&store, &q, today, now).unwrap();
        assert_eq!(w.providers.len(), 2);
        assert!(w.providers.iter().all(|p| p.id != chen) && w.slots.iter().all(|s| s.provider_id != chen));
        let q = WeekQuery { location: Some("Nowhere".into()), ..Default::default() };
        assert!(build_week(&store, &q, today, now).unwrap().providers.is_empty());
        let q = WeekQuery { start: Some("March 4".into()), ..Default::default() };
        assert!(matches!(build_week(&store, &q, today, now), Err(DeskError::BadDate(_))));
    }
}
