//! Private keys for SMART Backend Services and the JWT client assertion they sign.
//!
//! The assertion follows SMART App Launch 2.x "Client Authentication: Asymmetric (public key)"
//! and RFC 7523 §3: header `alg` (`RS384` for an RSA key, `ES384` for an EC P-384 key), `kid`,
//! `typ: "JWT"`; claims `iss` = `sub` = client ID, `aud` = the token URL, `exp` no more than five
//! minutes ahead, and a unique `jti`. Signing is done by `jsonwebtoken`.
//!
//! Key ID: the one registered with the EHR when given; otherwise the key's JWK thumbprint
//! (RFC 7638: base64url of the SHA-256 of the canonical public JWK), so the same key always gets
//! the same `kid` and staff can register it from [`SigningKey::public_jwks`]. To compute the
//! thumbprint the public half (RSA `n`, `e`; EC point `x`, `y`) is read from the PKCS#8
//! structure (RFC 5208/5958; RSAPrivateKey of RFC 8017 A.1.2; ECPrivateKey of RFC 5915 with its
//! `publicKey` field) by a small DER reader below, because `jsonwebtoken` 9 does not expose it.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
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
    pub fn from_pem(pem: &str, kid: Option<&str>) -> Result<Self, AuthError> {
        let (label, block, der) = private_key_block(pem)?;
        let (public, encoding) = match label.as_str() {
            "RSA PRIVATE KEY" => {
                let public = rsa_public(&der)?;
                (public, EncodingKey::from_rsa_pem(block.as_bytes()).map_err(|_| bad_key("the RSA key could not be read"))?)
            }
            "PRIVATE KEY" => match pkcs8_public(&der)? {
                public @ PublicKey::Rsa { .. } => {
                    (public, EncodingKey::from_rsa_pem(block.as_bytes()).map_err(|_| bad_key("the RSA key could not be read"))?)
                }
                public @ PublicKey::P384 { .. } => {
                    (public, EncodingKey::from_ec_pem(block.as_bytes()).map_err(|_| bad_key("the EC key could not be read"))?)
                }
            },
            "ENCRYPTED PRIVATE KEY" => {
                return Err(bad_key(
                    "the key file is protected by a passphrase; export it without one \
                     (openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem)",
                ))
            }
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
        jsonwebtoken::crypto::sign(b"MedHarmony Desk key check", &key.encoding, key.algorithm()).map_err(|_| {
            bad_key("it cannot sign (RSA keys need at least 2048 bits; EC keys must be P-384 and include their public key)")
        })?;
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

/// Finds the first PEM block whose label ends in `PRIVATE KEY` (or, failing that, reports what
/// was found). Returns its label, the block's text (BEGIN to END line) and its DER bytes.
fn private_key_block(pem: &str) -> Result<(String, String, Vec<u8>), AuthError> {
    let mut found_other: Option<String> = None;
    let mut lines = pem.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else { continue };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for inner in lines.by_ref() {
            if inner == end {
                closed = true;
                break;
            }
            // RFC 7468 §2: headers (legacy encrypted PEM) contain ':'.
            if inner.contains(':') {
                return Err(bad_key(
                    "the key file is protected by a passphrase; export it without one \
                     (openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem)",
                ));
            }
            body.push_str(inner);
        }
        if !closed {
            return Err(bad_key(&format!("the '{label}' block has no END line")));
        }
        if !label.ends_with("PRIVATE KEY") {
            found_other.get_or_insert_with(|| label.to_string());
            continue;
        }
        let der = STANDARD.decode(body.as_bytes()).map_err(|_| bad_key("the key file's text is damaged (not base64)"))?;
        let block = format!("-----BEGIN {label}-----\n{body}\n{end}\n");
        return Ok((label.to_string(), block, der));
    }
    match found_other {
        Some(label) if label.contains("PUBLIC KEY") || label.contains("CERTIFICATE") => {
            Err(bad_key("this file holds a public key or certificate; MedHarmony Desk needs the private key (the file you keep secret)"))
        }
        Some(label) => Err(bad_key(&format!("the file holds a '{label}', not a private key"))),
        None => Err(bad_key("the file is not a PEM private key (it should start with -----BEGIN PRIVATE KEY-----)")),
    }
}

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_EC_PUBLIC_KEY: u8 = 0xA1;
/// rsaEncryption, 1.2.840.113549.1.1.1.
const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
/// id-ecPublicKey, 1.2.840.10045.2.1.
const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// secp384r1 (P-384), 1.3.132.0.34.
const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
/// prime256v1 (P-256), 1.2.840.10045.3.1.7.
const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// A reader over DER TLVs (definite lengths only, as DER requires).
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next element's tag and contents.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7F);
            if count == 0 || count > 3 || rest.len() < count {
                return None;
            }
            let len = rest[..count].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            rest = &rest[count..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (content, after) = rest.split_at(len);
        self.0 = after;
        Some((tag, content))
    }

    /// The next element's contents when it has tag `tag`.
    fn expect(&mut self, tag: u8) -> Result<&'a [u8], AuthError> {
        match self.next() {
            Some((t, content)) if t == tag => Ok(content),
            _ => Err(bad_key("the key's structure could not be read")),
        }
    }
}

/// An unsigned big-endian integer without leading zero bytes (JWK form).
fn unsigned(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    bytes[start..].to_vec()
}

/// `n` and `e` from an RSAPrivateKey (PKCS#1, RFC 8017 A.1.2).
fn rsa_public(der: &[u8]) -> Result<PublicKey, AuthError> {
    let mut fields = Der(Der(der).expect(TAG_SEQUENCE)?);
    fields.expect(TAG_INTEGER)?; // version
    let n = unsigned(fields.expect(TAG_INTEGER)?);
    let e = unsigned(fields.expect(TAG_INTEGER)?);
    Ok(PublicKey::Rsa { n, e })
}

/// The public key inside a PKCS#8 PrivateKeyInfo (RFC 5208 §5 / RFC 5958 §2).
fn pkcs8_public(der: &[u8]) -> Result<PublicKey, AuthError> {
    let mut info = Der(Der(der).expect(TAG_SEQUENCE)?);
    info.expect(TAG_INTEGER)?; // version
    let mut algorithm = Der(info.expect(TAG_SEQUENCE)?);
    let oid = algorithm.expect(TAG_OID)?;
    let private_key = info.expect(TAG_OCTET_STRING)?;
    if oid == OID_RSA {
        return rsa_public(private_key);
    }
    if oid != OID_EC {
        return Err(bad_key("it is neither an RSA nor an EC key (SMART sign-in uses RS384 or ES384)"));
    }
    match algorithm.expect(TAG_OID)? {
        curve if curve == OID_P384 => {}
        curve if curve == OID_P256 => return Err(bad_key("it is an EC P-256 key; SMART's ES384 needs a P-384 key")),
        _ => return Err(bad_key("it is an EC key on a curve other than P-384; SMART's ES384 needs a P-384 key")),
    }
    // ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, [0] parameters OPTIONAL, [1] publicKey OPTIONAL }
    let mut ec = Der(Der(private_key).expect(TAG_SEQUENCE)?);
    ec.expect(TAG_INTEGER)?;
    ec.expect(TAG_OCTET_STRING)?;
    while let Some((tag, content)) = ec.next() {
        if tag != TAG_EC_PUBLIC_KEY {
            continue;
        }
        let bits = Der(content).expect(TAG_BIT_STRING)?;
        // No unused bits, then an uncompressed point 0x04 || X || Y (SEC 1 §2.3.3).
        if let [0, 4, point @ ..] = bits {
            if point.len() == 96 {
                return Ok(PublicKey::P384 { x: point[..48].to_vec(), y: point[48..].to_vec() });
            }
        }
        return Err(bad_key("the EC key's public point could not be read"));
    }
    Err(bad_key("the EC key file does not include its public key; export it again with openssl pkcs8 -topk8 -nocrypt"))
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
}
