//! Bedrock's JSON answers → Anthropic's: an InvokeModel answer for Claude already is an
//! Anthropic Message (only `model` becomes the name the client asked for); CountTokens'
//! `{"inputTokens"}` becomes `{"input_tokens"}`.

use crate::api::JsonTranslator;
use crate::error::ApiError;
use serde_json::{json, Value};

pub struct MessageAnswer {
    pub model: String,
}

impl JsonTranslator for MessageAnswer {
    fn translate(&self, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let mut message: Value = serde_json::from_slice(body)
            .map_err(|_| ApiError::bad_gateway("Bedrock: the answer is not JSON"))?;
        if let Some(obj) = message.as_object_mut() {
            obj.insert("model".into(), Value::String(self.model.clone()));
        }
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
}
