// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../api";
import type { ConnectForm, ConnectResult, FoundCalendar, IntegrationsView, SignInStarted } from "../bindings";
import { createIntegrationsPage } from "../integrations-page";
import { integrationCard, syncResult } from "../test-fixtures";
import { openConnectDialog } from "./connect";
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
    events.fire({ name: "Main St Epic", browser_opened: true });
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
    events.fire({ name: "Main St Epic", browser_opened: false });
    expect(text($("#sign-in-text"))).toMatch(/^MedHarmony Desk could not open your web browser/);
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
