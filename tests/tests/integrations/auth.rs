//! Authorization against HTTP-level fakes (wiremock): discovery, SMART Backend Services with a
//! token endpoint that verifies the JWT assertion's signature and every claim, client secret over
//! HTTP Basic, the browser sign-in over the loopback redirect (the test plays the browser), and
//! token renewal (refresh-token rotation, `invalid_grant`, forced refresh).
//!
//! wiremock's MockServer runs on a tokio runtime's threads; the blocking code under test runs on
//! the test thread (or a thread the test spawns).

use medharmony::store::key::MemoryVault as TestVault;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use medharmony::auth::{discover, token_source, AuthConfig, AuthError, LoopbackLogin, Secrets, SigningKey};
use medharmony_e2e::fixture;
use serde_json::json;
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Thumbprints (RFC 7638) of the fixture keys, as recorded in fixtures/keys/README.md.
const RS_KID: &str = "TwWEUzN_DacYqRd5GhzwDRGJMNwsDrI0Pe8fGEnt-3I";
const ES_KID: &str = "zoBuRFez-eNg0Bi5KRShfrByqCl0a2M_9ZccVJlWtL4";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("tokio runtime")
}

fn key_file(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("keys/{name}"))).expect("fixture key")
}



/// The form parameters of a request body (`application/x-www-form-urlencoded`), decoded.
fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

fn header(request: &Request, name: &str) -> Option<String> {
    request.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn oauth_error(status: u16, code: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": code, "error_description": description}))
}

/// BASE64URL(SHA256(text)) (RFC 7636 §4.2 `S256`), computed with the `sha2` crate.
fn s256(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// A SMART Backend Services token endpoint that verifies the client assertion: header `alg`,
/// `typ`, `kid`; the signature with the registered public key; `iss` = `sub` = client ID; `aud` =
/// its own URL; `exp` in the future and at most 5 minutes ahead; `jti` never seen before; and the
/// form parameters. Anything wrong: HTTP 401 `invalid_client` with the reason as description.
struct AssertionTokenEndpoint {
    url: String,
    client_id: String,
    scope: String,
    alg: Algorithm,
    kid: String,
    public_pem: String,
    seen_jti: Mutex<HashSet<String>>,
    issued: AtomicUsize,
    calls: AtomicUsize,
}

impl AssertionTokenEndpoint {
    fn new(url: String, alg: Algorithm, kid: &str, public_key_file: &str) -> Self {
        AssertionTokenEndpoint {
            url,
            client_id: "desk-backend-7".into(),
            scope: "system/Slot.rs system/Schedule.rs".into(),
            alg,
            kid: kid.into(),
            public_pem: key_file(public_key_file),
            seen_jti: Mutex::new(HashSet::new()),
            issued: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
        }
    }

    fn check(&self, request: &Request) -> Result<(), String> {
        let content_type = header(request, "content-type").unwrap_or_default();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(format!("content type {content_type}"));
        }
        let params = form(request);
        let param = |name: &str| params.get(name).cloned().unwrap_or_default();
        if param("grant_type") != "client_credentials" {
            return Err("grant_type".into());
        }
        if param("scope") != self.scope {
            return Err(format!("scope '{}'", param("scope")));
        }
        if param("client_assertion_type") != ASSERTION_TYPE {
            return Err("client_assertion_type".into());
        }
        if header(request, "authorization").is_some() {
            return Err("unexpected Authorization header".into());
        }
        let jwt = param("client_assertion");
        let head = jsonwebtoken::decode_header(&jwt).map_err(|e| format!("header: {e}"))?;
        if head.alg != self.alg {
            return Err(format!("alg {:?}", head.alg));
        }
        if head.typ.as_deref() != Some("JWT") {
            return Err("typ".into());
        }
        if head.kid.as_deref() != Some(self.kid.as_str()) {
            return Err("unknown kid".into());
        }
        let key = match self.alg {
            Algorithm::RS384 => DecodingKey::from_rsa_pem(self.public_pem.as_bytes()),
            _ => DecodingKey::from_ec_pem(self.public_pem.as_bytes()),
        }
        .map_err(|e| format!("public key: {e}"))?;
        let mut validation = Validation::new(self.alg);
        validation.leeway = 0;
        validation.set_audience(&[self.url.as_str()]);
        validation.set_issuer(&[self.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "signature verification failed".to_string(),
                other => format!("{other:?}"),
            })?
            .claims;
        if claims["sub"] != self.client_id.as_str() {
            return Err("sub".into());
        }
        let exp = claims["exp"].as_i64().ok_or("exp")?;
        let ahead = exp - chrono::Utc::now().timestamp();
        if !(1..=300).contains(&ahead) {
            return Err(format!("exp {ahead} s ahead"));
        }
        let jti = claims["jti"].as_str().ok_or("jti")?.to_string();
        if jti.is_empty() || !self.seen_jti.lock().unwrap().insert(jti) {
            return Err("jti reused".into());
        }
        Ok(())
    }
}

impl Respond for AssertionTokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.check(request) {
            Ok(()) => {
                let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
                ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": format!("backend-at-{n}"), "token_type": "bearer", "expires_in": 300, "scope": self.scope
                }))
            }
            Err(why) => oauth_error(401, "invalid_client", &why),
        }
    }
}

fn backend_config(endpoint: &AssertionTokenEndpoint, kid: Option<&str>) -> AuthConfig {
    AuthConfig::Backend {
        client_id: endpoint.client_id.clone(),
        token_url: endpoint.url.clone(),
        scope: endpoint.scope.clone(),
        kid: kid.map(str::to_string),
    }
}

fn vault_with_key(name: &str, private_key_file: &str) -> Arc<TestVault> {
    let vault = Arc::new(TestVault::default());
    Secrets::new(vault.as_ref()).store_private_key(name, &key_file(private_key_file)).unwrap();
    vault
}

fn backend_round_trip(alg: Algorithm, kid: &str, private_key_file: &str, public_key_file: &str) {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let endpoint = Arc::new(AssertionTokenEndpoint::new(format!("{}/auth/token", server.uri()), alg, kid, public_key_file));
    rt.block_on(Mock::given(method("POST")).and(path("/auth/token")).respond_with(ArcResponder(endpoint.clone())).mount(&server));

    let vault = vault_with_key("Backend Test", private_key_file);
    let mut source = token_source(&backend_config(&endpoint, None), "Backend Test", vault, ureq::Agent::new()).unwrap();
    assert_eq!(source.bearer(false).unwrap().as_deref(), Some("backend-at-1"));
    // 300 s lifetime: reused while more than 60 s are left.
    assert_eq!(source.bearer(false).unwrap().as_deref(), Some("backend-at-1"));
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 1);
    // After a 401 the HTTP layer forces a new token: a new assertion with a new jti.
    assert_eq!(source.bearer(true).unwrap().as_deref(), Some("backend-at-2"));
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), 2);
    assert_eq!(endpoint.seen_jti.lock().unwrap().len(), 2);
}

/// Shares one responder between the mock and the test's assertions.
struct ArcResponder<T>(Arc<T>);

impl<T: Respond> Respond for ArcResponder<T> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

#[test]
fn backend_services_rs384_assertion_is_verified_and_the_token_cached_until_forced() {
    backend_round_trip(Algorithm::RS384, RS_KID, "test-rs384.pem", "test-rs384.pub.pem");
}

#[test]
fn backend_services_es384_assertion_is_verified_and_the_token_cached_until_forced() {
    backend_round_trip(Algorithm::ES384, ES_KID, "test-es384.pem", "test-es384.pub.pem");
}

#[test]
fn an_assertion_signed_with_the_wrong_key_is_refused_in_plain_words() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let endpoint =
        Arc::new(AssertionTokenEndpoint::new(format!("{}/auth/token", server.uri()), Algorithm::RS384, RS_KID, "test-rs384.pub.pem"));
    rt.block_on(Mock::given(method("POST")).and(path("/auth/token")).respond_with(ArcResponder(endpoint.clone())).mount(&server));

    // Another RSA key presented under the registered kid: only the signature is wrong.
    let vault = vault_with_key("Backend Test", "test-other-rs384.pem");
    let mut source = token_source(&backend_config(&endpoint, Some(RS_KID)), "Backend Test", vault, ureq::Agent::new()).unwrap();
    let err = source.bearer(false).unwrap_err();
    assert!(matches!(err, AuthError::Refused { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Backend Test refused MedHarmony Desk's sign-in: it did not accept MedHarmony Desk's client credentials \
         (check the client ID and the key or secret registered with it) (the server said: signature verification failed)"
    );
    assert_eq!(endpoint.issued.load(Ordering::SeqCst), 0);

    // The same wrong key under its own thumbprint is refused for its unknown kid.
    let vault = vault_with_key("Backend Test", "test-other-rs384.pem");
    let mut source = token_source(&backend_config(&endpoint, None), "Backend Test", vault, ureq::Agent::new()).unwrap();
    assert!(source.bearer(false).unwrap_err().to_string().ends_with("(the server said: unknown kid)"));
}

#[test]
fn client_secret_is_sent_over_http_basic() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let expected = format!("Basic {}", STANDARD.encode("f3c1a0e2-system:s3cret-Value_9"));
    rt.block_on(
        Mock::given(method("POST"))
            .and(path("/tenants/t1/token"))
            .respond_with(move |request: &Request| {
                let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                let params = form(request);
                let ok = header(request, "authorization").as_deref() == Some(expected.as_str())
                    && params.get("grant_type").map(String::as_str) == Some("client_credentials")
                    && params.get("scope").map(String::as_str) == Some("system/Slot.read system/Schedule.read")
                    && !params.contains_key("client_secret");
                if ok {
                    // 45 s lifetime: under the 60 s margin, so every bearer() asks again.
                    ResponseTemplate::new(200)
                        .set_body_json(json!({"access_token": format!("oh-at-{n}"), "token_type": "Bearer", "expires_in": 45}))
                } else {
                    oauth_error(401, "invalid_client", "bad credentials")
                }
            })
            .mount(&server),
    );
    let vault = Arc::new(TestVault::default());
    Secrets::new(vault.as_ref()).store_client_secret("Oracle Health", "s3cret-Value_9").unwrap();
    let cfg = AuthConfig::ClientSecret {
        client_id: "f3c1a0e2-system".into(),
        token_url: format!("{}/tenants/t1/token", server.uri()),
        scope: "system/Slot.read system/Schedule.read".into(),
    };
    let mut source = token_source(&cfg, "Oracle Health", vault.clone(), ureq::Agent::new()).unwrap();
    assert_eq!(source.bearer(false).unwrap().as_deref(), Some("oh-at-1"));
    assert_eq!(source.bearer(false).unwrap().as_deref(), Some("oh-at-2"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    Secrets::new(vault.as_ref()).store_client_secret("Oracle Health", "wrong").unwrap();
    let mut source = token_source(&cfg, "Oracle Health", vault, ureq::Agent::new()).unwrap();
    let err = source.bearer(false).unwrap_err().to_string();
    assert!(err.starts_with("Oracle Health refused MedHarmony Desk's sign-in: it did not accept"), "{err}");
    assert!(!err.contains("wrong"), "the secret must not appear in messages: {err}");
}

#[test]
fn discovery_reads_the_smart_configuration_and_explains_failures() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let base = format!("{}/fhir/r4", server.uri());
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/fhir/r4/.well-known/smart-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": format!("{}/auth", server.uri()),
                "authorization_endpoint": format!("{}/auth/authorize", server.uri()),
                "token_endpoint": format!("{}/auth/token", server.uri()),
                "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
                "grant_types_supported": ["authorization_code", "client_credentials"],
                "scopes_supported": ["openid", "fhirUser", "offline_access", "user/Slot.rs", "system/Slot.rs"],
                "response_types_supported": ["code"],
                "capabilities": ["launch-standalone", "client-public", "client-confidential-asymmetric", "permission-v2"],
                "code_challenge_methods_supported": ["S256"]
            })))
            .mount(&server),
    );
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/broken/.well-known/smart-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_raw("<html>maintenance</html>", "text/html"))
            .mount(&server),
    );
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/partial/.well-known/smart-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"capabilities": ["launch-standalone"]})))
            .mount(&server),
    );
    let agent = ureq::Agent::new();
    let cfg = discover(&agent, &format!("{base}/")).unwrap();
    assert_eq!(cfg.token_endpoint, format!("{}/auth/token", server.uri()));
    assert_eq!(cfg.authorization_endpoint, Some(format!("{}/auth/authorize", server.uri())));
    assert_eq!(cfg.code_challenge_methods_supported, ["S256"]);
    assert_eq!(cfg.token_endpoint_auth_methods_supported, ["private_key_jwt", "client_secret_basic"]);
    assert!(cfg.has_capability("launch-standalone") && cfg.has_capability("client-confidential-asymmetric"));
    assert!(cfg.supports_s256());

    let missing = discover(&agent, &format!("{}/nothing", server.uri())).unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!(
            "Could not read the sign-in settings of {}/nothing/.well-known/smart-configuration: the server does not publish \
             SMART sign-in settings there (HTTP 404); check the FHIR address",
            server.uri()
        )
    );
    let broken = discover(&agent, &format!("{}/broken", server.uri())).unwrap_err();
    assert!(broken.to_string().ends_with(": the reply is not JSON"), "{broken}");
    let partial = discover(&agent, &format!("{}/partial", server.uri())).unwrap_err();
    assert!(partial.to_string().ends_with(": the settings name no token endpoint"), "{partial}");
    let unreachable = discover(&agent, "http://127.0.0.1:9/fhir").unwrap_err();
    assert!(unreachable.to_string().contains("the server could not be reached"), "{unreachable}");
}

/// What the fake authorization endpoint saw, and how it answers.
#[derive(Default)]
struct AuthorizeState {
    /// Parameters of the last authorization request.
    params: Mutex<HashMap<String, String>>,
    /// Replaces the `state` in the redirect (a forged reply).
    forged_state: Option<String>,
    /// Redirects with `error=access_denied` instead of a code.
    deny: bool,
}

/// The authorization endpoint: checks the request's shape, remembers its parameters, and
/// redirects the "browser" to the app's redirect URI with a code (or an error) and the state.
struct AuthorizeEndpoint(Arc<AuthorizeState>);

impl Respond for AuthorizeEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let params = query(request);
        let get = |k: &str| params.get(k).cloned().unwrap_or_default();
        if get("response_type") != "code" || get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
            return ResponseTemplate::new(400).set_body_string("bad authorization request");
        }
        let state = self.0.forged_state.clone().unwrap_or_else(|| get("state"));
        let reply = if self.0.deny {
            format!("error=access_denied&error_description=The+user+declined+access&state={state}")
        } else {
            format!("code=auth-code-123&state={state}")
        };
        let location = format!("{}?{reply}", get("redirect_uri"));
        *self.0.params.lock().unwrap() = params;
        ResponseTemplate::new(302).insert_header("Location", location.as_str())
    }
}

const USER_SCOPE: &str = "openid fhirUser offline_access user/Slot.rs user/Schedule.rs user/Appointment.cruds";
const PUBLIC_CLIENT: &str = "desk-public-app";

/// A fake EHR for user sign-in: discovery, authorization endpoint, and a token endpoint that
/// exchanges `auth-code-123` only with the PKCE verifier matching the challenge the
/// authorization endpoint saw (and the same redirect URI).
struct UserEhr {
    /// Keeps the mock server's runtime alive.
    _rt: tokio::runtime::Runtime,
    server: MockServer,
    authorize: Arc<AuthorizeState>,
    token_calls: Arc<AtomicUsize>,
}

impl UserEhr {
    fn start(authorize: AuthorizeState) -> Self {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        let authorize = Arc::new(authorize);
        let token_calls = Arc::new(AtomicUsize::new(0));
        let uri = server.uri();
        rt.block_on(
            Mock::given(method("GET"))
                .and(path("/fhir/.well-known/smart-configuration"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "authorization_endpoint": format!("{uri}/auth/authorize"),
                    "token_endpoint": format!("{uri}/auth/token"),
                    "grant_types_supported": ["authorization_code"],
                    "capabilities": ["launch-standalone", "client-public", "permission-offline"],
                    "code_challenge_methods_supported": ["S256"]
                })))
                .mount(&server),
        );
        rt.block_on(
            Mock::given(method("GET")).and(path("/auth/authorize")).respond_with(AuthorizeEndpoint(authorize.clone())).mount(&server),
        );
        let seen = authorize.clone();
        let calls = token_calls.clone();
        rt.block_on(
            Mock::given(method("POST"))
                .and(path("/auth/token"))
                .respond_with(move |request: &Request| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let params = form(request);
                    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
                    let asked = seen.params.lock().unwrap().clone();
                    let challenge = asked.get("code_challenge").cloned().unwrap_or_default();
                    if get("grant_type") != "authorization_code" || get("code") != "auth-code-123" || get("client_id") != PUBLIC_CLIENT {
                        return oauth_error(400, "invalid_request", "unexpected parameters");
                    }
                    if Some(&get("redirect_uri")) != asked.get("redirect_uri") {
                        return oauth_error(400, "invalid_grant", "redirect_uri differs");
                    }
                    if s256(&get("code_verifier")) != challenge {
                        return oauth_error(400, "invalid_grant", "PKCE verification failed");
                    }
                    ResponseTemplate::new(200).set_body_json(json!({
                        "access_token": "user-at-1", "token_type": "Bearer", "expires_in": 3600,
                        "refresh_token": "user-rt-1", "scope": USER_SCOPE, "id_token": "e30.e30.sig"
                    }))
                })
                .mount(&server),
        );
        UserEhr { _rt: rt, server, authorize, token_calls }
    }

    fn base(&self) -> String {
        format!("{}/fhir", self.server.uri())
    }

    /// Starts a sign-in and waits for it on another thread; returns the authorize URL and the waiter.
    fn begin(
        &self,
        timeout: Duration,
        cancel: Arc<AtomicBool>,
    ) -> (String, String, std::thread::JoinHandle<Result<medharmony::auth::TokenSet, AuthError>>) {
        let cfg = discover(&ureq::Agent::new(), &self.base()).unwrap();
        let login = LoopbackLogin::start_smart(&cfg, PUBLIC_CLIENT, USER_SCOPE, &self.base()).unwrap().with_name("Test EHR");
        let url = login.authorize_url.clone();
        let redirect = login.redirect_uri.clone();
        let waiter = std::thread::spawn(move || login.finish(&ureq::Agent::new(), timeout, &cancel));
        (url, redirect, waiter)
    }
}

/// The test's "browser": opens the URL, follows redirects, returns the final status and page.
fn browse(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("browser could not load {url}: {e}"),
    }
}

#[test]
fn browser_sign_in_over_the_loopback_exchanges_the_code_with_the_pkce_verifier() {
    let ehr = UserEhr::start(AuthorizeState::default());
    let (url, redirect_uri, waiter) = ehr.begin(Duration::from_secs(30), Arc::new(AtomicBool::new(false)));
    let (status, page) = browse(&url);
    assert_eq!(status, 200);
    assert!(page.contains("You can return to MedHarmony Desk"), "{page}");
    let tokens = waiter.join().unwrap().unwrap();
    assert_eq!(tokens.access_token, "user-at-1");
    assert_eq!(tokens.refresh_token.as_deref(), Some("user-rt-1"));
    assert_eq!(tokens.scope.as_deref(), Some(USER_SCOPE));
    let remaining = tokens.expires_at - chrono::Utc::now();
    assert!(remaining > chrono::Duration::seconds(3590) && remaining <= chrono::Duration::seconds(3600), "{remaining}");
    assert_eq!(ehr.token_calls.load(Ordering::SeqCst), 1);

    let asked = ehr.authorize.params.lock().unwrap().clone();
    assert_eq!(asked["client_id"], PUBLIC_CLIENT);
    assert_eq!(asked["scope"], USER_SCOPE);
    assert_eq!(asked["aud"], ehr.base());
    assert_eq!(asked["redirect_uri"], redirect_uri);
    assert!(redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/callback"), "{redirect_uri}");
    assert!(URL_SAFE_NO_PAD.decode(&asked["state"]).unwrap().len() >= 16);
    assert!(!asked.contains_key("launch"));
}

#[test]
fn a_redirect_with_a_wrong_state_is_refused_and_no_token_is_requested() {
    let ehr = UserEhr::start(AuthorizeState { forged_state: Some("forged-state-from-elsewhere".into()), ..Default::default() });
    let (url, _, waiter) = ehr.begin(Duration::from_secs(30), Arc::new(AtomicBool::new(false)));
    let (status, page) = browse(&url);
    assert_eq!(status, 400);
    assert!(page.contains("does not belong to MedHarmony Desk's current sign-in"), "{page}");
    let err = waiter.join().unwrap().unwrap_err();
    assert!(matches!(err, AuthError::StateMismatch), "{err:?}");
    assert_eq!(ehr.token_calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_declined_sign_in_is_reported_in_plain_words() {
    let ehr = UserEhr::start(AuthorizeState { deny: true, ..Default::default() });
    let (url, _, waiter) = ehr.begin(Duration::from_secs(30), Arc::new(AtomicBool::new(false)));
    let (status, page) = browse(&url);
    assert_eq!(status, 200);
    assert!(page.contains("Sign-in was not completed: access was declined."), "{page}");
    assert!(!page.contains("The user declined access"), "server text is not echoed into the page");
    let err = waiter.join().unwrap().unwrap_err();
    assert_eq!(err.to_string(), "Sign-in to Test EHR was not completed: access was declined (the server said: The user declined access)");
    assert_eq!(ehr.token_calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_waiting_sign_in_can_be_cancelled_and_times_out() {
    let ehr = UserEhr::start(AuthorizeState::default());
    let cancel = Arc::new(AtomicBool::new(false));
    let (_, redirect_uri, waiter) = ehr.begin(Duration::from_secs(60), cancel.clone());
    // A stray request (the browser's favicon) is answered and ignored.
    let (status, _) = browse(&redirect_uri.replace("/callback", "/favicon.ico"));
    assert_eq!(status, 404);
    std::thread::sleep(Duration::from_millis(200));
    let asked = Instant::now();
    cancel.store(true, Ordering::SeqCst);
    let err = waiter.join().unwrap().unwrap_err();
    assert!(matches!(err, AuthError::Cancelled), "{err:?}");
    assert!(asked.elapsed() < Duration::from_secs(2), "cancel took {:?}", asked.elapsed());
    assert_eq!(err.to_string(), "Sign-in was cancelled.");

    let (_, _, waiter) = ehr.begin(Duration::from_secs(1), Arc::new(AtomicBool::new(false)));
    let err = waiter.join().unwrap().unwrap_err();
    assert_eq!(err.to_string(), "Sign-in was not completed within 1 second. Try connecting again.");
    assert_eq!(ehr.token_calls.load(Ordering::SeqCst), 0);
}

/// A token endpoint for the refresh-token grant that rotates: each known refresh token yields a
/// new access token and a new refresh token and is then forgotten; anything else is `invalid_grant`.
fn rotating_refresh_endpoint(server: &MockServer, rt: &tokio::runtime::Runtime) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let valid: Mutex<HashMap<String, (String, String)>> = Mutex::new(HashMap::from([
        ("rt-1".to_string(), ("at-1".to_string(), "rt-2".to_string())),
        ("rt-2".to_string(), ("at-2".to_string(), "rt-3".to_string())),
    ]));
    rt.block_on(
        Mock::given(method("POST"))
            .and(path("/oauth2/token"))
            .respond_with(move |request: &Request| {
                seen.fetch_add(1, Ordering::SeqCst);
                let params = form(request);
                if params.get("grant_type").map(String::as_str) != Some("refresh_token")
                    || params.get("client_id").map(String::as_str) != Some(PUBLIC_CLIENT)
                {
                    return oauth_error(400, "invalid_request", "unexpected parameters");
                }
                let presented = params.get("refresh_token").cloned().unwrap_or_default();
                match valid.lock().unwrap().remove(&presented) {
                    Some((access, refresh)) => ResponseTemplate::new(200).set_body_json(json!({
                        "access_token": access, "token_type": "Bearer", "expires_in": 3600, "refresh_token": refresh
                    })),
                    None => oauth_error(400, "invalid_grant", "refresh token expired"),
                }
            })
            .mount(server),
    );
    calls
}

fn standalone_config(server: &MockServer) -> AuthConfig {
    AuthConfig::Standalone {
        client_id: PUBLIC_CLIENT.into(),
        authorize_url: format!("{}/oauth2/authorize", server.uri()),
        token_url: format!("{}/oauth2/token", server.uri()),
        scope: USER_SCOPE.into(),
    }
}

#[test]
fn refresh_token_grant_rotates_and_stores_the_new_refresh_token() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let calls = rotating_refresh_endpoint(&server, &rt);
    let vault = Arc::new(TestVault::default());
    Secrets::new(vault.as_ref()).store_refresh_token("Epic Test", "rt-1").unwrap();

    let mut source = token_source(&standalone_config(&server), "Epic Test", vault.clone(), ureq::Agent::new()).unwrap();
    assert_eq!(source.bearer(false).unwrap().as_deref(), Some("at-1"));
    assert_eq!(vault.secret("integration:Epic Test:refresh-token").as_deref(), Some("rt-2"));
    assert_eq!(source.bearer(false).unwrap().as_deref(), Some("at-1"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Forced (after a 401): the rotated refresh token is the one presented.
    assert_eq!(source.bearer(true).unwrap().as_deref(), Some("at-2"));
    assert_eq!(vault.secret("integration:Epic Test:refresh-token").as_deref(), Some("rt-3"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A new source (the app restarted) reads rt-3, which this server no longer honours.
    let mut restarted = token_source(&standalone_config(&server), "Epic Test", vault, ureq::Agent::new()).unwrap();
    let err = restarted.bearer(false).unwrap_err();
    assert!(matches!(err, AuthError::NeedsReconnect { .. }), "{err:?}");
    assert_eq!(err.to_string(), "Sign-in to Epic Test has expired. Reconnect it on the Integrations page.");
}

#[test]
fn an_expired_refresh_token_asks_staff_to_reconnect() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let calls = rotating_refresh_endpoint(&server, &rt);
    let vault = Arc::new(TestVault::default());
    Secrets::new(vault.as_ref()).store_refresh_token("Epic Test", "rt-revoked").unwrap();
    let mut source = token_source(&standalone_config(&server), "Epic Test", vault.clone(), ureq::Agent::new()).unwrap();
    let err = source.bearer(false).unwrap_err();
    assert_eq!(err.to_string(), "Sign-in to Epic Test has expired. Reconnect it on the Integrations page.");
    assert!(!format!("{err:?}").contains("rt-revoked"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The refused token is left for staff to replace by reconnecting.
    assert_eq!(vault.secret("integration:Epic Test:refresh-token").as_deref(), Some("rt-revoked"));
}

#[test]
fn a_token_endpoint_that_answers_nonsense_is_a_plain_error() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .and(path("/oauth2/token"))
            .respond_with(ResponseTemplate::new(502).set_body_raw("<html>Bad gateway</html>", "text/html"))
            .mount(&server),
    );
    let vault = Arc::new(TestVault::default());
    Secrets::new(vault.as_ref()).store_refresh_token("Epic Test", "rt-1").unwrap();
    let mut source = token_source(&standalone_config(&server), "Epic Test", vault, ureq::Agent::new()).unwrap();
    let err = source.bearer(false).unwrap_err();
    assert!(matches!(err, AuthError::BadReply { .. }), "{err:?}");
    assert!(err.to_string().starts_with("Epic Test sent a sign-in reply MedHarmony Desk could not read (HTTP 502"), "{err}");
}

#[test]
fn a_stored_key_produces_the_documented_kid() {
    let key = SigningKey::from_pem(&key_file("test-es384.pem"), None).unwrap();
    assert_eq!(key.kid(), ES_KID);
    assert_eq!(key.public_jwks()["keys"][0]["kid"], ES_KID);
}
