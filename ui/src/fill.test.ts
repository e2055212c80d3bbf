import { describe, expect, it } from "vitest";
import { durationWords, fitText, modelNote, noticeWords, openingLabel, openingState, preferencesSummary, validWindow, whenText } from "./fill";
import { opening, waitlistEntry } from "./test-fixtures";

const NOW = Date.parse("2026-12-08T15:00:00Z");

describe("fill words", () => {
  it("shows a time in the provider's zone, not the computer's", () => {
    expect(whenText("2026-12-08T15:30:00Z", "America/New_York")).toBe("Tue Dec 8, 10:30 AM");
    expect(whenText("2026-12-08T15:30:00Z", "America/Los_Angeles")).toBe("Tue Dec 8, 7:30 AM");
    // Past midnight UTC, still the evening before in Chicago.
    expect(whenText("2026-12-09T02:00:00Z", "America/Chicago")).toBe("Tue Dec 8, 8:00 PM");
    expect(openingLabel(opening({ location: null }))).toBe("Dr. Rivera · Tue Dec 8, 10:30 AM");
  });

  it("names an opening's state", () => {
    expect(openingState(opening(), NOW)).toEqual({ state: "free", text: "Free" });
    expect(openingState(opening({ held_until: "2026-12-08T15:45:00Z" }), NOW)).toEqual({ state: "held", text: "Held until 10:45 AM" });
    expect(openingState(opening({ held_until: "2026-12-08T14:59:00Z" }), NOW)).toEqual({ state: "free", text: "Free" });
    expect(openingState(opening({ still_free: false, filled: true }), NOW)).toEqual({ state: "booked", text: "Booked" });
    expect(openingState(opening({ still_free: false }), NOW)).toEqual({ state: "taken", text: "Taken" });
  });

  it("says how long filling took in minutes, hours or days", () => {
    expect([null, 0.4, 1, 42.4, 60, 95, 24 * 60 - 1, 24 * 60, 27 * 60 + 10, 48 * 60].map(durationWords)).toEqual([
      "—",
      "Under a minute",
      "1 minute",
      "42 minutes",
      "1 hour",
      "1 hour 35 minutes",
      "23 hours 59 minutes",
      "1 day",
      "1 day 3 hours",
      "2 days",
    ]);
  });

  it("counts patients, days and notice in plain words", () => {
    expect([fitText(3, 42), fitText(1, 42), fitText(0, 1), fitText(0, 0)]).toEqual([
      "3 of 42 waiting patients fit",
      "1 of 42 waiting patients fits",
      "0 of 1 waiting patient fit",
      "Nobody is on the waitlist yet",
    ]);
    expect([0, 1, 20, 47, 48, 100].map(noticeWords)).toEqual(["Less than an hour's notice", "1 hour's notice", "20 hours' notice", "47 hours' notice", "2 days' notice", "4 days' notice"]);
  });

  it("summarizes a patient's limits, and checks preferred times", () => {
    expect(preferencesSummary(waitlistEntry())).toBe("Any time");
    expect(preferencesSummary(waitlistEntry({ preferred_times: ["08:00-12:00", "16:30-24:00"], blocked_dates: ["2026-12-24", "2026-12-31"] }))).toBe(
      "8:00–12:00, 16:30–24:00 · not on 2 dates",
    );
    expect(["08:00-12:00", "18:00-24:00", "12:00-08:00", "09:00-09:00", "8:00-12:00", "24:00-24:30", "10:61-11:00"].map(validWindow)).toEqual([true, true, false, false, false, false, false]);
  });

  it("gives the hosted-service note for any address but this computer", () => {
    expect(modelNote("")).toBe("");
    expect(modelNote("http://127.0.0.1:11434/v1")).toBe("Nothing leaves this computer.");
    expect(modelNote("http://localhost:8080/v1")).toBe("Nothing leaves this computer.");
    expect(modelNote("https://llm.example.org/v1")).toMatch(/^A hosted service receives de-identified scheduling details\./);
    expect(modelNote("not a url")).toMatch(/^A hosted service/);
  });
});
