//! MedHarmony Desk engine.
//!
//! * [`model`]: FHIR-named domain types (Provider = Practitioner, Location, Slot status codes).
//! * [`time`]: zones and the one DST policy every local→UTC conversion goes through.
//! * [`import`]: pure .ics (busy time) and .csv (open slots) parsers.
//! * [`store`]: the encrypted SQLite cache (SQLCipher, WAL, migrations, change log).
//! * [`availability`]: free slots from working hours minus busy time, and published slots.
//! * [`demo`]: the built-in demo practice (synthetic data).
//! * [`cli`]: the headless `medharmony` command.
//!
//! No GUI dependency: changes are reported through an [`events::EventSink`]
//! handed in by the host.

pub mod availability;
pub mod bench;
pub mod cli;
pub mod demo;
pub mod events;
pub mod import;
pub mod model;
pub mod store;
pub mod time;
