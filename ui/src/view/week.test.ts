// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import type { ProviderView, Week } from "../bindings";
import { providerView } from "../test-fixtures";
import { cellText, compactRange, nextFocus, renderWeek, setTabStop } from "./week";

const rivera: ProviderView = providerView({ name: "Dr. Ana Rivera (Demo)", tz_note: "Clocks change Sun Mar 8 (EST → EDT)", demo: true });
const chen: ProviderView = { ...rivera, id: 2, name: "Dr. Mei Chen (Demo)", tz: "America/Los_Angeles", tz_abbrev: "PST", tz_note: null, hours: "Tue 07:00-15:00; Wed 07:00-15:00" };

const days = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08"];

function week(): Week {
  return {
    start: "2026-03-02",
    days: days.map((date) => ({ date, is_today: date === "2026-03-04" })),
    today: "2026-03-04",
    providers: [rivera, chen],
    all_providers: [rivera, chen],
    locations: [],
    slots: [
      { id: "grid-1-20260304T140000Z", provider_id: 1, day: "2026-03-04", start: "2026-03-04T14:00:00Z", end: "2026-03-04T14:30:00Z", status: "free", source: "working-hours", location: null },
      { id: "grid-1-20260304T143000Z", provider_id: 1, day: "2026-03-04", start: "2026-03-04T14:30:00Z", end: "2026-03-04T15:00:00Z", status: "free", source: "working-hours", location: null },
      { id: "slot-9", provider_id: 1, day: "2026-03-04", start: "2026-03-04T15:00:00Z", end: "2026-03-04T15:30:00Z", status: "busy", source: "front-desk", location: "Main St" },
      { id: "grid-2-20260304T150000Z", provider_id: 2, day: "2026-03-04", start: "2026-03-04T15:00:00Z", end: "2026-03-04T15:30:00Z", status: "free", source: "working-hours", location: null },
    ],
    busy: [
      { id: "demo-rivera/lunch/", provider_id: 1, days: ["2026-03-04"], start: "2026-03-04T17:00:00Z", end: "2026-03-04T18:00:00Z", all_day: false, summary: "Lunch", status: "busy", source: "demo-rivera", uid: "lunch" },
    ],
    sources: [],
    has_demo: true,
    now: "2026-03-04T15:00:00Z",
  };
}

describe("week grid", () => {
  it("has a cell per provider and day with the free count hooks", () => {
    const grid = renderWeek(week(), { onOpen: () => {}, locale: "en-US" });
    const cells = grid.querySelectorAll(".cell");
    expect(cells.length).toBe(14);
    const wed = grid.querySelector('.cell[data-provider="Dr. Ana Rivera (Demo)"][data-day="2026-03-04"]') as HTMLElement;
    expect(wed.dataset.freeCount).toBe("2");
    expect(wed.classList.contains("today")).toBe(true);
    expect(wed.querySelectorAll("[data-slot-id]").length).toBe(3);
    expect(wed.querySelector('[data-slot-id="grid-1-20260304T140000Z"]')?.textContent).toBe("9:00a");
    expect(wed.querySelector('[data-slot-id="slot-9"]')?.classList.contains("taken")).toBe(true);
    expect(wed.querySelector(".busy")?.textContent).toContain("Lunch");
    // The same instant is 7:00 in Los Angeles.
    expect(grid.querySelector('[data-slot-id="grid-2-20260304T150000Z"]')?.textContent).toBe("7:00a");
    // Rivera does not work Saturdays; Chen has nothing on Monday.
    const sat = grid.querySelector('.cell[data-provider="Dr. Ana Rivera (Demo)"][data-day="2026-03-07"]') as HTMLElement;
    expect(sat.dataset.freeCount).toBe("0");
    expect(sat.textContent).toContain("Not working");
    expect(grid.querySelector(".dayhead.today")?.textContent).toContain("Today");
    expect(grid.textContent).toContain("EST");
    expect(grid.textContent).toContain("Clocks change Sun Mar 8");
    expect(grid.querySelectorAll(".badge-demo").length).toBe(2);
  });

  it("opens details on click and moves focus with the arrow keys", () => {
    const onOpen = vi.fn();
    const grid = renderWeek(week(), { onOpen, locale: "en-US" });
    document.body.append(grid);
    const first = grid.querySelector('[data-slot-id="grid-1-20260304T140000Z"]') as HTMLElement;
    first.click();
    expect(onOpen).toHaveBeenCalledWith(expect.objectContaining({ kind: "slot", provider: expect.objectContaining({ id: 1 }) }));
    expect(nextFocus(grid, first, "ArrowRight")?.dataset.slotId).toBe("grid-1-20260304T143000Z");
    expect(nextFocus(grid, first, "ArrowLeft")).toBeNull();
    expect(nextFocus(grid, first, "ArrowDown")?.dataset.slotId).toBe("grid-2-20260304T150000Z");
    grid.remove();
  });

  it("writes busy ranges compactly, naming each end's zone across a clock change", () => {
    expect(compactRange("2026-03-04T17:00:00Z", "2026-03-04T18:00:00Z", "America/New_York", "en-US")).toBe("12:00–1:00p");
    expect(compactRange("2026-03-04T16:30:00Z", "2026-03-04T17:30:00Z", "America/New_York", "en-US")).toBe("11:30a–12:30p");
    // One hour, not two: 1:00 EST to 3:00 EDT on 8 March.
    expect(compactRange("2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "America/New_York", "en-US")).toBe("1:00a EST–3:00a EDT");
  });

  it("labels each time with its own zone, and tells the repeated hour apart on the fall-back day", () => {
    const owl: ProviderView = { ...rivera, id: 3, name: "Dr. Night Owl", tz_abbrev: "EDT", tz_note: "Clocks change Sun Nov 1 (EDT → EST)", hours: "Sun 00:00-06:00" };
    const fall = ["2026-10-26", "2026-10-27", "2026-10-28", "2026-10-29", "2026-10-30", "2026-10-31", "2026-11-01"];
    const slot = (start: string) => ({ id: `grid-3-${start}`, provider_id: 3, day: "2026-11-01", start, end: start, status: "free" as const, source: "working-hours", location: null });
    const w: Week = {
      ...week(),
      start: "2026-10-26",
      days: fall.map((date) => ({ date, is_today: false })),
      providers: [owl],
      all_providers: [owl],
      slots: ["2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z"].map(slot),
      busy: [
        { id: "owl/h/", provider_id: 3, days: ["2026-11-01"], start: "2026-11-01T05:00:00Z", end: "2026-11-01T06:00:00Z", all_day: false, summary: "Huddle", status: "busy", source: "owl", uid: "h" },
      ],
    };
    const grid = renderWeek(w, { onOpen: () => {}, locale: "en-US" });
    const chip = (start: string) => grid.querySelector(`[data-slot-id="grid-3-${start}"]`) as HTMLElement;
    expect(chip("2026-11-01T05:00:00Z").getAttribute("aria-label")).toBe("1:00 AM EDT, Free");
    expect(chip("2026-11-01T06:00:00Z").getAttribute("aria-label")).toBe("1:00 AM EST, Free");
    expect(chip("2026-11-01T06:00:00Z").title).toBe("1:00 AM EST, Free");
    // The chips of that day show the zone: 1:00a EDT and 1:00a EST are different times.
    expect(chip("2026-11-01T05:00:00Z").querySelector(".chip-zone")?.textContent).toBe("EDT");
    expect(chip("2026-11-01T06:00:00Z").querySelector(".chip-zone")?.textContent).toBe("EST");
    expect(grid.querySelector(".busy")?.textContent).toContain("1:00a EDT–1:00a EST");
    // Spring: a time after the change in a week that started in EST says EDT.
    const spring = week();
    spring.slots.push({ id: "grid-1-20260308T140000Z", provider_id: 1, day: "2026-03-08", start: "2026-03-08T14:00:00Z", end: "2026-03-08T14:30:00Z", status: "free", source: "working-hours", location: null });
    const g2 = renderWeek(spring, { onOpen: () => {}, locale: "en-US" });
    const sunday = g2.querySelector('[data-slot-id="grid-1-20260308T140000Z"]') as HTMLElement;
    expect(sunday.getAttribute("aria-label")).toBe("10:00 AM EDT, Free");
    // One zone in the cell: no zone on the chip itself.
    expect(sunday.querySelector(".chip-zone")).toBeNull();
    expect((g2.querySelector('[data-slot-id="grid-1-20260304T140000Z"]') as HTMLElement).getAttribute("aria-label")).toBe("9:00 AM EST, Free");
  });

  it("dims free times that have passed but keeps counting and opening them", () => {
    const onOpen = vi.fn();
    const grid = renderWeek(week(), { onOpen, locale: "en-US", now: Date.parse("2026-03-04T14:15:00Z") });
    const wed = grid.querySelector('.cell[data-provider="Dr. Ana Rivera (Demo)"][data-day="2026-03-04"]') as HTMLElement;
    expect(wed.dataset.freeCount).toBe("2");
    expect(wed.querySelector(".free-count")?.textContent).toBe("1 free · 1 past");
    const past = wed.querySelector('[data-slot-id="grid-1-20260304T140000Z"]') as HTMLElement;
    expect(past.classList.contains("past")).toBe(true);
    expect(past.getAttribute("aria-label")).toContain("already passed");
    expect(wed.querySelector('[data-slot-id="grid-1-20260304T143000Z"]')?.classList.contains("past")).toBe(false);
    past.click();
    expect(onOpen).toHaveBeenCalledWith(expect.objectContaining({ kind: "slot", past: true }));
    const later = renderWeek(week(), { onOpen, locale: "en-US", now: Date.parse("2026-03-04T23:00:00Z") });
    const cell = later.querySelector('.cell[data-provider="Dr. Ana Rivera (Demo)"][data-day="2026-03-04"]') as HTMLElement;
    expect(cell.dataset.freeCount).toBe("2");
    expect(cell.querySelector(".free-count")?.textContent).toBe("No free slots left");
  });

  it("is one Tab stop that follows focus", () => {
    const grid = renderWeek(week(), { onOpen: () => {}, locale: "en-US" });
    document.body.append(grid);
    const stops = () => Array.from(grid.querySelectorAll<HTMLElement>('[tabindex="0"]'));
    expect(stops().map((e) => e.dataset.slotId)).toEqual(["grid-1-20260304T140000Z"]);
    expect(grid.querySelectorAll('button[tabindex="-1"]').length).toBe(grid.querySelectorAll("button").length - 1);
    const lunch = grid.querySelector("[data-busy-id]") as HTMLElement;
    lunch.dispatchEvent(new FocusEvent("focusin", { bubbles: true }));
    expect(stops()).toEqual([lunch]);
    const chen = grid.querySelector('[data-slot-id="grid-2-20260304T150000Z"]') as HTMLElement;
    setTabStop(grid, chen);
    expect(stops()).toEqual([chen]);
    expect(nextFocus(grid, chen, "Home")?.dataset.slotId).toBe("grid-1-20260304T140000Z");
    grid.remove();
  });

  it("says why a day has no free slots", () => {
    const base = { free: 0, past: 0, hasSlots: false, working: true, uncovered: false, hasCalendar: true, publishesSlots: false };
    expect(cellText(base).text).toBe("No free slots");
    expect(cellText({ ...base, working: false })).toEqual({ text: "Not working", off: true });
    expect(cellText({ ...base, uncovered: true }).text).toBe("Not imported for this day");
    expect(cellText({ ...base, working: false, uncovered: true }).text).toBe("Not working");
    expect(cellText({ ...base, hasCalendar: false }).text).toBe("No calendar imported");
    expect(cellText({ ...base, hasCalendar: false, publishesSlots: true }).text).toBe("No slots listed");
    expect(cellText({ ...base, hasSlots: true }).text).toBe("No free slots");
    expect(cellText({ ...base, free: 3, past: 1, hasSlots: true }).text).toBe("2 free");
  });

  it("shows busy time on days off, and no-calendar providers plainly", () => {
    const w = week();
    w.busy.push({ id: "demo-rivera/sat/", provider_id: 1, days: ["2026-03-07"], start: "2026-03-07T15:00:00Z", end: "2026-03-07T16:00:00Z", all_day: false, summary: "Conference", status: "busy", source: "demo-rivera", uid: "sat" });
    const lee: ProviderView = { ...rivera, id: 4, name: "Dr. Lee", demo: false, has_calendar: false, calendar_from: null, calendar_to: null };
    w.providers.push(lee);
    const later: ProviderView = { ...rivera, uncovered_days: ["2026-03-06", "2026-03-07", "2026-03-08"] };
    w.providers[0] = later;
    const grid = renderWeek(w, { onOpen: () => {}, locale: "en-US" });
    const sat = grid.querySelector('.cell[data-provider="Dr. Ana Rivera (Demo)"][data-day="2026-03-07"]') as HTMLElement;
    expect(sat.querySelector(".free-count")?.textContent).toBe("Not working");
    expect(sat.querySelector(".busy")?.textContent).toContain("Conference");
    const fri = grid.querySelector('.cell[data-provider="Dr. Ana Rivera (Demo)"][data-day="2026-03-06"]') as HTMLElement;
    expect(fri.querySelector(".free-count")?.textContent).toBe("Not imported for this day");
    expect(grid.textContent).toContain("Calendar imported for Feb 25 – Jun 2");
    const leeCell = grid.querySelector('.cell[data-provider="Dr. Lee"][data-day="2026-03-04"]') as HTMLElement;
    expect(leeCell.querySelector(".free-count")?.textContent).toBe("No calendar imported");
    expect(leeCell.dataset.freeCount).toBe("0");
    // A spreadsheet provider with slots in other weeks is not "without a calendar or schedule".
    w.providers[2] = { ...lee, publishes_slots: true };
    const g2 = renderWeek(w, { onOpen: () => {}, locale: "en-US" });
    expect(g2.querySelector('.cell[data-provider="Dr. Lee"][data-day="2026-03-04"] .free-count')?.textContent).toBe("No slots listed");
    expect(g2.textContent).not.toContain("No calendar or schedule imported yet");
  });
});
