//! ConverseStream (AWS event stream) → OpenAI `chat.completion.chunk` SSE, chunk by chunk.
//!
//! [`ChatEvents`] is a small explicit state machine plugged into the stream driver, which feeds
//! it the raw upstream body as Envoy hands it over. Each [`ChatStream::push`] returns the SSE
//! bytes for the frames completed by that piece (possibly none); [`ChatStream::finish`] is
//! called at upstream end of stream.
//!
//! ```text
//!            messageStop                 finish()
//!   Open ───────────────────► Stopped ───────────────► Done      ([DONE] written)
//!     │                          │
//!     └─ exception / corrupt ────┴─ truncated / abort ─► Failed  (one error event, then silence)
//! ```
//!
//! After an error no `[DONE]` follows: openai-python and openai-node raise on the
//! `data: {"error":...}` event, and clients that ignore it see an unterminated stream instead of
//! one that looks complete.

use crate::api::chat::answer::{chat_usage, finish_reason};
use crate::bedrock::converse::Usage;
use crate::bedrock::stream::{ContentBlockDelta, ContentBlockStart, Delta, StreamEvent};
use crate::error::ApiError;
use crate::sse;
use crate::stream::driver::{EventHandler, Flow, StreamDriver};
use crate::stream::sources::ConverseSource;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the chunks are stamped with.
#[derive(Debug, Clone, PartialEq)]
struct Stamp {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Content may still arrive.
    Open,
    /// `messageStop` seen and the finish chunk written; waiting for metadata and end of stream.
    Stopped,
}

/// The chat translator's event handlers; [`ChatStream`] drives them.
#[derive(Debug)]
pub struct ChatEvents {
    opts: Stamp,
    phase: Phase,
    role_sent: bool,
    /// Bedrock `contentBlockIndex` → dense OpenAI `tool_calls[].index`.
    tool_index: BTreeMap<u32, u32>,
    /// The `response_format` answer tool, whose input is streamed as content.
    response_tool: Option<String>,
    /// Blocks of that tool.
    answer_blocks: BTreeSet<u32>,
    finish_reason: Option<&'static str>,
    usage: Option<Usage>,
    usage_sent: bool,
}

/// ConverseStream → chat chunks, fed as bytes arrive.
pub type ChatStream = StreamDriver<ConverseSource, ChatEvents>;

impl ChatStream {
    /// `id`: `chatcmpl-...`, the same on every chunk; `model`: the name the client asked for;
    /// `created`: unix seconds; `include_usage`: `stream_options.include_usage` (send a final
    /// `choices: []` chunk with `usage`).
    pub fn new(id: String, model: String, created: u64, include_usage: bool) -> Self {
        StreamDriver::with_handler(ChatEvents {
            opts: Stamp {
                id,
                model,
                created,
                include_usage,
            },
            phase: Phase::Open,
            role_sent: false,
            tool_index: BTreeMap::new(),
            response_tool: None,
            answer_blocks: BTreeSet::new(),
            finish_reason: None,
            usage: None,
            usage_sent: false,
        })
    }

    /// Streams the input of this tool as message content (a `response_format` answer).
    pub fn with_response_tool(mut self, name: Option<String>) -> Self {
        self.handler_mut().response_tool = name;
        self
    }

    /// The OpenAI finish_reason sent, once `messageStop` arrived.
    pub fn finish_reason(&self) -> Option<&'static str> {
        self.handler().finish_reason
    }
}

impl EventHandler for ChatEvents {
    type Event = StreamEvent;

    fn on_event(&mut self, event: StreamEvent, out: &mut Vec<u8>) -> Flow {
        self.on_stream_event(event, out);
        Flow::Open
    }

    /// `[DONE]` after a complete response; a stream that ended before `messageStop` failed.
    fn on_end(&mut self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        if self.phase == Phase::Open {
            return Err(ApiError::bad_gateway(
                "Bedrock: stream ended before the response was complete",
            ));
        }
        self.write_usage_if_due(out);
        sse::push_done(out);
        Ok(())
    }

    fn on_error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.to_sse_event());
    }

    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

impl ChatEvents {
    fn on_stream_event(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::MessageStart(_) => {
                if self.phase == Phase::Open {
                    self.ensure_role(out);
                }
            }
            StreamEvent::ContentBlockStart(start) => self.on_block_start(start, out),
            StreamEvent::ContentBlockDelta(delta) => self.on_block_delta(delta, out),
            StreamEvent::MessageStop(stop) => {
                if self.phase != Phase::Open {
                    return; // exactly one finish_reason per stream
                }
                self.ensure_role(out);
                let reason = match finish_reason(&stop.stop_reason) {
                    // Only the answer tool was called: a normal stop for the client.
                    "tool_calls" if self.tool_index.is_empty() => "stop",
                    other => other,
                };
                self.finish_reason = Some(reason);
                self.write_chunk(out, &ChunkDelta::default(), Some(reason));
                self.phase = Phase::Stopped;
                self.write_usage_if_due(out);
            }
            StreamEvent::Metadata(meta) => {
                if let Some(usage) = meta.usage {
                    self.usage = Some(usage);
                }
                self.write_usage_if_due(out);
                self.write_trace(out, meta.trace.as_ref());
            }
            StreamEvent::ContentBlockStop(_) | StreamEvent::Unknown(_) => {}
        }
    }

    fn on_block_start(&mut self, start: ContentBlockStart, out: &mut Vec<u8>) {
        let Some(tool) = start.start.tool_use else {
            return;
        };
        if self.phase != Phase::Open || self.tool_index.contains_key(&start.content_block_index) {
            return;
        }
        self.ensure_role(out);
        if self.response_tool.as_deref() == Some(tool.name.as_str()) {
            self.answer_blocks.insert(start.content_block_index);
            return;
        }
        let index = self.tool_index_for(start.content_block_index);
        let call = ToolCallDelta {
            index,
            id: Some(&tool.tool_use_id),
            kind: Some("function"),
            function: FunctionDelta {
                name: Some(&tool.name),
                arguments: "",
            },
        };
        self.write_chunk(
            out,
            &ChunkDelta {
                tool_calls: Some([call]),
                ..Default::default()
            },
            None,
        );
    }

    fn on_block_delta(&mut self, delta: ContentBlockDelta, out: &mut Vec<u8>) {
        if self.phase != Phase::Open {
            return;
        }
        let chunk = match &delta.delta {
            Delta::Text(text) if !text.is_empty() => ChunkDelta {
                content: Some(text),
                ..Default::default()
            },
            Delta::ToolUse { input }
                if !input.is_empty() && self.answer_blocks.contains(&delta.content_block_index) =>
            {
                ChunkDelta {
                    content: Some(input),
                    ..Default::default()
                }
            }
            Delta::ToolUse { input } if !input.is_empty() => {
                // A delta without a start event (not seen from Bedrock) still gets a dense index.
                let index = self.tool_index_for(delta.content_block_index);
                let call = ToolCallDelta {
                    index,
                    id: None,
                    kind: None,
                    function: FunctionDelta {
                        name: None,
                        arguments: input,
                    },
                };
                ChunkDelta {
                    tool_calls: Some([call]),
                    ..Default::default()
                }
            }
            Delta::ReasoningContent(r) => {
                let mut blocks = Vec::new();
                if let Some(signature) = &r.signature {
                    blocks.push(ThinkingBlock::Thinking {
                        thinking: "",
                        signature,
                    });
                }
                if let Some(data) = &r.redacted_content {
                    blocks.push(ThinkingBlock::RedactedThinking { data });
                }
                ChunkDelta {
                    reasoning_content: r.text.as_deref().filter(|t| !t.is_empty()),
                    thinking_blocks: (!blocks.is_empty()).then_some(blocks),
                    ..Default::default()
                }
            }
            _ => return,
        };
        if chunk.is_empty() {
            return;
        }
        self.ensure_role(out);
        self.write_chunk(out, &chunk, None);
    }

    fn tool_index_for(&mut self, block: u32) -> u32 {
        let next = u32::try_from(self.tool_index.len()).unwrap_or(u32::MAX);
        *self.tool_index.entry(block).or_insert(next)
    }

    fn ensure_role(&mut self, out: &mut Vec<u8>) {
        if !self.role_sent {
            self.role_sent = true;
            let delta = ChunkDelta {
                role: Some("assistant"),
                content: Some(""),
                ..Default::default()
            };
            self.write_chunk(out, &delta, None);
        }
    }

    /// The usage chunk goes after the finish chunk, once usage is known.
    fn write_usage_if_due(&mut self, out: &mut Vec<u8>) {
        if !self.opts.include_usage || self.usage_sent || self.phase != Phase::Stopped {
            return;
        }
        let Some(usage) = &self.usage else { return };
        let chunk = Chunk {
            id: &self.opts.id,
            object: "chat.completion.chunk",
            created: self.opts.created,
            model: &self.opts.model,
            choices: &[],
            usage: Some(chat_usage(usage)),
            guardrail_trace: None,
        };
        sse::push_data(out, &chunk);
        self.usage_sent = true;
    }

    fn write_chunk(
        &self,
        out: &mut Vec<u8>,
        delta: &ChunkDelta<'_>,
        finish_reason: Option<&'static str>,
    ) {
        let chunk = Chunk {
            id: &self.opts.id,
            object: "chat.completion.chunk",
            created: self.opts.created,
            model: &self.opts.model,
            choices: &[Choice {
                index: 0,
                delta,
                finish_reason,
            }],
            usage: None,
            guardrail_trace: None,
        };
        sse::push_data(out, &chunk);
    }

    /// Bedrock's guardrail trace (sent only when the request asked for it) in a chunk of its
    /// own with no choices, like the usage chunk.
    fn write_trace(&self, out: &mut Vec<u8>, trace: Option<&serde_json::Value>) {
        let Some(trace) = trace.and_then(|t| t.get("guardrail")) else {
            return;
        };
        let chunk = Chunk {
            id: &self.opts.id,
            object: "chat.completion.chunk",
            created: self.opts.created,
            model: &self.opts.model,
            choices: &[],
            usage: None,
            guardrail_trace: Some(trace.clone()),
        };
        sse::push_data(out, &chunk);
    }
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [Choice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<serde_json::Value>,
    /// `policy::guardrail::TRACE_FIELD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    guardrail_trace: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    delta: &'a ChunkDelta<'a>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct ChunkDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    /// LiteLLM's convention for Anthropic-style thinking signatures and redacted thinking.
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_blocks: Option<Vec<ThinkingBlock<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

impl ChunkDelta<'_> {
    fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.content.is_none()
            && self.reasoning_content.is_none()
            && self.thinking_blocks.is_none()
            && self.tool_calls.is_none()
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ThinkingBlock<'a> {
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::eventstream::test_support::{
        block_stop, event, exception, random_cuts, reasoning, split_at_points, start, stop, text,
        tool_input, tool_start, Rng,
    };
    use serde_json::{json, Value};
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn new_stream(include_usage: bool) -> ChatStream {
        ChatStream::new(
            "chatcmpl-123".into(),
            "claude".into(),
            1_700_000_000,
            include_usage,
        )
    }

    // ---- event builders -------------------------------------------------------------------

    fn metadata(cache: bool) -> Vec<u8> {
        let mut usage = json!({"inputTokens": 10, "outputTokens": 5, "totalTokens": 15});
        if cache {
            usage["cacheReadInputTokens"] = json!(80);
            usage["cacheWriteInputTokens"] = json!(20);
            usage["totalTokens"] = json!(115);
        }
        event(
            "metadata",
            json!({"usage": usage, "metrics": {"latencyMs": 42}}),
        )
    }
    fn cat(frames: &[Vec<u8>]) -> Vec<u8> {
        frames.concat()
    }

    // ---- scenarios -------------------------------------------------------------------------

    fn text_stream() -> Vec<u8> {
        cat(&[
            start(),
            text(0, "Hel"),
            text(0, "lo, wörld 👋"),
            text(0, ""),
            block_stop(0),
            stop("end_turn"),
            metadata(false),
        ])
    }
    fn single_tool_stream() -> Vec<u8> {
        cat(&[
            start(),
            tool_start(0, "tooluse_1", "get_weather"),
            tool_input(0, "{\"city\":"),
            tool_input(0, "\"Paris\"}"),
            block_stop(0),
            stop("tool_use"),
            metadata(false),
        ])
    }
    fn parallel_tools_stream() -> Vec<u8> {
        cat(&[
            start(),
            tool_start(0, "t_a", "a"),
            tool_input(0, "{\"x\":"),
            tool_input(0, "1}"),
            block_stop(0),
            tool_start(1, "t_b", "b"),
            tool_input(1, "{}"),
            block_stop(1),
            stop("tool_use"),
            metadata(false),
        ])
    }
    fn text_then_tool_stream() -> Vec<u8> {
        cat(&[
            start(),
            text(0, "Let me check."),
            block_stop(0),
            tool_start(1, "t1", "lookup"),
            tool_input(1, "{\"q\":\"rust\"}"),
            block_stop(1),
            stop("tool_use"),
            metadata(false),
        ])
    }
    fn reasoning_stream() -> Vec<u8> {
        cat(&[
            start(),
            reasoning(0, json!({"text": "Think"})),
            reasoning(0, json!({"text": "ing..."})),
            reasoning(0, json!({"signature": "sig-abc"})),
            block_stop(0),
            reasoning(1, json!({"redactedContent": "ZW5jcnlwdGVk"})),
            block_stop(1),
            text(2, "Answer"),
            block_stop(2),
            tool_start(3, "t1", "f"),
            tool_input(3, "{}"),
            block_stop(3),
            stop("tool_use"),
            metadata(true),
        ])
    }
    fn tool_only_stream() -> Vec<u8> {
        cat(&[
            start(),
            tool_start(0, "t1", "f"),
            tool_input(0, "{\"a\":[1,2]}"),
            block_stop(0),
            stop("tool_use"),
        ])
    }
    fn exception_stream() -> Vec<u8> {
        cat(&[
            start(),
            text(0, "partial"),
            exception("modelStreamErrorException", "model hiccup"),
            text(0, "never"),
        ])
    }
    fn corrupt_stream() -> Vec<u8> {
        let bad = {
            let mut f = text(0, "corrupted");
            let at = f.len() - 6;
            f[at] ^= 0x20;
            f
        };
        cat(&[
            start(),
            text(0, "ok"),
            bad,
            text(0, "never"),
            stop("end_turn"),
        ])
    }
    fn truncated_mid_frame_stream() -> Vec<u8> {
        let mut s = cat(&[start(), text(0, "cut"), text(0, "off")]);
        s.truncate(s.len() - 7);
        s
    }
    fn truncated_at_boundary_stream() -> Vec<u8> {
        cat(&[start(), text(0, "no stop")])
    }

    // ---- harness ---------------------------------------------------------------------------

    fn run(include_usage: bool, pieces: &[&[u8]]) -> (Vec<u8>, ChatStream) {
        let mut s = new_stream(include_usage);
        let mut out = Vec::new();
        for p in pieces {
            out.extend(s.push(p));
        }
        out.extend(s.finish());
        (out, s)
    }

    /// Runs the stream whole, split at every byte boundary, byte by byte and at random
    /// multi-splits; all must produce identical SSE. Returns that SSE.
    fn same_output_for_all_splits(stream: &[u8], include_usage: bool) -> Vec<u8> {
        let (whole, _) = run(include_usage, &[stream]);
        for cut in 0..=stream.len() {
            let (out, _) = run(include_usage, &[&stream[..cut], &stream[cut..]]);
            assert_eq!(out, whole, "split at {cut}");
        }
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(run(include_usage, &bytewise).0, whole, "byte by byte");
        let mut rng = Rng(0xB3D2_0C4B ^ stream.len() as u64);
        for _ in 0..200 {
            let cuts = random_cuts(&mut rng, stream.len(), 40);
            assert_eq!(
                run(include_usage, &split_at_points(stream, &cuts)).0,
                whole,
                "cuts {cuts:?}"
            );
        }
        whole
    }

    #[derive(Debug, PartialEq)]
    enum Ev {
        Chunk(Value),
        Error(Value),
        Done,
    }

    fn parse_sse(out: &[u8]) -> Vec<Ev> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(
            text.is_empty() || text.ends_with("\n\n"),
            "unterminated event"
        );
        text.split_terminator("\n\n")
            .map(|e| {
                let data = e
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("bad event {e:?}"));
                assert!(!data.contains('\n'));
                if data == "[DONE]" {
                    return Ev::Done;
                }
                let v: Value = serde_json::from_str(data).unwrap();
                if v.get("error").is_some() {
                    Ev::Error(v)
                } else {
                    Ev::Chunk(v)
                }
            })
            .collect()
    }

    /// Properties every stream must have; returns the chunks.
    fn check_invariants(events: &[Ev]) -> Vec<Value> {
        let errors = events.iter().filter(|e| matches!(e, Ev::Error(_))).count();
        let dones = events.iter().filter(|e| matches!(e, Ev::Done)).count();
        if errors > 0 {
            assert_eq!(errors, 1);
            assert_eq!(dones, 0, "no [DONE] after an error");
            assert!(matches!(events.last(), Some(Ev::Error(_))), "error is last");
        } else {
            assert_eq!(dones, 1);
            assert_eq!(events.last(), Some(&Ev::Done));
        }
        let chunks: Vec<Value> = events
            .iter()
            .filter_map(|e| {
                if let Ev::Chunk(v) = e {
                    Some(v.clone())
                } else {
                    None
                }
            })
            .collect();
        for c in &chunks {
            assert_eq!(c["id"], "chatcmpl-123");
            assert_eq!(c["object"], "chat.completion.chunk");
            assert_eq!(c["created"], 1_700_000_000);
            assert_eq!(c["model"], "claude");
        }
        let finishes: Vec<usize> = chunks
            .iter()
            .enumerate()
            .filter(|(_, c)| !c["choices"][0]["finish_reason"].is_null())
            .map(|(i, _)| i)
            .collect();
        if errors == 0 {
            assert_eq!(finishes.len(), 1, "exactly one finish_reason");
            // After the finish chunk only the usage chunk may follow.
            for c in &chunks[finishes[0] + 1..] {
                assert_eq!(c["choices"], json!([]));
                assert!(c["usage"].is_object());
            }
            assert_eq!(chunks[finishes[0]]["choices"][0]["delta"], json!({}));
        }
        if let Some(first) = chunks.first() {
            assert_eq!(
                first["choices"][0]["delta"],
                json!({"role": "assistant", "content": ""})
            );
        }
        chunks
    }

    fn deltas(chunks: &[Value]) -> Vec<&Value> {
        chunks
            .iter()
            .filter_map(|c| c["choices"].get(0).map(|ch| &ch["delta"]))
            .collect()
    }

    fn content(chunks: &[Value], field: &str) -> String {
        deltas(chunks)
            .iter()
            .filter_map(|d| d[field].as_str())
            .collect()
    }

    /// tool_calls by dense index: (id, name, concatenated arguments).
    fn tool_calls(chunks: &[Value]) -> Vec<(String, String, String)> {
        let mut calls: Vec<(String, String, String)> = Vec::new();
        for d in deltas(chunks) {
            let Some(tcs) = d["tool_calls"].as_array() else {
                continue;
            };
            for tc in tcs {
                let i = tc["index"]
                    .as_u64()
                    .expect("index is a non-negative integer") as usize;
                if i == calls.len() {
                    assert_eq!(tc["type"], "function");
                    calls.push((
                        tc["id"].as_str().unwrap().into(),
                        tc["function"]["name"].as_str().unwrap().into(),
                        String::new(),
                    ));
                }
                assert!(i < calls.len(), "tool index {i} skips ahead");
                calls[i]
                    .2
                    .push_str(tc["function"]["arguments"].as_str().unwrap());
            }
        }
        for (_, _, args) in &calls {
            serde_json::from_str::<Value>(args).expect("arguments concatenate to valid JSON");
        }
        calls
    }

    fn finish_of(chunks: &[Value]) -> String {
        chunks
            .iter()
            .find_map(|c| c["choices"][0]["finish_reason"].as_str())
            .unwrap()
            .to_string()
    }

    // ---- tests -----------------------------------------------------------------------------

    #[test]
    fn text_stream_translates() {
        let out = same_output_for_all_splits(&text_stream(), false);
        let chunks = check_invariants(&parse_sse(&out));
        assert_eq!(content(&chunks, "content"), "Hello, wörld 👋");
        assert_eq!(finish_of(&chunks), "stop");
        assert!(tool_calls(&chunks).is_empty());
        // role, "Hel", "lo...", finish (empty text delta skipped, no usage chunk)
        assert_eq!(chunks.len(), 4);
        let (_, s) = run(false, &[&text_stream()]);
        assert_eq!(s.usage().map(|u| u.output_tokens), Some(5));
        assert!(s.error().is_none());
    }

    #[test]
    fn a_whole_converse_answer_streams_the_same_chunks_once_it_has_arrived() {
        let converse = json!({"output": {"message": {"role": "assistant", "content": [
            {"text": "Checking."},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 3, "outputTokens": 5, "totalTokens": 8}})
        .to_string()
        .into_bytes();
        let mut whole = new_stream(true).from_whole_answer();
        for piece in converse.chunks(7) {
            assert!(
                whole.push(piece).is_empty(),
                "nothing before the answer is whole"
            );
        }
        let chunks = check_invariants(&parse_sse(&whole.finish()));
        assert_eq!(content(&chunks, "content"), "Checking.");
        assert_eq!(
            tool_calls(&chunks),
            vec![(
                "tooluse_1".into(),
                "get_weather".into(),
                r#"{"city":"Paris"}"#.into()
            )]
        );
        assert_eq!(finish_of(&chunks), "tool_calls");
        assert_eq!(whole.usage().map(|u| u.output_tokens), Some(5));

        let mut broken = new_stream(false).from_whole_answer();
        broken.push(b"{\"output\": ");
        let out = String::from_utf8(broken.finish()).unwrap();
        assert!(out.contains("not JSON"), "{out}");
        assert!(broken.error().is_some());
    }

    #[test]
    fn exact_chunk_shape() {
        let (out, _) = run(
            false,
            &[&cat(&[start(), text(0, "Hi"), stop("max_tokens")])],
        );
        let text = String::from_utf8(out).unwrap();
        let expected = [
            r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1700000000,"model":"claude","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1700000000,"model":"claude","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
            r#"data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1700000000,"model":"claude","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
            "data: [DONE]",
        ]
        .map(|l| format!("{l}\n\n"))
        .concat();
        assert_eq!(text, expected);
    }

    #[test]
    fn single_tool() {
        let out = same_output_for_all_splits(&single_tool_stream(), false);
        let chunks = check_invariants(&parse_sse(&out));
        assert_eq!(
            tool_calls(&chunks),
            vec![(
                "tooluse_1".into(),
                "get_weather".into(),
                r#"{"city":"Paris"}"#.into()
            )]
        );
        assert_eq!(finish_of(&chunks), "tool_calls");
        let first_tool = deltas(&chunks)
            .into_iter()
            .find(|d| d.get("tool_calls").is_some())
            .unwrap()
            .clone();
        assert_eq!(
            first_tool,
            json!({"tool_calls": [{"index": 0, "id": "tooluse_1", "type": "function",
                                   "function": {"name": "get_weather", "arguments": ""}}]})
        );
    }

    #[test]
    fn parallel_tools_get_dense_indices() {
        let out = same_output_for_all_splits(&parallel_tools_stream(), false);
        let chunks = check_invariants(&parse_sse(&out));
        let calls = tool_calls(&chunks);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0], ("t_a".into(), "a".into(), r#"{"x":1}"#.into()));
        assert_eq!(calls[1], ("t_b".into(), "b".into(), "{}".into()));
    }

    #[test]
    fn tool_after_text_is_index_zero() {
        let out = same_output_for_all_splits(&text_then_tool_stream(), false);
        let chunks = check_invariants(&parse_sse(&out));
        assert_eq!(content(&chunks, "content"), "Let me check.");
        let indices: Vec<u64> = deltas(&chunks)
            .iter()
            .filter_map(|d| d["tool_calls"].as_array())
            .flat_map(|a| a.iter().map(|t| t["index"].as_u64().unwrap()))
            .collect();
        assert_eq!(indices, vec![0, 0]);
        assert_eq!(tool_calls(&chunks)[0].2, r#"{"q":"rust"}"#);
    }

    #[test]
    fn reasoning_then_text_with_signature_and_usage() {
        let out = same_output_for_all_splits(&reasoning_stream(), true);
        let chunks = check_invariants(&parse_sse(&out));
        assert_eq!(content(&chunks, "reasoning_content"), "Thinking...");
        assert_eq!(content(&chunks, "content"), "Answer");
        let blocks: Vec<Value> = deltas(&chunks)
            .iter()
            .filter_map(|d| d["thinking_blocks"].as_array())
            .flatten()
            .cloned()
            .collect();
        assert_eq!(
            blocks,
            vec![
                json!({"type": "thinking", "thinking": "", "signature": "sig-abc"}),
                json!({"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"}),
            ]
        );
        // The reasoning blocks (0, 1) and text (2) do not shift the tool index.
        assert_eq!(
            tool_calls(&chunks),
            vec![("t1".into(), "f".into(), "{}".into())]
        );
        let usage = &chunks.last().unwrap()["usage"];
        assert_eq!(usage["prompt_tokens"], 110);
        assert_eq!(usage["completion_tokens"], 5);
        assert_eq!(usage["total_tokens"], 115);
        assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 80);
        assert_eq!(usage["cache_creation_input_tokens"], 20);
    }

    #[test]
    fn tool_only_without_metadata() {
        let out = same_output_for_all_splits(&tool_only_stream(), true);
        let chunks = check_invariants(&parse_sse(&out));
        assert_eq!(
            tool_calls(&chunks),
            vec![("t1".into(), "f".into(), r#"{"a":[1,2]}"#.into())]
        );
        assert_eq!(content(&chunks, "content"), "");
        // include_usage but Bedrock sent no metadata: no invented usage chunk.
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    }

    #[test]
    fn usage_only_when_requested() {
        let stream = cat(&[start(), text(0, "x"), stop("end_turn"), metadata(true)]);
        let with = check_invariants(&parse_sse(&same_output_for_all_splits(&stream, true)));
        let last = with.last().unwrap();
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["usage"]["prompt_tokens"], 110);
        assert_eq!(last["id"], "chatcmpl-123");

        let without = check_invariants(&parse_sse(&same_output_for_all_splits(&stream, false)));
        assert!(without.iter().all(|c| c.get("usage").is_none()));
        assert_eq!(without.len(), with.len() - 1);
        let (_, s) = run(false, &[&stream]);
        assert_eq!(s.usage().and_then(|u| u.cache_read_input_tokens), Some(80));
    }

    #[test]
    fn metadata_before_message_stop_still_puts_usage_last() {
        let stream = cat(&[start(), text(0, "x"), metadata(false), stop("end_turn")]);
        let chunks = check_invariants(&parse_sse(&same_output_for_all_splits(&stream, true)));
        assert_eq!(chunks.last().unwrap()["usage"]["prompt_tokens"], 10);
    }

    #[test]
    fn exception_mid_stream_becomes_error_event() {
        let out = same_output_for_all_splits(&exception_stream(), false);
        let events = parse_sse(&out);
        let chunks = check_invariants(&events);
        assert_eq!(content(&chunks, "content"), "partial");
        let Some(Ev::Error(err)) = events.last() else {
            panic!()
        };
        assert_eq!(err["error"]["code"], "model_stream_error");
        assert!(err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model hiccup"));

        let mut s = new_stream(false);
        assert!(!s.push(&exception_stream()).is_empty());
        assert_eq!(s.error().unwrap().status, 424);
        assert!(s.push(&text(0, "more")).is_empty(), "silent after an error");
        assert!(s.finish().is_empty());
        assert!(s.abort("reset").is_empty());
    }

    #[test]
    fn throttling_before_any_content() {
        let (out, s) = run(
            false,
            &[&exception("throttlingException", "Too many requests")],
        );
        let events = parse_sse(&out);
        check_invariants(&events);
        assert_eq!(events.len(), 1);
        assert_eq!(s.error().unwrap().kind, "rate_limit_error");
    }

    #[test]
    fn corrupt_crc_becomes_error_event() {
        let out = same_output_for_all_splits(&corrupt_stream(), false);
        let events = parse_sse(&out);
        let chunks = check_invariants(&events);
        assert_eq!(content(&chunks, "content"), "ok");
        let Some(Ev::Error(err)) = events.last() else {
            panic!()
        };
        assert_eq!(err["error"]["type"], "upstream_error");
        assert!(err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("checksum"));
    }

    #[test]
    fn truncated_streams_become_error_events() {
        for stream in [truncated_mid_frame_stream(), truncated_at_boundary_stream()] {
            let out = same_output_for_all_splits(&stream, false);
            let events = parse_sse(&out);
            check_invariants(&events);
            assert!(matches!(events.last(), Some(Ev::Error(_))));
        }
        // Cut inside the trailing metadata frame: the frame never completes → error.
        let mut s = text_stream();
        s.truncate(s.len() - 1);
        let events = parse_sse(&run(true, &[&s]).0);
        check_invariants(&events);
        assert!(matches!(events.last(), Some(Ev::Error(_))));
        // Empty body.
        assert!(matches!(
            parse_sse(&run(false, &[]).0).as_slice(),
            [Ev::Error(_)]
        ));
    }

    #[test]
    fn abort_reports_reset_once() {
        let mut s = new_stream(false);
        let mut out = s.push(&cat(&[start(), text(0, "a")]));
        out.extend(s.abort("upstream reset"));
        out.extend(s.finish());
        out.extend(s.abort("again"));
        let events = parse_sse(&out);
        check_invariants(&events);
        assert!(s.is_finished());
        assert!(s.error().unwrap().message.contains("upstream reset"));
    }

    #[test]
    fn duplicate_message_stop_gives_one_finish_reason() {
        let stream = cat(&[
            start(),
            text(0, "x"),
            stop("end_turn"),
            text(0, "late"),
            stop("max_tokens"),
        ]);
        let chunks = check_invariants(&parse_sse(&run(false, &[&stream]).0));
        assert_eq!(finish_of(&chunks), "stop");
        assert_eq!(content(&chunks, "content"), "x");
    }

    #[test]
    fn unknown_events_and_deltas_are_ignored() {
        let stream = cat(&[
            start(),
            event("someFutureEvent", json!({"x": 1})),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"citation": {}}}),
            ),
            event(
                "contentBlockStart",
                json!({"contentBlockIndex": 0, "start": {"image": {}}}),
            ),
            text(0, "ok"),
            stop("end_turn"),
        ]);
        let chunks = check_invariants(&parse_sse(&same_output_for_all_splits(&stream, false)));
        assert_eq!(content(&chunks, "content"), "ok");
        assert_eq!(chunks.len(), 3);
    }

    #[test]
    fn finish_is_idempotent() {
        let mut s = new_stream(false);
        let mut out = s.push(&text_stream());
        out.extend(s.finish());
        assert!(s.finish().is_empty());
        assert!(s.push(&text(0, "x")).is_empty());
        assert_eq!(parse_sse(&out).last(), Some(&Ev::Done));
        assert_eq!(s.finish_reason(), Some("stop"));
    }

    #[test]
    fn long_stream_output_is_proportional_per_push() {
        let delta = text(0, "token ");
        let mut s = new_stream(true);
        let mut total = s.push(&start()).len();
        let chunk_len = s.push(&delta).len();
        let mut rng = Rng(7);
        let mut pending: Vec<u8> = Vec::new();
        for _ in 0..5000 {
            pending.extend_from_slice(&delta);
            // Forward a random prefix of what is pending: frames split anywhere.
            let take = rng.below(pending.len() + 1);
            let out = s.push(&pending[..take]);
            pending.drain(..take);
            // Output is exactly one chunk per frame completed by this piece, nothing replayed.
            let events = parse_sse(&out);
            assert!(
                events.len() <= take / delta.len() + 1,
                "{} events for {take} bytes",
                events.len()
            );
            assert_eq!(out.len(), events.len() * chunk_len);
            assert!(s.source().buffered_len() < delta.len());
            total += out.len();
        }
        total += s.push(&pending).len();
        let tail = cat(&[stop("end_turn"), metadata(false)]);
        total += s.push(&tail).len();
        let end = s.finish();
        total += end.len();
        assert!(end.ends_with(b"data: [DONE]\n\n"));
        assert!(total < 5002 * chunk_len + 1000);
    }

    #[test]
    fn response_format_answer_tool_streams_as_content_with_stop() {
        let stream = cat(&[
            start(),
            tool_start(0, "tooluse_a", "json_response"),
            tool_input(0, "{\"age\":"),
            tool_input(0, "42}"),
            block_stop(0),
            stop("tool_use"),
            metadata(false),
        ]);
        let mut s = new_stream(false).with_response_tool(Some("json_response".into()));
        let mut out = s.push(&stream);
        out.extend(s.finish());
        let chunks = check_invariants(&parse_sse(&out));
        let content: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(content, "{\"age\":42}");
        assert!(chunks
            .iter()
            .all(|c| c["choices"][0]["delta"].get("tool_calls").is_none()));
        assert_eq!(s.finish_reason(), Some("stop"));
    }
}
