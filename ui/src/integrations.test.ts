import { describe, expect, it } from "vitest";
import type { CalendarRow, ConnectValues } from "./integrations";
import {
  buildConnectForm,
  buildSignIn,
  countsText,
  findCalendarsProblem,
  lastSyncedText,
  looksLikeHours,
  nextSyncText,
  reconnectMethod,
  reconnectText,
  setAsideText,
  splitList,
  statusBadge,
  suggestName,
  SYSTEMS,
} from "./integrations";
import { integrationCard, syncResult } from "./test-fixtures";

const NOW = Date.parse("2026-03-04T15:00:00Z");

function values(over: Partial<ConnectValues> = {}): ConnectValues {
  return {
    kind: "fhir",
    name: "Clinic FHIR",
    baseUrl: "https://fhir.example.org/r4",
    method: "none",
    clientId: "",
    clientSecret: "",
    keySource: "file",
    keyPath: null,
    keyText: "",
    kid: "",
    tz: "America/New_York",
    visitTypes: "",
    practitioners: "",
    locations: "",
    tokenUrl: "",
    stu3Url: "",
    username: "",
    password: "",
    practiceId: "",
    departmentIds: "",
    appointmentTypeIds: "",
    reasonIds: "",
    providerIds: "",
    calendars: [],
    ...over,
  };
}

const refusal = (v: ConnectValues) => buildConnectForm(v).error;

describe("the Connect form's checks", () => {
  it("builds the command's argument from a good form", () => {
    const { form } = buildConnectForm(values({ name: "  Clinic FHIR ", practitioners: "Practitioner/1, Practitioner/2\n", tokenUrl: " " }));
    expect(form).toEqual({
      kind: "fhir",
      name: "Clinic FHIR",
      base_url: "https://fhir.example.org/r4",
      auth: { method: "none" },
      tz: "America/New_York",
      service_types: [],
      practitioners: ["Practitioner/1", "Practitioner/2"],
      locations: [],
      token_url: null,
      stu3_base_url: null,
      athena: null,
      calendars: [],
    });
    const secret = buildConnectForm(values({ method: "client-secret", clientId: " acct ", clientSecret: "s3cret" })).form;
    expect(secret?.auth).toEqual({ method: "client-secret", client_id: "acct", client_secret: "s3cret" });
    const file = buildConnectForm(values({ method: "backend-key", clientId: "app", keySource: "file", keyPath: "/keys/desk.pem", kid: " k1 " })).form;
    expect(file?.auth).toEqual({ method: "backend-key", client_id: "app", private_key_pem: null, private_key_path: "/keys/desk.pem", kid: "k1" });
    const pasted = buildConnectForm(values({ method: "backend-key", clientId: "app", keySource: "paste", keyText: "-----BEGIN PRIVATE KEY-----\nAA\n", keyPath: "/ignored.pem" })).form;
    expect(pasted?.auth).toMatchObject({ private_key_pem: "-----BEGIN PRIVATE KEY-----\nAA", private_key_path: null });
    // The STU3 address is Epic's only.
    expect(buildConnectForm(values({ stu3Url: "https://x.org/STU3" })).form?.stu3_base_url).toBeNull();
    const epic = buildConnectForm(values({ kind: "epic", method: "standalone", clientId: "c", stu3Url: "https://x.org/STU3" })).form;
    expect(epic?.stu3_base_url).toBe("https://x.org/STU3");
  });

  it("says in plain words what to fill in", () => {
    expect(refusal(values({ name: " " }))).toBe("Give the connection a name your team will recognise, e.g. “Main Street FHIR”.");
    expect(refusal(values({ kind: "epic", method: "standalone", clientId: "c", name: "" }))).toBe("Give the connection a name your team will recognise, e.g. “Main Street Epic”.");
    expect(refusal(values({ baseUrl: "" }))).toBe("Enter the FHIR address. Your EHR administrator or IT person gives it to you.");
    expect(refusal(values({ baseUrl: "fhir.example.org" }))).toBe("“fhir.example.org” is not a web address. Enter the FHIR address starting with https://, e.g. https://fhir.example.org/r4");
    expect(refusal(values({ method: "standalone" }))).toBe("Enter the client ID. Your EHR administrator gives it to you when they register MedHarmony Desk.");
    expect(refusal(values({ method: "client-secret", clientId: "a" }))).toBe("Enter the client secret of the system account (your EHR administrator has it).");
    expect(refusal(values({ method: "backend-key", clientId: "a" }))).toMatch(/^Choose the private key file\./);
    expect(refusal(values({ method: "backend-key", clientId: "a", keySource: "paste" }))).toMatch(/^Paste the private key/);
    expect(refusal(values({ method: "backend-key", clientId: "a", keySource: "paste", keyText: "hunter2" }))).toMatch(/^What was pasted is not a private key/);
    // Epic offers no "no sign-in".
    expect(refusal(values({ kind: "epic", method: "none" }))).toBe("Choose how MedHarmony Desk signs in.");
    expect(refusal(values({ kind: "oracle-health", method: "client-secret", clientId: "a", clientSecret: "b" }))).toMatch(/^Oracle Health lists open times only for a visit type/);
    expect(buildConnectForm(values({ kind: "oracle-health", method: "client-secret", clientId: "a", clientSecret: "b", visitTypes: "408443003, " })).form?.service_types).toEqual(["408443003"]);
    expect(refusal(values({ tz: "" }))).toBe("Choose the time zone of the practice this system serves.");
    expect(refusal(values({ tokenUrl: "auth/token" }))).toMatch(/^“auth\/token” is not a web address/);
  });

  it("never puts a secret into a refusal", () => {
    for (const v of [values({ method: "backend-key", clientId: "a", keySource: "paste", keyText: "hunter2-secret" }), values({ method: "client-secret", clientId: "", clientSecret: "hunter2-secret" })]) {
      expect(refusal(v)).not.toContain("hunter2");
    }
  });

  it("offers each system's sign-in methods, the usual one first", () => {
    expect(SYSTEMS.map((s) => [s.kind, s.methods[0]])).toEqual([
      ["epic", "backend-key"],
      ["oracle-health", "client-secret"],
      ["athena", "client-secret"],
      ["google-calendar", "google"],
      ["caldav", "basic"],
      ["fhir", "none"],
    ]);
    // athenahealth, Google and CalDAV each sign in one way only.
    expect(SYSTEMS.filter((s) => s.methods.length === 1).map((s) => s.kind)).toEqual(["athena", "google-calendar", "caldav"]);
    expect(SYSTEMS.find((s) => s.kind === "epic")?.methods).not.toContain("none");
  });

  it("suggests a name nobody uses and splits lists", () => {
    expect(suggestName("epic", [])).toBe("Epic");
    expect(suggestName("epic", ["epic", "Epic 2"])).toBe("Epic 3");
    expect(suggestName("fhir", ["Oracle Health"])).toBe("FHIR server");
    expect(splitList(" a, b\n\nc ,")).toEqual(["a", "b", "c"]);
  });
});

describe("what a card says", () => {
  it("has a badge for each state", () => {
    expect(statusBadge(integrationCard())).toEqual({ tone: "ok", text: "Working" });
    expect(statusBadge(integrationCard({ status: "problem" }))).toEqual({ tone: "problem", text: "Needs attention" });
    expect(statusBadge(integrationCard({ status: "stale" }))).toEqual({ tone: "stale", text: "Not synced recently" });
    expect(statusBadge(integrationCard({ status: "never", last_sync_at: null }))).toEqual({ tone: "never", text: "Not synced yet" });
    expect(statusBadge(integrationCard(), true)).toEqual({ tone: "syncing", text: "Syncing…" });
  });

  it("says when it last synced, and when that is too long ago", () => {
    expect(lastSyncedText(integrationCard({ last_sync_at: "2026-03-04T14:55:00Z" }), NOW)).toBe("Last synced 5 min ago");
    expect(lastSyncedText(integrationCard({ last_sync_at: "2026-03-04T13:00:00Z", stale: true }), NOW)).toBe("Last synced 2 hours ago — it should sync every 15 min");
    expect(lastSyncedText(integrationCard({ last_sync_at: null, last_sync: null }), NOW)).toBe("Not synced yet");
    expect(lastSyncedText(integrationCard({ last_sync_at: null, last_sync: syncResult({ failed: true }) }), NOW)).toBe("Never synced completely");
  });

  it("counts a complete sync only", () => {
    expect(countsText(syncResult({ added: 4, changed: 1, removed: 0, unchanged: 12 }))).toBe("4 added · 1 changed · 0 removed · 12 up to date");
    expect(countsText(syncResult({ complete: false }))).toBeNull();
    expect(countsText(syncResult({ failed: true }))).toBeNull();
    expect(setAsideText(1)).toBe("1 open time set aside");
    expect(setAsideText(3)).toBe("3 open times set aside");
  });
});

const ATHENA = "https://api.platform.athenahealth.com";

function athena(over: Partial<ConnectValues> = {}): ConnectValues {
  return values({
    kind: "athena",
    name: "Main St athena",
    baseUrl: ATHENA,
    method: "client-secret",
    clientId: "0oa-desk",
    clientSecret: "athena-secret-77",
    practiceId: "195900",
    departmentIds: "1, 82",
    appointmentTypeIds: "2",
    reasonIds: "",
    providerIds: "",
    ...over,
  });
}

function row(over: Partial<CalendarRow> = {}): CalendarRow {
  return { calendar: "dr.rivera@example.com", provider: "Dr. Rivera", hours: "Mon-Fri 08:00-12:00,13:00-17:00", minutes: "30", tz: "", ...over };
}

const EMPTY_ROW: CalendarRow = { calendar: " ", provider: "", hours: "", minutes: "30", tz: "" };

describe("the athenahealth form", () => {
  it("builds the command's argument with athenahealth's settings", () => {
    const { form, error } = buildConnectForm(athena({ departmentIds: " 1, 82,\n", reasonIds: "962", providerIds: "71" }));
    expect(error).toBeNull();
    expect(form).toEqual({
      kind: "athena",
      name: "Main St athena",
      base_url: ATHENA,
      auth: { method: "client-secret", client_id: "0oa-desk", client_secret: "athena-secret-77" },
      tz: "America/New_York",
      service_types: [],
      practitioners: [],
      locations: [],
      token_url: null,
      stu3_base_url: null,
      athena: { practiceid: "195900", departmentids: ["1", "82"], providerids: ["71"], reasonids: ["962"], appointmenttypeids: ["2"] },
      calendars: [],
    });
    // A reason alone is enough, and the Preview environment is kept as chosen.
    const preview = buildConnectForm(athena({ baseUrl: "https://api.preview.platform.athenahealth.com", appointmentTypeIds: "", reasonIds: "962" })).form;
    expect([preview?.base_url, preview?.athena?.appointmenttypeids, preview?.athena?.reasonids]).toEqual(["https://api.preview.platform.athenahealth.com", [], ["962"]]);
    // FHIR-only settings left in the form are not sent.
    expect(buildConnectForm(athena({ visitTypes: "x", practitioners: "Practitioner/1", tokenUrl: "https://t.org" })).form).toMatchObject({ service_types: [], practitioners: [], token_url: null });
  });

  it("refuses each missing or wrong field with its sentence", () => {
    expect(refusal(athena({ name: "" }))).toBe("Give the connection a name your team will recognise, e.g. “Main Street athenahealth”.");
    expect(refusal(athena({ baseUrl: "" }))).toBe("Choose the athenahealth environment: Production, or Preview for testing.");
    expect(refusal(athena({ clientId: " " }))).toBe("Enter the client ID of your practice's API app. Your athenahealth administrator finds it in the athenahealth Developer Portal.");
    expect(refusal(athena({ clientSecret: "" }))).toBe("Enter the client secret of the API app (your athenahealth administrator has it from the athenahealth Developer Portal).");
    expect(refusal(athena({ method: "standalone" }))).toBe("Choose how MedHarmony Desk signs in.");
    expect(refusal(athena({ practiceId: "" }))).toBe("Enter the athenahealth practice ID, a number such as 195900. Your athenahealth administrator gives it to you.");
    expect(refusal(athena({ practiceId: "19 5900" }))).toBe("“19 5900” is not a practice ID: it is a number such as 195900. Your athenahealth administrator gives it to you.");
    expect(refusal(athena({ departmentIds: " , " }))).toBe("Enter at least one department ID. Your athenahealth administrator can tell you which departments' schedules to read.");
    expect(refusal(athena({ appointmentTypeIds: "", reasonIds: "" }))).toBe(
      "athenahealth lists open times only for an appointment type or a reason: enter at least one appointment type ID or reason ID (your athenahealth administrator can tell you which).",
    );
    expect(refusal(athena({ departmentIds: "1, Main" }))).toBe("“Main” is not a department ID: athenahealth IDs are numbers, e.g. 1 or 82. Separate several with commas.");
    expect(refusal(athena({ appointmentTypeIds: "2;3" }))).toBe("“2;3” is not an appointment type ID: athenahealth IDs are numbers, e.g. 1 or 82. Separate several with commas.");
    expect(refusal(athena({ reasonIds: "flu" }))).toMatch(/^“flu” is not a reason ID/);
    // -1 is athenahealth's "any reason".
    expect(buildConnectForm(athena({ appointmentTypeIds: "", reasonIds: "-1" })).form?.athena?.reasonids).toEqual(["-1"]);
    expect(refusal(athena({ appointmentTypeIds: "-1" }))).toMatch(/^“-1” is not an appointment type ID/);
    expect(refusal(athena({ providerIds: "Dr. Chen" }))).toMatch(/^“Dr\. Chen” is not a provider ID/);
    expect(refusal(athena({ tz: "" }))).toBe("Choose the time zone of the practice this system serves.");
    expect(refusal(athena({ clientSecret: "" }))).not.toContain("athena-secret");
  });
});

describe("the Google Calendar form", () => {
  const google = (over: Partial<ConnectValues> = {}) =>
    values({ kind: "google-calendar", name: "Rivera calendars", baseUrl: "", method: "google", clientId: "123-abc.apps.googleusercontent.com", calendars: [row()], ...over });

  it("turns the calendar rows into the calendars to read, ignoring empty rows", () => {
    const { form, error } = buildConnectForm(
      google({
        clientSecret: " GOCSPX-1 ",
        calendars: [
          EMPTY_ROW,
          row({ calendar: " dr.rivera@example.com ", provider: " Dr. Rivera ", minutes: "" }),
          EMPTY_ROW,
          row({ calendar: "chen@example.com", provider: "Dr. Chen", hours: "Mon-Thu 08:00-17:00; Fri 08:00-12:00", minutes: "20", tz: "America/Chicago" }),
        ],
      }),
    );
    expect(error).toBeNull();
    expect(form).toEqual({
      kind: "google-calendar",
      name: "Rivera calendars",
      base_url: "",
      auth: { method: "google", client_id: "123-abc.apps.googleusercontent.com", client_secret: "GOCSPX-1" },
      tz: "America/New_York",
      service_types: [],
      practitioners: [],
      locations: [],
      token_url: null,
      stu3_base_url: null,
      athena: null,
      calendars: [
        { calendar: "dr.rivera@example.com", provider: "Dr. Rivera", hours: "Mon-Fri 08:00-12:00,13:00-17:00", slot_minutes: null, tz: null },
        { calendar: "chen@example.com", provider: "Dr. Chen", hours: "Mon-Thu 08:00-17:00; Fri 08:00-12:00", slot_minutes: 20, tz: "America/Chicago" },
      ],
    });
    // Google's address is the shell's to choose, whatever is typed; the secret is optional.
    expect(buildConnectForm(google({ baseUrl: "https://x.org" })).form?.base_url).toBe("");
    expect(buildConnectForm(google()).form?.auth).toEqual({ method: "google", client_id: "123-abc.apps.googleusercontent.com", client_secret: null });
  });

  it("refuses rows it cannot use, naming the row", () => {
    expect(refusal(google({ clientId: "" }))).toBe("Enter the client ID of your practice's Google Cloud project (an OAuth client of type “Desktop app”). Your IT person has it.");
    expect(refusal(google({ calendars: [] }))).toBe("Add at least one calendar and the provider it belongs to.");
    expect(refusal(google({ calendars: [EMPTY_ROW, EMPTY_ROW] }))).toBe("Add at least one calendar and the provider it belongs to.");
    expect(refusal(google({ calendars: [row(), row({ calendar: "" })] }))).toBe("Row 2: enter the calendar — for Google, usually the provider's e-mail address.");
    expect(refusal(google({ calendars: [row({ provider: " " })] }))).toBe("Row 1: enter the provider whose calendar it is, e.g. Dr. Rivera.");
    expect(refusal(google({ calendars: [row({ hours: "" })] }))).toBe("Row 1 (Dr. Rivera): enter the working hours, e.g. Mon-Fri 08:00-12:00,13:00-17:00.");
    expect(refusal(google({ calendars: [row({ hours: "weekdays 8 to 5" })] }))).toMatch(/^Row 1 \(Dr\. Rivera\): “weekdays 8 to 5” cannot be read as working hours\. Write the days, a space, then the times/);
    for (const minutes of ["4", "481", "0", "30.5", "half an hour", "-30"]) {
      expect(refusal(google({ calendars: [row({ minutes })] }))).toBe("Row 1 (Dr. Rivera): minutes per appointment must be a whole number from 5 to 480.");
    }
    for (const minutes of ["5", "480", " 45 "]) {
      expect(buildConnectForm(google({ calendars: [row({ minutes })] })).form?.calendars[0].slot_minutes).toBe(Number(minutes));
    }
  });

  it("checks the shape of working hours lightly", () => {
    for (const ok of ["Mon-Fri 08:00-17:00", "Mon-Fri 08:00-12:00,13:00-17:00", "Mon,Wed 9:00 - 13:00", "Mon-Thu 08:00-17:00; Fri 08:00-12:00;", "monday 07:30-24:00"]) {
      expect([ok, looksLikeHours(ok)]).toEqual([ok, true]);
    }
    for (const bad of ["", "08:00-17:00", "Mon-Fri", "Mon - Fri 08:00-17:00", "Mon-Fri 8-5", "Xyz 08:00-17:00", "Mon-Fri 08:00-17:00; weekends"]) {
      expect([bad, looksLikeHours(bad)]).toEqual([bad, false]);
    }
  });
});

describe("the CalDAV form", () => {
  const caldav = (over: Partial<ConnectValues> = {}) =>
    values({
      kind: "caldav",
      name: "Fastmail calendars",
      baseUrl: "https://caldav.fastmail.com",
      method: "basic",
      username: " desk@example.com ",
      password: "app-pass-1234",
      calendars: [row({ calendar: "https://caldav.fastmail.com/dav/calendars/user/desk@example.com/rivera/" })],
      ...over,
    });

  it("builds the argument with the app password and calendar addresses", () => {
    const { form } = buildConnectForm(caldav());
    expect(form?.base_url).toBe("https://caldav.fastmail.com");
    expect(form?.auth).toEqual({ method: "basic", username: "desk@example.com", password: "app-pass-1234" });
    expect(form?.calendars.map((c) => c.calendar)).toEqual(["https://caldav.fastmail.com/dav/calendars/user/desk@example.com/rivera/"]);
    expect([form?.athena, form?.service_types]).toEqual([null, []]);
  });

  it("refuses a missing server, user name, app password or calendar address", () => {
    expect(refusal(caldav({ baseUrl: "" }))).toBe("Enter the calendar server's address, or choose iCloud, Fastmail or Nextcloud.");
    expect(refusal(caldav({ baseUrl: "caldav.fastmail.com" }))).toBe("“caldav.fastmail.com” is not a web address. Enter the calendar server's address starting with https://, e.g. https://caldav.fastmail.com");
    expect(refusal(caldav({ baseUrl: "https://your-nextcloud/remote.php/dav" }))).toBe(
      "Replace “your-nextcloud” in the server address with your Nextcloud's own address (your IT person knows it).",
    );
    expect(refusal(caldav({ username: "" }))).toBe("Enter the user name of the calendar account (often its e-mail address).");
    expect(refusal(caldav({ password: " " }))).toBe("Enter an app password for the calendar account (made in the account's security settings, not its usual password).");
    expect(refusal(caldav({ calendars: [row({ calendar: "" })] }))).toBe("Row 1: enter the calendar's address (Find calendars fills it in).");
    expect(refusal(caldav({ calendars: [row({ calendar: "rivera" })] }))).toBe(
      "Row 1 (Dr. Rivera): “rivera” is not a web address. A calendar's address starts with https://; Find calendars fills it in.",
    );
    expect(refusal(caldav({ username: "" }))).not.toContain("app-pass");
  });

  it("says what is missing before finding calendars", () => {
    expect(findCalendarsProblem("", "u", "p")).toMatch(/^Enter the calendar server's address/);
    expect(findCalendarsProblem("https://your-nextcloud/remote.php/dav", "u", "p")).toMatch(/^Replace “your-nextcloud”/);
    expect(findCalendarsProblem("https://caldav.icloud.com", "u", "")).toBe("Enter the user name and app password first, then find the calendars.");
    expect(findCalendarsProblem("https://caldav.icloud.com", "u", "p")).toBeNull();
  });
});

describe("reconnecting and the next sync", () => {
  it("asks each kind for its own sign-in", () => {
    expect(reconnectMethod(integrationCard({ kind: "caldav", auth: "basic" }))).toBe("basic");
    expect(reconnectMethod(integrationCard({ kind: "google-calendar", auth: "google" }))).toBe("google");
    expect(reconnectMethod(integrationCard({ kind: "athena", auth: "client-secret" }))).toBe("client-secret");
    expect(reconnectMethod(integrationCard({ kind: "epic", auth: "standalone" }))).toBe("standalone");
    const sign = { method: "backend-key" as const, clientId: "app", clientSecret: "", keySource: "paste" as const, keyPath: null, keyText: "-----BEGIN PRIVATE KEY-----\nAA", kid: "", username: "", password: "" };
    expect(buildSignIn("epic", sign).auth).toEqual({ method: "backend-key", client_id: "app", private_key_pem: "-----BEGIN PRIVATE KEY-----\nAA", private_key_path: null, kid: null });
    expect(buildSignIn("epic", { ...sign, method: "standalone", clientId: "" }).error).toBe("Enter the client ID. Your EHR administrator gives it to you when they register MedHarmony Desk.");
    expect(reconnectText(integrationCard({ name: "Main St Epic" }))).toBe("Sign-in to Main St Epic has expired or was refused. Reconnect to keep its open times up to date.");
  });

  it("says when the next sync comes, now when due, and Paused while paused", () => {
    expect(nextSyncText(integrationCard({ next_sync_at: "2026-03-04T15:12:00Z" }), NOW)).toBe("Next sync in 12 min");
    expect(nextSyncText(integrationCard({ next_sync_at: "2026-03-04T15:00:20Z" }), NOW)).toBe("Next sync in 1 min");
    expect(nextSyncText(integrationCard({ next_sync_at: "2026-03-04T17:00:00Z" }), NOW)).toBe("Next sync in 2 hours");
    expect(nextSyncText(integrationCard({ next_sync_at: "2026-03-04T15:00:00Z" }), NOW)).toBe("Next sync: now");
    expect(nextSyncText(integrationCard({ next_sync_at: "2026-03-04T14:59:00Z" }), NOW)).toBe("Next sync: now");
    expect(nextSyncText(integrationCard({ active: false, next_sync_at: null }), NOW)).toBe("Paused");
  });
});
