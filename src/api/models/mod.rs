//! `/v1/models`: the list a client's key may use (aliases included) and one model by id, in
//! OpenAI's shape. The list itself comes from `upstream::jobs::models`.

use crate::config::Config;
use crate::error::ApiError;
use crate::local_reply::LocalReply;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ModelEntry {
    pub id: String,
    pub owned_by: String,
}

impl ModelEntry {
    pub fn new(id: &str) -> Self {
        ModelEntry {
            id: id.to_string(),
            owned_by: owner(id).to_string(),
        }
    }
}

/// What the client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelsRequest {
    List,
    Get(String),
}

pub fn owner(model_id: &str) -> &str {
    let base = crate::capabilities::base_model_id(model_id);
    base.split('.')
        .next()
        .filter(|p| !p.is_empty() && *p != base)
        .unwrap_or("bedrock")
}

/// Aliases join the list, owned by whoever owns the model they stand for; models the
/// client's key may not use are left out.
fn with_aliases(config: &Config, list: &[ModelEntry], key: Option<&str>) -> Vec<ModelEntry> {
    let mut all = list.to_vec();
    for (alias, target) in &config.model_aliases {
        all.push(ModelEntry {
            id: alias.clone(),
            owned_by: owner(target).to_string(),
        });
    }
    all.retain(|m| config.model_allowed(key, config.resolve_model(&m.id)));
    all.sort();
    all.dedup_by(|a, b| a.id == b.id);
    all
}

fn model_object(entry: &ModelEntry) -> Value {
    json!({"id": entry.id, "object": "model", "created": 0, "owned_by": entry.owned_by})
}

/// The client's answer from a known list.
pub fn answer(
    config: &Config,
    request: &ModelsRequest,
    list: &[ModelEntry],
    key: Option<&str>,
) -> LocalReply {
    let all = with_aliases(config, list, key);
    match request {
        ModelsRequest::List => {
            let data: Vec<Value> = all.iter().map(model_object).collect();
            LocalReply::json(
                200,
                json!({"object": "list", "data": data})
                    .to_string()
                    .into_bytes(),
            )
        }
        ModelsRequest::Get(id) => match all.iter().find(|m| &m.id == id) {
            Some(entry) => LocalReply::json(200, model_object(entry).to_string().into_bytes()),
            None => LocalReply::error(
                &ApiError::not_found(format!("The model '{id}' does not exist."))
                    .with_param("model")
                    .with_code("model_not_found"),
            ),
        },
    }
}

/// An OpenAI-shaped model list or model (what `answer` gives) in Anthropic's shape, for
/// clients that send `anthropic-version` (Claude Code's gateway model discovery).
pub fn in_anthropic_shape(openai: &[u8]) -> Vec<u8> {
    let value: Value = serde_json::from_slice(openai).unwrap_or(Value::Null);
    let model = |m: &Value| {
        let id = m.get("id").and_then(Value::as_str).unwrap_or("");
        json!({"type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z"})
    };
    let shaped = match value.get("data").and_then(Value::as_array) {
        Some(list) => {
            let data: Vec<Value> = list.iter().map(model).collect();
            let first = data.first().map(|m| m["id"].clone()).unwrap_or(Value::Null);
            let last = data.last().map(|m| m["id"].clone()).unwrap_or(Value::Null);
            json!({"data": data, "has_more": false, "first_id": first, "last_id": last})
        }
        None => model(&value),
    };
    shaped.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn lists_take_anthropics_shape() {
        let openai = json!({"object": "list", "data": [
            {"id": "claude", "object": "model", "created": 0, "owned_by": "anthropic"},
            {"id": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "object": "model", "created": 0, "owned_by": "anthropic"}]});
        let shaped: Value =
            serde_json::from_slice(&in_anthropic_shape(openai.to_string().as_bytes())).unwrap();
        assert_eq!(
            shaped["data"][0],
            json!({"type": "model", "id": "claude", "display_name": "claude",
                                             "created_at": "1970-01-01T00:00:00Z"})
        );
        assert_eq!(
            (shaped["has_more"].clone(), shaped["first_id"].clone()),
            (json!(false), json!("claude"))
        );
        let one: Value =
            serde_json::from_slice(&in_anthropic_shape(br#"{"id":"m","object":"model"}"#)).unwrap();
        assert_eq!(one["type"], "model");
    }
}
