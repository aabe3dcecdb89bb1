//! `/v1/models` from the configured model list and aliases.

use crate::config::Config;
use crate::error::ApiError;
use serde_json::{json, Value};

fn owner(model_id: &str) -> &str {
    let base = crate::translate::model::base_model_id(model_id);
    base.split('.')
        .next()
        .filter(|p| !p.is_empty() && *p != base)
        .unwrap_or("bedrock")
}

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 0, "owned_by": owner(id)})
}

fn known_ids(config: &Config) -> Vec<&str> {
    let mut ids: Vec<&str> = config.models.iter().map(String::as_str).collect();
    ids.extend(config.model_aliases.keys().map(String::as_str));
    ids.sort_unstable();
    ids.dedup();
    ids
}

pub fn list(config: &Config) -> Value {
    let data: Vec<Value> = known_ids(config).into_iter().map(model_object).collect();
    json!({"object": "list", "data": data})
}

pub fn get(config: &Config, id: &str) -> Result<Value, ApiError> {
    if known_ids(config).contains(&id) {
        Ok(model_object(id))
    } else {
        Err(
            ApiError::not_found(format!("The model '{id}' does not exist."))
                .with_param("model")
                .with_code("model_not_found"),
        )
    }
}
