//! ConverseStream events: the JSON payloads of the event-stream frames, keyed by `:event-type`.
//!
//! Read leniently: unknown events, unknown delta kinds and unknown fields (including the `p`
//! padding field Bedrock adds to every payload) are ignored, so new Bedrock features never break
//! a stream. Exception frames become an [`ApiError`].

use crate::bedrock::converse::Usage;
use crate::bedrock::eventstream::{Frame, FrameDecoder};
use crate::error::ApiError;
use serde::Deserialize;
use serde_json::Value;

/// One ConverseStream event.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    MessageStart(MessageStart),
    ContentBlockStart(ContentBlockStart),
    ContentBlockDelta(ContentBlockDelta),
    ContentBlockStop(ContentBlockStop),
    MessageStop(MessageStop),
    Metadata(Metadata),
    /// An event type this gateway does not know (yet); carries the `:event-type`.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStart {
    #[serde(default)]
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStart {
    #[serde(default)]
    pub content_block_index: u32,
    #[serde(default)]
    pub start: BlockStart,
}

/// What kind of block starts. Text and reasoning blocks have no start event; only tool use
/// is announced (other kinds are ignored).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStart {
    #[serde(default)]
    pub tool_use: Option<ToolUseStart>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseStart {
    #[serde(default)]
    pub tool_use_id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockDelta {
    #[serde(default)]
    pub content_block_index: u32,
    pub delta: Delta,
}

/// The delta union; exactly one member is set on the wire.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawDelta")]
pub enum Delta {
    Text(String),
    /// A fragment of the tool input JSON (fragments concatenate to the full input).
    ToolUse {
        input: String,
    },
    ReasoningContent(ReasoningDelta),
    /// A delta kind this gateway does not translate (e.g. citations).
    Unknown,
}

/// Reasoning delta: text, the signature of the reasoning so far, or encrypted (redacted)
/// reasoning as base64.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningDelta {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub redacted_content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDelta {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<RawToolUseDelta>,
    #[serde(default)]
    reasoning_content: Option<ReasoningDelta>,
}

#[derive(Deserialize)]
struct RawToolUseDelta {
    #[serde(default)]
    input: String,
}

impl From<RawDelta> for Delta {
    fn from(raw: RawDelta) -> Self {
        if let Some(text) = raw.text {
            Delta::Text(text)
        } else if let Some(tool) = raw.tool_use {
            Delta::ToolUse { input: tool.input }
        } else if let Some(reasoning) = raw.reasoning_content {
            Delta::ReasoningContent(reasoning)
        } else {
            Delta::Unknown
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStop {
    #[serde(default)]
    pub content_block_index: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStop {
    #[serde(default)]
    pub stop_reason: String,
    #[serde(default)]
    pub additional_model_response_fields: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub metrics: Option<Metrics>,
    /// Present only when the request asked for a guardrail trace.
    #[serde(default)]
    pub trace: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

/// ConverseStream events from body bytes that arrive split anywhere: the frame decoder's
/// carry-over buffer plus frame interpretation, shared by every stream translator.
#[derive(Debug, Default)]
pub struct EventReader {
    decoder: FrameDecoder,
}

impl EventReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    /// The next complete event, `None` until more bytes arrive. A corrupt stream or an
    /// exception frame is an `Err`.
    pub fn next_event(&mut self) -> Option<Result<StreamEvent, ApiError>> {
        match self.decoder.next_frame() {
            Ok(Some(frame)) => Some(parse_frame(&frame)),
            Ok(None) => None,
            Err(err) => Some(Err(err.into())),
        }
    }

    /// The error for a stream that ended inside a frame, if it did.
    pub fn cut_off(&self) -> Option<ApiError> {
        self.decoder.cut_off()
    }

    pub fn buffered_len(&self) -> usize {
        self.decoder.buffered_len()
    }
}

/// The error an exception or error frame carries (any event stream Bedrock sends).
pub fn frame_error(frame: &Frame) -> Option<ApiError> {
    match frame.message_type.as_deref() {
        Some("exception") => Some(exception_error(
            frame.exception_type.as_deref().unwrap_or_default(),
            &frame.payload,
        )),
        Some("error") => Some(ApiError::from_bedrock(
            502,
            frame.error_code.as_deref().unwrap_or_default(),
            frame.error_message.as_deref().unwrap_or_default(),
        )),
        _ => None,
    }
}

/// Interprets one decoded frame. `Err` for exception/error frames and for a known event whose
/// payload does not parse.
pub fn parse_frame(frame: &Frame) -> Result<StreamEvent, ApiError> {
    if let Some(error) = frame_error(frame) {
        return Err(error);
    }
    match frame.message_type.as_deref() {
        Some("event") | None => match frame.event_type.as_deref() {
            Some(event_type) => parse_event(event_type, &frame.payload),
            None => Ok(StreamEvent::Unknown(String::new())),
        },
        Some(_) => Ok(StreamEvent::Unknown(
            frame.event_type.clone().unwrap_or_default(),
        )),
    }
}

/// Parses the payload of an `event` frame with the given `:event-type`.
pub fn parse_event(event_type: &str, payload: &[u8]) -> Result<StreamEvent, ApiError> {
    fn json<'a, T: Deserialize<'a>>(event_type: &str, payload: &'a [u8]) -> Result<T, ApiError> {
        serde_json::from_slice(payload).map_err(|e| {
            ApiError::bad_gateway(format!("Bedrock sent a malformed {event_type} event: {e}"))
        })
    }
    Ok(match event_type {
        "messageStart" => StreamEvent::MessageStart(json(event_type, payload)?),
        "contentBlockStart" => StreamEvent::ContentBlockStart(json(event_type, payload)?),
        "contentBlockDelta" => StreamEvent::ContentBlockDelta(json(event_type, payload)?),
        "contentBlockStop" => StreamEvent::ContentBlockStop(json(event_type, payload)?),
        "messageStop" => StreamEvent::MessageStop(json(event_type, payload)?),
        "metadata" => StreamEvent::Metadata(json(event_type, payload)?),
        other => StreamEvent::Unknown(other.to_string()),
    })
}

/// The error for an exception frame. Stream exception types are lowerCamel
/// (`throttlingException`); [`ApiError::from_bedrock`] knows the UpperCamel names.
pub fn exception_error(exception_type: &str, payload: &[u8]) -> ApiError {
    let mut name = String::with_capacity(exception_type.len());
    let mut chars = exception_type.chars();
    if let Some(first) = chars.next() {
        name.extend(first.to_uppercase());
        name.push_str(chars.as_str());
    }
    let message = exception_message(payload);
    let message = if message.is_empty() && !name.is_empty() {
        name.clone()
    } else {
        message
    };
    ApiError::from_bedrock(502, &name, &message)
}

fn exception_message(payload: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default, alias = "Message")]
        message: Option<String>,
    }
    match serde_json::from_slice::<Body>(payload) {
        Ok(body) => body.message.unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(payload)
            .chars()
            .take(1000)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::eventstream::{test_support, FrameDecoder};
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn frame(bytes: &[u8]) -> Frame {
        let mut d = FrameDecoder::new();
        d.push(bytes);
        d.next_frame().unwrap().unwrap()
    }

    fn event(event_type: &str, payload: Value) -> Result<StreamEvent, ApiError> {
        parse_frame(&frame(&test_support::event(event_type, payload)))
    }

    #[test]
    fn parses_all_known_events_ignoring_padding() {
        assert_eq!(
            event("messageStart", json!({"role": "assistant"})).unwrap(),
            StreamEvent::MessageStart(MessageStart {
                role: "assistant".into()
            })
        );
        assert_eq!(
            event(
                "contentBlockStart",
                json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "f"}}})
            )
            .unwrap(),
            StreamEvent::ContentBlockStart(ContentBlockStart {
                content_block_index: 1,
                start: BlockStart {
                    tool_use: Some(ToolUseStart { tool_use_id: "t1".into(), name: "f".into() })
                },
            })
        );
        let delta = |d: Value| match event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 2, "delta": d}),
        ) {
            Ok(StreamEvent::ContentBlockDelta(ContentBlockDelta {
                content_block_index: 2,
                delta,
            })) => delta,
            other => panic!("{other:?}"),
        };
        assert_eq!(delta(json!({"text": "hi"})), Delta::Text("hi".into()));
        assert_eq!(
            delta(json!({"toolUse": {"input": "{\"a\""}})),
            Delta::ToolUse {
                input: "{\"a\"".into()
            }
        );
        assert_eq!(
            delta(json!({"reasoningContent": {"signature": "sig"}})),
            Delta::ReasoningContent(ReasoningDelta {
                signature: Some("sig".into()),
                ..Default::default()
            })
        );
        assert_eq!(
            delta(json!({"reasoningContent": {"redactedContent": "b64"}})),
            Delta::ReasoningContent(ReasoningDelta {
                redacted_content: Some("b64".into()),
                ..Default::default()
            })
        );
        assert_eq!(delta(json!({"citation": {"title": "x"}})), Delta::Unknown);
        assert_eq!(
            event("contentBlockStop", json!({"contentBlockIndex": 3})).unwrap(),
            StreamEvent::ContentBlockStop(ContentBlockStop {
                content_block_index: 3
            })
        );
        assert_eq!(
            event(
                "messageStop",
                json!({"stopReason": "tool_use", "additionalModelResponseFields": {"x": 1}})
            )
            .unwrap(),
            StreamEvent::MessageStop(MessageStop {
                stop_reason: "tool_use".into(),
                additional_model_response_fields: Some(json!({"x": 1})),
            })
        );
        let meta = event(
            "metadata",
            json!({"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7, "cacheReadInputTokens": 9},
                   "metrics": {"latencyMs": 12}, "trace": {}}),
        )
        .unwrap();
        let StreamEvent::Metadata(meta) = meta else {
            panic!()
        };
        assert_eq!(meta.usage.unwrap().cache_read_input_tokens, Some(9));
        assert_eq!(meta.metrics.unwrap().latency_ms, Some(12));
        assert_eq!(
            event("somethingNew", json!({})).unwrap(),
            StreamEvent::Unknown("somethingNew".into())
        );
    }

    #[test]
    fn malformed_known_event_is_an_error() {
        let f = frame(&test_support::encode(
            &[
                (":event-type", "contentBlockDelta"),
                (":message-type", "event"),
            ],
            b"not json",
        ));
        assert_eq!(parse_frame(&f).unwrap_err().status, 502);
    }

    #[test]
    fn exceptions_map_to_api_errors() {
        let cases = [
            ("throttlingException", 429, "rate_limit_error"),
            ("modelStreamErrorException", 424, "upstream_error"),
            ("validationException", 400, "invalid_request_error"),
            ("internalServerException", 500, "server_error"),
            ("serviceUnavailableException", 503, "server_error"),
            ("brandNewException", 502, "server_error"),
        ];
        for (kind, status, error_type) in cases {
            let err = parse_frame(&frame(&test_support::exception(kind, "boom"))).unwrap_err();
            assert_eq!((err.status, err.kind), (status, error_type), "{kind}");
            assert!(err.message.contains("boom"));
        }
    }
}
