//! From normalised text to the calendar's components, with the `icalendar`
//! parser (RFC 5545 §3.4 iCalendar object, §3.6 components).
//!
//! The whole file is parsed first. When the parser rejects it (usually one
//! malformed VEVENT), the calendar is split at its top-level components and
//! each part is parsed on its own, so that one bad event is reported as
//! [`Skipped`] (with the original line of the offending property when it can
//! be found) instead of refusing the file.

use icalendar::parser::{read_calendar, Component, Property};

use super::normalize::Normalized;
use super::{is_named, IcsError};
use crate::import::Skipped;

/// The parsed calendar: its own properties, its top-level components and the
/// VEVENTs the parser could not read.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    /// Calendar-level properties (e.g. `X-WR-TIMEZONE`).
    pub properties: Vec<Property<'a>>,
    /// Top-level components (VEVENT, VTIMEZONE, ...), in file order.
    pub components: Vec<Component<'a>>,
    /// One entry per VEVENT the parser rejected.
    pub broken_events: Vec<Skipped>,
}

fn begin_name(line: &str) -> Option<&str> {
    let t = line.trim();
    let head = t.get(..6)?;
    head.eq_ignore_ascii_case("BEGIN:").then(|| t[6..].trim())
}

fn end_name(line: &str) -> Option<&str> {
    let t = line.trim();
    let head = t.get(..4)?;
    head.eq_ignore_ascii_case("END:").then(|| t[4..].trim())
}

/// Parses the calendar; see the module documentation.
///
/// # Errors
/// [`IcsError::NotCalendar`] when the first line is not `BEGIN:VCALENDAR`.
pub(crate) fn parse(n: &Normalized) -> Result<Parsed<'_>, IcsError> {
    if !begin_name(n.line(0)).is_some_and(|name| is_named(name, "VCALENDAR")) {
        return Err(IcsError::NotCalendar { line: n.orig_lines[0] });
    }
    match read_calendar(&n.text) {
        Ok(cal) => {
            let (properties, components) =
                if cal.properties.is_empty() && cal.components.len() == 1 && is_named(cal.components[0].name.as_str(), "VCALENDAR") {
                    // `read_calendar` only unwraps an upper-case VCALENDAR.
                    let root = cal.components.into_iter().next().map(|c| (c.properties, c.components));
                    root.unwrap_or_default()
                } else {
                    (cal.properties, cal.components)
                };
            Ok(Parsed { properties, components, broken_events: Vec::new() })
        }
        Err(_) => {
            tracing::info!("calendar did not parse as a whole; reading its parts one by one");
            Ok(isolate(n))
        }
    }
}

/// Components that RFC 5545 only allows directly inside VCALENDAR.
const TOP_LEVEL_ONLY: [&str; 6] = ["VCALENDAR", "VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE"];

/// A top-level component's logical lines `first..=last`.
struct Block {
    name: String,
    first: usize,
    last: usize,
    terminated: bool,
}

/// Splits the calendar into property lines and top-level blocks, and parses
/// each on its own.
fn isolate(n: &Normalized) -> Parsed<'_> {
    let mut prop_lines = Vec::new();
    let mut blocks: Vec<Block> = Vec::new();
    let mut in_calendar = false;
    let mut stack: Vec<String> = Vec::new();
    let mut current: Option<Block> = None;
    let mut i = 0usize;
    while i < n.len() {
        let line = n.line(i);
        if let Some(mut block) = current.take() {
            let begin = begin_name(line);
            let end = end_name(line);
            // A top-level-only component (VEVENT, VTIMEZONE, ...) or the calendar's end
            // inside a block: the block was never closed.
            let runaway =
                begin.is_some_and(|b| TOP_LEVEL_ONLY.iter().any(|t| is_named(b, t))) || end.is_some_and(|e| is_named(e, "VCALENDAR"));
            if runaway {
                block.last = i.saturating_sub(1).max(block.first);
                blocks.push(block);
                stack.clear();
                continue; // re-read this line outside the block
            }
            if let Some(b) = begin {
                stack.push(b.to_ascii_uppercase());
            } else if let Some(e) = end {
                if stack.last().is_some_and(|top| is_named(e, top)) {
                    stack.pop();
                } else if let Some(pos) = stack.iter().rposition(|s| is_named(e, s)) {
                    stack.truncate(pos); // closes an outer level; inner ones were left open
                }
                if stack.is_empty() {
                    block.last = i;
                    block.terminated = true;
                    blocks.push(block);
                    i += 1;
                    continue;
                }
            }
            block.last = i;
            current = Some(block);
        } else if let Some(b) = begin_name(line) {
            if is_named(b, "VCALENDAR") {
                in_calendar = true;
            } else if in_calendar {
                stack = vec![b.to_ascii_uppercase()];
                current = Some(Block { name: b.to_ascii_uppercase(), first: i, last: i, terminated: false });
            }
        } else if end_name(line).is_some_and(|e| is_named(e, "VCALENDAR")) {
            in_calendar = false;
        } else if in_calendar {
            prop_lines.push(i);
        }
        i += 1;
    }
    if let Some(block) = current {
        blocks.push(block);
    }

    let mut properties = Vec::new();
    for idx in prop_lines {
        match Property::try_from(n.line(idx)) {
            Ok(p) => properties.push(p),
            Err(_) => tracing::warn!(line = n.orig_lines[idx], "a calendar property line could not be read and was ignored"),
        }
    }

    let mut components = Vec::new();
    let mut broken_events = Vec::new();
    for block in blocks {
        let text = n.text.get(n.span(block.first, block.last)).unwrap_or("");
        let parsed = if block.terminated { Component::try_from(text).ok() } else { None };
        match parsed {
            Some(c) => components.push(c),
            None if is_named(&block.name, "VEVENT") => broken_events.push(diagnose(n, &block)),
            None => tracing::warn!(
                component = %block.name,
                line = n.orig_lines[block.first],
                "a calendar component could not be read and was ignored"
            ),
        }
    }
    Parsed { properties, components, broken_events }
}

/// Finds why a VEVENT block was rejected and which original line to name.
fn diagnose(n: &Normalized, block: &Block) -> Skipped {
    let begin_line = n.orig_lines[block.first];
    let uid = (block.first..=block.last)
        .map(|i| n.line(i).trim_start())
        .find(|l| l.get(..3).is_some_and(|h| h.eq_ignore_ascii_case("UID")) && l[3..].starts_with([':', ';']))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if !block.terminated {
        return Skipped { line: Some(begin_line), uid, reason: "The event has no END:VEVENT line, so it cannot be read.".into() };
    }
    for i in block.first + 1..block.last {
        let line = n.line(i);
        if begin_name(line).is_some() || end_name(line).is_some() {
            continue;
        }
        let probe = format!("BEGIN:VEVENT\r\n{line}\r\nEND:VEVENT\r\n");
        if Component::try_from(probe.as_str()).is_err() {
            // The line's text is not quoted: it may be a stray piece of a summary.
            let reason = "The event contains a line that is not a valid iCalendar property (perhaps a broken line fold).".to_string();
            return Skipped { line: Some(n.orig_lines[i]), uid, reason };
        }
    }
    Skipped { line: Some(begin_line), uid, reason: "The event's BEGIN and END lines do not match, so it cannot be read.".into() }
}
