// Shared fixtures for the interface's unit tests: one place that knows the
// shape of the generated bindings, so a new field is added once.
import type { Api } from "./api";
import { emptyEntry } from "./fill";
import type {
  FillSettingsForm,
  FillView,
  AppStatus,
  ImportReport,
  IntegrationCard,
  OpeningDto,
  ProviderView,
  SuggestionDto,
  SuggestionsView,
  SyncResult,
  WaitlistEntryDto,
  Week,
} from "./bindings";

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

/** An opening of Dr. Rivera (New York) on Tue Dec 8, 2026, 10:30–11:00 AM at Main St, detected at 09:00 local, still free. */
export function opening(over: Partial<OpeningDto> = {}): OpeningDto {
  return {
    slot_id: "slot-7",
    provider: "Dr. Rivera",
    provider_tz: "America/New_York",
    location: "Main St",
    start: "2026-12-08T15:30:00Z",
    end: "2026-12-08T16:00:00Z",
    detected_at: "2026-12-08T14:00:00Z",
    still_free: true,
    held_until: null,
    filled: false,
    ...over,
  };
}

/** The Openings page with `opening()` alone, no figures, 42 waiting, Maria at the desk, model off. */
export function fillView(over: Partial<FillView> = {}): FillView {
  return {
    openings: [opening()],
    stats: [],
    total: { provider: "All providers", openings: 0, filled: 0, median_minutes_to_fill: null },
    stats_from: "2026-11-08T14:00:00Z",
    waiting: 42,
    staff: "Maria",
    model_on: false,
    ...over,
  };
}

/** Ana Lopez, urgent, waiting 41 days, 20 hours before the time (30 karma), with her id in the time's system. */
export function suggestion(over: Partial<SuggestionDto> = {}): SuggestionDto {
  return {
    patient_id: 11,
    display_name: "Ana Lopez",
    phone: "555-0101",
    has_source_id: true,
    priority: "urgent",
    score: 61,
    reason: "Waiting 41 days · prefers mornings · urgent",
    model_reason: null,
    karma_bonus: 30,
    days_waiting: 41,
    notice_hours: 20,
    ...over,
  };
}

/** MedHarmony's own ranking for `opening()`: Ana Lopez first; 3 of 42 fit; bookable; not held. */
export function suggestionsView(over: Partial<SuggestionsView> = {}): SuggestionsView {
  return {
    slot_id: "slot-7",
    provider: "Dr. Rivera",
    provider_tz: "America/New_York",
    location: "Main St",
    service_type: null,
    start: "2026-12-08T15:30:00Z",
    end: "2026-12-08T16:00:00Z",
    suggestions: [
      suggestion(),
      suggestion({ patient_id: 12, display_name: "Ben Ortiz", priority: "soon", reason: "Waiting 12 days · soon", days_waiting: 12, phone: "555-0102" }),
      suggestion({ patient_id: 13, display_name: "Cy Park", priority: "routine", reason: "Waiting 3 days", days_waiting: 3, phone: null, has_source_id: false }),
    ],
    eligible: 3,
    waiting: 42,
    ranked_by: "deterministic",
    model_asked: false,
    fallback_reason: null,
    hold: null,
    bookable: true,
    ...over,
  };
}

/** A routine patient in New York with no preferences, added on 2026-10-28. */
export function waitlistEntry(over: Partial<WaitlistEntryDto> = {}): WaitlistEntryDto {
  return { ...emptyEntry("America/New_York"), id: 11, display_name: "Ana Lopez", phone: "555-0101", added_on: "2026-10-28", ...over };
}

/** The default settings: model off (no address), quiet 19:00–07:00 off, 15-minute holds. */
export function fillSettings(over: Partial<FillSettingsForm> = {}): FillSettingsForm {
  return {
    model_on: false,
    model_base_url: "",
    model_name: "",
    model_timeout_secs: 8,
    model_top_n: 10,
    has_api_key: false,
    new_api_key: null,
    quiet_on: false,
    quiet_start: "19:00",
    quiet_end: "07:00",
    hold_minutes: 15,
    model_from_environment: false,
    ...over,
  };
}

type FillApi = Pick<
  Api,
  | "fillView"
  | "fillSuggestions"
  | "offerSlot"
  | "bookOffer"
  | "releaseOffer"
  | "waitlist"
  | "saveWaitlistEntry"
  | "removeWaitlistEntry"
  | "importWaitlist"
  | "patientOptions"
  | "fillSettings"
  | "saveFillSettings"
  | "staff"
  | "setStaff"
  | "pendingOpenSlot"
>;

/** The fill commands of a fake shell: an empty Openings page and waitlist, Maria at the desk; actions refuse. */
export function fillApi(): FillApi {
  const refuse = async (): Promise<never> => {
    throw "not in this test";
  };
  return {
    fillView: async () => fillView({ openings: [] }),
    fillSuggestions: refuse,
    offerSlot: refuse,
    bookOffer: refuse,
    releaseOffer: refuse,
    waitlist: async () => [],
    saveWaitlistEntry: refuse,
    removeWaitlistEntry: refuse,
    importWaitlist: refuse,
    patientOptions: refuse,
    fillSettings: async () => fillSettings(),
    saveFillSettings: refuse,
    staff: async () => ({ current: "Maria", recent: ["Maria"], os_user: "desk" }),
    setStaff: refuse,
    pendingOpenSlot: async () => null,
  };
}

/**
 * A whole fake shell API: the week of Mar 2, 2026 with Dr. Rivera (New York) and `slots`,
 * nothing connected, and `fillApi()`; tests override single commands.
 */
export function fakeApi(slots: Week["slots"] = []): Api {
  const refuse = async (): Promise<never> => {
    throw "not in this test";
  };
  const provider = providerView();
  return {
    appStatus: async () => appStatus(),
    week: async (q) => ({
      start: q.start ?? "2026-03-02",
      days: ["02", "03", "04", "05", "06", "07", "08"].map((d) => ({ date: `2026-03-${d}`, is_today: d === "04" })),
      today: "2026-03-04",
      providers: [provider],
      all_providers: [provider],
      locations: [{ name: "Main St", tz: "America/New_York" }],
      slots,
      busy: [],
      sources: [],
      has_demo: false,
      now: "2026-03-04T15:00:00Z",
    }),
    checkFile: refuse,
    importFile: refuse,
    removeDemo: refuse,
    loadDemo: refuse,
    timeZones: async () => ["America/Chicago", "America/New_York"],
    uiReady: async () => undefined,
    integrations: async () => ({ cards: [integrationCard({ name: "Main St Epic" })], connecting: null, now: "2026-03-04T15:00:00Z" }),
    connectIntegration: refuse,
    cancelSignIn: async () => false,
    syncNow: refuse,
    disconnectIntegration: refuse,
    reconnectIntegration: refuse,
    findCalendars: refuse,
    setIntegrationPaused: refuse,
    ...fillApi(),
  };
}

/** A ready database whose clock is pretended: Wed Mar 4, 2026, 15:00 UTC (the week of Mar 2). */
export function appStatus(over: Partial<AppStatus> = {}): AppStatus {
  return {
    ready: true,
    problem: null,
    problem_kind: null,
    problem_detail: null,
    db_exists: true,
    db_path: "/tmp/desk.db",
    now: "2026-03-04T15:00:00Z",
    now_fixed: true,
    today: "2026-03-04",
    week_start: "2026-03-02",
    version: "0.1.0",
    ...over,
  };
}

/** Empties the page and the saved filters, and mounts a new element for the app. */
export function freshRoot(): HTMLElement {
  localStorage.clear();
  document.body.replaceChildren();
  const root = document.createElement("div");
  document.body.append(root);
  return root;
}
