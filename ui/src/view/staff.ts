// "Who is at the desk?": the staff picker shown at start (and by Change in the top bar).
// Offers, bookings and releases are written to the audit log under this name.
//
// Stable hooks for tests: dialog.staff-picker, button[data-staff-name], #staff-name,
// #staff-start, #staff-cancel, #staff-error.

import type { StaffView } from "../bindings";
import { runFormDialog } from "./dialogs";
import { h } from "./dom";

/**
 * Asks who is at the desk; `setStaff` is the shell's command. Resolves with the staff view
 * after a name was chosen, or null when closed without one ("Not now", Escape).
 */
export function pickStaff(view: StaffView, setStaff: (name: string) => Promise<StaffView>): Promise<StaffView | null> {
  const nameInput = h("input", { type: "text", id: "staff-name", autocomplete: "off", spellcheck: "false", required: true, "aria-describedby": "staff-help" });
  const error = h("p", { class: "form-error", id: "staff-error", role: "alert" });
  const startBtn = h("button", { type: "submit", class: "btn primary", id: "staff-start" }, "Start");
  const cancelBtn = h("button", { type: "button", class: "btn", id: "staff-cancel" }, "Not now");
  const recent = view.recent.map((name) => h("button", { type: "button", class: "btn staff-recent-name", "data-staff-name": name }, name));
  const form = h(
    "form",
    { method: "dialog", novalidate: true },
    h("h2", { id: "staff-title" }, "Who is at the desk?"),
    h("p", { class: "muted", id: "staff-help" }, "Your name is noted beside each time you offer, book or release, so the practice knows who called whom."),
    recent.length ? h("div", { class: "staff-recent", role: "group", "aria-label": "Names used before on this computer" }, recent) : null,
    h("div", { class: "field" }, h("label", { for: "staff-name" }, recent.length ? "Or type your name" : "Your name"), nameInput),
    error,
    h("div", { class: "actions" }, cancelBtn, startBtn),
  );
  const dialog = h("dialog", { class: "staff-picker", "aria-labelledby": "staff-title" }, form);
  let picked: string | null = null;
  const { result, submit } = runFormDialog({
    dialog,
    form,
    cancelBtn,
    submitBtn: startBtn,
    error,
    busyText: "Starting…",
    read: () => {
      const name = (picked ?? nameInput.value).trim();
      picked = null;
      return name ? { value: name } : { error: "Type your name, or pick it from the list." };
    },
    save: setStaff,
    focus: recent[0] ?? nameInput,
    alsoDisable: recent,
  });
  for (const b of recent) {
    b.addEventListener("click", () => {
      picked = b.dataset.staffName ?? "";
      void submit();
    });
  }
  return result;
}
