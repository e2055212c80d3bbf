//! HTTP for connectors: FHIR JSON over `ureq`, with the resilience rules of
//! issue "FHIR connectors":
//!
//! * HTTP 429 and 503 are retried, waiting what `Retry-After` says (RFC 9110
//!   §10.2.3: seconds or an HTTP-date), else a capped exponential backoff with
//!   full jitter; at most [`RetryPolicy::attempts`] tries in all. A server
//!   that asks for a longer wait than [`RetryPolicy::cap`] is not retried.
//! * Google's HTTP 403 with reason `rateLimitExceeded` or `userRateLimitExceeded` (Calendar API
//!   "Handle API errors": "Implement exponential backoff") is retried like a 429.
//! * HTTP 401 gets one forced token refresh ([`TokenSource::bearer`] with
//!   `force_refresh`) and one retry; a second 401 is
//!   [`ConnectorError::Unauthorized`].
//! * Other error statuses become [`ConnectorError::Server`] with the
//!   server's own words: a FHIR OperationOutcome's text, an OAuth
//!   `error_description`, a Google error body's message (see
//!   [`super::google::map::google_error_text`]), or an athenahealth error body
//!   (`{"error": "...", "detailedmessage": "..."}`, see [`athena_error_text`]).
//! * A body that is not JSON (e.g. truncated) is [`ConnectorError::BadReply`].
//!
//! Tokens and response bodies never reach a log line.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::fhir::map::operation_outcome_text;
use super::google::map::{google_error_text, google_rate_limited};
use super::ConnectorError;
use crate::auth::TokenSource;

/// How hard to retry throttled or unavailable servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (default 4).
    pub attempts: u32,
    /// First backoff step when the server gives no `Retry-After` (default 500 ms).
    pub base: Duration,
    /// Longest single wait (default 30 s); a longer `Retry-After` ends the request.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 4, base: Duration::from_millis(500), cap: Duration::from_secs(30) }
    }
}

/// A decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status (2xx).
    pub status: u16,
    /// The JSON body (`Value::Null` for an empty body).
    pub body: Value,
    /// The `ETag` header, e.g. `W/"3"` (used as `If-Match` on updates).
    pub etag: Option<String>,
    /// The `Location` header of a create, e.g. `…/Appointment/789/_history/1`.
    pub location: Option<String>,
}

/// A FHIR HTTP client for one integration.
pub struct FhirHttp {
    agent: ureq::Agent,
    system: String,
    tokens: Box<dyn TokenSource>,
    policy: RetryPolicy,
    sleep: Box<dyn FnMut(Duration) + Send>,
    content_type: &'static str,
}

impl FhirHttp {
    /// A client that names the system `system` in errors (the integration's
    /// name as staff know it) and signs requests with `tokens`.
    pub fn new(agent: ureq::Agent, system: &str, tokens: Box<dyn TokenSource>) -> Self {
        FhirHttp {
            agent,
            system: system.to_string(),
            tokens,
            policy: RetryPolicy::default(),
            sleep: Box::new(std::thread::sleep),
            content_type: "application/fhir+json",
        }
    }

    /// Replaces the `Content-Type` of request bodies (default `application/fhir+json`; Google's
    /// APIs take `application/json`).
    pub fn with_content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    /// Replaces the retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Replaces how waits are done (tests record them instead of sleeping).
    pub fn with_sleeper(mut self, sleep: impl FnMut(Duration) + Send + 'static) -> Self {
        self.sleep = Box::new(sleep);
        self
    }

    /// The system's name as used in errors.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// An agent with the connectors' timeouts: 10 s to connect, 60 s per request.
    pub fn default_agent() -> ureq::Agent {
        ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("MedHarmonyDesk/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// `GET url`.
    ///
    /// # Errors
    /// See the module documentation.
    pub fn get(&mut self, url: &str) -> Result<Reply, ConnectorError> {
        self.send("GET", url, Body::None, None)
    }

    /// `POST url` with a FHIR JSON body.
    ///
    /// # Errors
    /// See the module documentation.
    pub fn post(&mut self, url: &str, body: &Value) -> Result<Reply, ConnectorError> {
        self.send("POST", url, Body::Json(body), None)
    }

    /// `PUT url` with a FHIR JSON body and an optional `If-Match` (an ETag).
    ///
    /// # Errors
    /// See the module documentation.
    pub fn put(&mut self, url: &str, body: &Value, if_match: Option<&str>) -> Result<Reply, ConnectorError> {
        self.send("PUT", url, Body::Json(body), if_match)
    }

    /// `method url` (`POST` or `PUT`) with an `application/x-www-form-urlencoded`
    /// body made of `form` (name, value) pairs, each percent-encoded by `ureq`;
    /// the reply is read as JSON like every other. athenahealth's write
    /// endpoints (book, cancel, subscribe) take their parameters this way.
    ///
    /// The pairs may hold a patient's id: they go only into the request body,
    /// never into a log line or an error message.
    ///
    /// # Errors
    /// See the module documentation.
    pub fn send_form(&mut self, method: &str, url: &str, form: &[(&str, &str)]) -> Result<Reply, ConnectorError> {
        self.send(method, url, Body::Form(form), None)
    }

    /// `DELETE url` (an empty reply body is `Value::Null`).
    ///
    /// # Errors
    /// See the module documentation.
    pub fn delete(&mut self, url: &str) -> Result<Reply, ConnectorError> {
        self.send("DELETE", url, Body::None, None)
    }

    fn send(&mut self, method: &str, url: &str, body: Body<'_>, if_match: Option<&str>) -> Result<Reply, ConnectorError> {
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let token = self.tokens.bearer(false)?;
            let result = self.once(method, url, body, if_match, token.as_deref());
            match result {
                Ok(reply) => return Ok(reply),
                Err(Failure::Status { status: 401, body, .. }) => {
                    if refreshed {
                        return Err(ConnectorError::Unauthorized { system: self.system.clone(), detail: plain_detail(&body, 401) });
                    }
                    refreshed = true;
                    // Discard the cached token; the next loop turn uses the new one.
                    self.tokens.bearer(true)?;
                    attempt -= 1; // a refresh is not a retry
                }
                Err(Failure::Status { status, retry_after, body }) if retryable(status, &body) => {
                    if attempt >= self.policy.attempts {
                        return Err(ConnectorError::Server { system: self.system.clone(), status, detail: busy_detail(&body, status) });
                    }
                    if let Some(w) = retry_after.filter(|w| *w > self.policy.cap) {
                        // Retrying sooner than the server asked would be ignored or punished.
                        let detail = format!("the server is busy and asked MedHarmony Desk to wait {} seconds; try again later", w.as_secs());
                        return Err(ConnectorError::Server { system: self.system.clone(), status, detail });
                    }
                    let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
                    tracing::info!(system = %self.system, status, wait_ms = wait.as_millis() as u64, attempt, "server busy; waiting before retrying");
                    (self.sleep)(wait);
                }
                Err(Failure::Status { status, body, .. }) => {
                    return Err(ConnectorError::Server { system: self.system.clone(), status, detail: plain_detail(&body, status) });
                }
                Err(Failure::Transport(detail)) => return Err(ConnectorError::Unreachable { system: self.system.clone(), detail }),
                Err(Failure::Json(detail)) => return Err(ConnectorError::BadReply { system: self.system.clone(), detail }),
            }
        }
    }

    /// Full-jitter exponential backoff: a random wait in `[0, min(cap, base·2^(attempt−1))]`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.policy.base.saturating_mul(1u32 << (attempt - 1).min(16)).min(self.policy.cap);
        let mut b = [0u8; 8];
        let r = if getrandom::fill(&mut b).is_ok() { u64::from_le_bytes(b) } else { u64::MAX / 2 };
        Duration::from_nanos((ceiling.as_nanos() as u64).saturating_mul(r >> 11) >> 53)
    }

    fn once(&mut self, method: &str, url: &str, body: Body<'_>, if_match: Option<&str>, token: Option<&str>) -> Result<Reply, Failure> {
        let mut req = self.agent.request(method, url).set("Accept", "application/fhir+json, application/json;q=0.9");
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        if let Some(tag) = if_match {
            req = req.set("If-Match", tag);
        }
        let resp = match body {
            Body::Json(b) => req.set("Content-Type", self.content_type).send_string(&b.to_string()),
            Body::Form(pairs) => req.send_form(pairs),
            Body::None => req.call(),
        };
        match resp {
            Ok(r) => {
                let status = r.status();
                let etag = r.header("ETag").map(str::to_string);
                let location = r.header("Location").or_else(|| r.header("Content-Location")).map(str::to_string);
                let text = r.into_string().map_err(|e| Failure::Json(format!("the reply was cut off: {e}")))?;
                let body = if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).map_err(|e| Failure::Json(format!("{e}")))?
                };
                Ok(Reply { status, body, etag, location })
            }
            Err(ureq::Error::Status(status, r)) => {
                let retry_after = r.header("Retry-After").and_then(|v| parse_retry_after(v, Utc::now()));
                let text = r.into_string().unwrap_or_default();
                Err(Failure::Status { status, retry_after, body: text })
            }
            Err(ureq::Error::Transport(t)) => Err(Failure::Transport(transport_words(&t))),
        }
    }
}

/// What a request carries.
#[derive(Clone, Copy)]
enum Body<'a> {
    None,
    /// A FHIR JSON body (`Content-Type: application/fhir+json`).
    Json(&'a Value),
    /// An `application/x-www-form-urlencoded` body (athenahealth writes).
    Form(&'a [(&'a str, &'a str)]),
}

enum Failure {
    Status { status: u16, retry_after: Option<Duration>, body: String },
    Transport(String),
    Json(String),
}

/// Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date
/// (IMF-fixdate, e.g. `Wed, 04 Mar 2026 15:00:00 GMT`). A date in the past is
/// zero; anything unreadable is `None`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
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

/// The server's own words in an error body: a FHIR OperationOutcome's text,
/// an OAuth `error_description`, or an athenahealth error ([`athena_error_text`]).
fn server_words(body: &str) -> Option<String> {
    let v = serde_json::from_str::<Value>(body.trim()).ok()?;
    if let Some(text) = operation_outcome_text(&v) {
        return Some(text);
    }
    if let Some(text) = google_error_text(&v) {
        return Some(text);
    }
    if let Some(desc) = v.get("error_description").and_then(Value::as_str).map(str::trim).filter(|d| !d.is_empty()) {
        return Some(desc.to_string());
    }
    athena_error_text(&v)
}

/// Plain words from an athenahealth error body (athenaOne REST API):
/// `{"error": "That appointment time was already booked or not available for booking.",
///   "detailedmessage": "The appointment ID is already booked or …"}` gives
/// `That appointment time was already booked or not available for booking. (The appointment ID is already booked or …)`;
/// the `detailedmessage` is left out when it repeats the `error`.
///
/// A bare OAuth error code such as `{"error": "invalid_token"}` (one word, no
/// `detailedmessage`) is not athenahealth's wording and gives `None`.
pub fn athena_error_text(v: &Value) -> Option<String> {
    let error = v.get("error").and_then(Value::as_str).map(str::trim).filter(|e| !e.is_empty());
    let detail = v.get("detailedmessage").and_then(Value::as_str).map(str::trim).filter(|d| !d.is_empty());
    match (error, detail) {
        (Some(e), Some(d)) if d.eq_ignore_ascii_case(e) => Some(e.to_string()),
        (Some(e), Some(d)) => Some(format!("{e} ({d})")),
        (Some(e), None) if e.contains(char::is_whitespace) => Some(e.to_string()),
        (None, Some(d)) => Some(d.to_string()),
        _ => None,
    }
}

/// Plain words for an error body: the server's own words when it gave some
/// ([`server_words`]), else a phrase for the status.
fn plain_detail(body: &str, status: u16) -> String {
    if let Some(text) = server_words(body) {
        return text;
    }
    match status {
        400 => "the request was not accepted".into(),
        401 => "the sign-in was refused".into(),
        403 => "MedHarmony Desk is not allowed to do this (missing permission or scope)".into(),
        404 => "the record was not found".into(),
        409 | 412 => "someone else changed this record at the same time".into(),
        422 => "the server could not process the request".into(),
        500..=599 => "the server had an internal problem".into(),
        _ => format!("unexpected reply {status}"),
    }
}

/// HTTP 429 and 503, and a 403 that is a Google rate limit, are retried.
fn retryable(status: u16, body: &str) -> bool {
    status == 429 || status == 503 || (status == 403 && rate_limited(body))
}

/// True for a Google error body whose reason is a rate limit (`rateLimitExceeded`,
/// `userRateLimitExceeded`), which Google sends with HTTP 403 as well as 429.
fn rate_limited(body: &str) -> bool {
    serde_json::from_str::<Value>(body).ok().as_ref().is_some_and(google_rate_limited)
}

fn busy_detail(body: &str, status: u16) -> String {
    let base = match status {
        429 | 403 => "the server asked us to slow down and kept refusing",
        _ => "the server is temporarily unavailable",
    };
    match server_words(body) {
        Some(text) => format!("{base} ({text})"),
        None => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 15, 0, 0).unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 04 Mar 2026 15:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 04 Mar 2026 14:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn error_bodies_in_plain_words() {
        // athenahealth (recorded shape of a 409 on booking a taken slot).
        let athena = r#"{"detailedmessage":"The appointment ID is already booked or is not marked as being available to be scheduled via the API.","error":"That appointment time was already booked or not available for booking."}"#;
        assert_eq!(
            plain_detail(athena, 409),
            "That appointment time was already booked or not available for booking. \
             (The appointment ID is already booked or is not marked as being available to be scheduled via the API.)"
        );
        assert_eq!(plain_detail(r#"{"error":"Invalid practice.","detailedmessage":"invalid practice."}"#, 404), "Invalid practice.");
        assert_eq!(plain_detail(r#"{"error":"The departmentid is required."}"#, 400), "The departmentid is required.");
        // A bare OAuth code is not words for staff: the status phrase is used.
        assert_eq!(plain_detail(r#"{"error":"invalid_token"}"#, 403), "MedHarmony Desk is not allowed to do this (missing permission or scope)");
        // FHIR OperationOutcome and OAuth error_description keep working, and win over `error`.
        let oo = r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Slot is full"}]}"#;
        assert_eq!(plain_detail(oo, 422), "Slot is full");
        assert_eq!(plain_detail(r#"{"error":"invalid_client","error_description":"Client unknown"}"#, 401), "Client unknown");
        assert_eq!(plain_detail("<html>oops</html>", 500), "the server had an internal problem");
        assert_eq!(
            busy_detail(r#"{"error":"Too many requests, slow down."}"#, 429),
            "the server asked us to slow down and kept refusing (Too many requests, slow down.)"
        );
    }

    #[test]
    fn backoff_stays_under_the_capped_ceiling() {
        let http = FhirHttp::new(FhirHttp::default_agent(), "Test", Box::new(crate::auth::NoAuth))
            .with_policy(RetryPolicy { attempts: 10, base: Duration::from_millis(100), cap: Duration::from_millis(350) });
        for attempt in 1..=8 {
            let ceiling = Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_millis(350));
            for _ in 0..50 {
                assert!(http.backoff(attempt) <= ceiling, "attempt {attempt}");
            }
        }
    }
}
