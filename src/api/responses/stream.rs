//! ConverseStream (AWS event stream) → Responses API SSE events, frame by frame.
//!
//! [`ResponsesStream`] is fed the raw upstream body as Envoy hands it over; each push returns
//! the events for the frames it completed. At most one output item is open at a time (Bedrock
//! streams content blocks one after another); it is closed by its `contentBlockStop`, by the
//! next block, or by `messageStop`.
//!
//! ```text
//!        first frame          messageStop            metadata (usage) / finish()
//!  Idle ─────────────► Open ──────────────► Stopped ─────────────────────────────► Done
//!  response.created     items stream         items closed       response.completed
//!  response.in_progress
//!    │                   │                     │
//!    └─ exception, corrupt or truncated stream, abort ──────────────────────────► Failed
//!                                                                      response.failed
//! ```
//!
//! The finished items are kept so `response.completed` carries the whole `output`, as OpenAI's
//! does (clients such as openai-python's stream helper read the final response from it).

use crate::api::responses::output::{
    arguments_text, call_item, final_status, item_prefix, message_item, reasoning_item, seal,
    text_part, ResponseMeta,
};
use crate::api::responses::tools::{custom_input, CallKind, ToolTarget};
use crate::bedrock::converse::{ReasoningBlock, ReasoningText, Usage};
use crate::bedrock::stream::{ContentBlockStart, Delta, StreamEvent};
use crate::error::ApiError;
use crate::policy::guardrail;
use crate::sse;
use crate::stream::driver::{EventHandler, Flow, StreamDriver};
use crate::stream::sources::ConverseSource;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing sent yet.
    Idle,
    /// `response.created` sent; content may arrive.
    Open,
    /// `messageStop` seen, every item closed; waiting for usage.
    Stopped,
    /// `response.completed` sent.
    Done,
}

/// The output item being streamed.
#[derive(Debug)]
enum OpenItem {
    Message {
        block: u32,
        text: String,
    },
    Reasoning {
        block: u32,
        text: String,
        signature: Option<String>,
        redacted: Option<String>,
    },
    Call {
        block: u32,
        call_id: String,
        target: ToolTarget,
        /// The tool input JSON as streamed so far.
        input: String,
    },
}

impl OpenItem {
    fn block(&self) -> u32 {
        match self {
            OpenItem::Message { block, .. }
            | OpenItem::Reasoning { block, .. }
            | OpenItem::Call { block, .. } => *block,
        }
    }
}

/// The Responses translator's event handlers; [`ResponsesStream`] drives them.
#[derive(Debug)]
pub struct ResponsesEvents {
    meta: ResponseMeta,
    phase: Phase,
    sequence: u64,
    open: Option<(OpenItem, String)>,
    /// Finished output items, for `response.completed`.
    output: Vec<Value>,
    stop_reason: Option<String>,
    usage: Option<Usage>,
    /// Bedrock's trace from the metadata event (only when the request asked for one).
    trace: Option<Value>,
}

/// ConverseStream → Responses events, fed as bytes arrive.
pub type ResponsesStream = StreamDriver<ConverseSource, ResponsesEvents>;

impl ResponsesStream {
    pub fn new(meta: ResponseMeta) -> Self {
        StreamDriver::with_handler(ResponsesEvents {
            meta,
            phase: Phase::Idle,
            sequence: 0,
            open: None,
            output: Vec::new(),
            stop_reason: None,
            usage: None,
            trace: None,
        })
    }

    /// Every output item, once `response.completed` was sent.
    pub fn completed_output(&self) -> Option<&[Value]> {
        let events = self.handler();
        (events.phase == Phase::Done).then_some(events.output.as_slice())
    }
}

impl EventHandler for ResponsesEvents {
    type Event = StreamEvent;

    fn on_event(&mut self, event: StreamEvent, out: &mut Vec<u8>) -> Flow {
        self.on_stream_event(event, out);
        if self.phase == Phase::Done {
            Flow::Complete
        } else {
            Flow::Open
        }
    }

    /// `response.completed` after a complete answer (usage as known); a stream that ended
    /// before `messageStop` failed.
    fn on_end(&mut self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        if self.phase != Phase::Stopped {
            return Err(ApiError::bad_gateway(
                "Bedrock: stream ended before the response was complete",
            ));
        }
        self.complete(out);
        Ok(())
    }

    /// `response.failed`, after `response.created` if nothing was sent yet.
    fn on_error(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        if self.phase == Phase::Idle {
            self.start(out);
        }
        // A half-streamed item is not part of a failed response's output.
        self.open = None;
        let response =
            self.meta
                .response("failed", &self.output, self.usage.as_ref(), None, Some(err));
        self.emit(out, "response.failed", json!({ "response": response }));
    }

    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    fn output_items(&self) -> Option<&[Value]> {
        Some(&self.output)
    }
}

impl ResponsesEvents {
    fn on_stream_event(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        if self.phase == Phase::Idle {
            self.start(out);
        }
        match event {
            StreamEvent::ContentBlockStart(start) if self.phase == Phase::Open => {
                self.on_block_start(start, out)
            }
            StreamEvent::ContentBlockDelta(delta) if self.phase == Phase::Open => {
                self.on_delta(delta.content_block_index, delta.delta, out)
            }
            StreamEvent::ContentBlockStop(stop)
                if self.open.as_ref().map(|(item, _)| item.block())
                    == Some(stop.content_block_index) =>
            {
                self.close(out)
            }
            StreamEvent::MessageStop(stop) if self.phase == Phase::Open => {
                self.close(out);
                self.stop_reason = Some(stop.stop_reason);
                self.phase = Phase::Stopped;
                if self.usage.is_some() {
                    self.complete(out);
                }
            }
            StreamEvent::Metadata(meta) => {
                if let Some(usage) = meta.usage {
                    self.usage = Some(usage);
                }
                self.trace = meta.trace.or(self.trace.take());
                if self.phase == Phase::Stopped {
                    self.complete(out);
                }
            }
            _ => {}
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        let response = self.meta.response("in_progress", &[], None, None, None);
        self.emit(out, "response.created", json!({ "response": response }));
        self.emit(out, "response.in_progress", json!({ "response": response }));
        self.phase = Phase::Open;
    }

    fn on_block_start(&mut self, start: ContentBlockStart, out: &mut Vec<u8>) {
        let Some(tool) = start.start.tool_use else {
            return;
        };
        self.close(out);
        if self.meta.response_tool.as_deref() == Some(tool.name.as_str()) {
            // The `text.format` answer tool: its input streams as the message text.
            let item = OpenItem::Message {
                block: start.content_block_index,
                text: String::new(),
            };
            self.open_item(item, out);
            return;
        }
        let target = self.meta.tools.target(&tool.name);
        let item = OpenItem::Call {
            block: start.content_block_index,
            call_id: tool.tool_use_id,
            target,
            input: String::new(),
        };
        self.open_item(item, out);
    }

    fn on_delta(&mut self, block: u32, delta: Delta, out: &mut Vec<u8>) {
        match delta {
            Delta::Text(text) => {
                if !self.is_open_message(block) {
                    self.close(out);
                    self.open_item(
                        OpenItem::Message {
                            block,
                            text: String::new(),
                        },
                        out,
                    );
                }
                if text.is_empty() {
                    return;
                }
                let Some((OpenItem::Message { text: all, .. }, id)) = &mut self.open else {
                    return;
                };
                all.push_str(&text);
                let id = id.clone();
                let fields = json!({"item_id": id, "output_index": self.output.len(),
                    "content_index": 0, "delta": text, "logprobs": []});
                self.emit(out, "response.output_text.delta", fields);
            }
            Delta::ToolUse { input } if self.is_open_message(block) => {
                self.on_delta(block, Delta::Text(input), out)
            }
            Delta::ToolUse { input } => {
                let Some((
                    OpenItem::Call {
                        block: b,
                        target,
                        input: all,
                        ..
                    },
                    id,
                )) = &mut self.open
                else {
                    return;
                };
                if *b != block || input.is_empty() {
                    return;
                }
                all.push_str(&input);
                // Freeform input is JSON-wrapped by Bedrock: it is sent unwrapped when complete.
                if target.kind == CallKind::Function {
                    let id = id.clone();
                    let fields =
                        json!({"item_id": id, "output_index": self.output.len(), "delta": input});
                    self.emit(out, "response.function_call_arguments.delta", fields);
                }
            }
            Delta::ReasoningContent(r) => {
                if !matches!(&self.open, Some((OpenItem::Reasoning { block: b, .. }, _)) if *b == block)
                {
                    self.close(out);
                    let item = OpenItem::Reasoning {
                        block,
                        text: String::new(),
                        signature: None,
                        redacted: None,
                    };
                    self.open_item(item, out);
                }
                let Some((
                    OpenItem::Reasoning {
                        text: all,
                        signature,
                        redacted,
                        ..
                    },
                    id,
                )) = &mut self.open
                else {
                    return;
                };
                if let Some(s) = r.signature {
                    signature.get_or_insert_with(String::new).push_str(&s);
                }
                if let Some(data) = r.redacted_content {
                    redacted.get_or_insert_with(String::new).push_str(&data);
                }
                let Some(text) = r.text.filter(|t| !t.is_empty()) else {
                    return;
                };
                let first = all.is_empty();
                all.push_str(&text);
                let id = id.clone();
                let output_index = self.output.len();
                if first {
                    let fields = json!({"item_id": id, "output_index": output_index,
                        "summary_index": 0, "part": {"type": "summary_text", "text": ""}});
                    self.emit(out, "response.reasoning_summary_part.added", fields);
                }
                let fields = json!({"item_id": id, "output_index": output_index,
                    "summary_index": 0, "delta": text});
                self.emit(out, "response.reasoning_summary_text.delta", fields);
            }
            Delta::Unknown => {}
        }
    }

    fn is_open_message(&self, block: u32) -> bool {
        matches!(&self.open, Some((OpenItem::Message { block: b, .. }, _)) if *b == block)
    }

    fn open_item(&mut self, item: OpenItem, out: &mut Vec<u8>) {
        let output_index = self.output.len();
        let (id, added) = match &item {
            OpenItem::Message { .. } => {
                let id = self.meta.item_id("msg", output_index);
                let added = message_item(&id, "", "in_progress");
                (id, added)
            }
            OpenItem::Reasoning { .. } => {
                let id = self.meta.item_id("rs", output_index);
                let added = reasoning_item(&id, "", None);
                (id, added)
            }
            OpenItem::Call {
                call_id, target, ..
            } => {
                let id = self.meta.item_id(item_prefix(target.kind), output_index);
                let added = call_item(&id, call_id, target, "", "in_progress");
                (id, added)
            }
        };
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": output_index, "item": added}),
        );
        if matches!(item, OpenItem::Message { .. }) {
            let fields = json!({"item_id": id, "output_index": output_index,
                "content_index": 0, "part": text_part("")});
            self.emit(out, "response.content_part.added", fields);
        }
        self.open = Some((item, id));
    }

    /// Closes the open item, if any: its `.done` events, then `response.output_item.done`.
    fn close(&mut self, out: &mut Vec<u8>) {
        let Some((item, id)) = self.open.take() else {
            return;
        };
        let output_index = self.output.len();
        let done = match item {
            OpenItem::Message { text, .. } => {
                let fields = json!({"item_id": id, "output_index": output_index,
                    "content_index": 0, "text": text, "logprobs": []});
                self.emit(out, "response.output_text.done", fields);
                let fields = json!({"item_id": id, "output_index": output_index,
                    "content_index": 0, "part": text_part(&text)});
                self.emit(out, "response.content_part.done", fields);
                message_item(&id, &text, "completed")
            }
            OpenItem::Reasoning {
                text,
                signature,
                redacted,
                ..
            } => {
                if !text.is_empty() {
                    let fields = json!({"item_id": id, "output_index": output_index,
                        "summary_index": 0, "text": text});
                    self.emit(out, "response.reasoning_summary_text.done", fields);
                    let fields = json!({"item_id": id, "output_index": output_index,
                        "summary_index": 0, "part": {"type": "summary_text", "text": text}});
                    self.emit(out, "response.reasoning_summary_part.done", fields);
                }
                let block = match redacted {
                    Some(data) => ReasoningBlock::RedactedContent(data),
                    None => ReasoningBlock::ReasoningText(ReasoningText {
                        text: text.clone(),
                        signature,
                    }),
                };
                reasoning_item(&id, &text, seal(&block).as_deref())
            }
            OpenItem::Call {
                call_id,
                target,
                input,
                ..
            } => {
                match target.kind {
                    CallKind::Function => {
                        let fields = json!({"item_id": id, "output_index": output_index,
                            "arguments": arguments_text(&input)});
                        self.emit(out, "response.function_call_arguments.done", fields);
                    }
                    CallKind::Custom => {
                        let raw =
                            custom_input(&serde_json::from_str(&input).unwrap_or(Value::Null));
                        if !raw.is_empty() {
                            let fields = json!({"item_id": id, "output_index": output_index,
                                "call_id": call_id, "delta": raw});
                            self.emit(out, "response.custom_tool_call_input.delta", fields);
                        }
                        let fields = json!({"item_id": id, "output_index": output_index,
                            "call_id": call_id, "input": raw});
                        self.emit(out, "response.custom_tool_call_input.done", fields);
                    }
                    CallKind::ToolSearch => {}
                }
                call_item(&id, &call_id, &target, &input, "completed")
            }
        };
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": output_index, "item": done}),
        );
        self.output.push(done);
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        let stop_reason = self.stop_reason.as_deref().unwrap_or("end_turn");
        let usage = self.usage.clone().unwrap_or_default();
        let mut response = self.meta.response(
            final_status(stop_reason),
            &self.output,
            Some(&usage),
            Some(stop_reason),
            None,
        );
        guardrail::attach_trace(&mut response, self.trace.as_ref());
        self.emit(out, "response.completed", json!({ "response": response }));
        self.phase = Phase::Done;
    }

    /// Writes one event: `fields` plus `type` and `sequence_number`.
    fn emit(&mut self, out: &mut Vec<u8>, name: &str, mut fields: Value) {
        if let Some(obj) = fields.as_object_mut() {
            obj.insert("type".into(), json!(name));
            obj.insert("sequence_number".into(), json!(self.sequence));
        }
        self.sequence = self.sequence.saturating_add(1);
        sse::push_event(out, name, &fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::responses::output::unseal;
    use crate::api::responses::tools::Offered;
    use crate::bedrock::eventstream::test_support::{
        block_stop, event, exception, random_cuts, reasoning, split_at_points, start, stop, text,
        tool_input, tool_start, Rng,
    };
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn meta() -> ResponseMeta {
        let mut offered = Offered::default();
        offered
            .add_all(
                json!([
                    {"type": "function", "name": "exec_command"},
                    {"type": "custom", "name": "apply_patch"},
                    {"type": "namespace", "name": "multi_agent_v1", "tools": [{"type": "function", "name": "spawn_agent"}]},
                ])
                .as_array()
                .unwrap(),
                "tools",
            )
            .unwrap();
        ResponseMeta {
            id: "resp_r1".into(),
            model: "gpt-5.5".into(),
            created_at: 7,
            tools: offered.names,
            response_tool: None,
            echo: serde_json::Map::new(),
        }
    }

    // ---- frames -------------------------------------------------------------------------------

    fn metadata() -> Vec<u8> {
        event(
            "metadata",
            json!({"usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 115,
                             "cacheReadInputTokens": 80, "cacheWriteInputTokens": 20},
                   "metrics": {"latencyMs": 3}}),
        )
    }

    // ---- harness ------------------------------------------------------------------------------

    fn run(pieces: &[&[u8]]) -> Vec<u8> {
        let mut s = ResponsesStream::new(meta());
        let mut out = Vec::new();
        for p in pieces {
            out.extend(s.push(p));
        }
        out.extend(s.finish());
        out
    }

    /// The same SSE whole, split at every byte boundary, byte by byte and at random cuts.
    fn same_output_for_all_splits(stream: &[u8]) -> Vec<u8> {
        let whole = run(&[stream]);
        for cut in 0..=stream.len() {
            assert_eq!(
                run(&[&stream[..cut], &stream[cut..]]),
                whole,
                "split at {cut}"
            );
        }
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(run(&bytewise), whole, "byte by byte");
        let mut rng = Rng(0x5EED ^ stream.len() as u64);
        for _ in 0..100 {
            let cuts = random_cuts(&mut rng, stream.len(), 30);
            assert_eq!(run(&split_at_points(stream, &cuts)), whole, "cuts {cuts:?}");
        }
        whole
    }

    /// Parses `event:`/`data:` pairs and checks what every stream must satisfy: names match
    /// `type`, sequence numbers count up from 0, and exactly one terminal event comes last.
    fn events(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.ends_with("\n\n"));
        let events: Vec<Value> = text
            .split_terminator("\n\n")
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                let name = name.strip_prefix("event: ").unwrap();
                let v: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(v["type"], name);
                v
            })
            .collect();
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["sequence_number"], i as u64);
        }
        let terminal: Vec<&Value> = events
            .iter()
            .filter(|e| {
                matches!(
                    e["type"].as_str(),
                    Some("response.completed" | "response.failed")
                )
            })
            .collect();
        assert_eq!(terminal.len(), 1, "one terminal event");
        assert_eq!(Some(terminal[0]), events.last());
        assert_eq!(events[0]["type"], "response.created");
        assert_eq!(events[1]["type"], "response.in_progress");
        events
    }

    fn types(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    fn concat(events: &[Value], kind: &str) -> String {
        events
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| e["delta"].as_str().unwrap())
            .collect()
    }

    fn last(events: &[Value]) -> &Value {
        &events.last().unwrap()["response"]
    }

    // ---- cases --------------------------------------------------------------------------------

    #[test]
    fn text_streams_as_one_message_and_completes_with_usage() {
        let s = [
            start(),
            text(0, "Hel"),
            text(0, "lo, wörld 👋"),
            text(0, ""),
            block_stop(0),
            stop("end_turn"),
            metadata(),
        ]
        .concat();
        let ev = events(&same_output_for_all_splits(&s));
        assert_eq!(
            types(&ev),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(concat(&ev, "response.output_text.delta"), "Hello, wörld 👋");
        assert_eq!(ev[6]["text"], "Hello, wörld 👋");
        assert_eq!(ev[8]["item"]["content"][0]["text"], "Hello, wörld 👋");
        assert_eq!(ev[2]["item"]["id"], "msg_r1_0");
        let done = last(&ev);
        assert_eq!(done["id"], "resp_r1");
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello, wörld 👋");
        assert_eq!(
            done["usage"],
            json!({"input_tokens": 110, "input_tokens_details": {"cached_tokens": 80, "cache_write_tokens": 20}, "output_tokens": 5,
                   "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 115})
        );
    }

    #[test]
    fn text_format_answer_tool_streams_as_output_text() {
        let mut meta = meta();
        meta.response_tool = Some("json_response".into());
        let mut s = ResponsesStream::new(meta);
        let mut out = Vec::new();
        for frame in [
            start(),
            tool_start(0, "tooluse_j", "json_response"),
            tool_input(0, "{\"age\":"),
            tool_input(0, "42}"),
            block_stop(0),
            stop("tool_use"),
            metadata(),
        ] {
            out.extend(s.push(&frame));
        }
        out.extend(s.finish());
        let ev = events(&out);
        let kinds = types(&ev);
        assert!(
            !kinds.iter().any(|k| k.contains("function_call")),
            "{kinds:?}"
        );
        assert_eq!(concat(&ev, "response.output_text.delta"), "{\"age\":42}");
        let done = last(&ev);
        assert_eq!(done["status"], "completed");
        assert_eq!(
            done["output"],
            json!([{"type": "message", "id": "msg_r1_0", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": "{\"age\":42}", "annotations": [], "logprobs": []}]}])
        );
    }

    #[test]
    fn function_calls_stream_their_arguments() {
        let s = [
            start(),
            text(0, "Let me run it."),
            block_stop(0),
            tool_start(1, "tooluse_a", "exec_command"),
            tool_input(1, "{\"cmd\":"),
            tool_input(1, "\"ls\"}"),
            block_stop(1),
            tool_start(2, "tooluse_b", "multi_agent_v1__spawn_agent"),
            block_stop(2),
            stop("tool_use"),
            metadata(),
        ]
        .concat();
        let ev = events(&same_output_for_all_splits(&s));
        assert_eq!(
            concat(&ev, "response.function_call_arguments.delta"),
            "{\"cmd\":\"ls\"}"
        );
        let added: Vec<&Value> = ev
            .iter()
            .filter(|e| e["type"] == "response.output_item.added")
            .collect();
        assert_eq!(added[1]["item"]["type"], "function_call");
        assert_eq!(added[1]["item"]["arguments"], "");
        assert_eq!(added[1]["output_index"], 1);
        let done: Vec<&Value> = ev
            .iter()
            .filter(|e| e["type"] == "response.output_item.done")
            .collect();
        assert_eq!(
            done[1]["item"],
            json!({"type": "function_call", "id": "fc_r1_1", "call_id": "tooluse_a", "name": "exec_command",
                   "arguments": "{\"cmd\":\"ls\"}", "status": "completed"})
        );
        assert_eq!(done[2]["item"]["name"], "spawn_agent");
        assert_eq!(done[2]["item"]["namespace"], "multi_agent_v1");
        assert_eq!(done[2]["item"]["arguments"], "{}");
        let args_done: Vec<&Value> = ev
            .iter()
            .filter(|e| e["type"] == "response.function_call_arguments.done")
            .collect();
        assert_eq!(args_done[0]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(last(&ev)["output"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn freeform_calls_come_back_as_raw_input() {
        let patch = "*** Begin Patch\n*** Add File: a.txt\n+hi \"there\"\n*** End Patch\n";
        let json_input = json!({"input": patch}).to_string();
        let (a, b) = json_input.split_at(17);
        let s = [
            start(),
            tool_start(0, "tooluse_p", "apply_patch"),
            tool_input(0, a),
            tool_input(0, b),
            block_stop(0),
            stop("tool_use"),
            metadata(),
        ]
        .concat();
        let ev = events(&same_output_for_all_splits(&s));
        assert!(!types(&ev).contains(&"response.function_call_arguments.delta"));
        assert_eq!(concat(&ev, "response.custom_tool_call_input.delta"), patch);
        let done = ev
            .iter()
            .find(|e| e["type"] == "response.custom_tool_call_input.done")
            .unwrap();
        assert_eq!(done["input"], patch);
        let item = &ev
            .iter()
            .find(|e| e["type"] == "response.output_item.done")
            .unwrap()["item"];
        assert_eq!(
            *item,
            json!({"type": "custom_tool_call", "id": "ctc_r1_0", "call_id": "tooluse_p", "name": "apply_patch",
                   "input": patch, "status": "completed"})
        );
    }

    #[test]
    fn reasoning_streams_as_summary_and_is_sealed() {
        let s = [
            start(),
            reasoning(0, json!({"text": "Think"})),
            reasoning(0, json!({"text": "ing..."})),
            reasoning(0, json!({"signature": "sig-abc"})),
            block_stop(0),
            reasoning(1, json!({"redactedContent": "ZW5j"})),
            block_stop(1),
            text(2, "Answer"),
            block_stop(2),
            stop("end_turn"),
            metadata(),
        ]
        .concat();
        let ev = events(&same_output_for_all_splits(&s));
        assert_eq!(
            &types(&ev)[2..8],
            [
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done"
            ]
        );
        assert_eq!(
            concat(&ev, "response.reasoning_summary_text.delta"),
            "Thinking..."
        );
        let output = &last(&ev)["output"];
        assert_eq!(output[0]["summary"][0]["text"], "Thinking...");
        assert_eq!(
            unseal(output[0]["encrypted_content"].as_str().unwrap()),
            Some(ReasoningBlock::ReasoningText(ReasoningText {
                text: "Thinking...".into(),
                signature: Some("sig-abc".into())
            }))
        );
        assert_eq!(
            unseal(output[1]["encrypted_content"].as_str().unwrap()),
            Some(ReasoningBlock::RedactedContent("ZW5j".into()))
        );
        assert_eq!(output[2]["content"][0]["text"], "Answer");
    }

    #[test]
    fn cut_off_answers_complete_as_incomplete_and_missing_usage_is_zero() {
        let s = [start(), text(0, "a b"), stop("max_tokens")].concat();
        let ev = events(&same_output_for_all_splits(&s));
        let done = last(&ev);
        assert_eq!(done["status"], "incomplete");
        assert_eq!(done["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(done["usage"]["total_tokens"], 0);
    }

    #[test]
    fn upstream_failures_end_with_response_failed() {
        let exception_stream = [
            start(),
            text(0, "partial"),
            exception("modelStreamErrorException", "model hiccup"),
            text(0, "never"),
        ]
        .concat();
        let corrupt = {
            let mut f = text(0, "corrupted");
            let at = f.len() - 6;
            f[at] ^= 0x20;
            [start(), text(0, "ok"), f, stop("end_turn")].concat()
        };
        let mut truncated = [start(), text(0, "cut"), text(0, "off")].concat();
        truncated.truncate(truncated.len() - 7);
        let no_stop = [start(), text(0, "no stop")].concat();
        for (case, s, words) in [
            ("exception", exception_stream, "model hiccup"),
            ("corrupt", corrupt, "invalid event stream"),
            ("truncated mid-frame", truncated, "inside an event"),
            (
                "no messageStop",
                no_stop,
                "before the response was complete",
            ),
            ("empty", Vec::new(), "before the response was complete"),
        ] {
            let ev = events(&same_output_for_all_splits(&s));
            let failed = last(&ev);
            assert_eq!(ev.last().unwrap()["type"], "response.failed", "{case}");
            assert_eq!(failed["status"], "failed", "{case}");
            assert!(
                failed["error"]["message"].as_str().unwrap().contains(words),
                "{case}: {failed}"
            );
            assert!(!concat(&ev, "response.output_text.delta").contains("never"));
        }
    }

    #[test]
    fn abort_fails_once_and_not_after_completion() {
        let mut s = ResponsesStream::new(meta());
        let mut out = s.push(&[start(), text(0, "hi")].concat());
        out.extend(s.abort("reset"));
        assert!(s.abort("again").is_empty());
        assert!(s.finish().is_empty());
        let ev = events(&out);
        assert_eq!(
            last(&ev)["error"]["message"],
            "Bedrock: stream aborted: reset"
        );
        assert!(s.error().is_some());

        let mut s = ResponsesStream::new(meta());
        let out = s.push(&[start(), text(0, "hi"), stop("end_turn"), metadata()].concat());
        assert_eq!(last(&events(&out))["status"], "completed");
        assert!(s.abort("late").is_empty());
        assert_eq!(s.usage().unwrap().output_tokens, 5);
    }

    #[test]
    fn output_is_offered_for_remembering_only_once_completed() {
        let mut s = ResponsesStream::new(meta());
        let mut out = s.push(&[start(), text(0, "hi"), block_stop(0), stop("end_turn")].concat());
        assert_eq!(s.completed_output(), None);
        out.extend(s.push(&metadata()));
        let done = last(&events(&out)).clone();
        assert_eq!(
            s.completed_output().unwrap(),
            done["output"].as_array().unwrap().as_slice()
        );

        let mut failed = ResponsesStream::new(meta());
        failed.push(&[start(), text(0, "hi"), block_stop(0)].concat());
        failed.abort("reset");
        assert_eq!(failed.completed_output(), None);
    }
}
