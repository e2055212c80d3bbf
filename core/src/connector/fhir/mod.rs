//! FHIR connectors: generic R4 and Oracle Health (Cerner) Millennium R4 on
//! [`FhirConnector`], Epic on [`epic::EpicConnector`].
//!
//! Slot search (HL7 FHIR R4 §12.12 Slot, search parameters `schedule`,
//! `status`, `start`, `service-type`; §3.1.1.5.7 `_include`; paging through
//! `Bundle.link[relation=next]`, §3.1.1.6): a window is searched with
//! `start=ge{from}&start=lt{to}` (Slot has no `end` parameter) and
//! `_include=Slot:schedule`, so each slot's Schedule (and through
//! `Schedule.actor` its Practitioner and Location) comes in the same bundle.
//!
//! Oracle Health Millennium R4 (Slot docs): a search needs `_id` or
//! `service-type`; `start` must have both `ge` and `lt`; `schedule.actor` and
//! `-location` take comma-separated lists; only free slots are returned,
//! sorted by start.

pub mod epic;
pub mod map;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::http::{FhirHttp, Reply};
use super::{Booked, ChangeBatch, Connector, ConnectorError, IntegrationKind, IntegrationSettings, Quarantined, RemoteSlot, SlotToBook, WindowRead};
use crate::model::SlotStatus;
use crate::time::Interval;
use map::{AppointmentStyle, ScheduleInfo};

/// Most pages read for one window before it is declared incomplete. When the
/// server gives `Bundle.total`, the cap is tightened to the pages that total
/// needs (at the first page's size) plus 10, so a looping server is stopped
/// early while a large practice's window (2,000 pages of 100 = 200,000 slots)
/// can still be read completely.
pub const PAGE_CAP: usize = 2000;

/// Most Schedules fetched one by one when a server ignored `_include`.
const SCHEDULE_FETCH_CAP: usize = 50;

/// A FHIR R4 server with Slot search: generic, or Oracle Health flavoured.
pub struct FhirConnector {
    http: FhirHttp,
    kind: IntegrationKind,
    base: String,
    settings: IntegrationSettings,
    page_cap: usize,
}

/// `2026-03-04T15:00:00Z`: the form FHIR `instant` search values take here.
pub(crate) fn fhir_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

impl FhirConnector {
    /// A connector for `settings.base_url` speaking as `kind`
    /// ([`IntegrationKind::Fhir`] or [`IntegrationKind::OracleHealth`]).
    pub fn new(kind: IntegrationKind, settings: IntegrationSettings, http: FhirHttp) -> Self {
        let base = settings.base_url.trim_end_matches('/').to_string();
        FhirConnector { http, kind, base, settings, page_cap: PAGE_CAP }
    }

    /// Replaces the page cap (tests).
    pub fn with_page_cap(mut self, cap: usize) -> Self {
        self.page_cap = cap;
        self
    }

    /// The first search URL for `window`.
    pub fn search_url(&self, window: Interval) -> String {
        let mut q = vec![
            format!("start=ge{}", enc(&fhir_instant(window.start))),
            format!("start=lt{}", enc(&fhir_instant(window.end))),
            "_include=Slot:schedule".to_string(),
            format!("_count={}", self.settings.page_size.max(1)),
        ];
        match self.kind {
            IntegrationKind::OracleHealth => {
                q.insert(0, format!("service-type={}", enc(&self.settings.service_types.join(","))));
                if !self.settings.practitioners.is_empty() {
                    q.push(format!("schedule.actor={}", enc(&self.settings.practitioners.join(","))));
                }
                if !self.settings.locations.is_empty() {
                    q.push(format!("-location={}", enc(&self.settings.locations.join(","))));
                }
            }
            _ => {
                q.insert(0, "status=free".to_string());
                for st in &self.settings.service_types {
                    q.push(format!("service-type={}", enc(st)));
                }
                let actors: Vec<&String> = self.settings.practitioners.iter().chain(self.settings.locations.iter()).collect();
                if !actors.is_empty() {
                    q.push(format!("schedule.actor={}", enc(&actors.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","))));
                }
            }
        }
        format!("{}/Slot?{}", self.base, q.join("&"))
    }

    fn system(&self) -> String {
        self.http.system().to_string()
    }

    /// Reads every page from `first`, following `next` links. Returns the
    /// de-duplicated slots (later pages win), quarantined rows, schedules,
    /// warnings and the completeness verdict.
    fn read_pages(&mut self, first: &str) -> Result<Pages, ConnectorError> {
        let mut pages = Pages::default();
        let mut seen_urls: HashSet<String> = HashSet::new();
        let mut url = first.to_string();
        let mut total: Option<u64> = None;
        // Each slot's latest version, read or set aside, in first-seen order:
        // a slot listed again on a later page keeps the later version.
        let mut latest: Vec<Result<RemoteSlot, Quarantined>> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut page_no = 0usize;
        let mut delivered = 0u64;
        let mut cap = self.page_cap;
        loop {
            page_no += 1;
            if page_no > cap {
                pages.incomplete = Some(format!("the server sent more than {cap} pages; stopped reading"));
                break;
            }
            seen_urls.insert(url.clone());
            let reply = match self.http.get(&url) {
                Ok(r) => r,
                Err(e) if page_no == 1 => return Err(e),
                Err(e) => {
                    pages.incomplete = Some(format!("page {page_no} could not be read: {e}"));
                    break;
                }
            };
            let page = match map::slot_page(&reply.body) {
                Ok(p) => p,
                Err(e) if page_no == 1 => return Err(ConnectorError::BadReply { system: self.system(), detail: e.to_string() }),
                Err(e) => {
                    pages.incomplete = Some(format!("page {page_no} could not be read: {e}"));
                    break;
                }
            };
            if page_no == 1 {
                total = page.total;
                if let (Some(t), per_page @ 1..) = (total, page.matches) {
                    cap = cap.min((t as usize).div_ceil(per_page) + 10);
                }
            }
            delivered += page.matches as u64;
            pages.warnings.extend(page.warnings);
            pages.schedules.extend(page.schedules);
            if !page.errors.is_empty() && pages.incomplete.is_none() {
                pages.incomplete = Some(format!("the server reported a problem with the search: {}", page.errors.join("; ")));
            }
            let keyed = page
                .slots
                .into_iter()
                .map(|s| (Some(s.external_id.clone()), Ok(s)))
                .chain(page.quarantined.into_iter().map(|q| (q.resource.strip_prefix("Slot/").map(str::to_string), Err(q))));
            for (key, item) in keyed {
                match key.as_ref().and_then(|k| index.get(k)) {
                    Some(&i) => latest[i] = item,
                    None => {
                        if let Some(k) = key {
                            index.insert(k, latest.len());
                        }
                        latest.push(item);
                    }
                }
            }
            match page.next.map(|n| self.absolute(&url, &n)) {
                None => break,
                Some(None) => {
                    pages.incomplete = Some("the server's link to the next page points to another server; stopped reading".to_string());
                    break;
                }
                Some(Some(next)) if seen_urls.contains(&next) => {
                    pages.incomplete = Some("the server's page links go round in a circle".to_string());
                    break;
                }
                Some(Some(next)) => url = next,
            }
        }
        for item in latest {
            match item {
                Ok(slot) => pages.slots.push(slot),
                Err(q) => pages.quarantined.push(q),
            }
        }
        if pages.incomplete.is_none() {
            if let Some(t) = total {
                // Bundle.total counts matches; a slot listed on two pages counts twice here too.
                if t != delivered {
                    pages.incomplete = Some(format!("the server said it had {t} slots but sent {delivered}"));
                }
            }
        }
        Ok(pages)
    }

    /// The next-page link as an absolute URL (a relative one is resolved
    /// against the page it came from), or `None` when it leads to another
    /// origin: the bearer token is only ever sent to the integration's own server.
    fn absolute(&self, current: &str, next: &str) -> Option<String> {
        let base = url::Url::parse(&self.base).ok()?;
        let next = url::Url::parse(current).ok()?.join(next).ok()?;
        (next.origin() == base.origin()).then(|| next.to_string())
    }

    /// Fetches Schedules the bundle referenced but did not include.
    fn fill_schedules(&mut self, pages: &mut Pages) {
        let missing = map::missing_schedules(&pages.slots, &pages.schedules);
        for reference in missing.into_iter().take(SCHEDULE_FETCH_CAP) {
            let url = format!("{}/{}", self.base, reference);
            match self.http.get(&url) {
                Ok(Reply { body, .. }) => {
                    if let Some(info) = map::schedule_info(&body) {
                        pages.schedules.insert(reference, info);
                    }
                }
                Err(e) => tracing::warn!(system = %self.http.system(), error = %e, "a slot's schedule could not be read"),
            }
        }
    }

    /// Names slots whose Schedule gave only a Practitioner reference, by
    /// reading those Practitioners (at most [`SCHEDULE_FETCH_CAP`]). A
    /// Practitioner that cannot be read leaves its reference as the name.
    fn name_practitioners(&mut self, slots: &mut [RemoteSlot]) {
        let mut names: HashMap<String, String> = HashMap::new();
        for reference in map::unnamed_practitioners(slots).into_iter().take(SCHEDULE_FETCH_CAP) {
            let url = self.resource_url(&reference);
            match self.http.get(&url) {
                Ok(reply) => {
                    if let Some(name) = map::practitioner_name(&reply.body) {
                        names.insert(reference, name);
                    }
                }
                Err(e) => tracing::warn!(system = %self.http.system(), error = %e, "a practitioner's name could not be read"),
            }
        }
        for s in slots.iter_mut() {
            if let Some(name) = names.get(&s.provider) {
                s.provider = name.clone();
            }
        }
    }

    fn resource_url(&self, reference: &str) -> String {
        if reference.starts_with("http://") || reference.starts_with("https://") {
            reference.to_string()
        } else {
            format!("{}/{}", self.base, reference.trim_start_matches('/'))
        }
    }
}

#[derive(Default)]
struct Pages {
    slots: Vec<RemoteSlot>,
    quarantined: Vec<Quarantined>,
    schedules: HashMap<String, ScheduleInfo>,
    warnings: Vec<String>,
    incomplete: Option<String>,
}

impl FhirConnector {
    /// True when the server already has an active Appointment for `Slot/<slot_id>` (R4 Appointment
    /// search parameter `slot`, with every status that holds a slot). A server whose Slot status
    /// lags behind its Appointments (many generic FHIR servers leave `Slot.status` to the client)
    /// would otherwise let two desks book one slot. A server that cannot answer the search
    /// (an error) is not held against the booking: the Slot re-read already passed.
    fn slot_has_appointment(&mut self, slot_id: &str) -> Result<bool, ConnectorError> {
        let url = format!(
            "{}/Appointment?slot={}&status=proposed,pending,booked,arrived,fulfilled,checked-in,waitlist&_count=1",
            self.base,
            enc(&format!("Slot/{slot_id}"))
        );
        match self.http.get(&url) {
            Ok(reply) => Ok(map::search_has_match(&reply.body)),
            Err(e @ (ConnectorError::Unauthorized { .. } | ConnectorError::Unreachable { .. })) => Err(e),
            Err(e) => {
                tracing::info!(error = %e, "the server could not search Appointments by slot; booking on the Slot's own status");
                Ok(false)
            }
        }
    }

    /// After a booking on a generic FHIR server, sets the Slot `busy` (FHIR R4 §12.11: the
    /// scheduler keeps `Slot.status` in step with Appointments; servers that do not do it
    /// themselves would keep offering the slot). `If-Match` the version read before booking, so
    /// a Slot the server changed meanwhile is left alone. Failures are logged only: the
    /// booking itself stands.
    fn mark_slot_busy(&mut self, url: &str, mut slot: Value, etag: Option<&str>) {
        if slot.get("resourceType").and_then(Value::as_str) != Some("Slot") || slot.get("status").and_then(Value::as_str) != Some("free") {
            return;
        }
        slot["status"] = Value::String("busy".into());
        if let Err(e) = self.http.put(url, &slot, etag) {
            tracing::info!(error = %e, "the booked Slot could not be marked busy at the source");
        }
    }
}

impl Connector for FhirConnector {
    fn kind(&self) -> IntegrationKind {
        self.kind
    }

    fn availability(&mut self, window: Interval) -> Result<WindowRead, ConnectorError> {
        if self.kind == IntegrationKind::OracleHealth && self.settings.service_types.is_empty() {
            return Err(ConnectorError::Unsupported(
                "Oracle Health only lists open times for a visit type: add at least one visit type (service-type) to this connection".into(),
            ));
        }
        let url = self.search_url(window);
        let mut pages = self.read_pages(&url)?;
        self.fill_schedules(&mut pages);
        map::resolve(&mut pages.slots, &pages.schedules);
        self.name_practitioners(&mut pages.slots);
        pages.slots.retain(|s| window.start <= s.span.start && s.span.start < window.end);
        for w in &pages.warnings {
            tracing::info!(system = %self.http.system(), warning = %w, "the server added a note to its search result");
        }
        Ok(WindowRead { slots: pages.slots, quarantined: pages.quarantined, complete: pages.incomplete.is_none(), incomplete_reason: pages.incomplete })
    }

    fn changes_since(&mut self, cursor: Option<&str>, now: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
        if self.kind == IntegrationKind::OracleHealth {
            return Ok(None); // Oracle Health's Slot search takes no _lastUpdated.
        }
        let Some(cursor) = cursor else {
            return Ok(Some(ChangeBatch { slots: vec![], quarantined: vec![], cursor: fhir_instant(now), complete: true }));
        };
        let url = format!(
            "{}/Slot?_lastUpdated=gt{}&_include=Slot:schedule&_count={}",
            self.base,
            enc(cursor),
            self.settings.page_size.max(1)
        );
        let mut pages = self.read_pages(&url)?;
        self.fill_schedules(&mut pages);
        map::resolve(&mut pages.slots, &pages.schedules);
        self.name_practitioners(&mut pages.slots);
        // The next cursor is our clock at the start of this read, so nothing
        // written while we paged is missed (a change may be read twice, which an upsert absorbs).
        Ok(Some(ChangeBatch { slots: pages.slots, quarantined: pages.quarantined, cursor: fhir_instant(now), complete: pages.incomplete.is_none() }))
    }

    fn book(&mut self, slot: &SlotToBook, patient_id: &str) -> Result<Booked, ConnectorError> {
        let system = self.system();
        // Re-read the slot: someone may have booked it since our last sync.
        // Oracle Health reads a booked slot only through a search by `_id`
        // (a direct read of it fails); an empty result means it is gone.
        let url = match self.kind {
            IntegrationKind::OracleHealth => format!("{}/Slot?_id={}", self.base, enc(&slot.external_id)),
            _ => self.resource_url(&format!("Slot/{}", enc(&slot.external_id))),
        };
        let current = match self.http.get(&url) {
            Ok(r) => r,
            Err(ConnectorError::Server { status: 404 | 410, .. }) => return Err(ConnectorError::SlotTaken { system }),
            Err(e) => return Err(e),
        };
        // The slot as the source has it now: still free, and still at the time staff were shown?
        let now_there = match map::current_slot(&current.body) {
            Ok(Some(resource)) => map::remote_slot(resource, 1).map_err(|q| ConnectorError::BadReply { system: system.clone(), detail: q.reason })?,
            Ok(None) => return Err(ConnectorError::SlotTaken { system }),
            Err(e) => return Err(ConnectorError::BadReply { system, detail: e.to_string() }),
        };
        if now_there.status != SlotStatus::Free {
            return Err(ConnectorError::SlotTaken { system });
        }
        if now_there.span != slot.span {
            return Err(ConnectorError::SlotChanged { system });
        }
        let style = if self.kind == IntegrationKind::OracleHealth { AppointmentStyle::OracleHealth } else { AppointmentStyle::Generic };
        if style == AppointmentStyle::Generic && self.slot_has_appointment(&slot.external_id)? {
            return Err(ConnectorError::SlotTaken { system });
        }
        let body = map::r4_appointment(slot, patient_id, style);
        let reply = self.http.post(&format!("{}/Appointment", self.base), &body);
        let booked = booking_outcome(reply, &system)?;
        if style == AppointmentStyle::Generic {
            self.mark_slot_busy(&url, current.body, current.etag.as_deref());
        }
        Ok(booked)
    }

    fn cancel(&mut self, appointment_id: &str) -> Result<(), ConnectorError> {
        let system = self.system();
        let url = self.resource_url(appointment_id);
        let current = self.http.get(&url)?;
        let mut appt = current.body;
        if appt.get("resourceType").and_then(Value::as_str) != Some("Appointment") {
            return Err(ConnectorError::BadReply { system, detail: "the record read back is not an Appointment".into() });
        }
        appt["status"] = Value::String("cancelled".into());
        self.http.put(&url, &appt, current.etag.as_deref())?;
        Ok(())
    }
}

/// What a booking request's reply means. A refusal (409/412: taken; other
/// 4xx/5xx: refused with the server's words; an Appointment that came back
/// `cancelled`) is certain. A request that went out but whose answer was lost
/// (a timeout, a broken connection) or unreadable (a 2xx whose body names no
/// Appointment) is [`ConnectorError::BookingUnknown`]: the source may have
/// booked it, so the desk must not offer the time again before staff check.
fn booking_outcome(reply: Result<Reply, ConnectorError>, system: &str) -> Result<Booked, ConnectorError> {
    let unknown = |detail: String| ConnectorError::BookingUnknown { system: system.to_string(), detail };
    let reply = match reply {
        Ok(r) => r,
        Err(ConnectorError::Server { status: 409 | 412, .. }) => return Err(ConnectorError::SlotTaken { system: system.to_string() }),
        Err(ConnectorError::Unreachable { detail, .. } | ConnectorError::BadReply { detail, .. }) => return Err(unknown(detail)),
        Err(e) => return Err(e),
    };
    if !reply.body.is_null() {
        return match map::booked(&reply.body) {
            Ok(b) => Ok(b),
            Err(map::MapError::BookingRejected(why)) => Err(ConnectorError::Server { system: system.to_string(), status: reply.status, detail: why }),
            Err(e) => Err(unknown(e.to_string())),
        };
    }
    match reply.location.as_deref().and_then(map::appointment_id_from_location) {
        Some(appointment_id) => Ok(Booked { appointment_id, status: "booked".into() }),
        None => Err(unknown("the reply names no appointment".into())),
    }
}
