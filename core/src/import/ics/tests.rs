//! Tests of the iCalendar importer against the fixtures in `fixtures/calendar`.
