//! The webhook receiver (issue "real-time updates"): a small HTTP server
//! (axum) that source systems, or the practice's interface engine, call when
//! an appointment is booked or cancelled or a schedule changes, so the desk
//! shows it within a second instead of at the next scheduled sync.
//!
//! Started by `medharmony serve` (`--webhook-listen`, default
//! [`DEFAULT_LISTEN`], `127.0.0.1:8737`: this computer only; give a LAN
//! address such as `0.0.0.0:8737` for an interface engine on another machine)
//! and by the desktop app ([`WebhookServer::start`]).
//!
//! # Addresses
//!
//! * `POST /webhooks/{integration}`: MedHarmony events (below).
//! * `POST /webhooks/{integration}/fhir`: FHIR Subscription notifications
//!   (R4 Subscriptions Backport IG, below).
//!
//! `{integration}` is the integration's name as staff gave it, percent-encoded
//! (`/webhooks/Main%20St%20Epic`), matched case-insensitively.
//!
//! # Signing (both addresses)
//!
//! Every delivery carries two headers:
//!
//! * `X-MedHarmony-Timestamp`: the send time in Unix seconds (UTC), e.g. `1772445600`.
//! * `X-MedHarmony-Signature`: `sha256=<hex>`, the lowercase hex HMAC-SHA256
//!   of `<timestamp> + "." + <raw body bytes>`, keyed with the integration's
//!   webhook secret (the text exactly as `medharmony integrations
//!   webhook-secret NAME` printed it, as UTF-8 bytes). See [`sign`].
//!
//! The secret lives in the OS keychain (account
//! `integration:<name>:webhook-secret`, [`crate::auth::Secrets`]); an
//! integration without one accepts no webhooks. The signature is compared in
//! constant time (`ring::hmac::verify`).
//!
//! # Replies
//!
//! | status | when |
//! | --- | --- |
//! | 202 | accepted: an appointment event was applied, or a re-read was queued; body `{"result":"applied"}` / `{"result":"queued"}` |
//! | 200 | nothing to do: a duplicate (`{"result":"duplicate"}`), an event older than one already applied to the slot (`{"result":"stale"}`), a FHIR handshake or heartbeat, or a notification about other resources (`{"result":"ignored"}`) |
//! | 400 | signed correctly but unreadable: not JSON, a missing or malformed field, an unknown type, a body naming another integration, an `occurred_at` more than 5 minutes in the future; the body says which, in plain text |
//! | 401 | empty body: a missing or wrong signature, a timestamp more than [`MAX_SKEW_SECONDS`] (5 minutes) away from this computer's clock, an unknown integration, or one without a webhook secret |
//! | 413 | the body is over [`MAX_BODY_BYTES`] (256 KiB) |
//! | 503 | the database could not be used right now; send again later |
//!
//! Senders should retry on 5xx and network errors with the same event `id`
//! (a retry is recognised as a duplicate once one delivery was applied).
//!
//! # MedHarmony events (`/webhooks/{integration}`)
//!
//! ```json
//! {
//!   "id": "evt-20260302-0001",
//!   "type": "APPOINTMENT.BOOKED",
//!   "occurred_at": "2026-03-02T14:03:11.250Z",
//!   "integration": "Main St Epic",
//!   "data": {
//!     "slot_id": "1234567",
//!     "start": "2026-03-03T09:00:00-05:00",
//!     "end": "2026-03-03T09:30:00-05:00",
//!     "provider": "Dr. Ana Rivera",
//!     "provider_ref": "Practitioner/998",
//!     "location": "Main St Clinic",
//!     "location_ref": "Location/12",
//!     "service_type": "Follow-up",
//!     "status": "busy"
//!   }
//! }
//! ```
//!
//! * `id` (required, 1–200 characters): the sender's unique id of this event;
//!   the same id is applied once per integration (kept 7 days, also across restarts).
//! * `type` (required): `APPOINTMENT.BOOKED`, `APPOINTMENT.CANCELLED` or `SCHEDULE.UPDATED`.
//! * `occurred_at` (required): RFC 3339 with an offset (`Z` or `±hh:mm`),
//!   when the change happened at the source; for one slot the newest wins
//!   (an older event arriving later changes nothing; equal times: the later arrival).
//! * `integration` (required): the integration's name; must match the address.
//! * `data` for `APPOINTMENT.BOOKED` / `APPOINTMENT.CANCELLED`: the slot the appointment takes or frees:
//!   * `slot_id` (required): the slot's id as the source knows it: FHIR
//!     `Slot.id` for FHIR, Oracle Health and Epic sources (the id
//!     `medharmony sync` stores, so the event updates that cached slot);
//!   * `start`, `end` (required): RFC 3339 with offsets, `end` after `start`;
//!   * `provider` (required): the practitioner's name as the desk shows it
//!     (a new name creates a new provider in the integration's zone);
//!   * `provider_ref`, `location`, `location_ref`, `service_type` (optional):
//!     when left out, what the desk has cached for the slot is kept;
//!   * `status` (optional): the FHIR `Slot.status` after the event: for
//!     BOOKED `busy` (default), `busy-tentative` or `busy-unavailable`; for CANCELLED `free` (the default and only value).
//!   * Never put patient details in `data`: the desk stores none, and ignores unknown fields.
//! * `data` for `SCHEDULE.UPDATED`: `{"from": "<RFC 3339>", "to": "<RFC 3339>"}`,
//!   the time window whose slots changed (at most [`MAX_RESYNC_DAYS`] days);
//!   the desk re-reads that window from the source (a complete read replaces
//!   the cached slots starting in it, as a sync does).
//!
//! # FHIR Subscription notifications (`/webhooks/{integration}/fhir`)
//!
//! An R4 Subscriptions Backport IG notification: a `Bundle` of type
//! `history` whose first entry is the SubscriptionStatus (a `Parameters`
//! resource in R4, or a `SubscriptionStatus` in R4B/R5) and whose further
//! entries carry the changed resources, in the id-only style only their
//! `fullUrl`s. `handshake`, `heartbeat` and `query-status` notifications are
//! acknowledged (200) and change nothing. For an `event-notification` (or
//! `query-event`) that names a `Slot`, `Appointment` or `Schedule` (in an
//! entry's `fullUrl` or a notification event's `focus`), or names nothing, the
//! desk re-reads the integration's default sync window (7 days back, 90 ahead)
//! through its connector and applies it as a sync does.
//!
//! Why a window re-read rather than a read of each resource: an id-only
//! notification carries no state; an Appointment change shows up on its
//! Slot; a Slot read alone lacks its Schedule and Practitioner (the desk names
//! providers through them); Oracle Health reads a booked Slot only by search
//! and Epic offers no Slot at all; and a deleted Slot must be removed, which
//! only a complete window read may do. The re-read is coalesced: while one
//! runs for an integration, further notifications queue one more.
//! De-duplication key: the Subscription reference with the notification's
//! event numbers, else the Bundle id.
//!
//! A paused integration still accepts webhooks (pausing stops its scheduled syncs only).
//!
//! A webhook-triggered re-read does not count as the integration's scheduled
//! sync (the worker still syncs the whole window on its schedule) and its
//! failures are logged, not shown as the integration's sync problem.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::auth::Secrets;
use crate::connector::RemoteSlot;
use crate::events::EventSink;
use crate::model::SlotStatus;
use crate::store::integrations::Integration;
use crate::store::key::{DatabaseVault, DbKey, KeyVault};
use crate::store::webhooks::WebhookOutcome;
use crate::store::{Store, StoreError};
use crate::sync::{connector_for, default_window};
use crate::time::Interval;
use crate::worker::{Clock, ConnectorFactory};

/// Where the receiver listens unless told otherwise: this computer only, port 8737.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8737";

/// Largest body accepted, in bytes (256 KiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A delivery whose `X-MedHarmony-Timestamp` is more than this many seconds
/// (300, five minutes) before or after this computer's clock is refused (401).
pub const MAX_SKEW_SECONDS: i64 = 300;

/// The longest window a SCHEDULE.UPDATED event may ask to re-read, in days (366).
pub const MAX_RESYNC_DAYS: i64 = 366;

/// Header with the send time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-medharmony-timestamp";

/// Header with `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-medharmony-signature";

/// How long a webhook secret read from the keychain is reused before it is read again (30 s). A delivery
/// that the cached secret does not verify reads the keychain again, so a new secret works at once; the
/// replaced one keeps working for at most this long.
pub const SECRET_CACHE: StdDuration = StdDuration::from_secs(30);

/// The signature header value for `body` sent at `timestamp` (Unix seconds):
/// `sha256=` and the lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed
/// with the UTF-8 bytes of `secret`. What senders compute; the receiver checks it with [`verify_signature`].
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("sha256={}", hex::encode(ctx.sign().as_ref()))
}

/// True when `signature` (`sha256=<hex>`, hex in either case) is the HMAC of
/// `body` sent at `timestamp` under `secret`, compared in constant time (`ring::hmac::verify`).
pub fn verify_signature(secret: &str, timestamp: i64, signature: &str, body: &[u8]) -> bool {
    let Some(tag) = signature.trim().strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()) else { return false };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = Vec::with_capacity(body.len() + 24);
    msg.extend_from_slice(timestamp.to_string().as_bytes());
    msg.push(b'.');
    msg.extend_from_slice(body);
    ring::hmac::verify(&key, &msg, &tag).is_ok()
}

/// True when `timestamp` (Unix seconds) is within [`MAX_SKEW_SECONDS`] of `now`.
pub fn timestamp_fresh(timestamp: i64, now: DateTime<Utc>) -> bool {
    now.timestamp().checked_sub(timestamp).is_some_and(|d| d.abs() <= MAX_SKEW_SECONDS)
}

/// A new webhook secret: 32 random bytes from the OS as 64 lowercase hex digits.
///
/// # Errors
/// [`WebhookError::Random`] when the OS cannot provide randomness.
pub fn generate_secret() -> Result<String, WebhookError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| WebhookError::Random(e.to_string()))?;
    Ok(hex::encode(raw))
}

/// The three MedHarmony event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `APPOINTMENT.BOOKED`: the slot is taken (`busy` unless `data.status` says otherwise).
    AppointmentBooked,
    /// `APPOINTMENT.CANCELLED`: the slot is `free` again.
    AppointmentCancelled,
    /// `SCHEDULE.UPDATED`: re-read the window `data.from`–`data.to`.
    ScheduleUpdated,
}

impl EventType {
    /// The wire name, e.g. `APPOINTMENT.BOOKED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AppointmentBooked => "APPOINTMENT.BOOKED",
            EventType::AppointmentCancelled => "APPOINTMENT.CANCELLED",
            EventType::ScheduleUpdated => "SCHEDULE.UPDATED",
        }
    }
}

/// A parsed MedHarmony event (see the module documentation for the JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The sender's event id.
    pub id: String,
    /// Its type.
    pub kind: EventType,
    /// When it happened at the source (UTC).
    pub occurred_at: DateTime<Utc>,
    /// The integration's name as the body gives it.
    pub integration: String,
    /// Its data.
    pub data: EventData,
}

/// The `data` of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    /// APPOINTMENT.BOOKED / APPOINTMENT.CANCELLED.
    Appointment(AppointmentData),
    /// SCHEDULE.UPDATED: the window to re-read, `[from, to)` UTC.
    Schedule(Interval),
}

/// The slot an appointment event takes or frees.
#[derive(Debug, Clone, PartialEq)]
pub struct AppointmentData {
    /// The slot's id at the source (FHIR `Slot.id`).
    pub slot_id: String,
    /// `[start, end)` UTC.
    pub span: Interval,
    /// The practitioner's name as the desk shows it.
    pub provider: String,
    /// `Practitioner/…`, if given.
    pub provider_ref: Option<String>,
    /// Location name, if given.
    pub location: Option<String>,
    /// `Location/…`, if given.
    pub location_ref: Option<String>,
    /// Visit type, if given.
    pub service_type: Option<String>,
    /// The slot's status after the event (defaulted and checked against the type).
    pub status: SlotStatus,
}

impl AppointmentData {
    /// The slot to write: this event's fields, and for the optional fields it
    /// leaves out (and the booking details), what `cached` (the slot as the desk has it) holds.
    pub fn to_remote_slot(&self, cached: Option<RemoteSlot>) -> RemoteSlot {
        let c = cached.unwrap_or(RemoteSlot {
            external_id: self.slot_id.clone(),
            span: self.span,
            status: self.status,
            provider: self.provider.clone(),
            provider_ref: None,
            location: None,
            location_ref: None,
            service_type: None,
            schedule_ref: None,
            booking: Value::Null,
        });
        RemoteSlot {
            external_id: self.slot_id.clone(),
            span: self.span,
            status: self.status,
            provider: self.provider.clone(),
            provider_ref: self.provider_ref.clone().or(c.provider_ref),
            location: self.location.clone().or(c.location),
            location_ref: self.location_ref.clone().or(c.location_ref),
            service_type: self.service_type.clone().or(c.service_type),
            schedule_ref: c.schedule_ref,
            booking: c.booking,
        }
    }
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: String,
    integration: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct RawAppointment {
    slot_id: String,
    start: String,
    end: String,
    provider: String,
    provider_ref: Option<String>,
    location: Option<String>,
    location_ref: Option<String>,
    service_type: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct RawWindow {
    from: String,
    to: String,
}

fn instant(field: &str, s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{field} '{s}' is not an RFC 3339 time with an offset, such as 2026-03-02T09:00:00Z or 2026-03-02T09:00:00-05:00"))
}

fn non_empty(field: &str, s: String) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("{field} is empty"));
    }
    Ok(t.to_string())
}

/// Parses a MedHarmony event body (see the module documentation).
///
/// # Errors
/// A plain sentence naming the field that is missing or wrong (sent back with 400).
pub fn parse_event(body: &[u8]) -> Result<Event, String> {
    let raw: RawEvent = serde_json::from_slice(body).map_err(|e| format!("the body is not a MedHarmony event: {e}"))?;
    let id = non_empty("id", raw.id)?;
    if id.chars().count() > 200 {
        return Err("id is longer than 200 characters".into());
    }
    let kind = match raw.kind.trim() {
        "APPOINTMENT.BOOKED" => EventType::AppointmentBooked,
        "APPOINTMENT.CANCELLED" => EventType::AppointmentCancelled,
        "SCHEDULE.UPDATED" => EventType::ScheduleUpdated,
        other => return Err(format!("type '{other}' is not one of APPOINTMENT.BOOKED, APPOINTMENT.CANCELLED, SCHEDULE.UPDATED")),
    };
    let occurred_at = instant("occurred_at", &raw.occurred_at)?;
    let integration = non_empty("integration", raw.integration)?;
    let data = match kind {
        EventType::ScheduleUpdated => {
            let w: RawWindow = serde_json::from_value(raw.data).map_err(|e| format!("data of a SCHEDULE.UPDATED event: {e}"))?;
            let (from, to) = (instant("data.from", &w.from)?, instant("data.to", &w.to)?);
            let window = Interval::new(from, to).filter(|w| !w.is_empty()).ok_or("data.to must be after data.from")?;
            if to - from > Duration::days(MAX_RESYNC_DAYS) {
                return Err(format!("the window data.from–data.to is longer than {MAX_RESYNC_DAYS} days"));
            }
            EventData::Schedule(window)
        }
        EventType::AppointmentBooked | EventType::AppointmentCancelled => {
            let a: RawAppointment = serde_json::from_value(raw.data).map_err(|e| format!("data of an {} event: {e}", kind.as_str()))?;
            let span = Interval::new(instant("data.start", &a.start)?, instant("data.end", &a.end)?)
                .filter(|w| !w.is_empty())
                .ok_or("data.end must be after data.start")?;
            let status = match (&a.status, kind) {
                (None, EventType::AppointmentBooked) => SlotStatus::Busy,
                (None, _) => SlotStatus::Free,
                (Some(s), _) => s.parse::<SlotStatus>().map_err(|e| format!("data.status: {e}"))?,
            };
            let fits = match kind {
                EventType::AppointmentBooked => matches!(status, SlotStatus::Busy | SlotStatus::BusyTentative | SlotStatus::BusyUnavailable),
                _ => status == SlotStatus::Free,
            };
            if !fits {
                return Err(format!("data.status '{status}' does not fit an {} event", kind.as_str()));
            }
            let opt = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            EventData::Appointment(AppointmentData {
                slot_id: non_empty("data.slot_id", a.slot_id)?,
                span,
                provider: non_empty("data.provider", a.provider)?,
                provider_ref: opt(a.provider_ref),
                location: opt(a.location),
                location_ref: opt(a.location_ref),
                service_type: opt(a.service_type),
                status,
            })
        }
    };
    Ok(Event { id, kind, occurred_at, integration, data })
}

/// A parsed FHIR Subscription notification (R4 Subscriptions Backport IG).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FhirNotification {
    /// `Bundle.id`, if any.
    pub bundle_id: Option<String>,
    /// The notification type: `event-notification`, `handshake`, `heartbeat`, `query-status`, `query-event`.
    pub kind: String,
    /// The Subscription reference, if given.
    pub subscription: Option<String>,
    /// The notification events' `event-number`s, in order.
    pub event_numbers: Vec<String>,
    /// The changed resources as `Type/id`, from the further entries' `fullUrl`s and the events' `focus`.
    pub resources: Vec<String>,
}

impl FhirNotification {
    /// The key this notification is de-duplicated by: `<subscription>#<event numbers>`
    /// when it has event numbers, else `bundle:<Bundle.id>`, else `None` (not de-duplicated).
    pub fn dedup_id(&self) -> Option<String> {
        match (&self.subscription, self.event_numbers.is_empty(), &self.bundle_id) {
            (Some(s), false, _) => Some(format!("{s}#{}", self.event_numbers.join(","))),
            (_, _, Some(b)) => Some(format!("bundle:{b}")),
            _ => None,
        }
    }

    /// True when the desk should re-read the source: an event notification
    /// naming a Slot, Appointment or Schedule, or naming no resource at all.
    pub fn needs_resync(&self) -> bool {
        matches!(self.kind.as_str(), "event-notification" | "query-event")
            && (self.resources.is_empty()
                || self.resources.iter().any(|r| matches!(r.split('/').next(), Some("Slot" | "Appointment" | "Schedule"))))
    }
}

/// `Type/id` from a FHIR reference or full URL (`https://…/r4/Slot/123/_history/2` → `Slot/123`); `None` for `urn:` ids.
fn type_and_id(reference: &str) -> Option<String> {
    if reference.starts_with("urn:") {
        return None;
    }
    let path = reference.split(['?', '#']).next().unwrap_or(reference);
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() >= 4 && parts[parts.len() - 2] == "_history" {
        parts.truncate(parts.len() - 2);
    }
    let n = parts.len();
    (n >= 2 && parts[n - 2].chars().next().is_some_and(|c| c.is_ascii_uppercase())).then(|| format!("{}/{}", parts[n - 2], parts[n - 1]))
}

/// A `value[x]` of a Parameters parameter as text (string, code, integer kinds, instant, reference).
fn param_value(p: &Value) -> Option<String> {
    for k in ["valueString", "valueCode", "valueInstant", "valueDateTime", "valueUri", "valueCanonical"] {
        if let Some(s) = p.get(k).and_then(Value::as_str) {
            return Some(s.to_string());
        }
    }
    for k in ["valueInteger64", "valueUnsignedInt", "valuePositiveInt", "valueInteger"] {
        match p.get(k) {
            Some(Value::String(s)) => return Some(s.clone()),
            Some(Value::Number(n)) => return Some(n.to_string()),
            _ => {}
        }
    }
    p.get("valueReference").and_then(|r| r.get("reference")).and_then(Value::as_str).map(str::to_string)
}

/// Parses a FHIR Subscription notification Bundle (R4 backport `Parameters`
/// status, or an R4B/R5 `SubscriptionStatus`).
///
/// # Errors
/// A plain sentence saying what is not as the Subscriptions Backport IG describes (sent back with 400).
pub fn parse_fhir_notification(body: &[u8]) -> Result<FhirNotification, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    if v.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err("the body is not a FHIR Bundle".into());
    }
    let btype = v.get("type").and_then(Value::as_str).unwrap_or("");
    if btype != "history" && btype != "subscription-notification" {
        return Err(format!("the Bundle's type is '{btype}', not 'history' (a Subscription notification)"));
    }
    let entries = v.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
    let status = entries.first().and_then(|e| e.get("resource")).ok_or("the notification has no SubscriptionStatus as its first entry")?;
    let mut n = FhirNotification { bundle_id: v.get("id").and_then(Value::as_str).map(str::to_string), ..Default::default() };
    match status.get("resourceType").and_then(Value::as_str) {
        Some("Parameters") => {
            for p in status.get("parameter").and_then(Value::as_array).into_iter().flatten() {
                match p.get("name").and_then(Value::as_str) {
                    Some("type") => n.kind = param_value(p).unwrap_or_default(),
                    Some("subscription") => n.subscription = param_value(p),
                    Some("notification-event") => {
                        for part in p.get("part").and_then(Value::as_array).into_iter().flatten() {
                            match part.get("name").and_then(Value::as_str) {
                                Some("event-number") => n.event_numbers.extend(param_value(part)),
                                Some("focus") => n.resources.extend(param_value(part).as_deref().and_then(type_and_id)),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Some("SubscriptionStatus") => {
            n.kind = status.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
            n.subscription = status.pointer("/subscription/reference").and_then(Value::as_str).map(str::to_string);
            for ev in status.get("notificationEvent").and_then(Value::as_array).into_iter().flatten() {
                match ev.get("eventNumber") {
                    Some(Value::String(s)) => n.event_numbers.push(s.clone()),
                    Some(Value::Number(x)) => n.event_numbers.push(x.to_string()),
                    _ => {}
                }
                n.resources.extend(ev.pointer("/focus/reference").and_then(Value::as_str).and_then(type_and_id));
            }
        }
        _ => return Err("the first entry of the notification is not a SubscriptionStatus (Parameters in R4)".into()),
    }
    if n.kind.is_empty() {
        return Err("the SubscriptionStatus gives no notification type".into());
    }
    for e in entries.iter().skip(1) {
        let from_url = e.get("fullUrl").and_then(Value::as_str).and_then(type_and_id);
        let from_resource = e.get("resource").and_then(|r| {
            let (t, id) = (r.get("resourceType")?.as_str()?, r.get("id")?.as_str()?);
            Some(format!("{t}/{id}"))
        });
        n.resources.extend(from_url.or(from_resource));
    }
    n.resources.dedup();
    Ok(n)
}

/// What happened to one delivery, for the host (one line per delivery in `medharmony serve`).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The integration's name as stored.
    pub integration: String,
    /// `APPOINTMENT.BOOKED`, …, or `FHIR notification`.
    pub kind: String,
    /// What was done.
    pub outcome: DeliveryOutcome,
}

/// What was done with a delivery (or the re-read it queued).
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// The event was applied to its slot.
    Applied,
    /// The event id was received before: nothing changed.
    Duplicate,
    /// The event is older than one already applied to its slot: nothing changed.
    Stale,
    /// Nothing to do (a handshake, a heartbeat, a notification about other resources).
    Ignored,
    /// A re-read of this window (UTC) was queued.
    Queued(Interval),
    /// A queued re-read finished: counts of slots added, changed and removed, and whether the window was read completely.
    Resynced {
        /// Slots added.
        added: usize,
        /// Slots changed.
        changed: usize,
        /// Slots removed.
        removed: usize,
        /// False when the source's answer was incomplete (then nothing was changed).
        complete: bool,
    },
    /// A queued re-read failed; the scheduled sync will catch up. In plain words, without secrets.
    ResyncFailed(String),
}

impl DeliveryOutcome {
    /// One word for JSON lines: `applied`, `duplicate`, `stale`, `ignored`, `queued`, `resynced`, `resync-failed`.
    pub fn word(&self) -> &'static str {
        match self {
            DeliveryOutcome::Applied => "applied",
            DeliveryOutcome::Duplicate => "duplicate",
            DeliveryOutcome::Stale => "stale",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Queued(_) => "queued",
            DeliveryOutcome::Resynced { .. } => "resynced",
            DeliveryOutcome::ResyncFailed(_) => "resync-failed",
        }
    }
}

/// The address path of an integration's MedHarmony events, its name percent-encoded as one path segment:
/// `Main St Epic` → `/webhooks/Main%20St%20Epic` (FHIR notifications: that path plus `/fhir`).
pub fn path_for(integration_name: &str) -> String {
    let mut u = url::Url::parse("http://localhost/webhooks/").expect("a valid base");
    u.path_segments_mut().expect("a base with a path").pop_if_empty().push(integration_name);
    u.path().to_string()
}

impl Delivery {
    /// One line for staff, e.g. "Main St Epic: APPOINTMENT.BOOKED applied".
    pub fn plain(&self) -> String {
        let what = match &self.outcome {
            DeliveryOutcome::Applied => "applied".to_string(),
            DeliveryOutcome::Duplicate => "already received; nothing changed".to_string(),
            DeliveryOutcome::Stale => "older than a change already applied; nothing changed".to_string(),
            DeliveryOutcome::Ignored => "nothing to do".to_string(),
            DeliveryOutcome::Queued(w) => format!("re-reading {} – {}", crate::time::fmt_instant(w.start), crate::time::fmt_instant(w.end)),
            DeliveryOutcome::Resynced { added, changed, removed, complete } => format!(
                "re-read: {added} added, {changed} changed, {removed} removed; {}",
                if *complete { "complete" } else { "incomplete, nothing changed" }
            ),
            DeliveryOutcome::ResyncFailed(p) => format!("re-read failed ({p}); the next scheduled sync will catch up"),
        };
        format!("{}: {} {what}", self.integration, self.kind)
    }
}

/// Why the receiver could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The address could not be listened on (in use, not this computer's, no permission).
    #[error("could not listen for webhooks on {addr} ({detail}); choose another address with --webhook-listen, e.g. 127.0.0.1:8738")]
    Bind {
        /// The address.
        addr: String,
        /// What the system said.
        detail: String,
    },
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No random bytes for a secret.
    #[error("could not generate a webhook secret: {0}")]
    Random(String),
}

/// How a [`WebhookServer`] runs.
#[derive(Clone)]
pub struct WebhookConfig {
    /// Address to listen on (port 0: any free port, see [`WebhookServer::local_addr`]).
    pub listen: SocketAddr,
    /// The database file (the receiver keeps one connection to it for deliveries, and opens one per re-read).
    pub db_path: PathBuf,
    /// Its key (the same the worker uses).
    pub key: DbKey,
    /// Where webhook secrets are read from (already scoped to this database: [`DatabaseVault`]).
    pub vault: Arc<dyn KeyVault + Send + Sync>,
    /// Builds connectors for re-reads (default: [`connector_for`] with `vault`).
    pub connectors: ConnectorFactory,
    /// The current time (default: the system clock).
    pub clock: Clock,
    /// Receives every [`Delivery`], on the receiver's tasks: must be cheap and not block.
    pub on_delivery: Arc<dyn Fn(&Delivery) + Send + Sync>,
    /// Receives the store's committed changes (the desktop's live updates).
    pub sink: Option<Arc<dyn EventSink>>,
}

impl WebhookConfig {
    /// The defaults for the database `db_path` opened with `key`, listening on
    /// `listen`, reading webhook and sign-in secrets from `vault` (scoped to this database with [`DatabaseVault`]).
    pub fn new<V: KeyVault + Send + Sync + 'static>(listen: SocketAddr, db_path: PathBuf, key: DbKey, vault: V) -> WebhookConfig {
        let vault: Arc<dyn KeyVault + Send + Sync> = Arc::new(DatabaseVault::new(vault, &db_path));
        let for_connectors = vault.clone();
        WebhookConfig {
            listen,
            db_path,
            key,
            vault,
            connectors: Arc::new(move |i| connector_for(i, for_connectors.clone())),
            clock: Arc::new(Utc::now),
            on_delivery: Arc::new(|_| {}),
            sink: None,
        }
    }
}

/// A queued or running re-read of one integration.
#[derive(Default)]
struct Resync {
    running: bool,
    /// The hull of the windows asked for while one ran, with the event ids that asked.
    pending: Option<(Interval, Vec<String>)>,
}

struct Shared {
    cfg: WebhookConfig,
    store: Mutex<Store>,
    secrets: Mutex<HashMap<String, (String, Instant)>>,
    resyncs: Mutex<HashMap<i64, Resync>>,
}

/// A running webhook receiver. Dropping it without [`WebhookServer::stop`] leaves it running until the runtime ends.
pub struct WebhookServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookServer {
    /// Opens the database (reporting a wrong key or a newer schema at once),
    /// listens on `cfg.listen` and serves on `runtime`.
    ///
    /// # Errors
    /// [`WebhookError::Bind`] when the address cannot be listened on;
    /// [`WebhookError::Store`] when the database cannot be opened.
    pub fn start(cfg: WebhookConfig, runtime: &tokio::runtime::Handle) -> Result<WebhookServer, WebhookError> {
        let mut store = Store::open(&cfg.db_path, &cfg.key)?;
        if let Some(sink) = &cfg.sink {
            store.set_event_sink(sink.clone());
        }
        let bind = |e: std::io::Error| WebhookError::Bind { addr: cfg.listen.to_string(), detail: e.to_string() };
        let std_listener = std::net::TcpListener::bind(cfg.listen).map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let addr = std_listener.local_addr().map_err(bind)?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind)?
        };
        let shared = Arc::new(Shared { cfg, store: Mutex::new(store), secrets: Mutex::default(), resyncs: Mutex::default() });
        let app = Router::new()
            .route("/webhooks/{integration}", post(receive_event))
            .route("/webhooks/{integration}/fhir", post(receive_fhir))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::warn!(error = %e, "the webhook receiver stopped");
            }
        });
        tracing::info!(%addr, "webhook receiver listening");
        Ok(WebhookServer { addr, stop: Some(stop), task })
    }

    /// The address it listens on (with the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting deliveries and waits up to 5 s for those in progress. Queued re-reads are not waited for
    /// (one cut short by the process ending is rolled back by SQLite).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(StdDuration::from_secs(5), &mut self.task).await;
    }
}

fn unauthorized() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "a webhook delivery could not be processed");
    (StatusCode::SERVICE_UNAVAILABLE, "the desk's database is busy or unavailable; send again later").into_response()
}

fn result(status: StatusCode, word: &str) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], format!("{{\"result\":\"{word}\"}}")).into_response()
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

/// Runs `f` with the receiver's store connection on the blocking pool.
async fn with_store<T: Send + 'static>(shared: &Arc<Shared>, f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static) -> Result<T, String> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut store).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Checks the headers, the integration and the signature. `Err` is the reply to send.
async fn authenticate(shared: &Arc<Shared>, name: String, headers: &HeaderMap, body: &Bytes) -> Result<Integration, Response> {
    let header = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).map(str::trim);
    let (Some(ts), Some(sig)) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER)) else { return Err(unauthorized()) };
    let Ok(ts) = ts.parse::<i64>() else { return Err(unauthorized()) };
    if !timestamp_fresh(ts, (shared.cfg.clock)()) {
        tracing::info!(integration = %name, "webhook refused: its timestamp is more than 5 minutes off");
        return Err(unauthorized());
    }
    // A cached secret that does not verify is read again from the keychain once, so a new secret works at once.
    let key = name.to_lowercase();
    let mut cached = {
        let cache = shared.secrets.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(&key).filter(|(_, at)| at.elapsed() < SECRET_CACHE).map(|(s, _)| s.clone())
    };
    loop {
        let from_cache = cached.is_some();
        let lookup = {
            let (shared, name, cached) = (shared.clone(), name.clone(), cached.take());
            tokio::task::spawn_blocking(move || -> Result<Option<(Integration, Option<String>)>, String> {
                let integ = shared.store.lock().unwrap_or_else(|p| p.into_inner()).integration(&name).map_err(|e| e.to_string())?;
                let Some(integ) = integ else { return Ok(None) };
                let secret = match cached {
                    Some(s) => Some(s),
                    None => Secrets::new(shared.cfg.vault.as_ref()).load_webhook_secret(&integ.name).map_err(|e| e.to_string())?,
                };
                Ok(Some((integ, secret)))
            })
            .await
        };
        let (integ, secret) = match lookup {
            Ok(Ok(Some((integ, Some(secret))))) => (integ, secret),
            Ok(Ok(_)) => {
                tracing::info!(integration = %name, "webhook refused: no such integration, or it has no webhook secret");
                return Err(unauthorized());
            }
            Ok(Err(e)) => return Err(unavailable(e)),
            Err(e) => return Err(unavailable(e)),
        };
        if verify_signature(&secret, ts, sig, body) {
            shared.secrets.lock().unwrap_or_else(|p| p.into_inner()).insert(key, (secret, Instant::now()));
            return Ok(integ);
        }
        if !from_cache {
            tracing::info!(integration = %integ.name, "webhook refused: wrong signature");
            return Err(unauthorized());
        }
    }
}

fn report(shared: &Shared, integ: &Integration, kind: &str, outcome: DeliveryOutcome) {
    (shared.cfg.on_delivery)(&Delivery { integration: integ.name.clone(), kind: kind.to_string(), outcome });
}

async fn receive_event(State(shared): State<Arc<Shared>>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let integ = match authenticate(&shared, name, &headers, &body).await {
        Ok(i) => i,
        Err(reply) => return reply,
    };
    let event = match parse_event(&body) {
        Ok(e) => e,
        Err(msg) => return bad_request(msg),
    };
    if !event.integration.eq_ignore_ascii_case(&integ.name) {
        return bad_request(format!("the event names the integration '{}' but was sent to the address of '{}'", event.integration, integ.name));
    }
    let now = (shared.cfg.clock)();
    if event.occurred_at > now + Duration::seconds(MAX_SKEW_SECONDS) {
        return bad_request("occurred_at is more than 5 minutes in the future; check the sender's clock".into());
    }
    let kind = event.kind.as_str();
    tracing::info!(integration = %integ.name, event = %event.id, kind, "webhook event received");
    match event.data {
        EventData::Appointment(data) => {
            let (i, id, at) = (integ.clone(), event.id.clone(), event.occurred_at);
            let applied = with_store(&shared, move |store| {
                let cached = store.synced_slot(&i, &data.slot_id)?;
                store.apply_webhook_slot(&i, &id, at, &data.to_remote_slot(cached), now)
            })
            .await;
            match applied {
                Ok(WebhookOutcome::Applied(_)) => {
                    report(&shared, &integ, kind, DeliveryOutcome::Applied);
                    result(StatusCode::ACCEPTED, "applied")
                }
                Ok(WebhookOutcome::Duplicate) => {
                    report(&shared, &integ, kind, DeliveryOutcome::Duplicate);
                    result(StatusCode::OK, "duplicate")
                }
                Ok(WebhookOutcome::Stale { .. }) => {
                    report(&shared, &integ, kind, DeliveryOutcome::Stale);
                    result(StatusCode::OK, "stale")
                }
                Ok(WebhookOutcome::Recorded) => result(StatusCode::ACCEPTED, "applied"),
                Err(e) => unavailable(e),
            }
        }
        EventData::Schedule(window) => queue_after_recording(&shared, integ, kind, Some(event.id), window).await,
    }
}

async fn receive_fhir(State(shared): State<Arc<Shared>>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let integ = match authenticate(&shared, name, &headers, &body).await {
        Ok(i) => i,
        Err(reply) => return reply,
    };
    let n = match parse_fhir_notification(&body) {
        Ok(n) => n,
        Err(msg) => return bad_request(msg),
    };
    const KIND: &str = "FHIR notification";
    tracing::info!(integration = %integ.name, kind = %n.kind, resources = n.resources.len(), "FHIR notification received");
    if !n.needs_resync() {
        report(&shared, &integ, KIND, DeliveryOutcome::Ignored);
        return result(StatusCode::OK, "ignored");
    }
    let window = default_window((shared.cfg.clock)());
    queue_after_recording(&shared, integ, KIND, n.dedup_id(), window).await
}

/// Records the event id (when there is one) and queues a re-read of `window`.
async fn queue_after_recording(shared: &Arc<Shared>, integ: Integration, kind: &str, event_id: Option<String>, window: Interval) -> Response {
    if let Some(id) = event_id.clone() {
        let (i, now) = (integ.clone(), (shared.cfg.clock)());
        match with_store(shared, move |store| store.record_webhook_event(&i, &id, now)).await {
            Ok(WebhookOutcome::Duplicate) => {
                report(shared, &integ, kind, DeliveryOutcome::Duplicate);
                return result(StatusCode::OK, "duplicate");
            }
            Ok(_) => {}
            Err(e) => return unavailable(e),
        }
    }
    report(shared, &integ, kind, DeliveryOutcome::Queued(window));
    let start = {
        let mut all = shared.resyncs.lock().unwrap_or_else(|p| p.into_inner());
        let r = all.entry(integ.id).or_default();
        if r.running {
            let (w, mut ids) = r.pending.take().unwrap_or((window, Vec::new()));
            ids.extend(event_id.clone());
            r.pending = Some((Interval { start: w.start.min(window.start), end: w.end.max(window.end) }, ids));
            false
        } else {
            r.running = true;
            true
        }
    };
    if start {
        tokio::spawn(run_resyncs(shared.clone(), integ, kind.to_string(), window, event_id.into_iter().collect()));
    }
    result(StatusCode::ACCEPTED, "queued")
}

/// Re-reads `window`, then whatever was queued meanwhile, until nothing is.
async fn run_resyncs(shared: Arc<Shared>, integ: Integration, kind: String, mut window: Interval, mut ids: Vec<String>) {
    loop {
        let (s, i) = (shared.clone(), integ.clone());
        let outcome = tokio::task::spawn_blocking(move || resync_once(&s, &i, window)).await.unwrap_or_else(|e| Err(e.to_string()));
        match outcome {
            Ok(o) => report(&shared, &integ, &kind, o),
            Err(problem) => {
                tracing::warn!(integration = %integ.name, problem = %problem, "a webhook re-read failed");
                // A redelivery of these events is processed again.
                let (i, forget) = (integ.clone(), std::mem::take(&mut ids));
                let _ = with_store(&shared, move |store| forget.iter().try_for_each(|id| store.forget_webhook_event(&i, id))).await;
                report(&shared, &integ, &kind, DeliveryOutcome::ResyncFailed(problem));
            }
        }
        let mut all = shared.resyncs.lock().unwrap_or_else(|p| p.into_inner());
        let r = all.entry(integ.id).or_default();
        match r.pending.take() {
            Some((w, next)) => (window, ids) = (w, next),
            None => {
                r.running = false;
                return;
            }
        }
    }
}

/// One re-read on the blocking pool: the connector reads `window`, the store applies it as a sync does
/// (a complete read replaces the window's slots; an incomplete one changes nothing).
fn resync_once(shared: &Shared, integ: &Integration, window: Interval) -> Result<DeliveryOutcome, String> {
    let mut connector = (shared.cfg.connectors)(integ).map_err(|e| e.to_string())?;
    let read = connector.availability(window).map_err(|e| e.to_string())?;
    let now = (shared.cfg.clock)();
    let outcome = shared.store.lock().unwrap_or_else(|p| p.into_inner()).apply_window(integ, window, &read, now).map_err(|e| e.to_string())?;
    Ok(DeliveryOutcome::Resynced { added: outcome.inserted, changed: outcome.updated, removed: outcome.removed, complete: read.complete })
}

/// What [`bench_latency`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyReport {
    /// Events sent (all APPOINTMENT.BOOKED / CANCELLED, each for its own slot id cycling over 500 slots).
    pub sent: usize,
    /// Events answered 202 (applied).
    pub applied: usize,
    /// Change-log entries the store emitted (one per applied event, plus one when the first creates the slot source).
    pub changes: usize,
    /// Median latency in milliseconds from the event's scheduled send time to its 202 (the change-log entry is
    /// committed and emitted before the 202 is sent, so this bounds webhook → change-log from above).
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Largest, milliseconds.
    pub max_ms: f64,
}

/// Measures webhook → change-log latency: starts a receiver over a new database in `dir` (an in-memory
/// keychain), sends signed appointment events over loopback HTTP at `rate_per_sec` for `seconds`, from 8
/// sender threads keeping to the schedule (a late send still counts from its scheduled time, so a stall
/// shows in the numbers), and reports percentiles. For manual runs only (it takes `seconds` of wall time);
/// never run by the tests.
///
/// # Errors
/// The database or the receiver could not be set up (in plain words).
pub fn bench_latency(dir: &std::path::Path, rate_per_sec: u32, seconds: u32) -> Result<LatencyReport, String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    type BenchVault = crate::store::key::MemoryVault;
    struct Count(AtomicUsize);
    impl EventSink for Count {
        fn emit(&self, _: &crate::events::Change) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let db = dir.join("webhook-bench.db");
    let key = DbKey::generate().map_err(|e| e.to_string())?;
    let name = "Bench FHIR";
    let mut store = Store::open(&db, &key).map_err(|e| e.to_string())?;
    let settings = crate::connector::IntegrationSettings::new("http://127.0.0.1:9/r4", "UTC", crate::auth::AuthConfig::None);
    store.add_integration(crate::connector::IntegrationKind::Fhir, name, &settings, Utc::now()).map_err(|e| e.to_string())?;
    drop(store);
    let vault = BenchVault::default();
    let secret = generate_secret().map_err(|e| e.to_string())?;
    Secrets::new(&DatabaseVault::new(vault.clone(), &db)).store_webhook_secret(name, &secret).map_err(|e| e.to_string())?;
    let changes = Arc::new(Count(AtomicUsize::new(0)));
    let cfg = WebhookConfig { sink: Some(changes.clone()), ..WebhookConfig::new("127.0.0.1:0".parse().expect("an address"), db, key, vault) };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?;
    let server = WebhookServer::start(cfg, rt.handle()).map_err(|e| e.to_string())?;
    let url = format!("http://{}{}", server.local_addr(), path_for(name));
    let total = (rate_per_sec as usize) * (seconds as usize);
    let gap = StdDuration::from_secs_f64(1.0 / f64::from(rate_per_sec.max(1)));
    let (next, t0) = (Arc::new(AtomicUsize::new(0)), Instant::now() + StdDuration::from_millis(50));
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (next, url, secret) = (next.clone(), url.clone(), secret.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(StdDuration::from_secs(10)).build();
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return out;
                    }
                    let due = t0 + gap * i as u32;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let now = Utc::now();
                    let start = Utc::now().date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc() + Duration::days(1) + Duration::minutes(15 * (i % 500) as i64);
                    let body = serde_json::json!({
                        "id": format!("bench-{i}"), "type": if i % 2 == 0 { "APPOINTMENT.BOOKED" } else { "APPOINTMENT.CANCELLED" },
                        "occurred_at": now.to_rfc3339(), "integration": "Bench FHIR",
                        "data": { "slot_id": format!("s-{}", i % 500), "start": start.to_rfc3339(), "end": (start + Duration::minutes(15)).to_rfc3339(), "provider": "Dr. Bench" }
                    })
                    .to_string();
                    let ts = now.timestamp();
                    let reply = agent
                        .post(&url)
                        .set("X-MedHarmony-Timestamp", &ts.to_string())
                        .set("X-MedHarmony-Signature", &sign(&secret, ts, body.as_bytes()))
                        .send_string(&body);
                    out.push((reply.map(|r| r.status()).unwrap_or(0) == 202, due.elapsed()));
                }
            })
        })
        .collect();
    let mut samples: Vec<(bool, StdDuration)> = senders.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect();
    rt.block_on(server.stop());
    samples.sort_by_key(|s| s.1);
    let ms = |q: f64| samples.get(((samples.len() as f64 - 1.0) * q).round() as usize).map_or(0.0, |s| s.1.as_secs_f64() * 1000.0);
    Ok(LatencyReport {
        sent: samples.len(),
        applied: samples.iter().filter(|s| s.0).count(),
        changes: changes.0.load(Ordering::Relaxed),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: ms(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(rel: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Manual: `cargo test -p medharmony --lib webhook::tests::bench -- --ignored --nocapture` (10 s at 200 events/s).
    #[test]
    #[ignore = "a 10-second benchmark; run by hand"]
    fn bench_webhook_to_change_log_latency_at_200_per_second() {
        let dir = tempfile::tempdir().unwrap();
        let r = bench_latency(dir.path(), 200, 10).unwrap();
        println!("{r:?}");
        // One change-log entry per event, and one for the slot source the first event creates.
        assert_eq!((r.sent, r.applied, r.changes), (2000, 2000, 2001));
    }

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_dot_body_and_anything_else_fails() {
        // RFC 4231 test case 2 checks the primitive: key "Jefe", data "what do ya want for nothing?".
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"Jefe");
        assert_eq!(
            hex::encode(ring::hmac::sign(&key, b"what do ya want for nothing?").as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Our message is "<timestamp>.<body>": the same primitive over that text.
        let body = br#"{"id":"e1"}"#;
        let sig = sign("s3cret", 1_772_445_600, body);
        let mac = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret"), b"1772445600.{\"id\":\"e1\"}");
        assert_eq!(sig, format!("sha256={}", hex::encode(mac.as_ref())));
        // The same value as `printf '%s.%s' 1772445600 '{"id":"e1"}' | openssl dgst -sha256 -hmac s3cret` (docs/webhooks.md).
        assert_eq!(sig, "sha256=013dbaadbd0cfd29d2d79e9d6fca4eb86e772d8009d9cc851e17727bb98465c3");
        assert!(verify_signature("s3cret", 1_772_445_600, &sig, body));
        assert!(verify_signature("s3cret", 1_772_445_600, &sig.to_uppercase().replace("SHA256=", "sha256="), body), "hex in either case");
        assert!(!verify_signature("s3cret", 1_772_445_601, &sig, body), "another timestamp");
        assert!(!verify_signature("other", 1_772_445_600, &sig, body), "another secret");
        assert!(!verify_signature("s3cret", 1_772_445_600, &sig, br#"{"id":"e2"}"#), "another body");
        assert!(!verify_signature("s3cret", 1_772_445_600, sig.trim_start_matches("sha256="), body), "no scheme");
        assert!(!verify_signature("s3cret", 1_772_445_600, "sha256=zz", body), "not hex");
        assert!(!verify_signature("s3cret", 1_772_445_600, &sig[..sig.len() - 2], body), "truncated");
    }

    #[test]
    fn paths_percent_encode_the_integration_name() {
        assert_eq!(path_for("Main St Epic"), "/webhooks/Main%20St%20Epic");
        assert_eq!(path_for("A/B?C#D"), "/webhooks/A%2FB%3FC%23D");
        assert_eq!(path_for("Clinic"), "/webhooks/Clinic");
    }

    #[test]
    fn timestamps_more_than_five_minutes_off_are_stale() {
        let now = DateTime::from_timestamp(1_772_445_600, 0).unwrap();
        assert!(timestamp_fresh(1_772_445_600, now));
        assert!(timestamp_fresh(1_772_445_600 - 300, now));
        assert!(timestamp_fresh(1_772_445_600 + 300, now));
        assert!(!timestamp_fresh(1_772_445_600 - 301, now));
        assert!(!timestamp_fresh(1_772_445_600 + 301, now));
        assert!(!timestamp_fresh(i64::MIN, now), "no overflow");
    }

    #[test]
    fn secrets_are_64_random_hex_digits() {
        let (a, b) = (generate_secret().unwrap(), generate_secret().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn appointment_events_parse_with_defaults_and_checks() {
        let e = parse_event(&fixture("webhook/appointment-booked.json")).unwrap();
        assert_eq!((e.id.as_str(), e.kind, e.integration.as_str()), ("evt-20260302-0001", EventType::AppointmentBooked, "Main St Epic"));
        assert_eq!(e.occurred_at, DateTime::parse_from_rfc3339("2026-03-02T14:03:11.250Z").unwrap());
        let EventData::Appointment(a) = &e.data else { panic!("{e:?}") };
        assert_eq!(a.slot_id, "1234567");
        assert_eq!(a.span.start, DateTime::parse_from_rfc3339("2026-03-03T14:00:00Z").unwrap(), "-05:00 converted to UTC");
        assert_eq!(a.span.end, DateTime::parse_from_rfc3339("2026-03-03T14:30:00Z").unwrap());
        assert_eq!((a.provider.as_str(), a.location.as_deref(), a.status), ("Dr. Ana Rivera", Some("Main St Clinic"), SlotStatus::Busy));

        let with = |patch: Value| {
            let mut v: Value = serde_json::from_slice(&fixture("webhook/appointment-booked.json")).unwrap();
            for (k, x) in patch.as_object().unwrap() {
                match k.strip_prefix("data.") {
                    Some(d) if x.is_null() => {
                        v["data"].as_object_mut().unwrap().remove(d);
                    }
                    Some(d) => v["data"][d] = x.clone(),
                    None => v[k] = x.clone(),
                }
            }
            parse_event(v.to_string().as_bytes())
        };
        // Cancelled defaults to free; a busy status does not fit it, nor free a booking.
        let c = with(json!({ "type": "APPOINTMENT.CANCELLED", "data.status": null })).unwrap();
        assert!(matches!(c.data, EventData::Appointment(AppointmentData { status: SlotStatus::Free, .. })));
        assert_eq!(with(json!({ "type": "APPOINTMENT.CANCELLED" })).unwrap_err(), "data.status 'busy' does not fit an APPOINTMENT.CANCELLED event");
        assert_eq!(with(json!({ "data.status": "free" })).unwrap_err(), "data.status 'free' does not fit an APPOINTMENT.BOOKED event");
        assert!(with(json!({ "data.status": "busy-tentative" })).is_ok());
        assert!(with(json!({ "data.status": "taken" })).unwrap_err().starts_with("data.status: 'taken' is not a slot status"));
        // Missing and malformed fields are named.
        assert!(with(json!({ "data.slot_id": null })).unwrap_err().contains("missing field `slot_id`"));
        assert_eq!(with(json!({ "data.slot_id": "  " })).unwrap_err(), "data.slot_id is empty");
        assert!(with(json!({ "data.start": "2026-03-03T09:00:00" })).unwrap_err().starts_with("data.start '2026-03-03T09:00:00' is not an RFC 3339 time"));
        assert_eq!(with(json!({ "data.end": "2026-03-03T09:00:00-05:00" })).unwrap_err(), "data.end must be after data.start");
        assert_eq!(with(json!({ "data.end": "2026-03-03T08:30:00-05:00" })).unwrap_err(), "data.end must be after data.start");
        assert!(with(json!({ "type": "APPOINTMENT.MOVED" })).unwrap_err().starts_with("type 'APPOINTMENT.MOVED' is not one of"));
        assert!(with(json!({ "occurred_at": "yesterday" })).unwrap_err().starts_with("occurred_at 'yesterday'"));
        assert_eq!(with(json!({ "id": "x".repeat(201) })).unwrap_err(), "id is longer than 200 characters");
        assert!(parse_event(b"{not json").unwrap_err().starts_with("the body is not a MedHarmony event"));
        // Unknown fields (e.g. a sender's extras) are ignored.
        assert!(with(json!({ "data.extra": 1, "extra": true })).is_ok());
    }

    #[test]
    fn schedule_updated_carries_a_window_of_at_most_a_year() {
        let e = parse_event(&fixture("webhook/schedule-updated.json")).unwrap();
        let EventData::Schedule(w) = e.data else { panic!() };
        assert_eq!((w.start.to_rfc3339(), w.end.to_rfc3339()), ("2026-03-02T05:00:00+00:00".to_string(), "2026-03-09T05:00:00+00:00".to_string()));
        let body = |from: &str, to: &str| {
            json!({ "id": "s", "type": "SCHEDULE.UPDATED", "occurred_at": "2026-03-02T14:00:00Z", "integration": "X", "data": { "from": from, "to": to } })
                .to_string()
        };
        assert_eq!(parse_event(body("2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z").as_bytes()).unwrap_err(), "data.to must be after data.from");
        assert_eq!(parse_event(body("2026-03-02T00:00:00Z", "2026-03-02T00:00:00Z").as_bytes()).unwrap_err(), "data.to must be after data.from");
        assert!(parse_event(body("2026-01-01T00:00:00Z", "2027-01-03T00:00:00Z").as_bytes()).unwrap_err().contains("longer than 366 days"));
        assert!(parse_event(body("2026-01-01T00:00:00Z", "2027-01-02T00:00:00Z").as_bytes()).is_ok());
    }

    #[test]
    fn fhir_id_only_notifications_name_their_resources_and_dedup_key() {
        let n = parse_fhir_notification(&fixture("fhir/r4/subscription-notification-id-only.json")).unwrap();
        assert_eq!(n.kind, "event-notification");
        assert_eq!(n.subscription.as_deref(), Some("https://fhir.example.org/r4/Subscription/slot-changes"));
        assert_eq!(n.event_numbers, ["2"]);
        assert_eq!(n.resources, ["Slot/slot-1", "Appointment/appt-9"]);
        assert_eq!(n.dedup_id().as_deref(), Some("https://fhir.example.org/r4/Subscription/slot-changes#2"));
        assert!(n.needs_resync());

        let hb = parse_fhir_notification(&fixture("fhir/r4/subscription-heartbeat.json")).unwrap();
        assert_eq!((hb.kind.as_str(), hb.resources.len()), ("heartbeat", 0));
        assert!(!hb.needs_resync());
        // A notification about other resources only: nothing to re-read.
        let other = FhirNotification { kind: "event-notification".into(), resources: vec!["Encounter/1".into()], ..Default::default() };
        assert!(!other.needs_resync());
        assert_eq!(other.dedup_id(), None);
        // Full URLs with a version, relative references, urn:uuid ids.
        assert_eq!(type_and_id("https://x.org/fhir/Slot/7/_history/3").as_deref(), Some("Slot/7"));
        assert_eq!(type_and_id("Appointment/a1").as_deref(), Some("Appointment/a1"));
        assert_eq!(type_and_id("urn:uuid:3dd3c88d-1f7c-40ce-bf41-6b0d8186c311"), None);
        // Not a notification.
        assert_eq!(parse_fhir_notification(br#"{"resourceType":"Slot"}"#).unwrap_err(), "the body is not a FHIR Bundle");
        assert!(parse_fhir_notification(br#"{"resourceType":"Bundle","type":"searchset"}"#).unwrap_err().contains("not 'history'"));
        assert!(parse_fhir_notification(br#"{"resourceType":"Bundle","type":"history","entry":[]}"#).unwrap_err().contains("no SubscriptionStatus"));
    }

    #[test]
    fn an_event_keeps_the_cached_references_it_leaves_out() {
        let e = parse_event(&fixture("webhook/appointment-booked.json")).unwrap();
        let EventData::Appointment(mut a) = e.data else { panic!() };
        (a.location, a.location_ref, a.service_type) = (None, None, None);
        let cached = RemoteSlot {
            external_id: "1234567".into(),
            span: a.span,
            status: SlotStatus::Free,
            provider: "Dr. Ana Rivera".into(),
            provider_ref: Some("Practitioner/old".into()),
            location: Some("Elm St".into()),
            location_ref: Some("Location/elm".into()),
            service_type: Some("New patient".into()),
            schedule_ref: Some("Schedule/s1".into()),
            booking: json!({ "version": "4" }),
        };
        let s = a.to_remote_slot(Some(cached));
        assert_eq!(s.status, SlotStatus::Busy);
        assert_eq!(s.provider_ref.as_deref(), Some("Practitioner/998"), "given in the event");
        assert_eq!((s.location.as_deref(), s.location_ref.as_deref(), s.service_type.as_deref()), (Some("Elm St"), Some("Location/elm"), Some("New patient")));
        assert_eq!((s.schedule_ref.as_deref(), s.booking), (Some("Schedule/s1"), json!({ "version": "4" })));
        let fresh = a.to_remote_slot(None);
        assert_eq!((fresh.location, fresh.schedule_ref, fresh.booking), (None, None, Value::Null));
    }
}
