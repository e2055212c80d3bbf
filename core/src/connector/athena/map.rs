//! Pure mapping between athenahealth athenaOne REST JSON and the domain: open
//! appointment slots, the changed-appointments feed, departments, providers,
//! the booking reply, and the department-local dates a UTC window asks for.
//!
//! No I/O: every function here is tested on the payloads in `fixtures/athena/`.
//!
//! Sources followed (athenahealth Developer Portal, API reference):
//! * "Appointment Slot" → `GET /v1/{practiceid}/appointments/open`: a reply
//!   `{"totalcount": 131, "next": "/v1/…?offset=100", "appointments": [{"appointmentid": "659568",
//!   "date": "04/08/2016", "starttime": "08:15", "duration": "15", "departmentid": "1",
//!   "providerid": "71", "appointmenttype": "Any 15", "appointmenttypeid": "82", "reasonid": ["563"],
//!   "patientappointmenttypename": "Established Patient"}]}`. `date` is `MM/DD/YYYY` and
//!   `starttime` `HH:MM` (24-hour) on the department's wall clock; `duration` is in minutes
//!   (athenahealth sends these numbers as strings). `startdate` / `enddate` are inclusive
//!   `MM/DD/YYYY` dates.
//! * "Appointment" → `GET /v1/{practiceid}/appointments/changed` (same row shape plus
//!   `appointmentstatus`), `PUT /v1/{practiceid}/appointments/{appointmentid}` (book; replies
//!   with a list holding the booked appointment) and `GET /v1/{practiceid}/appointments/{appointmentid}`.
//!   `appointmentstatus` codes: `o` open, `f` future (booked), `2` checked in, `3` checked out,
//!   `4` charge entered, `x` cancelled.
//! * "Departments Reference" → `GET /v1/{practiceid}/departments/{departmentid}`: a list with
//!   one department (`departmentid`, `name`, `patientdepartmentname`, `timezonename` such as
//!   `America/New_York`, `timezone` / `timezoneoffset` as whole-hour offsets).
//! * "Providers" → `GET /v1/{practiceid}/providers/{providerid}`: a list with one provider
//!   (`displayname`, `firstname`, `lastname`).
//!
//! Data quality rule (as for FHIR): a row that cannot be read exactly is set
//! aside as a [`Quarantined`] with a reason staff can read, never guessed.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::{json, Map, Value};

use crate::connector::http::athena_error_text;
use crate::connector::{Booked, Quarantined, RemoteSlot};
use crate::model::SlotStatus;
use crate::time::{resolve_tzid, Interval, Zone};

/// athenahealth's date format, `MM/DD/YYYY` (e.g. `03/08/2026`), for `date`,
/// `startdate` and `enddate`.
pub const DATE_FORMAT: &str = "%m/%d/%Y";

/// What went wrong reading an athenahealth reply, in words staff can read.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The reply is an athenahealth error body instead of the data asked for.
    #[error("athenahealth reported a problem: {0}")]
    Reported(String),
    /// The reply has the wrong shape.
    #[error("athenahealth sent {found} where {expected} was expected")]
    Unexpected {
        /// What was expected, e.g. "a list of appointments".
        expected: &'static str,
        /// What arrived, e.g. "an empty reply".
        found: String,
    },
}

/// How a slot was asked for: the visit a `GET /appointments/open` request named
/// (athenahealth returns nothing unless one of the two is given).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Visit {
    /// A patient appointment reason (`reasonid`).
    Reason(String),
    /// An appointment type (`appointmenttypeid`).
    Type(String),
}

impl Visit {
    /// The query parameter and its value, e.g. `("reasonid", "563")`.
    pub fn param(&self) -> (&'static str, &str) {
        match self {
            Visit::Reason(id) => ("reasonid", id),
            Visit::Type(id) => ("appointmenttypeid", id),
        }
    }
}

/// A department as the connector uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentInfo {
    /// `departmentid`.
    pub departmentid: String,
    /// `name` (else `patientdepartmentname`), if given.
    pub name: Option<String>,
    /// `timezonename` resolved to an IANA zone, if given and known.
    pub zone: Option<chrono_tz::Tz>,
}

/// One page of a list reply (`/appointments/open`, `/appointments/changed`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowsPage {
    /// The `appointments` rows, unread.
    pub rows: Vec<Value>,
    /// The `next` link (a path such as `/v1/195900/appointments/open?…&offset=100`), if any.
    pub next: Option<String>,
    /// `totalcount`: rows the whole query matches, if given.
    pub totalcount: Option<u64>,
}

/// What a row is read against: the department's zone and name, and how the
/// slot was asked for.
#[derive(Debug, Clone)]
pub struct RowContext<'a> {
    /// The department's zone (its `timezonename`, else the integration's zone).
    pub zone: &'a Zone,
    /// The department's name, used as the slot's location.
    pub department_name: Option<&'a str>,
    /// The visit the request named (`None` for rows of the changed feed).
    pub visit: Option<&'a Visit>,
    /// The configured `reasonid`s: a changed-feed row listing one of them in its `reasonid`
    /// keeps it in its booking data, so it is booked by reason like the open list's slots.
    pub known_reasons: &'a [String],
}

/// A value athenahealth may send as a string or a number, as trimmed text.
fn text(row: &Value, key: &str) -> Option<String> {
    match row.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "an empty reply".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a record of another kind".into(),
        _ => "a bare value".into(),
    }
}

/// The object of a single-record reply: athenahealth answers
/// `GET /departments/{id}`, `GET /providers/{id}` and `GET /appointments/{id}`
/// with a list holding one record; a bare record is accepted too.
fn single(body: &Value, expected: &'static str) -> Result<Map<String, Value>, MapError> {
    if let Some(words) = athena_error_text(body) {
        return Err(MapError::Reported(words));
    }
    match body {
        Value::Array(items) => match items.first() {
            Some(Value::Object(o)) => Ok(o.clone()),
            _ => Err(MapError::Unexpected { expected, found: "an empty list".into() }),
        },
        Value::Object(o) => Ok(o.clone()),
        other => Err(MapError::Unexpected { expected, found: describe(other) }),
    }
}

/// Reads a department reply (`GET /v1/{practiceid}/departments/{departmentid}`).
/// The zone comes from `timezonename` (an IANA name, or a Windows / vendor
/// name [`resolve_tzid`] understands); the whole-hour `timezone` offsets are
/// not used, as they cannot say when daylight saving starts.
///
/// # Errors
/// [`MapError::Reported`] for an athenahealth error body, [`MapError::Unexpected`] for anything
/// that is not a department.
pub fn department(body: &Value) -> Result<DepartmentInfo, MapError> {
    let o = single(body, "a department")?;
    let v = Value::Object(o);
    let departmentid = text(&v, "departmentid").ok_or(MapError::Unexpected { expected: "a department", found: "a record without departmentid".into() })?;
    let name = text(&v, "name").or_else(|| text(&v, "patientdepartmentname"));
    let zone = text(&v, "timezonename").and_then(|n| resolve_tzid(&n));
    Ok(DepartmentInfo { departmentid, name, zone })
}

/// A provider's name from `GET /v1/{practiceid}/providers/{providerid}`:
/// `displayname`, else `firstname lastname`, else `None`.
pub fn provider_name(body: &Value) -> Option<String> {
    let v = Value::Object(single(body, "a provider").ok()?);
    if let Some(d) = text(&v, "displayname") {
        return Some(d);
    }
    let parts: Vec<String> = [text(&v, "firstname"), text(&v, "lastname")].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The name a provider gets until (or unless) athenahealth tells its name:
/// `athenahealth provider 71`.
pub fn provider_placeholder(providerid: &str) -> String {
    format!("athenahealth provider {providerid}")
}

/// The name a department gets when athenahealth gave none: `athenahealth department 1`.
pub fn department_placeholder(departmentid: &str) -> String {
    format!("athenahealth department {departmentid}")
}

/// Reads one page of a list reply: `{"totalcount": N, "next": "…", "appointments": [...]}`.
///
/// # Errors
/// [`MapError::Reported`] for an athenahealth error body, [`MapError::Unexpected`] when there is
/// no `appointments` list.
pub fn rows_page(body: &Value) -> Result<RowsPage, MapError> {
    if let Some(words) = athena_error_text(body) {
        return Err(MapError::Reported(words));
    }
    let Some(rows) = body.get("appointments").and_then(Value::as_array) else {
        return Err(MapError::Unexpected { expected: "a list of appointments", found: describe(body) });
    };
    let next = body.get("next").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    let totalcount = body.get("totalcount").and_then(|t| t.as_u64().or_else(|| t.as_str().and_then(|s| s.trim().parse().ok())));
    Ok(RowsPage { rows: rows.clone(), next, totalcount })
}

/// The inclusive department-local dates `(startdate, enddate)` that cover the
/// half-open UTC `window` in `zone`: the local date of `window.start` and the
/// local date of the last instant before `window.end`. `None` for an empty window.
///
/// E.g. `[2026-03-04T00:00Z, 2026-03-06T00:00Z)` in `America/New_York` is
/// `(03/03/2026, 03/05/2026)`: the window starts at 19:00 on 3 March and ends
/// just before 19:00 on 5 March, local time.
pub fn local_dates(window: Interval, zone: &Zone) -> Option<(NaiveDate, NaiveDate)> {
    if window.is_empty() {
        return None;
    }
    let first = zone.to_local(window.start).date();
    let last = zone.to_local(window.end - Duration::nanoseconds(1)).date();
    Some((first, last))
}

/// `MM/DD/YYYY`, athenahealth's date form.
pub fn fmt_date(d: NaiveDate) -> String {
    d.format(DATE_FORMAT).to_string()
}

/// The athenahealth `appointmentstatus` code as a FHIR slot status: `o` (open) is
/// `free`; `f` (future, booked), `2` (checked in), `3` (checked out) and `4`
/// (charge entered) are `busy`; `x` (cancelled) is `free` (the booking no longer
/// holds the time; a booking attempt re-reads the open list first, so a time
/// athenahealth did not reopen is caught as taken). Anything else is `None`.
pub fn slot_status(appointmentstatus: &str) -> Option<SlotStatus> {
    match appointmentstatus.trim().to_ascii_lowercase().as_str() {
        "o" | "x" => Some(SlotStatus::Free),
        "f" | "2" | "3" | "4" => Some(SlotStatus::Busy),
        _ => None,
    }
}

/// The resource name of a row in quarantine messages: `appointmentid 659568`,
/// or `appointment row 3` when the row has no id.
fn row_name(row: &Value, position: usize) -> String {
    match text(row, "appointmentid") {
        Some(id) => format!("appointmentid {id}"),
        None => format!("appointment row {position}"),
    }
}

/// Reads one appointment row (open slot, or a row of the changed feed) as a
/// [`RemoteSlot`]:
///
/// * `external_id` = `appointmentid`;
/// * `span` = `date` + `starttime` on the department's wall clock (`ctx.zone`, through
///   [`Zone::span_to_utc`]: a start in a DST gap moves forward and keeps its length; one in
///   an overlap is the earlier instant), lasting `duration` minutes;
/// * `status` from `appointmentstatus` ([`slot_status`]); rows without one (the open list) are `free`;
/// * `provider` = [`provider_placeholder`] (named later by [`name_providers`]),
///   `provider_ref` = `providerid`; `location` = the department's name, `location_ref` = `departmentid`;
/// * `service_type` = `appointmenttype` (else `patientappointmenttypename`);
/// * `booking` = `{"appointmentid", "departmentid", "date", "providerid", "appointmenttypeid",
///   "reasonid"}` (the ones known; `reasonid` is the one the request named). Never patient data:
///   a row's `patientid` and patient details are not read.
///
/// `position` is the row's 1-based place in the reply (for messages).
///
/// # Errors
/// The row set aside with a reason: no `appointmentid`, no or unreadable `date` / `starttime`,
/// no `departmentid`, a `duration` that is missing or not a positive number of minutes, an
/// unknown `appointmentstatus`.
pub fn remote_slot(row: &Value, position: usize, ctx: &RowContext<'_>) -> Result<RemoteSlot, Quarantined> {
    let resource = row_name(row, position);
    let bad = |reason: String| Quarantined { resource: resource.clone(), reason };
    let Some(appointmentid) = text(row, "appointmentid") else {
        return Err(bad("has no appointmentid".into()));
    };
    let date_text = text(row, "date").ok_or_else(|| bad("has no date".into()))?;
    let date = NaiveDate::parse_from_str(&date_text, DATE_FORMAT).map_err(|_| bad(format!("has the date '{date_text}', which is not MM/DD/YYYY")))?;
    let time_text = text(row, "starttime").ok_or_else(|| bad("has no start time".into()))?;
    let time = NaiveTime::parse_from_str(&time_text, "%H:%M").map_err(|_| bad(format!("has the start time '{time_text}', which is not HH:MM")))?;
    let minutes = match text(row, "duration") {
        None => return Err(bad("has no duration".into())),
        Some(d) => match d.parse::<i64>() {
            Ok(m) if m > 0 && m <= 24 * 60 => m,
            _ => return Err(bad(format!("has the duration '{d}', which is not a number of minutes above zero"))),
        },
    };
    let departmentid = text(row, "departmentid").ok_or_else(|| bad("has no departmentid".into()))?;
    let status = match text(row, "appointmentstatus") {
        None => SlotStatus::Free,
        Some(code) => slot_status(&code).ok_or_else(|| bad(format!("has the status '{code}', which MedHarmony Desk does not know")))?,
    };
    let start_local = NaiveDateTime::new(date, time);
    let (start, end) = ctx.zone.span_to_utc(start_local, start_local + Duration::minutes(minutes));
    let span = Interval::new(start, end).ok_or_else(|| bad("ends before it starts".into()))?;
    let providerid = text(row, "providerid");
    let appointmenttypeid = text(row, "appointmenttypeid");
    let mut booking = json!({ "appointmentid": appointmentid, "departmentid": departmentid, "date": fmt_date(date) });
    if let Some(p) = &providerid {
        booking["providerid"] = json!(p);
    }
    if let Some(t) = &appointmenttypeid {
        booking["appointmenttypeid"] = json!(t);
    }
    match ctx.visit {
        Some(Visit::Reason(r)) => booking["reasonid"] = json!(r),
        Some(Visit::Type(_)) => {}
        None => {
            let listed: Vec<String> = match row.get("reasonid") {
                Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string).or_else(|| i.as_i64().map(|n| n.to_string()))).collect(),
                Some(other) => text(&json!({ "r": other }), "r").into_iter().collect(),
                None => Vec::new(),
            };
            if let Some(r) = listed.iter().find(|r| ctx.known_reasons.contains(r)) {
                booking["reasonid"] = json!(r);
            }
        }
    }
    Ok(RemoteSlot {
        external_id: appointmentid,
        span,
        status,
        provider: providerid.as_deref().map(provider_placeholder).unwrap_or_else(|| "athenahealth (no provider named)".into()),
        provider_ref: providerid,
        location: Some(ctx.department_name.map(str::to_string).unwrap_or_else(|| department_placeholder(&departmentid))),
        location_ref: Some(departmentid),
        service_type: text(row, "appointmenttype").or_else(|| text(row, "patientappointmenttypename")),
        schedule_ref: None,
        booking,
    })
}

/// The `providerid`s of `slots` still named by [`provider_placeholder`], each once, in first-seen order.
pub fn unnamed_providers(slots: &[RemoteSlot]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in slots {
        if let Some(p) = &s.provider_ref {
            if s.provider == provider_placeholder(p) && !out.contains(p) {
                out.push(p.clone());
            }
        }
    }
    out
}

/// Gives slots whose `provider_ref` (a `providerid`) is in `names` that name.
pub fn name_providers(slots: &mut [RemoteSlot], names: &HashMap<String, String>) {
    for s in slots.iter_mut() {
        if let Some(name) = s.provider_ref.as_ref().and_then(|p| names.get(p)) {
            s.provider = name.clone();
        }
    }
}

/// The form parameters of a booking (`PUT /v1/{practiceid}/appointments/{appointmentid}`) for a
/// slot's [`RemoteSlot::booking`] and the patient's athenahealth `patientid`:
/// `patientid`, then `reasonid` when the slot was found by reason (web-scheduling rules), else
/// `appointmenttypeid`, then `departmentid`.
///
/// Returns `None` when the booking data names neither a reason nor an appointment type.
pub fn booking_form(booking: &Value, patientid: &str) -> Option<Vec<(String, String)>> {
    let field = |k: &str| booking.get(k).and_then(Value::as_str).map(str::to_string);
    let mut form = vec![("patientid".to_string(), patientid.to_string())];
    match (field("reasonid"), field("appointmenttypeid")) {
        (Some(r), _) => form.push(("reasonid".into(), r)),
        (None, Some(t)) => form.push(("appointmenttypeid".into(), t)),
        (None, None) => return None,
    }
    if let Some(d) = field("departmentid") {
        form.push(("departmentid".into(), d));
    }
    Some(form)
}

/// Reads the reply to a booking: a list holding the booked appointment (or the
/// appointment itself) whose `appointmentid` is `appointmentid` and whose
/// `appointmentstatus` is not `o` (still open) or `x` (cancelled).
/// `Booked::status` is `booked` for `f`, else the status code as sent.
///
/// # Errors
/// [`MapError::Reported`] for an athenahealth error body; [`MapError::Unexpected`] when the reply
/// does not show the appointment booked (the caller treats that as "booking unknown").
pub fn booked(body: &Value, appointmentid: &str) -> Result<Booked, MapError> {
    let o = single(body, "the booked appointment")?;
    let v = Value::Object(o);
    if text(&v, "appointmentid").as_deref() != Some(appointmentid) {
        return Err(MapError::Unexpected { expected: "the booked appointment", found: "another appointment".into() });
    }
    match text(&v, "appointmentstatus").as_deref() {
        Some("f") | Some("F") => Ok(Booked { appointment_id: appointmentid.to_string(), status: "booked".into() }),
        Some(code) if !matches!(code, "o" | "O" | "x" | "X") => Ok(Booked { appointment_id: appointmentid.to_string(), status: code.to_string() }),
        Some(code) => Err(MapError::Unexpected { expected: "a booked appointment", found: format!("the appointment with status '{code}'") }),
        None => Err(MapError::Unexpected { expected: "a booked appointment", found: "an appointment without a status".into() }),
    }
}

/// What cancelling needs from `GET /v1/{practiceid}/appointments/{appointmentid}`: the
/// appointment's `patientid` (if any) and `appointmentstatus`. The `patientid` is only passed
/// on to athenahealth in the cancel request; it is never stored or logged.
///
/// # Errors
/// As [`department`].
pub fn appointment_for_cancel(body: &Value) -> Result<(Option<String>, Option<String>), MapError> {
    let v = Value::Object(single(body, "an appointment")?);
    Ok((text(&v, "patientid"), text(&v, "appointmentstatus")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ny() -> Zone {
        Zone::Iana(chrono_tz::America::New_York)
    }

    fn row(date: &str, start: &str, duration: Value) -> Value {
        json!({ "appointmentid": "1001", "date": date, "starttime": start, "duration": duration, "departmentid": "1",
                "providerid": "71", "appointmenttype": "Office Visit", "appointmenttypeid": "82", "reasonid": ["563"] })
    }

    fn read(row: &Value) -> Result<RemoteSlot, Quarantined> {
        let zone = ny();
        let visit = Visit::Reason("563".into());
        remote_slot(row, 1, &RowContext { zone: &zone, department_name: Some("Main Street Clinic"), visit: Some(&visit), known_reasons: &[] })
    }

    #[test]
    fn open_page_one_reads_every_row_in_the_department_zone() {
        let page = rows_page(&fixture(include_str!("../../../../fixtures/athena/open-page-1.json"))).unwrap();
        assert_eq!(page.totalcount, Some(5));
        assert_eq!(page.next.as_deref(), Some("/v1/195900/appointments/open?departmentid=1&reasonid=563&providerid=71&startdate=03%2F03%2F2026&enddate=03%2F09%2F2026&bypassscheduletimechecks=true&limit=3&offset=3"));
        let slots: Vec<Result<RemoteSlot, Quarantined>> = page.rows.iter().enumerate().map(|(i, r)| read_in(r, i + 1, &ny())).collect();
        let ok: Vec<(String, String, String)> = slots.iter().flatten().map(|s| (s.external_id.clone(), s.span.start.to_rfc3339(), s.span.end.to_rfc3339())).collect();
        assert_eq!(
            ok,
            [
                ("659568".to_string(), "2026-03-04T14:15:00+00:00".to_string(), "2026-03-04T14:30:00+00:00".to_string()),
                ("659571".to_string(), "2026-03-04T15:00:00+00:00".to_string(), "2026-03-04T15:30:00+00:00".to_string()),
            ]
        );
        let first = slots[0].as_ref().unwrap();
        assert_eq!(first.provider, "athenahealth provider 71");
        assert_eq!(first.provider_ref.as_deref(), Some("71"));
        assert_eq!(first.location.as_deref(), Some("Main Street Clinic"));
        assert_eq!(first.location_ref.as_deref(), Some("1"));
        assert_eq!(first.service_type.as_deref(), Some("Any 15"));
        assert_eq!(first.status, SlotStatus::Free);
        assert_eq!(
            first.booking,
            json!({"appointmentid": "659568", "departmentid": "1", "date": "03/04/2026", "providerid": "71", "appointmenttypeid": "82", "reasonid": "563"})
        );
        let q = slots[2].as_ref().unwrap_err();
        assert_eq!(q, &Quarantined { resource: "appointmentid 659580".into(), reason: "has no start time".into() });
    }

    fn read_in(row: &Value, position: usize, zone: &Zone) -> Result<RemoteSlot, Quarantined> {
        let visit = Visit::Reason("563".into());
        remote_slot(row, position, &RowContext { zone, department_name: Some("Main Street Clinic"), visit: Some(&visit), known_reasons: &[] })
    }

    #[test]
    fn local_times_across_the_spring_forward_day() {
        // New York moves from EST (-5) to EDT (-4) at 02:00 on 8 March 2026.
        let day_before = read(&row("03/07/2026", "09:00", json!("30"))).unwrap();
        assert_eq!((day_before.span.start, day_before.span.end), (t("2026-03-07T14:00:00Z"), t("2026-03-07T14:30:00Z")));
        let same_day = read(&row("03/08/2026", "09:00", json!("30"))).unwrap();
        assert_eq!((same_day.span.start, same_day.span.end), (t("2026-03-08T13:00:00Z"), t("2026-03-08T13:30:00Z")));
        // 02:30 never happens that day: it moves forward to 03:30 EDT and keeps its 30 minutes.
        let in_gap = read(&row("03/08/2026", "02:30", json!("30"))).unwrap();
        assert_eq!((in_gap.span.start, in_gap.span.end), (t("2026-03-08T07:30:00Z"), t("2026-03-08T08:00:00Z")));
        // A slot spanning the change: 01:30 EST for 60 minutes ends at 03:30 EDT (one real hour).
        let across = read(&row("03/08/2026", "01:30", json!(60))).unwrap();
        assert_eq!((across.span.start, across.span.end), (t("2026-03-08T06:30:00Z"), t("2026-03-08T07:30:00Z")));
        // Fall back, 1 November 2026: 01:30 happens twice; the earlier (EDT) one is taken.
        let overlap = read(&row("11/01/2026", "01:30", json!("15"))).unwrap();
        assert_eq!(overlap.span.start, t("2026-11-01T05:30:00Z"));
        // Another department zone gives other instants for the same wall clock.
        let la = Zone::Iana(chrono_tz::America::Los_Angeles);
        let west = read_in(&row("03/08/2026", "09:00", json!("30")), 1, &la).unwrap();
        assert_eq!(west.span.start, t("2026-03-08T16:00:00Z"));
    }

    #[test]
    fn durations_are_minutes_as_strings_or_numbers() {
        assert_eq!(read(&row("07/01/2026", "10:00", json!("45"))).unwrap().span.duration(), Duration::minutes(45));
        assert_eq!(read(&row("07/01/2026", "10:00", json!(20))).unwrap().span.duration(), Duration::minutes(20));
        for (bad, why) in [
            (json!("0"), "has the duration '0', which is not a number of minutes above zero"),
            (json!("-15"), "has the duration '-15', which is not a number of minutes above zero"),
            (json!("quarter"), "has the duration 'quarter', which is not a number of minutes above zero"),
            (json!(null), "has no duration"),
        ] {
            let q = read(&row("07/01/2026", "10:00", bad)).unwrap_err();
            assert_eq!(q.reason, why);
            assert_eq!(q.resource, "appointmentid 1001");
        }
    }

    #[test]
    fn unreadable_rows_are_quarantined_with_reasons() {
        let cases = [
            (json!({"date": "07/01/2026", "starttime": "10:00", "duration": "15", "departmentid": "1"}), "appointment row 1", "has no appointmentid"),
            (json!({"appointmentid": "9", "date": "2026-07-01", "starttime": "10:00", "duration": "15", "departmentid": "1"}), "appointmentid 9", "has the date '2026-07-01', which is not MM/DD/YYYY"),
            (json!({"appointmentid": "9", "date": "02/30/2026", "starttime": "10:00", "duration": "15", "departmentid": "1"}), "appointmentid 9", "has the date '02/30/2026', which is not MM/DD/YYYY"),
            (json!({"appointmentid": "9", "date": "07/01/2026", "starttime": "10am", "duration": "15", "departmentid": "1"}), "appointmentid 9", "has the start time '10am', which is not HH:MM"),
            (json!({"appointmentid": "9", "starttime": "10:00", "duration": "15", "departmentid": "1"}), "appointmentid 9", "has no date"),
            (json!({"appointmentid": "9", "date": "07/01/2026", "starttime": "10:00", "duration": "15"}), "appointmentid 9", "has no departmentid"),
            (json!({"appointmentid": "9", "date": "07/01/2026", "starttime": "10:00", "duration": "15", "departmentid": "1", "appointmentstatus": "q"}), "appointmentid 9", "has the status 'q', which MedHarmony Desk does not know"),
        ];
        for (r, resource, reason) in cases {
            let q = read(&r).unwrap_err();
            assert_eq!((q.resource.as_str(), q.reason.as_str()), (resource, reason), "{r}");
        }
    }

    #[test]
    fn local_dates_cover_the_utc_window_inclusively() {
        let w = Interval::new(t("2026-03-04T00:00:00Z"), t("2026-03-06T00:00:00Z")).unwrap();
        let (a, b) = local_dates(w, &ny()).unwrap();
        assert_eq!((fmt_date(a), fmt_date(b)), ("03/03/2026".to_string(), "03/05/2026".to_string()));
        // A window ending exactly at local midnight does not ask for the next day.
        let w = Interval::new(t("2026-03-04T05:00:00Z"), t("2026-03-05T05:00:00Z")).unwrap();
        let (a, b) = local_dates(w, &ny()).unwrap();
        assert_eq!((fmt_date(a), fmt_date(b)), ("03/04/2026".to_string(), "03/04/2026".to_string()));
        assert_eq!(local_dates(Interval::new(w.start, w.start).unwrap(), &ny()), None);
    }

    #[test]
    fn departments_and_providers() {
        let d = department(&fixture(include_str!("../../../../fixtures/athena/department.json"))).unwrap();
        assert_eq!(d, DepartmentInfo { departmentid: "1".into(), name: Some("Main Street Clinic".into()), zone: Some(chrono_tz::America::New_York) });
        let no_zone = department(&json!([{ "departmentid": "7", "patientdepartmentname": "West Office", "timezone": -8 }])).unwrap();
        assert_eq!(no_zone, DepartmentInfo { departmentid: "7".into(), name: Some("West Office".into()), zone: None });
        assert!(matches!(department(&json!([])), Err(MapError::Unexpected { .. })));
        let err = department(&json!({"error": "The departmentid is invalid."})).unwrap_err();
        assert_eq!(err.to_string(), "athenahealth reported a problem: The departmentid is invalid.");

        assert_eq!(provider_name(&fixture(include_str!("../../../../fixtures/athena/provider.json"))).as_deref(), Some("Dr. Ana Rivera"));
        assert_eq!(provider_name(&json!([{ "firstname": "Terry", "lastname": "Ahmad", "providerid": "86" }])).as_deref(), Some("Terry Ahmad"));
        assert_eq!(provider_name(&json!([{ "providerid": "86" }])), None);
        let mut slots = vec![read(&row("07/01/2026", "10:00", json!("15"))).unwrap()];
        assert_eq!(unnamed_providers(&slots), ["71"]);
        name_providers(&mut slots, &HashMap::from([("71".to_string(), "Dr. Ana Rivera".to_string())]));
        assert_eq!(slots[0].provider, "Dr. Ana Rivera");
        assert!(unnamed_providers(&slots).is_empty());
    }

    #[test]
    fn changed_rows_carry_their_status() {
        let page = rows_page(&fixture(include_str!("../../../../fixtures/athena/changed.json"))).unwrap();
        let zone = ny();
        let reasons = ["563".to_string()];
        let ctx = RowContext { zone: &zone, department_name: Some("Main Street Clinic"), visit: None, known_reasons: &reasons };
        let got: Vec<(String, SlotStatus)> = page.rows.iter().enumerate().filter_map(|(i, r)| remote_slot(r, i + 1, &ctx).ok()).map(|s| (s.external_id, s.status)).collect();
        assert_eq!(got, [("659571".to_string(), SlotStatus::Busy), ("659602".to_string(), SlotStatus::Free), ("659700".to_string(), SlotStatus::Free)]);
        // The changed feed carries patientid; it never reaches the slot.
        let slot = remote_slot(&page.rows[0], 1, &ctx).unwrap();
        assert!(!serde_json::to_string(&slot).unwrap().contains("patient"), "{slot:?}");
        assert_eq!(slot.booking, json!({"appointmentid": "659571", "departmentid": "1", "date": "03/04/2026", "providerid": "71", "appointmenttypeid": "42"}));
        // An added open slot listing a configured reason is booked by that reason.
        let added = remote_slot(&page.rows[1], 2, &ctx).unwrap();
        assert_eq!(added.booking["reasonid"], json!("563"));
        assert_eq!((added.span.start, added.span.end), (t("2026-03-05T16:00:00Z"), t("2026-03-05T16:15:00Z")));
        assert_eq!(slot_status("F"), Some(SlotStatus::Busy));
        assert_eq!(slot_status("?"), None);
    }

    #[test]
    fn booking_form_and_reply() {
        let by_reason = json!({"appointmentid": "659571", "departmentid": "1", "date": "03/04/2026", "appointmenttypeid": "82", "reasonid": "563"});
        let pairs = |v: Vec<(String, String)>| v.into_iter().map(|(a, b)| format!("{a}={b}")).collect::<Vec<_>>().join("&");
        assert_eq!(pairs(booking_form(&by_reason, "4242").unwrap()), "patientid=4242&reasonid=563&departmentid=1");
        let by_type = json!({"appointmentid": "659571", "departmentid": "1", "appointmenttypeid": "82"});
        assert_eq!(pairs(booking_form(&by_type, "4242").unwrap()), "patientid=4242&appointmenttypeid=82&departmentid=1");
        assert_eq!(booking_form(&json!({"appointmentid": "1"}), "4242"), None);

        let reply = fixture(include_str!("../../../../fixtures/athena/book-reply.json"));
        assert_eq!(booked(&reply, "659571").unwrap(), Booked { appointment_id: "659571".into(), status: "booked".into() });
        assert!(matches!(booked(&reply, "1"), Err(MapError::Unexpected { .. })));
        assert!(matches!(booked(&json!([{"appointmentid": "659571", "appointmentstatus": "o"}]), "659571"), Err(MapError::Unexpected { .. })));
        assert!(matches!(booked(&json!([]), "659571"), Err(MapError::Unexpected { .. })));
        let err = booked(&fixture(include_str!("../../../../fixtures/athena/error-taken.json")), "659571").unwrap_err();
        assert!(err.to_string().starts_with("athenahealth reported a problem: That appointment time was already booked"), "{err}");
        assert_eq!(appointment_for_cancel(&reply).unwrap(), (Some("4242".into()), Some("f".into())));
    }
}
