//! Discovery of a FHIR server's sign-in settings: `GET {base}/.well-known/smart-configuration`
//! (SMART App Launch 2.x, "Conformance": `token_endpoint`, `capabilities`,
//! `code_challenge_methods_supported` and `grant_types_supported` are required there,
//! `authorization_endpoint` when the server offers a user launch).
//!
//! Only `token_endpoint` is required here: older servers omit some of the others, and each flow
//! checks what it needs ([`SmartConfiguration::supports_s256`] before a browser sign-in).

use serde::{Deserialize, Serialize};

use super::{check_url, AuthError};

/// The fields of `.well-known/smart-configuration` MedHarmony Desk uses (others are ignored).
/// Lists absent from the document are empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmartConfiguration {
    /// OpenID Connect issuer (present with `sso-openid-connect`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// The server's JWK Set URL.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The OAuth authorization endpoint (user sign-in); absent on backend-only servers.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// The OAuth token endpoint (absolute URL).
    pub token_endpoint: String,
    /// E.g. `authorization_code`, `client_credentials`.
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    /// E.g. `private_key_jwt`, `client_secret_basic`.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// E.g. `RS384`, `ES384`.
    #[serde(default)]
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// Scopes the server advertises.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// SMART capabilities, e.g. `launch-standalone`, `client-public`, `client-confidential-asymmetric`.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// PKCE methods; SMART 2.x servers list `S256`.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

impl SmartConfiguration {
    /// Whether `capabilities` lists `capability` (exact match).
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Whether PKCE with S256 is usable: listed, or the server lists no method at all (servers
    /// older than SMART 2.0, which are then tried with S256 anyway).
    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported.is_empty() || self.code_challenge_methods_supported.iter().any(|m| m == "S256")
    }
}

/// The discovery address for a FHIR base URL: `{base without trailing /}/.well-known/smart-configuration`.
pub fn discovery_url(fhir_base: &str) -> String {
    format!("{}/.well-known/smart-configuration", fhir_base.trim().trim_end_matches('/'))
}

/// Reads `{fhir_base}/.well-known/smart-configuration` with `agent` (`Accept: application/json`).
///
/// # Errors
/// [`AuthError::Config`] when `fhir_base` is not an http(s) address; [`AuthError::Discovery`] in
/// plain words when the server cannot be reached, answers with an HTTP error (404: "does not
/// publish SMART sign-in settings"), sends something that is not a JSON object, or names no usable
/// `token_endpoint`.
pub fn discover(agent: &ureq::Agent, fhir_base: &str) -> Result<SmartConfiguration, AuthError> {
    check_url(fhir_base, "FHIR server address")?;
    let url = discovery_url(fhir_base);
    let fail = |detail: String| AuthError::Discovery { url: url.clone(), detail };
    let response = match agent.get(&url).set("Accept", "application/json").call() {
        Ok(r) => r,
        Err(ureq::Error::Status(404, _)) => {
            return Err(fail("the server does not publish SMART sign-in settings there (HTTP 404); check the FHIR address".into()))
        }
        Err(ureq::Error::Status(code, _)) => return Err(fail(format!("the server answered with an error (HTTP {code})"))),
        Err(ureq::Error::Transport(t)) => return Err(fail(format!("the server could not be reached ({t})"))),
    };
    let doc: serde_json::Value = response.into_json().map_err(|_| fail("the reply is not JSON".into()))?;
    let Some(obj) = doc.as_object() else {
        return Err(fail("the reply is not a SMART configuration (not a JSON object)".into()));
    };
    if !obj.get("token_endpoint").is_some_and(serde_json::Value::is_string) {
        return Err(fail("the settings name no token endpoint".into()));
    }
    let cfg: SmartConfiguration = serde_json::from_value(doc).map_err(|e| fail(format!("the settings could not be read ({e})")))?;
    check_url(&cfg.token_endpoint, "token endpoint").map_err(|e| fail(e.to_string()))?;
    if let Some(authorize) = &cfg.authorization_endpoint {
        check_url(authorize, "authorization endpoint").map_err(|e| fail(e.to_string()))?;
    }
    tracing::debug!(capabilities = cfg.capabilities.len(), "read SMART configuration");
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_ignores_a_trailing_slash() {
        assert_eq!(discovery_url("https://ehr.example.org/fhir/r4/"), "https://ehr.example.org/fhir/r4/.well-known/smart-configuration");
        assert_eq!(discovery_url("https://ehr.example.org/fhir/r4"), "https://ehr.example.org/fhir/r4/.well-known/smart-configuration");
    }

    #[test]
    fn reads_the_published_backend_services_example() {
        // Shape of the SMART App Launch 2.2 "Example Backend Services Flow" document.
        let cfg: SmartConfiguration = serde_json::from_value(serde_json::json!({
            "token_endpoint": "https://smart.example.org/auth/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": ["system/*.rs"],
            "capabilities": ["client-confidential-asymmetric", "permission-v2"]
        }))
        .unwrap();
        assert_eq!(cfg.token_endpoint, "https://smart.example.org/auth/token");
        assert_eq!(cfg.authorization_endpoint, None);
        assert!(cfg.has_capability("client-confidential-asymmetric"));
        assert!(!cfg.has_capability("launch-standalone"));
        assert!(cfg.supports_s256());
        let plain_only = SmartConfiguration { code_challenge_methods_supported: vec!["plain".into()], ..cfg };
        assert!(!plain_only.supports_s256());
    }

    #[test]
    fn refuses_a_base_that_is_not_a_web_address() {
        let err = discover(&ureq::Agent::new(), "ehr.example.org/fhir").unwrap_err();
        assert!(matches!(err, AuthError::Config(_)), "{err}");
    }
}
