//! The pure part of the CalDAV connector: WebDAV / CalDAV XML request bodies, the
//! `207 Multi-Status` replies (RFC 4918 §13, §14.16) read with `quick-xml` (namespace-aware,
//! so any prefix the server picks works), and the new event a booking PUTs (built with the
//! `icalendar` crate).
//!
//! Properties asked for:
//! * `DAV:current-user-principal` (RFC 5397 §3) on the address staff gave;
//! * `CALDAV:calendar-home-set` (RFC 4791 §6.2.1) on the principal;
//! * on the home's members (Depth 1): `DAV:resourcetype` (a calendar has `CALDAV:calendar`,
//!   RFC 4791 §4.2), `DAV:displayname`, `CALDAV:supported-calendar-component-set` (§5.2.3),
//!   `CALDAV:calendar-timezone` (§5.2.2) and `CALDAV:calendar-timezone-id` (RFC 7809 §5.2).
//!
//! Reports: `CALDAV:free-busy-query` (RFC 4791 §7.10) and `CALDAV:calendar-query` with a
//! `VEVENT` `time-range` filter (§7.8, §9.9), both on `[start, end)` UTC.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike};
use quick_xml::events::Event as XmlEvent;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::time::Interval;

/// The WebDAV namespace (RFC 4918 §21).
pub const DAV: &str = "DAV:";
/// The CalDAV namespace (RFC 4791 §4).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";

/// PROPFIND body for the principal (RFC 5397 §3), Depth 0.
pub const PROPFIND_PRINCIPAL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>
"#;

/// PROPFIND body for the calendar home (RFC 4791 §6.2.1), Depth 0.
pub const PROPFIND_HOME_SET: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-home-set/></d:prop></d:propfind>
"#;

/// PROPFIND body listing the home's calendars, Depth 1.
pub const PROPFIND_CALENDARS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop>
    <d:resourcetype/>
    <d:displayname/>
    <c:supported-calendar-component-set/>
    <c:calendar-timezone/>
    <c:calendar-timezone-id/>
  </d:prop>
</d:propfind>
"#;

/// `20260303T140000Z`: the form of CalDAV `time-range` attributes (RFC 4791 §9.9, UTC).
pub fn caldav_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// REPORT body of a `free-busy-query` over `range` (RFC 4791 §7.10), sent with Depth 1.
pub fn free_busy_query(range: Interval) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<c:free-busy-query xmlns:c=\"urn:ietf:params:xml:ns:caldav\">\
<c:time-range start=\"{}\" end=\"{}\"/></c:free-busy-query>\n",
        caldav_time(range.start),
        caldav_time(range.end)
    )
}

/// REPORT body of a `calendar-query` for the events overlapping `range` (RFC 4791 §7.8, §9.9),
/// asking for each event's ETag and whole `calendar-data` (recurrences are expanded here, by
/// [`crate::import::ics::parse_ics`], not by the server). Sent with Depth 1.
pub fn calendar_query(range: Interval) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">\
<d:prop><d:getetag/><c:calendar-data/></d:prop>\
<c:filter><c:comp-filter name=\"VCALENDAR\"><c:comp-filter name=\"VEVENT\">\
<c:time-range start=\"{}\" end=\"{}\"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>\n",
        caldav_time(range.start),
        caldav_time(range.end)
    )
}

/// One XML element with its namespace (resolved, not the prefix), children and text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element {
    /// Namespace URI (`DAV:`), empty when unbound.
    pub ns: String,
    /// Local name (`href`).
    pub name: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The text directly inside, entities and CDATA resolved (untrimmed).
    pub text: String,
    /// Attributes as (local name, value); namespace declarations left out.
    pub attrs: Vec<(String, String)>,
}

impl Element {
    /// True when this is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The first child `{ns}name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// All children `{ns}name`.
    pub fn children_named<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The value of attribute `name` (local name).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The trimmed text of child `{ns}name`, when present and not empty.
    pub fn child_text(&self, ns: &str, name: &str) -> Option<String> {
        self.child(ns, name).map(|c| c.text.trim().to_string()).filter(|t| !t.is_empty())
    }
}

/// Parses an XML document into its root [`Element`].
///
/// # Errors
/// A short description (for [`super::super::ConnectorError::BadReply`]) when the text is not
/// well-formed XML, uses an undeclared prefix, or has no root element.
pub fn parse_xml(text: &str) -> Result<Element, String> {
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let open = |ns: ResolveResult<'_>, e: &quick_xml::events::BytesStart<'_>| -> Result<Element, String> {
        let ns = match ns {
            ResolveResult::Bound(n) => n.as_ref().to_string(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => return Err(format!("the XML uses the undeclared prefix '{p}'")),
        };
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| format!("the XML has a bad attribute: {e}"))?;
            let key = a.key.as_ref();
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| format!("the XML has a bad attribute value: {e}"))?;
            attrs.push((a.key.local_name().as_ref().to_string(), value.into_owned()));
        }
        Ok(Element { ns, name: e.local_name().as_ref().to_string(), children: Vec::new(), text: String::new(), attrs })
    };
    loop {
        let (ns, ev) = reader.read_resolved_event().map_err(|e| format!("the XML is not well-formed: {e}"))?;
        match ev {
            XmlEvent::Start(e) => {
                let el = open(ns, &e)?;
                stack.push(el);
            }
            XmlEvent::Empty(e) => {
                let el = open(ns, &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            XmlEvent::End(_) => {
                let el = stack.pop().ok_or("the XML closes an element it never opened")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            XmlEvent::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            XmlEvent::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            XmlEvent::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| format!("the XML has a bad character reference: {e}"))? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .ok_or_else(|| format!("the XML uses the unknown entity '&{};'", r.xml10_content()))?
                        .to_string(),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("the XML ends before all its elements are closed".into());
    }
    root.ok_or_else(|| "the reply has no XML in it".to_string())
}

/// The status code of an HTTP status line (`HTTP/1.1 200 OK` → 200).
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One `DAV:response` of a multistatus (RFC 4918 §14.24).
#[derive(Debug, Clone, PartialEq)]
pub struct DavResponse {
    /// The `DAV:href`, as sent (often a path, percent-encoded; resolve against the request URL).
    pub href: String,
    /// The response-level `DAV:status` (RFC 4918 §14.28), when given instead of propstats.
    pub status: Option<u16>,
    /// Each `DAV:propstat`: its status and its `DAV:prop` element.
    pub propstats: Vec<(u16, Element)>,
}

impl DavResponse {
    /// The property `{ns}name` from a propstat with a 2xx status.
    pub fn found(&self, ns: &str, name: &str) -> Option<&Element> {
        self.propstats.iter().filter(|(s, _)| (200..300).contains(s)).find_map(|(_, prop)| prop.child(ns, name))
    }

    /// The status a property `{ns}name` was reported with (e.g. 404 for one the server does not have).
    pub fn prop_status(&self, ns: &str, name: &str) -> Option<u16> {
        self.propstats.iter().find(|(_, prop)| prop.child(ns, name).is_some()).map(|(s, _)| *s)
    }
}

/// Reads a `DAV:multistatus` body (RFC 4918 §14.16).
///
/// # Errors
/// A short description when the body is not XML or its root is not `DAV:multistatus`.
pub fn parse_multistatus(text: &str) -> Result<Vec<DavResponse>, String> {
    let root = parse_xml(text)?;
    if !root.is(DAV, "multistatus") {
        return Err(format!("expected a WebDAV multistatus, got <{}>", root.name));
    }
    Ok(root
        .children_named(DAV, "response")
        .filter_map(|r| {
            let href = r.child_text(DAV, "href")?;
            let status = r.child_text(DAV, "status").and_then(|s| status_code(&s));
            let propstats = r
                .children_named(DAV, "propstat")
                .filter_map(|ps| {
                    let code = ps.child_text(DAV, "status").and_then(|s| status_code(&s))?;
                    Some((code, ps.child(DAV, "prop")?.clone()))
                })
                .collect();
            Some(DavResponse { href, status, propstats })
        })
        .collect())
}

/// The first `DAV:href` inside the found property `{ns}name` of any response.
fn href_prop(responses: &[DavResponse], ns: &str, name: &str) -> Vec<String> {
    responses
        .iter()
        .filter_map(|r| r.found(ns, name))
        .flat_map(|p| p.children_named(DAV, "href").filter_map(|h| Some(h.text.trim().to_string()).filter(|t| !t.is_empty())))
        .collect()
}

/// The `DAV:current-user-principal` href (RFC 5397 §3), if the server named one (not
/// `DAV:unauthenticated`).
pub fn principal_href(responses: &[DavResponse]) -> Option<String> {
    href_prop(responses, DAV, "current-user-principal").into_iter().next()
}

/// The `CALDAV:calendar-home-set` hrefs (RFC 4791 §6.2.1; usually one).
pub fn home_set_hrefs(responses: &[DavResponse]) -> Vec<String> {
    href_prop(responses, CALDAV, "calendar-home-set")
}

/// A calendar collection found in a home.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarEntry {
    /// The collection's href, as sent.
    pub href: String,
    /// `DAV:displayname`, when set.
    pub display_name: Option<String>,
    /// The component names of `CALDAV:supported-calendar-component-set`, upper case; `None`
    /// when the server did not report the property (RFC 4791 §5.2.3: then any is allowed).
    pub components: Option<Vec<String>>,
    /// The zone's id: `CALDAV:calendar-timezone-id` (RFC 7809), else the TZID of the
    /// `CALDAV:calendar-timezone` VTIMEZONE (RFC 4791 §5.2.2); not checked here.
    pub timezone: Option<String>,
}

impl CalendarEntry {
    /// True when events (VEVENT) can be stored in it.
    pub fn holds_events(&self) -> bool {
        self.components.as_ref().is_none_or(|c| c.iter().any(|n| n == "VEVENT"))
    }
}

/// The TZID of the first VTIMEZONE in an iCalendar text (read with the `icalendar` parser).
fn vtimezone_id(text: &str) -> Option<String> {
    let unfolded = icalendar::parser::unfold(text);
    let cal = icalendar::parser::read_calendar(&unfolded).ok()?;
    let mut stack: Vec<&icalendar::parser::Component<'_>> = cal.components.iter().collect();
    while let Some(c) = stack.pop() {
        if c.name.as_str().eq_ignore_ascii_case("VTIMEZONE") {
            return c.find_prop("TZID").map(|p| p.val.as_str().trim().to_string()).filter(|t| !t.is_empty());
        }
        stack.extend(c.components.iter());
    }
    None
}

/// The calendar collections among `responses` (a Depth 1 PROPFIND of a home): those whose
/// `DAV:resourcetype` has `CALDAV:calendar`.
pub fn calendar_entries(responses: &[DavResponse]) -> Vec<CalendarEntry> {
    responses
        .iter()
        .filter(|r| r.found(DAV, "resourcetype").is_some_and(|t| t.child(CALDAV, "calendar").is_some()))
        .map(|r| CalendarEntry {
            href: r.href.clone(),
            display_name: r.found(DAV, "displayname").map(|d| d.text.trim().to_string()).filter(|d| !d.is_empty()),
            components: r.found(CALDAV, "supported-calendar-component-set").map(|set| {
                set.children_named(CALDAV, "comp").filter_map(|c| c.attr("name")).map(|n| n.trim().to_ascii_uppercase()).collect()
            }),
            timezone: r
                .found(CALDAV, "calendar-timezone-id")
                .map(|e| e.text.trim().to_string())
                .filter(|t| !t.is_empty())
                .or_else(|| r.found(CALDAV, "calendar-timezone").and_then(|e| vtimezone_id(&e.text))),
        })
        .collect()
}

/// One event resource of a `calendar-query` reply.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarObject {
    /// The resource's href, as sent.
    pub href: String,
    /// Its `CALDAV:calendar-data` (an iCalendar object), or why there is none (the status
    /// the server gave it).
    pub data: Result<String, u16>,
}

/// The event resources of a `calendar-query` multistatus (RFC 4791 §7.8).
pub fn calendar_objects(responses: &[DavResponse]) -> Vec<CalendarObject> {
    responses
        .iter()
        .map(|r| {
            let data = match r.found(CALDAV, "calendar-data") {
                Some(d) if !d.text.trim().is_empty() => Ok(d.text.clone()),
                _ => Err(r.status.or_else(|| r.prop_status(CALDAV, "calendar-data")).unwrap_or(0)),
            };
            CalendarObject { href: r.href.clone(), data }
        })
        .collect()
}

/// Summary of an event booked by the desk: no patient name, ever.
pub const BOOKED_SUMMARY: &str = "Booked by MedHarmony Desk";

/// The non-standard property holding the patient's id in the source system.
pub const PATIENT_PROPERTY: &str = "X-MEDHARMONY-PATIENT-ID";

/// The iCalendar object (RFC 5545) of a new booking: one VEVENT with `uid`, DTSTART/DTEND in
/// UTC from `span`, DTSTAMP `now`, SUMMARY [`BOOKED_SUMMARY`], `STATUS:CONFIRMED`,
/// `TRANSP:OPAQUE` (so it shows as busy), and `patient_id` only in [`PATIENT_PROPERTY`].
pub fn booking_event(uid: &str, span: Interval, patient_id: &str, now: DateTime<Utc>) -> String {
    let event = Event::new()
        .uid(uid)
        .timestamp(now)
        .starts(span.start)
        .ends(span.end)
        .summary(BOOKED_SUMMARY)
        .add_property("STATUS", "CONFIRMED")
        .add_property("TRANSP", "OPAQUE")
        .add_property(PATIENT_PROPERTY, patient_id)
        .done();
    let mut cal = Calendar::new();
    cal.push(event);
    cal.done().to_string()
}
