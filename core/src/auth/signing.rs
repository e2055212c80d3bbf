//! Private keys for SMART Backend Services and the JWT client assertion they sign.
//!
//! The assertion follows SMART App Launch 2.x "Client Authentication: Asymmetric (public key)"
//! and RFC 7523 §3: header `alg` (`RS384` for an RSA key, `ES384` for an EC P-384 key), `kid`,
//! `typ: "JWT"`; claims `iss` = `sub` = client ID, `aud` = the token URL, `exp` no more than five
//! minutes ahead, and a unique `jti`. Signing is done by `jsonwebtoken`.
//!
//! Key ID: the one registered with the EHR when given; otherwise the key's JWK thumbprint
//! (RFC 7638: base64url of the SHA-256 of the canonical public JWK), so the same key always gets
//! the same `kid` and staff can register it from [`SigningKey::public_jwks`]. `jsonwebtoken` 9
//! does not expose the public half, so the key is also read with *ring* 0.17 (the crypto library
//! `jsonwebtoken` signs with): RSA `n`, `e` from `RsaKeyPair` (PKCS#8 of RFC 5208/5958, or the
//! RSAPrivateKey of RFC 8017 A.1.2); EC `x`, `y` from `EcdsaKeyPair` (PKCS#8 holding the
//! ECPrivateKey of RFC 5915 with its `publicKey` field). PEM is read with the `pem` crate.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::error::KeyRejected;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::AuthError;

/// Seconds between "now" and the assertion's `exp`: 4 minutes 30 seconds, inside SMART's
/// "no more than five minutes in the future" with 30 s to spare for a token server whose clock
/// runs slightly behind ours.
pub const ASSERTION_LIFETIME_SECS: i64 = 270;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The public half of a key, as JWK members (unsigned big-endian bytes).
#[derive(Clone, PartialEq, Eq)]
enum PublicKey {
    /// RSA modulus and public exponent, without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// EC P-384 point coordinates, 48 bytes each.
    P384 { x: Vec<u8>, y: Vec<u8> },
}

/// A private key that signs client assertions: PKCS#8 RSA (`RS384`) or PKCS#8 EC P-384 (`ES384`),
/// with its key ID. `Debug` shows only the algorithm and key ID.
#[derive(Clone)]
pub struct SigningKey {
    encoding: EncodingKey,
    public: PublicKey,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("alg", &self.algorithm()).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a PEM private key: `-----BEGIN PRIVATE KEY-----` (PKCS#8) holding an RSA key of at
    /// least 2048 bits or an EC P-384 key, or `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1). Other
    /// PEM blocks in the text (a certificate, say) are skipped. `kid` is the key ID registered
    /// with the EHR; `None` (or blank) uses [`SigningKey::thumbprint`].
    ///
    /// The key is tried once by signing a test message, so an unusable key fails here rather than
    /// at the first sign-in.
    ///
    /// # Errors
    /// [`AuthError::InvalidKey`], in plain words: not a PEM private key, a public key or
    /// certificate only, protected by a passphrase, an EC key on another curve than P-384, an
    /// algorithm other than RSA/EC, or a key the signer refuses (e.g. RSA under 2048 bits).
    pub fn from_pem(text: &str, kid: Option<&str>) -> Result<Self, AuthError> {
        let block = private_key_block(text)?;
        let (public, encoding) = match block.tag() {
            "RSA PRIVATE KEY" => {
                let public = rsa_public(RsaKeyPair::from_der(block.contents()).map_err(rsa_refused)?);
                (public, rsa_encoding_key(&block)?)
            }
            "PRIVATE KEY" => match pkcs8_public(&block)? {
                public @ PublicKey::Rsa { .. } => (public, rsa_encoding_key(&block)?),
                public @ PublicKey::P384 { .. } => {
                    (public, EncodingKey::from_ec_pem(pem::encode(&block).as_bytes()).map_err(|_| bad_key("the EC key could not be read"))?)
                }
            },
            "ENCRYPTED PRIVATE KEY" => return Err(bad_key(PASSPHRASE)),
            "EC PRIVATE KEY" => {
                return Err(bad_key(
                    "the EC key is in the older SEC1 form; convert it to PKCS#8 \
                     (openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem)",
                ))
            }
            other => return Err(bad_key(&format!("a '{other}' block is not a private key MedHarmony Desk can use"))),
        };
        let mut key = SigningKey { encoding, public, kid: String::new() };
        key.kid = match kid.map(str::trim) {
            Some(k) if !k.is_empty() => k.to_string(),
            _ => key.thumbprint(),
        };
        jsonwebtoken::crypto::sign(b"MedHarmony Desk key check", &key.encoding, key.algorithm()).map_err(|_| bad_key(CANNOT_SIGN))?;
        Ok(key)
    }

    /// The key ID sent as the assertion's `kid` header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// `RS384` for an RSA key, `ES384` for an EC P-384 key.
    pub fn algorithm(&self) -> Algorithm {
        match self.public {
            PublicKey::Rsa { .. } => Algorithm::RS384,
            PublicKey::P384 { .. } => Algorithm::ES384,
        }
    }

    /// The RFC 7638 JWK thumbprint of the public key: base64url (no padding) of the SHA-256 of
    /// `{"e":…,"kty":"RSA","n":…}` or `{"crv":"P-384","kty":"EC","x":…,"y":…}` (members in
    /// lexicographic order, no whitespace). 43 characters.
    pub fn thumbprint(&self) -> String {
        let canonical = match &self.public {
            PublicKey::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64u(e), b64u(n)),
            PublicKey::P384 { x, y } => format!(r#"{{"crv":"P-384","kty":"EC","x":"{}","y":"{}"}}"#, b64u(x), b64u(y)),
        };
        b64u(&Sha256::digest(canonical.as_bytes()))
    }

    /// The public key as a JWK to register with the EHR (SMART "bare key" members plus `kid`,
    /// `alg`, `use: "sig"`, `key_ops: ["verify"]`). Contains no private material.
    pub fn public_jwk(&self) -> serde_json::Value {
        let alg = if self.algorithm() == Algorithm::RS384 { "RS384" } else { "ES384" };
        let mut jwk = match &self.public {
            PublicKey::Rsa { n, e } => serde_json::json!({"kty": "RSA", "n": b64u(n), "e": b64u(e)}),
            PublicKey::P384 { x, y } => serde_json::json!({"kty": "EC", "crv": "P-384", "x": b64u(x), "y": b64u(y)}),
        };
        jwk["kid"] = self.kid.clone().into();
        jwk["alg"] = alg.into();
        jwk["use"] = "sig".into();
        jwk["key_ops"] = serde_json::json!(["verify"]);
        jwk
    }

    /// `{"keys": [public_jwk]}`: the JWK Set SMART asks clients to register (or host).
    pub fn public_jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.public_jwk()] })
    }
}

/// The claims of a client assertion; `exp` in seconds since the Unix epoch.
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    jti: String,
}

/// Signs a client assertion for `client_id` at the token endpoint `token_url`.
///
/// Header: `{"typ":"JWT","alg":"RS384"|"ES384","kid":key.kid()}`. Claims: `iss` = `sub` =
/// `client_id`, `aud` = `token_url` exactly as given, `exp` = `now` + [`ASSERTION_LIFETIME_SECS`]
/// (270 s), `jti` = 128 random bits from the OS as 32 lowercase hex digits. No `iat`/`nbf` (both
/// optional in RFC 7523; leaving them out avoids refusals from servers whose clock is behind).
///
/// # Errors
/// [`AuthError::Config`] for an empty client ID or token URL; [`AuthError::Other`] when the OS has
/// no randomness; [`AuthError::InvalidKey`] when signing fails.
pub fn client_assertion(client_id: &str, token_url: &str, key: &SigningKey, now: DateTime<Utc>) -> Result<String, AuthError> {
    if client_id.trim().is_empty() {
        return Err(AuthError::Config("The client ID is empty; enter the one the EHR assigned to MedHarmony Desk.".into()));
    }
    if token_url.trim().is_empty() {
        return Err(AuthError::Config("The token address is empty.".into()));
    }
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| AuthError::Other(format!("This computer could not provide random numbers ({e}).")))?;
    let claims = AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: token_url,
        exp: now.timestamp() + ASSERTION_LIFETIME_SECS,
        jti: hex::encode(random),
    };
    let mut header = Header::new(key.algorithm());
    header.typ = Some("JWT".into());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(|_| bad_key("signing the sign-in assertion failed"))
}

fn bad_key(why: &str) -> AuthError {
    AuthError::InvalidKey(why.to_string())
}

fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What to do about a passphrase-protected key file.
const PASSPHRASE: &str = "the key file is protected by a passphrase; export it without one \
     (openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem)";

/// What to do about a key that is damaged or refused by the signer.
const CANNOT_SIGN: &str = "it cannot sign (RSA keys need at least 2048 bits; EC keys must be P-384 and include their public key)";

/// The first PEM block (RFC 7468, read by the `pem` crate) whose label ends in `PRIVATE KEY`,
/// or an error in plain words naming what the file holds instead.
fn private_key_block(text: &str) -> Result<pem::Pem, AuthError> {
    let blocks = pem::parse_many(text).map_err(|e| match e {
        pem::PemError::InvalidData(_) => bad_key("the key file's text is damaged (not base64)"),
        // Lines before a blank line inside a block are read as RFC 1421 headers (`Name: value`).
        pem::PemError::InvalidHeader(_) => bad_key("the key file's text is damaged (a line inside the key is not base64)"),
        pem::PemError::MismatchedTags(begin, end) => bad_key(&format!("the '{begin}' block ends with an END line for '{end}'")),
        _ => bad_key("the key file's BEGIN and END lines are damaged"),
    })?;
    if let Some(block) = blocks.iter().find(|b| b.tag().ends_with("PRIVATE KEY")) {
        // Legacy OpenSSL encryption (RFC 1421 headers such as `Proc-Type: 4,ENCRYPTED`).
        if block.headers().iter().next().is_some() {
            return Err(bad_key(PASSPHRASE));
        }
        return Ok(block.clone());
    }
    // `parse_many` skips a BEGIN line that has no END line after it.
    if text.matches("-----BEGIN ").count() > blocks.len() {
        return Err(bad_key("a block in the key file has no END line (the file may be cut short)"));
    }
    match blocks.first().map(pem::Pem::tag) {
        Some(label) if label.contains("PUBLIC KEY") || label.contains("CERTIFICATE") => {
            Err(bad_key("this file holds a public key or certificate; MedHarmony Desk needs the private key (the file you keep secret)"))
        }
        Some(label) => Err(bad_key(&format!("the file holds a '{label}', not a private key"))),
        None => Err(bad_key("the file is not a PEM private key (it should start with -----BEGIN PRIVATE KEY-----)")),
    }
}

/// Whether *ring* refused a key for `reason`. *ring* 0.17 tells its reasons apart only by the
/// `Display` text of [`KeyRejected`]: `"WrongAlgorithm"` (the PKCS#8 algorithm identifier, curve
/// included, is another one), `"InvalidEncoding"` (the DER structure is broken or, for EC, lacks
/// the public key), `"InconsistentComponents"`, `"TooSmall"`, and so on.
fn rejected_for(error: &KeyRejected, reason: &str) -> bool {
    error.to_string() == reason
}

/// The plain-words error for an RSA key *ring* refuses.
fn rsa_refused(error: KeyRejected) -> AuthError {
    if rejected_for(&error, "InvalidEncoding") {
        bad_key("the key's structure could not be read")
    } else {
        bad_key(CANNOT_SIGN)
    }
}

/// The signer's key for an RSA block (PKCS#1 or PKCS#8; `jsonwebtoken` takes it as PEM).
fn rsa_encoding_key(block: &pem::Pem) -> Result<EncodingKey, AuthError> {
    EncodingKey::from_rsa_pem(pem::encode(block).as_bytes()).map_err(|_| bad_key("the RSA key could not be read"))
}

/// `n` and `e` of an RSA key (unsigned big-endian, without leading zero bytes).
fn rsa_public(pair: RsaKeyPair) -> PublicKey {
    let components = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    PublicKey::Rsa { n: components.n, e: components.e }
}

/// The public key of a PKCS#8 PrivateKeyInfo (RFC 5208 §5 / RFC 5958 §2) holding an RSA key or
/// an EC P-384 key whose ECPrivateKey (RFC 5915) includes its public point. *ring* reads and
/// checks the key; the error says in plain words why another key cannot be used.
fn pkcs8_public(block: &pem::Pem) -> Result<PublicKey, AuthError> {
    let der = block.contents();
    match RsaKeyPair::from_pkcs8(der) {
        Ok(pair) => return Ok(rsa_public(pair)),
        Err(e) if !rejected_for(&e, "WrongAlgorithm") => return Err(rsa_refused(e)),
        Err(_) => {}
    }
    let rng = SystemRandom::new();
    match EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, der, &rng) {
        // An uncompressed point 0x04 || X || Y (SEC 1 §2.3.3).
        Ok(pair) => match pair.public_key().as_ref() {
            [4, point @ ..] if point.len() == 96 => return Ok(PublicKey::P384 { x: point[..48].to_vec(), y: point[48..].to_vec() }),
            _ => return Err(bad_key("the EC key's public point could not be read")),
        },
        Err(e) if rejected_for(&e, "InvalidEncoding") => {
            return Err(bad_key(
                "the EC key's structure could not be read, or the file does not include its public key; \
                 export it again with openssl pkcs8 -topk8 -nocrypt",
            ))
        }
        Err(e) if rejected_for(&e, "InconsistentComponents") => {
            return Err(bad_key("the EC key's public key does not match its private key"))
        }
        Err(e) if !rejected_for(&e, "WrongAlgorithm") => return Err(bad_key(CANNOT_SIGN)),
        Err(_) => {}
    }
    match EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng) {
        Err(e) if rejected_for(&e, "WrongAlgorithm") => {}
        _ => return Err(bad_key("it is an EC P-256 key; SMART's ES384 needs a P-384 key")),
    }
    // `jsonwebtoken` accepts any id-ecPublicKey key here, whatever its curve.
    if EncodingKey::from_ec_pem(pem::encode(block).as_bytes()).is_ok() {
        return Err(bad_key("it is an EC key on a curve other than P-384; SMART's ES384 needs a P-384 key"));
    }
    Err(bad_key("it is neither an RSA nor an EC key (SMART sign-in uses RS384 or ES384)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};
    use std::path::PathBuf;

    fn fixture(name: &str) -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/keys").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Thumbprints of the fixture keys computed independently (Python over `openssl pkey -text`
    /// of the public key files), recorded in fixtures/keys/README.md.
    const RS_THUMBPRINT: &str = "TwWEUzN_DacYqRd5GhzwDRGJMNwsDrI0Pe8fGEnt-3I";
    const ES_THUMBPRINT: &str = "zoBuRFez-eNg0Bi5KRShfrByqCl0a2M_9ZccVJlWtL4";

    fn decode(jwt: &str, public_pem: &str, alg: Algorithm, aud: &str) -> (Header, serde_json::Value) {
        let key = match alg {
            Algorithm::RS384 => DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
            _ => DecodingKey::from_ec_pem(public_pem.as_bytes()).unwrap(),
        };
        let mut validation = Validation::new(alg);
        validation.set_audience(&[aud]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation).unwrap();
        (data.header, data.claims)
    }

    fn check_assertion(private: &str, public: &str, alg: Algorithm, thumbprint: &str) {
        let key = SigningKey::from_pem(&fixture(private), None).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.kid(), thumbprint);
        assert_eq!(key.thumbprint(), thumbprint);
        let now = Utc::now();
        let token_url = "https://auth.ehr.example.org/tenants/abc/protocols/oauth2/token";
        let jwt = client_assertion("desk-client-7", token_url, &key, now).unwrap();
        let (header, claims) = decode(&jwt, &fixture(public), alg, token_url);
        assert_eq!(header.alg, alg);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid.as_deref(), Some(thumbprint));
        assert_eq!(header.jku, None);
        let obj = claims.as_object().unwrap();
        let mut names: Vec<&str> = obj.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["aud", "exp", "iss", "jti", "sub"]);
        assert_eq!(claims["iss"], "desk-client-7");
        assert_eq!(claims["sub"], "desk-client-7");
        assert_eq!(claims["aud"], token_url);
        let exp = claims["exp"].as_i64().unwrap();
        assert_eq!(exp - now.timestamp(), 270);
        assert!(exp - now.timestamp() <= 300);
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 32);
        assert!(jti.bytes().all(|b| b.is_ascii_hexdigit()));

        let again = client_assertion("desk-client-7", token_url, &key, now).unwrap();
        let (_, claims2) = decode(&again, &fixture(public), alg, token_url);
        assert_ne!(claims2["jti"], claims["jti"]);
    }

    #[test]
    fn rs384_assertion_header_and_claims_verify_with_the_public_key() {
        check_assertion("test-rs384.pem", "test-rs384.pub.pem", Algorithm::RS384, RS_THUMBPRINT);
    }

    #[test]
    fn es384_assertion_header_and_claims_verify_with_the_public_key() {
        check_assertion("test-es384.pem", "test-es384.pub.pem", Algorithm::ES384, ES_THUMBPRINT);
    }

    #[test]
    fn an_assertion_does_not_verify_with_another_key() {
        let key = SigningKey::from_pem(&fixture("test-other-rs384.pem"), None).unwrap();
        let jwt = client_assertion("c", "https://t.example.org/token", &key, Utc::now()).unwrap();
        let public = DecodingKey::from_rsa_pem(fixture("test-rs384.pub.pem").as_bytes()).unwrap();
        let mut validation = Validation::new(Algorithm::RS384);
        validation.set_audience(&["https://t.example.org/token"]);
        assert!(jsonwebtoken::decode::<serde_json::Value>(&jwt, &public, &validation).is_err());
        assert_ne!(key.kid(), RS_THUMBPRINT);
    }

    #[test]
    fn an_explicit_kid_is_used_as_given() {
        let key = SigningKey::from_pem(&fixture("test-es384.pem"), Some(" ehr-registered-1 ")).unwrap();
        assert_eq!(key.kid(), "ehr-registered-1");
        let jwt = client_assertion("c", "https://t.example.org/token", &key, Utc::now()).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&jwt).unwrap().kid.as_deref(), Some("ehr-registered-1"));
        let blank = SigningKey::from_pem(&fixture("test-es384.pem"), Some("  ")).unwrap();
        assert_eq!(blank.kid(), ES_THUMBPRINT);
    }

    #[test]
    fn public_jwk_carries_the_bare_key_and_no_private_member() {
        let key = SigningKey::from_pem(&fixture("test-es384.pem"), None).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-384");
        assert_eq!(jwk["alg"], "ES384");
        assert_eq!(jwk["kid"], ES_THUMBPRINT);
        assert_eq!(jwk["x"].as_str().unwrap().len(), 64);
        assert_eq!(jwk["y"].as_str().unwrap().len(), 64);
        assert!(jwk.get("d").is_none());
        // The JWK's own members reproduce the thumbprint (RFC 7638 §3.2 member order).
        let canonical = format!(r#"{{"crv":"P-384","kty":"EC","x":{},"y":{}}}"#, jwk["x"], jwk["y"]);
        assert_eq!(b64u(&Sha256::digest(canonical.as_bytes())), ES_THUMBPRINT);
        let rsa = SigningKey::from_pem(&fixture("test-rs384.pem"), None).unwrap().public_jwks();
        assert_eq!(rsa["keys"][0]["e"], "AQAB");
        assert_eq!(rsa["keys"][0]["alg"], "RS384");
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert_eq!(rsa["keys"][0]["n"].as_str().unwrap().len(), 342);
    }

    #[test]
    fn thumbprint_matches_the_rfc_7638_example() {
        let n = URL_SAFE_NO_PAD
            .decode(concat!(
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn6",
                "4tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n9",
                "1CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
            ))
            .unwrap();
        let mut key = SigningKey::from_pem(&fixture("test-rs384.pem"), None).unwrap();
        key.public = PublicKey::Rsa { n, e: vec![1, 0, 1] };
        assert_eq!(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn unusable_keys_are_refused_in_plain_words() {
        let msg = |pem: &str| SigningKey::from_pem(pem, None).unwrap_err().to_string();
        assert!(msg(&fixture("test-rs384.pub.pem")).contains("needs the private key"), "{}", msg(&fixture("test-rs384.pub.pem")));
        assert!(msg(&fixture("test-es256-wrong-curve.pem")).contains("P-256 key; SMART's ES384 needs a P-384 key"));
        assert!(msg("hello").contains("not a PEM private key"));
        assert!(msg("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n").contains("passphrase"));
        assert!(msg("-----BEGIN PRIVATE KEY-----\nMIIB\n").contains("no END line"));
        assert!(msg("-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n").contains("structure could not be read"));
        let err = SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n", None).unwrap_err();
        assert!(matches!(err, AuthError::InvalidKey(_)));
        assert!(err.to_string().starts_with("The private key cannot be used: "), "{err}");
    }

    #[test]
    fn a_certificate_before_the_key_is_skipped() {
        let pem = format!("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n{}", fixture("test-es384.pem"));
        assert_eq!(SigningKey::from_pem(&pem, None).unwrap().kid(), ES_THUMBPRINT);
    }

    #[test]
    fn debug_does_not_show_key_material() {
        let key = SigningKey::from_pem(&fixture("test-rs384.pem"), None).unwrap();
        assert_eq!(format!("{key:?}"), format!("SigningKey {{ alg: RS384, kid: {RS_THUMBPRINT:?}, .. }}"));
    }

    #[test]
    fn empty_client_id_is_refused() {
        let key = SigningKey::from_pem(&fixture("test-rs384.pem"), None).unwrap();
        assert!(matches!(client_assertion(" ", "https://t", &key, Utc::now()), Err(AuthError::Config(_))));
    }

    /// The RSA key of `test-rs384.pem` in PKCS#1 form (`openssl rsa -traditional`).
    const RS_PKCS1: &str = r"-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAp2diDRTs3+vHEicM8ImSttQAspJmLssJDnzv7+a0q0RnZZ1x
0C/MwVY60jQfOyyKq5EQNZojLYCEFRcIxRG1OJ6zs2DUtZnlYeAwNEEEilGSynQL
1dyO4YBAoJW5wsrVBYEdYXA4MRjdHEEEaXhfqVJxtyx97HzBEk9UZhiY8vTKPbi2
2wqNDLmvlu8cccij41BELfkxHsSAmvVnnvN37w0qblJoMD6Ly0yLOAobzJiKR6dI
CUsRt7VnQoqQS4JYXbckyt1YqBwp9C7enq/JQCob3xTg5brArvum2ksKmZmWO9zR
6yIlh0wLoYrHiwh5cZQForbdJYalYRiZgHICBwIDAQABAoIBABZHFk/aXImSFXxv
cPPjwwAMp4kcHXgVsf9ZFg8texadtErcEITdj5idEpfdsthLnaqmU+tmN087Xph1
58deC2ldCVoSRUxjjhif3ppdmq6Tm37QwbB0uRj+WdtlAYMQPhgM7i2E4x15ixdS
+bTVfZmJbLOtOpbJpWH756XsmRIf1V4bkNz4WwHYU7NUPoH794Qp0E9YhaWmp7ff
ujaIQIidZ3SKbUc5qIfKdsyNcZKymKYFveZHKb9iY2hjyRlxP44AQWw5qg7SEz6h
JQZKEvVqsF/xMPrT6rbg9/ApU18kCPRhJVnDVQ+tD8KrL/4iU0IXpJoNqdkzkMlg
2PEAuQECgYEA0SHjX85UjnkOv2ncamli1/sMpqxQweHgwChxOIXuRygUNMuBTrpv
xOrhLw4eqIm9uMFAidwIVqwAVOlTRlA/qhavbj6yUQwXH2mAOcoTwwQYsfTWWpIp
GGE/xFNjL7yq/tnOont0bM3oyEnm5qCLeZ/9QhgmS6Qv1tP1p4ZAywcCgYEAzOt9
yBnH+UISa4MBPD+Jm1qgnsdU5ZVDDJ3qfYzNn7SGr+zChDYwABYt2UPB+JtGYtjT
u19+/bgXjmZUuujU18Zh8hcT0Wy6f3ohaJnBGrGbVXAIOXN2uZzznc7xuy1+TLKN
aHTl5Ko89adOFyaBXICfTL6zvGD+sLOC49VsUQECgYEApXC+k/sA71ibLxfK06+d
Dyk+P9hPZqGPD9SuhL2G22m8WmunVqWsZ8Y77+KmpEOa/755lNWpDw+wj3upchVn
1+FsVLVqkS0UWbg3RQA0k/D4rEb5D9tSgUPlkyU4cPo697NMgUNSvgRCo7e63zWg
QM4tJo0+NlajtbomOqm9Nh8CgYA/UTxqSd0KXaoHYlFNZmyEfjpHFVxcHAS9r0W3
SXx3rnY3gbaQ15V5UWEVUuRqhr/25vx1VwqMJwfQTjo8DplFmtzEyvCqsyflH72W
7ntGXj6a5aUE63Jx49c6makDpwjxdfJPpl8qipePaASvDozGIlAWjI5I1MednboB
3/46AQKBgAr71gEtWJBUdLpnu+LlHCu0RcuG1dOgx5/UUTQy4ebk4P+G5c/rdeqN
1oKpyPCH4ZJmeGXcID7g+rDUdz/JUAIoIS8cHhJ2WoppbGyEjbdiZCWpbbIPSyHE
BzsBmAY4aA6e5FVYU0JwSf7Sy1ziSmGo3nxtMS6+YqY5jawQmBSV
-----END RSA PRIVATE KEY-----
";

    #[test]
    fn a_pkcs1_rsa_key_gives_the_same_kid_as_its_pkcs8_form() {
        let key = SigningKey::from_pem(RS_PKCS1, None).unwrap();
        assert_eq!(key.algorithm(), Algorithm::RS384);
        assert_eq!(key.kid(), RS_THUMBPRINT);
        let jwt = client_assertion("c", "https://t.example.org/token", &key, Utc::now()).unwrap();
        decode(&jwt, &fixture("test-rs384.pub.pem"), Algorithm::RS384, "https://t.example.org/token");
    }

    /// Test keys made with `openssl genpkey` for this test only: Ed25519; EC P-521; EC P-384
    /// without its public key (`openssl ec -no_public | openssl pkcs8 -topk8 -nocrypt`).
    const ED25519: &str = r"-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIMSX9sHo8WofnBfeIXIUe4Phx5inQjQaH4IrKzTYuSrI
-----END PRIVATE KEY-----
";
    const P521: &str = r"-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIB9b76A0kb3UxumO4n
uxGR24pbuCwd8ZuYrlZG2sjB5GZ5KVta01IrrKwt2StBod4fHbDGJj7CW5D3ru98
qrJ2GpWhgYkDgYYABACAfoPVZFigZUvDaTRfl9x8wKUFeZyAzQ+MGwGdNcpVapQD
2YXWhjWqMyjSUBlY45Epyg0Fp9JL+XpfYMGZ2wP0ewC2CQvSwFGrBc3/z9pk+bIM
6zdspO0Zj6sb7T/cZURN4i1IspufGKVYVdlbtWn/35bGA4ROqqMF5DB03/WooSMu
9w==
-----END PRIVATE KEY-----
";
    const P384_WITHOUT_PUBLIC: &str = r"-----BEGIN PRIVATE KEY-----
ME4CAQAwEAYHKoZIzj0CAQYFK4EEACIENzA1AgEBBDDqG9JbjFGu33f/IYPsPCXc
Kq9pwSVkcw+BemvUT+DWqXLaPXQbBusp1UEOBeiKXn8=
-----END PRIVATE KEY-----
";

    #[test]
    fn other_key_kinds_are_refused_in_plain_words() {
        let msg = |pem: &str| SigningKey::from_pem(pem, None).unwrap_err().to_string();
        assert!(msg(ED25519).ends_with("it is neither an RSA nor an EC key (SMART sign-in uses RS384 or ES384)"), "{}", msg(ED25519));
        assert!(msg(P521).ends_with("it is an EC key on a curve other than P-384; SMART's ES384 needs a P-384 key"), "{}", msg(P521));
        assert!(msg(P384_WITHOUT_PUBLIC).contains("does not include its public key"), "{}", msg(P384_WITHOUT_PUBLIC));
        assert!(msg("-----BEGIN EC PRIVATE KEY-----\nMIIB\n-----END EC PRIVATE KEY-----\n").contains("older SEC1 form"));
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,A51B7CA4930E118219F34D1D3235FF0B\n\nMIIB\n-----END RSA PRIVATE KEY-----\n";
        assert!(msg(legacy).contains("protected by a passphrase"), "{}", msg(legacy));
        assert!(msg("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n").contains("ends with an END line for"));
    }
}
