//! Desktop notifications (freedesktop Notifications over D-Bus on Linux, through `notify-rust`).
//!
//! Today: "Sign-in to X has expired" when a connection's sync first finds that staff must
//! reconnect it (issue "athenahealth, Google Calendar and CalDAV connectors": `invalid_grant`
//! raises a notification and the card shows Reconnect). Only the transition notifies: a
//! connection that stays in that state is not announced again every retry, and one that syncs
//! again is announced anew the next time it fails.
//!
//! Notifications carry the connection's name only, never patient data. Showing one talks to the
//! session bus, so it runs on a thread of its own, never on the worker's task.

use std::collections::HashSet;
use std::sync::Mutex;

use medharmony::worker::WorkerEvent;

/// Remembers which connections were announced as needing a reconnect.
#[derive(Debug, Default)]
pub struct ReconnectNotices {
    announced: Mutex<HashSet<String>>,
}

impl ReconnectNotices {
    /// The notification text for `event`, when it is the first sync of a connection that
    /// needs reconnecting (`Some((summary, body))`); `None` otherwise. Updates the memory.
    pub fn on_event(&self, event: &WorkerEvent) -> Option<(String, String)> {
        let WorkerEvent::Synced { report, .. } = event else { return None };
        let mut announced = self.announced.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = report.integration.to_lowercase();
        if !report.needs_reconnect {
            if !report.failed {
                announced.remove(&key);
            }
            return None;
        }
        if !announced.insert(key) {
            return None;
        }
        Some((
            format!("Reconnect {}", report.integration),
            format!(
                "Sign-in to {} has expired or was refused, so its open times are no longer updated. Open MedHarmony Desk → Integrations and click Reconnect.",
                report.integration
            ),
        ))
    }
}

/// Shows a notification on a thread of its own; a desktop without a notification service only
/// logs that it could not.
pub fn show(summary: String, body: String) {
    std::thread::spawn(move || {
        let shown = notify_rust::Notification::new().appname("MedHarmony Desk").summary(&summary).body(&body).show();
        if let Err(e) = shown {
            log::warn!("could not show a desktop notification: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use medharmony::connector::IntegrationKind;
    use medharmony::sync::SyncReport;

    fn synced(name: &str, failed: bool, needs_reconnect: bool) -> WorkerEvent {
        let t = "2026-03-01T00:00:00Z".parse().unwrap();
        WorkerEvent::Synced {
            report: SyncReport {
                integration: name.into(),
                kind: IntegrationKind::GoogleCalendar,
                added: 0,
                changed: 0,
                removed: 0,
                unchanged: 0,
                quarantined: 0,
                complete: !failed,
                from: t,
                to: t,
                warnings: vec![],
                problem: failed.then(|| "Sign-in to Google has expired. Reconnect it on the Integrations page.".into()),
                failed,
                needs_reconnect,
            },
            manual: false,
            next_due: None,
        }
    }

    #[test]
    fn only_the_first_failure_needing_a_reconnect_is_announced() {
        let n = ReconnectNotices::default();
        assert_eq!(n.on_event(&synced("Google", false, false)), None);
        let (summary, body) = n.on_event(&synced("Google", true, true)).expect("announced");
        assert_eq!(summary, "Reconnect Google");
        assert!(body.starts_with("Sign-in to Google has expired or was refused"), "{body}");
        // Retries that fail the same way stay quiet, as does an unrelated failure meanwhile.
        assert_eq!(n.on_event(&synced("Google", true, true)), None);
        assert_eq!(n.on_event(&synced("google", true, true)), None);
        assert_eq!(n.on_event(&synced("Google", true, false)), None);
        assert_eq!(n.on_event(&synced("Google", true, true)), None);
        // Another connection is announced on its own.
        assert!(n.on_event(&synced("Fastmail", true, true)).is_some());
        // After a good sync, the next expiry is announced again.
        assert_eq!(n.on_event(&synced("Google", false, false)), None);
        assert!(n.on_event(&synced("Google", true, true)).is_some());
    }
}
