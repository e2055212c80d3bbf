// Shared fixtures for the interface's unit tests: one place that knows the
// shape of the generated bindings, so a new field is added once.
import type { ImportReport, IntegrationCard, ProviderView, SyncResult } from "./bindings";

/** A provider in New York with Mon–Fri 08:00–16:00 hours and a calendar covering Feb 25 – Jun 2, 2026. */
export function providerView(over: Partial<ProviderView> = {}): ProviderView {
  return {
    id: 1,
    name: "Dr. Rivera",
    tz: "America/New_York",
    tz_abbrev: "EST",
    tz_note: null,
    demo: false,
    hours: "Mon 08:00-16:00; Tue 08:00-16:00; Wed 08:00-16:00; Thu 08:00-16:00; Fri 08:00-16:00",
    slot_minutes: 30,
    has_calendar: true,
    calendar_from: "2026-02-25T15:00:00Z",
    calendar_to: "2026-06-02T15:00:00Z",
    publishes_slots: false,
    uncovered_days: [],
    ...over,
  };
}

/** The report of importing `file` (kind and source taken from its name), nothing imported. */
export function importReport(file: string, over: Partial<ImportReport> = {}): ImportReport {
  return {
    file,
    kind: file.endsWith(".ics") ? "calendar" : "spreadsheet",
    source: file.replace(/\..*$/, ""),
    provider: null,
    events: 0,
    instances: 0,
    slots: 0,
    skipped: [],
    removed: 0,
    outside_window: 0,
    window_from: "2026-02-25",
    window_to: "2026-06-02",
    nothing_added: false,
    summary: `${file}: imported`,
    ...over,
  };
}

/** A complete sync of "Clinic FHIR" over the default window of 2026-03-04T15:00Z, nothing changed. */
export function syncResult(over: Partial<SyncResult> = {}): SyncResult {
  return {
    integration: "Clinic FHIR",
    added: 0,
    changed: 0,
    removed: 0,
    unchanged: 0,
    quarantined: 0,
    complete: true,
    failed: false,
    from: "2026-02-25T15:00:00Z",
    to: "2026-06-02T15:00:00Z",
    problem: null,
    set_aside: [],
    summary: "Clinic FHIR: no open times in this period.",
    ...over,
  };
}

/** "Clinic FHIR", an open FHIR server in New York time, synced at 14:55Z and working; next sync at 15:10Z. */
export function integrationCard(over: Partial<IntegrationCard> = {}): IntegrationCard {
  return {
    name: "Clinic FHIR",
    kind: "fhir",
    kind_label: "FHIR server",
    base_url: "https://fhir.example.org/r4",
    calendars: [],
    athena: null,
    auth: "none",
    auth_words: "No sign-in (an open server)",
    client_id: null,
    username: null,
    tz: "America/New_York",
    sync_minutes: 15,
    active: true,
    status: "ok",
    last_sync_at: "2026-03-04T14:55:00Z",
    stale: false,
    last_sync: syncResult(),
    problem: null,
    needs_reconnect: false,
    next_sync_at: "2026-03-04T15:10:00Z",
    ...over,
  };
}
