//! Time-zone resolution for one calendar file (RFC 5545 §3.2.19 TZID,
//! §3.6.5 VTIMEZONE).
//!
//! A TZID is resolved, in this order, to
//! 1. an IANA zone through [`crate::time::resolve_tzid`] (IANA name, vendor
//!    prefix such as `/mozilla.org/.../America/New_York`, Windows name) — the
//!    tz database is preferred over an embedded VTIMEZONE whenever the name
//!    resolves;
//! 2. a [`CustomZone`] built from the file's VTIMEZONE with that TZID;
//! 3. otherwise the TZID is unknown.
//!
//! Floating times and DATE values are read in the zone named by the
//! calendar's `X-WR-TIMEZONE` when it resolves the same way, otherwise in the
//! provider's zone.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use icalendar::parser::Component;

use super::expand::{expand_wall, parse_rule, WallRule};
use super::values::{parse_period, parse_time, parse_utc_offset, RawTime};
use super::{find_prop, is_named, props};
use crate::time::{resolve_tzid, CustomZone, Zone};

/// Custom-zone transitions are precomputed up to (not including) this year.
const CUSTOM_ZONE_LAST_YEAR: i32 = 2200;
/// At most this many onsets per STANDARD/DAYLIGHT observance.
const MAX_ONSETS: usize = 5_000;

/// Why a TZID could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ZoneError {
    /// Neither the tz database nor a VTIMEZONE in the file knows it.
    Unknown,
    /// A VTIMEZONE defines it but cannot be read; plain-words detail.
    BadDefinition(String),
}

/// The zones one file can refer to.
#[derive(Debug, Clone)]
pub(crate) struct ZoneBook {
    /// VTIMEZONE definitions whose TZID does not resolve as IANA/Windows.
    custom: HashMap<String, Result<Zone, String>>,
    /// Zone for floating times and DATE values.
    floating: Zone,
}

fn clean(tzid: &str) -> &str {
    tzid.trim().trim_matches('"').trim()
}

impl ZoneBook {
    /// Builds the book from the file's VTIMEZONE components, its
    /// `X-WR-TIMEZONE` value (if any) and the provider's zone.
    pub fn new(vtimezones: &[&Component<'_>], x_wr_timezone: Option<&str>, provider: Tz) -> Self {
        let mut custom = HashMap::new();
        for vtz in vtimezones {
            let Some(tzid) = find_prop(vtz, "TZID").map(|p| clean(p.val.as_str()).to_string()) else {
                tracing::warn!("a VTIMEZONE without TZID was ignored");
                continue;
            };
            if tzid.is_empty() || resolve_tzid(&tzid).is_some() || custom.contains_key(&tzid) {
                continue;
            }
            let built = build_custom_zone(&tzid, vtz).map(|z| Zone::Custom(Arc::new(z)));
            if let Err(reason) = &built {
                tracing::warn!(tzid = %tzid, %reason, "VTIMEZONE could not be read");
            }
            custom.insert(tzid, built);
        }
        let mut book = ZoneBook { custom, floating: Zone::Iana(provider) };
        if let Some(name) = x_wr_timezone.map(clean).filter(|n| !n.is_empty()) {
            match book.lookup(name) {
                Ok(zone) => book.floating = zone,
                Err(_) => tracing::warn!(x_wr_timezone = %name, "X-WR-TIMEZONE not recognised; using the provider's zone"),
            }
        }
        book
    }

    /// Zone for floating DATE-TIME and DATE values.
    pub fn floating(&self) -> &Zone {
        &self.floating
    }

    /// Resolves a TZID parameter value (see the module documentation).
    pub fn lookup(&self, tzid: &str) -> Result<Zone, ZoneError> {
        let name = clean(tzid);
        if let Some(tz) = resolve_tzid(name) {
            return Ok(Zone::Iana(tz));
        }
        let found = self.custom.get(name).or_else(|| self.custom.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v));
        match found {
            Some(Ok(zone)) => Ok(zone.clone()),
            Some(Err(reason)) => Err(ZoneError::BadDefinition(reason.clone())),
            None => Err(ZoneError::Unknown),
        }
    }
}

/// Builds the transition table of a VTIMEZONE (RFC 5545 §3.6.5): each
/// STANDARD/DAYLIGHT observance contributes its onsets — DTSTART (local time
/// in TZOFFSETFROM), the RRULE expansion of it (in local wall time, UNTIL in
/// UTC converted with TZOFFSETFROM) and RDATEs — each switching to TZOFFSETTO.
/// Transitions are computed up to the year 2200; the offset before the first
/// one is the earliest onset's TZOFFSETFROM.
pub(crate) fn build_custom_zone(name: &str, vtz: &Component<'_>) -> Result<CustomZone, String> {
    let bound = NaiveDate::from_ymd_opt(CUSTOM_ZONE_LAST_YEAR, 1, 1).map(|d| d.and_time(NaiveTime::MIN)).ok_or("internal bound")?;
    let mut transitions: Vec<(chrono::DateTime<chrono::Utc>, i32, i32)> = Vec::new();
    let mut observances = 0usize;
    for obs in vtz.components.iter().filter(|c| is_named(c.name.as_str(), "STANDARD") || is_named(c.name.as_str(), "DAYLIGHT")) {
        observances += 1;
        let kind = obs.name.as_str().to_ascii_uppercase();
        let from = find_prop(obs, "TZOFFSETFROM")
            .and_then(|p| parse_utc_offset(p.val.as_str()))
            .ok_or_else(|| format!("its {kind} part has no valid TZOFFSETFROM"))?;
        let to = find_prop(obs, "TZOFFSETTO")
            .and_then(|p| parse_utc_offset(p.val.as_str()))
            .ok_or_else(|| format!("its {kind} part has no valid TZOFFSETTO"))?;
        let from_d = Duration::seconds(i64::from(from));
        let to_wall = |raw: RawTime| -> NaiveDateTime {
            match raw {
                RawTime::Date(d) => d.and_time(NaiveTime::MIN),
                RawTime::Local(n) => n,
                RawTime::Utc(t) => t.naive_utc() + from_d,
            }
        };
        let start = find_prop(obs, "DTSTART")
            .and_then(|p| parse_time(p.val.as_str()))
            .map(to_wall)
            .ok_or_else(|| format!("its {kind} part has no valid DTSTART"))?;
        let mut rules = Vec::new();
        for p in props(obs, "RRULE") {
            let (rule, until) = parse_rule(p.val.as_str()).map_err(|e| format!("its {kind} RRULE cannot be read ({e})"))?;
            rules.push(WallRule { rule, until: until.map(|u| u.to_wall(false, |t| t.naive_utc() + from_d)) });
        }
        let mut onsets = expand_wall(start, &rules, bound, MAX_ONSETS).map_err(|e| format!("its {kind} RRULE cannot be expanded ({e})"))?;
        for p in props(obs, "RDATE") {
            for v in p.val.as_str().split(',') {
                let raw = parse_time(v)
                    .or_else(|| parse_period(v).map(|(s, _)| s))
                    .ok_or_else(|| format!("its {kind} RDATE value '{}' is not a date-time", v.trim()))?;
                onsets.push(to_wall(raw));
            }
        }
        for wall in onsets {
            transitions.push(((wall - from_d).and_utc(), to, from));
        }
    }
    if observances == 0 {
        return Err("it has no STANDARD or DAYLIGHT part".into());
    }
    transitions.sort_by_key(|(at, _, _)| *at);
    transitions.dedup_by_key(|(at, _, _)| *at);
    let initial_offset_seconds = transitions.first().map_or(0, |(_, _, from)| *from);
    Ok(CustomZone {
        name: name.to_string(),
        initial_offset_seconds,
        transitions: transitions.into_iter().map(|(at, to, _)| (at, to)).collect(),
    })
}
