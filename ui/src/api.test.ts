import { describe, expect, it, vi } from "vitest";
import type { Invoke } from "./api";
import { makeApi } from "./api";
import { COMMANDS } from "./bindings";

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
});
