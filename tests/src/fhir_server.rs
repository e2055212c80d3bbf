//! A real FHIR R4 server on loopback for contract tests: `tests/fhir-server/server.mjs`
//! (Medplum's `FhirRouter` over its in-memory repository, npm packages pinned in
//! `tests/fhir-server/package-lock.json`, installed by `scripts/deps.sh`).
//!
//! [`RealFhirServer::start`] runs `node tests/fhir-server/server.mjs 0 --exit-with-stdin`:
//! the server binds 127.0.0.1 on a port the OS picks and prints `LISTENING <port>`,
//! so there is no port race. It exits when this handle is dropped (the child is
//! killed) and also when the test process dies (its standard input closes).
//!
//! What the server does (see the comments in `server.mjs`): read, search (R4
//! search parameters, date prefixes on UTC instants, `_count`, `_sort`), `total`
//! on every searchset, `_include` with `search.mode = include`, create (201,
//! `Location`), update (`If-Match`), delete, an `ETag: W/"<versionId>"` on single
//! resources. No `next` links, no authentication, data only in memory.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

use crate::listening::spawn_listening;
use crate::workspace_root;

/// Longest wait for `LISTENING` (the server usually needs well under a second).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running FHIR R4 server on loopback; killed on drop.
pub struct RealFhirServer {
    /// The FHIR base, `http://127.0.0.1:PORT/fhir/R4` (no trailing slash).
    pub base_url: String,
    child: Child,
    agent: ureq::Agent,
}

/// One HTTP exchange with the server, whatever its status.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// `ETag` header, e.g. `W/"3f2a…"`.
    pub etag: Option<String>,
    /// `Location` header (on create).
    pub location: Option<String>,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// The body as JSON (`Value::Null` when empty).
    pub body: Value,
}

/// The server's folder, `tests/fhir-server`.
fn server_dir() -> PathBuf {
    workspace_root().join("tests").join("fhir-server")
}

impl RealFhirServer {
    /// Starts the server and waits until it listens.
    ///
    /// # Panics
    /// When `node` is not installed, the npm packages are missing (both: "run
    /// scripts/deps.sh"), or the server does not report `LISTENING` within
    /// 30 s (with whatever it wrote to stderr).
    pub fn start() -> RealFhirServer {
        let dir = server_dir();
        let router = dir.join("node_modules").join("@medplum").join("fhir-router");
        assert!(
            router.is_dir(),
            "{} is missing: the FHIR test server's npm packages are not installed; run scripts/deps.sh (or `npm ci --prefix tests/fhir-server`)",
            router.display()
        );
        let mut cmd = Command::new("node");
        cmd.arg(dir.join("server.mjs")).args(["0", "--exit-with-stdin"]).current_dir(workspace_root());
        let (child, port) = spawn_listening(
            cmd,
            START_TIMEOUT,
            "the FHIR test server (`node`)",
            "it needs Node.js 20.19 or newer and its npm packages: run scripts/deps.sh",
        );
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
        RealFhirServer { base_url: format!("http://127.0.0.1:{port}/fhir/R4"), child, agent }
    }

    /// `base_url/path` (`path` like `Slot?status=free` or `Schedule/123`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// Sends `method` to `path` (relative to the base) with an optional JSON
    /// body and extra headers, and returns the reply whatever its status.
    ///
    /// # Panics
    /// On a transport error or a body that is not JSON.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Reply {
        let url = self.url(path);
        let mut req = self.agent.request(method, &url).set("Accept", "application/fhir+json");
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = match body {
            Some(b) => req.set("Content-Type", "application/fhir+json").send_string(&b.to_string()),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let status = resp.status();
        let header = |name: &str| resp.header(name).map(str::to_string);
        let (etag, location, content_type) = (header("ETag"), header("Location"), header("Content-Type"));
        let text = resp.into_string().unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"));
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: body is not JSON ({e}): {text}"))
        };
        Reply { status, etag, location, content_type, body }
    }

    /// Creates `resource` (`POST [base]/[type]`) and returns it as stored, with its `id` and `meta.versionId`.
    ///
    /// # Panics
    /// When `resource` has no `resourceType` or the server does not answer 201.
    pub fn create(&self, resource: Value) -> Value {
        let kind = resource["resourceType"].as_str().expect("resource has a resourceType").to_string();
        let r = self.send("POST", &kind, Some(&resource), &[]);
        assert_eq!(r.status, 201, "POST {kind}: {}", r.body);
        r.body
    }

    /// `GET [base]/path` (a read or a search) and returns the body.
    ///
    /// # Panics
    /// When the server does not answer 200.
    pub fn get(&self, path: &str) -> Value {
        let r = self.send("GET", path, None, &[]);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.body
    }

    /// Updates `resource` (`PUT [base]/[type]/[id]`) and returns it as stored (new `meta.versionId`).
    ///
    /// # Panics
    /// When `resource` has no `resourceType` or `id`, or the server does not answer 200.
    pub fn put(&self, resource: Value) -> Value {
        let kind = resource["resourceType"].as_str().expect("resource has a resourceType");
        let id = resource["id"].as_str().expect("resource has an id");
        let path = format!("{kind}/{id}");
        let r = self.send("PUT", &path, Some(&resource), &[]);
        assert_eq!(r.status, 200, "PUT {path}: {}", r.body);
        r.body
    }
}

impl Drop for RealFhirServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
