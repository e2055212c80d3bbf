// The Connect dialog: one form per kind of system, adapting to how it signs in.
// Secrets (a pasted key, a client secret, an app password) stay in masked
// fields and in memory only; they go to the shell once, which puts them in the
// keychain, and the window never shows them again.
//
// Stable hooks for tests:
//   every kind:  #connect-name, #connect-tz, #connect-submit, #connect-cancel,
//                #connect-error, #sign-in-wait, #sign-in-text, #sign-in-cancel
//   FHIR kinds:  #connect-url, input[name="auth"], #connect-client-id,
//                #connect-secret, #connect-key-file, #connect-key-text,
//                #connect-visit-types, #connect-stu3 (Epic)
//   athenahealth: #connect-athena-env, #connect-client-id, #connect-secret,
//                #connect-practice, #connect-departments,
//                #connect-appointment-types, #connect-reasons, #connect-providers
//   Google:      #connect-client-id, #connect-secret, #connect-google-note,
//                the calendars table (see calendars.ts)
//   CalDAV:      #connect-url, button[data-preset="icloud|fastmail|nextcloud"],
//                #connect-username, #connect-password, #connect-find,
//                #connect-find-status, the calendars table (see calendars.ts)

import type { Api, ListenSignIn } from "../api";
import { errorText } from "../api";
import type { ConnectResult } from "../bindings";
import type { AuthMethod, ConnectValues, SystemKind } from "../integrations";
import { ATHENA_ENVIRONMENTS, CALDAV_PRESETS, METHODS, buildConnectForm, findCalendarsProblem, isCalendarKind, suggestName, systemInfo } from "../integrations";
import { zoneCity } from "../time";
import { calendarsTable } from "./calendars";
import { openModal } from "./dialogs";
import { h } from "./dom";
import { signInAccount, signInWait, wireSignInDialog } from "./sign-in";

/** What the Connect dialog needs. */
export interface ConnectDeps {
  api: Pick<Api, "connectIntegration" | "cancelSignIn" | "findCalendars">;
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

/** A labelled field with its help below (the help describes the control). */
export function field(id: string, label: string, control: HTMLElement, help?: string | null, extra: Record<string, string> = {}): HTMLElement {
  return h(
    "div",
    { class: "field", ...extra },
    h("label", { for: id }, label),
    control,
    help ? h("p", { class: "help", id: `${id}-help` }, help) : null,
  );
}

/** A text input (`type` "text", "url" or "password") described by its help. */
export function textInput(id: string, type: "text" | "url" | "password" = "text", attrs: Record<string, string> = {}): HTMLInputElement {
  return h("input", { type, id, autocomplete: "off", spellcheck: "false", "aria-describedby": `${id}-help`, ...attrs });
}

function fileName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/** The dialog's title for a kind of system. */
export function connectTitle(kind: SystemKind): string {
  switch (kind) {
    case "fhir":
      return "Connect a FHIR server";
    case "oracle-health":
      return "Connect Oracle Health";
    case "athena":
      return "Connect athenahealth";
    case "google-calendar":
      return "Connect Google Calendar";
    case "caldav":
      return "Connect a CalDAV calendar";
    default:
      return "Connect Epic";
  }
}

/** Opens the Connect dialog for `kind`; resolves with the result, or null when closed without connecting. */
export function openConnectDialog(kind: SystemKind, deps: ConnectDeps): Promise<ConnectResult | null> {
  const info = systemInfo(kind);
  const fhirKind = kind === "fhir" || kind === "epic" || kind === "oracle-health";
  const calendarKind = isCalendarKind(kind);
  let method: AuthMethod = info.methods[0];
  let keySource: "file" | "paste" = deps.pickKeyFile ? "file" : "paste";
  let keyPath: string | null = null;
  let busy = false;
  let finding = false;
  let result: ConnectResult | null = null;

  const nameInput = h("input", { type: "text", id: "connect-name", value: suggestName(kind, deps.existingNames), autocomplete: "off", "aria-describedby": "connect-name-help" });
  const urlInput = textInput("connect-url", "url", { placeholder: info.addressExample });
  const clientIdInput = textInput("connect-client-id");
  const secretInput = textInput("connect-secret", "password");
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
  const visitInput = textInput("connect-visit-types", "text", { placeholder: info.needsVisitType ? "e.g. 408443003" : "" });
  const practitionersInput = h("input", { type: "text", id: "connect-practitioners", autocomplete: "off", spellcheck: "false", placeholder: "e.g. Practitioner/123" });
  const locationsInput = h("input", { type: "text", id: "connect-locations", autocomplete: "off", spellcheck: "false", placeholder: "e.g. Location/456" });
  const tokenInput = h("input", { type: "url", id: "connect-token-url", autocomplete: "off", spellcheck: "false" });
  const stu3Input = h("input", { type: "url", id: "connect-stu3", autocomplete: "off", spellcheck: "false" });
  // athenahealth
  const athenaEnv = h(
    "select",
    { id: "connect-athena-env", "aria-describedby": "connect-athena-env-help" },
    ATHENA_ENVIRONMENTS.map((e, i) => h("option", { value: e.url, selected: i === 0 }, `${e.label} · ${e.url.replace(/^https:\/\//, "")}`)),
  );
  const practiceInput = textInput("connect-practice", "text", { inputmode: "numeric", placeholder: "e.g. 195900" });
  const departmentsInput = textInput("connect-departments", "text", { placeholder: "e.g. 1, 82" });
  const appointmentTypesInput = textInput("connect-appointment-types", "text", { placeholder: "e.g. 2, 14" });
  const reasonsInput = textInput("connect-reasons", "text", { placeholder: "e.g. 962" });
  const providersInput = textInput("connect-providers", "text", { placeholder: "e.g. 71, 86" });
  // CalDAV
  const usernameInput = textInput("connect-username", "text", { placeholder: "e.g. frontdesk@yourpractice.com" });
  const passwordInput = textInput("connect-password", "password");
  const findBtn = h("button", { type: "button", class: "btn", id: "connect-find" }, "Find calendars");
  const findStatus = h("p", { class: "help find-status", id: "connect-find-status", role: "status" });
  const calendars = calendarKind ? calendarsTable(kind, zones) : null;

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
  const nameField = field("connect-name", "Name", nameInput, "Shown on every open time from this system, e.g. “Main Street Clinic”.");

  function fhirFields(): (HTMLElement | null)[] {
    return [
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
    ];
  }

  function athenaFields(): HTMLElement[] {
    return [
      field("connect-athena-env", "Environment", athenaEnv, info.addressHelp),
      field(
        "connect-client-id",
        "Client ID",
        clientIdInput,
        "From the API app your athenahealth administrator registered for MedHarmony Desk in the athenahealth Developer Portal.",
      ),
      field("connect-secret", "Client secret", secretInput, "From the same API app. Kept in this computer's keychain; MedHarmony Desk never shows it again."),
      field("connect-practice", "Practice ID", practiceInput, "Your practice's number in athenahealth, e.g. 195900. Your athenahealth administrator gives it to you."),
      field(
        "connect-departments",
        "Department IDs",
        departmentsInput,
        "Required: the departments whose schedules to read, separated by commas. Your athenahealth administrator gives you their IDs.",
      ),
      h(
        "p",
        { class: "help standalone-note", id: "connect-athena-types-note" },
        "athenahealth lists no open times without an appointment type or a reason: enter at least one appointment type ID or reason ID below. Your athenahealth administrator can tell you which ones your front desk books.",
      ),
      field("connect-appointment-types", "Appointment type IDs", appointmentTypesInput, "The appointment types to offer, separated by commas."),
      field("connect-reasons", "Reason IDs", reasonsInput, "Or the patient-facing visit reasons to offer, separated by commas."),
      field("connect-providers", "Provider IDs (optional)", providersInput, "Only these providers' open times, separated by commas. Empty: every provider of the departments."),
      field("connect-tz", "Time zone", tzSelect, "The practice's time zone: athenahealth gives appointment times without one, so they are read in this zone."),
    ];
  }

  function googleFields(): HTMLElement[] {
    return [
      field(
        "connect-client-id",
        "Client ID",
        clientIdInput,
        "Of your practice's Google Cloud project: an OAuth client of type “Desktop app”. Your IT person creates it and gives you the client ID.",
      ),
      field("connect-secret", "Client secret (optional)", secretInput, "Only if Google showed one with the client ID. Kept in this computer's keychain; never shown again."),
      h(
        "p",
        { class: "help standalone-note", id: "connect-google-note" },
        "When you click Connect, a browser window opens: sign in with the Google account that can see the providers' calendars. MedHarmony Desk continues by itself when you are done.",
      ),
      field("connect-tz", "Time zone", tzSelect, "The providers' time zone: working hours are read in it. A row of the table can name another zone."),
    ];
  }

  function caldavFields(): HTMLElement[] {
    const presets = h(
      "div",
      { class: "presets", role: "group", "aria-label": "Calendar services" },
      CALDAV_PRESETS.map((p) =>
        h(
          "button",
          {
            type: "button",
            class: "btn subtle",
            "data-preset": p.id,
            onclick: () => {
              urlInput.value = p.url;
              error.textContent = "";
              urlInput.focus();
              // Nextcloud: the server's own name goes in place of "your-nextcloud".
              const at = p.url.indexOf("your-nextcloud");
              if (at >= 0) urlInput.setSelectionRange?.(at, at + "your-nextcloud".length);
            },
          },
          p.label,
        ),
      ),
    );
    return [
      h(
        "div",
        { class: "field" },
        h("label", { for: "connect-url" }, "Server address"),
        presets,
        urlInput,
        h("p", { class: "help", id: "connect-url-help" }, info.addressHelp, " For Nextcloud, put your Nextcloud's address in place of “your-nextcloud”."),
      ),
      field("connect-username", "User name", usernameInput, "The calendar account's user name, often its e-mail address."),
      field(
        "connect-password",
        "App password",
        passwordInput,
        "Made in the account's security settings (for example Apple ID: Sign-In and Security → App-Specific Passwords), not the account's usual password. Kept in this computer's keychain; never shown again.",
      ),
      field("connect-tz", "Time zone", tzSelect, "The providers' time zone: working hours are read in it. A row of the table can name another zone."),
      h("div", { class: "find-row" }, findBtn, findStatus),
    ];
  }

  const kindFields = fhirKind ? fhirFields() : kind === "athena" ? athenaFields() : kind === "google-calendar" ? googleFields() : caldavFields();
  const fields = h("fieldset", { class: "connect-fields" }, h("legend", { class: "sr-only" }, "Connection settings"), nameField, kindFields, calendars?.el ?? null);

  const error = h("p", { class: "form-error", id: "connect-error", role: "alert" });
  const cancelBtn = h("button", { type: "button", class: "btn", id: "connect-cancel" }, "Cancel");
  const submitBtn = h("button", { type: "submit", class: "btn primary", id: "connect-submit" }, "Connect");
  const intro = calendarKind
    ? "MedHarmony Desk reads when each provider is busy in their calendar and offers the rest of their working hours as open times. Nothing is changed in the calendars by connecting them."
    : "MedHarmony Desk reads this system's open times and shows them in the week view, beside your other schedules. Nothing is changed in the system by connecting it.";
  const form = h("form", { novalidate: true }, h("h2", { id: "connect-title" }, connectTitle(kind)), h("p", { class: "muted intro" }, intro), fields);
  const dialog = h("dialog", { class: ["connect", calendarKind ? "wide" : ""], "aria-labelledby": "connect-title" }, form);
  const wait = signInWait({
    dialog,
    form: fields,
    account: () => signInAccount(method),
    cancelSignIn: () => deps.api.cancelSignIn(),
    onError: (t) => (error.textContent = t),
    onSignIn: deps.onSignIn,
  });
  // Always in view at the bottom of the dialog: what went wrong, and Connect.
  form.append(wait.el, h("div", { class: "connect-footer" }, error, h("div", { class: "actions" }, cancelBtn, submitBtn)));

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
      baseUrl: kind === "athena" ? athenaEnv.value : urlInput.value,
      method,
      clientId: clientIdInput.value,
      clientSecret: secretInput.value,
      keySource,
      keyPath,
      keyText: keyText.value,
      kid: kidInput.value,
      username: usernameInput.value,
      password: passwordInput.value,
      tz: tzSelect.value,
      visitTypes: visitInput.value,
      practitioners: practitionersInput.value,
      locations: locationsInput.value,
      tokenUrl: tokenInput.value,
      stu3Url: stu3Input.value,
      practiceId: practiceInput.value,
      departmentIds: departmentsInput.value,
      appointmentTypeIds: appointmentTypesInput.value,
      reasonIds: reasonsInput.value,
      providerIds: providersInput.value,
      calendars: calendars?.rows() ?? [],
    };
  }

  function setBusy(on: boolean): void {
    busy = on;
    fields.disabled = on;
    submitBtn.disabled = on;
    submitBtn.textContent = on ? "Connecting…" : "Connect";
    cancelBtn.disabled = on && !wait.waiting();
  }

  async function submit(): Promise<void> {
    if (busy || finding) return;
    const built = buildConnectForm(values());
    if (built.error !== null) {
      error.textContent = built.error;
      return;
    }
    error.textContent = "";
    if (method === "standalone" || method === "google") wait.show("Opening your web browser for you to sign in…");
    setBusy(true);
    try {
      result = await deps.api.connectIntegration(built.form);
      dialog.close("connected");
    } catch (e) {
      wait.hide();
      setBusy(false);
      error.textContent = errorText(e);
    }
  }

  async function findCalendars(): Promise<void> {
    if (busy || finding || !calendars) return;
    const problem = findCalendarsProblem(urlInput.value, usernameInput.value, passwordInput.value);
    if (problem) {
      error.textContent = problem;
      return;
    }
    error.textContent = "";
    findStatus.textContent = "";
    finding = true;
    findBtn.disabled = true;
    findBtn.textContent = "Finding calendars…";
    try {
      const found = await deps.api.findCalendars(urlInput.value.trim(), usernameInput.value.trim(), passwordInput.value.trim());
      if (found.length === 0) {
        error.textContent = "No calendars were found for this account. Check the server address and user name, or enter each calendar's address in the table.";
      } else {
        const added = calendars.fill(found);
        const n = found.length === 1 ? "1 calendar" : `${found.length} calendars`;
        findStatus.textContent =
          added === 0
            ? `Found ${n}, all already in the table.`
            : `Found ${n}. Check each provider's name, enter their working hours, and remove the rows you do not need.`;
      }
    } catch (e) {
      error.textContent = errorText(e);
    } finally {
      finding = false;
      findBtn.disabled = false;
      findBtn.textContent = "Find calendars";
    }
  }

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
  findBtn.addEventListener("click", () => void findCalendars());
  wireSignInDialog({ dialog, form, cancelBtn, wait, busy: () => busy, submit, secrets: [secretInput, keyText, passwordInput] });

  showMethod();
  const done = openModal(dialog, document.activeElement as HTMLElement | null).then(() => result);
  if (kind === "athena" || kind === "google-calendar") clientIdInput.focus();
  else urlInput.focus();
  return done;
}
