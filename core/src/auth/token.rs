//! [`TokenManager`]: the [`TokenSource`] of a signed-in integration.
//!
//! The access token lives in memory only, with its expiry; it is reused until less than
//! [`REFRESH_MARGIN_SECS`] (60 s) of its lifetime is left, then a new one is obtained the way the
//! integration signs in ([`Grant`]). `bearer(true)` (the HTTP layer's one retry after a 401)
//! discards the cached token first. A user sign-in renews with its refresh token and stores any
//! rotated refresh token back into the keychain.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::store::key::KeyVault;

use super::oauth::{backend_token, client_secret_token, refresh_token_with_secret, TokenSet};
use super::secrets::Secrets;
use super::signing::SigningKey;
use super::{check_url, AuthError, TokenSource};

/// A cached access token is replaced when less than this many seconds of its lifetime are left.
pub const REFRESH_MARGIN_SECS: i64 = 60;

/// How a [`TokenManager`] obtains access tokens. `Debug` hides secrets.
pub enum Grant {
    /// SMART Backend Services: client credentials with a JWT assertion signed by `key`.
    Backend {
        /// The registered client ID.
        client_id: String,
        /// The token endpoint.
        token_url: String,
        /// Space-separated scopes.
        scope: String,
        /// The signing key (with its `kid`).
        key: SigningKey,
    },
    /// Client credentials with a client secret over HTTP Basic.
    ClientSecret {
        /// The system account's client ID.
        client_id: String,
        /// The token endpoint.
        token_url: String,
        /// Space-separated scopes.
        scope: String,
        /// The client secret.
        secret: String,
    },
    /// Refresh-token grant of a user sign-in (public client, or an installed app with a client
    /// secret such as a Google desktop client).
    RefreshToken {
        /// The app's client ID.
        client_id: String,
        /// The installed app's client secret, sent in the request body; `None` for a public client.
        client_secret: Option<String>,
        /// The token endpoint.
        token_url: String,
        /// The current refresh token.
        refresh_token: String,
        /// Where a rotated refresh token is stored (under the integration's name); `None` keeps
        /// it in memory only.
        vault: Option<Arc<dyn KeyVault + Send + Sync>>,
    },
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::Backend { client_id, token_url, key, .. } => {
                f.debug_struct("Backend").field("client_id", client_id).field("token_url", token_url).field("kid", &key.kid()).finish()
            }
            Grant::ClientSecret { client_id, token_url, .. } => {
                f.debug_struct("ClientSecret").field("client_id", client_id).field("token_url", token_url).finish_non_exhaustive()
            }
            Grant::RefreshToken { client_id, token_url, .. } => {
                f.debug_struct("RefreshToken").field("client_id", client_id).field("token_url", token_url).finish_non_exhaustive()
            }
        }
    }
}

impl Grant {
    fn token_url(&self) -> &str {
        match self {
            Grant::Backend { token_url, .. } | Grant::ClientSecret { token_url, .. } | Grant::RefreshToken { token_url, .. } => token_url,
        }
    }
}

/// Keeps one integration's access token and renews it. `Debug` hides the token.
#[derive(Debug)]
pub struct TokenManager {
    system: String,
    agent: ureq::Agent,
    grant: Grant,
    cached: Option<Cached>,
}

struct Cached {
    access_token: String,
    expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager for the integration staff know as `integration_name` (used in messages and as
    /// the keychain name for rotated refresh tokens), making token requests with `agent`.
    ///
    /// # Errors
    /// [`AuthError::Config`] when the grant's token URL is not an http(s) address.
    pub fn new(integration_name: &str, agent: ureq::Agent, grant: Grant) -> Result<Self, AuthError> {
        check_url(grant.token_url(), "token address")?;
        Ok(TokenManager { system: integration_name.to_string(), agent, grant, cached: None })
    }

    /// Starts with an access token already obtained (e.g. the one a browser sign-in returned),
    /// so the first request needs no token request.
    pub fn with_token(mut self, tokens: &TokenSet) -> Self {
        self.cached = Some(Cached { access_token: tokens.access_token.clone(), expires_at: tokens.expires_at });
        self
    }

    /// When the cached access token expires (UTC), `None` when none is cached.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.cached.as_ref().map(|c| c.expires_at)
    }

    fn fetch(&mut self) -> Result<TokenSet, AuthError> {
        match &mut self.grant {
            Grant::Backend { client_id, token_url, scope, key } => {
                backend_token(&self.agent, &self.system, token_url, client_id, scope, key)
            }
            Grant::ClientSecret { client_id, token_url, scope, secret } => {
                client_secret_token(&self.agent, &self.system, token_url, client_id, secret, scope)
            }
            Grant::RefreshToken { client_id, client_secret, token_url, refresh_token: current, vault } => {
                // Another sync, booking or program on this computer may have renewed (and, with
                // rotation, replaced) the refresh token since this manager read it: use the
                // keychain's latest, or the server would refuse the old one as `invalid_grant`.
                if let Some(latest) = vault.as_ref().and_then(|v| Secrets::new(v.as_ref()).load_refresh_token(&self.system).ok().flatten()) {
                    if latest != *current {
                        *current = latest;
                    }
                }
                let tokens = refresh_token_with_secret(&self.agent, &self.system, token_url, client_id, client_secret.as_deref(), current)?;
                if let Some(rotated) = tokens.refresh_token.as_deref().filter(|t| *t != current.as_str()) {
                    *current = rotated.to_string();
                    if let Some(vault) = vault {
                        // The new access token is good either way; a failed save only means the
                        // next start of the app asks staff to reconnect.
                        if let Err(e) = Secrets::new(vault.as_ref()).store_refresh_token(&self.system, rotated) {
                            tracing::warn!(integration = self.system.as_str(), error = %e, "could not save the rotated refresh token");
                        }
                    }
                    tracing::debug!(integration = self.system.as_str(), "refresh token rotated");
                }
                Ok(tokens)
            }
        }
    }
}

impl TokenSource for TokenManager {
    fn bearer(&mut self, force_refresh: bool) -> Result<Option<String>, AuthError> {
        if force_refresh {
            self.cached = None;
        }
        let now = Utc::now();
        if let Some(c) = &self.cached {
            if c.expires_at - now > Duration::seconds(REFRESH_MARGIN_SECS) {
                return Ok(Some(c.access_token.clone()));
            }
        }
        self.cached = None;
        let tokens = self.fetch()?;
        tracing::debug!(integration = self.system.as_str(), expires_at = %tokens.expires_at, "new access token");
        self.cached = Some(Cached { access_token: tokens.access_token.clone(), expires_at: tokens.expires_at });
        Ok(Some(tokens.access_token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager() -> TokenManager {
        let grant = Grant::ClientSecret {
            client_id: "c".into(),
            token_url: "http://127.0.0.1:9/token".into(),
            scope: "system/Slot.read".into(),
            secret: "hunter2".into(),
        };
        TokenManager::new("Oracle Health", ureq::Agent::new(), grant).unwrap()
    }

    fn tokens(access: &str, lifetime_secs: i64) -> TokenSet {
        TokenSet {
            access_token: access.into(),
            expires_at: Utc::now() + Duration::seconds(lifetime_secs),
            refresh_token: None,
            scope: None,
        }
    }

    #[test]
    fn a_fresh_cached_token_is_reused_without_a_request() {
        // The token URL points at a closed port: any request would fail.
        let mut m = manager().with_token(&tokens("at-cached", 3600));
        assert_eq!(m.bearer(false).unwrap().as_deref(), Some("at-cached"));
        assert_eq!(m.bearer(false).unwrap().as_deref(), Some("at-cached"));
    }

    #[test]
    fn a_token_within_60_seconds_of_expiry_or_forced_is_renewed() {
        let mut m = manager().with_token(&tokens("at-old", 59));
        assert!(matches!(m.bearer(false), Err(AuthError::Unreachable { .. })));
        assert_eq!(m.expires_at(), None, "the stale token is dropped");
        let mut m = manager().with_token(&tokens("at-cached", 3600));
        assert!(matches!(m.bearer(true), Err(AuthError::Unreachable { .. })));
    }

    #[test]
    fn debug_hides_secrets_and_tokens() {
        let m = manager().with_token(&tokens("at-cached", 3600));
        let text = format!("{m:?}");
        assert!(!text.contains("hunter2") && !text.contains("at-cached"), "{text}");
    }

    #[test]
    fn a_token_url_that_is_not_a_web_address_is_refused() {
        let grant =
            Grant::RefreshToken { client_id: "c".into(), client_secret: None, token_url: "token".into(), refresh_token: "r".into(), vault: None };
        assert!(matches!(TokenManager::new("Epic", ureq::Agent::new(), grant), Err(AuthError::Config(_))));
    }

    #[test]
    fn a_refresh_uses_the_latest_refresh_token_in_the_keychain_and_stores_the_rotated_one() {
        // A one-request token endpoint that records the form it got and rotates the token.
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let seen = std::thread::spawn(move || {
            let mut req = server.recv().unwrap();
            let mut body = String::new();
            req.as_reader().read_to_string(&mut body).unwrap();
            let reply = r#"{"access_token":"at-new","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-3"}"#;
            let header = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
            req.respond(tiny_http::Response::from_string(reply).with_header(header)).unwrap();
            body
        });
        let vault = Arc::new(crate::store::key::MemoryVault::default());
        // This manager started with rt-1; another program has since rotated it to rt-2.
        Secrets::new(vault.as_ref()).store_refresh_token("Google", "rt-2").unwrap();
        let grant = Grant::RefreshToken {
            client_id: "c".into(),
            client_secret: None,
            token_url: format!("http://127.0.0.1:{port}/token"),
            refresh_token: "rt-1".into(),
            vault: Some(vault.clone()),
        };
        let mut m = TokenManager::new("Google", ureq::Agent::new(), grant).unwrap();
        assert_eq!(m.bearer(false).unwrap().as_deref(), Some("at-new"));
        let form = seen.join().unwrap();
        assert!(form.contains("refresh_token=rt-2") && !form.contains("rt-1"), "{form}");
        assert_eq!(Secrets::new(vault.as_ref()).load_refresh_token("Google").unwrap().as_deref(), Some("rt-3"));
    }
}
