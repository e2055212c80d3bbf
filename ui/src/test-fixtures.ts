// Shared fixtures for the interface's unit tests: one place that knows the
// shape of the generated bindings, so a new field is added once.
import type { ImportReport, ProviderView } from "./bindings";

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
