//! What calendar sources (Google Calendar, CalDAV) share: a calendar belongs to one provider,
//! publishes only busy time, and the open slots are that provider's working hours (in the
//! provider's IANA zone) cut into cells, minus the busy time (see
//! [`crate::availability::free_cells`]).
//!
//! The slots become [`RemoteSlot`]s like any other source's, so the store, booking claims,
//! the sync report and the worker treat them the same way. Their `external_id` is
//! `<calendar id>#<start as YYYYMMDDTHHMMSSZ>`, stable as long as the working hours are.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::RemoteSlot;
use crate::model::{SlotStatus, WorkingHours};
use crate::time::Interval;

/// Default cell length of a calendar's open slots: 30 minutes.
pub const DEFAULT_SLOT_MINUTES: u32 = 30;

/// One calendar read by a Google Calendar or CalDAV integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSettings {
    /// The source's id for the calendar: a Google calendar id (e.g. `dr.rivera@example.com`,
    /// `primary`) or a CalDAV calendar collection URL (absolute, ending in `/`).
    pub id: String,
    /// The provider (Practitioner) whose calendar it is, as the desk names providers.
    pub provider: String,
    /// The provider's IANA zone (working hours are local times there); `None` = the
    /// integration's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// Weekly working hours, as [`WorkingHours::parse`] reads them, e.g.
    /// `Mon-Fri 08:00-12:00,13:00-17:00`.
    pub hours: String,
    /// Length of one open slot in minutes (default [`DEFAULT_SLOT_MINUTES`]).
    #[serde(default = "default_slot_minutes")]
    pub slot_minutes: u32,
    /// The location's display name, if the provider sees patients at one place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

fn default_slot_minutes() -> u32 {
    DEFAULT_SLOT_MINUTES
}

/// A calendar's settings checked and parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarPlan {
    /// The settings as given.
    pub settings: CalendarSettings,
    /// The provider's zone.
    pub tz: Tz,
    /// The parsed working hours.
    pub hours: WorkingHours,
}

impl CalendarSettings {
    /// Checks the zone (falling back to `default_tz`), working hours and slot length.
    ///
    /// # Errors
    /// A sentence for staff naming the provider and what is wrong.
    pub fn plan(&self, default_tz: &str) -> Result<CalendarPlan, String> {
        let zone_name = self.tz.as_deref().unwrap_or(default_tz);
        let tz = crate::time::parse_iana(zone_name)
            .ok_or_else(|| format!("{}: '{zone_name}' is not a time zone; use a name such as America/New_York", self.provider))?;
        let hours = WorkingHours::parse(&self.hours).map_err(|e| format!("{}: {e}", self.provider))?;
        if !(5..=480).contains(&self.slot_minutes) {
            return Err(format!("{}: a slot must be 5 to 480 minutes long, not {}", self.provider, self.slot_minutes));
        }
        Ok(CalendarPlan { settings: self.clone(), tz, hours })
    }
}

/// The `external_id` of the open slot of calendar `calendar_id` starting at `start`.
pub fn slot_id(calendar_id: &str, start: DateTime<Utc>) -> String {
    format!("{calendar_id}#{}", start.format("%Y%m%dT%H%M%SZ"))
}

/// Splits an `external_id` made by [`slot_id`] into the calendar id and the start.
pub fn parse_slot_id(external_id: &str) -> Option<(&str, DateTime<Utc>)> {
    let (cal, start) = external_id.rsplit_once('#')?;
    let t = chrono::NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M%SZ").ok()?;
    Some((cal, t.and_utc()))
}

/// The open slots of `plan` whose start lies in `window`: working-hours cells overlapping none
/// of `busy` (UTC half-open intervals), as free [`RemoteSlot`]s with `booking` = `{"calendar": id}`.
pub fn open_slots(plan: &CalendarPlan, window: Interval, busy: &[Interval]) -> Vec<RemoteSlot> {
    crate::availability::free_cells(plan.tz, &plan.hours, plan.settings.slot_minutes, window, busy)
        .into_iter()
        .map(|span| RemoteSlot {
            external_id: slot_id(&plan.settings.id, span.start),
            span,
            status: SlotStatus::Free,
            provider: plan.settings.provider.clone(),
            provider_ref: None,
            location: plan.settings.location.clone(),
            location_ref: None,
            service_type: None,
            schedule_ref: Some(plan.settings.id.clone()),
            booking: serde_json::json!({ "calendar": plan.settings.id }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn settings(hours: &str, tz: Option<&str>) -> CalendarSettings {
        CalendarSettings {
            id: "dr.rivera@example.com".into(),
            provider: "Dr. Rivera".into(),
            tz: tz.map(str::to_string),
            hours: hours.into(),
            slot_minutes: 30,
            location: None,
        }
    }

    #[test]
    fn busy_time_is_cut_out_of_the_working_hours_half_open() {
        // Tue 2026-03-03, New York (UTC−5): 09:00–11:00 local = 14:00–16:00Z.
        let plan = settings("Tue 09:00-11:00", None).plan("America/New_York").unwrap();
        let window = Interval { start: utc(2026, 3, 3, 0, 0), end: utc(2026, 3, 4, 0, 0) };
        // Busy 14:30–15:00Z exactly: only the 14:30 cell goes; 14:00 and 15:00 touch it but do not overlap.
        // Busy 15:40–15:50Z: takes the 15:30 cell.
        let busy = [
            Interval { start: utc(2026, 3, 3, 14, 30), end: utc(2026, 3, 3, 15, 0) },
            Interval { start: utc(2026, 3, 3, 15, 40), end: utc(2026, 3, 3, 15, 50) },
        ];
        let slots = open_slots(&plan, window, &busy);
        let starts: Vec<_> = slots.iter().map(|s| s.span.start).collect();
        assert_eq!(starts, vec![utc(2026, 3, 3, 14, 0), utc(2026, 3, 3, 15, 0)]);
        assert_eq!(slots[0].external_id, "dr.rivera@example.com#20260303T140000Z");
        assert_eq!(slots[0].span.end, utc(2026, 3, 3, 14, 30));
        assert_eq!(parse_slot_id(&slots[1].external_id), Some(("dr.rivera@example.com", utc(2026, 3, 3, 15, 0))));
    }

    #[test]
    fn working_hours_follow_the_providers_zone_across_the_spring_change() {
        // Europe/Berlin springs forward on Sun 2026-03-29: 08:00 local is 07:00Z on Saturday
        // and 06:00Z on Sunday and Monday.
        let plan = settings("Sat-Mon 08:00-08:30", Some("Europe/Berlin")).plan("America/New_York").unwrap();
        let window = Interval { start: utc(2026, 3, 28, 0, 0), end: utc(2026, 3, 31, 0, 0) };
        let starts: Vec<_> = open_slots(&plan, window, &[]).iter().map(|s| s.span.start).collect();
        assert_eq!(starts, vec![utc(2026, 3, 28, 7, 0), utc(2026, 3, 29, 6, 0), utc(2026, 3, 30, 6, 0)]);
    }

    #[test]
    fn only_slots_starting_in_the_window_are_listed() {
        let plan = settings("Tue 09:00-10:00", Some("UTC")).plan("UTC").unwrap();
        // The window starts mid-cell at 09:15: the 09:00 cell starts before it and is left out.
        let window = Interval { start: utc(2026, 3, 3, 9, 15), end: utc(2026, 3, 3, 12, 0) };
        let starts: Vec<_> = open_slots(&plan, window, &[]).iter().map(|s| s.span.start).collect();
        assert_eq!(starts, vec![utc(2026, 3, 3, 9, 30)]);
    }

    #[test]
    fn bad_settings_name_the_provider() {
        assert_eq!(
            settings("Mon-Fri 09:00-17:00", Some("Mars/Olympus")).plan("UTC").unwrap_err(),
            "Dr. Rivera: 'Mars/Olympus' is not a time zone; use a name such as America/New_York"
        );
        assert!(settings("Someday", None).plan("UTC").unwrap_err().starts_with("Dr. Rivera: working hours 'Someday'"));
        let mut s = settings("Mon 09:00-10:00", None);
        s.slot_minutes = 0;
        assert_eq!(s.plan("UTC").unwrap_err(), "Dr. Rivera: a slot must be 5 to 480 minutes long, not 0");
    }
}
