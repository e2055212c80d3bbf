// The import flow shared by drag-and-drop and the Import button, free of DOM
// and Tauri so it can be tested by feeding it simulated drop events.
//
// For each file: ask the shell what it is (check_file); when staff must say
// whose it is (every .ics, a .csv without a provider column) ask the UI for a
// provider (existing, or new with a zone); when a spreadsheet's dates can be
// read day first or month first, ask which; then import_file. A refused file
// changes nothing in the database; the outcome says why in plain words.

import type { Api } from "./api";
import { errorText } from "./api";
import type { FileCheck, ImportArgs, ImportReport, ProviderView } from "./bindings";

/** Tauri v2's drag-drop event payload (`getCurrentWebview().onDragDropEvent`). */
export type DragDropPayload =
  | { type: "enter"; paths: string[]; position?: unknown }
  | { type: "over"; position?: unknown }
  | { type: "drop"; paths: string[]; position?: unknown }
  | { type: "leave" };

/** Whose file it is: an existing provider's name, or a new provider with its zone. */
export interface ProviderChoice {
  provider: string;
  /** Zone for a provider that does not exist yet; null for an existing one. */
  newProviderTz: string | null;
}

/** How a spreadsheet writes its dates: day first (03/04 = 3 April) or month first (03/04 = March 4). */
export type DateOrder = "dmy" | "mdy";

/** What the flow needs from the screen. */
export interface ImportUi {
  /** Show or hide the "drop here" overlay. */
  setDropTarget(active: boolean): void;
  /** Ask whose file this is; null when staff cancel. */
  pickProvider(file: FileCheck): Promise<ProviderChoice | null>;
  /** Ask whether the file's dates are day first or month first (`file.date_question`); null when staff cancel. */
  pickDateOrder(file: FileCheck): Promise<DateOrder | null>;
  /** Files are being imported (true) or done (false). */
  setBusy(busy: boolean): void;
  /** Show the outcome of one drop or pick. */
  report(outcomes: FileOutcome[]): void;
}

/** What happened to one file. */
export type FileOutcome =
  | { file: string; status: "imported"; report: ImportReport }
  | { file: string; status: "refused"; error: string }
  | { file: string; status: "cancelled" };

/** Everything the flow calls. */
export interface ImportDeps {
  api: Pick<Api, "checkFile" | "importFile">;
  ui: ImportUi;
  /** Zone for providers a spreadsheet adds (the front desk's zone). */
  deskZone: () => string;
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/** Imports the files one after the other and reports all outcomes once. */
export async function importPaths(paths: string[], deps: ImportDeps): Promise<FileOutcome[]> {
  const outcomes: FileOutcome[] = [];
  if (paths.length === 0) return outcomes;
  deps.ui.setBusy(true);
  try {
    for (const path of paths) {
      outcomes.push(await importOne(path, deps));
    }
  } finally {
    deps.ui.setBusy(false);
  }
  deps.ui.report(outcomes);
  return outcomes;
}

async function importOne(path: string, deps: ImportDeps): Promise<FileOutcome> {
  let file = baseName(path);
  try {
    const check = await deps.api.checkFile(path);
    file = check.name || file;
    if (check.problem) return { file, status: "refused", error: check.problem };
    let provider: string | null = null;
    let newProviderTz: string | null = check.kind === "spreadsheet" ? deps.deskZone() : null;
    if (check.needs_provider) {
      const choice = await deps.ui.pickProvider(check);
      if (!choice) return { file, status: "cancelled" };
      provider = choice.provider;
      newProviderTz = choice.newProviderTz ?? newProviderTz;
    }
    let dateOrder: DateOrder | null = null;
    if (check.date_question) {
      dateOrder = await deps.ui.pickDateOrder(check);
      if (!dateOrder) return { file, status: "cancelled" };
    }
    const args: ImportArgs = { path, provider, new_provider_tz: newProviderTz };
    if (dateOrder) args.date_order = dateOrder;
    const report = await deps.api.importFile(args);
    return { file, status: "imported", report };
  } catch (e) {
    return { file, status: "refused", error: errorText(e) };
  }
}

/**
 * Handles one Tauri drag-drop event: shows the overlay on enter/over, hides
 * it on leave/drop, and imports the dropped files. Returns the import's
 * promise for a drop, null otherwise.
 */
export function handleDragDrop(payload: DragDropPayload, deps: ImportDeps): Promise<FileOutcome[]> | null {
  switch (payload.type) {
    case "enter":
    case "over":
      deps.ui.setDropTarget(true);
      return null;
    case "leave":
      deps.ui.setDropTarget(false);
      return null;
    case "drop":
      deps.ui.setDropTarget(false);
      return importPaths(payload.paths ?? [], deps);
  }
}

/** "rivera.ics: Line 1 …" → "Line 1 …" (the summary names the file already). */
function withoutFilePrefix(error: string, file: string): string {
  const rest = error.startsWith(`${file}: `) ? error.slice(file.length + 2) : error.startsWith(`${file} `) ? error.slice(file.length + 1) : error;
  return rest.charAt(0).toLowerCase() === rest.charAt(0) || /^[A-Z]{2}/.test(rest) ? rest : rest.charAt(0).toLowerCase() + rest.slice(1);
}

/** How the outcome of a drop is shown: a tone, a headline and one line per file. */
export interface ImportSummary {
  tone: "success" | "warning" | "error" | "neutral";
  headline: string;
  lines: string[];
}

/** Plain words for the outcomes of one drop or pick. */
export function summarize(outcomes: FileOutcome[]): ImportSummary {
  const imported = outcomes.filter((o) => o.status === "imported");
  const refused = outcomes.filter((o) => o.status === "refused");
  const lines = outcomes.map((o) => {
    switch (o.status) {
      case "imported":
        return o.report.summary;
      case "refused":
        return `${o.file} was not imported: ${withoutFilePrefix(o.error, o.file)}`;
      case "cancelled":
        return `${o.file}: import cancelled.`;
    }
  });
  const skipped = imported.some((o) => o.status === "imported" && o.report.skipped.length > 0);
  // Read but nothing of it in the import period: not a success.
  const empty = imported.filter((o) => o.status === "imported" && o.report.nothing_added);
  if (refused.length > 0) {
    lines.push("Nothing else was changed: the schedules already here are as they were.");
  }
  const files = (n: number) => (n === 1 ? "1 file" : `${n} files`);
  if (imported.length === 0 && refused.length === 0) {
    return { tone: "neutral", headline: "Nothing was imported", lines };
  }
  if (imported.length === 0) {
    return { tone: "error", headline: refused.length === 1 ? `${refused[0].file} could not be imported` : `${files(refused.length)} could not be imported`, lines };
  }
  if (empty.length === imported.length && refused.length === 0) {
    return { tone: "warning", headline: empty.length === 1 ? `Nothing from ${empty[0].file} was added` : `Nothing from ${files(empty.length)} was added`, lines };
  }
  const headline =
    imported.length === 1 && outcomes.length === 1 ? `${imported[0].file} imported` : `${files(imported.length)} of ${outcomes.length} imported`;
  return { tone: refused.length > 0 || skipped || empty.length > 0 ? "warning" : "success", headline, lines };
}

/** Lower-case words of a name without titles and punctuation ("Dr. Ana Rivera (Demo)" → ana, rivera). */
function words(s: string): string[] {
  return s
    .toLowerCase()
    .replace(/\.[a-z0-9]+$/, "")
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 1 && !["dr", "md", "do", "demo", "calendar", "cal", "ics", "csv", "schedule"].includes(w));
}

/**
 * The existing provider a file most likely belongs to (by the calendar's own
 * name, else the file name), or null when none matches well.
 */
export function suggestProvider(check: Pick<FileCheck, "name" | "calendar_name">, providers: Pick<ProviderView, "name">[]): string | null {
  for (const hint of [check.calendar_name, check.name]) {
    if (!hint) continue;
    const exact = providers.find((p) => p.name.toLowerCase() === hint.toLowerCase());
    if (exact) return exact.name;
    const hw = words(hint);
    if (hw.length === 0) continue;
    let best: { name: string; score: number } | null = null;
    for (const p of providers) {
      const pw = new Set(words(p.name));
      const score = hw.filter((w) => pw.has(w)).length;
      if (score > 0 && (!best || score > best.score)) best = { name: p.name, score };
    }
    if (best) return best.name;
  }
  return null;
}

/** A name for a new provider from the calendar's own name or the file name ("dr-rivera.ics" → "Dr Rivera"). */
export function newProviderName(check: Pick<FileCheck, "name" | "calendar_name">): string {
  if (check.calendar_name) return check.calendar_name;
  const stem = check.name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim();
  return stem.replace(/\b\w/g, (c) => c.toUpperCase());
}
