//! End-to-end test of the real desktop window: the built `medharmony-desk`
//! binary under Xvfb, driven over W3C WebDriver through `tauri-driver` and
//! WebKitWebDriver (installed by `scripts/deps.sh`).
//!
//! It checks that the demo week renders the expected number of free slots for
//! one provider and day, that an import done by the CLI into the same
//! database appears in the open window without a reload, and that a FHIR
//! server connected on the Integrations page (a real one on loopback, see
//! [`RealFhirServer`]) brings its open slots into the week view, marked with
//! their source. Screenshots are saved to `target/e2e-artifacts/`
//! (`desktop-week.png`, `desktop-connect.png`, `desktop-integrations.png`,
//! `desktop-week-synced.png`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use medharmony_e2e::fhir_server::RealFhirServer;
use medharmony_e2e::{medharmony_bin, workspace_root, Db, TEST_KEY};
use serde_json::{json, Value};

const NOW: &str = "2026-03-04T15:00:00Z";
const RIVERA: &str = "Dr. Ana Rivera (Demo)";
const DAY: &str = "2026-03-04";

/// Kills a child process when dropped, so a failing assertion never leaves Xvfb or the driver behind.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn find_tool(name: &str) -> PathBuf {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|p| p.join("bin").join(name));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .chain(cargo_bin)
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} is not installed: run scripts/deps.sh (or scripts/test.sh)"))
}

fn desk_bin() -> PathBuf {
    let bin = medharmony_bin().with_file_name(format!("medharmony-desk{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing: build the workspace first (scripts/test.sh does)", bin.display());
    bin
}

/// A display: the current one if set, else a private Xvfb.
fn display() -> (String, Option<Guard>) {
    if let Ok(d) = std::env::var("DISPLAY") {
        if !d.is_empty() {
            return (d, None);
        }
    }
    for n in 90..120 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        let d = format!(":{n}");
        let child = Command::new(find_tool("Xvfb"))
            .args([d.as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let guard = Guard(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
            assert!(Instant::now() < deadline, "Xvfb {d} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        return (d, Some(guard));
    }
    panic!("no free X display number");
}

struct WebDriver {
    base: String,
    session: String,
}

impl WebDriver {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let req = ureq::request(method, &url).timeout(Duration::from_secs(60));
        let resp = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match resp {
            Ok(r) => Ok(r.into_json::<Value>().expect("WebDriver JSON")["value"].clone()),
            Err(ureq::Error::Status(code, r)) => Err(format!("WebDriver {method} {path}: HTTP {code}: {}", r.into_string().unwrap_or_default())),
            Err(e) => Err(format!("WebDriver {method} {path}: {e}")),
        }
    }

    /// Finds `css` and does `act` on it. The live views re-render when the
    /// database changes, which can replace the element between the find and
    /// the action ("stale element reference"); a person's click lands on what
    /// is shown at that instant, so the element is found again (at most 5 times).
    fn on_element(&self, css: &str, act: impl Fn(&str) -> Result<Value, String>) {
        for attempt in 1..=5 {
            let id = self.element(css);
            match act(&id) {
                Ok(_) => return,
                Err(e) if e.contains("stale element reference") && attempt < 5 => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn script(&self, js: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": js, "args": [] })))
    }

    /// The WebDriver id of the first element matching `css`.
    fn element(&self, css: &str) -> String {
        let found = self.call("POST", "/element", Some(json!({ "using": "css selector", "value": css })));
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Clicks `css` as a user would.
    fn click(&self, css: &str) {
        // WebKitWebDriver does not scroll an element inside a scrolling panel into view by itself
        // (the Integrations page scrolls inside the window): a user would scroll to it first.
        self.script(&format!("const e = document.querySelector({}); if (e) e.scrollIntoView({{block: 'center'}}); return true;", json!(css)));
        self.on_element(css, |id| self.try_call("POST", &format!("/element/{id}/click"), Some(json!({}))));
    }

    /// Types `text` into the field `css` (after clearing it), key by key.
    fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, |id| {
            self.try_call("POST", &format!("/element/{id}/clear"), Some(json!({})))?;
            self.try_call("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })))
        });
    }

    /// Saves a screenshot of the window to `target/e2e-artifacts/<name>`.
    fn screenshot(&self, name: &str) {
        // Two animation frames: what the DOM holds now is painted.
        self.script("return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))));");
        let shot = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().expect("screenshot")).expect("screenshot is base64");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let out = workspace_root().join("target").join("e2e-artifacts");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(name), &png).unwrap();
    }

    /// Polls `js` (a function body returning a value) until `ok` accepts it or the deadline passes.
    fn wait_for(&self, what: &str, timeout: Duration, js: &str, ok: impl Fn(&Value) -> bool) -> (Value, Duration) {
        let start = Instant::now();
        loop {
            let v = self.script(js);
            if ok(&v) {
                return (v, start.elapsed());
            }
            assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}; last value {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Starts `tauri-driver` and a session on the app over `db` (pretending [`NOW`]), with `env` added.
fn launch(db: &Db, disp: &str, env: &[(&str, String)]) -> (Guard, WebDriver) {
    let (port, native) = (free_port(), free_port());
    let mut cmd = Command::new(find_tool("tauri-driver"));
    // Its own WebKitWebDriver port too: the tests of this file run side by side.
    cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string(), "--native-driver", "/usr/bin/WebKitWebDriver"])
        .env("DISPLAY", disp)
        .env("MEDHARMONY_DB", &db.path)
        .env("MEDHARMONY_DB_KEY", TEST_KEY)
        .env("MEDHARMONY_NOW", NOW)
        .env("MEDHARMONY_WEBHOOK_LISTEN", "off")
        // A fresh home for WebKit's storage and the saved window state and filters.
        .env("XDG_DATA_HOME", db.dir.path().join("xdg-data"))
        .env("XDG_CONFIG_HOME", db.dir.path().join("xdg-config"))
        .env("XDG_CACHE_HOME", db.dir.path().join("xdg-cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let driver = Guard(cmd.spawn().expect("start tauri-driver"));
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while ureq::get(&format!("{base}/status")).call().is_err() {
        assert!(Instant::now() < deadline, "tauri-driver did not answer");
        std::thread::sleep(Duration::from_millis(200));
    }
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": desk_bin()}}}});
    let created: Value = ureq::post(&format!("{base}/session")).timeout(Duration::from_secs(120)).send_json(caps).expect("new session").into_json().unwrap();
    let session = created["value"]["sessionId"].as_str().expect("session id").to_string();
    (driver, WebDriver { base, session })
}

/// Answers the start-up "Who is at the desk?" question with "Not now" (this test offers nothing).
fn dismiss_staff_picker(wd: &WebDriver) {
    wd.wait_for("the staff picker", Duration::from_secs(60), "return !!document.querySelector('dialog.staff-picker[open]');", |v| *v == json!(true));
    wd.click("#staff-cancel");
}

fn free_count_js(provider: &str, day: &str) -> String {
    format!(
        "const c = document.querySelector('[data-provider=\"{provider}\"][data-day=\"{day}\"]'); return c ? c.getAttribute('data-free-count') : null;"
    )
}

#[test]
fn demo_week_renders_and_cli_imports_appear_without_reload() {
    let db = Db::new();
    // Seed the demo practice through the CLI, and ask the engine what the window must show.
    let seeded = db.run(&["--now", NOW, "demo"]);
    assert_eq!(seeded.code, 0, "{}", seeded.stderr);
    let day = ["--from", "2026-03-04T05:00:00Z", "--to", "2026-03-05T05:00:00Z"];
    let expected = db.run(&[&["--json", "slots", "--provider", RIVERA, "--status", "free"][..], &day[..]].concat()).json();
    let expected = expected.as_array().unwrap().len();
    assert_eq!(expected, 11, "Rivera's Wednesday: 16 half-hour cells 08:00-16:00 EST minus huddle, lunch and visits");

    let (disp, _xvfb) = display();
    let (driver, wd) = launch(&db, &disp, &[]);
    dismiss_staff_picker(&wd);

    // 1. The demo week renders with the engine's count of free slots for Rivera on Wednesday.
    let js = free_count_js(RIVERA, DAY);
    let (count, _) = wd.wait_for("Rivera's Wednesday cell", Duration::from_secs(60), &js, |v| v.is_string());
    assert_eq!(count, json!(expected.to_string()));
    let chips = wd.script(&format!(
        "return document.querySelectorAll('[data-provider=\"{RIVERA}\"][data-day=\"{DAY}\"] [data-slot-id]').length;"
    ));
    assert_eq!(chips, json!(expected));
    let body_text = wd.script("return document.body.innerText;");
    let text = body_text.as_str().unwrap_or_default();
    assert!(text.contains("demo practice"), "the demo practice must be labelled: {text}");
    assert_eq!(wd.script("return !!document.querySelector('#demo-banner');"), json!(true));
    assert!(text.contains("EST"), "Rivera's zone must be labelled: {text}");

    wd.screenshot("desktop-week.png");

    // 2. An import by another process (the CLI) shows up without a reload.
    wd.script("window.__noReloadMarker = 'still here'; return true;");
    let extra = db.dir.path().join("rivera-extra.ics");
    std::fs::write(
        &extra,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VEVENT\r\nUID:e2e-extra@medharmony\r\nDTSTAMP:20260301T000000Z\r\n\
         DTSTART;TZID=America/New_York:20260304T090000\r\nDTEND;TZID=America/New_York:20260304T093000\r\nSUMMARY:Added by the CLI\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let imported = db.run(&["--now", NOW, "import", extra.to_str().unwrap(), "--provider", RIVERA]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let (count, waited) = wd.wait_for("the CLI import to appear", Duration::from_secs(15), &js, |v| *v == json!((expected - 1).to_string()));
    assert_eq!(count, json!((expected - 1).to_string()));
    eprintln!("CLI import appeared in the window after {waited:?}");
    assert_eq!(wd.script("return window.__noReloadMarker || null;"), json!("still here"), "the page was reloaded");

    // 3. Connect a real FHIR server on the Integrations page: its open slots appear in the week, with their source.
    connect_a_fhir_server_on_the_integrations_page(&wd, &db);
    assert_eq!(wd.script("return window.__noReloadMarker || null;"), json!("still here"), "the page was reloaded");

    let _ = ureq::delete(&format!("{}/session/{}", wd.base, wd.session)).call();
    drop(driver);
}

/// Dr. Lena Park's free slots on the real FHIR server, Thursday and Friday of the shown week (New York offsets).
const PARK_SLOTS: [(&str, &str); 4] = [
    ("2026-03-05T09:00:00-05:00", "2026-03-05T09:30:00-05:00"),
    ("2026-03-05T09:30:00-05:00", "2026-03-05T10:00:00-05:00"),
    ("2026-03-05T11:00:00-05:00", "2026-03-05T11:30:00-05:00"),
    ("2026-03-06T14:00:00-05:00", "2026-03-06T14:30:00-05:00"),
];
const PARK: &str = "Dr. Lena Park";
const HARBOR: &str = "Harbor FHIR";

/// Seeds a Practitioner, a Location, their Schedule and [`PARK_SLOTS`].
fn seed_park(fhir: &RealFhirServer) {
    let practitioner = fhir.create(json!({
        "resourceType": "Practitioner", "active": true,
        "name": [{ "use": "official", "text": PARK, "family": "Park", "given": ["Lena"], "prefix": ["Dr."] }]
    }));
    let location = fhir.create(json!({ "resourceType": "Location", "status": "active", "name": "Harbor Clinic" }));
    let schedule = fhir.create(json!({
        "resourceType": "Schedule", "active": true,
        "actor": [
            { "reference": format!("Practitioner/{}", practitioner["id"].as_str().unwrap()), "display": PARK },
            { "reference": format!("Location/{}", location["id"].as_str().unwrap()), "display": "Harbor Clinic" }
        ]
    }));
    for (start, end) in PARK_SLOTS {
        fhir.create(json!({
            "resourceType": "Slot",
            "schedule": { "reference": format!("Schedule/{}", schedule["id"].as_str().unwrap()) },
            "status": "free", "start": start, "end": end
        }));
    }
}

fn connect_a_fhir_server_on_the_integrations_page(wd: &WebDriver, db: &Db) {
    let fhir = RealFhirServer::start();
    seed_park(&fhir);
    // A system connected earlier with the CLI whose server is gone: its card says so in plain words.
    let gone = format!("http://127.0.0.1:{}/fhir/R4", free_port());
    let added = db.run(&[
        "--now",
        NOW,
        "integrations",
        "add",
        "fhir",
        "--name",
        "Old EHR",
        "--base-url",
        &gone,
        "--auth",
        "none",
        "--tz",
        "America/Chicago",
    ]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(db.run(&["--now", NOW, "sync", "--integration", "Old EHR"]).code, 1, "the sync fails");

    wd.click("#tab-integrations");
    let short = Duration::from_secs(10);
    let (problem, _) = wd.wait_for(
        "the Integrations page",
        short,
        "const c = document.querySelector(\"article[data-integration='Old EHR'][data-status='problem'] .card-problem\"); return c ? c.textContent : null;",
        |v| v.is_string(),
    );
    assert_eq!(problem, json!("Could not reach Old EHR: the connection was refused or timed out."));
    assert_eq!(wd.script("return document.querySelector('#main').hidden;"), json!(true), "the week view is hidden");

    // The Connect form for "Other FHIR server": no sign-in, the desk's zone replaced by New York.
    wd.click("[data-connect='fhir']");
    wd.wait_for("the Connect form", short, "return !!document.querySelector('dialog.connect[open] #connect-url');", |v| *v == json!(true));
    assert_eq!(wd.script("return document.querySelector('input[name=auth]:checked').value;"), json!("none"));
    wd.type_into("#connect-name", HARBOR);
    wd.type_into("#connect-url", &fhir.base_url);
    wd.script("const s = document.querySelector('#connect-tz'); s.value = 'America/New_York'; s.dispatchEvent(new Event('change')); return s.value;");
    wd.screenshot("desktop-connect.png");
    wd.click("#connect-submit");

    // The dialog closes on the first sync's result; the card says what it did.
    let card = format!("article[data-integration='{HARBOR}']");
    let (status, waited) = wd.wait_for(
        "the new connection's card",
        Duration::from_secs(20),
        &format!("if (document.querySelector('dialog.connect')) return null; const c = document.querySelector(\"{card}\"); return c ? c.dataset.status : null;"),
        |v| v.is_string(),
    );
    eprintln!("connected and synced in {waited:?}");
    let error = wd.script("const e = document.querySelector('#connect-error'); return e ? e.textContent : null;");
    assert_eq!(status, json!("ok"), "connect error: {error}");
    let text = wd.script(&format!("return document.querySelector(\"{card}\").innerText;"));
    let text = text.as_str().unwrap_or_default();
    for want in ["FHIR server", "Working", "Last synced just now", "No sign-in", "America/New_York", &fhir.base_url] {
        assert!(text.contains(want), "the card must say {want:?}: {text}");
    }
    let counts = wd.script(&format!("return document.querySelector(\"{card} .stats\").getAttribute('aria-label');"));
    assert_eq!(counts, json!("Last sync: 4 added · 0 changed · 0 removed · 0 up to date"));
    wd.wait_for("the success notice", short, "const n = document.querySelector('#notice'); return n ? n.innerText : null;", |v| {
        v.as_str().is_some_and(|t| t.contains("Harbor FHIR is connected") && t.contains("4 open times added"))
    });
    wd.screenshot("desktop-integrations.png");

    // Back to the week: Dr. Park's Thursday has the three synced times, live.
    wd.click("#tab-week");
    let js = free_count_js(PARK, "2026-03-05");
    let (count, _) = wd.wait_for("the synced slots in the week", short, &js, |v| *v == json!("3"));
    assert_eq!(count, json!("3"));
    assert_eq!(wd.script(&free_count_js(PARK, "2026-03-06")), json!("1"));
    wd.script(&format!("document.querySelector(\"[data-provider='{PARK}']\").scrollIntoView({{block: 'center'}}); return true;"));
    wd.screenshot("desktop-week-synced.png");
    // A slot's details name its source, and the footer lists it as a connected system.
    wd.click(&format!("[data-provider='{PARK}'][data-day='2026-03-05'] [data-slot-id]"));
    let (details, _) = wd.wait_for(
        "the slot's details",
        short,
        "const d = document.querySelector('dialog.details[open]'); return d ? d.innerText : null;",
        |v| v.is_string(),
    );
    let details = details.as_str().unwrap_or_default();
    assert!(details.contains(&format!("{HARBOR} · synced from FHIR server")), "{details}");
    assert!(details.contains("Harbor Clinic") && details.contains("9:00"), "{details}");
    wd.script("document.querySelector('dialog.details[open]').close('close'); return true;");
    let footer = wd.script("return document.querySelector('#sources').textContent.replace(/\\s+/g, ' ');");
    assert!(footer.as_str().unwrap_or_default().contains(&format!("{HARBOR} (FHIR server) — synced just now")), "{footer}");

    // A system connected with the CLI while the app runs, and never synced:
    // the app's sync worker picks it up on its own (the schedule is re-read every 5 s).
    let bay = db.run(&["--now", NOW, "integrations", "add", "fhir", "--name", "Bay FHIR", "--base-url", &fhir.base_url, "--auth", "none", "--tz", "America/New_York"]);
    assert_eq!(bay.code, 0, "{}", bay.stderr);
    let (_, waited) = wd.wait_for(
        "the worker's first sync of Bay FHIR",
        Duration::from_secs(30),
        "const t = document.querySelector('#sources').textContent.replace(/\\s+/g, ' '); return t.includes('Bay FHIR (FHIR server) — synced just now') ? t : null;",
        |v| v.is_string(),
    );
    eprintln!("the app's worker synced a new integration after {waited:?}");
}

/// The session bus the app and the test share: the one this test runs in (`scripts/test.sh` runs
/// the tests inside `dbus-run-session`), else a private `dbus-daemon` of its own.
fn session_bus() -> (String, Option<Guard>) {
    if let Ok(a) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        if !a.is_empty() {
            return (a, None);
        }
    }
    let mut child = Command::new(find_tool("dbus-daemon"))
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dbus-daemon");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    (line.trim().to_string(), Some(Guard(child)))
}

/// Watches the freedesktop Notifications interface on the session bus (`dbus-monitor`); the text
/// it printed so far is in the returned buffer.
fn monitor_notifications(bus: &str) -> (Guard, std::sync::Arc<std::sync::Mutex<String>>) {
    let mut child = Command::new(find_tool("dbus-monitor"))
        .args(["--session", "interface='org.freedesktop.Notifications'"])
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dbus-monitor");
    let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (stdout, sink) = (child.stdout.take().unwrap(), out.clone());
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    (Guard(child), out)
}

const MAYA: &str = "Dr. Maya Rivera";

#[test]
fn a_cancellation_notifies_and_the_suggested_patient_is_booked_from_the_window() {
    let db = Db::new();
    let fhir = RealFhirServer::start();
    // Dr. Rivera's Thursday 10:30 (New York): open when first synced, then booked for another
    // patient (the server's free list no longer has it).
    let practitioner = fhir.create(json!({"resourceType": "Practitioner", "name": [{"text": MAYA, "family": "Rivera", "given": ["Maya"], "prefix": ["Dr."]}]}));
    let schedule = fhir.create(json!({
        "resourceType": "Schedule", "active": true,
        "actor": [{"reference": format!("Practitioner/{}", practitioner["id"].as_str().unwrap()), "display": MAYA}]
    }));
    let slot = fhir.create(json!({
        "resourceType": "Slot", "schedule": {"reference": format!("Schedule/{}", schedule["id"].as_str().unwrap())},
        "status": "free", "start": "2026-03-05T10:30:00-05:00", "end": "2026-03-05T11:00:00-05:00"
    }));
    let slot_ref = format!("Slot/{}", slot["id"].as_str().unwrap());
    let other = fhir.create(json!({"resourceType": "Patient", "name": [{"family": "Booked", "given": ["Someone"]}]}));
    let waiting = fhir.create(json!({"resourceType": "Patient", "name": [{"family": "Lee", "given": ["Jordan"]}]}));
    let waiting_id = waiting["id"].as_str().unwrap().to_string();
    let cli = |args: &[&str]| {
        let r = db.run(&[&["--now", NOW][..], args].concat());
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r
    };
    cli(&["integrations", "add", "fhir", "--name", HARBOR, "--base-url", &fhir.base_url, "--auth", "none", "--tz", "America/New_York"]);
    cli(&["sync", "--integration", HARBOR]);
    let appointment = fhir.create(json!({
        "resourceType": "Appointment", "status": "booked", "slot": [{"reference": slot_ref}],
        "start": "2026-03-05T10:30:00-05:00", "end": "2026-03-05T11:00:00-05:00",
        "participant": [{"actor": {"reference": format!("Patient/{}", other["id"].as_str().unwrap())}, "status": "accepted"}]
    }));
    let mut busy = fhir.get(&slot_ref);
    busy["status"] = json!("busy");
    fhir.put(busy);
    cli(&["sync", "--integration", HARBOR]);
    let added = cli(&[
        "--json", "waitlist", "add", "Jordan Lee", "--tz", "America/New_York", "--phone", "555-0142", "--priority", "urgent",
        "--patient-id", &format!("{HARBOR}={waiting_id}"), "--added", "2026-02-01T15:00:00Z",
    ])
    .json();
    let patient = added["id"].as_i64().expect("waitlist id");
    // Someone who never comes on Thursdays does not fit.
    cli(&["waitlist", "add", "Sam Never Thursday", "--tz", "America/New_York", "--blocked-weekdays", "Thu", "--patient-id", &format!("{HARBOR}=x")]);

    let (disp, _xvfb) = display();
    let (bus, _bus) = session_bus();
    let (_monitor, seen) = monitor_notifications(&bus);
    let (driver, wd) = launch(&db, &disp, &[("DBUS_SESSION_BUS_ADDRESS", bus.clone())]);
    // Who is at the desk, asked at start.
    wd.wait_for("the staff picker", Duration::from_secs(60), "return !!document.querySelector('dialog.staff-picker[open]');", |v| *v == json!(true));
    wd.type_into("#staff-name", "Maria Front Desk");
    wd.click("#staff-start");
    wd.wait_for("the picker to close", Duration::from_secs(10), "return !document.querySelector('dialog.staff-picker[open]');", |v| *v == json!(true));

    // The patient cancels at the source; the next sync (another program) brings the change.
    let mut cancelled = appointment.clone();
    cancelled["status"] = json!("cancelled");
    fhir.put(cancelled);
    let mut freed = fhir.get(&slot_ref);
    freed["status"] = json!("free");
    fhir.put(freed);
    cli(&["sync", "--integration", HARBOR]);
    let synced = Instant::now();
    let summary = format!("{MAYA}, Thu Mar 5, 10:30 AM opened — 1 waitlisted patient fits");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.lock().unwrap().contains(&summary) {
        assert!(Instant::now() < deadline, "no notification {summary:?} on the session bus; saw:\n{}", seen.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("the opening's notification was sent {:?} after the sync finished", synced.elapsed());
    let text = seen.lock().unwrap().clone();
    assert!(text.contains("member=Notify"), "{text}");
    assert!(!text.contains("Jordan") && !text.contains("555-0142"), "no patient detail in a notification: {text}");

    // A click on the notification (dunst's default action) opens the window on the time.
    let clicked = Command::new(find_tool("dunstctl")).arg("action").env("DBUS_SESSION_BUS_ADDRESS", &bus).env("DISPLAY", &disp).status();
    assert!(clicked.is_ok_and(|s| s.success()), "dunstctl action");
    let short = Duration::from_secs(20);
    let suggestion = format!("[data-suggestion-patient='{patient}']");
    let (panel, waited) = wd.wait_for(
        "the suggestions for the time",
        short,
        &format!("const p = document.querySelector('#fill-panel'); return p && p.querySelector(\"{suggestion}\") ? p.innerText : null;"),
        |v| v.is_string(),
    );
    eprintln!("suggestions shown {waited:?} after the click");
    let panel = panel.as_str().unwrap_or_default();
    assert!(panel.contains("Jordan Lee") && panel.contains("555-0142"), "{panel}");
    assert!(panel.contains("10:30"), "{panel}");
    assert!(!panel.contains("Sam Never Thursday"), "{panel}");
    assert_eq!(wd.script("return document.querySelector('#openings').hidden;"), json!(false), "the Openings page is shown");
    wd.screenshot("desktop-openings.png");

    // Offer (held while staff call), then Book: the booking lands in the source system.
    wd.click(&format!("{suggestion} button[data-action='offer']"));
    wd.wait_for("the hold", short, "return !!document.querySelector('#hold-box #book-offer');", |v| *v == json!(true));
    wd.click("#book-offer");
    let (booked, _) = wd.wait_for("the booking", short, "const b = document.querySelector('#booked-box'); return b ? b.innerText : null;", |v| v.is_string());
    assert!(booked.as_str().unwrap_or_default().contains("Booked Jordan Lee"), "{booked}");
    wd.screenshot("desktop-booked.png");
    let found = fhir.get(&format!("Appointment?slot={slot_ref}&status=booked"));
    let entries = found["entry"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "one active appointment on the slot: {found}");
    let booked = &entries[0]["resource"];
    let who: Vec<&str> = booked["participant"].as_array().unwrap().iter().filter_map(|p| p["actor"]["reference"].as_str()).collect();
    assert!(who.contains(&format!("Patient/{waiting_id}").as_str()), "{booked}");
    assert_eq!(fhir.get(&slot_ref)["status"], "busy");
    // The audit names the staff member chosen at start.
    let audit = cli(&["--json", "audit"]).json();
    let acts: Vec<(&str, &str)> = audit.as_array().unwrap().iter().filter(|a| a["action"] != "view").map(|a| (a["action"].as_str().unwrap(), a["staff"].as_str().unwrap())).collect();
    assert_eq!(acts, [("offer", "Maria Front Desk"), ("book", "Maria Front Desk")]);

    let _ = ureq::delete(&format!("{}/session/{}", wd.base, wd.session)).call();
    drop(driver);
}
