// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import type { FillSettingsForm } from "../bindings";
import { fillSettings } from "../test-fixtures";
import { openSettingsDialog } from "./settings";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const text = (el: Element | null | undefined) => (el?.textContent ?? "").replace(/\s+/g, " ").trim();
const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel) as T;
const click = (sel: string) => $<HTMLButtonElement>(sel).click();
const type = (sel: string, value: string) => {
  const el = $<HTMLInputElement>(sel);
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
};

afterEach(() => document.body.replaceChildren());

describe("the Settings dialog", () => {
  it("switches the hosted model on with its preset and privacy note, and saves every field", async () => {
    const save = vi.fn(async (f: FillSettingsForm) => ({ ...f, new_api_key: null, has_api_key: f.new_api_key ? true : f.has_api_key }));
    const result = openSettingsDialog(fillSettings(), save);
    expect(text($("#settings-model-note"))).toBe("");
    expect($("#settings-key-saved").hidden).toBe(true);
    // Quiet hours' times wait for the switch.
    expect($<HTMLInputElement>("#settings-quiet-start").disabled).toBe(true);
    $<HTMLInputElement>("#settings-model-on").checked = true;
    click('[data-preset="openrouter"]');
    expect($<HTMLInputElement>("#settings-model-url").value).toBe("https://openrouter.ai/api/v1");
    expect(text($("#settings-model-note"))).toBe(
      "A hosted service receives de-identified scheduling details. Check that your practice has a business associate agreement (BAA) with it before switching this on.",
    );
    click('[data-preset="ollama"]');
    expect($<HTMLInputElement>("#settings-model-url").value).toBe("http://127.0.0.1:11434/v1");
    expect(text($("#settings-model-note"))).toBe("Nothing leaves this computer.");
    click('[data-preset="openrouter"]');
    type("#settings-model-name", "meta-llama/llama-3.1-8b-instruct");
    type("#settings-model-timeout", "12");
    type("#settings-model-top", "8");
    type("#settings-api-key", "sk-or-123");
    const quiet = $<HTMLInputElement>("#settings-quiet-on");
    quiet.checked = true;
    quiet.dispatchEvent(new Event("change"));
    expect($<HTMLInputElement>("#settings-quiet-start").disabled).toBe(false);
    type("#settings-quiet-start", "20:00");
    type("#settings-quiet-end", "06:30");
    type("#settings-hold-minutes", "20");
    click("#settings-save");
    await tick();
    expect(save).toHaveBeenCalledWith({
      model_on: true,
      model_base_url: "https://openrouter.ai/api/v1",
      model_name: "meta-llama/llama-3.1-8b-instruct",
      model_timeout_secs: 12,
      model_top_n: 8,
      has_api_key: false,
      new_api_key: "sk-or-123",
      quiet_on: true,
      quiet_start: "20:00",
      quiet_end: "06:30",
      hold_minutes: 20,
      model_from_environment: false,
    });
    expect((await result)?.has_api_key).toBe(true);
    expect(document.querySelector("dialog")).toBeNull();
  });

  it("keeps a saved key unless told, and forgets it on request", async () => {
    const save = vi.fn(async (f: FillSettingsForm) => f);
    const first = openSettingsDialog(fillSettings({ has_api_key: true, model_base_url: "http://localhost:11434/v1", model_name: "llama3.1:8b" }), save);
    expect(text($("#settings-key-saved"))).toBe("A key is saved");
    expect(text($("#settings-model-note"))).toBe("Nothing leaves this computer.");
    click("#settings-save");
    await first;
    expect(save.mock.calls[0][0].new_api_key).toBeNull();
    const second = openSettingsDialog(fillSettings({ has_api_key: true }), save);
    click("#settings-forget-key");
    expect(text($("#settings-key-saved"))).toBe("The saved key will be forgotten when you save");
    expect($("#settings-forget-key").hidden).toBe(true);
    click("#settings-save");
    await second;
    expect(save.mock.calls[1][0].new_api_key).toBe("");
  });

  it("shows errors in the dialog and keeps what was typed", async () => {
    const save = vi.fn(async (): Promise<FillSettingsForm> => {
      throw "the quiet hours' start time '7pm' is not a time like 19:00";
    });
    const result = openSettingsDialog(fillSettings(), save);
    type("#settings-hold-minutes", "0");
    click("#settings-save");
    await tick();
    expect(text($("#settings-error"))).toBe("The hold must be a whole number of minutes, from 1 to 240.");
    expect(save).not.toHaveBeenCalled();
    type("#settings-hold-minutes", "30");
    click("#settings-save");
    await tick();
    expect(text($("#settings-error"))).toBe("the quiet hours' start time '7pm' is not a time like 19:00");
    expect($<HTMLInputElement>("#settings-hold-minutes").value).toBe("30");
    expect($("dialog.settings").hasAttribute("open")).toBe(true);
    click("#settings-cancel");
    expect(await result).toBeNull();
  });

  it("says when the model settings come from this computer's environment, and locks them", async () => {
    const save = vi.fn(async (f: FillSettingsForm) => f);
    const result = openSettingsDialog(fillSettings({ model_from_environment: true, model_on: true, model_base_url: "http://127.0.0.1:11434/v1", model_name: "qwen" }), save);
    expect(text($("#settings-env-note"))).toBe("The language model settings come from this computer's environment (set up by your IT person), so they can't be changed here.");
    const locked = ["#settings-model-on", "#settings-model-url", "#settings-model-name", "#settings-model-timeout", "#settings-model-top", "#settings-api-key", '[data-preset="openrouter"]'];
    expect(locked.map((sel) => $<HTMLInputElement>(sel).disabled)).toEqual(locked.map(() => true));
    expect($<HTMLInputElement>("#settings-hold-minutes").disabled).toBe(false);
    click("#settings-save");
    expect((await result)?.model_on).toBe(true);
  });
});
