//! Serializable types that cross the IPC boundary, with generated
//! TypeScript bindings (`ts-rs`) checked in under `ui/src/bindings/`.
//!
//! Conventions, so the UI never has to guess:
//! * instants are RFC 3339 UTC strings with a `Z` suffix and whole seconds
//!   (`2026-03-04T14:00:00Z`);
//! * calendar dates are `YYYY-MM-DD` strings;
//! * ids are JSON numbers (`i64`/`usize` are bound as `number`, see [`ts_config`]);
//! * status codes are FHIR R4 slot status codes.
//!
//! The test `tests/bindings.rs` regenerates every binding in memory and fails
//! when the checked-in files differ; `UPDATE_BINDINGS=1 cargo test -p
//! medharmony-desk --test bindings` rewrites them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What the UI needs before anything else: whether the database is open and
/// what "now" and "today" are.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct AppStatus {
    /// True when the database is open and commands can be used.
    pub ready: bool,
    /// Why the database could not be opened (plain words for front-desk
    /// staff, no setting names), when `ready` is false.
    pub problem: Option<String>,
    /// What kind of problem it is, so the window can say what to do.
    pub problem_kind: Option<ProblemKind>,
    /// The technical side of the problem for IT support (setting names,
    /// what the keychain said); shown in a smaller "For your IT support" section.
    pub problem_detail: Option<String>,
    /// True when the database file exists (with content) on this computer.
    pub db_exists: bool,
    /// The database file.
    pub db_path: String,
    /// The current instant (UTC); fixed when `MEDHARMONY_NOW` is set.
    pub now: String,
    /// True when `now` is pretended (`MEDHARMONY_NOW`) rather than the clock.
    pub now_fixed: bool,
    /// Today's date at the front desk (the computer's local zone).
    pub today: String,
    /// Monday of the week containing `today`.
    pub week_start: String,
    /// The app version.
    pub version: String,
}

/// Why the database could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// This computer has no keychain MedHarmony can use (and no key setting).
    NoKeychain,
    /// The database exists but its key is not in this computer's keychain.
    KeyNotInKeychain,
    /// The key given does not open the existing database.
    WrongKey,
    /// The key setting (`MEDHARMONY_DB_KEY`) is set but empty.
    EmptyKeySetting,
    /// The database was written by a newer MedHarmony Desk.
    NewerVersion,
    /// Another MedHarmony Desk window already has this database open.
    AlreadyOpen,
    /// Anything else (no folder for the database, the file cannot be opened…).
    CannotOpen,
}

/// Arguments of the `week` command.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, TS)]
pub struct WeekQuery {
    /// Any day of the wanted week (`YYYY-MM-DD`); the week runs Monday to
    /// Sunday. `null`: the week containing today.
    pub start: Option<String>,
    /// Only these providers; `null` or empty: all.
    #[ts(type = "Array<number> | null")]
    pub provider_ids: Option<Vec<i64>>,
    /// Leave these providers out (the UI's filter: providers added later,
    /// by an import or the `medharmony` command, are shown). `null`: none.
    #[serde(default)]
    #[ts(optional, type = "Array<number> | null")]
    pub hidden_provider_ids: Option<Vec<i64>>,
    /// Only published slots at this location (providers without any slot
    /// there this week are left out); `null`: all locations.
    pub location: Option<String>,
}

/// One day column of the week.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DayView {
    /// The date, `YYYY-MM-DD`.
    pub date: String,
    /// True for today's date at the front desk.
    pub is_today: bool,
}

/// A provider as the week view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ProviderView {
    /// Store id.
    #[ts(type = "number")]
    pub id: i64,
    /// Display name (demo providers end in "(Demo)").
    pub name: String,
    /// IANA zone, e.g. `America/New_York`.
    pub tz: String,
    /// The zone's abbreviation at the start of the displayed week, e.g. `EST`.
    pub tz_abbrev: String,
    /// A plain note when the zone's clocks change during the displayed week,
    /// e.g. `Clocks change Sun Mar 8 (EST → EDT)`.
    pub tz_note: Option<String>,
    /// True for the built-in demo practice.
    pub demo: bool,
    /// Working hours in local time, e.g. `Mon 08:00-16:00; Tue 08:00-16:00`.
    pub hours: String,
    /// Default slot length in minutes.
    pub slot_minutes: u32,
    /// True when the provider has a calendar feed: their free time is their
    /// working hours minus the calendar's busy time.
    pub has_calendar: bool,
    /// Start of the period the provider's calendars cover (UTC), when known.
    pub calendar_from: Option<String>,
    /// End of that period (UTC, exclusive).
    pub calendar_to: Option<String>,
    /// True when a schedule spreadsheet has published open slots for the
    /// provider (within a year of the displayed week).
    pub publishes_slots: bool,
    /// Days of the displayed week (provider-local `YYYY-MM-DD`) that no
    /// imported calendar of this provider covers: nothing is known about them.
    /// Empty for providers without a calendar.
    pub uncovered_days: Vec<String>,
}

/// One slot (a working-hours cell of a calendar provider, or a published slot).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SlotDto {
    /// Stable id: `grid-<provider id>-<start>` or `slot-<store id>`.
    pub id: String,
    /// Provider store id.
    #[ts(type = "number")]
    pub provider_id: i64,
    /// The provider's local date of the slot's start, `YYYY-MM-DD`.
    pub day: String,
    /// Start (UTC).
    pub start: String,
    /// End (UTC, exclusive).
    pub end: String,
    /// FHIR slot status code.
    #[ts(type = "\"free\" | \"busy\" | \"busy-unavailable\" | \"busy-tentative\" | \"entered-in-error\"")]
    pub status: String,
    /// Source name (`working-hours` for cells computed from a calendar).
    pub source: String,
    /// Location name, if the source gives one.
    pub location: Option<String>,
}

/// One busy instance from a provider's calendar.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct BusyDto {
    /// Unique within the week: UID, plus the RECURRENCE-ID instant of a recurring instance.
    pub id: String,
    /// Provider store id.
    #[ts(type = "number")]
    pub provider_id: i64,
    /// The provider's local dates this block touches within the week.
    pub days: Vec<String>,
    /// Start (UTC).
    pub start: String,
    /// End (UTC, exclusive).
    pub end: String,
    /// True for an all-day event.
    pub all_day: bool,
    /// The event's title (may name patients: shown, never logged).
    pub summary: Option<String>,
    /// Busy status code (`busy`, `busy-tentative`, `busy-unavailable`).
    pub status: String,
    /// Source (feed) name.
    pub source: String,
    /// The calendar event's UID (its external id).
    pub uid: String,
}

/// A source (feed) with when it last brought data.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SourceView {
    /// Store id.
    #[ts(type = "number")]
    pub id: i64,
    /// Source name (a calendar's file name without extension, by default).
    pub name: String,
    /// `ics` (a calendar), `csv` (a schedule spreadsheet) or `integration`
    /// (a connected system whose open times are synced).
    pub kind: String,
    /// For a connected system: what it is, as staff call it (`Epic`,
    /// `Oracle Health`, `FHIR server`); `null` for files.
    pub system: Option<String>,
    /// The provider of a calendar feed.
    pub provider: Option<String>,
    /// Last import or sync (UTC).
    pub last_sync_at: Option<String>,
    /// True when the source belongs to the demo practice.
    pub demo: bool,
}

/// A location that published slots name.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct LocationView {
    /// Display name.
    pub name: String,
    /// IANA zone.
    pub tz: String,
}

/// Everything the week view shows.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct Week {
    /// Monday of the week, `YYYY-MM-DD`.
    pub start: String,
    /// The seven days, Monday to Sunday.
    pub days: Vec<DayView>,
    /// Today's date at the front desk.
    pub today: String,
    /// The providers shown (after the filters), by name.
    pub providers: Vec<ProviderView>,
    /// Every provider, for the filter and the import dialog.
    pub all_providers: Vec<ProviderView>,
    /// Every location, for the filter.
    pub locations: Vec<LocationView>,
    /// Slots of the shown providers whose local start date is in the week, by start.
    pub slots: Vec<SlotDto>,
    /// Busy time of the shown providers touching the week, by start.
    pub busy: Vec<BusyDto>,
    /// Every source with its last sync.
    pub sources: Vec<SourceView>,
    /// True while the demo practice is loaded.
    pub has_demo: bool,
    /// The current instant (UTC), for "synced 3 min ago".
    pub now: String,
}

/// The `store-changed` event: something in the database changed (this app,
/// the CLI or a sync service wrote it). The UI re-fetches what it shows.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct StoreChanged {
    /// Change-log sequence number (increasing).
    #[ts(type = "number")]
    pub seq: i64,
    /// What changed: `provider`, `source`, `busy` or `slots`.
    pub entity: String,
    /// How: `add`, `import`, `remove`.
    pub op: String,
    /// The provider concerned, if any.
    #[ts(type = "number | null")]
    pub provider_id: Option<i64>,
    /// The source concerned, if any.
    #[ts(type = "number | null")]
    pub source_id: Option<i64>,
}

impl From<&medharmony::events::Change> for StoreChanged {
    fn from(c: &medharmony::events::Change) -> Self {
        Self { seq: c.seq, entity: c.entity.clone(), op: c.op.clone(), provider_id: c.provider_id, source_id: c.source_id }
    }
}

/// What kind of file was dropped or picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// An iCalendar file: one provider's busy time.
    Calendar,
    /// A schedule spreadsheet: published open slots.
    Spreadsheet,
    /// Neither.
    Unsupported,
}

/// The answer of `check_file`: what a file is and what the import needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct FileCheck {
    /// The path as given.
    pub path: String,
    /// The file name shown to staff.
    pub name: String,
    /// Calendar, spreadsheet or neither.
    pub kind: FileKind,
    /// True when staff must say whose file it is (every calendar; a
    /// spreadsheet without a provider column).
    pub needs_provider: bool,
    /// The calendar's own name (`X-WR-CALNAME`), a hint for the provider picker.
    pub calendar_name: Option<String>,
    /// The calendar's own zone as an IANA name (`X-WR-TIMEZONE`, else the first
    /// `TZID`), the picker's default zone for a new provider.
    pub calendar_zone: Option<String>,
    /// Why the file cannot be imported, if that is already known: plain words
    /// about "it" (the UI puts the file name first), e.g. `it is not a calendar (.ics) or a schedule spreadsheet (.csv)`.
    pub problem: Option<String>,
    /// For a spreadsheet whose dates can be read day first or month first:
    /// the question to ask staff before importing (then pass `date_order`).
    pub date_question: Option<DateQuestion>,
}

/// A spreadsheet date that reads differently day first and month first.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DateQuestion {
    /// The date as written, e.g. `03/04/2026`.
    pub value: String,
    /// 1-based line of the file where it is.
    #[ts(type = "number")]
    pub line: usize,
    /// The column holding it.
    pub column: String,
    /// Its day-first reading, e.g. `3 April 2026`.
    pub day_first: String,
    /// Its month-first reading, e.g. `March 4, 2026`.
    pub month_first: String,
}

/// Arguments of the `import_file` command.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, TS)]
pub struct ImportArgs {
    /// The file to import.
    pub path: String,
    /// Whose calendar it is (required for a calendar); for a spreadsheet
    /// without a provider column, the provider of every row.
    pub provider: Option<String>,
    /// IANA zone for providers this import creates (existing ones keep theirs).
    pub new_provider_tz: Option<String>,
    /// How a spreadsheet's dates are written when the file cannot tell:
    /// `dmy` (day first, 03/04 = 3 April) or `mdy` (month first, 03/04 = March 4).
    #[serde(default)]
    #[ts(optional, type = "\"dmy\" | \"mdy\" | null")]
    pub date_order: Option<String>,
}

/// One item of a file that was left out.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SkippedLine {
    /// 1-based line in the file, when known.
    #[ts(type = "number | null")]
    pub line: Option<usize>,
    /// Why, in plain words.
    pub reason: String,
}

/// The result of importing one file.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ImportReport {
    /// The file name.
    pub file: String,
    /// A calendar or a spreadsheet.
    pub kind: FileKind,
    /// The source (feed) it went into.
    pub source: String,
    /// The provider (a calendar's, or a spreadsheet's only one).
    pub provider: Option<String>,
    /// Calendar events read.
    #[ts(type = "number")]
    pub events: usize,
    /// Busy times in the import window.
    #[ts(type = "number")]
    pub instances: usize,
    /// Open slots imported.
    #[ts(type = "number")]
    pub slots: usize,
    /// Items left out.
    pub skipped: Vec<SkippedLine>,
    /// Items removed because the file no longer lists them.
    #[ts(type = "number")]
    pub removed: usize,
    /// Spreadsheet rows outside the import window.
    #[ts(type = "number")]
    pub outside_window: usize,
    /// First day of the import period (front-desk date, `YYYY-MM-DD`).
    pub window_from: String,
    /// Last day of the import period (front-desk date, `YYYY-MM-DD`).
    pub window_to: String,
    /// True when the file was read but nothing of it falls in the import
    /// period, so nothing was added to the schedule (not a success).
    pub nothing_added: bool,
    /// One plain sentence for staff, e.g. `rivera.ics: 42 events imported (118
    /// busy times between 25 Feb and 2 Jun 2026) for Dr. Rivera, 3 skipped:
    /// line 77, 147, 218 — start time uses unknown time zone 'XYZ'`.
    pub summary: String,
}

impl ImportReport {
    /// The report of an imported file, in staff words: calendar jargon in
    /// the reasons is translated ([`crate::words::staff_words`]) and the
    /// period is named by its dates.
    pub fn new(s: medharmony::import::file::FileSummary, kind: FileKind, window_from: chrono::NaiveDate, window_to: chrono::NaiveDate) -> Self {
        let skipped: Vec<SkippedLine> = s.skipped.iter().map(|k| SkippedLine { line: k.line, reason: crate::words::staff_reason(&k.reason) }).collect();
        let calendar = kind == FileKind::Calendar;
        let nothing_added = if calendar { s.events > 0 && s.instances == 0 } else { s.slots == 0 && s.outside_window > 0 };
        let summary = crate::words::import_summary(&crate::words::SummaryParts {
            file: &s.file,
            calendar,
            provider: s.provider.as_deref(),
            events: s.events,
            instances: s.instances,
            slots: s.slots,
            skipped: &skipped,
            removed: s.removed,
            outside_window: s.outside_window,
            from: window_from,
            to: window_to,
        });
        Self {
            summary,
            kind,
            skipped,
            file: s.file,
            source: s.source,
            provider: s.provider,
            events: s.events,
            instances: s.instances,
            slots: s.slots,
            removed: s.removed,
            outside_window: s.outside_window,
            window_from: window_from.to_string(),
            window_to: window_to.to_string(),
            nothing_added,
        }
    }
}

/// The result of `remove_demo` / `load_demo`.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DemoResult {
    /// How many demo providers were removed or are now loaded.
    #[ts(type = "number")]
    pub providers: usize,
}

/// How a connected system is doing, for the badge on its card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum IntegrationStatus {
    /// The last sync read everything and is recent.
    Ok,
    /// The last sync failed or could not read everything (see `problem`).
    Problem,
    /// The last complete sync is older than twice the sync interval.
    Stale,
    /// Never synced completely yet.
    Never,
    /// A sync is running now.
    Syncing,
}

/// A row a connected system sent that could not be read safely, set aside
/// instead of guessed (never shown as an open time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SetAside {
    /// The record, e.g. `Slot/123`.
    pub resource: String,
    /// Why, in plain words, e.g. `has no end time`.
    pub reason: String,
}

/// What one sync of a connected system did.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SyncResult {
    /// The connection's name.
    pub integration: String,
    /// Open times added to MedHarmony Desk.
    #[ts(type = "number")]
    pub added: usize,
    /// Open times whose time, status, provider or location changed.
    #[ts(type = "number")]
    pub changed: usize,
    /// Open times removed because the system no longer lists them.
    #[ts(type = "number")]
    pub removed: usize,
    /// Open times already up to date.
    #[ts(type = "number")]
    pub unchanged: usize,
    /// Records set aside as unreadable (listed in `set_aside`).
    #[ts(type = "number")]
    pub quarantined: usize,
    /// True when every open time of the period was read (only then are any removed).
    pub complete: bool,
    /// True when nothing could be read at all.
    pub failed: bool,
    /// Start of the period read (UTC).
    pub from: String,
    /// End of the period read (UTC, exclusive).
    pub to: String,
    /// Why the sync failed or was incomplete, in plain words.
    pub problem: Option<String>,
    /// The records set aside, with their reasons.
    pub set_aside: Vec<SetAside>,
    /// One sentence for staff, e.g. `Clinic FHIR: 4 open times added, 1 removed.`
    pub summary: String,
}

/// One connected system, as a card on the Integrations page. Holds no secret.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct IntegrationCard {
    /// The name staff gave the connection (also the source name on its open times).
    pub name: String,
    /// What kind of system.
    #[ts(type = "\"fhir\" | \"oracle-health\" | \"epic\" | \"athena\" | \"google-calendar\" | \"caldav\"")]
    pub kind: String,
    /// The kind as staff call it: `Epic`, `Oracle Health`, `athenahealth`, `Google Calendar`,
    /// `CalDAV calendar`, `FHIR server`.
    pub kind_label: String,
    /// The server address (FHIR base, athenahealth API host, Google Calendar API, CalDAV server).
    pub base_url: String,
    /// Google Calendar / CalDAV: the calendars read, as "Provider (calendar)"; empty otherwise.
    pub calendars: Vec<String>,
    /// athenahealth: "Practice 195900 · departments 1, 2"; `null` otherwise.
    pub athena: Option<String>,
    /// How MedHarmony Desk signs in.
    #[ts(type = "\"none\" | \"backend-key\" | \"client-secret\" | \"standalone\" | \"google\" | \"basic\"")]
    pub auth: String,
    /// The sign-in method in plain words, e.g. `Server-to-server key (SMART Backend Services)`.
    pub auth_words: String,
    /// The client ID the EHR assigned (not a secret), when the method has one.
    pub client_id: Option<String>,
    /// The user name of a user name + app password sign-in (CalDAV; not a secret).
    pub username: Option<String>,
    /// IANA zone given to providers and locations this connection adds.
    pub tz: String,
    /// How often it is meant to sync, in minutes.
    pub sync_minutes: u32,
    /// False when paused.
    pub active: bool,
    /// The badge.
    pub status: IntegrationStatus,
    /// The last sync that read everything (UTC), for "Last synced 5 min ago".
    pub last_sync_at: Option<String>,
    /// True when the last complete sync is older than twice `sync_minutes`.
    pub stale: bool,
    /// What the last sync did (also a failed or incomplete one).
    pub last_sync: Option<SyncResult>,
    /// The last sync's problem in plain words (`null` after a complete sync).
    pub problem: Option<String>,
    /// True when staff must reconnect (sign-in expired or revoked, a secret missing from the
    /// keychain, credentials refused): the card shows a Reconnect button.
    pub needs_reconnect: bool,
    /// When the sync worker next syncs it (UTC; "now" when due), `null` while paused.
    pub next_sync_at: Option<String>,
}

/// athenahealth settings on the Connect form (athenahealth's own parameter names).
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct AthenaForm {
    /// `practiceid`, e.g. `195900`.
    pub practiceid: String,
    /// `departmentid`s (at least one).
    pub departmentids: Vec<String>,
    /// `providerid`s; empty: every provider of the departments.
    #[serde(default)]
    pub providerids: Vec<String>,
    /// `reasonid`s.
    #[serde(default)]
    pub reasonids: Vec<String>,
    /// `appointmenttypeid`s (a reason or an appointment type is required).
    #[serde(default)]
    pub appointmenttypeids: Vec<String>,
}

/// One calendar on the Connect form (Google Calendar or CalDAV) and whose it is.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct CalendarForm {
    /// Google: the calendar's id (usually an e-mail address); CalDAV: the calendar's address.
    pub calendar: String,
    /// The provider whose calendar it is, e.g. `Dr. Rivera`.
    pub provider: String,
    /// Working hours in the provider's local time, e.g. `Mon-Fri 08:00-12:00,13:00-17:00`.
    pub hours: String,
    /// Length of one open time in minutes; `null`: 30.
    #[serde(default)]
    pub slot_minutes: Option<u32>,
    /// The provider's IANA zone; `null`: the connection's.
    #[serde(default)]
    pub tz: Option<String>,
}

/// A calendar found on a CalDAV server (Find calendars).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct FoundCalendar {
    /// The calendar's address.
    pub url: String,
    /// Its name on the server.
    pub name: String,
}

/// The Integrations page.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct IntegrationsView {
    /// The connected systems, by name.
    pub cards: Vec<IntegrationCard>,
    /// The connection being made now (a browser sign-in can take minutes), if any.
    pub connecting: Option<String>,
    /// The current instant (UTC), for "Last synced 3 min ago".
    pub now: String,
}

/// How a new connection signs in, with what staff typed or picked. Secrets
/// (the private key, the client secret) go to this computer's keychain and
/// are never sent back to the window.
#[derive(Clone, PartialEq, Deserialize, TS)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum AuthForm {
    /// No sign-in (open test servers).
    None,
    /// SMART Backend Services: the client ID and a private key, pasted (PEM
    /// text) or picked as a file (its path).
    BackendKey {
        /// The client ID the EHR assigned when MedHarmony Desk was registered.
        client_id: String,
        /// The private key as PEM text, when pasted.
        #[serde(default)]
        private_key_pem: Option<String>,
        /// The private key file, when picked.
        #[serde(default)]
        private_key_path: Option<String>,
        /// The key ID registered with the EHR; `null`: the key's thumbprint.
        #[serde(default)]
        kid: Option<String>,
    },
    /// A system account's client ID and secret (Oracle Health).
    ClientSecret {
        /// The system account's client ID.
        client_id: String,
        /// The secret.
        client_secret: String,
    },
    /// A staff member signs in once in the web browser (SMART standalone launch).
    Standalone {
        /// The app's client ID.
        client_id: String,
    },
    /// A staff member signs in with a Google account in the web browser (OAuth for installed apps).
    Google {
        /// The OAuth client ID of the practice's Google Cloud project (type "Desktop app").
        client_id: String,
        /// Its client secret, when Google issued one.
        #[serde(default)]
        client_secret: Option<String>,
    },
    /// A user name and an app password (CalDAV: iCloud, Fastmail, Nextcloud).
    Basic {
        /// The user name (often the e-mail address).
        username: String,
        /// The app password.
        password: String,
    },
}

impl std::fmt::Debug for AuthForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a key or a secret.
        f.write_str(match self {
            AuthForm::None => "AuthForm::None",
            AuthForm::BackendKey { .. } => "AuthForm::BackendKey(<redacted>)",
            AuthForm::ClientSecret { .. } => "AuthForm::ClientSecret(<redacted>)",
            AuthForm::Standalone { .. } => "AuthForm::Standalone",
            AuthForm::Google { .. } => "AuthForm::Google(<redacted>)",
            AuthForm::Basic { .. } => "AuthForm::Basic(<redacted>)",
        })
    }
}

/// Arguments of `connect_integration`.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct ConnectForm {
    /// What kind of system.
    #[ts(type = "\"fhir\" | \"oracle-health\" | \"epic\" | \"athena\" | \"google-calendar\" | \"caldav\"")]
    pub kind: String,
    /// The name staff give the connection (unique), e.g. `Main St Epic`.
    pub name: String,
    /// The FHIR R4 base address, e.g. `https://fhir.example.org/r4`.
    pub base_url: String,
    /// How MedHarmony Desk signs in.
    pub auth: AuthForm,
    /// IANA zone for the providers and locations this connection adds (the
    /// window offers the front desk's zone).
    pub tz: Option<String>,
    /// Visit types (`service-type` codes, `system|code` or `code`) to read; Oracle Health needs one.
    #[serde(default)]
    pub service_types: Vec<String>,
    /// Practitioners to read (`Practitioner/123`); empty: all.
    #[serde(default)]
    pub practitioners: Vec<String>,
    /// Locations to read (`Location/456`); empty: all.
    #[serde(default)]
    pub locations: Vec<String>,
    /// The token address when the server does not publish it; `null`: discovered.
    #[serde(default)]
    pub token_url: Option<String>,
    /// Epic only: the STU3 base address; `null`: the R4 address with `/STU3`.
    #[serde(default)]
    pub stu3_base_url: Option<String>,
    /// athenahealth only.
    #[serde(default)]
    pub athena: Option<AthenaForm>,
    /// Google Calendar and CalDAV only: the calendars to read.
    #[serde(default)]
    pub calendars: Vec<CalendarForm>,
}

/// The result of `connect_integration`: the new card and its first sync.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ConnectResult {
    /// The connection as now stored.
    pub card: IntegrationCard,
    /// The first sync, run at once.
    pub first_sync: SyncResult,
}

/// The result of `disconnect_integration`.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DisconnectResult {
    /// The connection removed.
    pub name: String,
    /// Something staff should know although it was removed (e.g. its sign-in
    /// could not be deleted from the keychain).
    pub warning: Option<String>,
}

/// The `sign-in` event: a connection's browser sign-in has started.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SignInStarted {
    /// The connection being made.
    pub name: String,
    /// True when the web browser was opened on the sign-in page.
    pub browser_opened: bool,
    /// The sign-in address to open by hand, only when the browser could not be opened (it holds
    /// the one-time `state` and PKCE challenge of this attempt, nothing secret).
    pub url: Option<String>,
}

/// One opening: a synced future time that a cancellation made free (the Openings page's list).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct OpeningDto {
    /// The slot (`slot-<n>`, as the week view and `medharmony suggest --slot` name it).
    pub slot_id: String,
    /// Provider's display name.
    pub provider: String,
    /// Provider's IANA zone: the time is shown in it.
    pub provider_tz: String,
    /// Location's name, if known.
    pub location: Option<String>,
    /// Start (UTC).
    pub start: String,
    /// End (UTC, exclusive).
    pub end: String,
    /// When the desk learnt of it (UTC).
    pub detected_at: String,
    /// True while the time is still free (a held time is still free).
    pub still_free: bool,
    /// When the current hold for a patient ends (UTC), if it is held.
    pub held_until: Option<String>,
    /// True when it was booked through an offer.
    pub filled: bool,
}

/// Fill figures of one provider (or all) over the last 30 days.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct FillStatsRow {
    /// Provider's name, or `All providers`.
    pub provider: String,
    /// Openings detected.
    pub openings: u32,
    /// Openings booked through an offer.
    pub filled: u32,
    /// Median minutes from detection to booking, when any was booked.
    pub median_minutes_to_fill: Option<f64>,
}

/// The Openings page: recent openings still ahead, and the 30-day figures.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct FillView {
    /// Openings detected in the last 30 days whose time is still ahead, soonest first.
    pub openings: Vec<OpeningDto>,
    /// Per provider with any opening or fill in the last 30 days.
    pub stats: Vec<FillStatsRow>,
    /// All providers together.
    pub total: FillStatsRow,
    /// Start of the figures' period (UTC).
    pub stats_from: String,
    /// Patients on the waitlist.
    pub waiting: usize,
    /// The staff member at the desk (chosen at start), when chosen.
    pub staff: Option<String>,
    /// True when a language model re-ranks suggestions (settings).
    pub model_on: bool,
}

/// One suggested patient for a time.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SuggestionDto {
    /// Waitlist id.
    pub patient_id: i64,
    /// The patient's name.
    pub display_name: String,
    /// Phone to call, if known.
    pub phone: Option<String>,
    /// True when the waitlist has the patient's id in the time's system (Book needs it).
    pub has_source_id: bool,
    /// `routine`, `soon` or `urgent`.
    pub priority: String,
    /// Deterministic score within the priority tier.
    pub score: i64,
    /// Why, for staff, e.g. `Waiting 41 days · prefers mornings · urgent`.
    pub reason: String,
    /// The language model's short reason, when it ranked this patient.
    pub model_reason: Option<String>,
    /// Karma bonus points for taking the time at this notice (our rule, never the model's).
    pub karma_bonus: u32,
    /// Whole days on the waitlist.
    pub days_waiting: i64,
    /// Whole hours from now to the time.
    pub notice_hours: i64,
}

/// A time held for a patient while staff call.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct HoldDto {
    /// The slot.
    pub slot_id: String,
    /// Waitlist id of the patient it is held for.
    pub patient_id: i64,
    /// The patient's name (empty when the patient left the waitlist).
    pub display_name: String,
    /// Staff member who placed it.
    pub staff: String,
    /// When the hold ends (UTC).
    pub expires_at: String,
}

/// Suggestions for one free time.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SuggestionsView {
    /// The slot.
    pub slot_id: String,
    /// Provider's display name.
    pub provider: String,
    /// Provider's IANA zone.
    pub provider_tz: String,
    /// Location, if known.
    pub location: Option<String>,
    /// Visit type, if the system gives one.
    pub service_type: Option<String>,
    /// Start (UTC).
    pub start: String,
    /// End (UTC, exclusive).
    pub end: String,
    /// At most 3 patients, best first.
    pub suggestions: Vec<SuggestionDto>,
    /// How many waiting patients the time suits.
    pub eligible: usize,
    /// Patients on the waitlist.
    pub waiting: usize,
    /// `deterministic` or `llm`: who decided the order.
    pub ranked_by: String,
    /// True when the language model was asked this time.
    pub model_asked: bool,
    /// Why the model's order was not used, in plain words, when it was asked and failed.
    pub fallback_reason: Option<String>,
    /// The current hold on the time, if any.
    pub hold: Option<HoldDto>,
    /// True when the time can be booked from here (it comes from a connected system).
    pub bookable: bool,
}

/// A booking made through an offer.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct OfferBookedDto {
    /// The slot.
    pub slot_id: String,
    /// Waitlist id of the patient booked (now off the waitlist).
    pub patient_id: i64,
    /// The system it was booked in.
    pub integration: String,
    /// The appointment's id in that system.
    pub appointment_id: String,
}

/// A patient id in one connected system (`integration` as named on the Integrations page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SourceIdDto {
    /// The connection's name.
    pub integration: String,
    /// The patient's id there.
    pub patient_id: String,
}

/// A waitlist entry as the Waitlist page shows and edits it (the same shape goes back to
/// `save_waitlist_entry`; `id` null adds a patient).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WaitlistEntryDto {
    /// Waitlist id; null for a new patient.
    pub id: Option<i64>,
    /// Name as staff say it.
    pub display_name: String,
    /// Phone.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// The patient's IANA zone (their preferred times are in it).
    pub tz: String,
    /// The patient's ids in connected systems.
    pub source_ids: Vec<SourceIdDto>,
    /// Visit type wanted; null for any.
    pub service_type: Option<String>,
    /// Provider wanted; null for any.
    pub provider: Option<String>,
    /// Locations acceptable; empty for any.
    pub locations: Vec<String>,
    /// Visit length needed in minutes; null for any.
    pub duration_minutes: Option<u32>,
    /// `routine`, `soon` or `urgent`.
    pub priority: String,
    /// Day added to the waitlist (`YYYY-MM-DD`, the desk's zone); read-only.
    pub added_on: Option<String>,
    /// Weekdays the patient cannot come, `Mon` … `Sun`.
    pub blocked_weekdays: Vec<String>,
    /// Dates the patient cannot come, `YYYY-MM-DD`.
    pub blocked_dates: Vec<String>,
    /// Preferred times of day in the patient's zone, `HH:MM-HH:MM`; empty for any time.
    pub preferred_times: Vec<String>,
    /// Least notice the patient needs, in hours.
    pub min_notice_hours: u32,
    /// Latest acceptable date, `YYYY-MM-DD`.
    pub latest_date: Option<String>,
}

/// The result of importing a waitlist spreadsheet.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct WaitlistImportResult {
    /// The file's name.
    pub file: String,
    /// Patients added.
    pub added: usize,
}

/// One free time that suits a waiting patient (the "find times for this patient" direction).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct PatientOptionDto {
    /// The slot.
    pub slot_id: String,
    /// Provider's name.
    pub provider: String,
    /// Start (UTC).
    pub start: String,
    /// End (UTC, exclusive).
    pub end: String,
    /// Start in the patient's zone, `YYYY-MM-DD HH:MM`.
    pub patient_local_start: String,
    /// Why it suits, for staff.
    pub reason: String,
    /// Karma bonus points at this notice.
    pub karma_bonus: u32,
}

/// The best free times for one waiting patient in the next 30 days.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct PatientOptions {
    /// Waitlist id.
    pub patient_id: i64,
    /// At most 3, earliest first.
    pub options: Vec<PatientOptionDto>,
    /// How many free times suit the patient in all.
    pub suitable: usize,
}

/// The practice's fill settings as the Settings dialog shows and saves them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FillSettingsForm {
    /// True to let a language model re-rank and explain suggestions.
    pub model_on: bool,
    /// The model server's address (OpenAI-compatible), e.g. `https://openrouter.ai/api/v1`.
    pub model_base_url: String,
    /// The model's name, e.g. `llama3.1:8b`.
    pub model_name: String,
    /// Time allowed for one answer, in seconds.
    pub model_timeout_secs: u64,
    /// How many patients are sent to the model (de-identified).
    pub model_top_n: usize,
    /// True when an API key is kept in the keychain (read-only; the key is never shown).
    pub has_api_key: bool,
    /// A new API key to keep in the keychain; null keeps the current one, "" forgets it.
    pub new_api_key: Option<String>,
    /// True to keep notifications quiet between `quiet_start` and `quiet_end`.
    pub quiet_on: bool,
    /// Quiet hours' start, `HH:MM` on this computer's clock.
    pub quiet_start: String,
    /// Quiet hours' end, `HH:MM` (earlier than the start: across midnight).
    pub quiet_end: String,
    /// How long an offer holds a time, in minutes.
    pub hold_minutes: i64,
    /// True when the model settings come from the environment (MEDHARMONY_LLM_*) and the form's are not used.
    pub model_from_environment: bool,
}

/// Who is at the desk: the names offered at start and the one chosen.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct StaffView {
    /// The staff member chosen in this window, if any.
    pub current: Option<String>,
    /// Names chosen before on this computer, most recent first.
    pub recent: Vec<String>,
    /// The computer's user account (written to the audit log beside the name).
    pub os_user: String,
}

/// Emitted when a notification about an opening is clicked: open the app on this time.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct OpenSlot {
    /// The slot to show, `slot-<n>`.
    pub slot_id: String,
}

/// Names of the app's commands and events, generated into
/// `ui/src/bindings/names.ts` so the UI cannot call a command that does not exist.
pub mod names {
    /// Every command the shell registers, in `generate_handler!` order.
    pub const COMMANDS: [&str; 31] = [
        "app_status",
        "week",
        "check_file",
        "import_file",
        "remove_demo",
        "load_demo",
        "time_zones",
        "ui_ready",
        "integrations",
        "connect_integration",
        "cancel_sign_in",
        "sync_now",
        "disconnect_integration",
        "reconnect_integration",
        "find_calendars",
        "set_integration_paused",
        "fill_view",
        "fill_suggestions",
        "offer_slot",
        "book_offer",
        "release_offer",
        "waitlist",
        "save_waitlist_entry",
        "remove_waitlist_entry",
        "import_waitlist",
        "patient_options",
        "fill_settings",
        "save_fill_settings",
        "staff",
        "set_staff",
        "pending_open_slot",
    ];
    /// The event emitted for every committed change of the database.
    pub const STORE_CHANGED: &str = "store-changed";
    /// The event emitted when a connection's browser sign-in starts ([`super::SignInStarted`]).
    pub const SIGN_IN: &str = "sign-in";
    /// The event emitted when openings are found ([`super::OpeningDto`] list), so the Openings page refreshes.
    pub const OPENINGS_FOUND: &str = "openings-found";
    /// The event emitted when an opening's notification is clicked ([`super::OpenSlot`]).
    pub const OPEN_SLOT: &str = "open-slot";
}

/// The ts-rs configuration of our bindings: 64-bit integers are JSON numbers.
pub fn ts_config() -> ts_rs::Config {
    ts_rs::Config::new().with_large_int("number")
}

/// Every generated binding as `(file name, TypeScript text)`, in a stable order:
/// one file per type, `names.ts` and an `index.ts` re-exporting them all.
///
/// # Panics
/// Only if ts-rs cannot render a type, which is a build defect caught by the bindings test.
pub fn generated_bindings() -> Vec<(String, String)> {
    let cfg = ts_config();
    let mut files: Vec<(String, String)> = Vec::new();
    macro_rules! add {
        ($($t:ty),* $(,)?) => {$(
            files.push((
                format!("{}.ts", <$t as TS>::ident(&cfg)),
                <$t as TS>::export_to_string(&cfg).expect("ts-rs renders the type"),
            ));
        )*};
    }
    add!(
        AppStatus, ProblemKind, WeekQuery, DayView, ProviderView, SlotDto, BusyDto, SourceView, LocationView, Week, StoreChanged, FileKind,
        FileCheck, DateQuestion, ImportArgs, SkippedLine, ImportReport, DemoResult, IntegrationStatus, SetAside, SyncResult, IntegrationCard,
        IntegrationsView, AuthForm, ConnectForm, ConnectResult, DisconnectResult, SignInStarted, AthenaForm, CalendarForm, FoundCalendar,
        OpeningDto, FillStatsRow, FillView, SuggestionDto, HoldDto, SuggestionsView, OfferBookedDto, SourceIdDto, WaitlistEntryDto,
        WaitlistImportResult, PatientOptionDto, PatientOptions, FillSettingsForm, StaffView, OpenSlot,
    );
    let header = "// Generated by src-tauri (dto::generated_bindings). Do not edit by hand:\n// run `UPDATE_BINDINGS=1 cargo test -p medharmony-desk --test bindings`.\n\n";
    let mut names_ts = String::from(header);
    names_ts.push_str("/** Every command the desktop shell registers. */\nexport const COMMANDS = [\n");
    for c in names::COMMANDS {
        names_ts.push_str(&format!("  \"{c}\",\n"));
    }
    names_ts.push_str("] as const;\n\n/** A command name. */\nexport type CommandName = (typeof COMMANDS)[number];\n\n");
    names_ts.push_str(&format!("/** Emitted for every committed change of the database. */\nexport const STORE_CHANGED = \"{}\";\n", names::STORE_CHANGED));
    names_ts.push_str(&format!(
        "\n/** Emitted when a connection's browser sign-in starts. */\nexport const SIGN_IN = \"{}\";\n",
        names::SIGN_IN
    ));
    names_ts.push_str(&format!("\n/** Emitted when openings are found (a list of OpeningDto). */\nexport const OPENINGS_FOUND = \"{}\";\n", names::OPENINGS_FOUND));
    names_ts.push_str(&format!("\n/** Emitted when an opening's notification is clicked (OpenSlot). */\nexport const OPEN_SLOT = \"{}\";\n", names::OPEN_SLOT));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut index = String::from(header);
    for (file, _) in &files {
        let stem = file.trim_end_matches(".ts");
        index.push_str(&format!("export type {{ {stem} }} from \"./{stem}\";\n"));
    }
    index.push_str("export { COMMANDS, OPEN_SLOT, OPENINGS_FOUND, SIGN_IN, STORE_CHANGED } from \"./names\";\nexport type { CommandName } from \"./names\";\n");
    files.push(("names.ts".into(), names_ts));
    files.push(("index.ts".into(), index));
    files
}
