//! User sign-in in the system browser (OAuth 2.0 for native apps, RFC 8252): authorization code
//! with PKCE S256 (RFC 7636), redirected to a one-off listener on the loopback address.
//!
//! 1. [`LoopbackLogin::start`] binds `127.0.0.1` on a free port the OS picks (RFC 8252 §7.3; the IP
//!    literal rather than `localhost`, §8.3), and builds the authorization URL: `response_type=code`,
//!    `client_id`, `redirect_uri=http://127.0.0.1:<port>/callback`, `scope`, `state` (128 random
//!    bits; SMART asks for at least 122), `code_challenge` = BASE64URL(SHA256(verifier)) with
//!    `code_challenge_method=S256`, and, for SMART, `aud` = the FHIR base URL (SMART App Launch 2.x
//!    "Obtain authorization code"). No `launch` parameter: a standalone launch.
//! 2. The caller opens [`LoopbackLogin::authorize_url`] in the system browser (the desktop app via
//!    its opener plugin, the CLI by printing it).
//! 3. [`LoopbackLogin::finish`] waits for the redirect, compares `state` in constant time, shows the
//!    browser a short page, and exchanges the code with the PKCE verifier.
//!
//! Nothing here is SMART-specific except the optional `aud`, so other OAuth providers can use it:
//! [`LoopbackLogin::start_installed_app`] adds provider-specific authorization parameters (Google:
//! `access_type=offline`, `prompt=consent`) and a client secret sent with the code exchange (Google
//! desktop clients have one that is not confidential but required).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope};

use super::discovery::SmartConfiguration;
use super::oauth::{exchange_code, TokenSet};
use super::{check_url, host_of, AuthError};

/// The path of the redirect URI on the loopback listener.
pub const CALLBACK_PATH: &str = "/callback";

/// How often [`LoopbackLogin::finish`] looks at the cancel flag while waiting.
const POLL: Duration = Duration::from_millis(100);

/// A browser sign-in in progress: the listener is bound and the authorization URL built.
pub struct LoopbackLogin {
    /// The URL to open in the system browser.
    pub authorize_url: String,
    /// The redirect URI sent in the request: `http://127.0.0.1:<port>/callback`.
    pub redirect_uri: String,
    server: tiny_http::Server,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
    client_id: String,
    client_secret: Option<String>,
    token_url: String,
    system: String,
}

impl std::fmt::Debug for LoopbackLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackLogin").field("redirect_uri", &self.redirect_uri).field("system", &self.system).finish_non_exhaustive()
    }
}

impl LoopbackLogin {
    /// Binds the loopback listener and builds the authorization URL for a public client.
    ///
    /// `scope` is space-separated (e.g. `openid fhirUser offline_access user/Slot.rs
    /// user/Schedule.rs user/Appointment.cruds`); `aud`, when given, is sent as the `aud`
    /// parameter (SMART: the FHIR base URL). Messages name the authorization server's host until
    /// [`LoopbackLogin::with_name`] gives another name.
    ///
    /// # Errors
    /// [`AuthError::Config`] for addresses that are not http(s) URLs or an empty client ID;
    /// [`AuthError::Loopback`] when no loopback port can be bound.
    pub fn start(authorize_url: &str, token_url: &str, client_id: &str, scope: &str, aud: Option<&str>) -> Result<Self, AuthError> {
        let extra: Vec<(&str, &str)> = aud.map(|a| ("aud", a.trim())).into_iter().collect();
        Self::begin(authorize_url, token_url, client_id, None, scope, &extra)
    }

    /// Binds the loopback listener and builds the authorization URL for an installed app
    /// (OAuth 2.0 for native apps, RFC 8252) of a provider that is not SMART: `extra_params` are
    /// added to the authorization URL as given (Google: `access_type=offline` so a refresh token
    /// is issued, `prompt=consent` so it is issued again on reconnect; "OAuth 2.0 for Mobile &
    /// Desktop Apps", step 2), and `client_secret`, when given, is sent in the body of the code
    /// exchange ([`LoopbackLogin::finish`]).
    ///
    /// # Errors
    /// As [`LoopbackLogin::start`].
    pub fn start_installed_app(
        authorize_url: &str,
        token_url: &str,
        client_id: &str,
        client_secret: Option<&str>,
        scope: &str,
        extra_params: &[(&str, &str)],
    ) -> Result<Self, AuthError> {
        Self::begin(authorize_url, token_url, client_id, client_secret, scope, extra_params)
    }

    fn begin(
        authorize_url: &str,
        token_url: &str,
        client_id: &str,
        client_secret: Option<&str>,
        scope: &str,
        extra_params: &[(&str, &str)],
    ) -> Result<Self, AuthError> {
        check_url(authorize_url, "authorization address")?;
        check_url(token_url, "token address")?;
        if client_id.trim().is_empty() {
            return Err(AuthError::Config("The client ID is empty; enter the one the EHR assigned to MedHarmony Desk.".into()));
        }
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| AuthError::Loopback(e.to_string()))?;
        let port =
            server.server_addr().to_ip().map(|a| a.port()).ok_or_else(|| AuthError::Loopback("the listener has no network port".into()))?;
        let redirect_uri = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");

        let auth_url = AuthUrl::new(authorize_url.trim().to_string()).map_err(|e| AuthError::Config(e.to_string()))?;
        let redirect = RedirectUrl::new(redirect_uri.clone()).map_err(|e| AuthError::Loopback(e.to_string()))?;
        let client = BasicClient::new(ClientId::new(client_id.to_string())).set_auth_uri(auth_url).set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scope.split_whitespace().map(|s| Scope::new(s.to_string())))
            .set_pkce_challenge(challenge);
        for (name, value) in extra_params {
            request = request.add_extra_param(name.to_string(), value.to_string());
        }
        let (url, state) = request.url();
        tracing::debug!(port, "loopback sign-in listener started");
        Ok(LoopbackLogin {
            authorize_url: url.to_string(),
            redirect_uri,
            server,
            state,
            verifier,
            client_id: client_id.to_string(),
            client_secret: client_secret.map(str::to_string).filter(|s| !s.is_empty()),
            token_url: token_url.trim().to_string(),
            system: host_of(authorize_url),
        })
    }

    /// [`LoopbackLogin::start`] for a SMART standalone launch from discovered settings, with
    /// `aud` = `fhir_base`.
    ///
    /// # Errors
    /// [`AuthError::Config`] when the server offers no user sign-in (no `authorization_endpoint`)
    /// or does not support PKCE S256; otherwise as [`LoopbackLogin::start`].
    pub fn start_smart(cfg: &SmartConfiguration, client_id: &str, scope: &str, fhir_base: &str) -> Result<Self, AuthError> {
        let Some(authorize) = cfg.authorization_endpoint.as_deref() else {
            return Err(AuthError::Config(format!(
                "{} offers no user sign-in (its SMART settings name no authorization endpoint); use a backend connection instead.",
                host_of(fhir_base)
            )));
        };
        if !cfg.supports_s256() {
            return Err(AuthError::Config(format!(
                "{} does not support the secure sign-in MedHarmony Desk uses (PKCE with S256).",
                host_of(fhir_base)
            )));
        }
        Self::start(authorize, &cfg.token_endpoint, client_id, scope, Some(fhir_base))
    }

    /// Names the system in messages (e.g. the integration's name).
    pub fn with_name(mut self, name: &str) -> Self {
        self.system = name.to_string();
        self
    }

    /// Waits for the browser's redirect, at most `timeout`, polling `cancel` every 100 ms.
    ///
    /// Requests to other paths (a browser asking for `/favicon.ico`) get a 404 and are ignored.
    /// The first redirect to the callback decides: its `state` must equal ours (compared in
    /// constant time) or nothing is exchanged; an `error=` parameter ends the sign-in; a `code` is
    /// exchanged at the token endpoint with the PKCE verifier (using `agent`). The browser is
    /// shown "You can return to MedHarmony Desk" or a short error page (server text is never
    /// echoed into the page).
    ///
    /// # Errors
    /// [`AuthError::Cancelled`], [`AuthError::TimedOut`], [`AuthError::StateMismatch`],
    /// [`AuthError::Denied`] (e.g. `access_denied`: "access was declined"), [`AuthError::BadReply`]
    /// for a redirect without a code, [`AuthError::Loopback`] when the listener fails, and the
    /// token errors of the exchange.
    pub fn finish(self, agent: &ureq::Agent, timeout: Duration, cancel: &AtomicBool) -> Result<TokenSet, AuthError> {
        let deadline = Instant::now() + timeout;
        loop {
            if cancel.load(Ordering::SeqCst) {
                tracing::info!("browser sign-in cancelled");
                return Err(AuthError::Cancelled);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(AuthError::TimedOut { seconds: timeout.as_secs() });
            }
            let request = match self.server.recv_timeout(POLL.min(deadline - now)) {
                Ok(Some(request)) => request,
                Ok(None) => continue,
                Err(e) => return Err(AuthError::Loopback(e.to_string())),
            };
            let target = request.url().to_string();
            let Some(params) = callback_params(&target) else {
                respond(request, 404, "Not found", "There is nothing here.");
                continue;
            };
            let state_ok = params.get("state").is_some_and(|s| constant_time_eq(s.as_bytes(), self.state.secret().as_bytes()));
            if !state_ok {
                tracing::warn!("sign-in redirect with a state that does not match; ignored");
                respond(
                    request,
                    400,
                    "Sign-in not accepted",
                    "This sign-in reply does not belong to MedHarmony Desk's current sign-in, so it was ignored. \
                     Return to MedHarmony Desk and try connecting again.",
                );
                return Err(AuthError::StateMismatch);
            }
            if let Some(code) = params.get("error") {
                let reason = denial_reason(code);
                tracing::info!(error = code.as_str(), "sign-in ended by the authorization server");
                respond(
                    request,
                    200,
                    "Sign-in not completed",
                    &format!("Sign-in was not completed: {reason}. You can close this tab and return to MedHarmony Desk."),
                );
                let description = params.get("error_description").map(|d| d.chars().take(300).collect());
                return Err(AuthError::Denied { system: self.system.clone(), reason, description });
            }
            let Some(code) = params.get("code").filter(|c| !c.is_empty()) else {
                respond(
                    request,
                    400,
                    "Sign-in not completed",
                    "The sign-in reply carried no authorization code. Return to MedHarmony Desk and try again.",
                );
                return Err(AuthError::BadReply {
                    system: self.system.clone(),
                    detail: "the sign-in redirect carried no authorization code".into(),
                });
            };
            respond(request, 200, "Signed in", "MedHarmony Desk received your sign-in. You can return to MedHarmony Desk.");
            return exchange_code(
                agent,
                &self.system,
                &self.token_url,
                &self.client_id,
                self.client_secret.as_deref(),
                &self.redirect_uri,
                code,
                self.verifier,
            );
        }
    }
}

/// The query parameters of a request to [`CALLBACK_PATH`] (first value of each name), `None` for
/// any other path.
fn callback_params(target: &str) -> Option<HashMap<String, String>> {
    let url = url::Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    if url.path() != CALLBACK_PATH {
        return None;
    }
    let mut params = HashMap::new();
    for (k, v) in url.query_pairs() {
        params.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    Some(params)
}

/// RFC 6749 §4.1.2.1 error codes in plain words.
fn denial_reason(code: &str) -> String {
    match code {
        "access_denied" => "access was declined".into(),
        "invalid_scope" => "the access asked for (scope) is not allowed".into(),
        "unauthorized_client" => "this app is not allowed to sign in this way".into(),
        "server_error" | "temporarily_unavailable" => "the sign-in server had a problem; try again later".into(),
        "invalid_request" | "unsupported_response_type" => "the sign-in server did not accept the request".into(),
        _ => "the sign-in server reported a problem".into(),
    }
}

/// Compares two byte strings in time that depends only on their lengths (which are not secret:
/// the state's length is fixed), so the comparison does not reveal how many leading bytes match.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Answers the browser with a small HTML page; failures to answer are only logged (the sign-in's
/// outcome does not depend on the browser receiving the page).
fn respond(request: tiny_http::Request, status: u16, title: &str, message: &str) {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} – MedHarmony Desk</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933}}</style>\
         </head><body><h1>{title}</h1><p>{message}</p></body></html>"
    );
    let mut response = tiny_http::Response::from_string(page).with_status_code(status);
    if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/html; charset=utf-8"[..]) {
        response = response.with_header(h);
    }
    if let Ok(h) = tiny_http::Header::from_bytes(&b"Cache-Control"[..], &b"no-store"[..]) {
        response = response.with_header(h);
    }
    if let Err(e) = request.respond(response) {
        tracing::debug!(error = %e, "could not answer the browser");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use sha2::{Digest, Sha256};

    #[test]
    fn pkce_challenge_is_base64url_of_sha256_of_the_verifier() {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        assert_eq!(challenge.method().as_str(), "S256");
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.secret().as_bytes()));
        assert_eq!(challenge.as_str(), expected);
        // RFC 7636 §4.1: 43 to 128 characters from the unreserved set.
        let v = verifier.secret();
        assert!((43..=128).contains(&v.len()), "{}", v.len());
        assert!(v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"abc123", b"abc123"));
        assert!(!constant_time_eq(b"abc123", b"abc124"));
        assert!(!constant_time_eq(b"xbc123", b"abc123"));
        assert!(!constant_time_eq(b"abc", b"abc1"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn authorization_url_carries_every_parameter() {
        let login = LoopbackLogin::start(
            "https://ehr.example.org/oauth2/authorize",
            "https://ehr.example.org/oauth2/token",
            "desk-public",
            "openid fhirUser offline_access user/Slot.rs",
            Some("https://ehr.example.org/fhir/r4"),
        )
        .unwrap();
        let url = url::Url::parse(&login.authorize_url).unwrap();
        assert_eq!(url.path(), "/oauth2/authorize");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "desk-public");
        assert_eq!(q["redirect_uri"], login.redirect_uri);
        assert!(login.redirect_uri.starts_with("http://127.0.0.1:") && login.redirect_uri.ends_with("/callback"));
        assert_eq!(q["scope"], "openid fhirUser offline_access user/Slot.rs");
        assert_eq!(q["aud"], "https://ehr.example.org/fhir/r4");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], URL_SAFE_NO_PAD.encode(Sha256::digest(login.verifier.secret().as_bytes())));
        assert_eq!(&q["state"], login.state.secret());
        // 16 random bytes, base64url: 128 bits (SMART: at least 122).
        assert_eq!(URL_SAFE_NO_PAD.decode(&q["state"]).unwrap().len(), 16);
        assert!(!q.contains_key("launch"));
        let port: u16 = login.redirect_uri["http://127.0.0.1:".len()..login.redirect_uri.len() - "/callback".len()].parse().unwrap();
        assert_ne!(port, 0);
    }

    #[test]
    fn without_aud_no_aud_parameter_is_sent() {
        let login =
            LoopbackLogin::start("https://accounts.example.com/o/oauth2/auth", "https://oauth2.example.com/token", "c", "calendar", None)
                .unwrap();
        assert!(!url::Url::parse(&login.authorize_url).unwrap().query_pairs().any(|(k, _)| k == "aud"));
    }

    #[test]
    fn installed_app_start_adds_the_extra_parameters_and_keeps_the_secret_out_of_the_url() {
        let login = LoopbackLogin::start_installed_app(
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
            "123-abc.apps.googleusercontent.com",
            Some("GOCSPX-not-really-secret"),
            "https://www.googleapis.com/auth/calendar.freebusy https://www.googleapis.com/auth/calendar.events",
            &[("access_type", "offline"), ("prompt", "consent")],
        )
        .unwrap();
        let q: HashMap<String, String> = url::Url::parse(&login.authorize_url).unwrap().query_pairs().into_owned().collect();
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["client_id"], "123-abc.apps.googleusercontent.com");
        assert!(!q.contains_key("aud") && !q.contains_key("client_secret"));
        assert!(!login.authorize_url.contains("GOCSPX"), "{}", login.authorize_url);
        assert_eq!(login.client_secret.as_deref(), Some("GOCSPX-not-really-secret"));
        assert!(!format!("{login:?}").contains("GOCSPX"));
    }

    #[test]
    fn smart_start_needs_an_authorization_endpoint_and_s256() {
        let cfg = SmartConfiguration {
            issuer: None,
            jwks_uri: None,
            authorization_endpoint: None,
            token_endpoint: "https://ehr.example.org/token".into(),
            grant_types_supported: vec![],
            token_endpoint_auth_methods_supported: vec![],
            token_endpoint_auth_signing_alg_values_supported: vec![],
            scopes_supported: vec![],
            capabilities: vec![],
            code_challenge_methods_supported: vec!["S256".into()],
        };
        let err = LoopbackLogin::start_smart(&cfg, "c", "openid", "https://ehr.example.org/fhir").unwrap_err();
        assert!(err.to_string().contains("offers no user sign-in"), "{err}");
        let plain = SmartConfiguration {
            authorization_endpoint: Some("https://ehr.example.org/authorize".into()),
            code_challenge_methods_supported: vec!["plain".into()],
            ..cfg.clone()
        };
        let err = LoopbackLogin::start_smart(&plain, "c", "openid", "https://ehr.example.org/fhir").unwrap_err();
        assert!(err.to_string().contains("PKCE with S256"), "{err}");
        let ok = SmartConfiguration { authorization_endpoint: Some("https://ehr.example.org/authorize".into()), ..cfg };
        let login = LoopbackLogin::start_smart(&ok, "c", "openid", "https://ehr.example.org/fhir").unwrap();
        assert!(login.authorize_url.contains("aud=https%3A%2F%2Fehr.example.org%2Ffhir"), "{}", login.authorize_url);
    }

    #[test]
    fn callback_params_only_for_the_callback_path() {
        assert_eq!(callback_params("/favicon.ico"), None);
        let p = callback_params("/callback?code=a%2Bb&state=s1&state=s2").unwrap();
        assert_eq!(p["code"], "a+b");
        assert_eq!(p["state"], "s1");
    }

    #[test]
    fn cancel_and_timeout_end_the_wait() {
        let login = LoopbackLogin::start("https://e.example.org/a", "https://e.example.org/t", "c", "openid", None).unwrap();
        let cancel = AtomicBool::new(true);
        let err = login.finish(&ureq::Agent::new(), Duration::from_secs(60), &cancel).unwrap_err();
        assert!(matches!(err, AuthError::Cancelled));
        let login = LoopbackLogin::start("https://e.example.org/a", "https://e.example.org/t", "c", "openid", None).unwrap();
        let started = Instant::now();
        let err = login.finish(&ureq::Agent::new(), Duration::from_millis(1200), &AtomicBool::new(false)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(1200));
        assert_eq!(err.to_string(), "Sign-in was not completed within 1 second. Try connecting again.");
        assert_eq!(AuthError::TimedOut { seconds: 300 }.to_string(), "Sign-in was not completed within 5 minutes. Try connecting again.");
    }
}
