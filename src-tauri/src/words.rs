//! Words for front-desk staff: the engine speaks to the CLI (flags such as
//! `--date-order`, calendar property names such as `DTSTART`); the window
//! says the same things in plain words. Everything here is display only.

use chrono::{Datelike, NaiveDate};

use crate::dto::SkippedLine;

/// Calendar property and component names, and what staff call them. Longer
/// names first, so `END:VEVENT` is replaced before `VEVENT`.
const JARGON: &[(&str, &str)] = &[
    ("no END:VEVENT line", "no end marker"),
    ("BEGIN:VCALENDAR", "the calendar start marker"),
    ("RECURRENCE-ID", "changed-occurrence date"),
    ("VTIMEZONE", "time zone definition"),
    ("DTSTART", "start time"),
    ("DTEND", "end time"),
    ("RRULE", "repeat rule"),
    ("EXDATE", "excluded date"),
    ("RDATE", "extra date"),
    ("DURATION", "length"),
    ("TZID", "time zone"),
    ("VEVENT", "event"),
];

/// CLI hints in the engine's messages and their window equivalents.
const CLI_HINTS: &[(&str, &str)] = &[
    (
        "re-run with --date-order dmy or --date-order mdy to skip the rows that do not fit",
        "choose the order to import only the rows that fit",
    ),
    ("re-run with --date-order dmy or --date-order mdy", "choose whether the dates are written day first or month first"),
    (" (add a provider column, or re-run with --provider NAME for a single-provider file)", " (add a provider column)"),
    ("rename it to end in .ics and import it with --provider", "rename it to end in .ics and import it again"),
    ("give --provider NAME", "choose whose calendar it is"),
    ("give --tz ZONE to create it, or add it with `medharmony providers add`", "choose a time zone to add them"),
    ("add it with `medharmony providers add` or give --tz to create it", "choose a time zone to add them"),
    ("give --tz ZONE to create the providers this file names", "choose a time zone for the providers this file adds"),
    ("give --tz ZONE", "choose a time zone"),
    ("--provider NAME", "the provider"),
    ("--provider", "the provider"),
    ("--date-order", "the date order"),
    ("--tz", "a time zone"),
];

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Replaces whole-word occurrences of `word` (not inside a longer name such as `X-DTSTART2`).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + word.len()..].chars().next();
        let whole = before.is_none_or(|c| !is_word_char(c) && c != '-') && after.is_none_or(|c| !is_word_char(c) && c != '-');
        out.push_str(&rest[..i]);
        out.push_str(if whole { with } else { word });
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Calendar jargon in plain words: `DTSTART` → "start time", `RRULE` →
/// "repeat rule", `TZID` → "time zone", `VEVENT` → "event"…; CLI flags become
/// what staff do in the window.
pub fn staff_words(text: &str) -> String {
    let mut s = text.to_string();
    for (from, to) in CLI_HINTS {
        s = s.replace(from, to);
    }
    for (from, to) in JARGON {
        s = if from.contains(' ') { s.replace(from, to) } else { replace_word(&s, from, to) };
    }
    s
}

/// A skipped item's reason in staff words, without a closing period and
/// starting lower-case (it follows "line 12 — ").
pub fn staff_reason(reason: &str) -> String {
    let s = staff_words(reason.trim().trim_end_matches('.'));
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase() => a.to_lowercase().chain(s[a.len_utf8()..].chars()).collect(),
        _ => s,
    }
}

/// `1 event`, `3 events`.
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "25 Feb and 2 Jun 2026" (the year once when both days share it).
pub fn period(from: NaiveDate, to: NaiveDate) -> String {
    if from.year() == to.year() {
        format!("{} and {}", from.format("%-d %b"), to.format("%-d %b %Y"))
    } else {
        format!("{} and {}", from.format("%-d %b %Y"), to.format("%-d %b %Y"))
    }
}

/// Most reasons and line numbers named in a summary; the rest are counted.
const MAX_REASONS: usize = 3;
const MAX_LINES: usize = 6;

/// "3 skipped: lines 77, 147, 218 — start time uses unknown time zone 'XYZ'",
/// grouping the items by reason (first few reasons, first few lines each).
pub fn skipped_phrase(skipped: &[SkippedLine]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut groups: Vec<(&str, Vec<usize>, usize)> = Vec::new();
    for k in skipped {
        let idx = match groups.iter().position(|g| g.0 == k.reason) {
            Some(i) => i,
            None => {
                groups.push((&k.reason, Vec::new(), 0));
                groups.len() - 1
            }
        };
        let g = &mut groups[idx];
        g.2 += 1;
        if let Some(l) = k.line {
            g.1.push(l);
        }
    }
    let mut parts = Vec::new();
    for (reason, lines, n) in groups.iter().take(MAX_REASONS) {
        let mut p = String::new();
        if !lines.is_empty() {
            let shown: Vec<String> = lines.iter().take(MAX_LINES).map(usize::to_string).collect();
            p.push_str(if lines.len() == 1 { "line " } else { "lines " });
            p.push_str(&shown.join(", "));
            let more = n - shown.len();
            if more > 0 {
                p.push_str(&format!(" and {more} more"));
            }
            p.push_str(" — ");
        } else if *n > 1 {
            p.push_str(&format!("{n} × "));
        }
        p.push_str(reason);
        parts.push(p);
    }
    let rest: usize = groups.iter().skip(MAX_REASONS).map(|g| g.2).sum();
    let mut s = format!("{} skipped: {}", skipped.len(), parts.join("; "));
    if rest > 0 {
        s.push_str(&format!("; and {rest} more for other reasons"));
    }
    Some(s)
}

/// What [`import_summary`] describes.
pub struct SummaryParts<'a> {
    /// File name.
    pub file: &'a str,
    /// A calendar (else a spreadsheet).
    pub calendar: bool,
    /// The provider, if one.
    pub provider: Option<&'a str>,
    /// Calendar events read.
    pub events: usize,
    /// Busy times in the import period.
    pub instances: usize,
    /// Open slots imported.
    pub slots: usize,
    /// Items left out (reasons already in staff words).
    pub skipped: &'a [SkippedLine],
    /// Items removed because the file no longer lists them.
    pub removed: usize,
    /// Spreadsheet rows outside the import period.
    pub outside_window: usize,
    /// First day of the import period.
    pub from: NaiveDate,
    /// Last day of the import period.
    pub to: NaiveDate,
}

/// One plain sentence about an imported file, e.g.
/// `rivera.ics: 42 events imported (118 busy times between 25 Feb and 2 Jun 2026) for Dr. Rivera, 3 skipped: line 120 — …`,
/// or, when nothing falls in the period,
/// `old.ics: 2 events read for Dr. Lee, but none falls between 25 Feb and 2 Jun 2026, so nothing was added to the schedule`.
pub fn import_summary(p: &SummaryParts<'_>) -> String {
    let between = period(p.from, p.to);
    let for_whom = p.provider.map(|n| format!(" for {n}")).unwrap_or_default();
    let mut s = if p.calendar {
        if p.events == 0 {
            format!("{}: the calendar has no events, so nothing was added to the schedule{for_whom}", p.file)
        } else if p.instances == 0 {
            format!(
                "{}: {} read{for_whom}, but none falls between {between}, so nothing was added to the schedule",
                p.file,
                count(p.events, "event", "events")
            )
        } else {
            format!(
                "{}: {} imported ({} between {between}){for_whom}",
                p.file,
                count(p.events, "event", "events"),
                count(p.instances, "busy time", "busy times")
            )
        }
    } else if p.slots == 0 && p.outside_window > 0 {
        format!(
            "{}: {} read, but none falls between {between}, so nothing was added to the schedule",
            p.file,
            count(p.outside_window + p.skipped.len(), "row", "rows")
        )
    } else if p.slots == 0 {
        format!("{}: no open slots imported{for_whom}", p.file)
    } else {
        format!("{}: {} imported{for_whom}", p.file, count(p.slots, "open slot", "open slots"))
    };
    if let Some(k) = skipped_phrase(p.skipped) {
        s.push_str(", ");
        s.push_str(&k);
    }
    if p.removed > 0 {
        let what = if p.calendar { count(p.removed, "busy time", "busy times") } else { count(p.removed, "slot", "slots") };
        s.push_str(&format!(", {what} removed that the file no longer lists"));
    }
    if !p.calendar && p.slots > 0 && p.outside_window > 0 {
        s.push_str(&format!(", {} outside {} left out", count(p.outside_window, "row", "rows"), between.replacen(" and ", " – ", 1)));
    }
    s
}

/// `text` as a sentence: first letter upper-case, ending in a full stop
/// (unless it already ends in `.`, `!` or `?`).
pub fn sentence(text: &str) -> String {
    let t = text.trim();
    let mut chars = t.chars();
    // Brands written in lower case stay so (athenahealth, iCloud).
    let mut s: String = match chars.next() {
        _ if ["athenahealth", "iCloud"].iter().any(|b| t.starts_with(b)) => t.to_string(),
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

/// How a connection signs in: its code for the window (`none`,
/// `backend-key`, `client-secret`, `standalone`) and plain words.
pub fn auth_words(cfg: &medharmony::auth::AuthConfig) -> (&'static str, &'static str) {
    use medharmony::auth::AuthConfig;
    match cfg {
        AuthConfig::None => ("none", "No sign-in (an open server)"),
        AuthConfig::Backend { .. } => ("backend-key", "Server-to-server key (SMART Backend Services)"),
        AuthConfig::ClientSecret { .. } => ("client-secret", "System account with a client secret"),
        AuthConfig::Standalone { .. } => ("standalone", "A staff member signed in with the web browser"),
        AuthConfig::InstalledApp { .. } => ("google", "A staff member signed in with a Google account in the web browser"),
        AuthConfig::Basic { .. } => ("basic", "User name and app password"),
    }
}

/// `text` for the Integrations page, which shows a Reconnect button beside it: without the
/// engine's closing advice "Reconnect … on the Integrations page.".
pub fn on_integrations_page(text: &str) -> String {
    let t = text.trim();
    match t.rfind(" Reconnect ") {
        Some(i) if t.ends_with("on the Integrations page.") => t[..i].trim_end().to_string(),
        _ => t.to_string(),
    }
}

/// One sentence about a sync for staff, e.g.
/// `Clinic FHIR: 4 open times added, 1 removed, 2 set aside as unreadable.`,
/// `Clinic FHIR: no changes (12 open times up to date).`, or the problem of a
/// failed or incomplete sync.
pub fn sync_summary(r: &medharmony::sync::SyncReport) -> String {
    let name = &r.integration;
    if r.failed {
        return format!("{name}: the sync failed. {}", sentence(r.problem.as_deref().unwrap_or("the reason is not known")));
    }
    if !r.complete {
        let why = r.problem.as_deref().unwrap_or("not every open time could be read; what was shown before is kept");
        let mut s = format!("{name}: {}", sentence(why));
        if r.quarantined > 0 {
            s.push_str(&format!(" {} set aside as unreadable.", count(r.quarantined, "record was", "records were")));
        }
        return s;
    }
    let mut parts = Vec::new();
    if r.added > 0 {
        parts.push(format!("{} added", count(r.added, "open time", "open times")));
    }
    if r.changed > 0 {
        parts.push(format!(
            "{} changed",
            if parts.is_empty() { count(r.changed, "open time", "open times") } else { r.changed.to_string() }
        ));
    }
    if r.removed > 0 {
        parts.push(format!(
            "{} removed",
            if parts.is_empty() { count(r.removed, "open time", "open times") } else { r.removed.to_string() }
        ));
    }
    let mut s = if parts.is_empty() {
        match r.unchanged {
            0 => format!("{name}: no open times in this period"),
            n => format!("{name}: no changes ({} up to date)", count(n, "open time", "open times")),
        }
    } else {
        format!("{name}: {}", parts.join(", "))
    };
    if r.quarantined > 0 {
        s.push_str(&format!(", {} set aside as unreadable", count(r.quarantined, "record", "records")));
    }
    s.push('.');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn k(line: Option<usize>, reason: &str) -> SkippedLine {
        SkippedLine { line, reason: staff_reason(reason) }
    }

    #[test]
    fn advice_to_reconnect_is_left_out_on_the_integrations_page_and_lower_case_brands_stay() {
        assert_eq!(
            on_integrations_page("Radicale Desk did not accept MedHarmony Desk's sign-in: check the user name and app password. Reconnect it on the Integrations page."),
            "Radicale Desk did not accept MedHarmony Desk's sign-in: check the user name and app password."
        );
        assert_eq!(on_integrations_page("could not reach Clinic FHIR: timed out"), "could not reach Clinic FHIR: timed out");
        assert_eq!(sentence("athenahealth answered with an error"), "athenahealth answered with an error.");
        assert_eq!(sentence("could not reach X"), "Could not reach X.");
    }

    #[test]
    fn jargon_becomes_plain_words() {
        assert_eq!(staff_reason("DTSTART uses unknown time zone 'XYZ'"), "start time uses unknown time zone 'XYZ'");
        assert_eq!(staff_reason("DTEND is earlier than DTSTART."), "end time is earlier than start time");
        assert_eq!(staff_reason("RRULE cannot be used: bad FREQ"), "repeat rule cannot be used: bad FREQ");
        assert_eq!(
            staff_reason("The event has no END:VEVENT line, so it cannot be read."),
            "the event has no end marker, so it cannot be read"
        );
        assert_eq!(staff_reason("TZID 'X' on VEVENT"), "time zone 'X' on event");
        // Only whole names.
        assert_eq!(staff_words("X-DTSTART-FOO and DTSTARTED"), "X-DTSTART-FOO and DTSTARTED");
        assert_eq!(staff_reason("column 'start': '25:99' is not a time"), "column 'start': '25:99' is not a time");
    }

    #[test]
    fn no_cli_flags_reach_staff() {
        let t = staff_words("The date order is ambiguous in column 'date' (03/04/2026 on line 2 could be 3 April 2026 or March 4, 2026): re-run with --date-order dmy or --date-order mdy.");
        assert!(!t.contains("--"), "{t}");
        assert!(t.contains("day first or month first"), "{t}");
        let t = staff_words("The spreadsheet has no 'provider' column and no 'date' column: found a, b (add a provider column, or re-run with --provider NAME for a single-provider file).");
        assert_eq!(t, "The spreadsheet has no 'provider' column and no 'date' column: found a, b (add a provider column).");
    }

    #[test]
    fn skipped_lines_are_listed_by_reason() {
        let same = vec![
            k(Some(77), "DTSTART uses unknown time zone 'XYZ'"),
            k(Some(147), "DTSTART uses unknown time zone 'XYZ'"),
            k(Some(218), "DTSTART uses unknown time zone 'XYZ'"),
        ];
        assert_eq!(skipped_phrase(&same).unwrap(), "3 skipped: lines 77, 147, 218 — start time uses unknown time zone 'XYZ'");
        let mixed = vec![
            k(Some(5), "DTSTART value 'x' is not a valid date or date-time"),
            k(Some(9), "DTEND is earlier than DTSTART"),
            k(None, "a"),
        ];
        assert_eq!(
            skipped_phrase(&mixed).unwrap(),
            "3 skipped: line 5 — start time value 'x' is not a valid date or date-time; line 9 — end time is earlier than start time; a"
        );
        let many: Vec<SkippedLine> =
            (1..=10).map(|i| k(Some(i), "bad")).chain((0..5).map(|i| k(Some(100 + i), &format!("r{i}")))).collect();
        assert_eq!(
            skipped_phrase(&many).unwrap(),
            "15 skipped: lines 1, 2, 3, 4, 5, 6 and 4 more — bad; line 100 — r0; line 101 — r1; and 3 more for other reasons"
        );
        assert_eq!(skipped_phrase(&[]), None);
    }

    fn parts<'a>(skipped: &'a [SkippedLine]) -> SummaryParts<'a> {
        SummaryParts {
            file: "rivera.ics",
            calendar: true,
            provider: Some("Dr. Rivera"),
            events: 42,
            instances: 118,
            slots: 0,
            skipped,
            removed: 0,
            outside_window: 0,
            from: d("2026-02-25"),
            to: d("2026-06-02"),
        }
    }

    #[test]
    fn summaries_in_plain_words() {
        let sk = [k(Some(120), "DTSTART uses unknown time zone 'XYZ'")];
        assert_eq!(
            import_summary(&parts(&sk)),
            "rivera.ics: 42 events imported (118 busy times between 25 Feb and 2 Jun 2026) for Dr. Rivera, 1 skipped: line 120 — start time uses unknown time zone 'XYZ'"
        );
        let none = SummaryParts { file: "old-export.ics", provider: Some("Old Export"), events: 2, instances: 0, ..parts(&[]) };
        assert_eq!(import_summary(&none), "old-export.ics: 2 events read for Old Export, but none falls between 25 Feb and 2 Jun 2026, so nothing was added to the schedule");
        let csv = SummaryParts {
            file: "s.csv",
            calendar: false,
            provider: None,
            events: 0,
            instances: 0,
            slots: 3,
            outside_window: 2,
            ..parts(&[])
        };
        assert_eq!(import_summary(&csv), "s.csv: 3 open slots imported, 2 rows outside 25 Feb – 2 Jun 2026 left out");
        let old = SummaryParts { slots: 0, ..csv };
        assert_eq!(
            import_summary(&old),
            "s.csv: 2 rows read, but none falls between 25 Feb and 2 Jun 2026, so nothing was added to the schedule"
        );
        assert_eq!(period(d("2025-12-28"), d("2026-03-28")), "28 Dec 2025 and 28 Mar 2026");
    }

    fn report(added: usize, changed: usize, removed: usize, unchanged: usize, quarantined: usize) -> medharmony::sync::SyncReport {
        let t = "2026-03-01T00:00:00Z".parse().unwrap();
        medharmony::sync::SyncReport {
            integration: "Clinic FHIR".into(),
            kind: medharmony::connector::IntegrationKind::Fhir,
            added,
            changed,
            removed,
            unchanged,
            quarantined,
            complete: true,
            from: t,
            to: t,
            warnings: vec![],
            problem: None,
            failed: false,
            needs_reconnect: false,
        }
    }

    #[test]
    fn sync_summaries_in_plain_words() {
        assert_eq!(sync_summary(&report(4, 0, 1, 0, 0)), "Clinic FHIR: 4 open times added, 1 removed.");
        assert_eq!(sync_summary(&report(1, 2, 0, 3, 2)), "Clinic FHIR: 1 open time added, 2 changed, 2 records set aside as unreadable.");
        assert_eq!(sync_summary(&report(0, 0, 3, 1, 0)), "Clinic FHIR: 3 open times removed.");
        assert_eq!(sync_summary(&report(0, 0, 0, 12, 0)), "Clinic FHIR: no changes (12 open times up to date).");
        assert_eq!(sync_summary(&report(0, 0, 0, 0, 1)), "Clinic FHIR: no open times in this period, 1 record set aside as unreadable.");
        let failed = medharmony::sync::SyncReport {
            failed: true,
            complete: false,
            problem: Some("could not reach Clinic FHIR: the connection was refused or timed out".into()),
            ..report(0, 0, 0, 0, 0)
        };
        assert_eq!(
            sync_summary(&failed),
            "Clinic FHIR: the sync failed. Could not reach Clinic FHIR: the connection was refused or timed out."
        );
        let partial = medharmony::sync::SyncReport {
            complete: false,
            quarantined: 1,
            problem: Some("Not every open time could be read (page 2 failed); what was cached before is kept.".into()),
            ..report(0, 0, 0, 0, 1)
        };
        assert_eq!(
            sync_summary(&partial),
            "Clinic FHIR: Not every open time could be read (page 2 failed); what was cached before is kept. 1 record was set aside as unreadable."
        );
        assert_eq!(sentence("  it works "), "It works.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence(""), "");
    }
}
