//! Bedrock's JSON answers → Anthropic's: an InvokeModel answer for Claude already is an
//! Anthropic Message (`model` becomes the name the client asked for; a guardrail's verdict
//! and trace take the fields every Messages answer uses); CountTokens'
//! `{"inputTokens"}` becomes `{"input_tokens"}`.

use crate::api::JsonTranslator;
use crate::error::ApiError;
use crate::policy::guardrail;
use serde_json::{json, Value};

/// Bedrock's guardrail verdict on an InvokeModel answer (a Message or a `message_delta`
/// event), as every Messages answer gives it: the guardrail's message stays the content with
/// stop reason `end_turn`, an intervention is marked (`guardrail::mark_intervened`), and the
/// trace is kept only where Bedrock sent one (it does when the request asked). `stop_reason`
/// is where the object carries it.
pub fn settle_guardrail_verdict(
    answer: &mut Value,
    intervened: bool,
    trace: Option<&Value>,
    stop_reason: &[&str],
) {
    let mut slot = Some(&mut *answer);
    for name in stop_reason {
        slot = slot.and_then(|v| v.get_mut(*name));
    }
    let reported = slot.is_some_and(|reason| {
        let reported = *reason == "guardrail_intervened";
        if reported {
            *reason = Value::String("end_turn".into());
        }
        reported
    });
    if intervened || reported {
        guardrail::mark_intervened(answer);
    }
    guardrail::attach_trace(answer, trace);
}

pub struct MessageAnswer {
    pub model: String,
    /// The id for an answer Bedrock sent without one (a guardrail blocking the input answers
    /// with only `type`, `role` and `content`).
    pub fallback_id: String,
}

impl JsonTranslator for MessageAnswer {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let mut message: Value = serde_json::from_slice(body)
            .map_err(|_| ApiError::bad_gateway("Bedrock: the answer is not JSON"))?;
        let (intervened, trace) = guardrail::take_invoke_verdict(&mut message);
        if let Some(obj) = message.as_object_mut() {
            obj.insert("model".into(), Value::String(self.model.clone()));
            // A Message as Anthropic's SDKs and Claude Code read it, whatever Bedrock left out.
            let defaults = [
                ("id", json!(self.fallback_id)),
                ("type", json!("message")),
                ("role", json!("assistant")),
                ("stop_reason", json!("end_turn")),
                ("stop_sequence", Value::Null),
                ("usage", json!({"input_tokens": 0, "output_tokens": 0})),
            ];
            for (name, value) in defaults {
                obj.entry(name).or_insert(value);
            }
        }
        settle_guardrail_verdict(&mut message, intervened, trace.as_ref(), &["stop_reason"]);
        Ok(message.to_string().into_bytes())
    }
}

pub struct CountTokensAnswer;

impl JsonTranslator for CountTokensAnswer {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let answer: Value = serde_json::from_slice(body)
            .map_err(|_| ApiError::bad_gateway("Bedrock: the answer is not JSON"))?;
        let tokens = answer
            .get("inputTokens")
            .and_then(Value::as_u64)
            .ok_or_else(|| ApiError::bad_gateway("Bedrock: CountTokens gave no inputTokens"))?;
        Ok(json!({ "input_tokens": tokens }).to_string().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn answers_keep_bedrocks_message_with_the_clients_model_name() {
        let bedrock = json!({"id": "msg_bdrk_1", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "content": [{"type": "thinking", "thinking": "t",
            "signature": "sig"}, {"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
            "stop_sequence": null, "usage": {"input_tokens": 3, "output_tokens": 1}});
        let out = MessageAnswer {
            model: "claude-opus-4-8".into(),
            fallback_id: "msg_1".into(),
        }
        .translate(bedrock.to_string().as_bytes())
        .unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["model"], "claude-opus-4-8");
        assert_eq!(out["content"], bedrock["content"]);
        let counted = CountTokensAnswer
            .translate(br#"{"inputTokens": 42}"#)
            .unwrap();
        assert_eq!(counted, br#"{"input_tokens":42}"#.to_vec());
    }

    #[test]
    fn a_guardrail_intervention_is_marked_with_the_guardrails_message_as_the_answer() {
        let translate = |bedrock: Value| -> Value {
            let answer = MessageAnswer {
                model: "c".into(),
                fallback_id: "msg_r1".into(),
            };
            let out = answer.translate(bedrock.to_string().as_bytes()).unwrap();
            serde_json::from_slice(&out).unwrap()
        };
        // A blocked input, as Bedrock's invocation logs show it: no id, stop_reason or usage.
        let trace = json!({"guardrail": {"input": {"g1": {"wordPolicy": {}}},
            "actionReason": "Guardrail blocked."}});
        let blocked = json!({"type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "Sorry, the model cannot answer this question."}],
            guardrail::INVOKE_ACTION_FIELD: "INTERVENED", guardrail::INVOKE_TRACE_FIELD: trace});
        let out = translate(blocked.clone());
        assert_eq!(out["stop_reason"], "end_turn");
        assert_eq!(out[guardrail::INVOKE_ACTION_FIELD], "INTERVENED");
        assert_eq!(
            (out["id"].as_str(), out["model"].as_str()),
            (Some("msg_r1"), Some("c"))
        );
        assert_eq!(out["usage"], json!({"input_tokens": 0, "output_tokens": 0}));
        assert_eq!(out["stop_sequence"], Value::Null);
        assert_eq!(out["content"], blocked["content"]);
        assert_eq!(out[guardrail::TRACE_FIELD], trace["guardrail"]);
        assert!(out.get(guardrail::INVOKE_TRACE_FIELD).is_none());

        // A blocked output keeps the model's envelope and stop reason end_turn.
        let output = json!({"id": "msg_bdrk_9", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "Blocked."}], "stop_reason": "end_turn",
            "stop_sequence": null, "usage": {"input_tokens": 7, "output_tokens": 3},
            guardrail::INVOKE_ACTION_FIELD: "INTERVENED"});
        let out = translate(output);
        assert_eq!(out["id"], "msg_bdrk_9");
        assert_eq!(out[guardrail::INVOKE_ACTION_FIELD], "INTERVENED");
        assert_eq!(out["usage"]["output_tokens"], 3);

        let passed = json!({"id": "msg_bdrk_8", "type": "message",
            "content": [{"type": "text", "text": "Hi"}], "stop_reason": "max_tokens",
            guardrail::INVOKE_ACTION_FIELD: "NONE"});
        let out = translate(passed);
        assert_eq!(out["stop_reason"], "max_tokens");
        assert!(out.get(guardrail::INVOKE_ACTION_FIELD).is_none());
        assert!(out.get(guardrail::TRACE_FIELD).is_none());
    }
}
