// Words and small rules for cancellation fill (the Openings and Waitlist pages):
// pure functions over the generated bindings, so they are tested without a DOM.
// Times are always shown in the provider's own zone (`provider_tz`).

import type { HoldDto, OpeningDto, SuggestionsView, WaitlistEntryDto } from "./bindings";
import { formatTime } from "./time";

/** Where an opening stands, for its label and colour. */
export type OpeningState = "free" | "held" | "booked" | "taken";

/** The priorities a waiting patient can have, most pressing last (the bindings' strings). */
export const PRIORITIES = ["routine", "soon", "urgent"] as const;

/** The weekdays as the waitlist writes them (`blocked_weekdays`). */
export const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

/** "Tue Dec 8, 10:30 AM": the start of a time in zone `tz` (the provider's). */
export function whenText(iso: string, tz: string, locale?: string): string {
  const parts = new Intl.DateTimeFormat(locale ?? "en-US", { weekday: "short", month: "short", day: "numeric", timeZone: tz }).formatToParts(new Date(iso));
  const n = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${n("weekday")} ${n("month")} ${n("day")}, ${formatTime(iso, tz, locale)}`;
}

/** "Dr. Rivera · Tue Dec 8, 10:30 AM · Main St" (the location only when known). */
export function openingLabel(o: { provider: string; provider_tz: string; start: string; location: string | null }, locale?: string): string {
  return [o.provider, whenText(o.start, o.provider_tz, locale), o.location].filter(Boolean).join(" · ");
}

/** The state of an opening at `nowMs` and its words: "Free", "Held until 10:45 AM", "Booked", "Taken". */
export function openingState(o: OpeningDto, nowMs: number, locale?: string): { state: OpeningState; text: string } {
  if (o.filled) return { state: "booked", text: "Booked" };
  if (!o.still_free) return { state: "taken", text: "Taken" };
  if (o.held_until && Date.parse(o.held_until) > nowMs) return { state: "held", text: `Held until ${formatTime(o.held_until, o.provider_tz, locale)}` };
  return { state: "free", text: "Free" };
}

/** The hold on the time that has not run out at `nowMs`, if any. */
export function activeHold(view: Pick<SuggestionsView, "hold">, nowMs: number): HoldDto | null {
  return view.hold && Date.parse(view.hold.expires_at) > nowMs ? view.hold : null;
}

/** "3 of 42 waiting patients fit" (with "patient"/"fits" in the singular). */
export function fitText(eligible: number, waiting: number): string {
  if (waiting === 0) return "Nobody is on the waitlist yet";
  const noun = waiting === 1 ? "waiting patient" : "waiting patients";
  return `${eligible} of ${waiting} ${noun} ${eligible === 1 ? "fits" : "fit"}`;
}

/** "Urgent", "Soon", "Routine". */
export function priorityLabel(priority: string): string {
  return priority ? priority.charAt(0).toUpperCase() + priority.slice(1) : "Routine";
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "18 hours' notice" under two days, else "3 days' notice" (whole days, rounded down). */
export function noticeWords(hours: number): string {
  if (hours < 1) return "Less than an hour's notice";
  if (hours < 48) return hours === 1 ? "1 hour's notice" : `${hours} hours' notice`;
  return `${Math.floor(hours / 24)} days' notice`;
}

/**
 * The karma badge's explanation: the short-notice bonus bands of MedHarmony's ranking
 * (core/src/fill/rank.rs `karma_bonus`: under 24 h 30 points, under 48 h 20, under 72 h 10).
 */
export function karmaHelp(bonus: number, noticeHours: number): string {
  return (
    `Short-notice bonus: taking this time at ${noticeWords(noticeHours).replace(/^./, (c) => c.toLowerCase())} earns ${plural(bonus, "karma point")} ` +
    "(under 24 hours: 30, under 48 hours: 20, under 72 hours: 10). Everyone offered this time gets the same bonus, so it does not change the order."
  );
}

/** A median time to fill in words: "12 minutes", "1 hour 20 minutes", "2 days 3 hours"; "—" when nothing was booked. */
export function durationWords(minutes: number | null): string {
  if (minutes === null || !Number.isFinite(minutes)) return "—";
  const m = Math.round(minutes);
  if (m < 1) return "Under a minute";
  if (m < 60) return plural(m, "minute");
  if (m < 24 * 60) {
    const h = Math.floor(m / 60);
    const rest = m - h * 60;
    return rest ? `${plural(h, "hour")} ${plural(rest, "minute")}` : plural(h, "hour");
  }
  const d = Math.floor(m / (24 * 60));
  const h = Math.round((m - d * 24 * 60) / 60);
  return h ? `${plural(d, "day")} ${plural(h, "hour")}` : plural(d, "day");
}

/** "08:00-12:00" as "8:00–12:00"; other text unchanged. */
function windowText(w: string): string {
  return w.replace(/^0(\d)/, "$1").replace("-", "–").replace(/–0(\d)/, "–$1");
}

/** What a waiting patient wants, in a line: "Check-up · Dr. Rivera · 30 min · Main St"; "Any visit" when open. */
export function wantsSummary(e: WaitlistEntryDto): string {
  const parts = [
    e.service_type,
    e.provider,
    e.duration_minutes ? `${e.duration_minutes} min` : null,
    e.locations.length ? e.locations.join(" or ") : null,
  ].filter((p): p is string => !!p);
  return parts.length ? parts.join(" · ") : "Any visit";
}

/** A waiting patient's limits, in a line: "8:00–12:00 · not Sat, Sun · 24 hours' notice · by 2026-12-31"; "Any time" when none. */
export function preferencesSummary(e: WaitlistEntryDto): string {
  const parts = [
    e.preferred_times.length ? e.preferred_times.map(windowText).join(", ") : null,
    e.blocked_weekdays.length ? `not ${e.blocked_weekdays.join(", ")}` : null,
    e.blocked_dates.length ? `not on ${plural(e.blocked_dates.length, "date")}` : null,
    e.min_notice_hours > 0 ? noticeWords(e.min_notice_hours) : null,
    e.latest_date ? `by ${e.latest_date}` : null,
  ].filter((p): p is string => !!p);
  return parts.length ? parts.join(" · ") : "Any time";
}

/** True for a preferred time written `HH:MM-HH:MM` with the start before the end (`24:00` may end a day). */
export function validWindow(w: string): boolean {
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(w);
  if (!m) return false;
  const [a, b] = [Number(m[1]) * 60 + Number(m[2]), Number(m[3]) * 60 + Number(m[4])];
  return Number(m[1]) < 24 && Number(m[2]) < 60 && Number(m[4]) < 60 && b <= 24 * 60 && a < b;
}

/** A new, empty waitlist entry in zone `tz` (the form's starting values). */
export function emptyEntry(tz: string): WaitlistEntryDto {
  return {
    id: null,
    display_name: "",
    phone: null,
    email: null,
    tz,
    source_ids: [],
    service_type: null,
    provider: null,
    locations: [],
    duration_minutes: null,
    priority: "routine",
    added_on: null,
    blocked_weekdays: [],
    blocked_dates: [],
    preferred_times: [],
    min_notice_hours: 0,
    latest_date: null,
  };
}

/** The language-model presets of the Settings dialog, with what staff must know about each. */
export const MODEL_PRESETS = [
  {
    id: "openrouter",
    label: "OpenRouter (hosted)",
    baseUrl: "https://openrouter.ai/api/v1",
    note: "A hosted service receives de-identified scheduling details. Check that your practice has a business associate agreement (BAA) with it before switching this on.",
  },
  { id: "ollama", label: "On this computer (Ollama)", baseUrl: "http://127.0.0.1:11434/v1", note: "Nothing leaves this computer." },
] as const;

/** True when a model address is this computer itself (nothing leaves it). */
export function isLocalAddress(url: string): boolean {
  try {
    const host = new URL(url.trim()).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || host === "::1";
  } catch {
    return false;
  }
}

/** The privacy note for a model address: the local preset's for this computer, else the hosted one's (empty when no address). */
export function modelNote(url: string): string {
  if (!url.trim()) return "";
  return isLocalAddress(url) ? MODEL_PRESETS[1].note : MODEL_PRESETS[0].note;
}
