//! Bedrock's event streams as sources for the stream driver: ConverseStream events (from
//! frames, or from a whole Converse answer), and the model-native events of
//! InvokeModelWithResponseStream's chunk frames.

use crate::bedrock::answer_events::answer_events;
use crate::bedrock::invoke_stream::ChunkReader;
use crate::bedrock::stream::{EventReader, StreamEvent};
use crate::error::ApiError;
use crate::stream::driver::{EventHandler, EventSource, StreamDriver};
use serde_json::Value;
use std::collections::VecDeque;

/// ConverseStream events: from ConverseStream's frames as they arrive, or — where the gateway
/// called Converse because the model takes tools only without streaming — from the whole
/// answer once it has arrived.
#[derive(Debug)]
pub enum ConverseSource {
    Frames(EventReader),
    WholeAnswer {
        body: Vec<u8>,
        events: VecDeque<Result<StreamEvent, ApiError>>,
    },
}

impl Default for ConverseSource {
    fn default() -> Self {
        ConverseSource::Frames(EventReader::default())
    }
}

impl ConverseSource {
    pub fn whole_answer() -> Self {
        ConverseSource::WholeAnswer {
            body: Vec::new(),
            events: VecDeque::new(),
        }
    }

    #[cfg(test)]
    pub fn buffered_len(&self) -> usize {
        match self {
            ConverseSource::Frames(reader) => reader.buffered_len(),
            ConverseSource::WholeAnswer { body, .. } => body.len(),
        }
    }
}

impl EventSource for ConverseSource {
    type Event = StreamEvent;
    fn push(&mut self, bytes: &[u8]) {
        match self {
            ConverseSource::Frames(reader) => reader.push(bytes),
            ConverseSource::WholeAnswer { body, .. } => body.extend_from_slice(bytes),
        }
    }
    fn next_event(&mut self) -> Option<Result<StreamEvent, ApiError>> {
        match self {
            ConverseSource::Frames(reader) => reader.next_event(),
            ConverseSource::WholeAnswer { events, .. } => events.pop_front(),
        }
    }
    fn cut_off(&self) -> Option<ApiError> {
        match self {
            ConverseSource::Frames(reader) => reader.cut_off(),
            ConverseSource::WholeAnswer { .. } => None,
        }
    }
    fn end(&mut self) {
        if let ConverseSource::WholeAnswer { body, events } = self {
            let body = std::mem::take(body);
            match answer_events(&body) {
                Ok(all) => events.extend(all.into_iter().map(Ok)),
                Err(e) => events.push_back(Err(e)),
            }
        }
    }
}

impl<H: EventHandler<Event = StreamEvent>> StreamDriver<ConverseSource, H> {
    /// The same translator reading a whole Converse answer instead of ConverseStream frames.
    pub fn from_whole_answer(self) -> Self {
        self.with_source(ConverseSource::whole_answer())
    }
}

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
