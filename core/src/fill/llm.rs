//! Optional re-ranking of fill candidates by a language model, over any
//! OpenAI-compatible Chat Completions endpoint (`POST {base_url}/chat/completions`).
//!
//! Rules:
//! * **De-identified**: the request carries only opaque ids (`c1`, `c2`, … in the
//!   deterministic order) and relative features: priority tier, days waiting, hours
//!   of notice, hours beyond the patient's minimum notice, and yes/no for each
//!   preference (preferred times, provider, location, visit type). Never a name,
//!   contact, date of birth, source-system id or calendar date.
//! * **Structured output**: `response_format` is `{"type": "json_schema", "json_schema":
//!   {"name", "strict": true, "schema"}}` (OpenAI "Structured Outputs"; OpenRouter and
//!   Ollama's OpenAI-compatible API accept the same form). The schema ([`response_schema`])
//!   allows only the sent ids (`enum`), at most N items (`maxItems`), each with a short `reason`.
//! * **Validated**: the reply's content is checked against that same schema with the
//!   `jsonschema` crate; duplicate ids are refused too. Anything else, a reply cut short
//!   (`finish_reason: "length"`), a refusal, an `error` object inside an HTTP 200, malformed
//!   JSON, a timeout, an HTTP error, or HTTP 429 (its `Retry-After` is honoured once when it is
//!   at most [`MAX_RETRY_AFTER`], otherwise the model is not asked again) keeps the
//!   deterministic ranking, with a `fallback_reason` in plain words.
//! * **Tiers hold**: the model may reorder only within a priority tier. After its reply
//!   the list is stable-sorted by tier again, so an urgent patient never lands below a
//!   routine one. Sent ids the model left out keep their deterministic order after the
//!   ones it ranked; candidates beyond the top N (never sent) follow in deterministic order.
//! * The model only orders; it never books anything.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::filter::FillSlot;
use super::model::is_any;
use super::rank::Candidate;
use crate::store::key::KeyVault;

/// OpenRouter's OpenAI-compatible base URL. Patient scheduling data, even de-identified,
/// should go to a hosted model only under a Business Associate Agreement (HIPAA) with the
/// provider of the model; check that one is in place before using a hosted service.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// A local Ollama server's OpenAI-compatible base URL (nothing leaves the computer).
pub const OLLAMA_BASE_URL: &str = "http://127.0.0.1:11434/v1";
/// Keychain account of the API key (in the database's [`crate::store::key::DatabaseVault`]).
pub const API_KEY_ACCOUNT: &str = "llm:api-key";
/// Default time allowed for one request (8 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(8);
/// Default number of candidates sent (10).
pub const DEFAULT_TOP_N: usize = 10;
/// The longest `Retry-After` of a 429 that is waited for once (2 s); a longer one falls back at once.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

/// Environment variables read by [`LlmSettings::from_env`].
pub const ENV_BASE_URL: &str = "MEDHARMONY_LLM_BASE_URL";
/// Model name, e.g. `llama3.1:8b` or `openai/gpt-4o-mini`.
pub const ENV_MODEL: &str = "MEDHARMONY_LLM_MODEL";
/// Request timeout in whole seconds.
pub const ENV_TIMEOUT: &str = "MEDHARMONY_LLM_TIMEOUT_SECS";
/// Candidates sent.
pub const ENV_TOP_N: &str = "MEDHARMONY_LLM_TOP_N";
/// API key for headless use (otherwise the keychain account [`API_KEY_ACCOUNT`]).
pub const ENV_API_KEY: &str = "MEDHARMONY_LLM_API_KEY";

/// Where and how to ask the model.
#[derive(Clone)]
pub struct LlmSettings {
    /// Base URL without the trailing `/chat/completions`, e.g. [`OLLAMA_BASE_URL`].
    pub base_url: String,
    /// Model name as the service spells it.
    pub model: String,
    /// Bearer token, if the service needs one (from the keychain or [`ENV_API_KEY`]; never stored in SQLite).
    pub api_key: Option<String>,
    /// Time allowed for one request (connect, send and read).
    pub timeout: Duration,
    /// How many of the deterministic top candidates are sent (the model ranks at most this many).
    pub top_n: usize,
}

impl fmt::Debug for LlmSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .field("top_n", &self.top_n)
            .finish()
    }
}

impl LlmSettings {
    /// Settings with the default timeout and top N, no API key.
    pub fn new(base_url: &str, model: &str) -> Self {
        LlmSettings {
            base_url: base_url.trim().trim_end_matches('/').to_string(),
            model: model.trim().to_string(),
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
            top_n: DEFAULT_TOP_N,
        }
    }

    /// Settings from the environment: `None` when [`ENV_BASE_URL`] is unset or empty (no re-ranking).
    /// [`ENV_MODEL`] is required with it; [`ENV_TIMEOUT`] (seconds, default 8) and [`ENV_TOP_N`]
    /// (default 10) are optional. The API key is [`ENV_API_KEY`] if set, else the keychain
    /// account [`API_KEY_ACCOUNT`] in `vault` (a keychain that cannot be used counts as no key).
    ///
    /// # Errors
    /// A plain-words problem naming the variable.
    pub fn from_env(vault: &dyn KeyVault) -> Result<Option<Self>, String> {
        let var = |k: &str| std::env::var(k).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let Some(base) = var(ENV_BASE_URL) else { return Ok(None) };
        let model = var(ENV_MODEL).ok_or_else(|| format!("{ENV_BASE_URL} is set but {ENV_MODEL} is not; name the model to ask"))?;
        let mut s = LlmSettings::new(&base, &model);
        if let Some(t) = var(ENV_TIMEOUT) {
            let secs: u64 = t.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("{ENV_TIMEOUT} must be a whole number of seconds ≥ 1"))?;
            s.timeout = Duration::from_secs(secs);
        }
        if let Some(n) = var(ENV_TOP_N) {
            s.top_n = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("{ENV_TOP_N} must be a whole number ≥ 1"))?;
        }
        s.api_key = var(ENV_API_KEY).or_else(|| match vault.get(API_KEY_ACCOUNT) {
            Ok(k) => k.filter(|k| !k.is_empty()),
            Err(_) => {
                tracing::debug!("keychain not usable for the language-model key; asking without one");
                None
            }
        });
        Ok(Some(s))
    }
}

/// Who decided the final order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RankedBy {
    /// The deterministic ranking ([`super::rank`]).
    Deterministic,
    /// The language model's order (tiers still enforced).
    Llm,
}

/// The outcome of [`rerank`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reranked {
    /// Every candidate given, in the final order, each with the model's short reason if it gave one.
    pub order: Vec<(Candidate, Option<String>)>,
    /// Who decided the order.
    pub ranked_by: RankedBy,
    /// Why the model's order was not used, in plain words; `None` when it was.
    pub fallback_reason: Option<String>,
}

/// The JSON Schema of the reply: `{"ranking": [{"id": one of ids, "reason": string ≤ 200}, …]}`
/// with at most `max_items` entries, no other properties.
pub fn response_schema(ids: &[String], max_items: usize) -> Value {
    json!({
        "type": "object",
        "properties": {
            "ranking": {
                "type": "array",
                "maxItems": max_items,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "string", "enum": ids },
                        "reason": { "type": "string", "maxLength": 200 }
                    },
                    "required": ["id", "reason"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["ranking"],
        "additionalProperties": false
    })
}

const SYSTEM_PROMPT: &str = "You help a medical front desk fill a cancelled appointment slot from its waitlist. \
Each candidate can take the slot; you see only de-identified, relative features. \
Order the candidates by how well the slot serves them and how likely they are to accept it at this notice: \
clinical priority first (urgent, then soon, then routine; never rank a lower priority above a higher one), \
then longer waiting, a slot inside a preferred time, comfortable notice. \
Answer only with JSON that follows the given schema: the candidate ids, best first, each with a reason of at most 15 words.";

/// The de-identified features of one candidate, with its opaque id.
fn features(id: &str, c: &Candidate, slot: &FillSlot) -> Value {
    let p = &c.entry.patient;
    let w = &p.wants;
    let asked_provider = w.provider.as_deref().is_some_and(|s| !is_any(s));
    let asked_type = w.service_type.as_deref().is_some_and(|s| !is_any(s)) && slot.service_type.is_some();
    json!({
        "id": id,
        "priority": p.priority.code(),
        "days_waiting": c.days_waiting,
        "hours_of_notice": c.notice_hours,
        "hours_beyond_minimum_notice": (c.notice_hours - i64::from(p.prefs.min_notice_hours)).max(0),
        "has_preferred_times": !p.prefs.preferred_times.is_empty(),
        "inside_preferred_time": c.preferred_window.is_some(),
        "asked_for_this_provider": asked_provider,
        "asked_for_this_location": !w.locations.is_empty(),
        "asked_for_this_visit_type": asked_type,
        "visit_fills_slot": w.duration_minutes.map(|m| i64::from(m) * 60 >= slot.span.duration().num_seconds()),
    })
}

/// The Chat Completions request for `candidates` (already cut to the top N): the body and the
/// opaque ids in the same order (`c1` is `candidates[0]`).
pub fn request_body(settings: &LlmSettings, candidates: &[Candidate], slot: &FillSlot) -> (Value, Vec<String>) {
    let ids: Vec<String> = (1..=candidates.len()).map(|i| format!("c{i}")).collect();
    let feats: Vec<Value> = ids.iter().zip(candidates).map(|(id, c)| features(id, c, slot)).collect();
    let user = json!({
        "slot": { "minutes": slot.span.duration().num_minutes(), "hours_until_start": candidates.first().map_or(0, |c| c.notice_hours) },
        "candidates": feats,
    });
    let body = json!({
        "model": settings.model,
        "temperature": 0,
        "messages": [
            { "role": "system", "content": SYSTEM_PROMPT },
            { "role": "user", "content": user.to_string() }
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": { "name": "waitlist_ranking", "strict": true, "schema": response_schema(&ids, candidates.len()) }
        }
    });
    (body, ids)
}

/// Re-ranks `ranked` (the deterministic order of [`super::rank::rank`]) with the model of `settings`
/// for `slot`, following the module's rules. Never fails: any problem keeps the deterministic order
/// and says why in [`Reranked::fallback_reason`].
pub fn rerank(settings: &LlmSettings, slot: &FillSlot, ranked: Vec<Candidate>) -> Reranked {
    let deterministic = |ranked: Vec<Candidate>, why: String| {
        tracing::info!(reason = %why, "fill: language model not used; deterministic ranking kept");
        Reranked { order: ranked.into_iter().map(|c| (c, None)).collect(), ranked_by: RankedBy::Deterministic, fallback_reason: Some(why) }
    };
    if ranked.is_empty() {
        return Reranked { order: vec![], ranked_by: RankedBy::Deterministic, fallback_reason: None };
    }
    let n = settings.top_n.max(1).min(ranked.len());
    let (body, ids) = request_body(settings, &ranked[..n], slot);
    let reply = match ask(settings, &body) {
        Ok(v) => v,
        Err(why) => return deterministic(ranked, why),
    };
    let picks = match read_ranking(&reply, &ids, n) {
        Ok(p) => p,
        Err(why) => return deterministic(ranked, why),
    };
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut slots: Vec<Option<Candidate>> = ranked.into_iter().map(Some).collect();
    let mut order: Vec<(Candidate, Option<String>)> = Vec::with_capacity(slots.len());
    for (id, reason) in picks {
        if let Some(c) = slots[index[id.as_str()]].take() {
            order.push((c, Some(reason)));
        }
    }
    order.extend(slots.into_iter().flatten().map(|c| (c, None)));
    // The model may reorder only within a tier: a stable sort by tier restores tier order
    // and keeps the model's order inside each tier.
    order.sort_by_key(|(c, _)| std::cmp::Reverse(c.priority));
    tracing::info!(sent = n, "fill: ranked by the language model");
    Reranked { order, ranked_by: RankedBy::Llm, fallback_reason: None }
}

/// POSTs `body`, honouring one short `Retry-After` on 429. Returns the parsed reply.
fn ask(settings: &LlmSettings, body: &Value) -> Result<Value, String> {
    let agent = ureq::AgentBuilder::new().timeout(settings.timeout).build();
    let url = format!("{}/chat/completions", settings.base_url);
    let secs = settings.timeout.as_secs_f64();
    let send = || -> Result<ureq::Response, Box<ureq::Error>> {
        let mut req = agent.post(&url).set("Accept", "application/json");
        if let Some(k) = &settings.api_key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        req.send_json(body.clone()).map_err(Box::new)
    };
    let mut retried = false;
    let resp = loop {
        match send().map_err(|e| *e) {
            Ok(r) => break r,
            Err(ureq::Error::Status(429, r)) if !retried => {
                let wait = r.header("Retry-After").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
                match wait {
                    Some(w) if w <= MAX_RETRY_AFTER => {
                        retried = true;
                        std::thread::sleep(w);
                    }
                    Some(w) => return Err(format!("the language model service is busy (HTTP 429) and asked to wait {} s; not waiting", w.as_secs())),
                    None => return Err("the language model service is busy (HTTP 429)".into()),
                }
            }
            Err(ureq::Error::Status(429, _)) => return Err("the language model service was still busy (HTTP 429) after waiting once".into()),
            Err(ureq::Error::Status(code, _)) => return Err(format!("the language model service answered with HTTP {code}")),
            Err(ureq::Error::Transport(t)) if is_timeout(&t) => return Err(format!("the language model did not answer within {secs} s")),
            Err(ureq::Error::Transport(t)) => return Err(format!("the language model service could not be reached ({})", t.kind())),
        }
    };
    let text = resp.into_string().map_err(|e| {
        if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) {
            format!("the language model did not answer within {secs} s")
        } else {
            "the language model's answer could not be read".to_string()
        }
    })?;
    serde_json::from_str(&text).map_err(|_| "the language model service's answer is not JSON".into())
}

fn is_timeout(t: &ureq::Transport) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(t);
    while let Some(e) = src {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) {
                return true;
            }
        }
        src = e.source();
    }
    t.to_string().contains("timed out")
}

/// The `(id, reason)` list of a Chat Completions reply, checked against [`response_schema`].
fn read_ranking(reply: &Value, ids: &[String], n: usize) -> Result<Vec<(String, String)>, String> {
    if let Some(err) = reply.get("error").filter(|e| !e.is_null()) {
        let msg = err.get("message").and_then(Value::as_str).or_else(|| err.as_str()).unwrap_or("no details");
        let msg: String = msg.chars().take(160).collect();
        return Err(format!("the language model service reported an error: {msg}"));
    }
    let choice = reply.get("choices").and_then(|c| c.get(0)).ok_or("the language model service's answer has no choices")?;
    match choice.get("finish_reason").and_then(Value::as_str) {
        Some("length") => return Err("the language model's answer was cut off (finish_reason length)".into()),
        Some("content_filter") => return Err("the language model service filtered the answer".into()),
        _ => {}
    }
    let message = choice.get("message").ok_or("the language model service's answer has no message")?;
    if message.get("refusal").and_then(Value::as_str).is_some_and(|r| !r.is_empty()) {
        return Err("the language model declined to rank".into());
    }
    let content = message.get("content").and_then(Value::as_str).ok_or("the language model's answer has no content")?;
    let ranking: Value = serde_json::from_str(content).map_err(|_| "the language model's answer is not valid JSON".to_string())?;
    let schema = response_schema(ids, n);
    let validator = jsonschema::validator_for(&schema).map_err(|_| "the reply schema could not be built".to_string())?;
    // Every violation is looked at, so an unknown id is named as such even when the list is also too long.
    let errors: Vec<_> = validator.iter_errors(&ranking).collect();
    if !errors.is_empty() {
        use jsonschema::error::ValidationErrorKind as K;
        let unknown = errors.iter().any(|e| matches!(e.kind(), K::Enum { .. }) && e.instance_path().to_string().ends_with("/id"));
        let too_many = errors.iter().any(|e| matches!(e.kind(), K::MaxItems { .. }));
        return Err(if unknown {
            "the language model named a candidate it was not given".to_string()
        } else if too_many {
            "the language model listed more candidates than it was given".to_string()
        } else {
            format!("the language model's answer does not follow the requested form (at '{}')", errors[0].instance_path())
        });
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in ranking["ranking"].as_array().into_iter().flatten() {
        let id = item["id"].as_str().unwrap_or_default().to_string();
        if !seen.insert(id.clone()) {
            return Err("the language model named the same candidate twice".into());
        }
        out.push((id, item["reason"].as_str().unwrap_or_default().trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("c{i}")).collect()
    }

    fn reply(content: &str) -> Value {
        json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]})
    }

    #[test]
    fn reads_a_valid_ranking_and_refuses_the_rest() {
        let ok = read_ranking(&reply(r#"{"ranking":[{"id":"c2","reason":"longest wait"},{"id":"c1","reason":"ok"}]}"#), &ids(3), 3).unwrap();
        assert_eq!(ok, vec![("c2".to_string(), "longest wait".to_string()), ("c1".to_string(), "ok".to_string())]);
        let err = |v: Value| read_ranking(&v, &ids(3), 3).unwrap_err();
        assert_eq!(err(reply(r#"{"ranking":[{"id":"c9","reason":"x"}]}"#)), "the language model named a candidate it was not given");
        assert_eq!(err(reply(r#"{"ranking":[{"id":"c1","reason":"x"},{"id":"c1","reason":"y"}]}"#)), "the language model named the same candidate twice");
        assert!(err(reply(r#"{"ranking":[{"id":"c1","reason":"x"},{"id":"c2","reason":"x"},{"id":"c3","reason":"x"},{"id":"c1","reason":"x"}]}"#))
            .contains("more candidates"));
        assert!(err(reply(r#"{"ranking":[{"id":"c1"}]}"#)).contains("does not follow the requested form"));
        assert!(err(reply(r#"{"ranking":[{"id":"c1","reason":"x","name":"y"}]}"#)).contains("does not follow"));
        assert_eq!(err(reply("{ranking: c1")), "the language model's answer is not valid JSON");
        assert!(err(json!({"error": {"message": "Rate limit", "code": 429}})).contains("reported an error: Rate limit"));
        let mut cut = reply(r#"{"ranking":[{"id":"c1","#);
        cut["choices"][0]["finish_reason"] = json!("length");
        assert!(err(cut).contains("cut off"));
        assert!(err(json!({"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": null, "refusal": "no"}}]})).contains("declined"));
    }

    #[test]
    fn settings_debug_hides_the_key() {
        let mut s = LlmSettings::new("http://127.0.0.1:11434/v1/", "m");
        s.api_key = Some("sk-secret".into());
        let d = format!("{s:?}");
        assert!(!d.contains("sk-secret") && d.contains("<set>"));
        assert_eq!(s.base_url, OLLAMA_BASE_URL);
    }
}
