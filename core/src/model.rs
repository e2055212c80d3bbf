//! Domain model, named with FHIR R4's scheduling terms.
//!
//! * [`Provider`] is the front desk's word for a FHIR `Practitioner` (or
//!   `PractitionerRole`, FHIR R4 §15.4): a display name, an IANA zone, weekly
//!   working hours in local time and a default slot length.
//! * [`Location`] is a FHIR `Location` with its IANA zone.
//! * [`SlotStatus`] is FHIR R4 `SlotStatus` (valueset `slotstatus`).
//! * A [`BusyBlock`] is one busy instance of a calendar event (RFC 5545 VEVENT).
//!
//! All instants are UTC; local times carry the zone they are read in.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// FHIR R4 Slot status codes (<http://hl7.org/fhir/R4/valueset-slotstatus.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlotStatus {
    /// `free`: open for booking.
    Free,
    /// `busy`: booked.
    Busy,
    /// `busy-unavailable`: blocked, not bookable (e.g. the provider's calendar says busy).
    BusyUnavailable,
    /// `busy-tentative`: held tentatively.
    BusyTentative,
    /// `entered-in-error`: the slot was created in error.
    EnteredInError,
}

impl SlotStatus {
    /// The FHIR code, e.g. `busy-unavailable`.
    pub fn code(self) -> &'static str {
        match self {
            SlotStatus::Free => "free",
            SlotStatus::Busy => "busy",
            SlotStatus::BusyUnavailable => "busy-unavailable",
            SlotStatus::BusyTentative => "busy-tentative",
            SlotStatus::EnteredInError => "entered-in-error",
        }
    }

    /// All codes, in FHIR's order.
    pub const ALL: [SlotStatus; 5] = [
        SlotStatus::Free,
        SlotStatus::Busy,
        SlotStatus::BusyUnavailable,
        SlotStatus::BusyTentative,
        SlotStatus::EnteredInError,
    ];
}

impl fmt::Display for SlotStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Error for an unknown slot status code.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a slot status; use one of free, busy, busy-unavailable, busy-tentative, entered-in-error")]
pub struct UnknownSlotStatus(pub String);

impl FromStr for SlotStatus {
    type Err = UnknownSlotStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        SlotStatus::ALL
            .into_iter()
            .find(|st| st.code() == norm)
            .ok_or_else(|| UnknownSlotStatus(s.to_string()))
    }
}

/// One working-hours window on one weekday, in the provider's local time,
/// half-open `[start, end)`. `end` of `00:00` means midnight at the end of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursWindow {
    /// Day of the week (local).
    pub weekday: Weekday,
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time (exclusive); `00:00` stands for 24:00.
    pub end: NaiveTime,
}

/// Weekly working hours in local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingHours {
    /// The windows, sorted by weekday then start.
    pub windows: Vec<HoursWindow>,
}

/// Error in a working-hours specification such as `Mon-Fri 07:00-12:00,13:00-17:00; Sat 08:00-12:00`.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("working hours '{spec}': {reason}")]
pub struct HoursError {
    /// The text that was given.
    pub spec: String,
    /// What is wrong with it, in plain words.
    pub reason: String,
}

impl WorkingHours {
    /// The default: Monday to Friday, 07:00–17:00.
    pub fn default_week() -> Self {
        Self::parse("Mon-Fri 07:00-17:00").expect("default hours parse")
    }

    /// Parses `DAYS RANGES[; DAYS RANGES...]` where DAYS is a weekday (`Mon`),
    /// a range (`Mon-Fri`) or a comma list (`Mon,Wed`), and RANGES is a comma
    /// list of `HH:MM-HH:MM` local times. An end of `24:00` or `00:00` means
    /// midnight at the end of the day.
    ///
    /// # Errors
    /// [`HoursError`] naming the part that cannot be read, or overlapping windows.
    pub fn parse(spec: &str) -> Result<Self, HoursError> {
        let err = |reason: String| HoursError { spec: spec.to_string(), reason };
        let mut windows = Vec::new();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (days, ranges) = part
                .split_once(char::is_whitespace)
                .ok_or_else(|| err(format!("'{part}' needs days then times, e.g. 'Mon-Fri 07:00-17:00'")))?;
            let days = parse_days(days.trim()).map_err(err)?;
            for range in ranges.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                let (a, b) = range
                    .split_once('-')
                    .ok_or_else(|| err(format!("'{range}' is not a time range like 07:00-17:00")))?;
                let start = parse_hhmm(a).ok_or_else(|| err(format!("'{a}' is not a time like 07:00")))?;
                let end = parse_hhmm(b).ok_or_else(|| err(format!("'{b}' is not a time like 17:00")))?;
                if end != NaiveTime::MIN && end <= start {
                    return Err(err(format!("'{range}' ends before it starts")));
                }
                for &weekday in &days {
                    windows.push(HoursWindow { weekday, start, end });
                }
            }
        }
        if windows.is_empty() {
            return Err(err("no working hours given".into()));
        }
        windows.sort_by_key(|w| (w.weekday.num_days_from_monday(), w.start));
        for pair in windows.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.weekday == b.weekday && (a.end == NaiveTime::MIN || a.end > b.start) {
                return Err(err(format!("two ranges overlap on {}", a.weekday)));
            }
        }
        Ok(Self { windows })
    }

    /// Canonical text form, accepted by [`WorkingHours::parse`].
    pub fn to_spec(&self) -> String {
        self.windows
            .iter()
            .map(|w| {
                let end = if w.end == NaiveTime::MIN { "24:00".to_string() } else { w.end.format("%H:%M").to_string() };
                format!("{} {}-{}", w.weekday, w.start.format("%H:%M"), end)
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    if s == "24:00" {
        return Some(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

fn parse_weekday(s: &str) -> Result<Weekday, String> {
    Weekday::from_str(s.trim()).map_err(|_| format!("'{s}' is not a weekday like Mon"))
}

fn parse_days(s: &str) -> Result<Vec<Weekday>, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        if let Some((a, b)) = item.split_once('-') {
            let (a, b) = (parse_weekday(a)?, parse_weekday(b)?);
            let mut d = a;
            loop {
                out.push(d);
                if d == b {
                    break;
                }
                d = d.succ();
            }
        } else {
            out.push(parse_weekday(item)?);
        }
    }
    Ok(out)
}

/// A provider (FHIR Practitioner or PractitionerRole) as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provider {
    /// Store id (stable for the life of the database).
    pub id: i64,
    /// Display name, unique in the practice.
    pub name: String,
    /// The provider's IANA zone; working hours and floating times are read in it.
    #[serde(serialize_with = "ser_tz")]
    pub tz: Tz,
    /// Weekly working hours in local time.
    #[serde(serialize_with = "ser_hours")]
    pub hours: WorkingHours,
    /// Default slot length in minutes.
    pub slot_minutes: u32,
    /// True for the built-in demo practice's providers (synthetic data, removable in one step).
    pub demo: bool,
}

fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

fn ser_hours<S: serde::Serializer>(h: &WorkingHours, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&h.to_spec())
}

/// A location (FHIR Location) with its IANA zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    /// Store id.
    pub id: i64,
    /// Display name, unique in the practice.
    pub name: String,
    /// The location's IANA zone.
    #[serde(serialize_with = "ser_tz")]
    pub tz: Tz,
}

/// The kind of a source (feed) of availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// An iCalendar file (RFC 5545) giving one provider's busy time.
    Ics,
    /// A spreadsheet of published open slots.
    Csv,
    /// A connected system (EHR, scheduling API) whose open slots are synced;
    /// the source's name is the integration's name.
    Integration,
}

impl SourceKind {
    /// Lower-case name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Ics => "ics",
            SourceKind::Csv => "csv",
            SourceKind::Integration => "integration",
        }
    }

    /// Calendar sources publish busy time; availability is the working-hours
    /// grid minus busy blocks. Slot sources publish open slots directly.
    pub fn is_calendar(self) -> bool {
        matches!(self, SourceKind::Ics)
    }
}

impl FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ics" => Ok(SourceKind::Ics),
            "csv" => Ok(SourceKind::Csv),
            "integration" => Ok(SourceKind::Integration),
            other => Err(format!("unknown source kind '{other}'")),
        }
    }
}

/// A source (feed) of availability: for calendars, one provider's feed named
/// by the user (default: the file name without extension).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// Store id.
    pub id: i64,
    /// What the source is.
    pub kind: SourceKind,
    /// The source name shown to staff.
    pub name: String,
    /// The provider a calendar feed belongs to; `None` for multi-provider slot files.
    pub provider_id: Option<i64>,
    /// Last successful import or sync (UTC).
    pub last_sync_at: Option<DateTime<Utc>>,
}

/// The FHIR-style busy status of a calendar instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BusyStatus {
    /// Busy (RFC 5545 `STATUS:CONFIRMED` or none; Outlook `BUSY`).
    Busy,
    /// Tentatively busy (RFC 5545 `STATUS:TENTATIVE`; Outlook `TENTATIVE`).
    BusyTentative,
    /// Away (Outlook `X-MICROSOFT-CDO-BUSYSTATUS:OOF`, out of office).
    BusyUnavailable,
}

impl BusyStatus {
    /// The FHIR slot status code it corresponds to.
    pub fn code(self) -> &'static str {
        match self {
            BusyStatus::Busy => "busy",
            BusyStatus::BusyTentative => "busy-tentative",
            BusyStatus::BusyUnavailable => "busy-unavailable",
        }
    }
}

impl FromStr for BusyStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "busy" => Ok(BusyStatus::Busy),
            "busy-tentative" => Ok(BusyStatus::BusyTentative),
            "busy-unavailable" => Ok(BusyStatus::BusyUnavailable),
            other => Err(format!("unknown busy status '{other}'")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_parse_and_round_trip() {
        let h = WorkingHours::parse("Mon-Fri 07:00-12:00,13:00-17:00; Sat 08:00-12:00").unwrap();
        assert_eq!(h.windows.len(), 11);
        assert_eq!(h.to_spec().split("; ").next().unwrap(), "Mon 07:00-12:00");
        assert_eq!(WorkingHours::parse(&h.to_spec()).unwrap(), h);
        assert_eq!(WorkingHours::default_week().windows.len(), 5);
    }

    #[test]
    fn hours_errors_name_the_part() {
        let e = WorkingHours::parse("Mon-Fri 09:00-08:00").unwrap_err();
        assert!(e.reason.contains("ends before it starts"), "{e}");
        let e = WorkingHours::parse("Funday 09:00-10:00").unwrap_err();
        assert!(e.reason.contains("Funday"), "{e}");
        assert!(WorkingHours::parse("Mon 09:00-12:00,11:00-13:00").is_err());
    }

    #[test]
    fn slot_status_codes() {
        for s in SlotStatus::ALL {
            assert_eq!(s.code().parse::<SlotStatus>().unwrap(), s);
        }
        assert!("open".parse::<SlotStatus>().is_err());
    }
}
