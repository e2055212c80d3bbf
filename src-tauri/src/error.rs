//! The commands' error type: a `thiserror` enum that crosses IPC as its
//! plain-language message (front-desk staff read it as is).

use medharmony::demo::DemoError;
use medharmony::import::csv::CsvError;
use medharmony::import::file::ImportError;
use medharmony::import::ics::IcsError;
use medharmony::store::StoreError;
use serde::{Serialize, Serializer};

use crate::words::staff_words;

/// Why a command failed. Serialized as its `Display` text.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The database could not be opened at start-up (no key, wrong key, newer
    /// schema…); the text says why and what to do.
    #[error("{0}")]
    Unavailable(String),
    /// A date argument that is not `YYYY-MM-DD`.
    #[error("'{0}' is not a date like 2026-03-02")]
    BadDate(String),
    /// A zone argument that is not a known time zone.
    #[error("'{0}' is not a time zone MedHarmony knows; choose one from the list")]
    BadZone(String),
    /// A date order argument that is neither `dmy` nor `mdy`.
    #[error("'{0}' is not a date order; choose day first or month first")]
    BadDateOrder(String),
    /// A spreadsheet whose dates read differently day first and month first,
    /// imported without saying which; nothing was changed.
    #[error("{file}: the dates can be read two ways ({value} on line {line} could be {day_first} or {month_first}); say whether the dates are written day first or month first, then import it again")]
    AmbiguousDates {
        /// The file name.
        file: String,
        /// The date as written.
        value: String,
        /// Its line.
        line: usize,
        /// Its day-first reading.
        day_first: String,
        /// Its month-first reading.
        month_first: String,
    },
    /// A file was refused; nothing was changed.
    #[error("{0}")]
    Import(String),
    /// The database failed; the change was rolled back. (Boxed: the engine's errors are large.)
    #[error("{}", staff_words(&.0.to_string()))]
    Store(Box<StoreError>),
    /// Loading the demo practice failed.
    #[error(transparent)]
    Demo(Box<DemoError>),
    /// A Connect form that cannot be used as filled in; nothing was changed.
    #[error("{0}")]
    Form(String),
    /// Connecting a system failed (sign-in, keychain, server); nothing was stored.
    #[error("{0}")]
    Connect(String),
    /// No connected system has this name.
    #[error("There is no connection named '{0}'. It may have been disconnected; the list is now up to date.")]
    NoSuchIntegration(String),
    /// The same work is already under way (a sync of this system, a sign-in).
    #[error("{0}")]
    Busy(String),
    /// Cancellation fill refused (a time taken meanwhile, no one at the desk, a patient no longer
    /// waiting); the text says what to do.
    #[error("{0}")]
    Fill(String),
    /// Another command panicked while holding the database (a defect).
    #[error("MedHarmony Desk hit an internal error; please restart it")]
    Poisoned,
}

impl DeskError {
    /// A short, data-free name of the error kind, for the log file.
    pub fn kind(&self) -> &'static str {
        match self {
            DeskError::Unavailable(_) => "unavailable",
            DeskError::BadDate(_) => "bad-date",
            DeskError::BadZone(_) => "bad-zone",
            DeskError::BadDateOrder(_) => "bad-date-order",
            DeskError::AmbiguousDates { .. } => "ambiguous-dates",
            DeskError::Import(_) => "import-refused",
            DeskError::Store(_) => "store",
            DeskError::Demo(_) => "demo",
            DeskError::Form(_) => "form",
            DeskError::Connect(_) => "connect",
            DeskError::NoSuchIntegration(_) => "no-such-integration",
            DeskError::Busy(_) => "busy",
            DeskError::Fill(_) => "fill",
            DeskError::Poisoned => "poisoned",
        }
    }
}

impl From<StoreError> for DeskError {
    fn from(e: StoreError) -> Self {
        DeskError::Store(Box::new(e))
    }
}

impl From<medharmony::connect::ConnectError> for DeskError {
    /// Connecting failed: the engine's words are already for staff (sign-in,
    /// keychain, server), except a name that is taken.
    fn from(e: medharmony::connect::ConnectError) -> Self {
        use medharmony::connect::ConnectError;
        match e {
            ConnectError::Store(StoreError::IntegrationExists(name)) => {
                DeskError::Form(format!("There is already a connection named '{name}'. Choose another name."))
            }
            ConnectError::Store(other) => DeskError::from(other),
            other => DeskError::Connect(crate::words::sentence(&other.to_string())),
        }
    }
}

impl From<DemoError> for DeskError {
    fn from(e: DemoError) -> Self {
        DeskError::Demo(Box::new(e))
    }
}

impl From<ImportError> for DeskError {
    /// Rewords the engine's refusals for staff using the window: no CLI
    /// flags, no calendar property names.
    fn from(e: ImportError) -> Self {
        let text = match &e {
            ImportError::NeedsProvider { file } => format!("{file}: a calendar belongs to one provider; choose whose calendar it is"),
            ImportError::UnknownProvider { file, name } => {
                format!("{file}: there is no provider named '{name}'; choose a time zone to add them")
            }
            ImportError::UnknownRowProvider { file, line, name } => {
                format!("{file} line {line}: there is no provider named '{name}'; choose a time zone for the providers this file adds")
            }
            ImportError::Csv { file, source } => match source.as_ref() {
                CsvError::AmbiguousDateOrder { line, value, day_first, month_first, .. } => {
                    return DeskError::AmbiguousDates {
                        file: file.clone(),
                        value: value.clone(),
                        line: *line,
                        day_first: day_first.clone(),
                        month_first: month_first.clone(),
                    }
                }
                CsvError::MixedDateOrder { column, dmy_line, dmy_value, mdy_line, mdy_value } => format!(
                    "{file}: the dates in column '{column}' are written in both orders (line {dmy_line}: '{dmy_value}' can only be day first; \
                     line {mdy_line}: '{mdy_value}' can only be month first); correct the dates in the spreadsheet and import it again"
                ),
                CsvError::Calendar => format!("{file}: this file is a calendar, not a spreadsheet; rename it to end in .ics and import it again"),
                other => format!("{file}: {}", staff_words(&other.to_string())),
            },
            ImportError::Ics { file, source: IcsError::NotCalendar { .. } } => format!("{file}: this file is not a calendar (.ics) file"),
            ImportError::Store { file, source: StoreError::UnknownProvider(name) } => {
                format!("{file}: there is no provider named '{name}'; choose a time zone to add them")
            }
            _ => staff_words(&e.to_string()),
        };
        DeskError::Import(text)
    }
}

impl Serialize for DeskError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
