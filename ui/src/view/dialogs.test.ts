// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from "vitest";
import type { FileCheck, ProviderView, SlotDto, SourceView } from "../bindings";
import { providerView } from "../test-fixtures";
import { askDateOrder, showDetails } from "./dialogs";

const owl: ProviderView = providerView({ id: 3, name: "Dr. Night Owl", hours: "Sun 00:00-06:00", calendar_from: null, calendar_to: null });

const openDialog = () => document.querySelector("dialog") as HTMLDialogElement;
const close = (d: HTMLDialogElement, value: string) => {
  d.returnValue = value;
  d.close(value);
};

afterEach(() => document.body.replaceChildren());

describe("dialogs", () => {
  it("asks whether a spreadsheet's dates are day first or month first", async () => {
    const file: FileCheck = {
      path: "/x/ambiguous.csv",
      name: "ambiguous.csv",
      kind: "spreadsheet",
      needs_provider: false,
      calendar_name: null,
      calendar_zone: null,
      problem: null,
      date_question: { value: "03/04/2026", line: 2, column: "date", day_first: "3 April 2026", month_first: "March 4, 2026" },
    };
    const answer = askDateOrder(file, file.date_question!);
    const d = openDialog();
    expect(d.querySelector("h2")?.textContent).toBe("Does 03/04/2026 mean 3 April or March 4?");
    expect(d.querySelector("#date-order-dmy")?.textContent).toBe("Day first (3 April)");
    expect(d.querySelector("#date-order-mdy")?.textContent).toBe("Month first (March 4)");
    expect(d.textContent).toContain("ambiguous.csv");
    close(d, "mdy");
    expect(await answer).toBe("mdy");
    const cancelled = askDateOrder(file, file.date_question!);
    close(openDialog(), "cancel");
    expect(await cancelled).toBeNull();
  });

  it("shows each end of a busy time in its own zone across the clock change", async () => {
    const done = showDetails(
      {
        kind: "busy",
        provider: owl,
        busy: { id: "owl/h/", provider_id: 3, days: ["2026-03-08"], start: "2026-03-08T06:00:00Z", end: "2026-03-08T07:00:00Z", all_day: false, summary: "Weekly huddle", status: "busy", source: "owl", uid: "h" },
      },
      "en-US",
    );
    const d = openDialog();
    expect(d.textContent).toContain("1:00 AM EST – 3:00 AM EDT");
    close(d, "close");
    await done;
  });

  it("says a past free time can no longer be booked", async () => {
    const done = showDetails(
      {
        kind: "slot",
        provider: owl,
        past: true,
        slot: { id: "grid-3-x", provider_id: 3, day: "2026-03-08", start: "2026-03-08T05:00:00Z", end: "2026-03-08T05:30:00Z", status: "free", source: "working-hours", location: null },
      },
      "en-US",
    );
    const d = openDialog();
    expect(d.querySelector("h2")?.textContent).toBe("Free slot (already passed)");
    expect(d.textContent).toContain("can no longer be booked");
    close(d, "close");
    await done;
  });

  it("names a synced time's source and the system it came from", async () => {
    const park = providerView({ id: 9, name: "Dr. Lena Park", has_calendar: false, publishes_slots: true });
    const slot: SlotDto = { id: "slot-41", provider_id: 9, day: "2026-03-05", start: "2026-03-05T14:00:00Z", end: "2026-03-05T14:30:00Z", status: "free", source: "Harbor FHIR", location: "Harbor Clinic" };
    const sources: SourceView[] = [{ id: 3, name: "Harbor FHIR", kind: "integration", system: "FHIR server", provider: null, last_sync_at: "2026-03-04T15:00:00Z", demo: false }];
    const done = showDetails({ kind: "slot", provider: park, slot }, "en-US", sources);
    const d = openDialog();
    const rows = Array.from(d.querySelectorAll(".kv")).map((r) => [r.querySelector("dt")?.textContent, r.querySelector("dd")?.textContent]);
    expect(rows).toContainEqual(["Source", "Harbor FHIR · synced from FHIR server"]);
    expect(rows).toContainEqual(["Location", "Harbor Clinic"]);
    close(d, "close");
    await done;
    // Without the week's sources the name alone is shown.
    const plain = showDetails({ kind: "slot", provider: park, slot }, "en-US");
    const d2 = openDialog();
    expect(Array.from(d2.querySelectorAll(".kv")).map((r) => r.querySelector("dd")?.textContent)).toContain("Harbor FHIR");
    close(d2, "close");
    await plain;
  });
});
