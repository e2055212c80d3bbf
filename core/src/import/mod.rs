//! File importers: iCalendar (.ics) busy time and spreadsheet (.csv) open slots.
//!
//! The parsers here are pure (bytes in, domain values out, no I/O, no store);
//! [`crate::store`] writes their results in one transaction per file.

pub mod csv;
pub mod file;
pub mod ics;

use serde::Serialize;

/// One item of a file that could not be read and was left out, reported to
/// staff and in the CLI's JSON summary as `{"line","uid","reason"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// 1-based line number in the original file where the item (or the bad
    /// property) starts, when known.
    pub line: Option<usize>,
    /// The calendar event's UID, when the item is a calendar event that has one.
    pub uid: Option<String>,
    /// Why, in one plain sentence, naming the property or column.
    pub reason: String,
}
