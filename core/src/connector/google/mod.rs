//! Google Calendar (Calendar API v3) as a source of open times: each configured calendar
//! ([`IntegrationSettings::calendars`]) is one provider's; its busy time comes from
//! `freeBusy.query` and the open slots are the provider's working hours minus it
//! ([`crate::connector::calendar::open_slots`]).
//!
//! * [`Connector::availability`]: `POST {base}/freeBusy` over the window, split into queries of at
//!   most 90 days ([`map::MAX_QUERY_DAYS`]) and 50 calendars ([`map::MAX_CALENDARS_PER_QUERY`]).
//!   A calendar Google reports an error for (`calendars.<id>.errors`, e.g. `notFound`), a calendar
//!   missing from the reply, or a later query that fails makes the read incomplete, with a reason
//!   naming the provider: the store then keeps what it had.
//! * [`Connector::changes_since`]: `GET {base}/calendars/{id}/events` per calendar with the saved
//!   `syncToken` (guide "Synchronize resources efficiently"), following `pageToken`s. The cursor is
//!   a JSON object calendar id → `nextSyncToken`. Without a cursor (or for a calendar not in it) an
//!   initial listing from `timeMin` = now obtains the first token (its events are not reported: a
//!   window read comes first). For the local days (provider's zone) that changed events touch, from
//!   today to [`CHANGE_HORIZON_DAYS`] ahead, `freeBusy` is asked again and **every working-hours cell
//!   of those days** is returned: free cells `free`, covered cells `busy`, so upserting the batch
//!   refreshes those days completely (a change feed cannot remove rows; marking them busy does).
//!   `ChangeBatch::complete == false` means **run a full availability read of the sync window**:
//!   Google answered 410 Gone (the token expired; a new token is obtained in the same call and
//!   stored in the returned cursor), a deleted event came without its time, a repeating event's rule
//!   changed, a calendar was new to the cursor, or a recomputation failed.
//! * [`Connector::book`]: `freeBusy` for exactly the slot's span (busy → [`ConnectorError::SlotTaken`]),
//!   then `POST {base}/calendars/{id}/events` with `start`/`end` in the provider's zone, summary
//!   "Booked by MedHarmony Desk", an opaque reference, and the patient id only in
//!   `extendedProperties.private` (never a name). The appointment id is
//!   `calendars/<calendar id>/events/<event id>` ([`map::appointment_id`]).
//! * [`Connector::cancel`]: `DELETE {base}/calendars/{id}/events/{eventId}`; 410 (already deleted) is success.
//!
//! Errors: Google's error bodies become plain words ([`map::google_error_text`]); 403/429
//! `rateLimitExceeded`/`userRateLimitExceeded` are retried with backoff by [`FhirHttp`], which also
//! renews the token once after a 401.

pub mod map;

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::calendar::{open_slots, parse_slot_id, CalendarPlan};
use super::http::FhirHttp;
use super::{Booked, ChangeBatch, Connector, ConnectorError, IntegrationKind, IntegrationSettings, SlotToBook, WindowRead};
use crate::time::{Interval, Zone};
use map::{EventChange, SyncTokens};

/// The Calendar API's base URL, used when the settings' `base_url` is empty.
pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com/calendar/v3";

/// How far ahead of now changed events are recomputed by [`Connector::changes_since`], in days
/// (later changes are picked up by window reads as the window reaches them).
pub const CHANGE_HORIZON_DAYS: i64 = 400;

/// Most `events.list` pages read for one calendar in one call.
pub const PAGE_CAP: usize = 1000;

/// Google Calendar's `maxResults` ceiling for `events.list`.
const MAX_RESULTS: u32 = 2500;

/// A Google Calendar integration: one or more calendars, each a provider's.
pub struct GoogleCalendarConnector {
    http: FhirHttp,
    base: url::Url,
    plans: Vec<CalendarPlan>,
    page_size: u32,
    page_cap: usize,
}

impl std::fmt::Debug for GoogleCalendarConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleCalendarConnector").field("base", &self.base.as_str()).field("calendars", &self.plans.len()).finish()
    }
}

/// Busy time read for some calendars over some span.
struct BusyRead {
    busy: HashMap<String, Vec<Interval>>,
    /// Why some calendar's busy time (or part of the span) is unknown, in plain words.
    problems: Vec<String>,
}

enum Listing {
    /// The changes and the next sync token.
    Changes(Vec<EventChange>, String),
    /// HTTP 410: the sync token is no longer valid.
    Gone,
}

impl GoogleCalendarConnector {
    /// A connector for `settings.calendars` at `settings.base_url` (empty = [`DEFAULT_BASE_URL`];
    /// tests point it at a fake), sending JSON bodies as `application/json` through `http`.
    ///
    /// # Errors
    /// [`ConnectorError::Unsupported`] with a sentence for staff when there is no calendar, a
    /// calendar id is empty or listed twice, a calendar's zone, working hours or slot length is
    /// wrong ([`crate::connector::calendar::CalendarSettings::plan`]), or the base URL is not a web address.
    pub fn new(settings: IntegrationSettings, http: FhirHttp) -> Result<Self, ConnectorError> {
        let label = IntegrationKind::GoogleCalendar.label();
        let raw = if settings.base_url.trim().is_empty() { DEFAULT_BASE_URL } else { settings.base_url.trim() };
        let base = url::Url::parse(raw.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && !u.cannot_be_a_base())
            .ok_or_else(|| ConnectorError::Unsupported(format!("The {label} address '{raw}' is not a web address.")))?;
        if settings.calendars.is_empty() {
            return Err(ConnectorError::Unsupported(format!(
                "This {label} connection lists no calendar: add each provider's calendar with its working hours."
            )));
        }
        let mut plans: Vec<CalendarPlan> = Vec::new();
        for cal in &settings.calendars {
            if cal.id.trim().is_empty() {
                return Err(ConnectorError::Unsupported(format!("{}: the {label} calendar id is empty.", cal.provider)));
            }
            if plans.iter().any(|p| p.settings.id == cal.id) {
                return Err(ConnectorError::Unsupported(format!("The {label} calendar '{}' is listed twice; list each calendar once.", cal.id)));
            }
            plans.push(cal.plan(&settings.tz).map_err(|e| ConnectorError::Unsupported(format!("{label} calendar settings: {e}")))?);
        }
        Ok(GoogleCalendarConnector {
            http: http.with_content_type("application/json"),
            base,
            plans,
            page_size: settings.page_size.clamp(1, MAX_RESULTS),
            page_cap: PAGE_CAP,
        })
    }

    /// Replaces the page cap (tests).
    pub fn with_page_cap(mut self, cap: usize) -> Self {
        self.page_cap = cap.max(1);
        self
    }

    fn system(&self) -> String {
        self.http.system().to_string()
    }

    /// `{base}/<segments…>` with each segment percent-encoded as a path segment.
    fn url(&self, segments: &[&str]) -> url::Url {
        let mut u = self.base.clone();
        if let Ok(mut path) = u.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        u
    }

    fn provider_of(&self, calendar_id: &str) -> String {
        self.plans.iter().find(|p| p.settings.id == calendar_id).map_or_else(|| calendar_id.to_string(), |p| p.settings.provider.clone())
    }

    /// Busy blocks of calendars `ids` over `window`, one `freeBusy.query` per piece of at most 90
    /// days and 50 calendars. The first query's failure is an error; a later one's is a problem.
    fn read_busy(&mut self, window: Interval, ids: &[String]) -> Result<BusyRead, ConnectorError> {
        let mut read = BusyRead { busy: ids.iter().map(|id| (id.clone(), Vec::new())).collect(), problems: Vec::new() };
        let url = self.url(&["freeBusy"]).to_string();
        let mut first = true;
        for piece in map::split_window(window, map::MAX_QUERY_DAYS) {
            for group in ids.chunks(map::MAX_CALENDARS_PER_QUERY) {
                let names: Vec<&str> = group.iter().map(String::as_str).collect();
                let body = map::freebusy_request(piece, &names);
                let reply = match self.http.post(&url, &body) {
                    Ok(r) => r,
                    Err(e) if first => return Err(e),
                    Err(e) => {
                        read.problems.push(format!("the busy time from {} on could not be read ({e})", map::rfc3339(piece.start)));
                        continue;
                    }
                };
                first = false;
                let calendars = match map::freebusy_reply(&reply.body) {
                    Ok(c) => c,
                    Err(e) => {
                        read.problems.push(format!("Google's busy-time {e}"));
                        continue;
                    }
                };
                for id in group {
                    match calendars.get(id) {
                        Some(c) if c.errors.is_empty() => read.busy.entry(id.clone()).or_default().extend(c.busy.iter().copied()),
                        Some(c) => read.problems.push(format!(
                            "{} could not give the busy time of {}'s calendar ({id}): {}",
                            self.system(),
                            self.provider_of(id),
                            c.errors.join("; ")
                        )),
                        None => read.problems.push(format!("{}'s reply left out {}'s calendar ({id})", self.system(), self.provider_of(id))),
                    }
                }
            }
        }
        read.problems.dedup();
        Ok(read)
    }

    /// Lists a calendar's events page by page (same parameters on every page, plus `pageToken`),
    /// from `sync_token`, or for an initial listing from `time_min`. Returns the changes and the
    /// `nextSyncToken`, or [`Listing::Gone`] on HTTP 410.
    fn list_events(&mut self, calendar_id: &str, sync_token: Option<&str>, time_min: DateTime<Utc>) -> Result<Listing, ConnectorError> {
        let mut changes = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..self.page_cap {
            let mut url = self.url(&["calendars", calendar_id, "events"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("maxResults", &self.page_size.to_string());
                match sync_token {
                    Some(t) => q.append_pair("syncToken", t),
                    None => q.append_pair("timeMin", &map::rfc3339(time_min)),
                };
                if let Some(p) = &page_token {
                    q.append_pair("pageToken", p);
                }
            }
            let reply = match self.http.get(url.as_str()) {
                Ok(r) => r,
                Err(ConnectorError::Server { status: 410, .. }) => return Ok(Listing::Gone),
                Err(e) => return Err(e),
            };
            let page = map::events_page(&reply.body).map_err(|e| ConnectorError::BadReply { system: self.system(), detail: e.to_string() })?;
            changes.extend(page.changes);
            match (page.next_page, page.next_sync) {
                (Some(next), _) => page_token = Some(next),
                (None, Some(sync)) => return Ok(Listing::Changes(changes, sync)),
                (None, None) => {
                    return Err(ConnectorError::BadReply {
                        system: self.system(),
                        detail: format!("the event list of {} ended without a sync token", self.provider_of(calendar_id)),
                    })
                }
            }
        }
        Err(ConnectorError::BadReply {
            system: self.system(),
            detail: format!("the event list of {} went on for more than {} pages", self.provider_of(calendar_id), self.page_cap),
        })
    }

    /// A fresh sync token for a calendar (initial listing from `now`; its events are not reported).
    fn fresh_token(&mut self, calendar_id: &str, now: DateTime<Utc>) -> Result<String, ConnectorError> {
        match self.list_events(calendar_id, None, now)? {
            Listing::Changes(_, token) => Ok(token),
            Listing::Gone => Err(ConnectorError::BadReply {
                system: self.system(),
                detail: format!("Google refused to start following {}'s calendar (HTTP 410)", self.provider_of(calendar_id)),
            }),
        }
    }
}

/// The span to recompute for `changes` in `plan`'s zone: from the first to the last local day
/// they touch, clipped to [today, now + [`CHANGE_HORIZON_DAYS`]]; `None` when nothing is left.
fn affected_span(plan: &CalendarPlan, changes: &[EventChange], now: DateTime<Utc>) -> Option<Interval> {
    let mut range: Option<(NaiveDate, NaiveDate)> = None;
    for change in changes {
        if let EventChange::Spans(spans) = change {
            for span in spans {
                let (a, b) = map::local_days(plan.tz, *span);
                range = Some(range.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            }
        }
    }
    let (first, last) = range?;
    let today = Zone::Iana(plan.tz).to_local(now).date();
    let span = map::days_interval(plan.tz, first.max(today), last);
    let end = span.end.min(now + Duration::days(CHANGE_HORIZON_DAYS));
    (span.start < end).then_some(Interval { start: span.start, end })
}

impl Connector for GoogleCalendarConnector {
    fn kind(&self) -> IntegrationKind {
        IntegrationKind::GoogleCalendar
    }

    fn availability(&mut self, window: Interval) -> Result<WindowRead, ConnectorError> {
        let ids: Vec<String> = self.plans.iter().map(|p| p.settings.id.clone()).collect();
        let read = self.read_busy(window, &ids)?;
        let mut slots = Vec::new();
        for plan in &self.plans {
            let busy = read.busy.get(&plan.settings.id).map(Vec::as_slice).unwrap_or(&[]);
            slots.extend(open_slots(plan, window, busy));
        }
        for p in &read.problems {
            tracing::warn!(system = %self.http.system(), problem = %p, "busy time not read completely");
        }
        let complete = read.problems.is_empty();
        Ok(WindowRead { slots, quarantined: Vec::new(), complete, incomplete_reason: (!complete).then(|| read.problems.join("; ")) })
    }

    fn changes_since(&mut self, cursor: Option<&str>, now: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
        let saved: Option<SyncTokens> = match cursor {
            None => None,
            Some(c) => match map::parse_cursor(c) {
                Ok(t) => Some(t),
                Err(_) => {
                    tracing::warn!(system = %self.http.system(), "unreadable sync cursor; starting over");
                    Some(SyncTokens::new())
                }
            },
        };
        let mut tokens = SyncTokens::new();
        let mut full_read: Vec<String> = Vec::new();
        let mut affected: Vec<(CalendarPlan, Interval)> = Vec::new();
        for plan in self.plans.clone() {
            let id = plan.settings.id.clone();
            let provider = plan.settings.provider.clone();
            let Some(saved) = &saved else {
                tokens.insert(id.clone(), self.fresh_token(&id, now)?);
                continue;
            };
            let Some(token) = saved.get(&id) else {
                tokens.insert(id.clone(), self.fresh_token(&id, now)?);
                full_read.push(format!("{provider}'s calendar was not followed before"));
                continue;
            };
            match self.list_events(&id, Some(token), now)? {
                Listing::Gone => {
                    tracing::info!(system = %self.http.system(), "sync token expired (HTTP 410); starting a full read");
                    tokens.insert(id.clone(), self.fresh_token(&id, now)?);
                    full_read.push(format!("Google asked for a full re-read of {provider}'s calendar"));
                }
                Listing::Changes(changes, next) => {
                    tokens.insert(id.clone(), next);
                    for c in &changes {
                        if let EventChange::Unknown(why) = c {
                            full_read.push(format!("{why} in {provider}'s calendar"));
                        }
                    }
                    if let Some(span) = affected_span(&plan, &changes, now) {
                        affected.push((plan, span));
                    }
                }
            }
        }
        let mut slots = Vec::new();
        for (plan, span) in affected {
            let read = self.read_busy(span, std::slice::from_ref(&plan.settings.id))?;
            if read.problems.is_empty() {
                let busy = read.busy.get(&plan.settings.id).map(Vec::as_slice).unwrap_or(&[]);
                slots.extend(map::refreshed_cells(&plan, span, busy));
            } else {
                full_read.extend(read.problems);
            }
        }
        full_read.dedup();
        if !full_read.is_empty() {
            tracing::info!(system = %self.http.system(), reasons = %full_read.join("; "), "a full window read is needed");
        }
        Ok(Some(ChangeBatch { slots, quarantined: Vec::new(), cursor: map::cursor_text(&tokens), complete: full_read.is_empty() }))
    }

    fn book(&mut self, slot: &SlotToBook, patient_id: &str) -> Result<Booked, ConnectorError> {
        let system = self.system();
        let calendar_id = slot
            .booking
            .get("calendar")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .or_else(|| parse_slot_id(&slot.external_id).map(|(c, _)| c.to_string()))
            .ok_or_else(|| ConnectorError::Unsupported(format!("This time does not belong to a {system} calendar MedHarmony Desk knows.")))?;
        let plan = self.plans.iter().find(|p| p.settings.id == calendar_id).cloned().ok_or_else(|| {
            ConnectorError::Unsupported(format!("The calendar '{calendar_id}' is no longer part of {system}; sync, then pick the time again."))
        })?;
        // Still one of the working-hours cells? (The hours may have been edited since the last sync.)
        if !open_slots(&plan, slot.span, &[]).iter().any(|c| c.span == slot.span) {
            return Err(ConnectorError::SlotChanged { system });
        }
        let read = self.read_busy(slot.span, std::slice::from_ref(&calendar_id))?;
        if let Some(problem) = read.problems.first() {
            return Err(ConnectorError::Unsupported(format!("{problem}. Nothing was booked; try again later.")));
        }
        if read.busy.get(&calendar_id).is_some_and(|b| b.iter().any(|b| b.overlaps(&slot.span))) {
            return Err(ConnectorError::SlotTaken { system });
        }
        let body = map::event_insert_body(plan.tz, slot.span, &slot.external_id, patient_id);
        let url = self.url(&["calendars", &calendar_id, "events"]).to_string();
        let unknown = |detail: String| ConnectorError::BookingUnknown { system: system.clone(), detail };
        let reply = match self.http.post(&url, &body) {
            Ok(r) => r,
            Err(ConnectorError::Unreachable { detail, .. } | ConnectorError::BadReply { detail, .. }) => return Err(unknown(detail)),
            Err(e) => return Err(e),
        };
        let (event_id, status) = map::inserted_event(&reply.body).map_err(|e| unknown(e.to_string()))?;
        tracing::info!(system = %system, "booking written to Google Calendar");
        Ok(Booked {
            appointment_id: map::appointment_id(&calendar_id, &event_id),
            status: if status == "confirmed" { "booked".into() } else { status },
        })
    }

    fn cancel(&mut self, appointment_id: &str) -> Result<(), ConnectorError> {
        let (calendar_id, event_id) = map::parse_appointment_id(appointment_id).ok_or_else(|| {
            ConnectorError::Unsupported(format!("'{appointment_id}' is not a {} appointment MedHarmony Desk booked.", self.system()))
        })?;
        let url = self.url(&["calendars", calendar_id, "events", event_id]).to_string();
        match self.http.delete(&url) {
            Ok(_) | Err(ConnectorError::Server { status: 410, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthConfig, NoAuth};
    use crate::connector::calendar::CalendarSettings;
    use chrono::TimeZone;
    use map::When;

    fn settings(base: &str) -> IntegrationSettings {
        let mut s = IntegrationSettings::new(base, "America/New_York", AuthConfig::None);
        s.calendars = vec![CalendarSettings {
            id: "en.usa#holiday@group.v.calendar.google.com".into(),
            provider: "Dr. Rivera".into(),
            tz: None,
            hours: "Mon-Fri 09:00-17:00".into(),
            slot_minutes: 30,
            location: None,
        }];
        s
    }

    fn connector(base: &str) -> GoogleCalendarConnector {
        GoogleCalendarConnector::new(settings(base), FhirHttp::new(FhirHttp::default_agent(), "Google Calendar", Box::new(NoAuth))).unwrap()
    }

    #[test]
    fn an_empty_base_url_is_googles_and_calendar_ids_are_encoded_as_path_segments() {
        let c = connector("");
        assert_eq!(c.url(&["freeBusy"]).as_str(), "https://www.googleapis.com/calendar/v3/freeBusy");
        assert_eq!(
            c.url(&["calendars", "en.usa#holiday@group.v.calendar.google.com", "events"]).as_str(),
            "https://www.googleapis.com/calendar/v3/calendars/en.usa%23holiday@group.v.calendar.google.com/events"
        );
        let c = connector("http://127.0.0.1:8080/calendar/v3/");
        assert_eq!(c.url(&["freeBusy"]).as_str(), "http://127.0.0.1:8080/calendar/v3/freeBusy");
        let err = GoogleCalendarConnector::new(settings("calendar"), FhirHttp::new(FhirHttp::default_agent(), "G", Box::new(NoAuth))).unwrap_err();
        assert_eq!(err.to_string(), "The Google Calendar address 'calendar' is not a web address.");
    }

    #[test]
    fn the_affected_span_runs_from_the_first_to_the_last_changed_day_clipped_to_today_and_the_horizon() {
        let plan = settings("").calendars[0].plan("America/New_York").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 17, 0, 0).unwrap();
        let at = |d: u32, h: u32| When::At(Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap());
        let changes = vec![
            EventChange::Spans(vec![(at(10, 14), at(10, 15))]),
            EventChange::Unknown("an event was deleted".into()),
            EventChange::Spans(vec![(at(6, 14), at(6, 15))]),
        ];
        // 6 to 10 March, New York days (UTC−5 until 8 March, then UTC−4).
        assert_eq!(
            affected_span(&plan, &changes, now),
            Some(Interval { start: Utc.with_ymd_and_hms(2026, 3, 6, 5, 0, 0).unwrap(), end: Utc.with_ymd_and_hms(2026, 3, 11, 4, 0, 0).unwrap() })
        );
        // A change reaching into the past starts today; one entirely in the past changes nothing.
        let past = vec![EventChange::Spans(vec![(at(1, 14), at(5, 15))])];
        assert_eq!(affected_span(&plan, &past, now).unwrap().start, Utc.with_ymd_and_hms(2026, 3, 4, 5, 0, 0).unwrap());
        assert_eq!(affected_span(&plan, &[EventChange::Spans(vec![(at(1, 14), at(2, 15))])], now), None);
        assert_eq!(affected_span(&plan, &[EventChange::Unknown("x".into())], now), None);
        // Beyond the horizon: clipped to now + 400 days.
        let far = When::Day(chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap());
        let span = affected_span(&plan, &[EventChange::Spans(vec![(at(5, 14), far)])], now).unwrap();
        assert_eq!(span.end, now + Duration::days(CHANGE_HORIZON_DAYS));
    }
}
