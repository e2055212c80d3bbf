// The browser sign-in wait panel, shared by the Connect and Reconnect dialogs:
// while staff sign in in their web browser (SMART standalone launch, Google),
// the dialog shows only this panel and a Cancel sign-in button.
//
// Stable hooks for tests: #sign-in-wait, #sign-in-text, #sign-in-url, #sign-in-copy, #sign-in-cancel.

import type { ListenSignIn } from "../api";
import { errorText } from "../api";
import type { SignInStarted } from "../bindings";
import { h } from "./dom";

/** The wait panel of one dialog. */
export interface SignInWait {
  /** The panel (hidden until `show`). */
  el: HTMLElement;
  /** True while a browser sign-in is awaited. */
  waiting(): boolean;
  /** Shows the panel with `text` in place of `form` and focuses Cancel sign-in. */
  show(text: string): void;
  /** Hides the panel and shows `form` again. */
  hide(): void;
  /** Asks the shell once to stop the sign-in (Cancel sign-in, Escape, Cancel). */
  cancel(): Promise<void>;
}

/** What the panel says once the shell has tried to open the browser. */
export function browserText(started: SignInStarted, account: string): string {
  return started.browser_opened
    ? `A browser window opened for you to sign in to ${started.name}. Sign in there with ${account}; MedHarmony Desk continues by itself when you are done (it waits up to 5 minutes).`
    : started.url
      ? `MedHarmony Desk could not open your web browser. Copy the address below into a web browser on this computer and sign in to ${started.name} there with ${account}; MedHarmony Desk continues by itself when you are done.`
      : "MedHarmony Desk could not open your web browser. Cancel the sign-in, then ask your IT person to check this computer's default browser.";
}

/**
 * Creates the panel for `dialog`, hiding `form` while waiting. `account` names the account to
 * sign in with ("your EHR account"); `cancelSignIn` is the shell's command; a failure to
 * cancel goes to `onError`. Listens to the `sign-in` event until the dialog closes.
 */
export function signInWait(opts: {
  dialog: HTMLDialogElement;
  form: HTMLElement;
  account: () => string;
  cancelSignIn: () => Promise<unknown>;
  onError: (text: string) => void;
  onSignIn?: ListenSignIn;
}): SignInWait {
  let waiting = false;
  const text = h("p", { id: "sign-in-text" });
  // The sign-in address, when the browser could not be opened: selectable, with a Copy button.
  const urlField = h("input", { type: "text", id: "sign-in-url", readonly: true, "aria-label": "Sign-in address", spellcheck: "false" }) as HTMLInputElement;
  const copyBtn = h("button", { type: "button", class: "btn", id: "sign-in-copy" }, "Copy address");
  const urlRow = h("div", { class: "sign-in-url", hidden: true }, urlField, copyBtn);
  copyBtn.addEventListener("click", () => {
    urlField.select();
    void navigator.clipboard?.writeText(urlField.value).then(
      () => (copyBtn.textContent = "Copied"),
      () => undefined,
    );
  });
  const cancelBtn = h("button", { type: "button", class: "btn", id: "sign-in-cancel" }, "Cancel sign-in");
  const el = h("div", { class: "sign-in-wait", id: "sign-in-wait", role: "status", hidden: true }, h("span", { class: "spinner", "aria-hidden": "true" }), h("div", { class: "wait-body" }, text, urlRow, cancelBtn));

  async function cancel(): Promise<void> {
    cancelBtn.disabled = true;
    cancelBtn.textContent = "Cancelling…";
    try {
      await opts.cancelSignIn();
    } catch (e) {
      opts.onError(errorText(e));
    }
  }
  cancelBtn.addEventListener("click", () => void cancel());

  let unlisten: (() => void) | null = null;
  opts
    .onSignIn?.((started) => {
      if (!waiting) return;
      text.textContent = browserText(started, opts.account());
      urlField.value = started.url ?? "";
      urlRow.hidden = !started.url;
    })
    .then((u) => {
      if (opts.dialog.isConnected) unlisten = u;
      else u();
    })
    .catch(() => undefined);
  opts.dialog.addEventListener("close", () => unlisten?.());

  return {
    el,
    waiting: () => waiting,
    show(t: string) {
      waiting = true;
      text.textContent = t;
      cancelBtn.disabled = false;
      cancelBtn.textContent = "Cancel sign-in";
      // While the browser sign-in runs, the dialog is only about it.
      opts.form.hidden = true;
      el.hidden = false;
      cancelBtn.focus();
    },
    hide() {
      waiting = false;
      urlRow.hidden = true;
      el.hidden = true;
      opts.form.hidden = false;
    },
    cancel,
  };
}

/** Who staff sign in as in the browser, for the wait panel. */
export function signInAccount(method: string): string {
  return method === "google" ? "the Google account that can see the providers' calendars" : "your EHR account";
}

/**
 * The behaviour the Connect and Reconnect dialogs share: Cancel closes the dialog, or cancels a
 * waiting browser sign-in; submitting calls `submit` (never a real form submission); Escape does
 * nothing while `busy()`, except cancel a waiting sign-in; and the `secrets` fields are emptied
 * when the dialog closes, so no secret outlives it.
 */
export function wireSignInDialog(opts: {
  dialog: HTMLDialogElement;
  form: HTMLFormElement;
  cancelBtn: HTMLElement;
  wait: SignInWait;
  busy: () => boolean;
  submit: () => Promise<void>;
  secrets: (HTMLInputElement | HTMLTextAreaElement)[];
}): void {
  opts.cancelBtn.addEventListener("click", () => {
    if (opts.wait.waiting()) void opts.wait.cancel();
    else if (!opts.busy()) opts.dialog.close("cancel");
  });
  opts.form.addEventListener("submit", (e) => {
    e.preventDefault();
    void opts.submit();
  });
  opts.dialog.addEventListener("cancel", (e) => {
    if (opts.busy()) {
      e.preventDefault();
      if (opts.wait.waiting()) void opts.wait.cancel();
    }
  });
  opts.dialog.addEventListener("close", () => {
    for (const field of opts.secrets) field.value = "";
  });
}
