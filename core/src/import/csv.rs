//! Spreadsheet (.csv) importer: a schedule whose rows are published **open
//! slots** (one row = one slot of one provider).
//!
//! [`parse_csv`] is pure: bytes in, [`CsvParse`] out. It never touches the
//! store and never applies a time zone: a [`CsvSlotRow`] normally carries
//! *local* wall-clock times, which the caller turns into instants with
//! [`crate::time::Zone::to_utc`] (in the row's own zone when the file has a
//! time-zone column, else the provider's or practice's zone). A row whose
//! start or end was written as an instant, with `Z` or a UTC offset
//! (`2026-03-05T09:00:00Z`, `2026-03-05T09:00:00-08:00`), carries that offset
//! in [`CsvSlotRow::utc_offset`] instead, and [`CsvSlotRow::utc_span`] gives
//! its instants directly; no zone applies to it.
//!
//! What the reader accepts:
//!
//! * **Encoding.** UTF-8, with or without a byte-order mark; UTF-16 LE or BE
//!   *with* a byte-order mark (Excel's "Unicode text") is transcoded. Anything
//!   else (invalid UTF-8, NUL bytes, an Excel workbook) is refused as a whole
//!   with a [`CsvError`] that names the line.
//! * **Delimiter.** `,` `;` or tab, sniffed from the first records with the
//!   `csv` crate itself (so quotes are honoured): the candidate whose first row
//!   has the most recognised column names wins, then the one whose data rows
//!   most often have the header's field count, then the one with more fields.
//!   An Excel `sep=;` first line is obeyed and skipped.
//! * **Header.** The first non-blank row must be a header. Names are matched
//!   case-, space- and punctuation-insensitively against synonyms (see
//!   [`parse_csv`]); unknown columns are ignored.
//! * **Dates.** ISO `2026-04-03` / `2026/04/03`; local `3/4/2026`, `3.4.26`,
//!   `03-04-2026` (day/month order decided once per file, see [`DateOrder`]);
//!   month names (`3 Apr 2026`, `Apr 3, 2026`, `Fri 3-Apr-2026`); Excel serial
//!   day numbers (20000..80000, days since 1899-12-30).
//! * **Times.** `9:00`, `09:00`, `09:00:00`, `9:00 AM`, `9:00am`, `9am`,
//!   `12 PM`, `0900`/`900` (3–4 digits, HHMM), `9h30`, Excel day fractions
//!   (`0.375` = 09:00, `1` = 24:00), and `24:00` as an end time (midnight at
//!   the end of the day). Dotted times like `9.30` are **not** accepted (they
//!   cannot be told apart from Excel fractions).
//! * **Instants.** An ISO date and time with `Z` or a UTC offset, read with
//!   chrono's parsers: RFC 3339 (`2026-03-05T09:00:00Z`,
//!   `2026-03-05 09:00:00-08:00`), `2026-03-05T09:00Z`, `2026-03-05T09:00-0800`,
//!   `2026-03-05 09:00 +01:00`, `2026-03-05 09:00 UTC` and the compact
//!   `20260305T090000Z`. After a space-separated `HH:MM` a minus offset must be
//!   set apart by a space (`2026-03-05 09:00-10:00` is taken for a range, not
//!   an offset, and is not read).
//! * **Calendars.** A file whose text starts with `BEGIN:VCALENDAR` is refused
//!   with [`CsvError::Calendar`] (an .ics saved under another name).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::import::Skipped;
use crate::model::SlotStatus;
use crate::time::resolve_tzid;

/// Day/month order of local dates written with two small numbers and a year
/// (`03/04/2026`). ISO dates, month names and Excel serial days never depend
/// on it.
///
/// Parsed from `dmy` / `mdy` (case-insensitive, punctuation ignored, so
/// `D/M/Y` works too); displayed as `dmy` / `mdy`, the `--date-order` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    /// Day first: `03/04/2026` is 3 April 2026 (most of the world).
    Dmy,
    /// Month first: `03/04/2026` is March 4, 2026 (United States).
    Mdy,
}

impl DateOrder {
    /// The option value: `dmy` or `mdy`.
    pub fn as_str(self) -> &'static str {
        match self {
            DateOrder::Dmy => "dmy",
            DateOrder::Mdy => "mdy",
        }
    }

    /// Human wording used in messages: `day/month/year` or `month/day/year`.
    fn wording(self) -> &'static str {
        match self {
            DateOrder::Dmy => "day/month/year",
            DateOrder::Mdy => "month/day/year",
        }
    }
}

impl fmt::Display for DateOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a `--date-order` value that is neither `dmy` nor `mdy`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a date order: use dmy (03/04/2026 is 3 April) or mdy (03/04/2026 is March 4)")]
pub struct UnknownDateOrder(pub String);

impl FromStr for DateOrder {
    type Err = UnknownDateOrder;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        match norm.as_str() {
            "dmy" => Ok(DateOrder::Dmy),
            "mdy" => Ok(DateOrder::Mdy),
            _ => Err(UnknownDateOrder(s.to_string())),
        }
    }
}

/// Caller's choices for one import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Day/month order for local dates (from `--date-order`). `None`: infer it
    /// once for the whole file; an explicit value overrides inference and rows
    /// whose date is invalid in that order are skipped.
    pub date_order: Option<DateOrder>,
    /// Provider name for every row when the file has **no** provider column
    /// (from `--provider`). Ignored when the file has one; blank counts as none.
    pub default_provider: Option<String>,
}

/// One open slot read from one row of the spreadsheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSlotRow {
    /// 1-based physical line in the file where the row (record) starts; the
    /// header is on line 1 unless blank lines or a `sep=` line precede it.
    pub line: usize,
    /// Provider name as written (trimmed), or [`CsvOptions::default_provider`].
    pub provider: String,
    /// Location name (trimmed) when the file has a location column and the cell is not blank.
    pub location: Option<String>,
    /// Slot start, LOCAL wall-clock time (the zone is applied by the caller);
    /// when [`Self::utc_offset`] is set, the wall-clock time at that offset.
    pub start: NaiveDateTime,
    /// Slot end (exclusive), LOCAL wall-clock time (or the wall-clock time at
    /// [`Self::utc_offset`] when set); always after `start` and at most 24
    /// hours later. A time-only end earlier than the start is on the next day;
    /// `24:00` is midnight at the end of the start's day.
    pub end: NaiveDateTime,
    /// From the status column (FHIR codes or open/available, booked,
    /// blocked/unavailable, tentative/hold); [`SlotStatus::Free`] when there is
    /// no status column or the cell is blank.
    pub status: SlotStatus,
    /// Visit/service type (trimmed) when there is such a column and the cell is not blank.
    pub service_type: Option<String>,
    /// The row's zone from a time-zone column (IANA or Windows name); `None`
    /// when there is no such column or the cell is blank. Not used for the
    /// row's times when [`Self::utc_offset`] is set.
    pub tz: Option<Tz>,
    /// The UTC offset the row's start was written with (`Z` is +00:00), or its
    /// end's when only the end has one; `None` when both are local times.
    /// When set, `start` and `end` are wall-clock times at this offset, i.e.
    /// fixed instants (see [`Self::utc_span`]): the caller must not read them
    /// in `tz` or the provider's zone. The other cell of the row, if written
    /// without an offset (a bare time, a date and time, or a duration), is
    /// read at this same offset; an end with a different offset is converted
    /// to it.
    pub utc_offset: Option<FixedOffset>,
}

impl CsvSlotRow {
    /// The slot's `[start, end)` instants when the file wrote them with a UTC
    /// offset ([`Self::utc_offset`]); `None` for local wall-clock times, which
    /// the caller converts with [`crate::time::Zone::to_utc`].
    pub fn utc_span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let offset = self.utc_offset?;
        let at = |t: &NaiveDateTime| offset.from_local_datetime(t).single().map(|t| t.with_timezone(&Utc));
        Some((at(&self.start)?, at(&self.end)?))
    }
}

/// Result of reading one spreadsheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvParse {
    /// The slots that could be read, in file order.
    pub rows: Vec<CsvSlotRow>,
    /// Rows that were left out, each with its line and a one-sentence reason
    /// naming the column and value (`uid` is always `None`). The reason never
    /// names the line (callers prefix it), never ends with a period (callers
    /// may append to it) and is on one line, e.g.
    /// `column 'start': '25:99' is not a time`.
    pub skipped: Vec<Skipped>,
    /// The day/month order used for local dates: the caller's
    /// [`CsvOptions::date_order`] if given, else the inferred one; `None` when
    /// the file has no local dates whose reading depends on it.
    pub date_order: Option<DateOrder>,
    /// The field delimiter used: `b','`, `b';'`, `b'\t'` (or the character of a `sep=` line).
    pub delimiter: u8,
}

/// Why a whole file was refused (nothing is imported). `Display` is one plain
/// sentence for front-desk staff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// No header and no rows (only blank lines, or nothing at all).
    #[error("The file is empty: there is no header row and no slots to import.")]
    Empty,
    /// An Excel workbook (.xlsx or .xls) instead of a CSV text file.
    #[error("This is an Excel workbook, not a CSV file: in Excel choose File > Save As > 'CSV UTF-8 (Comma delimited)' and import that file instead.")]
    Workbook,
    /// An iCalendar file (text starting with `BEGIN:VCALENDAR`) saved as .csv or .txt.
    #[error(
        "This file is a calendar (.ics), not a spreadsheet: rename it to end in .ics and import it with --provider."
    )]
    Calendar,
    /// The bytes are not UTF-8 text; `line` is the 1-based line of the first bad byte.
    #[error("Line {line} of the file is not UTF-8 text: in Excel choose File > Save As > 'CSV UTF-8 (Comma delimited)' (or save as UTF-8 in your editor) and import again.")]
    NotUtf8 {
        /// 1-based line of the first invalid byte.
        line: usize,
    },
    /// The file starts with a UTF-16 byte-order mark but is not valid UTF-16.
    #[error("The file is marked as UTF-16 (Excel 'Unicode text') but line {line} is not valid UTF-16 text: save it as 'CSV UTF-8 (Comma delimited)' and import again.")]
    NotUtf16 {
        /// 1-based line where decoding failed.
        line: usize,
    },
    /// The text contains NUL characters (a binary file, or UTF-16 without a byte-order mark).
    #[error("Line {line} of the file contains NUL characters, so it is not a plain-text spreadsheet: save it as 'CSV UTF-8 (Comma delimited)' and import again.")]
    NulBytes {
        /// 1-based line of the first NUL.
        line: usize,
    },
    /// The header row could not be split into two or more columns by `,` `;` or tab.
    #[error(
        "The first row has only one column ('{header}'): the columns must be separated by commas, semicolons or tabs."
    )]
    OneColumn {
        /// The first row as found.
        header: String,
    },
    /// The first row contains no recognised column name, so it is data, not a header.
    #[error("The first row (line {line}) is not a header: it should name the columns, such as provider, date, start and end, but it holds {found}; add a header row and import again.")]
    NoHeader {
        /// Physical line of the first row.
        line: usize,
        /// The first row's cells, quoted and comma-separated, e.g. `'P-001', '03/04/2026'`.
        found: String,
    },
    /// Required columns are missing. Each entry of `missing` is one of
    /// `provider`, `date`, `start`, `end` (`end` meaning neither an end nor a
    /// duration column); `found` is the header row as written.
    #[error("{}", missing_sentence(.missing, .found))]
    MissingColumns {
        /// Canonical names of the missing columns.
        missing: Vec<String>,
        /// The header cells as found in the file.
        found: Vec<String>,
    },
    /// Some rows can only be day-first and others only month-first.
    #[error("The dates in column '{column}' mix day/month and month/day order (line {dmy_line}: '{dmy_value}' can only be day first; line {mdy_line}: '{mdy_value}' can only be month first): correct the file, or re-run with --date-order dmy or --date-order mdy to skip the rows that do not fit.")]
    MixedDateOrder {
        /// Header of the column holding the day-first date.
        column: String,
        /// Line of a date that is valid only day first.
        dmy_line: usize,
        /// That date as written.
        dmy_value: String,
        /// Line of a date that is valid only month first.
        mdy_line: usize,
        /// That date as written.
        mdy_value: String,
    },
    /// No row decides the day/month order and the caller gave none.
    #[error("The date order is ambiguous in column '{column}' ({value} on line {line} could be {day_first} or {month_first}): re-run with --date-order dmy or --date-order mdy.")]
    AmbiguousDateOrder {
        /// Header of the column holding the date.
        column: String,
        /// Line of the first ambiguous date.
        line: usize,
        /// The date as written, e.g. `03/04/2026`.
        value: String,
        /// Its day-first reading, e.g. `3 April 2026`.
        day_first: String,
        /// Its month-first reading, e.g. `March 4, 2026`.
        month_first: String,
    },
    /// The CSV reader itself failed (not expected for in-memory text).
    #[error("Line {line} of the file could not be read: {message}.")]
    Read {
        /// Line where reading failed.
        line: usize,
        /// The reader's message.
        message: String,
    },
}

fn missing_sentence(missing: &[String], found: &[String]) -> String {
    let phrases: Vec<String> = missing
        .iter()
        .map(|m| if m == "end" { "no 'end' or 'duration' column".to_string() } else { format!("no '{m}' column") })
        .collect();
    let found = if found.iter().all(|f| f.is_empty()) { "no column names".to_string() } else { found.join(", ") };
    let hint = if missing.iter().any(|m| m == "provider") {
        " (add a provider column, or re-run with --provider NAME for a single-provider file)"
    } else {
        ""
    };
    format!("The spreadsheet has {}: found {found}{hint}.", phrases.join(" and "))
}

// ---------------------------------------------------------------------------
// Header

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Provider,
    Date,
    Start,
    End,
    Duration,
    Location,
    Status,
    Service,
    Tz,
}

/// Synonyms per field, normalised (lower-case ASCII letters and digits only),
/// most specific first: when two columns match one field the earlier synonym wins.
const SYNONYMS: &[(Field, &[&str])] = &[
    (
        Field::Provider,
        &[
            "provider",
            "providername",
            "doctor",
            "doctorname",
            "clinician",
            "clinicianname",
            "practitioner",
            "practitionername",
            "physician",
            "physicianname",
            "dr",
            // Scheduling-system exports (Cerner "Resource", others "Schedule", "Staff").
            "resource",
            "resourcename",
            "staff",
            "staffname",
            "schedule",
            "schedulename",
        ],
    ),
    (Field::Date, &["date", "slotdate", "startdate", "appointmentdate", "apptdate", "day"]),
    (
        Field::Start,
        &[
            "start",
            "starttime",
            "startdatetime",
            "startdateandtime",
            "begindatetime",
            "begindateandtime",
            "slotstart",
            "slotstarttime",
            "appttime",
            "appointmenttime",
            "slottime",
            "apptstart",
            "appointmentstart",
            "apptstarttime",
            "appointmentstarttime",
            "apptdatetime",
            "appointmentdatetime",
            "begin",
            "begins",
            "begintime",
            "starts",
            "startat",
            "from",
            "fromtime",
            "timefrom",
            "datetime",
            "dateandtime",
            "time",
        ],
    ),
    (
        Field::End,
        &[
            "end",
            "endtime",
            "enddatetime",
            "enddateandtime",
            "slotend",
            "slotendtime",
            "apptend",
            "appointmentend",
            "apptendtime",
            "appointmentendtime",
            "ends",
            "endat",
            "to",
            "totime",
            "timeto",
            "until",
            "finish",
            "finishtime",
            "finishes",
        ],
    ),
    (
        Field::Duration,
        &[
            "duration",
            "durationmin",
            "durationmins",
            "durationminutes",
            "apptlength",
            "appointmentlength",
            "apptduration",
            "appointmentduration",
            "slotduration",
            "slotlength",
            "length",
            "lengthmin",
            "lengthminutes",
            "minutes",
            "mins",
        ],
    ),
    (
        Field::Location,
        &[
            "location",
            "locationname",
            "site",
            "sitename",
            "clinic",
            "clinicname",
            "office",
            "facility",
            "facilityname",
            "department",
            "departmentname",
            "dept",
        ],
    ),
    (Field::Status, &["status", "slotstatus", "apptstatus", "appointmentstatus"]),
    (
        Field::Service,
        &["service", "servicetype", "visittype", "appointmenttype", "appttype", "slottype", "type", "reason"],
    ),
    (Field::Tz, &["timezone", "tz", "tzid", "timezoneid", "zone"]),
];

fn normalise_name(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The name without bracketed parts: `Duration (min)` → `Duration `.
fn strip_brackets(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0u32;
    for c in s.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// (field, synonym rank) for one header cell.
fn recognise(header: &str) -> Option<(Field, usize)> {
    let lookup = |norm: &str| {
        SYNONYMS.iter().find_map(|(field, names)| names.iter().position(|n| *n == norm).map(|rank| (*field, rank)))
    };
    let norm = normalise_name(header);
    if norm.is_empty() {
        return None;
    }
    lookup(&norm).or_else(|| {
        let stripped = normalise_name(&strip_brackets(header));
        (!stripped.is_empty() && stripped != norm).then(|| lookup(&stripped)).flatten()
    })
}

#[derive(Debug, Default)]
struct Columns {
    names: Vec<String>,
    provider: Option<usize>,
    date: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    duration: Option<usize>,
    location: Option<usize>,
    status: Option<usize>,
    service: Option<usize>,
    tz: Option<usize>,
}

impl Columns {
    fn from_header(cells: &[String]) -> (Self, usize) {
        let mut cols = Columns { names: cells.to_vec(), ..Default::default() };
        let mut best: Vec<(Field, usize, usize)> = Vec::new(); // field, rank, column
        let mut recognised = 0;
        for (i, cell) in cells.iter().enumerate() {
            if let Some((field, rank)) = recognise(cell) {
                recognised += 1;
                match best.iter_mut().find(|(f, _, _)| *f == field) {
                    Some(entry) if rank < entry.1 => *entry = (field, rank, i),
                    Some(_) => {}
                    None => best.push((field, rank, i)),
                }
            }
        }
        for (field, _, i) in best {
            let slot = match field {
                Field::Provider => &mut cols.provider,
                Field::Date => &mut cols.date,
                Field::Start => &mut cols.start,
                Field::End => &mut cols.end,
                Field::Duration => &mut cols.duration,
                Field::Location => &mut cols.location,
                Field::Status => &mut cols.status,
                Field::Service => &mut cols.service,
                Field::Tz => &mut cols.tz,
            };
            *slot = Some(i);
        }
        (cols, recognised)
    }

    /// The column's header as written (on one line), for messages.
    fn name(&self, i: usize) -> String {
        match self.names.get(i).map(|s| shown(s)) {
            Some(n) if !n.is_empty() => n,
            _ => format!("column {}", i + 1),
        }
    }
}

// ---------------------------------------------------------------------------
// Decoding, sniffing and reading records

fn line_at(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count()
}

fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, CsvError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Err(CsvError::Workbook);
    }
    let text: Cow<'_, str> = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        Cow::Owned(decode_utf16(rest, u16::from_le_bytes)?)
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        Cow::Owned(decode_utf16(rest, u16::from_be_bytes)?)
    } else {
        let rest = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        match std::str::from_utf8(rest) {
            Ok(s) => Cow::Borrowed(s),
            Err(e) => return Err(CsvError::NotUtf8 { line: line_at(rest, e.valid_up_to()) }),
        }
    };
    if let Some(pos) = text.find('\0') {
        return Err(CsvError::NulBytes { line: line_at(text.as_bytes(), pos) });
    }
    Ok(text)
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, CsvError> {
    let units: Vec<u16> = bytes.chunks(2).map(|c| unit([c[0], *c.get(1).unwrap_or(&0)])).collect();
    let mut out = String::with_capacity(units.len());
    let mut line = 1;
    for c in char::decode_utf16(units.iter().copied()) {
        match c {
            Ok(c) => {
                if c == '\n' {
                    line += 1;
                }
                out.push(c);
            }
            Err(_) => return Err(CsvError::NotUtf16 { line }),
        }
    }
    if bytes.len() % 2 == 1 {
        return Err(CsvError::NotUtf16 { line });
    }
    Ok(out)
}

/// One record of the file with its physical line; cells trimmed.
#[derive(Debug)]
struct Record {
    line: usize,
    cells: Vec<String>,
}

impl Record {
    fn get(&self, i: usize) -> &str {
        self.cells.get(i).map(String::as_str).unwrap_or("")
    }

    fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.is_empty())
    }
}

/// True when the text is an iCalendar file (`BEGIN:VCALENDAR` first, in any case).
fn is_calendar_text(text: &str) -> bool {
    let head = text.trim_start_matches('\u{feff}').trim_start();
    head.get(..15).is_some_and(|h| h.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
}

/// An Excel `sep=X` first line: the delimiter it names.
fn sep_hint(text: &str) -> Option<u8> {
    let first = text.split('\n').next()?.trim_end_matches('\r');
    let rest = first.strip_prefix("sep=").or_else(|| first.strip_prefix("SEP="))?;
    match rest.as_bytes() {
        [b] if b.is_ascii() && *b != b'"' && !b.is_ascii_alphanumeric() => Some(*b),
        _ => None,
    }
}

/// Reads records with the `csv` crate. Blank records and a leading `sep=`
/// line are dropped; `limit` caps the number of records kept.
fn read_records(text: &str, delimiter: u8, skip_sep_line: bool, limit: usize) -> Result<Vec<Record>, CsvError> {
    let bytes = text.as_bytes();
    let newlines: Vec<usize> = bytes.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i).collect();
    let mut rdr = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(bytes);
    let mut out = Vec::new();
    let mut first = true;
    for result in rdr.records() {
        let rec = result.map_err(|e| CsvError::Read {
            line: e.position().map_or(1, |p| p.line() as usize),
            message: e.to_string(),
        })?;
        let is_first = std::mem::replace(&mut first, false);
        if is_first && skip_sep_line {
            continue;
        }
        // The reader's position is where it started looking for the record,
        // which may be before blank lines it skipped: step over line breaks.
        let mut start = rec.position().map_or(0, |p| p.byte() as usize);
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        let line = 1 + newlines.partition_point(|&p| p < start);
        let record = Record { line, cells: rec.iter().map(|c| c.trim().to_string()).collect() };
        if record.is_blank() {
            continue;
        }
        out.push(record);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Chooses the delimiter among `,` `;` and tab (see the module docs).
fn sniff(text: &str) -> Result<u8, CsvError> {
    const SAMPLE: usize = 50;
    let mut best: Option<((usize, usize, usize), u8)> = None;
    let mut first_row: Option<String> = None;
    for delim in [b',', b';', b'\t'] {
        let sample = read_records(text, delim, false, SAMPLE)?;
        let Some((header, data)) = sample.split_first() else {
            return Err(CsvError::Empty);
        };
        if first_row.is_none() {
            first_row = Some(header.cells.join(&*String::from_utf8_lossy(&[delim])));
        }
        let width = header.cells.len();
        if width < 2 {
            continue;
        }
        let recognised = header.cells.iter().filter(|c| recognise(c).is_some()).count();
        let consistent = data.iter().filter(|r| r.cells.len() == width).count();
        let key = (recognised, consistent, width);
        if best.as_ref().is_none_or(|(k, _)| key > *k) {
            best = Some((key, delim));
        }
    }
    best.map(|(_, d)| d).ok_or_else(|| CsvError::OneColumn { header: first_row.unwrap_or_default() })
}

// ---------------------------------------------------------------------------
// Values

/// A date as written, before the file's day/month order is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawDate {
    /// Unambiguous (ISO, month name, Excel serial).
    Fixed(NaiveDate),
    /// `a/b/y` with both `a` and `b` at most two digits.
    Local { a: u32, b: u32, y: i32 },
}

impl RawDate {
    fn as_dmy(self) -> Option<NaiveDate> {
        match self {
            RawDate::Fixed(d) => Some(d),
            RawDate::Local { a, b, y } => NaiveDate::from_ymd_opt(y, b, a),
        }
    }

    fn as_mdy(self) -> Option<NaiveDate> {
        match self {
            RawDate::Fixed(d) => Some(d),
            RawDate::Local { a, b, y } => NaiveDate::from_ymd_opt(y, a, b),
        }
    }

    /// True for the dates spreadsheets put in front of a bare time (Excel's
    /// day 0, 1899-12-30/31 and 1900-01-01): they carry no real date.
    fn is_placeholder(self) -> bool {
        matches!(self, RawDate::Fixed(d) if d <= NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date"))
    }
}

/// A wall-clock time; `EndOfDay` is `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    At(NaiveTime),
    EndOfDay,
}

/// A start or end cell: a time, a date with a time, or an instant (a date
/// and time written with `Z` or a UTC offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Time(Clock),
    DateTime(RawDate, Clock),
    Instant(DateTime<FixedOffset>),
}

const SERIAL_MIN: f64 = 20_000.0;
const SERIAL_MAX: f64 = 80_000.0;

fn excel_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date")
}

fn is_decimal(s: &str) -> bool {
    let mut dots = 0;
    let mut digits = 0;
    for c in s.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' => dots += 1,
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A fraction of a day (0 ≤ x ≤ 1), rounded to the second.
fn fraction_clock(x: f64) -> Clock {
    let secs = (x * 86_400.0).round() as u32;
    if secs >= 86_400 {
        Clock::EndOfDay
    } else {
        Clock::At(NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).expect("secs < 86400"))
    }
}

fn clock(h: u32, m: u32, s: u32) -> Option<Clock> {
    if h == 24 && m == 0 && s == 0 {
        return Some(Clock::EndOfDay);
    }
    NaiveTime::from_hms_opt(h, m, s).map(Clock::At)
}

/// Parses a time of day (see the module docs for the forms).
fn parse_time(raw: &str) -> Option<Clock> {
    let s = raw.trim().to_ascii_lowercase();
    if s.is_empty() {
        return None;
    }
    if is_decimal(&s) {
        if s.contains('.') || s == "0" || s == "1" {
            let x: f64 = s.parse().ok()?;
            return (0.0..=1.0).contains(&x).then(|| fraction_clock(x));
        }
        if (3..=4).contains(&s.len()) {
            let n: u32 = s.parse().ok()?;
            return (n % 100 < 60).then(|| clock(n / 100, n % 100, 0)).flatten();
        }
        return None;
    }
    let (body, pm) = if let Some(b) = ["a.m.", "a.m", "am"].iter().find_map(|m| s.strip_suffix(m)) {
        (b.trim(), Some(false))
    } else if let Some(b) = ["p.m.", "p.m", "pm"].iter().find_map(|m| s.strip_suffix(m)) {
        (b.trim(), Some(true))
    } else {
        (s.as_str(), None)
    };
    let parts: Vec<&str> = body.split([':', 'h']).collect();
    let hour = parts[0];
    if !all_digits(hour) || hour.len() > 2 {
        return None;
    }
    let minute = parts.get(1).copied();
    let second = parts.get(2).copied();
    if parts.len() > 3 || (parts.len() == 1 && pm.is_none()) || (body.contains('h') && parts.len() != 2) {
        return None;
    }
    let two = |p: &str| (p.len() == 2 && all_digits(p)).then(|| p.parse::<u32>().ok()).flatten();
    let m = match minute {
        Some(p) => two(p)?,
        None => 0,
    };
    let sec = match second {
        // Allow fractional seconds (`09:00:00.000`), truncated.
        Some(p) => {
            let (whole, frac) = p.split_once('.').unwrap_or((p, "0"));
            if !all_digits(frac) {
                return None;
            }
            two(whole)?
        }
        None => 0,
    };
    let mut h: u32 = hour.parse().ok()?;
    match pm {
        Some(is_pm) => {
            if !(1..=12).contains(&h) {
                return None;
            }
            h = match (h, is_pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, true) => h + 12,
                (h, false) => h,
            };
        }
        None if h > 24 => return None,
        None => {}
    }
    clock(h, m, sec)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

fn name_prefix(token: &str, names: &[&str]) -> Option<usize> {
    (token.len() >= 3).then(|| names.iter().position(|n| n.starts_with(token))).flatten()
}

fn year_of(s: &str) -> Option<i32> {
    match s.len() {
        2 => s.parse::<i32>().ok().map(|y| 2000 + y),
        4 => s.parse().ok(),
        _ => None,
    }
}

/// Parses a date (see the module docs). Returns `None` if it is not one,
/// including impossible ISO dates like 2026-02-30.
fn parse_date(raw: &str) -> Option<RawDate> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if is_decimal(s) {
        let x: f64 = s.parse().ok()?;
        if !(SERIAL_MIN..SERIAL_MAX).contains(&x) {
            return None;
        }
        return excel_epoch().checked_add_signed(Duration::days(x.floor() as i64)).map(RawDate::Fixed);
    }
    for sep in ['-', '/', '.'] {
        let parts: Vec<&str> = s.trim_end_matches('.').split(sep).collect();
        if parts.len() == 3 && parts.iter().all(|p| all_digits(p)) {
            let (p0, p1, p2) = (parts[0], parts[1], parts[2]);
            if p0.len() == 4 && p1.len() <= 2 && p2.len() <= 2 {
                let d = NaiveDate::from_ymd_opt(p0.parse().ok()?, p1.parse().ok()?, p2.parse().ok()?)?;
                return Some(RawDate::Fixed(d));
            }
            if p0.len() <= 2 && p1.len() <= 2 {
                return Some(RawDate::Local { a: p0.parse().ok()?, b: p1.parse().ok()?, y: year_of(p2)? });
            }
            return None;
        }
    }
    parse_named_month(s)
}

/// `3 Apr 2026`, `Apr 3, 2026`, `Friday 3rd April 2026`, `03-Apr-26`, `2026 Apr 3`.
fn parse_named_month(s: &str) -> Option<RawDate> {
    let lower = s.to_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '-' | '/' | '.'))
        .filter(|t| !t.is_empty())
        .filter(|t| name_prefix(t, &WEEKDAYS).is_none())
        .collect();
    if tokens.len() != 3 {
        return None;
    }
    let month_pos = tokens.iter().position(|t| t.chars().all(|c| c.is_alphabetic()))?;
    let month = name_prefix(tokens[month_pos], &MONTHS)? as u32 + 1;
    let day_of = |t: &str| {
        let t = ["st", "nd", "rd", "th"].iter().find_map(|x| t.strip_suffix(x)).unwrap_or(t);
        (all_digits(t) && t.len() <= 2).then(|| t.parse::<u32>().ok()).flatten()
    };
    let (day, year) = match month_pos {
        0 => (day_of(tokens[1])?, year_of(tokens[2])?),
        1 if tokens[0].len() == 4 => (day_of(tokens[2])?, year_of(tokens[0])?),
        1 => (day_of(tokens[0])?, year_of(tokens[2])?),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, month, day).map(RawDate::Fixed)
}

/// Parses an ISO date and time written with `Z` or a UTC offset (see the
/// module docs for the forms), with chrono's own parsers.
fn parse_instant(raw: &str) -> Option<DateTime<FixedOffset>> {
    let s = raw.trim();
    // A trailing `UTC` / `GMT` word is the zero offset.
    let upper = s.to_ascii_uppercase();
    let zulu;
    let s = match ["UTC", "GMT"].iter().find_map(|w| upper.strip_suffix(w)) {
        Some(rest) if rest.ends_with(|c: char| c.is_ascii_digit() || c.is_whitespace()) => {
            zulu = format!("{}Z", s[..rest.len()].trim_end());
            zulu.as_str()
        }
        _ => s,
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    const FORMATS: [&str; 4] =
        ["%Y-%m-%dT%H:%M%#z", "%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y%m%dT%H%M%S%#z"];
    if let Some(t) = FORMATS.iter().find_map(|f| DateTime::parse_from_str(s, f).ok()) {
        return Some(t);
    }
    // `2026-03-05 09:00 -08:00`, but not `2026-03-05 09:00-10:00` (a range).
    let time_part = s.split_once(char::is_whitespace).map_or("", |(_, t)| t);
    let glued_minus = time_part
        .char_indices()
        .any(|(i, c)| matches!(c, '-' | '\u{2212}') && time_part[..i].ends_with(|p: char| p.is_ascii_digit()));
    if glued_minus {
        return None;
    }
    DateTime::parse_from_str(s, "%Y-%m-%d %H:%M%#z").ok()
}

/// Parses a start/end cell: a time, a date and time, an Excel serial
/// date-time, or an instant with a UTC offset.
fn parse_cell(raw: &str) -> Option<Cell> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if is_decimal(s) {
        let x: f64 = s.parse().ok()?;
        if (SERIAL_MIN..SERIAL_MAX).contains(&x) {
            let mut days = x.floor() as i64;
            let mut clock = fraction_clock(x - x.floor());
            if clock == Clock::EndOfDay {
                days += 1;
                clock = Clock::At(NaiveTime::MIN);
            }
            let date = excel_epoch().checked_add_signed(Duration::days(days))?;
            return Some(Cell::DateTime(RawDate::Fixed(date), clock));
        }
        return parse_time(s).map(Cell::Time);
    }
    if let Some(t) = parse_time(s) {
        return Some(Cell::Time(t));
    }
    for (i, c) in s.char_indices() {
        if c.is_whitespace() || c == 'T' || c == 't' {
            let left = s[..i].trim().trim_end_matches(',').trim();
            let right = s[i + c.len_utf8()..].trim();
            if left.is_empty() || right.is_empty() {
                continue;
            }
            if let (Some(d), Some(t)) = (parse_date(left), parse_time(right)) {
                return Some(Cell::DateTime(d, t));
            }
        }
    }
    parse_instant(s).map(Cell::Instant)
}

/// A date cell: a date, or a date-time whose time is ignored (an instant's
/// date as written, at its own offset).
fn parse_date_cell(raw: &str) -> Option<RawDate> {
    parse_date(raw).or_else(|| match parse_cell(raw) {
        Some(Cell::DateTime(d, _)) => Some(d),
        Some(Cell::Instant(t)) => Some(RawDate::Fixed(t.date_naive())),
        _ => None,
    })
}

/// Minutes from a duration cell: `30`, `30.0`, `30 min`, `45 minutes`,
/// `1:30` (hours:minutes), `1h`, `1h30`, `1 h 30 min`.
fn parse_duration(raw: &str) -> Option<i64> {
    let s = raw.trim().to_ascii_lowercase();
    let strip_min = |t: &str| -> String {
        let t = t.trim();
        ["minutes", "minute", "mins", "min", "m"].iter().find_map(|x| t.strip_suffix(x)).unwrap_or(t).trim().to_string()
    };
    let whole = |t: &str| -> Option<i64> {
        if !is_decimal(t) {
            return None;
        }
        let x: f64 = t.parse().ok()?;
        (x.fract() == 0.0 && x < 1e6).then_some(x as i64)
    };
    if let Some((h, m)) = s.split_once(':') {
        return (all_digits(h) && m.len() == 2 && all_digits(m)).then(|| Some(whole(h)? * 60 + whole(m)?)).flatten();
    }
    if let Some((h, rest)) = s.split_once('h') {
        let hours = whole(h.trim())?;
        let rest = ["ours", "our", "rs", "r"].iter().find_map(|x| rest.strip_prefix(x)).unwrap_or(rest);
        let rest = strip_min(rest);
        let mins = if rest.is_empty() { 0 } else { whole(&rest)? };
        return Some(hours * 60 + mins);
    }
    whole(&strip_min(&s))
}

fn parse_status(raw: &str) -> Option<SlotStatus> {
    let norm = raw.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    match norm.as_str() {
        "open" | "available" => Some(SlotStatus::Free),
        "booked" => Some(SlotStatus::Busy),
        "blocked" | "unavailable" => Some(SlotStatus::BusyUnavailable),
        "tentative" | "hold" | "on-hold" | "held" => Some(SlotStatus::BusyTentative),
        _ => SlotStatus::from_str(&norm).ok(),
    }
}

// ---------------------------------------------------------------------------
// Day/month order

/// A local-form date seen in the file.
struct LocalSeen {
    line: usize,
    column: String,
    value: String,
    date: RawDate,
}

fn month_name(m: u32) -> String {
    let name = MONTHS[(m - 1) as usize];
    let mut c = name.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

/// Decides the file's day/month order from every local date it holds.
fn infer_order(seen: &[LocalSeen], opts: &CsvOptions) -> Result<Option<DateOrder>, CsvError> {
    if let Some(order) = opts.date_order {
        return Ok(Some(order));
    }
    let dmy_only = seen.iter().find(|s| s.date.as_dmy().is_some() && s.date.as_mdy().is_none());
    let mdy_only = seen.iter().find(|s| s.date.as_mdy().is_some() && s.date.as_dmy().is_none());
    match (dmy_only, mdy_only) {
        (Some(d), Some(m)) => Err(CsvError::MixedDateOrder {
            column: d.column.clone(),
            dmy_line: d.line,
            dmy_value: d.value.clone(),
            mdy_line: m.line,
            mdy_value: m.value.clone(),
        }),
        (Some(_), None) => Ok(Some(DateOrder::Dmy)),
        (None, Some(_)) => Ok(Some(DateOrder::Mdy)),
        (None, None) => {
            // Only dates that read differently in the two orders force a choice.
            let ambiguous = seen.iter().find(|s| match (s.date.as_dmy(), s.date.as_mdy()) {
                (Some(a), Some(b)) => a != b,
                _ => false,
            });
            match ambiguous {
                Some(s) => {
                    let RawDate::Local { a, b, y } = s.date else { unreachable!("fixed dates are never ambiguous") };
                    Err(CsvError::AmbiguousDateOrder {
                        column: s.column.clone(),
                        line: s.line,
                        value: s.value.clone(),
                        day_first: format!("{a} {} {y}", month_name(b)),
                        month_first: format!("{} {b}, {y}", month_name(a)),
                    })
                }
                None => Ok(None),
            }
        }
    }
}

fn resolve(date: RawDate, order: Option<DateOrder>, column: &str, value: &str) -> Result<NaiveDate, String> {
    let got = match order {
        Some(DateOrder::Dmy) => date.as_dmy(),
        Some(DateOrder::Mdy) => date.as_mdy(),
        // No order needed: the two readings agree (or the date is fixed).
        None => date.as_dmy().filter(|d| Some(*d) == date.as_mdy()),
    };
    got.ok_or_else(|| match (date, order) {
        (RawDate::Local { .. }, Some(o)) => {
            format!("column '{column}': '{}' is not a valid {} date", shown(value), o.wording())
        }
        _ => format!("column '{column}': '{}' is not a date", shown(value)),
    })
}

// ---------------------------------------------------------------------------
// The importer

/// Reads a spreadsheet of open slots.
///
/// `bytes` is the whole file. The first non-blank row must be a header; its
/// names are matched case-, space- and punctuation-insensitively (a bracketed
/// suffix like `Duration (min)` is ignored if needed):
///
/// | field | header names (any of) | required |
/// |---|---|---|
/// | provider | provider, provider name, doctor, clinician, practitioner, physician, dr, resource, resource name, staff, schedule | yes, unless `opts.default_provider` |
/// | date | date, slot date, start date, appointment date, appt date, day | yes, unless `start` holds dates |
/// | start | start, start time, start date/time, begin date/time, appt time, appointment time, slot time, begin, begins, from, time, date time, … | yes |
/// | end | end, end time, end date/time, to, until, finish, … | one of end / duration |
/// | duration | duration, appt length, appointment length, length, length (min), minutes, mins (minutes; `1:30` = 90) | one of end / duration |
/// | location | location, location name, site, clinic, office, facility, department | no |
/// | status | status, slot status, appt status, appointment status | no |
/// | service_type | service, service type, visit type, appointment type, appt type, type, reason | no |
/// | tz | time zone, timezone, tz, tzid, zone | no |
///
/// When two columns match one field, the more specific name wins (`date` over
/// `day`, `start` over `appt time` over `time`, `provider` over `resource`),
/// then the leftmost. An end cell wins over a
/// duration cell when both are filled. A start/end cell holding its own date
/// (`2026-04-03 09:00`) uses that date even if there is a date column, except
/// Excel's placeholder day (1899-12-30), which counts as a bare time. A
/// start or end written with `Z` or a UTC offset makes the row an instant
/// (see [`CsvSlotRow::utc_offset`]).
///
/// Day/month order of local dates is decided once per file from the date
/// column and any dates inside start/end cells, unless `opts.date_order` is
/// given (see [`CsvError::MixedDateOrder`] and [`CsvError::AmbiguousDateOrder`]).
///
/// A row that cannot be read is left out and reported in
/// [`CsvParse::skipped`] with its physical line and a reason such as
/// `column 'start': '25:99' is not a time`: blank provider, start, date or
/// end/duration cells, unreadable dates/times/durations/statuses/zones, an end
/// before a dated start, a zero-length slot, or one longer than 24 hours.
/// Rows whose cells are all blank are ignored silently.
///
/// # Errors
/// A [`CsvError`] refuses the whole file: bad encoding, an Excel workbook or
/// an iCalendar file, no rows, one column only, a first row that is not a header, missing
/// required columns, or an unresolvable day/month order.
pub fn parse_csv(bytes: &[u8], opts: &CsvOptions) -> Result<CsvParse, CsvError> {
    let text = decode(bytes)?;
    if is_calendar_text(&text) {
        return Err(CsvError::Calendar);
    }
    let hint = sep_hint(&text);
    let delimiter = match hint {
        Some(d) => d,
        None => sniff(&text)?,
    };
    let records = read_records(&text, delimiter, hint.is_some(), usize::MAX)?;
    let Some((header, data)) = records.split_first() else {
        return Err(CsvError::Empty);
    };
    if header.cells.len() < 2 {
        return Err(CsvError::OneColumn { header: header.cells.join(" ") });
    }
    let (cols, recognised) = Columns::from_header(&header.cells);
    if recognised == 0 {
        let found = header.cells.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ");
        return Err(CsvError::NoHeader { line: header.line, found });
    }

    let default_provider = opts.default_provider.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let mut missing = Vec::new();
    if cols.provider.is_none() && default_provider.is_none() {
        missing.push("provider".to_string());
    }
    if cols.date.is_none() {
        // Without a date column the start column must carry the dates.
        let start_has_dates = cols.start.is_some_and(|i| {
            let named_datetime = normalise_name(&cols.names[i]).contains("datetime")
                || normalise_name(&cols.names[i]).contains("dateandtime");
            named_datetime
                || data.iter().any(|r| match parse_cell(r.get(i)) {
                    Some(Cell::DateTime(d, _)) => !d.is_placeholder(),
                    Some(Cell::Instant(_)) => true,
                    Some(Cell::Time(_)) | None => false,
                })
        });
        if !start_has_dates {
            missing.push("date".to_string());
        }
    }
    if cols.start.is_none() {
        missing.push("start".to_string());
    }
    if cols.end.is_none() && cols.duration.is_none() {
        missing.push("end".to_string());
    }
    if !missing.is_empty() {
        return Err(CsvError::MissingColumns { missing, found: header.cells.clone() });
    }
    let start_col = cols.start.expect("checked above");

    // Every local date in the file decides the one order used for all rows.
    let mut seen = Vec::new();
    for r in data {
        if let Some(i) = cols.date {
            if let Some(d @ RawDate::Local { .. }) = parse_date_cell(r.get(i)) {
                seen.push(LocalSeen { line: r.line, column: cols.name(i), value: r.get(i).to_string(), date: d });
            }
        }
        for i in [Some(start_col), cols.end].into_iter().flatten() {
            if let Some(Cell::DateTime(d @ RawDate::Local { .. }, _)) = parse_cell(r.get(i)) {
                let value = r.get(i).to_string();
                let date_part = value.split_whitespace().next().unwrap_or(&value).to_string();
                seen.push(LocalSeen { line: r.line, column: cols.name(i), value: date_part, date: d });
            }
        }
    }
    let date_order = infer_order(&seen, opts)?;

    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for r in data {
        match read_row(r, &cols, start_col, default_provider, date_order) {
            Ok(row) => rows.push(row),
            Err(reason) => skipped.push(Skipped { line: Some(r.line), uid: None, reason }),
        }
    }
    Ok(CsvParse { rows, skipped, date_order, delimiter })
}

/// One data row → one slot, or the reason it cannot be read.
fn read_row(
    r: &Record,
    cols: &Columns,
    start_col: usize,
    default_provider: Option<&str>,
    order: Option<DateOrder>,
) -> Result<CsvSlotRow, String> {
    let provider = match cols.provider {
        Some(i) if r.get(i).is_empty() => return Err(format!("column '{}' is empty", cols.name(i))),
        Some(i) => r.get(i).to_string(),
        None => default_provider.unwrap_or_default().to_string(),
    };

    // Start.
    let start_name = cols.name(start_col);
    let start_raw = r.get(start_col);
    if start_raw.is_empty() {
        return Err(format!("column '{start_name}' is empty"));
    }
    let start_cell = parse_cell(start_raw).ok_or_else(|| {
        let what = if cols.date.is_some() { "a time" } else { "a date and time" };
        format!("column '{start_name}': '{}' is not {what}", shown(start_raw))
    })?;
    // An instant start fixes the row's offset; its date and time are read as written at that offset.
    let mut offset: Option<FixedOffset> = None;
    let (own_date, start_clock) = match start_cell {
        Cell::Instant(t) => {
            offset = Some(*t.offset());
            (Some(t.date_naive()), Clock::At(t.time()))
        }
        Cell::DateTime(d, t) if !d.is_placeholder() => (Some(resolve(d, order, &start_name, start_raw)?), t),
        Cell::DateTime(_, t) | Cell::Time(t) => (None, t),
    };
    let date = match (own_date, cols.date) {
        (Some(d), _) => d,
        (None, Some(i)) => {
            let (name, raw) = (cols.name(i), r.get(i));
            if raw.is_empty() {
                return Err(format!("column '{name}' is empty"));
            }
            let d = parse_date_cell(raw).ok_or_else(|| format!("column '{name}': '{}' is not a date", shown(raw)))?;
            resolve(d, order, &name, raw)?
        }
        (None, None) => {
            return Err(format!(
                "column '{start_name}': '{}' has no date, and the file has no date column",
                shown(start_raw)
            ))
        }
    };
    let start_time = match start_clock {
        Clock::At(t) => t,
        Clock::EndOfDay => {
            return Err(format!("column '{start_name}': '{}' can only be an end time", shown(start_raw)))
        }
    };
    let start = date.and_time(start_time);
    let next_midnight = |d: NaiveDate| d.succ_opt().unwrap_or(d).and_time(NaiveTime::MIN);

    // End, from the end column or else the duration column.
    let end_cell = cols.end.filter(|&i| !r.get(i).is_empty());
    let duration_cell = cols.duration.filter(|&i| !r.get(i).is_empty());
    let end = if let Some(i) = end_cell {
        let (name, raw) = (cols.name(i), r.get(i));
        let cell = parse_cell(raw).ok_or_else(|| format!("column '{name}': '{}' is not a time", shown(raw)))?;
        let before_start = || format!("column '{name}': '{}' is before the start ('{}')", shown(raw), shown(start_raw));
        match cell {
            Cell::Instant(t) => {
                // Converted to the start's offset; a local start takes the end's offset.
                let end = match offset {
                    Some(o) => t.with_timezone(&o).naive_local(),
                    None => {
                        offset = Some(*t.offset());
                        t.naive_local()
                    }
                };
                if end < start {
                    return Err(before_start());
                }
                end
            }
            Cell::DateTime(d, clock) if !d.is_placeholder() => {
                let d = resolve(d, order, &name, raw)?;
                let end = match clock {
                    Clock::At(t) => d.and_time(t),
                    Clock::EndOfDay => next_midnight(d),
                };
                if end < start {
                    return Err(before_start());
                }
                end
            }
            Cell::DateTime(_, Clock::At(t)) | Cell::Time(Clock::At(t)) => {
                let end = date.and_time(t);
                if end < start {
                    end + Duration::days(1)
                } else {
                    end
                }
            }
            Cell::DateTime(_, Clock::EndOfDay) | Cell::Time(Clock::EndOfDay) => next_midnight(date),
        }
    } else if let Some(i) = duration_cell {
        let (name, raw) = (cols.name(i), r.get(i));
        let minutes = parse_duration(raw)
            .filter(|m| *m > 0)
            .ok_or_else(|| format!("column '{name}': '{}' is not a positive number of minutes", shown(raw)))?;
        if minutes > 24 * 60 {
            return Err(format!("column '{name}': '{}' minutes is longer than 24 hours", shown(raw)));
        }
        start + Duration::minutes(minutes)
    } else {
        let names: Vec<String> =
            [cols.end, cols.duration].into_iter().flatten().map(|i| format!("'{}'", cols.name(i))).collect();
        return Err(if names.len() == 1 {
            format!("column {} is empty", names[0])
        } else {
            format!("columns {} are empty", names.join(" and "))
        });
    };
    // `2026-04-03 09:00`, with the offset when the row has one.
    let when = |t: NaiveDateTime| match offset {
        Some(o) => format!("{} {o}", t.format("%Y-%m-%d %H:%M")),
        None => t.format("%Y-%m-%d %H:%M").to_string(),
    };
    if end == start {
        return Err(format!("the slot has zero length: it starts and ends at {}", when(start)));
    }
    if end - start > Duration::hours(24) {
        return Err(format!("the slot is longer than 24 hours: {} to {}", when(start), when(end)));
    }

    let optional = |col: Option<usize>| col.map(|i| r.get(i)).filter(|v| !v.is_empty());
    let status = match cols.status {
        Some(i) if !r.get(i).is_empty() => parse_status(r.get(i)).ok_or_else(|| {
            format!(
                "column '{}': '{}' is not a slot status (use free, busy, busy-unavailable, busy-tentative or entered-in-error)",
                cols.name(i),
                shown(r.get(i))
            )
        })?,
        _ => SlotStatus::Free,
    };
    let tz = match cols.tz {
        Some(i) if !r.get(i).is_empty() => Some(resolve_tzid(r.get(i)).ok_or_else(|| {
            format!(
                "column '{}': '{}' is not a time zone (use a name such as America/New_York)",
                cols.name(i),
                shown(r.get(i))
            )
        })?),
        _ => None,
    };
    Ok(CsvSlotRow {
        line: r.line,
        provider,
        location: optional(cols.location).map(str::to_string),
        start,
        end,
        status,
        service_type: optional(cols.service).map(str::to_string),
        tz,
        utc_offset: offset,
    })
}

/// A cell value as quoted in a skip reason: on one line (runs of whitespace,
/// line breaks included, become one space) and at most 40 characters.
fn shown(raw: &str) -> String {
    const MAX: usize = 40;
    let one_line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX {
        one_line
    } else {
        one_line.chars().take(MAX - 1).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Zone;
    use chrono::{DateTime, Utc};

    fn fixture_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/csv")
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(fixture_dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    }

    fn parse_fixture(name: &str, opts: &CsvOptions) -> Result<CsvParse, CsvError> {
        parse_csv(&fixture(name), opts)
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// (provider, start, end) of every row, local times as `YYYY-MM-DD HH:MM`.
    fn triples(p: &CsvParse) -> Vec<(String, String, String)> {
        p.rows
            .iter()
            .map(|r| {
                (
                    r.provider.clone(),
                    r.start.format("%Y-%m-%d %H:%M").to_string(),
                    r.end.format("%Y-%m-%d %H:%M").to_string(),
                )
            })
            .collect()
    }

    fn t(p: &str, s: &str, e: &str) -> (String, String, String) {
        (p.to_string(), s.to_string(), e.to_string())
    }

    fn no_opts() -> CsvOptions {
        CsvOptions::default()
    }

    #[test]
    fn expected_json_cases() {
        let text = std::fs::read_to_string(fixture_dir().join("expected.json")).unwrap();
        let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = cases.as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let file = case["file"].as_str().unwrap();
            let tz: Tz = case["practice_tz"].as_str().unwrap().parse().unwrap();
            let zone = Zone::Iana(tz);
            let result = parse_fixture(file, &no_opts());
            if let Some(expected) = case.get("expected_slots") {
                let parsed = result.unwrap_or_else(|e| panic!("{file}: {e}"));
                assert!(parsed.skipped.is_empty(), "{file}: {:?}", parsed.skipped);
                let got: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = parsed
                    .rows
                    .iter()
                    .map(|r| (r.provider.clone(), zone.to_utc(r.start), zone.to_utc(r.end)))
                    .collect();
                let want: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = expected
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        (
                            s["provider"].as_str().unwrap().to_string(),
                            s["start"].as_str().unwrap().parse().unwrap(),
                            s["end"].as_str().unwrap().parse().unwrap(),
                        )
                    })
                    .collect();
                assert_eq!(got, want, "{file}");
            } else {
                let want = case["expected_error"].as_str().unwrap();
                let err = result.expect_err(file);
                assert!(err.to_string().contains(want), "{file}: {err}");
            }
        }
    }

    #[test]
    fn ambiguous_fixture_infers_dmy_once() {
        let p = parse_fixture("ambiguous-date-order.csv", &no_opts()).unwrap();
        assert_eq!(p.date_order, Some(DateOrder::Dmy));
        assert_eq!(p.delimiter, b',');
        assert_eq!(p.rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert!(p.rows.iter().all(|r| r.status == SlotStatus::Free && r.tz.is_none() && r.location.is_none()));
    }

    #[test]
    fn undecidable_error_names_column_value_and_choice() {
        let err = parse_fixture("undecidable-date-order.csv", &no_opts()).unwrap_err();
        assert!(matches!(err, CsvError::AmbiguousDateOrder { line: 2, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "The date order is ambiguous in column 'date' (03/04/2026 on line 2 could be 3 April 2026 or March 4, 2026): \
             re-run with --date-order dmy or --date-order mdy."
        );
    }

    #[test]
    fn semicolon_bom_quoted_fields() {
        let bytes = fixture("semicolon-bom-quoted.csv");
        assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "fixture must keep its BOM");
        let p = parse_csv(&bytes, &no_opts()).unwrap();
        assert_eq!(p.delimiter, b';');
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(
            triples(&p),
            vec![
                t("Dr. Ng; Paediatrics", "2026-04-03 09:00", "2026-04-03 09:30"),
                t("Dr. Ng; Paediatrics", "2026-04-03 10:00", "2026-04-03 10:30"),
                t("Dr. Ali", "2026-04-03 11:00", "2026-04-03 11:15"),
            ]
        );
        assert_eq!(p.rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 3, 5]);
        assert_eq!(p.rows[0].location.as_deref(), Some("Main St; Room \"2\""));
        assert_eq!(p.rows[1].location.as_deref(), Some("North\nWing"));
        assert_eq!(p.rows[2].location.as_deref(), Some("Main"));
    }

    #[test]
    fn tab_delimited_with_status_service_and_zone() {
        let p = parse_fixture("tab-delimited.tsv", &no_opts()).unwrap();
        assert_eq!(p.delimiter, b'\t');
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(
            triples(&p),
            vec![
                t("P-010", "2026-04-03 08:00", "2026-04-03 08:30"),
                t("P-010", "2026-04-03 08:30", "2026-04-03 09:00"),
                t("P-011", "2026-04-03 13:00", "2026-04-03 13:45"),
            ]
        );
        let status: Vec<SlotStatus> = p.rows.iter().map(|r| r.status).collect();
        assert_eq!(status, vec![SlotStatus::Free, SlotStatus::Busy, SlotStatus::BusyTentative]);
        let tz: Vec<Option<Tz>> = p.rows.iter().map(|r| r.tz).collect();
        assert_eq!(tz, vec![Some(chrono_tz::America::Chicago), Some(chrono_tz::America::Chicago), None]);
        let svc: Vec<Option<&str>> = p.rows.iter().map(|r| r.service_type.as_deref()).collect();
        assert_eq!(svc, vec![Some("New patient"), None, Some("Follow-up")]);
    }

    #[test]
    fn excel_serial_dates_and_fractional_times() {
        let p = parse_fixture("excel-serial.csv", &no_opts()).unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(p.date_order, None);
        assert_eq!(
            triples(&p),
            vec![
                t("P-020", "2026-04-03 09:00", "2026-04-03 09:30"),
                t("P-020", "2026-04-03 09:30", "2026-04-03 10:00"),
                t("P-021", "2026-04-04 22:30", "2026-04-05 00:00"),
            ]
        );
        // A serial date-time in a combined start column.
        let p = parse_csv(b"provider,start,minutes\nP-1,46115.375,20\n", &no_opts()).unwrap();
        assert_eq!(triples(&p), vec![t("P-1", "2026-04-03 09:00", "2026-04-03 09:20")]);
    }

    #[test]
    fn mdy_inferred_from_one_row() {
        let p = parse_fixture("mdy-inferred.csv", &no_opts()).unwrap();
        assert_eq!(p.date_order, Some(DateOrder::Mdy));
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(
            triples(&p),
            vec![
                t("P-030", "2026-04-03 09:00", "2026-04-03 09:30"),
                t("P-030", "2026-04-13 09:00", "2026-04-13 09:30"),
                t("P-031", "2026-12-04 14:00", "2026-12-04 14:20"),
            ]
        );
    }

    #[test]
    fn date_order_option_overrides_inference() {
        // Undecidable file: the option decides.
        let dmy = CsvOptions { date_order: Some(DateOrder::Dmy), ..Default::default() };
        let mdy = CsvOptions { date_order: Some(DateOrder::Mdy), ..Default::default() };
        let p = parse_fixture("undecidable-date-order.csv", &dmy).unwrap();
        assert_eq!(p.date_order, Some(DateOrder::Dmy));
        assert_eq!(
            triples(&p),
            vec![
                t("P-001", "2026-04-03 09:00", "2026-04-03 09:30"),
                t("P-002", "2026-12-04 14:00", "2026-12-04 14:20")
            ]
        );
        let p = parse_fixture("undecidable-date-order.csv", &mdy).unwrap();
        assert_eq!(
            triples(&p),
            vec![
                t("P-001", "2026-03-04 09:00", "2026-03-04 09:30"),
                t("P-002", "2026-04-12 14:00", "2026-04-12 14:20")
            ]
        );

        // This file infers day-first; forcing mdy skips the row that only fits dmy.
        let p = parse_fixture("date-order-override.csv", &no_opts()).unwrap();
        assert_eq!(p.date_order, Some(DateOrder::Dmy));
        assert_eq!(p.rows.len(), 3);
        let p = parse_fixture("date-order-override.csv", &mdy).unwrap();
        assert_eq!(p.date_order, Some(DateOrder::Mdy));
        assert_eq!(
            triples(&p),
            vec![
                t("P-040", "2026-03-04 09:00", "2026-03-04 09:30"),
                t("P-041", "2026-04-12 14:00", "2026-04-12 14:20")
            ]
        );
        assert_eq!(
            p.skipped,
            vec![Skipped {
                line: Some(3),
                uid: None,
                reason: "column 'date': '13/04/2026' is not a valid month/day/year date".into()
            }]
        );
    }

    #[test]
    fn mixed_orders_refuse_the_file() {
        let err =
            parse_csv(b"provider,date,start,end\nA,13/04/2026,09:00,09:30\nA,04/13/2026,09:00,09:30\n", &no_opts())
                .unwrap_err();
        assert_eq!(
            err,
            CsvError::MixedDateOrder {
                column: "date".into(),
                dmy_line: 2,
                dmy_value: "13/04/2026".into(),
                mdy_line: 3,
                mdy_value: "04/13/2026".into()
            }
        );
        assert!(err.to_string().contains("--date-order dmy"), "{err}");
    }

    #[test]
    fn synonym_headers() {
        let p = parse_fixture("synonyms.csv", &no_opts()).unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(
            triples(&p),
            vec![
                t("Dr Patel", "2026-04-06 08:30", "2026-04-06 09:00"),
                t("Dr Patel", "2026-04-06 09:00", "2026-04-06 09:20")
            ]
        );
        assert_eq!(p.rows[0].location.as_deref(), Some("Northside Clinic"));
        assert_eq!(p.rows[0].service_type.as_deref(), Some("Annual physical"));
        assert_eq!(p.rows[1].service_type, None);
    }

    #[test]
    fn combined_start_with_duration() {
        let p = parse_fixture("combined-duration.csv", &no_opts()).unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(
            triples(&p),
            vec![
                t("P-050", "2026-04-03 09:00", "2026-04-03 09:30"),
                t("P-050", "2026-04-03 09:30", "2026-04-03 10:15"),
                t("P-051", "2026-04-03 23:30", "2026-04-04 00:30"),
            ]
        );
        assert_eq!(p.rows[2].location.as_deref(), Some("Annex"));
    }

    #[test]
    fn am_pm_times() {
        let p = parse_fixture("ampm.csv", &no_opts()).unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(
            triples(&p),
            vec![
                t("P-060", "2026-04-03 09:00", "2026-04-03 09:30"),
                t("P-060", "2026-04-03 11:30", "2026-04-03 12:15"),
                t("P-061", "2026-04-03 12:00", "2026-04-03 13:00"),
                t("P-061", "2026-04-03 23:00", "2026-04-04 00:00"),
            ]
        );
    }

    #[test]
    fn bad_rows_skipped_with_physical_lines() {
        let p = parse_fixture("bad-row.csv", &no_opts()).unwrap();
        assert_eq!(
            triples(&p),
            vec![
                t("P-070", "2026-04-03 09:00", "2026-04-03 09:30"),
                t("P-071", "2026-04-03 11:00", "2026-04-03 11:30")
            ]
        );
        assert_eq!(p.rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 9]);
        let skipped: Vec<(Option<usize>, &str)> = p.skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
        assert_eq!(
            skipped,
            vec![
                (Some(5), "column 'start': '25:99' is not a time"),
                (Some(6), "the slot has zero length: it starts and ends at 2026-04-03 10:30"),
                (Some(7), "column 'provider' is empty"),
                (Some(8), "column 'date': '2026-02-30' is not a date"),
            ]
        );
        assert!(p.skipped.iter().all(|s| s.uid.is_none()));
    }

    #[test]
    fn missing_column_error() {
        let err = parse_fixture("missing-column.csv", &no_opts()).unwrap_err();
        assert_eq!(
            err,
            CsvError::MissingColumns {
                missing: vec!["date".into()],
                found: vec!["provider".into(), "begin".into(), "end".into()]
            }
        );
        assert_eq!(err.to_string(), "The spreadsheet has no 'date' column: found provider, begin, end.");

        let err = parse_csv(b"date,start\n2026-04-03,09:00\n", &no_opts()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The spreadsheet has no 'provider' column and no 'end' or 'duration' column: found date, start \
             (add a provider column, or re-run with --provider NAME for a single-provider file)."
        );
    }

    #[test]
    fn default_provider_when_no_provider_column() {
        let opts = CsvOptions { default_provider: Some("Dr Who".into()), ..Default::default() };
        let p = parse_csv(b"date,start,end\n2026-04-03,09:00,09:30\n", &opts).unwrap();
        assert_eq!(triples(&p), vec![t("Dr Who", "2026-04-03 09:00", "2026-04-03 09:30")]);
        // A provider column wins over the option.
        let p = parse_csv(b"provider,date,start,end\nP-9,2026-04-03,09:00,09:30\n", &opts).unwrap();
        assert_eq!(p.rows[0].provider, "P-9");
    }

    #[test]
    fn headerless_file_error() {
        let err = parse_fixture("no-header.csv", &no_opts()).unwrap_err();
        assert!(matches!(err, CsvError::NoHeader { line: 1, .. }), "{err:?}");
        assert!(err.to_string().contains("is not a header"), "{err}");
        assert!(err.to_string().contains("'P-001', '2026-04-03', '09:00', '09:30'"), "{err}");
    }

    #[test]
    fn encodings() {
        // UTF-16 LE and BE with BOM are transcoded.
        let text = "provider\tdate\tstart\tend\r\nDr Émile\t2026-04-03\t09:00\t09:30\r\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        for bytes in [le, be] {
            let p = parse_csv(&bytes, &no_opts()).unwrap();
            assert_eq!(p.delimiter, b'\t');
            assert_eq!(triples(&p), vec![t("Dr Émile", "2026-04-03 09:00", "2026-04-03 09:30")]);
            assert_eq!(p.rows[0].line, 2);
        }
        // Invalid UTF-8 (Windows-1252 'é') names the line.
        let err = parse_csv(
            b"provider,date,start,end\nP-1,2026-04-03,09:00,09:30\nDr \xE9mile,2026-04-03,09:00,09:30\n",
            &no_opts(),
        )
        .unwrap_err();
        assert_eq!(err, CsvError::NotUtf8 { line: 3 });
        assert!(err.to_string().starts_with("Line 3 of the file is not UTF-8 text"), "{err}");
        // Workbooks and empty files.
        assert_eq!(parse_csv(b"PK\x03\x04rest", &no_opts()).unwrap_err(), CsvError::Workbook);
        assert_eq!(parse_csv(b"", &no_opts()).unwrap_err(), CsvError::Empty);
        assert_eq!(parse_csv(b"\xEF\xBB\xBF\r\n\r\n", &no_opts()).unwrap_err(), CsvError::Empty);
        assert!(matches!(parse_csv(b"provider\nP-1\n", &no_opts()).unwrap_err(), CsvError::OneColumn { .. }));
    }

    #[test]
    fn header_only_file_has_no_rows() {
        let p = parse_csv(b"provider,date,start,end\n", &no_opts()).unwrap();
        assert!(p.rows.is_empty() && p.skipped.is_empty());
    }

    #[test]
    fn sep_line_and_blank_lines() {
        let p = parse_csv(b"sep=;\r\nprovider;date;start;end\r\n\r\n;;;\r\nA;2026-04-03;09:00;09:30\r\n", &no_opts())
            .unwrap();
        assert_eq!(p.delimiter, b';');
        assert_eq!(triples(&p), vec![t("A", "2026-04-03 09:00", "2026-04-03 09:30")]);
        assert_eq!(p.rows[0].line, 5);
    }

    #[test]
    fn end_rules() {
        let p = parse_csv(
            b"provider,date,start,end\nA,2026-04-03,22:00,02:00\nA,2026-04-03,23:00,24:00\nA,2026-04-03,09:00,09:00\n\
              A,2026-04-03,24:00,01:00\nA,2026-04-03,09:00,2026-04-02 10:00\nA,2026-04-03,09:00,2026-04-04 08:00\n",
            &no_opts(),
        )
        .unwrap();
        assert_eq!(
            triples(&p),
            vec![
                t("A", "2026-04-03 22:00", "2026-04-04 02:00"),
                t("A", "2026-04-03 23:00", "2026-04-04 00:00"),
                t("A", "2026-04-03 09:00", "2026-04-04 08:00"),
            ]
        );
        let reasons: Vec<&str> = p.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "the slot has zero length: it starts and ends at 2026-04-03 09:00",
                "column 'start': '24:00' can only be an end time",
                "column 'end': '2026-04-02 10:00' is before the start ('09:00')",
            ]
        );
    }

    #[test]
    fn status_and_zone_cells() {
        let p = parse_csv(
            "provider,date,start,end,status,tz\n\
             A,2026-04-03,09:00,09:30,Open,Europe/Paris\n\
             A,2026-04-03,09:30,10:00,blocked,W. Europe Standard Time\n\
             A,2026-04-03,10:00,10:30,entered in error,\n\
             A,2026-04-03,10:30,11:00,maybe,\n\
             A,2026-04-03,11:00,11:30,,Mars/Olympus\n"
                .as_bytes(),
            &no_opts(),
        )
        .unwrap();
        let got: Vec<(SlotStatus, Option<Tz>)> = p.rows.iter().map(|r| (r.status, r.tz)).collect();
        assert_eq!(
            got,
            vec![
                (SlotStatus::Free, Some(chrono_tz::Europe::Paris)),
                (SlotStatus::BusyUnavailable, Some(chrono_tz::Europe::Berlin)),
                (SlotStatus::EnteredInError, None),
            ]
        );
        let reasons: Vec<&str> = p.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "column 'status': 'maybe' is not a slot status (use free, busy, busy-unavailable, busy-tentative or entered-in-error)",
                "column 'tz': 'Mars/Olympus' is not a time zone (use a name such as America/New_York)",
            ]
        );
    }

    #[test]
    fn time_forms() {
        let at = |h, m, s| Some(Clock::At(NaiveTime::from_hms_opt(h, m, s).unwrap()));
        let cases = [
            ("9:00", at(9, 0, 0)),
            ("09:05", at(9, 5, 0)),
            ("17:45:30", at(17, 45, 30)),
            ("09:00:00.000", at(9, 0, 0)),
            ("9:00 AM", at(9, 0, 0)),
            ("9:00am", at(9, 0, 0)),
            ("9am", at(9, 0, 0)),
            ("9 PM", at(21, 0, 0)),
            ("12:30 a.m.", at(0, 30, 0)),
            ("12pm", at(12, 0, 0)),
            ("0900", at(9, 0, 0)),
            ("900", at(9, 0, 0)),
            ("1730", at(17, 30, 0)),
            ("9h30", at(9, 30, 0)),
            ("0.375", at(9, 0, 0)),
            ("0.3958333333", at(9, 30, 0)),
            ("0", at(0, 0, 0)),
            ("24:00", Some(Clock::EndOfDay)),
            ("1.0", Some(Clock::EndOfDay)),
            ("1", Some(Clock::EndOfDay)),
            ("25:99", None),
            ("13pm", None),
            ("9", None),
            ("9.30", None),
            ("9:5", None),
            ("24:30", None),
            ("0960", None),
            ("noon", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s), want, "{s}");
        }
    }

    #[test]
    fn date_forms() {
        let fixed = |y, m, d| Some(RawDate::Fixed(NaiveDate::from_ymd_opt(y, m, d).unwrap()));
        let local = |a, b, y| Some(RawDate::Local { a, b, y });
        let cases = [
            ("2026-04-03", fixed(2026, 4, 3)),
            ("2026/4/3", fixed(2026, 4, 3)),
            ("2026-02-30", None),
            ("03/04/2026", local(3, 4, 2026)),
            ("3.4.26", local(3, 4, 2026)),
            ("03-04-2026", local(3, 4, 2026)),
            ("46115", fixed(2026, 4, 3)),
            ("46115.0", fixed(2026, 4, 3)),
            ("123", None),
            ("3 Apr 2026", fixed(2026, 4, 3)),
            ("Apr 3, 2026", fixed(2026, 4, 3)),
            ("Friday, 3rd April 2026", fixed(2026, 4, 3)),
            ("03-Apr-26", fixed(2026, 4, 3)),
            ("Sept 30 2026", fixed(2026, 9, 30)),
            ("tomorrow", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_date(s), want, "{s}");
        }
        assert_eq!(
            parse_cell("2026-04-03T09:00"),
            Some(Cell::DateTime(fixed(2026, 4, 3).unwrap(), Clock::At(NaiveTime::from_hms_opt(9, 0, 0).unwrap())))
        );
        assert_eq!(
            parse_cell("Apr 3, 2026 1:30 PM"),
            Some(Cell::DateTime(fixed(2026, 4, 3).unwrap(), Clock::At(NaiveTime::from_hms_opt(13, 30, 0).unwrap())))
        );
        assert_eq!(
            parse_cell("2026-04-03T09:00:00Z"),
            Some(Cell::Instant(DateTime::parse_from_rfc3339("2026-04-03T09:00:00+00:00").unwrap()))
        );
    }

    #[test]
    fn duration_forms() {
        for (s, want) in [
            ("30", Some(30)),
            ("30.0", Some(30)),
            ("45 min", Some(45)),
            ("45 minutes", Some(45)),
            ("1:30", Some(90)),
            ("1h", Some(60)),
            ("1h30", Some(90)),
            ("1 h 15 min", Some(75)),
            ("2 hours", Some(120)),
            ("30.5", None),
            ("half", None),
        ] {
            assert_eq!(parse_duration(s), want, "{s}");
        }
    }

    #[test]
    fn local_dates_inside_combined_cells_follow_the_file_order() {
        let p = parse_csv(
            b"provider,start,end\nA,03/04/2026 09:00,03/04/2026 09:30\nA,25/04/2026 9:00 AM,10:00\n",
            &no_opts(),
        )
        .unwrap();
        assert_eq!(p.date_order, Some(DateOrder::Dmy));
        assert_eq!(
            triples(&p),
            vec![t("A", "2026-04-03 09:00", "2026-04-03 09:30"), t("A", "2026-04-25 09:00", "2026-04-25 10:00")]
        );
        // Same-number days (04/04) need no order.
        let p = parse_csv(b"provider,date,start,end\nA,04/04/2026,09:00,09:30\n", &no_opts()).unwrap();
        assert_eq!(p.date_order, None);
        assert_eq!(p.rows[0].start, dt("2026-04-04 09:00"));
    }

    #[test]
    fn date_order_text_round_trips() {
        for o in [DateOrder::Dmy, DateOrder::Mdy] {
            assert_eq!(o.to_string().parse::<DateOrder>().unwrap(), o);
        }
        assert_eq!("MDY".parse::<DateOrder>().unwrap(), DateOrder::Mdy);
        assert_eq!("d/m/y".parse::<DateOrder>().unwrap(), DateOrder::Dmy);
        let err = "ymd".parse::<DateOrder>().unwrap_err();
        assert!(err.to_string().contains("'ymd' is not a date order"), "{err}");
    }

    #[test]
    fn delimiter_sniffing_prefers_recognised_headers() {
        // Commas inside unquoted cells of a semicolon file.
        let p = parse_csv(b"provider;date;start;end\nSmith, J;2026-04-03;09:00;09:30\n", &no_opts()).unwrap();
        assert_eq!(p.delimiter, b';');
        assert_eq!(p.rows[0].provider, "Smith, J");
        // Semicolons inside unquoted cells of a comma file.
        let p = parse_csv(b"provider,date,start,end,notes\nA,2026-04-03,09:00,09:30,x;y;z\n", &no_opts()).unwrap();
        assert_eq!(p.delimiter, b',');
        assert_eq!(p.rows.len(), 1);
    }

    // -----------------------------------------------------------------------
    // QA findings (commit f7fa37f): instants, EHR headers, calendars, reasons.

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn offset(hours: i32) -> Option<FixedOffset> {
        FixedOffset::east_opt(hours * 3600)
    }

    /// (provider, start, end) instants of every row, which must all carry an offset.
    fn instants(p: &CsvParse) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
        p.rows
            .iter()
            .map(|r| {
                let (s, e) = r.utc_span().unwrap_or_else(|| panic!("line {} has no UTC offset", r.line));
                (r.provider.clone(), s, e)
            })
            .collect()
    }

    fn i(p: &str, s: &str, e: &str) -> (String, DateTime<Utc>, DateTime<Utc>) {
        (p.to_string(), utc(s), utc(e))
    }

    #[test]
    fn qa_06_utc_z_start_and_end_are_instants() {
        let p = parse_fixture("instant-utc-z.csv", &no_opts()).unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(instants(&p), vec![i("Dr. C", "2026-03-05T09:00:00Z", "2026-03-05T09:30:00Z")]);
        assert_eq!(p.rows[0].utc_offset, offset(0));
        assert_eq!(triples(&p), vec![t("Dr. C", "2026-03-05 09:00", "2026-03-05 09:30")]);
        assert_eq!(p.date_order, None);
    }

    #[test]
    fn qa_06b_utc_offset_is_applied() {
        let p = parse_fixture("instant-utc-offset.csv", &no_opts()).unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(instants(&p), vec![i("Dr. C", "2026-03-05T17:00:00Z", "2026-03-05T17:30:00Z")]);
        assert_eq!(p.rows[0].utc_offset, offset(-8));
        // start/end stay the wall-clock times as written, at that offset.
        assert_eq!(triples(&p), vec![t("Dr. C", "2026-03-05 09:00", "2026-03-05 09:30")]);
    }

    #[test]
    fn qa_06c_utc_z_start_with_duration() {
        let p = parse_fixture("instant-utc-z-duration.csv", &no_opts()).unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(instants(&p), vec![i("Dr. C", "2026-03-05T09:00:00Z", "2026-03-05T09:30:00Z")]);
    }

    #[test]
    fn instant_forms_and_rows_mixing_offset_and_local_cells() {
        let p = parse_csv(
            "provider,start,end,tz\n\
             A,2026-03-05 09:00 +01:00,2026-03-05 09:30 +01:00,America/New_York\n\
             B,2026-03-05T09:00:00-08:00,09:30,\n\
             C,2026-03-05T23:30:00-08:00,00:30,\n\
             D,2026-03-05T09:00:00-08:00,2026-03-05 10:00,\n\
             E,2026-03-08T01:00:00-05:00,2026-03-08T03:30:00-04:00,\n\
             F,2026-03-05 09:00 UTC,2026-03-05 09:30 UTC,\n\
             G,20260305T090000Z,20260305T093000Z,\n\
             H,2026-03-05T09:00Z,2026-03-05T09:30+0000,\n\
             I,2026-03-05 09:00:00.000 -0800,24:00,\n"
                .as_bytes(),
            &no_opts(),
        )
        .unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(
            instants(&p),
            vec![
                // The time-zone column does not apply to instants.
                i("A", "2026-03-05T08:00:00Z", "2026-03-05T08:30:00Z"),
                // A local end is read at the start's offset ...
                i("B", "2026-03-05T17:00:00Z", "2026-03-05T17:30:00Z"),
                // ... on the next day when it is earlier than the start ...
                i("C", "2026-03-06T07:30:00Z", "2026-03-06T08:30:00Z"),
                // ... also with its own date.
                i("D", "2026-03-05T17:00:00Z", "2026-03-05T18:00:00Z"),
                // An end with another offset is converted to the start's.
                i("E", "2026-03-08T06:00:00Z", "2026-03-08T07:30:00Z"),
                i("F", "2026-03-05T09:00:00Z", "2026-03-05T09:30:00Z"),
                i("G", "2026-03-05T09:00:00Z", "2026-03-05T09:30:00Z"),
                i("H", "2026-03-05T09:00:00Z", "2026-03-05T09:30:00Z"),
                i("I", "2026-03-05T17:00:00Z", "2026-03-06T08:00:00Z"),
            ]
        );
        assert_eq!(p.rows[0].tz, Some(chrono_tz::America::New_York));
        assert_eq!(p.rows[0].utc_offset, offset(1));
        assert_eq!(p.rows[4].utc_offset, offset(-5));
        assert_eq!(p.rows[4].end, dt("2026-03-08 02:30"));
    }

    #[test]
    fn local_start_takes_the_offset_of_an_instant_end() {
        let p = parse_csv(
            b"provider,date,start,end\nA,2026-03-05,09:00,2026-03-05T09:30:00Z\nA,2026-03-05,10:00,10:30\n",
            &no_opts(),
        )
        .unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(p.rows[0].utc_offset, offset(0));
        assert_eq!(p.rows[0].utc_span(), Some((utc("2026-03-05T09:00:00Z"), utc("2026-03-05T09:30:00Z"))));
        // Rows without offsets stay local.
        assert_eq!(p.rows[1].utc_offset, None);
        assert_eq!(p.rows[1].utc_span(), None);
        assert_eq!(triples(&p)[1], t("A", "2026-03-05 10:00", "2026-03-05 10:30"));
    }

    #[test]
    fn bad_instant_rows_are_skipped() {
        let p = parse_csv(
            b"provider,start,end\n\
              A,2026-03-05T09:00:00Z,2026-03-05T09:30:00Z\n\
              A,2026-03-05 09:00-10:00,\n\
              A,2026-03-05T09:00:00Z,2026-03-05T08:00:00Z\n\
              A,2026-03-05T09:00:00Z,2026-03-05T10:00:00+01:00\n\
              A,2026-03-05T09:00:00+25:00,2026-03-05T09:30:00Z\n",
            &no_opts(),
        )
        .unwrap();
        assert_eq!(instants(&p), vec![i("A", "2026-03-05T09:00:00Z", "2026-03-05T09:30:00Z")]);
        let skipped: Vec<(Option<usize>, &str)> = p.skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
        assert_eq!(
            skipped,
            vec![
                // Looks like a range: not read as 09:00 at UTC-10.
                (Some(3), "column 'start': '2026-03-05 09:00-10:00' is not a date and time"),
                (Some(4), "column 'end': '2026-03-05T08:00:00Z' is before the start ('2026-03-05T09:00:00Z')"),
                (Some(5), "the slot has zero length: it starts and ends at 2026-03-05 09:00 +00:00"),
                (Some(6), "column 'start': '2026-03-05T09:00:00+25:00' is not a date and time"),
            ]
        );
    }

    #[test]
    fn instant_forms() {
        let ok = |s: &str, want: &str| {
            assert_eq!(parse_instant(s), Some(DateTime::parse_from_rfc3339(want).unwrap()), "{s}");
        };
        ok("2026-03-05T09:00:00Z", "2026-03-05T09:00:00+00:00");
        ok("2026-03-05t09:00:00z", "2026-03-05T09:00:00+00:00");
        ok("2026-03-05T09:00:00.250-08:00", "2026-03-05T09:00:00.250-08:00");
        ok("2026-03-05 09:00:00-08:00", "2026-03-05T09:00:00-08:00");
        ok("2026-03-05 09:00:00 -0800", "2026-03-05T09:00:00-08:00");
        ok("2026-03-05T09:00Z", "2026-03-05T09:00:00+00:00");
        ok("2026-03-05T09:00-08:00", "2026-03-05T09:00:00-08:00");
        ok("2026-03-05T09:00+0530", "2026-03-05T09:00:00+05:30");
        ok("2026-03-05 09:00 +01:00", "2026-03-05T09:00:00+01:00");
        ok("2026-03-05 09:00+01:00", "2026-03-05T09:00:00+01:00");
        ok("2026-03-05 09:00 -08:00", "2026-03-05T09:00:00-08:00");
        ok("2026-03-05 09:00Z", "2026-03-05T09:00:00+00:00");
        ok("2026-03-05 09:00 UTC", "2026-03-05T09:00:00+00:00");
        ok("2026-03-05T09:00:00 GMT", "2026-03-05T09:00:00+00:00");
        ok("20260305T090000Z", "2026-03-05T09:00:00+00:00");
        for bad in [
            "2026-03-05T09:00:00",
            "2026-03-05 09:00",
            "2026-03-05 09:00-10:00",
            "2026-03-05 09:00-10",
            "2026-03-05T09:00:00+24:00",
            "2026-02-30T09:00:00Z",
            "09:00Z",
            "03/05/2026 09:00Z",
            "2026-03-05 09:00 PST",
            "2026-03-05",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn instants_convert_without_a_zone_through_the_file_import() {
        use crate::import::file::{import_bytes, ImportRequest};
        use crate::store::{key::DbKey, Store};
        use crate::time::Interval;

        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db"), &DbKey::Raw([7; 32])).unwrap();
        let win = Interval::new(utc("2026-03-01T00:00:00Z"), utc("2026-04-01T00:00:00Z")).unwrap();
        let req = ImportRequest { tz: Some(chrono_tz::America::New_York), ..Default::default() };
        let now = utc("2026-03-01T00:00:00Z");
        // The QA file, plus a local row in the same file that still uses the provider's zone.
        let mut bytes = fixture("instant-utc-offset.csv");
        bytes.extend_from_slice(b"Dr. C,2026-03-06 09:00,2026-03-06 09:30\n");
        let summary = import_bytes(&mut store, &bytes, "x.csv", "x", &req, Some(false), win, now)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
        assert_eq!(summary.slots, 2);
        let got: Vec<(DateTime<Utc>, DateTime<Utc>)> =
            store.published_slots(None, win).unwrap().iter().map(|s| (s.span.start, s.span.end)).collect();
        assert_eq!(
            got,
            vec![
                (utc("2026-03-05T17:00:00Z"), utc("2026-03-05T17:30:00Z")),
                (utc("2026-03-06T14:00:00Z"), utc("2026-03-06T14:30:00Z")),
            ]
        );
    }

    #[test]
    fn qa_07_epic_export_headers() {
        let p = parse_fixture("ehr-epic-headers.csv", &no_opts()).unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(p.delimiter, b',');
        assert_eq!(p.date_order, Some(DateOrder::Mdy));
        assert_eq!(
            triples(&p),
            vec![
                t("SMITH, JOHN MD", "2026-03-05 09:00", "2026-03-05 09:30"),
                t("SMITH, JOHN MD", "2026-03-13 13:30", "2026-03-13 14:15"),
            ]
        );
        assert!(p.rows.iter().all(|r| r.location.as_deref() == Some("FAMILY MED") && r.utc_offset.is_none()));
    }

    #[test]
    fn qa_07b_cerner_export_headers() {
        let p = parse_fixture("ehr-cerner-headers.csv", &no_opts()).unwrap();
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(p.delimiter, b';');
        assert_eq!(p.date_order, Some(DateOrder::Dmy));
        assert_eq!(
            triples(&p),
            vec![
                t("Dr. Cerner", "2026-03-05 09:00", "2026-03-05 09:30"),
                t("Dr. Cerner", "2026-03-13 09:00", "2026-03-13 09:30"),
            ]
        );
        assert!(p.rows.iter().all(|r| r.location.as_deref() == Some("Main")));
    }

    #[test]
    fn ehr_header_synonyms_without_new_ambiguity() {
        use Field::*;
        let cases = [
            ("Appt Time", Start),
            ("Appointment Time", Start),
            ("Slot Time", Start),
            ("Begin Date/Time", Start),
            ("Start Date/Time", Start),
            ("Begin", Start),
            ("Appt Date/Time", Start),
            ("End Date/Time", End),
            ("Appt Length", Duration),
            ("Appointment Length", Duration),
            ("Appt Length (min)", Duration),
            ("Length (min)", Duration),
            ("Resource", Provider),
            ("Resource Name", Provider),
            ("Schedule", Provider),
            ("Staff", Provider),
            ("Provider Name", Provider),
            ("Facility", Location),
            ("Department", Location),
            ("Location Name", Location),
            ("Appt Date", Date),
            ("Appointment Date", Date),
            ("Slot Date", Date),
            ("Appointment Type", Service),
            ("Appt Type", Service),
            ("Appt Status", Status),
            ("Appointment Status", Status),
        ];
        for (header, want) in cases {
            assert_eq!(recognise(header).map(|(f, _)| f), Some(want), "{header}");
        }
        // Every normalised synonym belongs to one field only.
        let mut all: Vec<&str> = SYNONYMS.iter().flat_map(|(_, names)| names.iter().copied()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a synonym is listed twice");
        // A whole export with type and status columns next to the new names.
        let p = parse_csv(
            b"Resource,Appt Date,Appt Time,Appt Length,Appointment Type,Appt Status,Facility\n\
              Dr. R,2026-03-05,0900,20,New patient,booked,East\n",
            &no_opts(),
        )
        .unwrap();
        assert_eq!(triples(&p), vec![t("Dr. R", "2026-03-05 09:00", "2026-03-05 09:20")]);
        assert_eq!(p.rows[0].service_type.as_deref(), Some("New patient"));
        assert_eq!(p.rows[0].status, SlotStatus::Busy);
        assert_eq!(p.rows[0].location.as_deref(), Some("East"));
        // Two columns for one field: the more specific name wins (provider
        // over schedule, appt time over time, appt length over length).
        let p = parse_csv(
            b"Schedule,Provider,Appt Date,Time,Appt Time,Length,Appt Length\n\
              Template A,Dr. P,2026-03-05,08:00,09:00,15,30\n",
            &no_opts(),
        )
        .unwrap();
        assert_eq!(triples(&p), vec![t("Dr. P", "2026-03-05 09:00", "2026-03-05 09:30")]);
    }

    #[test]
    fn qa_09_calendar_saved_as_txt_is_refused_with_a_clear_message() {
        let err = parse_fixture("calendar-saved-as.txt", &no_opts()).unwrap_err();
        assert_eq!(err, CsvError::Calendar);
        assert_eq!(
            err.to_string(),
            "This file is a calendar (.ics), not a spreadsheet: rename it to end in .ics and import it with --provider."
        );
        // With a byte-order mark, blank lines first, lower case, or UTF-16.
        for bytes in [
            b"\xEF\xBB\xBFBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".to_vec(),
            b"\r\n  begin:vcalendar\nEND:VCALENDAR\n".to_vec(),
            [0xFF, 0xFE].into_iter().chain("BEGIN:VCALENDAR\r\n".encode_utf16().flat_map(u16::to_le_bytes)).collect(),
        ] {
            assert_eq!(parse_csv(&bytes, &no_opts()).unwrap_err(), CsvError::Calendar);
        }
        // A spreadsheet that merely mentions it is not a calendar.
        let p = parse_csv(b"provider,date,start,end\nBEGIN:VCALENDAR,2026-04-03,09:00,09:30\n", &no_opts()).unwrap();
        assert_eq!(p.rows.len(), 1);
    }

    #[test]
    fn skip_reasons_are_one_sentence_without_line_or_final_period() {
        let long = "x".repeat(80);
        let text = format!(
            "provider,date,start,end,duration,status,tz\n\
             ,2026-04-03,09:00,09:30,,,\n\
             A,2026-04-03,,09:30,,,\n\
             A,2026-04-03,25:99,09:30,,,\n\
             A,,09:00,09:30,,,\n\
             A,2026-02-30,09:00,09:30,,,\n\
             A,2026-04-03,24:00,09:30,,,\n\
             A,2026-04-03,09:00,nope.,,,\n\
             A,2026-04-03,09:00,2026-04-02 10:00,,,\n\
             A,2026-04-03,09:00,,abc.,,\n\
             A,2026-04-03,09:00,,2000,,\n\
             A,2026-04-03,09:00,,,,\n\
             A,2026-04-03,09:00,09:00,,,\n\
             A,2026-04-03,09:00,2026-04-04 10:00,,,\n\
             A,2026-04-03,09:00,09:30,,maybe.,\n\
             A,2026-04-03,09:00,09:30,,,Mars/Olympus.\n\
             A,2026-04-03,\"9:00\n\nAM?\",09:30,,,\n\
             A,2026-04-03,{long},09:30,,,\n\
             A,2026-04-03T09:00:00Z,09:00,10:00,,,\n\
             A,2026-04-03,2026-04-03T09:00:00Z,2026-04-03T08:00:00Z,,,\n"
        );
        let p = parse_csv(text.as_bytes(), &no_opts()).unwrap();
        let mut reasons: Vec<String> = p.skipped.iter().map(|s| s.reason.clone()).collect();
        assert_eq!(p.rows.len(), 1, "only the row with a dated date column reads: {:?}", p.rows);
        assert_eq!(reasons.len(), 18, "{reasons:#?}");
        assert!(reasons.contains(&"column 'start': '9:00 AM?' is not a time".to_string()), "{reasons:#?}");
        assert!(reasons.contains(&format!("column 'start': '{}…' is not a time", "x".repeat(39))), "{reasons:#?}");
        // Reasons from the other paths: a start without a date, a day/month order, a 24-hour limit.
        let p = parse_csv(b"provider,start,end\nA,2026-04-03 09:00,09:30\nA,10:00,10:30\n", &no_opts()).unwrap();
        reasons.extend(p.skipped.iter().map(|s| s.reason.clone()));
        let mdy = CsvOptions { date_order: Some(DateOrder::Mdy), ..Default::default() };
        let p = parse_csv(b"provider,date,start,end\nA,13/04/2026,09:00,09:30\n", &mdy).unwrap();
        reasons.extend(p.skipped.iter().map(|s| s.reason.clone()));
        let p = parse_csv(b"provider,start,end\nA,2026-04-03T09:00:00Z,2026-04-04T10:00:00Z\n", &no_opts()).unwrap();
        reasons.extend(p.skipped.iter().map(|s| s.reason.clone()));
        assert_eq!(reasons.len(), 21, "{reasons:#?}");
        for r in &reasons {
            assert!(!r.to_ascii_lowercase().starts_with("line"), "names the line: {r}");
            assert!(!r.ends_with('.'), "ends with a period: {r}");
            assert!(!r.contains(['\n', '\r']), "more than one line: {r}");
            assert!(!r.contains(". "), "more than one sentence: {r}");
            assert!(!r.is_empty() && r.chars().count() < 200, "{r}");
        }
    }
}
