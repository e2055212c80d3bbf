//! Availability: what can be booked, per provider.
//!
//! * Slot sources (spreadsheets now; FHIR and athenahealth later) publish open
//!   slots explicitly. A published `free` slot that overlaps a busy block of
//!   the same provider is reported as `busy-unavailable`.
//! * For a provider with a calendar feed (.ics now; Google and CalDAV later),
//!   availability is the weekly working-hours grid, cut into cells of the
//!   provider's slot length, minus busy blocks: a cell that overlaps any busy
//!   block (even partly) is not free.
//!
//! The grid is laid out in the provider's zone: each working-hours window is
//! turned into instants with [`Zone::to_utc`] (DST policy included) and cut
//! into cells of exact length from the window's start, so a window on a DST
//! day has as many cells as it has real time. Computed cells have stable ids
//! `grid-<provider id>-<start as YYYYMMDDTHHMMSSZ>`; published slots `slot-<store id>`.

use chrono::{Duration, NaiveTime};
use serde::Serialize;

use crate::model::{Provider, SlotStatus};
use crate::store::{Result, Store};
use crate::time::{Interval, Zone};

/// Source name given to computed working-hours cells.
pub const GRID_SOURCE: &str = "working-hours";

/// One bookable (or blocked) slot as staff see it; `medharmony slots` prints it as
/// `{"id","provider","location","start","end","status","source"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotView {
    /// Stable id (see the module docs).
    pub id: String,
    /// Provider name.
    pub provider: String,
    /// Location name, if the source gives one.
    pub location: Option<String>,
    /// Start (UTC).
    #[serde(serialize_with = "crate::time::ser_instant")]
    pub start: chrono::DateTime<chrono::Utc>,
    /// End (UTC, exclusive).
    #[serde(serialize_with = "crate::time::ser_instant")]
    pub end: chrono::DateTime<chrono::Utc>,
    /// FHIR slot status.
    pub status: SlotStatus,
    /// Source name ([`GRID_SOURCE`] for computed cells).
    pub source: String,
}

/// The working-hours cells of `provider` that overlap `window`, in order.
/// Each cell is `slot_minutes` long; a trailing remainder shorter than a cell is dropped.
pub fn grid_cells(provider: &Provider, window: Interval) -> Vec<Interval> {
    working_cells(provider.tz, &provider.hours, provider.slot_minutes, window)
}

/// The cells of weekly `hours` (local times in `tz`) that overlap `window`, in order: each
/// working-hours window of each local day is turned into instants with [`Zone::to_utc`] (a start
/// in a DST gap moves forward by the gap; an ambiguous time takes the earlier instant) and cut
/// into cells of exactly `slot_minutes` from its start; a trailing remainder shorter than a cell
/// is dropped.
pub fn working_cells(tz: chrono_tz::Tz, hours: &crate::model::WorkingHours, slot_minutes: u32, window: Interval) -> Vec<Interval> {
    let zone = Zone::Iana(tz);
    let step = Duration::minutes(i64::from(slot_minutes.max(1)));
    let first = zone.to_local(window.start).date() - Duration::days(1);
    let last = zone.to_local(window.end).date() + Duration::days(1);
    let mut cells = Vec::new();
    let mut day = first;
    while day <= last {
        for w in hours.windows.iter().filter(|w| w.weekday == chrono::Datelike::weekday(&day)) {
            let ws = zone.to_utc(day.and_time(w.start));
            let we = if w.end == NaiveTime::MIN {
                zone.to_utc((day + Duration::days(1)).and_time(NaiveTime::MIN))
            } else {
                zone.to_utc(day.and_time(w.end))
            };
            let mut t = ws;
            while t + step <= we {
                let cell = Interval { start: t, end: t + step };
                if cell.overlaps(&window) {
                    cells.push(cell);
                }
                t += step;
            }
        }
        day += Duration::days(1);
    }
    cells
}

/// The cells of [`working_cells`] whose start lies in `window` and that overlap none of `busy`
/// (half-open: a busy block ending exactly at a cell's start does not touch it).
pub fn free_cells(
    tz: chrono_tz::Tz,
    hours: &crate::model::WorkingHours,
    slot_minutes: u32,
    window: Interval,
    busy: &[Interval],
) -> Vec<Interval> {
    let index = BusyIndex::new(busy.to_vec());
    working_cells(tz, hours, slot_minutes, window)
        .into_iter()
        .filter(|c| c.start >= window.start && c.start < window.end && !index.overlaps(c))
        .collect()
}

/// Busy intervals sorted by start, with the running maximum of their ends,
/// answering "does anything overlap this interval" in O(log n).
struct BusyIndex {
    starts: Vec<chrono::DateTime<chrono::Utc>>,
    max_end: Vec<chrono::DateTime<chrono::Utc>>,
}

impl BusyIndex {
    fn new(mut spans: Vec<Interval>) -> Self {
        spans.sort();
        let mut max_end = Vec::with_capacity(spans.len());
        for s in &spans {
            let m = max_end.last().map_or(s.end, |m: &chrono::DateTime<chrono::Utc>| (*m).max(s.end));
            max_end.push(m);
        }
        Self { starts: spans.iter().map(|s| s.start).collect(), max_end }
    }

    fn overlaps(&self, i: &Interval) -> bool {
        let n = self.starts.partition_point(|s| *s < i.end);
        n > 0 && self.max_end[n - 1] > i.start
    }
}

/// Slots overlapping `window` for one provider or all, optionally only those
/// with `status`, sorted by start, provider name, id.
///
/// # Errors
/// Store errors.
pub fn slots(store: &Store, provider: Option<&Provider>, window: Interval, status: Option<SlotStatus>) -> Result<Vec<SlotView>> {
    let providers = match provider {
        Some(p) => vec![p.clone()],
        None => store.providers()?,
    };
    let coverage = store.calendar_coverage()?;
    let pid = provider.map(|p| p.id);
    // Busy blocks overlapping the window are all that can touch cells inside it.
    let busy = store.busy(pid, window)?;
    let index_for = |id: i64| BusyIndex::new(busy.iter().filter(|b| b.provider_id == id).map(|b| Interval { start: b.start, end: b.end }).collect());
    let mut out = Vec::new();
    for p in providers.iter() {
        let Some(covered) = coverage.get(&p.id) else { continue };
        let idx = index_for(p.id);
        for cell in grid_cells(p, window) {
            // Only where a calendar was read: beyond it the provider's busy time is unknown.
            let known = covered.iter().any(|c| c.start <= cell.start && cell.end <= c.end);
            if known && !idx.overlaps(&cell) {
                out.push(SlotView {
                    id: format!("grid-{}-{}", p.id, cell.start.format("%Y%m%dT%H%M%SZ")),
                    provider: p.name.clone(),
                    location: None,
                    start: cell.start,
                    end: cell.end,
                    status: SlotStatus::Free,
                    source: GRID_SOURCE.to_string(),
                });
            }
        }
    }
    let published = store.published_slots(pid, window)?;
    let mut indexes = std::collections::HashMap::new();
    for s in published {
        let idx = indexes.entry(s.provider_id).or_insert_with(|| index_for(s.provider_id));
        let st = if s.status == SlotStatus::Free && idx.overlaps(&s.span) { SlotStatus::BusyUnavailable } else { s.status };
        out.push(SlotView {
            id: format!("slot-{}", s.id),
            provider: s.provider,
            location: s.location,
            start: s.span.start,
            end: s.span.end,
            status: st,
            source: s.source,
        });
    }
    if let Some(want) = status {
        out.retain(|s| s.status == want);
    }
    out.sort_by(|a, b| (a.start, &a.provider, &a.id).cmp(&(b.start, &b.provider, &b.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WorkingHours;

    fn provider(tz: chrono_tz::Tz, hours: &str, minutes: u32) -> Provider {
        Provider { id: 7, name: "Dr Test".into(), tz, hours: WorkingHours::parse(hours).unwrap(), slot_minutes: minutes, demo: false }
    }

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(a.parse().unwrap(), b.parse().unwrap()).unwrap()
    }

    #[test]
    fn weekday_grid_in_local_time() {
        let p = provider(chrono_tz::America::New_York, "Mon-Fri 09:00-12:00", 30);
        // Monday 2026-03-02 (EST, UTC-5): 09:00 local = 14:00Z, six cells.
        let cells = grid_cells(&p, iv("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"));
        assert_eq!(cells.len(), 6);
        assert_eq!(cells[0], iv("2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z"));
        assert_eq!(cells[5], iv("2026-03-02T16:30:00Z", "2026-03-02T17:00:00Z"));
        // Saturday: none.
        assert!(grid_cells(&p, iv("2026-03-07T00:00:00Z", "2026-03-08T00:00:00Z")).is_empty());
    }

    #[test]
    fn dst_days_have_as_many_cells_as_real_time() {
        // Sunday hours across the spring-forward gap: 00:00-04:00 local is 3 real hours.
        let p = provider(chrono_tz::America::New_York, "Sun 00:00-04:00", 60);
        let spring = grid_cells(&p, iv("2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z"));
        assert_eq!(spring, vec![
            iv("2026-03-08T05:00:00Z", "2026-03-08T06:00:00Z"),
            iv("2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"),
            iv("2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"),
        ]);
        // Fall back: 00:00-04:00 local is 5 real hours.
        let fall = grid_cells(&p, iv("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"));
        assert_eq!(fall.len(), 5);
        assert_eq!(fall[0].start.to_rfc3339(), "2026-11-01T04:00:00+00:00");
        assert_eq!(fall[4].end.to_rfc3339(), "2026-11-01T09:00:00+00:00");
    }

    #[test]
    fn busy_index_is_half_open() {
        let idx = BusyIndex::new(vec![iv("2026-01-01T10:00:00Z", "2026-01-01T12:00:00Z"), iv("2026-01-01T09:00:00Z", "2026-01-01T09:30:00Z")]);
        assert!(idx.overlaps(&iv("2026-01-01T11:30:00Z", "2026-01-01T12:00:00Z")));
        assert!(!idx.overlaps(&iv("2026-01-01T12:00:00Z", "2026-01-01T12:30:00Z")));
        assert!(!idx.overlaps(&iv("2026-01-01T09:30:00Z", "2026-01-01T10:00:00Z")));
        assert!(idx.overlaps(&iv("2026-01-01T09:15:00Z", "2026-01-01T09:20:00Z")));
    }
}
