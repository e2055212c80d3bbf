// The Integrations page's words and rules: which systems can be connected and
// how each signs in, what a card says about a connection, and the Connect
// form's checks. No DOM here (see view/integrations.ts and view/connect.ts).

import type { AthenaForm, AuthForm, CalendarForm, ConnectForm, IntegrationCard, SyncResult } from "./bindings";
import { relativeTime, timeUntil } from "./time";

/** A kind of system the desk connects to. */
export type SystemKind = ConnectForm["kind"];
/** How a connection signs in. */
export type AuthMethod = IntegrationCard["auth"];

/** What the "Add a connection" area says about a kind of system, and how it signs in. */
export interface SystemInfo {
  kind: SystemKind;
  /** The tile's title. */
  title: string;
  /** One line under the title. */
  blurb: string;
  /** Sign-in methods offered, the usual one first. */
  methods: AuthMethod[];
  /** Help under the address field. */
  addressHelp: string;
  /** Placeholder of the address field. */
  addressExample: string;
  /** True when at least one visit type must be given. */
  needsVisitType: boolean;
}

/** The systems in the order the page offers them (the Manual upload tile comes after them). */
export const SYSTEMS: SystemInfo[] = [
  {
    kind: "epic",
    title: "Epic",
    blurb: "Open times from your Epic system's scheduling.",
    methods: ["backend-key", "standalone"],
    addressHelp: "Your Epic administrator gives you this address. It usually ends in /api/FHIR/R4.",
    addressExample: "https://fhir.yourhospital.org/api/FHIR/R4",
    needsVisitType: false,
  },
  {
    kind: "oracle-health",
    title: "Oracle Health",
    blurb: "Open slots from Oracle Health (Cerner) Millennium, for the visit types you choose.",
    methods: ["client-secret", "backend-key", "standalone"],
    addressHelp: "Your Oracle Health administrator gives you this address. It usually ends in /r4/ followed by your tenant ID.",
    addressExample: "https://fhir-ehr.cerner.com/r4/your-tenant-id",
    needsVisitType: true,
  },
  {
    kind: "athena",
    title: "athenahealth",
    blurb: "Open appointments from athenaOne, for the departments and appointment types you choose.",
    methods: ["client-secret"],
    addressHelp: "Production for your real schedules; Preview only when your athenahealth administrator asks you to test.",
    addressExample: "https://api.platform.athenahealth.com",
    needsVisitType: false,
  },
  {
    kind: "google-calendar",
    title: "Google Calendar",
    blurb: "Providers' Google calendars: their working hours minus the time they are busy.",
    methods: ["google"],
    addressHelp: "",
    addressExample: "",
    needsVisitType: false,
  },
  {
    kind: "caldav",
    title: "CalDAV calendar",
    blurb: "Calendars on iCloud, Fastmail, Nextcloud and other CalDAV servers: working hours minus busy time.",
    methods: ["basic"],
    addressHelp: "Choose your calendar service, or enter its CalDAV address (your IT person knows it).",
    addressExample: "https://caldav.fastmail.com",
    needsVisitType: false,
  },
  {
    kind: "fhir",
    title: "Other FHIR server",
    blurb: "Any FHIR R4 server that publishes open slots (Slot and Schedule).",
    methods: ["none", "backend-key", "client-secret", "standalone"],
    addressHelp: "The server's FHIR R4 base address, from your IT person or the system's vendor.",
    addressExample: "https://fhir.example.org/r4",
    needsVisitType: false,
  },
];

/** The system info of `kind`. */
export function systemInfo(kind: SystemKind): SystemInfo {
  return SYSTEMS.find((s) => s.kind === kind) ?? SYSTEMS[SYSTEMS.length - 1];
}

/** True for the kinds that read providers' calendars (busy time) rather than open slots. */
export function isCalendarKind(kind: SystemKind): boolean {
  return kind === "google-calendar" || kind === "caldav";
}

/** athenahealth's API environments: the address each stands for. */
export const ATHENA_ENVIRONMENTS: { label: string; url: string }[] = [
  { label: "Production", url: "https://api.platform.athenahealth.com" },
  { label: "Preview (for testing)", url: "https://api.preview.platform.athenahealth.com" },
];

/** Calendar services offered as presets for the CalDAV server address. */
export const CALDAV_PRESETS: { id: string; label: string; url: string }[] = [
  { id: "icloud", label: "iCloud", url: "https://caldav.icloud.com" },
  { id: "fastmail", label: "Fastmail", url: "https://caldav.fastmail.com" },
  { id: "nextcloud", label: "Nextcloud", url: "https://your-nextcloud/remote.php/dav" },
];

/** Minutes per appointment of a calendar when staff do not say. */
export const DEFAULT_SLOT_MINUTES = 30;

/** How each sign-in method is offered: a short label and who provides what. */
export const METHODS: Record<AuthMethod, { label: string; help: string }> = {
  none: {
    label: "No sign-in",
    help: "Only for an open server, such as a test server. Systems with real patient schedules always need a sign-in.",
  },
  "backend-key": {
    label: "Server-to-server key",
    help: "MedHarmony Desk signs in by itself with a private key (SMART Backend Services). Your IT person registers MedHarmony Desk with the EHR and gives you the client ID and the key file.",
  },
  "client-secret": {
    label: "System account",
    help: "A client ID and secret for a system account. Your EHR administrator creates the account and gives you both.",
  },
  standalone: {
    label: "Sign in with an EHR account",
    help: "A staff member signs in once in the web browser, and MedHarmony Desk keeps that access (SMART standalone launch). Your EHR administrator gives you the client ID.",
  },
  google: {
    label: "Sign in with Google",
    help: "A staff member signs in once in the web browser with the Google account that can see the providers' calendars. Your IT person gives you the client ID of the practice's Google Cloud project.",
  },
  basic: {
    label: "User name and app password",
    help: "The calendar account's user name and an app password made in the account's security settings.",
  },
};

/** The badge of a card: its words and colour. */
export function statusBadge(card: IntegrationCard, syncingHere = false): { tone: "ok" | "problem" | "stale" | "never" | "syncing"; text: string } {
  if (syncingHere || card.status === "syncing") return { tone: "syncing", text: "Syncing…" };
  if (!card.active && card.status !== "problem") return { tone: "never", text: "Paused" };
  switch (card.status) {
    case "problem":
      return { tone: "problem", text: "Needs attention" };
    case "stale":
      return { tone: "stale", text: "Not synced recently" };
    case "never":
      return { tone: "never", text: "Not synced yet" };
    default:
      return { tone: "ok", text: "Working" };
  }
}

/** "Last synced 5 min ago", with a word when that is longer ago than expected. */
export function lastSyncedText(card: IntegrationCard, nowMs: number): string {
  if (!card.last_sync_at) return card.last_sync ? "Never synced completely" : "Not synced yet";
  const when = `Last synced ${relativeTime(card.last_sync_at, nowMs)}`;
  return card.stale ? `${when} — it should sync every ${card.sync_minutes} min` : when;
}

/** "2 added · 1 changed · 0 removed · 12 up to date" for a sync that read everything; null otherwise. */
export function countsText(sync: SyncResult): string | null {
  if (sync.failed || !sync.complete) return null;
  return `${sync.added} added · ${sync.changed} changed · ${sync.removed} removed · ${sync.unchanged} up to date`;
}

/** "1 open time set aside", "3 open times set aside". */
export function setAsideText(n: number): string {
  return n === 1 ? "1 open time set aside" : `${n} open times set aside`;
}

/** A name for a new connection of `kind` that no existing connection has. */
export function suggestName(kind: SystemKind, existing: string[]): string {
  const base = kind === "fhir" ? "FHIR server" : systemInfo(kind).title;
  const taken = new Set(existing.map((n) => n.trim().toLowerCase()));
  if (!taken.has(base.toLowerCase())) return base;
  for (let i = 2; ; i++) {
    const name = `${base} ${i}`;
    if (!taken.has(name.toLowerCase())) return name;
  }
}

/** Items of a list field: separated by commas or new lines, trimmed, without empties. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** One row of the calendars table (Google Calendar, CalDAV), as typed. */
export interface CalendarRow {
  /** Google: the calendar's id (usually an e-mail address); CalDAV: the calendar's address. */
  calendar: string;
  /** The provider whose calendar it is. */
  provider: string;
  /** Working hours in the provider's local time, e.g. "Mon-Fri 08:00-12:00,13:00-17:00". */
  hours: string;
  /** Minutes per appointment as typed; empty: 30. */
  minutes: string;
  /** The provider's IANA zone; empty: the connection's. */
  tz: string;
}

/** The sign-in part of the Connect form (also all the Reconnect dialog asks for). */
export interface SignInValues {
  method: AuthMethod;
  clientId: string;
  clientSecret: string;
  /** How the private key is given. */
  keySource: "file" | "paste";
  keyPath: string | null;
  keyText: string;
  kid: string;
  /** CalDAV: the account's user name. */
  username: string;
  /** CalDAV: the app password. */
  password: string;
}

/** What the Connect form holds (secrets only in memory, never shown again). */
export interface ConnectValues extends SignInValues {
  kind: SystemKind;
  name: string;
  /** FHIR base, athenahealth environment address or CalDAV server address (unused for Google). */
  baseUrl: string;
  tz: string;
  visitTypes: string;
  practitioners: string;
  locations: string;
  tokenUrl: string;
  stu3Url: string;
  /** athenahealth: `practiceid`. */
  practiceId: string;
  /** athenahealth: `departmentid`s, separated by commas. */
  departmentIds: string;
  /** athenahealth: `appointmenttypeid`s, separated by commas. */
  appointmentTypeIds: string;
  /** athenahealth: `reasonid`s, separated by commas. */
  reasonIds: string;
  /** athenahealth: `providerid`s, separated by commas (empty: every provider). */
  providerIds: string;
  /** Google Calendar / CalDAV: the calendars table, in its order. */
  calendars: CalendarRow[];
}

const isWebAddress = (v: string) => /^https?:\/\/[^\s/]+/i.test(v.trim());

/** The sign-in of `kind` built from what staff typed, or a sentence saying what to fill in. */
export function buildSignIn(kind: SystemKind, v: SignInValues): { auth: AuthForm; error: null } | { auth: null; error: string } {
  const fail = (error: string) => ({ auth: null, error }) as const;
  const ok = (auth: AuthForm) => ({ auth, error: null }) as const;
  const clientId = v.clientId.trim();
  const needsClientId = v.method === "backend-key" || v.method === "client-secret" || v.method === "standalone" || v.method === "google";
  if (needsClientId && !clientId) {
    if (kind === "athena") return fail("Enter the client ID of your practice's API app. Your athenahealth administrator finds it in the athenahealth Developer Portal.");
    if (v.method === "google") return fail("Enter the client ID of your practice's Google Cloud project (an OAuth client of type “Desktop app”). Your IT person has it.");
    return fail("Enter the client ID. Your EHR administrator gives it to you when they register MedHarmony Desk.");
  }
  switch (v.method) {
    case "none":
      return ok({ method: "none" });
    case "client-secret":
      if (!v.clientSecret.trim()) {
        return fail(
          kind === "athena"
            ? "Enter the client secret of the API app (your athenahealth administrator has it from the athenahealth Developer Portal)."
            : "Enter the client secret of the system account (your EHR administrator has it).",
        );
      }
      return ok({ method: "client-secret", client_id: clientId, client_secret: v.clientSecret.trim() });
    case "backend-key": {
      const pasted = v.keySource === "paste" ? v.keyText.trim() : "";
      const path = v.keySource === "file" ? v.keyPath : null;
      if (!pasted && !path) {
        return fail(v.keySource === "file" ? "Choose the private key file. Your IT person made it when registering MedHarmony Desk with the EHR." : "Paste the private key, from “-----BEGIN” to “-----END … KEY-----”.");
      }
      if (pasted && !pasted.includes("-----BEGIN")) return fail("What was pasted is not a private key. Paste the whole key, from “-----BEGIN” to “-----END … KEY-----”.");
      return ok({ method: "backend-key", client_id: clientId, private_key_pem: pasted || null, private_key_path: path, kid: v.kid.trim() || null });
    }
    case "standalone":
      return ok({ method: "standalone", client_id: clientId });
    case "google":
      return ok({ method: "google", client_id: clientId, client_secret: v.clientSecret.trim() || null });
    case "basic":
      if (!v.username.trim()) return fail("Enter the user name of the calendar account (often its e-mail address).");
      if (!v.password.trim()) return fail("Enter an app password for the calendar account (made in the account's security settings, not its usual password).");
      return ok({ method: "basic", username: v.username.trim(), password: v.password.trim() });
  }
}

const DAY = String.raw`(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*`;
const DAYS = String.raw`${DAY}(?:-${DAY})?(?:,${DAY}(?:-${DAY})?)*`;
const RANGE = String.raw`\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}`;
const HOURS_PART = new RegExp(String.raw`^${DAYS}\s+${RANGE}(?:\s*,\s*${RANGE})*,?$`, "i");

/**
 * True when `spec` is shaped like working hours, "Mon-Fri 08:00-12:00,13:00-17:00" or
 * "Mon-Thu 08:00-17:00; Fri 08:00-12:00" (a light check: the shell reads them exactly).
 */
export function looksLikeHours(spec: string): boolean {
  const parts = spec
    .split(";")
    .map((p) => p.trim())
    .filter(Boolean);
  return parts.length > 0 && parts.every((p) => HOURS_PART.test(p));
}

/**
 * The calendars to read from the table's rows, or a sentence naming the row to fix.
 * Rows left empty (no calendar, provider or hours) are ignored; at least one is needed.
 */
export function buildCalendars(kind: SystemKind, rows: CalendarRow[]): { calendars: CalendarForm[]; error: null } | { calendars: null; error: string } {
  const fail = (error: string) => ({ calendars: null, error }) as const;
  const calendars: CalendarForm[] = [];
  for (const [i, row] of rows.entries()) {
    const n = i + 1;
    const calendar = row.calendar.trim();
    const provider = row.provider.trim();
    const hours = row.hours.trim();
    if (!calendar && !provider && !hours) continue;
    if (!calendar) {
      return fail(kind === "caldav" ? `Row ${n}: enter the calendar's address (Find calendars fills it in).` : `Row ${n}: enter the calendar — for Google, usually the provider's e-mail address.`);
    }
    if (!provider) return fail(`Row ${n}: enter the provider whose calendar it is, e.g. Dr. Rivera.`);
    const who = `Row ${n} (${provider})`;
    if (kind === "caldav" && !isWebAddress(calendar)) return fail(`${who}: “${calendar}” is not a web address. A calendar's address starts with https://; Find calendars fills it in.`);
    if (!hours) return fail(`${who}: enter the working hours, e.g. Mon-Fri 08:00-12:00,13:00-17:00.`);
    if (!looksLikeHours(hours)) {
      return fail(
        `${who}: “${hours}” cannot be read as working hours. Write the days, a space, then the times, e.g. Mon-Fri 08:00-12:00,13:00-17:00; separate different days with “;”, e.g. Mon-Thu 08:00-17:00; Fri 08:00-12:00.`,
      );
    }
    const minutesText = row.minutes.trim();
    let minutes: number | null = null;
    if (minutesText) {
      minutes = /^\d+$/.test(minutesText) ? Number(minutesText) : NaN;
      if (!(minutes >= 5 && minutes <= 480)) return fail(`${who}: minutes per appointment must be a whole number from 5 to 480.`);
    }
    calendars.push({ calendar, provider, hours, slot_minutes: minutes, tz: row.tz.trim() || null });
  }
  if (calendars.length === 0) return fail("Add at least one calendar and the provider it belongs to.");
  return { calendars, error: null };
}

/** athenahealth's settings from the form, or a sentence saying what to fill in. */
function buildAthena(v: ConnectValues): { athena: AthenaForm; error: null } | { athena: null; error: string } {
  const fail = (error: string) => ({ athena: null, error }) as const;
  const practice = v.practiceId.trim();
  if (!practice) return fail("Enter the athenahealth practice ID, a number such as 195900. Your athenahealth administrator gives it to you.");
  if (!/^\d+$/.test(practice)) return fail(`“${practice}” is not a practice ID: it is a number such as 195900. Your athenahealth administrator gives it to you.`);
  const lists = {
    departmentids: splitList(v.departmentIds),
    appointmenttypeids: splitList(v.appointmentTypeIds),
    reasonids: splitList(v.reasonIds),
    providerids: splitList(v.providerIds),
  };
  if (lists.departmentids.length === 0) return fail("Enter at least one department ID. Your athenahealth administrator can tell you which departments' schedules to read.");
  if (lists.appointmenttypeids.length === 0 && lists.reasonids.length === 0) {
    return fail(
      "athenahealth lists open times only for an appointment type or a reason: enter at least one appointment type ID or reason ID (your athenahealth administrator can tell you which).",
    );
  }
  const names: [keyof typeof lists, string][] = [
    ["departmentids", "department ID"],
    ["appointmenttypeids", "appointment type ID"],
    ["reasonids", "reason ID"],
    ["providerids", "provider ID"],
  ];
  for (const [key, label] of names) {
    // A reason ID of -1 means "any reason" (athenahealth's open-slot search).
    const bad = lists[key].find((id) => !/^\d+$/.test(id) && !(key === "reasonids" && id === "-1"));
    if (bad !== undefined) return fail(`“${bad}” is not ${/^[aeiou]/.test(label) ? "an" : "a"} ${label}: athenahealth IDs are numbers, e.g. 1 or 82. Separate several with commas.`);
  }
  return { athena: { practiceid: practice, ...lists }, error: null };
}

/** The server address of the form for `kind`, or a sentence saying what to fill in. */
function buildAddress(v: ConnectValues, info: SystemInfo): { url: string; error: null } | { url: null; error: string } {
  const fail = (error: string) => ({ url: null, error }) as const;
  const url = v.baseUrl.trim();
  switch (v.kind) {
    case "google-calendar":
      // The shell uses Google Calendar's API address.
      return { url: "", error: null };
    case "athena":
      if (!url) return fail("Choose the athenahealth environment: Production, or Preview for testing.");
      if (!isWebAddress(url)) return fail(`“${url}” is not a web address. Choose Production, or Preview for testing.`);
      return { url, error: null };
    case "caldav":
      if (!url) return fail("Enter the calendar server's address, or choose iCloud, Fastmail or Nextcloud.");
      if (!isWebAddress(url)) return fail(`“${url}” is not a web address. Enter the calendar server's address starting with https://, e.g. ${info.addressExample}`);
      if (url.includes("your-nextcloud")) return fail("Replace “your-nextcloud” in the server address with your Nextcloud's own address (your IT person knows it).");
      return { url, error: null };
    default:
      if (!url) return fail("Enter the FHIR address. Your EHR administrator or IT person gives it to you.");
      if (!isWebAddress(url)) return fail(`“${url}” is not a web address. Enter the FHIR address starting with https://, e.g. ${info.addressExample}`);
      return { url, error: null };
  }
}

/**
 * Checks the form as staff filled it in and builds the command's argument,
 * or says in plain words what to fill in (the shell checks again).
 */
export function buildConnectForm(v: ConnectValues): { form: ConnectForm; error: null } | { form: null; error: string } {
  const fail = (error: string) => ({ form: null, error }) as const;
  const info = systemInfo(v.kind);
  const fhirKind = v.kind === "fhir" || v.kind === "epic" || v.kind === "oracle-health";
  const name = v.name.trim();
  if (!name) return fail(`Give the connection a name your team will recognise, e.g. “Main Street ${info.kind === "fhir" ? "FHIR" : info.title}”.`);
  const address = buildAddress(v, info);
  if (address.error !== null) return fail(address.error);
  if (!info.methods.includes(v.method)) return fail("Choose how MedHarmony Desk signs in.");
  const signIn = buildSignIn(v.kind, v);
  if (signIn.error !== null) return fail(signIn.error);
  if (!v.tz) return fail("Choose the time zone of the practice this system serves.");
  let athena: AthenaForm | null = null;
  if (v.kind === "athena") {
    const built = buildAthena(v);
    if (built.error !== null) return fail(built.error);
    athena = built.athena;
  }
  let calendars: CalendarForm[] = [];
  if (isCalendarKind(v.kind)) {
    const built = buildCalendars(v.kind, v.calendars);
    if (built.error !== null) return fail(built.error);
    calendars = built.calendars;
  }
  const serviceTypes = fhirKind ? splitList(v.visitTypes) : [];
  if (info.needsVisitType && serviceTypes.length === 0) {
    return fail("Oracle Health lists open times only for a visit type: enter at least one visit type code (your Oracle Health administrator can tell you which).");
  }
  const tokenUrl = fhirKind ? v.tokenUrl.trim() : "";
  if (tokenUrl && !isWebAddress(tokenUrl)) return fail(`“${tokenUrl}” is not a web address. Leave the sign-in (token) address empty, or enter one starting with https://.`);
  const stu3 = info.kind === "epic" ? v.stu3Url.trim() : "";
  if (stu3 && !isWebAddress(stu3)) return fail(`“${stu3}” is not a web address. Leave the STU3 address empty, or enter one starting with https://.`);
  return {
    error: null,
    form: {
      kind: v.kind,
      name,
      base_url: address.url,
      auth: signIn.auth,
      tz: v.tz,
      service_types: serviceTypes,
      practitioners: fhirKind ? splitList(v.practitioners) : [],
      locations: fhirKind ? splitList(v.locations) : [],
      token_url: tokenUrl || null,
      stu3_base_url: stu3 || null,
      athena,
      calendars,
    },
  };
}

/** How a card's connection signs in again: its kind's method, else the card's. */
export function reconnectMethod(card: IntegrationCard): AuthMethod {
  if (card.kind === "caldav") return "basic";
  if (card.kind === "google-calendar") return "google";
  if (card.kind === "athena") return "client-secret";
  return card.auth;
}

/** The sentence on a card whose sign-in must be made again. */
export function reconnectText(card: IntegrationCard): string {
  return `Sign-in to ${card.name} has expired or was refused. Reconnect to keep its open times up to date.`;
}

/** "Next sync in 12 min", "Next sync: now" when due, "Paused" while paused. */
export function nextSyncText(card: IntegrationCard, nowMs: number): string {
  if (!card.active) return "Paused";
  if (card.needs_reconnect) return "No scheduled syncs until it is reconnected";
  if (!card.next_sync_at) return "Paused";
  if (Date.parse(card.next_sync_at) <= nowMs) return "Next sync: now";
  return `Next sync ${timeUntil(card.next_sync_at, nowMs)}`;
}

/** What is missing before "Find calendars" can ask a CalDAV server; null when nothing is. */
export function findCalendarsProblem(baseUrl: string, username: string, password: string): string | null {
  const url = baseUrl.trim();
  if (!url) return "Enter the calendar server's address, or choose iCloud, Fastmail or Nextcloud, then find the calendars.";
  if (!isWebAddress(url)) return `“${url}” is not a web address. Enter the calendar server's address starting with https://, e.g. https://caldav.fastmail.com`;
  if (url.includes("your-nextcloud")) return "Replace “your-nextcloud” in the server address with your Nextcloud's own address (your IT person knows it).";
  if (!username.trim() || !password.trim()) return "Enter the user name and app password first, then find the calendars.";
  return null;
}
