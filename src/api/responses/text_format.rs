//! Responses `text.format` → the structured-output format chat's `response_format` maps to.
//! The Responses API flattens the schema into the format object
//! (`{type: "json_schema", name, schema, strict, description}`); `text.verbosity` has no
//! Bedrock counterpart and is ignored.

use crate::converse::structured_output::{self, ResponseFormat};
use crate::error::ApiError;
use serde_json::Value;

pub fn parse(text: Option<&Value>) -> Result<ResponseFormat, ApiError> {
    let Some(text) = text.filter(|t| !t.is_null()) else {
        return Ok(ResponseFormat::Text);
    };
    if !text.is_object() {
        return Err(ApiError::invalid_param("text", "'text' must be an object."));
    }
    let Some(format) = text.get("format").filter(|f| !f.is_null()) else {
        return Ok(ResponseFormat::Text);
    };
    if !format.is_object() {
        return Err(ApiError::invalid_param(
            "text.format",
            "'text.format' must be an object with a 'type'.",
        ));
    }
    match format.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" => Ok(ResponseFormat::Text),
        "json_object" => Ok(ResponseFormat::JsonObject),
        "json_schema" => {
            // Unlike chat, the Responses API has no default schema: OpenAI requires one.
            if !format.get("schema").is_some_and(Value::is_object) {
                return Err(ApiError::invalid_param(
                    "text.format.schema",
                    "text.format of type 'json_schema' needs a 'schema' object.",
                ));
            }
            if format
                .get("strict")
                .is_some_and(|s| !s.is_boolean() && !s.is_null())
            {
                return Err(ApiError::invalid_param(
                    "text.format.strict",
                    "text.format.strict must be a boolean.",
                ));
            }
            structured_output::json_schema(format, "text.format")
        }
        other => Err(ApiError::invalid_param(
            "text.format.type",
            format!("Unknown text.format type '{other}' (text, json_object, json_schema)."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn flattened_json_schema_is_read_and_verbosity_ignored() {
        let text = json!({"verbosity": "low", "format": {
            "type": "json_schema", "name": "person", "strict": true, "description": "A person",
            "schema": {"type": "object", "properties": {"age": {"type": "integer"}}}}});
        assert_eq!(
            parse(Some(&text)).unwrap(),
            ResponseFormat::JsonSchema {
                name: "person".into(),
                description: Some("A person".into()),
                schema: json!({"type": "object", "properties": {"age": {"type": "integer"}}}),
            }
        );
        for plain in [
            None,
            Some(json!(null)),
            Some(json!({"verbosity": "high"})),
            Some(json!({"format": {"type": "text"}})),
        ] {
            assert_eq!(parse(plain.as_ref()).unwrap(), ResponseFormat::Text);
        }
        assert_eq!(
            parse(Some(&json!({"format": {"type": "json_object"}}))).unwrap(),
            ResponseFormat::JsonObject
        );
    }

    #[test]
    fn bad_formats_are_400s_naming_the_field() {
        let schema = json!({"type": "object"});
        let cases = [
            (json!("json"), "text"),
            (json!({"format": "json_object"}), "text.format"),
            (json!({"format": {"type": "yaml"}}), "text.format.type"),
            (json!({"format": {}}), "text.format.type"),
            (
                json!({"format": {"type": "json_schema", "name": "x"}}),
                "text.format.schema",
            ),
            (
                json!({"format": {"type": "json_schema", "name": "x", "schema": "{}"}}),
                "text.format.schema",
            ),
            (
                json!({"format": {"type": "json_schema", "name": "a b", "schema": schema}}),
                "text.format.name",
            ),
            (
                json!({"format": {"type": "json_schema", "schema": schema}}),
                "text.format.name",
            ),
            (
                json!({"format": {"type": "json_schema", "name": "x", "schema": schema, "strict": "yes"}}),
                "text.format.strict",
            ),
        ];
        for (text, param) in cases {
            let err = parse(Some(&text)).unwrap_err();
            assert_eq!(err.status, 400, "{text}");
            assert_eq!(err.param.as_deref(), Some(param), "{text}");
        }
    }
}
