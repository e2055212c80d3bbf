// The Integrations page's controller: loads the cards, re-renders them when
// the database changes, and runs Connect, Reconnect, Sync now and Disconnect.

import type { Api, ListenSignIn } from "./api";
import { errorText } from "./api";
import type { IntegrationCard, IntegrationsView } from "./bindings";
import type { SystemKind } from "./integrations";
import { latestOnly } from "./latest";
import { confirmDisconnect } from "./view/dialogs";
import { openConnectDialog } from "./view/connect";
import { openReconnectDialog } from "./view/reconnect";
import { replaceChildren } from "./view/dom";
import { renderIntegrations } from "./view/integrations";

/** Tones of the app's notices. */
export type Tone = "success" | "warning" | "error" | "neutral";

/** What the page needs from the app. */
export interface IntegrationsPageDeps {
  api: Api;
  /** True when the shell's clock is pretended (MEDHARMONY_NOW): "now" is the view's. */
  nowFixed: boolean;
  notify(tone: Tone, headline: string, lines?: string[]): void;
  /** IANA zones for the Connect form. */
  zones(): Promise<string[]>;
  deskZone(): string;
  pickKeyFile?: () => Promise<string | null>;
  onSignIn?: ListenSignIn;
  /** Opens the file picker to import calendars or spreadsheets. */
  importFiles(): void;
}

/** The page in `container`: `load()` fetches and renders, `render()` re-renders (relative times). */
export interface IntegrationsPage {
  load(): Promise<void>;
  render(): void;
  /** The last view loaded. */
  view(): IntegrationsView | null;
}

/** Creates the Integrations page controller. */
export function createIntegrationsPage(container: HTMLElement, deps: IntegrationsPageDeps): IntegrationsPage {
  const { api } = deps;
  let view: IntegrationsView | null = null;
  let connecting = false;
  const syncing = new Set<string>();

  function now(): number {
    return deps.nowFixed && view ? Date.parse(view.now) : Date.now();
  }

  const show = (v: NonNullable<typeof view>) => {
    view = v;
    render();
  };
  const load = latestOnly(() => api.integrations(), show, deps.notify, "The connected systems could not be listed");

  function render(): void {
    if (!view) return;
    // Keep the open "set aside" lists open, and the focused button focused, across a refresh.
    const open = new Set(Array.from(container.querySelectorAll<HTMLElement>("article[data-integration] details[open]")).map((d) => d.closest("article")?.dataset.integration));
    const active = document.activeElement as HTMLElement | null;
    const focused = active && container.contains(active) ? { card: active.closest("article")?.dataset.integration, action: active.dataset.action, connect: active.dataset.connect } : null;
    replaceChildren(
      container,
      renderIntegrations(view, {
        now: now(),
        syncing,
        onSyncNow: (c) => void syncNow(c),
        onPause: (c, paused) => void pause(c, paused),
        onDisconnect: (c) => void disconnect(c),
        onReconnect: (c) => void reconnect(c),
        onConnect: (k) => void connect(k),
        onImport: () => deps.importFiles(),
        onCancelSignIn: () => void api.cancelSignIn().catch(() => undefined),
      }),
    );
    for (const name of open) {
      if (!name) continue;
      container.querySelector<HTMLDetailsElement>(`article[data-integration="${CSS.escape(name)}"] details`)?.setAttribute("open", "");
    }
    if (focused?.card && focused.action) {
      container.querySelector<HTMLElement>(`article[data-integration="${CSS.escape(focused.card)}"] [data-action="${focused.action}"]`)?.focus();
    } else if (focused?.connect) {
      container.querySelector<HTMLElement>(`[data-connect="${focused.connect}"]`)?.focus();
    }
  }

  async function syncNow(card: IntegrationCard): Promise<void> {
    if (syncing.has(card.name)) return;
    syncing.add(card.name);
    render();
    try {
      const r = await api.syncNow(card.name);
      if (r.failed) deps.notify("error", `${card.name} could not be synced`, [r.problem ?? r.summary]);
      else if (!r.complete) deps.notify("warning", `${card.name} synced only in part`, [r.summary]);
      else deps.notify("success", `${card.name} synced`, [r.summary]);
    } catch (e) {
      deps.notify("error", `${card.name} could not be synced`, [errorText(e)]);
    } finally {
      syncing.delete(card.name);
    }
    await load();
  }

  async function pause(card: IntegrationCard, paused: boolean): Promise<void> {
    try {
      await api.setIntegrationPaused(card.name, paused);
      if (paused) deps.notify("success", `${card.name} paused`, ["It is no longer synced on its schedule. Its open times stay; Sync now still works."]);
      else deps.notify("success", `${card.name} resumed`, [`It is synced again every ${card.sync_minutes} minutes.`]);
    } catch (e) {
      deps.notify("error", `${card.name} could not be ${paused ? "paused" : "resumed"}`, [errorText(e)]);
    }
    await load();
  }

  async function disconnect(card: IntegrationCard): Promise<void> {
    if (!(await confirmDisconnect(card))) return;
    try {
      const r = await api.disconnectIntegration(card.name);
      const lines = [`Its open times were removed from the week view.`];
      if (r.warning) deps.notify("warning", `${r.name} disconnected`, [...lines, r.warning]);
      else deps.notify("success", `${r.name} disconnected`, lines);
    } catch (e) {
      deps.notify("error", `${card.name} could not be disconnected`, [errorText(e), "Nothing was changed."]);
    }
    await load();
  }

  async function connect(kind: SystemKind): Promise<void> {
    if (connecting) return;
    connecting = true;
    try {
      let zones: string[];
      try {
        zones = await deps.zones();
      } catch {
        zones = [deps.deskZone()];
      }
      const result = await openConnectDialog(kind, {
        api,
        zones,
        deskZone: deps.deskZone(),
        existingNames: view?.cards.map((c) => c.name) ?? [],
        pickKeyFile: deps.pickKeyFile,
        onSignIn: deps.onSignIn,
      });
      if (!result) return;
      const first = result.first_sync;
      const name = result.card.name;
      if (first.failed) {
        deps.notify("warning", `${name} is connected, but its first sync failed`, [first.problem ?? first.summary, "Check the address and sign-in details with your IT person, then click Sync now."]);
      } else {
        deps.notify("success", `${name} is connected`, [first.summary, `Its open times appear in the week view, marked “${name}”.`]);
      }
    } finally {
      connecting = false;
    }
    await load();
  }

  async function reconnect(card: IntegrationCard): Promise<void> {
    if (connecting) return;
    connecting = true;
    try {
      const result = await openReconnectDialog(card, { api, pickKeyFile: deps.pickKeyFile, onSignIn: deps.onSignIn });
      if (!result) return;
      const first = result.first_sync;
      const name = result.card.name;
      if (first.failed) {
        deps.notify("warning", `${name} is reconnected, but its sync failed`, [first.problem ?? first.summary, "Click Sync now to try again, or check the sign-in details with your IT person."]);
      } else {
        deps.notify("success", `${name} is reconnected`, [first.summary]);
      }
    } finally {
      connecting = false;
    }
    await load();
  }

  return { load, render, view: () => view };
}
