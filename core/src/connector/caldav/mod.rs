//! CalDAV connector (RFC 4791): iCloud, Fastmail, Nextcloud, Radicale and any other CalDAV
//! server, signed in with HTTP Basic (RFC 7617) and an app password.
//!
//! Each calendar of [`IntegrationSettings::calendars`] is one provider's; its `id` is the
//! calendar collection's absolute URL (ending in `/`). A calendar publishes busy time only;
//! open slots are the provider's working hours minus it ([`calendar::open_slots`]).
//!
//! * Discovery ([`discover`], for the connect form): PROPFIND `DAV:current-user-principal`
//!   (RFC 5397) on the address given, then on `/.well-known/caldav` (RFC 6764 §5); PROPFIND
//!   `CALDAV:calendar-home-set` on the principal (RFC 4791 §6.2.1); PROPFIND Depth 1 on the
//!   home for its calendar collections that hold VEVENTs.
//! * Busy time per calendar: a `calendar-query` REPORT (RFC 4791 §7.8) with a time range, whose
//!   events go through the project's .ics importer ([`crate::import::ics::parse_ics`]: RRULE,
//!   EXDATE, RECURRENCE-ID, TZID, all-day, TRANSP and STATUS, with the DST rules of
//!   [`crate::time`]). Only a calendar whose events this account may not read (403, 405, 501:
//!   e.g. one shared as "free/busy only", `CALDAV:read-free-busy`, RFC 4791 §6.1.1) is asked
//!   with the `CALDAV:free-busy-query` REPORT (§7.10) instead, whose VFREEBUSY is read by
//!   [`crate::import::ics::parse_free_busy`] (FBTYPE BUSY, BUSY-TENTATIVE, BUSY-UNAVAILABLE
//!   block; FREE does not). Events come first because servers compute free/busy themselves and
//!   get it wrong: Radicale 3.9 expands a weekly `TZID=America/New_York` event in fixed UTC
//!   (an hour off after a DST change) and ignores its EXDATEs. The choice is remembered per
//!   calendar for the connector's life.
//! * Booking: the span is re-checked (busy → [`ConnectorError::SlotTaken`]), then a new
//!   VEVENT ([`xml::booking_event`]) is PUT to `<calendar URL><uid>.ics` with
//!   `If-None-Match: *` (RFC 4791 §5.3.2). The appointment id is the event's URL; cancelling
//!   DELETEs it.
//! * HTTP 429 / 503 are retried up to three times, waiting what `Retry-After` says (at most
//!   30 s) or 0.5 s, 1 s, 2 s.
//! * After a booking's PUT the span is read again with `calendar-query`: when another busy
//!   event overlaps it (a simultaneous booking elsewhere), ours is deleted and the booking is
//!   [`ConnectorError::SlotTaken`]; so two desks racing never both keep the time.
//! * Redirects are followed here (at most [`MAX_REDIRECTS`]), keeping the method (a
//!   PROPFIND stays a PROPFIND, RFC 6764 §5) and sending the password on only to the same
//!   origin or over HTTPS; the agent must not follow them itself (see
//!   [`CalDavConnector::default_agent`]).
//!
//! The password never reaches a log line or an error message; neither do event contents.

pub mod xml;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};

use super::calendar::{self, CalendarPlan};
use super::{Booked, ChangeBatch, Connector, ConnectorError, IntegrationKind, IntegrationSettings, SlotToBook, WindowRead};
use crate::import::ics::{parse_free_busy, parse_ics, IcsOptions};
use crate::time::Interval;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

/// Retries of a request answered 429 or 503 (waiting what `Retry-After` says, RFC 9110
/// §10.2.3, else 0.5 s, 1 s, 2 s).
const RETRY_ATTEMPTS: u32 = 3;

/// Longest `Retry-After` waited for; a server asking more gets its error passed on.
const RETRY_CAP: Duration = Duration::from_secs(30);

/// What staff are told to check when the server refuses the sign-in.
const CHECK_SIGN_IN: &str = "check the user name and app password";

/// A calendar found by [`discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredCalendar {
    /// The calendar collection's absolute URL, ending in `/`: what
    /// [`calendar::CalendarSettings::id`] takes.
    pub url: String,
    /// `DAV:displayname`, else the last part of the URL.
    pub display_name: String,
    /// The calendar's IANA zone (RFC 7809 `calendar-timezone-id` or the TZID of RFC 4791
    /// `calendar-timezone`), only when it is a zone MedHarmony Desk knows.
    pub timezone: Option<String>,
}

/// HTTP with Basic sign-in, manual redirects and plain-words errors.
struct Dav {
    agent: ureq::Agent,
    system: String,
    /// `Basic <base64(user:password)>`; never logged, never in an error.
    authorization: String,
    /// How waits before retries are done (tests record them instead of sleeping).
    sleep: Box<dyn Fn(Duration) + Send>,
}

/// A reply of any HTTP status.
struct DavReply {
    status: u16,
    body: String,
    content_type: Option<String>,
    /// The URL that answered (after redirects).
    url: url::Url,
}

fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

fn transport_words(t: &ureq::Transport) -> String {
    match t.kind() {
        ureq::ErrorKind::Dns => "the server's address could not be found".into(),
        ureq::ErrorKind::ConnectionFailed => "the connection was refused or timed out".into(),
        ureq::ErrorKind::Io => "the connection broke off or timed out".into(),
        ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => "the server address is not a valid web address".into(),
        ureq::ErrorKind::TooManyRedirects => "the server kept redirecting".into(),
        _ => t.kind().to_string(),
    }
}

/// A failure of one exchange: nothing came back (`sent` tells whether the request may have reached the server).
struct Transport {
    detail: String,
    sent: bool,
}

impl Dav {
    fn new(agent: ureq::Agent, system: &str, username: &str, password: &str) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        Dav { agent, system: system.to_string(), authorization: format!("Basic {token}"), sleep: Box::new(std::thread::sleep) }
    }

    /// Sends `method url` and returns the reply whatever its status; follows redirects.
    fn send(
        &self,
        method: &str,
        url: &str,
        depth: Option<&str>,
        body: Option<(&str, &str)>,
        headers: &[(&str, &str)],
    ) -> Result<DavReply, Transport> {
        let mut current = url::Url::parse(url).map_err(|_| Transport { detail: format!("'{url}' is not a web address"), sent: false })?;
        let first = current.clone();
        let mut with_auth = true;
        let mut busy_tries = 0u32;
        let mut hops = 0usize;
        loop {
            if hops > MAX_REDIRECTS {
                return Err(Transport { detail: "the server kept redirecting".into(), sent: false });
            }
            let mut req = self.agent.request_url(method, &current);
            if with_auth {
                req = req.set("Authorization", &self.authorization);
            }
            if let Some(d) = depth {
                req = req.set("Depth", d);
            }
            for (k, v) in headers {
                req = req.set(k, v);
            }
            let result = match body {
                Some((ctype, text)) => req.set("Content-Type", ctype).send_string(text),
                None => req.call(),
            };
            let resp = match result {
                Ok(r) => r,
                Err(ureq::Error::Status(_, r)) => r,
                Err(ureq::Error::Transport(t)) => {
                    let sent = matches!(t.kind(), ureq::ErrorKind::Io);
                    return Err(Transport { detail: transport_words(&t), sent });
                }
            };
            let status = resp.status();
            if matches!(status, 429 | 503) && busy_tries < RETRY_ATTEMPTS {
                let wait = resp.header("Retry-After").map(|v| super::http::parse_retry_after(v, Utc::now()));
                let wait = match wait {
                    None => Some(Duration::from_millis(500 << busy_tries)),
                    Some(w) => w.filter(|w| *w <= RETRY_CAP),
                };
                if let Some(wait) = wait {
                    busy_tries += 1;
                    tracing::info!(system = %self.system, status, wait_ms = wait.as_millis() as u64, "server busy; waiting before retrying");
                    (self.sleep)(wait);
                    continue;
                }
            }
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                if let Some(next) = resp.header("Location").and_then(|l| current.join(l).ok()) {
                    tracing::debug!(system = %self.system, status, from = %current.path(), to = %next.path(), "following a redirect");
                    // The password goes on only to the server it was given for, or over HTTPS.
                    with_auth = with_auth && (same_origin(&first, &next) || next.scheme() == "https");
                    current = next;
                    hops += 1;
                    continue;
                }
            }
            let content_type = resp.header("Content-Type").map(str::to_string);
            let body = resp.into_string().map_err(|e| Transport { detail: format!("the reply was cut off ({e})"), sent: true })?;
            return Ok(DavReply { status, body, content_type, url: current });
        }
    }

    fn unreachable(&self, t: Transport) -> ConnectorError {
        ConnectorError::Unreachable { system: self.system.clone(), detail: t.detail }
    }

    fn unauthorized(&self) -> ConnectorError {
        ConnectorError::Unauthorized { system: self.system.clone(), detail: CHECK_SIGN_IN.into() }
    }

    fn bad_reply(&self, detail: String) -> ConnectorError {
        ConnectorError::BadReply { system: self.system.clone(), detail }
    }

    /// The error for a reply with a status that is not a success; `what` names the thing asked
    /// for (e.g. "the calendar").
    fn status_error(&self, status: u16, what: &str) -> ConnectorError {
        if status == 401 {
            return self.unauthorized();
        }
        let detail = match status {
            403 => format!("this account may not read or change {what}"),
            404 | 410 => format!("{what} was not found; it may have been deleted or moved (reconnect to pick the calendars again)"),
            405 | 501 => format!("{what} does not accept this request"),
            507 => "the account's storage is full".to_string(),
            500..=599 => "the server had an internal problem; try again later".to_string(),
            _ => format!("unexpected reply {status} for {what}"),
        };
        ConnectorError::Server { system: self.system.clone(), status, detail }
    }

    /// PROPFIND `url` with `body` at `depth`; the multistatus, or `Ok(None)` for a 404 / 405
    /// (nothing there) when `tolerate_missing`.
    fn propfind(&self, url: &str, depth: &str, body: &str, tolerate_missing: bool) -> Result<Option<(url::Url, Vec<xml::DavResponse>)>, ConnectorError> {
        let reply = self.send("PROPFIND", url, Some(depth), Some(("application/xml; charset=utf-8", body)), &[]).map_err(|t| self.unreachable(t))?;
        match reply.status {
            207 => {
                let responses = xml::parse_multistatus(&reply.body).map_err(|d| self.bad_reply(d))?;
                Ok(Some((reply.url, responses)))
            }
            401 => Err(self.unauthorized()),
            400 | 403 | 404 | 405 | 501 if tolerate_missing => Ok(None),
            s => Err(self.status_error(s, "the calendar account")),
        }
    }
}

/// Resolves a `DAV:href` against the URL that sent it.
fn resolve(base: &url::Url, href: &str) -> Option<url::Url> {
    base.join(href.trim()).ok()
}

/// Finds the calendars an account holds (RFC 4791 §6, RFC 5397, RFC 6764 §5), for the connect form.
///
/// `base_url` is what staff typed: a server (`https://caldav.icloud.com`,
/// `https://cloud.example.org/remote.php/dav`), a principal or a home URL. Signs in with
/// `username` / `password` (HTTP Basic). `agent` should not follow redirects
/// ([`CalDavConnector::default_agent`]). Calendars that cannot hold events (task lists) are
/// left out.
///
/// # Errors
/// [`ConnectorError::Unauthorized`] ("… check the user name and app password"),
/// [`ConnectorError::Unreachable`], [`ConnectorError::Server`] (e.g. the address is not a
/// CalDAV server: "could not find a CalDAV calendar account at …"), [`ConnectorError::BadReply`].
pub fn discover(base_url: &str, username: &str, password: &str, agent: ureq::Agent) -> Result<Vec<DiscoveredCalendar>, ConnectorError> {
    let system = crate::auth::host_of(base_url);
    let base = url::Url::parse(base_url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| ConnectorError::Unsupported(format!("'{base_url}' is not a web address (it should start with https://).")))?;
    let dav = Dav::new(agent, &system, username, password);
    let not_caldav = || ConnectorError::Server {
        system: system.clone(),
        status: 404,
        detail: format!("could not find a CalDAV calendar account at {base_url}; check the server address"),
    };

    // 1. The principal: on the address given, else on /.well-known/caldav (RFC 6764 §5).
    let well_known = base.join("/.well-known/caldav").map_err(|_| not_caldav())?;
    let mut principal: Option<url::Url> = None;
    for candidate in [base.clone(), well_known] {
        if let Some((answered, responses)) = dav.propfind(candidate.as_str(), "0", xml::PROPFIND_PRINCIPAL, true)? {
            if let Some(href) = xml::principal_href(&responses) {
                principal = resolve(&answered, &href);
                if principal.is_some() {
                    break;
                }
            }
        }
    }
    // A server without RFC 5397: the address given may itself be the principal.
    let principal = principal.unwrap_or_else(|| base.clone());

    // 2. The calendar home(s).
    let (answered, responses) = dav.propfind(principal.as_str(), "0", xml::PROPFIND_HOME_SET, true)?.ok_or_else(not_caldav)?;
    let homes: Vec<url::Url> = xml::home_set_hrefs(&responses).iter().filter_map(|h| resolve(&answered, h)).collect();
    if homes.is_empty() {
        return Err(not_caldav());
    }

    // 3. The calendars in each home.
    let mut found: Vec<DiscoveredCalendar> = Vec::new();
    for home in homes {
        let Some((answered, responses)) = dav.propfind(home.as_str(), "1", xml::PROPFIND_CALENDARS, true)? else { continue };
        for entry in xml::calendar_entries(&responses).into_iter().filter(xml::CalendarEntry::holds_events) {
            let Some(mut url) = resolve(&answered, &entry.href) else { continue };
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            let url = url.to_string();
            if found.iter().any(|c| c.url == url) {
                continue;
            }
            let fallback = url.trim_end_matches('/').rsplit('/').next().unwrap_or("calendar");
            let display_name = entry.display_name.clone().unwrap_or_else(|| percent_decode(fallback));
            let timezone = entry.timezone.filter(|z| crate::time::parse_iana(z).is_some());
            found.push(DiscoveredCalendar { url, display_name, timezone });
        }
    }
    tracing::info!(system = %system, calendars = found.len(), "CalDAV calendars discovered");
    Ok(found)
}

/// Percent-decodes a URL path segment (a `+` stays a `+`).
fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_else(|| s.to_string())
}

/// Why one calendar's busy time could not be read.
enum BusyError {
    /// Fatal for the whole read (sign-in refused, server unreachable).
    Fatal(ConnectorError),
    /// This calendar only, in plain words, with the HTTP status when the server refused
    /// (`None`: its reply could not be read).
    Calendar(String, Option<u16>),
}

impl BusyError {
    fn unreadable(why: String) -> Self {
        BusyError::Calendar(why, None)
    }
}

impl From<ConnectorError> for BusyError {
    fn from(e: ConnectorError) -> Self {
        match e {
            ConnectorError::Unauthorized { .. } | ConnectorError::Unreachable { .. } => BusyError::Fatal(e),
            ConnectorError::Server { detail, status, .. } => BusyError::Calendar(detail, Some(status)),
            ConnectorError::BadReply { detail, .. } => BusyError::Calendar(detail, None),
            other => BusyError::Calendar(other.to_string(), None),
        }
    }
}

/// A CalDAV integration: the calendars of [`IntegrationSettings::calendars`].
pub struct CalDavConnector {
    dav: Dav,
    /// Each calendar's checked settings, or why they are unusable (a sentence naming the provider).
    plans: Vec<Result<CalendarPlan, String>>,
    /// Per calendar URL: false once the server refused `free-busy-query`.
    free_busy: HashMap<String, bool>,
    now: Box<dyn Fn() -> DateTime<Utc> + Send>,
}

impl CalDavConnector {
    /// A connector for `settings.calendars` (each `id` an absolute calendar collection URL;
    /// a missing trailing `/` is added), signing in as `username` with `password` (HTTP
    /// Basic). `system` is the integration's name as staff know it (used in errors). `agent`
    /// should be [`CalDavConnector::default_agent`] or any agent built with `redirects(0)`.
    ///
    /// Calendars whose zone, working hours or slot length are wrong are not refused here: each
    /// read reports them (the window is then incomplete).
    ///
    /// # Errors
    /// [`ConnectorError::Unsupported`] with a sentence for staff when there is no calendar or a
    /// calendar id is not an http(s) URL.
    pub fn new(system: &str, settings: IntegrationSettings, username: String, password: String, agent: ureq::Agent) -> Result<Self, ConnectorError> {
        if settings.calendars.is_empty() {
            return Err(ConnectorError::Unsupported(format!("{system} has no calendar to read; reconnect it and pick at least one calendar.")));
        }
        let mut plans = Vec::new();
        for cal in &settings.calendars {
            let mut cal = cal.clone();
            match url::Url::parse(cal.id.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    let mut u = u;
                    if !u.path().ends_with('/') {
                        u.set_path(&format!("{}/", u.path()));
                    }
                    cal.id = u.to_string();
                }
                _ => {
                    return Err(ConnectorError::Unsupported(format!(
                        "{}: the calendar '{}' is not a web address; reconnect {system} and pick the calendar again.",
                        cal.provider, cal.id
                    )))
                }
            }
            plans.push(cal.plan(&settings.tz));
        }
        Ok(CalDavConnector { dav: Dav::new(agent, system, &username, &password), plans, free_busy: HashMap::new(), now: Box::new(Utc::now) })
    }

    /// The connectors' timeouts (10 s to connect, 60 s per request) with redirects left to the
    /// connector (`redirects(0)`): `ureq` would turn a redirected PROPFIND into a GET and drop
    /// the sign-in.
    pub fn default_agent() -> ureq::Agent {
        ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirects(0)
            .user_agent(concat!("MedHarmonyDesk/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// With `true`, busy time is read with `free-busy-query` (the fallback for calendars whose
    /// events may not be read; tests of it); with `false`, with `calendar-query` only.
    pub fn with_free_busy(mut self, use_it: bool) -> Self {
        for plan in self.plans.iter().flatten() {
            self.free_busy.insert(plan.settings.id.clone(), use_it);
        }
        self
    }

    /// How the busy time of the calendar with URL `calendar_url` is read: `Some(false)` when the
    /// last read used `calendar-query`, `Some(true)` when the server refused it (or
    /// [`CalDavConnector::with_free_busy`] said so) and `free-busy-query` is used, `None` before
    /// the first read.
    pub fn uses_free_busy(&self, calendar_url: &str) -> Option<bool> {
        let want = calendar_url.trim_end_matches('/');
        self.free_busy.iter().find(|(k, _)| k.trim_end_matches('/') == want).map(|(_, v)| *v)
    }

    /// Replaces how waits before retries are done (tests record them instead of sleeping).
    pub fn with_sleeper(mut self, sleep: impl Fn(Duration) + Send + 'static) -> Self {
        self.dav.sleep = Box::new(sleep);
        self
    }

    /// Replaces the clock used for DTSTAMP (tests).
    pub fn with_clock(mut self, now: impl Fn() -> DateTime<Utc> + Send + 'static) -> Self {
        self.now = Box::new(now);
        self
    }

    /// Busy time of `plan`'s calendar overlapping `range` (UTC); see the module documentation
    /// for which REPORT is used.
    fn busy(&mut self, plan: &CalendarPlan, range: Interval) -> Result<Vec<Interval>, BusyError> {
        let url = plan.settings.id.clone();
        let chosen = self.free_busy.get(&url).copied();
        if chosen != Some(true) {
            match self.calendar_query(plan, range) {
                Ok(events) => {
                    self.free_busy.insert(url, false);
                    return Ok(events.into_iter().map(|(_, span)| span).collect());
                }
                Err(BusyError::Calendar(_, Some(403 | 405 | 501))) if chosen.is_none() => {
                    tracing::info!(system = %self.dav.system, "the server refused calendar-query; reading free/busy time instead");
                }
                Err(e) => return Err(e),
            }
        }
        match self.free_busy_query(&url, range)? {
            Some(busy) => {
                self.free_busy.insert(url, true);
                Ok(busy)
            }
            None => Err(BusyError::Calendar("the server lets this account read neither the calendar's events nor its free/busy time".into(), None)),
        }
    }

    /// The free-busy-query REPORT; `Ok(None)` when the server does not support it.
    fn free_busy_query(&mut self, url: &str, range: Interval) -> Result<Option<Vec<Interval>>, BusyError> {
        let body = xml::free_busy_query(range);
        let reply = self
            .dav
            .send("REPORT", url, Some("1"), Some(("application/xml; charset=utf-8", &body)), &[])
            .map_err(|t| BusyError::Fatal(self.dav.unreachable(t)))?;
        match reply.status {
            200 => {
                let is_calendar = reply.content_type.as_deref().is_some_and(|c| c.to_ascii_lowercase().starts_with("text/calendar"))
                    || reply.body.trim_start().to_ascii_uppercase().starts_with("BEGIN:VCALENDAR");
                if !is_calendar {
                    return Ok(None);
                }
                let read = match parse_free_busy(reply.body.as_bytes()) {
                    Ok(r) if r.components > 0 => r,
                    _ => return Ok(None),
                };
                if let Some(first) = read.unreadable.first() {
                    return Err(BusyError::unreadable(format!(
                        "the calendar's free/busy reply could not be read in full ({} period(s); first: {})",
                        read.unreadable.len(),
                        first.reason
                    )));
                }
                Ok(Some(read.busy()))
            }
            // Servers without the report (or not on this collection) answer these, or a multistatus.
            207 | 400 | 403 | 405 | 415 | 422 | 501 => Ok(None),
            s => Err(self.dav.status_error(s, "the calendar").into()),
        }
    }

    /// The calendar-query REPORT, its events read with the .ics importer: each busy instance's
    /// UID and span.
    fn calendar_query(&mut self, plan: &CalendarPlan, range: Interval) -> Result<Vec<(String, Interval)>, BusyError> {
        let url = &plan.settings.id;
        let body = xml::calendar_query(range);
        let reply = self
            .dav
            .send("REPORT", url, Some("1"), Some(("application/xml; charset=utf-8", &body)), &[])
            .map_err(|t| BusyError::Fatal(self.dav.unreachable(t)))?;
        if reply.status != 207 {
            return Err(self.dav.status_error(reply.status, "the calendar").into());
        }
        let responses = xml::parse_multistatus(&reply.body).map_err(BusyError::unreadable)?;
        let opts = IcsOptions { provider_zone: plan.tz, window: range };
        let mut busy = Vec::new();
        for obj in xml::calendar_objects(&responses) {
            let data = match obj.data {
                Ok(d) => d,
                // The collection itself may be listed without calendar-data.
                Err(_) if resolve(&reply.url, &obj.href).is_some_and(|u| u.path().trim_end_matches('/') == reply.url.path().trim_end_matches('/')) => {
                    continue
                }
                Err(status) => return Err(BusyError::unreadable(format!("an event could not be read (status {status})"))),
            };
            let import = parse_ics(data.as_bytes(), &opts).map_err(|e| BusyError::unreadable(format!("an event could not be read: {e}")))?;
            if let Some(first) = import.skipped.first() {
                return Err(BusyError::unreadable(format!("an event could not be read: {}", first.reason)));
            }
            busy.extend(import.instances.into_iter().map(|i| (i.uid, i.span)));
        }
        Ok(busy)
    }

    /// The plan of the calendar with URL `id` (trailing `/` ignored).
    fn plan_for(&self, id: &str) -> Option<Result<CalendarPlan, String>> {
        let want = id.trim_end_matches('/');
        self.plans
            .iter()
            .find(|p| match p {
                Ok(plan) => plan.settings.id.trim_end_matches('/') == want,
                Err(_) => false,
            })
            .cloned()
    }
}

fn random_uid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // Never expected; a time-based fallback is still unique enough with If-None-Match.
        let n = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        b[..8].copy_from_slice(&n.to_le_bytes());
    }
    format!("{}-medharmony", hex::encode(b))
}

impl Connector for CalDavConnector {
    fn kind(&self) -> IntegrationKind {
        IntegrationKind::CalDav
    }

    fn availability(&mut self, window: Interval) -> Result<WindowRead, ConnectorError> {
        let mut read = WindowRead::default();
        let mut problems = Vec::new();
        for i in 0..self.plans.len() {
            let plan = match &self.plans[i] {
                Ok(p) => p.clone(),
                Err(e) => {
                    problems.push(e.clone());
                    continue;
                }
            };
            // Cells start in the window but may end after it: read busy time to the end of the last one.
            let range = Interval { start: window.start, end: window.end + chrono::Duration::minutes(i64::from(plan.settings.slot_minutes)) };
            match self.busy(&plan, range) {
                Ok(busy) => read.slots.extend(calendar::open_slots(&plan, window, &busy)),
                Err(BusyError::Fatal(e)) => return Err(e),
                Err(BusyError::Calendar(why, _)) => problems.push(format!("{}'s calendar: {why}", plan.settings.provider)),
            }
        }
        read.complete = problems.is_empty();
        read.incomplete_reason = (!problems.is_empty()).then(|| problems.join("; "));
        tracing::debug!(system = %self.dav.system, slots = read.slots.len(), complete = read.complete, "CalDAV window read");
        Ok(read)
    }

    fn changes_since(&mut self, _cursor: Option<&str>, _now: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
        // No cheap change feed yet (sync-collection, RFC 6578, gives changed events, not slots).
        Ok(None)
    }

    fn book(&mut self, slot: &SlotToBook, patient_id: &str) -> Result<Booked, ConnectorError> {
        let system = self.dav.system.clone();
        let calendar_id = calendar::parse_slot_id(&slot.external_id)
            .map(|(c, _)| c.to_string())
            .or_else(|| slot.booking.get("calendar").and_then(|c| c.as_str()).map(str::to_string))
            .ok_or_else(|| ConnectorError::SlotChanged { system: system.clone() })?;
        let plan = match self.plan_for(&calendar_id) {
            Some(Ok(plan)) => plan,
            // The calendar was removed from the settings (or its settings broke) since the sync.
            _ => return Err(ConnectorError::SlotChanged { system }),
        };
        // The time must still be a cell of the provider's working hours.
        let probe = Interval { start: slot.span.start, end: slot.span.start + chrono::Duration::seconds(1) };
        if !calendar::open_slots(&plan, probe, &[]).iter().any(|s| s.span == slot.span) {
            return Err(ConnectorError::SlotChanged { system });
        }
        match self.busy(&plan, slot.span) {
            Ok(busy) if busy.iter().any(|b| b.start < slot.span.end && slot.span.start < b.end) => {
                return Err(ConnectorError::SlotTaken { system });
            }
            Ok(_) => {}
            Err(BusyError::Fatal(e)) => return Err(e),
            Err(BusyError::Calendar(why, status)) => {
                let detail = format!("{}'s calendar could not be checked before booking: {why}", plan.settings.provider);
                return Err(match status {
                    Some(status) => ConnectorError::Server { system, status, detail },
                    None => ConnectorError::BadReply { system, detail },
                });
            }
        }
        let uid = random_uid();
        let event_url = format!("{}{uid}.ics", plan.settings.id);
        let body = xml::booking_event(&uid, slot.span, patient_id, (self.now)());
        let reply = self.dav.send("PUT", &event_url, None, Some(("text/calendar; charset=utf-8", &body)), &[("If-None-Match", "*")]).map_err(|t| {
            if t.sent {
                ConnectorError::BookingUnknown { system: system.clone(), detail: t.detail }
            } else {
                ConnectorError::Unreachable { system: system.clone(), detail: t.detail }
            }
        })?;
        match reply.status {
            200 | 201 | 204 => {
                // CalDAV has no slot lock: two desks may both have seen the time free and both
                // PUT. Read the span again; if any other busy event overlaps it now, withdraw
                // ours. (If both desks see each other, both withdraw: never a double booking.)
                match self.calendar_query(&plan, slot.span) {
                    Ok(events) if events.iter().any(|(u, b)| *u != uid && b.start < slot.span.end && slot.span.start < b.end) => {
                        tracing::info!(system = %system, "another event took the time while booking; withdrawing ours");
                        let withdrawn = self.dav.send("DELETE", &event_url, None, None, &[]);
                        return match withdrawn {
                            Ok(r) if matches!(r.status, 200 | 202 | 204 | 404 | 410) => Err(ConnectorError::SlotTaken { system }),
                            _ => Err(ConnectorError::BookingUnknown {
                                system,
                                detail: "someone else booked the same time at once and our event could not be withdrawn".into(),
                            }),
                        };
                    }
                    Ok(_) => {}
                    // The booking stands; only the extra check could not be made.
                    Err(_) => tracing::warn!(system = %system, "could not re-check the booked time for a simultaneous booking"),
                }
                tracing::info!(system = %system, "event booked in the CalDAV calendar");
                Ok(Booked { appointment_id: event_url, status: "booked".into() })
            }
            // An event already exists at this name: another booking got there first.
            412 => Err(ConnectorError::SlotTaken { system }),
            s => Err(self.dav.status_error(s, "the calendar")),
        }
    }

    fn cancel(&mut self, appointment_id: &str) -> Result<(), ConnectorError> {
        let system = self.dav.system.clone();
        // Only events inside a calendar of this integration are ever deleted.
        let inside = self.plans.iter().flatten().any(|p| appointment_id.starts_with(&p.settings.id) && appointment_id.len() > p.settings.id.len());
        if !inside {
            return Err(ConnectorError::Unsupported(format!(
                "This appointment is not in a calendar of {system}, so MedHarmony Desk did not cancel it there."
            )));
        }
        let reply = self.dav.send("DELETE", appointment_id, None, None, &[]).map_err(|t| self.dav.unreachable(t))?;
        match reply.status {
            200 | 202 | 204 => Ok(()),
            // Already gone: nothing left to cancel.
            404 | 410 => {
                tracing::info!(system = %system, "the event to cancel was already gone");
                Ok(())
            }
            s => Err(self.dav.status_error(s, "the appointment")),
        }
    }
}

#[cfg(test)]
mod tests;
