// The Openings page: the times that came free (left), the fill panel for the chosen one
// (right: the best waiting patients, Offer, then Book or Release), and the 30-day figures.
//
// Stable hooks for tests:
//   list:   #openings-list, button[data-opening-slot="slot-<n>"][data-state="free|held|booked|taken"]
//   panel:  #fill-panel, #fill-title, #fill-fit, #ranked-by[data-ranked-by], #model-wait,
//           #fallback-note, #not-bookable, #hold-box, #book-offer, #release-offer,
//           #booked-box, #fill-error, #fill-note, li[data-suggestion-patient="<id>"],
//           button[data-action="offer"], .karma, .no-source-id, #no-fit
//   stats:  #fill-stats (rows tr[data-provider], the total in tfoot)

import type { FillStatsRow, FillView, OpeningDto, SuggestionDto, SuggestionsView } from "../bindings";
import { activeHold, durationWords, fitText, karmaHelp, noticeWords, openingLabel, openingState, priorityLabel } from "../fill";
import { deskZone, formatTime, formatZonedRange, monthDayAt } from "../time";
import { h } from "./dom";

/** An action the fill panel is waiting on. */
export interface PanelBusy {
  action: "offer" | "book" | "release";
  /** The patient being offered the time (Offer only). */
  patientId?: number;
}

/** What the fill panel shows for the chosen time. */
export interface PanelState {
  /** The suggestions, once the first (deterministic) answer came. */
  view: SuggestionsView | null;
  /** True while the first answer is awaited. */
  loading: boolean;
  /** True while the language model's order is awaited. */
  modelPending: boolean;
  busy: PanelBusy | null;
  /** A command's error, as the shell said it. */
  error: string | null;
  /** A calm status line (e.g. after Release). */
  note: string | null;
  /** The booking just made for this time. */
  booked: { name: string; when: string; integration: string } | null;
}

/** What the page's buttons do, and the clock. */
export interface OpeningsOptions {
  /** The current instant (ms): holds that ran out are not shown. */
  now: number;
  locale?: string;
  onSelect(slotId: string): void;
  onOffer(s: SuggestionDto): void;
  onBook(): void;
  onRelease(): void;
  onShowWaitlist(): void;
}

/** The whole page for `fill`, with `selected` (a slot id) and its panel. */
export function renderOpenings(fill: FillView, selected: string | null, panel: PanelState, opts: OpeningsOptions): HTMLElement {
  const opening = fill.openings.find((o) => o.slot_id === selected) ?? null;
  return h(
    "div",
    { class: "openings-page" },
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Openings"),
      h("p", { class: "lead" }, "Times that came free when a patient cancelled. Pick one to see who on the waitlist can take it, call them, and book it."),
    ),
    h("div", { class: "openings-layout" }, renderOpeningsList(fill.openings, selected, opts), renderFillPanel(selected, opening, panel, opts)),
    renderStats(fill, opts.locale),
  );
}

/** The list of openings, soonest first; Up and Down move between them. */
export function renderOpeningsList(openings: OpeningDto[], selected: string | null, opts: OpeningsOptions): HTMLElement {
  if (!openings.length) {
    return h(
      "section",
      { class: "openings-list empty-list", id: "openings-list", "aria-label": "Openings" },
      h("h2", {}, "No openings yet"),
      h("p", {}, "When a patient cancels in a connected system, the freed time appears here within minutes, with the waiting patients who can take it."),
      h("p", { class: "muted" }, "You can also look for waiting patients for any free time: click it in the week view, then Find waiting patients."),
    );
  }
  const list = h(
    "ul",
    { class: "opening-items" },
    openings.map((o) => {
      const st = openingState(o, opts.now, opts.locale);
      return h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: ["opening", `state-${st.state}`],
            "data-opening-slot": o.slot_id,
            "data-state": st.state,
            "aria-pressed": o.slot_id === selected ? "true" : "false",
            onclick: () => opts.onSelect(o.slot_id),
          },
          h("span", { class: "opening-label" }, openingLabel(o, opts.locale)),
          h("span", { class: ["state-pill", `state-${st.state}`] }, st.text),
        ),
      );
    }),
  );
  list.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const buttons = Array.from(list.querySelectorAll<HTMLButtonElement>("button.opening"));
    const at = buttons.indexOf(e.target as HTMLButtonElement);
    const next = buttons[at + (e.key === "ArrowDown" ? 1 : -1)];
    if (at < 0 || !next) return;
    e.preventDefault();
    next.focus();
  });
  return h("section", { class: "openings-list", id: "openings-list", "aria-label": "Openings" }, list);
}

function suggestionItem(s: SuggestionDto, view: SuggestionsView, panel: PanelState, canOffer: boolean, heldFor: number | null, opts: OpeningsOptions): HTMLElement {
  const offering = panel.busy?.action === "offer" && panel.busy.patientId === s.patient_id;
  const held = heldFor === s.patient_id;
  return h(
    "li",
    { class: ["suggestion", held ? "held" : ""], "data-suggestion-patient": s.patient_id },
    h(
      "div",
      { class: "suggestion-head" },
      h("strong", { class: "patient-name" }, s.display_name),
      h("span", { class: ["priority", `priority-${s.priority}`] }, priorityLabel(s.priority)),
      s.karma_bonus > 0 ? h("span", { class: "karma", title: karmaHelp(s.karma_bonus, s.notice_hours), tabindex: 0, "aria-label": karmaHelp(s.karma_bonus, s.notice_hours) }, `+${s.karma_bonus} karma`) : null,
      held ? h("span", { class: "state-pill state-held" }, "Held") : null,
    ),
    h("p", { class: "phone" }, s.phone ? s.phone : h("span", { class: "muted" }, "No phone number on the waitlist")),
    h("p", { class: "reason" }, s.reason),
    s.model_reason ? h("p", { class: "model-reason" }, h("span", { class: "muted" }, "Language model: "), s.model_reason) : null,
    // The reason already says how long the patient has waited.
    h("p", { class: "facts muted" }, noticeWords(s.notice_hours)),
    !s.has_source_id && view.bookable
      ? h("p", { class: "no-source-id" }, "Book needs this patient's id in the connected system: add it on the Waitlist page. You can still offer the time.")
      : null,
    // While the time is held, the hold box above says what to do: Book or Release.
    canOffer && heldFor === null
      ? h(
          "div",
          { class: "suggestion-actions" },
          h(
            "button",
            { type: "button", class: "btn primary", "data-action": "offer", disabled: !!panel.busy, onclick: () => opts.onOffer(s), "aria-label": `Offer to ${s.display_name}` },
            offering ? [h("span", { class: "spinner small", "aria-hidden": "true" }), "Holding…"] : "Offer",
          ),
        )
      : null,
  );
}

/** The fill panel for the chosen time. `opening` is its entry in the list, when it is one. */
export function renderFillPanel(selected: string | null, opening: OpeningDto | null, panel: PanelState, opts: OpeningsOptions): HTMLElement {
  const section = (...children: (HTMLElement | null)[]) => h("section", { class: "fill-panel", id: "fill-panel", "aria-labelledby": "fill-title", "aria-busy": panel.loading || panel.modelPending ? "true" : "false" }, children);
  if (!selected) {
    return section(h("h2", { id: "fill-title", class: "sr-only" }, "Waiting patients"), h("p", { class: "panel-empty" }, "Pick an opening to see who on the waitlist can take it."));
  }
  const view = panel.view?.slot_id === selected ? panel.view : null;
  if (!view) {
    return section(
      h("h2", { id: "fill-title" }, opening ? openingLabel(opening, opts.locale) : "Waiting patients"),
      panel.error ? h("p", { class: "form-error", id: "fill-error", role: "alert" }, panel.error) : h("p", { class: "panel-loading", role: "status" }, h("span", { class: "spinner small", "aria-hidden": "true" }), "Finding waiting patients…"),
    );
  }
  const hold = activeHold(view, opts.now);
  const state = opening ? openingState(opening, opts.now, opts.locale).state : null;
  const gone = state === "booked" || state === "taken" || !!panel.booked;
  const canOffer = view.bookable && !gone;
  const heldSuggestion = hold ? view.suggestions.find((s) => s.patient_id === hold.patient_id) : undefined;
  const busyBook = panel.busy?.action === "book";
  const busyRelease = panel.busy?.action === "release";
  return section(
    h("h2", { id: "fill-title" }, openingLabel(view, opts.locale)),
    h(
      "p",
      { class: "fill-when" },
      formatZonedRange(view.start, view.end, view.provider_tz, opts.locale),
      view.service_type ? h("span", { class: "muted" }, ` · ${view.service_type}`) : null,
    ),
    h("p", { class: "fill-fit", id: "fill-fit" }, fitText(view.eligible, view.waiting)),
    h(
      "p",
      { class: "ranked-by", id: "ranked-by", "data-ranked-by": view.ranked_by },
      view.ranked_by === "llm" ? "Re-ranked by the language model" : "Ranked by MedHarmony's rules",
      panel.modelPending ? h("span", { class: "model-wait", id: "model-wait", role: "status" }, h("span", { class: "spinner small", "aria-hidden": "true" }), "Asking the language model; its order fills in when ready") : null,
    ),
    view.model_asked && view.fallback_reason
      ? h("p", { class: "fallback-note", id: "fallback-note", role: "note" }, `The language model's order could not be used (${view.fallback_reason}); showing MedHarmony's own ranking.`)
      : null,
    !view.bookable
      ? h("p", { class: "not-bookable", id: "not-bookable" }, "This time comes from an imported file or calendar, so it can't be held or booked from here. Call a patient below, then book the time in the provider's own system.")
      : null,
    gone && !panel.booked ? h("p", { class: "not-bookable", id: "no-longer-free" }, state === "booked" ? "This time has been booked." : "This time is no longer free: someone else has it.") : null,
    panel.booked
      ? h("div", { class: "booked-box", id: "booked-box", role: "status" }, h("strong", {}, `Booked ${panel.booked.name}`), ` at ${panel.booked.when} in ${panel.booked.integration}.`)
      : null,
    hold && !gone
      ? h(
          "div",
          { class: "hold-box", id: "hold-box" },
          h("p", { class: "hold-title" }, h("strong", {}, `Held for ${hold.display_name || "a patient who left the waitlist"}`), ` until ${formatTime(hold.expires_at, view.provider_tz, opts.locale)}`),
          h("p", { class: "muted" }, `Offered by ${hold.staff}. Call the patient, then book the time if they take it, or release it for someone else.`),
          heldSuggestion && !heldSuggestion.has_source_id
            ? h("p", { class: "no-source-id" }, "Book needs this patient's id in the connected system: add it on the Waitlist page first.")
            : null,
          h(
            "div",
            { class: "hold-actions" },
            h("button", { type: "button", class: "btn primary", id: "book-offer", disabled: !!panel.busy, onclick: () => opts.onBook() }, busyBook ? [h("span", { class: "spinner small", "aria-hidden": "true" }), "Booking…"] : "Book"),
            h("button", { type: "button", class: "btn", id: "release-offer", disabled: !!panel.busy, onclick: () => opts.onRelease() }, busyRelease ? "Releasing…" : "Release"),
          ),
        )
      : null,
    panel.busy?.action === "offer" ? h("p", { class: "panel-loading", role: "status" }, "Checking that the time is still free, then holding it…") : null,
    panel.error ? h("p", { class: "form-error", id: "fill-error", role: "alert" }, panel.error) : null,
    panel.note ? h("p", { class: "fill-note", id: "fill-note", role: "status" }, panel.note) : null,
    view.suggestions.length
      ? h(
          "ol",
          { class: "suggestions", "aria-label": "Best waiting patients for this time" },
          view.suggestions.map((s) => suggestionItem(s, view, panel, canOffer, hold ? hold.patient_id : null, opts)),
        )
      : h(
          "div",
          { class: "none-yet", id: "no-fit" },
          view.waiting === 0
            ? [h("p", {}, "Nobody is on the waitlist yet."), h("button", { type: "button", class: "btn", onclick: () => opts.onShowWaitlist() }, "Go to the waitlist")]
            : h("p", {}, "No waiting patient fits this time: their days, times, notice or provider don't match."),
        ),
  );
}

function statsRow(r: FillStatsRow, total = false): HTMLElement {
  const cells = [
    h(total ? "th" : "td", total ? { scope: "row" } : {}, r.provider),
    h("td", { class: "num" }, r.openings),
    h("td", { class: "num" }, r.filled),
    h("td", { class: "num" }, durationWords(r.median_minutes_to_fill)),
  ];
  return h("tr", total ? { class: "total" } : { "data-provider": r.provider }, cells);
}

/** The 30-day figures by provider, with the total. */
export function renderStats(fill: FillView, locale?: string): HTMLElement {
  const since = monthDayAt(fill.stats_from, deskZone(), locale);
  return h(
    "section",
    { class: "page-section fill-stats-section", "aria-labelledby": "fill-stats-title" },
    h("h2", { id: "fill-stats-title" }, "Last 30 days"),
    fill.stats.length
      ? h(
          "table",
          { class: "fill-stats", id: "fill-stats" },
          h("caption", { class: "muted" }, `Since ${since}. Filled: booked from an offer here.`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Provider"), h("th", { scope: "col", class: "num" }, "Openings"), h("th", { scope: "col", class: "num" }, "Filled"), h("th", { scope: "col", class: "num" }, "Median time to fill"))),
          h("tbody", {}, fill.stats.map((r) => statsRow(r))),
          h("tfoot", {}, statsRow(fill.total, true)),
        )
      : h("p", { class: "none-yet", id: "fill-stats" }, "No openings in the last 30 days."),
  );
}
