//! The wiremock fake the connector tests share: a `MockServer` on its own
//! runtime, so the blocking code under test (the connectors, or the CLI as a
//! child process) can call it from the test thread.

use std::borrow::Borrow;

use serde_json::Value;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A wiremock server on its own runtime.
pub struct Fake {
    pub rt: tokio::runtime::Runtime,
    pub server: MockServer,
}

impl Fake {
    pub fn start() -> Fake {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let server = rt.block_on(MockServer::start());
        Fake { rt, server }
    }
    /// The server's root, e.g. `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }
    /// The FHIR base the tests use: `<uri>/r4`.
    pub fn base(&self) -> String {
        format!("{}/r4", self.server.uri())
    }
    pub fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.server));
    }
    pub fn reset(&self) {
        self.rt.block_on(self.server.reset());
    }
    pub fn requests(&self) -> Vec<Request> {
        self.rt.block_on(self.server.received_requests()).unwrap_or_default()
    }
}

/// A 200 with `v` as an `application/fhir+json` body.
pub fn fhir_json(v: impl Borrow<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(v.borrow().to_string(), "application/fhir+json")
}

/// Skips (returning true) unless the tests run with a keychain (`MEDHARMONY_REQUIRE_KEYCHAIN=1`, as
/// `scripts/test.sh` sets it inside a D-Bus session with an unlocked gnome-keyring).
pub fn no_keychain() -> bool {
    if std::env::var("MEDHARMONY_REQUIRE_KEYCHAIN").as_deref() != Ok("1") {
        eprintln!("skipped: set MEDHARMONY_REQUIRE_KEYCHAIN=1 inside a session with a Secret Service");
        return true;
    }
    false
}

/// A name no other test run uses: keychain entries are per integration name and database.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix} {}-{nanos}", std::process::id())
}
