// The week grid: one row per provider, one column per day (Monday to Sunday).
// Each cell lists the provider's free slots as time chips in the provider's
// own zone, then its busy blocks. Stable hooks for tests:
//   cell:  data-provider="<name>" data-day="YYYY-MM-DD" data-free-count="N"
//          (N counts every free slot of the day, past ones included)
//   chip:  data-slot-id="<slot id>"    busy block: data-busy-id="<id>"
//
// The grid is one Tab stop (a roving tabindex): Tab enters it at the time
// focused last (else the first), the arrow keys move inside, Tab leaves.

import type { BusyDto, ProviderView, SlotDto, Week } from "../bindings";
import { clockTime, compactHours, dayName, formatTime, monthDay, monthDayAt, weekdayShort, workingDays, zoneAbbrev, zoneCity } from "../time";
import { h } from "./dom";

/** What a click or Enter on a chip or busy block opens. */
export type Selection = { kind: "slot"; slot: SlotDto; provider: ProviderView; past?: boolean } | { kind: "busy"; busy: BusyDto; provider: ProviderView };

/** Options of the grid. */
export interface WeekViewOptions {
  locale?: string;
  onOpen: (sel: Selection) => void;
  /** The current instant (ms since the epoch): free slots starting before it are shown as past. */
  now?: number;
}

/** The focusable items of the grid: time chips and busy blocks. */
export const ITEM_SELECTOR = "button.chip, button.busy";

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

/**
 * "12:00–1:00p" or "11:30a–12:30p" (24-hour locales: "12:00–13:00"); when the
 * clocks change inside the range each end names its zone: "1:00a EST–3:00a EDT".
 */
export function compactRange(startIso: string, endIso: string, tz: string, locale?: string): string {
  const a = clockTime(startIso, tz, locale);
  const b = clockTime(endIso, tz, locale);
  const p = (c: { period: string }) => (c.period ? c.period[0] : "");
  const za = zoneAbbrev(startIso, tz);
  const zb = zoneAbbrev(endIso, tz);
  if (za !== zb) return `${a.time}${p(a)} ${za}–${b.time}${p(b)} ${zb}`;
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

function coverageNote(p: ProviderView, locale?: string): string | null {
  if (!p.has_calendar || p.uncovered_days.length === 0) return null;
  if (!p.calendar_from || !p.calendar_to) return "Calendar not imported for these dates";
  // The period's end is exclusive: its last day is the day before when it ends at midnight.
  const last = new Date(Date.parse(p.calendar_to) - 1000).toISOString();
  return `Calendar imported for ${monthDayAt(p.calendar_from, p.tz, locale)} – ${monthDayAt(last, p.tz, locale)}`;
}

function providerHeader(p: ProviderView, nothingImported: boolean, locale?: string): HTMLElement {
  const cover = coverageNote(p, locale);
  return h(
    "div",
    { class: "prov", role: "rowheader" },
    h("div", { class: "prov-name" }, h("span", {}, p.demo ? p.name.replace(/\s*\(Demo\)\s*$/, "") : p.name), p.demo ? h("span", { class: "badge-demo", title: "Demo provider (made-up data)" }, "Demo") : null),
    h("div", { class: "prov-zone", title: p.tz }, h("span", { class: "zone-abbrev" }, p.tz_abbrev), ` ${zoneCity(p.tz)} time`),
    p.has_calendar ? h("div", { class: "prov-hours" }, compactHours(p.hours)) : null,
    p.tz_note ? h("div", { class: "prov-note" }, p.tz_note) : null,
    cover ? h("div", { class: "prov-cover" }, cover) : null,
    nothingImported ? h("div", { class: "prov-cover" }, "No calendar or schedule imported yet") : null,
  );
}

function chip(slot: SlotDto, p: ProviderView, opts: WeekViewOptions, showZone: boolean): HTMLElement {
  const t = clockTime(slot.start, p.tz, opts.locale);
  const free = slot.status === "free";
  const past = free && opts.now !== undefined && Date.parse(slot.start) < opts.now;
  const zone = zoneAbbrev(slot.start, p.tz);
  const label = `${formatTime(slot.start, p.tz, opts.locale)} ${zone}, ${statusLabel(slot.status)}${past ? " (already passed)" : ""}${slot.location ? `, ${slot.location}` : ""}`;
  return h(
    "button",
    {
      type: "button",
      class: ["chip", free ? "free" : "taken", past ? "past" : "", showZone ? "zoned" : ""],
      "data-slot-id": slot.id,
      "data-status": slot.status,
      "data-past": past ? "true" : null,
      "aria-label": label,
      title: label,
      tabindex: -1,
      onclick: () => opts.onOpen({ kind: "slot", slot, provider: p, past }),
    },
    t.time,
    t.period ? h("span", { class: "period" }, t.period[0]) : null,
    showZone ? h("span", { class: "chip-zone" }, zone) : null,
  );
}

function busyBlock(b: BusyDto, p: ProviderView, opts: WeekViewOptions): HTMLElement {
  const when = b.all_day ? "All day" : compactRange(b.start, b.end, p.tz, opts.locale);
  const what = b.summary?.trim() || "Busy";
  // Across a clock change compactRange names both zones already.
  const crossesChange = !b.all_day && zoneAbbrev(b.start, p.tz) !== zoneAbbrev(b.end, p.tz);
  const spoken = b.all_day || crossesChange ? when : `${when} ${zoneAbbrev(b.start, p.tz)}`;
  return h(
    "button",
    {
      type: "button",
      class: ["busy", `busy-${b.status}`, crossesChange ? "zoned" : ""],
      "data-busy-id": b.id,
      "aria-label": `Busy ${spoken}: ${what}`,
      title: `${spoken} ${what}`,
      tabindex: -1,
      onclick: () => opts.onOpen({ kind: "busy", busy: b, provider: p }),
    },
    h("span", { class: "busy-time" }, when),
    h("span", { class: "busy-what" }, what),
  );
}

/** What a cell says above its times. */
export function cellText(args: { free: number; past: number; hasSlots: boolean; working: boolean; uncovered: boolean; hasCalendar: boolean; publishesSlots: boolean }): { text: string; off: boolean } {
  const { free, past, hasSlots, working, uncovered, hasCalendar, publishesSlots } = args;
  if (free > 0) {
    const bookable = free - past;
    if (bookable === 0) return { text: "No free slots left", off: false };
    return { text: bookable === 1 ? "1 free" : `${bookable} free`, off: false };
  }
  if (hasSlots) return { text: "No free slots", off: false };
  if (hasCalendar && !working) return { text: "Not working", off: true };
  if (hasCalendar && uncovered) return { text: "Not imported for this day", off: false };
  if (!hasCalendar && !publishesSlots) return { text: "No calendar imported", off: false };
  if (!hasCalendar) return { text: "No slots listed", off: false };
  return { text: "No free slots", off: false };
}

/** Builds the grid for `week`. */
export function renderWeek(week: Week, opts: WeekViewOptions): HTMLElement {
  const slotsBy = groupBy(week.slots, (s) => [`${s.provider_id}|${s.day}`]);
  const busyBy = groupBy(week.busy, (b) => b.days.map((d) => `${b.provider_id}|${d}`));
  const publishing = new Set(week.slots.filter((s) => s.source !== "working-hours").map((s) => s.provider_id));
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
    const works = p.has_calendar ? workingDays(p.hours) : new Set(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]);
    const uncovered = new Set(p.uncovered_days);
    const publishesSlots = p.publishes_slots || publishing.has(p.id);
    return h(
      "div",
      { class: "row", role: "row", "data-provider-id": p.id },
      providerHeader(p, !p.has_calendar && !publishesSlots, opts.locale),
      week.days.map((d) => {
        const slots = slotsBy.get(`${p.id}|${d.date}`) ?? [];
        const busy = busyBy.get(`${p.id}|${d.date}`) ?? [];
        const freeSlots = slots.filter((s) => s.status === "free");
        const free = freeSlots.length;
        const past = opts.now === undefined ? 0 : freeSlots.filter((s) => Date.parse(s.start) < (opts.now as number)).length;
        const { text, off } = cellText({ free, past, hasSlots: slots.length > 0, working: works.has(dayName(d.date)), uncovered: uncovered.has(d.date), hasCalendar: p.has_calendar, publishesSlots });
        // On a day the clocks change, the same clock time can come twice (or the zone changes mid-day): name the zone on each time.
        const showZone = new Set(slots.map((s) => zoneAbbrev(s.start, p.tz))).size > 1;
        return h(
          "div",
          {
            class: ["cell", d.is_today ? "today" : "", off ? "off" : "", free === 0 && !off ? "full" : ""],
            role: "cell",
            "data-provider": p.name,
            "data-day": d.date,
            "data-free-count": free,
            "aria-label": `${p.name}, ${weekdayShort(d.date, opts.locale)} ${monthDay(d.date, opts.locale)}: ${text}`,
          },
          h("div", { class: ["free-count", free - past > 0 ? "has-free" : ""] }, text, past > 0 && free > past ? h("span", { class: "past-count" }, ` · ${past} past`) : null),
          slots.length > 0 ? h("div", { class: ["chips", showZone ? "zoned" : ""] }, slots.map((s) => chip(s, p, opts, showZone))) : null,
          busy.length > 0 ? h("div", { class: "busy-list" }, busy.map((b) => busyBlock(b, p, opts))) : null,
        );
      }),
    );
  });
  const grid = h("div", { class: "grid", role: "table", "aria-label": "Free slots this week by provider and day" }, head, rows);
  const first = grid.querySelector<HTMLElement>(ITEM_SELECTOR);
  if (first) first.tabIndex = 0;
  // Whatever gets focus (click, arrow key, script) becomes the grid's Tab stop.
  grid.addEventListener("focusin", (e) => {
    const t = e.target as HTMLElement;
    if (t.matches?.(ITEM_SELECTOR)) setTabStop(grid, t);
  });
  return grid;
}

/** Makes `item` the grid's one Tab stop. */
export function setTabStop(grid: HTMLElement, item: HTMLElement): void {
  for (const el of Array.from(grid.querySelectorAll<HTMLElement>('[tabindex="0"]'))) {
    if (el !== item) el.tabIndex = -1;
  }
  item.tabIndex = 0;
}

/**
 * The next element to focus from `current` for an arrow key inside the grid:
 * ←/→ previous/next chip or busy block in reading order (crossing cells),
 * ↑/↓ the first item of the same day in the provider row above/below,
 * Home/End the first/last item of the grid.
 */
export function nextFocus(grid: HTMLElement, current: HTMLElement, key: string): HTMLElement | null {
  const items = Array.from(grid.querySelectorAll<HTMLElement>(ITEM_SELECTOR));
  const i = items.indexOf(current);
  if (i < 0) return null;
  if (key === "ArrowRight") return items[i + 1] ?? null;
  if (key === "ArrowLeft") return items[i - 1] ?? null;
  if (key === "Home") return items[0] ?? null;
  if (key === "End") return items[items.length - 1] ?? null;
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
