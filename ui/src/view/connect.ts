// The Connect dialog: one form for every system, adapting to how it signs in.
// Secrets (a pasted key, a client secret) stay in masked fields and in memory
// only; they go to the shell once, which puts them in the keychain, and the
// window never shows them again.
//
// Stable hooks for tests: #connect-name, #connect-url, input[name="auth"],
// #connect-client-id, #connect-secret, #connect-key-file, #connect-key-text,
// #connect-tz, #connect-visit-types, #connect-submit, #connect-cancel,
// #connect-error, #sign-in-wait, #sign-in-cancel.

import type { Api, ListenSignIn } from "../api";
import { errorText } from "../api";
import type { ConnectResult } from "../bindings";
import type { AuthMethod, ConnectValues, SystemKind } from "../integrations";
import { METHODS, buildConnectForm, suggestName, systemInfo } from "../integrations";
import { zoneCity } from "../time";
import { openModal } from "./dialogs";
import { h } from "./dom";

/** What the Connect dialog needs. */
export interface ConnectDeps {
  api: Pick<Api, "connectIntegration" | "cancelSignIn">;
  /** IANA zones for the picker. */
  zones: string[];
  /** The front desk's zone, chosen at first. */
  deskZone: string;
  /** Names already taken (for the suggested name). */
  existingNames: string[];
  /** The file picker for a private key; resolves with the path, null when cancelled. */
  pickKeyFile?: () => Promise<string | null>;
  /** The `sign-in` event (the browser was opened, or could not be). */
  onSignIn?: ListenSignIn;
}

function field(id: string, label: string, control: HTMLElement, help?: string | null, extra: Record<string, string> = {}): HTMLElement {
  return h(
    "div",
    { class: "field", ...extra },
    h("label", { for: id }, label),
    control,
    help ? h("p", { class: "help", id: `${id}-help` }, help) : null,
  );
}

function fileName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/** The dialog's title for a kind of system. */
export function connectTitle(kind: SystemKind): string {
  if (kind === "fhir") return "Connect a FHIR server";
  if (kind === "oracle-health") return "Connect Oracle Health";
  return "Connect Epic";
}

/** Opens the Connect dialog for `kind`; resolves with the result, or null when closed without connecting. */
export function openConnectDialog(kind: SystemKind, deps: ConnectDeps): Promise<ConnectResult | null> {
  const info = systemInfo(kind);
  let method: AuthMethod = info.methods[0];
  let keySource: "file" | "paste" = deps.pickKeyFile ? "file" : "paste";
  let keyPath: string | null = null;
  let busy = false;
  let waitingForSignIn = false;
  let result: ConnectResult | null = null;

  const nameInput = h("input", { type: "text", id: "connect-name", value: suggestName(kind, deps.existingNames), autocomplete: "off", "aria-describedby": "connect-name-help" });
  const urlInput = h("input", { type: "url", id: "connect-url", placeholder: info.addressExample, autocomplete: "off", spellcheck: "false", "aria-describedby": "connect-url-help" });
  const clientIdInput = h("input", { type: "text", id: "connect-client-id", autocomplete: "off", spellcheck: "false", "aria-describedby": "connect-client-id-help" });
  const secretInput = h("input", { type: "password", id: "connect-secret", autocomplete: "off", spellcheck: "false", "aria-describedby": "connect-secret-help" });
  const keyText = h("textarea", { id: "connect-key-text", class: "masked", rows: 3, spellcheck: "false", autocomplete: "off", placeholder: "-----BEGIN PRIVATE KEY-----", "aria-label": "Private key (pasted)" });
  const keyChosen = h("span", { class: "key-chosen", id: "connect-key-chosen" }, "No file chosen");
  const keyFileBtn = h("button", { type: "button", class: "btn", id: "connect-key-file" }, "Choose key file…");
  const kidInput = h("input", { type: "text", id: "connect-kid", autocomplete: "off", spellcheck: "false" });
  const zones = deps.zones.length ? deps.zones : [deps.deskZone];
  const tzSelect = h(
    "select",
    { id: "connect-tz", "aria-describedby": "connect-tz-help" },
    zones.map((z) => h("option", { value: z, selected: z === deps.deskZone }, z === "UTC" ? "UTC" : `${zoneCity(z)} · ${z}`)),
  );
  const visitInput = h("input", { type: "text", id: "connect-visit-types", autocomplete: "off", spellcheck: "false", placeholder: info.needsVisitType ? "e.g. 408443003" : "", "aria-describedby": "connect-visit-types-help" });
  const practitionersInput = h("input", { type: "text", id: "connect-practitioners", autocomplete: "off", spellcheck: "false", placeholder: "e.g. Practitioner/123" });
  const locationsInput = h("input", { type: "text", id: "connect-locations", autocomplete: "off", spellcheck: "false", placeholder: "e.g. Location/456" });
  const tokenInput = h("input", { type: "url", id: "connect-token-url", autocomplete: "off", spellcheck: "false" });
  const stu3Input = h("input", { type: "url", id: "connect-stu3", autocomplete: "off", spellcheck: "false" });

  const methodRadios = info.methods.map((m) =>
    h(
      "label",
      { class: "method-choice", "data-method": m },
      h("input", { type: "radio", name: "auth", value: m, checked: m === method }),
      h("span", { class: "method-text" }, h("strong", {}, METHODS[m].label), h("span", { class: "help" }, METHODS[m].help)),
    ),
  );

  const keySourceRadios = h(
    "div",
    { class: "key-source", role: "radiogroup", "aria-label": "How to give the private key" },
    deps.pickKeyFile ? h("label", {}, h("input", { type: "radio", name: "key-source", value: "file", checked: keySource === "file" }), " Choose the key file") : null,
    h("label", {}, h("input", { type: "radio", name: "key-source", value: "paste", checked: keySource === "paste" }), " Paste the key"),
  );
  const keyFileRow = h("div", { class: "key-file", "data-key-source": "file" }, keyFileBtn, keyChosen);
  const keyPasteRow = h("div", { class: "key-paste", "data-key-source": "paste" }, keyText);

  const visitHelp = info.needsVisitType
    ? "Required: Oracle Health lists open times per visit type. Your Oracle Health administrator gives you the codes; separate several with commas."
    : "Only open times for these visit types (codes, separated by commas). Empty: all.";
  const visitField = field("connect-visit-types", info.needsVisitType ? "Visit types" : "Visit types (optional)", visitInput, visitHelp);

  const fields = h(
    "fieldset",
    { class: "connect-fields" },
    h("legend", { class: "sr-only" }, "Connection settings"),
    field("connect-name", "Name", nameInput, "Shown on every open time from this system, e.g. “Main Street Clinic”."),
    field("connect-url", "FHIR address", urlInput, info.addressHelp),
    h(
      "div",
      { class: "methods", role: "radiogroup", "aria-labelledby": "connect-methods-label" },
      h("span", { class: "label", id: "connect-methods-label" }, "How MedHarmony Desk signs in"),
      methodRadios,
    ),
    field("connect-client-id", "Client ID", clientIdInput, "Your EHR administrator gives you the client ID when they register MedHarmony Desk.", { "data-for": "backend-key client-secret standalone" }),
    field("connect-secret", "Client secret", secretInput, "Kept in this computer's keychain; MedHarmony Desk never shows it again.", { "data-for": "client-secret" }),
    h(
      "div",
      { class: "field", "data-for": "backend-key" },
      h("span", { class: "label" }, "Private key"),
      keySourceRadios,
      keyFileRow,
      keyPasteRow,
      h("p", { class: "help" }, "A .pem file your IT person made when registering MedHarmony Desk. It is kept in this computer's keychain and never shown again."),
    ),
    field("connect-kid", "Key ID (optional)", kidInput, "Only if your EHR administrator gave you one.", { "data-for": "backend-key" }),
    h("p", { class: "help standalone-note", "data-for": "standalone" }, "When you click Connect, a browser window opens for you to sign in with your EHR account. MedHarmony Desk continues by itself when you are done."),
    field("connect-tz", "Time zone", tzSelect, "For the providers and locations this connection adds. Times from the system carry their own offsets, so nothing shifts."),
    info.needsVisitType ? visitField : null,
    h(
      "details",
      { class: "advanced" },
      h("summary", {}, "More settings (for your IT person)"),
      info.needsVisitType ? null : visitField,
      field("connect-practitioners", "Practitioners (optional)", practitionersInput, "Only these practitioners' open times, separated by commas. Empty: everyone."),
      field("connect-locations", "Locations (optional)", locationsInput, "Only open times at these locations, separated by commas. Empty: all."),
      field("connect-token-url", "Sign-in (token) address (optional)", tokenInput, "Only if the server does not publish its sign-in settings (.well-known/smart-configuration)."),
      kind === "epic" ? field("connect-stu3", "STU3 address (optional)", stu3Input, "Epic's STU3 address for open times. Empty: the FHIR address with STU3 in place of R4.") : null,
    ),
  );

  const waitText = h("p", { id: "sign-in-text" });
  const cancelSignInBtn = h("button", { type: "button", class: "btn", id: "sign-in-cancel" }, "Cancel sign-in");
  const wait = h("div", { class: "sign-in-wait", id: "sign-in-wait", role: "status", hidden: true }, h("span", { class: "spinner", "aria-hidden": "true" }), h("div", { class: "wait-body" }, waitText, cancelSignInBtn));
  const error = h("p", { class: "form-error", id: "connect-error", role: "alert" });
  const cancelBtn = h("button", { type: "button", class: "btn", id: "connect-cancel" }, "Cancel");
  const submitBtn = h("button", { type: "submit", class: "btn primary", id: "connect-submit" }, "Connect");
  const form = h(
    "form",
    { novalidate: true },
    h("h2", { id: "connect-title" }, connectTitle(kind)),
    h("p", { class: "muted intro" }, "MedHarmony Desk reads this system's open times and shows them in the week view, beside your other schedules. Nothing is changed in the system by connecting it."),
    fields,
    wait,
    // Always in view at the bottom of the dialog: what went wrong, and Connect.
    h("div", { class: "connect-footer" }, error, h("div", { class: "actions" }, cancelBtn, submitBtn)),
  );
  const dialog = h("dialog", { class: "connect", "aria-labelledby": "connect-title" }, form);

  function showMethod(): void {
    for (const el of Array.from(fields.querySelectorAll<HTMLElement>("[data-for]"))) {
      el.hidden = !(el.dataset.for ?? "").split(" ").includes(method);
    }
    keyFileRow.hidden = keySource !== "file";
    keyPasteRow.hidden = keySource !== "paste";
  }

  function values(): ConnectValues {
    return {
      kind,
      name: nameInput.value,
      baseUrl: urlInput.value,
      method,
      clientId: clientIdInput.value,
      clientSecret: secretInput.value,
      keySource,
      keyPath,
      keyText: keyText.value,
      kid: kidInput.value,
      tz: tzSelect.value,
      visitTypes: visitInput.value,
      practitioners: practitionersInput.value,
      locations: locationsInput.value,
      tokenUrl: tokenInput.value,
      stu3Url: stu3Input.value,
    };
  }

  function setBusy(on: boolean): void {
    busy = on;
    fields.disabled = on;
    submitBtn.disabled = on;
    submitBtn.textContent = on ? "Connecting…" : "Connect";
    cancelBtn.disabled = on && !waitingForSignIn;
  }

  function showWait(text: string): void {
    waitingForSignIn = true;
    waitText.textContent = text;
    cancelSignInBtn.disabled = false;
    cancelSignInBtn.textContent = "Cancel sign-in";
    // While the browser sign-in runs, the dialog is only about it.
    fields.hidden = true;
    wait.hidden = false;
    cancelSignInBtn.focus();
  }

  function hideWait(): void {
    waitingForSignIn = false;
    wait.hidden = true;
    fields.hidden = false;
  }

  function showError(text: string): void {
    error.textContent = text;
  }

  async function cancelSignIn(): Promise<void> {
    cancelSignInBtn.disabled = true;
    cancelSignInBtn.textContent = "Cancelling…";
    try {
      await deps.api.cancelSignIn();
    } catch (e) {
      error.textContent = errorText(e);
    }
  }

  async function submit(): Promise<void> {
    if (busy) return;
    const built = buildConnectForm(values());
    if (built.error !== null) {
      showError(built.error);
      return;
    }
    error.textContent = "";
    if (method === "standalone") showWait("Opening your web browser for you to sign in…");
    setBusy(true);
    try {
      result = await deps.api.connectIntegration(built.form);
      dialog.close("connected");
    } catch (e) {
      hideWait();
      setBusy(false);
      showError(errorText(e));
    }
  }

  let unlisten: (() => void) | null = null;
  deps.onSignIn?.((started) => {
    if (!waitingForSignIn) return;
    waitText.textContent = started.browser_opened
      ? `A browser window opened for you to sign in to ${started.name}. Sign in there with your EHR account; MedHarmony Desk continues by itself when you are done (it waits up to 5 minutes).`
      : "MedHarmony Desk could not open your web browser. Cancel the sign-in, then ask your IT person to check this computer's default browser.";
  })
    .then((u) => {
      if (dialog.isConnected) unlisten = u;
      else u();
    })
    .catch(() => undefined);

  for (const r of Array.from(fields.querySelectorAll<HTMLInputElement>('input[name="auth"]'))) {
    r.addEventListener("change", () => {
      if (r.checked) method = r.value as AuthMethod;
      error.textContent = "";
      showMethod();
    });
  }
  for (const r of Array.from(fields.querySelectorAll<HTMLInputElement>('input[name="key-source"]'))) {
    r.addEventListener("change", () => {
      if (r.checked) keySource = r.value as "file" | "paste";
      showMethod();
    });
  }
  keyFileBtn.addEventListener("click", async () => {
    if (!deps.pickKeyFile) return;
    try {
      const picked = await deps.pickKeyFile();
      if (picked) {
        keyPath = picked;
        keyChosen.textContent = fileName(picked);
        keyChosen.title = picked;
        keyChosen.classList.add("chosen");
      }
    } catch (e) {
      error.textContent = `The file picker could not be opened: ${errorText(e)}`;
    }
  });
  cancelSignInBtn.addEventListener("click", () => void cancelSignIn());
  cancelBtn.addEventListener("click", () => {
    if (waitingForSignIn) void cancelSignIn();
    else if (!busy) dialog.close("cancel");
  });
  form.addEventListener("submit", (e) => {
    // Never a real form submission (the page allows none); the shell is called instead.
    e.preventDefault();
    void submit();
  });
  dialog.addEventListener("cancel", (e) => {
    // Escape: never while connecting; during a browser sign-in it cancels the sign-in.
    if (busy) {
      e.preventDefault();
      if (waitingForSignIn) void cancelSignIn();
    }
  });
  dialog.addEventListener("close", () => {
    unlisten?.();
    // Secrets leave with the dialog.
    secretInput.value = "";
    keyText.value = "";
  });

  showMethod();
  const done = openModal(dialog, document.activeElement as HTMLElement | null).then(() => result);
  urlInput.focus();
  return done;
}
