//! Reading a waitlist spreadsheet (.csv, read with the `csv` crate).
//!
//! The first line names the columns (any order, any case; surrounding spaces ignored):
//!
//! | column | required | form |
//! | --- | --- | --- |
//! | `name` | yes | the patient's display name |
//! | `tz` | yes | IANA zone of the patient, e.g. `America/New_York` |
//! | `phone`, `email` | no | as given |
//! | `patient_ids` | no | `integration=patient id` pairs separated by `;`, e.g. `Main St Epic=E1234; athena=42` |
//! | `visit_type` | no | the wanted visit / service type; empty or `any` = any |
//! | `provider` | no | provider display name; empty or `any` = any |
//! | `locations` | no | location names separated by `;`; empty or `any` = any |
//! | `duration_minutes` | no | minutes the visit needs (a whole number ≥ 1) |
//! | `priority` | no | `routine` (default), `soon` or `urgent` |
//! | `added` | no | when the patient was put on the list, RFC 3339 (`2026-10-21T08:15:00Z`); default: the import time |
//! | `blocked_weekdays` | no | e.g. `Sat;Sun` (patient-local) |
//! | `blocked_dates` | no | e.g. `2026-12-24;2026-12-31` (patient-local dates) |
//! | `preferred_times` | no | e.g. `08:00-12:00;16:00-18:00` (patient-local; `24:00` ends a day) |
//! | `min_notice_hours` | no | whole hours (default 0) |
//! | `latest_date` | no | last acceptable date, `YYYY-MM-DD` (patient-local) |
//!
//! Any unreadable row refuses the whole file: the error names the line and the column
//! (never the value of a name, phone, e-mail or patient id) and nothing is written.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::model::{is_any, parse_date, parse_dates, parse_names, parse_source_ids, parse_weekdays, parse_windows, Patient, Priority};
use super::FillError;
use crate::store::Store;
use crate::time::parse_iana;

/// Every column name the importer knows, in documentation order.
pub const COLUMNS: [&str; 16] = [
    "name",
    "tz",
    "phone",
    "email",
    "patient_ids",
    "visit_type",
    "provider",
    "locations",
    "duration_minutes",
    "priority",
    "added",
    "blocked_weekdays",
    "blocked_dates",
    "preferred_times",
    "min_notice_hours",
    "latest_date",
];

/// Reads the waitlist rows of a .csv text. `file` names the file in errors; `now`
/// is the date added of rows without an `added` column value.
///
/// # Errors
/// [`FillError::CsvRow`] naming the first bad line and column; [`FillError::CsvFile`]
/// for a file that is not a readable spreadsheet (missing required columns, unknown columns).
pub fn parse_waitlist_csv(data: &[u8], file: &str, now: DateTime<Utc>) -> Result<Vec<Patient>, FillError> {
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(data);
    // A cell may hold patient details: errors name the line and column, never the value.
    let row_err = |line: u64, field: &str, problem: String| FillError::CsvRow { file: file.to_string(), line, field: field.to_string(), problem: without_value(&problem) };
    let headers = rdr.headers().map_err(|e| FillError::CsvFile { file: file.to_string(), problem: csv_problem(&e) })?.clone();
    let mut index = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if !COLUMNS.contains(&name.as_str()) {
            return Err(row_err(1, h, format!("unknown column; the columns are {}", COLUMNS.join(", "))));
        }
        if index.insert(name, i).is_some() {
            return Err(row_err(1, h, "this column is named twice".into()));
        }
    }
    for required in ["name", "tz"] {
        if !index.contains_key(required) {
            return Err(FillError::CsvFile { file: file.to_string(), problem: format!("the first line has no '{required}' column") });
        }
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| match e.position() {
            Some(pos) => row_err(pos.line(), "", csv_problem(&e)),
            None => FillError::CsvFile { file: file.to_string(), problem: csv_problem(&e) },
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let get = |col: &str| index.get(col).and_then(|&i| rec.get(i)).unwrap_or("").trim();
        let fail = |col: &str, problem: String| row_err(line, col, problem);
        let tz = parse_iana(get("tz"))
            .ok_or_else(|| fail("tz", format!("'{}' is not a time zone; use an IANA name such as America/New_York", get("tz"))))?;
        let added = match get("added") {
            "" => now,
            s => DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| fail("added", format!("'{s}' is not an RFC 3339 time such as 2026-10-21T08:15:00Z")))?,
        };
        let mut p = Patient::new(get("name"), tz, added);
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        p.phone = opt(get("phone"));
        p.email = opt(get("email"));
        p.source_ids = parse_source_ids(get("patient_ids")).map_err(|e| fail("patient_ids", e))?;
        p.wants.service_type = Some(get("visit_type")).filter(|s| !is_any(s)).map(str::to_string);
        p.wants.provider = Some(get("provider")).filter(|s| !is_any(s)).map(str::to_string);
        p.wants.locations = parse_names(get("locations"));
        p.wants.duration_minutes = match get("duration_minutes") {
            "" => None,
            s => Some(s.parse::<u32>().ok().filter(|m| *m > 0).ok_or_else(|| fail("duration_minutes", format!("'{s}' is not a whole number of minutes ≥ 1")))?),
        };
        p.priority = get("priority").parse::<Priority>().map_err(|e| fail("priority", e))?;
        p.prefs.blocked_weekdays = parse_weekdays(get("blocked_weekdays")).map_err(|e| fail("blocked_weekdays", e))?;
        p.prefs.blocked_dates = parse_dates(get("blocked_dates")).map_err(|e| fail("blocked_dates", e))?;
        p.prefs.preferred_times = parse_windows(get("preferred_times")).map_err(|e| fail("preferred_times", e))?;
        p.prefs.min_notice_hours = match get("min_notice_hours") {
            "" => 0,
            s => s.parse::<u32>().map_err(|_| fail("min_notice_hours", format!("'{s}' is not a whole number of hours")))?,
        };
        p.prefs.latest_date = match get("latest_date") {
            "" => None,
            s => Some(parse_date(s).map_err(|e| fail("latest_date", e))?),
        };
        p.validate().map_err(|(field, problem)| fail(field, problem))?;
        out.push(p);
    }
    Ok(out)
}

/// `problem` without the cell's value it starts with (`'X' is not a time zone` → `the value is not
/// a time zone`).
fn without_value(problem: &str) -> String {
    match problem.strip_prefix('\'').and_then(|rest| rest.find('\'').map(|end| &rest[end + 1..])) {
        Some(rest) => format!("the value{rest}"),
        None => problem.to_string(),
    }
}

/// The csv crate's error in plain words, without the record's content.
fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("this line has {len} fields but the first line names {expected_len} columns")
        }
        csv::ErrorKind::Utf8 { .. } => "this line is not UTF-8 text; save the spreadsheet as CSV UTF-8".into(),
        csv::ErrorKind::Io(io) => format!("could not read the file: {io}"),
        _ => "this line cannot be read as CSV".into(),
    }
}

/// Reads `path` with [`parse_waitlist_csv`] and adds every row to the waitlist in one
/// transaction ([`Store::import_waitlist`]); returns the new entries.
///
/// # Errors
/// [`FillError::CsvFile`] when the file cannot be read, the errors of
/// [`parse_waitlist_csv`] (nothing written), store errors (nothing written).
pub fn import_waitlist_csv(store: &mut Store, path: &Path, now: DateTime<Utc>) -> Result<Vec<super::WaitlistEntry>, FillError> {
    let file = path.display().to_string();
    let data = std::fs::read(path).map_err(|e| FillError::CsvFile { file: file.clone(), problem: format!("could not read the file: {e}") })?;
    let patients = parse_waitlist_csv(&data, &file, now)?;
    Ok(store.import_waitlist(&patients, now)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::key::DbKey;
    use chrono::Weekday;

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    const GOOD: &str = "\
Name, TZ ,phone,email,patient_ids,visit_type,provider,locations,duration_minutes,priority,added,blocked_weekdays,blocked_dates,preferred_times,min_notice_hours,latest_date
Ana Example,Europe/Berlin,+49 30 1234567,ana@example.org,Main St Epic=E1234; athena=42,Follow-up,Dr. Rivera,North;South,40,soon,2026-10-21T08:15:00Z,Sat;Sun,2026-12-24,08:00-12:00,36,2027-01-31
Ben Sample,America/New_York,,,,any,,any,,,,,,,,
";

    #[test]
    fn reads_every_documented_column() {
        let rows = parse_waitlist_csv(GOOD.as_bytes(), "w.csv", now()).unwrap();
        assert_eq!(rows.len(), 2);
        let a = &rows[0];
        assert_eq!(a.display_name, "Ana Example");
        assert_eq!(a.tz, chrono_tz::Europe::Berlin);
        assert_eq!(a.source_ids.get("Main St Epic").map(String::as_str), Some("E1234"));
        assert_eq!(a.wants.locations, vec!["North".to_string(), "South".to_string()]);
        assert_eq!(a.wants.duration_minutes, Some(40));
        assert_eq!(a.priority, Priority::Soon);
        assert_eq!(a.added_at, "2026-10-21T08:15:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(a.prefs.blocked_weekdays, vec![Weekday::Sat, Weekday::Sun]);
        assert_eq!(a.prefs.preferred_times[0].spec(), "08:00-12:00");
        assert_eq!(a.prefs.min_notice_hours, 36);
        assert_eq!(a.prefs.latest_date.unwrap().to_string(), "2027-01-31");
        let b = &rows[1];
        assert_eq!((b.wants.service_type.as_ref(), b.wants.provider.as_ref(), b.wants.locations.len()), (None, None, 0));
        assert_eq!((b.priority, b.added_at, b.phone.as_ref()), (Priority::Routine, now(), None));
    }

    #[test]
    fn a_bad_row_names_line_and_column_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("w.db"), &DbKey::Raw([7; 32])).unwrap();
        let path = dir.path().join("waitlist.csv");
        // Line 4 (the third patient) has an unknown zone.
        let text = format!("{GOOD}Cara Secret,Mars/Olympus,555-0100,,,,,,,urgent,,,,,,\n");
        std::fs::write(&path, &text).unwrap();
        let err = import_waitlist_csv(&mut store, &path, now()).unwrap_err();
        match &err {
            FillError::CsvRow { line, field, .. } => assert_eq!((*line, field.as_str()), (4, "tz")),
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("line 4") && msg.contains("'tz'") && msg.contains("the value is not a time zone"), "{msg}");
        assert!(!msg.contains("Mars/Olympus"), "the cell's value is not repeated: {msg}");
        assert!(!msg.contains("Cara") && !msg.contains("555-0100"), "no patient detail in errors: {msg}");
        assert!(store.waitlist().unwrap().is_empty(), "the good rows before it are not written either");
        // Other bad fields, each named.
        let cases = [
            ("Dee,UTC,,,,,,,0,,,,,,,", "duration_minutes"),
            ("Dee,UTC,,,,,,,,asap,,,,,,", "priority"),
            ("Dee,UTC,,,,,,,,,yesterday,,,,,", "added"),
            ("Dee,UTC,,,,,,,,,,Funday,,,,", "blocked_weekdays"),
            ("Dee,UTC,,,,,,,,,,,24/12/2026,,,", "blocked_dates"),
            ("Dee,UTC,,,,,,,,,,,,12:00-08:00,,", "preferred_times"),
            ("Dee,UTC,,,,,,,,,,,,,-3,", "min_notice_hours"),
            ("Dee,UTC,,,,,,,,,,,,,,2027-02-30", "latest_date"),
            ("Dee,UTC,,,E1,,,,,,,,,,,", "patient_ids"),
            (",UTC,,,,,,,,,,,,,,", "name"),
        ];
        let header = GOOD.lines().next().unwrap();
        for (row, field) in cases {
            let err = parse_waitlist_csv(format!("{header}\n{row}\n").as_bytes(), "w.csv", now()).unwrap_err();
            match err {
                FillError::CsvRow { line, field: f, .. } => assert_eq!((line, f.as_str()), (2, field), "{row}"),
                other => panic!("{row}: unexpected {other:?}"),
            }
        }
        // A row with a missing field, an unknown column, a missing required column.
        let short = parse_waitlist_csv(format!("{header}\nDee,UTC\n").as_bytes(), "w.csv", now()).unwrap_err();
        assert!(matches!(short, FillError::CsvRow { line: 2, .. }), "{short:?}");
        assert!(short.to_string().contains("2 fields"), "{short}");
        let unknown = parse_waitlist_csv(b"name,tz,ssn\nDee,UTC,1\n", "w.csv", now()).unwrap_err();
        assert!(matches!(&unknown, FillError::CsvRow { line: 1, field, .. } if field == "ssn"), "{unknown:?}");
        let missing = parse_waitlist_csv(b"name,phone\nDee,1\n", "w.csv", now()).unwrap_err();
        assert!(missing.to_string().contains("no 'tz' column"), "{missing}");
        // The good file imports in full.
        std::fs::write(&path, GOOD).unwrap();
        let added = import_waitlist_csv(&mut store, &path, now()).unwrap();
        assert_eq!(added.len(), 2);
        assert_eq!(store.waitlist().unwrap().len(), 2);
    }
}
