// The calendars table of the Connect dialog (Google Calendar, CalDAV): one row
// per calendar, saying whose it is, their working hours, the length of one
// appointment and, when it differs, their time zone.
//
// Stable hooks for tests: table#connect-calendars, tbody tr[data-row],
// inputs .cal-calendar .cal-provider .cal-hours .cal-minutes, select .cal-tz,
// button .cal-remove, #connect-add-calendar.

import type { FoundCalendar } from "../bindings";
import type { CalendarRow, SystemKind } from "../integrations";
import { DEFAULT_SLOT_MINUTES } from "../integrations";
import { zoneCity } from "../time";
import { h } from "./dom";

/** The table and what the dialog asks of it. */
export interface CalendarsTable {
  /** The field: label, help, table and Add calendar. */
  el: HTMLElement;
  /** The rows as typed, in their order. */
  rows(): CalendarRow[];
  /** Adds a row (empty, or with what is given). */
  addRow(row?: Partial<CalendarRow>): void;
  /**
   * Puts calendars found on the server into the table: empty rows give way, a calendar
   * already in a row is kept as it is; the name becomes the provider suggestion.
   * Returns how many rows were added.
   */
  fill(found: FoundCalendar[]): number;
}

const COLUMNS = ["Calendar", "Provider", "Working hours", "Minutes per appointment", "Time zone"] as const;

/** Creates the calendars table for `kind`, with `zones` for each row's time zone. */
export function calendarsTable(kind: SystemKind, zones: string[]): CalendarsTable {
  const body = h("tbody", {});
  const trs = () => Array.from(body.children) as HTMLTableRowElement[];
  const calendarExample = kind === "caldav" ? "https://…/calendars/…/" : "dr.rivera@yourpractice.com";

  function label(tr: HTMLElement, n: number): void {
    const set = (sel: string, text: string) => tr.querySelector(sel)?.setAttribute("aria-label", text);
    set(".cal-calendar", `Calendar, row ${n}`);
    set(".cal-provider", `Provider, row ${n}`);
    set(".cal-hours", `Working hours, row ${n}`);
    set(".cal-minutes", `Minutes per appointment, row ${n}`);
    set(".cal-tz", `Time zone, row ${n}`);
    set(".cal-remove", `Remove row ${n}`);
  }

  function relabel(): void {
    trs().forEach((tr, i) => label(tr, i + 1));
  }

  function addRow(row: Partial<CalendarRow> = {}): void {
    const tzSelect = h(
      "select",
      { class: "cal-tz" },
      h("option", { value: "" }, "Same as the connection"),
      zones.map((z) => h("option", { value: z, selected: z === row.tz }, z === "UTC" ? "UTC" : `${zoneCity(z)} · ${z}`)),
    );
    const remove = h("button", { type: "button", class: "btn subtle cal-remove" }, "Remove");
    const tr = h(
      "tr",
      { "data-row": "" },
      h("td", {}, h("input", { type: "text", class: "cal-calendar", value: row.calendar ?? "", placeholder: calendarExample, autocomplete: "off", spellcheck: "false" })),
      h("td", {}, h("input", { type: "text", class: "cal-provider", value: row.provider ?? "", placeholder: "Dr. Rivera", autocomplete: "off" })),
      h("td", {}, h("input", { type: "text", class: "cal-hours", value: row.hours ?? "", placeholder: "Mon-Fri 08:00-17:00", autocomplete: "off", spellcheck: "false" })),
      h("td", {}, h("input", { type: "text", class: "cal-minutes", inputmode: "numeric", value: row.minutes ?? String(DEFAULT_SLOT_MINUTES), autocomplete: "off" })),
      h("td", {}, tzSelect),
      h("td", {}, remove),
    );
    remove.addEventListener("click", () => {
      tr.remove();
      // The table always has a row to type in.
      if (trs().length === 0) addRow();
      relabel();
      (body.querySelector(".cal-calendar") as HTMLInputElement | null)?.focus();
    });
    body.append(tr);
    relabel();
  }

  function rows(): CalendarRow[] {
    return trs().map((tr) => {
      const v = (sel: string) => (tr.querySelector(sel) as HTMLInputElement | HTMLSelectElement).value;
      return { calendar: v(".cal-calendar"), provider: v(".cal-provider"), hours: v(".cal-hours"), minutes: v(".cal-minutes"), tz: v(".cal-tz") };
    });
  }

  function fill(found: FoundCalendar[]): number {
    const current = rows();
    trs().forEach((tr, i) => {
      const r = current[i];
      if (!r.calendar.trim() && !r.provider.trim() && !r.hours.trim()) tr.remove();
    });
    const have = new Set(current.map((r) => r.calendar.trim()).filter(Boolean));
    let added = 0;
    for (const c of found) {
      if (have.has(c.url)) continue;
      have.add(c.url);
      addRow({ calendar: c.url, provider: c.name });
      added++;
    }
    if (trs().length === 0) addRow();
    relabel();
    return added;
  }

  const addBtn = h("button", { type: "button", class: "btn", id: "connect-add-calendar", onclick: () => {
    addRow();
    (trs()[trs().length - 1]?.querySelector(".cal-calendar") as HTMLInputElement | null)?.focus();
  } }, "Add calendar");
  const help =
    kind === "caldav"
      ? "One row per provider's calendar. Working hours are the provider's local times, e.g. Mon-Fri 08:00-12:00,13:00-17:00 (separate different days with “;”). Busy times in the calendar are left out of the open times."
      : "One row per provider's calendar: its ID (usually the provider's e-mail address, or the Calendar ID in the calendar's Google settings) and working hours as local times, e.g. Mon-Fri 08:00-12:00,13:00-17:00 (separate different days with “;”). Busy times in the calendar are left out of the open times.";
  const el = h(
    "div",
    { class: "field calendars-field" },
    h("span", { class: "label", id: "connect-calendars-label" }, "Calendars"),
    h("p", { class: "help", id: "connect-calendars-help" }, help),
    h(
      "div",
      { class: "calendars-scroll" },
      h(
        "table",
        { class: "calendars-table", id: "connect-calendars", "aria-labelledby": "connect-calendars-label", "aria-describedby": "connect-calendars-help" },
        h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Remove")))),
        body,
      ),
    ),
    h("div", { class: "calendars-actions" }, addBtn),
  );
  addRow();
  return { el, rows, addRow, fill };
}
