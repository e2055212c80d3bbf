//! Connectors and authorization against HTTP-level fakes (wiremock) and a real
//! FHIR server on loopback. One test binary, one module per area.

mod athena;
mod auth;
mod caldav;
mod fake;
mod cli_connectors;
mod real_fhir;
mod fhir_fake;
mod google;
mod offer;
mod worker;
mod webhook;
mod llm;
mod local_llm;
mod secrets_search;
