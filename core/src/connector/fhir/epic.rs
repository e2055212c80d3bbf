//! Epic. Its R4 API has Appointment read and search but no Slot or Schedule
//! search, so open times come from the STU3 `Appointment/$find` operation
//! (Epic "Appointment.$find (STU3)": POST Parameters with `startTime` and
//! `endTime`, answered with a Bundle of `proposed` Appointments plus
//! OperationOutcome entries). A cancellation shows up in the R4 Appointment
//! search as an Appointment with status `cancelled`.
//!
//! Booking follows the Argonaut Scheduling IG `$book` contract (POST
//! Parameters with the proposed Appointment). Epic's own booking operation is
//! **unconfirmed** against Epic's documentation: it sits behind the same
//! [`Connector::book`] interface so it can be corrected in one place.

use chrono::{DateTime, Duration, Utc};

use super::map::{self, CancelledAppointment};
use super::{booking_outcome, enc, fhir_instant};
use crate::connector::http::FhirHttp;
use crate::connector::{Booked, ChangeBatch, Connector, ConnectorError, IntegrationKind, IntegrationSettings, SlotToBook, WindowRead};
use crate::time::Interval;

/// Epic: `$find` for open times, R4 Appointment search for cancellations, `$book` to book.
pub struct EpicConnector {
    http: FhirHttp,
    r4: String,
    stu3: String,
    settings: IntegrationSettings,
}

impl EpicConnector {
    /// A connector for `settings.base_url` (R4) and its STU3 sibling
    /// (`settings.stu3_base_url`, default: a trailing `/R4` replaced by `/STU3`).
    pub fn new(settings: IntegrationSettings, http: FhirHttp) -> Self {
        let r4 = settings.base_url.trim_end_matches('/').to_string();
        let stu3 = match &settings.stu3_base_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None if r4.to_ascii_lowercase().ends_with("/r4") => format!("{}/STU3", &r4[..r4.len() - 3]),
            None => r4.clone(),
        };
        EpicConnector { http, r4, stu3, settings }
    }

    /// Cancelled appointments starting in `window` for the configured
    /// practitioners (R4 `Appointment?practitioner=…&date=ge…&date=lt…&status=cancelled`).
    ///
    /// # Errors
    /// Transport, sign-in or server errors.
    pub fn cancellations(&mut self, window: Interval) -> Result<Vec<CancelledAppointment>, ConnectorError> {
        let mut out = Vec::new();
        let actors: Vec<(String, String)> = self
            .settings
            .practitioners
            .iter()
            .map(|p| ("practitioner".to_string(), p.clone()))
            .chain(self.settings.locations.iter().map(|l| ("location".to_string(), l.clone())))
            .collect();
        for (param, reference) in actors {
            let url = format!(
                "{}/Appointment?{param}={}&date=ge{}&date=lt{}&status=cancelled",
                self.r4,
                enc(&reference),
                enc(&fhir_instant(window.start)),
                enc(&fhir_instant(window.end))
            );
            let reply = self.http.get(&url)?;
            out.extend(map::epic_cancelled(&reply.body));
        }
        Ok(out)
    }

    fn find(&mut self, window: Interval) -> Result<map::EpicFind, ConnectorError> {
        let params = map::epic_find_parameters(window, &self.settings.practitioners, &self.settings.locations, self.settings.service_types.first().map(String::as_str));
        let reply = self.http.post(&format!("{}/Appointment/$find", self.stu3), &params)?;
        map::epic_find_result(&reply.body).map_err(|e| ConnectorError::BadReply { system: self.http.system().to_string(), detail: e.to_string() })
    }
}

impl Connector for EpicConnector {
    fn kind(&self) -> IntegrationKind {
        IntegrationKind::Epic
    }

    fn availability(&mut self, window: Interval) -> Result<WindowRead, ConnectorError> {
        let found = self.find(window)?;
        for w in &found.warnings {
            tracing::info!(system = %self.http.system(), warning = %w, "Epic added a note to its $find result");
        }
        let slots = found.slots.into_iter().filter(|s| window.start <= s.span.start && s.span.start < window.end).collect();
        // $find answers in one Bundle, without paging: what arrived is the
        // whole answer, unless Epic says it could not answer all of it.
        let incomplete_reason = (!found.errors.is_empty()).then(|| format!("Epic reported a problem with the search: {}", found.errors.join("; ")));
        Ok(WindowRead { slots, quarantined: found.quarantined, complete: incomplete_reason.is_none(), incomplete_reason })
    }

    fn changes_since(&mut self, _cursor: Option<&str>, _now: DateTime<Utc>) -> Result<Option<ChangeBatch>, ConnectorError> {
        // Proposed times are computed on request; there is nothing to list
        // changes of. Cancellations are read with `cancellations`.
        Ok(None)
    }

    fn book(&mut self, slot: &SlotToBook, patient_id: &str) -> Result<Booked, ConnectorError> {
        let system = self.http.system().to_string();
        // Re-read: ask $find again around the slot and check the proposal is still offered.
        let around = Interval::new(slot.span.start - Duration::minutes(1), slot.span.end + Duration::minutes(1)).unwrap_or(slot.span);
        let still = self.find(around)?.slots.into_iter().any(|s| s.span == slot.span && (s.external_id == slot.external_id || s.provider_ref == slot.provider_ref));
        if !still {
            return Err(ConnectorError::SlotTaken { system });
        }
        let params = map::epic_book_parameters(&slot.booking, patient_id);
        let reply = self.http.post(&format!("{}/Appointment/$book", self.stu3), &params);
        booking_outcome(reply, &system)
    }

    fn cancel(&mut self, _appointment_id: &str) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported("MedHarmony Desk cannot cancel Epic appointments yet; cancel it in Epic".into()))
    }
}
