//! The headless `medharmony` command: the same engine as the desktop app,
//! scriptable. Its contract (options, JSON shapes, exit codes) is documented
//! in the README and relied on by scripts and the end-to-end tests.
//!
//! Exit codes: 0 all done; 2 done with skipped items (listed in the summary
//! and on stderr); 1 refused (for that file nothing was written). Errors are
//! one sentence on stderr; results go to stdout only.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::availability;
use crate::connect::{connect, disconnect, ConnectAuth, ConnectRequest};
use crate::connector::IntegrationKind;
use crate::fill::model::Patient;
use crate::sync::{book_slot, connector_for, default_window, sync_once};
use crate::import::csv::DateOrder;
use crate::import::file::{import_path, ImportRequest};
use crate::import::Skipped;
use crate::model::{Provider, SlotStatus, WorkingHours};
use crate::store::key::{resolve_key, DatabaseVault, DbKey, KeyVault, OsKeychain, KEY_ENV};
use crate::webhook::{self, Delivery, WebhookConfig, WebhookServer};
use crate::worker::{Worker, WorkerConfig, WorkerEvent};
use crate::store::{default_db_path, Store};
use crate::time::{parse_iana, resolve_tzid, Interval};

use crate::time::{fmt_instant, ser_instant, ser_opt_instant};

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("'{s}' is not an RFC 3339 time such as 2026-03-02T09:00:00Z or 2026-03-02T09:00:00-05:00"))
}

fn parse_zone_arg(s: &str) -> Result<Tz, String> {
    parse_iana(s)
        .or_else(|| resolve_tzid(s))
        .ok_or_else(|| format!("'{s}' is not a time zone; use an IANA name such as America/New_York or Europe/London"))
}

/// `medharmony`: import provider calendars (.ics) and schedule spreadsheets
/// (.csv) into the encrypted local cache, and list busy time and free slots.
#[derive(Debug, Parser)]
#[command(name = "medharmony", version, about, propagate_version = true)]
pub struct Cli {
    /// Database file [default: the platform data directory's medharmony.db].
    #[arg(long, global = true, env = "MEDHARMONY_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Pretend the current time is this (RFC 3339), for repeatable scripts and tests.
    #[arg(long, global = true, value_name = "RFC3339", value_parser = parse_instant)]
    pub now: Option<DateTime<Utc>>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// The staff member at the desk, written to the audit log (required by offer, book-offer and release).
    #[arg(long, global = true, env = "MEDHARMONY_STAFF", value_name = "NAME")]
    pub staff: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add or list providers.
    Providers {
        #[command(subcommand)]
        command: ProvidersCommand,
    },
    /// Import .ics calendars (busy time of one provider) or .csv schedules (open slots).
    Import(ImportArgs),
    /// List busy time overlapping a window.
    Busy(QueryArgs),
    /// List slots overlapping a window.
    Slots(SlotsArgs),
    /// List sources (imported calendars and schedules) and when each was last synced.
    Sources,
    /// List change-log entries after a sequence number.
    Changes {
        /// Only entries with a sequence number greater than this.
        #[arg(long, default_value_t = 0)]
        since: i64,
    },
    /// Load (or refresh) the demo practice: three providers with synthetic calendars.
    Demo {
        /// Remove the demo practice instead (its providers, calendars and slots).
        #[arg(long)]
        remove: bool,
    },
    /// Measure import, upsert, sync, webhook and waitlist-suggestion speed on synthetic data (temporary databases).
    Bench(BenchArgs),
    /// Connect, list or disconnect systems (FHIR R4, Oracle Health, Epic, athenahealth, Google Calendar, CalDAV).
    Integrations {
        #[command(subcommand)]
        command: IntegrationsCommand,
    },
    /// Sync each active integration once, then exit (exit 2 when a window could not be read completely).
    Sync(SyncArgs),
    /// Keep every active integration in sync on its schedule until stopped (Ctrl+C or SIGTERM); one line per sync.
    ///
    /// Never-synced integrations run at once, then each every 15 minutes (its
    /// own interval); failures are retried after 1, 2, 4 … minutes, at most
    /// its interval. Only one scheduler keeps a database in sync at a time (a second `serve` exits 1).
    /// Also receives webhooks (signed change notices from the practice's systems) so changes show at once.
    Serve(ServeArgs),
    /// Keep the cancellation-fill waitlist: add, list, show, update, remove, import a .csv (patient details stay in the encrypted database).
    Waitlist {
        #[command(subcommand)]
        command: WaitlistCommand,
    },
    /// Suggest the top 3 waiting patients for a free slot (score, reason, karma bonus; who ranked them).
    ///
    /// With MEDHARMONY_LLM_BASE_URL and MEDHARMONY_LLM_MODEL set, a language model re-orders the
    /// candidates within each priority tier from de-identified features (API key from the keychain
    /// account llm:api-key or MEDHARMONY_LLM_API_KEY; MEDHARMONY_LLM_TIMEOUT_SECS, default 8;
    /// MEDHARMONY_LLM_TOP_N, default 10). Any problem falls back to the deterministic ranking.
    Suggest {
        /// The slot id as `slots` lists it, e.g. slot-42.
        #[arg(long)]
        slot: String,
    },
    /// The first 3 free slots in the next 30 days that suit a waiting patient.
    Options {
        /// The patient's waitlist id (see `waitlist list`).
        #[arg(long)]
        patient: i64,
    },
    /// Book a synced slot for a patient in its source system.
    Book {
        /// The slot id as `slots` lists it, e.g. slot-42.
        slot_id: String,
        /// The patient's id in the source system.
        #[arg(long)]
        patient: String,
    },
    /// Hold a free slot for a waiting patient while you call them (shown busy-tentative until it expires).
    ///
    /// A slot from a connected system is checked with that system first; a slot taken there is refused
    /// and no longer offered. Needs --staff NAME (or MEDHARMONY_STAFF).
    Offer {
        /// The slot id as `slots` lists it, e.g. slot-42.
        #[arg(long)]
        slot: String,
        /// The patient's waitlist id (see `waitlist list`).
        #[arg(long)]
        patient: i64,
        /// Minutes the hold lasts.
        #[arg(long, default_value_t = crate::fill::DEFAULT_HOLD_MINUTES)]
        minutes: i64,
    },
    /// Book the patient a slot is held for into the slot's system, and take them off the waitlist.
    BookOffer {
        /// The held slot's id, e.g. slot-42.
        #[arg(long)]
        slot: String,
    },
    /// Release a hold (the patient stays on the waitlist).
    Release {
        /// The held slot's id, e.g. slot-42.
        #[arg(long)]
        slot: String,
    },
    /// List the audit log: who viewed waiting patients, offered, booked or released which slot (ids only).
    Audit {
        /// Only entries at or after this time (RFC 3339).
        #[arg(long, value_parser = parse_instant)]
        since: Option<DateTime<Utc>>,
    },
    /// Cancellation fill over the last 30 days, by provider: openings detected, filled through an offer, median time to fill.
    FillStats,
    /// Keep the language model's API key in this computer's keychain (account llm:api-key).
    Llm {
        #[command(subcommand)]
        command: LlmCommand,
    },
}

/// `llm` subcommands.
#[derive(Debug, Subcommand)]
pub enum LlmCommand {
    /// Read the API key from standard input (one line) and keep it in the keychain.
    SetKey,
    /// Remove the API key from the keychain.
    ForgetKey,
}

/// `waitlist` subcommands.
#[derive(Debug, Subcommand)]
pub enum WaitlistCommand {
    /// Put a patient on the waitlist.
    #[command(after_help = "Left out: any visit type, provider, location, slot length and time of day; no blocked days; \
                            priority routine; added now; no notice needed; no latest date.")]
    Add(Box<WaitlistAddArgs>),
    /// List the waitlist (urgent first, then soon, then routine; oldest first within each).
    List,
    /// Show one waiting patient's details (written to the audit log as a view).
    Show {
        /// The waitlist id.
        id: i64,
    },
    /// Change a waiting patient's details: only the options given change (same options as `add`).
    #[command(after_help = "Options left out keep their values. A repeatable option replaces the whole list; \
                            `any` or `none` clears a text or list option (e.g. --provider any, --latest-date none).")]
    Update(Box<WaitlistUpdateArgs>),
    /// Take a patient off the waitlist.
    Remove {
        /// The waitlist id.
        id: i64,
    },
    /// Add every row of a .csv (columns documented in `medharmony::fill::csv_import`); one bad row refuses the whole file.
    Import {
        /// The .csv file.
        file: PathBuf,
    },
}

/// `waitlist add` options. Dates and times are the patient's local ones, in --tz.
#[derive(Debug, Args)]
pub struct WaitlistAddArgs {
    /// The patient's display name.
    pub name: String,
    /// The patient's IANA time zone, e.g. America/New_York.
    #[arg(long, value_parser = parse_zone_arg)]
    pub tz: Tz,
    #[command(flatten)]
    pub fields: WaitlistFields,
}

/// `waitlist update` options: only the options given change; dates and times are the
/// patient's local ones, in the patient's zone (the new --tz when it is given).
#[derive(Debug, Args)]
pub struct WaitlistUpdateArgs {
    /// The waitlist id (see `waitlist list`).
    pub id: i64,
    /// The patient's new display name.
    #[arg(long)]
    pub name: Option<String>,
    /// The patient's IANA time zone, e.g. America/New_York.
    #[arg(long, value_parser = parse_zone_arg)]
    pub tz: Option<Tz>,
    #[command(flatten)]
    pub fields: WaitlistFields,
}

/// The options `waitlist add` and `waitlist update` share. An option left out keeps the
/// entry's value (for `add`: the defaults its help lists); a text or list option given as
/// `any`, `none` or empty clears it (a repeatable one is replaced as a whole).
#[derive(Debug, Args, Default, PartialEq, Eq)]
pub struct WaitlistFields {
    /// Phone number.
    #[arg(long)]
    pub phone: Option<String>,
    /// E-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// The patient's id in a connected system, as INTEGRATION=ID (e.g. "Main St Epic=E1234"); repeatable.
    #[arg(long = "patient-id")]
    pub patient_ids: Vec<String>,
    /// Wanted visit type (any: any type).
    #[arg(long)]
    pub visit_type: Option<String>,
    /// Wanted provider (any: any provider).
    #[arg(long)]
    pub provider: Option<String>,
    /// Acceptable location; repeatable (any: any location).
    #[arg(long = "location")]
    pub locations: Vec<String>,
    /// Minutes the visit needs, 1 to 1440 (any: any slot length).
    #[arg(long)]
    pub duration_minutes: Option<String>,
    /// routine, soon or urgent.
    #[arg(long, value_parser = |s: &str| s.parse::<crate::fill::Priority>())]
    pub priority: Option<crate::fill::Priority>,
    /// When the patient was put on the list (RFC 3339).
    #[arg(long, value_parser = parse_instant)]
    pub added: Option<DateTime<Utc>>,
    /// Weekdays the patient cannot come, e.g. Sat,Sun (none: no blocked weekday).
    #[arg(long)]
    pub blocked_weekdays: Option<String>,
    /// A date the patient cannot come (YYYY-MM-DD); repeatable (none: no blocked date).
    #[arg(long = "blocked-date")]
    pub blocked_dates: Vec<String>,
    /// A time range the patient can come, e.g. 08:00-12:00; repeatable (any: any time).
    #[arg(long = "preferred-time")]
    pub preferred_times: Vec<String>,
    /// Least notice the patient needs, in hours.
    #[arg(long)]
    pub min_notice_hours: Option<u32>,
    /// Last acceptable date (YYYY-MM-DD; none: no limit).
    #[arg(long)]
    pub latest_date: Option<String>,
}

/// `providers` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Add a provider.
    Add {
        /// Display name, e.g. "Dr. Rivera".
        name: String,
        /// IANA time zone, e.g. America/New_York.
        #[arg(long, value_parser = parse_zone_arg)]
        tz: Tz,
        /// Weekly working hours in local time.
        #[arg(long, default_value = "Mon-Fri 07:00-17:00")]
        hours: String,
        /// Default slot length in minutes.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(5..=720))]
        slot_minutes: u32,
    },
    /// List providers.
    List,
}

/// `import` options.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import; each is its own transaction.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Provider whose calendar an .ics is (required for .ics); default provider for a .csv without a provider column.
    #[arg(long)]
    pub provider: Option<String>,
    /// Zone for providers this import creates (an existing provider keeps its zone).
    #[arg(long, value_parser = parse_zone_arg)]
    pub tz: Option<Tz>,
    /// Source (feed) name [default: the file name without extension].
    #[arg(long)]
    pub source: Option<String>,
    /// Day/month order of local dates in a .csv when the file cannot tell.
    #[arg(long, value_parser = |s: &str| s.parse::<DateOrder>().map_err(|e| e.to_string()))]
    pub date_order: Option<DateOrder>,
    /// Start of the import window [default: 7 days before now].
    #[arg(long, value_parser = parse_instant)]
    pub from: Option<DateTime<Utc>>,
    /// End of the import window [default: 90 days after now].
    #[arg(long, value_parser = parse_instant)]
    pub to: Option<DateTime<Utc>>,
}

/// Window and provider for `busy`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Window start [default: now].
    #[arg(long, value_parser = parse_instant)]
    pub from: Option<DateTime<Utc>>,
    /// Window end [default: 7 days after the start].
    #[arg(long, value_parser = parse_instant)]
    pub to: Option<DateTime<Utc>>,
}

/// `slots` options.
#[derive(Debug, Args)]
pub struct SlotsArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// Only slots with this FHIR status (free, busy, busy-unavailable, busy-tentative, entered-in-error).
    #[arg(long, value_parser = |s: &str| s.parse::<SlotStatus>().map_err(|e| e.to_string()))]
    pub status: Option<SlotStatus>,
}

/// `bench` options.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Calendar events to generate (one in five recurs weekly).
    #[arg(long, default_value_t = 5000)]
    pub events: usize,
    /// Days of the expansion window.
    #[arg(long, default_value_t = 90)]
    pub days: i64,
    /// Published slots to upsert.
    #[arg(long, default_value_t = 100_000)]
    pub slots: usize,
    /// FHIR Slots served by a local fake FHIR server and synced through the FHIR connector (0 skips this part).
    #[arg(long, default_value_t = 50_000)]
    pub fhir_slots: usize,
    /// Slots per FHIR search page (`_count`).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: u32,
    /// Seconds of signed webhook deliveries to time (webhook → change-log latency; 0 skips this part).
    #[arg(long, default_value_t = 60)]
    pub webhook_seconds: u32,
    /// Webhook deliveries per second.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub webhook_rate: u32,
    /// Waiting patients for the cancellation-fill part: "suggest" for a free slot is timed over this waitlist (0 skips this part).
    #[arg(long, default_value_t = 10_000)]
    pub waitlist: usize,
    /// Suggestions timed in the cancellation-fill part.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub waitlist_runs: u32,
    /// Cancellations timed from the sync's commit to the opening notice (with a 1,000-patient waitlist; 0 skips this part).
    #[arg(long, default_value_t = 200)]
    pub notice_rounds: usize,
}

/// `integrations` subcommands.
#[derive(Debug, Subcommand)]
pub enum IntegrationsCommand {
    /// Connect a system (secrets go to the OS keychain, never to the database).
    Add(Box<IntegrationAddArgs>),
    /// List connected systems with their last sync.
    List,
    /// Disconnect a system: its synced slots and its keychain entries are removed.
    Remove {
        /// The integration's name.
        name: String,
    },
    /// Stop syncing a system on its schedule (its open times stay; `medharmony sync` still syncs it by name).
    Pause {
        /// The integration's name.
        name: String,
    },
    /// Sync a paused system on its schedule again.
    Resume {
        /// The integration's name.
        name: String,
    },
    /// Make a new webhook secret for a system and show it once (give it to the practice's interface engine);
    /// the previous secret stops working.
    WebhookSecret {
        /// The integration's name.
        name: String,
    },
}

/// Where `serve` listens for webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookListen {
    /// Do not receive webhooks.
    Off,
    /// Listen on this address.
    At(std::net::SocketAddr),
}

fn parse_listen(s: &str) -> Result<WebhookListen, String> {
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(WebhookListen::Off);
    }
    s.trim()
        .parse()
        .map(WebhookListen::At)
        .map_err(|_| format!("'{s}' is not an address and port such as 127.0.0.1:8737 or 0.0.0.0:8737 (or off)"))
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Receive webhooks on this address and port; `off` receives none. The default, 127.0.0.1:8737, takes them
    /// from this computer only; use 0.0.0.0:8737 (or this computer's network address) for an interface engine
    /// on another machine. When the default port is taken, syncing goes on without webhooks.
    #[arg(long, env = "MEDHARMONY_WEBHOOK_LISTEN", value_name = "ADDR:PORT", value_parser = parse_listen)]
    pub webhook_listen: Option<WebhookListen>,
}

/// How `integrations add` signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthArg {
    /// No sign-in (open test servers).
    None,
    /// Server to server: SMART Backend Services (`--key-file`) or a client secret (`--client-secret-stdin`).
    Backend,
    /// A staff member signs in once in the system browser (SMART standalone launch with PKCE; for
    /// google-calendar, Google's sign-in for installed apps).
    Standalone,
    /// A user name (`--username`) and an app password on standard input (`--password-stdin`): CalDAV.
    Basic,
}

/// `integrations add` options.
#[derive(Debug, Args)]
pub struct IntegrationAddArgs {
    /// fhir, oracle-health, epic, athena, google-calendar or caldav.
    #[arg(value_parser = |s: &str| s.parse::<IntegrationKind>())]
    pub kind: IntegrationKind,
    /// A name for this connection, e.g. "Main St Epic".
    #[arg(long)]
    pub name: String,
    /// The server address: the FHIR R4 base URL (e.g. https://fhir.example.org/r4), the CalDAV
    /// server, or the athenahealth API host [athena: production; google-calendar: Calendar API v3].
    #[arg(long, default_value = "")]
    pub base_url: String,
    /// How MedHarmony Desk signs in.
    #[arg(long, value_enum, default_value = "none")]
    pub auth: AuthArg,
    /// The client id registered with the EHR.
    #[arg(long)]
    pub client_id: Option<String>,
    /// PEM private key (RSA or P-384) for SMART Backend Services; copied into the keychain.
    #[arg(long, value_name = "PEM")]
    pub key_file: Option<PathBuf>,
    /// Read a client secret from standard input (Oracle Health system accounts); kept in the keychain.
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// Token endpoint [default: discovered from .well-known/smart-configuration].
    #[arg(long)]
    pub token_url: Option<String>,
    /// OAuth scopes [default: read slots and schedules, write appointments].
    #[arg(long)]
    pub scope: Option<String>,
    /// Zone for providers and locations this connection creates [default: this computer's zone].
    #[arg(long, value_parser = parse_zone_arg)]
    pub tz: Option<Tz>,
    /// A visit type to search (`system|code`); repeatable. Oracle Health needs at least one.
    #[arg(long = "service-type")]
    pub service_types: Vec<String>,
    /// Only this practitioner (`Practitioner/123`); repeatable.
    #[arg(long = "practitioner")]
    pub practitioners: Vec<String>,
    /// Only this location (`Location/456`); repeatable.
    #[arg(long = "location")]
    pub locations: Vec<String>,
    /// Epic only: the STU3 base URL for $find and $book [default: base URL with /R4 replaced by /STU3].
    #[arg(long)]
    pub stu3_base_url: Option<String>,
    /// athena only: the athenahealth practiceid, e.g. 195900.
    #[arg(long)]
    pub practice_id: Option<String>,
    /// athena only: a departmentid to read open slots for; repeatable, at least one.
    #[arg(long = "department-id")]
    pub department_ids: Vec<String>,
    /// athena only: only this providerid; repeatable.
    #[arg(long = "provider-id")]
    pub provider_ids: Vec<String>,
    /// athena only: a reasonid to read open slots for; repeatable (a reason or an appointment type is required).
    #[arg(long = "reason-id", allow_hyphen_values = true)]
    pub reason_ids: Vec<String>,
    /// athena only: an appointmenttypeid to read open slots for; repeatable.
    #[arg(long = "appointment-type-id")]
    pub appointment_type_ids: Vec<String>,
    /// google-calendar / caldav: a calendar as `CALENDAR|PROVIDER|HOURS[|SLOT_MINUTES[|ZONE]]`, e.g.
    /// `dr.rivera@example.com|Dr. Rivera|Mon-Fri 08:00-12:00,13:00-17:00|30`; repeatable. CALENDAR is a
    /// Google calendar id or a CalDAV calendar address.
    #[arg(long = "calendar", value_parser = parse_calendar_arg)]
    pub calendars: Vec<crate::connector::calendar::CalendarSettings>,
    /// caldav: the account's user name.
    #[arg(long)]
    pub username: Option<String>,
    /// caldav: read the app password from standard input; kept in the keychain.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Parses `--calendar CALENDAR|PROVIDER|HOURS[|SLOT_MINUTES[|ZONE]]`.
fn parse_calendar_arg(s: &str) -> Result<crate::connector::calendar::CalendarSettings, String> {
    let parts: Vec<&str> = s.split('|').map(str::trim).collect();
    if parts.len() < 3 || parts.len() > 5 || parts[..3].iter().any(|p| p.is_empty()) {
        return Err("give a calendar as CALENDAR|PROVIDER|HOURS[|SLOT_MINUTES[|ZONE]], e.g. 'dr.rivera@example.com|Dr. Rivera|Mon-Fri 08:00-17:00|30'".into());
    }
    let slot_minutes = match parts.get(3) {
        Some(m) if !m.is_empty() => m.parse::<u32>().map_err(|_| format!("'{m}' is not a number of minutes"))?,
        _ => crate::connector::calendar::DEFAULT_SLOT_MINUTES,
    };
    Ok(crate::connector::calendar::CalendarSettings {
        id: parts[0].to_string(),
        provider: parts[1].to_string(),
        tz: parts.get(4).filter(|z| !z.is_empty()).map(|z| z.to_string()),
        hours: parts[2].to_string(),
        slot_minutes,
        location: None,
    })
}

/// `sync` options.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this integration [default: every active one].
    #[arg(long)]
    pub integration: Option<String>,
    /// Window start [default: 7 days before now].
    #[arg(long, value_parser = parse_instant)]
    pub from: Option<DateTime<Utc>>,
    /// Window end [default: 90 days after now].
    #[arg(long, value_parser = parse_instant)]
    pub to: Option<DateTime<Utc>>,
}


/// Runs the CLI on `args` (including the program name) and returns the exit code.
pub fn main_with<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", one_sentence(&e));
            ExitCode::from(1)
        }
    }
}

/// One line from standard input holding a secret (`what` names it in the error).
fn read_stdin_secret(what: &str) -> anyhow::Result<String> {
    let mut secret = String::new();
    std::io::stdin().read_line(&mut secret)?;
    let secret = secret.trim().to_string();
    if secret.is_empty() {
        bail!("no {what} on standard input");
    }
    Ok(secret)
}

fn one_sentence(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ")
}

fn db_and_key(cli: &Cli) -> anyhow::Result<(PathBuf, DbKey)> {
    let path = match &cli.db {
        Some(p) => p.clone(),
        None => default_db_path().ok_or_else(|| anyhow!("could not find a data directory for the database; give --db PATH"))?,
    };
    let env_key = std::env::var(KEY_ENV).ok();
    let key = resolve_key(&path, env_key.as_deref(), &OsKeychain)?;
    Ok((path, key))
}

fn open_store(cli: &Cli) -> anyhow::Result<Store> {
    let (path, key) = db_and_key(cli)?;
    let mut store = Store::open(&path, &key)?;
    if let Some(now) = cli.now {
        store.set_now(now);
    }
    Ok(store)
}

/// The person at the desk (`--staff` / `MEDHARMONY_STAFF`) and the OS user, for the audit log.
fn actor(cli: &Cli) -> crate::fill::Actor {
    crate::fill::Actor::from_env(cli.staff.as_deref())
}

/// `medharmony serve`: the sync worker until SIGINT/SIGTERM. With `--now`,
/// the worker's clock starts at that time and runs on in real time.
fn serve(cli: &Cli, args: &ServeArgs) -> anyhow::Result<u8> {
    let (path, key) = db_and_key(cli)?;
    // Open once first, so a wrong key or a newer schema is reported before anything starts.
    let count = Store::open(&path, &key)?.integrations()?.iter().filter(|i| i.active).count();
    let offset = cli.now.map_or_else(Duration::zero, |n| n - Utc::now());
    let json = cli.json;
    let clock: crate::worker::Clock = Arc::new(move || Utc::now() + offset);
    let config = WorkerConfig {
        clock: clock.clone(),
        on_event: Arc::new(move |e: &WorkerEvent| print_worker_event(e, json)),
        ..WorkerConfig::new(path.clone(), key.clone(), OsKeychain)
    };
    // An address given on purpose must work; the default may be taken (another desk on this computer).
    let (listen, explicit) = match args.webhook_listen {
        Some(WebhookListen::Off) => (None, true),
        Some(WebhookListen::At(a)) => (Some(a), true),
        None => (Some(webhook::DEFAULT_LISTEN.parse().expect("a valid default address")), false),
    };
    let hooks = listen.map(|addr| WebhookConfig {
        clock: clock.clone(),
        on_delivery: Arc::new(move |d: &Delivery| print_delivery(d, json)),
        ..WebhookConfig::new(addr, path.clone(), key.clone(), OsKeychain)
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let outcome = rt.block_on(async {
        // Listen before announcing, so a signal right after the banner stops cleanly.
        let stop = shutdown_signal()?;
        let handle = Worker::start(config, &tokio::runtime::Handle::current())?;
        let plural = if count == 1 { "" } else { "s" };
        eprintln!("Keeping {} in sync ({count} active integration{plural}); press Ctrl+C to stop.", path.display());
        let receiver = match hooks.map(|h| WebhookServer::start(h, &tokio::runtime::Handle::current())).transpose() {
            Ok(r) => r,
            Err(e) if explicit => {
                handle.stop().await?;
                return Err(e.into());
            }
            Err(e) => {
                eprintln!("warning: {e}; syncing goes on without webhooks");
                None
            }
        };
        if let Some(r) = &receiver {
            eprintln!(
                "Receiving webhooks at http://{}/webhooks/<integration name> (each system needs a secret: medharmony integrations webhook-secret NAME).",
                r.local_addr()
            );
        }
        stop.await;
        if let Some(r) = receiver {
            r.stop().await;
        }
        handle.stop().await?;
        eprintln!("Stopped.");
        Ok(0)
    });
    // A sync still running after the worker's grace period is not waited for:
    // the process ends and SQLite rolls back its unfinished write.
    rt.shutdown_background();
    outcome
}

/// A future that resolves on SIGINT (Ctrl+C) or SIGTERM; the handlers are
/// installed when this returns. Must be called inside the tokio runtime.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// A future that resolves on Ctrl+C. Must be called inside the tokio runtime.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        let _ = ctrl_c.await;
    })
}

/// One line per sync: `<time> <report.plain()>` (or the report as one JSON line with `--json`);
/// one per change-feed poll that brought changes (JSON: the [`crate::sync::PollReport`] with `"poll": true`).
fn print_worker_event(e: &WorkerEvent, json: bool) {
    let now = fmt_instant(Utc::now());
    match e {
        WorkerEvent::Synced { report, next_due, .. } => {
            if json {
                let _ = print_json(report);
            } else {
                let next = next_due.map(|t| format!("; next sync {}", fmt_instant(t))).unwrap_or_default();
                println!("{now} {}{next}", report.plain());
            }
        }
        WorkerEvent::Polled { report } => {
            if json {
                let mut v = serde_json::to_value(report).unwrap_or_default();
                v["poll"] = serde_json::Value::Bool(true);
                let _ = print_json(&v);
            } else {
                let problem = report.problem.as_deref().map(|p| format!("; {p}")).unwrap_or_default();
                println!("{now} {}: changes: {} added, {} changed{problem}", report.integration, report.added, report.changed);
            }
        }
        WorkerEvent::Error { integration, error } => {
            if json {
                let _ = print_json(&serde_json::json!({ "integration": integration, "failed": true, "problem": error }));
            } else {
                println!("{now} {integration}: sync could not run: {error}");
            }
        }
    }
}

/// One line per webhook delivery (and per re-read it queued), like the worker's sync lines.
fn print_delivery(d: &Delivery, json: bool) {
    if json {
        let _ = print_json(&serde_json::json!({ "webhook": d.kind, "integration": d.integration, "result": d.outcome.word() }));
    } else {
        println!("{} {}", fmt_instant(Utc::now()), d.plain());
    }
}

fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn window(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, default_from: DateTime<Utc>, default_len: Duration) -> anyhow::Result<Interval> {
    let start = from.unwrap_or(default_from);
    let end = to.unwrap_or(start + default_len);
    match Interval::new(start, end) {
        Some(w) if !w.is_empty() => Ok(w),
        _ => bail!("--to ({}) must be after --from ({})", fmt_instant(end), fmt_instant(start)),
    }
}

fn find_provider(store: &Store, name: Option<&str>) -> anyhow::Result<Option<Provider>> {
    match name {
        None => Ok(None),
        Some(n) => Ok(Some(store.provider(n)?.ok_or_else(|| anyhow!("there is no provider named '{n}'; see `medharmony providers list`"))?)),
    }
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    let now = cli.now.unwrap_or_else(Utc::now);
    match &cli.command {
        Command::Bench(args) => {
            crate::bench::run(&crate::bench::Plan {
                events: args.events,
                days: args.days,
                slots: args.slots,
                fhir_slots: args.fhir_slots,
                page_size: args.page_size as usize,
                waitlist: args.waitlist,
                waitlist_runs: args.waitlist_runs as usize,
            })?;
            if args.webhook_seconds > 0 {
                let dir = crate::bench::tempfile_dir()?;
                let r = crate::webhook::bench_latency(&dir, args.webhook_rate, args.webhook_seconds).map_err(|e| anyhow!(e));
                let _ = std::fs::remove_dir_all(&dir);
                let r = r?;
                println!(
                    "webhooks: {} sent at {}/s for {} s, {} applied, {} change-log entries; webhook → change log p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    r.sent, args.webhook_rate, args.webhook_seconds, r.applied, r.changes, r.p50_ms, r.p99_ms, r.max_ms
                );
            }
            if args.notice_rounds > 0 {
                let dir = crate::bench::tempfile_dir()?;
                let r = crate::fill::notice::bench_latency(&dir, args.notice_rounds, 1_000).map_err(|e| anyhow!(e));
                let _ = std::fs::remove_dir_all(&dir);
                let r = r?;
                println!(
                    "opening notices: {} cancellations, {} waiting patients; sync commit → notice ready: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                    r.rounds, r.waitlist, r.median_ms, r.p95_ms, r.max_ms
                );
            }
            Ok(0)
        }
        Command::Providers { command } => {
            let mut store = open_store(cli)?;
            match command {
                ProvidersCommand::Add { name, tz, hours, slot_minutes } => {
                    let hours = WorkingHours::parse(hours)?;
                    if name.trim().is_empty() {
                        bail!("a provider needs a name");
                    }
                    let p = store.add_provider(name, *tz, &hours, *slot_minutes, now)?;
                    if cli.json {
                        print_json(&p)?;
                    } else {
                        println!("Added {} ({}, {}, {}-minute slots)", p.name, p.tz.name(), p.hours.to_spec(), p.slot_minutes);
                    }
                }
                ProvidersCommand::List => {
                    let list = store.providers()?;
                    if cli.json {
                        print_json(&list)?;
                    } else if list.is_empty() {
                        println!("No providers yet. Add one with: medharmony providers add \"Dr. Rivera\" --tz America/New_York");
                    } else {
                        for p in list {
                            println!("{}\t{}\t{}\t{} min", p.name, p.tz.name(), p.hours.to_spec(), p.slot_minutes);
                        }
                    }
                }
            }
            Ok(0)
        }
        Command::Import(args) => {
            let mut store = open_store(cli)?;
            let win = window(args.from, args.to, now - Duration::days(7), Duration::days(97))?;
            let req = ImportRequest { provider: args.provider.clone(), tz: args.tz, source: args.source.clone(), date_order: args.date_order };
            let (mut refused, mut partial) = (false, false);
            for file in &args.files {
                match import_path(&mut store, file, &file.display().to_string(), &req, win, now) {
                    Ok(summary) => {
                        for s in &summary.skipped {
                            eprintln!("skipped: {}", describe_skip(&summary.file, s));
                        }
                        partial |= !summary.skipped.is_empty();
                        if cli.json {
                            print_json(&summary)?;
                        } else {
                            println!("{}", summary.plain());
                        }
                        if summary.events > 0 && summary.instances == 0 {
                            eprintln!(
                                "note: {}: the import window is {} to {}; use --from and --to to import another period",
                                summary.file,
                                fmt_instant(win.start),
                                fmt_instant(win.end)
                            );
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        if cli.json {
                            // One line per file on stdout, refused ones too, so scripts can pair them up.
                            print_json(&serde_json::json!({ "file": file.display().to_string(), "error": e.to_string() }))?;
                        }
                        refused = true;
                    }
                }
            }
            // A refused file outranks skipped items: 1, else 2, else 0.
            Ok(if refused { 1 } else if partial { 2 } else { 0 })
        }
        Command::Busy(q) => {
            let store = open_store(cli)?;
            let provider = find_provider(&store, q.provider.as_deref())?;
            let win = window(q.from, q.to, now, Duration::days(7))?;
            let rows = store.busy(provider.as_ref().map(|p| p.id), win)?;
            if cli.json {
                let out: Vec<BusyJson> = rows
                    .into_iter()
                    .map(|b| BusyJson {
                        provider: b.provider,
                        source: b.source,
                        uid: b.uid,
                        recurrence_id: b.recurrence_id,
                        start: b.start,
                        end: b.end,
                        all_day: b.all_day,
                        summary: b.summary,
                    })
                    .collect();
                print_json(&out)?;
            } else {
                let zones = provider_zones(&store)?;
                if rows.is_empty() {
                    println!("No busy time between {} and {}.", fmt_instant(win.start), fmt_instant(win.end));
                }
                for b in rows {
                    let z = zones.get(&b.provider_id).copied().unwrap_or(chrono_tz::UTC);
                    println!("{}\t{}\t{}", b.provider, local_span(z, b.start, b.end, b.all_day), b.summary.unwrap_or_default());
                }
            }
            Ok(0)
        }
        Command::Slots(a) => {
            let store = open_store(cli)?;
            let provider = find_provider(&store, a.query.provider.as_deref())?;
            let win = window(a.query.from, a.query.to, now, Duration::days(7))?;
            let list = availability::slots(&store, provider.as_ref(), win, a.status)?;
            if cli.json {
                print_json(&list)?;
            } else {
                let zones: std::collections::HashMap<String, Tz> = store.providers()?.into_iter().map(|p| (p.name, p.tz)).collect();
                if list.is_empty() {
                    println!("No slots between {} and {}.", fmt_instant(win.start), fmt_instant(win.end));
                }
                for s in list {
                    let z = zones.get(&s.provider).copied().unwrap_or(chrono_tz::UTC);
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        s.id,
                        s.provider,
                        local_span(z, s.start, s.end, false),
                        s.status,
                        s.location.unwrap_or_default(),
                        s.source
                    );
                }
            }
            Ok(0)
        }
        Command::Demo { remove: true } => {
            let mut store = open_store(cli)?;
            let n = crate::demo::remove(&mut store, now)?;
            if cli.json {
                print_json(&serde_json::json!({ "removed_providers": n }))?;
            } else {
                println!("Removed the demo practice ({n} providers).");
            }
            Ok(0)
        }
        Command::Demo { remove: false } => {
            let mut store = open_store(cli)?;
            let summaries = crate::demo::seed(&mut store, now)?;
            if cli.json {
                print_json(&summaries)?;
            } else {
                for s in &summaries {
                    println!("{}", s.plain());
                }
                println!("Demo practice ready. Try: medharmony slots --status free");
            }
            Ok(0)
        }
        Command::Sources => {
            let store = open_store(cli)?;
            let list = store.sources()?;
            if cli.json {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("Nothing imported yet. Try: medharmony import calendar.ics --provider \"Dr. Rivera\" --tz America/New_York");
            } else {
                for s in list {
                    let last = s.last_sync_at.map(fmt_instant).unwrap_or_else(|| "never".into());
                    println!("{}\t{}\t{}\tlast synced {}", s.kind.as_str(), s.name, s.provider.unwrap_or_default(), last);
                }
            }
            Ok(0)
        }
        Command::Integrations { command } => integrations(cli, command, now),
        Command::Serve(a) => serve(cli, a),
        Command::Sync(a) => {
            let mut store = open_store(cli)?;
            let all = store.integrations()?;
            let chosen: Vec<_> = match &a.integration {
                Some(n) => vec![all
                    .into_iter()
                    .find(|i| i.name.eq_ignore_ascii_case(n.trim()))
                    .ok_or_else(|| anyhow!("there is no integration named '{n}'; see `medharmony integrations list`"))?],
                None => all.into_iter().filter(|i| i.active).collect(),
            };
            let d = default_window(now);
            // --from alone keeps the default window's length; --to alone its start.
            let win = window(Some(a.from.unwrap_or(d.start)), a.to, now, d.end - d.start)?;
            let vault: Arc<dyn KeyVault + Send + Sync> = Arc::new(DatabaseVault::new(OsKeychain, store.path()));
            let mut reports = Vec::new();
            for integ in &chosen {
                reports.push(sync_once(&mut store, integ, |i| connector_for(i, vault.clone()), win, now)?);
            }
            if cli.json {
                print_json(&reports)?;
            } else if reports.is_empty() {
                println!("No integrations to sync. Connect one with: medharmony integrations add fhir --name NAME --base-url URL");
            }
            for r in &reports {
                if !cli.json {
                    println!("{}", r.plain());
                }
                for w in &r.warnings {
                    eprintln!("{}: set aside {}: {}", r.integration, w.resource, w.reason);
                }
                match &r.problem {
                    // Most problems already name the system ("Clinic FHIR answered with …").
                    Some(p) if p.starts_with(&r.integration) => eprintln!("{p}"),
                    Some(p) => eprintln!("{}: {p}", r.integration),
                    None => {}
                }
            }
            Ok(if reports.iter().any(|r| r.failed) {
                1
            } else if reports.iter().any(|r| !r.complete) {
                2
            } else {
                0
            })
        }
        Command::Book { slot_id, patient } => {
            let mut store = open_store(cli)?;
            let vault: Arc<dyn KeyVault + Send + Sync> = Arc::new(DatabaseVault::new(OsKeychain, store.path()));
            let booked = book_slot(&mut store, slot_id, patient, |i| connector_for(i, vault.clone()), now)?;
            if cli.json {
                print_json(&booked)?;
            } else {
                println!("Booked: {} ({}).", booked.appointment_id, booked.status);
            }
            Ok(0)
        }
        Command::Waitlist { command } => waitlist(cli, command, now),
        Command::Suggest { slot } => suggest(cli, slot, now),
        Command::Options { patient } => {
            let store = open_store(cli)?;
            let o = crate::fill::options_for_patient(&store, *patient, now)?;
            store.record_audit(crate::fill::AuditAction::View, &actor(cli), None, Some(*patient), now)?;
            if cli.json {
                print_json(&o)?;
            } else if o.options.is_empty() {
                println!("No free slot in the next {} days suits patient {patient}.", crate::fill::OPTIONS_DAYS);
            } else {
                for (i, x) in o.options.iter().enumerate() {
                    println!(
                        "{}. {}\t{}\t{} (patient's time)\tkarma +{}\t{}",
                        i + 1,
                        x.slot.id,
                        x.slot.provider,
                        x.patient_local_start,
                        x.karma_bonus,
                        x.reason
                    );
                }
            }
            Ok(0)
        }
        Command::Offer { slot, patient, minutes } => offer(cli, slot, *patient, *minutes, now),
        Command::BookOffer { slot } => {
            let mut store = open_store(cli)?;
            let vault: Arc<dyn KeyVault + Send + Sync> = Arc::new(DatabaseVault::new(OsKeychain, store.path()));
            let b = crate::fill::book_offer(&mut store, slot, &actor(cli), |i| connector_for(i, vault.clone()), now)?;
            if cli.json {
                print_json(&b)?;
            } else {
                println!(
                    "Booked {} for patient {} in {}: {} ({}); the patient is off the waitlist.",
                    b.slot, b.patient_id, b.integration, b.booked.appointment_id, b.booked.status
                );
            }
            Ok(0)
        }
        Command::Release { slot } => {
            let mut store = open_store(cli)?;
            let h = crate::fill::release_offer(&mut store, slot, &actor(cli), now)?;
            if cli.json {
                print_json(&serde_json::json!({ "released": h.slot, "patient_id": h.patient_id }))?;
            } else {
                println!("Released {}; it is free again (patient {} stays on the waitlist).", h.slot, h.patient_id);
            }
            Ok(0)
        }
        Command::Audit { since } => {
            let store = open_store(cli)?;
            let list = store.audit_since(*since)?;
            if cli.json {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("The audit log has no entries{}.", since.map(|s| format!(" since {}", fmt_instant(s))).unwrap_or_default());
            } else {
                for e in list {
                    let dash = |o: Option<String>| o.unwrap_or_else(|| "-".into());
                    println!(
                        "{}\t{}\t{}\t{}\t{}\tpatient {}",
                        fmt_instant(e.at),
                        e.staff,
                        e.os_user,
                        e.action.code(),
                        dash(e.slot),
                        dash(e.patient_id.map(|p| p.to_string()))
                    );
                }
            }
            Ok(0)
        }
        Command::FillStats => {
            let store = open_store(cli)?;
            let st = store.fill_stats(now)?;
            if cli.json {
                print_json(&st)?;
            } else {
                println!("Cancellation fill from {} to {}:", fmt_instant(st.from), fmt_instant(st.to));
                for p in st.providers.iter().chain(std::iter::once(&st.total)) {
                    let median = p.median_minutes_to_fill.map_or_else(|| "no time to fill yet".to_string(), |m| format!("median {m:.0} min to fill"));
                    println!("{}\t{} openings\t{} filled\t{median}", p.provider, p.openings, p.filled);
                }
            }
            Ok(0)
        }
        Command::Llm { command } => {
            let store = open_store(cli)?;
            let vault = DatabaseVault::new(OsKeychain, store.path());
            match command {
                LlmCommand::SetKey => {
                    let key = read_stdin_secret("API key")?;
                    vault
                        .set(crate::fill::llm::API_KEY_ACCOUNT, &key)
                        .map_err(|e| anyhow!("the API key could not be kept in this computer's keychain ({e})"))?;
                    if cli.json {
                        print_json(&serde_json::json!({ "stored": crate::fill::llm::API_KEY_ACCOUNT }))?;
                    } else {
                        println!("The language model's API key is kept in this computer's keychain for this database.");
                    }
                }
                LlmCommand::ForgetKey => {
                    vault
                        .delete(crate::fill::llm::API_KEY_ACCOUNT)
                        .map_err(|e| anyhow!("the API key could not be removed from this computer's keychain ({e})"))?;
                    if cli.json {
                        print_json(&serde_json::json!({ "removed": crate::fill::llm::API_KEY_ACCOUNT }))?;
                    } else {
                        println!("The language model's API key was removed from this computer's keychain.");
                    }
                }
            }
            Ok(0)
        }
        Command::Changes { since } => {
            let store = open_store(cli)?;
            let list = store.changes_since(*since, 10_000)?;
            if cli.json {
                print_json(&list)?;
            } else {
                for c in list {
                    println!("{}\t{}\t{} {}\t{}", c.seq, fmt_instant(c.at), c.entity, c.op, c.detail);
                }
            }
            Ok(0)
        }
    }
}

/// Sets on `p` every field `f` gives, leaving the others as they are (see [`WaitlistFields`]).
///
/// # Errors
/// A value that cannot be read, naming its option (never the value of a contact field).
fn apply_waitlist_fields(p: &mut Patient, f: &WaitlistFields) -> anyhow::Result<()> {
    use crate::fill::model::{is_any, parse_date, parse_dates, parse_source_ids, parse_weekdays, parse_windows};
    let clears = |s: &str| is_any(s) || s.trim().eq_ignore_ascii_case("none");
    // `None`: not given; `Some(None)`: cleared; `Some(Some(text))`: the new text.
    let text = |v: &Option<String>| v.as_deref().map(|s| (!clears(s)).then(|| s.trim().to_string()));
    // `None`: not given; otherwise the new list's values (empty: cleared).
    let list = |v: &[String]| (!v.is_empty()).then(|| v.iter().filter(|s| !clears(s)).map(|s| s.trim().to_string()).collect::<Vec<_>>());
    fn read<T>(flag: &str, r: Result<T, String>) -> anyhow::Result<T> {
        r.map_err(|e| anyhow!("{flag}: {e}"))
    }
    if let Some(v) = text(&f.phone) {
        p.phone = v;
    }
    if let Some(v) = text(&f.email) {
        p.email = v;
    }
    if let Some(v) = list(&f.patient_ids) {
        p.source_ids = read("--patient-id", parse_source_ids(&v.join(";")))?;
    }
    if let Some(v) = text(&f.visit_type) {
        p.wants.service_type = v;
    }
    if let Some(v) = text(&f.provider) {
        p.wants.provider = v;
    }
    if let Some(v) = list(&f.locations) {
        p.wants.locations = v;
    }
    if let Some(v) = text(&f.duration_minutes) {
        let minutes = |s: String| match s.parse::<u32>() {
            Ok(m) if (1..=1440).contains(&m) => Ok(m),
            _ => Err(format!("'{s}' is not a whole number of minutes from 1 to 1440 (or any)")),
        };
        p.wants.duration_minutes = read("--duration-minutes", v.map(minutes).transpose())?;
    }
    if let Some(v) = f.priority {
        p.priority = v;
    }
    if let Some(v) = f.added {
        p.added_at = v;
    }
    if let Some(v) = text(&f.blocked_weekdays) {
        p.prefs.blocked_weekdays = read("--blocked-weekdays", parse_weekdays(v.as_deref().unwrap_or("")))?;
    }
    if let Some(v) = list(&f.blocked_dates) {
        p.prefs.blocked_dates = read("--blocked-date", parse_dates(&v.join(";")))?;
    }
    if let Some(v) = list(&f.preferred_times) {
        p.prefs.preferred_times = read("--preferred-time", parse_windows(&v.join(";")))?;
    }
    if let Some(v) = f.min_notice_hours {
        p.prefs.min_notice_hours = v;
    }
    if let Some(v) = text(&f.latest_date) {
        p.prefs.latest_date = read("--latest-date", v.as_deref().map(parse_date).transpose())?;
    }
    Ok(())
}

fn waitlist(cli: &Cli, command: &WaitlistCommand, now: DateTime<Utc>) -> anyhow::Result<u8> {
    let mut store = open_store(cli)?;
    match command {
        WaitlistCommand::Add(a) => {
            let mut p = Patient::new(&a.name, a.tz, now);
            apply_waitlist_fields(&mut p, &a.fields)?;
            p.validate().map_err(|(field, problem)| anyhow!("{field}: {problem}"))?;
            let e = store.add_waitlist(&p, now)?;
            if cli.json {
                print_json(&e)?;
            } else {
                println!("Added patient {} to the waitlist ({}).", e.id, e.patient.priority);
            }
        }
        WaitlistCommand::Update(a) => {
            if a.name.is_none() && a.tz.is_none() && a.fields == WaitlistFields::default() {
                bail!("nothing to change: give the details to change, e.g. `medharmony waitlist update {} --priority urgent`", a.id);
            }
            let no_patient = || anyhow!("there is no patient {} on the waitlist; see `medharmony waitlist list`", a.id);
            let mut e = store.waitlist_entry(a.id)?.ok_or_else(no_patient)?;
            if let Some(name) = &a.name {
                e.patient.display_name = name.trim().to_string();
            }
            if let Some(tz) = a.tz {
                e.patient.tz = tz;
            }
            apply_waitlist_fields(&mut e.patient, &a.fields)?;
            e.patient.validate().map_err(|(field, problem)| anyhow!("{field}: {problem}"))?;
            if !store.update_waitlist(e.id, &e.patient, now)? {
                return Err(no_patient());
            }
            if cli.json {
                print_json(&e)?;
            } else {
                println!("Updated patient {} on the waitlist ({}).", e.id, e.patient.priority);
            }
        }
        WaitlistCommand::List => {
            let list = store.waitlist()?;
            let who = actor(cli);
            for e in &list {
                store.record_audit(crate::fill::AuditAction::View, &who, None, Some(e.id), now)?;
            }
            if cli.json {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("The waitlist is empty. Add someone with: medharmony waitlist add \"Name\" --tz America/New_York");
            } else {
                for e in list {
                    let p = &e.patient;
                    let any = |o: &Option<String>| o.clone().unwrap_or_else(|| "any".into());
                    println!(
                        "{}\t{}\t{}\t{}\tadded {}\t{}\t{}",
                        e.id,
                        p.priority,
                        p.display_name,
                        p.tz.name(),
                        fmt_instant(p.added_at),
                        any(&p.wants.service_type),
                        any(&p.wants.provider)
                    );
                }
            }
        }
        WaitlistCommand::Show { id } => {
            let Some(e) = store.waitlist_entry(*id)? else {
                bail!("there is no patient {id} on the waitlist; see `medharmony waitlist list`");
            };
            store.record_audit(crate::fill::AuditAction::View, &actor(cli), None, Some(e.id), now)?;
            if cli.json {
                print_json(&e)?;
            } else {
                let p = &e.patient;
                let any = |o: &Option<String>| o.clone().unwrap_or_else(|| "any".into());
                println!("Patient {} ({}, {}), added {}", e.id, p.display_name, p.priority, fmt_instant(p.added_at));
                println!("Phone: {}\tE-mail: {}", p.phone.as_deref().unwrap_or("-"), p.email.as_deref().unwrap_or("-"));
                let ids: Vec<String> = p.source_ids.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("Patient ids: {}", if ids.is_empty() { "-".to_string() } else { ids.join(", ") });
                println!("Wants: {} with {}; time zone {}", any(&p.wants.service_type), any(&p.wants.provider), p.tz.name());
            }
        }
        WaitlistCommand::Remove { id } => {
            if !store.remove_waitlist(*id, now)? {
                bail!("there is no patient {id} on the waitlist; see `medharmony waitlist list`");
            }
            if cli.json {
                print_json(&serde_json::json!({ "removed": id }))?;
            } else {
                println!("Removed patient {id} from the waitlist.");
            }
        }
        WaitlistCommand::Import { file } => {
            let added = crate::fill::csv_import::import_waitlist_csv(&mut store, file, now)?;
            if cli.json {
                print_json(&serde_json::json!({ "file": file.display().to_string(), "added": added.len(), "ids": added.iter().map(|e| e.id).collect::<Vec<_>>() }))?;
            } else {
                println!("{}: added {} patients to the waitlist.", file.display(), added.len());
            }
        }
    }
    Ok(0)
}

/// `medharmony suggest --slot ID`: language-model settings from the environment, else the practice's
/// saved ones (set in the app), see `Command::Suggest`.
fn suggest(cli: &Cli, slot: &str, now: DateTime<Utc>) -> anyhow::Result<u8> {
    let store = open_store(cli)?;
    let vault = DatabaseVault::new(OsKeychain, store.path());
    let llm = crate::fill::llm::LlmSettings::resolve(&store, &vault).map_err(|e| anyhow!(e))?;
    let s = crate::fill::suggest_for_slot(&store, slot, now, llm.as_ref())?;
    let who = actor(cli);
    let slot_no = crate::sync::parse_slot_id(&s.slot.id);
    for x in &s.suggestions {
        store.record_audit(crate::fill::AuditAction::View, &who, slot_no, Some(x.patient_id), now)?;
    }
    if cli.json {
        print_json(&s)?;
        return Ok(0);
    }
    let zone = store.provider(&s.slot.provider)?.map_or(chrono_tz::UTC, |p| p.tz);
    let ranked = match (&s.ranked_by, &s.fallback_reason) {
        (crate::fill::RankedBy::Llm, _) => "ranked by the language model within priority tiers".to_string(),
        (_, Some(why)) => format!("ranked deterministically: {why}"),
        (_, None) => "ranked deterministically".to_string(),
    };
    println!("{} {} {} ({ranked})", s.slot.id, s.slot.provider, local_span(zone, s.slot.span.start, s.slot.span.end, false));
    if s.suggestions.is_empty() {
        println!("No one on the waitlist can take this slot ({} waiting).", s.waiting);
    }
    for (i, x) in s.suggestions.iter().enumerate() {
        let llm = x.llm_reason.as_deref().map(|r| format!(" (model: {r})")).unwrap_or_default();
        println!("{}. {} (patient {})\tscore {}\tkarma +{}\t{}{llm}", i + 1, x.display_name, x.patient_id, x.score, x.karma_bonus, x.reason);
    }
    Ok(0)
}

/// `medharmony offer`: hold a slot for a waiting patient after checking it with its system.
fn offer(cli: &Cli, slot: &str, patient: i64, minutes: i64, now: DateTime<Utc>) -> anyhow::Result<u8> {
    let mut store = open_store(cli)?;
    let vault: Arc<dyn KeyVault + Send + Sync> = Arc::new(DatabaseVault::new(OsKeychain, store.path()));
    let h = crate::fill::offer_slot(&mut store, slot, patient, minutes, &actor(cli), |i| connector_for(i, vault.clone()), now)?;
    if cli.json {
        print_json(&h)?;
    } else {
        println!(
            "Held {} for patient {} until {}; book it with: medharmony book-offer --slot {} (or release it with: medharmony release --slot {}).",
            h.slot,
            h.patient_id,
            fmt_instant(h.expires_at),
            h.slot,
            h.slot
        );
    }
    Ok(0)
}

fn integrations(cli: &Cli, command: &IntegrationsCommand, now: DateTime<Utc>) -> anyhow::Result<u8> {
    match command {
        IntegrationsCommand::Add(a) => {
            let mut store = open_store(cli)?;
            let client_id = || a.client_id.clone().ok_or_else(|| anyhow!("--client-id is required with --auth {:?}", a.auth).to_string().to_lowercase());
            let needed = match a.kind {
                IntegrationKind::Athena if a.auth != AuthArg::Backend => Some("--auth backend --client-id ID --client-secret-stdin"),
                IntegrationKind::GoogleCalendar if a.auth != AuthArg::Standalone => Some("--auth standalone --client-id ID [--client-secret-stdin]"),
                IntegrationKind::CalDav if a.auth != AuthArg::Basic => Some("--auth basic --username NAME --password-stdin"),
                _ => None,
            };
            if let Some(flags) = needed {
                bail!("{} connects with {flags}", a.kind.as_str());
            }
            let auth = match a.auth {
                AuthArg::None => ConnectAuth::None,
                AuthArg::Backend => match (&a.key_file, a.client_secret_stdin) {
                    (Some(path), false) => {
                        let pem = std::fs::read_to_string(path).map_err(|e| anyhow!("could not read the key file {}: {e}", path.display()))?;
                        ConnectAuth::PrivateKey { client_id: client_id().map_err(|e| anyhow!(e))?, pem, kid: None }
                    }
                    (None, true) => {
                        ConnectAuth::ClientSecret { client_id: client_id().map_err(|e| anyhow!(e))?, secret: read_stdin_secret("client secret")? }
                    }
                    _ => bail!("--auth backend needs exactly one of --key-file PEM (SMART Backend Services) or --client-secret-stdin"),
                },
                AuthArg::Standalone if a.kind == IntegrationKind::GoogleCalendar => {
                    let client_secret = if a.client_secret_stdin { Some(read_stdin_secret("client secret")?) } else { None };
                    ConnectAuth::InstalledApp { client_id: client_id().map_err(|e| anyhow!(e))?, client_secret }
                }
                AuthArg::Standalone => ConnectAuth::Standalone { client_id: client_id().map_err(|e| anyhow!(e))? },
                AuthArg::Basic => {
                    let username = a.username.clone().ok_or_else(|| anyhow!("--username is required with --auth basic"))?;
                    if !a.password_stdin {
                        bail!("--auth basic needs --password-stdin (the app password is read from standard input, never from the command line)");
                    }
                    ConnectAuth::Basic { username, password: read_stdin_secret("password")? }
                }
            };
            let athena = a.practice_id.as_ref().map(|p| crate::connector::AthenaSettings {
                practiceid: p.trim().to_string(),
                departmentids: a.department_ids.clone(),
                providerids: a.provider_ids.clone(),
                reasonids: a.reason_ids.clone(),
                appointmenttypeids: a.appointment_type_ids.clone(),
            });
            let tz = match a.tz {
                Some(tz) => tz.name().to_string(),
                None => iana_time_zone::get_timezone().ok().filter(|z| parse_iana(z).is_some()).unwrap_or_else(|| "UTC".into()),
            };
            let req = ConnectRequest {
                kind: a.kind,
                name: a.name.clone(),
                base_url: a.base_url.clone(),
                token_url: a.token_url.clone(),
                scope: a.scope.clone(),
                auth,
                tz,
                service_types: a.service_types.clone(),
                practitioners: a.practitioners.clone(),
                locations: a.locations.clone(),
                stu3_base_url: a.stu3_base_url.clone(),
                athena,
                calendars: a.calendars.clone(),
            };
            let cancel = std::sync::atomic::AtomicBool::new(false);
            let vault = Arc::new(DatabaseVault::new(OsKeychain, store.path()));
            let integ = connect(&mut store, vault, req, |url| {
                eprintln!("Sign in to continue. Open this address in your web browser:\n{url}");
            }, &cancel, now)?;
            if cli.json {
                print_json(&integ)?;
            } else {
                println!("Connected {} ({}). Sync it with: medharmony sync --integration \"{}\"", integ.name, integ.kind.label(), integ.name);
            }
            Ok(0)
        }
        IntegrationsCommand::List => {
            let store = open_store(cli)?;
            let list = store.integrations()?;
            if cli.json {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("No systems connected. Try: medharmony integrations add fhir --name \"Clinic FHIR\" --base-url https://fhir.example.org/r4");
            } else {
                for i in list {
                    let last = i.last_sync_at.map(fmt_instant).unwrap_or_else(|| "never".into());
                    let mut state = i.last_error.as_deref().map(|e| format!("problem: {e}")).unwrap_or_else(|| "ok".into());
                    if !i.active {
                        state = format!("paused; {state}");
                    }
                    println!("{}\t{}\t{}\tlast synced {}\t{}", i.name, i.kind, i.settings.base_url, last, state);
                }
            }
            Ok(0)
        }
        IntegrationsCommand::Pause { name } | IntegrationsCommand::Resume { name } => {
            let active = matches!(command, IntegrationsCommand::Resume { .. });
            let mut store = open_store(cli)?;
            if !store.set_integration_active(name, active, now)? {
                bail!("there is no integration named '{name}'; see `medharmony integrations list`");
            }
            if cli.json {
                print_json(&serde_json::json!({ "integration": name, "paused": !active }))?;
            } else if active {
                println!("Resumed {name}: it syncs on its schedule again.");
            } else {
                println!("Paused {name}: it is no longer synced on its schedule; its open times stay. Resume with: medharmony integrations resume \"{name}\"");
            }
            Ok(0)
        }
        IntegrationsCommand::WebhookSecret { name } => {
            let store = open_store(cli)?;
            let Some(integ) = store.integration(name)? else {
                bail!("there is no integration named '{name}'; see `medharmony integrations list`");
            };
            let secret = webhook::generate_secret()?;
            let vault = DatabaseVault::new(OsKeychain, store.path());
            crate::auth::Secrets::new(&vault).store_webhook_secret(&integ.name, &secret)?;
            let path = webhook::path_for(&integ.name);
            if cli.json {
                print_json(&serde_json::json!({ "integration": integ.name, "secret": secret, "path": path, "fhir_path": format!("{path}/fhir") }))?;
            } else {
                // The secret alone on stdout (for scripts); the explanation on stderr.
                println!("{secret}");
                eprintln!(
                    "This is the new webhook secret for {name}. It is shown only this once and kept in this computer's keychain; \
                     any earlier secret for {name} no longer works.\n\
                     Give it to whoever runs the practice's interface engine, with the address \
                     http://<this computer>:8737{path} (FHIR Subscription notifications: {path}/fhir). \
                     Every delivery must be signed with it (headers X-MedHarmony-Timestamp and X-MedHarmony-Signature).",
                    name = integ.name
                );
            }
            Ok(0)
        }
        IntegrationsCommand::Remove { name } => {
            let mut store = open_store(cli)?;
            let vault = DatabaseVault::new(OsKeychain, store.path());
            match disconnect(&mut store, &vault, name, now) {
                Ok(true) => {}
                Ok(false) => bail!("there is no integration named '{name}'; see `medharmony integrations list`"),
                // Disconnected, but the keychain refused: say so, the disconnection stands.
                Err(crate::connect::ConnectError::Auth(e)) if store.integration(name)?.is_none() => {
                    eprintln!("warning: {name} was disconnected, but its sign-in details could not be removed from this computer's keychain ({e})");
                }
                Err(e) => return Err(e.into()),
            }
            if cli.json {
                print_json(&serde_json::json!({ "removed": name }))?;
            } else {
                println!("Disconnected {name}; its synced open times were removed.");
            }
            Ok(0)
        }
    }
}

fn provider_zones(store: &Store) -> anyhow::Result<std::collections::HashMap<i64, Tz>> {
    Ok(store.providers()?.into_iter().map(|p| (p.id, p.tz)).collect())
}

/// `Mon 2026-03-02 09:00–09:30 EST` in the provider's zone.
fn local_span(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>, all_day: bool) -> String {
    let (s, e) = (start.with_timezone(&tz), end.with_timezone(&tz));
    if all_day {
        let last = (e - Duration::seconds(1)).date_naive();
        if last == s.date_naive() {
            return format!("{} all day", s.format("%a %Y-%m-%d"));
        }
        return format!("{} – {} all day", s.format("%a %Y-%m-%d"), last.format("%a %Y-%m-%d"));
    }
    if s.date_naive() == e.date_naive() {
        format!("{}–{} {}", s.format("%a %Y-%m-%d %H:%M"), e.format("%H:%M"), e.format("%Z"))
    } else {
        format!("{} – {} {}", s.format("%a %Y-%m-%d %H:%M"), e.format("%a %Y-%m-%d %H:%M"), e.format("%Z"))
    }
}

/// `busy --json` element.
#[derive(Serialize)]
struct BusyJson {
    provider: String,
    source: String,
    uid: String,
    #[serde(serialize_with = "ser_opt_instant")]
    recurrence_id: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_instant")]
    start: DateTime<Utc>,
    #[serde(serialize_with = "ser_instant")]
    end: DateTime<Utc>,
    all_day: bool,
    summary: Option<String>,
}

fn describe_skip(file: &str, s: &Skipped) -> String {
    let uid = s.uid.as_deref().map(|u| format!(" (UID {u})")).unwrap_or_default();
    format!("{file} {}{uid}", s.describe())
}

