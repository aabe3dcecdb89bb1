//! Token usage read from a Bedrock answer that passes through untouched: the token-count
//! headers of InvokeModel, the `usage` of a JSON answer, the `metadata` event of a
//! ConverseStream, and the `amazon-bedrock-invocationMetrics` of the last InvokeModel stream
//! chunk. Reading never changes or holds back a byte.

use crate::bedrock::converse::Usage;
use crate::bedrock::eventstream::FrameDecoder;
use crate::bedrock::invoke_stream::chunk_event;
use crate::bedrock::stream::{parse_frame, StreamEvent};
use serde::Deserialize;
use serde_json::Value;

/// The most of a JSON answer kept to read its usage; longer answers are counted from headers.
const MAX_JSON_BYTES: usize = 1024 * 1024;

#[derive(Debug, Default)]
pub struct UsageReader {
    /// Event-stream answers: frames are decoded alongside the bytes that pass.
    frames: Option<FrameDecoder>,
    json: Vec<u8>,
    usage: Option<Usage>,
}

/// What an InvokeModel stream's last chunk reports.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvocationMetrics {
    #[serde(default)]
    input_token_count: u64,
    #[serde(default)]
    output_token_count: u64,
    cache_read_input_token_count: Option<u64>,
    cache_write_input_token_count: Option<u64>,
}

/// Anthropic's `usage` in an InvokeModel JSON answer.
#[derive(Deserialize)]
struct AnthropicUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

fn usage(input: u64, output: u64, read: Option<u64>, write: Option<u64>) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: input
            .saturating_add(output)
            .saturating_add(read.unwrap_or(0))
            .saturating_add(write.unwrap_or(0)),
        cache_read_input_tokens: read,
        cache_write_input_tokens: write,
    }
}

impl UsageReader {
    pub fn new(streams: bool) -> Self {
        UsageReader {
            frames: streams.then(FrameDecoder::new),
            ..Default::default()
        }
    }

    /// InvokeModel's `x-amzn-bedrock-input-token-count` / `-output-token-count` headers.
    pub fn on_headers(&mut self, header: &dyn Fn(&str) -> Option<String>) {
        let count = |name: &str| header(name).and_then(|v| v.trim().parse::<u64>().ok());
        if let (Some(input), Some(output)) = (
            count("x-amzn-bedrock-input-token-count"),
            count("x-amzn-bedrock-output-token-count"),
        ) {
            self.usage = Some(usage(input, output, None, None));
        }
    }

    /// Bytes of the answer as they pass.
    pub fn push(&mut self, bytes: &[u8], end_of_stream: bool) {
        match &mut self.frames {
            Some(frames) => {
                frames.push(bytes);
                while let Ok(Some(frame)) = frames.next_frame() {
                    if let Some(found) = frame_usage(&frame) {
                        self.usage = Some(found);
                    }
                }
            }
            None => {
                let room = MAX_JSON_BYTES.saturating_sub(self.json.len());
                self.json
                    .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
                if end_of_stream {
                    if let Some(found) = json_usage(&self.json) {
                        self.usage = Some(found);
                    }
                    self.json = Vec::new();
                }
            }
        }
    }

    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

fn frame_usage(frame: &crate::bedrock::eventstream::Frame) -> Option<Usage> {
    if frame.event_type.as_deref() == Some("chunk") {
        let event = chunk_event(frame).ok()??;
        let metrics = event.get("amazon-bedrock-invocationMetrics")?;
        let m: InvocationMetrics = serde_json::from_value(metrics.clone()).ok()?;
        return Some(usage(
            m.input_token_count,
            m.output_token_count,
            m.cache_read_input_token_count,
            m.cache_write_input_token_count,
        ));
    }
    match parse_frame(frame) {
        Ok(StreamEvent::Metadata(meta)) => meta.usage,
        _ => None,
    }
}

/// Converse's `usage` (camelCase) or Anthropic's (snake_case).
fn json_usage(body: &[u8]) -> Option<Usage> {
    #[derive(Deserialize)]
    struct WithUsage {
        usage: Value,
    }
    let found = serde_json::from_slice::<WithUsage>(body).ok()?.usage;
    if found.get("inputTokens").is_some() {
        return serde_json::from_value(found).ok();
    }
    let a: AnthropicUsage = serde_json::from_value(found).ok()?;
    Some(usage(
        a.input_tokens,
        a.output_tokens,
        a.cache_read_input_tokens,
        a.cache_creation_input_tokens,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::eventstream::test_support::{
        chunk, event, random_cuts, split_at_points, Rng,
    };
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn invoke_streams_report_the_last_chunks_metrics_however_split() {
        let stream = [
            chunk(json!({"type": "message_start", "message": {"usage": {"input_tokens": 12}}})),
            chunk(json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}})),
            chunk(json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 12, "outputTokenCount": 3, "invocationLatency": 9,
                "firstByteLatency": 4, "cacheReadInputTokenCount": 100}})),
        ]
        .concat();
        let mut rng = Rng(7);
        for _ in 0..50 {
            let mut reader = UsageReader::new(true);
            let cuts = random_cuts(&mut rng, stream.len(), 20);
            let pieces = split_at_points(&stream, &cuts);
            let last = pieces.len() - 1;
            for (i, piece) in pieces.into_iter().enumerate() {
                reader.push(piece, i == last);
            }
            let u = reader.usage().unwrap();
            assert_eq!(
                (u.input_tokens, u.output_tokens, u.cache_read_input_tokens),
                (12, 3, Some(100))
            );
        }
    }

    #[test]
    fn converse_streams_report_the_metadata_event() {
        let mut reader = UsageReader::new(true);
        reader.push(
            &event(
                "metadata",
                json!({"usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7}, "metrics": {"latencyMs": 1}}),
            ),
            true,
        );
        assert_eq!(reader.usage().unwrap().total_tokens, 7);
    }

    #[test]
    fn json_answers_report_their_usage_or_headers() {
        let mut converse = UsageReader::new(false);
        let body =
            json!({"output": {}, "usage": {"inputTokens": 4, "outputTokens": 1, "totalTokens": 5}});
        converse.push(body.to_string().as_bytes(), true);
        assert_eq!(converse.usage().unwrap().input_tokens, 4);

        let mut invoke = UsageReader::new(false);
        let body = json!({"type": "message", "usage": {"input_tokens": 8, "output_tokens": 2}});
        let bytes = body.to_string().into_bytes();
        let (a, b) = bytes.split_at(10);
        invoke.push(a, false);
        invoke.push(b, true);
        assert_eq!(invoke.usage().unwrap().output_tokens, 2);

        let mut headers = UsageReader::new(false);
        headers.on_headers(&|name: &str| match name {
            "x-amzn-bedrock-input-token-count" => Some("30".into()),
            "x-amzn-bedrock-output-token-count" => Some("6".into()),
            _ => None,
        });
        assert_eq!(headers.usage().unwrap().total_tokens, 36);
    }
}
