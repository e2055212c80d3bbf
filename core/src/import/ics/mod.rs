//! iCalendar (.ics, RFC 5545) importer: one provider's calendar file in,
//! busy instances out. Pure: bytes in, values out, no I/O and no store.
//!
//! Pipeline:
//! 1. `normalize` — byte-level clean-up the parser cannot do: UTF-8 BOM, CRLF /
//!    bare CR / bare LF line breaks, unfolding on bytes (RFC 5545 §3.1) so a
//!    fold splitting a UTF-8 character is rejoined before decoding, and a map
//!    from each logical line to its original line number;
//! 2. `structure` — the `icalendar` crate's parser
//!    ([`icalendar::parser::read_calendar`]); when it rejects the file, each
//!    top-level component is parsed on its own so one broken VEVENT is
//!    skipped rather than the file refused;
//! 3. `zones` — TZID resolution (IANA, vendor-prefixed, Windows names via
//!    CLDR, embedded VTIMEZONE as a [`crate::time::CustomZone`]) and the
//!    floating zone (`X-WR-TIMEZONE` or the provider's zone);
//! 4. `event` — each VEVENT read into zone-resolved values;
//! 5. `expand` / `assemble` — recurrence sets expanded in local wall-clock
//!    time with the `rrule` crate, overrides and exclusions applied, and
//!    instances clipped to the import window.
//!
//! Every local→instant conversion goes through [`crate::time::Zone::to_utc`]
//! (DST gap → offset before the gap; overlap → first occurrence).
//!
//! Summaries may carry patient names: they are returned to the caller but
//! never logged, and skipped-event reasons never quote free text.
//!
//! Policies where RFC 5545 leaves room:
//! * DTSTART always counts as the first occurrence (§3.8.5.3), also toward
//!   COUNT, even when the rule itself would not produce it.
//! * DTEND wins over DURATION when both are present; a DTEND before DTSTART or
//!   a negative DURATION makes the event unreadable.
//! * EXDATEs also remove RDATE instances and DTSTART. RRULE/RDATE inside an
//!   override are ignored; EXRULE (deprecated) is ignored.
//! * `RECURRENCE-ID;RANGE=THISANDFUTURE` (§3.8.4.4, §3.2.13) applies the
//!   override to its instance and every later one: each moves by the
//!   override's DTSTART minus its RECURRENCE-ID as a wall-clock shift in the
//!   series' zone, and takes the override's length, SUMMARY, STATUS and
//!   TRANSP (a cancelled one removes them all). Per instance the range
//!   override with the latest RECURRENCE-ID at or before it applies, and a
//!   single-instance override of that instance wins over it. Every instance
//!   keeps its original start as [`BusyInstance::recurrence_id`]. Any other
//!   RANGE value (RFC 2445's THISANDPRIOR) is a single-instance override.
//! * Each VEVENT's own STATUS/TRANSP applies to its own instances: a
//!   cancelled master cancels the generated instances, not overrides that
//!   are themselves confirmed.
//! * A TZID on a UTC (`Z`) or DATE value is ignored (§3.2.19).
//! * `X-WR-TIMEZONE` may also name a VTIMEZONE defined in the file.
//! * An event without UID gets a stable synthetic one (see [`BusyInstance::uid`]).
//! * Text that is not UTF-8 refuses the whole file ([`IcsError::Encoding`]).

mod assemble;
mod event;
mod expand;
pub mod freebusy;
mod normalize;
mod structure;
mod values;
mod zones;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use icalendar::parser::{Component, Property};

use crate::import::Skipped;
use crate::model::BusyStatus;
use crate::time::Interval;

pub use freebusy::{parse_free_busy, FreeBusyPeriod, FreeBusyRead};

/// Options for [`parse_ics`]: how to read times without an explicit zone
/// (RFC 5545 §3.3.4 DATE, §3.3.5 floating DATE-TIME) and which instances to
/// return.
#[derive(Debug, Clone, PartialEq)]
pub struct IcsOptions {
    /// The provider's IANA zone. Used **only** for floating DATE-TIME values
    /// (RFC 5545 §3.3.5 form #1) and DATE values (all-day events, §3.3.4)
    /// when the file has no usable `X-WR-TIMEZONE`; never for UTC or TZID
    /// values.
    pub provider_zone: Tz,
    /// The import window `[from, to)` in UTC (half-open): only instances
    /// overlapping it are returned. Recurrences (§3.8.5) are expanded from
    /// DTSTART up to its end.
    pub window: Interval,
}

/// One busy instance of a calendar event (RFC 5545 §3.6.1 VEVENT, one member
/// of its recurrence set, §3.8.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyInstance {
    /// The event's UID (RFC 5545 §3.8.4.7). An event without UID gets a
    /// stable synthetic one, `nouid-<16 hex digits>`, hashed from its
    /// properties other than DTSTAMP.
    pub uid: String,
    /// `None` for a non-recurring event. For an instance of a recurring event
    /// (RRULE/RDATE) or an override (RECURRENCE-ID, §3.8.4.4): the ORIGINAL
    /// start instant of the instance, UTC — for all-day series the instant
    /// of local midnight of the original date in the floating zone.
    pub recurrence_id: Option<DateTime<Utc>>,
    /// `[start, end)` in UTC; never empty.
    pub span: Interval,
    /// True when DTSTART is a DATE (an all-day event, §3.3.4).
    pub all_day: bool,
    /// SUMMARY (§3.8.1.12), unfolded and unescaped; an override without one
    /// inherits its master's. May contain patient names: do not log.
    pub summary: Option<String>,
    /// Busy status: `STATUS:TENTATIVE` (§3.8.1.11) or Outlook
    /// `X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE` → tentative; Outlook `OOF` →
    /// unavailable (this wins over tentative); otherwise busy.
    pub status: BusyStatus,
}

/// Result of importing one calendar file: its VEVENTs (RFC 5545 §3.6.1) as busy
/// instances, plus what was read and what was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsImport {
    /// Number of VEVENT components read successfully (masters and overrides,
    /// including superseded duplicates and events that block nothing).
    /// `events` plus the skipped VEVENTs is the number of VEVENTs in the
    /// file (a recurrence that cannot be expanded is skipped *after* being
    /// counted here).
    pub events: usize,
    /// Busy instances overlapping the window, sorted by
    /// `(span.start, uid, recurrence_id)`. Cancelled (`STATUS:CANCELLED`),
    /// transparent (`TRANSP:TRANSPARENT`, §3.8.2.7), Outlook-free and
    /// zero-length events are not here.
    pub instances: Vec<BusyInstance>,
    /// UIDs all of whose VEVENTs were read successfully (whether or not they
    /// produced instances in the window).
    pub read_uids: BTreeSet<String>,
    /// UIDs with at least one VEVENT that could not be read (or whose
    /// recurrence could not be expanded). None of their instances are
    /// returned; the store keeps their previous ones. Disjoint from
    /// `read_uids`.
    pub unreadable_uids: BTreeSet<String>,
    /// One entry per VEVENT that could not be read (or UID whose recurrence
    /// could not be expanded), sorted by line: the original 1-based line of
    /// the bad property (else of BEGIN:VEVENT), the UID when known, and one
    /// plain sentence naming the property, e.g.
    /// `DTSTART uses unknown time zone 'XYZ'`.
    pub skipped: Vec<Skipped>,
}

/// Whole-file refusals. `Display` is one sentence a front-desk user
/// understands, naming the line when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    /// The file has no content (or only blank lines).
    #[error("The file is empty, so it is not a calendar (.ics) file.")]
    Empty,
    /// The first line is not `BEGIN:VCALENDAR` (RFC 5545 §3.4): not an
    /// iCalendar file. `line` is the original 1-based line number.
    #[error("Line {line} should be BEGIN:VCALENDAR but is not, so this is not a calendar (.ics) file.")]
    NotCalendar {
        /// Original 1-based line number of the first non-blank line.
        line: usize,
    },
    /// The file is UTF-16 text (RFC 5545 §3.1.4 requires UTF-8).
    #[error("The file is saved as UTF-16 text, which cannot be read; export the calendar again as a UTF-8 .ics file.")]
    Utf16,
    /// The bytes are not UTF-8 (RFC 5545 §3.1.4); `line` is the original
    /// 1-based line number of the first bad byte.
    #[error("Line {line} contains characters that are not UTF-8 text, so the file cannot be read; export the calendar again as a UTF-8 .ics file.")]
    Encoding {
        /// Original 1-based line number of the first invalid byte.
        line: usize,
    },
}

/// Case-insensitive name comparison (RFC 5545 §2: names are case-insensitive).
pub(crate) fn is_named(name: &str, want: &str) -> bool {
    name.trim().eq_ignore_ascii_case(want)
}

/// All properties of `c` named `name` (case-insensitive), in file order.
pub(crate) fn props<'c, 'a>(c: &'c Component<'a>, name: &'c str) -> impl Iterator<Item = &'c Property<'a>> + 'c {
    c.properties.iter().filter(move |p| is_named(p.name.as_str(), name))
}

/// The first property of `c` named `name` (case-insensitive).
pub(crate) fn find_prop<'c, 'a>(c: &'c Component<'a>, name: &'c str) -> Option<&'c Property<'a>> {
    props(c, name).next()
}

/// The value of parameter `key` (case-insensitive) of `p`, when present and non-empty.
pub(crate) fn param<'p>(p: &'p Property<'_>, key: &str) -> Option<&'p str> {
    p.params
        .iter()
        .find(|prm| is_named(prm.key.as_str(), key))
        .and_then(|prm| prm.val.as_ref())
        .map(|v| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// Imports an iCalendar file (RFC 5545) as busy time: every VEVENT (§3.6.1)
/// is read, its recurrence set (§3.8.5: DTSTART, RRULE, RDATE, EXDATE) is
/// expanded in local wall-clock time, overrides (RECURRENCE-ID, §3.8.4.4) are
/// applied by SEQUENCE (§3.8.7.4) and DTSTAMP, and the busy instances that
/// overlap `opts.window` are returned.
///
/// `bytes` is the raw file (UTF-8, with or without BOM; CRLF, LF or CR line
/// breaks; folded lines). `opts` gives the provider's zone (for floating and
/// all-day values without a usable `X-WR-TIMEZONE`) and the UTC window
/// `[from, to)` to return instances for.
///
/// Per-event problems (unknown time zone, unreadable value, malformed lines
/// inside one VEVENT, a recurrence rule that repeats too often) never fail
/// the file: the event is reported in [`IcsImport::skipped`] and its UID in
/// [`IcsImport::unreadable_uids`].
///
/// # Errors
/// [`IcsError`] when the file as a whole cannot be read: empty, not starting
/// with `BEGIN:VCALENDAR`, UTF-16, or not UTF-8.
pub fn parse_ics(bytes: &[u8], opts: &IcsOptions) -> Result<IcsImport, IcsError> {
    let norm = normalize::normalize(bytes)?;
    let parsed = structure::parse(&norm)?;

    let x_wr = parsed.properties.iter().find(|p| is_named(p.name.as_str(), "X-WR-TIMEZONE")).map(|p| p.val.as_str());
    let vtimezones: Vec<&Component<'_>> = parsed.components.iter().filter(|c| is_named(c.name.as_str(), "VTIMEZONE")).collect();
    let zones = zones::ZoneBook::new(&vtimezones, x_wr, opts.provider_zone);

    let mut skipped = parsed.broken_events;
    let mut unreadable: BTreeSet<String> = skipped.iter().filter_map(|s| s.uid.clone()).collect();
    let mut by_uid: BTreeMap<String, Vec<event::EventRecord>> = BTreeMap::new();
    let mut events = 0usize;
    for c in parsed.components.iter().filter(|c| is_named(c.name.as_str(), "VEVENT")) {
        match event::read_event(c, &norm, &zones) {
            Ok(rec) => {
                events += 1;
                by_uid.entry(rec.uid.clone()).or_default().push(rec);
            }
            Err(skip) => {
                if let Some(uid) = &skip.uid {
                    unreadable.insert(uid.clone());
                }
                skipped.push(skip);
            }
        }
    }

    let mut instances = Vec::new();
    let mut read_uids = BTreeSet::new();
    let mut budget = assemble::FILE_OCCURRENCE_BUDGET;
    for (uid, records) in by_uid {
        if unreadable.contains(&uid) {
            continue;
        }
        match assemble::assemble(records, &opts.window, &mut budget) {
            Ok(list) => {
                instances.extend(list);
                read_uids.insert(uid);
            }
            Err(skip) => {
                unreadable.insert(uid);
                skipped.push(skip);
            }
        }
    }
    instances.sort_by(|a, b| (a.span.start, &a.uid, a.recurrence_id, a.span.end).cmp(&(b.span.start, &b.uid, b.recurrence_id, b.span.end)));
    skipped.sort_by_key(|s| s.line);
    tracing::debug!(events, instances = instances.len(), skipped = skipped.len(), unreadable = unreadable.len(), "calendar file read");
    Ok(IcsImport { events, instances, read_uids, unreadable_uids: unreadable, skipped })
}
