//! Connecting and disconnecting a system: the steps `medharmony integrations
//! add|remove` and the desktop's Integrations page share.
//!
//! Connecting checks the settings, discovers the sign-in endpoints from
//! `{base}/.well-known/smart-configuration` (SMART App Launch 2.x §2.1) unless
//! given, puts every secret into the OS keychain (never the database), runs
//! the browser sign-in for a standalone launch, and only then stores the
//! integration. A failure at any step leaves nothing behind.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::auth::{self, AuthConfig, AuthError, LoopbackLogin, Secrets, SigningKey};
use crate::connector::{IntegrationKind, IntegrationSettings};
use crate::store::integrations::Integration;
use crate::store::key::KeyVault;
use crate::store::{Store, StoreError};

/// How long a browser sign-in may take before it is abandoned: 5 minutes.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// How the new integration signs in, with its secrets (which go to the keychain).
#[derive(Clone)]
pub enum ConnectAuth {
    /// No sign-in (open test servers).
    None,
    /// SMART Backend Services with a private key (PEM text).
    PrivateKey {
        /// The client id registered with the EHR.
        client_id: String,
        /// The PEM private key (RSA or EC P-384).
        pem: String,
        /// The key id registered with the EHR; `None` = the key's RFC 7638 thumbprint.
        kid: Option<String>,
    },
    /// Client credentials with a client secret over HTTP Basic (Oracle Health system accounts).
    ClientSecret {
        /// The system account's client id.
        client_id: String,
        /// The secret.
        secret: String,
    },
    /// A staff member signs in once in the system browser (SMART standalone launch, PKCE S256).
    Standalone {
        /// The app's client id (public client).
        client_id: String,
    },
}

impl std::fmt::Debug for ConnectAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.write_str(match self {
            ConnectAuth::None => "ConnectAuth::None",
            ConnectAuth::PrivateKey { .. } => "ConnectAuth::PrivateKey(<redacted>)",
            ConnectAuth::ClientSecret { .. } => "ConnectAuth::ClientSecret(<redacted>)",
            ConnectAuth::Standalone { .. } => "ConnectAuth::Standalone",
        })
    }
}

/// Everything needed to connect a system.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// Which kind of system.
    pub kind: IntegrationKind,
    /// The name staff give the connection (unique).
    pub name: String,
    /// Settings without secrets; `settings.auth` is filled in by [`connect`].
    pub base_url: String,
    /// Token endpoint; `None` = discovered.
    pub token_url: Option<String>,
    /// OAuth scopes; `None` = [`default_scope`].
    pub scope: Option<String>,
    /// How to sign in.
    pub auth: ConnectAuth,
    /// IANA zone for providers and locations the integration creates.
    pub tz: String,
    /// `service-type` tokens to search (Oracle Health needs one).
    pub service_types: Vec<String>,
    /// Practitioner references to search.
    pub practitioners: Vec<String>,
    /// Location references to search.
    pub locations: Vec<String>,
    /// Epic: the STU3 base URL.
    pub stu3_base_url: Option<String>,
}

/// Why connecting failed, phrased for staff.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A setting is missing or wrong.
    #[error("{0}")]
    Invalid(String),
    /// Sign-in or keychain trouble.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The database refused (e.g. the name is taken).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The scopes asked for by default (SMART v1 names, which Epic, Oracle Health
/// and most R4 servers accept): read Slot and Schedule, read and write
/// Appointment; `user/` scopes plus `openid fhirUser offline_access` for a
/// standalone launch, `system/` scopes for backend access. Epic has no Slot
/// or Schedule API, so only Appointment scopes are asked of it.
pub fn default_scope(kind: IntegrationKind, standalone: bool) -> String {
    let p = if standalone { "user" } else { "system" };
    let mut scopes = match kind {
        IntegrationKind::Epic => format!("{p}/Appointment.read {p}/Appointment.write"),
        _ => format!("{p}/Slot.read {p}/Schedule.read {p}/Appointment.read {p}/Appointment.write"),
    };
    if standalone {
        scopes = format!("openid fhirUser offline_access {scopes}");
    }
    scopes
}

/// Connects a system (see the module documentation). `open_browser` is called
/// with the sign-in address for a standalone launch; `cancel` ends a waiting
/// sign-in.
///
/// # Errors
/// [`ConnectError::Invalid`] for missing settings (Oracle Health without a
/// visit type, a name already taken, a bad zone or URL), [`ConnectError::Auth`]
/// for discovery, key, keychain or sign-in failures, [`ConnectError::Store`].
pub fn connect(
    store: &mut Store,
    vault: Arc<dyn KeyVault + Send + Sync>,
    req: ConnectRequest,
    open_browser: impl FnOnce(&str),
    cancel: &AtomicBool,
    now: DateTime<Utc>,
) -> Result<Integration, ConnectError> {
    let name = req.name.trim().to_string();
    if name.is_empty() {
        return Err(ConnectError::Invalid("Give the connection a name, e.g. \"Main St Epic\".".into()));
    }
    if name.chars().any(char::is_control) || name.chars().count() > 80 {
        return Err(ConnectError::Invalid("Give the connection a shorter name on one line, e.g. \"Main St Epic\".".into()));
    }
    if store.integration(&name)?.is_some() {
        return Err(StoreError::IntegrationExists(name).into());
    }
    let base_url = req.base_url.trim().trim_end_matches('/').to_string();
    match url::Url::parse(&base_url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.has_host() => {
            if !u.username().is_empty() || u.password().is_some() {
                return Err(ConnectError::Invalid(
                    "Leave the user name and password out of the address; they would be stored in plain sight. Use the sign-in options instead.".into(),
                ));
            }
            if u.query().is_some() || u.fragment().is_some() {
                return Err(ConnectError::Invalid(format!(
                    "Enter the FHIR base address without anything after '?' or '#', e.g. {}",
                    u[..url::Position::AfterPath].trim_end_matches('/')
                )));
            }
        }
        _ => return Err(ConnectError::Invalid(format!("'{base_url}' is not a web address; enter the FHIR base address, e.g. https://fhir.example.org/r4"))),
    }
    if req.service_types.iter().any(|t| t.trim().is_empty()) {
        return Err(ConnectError::Invalid("A visit type (service-type) is empty; give its code, e.g. 408443003".into()));
    }
    if crate::time::parse_iana(&req.tz).is_none() {
        return Err(ConnectError::Invalid(format!("'{}' is not a time zone; use a name such as America/New_York", req.tz)));
    }
    if req.kind == IntegrationKind::OracleHealth && req.service_types.is_empty() {
        return Err(ConnectError::Invalid(
            "Oracle Health lists open times only for a visit type: add at least one visit type (service-type)".into(),
        ));
    }
    let standalone = matches!(req.auth, ConnectAuth::Standalone { .. });
    let scope = req.scope.clone().unwrap_or_else(|| default_scope(req.kind, standalone));
    let agent = crate::connector::http::FhirHttp::default_agent();
    let discovered = |token_url: &Option<String>| -> Result<Option<auth::SmartConfiguration>, AuthError> {
        match token_url {
            Some(_) if !standalone => Ok(None),
            _ => auth::discover(&agent, &base_url).map(Some),
        }
    };
    let secrets = Secrets::new(vault.as_ref());
    let auth_config = match &req.auth {
        ConnectAuth::None => AuthConfig::None,
        ConnectAuth::PrivateKey { client_id, pem, kid } => {
            SigningKey::from_pem(pem, kid.as_deref())?;
            let token_url = match discovered(&req.token_url)? {
                Some(cfg) => cfg.token_endpoint,
                None => req.token_url.clone().unwrap_or_default(),
            };
            secrets.store_private_key(&name, pem)?;
            AuthConfig::Backend { client_id: client_id.clone(), token_url, scope, kid: kid.clone() }
        }
        ConnectAuth::ClientSecret { client_id, secret } => {
            let token_url = match discovered(&req.token_url)? {
                Some(cfg) => cfg.token_endpoint,
                None => req.token_url.clone().unwrap_or_default(),
            };
            secrets.store_client_secret(&name, secret)?;
            AuthConfig::ClientSecret { client_id: client_id.clone(), token_url, scope }
        }
        ConnectAuth::Standalone { client_id } => {
            let cfg = discovered(&None)?.ok_or_else(|| ConnectError::Invalid("the server's sign-in settings could not be read".into()))?;
            let login = LoopbackLogin::start_smart(&cfg, client_id, &scope, &base_url)?.with_name(&name);
            let authorize_url = cfg.authorization_endpoint.clone().unwrap_or_default();
            open_browser(&login.authorize_url);
            let tokens = login.finish(&agent, SIGN_IN_TIMEOUT, cancel)?;
            let refresh = tokens.refresh_token.clone().ok_or_else(|| {
                ConnectError::Invalid(format!("{name} signed you in but gave no lasting access (no refresh token); ask for the offline_access scope"))
            })?;
            secrets.store_refresh_token(&name, &refresh)?;
            AuthConfig::Standalone { client_id: client_id.clone(), authorize_url, token_url: cfg.token_endpoint, scope }
        }
    };
    let settings = IntegrationSettings {
        base_url,
        stu3_base_url: req.stu3_base_url.clone(),
        tz: req.tz.clone(),
        auth: auth_config,
        service_types: req.service_types.clone(),
        practitioners: req.practitioners.clone(),
        locations: req.locations.clone(),
        page_size: 100,
        athena: None,
        calendars: Vec::new(),
    };
    match store.add_integration(req.kind, &name, &settings, now) {
        Ok(i) => Ok(i),
        Err(e) => {
            let _ = secrets.forget_integration(&name);
            Err(e.into())
        }
    }
}

/// Disconnects `name`: removes its synced slots and its keychain entries.
/// Returns false when there is no such integration.
///
/// # Errors
/// [`ConnectError::Store`], [`ConnectError::Auth`] when the keychain refuses.
pub fn disconnect(store: &mut Store, vault: &dyn KeyVault, name: &str, now: DateTime<Utc>) -> Result<bool, ConnectError> {
    let Some(integ) = store.integration(name)? else { return Ok(false) };
    store.remove_integration(&integ.name, now)?;
    if integ.settings.auth != AuthConfig::None {
        Secrets::new(vault).forget_integration(&integ.name)?;
    }
    Ok(true)
}
