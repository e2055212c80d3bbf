// Typed access to the desktop shell's commands and events. Types come from
// the generated bindings (src/bindings, checked by a Rust test); command
// names are checked against the generated COMMANDS list at compile time.

import type {
  AppStatus,
  AuthForm,
  CommandName,
  ConnectForm,
  ConnectResult,
  DemoResult,
  DisconnectResult,
  FileCheck,
  FillSettingsForm,
  FillView,
  FoundCalendar,
  HoldDto,
  ImportArgs,
  ImportReport,
  IntegrationsView,
  OfferBookedDto,
  OpeningDto,
  OpenSlot,
  PatientOptions,
  SignInStarted,
  StaffView,
  StoreChanged,
  SuggestionsView,
  SyncResult,
  WaitlistEntryDto,
  WaitlistImportResult,
  Week,
  WeekQuery,
} from "./bindings";
import { OPEN_SLOT, OPENINGS_FOUND, SIGN_IN, STORE_CHANGED } from "./bindings";

/** Calls one command; the real one is Tauri's `invoke`, tests pass a mock. */
export type Invoke = <T>(cmd: CommandName, args?: Record<string, unknown>) => Promise<T>;

/** Every command of the shell, typed. */
export interface Api {
  appStatus(): Promise<AppStatus>;
  week(query: WeekQuery): Promise<Week>;
  checkFile(path: string): Promise<FileCheck>;
  importFile(args: ImportArgs): Promise<ImportReport>;
  removeDemo(): Promise<DemoResult>;
  loadDemo(): Promise<DemoResult>;
  timeZones(): Promise<string[]>;
  /** Tells the shell the first week is on screen (it logs the start-up time). */
  uiReady(): Promise<void>;
  /** The Integrations page: one card per connected system. */
  integrations(): Promise<IntegrationsView>;
  /** Connects a system (a staff sign-in opens the browser), then syncs it once. */
  connectIntegration(form: ConnectForm): Promise<ConnectResult>;
  /** Stops a waiting browser sign-in; false when none was waiting. */
  cancelSignIn(): Promise<boolean>;
  /** Syncs one connected system now. */
  syncNow(name: string): Promise<SyncResult>;
  /** Disconnects a system: its open times are removed, and its sign-in from the keychain. */
  disconnectIntegration(name: string): Promise<DisconnectResult>;
  /**
   * Signs in again to the connected system `name` whose sign-in expired or was refused
   * (a browser sign-in opens the browser), then syncs it once.
   */
  reconnectIntegration(name: string, auth: AuthForm): Promise<ConnectResult>;
  /** The calendars of a CalDAV account (the Connect form's "Find calendars"). */
  findCalendars(baseUrl: string, username: string, password: string): Promise<FoundCalendar[]>;
  /** Pauses (true) or resumes (false) a system's scheduled syncs; its open times stay. */
  setIntegrationPaused(name: string, paused: boolean): Promise<void>;

  // ---- cancellation fill --------------------------------------------------
  /** The Openings page: openings still ahead, the 30-day figures, who is at the desk. */
  fillView(): Promise<FillView>;
  /**
   * The best waiting patients (at most 3) for the free time `slotId` (`slot-<n>`). `askModel`
   * false: MedHarmony's own ranking, at once; true: the language model re-ranks when it is on
   * (takes up to its time limit; falls back to the own ranking with a reason).
   */
  fillSuggestions(slotId: string, askModel: boolean): Promise<SuggestionsView>;
  /** Holds `slotId` for waitlist patient `patientId` while staff call (checks the time with its system first: seconds). */
  offerSlot(slotId: string, patientId: number): Promise<HoldDto>;
  /** Books the held time for its patient in the time's system. */
  bookOffer(slotId: string): Promise<OfferBookedDto>;
  /** Ends the hold on `slotId`: the time is free to offer again. */
  releaseOffer(slotId: string): Promise<void>;
  /** Every waiting patient. */
  waitlist(): Promise<WaitlistEntryDto[]>;
  /** Adds (`entry.id` null) or changes a waiting patient; resolves with the saved entry. */
  saveWaitlistEntry(entry: WaitlistEntryDto): Promise<WaitlistEntryDto>;
  /** Takes a patient off the waitlist. */
  removeWaitlistEntry(id: number): Promise<void>;
  /** Adds the patients of a waitlist spreadsheet (.csv at `path`); a bad row refuses the whole file. */
  importWaitlist(path: string): Promise<WaitlistImportResult>;
  /** The best free times (at most 3) in the next 30 days for one waiting patient. */
  patientOptions(patientId: number): Promise<PatientOptions>;
  /** The Settings dialog's suggestions, notifications and offers settings. */
  fillSettings(): Promise<FillSettingsForm>;
  /** Saves the settings; resolves with them as stored (errors name the field in plain words). */
  saveFillSettings(form: FillSettingsForm): Promise<FillSettingsForm>;
  /** Who is at the desk, and the names chosen before on this computer. */
  staff(): Promise<StaffView>;
  /** Says who is at the desk (written to the audit log of offers and bookings). */
  setStaff(name: string): Promise<StaffView>;
  /** The opening whose notification was clicked before the window listened, if any (asked once at start). */
  pendingOpenSlot(): Promise<OpenSlot | null>;
}

/** Builds the typed API over an `invoke` function. */
export function makeApi(invoke: Invoke): Api {
  return {
    appStatus: () => invoke<AppStatus>("app_status"),
    week: (query) => invoke<Week>("week", { query }),
    checkFile: (path) => invoke<FileCheck>("check_file", { path }),
    importFile: (args) => invoke<ImportReport>("import_file", { args }),
    removeDemo: () => invoke<DemoResult>("remove_demo"),
    loadDemo: () => invoke<DemoResult>("load_demo"),
    timeZones: () => invoke<string[]>("time_zones"),
    uiReady: () => invoke<void>("ui_ready"),
    integrations: () => invoke<IntegrationsView>("integrations"),
    connectIntegration: (form) => invoke<ConnectResult>("connect_integration", { form }),
    cancelSignIn: () => invoke<boolean>("cancel_sign_in"),
    syncNow: (name) => invoke<SyncResult>("sync_now", { name }),
    disconnectIntegration: (name) => invoke<DisconnectResult>("disconnect_integration", { name }),
    reconnectIntegration: (name, auth) => invoke<ConnectResult>("reconnect_integration", { name, auth }),
    // Tauri maps camelCase argument keys to the command's snake_case parameters (base_url).
    findCalendars: (baseUrl, username, password) => invoke<FoundCalendar[]>("find_calendars", { baseUrl, username, password }),
    setIntegrationPaused: (name, paused) => invoke<void>("set_integration_paused", { name, paused }),
    fillView: () => invoke<FillView>("fill_view"),
    fillSuggestions: (slotId, askModel) => invoke<SuggestionsView>("fill_suggestions", { slotId, askModel }),
    offerSlot: (slotId, patientId) => invoke<HoldDto>("offer_slot", { slotId, patientId }),
    bookOffer: (slotId) => invoke<OfferBookedDto>("book_offer", { slotId }),
    releaseOffer: (slotId) => invoke<void>("release_offer", { slotId }),
    waitlist: () => invoke<WaitlistEntryDto[]>("waitlist"),
    saveWaitlistEntry: (entry) => invoke<WaitlistEntryDto>("save_waitlist_entry", { entry }),
    removeWaitlistEntry: (id) => invoke<void>("remove_waitlist_entry", { id }),
    importWaitlist: (path) => invoke<WaitlistImportResult>("import_waitlist", { path }),
    patientOptions: (patientId) => invoke<PatientOptions>("patient_options", { patientId }),
    fillSettings: () => invoke<FillSettingsForm>("fill_settings"),
    saveFillSettings: (form) => invoke<FillSettingsForm>("save_fill_settings", { form }),
    staff: () => invoke<StaffView>("staff"),
    setStaff: (name) => invoke<StaffView>("set_staff", { name }),
    pendingOpenSlot: () => invoke<OpenSlot | null>("pending_open_slot"),
  };
}

/** The message of a command error (the shell sends its errors as plain strings). */
export function errorText(e: unknown): string {
  if (typeof e === "string") return e;
  if (e instanceof Error) return e.message;
  return "Something went wrong";
}

/** Subscribes to `store-changed`; returns the unsubscribe function. */
export type ListenStoreChanged = (handler: (change: StoreChanged) => void) => Promise<() => void>;

/** Subscribes to `sign-in` (a connection's browser sign-in started); returns the unsubscribe function. */
export type ListenSignIn = (handler: (started: SignInStarted) => void) => Promise<() => void>;

/** Subscribes to `openings-found` (new openings, soonest first); returns the unsubscribe function. */
export type ListenOpeningsFound = (handler: (openings: OpeningDto[]) => void) => Promise<() => void>;

/** Subscribes to `open-slot` (an opening's notification was clicked); returns the unsubscribe function. */
export type ListenOpenSlot = (handler: (open: OpenSlot) => void) => Promise<() => void>;

/** The real API and event subscriptions, over Tauri. */
export async function tauriBackend(): Promise<{
  api: Api;
  onStoreChanged: ListenStoreChanged;
  onSignIn: ListenSignIn;
  onOpeningsFound: ListenOpeningsFound;
  onOpenSlot: ListenOpenSlot;
}> {
  const core = await import("@tauri-apps/api/core");
  const event = await import("@tauri-apps/api/event");
  const api = makeApi((cmd, args) => core.invoke(cmd, args));
  const onStoreChanged: ListenStoreChanged = (handler) => event.listen<StoreChanged>(STORE_CHANGED, (e) => handler(e.payload));
  const onSignIn: ListenSignIn = (handler) => event.listen<SignInStarted>(SIGN_IN, (e) => handler(e.payload));
  const onOpeningsFound: ListenOpeningsFound = (handler) => event.listen<OpeningDto[]>(OPENINGS_FOUND, (e) => handler(e.payload));
  const onOpenSlot: ListenOpenSlot = (handler) => event.listen<OpenSlot>(OPEN_SLOT, (e) => handler(e.payload));
  return { api, onStoreChanged, onSignIn, onOpeningsFound, onOpenSlot };
}
