import { describe, expect, it } from "vitest";
import { addDays, clockTime, compactHours, dayName, formatTimeRange, formatZonedRange, relativeTime, timeUntil, workingDays, zoneAbbrev, zoneCity, zoneOffsetMinutes } from "./time";

describe("dates", () => {
  it("adds days across months and DST without shifting", () => {
    expect(addDays("2026-03-02", 7)).toBe("2026-03-09");
    expect(addDays("2026-03-02", -7)).toBe("2026-02-23");
    expect(addDays("2026-10-26", 7)).toBe("2026-11-02");
    expect(dayName("2026-03-04")).toBe("Wed");
    expect(dayName("2026-03-08")).toBe("Sun");
  });
});

describe("times in each provider's zone", () => {
  it("shows the same instant in New York and Los Angeles", () => {
    expect(clockTime("2026-03-04T14:00:00Z", "America/New_York", "en-US")).toEqual({ time: "9:00", period: "am" });
    expect(clockTime("2026-03-04T14:00:00Z", "America/Los_Angeles", "en-US")).toEqual({ time: "6:00", period: "am" });
    expect(clockTime("2026-03-04T14:00:00Z", "Europe/Berlin", "de-DE")).toEqual({ time: "15:00", period: "" });
    expect(formatTimeRange("2026-03-04T16:30:00Z", "2026-03-04T17:30:00Z", "America/New_York", "en-US")).toBe("11:30 AM – 12:30 PM");
    expect(formatTimeRange("2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z", "America/New_York", "en-US")).toBe("9:00 – 9:30 AM");
  });

  it("names zones and their offsets, across a DST change", () => {
    expect(zoneAbbrev("2026-03-04T14:00:00Z", "America/New_York")).toBe("EST");
    expect(zoneAbbrev("2026-03-09T14:00:00Z", "America/New_York")).toBe("EDT");
    expect(zoneAbbrev("2026-03-04T14:00:00Z", "America/Chicago")).toBe("CST");
    expect(zoneOffsetMinutes("2026-03-04T14:00:00Z", "America/New_York")).toBe(-300);
    expect(zoneOffsetMinutes("2026-03-09T14:00:00Z", "America/New_York")).toBe(-240);
    expect(zoneOffsetMinutes("2026-03-04T14:00:00Z", "Asia/Kolkata")).toBe(330);
    expect(zoneCity("America/Los_Angeles")).toBe("Los Angeles");
  });

  it("names each end's own zone when the clocks change inside a range", () => {
    // Spring forward, 8 Mar 2026: 1:00 EST to 3:00 EDT is one hour.
    expect(formatZonedRange("2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "America/New_York", "en-US")).toBe("1:00 AM EST – 3:00 AM EDT");
    // Fall back, 1 Nov 2026: 1:00 EDT to 1:00 EST is one hour.
    expect(formatZonedRange("2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "America/New_York", "en-US")).toBe("1:00 AM EDT – 1:00 AM EST");
    expect(formatZonedRange("2026-03-04T14:00:00Z", "2026-03-04T14:30:00Z", "America/New_York", "en-US")).toBe("9:00 – 9:30 AM EST");
    expect(zoneAbbrev("2026-11-01T05:30:00Z", "America/New_York")).toBe("EDT");
    expect(zoneAbbrev("2026-11-01T06:30:00Z", "America/New_York")).toBe("EST");
  });

  it("says how long ago a source synced", () => {
    const now = Date.parse("2026-03-04T15:00:00Z");
    expect(relativeTime("2026-03-04T15:00:00Z", now)).toBe("just now");
    expect(relativeTime("2026-03-04T14:57:00Z", now)).toBe("3 min ago");
    expect(relativeTime("2026-03-04T13:00:00Z", now)).toBe("2 hours ago");
    expect(relativeTime("2026-03-03T13:00:00Z", now)).toBe("yesterday");
  });
});

describe("working hours", () => {
  it("compacts runs of equal days", () => {
    const spec = "Mon 08:00-16:00; Tue 08:00-16:00; Wed 08:00-16:00; Thu 08:00-16:00; Fri 08:00-16:00";
    expect(compactHours(spec)).toBe("Mon–Fri 08:00–16:00");
    expect(compactHours("Mon 07:00-12:00; Mon 13:00-17:00; Wed 09:00-10:00")).toBe("Mon 07:00–12:00, 13:00–17:00; Wed 09:00–10:00");
    expect([...workingDays(spec)]).toEqual(["Mon", "Tue", "Wed", "Thu", "Fri"]);
  });
});

describe("time until an instant", () => {
  const now = Date.parse("2026-03-04T15:00:00Z");
  it("rounds up to the minute and says now when it has come", () => {
    expect(timeUntil("2026-03-04T15:00:00Z", now)).toBe("now");
    expect(timeUntil("2026-03-04T14:00:00Z", now)).toBe("now");
    expect(timeUntil("2026-03-04T15:00:01Z", now)).toBe("in 1 min");
    expect(timeUntil("2026-03-04T15:12:00Z", now)).toBe("in 12 min");
    expect(timeUntil("2026-03-04T15:59:30Z", now)).toBe("in 1 hour");
    expect(timeUntil("2026-03-04T16:30:00Z", now)).toBe("in 1 hour");
    expect(timeUntil("2026-03-04T18:00:00Z", now)).toBe("in 3 hours");
    expect(timeUntil("2026-03-05T15:00:00Z", now)).toBe("in 1 day");
    expect(timeUntil("2026-03-07T16:00:00Z", now)).toBe("in 3 days");
  });
});
