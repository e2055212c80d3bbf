//! Authorization for connectors: SMART App Launch 2.x (standalone launch with
//! PKCE) and SMART Backend Services (client credentials with a JWT client
//! assertion), client secret over HTTP Basic, discovery from
//! `.well-known/smart-configuration`, and the keychain entries that hold
//! private keys and refresh tokens.
//!
//! (Being filled in: see the auth work.)

/// What can go wrong while authorizing, phrased for staff.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Placeholder until the auth module lands.
    #[error("{0}")]
    Other(String),
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
