//! The CalDAV connector against a real CalDAV server: Radicale 3 on loopback
//! ([`Radicale::start`], HTTP Basic with a plain htpasswd file, storage in a temporary folder).
//!
//! Synthetic practice: Dr. Ana Rivera, America/New_York (EST, UTC−5, in the week read),
//! working Tue–Fri 09:00–12:00 local = 14:00–17:00Z, 30-minute slots. Her calendar holds:
//! * a daily 10:00–10:30 New York meeting Tue–Thu with Wednesday excluded (RRULE COUNT=3 + EXDATE);
//! * an all-day conference on Friday 6 March (DATE values);
//! * a Berlin-zoned call Wed 16:00–17:00 CET = 15:00–16:00Z;
//! * a tentative visit Thu 09:00–09:30 New York (STATUS:TENTATIVE, blocks);
//! * a cancelled visit Thu 11:00–11:30 New York (STATUS:CANCELLED, blocks nothing);
//! * a transparent reminder Tue 11:00–12:00 New York (TRANSP:TRANSPARENT, blocks nothing).

use chrono::{DateTime, Duration, TimeZone, Utc};
use medharmony::auth::AuthConfig;
use medharmony::connector::caldav::{discover, CalDavConnector};
use medharmony::connector::calendar::CalendarSettings;
use medharmony::connector::{Connector, ConnectorError, IntegrationSettings, SlotToBook};
use medharmony::time::Interval;
use medharmony_e2e::radicale::{Radicale, PASSWORD, USER};

fn utc(d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, mi, 0).unwrap()
}

fn ics(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//MedHarmony tests//EN\r\n{body}END:VCALENDAR\r\n")
}

const RECURRING: &str = "BEGIN:VEVENT\r\nUID:huddle\r\nDTSTAMP:20260301T000000Z\r\n\
DTSTART;TZID=America/New_York:20260303T100000\r\nDTEND;TZID=America/New_York:20260303T103000\r\n\
RRULE:FREQ=DAILY;COUNT=3\r\nEXDATE;TZID=America/New_York:20260304T100000\r\nSUMMARY:Team huddle\r\nEND:VEVENT\r\n";
const ALL_DAY: &str = "BEGIN:VEVENT\r\nUID:conference\r\nDTSTAMP:20260301T000000Z\r\n\
DTSTART;VALUE=DATE:20260306\r\nDTEND;VALUE=DATE:20260307\r\nSUMMARY:Conference\r\nEND:VEVENT\r\n";
const BERLIN: &str = "BEGIN:VEVENT\r\nUID:berlin-call\r\nDTSTAMP:20260301T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260304T160000\r\nDTEND;TZID=Europe/Berlin:20260304T170000\r\nSUMMARY:Call with Berlin\r\nEND:VEVENT\r\n";
const TENTATIVE: &str = "BEGIN:VEVENT\r\nUID:tentative\r\nDTSTAMP:20260301T000000Z\r\n\
DTSTART;TZID=America/New_York:20260305T090000\r\nDTEND;TZID=America/New_York:20260305T093000\r\nSTATUS:TENTATIVE\r\nSUMMARY:Maybe\r\nEND:VEVENT\r\n";
const CANCELLED: &str = "BEGIN:VEVENT\r\nUID:cancelled\r\nDTSTAMP:20260301T000000Z\r\n\
DTSTART;TZID=America/New_York:20260305T110000\r\nDTEND;TZID=America/New_York:20260305T113000\r\nSTATUS:CANCELLED\r\nSUMMARY:Off\r\nEND:VEVENT\r\n";
const TRANSPARENT: &str = "BEGIN:VEVENT\r\nUID:reminder\r\nDTSTAMP:20260301T000000Z\r\n\
DTSTART;TZID=America/New_York:20260303T110000\r\nDTEND;TZID=America/New_York:20260303T120000\r\nTRANSP:TRANSPARENT\r\nSUMMARY:Note\r\nEND:VEVENT\r\n";

/// Radicale with Dr. Rivera's calendar (`rivera/clinic/`) seeded, and a task list beside it.
fn seeded() -> Option<(Radicale, String)> {
    let server = Radicale::start()?;
    let calendar = server.mkcalendar("rivera/clinic/", "Clinic", &["VEVENT"]);
    server.mkcalendar("rivera/tasks/", "Tasks", &["VTODO"]);
    for (name, body) in [
        ("huddle.ics", RECURRING),
        ("conference.ics", ALL_DAY),
        ("berlin.ics", BERLIN),
        ("tentative.ics", TENTATIVE),
        ("cancelled.ics", CANCELLED),
        ("reminder.ics", TRANSPARENT),
    ] {
        assert_eq!(server.put_event(&calendar, name, &ics(body)), 201, "PUT {name}");
    }
    Some((server, calendar))
}

fn rivera(calendar: &str) -> CalendarSettings {
    CalendarSettings {
        id: calendar.to_string(),
        provider: "Dr. Rivera".into(),
        tz: Some("America/New_York".into()),
        hours: "Tue-Fri 09:00-12:00".into(),
        slot_minutes: 30,
        location: Some("Main Street Clinic".into()),
    }
}

fn connector(server: &Radicale, calendars: Vec<CalendarSettings>, password: &str) -> CalDavConnector {
    let mut settings = IntegrationSettings::new(&server.base_url, "America/New_York", AuthConfig::Basic { username: USER.into() });
    settings.calendars = calendars;
    CalDavConnector::new("Clinic calendars", settings, USER.into(), password.into(), CalDavConnector::default_agent()).unwrap()
}

/// Tue 3 – Fri 6 March 2026, UTC.
fn week() -> Interval {
    Interval { start: utc(3, 0, 0), end: utc(7, 0, 0) }
}

/// The open slot starts Dr. Rivera's calendar should give for [`week`].
fn expected() -> Vec<DateTime<Utc>> {
    let cells = |d: u32, taken: &[(u32, u32)]| -> Vec<DateTime<Utc>> {
        (0..6).map(|k| utc(d, 14, 0) + Duration::minutes(30 * k)).filter(|t| !taken.iter().any(|&(h, m)| *t == utc(d, h, m))).collect()
    };
    [
        // Tue: huddle 10:00 NY = 15:00Z; the transparent reminder blocks nothing.
        cells(3, &[(15, 0)]),
        // Wed: no huddle (EXDATE); the Berlin call 15:00–16:00Z.
        cells(4, &[(15, 0), (15, 30)]),
        // Thu: tentative 09:00 NY = 14:00Z, huddle 15:00Z; the cancelled 11:00 NY = 16:00Z stays open.
        cells(5, &[(14, 0), (15, 0)]),
        // Fri: the all-day conference.
    ]
    .concat()
}

fn starts(read: &medharmony::connector::WindowRead) -> Vec<DateTime<Utc>> {
    let mut s: Vec<_> = read.slots.iter().map(|s| s.span.start).collect();
    s.sort();
    s
}

#[test]
fn discovery_finds_the_event_calendar_through_the_principal_and_well_known() {
    let Some((server, calendar)) = seeded() else { return };
    for base in [server.base_url.clone(), server.url(".well-known/caldav")] {
        let found = discover(&base, USER, PASSWORD, CalDavConnector::default_agent()).unwrap_or_else(|e| panic!("{base}: {e}"));
        assert_eq!(found.len(), 1, "{base}: {found:?}");
        assert_eq!(found[0].url, calendar);
        assert_eq!(found[0].display_name, "Clinic");
        assert_eq!(found[0].timezone, None);
    }
}

#[test]
fn a_wrong_password_is_refused_in_plain_words() {
    let Some((server, calendar)) = seeded() else { return };
    let err = discover(&server.base_url, USER, "wrong-password", CalDavConnector::default_agent()).unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "127.0.0.1 did not accept MedHarmony Desk's sign-in: check the user name and app password. Reconnect it on the Integrations page."
    );
    assert!(!err.to_string().contains("wrong-password"));
    let err = connector(&server, vec![rivera(&calendar)], "wrong-password").availability(week()).unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized { ref system, .. } if system == "Clinic calendars"), "{err}");
}

#[test]
fn free_busy_query_gives_the_expected_open_slots() {
    let Some((server, calendar)) = seeded() else { return };
    let mut desk = connector(&server, vec![rivera(&calendar)], PASSWORD).with_free_busy(true);
    let read = desk.availability(week()).unwrap();
    assert_eq!(desk.uses_free_busy(&calendar), Some(true), "Radicale 3 answers free-busy-query");
    assert!(read.complete, "{:?}", read.incomplete_reason);
    assert_eq!(starts(&read), expected());
    let first = read.slots.iter().find(|s| s.span.start == utc(3, 14, 0)).unwrap();
    assert_eq!(first.external_id, format!("{calendar}#20260303T140000Z"));
    assert_eq!(first.span.end, utc(3, 14, 30));
    assert_eq!(first.provider, "Dr. Rivera");
    assert_eq!(first.location.as_deref(), Some("Main Street Clinic"));
}

#[test]
fn calendar_query_gives_the_same_open_slots() {
    let Some((server, calendar)) = seeded() else { return };
    // Events (calendar-query) are what is read unless the server refuses them.
    let mut desk = connector(&server, vec![rivera(&calendar)], PASSWORD);
    assert_eq!(desk.uses_free_busy(&calendar), None);
    let read = desk.availability(week()).unwrap();
    assert_eq!(desk.uses_free_busy(&calendar), Some(false));
    assert!(read.complete, "{:?}", read.incomplete_reason);
    assert_eq!(starts(&read), expected());
}

#[test]
fn a_calendar_that_is_gone_makes_the_window_incomplete_naming_the_provider() {
    let Some((server, calendar)) = seeded() else { return };
    let mut okafor = rivera(&server.url("rivera/okafor-deleted/"));
    okafor.provider = "Dr. Okafor".into();
    for free_busy in [true, false] {
        let read = connector(&server, vec![rivera(&calendar), okafor.clone()], PASSWORD).with_free_busy(free_busy).availability(week()).unwrap();
        assert!(!read.complete);
        let reason = read.incomplete_reason.clone().unwrap();
        assert!(reason.starts_with("Dr. Okafor's calendar: the calendar was not found"), "{reason}");
        // Dr. Rivera's calendar was still read.
        assert_eq!(starts(&read).len(), expected().len());
    }
    // Booking into it says so in plain words.
    let slot = SlotToBook {
        external_id: format!("{}#20260304T160000Z", okafor.id),
        span: Interval { start: utc(4, 16, 0), end: utc(4, 16, 30) },
        provider_ref: None,
        location_ref: None,
        booking: serde_json::json!({ "calendar": okafor.id }),
    };
    let err = connector(&server, vec![okafor.clone()], PASSWORD).book(&slot, "patient-1").unwrap_err();
    assert!(matches!(err, ConnectorError::Server { status: 404, .. }), "{err}");
    assert!(err.to_string().contains("Dr. Okafor's calendar could not be checked before booking: the calendar was not found"), "{err}");
}

#[test]
fn an_unreachable_server_is_an_error() {
    let Some((server, calendar)) = seeded() else { return };
    let dead = calendar.replace(server.base_url.trim_end_matches('/'), "http://127.0.0.1:9");
    let err = connector(&server, vec![rivera(&dead)], PASSWORD).availability(week()).unwrap_err();
    assert!(matches!(err, ConnectorError::Unreachable { .. }), "{err}");
}

#[test]
fn booking_puts_an_event_a_second_booking_is_refused_and_cancel_deletes_it() {
    let Some((server, calendar)) = seeded() else { return };
    let mut desk = connector(&server, vec![rivera(&calendar)], PASSWORD);
    let read = desk.availability(week()).unwrap();
    let slot = read.slots.iter().find(|s| s.span.start == utc(4, 16, 0)).expect("Wed 11:00 New York is open").clone();
    let to_book = SlotToBook {
        external_id: slot.external_id.clone(),
        span: slot.span,
        provider_ref: None,
        location_ref: None,
        booking: slot.booking.clone(),
    };

    let booked = desk.book(&to_book, "patient-7781").unwrap();
    assert_eq!(booked.status, "booked");
    assert!(booked.appointment_id.starts_with(&calendar) && booked.appointment_id.ends_with(".ics"), "{}", booked.appointment_id);
    let stored = server.send("GET", &booked.appointment_id, None, &[]);
    assert_eq!(stored.status, 200);
    for line in ["SUMMARY:Booked by MedHarmony Desk", "DTSTART:20260304T160000Z", "DTEND:20260304T163000Z", "X-MEDHARMONY-PATIENT-ID:patient-7781"] {
        assert!(stored.body.contains(line), "{line} missing:\n{}", stored.body);
    }

    // The slot is gone from the next read, by either path, and cannot be booked again.
    let after = desk.availability(week()).unwrap();
    assert!(!starts(&after).contains(&utc(4, 16, 0)));
    assert_eq!(starts(&after).len(), expected().len() - 1);
    let err = desk.book(&to_book, "patient-9").unwrap_err();
    assert!(matches!(err, ConnectorError::SlotTaken { .. }), "{err}");
    let mut other_desk = connector(&server, vec![rivera(&calendar)], PASSWORD).with_free_busy(false);
    assert!(matches!(other_desk.book(&to_book, "patient-9"), Err(ConnectorError::SlotTaken { .. })));

    // A time outside the working hours is no slot of this calendar.
    let mut off_hours = to_book.clone();
    off_hours.span = Interval { start: utc(4, 20, 0), end: utc(4, 20, 30) };
    assert!(matches!(desk.book(&off_hours, "patient-9"), Err(ConnectorError::SlotChanged { .. })));

    desk.cancel(&booked.appointment_id).unwrap();
    assert_eq!(server.send("GET", &booked.appointment_id, None, &[]).status, 404);
    assert_eq!(starts(&desk.availability(week()).unwrap()), expected());
    // Cancelling again: already gone, nothing to do.
    desk.cancel(&booked.appointment_id).unwrap();
}

/// Regression (found by trying it on Radicale 3.9): a weekly `TZID=America/New_York` meeting
/// across the March DST change, with one week excluded by EXDATE. Radicale's own free/busy
/// answer puts the later weeks an hour off (it expands in fixed UTC) and keeps the excluded
/// week; the events read with calendar-query through our importer give the right busy time.
#[test]
fn a_weekly_meeting_across_the_dst_change_with_an_exdate_is_read_exactly() {
    let Some(server) = Radicale::start() else { return };
    let calendar = server.mkcalendar("rivera/weekly/", "Weekly", &["VEVENT"]);
    let weekly = "BEGIN:VEVENT\r\nUID:weekly-meeting\r\nDTSTAMP:20270201T000000Z\r\n\
DTSTART;TZID=America/New_York:20270301T090000\r\nDTEND;TZID=America/New_York:20270301T100000\r\n\
RRULE:FREQ=WEEKLY;COUNT=6\r\nEXDATE;TZID=America/New_York:20270315T090000\r\nSUMMARY:Staff meeting\r\nEND:VEVENT\r\n";
    assert_eq!(server.put_event(&calendar, "weekly.ics", &ics(weekly)), 201);
    let mut mondays = rivera(&calendar);
    mondays.hours = "Mon 08:00-12:00".into();
    let mut desk = connector(&server, vec![mondays], PASSWORD);
    let t = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2027, 3, d, h, m, 0).unwrap();
    let read = desk.availability(Interval { start: t(1, 0, 0), end: t(30, 0, 0) }).unwrap();
    assert!(read.complete, "{:?}", read.incomplete_reason);
    assert_eq!(desk.uses_free_busy(&calendar), Some(false));
    let on = |d: u32| starts(&read).into_iter().filter(|s| s.date_naive() == t(d, 0, 0).date_naive()).collect::<Vec<_>>();
    // Mon 8 March, EST (UTC−5): 08:00–12:00 = 13:00–17:00Z, the meeting 14:00–15:00Z.
    assert_eq!(on(8), vec![t(8, 13, 0), t(8, 13, 30), t(8, 15, 0), t(8, 15, 30), t(8, 16, 0), t(8, 16, 30)]);
    // Mon 15 March, EDT: no meeting (EXDATE), all eight cells 12:00–16:00Z free.
    assert_eq!(on(15), (0..8).map(|i| t(15, 12, 0) + chrono::Duration::minutes(30 * i)).collect::<Vec<_>>());
    // Mon 22 March, EDT (UTC−4): the meeting is 13:00–14:00Z, not 14:00–15:00Z.
    assert_eq!(on(22), vec![t(22, 12, 0), t(22, 12, 30), t(22, 14, 0), t(22, 14, 30), t(22, 15, 0), t(22, 15, 30)]);
}

/// A Nextcloud-shaped server (wiremock): events are read with `calendar-query`; `free-busy-query`
/// is never asked.
#[test]
fn a_nextcloud_calendar_is_read_with_calendar_query() {
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, ResponseTemplate};

    let fake = crate::fake::Fake::start();
    let calendar = format!("{}/remote.php/dav/calendars/rivera/personal/", fake.uri());
    let auth = format!("Basic {}", base64_of(&format!("{USER}:{PASSWORD}")));
    fake.mount(
        Mock::given(method("REPORT"))
            .and(path("/remote.php/dav/calendars/rivera/personal/"))
            .and(body_string_contains("free-busy-query"))
            .respond_with(ResponseTemplate::new(501))
            .expect(0),
    );
    let query = std::fs::read_to_string(medharmony_e2e::fixture("caldav/nextcloud-calendar-query.xml")).unwrap();
    fake.mount(
        Mock::given(method("REPORT"))
            .and(path("/remote.php/dav/calendars/rivera/personal/"))
            .and(header("Depth", "1"))
            .and(header("Authorization", auth.as_str()))
            .and(body_string_contains("calendar-query"))
            .respond_with(ResponseTemplate::new(207).set_body_raw(query, "application/xml; charset=utf-8")),
    );
    let mut settings = IntegrationSettings::new(&fake.uri(), "Europe/Berlin", AuthConfig::Basic { username: USER.into() });
    // Wed 4 March 2026, Berlin (CET, UTC+1): 13:00–16:00 local = 12:00–15:00Z.
    settings.calendars = vec![CalendarSettings {
        id: calendar.clone(),
        provider: "Dr. Weber".into(),
        tz: None,
        hours: "Wed 13:00-16:00".into(),
        slot_minutes: 30,
        location: None,
    }];
    let mut desk = CalDavConnector::new("Nextcloud", settings, USER.into(), PASSWORD.into(), CalDavConnector::default_agent()).unwrap();
    let day = Interval { start: utc(4, 0, 0), end: utc(5, 0, 0) };
    for _ in 0..2 {
        let read = desk.availability(day).unwrap();
        assert!(read.complete, "{:?}", read.incomplete_reason);
        // Lunch 14:00–15:00 Berlin = 13:00–14:00Z; the transparent reminder blocks nothing.
        assert_eq!(starts(&read), vec![utc(4, 12, 0), utc(4, 12, 30), utc(4, 14, 0), utc(4, 14, 30)]);
        assert_eq!(desk.uses_free_busy(&calendar), Some(false));
    }
    let reports = fake.requests().iter().filter(|r| r.method.as_str() == "REPORT").count();
    assert_eq!(reports, 2, "two calendar-queries");
}

/// A calendar shared "free/busy only" (its events may not be read: 403 on calendar-query) is
/// read with `free-busy-query` instead, and that choice is remembered.
#[test]
fn a_free_busy_only_calendar_is_read_with_free_busy_query() {
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, ResponseTemplate};

    let fake = crate::fake::Fake::start();
    let calendar = format!("{}/dav/calendars/shared/weber/", fake.uri());
    fake.mount(
        Mock::given(method("REPORT"))
            .and(path("/dav/calendars/shared/weber/"))
            .and(body_string_contains("calendar-query"))
            .respond_with(ResponseTemplate::new(403))
            .expect(1),
    );
    let vfreebusy = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//CalDAV//EN\r\nBEGIN:VFREEBUSY\r\n\
DTSTAMP:20260301T000000Z\r\nDTSTART:20260304T000000Z\r\nDTEND:20260305T000000Z\r\n\
FREEBUSY;FBTYPE=BUSY:20260304T130000Z/20260304T140000Z\r\nFREEBUSY;FBTYPE=FREE:20260304T140000Z/20260304T150000Z\r\n\
END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    fake.mount(
        Mock::given(method("REPORT"))
            .and(path("/dav/calendars/shared/weber/"))
            .and(body_string_contains("free-busy-query"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(vfreebusy, "text/calendar; charset=utf-8"))
            .expect(2),
    );
    let mut settings = IntegrationSettings::new(&fake.uri(), "Europe/Berlin", AuthConfig::Basic { username: USER.into() });
    settings.calendars = vec![CalendarSettings {
        id: calendar.clone(),
        provider: "Dr. Weber".into(),
        tz: None,
        hours: "Wed 13:00-16:00".into(),
        slot_minutes: 30,
        location: None,
    }];
    let mut desk = CalDavConnector::new("Shared", settings, USER.into(), PASSWORD.into(), CalDavConnector::default_agent()).unwrap();
    let day = Interval { start: utc(4, 0, 0), end: utc(5, 0, 0) };
    for _ in 0..2 {
        let read = desk.availability(day).unwrap();
        assert!(read.complete, "{:?}", read.incomplete_reason);
        // Busy 14:00–15:00 Berlin = 13:00–14:00Z; FBTYPE=FREE blocks nothing.
        assert_eq!(starts(&read), vec![utc(4, 12, 0), utc(4, 12, 30), utc(4, 14, 0), utc(4, 14, 30)]);
        assert_eq!(desk.uses_free_busy(&calendar), Some(true));
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Two desks booking the same time at once (wiremock): ours went in, but reading the span
/// again shows another desk's event, so ours is deleted and the booking is `SlotTaken`.
/// The first read of the span is answered 503 with `Retry-After: 0` and retried.
#[test]
fn a_simultaneous_booking_elsewhere_withdraws_ours() {
    use std::sync::{Arc, Mutex};
    use wiremock::matchers::{body_string_contains, method, path, path_regex};
    use wiremock::{Mock, ResponseTemplate};

    let fake = crate::fake::Fake::start();
    let cal_path = "/dav/calendars/weber/clinic/";
    let calendar = format!("{}{cal_path}", fake.uri());
    // Before our PUT: busy once (503), then an empty calendar; after it: another desk's event.
    fake.mount(
        Mock::given(method("REPORT"))
            .and(path(cal_path))
            .and(body_string_contains("calendar-query"))
            .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
            .up_to_n_times(1),
    );
    let empty = "<?xml version=\"1.0\"?><d:multistatus xmlns:d=\"DAV:\"></d:multistatus>";
    fake.mount(
        Mock::given(method("REPORT"))
            .and(path(cal_path))
            .and(body_string_contains("calendar-query"))
            .respond_with(ResponseTemplate::new(207).set_body_raw(empty, "application/xml; charset=utf-8"))
            .up_to_n_times(1),
    );
    fake.mount(Mock::given(method("PUT")).and(path_regex(r"^/dav/calendars/weber/clinic/[0-9a-f]{32}-medharmony\.ics$")).respond_with(ResponseTemplate::new(201)));
    let other = format!(
        "<?xml version=\"1.0\"?><d:multistatus xmlns:d=\"DAV:\" xmlns:cal=\"urn:ietf:params:xml:ns:caldav\"><d:response>\
<d:href>{cal_path}other-desk.ics</d:href><d:propstat><d:prop><d:getetag>\"1\"</d:getetag><cal:calendar-data>{}</cal:calendar-data>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>",
        ics("BEGIN:VEVENT\r\nUID:other-desk\r\nDTSTAMP:20260301T000000Z\r\nDTSTART:20260304T120000Z\r\nDTEND:20260304T123000Z\r\nSUMMARY:Booked\r\nEND:VEVENT\r\n")
    );
    fake.mount(
        Mock::given(method("REPORT"))
            .and(path(cal_path))
            .and(body_string_contains("calendar-query"))
            .respond_with(ResponseTemplate::new(207).set_body_raw(other, "application/xml; charset=utf-8")),
    );
    fake.mount(Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(204)));

    let mut settings = IntegrationSettings::new(&fake.uri(), "Europe/Berlin", AuthConfig::Basic { username: USER.into() });
    settings.calendars = vec![CalendarSettings {
        id: calendar.clone(),
        provider: "Dr. Weber".into(),
        tz: None,
        hours: "Wed 13:00-16:00".into(),
        slot_minutes: 30,
        location: None,
    }];
    let waits = Arc::new(Mutex::new(Vec::new()));
    let recorded = waits.clone();
    let mut desk = CalDavConnector::new("Fastmail", settings, USER.into(), PASSWORD.into(), CalDavConnector::default_agent())
        .unwrap()
        .with_sleeper(move |d| recorded.lock().unwrap().push(d));
    let span = Interval { start: utc(4, 12, 0), end: utc(4, 12, 30) };
    let slot = SlotToBook {
        external_id: format!("{calendar}#20260304T120000Z"),
        span,
        provider_ref: None,
        location_ref: None,
        booking: serde_json::json!({ "calendar": calendar }),
    };
    let err = desk.book(&slot, "patient-1").unwrap_err();
    assert!(matches!(err, ConnectorError::SlotTaken { .. }), "{err}");
    assert_eq!(*waits.lock().unwrap(), vec![std::time::Duration::ZERO]);

    let requests = fake.requests();
    let put = requests.iter().find(|r| r.method.as_str() == "PUT").expect("the event was PUT");
    assert_eq!(put.headers.get("If-None-Match").and_then(|v| v.to_str().ok()), Some("*"));
    let body = String::from_utf8_lossy(&put.body);
    assert!(body.contains("DTSTART:20260304T120000Z\r\n") && body.contains("X-MEDHARMONY-PATIENT-ID:patient-1\r\n"), "{body}");
    let deleted: Vec<_> = requests.iter().filter(|r| r.method.as_str() == "DELETE").map(|r| r.url.path().to_string()).collect();
    assert_eq!(deleted, vec![put.url.path().to_string()], "our own event, and only it, was withdrawn");
    let reads = requests.iter().filter(|r| String::from_utf8_lossy(&r.body).contains("calendar-query")).count();
    assert_eq!(reads, 3, "503 then retried, then the read after our PUT");
    assert!(!requests.iter().any(|r| String::from_utf8_lossy(&r.body).contains("free-busy-query")));
}

/// Connecting checks the user name and app password against the server, and that each
/// calendar is one the account lists: scheme and host may differ in case, the path may not.
#[test]
fn connecting_checks_the_password_and_each_calendar_exactly() {
    use medharmony::connect::{connect, ConnectAuth, ConnectRequest};
    use medharmony::connector::IntegrationKind;
    use medharmony::store::key::{DbKey, KeyVault, MemoryVault};
    use medharmony::store::Store;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    let Some((server, calendar)) = seeded() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("c.db"), &DbKey::Raw([2; 32])).unwrap();
    let vault = MemoryVault::default();
    let shared: Arc<dyn KeyVault + Send + Sync> = Arc::new(vault.clone());
    let now = utc(2, 12, 0);
    let mut attempt = |cal: &str, password: &str| {
        let auth = ConnectAuth::Basic { username: USER.into(), password: password.into() };
        let req = ConnectRequest {
            calendars: vec![rivera(cal)],
            ..ConnectRequest::new(IntegrationKind::CalDav, "Clinic calendars", &server.base_url, auth, "America/New_York")
        };
        connect(&mut store, shared.clone(), req, |_| panic!("no browser"), &AtomicBool::new(false), now)
    };
    let wrong = attempt(&calendar, "wrong-password").unwrap_err().to_string();
    assert_eq!(
        wrong,
        "127.0.0.1 did not accept the user name and app password. Check both (an app password is made in the account's security settings, not its usual password)."
    );
    let other_case = calendar.replace("/clinic/", "/CLINIC/");
    let refused = attempt(&other_case, PASSWORD).unwrap_err().to_string();
    assert!(refused.starts_with(&format!("{other_case} is not one of the calendars this account can see (")), "{refused}");
    assert!(vault.is_empty(), "nothing kept from refused attempts");
    let integ = attempt(&calendar.replacen("http://", "HTTP://", 1), PASSWORD).unwrap();
    assert_eq!(integ.settings.auth, AuthConfig::Basic { username: USER.into() });
    let (account, password) = vault.entries().into_iter().next().unwrap();
    assert!(account.ends_with("integration:Clinic calendars:password"), "{account}");
    assert_eq!(password, PASSWORD);
}
