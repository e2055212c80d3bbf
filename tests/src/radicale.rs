//! A real CalDAV server on loopback for contract tests: Radicale 3 (Python, pinned and
//! installed by `scripts/deps.sh`), with HTTP Basic sign-in from a plain htpasswd file, rights
//! `owner_only` and storage in a temporary folder.
//!
//! [`Radicale::start`] picks a free port, writes the configuration and the users file, runs
//! `python3 -m radicale --config <file>` and waits until the port answers. The server is
//! killed when the handle is dropped.
//!
//! When Radicale is not installed, [`Radicale::start`] panics with what to run, unless the
//! environment has `MEDHARMONY_SKIP_RADICALE=1`: then it returns `None` and the test skips.
//! `MEDHARMONY_PYTHON` picks the interpreter (default `python3`).

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

/// Longest wait for the server to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The user the server knows, and the password it accepts.
pub const USER: &str = "rivera";
/// [`USER`]'s password (an "app password").
pub const PASSWORD: &str = "app-pass-2026";

/// A running Radicale on loopback; killed on drop.
pub struct Radicale {
    /// `http://127.0.0.1:PORT/` (with the trailing slash).
    pub base_url: String,
    child: Child,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

/// One HTTP exchange, whatever its status.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
}

fn python() -> String {
    std::env::var("MEDHARMONY_PYTHON").unwrap_or_else(|_| "python3".into())
}

impl Radicale {
    /// Starts Radicale with user [`USER`] / [`PASSWORD`]; `None` only when it is not
    /// installed and `MEDHARMONY_SKIP_RADICALE=1`.
    ///
    /// # Panics
    /// When Radicale is not installed (and skipping was not asked for), or it does not listen
    /// within 30 s (with what it wrote to stderr).
    pub fn start() -> Option<Radicale> {
        let check = Command::new(python()).args(["-c", "import radicale"]).output();
        if !check.as_ref().is_ok_and(|o| o.status.success()) {
            if std::env::var("MEDHARMONY_SKIP_RADICALE").as_deref() == Ok("1") {
                eprintln!("Radicale is not installed; CalDAV tests skipped (MEDHARMONY_SKIP_RADICALE=1)");
                return None;
            }
            panic!(
                "the CalDAV tests need Radicale 3 (a real CalDAV server), which is not installed for `{}`: run scripts/deps.sh \
                 (or `python3 -m pip install radicale==3.9.0`); set MEDHARMONY_SKIP_RADICALE=1 to skip these tests",
                python()
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let users = dir.path().join("users");
        std::fs::write(&users, format!("{USER}:{PASSWORD}\n")).expect("write users");
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\n[auth]\ntype = htpasswd\nhtpasswd_filename = {}\nhtpasswd_encryption = plain\ndelay = 0\n\n\
                 [rights]\ntype = owner_only\n\n[storage]\nfilesystem_folder = {}\n\n[logging]\nlevel = warning\n",
                users.display(),
                dir.path().join("collections").display()
            ),
        )
        .expect("write config");
        let mut child = Command::new(python())
            .args(["-m", "radicale", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start Radicale with `{}` ({e}); run scripts/deps.sh", python()));
        let started = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("Radicale did not start on port {port} (exit {exited:?}); stderr:\n{err}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).redirects(0).build();
        Some(Radicale { base_url: format!("http://127.0.0.1:{port}/"), child, agent, _dir: dir })
    }

    /// `base_url` + `path` (`path` without a leading slash, e.g. `rivera/clinic/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }

    /// Sends `method url` signed in as [`USER`], with an optional body (`content type`, text)
    /// and extra headers; returns the reply whatever its status.
    ///
    /// # Panics
    /// On a transport error.
    pub fn send(&self, method: &str, url: &str, body: Option<(&str, &str)>, headers: &[(&str, &str)]) -> Reply {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        let mut req = self.agent.request(method, url).set("Authorization", &format!("Basic {auth}"));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = match body {
            Some((ctype, text)) => req.set("Content-Type", ctype).send_string(text),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let status = resp.status();
        let body = resp.into_string().unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"));
        Reply { status, body }
    }

    /// Creates the calendar collection `path` (e.g. `rivera/clinic/`) with MKCALENDAR (RFC 4791
    /// §5.3.1), a display name and, when given, `calendar-timezone-id` (RFC 7809); returns its URL.
    ///
    /// # Panics
    /// When the server does not answer 201.
    pub fn mkcalendar(&self, path: &str, display_name: &str, components: &[&str]) -> String {
        let url = self.url(path);
        let comps: String = components.iter().map(|c| format!("<C:comp name=\"{c}\"/>")).collect();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
<D:set><D:prop><D:displayname>{display_name}</D:displayname>\
<C:supported-calendar-component-set>{comps}</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"
        );
        let r = self.send("MKCALENDAR", &url, Some(("application/xml; charset=utf-8", &body)), &[]);
        assert_eq!(r.status, 201, "MKCALENDAR {url}: {}", r.body);
        url
    }

    /// PUTs the iCalendar object `ics` as `<calendar_url><name>`; returns the status.
    pub fn put_event(&self, calendar_url: &str, name: &str, ics: &str) -> u16 {
        let url = format!("{calendar_url}{name}");
        self.send("PUT", &url, Some(("text/calendar; charset=utf-8", ics)), &[]).status
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
