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
use crate::connector::calendar::CalendarSettings;
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
    /// Google's OAuth for installed apps: a staff member signs in once in the system browser
    /// (authorization code + PKCE S256, `access_type=offline`).
    InstalledApp {
        /// The OAuth client id of the practice's Google Cloud project ("Desktop app" type).
        client_id: String,
        /// That client's secret (Google issues one to desktop clients; kept in the keychain).
        client_secret: Option<String>,
    },
    /// HTTP Basic with a user name and an app password (CalDAV).
    Basic {
        /// The account's user name (often an e-mail address).
        username: String,
        /// The app password (kept in the keychain).
        password: String,
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
            ConnectAuth::InstalledApp { .. } => "ConnectAuth::InstalledApp(<redacted>)",
            ConnectAuth::Basic { .. } => "ConnectAuth::Basic(<redacted>)",
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
    /// athenahealth: practice, departments, providers and visit types.
    pub athena: Option<crate::connector::AthenaSettings>,
    /// Google Calendar and CalDAV: the calendars to read, one provider's each.
    pub calendars: Vec<CalendarSettings>,
}

impl ConnectRequest {
    /// A request for `kind` named `name` at `base_url` with `auth`, in zone `tz`, everything else empty.
    pub fn new(kind: IntegrationKind, name: &str, base_url: &str, auth: ConnectAuth, tz: &str) -> Self {
        ConnectRequest {
            kind,
            name: name.to_string(),
            base_url: base_url.to_string(),
            token_url: None,
            scope: None,
            auth,
            tz: tz.to_string(),
            service_types: Vec::new(),
            practitioners: Vec::new(),
            locations: Vec::new(),
            stu3_base_url: None,
            athena: None,
            calendars: Vec::new(),
        }
    }
}

/// The address used when none is given: Google Calendar API v3 for Google, athenahealth's
/// production API host for athenahealth; `None` for systems whose address must be given.
pub fn default_base_url(kind: IntegrationKind) -> Option<&'static str> {
    match kind {
        IntegrationKind::GoogleCalendar => Some(GOOGLE_CALENDAR_API),
        IntegrationKind::Athena => Some(ATHENA_PRODUCTION),
        _ => None,
    }
}

/// Google scopes asked for: free/busy reads, event listing (change detection) and event writes (booking).
pub const GOOGLE_SCOPES: &str = auth::google::CALENDAR_SCOPE;
/// Google Calendar API v3 base URL.
pub const GOOGLE_CALENDAR_API: &str = "https://www.googleapis.com/calendar/v3";
/// athenahealth production API host.
pub const ATHENA_PRODUCTION: &str = crate::connector::athena::PRODUCTION_BASE_URL;
/// athenahealth preview (sandbox) API host.
pub const ATHENA_PREVIEW: &str = crate::connector::athena::PREVIEW_BASE_URL;

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
/// or Schedule API, so only Appointment scopes are asked of it. athenahealth:
/// `athena/service/Athenanet.MDP.*`; Google: [`GOOGLE_SCOPES`]; CalDAV: none.
pub fn default_scope(kind: IntegrationKind, standalone: bool) -> String {
    let p = if standalone { "user" } else { "system" };
    let mut scopes = match kind {
        IntegrationKind::Athena => return crate::connector::athena::DEFAULT_SCOPE.into(),
        IntegrationKind::GoogleCalendar => return GOOGLE_SCOPES.into(),
        IntegrationKind::CalDav => return String::new(),
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
    let given = req.base_url.trim().trim_end_matches('/');
    let base_url = match (given.is_empty(), default_base_url(req.kind)) {
        (true, Some(d)) => d.to_string(),
        _ => given.to_string(),
    };
    check_address(&base_url, req.kind)?;
    if crate::time::parse_iana(&req.tz).is_none() {
        return Err(ConnectError::Invalid(format!("'{}' is not a time zone; use a name such as America/New_York", req.tz)));
    }
    check_kind_settings(&req)?;
    let auth_config = sign_in(&req, &name, &base_url, vault.as_ref(), open_browser, cancel)?;
    let secrets = Secrets::new(vault.as_ref());
    let settings = IntegrationSettings {
        base_url,
        stu3_base_url: req.stu3_base_url.clone(),
        tz: req.tz.clone(),
        auth: auth_config,
        service_types: req.service_types.clone(),
        practitioners: req.practitioners.clone(),
        locations: req.locations.clone(),
        page_size: 100,
        athena: req.athena.clone(),
        calendars: req.calendars.clone(),
    };
    match store.add_integration(req.kind, &name, &settings, now) {
        Ok(i) => Ok(i),
        Err(e) => {
            let _ = secrets.forget_integration(&name);
            Err(e.into())
        }
    }
}

/// Signs in as `req.auth` says and puts the secrets into the keychain under `name`; returns the
/// settings (no secret) to store. Shared by [`connect`] and [`reconnect`].
fn sign_in(
    req: &ConnectRequest,
    name: &str,
    base_url: &str,
    vault: &dyn KeyVault,
    open_browser: impl FnOnce(&str),
    cancel: &AtomicBool,
) -> Result<AuthConfig, ConnectError> {
    let standalone = matches!(req.auth, ConnectAuth::Standalone { .. });
    let scope = req.scope.clone().unwrap_or_else(|| default_scope(req.kind, standalone));
    let agent = crate::connector::http::FhirHttp::default_agent();
    let discovered = |token_url: &Option<String>| -> Result<Option<auth::SmartConfiguration>, AuthError> {
        match token_url {
            Some(_) if !standalone => Ok(None),
            _ => auth::discover(&agent, base_url).map(Some),
        }
    };
    let secrets = Secrets::new(vault);
    let auth_config = match &req.auth {
        ConnectAuth::None => AuthConfig::None,
        ConnectAuth::PrivateKey { client_id, pem, kid } => {
            SigningKey::from_pem(pem, kid.as_deref())?;
            let token_url = match discovered(&req.token_url)? {
                Some(cfg) => cfg.token_endpoint,
                None => req.token_url.clone().unwrap_or_default(),
            };
            secrets.store_private_key(name, pem)?;
            AuthConfig::Backend { client_id: client_id.clone(), token_url, scope, kid: kid.clone() }
        }
        ConnectAuth::ClientSecret { client_id, secret } => {
            let token_url = if req.kind == IntegrationKind::Athena {
                let url = req.token_url.clone().unwrap_or_else(|| crate::connector::athena::token_url(base_url));
                // athenahealth publishes no sign-in settings to discover, so check the client ID and
                // secret now (as CalDAV's password is), rather than at the first sync.
                auth::oauth::client_secret_token(&auth::oauth::token_agent(), name, &url, client_id, secret, &scope)?;
                url
            } else {
                match discovered(&req.token_url)? {
                    Some(cfg) => cfg.token_endpoint,
                    None => req.token_url.clone().unwrap_or_default(),
                }
            };
            secrets.store_client_secret(name, secret)?;
            AuthConfig::ClientSecret { client_id: client_id.clone(), token_url, scope }
        }
        ConnectAuth::Standalone { client_id } => {
            let cfg = discovered(&None)?.ok_or_else(|| ConnectError::Invalid("the server's sign-in settings could not be read".into()))?;
            let login = LoopbackLogin::start_smart(&cfg, client_id, &scope, base_url)?.with_name(name);
            let authorize_url = cfg.authorization_endpoint.clone().unwrap_or_default();
            open_browser(&login.authorize_url);
            let tokens = login.finish(&agent, SIGN_IN_TIMEOUT, cancel)?;
            let refresh = tokens.refresh_token.clone().ok_or_else(|| {
                ConnectError::Invalid(format!("{name} signed you in but gave no lasting access (no refresh token); ask for the offline_access scope"))
            })?;
            secrets.store_refresh_token(name, &refresh)?;
            AuthConfig::Standalone { client_id: client_id.clone(), authorize_url, token_url: cfg.token_endpoint, scope }
        }
        ConnectAuth::InstalledApp { client_id, client_secret } => {
            let mut google = auth::google::GoogleSignIn::new(name, client_id, client_secret.as_deref());
            if let Some(t) = &req.token_url {
                google.token_url = t.clone();
            }
            if let Some(s) = &req.scope {
                google.scope = s.clone();
            }
            let tokens = auth::google::sign_in(&google, open_browser, cancel, SIGN_IN_TIMEOUT, &agent)?;
            auth::google::save_sign_in(vault, name, &google, &tokens)?
        }
        ConnectAuth::Basic { username, password } => {
            // Checks the user name and app password, and that every calendar is one the account sees.
            let agent = crate::connector::caldav::CalDavConnector::default_agent();
            let found = crate::connector::caldav::discover(base_url, username, password, agent).map_err(|e| match e {
                crate::connector::ConnectorError::Unauthorized { system, .. } => ConnectError::Invalid(format!(
                    "{system} did not accept the user name and app password. Check both (an app password is made in the account's security settings, not its usual password)."
                )),
                other => ConnectError::Invalid(other.to_string()),
            })?;
            // Scheme and host ignore case (url normalizes them); the path does not.
            let norm = |u: &str| url::Url::parse(u.trim()).map(|u| u.to_string().trim_end_matches('/').to_string()).unwrap_or_else(|_| u.trim().to_string());
            for c in &req.calendars {
                if !found.iter().any(|f| norm(&f.url) == norm(&c.id)) {
                    let names: Vec<String> = found.iter().map(|f| f.display_name.clone()).collect();
                    return Err(ConnectError::Invalid(format!(
                        "{} is not one of the calendars this account can see{}.",
                        c.id,
                        if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) }
                    )));
                }
            }
            secrets.store_password(name, password)?;
            AuthConfig::Basic { username: username.clone() }
        }
    };
    Ok(auth_config)
}

/// Checks the system's address: an absolute http(s) URL without credentials, query or fragment.
fn check_address(base_url: &str, kind: IntegrationKind) -> Result<(), ConnectError> {
    let example = match kind {
        IntegrationKind::Athena => ATHENA_PRODUCTION,
        IntegrationKind::GoogleCalendar => GOOGLE_CALENDAR_API,
        IntegrationKind::CalDav => "https://caldav.example.com/",
        _ => "https://fhir.example.org/r4",
    };
    let what = if kind.is_calendar() || kind == IntegrationKind::Athena { "the server address" } else { "the FHIR base address" };
    match url::Url::parse(base_url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.has_host() => {
            if !u.username().is_empty() || u.password().is_some() {
                return Err(ConnectError::Invalid(
                    "Leave the user name and password out of the address; they would be stored in plain sight. Use the sign-in options instead.".into(),
                ));
            }
            if u.query().is_some() || u.fragment().is_some() {
                return Err(ConnectError::Invalid(format!(
                    "Enter {what} without anything after '?' or '#', e.g. {}",
                    u[..url::Position::AfterPath].trim_end_matches('/')
                )));
            }
            Ok(())
        }
        _ => Err(ConnectError::Invalid(format!("'{base_url}' is not a web address; enter {what}, e.g. {example}"))),
    }
}

/// True for addresses on this computer (`localhost`, 127.0.0.0/8, `::1`), where plain http
/// crosses no network.
fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks what each kind of system needs besides an address (see [`connect`]).
fn check_kind_settings(req: &ConnectRequest) -> Result<(), ConnectError> {
    if req.service_types.iter().any(|t| t.trim().is_empty()) {
        return Err(ConnectError::Invalid("A visit type (service-type) is empty; give its code, e.g. 408443003".into()));
    }
    let auth_fits = match req.kind {
        IntegrationKind::Athena => matches!(req.auth, ConnectAuth::ClientSecret { .. }),
        IntegrationKind::GoogleCalendar => matches!(req.auth, ConnectAuth::InstalledApp { .. }),
        IntegrationKind::CalDav => matches!(req.auth, ConnectAuth::Basic { .. }),
        _ => !matches!(req.auth, ConnectAuth::InstalledApp { .. } | ConnectAuth::Basic { .. }),
    };
    if !auth_fits {
        let how = match req.kind {
            IntegrationKind::Athena => "with the client ID and secret of its API app (client credentials)",
            IntegrationKind::GoogleCalendar => "with a Google account in the web browser",
            IntegrationKind::CalDav => "with a user name and an app password",
            _ => "with a SMART sign-in (key, system account or browser sign-in), or none for an open test server",
        };
        return Err(ConnectError::Invalid(format!("{} connects {how}.", req.kind.label())));
    }
    match req.kind {
        IntegrationKind::OracleHealth if req.service_types.is_empty() => Err(ConnectError::Invalid(
            "Oracle Health lists open times only for a visit type: add at least one visit type (service-type)".into(),
        )),
        IntegrationKind::Athena => {
            let Some(a) = &req.athena else {
                return Err(ConnectError::Invalid("Enter the athenahealth practice ID and at least one department ID.".into()));
            };
            let numeric = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit());
            if !numeric(a.practiceid.trim()) {
                return Err(ConnectError::Invalid(format!(
                    "'{}' is not an athenahealth practice ID; it is a number, e.g. 195900",
                    a.practiceid.trim()
                )));
            }
            if a.departmentids.is_empty() {
                return Err(ConnectError::Invalid("Enter at least one athenahealth department ID (athenahealth lists open times per department).".into()));
            }
            if a.reasonids.is_empty() && a.appointmenttypeids.is_empty() {
                return Err(ConnectError::Invalid(
                    "Enter at least one athenahealth appointment type ID or reason ID: athenahealth lists no open times without one.".into(),
                ));
            }
            // The connector's own checks (numbers, a reason only with providers, …), without a request.
            let base = if req.base_url.trim().is_empty() { ATHENA_PRODUCTION } else { req.base_url.trim() };
            let settings = IntegrationSettings { athena: Some(a.clone()), ..IntegrationSettings::new(base, &req.tz, AuthConfig::None) };
            let http = crate::connector::http::FhirHttp::new(ureq::Agent::new(), &req.name, Box::new(auth::NoAuth));
            crate::connector::athena::AthenaConnector::new(settings, http).map_err(|e| ConnectError::Invalid(e.to_string()))?;
            Ok(())
        }
        IntegrationKind::GoogleCalendar | IntegrationKind::CalDav => {
            if req.kind == IntegrationKind::CalDav {
                let addresses = std::iter::once(req.base_url.as_str()).chain(req.calendars.iter().map(|c| c.id.as_str()));
                if let Some(plain) = addresses.filter_map(|a| url::Url::parse(a.trim()).ok()).find(|u| u.scheme() == "http" && !is_loopback(u)) {
                    return Err(ConnectError::Invalid(format!(
                        "{} would receive the app password unencrypted (http://). Use its https:// address.",
                        plain.host_str().unwrap_or("The server")
                    )));
                }
            }
            if req.calendars.is_empty() {
                return Err(ConnectError::Invalid("Add at least one calendar and the provider it belongs to.".into()));
            }
            let mut seen = std::collections::HashSet::new();
            for c in &req.calendars {
                if c.id.trim().is_empty() {
                    return Err(ConnectError::Invalid(format!("Enter the calendar of {}.", c.provider)));
                }
                if c.provider.trim().is_empty() {
                    return Err(ConnectError::Invalid(format!("Enter the provider whose calendar {} is.", c.id)));
                }
                if !seen.insert(c.id.trim().to_lowercase()) {
                    return Err(ConnectError::Invalid(format!("The calendar {} is listed twice.", c.id.trim())));
                }
                if req.kind == IntegrationKind::CalDav && !matches!(url::Url::parse(c.id.trim()), Ok(u) if matches!(u.scheme(), "https" | "http")) {
                    return Err(ConnectError::Invalid(format!(
                        "The calendar of {} must be its full address as the server lists it (https://…).",
                        c.provider
                    )));
                }
                c.plan(&req.tz).map_err(ConnectError::Invalid)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Reconnects `name` after its sign-in expired or its secret went missing: signs in again with
/// `auth` (same kind and address), replaces the keychain entries and the stored sign-in settings,
/// and clears the integration's last problem so it syncs at once. Nothing changes when the
/// sign-in fails.
///
/// # Errors
/// [`ConnectError::Invalid`] when there is no such integration or `auth` does not fit its kind;
/// otherwise as [`connect`].
pub fn reconnect(
    store: &mut Store,
    vault: Arc<dyn KeyVault + Send + Sync>,
    name: &str,
    auth: ConnectAuth,
    open_browser: impl FnOnce(&str),
    cancel: &AtomicBool,
    now: DateTime<Utc>,
) -> Result<Integration, ConnectError> {
    let integ = store.integration(name)?.ok_or_else(|| ConnectError::Invalid(format!("There is no connection named {name}.")))?;
    let s = &integ.settings;
    let (token_url, scope) = match &s.auth {
        AuthConfig::Backend { token_url, scope, .. } | AuthConfig::ClientSecret { token_url, scope, .. } => {
            (Some(token_url.clone()), Some(scope.clone()))
        }
        AuthConfig::Standalone { scope, .. } => (None, Some(scope.clone())),
        AuthConfig::InstalledApp { token_url, scope, .. } => (Some(token_url.clone()), Some(scope.clone())),
        AuthConfig::None | AuthConfig::Basic { .. } => (None, None),
    };
    let req = ConnectRequest {
        token_url,
        scope,
        service_types: s.service_types.clone(),
        practitioners: s.practitioners.clone(),
        locations: s.locations.clone(),
        stu3_base_url: s.stu3_base_url.clone(),
        athena: s.athena.clone(),
        calendars: s.calendars.clone(),
        ..ConnectRequest::new(integ.kind, &integ.name, &s.base_url, auth, &s.tz)
    };
    check_kind_settings(&req)?;
    let auth_config = sign_in(&req, &integ.name, &s.base_url, vault.as_ref(), open_browser, cancel)?;
    store.set_integration_auth(&integ.name, &auth_config, now)?;
    Ok(store.integration(&integ.name)?.unwrap_or(integ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::AthenaSettings;
    use crate::store::key::{DbKey, MemoryVault as Vault};


    fn now() -> DateTime<Utc> {
        "2026-03-02T12:00:00Z".parse().unwrap()
    }

    fn athena(practiceid: &str, departments: &[&str], reasons: &[&str], types: &[&str]) -> Option<AthenaSettings> {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Some(AthenaSettings { practiceid: practiceid.into(), departmentids: v(departments), providerids: vec![], reasonids: v(reasons), appointmenttypeids: v(types) })
    }

    fn secret_auth() -> ConnectAuth {
        ConnectAuth::ClientSecret { client_id: "athena-app".into(), secret: "s3cr3t-athena".into() }
    }

    fn calendar(id: &str, provider: &str, hours: &str) -> CalendarSettings {
        CalendarSettings { id: id.into(), provider: provider.into(), tz: None, hours: hours.into(), slot_minutes: 30, location: None }
    }

    /// An athenahealth-shaped token endpoint on loopback answering `replies` requests in turn
    /// (status, body); returns its base URL and the Authorization headers it received.
    fn token_server(replies: Vec<(u16, &'static str)>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", server.server_addr().to_ip().unwrap().port());
        let seen = std::thread::spawn(move || {
            let mut auths = Vec::new();
            for (status, body) in replies {
                let req = server.recv().unwrap();
                assert_eq!(req.url(), "/oauth2/v1/token");
                auths.push(req.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.to_string()).unwrap_or_default());
                let json = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                req.respond(tiny_http::Response::from_string(body).with_status_code(status).with_header(json)).unwrap();
            }
            auths
        });
        (base, seen)
    }

    const TOKEN: &str = r#"{"access_token":"at","token_type":"Bearer","expires_in":"3600"}"#;

    fn try_connect(store: &mut Store, vault: &Arc<Vault>, req: ConnectRequest) -> Result<Integration, ConnectError> {
        let v: Arc<dyn KeyVault + Send + Sync> = vault.clone();
        connect(store, v, req, |_| panic!("no browser for these kinds"), &AtomicBool::new(false), now())
    }

    #[test]
    fn athenahealth_needs_a_practice_a_department_and_a_visit_type_and_keeps_its_secret_in_the_keychain() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("c.db"), &DbKey::Raw([3; 32])).unwrap();
        let vault = Arc::new(Vault::default());
        let (base, seen) = token_server(vec![(401, r#"{"error":"invalid_client"}"#), (200, TOKEN), (200, TOKEN)]);
        let req = |a| ConnectRequest { athena: a, ..ConnectRequest::new(IntegrationKind::Athena, "Athena", &base, secret_auth(), "America/New_York") };
        let refusal = |store: &mut Store, a| try_connect(store, &vault, req(a)).unwrap_err().to_string();
        assert_eq!(refusal(&mut store, None), "Enter the athenahealth practice ID and at least one department ID.");
        assert_eq!(
            refusal(&mut store, athena("abc", &["1"], &["2"], &[])),
            "'abc' is not an athenahealth practice ID; it is a number, e.g. 195900"
        );
        assert_eq!(
            refusal(&mut store, athena("195900", &[], &["2"], &[])),
            "Enter at least one athenahealth department ID (athenahealth lists open times per department)."
        );
        assert_eq!(
            refusal(&mut store, athena("195900", &["1"], &[], &[])),
            "Enter at least one athenahealth appointment type ID or reason ID: athenahealth lists no open times without one."
        );
        let x2 = refusal(&mut store, athena("195900", &["1", "x2"], &[], &["2"]));
        assert!(x2.contains("'x2'") && x2.contains("department ID"), "{x2}");
        let reason_alone = refusal(&mut store, athena("195900", &["1"], &["7"], &[]));
        assert!(reason_alone.starts_with("athenahealth lists open times for a visit reason (reasonid) only together with a provider"), "{reason_alone}");
        let wrong_auth = ConnectRequest { auth: ConnectAuth::None, ..req(athena("195900", &["1"], &["2"], &[])) };
        assert_eq!(
            try_connect(&mut store, &vault, wrong_auth).unwrap_err().to_string(),
            "athenahealth connects with the client ID and secret of its API app (client credentials)."
        );
        assert!(vault.is_empty(), "nothing stored by refused connections");
        // A client ID and secret athenahealth refuses are refused at once, and nothing is kept.
        let refused = try_connect(&mut store, &vault, req(athena("195900", &["1"], &["-1"], &[]))).unwrap_err().to_string();
        assert!(refused.starts_with("Athena refused MedHarmony Desk's sign-in"), "{refused}");
        assert!(vault.is_empty() && store.integrations().unwrap().is_empty());

        assert!(try_connect(&mut store, &vault, req(athena("195900", &["1"], &["-1"], &[]))).is_ok(), "reasonid -1 (any reason) needs no provider");
        assert!(store.remove_integration("Athena", now()).unwrap());
        let integ = try_connect(&mut store, &vault, req(athena("195900", &["1"], &[], &["82"]))).unwrap();
        assert_eq!(integ.settings.base_url, base);
        assert_eq!(
            integ.settings.auth,
            AuthConfig::ClientSecret {
                client_id: "athena-app".into(),
                token_url: format!("{base}/oauth2/v1/token"),
                scope: "athena/service/Athenanet.MDP.*".into()
            }
        );
        // The token endpoint got the client ID and secret over HTTP Basic each time.
        let basic = format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "athena-app:s3cr3t-athena"));
        assert_eq!(seen.join().unwrap(), vec![basic; 3]);
        assert_eq!(integ.settings.athena.as_ref().unwrap().appointmenttypeids, vec!["82".to_string()]);
        assert_eq!(vault.secret("integration:Athena:client-secret").as_deref(), Some("s3cr3t-athena"));
        assert!(!serde_json::to_string(&integ.settings).unwrap().contains("s3cr3t"));
    }

    #[test]
    fn calendar_connections_need_calendars_with_providers_and_readable_hours() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("c.db"), &DbKey::Raw([4; 32])).unwrap();
        let vault = Arc::new(Vault::default());
        let basic = ConnectAuth::Basic { username: "desk@example.com".into(), password: "app-pass".into() };
        let caldav = |cals: Vec<CalendarSettings>| ConnectRequest {
            calendars: cals,
            ..ConnectRequest::new(IntegrationKind::CalDav, "Fastmail", "https://caldav.fastmail.com", basic.clone(), "Europe/Berlin")
        };
        let refusal = |store: &mut Store, r| try_connect(store, &vault, r).unwrap_err().to_string();
        assert_eq!(refusal(&mut store, caldav(vec![])), "Add at least one calendar and the provider it belongs to.");
        assert_eq!(
            refusal(&mut store, caldav(vec![calendar("rivera", "Dr. Rivera", "Mon-Fri 08:00-17:00")])),
            "The calendar of Dr. Rivera must be its full address as the server lists it (https://…)."
        );
        let url = "https://caldav.fastmail.com/dav/calendars/user/desk@example.com/rivera/";
        assert_eq!(
            refusal(&mut store, caldav(vec![calendar(url, "Dr. Rivera", "Mon-Fri 08:00-17:00"), calendar(url, "Dr. Rivera", "Sat 09:00-12:00")])),
            format!("The calendar {url} is listed twice.")
        );
        assert_eq!(
            refusal(&mut store, caldav(vec![calendar(url, "Dr. Rivera", "weekdays")])),
            "Dr. Rivera: working hours 'weekdays': 'weekdays' needs days then times, e.g. 'Mon-Fri 07:00-17:00'"
        );
        assert_eq!(refusal(&mut store, caldav(vec![calendar(url, " ", "Mon 08:00-09:00")])), format!("Enter the provider whose calendar {url} is."));
        // Plain http only on this computer: Basic sign-in sends the app password with every request.
        let lan = ConnectRequest {
            base_url: "http://192.168.1.20:5232/".into(),
            ..caldav(vec![calendar("http://192.168.1.20:5232/desk/rivera/", "Dr. Rivera", "Mon 08:00-09:00")])
        };
        assert_eq!(refusal(&mut store, lan), "192.168.1.20 would receive the app password unencrypted (http://). Use its https:// address.");
        let calendar_on_lan = caldav(vec![calendar("http://nas.local/dav/rivera/", "Dr. Rivera", "Mon 08:00-09:00")]);
        assert!(refusal(&mut store, calendar_on_lan).starts_with("nas.local would receive the app password unencrypted"));
        let google = ConnectRequest {
            calendars: vec![calendar("rivera@example.com", "Dr. Rivera", "Mon-Fri 08:00-17:00")],
            ..ConnectRequest::new(IntegrationKind::GoogleCalendar, "Google", "", basic.clone(), "Europe/Berlin")
        };
        assert_eq!(refusal(&mut store, google), "Google Calendar connects with a Google account in the web browser.");
        assert!(vault.is_empty());
        assert!(store.integrations().unwrap().is_empty());
    }

    #[test]
    fn reconnecting_replaces_the_secret_and_clears_the_problem_and_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("c.db"), &DbKey::Raw([5; 32])).unwrap();
        let vault = Arc::new(Vault::default());
        let (base, _seen) = token_server(vec![(200, TOKEN), (200, TOKEN)]);
        let req = ConnectRequest {
            athena: athena("195900", &["1"], &[], &["2"]),
            ..ConnectRequest::new(IntegrationKind::Athena, "Athena", &base, secret_auth(), "America/New_York")
        };
        let integ = try_connect(&mut store, &vault, req).unwrap();
        store.set_integration_cursor(integ.id, "feed-cursor").unwrap();
        let report = serde_json::json!({"failed": true, "needs_reconnect": true});
        store.record_sync(integ.id, &report, Some("athenahealth did not accept MedHarmony Desk's sign-in"), false, None, now()).unwrap();
        assert_eq!(store.integration("Athena").unwrap().unwrap().failures, 1);

        let v: Arc<dyn KeyVault + Send + Sync> = vault.clone();
        let wrong = reconnect(&mut store, v.clone(), "Athena", ConnectAuth::None, |_| {}, &AtomicBool::new(false), now()).unwrap_err();
        assert_eq!(wrong.to_string(), "athenahealth connects with the client ID and secret of its API app (client credentials).");
        let fresh = ConnectAuth::ClientSecret { client_id: "athena-app-2".into(), secret: "new-secret".into() };
        let again = reconnect(&mut store, v, "Athena", fresh, |_| {}, &AtomicBool::new(false), now()).unwrap();
        assert_eq!((again.failures, again.last_error.as_deref(), again.cursor.as_deref(), again.last_sync_at), (0, None, None, None));
        assert_eq!(
            again.settings.auth,
            AuthConfig::ClientSecret {
                client_id: "athena-app-2".into(),
                token_url: format!("{base}/oauth2/v1/token"),
                scope: "athena/service/Athenanet.MDP.*".into()
            }
        );
        assert_eq!(vault.secret("integration:Athena:client-secret").as_deref(), Some("new-secret"));
        assert_eq!(again.settings.athena, integ.settings.athena, "the rest of the settings is kept");
    }
}
