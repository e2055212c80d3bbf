//! No secret anywhere but the OS keychain (issue requirement: "a test that searches the
//! database file, the logs and the config for every secret used in the tests and finds none").
//!
//! One end-to-end run of the built `medharmony` CLI with the real OS keychain connects four
//! systems with distinctive secrets, each through its real sign-in:
//! * Oracle Health (FHIR) with a client secret on standard input, against a wiremock fake whose
//!   SMART configuration names a token endpoint that wants the secret over HTTP Basic and issues
//!   a distinctive access token, and whose Slot search answers only that bearer token;
//! * athenahealth with a client secret on standard input, against a wiremock fake of
//!   `POST /oauth2/v1/token` (HTTP Basic) and the open-slots, department and provider
//!   endpoints (payloads from `fixtures/athena/`), answering only its bearer token;
//! * CalDAV against a real Radicale with HTTP Basic and the app password on standard input;
//! * FHIR with SMART Backend Services and the private key `fixtures/keys/test-rs384.pem`;
//!
//! then makes a webhook secret for one of them, syncs (`sync --json`), runs `serve` briefly and
//! delivers one event signed with that webhook secret, lists (`integrations list --json`,
//! `sources`, `slots`) and removes the four integrations. Every child runs with
//! `MEDHARMONY_LOG=trace` (the variable the binary's tracing filter reads) and with HOME and
//! the XDG folders pointed at a temporary folder.
//!
//! Searched for every secret (the client secrets, the app password, the HTTP Basic
//! credentials built from them, the access tokens the fakes issued, the client assertions the
//! CLI signed, the webhook secret, every line of the private key's body and its PEM header):
//! the raw bytes of every file in the database's folder (database, `-wal`, `-shm`, …) and under
//! the temporary HOME; every cell of every table of the decrypted database (opened with
//! SQLCipher and the test key); everything every run wrote to stdout and stderr, except the one
//! place a secret is meant to be shown: `integrations webhook-secret`'s stdout. None may be
//! found. So that the search cannot pass vacuously, the test also checks that the secrets are
//! in the keychain, that the fakes received them (Basic and Bearer headers), that every sync
//! was complete, that the decrypted dump does hold the integrations' settings, and that
//! removing the integrations empties their keychain entries.
//!
//! Needs the OS keychain (`MEDHARMONY_REQUIRE_KEYCHAIN=1`, inside a D-Bus session with an
//! unlocked Secret Service) and Radicale; skips otherwise.

use crate::fake::{no_keychain, unique_name};
use crate::fake::{fhir_json, Fake};
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use medharmony::auth::Secrets;
use medharmony::store::key::{DatabaseVault, OsKeychain};
use medharmony_e2e::radicale::{self, Radicale};
use medharmony_e2e::{fixture, Db, Run, TEST_KEY};
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, ResponseTemplate};

const NOW: &str = "2026-03-01T12:00:00Z";
const FROM: &str = "2026-03-01T00:00:00Z";
const TO: &str = "2026-03-15T00:00:00Z";

const ORACLE_CLIENT: &str = "desk-oracle-client-41";
const ORACLE_SECRET: &str = "sekret-oracle-7QxW2pLm9Rt4";
const ORACLE_TOKEN: &str = "tok-oracle-Zm4Px8Wc2Lq6Ae";
const ATHENA_CLIENT: &str = "desk-athena-client-52";
const ATHENA_SECRET: &str = "sekret-athena-K8vN3zYq5Hd1";
const ATHENA_TOKEN: &str = "tok-athena-Hy7Rb3Nd9Ks5Ui";
const BACKEND_CLIENT: &str = "desk-backend-client-63";
const BACKEND_TOKEN: &str = "tok-backend-Vf6Gt1Jw8Mx3Eo";


fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Removes the integrations' keychain entries when the test ends, even on a failed assertion.
struct Forget(Vec<String>, PathBuf);

impl Drop for Forget {
    fn drop(&mut self) {
        let vault = DatabaseVault::new(OsKeychain, &self.1);
        for name in &self.0 {
            let _ = Secrets::new(&vault).forget_integration(name);
        }
    }
}

/// Runs the CLI on the test database with trace logging and a temporary HOME / XDG folders
/// (the D-Bus session address is kept, so the keychain still works), and keeps every output.
struct Cli<'a> {
    db: &'a Db,
    home: &'a Path,
    /// `(what ran, its output, whether its stdout may show the webhook secret)`.
    runs: RefCell<Vec<(String, Run, bool)>>,
}

impl Cli<'_> {
    fn cmd(&self) -> Command {
        let mut c = self.db.cmd();
        let h = self.home;
        c.env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join(".config"))
            .env("XDG_DATA_HOME", h.join(".local/share"))
            .env("XDG_STATE_HOME", h.join(".local/state"))
            .env("XDG_CACHE_HOME", h.join(".cache"))
            .env("MEDHARMONY_LOG", "trace")
            .env("RUST_LOG", "trace")
            .env("NO_COLOR", "1");
        c
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>, shows_webhook_secret: bool) -> Run {
        let mut child = self.cmd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        {
            let mut input = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                input.write_all(format!("{s}\n").as_bytes()).unwrap();
            }
        }
        let run: Run = child.wait_with_output().unwrap().into();
        self.runs.borrow_mut().push((format!("`medharmony {}`", args.join(" ")), clone_run(&run), shows_webhook_secret));
        run
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, false)
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let r = self.run_with(args, stdin, false);
        assert_eq!(r.code, 0, "{args:?}\nstdout: {}\nstderr (tail): {}", r.stdout, tail(&r.stderr));
        r
    }
}

fn clone_run(r: &Run) -> Run {
    Run { code: r.code, stdout: r.stdout.clone(), stderr: r.stderr.clone() }
}

/// The last lines of a (trace-level) stderr, for failure messages.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn contains(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && hay.windows(n.len()).any(|w| w == n)
}

/// Every file under `dir` (recursively).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every cell of every table of the decrypted database, as `(table.column, bytes)`, plus the schema.
fn decrypted_cells(db: &Path) -> Vec<(String, Vec<u8>)> {
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open(db).unwrap();
    // A raw key, as the CLI applies it (store::key::DbKey::pragma_value).
    conn.execute_batch(&format!("PRAGMA key = \"x'{TEST_KEY}'\";")).unwrap();
    let mut cells = Vec::new();
    let tables: Vec<(String, String)> = {
        let mut stmt = conn.prepare("SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'table'").unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert!(tables.iter().any(|(t, _)| t == "integrations"), "the decrypted database has its tables: {tables:?}");
    for (table, sql) in tables {
        cells.push((format!("the schema of {table}"), sql.into_bytes()));
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{}\"", table.replace('"', "\"\""))).unwrap();
        let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, col) in columns.iter().enumerate() {
                let bytes = match row.get_ref(i).unwrap() {
                    ValueRef::Null => continue,
                    ValueRef::Integer(n) => n.to_string().into_bytes(),
                    ValueRef::Real(x) => x.to_string().into_bytes(),
                    ValueRef::Text(t) | ValueRef::Blob(t) => t.to_vec(),
                };
                cells.push((format!("table {table}, column {col}"), bytes));
            }
        }
    }
    cells
}

fn slot(id: &str, start: &str, end: &str) -> Value {
    json!({
        "resourceType": "Slot", "id": id, "meta": { "versionId": "1" },
        "serviceType": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "124", "display": "General Practice" }] }],
        "schedule": { "reference": "Schedule/rivera" }, "status": "free", "start": start, "end": end
    })
}

fn searchset(slots: Vec<Value>) -> Value {
    let schedule = json!({
        "resourceType": "Schedule", "id": "rivera", "active": true,
        "actor": [{ "reference": "Practitioner/p1", "display": "Dr. Ana Rivera" }, { "reference": "Location/main-st", "display": "Main St Clinic" }]
    });
    let n = slots.len();
    let mut entries: Vec<Value> = slots.into_iter().map(|r| json!({ "resource": r, "search": { "mode": "match" } })).collect();
    entries.push(json!({ "resource": schedule, "search": { "mode": "include" } }));
    json!({ "resourceType": "Bundle", "type": "searchset", "total": n, "link": [{ "relation": "self", "url": "self" }], "entry": entries })
}

/// A FHIR server (`/r4`) whose SMART configuration names `/token`, whose token endpoint answers
/// `token_request` (other requests get 401 `invalid_client`) with `access_token`, and whose Slot
/// search answers only `Bearer access_token` (anything else: 401).
fn fhir_fake(token_request: wiremock::MockBuilder, access_token: &str, slots: Vec<Value>) -> Fake {
    let fake = Fake::start();
    let token_url = format!("{}/token", fake.uri());
    fake.mount(Mock::given(method("GET")).and(path("/r4/.well-known/smart-configuration")).respond_with(
        ResponseTemplate::new(200).set_body_json(json!({
            "token_endpoint": token_url,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384"],
            "grant_types_supported": ["client_credentials"],
            "capabilities": ["client-confidential-symmetric", "client-confidential-asymmetric"]
        })),
    ));
    fake.mount(
        token_request
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": 570, "scope": "system/Slot.read" }),
            ))
            .with_priority(1),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "error": "invalid_client" })))
            .with_priority(2),
    );
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/r4/Slot"))
            .and(header("Authorization", format!("Bearer {access_token}").as_str()))
            .respond_with(fhir_json(searchset(slots)))
            .with_priority(1),
    );
    fake.mount(Mock::given(method("GET")).and(path("/r4/Slot")).respond_with(ResponseTemplate::new(401)).with_priority(2));
    fake
}

fn athena_fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("athena/{name}.json"))).unwrap()).unwrap()
}

/// athenahealth (`fixtures/athena/`): the token over HTTP Basic with [`ATHENA_SECRET`] gives
/// [`ATHENA_TOKEN`]; department 1, provider 71 and the open slots answer only that bearer token.
fn athena_fake() -> Fake {
    let fake = Fake::start();
    let json = |v: Value| ResponseTemplate::new(200).set_body_raw(v.to_string(), "application/json");
    let mut token = athena_fixture("token");
    token["access_token"] = json!(ATHENA_TOKEN);
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/oauth2/v1/token"))
            .and(header("Authorization", format!("Basic {}", basic(ATHENA_CLIENT, ATHENA_SECRET)).as_str()))
            .respond_with(json(token))
            .with_priority(1),
    );
    // One page: the second page of the fixture without its `previous` link.
    let mut open = athena_fixture("open-page-2");
    open.as_object_mut().unwrap().remove("previous");
    open["totalcount"] = json!(2);
    let bearer = format!("Bearer {ATHENA_TOKEN}");
    for (p, body) in [
        ("/v1/195900/departments/1", athena_fixture("department")),
        ("/v1/195900/providers/71", athena_fixture("provider")),
        ("/v1/195900/appointments/open", open),
    ] {
        let answer = Mock::given(method("GET")).and(path(p)).and(header("Authorization", bearer.as_str()));
        fake.mount(answer.respond_with(json(body)).with_priority(1));
    }
    fake.mount(
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "error": "invalid_token" })))
            .with_priority(5),
    );
    fake
}

/// The `Authorization` headers `fake` received on `p`.
fn authorizations(fake: &Fake, p: &str) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.url.path() == p)
        .map(|r| r.headers.get("authorization").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default())
        .collect()
}

#[test]
fn no_secret_is_found_in_the_database_files_the_config_or_the_logs() {
    if no_keychain() {
        return;
    }
    let Some(dav) = Radicale::start() else { return };
    let started = Instant::now();
    let calendar = dav.mkcalendar("rivera/clinic/", "Clinic", &["VEVENT"]);
    let busy = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//MedHarmony tests//EN\r\nBEGIN:VEVENT\r\n\
                UID:busy-1@medharmony.test\r\nDTSTAMP:20260301T000000Z\r\nDTSTART:20260304T140000Z\r\n\
                DTEND:20260304T150000Z\r\nSUMMARY:Blocked\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(dav.put_event(&calendar, "busy-1.ics", busy), 201);

    let oracle = fhir_fake(
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(header("Authorization", format!("Basic {}", basic(ORACLE_CLIENT, ORACLE_SECRET)).as_str()))
            .and(body_string_contains("grant_type=client_credentials")),
        ORACLE_TOKEN,
        vec![slot("o1", "2026-03-04T09:00:00-06:00", "2026-03-04T09:30:00-06:00")],
    );
    let backend = fhir_fake(
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"))
            .and(body_string_contains("client_assertion=")),
        BACKEND_TOKEN,
        vec![slot("b1", "2026-03-05T09:00:00-05:00", "2026-03-05T09:30:00-05:00")],
    );
    let athena = athena_fake();

    let db = Db::new();
    let home = tempfile::tempdir().unwrap();
    let cli = Cli { db: &db, home: home.path(), runs: RefCell::default() };
    let (n_oracle, n_athena, n_caldav, n_backend) =
        (unique_name("Secrets Oracle"), unique_name("Secrets athena"), unique_name("Secrets CalDAV"), unique_name("Secrets Backend"));
    let _forget = Forget(vec![n_oracle.clone(), n_athena.clone(), n_caldav.clone(), n_backend.clone()], db.path.clone());
    let key_file = fixture("keys/test-rs384.pem");
    let pem = std::fs::read_to_string(&key_file).unwrap();

    // ---- Connect the four systems through the CLI, secrets on standard input or in a key file.
    let oracle_base = oracle.base();
    cli.ok(
        &[
            "--now", NOW, "integrations", "add", "oracle-health", "--name", &n_oracle, "--base-url", &oracle_base, "--auth", "backend",
            "--client-id", ORACLE_CLIENT, "--client-secret-stdin", "--tz", "America/Chicago", "--service-type",
            "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/codeSet/14249|4047611",
        ],
        Some(ORACLE_SECRET),
    );
    let athena_base = athena.uri();
    cli.ok(
        &[
            "--now", NOW, "integrations", "add", "athena", "--name", &n_athena, "--base-url", &athena_base, "--auth", "backend",
            "--client-id", ATHENA_CLIENT, "--client-secret-stdin", "--practice-id", "195900", "--department-id", "1",
            "--appointment-type-id", "82", "--tz", "America/New_York",
        ],
        Some(ATHENA_SECRET),
    );
    let calendar_arg = format!("{calendar}|Dr. Rivera|Mon-Fri 08:00-17:00|30");
    cli.ok(
        &[
            "--now", NOW, "integrations", "add", "caldav", "--name", &n_caldav, "--base-url", &dav.base_url, "--auth", "basic",
            "--username", radicale::USER, "--password-stdin", "--calendar", &calendar_arg, "--tz", "America/New_York",
        ],
        Some(radicale::PASSWORD),
    );
    let backend_base = backend.base();
    cli.ok(
        &[
            "--now", NOW, "integrations", "add", "fhir", "--name", &n_backend, "--base-url", &backend_base, "--auth", "backend",
            "--client-id", BACKEND_CLIENT, "--key-file", key_file.to_str().unwrap(), "--tz", "America/New_York",
        ],
        None,
    );
    let made = cli.run_with(&["integrations", "webhook-secret", &n_oracle], None, true);
    assert_eq!(made.code, 0, "{}", tail(&made.stderr));
    let webhook_secret = made.stdout.trim().to_string();
    assert!(webhook_secret.len() >= 32 && !webhook_secret.contains(char::is_whitespace), "{:?}", made.stdout);

    // The secrets are in the keychain (so the search below looks for what was really kept).
    let vault = DatabaseVault::new(OsKeychain, &db.path);
    let secrets = Secrets::new(&vault);
    assert_eq!(secrets.load_client_secret(&n_oracle).unwrap().as_deref(), Some(ORACLE_SECRET));
    assert_eq!(secrets.load_client_secret(&n_athena).unwrap().as_deref(), Some(ATHENA_SECRET));
    assert_eq!(secrets.load_password(&n_caldav).unwrap().as_deref(), Some(radicale::PASSWORD));
    assert_eq!(secrets.load_private_key(&n_backend).unwrap().as_deref(), Some(pem.as_str()));
    assert_eq!(secrets.load_webhook_secret(&n_oracle).unwrap().as_deref(), Some(webhook_secret.as_str()));

    // ---- Sync: every system signs in with its secret and is read completely.
    let sync = cli.run(&["--now", NOW, "--json", "sync", "--from", FROM, "--to", TO]);
    assert_eq!(sync.code, 0, "stdout: {}\nstderr: {}", sync.stdout, tail(&sync.stderr));
    let reports = sync.json();
    let summary: Vec<(String, String, u64, bool, bool)> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("integration"), s("kind"), r["added"].as_u64().unwrap(), r["complete"].as_bool().unwrap(), r["failed"].as_bool().unwrap())
        })
        .collect();
    let mut want = vec![
        (n_oracle.clone(), "oracle-health".to_string(), 1, true, false),
        (n_athena.clone(), "athena".to_string(), 2, true, false),
        // Mon–Fri 2–6 and 9–13 March, 08:00–17:00 in 30-minute slots, less the busy hour on 4 March.
        (n_caldav.clone(), "caldav".to_string(), 10 * 18 - 2, true, false),
        (n_backend.clone(), "fhir".to_string(), 1, true, false),
    ];
    want.sort();
    let mut got = summary.clone();
    got.sort();
    assert_eq!(got, want, "{reports}");
    // The fakes received the secrets and the tokens they issued.
    assert_eq!(authorizations(&oracle, "/token"), [format!("Basic {}", basic(ORACLE_CLIENT, ORACLE_SECRET))]);
    assert_eq!(authorizations(&oracle, "/r4/Slot"), [format!("Bearer {ORACLE_TOKEN}")]);
    // Once when connecting (athenahealth's client ID and secret are checked then), once for the sync.
    assert_eq!(authorizations(&athena, "/oauth2/v1/token"), vec![format!("Basic {}", basic(ATHENA_CLIENT, ATHENA_SECRET)); 2]);
    assert_eq!(authorizations(&athena, "/v1/195900/appointments/open"), [format!("Bearer {ATHENA_TOKEN}")]);
    assert_eq!(authorizations(&backend, "/r4/Slot"), [format!("Bearer {BACKEND_TOKEN}")]);
    let assertions_after_sync = backend.requests().iter().filter(|r| r.url.path() == "/token").count();
    assert_eq!(assertions_after_sync, 1);

    // ---- `serve` briefly: its worker syncs, and it takes one event signed with the webhook secret.
    serve_and_deliver(&cli, &n_oracle, &webhook_secret, &[&n_oracle, &n_athena, &n_caldav, &n_backend]);

    let list = cli.ok(&["--json", "integrations", "list"], None);
    assert_eq!(list.json().as_array().unwrap().len(), 4, "{}", list.stdout);
    cli.ok(&["--json", "sources"], None);
    cli.ok(&["--json", "slots", "--from", FROM, "--to", TO], None);

    // ---- Everything to look for.
    let mut needles: Vec<(String, String)> = vec![
        ("the Oracle Health client secret".into(), ORACLE_SECRET.into()),
        ("the athenahealth client secret".into(), ATHENA_SECRET.into()),
        ("the CalDAV app password".into(), radicale::PASSWORD.into()),
        ("the Oracle Health Basic credentials".into(), basic(ORACLE_CLIENT, ORACLE_SECRET)),
        ("the athenahealth Basic credentials".into(), basic(ATHENA_CLIENT, ATHENA_SECRET)),
        ("the CalDAV Basic credentials".into(), basic(radicale::USER, radicale::PASSWORD)),
        ("the Oracle Health access token".into(), ORACLE_TOKEN.into()),
        ("the athenahealth access token".into(), ATHENA_TOKEN.into()),
        ("the backend access token".into(), BACKEND_TOKEN.into()),
        ("the webhook secret".into(), webhook_secret.clone()),
        ("the private key's PEM header".into(), "PRIVATE KEY".into()),
    ];
    let body_lines: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----") && l.len() >= 40).collect();
    assert!(body_lines.len() > 10, "the fixture key has a body");
    for (i, l) in body_lines.iter().enumerate() {
        needles.push((format!("line {} of the private key", i + 1), l.to_string()));
    }
    let assertions: Vec<String> = backend
        .requests()
        .iter()
        .filter(|r| r.url.path() == "/token")
        .flat_map(|r| url::form_urlencoded::parse(&r.body).into_owned().collect::<Vec<_>>())
        .filter(|(k, _)| k == "client_assertion")
        .map(|(_, v)| v)
        .collect();
    assert!(assertions.len() >= assertions_after_sync, "the client assertions the CLI signed: {assertions:?}");
    for (i, a) in assertions.iter().enumerate() {
        needles.push((format!("client assertion {}", i + 1), a.clone()));
        needles.push((format!("the signature of client assertion {}", i + 1), a.rsplit('.').next().unwrap().to_string()));
    }

    let mut found: Vec<String> = Vec::new();
    let mut search = |place: &str, hay: &[u8]| {
        for (what, needle) in &needles {
            if contains(hay, needle) {
                found.push(format!("{what} is in {place}"));
            }
        }
    };

    // ---- The database's folder and the temporary HOME, byte for byte.
    let files: Vec<PathBuf> = files_under(db.dir.path()).into_iter().chain(files_under(home.path())).collect();
    assert!(files.contains(&db.path), "the database file is searched: {files:?}");
    for f in &files {
        search(&format!("the file {}", f.display()), &std::fs::read(f).unwrap());
    }

    // ---- The decrypted database: every cell of every table (after the CLI runs have all ended).
    let cells = decrypted_cells(&db.path);
    let all: Vec<u8> = cells.iter().flat_map(|(_, b)| b.iter().copied().chain([b'\n'])).collect();
    for expected in [ORACLE_CLIENT, ATHENA_CLIENT, BACKEND_CLIENT, &calendar, n_caldav.as_str(), radicale::USER] {
        assert!(contains(&all, expected), "the decrypted database holds the settings ({expected}), so the dump is real");
    }
    for (place, bytes) in &cells {
        search(&format!("the decrypted database ({place})"), bytes);
    }

    // ---- Disconnect: the keychain entries go.
    for n in [&n_oracle, &n_athena, &n_caldav, &n_backend] {
        cli.ok(&["--now", NOW, "integrations", "remove", n], None);
    }
    assert_eq!(secrets.load_client_secret(&n_oracle).unwrap(), None);
    assert_eq!(secrets.load_webhook_secret(&n_oracle).unwrap(), None);
    assert_eq!(secrets.load_client_secret(&n_athena).unwrap(), None);
    assert_eq!(secrets.load_password(&n_caldav).unwrap(), None);
    assert_eq!(secrets.load_private_key(&n_backend).unwrap(), None);

    // ---- The logs: every run's stdout and stderr (at trace level), except webhook-secret's own stdout.
    let runs = cli.runs.borrow();
    let mut log_bytes = 0;
    for (what, run, shows_webhook_secret) in runs.iter() {
        log_bytes += run.stderr.len();
        if !shows_webhook_secret {
            search(&format!("the stdout of {what}"), run.stdout.as_bytes());
        }
        search(&format!("the stderr of {what}"), run.stderr.as_bytes());
    }
    assert!(log_bytes > 10_000, "the runs logged at trace level ({log_bytes} bytes of stderr)");
    drop(runs);
    // And the files once more, after the removals.
    for f in files_under(db.dir.path()).into_iter().chain(files_under(home.path())) {
        search(&format!("the file {} (after removing the integrations)", f.display()), &std::fs::read(&f).unwrap());
    }
    assert!(found.is_empty(), "secrets found outside the keychain:\n{}", found.join("\n"));
    eprintln!(
        "searched {} secrets in {} files ({files:?}), {} database cells and {log_bytes} bytes of logs; took {:?}",
        needles.len(),
        files.len(),
        cells.len(),
        started.elapsed()
    );
}

/// Runs `serve --webhook-listen 127.0.0.1:0` until it has synced and applied one event signed
/// with `secret` for `name` (and refused one signed with another secret); records its output.
/// Waits for the worker's sync report of each of `synced`.
fn serve_and_deliver(cli: &Cli, name: &str, secret: &str, synced: &[&str]) {
    let mut serve =
        cli.cmd().args(["serve", "--webhook-listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
    let (err, out) = (serve.stderr.take().unwrap(), serve.stdout.take().unwrap());
    let tx2 = tx.clone();
    let readers = [
        std::thread::spawn(move || BufReader::new(err).lines().map_while(Result::ok).for_each(|l| drop(tx2.send((false, l))))),
        std::thread::spawn(move || BufReader::new(out).lines().map_while(Result::ok).for_each(|l| drop(tx.send((true, l))))),
    ];
    let mut seen = Run { code: -1, stdout: String::new(), stderr: String::new() };
    // Reads lines until `want(stdout so far, stderr so far)` (the worker's syncs and the webhook run concurrently).
    let wait_for = |want: &dyn Fn(&str, &str) -> bool, seen: &mut Run| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !want(&seen.stdout, &seen.stderr) {
            let (is_out, l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).unwrap_or_else(|_| {
                panic!("serve did not print the expected lines; stdout: {}\nstderr (tail): {}", seen.stdout, tail(&seen.stderr))
            });
            let buf = if is_out { &mut seen.stdout } else { &mut seen.stderr };
            buf.push_str(&l);
            buf.push('\n');
        }
    };
    const BANNER: &str = "Receiving webhooks at http://";
    wait_for(&|_, err| err.lines().any(|l| l.starts_with(BANNER)), &mut seen);
    let banner = seen.stderr.lines().find(|l| l.starts_with(BANNER)).unwrap();
    let addr = banner.trim_start_matches(BANNER).split('/').next().unwrap().to_string();
    let path = medharmony::webhook::path_for(name);
    let now = chrono::Utc::now();
    let event = json!({
        "id": "secrets-1", "type": "APPOINTMENT.BOOKED", "occurred_at": now.to_rfc3339(), "integration": name,
        "data": { "slot_id": "s-91", "start": "2026-03-03T09:00:00-05:00", "end": "2026-03-03T09:30:00-05:00", "provider": "Dr. Ana Rivera" }
    })
    .to_string();
    let post = |key: &str| -> u16 {
        let sig = medharmony::webhook::sign(key, now.timestamp(), event.as_bytes());
        let r = ureq::post(&format!("http://{addr}{path}"))
            .timeout(Duration::from_secs(10))
            .set("Content-Type", "application/json")
            .set("X-MedHarmony-Timestamp", &now.timestamp().to_string())
            .set("X-MedHarmony-Signature", &sig)
            .send_string(&event);
        match r {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(s, _)) => s,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(post(secret), 202);
    let applied = format!("{name}: APPOINTMENT.BOOKED applied");
    wait_for(&|out, _| out.lines().any(|l| l.ends_with(&applied)), &mut seen);
    assert_eq!(post("another-secret-entirely"), 401);
    // The worker's first round of syncs: each integration reports one line on stdout, complete (signed in).
    let report = |out: &str, n: &str| out.lines().find(|l| l.contains(&format!(" {n}: ")) && l.contains(" added, ")).map(String::from);
    wait_for(&|out, _| synced.iter().all(|n| report(out, n).is_some()), &mut seen);
    for n in synced {
        let line = report(&seen.stdout, n).unwrap();
        assert!(line.contains("; complete"), "{line}");
    }
    assert!(Command::new("kill").args(["-TERM", &serve.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = serve.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    for r in readers {
        r.join().unwrap();
    }
    while let Ok((is_out, l)) = rx.try_recv() {
        let buf = if is_out { &mut seen.stdout } else { &mut seen.stderr };
        buf.push_str(&l);
        buf.push('\n');
    }
    seen.code = code.unwrap_or(-1);
    assert_eq!(seen.code, 0, "{}", tail(&seen.stderr));
    cli.runs.borrow_mut().push(("`medharmony serve`".into(), seen, false));
}
