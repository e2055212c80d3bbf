// The Integrations page's words and rules: which systems can be connected and
// how each signs in, what a card says about a connection, and the Connect
// form's checks. No DOM here (see view/integrations.ts and view/connect.ts).

import type { AuthForm, ConnectForm, IntegrationCard, SyncResult } from "./bindings";
import { relativeTime } from "./time";

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

/** The systems in the order the page offers them. */
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
};

/** The badge of a card: its words and colour. */
export function statusBadge(card: IntegrationCard, syncingHere = false): { tone: "ok" | "problem" | "stale" | "never" | "syncing"; text: string } {
  if (syncingHere || card.status === "syncing") return { tone: "syncing", text: "Syncing…" };
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

/** What the Connect form holds (secrets only in memory, never shown again). */
export interface ConnectValues {
  kind: SystemKind;
  name: string;
  baseUrl: string;
  method: AuthMethod;
  clientId: string;
  clientSecret: string;
  /** How the private key is given. */
  keySource: "file" | "paste";
  keyPath: string | null;
  keyText: string;
  kid: string;
  tz: string;
  visitTypes: string;
  practitioners: string;
  locations: string;
  tokenUrl: string;
  stu3Url: string;
}

const isWebAddress = (v: string) => /^https?:\/\/[^\s/]+/i.test(v.trim());

/**
 * Checks the form as staff filled it in and builds the command's argument,
 * or says in plain words what to fill in (the shell checks again).
 */
export function buildConnectForm(v: ConnectValues): { form: ConnectForm; error: null } | { form: null; error: string } {
  const fail = (error: string) => ({ form: null, error }) as const;
  const info = systemInfo(v.kind);
  const name = v.name.trim();
  if (!name) return fail(`Give the connection a name your team will recognise, e.g. “Main Street ${info.kind === "fhir" ? "FHIR" : info.title}”.`);
  const baseUrl = v.baseUrl.trim();
  if (!baseUrl) return fail("Enter the FHIR address. Your EHR administrator or IT person gives it to you.");
  if (!isWebAddress(baseUrl)) return fail(`“${baseUrl}” is not a web address. Enter the FHIR address starting with https://, e.g. ${info.addressExample}`);
  if (!info.methods.includes(v.method)) return fail("Choose how MedHarmony Desk signs in.");
  const clientId = v.clientId.trim();
  if (v.method !== "none" && !clientId) return fail("Enter the client ID. Your EHR administrator gives it to you when they register MedHarmony Desk.");
  let auth: AuthForm;
  switch (v.method) {
    case "none":
      auth = { method: "none" };
      break;
    case "client-secret":
      if (!v.clientSecret.trim()) return fail("Enter the client secret of the system account (your EHR administrator has it).");
      auth = { method: "client-secret", client_id: clientId, client_secret: v.clientSecret.trim() };
      break;
    case "backend-key": {
      const pasted = v.keySource === "paste" ? v.keyText.trim() : "";
      const path = v.keySource === "file" ? v.keyPath : null;
      if (!pasted && !path) {
        return fail(v.keySource === "file" ? "Choose the private key file. Your IT person made it when registering MedHarmony Desk with the EHR." : "Paste the private key, from “-----BEGIN” to “-----END … KEY-----”.");
      }
      if (pasted && !pasted.includes("-----BEGIN")) return fail("What was pasted is not a private key. Paste the whole key, from “-----BEGIN” to “-----END … KEY-----”.");
      auth = { method: "backend-key", client_id: clientId, private_key_pem: pasted || null, private_key_path: path, kid: v.kid.trim() || null };
      break;
    }
    case "standalone":
      auth = { method: "standalone", client_id: clientId };
      break;
  }
  if (!v.tz) return fail("Choose the time zone of the practice this system serves.");
  const serviceTypes = splitList(v.visitTypes);
  if (info.needsVisitType && serviceTypes.length === 0) {
    return fail("Oracle Health lists open times only for a visit type: enter at least one visit type code (your Oracle Health administrator can tell you which).");
  }
  const tokenUrl = v.tokenUrl.trim();
  if (tokenUrl && !isWebAddress(tokenUrl)) return fail(`“${tokenUrl}” is not a web address. Leave the sign-in (token) address empty, or enter one starting with https://.`);
  const stu3 = info.kind === "epic" ? v.stu3Url.trim() : "";
  if (stu3 && !isWebAddress(stu3)) return fail(`“${stu3}” is not a web address. Leave the STU3 address empty, or enter one starting with https://.`);
  return {
    error: null,
    form: {
      kind: v.kind,
      name,
      base_url: baseUrl,
      auth,
      tz: v.tz,
      service_types: serviceTypes,
      practitioners: splitList(v.practitioners),
      locations: splitList(v.locations),
      token_url: tokenUrl || null,
      stu3_base_url: stu3 || null,
    },
  };
}
