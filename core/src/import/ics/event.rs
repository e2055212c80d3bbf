//! Reading one VEVENT (RFC 5545 §3.6.1) into zone-resolved values.
//!
//! Everything that can make an event unusable is checked here, so that an
//! event is either fully read or reported as [`Skipped`] naming the original
//! line of the bad property.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use icalendar::parser::{Component, Property};
use sha2::{Digest, Sha256};

use super::expand::{self, parse_rule, RuleError, WallRule};
use super::normalize::Normalized;
use super::values::{parse_duration, parse_period, parse_time, Length, PeriodEnd, RawTime};
use super::zones::{ZoneBook, ZoneError};
use super::{find_prop, param, props};
use crate::import::Skipped;
use crate::model::BusyStatus;
use crate::time::Zone;

/// A DATE or DATE-TIME resolved in its zone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct When {
    /// Local wall-clock time in `zone` (midnight for a DATE).
    pub wall: NaiveDateTime,
    /// The zone the value is read in (UTC for `Z` values).
    pub zone: Zone,
    /// The instant, via [`Zone::to_utc`].
    pub instant: DateTime<Utc>,
    /// True for a DATE value.
    pub all_day: bool,
}

/// An EXDATE or RECURRENCE-ID value, comparable with instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Moment {
    /// The instant (for a DATE: local midnight in the floating zone).
    pub instant: DateTime<Utc>,
    /// The local date as written (UTC values: the date in the floating zone).
    pub date: NaiveDate,
    /// True for a DATE value.
    pub is_date: bool,
}

impl Moment {
    /// True when this value designates the instance starting at `instant`
    /// with local start `wall`, in a series whose starts are DATEs
    /// (`date_series`): compared as dates when either side is a DATE,
    /// otherwise as instants.
    pub fn designates(&self, instant: DateTime<Utc>, wall: NaiveDateTime, date_series: bool) -> bool {
        if date_series || self.is_date {
            self.date == wall.date()
        } else {
            self.instant == instant
        }
    }
}

/// An RDATE: a start, and its own end for a PERIOD value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RDate {
    /// Start of the added instance.
    pub start: When,
    /// End for PERIOD values; `None` uses the event's length.
    pub end: Option<DateTime<Utc>>,
}

/// One VEVENT, read.
#[derive(Debug, Clone)]
pub(crate) struct EventRecord {
    /// UID (synthesised as `nouid-<hash>` when the event has none).
    pub uid: String,
    /// Original line of BEGIN:VEVENT; also the file order.
    pub line: usize,
    /// Original line of the first RRULE (for reporting expansion failures).
    pub rule_line: usize,
    /// SEQUENCE (RFC 5545 §3.8.7.4), 0 when absent or unreadable.
    pub sequence: i64,
    /// DTSTAMP (§3.8.7.2), when readable.
    pub dtstamp: Option<DateTime<Utc>>,
    /// RECURRENCE-ID (§3.8.4.4) for an override.
    pub recurrence_id: Option<Moment>,
    /// True when the RECURRENCE-ID has `RANGE=THISANDFUTURE` (§3.2.13): the
    /// override also applies to every later instance of the series.
    pub this_and_future: bool,
    /// DTSTART.
    pub start: When,
    /// Length from DTEND or DURATION.
    pub length: Length,
    /// RRULEs, UNTIL converted to the start's wall-clock time.
    pub rules: Vec<WallRule>,
    /// RDATEs.
    pub rdates: Vec<RDate>,
    /// EXDATEs.
    pub exdates: Vec<Moment>,
    /// False for cancelled, transparent or Outlook-free events.
    pub blocks: bool,
    /// Busy status of the instances.
    pub status: BusyStatus,
    /// SUMMARY, unfolded and unescaped.
    pub summary: Option<String>,
}

impl EventRecord {
    /// True when the event has an RRULE or RDATE.
    pub fn is_recurring(&self) -> bool {
        !self.rules.is_empty() || !self.rdates.is_empty()
    }

    /// Precedence among VEVENTs with the same UID and RECURRENCE-ID:
    /// SEQUENCE, then DTSTAMP, then position in the file.
    pub fn precedence(&self) -> (i64, Option<DateTime<Utc>>, usize) {
        (self.sequence, self.dtstamp, self.line)
    }
}

/// End of an instance starting at `instant` (local `wall` in `zone`): the
/// nominal days are added in wall-clock time, the exact part to the instant
/// (RFC 5545 §3.3.6). `None` on arithmetic overflow.
pub(crate) fn end_of(zone: &Zone, wall: NaiveDateTime, instant: DateTime<Utc>, length: Length) -> Option<DateTime<Utc>> {
    let base = if length.days == 0 { instant } else { zone.to_utc(wall.checked_add_signed(Duration::try_days(length.days)?)?) };
    base.checked_add_signed(length.exact)
}

struct Ctx<'n> {
    n: &'n Normalized,
    zones: &'n ZoneBook,
    begin_line: Option<usize>,
    uid: Option<String>,
}

impl Ctx<'_> {
    fn line_of(&self, p: &Property<'_>) -> Option<usize> {
        self.n.orig_line_of(p.name.as_str()).or(self.begin_line)
    }

    fn bad(&self, p: Option<&Property<'_>>, reason: String) -> Skipped {
        Skipped { line: p.and_then(|p| self.line_of(p)).or(self.begin_line), uid: self.uid.clone(), reason }
    }

    fn floating_when(&self, wall: NaiveDateTime, all_day: bool) -> When {
        let zone = self.zones.floating().clone();
        When { instant: zone.to_utc(wall), wall, zone, all_day }
    }

    /// Resolves one DATE/DATE-TIME value of property `p`.
    fn when(&self, p: &Property<'_>, raw: RawTime) -> Result<When, Skipped> {
        let what = p.name.as_str().to_ascii_uppercase();
        Ok(match raw {
            RawTime::Date(d) => self.floating_when(d.and_time(NaiveTime::MIN), true),
            RawTime::Utc(t) => When { wall: t.naive_utc(), zone: Zone::Iana(chrono_tz::UTC), instant: t, all_day: false },
            RawTime::Local(wall) => match param(p, "TZID") {
                None => self.floating_when(wall, false),
                Some(tzid) => {
                    let zone = self.zones.lookup(tzid).map_err(|e| {
                        let reason = match e {
                            ZoneError::Unknown => format!("{what} uses unknown time zone '{}'", tzid.trim()),
                            ZoneError::BadDefinition(why) => {
                                format!("{what} uses time zone '{}', whose VTIMEZONE cannot be read because {why}", tzid.trim())
                            }
                        };
                        self.bad(Some(p), reason)
                    })?;
                    When { instant: zone.to_utc(wall), wall, zone, all_day: false }
                }
            },
        })
    }

    /// Like [`Ctx::when`] for a value that names one member of the series
    /// starting at `series` (EXDATE, RDATE, RECURRENCE-ID): a floating
    /// DATE-TIME there is read in the series' own zone, because exporters
    /// that omit the TZID on these properties mean the DTSTART's wall clock.
    fn when_in_series(&self, p: &Property<'_>, raw: RawTime, series: &When) -> Result<When, Skipped> {
        match raw {
            RawTime::Local(wall) if param(p, "TZID").is_none() && !series.all_day => {
                Ok(When { instant: series.zone.to_utc(wall), wall, zone: series.zone.clone(), all_day: false })
            }
            _ => self.when(p, raw),
        }
    }

    fn moment(&self, p: &Property<'_>, raw: RawTime, series: &When) -> Result<Moment, Skipped> {
        let w = self.when_in_series(p, raw, series)?;
        let date = match raw {
            RawTime::Utc(t) => self.zones.floating().to_local(t).date(),
            _ => w.wall.date(),
        };
        Ok(Moment { instant: w.instant, date, is_date: w.all_day })
    }

    fn time_value(&self, p: &Property<'_>, v: &str) -> Result<RawTime, Skipped> {
        parse_time(v).ok_or_else(|| {
            self.bad(Some(p), format!("{} value '{}' is not a valid date or date-time", p.name.as_str().to_ascii_uppercase(), shorten(v)))
        })
    }
}

fn shorten(v: &str) -> String {
    let v = v.trim();
    if v.chars().count() > 40 {
        format!("{}…", v.chars().take(40).collect::<String>())
    } else {
        v.to_string()
    }
}

fn upper_val(c: &Component<'_>, name: &str) -> Option<String> {
    find_prop(c, name).map(|p| p.val.as_str().trim().to_ascii_uppercase())
}

/// Stable UID for an event that has none: a hash of its properties except
/// DTSTAMP (which some generators rewrite on every export).
fn synthetic_uid(c: &Component<'_>) -> String {
    let mut h = Sha256::new();
    for p in c.properties.iter().filter(|p| !p.name.as_str().eq_ignore_ascii_case("DTSTAMP")) {
        h.update(p.name.as_str().to_ascii_uppercase().as_bytes());
        for prm in &p.params {
            h.update(b";");
            h.update(prm.key.as_str().as_bytes());
            h.update(b"=");
            h.update(prm.val.as_ref().map_or("", |v| v.as_str()).as_bytes());
        }
        h.update(b":");
        h.update(p.val.as_str().as_bytes());
        h.update(b"\n");
    }
    format!("nouid-{}", hex::encode(&h.finalize()[..8]))
}

/// Reads a VEVENT component; see the module documentation.
pub(crate) fn read_event(c: &Component<'_>, n: &Normalized, zones: &ZoneBook) -> Result<EventRecord, Skipped> {
    let begin_line = n.orig_line_of(c.name.as_str());
    let uid_given = find_prop(c, "UID").map(|p| p.val.as_str().trim().to_string()).filter(|u| !u.is_empty());
    let mut cx = Ctx { n, zones, begin_line, uid: uid_given.clone() };
    let uid = uid_given.unwrap_or_else(|| synthetic_uid(c));
    cx.uid = Some(uid.clone());

    // DTSTART (§3.8.2.4).
    let dtstart_p = find_prop(c, "DTSTART").ok_or_else(|| cx.bad(None, "DTSTART is missing, so the event has no start".into()))?;
    let start_raw = cx.time_value(dtstart_p, dtstart_p.val.as_str())?;
    let start = cx.when(dtstart_p, start_raw)?;

    // DTEND (§3.8.2.2) or DURATION (§3.8.2.5); DTEND wins when both are given.
    let length = if let Some(p) = find_prop(c, "DTEND") {
        let raw = cx.time_value(p, p.val.as_str())?;
        let end = cx.when(p, raw)?;
        let len = if start.all_day && end.all_day {
            Length { days: (end.wall.date() - start.wall.date()).num_days(), exact: Duration::zero() }
        } else {
            // A DTSTART in a DST gap moves forward by the gap and keeps the
            // length the event has on the wall clock (see `Zone::span_to_utc`).
            let start_shift = start.zone.gap_shift(start.wall);
            let exact = if start_shift.is_zero() {
                end.instant - start.instant
            } else {
                (end.instant - end.zone.gap_shift(end.wall)) - (start.instant - start_shift)
            };
            Length { days: 0, exact }
        };
        if !len.is_non_negative() {
            return Err(cx.bad(Some(p), "DTEND is earlier than DTSTART".into()));
        }
        len
    } else if let Some(p) = find_prop(c, "DURATION") {
        let len = parse_duration(p.val.as_str())
            .ok_or_else(|| cx.bad(Some(p), format!("DURATION value '{}' is not a valid duration", shorten(p.val.as_str()))))?;
        if !len.is_non_negative() {
            return Err(cx.bad(Some(p), "DURATION is negative".into()));
        }
        len
    } else if start.all_day {
        Length { days: 1, exact: Duration::zero() }
    } else {
        Length::default()
    };

    // RECURRENCE-ID (§3.8.4.4), with RANGE=THISANDFUTURE (§3.2.13); any other
    // RANGE value (RFC 2445's THISANDPRIOR) is read as a single-instance override.
    let mut this_and_future = false;
    let recurrence_id = match find_prop(c, "RECURRENCE-ID") {
        Some(p) => {
            this_and_future = param(p, "RANGE").is_some_and(|v| v.trim().trim_matches('"').eq_ignore_ascii_case("THISANDFUTURE"));
            let raw = cx.time_value(p, p.val.as_str())?;
            Some(cx.moment(p, raw, &start)?)
        }
        None => None,
    };

    // RRULE (§3.8.5.3); an override is a single instance, so its rules are ignored.
    let mut rules = Vec::new();
    let mut rule_line = begin_line.unwrap_or(0);
    if recurrence_id.is_none() {
        for (i, p) in props(c, "RRULE").enumerate() {
            if i == 0 {
                rule_line = cx.line_of(p).unwrap_or(rule_line);
            }
            let bad_rule = |e: RuleError| cx.bad(Some(p), format!("RRULE cannot be used: {e}"));
            let (rule, until) = parse_rule(p.val.as_str()).map_err(bad_rule)?;
            let until = until.map(|u| u.to_wall(start.all_day, |t| start.zone.to_local(t)));
            let wr = WallRule { rule, until };
            expand::validate(start.wall, &wr).map_err(bad_rule)?;
            rules.push(wr);
        }
    }

    // RDATE (§3.8.5.2): DATE, DATE-TIME or PERIOD, comma lists, several properties.
    let mut rdates = Vec::new();
    if recurrence_id.is_none() {
        for p in props(c, "RDATE") {
            let is_period = param(p, "VALUE").is_some_and(|v| v.trim().eq_ignore_ascii_case("PERIOD"));
            for v in p.val.as_str().split(',').filter(|v| !v.trim().is_empty()) {
                if is_period || v.contains('/') {
                    let (s, e) =
                        parse_period(v).ok_or_else(|| cx.bad(Some(p), format!("RDATE value '{}' is not a valid period", shorten(v))))?;
                    let s = cx.when_in_series(p, s, &start)?;
                    let end = match e {
                        PeriodEnd::At(raw) => cx.when_in_series(p, raw, &start)?.instant,
                        PeriodEnd::After(len) => {
                            end_of(&s.zone, s.wall, s.instant, len).ok_or_else(|| cx.bad(Some(p), "RDATE period is too long".into()))?
                        }
                    };
                    rdates.push(RDate { start: s, end: Some(end) });
                } else {
                    let raw = cx.time_value(p, v)?;
                    rdates.push(RDate { start: cx.when_in_series(p, raw, &start)?, end: None });
                }
            }
        }
    }

    // EXDATE (§3.8.5.1): several properties, comma lists.
    let mut exdates = Vec::new();
    for p in props(c, "EXDATE") {
        for v in p.val.as_str().split(',').filter(|v| !v.trim().is_empty()) {
            let raw = cx.time_value(p, v)?;
            exdates.push(cx.moment(p, raw, &start)?);
        }
    }

    // Busy status: STATUS (§3.8.1.11), TRANSP (§3.8.2.7), Outlook's busy status.
    let status_v = upper_val(c, "STATUS");
    let transp = upper_val(c, "TRANSP");
    let ms = upper_val(c, "X-MICROSOFT-CDO-BUSYSTATUS");
    let blocks = status_v.as_deref() != Some("CANCELLED") && transp.as_deref() != Some("TRANSPARENT") && ms.as_deref() != Some("FREE");
    let status = if ms.as_deref() == Some("OOF") {
        BusyStatus::BusyUnavailable
    } else if status_v.as_deref() == Some("TENTATIVE") || ms.as_deref() == Some("TENTATIVE") {
        BusyStatus::BusyTentative
    } else {
        BusyStatus::Busy
    };

    let sequence = find_prop(c, "SEQUENCE").and_then(|p| p.val.as_str().trim().parse::<i64>().ok()).unwrap_or(0);
    let dtstamp = find_prop(c, "DTSTAMP").and_then(|p| parse_time(p.val.as_str())).map(|raw| match raw {
        RawTime::Utc(t) => t,
        RawTime::Local(n) => n.and_utc(),
        RawTime::Date(d) => d.and_time(NaiveTime::MIN).and_utc(),
    });
    let summary = find_prop(c, "SUMMARY").map(|p| p.val.as_str().trim().to_string()).filter(|s| !s.is_empty());

    Ok(EventRecord {
        uid,
        line: begin_line.unwrap_or(0),
        rule_line,
        sequence,
        dtstamp,
        recurrence_id,
        this_and_future,
        start,
        length,
        rules,
        rdates,
        exdates,
        blocks,
        status,
        summary,
    })
}
