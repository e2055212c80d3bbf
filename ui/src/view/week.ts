// The week grid: one row per provider, one column per day (Monday to Sunday).
// Each cell lists the provider's free slots as time chips in the provider's
// own zone, then its busy blocks. Stable hooks for tests:
//   cell:  data-provider="<name>" data-day="YYYY-MM-DD" data-free-count="N"
//   chip:  data-slot-id="<slot id>"    busy block: data-busy-id="<id>"

import type { BusyDto, ProviderView, SlotDto, Week } from "../bindings";
import { clockTime, compactHours, dayName, formatTime, monthDay, weekdayShort, workingDays, zoneCity } from "../time";
import { h } from "./dom";

/** What a click or Enter on a chip or busy block opens. */
export type Selection = { kind: "slot"; slot: SlotDto; provider: ProviderView } | { kind: "busy"; busy: BusyDto; provider: ProviderView };

/** Options of the grid. */
export interface WeekViewOptions {
  locale?: string;
  onOpen: (sel: Selection) => void;
  /** Provider names that have a calendar feed (their hours are shown). */
  calendarProviders?: Set<string>;
}

const STATUS_LABEL: Record<string, string> = {
  free: "Free",
  busy: "Booked",
  "busy-unavailable": "Blocked",
  "busy-tentative": "Tentative",
  "entered-in-error": "Entered in error",
};

/** Staff's word for a FHIR slot status code. */
export function statusLabel(code: string): string {
  return STATUS_LABEL[code] ?? code;
}

/** "12:00–1:00p" or "11:30a–12:30p" (24-hour locales: "12:00–13:00"). */
export function compactRange(startIso: string, endIso: string, tz: string, locale?: string): string {
  const a = clockTime(startIso, tz, locale);
  const b = clockTime(endIso, tz, locale);
  const p = (c: { period: string }) => (c.period ? c.period[0] : "");
  return a.period === b.period ? `${a.time}–${b.time}${p(b)}` : `${a.time}${p(a)}–${b.time}${p(b)}`;
}

function groupBy<T>(items: T[], key: (t: T) => string[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    for (const k of key(it)) {
      const list = m.get(k);
      if (list) list.push(it);
      else m.set(k, [it]);
    }
  }
  return m;
}

function providerHeader(p: ProviderView, showHours: boolean): HTMLElement {
  return h(
    "div",
    { class: "prov", role: "rowheader" },
    h("div", { class: "prov-name" }, h("span", {}, p.demo ? p.name.replace(/\s*\(Demo\)\s*$/, "") : p.name), p.demo ? h("span", { class: "badge-demo", title: "Demo provider (made-up data)" }, "Demo") : null),
    h("div", { class: "prov-zone", title: p.tz }, h("span", { class: "zone-abbrev" }, p.tz_abbrev), ` ${zoneCity(p.tz)} time`),
    showHours ? h("div", { class: "prov-hours" }, compactHours(p.hours)) : null,
    p.tz_note ? h("div", { class: "prov-note" }, p.tz_note) : null,
  );
}

function chip(slot: SlotDto, p: ProviderView, opts: WeekViewOptions): HTMLElement {
  const t = clockTime(slot.start, p.tz, opts.locale);
  const free = slot.status === "free";
  const label = `${formatTime(slot.start, p.tz, opts.locale)} ${p.tz_abbrev}, ${statusLabel(slot.status)}${slot.location ? `, ${slot.location}` : ""}`;
  return h(
    "button",
    {
      type: "button",
      class: ["chip", free ? "free" : "taken"],
      "data-slot-id": slot.id,
      "data-status": slot.status,
      "aria-label": label,
      title: label,
      onclick: () => opts.onOpen({ kind: "slot", slot, provider: p }),
    },
    t.time,
    t.period ? h("span", { class: "period" }, t.period[0]) : null,
  );
}

function busyBlock(b: BusyDto, p: ProviderView, opts: WeekViewOptions): HTMLElement {
  const when = b.all_day ? "All day" : compactRange(b.start, b.end, p.tz, opts.locale);
  const what = b.summary?.trim() || "Busy";
  return h(
    "button",
    {
      type: "button",
      class: ["busy", `busy-${b.status}`],
      "data-busy-id": b.id,
      "aria-label": `Busy ${when}: ${what}`,
      title: `${when} ${what}`,
      onclick: () => opts.onOpen({ kind: "busy", busy: b, provider: p }),
    },
    h("span", { class: "busy-time" }, when),
    h("span", { class: "busy-what" }, what),
  );
}

/** Builds the grid for `week`. */
export function renderWeek(week: Week, opts: WeekViewOptions): HTMLElement {
  const slotsBy = groupBy(week.slots, (s) => [`${s.provider_id}|${s.day}`]);
  const busyBy = groupBy(week.busy, (b) => b.days.map((d) => `${b.provider_id}|${d}`));
  const head = h(
    "div",
    { class: "row head", role: "row" },
    h("div", { class: "corner", role: "columnheader" }, "Provider"),
    week.days.map((d) =>
      h(
        "div",
        { class: ["dayhead", d.is_today ? "today" : ""], role: "columnheader", "data-day": d.date, "aria-current": d.is_today ? "date" : null },
        h("span", { class: "dow" }, weekdayShort(d.date, opts.locale)),
        h("span", { class: "date" }, monthDay(d.date, opts.locale)),
        d.is_today ? h("span", { class: "today-pill" }, "Today") : null,
      ),
    ),
  );
  const rows = week.providers.map((p) => {
    // Working hours only matter for calendar providers; spreadsheet providers publish their slots.
    const showHours = opts.calendarProviders?.has(p.name) ?? true;
    const works = showHours ? workingDays(p.hours) : new Set(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]);
    return h(
      "div",
      { class: "row", role: "row", "data-provider-id": p.id },
      providerHeader(p, showHours),
      week.days.map((d) => {
        const slots = slotsBy.get(`${p.id}|${d.date}`) ?? [];
        const busy = busyBy.get(`${p.id}|${d.date}`) ?? [];
        const free = slots.filter((s) => s.status === "free").length;
        const off = slots.length === 0 && busy.length === 0 && !works.has(dayName(d.date));
        const countText = off ? "Not working" : free === 0 ? "No free slots" : free === 1 ? "1 free" : `${free} free`;
        return h(
          "div",
          {
            class: ["cell", d.is_today ? "today" : "", off ? "off" : "", free === 0 && !off ? "full" : ""],
            role: "cell",
            "data-provider": p.name,
            "data-day": d.date,
            "data-free-count": free,
            "aria-label": `${p.name}, ${weekdayShort(d.date, opts.locale)} ${monthDay(d.date, opts.locale)}: ${countText}`,
          },
          h("div", { class: ["free-count", free > 0 ? "has-free" : ""] }, countText),
          slots.length > 0 ? h("div", { class: "chips" }, slots.map((s) => chip(s, p, opts))) : null,
          busy.length > 0 ? h("div", { class: "busy-list" }, busy.map((b) => busyBlock(b, p, opts))) : null,
        );
      }),
    );
  });
  return h("div", { class: "grid", role: "table", "aria-label": "Free slots this week by provider and day" }, head, rows);
}

/**
 * The next element to focus from `current` for an arrow key inside the grid:
 * ←/→ previous/next chip or busy block in reading order (crossing cells),
 * ↑/↓ the first item of the same day in the provider row above/below.
 */
export function nextFocus(grid: HTMLElement, current: HTMLElement, key: string): HTMLElement | null {
  const items = Array.from(grid.querySelectorAll<HTMLElement>("button.chip, button.busy"));
  const i = items.indexOf(current);
  if (i < 0) return null;
  if (key === "ArrowRight") return items[i + 1] ?? null;
  if (key === "ArrowLeft") return items[i - 1] ?? null;
  if (key !== "ArrowUp" && key !== "ArrowDown") return null;
  const cell = current.closest<HTMLElement>(".cell");
  const row = current.closest<HTMLElement>(".row");
  if (!cell || !row) return null;
  const rows = Array.from(grid.querySelectorAll<HTMLElement>(".row:not(.head)"));
  const step = key === "ArrowDown" ? 1 : -1;
  for (let r = rows.indexOf(row) + step; r >= 0 && r < rows.length; r += step) {
    const target = rows[r].querySelector<HTMLElement>(`.cell[data-day="${cell.dataset.day}"] button`);
    if (target) return target;
  }
  return null;
}
