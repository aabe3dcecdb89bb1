//! The key's guardrail on Bedrock's own API. Where the key has one, every InvokeModel and
//! Converse call carries it as Bedrock takes it there (InvokeModel: headers, plus the stream
//! mode in the body; Converse: `guardrailConfig`), and the client's own guardrail choices —
//! which could also narrow what the guardrail reads (`tagSuffix`, `guardContent` blocks) —
//! need the key's `allow_request_guardrail`. Where the key has none, the request goes as sent,
//! its own guardrail included, as on Bedrock.

use crate::capabilities::base_model_id;
use crate::error::ApiError;
use crate::policy::guardrail::{self, Applied, GuardrailPolicy};
use crate::router::RuntimeAction;
use serde_json::{Map, Value};

/// The request as it goes on: its body and the guardrail headers to set.
#[derive(Debug, PartialEq)]
pub struct Guarded {
    pub body: Vec<u8>,
    pub set_headers: Vec<(String, String)>,
}

/// A client's guardrail header as InvokeModel names it, and the `guardrailConfig` field it
/// stands for.
const HEADER_FIELDS: [(&str, &str); 3] = [
    (guardrail::IDENTIFIER_HEADER, "guardrailIdentifier"),
    (guardrail::VERSION_HEADER, "guardrailVersion"),
    (guardrail::TRACE_HEADER, "trace"),
];

/// Whether a request header is one of InvokeModel's guardrail headers.
pub fn is_guardrail_header(name: &str) -> bool {
    HEADER_FIELDS
        .iter()
        .any(|(header, _)| name.eq_ignore_ascii_case(header))
}

/// Embedding models make no text for a guardrail to screen (and the translated embeddings
/// API sends none either).
fn makes_text(model_id: &str) -> bool {
    !base_model_id(model_id).contains("embed")
}

/// Puts the key's guardrail on a Bedrock-native request to `model_id`. `client_headers` are
/// the client's InvokeModel guardrail headers (name, value).
pub fn guard(
    policy: &GuardrailPolicy,
    key_name: Option<&str>,
    model_id: &str,
    action: RuntimeAction,
    client_headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<Guarded, ApiError> {
    let unchanged = |body| Guarded {
        body,
        set_headers: Vec::new(),
    };
    if policy.for_key(key_name).identifier.is_none() || !makes_text(model_id) {
        return Ok(unchanged(body));
    }
    let allowed = guardrail::may_choose(policy, key_name);
    match action {
        RuntimeAction::CountTokens => Ok(unchanged(body)),
        RuntimeAction::Invoke | RuntimeAction::InvokeStream => {
            let requested = requested_by_headers(client_headers, allowed)?;
            let applied = settled(policy, key_name, requested.as_ref())?;
            let body = invoke_body(body, &applied, action.streams(), allowed)?;
            Ok(Guarded {
                body,
                set_headers: applied.invoke_headers(),
            })
        }
        RuntimeAction::Converse | RuntimeAction::ConverseStream => {
            let mut object = json_object(&body)?;
            if !allowed && has_guard_content(&object) {
                return Err(guardrail::forbidden("guardContent"));
            }
            let requested = object.remove(guardrail::REQUEST_FIELD);
            let applied = settled(policy, key_name, requested.as_ref())?;
            let config = applied.converse(action.streams());
            object.insert(guardrail::REQUEST_FIELD.into(), config);
            Ok(Guarded {
                body: encode(&object)?,
                set_headers: Vec::new(),
            })
        }
    }
}

/// The guardrail the key's setting and the client's choice come to (the key has one).
fn settled(
    policy: &GuardrailPolicy,
    key_name: Option<&str>,
    requested: Option<&Value>,
) -> Result<Applied, ApiError> {
    guardrail::settle(policy, key_name, requested)?
        .ok_or_else(|| ApiError::internal("the key's guardrail has no identifier"))
}

/// The client's guardrail headers as a `guardrailConfig` object (the trace in Converse's lower
/// case), or `None` when it sent none.
fn requested_by_headers(
    client_headers: &[(String, String)],
    allowed: bool,
) -> Result<Option<Value>, ApiError> {
    let mut requested = Map::new();
    for (name, value) in client_headers {
        let Some((header, field)) = HEADER_FIELDS
            .iter()
            .find(|(header, _)| name.eq_ignore_ascii_case(header))
        else {
            continue;
        };
        if !allowed {
            return Err(guardrail::forbidden(header));
        }
        let value = if *field == "trace" {
            value.to_ascii_lowercase()
        } else {
            value.clone()
        };
        requested.insert((*field).into(), Value::String(value));
    }
    Ok((!requested.is_empty()).then_some(Value::Object(requested)))
}

/// InvokeModel's body: the client's `amazon-bedrock-guardrailConfig` only where allowed, and
/// the configured stream mode where the client set none. Parsed only when it may carry the
/// field or must get it: most bodies go on untouched.
fn invoke_body(
    body: Vec<u8>,
    applied: &Applied,
    stream: bool,
    allowed: bool,
) -> Result<Vec<u8>, ApiError> {
    let field = guardrail::INVOKE_BODY_CONFIG;
    let stream_config = applied.invoke_stream_body_config().filter(|_| stream);
    let mentions_field = body.windows(field.len()).any(|w| w == field.as_bytes());
    if !mentions_field && stream_config.is_none() {
        return Ok(body);
    }
    let mut object = json_object(&body)?;
    if object.contains_key(field) && !allowed {
        return Err(guardrail::forbidden(field));
    }
    let Some(Value::Object(stream_config)) = stream_config else {
        return Ok(body);
    };
    let config = object
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(config) = config.as_object_mut() {
        for (name, value) in stream_config {
            config.entry(name).or_insert(value);
        }
    }
    encode(&object)
}

/// Converse content that limits what the guardrail reads (user guide, "Use a guardrail with
/// the Converse API": only `guardContent` blocks are evaluated when a request has any).
fn has_guard_content(body: &Map<String, Value>) -> bool {
    let has = |blocks: Option<&Value>| {
        blocks
            .and_then(Value::as_array)
            .is_some_and(|blocks| blocks.iter().any(|b| b.get("guardContent").is_some()))
    };
    has(body.get("system"))
        || body
            .get("messages")
            .and_then(Value::as_array)
            .is_some_and(|messages| messages.iter().any(|m| has(m.get("content"))))
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::bad_request(
            "The request body must be a JSON object to carry the gateway's guardrail.",
        )),
    }
}

fn encode(object: &Map<String, Value>) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(object)
        .map_err(|e| ApiError::internal(format!("could not encode the request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn policy(json: Value, keys: &[&str]) -> GuardrailPolicy {
        GuardrailPolicy::load(Some(serde_json::from_value(json).unwrap()), keys).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";

    /// A Claude InvokeModel call from the key named `key` with these guardrail headers.
    fn invoke(
        p: &GuardrailPolicy,
        key: &str,
        own: &[(String, String)],
    ) -> Result<Guarded, ApiError> {
        guard(
            p,
            Some(key),
            HAIKU,
            RuntimeAction::Invoke,
            own,
            CLAUDE.to_vec(),
        )
    }
    const CLAUDE: &[u8] =
        br#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[]}"#;

    #[test]
    fn a_key_without_a_guardrail_sends_the_request_as_it_came() {
        let p = policy(
            json!({"keys": {"lab": {"identifier": "g1", "version": "1"}}}),
            &["lab", "dev"],
        );
        let own = headers(&[("X-Amzn-Bedrock-GuardrailIdentifier", "g9")]);
        let got = invoke(&p, "dev", &own).unwrap();
        assert_eq!(
            got,
            Guarded {
                body: CLAUDE.to_vec(),
                set_headers: vec![]
            }
        );
    }

    #[test]
    fn invoke_calls_get_the_keys_guardrail_headers_and_stream_mode() {
        let p = policy(
            json!({"identifier": "g1", "version": "1", "trace": "enabled",
                   "stream_processing_mode": "async"}),
            &[],
        );
        let got = guard(&p, None, HAIKU, RuntimeAction::Invoke, &[], CLAUDE.to_vec()).unwrap();
        assert_eq!(got.body, CLAUDE, "a plain invoke body goes as sent");
        assert_eq!(
            got.set_headers,
            headers(&[
                (guardrail::IDENTIFIER_HEADER, "g1"),
                (guardrail::VERSION_HEADER, "1"),
                (guardrail::TRACE_HEADER, "ENABLED"),
            ])
        );
        let got = guard(
            &p,
            None,
            HAIKU,
            RuntimeAction::InvokeStream,
            &[],
            CLAUDE.to_vec(),
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(
            body[guardrail::INVOKE_BODY_CONFIG],
            json!({"streamProcessingMode": "ASYNCHRONOUS"})
        );
        assert_eq!(body["max_tokens"], 5);
    }

    #[test]
    fn a_clients_own_guardrail_choice_needs_the_keys_permission() {
        let p = policy(
            json!({"identifier": "g1", "version": "1",
                   "keys": {"lab": {"identifier": "g1", "version": "1", "allow_request_guardrail": true}}}),
            &["lab", "prod"],
        );
        let own = headers(&[
            ("X-Amzn-Bedrock-GuardrailIdentifier", "g9"),
            ("X-Amzn-Bedrock-GuardrailVersion", "2"),
            ("X-Amzn-Bedrock-Trace", "ENABLED_FULL"),
        ]);
        let err = invoke(&p, "prod", &own).unwrap_err();
        assert_eq!(
            (err.status, err.code.as_deref()),
            (403, Some("guardrail_not_allowed"))
        );
        let got = invoke(&p, "lab", &own).unwrap();
        assert_eq!(
            got.set_headers,
            headers(&[
                (guardrail::IDENTIFIER_HEADER, "g9"),
                (guardrail::VERSION_HEADER, "2"),
                (guardrail::TRACE_HEADER, "ENABLED_FULL"),
            ])
        );

        let tagged = br#"{"messages":[],"amazon-bedrock-guardrailConfig":{"tagSuffix":"t1"}}"#;
        let err = guard(
            &p,
            Some("prod"),
            HAIKU,
            RuntimeAction::InvokeStream,
            &[],
            tagged.to_vec(),
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some(guardrail::INVOKE_BODY_CONFIG));
        let got = guard(
            &p,
            Some("lab"),
            HAIKU,
            RuntimeAction::Invoke,
            &[],
            tagged.to_vec(),
        )
        .unwrap();
        assert_eq!(got.body, tagged);

        let guarded_part = json!({"messages": [{"role": "user", "content": [
            {"text": "all of this"}, {"guardContent": {"text": {"text": "only this"}}}]}]});
        let body = guarded_part.to_string().into_bytes();
        let err = guard(
            &p,
            Some("prod"),
            HAIKU,
            RuntimeAction::Converse,
            &[],
            body.clone(),
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("guardContent"));
        assert!(guard(&p, Some("lab"), HAIKU, RuntimeAction::Converse, &[], body).is_ok());
    }

    #[test]
    fn converse_calls_carry_the_keys_guardrail_config() {
        let p = policy(
            json!({"identifier": "g1", "version": "1", "stream_processing_mode": "async"}),
            &[],
        );
        let body = br#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#.to_vec();
        let got = guard(
            &p,
            None,
            HAIKU,
            RuntimeAction::ConverseStream,
            &[],
            body.clone(),
        )
        .unwrap();
        let sent: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(
            sent[guardrail::REQUEST_FIELD],
            json!({"guardrailIdentifier": "g1", "guardrailVersion": "1", "streamProcessingMode": "async"})
        );
        assert!(got.set_headers.is_empty());
        let got = guard(&p, None, HAIKU, RuntimeAction::Converse, &[], body.clone()).unwrap();
        let sent: Value = serde_json::from_slice(&got.body).unwrap();
        assert!(sent[guardrail::REQUEST_FIELD]
            .get("streamProcessingMode")
            .is_none());
        let own = br#"{"messages":[],"guardrailConfig":{"guardrailIdentifier":"g2","guardrailVersion":"1"}}"#;
        let err = guard(&p, None, HAIKU, RuntimeAction::Converse, &[], own.to_vec()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some(guardrail::REQUEST_FIELD));
        let count = guard(
            &p,
            None,
            HAIKU,
            RuntimeAction::CountTokens,
            &[],
            body.clone(),
        )
        .unwrap();
        assert_eq!(count.body, body);
    }
}
