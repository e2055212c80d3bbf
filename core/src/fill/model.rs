//! The waitlist's data: who waits, for what, how urgently, and when they can come.
//!
//! Patient details (name, phone, email, ids in source systems) live only in the
//! encrypted store; they never go into a log line, an error message or a
//! language-model request.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize, Serializer};

use crate::time::ser_instant;

/// How soon a patient needs to be seen. Tiers never mix in a ranking: every
/// urgent patient comes before every soon one, every soon one before every routine one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// No clinical hurry (tier 0).
    #[default]
    Routine,
    /// Should be seen soon (tier 1).
    Soon,
    /// Should be seen as early as possible (tier 2).
    Urgent,
}

impl Priority {
    /// The code: `routine`, `soon` or `urgent`.
    pub fn code(self) -> &'static str {
        match self {
            Priority::Routine => "routine",
            Priority::Soon => "soon",
            Priority::Urgent => "urgent",
        }
    }

    /// The tier number: 0 routine, 1 soon, 2 urgent (higher is ranked first).
    pub fn tier(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "routine" | "" => Ok(Priority::Routine),
            "soon" => Ok(Priority::Soon),
            "urgent" => Ok(Priority::Urgent),
            _ => Err(format!("'{s}' is not a priority; use routine, soon or urgent")),
        }
    }
}

/// A time-of-day window in the patient's zone, half-open `[start, end)`;
/// an `end` of `00:00` stands for midnight at the end of the day (written `24:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalWindow {
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time (exclusive); `00:00` means 24:00.
    pub end: NaiveTime,
}

impl LocalWindow {
    /// Reads `HH:MM-HH:MM` (end `24:00` allowed). The end must come after the start
    /// (a window across midnight is two windows).
    ///
    /// # Errors
    /// A plain-words description of what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, b) = s.trim().split_once('-').ok_or_else(|| format!("'{s}' is not a time range like 08:00-12:00"))?;
        let t = |x: &str| -> Result<NaiveTime, String> {
            let x = x.trim();
            if x == "24:00" {
                return Ok(NaiveTime::MIN);
            }
            NaiveTime::parse_from_str(x, "%H:%M").map_err(|_| format!("'{x}' is not a time like 08:00"))
        };
        let (start, end) = (t(a)?, t(b)?);
        if end != NaiveTime::MIN && end <= start {
            return Err(format!("'{s}' ends before it starts; a range across midnight is two ranges (e.g. 20:00-24:00 and 00:00-02:00)"));
        }
        Ok(LocalWindow { start, end })
    }

    /// `HH:MM-HH:MM`, the form [`LocalWindow::parse`] reads.
    pub fn spec(&self) -> String {
        let end = if self.end == NaiveTime::MIN { "24:00".to_string() } else { self.end.format("%H:%M").to_string() };
        format!("{}-{end}", self.start.format("%H:%M"))
    }

    /// A word for staff: `mornings` for a window inside 05:00–12:00, `afternoons`
    /// inside 12:00–17:00, `evenings` inside 17:00–24:00, else the range itself.
    pub fn describe(&self) -> String {
        let h = |x: u32| NaiveTime::from_hms_opt(x, 0, 0).expect("hour");
        let end_is = |limit: NaiveTime| self.end != NaiveTime::MIN && self.end <= limit;
        if self.start >= h(5) && end_is(h(12)) {
            "mornings".into()
        } else if self.start >= h(12) && end_is(h(17)) {
            "afternoons".into()
        } else if self.start >= h(17) {
            "evenings".into()
        } else {
            self.spec()
        }
    }
}

impl Serialize for LocalWindow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.spec())
    }
}

impl<'de> Deserialize<'de> for LocalWindow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        LocalWindow::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What the patient waits for. `None` / empty means "any".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Wants {
    /// Visit / service type (compared case-insensitively with the slot's); `None` = any.
    pub service_type: Option<String>,
    /// Provider display name (case-insensitive); `None` = any provider.
    pub provider: Option<String>,
    /// Location names (case-insensitive); empty = any location.
    pub locations: Vec<String>,
    /// Minutes the visit needs; `None` = any slot length will do.
    pub duration_minutes: Option<u32>,
}

/// When the patient can come. All dates and times are local to the patient's zone.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Preferences {
    /// Weekdays the patient cannot come (local).
    pub blocked_weekdays: Vec<Weekday>,
    /// Dates the patient cannot come (local dates in the patient's zone).
    pub blocked_dates: Vec<NaiveDate>,
    /// Times of day the patient can come (local); empty = any time.
    pub preferred_times: Vec<LocalWindow>,
    /// Least notice the patient needs, in hours (0 = any).
    pub min_notice_hours: u32,
    /// Last acceptable local date (inclusive); `None` = no limit.
    pub latest_date: Option<NaiveDate>,
}

/// One patient on the waitlist, without its store id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Patient {
    /// The name staff see (never logged).
    pub display_name: String,
    /// Phone number as given (never logged).
    pub phone: Option<String>,
    /// E-mail address as given (never logged).
    pub email: Option<String>,
    /// The patient's IANA zone: blocked days, preferred times and the latest date are read in it.
    #[serde(serialize_with = "ser_tz")]
    pub tz: Tz,
    /// The patient's id in each source system: integration name → patient id (what booking sends).
    pub source_ids: BTreeMap<String, String>,
    /// What the patient waits for.
    pub wants: Wants,
    /// How urgently.
    pub priority: Priority,
    /// When the patient was put on the waitlist (UTC).
    #[serde(serialize_with = "ser_instant")]
    pub added_at: DateTime<Utc>,
    /// When the patient can come.
    pub prefs: Preferences,
}

fn ser_tz<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Patient {
    /// A patient with only the required fields: any visit, routine, no preferences.
    pub fn new(display_name: &str, tz: Tz, added_at: DateTime<Utc>) -> Self {
        Patient {
            display_name: display_name.trim().to_string(),
            phone: None,
            email: None,
            tz,
            source_ids: BTreeMap::new(),
            wants: Wants::default(),
            priority: Priority::Routine,
            added_at,
            prefs: Preferences::default(),
        }
    }

    /// Checks what the store cannot: a name, a positive duration, non-empty wanted names.
    ///
    /// # Errors
    /// `(field, problem)` naming the CSV column / CLI option and what to do; never the value of a contact field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.display_name.trim().is_empty() {
            return Err(("name", "a patient needs a name".into()));
        }
        if self.wants.duration_minutes == Some(0) {
            return Err(("duration_minutes", "the visit length must be at least 1 minute (leave it empty for any length)".into()));
        }
        if self.wants.locations.iter().any(|l| l.trim().is_empty()) {
            return Err(("locations", "a location name is empty".into()));
        }
        for (k, v) in &self.source_ids {
            if k.trim().is_empty() || v.trim().is_empty() {
                return Err(("patient_ids", "each entry needs an integration name and a patient id, like 'Main St Epic=E1234'".into()));
            }
        }
        Ok(())
    }
}

/// A patient on the waitlist with its store id (the "patient id" staff use in `options --patient`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitlistEntry {
    /// Store id (`waitlist.id`).
    pub id: i64,
    /// The patient and what they wait for.
    #[serde(flatten)]
    pub patient: Patient,
}

/// `any` (any case) or empty means "no restriction".
pub(crate) fn is_any(s: &str) -> bool {
    let s = s.trim();
    s.is_empty() || s.eq_ignore_ascii_case("any")
}

/// Reads `integration=patient id` pairs separated by `;`.
///
/// # Errors
/// A plain-words problem (without the ids).
pub fn parse_source_ids(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for item in s.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| "each entry needs an integration name and a patient id, like 'Main St Epic=E1234'".to_string())?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err("each entry needs an integration name and a patient id, like 'Main St Epic=E1234'".into());
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("the integration '{k}' is named twice"));
        }
    }
    Ok(out)
}

/// Reads weekdays separated by `;` or `,` (`Sat;Sun`, `Mon`).
///
/// # Errors
/// The weekday that cannot be read.
pub fn parse_weekdays(s: &str) -> Result<Vec<Weekday>, String> {
    let mut out = Vec::new();
    for item in s.split([';', ',']).map(str::trim).filter(|i| !i.is_empty()) {
        let d = Weekday::from_str(item).map_err(|_| format!("'{item}' is not a weekday like Sat"))?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Reads local dates `YYYY-MM-DD` separated by `;` or `,`.
///
/// # Errors
/// The date that cannot be read.
pub fn parse_dates(s: &str) -> Result<Vec<NaiveDate>, String> {
    s.split([';', ',']).map(str::trim).filter(|i| !i.is_empty()).map(parse_date).collect()
}

/// Reads one local date `YYYY-MM-DD`.
///
/// # Errors
/// The date that cannot be read.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| format!("'{}' is not a date like 2026-12-24", s.trim()))
}

/// Reads time windows `HH:MM-HH:MM` separated by `;` or `,`.
///
/// # Errors
/// The window that cannot be read.
pub fn parse_windows(s: &str) -> Result<Vec<LocalWindow>, String> {
    s.split([';', ',']).map(str::trim).filter(|i| !i.is_empty()).map(LocalWindow::parse).collect()
}

/// Reads names separated by `;` (`any` or empty = none).
pub fn parse_names(s: &str) -> Vec<String> {
    if is_any(s) {
        return vec![];
    }
    s.split(';').map(str::trim).filter(|i| !i.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_describe() {
        let w = LocalWindow::parse("08:00-12:00").unwrap();
        assert_eq!(w.describe(), "mornings");
        assert_eq!(LocalWindow::parse("13:00-16:30").unwrap().describe(), "afternoons");
        assert_eq!(LocalWindow::parse("18:00-24:00").unwrap().describe(), "evenings");
        assert_eq!(LocalWindow::parse("18:00-24:00").unwrap().spec(), "18:00-24:00");
        assert_eq!(LocalWindow::parse("10:00-14:00").unwrap().describe(), "10:00-14:00");
        assert!(LocalWindow::parse("12:00-08:00").unwrap_err().contains("ends before it starts"));
        assert!(LocalWindow::parse("8am-noon").is_err());
    }

    #[test]
    fn lists_parse() {
        assert_eq!(parse_weekdays("Sat; sun,Sat").unwrap(), vec![Weekday::Sat, Weekday::Sun]);
        assert!(parse_weekdays("Caturday").unwrap_err().contains("Caturday"));
        let ids = parse_source_ids("Main St Epic=E1; athena = 42").unwrap();
        assert_eq!(ids.get("athena").map(String::as_str), Some("42"));
        assert_eq!(ids.len(), 2);
        assert!(parse_source_ids("E1").is_err());
        assert_eq!(parse_names("any"), Vec::<String>::new());
        assert_eq!(parse_names("North; South"), vec!["North".to_string(), "South".to_string()]);
        assert_eq!("URGENT".parse::<Priority>().unwrap(), Priority::Urgent);
        assert!(Priority::Urgent.tier() > Priority::Soon.tier() && Priority::Soon.tier() > Priority::Routine.tier());
    }
}
