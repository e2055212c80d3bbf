//! The practice's fill settings, kept in the store (table `desk_settings`, key `fill`, one JSON
//! document; migration 10): language-model re-ranking switched on or off, quiet hours for opening
//! notifications, the staff names offered when the desk starts, and how long an offer holds a slot.
//!
//! Never a secret: the language model's API key stays in the keychain
//! ([`super::llm::API_KEY_ACCOUNT`]). The environment variables of [`super::llm::LlmSettings::from_env`]
//! still win over the stored model settings, so a headless service can be pointed elsewhere.

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::llm::{LlmSettings, API_KEY_ACCOUNT, DEFAULT_TIMEOUT, DEFAULT_TOP_N};
use super::offer::DEFAULT_HOLD_MINUTES;
use crate::store::key::KeyVault;
use crate::store::{Result, Store, StoreError};

/// The `desk_settings` key of [`FillSettings`].
pub const SETTINGS_KEY: &str = "fill";
/// How many staff names the start-up picker remembers (10).
pub const MAX_STAFF_NAMES: usize = 10;

/// The language model the practice switched on (an OpenAI-compatible Chat Completions server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmConfig {
    /// Base URL without `/chat/completions`, e.g. [`super::llm::OPENROUTER_BASE_URL`] or
    /// [`super::llm::OLLAMA_BASE_URL`].
    pub base_url: String,
    /// The model's name as the server spells it.
    pub model: String,
    /// Time allowed for one request, in whole seconds (default 8).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// How many of the deterministic top candidates are sent (default 10).
    #[serde(default = "default_top_n")]
    pub top_n: usize,
}

fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT.as_secs()
}

fn default_top_n() -> usize {
    DEFAULT_TOP_N
}

fn default_hold_minutes() -> i64 {
    DEFAULT_HOLD_MINUTES
}

/// Quiet hours for opening notifications, on the desk computer's clock: from `start` (included)
/// to `end` (excluded), wrapping past midnight when `end` is earlier than `start` (`19:00`–`07:00`).
/// Openings found during quiet hours are still listed in the app; only the notification is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// First quiet minute, local wall-clock time (`HH:MM`).
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    /// First minute that is no longer quiet, local wall-clock time (`HH:MM`).
    #[serde(with = "hhmm")]
    pub end: NaiveTime,
}

impl QuietHours {
    /// Quiet hours from two `HH:MM` times.
    ///
    /// # Errors
    /// Plain words when a time is not `HH:MM` or both are the same.
    pub fn parse(start: &str, end: &str) -> std::result::Result<Self, String> {
        let t = |s: &str, which: &str| {
            NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| format!("the quiet hours' {which} time '{}' is not a time like 19:00", s.trim()))
        };
        let q = QuietHours { start: t(start, "start")?, end: t(end, "end")? };
        if q.start == q.end {
            return Err("quiet hours must start and end at different times".into());
        }
        Ok(q)
    }

    /// True when the local wall-clock time `local` falls in the quiet hours.
    pub fn contains(&self, local: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        NaiveTime::parse_from_str(&s, "%H:%M").map_err(serde::de::Error::custom)
    }
}

/// The practice's fill settings (JSON in `desk_settings`; every field has a default, so a
/// document written by an older build still reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillSettings {
    /// The language model that re-ranks suggestions; `None`: deterministic ranking only.
    #[serde(default)]
    pub llm: Option<LlmConfig>,
    /// Quiet hours for opening notifications; `None`: notify at any time.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// Staff names offered when the desk starts, most recent first (at most [`MAX_STAFF_NAMES`]).
    #[serde(default)]
    pub staff_names: Vec<String>,
    /// How long an offer holds a slot, in minutes (default 15).
    #[serde(default = "default_hold_minutes")]
    pub hold_minutes: i64,
}

impl Default for FillSettings {
    fn default() -> Self {
        FillSettings { llm: None, quiet_hours: None, staff_names: Vec::new(), hold_minutes: DEFAULT_HOLD_MINUTES }
    }
}

impl FillSettings {
    /// Puts `name` (trimmed) first in [`FillSettings::staff_names`], without duplicates (case-insensitive),
    /// keeping at most [`MAX_STAFF_NAMES`]. A blank name changes nothing.
    pub fn remember_staff(&mut self, name: &str) {
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        self.staff_names.retain(|n| !n.eq_ignore_ascii_case(name));
        self.staff_names.insert(0, name.to_string());
        self.staff_names.truncate(MAX_STAFF_NAMES);
    }

    /// Checks the settings before they are saved.
    ///
    /// # Errors
    /// Plain words naming the setting: a model without base URL or name, a base URL that is not
    /// `http(s)://`, a timeout outside 1–120 s, a top N outside 1–50, a hold outside 1–240 minutes.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let Some(l) = &self.llm {
            let url = l.base_url.trim();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("the language model's address must start with https:// (or http:// for a server on this computer), not '{url}'"));
            }
            if l.model.trim().is_empty() {
                return Err("name the language model to ask (for example llama3.1:8b)".into());
            }
            if !(1..=120).contains(&l.timeout_secs) {
                return Err("the language model's time limit must be between 1 and 120 seconds".into());
            }
            if !(1..=50).contains(&l.top_n) {
                return Err("the number of patients sent to the language model must be between 1 and 50".into());
            }
        }
        if !(1..=240).contains(&self.hold_minutes) {
            return Err("an offer must hold a time for 1 to 240 minutes".into());
        }
        Ok(())
    }
}

impl Store {
    /// The practice's fill settings; the defaults when none were saved.
    ///
    /// # Errors
    /// Store errors; [`StoreError::Corrupt`] when the saved document cannot be read.
    pub fn fill_settings(&self) -> Result<FillSettings> {
        match self.desk_setting(SETTINGS_KEY)? {
            None => Ok(FillSettings::default()),
            Some(v) => serde_json::from_str(&v).map_err(|e| StoreError::Corrupt(format!("fill settings: {e}"))),
        }
    }

    /// Saves the practice's fill settings (after [`FillSettings::validate`]).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] with the validation's words; store errors.
    pub fn save_fill_settings(&mut self, settings: &FillSettings, now: DateTime<Utc>) -> Result<()> {
        settings.validate().map_err(StoreError::Invalid)?;
        self.set_desk_setting(SETTINGS_KEY, &serde_json::to_string(settings).expect("plain data serializes"), now)
    }
}

impl LlmSettings {
    /// The model to ask: the environment's when [`super::llm::ENV_BASE_URL`] is set
    /// ([`LlmSettings::from_env`]), else the practice's saved [`LlmConfig`] with the API key from
    /// the keychain account [`API_KEY_ACCOUNT`] (a keychain that cannot be used counts as no key);
    /// `None` when neither switches a model on.
    ///
    /// # Errors
    /// The environment's problem in plain words; a saved document that cannot be read.
    pub fn resolve(store: &Store, vault: &dyn KeyVault) -> std::result::Result<Option<Self>, String> {
        if let Some(s) = Self::from_env(vault)? {
            return Ok(Some(s));
        }
        let settings = store.fill_settings().map_err(|e| e.to_string())?;
        Ok(settings.llm.map(|c| {
            let mut s = LlmSettings::new(&c.base_url, &c.model);
            s.timeout = std::time::Duration::from_secs(c.timeout_secs.max(1));
            s.top_n = c.top_n.max(1);
            s.api_key = vault.get(API_KEY_ACCOUNT).ok().flatten().filter(|k| !k.is_empty());
            s
        }))
    }
}

/// A vault with no secrets: [`LlmSettings::is_switched_on`] asks whether a model is set up
/// without reading the keychain (which can be a round trip to the OS service).
struct NoSecrets;

impl KeyVault for NoSecrets {
    fn get(&self, _: &str) -> std::result::Result<Option<String>, String> {
        Ok(None)
    }
    fn set(&self, _: &str, _: &str) -> std::result::Result<(), String> {
        Err("not a keychain".into())
    }
    fn delete(&self, _: &str) -> std::result::Result<(), String> {
        Ok(())
    }
}

impl LlmSettings {
    /// True when [`LlmSettings::resolve`] would give a model (the environment's, else the
    /// practice's saved one), without reading the API key from the keychain.
    ///
    /// # Errors
    /// The same as [`LlmSettings::resolve`].
    pub fn is_switched_on(store: &Store) -> std::result::Result<bool, String> {
        Ok(Self::resolve(store, &NoSecrets)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::key::{DbKey, MemoryVault};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn hm(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    #[test]
    fn quiet_hours_wrap_past_midnight_and_are_half_open() {
        let night = QuietHours::parse("19:00", "07:00").unwrap();
        assert!(night.contains(hm("19:00")));
        assert!(night.contains(hm("23:59")));
        assert!(night.contains(hm("00:00")));
        assert!(night.contains(hm("06:59")));
        assert!(!night.contains(hm("07:00")));
        assert!(!night.contains(hm("18:59")));
        let lunch = QuietHours::parse("12:00", "13:00").unwrap();
        assert!(lunch.contains(hm("12:30")));
        assert!(!lunch.contains(hm("13:00")));
        assert!(!lunch.contains(hm("11:59")));
        assert_eq!(QuietHours::parse("7pm", "07:00").unwrap_err(), "the quiet hours' start time '7pm' is not a time like 19:00");
        assert_eq!(QuietHours::parse("08:00", "08:00").unwrap_err(), "quiet hours must start and end at different times");
    }

    #[test]
    fn staff_names_are_remembered_most_recent_first() {
        let mut s = FillSettings::default();
        for n in ["Maria", "Ana", " maria ", "", "Luis"] {
            s.remember_staff(n);
        }
        assert_eq!(s.staff_names, ["Luis", "maria", "Ana"]);
        for i in 0..20 {
            s.remember_staff(&format!("Temp {i}"));
        }
        assert_eq!(s.staff_names.len(), MAX_STAFF_NAMES);
        assert_eq!(s.staff_names[0], "Temp 19");
    }

    #[test]
    fn settings_round_trip_through_a_real_store_and_resolve_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db"), &DbKey::Raw([5; 32])).unwrap();
        assert_eq!(store.fill_settings().unwrap(), FillSettings::default());
        let vault = MemoryVault::default();
        // Nothing switched on (and no environment setting in this test process): no model.
        if std::env::var(super::super::llm::ENV_BASE_URL).is_err() {
            assert!(LlmSettings::resolve(&store, &vault).unwrap().is_none());
            assert!(!LlmSettings::is_switched_on(&store).unwrap());
        }
        let mut s = FillSettings {
            llm: Some(LlmConfig { base_url: "http://127.0.0.1:11434/v1/".into(), model: "llama3.1:8b".into(), timeout_secs: 5, top_n: 7 }),
            quiet_hours: Some(QuietHours::parse("19:00", "07:00").unwrap()),
            ..FillSettings::default()
        };
        s.remember_staff("Maria");
        store.save_fill_settings(&s, t("2026-03-01T12:00:00Z")).unwrap();
        assert_eq!(store.fill_settings().unwrap(), s);
        let raw = store.desk_setting(SETTINGS_KEY).unwrap().unwrap();
        assert!(raw.contains(r#""start":"19:00""#), "{raw}");
        vault.set(API_KEY_ACCOUNT, "sk-test").unwrap();
        if std::env::var(super::super::llm::ENV_BASE_URL).is_err() {
            let m = LlmSettings::resolve(&store, &vault).unwrap().expect("switched on");
            assert_eq!((m.base_url.as_str(), m.model.as_str(), m.top_n), ("http://127.0.0.1:11434/v1", "llama3.1:8b", 7));
            assert_eq!(m.timeout, std::time::Duration::from_secs(5));
            assert_eq!(m.api_key.as_deref(), Some("sk-test"));
            assert!(LlmSettings::is_switched_on(&store).unwrap());
        }
        // Invalid settings are refused and the saved ones stay.
        let bad = FillSettings { hold_minutes: 0, ..s.clone() };
        let e = store.save_fill_settings(&bad, t("2026-03-01T12:01:00Z")).unwrap_err();
        assert!(e.to_string().contains("1 to 240 minutes"), "{e}");
        assert_eq!(store.fill_settings().unwrap(), s);
        // A document from an older build without the newer fields still reads, with defaults.
        store.set_desk_setting(SETTINGS_KEY, r#"{"staff_names":["Ana"]}"#, t("2026-03-01T12:02:00Z")).unwrap();
        let old = store.fill_settings().unwrap();
        assert_eq!((old.staff_names, old.hold_minutes, old.llm), (vec!["Ana".to_string()], DEFAULT_HOLD_MINUTES, None));
    }
}
