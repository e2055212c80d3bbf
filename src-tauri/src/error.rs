//! The commands' error type: a `thiserror` enum that crosses IPC as its
//! plain-language message (front-desk staff read it as is).

use medharmony::demo::DemoError;
use medharmony::import::file::ImportError;
use medharmony::store::StoreError;
use serde::{Serialize, Serializer};

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
    /// A file was refused; nothing was changed.
    #[error("{0}")]
    Import(String),
    /// The database failed; the change was rolled back. (Boxed: the engine's errors are large.)
    #[error(transparent)]
    Store(Box<StoreError>),
    /// Loading the demo practice failed.
    #[error(transparent)]
    Demo(Box<DemoError>),
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
            DeskError::Import(_) => "import-refused",
            DeskError::Store(_) => "store",
            DeskError::Demo(_) => "demo",
            DeskError::Poisoned => "poisoned",
        }
    }
}

impl From<StoreError> for DeskError {
    fn from(e: StoreError) -> Self {
        DeskError::Store(Box::new(e))
    }
}

impl From<DemoError> for DeskError {
    fn from(e: DemoError) -> Self {
        DeskError::Demo(Box::new(e))
    }
}

impl From<ImportError> for DeskError {
    /// Rewords the errors whose core text names CLI flags for staff using the window.
    fn from(e: ImportError) -> Self {
        let text = match &e {
            ImportError::NeedsProvider { file } => format!("{file}: a calendar belongs to one provider; choose whose calendar it is"),
            ImportError::UnknownProvider { file, name } => {
                format!("{file}: there is no provider named '{name}'; choose a time zone to add them")
            }
            ImportError::UnknownRowProvider { file, line, name } => {
                format!("{file} line {line}: there is no provider named '{name}'; choose a time zone for the providers this file adds")
            }
            _ => e.to_string(),
        };
        DeskError::Import(text)
    }
}

impl Serialize for DeskError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
