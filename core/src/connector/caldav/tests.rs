//! Pure tests of the CalDAV connector: request bodies, multistatus replies shaped like
//! Radicale's, iCloud's and Nextcloud's (`fixtures/caldav/`), the booking event, and the
//! connector's checks that need no server.

use chrono::TimeZone;

use super::xml::*;
use super::*;
use crate::auth::AuthConfig;
use crate::connector::calendar::CalendarSettings;

const RADICALE_PRINCIPAL: &str = include_str!("../../../../fixtures/caldav/radicale-principal.xml");
const RADICALE_HOME_SET: &str = include_str!("../../../../fixtures/caldav/radicale-home-set.xml");
const RADICALE_CALENDARS: &str = include_str!("../../../../fixtures/caldav/radicale-calendars.xml");
const RADICALE_QUERY: &str = include_str!("../../../../fixtures/caldav/radicale-calendar-query.xml");
const RADICALE_FREE_BUSY: &str = include_str!("../../../../fixtures/caldav/radicale-free-busy.ics");
const ICLOUD_PRINCIPAL: &str = include_str!("../../../../fixtures/caldav/icloud-principal.xml");
const ICLOUD_HOME_SET: &str = include_str!("../../../../fixtures/caldav/icloud-home-set.xml");
const ICLOUD_CALENDARS: &str = include_str!("../../../../fixtures/caldav/icloud-calendars.xml");
const NEXTCLOUD_CALENDARS: &str = include_str!("../../../../fixtures/caldav/nextcloud-calendars.xml");
const NEXTCLOUD_QUERY: &str = include_str!("../../../../fixtures/caldav/nextcloud-calendar-query.xml");

fn utc(d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, mi, 0).unwrap()
}

#[test]
fn report_bodies_carry_the_utc_range_and_parse_as_caldav() {
    let range = Interval { start: utc(3, 5, 0), end: utc(4, 5, 30) };
    let fb = parse_xml(&free_busy_query(range)).unwrap();
    assert!(fb.is(CALDAV, "free-busy-query"));
    let tr = fb.child(CALDAV, "time-range").unwrap();
    assert_eq!((tr.attr("start"), tr.attr("end")), (Some("20260303T050000Z"), Some("20260304T053000Z")));

    let q = parse_xml(&calendar_query(range)).unwrap();
    assert!(q.is(CALDAV, "calendar-query"));
    let prop = q.child(DAV, "prop").unwrap();
    assert!(prop.child(DAV, "getetag").is_some() && prop.child(CALDAV, "calendar-data").is_some());
    let vcal = q.child(CALDAV, "filter").and_then(|f| f.child(CALDAV, "comp-filter")).unwrap();
    assert_eq!(vcal.attr("name"), Some("VCALENDAR"));
    let vevent = vcal.child(CALDAV, "comp-filter").unwrap();
    assert_eq!(vevent.attr("name"), Some("VEVENT"));
    let tr = vevent.child(CALDAV, "time-range").unwrap();
    assert_eq!((tr.attr("start"), tr.attr("end")), (Some("20260303T050000Z"), Some("20260304T053000Z")));

    for body in [PROPFIND_PRINCIPAL, PROPFIND_HOME_SET, PROPFIND_CALENDARS] {
        assert!(parse_xml(body).unwrap().is(DAV, "propfind"), "{body}");
    }
    let asked: Vec<_> = parse_xml(PROPFIND_CALENDARS).unwrap().child(DAV, "prop").unwrap().children.iter().map(|c| (c.ns.clone(), c.name.clone())).collect();
    assert_eq!(asked.len(), 5);
    assert!(asked.contains(&(CALDAV.to_string(), "supported-calendar-component-set".to_string())));
}

#[test]
fn radicale_discovery_replies() {
    assert_eq!(principal_href(&parse_multistatus(RADICALE_PRINCIPAL).unwrap()).as_deref(), Some("/rivera/"));
    assert_eq!(home_set_hrefs(&parse_multistatus(RADICALE_HOME_SET).unwrap()), vec!["/rivera/".to_string()]);
    let responses = parse_multistatus(RADICALE_CALENDARS).unwrap();
    assert_eq!(responses.len(), 3);
    // The home itself: 200 for resourcetype, 404 for the rest.
    assert_eq!(responses[0].prop_status(DAV, "displayname"), Some(404));
    assert!(responses[0].found(DAV, "displayname").is_none());
    let cals = calendar_entries(&responses);
    assert_eq!(
        cals,
        vec![
            CalendarEntry { href: "/rivera/tasks/".into(), display_name: Some("Tasks".into()), components: Some(vec!["VTODO".into()]), timezone: None },
            CalendarEntry { href: "/rivera/clinic/".into(), display_name: Some("Clinic".into()), components: Some(vec!["VEVENT".into()]), timezone: None },
        ]
    );
    assert!(!cals[0].holds_events());
    assert!(cals[1].holds_events());
}

#[test]
fn icloud_discovery_replies_default_namespaces_absolute_home_and_embedded_timezone() {
    assert_eq!(principal_href(&parse_multistatus(ICLOUD_PRINCIPAL).unwrap()).as_deref(), Some("/1234567890/principal/"));
    let homes = home_set_hrefs(&parse_multistatus(ICLOUD_HOME_SET).unwrap());
    assert_eq!(homes, vec!["https://p42-caldav.icloud.com:443/1234567890/calendars/".to_string()]);
    // An absolute home on another host replaces the host when resolved.
    let base = url::Url::parse("https://caldav.icloud.com/1234567890/principal/").unwrap();
    assert_eq!(resolve(&base, &homes[0]).unwrap().as_str(), "https://p42-caldav.icloud.com/1234567890/calendars/");

    let cals = calendar_entries(&parse_multistatus(ICLOUD_CALENDARS).unwrap());
    // Inbox and notification collections are no calendars; Reminders holds no events.
    assert_eq!(cals.iter().map(|c| c.href.as_str()).collect::<Vec<_>>(), vec!["/1234567890/calendars/home/", "/1234567890/calendars/tasks/"]);
    assert_eq!(cals[0].display_name.as_deref(), Some("Dr. Rivera & Clinic"));
    assert_eq!(cals[0].timezone.as_deref(), Some("America/Chicago"));
    assert!(cals[0].holds_events());
    assert!(!cals[1].holds_events());
}

#[test]
fn nextcloud_discovery_replies_prefixed_namespaces_and_timezone_ids() {
    let cals = calendar_entries(&parse_multistatus(NEXTCLOUD_CALENDARS).unwrap());
    assert_eq!(
        cals,
        vec![
            CalendarEntry {
                href: "/remote.php/dav/calendars/rivera/personal/".into(),
                display_name: Some("Personal".into()),
                components: Some(vec!["VEVENT".into(), "VTODO".into()]),
                timezone: Some("Europe/Berlin".into()),
            },
            // No component set reported: any component is allowed (RFC 4791 §5.2.3).
            CalendarEntry {
                href: "/remote.php/dav/calendars/rivera/dr%20rivera%20clinic/".into(),
                display_name: None,
                components: None,
                timezone: Some("Mars/Olympus".into()),
            },
        ]
    );
    assert!(cals.iter().all(CalendarEntry::holds_events));
    assert_eq!(percent_decode("dr%20rivera%20clinic"), "dr rivera clinic");
    assert_eq!(percent_decode("a+b%C3%A9"), "a+bé");
}

#[test]
fn calendar_query_replies_keep_calendar_data_text_cdata_and_entities() {
    let objs = calendar_objects(&parse_multistatus(RADICALE_QUERY).unwrap());
    assert_eq!(objs.len(), 2);
    assert_eq!(objs[0].href, "/rivera/clinic/a1.ics");
    let data = objs[0].data.as_ref().unwrap();
    assert!(data.starts_with("BEGIN:VCALENDAR\n") && data.contains("SUMMARY:Staff meeting & huddle\n"), "{data}");

    let objs = calendar_objects(&parse_multistatus(NEXTCLOUD_QUERY).unwrap());
    let data = objs[0].data.as_ref().unwrap();
    assert!(data.contains("SUMMARY:Lunch <with> team\n"), "CDATA kept as is: {data}");
    // `&#13;` + newline: CRLF line ends survive.
    assert!(objs[1].data.as_ref().unwrap().contains("TRANSP:TRANSPARENT\r\n"));
}

#[test]
fn a_response_without_calendar_data_reports_its_status() {
    let text = r#"<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/cal/gone.ics</D:href>
        <D:status>HTTP/1.1 404 Not Found</D:status></D:response></D:multistatus>"#;
    let objs = calendar_objects(&parse_multistatus(text).unwrap());
    assert_eq!(objs, vec![CalendarObject { href: "/cal/gone.ics".into(), data: Err(404) }]);
}

#[test]
fn broken_xml_is_refused_with_a_reason() {
    assert!(parse_multistatus("<multistatus xmlns=\"DAV:\"><response>").unwrap_err().contains("ends before"), "unclosed");
    assert!(parse_multistatus("<x:multistatus/>").unwrap_err().contains("undeclared prefix 'x'"));
    assert!(parse_multistatus("<html><body>Login</body></html>").unwrap_err().contains("expected a WebDAV multistatus"));
    assert!(parse_multistatus("").unwrap_err().contains("no XML"));
    assert!(parse_multistatus("<a xmlns=\"DAV:\">&bogus;</a>").is_err());
}

fn plan(id: &str, hours: &str, tz: &str) -> CalendarPlan {
    CalendarSettings { id: id.into(), provider: "Dr. Rivera".into(), tz: Some(tz.into()), hours: hours.into(), slot_minutes: 30, location: None }
        .plan("UTC")
        .unwrap()
}

#[test]
fn fixture_busy_time_becomes_the_expected_open_slots_both_ways() {
    // Tue 3 – Fri 6 March 2026, New York (EST, UTC−5): 09:00–12:00 local = 14:00–17:00Z.
    let p = plan("http://127.0.0.1/rivera/clinic/", "Tue-Fri 09:00-12:00", "America/New_York");
    let window = Interval { start: utc(3, 0, 0), end: utc(7, 0, 0) };

    // free-busy-query: 10:00–10:30 local on the 3rd and 5th (the 4th is an EXDATE); the
    // tentative period is outside the hours; FREE blocks nothing.
    let fb = crate::import::ics::parse_free_busy(RADICALE_FREE_BUSY.as_bytes()).unwrap();
    let from_fb: Vec<_> = calendar::open_slots(&p, window, &fb.busy()).iter().map(|s| s.span.start).collect();

    // calendar-query: the same recurring event through the .ics importer, plus an all-day event
    // on Friday the 6th (floating date: the provider's whole local day).
    let opts = IcsOptions { provider_zone: p.tz, window };
    let mut busy = Vec::new();
    for obj in calendar_objects(&parse_multistatus(RADICALE_QUERY).unwrap()) {
        busy.extend(parse_ics(obj.data.unwrap().as_bytes(), &opts).unwrap().instances.iter().map(|i| i.span));
    }
    let from_query: Vec<_> = calendar::open_slots(&p, window, &busy).iter().map(|s| s.span.start).collect();

    // The six cells 14:00–17:00Z of day `d`, without 15:00Z when `taken`.
    let day = |d: u32, taken: bool| -> Vec<DateTime<Utc>> {
        (0..6).map(|k| utc(d, 14, 0) + chrono::Duration::minutes(30 * k)).filter(|t| !(taken && *t == utc(d, 15, 0))).collect()
    };
    // 15:00Z (10:00 local) taken on the 3rd and 5th, free on the 4th.
    let mut want = [day(3, true), day(4, false), day(5, true)].concat();
    assert_eq!(from_query, want, "calendar-query path (Friday blocked all day)");
    // The free-busy fixture has no all-day event: Friday stays open there.
    want.extend(day(6, false));
    assert_eq!(from_fb, want, "free-busy path");
}

#[test]
fn the_booking_event_has_no_patient_name_and_reads_back_as_busy() {
    let span = Interval { start: utc(4, 14, 30), end: utc(4, 15, 0) };
    let text = booking_event("abc123-medharmony", span, "patient-42", utc(1, 8, 0));
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"));
    for line in [
        "UID:abc123-medharmony",
        "DTSTART:20260304T143000Z",
        "DTEND:20260304T150000Z",
        "DTSTAMP:20260301T080000Z",
        "SUMMARY:Booked by MedHarmony Desk",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "X-MEDHARMONY-PATIENT-ID:patient-42",
    ] {
        assert!(text.contains(&format!("{line}\r\n")), "{line} missing from:\n{text}");
    }
    let opts = IcsOptions { provider_zone: chrono_tz::UTC, window: Interval { start: utc(1, 0, 0), end: utc(10, 0, 0) } };
    let read = parse_ics(text.as_bytes(), &opts).unwrap();
    assert_eq!(read.instances.len(), 1);
    assert_eq!(read.instances[0].span, span);
    assert_eq!(read.instances[0].uid, "abc123-medharmony");
}

fn settings(calendars: Vec<CalendarSettings>) -> IntegrationSettings {
    let mut s = IntegrationSettings::new("https://caldav.example.org", "America/New_York", AuthConfig::Basic { username: "rivera".into() });
    s.calendars = calendars;
    s
}

fn cal(id: &str, hours: &str) -> CalendarSettings {
    CalendarSettings { id: id.into(), provider: "Dr. Rivera".into(), tz: None, hours: hours.into(), slot_minutes: 30, location: None }
}

#[test]
fn constructor_checks_calendar_addresses_and_adds_the_trailing_slash() {
    let agent = CalDavConnector::default_agent();
    let err = CalDavConnector::new("Clinic calendars", settings(vec![]), "u".into(), "p".into(), agent.clone()).err().unwrap();
    assert_eq!(err.to_string(), "Clinic calendars has no calendar to read; reconnect it and pick at least one calendar.");
    let err = CalDavConnector::new("Clinic calendars", settings(vec![cal("personal", "Mon 09:00-10:00")]), "u".into(), "p".into(), agent.clone())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "Dr. Rivera: the calendar 'personal' is not a web address; reconnect Clinic calendars and pick the calendar again."
    );
    let c = CalDavConnector::new("Clinic calendars", settings(vec![cal("https://dav.example.org/cal/rivera", "Mon 09:00-10:00")]), "u".into(), "p".into(), agent)
        .unwrap();
    assert!(c.plan_for("https://dav.example.org/cal/rivera/").is_some_and(|p| p.unwrap().settings.id == "https://dav.example.org/cal/rivera/"));
    assert_eq!(c.kind(), IntegrationKind::CalDav);
}

#[test]
fn bad_calendar_settings_make_the_window_incomplete_naming_the_provider() {
    let mut bad = cal("https://dav.example.org/cal/rivera/", "Someday");
    bad.provider = "Dr. Okafor".into();
    let mut c = CalDavConnector::new("Clinic", settings(vec![bad]), "u".into(), "p".into(), CalDavConnector::default_agent()).unwrap();
    let read = c.availability(Interval { start: utc(3, 0, 0), end: utc(4, 0, 0) }).unwrap();
    assert!(!read.complete);
    assert!(read.slots.is_empty());
    assert!(read.incomplete_reason.unwrap().starts_with("Dr. Okafor: working hours 'Someday'"));
}

#[test]
fn cancel_refuses_events_outside_the_integrations_calendars() {
    let mut c = CalDavConnector::new("Clinic", settings(vec![cal("https://dav.example.org/cal/rivera/", "Mon 09:00-10:00")]), "u".into(), "p".into(), CalDavConnector::default_agent())
        .unwrap();
    for id in ["https://evil.example.org/cal/rivera/x.ics", "https://dav.example.org/cal/rivera/", "https://dav.example.org/cal/other/x.ics"] {
        let err = c.cancel(id).unwrap_err();
        assert!(matches!(err, ConnectorError::Unsupported(_)), "{id}: {err}");
    }
}

#[test]
fn redirects_keep_the_password_only_on_the_same_origin_or_https() {
    let a = url::Url::parse("http://dav.example.org/.well-known/caldav").unwrap();
    assert!(same_origin(&a, &url::Url::parse("http://dav.example.org/dav/").unwrap()));
    assert!(!same_origin(&a, &url::Url::parse("http://other.example.org/dav/").unwrap()));
    assert!(!same_origin(&a, &url::Url::parse("http://dav.example.org:8080/dav/").unwrap()));
    assert!(same_origin(&url::Url::parse("https://x.org/").unwrap(), &url::Url::parse("https://x.org:443/a").unwrap()));
}
