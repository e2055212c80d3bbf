//! Connectors: how MedHarmony Desk reads availability from, and books into,
//! the systems a practice already runs (FHIR R4 EHRs, Oracle Health, Epic,
//! athenahealth, Google Calendar, CalDAV calendars).
//!
//! Every connector implements [`Connector`]:
//! * [`Connector::availability`]: the open slots of a time window, with the
//!   rows that could not be read set aside ([`Quarantined`]) and a verdict on
//!   whether the window was read completely ([`WindowRead::complete`]). Only a
//!   complete window may remove cached slots (see [`crate::store::Store::apply_window`]).
//! * [`Connector::changes_since`]: slots changed after a cursor, where the
//!   server supports it (FHIR `_lastUpdated`, athenahealth's changed-appointments
//!   feed), else `None`.
//! * [`Connector::book`] / [`Connector::cancel`]: write-back.
//!
//! The pure JSON → domain mapping lives in [`fhir::map`]; HTTP (retries,
//! `Retry-After`, token refresh on 401) in [`http`]; authorization in
//! [`crate::auth`].

pub mod athena;
pub mod caldav;
pub mod calendar;
pub mod fhir;
pub mod google;
pub mod http;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::SlotStatus;
use crate::time::Interval;

/// The kinds of system a connector talks to, as stored in `integrations.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntegrationKind {
    /// Any FHIR R4 server with Slot search (HL7 FHIR R4 §12.11, §12.12).
    Fhir,
    /// Oracle Health (Cerner) Millennium FHIR R4.
    OracleHealth,
    /// Epic: STU3 `Appointment/$find` for open times, R4 Appointment search
    /// for cancellations, Argonaut `$book` for booking.
    Epic,
    /// athenahealth athenaOne REST (`/v1/{practiceid}/appointments/open`, changed-data feed).
    Athena,
    /// Google Calendar: busy time from `freeBusy.query`, open slots from working hours.
    GoogleCalendar,
    /// A CalDAV calendar (iCloud, Fastmail, Nextcloud, Radicale; RFC 4791): busy time from
    /// `free-busy-query` or `calendar-query`, open slots from working hours.
    #[serde(rename = "caldav")]
    CalDav,
}

impl IntegrationKind {
    /// The stored and command-line name: `fhir`, `oracle-health`, `epic`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Fhir => "fhir",
            IntegrationKind::OracleHealth => "oracle-health",
            IntegrationKind::Epic => "epic",
            IntegrationKind::Athena => "athena",
            IntegrationKind::GoogleCalendar => "google-calendar",
            IntegrationKind::CalDav => "caldav",
        }
    }

    /// The name staff see, e.g. "Oracle Health".
    pub fn label(self) -> &'static str {
        match self {
            IntegrationKind::Fhir => "FHIR server",
            IntegrationKind::OracleHealth => "Oracle Health",
            IntegrationKind::Epic => "Epic",
            IntegrationKind::Athena => "athenahealth",
            IntegrationKind::GoogleCalendar => "Google Calendar",
            IntegrationKind::CalDav => "CalDAV calendar",
        }
    }

    /// All kinds, in the order the Integrations page shows them.
    pub const ALL: [IntegrationKind; 6] = [
        IntegrationKind::Epic,
        IntegrationKind::OracleHealth,
        IntegrationKind::Athena,
        IntegrationKind::GoogleCalendar,
        IntegrationKind::CalDav,
        IntegrationKind::Fhir,
    ];

    /// True for calendar sources (Google Calendar, CalDAV): they publish busy time, and open
    /// slots are the working hours of [`IntegrationSettings::calendars`] minus it.
    pub fn is_calendar(self) -> bool {
        matches!(self, IntegrationKind::GoogleCalendar | IntegrationKind::CalDav)
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntegrationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fhir" => Ok(IntegrationKind::Fhir),
            "oracle-health" | "oracle" | "cerner" => Ok(IntegrationKind::OracleHealth),
            "epic" => Ok(IntegrationKind::Epic),
            "athena" | "athenahealth" | "athenaone" => Ok(IntegrationKind::Athena),
            "google-calendar" | "google" | "gcal" => Ok(IntegrationKind::GoogleCalendar),
            "caldav" | "icloud" | "fastmail" | "nextcloud" => Ok(IntegrationKind::CalDav),
            other => Err(format!(
                "'{other}' is not a system MedHarmony Desk connects to; use fhir, oracle-health, epic, athena, google-calendar or caldav"
            )),
        }
    }
}

/// One open (or otherwise published) slot read from a source system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteSlot {
    /// The source's id for the slot, stable across reads: for FHIR the Slot's
    /// logical id (`Slot.id`); for Epic `$find` the proposed Appointment's id
    /// (or a key built from its Slot/participants when it has none).
    pub external_id: String,
    /// `[start, end)` UTC, from the resource's instants (which carry offsets).
    pub span: Interval,
    /// FHIR Slot status (`Slot.status`); Epic proposals are `free`.
    pub status: SlotStatus,
    /// The practitioner (or other actor) the slot belongs to, as the desk
    /// names providers: the Practitioner's display name when the source gives
    /// one, else the reference (e.g. `Practitioner/123`).
    pub provider: String,
    /// Reference to the Practitioner / PractitionerRole, if known (`Practitioner/123`).
    pub provider_ref: Option<String>,
    /// Location display name, if the schedule or appointment names one.
    pub location: Option<String>,
    /// Reference to the Location, if known (`Location/456`).
    pub location_ref: Option<String>,
    /// The kind of visit (`Slot.serviceType[0]` text/display/code; not a location).
    pub service_type: Option<String>,
    /// Reference to the Schedule (`Slot.schedule.reference`), if any.
    pub schedule_ref: Option<String>,
    /// What booking needs later and the domain does not model: the FHIR
    /// version id / ETag, or Epic's whole proposed Appointment resource.
    /// Never holds patient data.
    pub booking: serde_json::Value,
}

/// A row the source sent that could not be read safely, set aside instead of
/// guessed (issue "FHIR connectors", data quality).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The resource, e.g. `Slot/123` (or `Slot` with the entry's position when it has no id).
    pub resource: String,
    /// Why, in words staff can read, e.g. "has no end time".
    pub reason: String,
}

/// The outcome of reading one time window from a source.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct WindowRead {
    /// Slots read, de-duplicated by `external_id` (a slot listed twice across
    /// pages keeps the later version).
    pub slots: Vec<RemoteSlot>,
    /// Rows set aside.
    pub quarantined: Vec<Quarantined>,
    /// True only when every page arrived, the paging ended, and the server's
    /// `Bundle.total` (when given) matched what paging delivered.
    pub complete: bool,
    /// Why the window is incomplete, in plain words (`None` when complete).
    pub incomplete_reason: Option<String>,
}

/// A batch of changes since a cursor (FHIR `_lastUpdated`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeBatch {
    /// Slots created or changed since the cursor (a slot now `busy` or
    /// `entered-in-error` is included with that status).
    pub slots: Vec<RemoteSlot>,
    /// Rows set aside.
    pub quarantined: Vec<Quarantined>,
    /// The cursor to pass next time (the server's `Bundle.meta.lastUpdated`,
    /// or the newest `meta.lastUpdated` seen).
    pub cursor: String,
    /// True when every page arrived. Google Calendar: `false` also means the batch cannot stand
    /// on its own and the caller should run a full [`Connector::availability`] read of its window
    /// (sync token expired, HTTP 410; see [`google`]).
    pub complete: bool,
}

/// What booking needs about the slot, from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotToBook {
    /// [`RemoteSlot::external_id`].
    pub external_id: String,
    /// `[start, end)` UTC as cached.
    pub span: Interval,
    /// [`RemoteSlot::provider_ref`].
    pub provider_ref: Option<String>,
    /// [`RemoteSlot::location_ref`].
    pub location_ref: Option<String>,
    /// [`RemoteSlot::booking`].
    pub booking: serde_json::Value,
}

/// A booking the source system accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Booked {
    /// The source's Appointment id (e.g. `Appointment/789` or its logical id).
    pub appointment_id: String,
    /// The Appointment's status as the source returned it (`booked`, `pending`, …).
    pub status: String,
}

/// What can go wrong talking to a source, phrased for staff by `Display`.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The server could not be reached (DNS, refused, TLS, timeout).
    #[error("could not reach {system}: {detail}")]
    Unreachable {
        /// The system's name as staff know it.
        system: String,
        /// The transport's message.
        detail: String,
    },
    /// Sign-in was refused or has expired and could not be renewed.
    #[error("{system} did not accept MedHarmony Desk's sign-in: {detail}. Reconnect it on the Integrations page.")]
    Unauthorized {
        /// The system's name.
        system: String,
        /// The server's words (OperationOutcome or OAuth error description).
        detail: String,
    },
    /// The server answered with an error; `detail` is its OperationOutcome in plain words.
    #[error("{system} answered with an error (HTTP {status}): {detail}")]
    Server {
        /// The system's name.
        system: String,
        /// HTTP status code.
        status: u16,
        /// Plain words from the OperationOutcome, or a short summary of the body.
        detail: String,
    },
    /// The server sent something that is not the JSON it should be (e.g. truncated).
    #[error("{system} sent a reply MedHarmony Desk could not read ({detail})")]
    BadReply {
        /// The system's name.
        system: String,
        /// What was wrong, e.g. "EOF while parsing at line 1 column 812".
        detail: String,
    },
    /// The slot was taken by someone else (or removed) before our booking.
    #[error("This time is no longer available in {system}: someone else booked it. Pick another time.")]
    SlotTaken {
        /// The system's name.
        system: String,
    },
    /// The slot's time was changed at the source since the last sync.
    #[error("This time was changed in {system} since MedHarmony Desk last read it. Sync, then pick the time again.")]
    SlotChanged {
        /// The system's name.
        system: String,
    },
    /// The booking request went out but its answer was lost or unreadable:
    /// the source may or may not have booked the slot.
    #[error("MedHarmony Desk could not confirm whether {system} booked this time ({detail}). Check in {system} before offering this time to anyone else.")]
    BookingUnknown {
        /// The system's name.
        system: String,
        /// What went wrong with the answer.
        detail: String,
    },
    /// The connector does not do this (e.g. cancel on a read-only source).
    #[error("{0}")]
    Unsupported(String),
    /// Authorization could not be set up (missing key, discovery failed, …).
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

/// A source system MedHarmony Desk reads availability from and books into.
///
/// Implementations are blocking (they run on a worker thread, never on the UI thread).
pub trait Connector {
    /// Which kind of system this is.
    fn kind(&self) -> IntegrationKind;

    /// Reads the slots whose start lies in `window` (`[start, end)` UTC).
    ///
    /// # Errors
    /// Only when nothing usable could be read at all (unreachable, refused
    /// sign-in); a failure after some pages is reported as an incomplete
    /// [`WindowRead`] instead.
    fn availability(&mut self, window: Interval) -> Result<WindowRead, ConnectorError>;

    /// Slots changed since `cursor` (an opaque string this connector returned
    /// before; `None` for "start now"), or `Ok(None)` when the server offers no
    /// change query.
    ///
    /// # Errors
    /// As [`Connector::availability`].
    fn changes_since(&mut self, cursor: Option<&str>, now: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError>;

    /// Books `slot` for the patient with the source's id `patient_id`. The slot
    /// is re-read at the source first; a slot no longer free is
    /// [`ConnectorError::SlotTaken`].
    ///
    /// # Errors
    /// [`ConnectorError::SlotTaken`], or any transport / server error.
    fn book(&mut self, slot: &SlotToBook, patient_id: &str) -> Result<Booked, ConnectorError>;

    /// Cancels an appointment this desk booked (`Appointment.status = cancelled`).
    ///
    /// # Errors
    /// [`ConnectorError::Unsupported`] where the source offers no cancellation.
    fn cancel(&mut self, appointment_id: &str) -> Result<(), ConnectorError>;
}


/// An integration's settings as stored in `integrations.settings` (JSON).
/// Never holds a secret: private keys, client secrets and refresh tokens live
/// in the OS keychain ([`crate::auth::Secrets`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationSettings {
    /// FHIR base URL (R4), without a trailing slash, e.g. `https://fhir.example.org/r4`.
    pub base_url: String,
    /// Epic only: the STU3 base URL for `Appointment/$find` and `$book`
    /// (default: `base_url` with a trailing `/R4` replaced by `/STU3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stu3_base_url: Option<String>,
    /// IANA zone given to providers and locations this integration creates
    /// (instants from the server carry their own offsets).
    pub tz: String,
    /// How MedHarmony Desk signs in.
    pub auth: crate::auth::AuthConfig,
    /// FHIR `service-type` tokens to search (`system|code` or `code`); Oracle
    /// Health requires at least one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_types: Vec<String>,
    /// Practitioner references to search (`Practitioner/123`); empty = all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub practitioners: Vec<String>,
    /// Location references to search (`Location/456`); empty = all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// Entries per page (`_count`, default 100; athenahealth `limit`).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// athenahealth only: practice, departments, providers and visit types to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub athena: Option<AthenaSettings>,
    /// Google Calendar and CalDAV only: the calendars read, each one provider's, with the
    /// working hours that turn its busy time into open slots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calendars: Vec<calendar::CalendarSettings>,
}

impl IntegrationSettings {
    /// Settings with only a base URL, zone and sign-in; everything else empty or default.
    pub fn new(base_url: &str, tz: &str, auth: crate::auth::AuthConfig) -> Self {
        IntegrationSettings {
            base_url: base_url.to_string(),
            stu3_base_url: None,
            tz: tz.to_string(),
            auth,
            service_types: Vec::new(),
            practitioners: Vec::new(),
            locations: Vec::new(),
            page_size: default_page_size(),
            athena: None,
            calendars: Vec::new(),
        }
    }
}

/// What an athenahealth integration reads (athenaOne REST API, "Appointment Slot" and
/// "Appointment" references; see [`athena`]). `IntegrationSettings::base_url` is the API host,
/// [`athena::PREVIEW_BASE_URL`] (`https://api.preview.platform.athenahealth.com`) or
/// [`athena::PRODUCTION_BASE_URL`] (`https://api.platform.athenahealth.com`); sign-in is
/// [`crate::auth::AuthConfig::ClientSecret`] with [`athena::token_url`] and [`athena::DEFAULT_SCOPE`].
/// All ids are athenahealth's numeric ids, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AthenaSettings {
    /// athenahealth `practiceid`, e.g. `195900` (the shared preview practice).
    pub practiceid: String,
    /// `departmentid`s to read open slots for (at least one; athenahealth requires one per request).
    pub departmentids: Vec<String>,
    /// `providerid`s to restrict to; empty = every provider of the department. athenahealth
    /// needs them when reading by `reasonid` (any `reasonid` other than `-1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providerids: Vec<String>,
    /// `reasonid`s (patient-facing visit reasons) to read; athenahealth returns nothing
    /// unless a `reasonid` or an `appointmenttypeid` is given. `-1` means "any reason the
    /// practice lets patients book online".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasonids: Vec<String>,
    /// `appointmenttypeid`s to read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appointmenttypeids: Vec<String>,
}

fn default_page_size() -> u32 {
    100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_spelling_in_json_the_database_and_the_command_line() {
        for kind in IntegrationKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::String(kind.as_str().into()), "{kind:?}");
            assert_eq!(serde_json::from_value::<IntegrationKind>(json).unwrap(), kind);
            assert_eq!(kind.as_str().parse::<IntegrationKind>().unwrap(), kind);
        }
        assert_eq!(IntegrationKind::CalDav.as_str(), "caldav");
    }
}
