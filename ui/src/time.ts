// Dates and times for the week view. Instants from Rust are RFC 3339 UTC
// strings; they are shown in each provider's own zone with Intl.DateTimeFormat.
// Calendar dates are "YYYY-MM-DD" strings, computed with UTC arithmetic so
// the computer's own zone never shifts them.

const DAY_MS = 86_400_000;

/** Parses "YYYY-MM-DD" to a UTC-midnight Date (the date's own identity, no zone). */
export function dateUtc(ymd: string): Date {
  const [y, m, d] = ymd.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

/** Formats a UTC-midnight Date as "YYYY-MM-DD". */
export function ymdOf(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The date `n` days after `ymd` (negative: before). */
export function addDays(ymd: string, n: number): string {
  return ymdOf(new Date(dateUtc(ymd).getTime() + n * DAY_MS));
}

/** "Wed" */
export function weekdayShort(ymd: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { weekday: "short", timeZone: "UTC" }).format(dateUtc(ymd));
}

/** "Mar 4" */
export function monthDay(ymd: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", timeZone: "UTC" }).format(dateUtc(ymd));
}

/** "Wednesday, March 4, 2026" */
export function longDate(ymd: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { weekday: "long", month: "long", day: "numeric", year: "numeric", timeZone: "UTC" }).format(
    dateUtc(ymd),
  );
}

/** "Mar 2 – 8, 2026" for the week starting `monday`. */
export function weekRangeLabel(monday: string, locale?: string): string {
  const fmt = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });
  const start = dateUtc(monday);
  const end = dateUtc(addDays(monday, 6));
  const withRange = fmt as Intl.DateTimeFormat & { formatRange?: (a: Date, b: Date) => string };
  return typeof withRange.formatRange === "function" ? withRange.formatRange(start, end) : `${fmt.format(start)} – ${fmt.format(end)}`;
}

/** A clock time split for compact display: "9:00" and "am" (period empty in 24-hour locales). */
export interface ClockTime {
  time: string;
  period: string;
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();

function timeFormat(tz: string, locale?: string): Intl.DateTimeFormat {
  const key = `${locale ?? ""}|${tz}`;
  let f = timeFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit", timeZone: tz });
    timeFormats.set(key, f);
  }
  return f;
}

/** The wall-clock time of `iso` in zone `tz`, split into time and day period. */
export function clockTime(iso: string, tz: string, locale?: string): ClockTime {
  const parts = timeFormat(tz, locale).formatToParts(new Date(iso));
  const time = parts
    .filter((p) => p.type === "hour" || p.type === "minute" || p.type === "literal")
    .map((p) => p.value)
    .join("")
    .trim();
  const period = parts.find((p) => p.type === "dayPeriod")?.value.toLowerCase() ?? "";
  return { time, period };
}

/** "9:00 AM" in zone `tz`. */
export function formatTime(iso: string, tz: string, locale?: string): string {
  return timeFormat(tz, locale).format(new Date(iso));
}

/** "9:00 – 9:30 AM" (or "11:30 AM – 12:00 PM") in zone `tz`. */
export function formatTimeRange(startIso: string, endIso: string, tz: string, locale?: string): string {
  const a = clockTime(startIso, tz, locale);
  const b = clockTime(endIso, tz, locale);
  const up = (p: string) => p.toUpperCase();
  if (!a.period) return `${a.time} – ${b.time}`;
  return a.period === b.period ? `${a.time} – ${b.time} ${up(b.period)}` : `${a.time} ${up(a.period)} – ${b.time} ${up(b.period)}`;
}

/** The zone's short name at `iso`, e.g. "EST" (or "GMT+1" where the locale has no abbreviation). */
export function zoneAbbrev(iso: string, tz: string, locale?: string): string {
  const parts = new Intl.DateTimeFormat(locale ?? "en-US", { timeZone: tz, timeZoneName: "short" }).formatToParts(new Date(iso));
  return parts.find((p) => p.type === "timeZoneName")?.value ?? tz;
}

/**
 * "9:00 – 9:30 AM EST", naming the zone once; when the clocks change inside
 * the range each end gets its own zone: "1:00 AM EST – 3:00 AM EDT" (one hour).
 */
export function formatZonedRange(startIso: string, endIso: string, tz: string, locale?: string): string {
  const a = zoneAbbrev(startIso, tz);
  const b = zoneAbbrev(endIso, tz);
  if (a === b) return `${formatTimeRange(startIso, endIso, tz, locale)} ${a}`;
  return `${formatTime(startIso, tz, locale)} ${a} – ${formatTime(endIso, tz, locale)} ${b}`;
}

/** "Jun 2" for an instant, in zone `tz`. */
export function monthDayAt(iso: string, tz: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", timeZone: tz }).format(new Date(iso));
}

/** The zone's UTC offset in minutes at `iso` (east positive). */
export function zoneOffsetMinutes(iso: string, tz: string): number {
  const d = new Date(iso);
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(d);
  const n = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const asUtc = Date.UTC(n("year"), n("month") - 1, n("day"), n("hour") % 24, n("minute"), n("second"));
  return Math.round((asUtc - Math.floor(d.getTime() / 1000) * 1000) / 60_000);
}

/** The city of an IANA zone, e.g. "New York" for America/New_York. */
export function zoneCity(tz: string): string {
  const last = tz.split("/").pop() ?? tz;
  return last.replace(/_/g, " ");
}

/** The zone the front desk's computer is in. */
export function deskZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** "just now", "3 min ago", "2 hours ago", "yesterday", "5 days ago", or a date. */
export function relativeTime(iso: string, nowMs: number, locale?: string): string {
  const diff = Math.max(0, nowMs - new Date(iso).getTime());
  const min = Math.floor(diff / 60_000);
  if (min < 1) return "just now";
  if (min < 60) return `${min} min ago`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return hours === 1 ? "1 hour ago" : `${hours} hours ago`;
  const days = Math.floor(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" }).format(new Date(iso));
}

/** "in 1 min", "in 12 min", "in 2 hours", "in 3 days" until a later instant; "now" when it has come. */
export function timeUntil(iso: string, nowMs: number): string {
  const diff = new Date(iso).getTime() - nowMs;
  if (diff <= 0) return "now";
  const min = Math.ceil(diff / 60_000);
  if (min < 60) return `in ${min} min`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return hours === 1 ? "in 1 hour" : `in ${hours} hours`;
  const days = Math.floor(hours / 24);
  return days === 1 ? "in 1 day" : `in ${days} days`;
}

const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/**
 * Compacts a working-hours spec as Rust writes it ("Mon 08:00-16:00; Tue 08:00-16:00; …")
 * into runs of days with the same hours: "Mon–Fri 08:00–16:00".
 */
export function compactHours(spec: string): string {
  const byDay = new Map<string, string[]>();
  for (const part of spec.split(";").map((p) => p.trim()).filter(Boolean)) {
    const [day, range] = part.split(/\s+/, 2);
    if (!day || !range) return spec;
    byDay.set(day, [...(byDay.get(day) ?? []), range.replace("-", "–")]);
  }
  const runs: { from: string; to: string; ranges: string }[] = [];
  for (const day of DAY_NAMES) {
    const ranges = byDay.get(day)?.join(", ");
    if (!ranges) continue;
    const last = runs[runs.length - 1];
    if (last && last.ranges === ranges && DAY_NAMES.indexOf(last.to) === DAY_NAMES.indexOf(day) - 1) {
      last.to = day;
    } else {
      runs.push({ from: day, to: day, ranges });
    }
  }
  return runs.map((r) => `${r.from === r.to ? r.from : `${r.from}–${r.to}`} ${r.ranges}`).join("; ");
}

/** Days of the week ("Mon".."Sun") on which a working-hours spec has hours. */
export function workingDays(spec: string): Set<string> {
  return new Set(
    spec
      .split(";")
      .map((p) => p.trim().split(/\s+/, 1)[0])
      .filter((d): d is string => !!d && DAY_NAMES.includes(d)),
  );
}

/** "Mon".."Sun" for a date (locale-independent). */
export function dayName(ymd: string): string {
  return DAY_NAMES[(dateUtc(ymd).getUTCDay() + 6) % 7];
}
