//! Free/busy time (RFC 5545 §3.6.4 VFREEBUSY, §3.8.2.6 FREEBUSY, §3.2.9 FBTYPE), as a CalDAV
//! server answers a `free-busy-query` REPORT (RFC 4791 §7.10).
//!
//! Same pipeline as [`super::parse_ics`] up to the components (byte normalisation, the
//! `icalendar` parser); then every FREEBUSY property of every VFREEBUSY is read: its
//! comma-separated PERIOD values (§3.3.9, `start/end` or `start/duration`), which §3.8.2.6
//! requires in UTC. A period in local or floating time, or unreadable, is reported, never guessed.

use chrono::Duration;

use super::values::{parse_period, PeriodEnd, RawTime};
use super::{find_prop, is_named, normalize, param, props, structure, IcsError};
use crate::import::Skipped;
use crate::model::BusyStatus;
use crate::time::Interval;

/// One FREEBUSY period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeBusyPeriod {
    /// `[start, end)` UTC; never empty.
    pub span: Interval,
    /// FBTYPE (§3.2.9): `None` for `FREE`; `BUSY` (also when the parameter is absent, and for
    /// any value not known, as §3.2.9 requires), `BUSY-TENTATIVE` or `BUSY-UNAVAILABLE`.
    pub fbtype: Option<BusyStatus>,
}

/// The periods of a free/busy reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FreeBusyRead {
    /// Every readable period, in reply order.
    pub periods: Vec<FreeBusyPeriod>,
    /// Periods that could not be read (line, reason naming the value); when not empty the
    /// busy time is not fully known.
    pub unreadable: Vec<Skipped>,
    /// Number of VFREEBUSY components found (0 means the reply held no free/busy time at all).
    pub components: usize,
}

impl FreeBusyRead {
    /// The spans that block booking: every period except `FREE` ones.
    pub fn busy(&self) -> Vec<Interval> {
        self.periods.iter().filter(|p| p.fbtype.is_some()).map(|p| p.span).collect()
    }
}

fn fbtype_of(value: Option<&str>) -> Option<BusyStatus> {
    match value.map(|v| v.trim().to_ascii_uppercase()).as_deref() {
        Some("FREE") => None,
        Some("BUSY-TENTATIVE") => Some(BusyStatus::BusyTentative),
        Some("BUSY-UNAVAILABLE") => Some(BusyStatus::BusyUnavailable),
        // BUSY, absent, or an x-name / iana-token we do not know: §3.2.9 says treat as BUSY.
        _ => Some(BusyStatus::Busy),
    }
}

/// Reads the FREEBUSY periods of every VFREEBUSY in `bytes` (an iCalendar object, UTF-8).
///
/// A nominal duration (`P1D`, `P1W`) in a period counts 24 hours a day: periods are UTC.
///
/// # Errors
/// [`IcsError`] when the text as a whole is not an iCalendar object (empty, not starting
/// with `BEGIN:VCALENDAR`, not UTF-8).
pub fn parse_free_busy(bytes: &[u8]) -> Result<FreeBusyRead, IcsError> {
    let norm = normalize::normalize(bytes)?;
    let parsed = structure::parse(&norm)?;
    let mut out = FreeBusyRead::default();
    for c in parsed.components.iter().filter(|c| is_named(c.name.as_str(), "VFREEBUSY")) {
        out.components += 1;
        let uid = find_prop(c, "UID").map(|p| p.val.as_str().trim().to_string()).filter(|u| !u.is_empty());
        for p in props(c, "FREEBUSY") {
            let fbtype = fbtype_of(param(p, "FBTYPE"));
            let line = norm.orig_line_of(p.name.as_str());
            for value in p.val.as_str().split(',').map(str::trim).filter(|v| !v.is_empty()) {
                let bad = |reason: String| Skipped { line, uid: uid.clone(), reason };
                let Some((start, end)) = parse_period(value) else {
                    out.unreadable.push(bad(format!("FREEBUSY period '{value}' is not a period of time")));
                    continue;
                };
                let RawTime::Utc(start) = start else {
                    out.unreadable.push(bad(format!("FREEBUSY period '{value}' is not in UTC")));
                    continue;
                };
                let end = match end {
                    PeriodEnd::At(RawTime::Utc(e)) => e,
                    PeriodEnd::After(len) if len.is_non_negative() => start + Duration::days(len.days) + len.exact,
                    PeriodEnd::At(_) => {
                        out.unreadable.push(bad(format!("FREEBUSY period '{value}' is not in UTC")));
                        continue;
                    }
                    PeriodEnd::After(_) => {
                        out.unreadable.push(bad(format!("FREEBUSY period '{value}' has a negative length")));
                        continue;
                    }
                };
                if end < start {
                    out.unreadable.push(bad(format!("FREEBUSY period '{value}' ends before it starts")));
                } else if end > start {
                    out.periods.push(FreeBusyPeriod { span: Interval { start, end }, fbtype });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn utc(d: u32, h: u32, mi: u32) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, mi, 0).unwrap()
    }

    #[test]
    fn periods_fbtypes_durations_and_folded_lists() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//EN\r\nBEGIN:VFREEBUSY\r\nDTSTAMP:20260301T000000Z\r\n\
DTSTART:20260303T000000Z\r\nDTEND:20260304T000000Z\r\n\
FREEBUSY:20260303T140000Z/20260303T150000Z,20260303T160000Z/PT30M\r\n\
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260303T170000Z/20260303T1730\r\n 00Z\r\n\
FREEBUSY;FBTYPE=FREE:20260303T180000Z/20260303T190000Z\r\n\
FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20260303T200000Z/20260303T210000Z\r\n\
FREEBUSY;FBTYPE=X-OUT-TO-LUNCH:20260303T120000Z/20260303T123000Z\r\n\
FREEBUSY:20260303T090000/20260303T100000,20260303T230000Z/20260303T220000Z,nonsense\r\n\
END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        let read = parse_free_busy(text.as_bytes()).unwrap();
        assert_eq!(read.components, 1);
        let got: Vec<_> = read.periods.iter().map(|p| (p.span.start, p.span.end, p.fbtype)).collect();
        assert_eq!(
            got,
            vec![
                (utc(3, 14, 0), utc(3, 15, 0), Some(BusyStatus::Busy)),
                (utc(3, 16, 0), utc(3, 16, 30), Some(BusyStatus::Busy)),
                (utc(3, 17, 0), utc(3, 17, 30), Some(BusyStatus::BusyTentative)),
                (utc(3, 18, 0), utc(3, 19, 0), None),
                (utc(3, 20, 0), utc(3, 21, 0), Some(BusyStatus::BusyUnavailable)),
                (utc(3, 12, 0), utc(3, 12, 30), Some(BusyStatus::Busy)),
            ]
        );
        // FREE does not block.
        assert_eq!(read.busy().len(), 5);
        assert!(!read.busy().contains(&Interval { start: utc(3, 18, 0), end: utc(3, 19, 0) }));
        let reasons: Vec<_> = read.unreadable.iter().map(|s| (s.line, s.reason.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (Some(14), "FREEBUSY period '20260303T090000/20260303T100000' is not in UTC"),
                (Some(14), "FREEBUSY period '20260303T230000Z/20260303T220000Z' ends before it starts"),
                (Some(14), "FREEBUSY period 'nonsense' is not a period of time"),
            ]
        );
    }

    #[test]
    fn no_vfreebusy_and_not_a_calendar() {
        let read = parse_free_busy(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n").unwrap();
        assert_eq!((read.components, read.periods.len()), (0, 0));
        assert!(matches!(parse_free_busy(b"<?xml version=\"1.0\"?><multistatus/>"), Err(IcsError::NotCalendar { line: 1 })));
    }
}
