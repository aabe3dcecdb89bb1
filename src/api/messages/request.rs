//! Anthropic Messages request → Bedrock InvokeModel body for Claude: the client's body kept as
//! it is (cache_control, signed thinking, tool_use/tool_result, tool_reference, images,
//! documents, metadata pass intact) except for what Bedrock refuses:
//! - `model` and `stream` go (they are in the path), `anthropic_version` is Bedrock's;
//! - betas from the `anthropic-beta` header join the body's `anthropic_beta`, and only those
//!   the model takes stay; body fields a dropped beta governs go too (`context_management`,
//!   `output_config.effort`);
//! - `role: "system"` messages become `<system-reminder>` text in the user turn before them
//!   on models that take no such message;
//! - thinking is converted to the kind the model has (adaptive ⇄ a token budget);
//! - `top_p` is dropped when `temperature` is set on models that refuse both.

use crate::api::messages::betas::{
    claude_model, ClaudeModel, Thinking, CONTEXT_MANAGEMENT, EFFORT,
};
use crate::error::ApiError;
use serde_json::{json, Map, Value};

pub const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";
/// Claude's smallest thinking budget.
const MIN_THINKING_BUDGET: u64 = 1024;

/// A Messages request read far enough to route it.
#[derive(Debug)]
pub struct MessagesRequest {
    /// The model as the client named it (echoed back in answers).
    pub model: String,
    pub stream: bool,
    pub body: Map<String, Value>,
}

pub fn parse(body: &[u8]) -> Result<MessagesRequest, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;
    let Value::Object(body) = value else {
        return Err(ApiError::bad_request("Request body must be a JSON object."));
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err(ApiError::invalid_param("model", "model: Field required")),
    };
    if !matches!(body.get("messages"), Some(Value::Array(_))) {
        return Err(ApiError::invalid_param(
            "messages",
            "messages: Field required",
        ));
    }
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(MessagesRequest {
        model,
        stream,
        body,
    })
}

/// Betas named in a comma-separated header and in the body's `anthropic_beta` (string or
/// list), in order, each once.
fn requested_betas(header: Option<&str>, body: Option<&Value>) -> Vec<String> {
    let from_header = header
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string);
    let from_body: Vec<String> = match body {
        Some(Value::String(b)) => vec![b.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let mut all: Vec<String> = Vec::new();
    for beta in from_header.chain(from_body) {
        if !all.contains(&beta) {
            all.push(beta);
        }
    }
    all
}

/// The InvokeModel body for `model_id` (a Claude model).
pub fn to_invoke_body(
    mut body: Map<String, Value>,
    model_id: &str,
    header_betas: Option<&str>,
) -> Map<String, Value> {
    let model = claude_model(model_id);
    body.remove("model");
    body.remove("stream");
    body.insert("anthropic_version".into(), json!(BEDROCK_ANTHROPIC_VERSION));
    let requested = requested_betas(header_betas, body.get("anthropic_beta"));
    let (kept, dropped): (Vec<String>, Vec<String>) =
        requested.into_iter().partition(|b| model.accepts(b));
    if !dropped.is_empty() {
        log::debug!("messages: betas {dropped:?} dropped for {model_id}");
    }
    if kept.is_empty() {
        body.remove("anthropic_beta");
    } else {
        body.insert("anthropic_beta".into(), json!(kept));
    }
    let has = |beta: &str| kept.iter().any(|b| b == beta);
    if !has(CONTEXT_MANAGEMENT) {
        body.remove("context_management");
    }
    if !model.effort_ga && !has(EFFORT) {
        drop_effort(&mut body);
    }
    if !model.mid_conversation_system {
        fold_system_messages(&mut body);
    }
    settle_thinking(&mut body, &model);
    if model.temperature_xor_top_p && body.contains_key("temperature") {
        body.remove("top_p");
    }
    body
}

fn drop_effort(body: &mut Map<String, Value>) {
    let Some(Value::Object(config)) = body.get_mut("output_config") else {
        return;
    };
    config.remove("effort");
    if config.is_empty() {
        body.remove("output_config");
    }
}

/// `role: "system"` messages as `<system-reminder>` text in the user turn before them (or a
/// user turn of their own when none precedes them).
fn fold_system_messages(body: &mut Map<String, Value>) {
    let Some(Value::Array(messages)) = body.get_mut("messages") else {
        return;
    };
    let mut folded: Vec<Value> = Vec::with_capacity(messages.len());
    for message in std::mem::take(messages) {
        if message.get("role").and_then(Value::as_str) != Some("system") {
            folded.push(message);
            continue;
        }
        let text = match message.get("content") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        };
        let block = json!({"type": "text", "text": format!("<system-reminder>\n{text}\n</system-reminder>")});
        match folded.last_mut() {
            Some(last) if last.get("role").and_then(Value::as_str) == Some("user") => {
                let content = match last.get_mut("content") {
                    Some(Value::String(t)) => vec![json!({"type": "text", "text": t.clone()})],
                    Some(Value::Array(blocks)) => std::mem::take(blocks),
                    _ => Vec::new(),
                };
                let mut content = content;
                content.push(block);
                if let Some(obj) = last.as_object_mut() {
                    obj.insert("content".into(), Value::Array(content));
                }
            }
            _ => folded.push(json!({"role": "user", "content": [block]})),
        }
    }
    *messages = folded;
}

/// Thinking of the kind the model has: adaptive becomes a budget just under `max_tokens` on
/// models without adaptive thinking (none when `max_tokens` leaves no room for one), a budget
/// becomes adaptive on adaptive-only models, and models without thinking get none.
fn settle_thinking(body: &mut Map<String, Value>, model: &ClaudeModel) {
    let kind = body
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .map(str::to_string);
    match (kind.as_deref(), model.thinking) {
        (None | Some("disabled"), _) => {}
        (Some(_), Thinking::None) => {
            body.remove("thinking");
        }
        (Some("adaptive"), Thinking::Budget) => {
            let max_tokens = body.get("max_tokens").and_then(Value::as_u64).unwrap_or(0);
            let budget = max_tokens.saturating_sub(1);
            if budget >= MIN_THINKING_BUDGET {
                body.insert(
                    "thinking".into(),
                    json!({"type": "enabled", "budget_tokens": budget}),
                );
            } else {
                body.remove("thinking");
            }
        }
        (Some("enabled"), Thinking::Adaptive) => {
            body.insert("thinking".into(), json!({"type": "adaptive"}));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const SONNET45: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

    fn invoke(body: Value, model: &str, betas: Option<&str>) -> Value {
        let Value::Object(body) = body else { panic!() };
        Value::Object(to_invoke_body(body, model, betas))
    }

    #[test]
    fn claude_codes_default_request_becomes_one_sonnet_4_5_accepts() {
        let request = json!({
            "model": "claude-opus-4-8", "stream": true, "max_tokens": 64000,
            "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "metadata": {"user_id": "{\"session_id\":\"s\"}"},
            "system": [{"type": "text", "text": "You are Claude.", "cache_control": {"type": "ephemeral"}}],
            "tools": [{"name": "Write", "description": "Write a file", "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "say hi", "cache_control": {"type": "ephemeral"}}]},
                {"role": "system", "content": "Available agent types"}]});
        let header = "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,\
            thinking-token-count-2026-05-13,context-management-2025-06-27,prompt-caching-scope-2026-01-05,\
            mid-conversation-system-2026-04-07,effort-2025-11-24";
        let out = invoke(request, SONNET45, Some(header));
        assert_eq!(out["anthropic_version"], BEDROCK_ANTHROPIC_VERSION);
        assert!(out.get("model").is_none() && out.get("stream").is_none());
        assert_eq!(
            out["anthropic_beta"],
            json!([
                "claude-code-20250219",
                "context-1m-2025-08-07",
                "interleaved-thinking-2025-05-14",
                "context-management-2025-06-27"
            ])
        );
        assert!(out.get("output_config").is_none());
        assert_eq!(out["context_management"]["edits"][0]["keep"], "all");
        assert_eq!(
            out["thinking"],
            json!({"type": "enabled", "budget_tokens": 63999})
        );
        // Cache points, metadata and tools are the client's own.
        assert_eq!(
            out["system"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(
            out["messages"][0]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(out["metadata"]["user_id"], "{\"session_id\":\"s\"}");
        assert_eq!(out["tools"][0]["name"], "Write");
        // The mid-conversation system message joins the user turn before it.
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0]["content"][1]["text"],
            "<system-reminder>\nAvailable agent types\n</system-reminder>"
        );
    }

    #[test]
    fn gated_fields_go_with_their_betas_and_sampling_follows_the_model() {
        let out = invoke(
            json!({"model": "m", "max_tokens": 10, "temperature": 0.2, "top_p": 0.9,
                   "context_management": {}, "output_config": {"effort": "low", "format": {"type": "json_schema"}},
                   "anthropic_beta": ["tool-search-tool-2025-10-19", "bogus-beta"],
                   "messages": [{"role": "user", "content": "hi"}]}),
            "anthropic.claude-sonnet-4-20250514-v1:0",
            None,
        );
        assert!(out.get("anthropic_beta").is_none());
        assert!(out.get("context_management").is_none());
        assert_eq!(
            out["output_config"],
            json!({"format": {"type": "json_schema"}})
        );
        assert!(out.get("top_p").is_some(), "Sonnet 4 takes both");
        let out = invoke(
            json!({"model": "m", "max_tokens": 10, "temperature": 0.2, "top_p": 0.9,
                   "messages": [{"role": "user", "content": "hi"}]}),
            SONNET45,
            None,
        );
        assert!(out.get("top_p").is_none() && out["temperature"] == 0.2);
    }

    #[test]
    fn thinking_takes_the_kind_the_model_has() {
        let body = |thinking: Value, max: u64| {
            json!({"model": "m", "max_tokens": max, "thinking": thinking,
                   "messages": [{"role": "user", "content": "hi"}]})
        };
        let small = invoke(body(json!({"type": "adaptive"}), 1000), SONNET45, None);
        assert!(small.get("thinking").is_none());
        let opus48 = invoke(
            body(json!({"type": "enabled", "budget_tokens": 2000}), 4000),
            "us.anthropic.claude-opus-4-8",
            Some("claude-code-20250219"),
        );
        assert_eq!(opus48["thinking"], json!({"type": "adaptive"}));
        assert!(opus48.get("anthropic_beta").is_none());
        let haiku3 = invoke(
            body(json!({"type": "enabled", "budget_tokens": 2000}), 4000),
            "anthropic.claude-3-haiku-20240307-v1:0",
            None,
        );
        assert!(haiku3.get("thinking").is_none());
    }

    #[test]
    fn a_body_without_model_or_messages_is_refused_naming_the_field() {
        assert_eq!(
            parse(br#"{"messages": []}"#).unwrap_err().param.as_deref(),
            Some("model")
        );
        assert_eq!(
            parse(br#"{"model": "m"}"#).unwrap_err().param.as_deref(),
            Some("messages")
        );
        assert_eq!(parse(b"[1]").unwrap_err().status, 400);
        let ok = parse(br#"{"model": "m", "messages": [], "stream": true}"#).unwrap();
        assert!(ok.stream && ok.model == "m");
    }
}
