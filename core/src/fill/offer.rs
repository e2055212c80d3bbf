//! Offer and book (issue "Cancellation fill"): staff pick a waiting patient for a free slot, the
//! slot is held while they call, then booked into its source for that patient, or released.
//!
//! * [`offer_slot`]: the slot must be `free` in the cache. A slot synced from an integration is
//!   first **re-read at its source** (the connector's `availability` for the slot's exact
//!   `[start, end)`, the same read a sync makes, so every kind of system is covered): still listed
//!   `free` there → the fresh read is written through the store's one write path and the slot is
//!   held; listed with another status → that status is written and the offer is refused; not
//!   listed at all → the slot is marked `busy` and the offer is refused. An incomplete read or a
//!   source that cannot be reached refuses the offer (nothing is held). A slot from an imported
//!   file (.csv) is held without a re-read (there is no source to ask). A working-hours cell
//!   (`grid-…`) cannot be held. The hold lasts [`DEFAULT_HOLD_MINUTES`] unless told otherwise; it is
//!   shown as FHIR `busy-tentative` everywhere until it expires (see [`crate::store::holds`]).
//! * [`book_offer`]: books the held patient through [`crate::sync::book_slot`] with the patient's
//!   id for the slot's integration from the waitlist entry's `source_ids` (integration name →
//!   patient id, matched without regard to case). On success the hold is released, a fill is
//!   recorded and the patient is **taken off the waitlist**: the waitlist keeps only people still
//!   waiting; the history (who was booked into which slot, when, by whom) stays in `fills` and the
//!   audit log by waitlist id, and ids are never reused (migration 9). When the source says the
//!   slot was taken, the hold is dropped and the patient stays on the waitlist.
//! * [`release_offer`]: frees the hold.
//!
//! Offer, book and release need a staff name ([`Actor::is_named`]); each writes an audit row.

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::connector::{Booked, Connector, ConnectorError};
use crate::store::holds::{Actor, Hold};
use crate::store::integrations::Integration;
use crate::store::{Store, StoreError};
use crate::sync::{book_slot, parse_slot_id, BookError};
use crate::time::ser_instant;

/// How long a hold lasts unless the offer says otherwise (15 minutes).
pub const DEFAULT_HOLD_MINUTES: i64 = 15;
/// The longest hold an offer may ask for (240 minutes).
pub const MAX_HOLD_MINUTES: i64 = 240;

/// Why an offer, booking or release did not happen, in plain words for staff (no patient detail).
#[derive(Debug, Error)]
pub enum OfferError {
    /// Offer, book and release need the staff member's name.
    #[error("say who is at the desk: give --staff NAME or set MEDHARMONY_STAFF (it is written to the audit log)")]
    NoStaff,
    /// Not a slot id.
    #[error("'{0}' is not a slot id; use an id as `medharmony slots` lists it, e.g. slot-42")]
    BadSlotId(String),
    /// No such slot in the cache.
    #[error("there is no slot {0}; list slots with `medharmony slots`")]
    NoSuchSlot(String),
    /// A working-hours cell: nothing to hold or book into.
    #[error("this time comes from a calendar and working hours, so it cannot be held or booked here; book it in the provider's own calendar")]
    WorkingHours,
    /// An imported slot cannot be booked into a source.
    #[error("This time comes from an imported file; book it in the provider's own system")]
    Imported,
    /// No such waiting patient.
    #[error("there is no patient {0} on the waitlist; see `medharmony waitlist list`")]
    UnknownPatient(i64),
    /// Hold length out of range.
    #[error("a hold lasts from 1 to {MAX_HOLD_MINUTES} minutes, not {0}")]
    BadMinutes(i64),
    /// The slot is not free in the cache, or held already.
    #[error("{0} is not free now (booked, held or blocked); pick another time")]
    NotFree(String),
    /// The source says the slot is taken (or no longer lists it); it was marked so.
    #[error("{slot} is no longer free in {system}: someone else has it. It will not be offered again; pick another time")]
    TakenAtSource {
        /// `slot-<n>`.
        slot: String,
        /// The integration's name.
        system: String,
    },
    /// The source could not be asked; nothing was held.
    #[error("could not check {slot} with {system}, so it was not held: {detail}")]
    NotChecked {
        /// `slot-<n>`.
        slot: String,
        /// The integration's name.
        system: String,
        /// What went wrong, in plain words.
        detail: String,
    },
    /// No hold to book or release.
    #[error("{0} is not held for anyone; offer it first with `medharmony offer --slot ID --patient ID`")]
    NotHeld(String),
    /// The hold ran out before booking.
    #[error("the hold on {0} ran out; offer it again with `medharmony offer` (it checks the time with its system again)")]
    HoldExpired(String),
    /// The waitlist has no id of this patient in the slot's system.
    #[error("patient {patient} has no patient id for {integration} on the waitlist; add it (waitlist --patient-id \"{integration}=ID\") and book again")]
    NoPatientId {
        /// Waitlist id.
        patient: i64,
        /// The integration's name.
        integration: String,
    },
    /// Booking at the source failed (see [`BookError`]).
    #[error(transparent)]
    Book(#[from] BookError),
    /// A store error.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The answer of [`book_offer`], as `medharmony book-offer --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferBooked {
    /// `slot-<n>`.
    pub slot: String,
    /// The waitlist id of the patient booked (now off the waitlist).
    pub patient_id: i64,
    /// The integration booked into.
    pub integration: String,
    /// The source's answer.
    #[serde(flatten)]
    pub booked: Booked,
    /// When (UTC).
    #[serde(serialize_with = "ser_instant")]
    pub booked_at: DateTime<Utc>,
}

fn slot_number(slot_id: &str) -> Result<i64, OfferError> {
    let id = slot_id.trim();
    if id.starts_with("grid-") {
        return Err(OfferError::WorkingHours);
    }
    parse_slot_id(id).ok_or_else(|| OfferError::BadSlotId(id.to_string()))
}

fn need_staff(actor: &Actor) -> Result<(), OfferError> {
    if actor.is_named() {
        Ok(())
    } else {
        Err(OfferError::NoStaff)
    }
}

/// The patient's id in `integ` from the waitlist `source_ids` (integration name matched without regard to case).
fn source_id_for(store: &Store, patient: i64, integ: &str) -> Result<Option<String>, OfferError> {
    let entry = store.waitlist_entry(patient)?.ok_or(OfferError::UnknownPatient(patient))?;
    Ok(entry.patient.source_ids.iter().find(|(k, _)| k.trim().eq_ignore_ascii_case(integ.trim())).map(|(_, v)| v.clone()))
}

/// Holds the free slot `slot_id` (`slot-<n>`) for waiting patient `patient_id` for `minutes`
/// minutes from `now`, after re-reading it at its source (see the module rules); writes an
/// `offer` audit row.
///
/// # Errors
/// [`OfferError::NoStaff`], [`OfferError::BadMinutes`], [`OfferError::BadSlotId`],
/// [`OfferError::WorkingHours`], [`OfferError::NoSuchSlot`], [`OfferError::UnknownPatient`],
/// [`OfferError::NotFree`], [`OfferError::TakenAtSource`], [`OfferError::NotChecked`], store errors.
pub fn offer_slot(
    store: &mut Store,
    slot_id: &str,
    patient_id: i64,
    minutes: i64,
    actor: &Actor,
    make_connector: impl FnOnce(&Integration) -> Result<Box<dyn Connector>, ConnectorError>,
    now: DateTime<Utc>,
) -> Result<Hold, OfferError> {
    need_staff(actor)?;
    if !(1..=MAX_HOLD_MINUTES).contains(&minutes) {
        return Err(OfferError::BadMinutes(minutes));
    }
    let id = slot_number(slot_id)?;
    let name = format!("slot-{id}");
    let slot = store.slot_for_booking(id)?.ok_or_else(|| OfferError::NoSuchSlot(name.clone()))?;
    if store.waitlist_entry(patient_id)?.is_none() {
        return Err(OfferError::UnknownPatient(patient_id));
    }
    // The listing's status includes holds and blocking busy time is checked by `availability`;
    // the cache must say free before the source is bothered.
    let listed_free = crate::availability::slots(store, None, slot.slot.span, Some(crate::model::SlotStatus::Free))?.iter().any(|v| v.id == name);
    if !listed_free {
        return Err(OfferError::NotFree(name));
    }
    let mut patient_ref = None;
    if let (Some(integ), Some(to_book)) = (&slot.integration, &slot.to_book) {
        let not_checked = |detail: String| OfferError::NotChecked { slot: name.clone(), system: integ.name.clone(), detail };
        let read = make_connector(integ).and_then(|mut c| c.availability(slot.slot.span)).map_err(|e| not_checked(e.to_string()))?;
        if !read.complete {
            return Err(not_checked(read.incomplete_reason.unwrap_or_else(|| "not every open time could be read".into())));
        }
        let there = read.slots.iter().find(|s| s.external_id == to_book.external_id);
        tracing::info!(slot = id, integration = integ.id, listed = there.is_some(), "slot re-read at its source before holding it");
        match there {
            Some(s) if s.status == crate::model::SlotStatus::Free => {
                store.apply_changes(integ, &read.slots, now)?;
            }
            Some(s) => {
                store.apply_changes(integ, std::slice::from_ref(s), now)?;
                return Err(OfferError::TakenAtSource { slot: name, system: integ.name.clone() });
            }
            None => {
                store.mark_slot_taken(id, now)?;
                return Err(OfferError::TakenAtSource { slot: name, system: integ.name.clone() });
            }
        }
        patient_ref = source_id_for(store, patient_id, &integ.name)?;
    }
    match store.place_hold(id, patient_id, patient_ref.as_deref(), minutes, actor, now) {
        Ok(h) => Ok(h),
        Err(StoreError::SlotNotFree(_)) => Err(OfferError::NotFree(name)),
        Err(e) => Err(e.into()),
    }
}

/// Books the patient held on `slot_id` into the slot's integration (see the module rules); writes
/// a `book` audit row, records the fill and takes the patient off the waitlist.
///
/// # Errors
/// [`OfferError::NoStaff`], [`OfferError::NotHeld`], [`OfferError::HoldExpired`],
/// [`OfferError::Imported`], [`OfferError::UnknownPatient`], [`OfferError::NoPatientId`],
/// [`OfferError::Book`] (the source refused or could not be reached; a slot taken there drops the
/// hold), store errors.
pub fn book_offer(
    store: &mut Store,
    slot_id: &str,
    actor: &Actor,
    make_connector: impl FnOnce(&Integration) -> Result<Box<dyn Connector>, ConnectorError>,
    now: DateTime<Utc>,
) -> Result<OfferBooked, OfferError> {
    need_staff(actor)?;
    let id = slot_number(slot_id)?;
    let name = format!("slot-{id}");
    let hold = store.hold_of(id)?.ok_or_else(|| OfferError::NotHeld(name.clone()))?;
    if !hold.is_active(now) {
        return Err(OfferError::HoldExpired(name));
    }
    let slot = store.slot_for_booking(id)?.ok_or_else(|| OfferError::NoSuchSlot(name.clone()))?;
    let Some(integ) = slot.integration.clone().filter(|_| slot.to_book.is_some()) else { return Err(OfferError::Imported) };
    let patient_ref = source_id_for(store, hold.patient_id, &integ.name)?
        .ok_or_else(|| OfferError::NoPatientId { patient: hold.patient_id, integration: integ.name.clone() })?;
    let patient_ref = patient_ref.trim();
    let patient_ref = patient_ref.strip_prefix("Patient/").unwrap_or(patient_ref).to_string();
    store.set_hold_patient_ref(id, &patient_ref)?;
    match book_slot(store, &name, &patient_ref, make_connector, now) {
        Ok(booked) => {
            store.finish_offer(&hold, &booked.appointment_id, actor, now)?;
            Ok(OfferBooked { slot: name, patient_id: hold.patient_id, integration: integ.name, booked, booked_at: now })
        }
        Err(e) => {
            if matches!(e, BookError::Connector(ConnectorError::SlotTaken { .. } | ConnectorError::SlotChanged { .. })) {
                store.drop_hold(id)?;
            }
            Err(e.into())
        }
    }
}

/// Releases the hold on `slot_id`; writes a `release` audit row.
///
/// # Errors
/// [`OfferError::NoStaff`], [`OfferError::BadSlotId`], [`OfferError::NotHeld`] (also for an
/// expired hold), store errors.
pub fn release_offer(store: &mut Store, slot_id: &str, actor: &Actor, now: DateTime<Utc>) -> Result<Hold, OfferError> {
    need_staff(actor)?;
    let id = slot_number(slot_id)?;
    store.release_hold(id, actor, now)?.ok_or_else(|| OfferError::NotHeld(format!("slot-{id}")))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::availability;
    use crate::connector::{ChangeBatch, IntegrationKind, IntegrationSettings, RemoteSlot, SlotToBook, WindowRead};
    use crate::fill::{AuditAction, Patient};
    use crate::model::SlotStatus;
    use crate::store::key::DbKey;
    use crate::time::Interval;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(t(a), t(b)).unwrap()
    }

    fn now() -> DateTime<Utc> {
        t("2026-03-01T12:00:00Z")
    }

    fn window() -> Interval {
        iv("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    }

    fn remote(id: &str, start: &str, end: &str, status: SlotStatus) -> RemoteSlot {
        RemoteSlot {
            external_id: id.into(),
            span: iv(start, end),
            status,
            provider: "Dr. Rivera".into(),
            provider_ref: Some("Practitioner/p1".into()),
            location: None,
            location_ref: None,
            service_type: None,
            schedule_ref: None,
            booking: serde_json::json!({"versionId": "1"}),
        }
    }

    fn read(slots: Vec<RemoteSlot>) -> WindowRead {
        WindowRead { slots, quarantined: vec![], complete: true, incomplete_reason: None }
    }

    /// What the fake source saw: windows read and (slot, patient) booked.
    #[derive(Default)]
    struct Seen {
        reads: Vec<Interval>,
        booked: Vec<(String, String)>,
    }

    /// A source answering every read with `answer` and accepting every booking.
    struct Source {
        answer: WindowRead,
        seen: Arc<Mutex<Seen>>,
    }

    impl Connector for Source {
        fn kind(&self) -> IntegrationKind {
            IntegrationKind::Fhir
        }
        fn availability(&mut self, window: Interval) -> Result<WindowRead, ConnectorError> {
            self.seen.lock().unwrap().reads.push(window);
            Ok(self.answer.clone())
        }
        fn changes_since(&mut self, _: Option<&str>, _: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
            Ok(None)
        }
        fn book(&mut self, slot: &SlotToBook, patient_id: &str) -> Result<Booked, ConnectorError> {
            self.seen.lock().unwrap().booked.push((slot.external_id.clone(), patient_id.to_string()));
            Ok(Booked { appointment_id: "Appointment/appt-9".into(), status: "booked".into() })
        }
        fn cancel(&mut self, _: &str) -> Result<(), ConnectorError> {
            unreachable!()
        }
    }

    fn source(answer: WindowRead, seen: &Arc<Mutex<Seen>>) -> impl FnOnce(&Integration) -> Result<Box<dyn Connector>, ConnectorError> {
        let seen = seen.clone();
        move |_| Ok(Box::new(Source { answer, seen }) as Box<dyn Connector>)
    }

    fn staff() -> Actor {
        Actor { staff: "Maria at front desk".into(), os_user: "desk1".into() }
    }

    struct Practice {
        _dir: tempfile::TempDir,
        store: Store,
        integ: Integration,
        /// slot-<n> of a (Wed 09:00 EST), b (10:00), c (11:00).
        ids: Vec<String>,
        patient: i64,
    }

    /// A synced clinic with three free slots on 2026-03-04 and one waiting patient with an id in it.
    fn practice() -> Practice {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("offer.db"), &DbKey::Raw([3; 32])).unwrap();
        store.set_now(now());
        let settings = IntegrationSettings::new("https://fhir.example.org/r4", "America/New_York", crate::auth::AuthConfig::None);
        let integ = store.add_integration(IntegrationKind::Fhir, "Clinic FHIR", &settings, now()).unwrap();
        store.apply_window(&integ, window(), &read(slots_free()), now()).unwrap();
        let ids = ["2026-03-04T14:00:00Z", "2026-03-04T15:00:00Z", "2026-03-04T16:00:00Z"]
            .iter()
            .map(|s| store.published_slots(None, window()).unwrap().into_iter().find(|x| x.span.start == t(s)).map(|x| format!("slot-{}", x.id)).unwrap())
            .collect();
        let mut p = Patient::new("Jane Example", chrono_tz::America::New_York, t("2026-02-01T00:00:00Z"));
        p.phone = Some("555-0199".into());
        p.source_ids.insert("clinic fhir".into(), "pat-77".into());
        let patient = store.add_waitlist(&p, now()).unwrap().id;
        Practice { _dir: dir, store, integ, ids, patient }
    }

    fn slots_free() -> Vec<RemoteSlot> {
        vec![
            remote("a", "2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z", SlotStatus::Free),
            remote("b", "2026-03-04T15:00:00Z", "2026-03-04T15:30:00Z", SlotStatus::Free),
            remote("c", "2026-03-04T16:00:00Z", "2026-03-04T16:30:00Z", SlotStatus::Free),
        ]
    }

    fn status_of(store: &Store, id: &str) -> SlotStatus {
        availability::slots(store, None, window(), None).unwrap().into_iter().find(|v| v.id == id).map(|v| v.status).unwrap()
    }

    #[test]
    fn booking_one_of_two_times_held_for_a_patient_releases_the_other_with_an_audit_row() {
        // Regression: the second hold vanished with the waitlist entry, with no release recorded.
        let mut p = practice();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (a, b) = (p.ids[0].clone(), p.ids[1].clone());
        offer_slot(&mut p.store, &a, p.patient, 15, &staff(), source(read(slots_free()), &seen), now()).unwrap();
        offer_slot(&mut p.store, &b, p.patient, 15, &staff(), source(read(slots_free()), &seen), now()).unwrap();
        assert_eq!(status_of(&p.store, &b), SlotStatus::BusyTentative);
        book_offer(&mut p.store, &a, &staff(), source(read(vec![]), &seen), now()).unwrap();
        assert_eq!(status_of(&p.store, &b), SlotStatus::Free, "the other time is offered again");
        let actions: Vec<_> = p.store.audit_since(None).unwrap().into_iter().map(|e| (e.action, e.slot)).collect();
        assert_eq!(
            actions,
            vec![
                (AuditAction::Offer, Some(a.clone())),
                (AuditAction::Offer, Some(b.clone())),
                (AuditAction::Release, Some(b.clone())),
                (AuditAction::Book, Some(a.clone())),
            ]
        );
    }

    #[test]
    fn a_hold_is_busy_tentative_in_every_listing_survives_a_sync_and_expires() {
        let mut p = practice();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let a = p.ids[0].clone();
        let h = offer_slot(&mut p.store, &a, p.patient, DEFAULT_HOLD_MINUTES, &staff(), source(read(slots_free()), &seen), now()).unwrap();
        assert_eq!((h.slot.as_str(), h.patient_id, h.expires_at), (a.as_str(), p.patient, t("2026-03-01T12:15:00Z")));
        assert_eq!(h.patient_ref.as_deref(), Some("pat-77"), "integration name matched without regard to case");
        // The source was asked about exactly the slot's span.
        assert_eq!(seen.lock().unwrap().reads, vec![iv("2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z")]);
        assert_eq!(status_of(&p.store, &a), SlotStatus::BusyTentative);
        assert_eq!(status_of(&p.store, &p.ids[1]), SlotStatus::Free);
        // Not offered to anyone else: suggest refuses it, options skip it.
        assert!(matches!(crate::fill::suggest_for_slot(&p.store, &a, now(), None), Err(crate::fill::FillError::SlotNotFree(_))));
        let o = crate::fill::options_for_patient(&p.store, p.patient, now()).unwrap();
        assert!(o.options.iter().all(|x| x.slot.id != a), "{:?}", o.options);
        // A second offer is refused at the desk without asking the source.
        let again = offer_slot(&mut p.store, &a, p.patient, 15, &staff(), source(read(slots_free()), &seen), now());
        assert!(matches!(again, Err(OfferError::NotFree(ref s)) if *s == a), "{again:?}");
        assert_eq!(seen.lock().unwrap().reads.len(), 1);
        // A sync listing the slot free again keeps the hold.
        p.store.apply_window(&p.integ, window(), &read(slots_free()), t("2026-03-01T12:05:00Z")).unwrap();
        assert_eq!(status_of(&p.store, &a), SlotStatus::BusyTentative);
        // 15 minutes later the hold no longer counts, with no job run.
        p.store.set_now(t("2026-03-01T12:15:00Z"));
        assert_eq!(status_of(&p.store, &a), SlotStatus::Free);
        assert!(matches!(
            book_offer(&mut p.store, &a, &staff(), source(read(vec![]), &seen), t("2026-03-01T12:15:00Z")),
            Err(OfferError::HoldExpired(_))
        ));
        // It can be offered again; the expired row was cleaned up first.
        let h2 = offer_slot(&mut p.store, &a, p.patient, 5, &staff(), source(read(slots_free()), &seen), t("2026-03-01T12:16:00Z")).unwrap();
        assert_eq!(h2.expires_at, t("2026-03-01T12:21:00Z"));
        assert_eq!(p.store.hold_of(h2.slot_id).unwrap().unwrap().held_at, t("2026-03-01T12:16:00Z"));
    }

    #[test]
    fn release_frees_the_slot_and_the_audit_names_nobody() {
        let mut p = practice();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let b = p.ids[1].clone();
        // Without a staff name nothing happens.
        let anon = Actor::from_env(None);
        assert_eq!(anon.staff, "unknown");
        assert!(matches!(offer_slot(&mut p.store, &b, p.patient, 15, &anon, source(read(slots_free()), &seen), now()), Err(OfferError::NoStaff)));
        assert!(seen.lock().unwrap().reads.is_empty());
        offer_slot(&mut p.store, &b, p.patient, 15, &staff(), source(read(slots_free()), &seen), now()).unwrap();
        let r = release_offer(&mut p.store, &b, &staff(), t("2026-03-01T12:03:00Z")).unwrap();
        assert_eq!(r.patient_id, p.patient);
        assert_eq!(status_of(&p.store, &b), SlotStatus::Free);
        assert!(matches!(release_offer(&mut p.store, &b, &staff(), now()), Err(OfferError::NotHeld(_))));
        p.store.record_audit(AuditAction::View, &anon, None, Some(p.patient), t("2026-03-01T12:04:00Z")).unwrap();
        let log = p.store.audit_since(None).unwrap();
        type Row<'a> = (String, &'a str, AuditAction, Option<&'a str>, Option<i64>);
        let got: Vec<Row<'_>> =
            log.iter().map(|e| (crate::time::fmt_instant(e.at), e.staff.as_str(), e.action, e.slot.as_deref(), e.patient_id)).collect();
        assert_eq!(
            got,
            vec![
                ("2026-03-01T12:00:00Z".to_string(), "Maria at front desk", AuditAction::Offer, Some(b.as_str()), Some(p.patient)),
                ("2026-03-01T12:03:00Z".to_string(), "Maria at front desk", AuditAction::Release, Some(b.as_str()), Some(p.patient)),
                ("2026-03-01T12:04:00Z".to_string(), "unknown", AuditAction::View, None, Some(p.patient)),
            ]
        );
        assert_eq!(log[0].os_user, "desk1");
        assert_eq!(p.store.audit_since(Some(t("2026-03-01T12:03:00Z"))).unwrap().len(), 2);
        // The rows as stored hold no name or phone of the patient.
        let raw: Vec<String> = p
            .store
            .conn()
            .prepare("SELECT at || staff || os_user || action || IFNULL(slot_id, '') || IFNULL(waitlist_id, '') FROM audit")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(raw.len(), 3);
        assert!(raw.iter().all(|r| !r.contains("Jane") && !r.contains("555-0199") && !r.contains("pat-77")), "{raw:?}");
    }

    #[test]
    fn a_slot_taken_at_the_source_is_refused_and_no_longer_offered() {
        let mut p = practice();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (a, b) = (p.ids[0].clone(), p.ids[1].clone());
        // b is busy at the source now.
        let mut now_there = slots_free();
        now_there[1].status = SlotStatus::Busy;
        let r = offer_slot(&mut p.store, &b, p.patient, 15, &staff(), source(read(now_there), &seen), now());
        assert_eq!(r.unwrap_err().to_string(), format!("{b} is no longer free in Clinic FHIR: someone else has it. It will not be offered again; pick another time"));
        assert_eq!(status_of(&p.store, &b), SlotStatus::Busy);
        // a is no longer listed at the source at all (some servers drop booked slots).
        let r = offer_slot(&mut p.store, &a, p.patient, 15, &staff(), source(read(vec![]), &seen), now());
        assert!(matches!(r, Err(OfferError::TakenAtSource { .. })), "{r:?}");
        assert_eq!(status_of(&p.store, &a), SlotStatus::Busy);
        // An incomplete read holds nothing and marks nothing.
        let c = p.ids[2].clone();
        let partial = WindowRead { slots: vec![], quarantined: vec![], complete: false, incomplete_reason: Some("page 2 failed".into()) };
        let r = offer_slot(&mut p.store, &c, p.patient, 15, &staff(), source(partial, &seen), now());
        assert_eq!(r.unwrap_err().to_string(), format!("could not check {c} with Clinic FHIR, so it was not held: page 2 failed"));
        assert_eq!(status_of(&p.store, &c), SlotStatus::Free);
        assert!(p.store.audit_since(None).unwrap().is_empty(), "nothing was offered");
        assert!(matches!(offer_slot(&mut p.store, "grid-1-20260304T140000Z", p.patient, 15, &staff(), source(read(vec![]), &seen), now()), Err(OfferError::WorkingHours)));
        assert!(matches!(offer_slot(&mut p.store, &c, 999, 15, &staff(), source(read(vec![]), &seen), now()), Err(OfferError::UnknownPatient(999))));
        assert!(matches!(offer_slot(&mut p.store, &c, p.patient, 0, &staff(), source(read(vec![]), &seen), now()), Err(OfferError::BadMinutes(0))));
    }

    #[test]
    fn booking_an_offer_books_the_held_patient_and_takes_them_off_the_waitlist() {
        let mut p = practice();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let a = p.ids[0].clone();
        offer_slot(&mut p.store, &a, p.patient, 15, &staff(), source(read(slots_free()), &seen), now()).unwrap();
        // While held, a plain booking for someone else is refused at the desk.
        let other = crate::sync::book_slot(&mut p.store, &a, "pat-1", source(read(vec![]), &seen), now());
        assert!(matches!(other, Err(BookError::Store(StoreError::SlotNotFree(_)))), "{other:?}");
        let done = book_offer(&mut p.store, &a, &staff(), source(read(vec![]), &seen), t("2026-03-01T12:07:00Z")).unwrap();
        assert_eq!(seen.lock().unwrap().booked, vec![("a".to_string(), "pat-77".to_string())]);
        assert_eq!((done.patient_id, done.integration.as_str(), done.booked.appointment_id.as_str()), (p.patient, "Clinic FHIR", "Appointment/appt-9"));
        assert_eq!(status_of(&p.store, &a), SlotStatus::Busy);
        assert_eq!(p.store.hold_of(a.trim_start_matches("slot-").parse().unwrap()).unwrap(), None);
        assert_eq!(p.store.waitlist_entry(p.patient).unwrap(), None, "off the waitlist");
        let actions: Vec<AuditAction> = p.store.audit_since(None).unwrap().iter().map(|e| e.action).collect();
        assert_eq!(actions, vec![AuditAction::Offer, AuditAction::Book]);
        // A new patient never gets the booked patient's id back.
        let q = p.store.add_waitlist(&Patient::new("Next One", chrono_tz::UTC, now()), now()).unwrap();
        assert!(q.id > p.patient);
        let s = p.store.fill_stats(t("2026-03-02T00:00:00Z")).unwrap();
        assert_eq!((s.total.openings, s.total.filled, s.total.median_minutes_to_fill), (0, 1, None));
    }

    /// A source where someone else booked every slot since the re-read.
    struct TakenSince;

    impl Connector for TakenSince {
        fn kind(&self) -> IntegrationKind {
            IntegrationKind::Fhir
        }
        fn availability(&mut self, _: Interval) -> Result<WindowRead, ConnectorError> {
            unreachable!("booking re-reads the slot itself")
        }
        fn changes_since(&mut self, _: Option<&str>, _: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
            Ok(None)
        }
        fn book(&mut self, _: &SlotToBook, _: &str) -> Result<Booked, ConnectorError> {
            Err(ConnectorError::SlotTaken { system: "Clinic FHIR".into() })
        }
        fn cancel(&mut self, _: &str) -> Result<(), ConnectorError> {
            unreachable!()
        }
    }

    #[test]
    fn a_slot_taken_between_offer_and_booking_drops_the_hold_and_keeps_the_patient_waiting() {
        let mut p = practice();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let b = p.ids[1].clone();
        offer_slot(&mut p.store, &b, p.patient, 15, &staff(), source(read(slots_free()), &seen), now()).unwrap();
        let r = book_offer(&mut p.store, &b, &staff(), |_| Ok(Box::new(TakenSince) as Box<dyn Connector>), t("2026-03-01T12:05:00Z"));
        assert_eq!(r.unwrap_err().to_string(), "This time is no longer available in Clinic FHIR: someone else booked it. Pick another time.");
        assert_eq!(status_of(&p.store, &b), SlotStatus::Busy);
        assert_eq!(p.store.hold_of(b.trim_start_matches("slot-").parse().unwrap()).unwrap(), None);
        assert!(p.store.waitlist_entry(p.patient).unwrap().is_some(), "still waiting");
        let actions: Vec<AuditAction> = p.store.audit_since(None).unwrap().iter().map(|e| e.action).collect();
        assert_eq!(actions, vec![AuditAction::Offer], "no booking recorded");
        assert_eq!(p.store.fill_stats(t("2026-03-02T00:00:00Z")).unwrap().total.filled, 0);
    }

    #[test]
    fn booking_refuses_without_a_patient_id_and_for_imported_slots() {
        let mut p = practice();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let lone = p.store.add_waitlist(&Patient::new("No Ids", chrono_tz::UTC, now()), now()).unwrap().id;
        let b = p.ids[1].clone();
        offer_slot(&mut p.store, &b, lone, 15, &staff(), source(read(slots_free()), &seen), now()).unwrap();
        let r = book_offer(&mut p.store, &b, &staff(), source(read(vec![]), &seen), now());
        assert_eq!(
            r.unwrap_err().to_string(),
            format!("patient {lone} has no patient id for Clinic FHIR on the waitlist; add it (waitlist --patient-id \"Clinic FHIR=ID\") and book again")
        );
        assert!(seen.lock().unwrap().booked.is_empty());
        assert_eq!(status_of(&p.store, &b), SlotStatus::BusyTentative, "still held");
        // A slot from a spreadsheet can be held (no source to ask) but not booked from here.
        let sheet = crate::store::NewSlot {
            provider: "Dr. Rivera".into(),
            location: None,
            span: iv("2026-03-05T14:00:00Z", "2026-03-05T14:30:00Z"),
            status: SlotStatus::Free,
            service_type: None,
            tz_if_new: None,
        };
        p.store.import_slots("published", None, window(), &[sheet], true, now()).unwrap();
        let id = p.store.published_slots(None, iv("2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z")).unwrap()[0].id;
        let reads = seen.lock().unwrap().reads.len();
        offer_slot(&mut p.store, &format!("slot-{id}"), p.patient, 15, &staff(), source(read(vec![]), &seen), now()).unwrap();
        assert_eq!(seen.lock().unwrap().reads.len(), reads, "no source to ask");
        let r = book_offer(&mut p.store, &format!("slot-{id}"), &staff(), source(read(vec![]), &seen), now());
        assert_eq!(r.unwrap_err().to_string(), "This time comes from an imported file; book it in the provider's own system");
        assert!(matches!(book_offer(&mut p.store, &p.ids[2], &staff(), source(read(vec![]), &seen), now()), Err(OfferError::NotHeld(_))));
    }

    #[test]
    fn a_booked_slot_coming_back_free_is_an_opening_and_fill_stats_count_it() {
        let mut p = practice();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (a, c) = (p.ids[0].clone(), p.ids[2].clone());
        let n = |s: &str| s.trim_start_matches("slot-").parse::<i64>().unwrap();
        // a is booked at the source, plus a past slot that is busy.
        let mut busy = slots_free();
        busy[0].status = SlotStatus::Busy;
        busy.push(remote("past", "2026-03-01T09:00:00Z", "2026-03-01T09:30:00Z", SlotStatus::Busy));
        p.store.apply_window(&p.integ, window(), &read(busy), t("2026-03-01T12:01:00Z")).unwrap();
        assert!(p.store.openings_of(n(&a)).unwrap().is_empty());
        // The patient cancels: the next sync lists a free again. The past slot freed is no opening.
        let mut freed = slots_free();
        freed.push(remote("past", "2026-03-01T09:00:00Z", "2026-03-01T09:30:00Z", SlotStatus::Free));
        p.store.apply_window(&p.integ, window(), &read(freed.clone()), t("2026-03-01T13:00:00Z")).unwrap();
        assert_eq!(p.store.openings_of(n(&a)).unwrap(), vec![(t("2026-03-01T13:00:00Z"), false)]);
        // Listed free again: nothing new. A change feed re-listing c free (it was never busy): nothing.
        p.store.apply_window(&p.integ, window(), &read(freed.clone()), t("2026-03-01T13:15:00Z")).unwrap();
        p.store.apply_changes(&p.integ, &freed[2..3], t("2026-03-01T13:16:00Z")).unwrap();
        assert_eq!(p.store.openings_of(n(&a)).unwrap().len(), 1);
        assert!(p.store.openings_of(n(&c)).unwrap().is_empty());
        let total: i64 = p.store.conn().query_row("SELECT count(*) FROM openings", [], |r| r.get(0)).unwrap();
        assert_eq!(total, 1);
        // c drops out of the source's free list (booked there), then comes back: an opening too.
        p.store.apply_window(&p.integ, window(), &read(freed[..2].to_vec()), t("2026-03-01T13:20:00Z")).unwrap();
        assert!(p.store.openings_of(n(&c)).unwrap().is_empty());
        p.store.apply_window(&p.integ, window(), &read(freed.clone()), t("2026-03-01T13:25:00Z")).unwrap();
        assert_eq!(p.store.openings_of(n(&c)).unwrap(), vec![(t("2026-03-01T13:25:00Z"), false)]);
        // Offered and booked 40 minutes after the opening was seen.
        p.store.set_now(t("2026-03-01T13:30:00Z"));
        offer_slot(&mut p.store, &a, p.patient, 15, &staff(), source(read(freed), &seen), t("2026-03-01T13:30:00Z")).unwrap();
        book_offer(&mut p.store, &a, &staff(), source(read(vec![]), &seen), t("2026-03-01T13:40:00Z")).unwrap();
        assert_eq!(p.store.openings_of(n(&a)).unwrap(), vec![(t("2026-03-01T13:00:00Z"), true)]);
        let s = p.store.fill_stats(t("2026-03-02T00:00:00Z")).unwrap();
        assert_eq!(s.providers.len(), 1);
        assert_eq!(
            (s.providers[0].provider.as_str(), s.providers[0].openings, s.providers[0].filled, s.providers[0].median_minutes_to_fill),
            ("Dr. Rivera", 2, 1, Some(40.0))
        );
        assert_eq!(s.total.median_minutes_to_fill, Some(40.0));
        // 30 days on, none of it counts.
        let later = p.store.fill_stats(t("2026-04-01T00:00:00Z")).unwrap();
        assert_eq!((later.total.openings, later.total.filled, later.providers.len()), (0, 0, 0));
    }

    #[test]
    fn the_opening_watch_reports_each_new_opening_once_with_the_patients_it_suits() {
        let mut p = practice();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let a = p.ids[0].clone();
        let mut busy = slots_free();
        busy[0].status = SlotStatus::Busy;
        p.store.apply_window(&p.integ, window(), &read(busy), t("2026-03-01T12:01:00Z")).unwrap();
        // Started after the booking: nothing to report yet.
        let mut watch = super::super::notice::OpeningWatch::from_now(&p.store).unwrap();
        assert!(watch.poll(&p.store, t("2026-03-01T12:02:00Z")).unwrap().is_empty());
        // A second patient who never takes Wednesdays: the slot suits only Jane.
        let mut other = Patient::new("Sam Example", chrono_tz::America::New_York, t("2026-02-10T00:00:00Z"));
        other.prefs.blocked_weekdays = vec![chrono::Weekday::Wed];
        p.store.add_waitlist(&other, now()).unwrap();
        p.store.apply_window(&p.integ, window(), &read(slots_free()), t("2026-03-01T13:00:00Z")).unwrap();
        let found = watch.poll(&p.store, t("2026-03-01T13:00:01Z")).unwrap();
        assert_eq!(found.len(), 1);
        let o = &found[0].opening;
        assert_eq!((o.slot.as_str(), o.provider.as_str(), o.provider_tz.as_str()), (a.as_str(), "Dr. Rivera", "America/New_York"));
        assert_eq!((o.start, o.detected_at, o.still_free, o.held_until, o.filled), (t("2026-03-04T14:00:00Z"), t("2026-03-01T13:00:00Z"), true, None, false));
        assert_eq!(found[0].fits, 1);
        assert!(watch.poll(&p.store, t("2026-03-01T13:00:02Z")).unwrap().is_empty(), "reported once");
        // Listed from the very instant it was detected (regression: the listing ended just before
        // `now`, so under a pretended clock a fresh opening was missing from the app).
        let at_once = p.store.recent_openings(t("2026-02-01T00:00:00Z"), t("2026-03-01T13:00:00Z")).unwrap();
        assert_eq!(at_once.iter().map(|o| o.slot.as_str()).collect::<Vec<_>>(), [a.as_str()]);
        // The app's list shows it, then its hold, then its fill; a watch started from 0 reads it again.
        let listed = p.store.recent_openings(t("2026-02-01T00:00:00Z"), t("2026-03-01T13:10:00Z")).unwrap();
        assert_eq!(listed.iter().map(|o| o.slot.as_str()).collect::<Vec<_>>(), [a.as_str()]);
        offer_slot(&mut p.store, &a, p.patient, 15, &staff(), source(read(slots_free()), &seen), t("2026-03-01T13:10:00Z")).unwrap();
        let held = &p.store.recent_openings(t("2026-02-01T00:00:00Z"), t("2026-03-01T13:11:00Z")).unwrap()[0];
        assert_eq!((held.still_free, held.held_until), (true, Some(t("2026-03-01T13:25:00Z"))));
        book_offer(&mut p.store, &a, &staff(), source(read(vec![]), &seen), t("2026-03-01T13:12:00Z")).unwrap();
        let filled = &p.store.recent_openings(t("2026-02-01T00:00:00Z"), t("2026-03-01T13:13:00Z")).unwrap()[0];
        assert_eq!((filled.still_free, filled.held_until, filled.filled), (false, None, true));
        let again = super::super::notice::OpeningWatch::after(0).poll(&p.store, t("2026-03-01T13:13:00Z")).unwrap();
        assert_eq!((again.len(), again[0].fits), (1, 0), "booked now: suits nobody");
        // Openings whose slot has begun are no longer listed.
        assert!(p.store.recent_openings(t("2026-02-01T00:00:00Z"), t("2026-03-04T14:00:00Z")).unwrap().is_empty());
    }
}
