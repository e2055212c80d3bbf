//! Cancellation fill in the window (issue "Cancellation fill"): the Openings page (openings, the
//! 30-day figures), suggestions for a free time, offer / book / release, the waitlist, the
//! practice's fill settings and who is at the desk. Each function is a thin wrapper over the
//! engine's [`medharmony::fill`]; offer and book talk to the time's system, so their commands run
//! off the UI thread.
//!
//! Audit: every time a patient's details are shown (the waitlist, suggestions, options) a `view`
//! row is written, and offer / book / release write theirs, each with the staff member chosen at
//! the desk ([`crate::state::DeskState::staff`]) and the computer's user.

use chrono::{DateTime, Duration, Local, Utc};
use medharmony::fill::llm::{LlmSettings, API_KEY_ACCOUNT, ENV_BASE_URL};
use medharmony::fill::model::{
    parse_date, parse_dates, parse_source_ids, parse_weekdays, parse_windows, LocalWindow, Patient, Preferences, Priority, WaitlistEntry, Wants,
};
use medharmony::fill::{self, Actor, AuditAction, FillError, FillSettings, LlmConfig, OfferError, Opening, QuietHours};
use medharmony::store::holds::FILL_STATS_DAYS;
use medharmony::store::Store;
use medharmony::sync::{connector_for, parse_slot_id};
use medharmony::time::{fmt_instant, parse_iana};

use crate::dto::{
    FillSettingsForm, FillStatsRow, FillView, HoldDto, OfferBookedDto, OpeningDto, PatientOptionDto, PatientOptions, SourceIdDto, StaffView,
    SuggestionDto, SuggestionsView, WaitlistEntryDto, WaitlistImportResult,
};
use crate::error::DeskError;
use crate::state::DeskState;

impl From<&Opening> for OpeningDto {
    fn from(o: &Opening) -> Self {
        OpeningDto {
            slot_id: o.slot.clone(),
            provider: o.provider.clone(),
            provider_tz: o.provider_tz.clone(),
            location: o.location.clone(),
            start: fmt_instant(o.start),
            end: fmt_instant(o.end),
            detected_at: fmt_instant(o.detected_at),
            still_free: o.still_free,
            held_until: o.held_until.map(fmt_instant),
            filled: o.filled,
        }
    }
}

fn stats_row(s: &fill::ProviderFillStats) -> FillStatsRow {
    FillStatsRow { provider: s.provider.clone(), openings: s.openings, filled: s.filled, median_minutes_to_fill: s.median_minutes_to_fill }
}

/// The staff member at the desk as the audit log records them ([`Actor`]).
fn actor(state: &DeskState) -> Actor {
    Actor::from_env(state.staff().as_deref())
}

/// The Openings page: openings detected in the last 30 days whose time is still ahead, the 30-day
/// figures by provider, the waitlist's size, who is at the desk and whether a model re-ranks.
///
/// # Errors
/// Store errors.
pub fn view(state: &DeskState) -> Result<FillView, DeskError> {
    let now = state.clock().now();
    // Whether a model is set up, without reading its key from the keychain on every refresh.
    let model_on = state.with_store(|s| Ok(LlmSettings::is_switched_on(s).unwrap_or(false)))?;
    state.with_store(|s| {
        let openings = s.recent_openings(now - Duration::days(FILL_STATS_DAYS), now)?;
        let stats = s.fill_stats(now)?;
        Ok(FillView {
            openings: openings.iter().map(OpeningDto::from).collect(),
            stats: stats.providers.iter().map(stats_row).collect(),
            total: stats_row(&stats.total),
            stats_from: fmt_instant(stats.from),
            waiting: s.waitlist_count()?,
            staff: state.staff(),
            model_on,
        })
    })
}

/// The language model to ask, if the practice switched one on ([`LlmSettings::resolve`]).
fn model_settings(state: &DeskState) -> Result<Option<LlmSettings>, DeskError> {
    let vault = state.vault();
    state.with_store(|s| LlmSettings::resolve(s, vault.as_ref()).map_err(DeskError::Fill))
}

/// Suggestions for the free time `slot_id`: the deterministic top 3, or, with `ask_model` and a
/// model switched on, the model's re-ranking (which may take up to its time limit; the store is
/// not locked meanwhile: the model is asked on a connection of its own).
///
/// # Errors
/// [`DeskError::Fill`] for a time that is not free or not known; store errors.
pub fn suggestions(state: &DeskState, slot_id: &str, ask_model: bool) -> Result<SuggestionsView, DeskError> {
    let now = state.clock().now();
    let model = if ask_model { model_settings(state)? } else { None };
    // The model may take seconds: ask it on a connection of its own, never holding the window's.
    let s = match &model {
        Some(m) => {
            let store = state.open_worker()?;
            fill::suggest_for_slot(&store, slot_id, now, Some(m))?
        }
        None => state.with_store(|store| Ok(fill::suggest_for_slot(store, slot_id, now, None)?))?,
    };
    let who = actor(state);
    let slot_no = parse_slot_id(&s.slot.id);
    state.with_store(|store| {
        for x in &s.suggestions {
            store.record_audit(AuditAction::View, &who, slot_no, Some(x.patient_id), now)?;
        }
        let provider_tz = store.provider(&s.slot.provider)?.map_or_else(|| "UTC".to_string(), |p| p.tz.name().to_string());
        let hold = match slot_no {
            Some(n) => store.hold_of(n)?.filter(|h| h.is_active(now)).map(|h| hold_dto(store, &h)).transpose()?,
            None => None,
        };
        let bookable = match slot_no {
            Some(n) => store.slot_for_booking(n)?.is_some_and(|b| b.integration.is_some() && b.to_book.is_some()),
            None => false,
        };
        Ok(SuggestionsView {
            slot_id: s.slot.id.clone(),
            provider: s.slot.provider.clone(),
            provider_tz,
            location: s.slot.location.clone(),
            service_type: s.slot.service_type.clone(),
            start: fmt_instant(s.slot.span.start),
            end: fmt_instant(s.slot.span.end),
            suggestions: s
                .suggestions
                .iter()
                .map(|x| SuggestionDto {
                    patient_id: x.patient_id,
                    display_name: x.display_name.clone(),
                    phone: x.phone.clone(),
                    has_source_id: x.source_patient_id.is_some(),
                    priority: x.priority.code().to_string(),
                    score: x.score,
                    reason: x.reason.clone(),
                    model_reason: x.llm_reason.clone(),
                    karma_bonus: x.karma_bonus,
                    days_waiting: x.days_waiting,
                    notice_hours: x.notice_hours,
                })
                .collect(),
            eligible: s.eligible,
            waiting: s.waiting,
            ranked_by: serde_json::to_value(s.ranked_by).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            model_asked: model.is_some() && s.eligible > 0,
            fallback_reason: s.fallback_reason.clone(),
            hold,
            bookable,
        })
    })
}

fn hold_dto(store: &Store, h: &fill::Hold) -> Result<HoldDto, DeskError> {
    let name = store.waitlist_entry(h.patient_id)?.map(|e| e.patient.display_name).unwrap_or_default();
    Ok(HoldDto { slot_id: h.slot.clone(), patient_id: h.patient_id, display_name: name, staff: h.staff.clone(), expires_at: fmt_instant(h.expires_at) })
}

/// Holds the free time `slot_id` for waiting patient `patient_id` for the practice's hold
/// length, after checking it with its system ([`fill::offer_slot`]).
///
/// # Errors
/// [`DeskError::Fill`] in staff words (no one at the desk, taken meanwhile, system unreachable).
pub fn offer(state: &DeskState, slot_id: &str, patient_id: i64) -> Result<HoldDto, DeskError> {
    let now = state.clock().now();
    let who = actor(state);
    let minutes = state.with_store(|s| Ok(s.fill_settings()?.hold_minutes))?;
    let vault = state.vault();
    let mut store = state.open_worker()?;
    let h = fill::offer_slot(&mut store, slot_id, patient_id, minutes, &who, |i| connector_for(i, vault), now)?;
    log::info!("time held for a waiting patient for {minutes} min");
    hold_dto(&store, &h)
}

/// Books the held time `slot_id` for its patient in its system ([`fill::book_offer`]).
///
/// # Errors
/// [`DeskError::Fill`] in staff words.
pub fn book(state: &DeskState, slot_id: &str) -> Result<OfferBookedDto, DeskError> {
    let now = state.clock().now();
    let who = actor(state);
    let vault = state.vault();
    let mut store = state.open_worker()?;
    let b = fill::book_offer(&mut store, slot_id, &who, |i| connector_for(i, vault), now)?;
    log::info!("held time booked in its system");
    Ok(OfferBookedDto { slot_id: b.slot, patient_id: b.patient_id, integration: b.integration, appointment_id: b.booked.appointment_id })
}

/// Releases the hold on `slot_id` ([`fill::release_offer`]).
///
/// # Errors
/// [`DeskError::Fill`] in staff words.
pub fn release(state: &DeskState, slot_id: &str) -> Result<(), DeskError> {
    let now = state.clock().now();
    let who = actor(state);
    state.with_store(|s| {
        fill::release_offer(s, slot_id, &who, now)?;
        Ok(())
    })
}

/// A waitlist entry as the Waitlist page shows it; `added_on` in the desk computer's zone.
pub fn entry_dto(e: &WaitlistEntry) -> WaitlistEntryDto {
    let p = &e.patient;
    WaitlistEntryDto {
        id: Some(e.id),
        display_name: p.display_name.clone(),
        phone: p.phone.clone(),
        email: p.email.clone(),
        tz: p.tz.name().to_string(),
        source_ids: p.source_ids.iter().map(|(k, v)| SourceIdDto { integration: k.clone(), patient_id: v.clone() }).collect(),
        service_type: p.wants.service_type.clone(),
        provider: p.wants.provider.clone(),
        locations: p.wants.locations.clone(),
        duration_minutes: p.wants.duration_minutes,
        priority: p.priority.code().to_string(),
        added_on: Some(p.added_at.with_timezone(&Local).date_naive().to_string()),
        blocked_weekdays: p.prefs.blocked_weekdays.iter().map(ToString::to_string).collect(),
        blocked_dates: p.prefs.blocked_dates.iter().map(ToString::to_string).collect(),
        preferred_times: p.prefs.preferred_times.iter().map(LocalWindow::spec).collect(),
        min_notice_hours: p.prefs.min_notice_hours,
        latest_date: p.prefs.latest_date.map(|d| d.to_string()),
    }
}

fn blank_to_none(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

/// The patient a Waitlist form describes (a new one is added at `now`).
///
/// # Errors
/// [`DeskError::Form`] naming the field in plain words.
pub fn patient_from_form(f: &WaitlistEntryDto, added_at: DateTime<Utc>) -> Result<Patient, DeskError> {
    let field = |name: &str, why: String| DeskError::Form(format!("{name}: {why}"));
    let tz = parse_iana(f.tz.trim()).ok_or_else(|| DeskError::BadZone(f.tz.trim().to_string()))?;
    let mut p = Patient::new(&f.display_name, tz, added_at);
    p.phone = blank_to_none(&f.phone);
    p.email = blank_to_none(&f.email);
    let ids: Vec<String> = f
        .source_ids
        .iter()
        .filter(|s| !(s.integration.trim().is_empty() && s.patient_id.trim().is_empty()))
        .map(|s| format!("{}={}", s.integration.trim(), s.patient_id.trim()))
        .collect();
    p.source_ids = parse_source_ids(&ids.join(";")).map_err(|e| field("Patient ids", e))?;
    p.wants = Wants {
        service_type: blank_to_none(&f.service_type),
        provider: blank_to_none(&f.provider),
        locations: f.locations.iter().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect(),
        duration_minutes: f.duration_minutes,
    };
    p.priority = f.priority.parse::<Priority>().map_err(|e| field("Priority", e))?;
    let weekdays = parse_weekdays(&f.blocked_weekdays.join(",")).map_err(|e| field("Days they cannot come", e))?;
    let dates = parse_dates(&f.blocked_dates.join(","));
    let windows = parse_windows(&f.preferred_times.join(";"));
    p.prefs = Preferences {
        blocked_weekdays: weekdays,
        blocked_dates: dates.map_err(|e| field("Dates they cannot come", e))?,
        preferred_times: windows.map_err(|e| field("Preferred times", e))?,
        min_notice_hours: f.min_notice_hours,
        latest_date: blank_to_none(&f.latest_date).map(|d| parse_date(&d)).transpose().map_err(|e| field("Latest date", e))?,
    };
    p.validate().map_err(|(name, why)| {
        let label = match name {
            "name" => "Name",
            "duration_minutes" => "Visit length",
            "locations" => "Locations",
            "patient_ids" => "Patient ids",
            other => other,
        };
        field(label, why)
    })?;
    Ok(p)
}

/// Every waiting patient, highest priority and longest waiting first (a `view` audit row each).
///
/// # Errors
/// Store errors.
pub fn waitlist(state: &DeskState) -> Result<Vec<WaitlistEntryDto>, DeskError> {
    let now = state.clock().now();
    let who = actor(state);
    state.with_store(|s| {
        // The store lists them urgent first, then soon, then routine, oldest first within each.
        let entries = s.waitlist()?;
        for e in &entries {
            s.record_audit(AuditAction::View, &who, None, Some(e.id), now)?;
        }
        Ok(entries.iter().map(entry_dto).collect())
    })
}

/// Adds (`id` null) or updates a waiting patient; an update keeps the date added.
///
/// # Errors
/// [`DeskError::Form`] naming the field; [`DeskError::Fill`] for a patient no longer on the list.
pub fn save_entry(state: &DeskState, form: &WaitlistEntryDto) -> Result<WaitlistEntryDto, DeskError> {
    let now = state.clock().now();
    state.with_store(|s| {
        let entry = match form.id {
            None => s.add_waitlist(&patient_from_form(form, now)?, now)?,
            Some(id) => {
                let old = s.waitlist_entry(id)?.ok_or(DeskError::Fill(GONE.into()))?;
                let p = patient_from_form(form, old.patient.added_at)?;
                if !s.update_waitlist(id, &p, now)? {
                    return Err(DeskError::Fill(GONE.into()));
                }
                WaitlistEntry { id, patient: p }
            }
        };
        Ok(entry_dto(&entry))
    })
}

const GONE: &str = "This patient is no longer on the waitlist. The list is now up to date.";

/// Takes patient `id` off the waitlist.
///
/// # Errors
/// [`DeskError::Fill`] when the patient is not on it; store errors.
pub fn remove_entry(state: &DeskState, id: i64) -> Result<(), DeskError> {
    let now = state.clock().now();
    if !state.with_store(|s| Ok(s.remove_waitlist(id, now)?))? {
        return Err(DeskError::Fill(GONE.into()));
    }
    Ok(())
}

/// Imports a waitlist spreadsheet (all rows or none, [`fill::csv_import::import_waitlist_csv`]).
///
/// # Errors
/// [`DeskError::Import`] naming the file, line and column.
pub fn import(state: &DeskState, path: &str) -> Result<WaitlistImportResult, DeskError> {
    let now = state.clock().now();
    let path = std::path::Path::new(path);
    let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
    let added = state.with_store(|s| fill::csv_import::import_waitlist_csv(s, path, now).map_err(|e| DeskError::Import(crate::words::sentence(&e.to_string()))))?;
    Ok(WaitlistImportResult { file, added: added.len() })
}

/// The best free times for waiting patient `id` in the next 30 days (a `view` audit row).
///
/// # Errors
/// [`DeskError::Fill`] for a patient no longer on the list; store errors.
pub fn options(state: &DeskState, id: i64) -> Result<PatientOptions, DeskError> {
    let now = state.clock().now();
    let who = actor(state);
    state.with_store(|s| {
        let o = fill::options_for_patient(s, id, now)?;
        s.record_audit(AuditAction::View, &who, None, Some(id), now)?;
        Ok(PatientOptions {
            patient_id: o.patient_id,
            options: o
                .options
                .iter()
                .map(|x| PatientOptionDto {
                    slot_id: x.slot.id.clone(),
                    provider: x.slot.provider.clone(),
                    start: fmt_instant(x.slot.span.start),
                    end: fmt_instant(x.slot.span.end),
                    patient_local_start: x.patient_local_start.clone(),
                    reason: x.reason.clone(),
                    karma_bonus: x.karma_bonus,
                })
                .collect(),
            suitable: o.suitable,
        })
    })
}

/// The Settings dialog's fill settings (the API key never leaves the keychain: only whether one is kept).
///
/// # Errors
/// Store errors.
pub fn settings(state: &DeskState) -> Result<FillSettingsForm, DeskError> {
    let s = state.with_store(|s| Ok(s.fill_settings()?))?;
    let has_api_key = state.vault().get(API_KEY_ACCOUNT).ok().flatten().is_some_and(|k| !k.is_empty());
    Ok(form_of(&s, has_api_key))
}

fn form_of(s: &FillSettings, has_api_key: bool) -> FillSettingsForm {
    let llm = s.llm.clone();
    FillSettingsForm {
        model_on: llm.is_some(),
        model_base_url: llm.as_ref().map(|l| l.base_url.clone()).unwrap_or_default(),
        model_name: llm.as_ref().map(|l| l.model.clone()).unwrap_or_default(),
        model_timeout_secs: llm.as_ref().map_or(fill::llm::DEFAULT_TIMEOUT.as_secs(), |l| l.timeout_secs),
        model_top_n: llm.as_ref().map_or(fill::llm::DEFAULT_TOP_N, |l| l.top_n),
        has_api_key,
        new_api_key: None,
        quiet_on: s.quiet_hours.is_some(),
        quiet_start: s.quiet_hours.map_or_else(|| "19:00".into(), |q| q.start.format("%H:%M").to_string()),
        quiet_end: s.quiet_hours.map_or_else(|| "07:00".into(), |q| q.end.format("%H:%M").to_string()),
        hold_minutes: s.hold_minutes,
        model_from_environment: std::env::var(ENV_BASE_URL).is_ok_and(|v| !v.trim().is_empty()),
    }
}

/// Saves the Settings dialog's fill settings; a new API key goes to the keychain (`""` forgets it).
///
/// # Errors
/// [`DeskError::Form`] in plain words naming the setting; [`DeskError::Connect`] when the
/// keychain refuses the key (nothing is saved then).
pub fn save_settings(state: &DeskState, form: &FillSettingsForm) -> Result<FillSettingsForm, DeskError> {
    let now = state.clock().now();
    let mut s = state.with_store(|s| Ok(s.fill_settings()?))?;
    s.llm = form.model_on.then(|| LlmConfig {
        base_url: form.model_base_url.trim().trim_end_matches('/').to_string(),
        model: form.model_name.trim().to_string(),
        timeout_secs: form.model_timeout_secs,
        top_n: form.model_top_n,
    });
    s.quiet_hours = if form.quiet_on { Some(QuietHours::parse(&form.quiet_start, &form.quiet_end).map_err(|e| DeskError::Form(crate::words::sentence(&e)))?) } else { None };
    s.hold_minutes = form.hold_minutes;
    s.validate().map_err(|e| DeskError::Form(crate::words::sentence(&e)))?;
    let vault = state.vault();
    match form.new_api_key.as_deref().map(str::trim) {
        Some("") => vault.delete(API_KEY_ACCOUNT).map_err(|e| DeskError::Connect(format!("The keychain did not forget the key: {e}")))?,
        Some(key) => vault.set(API_KEY_ACCOUNT, key).map_err(|e| DeskError::Connect(format!("The keychain did not keep the key, so nothing was saved: {e}")))?,
        None => {}
    }
    state.with_store(|st| Ok(st.save_fill_settings(&s, now)?))?;
    log::info!("fill settings saved (model {}, quiet hours {})", if s.llm.is_some() { "on" } else { "off" }, if s.quiet_hours.is_some() { "on" } else { "off" });
    settings(state)
}

/// Who is at the desk, and the names chosen before on this computer.
///
/// # Errors
/// Store errors.
pub fn staff(state: &DeskState) -> Result<StaffView, DeskError> {
    let recent = state.with_store(|s| Ok(s.fill_settings()?.staff_names))?;
    Ok(StaffView { current: state.staff(), recent, os_user: Actor::from_env(None).os_user })
}

/// Sets who is at the desk in this window (and remembers the name for the next start).
///
/// # Errors
/// [`DeskError::Form`] for a blank name; store errors.
pub fn set_staff(state: &DeskState, name: &str) -> Result<StaffView, DeskError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DeskError::Form("Type your name: it is written to the audit log with what you do.".into()));
    }
    if name.chars().count() > 80 {
        return Err(DeskError::Form("A name of at most 80 letters, please.".into()));
    }
    let now = state.clock().now();
    state.with_store(|s| {
        let mut settings = s.fill_settings()?;
        settings.remember_staff(name);
        s.save_fill_settings(&settings, now)?;
        Ok(())
    })?;
    state.set_staff(name);
    staff(state)
}

/// The engine's offer refusals in window words (no command-line hints).
pub fn offer_words(e: &OfferError) -> String {
    match e {
        OfferError::NoStaff => "Choose who is at the desk first: the name is written to the audit log.".into(),
        OfferError::BadSlotId(_) | OfferError::NoSuchSlot(_) => "This time is no longer in the schedule. The list is now up to date.".into(),
        OfferError::WorkingHours => {
            "This time comes from a calendar and working hours, so it cannot be held or booked here. Book it in the provider's own calendar.".into()
        }
        OfferError::Imported => "This time comes from an imported file. Book it in the provider's own system.".into(),
        OfferError::UnknownPatient(_) => GONE.into(),
        OfferError::BadMinutes(_) => "An offer holds a time for 1 to 240 minutes. Change it in Settings.".into(),
        OfferError::NotFree(_) => "This time is not free any more (booked, held or blocked). Pick another time.".into(),
        OfferError::TakenAtSource { system, .. } => format!("Someone else has just taken this time in {system}. It will not be offered again; pick another time."),
        OfferError::NotChecked { system, detail, .. } => format!("This time could not be checked with {system}, so it was not held: {}", crate::words::sentence(detail)),
        OfferError::NotHeld(_) => "This time is not held for anyone any more. Offer it again.".into(),
        OfferError::HoldExpired(_) => "The hold on this time ran out. Offer it again: it is checked with its system again.".into(),
        OfferError::NoPatientId { integration, .. } => format!(
            "The waitlist has no patient id in {integration} for this patient. Add it on the Waitlist page (Edit, Patient ids) and book again."
        ),
        OfferError::Book(b) => crate::words::sentence(&crate::words::staff_words(&b.to_string())),
        OfferError::Store(s) => crate::words::sentence(&crate::words::staff_words(&s.to_string())),
    }
}

impl From<OfferError> for DeskError {
    fn from(e: OfferError) -> Self {
        match e {
            OfferError::Store(s) => DeskError::from(s),
            other => DeskError::Fill(offer_words(&other)),
        }
    }
}

impl From<FillError> for DeskError {
    fn from(e: FillError) -> Self {
        match e {
            FillError::Store(s) => DeskError::from(s),
            FillError::UnknownPatient(_) => DeskError::Fill(GONE.into()),
            FillError::BadSlotId(_) | FillError::SlotNotFree(_) => {
                DeskError::Fill("This time is not free any more (booked, held or blocked), or it is no longer in the schedule.".into())
            }
            other => DeskError::Import(crate::words::sentence(&other.to_string())),
        }
    }
}
