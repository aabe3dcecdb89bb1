//! Bedrock Converse response → OpenAI `chat.completion`, and Bedrock error bodies → OpenAI errors.

use crate::bedrock::converse::{ConverseResponse, Usage};
use crate::error::ApiError;
use crate::policy::guardrail;
use serde_json::{json, Value};

/// Identity of one completion, echoed in every object we return for it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionMeta {
    pub id: String,
    pub model: String,
    pub created: u64,
    /// The tool that carries a `response_format` answer (see `structured_output`).
    pub response_tool: Option<String>,
}

pub fn converse_to_chat(body: &[u8], meta: &CompletionMeta) -> Result<Value, ApiError> {
    let response: ConverseResponse = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_gateway(format!("Bedrock answered with an unexpected body: {e}"))
    })?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in &response.output.message.content {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(tool) = block.get("toolUse") {
            if is_response_tool(tool, meta) {
                // The forced answer tool: its input is the JSON the client asked for.
                let input = tool.get("input").cloned().unwrap_or_else(|| json!({}));
                text.push_str(&input.to_string());
                continue;
            }
            let arguments = tool.get("input").cloned().unwrap_or_else(|| json!({}));
            tool_calls.push(json!({
                "index": tool_calls.len(),
                "id": tool.get("toolUseId").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": tool.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": arguments.to_string(),
                },
            }));
        } else if let Some(r) = block.get("reasoningContent") {
            if let Some(rt) = r.get("reasoningText") {
                let t = rt.get("text").and_then(Value::as_str).unwrap_or("");
                reasoning.push_str(t);
                thinking_blocks.push(json!({
                    "type": "thinking",
                    "thinking": t,
                    "signature": rt.get("signature").cloned().unwrap_or(Value::Null),
                }));
            } else if let Some(data) = r.get("redactedContent") {
                thinking_blocks.push(json!({"type": "redacted_thinking", "data": data}));
            }
        }
    }
    let finish = match finish_reason(&response.stop_reason) {
        // Only the answer tool was called: to the client that is a normal stop.
        "tool_calls" if tool_calls.is_empty() => "stop",
        other => other,
    };
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) },
    });
    if let Some(obj) = message.as_object_mut() {
        if !tool_calls.is_empty() {
            obj.insert("tool_calls".into(), Value::Array(tool_calls));
        }
        if !reasoning.is_empty() {
            obj.insert("reasoning_content".into(), json!(reasoning));
        }
        if !thinking_blocks.is_empty() {
            obj.insert("thinking_blocks".into(), Value::Array(thinking_blocks));
        }
    }
    let mut answer = json!({
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": null,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": chat_usage(&response.usage),
    });
    guardrail::attach_trace(&mut answer, response.trace.as_ref());
    Ok(answer)
}

fn is_response_tool(tool: &Value, meta: &CompletionMeta) -> bool {
    meta.response_tool
        .as_deref()
        .is_some_and(|name| tool.get("name").and_then(Value::as_str) == Some(name))
}

/// OpenAI `finish_reason` for a Bedrock `stopReason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        _ => "stop",
    }
}

/// OpenAI chat `usage` object from Bedrock usage.
pub fn chat_usage(usage: &Usage) -> Value {
    let prompt = usage.prompt_tokens();
    let mut value = json!({
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt.saturating_add(usage.output_tokens),
        // `cache_write_tokens` is OpenAI's field for cache writes (LangChain reads it as cache_creation).
        "prompt_tokens_details": {
            "cached_tokens": usage.cache_read_input_tokens.unwrap_or(0),
            "cache_write_tokens": usage.cache_write_input_tokens.unwrap_or(0),
        },
    });
    if let (Some(write), Some(obj)) = (usage.cache_write_input_tokens, value.as_object_mut()) {
        // Kept for clients that read the earlier, non-OpenAI name.
        obj.insert("cache_creation_input_tokens".into(), json!(write));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn meta() -> CompletionMeta {
        CompletionMeta {
            id: "chatcmpl-1".into(),
            model: "m".into(),
            created: 7,
            response_tool: None,
        }
    }

    #[test]
    fn text_and_tools_become_message_and_tool_calls() {
        let body = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"text": "Let me check. "},
                {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "t2", "name": "time", "input": {}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}
        });
        let out = converse_to_chat(body.to_string().as_bytes(), &meta()).unwrap();
        let choice = &out["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], "Let me check. ");
        assert_eq!(choice["message"]["tool_calls"][1]["id"], "t2");
        let args: Value = serde_json::from_str(
            choice["message"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(args["city"], "Paris");
        assert_eq!(out["usage"]["total_tokens"], 7);
        assert_eq!(out["object"], "chat.completion");
    }

    #[test]
    fn all_text_blocks_are_kept_and_reasoning_is_returned() {
        let body = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
                {"text": "a"}, {"text": "b"}
            ]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
        });
        let out = converse_to_chat(body.to_string().as_bytes(), &meta()).unwrap();
        let message = &out["choices"][0]["message"];
        assert_eq!(message["content"], "ab");
        assert_eq!(message["reasoning_content"], "hmm");
        assert_eq!(message["thinking_blocks"][0]["signature"], "sig");
        assert!(message.get("tool_calls").is_none());
    }

    /// Converse output content, stop reason and usage → the OpenAI message, finish and usage.
    #[test]
    fn converse_output_table() {
        let usage = json!({"inputTokens": 10, "outputTokens": 5, "totalTokens": 15});
        let cases: Vec<(&str, Option<&str>, Value, &str, Value)> = vec![
            (
                "text blocks are joined; unknown blocks are skipped",
                None,
                json!([{"text": "a"}, {"citationsContent": {}}, {"text": "b"}]),
                "end_turn",
                json!({"role": "assistant", "content": "ab"}),
            ),
            (
                "tool calls only: content is null, arguments a JSON string",
                None,
                json!([{"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}}]),
                "tool_use",
                json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "t1",
                    "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}),
            ),
            (
                "reasoning and redacted reasoning → reasoning_content and thinking_blocks",
                None,
                json!([{"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
                       {"reasoningContent": {"redactedContent": "cmVk"}}, {"text": "ok"}]),
                "max_tokens",
                json!({"role": "assistant", "content": "ok", "reasoning_content": "hmm",
                    "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                        {"type": "redacted_thinking", "data": "cmVk"}]}),
            ),
            (
                "the response_format answer tool is the content, and the finish is stop",
                Some("json_response"),
                json!([{"toolUse": {"toolUseId": "t1", "name": "json_response", "input": {"age": 42}}}]),
                "tool_use",
                json!({"role": "assistant", "content": "{\"age\":42}"}),
            ),
            (
                "a real tool call next to the answer tool stays a tool call",
                Some("json_response"),
                json!([{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]),
                "tool_use",
                json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "t1",
                    "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
            ),
        ];
        for (rule, response_tool, content, stop, want) in cases {
            let body = json!({"output": {"message": {"role": "assistant", "content": content}},
                              "stopReason": stop, "usage": usage});
            let m = CompletionMeta {
                response_tool: response_tool.map(str::to_string),
                ..meta()
            };
            let out = converse_to_chat(body.to_string().as_bytes(), &m).unwrap();
            assert_eq!(out["choices"][0]["message"], want, "{rule}");
            let finish = out["choices"][0]["finish_reason"].as_str().unwrap();
            let want_finish = match (stop, want.get("tool_calls").is_some()) {
                ("tool_use", true) => "tool_calls",
                ("max_tokens", _) => "length",
                _ => "stop",
            };
            assert_eq!(finish, want_finish, "{rule}");
        }
    }

    #[test]
    fn cache_reads_and_writes_reach_usage() {
        let body = json!({"output": {"message": {"role": "assistant", "content": [{"text": "a"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 1515,
            "cacheReadInputTokens": 1000, "cacheWriteInputTokens": 500}});
        let out = converse_to_chat(body.to_string().as_bytes(), &meta()).unwrap();
        assert_eq!(out["usage"]["prompt_tokens"], 1510);
        assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 1000);
        assert_eq!(out["usage"]["cache_creation_input_tokens"], 500);
    }

    #[test]
    fn stop_reasons_map_to_openai_finish_reasons() {
        assert_eq!(finish_reason("end_turn"), "stop");
        assert_eq!(finish_reason("stop_sequence"), "stop");
        assert_eq!(finish_reason("max_tokens"), "length");
        assert_eq!(finish_reason("tool_use"), "tool_calls");
        assert_eq!(finish_reason("guardrail_intervened"), "content_filter");
        assert_eq!(finish_reason("content_filtered"), "content_filter");
    }

    #[test]
    fn prompt_tokens_include_cache_reads_and_writes() {
        let u = Usage {
            input_tokens: 10,
            output_tokens: 5,
            total_tokens: 115,
            cache_read_input_tokens: Some(80),
            cache_write_input_tokens: Some(20),
        };
        let v = chat_usage(&u);
        assert_eq!(v["prompt_tokens"], 110);
        assert_eq!(v["total_tokens"], 115);
        assert_eq!(v["prompt_tokens_details"]["cached_tokens"], 80);
        assert_eq!(v["prompt_tokens_details"]["cache_write_tokens"], 20);
        assert_eq!(v["cache_creation_input_tokens"], 20);
    }

    #[test]
    fn no_cache_use_reports_zero_reads_and_writes() {
        let u = Usage {
            input_tokens: 10,
            output_tokens: 5,
            total_tokens: 15,
            cache_read_input_tokens: None,
            cache_write_input_tokens: None,
        };
        let v = chat_usage(&u);
        assert_eq!(
            v["prompt_tokens_details"],
            json!({"cached_tokens": 0, "cache_write_tokens": 0})
        );
        assert!(v.get("cache_creation_input_tokens").is_none());
    }
}
