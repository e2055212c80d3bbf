//! Token requests, made with the `oauth2` crate (its `ureq` client) so no OAuth message is built
//! by hand:
//! * client credentials with a JWT client assertion (SMART Backend Services; the assertion goes in
//!   `client_assertion` / `client_assertion_type` as extra parameters, RFC 7523 §2.2);
//! * client credentials with a client secret over HTTP Basic (RFC 6749 §2.3.1, §4.4; Oracle Health
//!   system accounts);
//! * refresh token (RFC 6749 §6), for a public client (`client_id` in the body), or with a
//!   client secret in the body for installed apps whose provider issues one (Google desktop
//!   clients: "OAuth 2.0 for Mobile & Desktop Apps", step 5 and "Refreshing an access token");
//! * authorization code with the PKCE verifier (RFC 6749 §4.1.3, RFC 7636 §4.5), likewise with
//!   an optional client secret in the body.
//!
//! `ureq` 2 reports HTTP 4xx/5xx as errors, which `oauth2`'s own `ureq` glue passes on without the
//! body; `call` here turns them back into responses so `oauth2` can read the RFC 6749 §5.2 error
//! (`invalid_grant`, `invalid_client`, …) and its `error_description`.
//!
//! For assertion requests the crate also sends `client_id` in the body (it always does without a
//! client secret); RFC 7521 §4.2 allows that and servers ignore or check it against `iss`.

use std::cell::Cell;
use std::io::Read as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthorizationCode, ClientId, ClientSecret, HttpClientError, HttpRequest, HttpResponse, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, SyncHttpClient, TokenResponse as _, TokenUrl,
};

use super::signing::{client_assertion, SigningKey, JWT_BEARER_ASSERTION_TYPE};
use super::AuthError;

/// Lifetime assumed when a token response has no `expires_in`: 5 minutes, SMART Backend
/// Services' recommended lifetime (the token is then renewed early rather than late).
pub const DEFAULT_LIFETIME_SECS: i64 = 300;

/// Largest token endpoint reply read, in bytes.
const MAX_REPLY_BYTES: u64 = 1 << 20;

/// What a token endpoint granted. `Debug` hides the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    /// The bearer access token.
    pub access_token: String,
    /// When it expires (UTC): the time of the reply plus `expires_in`, or plus
    /// [`DEFAULT_LIFETIME_SECS`] when the server gave none.
    pub expires_at: DateTime<Utc>,
    /// A refresh token, when the server issued one (user sign-in with `offline_access`).
    pub refresh_token: Option<String>,
    /// The scopes granted, space-separated, when the server said.
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenSet {
    fn from_response(response: &BasicTokenResponse, received: DateTime<Utc>) -> Self {
        let lifetime = response
            .expires_in()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .unwrap_or_else(|| chrono::Duration::seconds(DEFAULT_LIFETIME_SECS));
        TokenSet {
            access_token: response.access_token().secret().clone(),
            expires_at: received + lifetime,
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            scope: response.scopes().map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        }
    }
}

/// Sends one request through `agent` with `oauth2`'s ureq glue, turning ureq's status errors into
/// ordinary responses and remembering the status in `status` (for messages about unreadable replies).
pub(crate) fn call(
    agent: &ureq::Agent,
    status: &Cell<Option<u16>>,
    request: HttpRequest,
) -> Result<HttpResponse, HttpClientError<ureq::Error>> {
    match SyncHttpClient::call(agent, request) {
        Ok(response) => {
            status.set(Some(response.status().as_u16()));
            Ok(response.map(numeric_expires_in))
        }
        Err(HttpClientError::Reqwest(error)) => match *error {
            ureq::Error::Status(code, response) => {
                status.set(Some(code));
                let content_type = response.header("Content-Type").map(str::to_string);
                let mut body = Vec::new();
                response.into_reader().take(MAX_REPLY_BYTES).read_to_end(&mut body)?;
                let mut builder = oauth2::http::Response::builder().status(code);
                if let Some(ct) = content_type {
                    builder = builder.header(oauth2::http::header::CONTENT_TYPE, ct);
                }
                builder.body(body).map_err(HttpClientError::Http)
            }
            other => Err(HttpClientError::Reqwest(Box::new(other))),
        },
        Err(other) => Err(other),
    }
}

/// Rewrites a token reply whose `expires_in` is a string of digits (`"expires_in": "3600"`, as
/// athenahealth's token endpoint has been seen to send) into the JSON number RFC 6749 §5.1 asks
/// for, so `oauth2` can read it; any other body is passed on untouched.
fn numeric_expires_in(body: Vec<u8>) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut reply)) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    let seconds = match reply.get("expires_in") {
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match seconds {
        Some(n) => {
            reply.insert("expires_in".into(), n.into());
            serde_json::to_vec(&reply).unwrap_or(body)
        }
        None => body,
    }
}

type TokenError = RequestTokenError<HttpClientError<ureq::Error>, BasicErrorResponse>;

/// RFC 6749 §5.2 error codes in plain words.
fn reason(code: &BasicErrorResponseType) -> String {
    match code {
        BasicErrorResponseType::InvalidClient => {
            "it did not accept MedHarmony Desk's client credentials (check the client ID and the key or secret registered with it)".into()
        }
        BasicErrorResponseType::InvalidRequest => "it found the request incomplete or malformed".into(),
        BasicErrorResponseType::InvalidScope => "it does not allow the access asked for (scope)".into(),
        BasicErrorResponseType::UnauthorizedClient => "this client is not allowed to sign in this way".into(),
        BasicErrorResponseType::UnsupportedGrantType => "it does not support this kind of sign-in".into(),
        BasicErrorResponseType::InvalidGrant => "the sign-in has expired or was revoked".into(),
        BasicErrorResponseType::Extension(code) => format!("it reported '{code}'"),
    }
}

/// Turns a failed token request into an [`AuthError`] naming `system`; never includes a token.
fn token_error(system: &str, error: TokenError, status: Option<u16>) -> AuthError {
    let status_words = status.map(|s| format!("HTTP {s}, ")).unwrap_or_default();
    match error {
        RequestTokenError::ServerResponse(response) => {
            let description = response.error_description().map(|d| d.chars().take(300).collect::<String>());
            match response.error() {
                BasicErrorResponseType::InvalidGrant => {
                    tracing::info!(integration = system, "token endpoint answered invalid_grant");
                    AuthError::NeedsReconnect { system: system.to_string() }
                }
                code => {
                    tracing::warn!(integration = system, error = code.as_ref(), "token endpoint refused the request");
                    AuthError::Refused { system: system.to_string(), reason: reason(code), description }
                }
            }
        }
        RequestTokenError::Request(HttpClientError::Reqwest(e)) => {
            AuthError::Unreachable { system: system.to_string(), detail: e.to_string() }
        }
        RequestTokenError::Request(HttpClientError::Io(e)) => {
            AuthError::Unreachable { system: system.to_string(), detail: format!("the connection failed ({})", e.kind()) }
        }
        RequestTokenError::Request(e) => AuthError::Unreachable { system: system.to_string(), detail: e.to_string() },
        RequestTokenError::Parse(e, _body) => {
            let path = e.path().to_string();
            let at = if path == "." { String::new() } else { format!(" at '{path}'") };
            AuthError::BadReply { system: system.to_string(), detail: format!("{status_words}not a token reply{at}") }
        }
        RequestTokenError::Other(why) => AuthError::BadReply { system: system.to_string(), detail: format!("{status_words}{why}") },
    }
}

fn token_url(url: &str) -> Result<TokenUrl, AuthError> {
    super::check_url(url, "token address")?;
    TokenUrl::new(url.trim().to_string()).map_err(|_| AuthError::Config(format!("The token address '{url}' is not a web address.")))
}

fn scopes(scope: &str) -> impl Iterator<Item = Scope> + '_ {
    scope.split_whitespace().map(|s| Scope::new(s.to_string()))
}

/// SMART Backend Services: client credentials authenticated by a fresh JWT assertion signed with
/// `key` (see [`client_assertion`]); `scope` space-separated (required by SMART).
///
/// # Errors
/// [`AuthError::Refused`] (e.g. `invalid_client` for a key the server does not know),
/// [`AuthError::NeedsReconnect`] for `invalid_grant`, [`AuthError::Unreachable`], [`AuthError::BadReply`].
pub fn backend_token(
    agent: &ureq::Agent,
    system: &str,
    url: &str,
    client_id: &str,
    scope: &str,
    key: &SigningKey,
) -> Result<TokenSet, AuthError> {
    let client = BasicClient::new(ClientId::new(client_id.to_string())).set_token_uri(token_url(url)?);
    let assertion = client_assertion(client_id, url.trim(), key, Utc::now())?;
    let status = Cell::new(None);
    let http = |request| call(agent, &status, request);
    tracing::debug!(integration = system, "requesting an access token (client credentials, JWT assertion)");
    let response = client
        .exchange_client_credentials()
        .add_scopes(scopes(scope))
        .add_extra_param("client_assertion_type", JWT_BEARER_ASSERTION_TYPE)
        .add_extra_param("client_assertion", assertion)
        .request(&http)
        .map_err(|e| token_error(system, e, status.get()))?;
    Ok(TokenSet::from_response(&response, Utc::now()))
}

/// Client credentials with `client_id`/`secret` over HTTP Basic (each URL-encoded first, as RFC
/// 6749 §2.3.1 requires); `scope` space-separated.
///
/// # Errors
/// As [`backend_token`].
pub fn client_secret_token(
    agent: &ureq::Agent,
    system: &str,
    url: &str,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> Result<TokenSet, AuthError> {
    let client = BasicClient::new(ClientId::new(client_id.to_string()))
        .set_client_secret(ClientSecret::new(secret.to_string()))
        .set_auth_type(oauth2::AuthType::BasicAuth)
        .set_token_uri(token_url(url)?);
    let status = Cell::new(None);
    let http = |request| call(agent, &status, request);
    tracing::debug!(integration = system, "requesting an access token (client credentials, client secret)");
    let response =
        client.exchange_client_credentials().add_scopes(scopes(scope)).request(&http).map_err(|e| token_error(system, e, status.get()))?;
    Ok(TokenSet::from_response(&response, Utc::now()))
}

/// Refresh-token grant for a public client (`client_id` in the body, no scope: the original scope
/// applies, RFC 6749 §6). The returned [`TokenSet::refresh_token`] is the rotated one when the
/// server issued a new one.
///
/// # Errors
/// [`AuthError::NeedsReconnect`] for `invalid_grant` (expired or revoked sign-in), otherwise as
/// [`backend_token`].
pub fn refresh_token(agent: &ureq::Agent, system: &str, url: &str, client_id: &str, refresh_token: &str) -> Result<TokenSet, AuthError> {
    refresh_token_with_secret(agent, system, url, client_id, None, refresh_token)
}

/// [`refresh_token`] for an installed app that has a client secret: `client_id` and
/// `client_secret` both go in the form body (RFC 6749 §2.3.1 allows the body; Google's
/// "Refreshing an access token (offline access)" sends them there). With `client_secret` = `None`
/// it is exactly [`refresh_token`].
///
/// # Errors
/// As [`refresh_token`]; a wrong secret is [`AuthError::Refused`] (`invalid_client`), never echoed.
pub fn refresh_token_with_secret(
    agent: &ureq::Agent,
    system: &str,
    url: &str,
    client_id: &str,
    client_secret: Option<&str>,
    refresh_token: &str,
) -> Result<TokenSet, AuthError> {
    let client = with_body_secret(BasicClient::new(ClientId::new(client_id.to_string())), client_secret).set_token_uri(token_url(url)?);
    let status = Cell::new(None);
    let http = |request| call(agent, &status, request);
    tracing::debug!(integration = system, with_secret = client_secret.is_some(), "requesting an access token (refresh token)");
    let token = RefreshToken::new(refresh_token.to_string());
    let response = client.exchange_refresh_token(&token).request(&http).map_err(|e| token_error(system, e, status.get()))?;
    Ok(TokenSet::from_response(&response, Utc::now()))
}

/// Adds `secret` (when given) as a client secret sent in the request body (`client_secret`
/// form parameter), the way installed apps send theirs.
fn with_body_secret(client: BasicClient, secret: Option<&str>) -> BasicClient {
    match secret.filter(|s| !s.is_empty()) {
        Some(s) => client.set_client_secret(ClientSecret::new(s.to_string())).set_auth_type(oauth2::AuthType::RequestBody),
        None => client,
    }
}

/// Authorization-code grant with the PKCE verifier, for a public client, or with `client_secret`
/// in the body when the installed app has one (Google desktop clients).
#[allow(clippy::too_many_arguments)]
pub(crate) fn exchange_code(
    agent: &ureq::Agent,
    system: &str,
    url: &str,
    client_id: &str,
    client_secret: Option<&str>,
    redirect_uri: &str,
    code: &str,
    verifier: PkceCodeVerifier,
) -> Result<TokenSet, AuthError> {
    let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| AuthError::Loopback(e.to_string()))?;
    let client = with_body_secret(BasicClient::new(ClientId::new(client_id.to_string())), client_secret)
        .set_token_uri(token_url(url)?)
        .set_redirect_uri(redirect);
    let status = Cell::new(None);
    let http = |request| call(agent, &status, request);
    tracing::debug!(integration = system, "exchanging the authorization code");
    let response =
        client.exchange_code(AuthorizationCode::new(code.to_string())).set_pkce_verifier(verifier).request(&http).map_err(|e| {
            match token_error(system, e, status.get()) {
                // A first sign-in has nothing to reconnect: say the code was refused.
                AuthError::NeedsReconnect { system } => AuthError::Refused {
                    system,
                    reason: "it did not accept the sign-in code (it may have expired); try connecting again".into(),
                    description: None,
                },
                other => other,
            }
        })?;
    Ok(TokenSet::from_response(&response, Utc::now()))
}

/// A ureq agent suited to token requests: 30 s timeout, no redirects (a token endpoint has no
/// reason to redirect, and following one could send credentials elsewhere).
pub fn token_agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).redirects(0).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_set_debug_hides_tokens() {
        let set = TokenSet {
            access_token: "at-secret".into(),
            expires_at: DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z").unwrap().with_timezone(&Utc),
            refresh_token: Some("rt-secret".into()),
            scope: Some("user/Slot.rs".into()),
        };
        let text = format!("{set:?}");
        assert!(!text.contains("at-secret") && !text.contains("rt-secret"), "{text}");
        assert!(text.contains("<redacted>") && text.contains("user/Slot.rs"));
    }

    #[test]
    fn lifetime_defaults_to_five_minutes() {
        let response: BasicTokenResponse =
            serde_json::from_value(serde_json::json!({"access_token": "a", "token_type": "Bearer"})).unwrap();
        let now = Utc::now();
        let set = TokenSet::from_response(&response, now);
        assert_eq!(set.expires_at - now, chrono::Duration::seconds(300));
        assert_eq!(set.refresh_token, None);
        let response: BasicTokenResponse = serde_json::from_value(serde_json::json!({
            "access_token": "a", "token_type": "bearer", "expires_in": 3600, "scope": "system/Slot.rs system/Schedule.rs", "patient": "x"
        }))
        .unwrap();
        let set = TokenSet::from_response(&response, now);
        assert_eq!(set.expires_at - now, chrono::Duration::seconds(3600));
        assert_eq!(set.scope.as_deref(), Some("system/Slot.rs system/Schedule.rs"));
    }

    #[test]
    fn a_string_expires_in_is_read_as_seconds() {
        let body = br#"{"access_token":"a","token_type":"Bearer","expires_in":"3600","scope":"athena/service/Athenanet.MDP.*"}"#.to_vec();
        let response: BasicTokenResponse = serde_json::from_slice(&numeric_expires_in(body)).unwrap();
        let now = Utc::now();
        assert_eq!(TokenSet::from_response(&response, now).expires_at - now, chrono::Duration::seconds(3600));
        // Anything else is left exactly as it came.
        for untouched in [&br#"{"access_token":"a","token_type":"Bearer","expires_in":3600}"#[..], br#"{"expires_in":"soon"}"#, b"not json"] {
            assert_eq!(numeric_expires_in(untouched.to_vec()), untouched.to_vec());
        }
    }

    #[test]
    fn invalid_grant_needs_reconnect_and_other_codes_are_plain_words() {
        let err: BasicErrorResponse = serde_json::from_value(serde_json::json!({"error": "invalid_grant"})).unwrap();
        let e = token_error("Epic", RequestTokenError::ServerResponse(err), Some(400));
        assert_eq!(e.to_string(), "Sign-in to Epic has expired. Reconnect it on the Integrations page.");
        let err: BasicErrorResponse =
            serde_json::from_value(serde_json::json!({"error": "invalid_scope", "error_description": "system/Foo.rs is unknown"})).unwrap();
        let e = token_error("Epic", RequestTokenError::ServerResponse(err), Some(400));
        assert_eq!(
            e.to_string(),
            "Epic refused MedHarmony Desk's sign-in: it does not allow the access asked for (scope) (the server said: system/Foo.rs is unknown)"
        );
    }
}
