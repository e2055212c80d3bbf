// Modal dialogs: a slot's or busy block's details, and "whose file is this?".

import { errorText } from "../api";
import type { DateQuestion, FileCheck, IntegrationCard, ProviderView, SourceView } from "../bindings";
import type { DateOrder, ProviderChoice } from "../drop";
import { newProviderName, suggestProvider } from "../drop";
import { deskZone, formatZonedRange, longDate, zoneAbbrev, zoneCity, zoneOffsetMinutes } from "../time";
import { h } from "./dom";
import type { Selection } from "./week";
import { statusLabel } from "./week";

/** Opens `dialog` modally; resolves with its return value when it closes, then removes it. */
export function openModal(dialog: HTMLDialogElement, focusAfter: HTMLElement | null): Promise<string> {
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const value = dialog.returnValue;
      dialog.remove();
      focusAfter?.focus();
      resolve(value);
    });
    dialog.showModal();
  });
}

function row(label: string, ...value: (Node | string | null)[]): HTMLElement {
  return h("div", { class: "kv" }, h("dt", {}, label), h("dd", {}, ...value));
}

/** The provider-local date of an instant, "YYYY-MM-DD". */
function localYmd(iso: string, tz: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date(iso));
  const n = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${n("year")}-${n("month")}-${n("day")}`;
}

/** Where a slot came from, in words: a connected system says what it is. */
function sourceValue(name: string, sources: SourceView[]): (Node | string)[] {
  if (name === "working-hours") return ["Working hours minus the provider's calendar"];
  const src = sources.find((s) => s.name === name);
  if (src?.kind === "integration") return [h("strong", {}, name), h("span", { class: "muted" }, ` · synced from ${src.system ?? "a connected system"}`)];
  if (src?.kind === "csv") return [name, h("span", { class: "muted" }, " · schedule spreadsheet")];
  return [name];
}

/**
 * Shows the details of a slot or busy block; resolves with how it was closed ("close", or
 * "find" for Find waiting patients). `sources`: the week's, to say what a source is.
 * `findPatients`: offer Find waiting patients on a free time still ahead that has a slot id
 * (`slot-<n>`: synced or imported, not working hours).
 */
export function showDetails(sel: Selection, locale?: string, sources: SourceView[] = [], opts: { findPatients?: boolean } = {}): Promise<string> {
  const p = sel.provider;
  const start = sel.kind === "slot" ? sel.slot.start : sel.busy.start;
  const end = sel.kind === "slot" ? sel.slot.end : sel.busy.end;
  const allDay = sel.kind === "busy" && sel.busy.all_day;
  // Each end in its own zone: across a clock change "1:00 AM EST – 3:00 AM EDT" (one hour).
  const when = allDay ? "All day" : formatZonedRange(start, end, p.tz, locale);
  const desk = deskZone();
  const sameClock = zoneOffsetMinutes(start, desk) === zoneOffsetMinutes(start, p.tz) && zoneOffsetMinutes(end, desk) === zoneOffsetMinutes(end, p.tz);
  const past = sel.kind === "slot" && !!sel.past;
  const title =
    sel.kind === "slot"
      ? sel.slot.status === "free"
        ? past
          ? "Free slot (already passed)"
          : "Free slot"
        : `${statusLabel(sel.slot.status)} slot`
      : `Busy: ${sel.busy.summary?.trim() || "busy time"}`;
  const rows: HTMLElement[] = [
    row("Provider", p.name),
    row("Date", longDate(localYmd(start, p.tz), locale)),
    row("Time", h("strong", {}, when), h("span", { class: "muted" }, ` (${zoneCity(p.tz)} time)`)),
  ];
  if (!sameClock && !allDay) {
    rows.push(row("At the front desk", formatZonedRange(start, end, desk, locale)));
  }
  if (past) rows.push(row("Note", "This time has already passed, so it can no longer be booked."));
  if (sel.kind === "slot") {
    rows.push(row("Status", `${statusLabel(sel.slot.status)} (${sel.slot.status})`));
    rows.push(row("Source", ...sourceValue(sel.slot.source, sources)));
    if (sel.slot.location) rows.push(row("Location", sel.slot.location));
    rows.push(row("Slot id", h("code", {}, sel.slot.id)));
  } else {
    rows.push(row("Status", statusLabel(sel.busy.status)));
    rows.push(row("Source", `${sel.busy.source} (calendar)`));
    rows.push(row("Event id", h("code", {}, sel.busy.uid)));
  }
  const canFind = !!opts.findPatients && sel.kind === "slot" && sel.slot.status === "free" && !past && sel.slot.id.startsWith("slot-");
  const dialog = h(
    "dialog",
    { class: "details", "aria-labelledby": "details-title" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "details-title" }, title),
      h("dl", {}, rows),
      h(
        "div",
        { class: "actions" },
        canFind ? h("button", { class: "btn", value: "find", id: "find-patients" }, "Find waiting patients") : null,
        h("button", { class: "btn primary", value: "close", autofocus: true }, "Close"),
      ),
    ),
  );
  return openModal(dialog, document.activeElement as HTMLElement | null);
}

/** Short form of a reading: "3 April 2026" → "3 April", "March 4, 2026" → "March 4". */
function withoutYear(reading: string): string {
  return reading.replace(/,?\s+\d{4}$/, "");
}

/**
 * Asks how a spreadsheet's dates are written when they can be read two ways
 * ("Does 03/04/2026 mean 3 April or March 4?"); null when staff cancel.
 */
export function askDateOrder(file: FileCheck, q: DateQuestion): Promise<DateOrder | null> {
  const dayFirst = withoutYear(q.day_first);
  const monthFirst = withoutYear(q.month_first);
  const dialog = h(
    "dialog",
    { class: "date-order", "aria-labelledby": "date-order-title", "aria-describedby": "date-order-help" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "date-order-title" }, `Does ${q.value} mean ${dayFirst} or ${monthFirst}?`),
      h(
        "p",
        { id: "date-order-help" },
        `The dates in “${file.name}” can be read two ways: ${q.value} (line ${q.line}) could be ${q.day_first} or ${q.month_first}. `,
        "Choose how this spreadsheet writes its dates; every date in the file is read the same way.",
      ),
      h(
        "div",
        { class: "actions spread" },
        h("button", { class: "btn", value: "cancel", formnovalidate: true }, "Cancel"),
        h("span", { class: "grow" }),
        h("button", { class: "btn primary", value: "dmy", id: "date-order-dmy" }, `Day first (${dayFirst})`),
        h("button", { class: "btn primary", value: "mdy", id: "date-order-mdy" }, `Month first (${monthFirst})`),
      ),
    ),
  );
  const result = openModal(dialog, document.activeElement as HTMLElement | null).then((v) => (v === "dmy" || v === "mdy" ? v : null));
  (dialog.querySelector("#date-order-dmy") as HTMLElement | null)?.focus();
  return result;
}

const COMMON_ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"];

function zoneLabel(tz: string): string {
  return `${zoneCity(tz)} (${zoneAbbrev(new Date().toISOString(), tz)}) · ${tz}`;
}

/** Asks whose calendar (or single-provider spreadsheet) `file` is. */
export function pickProvider(file: FileCheck, providers: ProviderView[], zones: string[]): Promise<ProviderChoice | null> {
  const suggested = suggestProvider(file, providers);
  const desk = deskZone();
  // The calendar's own zone is the likeliest; else the front desk's.
  const defaultZone = [file.calendar_zone, desk, "America/New_York"].find((z): z is string => !!z && zones.includes(z)) ?? "UTC";
  const nameInput = h("input", { type: "text", name: "new-name", id: "new-name", value: newProviderName(file), autocomplete: "off", "aria-label": "New provider's name" });
  const common = COMMON_ZONES.filter((z) => zones.includes(z));
  const zoneSelect = h(
    "select",
    { name: "new-tz", id: "new-tz", "aria-label": "New provider's time zone" },
    h("optgroup", { label: "Common" }, common.map((z) => h("option", { value: z, selected: z === defaultZone, title: zoneLabel(z) }, zoneLabel(z)))),
    h("optgroup", { label: "All time zones" }, zones.filter((z) => !common.includes(z)).map((z) => h("option", { value: z, selected: z === defaultZone && !common.includes(z), title: z }, z))),
  );
  const choices = providers.map((p) =>
    h(
      "label",
      { class: "choice" },
      h("input", { type: "radio", name: "who", value: String(p.id), checked: p.name === suggested }),
      h("span", { class: "choice-name" }, p.name),
      h("span", { class: "muted" }, ` · ${zoneCity(p.tz)} (${p.tz_abbrev})`),
    ),
  );
  const newRadio = h("input", { type: "radio", name: "who", value: "new", checked: !suggested });
  const error = h("p", { class: "form-error", role: "alert" });
  const what = file.kind === "calendar" ? "calendar" : "schedule";
  const dialog = h(
    "dialog",
    { class: "picker", "aria-labelledby": "picker-title" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "picker-title" }, `Whose ${what} is “${file.name}”?`),
      h(
        "p",
        { class: "muted" },
        file.kind === "calendar"
          ? "Its busy times will be taken out of this provider's working hours."
          : "This spreadsheet has no provider column: every slot in it will belong to this provider.",
      ),
      h(
        "fieldset",
        {},
        h("legend", { class: "sr-only" }, "Provider"),
        choices,
        h(
          "label",
          { class: "choice new" },
          newRadio,
          h("span", { class: "choice-name" }, "A new provider"),
        ),
        h("div", { class: "new-fields" }, h("label", { for: "new-name" }, "Name"), nameInput, h("label", { for: "new-tz" }, "Time zone"), zoneSelect),
      ),
      error,
      h(
        "div",
        { class: "actions" },
        h("button", { class: "btn", value: "cancel", formnovalidate: true }, "Cancel"),
        h("button", { class: "btn primary", value: "import", id: "picker-import" }, "Import"),
      ),
    ),
  );
  const form = dialog.querySelector("form") as HTMLFormElement;
  const focusNew = () => {
    newRadio.checked = true;
  };
  nameInput.addEventListener("focus", focusNew);
  // Enter in the name field means Import (the form's first button is Cancel).
  nameInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      (dialog.querySelector("#picker-import") as HTMLButtonElement | null)?.click();
    }
  });
  zoneSelect.addEventListener("focus", focusNew);
  form.addEventListener("submit", (ev) => {
    const submitter = (ev as SubmitEvent).submitter as HTMLButtonElement | null;
    if (submitter?.value !== "import") return;
    const who = (form.querySelector('input[name="who"]:checked') as HTMLInputElement | null)?.value;
    if (!who || (who === "new" && !nameInput.value.trim())) {
      ev.preventDefault();
      error.textContent = who === "new" ? "Type the new provider's name." : "Choose a provider.";
      return;
    }
  });
  const focusAfter = document.activeElement as HTMLElement | null;
  const result = openModal(dialog, focusAfter).then((value): ProviderChoice | null => {
    if (value !== "import") return null;
    const who = (form.querySelector('input[name="who"]:checked') as HTMLInputElement | null)?.value;
    if (who === "new") return { provider: nameInput.value.trim(), newProviderTz: zoneSelect.value };
    const p = providers.find((x) => String(x.id) === who);
    return p ? { provider: p.name, newProviderTz: null } : null;
  });
  (dialog.querySelector('input[name="who"]:checked') as HTMLElement | null)?.focus();
  return result;
}

/** Asks to confirm removing the demo practice. */
export function confirmRemoveDemo(): Promise<boolean> {
  const dialog = h(
    "dialog",
    { class: "confirm", "aria-labelledby": "confirm-title" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "confirm-title" }, "Remove the demo practice?"),
      h("p", {}, "The three demo providers and their made-up appointments will be removed. Your own providers and files are not touched."),
      h("div", { class: "actions" }, h("button", { class: "btn", value: "cancel", autofocus: true }, "Keep it"), h("button", { class: "btn danger", value: "remove" }, "Remove demo")),
    ),
  );
  return openModal(dialog, document.activeElement as HTMLElement | null).then((v) => v === "remove");
}

/** Asks to confirm disconnecting a system. */
export function confirmDisconnect(card: IntegrationCard): Promise<boolean> {
  const dialog = h(
    "dialog",
    { class: "confirm", "aria-labelledby": "disconnect-title" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "disconnect-title" }, `Disconnect ${card.name}?`),
      h("p", {}, `Its open times leave the week view, and its sign-in details are removed from this computer's keychain. Nothing changes in ${card.name} itself, and appointments already booked there stay booked.`),
      h("p", { class: "muted" }, "You can connect it again later; you will need its sign-in details again."),
      h(
        "div",
        { class: "actions" },
        h("button", { class: "btn", value: "cancel", autofocus: true }, "Keep it"),
        h("button", { class: "btn danger", value: "disconnect", id: "confirm-disconnect" }, "Disconnect"),
      ),
    ),
  );
  return openModal(dialog, document.activeElement as HTMLElement | null).then((v) => v === "disconnect");
}

/**
 * Opens a form dialog whose submit saves through the shell: `read` gives the value to save or
 * the words of what to correct (`{ error }`); while `save` runs the submit button says `busyText` and the
 * dialog can't be closed; a failure shows its words in `error` and keeps what was typed.
 * Cancel and Escape close it. `submit` runs the same as the submit button (e.g. from another
 * button); `result` resolves with what `save` gave, or null when closed without saving.
 */
export function runFormDialog<T, R>(opts: {
  dialog: HTMLDialogElement;
  form: HTMLFormElement;
  cancelBtn: HTMLButtonElement;
  submitBtn: HTMLButtonElement;
  error: HTMLElement;
  busyText: string;
  read(): { value: T } | { error: string };
  save(value: T): Promise<R>;
  /** Focused when the dialog opens. */
  focus: HTMLElement;
  /** Other buttons disabled while saving. */
  alsoDisable?: HTMLButtonElement[];
}): { result: Promise<R | null>; submit: () => Promise<void> } {
  let saved: R | null = null;
  let busy = false;
  const idleText = opts.submitBtn.textContent ?? "";
  const buttons = [opts.submitBtn, ...(opts.alsoDisable ?? [])];
  async function submit(): Promise<void> {
    if (busy) return;
    const read = opts.read();
    if ("error" in read) {
      opts.error.textContent = read.error;
      return;
    }
    busy = true;
    opts.error.textContent = "";
    for (const b of buttons) b.disabled = true;
    opts.submitBtn.textContent = opts.busyText;
    try {
      saved = await opts.save(read.value);
      opts.dialog.close("saved");
    } catch (e) {
      opts.error.textContent = errorText(e);
    } finally {
      busy = false;
      for (const b of buttons) b.disabled = false;
      opts.submitBtn.textContent = idleText;
    }
  }
  opts.form.addEventListener("submit", (e) => {
    e.preventDefault();
    void submit();
  });
  opts.cancelBtn.addEventListener("click", () => {
    if (!busy) opts.dialog.close("cancel");
  });
  opts.dialog.addEventListener("cancel", (e) => {
    if (busy) e.preventDefault();
  });
  const result = openModal(opts.dialog, document.activeElement as HTMLElement | null).then(() => saved);
  opts.focus.focus();
  return { result, submit };
}
