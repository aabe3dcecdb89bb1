//! InvokeModelWithResponseStream (Claude) → Anthropic SSE, event by event as chunk frames
//! complete: each chunk already is an Anthropic stream event, written as `event: <type>` /
//! `data: <json>`. The gateway's touches: `message.model` is the name the client asked for
//! (Claude Code keeps its thinking blocks only when it matches), Bedrock's
//! `amazon-bedrock-invocationMetrics` is kept out (and read for usage), a guardrail's verdict
//! and trace go on `message_delta` as on every Messages stream (Bedrock sends them on
//! `message_stop`, so `message_delta` waits for the event after it), and a failed stream ends
//! with Anthropic's `event: error`.

use crate::api::messages::answer::settle_guardrail_verdict;
use crate::api::messages::errors;
use crate::bedrock::converse::Usage;
use crate::bedrock::invoke_stream::ChunkReader;
use crate::error::ApiError;
use crate::policy::guardrail;
use crate::sse;
use crate::stream::driver::{EventHandler, Flow, StreamDriver};
use serde_json::Value;

const METRICS: &str = "amazon-bedrock-invocationMetrics";

#[derive(Debug)]
pub struct MessagesEvents {
    model: String,
    usage: Usage,
    usage_seen: bool,
    stopped: bool,
    /// `message_delta`, sent with the next event once the guardrail's verdict is known.
    held_delta: Option<Value>,
    intervened: bool,
    guardrail_trace: Option<Value>,
}

/// Claude's event stream → Anthropic SSE, fed as bytes arrive.
pub type MessagesStream = StreamDriver<ChunkReader, MessagesEvents>;

pub fn messages_stream(model: String) -> MessagesStream {
    StreamDriver::with_handler(MessagesEvents {
        model,
        usage: Usage::default(),
        usage_seen: false,
        stopped: false,
        held_delta: None,
        intervened: false,
        guardrail_trace: None,
    })
}

fn count(value: Option<&Value>, field: &str) -> Option<u64> {
    value?.get(field)?.as_u64()
}

impl MessagesEvents {
    fn read_usage(&mut self, usage: Option<&Value>) {
        if let Some(n) = count(usage, "input_tokens") {
            self.usage.input_tokens = n;
            self.usage_seen = true;
        }
        if let Some(n) = count(usage, "output_tokens") {
            self.usage.output_tokens = n;
            self.usage_seen = true;
        }
        if let Some(n) = count(usage, "cache_read_input_tokens") {
            self.usage.cache_read_input_tokens = Some(n);
        }
        if let Some(n) = count(usage, "cache_creation_input_tokens") {
            self.usage.cache_write_input_tokens = Some(n);
        }
        self.usage.total_tokens = self
            .usage
            .prompt_tokens()
            .saturating_add(self.usage.output_tokens);
    }

    fn send_held_delta(&mut self, out: &mut Vec<u8>) {
        if let Some(mut delta) = self.held_delta.take() {
            let trace = self.guardrail_trace.take();
            let stop = ["delta", "stop_reason"];
            settle_guardrail_verdict(&mut delta, self.intervened, trace.as_ref(), &stop);
            sse::push_event(out, "message_delta", &delta);
        }
    }
}

impl EventHandler for MessagesEvents {
    type Event = Value;

    fn on_event(&mut self, mut event: Value, out: &mut Vec<u8>) -> Flow {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (intervened, trace) = guardrail::take_invoke_verdict(&mut event);
        self.intervened |= intervened;
        if trace.is_some() {
            self.guardrail_trace = trace;
        }
        match kind.as_str() {
            "message_start" => {
                if let Some(message) = event.get_mut("message") {
                    let usage = message.get("usage").cloned();
                    self.read_usage(usage.as_ref());
                    if let Some(obj) = message.as_object_mut() {
                        obj.insert("model".into(), Value::String(self.model.clone()));
                    }
                }
            }
            "message_delta" => {
                let usage = event.get("usage").cloned();
                self.read_usage(usage.as_ref());
                self.send_held_delta(out);
                self.held_delta = Some(event);
                return Flow::Open;
            }
            "message_stop" => self.stopped = true,
            _ => {}
        }
        if let Some(obj) = event.as_object_mut() {
            obj.remove(METRICS);
        }
        self.send_held_delta(out);
        if kind == "error" {
            // Already Anthropic's envelope: the stream ends with it.
            sse::push_event(out, "error", &event);
            return Flow::Complete;
        }
        sse::push_event(out, &kind, &event);
        if self.stopped {
            Flow::Complete
        } else {
            Flow::Open
        }
    }

    fn on_end(&mut self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.send_held_delta(out);
        if self.stopped {
            Ok(())
        } else {
            Err(ApiError::bad_gateway(
                "Bedrock: stream ended before the message was complete",
            ))
        }
    }

    fn on_error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        out.extend_from_slice(&errors::sse_event(error));
    }

    fn usage(&self) -> Option<&Usage> {
        self.usage_seen.then_some(&self.usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::eventstream::test_support::{chunk, encode, named_events, split_at_points};
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn claude_stream() -> Vec<u8> {
        [
            chunk(json!({"type": "message_start", "message": {"id": "msg_bdrk_1", "type": "message",
                "role": "assistant", "model": "claude-sonnet-4-5-20250929", "content": [],
                "stop_reason": null, "usage": {"input_tokens": 21, "output_tokens": 1,
                "cache_read_input_tokens": 5}}})),
            chunk(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            chunk(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}})),
            chunk(json!({"type": "content_block_stop", "index": 0})),
            chunk(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}})),
            chunk(json!({"type": "message_stop", METRICS: {"inputTokenCount": 21, "outputTokenCount": 4}})),
        ]
        .concat()
    }

    #[test]
    fn chunks_become_anthropic_sse_the_same_at_every_split() {
        let bytes = claude_stream();
        let mut whole = messages_stream("claude-opus-4-8".into());
        let mut expected = whole.push(&bytes);
        expected.extend(whole.finish());
        let parsed = named_events(&expected);
        let names: Vec<&str> = parsed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(parsed[0].1["message"]["model"], "claude-opus-4-8");
        assert!(parsed[5].1.get(METRICS).is_none());
        let usage = whole.usage().unwrap();
        assert_eq!(
            (
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_input_tokens
            ),
            (21, 4, Some(5))
        );
        for cut in 1..bytes.len() {
            let mut split = messages_stream("claude-opus-4-8".into());
            let mut out = Vec::new();
            for piece in split_at_points(&bytes, &[cut]) {
                out.extend(split.push(piece));
            }
            out.extend(split.finish());
            assert_eq!(out, expected, "split at {cut}");
        }
    }

    #[test]
    fn a_guardrail_verdict_on_message_stop_goes_on_message_delta() {
        let trace = json!({"guardrail": {"inputAssessment": {"g1": {}}}});
        let blocked = [
            chunk(json!({"type": "message_start", "message": {"id": "msg_bdrk_2",
                "type": "message", "role": "assistant", "model": "claude", "content": [],
                "stop_reason": null, "usage": {"input_tokens": 0, "output_tokens": 0}}})),
            chunk(json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}})),
            chunk(json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": "Sorry, the model cannot answer this question."}})),
            chunk(json!({"type": "content_block_stop", "index": 0})),
            chunk(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 0}})),
            chunk(json!({"type": "message_stop", METRICS: {"inputTokenCount": 0},
                guardrail::INVOKE_ACTION_FIELD: "INTERVENED",
                guardrail::INVOKE_TRACE_FIELD: trace})),
        ]
        .concat();
        let mut whole = messages_stream("c".into());
        let mut out = whole.push(&blocked);
        out.extend(whole.finish());
        let events = named_events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[4..], ["message_delta", "message_stop"]);
        assert_eq!(events[4].1["delta"]["stop_reason"], "end_turn");
        assert_eq!(events[4].1[guardrail::INVOKE_ACTION_FIELD], "INTERVENED");
        assert_eq!(events[4].1[guardrail::TRACE_FIELD], trace["guardrail"]);
        assert_eq!(events[5].1, json!({"type": "message_stop"}));
        for cut in 1..blocked.len() {
            let mut split = messages_stream("c".into());
            let mut again = Vec::new();
            for piece in split_at_points(&blocked, &[cut]) {
                again.extend(split.push(piece));
            }
            again.extend(split.finish());
            assert_eq!(again, out, "split at {cut}");
        }
        // Without a verdict nothing is marked.
        let mut plain = messages_stream("c".into());
        let mut out = plain.push(&claude_stream());
        out.extend(plain.finish());
        assert!(named_events(&out)[4]
            .1
            .get(guardrail::INVOKE_ACTION_FIELD)
            .is_none());
    }

    #[test]
    fn exceptions_and_cut_streams_end_with_an_error_event() {
        let exception = encode(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
            ],
            br#"{"message":"Too many tokens"}"#,
        );
        let mut s = messages_stream("m".into());
        let mut out = s.push(&[claude_stream()[..50].to_vec(), Vec::new()].concat());
        out.extend(s.finish());
        let last = named_events(&out).pop().unwrap();
        assert_eq!(last.0, "error");
        assert_eq!(last.1["error"]["type"], "api_error");

        let mut s = messages_stream("m".into());
        let out = s.push(&exception);
        let [(name, body)] = &named_events(&out)[..] else {
            panic!()
        };
        assert_eq!(name, "error");
        assert_eq!(
            body["error"],
            json!({"type": "rate_limit_error", "message": "Bedrock: Too many tokens"})
        );
        assert!(s.finish().is_empty());
    }
}
