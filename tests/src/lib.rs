//! Helpers shared by the end-to-end tests: find the built binaries and run
//! them against a throw-away encrypted database.

pub mod fhir_server;
pub mod listening;
pub mod local_llm;
pub mod radicale;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (`tests/..`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// A file under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    workspace_root().join("fixtures").join(rel)
}

/// The built `medharmony` CLI: `$MEDHARMONY_BIN` when set, else the binary
/// next to this test executable's `deps/` folder (cargo builds it before any
/// test runs, because the `medharmony` package has integration tests).
pub fn medharmony_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MEDHARMONY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target profile dir");
    let bin = dir.join(format!("medharmony{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing: run `cargo test --workspace` (or `cargo build -p medharmony`) first", bin.display());
    bin
}

/// The result of one CLI run.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output (results).
    pub stdout: String,
    /// Standard error (errors, skipped items).
    pub stderr: String,
}

impl Run {
    /// Standard output parsed as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A scratch database in its own temporary folder, with a fixed test key.
pub struct Db {
    /// Keeps the folder alive.
    pub dir: tempfile::TempDir,
    /// The database file.
    pub path: PathBuf,
}

/// The key the tests use (64 hex digits: a raw SQLCipher key).
pub const TEST_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

impl Db {
    /// A new, not yet created database.
    pub fn new() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("medharmony.db");
        Db { dir, path }
    }

    /// A `medharmony` command with `--db` and the test key set.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(medharmony_bin());
        c.arg("--db").arg(&self.path).env("MEDHARMONY_DB_KEY", TEST_KEY).env_remove("MEDHARMONY_DB");
        c
    }

    /// Runs `medharmony --db … ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).output().expect("run medharmony").into()
    }

    /// Everything the database holds, as the CLI lists it (for "unchanged in content" checks).
    pub fn content(&self) -> String {
        let wide = ["--from", "1990-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z"];
        let mut out = String::new();
        for args in [
            vec!["--json", "providers", "list"],
            vec!["--json", "sources"],
            vec!["--json", "changes"],
            [vec!["--json", "busy"], wide.to_vec()].concat(),
            [vec!["--json", "slots"], wide.to_vec()].concat(),
        ] {
            let r = self.run(&args);
            assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
            out.push_str(&r.stdout);
        }
        out
    }
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}
