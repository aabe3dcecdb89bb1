//! The Anthropic Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`), as Claude
//! Code and Anthropic's SDKs send it. Claude models go to InvokeModel with Anthropic's own
//! body: `request` (Messages → InvokeModel body), `answer` (Bedrock's JSON → Anthropic's),
//! `stream` (chunk frames → Anthropic SSE), `betas` (what each Claude model on Bedrock
//! accepts). Other models go through Converse: `converse_request`, `converse_answer` (JSON and
//! stream). `errors`: Anthropic's envelope.

pub mod answer;
pub mod betas;
pub mod converse_answer;
pub mod converse_request;
pub mod errors;
pub mod request;
pub mod stream;

use crate::api::{AnswerTranslator, RequestContext, Translated};
use crate::bedrock::model_id::{converse_path, runtime_path, validate_model_id};
use crate::capabilities::{self, base_model_id, Family};
use crate::converse::tools;
use crate::error::ApiError;
use crate::policy::guardrail;
use answer::{CountTokensAnswer, MessageAnswer};
use base64::Engine;
use serde_json::{json, Value};

/// The Bedrock model a Messages request goes to (aliases resolved).
fn model_id(ctx: &RequestContext<'_>, requested: &str) -> Result<String, ApiError> {
    let model_id = ctx.config.resolve_model(requested).to_string();
    validate_model_id(&model_id)?;
    Ok(model_id)
}

/// Claude speaks Anthropic's body on InvokeModel (application profiles are taken for Claude:
/// they carry no family in their id).
fn speaks_anthropic(model_id: &str) -> bool {
    capabilities::family(model_id) == Family::Claude || capabilities::is_arn(model_id)
}

/// `POST /v1/messages`: `header_betas` is the client's `anthropic-beta` header.
pub fn translate(
    body: &[u8],
    ctx: &RequestContext<'_>,
    header_betas: Option<&str>,
) -> Result<Translated, ApiError> {
    let mut req = request::parse(body)?;
    let model_id = model_id(ctx, &req.model)?;
    let caps = (ctx.capability_model)(&model_id);
    if !speaks_anthropic(&caps) {
        return through_converse(req, model_id, &caps, ctx);
    }
    let guarded = invoke_guardrail(&mut req, ctx)?;
    let mut invoke = request::to_invoke_body(req.body, &caps, header_betas);
    let mut upstream_headers = Vec::new();
    if let Some(g) = &guarded {
        upstream_headers = g.invoke_headers();
        if let Some(config) = g.invoke_stream_body_config().filter(|_| req.stream) {
            invoke
                .entry(guardrail::INVOKE_BODY_CONFIG)
                .or_insert(config);
        }
    }
    let (action, answer) = if req.stream {
        let stream = stream::messages_stream(req.model);
        (
            "invoke-with-response-stream",
            AnswerTranslator::Stream(Box::new(stream)),
        )
    } else {
        let json = MessageAnswer {
            model: req.model,
            fallback_id: format!("msg_{}", ctx.request_id),
        };
        ("invoke", AnswerTranslator::Json(Box::new(json)))
    };
    Ok(Translated {
        upstream_headers,
        path: runtime_path(&model_id, action),
        body: serde_json::to_vec(&invoke)
            .map_err(|e| ApiError::internal(format!("could not encode the request: {e}")))?,
        model_id,
        answer,
        turn: None,
    })
}

/// The guardrail for a Claude request, which InvokeModel takes as headers. A client's own
/// choice — Bedrock's `guardrailConfig` object, or InvokeModel's `amazon-bedrock-guardrailConfig`
/// body field (whose `tagSuffix` would limit what the guardrail reads) — needs the key's
/// permission; the body field then goes on as sent.
fn invoke_guardrail(
    req: &mut request::MessagesRequest,
    ctx: &RequestContext<'_>,
) -> Result<Option<guardrail::Applied>, ApiError> {
    let policy = &ctx.config.guardrail;
    if req.body.contains_key(guardrail::INVOKE_BODY_CONFIG)
        && !guardrail::may_choose(policy, ctx.key_name)
    {
        return Err(guardrail::forbidden(guardrail::INVOKE_BODY_CONFIG));
    }
    let requested = guardrail::take_requested(&mut req.body, None);
    guardrail::settle(policy, ctx.key_name, requested.as_ref())
}

/// A model that is not Claude: the request through Converse, the answer back as Anthropic's.
fn through_converse(
    mut req: request::MessagesRequest,
    model_id: String,
    caps: &str,
    ctx: &RequestContext<'_>,
) -> Result<Translated, ApiError> {
    let requested = guardrail::take_requested(&mut req.body, None);
    let mut converse = converse_request::to_converse(req.body, caps, ctx.config)?;
    let converse_stream = tools::converse_stream_serves(req.stream, &converse, caps);
    converse.guardrail_config = guardrail::converse_config(
        &ctx.config.guardrail,
        ctx.key_name,
        requested.as_ref(),
        converse_stream,
    )?;
    let id = format!("msg_{}", ctx.request_id);
    let answer = if req.stream {
        let stream = converse_answer::converse_messages_stream(id, req.model);
        AnswerTranslator::Stream(if converse_stream {
            Box::new(stream)
        } else {
            Box::new(stream.from_whole_answer())
        })
    } else {
        let json = converse_answer::ConverseMessage {
            id,
            model: req.model,
        };
        AnswerTranslator::Json(Box::new(json))
    };
    Ok(Translated {
        upstream_headers: Vec::new(),
        path: converse_path(&model_id, converse_stream),
        body: converse.to_body()?,
        model_id,
        answer,
        turn: None,
    })
}

/// Claude models Bedrock's CountTokens serves (by their foundation-model id).
fn counts_tokens(model_id: &str) -> bool {
    let id = base_model_id(model_id);
    capabilities::family(model_id) == Family::Claude
        && ![
            "claude-3-haiku",
            "claude-3-sonnet",
            "claude-3-opus",
            "claude-v2",
            "claude-instant",
        ]
        .iter()
        .any(|old| id.contains(old))
}

/// `POST /v1/messages/count_tokens` → Bedrock CountTokens on the model's foundation id, or
/// Anthropic's `not_supported` answer (Claude Code then counts another way).
pub fn count_tokens(
    body: &[u8],
    ctx: &RequestContext<'_>,
    header_betas: Option<&str>,
) -> Result<Translated, ApiError> {
    let req = request::parse(body)?;
    let model_id = (ctx.capability_model)(&model_id(ctx, &req.model)?);
    if !counts_tokens(&model_id) {
        return Err(ApiError::new(
            501,
            "not_supported_error",
            format!(
                "Token counting is not supported for '{}' on Bedrock.",
                req.model
            ),
        ));
    }
    let base = base_model_id(&model_id).to_string();
    let mut invoke = request::to_invoke_body(req.body, &model_id, header_betas);
    // CountTokens takes a whole InvokeModel body, which needs max_tokens.
    invoke.entry("max_tokens").or_insert(json!(1));
    let inner = serde_json::to_vec(&Value::Object(invoke))
        .map_err(|e| ApiError::internal(format!("could not encode the request: {e}")))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(inner);
    let body = json!({"input": {"invokeModel": {"body": encoded}}});
    Ok(Translated {
        upstream_headers: Vec::new(),
        path: runtime_path(&base, "count-tokens"),
        body: body.to_string().into_bytes(),
        model_id: base,
        answer: AnswerTranslator::Json(Box::new(CountTokensAnswer)),
        turn: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{fixed_now, open_config};
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ctx(config: &crate::config::Config) -> RequestContext<'_> {
        RequestContext {
            config,
            request_id: "r1",
            now: fixed_now(),
            recall_item: None,
            key_name: None,
            capability_model: &crate::api::same_model,
        }
    }

    #[test]
    fn messages_go_to_invoke_and_count_tokens_to_the_foundation_model() {
        let config = open_config(
            r#"{"model_aliases": {"claude-opus-4-8": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}}"#,
        );
        let body = br#"{"model": "claude-opus-4-8", "max_tokens": 9, "stream": true,
                        "messages": [{"role": "user", "content": "hi"}]}"#;
        let t = translate(body, &ctx(&config), Some("claude-code-20250219")).unwrap();
        assert_eq!(
            t.path,
            "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
        );
        assert!(matches!(t.answer, AnswerTranslator::Stream(_)));
        let sent: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(sent["anthropic_beta"], json!(["claude-code-20250219"]));

        let counted = count_tokens(
            br#"{"model": "claude-opus-4-8", "messages": []}"#,
            &ctx(&config),
            None,
        )
        .unwrap();
        assert_eq!(
            counted.path,
            "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens"
        );
        let sent: Value = serde_json::from_slice(&counted.body).unwrap();
        let inner = base64::engine::general_purpose::STANDARD
            .decode(sent["input"]["invokeModel"]["body"].as_str().unwrap())
            .unwrap();
        let inner: Value = serde_json::from_slice(&inner).unwrap();
        assert_eq!(
            (
                inner["max_tokens"].clone(),
                inner["anthropic_version"].clone()
            ),
            (json!(1), json!("bedrock-2023-05-31"))
        );

        let old = count_tokens(
            br#"{"model": "anthropic.claude-3-haiku-20240307-v1:0", "messages": []}"#,
            &ctx(&config),
            None,
        );
        assert_eq!(old.err().map(|e| e.status), Some(501));
        let other = translate(
            br#"{"model": "amazon.nova-lite-v1:0", "messages": []}"#,
            &ctx(&config),
            None,
        );
        assert_eq!(other.err().map(|e| e.status), Some(400));
    }

    fn header<'a>(t: &'a Translated, name: &str) -> Option<&'a str> {
        t.upstream_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn claude_gets_the_keys_guardrail_as_invoke_headers_and_the_stream_mode_in_the_body() {
        let config = open_config(
            r#"{"guardrail": {"identifier": "g1", "version": "2", "trace": "enabled_full",
                "stream_processing_mode": "async"}}"#,
        );
        let body = br#"{"model": "anthropic.claude-3-haiku-20240307-v1:0", "max_tokens": 9,
                        "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#;
        let t = translate(body, &ctx(&config), None).unwrap();
        assert_eq!(header(&t, guardrail::IDENTIFIER_HEADER), Some("g1"));
        assert_eq!(header(&t, guardrail::VERSION_HEADER), Some("2"));
        assert_eq!(header(&t, guardrail::TRACE_HEADER), Some("ENABLED_FULL"));
        let sent: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(
            sent[guardrail::INVOKE_BODY_CONFIG],
            json!({"streamProcessingMode": "ASYNCHRONOUS"})
        );
        // Not streaming: the headers only (the stream mode means nothing to InvokeModel).
        let plain = br#"{"model": "anthropic.claude-3-haiku-20240307-v1:0", "max_tokens": 9,
                         "messages": [{"role": "user", "content": "hi"}]}"#;
        let t = translate(plain, &ctx(&config), None).unwrap();
        assert_eq!(header(&t, guardrail::IDENTIFIER_HEADER), Some("g1"));
        let sent: Value = serde_json::from_slice(&t.body).unwrap();
        assert!(sent.get(guardrail::INVOKE_BODY_CONFIG).is_none());
        // No guardrail configured: nothing added.
        let t = translate(plain, &ctx(&open_config("{}")), None).unwrap();
        assert!(t.upstream_headers.is_empty());
    }

    #[test]
    fn a_clients_own_guardrail_for_claude_needs_the_keys_permission() {
        let body = br#"{"model": "anthropic.claude-3-haiku-20240307-v1:0", "max_tokens": 9,
                        "messages": [{"role": "user", "content": "hi"}],
                        "guardrailConfig": {"guardrailIdentifier": "g7", "guardrailVersion": "1"}}"#;
        let closed = open_config(r#"{"guardrail": {"identifier": "g1", "version": "1"}}"#);
        let err = translate(body, &ctx(&closed), None).err().unwrap();
        assert_eq!(
            (err.status, err.param.as_deref()),
            (403, Some("guardrailConfig"))
        );
        let tagged = br#"{"model": "anthropic.claude-3-haiku-20240307-v1:0", "max_tokens": 9,
                          "messages": [{"role": "user", "content": "hi"}],
                          "amazon-bedrock-guardrailConfig": {"tagSuffix": "x1"}}"#;
        let err = translate(tagged, &ctx(&closed), None).err().unwrap();
        assert_eq!(
            (err.status, err.param.as_deref()),
            (403, Some(guardrail::INVOKE_BODY_CONFIG))
        );

        let open = open_config(r#"{"guardrail": {"allow_request_guardrail": true}}"#);
        let t = translate(body, &ctx(&open), None).unwrap();
        assert_eq!(header(&t, guardrail::IDENTIFIER_HEADER), Some("g7"));
        let sent: Value = serde_json::from_slice(&t.body).unwrap();
        assert!(sent.get("guardrailConfig").is_none(), "{sent}");
        let t = translate(tagged, &ctx(&open), None).unwrap();
        let sent: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(
            sent[guardrail::INVOKE_BODY_CONFIG],
            json!({"tagSuffix": "x1"})
        );
    }
}
