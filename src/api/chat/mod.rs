//! The Chat Completions API (`POST /v1/chat/completions`): `request` (chat → Converse),
//! `answer` (Converse → chat completion), `stream` (ConverseStream → chunks), `wire` (the
//! client's types).

pub mod answer;
pub mod request;
pub mod stream;
pub mod wire;

use crate::api::{AnswerTranslator, JsonTranslator, RequestContext, Translated};
use crate::error::ApiError;
use crate::policy::guardrail;
use answer::{converse_to_chat, CompletionMeta};
use request::{chat_to_converse, parse_chat_request};
use stream::ChatStream;

pub fn translate(body: &[u8], ctx: &RequestContext<'_>) -> Result<Translated, ApiError> {
    let mut req = parse_chat_request(body)?;
    let requested = guardrail::take_requested(&mut req.other, req.extra_body.as_mut());
    let stream = req.stream.unwrap_or(false);
    let guardrail_config = guardrail::converse_config(
        &ctx.config.guardrail,
        ctx.key_name,
        requested.as_ref(),
        stream,
    )?;
    let mut translation = chat_to_converse(req, ctx.config, ctx.capability_model)?;
    translation.converse.guardrail_config = guardrail_config;
    let meta = CompletionMeta {
        id: format!("chatcmpl-{}", ctx.request_id),
        model: translation.requested_model.clone(),
        created: ctx.unix_seconds(),
        response_tool: translation.response_tool.clone(),
    };
    let answer = if translation.stream {
        AnswerTranslator::Stream(Box::new(
            ChatStream::new(meta.id, meta.model, meta.created, translation.include_usage)
                .with_response_tool(meta.response_tool),
        ))
    } else {
        AnswerTranslator::Json(Box::new(meta))
    };
    Ok(Translated {
        upstream_headers: Vec::new(),
        path: translation.path(),
        body: translation.body()?,
        model_id: translation.model_id,
        answer,
        turn: None,
    })
}

impl JsonTranslator for CompletionMeta {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        converse_to_chat(body, self).map(|v| v.to_string().into_bytes())
    }
}
