//! Versioned schema migrations, tracked in SQLite's `PRAGMA user_version`.
//!
//! Each entry of [`MIGRATIONS`] moves the schema from version `i` to `i + 1`
//! and runs in its own `BEGIN IMMEDIATE` transaction, so two processes opening
//! a new database at once cannot both apply it. A database whose version is
//! newer than this build knows is refused, never downgraded.

use rusqlite::Connection;

/// The migrations, in order. Never edit a released entry: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: providers, locations, integrations, sources, busy blocks, slots, change log.
    r#"
    CREATE TABLE providers (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
        tz            TEXT NOT NULL,
        hours         TEXT NOT NULL,
        slot_minutes  INTEGER NOT NULL DEFAULT 30 CHECK (slot_minutes > 0),
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE locations (
        id    INTEGER PRIMARY KEY,
        name  TEXT NOT NULL UNIQUE COLLATE NOCASE,
        tz    TEXT NOT NULL
    );
    CREATE TABLE integrations (
        id            INTEGER PRIMARY KEY,
        kind          TEXT NOT NULL,
        name          TEXT NOT NULL UNIQUE,
        settings      TEXT NOT NULL DEFAULT '{}',
        sync_minutes  INTEGER NOT NULL DEFAULT 15 CHECK (sync_minutes > 0),
        last_sync_at  INTEGER,
        last_error    TEXT,
        active        INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE sources (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL,
        name            TEXT NOT NULL,
        provider_id     INTEGER REFERENCES providers(id) ON DELETE CASCADE,
        integration_id  INTEGER REFERENCES integrations(id) ON DELETE CASCADE,
        settings        TEXT NOT NULL DEFAULT '{}',
        sync_minutes    INTEGER NOT NULL DEFAULT 15 CHECK (sync_minutes > 0),
        last_sync_at    INTEGER,
        active          INTEGER NOT NULL DEFAULT 1
    );
    CREATE UNIQUE INDEX sources_feed ON sources(kind, name, IFNULL(provider_id, 0));
    CREATE TABLE busy_blocks (
        id             INTEGER PRIMARY KEY,
        source_id      INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        provider_id    INTEGER NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
        external_id    TEXT NOT NULL,
        uid            TEXT NOT NULL,
        recurrence_id  INTEGER,
        start_utc      INTEGER NOT NULL,
        end_utc        INTEGER NOT NULL,
        all_day        INTEGER NOT NULL,
        summary        TEXT,
        status         TEXT NOT NULL,
        updated_seq    INTEGER NOT NULL,
        UNIQUE (source_id, external_id),
        CHECK (end_utc > start_utc)
    );
    CREATE INDEX busy_by_provider_time ON busy_blocks(provider_id, start_utc);
    CREATE TABLE slots (
        id            INTEGER PRIMARY KEY,
        source_id     INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        provider_id   INTEGER NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
        location_id   INTEGER REFERENCES locations(id),
        external_id   TEXT NOT NULL,
        start_utc     INTEGER NOT NULL,
        end_utc       INTEGER NOT NULL,
        status        TEXT NOT NULL,
        service_type  TEXT,
        updated_seq   INTEGER NOT NULL,
        UNIQUE (source_id, external_id),
        CHECK (end_utc > start_utc)
    );
    CREATE INDEX slots_by_provider_time ON slots(provider_id, start_utc);
    CREATE TABLE changes (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        at           INTEGER NOT NULL,
        entity       TEXT NOT NULL,
        op           TEXT NOT NULL,
        source_id    INTEGER,
        provider_id  INTEGER,
        detail       TEXT NOT NULL
    );
    "#,
    // 2: demo providers are flagged, so the demo practice can be removed in one step.
    r#"
    ALTER TABLE providers ADD COLUMN demo INTEGER NOT NULL DEFAULT 0;
    "#,
    // 3: the period each source's imports have covered, so availability is
    // only offered where a calendar was actually read.
    r#"
    ALTER TABLE sources ADD COLUMN covered_from INTEGER;
    ALTER TABLE sources ADD COLUMN covered_to INTEGER;
    "#,
    // 4: connectors. What booking needs about a synced slot (references, ETag
    // or Epic's proposed Appointment; never patient data), the integrations'
    // creation time, last sync report and change-feed cursor, and bookings
    // made from the desk (one per slot: a second one is refused locally;
    // `unknown` when the source's answer was lost).
    r#"
    ALTER TABLE slots ADD COLUMN remote TEXT;
    ALTER TABLE integrations ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE integrations ADD COLUMN last_report TEXT;
    ALTER TABLE integrations ADD COLUMN cursor TEXT;
    CREATE TABLE bookings (
        id               INTEGER PRIMARY KEY,
        source_id        INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        slot_external_id TEXT NOT NULL,
        patient_ref      TEXT NOT NULL,
        appointment_id   TEXT,
        status           TEXT NOT NULL CHECK (status IN ('pending', 'booked', 'unknown')),
        at               INTEGER NOT NULL,
        UNIQUE (source_id, slot_external_id)
    );
    "#,
    // 5: the sync worker's schedule. When the last sync attempt started
    // (complete or not) and how many attempts in a row have failed, so
    // failures back off and a restart keeps the backoff. Paused is the
    // existing `active = 0`.
    r#"
    ALTER TABLE integrations ADD COLUMN last_attempt_at INTEGER;
    ALTER TABLE integrations ADD COLUMN failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0);
    "#,
    // 6: the webhook receiver. Event ids already received per integration
    // (a redelivery changes nothing, also after a restart; ids older than
    // the retention are pruned), and per synced slot the `occurred_at` of
    // the newest event applied to it (milliseconds since the Unix epoch,
    // UTC), so an older event arriving later changes nothing.
    r#"
    CREATE TABLE webhook_events (
        integration_id  INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        event_id        TEXT NOT NULL,
        received_at     INTEGER NOT NULL,
        PRIMARY KEY (integration_id, event_id)
    ) WITHOUT ROWID;
    CREATE INDEX webhook_events_by_age ON webhook_events(received_at);
    CREATE TABLE webhook_slot_versions (
        integration_id    INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        slot_external_id  TEXT NOT NULL,
        occurred_at_ms    INTEGER NOT NULL,
        PRIMARY KEY (integration_id, slot_external_id)
    ) WITHOUT ROWID;
    "#,
    // 7: cancellation fill: the waitlist (issue "Cancellation fill"). Patient
    // details live only here, in the encrypted file. Lists are JSON text:
    // source_ids an object {integration name: patient id}; locations,
    // blocked_weekdays ("Mon".."Sun"), blocked_dates (local YYYY-MM-DD) and
    // preferred_times ("HH:MM-HH:MM", patient-local) arrays. NULL service_type /
    // provider and an empty locations array mean "any". latest_date is a local
    // date in the patient's zone `tz`; added_at and updated_at are UTC seconds.
    r#"
    CREATE TABLE waitlist (
        id                INTEGER PRIMARY KEY,
        display_name      TEXT NOT NULL CHECK (length(trim(display_name)) > 0),
        phone             TEXT,
        email             TEXT,
        tz                TEXT NOT NULL,
        source_ids        TEXT NOT NULL DEFAULT '{}',
        service_type      TEXT,
        provider          TEXT,
        locations         TEXT NOT NULL DEFAULT '[]',
        duration_minutes  INTEGER CHECK (duration_minutes IS NULL OR duration_minutes > 0),
        priority          TEXT NOT NULL DEFAULT 'routine' CHECK (priority IN ('routine', 'soon', 'urgent')),
        added_at          INTEGER NOT NULL,
        blocked_weekdays  TEXT NOT NULL DEFAULT '[]',
        blocked_dates     TEXT NOT NULL DEFAULT '[]',
        preferred_times   TEXT NOT NULL DEFAULT '[]',
        min_notice_hours  INTEGER NOT NULL DEFAULT 0 CHECK (min_notice_hours >= 0),
        latest_date       TEXT,
        updated_at        INTEGER NOT NULL
    );
    CREATE INDEX waitlist_by_priority ON waitlist(priority, added_at);
    "#,
    // 8: slots a source stopped listing are kept in history instead of deleted: `removed_seq` is
    // the change-log entry that removed them (its time says when); every listing leaves them out,
    // and a source listing one again brings it back.
    r#"
    ALTER TABLE slots ADD COLUMN removed_seq INTEGER;
    "#,
    // 9: offer and book (issue "Cancellation fill"). The waitlist is rebuilt with AUTOINCREMENT so a
    // removed patient's id is never given to another patient (the audit and fill history name ids
    // only). `holds`: a free slot held for one waiting patient while staff call, until `expires_at`
    // (UTC seconds; an expired hold no longer counts and is deleted lazily); never sent to the source
    // and never touched by a sync; `patient_ref` is the patient's id in the slot's integration once
    // known. `audit`: who (staff name given at the desk, OS user) viewed, offered, booked or released
    // what, by slot and waitlist id only (never a name or contact). `openings`: a synced future slot
    // that a sync, change feed or webhook turned from busy to free. `fills`: a booking made through an
    // offer, with the opening it filled when one was recorded.
    r#"
    CREATE TABLE waitlist_v9 (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        display_name      TEXT NOT NULL CHECK (length(trim(display_name)) > 0),
        phone             TEXT,
        email             TEXT,
        tz                TEXT NOT NULL,
        source_ids        TEXT NOT NULL DEFAULT '{}',
        service_type      TEXT,
        provider          TEXT,
        locations         TEXT NOT NULL DEFAULT '[]',
        duration_minutes  INTEGER CHECK (duration_minutes IS NULL OR duration_minutes > 0),
        priority          TEXT NOT NULL DEFAULT 'routine' CHECK (priority IN ('routine', 'soon', 'urgent')),
        added_at          INTEGER NOT NULL,
        blocked_weekdays  TEXT NOT NULL DEFAULT '[]',
        blocked_dates     TEXT NOT NULL DEFAULT '[]',
        preferred_times   TEXT NOT NULL DEFAULT '[]',
        min_notice_hours  INTEGER NOT NULL DEFAULT 0 CHECK (min_notice_hours >= 0),
        latest_date       TEXT,
        updated_at        INTEGER NOT NULL
    );
    INSERT INTO waitlist_v9 (id, display_name, phone, email, tz, source_ids, service_type, provider, locations, duration_minutes,
            priority, added_at, blocked_weekdays, blocked_dates, preferred_times, min_notice_hours, latest_date, updated_at)
        SELECT id, display_name, phone, email, tz, source_ids, service_type, provider, locations, duration_minutes,
            priority, added_at, blocked_weekdays, blocked_dates, preferred_times, min_notice_hours, latest_date, updated_at FROM waitlist;
    DROP TABLE waitlist;
    ALTER TABLE waitlist_v9 RENAME TO waitlist;
    CREATE INDEX waitlist_by_priority ON waitlist(priority, added_at);
    CREATE TABLE holds (
        slot_id      INTEGER PRIMARY KEY REFERENCES slots(id) ON DELETE CASCADE,
        waitlist_id  INTEGER NOT NULL REFERENCES waitlist(id) ON DELETE CASCADE,
        patient_ref  TEXT,
        staff        TEXT NOT NULL,
        held_at      INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        CHECK (expires_at > held_at)
    );
    CREATE TABLE audit (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        at           INTEGER NOT NULL,
        staff        TEXT NOT NULL,
        os_user      TEXT NOT NULL,
        action       TEXT NOT NULL CHECK (action IN ('view', 'offer', 'book', 'release')),
        slot_id      INTEGER,
        waitlist_id  INTEGER
    );
    CREATE INDEX audit_by_time ON audit(at);
    CREATE TABLE openings (
        id           INTEGER PRIMARY KEY,
        slot_id      INTEGER NOT NULL REFERENCES slots(id) ON DELETE CASCADE,
        provider_id  INTEGER NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
        detected_at  INTEGER NOT NULL,
        change_seq   INTEGER NOT NULL
    );
    CREATE INDEX openings_by_time ON openings(detected_at);
    CREATE TABLE fills (
        id              INTEGER PRIMARY KEY,
        slot_id         INTEGER REFERENCES slots(id) ON DELETE SET NULL,
        provider_id     INTEGER NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
        waitlist_id     INTEGER NOT NULL,
        opening_id      INTEGER REFERENCES openings(id) ON DELETE SET NULL,
        appointment_id  TEXT,
        booked_at       INTEGER NOT NULL
    );
    CREATE INDEX fills_by_time ON fills(booked_at);
    "#,
    // 10: the practice's desk settings (issue "Cancellation fill": language-model re-ranking switched
    // on in settings, quiet hours for opening notifications, the staff names offered at start). One
    // JSON document per key; never a secret (API keys stay in the keychain).
    r#"
    CREATE TABLE desk_settings (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL CHECK (json_valid(value)),
        updated_at  INTEGER NOT NULL
    );
    "#,
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Outcome of [`migrate`].
#[derive(Debug, PartialEq, Eq)]
pub enum MigrateError {
    /// The file was written by a newer MedHarmony (its version, ours).
    Newer(u32, u32),
    /// SQLite refused a statement.
    Sql(String),
}

/// Brings `conn` up to [`latest_version`], one transaction per step.
///
/// # Errors
/// [`MigrateError::Newer`] for a database from a newer build; [`MigrateError::Sql`] otherwise.
pub fn migrate(conn: &mut Connection) -> Result<u32, MigrateError> {
    let sql = |e: rusqlite::Error| MigrateError::Sql(e.to_string());
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql)?;
        let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sql)?;
        if version > latest_version() {
            return Err(MigrateError::Newer(version, latest_version()));
        }
        if version == latest_version() {
            tx.commit().map_err(sql)?;
            return Ok(version);
        }
        tx.execute_batch(MIGRATIONS[version as usize]).map_err(sql)?;
        tx.pragma_update(None, "user_version", version + 1).map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_new_file_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), latest_version());
        assert_eq!(migrate(&mut conn).unwrap(), latest_version());
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            tables,
            [
                "audit", "bookings", "busy_blocks", "changes", "desk_settings", "fills", "holds", "integrations", "locations", "openings", "providers", "slots",
                "sources", "waitlist", "webhook_events", "webhook_slot_versions"
            ]
        );
        let demo_col: i64 = conn.query_row("SELECT count(*) FROM pragma_table_info('providers') WHERE name = 'demo'", [], |r| r.get(0)).unwrap();
        assert_eq!(demo_col, 1);
        drop(conn);
        // Reopening in another connection sees the same version.
        let conn = Connection::open(&path).unwrap();
        let v: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, latest_version());
    }

    #[test]
    fn upgrades_a_version_1_database_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v1.db")).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute("INSERT INTO providers (name, tz, hours, slot_minutes, created_at) VALUES ('Dr. Old', 'UTC', 'Mon 09:00-17:00', 30, 0)", []).unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), latest_version());
        let (name, demo): (String, bool) = conn.query_row("SELECT name, demo FROM providers", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!((name.as_str(), demo), ("Dr. Old", false));
    }

    #[test]
    fn version_5_adds_the_schedule_columns_to_existing_integrations() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v4.db")).unwrap();
        for (i, m) in MIGRATIONS[..4].iter().enumerate() {
            conn.execute_batch(m).unwrap();
            conn.pragma_update(None, "user_version", i + 1).unwrap();
        }
        conn.execute("INSERT INTO integrations (kind, name, last_sync_at) VALUES ('fhir', 'Clinic FHIR', 1772366400)", []).unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), latest_version());
        let row: (String, Option<i64>, Option<i64>, i64, bool) = conn
            .query_row("SELECT name, last_sync_at, last_attempt_at, failures, active FROM integrations", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap();
        assert_eq!(row, ("Clinic FHIR".to_string(), Some(1_772_366_400), None, 0, true));
        // A negative failure count is refused by the schema.
        assert!(conn.execute("UPDATE integrations SET failures = -1", []).is_err());
    }

    #[test]
    fn version_6_adds_the_webhook_tables_which_follow_their_integration() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v5.db")).unwrap();
        for (i, m) in MIGRATIONS[..5].iter().enumerate() {
            conn.execute_batch(m).unwrap();
            conn.pragma_update(None, "user_version", i + 1).unwrap();
        }
        conn.execute("INSERT INTO integrations (kind, name) VALUES ('fhir', 'Clinic FHIR')", []).unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), latest_version());
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        conn.execute("INSERT INTO webhook_events VALUES (1, 'evt-1', 1772366400)", []).unwrap();
        // The same event id twice for one integration is refused by the key.
        assert!(conn.execute("INSERT INTO webhook_events VALUES (1, 'evt-1', 1772366401)", []).is_err());
        conn.execute("INSERT INTO webhook_slot_versions VALUES (1, 'slot-9', 1772366400123)", []).unwrap();
        // An unknown integration is refused; removing the integration removes its rows.
        assert!(conn.execute("INSERT INTO webhook_events VALUES (2, 'evt-1', 0)", []).is_err());
        conn.execute("DELETE FROM integrations", []).unwrap();
        let left: i64 = conn
            .query_row("SELECT (SELECT count(*) FROM webhook_events) + (SELECT count(*) FROM webhook_slot_versions)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn version_9_keeps_the_waitlist_and_never_reuses_its_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v8.db")).unwrap();
        for (i, m) in MIGRATIONS[..8].iter().enumerate() {
            conn.execute_batch(m).unwrap();
            conn.pragma_update(None, "user_version", i + 1).unwrap();
        }
        let add = |c: &Connection, name: &str| {
            c.execute(
                "INSERT INTO waitlist (display_name, tz, source_ids, priority, added_at, updated_at) VALUES (?1, 'UTC', '{\"Clinic\":\"p1\"}', 'soon', 5, 6)",
                [name],
            )
            .unwrap();
            c.last_insert_rowid()
        };
        add(&conn, "First");
        let second = add(&conn, "Second");
        assert_eq!(migrate(&mut conn).unwrap(), latest_version());
        let row: (String, String, String, i64) =
            conn.query_row("SELECT display_name, source_ids, priority, added_at FROM waitlist WHERE id = ?1", [second], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap();
        assert_eq!(row, ("Second".to_string(), "{\"Clinic\":\"p1\"}".to_string(), "soon".to_string(), 5));
        // The newest patient leaves; the next one gets a new id, not theirs.
        conn.execute("DELETE FROM waitlist WHERE id = ?1", [second]).unwrap();
        assert_eq!(add(&conn, "Third"), second + 1);
        // A hold needs a real slot and patient; an audit action outside the four is refused.
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        assert!(conn.execute("INSERT INTO holds VALUES (99, 1, NULL, 'Maria', 0, 60)", []).is_err());
        assert!(conn.execute("INSERT INTO audit (at, staff, os_user, action) VALUES (0, 'Maria', 'desk', 'print')", []).is_err());
    }

    #[test]
    fn refuses_a_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("n.db")).unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1).unwrap();
        assert_eq!(migrate(&mut conn), Err(MigrateError::Newer(latest_version() + 1, latest_version())));
    }

    #[test]
    fn concurrent_openers_apply_each_step_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = path.clone();
                std::thread::spawn(move || {
                    let mut c = Connection::open(&p).unwrap();
                    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                    migrate(&mut c).unwrap()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), latest_version());
        }
    }
}
