//! The database key: where it comes from and how it is kept.
//!
//! Order of precedence (issue: "Engine and CLI", store section):
//! 1. `MEDHARMONY_DB_KEY` when set (scripts, CI, headless servers without a
//!    keychain): 64 hex digits are used as a raw 256-bit SQLCipher key, any
//!    other text as a passphrase (SQLCipher derives the key with PBKDF2).
//! 2. The OS keychain (`keyring`): one entry per database file. On first use
//!    of a new database a random 256-bit key is generated and stored there.
//! 3. Neither: [`KeyError`] with a plain explanation. There is never a silent
//!    plaintext default.

use std::path::Path;

use thiserror::Error;

/// Name of the environment variable that overrides the keychain.
pub const KEY_ENV: &str = "MEDHARMONY_DB_KEY";

/// Keychain service name. Debug builds use their own, so development never
/// reads or overwrites a release installation's secrets.
pub const KEYCHAIN_SERVICE: &str = if cfg!(debug_assertions) { "MedHarmony Desk (dev)" } else { "MedHarmony Desk" };

/// A SQLCipher key.
#[derive(Clone, PartialEq, Eq)]
pub enum DbKey {
    /// A raw 256-bit key (no key derivation on open).
    Raw([u8; 32]),
    /// A passphrase; SQLCipher derives the key (PBKDF2-HMAC-SHA512).
    Passphrase(String),
}

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        match self {
            DbKey::Raw(_) => f.write_str("DbKey::Raw(<redacted>)"),
            DbKey::Passphrase(_) => f.write_str("DbKey::Passphrase(<redacted>)"),
        }
    }
}

impl DbKey {
    /// Reads a key as given in `MEDHARMONY_DB_KEY`: 64 hex digits are a raw
    /// key, anything else non-empty is a passphrase.
    ///
    /// # Errors
    /// [`KeyError::EmptyEnv`] for an empty value.
    pub fn from_env_value(value: &str) -> Result<Self, KeyError> {
        let v = value.trim();
        if v.is_empty() {
            return Err(KeyError::EmptyEnv);
        }
        if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut raw = [0u8; 32];
            hex::decode_to_slice(v, &mut raw).map_err(|_| KeyError::EmptyEnv)?;
            return Ok(DbKey::Raw(raw));
        }
        Ok(DbKey::Passphrase(v.to_string()))
    }

    /// A fresh random 256-bit key from the OS random source.
    ///
    /// # Errors
    /// [`KeyError::Random`] when the OS cannot provide randomness.
    pub fn generate() -> Result<Self, KeyError> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(DbKey::Raw(raw))
    }

    /// The value of SQLCipher's `PRAGMA key`, already quoted for SQL:
    /// `"x'<hex>'"` for a raw key, a single-quoted string for a passphrase.
    pub(crate) fn pragma_value(&self) -> String {
        match self {
            DbKey::Raw(raw) => format!("\"x'{}'\"", hex::encode(raw)),
            DbKey::Passphrase(p) => format!("'{}'", p.replace('\'', "''")),
        }
    }

    fn to_keychain_secret(&self) -> String {
        match self {
            DbKey::Raw(raw) => hex::encode(raw),
            DbKey::Passphrase(p) => p.clone(),
        }
    }
}

/// Why no key could be had.
#[derive(Debug, Error)]
pub enum KeyError {
    /// `MEDHARMONY_DB_KEY` is set but empty.
    #[error("MEDHARMONY_DB_KEY is set but empty; set it to a passphrase or 64 hex digits, or unset it to use the keychain")]
    EmptyEnv,
    /// No keychain (secret service) is available and no env key is set.
    #[error("the database is encrypted and needs a key, but this computer has no keychain MedHarmony can use ({detail}); set MEDHARMONY_DB_KEY to a passphrase or 64 hex digits")]
    NoKeychain {
        /// What the keychain said, without any secret.
        detail: String,
    },
    /// The database exists but its key is not in the keychain.
    #[error("the database {path} already exists but its key is not in this computer's keychain; set MEDHARMONY_DB_KEY to the key it was created with")]
    MissingForExisting {
        /// The database file.
        path: String,
    },
    /// The OS could not provide random bytes.
    #[error("could not generate a database key: {0}")]
    Random(String),
}

/// Where keys are kept: the OS keychain in the product, an in-memory map in tests.
pub trait KeyVault {
    /// The stored secret for `account`, `Ok(None)` when there is none.
    ///
    /// # Errors
    /// A description of why the vault cannot be used (no secret service, locked).
    fn get(&self, account: &str) -> Result<Option<String>, String>;
    /// Stores `secret` for `account`.
    ///
    /// # Errors
    /// A description of why the vault cannot be used.
    fn set(&self, account: &str, secret: &str) -> Result<(), String>;
    /// Removes the secret for `account`; removing one that is not there is not an error.
    ///
    /// # Errors
    /// A description of why the vault cannot be used.
    fn delete(&self, account: &str) -> Result<(), String>;
}

/// The OS keychain through `keyring` (Secret Service on Linux, Keychain on
/// macOS, Credential Manager on Windows), service [`KEYCHAIN_SERVICE`].
pub struct OsKeychain;

impl KeyVault for OsKeychain {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        let entry = keyring::Entry::new(KEYCHAIN_SERVICE, account).map_err(|e| e.to_string())?;
        match entry.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, account: &str, secret: &str) -> Result<(), String> {
        let entry = keyring::Entry::new(KEYCHAIN_SERVICE, account).map_err(|e| e.to_string())?;
        entry.set_password(secret).map_err(|e| e.to_string())
    }

    fn delete(&self, account: &str) -> Result<(), String> {
        let entry = keyring::Entry::new(KEYCHAIN_SERVICE, account).map_err(|e| e.to_string())?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// A keychain kept in memory, shared by its clones: for tests and benchmarks, which must never
/// touch the computer's own keychain. The product never uses it.
#[derive(Debug, Clone, Default)]
pub struct MemoryVault(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>);

impl MemoryVault {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The secret stored under `account`, if any.
    pub fn secret(&self, account: &str) -> Option<String> {
        self.map().get(account).cloned()
    }

    /// Every `(account, secret)`, sorted by account.
    pub fn entries(&self) -> Vec<(String, String)> {
        let mut all: Vec<_> = self.map().iter().map(|(a, s)| (a.clone(), s.clone())).collect();
        all.sort();
        all
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }
}

impl KeyVault for MemoryVault {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        Ok(self.secret(account))
    }
    fn set(&self, account: &str, secret: &str) -> Result<(), String> {
        self.map().insert(account.into(), secret.into());
        Ok(())
    }
    fn delete(&self, account: &str) -> Result<(), String> {
        self.map().remove(account);
        Ok(())
    }
}

/// A vault whose accounts belong to one database file: every account is
/// prefixed with the database's absolute path, so two databases on one
/// computer (a practice's and a test's, or two practices') never read,
/// overwrite or delete each other's integration secrets. Accounts look like
/// `/home/desk/.local/share/…/medharmony.db|integration:Main St Epic:private-key`.
pub struct DatabaseVault<V: KeyVault> {
    inner: V,
    prefix: String,
}

impl<V: KeyVault> DatabaseVault<V> {
    /// Secrets of the database at `db_path` (made absolute when it is not) kept in `inner`.
    pub fn new(inner: V, db_path: &Path) -> Self {
        let abs = std::path::absolute(db_path).unwrap_or_else(|_| db_path.to_path_buf());
        DatabaseVault { inner, prefix: format!("{}|", abs.display()) }
    }

    fn scoped(&self, account: &str) -> String {
        format!("{}{account}", self.prefix)
    }
}

impl<V: KeyVault> KeyVault for DatabaseVault<V> {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        self.inner.get(&self.scoped(account))
    }
    fn set(&self, account: &str, secret: &str) -> Result<(), String> {
        self.inner.set(&self.scoped(account), secret)
    }
    fn delete(&self, account: &str) -> Result<(), String> {
        self.inner.delete(&self.scoped(account))
    }
}

/// The keychain account name for a database file: `database-key:<absolute path>`.
pub fn account_for(db_path: &Path) -> String {
    let abs = std::path::absolute(db_path).unwrap_or_else(|_| db_path.to_path_buf());
    format!("database-key:{}", abs.display())
}

/// Resolves the key for `db_path` following the module's order of precedence.
/// `env_value` is the value of [`KEY_ENV`] if set. A key is generated and
/// stored in `vault` only when the database file does not exist yet (or is empty).
///
/// # Errors
/// [`KeyError`] when no key can be had; never falls back to no encryption.
pub fn resolve_key(db_path: &Path, env_value: Option<&str>, vault: &dyn KeyVault) -> Result<DbKey, KeyError> {
    if let Some(v) = env_value {
        return DbKey::from_env_value(v);
    }
    let account = account_for(db_path);
    let stored = vault.get(&account).map_err(|detail| KeyError::NoKeychain { detail })?;
    if let Some(secret) = stored {
        return DbKey::from_env_value(&secret);
    }
    let exists = std::fs::metadata(db_path).map(|m| m.len() > 0).unwrap_or(false);
    if exists {
        return Err(KeyError::MissingForExisting { path: db_path.display().to_string() });
    }
    let key = DbKey::generate()?;
    vault
        .set(&account, &key.to_keychain_secret())
        .map_err(|detail| KeyError::NoKeychain { detail })?;
    Ok(key)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// In-memory vault for tests; `broken` simulates a machine without a keychain.
    #[derive(Default)]
    pub struct MemVault {
        pub map: RefCell<HashMap<String, String>>,
        pub broken: bool,
    }

    impl KeyVault for MemVault {
        fn get(&self, account: &str) -> Result<Option<String>, String> {
            if self.broken {
                return Err("no secret service".into());
            }
            Ok(self.map.borrow().get(account).cloned())
        }
        fn set(&self, account: &str, secret: &str) -> Result<(), String> {
            if self.broken {
                return Err("no secret service".into());
            }
            self.map.borrow_mut().insert(account.into(), secret.into());
            Ok(())
        }
        fn delete(&self, account: &str) -> Result<(), String> {
            if self.broken {
                return Err("no secret service".into());
            }
            self.map.borrow_mut().remove(account);
            Ok(())
        }
    }

    #[test]
    fn env_value_forms() {
        let hex64 = "ab".repeat(32);
        assert_eq!(DbKey::from_env_value(&hex64).unwrap(), DbKey::Raw([0xab; 32]));
        assert_eq!(DbKey::from_env_value("correct horse").unwrap(), DbKey::Passphrase("correct horse".into()));
        assert!(matches!(DbKey::from_env_value("  "), Err(KeyError::EmptyEnv)));
        assert_eq!(DbKey::Passphrase("it's".into()).pragma_value(), "'it''s'");
    }

    #[test]
    fn generates_once_then_reuses_and_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let vault = MemVault::default();
        let k1 = resolve_key(&db, None, &vault).unwrap();
        let k2 = resolve_key(&db, None, &vault).unwrap();
        assert_eq!(k1, k2);
        assert!(matches!(k1, DbKey::Raw(_)));
        assert_eq!(vault.map.borrow().len(), 1);
        let k3 = resolve_key(&db, Some("pass"), &vault).unwrap();
        assert_eq!(k3, DbKey::Passphrase("pass".into()));
    }

    #[test]
    fn no_keychain_and_no_env_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let vault = MemVault { broken: true, ..Default::default() };
        let err = resolve_key(&dir.path().join("a.db"), None, &vault).unwrap_err();
        assert!(err.to_string().contains("MEDHARMONY_DB_KEY"), "{err}");
    }

    #[test]
    fn existing_database_without_stored_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        std::fs::write(&db, b"not empty").unwrap();
        let err = resolve_key(&db, None, &MemVault::default()).unwrap_err();
        assert!(matches!(err, KeyError::MissingForExisting { .. }));
    }

    #[test]
    fn database_vaults_keep_their_secrets_apart() {
        let shared = std::rc::Rc::new(MemVault::default());
        struct Shared(std::rc::Rc<MemVault>);
        impl KeyVault for Shared {
            fn get(&self, a: &str) -> Result<Option<String>, String> {
                self.0.get(a)
            }
            fn set(&self, a: &str, s: &str) -> Result<(), String> {
                self.0.set(a, s)
            }
            fn delete(&self, a: &str) -> Result<(), String> {
                self.0.delete(a)
            }
        }
        let a = DatabaseVault::new(Shared(shared.clone()), Path::new("/data/a.db"));
        let b = DatabaseVault::new(Shared(shared.clone()), Path::new("/data/b.db"));
        a.set("integration:Epic:private-key", "key-a").unwrap();
        b.set("integration:Epic:private-key", "key-b").unwrap();
        assert_eq!(a.get("integration:Epic:private-key").unwrap().as_deref(), Some("key-a"));
        b.delete("integration:Epic:private-key").unwrap();
        assert_eq!(a.get("integration:Epic:private-key").unwrap().as_deref(), Some("key-a"));
        assert_eq!(b.get("integration:Epic:private-key").unwrap(), None);
        assert!(shared.map.borrow().contains_key("/data/a.db|integration:Epic:private-key"));
    }
}
