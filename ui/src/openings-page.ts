// The Openings page's controller: loads the openings and figures, and for the chosen time
// the suggestions (MedHarmony's own ranking at once, then the language model's when it is on),
// and runs Offer, Book and Release.

import type { Api } from "./api";
import { errorText } from "./api";
import type { FillView, SuggestionDto, SuggestionsView } from "./bindings";
import { activeHold, whenText } from "./fill";
import type { Tone } from "./integrations-page";
import { latestOnly } from "./latest";
import { replaceChildren } from "./view/dom";
import type { PanelState } from "./view/openings";
import { renderOpenings } from "./view/openings";

/** What the page needs from the app. */
export interface OpeningsPageDeps {
  api: Api;
  /** The current instant (ms): the shell's pretended clock when it has one. */
  now(): number;
  notify(tone: Tone, headline: string, lines?: string[]): void;
  /** Resolves true once someone is at the desk (asks when nobody is); Offer, Book and Release need it. */
  ensureStaff(): Promise<boolean>;
  /** Opens the Waitlist page. */
  showWaitlist(): void;
  /** Called with every fill view loaded (who is at the desk, whether the model is on). */
  onLoaded?(view: FillView): void;
}

/** The page in `container`. */
export interface OpeningsPage {
  /** Fetches the openings and figures, and renders. */
  load(): Promise<void>;
  /** Re-renders (holds that ran out). */
  render(): void;
  /** Chooses a time (any free `slot-<n>`, listed or not) and shows its suggestions. */
  select(slotId: string): Promise<void>;
  /** After a change in the database: the list again, and the chosen time's suggestions (keeping the model's order). */
  refresh(): Promise<void>;
  /** The last fill view loaded. */
  view(): FillView | null;
  /** The chosen time, if any. */
  selected(): string | null;
}

const emptyPanel = (): PanelState => ({ view: null, loading: false, modelPending: false, busy: null, error: null, note: null, booked: null });

/** Creates the Openings page controller. */
export function createOpeningsPage(container: HTMLElement, deps: OpeningsPageDeps): OpeningsPage {
  const { api } = deps;
  let fill: FillView | null = null;
  let selected: string | null = null;
  let panel: PanelState = emptyPanel();
  /** Bumped per chosen time: answers for an earlier choice are dropped. */
  let pickSeq = 0;
  /** Bumped per Offer, Book or Release: a model answer asked before one keeps the newer hold. */
  let actions = 0;

  const show = (v: FillView) => {
    fill = v;
    deps.onLoaded?.(v);
    render();
  };
  const load = latestOnly(() => api.fillView(), show, deps.notify, "The openings could not be loaded");

  function render(): void {
    if (!fill) return;
    const active = document.activeElement as HTMLElement | null;
    const inside = !!active && container.contains(active);
    const focus = inside
      ? {
          slot: active.dataset.openingSlot,
          id: active.id,
          patient: active.closest<HTMLElement>("[data-suggestion-patient]")?.dataset.suggestionPatient,
        }
      : null;
    replaceChildren(
      container,
      renderOpenings(fill, selected, panel, {
        now: deps.now(),
        onSelect: (id) => void select(id),
        onOffer: (s) => void offer(s),
        onBook: () => void book(),
        onRelease: () => void release(),
        onShowWaitlist: () => deps.showWaitlist(),
      }),
    );
    if (!focus) return;
    const again = focus.slot
      ? container.querySelector<HTMLElement>(`[data-opening-slot="${CSS.escape(focus.slot)}"]`)
      : focus.patient
        ? container.querySelector<HTMLElement>(`[data-suggestion-patient="${CSS.escape(focus.patient)}"] button`)
        : focus.id
          ? container.querySelector<HTMLElement>(`#${CSS.escape(focus.id)}`)
          : null;
    again?.focus();
  }

  async function select(slotId: string): Promise<void> {
    const mine = ++pickSeq;
    const same = selected === slotId && panel.view?.slot_id === slotId;
    selected = slotId;
    panel = { ...emptyPanel(), view: same ? panel.view : null, loading: true };
    if (!fill) await load();
    if (mine !== pickSeq) return;
    render();
    let first: SuggestionsView;
    try {
      first = await api.fillSuggestions(slotId, false);
    } catch (e) {
      if (mine !== pickSeq) return;
      panel = { ...panel, loading: false, view: null, error: errorText(e) };
      render();
      return;
    }
    if (mine !== pickSeq) return;
    panel = { ...panel, loading: false, view: first, modelPending: !!fill?.model_on };
    render();
    if (!fill?.model_on) return;
    const asked = actions;
    let second: SuggestionsView;
    try {
      second = await api.fillSuggestions(slotId, true);
    } catch (e) {
      if (mine !== pickSeq) return;
      // The shell normally answers with its own ranking and a reason; a failed call says the same calmly.
      panel = { ...panel, modelPending: false, view: panel.view && { ...panel.view, model_asked: true, fallback_reason: errorText(e) } };
      render();
      return;
    }
    if (mine !== pickSeq) return;
    const current = panel.view;
    const kept = asked !== actions && current ? { hold: current.hold } : {};
    panel = { ...panel, modelPending: false, view: { ...second, ...kept } };
    render();
  }

  async function refresh(): Promise<void> {
    await load();
    const slotId = selected;
    const current = panel.view;
    if (!slotId || !current || current.slot_id !== slotId || panel.loading || panel.modelPending || panel.busy) return;
    const mine = pickSeq;
    try {
      const fresh = await api.fillSuggestions(slotId, false);
      if (mine !== pickSeq || panel.busy || !panel.view) return;
      // The model's order stays (asking it again on every change would be slow); the hold and counts are fresh.
      const now = panel.view;
      panel = {
        ...panel,
        view: now.model_asked ? { ...fresh, suggestions: now.suggestions, ranked_by: now.ranked_by, model_asked: true, fallback_reason: now.fallback_reason } : fresh,
      };
      render();
    } catch {
      // The list is refreshed; the panel keeps what it shows.
    }
  }

  /** Runs one of Offer, Book or Release on the chosen time with the busy state and errors in the panel. */
  async function act<T>(busy: PanelState["busy"], run: (slotId: string) => Promise<T>, done: (result: T, view: SuggestionsView) => Partial<PanelState>): Promise<void> {
    const slotId = selected;
    const view = panel.view;
    if (!slotId || !view || panel.busy) return;
    if (!(await deps.ensureStaff())) return;
    if (selected !== slotId) return;
    actions += 1;
    panel = { ...panel, busy, error: null, note: null };
    render();
    try {
      const result = await run(slotId);
      if (selected === slotId) panel = { ...panel, ...done(result, panel.view ?? view) };
    } catch (e) {
      if (selected === slotId) panel = { ...panel, error: errorText(e) };
    } finally {
      if (selected === slotId) panel = { ...panel, busy: null };
      render();
    }
    await load();
  }

  async function offer(s: SuggestionDto): Promise<void> {
    await act({ action: "offer", patientId: s.patient_id }, (slotId) => api.offerSlot(slotId, s.patient_id), (hold, view) => ({ view: { ...view, hold } }));
    if (panel.view?.hold?.patient_id === s.patient_id) container.querySelector<HTMLElement>("#book-offer")?.focus();
  }

  async function book(): Promise<void> {
    const view = panel.view;
    const hold = view ? activeHold(view, deps.now()) : null;
    if (!view || !hold) return;
    const name = hold.display_name || view.suggestions.find((s) => s.patient_id === hold.patient_id)?.display_name || "the patient";
    const when = whenText(view.start, view.provider_tz);
    await act({ action: "book" }, (slotId) => api.bookOffer(slotId), (r, v) => {
      deps.notify("success", `Booked ${name} at ${when} in ${r.integration}`);
      return { view: { ...v, hold: null }, booked: { name, when, integration: r.integration } };
    });
  }

  async function release(): Promise<void> {
    await act({ action: "release" }, (slotId) => api.releaseOffer(slotId), (_r, v) => ({ view: { ...v, hold: null }, note: "The hold was released: the time can be offered again." }));
  }

  return { load, render, select, refresh, view: () => fill, selected: () => selected };
}
