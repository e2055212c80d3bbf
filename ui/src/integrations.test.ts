import { describe, expect, it } from "vitest";
import type { ConnectValues } from "./integrations";
import { buildConnectForm, countsText, lastSyncedText, setAsideText, splitList, statusBadge, suggestName, SYSTEMS } from "./integrations";
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
