//! Pure mapping from FHIR JSON (R4 Slot/Schedule bundles, STU3 `$find`
//! results, R4 Appointment searches, OperationOutcome) to the domain.
//! No I/O: every function here is tested on the payloads in `fixtures/fhir/`.
//!
//! INTERFACE STUB: the signatures below are the contract the connectors use;
//! bodies are filled in by the mapping work.

use std::collections::HashMap;

use serde_json::Value;

use crate::connector::{Quarantined, RemoteSlot};

/// What a Schedule tells about its slots (FHIR R4 §12.11 `Schedule.actor`).
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

/// A Slot as read from one page, before its Schedule is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct PageSlot {
    /// The slot with `provider`/`location` still unresolved (set from the schedule by [`resolve`]).
    pub slot: RemoteSlot,
}

/// One page of a Slot search (`Bundle` of type `searchset`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlotPage {
    /// Slots of `search.mode = match` (or without a mode), in page order.
    pub slots: Vec<RemoteSlot>,
    /// Slot entries set aside (no `end`, an instant without offset, no id, end not after start, unknown status).
    pub quarantined: Vec<Quarantined>,
    /// Schedules found on the page (`search.mode = include`), keyed by `Schedule/<id>`.
    pub schedules: HashMap<String, ScheduleInfo>,
    /// `Bundle.link[relation=next].url`, if any.
    pub next: Option<String>,
    /// `Bundle.total`, if given.
    pub total: Option<u64>,
    /// Number of match entries on this page (read or quarantined).
    pub matches: usize,
}
