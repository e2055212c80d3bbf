//! Authorization for connectors.
//!
//! * [`discovery`]: the server's sign-in settings from `{base}/.well-known/smart-configuration`
//!   (SMART App Launch 2.x, "Conformance").
//! * [`signing`]: private keys and the signed JWT client assertion of SMART Backend Services
//!   (SMART App Launch 2.x "Client Authentication: Asymmetric"; RFC 7523 §2.2, §3).
//! * [`oauth`]: the token requests, made with the `oauth2` crate over `ureq`: client credentials
//!   with a JWT assertion, client credentials with a client secret over HTTP Basic (Oracle Health
//!   system accounts; RFC 6749 §2.3.1, §4.4), refresh token (RFC 6749 §6) and authorization code
//!   with PKCE (RFC 7636).
//! * [`loopback`]: user sign-in in the system browser with a redirect to a one-off listener on
//!   127.0.0.1 (RFC 8252 §7.3), authorization code + PKCE S256, `state` checked in constant time.
//! * [`token`]: [`TokenManager`], the [`TokenSource`] connectors use: caches the access token in
//!   memory and renews it 60 s before it expires.
//! * [`google`]: Google's OAuth for installed apps ([`google::sign_in`]), on the loopback sign-in
//!   with `access_type=offline`, `prompt=consent` and the desktop client's secret.
//! * [`secrets`]: the keychain entries (private key, client secret, refresh token, password) per integration.
//! * [`basic_credentials`]: user name and app password of HTTP Basic sign-in (CalDAV).
//!
//! Settings that are not secret live in the database as an [`AuthConfig`]; secrets live only in the
//! OS keychain. No error message and no log line ever contains a token, a secret or a key.

pub mod discovery;
pub mod google;
pub mod loopback;
pub mod oauth;
pub mod secrets;
pub mod signing;
pub mod token;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::store::key::KeyVault;

pub use discovery::{discover, SmartConfiguration};
pub use loopback::LoopbackLogin;
pub use oauth::TokenSet;
pub use secrets::Secrets;
pub use signing::{client_assertion, SigningKey};
pub use token::{Grant, TokenManager};

/// What can go wrong while authorizing, phrased for staff by `Display`.
///
/// `system` fields hold the name staff know the integration by (or, before an integration exists,
/// the server's host name). No variant ever carries a token, secret or key.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The server's `.well-known/smart-configuration` could not be read or is unusable.
    #[error("Could not read the sign-in settings of {url}: {detail}")]
    Discovery {
        /// The address that was asked.
        url: String,
        /// What went wrong, in plain words.
        detail: String,
    },
    /// A setting is wrong (an address that is not a web address, an empty client ID, …).
    #[error("{0}")]
    Config(String),
    /// The private key file cannot be used.
    #[error("The private key cannot be used: {0}")]
    InvalidKey(String),
    /// A secret this integration needs is not in this computer's keychain.
    #[error("The {what} for {system} is missing from this computer's keychain. Reconnect {system} on the Integrations page.")]
    MissingSecret {
        /// The integration's name.
        system: String,
        /// `private key`, `client secret`, `sign-in (refresh token)` or `password`.
        what: &'static str,
    },
    /// The OS keychain could not be used.
    #[error("This computer's keychain could not be used: {0}")]
    Keychain(String),
    /// The sign-in has expired or was revoked (`invalid_grant`, RFC 6749 §5.2): staff must reconnect.
    #[error("Sign-in to {system} has expired. Reconnect it on the Integrations page.")]
    NeedsReconnect {
        /// The integration's name.
        system: String,
    },
    /// The token endpoint refused the request (RFC 6749 §5.2 error other than `invalid_grant`).
    #[error("{system} refused MedHarmony Desk's sign-in: {reason}{}", server_words(.description))]
    Refused {
        /// The integration's name.
        system: String,
        /// The OAuth error code in plain words.
        reason: String,
        /// The server's `error_description`, if it sent one.
        description: Option<String>,
    },
    /// The user declined, or the authorization server reported an error on the redirect
    /// (`error=` on the loopback redirect, RFC 6749 §4.1.2.1).
    #[error("Sign-in to {system} was not completed: {reason}{}", server_words(.description))]
    Denied {
        /// The server's name.
        system: String,
        /// The error code in plain words, e.g. "access was declined".
        reason: String,
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// A redirect arrived whose `state` does not match this sign-in attempt; nothing was exchanged.
    #[error("The sign-in reply did not belong to this sign-in attempt, so MedHarmony Desk ignored it. Try connecting again.")]
    StateMismatch,
    /// The browser sign-in was not finished in time.
    #[error("Sign-in was not completed within {}. Try connecting again.", wait_words(*.seconds))]
    TimedOut {
        /// The time allowed, in seconds.
        seconds: u64,
    },
    /// The sign-in was cancelled from MedHarmony Desk.
    #[error("Sign-in was cancelled.")]
    Cancelled,
    /// The loopback listener could not be started or failed.
    #[error("MedHarmony Desk could not listen for the sign-in reply on this computer: {0}")]
    Loopback(String),
    /// The server could not be reached.
    #[error("Could not reach {system} to sign in: {detail}")]
    Unreachable {
        /// The integration's name.
        system: String,
        /// The transport's message (never contains a secret).
        detail: String,
    },
    /// The server's reply could not be read.
    #[error("{system} sent a sign-in reply MedHarmony Desk could not read ({detail})")]
    BadReply {
        /// The integration's name.
        system: String,
        /// What was wrong (never the reply's content).
        detail: String,
    },
    /// Anything else, already phrased for staff.
    #[error("{0}")]
    Other(String),
}

fn wait_words(seconds: u64) -> String {
    match seconds {
        60 => "1 minute".into(),
        s if s >= 60 && s % 60 == 0 => format!("{} minutes", s / 60),
        1 => "1 second".into(),
        s => format!("{s} seconds"),
    }
}

fn server_words(description: &Option<String>) -> String {
    match description {
        Some(d) if !d.trim().is_empty() => format!(" (the server said: {})", d.trim()),
        _ => String::new(),
    }
}

/// Supplies the bearer token for requests to one integration.
pub trait TokenSource: Send {
    /// The access token to send as `Authorization: Bearer …`, or `None` for a
    /// server that needs no sign-in. With `force_refresh` the cached token is
    /// discarded and a new one obtained (used once after an HTTP 401).
    ///
    /// # Errors
    /// [`AuthError`] when no token can be had.
    fn bearer(&mut self, force_refresh: bool) -> Result<Option<String>, AuthError>;
}

/// No sign-in (open test servers).
pub struct NoAuth;

impl TokenSource for NoAuth {
    fn bearer(&mut self, _force_refresh: bool) -> Result<Option<String>, AuthError> {
        Ok(None)
    }
}

/// How an integration signs in: the settings kept in the database. Never holds a secret; the
/// private key, client secret and refresh token are in the keychain (see [`Secrets`]).
///
/// Serialized with a `method` tag, e.g.
/// `{"method":"backend","client_id":"abc","token_url":"https://…/token","scope":"system/Slot.rs","kid":null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum AuthConfig {
    /// No sign-in.
    None,
    /// SMART Backend Services: client credentials with a JWT client assertion signed by the
    /// private key stored under `integration:<name>:private-key`.
    Backend {
        /// The client ID the EHR assigned at registration (the assertion's `iss` and `sub`).
        client_id: String,
        /// The token endpoint (the assertion's `aud`).
        token_url: String,
        /// Space-separated scopes, e.g. `system/Slot.rs system/Schedule.rs system/Appointment.cruds`.
        scope: String,
        /// The key ID registered with the EHR; `None` uses the key's RFC 7638 thumbprint
        /// (see [`SigningKey::thumbprint`]).
        #[serde(default)]
        kid: Option<String>,
    },
    /// Client credentials with a client secret sent over HTTP Basic (Oracle Health system
    /// accounts). The secret is stored under `integration:<name>:client-secret`.
    ClientSecret {
        /// The system account's client ID.
        client_id: String,
        /// The token endpoint.
        token_url: String,
        /// Space-separated scopes, e.g. `system/Slot.read system/Schedule.read`.
        scope: String,
    },
    /// SMART standalone launch by a user (authorization code + PKCE in the browser, see
    /// [`LoopbackLogin`]); afterwards the refresh token stored under
    /// `integration:<name>:refresh-token` renews access.
    Standalone {
        /// The app's client ID (a public client: no secret).
        client_id: String,
        /// The authorization endpoint.
        authorize_url: String,
        /// The token endpoint.
        token_url: String,
        /// Space-separated scopes asked for at sign-in, e.g.
        /// `openid fhirUser offline_access user/Slot.rs user/Schedule.rs user/Appointment.cruds`.
        scope: String,
    },
    /// An installed app signed in by a user in the browser (OAuth 2.0 for native apps, RFC 8252;
    /// Google "OAuth 2.0 for Mobile & Desktop Apps"): authorization code + PKCE, see
    /// [`google::sign_in`]. Access is renewed with the refresh token stored under
    /// `integration:<name>:refresh-token`, sending the client secret stored under
    /// `integration:<name>:client-secret` when there is one (Google desktop clients have a secret
    /// that is not confidential but required).
    ///
    /// Serialized as `{"method":"installed-app","client_id":"…","authorize_url":"…","token_url":"…","scope":"…"}`.
    InstalledApp {
        /// The OAuth client ID, e.g. `1234-abc.apps.googleusercontent.com`.
        client_id: String,
        /// The authorization endpoint, e.g. [`google::AUTHORIZE_URL`].
        authorize_url: String,
        /// The token endpoint, e.g. [`google::TOKEN_URL`].
        token_url: String,
        /// Space-separated scopes asked for at sign-in, e.g. [`google::CALENDAR_SCOPE`].
        scope: String,
    },
    /// HTTP Basic (RFC 7617) with a user name and an app password (CalDAV servers: iCloud,
    /// Fastmail, Nextcloud, Radicale). The password is stored under `integration:<name>:password`
    /// and sent by the connector itself on every request (see [`basic_credentials`]); no token
    /// is involved, so [`token_source`] gives [`NoAuth`] for it.
    Basic {
        /// The account's user name (for iCloud the Apple ID e-mail address).
        username: String,
    },
}

/// The user name and password of an [`AuthConfig::Basic`] integration, the password read from
/// the keychain (`integration:<name>:password`).
///
/// # Errors
/// [`AuthError::Config`] when `cfg` is not `Basic`, [`AuthError::MissingSecret`] ("The password
/// for `<name>` is missing from this computer's keychain. Reconnect …") when no password is
/// stored, [`AuthError::Keychain`] when the keychain cannot be used.
pub fn basic_credentials(cfg: &AuthConfig, integration_name: &str, vault: &dyn KeyVault) -> Result<(String, String), AuthError> {
    let AuthConfig::Basic { username } = cfg else {
        return Err(AuthError::Config(format!("{integration_name} does not sign in with a user name and password.")));
    };
    let password = Secrets::new(vault)
        .load_password(integration_name)?
        .ok_or_else(|| AuthError::MissingSecret { system: integration_name.to_string(), what: "password" })?;
    Ok((username.clone(), password))
}

/// Builds the [`TokenSource`] for an integration from its settings and the keychain.
///
/// `vault` is shared because a standalone sign-in stores each rotated refresh token back into it.
/// `agent` makes the token requests (its timeouts apply).
///
/// # Errors
/// [`AuthError::MissingSecret`] when the key, client secret or refresh token is not in the vault
/// ("The private key for `<name>` is missing from this computer's keychain. Reconnect …"),
/// [`AuthError::Keychain`] when the vault cannot be read, [`AuthError::InvalidKey`] for an unusable
/// stored key, [`AuthError::Config`] for an unusable token address.
pub fn token_source(
    cfg: &AuthConfig,
    integration_name: &str,
    vault: Arc<dyn KeyVault + Send + Sync>,
    agent: ureq::Agent,
) -> Result<Box<dyn TokenSource>, AuthError> {
    let secrets = Secrets::new(vault.as_ref());
    let missing = |what| AuthError::MissingSecret { system: integration_name.to_string(), what };
    let grant = match cfg {
        // No bearer token: a Basic integration's connector sends the user name and password itself.
        AuthConfig::None | AuthConfig::Basic { .. } => return Ok(Box::new(NoAuth)),
        AuthConfig::Backend { client_id, token_url, scope, kid } => {
            let pem = secrets.load_private_key(integration_name)?.ok_or_else(|| missing("private key"))?;
            let key = SigningKey::from_pem(&pem, kid.as_deref())?;
            Grant::Backend { client_id: client_id.clone(), token_url: token_url.clone(), scope: scope.clone(), key }
        }
        AuthConfig::ClientSecret { client_id, token_url, scope } => {
            let secret = secrets.load_client_secret(integration_name)?.ok_or_else(|| missing("client secret"))?;
            Grant::ClientSecret { client_id: client_id.clone(), token_url: token_url.clone(), scope: scope.clone(), secret }
        }
        AuthConfig::Standalone { client_id, token_url, .. } => {
            let refresh_token = secrets.load_refresh_token(integration_name)?.ok_or_else(|| missing("sign-in (refresh token)"))?;
            Grant::RefreshToken {
                client_id: client_id.clone(),
                client_secret: None,
                token_url: token_url.clone(),
                refresh_token,
                vault: Some(vault.clone()),
            }
        }
        AuthConfig::InstalledApp { client_id, token_url, .. } => {
            let refresh_token = secrets.load_refresh_token(integration_name)?.ok_or_else(|| missing("sign-in (refresh token)"))?;
            let client_secret = secrets.load_client_secret(integration_name)?;
            Grant::RefreshToken {
                client_id: client_id.clone(),
                client_secret,
                token_url: token_url.clone(),
                refresh_token,
                vault: Some(vault.clone()),
            }
        }
    };
    Ok(Box::new(TokenManager::new(integration_name, agent, grant)?))
}

/// The host of `url` for messages ("fhir.example.org"), or the whole text when it is no URL.
pub(crate) fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| url.to_string())
}

/// Checks that `url` is an absolute `http`/`https` address; `what` names it in the error.
pub(crate) fn check_url(url: &str, what: &str) -> Result<url::Url, AuthError> {
    match url::Url::parse(url.trim()) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host_str().is_some() => Ok(u),
        _ => Err(AuthError::Config(format!("The {what} '{url}' is not a web address (it should start with https://)."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;


    #[test]
    fn auth_config_serializes_with_a_method_tag_and_no_secret() {
        let cfg = AuthConfig::Backend {
            client_id: "desk-123".into(),
            token_url: "https://ehr.example.org/token".into(),
            scope: "system/Slot.rs".into(),
            kid: None,
        };
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"method": "backend", "client_id": "desk-123", "token_url": "https://ehr.example.org/token",
                               "scope": "system/Slot.rs", "kid": null})
        );
        assert_eq!(serde_json::from_value::<AuthConfig>(json).unwrap(), cfg);
        assert_eq!(serde_json::to_value(AuthConfig::None).unwrap(), serde_json::json!({"method": "none"}));
        let basic = AuthConfig::Basic { username: "rivera@example.com".into() };
        assert_eq!(serde_json::to_value(&basic).unwrap(), serde_json::json!({"method": "basic", "username": "rivera@example.com"}));
        let secret = serde_json::json!({"method": "client-secret", "client_id": "a", "token_url": "https://t", "scope": "s"});
        assert!(matches!(serde_json::from_value::<AuthConfig>(secret).unwrap(), AuthConfig::ClientSecret { .. }));
    }

    #[test]
    fn missing_secrets_are_named_in_plain_words() {
        let vault: Arc<dyn KeyVault + Send + Sync> = Arc::new(crate::store::key::MemoryVault::default());
        let agent = ureq::Agent::new();
        let backend = AuthConfig::Backend {
            client_id: "c".into(),
            token_url: "https://ehr.example.org/token".into(),
            scope: "system/Slot.rs".into(),
            kid: None,
        };
        let err = token_source(&backend, "Main Street Clinic", vault.clone(), agent.clone()).err().unwrap();
        assert_eq!(
            err.to_string(),
            "The private key for Main Street Clinic is missing from this computer's keychain. \
             Reconnect Main Street Clinic on the Integrations page."
        );
        let standalone = AuthConfig::Standalone {
            client_id: "c".into(),
            authorize_url: "https://ehr.example.org/authorize".into(),
            token_url: "https://ehr.example.org/token".into(),
            scope: "openid".into(),
        };
        let err = token_source(&standalone, "Epic", vault.clone(), agent.clone()).err().unwrap();
        assert!(matches!(err, AuthError::MissingSecret { what: "sign-in (refresh token)", .. }), "{err}");
        let none = token_source(&AuthConfig::None, "Open server", vault.clone(), agent.clone()).unwrap().bearer(false).unwrap();
        assert_eq!(none, None);

        // Basic: no bearer token; the password comes from the keychain, named when missing.
        let basic = AuthConfig::Basic { username: "rivera".into() };
        assert_eq!(token_source(&basic, "iCloud", vault.clone(), agent).unwrap().bearer(false).unwrap(), None);
        let err = basic_credentials(&basic, "iCloud", vault.as_ref()).unwrap_err();
        assert_eq!(err.to_string(), "The password for iCloud is missing from this computer's keychain. Reconnect iCloud on the Integrations page.");
        Secrets::new(vault.as_ref()).store_password("iCloud", "abcd-efgh-ijkl-mnop").unwrap();
        assert_eq!(basic_credentials(&basic, "iCloud", vault.as_ref()).unwrap(), ("rivera".to_string(), "abcd-efgh-ijkl-mnop".to_string()));
        assert!(matches!(basic_credentials(&AuthConfig::None, "iCloud", vault.as_ref()), Err(AuthError::Config(_))));
    }

    #[test]
    fn refused_includes_server_words_only_when_given() {
        let e = AuthError::Refused { system: "Epic".into(), reason: "it does not allow the access asked for".into(), description: None };
        assert_eq!(e.to_string(), "Epic refused MedHarmony Desk's sign-in: it does not allow the access asked for");
        let e = AuthError::Refused { system: "Epic".into(), reason: "x".into(), description: Some("unknown scope".into()) };
        assert_eq!(e.to_string(), "Epic refused MedHarmony Desk's sign-in: x (the server said: unknown scope)");
    }
}
