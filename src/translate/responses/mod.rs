//! The Responses API (`POST /v1/responses`) end to end: request translation plus its reply
//! translators. Stateless: every request carries the whole conversation.

pub mod output;
pub mod request;
pub mod response;
pub mod stream;
pub mod text_format;
pub mod tools;

use crate::bedrock::converse::Usage;
use crate::error::ApiError;
use crate::translate::{JsonReply, Reply, RequestContext, StreamReply, Translated};
use output::ResponseMeta;
use request::{parse_request, to_converse};
use serde_json::{json, Map, Value};
use stream::ResponsesStream;

pub fn translate(body: &[u8], ctx: &RequestContext<'_>) -> Result<Translated, ApiError> {
    let req = parse_request(body)?;
    let echo = echo_fields(&req);
    let translation = to_converse(req, ctx.config)?;
    let meta = ResponseMeta {
        id: format!("resp_{}", ctx.request_id),
        model: translation.requested_model.clone(),
        created_at: ctx.unix_seconds(),
        tools: translation.tools.clone(),
        response_tool: translation.response_tool.clone(),
        echo,
    };
    let reply = if translation.stream {
        Reply::Stream(Box::new(ResponsesStream::new(meta)))
    } else {
        Reply::Json(Box::new(meta))
    };
    Ok(Translated {
        path: translation.path(),
        body: translation.body()?,
        model_id: translation.model_id,
        reply,
    })
}

/// Request fields a `response` object repeats, with OpenAI's defaults.
fn echo_fields(req: &crate::openai::responses::ResponsesRequest) -> Map<String, Value> {
    let other = |key: &str, default: Value| req.other.get(key).cloned().unwrap_or(default);
    let mut echo = Map::new();
    let fields = [
        ("instructions", json!(req.instructions)),
        ("tools", json!(req.tools.clone().unwrap_or_default())),
        (
            "tool_choice",
            req.tool_choice.clone().unwrap_or_else(|| json!("auto")),
        ),
        (
            "parallel_tool_calls",
            json!(req.parallel_tool_calls.unwrap_or(true)),
        ),
        ("temperature", json!(req.temperature)),
        ("top_p", json!(req.top_p)),
        ("max_output_tokens", json!(req.max_output_tokens)),
        (
            "reasoning",
            json!({
                "effort": req.reasoning.as_ref().and_then(|r| r.effort.clone()),
                "summary": req.reasoning.as_ref().and_then(|r| r.summary.clone()),
            }),
        ),
        ("store", json!(false)),
        ("metadata", other("metadata", json!({}))),
        (
            "text",
            req.text
                .clone()
                .filter(|t| !t.is_null())
                .unwrap_or_else(|| json!({"format": {"type": "text"}})),
        ),
        ("truncation", other("truncation", json!("disabled"))),
    ];
    for (k, v) in fields {
        echo.insert(k.into(), v);
    }
    echo
}

impl JsonReply for ResponseMeta {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        response::converse_to_response(body, self).map(|v| v.to_string().into_bytes())
    }
}

impl StreamReply for ResponsesStream {
    fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        ResponsesStream::push(self, bytes)
    }
    fn finish(&mut self) -> Vec<u8> {
        ResponsesStream::finish(self)
    }
    fn abort(&mut self, reason: &str) -> Vec<u8> {
        ResponsesStream::abort(self, reason)
    }
    fn usage(&self) -> Option<&Usage> {
        ResponsesStream::usage(self)
    }
    fn failed(&self) -> bool {
        self.error().is_some()
    }
}
