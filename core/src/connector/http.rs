//! HTTP for connectors (being written).
