//! The `medharmony` binary's own contract checks (this file also makes cargo
//! build the binary before the workspace's end-to-end tests run).

use std::process::Command;

#[test]
fn help_lists_the_commands_and_version_matches_the_crate() {
    let out = Command::new(env!("CARGO_BIN_EXE_medharmony")).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["providers", "import", "busy", "slots", "sources", "bench", "--db", "--now", "--json"] {
        assert!(text.contains(cmd), "help lacks {cmd}: {text}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_medharmony")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("medharmony {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn unknown_subcommand_exits_1_with_stderr_only() {
    let out = Command::new(env!("CARGO_BIN_EXE_medharmony")).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("frobnicate"));
}

/// Regression (QA, critical): a file dialog in the app that opened and closed
/// the database file dropped the app's POSIX locks; the CLI then believed it
/// was alone, deleted the `-wal`/`-shm` files on close, and the app went on
/// writing into deleted files that no other process could see.
#[test]
fn a_cli_run_after_lost_locks_does_not_orphan_the_apps_connection() {
    use medharmony::model::WorkingHours;
    use medharmony::store::{key::DbKey, Store};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let key_hex = "11".repeat(32);
    let now = "2026-03-01T00:00:00Z".parse().unwrap();
    let mut app = Store::open(&path, &DbKey::from_env_value(&key_hex).unwrap()).unwrap();
    app.add_provider("Dr. Before", chrono_tz::UTC, &WorkingHours::default_week(), 30, now).unwrap();

    // What the file chooser did: open and close the database file in this process.
    drop(std::fs::File::open(&path).unwrap());

    let list = |expect: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_medharmony"))
            .args(["--json", "providers", "list"])
            .arg("--db")
            .arg(&path)
            .env("MEDHARMONY_DB_KEY", &key_hex)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let names: Vec<&str> = v.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, expect);
    };
    list(&["Dr. Before"]);
    assert!(std::path::Path::new(&format!("{}-wal", path.display())).exists(), "the WAL file was deleted under the app");

    // The app's next write must reach the file that other processes read.
    app.add_provider("Dr. After", chrono_tz::UTC, &WorkingHours::default_week(), 30, now).unwrap();
    list(&["Dr. After", "Dr. Before"]);
}
