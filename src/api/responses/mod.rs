//! The Responses API (`POST /v1/responses`) end to end: request translation plus its reply
//! translators. Stateless except for `item_reference`s to output items the gateway returned
//! and `previous_response_id`s naming its responses, which are resolved from the item store
//! (see `item_store`).

pub mod answer;
pub mod item_store;
pub mod output;
pub mod request;
pub mod stream;
pub mod text_format;
pub mod tools;
pub mod wire;

use crate::api::responses::wire::{Input, ResponsesRequest};
use crate::api::{AnswerTranslator, JsonTranslator, RecallItem, RequestContext, Translated};
use crate::error::ApiError;
use crate::policy::guardrail;
use item_store::Turn;
use output::ResponseMeta;
use request::{parse_request, resolve_references, to_converse};
use serde_json::{json, Map, Value};
use stream::ResponsesStream;

pub fn translate(body: &[u8], ctx: &RequestContext<'_>) -> Result<Translated, ApiError> {
    let mut req = parse_request(body)?;
    let id = response_id(ctx);
    let echo = echo_fields(&req);
    let turn = match ctx.recall_item {
        Some(recall) => Some(continue_turn(&mut req, recall, &id)?),
        None => None,
    };
    let requested = guardrail::take_requested(&mut req.other, None);
    let mut translation = to_converse(req, ctx.config, ctx.capability_model)?;
    translation.converse.guardrail_config = guardrail::converse_config(
        &ctx.config.guardrail,
        ctx.key_name,
        requested.as_ref(),
        translation.converse_stream,
    )?;
    let meta = ResponseMeta {
        id,
        model: translation.requested_model.clone(),
        created_at: ctx.unix_seconds(),
        tools: translation.tools.clone(),
        response_tool: translation.response_tool.clone(),
        echo,
    };
    let answer = if translation.stream {
        let stream = ResponsesStream::new(meta);
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
        turn,
    })
}

/// With the item store on: resolves `item_reference`s, then puts the conversation that
/// `previous_response_id` names before the input, as if the client had sent all of it. Returns
/// what to remember of this request once answered.
fn continue_turn(
    req: &mut ResponsesRequest,
    recall: RecallItem<'_>,
    response_id: &str,
) -> Result<Turn, ApiError> {
    resolve_references(req, recall)?;
    let input = match &req.input {
        None => Vec::new(),
        Some(Input::Text(text)) => vec![json!({"role": "user", "content": text})],
        Some(Input::Items(items)) => items.clone(),
    };
    let previous = req.previous_response_id.take().filter(|id| !id.is_empty());
    if let Some(previous) = &previous {
        let mut all = item_store::history(recall, previous)?;
        all.extend(input.iter().cloned());
        req.input = Some(Input::Items(all));
    }
    Ok(Turn {
        response_id: response_id.to_string(),
        previous_response_id: previous,
        input,
    })
}

/// `resp_<request id><clock salt>`: output item ids derive from it and name remembered items,
/// so it must differ even when a client resends the same `x-request-id`.
fn response_id(ctx: &RequestContext<'_>) -> String {
    let nanos = ctx
        .now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let salt = u32::try_from(nanos & 0xffff_ffff).unwrap_or(0);
    format!("resp_{}{salt:08x}", ctx.request_id)
}

/// Request fields a `response` object repeats, with OpenAI's defaults.
fn echo_fields(req: &ResponsesRequest) -> Map<String, Value> {
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
        (
            "previous_response_id",
            json!(req
                .previous_response_id
                .as_ref()
                .filter(|id| !id.is_empty())),
        ),
    ];
    for (k, v) in fields {
        echo.insert(k.into(), v);
    }
    echo
}

impl JsonTranslator for ResponseMeta {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        answer::converse_to_response(body, self).map(|v| v.to_string().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::time::{Duration, UNIX_EPOCH};
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";

    fn config() -> Config {
        crate::test_support::open_config("{}")
    }

    fn assistant_item() -> Value {
        json!({"type": "message", "id": "msg_r1_0", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": "Paris is sunny.", "annotations": []}]})
    }

    fn request(middle: Value) -> Vec<u8> {
        json!({"model": HAIKU, "input": [
            {"role": "user", "content": "Weather?"}, middle, {"role": "user", "content": "And tomorrow?"}]})
        .to_string()
        .into_bytes()
    }

    fn run(body: &[u8], recall: Option<crate::api::RecallItem<'_>>) -> Result<Value, ApiError> {
        let config = config();
        let ctx = RequestContext {
            config: &config,
            request_id: "r1",
            now: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            recall_item: recall,
            key_name: None,
            capability_model: &crate::api::same_model,
        };
        let translated = translate(body, &ctx)?;
        Ok(serde_json::from_slice(&translated.body).unwrap())
    }

    #[test]
    fn a_resolved_reference_translates_like_the_full_item() {
        let remembered = |id: &str| (id == "msg_r1_0").then(assistant_item);
        let by_reference = run(
            &request(json!({"type": "item_reference", "id": "msg_r1_0"})),
            Some(&remembered),
        )
        .unwrap();
        let in_full = run(&request(assistant_item()), None).unwrap();
        assert_eq!(by_reference, in_full);
        assert_eq!(
            by_reference["messages"][1],
            json!({"role": "assistant", "content": [{"text": "Paris is sunny."}]})
        );
    }

    #[test]
    fn an_unknown_reference_is_a_400_naming_the_item() {
        let nothing = |_: &str| None;
        let body = request(json!({"type": "item_reference", "id": "msg_gone_3"}));
        let err = run(&body, Some(&nothing)).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.param.as_deref(), Some("input[1]"));
        assert!(err.message.contains("'msg_gone_3'"), "{}", err.message);
        assert!(err.message.contains("store: false"), "{}", err.message);
        // With the store off, references get the stateless gateway's answer.
        let err = run(&body, None).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("item_reference"), "{}", err.message);
    }

    #[test]
    fn response_ids_differ_for_a_reused_request_id() {
        let config = config();
        let at = |secs: u64, nanos: u32| RequestContext {
            config: &config,
            request_id: "same",
            now: UNIX_EPOCH + Duration::new(secs, nanos),
            recall_item: None,
            key_name: None,
            capability_model: &crate::api::same_model,
        };
        let (a, b) = (
            response_id(&at(1_800_000_000, 1)),
            response_id(&at(1_800_000_000, 2)),
        );
        assert!(a.starts_with("resp_same") && b.starts_with("resp_same"));
        assert_ne!(a, b);
    }

    fn translated(body: Value, recall: crate::api::RecallItem<'_>) -> Translated {
        let config = config();
        let ctx = RequestContext {
            config: &config,
            request_id: "r2",
            now: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            recall_item: Some(recall),
            key_name: None,
            capability_model: &crate::api::same_model,
        };
        translate(body.to_string().as_bytes(), &ctx).unwrap()
    }

    #[test]
    fn previous_response_id_continues_without_the_earlier_instructions() {
        // resp_r1 answered {"instructions": "Be terse.", "input": "Weather?"}.
        let record = json!({"id": "resp_r1", "previous_response_id": null,
            "input": [{"role": "user", "content": "Weather?"}], "output": [assistant_item()]});
        let remembered = |id: &str| (id == "resp_r1").then(|| record.clone());
        let t = translated(
            json!({"model": HAIKU, "previous_response_id": "resp_r1", "input": "And tomorrow?"}),
            &remembered,
        );
        let sent: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(
            sent["messages"][0],
            json!({"role": "user", "content": [{"text": "Weather?"}]})
        );
        assert_eq!(
            sent["messages"][1],
            json!({"role": "assistant", "content": [{"text": "Paris is sunny."}]})
        );
        assert_eq!(
            sent["messages"][2],
            json!({"role": "user", "content": [{"text": "And tomorrow?"}]})
        );
        assert_eq!(sent["messages"].as_array().unwrap().len(), 3);
        assert!(sent.get("system").is_none(), "{sent}");
        // The record of this turn holds its own input only, and names the one before.
        let turn = t.turn.unwrap();
        assert_eq!(turn.previous_response_id.as_deref(), Some("resp_r1"));
        assert_eq!(
            turn.input,
            vec![json!({"role": "user", "content": "And tomorrow?"})]
        );
        // The answer names the response it continued from.
        let AnswerTranslator::Json(reply) = t.answer else {
            panic!("expected a JSON reply")
        };
        let answer = br#"{"output":{"message":{"role":"assistant","content":[{"text":"Rain."}]}},
            "stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}"#;
        let response: Value = serde_json::from_slice(&reply.translate(answer).unwrap()).unwrap();
        assert_eq!(response["previous_response_id"], "resp_r1");
    }

    #[test]
    fn an_unknown_previous_response_is_a_400_and_without_the_store_stays_refused() {
        let nothing = |_: &str| None;
        let body = json!({"model": HAIKU, "previous_response_id": "resp_gone", "input": "hi"})
            .to_string()
            .into_bytes();
        let err = run(&body, Some(&nothing)).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.code.as_deref(), Some("previous_response_not_found"));
        let err = run(&body, None).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.code.as_deref(), Some("unsupported_parameter"));
        assert!(err.message.contains("stateless"), "{}", err.message);
        // A response record is no output item to refer to.
        let record = json!({"id": "resp_r1", "input": [], "output": []});
        let remembered = |id: &str| (id == "resp_r1").then(|| record.clone());
        let err = run(
            &request(json!({"type": "item_reference", "id": "resp_r1"})),
            Some(&remembered),
        )
        .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("item_not_found"));
    }
}
