//! The pieces of a Responses API answer shared by the JSON and the streaming translators:
//! output items, usage, the `response` object, and the sealed reasoning carried in
//! `encrypted_content`.

use crate::api::responses::tools::{custom_input, CallKind, ToolTarget};
use crate::bedrock::converse::{ReasoningBlock, ReasoningText, Usage};
use crate::error::ApiError;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Identity of one response and the request fields it echoes.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseMeta {
    /// `resp_...`, also the stem of every output item id.
    pub id: String,
    pub model: String,
    pub created_at: u64,
    pub tools: crate::api::responses::tools::ToolNames,
    /// The tool carrying a `text.format` answer: its input is returned as `output_text`.
    pub response_tool: Option<String>,
    /// Request fields a `response` object repeats (instructions, tools, tool_choice, ...).
    pub echo: Map<String, Value>,
}

impl ResponseMeta {
    /// Item ids are unique per response: `<prefix>_<response id stem>_<output index>`.
    pub fn item_id(&self, prefix: &str, output_index: usize) -> String {
        let stem = self.id.strip_prefix("resp_").unwrap_or(&self.id);
        format!("{prefix}_{stem}_{output_index}")
    }

    /// The `response` object. `usage` is null until known.
    pub fn response(
        &self,
        status: &str,
        output: &[Value],
        usage: Option<&Usage>,
        stop_reason: Option<&str>,
        error: Option<&ApiError>,
    ) -> Value {
        let mut obj = self.echo.clone();
        let fields = [
            ("id", json!(self.id)),
            ("object", json!("response")),
            ("created_at", json!(self.created_at)),
            ("status", json!(status)),
            ("model", json!(self.model)),
            ("output", Value::Array(output.to_vec())),
            ("usage", usage.map(usage_json).unwrap_or(Value::Null)),
            (
                "incomplete_details",
                stop_reason
                    .and_then(incomplete_reason)
                    .map(|r| json!({ "reason": r }))
                    .unwrap_or(Value::Null),
            ),
            (
                "error",
                error
                    .map(|e| json!({"code": e.code.clone().unwrap_or_else(|| e.kind.to_string()), "message": e.message}))
                    .unwrap_or(Value::Null),
            ),
            (
                "previous_response_id",
                self.echo
                    .get("previous_response_id")
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
        ];
        for (k, v) in fields {
            obj.insert(k.into(), v);
        }
        Value::Object(obj)
    }
}

/// `status` of a finished response for a Bedrock stop reason.
pub fn final_status(stop_reason: &str) -> &'static str {
    if incomplete_reason(stop_reason).is_some() {
        "incomplete"
    } else {
        "completed"
    }
}

fn incomplete_reason(stop_reason: &str) -> Option<&'static str> {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => Some("max_output_tokens"),
        "guardrail_intervened" | "content_filtered" => Some("content_filter"),
        _ => None,
    }
}

/// Responses `usage`: input counts cache reads and writes, as OpenAI's does.
pub fn usage_json(usage: &Usage) -> Value {
    let input = usage.prompt_tokens();
    json!({
        "input_tokens": input,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_input_tokens.unwrap_or(0),
            "cache_write_tokens": usage.cache_write_input_tokens.unwrap_or(0),
        },
        "output_tokens": usage.output_tokens,
        // Bedrock does not count reasoning tokens separately.
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input.saturating_add(usage.output_tokens),
    })
}

pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": if status == "completed" { vec![text_part(text)] } else { Vec::new() },
    })
}

pub fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// Item id prefix of each call kind, as OpenAI uses them.
pub fn item_prefix(kind: CallKind) -> &'static str {
    match kind {
        CallKind::Function => "fc",
        CallKind::Custom => "ctc",
        CallKind::ToolSearch => "tsc",
    }
}

/// The output item for a tool call; `input` is the JSON text Bedrock produced.
pub fn call_item(id: &str, call_id: &str, target: &ToolTarget, input: &str, status: &str) -> Value {
    let done = status == "completed";
    let mut item = match target.kind {
        CallKind::Function => json!({
            "type": "function_call",
            "arguments": if done { arguments_text(input) } else { String::new() },
        }),
        CallKind::Custom => json!({
            "type": "custom_tool_call",
            "input": if done { custom_input(&parse_input(input)) } else { String::new() },
        }),
        CallKind::ToolSearch => json!({
            "type": "tool_search_call",
            "execution": "client",
            "arguments": if done { parse_input(input) } else { json!({}) },
        }),
    };
    if let Some(obj) = item.as_object_mut() {
        obj.insert("id".into(), json!(id));
        obj.insert("call_id".into(), json!(call_id));
        obj.insert("status".into(), json!(status));
        if target.kind != CallKind::ToolSearch {
            obj.insert("name".into(), json!(target.name));
        }
        if let Some(ns) = &target.namespace {
            obj.insert("namespace".into(), json!(ns));
        }
    }
    item
}

/// Function arguments as a JSON text: what Bedrock streamed, `{}` when it sent none.
pub fn arguments_text(input: &str) -> String {
    if input.trim().is_empty() {
        "{}".into()
    } else {
        input.to_string()
    }
}

fn parse_input(input: &str) -> Value {
    serde_json::from_str(input).unwrap_or_else(|_| json!({}))
}

/// A `reasoning` item: the thinking text as its summary, the replayable block sealed in
/// `encrypted_content` (absent when Bedrock gave nothing to replay).
pub fn reasoning_item(id: &str, text: &str, sealed: Option<&str>) -> Value {
    let summary = if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "summary_text", "text": text})]
    };
    let mut item = json!({"type": "reasoning", "id": id, "summary": summary});
    if let (Some(sealed), Some(obj)) = (sealed, item.as_object_mut()) {
        obj.insert("encrypted_content".into(), json!(sealed));
    }
    item
}

/// Marks `encrypted_content` this gateway wrote (other providers' blobs are not ours to read).
const SEAL_PREFIX: &str = "bedrock-gateway.v1:";

#[derive(Serialize, Deserialize)]
struct Sealed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redacted: Option<String>,
}

/// `encrypted_content` for a Bedrock reasoning block: Claude needs the thinking text and its
/// signature (or the redacted data) back unchanged on the next turn. `None` for unsigned
/// reasoning, which Bedrock would refuse anyway.
pub fn seal(block: &ReasoningBlock) -> Option<String> {
    let sealed = match block {
        ReasoningBlock::ReasoningText(t) => Sealed {
            text: Some(t.text.clone()),
            signature: Some(t.signature.clone().filter(|s| !s.is_empty())?),
            redacted: None,
        },
        ReasoningBlock::RedactedContent(data) => Sealed {
            text: None,
            signature: None,
            redacted: Some(data.clone()),
        },
    };
    let json = serde_json::to_vec(&sealed).ok()?;
    Some(format!(
        "{SEAL_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(json)
    ))
}

/// The reasoning block sealed by [`seal`]; `None` for anything else.
pub fn unseal(encrypted: &str) -> Option<ReasoningBlock> {
    let b64 = encrypted.strip_prefix(SEAL_PREFIX)?;
    let json = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let sealed: Sealed = serde_json::from_slice(&json).ok()?;
    match sealed {
        Sealed {
            redacted: Some(data),
            ..
        } => Some(ReasoningBlock::RedactedContent(data)),
        Sealed {
            text: Some(text),
            signature: Some(signature),
            ..
        } => Some(ReasoningBlock::ReasoningText(ReasoningText {
            text,
            signature: Some(signature),
        })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn sealed_reasoning_round_trips_and_foreign_blobs_are_ignored() {
        let signed = ReasoningBlock::ReasoningText(ReasoningText {
            text: "Let me think\n\"quoted\" 👋".into(),
            signature: Some("c2ln".into()),
        });
        let redacted = ReasoningBlock::RedactedContent("ZW5j".into());
        for block in [signed, redacted] {
            assert_eq!(unseal(&seal(&block).unwrap()), Some(block));
        }
        let unsigned = ReasoningBlock::ReasoningText(ReasoningText {
            text: "t".into(),
            signature: None,
        });
        assert_eq!(seal(&unsigned), None);
        assert_eq!(unseal("gAAAAABo-openai-blob"), None);
        assert_eq!(unseal("bedrock-gateway.v1:!!!"), None);
    }

    #[test]
    fn usage_counts_cache_in_input() {
        let u = Usage {
            input_tokens: 10,
            output_tokens: 5,
            total_tokens: 115,
            cache_read_input_tokens: Some(80),
            cache_write_input_tokens: Some(20),
        };
        assert_eq!(
            usage_json(&u),
            json!({"input_tokens": 110, "input_tokens_details": {"cached_tokens": 80, "cache_write_tokens": 20},
                   "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                   "total_tokens": 115})
        );
    }
}
