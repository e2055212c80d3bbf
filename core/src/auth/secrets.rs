//! The keychain entries of an integration.
//!
//! Accounts (in the keychain service [`crate::store::key::KEYCHAIN_SERVICE`], which debug builds
//! keep separate from release builds):
//! * `integration:<name>:private-key`: the PEM private key of SMART Backend Services.
//! * `integration:<name>:client-secret`: a system account's client secret (HTTP Basic).
//! * `integration:<name>:refresh-token`: the refresh token of a user sign-in (standalone launch),
//!   replaced whenever the server rotates it.
//! * `integration:<name>:password`: the (app) password of HTTP Basic sign-in (CalDAV).
//! * `integration:<name>:webhook-secret`: the shared secret the practice's interface engine (or the
//!   source system) signs webhook deliveries with (HMAC-SHA256, see [`crate::webhook`]).
//!
//! The database holds only the non-secret [`super::AuthConfig`].

use crate::store::key::KeyVault;

use super::AuthError;

/// The kinds of secret an integration may have.
const KINDS: [&str; 5] = ["private-key", "client-secret", "refresh-token", "password", "webhook-secret"];

/// Reads and writes an integration's secrets in a [`KeyVault`] (the OS keychain in the product).
pub struct Secrets<'a> {
    vault: &'a dyn KeyVault,
}

impl<'a> Secrets<'a> {
    /// Secrets kept in `vault`.
    pub fn new(vault: &'a dyn KeyVault) -> Self {
        Secrets { vault }
    }

    /// The keychain account of one secret: `integration:<name>:<kind>` where `kind` is
    /// `private-key`, `client-secret`, `refresh-token`, `password` or `webhook-secret`.
    pub fn account(integration_name: &str, kind: &str) -> String {
        format!("integration:{integration_name}:{kind}")
    }

    fn get(&self, name: &str, kind: &str) -> Result<Option<String>, AuthError> {
        let value = self.vault.get(&Self::account(name, kind)).map_err(AuthError::Keychain)?;
        Ok(value.filter(|v| !v.is_empty()))
    }

    fn set(&self, name: &str, kind: &str, secret: &str) -> Result<(), AuthError> {
        self.vault.set(&Self::account(name, kind), secret).map_err(AuthError::Keychain)?;
        tracing::debug!(integration = name, kind, "secret stored in the keychain");
        Ok(())
    }

    /// Stores the PEM private key (PKCS#8 RSA or EC P-384) for SMART Backend Services.
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn store_private_key(&self, integration_name: &str, pem: &str) -> Result<(), AuthError> {
        self.set(integration_name, "private-key", pem)
    }

    /// The stored PEM private key, `None` when there is none.
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn load_private_key(&self, integration_name: &str) -> Result<Option<String>, AuthError> {
        self.get(integration_name, "private-key")
    }

    /// Stores a system account's client secret.
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn store_client_secret(&self, integration_name: &str, secret: &str) -> Result<(), AuthError> {
        self.set(integration_name, "client-secret", secret)
    }

    /// The stored client secret, `None` when there is none.
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn load_client_secret(&self, integration_name: &str) -> Result<Option<String>, AuthError> {
        self.get(integration_name, "client-secret")
    }

    /// Stores (or replaces) the refresh token of a user sign-in.
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn store_refresh_token(&self, integration_name: &str, token: &str) -> Result<(), AuthError> {
        self.set(integration_name, "refresh-token", token)
    }

    /// The stored refresh token, `None` when there is none.
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn load_refresh_token(&self, integration_name: &str) -> Result<Option<String>, AuthError> {
        self.get(integration_name, "refresh-token")
    }

    /// Stores (or replaces) the password of HTTP Basic sign-in (a CalDAV app password).
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn store_password(&self, integration_name: &str, password: &str) -> Result<(), AuthError> {
        self.set(integration_name, "password", password)
    }

    /// The stored Basic password, `None` when there is none.
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn load_password(&self, integration_name: &str) -> Result<Option<String>, AuthError> {
        self.get(integration_name, "password")
    }

    /// Deletes all four secrets of an integration (those that exist), e.g. when it is removed.
    /// Stores (or replaces) the webhook signing secret (see [`crate::webhook`]).
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn store_webhook_secret(&self, integration_name: &str, secret: &str) -> Result<(), AuthError> {
        self.set(integration_name, "webhook-secret", secret)
    }

    /// The stored webhook signing secret, `None` when there is none (webhooks of this integration are refused).
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used.
    pub fn load_webhook_secret(&self, integration_name: &str) -> Result<Option<String>, AuthError> {
        self.get(integration_name, "webhook-secret")
    }

    /// Deletes all secrets of an integration (those that exist), e.g. when it is removed.
    ///
    /// # Errors
    /// [`AuthError::Keychain`] when the keychain cannot be used; the deletions before the failing
    /// one have happened.
    pub fn forget_integration(&self, integration_name: &str) -> Result<(), AuthError> {
        for kind in KINDS {
            self.vault.delete(&Self::account(integration_name, kind)).map_err(AuthError::Keychain)?;
        }
        tracing::debug!(integration = integration_name, "secrets removed from the keychain");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::key::tests::MemVault;

    #[test]
    fn secrets_round_trip_under_their_accounts_and_are_forgotten_together() {
        let vault = MemVault::default();
        let secrets = Secrets::new(&vault);
        secrets.store_private_key("Epic", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        secrets.store_client_secret("Epic", "s3cret").unwrap();
        secrets.store_refresh_token("Epic", "rt-1").unwrap();
        secrets.store_refresh_token("Other", "rt-other").unwrap();
        secrets.store_password("Epic", "app-pw").unwrap();
        assert_eq!(secrets.load_password("Epic").unwrap().as_deref(), Some("app-pw"));
        assert_eq!(vault.map.borrow().get("integration:Epic:password").map(String::as_str), Some("app-pw"));
        secrets.store_webhook_secret("Epic", "whsec-1").unwrap();

        assert_eq!(
            secrets.load_private_key("Epic").unwrap().as_deref(),
            Some("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        );
        assert_eq!(secrets.load_client_secret("Epic").unwrap().as_deref(), Some("s3cret"));
        assert_eq!(secrets.load_refresh_token("Epic").unwrap().as_deref(), Some("rt-1"));
        assert_eq!(vault.map.borrow().get("integration:Epic:refresh-token").map(String::as_str), Some("rt-1"));
        assert_eq!(vault.map.borrow().get("integration:Epic:client-secret").map(String::as_str), Some("s3cret"));
        assert!(vault.map.borrow().contains_key("integration:Epic:private-key"));
        assert_eq!(vault.map.borrow().get("integration:Epic:webhook-secret").map(String::as_str), Some("whsec-1"));
        assert_eq!(secrets.load_webhook_secret("Epic").unwrap().as_deref(), Some("whsec-1"));
        assert_eq!(secrets.load_webhook_secret("Other").unwrap(), None);

        secrets.store_refresh_token("Epic", "rt-2").unwrap();
        assert_eq!(secrets.load_refresh_token("Epic").unwrap().as_deref(), Some("rt-2"));

        secrets.forget_integration("Epic").unwrap();
        assert_eq!(secrets.load_private_key("Epic").unwrap(), None);
        assert_eq!(secrets.load_client_secret("Epic").unwrap(), None);
        assert_eq!(secrets.load_refresh_token("Epic").unwrap(), None);
        assert_eq!(secrets.load_password("Epic").unwrap(), None);
        assert_eq!(secrets.load_webhook_secret("Epic").unwrap(), None);
        // Other integrations keep theirs; forgetting twice is fine.
        assert_eq!(secrets.load_refresh_token("Other").unwrap().as_deref(), Some("rt-other"));
        secrets.forget_integration("Epic").unwrap();
        assert_eq!(vault.map.borrow().len(), 1);
    }

    #[test]
    fn a_broken_keychain_is_reported_in_plain_words() {
        let vault = MemVault { broken: true, ..Default::default() };
        let err = Secrets::new(&vault).load_refresh_token("Epic").unwrap_err();
        assert_eq!(err.to_string(), "This computer's keychain could not be used: no secret service");
    }
}
