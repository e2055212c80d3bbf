// The Reconnect dialog: asks only for the sign-in part of a connection whose
// sign-in expired or was refused (client ID and secret, a browser sign-in,
// a user name and app password, or a key), then signs in again and syncs.
// Everything else about the connection stays as it is.
//
// Stable hooks for tests: dialog.reconnect, #reconnect-title, #reconnect-client-id,
// #reconnect-secret, #reconnect-username, #reconnect-password, #reconnect-key-file,
// #reconnect-key-text, #reconnect-kid, #reconnect-submit, #reconnect-cancel,
// #reconnect-error, and the wait panel (#sign-in-wait, #sign-in-text, #sign-in-cancel).

import type { Api, ListenSignIn } from "../api";
import { errorText } from "../api";
import type { ConnectResult, IntegrationCard } from "../bindings";
import type { SignInValues } from "../integrations";
import { METHODS, buildSignIn, reconnectMethod } from "../integrations";
import { field, textInput } from "./connect";
import { openModal } from "./dialogs";
import { h } from "./dom";
import { signInAccount, signInWait, wireSignInDialog } from "./sign-in";

/** What the Reconnect dialog needs. */
export interface ReconnectDeps {
  api: Pick<Api, "reconnectIntegration" | "cancelSignIn">;
  /** The file picker for a private key; resolves with the path, null when cancelled. */
  pickKeyFile?: () => Promise<string | null>;
  /** The `sign-in` event (the browser was opened, or could not be). */
  onSignIn?: ListenSignIn;
}

/** Opens the Reconnect dialog for `card`; resolves with the result, or null when closed without reconnecting. */
export function openReconnectDialog(card: IntegrationCard, deps: ReconnectDeps): Promise<ConnectResult | null> {
  const method = reconnectMethod(card);
  const browser = method === "standalone" || method === "google";
  let keySource: "file" | "paste" = deps.pickKeyFile ? "file" : "paste";
  let keyPath: string | null = null;
  let busy = false;
  let result: ConnectResult | null = null;

  const clientIdInput = textInput("reconnect-client-id", "text", { value: card.client_id ?? "" });
  const secretInput = textInput("reconnect-secret", "password");
  const usernameInput = textInput("reconnect-username", "text", { value: card.username ?? "" });
  const passwordInput = textInput("reconnect-password", "password");
  const kidInput = textInput("reconnect-kid");
  const keyText = h("textarea", { id: "reconnect-key-text", class: "masked", rows: 3, spellcheck: "false", autocomplete: "off", placeholder: "-----BEGIN PRIVATE KEY-----", "aria-label": "Private key (pasted)" });
  const keyChosen = h("span", { class: "key-chosen" }, "No file chosen");
  const keyFileBtn = h("button", { type: "button", class: "btn", id: "reconnect-key-file" }, "Choose key file…");
  const keyFileRow = h("div", { class: "key-file" }, keyFileBtn, keyChosen);
  const keyPasteRow = h("div", { class: "key-paste" }, keyText);

  const athena = card.kind === "athena";
  const clientIdHelp = athena
    ? "From the API app in the athenahealth Developer Portal; your athenahealth administrator has it."
    : method === "google"
      ? "Of your practice's Google Cloud project (an OAuth client of type “Desktop app”); your IT person has it."
      : "The client ID your administrator gave you when MedHarmony Desk was registered.";
  const browserNote =
    method === "google"
      ? "When you click Reconnect, a browser window opens: sign in with the Google account that can see the providers' calendars."
      : "When you click Reconnect, a browser window opens for you to sign in with your EHR account.";

  let signInFields: (HTMLElement | null)[];
  switch (method) {
    case "basic":
      signInFields = [
        field("reconnect-username", "User name", usernameInput, "The calendar account's user name, often its e-mail address."),
        field("reconnect-password", "App password", passwordInput, "A new app password made in the account's security settings, not the account's usual password."),
      ];
      break;
    case "backend-key":
      signInFields = [
        field("reconnect-client-id", "Client ID", clientIdInput, clientIdHelp),
        h(
          "div",
          { class: "field" },
          h("span", { class: "label" }, "Private key"),
          h(
            "div",
            { class: "key-source", role: "radiogroup", "aria-label": "How to give the private key" },
            deps.pickKeyFile ? h("label", {}, h("input", { type: "radio", name: "reconnect-key-source", value: "file", checked: keySource === "file" }), " Choose the key file") : null,
            h("label", {}, h("input", { type: "radio", name: "reconnect-key-source", value: "paste", checked: keySource === "paste" }), " Paste the key"),
          ),
          keyFileRow,
          keyPasteRow,
          h("p", { class: "help" }, "The .pem file registered with the EHR; your IT person has it."),
        ),
        field("reconnect-kid", "Key ID (optional)", kidInput, "Only if your EHR administrator gave you one."),
      ];
      break;
    case "none":
      signInFields = [h("p", { class: "help" }, "This connection needs no sign-in: Reconnect tries it again.")];
      break;
    default:
      signInFields = [
        field("reconnect-client-id", "Client ID", clientIdInput, clientIdHelp),
        method === "client-secret" || method === "google"
          ? field(
              "reconnect-secret",
              method === "google" ? "Client secret (optional)" : "Client secret",
              secretInput,
              "Kept in this computer's keychain; MedHarmony Desk never shows it again.",
            )
          : null,
        browser ? h("p", { class: "help standalone-note" }, browserNote) : null,
      ];
  }

  const fields = h(
    "fieldset",
    { class: "connect-fields" },
    h("legend", { class: "sr-only" }, "Sign-in"),
    h(
      "p",
      { class: "help", id: "reconnect-method" },
      h("strong", {}, METHODS[method].label),
      " — ",
      athena ? "The client ID and secret of your practice's API app in the athenahealth Developer Portal; your athenahealth administrator has them." : METHODS[method].help,
    ),
    signInFields,
  );
  const error = h("p", { class: "form-error", id: "reconnect-error", role: "alert" });
  const cancelBtn = h("button", { type: "button", class: "btn", id: "reconnect-cancel" }, "Cancel");
  const submitBtn = h("button", { type: "submit", class: "btn primary", id: "reconnect-submit" }, "Reconnect");
  const form = h(
    "form",
    { novalidate: true },
    h("h2", { id: "reconnect-title" }, `Reconnect ${card.name}`),
    h("p", { class: "muted intro" }, `Sign in to ${card.name} again. Nothing else about the connection changes: its address and settings stay as they are.`),
    fields,
  );
  const dialog = h("dialog", { class: "connect reconnect", "aria-labelledby": "reconnect-title" }, form);
  const wait = signInWait({
    dialog,
    form: fields,
    account: () => signInAccount(method),
    cancelSignIn: () => deps.api.cancelSignIn(),
    onError: (t) => (error.textContent = t),
    onSignIn: deps.onSignIn,
  });
  form.append(wait.el, h("div", { class: "connect-footer" }, error, h("div", { class: "actions" }, cancelBtn, submitBtn)));

  function showKeySource(): void {
    keyFileRow.hidden = keySource !== "file";
    keyPasteRow.hidden = keySource !== "paste";
  }

  function values(): SignInValues {
    return {
      method,
      clientId: clientIdInput.value,
      clientSecret: secretInput.value,
      keySource,
      keyPath,
      keyText: keyText.value,
      kid: kidInput.value,
      username: usernameInput.value,
      password: passwordInput.value,
    };
  }

  function setBusy(on: boolean): void {
    busy = on;
    fields.disabled = on;
    submitBtn.disabled = on;
    submitBtn.textContent = on ? "Reconnecting…" : "Reconnect";
    cancelBtn.disabled = on && !wait.waiting();
  }

  async function submit(): Promise<void> {
    if (busy) return;
    const built = buildSignIn(card.kind, values());
    if (built.error !== null) {
      error.textContent = built.error;
      return;
    }
    error.textContent = "";
    if (browser) wait.show("Opening your web browser for you to sign in…");
    setBusy(true);
    try {
      result = await deps.api.reconnectIntegration(card.name, built.auth);
      dialog.close("reconnected");
    } catch (e) {
      wait.hide();
      setBusy(false);
      error.textContent = errorText(e);
    }
  }

  for (const r of Array.from(fields.querySelectorAll<HTMLInputElement>('input[name="reconnect-key-source"]'))) {
    r.addEventListener("change", () => {
      if (r.checked) keySource = r.value as "file" | "paste";
      showKeySource();
    });
  }
  keyFileBtn.addEventListener("click", async () => {
    if (!deps.pickKeyFile) return;
    try {
      const picked = await deps.pickKeyFile();
      if (picked) {
        keyPath = picked;
        keyChosen.textContent = picked.split(/[\\/]/).pop() || picked;
        keyChosen.title = picked;
        keyChosen.classList.add("chosen");
      }
    } catch (e) {
      error.textContent = `The file picker could not be opened: ${errorText(e)}`;
    }
  });
  wireSignInDialog({ dialog, form, cancelBtn, wait, busy: () => busy, submit, secrets: [secretInput, passwordInput, keyText] });

  showKeySource();
  const done = openModal(dialog, document.activeElement as HTMLElement | null).then(() => result);
  const first = fields.querySelector<HTMLElement>("input:not([type=radio]), textarea");
  (method === "basic" ? (card.username ? passwordInput : usernameInput) : card.client_id && (method === "client-secret" || method === "google") ? secretInput : first)?.focus();
  return done;
}
