//! Translators between the OpenAI API and Bedrock Converse, one per direction and API.

pub mod chat;
pub mod conversation;
pub mod embeddings;
pub mod image_fetch;
pub mod image_urls;
pub mod model;
pub mod models;
pub mod request;
pub mod response;
pub mod responses;
pub mod stream;
pub mod structured_output;

use crate::bedrock::converse::Usage;
use crate::error::ApiError;
use serde_json::{json, Value};
use std::time::SystemTime;

/// What every API translator gets besides the body.
pub struct RequestContext<'a> {
    pub config: &'a crate::config::Config,
    /// Unique per request (Envoy's x-request-id without dashes); used in response ids.
    pub request_id: &'a str,
    pub now: SystemTime,
    /// Looks up an output item this gateway returned earlier (for Responses `item_reference`);
    /// `None` when the item store is off.
    pub recall_item: Option<RecallItem<'a>>,
}

/// Finds an output item the gateway returned earlier, by id.
pub type RecallItem<'a> = &'a dyn Fn(&str) -> Option<Value>;

impl RequestContext<'_> {
    pub fn unix_seconds(&self) -> u64 {
        self.now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A request ready for Bedrock, and the translator for its answer.
pub struct Translated {
    /// The Bedrock model id (aliases resolved).
    pub model_id: String,
    /// Path on Bedrock Runtime, model id percent-encoded once.
    pub path: String,
    pub body: Vec<u8>,
    pub reply: Reply,
    /// A Responses answer to remember for `previous_response_id` (item store on only).
    pub turn: Option<responses::item_store::Turn>,
}

/// How a successful Bedrock answer becomes the client's answer.
pub enum Reply {
    /// Buffer the whole JSON answer, then translate it.
    Json(Box<dyn JsonReply>),
    /// Translate the event stream chunk by chunk into SSE.
    Stream(Box<dyn StreamReply>),
}

pub trait JsonReply {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError>;
}

pub trait StreamReply {
    /// SSE bytes to send now for these upstream bytes (possibly none).
    fn push(&mut self, bytes: &[u8]) -> Vec<u8>;
    /// Upstream ended: the closing events, or an error event when the stream was cut short.
    fn finish(&mut self) -> Vec<u8>;
    /// Upstream broke off: an error event unless the stream already ended.
    fn abort(&mut self, reason: &str) -> Vec<u8>;
    fn usage(&self) -> Option<&Usage>;
    /// True once the stream ended with an error event.
    fn failed(&self) -> bool {
        false
    }
    /// The output items of a Responses stream that ended with `response.completed`.
    fn completed_output(&self) -> Option<&[Value]> {
        None
    }
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
