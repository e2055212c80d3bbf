// The Integrations page: a card per connected system, then the systems that
// can be added. Stable hooks for tests:
//   card:  article[data-integration="<name>"][data-status="ok|problem|stale|never|syncing"],
//          .card-athena, .card-calendars li, .next-sync, .card-reconnect,
//          buttons [data-action="sync|pause|resume|disconnect|reconnect"]
//   tile:  button[data-connect="epic|oracle-health|athena|google-calendar|caldav|fhir"], #manual-import

import type { IntegrationCard, IntegrationsView } from "../bindings";
import type { SystemKind } from "../integrations";
import { SYSTEMS, countsText, lastSyncedText, nextSyncText, reconnectText, setAsideText, statusBadge } from "../integrations";
import { h } from "./dom";

/** What the page's buttons do. */
export interface IntegrationsPageOptions {
  /** The current instant (ms), for "Last synced 3 min ago". */
  now: number;
  /** Names syncing because of this window (shown at once, before the shell says so). */
  syncing: Set<string>;
  onSyncNow(card: IntegrationCard): void;
  /** Pauses (`paused` true) or resumes the card's scheduled syncs. */
  onPause(card: IntegrationCard, paused: boolean): void;
  onDisconnect(card: IntegrationCard): void;
  /** Signs in again to a connection whose sign-in expired or was refused. */
  onReconnect(card: IntegrationCard): void;
  onConnect(kind: SystemKind): void;
  onImport(): void;
  onCancelSignIn(): void;
}

function renderCard(card: IntegrationCard, opts: IntegrationsPageOptions): HTMLElement {
  const here = opts.syncing.has(card.name);
  const badge = statusBadge(card, here);
  const last = card.last_sync;
  const counts = last ? countsText(last) : null;
  const setAside = last?.set_aside ?? [];
  return h(
    "article",
    { class: ["integration-card", `status-${badge.tone}`], "data-integration": card.name, "data-status": badge.tone, "aria-labelledby": `card-${card.name}` },
    h(
      "div",
      { class: "card-head" },
      h("div", { class: "card-title" }, h("h3", { id: `card-${card.name}` }, card.name), h("span", { class: "kind-badge" }, card.kind_label)),
      h("span", { class: ["status-pill", `tone-${badge.tone}`], "data-tone": badge.tone }, h("span", { class: "status-dot", "aria-hidden": "true" }), badge.text),
    ),
    h("p", { class: "card-url", title: card.base_url }, card.base_url),
    h(
      "dl",
      { class: "card-facts" },
      h("div", {}, h("dt", {}, "Sign-in"), h("dd", {}, card.auth_words, card.client_id ? h("span", { class: "muted" }, ` · client ID ${card.client_id}`) : null)),
      h("div", {}, h("dt", {}, "Time zone"), h("dd", {}, card.tz)),
      card.athena ? h("div", { class: "card-athena" }, h("dt", {}, "Reads"), h("dd", {}, card.athena)) : null,
      card.calendars.length
        ? h(
            "div",
            { class: "card-calendars" },
            h("dt", {}, "Calendars"),
            h(
              "dd",
              {},
              h(
                "ul",
                {},
                card.calendars.map((c) => h("li", {}, c)),
              ),
            ),
          )
        : null,
    ),
    card.needs_reconnect
      ? h(
          "div",
          { class: "card-reconnect", role: "alert" },
          h("p", {}, reconnectText(card)),
          h("button", { type: "button", class: "btn primary", "data-action": "reconnect", disabled: here, onclick: () => opts.onReconnect(card) }, "Reconnect"),
        )
      : null,
    h(
      "div",
      { class: "sync-times" },
      h("p", { class: "last-synced", title: card.last_sync_at ?? "" }, lastSyncedText(card, opts.now)),
      h("p", { class: ["next-sync", card.active && card.next_sync_at ? "" : "paused"], title: card.next_sync_at ?? "" }, nextSyncText(card, opts.now)),
    ),
    counts && last
      ? h(
          "div",
          { class: "stats", role: "group", "aria-label": `Last sync: ${counts}` },
          (
            [
              [last.added, "added"],
              [last.changed, "changed"],
              [last.removed, "removed"],
              [last.unchanged, "up to date"],
            ] as const
          ).map(([n, label]) => h("div", { class: ["stat", n > 0 && label !== "up to date" ? "nonzero" : ""] }, h("span", { class: "stat-n" }, n), h("span", { class: "stat-l" }, label))),
        )
      : null,
    setAside.length
      ? h(
          "details",
          { class: "set-aside" },
          h("summary", {}, setAsideText(setAside.length)),
          h("p", { class: "muted" }, "These records could not be read safely, so they are not offered as open times. Ask your EHR administrator to correct them."),
          h(
            "ul",
            {},
            setAside.map((s) => h("li", {}, h("code", {}, s.resource), " — ", s.reason)),
          ),
        )
      : null,
    card.problem ? h("p", { class: "card-problem", role: "alert" }, card.problem) : null,
    h(
      "div",
      { class: "card-actions" },
      h(
        "button",
        { type: "button", class: "btn", "data-action": "sync", disabled: here || card.status === "syncing", onclick: () => opts.onSyncNow(card) },
        here || card.status === "syncing" ? "Syncing…" : "Sync now",
      ),
      card.active
        ? h("button", { type: "button", class: "btn subtle", "data-action": "pause", disabled: here, title: "Stop syncing every " + card.sync_minutes + " minutes; its open times stay and Sync now still works.", onclick: () => opts.onPause(card, true) }, "Pause syncing")
        : h("button", { type: "button", class: "btn", "data-action": "resume", disabled: here, onclick: () => opts.onPause(card, false) }, "Resume syncing"),
      h("button", { type: "button", class: "btn subtle danger-text", "data-action": "disconnect", disabled: here, onclick: () => opts.onDisconnect(card) }, "Disconnect…"),
    ),
  );
}

function signingInCard(name: string, opts: IntegrationsPageOptions): HTMLElement {
  return h(
    "article",
    { class: ["integration-card", "status-syncing"], "data-integration": name, "data-status": "signing-in" },
    h(
      "div",
      { class: "card-head" },
      h("div", { class: "card-title" }, h("h3", {}, name)),
      h("span", { class: "status-pill tone-syncing" }, h("span", { class: "status-dot", "aria-hidden": "true" }), "Signing in…"),
    ),
    h("p", { class: "muted" }, "Waiting for the sign-in in your web browser."),
    h("div", { class: "card-actions" }, h("button", { type: "button", class: "btn", onclick: () => opts.onCancelSignIn() }, "Cancel sign-in")),
  );
}

const TILE_MARKS: Record<SystemKind, string> = { epic: "E", "oracle-health": "O", athena: "a", "google-calendar": "G", caldav: "C", fhir: "F" };

function tile(kind: SystemKind, title: string, blurb: string, opts: IntegrationsPageOptions): HTMLElement {
  return h(
    "button",
    { type: "button", class: ["system-tile", `system-${kind}`], "data-connect": kind, onclick: () => opts.onConnect(kind) },
    h("span", { class: "tile-mark", "aria-hidden": "true" }, TILE_MARKS[kind]),
    h("span", { class: "tile-text" }, h("span", { class: "tile-title" }, title), h("span", { class: "tile-blurb" }, blurb)),
    h("span", { class: "tile-go", "aria-hidden": "true" }, "Connect →"),
  );
}

/** Builds the page for `view`. */
export function renderIntegrations(view: IntegrationsView, opts: IntegrationsPageOptions): HTMLElement {
  const cards = view.cards.map((c) => renderCard(c, opts));
  const pending = view.connecting && !view.cards.some((c) => c.name.toLowerCase() === view.connecting?.toLowerCase()) ? signingInCard(view.connecting, opts) : null;
  return h(
    "div",
    { class: "integrations-page" },
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Integrations"),
      h("p", { class: "lead" }, "Connect the systems where your practice keeps its schedules. MedHarmony Desk reads their open times and shows them in the week view, each marked with where it came from."),
    ),
    h(
      "section",
      { class: "page-section", "aria-labelledby": "connected-title" },
      h("h2", { id: "connected-title" }, "Connected systems"),
      cards.length || pending
        ? h("div", { class: "cards", id: "integration-cards" }, cards, pending)
        : h("p", { class: "none-yet", id: "integration-cards" }, "No system is connected yet. Choose one below; your EHR administrator or IT person has the details it asks for."),
    ),
    h(
      "section",
      { class: "page-section", "aria-labelledby": "add-title" },
      h("h2", { id: "add-title" }, "Add a connection"),
      h(
        "div",
        { class: "tiles" },
        SYSTEMS.map((s) => tile(s.kind, s.title, s.blurb, opts)),
        h(
          "div",
          { class: "system-tile manual", id: "manual-upload" },
          h("span", { class: "tile-mark", "aria-hidden": "true" }, "↥"),
          h(
            "span",
            { class: "tile-text" },
            h("span", { class: "tile-title" }, "Manual upload (.ics/.csv)"),
            h("span", { class: "tile-blurb" }, "Drop provider calendars (.ics) or schedule spreadsheets (.csv) on the week view, or click Import. Import a file again when it changes."),
          ),
          h("button", { type: "button", class: "btn", id: "manual-import", onclick: () => opts.onImport() }, "Import…"),
        ),
      ),
    ),
  );
}
