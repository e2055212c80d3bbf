import { describe, expect, it, vi } from "vitest";
import type { Invoke } from "./api";
import { makeApi } from "./api";
import { COMMANDS } from "./bindings";
import { fillSettings, waitlistEntry } from "./test-fixtures";

describe("the typed commands", () => {
  it("sends reconnect_integration and find_calendars the arguments the shell's commands take", async () => {
    const invoke = vi.fn(async () => [] as unknown) as unknown as Invoke & ReturnType<typeof vi.fn>;
    const api = makeApi(invoke);
    await api.reconnectIntegration("Main St athena", { method: "client-secret", client_id: "0oa-desk", client_secret: "s" });
    expect(invoke).toHaveBeenLastCalledWith("reconnect_integration", { name: "Main St athena", auth: { method: "client-secret", client_id: "0oa-desk", client_secret: "s" } });
    // Tauri turns camelCase keys into the command's snake_case parameters (base_url).
    await api.findCalendars("https://caldav.fastmail.com", "desk@example.com", "app-pass");
    expect(invoke).toHaveBeenLastCalledWith("find_calendars", { baseUrl: "https://caldav.fastmail.com", username: "desk@example.com", password: "app-pass" });
    expect(COMMANDS).toContain("reconnect_integration");
    expect(COMMANDS).toContain("find_calendars");
  });

  it("sends the fill commands the argument keys the shell's commands take (camelCase, mapped by Tauri)", async () => {
    const invoke = vi.fn(async () => null as unknown) as unknown as Invoke & ReturnType<typeof vi.fn>;
    const api = makeApi(invoke);
    const calls: [() => Promise<unknown>, string, Record<string, unknown> | undefined][] = [
      [() => api.fillView(), "fill_view", undefined],
      [() => api.fillSuggestions("slot-7", true), "fill_suggestions", { slotId: "slot-7", askModel: true }],
      [() => api.offerSlot("slot-7", 11), "offer_slot", { slotId: "slot-7", patientId: 11 }],
      [() => api.bookOffer("slot-7"), "book_offer", { slotId: "slot-7" }],
      [() => api.releaseOffer("slot-7"), "release_offer", { slotId: "slot-7" }],
      [() => api.waitlist(), "waitlist", undefined],
      [() => api.saveWaitlistEntry(waitlistEntry()), "save_waitlist_entry", { entry: waitlistEntry() }],
      [() => api.removeWaitlistEntry(11), "remove_waitlist_entry", { id: 11 }],
      [() => api.importWaitlist("/x/w.csv"), "import_waitlist", { path: "/x/w.csv" }],
      [() => api.patientOptions(11), "patient_options", { patientId: 11 }],
      [() => api.fillSettings(), "fill_settings", undefined],
      [() => api.saveFillSettings(fillSettings()), "save_fill_settings", { form: fillSettings() }],
      [() => api.staff(), "staff", undefined],
      [() => api.setStaff("Maria"), "set_staff", { name: "Maria" }],
      [() => api.pendingOpenSlot(), "pending_open_slot", undefined],
    ];
    for (const [call, cmd, args] of calls) {
      await call();
      expect(invoke.mock.calls.at(-1)).toEqual(args === undefined ? [cmd] : [cmd, args]);
      expect(COMMANDS).toContain(cmd);
    }
  });
});
