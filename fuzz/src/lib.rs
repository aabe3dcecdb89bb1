//! What each fuzz target checks. Shared by the libFuzzer binaries (`fuzz_targets/`) and by
//! `tests/fuzz_corpus.rs`, which replays the kept corpus and crash reproducers in `cargo test`.
//!
//! Every check takes raw bytes and derives its structure from them (split points, event
//! sequences), so the same file means the same run everywhere. A failed assertion is a bug.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bedrock_access_filter::api::chat::stream::ChatStream;
use bedrock_access_filter::api::{
    chat, responses, AnswerTranslator, RequestContext, StreamTranslator, Translated,
};
use bedrock_access_filter::bedrock::eventstream::{DecodeError, Frame, FrameDecoder};
use bedrock_access_filter::bedrock::model_id::{runtime_path, validate_model_id};
use bedrock_access_filter::config::{Config, UpstreamAuth};
use bedrock_access_filter::error::ApiError;
use bedrock_access_filter::upstream::sign::{self, SignInput};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Reads fuzz bytes as a little program; runs out gracefully.
struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((b, rest)) => {
                self.bytes = rest;
                *b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.bytes.split_at(n.min(self.bytes.len()));
        self.bytes = rest;
        head
    }
    fn string(&mut self) -> String {
        let n = usize::from(self.byte());
        String::from_utf8_lossy(self.take(n)).into_owned()
    }
    fn number(&mut self) -> u64 {
        const EDGES: [u64; 8] = [
            0,
            1,
            7,
            255,
            65_536,
            u32::MAX as u64,
            i64::MAX as u64,
            u64::MAX,
        ];
        EDGES
            .get(usize::from(self.byte() % 8))
            .copied()
            .unwrap_or(0)
    }
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Cuts `stream` into pieces whose sizes cycle through `sizes` (0 means an empty callback).
fn pieces<'a>(stream: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    let mut i = 0usize;
    while !rest.is_empty() {
        let size = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(255);
        let (piece, tail) = rest.split_at(usize::from(size).min(rest.len()));
        out.push(piece);
        rest = tail;
        i = i.wrapping_add(1);
        if size == 0 && i > sizes.len().saturating_mul(2).saturating_add(stream.len()) {
            break; // only zero sizes: never loop forever
        }
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Frames until the decoder wants more bytes or fails.
fn drain(decoder: &mut FrameDecoder, frames: &mut Vec<Frame>) -> Option<DecodeError> {
    loop {
        match decoder.next_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

/// Event-stream decoding: byte 0 = how many split sizes follow, then the sizes, then the
/// stream. Any split must decode to the same frames and the same error as one whole push.
pub fn eventstream(data: &[u8]) {
    let mut input = Input { bytes: data };
    let count = usize::from(input.byte() % 16);
    let sizes = input.take(count).to_vec();
    let stream = input.bytes;

    let mut whole = FrameDecoder::new();
    whole.push(stream);
    let mut expected = Vec::new();
    let expected_err = drain(&mut whole, &mut expected);

    let mut split = FrameDecoder::new();
    let mut got = Vec::new();
    let mut got_err = None;
    for piece in pieces(stream, &sizes) {
        split.push(piece);
        if let Some(e) = drain(&mut split, &mut got) {
            got_err = Some(e);
            break;
        }
    }
    assert_eq!(
        got, expected,
        "frames differ between split and whole decoding"
    );
    assert_eq!(
        got_err, expected_err,
        "errors differ between split and whole decoding"
    );
    if got_err.is_some() {
        assert!(split.is_failed());
        assert!(split.next_frame().is_err(), "a failed decoder stays failed");
    } else {
        assert_eq!(split.buffered_len(), whole.buffered_len());
        assert!(split.buffered_len() < stream.len().saturating_add(1));
    }
}

/// A config like a real deployment's: SigV4 credentials, a client key, an alias. Built once.
pub fn config() -> &'static Config {
    static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    CONFIG.get_or_init(load_config)
}

fn load_config() -> Config {
    let json = br#"{
        "region": "us-east-1",
        "endpoint_url": "https://bedrock-runtime.us-east-1.amazonaws.com",
        "access_key_id": "AKIDFUZZ",
        "secret_access_key": "fuzz-secret-key",
        "api_keys": ["client-key"],
        "model_aliases": {"claude": "us.anthropic.claude-sonnet-4-20250514-v1:0"},
        "max_request_bytes": 1048576
    }"#;
    match Config::load(json, &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("fuzz config does not load: {e}"),
    }
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

fn assert_openai_error(e: &ApiError, client_fault: bool) {
    if client_fault {
        assert!(
            (400..500).contains(&e.status),
            "client input gave {}: {}",
            e.status,
            e.message
        );
    }
    let body: Value = match serde_json::from_slice(&e.to_body()) {
        Ok(v) => v,
        Err(err) => panic!("error body is not JSON: {err}"),
    };
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["type"].is_string(), "{body}");
}

/// A path segment as `encode_path_segment` writes it: unreserved characters and `%XX`.
fn assert_encoded_segment(segment: &str) {
    let ok = segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'%'));
    assert!(ok, "path segment not percent-encoded: {segment:?}");
    assert!(segment != "." && segment != "..", "dot segment {segment:?}");
}

fn assert_runtime_path(path: &str) {
    let parts: Vec<&str> = path.split('/').collect();
    assert_eq!(parts.len(), 4, "path {path:?} must be /model/<id>/<action>");
    assert_eq!(parts.first().copied(), Some(""));
    assert_eq!(parts.get(1).copied(), Some("model"));
    assert_encoded_segment(parts.get(2).copied().unwrap_or(""));
    assert!(
        matches!(
            parts.get(3).copied(),
            Some("converse" | "converse-stream" | "invoke" | "invoke-with-response-stream")
        ),
        "{path:?}"
    );
}

/// Request translation: byte 0 picks the API (chat or responses); the body runs up to the
/// first 0xFF byte, and what follows is fed to the answer translator as Bedrock's JSON.
pub fn request(data: &[u8]) {
    let Some((api, rest)) = data.split_first() else {
        return;
    };
    let (body, answer) = match rest.iter().position(|b| *b == 0xFF) {
        Some(at) => (
            rest.get(..at).unwrap_or(rest),
            rest.get(at + 1..).unwrap_or(&[]),
        ),
        None => (rest, &[][..]),
    };
    // References resolve to nothing, as after a restart: they must be a 400.
    let recall = |_: &str| None;
    let ctx = RequestContext {
        config: config(),
        request_id: "fuzz",
        now: now(),
        recall_item: Some(&recall),
        key_name: None,
        capability_model: &bedrock_access_filter::api::same_model,
    };
    let translated = if api % 2 == 0 {
        chat::translate(body, &ctx)
    } else {
        responses::translate(body, &ctx)
    };
    let translated = match translated {
        Ok(t) => t,
        Err(e) => return assert_openai_error(&e, true),
    };
    assert!(
        validate_model_id(&translated.model_id).is_ok(),
        "{:?}",
        translated.model_id
    );
    assert_runtime_path(&translated.path);
    let sent: Value = match serde_json::from_slice(&translated.body) {
        Ok(v) => v,
        Err(e) => panic!("Converse body is not JSON: {e}"),
    };
    assert!(sent.is_object() && sent["messages"].is_array(), "{sent}");
    match translated.answer {
        AnswerTranslator::Json(reply) => match reply.translate(answer) {
            Ok(bytes) => assert!(serde_json::from_slice::<Value>(&bytes).is_ok()),
            Err(e) => assert_openai_error(&e, false),
        },
        AnswerTranslator::Stream(mut stream) => {
            let mut out = stream.push(answer);
            out.extend(stream.finish());
            assert_sse(&out);
        }
    }
}

/// Checks SSE framing: blocks of `event:`/`data:` lines, each data a JSON value or `[DONE]`
/// (last). Returns the data values in order.
fn assert_sse(out: &[u8]) -> Vec<Value> {
    let text = match std::str::from_utf8(out) {
        Ok(t) => t,
        Err(e) => panic!("SSE output is not UTF-8: {e}"),
    };
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "unterminated SSE: {text:?}"
    );
    let mut values = Vec::new();
    let mut done = false;
    for block in text.split("\n\n").filter(|b| !b.is_empty()) {
        assert!(!done, "events after [DONE]: {text:?}");
        for line in block.lines() {
            if let Some(data) = line.strip_prefix("data: ") {
                if data == "[DONE]" {
                    done = true;
                } else {
                    match serde_json::from_str::<Value>(data) {
                        Ok(v) => values.push(v),
                        Err(e) => panic!("SSE data is not JSON ({e}): {data:?}"),
                    }
                }
            } else {
                assert!(line.starts_with("event: "), "bad SSE line {line:?}");
            }
        }
    }
    values
}

const EVENT_TYPES: [&str; 7] = [
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
    "somethingNew",
];
const EXCEPTIONS: [&str; 5] = [
    "throttlingException",
    "modelStreamErrorException",
    "validationException",
    "internalServerException",
    "unknownException",
];
const STOP_REASONS: [&str; 6] = [
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "guardrail_intervened",
    "weird",
];

fn pick<'a>(list: &[&'a str], b: u8) -> &'a str {
    list.get(usize::from(b) % list.len()).copied().unwrap_or("")
}

fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut message = Message::new(payload.to_vec());
    for (name, value) in headers {
        message = message.add_header(Header::new(
            name.to_string(),
            HeaderValue::String(value.to_string().into()),
        ));
    }
    let mut out = Vec::new();
    if let Err(e) = write_message_to(&message, &mut out) {
        panic!("cannot encode a test frame: {e}");
    }
    out
}

fn event(event_type: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// One Bedrock stream event (or garbage) chosen by the input.
fn next_event(input: &mut Input<'_>) -> Vec<u8> {
    let kind = input.byte();
    let index = u64::from(input.byte() % 6);
    match kind % 13 {
        0 => event("messageStart", &json!({"role": "assistant"})),
        1 => event(
            "contentBlockStart",
            &json!({"contentBlockIndex": index, "start": {"toolUse": {
                "toolUseId": input.string(), "name": input.string()}}}),
        ),
        2 => event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": index, "delta": {"text": input.string()}}),
        ),
        3 => event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": input.string()}}}),
        ),
        4 => event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"text": input.string()}}}),
        ),
        5 => event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": input.string()}}}),
        ),
        6 => event("contentBlockStop", &json!({"contentBlockIndex": index})),
        7 => event(
            "messageStop",
            &json!({"stopReason": pick(&STOP_REASONS, input.byte())}),
        ),
        8 => event(
            "metadata",
            &json!({"usage": {"inputTokens": input.number(), "outputTokens": input.number(),
                              "totalTokens": input.number(), "cacheReadInputTokens": input.number(),
                              "cacheWriteInputTokens": input.number()},
                    "metrics": {"latencyMs": input.number()}}),
        ),
        9 => frame(
            &[
                (":exception-type", pick(&EXCEPTIONS, input.byte())),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            json!({"message": input.string()}).to_string().as_bytes(),
        ),
        10 => {
            // A known event type with a payload of raw fuzz bytes.
            let event_type = pick(&EVENT_TYPES, input.byte());
            let n = usize::from(input.byte());
            frame(
                &[(":event-type", event_type), (":message-type", "event")],
                input.take(n),
            )
        }
        11 => {
            let n = usize::from(input.byte());
            input.take(n).to_vec() // unframed garbage
        }
        _ => {
            // A valid frame with one bit flipped (CRC or length damage).
            let mut bytes = event(
                "contentBlockDelta",
                &json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
            );
            let at = usize::from(input.byte()) % bytes.len().max(1);
            if let Some(b) = bytes.get_mut(at) {
                *b ^= 1 << (input.byte() % 8);
            }
            bytes
        }
    }
}

fn stream_reply(api: u8, config: &Config) -> Box<dyn StreamTranslator> {
    let chat = |usage: bool| ChatStream::new("chatcmpl-fuzz".into(), "claude".into(), 1, usage);
    match api % 4 {
        0 => Box::new(chat(false)),
        1 => Box::new(chat(true)),
        2 => Box::new(chat(true).with_response_tool(Some("answer".into()))),
        _ => {
            // The Responses stream is built by its translator, as the exchange gets it.
            let ctx = RequestContext {
                config,
                request_id: "fuzz",
                now: now(),
                recall_item: None,
                key_name: None,
                capability_model: &bedrock_access_filter::api::same_model,
            };
            let body = json!({"model": "claude", "stream": true, "input": "hi",
                              "tools": [{"type": "function", "name": "f", "parameters": {}}]});
            match responses::translate(body.to_string().as_bytes(), &ctx) {
                Ok(Translated {
                    answer: AnswerTranslator::Stream(s),
                    ..
                }) => s,
                Ok(_) => panic!("stream:true gave a JSON reply"),
                Err(e) => panic!("fixed stream request refused: {}", e.message),
            }
        }
    }
}

/// The SSE stream translators: byte 0 picks the API and options, byte 1 how many split sizes
/// follow, then the sizes, then a sequence of Bedrock events (see `next_event`).
pub fn stream(data: &[u8]) {
    let mut input = Input { bytes: data };
    let api = input.byte();
    let count = usize::from(input.byte() % 16);
    let sizes = input.take(count).to_vec();
    let mut upstream = Vec::new();
    while !input.is_empty() {
        upstream.extend(next_event(&mut input));
    }
    let mut reply = stream_reply(api, config());
    let mut out = Vec::new();
    for piece in pieces(&upstream, &sizes) {
        out.extend(reply.push(piece));
    }
    let abort = api & 0x80 != 0;
    if abort {
        out.extend(reply.abort("fuzz reset"));
    }
    out.extend(reply.finish());
    assert!(reply.finish().is_empty(), "finish must be idempotent");
    assert!(reply.push(b"more").is_empty(), "nothing after the end");
    let values = assert_sse(&out);
    let ended_with_done = out.ends_with(b"data: [DONE]\n\n");
    let last_is_error = values.last().is_some_and(|v| v.get("error").is_some());
    if api % 4 != 3 {
        // Chat: the stream ends with [DONE] or with one error event, never silently.
        assert!(
            ended_with_done || last_is_error,
            "chat stream ended without [DONE] or error"
        );
        assert_eq!(reply.failed(), !ended_with_done);
        let errors = values.iter().filter(|v| v.get("error").is_some()).count();
        assert!(errors <= 1, "more than one error event");
    }
}

/// Model ids into Bedrock paths and SigV4: a valid id must give a well-formed path that
/// decodes back to the id, and signing must succeed with header-safe values.
pub fn model_path(data: &[u8]) {
    let id = String::from_utf8_lossy(data);
    let valid = validate_model_id(&id);
    if let Err(e) = &valid {
        assert_openai_error(e, true);
        return;
    }
    assert!(!id.contains(['\r', '\n', ' ', '?', '#', '%']));
    for action in ["converse", "converse-stream"] {
        let path = runtime_path(&id, action);
        assert_runtime_path(&path);
        let segment = path.split('/').nth(2).unwrap_or("");
        assert_eq!(
            percent_decode(segment),
            id.as_bytes(),
            "path does not round-trip"
        );
        let auth = UpstreamAuth::SigV4 {
            access_key_id: "AKIDFUZZ".into(),
            secret_access_key: "fuzz-secret-key".into(),
            session_token: Some("fuzz-token".into()),
        };
        let headers = match sign::authorize(
            &auth,
            &SignInput {
                method: "POST",
                host: "bedrock-runtime.us-east-1.amazonaws.com",
                path: &path,
                content_type: "application/json",
                body: b"{}",
                region: "us-east-1",
                service: "bedrock",
                now: now(),
            },
        ) {
            Ok(h) => h,
            Err(e) => panic!("signing a valid id failed: {}", e.message),
        };
        assert!(headers.iter().any(|(n, _)| n == "authorization"));
        for (name, value) in &headers {
            let safe = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
            assert!(safe(name) && safe(value), "unsafe header {name}: {value:?}");
            assert!(
                !value.contains("fuzz-secret-key"),
                "secret in header {name}"
            );
        }
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => out.push(v),
                None => panic!("bad escape in {s:?}"),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}
