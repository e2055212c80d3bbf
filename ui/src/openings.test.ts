// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Api, ListenOpeningsFound, ListenOpenSlot } from "./api";
import type { Backend } from "./app";
import { startApp } from "./app";
import type { HoldDto, OpeningDto, OpenSlot, StaffView, SuggestionsView } from "./bindings";
import { fakeApi, fillView, freshRoot, opening, suggestion, suggestionsView } from "./test-fixtures";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const text = (el: Element | null | undefined) => (el?.textContent ?? "").replace(/\s+/g, " ").trim();
const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel) as T;
const click = (sel: string) => $<HTMLButtonElement>(sel).click();
/** The top bar's "At the desk: Maria · Change", part by part. */
const deskParts = () => Array.from($("#staff-box").children).map(text);

/** A promise with its resolve and reject, to answer a command when the test says so. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

/** The shell with events the test can fire; `api` is `fakeApi()` with the overrides. */
function shell(over: Partial<Api> = {}) {
  const api: Api = { ...fakeApi(), ...over };
  let found: Parameters<ListenOpeningsFound>[0] | null = null;
  let open: Parameters<ListenOpenSlot>[0] | null = null;
  const backend: Backend = {
    api,
    onStoreChanged: async () => () => undefined,
    onDragDrop: async () => undefined,
    pickFiles: async () => [],
    onOpeningsFound: async (h) => {
      found = h;
      return () => undefined;
    },
    onOpenSlot: async (h) => {
      open = h;
      return () => undefined;
    },
  };
  return { api, backend, found: (o: OpeningDto[]) => found?.(o), open: (o: OpenSlot) => open?.(o) };
}

/** Starts the app, then picks slot-7 on the Openings page. */
async function showSlot7(s: ReturnType<typeof shell>): Promise<void> {
  await startApp(root, s.backend);
  click("#tab-openings");
  await tick();
  click('[data-opening-slot="slot-7"]');
  await tick();
}

const HOLD: HoldDto = { slot_id: "slot-7", patient_id: 11, display_name: "Ana Lopez", staff: "Maria", expires_at: "2026-03-04T15:15:00Z" };

let root: HTMLElement;
beforeEach(() => {
  root = freshRoot();
});
afterEach(() => document.body.replaceChildren());

describe("who is at the desk", () => {
  it("asks at start when nobody is chosen: a name is required, recent names are one click", async () => {
    const setStaff = vi.fn(async (name: string): Promise<StaffView> => ({ current: name, recent: [name, "Maria"], os_user: "desk" }));
    const s = shell({ staff: async () => ({ current: null, recent: ["Maria", "Tom"], os_user: "desk" }), setStaff });
    await startApp(root, s.backend);
    await tick();
    const dialog = $("dialog.staff-picker");
    expect(dialog?.hasAttribute("open")).toBe(true);
    expect(text(dialog.querySelector("h2"))).toBe("Who is at the desk?");
    expect(Array.from(dialog.querySelectorAll("[data-staff-name]")).map(text)).toEqual(["Maria", "Tom"]);
    expect(deskParts()).toEqual(["At the desk:", "nobody yet", "·", "Choose"]);
    // Start with an empty (or blank) name says what to do and calls nothing.
    $<HTMLInputElement>("#staff-name").value = "   ";
    click("#staff-start");
    await tick();
    expect(text($("#staff-error"))).toBe("Type your name, or pick it from the list.");
    expect(setStaff).not.toHaveBeenCalled();
    // A typed name is trimmed.
    $<HTMLInputElement>("#staff-name").value = "  Jo Smith ";
    click("#staff-start");
    await tick();
    expect(setStaff).toHaveBeenCalledWith("Jo Smith");
    expect(document.querySelector("dialog.staff-picker")).toBeNull();
    expect(deskParts()).toEqual(["At the desk:", "Jo Smith", "·", "Change"]);
    // Change reopens it; a recent name is chosen with one click.
    click("#staff-change");
    await tick();
    (document.querySelector('dialog.staff-picker [data-staff-name="Tom"]') as HTMLButtonElement).click();
    await tick();
    expect(setStaff).toHaveBeenLastCalledWith("Tom");
    expect(text($("#staff-current"))).toBe("Tom");
  });

  it("does not ask when someone is already at the desk", async () => {
    const s = shell();
    await startApp(root, s.backend);
    await tick();
    expect(document.querySelector("dialog.staff-picker")).toBeNull();
    expect(deskParts()).toEqual(["At the desk:", "Maria", "·", "Change"]);
  });

  it("asks before an offer when nobody is chosen, then offers", async () => {
    const offerSlot = vi.fn(async () => HOLD);
    const s = shell({
      staff: async () => ({ current: null, recent: [], os_user: "desk" }),
      setStaff: async (name) => ({ current: name, recent: [name], os_user: "desk" }),
      fillView: async () => fillView({ staff: null }),
      fillSuggestions: async () => suggestionsView(),
      offerSlot,
    });
    await startApp(root, s.backend);
    await tick();
    click("#staff-cancel"); // "Not now" at start
    await tick();
    click("#tab-openings");
    await tick();
    click('[data-opening-slot="slot-7"]');
    await tick();
    click('[data-suggestion-patient="11"] [data-action="offer"]');
    await tick();
    expect(offerSlot).not.toHaveBeenCalled();
    expect($("dialog.staff-picker")?.hasAttribute("open")).toBe(true);
    $<HTMLInputElement>("#staff-name").value = "Maria";
    click("#staff-start");
    await tick();
    expect(offerSlot).toHaveBeenCalledWith("slot-7", 11);
  });
});

describe("the Openings page", () => {
  it("lists openings with their state, between Week and Integrations", async () => {
    const s = shell({
      fillView: async () =>
        fillView({
          openings: [
            opening(),
            opening({ slot_id: "slot-8", held_until: "2026-03-04T15:45:00Z", location: null }),
            opening({ slot_id: "slot-9", still_free: false, filled: true }),
            opening({ slot_id: "slot-10", still_free: false }),
            // A hold that ran out is free again.
            opening({ slot_id: "slot-11", held_until: "2026-03-04T14:00:00Z" }),
          ],
        }),
    });
    await startApp(root, s.backend);
    expect(Array.from(root.querySelectorAll(".tabs .tab")).map((t) => t.id)).toEqual(["tab-week", "tab-openings", "tab-waitlist", "tab-integrations"]);
    click("#tab-openings");
    await tick();
    expect($("#openings").hidden).toBe(false);
    expect($("#main").hidden).toBe(true);
    expect($("#tab-openings").getAttribute("aria-current")).toBe("page");
    const items = Array.from(root.querySelectorAll<HTMLElement>("[data-opening-slot]"));
    expect(items.map((b) => [b.dataset.openingSlot, text(b.querySelector(".opening-label")), text(b.querySelector(".state-pill"))])).toEqual([
      ["slot-7", "Dr. Rivera · Tue Dec 8, 10:30 AM · Main St", "Free"],
      ["slot-8", "Dr. Rivera · Tue Dec 8, 10:30 AM", "Held until 10:45 AM"],
      ["slot-9", "Dr. Rivera · Tue Dec 8, 10:30 AM · Main St", "Booked"],
      ["slot-10", "Dr. Rivera · Tue Dec 8, 10:30 AM · Main St", "Taken"],
      ["slot-11", "Dr. Rivera · Tue Dec 8, 10:30 AM · Main St", "Free"],
    ]);
    expect(text($("#fill-panel .panel-empty"))).toBe("Pick an opening to see who on the waitlist can take it.");
  });

  it("explains where openings come from when there are none", async () => {
    const s = shell();
    await startApp(root, s.backend);
    click("#tab-openings");
    await tick();
    expect(text($("#openings-list h2"))).toBe("No openings yet");
    expect(text($("#openings-list"))).toContain("When a patient cancels in a connected system, the freed time appears here");
    expect(text($("#fill-stats"))).toBe("No openings in the last 30 days.");
  });

  it("shows MedHarmony's ranking at once, then the language model's when it answers", async () => {
    const model = deferred<SuggestionsView>();
    const fillSuggestions = vi.fn((_slot: string, askModel: boolean) => (askModel ? model.promise : Promise.resolve(suggestionsView())));
    const s = shell({ fillView: async () => fillView({ model_on: true }), fillSuggestions });
    await showSlot7(s);
    expect(fillSuggestions.mock.calls).toEqual([
      ["slot-7", false],
      ["slot-7", true],
    ]);
    expect($('[data-opening-slot="slot-7"]').getAttribute("aria-pressed")).toBe("true");
    expect(text($("#fill-title"))).toBe("Dr. Rivera · Tue Dec 8, 10:30 AM · Main St");
    expect(text($("#fill-fit"))).toBe("3 of 42 waiting patients fit");
    expect($("#ranked-by").dataset.rankedBy).toBe("deterministic");
    expect($("#ranked-by").firstChild?.textContent).toBe("Ranked by MedHarmony's rules");
    expect(text($("#model-wait"))).toBe("Asking the language model; its order fills in when ready");
    expect(Array.from(root.querySelectorAll<HTMLElement>("[data-suggestion-patient]")).map((li) => li.dataset.suggestionPatient)).toEqual(["11", "12", "13"]);
    const ana = $('[data-suggestion-patient="11"]');
    expect(Array.from(ana.querySelector(".suggestion-head")?.children ?? []).map(text)).toEqual(["Ana Lopez", "Urgent", "+30 karma"]);
    expect(text(ana.querySelector(".phone"))).toBe("555-0101");
    expect(text(ana.querySelector(".reason"))).toBe("Waiting 41 days · prefers mornings · urgent");
    expect(text(ana.querySelector(".facts"))).toBe("20 hours' notice");
    expect(ana.querySelector(".karma")?.getAttribute("title")).toBe(
      "Short-notice bonus: taking this time at 20 hours' notice earns 30 karma points (under 24 hours: 30, under 48 hours: 20, under 72 hours: 10). Everyone offered this time gets the same bonus, so it does not change the order.",
    );
    // Only Cy Park lacks an id in the time's system: Book needs it, Offer stays.
    expect(Array.from(root.querySelectorAll(".suggestion .no-source-id")).map((n) => n.closest<HTMLElement>("li")?.dataset.suggestionPatient)).toEqual(["13"]);
    expect($<HTMLButtonElement>('[data-suggestion-patient="13"] [data-action="offer"]').disabled).toBe(false);

    model.resolve(
      suggestionsView({
        ranked_by: "llm",
        model_asked: true,
        suggestions: [suggestion({ patient_id: 12, display_name: "Ben Ortiz", priority: "soon", model_reason: "Lives nearby and asked for mornings" }), suggestion()],
      }),
    );
    await tick();
    expect(Array.from(root.querySelectorAll<HTMLElement>("[data-suggestion-patient]")).map((li) => li.dataset.suggestionPatient)).toEqual(["12", "11"]);
    expect(text($("#ranked-by"))).toBe("Re-ranked by the language model");
    expect(text($('[data-suggestion-patient="12"] .model-reason'))).toBe("Language model: Lives nearby and asked for mornings");
    expect(document.querySelector("#fallback-note")).toBeNull();
  });

  it("says calmly when the language model's order could not be used", async () => {
    const fillSuggestions = vi.fn(async (_slot: string, askModel: boolean) =>
      askModel ? suggestionsView({ model_asked: true, fallback_reason: "it took longer than 8 seconds" }) : suggestionsView(),
    );
    const s = shell({ fillView: async () => fillView({ model_on: true }), fillSuggestions });
    await showSlot7(s);
    expect(text($("#fallback-note"))).toBe("The language model's order could not be used (it took longer than 8 seconds); showing MedHarmony's own ranking.");
    expect(text($("#ranked-by"))).toBe("Ranked by MedHarmony's rules");
  });

  it("does not ask the language model when it is off", async () => {
    const fillSuggestions = vi.fn(async () => suggestionsView());
    const s = shell({ fillView: async () => fillView(), fillSuggestions });
    await showSlot7(s);
    expect(fillSuggestions.mock.calls).toEqual([["slot-7", false]]);
    expect(document.querySelector("#model-wait")).toBeNull();
  });

  it("offers, then books: the right commands, a busy state, and the result", async () => {
    const offer = deferred<HoldDto>();
    const offerSlot = vi.fn(() => offer.promise);
    const bookOffer = vi.fn(async () => ({ slot_id: "slot-7", patient_id: 11, integration: "Main St Epic", appointment_id: "A-991" }));
    const s = shell({ fillView: async () => fillView(), fillSuggestions: async () => suggestionsView(), offerSlot, bookOffer });
    await showSlot7(s);
    click('[data-suggestion-patient="11"] [data-action="offer"]');
    await tick();
    expect(offerSlot).toHaveBeenCalledWith("slot-7", 11);
    // While the shell checks the time with its system: busy, and no second offer.
    expect(text($('[data-suggestion-patient="11"] [data-action="offer"]'))).toBe("Holding…");
    expect(Array.from(root.querySelectorAll<HTMLButtonElement>('[data-action="offer"]')).every((b) => b.disabled)).toBe(true);
    offer.resolve(HOLD);
    await tick();
    expect(text($("#hold-box .hold-title"))).toBe("Held for Ana Lopez until 10:15 AM");
    expect(text($("#hold-box"))).toContain("Offered by Maria.");
    expect(text($('[data-suggestion-patient="11"] .state-pill'))).toBe("Held");
    // Held: Book or Release, no second offer.
    expect(root.querySelectorAll('[data-action="offer"]').length).toBe(0);
    expect(document.activeElement?.id).toBe("book-offer");
    click("#book-offer");
    await tick();
    expect(bookOffer).toHaveBeenCalledWith("slot-7");
    expect(text($("#notice .notice-headline"))).toBe("Booked Ana Lopez at Tue Dec 8, 10:30 AM in Main St Epic");
    expect($("#notice .notice").dataset.tone).toBe("success");
    expect(text($("#booked-box"))).toBe("Booked Ana Lopez at Tue Dec 8, 10:30 AM in Main St Epic.");
    expect(document.querySelector("#hold-box")).toBeNull();
    expect(document.querySelector('[data-action="offer"]')).toBeNull();
  });

  it("shows an offer's error as the shell says it, and releases a hold", async () => {
    const offerSlot = vi.fn(async (): Promise<HoldDto> => {
      throw "slot-7 is no longer free in Main St Epic: someone else has it. It will not be offered again; pick another time";
    });
    const releaseOffer = vi.fn(async () => undefined);
    const s = shell({ fillView: async () => fillView(), fillSuggestions: async () => suggestionsView({ hold: { ...HOLD, patient_id: 12, display_name: "Ben Ortiz" } }), offerSlot, releaseOffer });
    await showSlot7(s);
    expect(text($("#hold-box .hold-title"))).toBe("Held for Ben Ortiz until 10:15 AM");
    click("#release-offer");
    await tick();
    expect(releaseOffer).toHaveBeenCalledWith("slot-7");
    expect(document.querySelector("#hold-box")).toBeNull();
    expect(text($("#fill-note"))).toBe("The hold was released: the time can be offered again.");
    click('[data-suggestion-patient="11"] [data-action="offer"]');
    await tick();
    expect(text($("#fill-error"))).toBe("slot-7 is no longer free in Main St Epic: someone else has it. It will not be offered again; pick another time");
    expect($<HTMLButtonElement>('[data-suggestion-patient="11"] [data-action="offer"]').disabled).toBe(false);
  });

  it("says when no waiting patient fits, and when a time can't be booked from here", async () => {
    const s = shell({ fillView: async () => fillView(), fillSuggestions: async () => suggestionsView({ suggestions: [], eligible: 0, waiting: 1, bookable: false }) });
    await showSlot7(s);
    expect(text($("#fill-fit"))).toBe("0 of 1 waiting patient fit");
    expect(text($("#no-fit"))).toBe("No waiting patient fits this time: their days, times, notice or provider don't match.");
    expect(text($("#not-bookable"))).toContain("can't be held or booked from here");
  });

  it("shows the 30-day figures by provider with the total", async () => {
    const s = shell({
      fillView: async () =>
        fillView({
          stats: [
            { provider: "Dr. Chen", openings: 4, filled: 3, median_minutes_to_fill: 42 },
            { provider: "Dr. Rivera", openings: 2, filled: 0, median_minutes_to_fill: null },
          ],
          total: { provider: "All providers", openings: 6, filled: 3, median_minutes_to_fill: 95 },
        }),
    });
    await startApp(root, s.backend);
    click("#tab-openings");
    await tick();
    const rows = Array.from(root.querySelectorAll("#fill-stats tr")).map((tr) => Array.from(tr.children).map(text));
    expect(rows).toEqual([
      ["Provider", "Openings", "Filled", "Median time to fill"],
      ["Dr. Chen", "4", "3", "42 minutes"],
      ["Dr. Rivera", "2", "0", "—"],
      ["All providers", "6", "3", "1 hour 35 minutes"],
    ]);
  });
});

describe("opening events", () => {
  it("switches to the Openings page on a clicked notification and selects that time", async () => {
    const fillSuggestions = vi.fn(async () => suggestionsView());
    const s = shell({ fillView: async () => fillView(), fillSuggestions });
    await startApp(root, s.backend);
    expect($("#main").hidden).toBe(false);
    s.open({ slot_id: "slot-7" });
    await tick();
    expect($("#openings").hidden).toBe(false);
    expect($("#main").hidden).toBe(true);
    expect(fillSuggestions).toHaveBeenCalledWith("slot-7", false);
    expect($('[data-opening-slot="slot-7"]').getAttribute("aria-pressed")).toBe("true");
    expect(root.querySelectorAll("[data-suggestion-patient]").length).toBe(3);
  });

  it("opens a notification clicked before the window listened", async () => {
    const fillSuggestions = vi.fn(async () => suggestionsView());
    const s = shell({ fillView: async () => fillView(), fillSuggestions, pendingOpenSlot: async () => ({ slot_id: "slot-7" }) });
    await startApp(root, s.backend);
    await tick();
    expect($("#openings").hidden).toBe(false);
    expect(fillSuggestions).toHaveBeenCalledWith("slot-7", false);
  });

  it("refreshes the page and shows a small notice when openings are found", async () => {
    const fillViewCmd = vi.fn(async () => fillView());
    const fillSuggestions = vi.fn(async () => suggestionsView());
    const s = shell({ fillView: fillViewCmd, fillSuggestions });
    await startApp(root, s.backend);
    s.found([opening()]);
    await tick();
    expect(text($("#notice .notice-headline"))).toBe("A time just came free");
    expect(text($("#notice li"))).toBe("Dr. Rivera · Tue Dec 8, 10:30 AM · Main St");
    click("#notice [data-notice-action]");
    await tick();
    expect($("#openings").hidden).toBe(false);
    expect(fillSuggestions).toHaveBeenCalledWith("slot-7", false);
    const loads = fillViewCmd.mock.calls.length;
    s.found([opening({ slot_id: "slot-8" }), opening({ slot_id: "slot-9" })]);
    await tick();
    expect(fillViewCmd.mock.calls.length).toBe(loads + 1);
    expect(text($("#notice .notice-headline"))).toBe("2 times just came free");
  });

  it("finds waiting patients for a free synced time from the week view", async () => {
    const fillSuggestions = vi.fn(async () => suggestionsView({ slot_id: "slot-5" }));
    const api = fakeApi([
      { id: "slot-5", provider_id: 1, day: "2026-03-05", start: "2026-03-05T15:00:00Z", end: "2026-03-05T15:30:00Z", status: "free", source: "Main St Epic", location: null },
      { id: "grid-1-x", provider_id: 1, day: "2026-03-05", start: "2026-03-05T16:00:00Z", end: "2026-03-05T16:30:00Z", status: "free", source: "working-hours", location: null },
    ]);
    const s = shell({ ...api, week: api.week, fillView: async () => fillView(), fillSuggestions });
    await startApp(root, s.backend);
    // Working hours can't be held: no button there.
    click('[data-slot-id="grid-1-x"]');
    await tick();
    expect(document.querySelector("dialog.details #find-patients")).toBeNull();
    click("dialog.details .btn.primary");
    await tick();
    click('[data-slot-id="slot-5"]');
    await tick();
    expect(text($("#find-patients"))).toBe("Find waiting patients");
    click("#find-patients");
    await tick();
    expect($("#openings").hidden).toBe(false);
    expect(fillSuggestions).toHaveBeenCalledWith("slot-5", false);
    expect(text($("#fill-title"))).toBe("Dr. Rivera · Tue Dec 8, 10:30 AM · Main St");
  });
});

describe("the settings button", () => {
  it("opens Settings from the top bar, saves, and says so", async () => {
    const saveFillSettings = vi.fn(async (f: Parameters<Api["saveFillSettings"]>[0]) => f);
    const s = shell({ saveFillSettings });
    await startApp(root, s.backend);
    expect($("#settings-button").getAttribute("aria-label")).toBe("Settings");
    click("#settings-button");
    await tick();
    expect($("dialog.settings").hasAttribute("open")).toBe(true);
    const hold = $<HTMLInputElement>("#settings-hold-minutes");
    hold.value = "25";
    click("#settings-save");
    await tick();
    expect(saveFillSettings.mock.calls[0][0].hold_minutes).toBe(25);
    expect(text($("#notice .notice-headline"))).toBe("Settings saved");
  });
});
