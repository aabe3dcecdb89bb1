//! Bedrock's event streams as sources for the stream driver: ConverseStream events, and the
//! model-native events of InvokeModelWithResponseStream's chunk frames.

use crate::bedrock::invoke_stream::ChunkReader;
use crate::bedrock::stream::{EventReader, StreamEvent};
use crate::error::ApiError;
use crate::stream::driver::EventSource;
use serde_json::Value;

impl EventSource for EventReader {
    type Event = StreamEvent;
    fn push(&mut self, bytes: &[u8]) {
        EventReader::push(self, bytes)
    }
    fn next_event(&mut self) -> Option<Result<StreamEvent, ApiError>> {
        EventReader::next_event(self)
    }
    fn cut_off(&self) -> Option<ApiError> {
        EventReader::cut_off(self)
    }
}

impl EventSource for ChunkReader {
    type Event = Value;
    fn push(&mut self, bytes: &[u8]) {
        ChunkReader::push(self, bytes)
    }
    fn next_event(&mut self) -> Option<Result<Value, ApiError>> {
        ChunkReader::next_event(self)
    }
    fn cut_off(&self) -> Option<ApiError> {
        ChunkReader::cut_off(self)
    }
}
