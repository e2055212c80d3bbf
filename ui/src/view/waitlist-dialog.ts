// The Add / Edit dialog of a waiting patient: every field of a waitlist entry. Lists
// (preferred times, dates the patient can't come, locations, ids in connected systems) are
// rows with Add and Remove. Errors from saving (plain words naming the field) show in the
// dialog and nothing typed is lost.
//
// Stable hooks for tests: dialog.waitlist-entry, #wl-name, #wl-phone, #wl-email, #wl-tz,
// #wl-priority, #wl-service, #wl-provider, #wl-duration, #wl-notice, #wl-latest,
// #wl-weekdays input[value="Mon".."Sun"], rows in #wl-times / #wl-dates / #wl-locations / #wl-ids
// (inputs [data-part="from|to|date|location|integration|patient-id"]), button[data-add="times|dates|locations|ids"],
// button[data-remove-row], #wl-error, #wl-save, #wl-cancel.

import type { WaitlistEntryDto } from "../bindings";
import { PRIORITIES, WEEKDAYS, priorityLabel, validWindow } from "../fill";
import { zoneCity } from "../time";
import { field, textInput } from "./connect";
import { runFormDialog } from "./dialogs";
import { h } from "./dom";

/** What the dialog needs. */
export interface WaitlistDialogDeps {
  /** `save_waitlist_entry`: resolves with the saved entry, or fails with plain words. */
  save(entry: WaitlistEntryDto): Promise<WaitlistEntryDto>;
  /** IANA zones for the patient's zone. */
  zones: string[];
  /** Names offered in the provider field. */
  providers: string[];
  /** Names offered in the location rows. */
  locations: string[];
  /** Connected systems' names offered in the id rows. */
  integrations: string[];
}

/** One row's value, or why it can't be read; null for a row left empty. */
type RowValue<T> = { value: T } | { error: string } | null;

/** A list of rows with Add and Remove; `read` gives the values of the filled rows. */
interface RowList<T> {
  el: HTMLElement;
  read(): { values: T[] } | { error: string };
}

function rowList<T>(id: string, label: string, help: string, addLabel: string, values: T[], makeRow: (v: T | null) => { cells: HTMLElement[]; read: () => RowValue<T> }): RowList<T> {
  const rows = h("div", { class: "row-items" });
  const readers = new Map<HTMLElement, () => RowValue<T>>();
  const add = (v: T | null) => {
    const made = makeRow(v);
    const row = h("div", { class: "row-item" }, made.cells);
    const remove = h("button", { type: "button", class: "btn subtle", "data-remove-row": "", "aria-label": `Remove this ${label.toLowerCase()} row` }, "Remove");
    remove.addEventListener("click", () => {
      readers.delete(row);
      row.remove();
    });
    row.append(remove);
    readers.set(row, made.read);
    rows.append(row);
    return row;
  };
  for (const v of values) add(v);
  const addBtn = h("button", { type: "button", class: "btn subtle add-row", "data-add": id.replace(/^wl-/, "") }, `+ ${addLabel}`);
  addBtn.addEventListener("click", () => add(null).querySelector<HTMLElement>("input, select")?.focus());
  return {
    el: h("div", { class: "field rows-field", id, role: "group", "aria-labelledby": `${id}-label` }, h("span", { class: "label", id: `${id}-label` }, label), h("p", { class: "help" }, help), rows, addBtn),
    read() {
      const out: T[] = [];
      for (const row of rows.children) {
        const r = readers.get(row as HTMLElement)?.();
        if (!r) continue;
        if ("error" in r) return { error: r.error };
        out.push(r.value);
      }
      return { values: out };
    },
  };
}

const optional = (s: string) => (s.trim() ? s.trim() : null);

/** A `<datalist>` of `names` with id `id` (suggestions for a text field). */
function datalist(id: string, names: string[]): HTMLElement {
  return h("datalist", { id }, names.map((n) => h("option", { value: n })));
}

/**
 * Opens the dialog on `entry` (null adds a patient, in zone `deskZone`). Resolves with the saved
 * entry, or null when closed without saving.
 */
export function openWaitlistDialog(entry: WaitlistEntryDto, deps: WaitlistDialogDeps): Promise<WaitlistEntryDto | null> {
  const adding = entry.id === null;

  const nameInput = textInput("wl-name", "text", { value: entry.display_name, required: "" });
  const phoneInput = textInput("wl-phone", "text", { value: entry.phone ?? "", type: "tel" });
  const emailInput = textInput("wl-email", "text", { value: entry.email ?? "", type: "email" });
  const zones = deps.zones.includes(entry.tz) ? deps.zones : [entry.tz, ...deps.zones];
  const tzSelect = h(
    "select",
    { id: "wl-tz", "aria-describedby": "wl-tz-help" },
    zones.map((z) => h("option", { value: z, selected: z === entry.tz }, z === "UTC" ? "UTC" : `${zoneCity(z)} · ${z}`)),
  );
  const prioritySelect = h(
    "select",
    { id: "wl-priority", "aria-describedby": "wl-priority-help" },
    PRIORITIES.map((p) => h("option", { value: p, selected: p === entry.priority }, priorityLabel(p))),
  );
  const serviceInput = textInput("wl-service", "text", { value: entry.service_type ?? "", placeholder: "Any" });
  const providerInput = textInput("wl-provider", "text", { value: entry.provider ?? "", placeholder: "Any", list: "wl-provider-names" });
  const durationInput = textInput("wl-duration", "text", { value: entry.duration_minutes === null ? "" : String(entry.duration_minutes), inputmode: "numeric", placeholder: "Any" });
  const noticeInput = textInput("wl-notice", "text", { value: String(entry.min_notice_hours), inputmode: "numeric" });
  const latestInput = h("input", { type: "date", id: "wl-latest", value: entry.latest_date ?? "", "aria-describedby": "wl-latest-help" });
  const weekdays = h(
    "div",
    { class: "weekday-boxes", id: "wl-weekdays", role: "group", "aria-labelledby": "wl-weekdays-label" },
    WEEKDAYS.map((d) => h("label", { class: "weekday" }, h("input", { type: "checkbox", value: d, checked: entry.blocked_weekdays.includes(d) }), ` ${d}`)),
  );

  const times = rowList<string>(
    "wl-times",
    "Preferred times",
    "Times of day the patient prefers, in the patient's time zone. None: any time.",
    "Add a preferred time",
    entry.preferred_times,
    (v) => {
      const [a, b] = v ? v.split("-") : ["", ""];
      const from = h("input", { type: "time", "data-part": "from", value: a ?? "", "aria-label": "From" });
      const to = h("input", { type: "time", "data-part": "to", value: b === "24:00" ? "00:00" : (b ?? ""), "aria-label": "To" });
      return {
        cells: [from, h("span", { "aria-hidden": "true" }, "to"), to],
        read: () => {
          if (!from.value && !to.value) return null;
          // A time field can't say 24:00: midnight as the end means the end of the day.
          const w = `${from.value}-${to.value === "00:00" ? "24:00" : to.value}`;
          return validWindow(w) ? { value: w } : { error: "Each preferred time needs a start before its end, e.g. 08:00 to 12:00." };
        },
      };
    },
  );
  const dates = rowList<string>("wl-dates", "Dates the patient can't come", "In the patient's time zone.", "Add a date", entry.blocked_dates, (v) => {
    const input = h("input", { type: "date", "data-part": "date", value: v ?? "", "aria-label": "Date" });
    return { cells: [input], read: () => (input.value ? { value: input.value } : null) };
  });
  const locations = rowList<string>("wl-locations", "Locations", "Where the patient can come. None: any location.", "Add a location", entry.locations, (v) => {
    const input = h("input", { type: "text", "data-part": "location", value: v ?? "", list: "wl-location-names", autocomplete: "off", "aria-label": "Location" });
    return { cells: [input], read: () => (input.value.trim() ? { value: input.value.trim() } : null) };
  });
  const ids = rowList<{ integration: string; patient_id: string }>(
    "wl-ids",
    "Patient ids in connected systems",
    "Book needs the patient's id in the system the time comes from (for example their MRN or patient number there).",
    "Add an id",
    entry.source_ids,
    (v) => {
      const integ = h("input", { type: "text", "data-part": "integration", value: v?.integration ?? "", list: "wl-integration-names", autocomplete: "off", "aria-label": "Connected system" });
      const pid = h("input", { type: "text", "data-part": "patient-id", value: v?.patient_id ?? "", autocomplete: "off", spellcheck: "false", "aria-label": "Patient id there" });
      return {
        cells: [integ, pid],
        read: () => {
          const i = integ.value.trim();
          const p = pid.value.trim();
          if (!i && !p) return null;
          if (!i || !p) return { error: "Each patient id needs both the connected system's name and the id." };
          return { value: { integration: i, patient_id: p } };
        },
      };
    },
  );

  const error = h("p", { class: "form-error", id: "wl-error", role: "alert" });
  const saveBtn = h("button", { type: "submit", class: "btn primary", id: "wl-save" }, adding ? "Add patient" : "Save");
  const cancelBtn = h("button", { type: "button", class: "btn", id: "wl-cancel" }, "Cancel");
  const form = h(
    "form",
    { method: "dialog", novalidate: true },
    h("h2", { id: "wl-title" }, adding ? "Add a waiting patient" : `Edit ${entry.display_name}`),
    entry.added_on ? h("p", { class: "muted intro" }, `On the waitlist since ${entry.added_on}.`) : null,
    h(
      "div",
      { class: "connect-fields" },
      field("wl-name", "Name", nameInput, "As you say it on the phone."),
      h("div", { class: "field-pair" }, field("wl-phone", "Phone (optional)", phoneInput), field("wl-email", "E-mail (optional)", emailInput)),
      h(
        "div",
        { class: "field-pair" },
        field("wl-priority", "Priority", prioritySelect, "Urgent patients are suggested first, then soon, then routine."),
        field("wl-tz", "Patient's time zone", tzSelect, "Preferred times and dates are in this zone."),
      ),
      h("h3", { class: "form-section" }, "What the patient needs"),
      h(
        "div",
        { class: "field-pair" },
        field("wl-service", "Visit type (optional)", serviceInput, "Empty: any visit type."),
        field("wl-provider", "Provider (optional)", providerInput, "Empty: any provider."),
      ),
      field("wl-duration", "Visit length in minutes (optional)", durationInput, "Empty: any length."),
      locations.el,
      h("h3", { class: "form-section" }, "When the patient can come"),
      times.el,
      h("div", { class: "field" }, h("span", { class: "label", id: "wl-weekdays-label" }, "Days the patient can't come"), weekdays),
      dates.el,
      h(
        "div",
        { class: "field-pair" },
        field("wl-notice", "Notice needed (hours)", noticeInput, "The least warning the patient needs before a visit."),
        field("wl-latest", "Latest date (optional)", latestInput, "After this date the patient no longer wants a time."),
      ),
      h("h3", { class: "form-section" }, "Connected systems"),
      ids.el,
    ),
    datalist("wl-provider-names", deps.providers),
    datalist("wl-location-names", deps.locations),
    datalist("wl-integration-names", deps.integrations),
    h("div", { class: "connect-footer" }, error, h("div", { class: "actions" }, cancelBtn, saveBtn)),
  );
  const dialog = h("dialog", { class: "connect waitlist-entry", "aria-labelledby": "wl-title" }, form);

  function read(): { value: WaitlistEntryDto } | { error: string } {
    const name = nameInput.value.trim();
    if (!name) return { error: "Type the patient's name." };
    const durationText = durationInput.value.trim();
    const duration = durationText ? Number(durationText) : null;
    if (duration !== null && (!Number.isInteger(duration) || duration < 1)) return { error: "The visit length must be a whole number of minutes, or empty for any length." };
    const notice = Number(noticeInput.value.trim() || "0");
    if (!Number.isInteger(notice) || notice < 0) return { error: "The notice needed must be a whole number of hours (0 for none)." };
    const lists = [times.read(), dates.read(), locations.read()] as const;
    for (const l of lists) if ("error" in l) return { error: l.error };
    const sourceIds = ids.read();
    if ("error" in sourceIds) return { error: sourceIds.error };
    const values = (l: (typeof lists)[number]) => ("values" in l ? l.values : []);
    const value: WaitlistEntryDto = {
      ...entry,
      display_name: name,
      phone: optional(phoneInput.value),
      email: optional(emailInput.value),
      tz: tzSelect.value,
      priority: prioritySelect.value,
      service_type: optional(serviceInput.value),
      provider: optional(providerInput.value),
      duration_minutes: duration,
      locations: values(lists[2]),
      preferred_times: values(lists[0]),
      blocked_dates: values(lists[1]),
      blocked_weekdays: Array.from(weekdays.querySelectorAll<HTMLInputElement>("input:checked")).map((b) => b.value),
      min_notice_hours: notice,
      latest_date: latestInput.value || null,
      source_ids: sourceIds.values,
    };
    return { value };
  }

  const { result } = runFormDialog({ dialog, form, cancelBtn, submitBtn: saveBtn, error, busyText: "Saving…", read, save: deps.save, focus: nameInput });
  return result;
}
