//! Bedrock Converse answers → Anthropic Messages, for models that are not Claude: the JSON
//! answer as a Message, and ConverseStream events as Anthropic's stream events.

use crate::api::messages::errors;
use crate::api::JsonTranslator;
use crate::bedrock::converse::{ConverseResponse, Usage};
use crate::bedrock::stream::{ContentBlockStart, Delta, StreamEvent};
use crate::error::ApiError;
use crate::policy::guardrail;
use crate::sse;
use crate::stream::driver::{EventHandler, Flow, StreamDriver};
use crate::stream::sources::ConverseSource;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const GUARDRAIL_INTERVENED: &str = "guardrail_intervened";

/// Converse `stopReason` → Anthropic `stop_reason`.
fn stop_reason(converse: &str) -> &'static str {
    match converse {
        "tool_use" => "tool_use",
        "max_tokens" | "model_context_window_exceeded" => "max_tokens",
        "stop_sequence" => "stop_sequence",
        // A guardrail's message is the answer (`guardrail::mark_intervened` says why).
        "guardrail_intervened" => "end_turn",
        "content_filtered" => "refusal",
        _ => "end_turn",
    }
}

fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens.unwrap_or(0),
        "cache_creation_input_tokens": usage.cache_write_input_tokens.unwrap_or(0),
    })
}

/// What a Converse answer is stamped with.
pub struct ConverseMessage {
    pub id: String,
    pub model: String,
}

impl JsonTranslator for ConverseMessage {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let answer: ConverseResponse = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_gateway(format!("Bedrock answered with an unexpected body: {e}"))
        })?;
        let mut content = Vec::new();
        for block in &answer.output.message.content {
            if let Some(text) = block.get("text").and_then(Value::as_str) {
                content.push(json!({"type": "text", "text": text}));
            } else if let Some(tool) = block.get("toolUse") {
                content.push(json!({"type": "tool_use", "id": tool.get("toolUseId"),
                    "name": tool.get("name"), "input": tool.get("input").cloned().unwrap_or(json!({}))}));
            } else if let Some(reasoning) = block.get("reasoningContent") {
                if let Some(text) = reasoning.get("reasoningText") {
                    content.push(json!({"type": "thinking",
                        "thinking": text.get("text").and_then(Value::as_str).unwrap_or(""),
                        "signature": text.get("signature").and_then(Value::as_str).unwrap_or("")}));
                } else if let Some(data) = reasoning.get("redactedContent") {
                    content.push(json!({"type": "redacted_thinking", "data": data}));
                }
            }
        }
        let mut message = json!({
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": stop_reason(&answer.stop_reason),
            "stop_sequence": null, "usage": usage_json(&answer.usage),
        });
        if answer.stop_reason == GUARDRAIL_INTERVENED {
            guardrail::mark_intervened(&mut message);
        }
        guardrail::attach_trace(&mut message, answer.trace.as_ref());
        Ok(message.to_string().into_bytes())
    }
}

/// The block open on the Anthropic side for a Converse block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    ToolUse,
}

#[derive(Debug)]
pub struct ConverseEvents {
    id: String,
    model: String,
    started: bool,
    /// Converse `contentBlockIndex` → (Anthropic index, kind), while open.
    open: BTreeMap<u32, (u32, Open)>,
    next_index: u32,
    stop: Option<&'static str>,
    usage: Option<Usage>,
    /// Bedrock's trace from the metadata event (only when the request asked for one).
    trace: Option<Value>,
    /// The guardrail intervened (stop reason `guardrail_intervened`).
    intervened: bool,
}

/// ConverseStream → Anthropic SSE, fed as bytes arrive.
pub type ConverseMessagesStream = StreamDriver<ConverseSource, ConverseEvents>;

pub fn converse_messages_stream(id: String, model: String) -> ConverseMessagesStream {
    StreamDriver::with_handler(ConverseEvents {
        id,
        model,
        started: false,
        open: BTreeMap::new(),
        next_index: 0,
        stop: None,
        usage: None,
        trace: None,
        intervened: false,
    })
}

impl ConverseEvents {
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = json!({"id": self.id, "type": "message", "role": "assistant",
            "model": self.model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0}});
        sse::push_event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": message}),
        );
    }

    /// The Anthropic index of Converse block `block`, opening it as `kind` if needed.
    fn open(&mut self, block: u32, kind: Open, start: Value, out: &mut Vec<u8>) -> u32 {
        if let Some((index, open)) = self.open.get(&block) {
            if *open == kind {
                return *index;
            }
            let index = *index;
            self.close(block, index, out);
        }
        let index = self.next_index;
        self.next_index = self.next_index.saturating_add(1);
        self.open.insert(block, (index, kind));
        sse::push_event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        index
    }

    fn close(&mut self, block: u32, index: u32, out: &mut Vec<u8>) {
        self.open.remove(&block);
        sse::push_event(
            out,
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        );
    }

    fn delta(out: &mut Vec<u8>, index: u32, delta: Value) {
        sse::push_event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn on_block_start(&mut self, start: ContentBlockStart, out: &mut Vec<u8>) {
        if let Some(tool) = start.start.tool_use {
            let block =
                json!({"type": "tool_use", "id": tool.tool_use_id, "name": tool.name, "input": {}});
            self.open(start.content_block_index, Open::ToolUse, block, out);
        }
    }

    fn on_delta(&mut self, block: u32, delta: Delta, out: &mut Vec<u8>) {
        match delta {
            Delta::Text(text) => {
                let index = self.open(block, Open::Text, json!({"type": "text", "text": ""}), out);
                if !text.is_empty() {
                    Self::delta(out, index, json!({"type": "text_delta", "text": text}));
                }
            }
            Delta::ToolUse { input } => {
                let start = json!({"type": "tool_use", "id": "", "name": "", "input": {}});
                let index = self.open(block, Open::ToolUse, start, out);
                Self::delta(
                    out,
                    index,
                    json!({"type": "input_json_delta", "partial_json": input}),
                );
            }
            Delta::ReasoningContent(r) => {
                let start = json!({"type": "thinking", "thinking": "", "signature": ""});
                let index = self.open(block, Open::Thinking, start, out);
                if let Some(text) = r.text.filter(|t| !t.is_empty()) {
                    Self::delta(
                        out,
                        index,
                        json!({"type": "thinking_delta", "thinking": text}),
                    );
                }
                if let Some(signature) = r.signature {
                    Self::delta(
                        out,
                        index,
                        json!({"type": "signature_delta", "signature": signature}),
                    );
                }
            }
            Delta::Unknown => {}
        }
    }

    fn close_all(&mut self, out: &mut Vec<u8>) {
        let open: Vec<(u32, u32)> = self.open.iter().map(|(b, (i, _))| (*b, *i)).collect();
        for (block, index) in open {
            self.close(block, index, out);
        }
    }

    fn finish_message(&mut self, out: &mut Vec<u8>) {
        let usage = self.usage.clone().unwrap_or_default();
        let mut delta = json!({"type": "message_delta",
            "delta": {"stop_reason": self.stop.unwrap_or("end_turn"), "stop_sequence": null},
            "usage": usage_json(&usage)});
        if self.intervened {
            guardrail::mark_intervened(&mut delta);
        }
        guardrail::attach_trace(&mut delta, self.trace.as_ref());
        sse::push_event(out, "message_delta", &delta);
        sse::push_event(out, "message_stop", &json!({"type": "message_stop"}));
    }
}

impl EventHandler for ConverseEvents {
    type Event = StreamEvent;

    fn on_event(&mut self, event: StreamEvent, out: &mut Vec<u8>) -> Flow {
        self.start(out);
        match event {
            StreamEvent::ContentBlockStart(start) => self.on_block_start(start, out),
            StreamEvent::ContentBlockDelta(delta) => {
                self.on_delta(delta.content_block_index, delta.delta, out)
            }
            StreamEvent::ContentBlockStop(stop) => {
                if let Some((index, _)) = self.open.get(&stop.content_block_index) {
                    let index = *index;
                    self.close(stop.content_block_index, index, out);
                }
            }
            StreamEvent::MessageStop(stop) => {
                self.close_all(out);
                self.stop = Some(stop_reason(&stop.stop_reason));
                self.intervened = stop.stop_reason == GUARDRAIL_INTERVENED;
            }
            StreamEvent::Metadata(meta) => {
                self.usage = meta.usage;
                self.trace = meta.trace;
                if self.stop.is_some() {
                    self.finish_message(out);
                    return Flow::Complete;
                }
            }
            StreamEvent::MessageStart(_) | StreamEvent::Unknown(_) => {}
        }
        Flow::Open
    }

    fn on_end(&mut self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        if self.stop.is_none() {
            return Err(ApiError::bad_gateway(
                "Bedrock: stream ended before the message was complete",
            ));
        }
        self.finish_message(out);
        Ok(())
    }

    fn on_error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        out.extend_from_slice(&errors::sse_event(error));
    }

    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::eventstream::test_support::{
        block_stop, named_events, random_cuts, reasoning, split_at_points, start, stop, text,
        tool_input, tool_start, Rng,
    };
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn metadata() -> Vec<u8> {
        crate::bedrock::eventstream::test_support::event(
            "metadata",
            json!({"usage": {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10}, "metrics": {"latencyMs": 1}}),
        )
    }

    #[test]
    fn converse_streams_become_anthropic_events_however_split() {
        let bytes = [
            start(),
            reasoning(0, json!({"text": "hmm"})),
            reasoning(0, json!({"signature": "sig"})),
            block_stop(0),
            text(1, "Calling."),
            block_stop(1),
            tool_start(2, "t1", "get_weather"),
            tool_input(2, "{\"city\":"),
            tool_input(2, "\"Paris\"}"),
            block_stop(2),
            stop("tool_use"),
            metadata(),
        ]
        .concat();
        let mut whole = converse_messages_stream("msg_1".into(), "nova".into());
        let mut expected = whole.push(&bytes);
        expected.extend(whole.finish());
        let events = named_events(&expected);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(events[8].1["content_block"]["name"], "get_weather");
        assert_eq!(events[8].1["index"], 2);
        assert_eq!(events[12].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[12].1["usage"]["output_tokens"], 3);
        let mut rng = Rng(11);
        for _ in 0..100 {
            let cuts = random_cuts(&mut rng, bytes.len(), 30);
            let mut s = converse_messages_stream("msg_1".into(), "nova".into());
            let mut out = Vec::new();
            for piece in split_at_points(&bytes, &cuts) {
                out.extend(s.push(piece));
            }
            out.extend(s.finish());
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn json_answers_become_messages() {
        let body = json!({"output": {"message": {"role": "assistant", "content": [
            {"text": "Hi"}, {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}}]}},
            "stopReason": "tool_use", "usage": {"inputTokens": 4, "outputTokens": 2, "totalTokens": 6}});
        let out = ConverseMessage {
            id: "msg_1".into(),
            model: "nova".into(),
        }
        .translate(body.to_string().as_bytes())
        .unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            out["content"],
            json!([{"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}])
        );
        assert_eq!(
            (
                out["stop_reason"].clone(),
                out["usage"]["input_tokens"].clone()
            ),
            (json!("tool_use"), json!(4))
        );
    }

    #[test]
    fn a_guardrail_intervention_is_the_answer_marked_as_intervened() {
        let blocked = "Sorry, the model cannot answer this question.";
        let body = json!({"output": {"message": {"role": "assistant", "content": [{"text": blocked}]}},
            "stopReason": "guardrail_intervened",
            "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}});
        let answer = ConverseMessage {
            id: "msg_1".into(),
            model: "nova".into(),
        };
        let out: Value =
            serde_json::from_slice(&answer.translate(body.to_string().as_bytes()).unwrap())
                .unwrap();
        assert_eq!(out["content"][0]["text"], blocked);
        assert_eq!(out["stop_reason"], "end_turn");
        assert_eq!(out[guardrail::INVOKE_ACTION_FIELD], "INTERVENED");

        let bytes = [
            start(),
            text(0, blocked),
            block_stop(0),
            stop("guardrail_intervened"),
            metadata(),
        ]
        .concat();
        let mut s = converse_messages_stream("msg_1".into(), "nova".into());
        let mut out = s.push(&bytes);
        out.extend(s.finish());
        let events = named_events(&out);
        let (_, delta) = events.iter().find(|(n, _)| n == "message_delta").unwrap();
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(delta[guardrail::INVOKE_ACTION_FIELD], "INTERVENED");
        let mut s = converse_messages_stream("msg_1".into(), "nova".into());
        let mut out = s.push(
            &[
                start(),
                text(0, "Hi"),
                block_stop(0),
                stop("end_turn"),
                metadata(),
            ]
            .concat(),
        );
        out.extend(s.finish());
        assert!(!String::from_utf8(out)
            .unwrap()
            .contains(guardrail::INVOKE_ACTION_FIELD));
    }
}
