// The app controller: loads the week, renders it, follows live changes,
// handles filters, keyboard, the demo banner and imports.

import type { Api, ListenOpeningsFound, ListenOpenSlot, ListenSignIn, ListenStoreChanged } from "./api";
import { errorText } from "./api";
import type { AppStatus, FileCheck, OpeningDto, ProviderView, StaffView, Week } from "./bindings";
import type { DragDropPayload, FileOutcome, ImportDeps } from "./drop";
import { handleDragDrop, importPaths, summarize } from "./drop";
import { openingLabel } from "./fill";
import { createIntegrationsPage } from "./integrations-page";
import { createOpeningsPage } from "./openings-page";
import { addDays, deskZone, relativeTime, weekRangeLabel } from "./time";
import { askDateOrder, confirmRemoveDemo, pickProvider, showDetails } from "./view/dialogs";
import { h, replaceChildren } from "./view/dom";
import { openSettingsDialog } from "./view/settings";
import { pickStaff } from "./view/staff";
import { ITEM_SELECTOR, nextFocus, renderWeek, setTabStop } from "./view/week";
import { createWaitlistPage } from "./waitlist-page";

/** What the app needs from the desktop shell (Tauri in the product, fakes in tests). */
export interface Backend {
  api: Api;
  onStoreChanged: ListenStoreChanged;
  onDragDrop(handler: (payload: DragDropPayload) => void): Promise<unknown>;
  /** The file picker; resolves with the chosen paths (empty when cancelled). */
  pickFiles(): Promise<string[]>;
  /** Opens the folder holding the log files, if the platform can; says where it is. */
  showLogs?(): Promise<ShowLogsResult>;
  /** The file picker for a private key (Connect form); resolves with the path, null when cancelled. */
  pickKeyFile?(): Promise<string | null>;
  /** The `sign-in` event: a connection's browser sign-in started. */
  onSignIn?: ListenSignIn;
  /** The `openings-found` event: times came free after cancellations. */
  onOpeningsFound?: ListenOpeningsFound;
  /** The `open-slot` event: an opening's notification was clicked. */
  onOpenSlot?: ListenOpenSlot;
  /** The file picker for a waitlist spreadsheet (.csv); resolves with the path, null when cancelled. */
  pickWaitlistFile?(): Promise<string | null>;
}

/** The app's pages: the week view (the default), Openings, Waitlist and Integrations. */
export type Page = "week" | "openings" | "waitlist" | "integrations";

/** What "Show log files" did: the folder, and whether a window could be opened on it. */
export interface ShowLogsResult {
  folder: string;
  opened: boolean;
  error?: string;
}

/**
 * The provider filter is the set of providers staff chose to hide, so a
 * provider added later (an import, the `medharmony` command) always shows.
 */
export interface Filters {
  hiddenProviderIds: number[];
  location: string | null;
  /** A filter saved by an older version (the providers shown); converted on the first load. */
  legacyShownIds?: number[] | null;
}

const FILTERS_KEY = "medharmony.filters";
const REFRESH_DEBOUNCE_MS = 150;

const numbers = (v: unknown): number[] | null => (Array.isArray(v) ? v.filter((n): n is number => typeof n === "number") : null);

/** The saved filters (empty when none or unreadable). */
export function loadFilters(): Filters {
  try {
    const raw = JSON.parse(localStorage.getItem(FILTERS_KEY) ?? "null") as Record<string, unknown> | null;
    const hidden = numbers(raw?.hiddenProviderIds);
    return {
      hiddenProviderIds: hidden ?? [],
      location: typeof raw?.location === "string" ? raw.location : null,
      legacyShownIds: hidden ? null : numbers(raw?.providerIds),
    };
  } catch {
    return { hiddenProviderIds: [], location: null };
  }
}

function saveFilters(f: Filters): void {
  try {
    localStorage.setItem(FILTERS_KEY, JSON.stringify({ hiddenProviderIds: f.hiddenProviderIds, location: f.location }));
  } catch {
    // Storage unavailable: filters simply are not remembered.
  }
}

/** Capitalizes the first letter and ends with a full stop. */
function sentence(text: string): string {
  const t = text.trim();
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

interface ProblemWords {
  title: string;
  steps: string[];
}

/** The headline and steps for staff, by kind of problem. */
function problemWords(status: AppStatus): ProblemWords {
  // Only a database that exists holds schedules to be reassured about.
  const safe = status.db_exists
    ? "Nothing was changed or lost: the schedules stay safely encrypted on this computer."
    : "Nothing is lost: no schedules have been stored on this computer yet.";
  const again = "Then close and open MedHarmony Desk again.";
  switch (status.problem_kind) {
    case "no-keychain":
      return status.db_exists
        ? {
            title: "MedHarmony Desk can't unlock its schedule database",
            steps: [safe, "Ask your IT support to make this computer's keychain available for your user account (the details are below).", again],
          }
        : {
            title: "MedHarmony Desk needs a keychain on this computer",
            steps: [safe, "Ask your IT support to set up a keychain for your user account on this computer (the details are below).", again],
          };
    case "key-not-in-keychain":
    case "wrong-key":
      return {
        title: "MedHarmony Desk can't open its schedule database",
        steps: [safe, "Ask the person who set up MedHarmony Desk on this computer to give it the key the database was created with (the details are below).", again],
      };
    case "empty-key-setting":
      return { title: "MedHarmony Desk can't open its schedule database", steps: [safe, "Ask your IT support to correct or remove the database key setting (the details are below).", again] };
    case "newer-version":
      return { title: "MedHarmony Desk needs an update", steps: [safe, "Ask your IT support to install the newest MedHarmony Desk on this computer.", again] };
    case "already-open":
      return {
        title: "MedHarmony Desk is already open",
        steps: [
          "Switch to the MedHarmony Desk window that is already open (look in the taskbar, or click the MedHarmony icon near the clock).",
          "Then close this window.",
          "If no other window can be found, sign out of the computer and back in, then open MedHarmony Desk again.",
        ],
      };
    default:
      return { title: "MedHarmony Desk can't open its schedule database", steps: [safe, "Ask your IT support to look at the details below.", again] };
  }
}

/** Full-screen message when the database cannot be opened. */
export function renderProblem(root: HTMLElement, status: AppStatus, backend?: Pick<Backend, "showLogs">): void {
  const words = problemWords(status);
  const logsResult = h("p", { class: "logs-result", id: "logs-result", role: "status" });
  const showLogs = async () => {
    if (!backend?.showLogs) return;
    logsResult.textContent = "Opening the log folder…";
    try {
      const r = await backend.showLogs();
      replaceChildren(
        logsResult,
        r.opened ? "The log files are in " : `The log folder could not be opened${r.error ? ` (${r.error})` : ""}. The log files are in `,
        h("code", {}, r.folder),
      );
    } catch (e) {
      logsResult.textContent = `The log folder could not be found: ${errorText(e)}`;
    }
  };
  replaceChildren(
    root,
    h(
      "main",
      { class: "fatal", role: "alert", "data-problem": status.problem_kind ?? "unknown" },
      h("img", { src: "/logo.png", alt: "", class: "fatal-logo" }),
      h("h1", {}, words.title),
      h("p", { class: "fatal-reason" }, sentence(status.problem ?? "The database could not be opened.")),
      h("div", { class: "fatal-help" }, h("h2", {}, "What to do"), h("ol", {}, words.steps.map((t) => h("li", {}, t)))),
      h(
        "section",
        { class: "it-help", "aria-labelledby": "it-help-title" },
        h("h2", { id: "it-help-title" }, "For your IT support"),
        status.problem_detail ? h("p", {}, status.problem_detail) : null,
        h("p", {}, "Database file: ", h("code", {}, status.db_path || "(none)")),
        backend?.showLogs ? h("button", { class: "btn", type: "button", id: "show-logs", onclick: () => void showLogs() }, "Show log files") : null,
        logsResult,
      ),
    ),
  );
}

/** Starts the app in `root`. */
export async function startApp(root: HTMLElement, backend: Backend): Promise<void> {
  const { api } = backend;
  let status: AppStatus;
  try {
    status = await api.appStatus();
  } catch (e) {
    status = {
      ready: false,
      problem: errorText(e),
      problem_kind: "cannot-open",
      problem_detail: null,
      db_exists: false,
      db_path: "",
      now: new Date().toISOString(),
      now_fixed: false,
      today: "",
      week_start: "",
      version: "",
    };
  }
  if (!status.ready) {
    renderProblem(root, status, backend);
    return;
  }

  let weekStart = status.week_start;
  let week: Week | null = null;
  let filters = loadFilters();
  let requestSeq = 0;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let zones: string[] | null = null;
  let importing = false;
  let picking = false;
  let pendingJobs = 0;
  let lastLoadedAt: number | null = null;
  /** The grid item (data-slot-id or data-busy-id) focused last: the grid's Tab stop. */
  let lastGridItem: { attr: "data-slot-id" | "data-busy-id"; id: string } | null = null;
  let focusGridAfterRender = false;
  let page: Page = "week";

  // ---- skeleton -------------------------------------------------------
  const rangeLabel = h("h1", { class: "range", id: "week-range", "aria-live": "polite" });
  const prevBtn = h("button", { class: "btn icon", type: "button", id: "prev-week", "aria-label": "Previous week", title: "Previous week (PageUp or Alt+←)" }, "‹");
  const nextBtn = h("button", { class: "btn icon", type: "button", id: "next-week", "aria-label": "Next week", title: "Next week (PageDown or Alt+→)" }, "›");
  const todayBtn = h("button", { class: "btn", type: "button", id: "this-week", title: "Back to this week (T)" }, "Today");
  const providerMenu = h("details", { class: "menu", id: "provider-filter" });
  const locationSelect = h("select", { id: "location-filter", "aria-label": "Location" });
  const importBtn = h("button", { class: "btn primary", type: "button", id: "import-button" }, "Import…");
  const weekTab = h("button", { class: "tab", type: "button", id: "tab-week", "aria-current": "page" }, "Week");
  const openingsTab = h("button", { class: "tab", type: "button", id: "tab-openings" }, "Openings");
  const waitlistTab = h("button", { class: "tab", type: "button", id: "tab-waitlist" }, "Waitlist");
  const integrationsTab = h("button", { class: "tab", type: "button", id: "tab-integrations" }, "Integrations");
  const staffName = h("strong", { id: "staff-current" });
  const staffBtn = h("button", { class: "btn subtle", type: "button", id: "staff-change" }, "Change");
  const staffBox = h("div", { class: "staff-box", id: "staff-box", hidden: true }, h("span", { class: "staff-label" }, "At the desk:"), staffName, h("span", { class: "muted", "aria-hidden": "true" }, "·"), staffBtn);
  const settingsBtn = h("button", { class: "btn icon", type: "button", id: "settings-button", "aria-label": "Settings", title: "Settings" }, "⚙");
  const weekNav = h("nav", { class: "weeknav", "aria-label": "Week" }, prevBtn, todayBtn, nextBtn, rangeLabel);
  const filtersBox = h("div", { class: "filters" }, providerMenu, locationSelect);
  const integrationsMain = h("main", { class: "main page", id: "integrations", hidden: true });
  const openingsMain = h("main", { class: "main page", id: "openings", hidden: true });
  const waitlistMain = h("main", { class: "main page", id: "waitlist", hidden: true });
  const demoBanner = h("div", { class: "banner demo", id: "demo-banner", hidden: true });
  const notice = h("div", { class: "notice-area", id: "notice", "aria-live": "polite" });
  const main = h("main", { class: "main", id: "main" });
  const footer = h("footer", { class: "sources", id: "sources" });
  const overlay = h(
    "div",
    { class: "drop-overlay", id: "drop-overlay", hidden: true, "aria-hidden": "true" },
    h("div", { class: "drop-box" }, h("div", { class: "drop-title" }, "Drop to import"), h("div", {}, "Provider calendars (.ics) and schedule spreadsheets (.csv)")),
  );

  replaceChildren(
    root,
    h(
      "div",
      { class: "app" },
      h(
        "header",
        { class: "topbar" },
        h("div", { class: "brand", title: "MedHarmony Desk" }, h("img", { src: "/logo.png", alt: "", class: "logo" }), h("span", {}, "MedHarmony Desk")),
        h("nav", { class: "tabs", "aria-label": "Pages" }, weekTab, openingsTab, waitlistTab, integrationsTab),
        weekNav,
        filtersBox,
        h("div", { class: "topbar-end" }, importBtn, staffBox, settingsBtn),
      ),
      demoBanner,
      notice,
      main,
      openingsMain,
      waitlistMain,
      integrationsMain,
      footer,
    ),
    overlay,
  );

  // ---- notices --------------------------------------------------------
  /** Shows a notice; `action` adds a button (e.g. "Show") that also dismisses it. */
  function showNotice(tone: string, headline: string, lines: string[] = [], sticky = true, action?: { label: string; run: () => void }): void {
    const dismiss = h("button", { class: "btn subtle", type: "button", "aria-label": "Dismiss" }, "✕");
    const shown = lines.slice(0, 6);
    const act = action ? h("button", { class: "btn", type: "button", "data-notice-action": "" }, action.label) : null;
    const el = h(
      "div",
      { class: ["notice", `tone-${tone}`], role: tone === "error" ? "alert" : "status", "data-tone": tone },
      h("div", { class: "notice-body" }, h("strong", { class: "notice-headline" }, headline), shown.length ? h("ul", {}, shown.map((l) => h("li", {}, l))) : null, lines.length > shown.length ? h("div", { class: "muted" }, `…and ${lines.length - shown.length} more`) : null),
      act,
      dismiss,
    );
    dismiss.addEventListener("click", () => el.remove());
    act?.addEventListener("click", () => {
      el.remove();
      action?.run();
    });
    replaceChildren(notice, el);
    if (!sticky) setTimeout(() => el.remove(), 8000);
  }

  // ---- data -----------------------------------------------------------
  function nowMs(): number {
    return status.now_fixed && week ? Date.parse(week.now) : Date.now();
  }

  let readyReported = false;

  async function load(): Promise<void> {
    const seq = ++requestSeq;
    try {
      const legacy = filters.legacyShownIds;
      const w = await api.week({
        start: weekStart,
        provider_ids: legacy && legacy.length ? legacy : null,
        hidden_provider_ids: filters.hiddenProviderIds,
        location: filters.location,
      });
      if (seq !== requestSeq) return;
      if (legacy) {
        // An older version saved the providers shown: from now on, the ones hidden.
        filters = { ...filters, hiddenProviderIds: legacy.length ? w.all_providers.filter((p) => !legacy.includes(p.id)).map((p) => p.id) : [], legacyShownIds: null };
        saveFilters(filters);
      }
      week = w;
      lastLoadedAt = Date.now();
      render();
      if (!readyReported) {
        readyReported = true;
        api.uiReady().catch(() => undefined);
      }
    } catch (e) {
      if (seq !== requestSeq) return;
      showNotice("error", "The week could not be loaded", [errorText(e)]);
    }
  }

  function scheduleRefresh(): void {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      void load();
      if (page === "integrations") void integrations.load();
      if (page === "openings") void openings.refresh();
      if (page === "waitlist") void waitlist.load();
    }, REFRESH_DEBOUNCE_MS);
  }

  function goToWeek(start: string): void {
    weekStart = start;
    // Keep keyboard users in the grid when they change the week from a time.
    focusGridAfterRender = !!(document.activeElement as HTMLElement | null)?.closest?.(".grid");
    void load();
  }

  // ---- rendering ------------------------------------------------------
  function render(): void {
    if (!week) return;
    rangeLabel.textContent = weekRangeLabel(week.start);
    todayBtn.disabled = week.days.some((d) => d.is_today);
    renderFilters(week);
    renderDemoBanner(week);
    renderMain(week);
    renderSources(week);
  }

  function renderDemoBanner(w: Week): void {
    demoBanner.hidden = !w.has_demo || page !== "week";
    if (!w.has_demo) return;
    replaceChildren(
      demoBanner,
      h("span", { class: "badge-demo large" }, "Demo"),
      h("div", { class: "banner-text" }, h("strong", {}, "You are looking at a demo practice."), " The three providers and their appointments are made up. Drop your own calendars or spreadsheets on this window, then remove the demo."),
      h("button", { class: "btn", type: "button", id: "remove-demo", onclick: () => void removeDemo() }, "Remove demo"),
    );
  }

  function setHidden(ids: number[]): void {
    filters = { ...filters, hiddenProviderIds: ids };
    saveFilters(filters);
    void load();
  }

  function renderFilters(w: Week): void {
    const all = w.all_providers;
    // Forget hidden providers that no longer exist.
    const hidden = new Set(filters.hiddenProviderIds.filter((id) => all.some((p) => p.id === id)));
    const count = all.filter((p) => !hidden.has(p.id)).length;
    const label = count === all.length ? `All providers (${all.length})` : `${count} of ${all.length} providers`;
    const wasOpen = providerMenu.open;
    replaceChildren(
      providerMenu,
      h("summary", { class: "btn", "aria-label": `Providers: ${label}` }, label),
      h(
        "div",
        { class: "menu-panel", role: "group", "aria-label": "Show providers" },
        all.length === 0 ? h("p", { class: "muted" }, "No providers yet.") : null,
        all.map((p) =>
          h(
            "div",
            { class: "menu-item", "data-provider-id": p.id },
            h(
              "label",
              { class: "menu-check", title: p.name },
              h("input", {
                type: "checkbox",
                value: String(p.id),
                checked: !hidden.has(p.id),
                onchange: (e: Event) => {
                  const box = e.target as HTMLInputElement;
                  const next = new Set(hidden);
                  if (box.checked) next.delete(p.id);
                  else next.add(p.id);
                  setHidden(all.map((x) => x.id).filter((id) => next.has(id)));
                },
              }),
              h("span", { class: "menu-name" }, p.name),
            ),
            h(
              "button",
              {
                class: "btn subtle only",
                type: "button",
                "aria-label": `Only ${p.name}`,
                title: `Show only ${p.name}`,
                onclick: () => setHidden(all.filter((x) => x.id !== p.id).map((x) => x.id)),
              },
              "Only",
            ),
          ),
        ),
        all.length > 0 ? h("button", { class: "btn subtle", type: "button", id: "show-all-providers", onclick: () => setHidden([]) }, "Show all") : null,
      ),
    );
    providerMenu.open = wasOpen;
    const locs = w.locations;
    if (filters.location && !locs.some((l) => l.name === filters.location)) {
      filters = { ...filters, location: null };
    }
    replaceChildren(
      locationSelect,
      h("option", { value: "" }, locs.length ? "All locations" : "No locations"),
      locs.map((l) => h("option", { value: l.name, selected: l.name === filters.location, title: l.name }, l.name)),
    );
    locationSelect.disabled = locs.length === 0;
    // The full name on hover: long names are cut in the closed list.
    locationSelect.title = !locs.length ? "Spreadsheets with a location column add locations" : filters.location ? `Location: ${filters.location}` : "Show slots at one location";
  }

  function renderMain(w: Week): void {
    const focusedSlot = (document.activeElement as HTMLElement | null)?.dataset?.slotId;
    const focusedBusy = (document.activeElement as HTMLElement | null)?.dataset?.busyId;
    if (w.all_providers.length === 0) {
      replaceChildren(main, emptyState());
      return;
    }
    if (w.providers.length === 0) {
      replaceChildren(
        main,
        h(
          "div",
          { class: "empty small" },
          h("h2", {}, "No providers match the filters"),
          h("p", {}, filters.location ? `No provider has slots at ${filters.location} this week.` : "Choose at least one provider."),
          h("button", { class: "btn", type: "button", onclick: () => clearFilters() }, "Clear filters"),
        ),
      );
      return;
    }
    const hadGridFocus = !!(document.activeElement as HTMLElement | null)?.closest?.(".grid");
    const grid = renderWeek(w, {
      onOpen: (sel) =>
        void showDetails(sel, undefined, w.sources, { findPatients: true }).then((how) => {
          if (how === "find" && sel.kind === "slot") openSlot(sel.slot.id);
        }),
      now: nowMs(),
    });
    grid.addEventListener("focusin", (e) => {
      const t = e.target as HTMLElement;
      if (t.dataset.slotId) lastGridItem = { attr: "data-slot-id", id: t.dataset.slotId };
      else if (t.dataset.busyId) lastGridItem = { attr: "data-busy-id", id: t.dataset.busyId };
    });
    grid.addEventListener("keydown", (e) => {
      const t = e.target as HTMLElement;
      if (!t.matches(ITEM_SELECTOR) || e.altKey || e.ctrlKey || e.metaKey) return;
      const next = nextFocus(grid, t, e.key);
      if (next) {
        e.preventDefault();
        e.stopPropagation();
        next.focus();
        next.scrollIntoView({ block: "nearest", inline: "nearest" });
      } else if (e.key.startsWith("Arrow")) {
        e.preventDefault();
        e.stopPropagation();
      }
    });
    replaceChildren(
      main,
      h(
        "p",
        { class: "zone-hint", id: "keys-hint" },
        "Times are in each provider's own time zone, shown beside their name. Click a time for details.",
        h(
          "span",
          { class: "keys" },
          "Keys: ",
          h("kbd", { title: "Page Up / Page Down" }, "PgUp"),
          "/",
          h("kbd", {}, "PgDn"),
          " or ",
          h("kbd", {}, "Alt+←"),
          "/",
          h("kbd", {}, "→"),
          " week · arrows move between times · ",
          h("kbd", {}, "Enter"),
          " details",
        ),
      ),
      grid,
    );
    const refocus = focusedSlot
      ? grid.querySelector<HTMLElement>(`[data-slot-id="${CSS.escape(focusedSlot)}"]`)
      : focusedBusy
        ? grid.querySelector<HTMLElement>(`[data-busy-id="${CSS.escape(focusedBusy)}"]`)
        : null;
    // The Tab stop: the time focused last if it is still shown, else the first.
    const stop = refocus ?? (lastGridItem ? grid.querySelector<HTMLElement>(`[${lastGridItem.attr}="${CSS.escape(lastGridItem.id)}"]`) : null);
    if (stop) setTabStop(grid, stop);
    if (refocus) refocus.focus();
    else if (hadGridFocus || focusGridAfterRender) grid.querySelector<HTMLElement>('[tabindex="0"]')?.focus();
    focusGridAfterRender = false;
  }

  function emptyState(): HTMLElement {
    return h(
      "div",
      { class: "empty", id: "empty-state" },
      h("h2", {}, "Add your practice's schedules"),
      h("p", { class: "lead" }, "MedHarmony Desk shows every provider's free times for the week, each in the provider's own time zone."),
      h(
        "ol",
        { class: "steps" },
        h("li", {}, h("strong", {}, "Get the files. "), "Export each provider's calendar as an .ics file (Google Calendar, Outlook, Apple Calendar…), or save your schedule spreadsheet as .csv."),
        h("li", {}, h("strong", {}, "Drop them on this window"), " — or click Import and choose them."),
        h("li", {}, h("strong", {}, "Say whose calendar it is. "), "The free times appear at once."),
      ),
      h(
        "div",
        { class: "empty-actions" },
        h("button", { class: "btn primary large", type: "button", id: "empty-import", disabled: importLocked(), onclick: () => void pickAndImport() }, "Import a file…"),
        h("button", { class: "btn large", type: "button", id: "load-demo", onclick: () => void loadDemo() }, "Show the demo practice"),
      ),
    );
  }

  function renderSources(w: Week): void {
    const now = nowMs();
    const items = w.sources.map((s) =>
      h(
        "li",
        { class: "source", "data-source": s.name },
        h("span", { class: ["dot", s.last_sync_at ? "ok" : "never"], "aria-hidden": "true" }),
        h("span", { class: "source-name" }, s.name),
        s.provider
          ? h("span", { class: "muted" }, ` (${s.demo ? s.provider.replace(/\s*\(Demo\)$/, "") : s.provider})`)
          : h("span", { class: "muted" }, s.kind === "integration" ? ` (${s.system ?? "connected system"})` : " (spreadsheet)"),
        " — ",
        h("span", { class: "synced" }, s.last_sync_at ? `synced ${relativeTime(s.last_sync_at, now)}` : "never synced"),
      ),
    );
    replaceChildren(
      footer,
      h("span", { class: "footer-label" }, "Sources"),
      items.length ? h("ul", { class: "source-list" }, items) : h("span", { class: "muted" }, "None yet: drop a calendar or spreadsheet on this window."),
      h("span", { class: "live", title: "Changes from other programs appear within seconds" }, h("span", { class: "live-dot", "aria-hidden": "true" }), lastLoadedAt ? "Live" : ""),
    );
  }

  function clearFilters(): void {
    filters = { hiddenProviderIds: [], location: null };
    saveFilters(filters);
    void load();
  }

  // ---- actions --------------------------------------------------------
  async function removeDemo(): Promise<void> {
    if (!(await confirmRemoveDemo())) return;
    try {
      const r = await api.removeDemo();
      showNotice("success", "Demo practice removed", [`${r.providers} demo providers and their made-up appointments were removed.`], false);
    } catch (e) {
      showNotice("error", "The demo could not be removed", [errorText(e), "Nothing was changed."]);
    }
    await load();
  }

  async function loadDemo(): Promise<void> {
    try {
      await api.loadDemo();
      showNotice("neutral", "Demo practice loaded", ["Three made-up providers in New York, Chicago and Los Angeles. Remove them any time with “Remove demo”."], false);
    } catch (e) {
      showNotice("error", "The demo could not be loaded", [errorText(e)]);
    }
    await load();
  }

  async function chooseProvider(file: FileCheck): Promise<{ provider: string; newProviderTz: string | null } | null> {
    if (!zones) {
      try {
        zones = await api.timeZones();
      } catch {
        zones = [deskZone()];
      }
    }
    const providers: ProviderView[] = week?.all_providers ?? [];
    return pickProvider(file, providers, zones);
  }

  /** No second file picker or import while one is open or running. */
  function importLocked(): boolean {
    return picking || pendingJobs > 0;
  }

  function updateImportButtons(): void {
    const locked = importLocked();
    importBtn.disabled = locked;
    importBtn.textContent = importing ? "Importing…" : "Import…";
    const emptyBtn = main.querySelector<HTMLButtonElement>("#empty-import");
    if (emptyBtn) emptyBtn.disabled = locked;
  }

  const importDeps: ImportDeps = {
    api,
    deskZone,
    ui: {
      setDropTarget: (active) => {
        overlay.hidden = !active || importing;
      },
      pickProvider: chooseProvider,
      pickDateOrder: (file) => (file.date_question ? askDateOrder(file, file.date_question) : Promise.resolve(null)),
      setBusy: (busy) => {
        importing = busy;
        updateImportButtons();
      },
      report: (outcomes: FileOutcome[]) => {
        const s = summarize(outcomes);
        showNotice(s.tone, s.headline, s.lines);
        void load();
      },
    },
  };

  let queue: Promise<unknown> = Promise.resolve();
  function enqueue(job: () => Promise<unknown>): void {
    pendingJobs += 1;
    updateImportButtons();
    const run = () =>
      job().finally(() => {
        pendingJobs -= 1;
        updateImportButtons();
      });
    queue = queue.then(run, run);
  }

  async function pickAndImport(): Promise<void> {
    if (importLocked()) return;
    picking = true;
    updateImportButtons();
    let paths: string[] = [];
    try {
      paths = await backend.pickFiles();
    } catch (e) {
      showNotice("error", "The file picker could not be opened", [errorText(e)]);
    }
    // Queue before releasing the picker so the button never flickers on.
    if (paths.length) enqueue(() => importPaths(paths, importDeps));
    picking = false;
    updateImportButtons();
  }

  // ---- pages ----------------------------------------------------------
  const integrations = createIntegrationsPage(integrationsMain, {
    api,
    nowFixed: status.now_fixed,
    notify: (tone, headline, lines = []) => showNotice(tone, headline, lines, tone !== "error" && tone !== "warning"),
    zones: async () => {
      if (!zones) zones = await api.timeZones();
      return zones;
    },
    deskZone,
    pickKeyFile: backend.pickKeyFile ? () => (backend.pickKeyFile as () => Promise<string | null>)() : undefined,
    onSignIn: backend.onSignIn,
    importFiles: () => {
      showPage("week");
      void pickAndImport();
    },
  });

  const openings = createOpeningsPage(openingsMain, {
    api,
    now: () => nowMs(),
    notify: (tone, headline, lines = []) => showNotice(tone, headline, lines, tone !== "error" && tone !== "warning"),
    ensureStaff,
    showWaitlist: () => showPage("waitlist"),
    onLoaded: (v) => setStaffName(v.staff),
  });

  const waitlist = createWaitlistPage(waitlistMain, {
    api,
    notify: (tone, headline, lines = []) => showNotice(tone, headline, lines, tone !== "error" && tone !== "warning"),
    zones: async () => {
      if (!zones) zones = await api.timeZones();
      return zones;
    },
    deskZone,
    providers: () => week?.all_providers ?? [],
    locations: () => week?.locations.map((l) => l.name) ?? [],
    pickFile: backend.pickWaitlistFile ? () => (backend.pickWaitlistFile as () => Promise<string | null>)() : undefined,
    ensureStaff,
    openSlot: (id) => openSlot(id),
  });

  const pages: Record<Page, { tab: HTMLElement; main: HTMLElement; load?: () => Promise<void> }> = {
    week: { tab: weekTab, main },
    // The chosen time's suggestions may have changed while another page was shown.
    openings: { tab: openingsTab, main: openingsMain, load: () => openings.refresh() },
    waitlist: { tab: waitlistTab, main: waitlistMain, load: () => waitlist.load() },
    integrations: { tab: integrationsTab, main: integrationsMain, load: () => integrations.load() },
  };

  function showPage(next: Page): void {
    page = next;
    const onWeek = page === "week";
    for (const [name, p] of Object.entries(pages)) {
      const here = name === page;
      p.main.hidden = !here;
      if (here) p.tab.setAttribute("aria-current", "page");
      else p.tab.removeAttribute("aria-current");
    }
    weekNav.hidden = !onWeek;
    filtersBox.hidden = !onWeek;
    // The waitlist has its own Import CSV button: the calendars' Import would be mistaken for it.
    importBtn.hidden = page === "waitlist";
    if (week) renderDemoBanner(week);
    void pages[page].load?.();
  }

  /** Shows the Openings page on `slotId` (any free `slot-<n>`) with its suggestions. */
  function openSlot(slotId: string): void {
    if (page !== "openings") showPage("openings");
    void openings.select(slotId);
  }

  // ---- who is at the desk -----------------------------------------------
  let staff: string | null = null;
  let staffPicking: Promise<StaffView | null> | null = null;

  function setStaffName(name: string | null): void {
    staff = name;
    staffName.textContent = name ?? "nobody yet";
    staffBtn.textContent = name ? "Change" : "Choose";
    staffBtn.setAttribute("aria-label", name ? `Change who is at the desk (now ${name})` : "Choose who is at the desk");
  }

  /** Opens "Who is at the desk?" (once at a time); resolves with the name chosen, or null. */
  async function chooseStaff(): Promise<string | null> {
    if (!staffPicking) {
      staffPicking = (async () => {
        let view: StaffView;
        try {
          view = await api.staff();
        } catch {
          view = { current: staff, recent: staff ? [staff] : [], os_user: "" };
        }
        return pickStaff(view, (name) => api.setStaff(name));
      })().finally(() => (staffPicking = null));
    }
    const chosen = await staffPicking;
    if (chosen) setStaffName(chosen.current);
    return chosen?.current ?? null;
  }

  /** True once someone is at the desk: asks first when nobody is (Offer, Book and Release need a name). */
  async function ensureStaff(): Promise<boolean> {
    return staff !== null || (await chooseStaff()) !== null;
  }

  async function startStaff(): Promise<void> {
    staffBox.hidden = false;
    try {
      const view = await api.staff();
      setStaffName(view.current);
      if (view.current === null) void chooseStaff();
    } catch {
      setStaffName(null);
    }
  }

  // ---- settings ---------------------------------------------------------
  let settingsOpen = false;
  async function openSettings(): Promise<void> {
    if (settingsOpen) return;
    settingsOpen = true;
    try {
      const form = await api.fillSettings();
      const saved = await openSettingsDialog(form, (f) => api.saveFillSettings(f));
      if (saved) {
        showNotice("success", "Settings saved", [], false);
        if (page === "openings") void openings.refresh();
      }
    } catch (e) {
      showNotice("error", "The settings could not be opened", [errorText(e)]);
    } finally {
      settingsOpen = false;
    }
  }

  // ---- openings found -----------------------------------------------------
  function openingsFound(found: OpeningDto[]): void {
    if (page === "openings") void openings.refresh();
    if (!found.length) return;
    const headline = found.length === 1 ? "A time just came free" : `${found.length} times just came free`;
    const show = found.length === 1 ? () => openSlot(found[0].slot_id) : () => showPage("openings");
    showNotice("neutral", headline, found.slice(0, 3).map((o) => openingLabel(o)), false, { label: "Show", run: show });
  }

  // ---- wiring ---------------------------------------------------------
  weekTab.addEventListener("click", () => showPage("week"));
  openingsTab.addEventListener("click", () => showPage("openings"));
  waitlistTab.addEventListener("click", () => showPage("waitlist"));
  integrationsTab.addEventListener("click", () => showPage("integrations"));
  staffBtn.addEventListener("click", () => void chooseStaff());
  settingsBtn.addEventListener("click", () => void openSettings());
  prevBtn.addEventListener("click", () => goToWeek(addDays(weekStart, -7)));
  nextBtn.addEventListener("click", () => goToWeek(addDays(weekStart, 7)));
  todayBtn.addEventListener("click", () => goToWeek(status.week_start));
  importBtn.addEventListener("click", () => void pickAndImport());
  locationSelect.addEventListener("change", () => {
    filters = { ...filters, location: locationSelect.value || null };
    locationSelect.title = filters.location ? `Location: ${filters.location}` : "Show slots at one location";
    saveFilters(filters);
    void load();
  });
  document.addEventListener("click", (e) => {
    if (providerMenu.open && !providerMenu.contains(e.target as Node)) providerMenu.open = false;
  });
  document.addEventListener("keydown", (e) => {
    if (document.querySelector("dialog[open]")) return;
    const t = e.target as HTMLElement;
    if (e.key === "Escape" && providerMenu.open) {
      providerMenu.open = false;
      providerMenu.querySelector("summary")?.focus();
      return;
    }
    if (t.closest?.("input, select, textarea, details") || page !== "week") return;
    const plain = !e.altKey && !e.ctrlKey && !e.metaKey && !e.shiftKey;
    if (e.key === "PageUp" || (e.altKey && e.key === "ArrowLeft") || (plain && e.key === "ArrowLeft")) {
      e.preventDefault();
      goToWeek(addDays(weekStart, -7));
    } else if (e.key === "PageDown" || (e.altKey && e.key === "ArrowRight") || (plain && e.key === "ArrowRight")) {
      e.preventDefault();
      goToWeek(addDays(weekStart, 7));
    } else if (plain && (e.key === "t" || e.key === "T")) {
      goToWeek(status.week_start);
    }
  });

  await backend.onStoreChanged(() => scheduleRefresh());
  await backend.onOpeningsFound?.((found) => openingsFound(found));
  await backend.onOpenSlot?.((open) => openSlot(open.slot_id));
  await backend.onDragDrop((payload) => {
    if (payload.type === "drop") {
      overlay.hidden = true;
      enqueue(() => handleDragDrop(payload, importDeps) ?? Promise.resolve());
    } else {
      handleDragDrop(payload, importDeps);
    }
  });
  // WebKitGTK keeps the grid's row heights from before a window resize (times
  // then spill into the next provider's row): lay the week out again.
  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (week && page === "week" && !document.querySelector("dialog[open]")) renderMain(week);
    }, 150);
  });
  setInterval(() => {
    if (page === "integrations") integrations.render();
    // Holds run out: "Held until 10:45 AM" goes back to "Free".
    if (page === "openings" && !document.querySelector("dialog[open]")) openings.render();
    if (!week) return;
    renderSources(week);
    // Times that have just passed dim (the pretended clock of MEDHARMONY_NOW does not move).
    if (!status.now_fixed && !document.querySelector("dialog[open]")) renderMain(week);
  }, 30_000);

  await load();
  await startStaff();
  try {
    const pending = await api.pendingOpenSlot();
    if (pending) openSlot(pending.slot_id);
  } catch {
    // Nothing was clicked before the window listened.
  }
}
