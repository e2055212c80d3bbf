//! Pure mapping between FHIR JSON and the domain: R4 Slot/Schedule search
//! bundles, STU3 `Appointment/$find` results (Epic), R4 Appointment searches,
//! OperationOutcome, and the bodies MedHarmony Desk sends to book.
//!
//! No I/O: every function here is tested on the payloads in `fixtures/fhir/`.
//!
//! Sources followed:
//! * HL7 FHIR R4 Slot (§12.12: `schedule`, `status`, `start`, `end` all 1..1;
//!   `start`/`end` are `instant`s, which always carry a time zone offset or `Z`),
//!   Schedule (§12.11: `actor` is Practitioner, PractitionerRole, Location,
//!   HealthcareService, …), Bundle (`search.mode` match | include | outcome,
//!   `link[relation=next]`), OperationOutcome (`issue.details.text`,
//!   `issue.diagnostics`, `issue.code` from the IssueType value set).
//! * Oracle Health Millennium R4 (fhir.cerner.com / docs.oracle.com, "Create an
//!   appointment"): a `booked` create names exactly one Slot and exactly one
//!   participant, the Patient, with status `accepted` and no `participant.type`.
//!   The create answers `201 Created` with an empty body and a `Location`
//!   header ([`appointment_id_from_location`]).
//! * Argonaut Scheduling IG 1.0.0 (STU3) `Appointment/$find` and `$book`; Epic's
//!   `$find` names its window parameters `startTime`/`endTime`.
//!
//! Data quality rule: a row that cannot be read exactly is set aside as a
//! [`Quarantined`] with a reason staff can read ("has no end time"), never
//! repaired by guessing.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::connector::{Booked, Quarantined, RemoteSlot, SlotToBook};
use crate::model::SlotStatus;
use crate::time::Interval;

/// What went wrong reading a FHIR reply, in words staff can read.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The server answered with an OperationOutcome instead of the resource
    /// asked for; the text is [`operation_outcome_text`].
    #[error("the server reported a problem: {0}")]
    Outcome(String),
    /// The reply is some other kind of resource (or not a FHIR resource at all).
    #[error("the server sent {found} where a {expected} was expected")]
    WrongResource {
        /// The resource type that was expected, e.g. `Bundle`.
        expected: &'static str,
        /// What arrived, e.g. "a Patient" or "JSON that is not a FHIR resource".
        found: String,
    },
    /// A required element is missing.
    #[error("the {resource} the server sent has no {field}")]
    Missing {
        /// The resource type, e.g. `Appointment`.
        resource: &'static str,
        /// The element, e.g. `id`.
        field: &'static str,
    },
    /// A search reply holds none of the resources asked for.
    #[error("the server's reply holds no {0}")]
    Empty(&'static str),
    /// A Slot's status is not one of the FHIR slot status codes.
    #[error("the Slot has status '{0}', which is not a slot status")]
    UnknownStatus(String),
    /// The booking came back `cancelled` (Argonaut `$book`: the server rejected it).
    #[error("the booking was not accepted: {0}")]
    BookingRejected(String),
}

/// What a Schedule tells about its slots (FHIR R4 §12.11 `Schedule.actor`).
///
/// References are relative (`Practitioner/123`) even when the server gave
/// absolute URLs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScheduleInfo {
    /// `Schedule/<id>`.
    pub reference: String,
    /// First Practitioner/PractitionerRole actor: (reference, display).
    pub practitioner: Option<(String, Option<String>)>,
    /// First Location actor: (reference, display).
    pub location: Option<(String, Option<String>)>,
    /// First HealthcareService actor display, used as the provider name when
    /// there is no practitioner.
    pub service: Option<(String, Option<String>)>,
}

/// One page of a Slot search (`Bundle` of type `searchset`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlotPage {
    /// Slots of `search.mode = match` (or without a mode), in page order,
    /// already resolved against the Schedules on this page ([`resolve`]).
    pub slots: Vec<RemoteSlot>,
    /// Slot entries set aside (no `end`, an instant without offset, no id, end not after start, unknown status).
    pub quarantined: Vec<Quarantined>,
    /// Schedules found on the page (`search.mode = include`), keyed by `Schedule/<id>`.
    pub schedules: HashMap<String, ScheduleInfo>,
    /// `Bundle.link[relation=next].url`, if any.
    pub next: Option<String>,
    /// `Bundle.total`, if given.
    pub total: Option<u64>,
    /// Number of match Slot entries on this page (read or quarantined).
    pub matches: usize,
    /// Plain text of the OperationOutcome entries on the page (`search.mode = outcome`).
    pub warnings: Vec<String>,
    /// The same, for OperationOutcomes with an issue of severity `error` or
    /// `fatal` (e.g. `too-costly`): the server did not answer the whole
    /// search, so the window cannot be complete.
    pub errors: Vec<String>,
}

/// Which server's rules an Appointment create follows ([`r4_appointment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentStyle {
    /// Any FHIR R4 server: Slot, start/end, Patient plus the practitioner and
    /// location participants when known.
    Generic,
    /// Oracle Health Millennium R4: one Slot, one Patient participant, nothing else.
    OracleHealth,
}

/// Open times read from an Epic STU3 `Appointment/$find` reply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpicFind {
    /// Each proposed Appointment as an open slot (status `free`), in reply order.
    pub slots: Vec<RemoteSlot>,
    /// Proposed Appointments that could not be read safely.
    pub quarantined: Vec<Quarantined>,
    /// Plain text of the OperationOutcome entries in the reply.
    pub warnings: Vec<String>,
    /// The same, for OperationOutcomes with an `error` or `fatal` issue: the
    /// answer is not the whole picture.
    pub errors: Vec<String>,
}

/// An appointment the source reports as cancelled (Epic R4 Appointment search).
#[derive(Debug, Clone, PartialEq)]
pub struct CancelledAppointment {
    /// `Appointment/<id>`.
    pub appointment_id: String,
    /// `[start, end)` UTC, when the appointment still carries both instants
    /// (R4 allows a cancelled Appointment without them).
    pub span: Option<Interval>,
    /// The first Practitioner/PractitionerRole participant (`Practitioner/123`).
    pub provider_ref: Option<String>,
    /// The first Location participant (`Location/456`).
    pub location_ref: Option<String>,
}

// ---------------------------------------------------------------------------
// Slot search pages
// ---------------------------------------------------------------------------

/// Reads one page of an R4 Slot search (`Bundle`, type `searchset`, usually
/// with `_include=Slot:schedule`).
///
/// * `search.mode = include` entries and Schedule resources → [`SlotPage::schedules`] (see [`schedule_info`]);
/// * Slot entries with `search.mode = match` or no mode → [`SlotPage::slots`] or
///   [`SlotPage::quarantined`] (see [`remote_slot`]), counted in [`SlotPage::matches`];
/// * OperationOutcome entries (`search.mode = outcome`) → [`SlotPage::warnings`];
/// * `next` from `Bundle.link[relation=next]`, `total` from `Bundle.total`.
///
/// The page's slots are resolved against the page's own Schedules; call
/// [`resolve`] again with the Schedules of all pages (and [`missing_schedules`]
/// to learn which to fetch).
///
/// # Errors
/// [`MapError::Outcome`] when the body is an OperationOutcome (its text
/// included), [`MapError::WrongResource`] for anything else that is not a Bundle.
pub fn slot_page(bundle: &Value) -> Result<SlotPage, MapError> {
    expect_bundle(bundle)?;
    let mut page = SlotPage { next: next_link(bundle), total: bundle.get("total").and_then(Value::as_u64), ..SlotPage::default() };
    for (index, entry) in entries(bundle).enumerate() {
        let Some(resource) = entry.get("resource") else { continue };
        let mode = entry.pointer("/search/mode").and_then(Value::as_str);
        let kind = resource_type(resource);
        if kind == Some("OperationOutcome") || mode == Some("outcome") {
            let text = operation_outcome_text(resource);
            if is_error_outcome(resource) {
                page.errors.extend(text);
            } else {
                page.warnings.extend(text);
            }
        } else if mode == Some("include") || kind == Some("Schedule") {
            if let Some(info) = schedule_info(resource) {
                page.schedules.insert(info.reference.clone(), info);
            }
        } else if kind == Some("Slot") && matches!(mode, None | Some("match")) {
            page.matches += 1;
            match remote_slot(resource, index + 1) {
                Ok(slot) => page.slots.push(slot),
                Err(q) => page.quarantined.push(q),
            }
        }
    }
    resolve(&mut page.slots, &page.schedules);
    if !page.quarantined.is_empty() {
        tracing::debug!(quarantined = page.quarantined.len(), matches = page.matches, "slot page has rows set aside");
    }
    Ok(page)
}

/// Maps one R4 Slot resource to a [`RemoteSlot`], or sets it aside.
///
/// * `external_id` = `Slot.id`; `span` = `[start, end)` converted to UTC
///   (FHIR `instant`: an offset or `Z` is required, fractional seconds allowed);
/// * `status` = `Slot.status`; `service_type` = first `serviceType` concept's
///   text, else its first coding display, else its code (R4 CodeableConcept, or
///   R5 CodeableReference `serviceType[0].concept`);
/// * `schedule_ref` = `Slot.schedule.reference`; `provider` is the schedule
///   reference (`Schedule/<id>`) until [`resolve`] names the practitioner;
/// * `location_ref` = Oracle Health's `scheduling-location` extension when present
///   (a Location actor on the Schedule replaces it in [`resolve`]);
/// * `booking` = `{"versionId": meta.versionId}` when present, else `{}`.
///
/// `position` is the 1-based entry number, used to name a Slot without an id.
///
/// # Errors
/// A [`Quarantined`] naming every problem found, joined with "; ": no id, no
/// schedule reference, no or unknown status, no start, no end ("has no end
/// time"), an instant without offset ("start time 2026-03-04T09:00:00 has no
/// time zone offset"), or an end not after the start.
pub fn remote_slot(resource: &Value, position: usize) -> Result<RemoteSlot, Quarantined> {
    let id = str_at(resource, "id");
    let label = match id {
        Some(id) => format!("Slot/{id}"),
        None => format!("Slot (entry {position})"),
    };
    let mut problems = Vec::new();
    if id.is_none() {
        problems.push("has no id".to_string());
    } else if !id.is_some_and(is_fhir_id) {
        problems.push("has an id that is not a valid FHIR id".to_string());
    }
    let schedule_ref = resource.get("schedule").and_then(|s| str_at(s, "reference"));
    if schedule_ref.is_none() {
        problems.push("does not name its schedule, so its provider is unknown".to_string());
    }
    let status = match str_at(resource, "status") {
        None => {
            problems.push("has no status".to_string());
            None
        }
        Some(code) => match code.parse::<SlotStatus>() {
            Ok(status) => Some(status),
            Err(_) => {
                problems.push(format!("status '{code}' is not a slot status"));
                None
            }
        },
    };
    let span = read_span(resource, &mut problems);
    let (Some(id), Some(schedule_ref), Some(status), Some(span), true) = (id, schedule_ref, status, span, problems.is_empty()) else {
        return Err(Quarantined { resource: label, reason: problems.join("; ") });
    };
    let location_ref = resource
        .get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|ext| str_at(ext, "url").is_some_and(|url| url.ends_with("/scheduling-location")))
        .and_then(|ext| ext.get("valueReference"))
        .and_then(|r| str_at(r, "reference"))
        .map(relative_ref);
    Ok(RemoteSlot {
        external_id: id.to_string(),
        span,
        status,
        provider: relative_ref(schedule_ref),
        provider_ref: None,
        location: None,
        location_ref,
        service_type: resource.get("serviceType").and_then(|v| v.get(0)).and_then(concept_text),
        schedule_ref: Some(schedule_ref.to_string()),
        booking: version_booking(resource),
    })
}

/// Reads a Schedule resource (R4 §12.11): its `Schedule/<id>` and the first
/// Practitioner-or-PractitionerRole, Location and HealthcareService actors
/// (reference made relative, display as given). `None` when `resource` is
/// not a Schedule with an id.
pub fn schedule_info(resource: &Value) -> Option<ScheduleInfo> {
    if resource_type(resource) != Some("Schedule") {
        return None;
    }
    let id = str_at(resource, "id")?;
    let mut info = ScheduleInfo { reference: format!("Schedule/{id}"), ..ScheduleInfo::default() };
    for actor in array(resource, "actor") {
        let Some((kind, reference, display)) = actor_of(actor) else { continue };
        let slot = match kind.as_str() {
            "Practitioner" | "PractitionerRole" => &mut info.practitioner,
            "Location" => &mut info.location,
            "HealthcareService" => &mut info.service,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some((reference, display));
        }
    }
    Some(info)
}

/// Names each slot's provider and location from its Schedule.
///
/// Schedules are matched on the trailing `Schedule/<id>` of both the slot's
/// `schedule_ref` and the map's keys, so relative and absolute references
/// (`https://x/fhir/Schedule/1`) meet. For a matched slot:
/// * Practitioner or PractitionerRole actor → `provider` = its display (else
///   its reference), `provider_ref` = its reference;
/// * else HealthcareService actor → `provider` = its display (else reference), `provider_ref` = `None`;
/// * else `provider` = the schedule's reference;
/// * Location actor → `location` = its display, `location_ref` = its reference
///   (a slot keeps the location it already had when the Schedule names none).
///
/// Slots whose Schedule is not in the map are left as they are.
pub fn resolve(slots: &mut [RemoteSlot], schedules: &HashMap<String, ScheduleInfo>) {
    let index = schedule_index(schedules);
    for slot in slots.iter_mut() {
        let Some(info) = slot.schedule_ref.as_deref().and_then(|r| index.get(&relative_ref(r))) else { continue };
        if let Some((reference, display)) = &info.practitioner {
            slot.provider = display.clone().unwrap_or_else(|| reference.clone());
            slot.provider_ref = Some(reference.clone());
        } else if let Some((reference, display)) = &info.service {
            slot.provider = display.clone().unwrap_or_else(|| reference.clone());
            slot.provider_ref = None;
        } else {
            slot.provider = info.reference.clone();
            slot.provider_ref = None;
        }
        if let Some((reference, display)) = &info.location {
            slot.location = display.clone();
            slot.location_ref = Some(reference.clone());
        }
    }
}

/// A Practitioner's name as staff would write it (HL7 FHIR R4 §8.4
/// `Practitioner.name`, datatype HumanName): the first `official` or `usual`
/// name (else the first), its `text` when given, else `prefix given family
/// suffix`. `None` when `v` is no Practitioner or has no usable name.
pub fn practitioner_name(v: &Value) -> Option<String> {
    if v.get("resourceType").and_then(Value::as_str) != Some("Practitioner") {
        return None;
    }
    let names = v.get("name")?.as_array()?;
    let by_use = |u: &str| names.iter().find(|n| n.get("use").and_then(Value::as_str) == Some(u));
    let name = by_use("official").or_else(|| by_use("usual")).or_else(|| names.first())?;
    if let Some(text) = name.get("text").and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()) {
        return Some(text.to_string());
    }
    let words = |key: &str| -> Vec<String> {
        name.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
    };
    let mut parts = words("prefix");
    parts.extend(words("given"));
    parts.extend(name.get("family").and_then(Value::as_str).map(str::to_string));
    parts.extend(words("suffix"));
    let joined = parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// The Practitioner references of slots named only by that reference (their
/// Schedule's actor had no `display`), de-duplicated and sorted, so the
/// connector can read their names.
pub fn unnamed_practitioners(slots: &[RemoteSlot]) -> Vec<String> {
    let refs: BTreeSet<String> = slots
        .iter()
        .filter(|s| s.provider_ref.as_deref() == Some(s.provider.as_str()) && s.provider.starts_with("Practitioner/"))
        .map(|s| s.provider.clone())
        .collect();
    refs.into_iter().collect()
}

/// The Schedules the slots point at that `schedules` does not hold, as
/// `Schedule/<id>`, de-duplicated and sorted, so the connector can fetch them.
pub fn missing_schedules(slots: &[RemoteSlot], schedules: &HashMap<String, ScheduleInfo>) -> Vec<String> {
    let index = schedule_index(schedules);
    let missing: BTreeSet<String> =
        slots.iter().filter_map(|s| s.schedule_ref.as_deref()).map(relative_ref).filter(|r| !index.contains_key(r)).collect();
    missing.into_iter().collect()
}

fn schedule_index(schedules: &HashMap<String, ScheduleInfo>) -> HashMap<String, &ScheduleInfo> {
    let mut index = HashMap::new();
    for (key, info) in schedules {
        index.insert(relative_ref(key), info);
        index.insert(relative_ref(&info.reference), info);
    }
    index
}

// ---------------------------------------------------------------------------
// OperationOutcome
// ---------------------------------------------------------------------------

/// Plain words from an OperationOutcome: for each issue its `details.text`,
/// else its `diagnostics`, else a phrase for its `code` (R4 IssueType, e.g.
/// `not-found` → "the record was not found"), joined with "; ".
///
/// `None` when `v` is not an OperationOutcome.
pub fn operation_outcome_text(v: &Value) -> Option<String> {
    if resource_type(v) != Some("OperationOutcome") {
        return None;
    }
    let texts: Vec<String> = array(v, "issue")
        .filter_map(|issue| {
            issue
                .get("details")
                .and_then(|d| str_at(d, "text"))
                .or_else(|| str_at(issue, "diagnostics"))
                .map(str::to_string)
                .or_else(|| str_at(issue, "code").map(issue_code_phrase))
        })
        .collect();
    if texts.is_empty() {
        Some("the server gave no details".to_string())
    } else {
        Some(texts.join("; "))
    }
}

/// A plain phrase for an R4 IssueType code (<http://hl7.org/fhir/R4/valueset-issue-type.html>).
fn issue_code_phrase(code: &str) -> String {
    let phrase = match code {
        "invalid" => "the request was not valid",
        "structure" => "the request was not put together correctly",
        "required" => "a required item was missing",
        "value" => "a value was not valid",
        "invariant" => "the request broke a rule of the record format",
        "security" => "the server refused for security reasons",
        "login" => "the sign-in is missing or was refused",
        "unknown" => "the user or system is not known to the server",
        "expired" => "the sign-in has expired",
        "forbidden" => "this account is not allowed to do that",
        "suppressed" => "some information was withheld",
        "processing" => "the server could not process the request",
        "not-supported" => "the server does not support that",
        "duplicate" => "the record already exists",
        "multiple-matches" => "more than one record matched",
        "not-found" => "the record was not found",
        "deleted" => "the record has been deleted",
        "too-long" => "the request was too long",
        "code-invalid" => "a code was not recognised",
        "extension" => "the server does not accept an extension that was sent",
        "too-costly" => "the request would take the server too long",
        "business-rule" => "the request broke one of the system's scheduling rules",
        "conflict" => "someone else changed this record at the same time",
        "transient" => "the server had a temporary problem",
        "lock-error" => "the record is locked by someone else",
        "no-store" => "the server could not save the record",
        "exception" => "the server had an unexpected error",
        "timeout" => "the server took too long to answer",
        "incomplete" => "the server's answer is incomplete",
        "throttled" => "the server asked us to slow down",
        "informational" => "the server sent a note",
        other => return format!("the server reported '{other}'"),
    };
    phrase.to_string()
}

// ---------------------------------------------------------------------------
// Booking (R4 / Oracle Health)
// ---------------------------------------------------------------------------

/// The body of an R4 Appointment create (`POST [base]/Appointment`) booking
/// `slot` for the patient with the source's id `patient_id` (`123` or `Patient/123`).
///
/// * [`AppointmentStyle::Generic`]: `status` `booked`, `slot` = `[Slot/<id>]`,
///   `start`/`end` (UTC, RFC 3339 with `Z`), participants: the Patient
///   (`required` = `required`, `status` = `accepted`), then the practitioner and
///   the location when known (`status` = `accepted`).
/// * [`AppointmentStyle::OracleHealth`] (Millennium R4 "Create an appointment"):
///   `status` `booked`, exactly one Slot reference and exactly one participant,
///   the Patient, with `status` `accepted` and no `participant.type`; no
///   start/end (the Slot fixes practitioner, location and time).
pub fn r4_appointment(slot: &SlotToBook, patient_id: &str, style: AppointmentStyle) -> Value {
    let slot_ref = typed_ref("Slot", &slot.external_id);
    let patient_ref = typed_ref("Patient", patient_id);
    match style {
        AppointmentStyle::OracleHealth => json!({
            "resourceType": "Appointment",
            "status": "booked",
            "slot": [{ "reference": slot_ref }],
            "participant": [{ "actor": { "reference": patient_ref }, "status": "accepted" }],
        }),
        AppointmentStyle::Generic => {
            let mut participants = vec![json!({ "actor": { "reference": patient_ref }, "required": "required", "status": "accepted" })];
            for reference in [&slot.provider_ref, &slot.location_ref].into_iter().flatten() {
                participants.push(json!({ "actor": { "reference": reference }, "status": "accepted" }));
            }
            json!({
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{ "reference": slot_ref }],
                "start": utc_text(slot.span.start),
                "end": utc_text(slot.span.end),
                "participant": participants,
            })
        }
    }
}

/// The Slot in a reply re-read before booking: the Slot resource itself, or
/// the first Slot of a search Bundle (e.g. Oracle Health `Slot?_id=…`, the way
/// it returns booked slots); `Ok(None)` for a Bundle without one (the slot is
/// gone). Map it with [`remote_slot`] to compare status and time.
///
/// # Errors
/// [`MapError::Outcome`] for an OperationOutcome (alone, or as the only
/// content of the Bundle), [`MapError::WrongResource`] otherwise.
pub fn current_slot(resource: &Value) -> Result<Option<&Value>, MapError> {
    match resource_type(resource) {
        Some("Slot") => Ok(Some(resource)),
        Some("Bundle") => match find_in_bundle(resource, "Slot") {
            Some(slot) => Ok(Some(slot)),
            None => bundle_outcome(resource).map_or(Ok(None), |o| Err(MapError::Outcome(o))),
        },
        Some("OperationOutcome") => Err(outcome_error(resource)),
        _ => Err(wrong("Slot", resource)),
    }
}

/// Reads a booking reply: an Appointment, or a Bundle holding one (Argonaut
/// `$book` returns a searchset with the Appointment and OperationOutcomes) →
/// [`Booked`] with `appointment_id` = `Appointment/<id>` and the status as sent.
///
/// Oracle Health answers a create with an empty body: use
/// [`appointment_id_from_location`] on its `Location` header (or read the
/// Appointment back and pass it here).
///
/// # Errors
/// [`MapError::BookingRejected`] when the Appointment came back `cancelled`
/// (Argonaut: the server rejected the booking; the Bundle's OperationOutcome
/// text is the reason), [`MapError::Outcome`] for an OperationOutcome (or a
/// Bundle with only OperationOutcomes), [`MapError::Missing`] without id or
/// status, [`MapError::WrongResource`] / [`MapError::Empty`] otherwise.
pub fn booked(resp: &Value) -> Result<Booked, MapError> {
    let (appointment, outcome) = match resource_type(resp) {
        Some("Appointment") => (resp, None),
        Some("Bundle") => {
            let outcome = bundle_outcome(resp);
            match find_in_bundle(resp, "Appointment") {
                Some(appointment) => (appointment, outcome),
                None => return Err(outcome.map_or(MapError::Empty("Appointment"), MapError::Outcome)),
            }
        }
        Some("OperationOutcome") => return Err(outcome_error(resp)),
        _ => return Err(wrong("Appointment", resp)),
    };
    let id = str_at(appointment, "id").ok_or(MapError::Missing { resource: "Appointment", field: "id" })?;
    let status = str_at(appointment, "status").ok_or(MapError::Missing { resource: "Appointment", field: "status" })?;
    if status == "cancelled" {
        return Err(MapError::BookingRejected(outcome.unwrap_or_else(|| "the system marked the appointment cancelled".to_string())));
    }
    Ok(Booked { appointment_id: format!("Appointment/{id}"), status: status.to_string() })
}

/// `Appointment/<id>` from a create's `Location` header
/// (`https://…/r4/<tenant>/Appointment/20465903`, optionally with
/// `/_history/<version>`). `None` when the URL does not name an Appointment.
pub fn appointment_id_from_location(location: &str) -> Option<String> {
    let reference = relative_ref(location);
    reference.strip_prefix("Appointment/").filter(|id| !id.is_empty() && !id.contains('/')).map(|_| reference.clone())
}

// ---------------------------------------------------------------------------
// Epic: STU3 $find, Argonaut $book, R4 Appointment search
// ---------------------------------------------------------------------------

/// The STU3 `Parameters` body for Epic's `POST [STU3 base]/Appointment/$find`.
///
/// * `startTime` / `endTime` (`valueDateTime`, UTC with `Z`): Epic's names for
///   the window (Argonaut calls them `start`/`end`).
/// * `practitioner` (`valueUri`, one per reference) and `location-reference`
///   (`valueUri`): Argonaut Scheduling IG 1.0.0 `$find` names; Epic's own list
///   of optional parameters could not be confirmed, so these follow Argonaut.
/// * `service-type` (`valueCodeableConcept`): the name and type seen in
///   requests to Epic's `$find`; `service_type` is a token, `system|code` or `code`.
pub fn epic_find_parameters(window: Interval, practitioner_refs: &[String], location_refs: &[String], service_type: Option<&str>) -> Value {
    let mut parameters = vec![
        json!({ "name": "startTime", "valueDateTime": utc_text(window.start) }),
        json!({ "name": "endTime", "valueDateTime": utc_text(window.end) }),
    ];
    for reference in practitioner_refs {
        parameters.push(json!({ "name": "practitioner", "valueUri": reference }));
    }
    for reference in location_refs {
        parameters.push(json!({ "name": "location-reference", "valueUri": reference }));
    }
    if let Some(token) = service_type.map(str::trim).filter(|t| !t.is_empty()) {
        let coding = match token.split_once('|') {
            Some((system, code)) if !system.is_empty() => json!({ "system": system, "code": code }),
            Some((_, code)) => json!({ "code": code }),
            None => json!({ "code": token }),
        };
        parameters.push(json!({ "name": "service-type", "valueCodeableConcept": { "coding": [coding] } }));
    }
    json!({ "resourceType": "Parameters", "parameter": parameters })
}

/// Reads Epic's `$find` reply (STU3 `Bundle`): each `proposed` Appointment
/// becomes a free [`RemoteSlot`]:
///
/// * `external_id` = `Appointment.id` (else its first Slot reference);
/// * `span` from `start`/`end` (same rules as [`remote_slot`]);
/// * `provider` / `provider_ref` from the Practitioner (or PractitionerRole,
///   else HealthcareService) participant's display / reference;
/// * `location` / `location_ref` from the Location participant;
/// * `service_type` from `serviceType[0]`, else `appointmentType`;
/// * `booking` = the proposed Appointment itself (what `$book` needs), without
///   any Patient participant.
///
/// Appointments with another status are skipped; OperationOutcome entries → warnings.
///
/// # Errors
/// As [`slot_page`] when the reply is not a Bundle.
pub fn epic_find_result(bundle: &Value) -> Result<EpicFind, MapError> {
    expect_bundle(bundle)?;
    let mut found = EpicFind::default();
    for (index, entry) in entries(bundle).enumerate() {
        let Some(resource) = entry.get("resource") else { continue };
        match resource_type(resource) {
            Some("OperationOutcome") if is_error_outcome(resource) => found.errors.extend(operation_outcome_text(resource)),
            Some("OperationOutcome") => found.warnings.extend(operation_outcome_text(resource)),
            Some("Appointment") if str_at(resource, "status") == Some("proposed") => match proposed_slot(resource, index + 1) {
                Ok(slot) => found.slots.push(slot),
                Err(q) => found.quarantined.push(q),
            },
            _ => tracing::debug!(entry = index + 1, "skipping a $find entry that is not a proposed Appointment"),
        }
    }
    Ok(found)
}

fn proposed_slot(appointment: &Value, position: usize) -> Result<RemoteSlot, Quarantined> {
    let id = str_at(appointment, "id");
    let label = match id {
        Some(id) => format!("Appointment/{id}"),
        None => format!("Appointment (entry {position})"),
    };
    let mut problems = Vec::new();
    let actors = participants(appointment);
    let provider = actors
        .iter()
        .find(|(kind, _, _)| kind == "Practitioner" || kind == "PractitionerRole")
        .map(|(_, r, d)| (d.clone().unwrap_or_else(|| r.clone()), Some(r.clone())))
        .or_else(|| {
            actors.iter().find(|(kind, _, _)| kind == "HealthcareService").map(|(_, r, d)| (d.clone().unwrap_or_else(|| r.clone()), None))
        });
    if provider.is_none() {
        problems.push("does not say which provider it is with".to_string());
    }
    let external_id = id
        .map(str::to_string)
        .or_else(|| appointment.get("slot").and_then(|s| s.get(0)).and_then(|s| str_at(s, "reference")).map(relative_ref));
    if external_id.is_none() {
        problems.push("has no id".to_string());
    }
    let span = read_span(appointment, &mut problems);
    let (Some(external_id), Some((provider, provider_ref)), Some(span), true) = (external_id, provider, span, problems.is_empty()) else {
        return Err(Quarantined { resource: label, reason: problems.join("; ") });
    };
    let location = actors.iter().find(|(kind, _, _)| kind == "Location");
    let mut booking = appointment.clone();
    if let Some(list) = booking.get_mut("participant").and_then(Value::as_array_mut) {
        list.retain(|p| participant_kind(p).as_deref() != Some("Patient"));
    }
    Ok(RemoteSlot {
        external_id,
        span,
        status: SlotStatus::Free,
        provider,
        provider_ref,
        location: location.and_then(|(_, _, d)| d.clone()),
        location_ref: location.map(|(_, r, _)| r.clone()),
        service_type: appointment
            .get("serviceType")
            .and_then(|v| v.get(0))
            .and_then(concept_text)
            .or_else(|| appointment.get("appointmentType").and_then(concept_text)),
        schedule_ref: None,
        booking,
    })
}

/// The `Parameters` body for Argonaut `POST [STU3 base]/Appointment/$book`
/// (Argonaut Scheduling IG 1.0.0; Epic's booking contract is unconfirmed):
///
/// * `appt-resource` = `proposed` (the Appointment from `$find`, see
///   [`RemoteSlot::booking`]) with any Patient participant replaced by
///   `Patient/<patient_id>` (`required` = `required`, `status` = `accepted`);
/// * `patient-id` (`valueUri`) = `Patient/<patient_id>`, the IG's parameter
///   naming the patient being booked.
pub fn epic_book_parameters(proposed: &Value, patient_id: &str) -> Value {
    let patient_ref = typed_ref("Patient", patient_id);
    let mut appointment = proposed.clone();
    if let Some(obj) = appointment.as_object_mut() {
        let list = obj.entry("participant").or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(Vec::new());
        }
        if let Some(list) = list.as_array_mut() {
            list.retain(|p| participant_kind(p).as_deref() != Some("Patient"));
            list.insert(0, json!({ "actor": { "reference": patient_ref }, "required": "required", "status": "accepted" }));
        }
    }
    json!({
        "resourceType": "Parameters",
        "parameter": [
            { "name": "appt-resource", "resource": appointment },
            { "name": "patient-id", "valueUri": patient_ref },
        ],
    })
}

/// The cancelled Appointments in an R4 Appointment search Bundle (Epic shows a
/// cancellation as `Appointment.status = cancelled`). Entries without an id are
/// skipped; anything that is not a Bundle gives an empty list.
pub fn epic_cancelled(bundle: &Value) -> Vec<CancelledAppointment> {
    if resource_type(bundle) != Some("Bundle") {
        return Vec::new();
    }
    entries(bundle)
        .filter_map(|entry| entry.get("resource"))
        .filter(|r| resource_type(r) == Some("Appointment") && str_at(r, "status") == Some("cancelled"))
        .filter_map(|appointment| {
            let id = str_at(appointment, "id")?;
            let actors = participants(appointment);
            let first = |kinds: &[&str]| actors.iter().find(|(kind, _, _)| kinds.contains(&kind.as_str())).map(|(_, r, _)| r.clone());
            let span = match (parse_instant(appointment.get("start")), parse_instant(appointment.get("end"))) {
                (Ok(start), Ok(end)) => Interval::new(start, end),
                _ => None,
            };
            Some(CancelledAppointment {
                appointment_id: format!("Appointment/{id}"),
                span,
                provider_ref: first(&["Practitioner", "PractitionerRole"]),
                location_ref: first(&["Location"]),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A non-empty, trimmed string member.
fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn resource_type(v: &Value) -> Option<&str> {
    str_at(v, "resourceType")
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn entries(bundle: &Value) -> impl Iterator<Item = &Value> {
    array(bundle, "entry")
}

fn next_link(bundle: &Value) -> Option<String> {
    array(bundle, "link").find(|l| str_at(l, "relation") == Some("next")).and_then(|l| str_at(l, "url")).map(str::to_string)
}

/// How to name what arrived instead of the expected resource.
fn describe(v: &Value) -> String {
    match resource_type(v) {
        Some(kind) => format!("a {kind}"),
        None if v.is_object() => "JSON that is not a FHIR resource".to_string(),
        None => "something that is not a FHIR resource".to_string(),
    }
}

fn wrong(expected: &'static str, v: &Value) -> MapError {
    MapError::WrongResource { expected, found: describe(v) }
}

/// True when an OperationOutcome has an issue of severity `error` or `fatal`
/// (FHIR R4 `issue-severity`).
fn is_error_outcome(v: &Value) -> bool {
    v.get("issue").and_then(Value::as_array).is_some_and(|issues| {
        issues.iter().any(|i| matches!(i.get("severity").and_then(Value::as_str), Some("error" | "fatal")))
    })
}

/// True for a FHIR `id` (R4 §2.24.0.1 datatype id: `[A-Za-z0-9\-\.]{1,64}`).
pub fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn outcome_error(v: &Value) -> MapError {
    MapError::Outcome(operation_outcome_text(v).unwrap_or_else(|| "the server gave no details".to_string()))
}

fn expect_bundle(v: &Value) -> Result<(), MapError> {
    match resource_type(v) {
        Some("Bundle") => Ok(()),
        Some("OperationOutcome") => Err(outcome_error(v)),
        _ => Err(wrong("Bundle", v)),
    }
}

/// The first resource of `kind` in a Bundle, preferring `search.mode = match`.
fn find_in_bundle<'a>(bundle: &'a Value, kind: &str) -> Option<&'a Value> {
    let of_kind = || entries(bundle).filter(|e| e.get("resource").and_then(resource_type) == Some(kind));
    of_kind().find(|e| e.pointer("/search/mode").and_then(Value::as_str) == Some("match")).or_else(|| of_kind().next())?.get("resource")
}

/// The joined text of all OperationOutcome entries in a Bundle, if any.
fn bundle_outcome(bundle: &Value) -> Option<String> {
    let texts: Vec<String> = entries(bundle).filter_map(|e| e.get("resource")).filter_map(operation_outcome_text).collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

/// `Type/id` from a relative or absolute reference (`https://x/fhir/Schedule/1`,
/// `Schedule/1/_history/2` → `Schedule/1`); anything else (`urn:uuid:…`, `#c1`)
/// is returned trimmed.
fn relative_ref(reference: &str) -> String {
    let reference = reference.trim();
    let base = match reference.find("/_history/") {
        Some(at) => &reference[..at],
        None => reference,
    };
    let mut parts = base.rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(id), Some(kind)) if !id.is_empty() && kind.starts_with(|c: char| c.is_ascii_uppercase()) => format!("{kind}/{id}"),
        _ => base.to_string(),
    }
}

/// `Kind/id` for an id given bare (`123`) or as a reference (`Kind/123`, or a URL).
fn typed_ref(kind: &str, id: &str) -> String {
    let id = id.trim();
    if id.contains('/') {
        relative_ref(id)
    } else {
        format!("{kind}/{id}")
    }
}

/// (resource type, relative reference, display) of a Reference, the type read
/// from the reference itself or from `Reference.type`.
fn actor_of(reference: &Value) -> Option<(String, String, Option<String>)> {
    let raw = str_at(reference, "reference")?;
    let relative = relative_ref(raw);
    let kind = match relative.split_once('/') {
        Some((kind, _)) => kind.to_string(),
        None => str_at(reference, "type")?.to_string(),
    };
    Some((kind, relative, str_at(reference, "display").map(str::to_string)))
}

fn participant_kind(participant: &Value) -> Option<String> {
    participant.get("actor").and_then(actor_of).map(|(kind, _, _)| kind)
}

/// (type, reference, display) of each Appointment participant that has a reference.
fn participants(appointment: &Value) -> Vec<(String, String, Option<String>)> {
    array(appointment, "participant").filter_map(|p| p.get("actor")).filter_map(actor_of).collect()
}

/// Text of a CodeableConcept (or R5 CodeableReference): `text`, else the first
/// coding display, else the first coding code (a CodeableReference without a
/// concept gives its reference's display).
fn concept_text(v: &Value) -> Option<String> {
    if let Some(concept) = v.get("concept") {
        return concept_text(concept);
    }
    let codings = || array(v, "coding");
    str_at(v, "text")
        .or_else(|| codings().find_map(|c| str_at(c, "display")))
        .or_else(|| codings().find_map(|c| str_at(c, "code")))
        .or_else(|| v.get("reference").and_then(|r| str_at(r, "display")))
        .map(str::to_string)
}

fn version_booking(resource: &Value) -> Value {
    let mut booking = Map::new();
    if let Some(version) = resource.get("meta").and_then(|m| str_at(m, "versionId")) {
        booking.insert("versionId".to_string(), Value::String(version.to_string()));
    }
    Value::Object(booking)
}

/// Why an instant could not be read.
enum InstantProblem {
    Missing,
    NoOffset(String),
    DateOnly(String),
    Invalid(String),
}

/// Reads a FHIR `instant` (`YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`) as UTC.
fn parse_instant(v: Option<&Value>) -> Result<DateTime<Utc>, InstantProblem> {
    let text = match v {
        None | Some(Value::Null) => return Err(InstantProblem::Missing),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(InstantProblem::Missing),
        Some(Value::String(s)) => s.trim(),
        Some(other) => return Err(InstantProblem::Invalid(other.to_string())),
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok() {
        return Err(InstantProblem::NoOffset(text.to_string()));
    }
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return Err(InstantProblem::DateOnly(text.to_string()));
    }
    Err(InstantProblem::Invalid(text.to_string()))
}

fn instant_problem(which: &str, problem: InstantProblem) -> String {
    match problem {
        InstantProblem::Missing => format!("has no {which} time"),
        InstantProblem::NoOffset(text) => format!("{which} time {text} has no time zone offset"),
        InstantProblem::DateOnly(text) => format!("{which} time {text} is a date without a time of day"),
        InstantProblem::Invalid(text) => format!("{which} time '{text}' is not a valid date and time"),
    }
}

/// `[start, end)` of a Slot or Appointment, or the problems found (pushed to `problems`).
fn read_span(resource: &Value, problems: &mut Vec<String>) -> Option<Interval> {
    let start = parse_instant(resource.get("start")).map_err(|p| problems.push(instant_problem("start", p))).ok();
    let end = parse_instant(resource.get("end")).map_err(|p| problems.push(instant_problem("end", p))).ok();
    let (start, end) = (start?, end?);
    if end <= start {
        let raw = |key| str_at(resource, key).unwrap_or_default().to_string();
        problems.push(format!("end time {} is not after start time {}", raw("end"), raw("start")));
        return None;
    }
    Interval::new(start, end)
}

/// RFC 3339 UTC with `Z`, fractional seconds only when present.
fn utc_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// True when a search Bundle has at least one `match` entry (or a `total` above 0).
pub fn search_has_match(bundle: &Value) -> bool {
    bundle.get("total").and_then(Value::as_u64).is_some_and(|t| t > 0)
        || bundle.get("entry").and_then(Value::as_array).is_some_and(|entries| {
            entries.iter().any(|e| e.pointer("/search/mode").and_then(Value::as_str).is_none_or(|m| m == "match") && e.get("resource").is_some())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is valid JSON")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("test instant").with_timezone(&Utc)
    }

    fn span(start: &str, end: &str) -> Interval {
        Interval::new(utc(start), utc(end)).expect("test interval")
    }

    fn r4_page_1() -> Value {
        fixture(include_str!("../../../../fixtures/fhir/r4/slot-page-1.json"))
    }

    fn r4_page_2() -> Value {
        fixture(include_str!("../../../../fixtures/fhir/r4/slot-page-2.json"))
    }

    fn slot<'a>(page: &'a SlotPage, id: &str) -> &'a RemoteSlot {
        page.slots.iter().find(|s| s.external_id == id).unwrap_or_else(|| panic!("slot {id} on the page"))
    }

    #[test]
    fn page_one_reads_paging_and_counts() {
        let page = slot_page(&r4_page_1()).expect("page 1 is a Bundle");
        assert_eq!(
            page.next.as_deref(),
            Some("https://fhir.example.org/r4?_getpages=0f6c2a9e-5d1b-4c37-8e2f-71a4b9d3c605&_getpagesoffset=6&_count=6&_bundletype=searchset")
        );
        assert_eq!(page.total, Some(9));
        assert_eq!(page.matches, 6);
        assert_eq!(page.slots.iter().map(|s| s.external_id.as_str()).collect::<Vec<_>>(), ["1001", "1002", "1003", "1006"]);
        assert_eq!(page.warnings, ["Unknown search parameter 'appointment-type' was ignored"]);
        let mut keys: Vec<&str> = page.schedules.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["Schedule/sched-okafor", "Schedule/sched-rivera"]);
    }

    #[test]
    fn page_one_maps_slots_exactly() {
        let page = slot_page(&r4_page_1()).expect("page 1");
        let s1001 = slot(&page, "1001");
        assert_eq!(
            *s1001,
            RemoteSlot {
                external_id: "1001".into(),
                span: span("2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z"),
                status: SlotStatus::Free,
                provider: "Dr. Ana Rivera".into(),
                provider_ref: Some("Practitioner/prac-rivera".into()),
                location: Some("Main Street Clinic".into()),
                location_ref: Some("Location/loc-main".into()),
                service_type: Some("Follow-up visit".into()),
                schedule_ref: Some("Schedule/sched-rivera".into()),
                booking: json!({ "versionId": "1" }),
            }
        );

        // Fractional seconds; serviceType with a coding display only.
        let s1002 = slot(&page, "1002");
        assert_eq!(s1002.span, span("2026-03-04T14:30:00Z", "2026-03-04T15:00:00Z"));
        assert_eq!(s1002.status, SlotStatus::Busy);
        assert_eq!(s1002.service_type.as_deref(), Some("Immunization"));
        assert_eq!(s1002.booking, json!({ "versionId": "3" }));

        // Across the DST change: 01:30 EST to 03:30 EDT is one hour.
        let s1003 = slot(&page, "1003");
        assert_eq!(s1003.span, span("2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"));
        assert_eq!(s1003.span.duration(), chrono::Duration::minutes(60));
        assert_eq!(s1003.service_type.as_deref(), Some("124"));
        // Absolute schedule reference resolved to the PractitionerRole actor (listed after the Location).
        assert_eq!(s1003.schedule_ref.as_deref(), Some("https://fhir.example.org/r4/Schedule/sched-okafor"));
        assert_eq!(s1003.provider, "Dr. Sam Okafor");
        assert_eq!(s1003.provider_ref.as_deref(), Some("PractitionerRole/role-okafor"));
        assert_eq!(s1003.location.as_deref(), Some("North Clinic, 2nd floor"));
        assert_eq!(s1003.location_ref.as_deref(), Some("Location/loc-north"));

        // Schedule not on the page: provider stays the schedule reference; no meta → empty booking.
        let s1006 = slot(&page, "1006");
        assert_eq!(s1006.span, span("2026-03-05T14:00:00Z", "2026-03-05T14:20:00Z"));
        assert_eq!(s1006.provider, "Schedule/sched-lee");
        assert_eq!(s1006.provider_ref, None);
        assert_eq!(s1006.location, None);
        assert_eq!(s1006.service_type.as_deref(), Some("Flu shot"));
        assert_eq!(s1006.booking, json!({}));
    }

    #[test]
    fn page_one_quarantines_without_guessing() {
        let page = slot_page(&r4_page_1()).expect("page 1");
        assert_eq!(
            page.quarantined,
            [
                Quarantined { resource: "Slot/1004".into(), reason: "has no end time".into() },
                Quarantined { resource: "Slot/1005".into(), reason: "start time 2026-03-04T09:00:00 has no time zone offset".into() },
            ]
        );
    }

    #[test]
    fn page_two_is_last_and_carries_the_newer_version() {
        let page = slot_page(&r4_page_2()).expect("page 2");
        assert_eq!(page.next, None);
        assert_eq!(page.total, Some(9));
        assert_eq!(page.matches, 3);
        assert!(page.warnings.is_empty());
        let s1002 = slot(&page, "1002");
        assert_eq!(s1002.status, SlotStatus::Free);
        assert_eq!(s1002.booking, json!({ "versionId": "4" }));
        assert_eq!(s1002.provider, "Dr. Ana Rivera");
        let s1007 = slot(&page, "1007");
        assert_eq!(s1007.span, span("2026-03-06T20:00:00Z", "2026-03-06T20:30:00Z"));
        assert_eq!(
            page.quarantined,
            [Quarantined {
                resource: "Slot/1008".into(),
                reason: "end time 2026-03-06T10:30:00-05:00 is not after start time 2026-03-06T11:00:00-05:00".into(),
            }]
        );
    }

    #[test]
    fn missing_schedule_is_fetched_and_resolved_to_a_healthcare_service() {
        let page = slot_page(&r4_page_1()).expect("page 1");
        let mut slots = page.slots.clone();
        let mut schedules = page.schedules.clone();
        assert_eq!(missing_schedules(&slots, &schedules), ["Schedule/sched-lee"]);

        let info = schedule_info(&fixture(include_str!("../../../../fixtures/fhir/r4/schedule.json"))).expect("a Schedule");
        assert_eq!(
            info,
            ScheduleInfo {
                reference: "Schedule/sched-lee".into(),
                practitioner: None,
                location: Some(("Location/loc-main".into(), Some("Main Street Clinic".into()))),
                service: Some(("HealthcareService/svc-flu".into(), Some("Walk-in Flu Clinic".into()))),
            }
        );
        schedules.insert(info.reference.clone(), info);
        assert!(missing_schedules(&slots, &schedules).is_empty());
        resolve(&mut slots, &schedules);
        let s1006 = slots.iter().find(|s| s.external_id == "1006").expect("slot 1006");
        assert_eq!(s1006.provider, "Walk-in Flu Clinic");
        assert_eq!(s1006.provider_ref, None);
        assert_eq!(s1006.location.as_deref(), Some("Main Street Clinic"));
        assert_eq!(s1006.location_ref.as_deref(), Some("Location/loc-main"));
    }

    #[test]
    fn resolve_matches_absolute_keys_and_falls_back_to_the_schedule_reference() {
        let page = slot_page(&r4_page_1()).expect("page 1");
        let mut slots: Vec<RemoteSlot> = page.slots.iter().filter(|s| s.external_id == "1001").cloned().collect();
        slots[0].provider = "Schedule/sched-rivera".into();
        slots[0].provider_ref = None;
        let location_only = ScheduleInfo {
            reference: "Schedule/sched-rivera".into(),
            practitioner: None,
            location: Some(("Location/loc-x".into(), None)),
            service: None,
        };
        let mut schedules = HashMap::new();
        schedules.insert("https://other.example/fhir/Schedule/sched-rivera/_history/7".to_string(), location_only);
        resolve(&mut slots, &schedules);
        assert_eq!(slots[0].provider, "Schedule/sched-rivera");
        assert_eq!(slots[0].provider_ref, None);
        assert_eq!(slots[0].location, None);
        assert_eq!(slots[0].location_ref.as_deref(), Some("Location/loc-x"));
    }

    #[test]
    fn slot_rules_one_by_one() {
        let base = json!({
            "resourceType": "Slot", "id": "s1", "schedule": { "reference": "Schedule/a" }, "status": "free",
            "start": "2026-03-04T09:00:00.250-05:00", "end": "2026-03-04T14:30:00Z"
        });
        let ok = remote_slot(&base, 1).expect("a good slot");
        assert_eq!(ok.span, span("2026-03-04T14:00:00.250Z", "2026-03-04T14:30:00Z"));
        assert_eq!(ok.provider, "Schedule/a");
        assert_eq!(ok.service_type, None);

        let with = |key: &str, value: Value| {
            let mut v = base.clone();
            match value {
                Value::Null => {
                    v.as_object_mut().expect("object").remove(key);
                }
                other => v[key] = other,
            }
            remote_slot(&v, 4).expect_err("set aside")
        };
        assert_eq!(with("id", Value::Null), Quarantined { resource: "Slot (entry 4)".into(), reason: "has no id".into() });
        assert_eq!(with("start", Value::Null).reason, "has no start time");
        assert_eq!(with("status", Value::Null).reason, "has no status");
        assert_eq!(with("status", json!("waitlist")).reason, "status 'waitlist' is not a slot status");
        assert_eq!(with("schedule", Value::Null).reason, "does not name its schedule, so its provider is unknown");
        assert_eq!(with("end", json!("2026-03-04")).reason, "end time 2026-03-04 is a date without a time of day");
        assert_eq!(with("end", json!("tomorrow")).reason, "end time 'tomorrow' is not a valid date and time");
        assert_eq!(
            with("end", json!("2026-03-04T09:00:00.250-05:00")).reason,
            "end time 2026-03-04T09:00:00.250-05:00 is not after start time 2026-03-04T09:00:00.250-05:00"
        );
        // Several problems are all named.
        let mut v = base.clone();
        v.as_object_mut().expect("object").remove("end");
        v["start"] = json!("2026-03-04T09:00:00");
        assert_eq!(
            remote_slot(&v, 1).expect_err("set aside").reason,
            "start time 2026-03-04T09:00:00 has no time zone offset; has no end time"
        );

        // R5 CodeableReference serviceType.
        let mut r5 = base.clone();
        r5["serviceType"] = json!([{ "concept": { "coding": [{ "code": "57", "display": "Immunization" }] } }]);
        assert_eq!(remote_slot(&r5, 1).expect("r5 slot").service_type.as_deref(), Some("Immunization"));
    }

    #[test]
    fn not_a_bundle_is_an_error_with_the_servers_words() {
        let outcome = fixture(include_str!("../../../../fixtures/fhir/r4/operation-outcome-conflict.json"));
        let err = slot_page(&outcome).expect_err("an OperationOutcome is not a page");
        assert_eq!(
            err.to_string(),
            "the server reported a problem: someone else changed this record at the same time; Slot 1001 is now busy"
        );
        let err = slot_page(&json!({ "resourceType": "Patient", "id": "p" })).expect_err("not a Bundle");
        assert_eq!(err.to_string(), "the server sent a Patient where a Bundle was expected");
        assert!(matches!(slot_page(&json!([1, 2])), Err(MapError::WrongResource { expected: "Bundle", .. })));
    }

    #[test]
    fn operation_outcome_text_prefers_details_then_diagnostics_then_code() {
        let v = json!({ "resourceType": "OperationOutcome", "issue": [
            { "severity": "error", "code": "processing", "details": { "text": "Slot is not free" }, "diagnostics": "HAPI-0550" },
            { "severity": "error", "code": "processing", "diagnostics": "HAPI-0550: boom" },
            { "severity": "error", "code": "not-found" },
            { "severity": "error", "code": "business-rule" },
            { "severity": "error", "code": "throttled" },
            { "severity": "error", "code": "login" },
            { "severity": "error", "code": "expired" },
            { "severity": "error", "code": "security" },
            { "severity": "error", "code": "made-up" }
        ]});
        assert_eq!(
            operation_outcome_text(&v).as_deref(),
            Some(
                "Slot is not free; HAPI-0550: boom; the record was not found; the request broke one of the system's scheduling rules; \
                 the server asked us to slow down; the sign-in is missing or was refused; the sign-in has expired; \
                 the server refused for security reasons; the server reported 'made-up'"
            )
        );
        assert_eq!(operation_outcome_text(&json!({ "resourceType": "OperationOutcome" })).as_deref(), Some("the server gave no details"));
        assert_eq!(operation_outcome_text(&json!({ "resourceType": "Bundle" })), None);
        assert_eq!(operation_outcome_text(&json!("text")), None);
    }

    fn to_book() -> SlotToBook {
        SlotToBook {
            external_id: "1001".into(),
            span: span("2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z"),
            provider_ref: Some("Practitioner/prac-rivera".into()),
            location_ref: Some("Location/loc-main".into()),
            booking: json!({ "versionId": "1" }),
        }
    }

    #[test]
    fn generic_booking_body_field_by_field() {
        let body = r4_appointment(&to_book(), "pat-5001", AppointmentStyle::Generic);
        assert_eq!(body["resourceType"], "Appointment");
        assert_eq!(body["status"], "booked");
        assert_eq!(body["slot"], json!([{ "reference": "Slot/1001" }]));
        assert_eq!(body["start"], "2026-03-04T14:00:00Z");
        assert_eq!(body["end"], "2026-03-04T14:30:00Z");
        assert_eq!(
            body["participant"],
            json!([
                { "actor": { "reference": "Patient/pat-5001" }, "required": "required", "status": "accepted" },
                { "actor": { "reference": "Practitioner/prac-rivera" }, "status": "accepted" },
                { "actor": { "reference": "Location/loc-main" }, "status": "accepted" }
            ])
        );
        assert_eq!(body.as_object().map(|o| o.len()), Some(6));

        let mut bare = to_book();
        bare.provider_ref = None;
        bare.location_ref = None;
        let body = r4_appointment(&bare, "Patient/pat-5001", AppointmentStyle::Generic);
        assert_eq!(
            body["participant"],
            json!([{ "actor": { "reference": "Patient/pat-5001" }, "required": "required", "status": "accepted" }])
        );
    }

    #[test]
    fn oracle_booking_body_has_one_slot_and_only_the_patient() {
        let mut slot = to_book();
        slot.external_id = "7100001-7200001-7300001-540".into();
        let body = r4_appointment(&slot, "9900001", AppointmentStyle::OracleHealth);
        assert_eq!(
            body,
            json!({
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{ "reference": "Slot/7100001-7200001-7300001-540" }],
                "participant": [{ "actor": { "reference": "Patient/9900001" }, "status": "accepted" }]
            })
        );
        let participants = body["participant"].as_array().expect("list");
        assert_eq!(participants.len(), 1);
        assert!(participants[0].get("type").is_none());
        assert!(body.get("start").is_none() && body.get("end").is_none());
    }

    #[test]
    fn the_slot_re_read_before_booking() {
        let busy = fixture(include_str!("../../../../fixtures/fhir/r4/slot-read-busy.json"));
        assert_eq!(current_slot(&busy).expect("a Slot"), Some(&busy));
        let bundle =
            json!({ "resourceType": "Bundle", "type": "searchset", "entry": [{ "resource": busy, "search": { "mode": "match" } }] });
        let found = current_slot(&bundle).expect("a Slot in a Bundle").expect("present");
        assert_eq!(remote_slot(found, 1).expect("readable").status, SlotStatus::Busy);
        let empty = json!({ "resourceType": "Bundle", "type": "searchset", "total": 0 });
        assert_eq!(current_slot(&empty).expect("gone"), None);
        let outcome = fixture(include_str!("../../../../fixtures/fhir/r4/operation-outcome-conflict.json"));
        assert!(matches!(current_slot(&outcome), Err(MapError::Outcome(_))));
        let patient = json!({ "resourceType": "Patient", "id": "1" });
        assert!(matches!(current_slot(&patient), Err(MapError::WrongResource { expected: "Slot", .. })));
    }

    #[test]
    fn booked_reads_created_appointments() {
        let r4 = fixture(include_str!("../../../../fixtures/fhir/r4/appointment-created.json"));
        assert_eq!(booked(&r4).expect("booked"), Booked { appointment_id: "Appointment/appt-7001".into(), status: "booked".into() });
        let oracle = fixture(include_str!("../../../../fixtures/fhir/oracle/appointment-created.json"));
        assert_eq!(booked(&oracle).expect("booked"), Booked { appointment_id: "Appointment/8800001".into(), status: "booked".into() });
        let conflict = fixture(include_str!("../../../../fixtures/fhir/r4/operation-outcome-conflict.json"));
        assert_eq!(
            booked(&conflict).expect_err("refused").to_string(),
            "the server reported a problem: someone else changed this record at the same time; Slot 1001 is now busy"
        );
        assert!(matches!(
            booked(&json!({ "resourceType": "Appointment", "status": "booked" })),
            Err(MapError::Missing { field: "id", .. })
        ));
    }

    #[test]
    fn oracle_location_header_names_the_appointment() {
        assert_eq!(
            appointment_id_from_location("https://fhir-ehr-code.cerner.com/r4/5f2b6c1e-8d3a-4e7b-9c0d-1a2b3c4d5e6f/Appointment/20465903")
                .as_deref(),
            Some("Appointment/20465903")
        );
        assert_eq!(appointment_id_from_location("https://x/r4/Appointment/77/_history/0").as_deref(), Some("Appointment/77"));
        assert_eq!(appointment_id_from_location("https://x/r4/Patient/77"), None);
    }

    #[test]
    fn oracle_slot_bundle_maps_with_codeset_service_type_and_practitioner() {
        let page = slot_page(&fixture(include_str!("../../../../fixtures/fhir/oracle/slot-bundle.json"))).expect("Oracle page");
        assert_eq!(page.total, None);
        assert_eq!(
            page.next.as_deref(),
            Some("https://fhir-ehr.cerner.com/r4/5f2b6c1e-8d3a-4e7b-9c0d-1a2b3c4d5e6f/Slot?-pageContext=9b3f2d1c-7e6a-4b58-a0c9-2f1e8d7c6b5a&-pageDirection=NEXT")
        );
        assert_eq!(page.matches, 3);
        assert!(page.quarantined.is_empty());
        assert_eq!(
            page.slots[0],
            RemoteSlot {
                external_id: "7100001-7200001-7300001-540".into(),
                span: span("2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z"),
                status: SlotStatus::Free,
                provider: "Okafor, Sam".into(),
                provider_ref: Some("Practitioner/7300001".into()),
                location: Some("MH North Clinic".into()),
                location_ref: Some("Location/7200001".into()),
                service_type: Some("Established Patient 30".into()),
                schedule_ref: Some("Schedule/7100001-7200001-7300001-0".into()),
                booking: json!({ "versionId": "4711v2600304v540" }),
            }
        );
        assert_eq!(page.slots[2].span, span("2026-03-09T13:00:00Z", "2026-03-09T13:30:00Z"));

        // Before its Schedule is known, the slot already names its location from Oracle's extension.
        let raw = &fixture(include_str!("../../../../fixtures/fhir/oracle/slot-bundle.json"))["entry"][0]["resource"];
        let unresolved = remote_slot(raw, 1).expect("slot");
        assert_eq!(unresolved.provider, "Schedule/7100001-7200001-7300001-0");
        assert_eq!(unresolved.location_ref.as_deref(), Some("Location/7200001"));
        assert_eq!(unresolved.location, None);
    }

    fn window() -> Interval {
        span("2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z")
    }

    #[test]
    fn epic_find_parameters_field_by_field() {
        let body = epic_find_parameters(
            window(),
            &["Practitioner/eRivAna0Kx8pLq2Wm5Tz3".to_string()],
            &["Location/eLocMain0Qw4Er7Ty1Ui3".to_string()],
            Some("urn:oid:1.2.840.114350.1.13.99999.1.7.3.808267.11|1004"),
        );
        assert_eq!(
            body,
            json!({
                "resourceType": "Parameters",
                "parameter": [
                    { "name": "startTime", "valueDateTime": "2026-03-02T05:00:00Z" },
                    { "name": "endTime", "valueDateTime": "2026-03-09T04:00:00Z" },
                    { "name": "practitioner", "valueUri": "Practitioner/eRivAna0Kx8pLq2Wm5Tz3" },
                    { "name": "location-reference", "valueUri": "Location/eLocMain0Qw4Er7Ty1Ui3" },
                    { "name": "service-type", "valueCodeableConcept": { "coding": [
                        { "system": "urn:oid:1.2.840.114350.1.13.99999.1.7.3.808267.11", "code": "1004" }
                    ] } }
                ]
            })
        );
        let bare = epic_find_parameters(window(), &[], &[], Some("1004"));
        assert_eq!(bare["parameter"].as_array().map(Vec::len), Some(3));
        assert_eq!(bare["parameter"][2]["valueCodeableConcept"], json!({ "coding": [{ "code": "1004" }] }));
        assert_eq!(epic_find_parameters(window(), &[], &[], None)["parameter"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn epic_find_result_maps_proposals() {
        let bundle = fixture(include_str!("../../../../fixtures/fhir/epic/find-result.json"));
        let found = epic_find_result(&bundle).expect("a Bundle");
        assert_eq!(found.slots.len(), 2);
        let first = &found.slots[0];
        assert_eq!(first.external_id, "eP9nQ2mVd0xk4Tq7aLr3wBg3");
        assert_eq!(first.span, span("2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z"));
        assert_eq!(first.status, SlotStatus::Free);
        assert_eq!(first.provider, "Ana Rivera, MD");
        assert_eq!(first.provider_ref.as_deref(), Some("Practitioner/eRivAna0Kx8pLq2Wm5Tz3"));
        assert_eq!(first.location.as_deref(), Some("MAIN STREET CLINIC"));
        assert_eq!(first.location_ref.as_deref(), Some("Location/eLocMain0Qw4Er7Ty1Ui3"));
        assert_eq!(first.service_type.as_deref(), Some("Office Visit"));
        assert_eq!(first.schedule_ref, None);
        assert_eq!(first.booking, bundle["entry"][0]["resource"]);

        let second = &found.slots[1];
        assert_eq!(second.span, span("2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"));
        assert_eq!(second.provider, "Sam Okafor, MD");
        assert_eq!(second.location.as_deref(), Some("NORTH CLINIC"));
        assert_eq!(second.service_type.as_deref(), Some("New Patient Visit"));

        assert_eq!(
            found.quarantined,
            [Quarantined { resource: "Appointment/eTq2Lm7Np4Rs9Uv1Wx3Yz5Ab7".into(), reason: "has no end time".into() }]
        );
        assert_eq!(found.warnings, ["Visit type 1009 is not scheduled in these departments and was ignored."]);
    }

    #[test]
    fn epic_find_keeps_no_patient_and_needs_a_provider() {
        let bundle = json!({ "resourceType": "Bundle", "type": "searchset", "entry": [
            { "resource": { "resourceType": "Appointment", "id": "a1", "status": "proposed",
                "start": "2026-03-04T14:00:00Z", "end": "2026-03-04T14:30:00Z",
                "participant": [
                    { "actor": { "reference": "Patient/p1" }, "status": "needs-action" },
                    { "actor": { "reference": "Practitioner/d1" }, "status": "needs-action" }
                ] } },
            { "resource": { "resourceType": "Appointment", "id": "a2", "status": "proposed",
                "start": "2026-03-04T14:00:00Z", "end": "2026-03-04T14:30:00Z",
                "participant": [{ "actor": { "reference": "Location/l1", "display": "Annex" }, "status": "needs-action" }] } },
            { "resource": { "resourceType": "Appointment", "id": "a3", "status": "booked",
                "start": "2026-03-04T14:00:00Z", "end": "2026-03-04T14:30:00Z" } }
        ]});
        let found = epic_find_result(&bundle).expect("a Bundle");
        assert_eq!(found.slots.len(), 1);
        assert_eq!(found.slots[0].provider, "Practitioner/d1");
        assert_eq!(
            found.slots[0].booking["participant"],
            json!([{ "actor": { "reference": "Practitioner/d1" }, "status": "needs-action" }])
        );
        assert_eq!(
            found.quarantined,
            [Quarantined { resource: "Appointment/a2".into(), reason: "does not say which provider it is with".into() }]
        );
    }

    #[test]
    fn epic_book_parameters_add_the_patient() {
        let bundle = fixture(include_str!("../../../../fixtures/fhir/epic/find-result.json"));
        let proposed = epic_find_result(&bundle).expect("a Bundle").slots[0].booking.clone();
        let body = epic_book_parameters(&proposed, "eTestPat0Lp3Ok6Ij9");
        assert_eq!(body["resourceType"], "Parameters");
        let params = body["parameter"].as_array().expect("list");
        assert_eq!(params.len(), 2);
        assert_eq!(params[0]["name"], "appt-resource");
        assert_eq!(params[1], json!({ "name": "patient-id", "valueUri": "Patient/eTestPat0Lp3Ok6Ij9" }));
        let appt = &params[0]["resource"];
        assert_eq!(appt["id"], "eP9nQ2mVd0xk4Tq7aLr3wBg3");
        assert_eq!(appt["status"], "proposed");
        assert_eq!(appt["start"], "2026-03-04T14:00:00Z");
        let participants = appt["participant"].as_array().expect("participants");
        assert_eq!(participants.len(), 3);
        assert_eq!(
            participants[0],
            json!({ "actor": { "reference": "Patient/eTestPat0Lp3Ok6Ij9" }, "required": "required", "status": "accepted" })
        );
        assert_eq!(participants[1]["actor"]["reference"], "Practitioner/eRivAna0Kx8pLq2Wm5Tz3");
        assert_eq!(participants[2]["actor"]["reference"], "Location/eLocMain0Qw4Er7Ty1Ui3");
        // Booking twice does not add the patient twice.
        let again = epic_book_parameters(appt, "eTestPat0Lp3Ok6Ij9");
        assert_eq!(again["parameter"][0]["resource"]["participant"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn epic_book_result_and_rejection() {
        let result = fixture(include_str!("../../../../fixtures/fhir/epic/book-result.json"));
        assert_eq!(
            booked(&result).expect("booked"),
            Booked { appointment_id: "Appointment/eB7kWq3Zp9Lm2Xc5Vn8Rt1Ys4".into(), status: "booked".into() }
        );
        let mut rejected = result.clone();
        rejected["entry"][0]["resource"]["status"] = json!("cancelled");
        rejected["entry"][1]["resource"]["issue"][0]["details"]["text"] = json!("The time is no longer available.");
        assert_eq!(booked(&rejected).expect_err("rejected").to_string(), "the booking was not accepted: The time is no longer available.");
    }

    #[test]
    fn epic_cancelled_appointments() {
        let bundle = fixture(include_str!("../../../../fixtures/fhir/epic/appointment-search-cancelled.json"));
        assert_eq!(
            epic_cancelled(&bundle),
            [
                CancelledAppointment {
                    appointment_id: "Appointment/eCx1Mn2Bv5Cx8Za1Sd4Fg7".into(),
                    span: Some(span("2026-03-05T14:00:00Z", "2026-03-05T14:30:00Z")),
                    provider_ref: Some("Practitioner/eRivAna0Kx8pLq2Wm5Tz3".into()),
                    location_ref: Some("Location/eLocMain0Qw4Er7Ty1Ui3".into()),
                },
                CancelledAppointment {
                    appointment_id: "Appointment/eCx2Qa3Ws6Ed9Rf2Tg5Yh8".into(),
                    span: None,
                    provider_ref: Some("Practitioner/eOkaSam0Zx9Cv6Bn4Mm2".into()),
                    location_ref: None,
                },
            ]
        );
        assert!(epic_cancelled(&json!({ "resourceType": "OperationOutcome" })).is_empty());
    }

    #[test]
    fn practitioner_names_follow_human_name() {
        let official = json!({ "resourceType": "Practitioner", "id": "p1", "name": [
            { "use": "old", "text": "Dr. Ana Lopez" },
            { "use": "official", "prefix": ["Dr."], "given": ["Ana", "María"], "family": "Rivera", "suffix": ["MD"] }
        ]});
        assert_eq!(practitioner_name(&official).as_deref(), Some("Dr. Ana María Rivera MD"));
        let text = json!({ "resourceType": "Practitioner", "name": [{ "text": " Dr. Sam Okafor " }] });
        assert_eq!(practitioner_name(&text).as_deref(), Some("Dr. Sam Okafor"));
        assert_eq!(practitioner_name(&json!({ "resourceType": "Practitioner", "name": [{ "given": [] }] })), None);
        assert_eq!(practitioner_name(&json!({ "resourceType": "Patient", "name": [{ "text": "Pat" }] })), None);
    }

    #[test]
    fn a_slot_id_that_is_no_fhir_id_is_set_aside() {
        let odd = json!({ "resourceType": "Slot", "id": "weird id/../x", "schedule": { "reference": "Schedule/1" }, "status": "free",
            "start": "2026-03-04T09:00:00-05:00", "end": "2026-03-04T09:30:00-05:00" });
        let q = remote_slot(&odd, 1).expect_err("not a FHIR id");
        assert_eq!((q.resource.as_str(), q.reason.as_str()), ("Slot/weird id/../x", "has an id that is not a valid FHIR id"));
        assert!(is_fhir_id("7100001-7200001.540") && !is_fhir_id("") && !is_fhir_id(&"a".repeat(65)));
    }
}
