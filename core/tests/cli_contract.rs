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
