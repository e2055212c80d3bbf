//! MedHarmony Desk engine.
//!
//! * [`model`]: FHIR-named domain types (Provider = Practitioner, Location, Slot status codes).
//! * [`time`]: zones and the one DST policy every local→UTC conversion goes through.
//! * [`import`]: pure .ics (busy time) and .csv (open slots) parsers.
//! * [`store`]: the encrypted SQLite cache (SQLCipher, WAL, migrations, change log).
//! * [`availability`]: free slots from working hours minus busy time, and published slots.
//! * [`connector`]: reading availability from and booking into EHRs (FHIR R4, Oracle Health, Epic).
//! * [`auth`]: SMART authorization (backend services, standalone launch with PKCE) and keychain secrets.
//! * [`demo`]: the built-in demo practice (synthetic data).
//! * [`fill`]: cancellation fill: the waitlist, who can take a freed slot, deterministic ranking and an optional LLM re-rank.
//! * [`sync`]: one sync of an integration and booking through it.
//! * [`worker`]: the sync worker (schedule, backoff, jitter, one scheduler per database) behind `medharmony serve`.
//! * [`webhook`]: the webhook receiver (signed MedHarmony events, FHIR Subscription notifications) behind `medharmony serve`.
//! * [`cli`]: the headless `medharmony` command.
//!
//! No GUI dependency: changes are reported through an [`events::EventSink`]
//! handed in by the host.

pub mod auth;
pub mod availability;
pub mod bench;
pub mod cli;
pub mod connect;
pub mod connector;
pub mod demo;
pub mod events;
pub mod fill;
pub mod import;
pub mod model;
pub mod store;
pub mod sync;
pub mod time;
pub mod webhook;
pub mod worker;
