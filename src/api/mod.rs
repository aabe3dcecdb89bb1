//! The client APIs the gateway serves, one folder each with the same verbs: `request`
//! (client body → Bedrock body), `answer` (Bedrock answer → client answer), `stream` (Bedrock
//! stream events → client SSE) and the API's own wire types. `body` reads JSON request bodies
//! for all of them.

pub mod body;
pub mod chat;
pub mod embeddings;
pub mod messages;
pub mod models;
pub mod passthrough;
pub mod responses;

use crate::bedrock::converse::Usage;
use crate::error::ApiError;
use crate::stream::driver::{EventHandler, EventSource, StreamDriver};
use serde_json::Value;
use std::time::SystemTime;

/// What every API translator gets besides the body.
pub struct RequestContext<'a> {
    pub config: &'a crate::config::Config,
    /// Unique per request (Envoy's x-request-id without dashes); used in response ids.
    pub request_id: &'a str,
    pub now: SystemTime,
    /// Looks up an output item this gateway returned earlier (for Responses `item_reference`);
    /// `None` when the item store is off.
    pub recall_item: Option<RecallItem<'a>>,
    /// The name of the client key that sent the request (per-key guardrails).
    pub key_name: Option<&'a str>,
    /// The model whose capabilities apply to a model id: the foundation model behind an
    /// application inference profile ARN once the control plane named it, else the id itself.
    pub capability_model: &'a dyn Fn(&str) -> String,
}

/// Capabilities are the model id's own (no application profile looked up).
pub fn same_model(model_id: &str) -> String {
    model_id.to_string()
}

/// Finds an output item the gateway returned earlier, by id.
pub type RecallItem<'a> = &'a dyn Fn(&str) -> Option<Value>;

impl RequestContext<'_> {
    pub fn unix_seconds(&self) -> u64 {
        self.now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// How the gateway words its own errors: in the client API's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorShape {
    #[default]
    OpenAi,
    /// Bedrock's own API: `{"message"}` with `x-amzn-ErrorType`.
    Aws,
    /// `{"type":"error","error":{"type","message"}}`.
    Anthropic,
}

impl ErrorShape {
    pub fn reply(self, e: &ApiError) -> crate::local_reply::LocalReply {
        match self {
            ErrorShape::OpenAi => crate::local_reply::LocalReply::error(e),
            ErrorShape::Aws => passthrough::error_reply(e).with_retry_after(e),
            ErrorShape::Anthropic => {
                crate::local_reply::LocalReply::json(e.status, messages::errors::body(e))
                    .with_retry_after(e)
            }
        }
    }
}

/// A request ready for Bedrock, and the translator for its answer.
pub struct Translated {
    /// The Bedrock model id (aliases resolved).
    pub model_id: String,
    /// Path on Bedrock Runtime, model id percent-encoded once.
    pub path: String,
    pub body: Vec<u8>,
    /// Bedrock request headers the API needs besides the signed ones (InvokeModel's guardrail).
    pub upstream_headers: Vec<(String, String)>,
    pub answer: AnswerTranslator,
    /// A Responses answer to remember for `previous_response_id` (item store on only).
    pub turn: Option<responses::item_store::Turn>,
}

/// How a successful Bedrock answer becomes the client's answer.
pub enum AnswerTranslator {
    /// Buffer the whole JSON answer, then translate it.
    Json(Box<dyn JsonTranslator>),
    /// Translate the event stream chunk by chunk into SSE.
    Stream(Box<dyn StreamTranslator>),
}

pub trait JsonTranslator {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError>;
}

pub trait StreamTranslator {
    /// SSE bytes to send now for these upstream bytes (possibly none).
    fn push(&mut self, bytes: &[u8]) -> Vec<u8>;
    /// Upstream ended: the closing events, or an error event when the stream was cut short.
    fn finish(&mut self) -> Vec<u8>;
    /// Upstream broke off: an error event unless the stream already ended.
    fn abort(&mut self, reason: &str) -> Vec<u8>;
    fn usage(&self) -> Option<&Usage>;
    /// True once the stream ended with an error event.
    fn failed(&self) -> bool;
    /// The output items of an answer that completed (Responses, for the item store).
    fn completed_output(&self) -> Option<&[Value]>;
}

/// Every API's stream is the one driver with its own handlers.
impl<S, H> StreamTranslator for StreamDriver<S, H>
where
    S: EventSource,
    H: EventHandler<Event = S::Event>,
{
    fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        StreamDriver::push(self, bytes)
    }
    fn finish(&mut self) -> Vec<u8> {
        StreamDriver::finish(self)
    }
    fn abort(&mut self, reason: &str) -> Vec<u8> {
        StreamDriver::abort(self, reason)
    }
    fn usage(&self) -> Option<&Usage> {
        StreamDriver::usage(self)
    }
    fn failed(&self) -> bool {
        self.error().is_some()
    }
    fn completed_output(&self) -> Option<&[Value]> {
        self.is_complete()
            .then(|| self.handler().output_items())
            .flatten()
    }
}
