//! The Chat Completions API end to end: request translation plus its reply translators.

use crate::bedrock::converse::Usage;
use crate::error::ApiError;
use crate::translate::request::{chat_to_converse, parse_chat_request};
use crate::translate::response::{converse_to_chat, CompletionMeta};
use crate::translate::stream::ChatStream;
use crate::translate::{JsonReply, Reply, RequestContext, StreamReply, Translated};

pub fn translate(body: &[u8], ctx: &RequestContext<'_>) -> Result<Translated, ApiError> {
    let translation = parse_chat_request(body).and_then(|req| chat_to_converse(req, ctx.config))?;
    let meta = CompletionMeta {
        id: format!("chatcmpl-{}", ctx.request_id),
        model: translation.requested_model.clone(),
        created: ctx.unix_seconds(),
        response_tool: translation.response_tool.clone(),
    };
    let reply = if translation.stream {
        Reply::Stream(Box::new(
            ChatStream::new(meta.id, meta.model, meta.created, translation.include_usage)
                .with_response_tool(meta.response_tool),
        ))
    } else {
        Reply::Json(Box::new(meta))
    };
    Ok(Translated {
        path: translation.path(),
        body: translation.body()?,
        model_id: translation.model_id,
        reply,
        turn: None,
    })
}

impl JsonReply for CompletionMeta {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        converse_to_chat(body, self).map(|v| v.to_string().into_bytes())
    }
}

impl StreamReply for ChatStream {
    fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        ChatStream::push(self, bytes)
    }
    fn finish(&mut self) -> Vec<u8> {
        ChatStream::finish(self)
    }
    fn abort(&mut self, reason: &str) -> Vec<u8> {
        ChatStream::abort(self, reason)
    }
    fn usage(&self) -> Option<&Usage> {
        ChatStream::usage(self)
    }
    fn failed(&self) -> bool {
        self.error().is_some()
    }
}
