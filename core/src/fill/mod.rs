//! Cancellation fill: when a slot frees up, who on the waitlist should get it,
//! and, the other way round, which free slots suit one waiting patient.
//!
//! * [`model`]: the waitlist's data (patients, what they wait for, preferences).
//! * [`filter`]: exact, pure rules deciding whether a slot suits a patient, with reason codes.
//! * [`rank`]: the deterministic ranking (priority tier first, then a documented score) and the karma bonus.
//! * [`llm`]: optional re-ranking by a language model on de-identified features, with fallback.
//! * [`csv_import`]: reading a waitlist spreadsheet.
//! * [`offer`]: holding a slot for a patient while staff call, booking it into its source
//!   (through [`crate::sync::book_slot`]) or releasing it, with the audit log and fill statistics.

pub mod csv_import;
pub mod filter;
pub mod llm;
pub mod model;
pub mod notice;
pub mod offer;
pub mod rank;
pub mod settings;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::availability::{self, SlotView};
use crate::model::SlotStatus;
use crate::store::{Store, StoreError};
use crate::time::{ser_instant, Interval, Zone};

pub use filter::{FillSlot, Rejection};
pub use llm::{LlmSettings, RankedBy};
pub use crate::store::holds::{Actor, AuditAction, AuditEntry, FillStats, Hold, Opening, ProviderFillStats};
pub use model::{LocalWindow, Patient, Preferences, Priority, WaitlistEntry, Wants};
pub use offer::{book_offer, offer_slot, release_offer, OfferBooked, OfferError, DEFAULT_HOLD_MINUTES};
pub use rank::{karma_bonus, Candidate};
pub use settings::{FillSettings, LlmConfig, QuietHours};

/// How many suggestions and options are returned (3).
pub const TOP: usize = 3;
/// How far ahead [`options_for_patient`] looks for free slots (30 days).
pub const OPTIONS_DAYS: i64 = 30;

/// Errors of cancellation fill. Texts are for front-desk staff and carry no patient detail.
#[derive(Debug, Error)]
pub enum FillError {
    /// A store error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No waitlist entry with this id.
    #[error("there is no patient {0} on the waitlist; see `medharmony waitlist list`")]
    UnknownPatient(i64),
    /// The slot id is not one `medharmony slots` lists.
    #[error("'{0}' is not a slot id; use an id as `medharmony slots --status free` lists it, e.g. slot-42")]
    BadSlotId(String),
    /// The slot does not exist or is not free now.
    #[error("slot {0} is not free now (booked, held or blocked) or does not exist; see `medharmony slots --status free`")]
    SlotNotFree(String),
    /// A waitlist spreadsheet row that cannot be read (nothing was imported).
    #[error("{file} line {line}, column '{field}': {problem}; nothing was imported")]
    CsvRow {
        /// The file.
        file: String,
        /// 1-based line number (1 is the header line).
        line: u64,
        /// The column's name as the file spells it (empty when the whole line is unreadable).
        field: String,
        /// What is wrong, in plain words (never a name, phone, e-mail or patient id).
        problem: String,
    },
    /// A waitlist spreadsheet that cannot be read at all (nothing was imported).
    #[error("{file}: {problem}; nothing was imported")]
    CsvFile {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

/// One suggested patient for a slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// Waitlist id (`medharmony options --patient ID`).
    pub patient_id: i64,
    /// The patient's display name (staff output only; never logged).
    pub display_name: String,
    /// Phone, to call the patient (staff output only).
    pub phone: Option<String>,
    /// The patient's id in the slot's source system, when the waitlist knows it (what `book --patient` needs).
    pub source_patient_id: Option<String>,
    /// Priority tier.
    pub priority: Priority,
    /// Deterministic score within the tier ([`rank`]).
    pub score: i64,
    /// For staff, e.g. `Waiting 41 days · prefers mornings · urgent`.
    pub reason: String,
    /// The model's short reason when it ranked this patient (`None` otherwise).
    pub llm_reason: Option<String>,
    /// Karma bonus for taking the slot at this notice ([`karma_bonus`]).
    pub karma_bonus: u32,
    /// Whole days on the waitlist.
    pub days_waiting: i64,
    /// Whole hours from now to the slot's start.
    pub notice_hours: i64,
}

/// The answer of [`suggest_for_slot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestions {
    /// The slot being filled.
    pub slot: FillSlot,
    /// At most [`TOP`] patients, best first.
    pub suggestions: Vec<Suggestion>,
    /// How many waiting patients the slot suits.
    pub eligible: usize,
    /// How many patients are on the waitlist.
    pub waiting: usize,
    /// `deterministic` or `llm`.
    pub ranked_by: RankedBy,
    /// Why the language model's order was not used, when it was asked; `None` otherwise.
    pub fallback_reason: Option<String>,
}

/// One free slot offered to a patient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotOption {
    /// The slot.
    pub slot: FillSlot,
    /// Start in the patient's zone, `YYYY-MM-DD HH:MM` (display only).
    pub patient_local_start: String,
    /// Karma bonus for taking it at this notice.
    pub karma_bonus: u32,
    /// Whole hours from now to its start.
    pub notice_hours: i64,
    /// For staff, e.g. `inside preferred mornings · 26 h notice`.
    pub reason: String,
}

/// The answer of [`options_for_patient`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Options {
    /// The waitlist id.
    pub patient_id: i64,
    /// At most [`TOP`] free slots, earliest first.
    pub options: Vec<SlotOption>,
    /// How many free slots in the next [`OPTIONS_DAYS`] days suit the patient.
    pub suitable: usize,
    /// Start of the window searched (UTC, = now).
    #[serde(serialize_with = "ser_instant")]
    pub from: DateTime<Utc>,
    /// End of the window searched (UTC, exclusive).
    #[serde(serialize_with = "ser_instant")]
    pub to: DateTime<Utc>,
}

/// The free slot `slot_id` (as `medharmony slots` lists it: `slot-<store id>` for a published
/// or synced slot, `grid-<provider id>-<start YYYYMMDDTHHMMSSZ>` for a working-hours cell),
/// with its service type. Only a slot that [`availability::slots`] lists as `free` now is returned.
///
/// # Errors
/// [`FillError::BadSlotId`], [`FillError::SlotNotFree`], store errors.
pub fn free_slot(store: &Store, slot_id: &str) -> Result<FillSlot, FillError> {
    let id = slot_id.trim();
    let bad = || FillError::BadSlotId(id.to_string());
    let not_free = || FillError::SlotNotFree(id.to_string());
    let (provider, window, service_type) = if let Some(n) = id.strip_prefix("slot-") {
        let n: i64 = n.parse().map_err(|_| bad())?;
        let b = store.slot_for_booking(n)?.ok_or_else(not_free)?;
        let p = store.provider(&b.slot.provider)?.ok_or_else(not_free)?;
        (p, b.slot.span, b.slot.service_type)
    } else if let Some(rest) = id.strip_prefix("grid-") {
        let (pid, ts) = rest.split_once('-').ok_or_else(bad)?;
        let pid: i64 = pid.parse().map_err(|_| bad())?;
        let start = chrono::NaiveDateTime::parse_from_str(ts, "%Y%m%dT%H%M%SZ").map_err(|_| bad())?.and_utc();
        let p = store.providers()?.into_iter().find(|p| p.id == pid).ok_or_else(not_free)?;
        let span = Interval { start, end: start + Duration::minutes(i64::from(p.slot_minutes.max(1))) };
        (p, span, None)
    } else {
        return Err(bad());
    };
    let view: SlotView = availability::slots(store, Some(&provider), window, Some(SlotStatus::Free))?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(not_free)?;
    Ok(FillSlot { id: view.id, provider: view.provider, location: view.location, span: Interval { start: view.start, end: view.end }, service_type })
}

/// The top [`TOP`] waiting patients for the free slot `slot_id` at `now`: every waitlist entry
/// the slot suits ([`filter`]), ranked deterministically ([`rank`]); when `llm` is given, the
/// model re-ranks the top N within tiers ([`llm`]), falling back to the deterministic order
/// with a reason. Reads only; books nothing.
///
/// # Errors
/// The errors of [`free_slot`]; store errors.
pub fn suggest_for_slot(store: &Store, slot_id: &str, now: DateTime<Utc>, llm: Option<&LlmSettings>) -> Result<Suggestions, FillError> {
    let slot = free_slot(store, slot_id)?;
    let entries = store.waitlist()?;
    let ranked = rank::rank(&entries, &slot, now);
    let eligible = ranked.len();
    let source = store.slot_for_booking(slot_id.trim().strip_prefix("slot-").and_then(|n| n.parse().ok()).unwrap_or(-1))?;
    let integration = source.and_then(|b| b.integration).map(|i| i.name);
    let (order, ranked_by, fallback_reason) = match llm {
        Some(settings) if !ranked.is_empty() => {
            let r = llm::rerank(settings, &slot, ranked);
            (r.order, r.ranked_by, r.fallback_reason)
        }
        _ => (ranked.into_iter().map(|c| (c, None)).collect(), RankedBy::Deterministic, None),
    };
    let suggestions = order
        .into_iter()
        .take(TOP)
        .map(|(c, llm_reason)| Suggestion {
            patient_id: c.entry.id,
            source_patient_id: integration.as_ref().and_then(|name| {
                c.entry.patient.source_ids.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
            }),
            display_name: c.entry.patient.display_name,
            phone: c.entry.patient.phone,
            priority: c.priority,
            score: c.score,
            reason: c.reason,
            llm_reason,
            karma_bonus: c.karma_bonus,
            days_waiting: c.days_waiting,
            notice_hours: c.notice_hours,
        })
        .collect();
    Ok(Suggestions { slot, suggestions, eligible, waiting: entries.len(), ranked_by, fallback_reason })
}

/// The first [`TOP`] free slots in `[now, now + 30 days)` that suit waiting patient `patient_id`
/// ([`filter`]), earliest first (ties: provider name, slot id). Free slots come from
/// [`availability::slots`] with status `free`; a published slot's service type from the store.
///
/// # Errors
/// [`FillError::UnknownPatient`]; store errors.
pub fn options_for_patient(store: &Store, patient_id: i64, now: DateTime<Utc>) -> Result<Options, FillError> {
    let entry = store.waitlist_entry(patient_id)?.ok_or(FillError::UnknownPatient(patient_id))?;
    let window = Interval { start: now, end: now + Duration::days(OPTIONS_DAYS) };
    let types: std::collections::HashMap<String, Option<String>> =
        store.published_slots(None, window)?.into_iter().map(|s| (format!("slot-{}", s.id), s.service_type)).collect();
    let zone = Zone::Iana(entry.patient.tz);
    let mut suitable: Vec<FillSlot> = availability::slots(store, None, window, Some(SlotStatus::Free))?
        .into_iter()
        .filter(|v| v.start >= now)
        .map(|v| FillSlot {
            service_type: types.get(&v.id).cloned().flatten(),
            id: v.id,
            provider: v.provider,
            location: v.location,
            span: Interval { start: v.start, end: v.end },
        })
        .filter(|s| filter::suits(&entry.patient, s, now))
        .collect();
    suitable.sort_by(|a, b| (a.span.start, &a.provider, &a.id).cmp(&(b.span.start, &b.provider, &b.id)));
    let count = suitable.len();
    let options = suitable
        .into_iter()
        .take(TOP)
        .map(|slot| {
            let notice = slot.span.start - now;
            let pref = match filter::preferred_window(&entry.patient, slot.span) {
                Some(w) => format!("inside preferred {}", w.describe()),
                None => "any time suits".to_string(),
            };
            SlotOption {
                patient_local_start: zone.to_local(slot.span.start).format("%Y-%m-%d %H:%M").to_string(),
                karma_bonus: karma_bonus(notice),
                notice_hours: notice.num_hours(),
                reason: format!("{pref} · {} h notice", notice.num_hours()),
                slot,
            }
        })
        .collect();
    Ok(Options { patient_id, options, suitable: count, from: window.start, to: window.end })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fill::model::parse_windows;
    use crate::model::WorkingHours;
    use crate::store::key::DbKey;
    use crate::store::NewSlot;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn slot(provider: &str, loc: Option<&str>, start: &str, end: &str, st: Option<&str>) -> NewSlot {
        NewSlot {
            provider: provider.into(),
            location: loc.map(str::to_string),
            span: Interval::new(t(start), t(end)).unwrap(),
            status: SlotStatus::Free,
            service_type: st.map(str::to_string),
            tz_if_new: None,
        }
    }

    /// A practice in New York with three published slots and a small waitlist.
    fn practice(dir: &std::path::Path) -> (Store, Vec<i64>) {
        let now = t("2026-12-01T12:00:00Z");
        let mut store = Store::open(&dir.join("f.db"), &DbKey::Raw([9; 32])).unwrap();
        let ny = chrono_tz::America::New_York;
        store.add_provider("Dr. Rivera", ny, &WorkingHours::parse("Mon-Fri 08:00-17:00").unwrap(), 30, now).unwrap();
        let win = Interval::new(t("2026-12-01T00:00:00Z"), t("2027-01-15T00:00:00Z")).unwrap();
        let slots = [
            // Wed 2026-12-02 09:00-09:30 EST: a morning follow-up.
            slot("Dr. Rivera", Some("North"), "2026-12-02T14:00:00Z", "2026-12-02T14:30:00Z", Some("Follow-up")),
            // Thu 2026-12-03 14:00-15:00 EST: an afternoon new-patient visit.
            slot("Dr. Rivera", Some("North"), "2026-12-03T19:00:00Z", "2026-12-03T20:00:00Z", Some("New patient")),
            // Wed 2027-01-13: beyond 30 days.
            slot("Dr. Rivera", Some("North"), "2027-01-13T14:00:00Z", "2027-01-13T14:30:00Z", Some("Follow-up")),
        ];
        store.import_slots("schedule", Some(ny), win, &slots, true, now).unwrap();
        let mut ids = vec![];
        let mut add = |name: &str, prio: Priority, added: &str, windows: &str, wants_type: Option<&str>| {
            let mut p = Patient::new(name, ny, t(added));
            p.priority = prio;
            p.phone = Some("555-0100".into());
            p.prefs.preferred_times = parse_windows(windows).unwrap();
            p.wants.service_type = wants_type.map(str::to_string);
            ids.push(store.add_waitlist(&p, now).unwrap().id);
        };
        add("Routine Long", Priority::Routine, "2026-06-01T00:00:00Z", "", None);
        add("Urgent Morning", Priority::Urgent, "2026-11-28T00:00:00Z", "08:00-12:00", Some("follow-up"));
        add("Soon Afternoon", Priority::Soon, "2026-10-01T00:00:00Z", "13:00-17:00", None);
        add("Soon Any", Priority::Soon, "2026-11-01T00:00:00Z", "", Some("New patient"));
        (store, ids)
    }

    #[test]
    fn suggestions_for_a_published_slot() {
        let dir = tempfile::tempdir().unwrap();
        let (store, ids) = practice(dir.path());
        let free = availability::slots(&store, None, Interval::new(t("2026-12-02T00:00:00Z"), t("2026-12-03T00:00:00Z")).unwrap(), None).unwrap();
        let id = free.iter().find(|s| s.source == "schedule").unwrap().id.clone();
        let s = suggest_for_slot(&store, &id, t("2026-12-01T12:00:00Z"), None).unwrap();
        assert_eq!(s.slot.service_type.as_deref(), Some("Follow-up"));
        // Morning follow-up: Urgent Morning (urgent), then Routine Long (routine; any type, any time).
        // Soon Afternoon is outside her window, Soon Any wants a new-patient visit.
        let got: Vec<i64> = s.suggestions.iter().map(|x| x.patient_id).collect();
        assert_eq!(got, vec![ids[1], ids[0]]);
        assert_eq!((s.eligible, s.waiting, s.ranked_by, s.fallback_reason.as_deref()), (2, 4, RankedBy::Deterministic, None));
        assert_eq!(s.suggestions[0].reason, "Waiting 3 days · prefers mornings · urgent");
        assert_eq!(s.suggestions[0].karma_bonus, 20, "26 h notice");
        assert!(matches!(suggest_for_slot(&store, "slot-999", t("2026-12-01T12:00:00Z"), None), Err(FillError::SlotNotFree(_))));
        assert!(matches!(suggest_for_slot(&store, "42", t("2026-12-01T12:00:00Z"), None), Err(FillError::BadSlotId(_))));
    }

    #[test]
    fn options_for_a_patient_within_30_days() {
        let dir = tempfile::tempdir().unwrap();
        let (store, ids) = practice(dir.path());
        let now = t("2026-12-01T12:00:00Z");
        // Routine Long takes anything: both slots in the next 30 days, not the one in January.
        let o = options_for_patient(&store, ids[0], now).unwrap();
        let starts: Vec<String> = o.options.iter().map(|x| crate::time::fmt_instant(x.slot.span.start)).collect();
        assert_eq!(starts, ["2026-12-02T14:00:00Z", "2026-12-03T19:00:00Z"]);
        assert_eq!(o.options[0].patient_local_start, "2026-12-02 09:00");
        assert_eq!(o.options[0].karma_bonus, 20);
        assert_eq!(o.options[1].karma_bonus, 10, "55 h notice: under 72 h");
        // Soon Afternoon: only the Thursday afternoon slot.
        let o = options_for_patient(&store, ids[2], now).unwrap();
        assert_eq!(o.options.len(), 1);
        assert_eq!(o.options[0].reason, "inside preferred afternoons · 55 h notice");
        assert!(matches!(options_for_patient(&store, 999, now), Err(FillError::UnknownPatient(999))));
    }
}
