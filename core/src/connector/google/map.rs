//! Pure mapping between Google Calendar API v3 JSON and the desk's domain (no IO).
//!
//! * `freeBusy.query` (Calendar API reference "Freebusy: query"): request bodies
//!   ([`freebusy_request`]) and replies ([`freebusy_reply`]: per calendar its busy blocks, or the
//!   `errors[].reason`s that make its busy time unknown). One query covers at most
//!   [`MAX_QUERY_DAYS`] days ("The requested time range is too long" beyond 90 days) and
//!   [`MAX_CALENDARS_PER_QUERY`] calendars (`calendarExpansionMax`: "Maximum value is 50").
//! * `events.list` pages (reference "Events: list", guide "Synchronize resources efficiently"):
//!   [`events_page`] reads `items`, `nextPageToken` and `nextSyncToken` and turns each changed event
//!   into the local days whose open slots may have changed ([`EventChange`]).
//! * `events.insert` bodies for a booking ([`event_insert_body`]) and the inserted event
//!   ([`inserted_event`]); appointment ids ([`appointment_id`], [`parse_appointment_id`]).
//! * Google's error bodies (`{"error":{"code":403,"message":"…","errors":[{"reason":"…"}]}}`, guide
//!   "Handle API errors") in plain words ([`google_error_text`]) and rate-limit detection
//!   ([`google_rate_limited`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::connector::calendar::{open_slots, CalendarPlan};
use crate::connector::RemoteSlot;
use crate::model::SlotStatus;
use crate::time::{Interval, Zone};

/// Longest span one `freeBusy.query` may cover, in days (Google answers "The requested time range
/// is too long." beyond it).
pub const MAX_QUERY_DAYS: i64 = 90;

/// Most calendars in one `freeBusy.query` (`calendarExpansionMax` "Maximum value is 50").
pub const MAX_CALENDARS_PER_QUERY: usize = 50;

/// The event summary written on bookings. No patient detail ever goes in an event's visible text.
pub const BOOKING_SUMMARY: &str = "Booked by MedHarmony Desk";

/// Why a Google reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The reply lacks something it must have, or has it in the wrong form.
    #[error("the reply {0}")]
    Unreadable(String),
}

fn unreadable(what: impl Into<String>) -> MapError {
    MapError::Unreadable(what.into())
}

/// RFC 3339 UTC with whole seconds, e.g. `2026-03-03T14:00:00Z` (the form `timeMin`/`timeMax` take).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Splits `window` into consecutive pieces of at most `max_days` days each (the last may be shorter).
pub fn split_window(window: Interval, max_days: i64) -> Vec<Interval> {
    let step = Duration::days(max_days.max(1));
    let mut pieces = Vec::new();
    let mut start = window.start;
    while start < window.end {
        let end = (start + step).min(window.end);
        pieces.push(Interval { start, end });
        start = end;
    }
    pieces
}

/// The body of a `freeBusy.query` for `span` and the calendars `ids` (at most
/// [`MAX_CALENDARS_PER_QUERY`]): `timeMin`/`timeMax` in UTC, `items: [{"id": …}]`,
/// `calendarExpansionMax` = the number of calendars. The reply's times are then UTC too.
pub fn freebusy_request(span: Interval, ids: &[&str]) -> Value {
    json!({
        "timeMin": rfc3339(span.start),
        "timeMax": rfc3339(span.end),
        "calendarExpansionMax": ids.len(),
        "items": ids.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
    })
}

/// One calendar's part of a `freeBusy.query` reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarBusy {
    /// The busy blocks, `[start, end)` UTC.
    pub busy: Vec<Interval>,
    /// Why Google could not give this calendar's busy time, in plain words (from
    /// `errors[].reason`, or a busy block that cannot be read). Non-empty = the calendar's
    /// busy time in this query is unknown.
    pub errors: Vec<String>,
}

/// Reads a `freeBusy.query` reply (`{"kind":"calendar#freeBusy","calendars":{id:{"busy":[…],"errors":[…]}}}`).
///
/// # Errors
/// [`MapError::Unreadable`] when there is no `calendars` object.
pub fn freebusy_reply(body: &Value) -> Result<HashMap<String, CalendarBusy>, MapError> {
    let calendars = body.get("calendars").and_then(Value::as_object).ok_or_else(|| unreadable("has no calendars"))?;
    let mut out = HashMap::new();
    for (id, cal) in calendars {
        let mut entry = CalendarBusy::default();
        for e in cal.get("errors").and_then(Value::as_array).into_iter().flatten() {
            entry.errors.push(reason_words(e.get("reason").and_then(Value::as_str).unwrap_or("")));
        }
        for b in cal.get("busy").and_then(Value::as_array).into_iter().flatten() {
            let start = b.get("start").and_then(Value::as_str).and_then(parse_instant);
            let end = b.get("end").and_then(Value::as_str).and_then(parse_instant);
            match (start, end) {
                (Some(start), Some(end)) if start < end => entry.busy.push(Interval { start, end }),
                (Some(start), Some(end)) if start == end => {} // an empty block hides nothing
                _ => entry.errors.push("a busy time in Google's reply could not be read".into()),
            }
        }
        out.insert(id.clone(), entry);
    }
    Ok(out)
}

fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Google's `errors[].reason` codes in plain words (freeBusy per-calendar errors and error bodies).
pub fn reason_words(reason: &str) -> String {
    match reason {
        "notFound" => "the calendar was not found or is not shared with the signed-in Google account".into(),
        "groupTooBig" => "the group of calendars is too large for one query".into(),
        "tooManyCalendarsRequested" => "too many calendars were asked for at once".into(),
        "internalError" | "backendError" => "Google had an internal problem".into(),
        "rateLimitExceeded" | "userRateLimitExceeded" => "Google asked MedHarmony Desk to slow down".into(),
        "quotaExceeded" | "dailyLimitExceeded" => "the daily limit of requests to Google is used up; it resets tomorrow".into(),
        "forbidden" | "insufficientPermissions" | "forbiddenForNonOrganizer" | "requiredAccessLevel" => {
            "the signed-in Google account is not allowed to do this on that calendar".into()
        }
        "authError" => "Google did not accept the sign-in".into(),
        "fullSyncRequired" | "updatedMinTooLongAgo" => "Google asked for a full re-read of the calendar".into(),
        "timeRangeEmpty" => "the time range asked for is empty".into(),
        "" => "Google gave no reason".into(),
        other => format!("Google reported '{other}'"),
    }
}

/// A Google error body (`{"error":{"code":…,"message":"…","errors":[{"reason":"…"}]}}`) in plain
/// words: the first reason's words, then Google's own message; `None` for any other body.
pub fn google_error_text(body: &Value) -> Option<String> {
    let error = body.get("error")?.as_object()?;
    let message = error.get("message").and_then(Value::as_str).map(str::trim).filter(|m| !m.is_empty());
    let reason = error
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find_map(|e| e.get("reason").and_then(Value::as_str)));
    match (reason, message) {
        (Some(r), Some(m)) => Some(format!("{} (Google said: {})", reason_words(r), m.chars().take(300).collect::<String>())),
        (Some(r), None) => Some(reason_words(r)),
        (None, Some(m)) => Some(format!("Google said: {}", m.chars().take(300).collect::<String>())),
        (None, None) => None,
    }
}

/// True when a Google error body's reason is `rateLimitExceeded` or `userRateLimitExceeded`
/// (sent with HTTP 403 or 429; to be retried with exponential backoff).
pub fn google_rate_limited(body: &Value) -> bool {
    body.pointer("/error/errors")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|e| matches!(e.get("reason").and_then(Value::as_str), Some("rateLimitExceeded" | "userRateLimitExceeded"))))
}

/// The sync cursor: calendar id → its `nextSyncToken`, as a JSON object string.
pub type SyncTokens = BTreeMap<String, String>;

/// Reads a cursor written by [`cursor_text`].
///
/// # Errors
/// [`MapError::Unreadable`] when it is not a JSON object of strings.
pub fn parse_cursor(cursor: &str) -> Result<SyncTokens, MapError> {
    serde_json::from_str(cursor).map_err(|_| unreadable("is not a Google sync cursor"))
}

/// The cursor text for `tokens`, e.g. `{"dr.rivera@example.com":"CPDAlvWDx70CEPDAlvWDx70CGAU="}`.
pub fn cursor_text(tokens: &SyncTokens) -> String {
    serde_json::to_string(tokens).unwrap_or_else(|_| "{}".into())
}

/// A time of an event: an instant (`dateTime`) or an all-day date (`date`, a calendar date with
/// no zone, read in the provider's zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// `dateTime` (RFC 3339 with offset), as UTC.
    At(DateTime<Utc>),
    /// `date` (`YYYY-MM-DD`) of an all-day event.
    Day(NaiveDate),
}

fn when(v: Option<&Value>) -> Option<When> {
    let v = v?;
    if let Some(t) = v.get("dateTime").and_then(Value::as_str) {
        return parse_instant(t).map(When::At);
    }
    v.get("date").and_then(Value::as_str).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).map(When::Day)
}

/// What one changed event of an incremental `events.list` means for the cached slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventChange {
    /// The spans whose working-hours cells must be recomputed: the event's current
    /// `start`–`end`, and for an instance of a repeating event also its `originalStartTime`.
    Spans(Vec<(When, When)>),
    /// The event's affected time cannot be known from the change (a deleted event listed with its
    /// id only; a repeating event's rule changed): the whole window must be re-read.
    Unknown(String),
}

/// One page of `events.list`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventsPage {
    /// One entry per listed event.
    pub changes: Vec<EventChange>,
    /// `nextPageToken`: more pages follow.
    pub next_page: Option<String>,
    /// `nextSyncToken` (on the last page only).
    pub next_sync: Option<String>,
}

/// Reads an `events.list` page (`{"kind":"calendar#events","items":[…],"nextPageToken"|"nextSyncToken":…}`).
///
/// Each event becomes an [`EventChange`]: a repeating event's master (it has `recurrence`) is
/// [`EventChange::Unknown`] (its instances cannot be listed without expanding the rule); a
/// `cancelled` event without `start`/`end` or `originalStartTime` is [`EventChange::Unknown`];
/// otherwise the spans named above. A one-off instance's `originalStartTime` is taken as lasting
/// until the end of its day.
///
/// # Errors
/// [`MapError::Unreadable`] when `items` is present but not a list.
pub fn events_page(body: &Value) -> Result<EventsPage, MapError> {
    let items = match body.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(unreadable("lists its events in an unreadable form")),
    };
    let mut page = EventsPage {
        next_page: body.get("nextPageToken").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string),
        next_sync: body.get("nextSyncToken").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string),
        ..Default::default()
    };
    for item in &items {
        page.changes.push(event_change(item));
    }
    Ok(page)
}

fn event_change(item: &Value) -> EventChange {
    if item.get("recurrence").and_then(Value::as_array).is_some_and(|r| !r.is_empty()) {
        return EventChange::Unknown("a repeating event changed".into());
    }
    let mut spans = Vec::new();
    match (when(item.get("start")), when(item.get("end"))) {
        (Some(s), Some(e)) => spans.push((s, e)),
        (Some(s), None) => spans.push((s, s)),
        _ => {}
    }
    if let Some(orig) = when(item.get("originalStartTime")) {
        spans.push((orig, orig));
    }
    if spans.is_empty() {
        let cancelled = item.get("status").and_then(Value::as_str) == Some("cancelled");
        return EventChange::Unknown(if cancelled { "an event was deleted".into() } else { "an event without a time changed".into() });
    }
    EventChange::Spans(spans)
}

/// The local days (inclusive) in `tz` that a span touches: a `dateTime` end that falls exactly at
/// midnight does not touch that day; an all-day `date` end is exclusive (RFC 5545 `DTEND;VALUE=DATE`).
pub fn local_days(tz: Tz, span: (When, When)) -> (NaiveDate, NaiveDate) {
    let zone = Zone::Iana(tz);
    let first = match span.0 {
        When::At(t) => zone.to_local(t).date(),
        When::Day(d) => d,
    };
    let last = match span.1 {
        When::At(t) if t > first_instant(span.0) => zone.to_local(t - Duration::nanoseconds(1)).date(),
        When::At(t) => zone.to_local(t).date(),
        When::Day(d) => d.pred_opt().unwrap_or(d),
    };
    (first, last.max(first))
}

fn first_instant(w: When) -> DateTime<Utc> {
    match w {
        When::At(t) => t,
        When::Day(d) => d.and_hms_opt(0, 0, 0).map(|n| n.and_utc()).unwrap_or_default(),
    }
}

/// The instants of local days `first..=last` in `tz`: from `first` 00:00 to the day after `last`
/// 00:00, converted with [`Zone::to_utc`].
pub fn days_interval(tz: Tz, first: NaiveDate, last: NaiveDate) -> Interval {
    let zone = Zone::Iana(tz);
    let midnight = |d: NaiveDate| zone.to_utc(d.and_hms_opt(0, 0, 0).expect("midnight exists"));
    Interval { start: midnight(first), end: midnight(last.succ_opt().unwrap_or(last)) }
}

/// Every working-hours cell of `plan` starting in `span`: free ones as [`SlotStatus::Free`], those
/// overlapping `busy` as [`SlotStatus::Busy`] (same `external_id`s as [`open_slots`]), so an upsert
/// of them refreshes `span` completely.
pub fn refreshed_cells(plan: &CalendarPlan, span: Interval, busy: &[Interval]) -> Vec<RemoteSlot> {
    let free: std::collections::HashSet<String> = open_slots(plan, span, busy).into_iter().map(|s| s.external_id).collect();
    open_slots(plan, span, &[])
        .into_iter()
        .map(|mut s| {
            if !free.contains(&s.external_id) {
                s.status = SlotStatus::Busy;
            }
            s
        })
        .collect()
}

/// An opaque reference for a booking, `MHD-` + 12 hex digits of SHA-256 of the slot's
/// `external_id`: lets staff match the event to the desk without any patient detail.
pub fn booking_reference(slot_external_id: &str) -> String {
    let digest = Sha256::digest(slot_external_id.as_bytes());
    format!("MHD-{}", hex::encode(&digest[..6]))
}

/// The `events.insert` body of a booking of `span` on a calendar in zone `tz`: `start`/`end` as
/// `dateTime` with the zone's offset plus `timeZone` (IANA name), summary [`BOOKING_SUMMARY`], a
/// description with the [`booking_reference`], `transparency: opaque` (the time shows busy), and
/// the patient's id only in `extendedProperties.private` (visible to this app's client only; Events
/// resource "extendedProperties.private"). No patient name or other detail.
pub fn event_insert_body(tz: Tz, span: Interval, slot_external_id: &str, patient_id: &str) -> Value {
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, true);
    let reference = booking_reference(slot_external_id);
    json!({
        "summary": BOOKING_SUMMARY,
        "description": format!("Reference {reference}. Booked from MedHarmony Desk; the details are in MedHarmony Desk."),
        "start": { "dateTime": local(span.start), "timeZone": tz.name() },
        "end": { "dateTime": local(span.end), "timeZone": tz.name() },
        "transparency": "opaque",
        "extendedProperties": { "private": {
            "medharmonyReference": reference,
            "medharmonySlot": slot_external_id,
            "medharmonyPatientId": patient_id,
        } },
    })
}

/// The appointment id of event `event_id` on calendar `calendar_id`:
/// `calendars/<calendar id>/events/<event id>` (Google event ids use only `a-v` and `0-9`, so the
/// last `/events/` splits it).
pub fn appointment_id(calendar_id: &str, event_id: &str) -> String {
    format!("calendars/{calendar_id}/events/{event_id}")
}

/// Splits an [`appointment_id`] into calendar id and event id.
pub fn parse_appointment_id(id: &str) -> Option<(&str, &str)> {
    let (cal, event) = id.strip_prefix("calendars/")?.rsplit_once("/events/")?;
    (!cal.is_empty() && !event.is_empty() && !event.contains('/')).then_some((cal, event))
}

/// The id and status (`confirmed`, `tentative`, `cancelled`) of the event `events.insert` returned.
///
/// # Errors
/// [`MapError::Unreadable`] when there is no `id`.
pub fn inserted_event(body: &Value) -> Result<(String, String), MapError> {
    let id = body.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| unreadable("names no event"))?;
    let status = body.get("status").and_then(Value::as_str).unwrap_or("confirmed");
    Ok((id.to_string(), status.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::calendar::CalendarSettings;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../fixtures/google/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
    }

    fn plan() -> CalendarPlan {
        CalendarSettings {
            id: "dr.rivera@example.com".into(),
            provider: "Dr. Rivera".into(),
            tz: Some("America/New_York".into()),
            hours: "Tue 09:00-11:00".into(),
            slot_minutes: 30,
            location: None,
        }
        .plan("UTC")
        .unwrap()
    }

    #[test]
    fn windows_are_split_into_pieces_of_at_most_90_days() {
        let w = Interval { start: utc(2026, 1, 1, 0, 0), end: utc(2026, 7, 1, 0, 0) }; // 181 days
        let pieces = split_window(w, MAX_QUERY_DAYS);
        assert_eq!(
            pieces,
            vec![
                Interval { start: utc(2026, 1, 1, 0, 0), end: utc(2026, 4, 1, 0, 0) },
                Interval { start: utc(2026, 4, 1, 0, 0), end: utc(2026, 6, 30, 0, 0) },
                Interval { start: utc(2026, 6, 30, 0, 0), end: utc(2026, 7, 1, 0, 0) },
            ]
        );
        assert_eq!(split_window(Interval { start: w.start, end: w.start }, 90), vec![]);
    }

    #[test]
    fn freebusy_request_names_the_window_in_utc_and_the_calendars() {
        let span = Interval { start: utc(2026, 3, 3, 5, 0), end: utc(2026, 3, 4, 5, 0) };
        assert_eq!(
            freebusy_request(span, &["a@example.com", "b@example.com"]),
            json!({"timeMin": "2026-03-03T05:00:00Z", "timeMax": "2026-03-04T05:00:00Z", "calendarExpansionMax": 2,
                   "items": [{"id": "a@example.com"}, {"id": "b@example.com"}]})
        );
    }

    #[test]
    fn freebusy_reply_reads_busy_blocks_and_calendar_errors() {
        let reply = freebusy_reply(&fixture("freebusy_one_calendar_in_error.json")).unwrap();
        let ok = &reply["dr.rivera@example.com"];
        assert!(ok.errors.is_empty());
        assert_eq!(
            ok.busy,
            vec![
                Interval { start: utc(2026, 3, 3, 14, 30), end: utc(2026, 3, 3, 15, 0) },
                Interval { start: utc(2026, 3, 3, 15, 40), end: utc(2026, 3, 3, 15, 50) },
            ]
        );
        let bad = &reply["dr.chen@example.com"];
        assert_eq!(bad.errors, vec!["the calendar was not found or is not shared with the signed-in Google account".to_string()]);
        assert!(bad.busy.is_empty());
        assert!(freebusy_reply(&json!({"kind": "calendar#freeBusy"})).is_err());
        let odd = freebusy_reply(&json!({"calendars": {"x": {"busy": [{"start": "soon", "end": "2026-03-03T15:00:00Z"}]}}})).unwrap();
        assert_eq!(odd["x"].errors, vec!["a busy time in Google's reply could not be read".to_string()]);
    }

    #[test]
    fn google_error_bodies_in_plain_words_and_rate_limits_recognised() {
        let body = fixture("error_rate_limit.json");
        assert!(google_rate_limited(&body));
        assert_eq!(google_error_text(&body).unwrap(), "Google asked MedHarmony Desk to slow down (Google said: Rate Limit Exceeded)");
        let gone = fixture("error_sync_token_gone.json");
        assert!(!google_rate_limited(&gone));
        assert_eq!(
            google_error_text(&gone).unwrap(),
            "Google asked for a full re-read of the calendar (Google said: Sync token is no longer valid, a full sync is required.)"
        );
        assert_eq!(google_error_text(&json!({"resourceType": "OperationOutcome"})), None);
        assert_eq!(google_error_text(&json!({"error": {"code": 500, "message": "Backend Error"}})).unwrap(), "Google said: Backend Error");
    }

    #[test]
    fn events_pages_carry_page_and_sync_tokens_and_the_affected_times() {
        let p1 = events_page(&fixture("events_initial_page1.json")).unwrap();
        assert_eq!(p1.next_page.as_deref(), Some("CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA"));
        assert_eq!(p1.next_sync, None);
        let p2 = events_page(&fixture("events_initial_page2.json")).unwrap();
        assert_eq!((p2.next_page, p2.next_sync.as_deref()), (None, Some("CPDAlvWDx70CEPDAlvWDx70CGAU=")));
        let changed = events_page(&fixture("events_incremental.json")).unwrap();
        assert_eq!(changed.next_sync.as_deref(), Some("CKCbrNqDx70CEKCbrNqDx70CGAU="));
        assert_eq!(
            changed.changes,
            vec![
                EventChange::Spans(vec![(When::At(utc(2026, 3, 10, 14, 0)), When::At(utc(2026, 3, 10, 15, 0)))]),
                EventChange::Spans(vec![(When::At(utc(2026, 3, 17, 14, 0)), When::At(utc(2026, 3, 17, 14, 30)))]),
            ]
        );
    }

    #[test]
    fn deleted_events_without_a_time_and_repeating_masters_ask_for_a_full_read() {
        let page = events_page(&json!({"items": [
            {"kind": "calendar#event", "id": "abc", "status": "cancelled"},
            {"kind": "calendar#event", "id": "def", "status": "confirmed", "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TU"],
             "start": {"dateTime": "2026-03-03T09:00:00-05:00"}, "end": {"dateTime": "2026-03-03T10:00:00-05:00"}},
            {"kind": "calendar#event", "id": "ghi_20260310T140000Z", "status": "cancelled", "recurringEventId": "ghi",
             "originalStartTime": {"dateTime": "2026-03-10T09:00:00-05:00", "timeZone": "America/New_York"}},
            {"kind": "calendar#event", "id": "jkl", "status": "confirmed", "start": {"date": "2026-03-12"}, "end": {"date": "2026-03-14"}}
        ], "nextSyncToken": "t"}))
        .unwrap();
        assert_eq!(page.changes[0], EventChange::Unknown("an event was deleted".into()));
        assert_eq!(page.changes[1], EventChange::Unknown("a repeating event changed".into()));
        assert_eq!(page.changes[2], EventChange::Spans(vec![(When::At(utc(2026, 3, 10, 14, 0)), When::At(utc(2026, 3, 10, 14, 0)))]));
        assert_eq!(page.changes[3], EventChange::Spans(vec![(When::Day(day(2026, 3, 12)), When::Day(day(2026, 3, 14)))]));
    }

    #[test]
    fn local_days_follow_the_providers_zone_and_exclusive_ends() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-03-11T03:30Z is still 10 March in New York (UTC−4 after the 8 March change).
        assert_eq!(local_days(ny, (When::At(utc(2026, 3, 10, 14, 0)), When::At(utc(2026, 3, 11, 3, 30)))), (day(2026, 3, 10), day(2026, 3, 10)));
        // Ending exactly at local midnight does not touch the next day.
        assert_eq!(local_days(ny, (When::At(utc(2026, 3, 10, 14, 0)), When::At(utc(2026, 3, 11, 4, 0)))), (day(2026, 3, 10), day(2026, 3, 10)));
        assert_eq!(local_days(ny, (When::Day(day(2026, 3, 12)), When::Day(day(2026, 3, 14)))), (day(2026, 3, 12), day(2026, 3, 13)));
        assert_eq!(
            days_interval(ny, day(2026, 3, 8), day(2026, 3, 8)),
            Interval { start: utc(2026, 3, 8, 5, 0), end: utc(2026, 3, 9, 4, 0) } // the 23-hour day
        );
    }

    #[test]
    fn refreshed_cells_mark_covered_cells_busy_and_keep_the_rest_free() {
        let span = days_interval(plan().tz, day(2026, 3, 3), day(2026, 3, 3));
        let busy = [Interval { start: utc(2026, 3, 3, 14, 30), end: utc(2026, 3, 3, 15, 0) }];
        let cells = refreshed_cells(&plan(), span, &busy);
        let got: Vec<_> = cells.iter().map(|s| (s.external_id.as_str(), s.status)).collect();
        assert_eq!(
            got,
            vec![
                ("dr.rivera@example.com#20260303T140000Z", SlotStatus::Free),
                ("dr.rivera@example.com#20260303T143000Z", SlotStatus::Busy),
                ("dr.rivera@example.com#20260303T150000Z", SlotStatus::Free),
                ("dr.rivera@example.com#20260303T153000Z", SlotStatus::Free),
            ]
        );
    }

    #[test]
    fn booking_body_has_the_zone_and_no_patient_detail_outside_private_properties() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let span = Interval { start: utc(2026, 3, 3, 14, 0), end: utc(2026, 3, 3, 14, 30) };
        let body = event_insert_body(tz, span, "dr.rivera@example.com#20260303T140000Z", "pat-42");
        assert_eq!(body["start"], json!({"dateTime": "2026-03-03T09:00:00-05:00", "timeZone": "America/New_York"}));
        assert_eq!(body["end"], json!({"dateTime": "2026-03-03T09:30:00-05:00", "timeZone": "America/New_York"}));
        assert_eq!(body["summary"], "Booked by MedHarmony Desk");
        let reference = booking_reference("dr.rivera@example.com#20260303T140000Z");
        assert!(reference.starts_with("MHD-") && reference.len() == 16, "{reference}");
        assert_eq!(body["extendedProperties"]["private"]["medharmonyPatientId"], "pat-42");
        assert_eq!(body["extendedProperties"]["private"]["medharmonyReference"], reference.as_str());
        let mut visible = body.clone();
        visible.as_object_mut().unwrap().remove("extendedProperties");
        assert!(!visible.to_string().contains("pat-42"), "{visible}");
    }

    #[test]
    fn appointment_ids_round_trip() {
        let id = appointment_id("dr.rivera@example.com", "9v1nc3k0q2bq4a1t2rq7h8t0mo");
        assert_eq!(id, "calendars/dr.rivera@example.com/events/9v1nc3k0q2bq4a1t2rq7h8t0mo");
        assert_eq!(parse_appointment_id(&id), Some(("dr.rivera@example.com", "9v1nc3k0q2bq4a1t2rq7h8t0mo")));
        assert_eq!(parse_appointment_id("Appointment/123"), None);
        assert_eq!(parse_appointment_id("calendars//events/x"), None);
        assert_eq!(inserted_event(&fixture("event_inserted.json")).unwrap(), ("9v1nc3k0q2bq4a1t2rq7h8t0mo".to_string(), "confirmed".to_string()));
        assert!(inserted_event(&json!({"kind": "calendar#event"})).is_err());
    }
}
