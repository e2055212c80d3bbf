// The Waitlist page: a table of the waiting patients with Edit, Find times and Remove, and
// the dialogs it opens (Remove's confirmation, a patient's best free times).
//
// Stable hooks for tests: #waitlist-add, #waitlist-import, #waitlist-table,
// tr[data-waitlist-id="<id>"] with buttons [data-action="edit|times|remove"], #waitlist-empty;
// dialogs: #confirm-remove-patient, dialog.patient-options li[data-option-slot] with
// button[data-action="offer-option"], #options-error.

import { errorText } from "../api";
import type { PatientOptionDto, PatientOptions, WaitlistEntryDto } from "../bindings";
import { preferencesSummary, priorityLabel, wantsSummary, whenText } from "../fill";
import { openModal } from "./dialogs";
import { h } from "./dom";

/** What the page's buttons do. */
export interface WaitlistOptions {
  onAdd(): void;
  /** Absent when this computer can't pick files. */
  onImport?: () => void;
  /** True while a spreadsheet is being imported. */
  importing: boolean;
  onEdit(e: WaitlistEntryDto): void;
  onFindTimes(e: WaitlistEntryDto): void;
  onRemove(e: WaitlistEntryDto): void;
}

/** The page for `entries` (in the shell's order). */
export function renderWaitlist(entries: WaitlistEntryDto[], opts: WaitlistOptions): HTMLElement {
  const head = h(
    "div",
    { class: "page-head waitlist-head" },
    h("div", {}, h("h1", {}, "Waitlist"), h("p", { class: "lead" }, "Patients who want an earlier time. When a time comes free, the best of them are suggested on the Openings page.")),
    h(
      "div",
      { class: "page-actions" },
      opts.onImport
        ? h("button", { type: "button", class: "btn", id: "waitlist-import", disabled: opts.importing, onclick: () => opts.onImport?.() }, opts.importing ? "Importing…" : "Import CSV…")
        : null,
      h("button", { type: "button", class: "btn primary", id: "waitlist-add", onclick: () => opts.onAdd() }, "Add patient"),
    ),
  );
  if (!entries.length) {
    return h(
      "div",
      { class: "waitlist-page" },
      head,
      h(
        "div",
        { class: "none-yet", id: "waitlist-empty" },
        h("p", {}, h("strong", {}, "Nobody is waiting yet. "), "Add patients who want an earlier time one by one, or import them from a spreadsheet (.csv with at least a name and a tz column)."),
      ),
    );
  }
  const rows = entries.map((e) =>
    h(
      "tr",
      { "data-waitlist-id": e.id ?? "" },
      h("th", { scope: "row" }, h("span", { class: "patient-name" }, e.display_name), e.phone ? h("span", { class: "muted phone" }, e.phone) : null),
      h("td", {}, h("span", { class: ["priority", `priority-${e.priority}`] }, priorityLabel(e.priority))),
      h("td", {}, wantsSummary(e)),
      h("td", {}, preferencesSummary(e)),
      h("td", { class: "nowrap" }, e.added_on ?? ""),
      h(
        "td",
        { class: "row-actions" },
        h("button", { type: "button", class: "btn", "data-action": "times", onclick: () => opts.onFindTimes(e), "aria-label": `Find times for ${e.display_name}` }, "Find times"),
        h("button", { type: "button", class: "btn subtle", "data-action": "edit", onclick: () => opts.onEdit(e), "aria-label": `Edit ${e.display_name}` }, "Edit"),
        h("button", { type: "button", class: "btn subtle danger-text", "data-action": "remove", onclick: () => opts.onRemove(e), "aria-label": `Remove ${e.display_name}` }, "Remove"),
      ),
    ),
  );
  return h(
    "div",
    { class: "waitlist-page" },
    head,
    h(
      "table",
      { class: "data-table waitlist-table", id: "waitlist-table" },
      h("caption", { class: "sr-only" }, "Waiting patients"),
      h(
        "thead",
        {},
        h("tr", {}, ["Patient", "Priority", "Wants", "Can come", "Added", ""].map((t) => h("th", { scope: "col" }, t || h("span", { class: "sr-only" }, "Actions")))),
      ),
      h("tbody", {}, rows),
    ),
  );
}

/** Asks to confirm taking `entry` off the waitlist. */
export function confirmRemovePatient(entry: WaitlistEntryDto): Promise<boolean> {
  const dialog = h(
    "dialog",
    { class: "confirm", "aria-labelledby": "remove-patient-title" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "remove-patient-title" }, `Take ${entry.display_name} off the waitlist?`),
      h("p", {}, "They will no longer be suggested for times that come free. Appointments already booked are not touched."),
      h(
        "div",
        { class: "actions" },
        h("button", { class: "btn", value: "cancel", autofocus: true }, "Keep"),
        h("button", { class: "btn danger", value: "remove", id: "confirm-remove-patient" }, "Remove"),
      ),
    ),
  );
  return openModal(dialog, document.activeElement as HTMLElement | null).then((v) => v === "remove");
}

/**
 * Shows a patient's best free times. `providerZone` gives a provider's zone by name (times are
 * shown in it; the patient's own clock time when unknown). `offer` holds a time for the patient:
 * on success the dialog closes and resolves with the slot; a failure shows its words.
 */
export function showPatientOptions(
  entry: WaitlistEntryDto,
  found: PatientOptions,
  providerZone: (provider: string) => string | null,
  offer: (option: PatientOptionDto) => Promise<boolean>,
): Promise<string | null> {
  let offered: string | null = null;
  let busy = false;
  const error = h("p", { class: "form-error", id: "options-error", role: "alert" });
  const when = (o: PatientOptionDto) => {
    const tz = providerZone(o.provider);
    return tz ? whenText(o.start, tz) : `${o.patient_local_start} (the patient's time)`;
  };
  const closeBtn = h("button", { class: "btn", value: "close" }, "Close");
  const buttons: HTMLButtonElement[] = [closeBtn];
  const items = found.options.map((o) => {
    const btn = h("button", { type: "button", class: "btn primary", "data-action": "offer-option", "aria-label": `Offer ${o.provider}, ${when(o)}` }, "Offer");
    buttons.push(btn);
    btn.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      error.textContent = "";
      for (const b of buttons) b.disabled = true;
      btn.textContent = "Holding…";
      try {
        if (await offer(o)) {
          offered = o.slot_id;
          dialog.close("offered");
        }
      } catch (e) {
        error.textContent = errorText(e);
      } finally {
        busy = false;
        for (const b of buttons) b.disabled = false;
        btn.textContent = "Offer";
      }
    });
    return h(
      "li",
      { class: "option", "data-option-slot": o.slot_id },
      h("div", { class: "option-text" }, h("strong", {}, `${o.provider} · ${when(o)}`), h("span", { class: "muted" }, o.reason), o.karma_bonus > 0 ? h("span", { class: "karma" }, `+${o.karma_bonus} karma`) : null),
      btn,
    );
  });
  const more = found.suitable > found.options.length ? h("p", { class: "muted" }, `${found.suitable} free times suit ${entry.display_name} in the next 30 days; these are the earliest.`) : null;
  const dialog = h(
    "dialog",
    { class: "patient-options", "aria-labelledby": "options-title" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "options-title" }, `Free times for ${entry.display_name}`),
      items.length ? h("ol", { class: "options" }, items) : h("p", { id: "options-none" }, `No free time in the next 30 days suits ${entry.display_name}.`),
      more,
      error,
      h("div", { class: "actions" }, closeBtn),
    ),
  );
  dialog.addEventListener("cancel", (e) => {
    if (busy) e.preventDefault();
  });
  const result = openModal(dialog, document.activeElement as HTMLElement | null).then(() => offered);
  (buttons[1] ?? closeBtn).focus();
  return result;
}
