//! Opt-in: the language-model re-ranking against a real small model on this computer
//! (`tests/local-llm/`, see `medharmony_e2e::local_llm`). Skipped unless
//! `MEDHARMONY_LOCAL_LLM=1` and `MEDHARMONY_LOCAL_LLM_MODEL` names a GGUF file;
//! `scripts/test-local-llm.sh` sets that up. CI never runs it.
//!
//! A 135M-parameter model's ranking means nothing, so this checks plumbing only: the
//! request [`rerank`] sends is accepted (HTTP 200), the reply follows the strict schema
//! (only the ids sent, at most that many), and [`rerank`] uses it (`ranked_by` = llm,
//! every candidate kept once, tiers in order).

use std::time::Duration;

use medharmony::fill::llm::{request_body, rerank, response_schema, LlmSettings, RankedBy};
use medharmony::fill::rank::rank;
use medharmony_e2e::local_llm::LocalLlm;
use serde_json::Value;

use crate::llm::{now, slot, waitlist};

#[test]
fn a_real_local_model_answers_the_rerank_request_within_the_schema() {
    let Some(server) = LocalLlm::start_if_enabled() else { return };
    let model = server.model.file_stem().and_then(|s| s.to_str()).unwrap_or("local").to_string();
    let mut settings = LlmSettings::new(&server.base_url, &model);
    // One CPU thread on a shared machine: allow far more than the product's default 8 s.
    settings.timeout = Duration::from_secs(300);
    let ranked = rank(&waitlist(), &slot(), now());
    assert_eq!(ranked.iter().map(|c| c.entry.id).collect::<Vec<_>>(), [1, 2, 3, 4]);

    // The very request rerank sends, by hand, to see the HTTP status and the raw reply.
    let (body, ids) = request_body(&settings, &ranked, &slot());
    let resp = ureq::AgentBuilder::new()
        .timeout(settings.timeout)
        .build()
        .post(&format!("{}/chat/completions", server.base_url))
        .send_json(body)
        .unwrap_or_else(|e| panic!("the local model server refused the request: {e}"));
    assert_eq!(resp.status(), 200);
    let reply: Value = resp.into_json().expect("a JSON reply");
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["choices"][0]["finish_reason"], "stop", "{reply}");
    let content = reply["choices"][0]["message"]["content"].as_str().expect("text content");
    let ranking: Value = serde_json::from_str(content).unwrap_or_else(|e| panic!("content is not JSON ({e}): {content}"));
    let schema = response_schema(&ids, ids.len());
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&ranking).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "the reply does not follow the schema: {errors:?}\n{content}");
    let named: Vec<&str> = ranking["ranking"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert!(!named.is_empty(), "the model ranked nobody: {content}");
    assert!(named.iter().all(|id| ids.iter().any(|sent| sent == id)), "{named:?} not all from {ids:?}");

    // Through rerank: the model's answer is used, every candidate stays exactly once, tiers hold.
    let r = rerank(&settings, &slot(), ranked);
    assert_eq!((r.ranked_by, r.fallback_reason.as_deref()), (RankedBy::Llm, None));
    let mut kept: Vec<i64> = r.order.iter().map(|(c, _)| c.entry.id).collect();
    kept.sort_unstable();
    assert_eq!(kept, [1, 2, 3, 4]);
    assert!(r.order.windows(2).all(|w| w[0].0.priority >= w[1].0.priority), "tiers out of order");
    assert!(r.order.iter().any(|(_, reason)| reason.is_some()), "no candidate carries the model's reason");
}
