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
//!   OperationOutcome's text (or a Google error body's, see
//!   [`super::google::map::google_error_text`]) in plain words.
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
        self.send("GET", url, None, None)
    }

    /// `POST url` with a FHIR JSON body.
    ///
    /// # Errors
    /// See the module documentation.
    pub fn post(&mut self, url: &str, body: &Value) -> Result<Reply, ConnectorError> {
        self.send("POST", url, Some(body), None)
    }

    /// `PUT url` with a FHIR JSON body and an optional `If-Match` (an ETag).
    ///
    /// # Errors
    /// See the module documentation.
    pub fn put(&mut self, url: &str, body: &Value, if_match: Option<&str>) -> Result<Reply, ConnectorError> {
        self.send("PUT", url, Some(body), if_match)
    }

    /// `DELETE url` (an empty reply body is `Value::Null`).
    ///
    /// # Errors
    /// See the module documentation.
    pub fn delete(&mut self, url: &str) -> Result<Reply, ConnectorError> {
        self.send("DELETE", url, None, None)
    }

    fn send(&mut self, method: &str, url: &str, body: Option<&Value>, if_match: Option<&str>) -> Result<Reply, ConnectorError> {
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

    fn once(&mut self, method: &str, url: &str, body: Option<&Value>, if_match: Option<&str>, token: Option<&str>) -> Result<Reply, Failure> {
        let mut req = self.agent.request(method, url).set("Accept", "application/fhir+json, application/json;q=0.9");
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        if let Some(tag) = if_match {
            req = req.set("If-Match", tag);
        }
        let resp = match body {
            Some(b) => req.set("Content-Type", self.content_type).send_string(&b.to_string()),
            None => req.call(),
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

/// Plain words for an error body: the OperationOutcome's text when there is
/// one, else a phrase for the status.
fn plain_detail(body: &str, status: u16) -> String {
    if let Some(text) = serde_json::from_str::<Value>(body).ok().as_ref().and_then(operation_outcome_text) {
        return text;
    }
    if let Some(text) = serde_json::from_str::<Value>(body).ok().as_ref().and_then(google_error_text) {
        return text;
    }
    if let Some(desc) = serde_json::from_str::<Value>(body).ok().and_then(|v| v.get("error_description").and_then(Value::as_str).map(str::to_string)) {
        return desc;
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
    let v = serde_json::from_str::<Value>(body).ok();
    match v.as_ref().and_then(|v| operation_outcome_text(v).or_else(|| google_error_text(v))) {
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
