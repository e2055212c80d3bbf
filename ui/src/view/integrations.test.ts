// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../api";
import type { AuthForm, ConnectForm, ConnectResult, FoundCalendar, IntegrationsView, SignInStarted } from "../bindings";
import { createIntegrationsPage } from "../integrations-page";
import { integrationCard, syncResult } from "../test-fixtures";
import { openConnectDialog } from "./connect";
import { openReconnectDialog } from "./reconnect";
import type { IntegrationsPageOptions } from "./integrations";
import { renderIntegrations } from "./integrations";

const NOW = "2026-03-04T15:00:00Z";
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

afterEach(() => document.body.replaceChildren());

function options(over: Partial<IntegrationsPageOptions> = {}): IntegrationsPageOptions {
  return {
    now: Date.parse(NOW),
    syncing: new Set(),
    onSyncNow: vi.fn(),
    onPause: vi.fn(),
    onDisconnect: vi.fn(),
    onReconnect: vi.fn(),
    onConnect: vi.fn(),
    onImport: vi.fn(),
    onCancelSignIn: vi.fn(),
    ...over,
  };
}

function view(over: Partial<IntegrationsView> = {}): IntegrationsView {
  return { cards: [], connecting: null, now: NOW, ...over };
}

const text = (el: Element | null | undefined) => (el?.textContent ?? "").replace(/\s+/g, " ").trim();

describe("the Integrations page", () => {
  it("offers every system, and manual upload, when nothing is connected", () => {
    const opts = options();
    const page = renderIntegrations(view(), opts);
    expect(text(page.querySelector("#integration-cards"))).toMatch(/^No system is connected yet/);
    const tiles = Array.from(page.querySelectorAll<HTMLButtonElement>("[data-connect]"));
    expect(tiles.map((t) => t.dataset.connect)).toEqual(["epic", "oracle-health", "athena", "google-calendar", "caldav", "fhir"]);
    expect(tiles.map((t) => t.querySelector(".tile-title")?.textContent)).toEqual(["Epic", "Oracle Health", "athenahealth", "Google Calendar", "CalDAV calendar", "Other FHIR server"]);
    // Every tile has a line for staff, and Manual upload comes last.
    expect(tiles.every((t) => text(t.querySelector(".tile-blurb")).length > 20)).toBe(true);
    expect(Array.from(page.querySelectorAll(".tiles > .system-tile")).map((t) => (t as HTMLElement).dataset.connect ?? t.id)).toEqual([
      "epic",
      "oracle-health",
      "athena",
      "google-calendar",
      "caldav",
      "fhir",
      "manual-upload",
    ]);
    tiles[1].click();
    expect(opts.onConnect).toHaveBeenCalledWith("oracle-health");
    expect(text(page.querySelector("#manual-upload"))).toContain("Manual upload (.ics/.csv)");
    expect(text(page.querySelector("#manual-upload"))).toContain("Drop provider calendars (.ics) or schedule spreadsheets (.csv) on the week view");
    (page.querySelector("#manual-import") as HTMLButtonElement).click();
    expect(opts.onImport).toHaveBeenCalled();
  });

  it("shows a working system's card with its last sync and the records set aside", () => {
    const card = integrationCard({
      client_id: "desk-app",
      auth: "backend-key",
      auth_words: "Server-to-server key (SMART Backend Services)",
      last_sync: syncResult({
        added: 4,
        unchanged: 8,
        quarantined: 2,
        set_aside: [
          { resource: "Slot/s9", reason: "has no end time" },
          { resource: "Slot/s10", reason: "its start time has no UTC offset" },
        ],
      }),
    });
    const opts = options();
    const page = renderIntegrations(view({ cards: [card] }), opts);
    const el = page.querySelector('article[data-integration="Clinic FHIR"]') as HTMLElement;
    expect(el.dataset.status).toBe("ok");
    expect(text(el.querySelector(".status-pill"))).toBe("Working");
    expect(text(el.querySelector(".kind-badge"))).toBe("FHIR server");
    expect(Array.from(el.querySelectorAll(".card-facts > div")).map((d) => [text(d.querySelector("dt")), text(d.querySelector("dd"))])).toEqual([
      ["Sign-in", "Server-to-server key (SMART Backend Services) · client ID desk-app"],
      ["Time zone", "America/New_York"],
    ]);
    expect(text(el.querySelector(".last-synced"))).toBe("Last synced 5 min ago");
    expect(text(el.querySelector(".next-sync"))).toBe("Next sync in 10 min");
    expect([el.querySelector(".card-reconnect"), el.querySelector('[data-action="reconnect"]')]).toEqual([null, null]);
    expect(el.querySelector(".stats")?.getAttribute("aria-label")).toBe("Last sync: 4 added · 0 changed · 0 removed · 8 up to date");
    const stats = Array.from(el.querySelectorAll(".stat")).map((st) => [text(st.querySelector(".stat-n")), text(st.querySelector(".stat-l")), st.classList.contains("nonzero")]);
    expect(stats).toEqual([
      ["4", "added", true],
      ["0", "changed", false],
      ["0", "removed", false],
      ["8", "up to date", false],
    ]);
    const aside = el.querySelector("details.set-aside") as HTMLDetailsElement;
    expect(text(aside.querySelector("summary"))).toBe("2 open times set aside");
    expect(Array.from(aside.querySelectorAll("li")).map(text)).toEqual(["Slot/s9 — has no end time", "Slot/s10 — its start time has no UTC offset"]);
    expect(el.querySelector(".card-problem")).toBeNull();
    (el.querySelector('[data-action="sync"]') as HTMLButtonElement).click();
    (el.querySelector('[data-action="disconnect"]') as HTMLButtonElement).click();
    expect(opts.onSyncNow).toHaveBeenCalledWith(card);
    expect(opts.onDisconnect).toHaveBeenCalledWith(card);
  });

  it("says what is wrong, in words, and when a system has not synced for too long", () => {
    const problem = integrationCard({
      name: "Main St Epic",
      kind: "epic",
      kind_label: "Epic",
      status: "problem",
      problem: "Could not reach Main St Epic: the connection was refused or timed out.",
      last_sync: syncResult({ integration: "Main St Epic", failed: true, complete: false, problem: "Could not reach Main St Epic: the connection was refused or timed out." }),
    });
    const stale = integrationCard({ name: "Old One", status: "stale", stale: true, last_sync_at: "2026-03-04T13:00:00Z" });
    const page = renderIntegrations(view({ cards: [problem, stale] }), options());
    const p = page.querySelector('article[data-integration="Main St Epic"]') as HTMLElement;
    expect(p.dataset.status).toBe("problem");
    expect(text(p.querySelector(".status-pill"))).toBe("Needs attention");
    expect(p.querySelector(".card-problem")?.getAttribute("role")).toBe("alert");
    expect(text(p.querySelector(".card-problem"))).toBe("Could not reach Main St Epic: the connection was refused or timed out.");
    expect(p.querySelector(".stats")).toBeNull();
    const s = page.querySelector('article[data-integration="Old One"]') as HTMLElement;
    expect(text(s.querySelector(".status-pill"))).toBe("Not synced recently");
    expect(text(s.querySelector(".last-synced"))).toBe("Last synced 2 hours ago — it should sync every 15 min");
  });

  it("shows a sync under way and a sign-in waiting", () => {
    const opts = options({ syncing: new Set(["Clinic FHIR"]) });
    const page = renderIntegrations(view({ cards: [integrationCard()], connecting: "New Epic" }), opts);
    const el = page.querySelector('article[data-integration="Clinic FHIR"]') as HTMLElement;
    expect(text(el.querySelector(".status-pill"))).toBe("Syncing…");
    const sync = el.querySelector('[data-action="sync"]') as HTMLButtonElement;
    expect([sync.disabled, sync.textContent]).toEqual([true, "Syncing…"]);
    const waiting = page.querySelector('article[data-integration="New Epic"]') as HTMLElement;
    expect(waiting.dataset.status).toBe("signing-in");
    expect(text(waiting.querySelector(".status-pill"))).toBe("Signing in…");
    (waiting.querySelector("button") as HTMLButtonElement).click();
    expect(opts.onCancelSignIn).toHaveBeenCalled();
  });
});

describe("cards of athenahealth and calendar connections", () => {
  it("shows the athenahealth line, the calendars read, and when the next sync comes", () => {
    const athena = integrationCard({
      name: "Main St athena",
      kind: "athena",
      kind_label: "athenahealth",
      base_url: "https://api.platform.athenahealth.com",
      auth: "client-secret",
      auth_words: "System account (client ID and secret)",
      client_id: "0oa-desk",
      athena: "Practice 195900 · departments 1, 82",
      next_sync_at: NOW,
    });
    const google = integrationCard({
      name: "Rivera calendars",
      kind: "google-calendar",
      kind_label: "Google Calendar",
      auth: "google",
      calendars: ["Dr. Rivera (dr.rivera@example.com)", "Dr. Chen (chen@example.com)"],
      active: false,
      next_sync_at: null,
    });
    const page = renderIntegrations(view({ cards: [athena, google] }), options());
    const a = page.querySelector('article[data-integration="Main St athena"]') as HTMLElement;
    expect([text(a.querySelector(".card-athena dt")), text(a.querySelector(".card-athena dd"))]).toEqual(["Reads", "Practice 195900 · departments 1, 82"]);
    expect(a.querySelector(".card-calendars")).toBeNull();
    expect(text(a.querySelector(".next-sync"))).toBe("Next sync: now");
    const g = page.querySelector('article[data-integration="Rivera calendars"]') as HTMLElement;
    expect(text(g.querySelector(".kind-badge"))).toBe("Google Calendar");
    expect(Array.from(g.querySelectorAll(".card-calendars li")).map(text)).toEqual(["Dr. Rivera (dr.rivera@example.com)", "Dr. Chen (chen@example.com)"]);
    expect(g.querySelector(".card-athena")).toBeNull();
    expect(text(g.querySelector(".next-sync"))).toBe("Paused");
    expect(g.querySelector(".next-sync")?.classList.contains("paused")).toBe(true);
    expect(text(g.querySelector(".status-pill"))).toBe("Paused");
    expect(text(a.querySelector(".status-pill"))).toBe("Working");
    // A paused connection offers Resume, an active one Pause.
    expect(g.querySelector('[data-action="pause"]')).toBeNull();
    expect(text(g.querySelector('[data-action="resume"]'))).toBe("Resume syncing");
    expect(a.querySelector('[data-action="resume"]')).toBeNull();
    expect(text(a.querySelector('[data-action="pause"]'))).toBe("Pause syncing");
  });

  it("pauses and resumes a connection's scheduled syncs", async () => {
    let active = true;
    const api = {
      integrations: vi.fn(async () => view({ cards: [integrationCard({ name: "Clinic FHIR", active, next_sync_at: active ? NOW : null })] })),
      setIntegrationPaused: vi.fn(async (_name: string, paused: boolean) => {
        active = !paused;
      }),
      cancelSignIn: vi.fn(async () => false),
    } as unknown as Api;
    const notify = vi.fn();
    const container = document.createElement("main");
    document.body.append(container);
    const page = createIntegrationsPage(container, { api, nowFixed: true, notify, zones: async () => [], deskZone: () => "UTC", importFiles: vi.fn() });
    await page.load();
    (container.querySelector('[data-action="pause"]') as HTMLButtonElement).click();
    await tick();
    expect(api.setIntegrationPaused).toHaveBeenCalledWith("Clinic FHIR", true);
    expect(notify).toHaveBeenCalledWith("success", "Clinic FHIR paused", ["It is no longer synced on its schedule. Its open times stay; Sync now still works."]);
    expect(text(container.querySelector(".next-sync"))).toBe("Paused");
    (container.querySelector('[data-action="resume"]') as HTMLButtonElement).click();
    await tick();
    expect(api.setIntegrationPaused).toHaveBeenLastCalledWith("Clinic FHIR", false);
    expect(text(container.querySelector('[data-action="pause"]'))).toBe("Pause syncing");
  });

  it("asks to reconnect only when the sign-in expired or was refused", () => {
    const expired = integrationCard({ name: "Main St Epic", kind: "epic", kind_label: "Epic", status: "problem", problem: "The sign-in was refused.", needs_reconnect: true, next_sync_at: null });
    const fine = integrationCard({ name: "Clinic FHIR" });
    const opts = options();
    const page = renderIntegrations(view({ cards: [expired, fine] }), opts);
    const e = page.querySelector('article[data-integration="Main St Epic"]') as HTMLElement;
    // The worker does not retry a refused sign-in on its own (it could lock the account).
    expect(text(e.querySelector(".next-sync"))).toBe("No scheduled syncs until it is reconnected");
    expect(text(e.querySelector(".card-reconnect p"))).toBe("Sign-in to Main St Epic has expired or was refused. Reconnect to keep its open times up to date.");
    const button = e.querySelector('[data-action="reconnect"]') as HTMLButtonElement;
    expect([button.textContent, button.classList.contains("primary"), button.disabled]).toEqual(["Reconnect", true, false]);
    button.click();
    expect(opts.onReconnect).toHaveBeenCalledWith(expired);
    const f = page.querySelector('article[data-integration="Clinic FHIR"]') as HTMLElement;
    expect(f.querySelector('[data-action="reconnect"]')).toBeNull();
  });
});

/** A fake of the commands the Connect dialog uses; `finish` settles the pending connect. */
function connectApi() {
  let settle: { resolve: (r: ConnectResult) => void; reject: (e: unknown) => void } | null = null;
  const api = {
    connectIntegration: vi.fn((_form: ConnectForm) => new Promise<ConnectResult>((resolve, reject) => (settle = { resolve, reject }))),
    cancelSignIn: vi.fn(async () => true),
    findCalendars: vi.fn(async (_baseUrl: string, _username: string, _password: string): Promise<FoundCalendar[]> => []),
  };
  return { api, resolve: (r: ConnectResult) => settle?.resolve(r), reject: (e: unknown) => settle?.reject(e) };
}

function signInEvents() {
  let handler: ((s: SignInStarted) => void) | null = null;
  return {
    onSignIn: async (h: (s: SignInStarted) => void) => {
      handler = h;
      return () => (handler = null);
    },
    fire: (s: SignInStarted) => handler?.(s),
  };
}

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
function type(sel: string, value: string) {
  const el = $<HTMLInputElement>(sel);
  el.value = value;
  el.dispatchEvent(new Event("input"));
}
function choose(method: string) {
  const r = $<HTMLInputElement>(`input[name="auth"][value="${method}"]`);
  r.checked = true;
  r.dispatchEvent(new Event("change"));
}
const submit = () => $<HTMLButtonElement>("#connect-submit").click();
const shown = (sel: string) => !$<HTMLElement>(sel).closest("[hidden]");

const result: ConnectResult = { card: integrationCard({ name: "Harbor FHIR" }), first_sync: syncResult({ integration: "Harbor FHIR", added: 4, summary: "Harbor FHIR: 4 open times added." }) };
const deps = (api: ReturnType<typeof connectApi>["api"], over = {}) => ({ api, zones: ["America/Chicago", "America/New_York", "UTC"], deskZone: "America/Chicago", existingNames: ["FHIR server"], ...over });

describe("the Connect dialog", () => {
  it("connects an open FHIR server with what staff typed", async () => {
    const f = connectApi();
    const done = openConnectDialog("fhir", deps(f.api));
    expect(text($("#connect-title"))).toBe("Connect a FHIR server");
    expect($<HTMLInputElement>("#connect-name").value).toBe("FHIR server 2");
    expect($<HTMLSelectElement>("#connect-tz").value).toBe("America/Chicago");
    expect($<HTMLInputElement>('input[name="auth"]:checked').value).toBe("none");
    // No sign-in: no client ID, secret or key fields.
    expect([shown("#connect-client-id"), shown("#connect-secret"), shown("#connect-key-text")]).toEqual([false, false, false]);
    type("#connect-name", "Harbor FHIR");
    type("#connect-url", "http://127.0.0.1:8080/fhir/R4");
    submit();
    await tick();
    expect(f.api.connectIntegration).toHaveBeenCalledWith({
      kind: "fhir",
      name: "Harbor FHIR",
      base_url: "http://127.0.0.1:8080/fhir/R4",
      auth: { method: "none" },
      tz: "America/Chicago",
      service_types: [],
      practitioners: [],
      locations: [],
      token_url: null,
      stu3_base_url: null,
      athena: null,
      calendars: [],
    });
    expect([$<HTMLButtonElement>("#connect-submit").disabled, text($("#connect-submit"))]).toEqual([true, "Connecting…"]);
    f.resolve(result);
    expect(await done).toEqual(result);
    expect(document.querySelector("dialog")).toBeNull();
  });

  it("refuses an incomplete form in plain words without calling the shell", async () => {
    const f = connectApi();
    const done = openConnectDialog("fhir", deps(f.api));
    type("#connect-url", "fhir.example.org");
    submit();
    await tick();
    expect(text($("#connect-error"))).toBe("“fhir.example.org” is not a web address. Enter the FHIR address starting with https://, e.g. https://fhir.example.org/r4");
    expect(f.api.connectIntegration).not.toHaveBeenCalled();
    // The shell's refusal is shown as it says it, and the form can be fixed.
    type("#connect-url", "https://fhir.example.org/r4");
    submit();
    await tick();
    f.reject("There is already a connection named 'FHIR server 2'. Choose another name.");
    await tick();
    expect(text($("#connect-error"))).toBe("There is already a connection named 'FHIR server 2'. Choose another name.");
    expect($<HTMLButtonElement>("#connect-submit").disabled).toBe(false);
    $<HTMLButtonElement>("#connect-cancel").click();
    expect(await done).toBeNull();
  });

  it("adapts to the sign-in method and never shows a secret again", async () => {
    const f = connectApi();
    const pickKeyFile = vi.fn(async () => "/home/it/keys/medharmony-desk.pem");
    const done = openConnectDialog("oracle-health", deps(f.api, { pickKeyFile }));
    expect(text($("#connect-title"))).toBe("Connect Oracle Health");
    expect(Array.from(document.querySelectorAll<HTMLInputElement>('input[name="auth"]')).map((r) => r.value)).toEqual(["client-secret", "backend-key", "standalone"]);
    // A system account: client ID and secret; the visit type is asked for up front.
    expect([shown("#connect-client-id"), shown("#connect-secret"), shown("#connect-key-file")]).toEqual([true, true, false]);
    expect(shown("#connect-visit-types")).toBe(true);
    expect($("#connect-visit-types").closest("details")).toBeNull();
    expect($<HTMLInputElement>("#connect-secret").type).toBe("password");
    expect(text($("#connect-client-id-help"))).toBe("Your EHR administrator gives you the client ID when they register MedHarmony Desk.");
    type("#connect-url", "https://fhir-ehr.cerner.com/r4/tenant");
    type("#connect-client-id", "acct-1");
    type("#connect-secret", "s3cret-value-42");
    submit();
    await tick();
    expect(text($("#connect-error"))).toMatch(/^Oracle Health lists open times only for a visit type/);
    // The secret is in the masked field only: not in any attribute or text of the dialog.
    expect(document.body.innerHTML).not.toContain("s3cret-value-42");
    // A server-to-server key: picked as a file, of which only the name is shown.
    choose("backend-key");
    expect([shown("#connect-secret"), shown("#connect-key-file"), shown("#connect-kid")]).toEqual([false, true, true]);
    $<HTMLButtonElement>("#connect-key-file").click();
    await tick();
    expect(text($("#connect-key-chosen"))).toBe("medharmony-desk.pem");
    type("#connect-visit-types", "408443003");
    submit();
    await tick();
    const sent = f.api.connectIntegration.mock.calls[0][0];
    expect(sent.auth).toEqual({ method: "backend-key", client_id: "acct-1", private_key_pem: null, private_key_path: "/home/it/keys/medharmony-desk.pem", kid: null });
    expect(sent.service_types).toEqual(["408443003"]);
    f.reject("The private key cannot be used: it is not an RSA or EC P-384 key.");
    await tick();
    expect(text($("#connect-error"))).toBe("The private key cannot be used: it is not an RSA or EC P-384 key.");
    // A pasted key is masked like a password, and leaves with the dialog.
    const paste = $<HTMLInputElement>('input[name="key-source"][value="paste"]');
    paste.checked = true;
    paste.dispatchEvent(new Event("change"));
    expect([shown("#connect-key-text"), shown("#connect-key-file")]).toEqual([true, false]);
    expect($("#connect-key-text").classList.contains("masked")).toBe(true);
    const secretField = $<HTMLInputElement>("#connect-secret");
    $<HTMLButtonElement>("#connect-cancel").click();
    expect(await done).toBeNull();
    expect(secretField.value).toBe("");
  });

  it("waits for the browser sign-in, says so, and can cancel it", async () => {
    const f = connectApi();
    const events = signInEvents();
    const done = openConnectDialog("epic", deps(f.api, { onSignIn: events.onSignIn }));
    expect(Array.from(document.querySelectorAll<HTMLInputElement>('input[name="auth"]')).map((r) => r.value)).toEqual(["backend-key", "standalone"]);
    choose("standalone");
    expect(shown(".standalone-note")).toBe(true);
    expect(shown("#connect-stu3")).toBe(true);
    type("#connect-name", "Main St Epic");
    type("#connect-url", "https://fhir.hospital.org/api/FHIR/R4");
    type("#connect-client-id", "public-app");
    submit();
    await tick();
    expect(f.api.connectIntegration.mock.calls[0][0].auth).toEqual({ method: "standalone", client_id: "public-app" });
    expect($("#sign-in-wait").hidden).toBe(false);
    expect($(".connect-fields").hidden).toBe(true);
    expect(document.activeElement?.id).toBe("sign-in-cancel");
    expect(text($("#sign-in-text"))).toBe("Opening your web browser for you to sign in…");
    events.fire({ name: "Main St Epic", browser_opened: true, url: null });
    expect(text($("#sign-in-text"))).toMatch(/^A browser window opened for you to sign in to Main St Epic\. Sign in there with your EHR account/);
    // Escape does not close the dialog while signing in: it cancels the sign-in.
    const esc = new Event("cancel", { cancelable: true });
    $("dialog").dispatchEvent(esc);
    expect(esc.defaultPrevented).toBe(true);
    expect(f.api.cancelSignIn).toHaveBeenCalledTimes(1);
    // Asked once: the button waits for the sign-in to end.
    const cancel = $<HTMLButtonElement>("#sign-in-cancel");
    expect([cancel.disabled, cancel.textContent]).toEqual([true, "Cancelling…"]);
    cancel.click();
    expect(f.api.cancelSignIn).toHaveBeenCalledTimes(1);
    f.reject("Sign-in was cancelled.");
    await tick();
    expect($("#sign-in-wait").hidden).toBe(true);
    expect([$(".connect-fields").hidden, $<HTMLFieldSetElement>(".connect-fields").disabled]).toEqual([false, false]);
    expect(text($("#connect-error"))).toBe("Sign-in was cancelled.");
    // A browser that would not open is said too.
    submit();
    await tick();
    events.fire({ name: "Main St Epic", browser_opened: false, url: null });
    expect(text($("#sign-in-text"))).toMatch(/^MedHarmony Desk could not open your web browser. Cancel the sign-in/);
    expect($(".sign-in-url").hidden).toBe(true);
    // With the address, staff can open it by hand.
    const address = "https://ehr.example.org/authorize?response_type=code&state=abc";
    events.fire({ name: "Main St Epic", browser_opened: false, url: address });
    expect(text($("#sign-in-text"))).toMatch(/^MedHarmony Desk could not open your web browser. Copy the address below/);
    expect([$(".sign-in-url").hidden, $<HTMLInputElement>("#sign-in-url").value, $<HTMLInputElement>("#sign-in-url").readOnly]).toEqual([false, address, true]);
    f.resolve({ ...result, card: integrationCard({ name: "Main St Epic", kind: "epic" }) });
    expect((await done)?.card.name).toBe("Main St Epic");
  });
});

describe("the page's actions", () => {
  function pageApi(cards = [integrationCard()]) {
    const state = { cards };
    const api = {
      integrations: vi.fn(async () => view({ cards: state.cards })),
      syncNow: vi.fn(async (name: string) => syncResult({ integration: name, added: 2, summary: `${name}: 2 open times added.` })),
      disconnectIntegration: vi.fn(async (name: string) => {
        state.cards = [];
        return { name, warning: null };
      }),
      cancelSignIn: vi.fn(async () => false),
    } as unknown as Api;
    return { api, state };
  }

  it("syncs now and disconnects after asking, telling staff what happened", async () => {
    const { api } = pageApi();
    const notify = vi.fn();
    const container = document.createElement("main");
    document.body.append(container);
    const page = createIntegrationsPage(container, { api, nowFixed: true, notify, zones: async () => [], deskZone: () => "UTC", importFiles: vi.fn() });
    await page.load();
    expect(text(container.querySelector(".last-synced"))).toBe("Last synced 5 min ago");
    // A refresh (every 30 s, and on every change) keeps the focused button focused.
    (container.querySelector('[data-action="disconnect"]') as HTMLButtonElement).focus();
    page.render();
    expect((document.activeElement as HTMLElement).dataset.action).toBe("disconnect");
    (container.querySelector('[data-action="sync"]') as HTMLButtonElement).click();
    expect(text(container.querySelector('[data-action="sync"]'))).toBe("Syncing…");
    await tick();
    expect(api.syncNow).toHaveBeenCalledWith("Clinic FHIR");
    expect(notify).toHaveBeenCalledWith("success", "Clinic FHIR synced", ["Clinic FHIR: 2 open times added."]);
    expect(text(container.querySelector('[data-action="sync"]'))).toBe("Sync now");
    // Disconnect asks first; keeping it changes nothing.
    (container.querySelector('[data-action="disconnect"]') as HTMLButtonElement).click();
    let confirm = document.querySelector("dialog.confirm") as HTMLDialogElement;
    expect(text(confirm.querySelector("h2"))).toBe("Disconnect Clinic FHIR?");
    expect(text(confirm)).toContain("Nothing changes in Clinic FHIR itself");
    confirm.close("cancel");
    await tick();
    expect(api.disconnectIntegration).not.toHaveBeenCalled();
    (container.querySelector('[data-action="disconnect"]') as HTMLButtonElement).click();
    confirm = document.querySelector("dialog.confirm") as HTMLDialogElement;
    confirm.returnValue = "disconnect";
    confirm.close("disconnect");
    await tick();
    expect(api.disconnectIntegration).toHaveBeenCalledWith("Clinic FHIR");
    expect(notify).toHaveBeenLastCalledWith("success", "Clinic FHIR disconnected", ["Its open times were removed from the week view."]);
    expect(text(container.querySelector("#integration-cards"))).toMatch(/^No system is connected yet/);
  });

  it("says when a sync fails", async () => {
    const { api } = pageApi();
    (api.syncNow as ReturnType<typeof vi.fn>).mockResolvedValueOnce(
      syncResult({ failed: true, complete: false, problem: "Could not reach Clinic FHIR: the connection was refused or timed out.", summary: "x" }),
    );
    const notify = vi.fn();
    const container = document.createElement("main");
    const page = createIntegrationsPage(container, { api, nowFixed: true, notify, zones: async () => [], deskZone: () => "UTC", importFiles: vi.fn() });
    await page.load();
    (container.querySelector('[data-action="sync"]') as HTMLButtonElement).click();
    await tick();
    expect(notify).toHaveBeenCalledWith("error", "Clinic FHIR could not be synced", ["Could not reach Clinic FHIR: the connection was refused or timed out."]);
  });
});

const absent = (sel: string) => document.querySelector(sel) === null;
const rowsOf = () => Array.from(document.querySelectorAll<HTMLTableRowElement>("#connect-calendars tbody tr"));
function typeRow(i: number, cls: string, value: string) {
  const el = rowsOf()[i].querySelector(`.${cls}`) as HTMLInputElement | HTMLSelectElement;
  el.value = value;
  el.dispatchEvent(new Event("input"));
}
/** Inputs, selects and text areas of the open dialog that no label names. */
function unlabelled(): string[] {
  return Array.from(document.querySelectorAll<HTMLElement>("dialog input, dialog select, dialog textarea"))
    .filter((c) => !c.getAttribute("aria-label") && !c.closest("label") && !(c.id && document.querySelector(`label[for="${c.id}"]`)))
    .map((c) => c.id || c.className);
}
const FHIR_ONLY = ["#connect-url", 'input[name="auth"]', "#connect-visit-types", "#connect-key-file", "#connect-stu3", "#connect-token-url"];

describe("the Connect dialog for athenahealth and calendars", () => {
  it("asks athenahealth for its environment, sign-in, practice, departments and types", async () => {
    const f = connectApi();
    const done = openConnectDialog("athena", deps(f.api));
    expect(text($("#connect-title"))).toBe("Connect athenahealth");
    expect(FHIR_ONLY.filter(absent)).toEqual(FHIR_ONLY);
    expect(["#connect-calendars", "#connect-google-note", "#connect-username", "#connect-find"].every(absent)).toBe(true);
    expect(unlabelled()).toEqual([]);
    expect(Array.from($<HTMLSelectElement>("#connect-athena-env").options).map((o) => [o.value, o.textContent])).toEqual([
      ["https://api.platform.athenahealth.com", "Production · api.platform.athenahealth.com"],
      ["https://api.preview.platform.athenahealth.com", "Preview (for testing) · api.preview.platform.athenahealth.com"],
    ]);
    expect($<HTMLInputElement>("#connect-secret").type).toBe("password");
    expect(text($("#connect-client-id-help"))).toMatch(/athenahealth Developer Portal/);
    expect(text($("#connect-practice-help"))).toBe("Your practice's number in athenahealth, e.g. 195900. Your athenahealth administrator gives it to you.");
    expect(text($("#connect-athena-types-note"))).toMatch(/^athenahealth lists no open times without an appointment type or a reason/);
    expect(document.activeElement?.id).toBe("connect-client-id");
    type("#connect-name", "Main St athena");
    type("#connect-client-id", "0oa-desk");
    type("#connect-secret", "athena-secret-77");
    type("#connect-practice", "195900");
    type("#connect-departments", "1, 82");
    submit();
    await tick();
    expect(text($("#connect-error"))).toMatch(/^athenahealth lists open times only for an appointment type or a reason/);
    expect(f.api.connectIntegration).not.toHaveBeenCalled();
    type("#connect-reasons", "962");
    type("#connect-providers", "71");
    $<HTMLSelectElement>("#connect-athena-env").value = "https://api.preview.platform.athenahealth.com";
    submit();
    await tick();
    expect(f.api.connectIntegration).toHaveBeenCalledWith({
      kind: "athena",
      name: "Main St athena",
      base_url: "https://api.preview.platform.athenahealth.com",
      auth: { method: "client-secret", client_id: "0oa-desk", client_secret: "athena-secret-77" },
      tz: "America/Chicago",
      service_types: [],
      practitioners: [],
      locations: [],
      token_url: null,
      stu3_base_url: null,
      athena: { practiceid: "195900", departmentids: ["1", "82"], providerids: ["71"], reasonids: ["962"], appointmenttypeids: [] },
      calendars: [],
    });
    // No browser sign-in for a system account.
    expect($("#sign-in-wait").hidden).toBe(true);
    expect(document.body.innerHTML).not.toContain("athena-secret-77");
    f.resolve(result);
    expect(await done).toEqual(result);
  });

  it("asks Google Calendar for its client ID and a calendars table, then signs in in the browser", async () => {
    const f = connectApi();
    const events = signInEvents();
    const done = openConnectDialog("google-calendar", deps(f.api, { onSignIn: events.onSignIn }));
    expect(text($("#connect-title"))).toBe("Connect Google Calendar");
    expect(FHIR_ONLY.filter(absent)).toEqual(FHIR_ONLY);
    expect(["#connect-practice", "#connect-athena-env", "#connect-username", "#connect-find", "[data-preset]"].every(absent)).toBe(true);
    expect(text($('label[for="connect-secret"]'))).toBe("Client secret (optional)");
    expect(text($("#connect-client-id-help"))).toMatch(/Google Cloud project: an OAuth client of type “Desktop app”/);
    expect(text($("#connect-google-note"))).toMatch(/a browser window opens: sign in with the Google account that can see the providers' calendars/);
    expect(Array.from(document.querySelectorAll("#connect-calendars th")).map(text)).toEqual(["Calendar", "Provider", "Working hours", "Minutes per appointment", "Time zone", "Remove"]);
    expect(rowsOf().length).toBe(1);
    expect($<HTMLInputElement>(".cal-minutes").value).toBe("30");
    expect(Array.from($<HTMLSelectElement>(".cal-tz").options).map((o) => o.value)).toEqual(["", "America/Chicago", "America/New_York", "UTC"]);
    expect(unlabelled()).toEqual([]);
    // Rows are added and removed; their labels follow their place.
    $<HTMLButtonElement>("#connect-add-calendar").click();
    $<HTMLButtonElement>("#connect-add-calendar").click();
    expect(rowsOf().length).toBe(3);
    typeRow(0, "cal-calendar", "dr.rivera@example.com");
    typeRow(0, "cal-provider", "Dr. Rivera");
    typeRow(0, "cal-hours", "Mon-Fri 08:00-12:00,13:00-17:00");
    typeRow(2, "cal-calendar", "chen@example.com");
    typeRow(2, "cal-provider", "Dr. Chen");
    typeRow(2, "cal-hours", "Mon-Thu 08:00-17:00; Fri 08:00-12:00");
    typeRow(2, "cal-minutes", "3");
    typeRow(2, "cal-tz", "America/New_York");
    (rowsOf()[1].querySelector(".cal-remove") as HTMLButtonElement).click();
    expect(rowsOf().map((r) => (r.querySelector(".cal-provider") as HTMLInputElement).value)).toEqual(["Dr. Rivera", "Dr. Chen"]);
    expect(rowsOf()[1].querySelector(".cal-provider")?.getAttribute("aria-label")).toBe("Provider, row 2");
    type("#connect-name", "Rivera calendars");
    type("#connect-client-id", "123-abc.apps.googleusercontent.com");
    submit();
    await tick();
    expect(text($("#connect-error"))).toBe("Row 2 (Dr. Chen): minutes per appointment must be a whole number from 5 to 480.");
    expect(f.api.connectIntegration).not.toHaveBeenCalled();
    typeRow(1, "cal-minutes", "20");
    submit();
    await tick();
    expect(f.api.connectIntegration).toHaveBeenCalledWith({
      kind: "google-calendar",
      name: "Rivera calendars",
      base_url: "",
      auth: { method: "google", client_id: "123-abc.apps.googleusercontent.com", client_secret: null },
      tz: "America/Chicago",
      service_types: [],
      practitioners: [],
      locations: [],
      token_url: null,
      stu3_base_url: null,
      athena: null,
      calendars: [
        { calendar: "dr.rivera@example.com", provider: "Dr. Rivera", hours: "Mon-Fri 08:00-12:00,13:00-17:00", slot_minutes: 30, tz: null },
        { calendar: "chen@example.com", provider: "Dr. Chen", hours: "Mon-Thu 08:00-17:00; Fri 08:00-12:00", slot_minutes: 20, tz: "America/New_York" },
      ],
    });
    // The browser sign-in waits like a SMART standalone launch, naming the Google account.
    expect($("#sign-in-wait").hidden).toBe(false);
    expect($(".connect-fields").hidden).toBe(true);
    events.fire({ name: "Rivera calendars", browser_opened: true, url: null });
    expect(text($("#sign-in-text"))).toMatch(/^A browser window opened for you to sign in to Rivera calendars\. Sign in there with the Google account that can see the providers' calendars;/);
    f.resolve(result);
    expect(await done).toEqual(result);
  });

  it("finds a CalDAV account's calendars, says why it could not, and connects with the app password", async () => {
    const f = connectApi();
    const base = "https://caldav.fastmail.com/dav/calendars/user/desk@example.com";
    f.api.findCalendars
      .mockRejectedValueOnce("The calendar server refused the user name or app password. Make a new app password and try again.")
      .mockResolvedValueOnce([
        { url: `${base}/rivera/`, name: "Dr. Rivera" },
        { url: `${base}/chen/`, name: "Dr. Chen" },
      ])
      .mockResolvedValueOnce([{ url: `${base}/rivera/`, name: "Dr. Rivera" }])
      .mockResolvedValueOnce([]);
    const done = openConnectDialog("caldav", deps(f.api));
    expect(text($("#connect-title"))).toBe("Connect a CalDAV calendar");
    expect(['input[name="auth"]', "#connect-visit-types", "#connect-key-file", "#connect-client-id", "#connect-practice", "#connect-google-note"].every(absent)).toBe(true);
    expect(text($('label[for="connect-url"]'))).toBe("Server address");
    expect($<HTMLInputElement>("#connect-password").type).toBe("password");
    expect(text($("#connect-password-help"))).toMatch(/^Made in the account's security settings .* not the account's usual password\./);
    expect(unlabelled()).toEqual([]);
    expect(Array.from(document.querySelectorAll<HTMLButtonElement>("[data-preset]")).map((b) => text(b))).toEqual(["iCloud", "Fastmail", "Nextcloud"]);
    $<HTMLButtonElement>('[data-preset="icloud"]').click();
    expect($<HTMLInputElement>("#connect-url").value).toBe("https://caldav.icloud.com");
    $<HTMLButtonElement>('[data-preset="nextcloud"]').click();
    expect($<HTMLInputElement>("#connect-url").value).toBe("https://your-nextcloud/remote.php/dav");
    // Nothing is asked of the server before the address and sign-in are there.
    $<HTMLButtonElement>("#connect-find").click();
    await tick();
    expect(text($("#connect-error"))).toMatch(/^Replace “your-nextcloud” in the server address/);
    $<HTMLButtonElement>('[data-preset="fastmail"]').click();
    $<HTMLButtonElement>("#connect-find").click();
    await tick();
    expect(text($("#connect-error"))).toBe("Enter the user name and app password first, then find the calendars.");
    expect(f.api.findCalendars).not.toHaveBeenCalled();
    type("#connect-username", "desk@example.com");
    type("#connect-password", "app-pass-1234");
    // The server's refusal is shown as the shell says it.
    $<HTMLButtonElement>("#connect-find").click();
    expect([$<HTMLButtonElement>("#connect-find").disabled, text($("#connect-find"))]).toEqual([true, "Finding calendars…"]);
    await tick();
    expect(f.api.findCalendars).toHaveBeenLastCalledWith("https://caldav.fastmail.com", "desk@example.com", "app-pass-1234");
    expect(text($("#connect-error"))).toBe("The calendar server refused the user name or app password. Make a new app password and try again.");
    expect([$<HTMLButtonElement>("#connect-find").disabled, rowsOf().length]).toEqual([false, 1]);
    // Found calendars fill the table, the empty row giving way; the names are suggestions.
    $<HTMLButtonElement>("#connect-find").click();
    await tick();
    expect(text($("#connect-error"))).toBe("");
    const cells = () => rowsOf().map((r) => [".cal-calendar", ".cal-provider", ".cal-hours", ".cal-minutes"].map((c) => (r.querySelector(c) as HTMLInputElement).value));
    expect(cells()).toEqual([
      [`${base}/rivera/`, "Dr. Rivera", "", "30"],
      [`${base}/chen/`, "Dr. Chen", "", "30"],
    ]);
    expect(text($("#connect-find-status"))).toBe("Found 2 calendars. Check each provider's name, enter their working hours, and remove the rows you do not need.");
    // Finding again keeps what was typed in the rows.
    typeRow(0, "cal-provider", "Dr. Ana Rivera");
    $<HTMLButtonElement>("#connect-find").click();
    await tick();
    expect(cells().map((c) => c[1])).toEqual(["Dr. Ana Rivera", "Dr. Chen"]);
    expect(text($("#connect-find-status"))).toBe("Found 1 calendar, all already in the table.");
    $<HTMLButtonElement>("#connect-find").click();
    await tick();
    expect(text($("#connect-error"))).toMatch(/^No calendars were found for this account\./);
    submit();
    await tick();
    expect(text($("#connect-error"))).toBe("Row 1 (Dr. Ana Rivera): enter the working hours, e.g. Mon-Fri 08:00-12:00,13:00-17:00.");
    typeRow(0, "cal-hours", "Mon-Fri 08:00-17:00");
    (rowsOf()[1].querySelector(".cal-remove") as HTMLButtonElement).click();
    type("#connect-name", "Fastmail calendars");
    submit();
    await tick();
    const sent = f.api.connectIntegration.mock.calls[0][0];
    expect([sent.kind, sent.base_url, sent.auth, sent.calendars]).toEqual([
      "caldav",
      "https://caldav.fastmail.com",
      { method: "basic", username: "desk@example.com", password: "app-pass-1234" },
      [{ calendar: `${base}/rivera/`, provider: "Dr. Ana Rivera", hours: "Mon-Fri 08:00-17:00", slot_minutes: 30, tz: null }],
    ]);
    expect(document.body.innerHTML).not.toContain("app-pass-1234");
    const password = $<HTMLInputElement>("#connect-password");
    f.resolve(result);
    expect(await done).toEqual(result);
    expect(password.value).toBe("");
  });
});

describe("Reconnect", () => {
  const expired = integrationCard({
    name: "Main St athena",
    kind: "athena",
    kind_label: "athenahealth",
    auth: "client-secret",
    auth_words: "System account (client ID and secret)",
    client_id: "0oa-desk",
    status: "problem",
    problem: "athenahealth refused the sign-in.",
    needs_reconnect: true,
  });

  it("asks only for the sign-in, reconnects, and refreshes the card", async () => {
    const state = { cards: [expired] };
    const api = {
      integrations: vi.fn(async () => view({ cards: state.cards })),
      reconnectIntegration: vi.fn(async (name: string) => {
        state.cards = [{ ...expired, status: "ok", problem: null, needs_reconnect: false }];
        return { card: state.cards[0], first_sync: syncResult({ integration: name, added: 3, summary: "Main St athena: 3 open times added." }) };
      }),
      cancelSignIn: vi.fn(async () => false),
    } as unknown as Api;
    const notify = vi.fn();
    const container = document.createElement("main");
    document.body.append(container);
    const page = createIntegrationsPage(container, { api, nowFixed: true, notify, zones: async () => [], deskZone: () => "UTC", importFiles: vi.fn() });
    await page.load();
    (container.querySelector('article[data-integration="Main St athena"] [data-action="reconnect"]') as HTMLButtonElement).click();
    await tick();
    expect(text($("#reconnect-title"))).toBe("Reconnect Main St athena");
    expect($<HTMLInputElement>("#reconnect-client-id").value).toBe("0oa-desk");
    expect($<HTMLInputElement>("#reconnect-secret").type).toBe("password");
    expect(["#connect-practice", "#connect-name", "#reconnect-username", "#reconnect-key-file"].every(absent)).toBe(true);
    expect(document.activeElement?.id).toBe("reconnect-secret");
    expect(text($("#reconnect-method"))).toMatch(/^System account — The client ID and secret of your practice's API app in the athenahealth Developer Portal/);
    expect(unlabelled()).toEqual([]);
    $<HTMLButtonElement>("#reconnect-submit").click();
    await tick();
    expect(text($("#reconnect-error"))).toBe("Enter the client secret of the API app (your athenahealth administrator has it from the athenahealth Developer Portal).");
    expect(api.reconnectIntegration).not.toHaveBeenCalled();
    type("#reconnect-secret", "new-secret-9");
    $<HTMLButtonElement>("#reconnect-submit").click();
    await tick();
    expect(api.reconnectIntegration).toHaveBeenCalledWith("Main St athena", { method: "client-secret", client_id: "0oa-desk", client_secret: "new-secret-9" });
    await tick();
    expect(document.querySelector("dialog")).toBeNull();
    expect(notify).toHaveBeenCalledWith("success", "Main St athena is reconnected", ["Main St athena: 3 open times added."]);
    const card = container.querySelector('article[data-integration="Main St athena"]') as HTMLElement;
    expect([card.dataset.status, card.querySelector('[data-action="reconnect"]')]).toEqual(["ok", null]);
  });

  it("reconnects Google through the browser and CalDAV with a new app password", async () => {
    let settle: { resolve: (r: ConnectResult) => void; reject: (e: unknown) => void } | null = null;
    const api = {
      reconnectIntegration: vi.fn((_name: string, _auth: AuthForm) => new Promise<ConnectResult>((resolve, reject) => (settle = { resolve, reject }))),
      cancelSignIn: vi.fn(async () => true),
    };
    const events = signInEvents();
    const google = integrationCard({ name: "Rivera calendars", kind: "google-calendar", auth: "google", client_id: "123-abc.apps.googleusercontent.com", needs_reconnect: true });
    let done = openReconnectDialog(google, { api, onSignIn: events.onSignIn });
    expect(text($('label[for="reconnect-secret"]'))).toBe("Client secret (optional)");
    $<HTMLButtonElement>("#reconnect-submit").click();
    await tick();
    expect(api.reconnectIntegration).toHaveBeenCalledWith("Rivera calendars", { method: "google", client_id: "123-abc.apps.googleusercontent.com", client_secret: null });
    expect([$("#sign-in-wait").hidden, $(".connect-fields").hidden]).toEqual([false, true]);
    events.fire({ name: "Rivera calendars", browser_opened: true, url: null });
    expect(text($("#sign-in-text"))).toMatch(/Sign in there with the Google account that can see the providers' calendars/);
    $<HTMLButtonElement>("#sign-in-cancel").click();
    expect(api.cancelSignIn).toHaveBeenCalledTimes(1);
    settle!.reject("Sign-in was cancelled.");
    await tick();
    expect([$("#sign-in-wait").hidden, text($("#reconnect-error"))]).toEqual([true, "Sign-in was cancelled."]);
    $<HTMLButtonElement>("#reconnect-cancel").click();
    expect(await done).toBeNull();

    const caldav = integrationCard({ name: "Fastmail calendars", kind: "caldav", auth: "basic", client_id: null, needs_reconnect: true });
    done = openReconnectDialog(caldav, { api });
    expect(["#reconnect-client-id", "#reconnect-secret"].every(absent)).toBe(true);
    expect($<HTMLInputElement>("#reconnect-password").type).toBe("password");
    expect(document.activeElement?.id).toBe("reconnect-username");
    type("#reconnect-username", "desk@example.com");
    $<HTMLButtonElement>("#reconnect-submit").click();
    await tick();
    expect(text($("#reconnect-error"))).toBe("Enter an app password for the calendar account (made in the account's security settings, not its usual password).");
    type("#reconnect-password", "new-app-pass");
    $<HTMLButtonElement>("#reconnect-submit").click();
    await tick();
    expect(api.reconnectIntegration).toHaveBeenLastCalledWith("Fastmail calendars", { method: "basic", username: "desk@example.com", password: "new-app-pass" });
    // No browser for a user name and password.
    expect($("#sign-in-wait").hidden).toBe(true);
    expect(document.body.innerHTML).not.toContain("new-app-pass");
    const r = { ...result, card: caldav };
    settle!.resolve(r);
    expect(await done).toEqual(r);

    // The saved user name is filled in; only the new app password is asked for.
    const known = integrationCard({ name: "iCloud", kind: "caldav", auth: "basic", username: "rivera@icloud.com", needs_reconnect: true });
    void openReconnectDialog(known, { api });
    expect($<HTMLInputElement>("#reconnect-username").value).toBe("rivera@icloud.com");
    expect(document.activeElement?.id).toBe("reconnect-password");
    $<HTMLButtonElement>("#reconnect-cancel").click();
  });

  it("reconnects a server-to-server key with a new key, and says so when it is not one", async () => {
    const api = {
      reconnectIntegration: vi.fn(async (_name: string, _auth: AuthForm): Promise<ConnectResult> => {
        throw "The private key cannot be used: it is not an RSA or EC P-384 key.";
      }),
      cancelSignIn: vi.fn(async () => true),
    };
    const pickKeyFile = vi.fn(async () => "/home/it/keys/new-desk.pem");
    const epic = integrationCard({ name: "Main St Epic", kind: "epic", auth: "backend-key", client_id: "desk-app", needs_reconnect: true });
    const done = openReconnectDialog(epic, { api, pickKeyFile });
    expect(["#reconnect-secret", "#reconnect-username"].every(absent)).toBe(true);
    expect($<HTMLInputElement>("#reconnect-client-id").value).toBe("desk-app");
    $<HTMLButtonElement>("#reconnect-submit").click();
    await tick();
    expect(text($("#reconnect-error"))).toBe("Choose the private key file. Your IT person made it when registering MedHarmony Desk with the EHR.");
    $<HTMLButtonElement>("#reconnect-key-file").click();
    await tick();
    type("#reconnect-kid", " k2 ");
    $<HTMLButtonElement>("#reconnect-submit").click();
    await tick();
    expect(api.reconnectIntegration).toHaveBeenCalledWith("Main St Epic", { method: "backend-key", client_id: "desk-app", private_key_pem: null, private_key_path: "/home/it/keys/new-desk.pem", kid: "k2" });
    await tick();
    expect(text($("#reconnect-error"))).toBe("The private key cannot be used: it is not an RSA or EC P-384 key.");
    expect($<HTMLButtonElement>("#reconnect-submit").disabled).toBe(false);
    $<HTMLButtonElement>("#reconnect-cancel").click();
    expect(await done).toBeNull();
  });
});
