//! FHIR connectors: generic R4, Oracle Health (Cerner) Millennium R4, Epic.

pub mod map;
