// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import type { ProviderView, Week } from "../bindings";
import { compactRange, nextFocus, renderWeek } from "./week";

const rivera: ProviderView = {
  id: 1,
  name: "Dr. Ana Rivera (Demo)",
  tz: "America/New_York",
  tz_abbrev: "EST",
  tz_note: "Clocks change Sun Mar 8 (EST → EDT)",
  demo: true,
  hours: "Mon 08:00-16:00; Tue 08:00-16:00; Wed 08:00-16:00; Thu 08:00-16:00; Fri 08:00-16:00",
  slot_minutes: 30,
};
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

  it("writes busy ranges compactly", () => {
    expect(compactRange("2026-03-04T17:00:00Z", "2026-03-04T18:00:00Z", "America/New_York", "en-US")).toBe("12:00–1:00p");
    expect(compactRange("2026-03-04T16:30:00Z", "2026-03-04T17:30:00Z", "America/New_York", "en-US")).toBe("11:30a–12:30p");
  });
});
