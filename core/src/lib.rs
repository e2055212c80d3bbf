//! MedHarmony Desk engine.
//!
//! `model` (FHIR-named domain types), `time` (zones and the DST policy),
//! `import` (.ics and .csv parsers), `store` (the encrypted SQLite cache),
//! `availability` (free slots from working hours and busy time) and `cli`
//! (the headless `medharmony` command). No GUI dependency: changes are reported
//! through an [`events::EventSink`] handed in by the caller.

pub mod import;
pub mod model;
pub mod time;
