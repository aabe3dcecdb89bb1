//! A whole Converse answer as the ConverseStream events Bedrock would have streamed for it.
//! Used where a client streams but the model takes tools only without streaming (Llama: "This
//! model doesn't support tool use in streaming mode."): the gateway calls Converse and the
//! client's stream translator reads these events, so every API keeps one stream path. Each
//! event is written in ConverseStream's wire shape and read with the same parser as a frame.

use crate::bedrock::stream::{parse_event, StreamEvent};
use crate::error::ApiError;
use serde_json::{json, Map, Value};

/// The events of a Converse JSON answer, in stream order.
pub fn answer_events(body: &[u8]) -> Result<Vec<StreamEvent>, ApiError> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_gateway("Bedrock: the answer is not JSON"))?;
    let blocks = answer
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_gateway("Bedrock: the answer has no output message"))?;
    let mut wire = vec![("messageStart", json!({"role": "assistant"}))];
    for (index, block) in blocks.iter().enumerate() {
        wire.extend(block_events(index, block));
    }
    let mut stop = Map::new();
    stop.insert(
        "stopReason".into(),
        answer
            .get("stopReason")
            .cloned()
            .unwrap_or(json!("end_turn")),
    );
    copy_fields(&answer, &["additionalModelResponseFields"], &mut stop);
    wire.push(("messageStop", Value::Object(stop)));
    let mut metadata = Map::new();
    copy_fields(&answer, &["usage", "metrics", "trace"], &mut metadata);
    wire.push(("metadata", Value::Object(metadata)));
    wire.into_iter()
        .map(|(event_type, payload)| parse_event(event_type, payload.to_string().as_bytes()))
        .collect()
}

fn copy_fields(from: &Value, names: &[&str], to: &mut Map<String, Value>) {
    for name in names {
        if let Some(value) = from.get(*name) {
            to.insert((*name).to_string(), value.clone());
        }
    }
}

/// One content block's start, deltas and stop; kinds a stream would not carry are left out.
fn block_events(index: usize, block: &Value) -> Vec<(&'static str, Value)> {
    let delta = |delta: Value| {
        let event = json!({"contentBlockIndex": index, "delta": delta});
        ("contentBlockDelta", event)
    };
    let mut events = Vec::new();
    if let Some(text) = block.get("text") {
        events.push(delta(json!({ "text": text })));
    } else if let Some(tool) = block.get("toolUse") {
        let start =
            json!({"toolUse": {"toolUseId": tool.get("toolUseId"), "name": tool.get("name")}});
        let event = json!({"contentBlockIndex": index, "start": start});
        events.push(("contentBlockStart", event));
        let input = tool.get("input").cloned().unwrap_or(json!({})).to_string();
        events.push(delta(json!({"toolUse": {"input": input}})));
    } else if let Some(reasoning) = block.get("reasoningContent") {
        if let Some(text) = reasoning.get("reasoningText") {
            if let Some(t) = text.get("text") {
                events.push(delta(json!({"reasoningContent": {"text": t}})));
            }
            if let Some(signature) = text.get("signature") {
                events.push(delta(json!({"reasoningContent": {"signature": signature}})));
            }
        } else if let Some(redacted) = reasoning.get("redactedContent") {
            events.push(delta(
                json!({"reasoningContent": {"redactedContent": redacted}}),
            ));
        }
    }
    if !events.is_empty() {
        events.push(("contentBlockStop", json!({ "contentBlockIndex": index })));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::stream::{BlockStart, Delta, ToolUseStart};
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_converse_answer_reads_as_the_stream_bedrock_would_send() {
        let body = json!({"output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}},
            {"citationsContent": {}}]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 5, "outputTokens": 7, "totalTokens": 12},
            "metrics": {"latencyMs": 9}});
        let events = answer_events(body.to_string().as_bytes()).unwrap();
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match e {
                StreamEvent::MessageStart(_) => "start",
                StreamEvent::ContentBlockStart(_) => "block_start",
                StreamEvent::ContentBlockDelta(_) => "delta",
                StreamEvent::ContentBlockStop(_) => "block_stop",
                StreamEvent::MessageStop(_) => "stop",
                StreamEvent::Metadata(_) => "metadata",
                StreamEvent::Unknown(_) => "unknown",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "start",
                "delta",
                "delta",
                "block_stop",
                "delta",
                "block_stop",
                "block_start",
                "delta",
                "block_stop",
                "stop",
                "metadata"
            ]
        );
        let StreamEvent::ContentBlockStart(start) = &events[6] else {
            panic!()
        };
        assert_eq!(start.content_block_index, 2);
        assert_eq!(
            start.start,
            BlockStart {
                tool_use: Some(ToolUseStart {
                    tool_use_id: "t1".into(),
                    name: "get_weather".into()
                })
            }
        );
        let StreamEvent::ContentBlockDelta(input) = &events[7] else {
            panic!()
        };
        assert_eq!(
            input.delta,
            Delta::ToolUse {
                input: r#"{"city":"Paris"}"#.into()
            }
        );
        let StreamEvent::MessageStop(stop) = &events[9] else {
            panic!()
        };
        assert_eq!(stop.stop_reason, "tool_use");
        let StreamEvent::Metadata(meta) = &events[10] else {
            panic!()
        };
        assert_eq!(meta.usage.as_ref().map(|u| u.output_tokens), Some(7));
    }

    #[test]
    fn an_answer_that_is_not_a_converse_answer_is_a_bad_gateway() {
        for body in [&b"not json"[..], br#"{"message": "x"}"#] {
            assert_eq!(answer_events(body).unwrap_err().status, 502);
        }
    }
}
