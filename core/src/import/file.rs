//! Importing one file into the store: the one path the CLI, the desktop app's
//! drag-and-drop and its Import button all use.
//!
//! The file is read and parsed completely before the store is touched; the
//! write is one transaction ([`Store::import_ics`] / [`Store::import_slots`]),
//! so a refused file changes nothing.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use thiserror::Error;

use super::csv::{parse_csv, CsvError, CsvOptions, DateOrder};
use super::ics::{parse_ics, IcsError, IcsOptions};
use super::Skipped;
use crate::store::{NewSlot, ProviderRef, Store, StoreError};
use crate::time::{Interval, Zone};

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// The provider an .ics belongs to (required for .ics); for a .csv, the
    /// provider of rows when the file has no provider column.
    pub provider: Option<String>,
    /// Zone of providers (and locations) this import creates; existing ones keep theirs.
    pub tz: Option<Tz>,
    /// Source (feed) name; default the file name without extension.
    pub source: Option<String>,
    /// Day/month order of local dates in a .csv when the file cannot tell.
    pub date_order: Option<DateOrder>,
}

/// Summary of one imported file; the CLI prints it as
/// `{"file","source","provider","events","instances","slots","skipped":[{"line","uid","reason"}],"removed","outside_window"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSummary {
    /// The file as given.
    pub file: String,
    /// Source (feed) name.
    pub source: String,
    /// The calendar's provider; for a spreadsheet the one provider its rows name, else null.
    pub provider: Option<String>,
    /// Calendar events (VEVENTs) read.
    pub events: usize,
    /// Busy instances in the import window.
    pub instances: usize,
    /// Published slots in the import window.
    pub slots: usize,
    /// Items left out, each `{"line","uid","reason"}`.
    pub skipped: Vec<Skipped>,
    /// Instances or slots removed because the file no longer contains them.
    pub removed: usize,
    /// Spreadsheet rows outside the import window (not imported, not an error).
    pub outside_window: usize,
}

impl FileSummary {
    /// One plain sentence for staff, e.g.
    /// `rivera.ics: 42 events imported (118 busy times in the window) for Dr. Rivera, 3 skipped: line 120, unknown time zone 'XYZ'`.
    pub fn plain(&self) -> String {
        let what = if self.events > 0 || self.instances > 0 {
            let mut w = format!("{} imported ({} in the import window)", count(self.events, "event"), count(self.instances, "busy time"));
            if self.instances == 0 {
                w.push_str(": none of its events fall in the window");
            }
            w
        } else {
            format!("{} imported", count(self.slots, "open slot"))
        };
        let mut s = format!("{}: {what}", self.file);
        if let Some(p) = &self.provider {
            s.push_str(&format!(" for {p}"));
        }
        if let Some(first) = self.skipped.first() {
            s.push_str(&format!(", {} skipped: {}", self.skipped.len(), first.describe()));
            if self.skipped.len() > 1 {
                s.push_str(" (and more)");
            }
        }
        if self.removed > 0 {
            s.push_str(&format!(", {} removed that the file no longer lists", self.removed));
        }
        if self.outside_window > 0 {
            s.push_str(&format!(", {} outside the import window", count(self.outside_window, "row")));
        }
        s
    }
}

/// `1 event`, `3 events`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Why a file was refused. Nothing was written.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("could not read {file}: {}", plain_io(source))]
    Read {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is MedHarmony's own database (or its journal): never opened here.
    #[error("{file} is MedHarmony Desk's own database, not a calendar or spreadsheet")]
    OwnDatabase {
        /// The file.
        file: String,
    },
    /// A calendar none of whose events could be read: most likely a damaged
    /// export, so it must not replace what the feed had.
    #[error("{file}: {}, so nothing was changed", nothing_readable(*count, first))]
    NothingReadable {
        /// The file.
        file: String,
        /// How many events were skipped.
        count: usize,
        /// The first reason, e.g. `line 8: DTSTART value 'garbage' is not a valid date or date-time`.
        first: String,
    },
    /// Neither a calendar nor a spreadsheet.
    #[error("{file}: not a calendar (.ics) or schedule spreadsheet (.csv) file")]
    UnknownKind {
        /// The file.
        file: String,
    },
    /// An .ics import without a provider.
    #[error("{file}: an .ics calendar belongs to one provider; give --provider NAME")]
    NeedsProvider {
        /// The file.
        file: String,
    },
    /// The provider does not exist and no zone was given to create it.
    #[error("{file}: there is no provider named '{name}'; give --tz ZONE to create it, or add it with `medharmony providers add`")]
    UnknownProvider {
        /// The file.
        file: String,
        /// The provider name.
        name: String,
    },
    /// A spreadsheet row names a provider that does not exist and no zone was given.
    #[error("{file} line {line}: there is no provider named '{name}'; give --tz ZONE to create the providers this file names")]
    UnknownRowProvider {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The provider name.
        name: String,
    },
    /// The calendar was refused as a whole.
    #[error("{file}: {source}")]
    Ics {
        /// The file.
        file: String,
        /// Why.
        source: IcsError,
    },
    /// The spreadsheet was refused as a whole.
    #[error("{file}: {source}")]
    Csv {
        /// The file.
        file: String,
        /// Why.
        source: Box<CsvError>,
    },
    /// The store failed; the transaction was rolled back.
    #[error("{file}: {source}")]
    Store {
        /// The file.
        file: String,
        /// Why.
        source: StoreError,
    },
}

impl Skipped {
    /// `line 120: DTSTART uses unknown time zone 'XYZ'`, or the reason alone
    /// when the line is unknown; never ends with a period, so a UID can follow.
    pub fn describe(&self) -> String {
        let reason = self.reason.trim().trim_end_matches('.');
        match self.line {
            Some(l) => format!("line {l}: {reason}"),
            None => reason.to_string(),
        }
    }
}

fn nothing_readable(count: usize, first: &str) -> String {
    if count == 1 {
        format!("its only event could not be read ({first})")
    } else {
        format!("none of its {count} events could be read ({first} and more)")
    }
}

/// An OS error in words for staff (no "os error 2").
fn plain_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "there is no such file".into(),
        std::io::ErrorKind::PermissionDenied => "this computer does not allow MedHarmony to open it".into(),
        std::io::ErrorKind::IsADirectory => "it is a folder, not a file".into(),
        _ => e.kind().to_string(),
    }
}

/// Is this an .ics or a .csv? By extension, else by content.
fn is_calendar(path: &Path, bytes: &[u8]) -> Option<bool> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("ics" | "ical" | "icalendar" | "ifb") => return Some(true),
        Some("csv" | "tsv" | "txt") => return Some(false),
        _ => {}
    }
    starts_like_calendar(bytes).then_some(true)
}

/// True when the bytes start with `BEGIN:VCALENDAR` (RFC 5545 §3.4), after a
/// UTF-8 byte-order mark and blank space, in any letter case.
pub fn starts_like_calendar(head: &[u8]) -> bool {
    String::from_utf8_lossy(&head[..head.len().min(64)]).trim_start_matches('\u{feff}').trim_start().to_ascii_uppercase().starts_with("BEGIN:VCALENDAR")
}

/// Imports the file at `path` over the window `win` (UTC, half-open) as one
/// transaction. `display_name` is how the file is named in the summary and
/// in errors (the CLI passes the path as typed; the app the file name).
///
/// # Errors
/// [`ImportError`]; nothing was written.
pub fn import_path(store: &mut Store, path: &Path, display_name: &str, req: &ImportRequest, win: Interval, now: DateTime<Utc>) -> Result<FileSummary, ImportError> {
    let file = display_name.to_string();
    if store.is_own_file(path) {
        return Err(ImportError::OwnDatabase { file });
    }
    let bytes = std::fs::read(path).map_err(|source| ImportError::Read { file: file.clone(), source })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| file.clone());
    import_bytes(store, &bytes, &file, &stem, req, is_calendar(path, &bytes), win, now)
}

/// Imports file content already in memory (the desktop app's drop handler).
/// `stem` is the default source name; `calendar` tells the kind (`None`: sniff the content,
/// refusing anything that is not an iCalendar file).
///
/// # Errors
/// [`ImportError`]; nothing was written.
#[allow(clippy::too_many_arguments)]
pub fn import_bytes(
    store: &mut Store,
    bytes: &[u8],
    file: &str,
    stem: &str,
    req: &ImportRequest,
    calendar: Option<bool>,
    win: Interval,
    now: DateTime<Utc>,
) -> Result<FileSummary, ImportError> {
    let file = file.to_string();
    let source = req.source.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(stem).to_string();
    let calendar = calendar.or_else(|| is_calendar(Path::new(""), bytes)).ok_or_else(|| ImportError::UnknownKind { file: file.clone() })?;
    let store_err = |source: StoreError| ImportError::Store { file: file.clone(), source };
    if calendar {
        let name = req.provider.as_deref().map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| ImportError::NeedsProvider { file: file.clone() })?;
        let zone = match (store.provider(name).map_err(store_err)?, req.tz) {
            (Some(p), _) => p.tz,
            (None, Some(tz)) => tz,
            (None, None) => return Err(ImportError::UnknownProvider { file, name: name.to_string() }),
        };
        let parsed = parse_ics(bytes, &IcsOptions { provider_zone: zone, window: win }).map_err(|source| ImportError::Ics { file: file.clone(), source })?;
        if parsed.events == 0 {
            if let Some(first) = parsed.skipped.first() {
                return Err(ImportError::NothingReadable { file, count: parsed.skipped.len(), first: first.describe() });
            }
        }
        let (provider, outcome) = store
            .import_ics(&ProviderRef { name: name.to_string(), tz_if_new: req.tz }, &source, win, &parsed, now)
            .map_err(store_err)?;
        return Ok(FileSummary {
            file,
            source,
            provider: Some(provider.name),
            events: parsed.events,
            instances: parsed.instances.len(),
            slots: 0,
            skipped: parsed.skipped,
            removed: outcome.removed,
            outside_window: 0,
        });
    }
    let parsed = parse_csv(bytes, &CsvOptions { date_order: req.date_order, default_provider: req.provider.clone() })
        .map_err(|e| ImportError::Csv { file: file.clone(), source: Box::new(e) })?;
    let mut zones: HashMap<String, Tz> = HashMap::new();
    let mut slots = Vec::with_capacity(parsed.rows.len());
    let mut skipped = parsed.skipped;
    let mut outside = 0usize;
    for row in &parsed.rows {
        let key = row.provider.to_lowercase();
        let provider_tz = match zones.get(&key) {
            Some(z) => *z,
            None => {
                let z = match (store.provider(&row.provider).map_err(store_err)?, req.tz) {
                    (Some(p), _) => p.tz,
                    (None, Some(tz)) => tz,
                    (None, None) => return Err(ImportError::UnknownRowProvider { file, line: row.line, name: row.provider.clone() }),
                };
                zones.insert(key, z);
                z
            }
        };
        // Times written with a UTC offset are instants already; local times are read in the row's zone, else the provider's.
        let (start, end) = row.utc_span().unwrap_or_else(|| {
            let zone = Zone::Iana(row.tz.unwrap_or(provider_tz));
            zone.span_to_utc(row.start, row.end)
        });
        let Some(span) = Interval::new(start, end).filter(|s| !s.is_empty()) else {
            skipped.push(Skipped { line: Some(row.line), uid: None, reason: "the slot has no length once its time zone's clock change is applied".into() });
            continue;
        };
        if !span.overlaps(&win) {
            outside += 1;
            continue;
        }
        slots.push(NewSlot {
            provider: row.provider.clone(),
            location: row.location.clone(),
            span,
            status: row.status,
            service_type: row.service_type.clone(),
            tz_if_new: row.tz,
        });
    }
    skipped.sort_by_key(|s| s.line);
    let outcome = store.import_slots(&source, req.tz, win, &slots, skipped.is_empty(), now).map_err(store_err)?;
    let mut names: Vec<String> = slots.iter().map(|s| s.provider.to_lowercase()).collect();
    names.sort_unstable();
    names.dedup();
    Ok(FileSummary {
        file,
        source,
        provider: if names.len() == 1 { slots.first().map(|s| s.provider.clone()) } else { None },
        events: 0,
        instances: 0,
        slots: slots.len(),
        skipped,
        removed: outcome.removed,
        outside_window: outside,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> FileSummary {
        FileSummary {
            file: "rivera.ics".into(),
            source: "rivera".into(),
            provider: Some("Dr. Rivera".into()),
            events: 1,
            instances: 0,
            slots: 0,
            skipped: vec![Skipped { line: Some(37), uid: Some("b7".into()), reason: "The event's BEGIN and END lines do not match.".into() }],
            removed: 0,
            outside_window: 0,
        }
    }

    #[test]
    fn plain_summary_is_one_readable_sentence() {
        assert_eq!(
            summary().plain(),
            "rivera.ics: 1 event imported (0 busy times in the import window): none of its events fall in the window for Dr. Rivera, \
             1 skipped: line 37: The event's BEGIN and END lines do not match"
        );
        let csv = FileSummary { file: "s.csv".into(), provider: None, events: 0, slots: 1, skipped: vec![], outside_window: 1, ..summary() };
        assert_eq!(csv.plain(), "s.csv: 1 open slot imported, 1 row outside the import window");
    }

    #[test]
    fn read_errors_are_in_plain_words() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("x.db"), &crate::store::key::DbKey::Raw([2; 32])).unwrap();
        let now = "2026-03-01T00:00:00Z".parse().unwrap();
        let win = Interval::new(now, now + chrono::Duration::days(1)).unwrap();
        let err = import_path(&mut store, &dir.path().join("nonexist.ics"), "nonexist.ics", &ImportRequest::default(), win, now).unwrap_err();
        assert_eq!(err.to_string(), "could not read nonexist.ics: there is no such file");
    }
}
