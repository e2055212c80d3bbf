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

/// Removes the demo practice (providers flagged demo, with their feeds); returns how many providers went.
///
/// # Errors
/// [`StoreError`].
pub fn remove(store: &mut Store, now: DateTime<Utc>) -> Result<usize, StoreError> {
    store.remove_demo(now)
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
            let added = store.add_provider(&p.name, tz, &hours, p.slot_minutes, now)?;
            store.mark_demo(added.id)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::key::DbKey;

    #[test]
    fn seeds_three_flagged_providers_idempotently_and_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("d.db"), &DbKey::Raw([1; 32])).unwrap();
        store.add_provider("Dr. Real", chrono_tz::UTC, &WorkingHours::default_week(), 30, "2026-03-02T12:00:00Z".parse().unwrap()).unwrap();
        let now = "2026-03-04T12:00:00Z".parse().unwrap();
        let first = seed(&mut store, now).unwrap();
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|s| s.skipped.is_empty() && s.instances > 0), "{first:?}");
        let again = seed(&mut store, now).unwrap();
        assert_eq!(again.iter().map(|s| s.removed).sum::<usize>(), 0);
        let demo: Vec<String> = store.providers().unwrap().into_iter().filter(|p| p.demo).map(|p| p.name).collect();
        assert_eq!(demo, ["Dr. Ana Rivera (Demo)", "Dr. Mei Chen (Demo)", "Dr. Sam Okafor (Demo)"]);
        // Wednesday 2026-03-04: Rivera (New York, 08:00-16:00 EST, 30 min) has 16 cells;
        // huddle 08:00-08:30, lunch 12:00-13:00 and visits 14:00-15:00 block 5.
        let rivera = store.provider("Dr. Ana Rivera (Demo)").unwrap().unwrap();
        let day = Interval::new("2026-03-04T05:00:00Z".parse().unwrap(), "2026-03-05T05:00:00Z".parse().unwrap()).unwrap();
        let free = crate::availability::slots(&store, Some(&rivera), day, Some(crate::model::SlotStatus::Free)).unwrap();
        assert_eq!(free.len(), 11);
        assert_eq!(remove(&mut store, now).unwrap(), 3);
        let left: Vec<String> = store.providers().unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(left, ["Dr. Real"]);
        assert!(store.sources().unwrap().is_empty());
        assert!(store.busy(None, day).unwrap().is_empty());
    }
}
