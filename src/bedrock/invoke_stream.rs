//! InvokeModelWithResponseStream: `chunk` frames whose payload is `{"bytes": base64}` of one
//! model-native event (Anthropic's stream events for Claude), and exception frames.

use crate::bedrock::eventstream::{Frame, FrameDecoder};
use crate::bedrock::stream::frame_error;
use crate::error::ApiError;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

/// Model events from the body bytes as they arrive, split anywhere.
#[derive(Debug, Default)]
pub struct ChunkReader {
    decoder: FrameDecoder,
}

#[derive(Deserialize)]
struct Chunk {
    bytes: String,
}

/// The model event a frame carries; `Ok(None)` for frames that carry none.
pub fn chunk_event(frame: &Frame) -> Result<Option<Value>, ApiError> {
    if let Some(error) = frame_error(frame) {
        return Err(error);
    }
    match frame.event_type.as_deref() {
        Some("chunk") => {
            let invalid = |what: &str| {
                ApiError::bad_gateway(format!("Bedrock: invalid stream chunk ({what})"))
            };
            let chunk: Chunk =
                serde_json::from_slice(&frame.payload).map_err(|_| invalid("payload"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(chunk.bytes)
                .map_err(|_| invalid("base64"))?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| invalid("event JSON"))
        }
        _ => Ok(None),
    }
}

impl ChunkReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    /// The next model event, `None` until more bytes arrive; `Err` for a corrupt stream or
    /// an exception frame.
    pub fn next_event(&mut self) -> Option<Result<Value, ApiError>> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => match chunk_event(&frame) {
                    Ok(Some(event)) => return Some(Ok(event)),
                    Ok(None) => continue,
                    Err(e) => return Some(Err(e)),
                },
                Ok(None) => return None,
                Err(err) => return Some(Err(err.into())),
            }
        }
    }

    /// The error for a stream that ended inside a frame, if it did.
    pub fn cut_off(&self) -> Option<ApiError> {
        self.decoder.cut_off()
    }
}
