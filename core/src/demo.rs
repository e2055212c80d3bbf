//! The demo practice: three providers in three US zones with synthetic
//! weekly calendars, embedded from `fixtures/demo/` so the app and the CLI can
//! seed it without any account or file. Every demo provider's name ends in
//! "(Demo)" and every demo feed's source name starts with `demo-`.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::import::file::{import_bytes, FileSummary, ImportError, ImportRequest};
use crate::model::WorkingHours;
use crate::store::{Store, StoreError};
use crate::time::{parse_iana, Interval};

/// `fixtures/demo/practice.json`.
const PRACTICE: &str = include_str!("../../fixtures/demo/practice.json");

/// The demo calendars by file name.
const CALENDARS: &[(&str, &str)] = &[
    ("rivera.ics", include_str!("../../fixtures/demo/rivera.ics")),
    ("okafor.ics", include_str!("../../fixtures/demo/okafor.ics")),
    ("chen.ics", include_str!("../../fixtures/demo/chen.ics")),
];

#[derive(Deserialize)]
struct Practice {
    providers: Vec<DemoProvider>,
}

#[derive(Deserialize)]
struct DemoProvider {
    name: String,
    tz: String,
    hours: String,
    slot_minutes: u32,
    calendar: String,
}

/// Why the demo could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The embedded practice description is malformed (a build defect).
    #[error("the built-in demo practice is damaged: {0}")]
    Embedded(String),
    /// Writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Importing a demo calendar failed.
    #[error(transparent)]
    Import(#[from] ImportError),
}

/// Seeds (or refreshes) the demo practice: creates the three providers with
/// their hours when missing and imports their calendars over
/// `[now − 7 days, now + 90 days)`. Idempotent.
///
/// # Errors
/// [`DemoError`].
pub fn seed(store: &mut Store, now: DateTime<Utc>) -> Result<Vec<FileSummary>, DemoError> {
    let practice: Practice = serde_json::from_str(PRACTICE).map_err(|e| DemoError::Embedded(e.to_string()))?;
    let window = Interval::new(now - Duration::days(7), now + Duration::days(90)).ok_or_else(|| DemoError::Embedded("window".into()))?;
    let mut out = Vec::new();
    for p in practice.providers {
        let tz = parse_iana(&p.tz).ok_or_else(|| DemoError::Embedded(format!("zone {}", p.tz)))?;
        if store.provider(&p.name)?.is_none() {
            let hours = WorkingHours::parse(&p.hours).map_err(|e| DemoError::Embedded(e.to_string()))?;
            store.add_provider(&p.name, tz, &hours, p.slot_minutes, now)?;
        }
        let text = CALENDARS
            .iter()
            .find(|(n, _)| *n == p.calendar)
            .map(|(_, t)| *t)
            .ok_or_else(|| DemoError::Embedded(format!("calendar {}", p.calendar)))?;
        let stem = format!("demo-{}", p.calendar.trim_end_matches(".ics"));
        let req = ImportRequest { provider: Some(p.name.clone()), tz: Some(tz), source: None, date_order: None };
        out.push(import_bytes(store, text.as_bytes(), &p.calendar, &stem, &req, Some(true), window, now)?);
    }
    Ok(out)
}
