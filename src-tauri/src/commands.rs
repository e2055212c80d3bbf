//! The IPC commands: each a small wrapper that reads its arguments, calls the
//! engine and returns a DTO or a [`DeskError`]. None of them panics on user
//! input, and none logs patient data (file names, summaries, cell values).

use std::io::Read;
use std::path::Path;

use chrono::{Duration, Local};
use medharmony::import::csv::{parse_csv, CsvError, CsvOptions, DateOrder};
use medharmony::import::file::{import_path, starts_like_calendar, ImportRequest};
use medharmony::time::{parse_iana, resolve_tzid, Interval};
use tauri::{AppHandle, Manager, Runtime, State};

use crate::dto::{
    AuthForm, FoundCalendar,
    AppStatus, ConnectForm, ConnectResult, DateQuestion, DemoResult, DisconnectResult, FileCheck, FileKind, ImportArgs, ImportReport,
    IntegrationsView, SyncResult, Week, WeekQuery,
};
use crate::dto::{
    FillSettingsForm, FillView, HoldDto, OfferBookedDto, OpenSlot, PatientOptions, StaffView, SuggestionsView, WaitlistEntryDto, WaitlistImportResult,
};
use crate::error::DeskError;
use crate::state::DeskState;

/// Days before now that an import covers (as the CLI).
pub const IMPORT_DAYS_BEFORE: i64 = 7;
/// Days after now that an import covers (as the CLI).
pub const IMPORT_DAYS_AFTER: i64 = 90;

/// Whether the database is open, and what now and today are.
#[tauri::command]
pub fn app_status(state: State<'_, DeskState>) -> AppStatus {
    state.status()
}

/// The week view: providers × days with slots, busy time and sources.
///
/// # Errors
/// [`DeskError`] with a plain message.
#[tauri::command(async)]
pub fn week(state: State<'_, DeskState>, query: Option<WeekQuery>) -> Result<Week, DeskError> {
    let query = query.unwrap_or_default();
    let clock = state.clock();
    state.with_store(|store| crate::week::build_week(store, &query, clock.today(), clock.now()))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// Reads at most `limit` bytes of the file.
fn read_head(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?.take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The calendar's own name (`X-WR-CALNAME`) from its first lines.
fn calendar_name(head: &[u8]) -> Option<String> {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.split(';').next()?.trim().eq_ignore_ascii_case("X-WR-CALNAME").then(|| value.trim().to_string())
        })
        .filter(|v| !v.is_empty())
}

/// The calendar's own zone from its first lines: `X-WR-TIMEZONE`, else the
/// first `TZID` (a parameter or a VTIMEZONE property), as an IANA name.
fn calendar_zone(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let mut first_tzid = None;
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let mut parts = name.split(';');
        let prop = parts.next().unwrap_or_default().trim();
        if prop.eq_ignore_ascii_case("X-WR-TIMEZONE") {
            if let Some(tz) = resolve_tzid(value) {
                return Some(tz.name().to_string());
            }
        } else if first_tzid.is_none() {
            if prop.eq_ignore_ascii_case("TZID") {
                first_tzid = resolve_tzid(value);
            } else if let Some(p) = parts.find_map(|p| p.split_once('=').filter(|(k, _)| k.trim().eq_ignore_ascii_case("TZID"))) {
                first_tzid = resolve_tzid(p.1);
            }
        }
    }
    first_tzid.map(|tz| tz.name().to_string())
}

/// Calendar or spreadsheet by extension, else a calendar by its first line (as the engine decides).
fn kind_of(path: &Path, head: &[u8]) -> FileKind {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("ics" | "ical" | "icalendar" | "ifb") => FileKind::Calendar,
        Some("csv" | "tsv" | "txt") => FileKind::Spreadsheet,
        _ if starts_like_calendar(head) => FileKind::Calendar,
        _ => FileKind::Unsupported,
    }
}


/// The question to ask about a spreadsheet whose dates read two ways.
fn date_question(e: &CsvError) -> Option<DateQuestion> {
    match e {
        CsvError::AmbiguousDateOrder { column, line, value, day_first, month_first } => Some(DateQuestion {
            value: value.clone(),
            line: *line,
            column: column.clone(),
            day_first: day_first.clone(),
            month_first: month_first.clone(),
        }),
        _ => None,
    }
}

/// Tells what a dropped or picked file is and whether staff must say whose it is.
/// Never fails: problems are reported in [`FileCheck::problem`].
#[tauri::command(async)]
pub fn check_file(state: State<'_, DeskState>, path: String) -> FileCheck {
    let p = Path::new(&path);
    let name = file_name(p);
    let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let mut check = FileCheck { path: path.clone(), name: name.clone(), kind: FileKind::Unsupported, needs_provider: false, calendar_name: None, calendar_zone: None, problem: None, date_question: None };
    // Never open the database's own files: closing them would drop this
    // process's SQLite locks (see `Store::is_own_file`).
    if state.with_store(|s| Ok(s.is_own_file(p))).unwrap_or(false) {
        check.problem = Some("it is MedHarmony Desk's own database, not a calendar or spreadsheet".into());
        return check;
    }
    let bytes = match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => {
            check.problem = Some("it is a folder; drop the calendar or spreadsheet files inside it instead".into());
            return check;
        }
        // Spreadsheets are read whole to learn their columns; calendars only need their head.
        Ok(_) => read_head(p, if matches!(ext.as_deref(), Some("csv" | "tsv" | "txt")) { 32 * 1024 * 1024 } else { 64 * 1024 }),
        Err(e) => Err(e),
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            check.problem = Some(format!("it could not be read ({e})"));
            return check;
        }
    };
    check.kind = kind_of(p, &bytes);
    match check.kind {
        FileKind::Calendar => {
            let utf16 = bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]);
            if String::from_utf8_lossy(&bytes).trim_start_matches('\u{feff}').trim().is_empty() {
                check.problem = Some("the file is empty, so it is not a calendar (.ics) file".into());
            } else if !utf16 && !starts_like_calendar(&bytes) {
                // Not worth asking whose calendar it is.
                check.problem = Some("this file is not a calendar (.ics) file".into());
            } else {
                check.needs_provider = true;
                check.calendar_name = calendar_name(&bytes);
                check.calendar_zone = calendar_zone(&bytes);
            }
        }
        FileKind::Spreadsheet => {
            let mut parsed = parse_csv(&bytes, &CsvOptions::default());
            if let Err(CsvError::MissingColumns { missing, .. }) = &parsed {
                check.needs_provider = missing.iter().all(|m| m == "provider");
                if check.needs_provider {
                    // Read it as the one provider's file to learn whether its dates are clear.
                    parsed = parse_csv(&bytes, &CsvOptions { default_provider: Some("provider".into()), ..CsvOptions::default() });
                }
            }
            check.date_question = parsed.err().as_ref().and_then(date_question);
        }
        FileKind::Unsupported => {
            check.problem = Some("it is not a calendar (.ics) or a schedule spreadsheet (.csv)".into());
        }
    }
    check
}

/// Imports one calendar or spreadsheet in one transaction; a refused file changes nothing.
///
/// # Errors
/// [`DeskError::Import`] naming the file and why, [`DeskError::BadZone`].
#[tauri::command(async)]
pub fn import_file(state: State<'_, DeskState>, args: ImportArgs) -> Result<ImportReport, DeskError> {
    let tz = match args.new_provider_tz.as_deref().map(str::trim).filter(|z| !z.is_empty()) {
        None => None,
        Some(z) => Some(parse_iana(z).or_else(|| resolve_tzid(z)).ok_or_else(|| DeskError::BadZone(z.to_string()))?),
    };
    let date_order = match args.date_order.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
        None => None,
        Some(o) => Some(o.parse::<DateOrder>().map_err(|_| DeskError::BadDateOrder(o.to_string()))?),
    };
    let provider = args.provider.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(str::to_string);
    let req = ImportRequest { provider, tz, source: None, date_order };
    let path = Path::new(&args.path);
    let display = file_name(path);
    let now = state.clock().now();
    let window = Interval { start: now - Duration::days(IMPORT_DAYS_BEFORE), end: now + Duration::days(IMPORT_DAYS_AFTER) };
    let result = state.with_store(|store| Ok(import_path(store, path, &display, &req, window, now)?));
    match &result {
        Ok(r) => log::info!("imported a file: {} events, {} busy times, {} slots, {} skipped, {} removed", r.events, r.instances, r.slots, r.skipped.len(), r.removed),
        Err(e) => log::info!("a file was refused ({})", e.kind()),
    }
    let summary = result?;
    let kind = kind_of(path, &read_head(path, 64).unwrap_or_default());
    let day = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&Local).date_naive();
    Ok(ImportReport::new(summary, kind, day(window.start), day(window.end)))
}

/// Removes the demo practice (providers, feeds, busy time, slots) in one step.
///
/// # Errors
/// Store errors.
#[tauri::command(async)]
pub fn remove_demo(state: State<'_, DeskState>) -> Result<DemoResult, DeskError> {
    let now = state.clock().now();
    let providers = state.with_store(|store| Ok(medharmony::demo::remove(store, now)?))?;
    log::info!("removed the demo practice ({providers} providers)");
    Ok(DemoResult { providers })
}

/// Loads (or refreshes) the demo practice.
///
/// # Errors
/// Store or demo errors.
#[tauri::command(async)]
pub fn load_demo(state: State<'_, DeskState>) -> Result<DemoResult, DeskError> {
    let now = state.clock().now();
    let providers = state.with_store(|store| Ok(medharmony::demo::seed(store, now)?.len()))?;
    log::info!("loaded the demo practice");
    Ok(DemoResult { providers })
}

/// Called once by the UI after it has rendered its first week. Logs the time
/// from launch to that moment (milliseconds), which `scripts/bench-app.sh`
/// reads for the cold-start benchmark. Carries no patient data.
#[tauri::command]
pub fn ui_ready() {
    log::info!("window ready: first week rendered {} ms after launch", crate::started().elapsed().as_millis());
}

/// IANA zone names for the new-provider picker, canonical areas first.
#[tauri::command]
pub fn time_zones() -> Vec<String> {
    let mut zones: Vec<String> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| z.name().to_string())
        .filter(|n| {
            ["Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/", "Pacific/"].iter().any(|a| n.starts_with(a))
        })
        .collect();
    zones.sort();
    zones.push("UTC".into());
    zones
}

/// Runs `work` on a blocking worker thread (never the UI thread, never an
/// async runtime worker): connecting and syncing wait on the network, a
/// browser sign-in up to 5 minutes.
async fn off_ui<R: Runtime, T: Send + 'static>(
    app: AppHandle<R>,
    work: impl FnOnce(&AppHandle<R>) -> Result<T, DeskError> + Send + 'static,
) -> Result<T, DeskError> {
    tauri::async_runtime::spawn_blocking(move || work(&app)).await.map_err(|_| DeskError::Poisoned)?
}

/// The Integrations page: one card per connected system.
///
/// # Errors
/// Store errors.
#[tauri::command(async)]
pub fn integrations(state: State<'_, DeskState>) -> Result<IntegrationsView, DeskError> {
    crate::integrations::list(&state)
}

/// Connects a system from the Connect form (a staff sign-in opens the web
/// browser), then syncs it at once.
///
/// # Errors
/// See [`crate::integrations::connect`].
#[tauri::command]
pub async fn connect_integration<R: Runtime>(app: AppHandle<R>, form: ConnectForm) -> Result<ConnectResult, DeskError> {
    off_ui(app, move |app| crate::integrations::connect(app, form)).await
}

/// Cancels the browser sign-in a connection is waiting for. Returns false when none is waiting.
#[tauri::command]
pub fn cancel_sign_in(state: State<'_, DeskState>) -> bool {
    state.cancel_sign_in()
}

/// Syncs the connected system `name` now.
///
/// # Errors
/// See [`crate::integrations::sync_now`].
#[tauri::command]
pub async fn sync_now<R: Runtime>(app: AppHandle<R>, name: String) -> Result<SyncResult, DeskError> {
    off_ui(app, move |app| crate::integrations::sync_now(&app.state::<DeskState>(), &name)).await
}

/// Pauses (`paused = true`) or resumes the scheduled syncs of the system `name`; its open
/// times stay, and Sync now still syncs it. The sync worker sees the change within seconds.
///
/// # Errors
/// See [`crate::integrations::set_paused`].
#[tauri::command]
pub fn set_integration_paused(state: State<'_, DeskState>, name: String, paused: bool) -> Result<(), DeskError> {
    crate::integrations::set_paused(&state, &name, paused)
}

/// Signs in again to the system `name` whose sign-in expired (a browser sign-in opens the
/// browser), then syncs it at once.
///
/// # Errors
/// See [`crate::integrations::reconnect`].
#[tauri::command]
pub async fn reconnect_integration<R: Runtime>(app: AppHandle<R>, name: String, auth: AuthForm) -> Result<ConnectResult, DeskError> {
    off_ui(app, move |app| crate::integrations::reconnect(app, &name, auth)).await
}

/// The calendars of a CalDAV account, for the Connect form's "Find calendars".
///
/// # Errors
/// See [`crate::integrations::find_calendars`].
#[tauri::command]
pub async fn find_calendars<R: Runtime>(app: AppHandle<R>, base_url: String, username: String, password: String) -> Result<Vec<FoundCalendar>, DeskError> {
    off_ui(app, move |_| crate::integrations::find_calendars(&base_url, &username, &password)).await
}

/// Disconnects the system `name`: its open times are removed, and its sign-in from the keychain.
///
/// # Errors
/// See [`crate::integrations::disconnect`].
#[tauri::command]
pub async fn disconnect_integration<R: Runtime>(app: AppHandle<R>, name: String) -> Result<DisconnectResult, DeskError> {
    off_ui(app, move |app| crate::integrations::disconnect(&app.state::<DeskState>(), &name)).await
}

/// The Openings page ([`crate::fill::view`]).
///
/// # Errors
/// Store errors.
#[tauri::command(async)]
pub fn fill_view(state: State<'_, DeskState>) -> Result<FillView, DeskError> {
    crate::fill::view(&state)
}

/// Suggestions for the free time `slot_id`; with `ask_model`, re-ranked by the practice's
/// language model when one is switched on ([`crate::fill::suggestions`]).
///
/// # Errors
/// See [`crate::fill::suggestions`].
#[tauri::command]
pub async fn fill_suggestions<R: Runtime>(app: AppHandle<R>, slot_id: String, ask_model: bool) -> Result<SuggestionsView, DeskError> {
    off_ui(app, move |app| crate::fill::suggestions(&app.state::<DeskState>(), &slot_id, ask_model)).await
}

/// Holds `slot_id` for waiting patient `patient_id` after checking it with its system.
///
/// # Errors
/// See [`crate::fill::offer`].
#[tauri::command]
pub async fn offer_slot<R: Runtime>(app: AppHandle<R>, slot_id: String, patient_id: i64) -> Result<HoldDto, DeskError> {
    off_ui(app, move |app| crate::fill::offer(&app.state::<DeskState>(), &slot_id, patient_id)).await
}

/// Books the held time `slot_id` in its system.
///
/// # Errors
/// See [`crate::fill::book`].
#[tauri::command]
pub async fn book_offer<R: Runtime>(app: AppHandle<R>, slot_id: String) -> Result<OfferBookedDto, DeskError> {
    off_ui(app, move |app| crate::fill::book(&app.state::<DeskState>(), &slot_id)).await
}

/// Releases the hold on `slot_id`.
///
/// # Errors
/// See [`crate::fill::release`].
#[tauri::command(async)]
pub fn release_offer(state: State<'_, DeskState>, slot_id: String) -> Result<(), DeskError> {
    crate::fill::release(&state, &slot_id)
}

/// The waitlist ([`crate::fill::waitlist`]).
///
/// # Errors
/// Store errors.
#[tauri::command(async)]
pub fn waitlist(state: State<'_, DeskState>) -> Result<Vec<WaitlistEntryDto>, DeskError> {
    crate::fill::waitlist(&state)
}

/// Adds or updates a waiting patient.
///
/// # Errors
/// See [`crate::fill::save_entry`].
#[tauri::command(async)]
pub fn save_waitlist_entry(state: State<'_, DeskState>, entry: WaitlistEntryDto) -> Result<WaitlistEntryDto, DeskError> {
    crate::fill::save_entry(&state, &entry)
}

/// Takes a patient off the waitlist.
///
/// # Errors
/// See [`crate::fill::remove_entry`].
#[tauri::command(async)]
pub fn remove_waitlist_entry(state: State<'_, DeskState>, id: i64) -> Result<(), DeskError> {
    crate::fill::remove_entry(&state, id)
}

/// Imports a waitlist spreadsheet (.csv).
///
/// # Errors
/// See [`crate::fill::import`].
#[tauri::command(async)]
pub fn import_waitlist(state: State<'_, DeskState>, path: String) -> Result<WaitlistImportResult, DeskError> {
    crate::fill::import(&state, &path)
}

/// The best free times for one waiting patient.
///
/// # Errors
/// See [`crate::fill::options`].
#[tauri::command(async)]
pub fn patient_options(state: State<'_, DeskState>, patient_id: i64) -> Result<PatientOptions, DeskError> {
    crate::fill::options(&state, patient_id)
}

/// The practice's fill settings.
///
/// # Errors
/// Store errors.
#[tauri::command(async)]
pub fn fill_settings(state: State<'_, DeskState>) -> Result<FillSettingsForm, DeskError> {
    crate::fill::settings(&state)
}

/// Saves the practice's fill settings.
///
/// # Errors
/// See [`crate::fill::save_settings`].
#[tauri::command(async)]
pub fn save_fill_settings(state: State<'_, DeskState>, form: FillSettingsForm) -> Result<FillSettingsForm, DeskError> {
    crate::fill::save_settings(&state, &form)
}

/// Who is at the desk.
///
/// # Errors
/// Store errors.
#[tauri::command(async)]
pub fn staff(state: State<'_, DeskState>) -> Result<StaffView, DeskError> {
    crate::fill::staff(&state)
}

/// Sets who is at the desk.
///
/// # Errors
/// See [`crate::fill::set_staff`].
#[tauri::command(async)]
pub fn set_staff(state: State<'_, DeskState>, name: String) -> Result<StaffView, DeskError> {
    crate::fill::set_staff(&state, &name)
}

/// The time a clicked notification asked to show, if the window has not shown it yet (once).
#[tauri::command]
pub fn pending_open_slot(state: State<'_, DeskState>) -> Option<OpenSlot> {
    state.take_open_slot().map(|slot_id| OpenSlot { slot_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_name_is_read_from_the_head() {
        assert_eq!(calendar_name(b"BEGIN:VCALENDAR\r\nX-WR-CALNAME:Dr. Rivera\r\n"), Some("Dr. Rivera".into()));
        assert_eq!(calendar_name(b"BEGIN:VCALENDAR\nx-wr-calname;VALUE=TEXT: Chen \n"), Some("Chen".into()));
        assert_eq!(calendar_name(b"BEGIN:VCALENDAR\nX-WR-CALNAME:\n"), None);
    }

    #[test]
    fn calendar_zone_prefers_x_wr_timezone_then_the_first_tzid() {
        assert_eq!(calendar_zone(b"BEGIN:VCALENDAR\nX-WR-TIMEZONE:Europe/Paris\nDTSTART;TZID=America/Chicago:20260101T090000\n").as_deref(), Some("Europe/Paris"));
        assert_eq!(calendar_zone(b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE-TIME;TZID=\"Eastern Standard Time\":20260101T090000\n").as_deref(), Some("America/New_York"));
        assert_eq!(calendar_zone(b"BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:/mozilla.org/20050126_1/America/Denver\n").as_deref(), Some("America/Denver"));
        assert_eq!(calendar_zone(b"BEGIN:VCALENDAR\nDTSTART:20260101T090000Z\n"), None);
    }

    #[test]
    fn kinds_by_extension_then_content() {
        assert_eq!(kind_of(Path::new("a.ICS"), b""), FileKind::Calendar);
        assert_eq!(kind_of(Path::new("a.txt"), b"BEGIN:VCALENDAR"), FileKind::Spreadsheet);
        assert_eq!(kind_of(Path::new("export"), b"\xef\xbb\xbf\r\nbegin:vcalendar\r\n"), FileKind::Calendar);
        assert_eq!(kind_of(Path::new("notes.pdf"), b"%PDF-1.7"), FileKind::Unsupported);
    }

    #[test]
    fn zones_are_canonical() {
        let z = time_zones();
        assert!(z.contains(&"America/New_York".to_string()));
        assert!(!z.iter().any(|n| n.starts_with("US/") || n.starts_with("Etc/")));
    }
}
