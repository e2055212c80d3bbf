//! athenahealth (athenaOne REST API) connector: open slots, the changed-appointments
//! feed, booking and cancelling. The pure JSON → domain mapping lives in [`map`].
//!
//! Followed (athenahealth Developer Portal):
//! * "Authentication and URL Locations", "Token Endpoint": 2-legged OAuth, client
//!   credentials with the client ID and secret in an HTTP Basic header, posted to
//!   `{base}/oauth2/v1/token` ([`token_url`]) with scope [`DEFAULT_SCOPE`]. Hosts:
//!   [`PREVIEW_BASE_URL`] (sandbox, practice 195900) and [`PRODUCTION_BASE_URL`]. A token
//!   lives an hour; token requests are limited (5 a minute in preview, 50 in production,
//!   HTTP 429 beyond), so the token is cached by [`crate::auth::TokenManager`].
//!   Set [`IntegrationSettings::auth`] to [`crate::auth::AuthConfig::ClientSecret`]
//!   `{ client_id, token_url: token_url(base), scope: DEFAULT_SCOPE }`.
//! * "Appointment Slot" → `GET /v1/{practiceid}/appointments/open`: `departmentid` (required),
//!   `reasonid` or `appointmenttypeid` (one is needed or nothing comes back; a `reasonid` other
//!   than `-1` also needs `providerid`), `providerid` (comma-separated), `startdate` / `enddate`
//!   (`MM/DD/YYYY`, inclusive), `limit` / `offset`; the reply pages with `next` and counts with
//!   `totalcount`. `bypassscheduletimechecks=true` is sent: without it athenahealth hides the
//!   next 24 hours (and days past 90) — rules for patients booking online, not for a front
//!   desk — and a "complete" read would then remove those cached slots.
//! * "Appointment" → `PUT /v1/{practiceid}/appointments/{appointmentid}` (book; form body
//!   `patientid`, `reasonid` or `appointmenttypeid`, `departmentid`), `PUT …/{appointmentid}/cancel`
//!   (form body `patientid`, `cancellationreason`), `GET …/{appointmentid}`.
//! * "Changed Data Subscriptions" → `POST /v1/{practiceid}/appointments/changed/subscription`
//!   (all events: ScheduleAppointment, CancelAppointment, AddAppointmentSlot, …;
//!   `departmentids`), `GET /v1/{practiceid}/appointments/changed` (each change is delivered
//!   once: athenahealth marks it processed). Before a subscription exists the feed answers
//!   HTTP 403 "Changed messages require setup (subscription) that has not been done.";
//!   subscription changes take up to 5 minutes (production) to apply.
//! * Errors come as `{"error": "...", "detailedmessage": "..."}` and are shown in those words
//!   ([`crate::connector::http::athena_error_text`]); booking a time already taken is HTTP 409.
//!   HTTP 429 is retried after `Retry-After` by [`FhirHttp`]. (An HTTP 403 "Over QPS" throttle
//!   was a feature of athenahealth's retired Mashery gateway and is not documented for the
//!   current platform, so it is not treated as a throttle.)

pub mod map;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::http::{FhirHttp, Reply};
use super::{AthenaSettings, Booked, ChangeBatch, Connector, ConnectorError, IntegrationKind, IntegrationSettings, Quarantined, RemoteSlot, SlotToBook, WindowRead};
use crate::time::{parse_iana, Interval, Zone};
use map::{DepartmentInfo, RowContext, Visit};

/// athenahealth's preview (sandbox) API host.
pub const PREVIEW_BASE_URL: &str = "https://api.preview.platform.athenahealth.com";

/// athenahealth's production API host.
pub const PRODUCTION_BASE_URL: &str = "https://api.platform.athenahealth.com";

/// The OAuth scope of 2-legged athenaOne API access.
pub const DEFAULT_SCOPE: &str = "athena/service/Athenanet.MDP.*";

/// The change-feed cursor prefix. A cursor is `athena-changed-v1;polled=<RFC 3339 UTC>`:
/// athenahealth keeps the feed's position itself (a change is delivered once, then marked
/// processed), so the cursor only records that this connector subscribed and when it last
/// polled. Any non-`None` cursor means "subscribed".
pub const CURSOR_PREFIX: &str = "athena-changed-v1";

/// Most pages read for one request before the read is declared incomplete; tightened to what
/// `totalcount` needs (at the first page's size) plus 10 when athenahealth gives it.
pub const PAGE_CAP: usize = 2000;

/// Most providers whose names are looked up in one read.
const LOOKUP_CAP: usize = 50;

/// The text athenahealth's changed feed answers (HTTP 403) before a subscription exists.
const SUBSCRIPTION_MISSING: &str = "subscription";

/// The `cancellationreason` sent with a cancellation.
pub const CANCELLATION_REASON: &str = "Cancelled at the front desk in MedHarmony Desk";

/// The token endpoint of an athenahealth API host: `{base_url}/oauth2/v1/token`, e.g.
/// `https://api.preview.platform.athenahealth.com/oauth2/v1/token`.
pub fn token_url(base_url: &str) -> String {
    format!("{}/oauth2/v1/token", base_url.trim().trim_end_matches('/'))
}

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// True for an athenahealth numeric id (`practiceid`, `departmentid`, …); `-1` is allowed
/// (the "any reason" `reasonid`).
fn is_id(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// athenahealth athenaOne: open slots of the configured departments and visits,
/// the changed-appointments feed, booking and cancelling.
pub struct AthenaConnector {
    http: FhirHttp,
    base: String,
    athena: AthenaSettings,
    fallback_zone: Zone,
    page_size: u32,
    page_cap: usize,
    departments: HashMap<String, DepartmentInfo>,
    providers: HashMap<String, Option<String>>,
}

/// Rows of one request, read across its pages.
#[derive(Default)]
struct RawRows {
    rows: Vec<Value>,
    incomplete: Option<String>,
}

/// Slots and set-aside rows of a read, de-duplicated by `appointmentid` (the later version wins).
#[derive(Default)]
struct Collected {
    latest: Vec<Result<RemoteSlot, Quarantined>>,
    index: HashMap<String, usize>,
}

impl Collected {
    fn push(&mut self, item: Result<RemoteSlot, Quarantined>) {
        let key = match &item {
            Ok(s) => Some(s.external_id.clone()),
            Err(q) => q.resource.strip_prefix("appointmentid ").map(str::to_string),
        };
        match key.as_ref().and_then(|k| self.index.get(k)) {
            Some(&i) => self.latest[i] = item,
            None => {
                if let Some(k) = key {
                    self.index.insert(k, self.latest.len());
                }
                self.latest.push(item);
            }
        }
    }

    fn split(self) -> (Vec<RemoteSlot>, Vec<Quarantined>) {
        let mut slots = Vec::new();
        let mut quarantined = Vec::new();
        for item in self.latest {
            match item {
                Ok(s) => slots.push(s),
                Err(q) => quarantined.push(q),
            }
        }
        (slots, quarantined)
    }
}

impl AthenaConnector {
    /// A connector for `settings` (kind [`IntegrationKind::Athena`]): `settings.base_url` is the
    /// API host ([`PREVIEW_BASE_URL`] or [`PRODUCTION_BASE_URL`]), `settings.athena` names the
    /// practice, departments, providers and visits, `settings.tz` is the zone used for a
    /// department whose `timezonename` athenahealth does not give, `settings.page_size` is `limit`.
    /// `http` signs requests (see the module documentation for the sign-in settings).
    ///
    /// # Errors
    /// [`ConnectorError::Unsupported`] with a message for staff when the settings cannot work:
    /// no athenahealth settings, a `practiceid` / `departmentid` / `providerid` / `reasonid` /
    /// `appointmenttypeid` that is not a number, no department, neither a `reasonid` nor an
    /// `appointmenttypeid`, a `reasonid` other than `-1` without a `providerid` (athenahealth
    /// requires one), a zone that is not an IANA name, a base URL that is not a web address.
    pub fn new(settings: IntegrationSettings, http: FhirHttp) -> Result<Self, ConnectorError> {
        let bad = |m: String| Err(ConnectorError::Unsupported(m));
        let Some(mut athena) = settings.athena.clone() else {
            return bad("This athenahealth connection has no practice settings: add the practice ID (practiceid), at least one department (departmentid) and a visit reason (reasonid) or appointment type (appointmenttypeid).".into());
        };
        let base = settings.base_url.trim().trim_end_matches('/').to_string();
        match url::Url::parse(&base) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => {}
            _ => return bad(format!("The athenahealth address '{base}' is not a web address; use {PRODUCTION_BASE_URL} or {PREVIEW_BASE_URL}.")),
        }
        athena.practiceid = athena.practiceid.trim().to_string();
        for list in [&mut athena.departmentids, &mut athena.providerids, &mut athena.reasonids, &mut athena.appointmenttypeids] {
            *list = list.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        }
        if !is_id(&athena.practiceid) || athena.practiceid.starts_with('-') {
            return bad(format!("The athenahealth practice ID '{}' is not a number (e.g. 195900 for the preview practice).", athena.practiceid));
        }
        let named = [("department ID", &athena.departmentids), ("provider ID", &athena.providerids), ("appointment type ID", &athena.appointmenttypeids)];
        for (what, list) in named {
            if let Some(v) = list.iter().find(|v| !is_id(v) || v.starts_with('-')) {
                return bad(format!("The athenahealth {what} '{v}' is not a number."));
            }
        }
        if let Some(v) = athena.reasonids.iter().find(|v| !is_id(v)) {
            return bad(format!("The athenahealth visit reason ID '{v}' is not a number."));
        }
        if athena.departmentids.is_empty() {
            return bad("athenahealth lists open times per department: add at least one department ID (departmentid) to this connection.".into());
        }
        if athena.reasonids.is_empty() && athena.appointmenttypeids.is_empty() {
            return bad("athenahealth lists open times only for a visit reason (reasonid) or an appointment type (appointmenttypeid): add at least one to this connection.".into());
        }
        if athena.providerids.is_empty() && athena.reasonids.iter().any(|r| r != "-1") {
            return bad("athenahealth lists open times for a visit reason (reasonid) only together with a provider: add the provider IDs (providerid) to this connection, or use appointment types instead.".into());
        }
        let Some(tz) = parse_iana(&settings.tz) else {
            return bad(format!("The time zone '{}' of this athenahealth connection is not a time zone name such as America/New_York.", settings.tz));
        };
        Ok(AthenaConnector {
            http,
            base,
            athena,
            fallback_zone: Zone::Iana(tz),
            page_size: settings.page_size.max(1),
            page_cap: PAGE_CAP,
            departments: HashMap::new(),
            providers: HashMap::new(),
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

    /// `{base}/v1/{practiceid}{path}`.
    fn api(&self, path: &str) -> String {
        format!("{}/v1/{}{}", self.base, self.athena.practiceid, path)
    }

    /// The visits asked for: each `reasonid`, then each `appointmenttypeid`.
    fn visits(&self) -> Vec<Visit> {
        self.athena.reasonids.iter().map(|r| Visit::Reason(r.clone())).chain(self.athena.appointmenttypeids.iter().map(|t| Visit::Type(t.clone()))).collect()
    }

    /// The first URL of an open-slot search: `departmentid`, the visit's `reasonid` or
    /// `appointmenttypeid`, `providerid` (comma-separated, when given), `startdate`, `enddate`
    /// (`MM/DD/YYYY`, inclusive), `bypassscheduletimechecks=true` and `limit`.
    pub fn open_url(&self, departmentid: &str, visit: &Visit, providerids: &[String], startdate: &str, enddate: &str) -> String {
        let (param, id) = visit.param();
        let mut q = vec![format!("departmentid={}", enc(departmentid)), format!("{param}={}", enc(id))];
        if !providerids.is_empty() {
            q.push(format!("providerid={}", enc(&providerids.join(","))));
        }
        q.push(format!("startdate={}", enc(startdate)));
        q.push(format!("enddate={}", enc(enddate)));
        q.push("bypassscheduletimechecks=true".into());
        q.push(format!("limit={}", self.page_size));
        format!("{}?{}", self.api("/appointments/open"), q.join("&"))
    }

    /// The department's name and zone, read once per connector
    /// (`GET /v1/{practiceid}/departments/{departmentid}`). A department athenahealth will not
    /// show (HTTP 403 or 404) gets the integration's zone and a placeholder name, with a log line.
    fn department(&mut self, departmentid: &str) -> Result<DepartmentInfo, ConnectorError> {
        if let Some(info) = self.departments.get(departmentid) {
            return Ok(info.clone());
        }
        let url = self.api(&format!("/departments/{}", enc(departmentid)));
        let info = match self.http.get(&url) {
            Ok(reply) => map::department(&reply.body).map_err(|e| ConnectorError::BadReply { system: self.system(), detail: e.to_string() })?,
            Err(ConnectorError::Server { status: status @ (403 | 404), .. }) => {
                tracing::warn!(system = %self.http.system(), departmentid, status, "department not readable; using the connection's time zone");
                DepartmentInfo { departmentid: departmentid.to_string(), name: None, zone: None }
            }
            Err(e) => return Err(e),
        };
        if info.zone.is_none() {
            tracing::info!(system = %self.http.system(), departmentid, zone = %self.fallback_zone, "department has no time zone name; using the connection's");
        }
        self.departments.insert(departmentid.to_string(), info.clone());
        Ok(info)
    }

    fn zone_of(&self, info: &DepartmentInfo) -> Zone {
        info.zone.map(Zone::Iana).unwrap_or_else(|| self.fallback_zone.clone())
    }

    /// Reads every page of a list request from `first`, following `next`. An error on the first
    /// page is returned; one on a later page makes the read incomplete.
    fn read_rows(&mut self, first: &str) -> Result<RawRows, ConnectorError> {
        let mut out = RawRows::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut url = first.to_string();
        let mut page_no = 0usize;
        let mut cap = self.page_cap;
        let mut total: Option<u64> = None;
        loop {
            page_no += 1;
            if page_no > cap {
                out.incomplete = Some(format!("athenahealth sent more than {cap} pages; stopped reading"));
                break;
            }
            seen.insert(url.clone());
            let page = match self.http.get(&url).and_then(|r| map::rows_page(&r.body).map_err(|e| ConnectorError::BadReply { system: self.system(), detail: e.to_string() })) {
                Ok(p) => p,
                Err(e) if page_no == 1 => return Err(e),
                Err(e) => {
                    out.incomplete = Some(format!("page {page_no} could not be read: {e}"));
                    break;
                }
            };
            if page_no == 1 {
                total = page.totalcount;
                if let (Some(t), per_page @ 1..) = (total, page.rows.len()) {
                    cap = cap.min((t as usize).div_ceil(per_page) + 10);
                }
            }
            out.rows.extend(page.rows);
            match page.next.map(|n| self.next_url(&url, &n)) {
                None => break,
                Some(None) => {
                    out.incomplete = Some("athenahealth's link to the next page points to another server; stopped reading".into());
                    break;
                }
                Some(Some(next)) if seen.contains(&next) => {
                    out.incomplete = Some("athenahealth's page links go round in a circle".into());
                    break;
                }
                Some(Some(next)) => url = next,
            }
        }
        if out.incomplete.is_none() {
            if let Some(t) = total {
                if t != out.rows.len() as u64 {
                    out.incomplete = Some(format!("athenahealth said it had {t} appointments but sent {}", out.rows.len()));
                }
            }
        }
        Ok(out)
    }

    /// The `next` link as an absolute URL on the integration's own host: athenahealth gives a
    /// path from the host (`/v1/195900/appointments/open?…&offset=100`), which is put after the
    /// configured base; other relative links resolve against the current page; an absolute link
    /// to another origin is refused (`None`), so the token only goes to the integration's host.
    fn next_url(&self, current: &str, next: &str) -> Option<String> {
        if next.starts_with("/v1/") {
            return Some(format!("{}{}", self.base, next));
        }
        let base = url::Url::parse(&self.base).ok()?;
        let joined = url::Url::parse(current).ok()?.join(next).ok()?;
        (joined.origin() == base.origin()).then(|| joined.to_string())
    }

    /// Gives slots their providers' names (`GET /v1/{practiceid}/providers/{providerid}`, each
    /// provider once per connector, at most [`LOOKUP_CAP`] per read). A provider that cannot be
    /// read keeps the `athenahealth provider <id>` name.
    fn name_providers(&mut self, slots: &mut [RemoteSlot]) {
        for providerid in map::unnamed_providers(slots).into_iter().take(LOOKUP_CAP) {
            if self.providers.contains_key(&providerid) {
                continue;
            }
            let url = self.api(&format!("/providers/{}", enc(&providerid)));
            let name = match self.http.get(&url) {
                Ok(reply) => map::provider_name(&reply.body),
                Err(e) => {
                    tracing::warn!(system = %self.http.system(), providerid, error = %e, "a provider's name could not be read");
                    None
                }
            };
            self.providers.insert(providerid, name);
        }
        let names: HashMap<String, String> = self.providers.iter().filter_map(|(k, v)| v.clone().map(|n| (k.clone(), n))).collect();
        map::name_providers(slots, &names);
    }

    fn map_rows(&self, rows: &[Value], info: &DepartmentInfo, visit: Option<&Visit>, into: &mut Collected) {
        let zone = self.zone_of(info);
        let ctx = RowContext { zone: &zone, department_name: info.name.as_deref(), visit, known_reasons: &self.athena.reasonids };
        for (i, row) in rows.iter().enumerate() {
            into.push(map::remote_slot(row, i + 1, &ctx));
        }
    }

    /// Subscribes to every event of the appointments changed feed for the configured departments
    /// (`POST /v1/{practiceid}/appointments/changed/subscription`, form `departmentids`).
    fn subscribe(&mut self) -> Result<(), ConnectorError> {
        let url = self.api("/appointments/changed/subscription");
        let departments = self.athena.departmentids.join(",");
        self.http.send_form("POST", &url, &[("departmentids", departments.as_str())])?;
        tracing::info!(system = %self.http.system(), "subscribed to athenahealth's appointment changes");
        Ok(())
    }

    /// Whether the slot is still in athenahealth's open list for its date, department and visit;
    /// `Some(slot as athenahealth has it now)` or `None`.
    fn reread(&mut self, booking: &Value, appointmentid: &str) -> Result<Option<RemoteSlot>, ConnectorError> {
        let system = self.system();
        let field = |k: &str| booking.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(departmentid), Some(date)) = (field("departmentid"), field("date")) else {
            return Err(ConnectorError::BadReply { system, detail: "the cached slot lacks its athenahealth department or date; sync, then pick the time again".into() });
        };
        let visit = match (field("reasonid"), field("appointmenttypeid")) {
            (Some(r), _) => Visit::Reason(r),
            (None, Some(t)) => Visit::Type(t),
            (None, None) => return Err(ConnectorError::BadReply { system, detail: "the cached slot names no visit reason or appointment type; sync, then pick the time again".into() }),
        };
        let providers: Vec<String> = field("providerid").into_iter().collect();
        let info = self.department(&departmentid)?;
        let url = self.open_url(&departmentid, &visit, &providers, &date, &date);
        let rows = match self.read_rows(&url) {
            Ok(r) => r,
            Err(ConnectorError::Server { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut found = Collected::default();
        let matching: Vec<Value> = rows.rows.into_iter().filter(|r| r.get("appointmentid").and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_u64().map(|n| n.to_string()))).as_deref() == Some(appointmentid)).collect();
        self.map_rows(&matching, &info, Some(&visit), &mut found);
        let (slots, _) = found.split();
        Ok(slots.into_iter().next())
    }
}

impl Connector for AthenaConnector {
    fn kind(&self) -> IntegrationKind {
        IntegrationKind::Athena
    }

    /// One `GET /appointments/open` (with its pages) per `departmentid` × visit (each `reasonid`,
    /// each `appointmenttypeid`), for the department-local dates that cover `window`; slots whose
    /// start lies outside `window` are dropped. A department or request that fails after the
    /// first makes the read incomplete (nothing cached is removed then).
    fn availability(&mut self, window: Interval) -> Result<WindowRead, ConnectorError> {
        let mut collected = Collected::default();
        let mut incomplete: Option<String> = None;
        let mut first_error: Option<ConnectorError> = None;
        let mut any_read = false;
        let departmentids = self.athena.departmentids.clone();
        let providerids = self.athena.providerids.clone();
        for departmentid in &departmentids {
            let info = match self.department(departmentid) {
                Ok(i) => i,
                Err(e @ (ConnectorError::Unauthorized { .. } | ConnectorError::Auth(_))) => return Err(e),
                Err(e) => {
                    incomplete.get_or_insert(format!("department {departmentid} could not be read: {e}"));
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let Some((from, to)) = map::local_dates(window, &self.zone_of(&info)) else { continue };
            let (startdate, enddate) = (map::fmt_date(from), map::fmt_date(to));
            for visit in self.visits() {
                let (param, id) = visit.param();
                let url = self.open_url(departmentid, &visit, &providerids, &startdate, &enddate);
                match self.read_rows(&url) {
                    Ok(rows) => {
                        any_read = true;
                        if let Some(why) = rows.incomplete {
                            incomplete.get_or_insert(format!("department {departmentid}, {param} {id}: {why}"));
                        }
                        self.map_rows(&rows.rows, &info, Some(&visit), &mut collected);
                    }
                    Err(e @ (ConnectorError::Unauthorized { .. } | ConnectorError::Auth(_))) => return Err(e),
                    Err(e) => {
                        incomplete.get_or_insert(format!("department {departmentid}, {param} {id} could not be read: {e}"));
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        if !any_read {
            if let Some(e) = first_error {
                // Nothing usable at all: an error, not an empty incomplete read.
                return Err(e);
            }
        }
        let (mut slots, quarantined) = collected.split();
        slots.retain(|s| window.start <= s.span.start && s.span.start < window.end);
        self.name_providers(&mut slots);
        Ok(WindowRead { slots, quarantined, complete: incomplete.is_none(), incomplete_reason: incomplete })
    }

    /// Subscribes first when `cursor` is `None`, then reads `GET /appointments/changed` for the
    /// configured departments (and providers): rows now booked are `busy`, open or cancelled ones
    /// `free` ([`map::slot_status`]). When athenahealth answers that no subscription exists
    /// (HTTP 403), the connector subscribes and returns an empty batch, `complete` only when
    /// this was the first call (`cursor` `None`): otherwise changes may have been missed and a
    /// full window read is needed. The returned cursor is described at [`CURSOR_PREFIX`].
    fn changes_since(&mut self, cursor: Option<&str>, now: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
        let next_cursor = format!("{CURSOR_PREFIX};polled={}", crate::time::fmt_instant(now));
        if cursor.is_none() {
            self.subscribe()?;
        }
        let mut q = vec![format!("departmentid={}", enc(&self.athena.departmentids.join(",")))];
        if !self.athena.providerids.is_empty() {
            q.push(format!("providerid={}", enc(&self.athena.providerids.join(","))));
        }
        q.push(format!("limit={}", self.page_size));
        let url = format!("{}?{}", self.api("/appointments/changed"), q.join("&"));
        let rows = match self.read_rows(&url) {
            Ok(r) => r,
            Err(ConnectorError::Server { status: 403, detail, .. }) if detail.to_ascii_lowercase().contains(SUBSCRIPTION_MISSING) => {
                self.subscribe()?;
                return Ok(Some(ChangeBatch { slots: vec![], quarantined: vec![], cursor: next_cursor, complete: cursor.is_none() }));
            }
            Err(e) => return Err(e),
        };
        let mut collected = Collected::default();
        let wanted: HashSet<String> = self.athena.departmentids.iter().cloned().collect();
        let mut by_department: Vec<(String, Vec<Value>)> = Vec::new();
        for row in rows.rows {
            let dept = row.get("departmentid").and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_u64().map(|n| n.to_string())));
            match dept {
                Some(d) if !wanted.contains(&d) => continue, // another department's change: not ours to cache
                Some(d) => match by_department.iter_mut().find(|(k, _)| *k == d) {
                    Some((_, list)) => list.push(row),
                    None => by_department.push((d, vec![row])),
                },
                None => collected.push(Err(Quarantined { resource: "changed appointment".into(), reason: "has no departmentid".into() })),
            }
        }
        let mut incomplete = rows.incomplete;
        for (departmentid, rows) in by_department {
            match self.department(&departmentid) {
                Ok(info) => self.map_rows(&rows, &info, None, &mut collected),
                Err(e) => {
                    incomplete.get_or_insert(format!("department {departmentid} could not be read: {e}"));
                }
            }
        }
        if let Some(why) = &incomplete {
            tracing::warn!(system = %self.http.system(), reason = %why, "athenahealth's change feed was not read completely");
        }
        let (mut slots, quarantined) = collected.split();
        self.name_providers(&mut slots);
        Ok(Some(ChangeBatch { slots, quarantined, cursor: next_cursor, complete: incomplete.is_none() }))
    }

    /// Re-reads the open list for the slot's date, department and visit: gone is
    /// [`ConnectorError::SlotTaken`], moved is [`ConnectorError::SlotChanged`]. Then
    /// `PUT /v1/{practiceid}/appointments/{appointmentid}` with the form
    /// `patientid`, `reasonid` (or `appointmenttypeid`), `departmentid`. HTTP 409 is
    /// [`ConnectorError::SlotTaken`]; a request that went out but whose answer was lost or
    /// does not show the appointment booked is [`ConnectorError::BookingUnknown`].
    fn book(&mut self, slot: &SlotToBook, patient_id: &str) -> Result<Booked, ConnectorError> {
        let system = self.system();
        let patientid = patient_id.trim();
        if !is_id(patientid) || patientid.starts_with('-') {
            return Err(ConnectorError::Unsupported("athenahealth patient IDs are numbers; the patient ID given is not one. Look the patient up in athenaOne and use their patient ID.".into()));
        }
        let appointmentid = slot.booking.get("appointmentid").and_then(Value::as_str).unwrap_or(&slot.external_id).to_string();
        if !is_id(&appointmentid) {
            return Err(ConnectorError::BadReply { system, detail: format!("the cached slot's appointment ID '{appointmentid}' is not an athenahealth appointment ID") });
        }
        let Some(now_there) = self.reread(&slot.booking, &appointmentid)? else {
            return Err(ConnectorError::SlotTaken { system });
        };
        if now_there.span != slot.span {
            return Err(ConnectorError::SlotChanged { system });
        }
        let Some(form) = map::booking_form(&now_there.booking, patientid) else {
            return Err(ConnectorError::BadReply { system, detail: "the slot names no visit reason or appointment type".into() });
        };
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let url = self.api(&format!("/appointments/{}", enc(&appointmentid)));
        let reply = self.http.send_form("PUT", &url, &pairs);
        booking_outcome(reply, &appointmentid, &system)
    }

    /// Reads the appointment (`GET /v1/{practiceid}/appointments/{appointmentid}`) for its
    /// `patientid`, then `PUT …/{appointmentid}/cancel` with `patientid` and
    /// `cancellationreason` ([`CANCELLATION_REASON`]). An appointment already cancelled is left
    /// alone. `appointment_id` is the `appointmentid` (`659571`; a `…/659571` form is accepted).
    ///
    /// # Errors
    /// [`ConnectorError::Unsupported`] when athenahealth shows no patient on the appointment
    /// (nothing to cancel), or the id is not an athenahealth appointment ID; transport and
    /// server errors otherwise.
    fn cancel(&mut self, appointment_id: &str) -> Result<(), ConnectorError> {
        let id = appointment_id.trim().rsplit('/').next().unwrap_or("").to_string();
        if !is_id(&id) || id.starts_with('-') {
            return Err(ConnectorError::Unsupported(format!("'{appointment_id}' is not an athenahealth appointment ID, so MedHarmony Desk cannot cancel it; cancel it in athenaOne.")));
        }
        let url = self.api(&format!("/appointments/{}", enc(&id)));
        let current = self.http.get(&url)?;
        let (patientid, status) = map::appointment_for_cancel(&current.body).map_err(|e| ConnectorError::BadReply { system: self.system(), detail: e.to_string() })?;
        if status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("x")) {
            return Ok(());
        }
        let Some(patientid) = patientid else {
            return Err(ConnectorError::Unsupported(format!(
                "athenahealth shows no patient on appointment {id}, so MedHarmony Desk does not know whose visit to cancel; cancel it in athenaOne."
            )));
        };
        let form = [("patientid", patientid.as_str()), ("cancellationreason", CANCELLATION_REASON)];
        self.http.send_form("PUT", &format!("{url}/cancel"), &form)?;
        Ok(())
    }
}

/// What a booking request's reply means (see [`AthenaConnector`]'s `book`).
fn booking_outcome(reply: Result<Reply, ConnectorError>, appointmentid: &str, system: &str) -> Result<Booked, ConnectorError> {
    let unknown = |detail: String| ConnectorError::BookingUnknown { system: system.to_string(), detail };
    let reply = match reply {
        Ok(r) => r,
        Err(ConnectorError::Server { status: 409, .. }) => return Err(ConnectorError::SlotTaken { system: system.to_string() }),
        Err(ConnectorError::Unreachable { detail, .. } | ConnectorError::BadReply { detail, .. }) => return Err(unknown(detail)),
        Err(e) => return Err(e),
    };
    match map::booked(&reply.body, appointmentid) {
        Ok(b) => Ok(b),
        Err(map::MapError::Reported(words)) => Err(ConnectorError::Server { system: system.to_string(), status: reply.status, detail: words }),
        Err(e) => Err(unknown(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthConfig, NoAuth};
    use serde_json::json;

    fn settings(athena: Option<AthenaSettings>) -> IntegrationSettings {
        let mut s = IntegrationSettings::new(PREVIEW_BASE_URL, "America/New_York", AuthConfig::None);
        s.athena = athena;
        s
    }

    fn athena() -> AthenaSettings {
        AthenaSettings {
            practiceid: "195900".into(),
            departmentids: vec!["1".into()],
            providerids: vec!["71".into()],
            reasonids: vec!["563".into()],
            appointmenttypeids: vec![],
        }
    }

    fn http() -> FhirHttp {
        FhirHttp::new(FhirHttp::default_agent(), "athenahealth", Box::new(NoAuth))
    }

    fn err(s: IntegrationSettings) -> String {
        match AthenaConnector::new(s, http()) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn token_url_and_constants() {
        assert_eq!(token_url(PREVIEW_BASE_URL), "https://api.preview.platform.athenahealth.com/oauth2/v1/token");
        assert_eq!(token_url("https://api.platform.athenahealth.com/ "), "https://api.platform.athenahealth.com/oauth2/v1/token");
        assert_eq!(DEFAULT_SCOPE, "athena/service/Athenanet.MDP.*");
    }

    #[test]
    fn settings_are_checked_with_plain_words() {
        assert!(err(settings(None)).contains("no practice settings"));
        let mut a = athena();
        a.departmentids.clear();
        assert!(err(settings(Some(a))).contains("add at least one department ID"));
        let mut a = athena();
        a.reasonids.clear();
        assert!(err(settings(Some(a))).contains("visit reason (reasonid) or an appointment type"));
        let mut a = athena();
        a.providerids.clear();
        assert!(err(settings(Some(a))).contains("add the provider IDs"));
        let mut a = athena();
        a.providerids.clear();
        a.reasonids = vec!["-1".into()];
        assert!(AthenaConnector::new(settings(Some(a)), http()).is_ok(), "reasonid -1 needs no provider");
        let mut a = athena();
        a.practiceid = "abc".into();
        assert_eq!(err(settings(Some(a))), "The athenahealth practice ID 'abc' is not a number (e.g. 195900 for the preview practice).");
        let mut a = athena();
        a.departmentids = vec!["1&x=2".into()];
        assert_eq!(err(settings(Some(a))), "The athenahealth department ID '1&x=2' is not a number.");
        let mut s = settings(Some(athena()));
        s.tz = "Eastern".into();
        assert!(err(s).contains("is not a time zone name"));
        let mut s = settings(Some(athena()));
        s.base_url = "api.platform.athenahealth.com".into();
        assert!(err(s).contains("is not a web address"));
    }

    #[test]
    fn open_url_names_every_parameter() {
        let mut s = settings(Some(athena()));
        s.page_size = 50;
        let c = AthenaConnector::new(s, http()).unwrap();
        assert_eq!(
            c.open_url("1", &Visit::Reason("563".into()), &["71".into(), "86".into()], "03/03/2026", "03/09/2026"),
            "https://api.preview.platform.athenahealth.com/v1/195900/appointments/open?departmentid=1&reasonid=563&providerid=71%2C86\
             &startdate=03%2F03%2F2026&enddate=03%2F09%2F2026&bypassscheduletimechecks=true&limit=50"
        );
        assert_eq!(c.next_url("ignored", "/v1/195900/appointments/open?offset=3").as_deref(), Some("https://api.preview.platform.athenahealth.com/v1/195900/appointments/open?offset=3"));
        assert_eq!(c.next_url("https://api.preview.platform.athenahealth.com/v1/195900/appointments/open", "https://evil.example/v1/x"), None);
    }

    #[test]
    fn booking_outcomes() {
        let sys = "athenahealth";
        let taken = booking_outcome(Err(ConnectorError::Server { system: sys.into(), status: 409, detail: "x".into() }), "1", sys).unwrap_err();
        assert!(matches!(taken, ConnectorError::SlotTaken { .. }));
        let lost = booking_outcome(Err(ConnectorError::Unreachable { system: sys.into(), detail: "the connection broke off or timed out".into() }), "1", sys).unwrap_err();
        assert!(matches!(lost, ConnectorError::BookingUnknown { .. }), "{lost}");
        let garbled = booking_outcome(Ok(Reply { status: 200, body: json!({"unexpected": true}), etag: None, location: None }), "1", sys).unwrap_err();
        assert!(matches!(garbled, ConnectorError::BookingUnknown { .. }), "{garbled}");
        let ok = booking_outcome(Ok(Reply { status: 200, body: json!([{"appointmentid": "1", "appointmentstatus": "f"}]), etag: None, location: None }), "1", sys).unwrap();
        assert_eq!(ok, Booked { appointment_id: "1".into(), status: "booked".into() });
    }
}
