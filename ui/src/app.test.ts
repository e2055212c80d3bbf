// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Api } from "./api";
import type { AppStatus, ImportReport, ProviderView, SourceView, StoreChanged, Week, WeekQuery } from "./bindings";
import type { Backend, ShowLogsResult } from "./app";
import { loadFilters, renderProblem, startApp } from "./app";
import { appStatus, fillApi, freshRoot, importReport, integrationCard, providerView } from "./test-fixtures";
import { addDays } from "./time";

const STATUS: AppStatus = appStatus();

function provider(id: number, name: string): ProviderView {
  return providerView({ id, name });
}

/** A fake shell over an in-memory practice; `providers` can change like the database would. */
function fakeBackend() {
  const providers = [provider(1, "Dr. Rivera"), provider(2, "Dr. Chen"), provider(3, "Dr. Okafor")];
  const sources: SourceView[] = [];
  const queries: WeekQuery[] = [];
  let changed: ((c: StoreChanged) => void) | null = null;
  const weekOf = (q: WeekQuery): Week => {
    const start = q.start ?? STATUS.week_start;
    const shown = providers.filter((p) => (!q.provider_ids || q.provider_ids.includes(p.id)) && !(q.hidden_provider_ids ?? []).includes(p.id));
    return {
      start,
      days: Array.from({ length: 7 }, (_, i) => ({ date: addDays(start, i), is_today: addDays(start, i) === STATUS.today })),
      today: STATUS.today,
      providers: shown,
      all_providers: [...providers],
      locations: [{ name: "Downtown Clinic, Suite 400, Building B (entrance on 5th Street)", tz: "America/New_York" }],
      slots: shown.map((p) => ({
        id: `grid-${p.id}-${start}`,
        provider_id: p.id,
        day: addDays(start, 2),
        start: `${addDays(start, 2)}T16:00:00Z`,
        end: `${addDays(start, 2)}T16:30:00Z`,
        status: "free",
        source: "working-hours",
        location: null,
      })),
      busy: [],
      sources: [...sources],
      has_demo: false,
      now: STATUS.now,
    };
  };
  let resolvePick: ((paths: string[]) => void) | null = null;
  const pickFiles = vi.fn(() => new Promise<string[]>((r) => (resolvePick = r)));
  let resolveImport: ((r: ImportReport) => void) | null = null;
  const api: Api = {
    appStatus: async () => STATUS,
    week: vi.fn(async (q: WeekQuery) => {
      queries.push(q);
      return weekOf(q);
    }),
    checkFile: async (path) => ({ path, name: path.split("/").pop() ?? path, kind: "spreadsheet", needs_provider: false, calendar_name: null, calendar_zone: null, problem: null, date_question: null }),
    importFile: vi.fn(() => new Promise<ImportReport>((r) => (resolveImport = r))),
    removeDemo: async () => ({ providers: 0 }),
    loadDemo: async () => ({ providers: 3 }),
    timeZones: async () => ["America/New_York"],
    uiReady: async () => undefined,
    integrations: vi.fn(async () => ({ cards: [], connecting: null, now: STATUS.now })),
    connectIntegration: async () => {
      throw "not in this test";
    },
    cancelSignIn: async () => false,
    setIntegrationPaused: async () => undefined,
    syncNow: async () => {
      throw "not in this test";
    },
    disconnectIntegration: async () => {
      throw "not in this test";
    },
    reconnectIntegration: async () => {
      throw "not in this test";
    },
    findCalendars: async () => {
      throw "not in this test";
    },
    ...fillApi(),
  };
  const backend: Backend = {
    api,
    onStoreChanged: async (handler) => {
      changed = handler;
      return () => undefined;
    },
    onDragDrop: async () => undefined,
    pickFiles,
  };
  return {
    backend,
    api,
    providers,
    sources,
    queries,
    pickFiles,
    pick: (paths: string[]) => resolvePick?.(paths),
    finishImport: (r: ImportReport) => resolveImport?.(r),
    change: () => changed?.({ seq: 1, entity: "provider", op: "add", provider_id: null, source_id: null }),
  };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const rowNames = (root: HTMLElement) => Array.from(root.querySelectorAll(".row:not(.head) .prov-name span:first-child")).map((e) => e.textContent);

let root: HTMLElement;
beforeEach(() => {
  root = freshRoot();
});
afterEach(() => {
  root.remove();
});

describe("provider filter", () => {
  it("hides chosen providers and shows providers added later", async () => {
    const f = fakeBackend();
    await startApp(root, f.backend);
    expect(rowNames(root)).toEqual(["Dr. Rivera", "Dr. Chen", "Dr. Okafor"]);
    const chenBox = root.querySelector('#provider-filter .menu-item[data-provider-id="2"] input') as HTMLInputElement;
    chenBox.checked = false;
    chenBox.dispatchEvent(new Event("change"));
    await tick();
    expect(f.queries.at(-1)?.hidden_provider_ids).toEqual([2]);
    expect(rowNames(root)).toEqual(["Dr. Rivera", "Dr. Okafor"]);
    expect(root.querySelector("#provider-filter summary")?.textContent).toBe("2 of 3 providers");
    // Another program adds a provider while the filter is on: it appears.
    f.providers.push(provider(9, "Dr. Added Later"));
    f.change();
    await tick(250);
    expect(rowNames(root)).toEqual(["Dr. Rivera", "Dr. Okafor", "Dr. Added Later"]);
    expect(JSON.parse(localStorage.getItem("medharmony.filters") ?? "{}").hiddenProviderIds).toEqual([2]);
  });

  it("has an Only button per provider, and Show all", async () => {
    const f = fakeBackend();
    await startApp(root, f.backend);
    const only = root.querySelector('#provider-filter .menu-item[data-provider-id="3"] button.only') as HTMLButtonElement;
    expect(only.getAttribute("aria-label")).toBe("Only Dr. Okafor");
    only.click();
    await tick();
    expect(rowNames(root)).toEqual(["Dr. Okafor"]);
    (root.querySelector("#show-all-providers") as HTMLButtonElement).click();
    await tick();
    expect(rowNames(root)).toEqual(["Dr. Rivera", "Dr. Chen", "Dr. Okafor"]);
  });

  it("converts a filter saved as the providers shown", async () => {
    localStorage.setItem("medharmony.filters", JSON.stringify({ providerIds: [1], location: null }));
    expect(loadFilters().legacyShownIds).toEqual([1]);
    const f = fakeBackend();
    await startApp(root, f.backend);
    expect(f.queries[0].provider_ids).toEqual([1]);
    expect(JSON.parse(localStorage.getItem("medharmony.filters") ?? "{}")).toEqual({ hiddenProviderIds: [2, 3], location: null });
    f.providers.push(provider(9, "Dr. Added Later"));
    f.change();
    await tick(250);
    expect(rowNames(root)).toEqual(["Dr. Rivera", "Dr. Added Later"]);
  });

  it("shows a long location's full name on hover", async () => {
    const f = fakeBackend();
    await startApp(root, f.backend);
    const option = root.querySelector("#location-filter option:nth-child(2)") as HTMLOptionElement;
    expect(option.title).toBe("Downtown Clinic, Suite 400, Building B (entrance on 5th Street)");
  });
});

describe("import button", () => {
  it("is disabled while the file picker is open and while importing", async () => {
    const f = fakeBackend();
    await startApp(root, f.backend);
    const btn = root.querySelector("#import-button") as HTMLButtonElement;
    btn.click();
    expect(btn.disabled).toBe(true);
    btn.click();
    expect(f.pickFiles).toHaveBeenCalledTimes(1);
    f.pick(["/x/clinic.csv"]);
    await tick();
    expect(btn.disabled).toBe(true);
    expect(btn.textContent).toBe("Importing…");
    f.finishImport(importReport("clinic.csv", { slots: 2, summary: "clinic.csv: 2 open slots imported" }));
    await tick();
    expect(btn.disabled).toBe(false);
    expect(btn.textContent).toBe("Import…");
    // Cancelling the picker gives the button back.
    btn.click();
    expect(btn.disabled).toBe(true);
    f.pick([]);
    await tick();
    expect(btn.disabled).toBe(false);
  });
});

describe("keyboard", () => {
  it("says which keys change the week, and they do", async () => {
    const f = fakeBackend();
    await startApp(root, f.backend);
    const hint = root.querySelector("#keys-hint .keys")?.textContent ?? "";
    expect(hint).toBe("Keys: PgUp/PgDn or Alt+←/→ week · arrows move between times · Enter details");
    // The grid is one Tab stop.
    expect(root.querySelectorAll('.grid [tabindex="0"]').length).toBe(1);
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "PageDown", bubbles: true }));
    await tick();
    expect(f.queries.at(-1)?.start).toBe("2026-03-09");
    // From a time: arrows move between times, Alt+← changes the week and keeps focus in the grid.
    const first = root.querySelector('.grid [tabindex="0"]') as HTMLElement;
    first.focus();
    first.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    expect(document.activeElement?.getAttribute("data-slot-id")).toBe("grid-2-2026-03-09");
    expect(f.queries.at(-1)?.start).toBe("2026-03-09");
    (document.activeElement as HTMLElement).dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", altKey: true, bubbles: true }));
    await tick();
    expect(f.queries.at(-1)?.start).toBe("2026-03-02");
    expect((document.activeElement as HTMLElement | null)?.closest(".grid")).not.toBeNull();
    expect(document.activeElement?.getAttribute("tabindex")).toBe("0");
  });
});

describe("when the database cannot be opened", () => {
  const noKeychain: AppStatus = {
    ...STATUS,
    ready: false,
    problem:
      "MedHarmony Desk keeps the key that protects its schedule database in this computer's keychain, but no keychain is available for this user account, so it cannot set up its database.",
    problem_kind: "no-keychain",
    problem_detail: "The keychain could not be used (Couldn't access platform secure storage: Secret Service: no result found). Set up a keychain …, or start MedHarmony Desk with MEDHARMONY_DB_KEY set to a passphrase or 64 hex digits.",
    db_exists: false,
    db_path: "/home/desk/.local/share/medharmony.db",
  };

  it("explains a computer without a keychain in plain words, with the technical part for IT", async () => {
    const result: ShowLogsResult = { folder: "/home/desk/.local/share/health.medharmony.desk/logs", opened: false, error: "no file manager" };
    renderProblem(root, noKeychain, { showLogs: async () => result });
    expect(root.querySelector("h1")?.textContent).toBe("MedHarmony Desk needs a keychain on this computer");
    const help = root.querySelector(".fatal-help")?.textContent ?? "";
    expect(help).toContain("no schedules have been stored on this computer yet");
    expect(help).not.toContain("encrypted");
    const reason = root.querySelector(".fatal-reason")?.textContent ?? "";
    expect(reason).not.toContain("Secret Service");
    expect(reason).not.toContain("MEDHARMONY_DB_KEY");
    const it = root.querySelector(".it-help")?.textContent ?? "";
    expect(it).toContain("For your IT support");
    expect(it).toContain("MEDHARMONY_DB_KEY");
    expect(it).toContain("/home/desk/.local/share/medharmony.db");
    (root.querySelector("#show-logs") as HTMLButtonElement).click();
    await tick();
    const said = root.querySelector("#logs-result")?.textContent ?? "";
    expect(said).toBe("The log folder could not be opened (no file manager). The log files are in /home/desk/.local/share/health.medharmony.desk/logs");
  });

  it("says a wrong key leaves an existing database untouched", () => {
    renderProblem(root, { ...noKeychain, problem_kind: "wrong-key", db_exists: true, problem: "The key does not match." });
    expect(root.querySelector("h1")?.textContent).toBe("MedHarmony Desk can't open its schedule database");
    expect(root.querySelector(".fatal-help")?.textContent).toContain("stay safely encrypted");
  });

  it("says when another window has the database open", async () => {
    const f = fakeBackend();
    f.api.appStatus = async () => ({ ...noKeychain, problem_kind: "already-open", db_exists: true, problem: "MedHarmony Desk is already open on this computer with this schedule database." });
    await startApp(root, f.backend);
    expect(root.querySelector("h1")?.textContent).toBe("MedHarmony Desk is already open");
    expect(f.api.week).not.toHaveBeenCalled();
  });
});

describe("the Integrations page", () => {
  it("is a tab in the header; the week stays the default", async () => {
    const f = fakeBackend();
    (f.api.integrations as ReturnType<typeof vi.fn>).mockResolvedValue({ cards: [integrationCard()], connecting: null, now: STATUS.now });
    await startApp(root, f.backend);
    const weekTab = root.querySelector("#tab-week") as HTMLButtonElement;
    const tab = root.querySelector("#tab-integrations") as HTMLButtonElement;
    expect(weekTab.getAttribute("aria-current")).toBe("page");
    expect(tab.hasAttribute("aria-current")).toBe(false);
    expect((root.querySelector("#integrations") as HTMLElement).hidden).toBe(true);
    expect(f.api.integrations).not.toHaveBeenCalled();
    tab.click();
    await tick();
    expect(tab.getAttribute("aria-current")).toBe("page");
    expect(weekTab.hasAttribute("aria-current")).toBe(false);
    expect((root.querySelector("#main") as HTMLElement).hidden).toBe(true);
    expect((root.querySelector(".weeknav") as HTMLElement).hidden).toBe(true);
    expect((root.querySelector(".filters") as HTMLElement).hidden).toBe(true);
    expect(root.querySelector('#integrations article[data-integration="Clinic FHIR"]')).not.toBeNull();
    // The week keys do nothing here.
    const before = f.queries.length;
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "PageDown", bubbles: true }));
    await tick();
    expect(f.queries.length).toBe(before);
    // A change in the database refreshes the cards.
    f.change();
    await tick(250);
    expect(f.api.integrations).toHaveBeenCalledTimes(2);
    weekTab.click();
    await tick();
    expect((root.querySelector("#main") as HTMLElement).hidden).toBe(false);
    expect((root.querySelector("#integrations") as HTMLElement).hidden).toBe(true);
  });

  it("names a connected system's kind in the sources footer", async () => {
    const f = fakeBackend();
    f.sources.push({ id: 7, name: "Clinic FHIR", kind: "integration", system: "FHIR server", provider: null, last_sync_at: "2026-03-04T14:55:00Z", demo: false });
    f.sources.push({ id: 8, name: "slots", kind: "csv", system: null, provider: null, last_sync_at: "2026-03-04T14:00:00Z", demo: false });
    await startApp(root, f.backend);
    const footer = (root.querySelector("#sources")?.textContent ?? "").replace(/\s+/g, " ");
    expect(footer).toContain("Clinic FHIR (FHIR server) — synced 5 min ago");
    expect(footer).toContain("slots (spreadsheet) — synced 1 hour ago");
  });
});
