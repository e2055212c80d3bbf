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
  FoundCalendar,
  ImportArgs,
  ImportReport,
  IntegrationsView,
  SignInStarted,
  StoreChanged,
  SyncResult,
  Week,
  WeekQuery,
} from "./bindings";
import { SIGN_IN, STORE_CHANGED } from "./bindings";

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

/** The real API and event subscriptions, over Tauri. */
export async function tauriBackend(): Promise<{ api: Api; onStoreChanged: ListenStoreChanged; onSignIn: ListenSignIn }> {
  const core = await import("@tauri-apps/api/core");
  const event = await import("@tauri-apps/api/event");
  const api = makeApi((cmd, args) => core.invoke(cmd, args));
  const onStoreChanged: ListenStoreChanged = (handler) => event.listen<StoreChanged>(STORE_CHANGED, (e) => handler(e.payload));
  const onSignIn: ListenSignIn = (handler) => event.listen<SignInStarted>(SIGN_IN, (e) => handler(e.payload));
  return { api, onStoreChanged, onSignIn };
}
