// The app controller: loads the week, renders it, follows live changes,
// handles filters, keyboard, the demo banner and imports.

import type { Api, ListenStoreChanged } from "./api";
import { errorText } from "./api";
import type { AppStatus, FileCheck, ProviderView, Week } from "./bindings";
import type { DragDropPayload, FileOutcome, ImportDeps } from "./drop";
import { handleDragDrop, importPaths, summarize } from "./drop";
import { addDays, deskZone, relativeTime, weekRangeLabel } from "./time";
import { confirmRemoveDemo, pickProvider, showDetails } from "./view/dialogs";
import { h, replaceChildren } from "./view/dom";
import { nextFocus, renderWeek } from "./view/week";

/** What the app needs from the desktop shell (Tauri in the product, fakes in tests). */
export interface Backend {
  api: Api;
  onStoreChanged: ListenStoreChanged;
  onDragDrop(handler: (payload: DragDropPayload) => void): Promise<unknown>;
  /** The file picker; resolves with the chosen paths (empty when cancelled). */
  pickFiles(): Promise<string[]>;
  /** Opens the folder holding the log files, if the platform can. */
  showLogs?(): Promise<void>;
}

interface Filters {
  providerIds: number[] | null;
  location: string | null;
}

const FILTERS_KEY = "medharmony.filters";
const REFRESH_DEBOUNCE_MS = 150;

function loadFilters(): Filters {
  try {
    const raw = JSON.parse(localStorage.getItem(FILTERS_KEY) ?? "null") as Partial<Filters> | null;
    return {
      providerIds: Array.isArray(raw?.providerIds) ? raw.providerIds.filter((n): n is number => typeof n === "number") : null,
      location: typeof raw?.location === "string" ? raw.location : null,
    };
  } catch {
    return { providerIds: null, location: null };
  }
}

function saveFilters(f: Filters): void {
  try {
    localStorage.setItem(FILTERS_KEY, JSON.stringify(f));
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

/** Full-screen message when the database cannot be opened. */
export function renderProblem(root: HTMLElement, status: AppStatus, backend?: Pick<Backend, "showLogs">): void {
  replaceChildren(
    root,
    h(
      "main",
      { class: "fatal", role: "alert" },
      h("img", { src: "/logo.png", alt: "", class: "fatal-logo" }),
      h("h1", {}, "MedHarmony Desk can't open its schedule database"),
      h("p", { class: "fatal-reason" }, sentence(status.problem ?? "The database could not be opened.")),
      h(
        "div",
        { class: "fatal-help" },
        h("h2", {}, "What to do"),
        h(
          "ol",
          {},
          h("li", {}, "Nothing was changed or lost: the schedules stay safely encrypted on this computer."),
          h("li", {}, "Ask the person who set up MedHarmony Desk on this computer to check the database key (the computer's keychain, or the MEDHARMONY_DB_KEY setting)."),
          h("li", {}, "Then close and open MedHarmony Desk again."),
        ),
        h("p", { class: "muted" }, "Database file: ", h("code", {}, status.db_path || "(none)")),
      ),
      backend?.showLogs ? h("button", { class: "btn", type: "button", onclick: () => void backend.showLogs?.() }, "Show log files") : null,
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
    status = { ready: false, problem: errorText(e), db_path: "", now: new Date().toISOString(), now_fixed: false, today: "", week_start: "", version: "" };
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
  let lastLoadedAt: number | null = null;

  // ---- skeleton -------------------------------------------------------
  const rangeLabel = h("h1", { class: "range", id: "week-range", "aria-live": "polite" });
  const prevBtn = h("button", { class: "btn icon", type: "button", id: "prev-week", "aria-label": "Previous week", title: "Previous week (←)" }, "‹");
  const nextBtn = h("button", { class: "btn icon", type: "button", id: "next-week", "aria-label": "Next week", title: "Next week (→)" }, "›");
  const todayBtn = h("button", { class: "btn", type: "button", id: "this-week", title: "Back to this week (T)" }, "Today");
  const providerMenu = h("details", { class: "menu", id: "provider-filter" });
  const locationSelect = h("select", { id: "location-filter", "aria-label": "Location" });
  const importBtn = h("button", { class: "btn primary", type: "button", id: "import-button" }, "Import…");
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
        h("div", { class: "brand" }, h("img", { src: "/logo.png", alt: "", class: "logo" }), h("span", {}, "MedHarmony Desk")),
        h("nav", { class: "weeknav", "aria-label": "Week" }, prevBtn, todayBtn, nextBtn, rangeLabel),
        h("div", { class: "filters" }, providerMenu, locationSelect),
        importBtn,
      ),
      demoBanner,
      notice,
      main,
      footer,
    ),
    overlay,
  );

  // ---- notices --------------------------------------------------------
  function showNotice(tone: string, headline: string, lines: string[] = [], sticky = true): void {
    const dismiss = h("button", { class: "btn subtle", type: "button", "aria-label": "Dismiss" }, "✕");
    const shown = lines.slice(0, 6);
    const el = h(
      "div",
      { class: ["notice", `tone-${tone}`], role: tone === "error" ? "alert" : "status", "data-tone": tone },
      h("div", { class: "notice-body" }, h("strong", { class: "notice-headline" }, headline), shown.length ? h("ul", {}, shown.map((l) => h("li", {}, l))) : null, lines.length > shown.length ? h("div", { class: "muted" }, `…and ${lines.length - shown.length} more`) : null),
      dismiss,
    );
    dismiss.addEventListener("click", () => el.remove());
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
      const w = await api.week({ start: weekStart, provider_ids: filters.providerIds, location: filters.location });
      if (seq !== requestSeq) return;
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
    refreshTimer = setTimeout(() => void load(), REFRESH_DEBOUNCE_MS);
  }

  function goToWeek(start: string): void {
    weekStart = start;
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
    demoBanner.hidden = !w.has_demo;
    if (!w.has_demo) return;
    replaceChildren(
      demoBanner,
      h("span", { class: "badge-demo large" }, "Demo"),
      h("div", { class: "banner-text" }, h("strong", {}, "You are looking at a demo practice."), " The three providers and their appointments are made up. Drop your own calendars or spreadsheets on this window, then remove the demo."),
      h("button", { class: "btn", type: "button", id: "remove-demo", onclick: () => void removeDemo() }, "Remove demo"),
    );
  }

  function renderFilters(w: Week): void {
    const all = w.all_providers;
    const selected = new Set(filters.providerIds ?? all.map((p) => p.id));
    const count = all.filter((p) => selected.has(p.id)).length;
    const label = filters.providerIds === null || count === all.length ? `All providers (${all.length})` : `${count} of ${all.length} providers`;
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
            "label",
            { class: "menu-item" },
            h("input", {
              type: "checkbox",
              value: String(p.id),
              checked: selected.has(p.id),
              onchange: (e: Event) => {
                const box = e.target as HTMLInputElement;
                const next = new Set(filters.providerIds ?? all.map((x) => x.id));
                if (box.checked) next.add(p.id);
                else next.delete(p.id);
                filters = { ...filters, providerIds: next.size === all.length ? null : all.map((x) => x.id).filter((id) => next.has(id)) };
                saveFilters(filters);
                void load();
              },
            }),
            h("span", {}, p.name),
          ),
        ),
        all.length > 0
          ? h(
              "button",
              {
                class: "btn subtle",
                type: "button",
                onclick: () => {
                  filters = { ...filters, providerIds: null };
                  saveFilters(filters);
                  void load();
                },
              },
              "Show all",
            )
          : null,
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
      locs.map((l) => h("option", { value: l.name, selected: l.name === filters.location }, l.name)),
    );
    locationSelect.disabled = locs.length === 0;
    locationSelect.title = locs.length ? "Show slots at one location" : "Spreadsheets with a location column add locations";
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
    const calendarProviders = new Set(w.sources.filter((s) => s.kind === "ics" && s.provider).map((s) => s.provider as string));
    const grid = renderWeek(w, { onOpen: (sel) => void showDetails(sel), calendarProviders });
    grid.addEventListener("keydown", (e) => {
      const t = e.target as HTMLElement;
      if (!t.matches("button.chip, button.busy") || e.altKey || e.ctrlKey || e.metaKey) return;
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
        { class: "zone-hint" },
        "Each provider's times are in their own time zone, shown beside their name. Click a time for details.",
        h("span", { class: "keys" }, "Keys: ", h("kbd", {}, "←"), " ", h("kbd", {}, "→"), " week · ", h("kbd", {}, "Tab"), " / arrows move between times · ", h("kbd", {}, "Enter"), " details"),
      ),
      grid,
    );
    const refocus = focusedSlot
      ? grid.querySelector<HTMLElement>(`[data-slot-id="${CSS.escape(focusedSlot)}"]`)
      : focusedBusy
        ? grid.querySelector<HTMLElement>(`[data-busy-id="${CSS.escape(focusedBusy)}"]`)
        : null;
    refocus?.focus();
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
        h("button", { class: "btn primary large", type: "button", id: "empty-import", onclick: () => void pickAndImport() }, "Import a file…"),
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
        s.provider ? h("span", { class: "muted" }, ` (${s.demo ? s.provider.replace(/\s*\(Demo\)$/, "") : s.provider})`) : h("span", { class: "muted" }, " (spreadsheet)"),
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
    filters = { providerIds: null, location: null };
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

  const importDeps: ImportDeps = {
    api,
    deskZone,
    ui: {
      setDropTarget: (active) => {
        overlay.hidden = !active || importing;
      },
      pickProvider: chooseProvider,
      setBusy: (busy) => {
        importing = busy;
        importBtn.disabled = busy;
        importBtn.textContent = busy ? "Importing…" : "Import…";
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
    queue = queue.then(job, job);
  }

  async function pickAndImport(): Promise<void> {
    let paths: string[] = [];
    try {
      paths = await backend.pickFiles();
    } catch (e) {
      showNotice("error", "The file picker could not be opened", [errorText(e)]);
      return;
    }
    if (paths.length) enqueue(() => importPaths(paths, importDeps));
  }

  // ---- wiring ---------------------------------------------------------
  prevBtn.addEventListener("click", () => goToWeek(addDays(weekStart, -7)));
  nextBtn.addEventListener("click", () => goToWeek(addDays(weekStart, 7)));
  todayBtn.addEventListener("click", () => goToWeek(status.week_start));
  importBtn.addEventListener("click", () => void pickAndImport());
  locationSelect.addEventListener("change", () => {
    filters = { ...filters, location: locationSelect.value || null };
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
    if (t.closest?.("input, select, textarea, details")) return;
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
  await backend.onDragDrop((payload) => {
    if (payload.type === "drop") {
      overlay.hidden = true;
      enqueue(() => handleDragDrop(payload, importDeps) ?? Promise.resolve());
    } else {
      handleDragDrop(payload, importDeps);
    }
  });
  setInterval(() => {
    if (week) renderSources(week);
  }, 30_000);

  await load();
}
