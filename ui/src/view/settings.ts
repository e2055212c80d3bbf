// The Settings dialog (gear button in the top bar): how suggestions are ranked (the language
// model), quiet hours for notifications, and how long an offer holds a time. The API key is
// a secret: it goes to the shell once (the keychain keeps it) and is never shown again.
//
// Stable hooks for tests: #settings-model-on, button[data-preset="openrouter|ollama"],
// #settings-model-url, #settings-model-note, #settings-model-name, #settings-model-timeout,
// #settings-model-top, #settings-api-key, #settings-key-saved, #settings-forget-key,
// #settings-env-note, #settings-quiet-on, #settings-quiet-start, #settings-quiet-end,
// #settings-hold-minutes, #settings-error, #settings-save, #settings-cancel.

import type { FillSettingsForm } from "../bindings";
import { MODEL_PRESETS, modelNote } from "../fill";
import { field, textInput } from "./connect";
import { runFormDialog } from "./dialogs";
import { h } from "./dom";

/** A whole number from a number field, or null when it is not one within `min`..`max`. */
function wholeNumber(input: HTMLInputElement, min: number, max: number): number | null {
  const n = Number(input.value.trim());
  return input.value.trim() !== "" && Number.isInteger(n) && n >= min && n <= max ? n : null;
}

/** A labelled switch (a checkbox with the switch role). */
function switchField(id: string, label: string, checked: boolean, help: string): { el: HTMLElement; input: HTMLInputElement } {
  const input = h("input", { type: "checkbox", role: "switch", id, checked, "aria-describedby": `${id}-help` });
  return {
    input,
    el: h("div", { class: "field switch-field" }, h("label", { class: "switch" }, input, h("span", {}, label)), h("p", { class: "help", id: `${id}-help` }, help)),
  };
}

/**
 * Opens the Settings dialog on `form` (as `fill_settings` gave it); `save` is `save_fill_settings`.
 * Resolves with the settings as saved, or null when closed without saving. Errors from `save`
 * (plain words naming the field) show in the dialog, keeping what was typed.
 */
export function openSettingsDialog(form: FillSettingsForm, save: (form: FillSettingsForm) => Promise<FillSettingsForm>): Promise<FillSettingsForm | null> {
  let forgetKey = false;
  const fromEnv = form.model_from_environment;

  const modelOn = switchField(
    "settings-model-on",
    "Let a language model re-rank suggestions and say why",
    form.model_on,
    "MedHarmony always ranks waiting patients by its own rules first. When this is on, a language model may reorder the best of them and add a short reason. Names, phone numbers and e-mails are never sent.",
  );
  const urlInput = textInput("settings-model-url", "url", { value: form.model_base_url, placeholder: MODEL_PRESETS[0].baseUrl });
  const note = h("p", { class: "privacy-note", id: "settings-model-note", role: "note" });
  const nameInput = textInput("settings-model-name", "text", { value: form.model_name, placeholder: "e.g. llama3.1:8b" });
  const timeoutInput = textInput("settings-model-timeout", "text", { value: String(form.model_timeout_secs), inputmode: "numeric" });
  const topInput = textInput("settings-model-top", "text", { value: String(form.model_top_n), inputmode: "numeric" });
  const keyInput = textInput("settings-api-key", "password", { placeholder: form.has_api_key ? "Type a new key to replace the saved one" : "" });
  const keySaved = h("span", { class: "key-saved", id: "settings-key-saved" }, "A key is saved");
  const forgetBtn = h("button", { type: "button", class: "btn subtle danger-text", id: "settings-forget-key" }, "Forget key");
  const presets = MODEL_PRESETS.map((p) => h("button", { type: "button", class: "btn", "data-preset": p.id }, p.label));

  const quiet = switchField("settings-quiet-on", "Quiet hours", form.quiet_on, "No notifications pop up between these times (on this computer's clock). New openings still appear on the Openings page.");
  const quietStart = h("input", { type: "time", id: "settings-quiet-start", value: form.quiet_start, "aria-label": "Quiet from" });
  const quietEnd = h("input", { type: "time", id: "settings-quiet-end", value: form.quiet_end, "aria-label": "Quiet until" });
  const holdInput = textInput("settings-hold-minutes", "text", { value: String(form.hold_minutes), inputmode: "numeric" });

  const error = h("p", { class: "form-error", id: "settings-error", role: "alert" });
  const saveBtn = h("button", { type: "submit", class: "btn primary", id: "settings-save" }, "Save");
  const cancelBtn = h("button", { type: "button", class: "btn", id: "settings-cancel" }, "Cancel");

  const modelControls: (HTMLInputElement | HTMLButtonElement)[] = [modelOn.input, urlInput, nameInput, timeoutInput, topInput, keyInput, forgetBtn, ...presets];
  const showNote = () => {
    note.textContent = modelNote(urlInput.value);
  };
  const showKey = () => {
    keySaved.textContent = forgetKey ? "The saved key will be forgotten when you save" : "A key is saved";
    keySaved.hidden = !form.has_api_key;
    forgetBtn.hidden = !form.has_api_key || forgetKey;
  };
  const showQuiet = () => {
    quietStart.disabled = !quiet.input.checked;
    quietEnd.disabled = !quiet.input.checked;
  };

  const body = h(
    "form",
    { method: "dialog", novalidate: true },
    h("h2", { id: "settings-title" }, "Settings"),
    h(
      "fieldset",
      { class: "settings-section" },
      h("legend", {}, "Suggestions"),
      fromEnv
        ? h("p", { class: "standalone-note", id: "settings-env-note" }, "The language model settings come from this computer's environment (set up by your IT person), so they can't be changed here.")
        : null,
      modelOn.el,
      h("div", { class: "field" }, h("span", { class: "label" }, "Where the language model runs"), h("div", { class: "presets" }, presets)),
      field("settings-model-url", "Address", urlInput, "The model service's address. Pick one above, or ask your IT person."),
      note,
      field("settings-model-name", "Model name", nameInput, "As the service names it."),
      h(
        "div",
        { class: "field-pair" },
        field("settings-model-timeout", "Time limit (seconds)", timeoutInput, "After this, MedHarmony's own ranking is shown."),
        field("settings-model-top", "Patients sent", topInput, "How many of the best-ranked patients the model looks at."),
      ),
      field("settings-api-key", "API key", keyInput, "Kept in this computer's keychain; never shown again. Leave empty to keep the saved key."),
      h("div", { class: "key-row" }, keySaved, forgetBtn),
    ),
    h(
      "fieldset",
      { class: "settings-section" },
      h("legend", {}, "Notifications"),
      quiet.el,
      h("div", { class: "time-pair" }, h("label", { for: "settings-quiet-start" }, "From"), quietStart, h("label", { for: "settings-quiet-end" }, "to"), quietEnd),
    ),
    h(
      "fieldset",
      { class: "settings-section" },
      h("legend", {}, "Offers"),
      field("settings-hold-minutes", "Hold a time for (minutes)", holdInput, "While you call a patient, the time is kept for them this long. From 1 to 240 minutes."),
    ),
    h("div", { class: "connect-footer" }, error, h("div", { class: "actions" }, cancelBtn, saveBtn)),
  );
  const dialog = h("dialog", { class: "connect settings", "aria-labelledby": "settings-title" }, body);

  for (const b of presets) {
    b.addEventListener("click", () => {
      const p = MODEL_PRESETS.find((x) => x.id === b.dataset.preset);
      if (!p) return;
      urlInput.value = p.baseUrl;
      showNote();
      nameInput.focus();
    });
  }
  urlInput.addEventListener("input", showNote);
  forgetBtn.addEventListener("click", () => {
    forgetKey = true;
    keyInput.value = "";
    showKey();
    keyInput.focus();
  });
  quiet.input.addEventListener("change", showQuiet);
  if (fromEnv) for (const c of modelControls) c.disabled = true;
  showNote();
  showKey();
  showQuiet();

  function read(): { value: FillSettingsForm } | { error: string } {
    const timeout = wholeNumber(timeoutInput, 1, 600);
    if (timeout === null) return { error: "The time limit must be a whole number of seconds, from 1 to 600." };
    const top = wholeNumber(topInput, 1, 100);
    if (top === null) return { error: "Patients sent must be a whole number, from 1 to 100." };
    const hold = wholeNumber(holdInput, 1, 240);
    if (hold === null) return { error: "The hold must be a whole number of minutes, from 1 to 240." };
    if (modelOn.input.checked && !fromEnv && (!urlInput.value.trim() || !nameInput.value.trim())) return { error: "To switch the language model on, give its address and model name." };
    if (quiet.input.checked && (!quietStart.value || !quietEnd.value)) return { error: "Give both quiet hours times." };
    const key = keyInput.value.trim();
    const value: FillSettingsForm = {
      ...form,
      model_on: modelOn.input.checked,
      model_base_url: urlInput.value.trim(),
      model_name: nameInput.value.trim(),
      model_timeout_secs: timeout,
      model_top_n: top,
      new_api_key: key ? key : forgetKey ? "" : null,
      quiet_on: quiet.input.checked,
      quiet_start: quietStart.value,
      quiet_end: quietEnd.value,
      hold_minutes: hold,
    };
    return { value };
  }

  // The key never outlives the dialog.
  dialog.addEventListener("close", () => {
    keyInput.value = "";
  });
  const { result } = runFormDialog({ dialog, form: body, cancelBtn, submitBtn: saveBtn, error, busyText: "Saving…", read, save, focus: fromEnv ? quiet.input : modelOn.input });
  return result;
}
