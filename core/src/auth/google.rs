//! Google's OAuth 2.0 for installed apps ("OAuth 2.0 for Mobile & Desktop Apps",
//! developers.google.com/identity/protocols/oauth2/native-app), on [`LoopbackLogin`]:
//!
//! 1. Authorization request to [`AUTHORIZE_URL`] with `response_type=code`, the client ID, the
//!    loopback redirect `http://127.0.0.1:<port>/callback`, the scopes, `state`, PKCE S256, and
//!    `access_type=offline` (so Google issues a refresh token) plus `prompt=consent` (so it issues
//!    one again when staff reconnect an account that had already consented).
//! 2. The code is exchanged at [`TOKEN_URL`] with the PKCE `code_verifier` and, for a desktop
//!    client, its `client_secret` (Google: "not treated as a secret" for installed apps, but
//!    required; it is kept in the keychain anyway, account `integration:<name>:client-secret`).
//! 3. Later access tokens come from the refresh token ([`super::AuthConfig::InstalledApp`]);
//!    `invalid_grant` (revoked, expired, password changed) is [`AuthError::NeedsReconnect`].
//!
//! Scopes ([`CALENDAR_SCOPE`]): `calendar.freebusy` (freeBusy.query) and `calendar.events`
//! (events.list with sync tokens, events.insert, events.delete): the narrowest pair the Calendar
//! API reference accepts for those methods; `calendar.readonly` is not needed.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::loopback::LoopbackLogin;
use super::oauth::TokenSet;
use super::secrets::Secrets;
use super::{AuthConfig, AuthError};
use crate::store::key::KeyVault;

/// Google's authorization endpoint for installed apps.
pub const AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";

/// Google's token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Busy time of calendars (`freeBusy.query`).
pub const SCOPE_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";

/// Read and write events (`events.list`, `events.insert`, `events.delete`).
pub const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";

/// The scopes MedHarmony Desk asks Google for, space-separated.
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar.freebusy https://www.googleapis.com/auth/calendar.events";

/// What a Google sign-in needs. `Debug` hides the client secret.
#[derive(Clone, PartialEq, Eq)]
pub struct GoogleSignIn {
    /// The name staff know the connection by, used in messages (e.g. "Google Calendar").
    pub name: String,
    /// The OAuth client ID of MedHarmony Desk's desktop client, e.g. `1234-abc.apps.googleusercontent.com`.
    pub client_id: String,
    /// The desktop client's secret (Google issues one with every desktop client), `None` if the
    /// client has none.
    pub client_secret: Option<String>,
    /// The authorization endpoint ([`AUTHORIZE_URL`]; tests point it at a fake).
    pub authorize_url: String,
    /// The token endpoint ([`TOKEN_URL`]; tests point it at a fake).
    pub token_url: String,
    /// Space-separated scopes ([`CALENDAR_SCOPE`]).
    pub scope: String,
}

impl std::fmt::Debug for GoogleSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleSignIn")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("scope", &self.scope)
            .finish()
    }
}

impl GoogleSignIn {
    /// A sign-in against Google's real endpoints with [`CALENDAR_SCOPE`].
    pub fn new(name: &str, client_id: &str, client_secret: Option<&str>) -> Self {
        GoogleSignIn {
            name: name.to_string(),
            client_id: client_id.trim().to_string(),
            client_secret: client_secret.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            authorize_url: AUTHORIZE_URL.to_string(),
            token_url: TOKEN_URL.to_string(),
            scope: CALENDAR_SCOPE.to_string(),
        }
    }

    /// The settings to keep in the database after a successful sign-in (no secret).
    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig::InstalledApp {
            client_id: self.client_id.clone(),
            authorize_url: self.authorize_url.clone(),
            token_url: self.token_url.clone(),
            scope: self.scope.clone(),
        }
    }
}

/// Runs the browser sign-in: binds the loopback listener, calls `open_browser` with the
/// authorization URL (the desktop app opens it with its opener plugin, the CLI prints it), waits
/// at most `timeout` for Google's redirect (checking `cancel` every 100 ms), and exchanges the
/// code with the PKCE verifier and the client secret using `agent`.
///
/// The result always carries a refresh token, and Google granted every scope of `req.scope`
/// (its consent screen lets the user untick some).
///
/// # Errors
/// Those of [`LoopbackLogin::start_installed_app`] and [`LoopbackLogin::finish`]
/// ([`AuthError::Cancelled`], [`AuthError::TimedOut`], [`AuthError::StateMismatch`],
/// [`AuthError::Denied`], token errors); [`AuthError::Denied`] when the user did not allow every
/// permission asked for; [`AuthError::BadReply`] when Google issued no refresh token.
pub fn sign_in(
    req: &GoogleSignIn,
    open_browser: impl FnOnce(&str),
    cancel: &AtomicBool,
    timeout: Duration,
    agent: &ureq::Agent,
) -> Result<TokenSet, AuthError> {
    let login = LoopbackLogin::start_installed_app(
        &req.authorize_url,
        &req.token_url,
        &req.client_id,
        req.client_secret.as_deref(),
        &req.scope,
        &[("access_type", "offline"), ("prompt", "consent")],
    )?
    .with_name(&req.name);
    open_browser(&login.authorize_url);
    let tokens = login.finish(agent, timeout, cancel)?;
    check_granted(req, &tokens)?;
    Ok(tokens)
}

/// Checks that the reply has a refresh token and every scope asked for (when the reply lists
/// the granted scopes; RFC 6749 §5.1 lets a server omit them when they equal the request).
fn check_granted(req: &GoogleSignIn, tokens: &TokenSet) -> Result<(), AuthError> {
    if let Some(granted) = &tokens.scope {
        let granted: Vec<&str> = granted.split_whitespace().collect();
        let missing: Vec<&str> = req.scope.split_whitespace().filter(|s| !granted.contains(s)).collect();
        if !missing.is_empty() {
            let words: Vec<&str> = missing
                .iter()
                .map(|s| match *s {
                    SCOPE_FREEBUSY => "see when the calendars are busy",
                    SCOPE_EVENTS => "read and add calendar events",
                    other => other,
                })
                .collect();
            return Err(AuthError::Denied {
                system: req.name.clone(),
                reason: format!(
                    "not every permission MedHarmony Desk needs was allowed (missing: {}); connect again and tick every box",
                    words.join(", ")
                ),
                description: None,
            });
        }
    }
    if tokens.refresh_token.as_deref().is_none_or(str::is_empty) {
        return Err(AuthError::BadReply {
            system: req.name.clone(),
            detail: "Google did not issue a refresh token, so MedHarmony Desk could not stay signed in; try connecting again".into(),
        });
    }
    Ok(())
}

/// Stores what a successful [`sign_in`] yielded for the integration `integration_name`: the
/// refresh token (`integration:<name>:refresh-token`) and the client secret, when there is one
/// (`integration:<name>:client-secret`). Returns the [`AuthConfig::InstalledApp`] to keep in
/// the integration's settings.
///
/// # Errors
/// [`AuthError::Keychain`] when the keychain cannot be written; [`AuthError::BadReply`] when
/// `tokens` has no refresh token.
pub fn save_sign_in(vault: &dyn KeyVault, integration_name: &str, req: &GoogleSignIn, tokens: &TokenSet) -> Result<AuthConfig, AuthError> {
    let refresh = tokens.refresh_token.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| AuthError::BadReply {
        system: req.name.clone(),
        detail: "Google did not issue a refresh token".into(),
    })?;
    let secrets = Secrets::new(vault);
    if let Some(secret) = req.client_secret.as_deref() {
        secrets.store_client_secret(integration_name, secret)?;
    }
    secrets.store_refresh_token(integration_name, refresh)?;
    Ok(req.auth_config())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::key::tests::MemVault;
    use chrono::Utc;

    fn tokens(scope: Option<&str>, refresh: Option<&str>) -> TokenSet {
        TokenSet {
            access_token: "ya29.test".into(),
            expires_at: Utc::now(),
            refresh_token: refresh.map(str::to_string),
            scope: scope.map(str::to_string),
        }
    }

    #[test]
    fn defaults_are_googles_endpoints_and_the_two_calendar_scopes() {
        let req = GoogleSignIn::new("Google Calendar", " 123-abc.apps.googleusercontent.com ", Some(""));
        assert_eq!(req.authorize_url, "https://accounts.google.com/o/oauth2/v2/auth");
        assert_eq!(req.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(req.client_id, "123-abc.apps.googleusercontent.com");
        assert_eq!(req.client_secret, None);
        assert_eq!(
            req.scope.split(' ').collect::<Vec<_>>(),
            ["https://www.googleapis.com/auth/calendar.freebusy", "https://www.googleapis.com/auth/calendar.events"]
        );
        let json = serde_json::to_value(req.auth_config()).unwrap();
        assert_eq!(json["method"], "installed-app");
        assert_eq!(json["client_id"], "123-abc.apps.googleusercontent.com");
        assert_eq!(json["token_url"], TOKEN_URL);
        assert_eq!(serde_json::from_value::<AuthConfig>(json).unwrap(), req.auth_config());
    }

    #[test]
    fn debug_hides_the_client_secret() {
        let req = GoogleSignIn::new("Google Calendar", "c", Some("GOCSPX-abc"));
        let text = format!("{req:?}");
        assert!(!text.contains("GOCSPX-abc") && text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn a_sign_in_without_every_scope_or_a_refresh_token_is_refused() {
        let req = GoogleSignIn::new("Google Calendar", "c", None);
        assert!(check_granted(&req, &tokens(Some(CALENDAR_SCOPE), Some("1//rt"))).is_ok());
        assert!(check_granted(&req, &tokens(None, Some("1//rt"))).is_ok());
        let err = check_granted(&req, &tokens(Some(SCOPE_FREEBUSY), Some("1//rt"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Sign-in to Google Calendar was not completed: not every permission MedHarmony Desk needs was allowed \
             (missing: read and add calendar events); connect again and tick every box"
        );
        let err = check_granted(&req, &tokens(Some(CALENDAR_SCOPE), None)).unwrap_err();
        assert!(matches!(err, AuthError::BadReply { .. }), "{err:?}");
    }

    #[test]
    fn the_browser_is_given_the_authorization_url_and_a_cancel_ends_the_wait() {
        let mut req = GoogleSignIn::new("Google Calendar", "123-abc.apps.googleusercontent.com", Some("GOCSPX-abc"));
        req.token_url = "http://127.0.0.1:9/token".into();
        let mut opened = String::new();
        let err = sign_in(&req, |u| opened = u.to_string(), &AtomicBool::new(true), Duration::from_secs(60), &ureq::Agent::new()).unwrap_err();
        assert!(matches!(err, AuthError::Cancelled), "{err:?}");
        let url = url::Url::parse(&opened).unwrap();
        assert_eq!(url.host_str(), Some("accounts.google.com"));
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!((q["access_type"].as_str(), q["prompt"].as_str()), ("offline", "consent"));
        let started = std::time::Instant::now();
        let err = sign_in(&req, |_| {}, &AtomicBool::new(false), Duration::from_millis(300), &ureq::Agent::new()).unwrap_err();
        assert!(matches!(err, AuthError::TimedOut { .. }) && started.elapsed() >= Duration::from_millis(300), "{err:?}");
    }

    #[test]
    fn save_sign_in_stores_the_refresh_token_and_the_secret_in_the_keychain() {
        let vault = MemVault::default();
        let req = GoogleSignIn::new("Google Calendar", "c", Some("GOCSPX-abc"));
        let cfg = save_sign_in(&vault, "Dr Rivera Google", &req, &tokens(None, Some("1//rt-1"))).unwrap();
        assert_eq!(cfg, req.auth_config());
        let map = vault.map.borrow();
        assert_eq!(map.get("integration:Dr Rivera Google:refresh-token").map(String::as_str), Some("1//rt-1"));
        assert_eq!(map.get("integration:Dr Rivera Google:client-secret").map(String::as_str), Some("GOCSPX-abc"));
        drop(map);
        assert!(save_sign_in(&vault, "X", &req, &tokens(None, None)).is_err());
    }
}
