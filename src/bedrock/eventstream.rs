//! Incremental decoder for the AWS event-stream binary framing (`application/vnd.amazon.eventstream`)
//! that Bedrock's ConverseStream responds with.
//!
//! Frame layout: `total_len:u32 | headers_len:u32 | prelude_crc:u32 | headers | payload | message_crc:u32`
//! (big endian, CRC-32 over the prelude and over everything before the message CRC).
//!
//! Envoy hands us the body in arbitrary chunks, so bytes are appended to a carry-over buffer with
//! [`FrameDecoder::push`] and complete frames are taken out with [`FrameDecoder::next_frame`].
//!
//! Parsing and both CRC checks are done by `aws_smithy_eventstream::frame::MessageFrameDecoder`.
//! We do not hand it partial frames, though: it consumes the 12-byte prelude as soon as it sees it
//! and then waits for `total_len` bytes without any bound (the prelude CRC is only checked once the
//! whole frame is there), so a corrupt length would make us buffer forever. Instead we read
//! `total_len` ourselves, reject absurd values, and call it only once the whole frame is buffered.

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::Bytes;

/// Largest frame we accept (AWS event streams cap messages at 16 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// Prelude (12 bytes) + message CRC (4 bytes): the smallest possible frame.
const MIN_FRAME_LEN: usize = 16;

/// One decoded event-stream message with the headers Bedrock uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    /// `:message-type`: `event`, `exception` or `error`.
    pub message_type: Option<String>,
    /// `:event-type`, e.g. `contentBlockDelta` (for `event` messages).
    pub event_type: Option<String>,
    /// `:exception-type`, e.g. `throttlingException` (for `exception` messages).
    pub exception_type: Option<String>,
    /// `:error-code` (for `error` messages).
    pub error_code: Option<String>,
    /// `:error-message` (for `error` messages).
    pub error_message: Option<String>,
    /// `:content-type`, usually `application/json`.
    pub content_type: Option<String>,
    pub payload: Bytes,
}

impl Frame {
    fn from_message(message: &Message) -> Frame {
        let mut frame = Frame {
            payload: message.payload().clone(),
            ..Frame::default()
        };
        for header in message.headers() {
            let HeaderValue::String(value) = header.value() else {
                continue;
            };
            let slot = match header.name().as_str() {
                ":message-type" => &mut frame.message_type,
                ":event-type" => &mut frame.event_type,
                ":exception-type" => &mut frame.exception_type,
                ":error-code" => &mut frame.error_code,
                ":error-message" => &mut frame.error_message,
                ":content-type" => &mut frame.content_type,
                _ => continue,
            };
            *slot = Some(value.as_str().to_owned());
        }
        frame
    }
}

/// Why the byte stream is not a valid event stream. Once returned, the decoder stays failed.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    /// The prelude announces a frame length outside `16..=MAX_FRAME_LEN`.
    BadLength(u32),
    /// CRC mismatch or malformed headers (text from aws-smithy-eventstream).
    Corrupt(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::BadLength(len) => write!(f, "invalid event-stream frame length {len}"),
            DecodeError::Corrupt(msg) => write!(f, "corrupt event-stream frame: {msg}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeError> for crate::error::ApiError {
    fn from(err: DecodeError) -> Self {
        crate::error::ApiError::bad_gateway(format!("Bedrock: invalid event stream: {err}"))
    }
}

/// Carry-over buffer + frame decoder. Work per call is proportional to the bytes pushed plus
/// the frames returned; the buffer never holds more than one partial frame plus one chunk.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of the not-yet-decoded bytes in `buf` (compacted lazily).
    pos: usize,
    failed: Option<DecodeError>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes as they came from the network (any split, any number of frames).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or the error that broke
    /// the stream (returned again on every later call).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.decode_one() {
            Ok(Some(frame)) => Ok(Some(frame)),
            Ok(None) => {
                self.compact();
                Ok(None)
            }
            Err(err) => {
                self.failed = Some(err.clone());
                self.buf = Vec::new();
                self.pos = 0;
                Err(err)
            }
        }
    }

    /// Bytes of an incomplete frame still waiting for the rest. Non-zero at end of stream means
    /// the stream was cut in the middle of a frame.
    /// At end of input: the error for a stream that ended inside a frame, if it did.
    pub fn cut_off(&self) -> Option<crate::error::ApiError> {
        let left = self.buffered_len();
        (left > 0).then(|| {
            crate::error::ApiError::bad_gateway(format!(
                "Bedrock: stream ended inside an event ({left} bytes left over)"
            ))
        })
    }

    pub fn buffered_len(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    fn decode_one(&mut self) -> Result<Option<Frame>, DecodeError> {
        let pending = self.buf.get(self.pos..).unwrap_or_default();
        let Some(len_bytes) = pending.first_chunk::<4>() else {
            return Ok(None);
        };
        let announced = u32::from_be_bytes(*len_bytes);
        let total = usize::try_from(announced).unwrap_or(usize::MAX);
        if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&total) {
            return Err(DecodeError::BadLength(announced));
        }
        let Some(mut frame_bytes) = pending.get(..total) else {
            return Ok(None);
        };
        // A fresh decoder per frame: it never carries state between calls this way.
        let decoded = MessageFrameDecoder::new()
            .decode_frame(&mut frame_bytes)
            .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
        match decoded {
            DecodedFrame::Complete(message) => {
                self.pos = self.pos.saturating_add(total);
                Ok(Some(Frame::from_message(&message)))
            }
            // Cannot happen with the whole frame present; treat as corruption, never loop.
            DecodedFrame::Incomplete => Err(DecodeError::Corrupt("frame incomplete".into())),
        }
    }

    /// Drops consumed bytes; only the (partial) remainder is moved.
    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos.min(self.buf.len()));
            self.pos = 0;
        }
    }
}

/// Test helpers shared by the stream tests: a frame encoder and a deterministic PRNG.
#[cfg(test)]
pub(crate) mod test_support {
    use aws_smithy_eventstream::frame::write_message_to;
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};

    /// Encodes one frame with the given string headers and payload (both CRCs included).
    pub(crate) fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut message = Message::new(payload.to_vec());
        for (name, value) in headers {
            message = message.add_header(Header::new(
                name.to_string(),
                HeaderValue::String(value.to_string().into()),
            ));
        }
        let mut out = Vec::new();
        write_message_to(&message, &mut out).unwrap();
        out
    }

    /// A Bedrock-style event frame; adds the `p` padding field like the real service does.
    pub(crate) fn event(event_type: &str, mut payload: serde_json::Value) -> Vec<u8> {
        if let Some(obj) = payload.as_object_mut() {
            obj.insert(
                "p".into(),
                serde_json::json!("abcdefghijklmnopqrstuvwxyzABCDEF"),
            );
        }
        let body = serde_json::to_vec(&payload).unwrap();
        encode(
            &[
                (":event-type", event_type),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            &body,
        )
    }

    /// ConverseStream events as Bedrock sends them, for translator tests.
    pub(crate) fn start() -> Vec<u8> {
        event("messageStart", serde_json::json!({"role": "assistant"}))
    }
    pub(crate) fn text(block: u32, t: &str) -> Vec<u8> {
        event(
            "contentBlockDelta",
            serde_json::json!({"contentBlockIndex": block, "delta": {"text": t}}),
        )
    }
    pub(crate) fn tool_start(block: u32, id: &str, name: &str) -> Vec<u8> {
        event(
            "contentBlockStart",
            serde_json::json!({"contentBlockIndex": block, "start": {"toolUse": {"toolUseId": id, "name": name}}}),
        )
    }
    pub(crate) fn tool_input(block: u32, input: &str) -> Vec<u8> {
        event(
            "contentBlockDelta",
            serde_json::json!({"contentBlockIndex": block, "delta": {"toolUse": {"input": input}}}),
        )
    }
    pub(crate) fn reasoning(block: u32, r: serde_json::Value) -> Vec<u8> {
        event(
            "contentBlockDelta",
            serde_json::json!({"contentBlockIndex": block, "delta": {"reasoningContent": r}}),
        )
    }
    pub(crate) fn block_stop(block: u32) -> Vec<u8> {
        event(
            "contentBlockStop",
            serde_json::json!({"contentBlockIndex": block}),
        )
    }
    pub(crate) fn stop(reason: &str) -> Vec<u8> {
        event("messageStop", serde_json::json!({"stopReason": reason}))
    }

    /// A Bedrock-style exception frame.
    pub(crate) fn exception(exception_type: &str, message: &str) -> Vec<u8> {
        let body = serde_json::json!({ "message": message }).to_string();
        encode(
            &[
                (":exception-type", exception_type),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            body.as_bytes(),
        )
    }

    /// xorshift64*: deterministic, dependency-free.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next() % n as u64) as usize
            }
        }
    }

    /// Splits `bytes` into pieces at `cuts` (sorted, deduplicated positions).
    pub(crate) fn split_at_points<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut pieces = Vec::new();
        let mut start = 0;
        for &cut in cuts {
            if cut > start && cut < bytes.len() {
                pieces.push(&bytes[start..cut]);
                start = cut;
            }
        }
        pieces.push(&bytes[start..]);
        pieces
    }

    /// An InvokeModelWithResponseStream `chunk` frame carrying one model event.
    pub(crate) fn chunk(event: serde_json::Value) -> Vec<u8> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.encode(event.to_string());
        encode(
            &[
                (":message-type", "event"),
                (":event-type", "chunk"),
                (":content-type", "application/json"),
            ],
            serde_json::json!({ "bytes": bytes, "p": "abc" })
                .to_string()
                .as_bytes(),
        )
    }

    /// Named SSE events (`event:` / `data:`) as (name, JSON) pairs.
    pub(crate) fn named_events(sse: &[u8]) -> Vec<(String, serde_json::Value)> {
        String::from_utf8(sse.to_vec())
            .unwrap()
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e.split_once("\ndata: ").unwrap();
                let name = name.trim_start_matches("event: ").to_string();
                (name, serde_json::from_str(data).unwrap())
            })
            .collect()
    }

    /// Random split points (1..=max_cuts of them) for a stream of `len` bytes.
    pub(crate) fn random_cuts(rng: &mut Rng, len: usize, max_cuts: usize) -> Vec<usize> {
        let n = 1 + rng.below(max_cuts);
        let mut cuts: Vec<usize> = (0..n).map(|_| rng.below(len + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn sample_stream() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend(event(
            "messageStart",
            serde_json::json!({"role": "assistant"}),
        ));
        s.extend(event(
            "contentBlockDelta",
            serde_json::json!({"contentBlockIndex": 0, "delta": {"text": "Hello"}}),
        ));
        s.extend(encode(&[], b""));
        s.extend(exception("throttlingException", "slow down"));
        s
    }

    fn decode_all(pieces: &[&[u8]]) -> Result<Vec<Frame>, DecodeError> {
        let mut d = FrameDecoder::new();
        let mut frames = Vec::new();
        for piece in pieces {
            d.push(piece);
            while let Some(f) = d.next_frame()? {
                frames.push(f);
            }
        }
        assert_eq!(d.buffered_len(), 0);
        Ok(frames)
    }

    #[test]
    fn decodes_headers_and_payload() {
        let s = sample_stream();
        let frames = decode_all(&[&s]).unwrap();
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[0].message_type.as_deref(), Some("event"));
        assert_eq!(frames[0].event_type.as_deref(), Some("messageStart"));
        assert_eq!(frames[0].content_type.as_deref(), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&frames[1].payload).unwrap();
        assert_eq!(v["delta"]["text"], "Hello");
        assert_eq!(frames[2], Frame::default());
        assert_eq!(frames[3].message_type.as_deref(), Some("exception"));
        assert_eq!(
            frames[3].exception_type.as_deref(),
            Some("throttlingException")
        );
    }

    #[test]
    fn every_split_point_and_random_splits_give_same_frames() {
        let s = sample_stream();
        let whole = decode_all(&[&s]).unwrap();
        for cut in 0..=s.len() {
            assert_eq!(
                decode_all(&[&s[..cut], &s[cut..]]).unwrap(),
                whole,
                "cut {cut}"
            );
        }
        let mut rng = Rng(0x5EED);
        for _ in 0..300 {
            let cuts = random_cuts(&mut rng, s.len(), 20);
            assert_eq!(decode_all(&split_at_points(&s, &cuts)).unwrap(), whole);
        }
        let bytewise: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(decode_all(&bytewise).unwrap(), whole);
    }

    #[test]
    fn partial_frame_is_reported_as_buffered() {
        let s = sample_stream();
        let mut d = FrameDecoder::new();
        d.push(&s[..s.len() - 3]);
        let mut n = 0;
        while d.next_frame().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
        assert!(d.buffered_len() > 0);
    }

    #[test]
    fn crc_errors_are_detected() {
        let good = event("messageStart", serde_json::json!({"role": "assistant"}));
        // Prelude CRC (byte 8..12), header byte, payload byte, message CRC (last byte).
        for at in [9, 14, good.len() - 10, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            let mut d = FrameDecoder::new();
            d.push(&bad);
            assert!(
                matches!(d.next_frame(), Err(DecodeError::Corrupt(_))),
                "flip at {at}"
            );
            assert!(d.is_failed());
            d.push(&good);
            assert!(d.next_frame().is_err(), "stays failed");
        }
    }

    #[test]
    fn absurd_lengths_fail_fast_without_buffering() {
        for len in [0u32, 5, 15, (MAX_FRAME_LEN as u32) + 1, u32::MAX] {
            let mut d = FrameDecoder::new();
            d.push(&len.to_be_bytes());
            assert_eq!(d.next_frame(), Err(DecodeError::BadLength(len)));
            assert_eq!(d.buffered_len(), 0);
        }
    }

    #[test]
    fn random_corruption_never_panics() {
        let s = sample_stream();
        let mut rng = Rng(42);
        for _ in 0..2000 {
            let mut bad = s.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bad.len());
                bad[at] = rng.next() as u8;
            }
            let cut = rng.below(bad.len());
            bad.truncate(bad.len() - cut / 4);
            let mut d = FrameDecoder::new();
            d.push(&bad);
            while let Ok(Some(_)) = d.next_frame() {}
        }
    }

    #[test]
    fn buffer_stays_small_on_long_streams() {
        let frame = event(
            "contentBlockDelta",
            serde_json::json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
        );
        let mut d = FrameDecoder::new();
        for i in 0..5000 {
            // Push frames split in two so a partial frame is carried every time.
            let cut = i % frame.len();
            d.push(&frame[..cut]);
            while d.next_frame().unwrap().is_some() {}
            d.push(&frame[cut..]);
            assert!(d.next_frame().unwrap().is_some());
            assert!(
                d.buf.capacity() <= 4 * frame.len(),
                "buffer grew: {}",
                d.buf.capacity()
            );
        }
    }
}
