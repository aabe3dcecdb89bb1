//! One driver for every streamed answer. It owns what all stream translators share: feeding
//! body bytes (split anywhere) to an event source, stopping at the first error, the error event,
//! the end-of-stream check and silence afterwards. Each API plugs in an [`EventHandler`] that
//! turns events into its own SSE.
//!
//! ```text
//!           handler says Complete / on_end() Ok
//!   Running ───────────────────────────────────► Complete   (nothing more is written)
//!      │
//!      └─ event error, truncated stream, on_end() Err, abort ─► Failed (one error event)
//! ```

use crate::bedrock::converse::Usage;
use crate::error::ApiError;

/// Decoded events from body bytes that arrive split anywhere.
pub trait EventSource: Default {
    type Event;
    fn push(&mut self, bytes: &[u8]);
    /// The next complete event, `None` until more bytes arrive; `Err` for a corrupt stream or
    /// an error frame.
    fn next_event(&mut self) -> Option<Result<Self::Event, ApiError>>;
    /// At end of input: the error for a stream that ended inside an event, if it did.
    fn cut_off(&self) -> Option<ApiError>;
    /// Input is over: a source that reads only whole answers makes its events now.
    fn end(&mut self) {}
}

/// Whether the client's answer is complete after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Open,
    Complete,
}

/// One API's stream translator.
pub trait EventHandler {
    type Event;
    /// Writes what this event means for the client.
    fn on_event(&mut self, event: Self::Event, out: &mut Vec<u8>) -> Flow;
    /// Upstream ended with every event whole: writes the closing events, or says why the
    /// answer is incomplete (the driver then writes the error event).
    fn on_end(&mut self, out: &mut Vec<u8>) -> Result<(), ApiError>;
    /// The stream failed: writes the API's error event.
    fn on_error(&mut self, error: &ApiError, out: &mut Vec<u8>);
    /// Token usage, once the stream reported it.
    fn usage(&self) -> Option<&Usage>;
    /// The answer's output items, for APIs whose answers are remembered (Responses).
    fn output_items(&self) -> Option<&[serde_json::Value]> {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Complete,
    Failed,
}

#[derive(Debug)]
pub struct StreamDriver<S, H> {
    source: S,
    handler: H,
    phase: Phase,
    error: Option<ApiError>,
}

impl<S, H> StreamDriver<S, H>
where
    S: EventSource,
    H: EventHandler<Event = S::Event>,
{
    pub fn with_handler(handler: H) -> Self {
        StreamDriver {
            source: S::default(),
            handler,
            phase: Phase::Running,
            error: None,
        }
    }

    /// The same driver reading from `source` (before any bytes are pushed).
    pub fn with_source(mut self, source: S) -> Self {
        self.source = source;
        self
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    #[cfg(test)]
    pub fn source(&self) -> &S {
        &self.source
    }

    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Feeds upstream body bytes (split anywhere); returns the SSE bytes to send now.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.is_finished() {
            return out;
        }
        self.source.push(bytes);
        self.drain(&mut out);
        out
    }

    /// Hands every complete event to the handler.
    fn drain(&mut self, out: &mut Vec<u8>) {
        while !self.is_finished() {
            match self.source.next_event() {
                Some(Ok(event)) => {
                    if self.handler.on_event(event, out) == Flow::Complete {
                        self.phase = Phase::Complete;
                    }
                }
                Some(Err(err)) => self.fail_into(err, out),
                None => break,
            }
        }
    }

    /// Upstream end of stream: the closing events after a complete answer, otherwise the error
    /// event for a truncated one. Idempotent.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.is_finished() {
            return out;
        }
        self.source.end();
        self.drain(&mut out);
        if self.is_finished() {
            return out;
        }
        let ended = match self.source.cut_off() {
            Some(err) => Err(err),
            None => self.handler.on_end(&mut out),
        };
        match ended {
            Ok(()) => self.phase = Phase::Complete,
            Err(err) => self.fail_into(err, &mut out),
        }
        out
    }

    /// The upstream broke off: the error event (nothing if the stream already ended).
    pub fn abort(&mut self, reason: &str) -> Vec<u8> {
        self.fail(ApiError::bad_gateway(format!(
            "Bedrock: stream aborted: {reason}"
        )))
    }

    /// Ends the stream with this error: its error event (nothing if the stream already ended).
    pub fn fail(&mut self, err: ApiError) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.is_finished() {
            self.fail_into(err, &mut out);
        }
        out
    }

    pub fn usage(&self) -> Option<&Usage> {
        self.handler.usage()
    }

    /// The error the stream ended with, if it did not end cleanly.
    pub fn error(&self) -> Option<&ApiError> {
        self.error.as_ref()
    }

    /// The answer is complete or failed; further input is ignored.
    pub fn is_finished(&self) -> bool {
        self.phase != Phase::Running
    }

    /// True once the answer is complete (not failed).
    pub fn is_complete(&self) -> bool {
        self.phase == Phase::Complete
    }

    fn fail_into(&mut self, err: ApiError, out: &mut Vec<u8>) {
        self.handler.on_error(&err, out);
        self.error = Some(err);
        self.phase = Phase::Failed;
    }
}
