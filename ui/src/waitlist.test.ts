// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Api } from "./api";
import type { WaitlistEntryDto } from "./bindings";
import { fakeApi, waitlistEntry } from "./test-fixtures";
import type { WaitlistPageDeps } from "./waitlist-page";
import { createWaitlistPage } from "./waitlist-page";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const text = (el: Element | null | undefined) => (el?.textContent ?? "").replace(/\s+/g, " ").trim();
const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel) as T;
const click = (sel: string) => $<HTMLButtonElement>(sel).click();
const type = (sel: string, value: string) => {
  const el = $<HTMLInputElement | HTMLSelectElement>(sel);
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
};

/** The page over a fake waitlist kept in `list`; `save` adds or replaces like the shell. */
function page(list: WaitlistEntryDto[], over: Partial<Api> = {}, deps: Partial<WaitlistPageDeps> = {}) {
  let nextId = 100;
  const saveWaitlistEntry = vi.fn(async (e: WaitlistEntryDto): Promise<WaitlistEntryDto> => {
    const saved = { ...e, id: e.id ?? nextId++, added_on: e.added_on ?? "2026-03-04" };
    const at = list.findIndex((x) => x.id === saved.id);
    if (at >= 0) list[at] = saved;
    else list.push(saved);
    return saved;
  });
  const api: Api = { ...fakeApi(), waitlist: async () => [...list], saveWaitlistEntry, ...over };
  const notify = vi.fn();
  const openSlot = vi.fn();
  const container = document.createElement("main");
  document.body.append(container);
  const p = createWaitlistPage(container, {
    api,
    notify,
    zones: async () => ["America/Chicago", "America/New_York"],
    deskZone: () => "America/New_York",
    providers: () => [{ name: "Dr. Rivera", tz: "America/New_York" }],
    locations: () => ["Main St"],
    ensureStaff: async () => true,
    openSlot,
    ...deps,
  });
  return { p, api, notify, openSlot, saveWaitlistEntry, container };
}

beforeEach(() => document.body.replaceChildren());
afterEach(() => document.body.replaceChildren());

describe("the Waitlist page", () => {
  it("lists patients with what they want and when they can come", async () => {
    const { p, container } = page([
      waitlistEntry(),
      waitlistEntry({
        id: 12,
        display_name: "Ben Ortiz",
        phone: null,
        priority: "urgent",
        service_type: "Check-up",
        provider: "Dr. Rivera",
        duration_minutes: 30,
        locations: ["Main St"],
        preferred_times: ["08:00-12:00"],
        blocked_weekdays: ["Sat", "Sun"],
        min_notice_hours: 24,
        latest_date: "2026-12-31",
      }),
    ]);
    await p.load();
    const rows = Array.from(container.querySelectorAll("#waitlist-table tbody tr")).map((tr) => [
      text(tr.querySelector(".patient-name")),
      text(tr.querySelector(".phone")),
      ...Array.from(tr.children).slice(1, 5).map(text),
    ]);
    expect(rows).toEqual([
      ["Ana Lopez", "555-0101", "Routine", "Any visit", "Any time", "2026-10-28"],
      ["Ben Ortiz", "", "Urgent", "Check-up · Dr. Rivera · 30 min · Main St", "8:00–12:00 · not Sat, Sun · 24 hours' notice · by 2026-12-31", "2026-10-28"],
    ]);
  });

  it("adds a patient with every field as typed", async () => {
    const list: WaitlistEntryDto[] = [];
    const { p, container, saveWaitlistEntry, notify } = page(list);
    await p.load();
    expect(text(container.querySelector("#waitlist-empty"))).toContain("Nobody is waiting yet.");
    click("#waitlist-add");
    await tick();
    expect(text($("dialog.waitlist-entry h2"))).toBe("Add a waiting patient");
    expect($<HTMLSelectElement>("#wl-tz").value).toBe("America/New_York");
    type("#wl-name", "  Cy Park ");
    type("#wl-phone", "555-0103");
    type("#wl-email", "cy@example.org");
    type("#wl-tz", "America/Chicago");
    type("#wl-priority", "soon");
    type("#wl-service", "Check-up");
    type("#wl-provider", "Dr. Rivera");
    type("#wl-duration", "30");
    click('[data-add="locations"]');
    type('#wl-locations [data-part="location"]', "Main St");
    click('[data-add="times"]');
    type('#wl-times [data-part="from"]', "08:00");
    type('#wl-times [data-part="to"]', "12:00");
    // A second time ending at midnight means the end of the day.
    click('[data-add="times"]');
    const [, from2] = Array.from(document.querySelectorAll<HTMLInputElement>('#wl-times [data-part="from"]'));
    const [, to2] = Array.from(document.querySelectorAll<HTMLInputElement>('#wl-times [data-part="to"]'));
    from2.value = "18:00";
    to2.value = "00:00";
    for (const d of ["Sat", "Sun"]) $<HTMLInputElement>(`#wl-weekdays input[value="${d}"]`).checked = true;
    click('[data-add="dates"]');
    type('#wl-dates [data-part="date"]', "2026-12-24");
    type("#wl-notice", "24");
    type("#wl-latest", "2026-12-31");
    click('[data-add="ids"]');
    type('#wl-ids [data-part="integration"]', "Main St Epic");
    type('#wl-ids [data-part="patient-id"]', "E1234");
    // An empty row is left out.
    click('[data-add="dates"]');
    click("#wl-save");
    await tick();
    expect(saveWaitlistEntry).toHaveBeenCalledWith({
      id: null,
      display_name: "Cy Park",
      phone: "555-0103",
      email: "cy@example.org",
      tz: "America/Chicago",
      source_ids: [{ integration: "Main St Epic", patient_id: "E1234" }],
      service_type: "Check-up",
      provider: "Dr. Rivera",
      locations: ["Main St"],
      duration_minutes: 30,
      priority: "soon",
      added_on: null,
      blocked_weekdays: ["Sat", "Sun"],
      blocked_dates: ["2026-12-24"],
      preferred_times: ["08:00-12:00", "18:00-24:00"],
      min_notice_hours: 24,
      latest_date: "2026-12-31",
    });
    expect(document.querySelector("dialog.waitlist-entry")).toBeNull();
    expect(notify).toHaveBeenCalledWith("success", "Cy Park was added to the waitlist");
    await tick();
    expect(Array.from(container.querySelectorAll("#waitlist-table tbody tr")).map((tr) => (tr as HTMLElement).dataset.waitlistId)).toEqual(["100"]);
  });

  it("edits a patient, and shows a save error in the dialog without losing what was typed", async () => {
    const list = [waitlistEntry({ preferred_times: ["09:00-11:00"], source_ids: [{ integration: "Main St Epic", patient_id: "E1" }] })];
    let refuse = true;
    const { p, container, saveWaitlistEntry } = page(list);
    const save = saveWaitlistEntry.getMockImplementation() as (e: WaitlistEntryDto) => Promise<WaitlistEntryDto>;
    saveWaitlistEntry.mockImplementation(async (e) => {
      if (refuse) throw "latest date: 2026-02-30 is not a date like 2026-12-31";
      return save(e);
    });
    await p.load();
    (container.querySelector('tr[data-waitlist-id="11"] [data-action="edit"]') as HTMLButtonElement).click();
    await tick();
    expect(text($("dialog.waitlist-entry h2"))).toBe("Edit Ana Lopez");
    expect($<HTMLInputElement>('#wl-times [data-part="from"]').value).toBe("09:00");
    expect($<HTMLInputElement>('#wl-ids [data-part="patient-id"]').value).toBe("E1");
    type("#wl-name", "Ana Lopez-Diaz");
    type("#wl-priority", "urgent");
    // Only the first row is removed.
    click("#wl-times [data-remove-row]");
    click("#wl-save");
    await tick();
    expect(text($("#wl-error"))).toBe("latest date: 2026-02-30 is not a date like 2026-12-31");
    expect($("dialog.waitlist-entry").hasAttribute("open")).toBe(true);
    expect($<HTMLInputElement>("#wl-name").value).toBe("Ana Lopez-Diaz");
    expect($<HTMLButtonElement>("#wl-save").disabled).toBe(false);
    refuse = false;
    click("#wl-save");
    await tick();
    const sent = saveWaitlistEntry.mock.calls.at(-1)?.[0];
    expect([sent?.id, sent?.display_name, sent?.priority, sent?.preferred_times, sent?.source_ids, sent?.added_on]).toEqual([
      11,
      "Ana Lopez-Diaz",
      "urgent",
      [],
      [{ integration: "Main St Epic", patient_id: "E1" }],
      "2026-10-28",
    ]);
    await tick();
    expect(text(container.querySelector('tr[data-waitlist-id="11"] .patient-name'))).toBe("Ana Lopez-Diaz");
  });

  it("says what to correct before saving a bad preferred time", async () => {
    const { p, saveWaitlistEntry } = page([]);
    await p.load();
    click("#waitlist-add");
    await tick();
    type("#wl-name", "Cy Park");
    click('[data-add="times"]');
    type('#wl-times [data-part="from"]', "12:00");
    type('#wl-times [data-part="to"]', "08:00");
    click("#wl-save");
    await tick();
    expect(text($("#wl-error"))).toBe("Each preferred time needs a start before its end, e.g. 08:00 to 12:00.");
    expect(saveWaitlistEntry).not.toHaveBeenCalled();
  });

  it("removes a patient only after confirming", async () => {
    const list = [waitlistEntry(), waitlistEntry({ id: 12, display_name: "Ben Ortiz" })];
    const removeWaitlistEntry = vi.fn(async (id: number) => {
      list.splice(
        list.findIndex((e) => e.id === id),
        1,
      );
    });
    const { p, container } = page(list, { removeWaitlistEntry });
    await p.load();
    (container.querySelector('tr[data-waitlist-id="12"] [data-action="remove"]') as HTMLButtonElement).click();
    await tick();
    expect(text($("#remove-patient-title"))).toBe("Take Ben Ortiz off the waitlist?");
    click("dialog.confirm .btn:not(.danger)");
    await tick();
    expect(removeWaitlistEntry).not.toHaveBeenCalled();
    (container.querySelector('tr[data-waitlist-id="12"] [data-action="remove"]') as HTMLButtonElement).click();
    await tick();
    click("#confirm-remove-patient");
    await tick();
    expect(removeWaitlistEntry).toHaveBeenCalledWith(12);
    await tick();
    expect(Array.from(container.querySelectorAll("#waitlist-table tbody tr")).map((tr) => (tr as HTMLElement).dataset.waitlistId)).toEqual(["11"]);
  });

  it("imports a spreadsheet picked with the file picker, and says why one was refused", async () => {
    const importWaitlist = vi.fn(async (path: string) => {
      if (path.endsWith("bad.csv")) throw "bad.csv line 3, column tz: 'Mars/Olympus' is not a time zone";
      return { file: "waitlist.csv", added: 12 };
    });
    const pickFile = vi.fn(async () => "/home/desk/waitlist.csv");
    const { p, notify } = page([], { importWaitlist }, { pickFile });
    await p.load();
    click("#waitlist-import");
    await tick();
    expect(importWaitlist).toHaveBeenCalledWith("/home/desk/waitlist.csv");
    expect(notify).toHaveBeenLastCalledWith("success", "12 patients added from waitlist.csv");
    pickFile.mockResolvedValueOnce("/home/desk/bad.csv");
    click("#waitlist-import");
    await tick();
    expect(notify).toHaveBeenLastCalledWith("error", "The waitlist spreadsheet was not imported", [
      "bad.csv line 3, column tz: 'Mars/Olympus' is not a time zone",
      "Nothing was added. Correct the file and import it again.",
    ]);
    // Cancelling the picker imports nothing.
    pickFile.mockResolvedValueOnce(null as unknown as string);
    click("#waitlist-import");
    await tick();
    expect(importWaitlist).toHaveBeenCalledTimes(2);
  });

  it("finds a patient's best free times in the provider's zone, and offers one", async () => {
    const patientOptions = vi.fn(async (patientId: number) => ({
      patient_id: patientId,
      suitable: 5,
      options: [
        { slot_id: "slot-7", provider: "Dr. Rivera", start: "2026-12-08T15:30:00Z", end: "2026-12-08T16:00:00Z", patient_local_start: "2026-12-08 09:30", reason: "Prefers mornings", karma_bonus: 0 },
        { slot_id: "slot-9", provider: "Dr. Unknown", start: "2026-12-09T15:30:00Z", end: "2026-12-09T16:00:00Z", patient_local_start: "2026-12-09 09:30", reason: "Any time", karma_bonus: 10 },
      ],
    }));
    const offerSlot = vi.fn(async () => ({ slot_id: "slot-7", patient_id: 11, display_name: "Ana Lopez", staff: "Maria", expires_at: "2026-03-04T15:15:00Z" }));
    const { p, container, openSlot, notify } = page([waitlistEntry()], { patientOptions, offerSlot });
    await p.load();
    (container.querySelector('tr[data-waitlist-id="11"] [data-action="times"]') as HTMLButtonElement).click();
    await tick();
    expect(patientOptions).toHaveBeenCalledWith(11);
    const options = Array.from(document.querySelectorAll<HTMLElement>("dialog.patient-options li[data-option-slot]"));
    expect(options.map((li) => text(li.querySelector("strong")))).toEqual(["Dr. Rivera · Tue Dec 8, 10:30 AM", "Dr. Unknown · 2026-12-09 09:30 (the patient's time)"]);
    expect(text($("dialog.patient-options"))).toContain("5 free times suit Ana Lopez in the next 30 days; these are the earliest.");
    (options[0].querySelector('[data-action="offer-option"]') as HTMLButtonElement).click();
    await tick();
    expect(offerSlot).toHaveBeenCalledWith("slot-7", 11);
    expect(document.querySelector("dialog.patient-options")).toBeNull();
    expect(openSlot).toHaveBeenCalledWith("slot-7");
    expect(notify).toHaveBeenLastCalledWith("success", "The time is held for Ana Lopez", ["Until 10:15 AM. Call the patient, then Book or Release it on the Openings page."]);
  });
});
