//! Connected systems (EHRs) on the Integrations page: the engine's
//! [`medharmony::connect`] and [`medharmony::sync`] behind the commands, with
//! the form checked and every message in front-desk words.
//!
//! Connecting and syncing wait on the network (a browser sign-in up to
//! [`medharmony::connect::SIGN_IN_TIMEOUT`]), so they run on worker threads
//! with database connections of their own ([`DeskState::open_worker`]): the
//! week view keeps working meanwhile, and their writes reach the window as
//! `store-changed` events like any other.
//!
//! Secrets (private keys, client secrets, refresh tokens) go from the form
//! straight to the keychain through the engine; nothing here logs, stores or
//! returns one.

use std::io::Read;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use medharmony::auth::AuthConfig;
use medharmony::connect::{ConnectAuth, ConnectError, ConnectRequest};
use medharmony::connector::{IntegrationKind, Quarantined};
use medharmony::store::integrations::Integration;
use medharmony::store::key::KeyVault;
use medharmony::store::Store;
use medharmony::sync::{connector_for, default_window, failed_report, sync_integration, SyncReport};
use medharmony::time::{fmt_instant, parse_iana};
use serde_json::Value;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::dto::{
    names, AuthForm, ConnectForm, FoundCalendar, ConnectResult, DisconnectResult, IntegrationCard, IntegrationStatus, IntegrationsView, SetAside,
    SignInStarted, SyncResult,
};
use crate::error::DeskError;
use crate::state::DeskState;
use crate::words::{auth_words, on_integrations_page, sentence, sync_summary};

/// Largest private key file read: 64 KiB (a PEM key is a few kilobytes).
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The Integrations page: every connected system as a card.
///
/// # Errors
/// Store errors.
pub fn list(state: &DeskState) -> Result<IntegrationsView, DeskError> {
    let now = state.clock().now();
    let all = state.with_store(|s| Ok(s.integrations()?))?;
    Ok(IntegrationsView {
        cards: all.iter().map(|i| card(i, now, state.is_syncing(&i.name))).collect(),
        connecting: state.connecting(),
        now: fmt_instant(now),
    })
}

/// A connected system as its card shows it, at `now`; `syncing` while a sync runs.
pub fn card(i: &Integration, now: DateTime<Utc>, syncing: bool) -> IntegrationCard {
    let (auth, words) = auth_words(&i.settings.auth);
    let client_id = match &i.settings.auth {
        AuthConfig::None | AuthConfig::Basic { .. } => None,
        AuthConfig::Backend { client_id, .. }
        | AuthConfig::ClientSecret { client_id, .. }
        | AuthConfig::Standalone { client_id, .. }
        | AuthConfig::InstalledApp { client_id, .. } => Some(client_id.clone()),
    };
    let stale = i.last_sync_at.is_some_and(|t| now - t > Duration::minutes(2 * i64::from(i.sync_minutes.max(1))));
    let problem = i.last_error.as_deref().map(|e| sentence(&on_integrations_page(e)));
    let status = if syncing {
        IntegrationStatus::Syncing
    } else if problem.is_some() {
        IntegrationStatus::Problem
    } else if i.last_sync_at.is_none() {
        IntegrationStatus::Never
    } else if stale {
        IntegrationStatus::Stale
    } else {
        IntegrationStatus::Ok
    };
    IntegrationCard {
        name: i.name.clone(),
        kind: i.kind.as_str().to_string(),
        kind_label: i.kind.label().to_string(),
        base_url: i.settings.base_url.clone(),
        auth: auth.to_string(),
        auth_words: words.to_string(),
        client_id,
        username: match &i.settings.auth {
            AuthConfig::Basic { username } => Some(username.clone()),
            _ => None,
        },
        tz: i.settings.tz.clone(),
        sync_minutes: i.sync_minutes,
        active: i.active,
        status,
        last_sync_at: i.last_sync_at.map(fmt_instant),
        stale,
        last_sync: i.last_report.as_ref().and_then(|v| report_from_json(v, i)).map(|r| sync_result(&r)),
        problem,
        needs_reconnect: i.needs_reconnect(),
        next_sync_at: next_sync(i, now).map(fmt_instant),
        calendars: i.settings.calendars.iter().map(|c| format!("{} ({})", c.provider, c.id)).collect(),
        athena: i.settings.athena.as_ref().map(|a| {
            let mut s = format!("Practice {} · department{} {}", a.practiceid, if a.departmentids.len() == 1 { "" } else { "s" }, a.departmentids.join(", "));
            if !a.providerids.is_empty() {
                s.push_str(&format!(" · provider{} {}", if a.providerids.len() == 1 { "" } else { "s" }, a.providerids.join(", ")));
            }
            s
        }),
    }
}

/// When the sync worker next syncs `i` (its schedule without the few seconds of start jitter):
/// `now` when due, `None` while paused.
fn next_sync(i: &Integration, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let no_jitter = |_: i64, _: DateTime<Utc>| std::time::Duration::ZERO;
    medharmony::worker::next_due(&medharmony::worker::ScheduleState::from(i), now, &no_jitter).map(|t| t.max(now))
}

/// A sync report recorded by the engine (`integrations.last_report`, as
/// `medharmony sync --json` prints it) read back; `None` when unreadable.
fn report_from_json(v: &Value, i: &Integration) -> Option<SyncReport> {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).map_or(0, |x| usize::try_from(x).unwrap_or(usize::MAX));
    let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    let t = |k: &str| v.get(k).and_then(Value::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|d| d.with_timezone(&Utc));
    let warnings: Vec<Quarantined> = v.get("warnings").cloned().and_then(|w| serde_json::from_value(w).ok()).unwrap_or_default();
    Some(SyncReport {
        integration: i.name.clone(),
        kind: i.kind,
        added: n("added"),
        changed: n("changed"),
        removed: n("removed"),
        unchanged: n("unchanged"),
        quarantined: n("quarantined"),
        complete: b("complete"),
        from: t("from")?,
        to: t("to")?,
        warnings,
        problem: v.get("problem").and_then(Value::as_str).map(str::to_string),
        failed: b("failed"),
        needs_reconnect: b("needs_reconnect"),
    })
}

/// A sync report for the window.
pub fn sync_result(r: &SyncReport) -> SyncResult {
    SyncResult {
        integration: r.integration.clone(),
        added: r.added,
        changed: r.changed,
        removed: r.removed,
        unchanged: r.unchanged,
        quarantined: r.quarantined,
        complete: r.complete,
        failed: r.failed,
        from: fmt_instant(r.from),
        to: fmt_instant(r.to),
        problem: r.problem.as_deref().map(|p| sentence(&on_integrations_page(p))),
        set_aside: r.warnings.iter().map(|w| SetAside { resource: w.resource.clone(), reason: w.reason.clone() }).collect(),
        summary: sync_summary(r),
    }
}

fn trimmed(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn list_of(items: &[String]) -> Vec<String> {
    items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn web_address(value: &str, what: &str, example: &str) -> Result<String, DeskError> {
    let v = value.trim().trim_end_matches('/');
    let lower = v.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(v.to_string()),
        _ => Err(DeskError::Form(format!("“{}” is not a web address. Enter {what} starting with https://, e.g. {example}", value.trim()))),
    }
}

/// The client ID, required by every method that signs in.
fn client_id(id: &str) -> Result<String, DeskError> {
    match id.trim() {
        "" => {
            Err(DeskError::Form("Enter the client ID. Your EHR administrator gives it to you when they register MedHarmony Desk.".into()))
        }
        id => Ok(id.to_string()),
    }
}

/// Reads a private key file picked in the window (at most [`MAX_KEY_FILE_BYTES`]).
fn read_key_file(path: &Path) -> Result<String, DeskError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
    let refused = |why: &str| DeskError::Form(format!("The key file “{name}” {why}. Choose the private key file again."));
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => refused("is not there any more"),
        std::io::ErrorKind::PermissionDenied => refused("may not be read by this user account"),
        _ => refused("could not be read"),
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(refused("is a folder"));
    }
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES + 1).read_to_string(&mut text).map_err(|_| refused("is not a text (.pem) file"))?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES || !text.contains("-----BEGIN") {
        return Err(DeskError::Form(format!(
            "“{name}” is not a private key. Choose the .pem file whose first line starts with “-----BEGIN”."
        )));
    }
    Ok(text)
}

/// Checks a Connect form and turns it into the engine's request. Nothing is
/// changed and no server is asked; every refusal is a sentence for staff.
///
/// # Errors
/// [`DeskError::Form`] naming what to fill in or fix; [`DeskError::BadZone`].
pub fn connect_request(form: ConnectForm) -> Result<ConnectRequest, DeskError> {
    let kind = IntegrationKind::from_str(&form.kind).map_err(|_| DeskError::Form("Choose which kind of system to connect.".into()))?;
    let name = form.name.trim().to_string();
    if name.is_empty() {
        return Err(DeskError::Form(format!("Give the connection a name your team will recognise, e.g. “Main Street {}”.", kind.label())));
    }
    let base_url = match kind {
        IntegrationKind::GoogleCalendar if form.base_url.trim().is_empty() => String::new(),
        IntegrationKind::CalDav if form.base_url.trim().is_empty() => {
            return Err(DeskError::Form(
                "Enter the calendar server's address, e.g. https://caldav.icloud.com, https://caldav.fastmail.com or your Nextcloud address."
                    .into(),
            ))
        }
        IntegrationKind::CalDav => web_address(&form.base_url, "the calendar server's address", "https://caldav.fastmail.com")?,
        IntegrationKind::Athena if form.base_url.trim().is_empty() => medharmony::connect::ATHENA_PRODUCTION.to_string(),
        IntegrationKind::Athena | IntegrationKind::GoogleCalendar => web_address(&form.base_url, "the API address", "https://api.platform.athenahealth.com")?,
        _ if form.base_url.trim().is_empty() => {
            return Err(DeskError::Form(
                "Enter the FHIR address. Your EHR administrator or IT person gives it to you; it often ends in /R4.".into(),
            ))
        }
        _ => web_address(&form.base_url, "the FHIR address", "https://fhir.example.org/r4")?,
    };
    let auth = match form.auth {
        AuthForm::None => ConnectAuth::None,
        AuthForm::BackendKey { client_id: id, private_key_pem, private_key_path, kid } => {
            let client_id = client_id(&id)?;
            let pem = match (trimmed(private_key_pem.as_deref()), trimmed(private_key_path.as_deref())) {
                (Some(_), Some(_)) => {
                    return Err(DeskError::Form("Give the private key once: either choose its file or paste it, not both.".into()))
                }
                (Some(text), None) => {
                    if !text.contains("-----BEGIN") {
                        return Err(DeskError::Form(
                            "What was pasted is not a private key. Paste the whole key, from “-----BEGIN” to “-----END … KEY-----”.".into(),
                        ));
                    }
                    text
                }
                (None, Some(path)) => read_key_file(Path::new(&path))?,
                (None, None) => return Err(DeskError::Form(
                    "Choose the private key file (or paste the key). Your IT person made it when registering MedHarmony Desk with the EHR."
                        .into(),
                )),
            };
            ConnectAuth::PrivateKey { client_id, pem, kid: trimmed(kid.as_deref()) }
        }
        AuthForm::ClientSecret { client_id: id, client_secret } => {
            let client_id = client_id(&id)?;
            if client_secret.trim().is_empty() {
                return Err(DeskError::Form("Enter the client secret of the system account (your EHR administrator has it).".into()));
            }
            ConnectAuth::ClientSecret { client_id, secret: client_secret.trim().to_string() }
        }
        AuthForm::Standalone { client_id: id } => ConnectAuth::Standalone { client_id: client_id(&id)? },
        AuthForm::Google { client_id: id, client_secret } => match id.trim() {
            "" => {
                return Err(DeskError::Form(
                    "Enter the client ID of your practice's Google Cloud project (an OAuth client of type “Desktop app”).".into(),
                ))
            }
            id => ConnectAuth::InstalledApp { client_id: id.to_string(), client_secret: trimmed(client_secret.as_deref()) },
        },
        AuthForm::Basic { username, password } => {
            if username.trim().is_empty() {
                return Err(DeskError::Form("Enter the user name of the calendar account (often its e-mail address).".into()));
            }
            if password.trim().is_empty() {
                return Err(DeskError::Form(
                    "Enter an app password for the calendar account (made in the account's security settings, not its usual password).".into(),
                ));
            }
            ConnectAuth::Basic { username: username.trim().to_string(), password: password.trim().to_string() }
        }
    };
    let tz = match trimmed(form.tz.as_deref()) {
        None => return Err(DeskError::Form("Choose the time zone of the practice this system serves.".into())),
        Some(z) => parse_iana(&z).map(|t| t.name().to_string()).ok_or(DeskError::BadZone(z))?,
    };
    let service_types = list_of(&form.service_types);
    if kind == IntegrationKind::OracleHealth && service_types.is_empty() {
        return Err(DeskError::Form(
            "Oracle Health lists open times only for a visit type: enter at least one visit type code (your Oracle Health administrator can tell you which)."
                .into(),
        ));
    }
    let token_url = match trimmed(form.token_url.as_deref()) {
        Some(u) => Some(web_address(&u, "the sign-in (token) address", "https://auth.example.org/token")?),
        None => None,
    };
    let stu3_base_url = match trimmed(form.stu3_base_url.as_deref()) {
        Some(u) => Some(web_address(&u, "the STU3 address", "https://fhir.example.org/api/FHIR/STU3")?),
        None => None,
    };
    let athena = match (kind, form.athena) {
        (IntegrationKind::Athena, None) => {
            return Err(DeskError::Form("Enter the athenahealth practice ID and at least one department ID.".into()))
        }
        (IntegrationKind::Athena, Some(a)) => Some(medharmony::connector::AthenaSettings {
            practiceid: a.practiceid.trim().to_string(),
            departmentids: list_of(&a.departmentids),
            providerids: list_of(&a.providerids),
            reasonids: list_of(&a.reasonids),
            appointmenttypeids: list_of(&a.appointmenttypeids),
        }),
        _ => None,
    };
    let calendars = if kind.is_calendar() {
        form.calendars
            .iter()
            .filter(|c| !(c.calendar.trim().is_empty() && c.provider.trim().is_empty()))
            .map(|c| medharmony::connector::calendar::CalendarSettings {
                id: c.calendar.trim().to_string(),
                provider: c.provider.trim().to_string(),
                tz: trimmed(c.tz.as_deref()),
                hours: c.hours.trim().to_string(),
                slot_minutes: c.slot_minutes.unwrap_or(medharmony::connector::calendar::DEFAULT_SLOT_MINUTES),
                location: None,
            })
            .collect()
    } else {
        Vec::new()
    };
    if kind.is_calendar() && calendars.is_empty() {
        return Err(DeskError::Form("Add at least one calendar and the provider it belongs to.".into()));
    }
    Ok(ConnectRequest {
        kind,
        name,
        base_url,
        token_url,
        scope: None,
        auth,
        tz,
        service_types,
        practitioners: list_of(&form.practitioners),
        locations: list_of(&form.locations),
        stu3_base_url,
        athena,
        calendars,
    })
}

/// Signs in again to `name` with `auth` (see [`medharmony::connect::reconnect`]), then syncs it at once.
///
/// # Errors
/// [`DeskError::NoSuchIntegration`], [`DeskError::Form`] for the sign-in details,
/// [`DeskError::Busy`], [`DeskError::Connect`] when the sign-in fails (nothing changes then).
pub fn reconnect<R: Runtime>(app: &AppHandle<R>, name: &str, auth: AuthForm) -> Result<ConnectResult, DeskError> {
    let state = app.state::<DeskState>();
    let integ = state.with_store(|s| Ok(s.integration(name)?))?.ok_or_else(|| DeskError::NoSuchIntegration(name.trim().to_string()))?;
    // The form's checks for the sign-in part, with the stored settings for the rest.
    let probe = ConnectForm {
        kind: integ.kind.as_str().to_string(),
        name: integ.name.clone(),
        base_url: integ.settings.base_url.clone(),
        auth,
        tz: Some(integ.settings.tz.clone()),
        service_types: integ.settings.service_types.clone(),
        practitioners: vec![],
        locations: vec![],
        token_url: None,
        stu3_base_url: None,
        athena: integ.settings.athena.as_ref().map(|a| crate::dto::AthenaForm {
            practiceid: a.practiceid.clone(),
            departmentids: a.departmentids.clone(),
            providerids: a.providerids.clone(),
            reasonids: a.reasonids.clone(),
            appointmenttypeids: a.appointmenttypeids.clone(),
        }),
        calendars: integ
            .settings
            .calendars
            .iter()
            .map(|c| crate::dto::CalendarForm {
                calendar: c.id.clone(),
                provider: c.provider.clone(),
                hours: c.hours.clone(),
                slot_minutes: Some(c.slot_minutes),
                tz: c.tz.clone(),
            })
            .collect(),
    };
    let auth = connect_request(probe)?.auth;
    let _connecting = state.begin_connect(&integ.name)?;
    let _syncing = state.begin_sync(&integ.name)?;
    let mut store = state.open_worker()?;
    let now = state.clock().now();
    let open_browser = |url: &str| {
        let browser_opened = tauri_plugin_opener::open_url(url, None::<&str>).is_ok();
        if !browser_opened {
            log::warn!("could not open the web browser for a sign-in");
        }
        if let Err(e) = app.emit(names::SIGN_IN, SignInStarted { name: integ.name.clone(), browser_opened, url: (!browser_opened).then(|| url.to_string()) }) {
            log::warn!("could not tell the window about the sign-in: {e}");
        }
    };
    let stored = match medharmony::connect::reconnect(&mut store, state.vault(), &integ.name, auth, open_browser, state.cancel_flag(), now) {
        Ok(i) => i,
        Err(e) => {
            log::info!("reconnecting a system failed ({})", connect_error_kind(&e));
            return Err(e.into());
        }
    };
    log::info!("reconnected a {} system", stored.kind);
    let report = sync_one(&mut store, state.vault(), &stored, now)?;
    let stored = store.integration(&stored.name)?.unwrap_or(stored);
    Ok(ConnectResult { card: card(&stored, now, false), first_sync: sync_result(&report) })
}

/// The calendars of a CalDAV account at `base_url`, for the Connect form.
///
/// # Errors
/// [`DeskError::Form`] for a missing address, user name or password, or when the server cannot be
/// asked or refuses (in plain words).
pub fn find_calendars(base_url: &str, username: &str, password: &str) -> Result<Vec<FoundCalendar>, DeskError> {
    let base = web_address(base_url, "the calendar server's address", "https://caldav.fastmail.com")?;
    if username.trim().is_empty() || password.trim().is_empty() {
        return Err(DeskError::Form("Enter the user name and app password first, then find the calendars.".into()));
    }
    let agent = medharmony::connector::caldav::CalDavConnector::default_agent();
    match medharmony::connector::caldav::discover(&base, username.trim(), password.trim(), agent) {
        Ok(found) if found.is_empty() => Err(DeskError::Form(format!(
            "The account {} has no calendars on {}. Make a calendar for each provider there, then find the calendars again.",
            username.trim(),
            url::Url::parse(&base).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| base.clone())
        ))),
        Ok(found) => Ok(found.into_iter().map(|c| FoundCalendar { url: c.url, name: c.display_name }).collect()),
        Err(e) => Err(DeskError::Form(sentence(&e.to_string()))),
    }
}

/// One sync of `integ` over the default window around `now`, recorded on the
/// integration whatever its outcome (as `medharmony sync` does).
///
/// # Errors
/// Store errors only: a failed sync is a report with `failed` set.
pub fn sync_one(
    store: &mut Store,
    vault: Arc<dyn KeyVault + Send + Sync>,
    integ: &Integration,
    now: DateTime<Utc>,
) -> Result<SyncReport, DeskError> {
    let window = default_window(now);
    let report = match connector_for(integ, vault) {
        Ok(mut c) => sync_integration(store, integ, c.as_mut(), window, now)?,
        Err(e) => {
            let mut r = failed_report(integ, window, e.to_string());
            r.needs_reconnect = medharmony::sync::needs_reconnect(&e);
            store.record_sync(integ.id, &serde_json::to_value(&r).unwrap_or_default(), r.problem.as_deref(), false, None, now)?;
            r
        }
    };
    log::info!(
        "sync of a {} system: {} added, {} changed, {} removed, {} set aside, complete {}, failed {}",
        integ.kind,
        report.added,
        report.changed,
        report.removed,
        report.quarantined,
        report.complete,
        report.failed
    );
    Ok(report)
}

/// Connects the system of `form` (opening the web browser for a staff
/// sign-in, and telling the window with a `sign-in` event), then syncs it at once.
///
/// # Errors
/// [`DeskError::Form`] / [`DeskError::BadZone`] for the form, [`DeskError::Busy`]
/// while another connection is being made, [`DeskError::Connect`] when
/// discovery, the keychain or the sign-in fails (nothing is stored then).
pub fn connect<R: Runtime>(app: &AppHandle<R>, form: ConnectForm) -> Result<ConnectResult, DeskError> {
    let state = app.state::<DeskState>();
    let req = connect_request(form)?;
    let name = req.name.clone();
    let _connecting = state.begin_connect(&name)?;
    let mut store = state.open_worker()?;
    let now = state.clock().now();
    let open_browser = |url: &str| {
        // The address carries the sign-in's one-time state: never logged; shown only when the browser could not be opened.
        let browser_opened = tauri_plugin_opener::open_url(url, None::<&str>).is_ok();
        if !browser_opened {
            log::warn!("could not open the web browser for a sign-in");
        }
        if let Err(e) = app.emit(names::SIGN_IN, SignInStarted { name: name.clone(), browser_opened, url: (!browser_opened).then(|| url.to_string()) }) {
            log::warn!("could not tell the window about the sign-in: {e}");
        }
    };
    let integ = match medharmony::connect::connect(&mut store, state.vault(), req, open_browser, state.cancel_flag(), now) {
        Ok(i) => i,
        Err(e) => {
            log::info!("connecting a system failed ({})", connect_error_kind(&e));
            return Err(e.into());
        }
    };
    log::info!("connected a {} system", integ.kind);
    let report = {
        let _syncing = state.begin_sync(&integ.name)?;
        sync_one(&mut store, state.vault(), &integ, now)?
    };
    let stored = store.integration(&integ.name)?.unwrap_or(integ);
    Ok(ConnectResult { card: card(&stored, now, false), first_sync: sync_result(&report) })
}

fn connect_error_kind(e: &ConnectError) -> &'static str {
    match e {
        ConnectError::Invalid(_) => "invalid settings",
        ConnectError::Auth(_) => "sign-in or keychain",
        ConnectError::Store(_) => "database",
    }
}

/// Syncs the connected system `name` now.
///
/// # Errors
/// [`DeskError::NoSuchIntegration`], [`DeskError::Busy`] while it syncs already, store errors.
pub fn sync_now(state: &DeskState, name: &str) -> Result<SyncResult, DeskError> {
    let integ = state.with_store(|s| Ok(s.integration(name)?))?.ok_or_else(|| DeskError::NoSuchIntegration(name.trim().to_string()))?;
    let _syncing = state.begin_sync(&integ.name)?;
    let mut store = state.open_worker()?;
    let report = sync_one(&mut store, state.vault(), &integ, state.clock().now())?;
    Ok(sync_result(&report))
}

/// Pauses or resumes the scheduled syncs of `name` ([`medharmony::store::Store::set_integration_active`]).
///
/// # Errors
/// [`DeskError::NoSuchIntegration`], store errors.
pub fn set_paused(state: &DeskState, name: &str, paused: bool) -> Result<(), DeskError> {
    let now = state.clock().now();
    if !state.with_store(|s| Ok(s.set_integration_active(name, !paused, now)?))? {
        return Err(DeskError::NoSuchIntegration(name.trim().to_string()));
    }
    log::info!("scheduled syncs {}", if paused { "paused" } else { "resumed" });
    Ok(())
}

/// Disconnects `name`: its open times leave the week view and its secrets the keychain.
///
/// # Errors
/// [`DeskError::NoSuchIntegration`], [`DeskError::Busy`] while it syncs, store errors.
/// A keychain that refuses after the connection was removed is a warning, not an error.
pub fn disconnect(state: &DeskState, name: &str) -> Result<DisconnectResult, DeskError> {
    let integ = state.with_store(|s| Ok(s.integration(name)?))?.ok_or_else(|| DeskError::NoSuchIntegration(name.trim().to_string()))?;
    let _syncing = state.begin_sync(&integ.name).map_err(|_| {
        DeskError::Busy(format!("{} is syncing right now. Disconnect it when the sync has finished (in a moment).", integ.name))
    })?;
    let mut store = state.open_worker()?;
    let now = state.clock().now();
    match medharmony::connect::disconnect(&mut store, state.vault().as_ref(), &integ.name, now) {
        Ok(true) => {
            log::info!("disconnected a {} system", integ.kind);
            Ok(DisconnectResult { name: integ.name, warning: None })
        }
        Ok(false) => Err(DeskError::NoSuchIntegration(integ.name)),
        Err(ConnectError::Auth(e)) if store.integration(&integ.name)?.is_none() => {
            log::warn!("disconnected a system, but its keychain entries could not be removed");
            let warning = format!(
                "{} was disconnected and its open times were removed, but its sign-in details could not be removed from this computer's keychain ({}). Ask your IT person to remove them.",
                integ.name,
                e.to_string().trim_end_matches('.')
            );
            Ok(DisconnectResult { name: integ.name, warning: Some(warning) })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medharmony::connector::IntegrationSettings;

    fn form(auth: AuthForm) -> ConnectForm {
        ConnectForm {
            kind: "fhir".into(),
            name: " Clinic FHIR ".into(),
            base_url: "https://fhir.example.org/r4/".into(),
            auth,
            tz: Some("America/New_York".into()),
            service_types: vec![],
            practitioners: vec![" Practitioner/1 ".into(), "".into()],
            locations: vec![],
            token_url: Some("  ".into()),
            stu3_base_url: None,
            athena: None,
            calendars: vec![],
        }
    }

    fn refusal(f: ConnectForm) -> String {
        connect_request(f).unwrap_err().to_string()
    }

    fn calendar_row(calendar: &str, provider: &str, hours: &str) -> crate::dto::CalendarForm {
        crate::dto::CalendarForm { calendar: calendar.into(), provider: provider.into(), hours: hours.into(), slot_minutes: None, tz: None }
    }

    #[test]
    fn athenahealth_google_and_caldav_forms_become_engine_requests() {
        let athena = ConnectForm {
            kind: "athena".into(),
            base_url: "".into(),
            auth: AuthForm::ClientSecret { client_id: " app ".into(), client_secret: " s3cret ".into() },
            athena: Some(crate::dto::AthenaForm {
                practiceid: " 195900 ".into(),
                departmentids: vec!["1".into(), " ".into(), " 21 ".into()],
                providerids: vec![],
                reasonids: vec![],
                appointmenttypeids: vec!["82".into()],
            }),
            ..form(AuthForm::None)
        };
        let req = connect_request(athena.clone()).unwrap();
        assert_eq!(req.kind, IntegrationKind::Athena);
        assert_eq!(req.base_url, medharmony::connect::ATHENA_PRODUCTION);
        let a = req.athena.unwrap();
        assert_eq!((a.practiceid.as_str(), a.departmentids, a.appointmenttypeids), ("195900", vec!["1".to_string(), "21".to_string()], vec!["82".to_string()]));
        assert!(matches!(req.auth, ConnectAuth::ClientSecret { ref client_id, ref secret } if client_id == "app" && secret == "s3cret"));
        assert_eq!(refusal(ConnectForm { athena: None, ..athena }), "Enter the athenahealth practice ID and at least one department ID.");

        let google = ConnectForm {
            kind: "google-calendar".into(),
            base_url: "".into(),
            auth: AuthForm::Google { client_id: "1234-abc.apps.googleusercontent.com".into(), client_secret: Some(" ".into()) },
            calendars: vec![calendar_row(" rivera@example.com ", " Dr. Rivera ", "Mon-Fri 08:00-17:00"), calendar_row(" ", "", "")],
            ..form(AuthForm::None)
        };
        let req = connect_request(google.clone()).unwrap();
        assert_eq!(req.base_url, "");
        assert!(matches!(req.auth, ConnectAuth::InstalledApp { ref client_id, client_secret: None } if client_id == "1234-abc.apps.googleusercontent.com"));
        assert_eq!(req.calendars.len(), 1, "the empty row is dropped");
        assert_eq!((req.calendars[0].id.as_str(), req.calendars[0].provider.as_str(), req.calendars[0].slot_minutes), ("rivera@example.com", "Dr. Rivera", 30));
        assert_eq!(refusal(ConnectForm { calendars: vec![], ..google.clone() }), "Add at least one calendar and the provider it belongs to.");
        assert_eq!(
            refusal(ConnectForm { auth: AuthForm::Google { client_id: " ".into(), client_secret: None }, ..google }),
            "Enter the client ID of your practice's Google Cloud project (an OAuth client of type “Desktop app”)."
        );

        let caldav = ConnectForm {
            kind: "caldav".into(),
            base_url: "https://caldav.fastmail.com/".into(),
            auth: AuthForm::Basic { username: "desk@example.com".into(), password: "app-pass".into() },
            calendars: vec![calendar_row("https://caldav.fastmail.com/dav/calendars/user/desk@example.com/rivera/", "Dr. Rivera", "Mon 09:00-12:00")],
            ..form(AuthForm::None)
        };
        let req = connect_request(caldav.clone()).unwrap();
        assert_eq!(req.base_url, "https://caldav.fastmail.com");
        assert!(matches!(req.auth, ConnectAuth::Basic { ref username, ref password } if username == "desk@example.com" && password == "app-pass"));
        assert!(refusal(ConnectForm { base_url: " ".into(), ..caldav.clone() }).starts_with("Enter the calendar server's address"));
        assert_eq!(
            refusal(ConnectForm { auth: AuthForm::Basic { username: "desk@example.com".into(), password: " ".into() }, ..caldav }),
            "Enter an app password for the calendar account (made in the account's security settings, not its usual password)."
        );
    }

    #[test]
    fn a_good_form_becomes_the_engine_request() {
        let req = connect_request(form(AuthForm::None)).unwrap();
        assert_eq!(req.name, "Clinic FHIR");
        assert_eq!(req.base_url, "https://fhir.example.org/r4");
        assert_eq!(req.kind, IntegrationKind::Fhir);
        assert_eq!(req.practitioners, ["Practitioner/1"]);
        assert_eq!(req.token_url, None);
        assert!(matches!(req.auth, ConnectAuth::None));
        let req = connect_request(form(AuthForm::ClientSecret { client_id: " abc ".into(), client_secret: "s3cret".into() })).unwrap();
        assert!(matches!(&req.auth, ConnectAuth::ClientSecret { client_id, secret } if client_id == "abc" && secret == "s3cret"));
        // The request's debug text never shows the secret.
        assert!(!format!("{req:?}").contains("s3cret"));
    }

    #[test]
    fn refusals_say_what_to_fill_in() {
        assert!(refusal(ConnectForm { name: "  ".into(), ..form(AuthForm::None) }).starts_with("Give the connection a name"));
        assert!(refusal(ConnectForm { base_url: "".into(), ..form(AuthForm::None) }).starts_with("Enter the FHIR address."));
        assert_eq!(
            refusal(ConnectForm { base_url: "fhir.example.org".into(), ..form(AuthForm::None) }),
            "“fhir.example.org” is not a web address. Enter the FHIR address starting with https://, e.g. https://fhir.example.org/r4"
        );
        assert!(refusal(form(AuthForm::Standalone { client_id: " ".into() })).starts_with("Enter the client ID. Your EHR administrator"));
        assert!(refusal(form(AuthForm::ClientSecret { client_id: "a".into(), client_secret: "".into() }))
            .starts_with("Enter the client secret"));
        let key = |pem: Option<&str>, path: Option<&str>| AuthForm::BackendKey {
            client_id: "a".into(),
            private_key_pem: pem.map(str::to_string),
            private_key_path: path.map(str::to_string),
            kid: None,
        };
        assert!(refusal(form(key(None, None))).starts_with("Choose the private key file"));
        assert!(refusal(form(key(Some("hello"), None))).starts_with("What was pasted is not a private key"));
        assert!(refusal(form(key(Some("-----BEGIN"), Some("/x.pem")))).starts_with("Give the private key once"));
        let missing = refusal(form(key(None, Some("/no/such/dir/key.pem"))));
        assert_eq!(missing, "The key file “key.pem” is not there any more. Choose the private key file again.");
        let dir = tempfile::tempdir().unwrap();
        let not_key = dir.path().join("notes.txt");
        std::fs::write(&not_key, "hello").unwrap();
        assert!(refusal(form(key(None, Some(not_key.to_str().unwrap())))).starts_with("“notes.txt” is not a private key."));
        let pem = dir.path().join("k.pem");
        std::fs::write(&pem, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        let req = connect_request(form(key(None, Some(pem.to_str().unwrap())))).unwrap();
        assert!(matches!(&req.auth, ConnectAuth::PrivateKey { pem, .. } if pem.starts_with("-----BEGIN PRIVATE KEY-----")));
        assert_eq!(refusal(ConnectForm { tz: None, ..form(AuthForm::None) }), "Choose the time zone of the practice this system serves.");
        assert!(
            refusal(ConnectForm { tz: Some("Mars/Olympus".into()), ..form(AuthForm::None) }).contains("'Mars/Olympus' is not a time zone")
        );
        assert!(refusal(ConnectForm { kind: "oracle-health".into(), ..form(AuthForm::None) })
            .starts_with("Oracle Health lists open times only for a visit type"));
        assert_eq!(refusal(ConnectForm { kind: "meditech".into(), ..form(AuthForm::None) }), "Choose which kind of system to connect.");
        assert!(refusal(ConnectForm { token_url: Some("token".into()), ..form(AuthForm::None) }).contains("the sign-in (token) address"));
    }

    fn integration(last_sync_at: Option<&str>, last_error: Option<&str>, report: Option<Value>) -> Integration {
        Integration {
            id: 1,
            kind: IntegrationKind::Epic,
            name: "Main St Epic".into(),
            settings: IntegrationSettings {
                base_url: "https://epic.example.org/api/FHIR/R4".into(),
                stu3_base_url: None,
                tz: "America/Chicago".into(),
                auth: AuthConfig::Backend {
                    client_id: "cid-1".into(),
                    token_url: "https://epic.example.org/oauth2/token".into(),
                    scope: "s".into(),
                    kid: None,
                },
                service_types: vec![],
                practitioners: vec![],
                locations: vec![],
                page_size: 100,
                athena: None,
                calendars: Vec::new(),
            },
            sync_minutes: 15,
            active: true,
            last_sync_at: last_sync_at.map(|t| t.parse().unwrap()),
            last_error: last_error.map(str::to_string),
            last_report: report,
            cursor: None,
            last_attempt_at: None,
            failures: 0,
        }
    }

    #[test]
    fn cards_say_how_a_system_is_doing() {
        let now: DateTime<Utc> = "2026-03-04T15:00:00Z".parse().unwrap();
        let c = card(&integration(None, None, None), now, false);
        assert_eq!((c.status, c.stale, c.last_sync.is_none()), (IntegrationStatus::Never, false, true));
        assert_eq!((c.kind.as_str(), c.kind_label.as_str(), c.auth.as_str()), ("epic", "Epic", "backend-key"));
        assert_eq!(c.client_id.as_deref(), Some("cid-1"));
        let recent = card(&integration(Some("2026-03-04T14:45:00Z"), None, None), now, false);
        assert_eq!((recent.status, recent.stale), (IntegrationStatus::Ok, false));
        // Older than twice the 15 minutes.
        let old = card(&integration(Some("2026-03-04T14:29:00Z"), None, None), now, false);
        assert_eq!((old.status, old.stale), (IntegrationStatus::Stale, true));
        assert_eq!(card(&integration(Some("2026-03-04T14:29:00Z"), None, None), now, true).status, IntegrationStatus::Syncing);
        let report = serde_json::json!({
            "integration": "Main St Epic", "kind": "epic", "added": 0, "changed": 0, "removed": 0, "unchanged": 0, "quarantined": 0,
            "complete": false, "failed": true, "from": "2026-02-25T15:00:00Z", "to": "2026-06-02T15:00:00Z", "warnings": [],
            "problem": "could not reach Main St Epic: the connection was refused or timed out"
        });
        let bad = card(
            &integration(
                Some("2026-03-04T14:45:00Z"),
                Some("could not reach Main St Epic: the connection was refused or timed out"),
                Some(report),
            ),
            now,
            false,
        );
        assert_eq!(bad.status, IntegrationStatus::Problem);
        assert_eq!(bad.problem.as_deref(), Some("Could not reach Main St Epic: the connection was refused or timed out."));
        let last = bad.last_sync.unwrap();
        assert!(last.failed);
        assert_eq!(last.summary, "Main St Epic: the sync failed. Could not reach Main St Epic: the connection was refused or timed out.");
        assert_eq!(last.from, "2026-02-25T15:00:00Z");
    }
}
