//! Tests of the iCalendar importer against the fixtures in `fixtures/calendar`
//! (the shared `expected.json` cases plus this module's own files) and a few
//! inline calendars.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::*;
use crate::time::parse_iana;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("bad instant {s}: {e}"))
}

fn window() -> Interval {
    Interval::new(at("2024-01-01T00:00:00Z"), at("2028-01-01T00:00:00Z")).unwrap()
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/calendar")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn opts(tz: Tz) -> IcsOptions {
    IcsOptions { provider_zone: tz, window: window() }
}

fn import_bytes(bytes: &[u8], tz: Tz) -> IcsImport {
    parse_ics(bytes, &opts(tz)).unwrap_or_else(|e| panic!("import failed: {e}"))
}

fn import(name: &str, tz: Tz) -> IcsImport {
    import_bytes(&fixture(name), tz)
}

/// `(start, end, all_day)` of each instance, as RFC 3339 `Z` strings.
fn spans(imp: &IcsImport) -> Vec<(String, String, bool)> {
    let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    imp.instances.iter().map(|i| (f(i.span.start), f(i.span.end), i.all_day)).collect()
}

fn timed(list: &[(&str, &str)]) -> Vec<(String, String, bool)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string(), false)).collect()
}

fn instance<'a>(imp: &'a IcsImport, uid: &str) -> Vec<&'a BusyInstance> {
    imp.instances.iter().filter(|i| i.uid == uid).collect()
}

fn cal(body: &str) -> Vec<u8> {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{}END:VCALENDAR\r\n", body.replace('\n', "\r\n")).into_bytes()
}

// ---------------------------------------------------------------------------
// expected.json

#[test]
fn every_expected_json_case_matches() {
    let text = std::fs::read_to_string(fixture_dir().join("expected.json")).expect("expected.json");
    let cases: serde_json::Value = serde_json::from_str(&text).expect("expected.json parses");
    let cases = cases.as_array().expect("array of cases");
    assert!(cases.len() >= 16, "expected.json has {} cases", cases.len());
    for case in cases {
        let file = case["file"].as_str().expect("file");
        let tz = parse_iana(case["provider_tz"].as_str().expect("provider_tz")).expect("provider_tz is IANA");
        let mut want: Vec<(DateTime<Utc>, DateTime<Utc>, bool)> = case["expected_busy"]
            .as_array()
            .expect("expected_busy")
            .iter()
            .map(|b| {
                (
                    at(b["start"].as_str().expect("start")),
                    at(b["end"].as_str().expect("end")),
                    b.get("all_day").and_then(|v| v.as_bool()).unwrap_or(false),
                )
            })
            .collect();
        want.sort();
        let imp = import(file, tz);
        let got: Vec<_> = imp.instances.iter().map(|i| (i.span.start, i.span.end, i.all_day)).collect();
        assert_eq!(got, want, "{file}: {}", case["why"]);
        assert!(imp.skipped.is_empty(), "{file}: unexpected skipped {:?}", imp.skipped);
        assert!(imp.unreadable_uids.is_empty(), "{file}");
    }
}

#[test]
fn folded_summary_is_unfolded() {
    let imp = import("lf-line-endings-folded.ics", chrono_tz::America::New_York);
    assert_eq!(imp.instances.len(), 1);
    assert_eq!(imp.instances[0].summary.as_deref(), Some("Quarterly equipment calibration for the east wing ultrasound room"));
}

#[test]
fn expected_fixture_details() {
    // Overrides carry the original start; masters of recurring series their own.
    let imp = import("recurrence-id-override.ics", chrono_tz::America::New_York);
    let rids: Vec<_> = imp.instances.iter().map(|i| i.recurrence_id).collect();
    assert_eq!(
        rids,
        vec![
            Some(at("2025-07-07T12:00:00Z")),
            Some(at("2025-07-08T12:00:00Z")),
            Some(at("2025-07-09T12:00:00Z")),
            Some(at("2025-07-10T12:00:00Z")),
        ]
    );
    assert_eq!(imp.instances[2].summary.as_deref(), Some("Rounds (moved)"));
    assert_eq!(imp.events, 2);
    assert_eq!(imp.read_uids.iter().collect::<Vec<_>>(), vec!["b11@x"]);

    // All-day series: recurrence id is local midnight of the original date.
    let imp = import("until-inclusive.ics", chrono_tz::America::New_York);
    let first_day = imp.instances.iter().find(|i| i.all_day).unwrap();
    assert_eq!(first_day.recurrence_id, Some(at("2026-01-05T05:00:00Z")));

    // Non-recurring events have no recurrence id; cancelled/transparent ones are still read.
    let imp = import("transparent-cancelled-multiday.ics", chrono_tz::America::New_York);
    assert_eq!(imp.instances[0].recurrence_id, None);
    assert_eq!(imp.events, 3);
    assert_eq!(imp.read_uids.len(), 3);

    // Custom VTIMEZONE does not depend on the provider zone.
    let a = import("custom-vtimezone.ics", chrono_tz::Asia::Tokyo);
    let b = import("custom-vtimezone.ics", chrono_tz::America::Los_Angeles);
    assert_eq!(spans(&a), spans(&b));
}

// ---------------------------------------------------------------------------
// Own fixtures

#[test]
fn rdate_with_tzid_period_and_date() {
    let imp = import("rdate-tzid-and-period.ics", chrono_tz::America::New_York);
    let want = vec![
        ("2025-03-03T14:00:00Z", "2025-03-03T14:30:00Z", false),
        ("2025-03-10T13:00:00Z", "2025-03-10T13:30:00Z", false),
        ("2025-03-12T19:00:00Z", "2025-03-12T19:30:00Z", false),
        ("2025-03-20T14:00:00Z", "2025-03-20T16:00:00Z", false),
        ("2025-03-21T14:00:00Z", "2025-03-21T15:00:00Z", false),
        ("2025-04-01T12:00:00Z", "2025-04-01T13:00:00Z", false),
        ("2025-04-03T12:00:00Z", "2025-04-03T13:00:00Z", false),
        ("2025-07-04T04:00:00Z", "2025-07-05T04:00:00Z", true),
        ("2025-07-07T04:00:00Z", "2025-07-08T04:00:00Z", true),
    ];
    let want: Vec<_> = want.into_iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c)).collect();
    assert_eq!(spans(&imp), want);
    // RDATE instances are instances of a recurring event: they carry their start.
    let r = instance(&imp, "rdate-1@test");
    assert_eq!(r[0].recurrence_id, Some(at("2025-03-03T14:00:00Z")));
    assert_eq!(r[1].recurrence_id, Some(at("2025-03-10T13:00:00Z")));
    assert!(imp.skipped.is_empty());
}

#[test]
fn sequence_then_dtstamp_then_file_order() {
    let imp = import("sequence-tie-dtstamp.ics", chrono_tz::Europe::London);
    assert_eq!(
        spans(&imp),
        timed(&[
            ("2025-06-02T09:00:00Z", "2025-06-02T09:30:00Z"),
            ("2025-06-03T11:00:00Z", "2025-06-03T11:30:00Z"),
            ("2025-06-04T15:00:00Z", "2025-06-04T15:30:00Z"),
            ("2025-06-10T12:00:00Z", "2025-06-10T13:00:00Z"),
        ])
    );
    assert_eq!(imp.instances[1].summary.as_deref(), Some("Rounds (newer stamp)"));
    assert_eq!(imp.instances[1].recurrence_id, Some(at("2025-06-03T09:00:00Z")));
    assert_eq!(imp.instances[2].summary.as_deref(), Some("Rounds (second copy)"));
    assert_eq!(imp.instances[3].summary.as_deref(), Some("Moved meeting"));
    assert_eq!(imp.events, 7);
}

#[test]
fn fall_back_overlap_takes_first_occurrence() {
    // Provider zone is irrelevant: every value has a TZID.
    let imp = import("fall-back-overlap.ics", chrono_tz::America::Chicago);
    let got: Vec<_> = imp.instances.iter().map(|i| (i.uid.as_str(), i.span.start, i.span.end)).collect();
    assert_eq!(
        got,
        vec![
            ("overlap-3@test", at("2025-11-01T05:30:00Z"), at("2025-11-01T06:00:00Z")),
            ("overlap-1@test", at("2025-11-02T05:30:00Z"), at("2025-11-02T06:30:00Z")),
            ("overlap-2@test", at("2025-11-02T05:30:00Z"), at("2025-11-02T07:00:00Z")),
            ("overlap-3@test", at("2025-11-02T05:30:00Z"), at("2025-11-02T06:00:00Z")),
            ("overlap-3@test", at("2025-11-03T06:30:00Z"), at("2025-11-03T07:00:00Z")),
        ]
    );
}

#[test]
fn zero_length_events_block_nothing_but_are_read() {
    let imp = import("zero-length.ics", chrono_tz::Europe::London);
    assert_eq!(spans(&imp), timed(&[("2025-05-05T13:00:00Z", "2025-05-05T14:00:00Z")]));
    assert_eq!(imp.events, 4);
    assert_eq!(imp.read_uids.len(), 4);
    assert!(imp.read_uids.contains("zero-2@test"));
    assert!(imp.skipped.is_empty());
}

#[test]
fn date_without_dtend_is_one_day() {
    let imp = import("date-no-dtend.ics", chrono_tz::Australia::Sydney);
    let want = vec![
        ("2025-07-03T14:00:00Z".to_string(), "2025-07-04T14:00:00Z".to_string(), true),
        ("2025-07-06T14:00:00Z".to_string(), "2025-07-07T14:00:00Z".to_string(), true),
    ];
    assert_eq!(spans(&imp), want);
}

#[test]
fn outlook_busy_status() {
    let imp = import("outlook-busystatus.ics", chrono_tz::America::New_York);
    let got: Vec<_> = imp.instances.iter().map(|i| (i.uid.as_str(), i.status)).collect();
    assert_eq!(
        got,
        vec![
            ("bs-oof@test", BusyStatus::BusyUnavailable),
            ("bs-tentative@test", BusyStatus::BusyTentative),
            ("bs-status-tentative@test", BusyStatus::BusyTentative),
            ("bs-busy@test", BusyStatus::Busy),
        ]
    );
    assert!(imp.read_uids.contains("bs-free@test"));
    assert_eq!(imp.events, 5);
}

#[test]
fn fold_splitting_utf8_characters() {
    let raw = fixture("fold-splits-utf8.ics");
    assert!(raw.windows(4).any(|w| w == b"\xc3\r\n "), "fixture must split the character");
    let imp = import_bytes(&raw, chrono_tz::America::New_York);
    assert_eq!(imp.instances.len(), 1);
    assert_eq!(imp.instances[0].summary.as_deref(), Some("Consulta Dr. Muñoz €40 copago"));
}

#[test]
fn windows_zone_in_exdate_and_recurrence_id() {
    let imp = import("windows-zone-exdate-rid.ics", chrono_tz::America::New_York);
    assert_eq!(
        spans(&imp),
        timed(&[
            ("2025-06-02T06:00:00Z", "2025-06-02T06:30:00Z"),
            ("2025-06-04T06:00:00Z", "2025-06-04T06:30:00Z"),
            ("2025-06-05T08:00:00Z", "2025-06-05T08:30:00Z"),
            ("2025-06-06T06:00:00Z", "2025-06-06T06:30:00Z"),
        ])
    );
    assert_eq!(imp.instances[2].recurrence_id, Some(at("2025-06-05T06:00:00Z")));
    assert_eq!(imp.instances[2].summary.as_deref(), Some("Ward round (late)"));
}

#[test]
fn vendor_prefixed_tzids() {
    let imp = import("vendor-prefixed-tzid.ics", chrono_tz::Asia::Tokyo);
    assert_eq!(spans(&imp), timed(&[("2025-01-15T14:00:00Z", "2025-01-15T15:00:00Z"), ("2025-07-15T07:00:00Z", "2025-07-15T08:00:00Z"),]));
}

#[test]
fn unknown_tzid_skips_only_that_uid() {
    let imp = import("unknown-tzid-skipped.ics", chrono_tz::America::New_York);
    assert_eq!(spans(&imp), timed(&[("2025-03-10T14:00:00Z", "2025-03-10T15:00:00Z"), ("2025-03-12T14:00:00Z", "2025-03-12T15:00:00Z"),]));
    assert_eq!(
        imp.skipped,
        vec![
            Skipped {
                line: Some(15),
                uid: Some("bad-tz@test".into()),
                reason: "DTSTART uses unknown time zone 'Mars/Olympus_Mons'".into(),
            },
            Skipped {
                line: Some(37),
                uid: Some("bad-override@test".into()),
                reason: "DTSTART uses unknown time zone 'Customized Time Zone'".into(),
            },
        ]
    );
    assert_eq!(imp.unreadable_uids.iter().collect::<Vec<_>>(), vec!["bad-override@test", "bad-tz@test"]);
    assert_eq!(imp.read_uids.iter().collect::<Vec<_>>(), vec!["good-1@test", "good-2@test"]);
    assert_eq!(imp.events, 3);
}

#[test]
fn cancelled_override_removes_its_instance() {
    let imp = import("cancelled-override.ics", chrono_tz::America::New_York);
    assert_eq!(spans(&imp), timed(&[("2025-09-01T15:00:00Z", "2025-09-01T16:00:00Z"), ("2025-09-15T15:00:00Z", "2025-09-15T16:00:00Z"),]));
    assert!(imp.read_uids.contains("cancel-1@test"));
}

#[test]
fn not_a_calendar_is_refused() {
    let err = parse_ics(&fixture("not-a-calendar.ics"), &opts(chrono_tz::UTC)).unwrap_err();
    assert_eq!(err, IcsError::NotCalendar { line: 2 });
    assert_eq!(err.to_string(), "Line 2 should be BEGIN:VCALENDAR but is not, so this is not a calendar (.ics) file.");
}

#[test]
fn broken_vevent_is_isolated() {
    let imp = import("broken-vevent-isolated.ics", chrono_tz::UTC);
    assert_eq!(
        spans(&imp),
        timed(&[
            ("2025-04-01T14:00:00Z", "2025-04-01T15:00:00Z"),
            ("2025-04-03T14:00:00Z", "2025-04-03T15:00:00Z"),
            ("2025-04-05T14:00:00Z", "2025-04-05T15:00:00Z"),
        ])
    );
    assert_eq!(imp.skipped.len(), 2, "{:?}", imp.skipped);
    assert_eq!(imp.skipped[0].line, Some(15));
    assert_eq!(imp.skipped[0].uid.as_deref(), Some("iso-2@test"));
    assert_eq!(imp.skipped[0].reason, "The event contains a line that is not a valid iCalendar property (perhaps a broken line fold).");
    assert_eq!(imp.skipped[1].line, Some(26));
    assert_eq!(imp.skipped[1].uid.as_deref(), Some("iso-4@test"));
    assert!(imp.skipped[1].reason.contains("END:VEVENT"), "{}", imp.skipped[1].reason);
    assert_eq!(imp.events, 3);
    assert_eq!(imp.unreadable_uids.len(), 2);
}

// ---------------------------------------------------------------------------
// Inline cases

#[test]
fn whole_file_refusals() {
    let o = opts(chrono_tz::UTC);
    assert_eq!(parse_ics(b"", &o).unwrap_err(), IcsError::Empty);
    assert_eq!(parse_ics(b"\xFF\xFEB\x00E\x00", &o).unwrap_err(), IcsError::Utf16);
    let mut latin1 = cal("BEGIN:VEVENT\nUID:x\nDTSTART:20250101T100000Z\nSUMMARY:Jos\u{e9}\nEND:VEVENT\n");
    // Replace the UTF-8 "é" by its Latin-1 byte.
    let pos = latin1.windows(2).position(|w| w == "é".as_bytes()).unwrap();
    latin1.splice(pos..pos + 2, [0xE9u8]);
    let err = parse_ics(&latin1, &o).unwrap_err();
    assert_eq!(err, IcsError::Encoding { line: 7 });
    assert!(err.to_string().starts_with("Line 7 "), "{err}");
    assert_eq!(parse_ics(b"Name,Date\r\nA,B\r\n", &o).unwrap_err(), IcsError::NotCalendar { line: 1 });
}

#[test]
fn x_wr_timezone_windows_name_and_custom_zone_precedence() {
    // X-WR-TIMEZONE as a Windows name applies to floating and DATE values only.
    let bytes = format!(
        "BEGIN:VCALENDAR\r\nX-WR-TIMEZONE:Tokyo Standard Time\r\n{}{}END:VCALENDAR\r\n",
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20250601T090000\r\nDTEND:20250601T100000\r\nEND:VEVENT\r\n",
        "BEGIN:VEVENT\r\nUID:b\r\nDTSTART;VALUE=DATE:20250602\r\nEND:VEVENT\r\n"
    );
    let imp = import_bytes(bytes.as_bytes(), chrono_tz::America::New_York);
    assert_eq!(
        spans(&imp),
        vec![
            ("2025-06-01T00:00:00Z".into(), "2025-06-01T01:00:00Z".into(), false),
            ("2025-06-01T15:00:00Z".into(), "2025-06-02T15:00:00Z".into(), true),
        ]
    );

    // An unresolvable X-WR-TIMEZONE falls back to the provider's zone.
    let bytes = cal("X-WR-TIMEZONE:Nowhere/Special\nBEGIN:VEVENT\nUID:a\nDTSTART:20250601T090000\nDTEND:20250601T100000\nEND:VEVENT\n");
    let imp = import_bytes(&bytes, chrono_tz::Europe::London);
    assert_eq!(spans(&imp), timed(&[("2025-06-01T08:00:00Z", "2025-06-01T09:00:00Z")]));

    // A VTIMEZONE whose TZID resolves as a Windows name is ignored in favour of the tz database.
    let bytes = cal(concat!(
        "BEGIN:VTIMEZONE\nTZID:Eastern Standard Time\nBEGIN:STANDARD\nDTSTART:16010101T000000\n",
        "TZOFFSETFROM:+0100\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE\n",
        "BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Eastern Standard Time:20250701T090000\nDURATION:PT1H\nEND:VEVENT\n",
    ));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert_eq!(spans(&imp), timed(&[("2025-07-01T13:00:00Z", "2025-07-01T14:00:00Z")]));
}

#[test]
fn custom_vtimezone_with_rdate_onsets_and_floating_x_wr() {
    // A custom zone given only by RDATE onsets (UTC+3 from 2025-06-01, back to +2 on 2025-10-01),
    // also used as X-WR-TIMEZONE for floating times.
    let bytes = cal(concat!(
        "X-WR-TIMEZONE:Clinic Local\n",
        "BEGIN:VTIMEZONE\nTZID:Clinic Local\n",
        "BEGIN:STANDARD\nDTSTART:20000101T000000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0200\nEND:STANDARD\n",
        "BEGIN:DAYLIGHT\nDTSTART:20250601T000000\nRDATE:20260601T000000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0300\nEND:DAYLIGHT\n",
        "BEGIN:STANDARD\nDTSTART:20251001T000000\nTZOFFSETFROM:+0300\nTZOFFSETTO:+0200\nEND:STANDARD\n",
        "END:VTIMEZONE\n",
        "BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Clinic Local:20250515T090000\nDURATION:PT1H\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:b\nDTSTART;TZID=\"Clinic Local\":20250715T090000\nDURATION:PT1H\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:c\nDTSTART:20260715T090000\nDURATION:PT1H\nEND:VEVENT\n",
    ));
    let imp = import_bytes(&bytes, chrono_tz::America::New_York);
    assert_eq!(
        spans(&imp),
        timed(&[
            ("2025-05-15T07:00:00Z", "2025-05-15T08:00:00Z"),
            ("2025-07-15T06:00:00Z", "2025-07-15T07:00:00Z"),
            ("2026-07-15T06:00:00Z", "2026-07-15T07:00:00Z"),
        ])
    );
}

#[test]
fn unreadable_vtimezone_is_named() {
    let bytes = cal(concat!(
        "BEGIN:VTIMEZONE\nTZID:Broken Zone\nBEGIN:STANDARD\nDTSTART:20000101T000000\nTZOFFSETTO:+0200\nEND:STANDARD\nEND:VTIMEZONE\n",
        "BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Broken Zone:20250515T090000\nDURATION:PT1H\nEND:VEVENT\n",
    ));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert!(imp.instances.is_empty());
    assert_eq!(imp.skipped.len(), 1);
    assert_eq!(imp.skipped[0].line, Some(13));
    assert_eq!(
        imp.skipped[0].reason,
        "DTSTART uses time zone 'Broken Zone', whose VTIMEZONE cannot be read because its STANDARD part has no valid TZOFFSETFROM"
    );
}

#[test]
fn count_is_counted_from_dtstart_before_the_window() {
    let bytes = cal("BEGIN:VEVENT\nUID:a\nDTSTART:20231225T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=10\nEND:VEVENT\n");
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    let starts: Vec<_> = imp.instances.iter().map(|i| i.span.start).collect();
    assert_eq!(starts, vec![at("2024-01-01T10:00:00Z"), at("2024-01-02T10:00:00Z"), at("2024-01-03T10:00:00Z")]);
}

#[test]
fn until_forms_on_date_time_series() {
    // DATE UNTIL on a DATE-TIME series: through the end of that local day.
    let bytes =
        cal("BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Asia/Tokyo:20250303T230000\nDURATION:PT30M\nRRULE:FREQ=DAILY;UNTIL=20250305\nEND:VEVENT\n");
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert_eq!(imp.instances.len(), 3);
    assert_eq!(imp.instances[2].span.start, at("2025-03-05T14:00:00Z"));
    // UTC UNTIL is compared in local wall time: 2025-03-05T14:00Z is 23:00 in Tokyo, inclusive.
    let bytes = cal("BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Asia/Tokyo:20250303T230000\nDURATION:PT30M\nRRULE:FREQ=DAILY;UNTIL=20250305T140000Z\nEND:VEVENT\n");
    assert_eq!(import_bytes(&bytes, chrono_tz::UTC).instances.len(), 3);
    let bytes = cal("BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Asia/Tokyo:20250303T230000\nDURATION:PT30M\nRRULE:FREQ=DAILY;UNTIL=20250305T135959Z\nEND:VEVENT\n");
    assert_eq!(import_bytes(&bytes, chrono_tz::UTC).instances.len(), 2);
}

#[test]
fn recurring_nominal_duration_across_dst() {
    // P1D is nominal: each instance ends at the same wall-clock time next day.
    let bytes =
        cal("BEGIN:VEVENT\nUID:a\nDTSTART;TZID=America/New_York:20260307T120000\nDURATION:P1DT1H\nRRULE:FREQ=DAILY;COUNT=2\nEND:VEVENT\n");
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert_eq!(spans(&imp), timed(&[("2026-03-07T17:00:00Z", "2026-03-08T17:00:00Z"), ("2026-03-08T16:00:00Z", "2026-03-09T17:00:00Z"),]));
}

#[test]
fn exdate_forms_and_date_recurrence_id() {
    // All-day series: EXDATE as DATE and as DATE-TIME both remove by date; a DATE
    // RECURRENCE-ID moves one day.
    let bytes = cal(concat!(
        "BEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:20250602\nRRULE:FREQ=DAILY;COUNT=5\n",
        "EXDATE;VALUE=DATE:20250603\nEXDATE:20250604T000000Z\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:a\nRECURRENCE-ID;VALUE=DATE:20250606\nDTSTART;VALUE=DATE:20250609\nEND:VEVENT\n",
    ));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    let got: Vec<_> = imp.instances.iter().map(|i| (i.span.start, i.recurrence_id)).collect();
    assert_eq!(
        got,
        vec![
            (at("2025-06-02T00:00:00Z"), Some(at("2025-06-02T00:00:00Z"))),
            (at("2025-06-05T00:00:00Z"), Some(at("2025-06-05T00:00:00Z"))),
            (at("2025-06-09T00:00:00Z"), Some(at("2025-06-06T00:00:00Z"))),
        ]
    );
}

#[test]
fn override_without_master_and_unmatched_override_stand_alone() {
    let bytes = cal(concat!(
        "BEGIN:VEVENT\nUID:orphan\nRECURRENCE-ID:20250610T090000Z\nDTSTART:20250610T100000Z\nDURATION:PT1H\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:m\nDTSTART:20250601T090000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=2\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:m\nRECURRENCE-ID:20250620T090000Z\nDTSTART:20250620T120000Z\nDURATION:PT1H\nEND:VEVENT\n",
    ));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    let got: Vec<_> = imp.instances.iter().map(|i| (i.uid.as_str(), i.span.start, i.recurrence_id)).collect();
    assert_eq!(
        got,
        vec![
            ("m", at("2025-06-01T09:00:00Z"), Some(at("2025-06-01T09:00:00Z"))),
            ("m", at("2025-06-02T09:00:00Z"), Some(at("2025-06-02T09:00:00Z"))),
            ("orphan", at("2025-06-10T10:00:00Z"), Some(at("2025-06-10T09:00:00Z"))),
            ("m", at("2025-06-20T12:00:00Z"), Some(at("2025-06-20T09:00:00Z"))),
        ]
    );
}

#[test]
fn endless_secondly_rule_is_capped_quickly() {
    let bytes = cal(concat!(
        "BEGIN:VEVENT\nUID:spam\nDTSTART:20250101T000000Z\nDURATION:PT1S\nRRULE:FREQ=SECONDLY\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:ok\nDTSTART:20250101T100000Z\nDURATION:PT1H\nEND:VEVENT\n",
    ));
    let t0 = Instant::now();
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert!(t0.elapsed().as_secs() < 20, "took {:?}", t0.elapsed());
    assert_eq!(imp.instances.len(), 1);
    assert_eq!(imp.instances[0].uid, "ok");
    assert_eq!(imp.unreadable_uids.iter().collect::<Vec<_>>(), vec!["spam"]);
    assert_eq!(imp.skipped.len(), 1);
    assert_eq!(imp.skipped[0].line, Some(8));
    assert!(imp.skipped[0].reason.starts_with("RRULE repeats too often"), "{}", imp.skipped[0].reason);
}

#[test]
fn per_event_value_errors_name_the_property_line() {
    let bytes = cal(concat!(
        "BEGIN:VEVENT\nUID:a\nDTSTART:2025-06-01\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:b\nDTSTART:20250601T090000Z\nDTEND:20250601T080000Z\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:c\nDTSTART:20250601T090000Z\nRRULE:FREQ=FORTNIGHTLY\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:d\nSUMMARY:no start\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:e\nDTSTART:20250601T090000Z\nDURATION:1 hour\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:f\nDTSTART:20250601T090000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE;TZID=Atlantis/Central:20250602T090000\nEND:VEVENT\n",
    ));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert!(imp.instances.is_empty());
    let got: Vec<_> = imp.skipped.iter().map(|s| (s.line, s.uid.as_deref().unwrap_or(""), s.reason.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (Some(6), "a", "DTSTART value '2025-06-01' is not a valid date or date-time"),
            (Some(11), "b", "DTEND is earlier than DTSTART"),
            (Some(16), "c", "RRULE cannot be used: `FORTNIGHTLY` is not a valid frequency"),
            (Some(18), "d", "DTSTART is missing, so the event has no start"),
            (Some(25), "e", "DURATION value '1 hour' is not a valid duration"),
            (Some(32), "f", "EXDATE uses unknown time zone 'Atlantis/Central'"),
        ]
    );
    assert_eq!(imp.unreadable_uids.len(), 6);
    assert_eq!(imp.events, 0);
}

#[test]
fn lower_case_names_missing_uid_and_window_clipping() {
    let bytes = b"begin:vcalendar\nbegin:vevent\ndtstart;tzid=europe/paris:20250601T090000\nduration:PT1H\nsummary:Lower\nend:vevent\nend:vcalendar\n";
    // `europe/paris` is not an IANA spelling: unknown zone, but the file is read.
    let imp = import_bytes(bytes, chrono_tz::UTC);
    assert_eq!(imp.skipped.len(), 1);
    assert!(imp.skipped[0].uid.as_deref().is_some_and(|u| u.starts_with("nouid-")));

    let bytes = b"begin:vcalendar\nbegin:vevent\ndtstart;tzid=Europe/Paris:20250601T090000\nduration:PT1H\nend:vevent\nend:vcalendar\n";
    let a = import_bytes(bytes, chrono_tz::UTC);
    let b = import_bytes(bytes, chrono_tz::UTC);
    assert_eq!(spans(&a), timed(&[("2025-06-01T07:00:00Z", "2025-06-01T08:00:00Z")]));
    assert_eq!(a.instances[0].uid, b.instances[0].uid, "synthetic UID is stable");

    // Only instances overlapping the window are returned (half-open).
    let bytes = cal("BEGIN:VEVENT\nUID:w\nDTSTART:20231231T230000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=3\nEND:VEVENT\n");
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert_eq!(imp.instances.len(), 2);
    assert_eq!(imp.instances[0].span.start, at("2024-01-01T23:00:00Z"));
}

#[test]
fn truncated_and_corrupted_files_never_panic() {
    let mut files: Vec<_> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ics"))
        .collect();
    files.sort();
    // xorshift: deterministic pseudo-random corruption.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let o = opts(chrono_tz::America::New_York);
    for f in files {
        let raw = std::fs::read(&f).unwrap();
        for cut in (0..raw.len()).step_by(3) {
            let _ = parse_ics(&raw[..cut], &o);
        }
        for _ in 0..300 {
            let mut m = raw.clone();
            for _ in 0..(1 + rnd() % 4) {
                if m.is_empty() {
                    break;
                }
                let pos = (rnd() as usize) % m.len();
                match rnd() % 5 {
                    0 => {
                        m.remove(pos);
                    }
                    1 => m[pos] = (rnd() % 256) as u8,
                    2 => m.insert(pos, b"\r\n:;=,/-TZ0123456789 \""[(rnd() % 22) as usize]),
                    3 => {
                        let end = (pos + (rnd() as usize % 40)).min(m.len());
                        m.drain(pos..end);
                    }
                    _ => m[pos] = b"0123456789"[(rnd() % 10) as usize],
                }
            }
            let _ = parse_ics(&m, &o);
        }
    }
}

#[test]
fn extreme_values_are_handled() {
    let run = |props: &str| {
        let bytes = cal(&format!("BEGIN:VEVENT\nUID:x\n{props}\nEND:VEVENT\n"));
        parse_ics(&bytes, &opts(chrono_tz::UTC)).unwrap()
    };
    // A yearly series from year 0 reaches the window.
    assert_eq!(run("DTSTART:00000101T090000Z\nDURATION:PT1H\nRRULE:FREQ=YEARLY").instances.len(), 4);
    // A daily series from year 0 is too long to expand.
    let r = run("DTSTART;TZID=America/New_York:00000101T000000\nDURATION:PT1H\nRRULE:FREQ=DAILY");
    assert!(r.skipped[0].reason.starts_with("RRULE repeats too often"));
    // A rule that never matches ends (the rrule crate's loop limit) with just DTSTART.
    assert_eq!(run("DTSTART:20250101T000000Z\nDURATION:PT1H\nRRULE:FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2").instances.len(), 1);
    assert_eq!(run("DTSTART:99991231T235959Z\nDURATION:P999999D\nRRULE:FREQ=YEARLY").instances.len(), 0);
    let r = run("DTSTART:20250101T000000Z\nDURATION:PT1H\nRRULE:FREQ=HOURLY;BYHOUR=99");
    assert_eq!(r.skipped[0].reason, "RRULE cannot be used: `99` is not a valid BYHOUR value");
    // A VTIMEZONE with an endless rule is unusable, not a hang.
    let bytes = cal(concat!(
        "BEGIN:VTIMEZONE\nTZID:Weird\nBEGIN:STANDARD\nDTSTART:00010101T000000\nRRULE:FREQ=SECONDLY\n",
        "TZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nEND:STANDARD\nEND:VTIMEZONE\n",
        "BEGIN:VEVENT\nUID:w\nDTSTART;TZID=Weird:20250101T000000\nDURATION:PT1H\nEND:VEVENT\n",
    ));
    let r = parse_ics(&bytes, &opts(chrono_tz::UTC)).unwrap();
    assert_eq!(
        r.skipped[0].reason,
        "DTSTART uses time zone 'Weird', whose VTIMEZONE cannot be read because its STANDARD RRULE cannot be expanded (it repeats more than 5000 times)"
    );
}

#[test]
fn isolated_parts_still_report_property_lines_and_zones() {
    // The stray line makes the whole-file parse fail; the other events are then
    // parsed one by one and still report the line of their bad property, and
    // X-WR-TIMEZONE still applies to floating times only.
    let bytes = cal(concat!(
        "X-WR-TIMEZONE:America/Chicago\n",
        "BEGIN:VEVENT\nUID:stray\nDTSTART:20250601T090000Z\n\"stray text\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:tz\nDTSTART;TZID=Pluto/Base:20250602T090000\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:berlin\nDTSTART;TZID=Europe/Berlin:20250603T090000\nDURATION:PT1H\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:floating\nDTSTART:20250604T090000\nDURATION:PT1H\nEND:VEVENT\n",
    ));
    let imp = import_bytes(&bytes, chrono_tz::Asia::Tokyo);
    assert_eq!(spans(&imp), timed(&[("2025-06-03T07:00:00Z", "2025-06-03T08:00:00Z"), ("2025-06-04T14:00:00Z", "2025-06-04T15:00:00Z")]));
    let got: Vec<_> = imp.skipped.iter().map(|s| (s.line, s.uid.as_deref())).collect();
    assert_eq!(got, vec![(Some(8), Some("stray")), (Some(12), Some("tz"))]);
    assert_eq!(imp.skipped[1].reason, "DTSTART uses unknown time zone 'Pluto/Base'");
    assert_eq!(imp.events, 2);
}

#[test]
fn floating_exdate_and_recurrence_id_on_a_zoned_series_use_the_series_zone() {
    // Some exporters drop the TZID on EXDATE and RECURRENCE-ID. The series is in
    // Berlin; the provider is in New York. The floating values must be read on
    // Berlin's wall clock, or the exclusion and the override would miss.
    let bytes = cal("BEGIN:VEVENT
UID:fx@x
DTSTAMP:20250101T000000Z
DTSTART;TZID=Europe/Berlin:20250707T140000
DTEND;TZID=Europe/Berlin:20250707T143000
RRULE:FREQ=DAILY;COUNT=4
EXDATE:20250708T140000
END:VEVENT
BEGIN:VEVENT
UID:fx@x
DTSTAMP:20250101T000000Z
RECURRENCE-ID:20250709T140000
DTSTART;TZID=Europe/Berlin:20250709T160000
DTEND;TZID=Europe/Berlin:20250709T163000
SEQUENCE:1
END:VEVENT
");
    let imp = import_bytes(&bytes, parse_iana("America/New_York").unwrap());
    assert!(imp.skipped.is_empty(), "{:?}", imp.skipped);
    assert_eq!(
        spans(&imp),
        timed(&[
            ("2025-07-07T12:00:00Z", "2025-07-07T12:30:00Z"),
            ("2025-07-09T14:00:00Z", "2025-07-09T14:30:00Z"),
            ("2025-07-10T12:00:00Z", "2025-07-10T12:30:00Z"),
        ])
    );
    assert_eq!(instance(&imp, "fx@x")[1].recurrence_id, Some(at("2025-07-09T12:00:00Z")));
}

// ---------------------------------------------------------------------------
// RECURRENCE-ID;RANGE=THISANDFUTURE (RFC 5545 §3.8.4.4, §3.2.13)

/// `(start, end, recurrence_id)` of each instance of `uid`, as RFC 3339 `Z` strings.
fn rid_spans(imp: &IcsImport, uid: &str) -> Vec<(String, String, String)> {
    let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    instance(imp, uid).iter().map(|i| (f(i.span.start), f(i.span.end), i.recurrence_id.map(f).unwrap_or_default())).collect()
}

fn with_rid(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

#[test]
fn thisandfuture_moves_the_instance_and_all_later_ones() {
    // QA finding 08, verbatim: a daily 13:00 New York series; from 03-04 on every
    // instance is at 13:30-14:30 and carries the override's summary.
    let imp = import("thisandfuture-qa.ics", chrono_tz::America::New_York);
    assert!(imp.skipped.is_empty(), "{:?}", imp.skipped);
    assert_eq!(
        rid_spans(&imp, "tf"),
        with_rid(&[
            ("2026-03-02T18:00:00Z", "2026-03-02T19:00:00Z", "2026-03-02T18:00:00Z"),
            ("2026-03-03T18:00:00Z", "2026-03-03T19:00:00Z", "2026-03-03T18:00:00Z"),
            ("2026-03-04T18:30:00Z", "2026-03-04T19:30:00Z", "2026-03-04T18:00:00Z"),
            ("2026-03-05T18:30:00Z", "2026-03-05T19:30:00Z", "2026-03-05T18:00:00Z"),
        ])
    );
    let summaries: Vec<_> = imp.instances.iter().map(|i| i.summary.as_deref().unwrap_or("")).collect();
    assert_eq!(summaries, ["thisandfuture master", "thisandfuture master", "thisandfuture override", "thisandfuture override"]);
    assert_eq!(imp.events, 2);
    assert_eq!(imp.read_uids.iter().collect::<Vec<_>>(), vec!["tf"]);
}

#[test]
fn single_instance_override_wins_over_an_earlier_range_override() {
    let imp = import("thisandfuture-then-single.ics", chrono_tz::UTC);
    assert!(imp.skipped.is_empty(), "{:?}", imp.skipped);
    assert_eq!(
        rid_spans(&imp, "tf-single@test"),
        with_rid(&[
            ("2026-01-05T15:00:00Z", "2026-01-05T16:00:00Z", "2026-01-05T15:00:00Z"),
            ("2026-01-06T15:00:00Z", "2026-01-06T16:00:00Z", "2026-01-06T15:00:00Z"),
            // First range override: +1 h, 45 minutes, tentative.
            ("2026-01-07T16:00:00Z", "2026-01-07T16:45:00Z", "2026-01-07T15:00:00Z"),
            ("2026-01-08T16:00:00Z", "2026-01-08T16:45:00Z", "2026-01-08T15:00:00Z"),
            // Single-instance override of 01-09.
            ("2026-01-09T14:00:00Z", "2026-01-09T14:30:00Z", "2026-01-09T15:00:00Z"),
            // Second range override (the latest RECURRENCE-ID at or before): +2 h, 2 hours.
            ("2026-01-10T17:00:00Z", "2026-01-10T19:00:00Z", "2026-01-10T15:00:00Z"),
            ("2026-01-11T17:00:00Z", "2026-01-11T19:00:00Z", "2026-01-11T15:00:00Z"),
        ])
    );
    let props: Vec<_> = imp.instances.iter().map(|i| (i.summary.as_deref().unwrap_or(""), i.status)).collect();
    assert_eq!(
        props,
        vec![
            ("Clinic", BusyStatus::Busy),
            ("Clinic", BusyStatus::Busy),
            ("Clinic (later)", BusyStatus::BusyTentative),
            ("Clinic (later)", BusyStatus::BusyTentative),
            ("Clinic (early)", BusyStatus::Busy),
            // No SUMMARY on the second range override: the master's.
            ("Clinic", BusyStatus::Busy),
            ("Clinic", BusyStatus::Busy),
        ]
    );
    assert_eq!(imp.events, 4);
}

#[test]
fn cancelled_range_override_removes_the_instance_and_all_later_ones() {
    let imp = import("thisandfuture-cancelled.ics", chrono_tz::America::New_York);
    assert!(imp.skipped.is_empty(), "{:?}", imp.skipped);
    assert_eq!(spans(&imp), timed(&[("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z"), ("2026-01-12T10:00:00Z", "2026-01-12T11:00:00Z")]));
    assert!(imp.read_uids.contains("tf-cancel@test"));
    assert_eq!(imp.events, 2);
}

#[test]
fn range_override_shift_is_wall_clock_across_dst() {
    // DST starts in New York on 2026-03-08.
    let imp = import("thisandfuture-across-dst.ics", chrono_tz::Asia::Tokyo);
    assert!(imp.skipped.is_empty(), "{:?}", imp.skipped);
    // 13:00 → 13:30 from 03-06: still 13:30 local (17:30Z) after the change.
    assert_eq!(
        rid_spans(&imp, "tf-dst-same-day@test"),
        with_rid(&[
            ("2026-03-05T18:00:00Z", "2026-03-05T19:00:00Z", "2026-03-05T18:00:00Z"),
            ("2026-03-06T18:30:00Z", "2026-03-06T19:15:00Z", "2026-03-06T18:00:00Z"),
            ("2026-03-07T18:30:00Z", "2026-03-07T19:15:00Z", "2026-03-07T18:00:00Z"),
            ("2026-03-08T17:30:00Z", "2026-03-08T18:15:00Z", "2026-03-08T17:00:00Z"),
            ("2026-03-09T17:30:00Z", "2026-03-09T18:15:00Z", "2026-03-09T17:00:00Z"),
            ("2026-03-10T17:30:00Z", "2026-03-10T18:15:00Z", "2026-03-10T17:00:00Z"),
        ])
    );
    // 03-07 13:00 EST (RECURRENCE-ID given in UTC) → 03-08 13:30 EDT: the shift is
    // one day and 30 minutes on the wall clock (23 h 30 min of elapsed time), so
    // every later instance is at 13:30 local the next day, not at 12:30.
    assert_eq!(
        rid_spans(&imp, "tf-dst-next-day@test"),
        with_rid(&[
            ("2026-03-05T18:00:00Z", "2026-03-05T19:00:00Z", "2026-03-05T18:00:00Z"),
            ("2026-03-06T18:00:00Z", "2026-03-06T19:00:00Z", "2026-03-06T18:00:00Z"),
            ("2026-03-08T17:30:00Z", "2026-03-08T18:30:00Z", "2026-03-07T18:00:00Z"),
            ("2026-03-09T17:30:00Z", "2026-03-09T18:30:00Z", "2026-03-08T17:00:00Z"),
            ("2026-03-10T17:30:00Z", "2026-03-10T18:30:00Z", "2026-03-09T17:00:00Z"),
        ])
    );
    // 01:30 → 02:30: on 03-08 02:30 does not exist and is read with the offset
    // before the gap (Zone::to_utc), i.e. 03:30 EDT.
    assert_eq!(
        rid_spans(&imp, "tf-dst-gap@test"),
        with_rid(&[
            ("2026-03-06T06:30:00Z", "2026-03-06T07:30:00Z", "2026-03-06T06:30:00Z"),
            ("2026-03-07T07:30:00Z", "2026-03-07T08:30:00Z", "2026-03-07T06:30:00Z"),
            ("2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z", "2026-03-08T06:30:00Z"),
            ("2026-03-09T06:30:00Z", "2026-03-09T07:30:00Z", "2026-03-09T05:30:00Z"),
        ])
    );
}

#[test]
fn range_override_precedence_and_edge_cases() {
    let master = "BEGIN:VEVENT\nUID:p\nDTSTAMP:20250101T000000Z\nDTSTART:20250601T090000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=4\nSUMMARY:M\nEND:VEVENT\n";
    let ov = |range: &str, seq: u32, start: &str, summary: &str| {
        format!(
            "BEGIN:VEVENT\nUID:p\nDTSTAMP:20250101T000000Z\nRECURRENCE-ID{range}:20250602T090000Z\nDTSTART:{start}\nDURATION:PT30M\nSEQUENCE:{seq}\nSUMMARY:{summary}\nEND:VEVENT\n"
        )
    };
    let starts = |imp: &IcsImport| -> Vec<(String, String)> {
        imp.instances.iter().map(|i| (i.span.start.format("%d %H:%M").to_string(), i.summary.clone().unwrap_or_default())).collect()
    };
    let pairs = |l: &[(&str, &str)]| -> Vec<(String, String)> { l.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect() };

    // Same RECURRENCE-ID, the range override has the higher SEQUENCE: it wins there too.
    let bytes = cal(&format!("{master}{}{}", ov(";RANGE=THISANDFUTURE", 2, "20250602T100000Z", "R"), ov("", 1, "20250602T070000Z", "S")));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert_eq!(starts(&imp), pairs(&[("01 09:00", "M"), ("02 10:00", "R"), ("03 10:00", "R"), ("04 10:00", "R")]));

    // Same RECURRENCE-ID, the single override has the higher SEQUENCE: it keeps that
    // instance, the range override still moves the later ones.
    let bytes = cal(&format!("{master}{}{}", ov(";RANGE=THISANDFUTURE", 1, "20250602T100000Z", "R"), ov("", 2, "20250602T070000Z", "S")));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert_eq!(starts(&imp), pairs(&[("01 09:00", "M"), ("02 07:00", "S"), ("03 10:00", "R"), ("04 10:00", "R")]));
    assert_eq!(imp.instances.len(), 4);

    // Two range overrides with the same RECURRENCE-ID: SEQUENCE decides.
    let bytes = cal(&format!(
        "{master}{}{}",
        ov(";RANGE=THISANDFUTURE", 3, "20250602T110000Z", "R3"),
        ov(";RANGE=THISANDFUTURE", 2, "20250602T100000Z", "R2")
    ));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert_eq!(starts(&imp), pairs(&[("01 09:00", "M"), ("02 11:00", "R3"), ("03 11:00", "R3"), ("04 11:00", "R3")]));

    // RANGE is read case-insensitively; RFC 2445's THISANDPRIOR is a single-instance override.
    let bytes = cal(&format!("{master}{}", ov(";range=thisandfuture", 1, "20250602T100000Z", "R")));
    assert_eq!(
        starts(&import_bytes(&bytes, chrono_tz::UTC)),
        pairs(&[("01 09:00", "M"), ("02 10:00", "R"), ("03 10:00", "R"), ("04 10:00", "R")])
    );
    let bytes = cal(&format!("{master}{}", ov(";RANGE=THISANDPRIOR", 1, "20250602T100000Z", "R")));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert_eq!(starts(&imp), pairs(&[("01 09:00", "M"), ("02 10:00", "R"), ("03 09:00", "M"), ("04 09:00", "M")]));

    // A transparent range override frees the instance and all later ones.
    let bytes = cal(&format!(
        "{master}{}",
        ov(";RANGE=THISANDFUTURE", 1, "20250602T100000Z", "R").replace("SEQUENCE", "TRANSP:TRANSPARENT\nSEQUENCE")
    ));
    assert_eq!(starts(&import_bytes(&bytes, chrono_tz::UTC)), pairs(&[("01 09:00", "M")]));

    // Without a master, a range override stands alone like any override.
    let bytes = cal(&ov(";RANGE=THISANDFUTURE", 1, "20250602T100000Z", "R"));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    assert_eq!(starts(&imp), pairs(&[("02 10:00", "R")]));
    assert_eq!(imp.instances[0].recurrence_id, Some(at("2025-06-02T09:00:00Z")));

    // An EXDATE after the range override still removes that (original) instance.
    let bytes = cal(&format!(
        "{}{}",
        master.replace("SUMMARY:M", "SUMMARY:M\nEXDATE:20250603T090000Z"),
        ov(";RANGE=THISANDFUTURE", 1, "20250602T100000Z", "R")
    ));
    assert_eq!(starts(&import_bytes(&bytes, chrono_tz::UTC)), pairs(&[("01 09:00", "M"), ("02 10:00", "R"), ("04 10:00", "R")]));
}

#[test]
fn range_override_moving_instances_earlier_reaches_past_the_window() {
    // An endless weekly series; from 2027-12-29 on, instances move 9 days
    // earlier, so the 2028-01-05 instance (after the window's end) lands inside it.
    let bytes = cal(concat!(
        "BEGIN:VEVENT\nUID:e\nDTSTART:20271201T090000Z\nDURATION:PT1H\nRRULE:FREQ=WEEKLY\nEND:VEVENT\n",
        "BEGIN:VEVENT\nUID:e\nRECURRENCE-ID;RANGE=THISANDFUTURE:20271229T090000Z\nDTSTART:20271220T090000Z\nDURATION:PT1H\nEND:VEVENT\n",
    ));
    let imp = import_bytes(&bytes, chrono_tz::UTC);
    let got: Vec<_> = imp.instances.iter().map(|i| (i.span.start, i.recurrence_id)).collect();
    assert_eq!(
        got,
        vec![
            (at("2027-12-01T09:00:00Z"), Some(at("2027-12-01T09:00:00Z"))),
            (at("2027-12-08T09:00:00Z"), Some(at("2027-12-08T09:00:00Z"))),
            (at("2027-12-15T09:00:00Z"), Some(at("2027-12-15T09:00:00Z"))),
            (at("2027-12-20T09:00:00Z"), Some(at("2027-12-29T09:00:00Z"))),
            (at("2027-12-22T09:00:00Z"), Some(at("2027-12-22T09:00:00Z"))),
            (at("2027-12-27T09:00:00Z"), Some(at("2028-01-05T09:00:00Z"))),
        ]
    );
}
