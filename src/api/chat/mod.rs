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
    let mut translation = chat_to_converse(req, ctx.config, ctx.capability_model)?;
    translation.converse.guardrail_config = guardrail::converse_config(
        &ctx.config.guardrail,
        ctx.key_name,
        requested.as_ref(),
        translation.converse_stream,
    )?;
    let meta = CompletionMeta {
        id: format!("chatcmpl-{}", ctx.request_id),
        model: translation.requested_model.clone(),
        created: ctx.unix_seconds(),
        response_tool: translation.response_tool.clone(),
    };
    let answer = if translation.stream {
        let stream = ChatStream::new(meta.id, meta.model, meta.created, translation.include_usage)
            .with_response_tool(meta.response_tool);
        AnswerTranslator::Stream(if translation.converse_stream {
            Box::new(stream)
        } else {
            Box::new(stream.from_whole_answer())
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{fixed_now, open_config};
    use serde_json::{json, Value};
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_streamed_request_with_tools_to_llama_goes_to_converse_without_a_stream_mode() {
        let config = open_config(
            r#"{"guardrail": {"identifier": "g1", "version": "1", "stream_processing_mode": "async"}}"#,
        );
        let ctx = RequestContext {
            config: &config,
            request_id: "r1",
            now: fixed_now(),
            recall_item: None,
            key_name: None,
            capability_model: &crate::api::same_model,
        };
        let weather = json!({"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object"}}});
        let request = |model: &str, tools: bool| {
            let mut body = json!({"model": model, "stream": true,
                "messages": [{"role": "user", "content": "Paris?"}]});
            if tools {
                body["tools"] = json!([weather]);
            }
            let t = translate(body.to_string().as_bytes(), &ctx).unwrap();
            assert!(matches!(t.answer, AnswerTranslator::Stream(_)));
            let sent: Value = serde_json::from_slice(&t.body).unwrap();
            (
                t.path,
                sent["guardrailConfig"].get("streamProcessingMode").cloned(),
            )
        };
        let llama = "us.meta.llama4-maverick-17b-instruct-v1:0";
        let (path, mode) = request(llama, true);
        assert!(path.ends_with("/converse"), "{path}");
        assert_eq!(mode, None, "Converse has no streamProcessingMode");
        let (path, mode) = request(llama, false);
        assert!(path.ends_with("/converse-stream"), "{path}");
        assert_eq!(mode, Some(json!("async")));
        let (path, _) = request("amazon.nova-pro-v1:0", true);
        assert!(path.ends_with("/converse-stream"), "{path}");
    }
}
