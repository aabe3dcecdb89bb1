//! OpenAI `response_format` → the best Bedrock equivalent for the model:
//! 1. native structured output (`outputConfig.textFormat`) on models that have it;
//! 2. otherwise a forced "answer" tool whose input schema is the requested schema, and whose
//!    input the reply translators return as the message content;
//! 3. models without forced tool use get an instruction in the system prompt.

use crate::bedrock::converse::{InputSchema, ToolSpec};
use crate::capabilities;
use crate::converse::conversation::Conversation;
use crate::error::ApiError;
use serde_json::{json, Value};

/// Name of the answer tool (a suffix is added if a client tool already has it).
pub const RESPONSE_TOOL: &str = "json_response";

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        description: Option<String>,
        schema: Value,
    },
}

/// How the requested format travels to Bedrock.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Nothing,
    /// `outputConfig` of the Converse request.
    Native(Value),
    /// Offer this tool and force it; its input is the answer.
    Tool(ToolSpec),
    /// Add this text to the system prompt.
    Instruction(String),
}

pub fn parse(value: Option<&Value>) -> Result<ResponseFormat, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(ResponseFormat::Text);
    };
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => Ok(ResponseFormat::Text),
        "json_object" => Ok(ResponseFormat::JsonObject),
        "json_schema" => {
            let spec = value.get("json_schema").ok_or_else(|| {
                ApiError::invalid_param(
                    "response_format.json_schema",
                    "response_format of type 'json_schema' needs a 'json_schema' object.",
                )
            })?;
            json_schema(spec, "response_format.json_schema")
        }
        other => Err(ApiError::invalid_param(
            "response_format.type",
            format!("Unknown response_format type '{other}' (text, json_object, json_schema)."),
        )),
    }
}

/// A `json_schema` format from the object holding its `name`, `schema` and `description`
/// (chat nests it in `response_format.json_schema`, Responses flattens it into `text.format`);
/// `param` is that object's path, for error messages. `strict` needs no carrier: Bedrock's
/// native format and the forced tool both follow the schema.
pub fn json_schema(spec: &Value, param: &str) -> Result<ResponseFormat, ApiError> {
    let name = spec
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| crate::converse::tools::valid_tool_name(n))
        .ok_or_else(|| {
            ApiError::invalid_param(
                &format!("{param}.name"),
                format!("{param}.name must match ^[a-zA-Z0-9_-]{{1,64}}$."),
            )
        })?;
    let schema = match spec.get("schema") {
        Some(Value::Object(o)) => Value::Object(o.clone()),
        None | Some(Value::Null) => json!({"type": "object"}),
        Some(_) => {
            return Err(ApiError::invalid_param(
                &format!("{param}.schema"),
                format!("{param}.schema must be a JSON Schema object."),
            ))
        }
    };
    Ok(ResponseFormat::JsonSchema {
        name: name.to_string(),
        description: spec
            .get("description")
            .and_then(Value::as_str)
            .filter(|d| !d.trim().is_empty())
            .map(str::to_string),
        schema,
    })
}

impl Plan {
    /// Puts the plan into effect: an instruction joins the system prompt; returns the native
    /// `outputConfig` or the answer tool to offer, whichever the plan chose.
    pub fn apply(self, conversation: &mut Conversation) -> (Option<Value>, Option<ToolSpec>) {
        match self {
            Plan::Nothing => (None, None),
            Plan::Native(config) => (Some(config), None),
            Plan::Instruction(text) => {
                conversation.push_system(&text);
                (None, None)
            }
            Plan::Tool(spec) => (None, Some(spec)),
        }
    }
}

/// Chooses the carrier for `format` on `model_id`; `taken` are the client's tool names.
pub fn plan(format: &ResponseFormat, model_id: &str, taken: &[&str]) -> Result<Plan, ApiError> {
    let (schema, description) = match format {
        ResponseFormat::Text => return Ok(Plan::Nothing),
        ResponseFormat::JsonObject => (json!({"type": "object"}), None),
        ResponseFormat::JsonSchema {
            name,
            description,
            schema,
        } => {
            if capabilities::supports_native_structured_output(model_id) {
                let mut definition = json!({"schema": schema.to_string(), "name": name});
                if let (Some(d), Some(obj)) = (description, definition.as_object_mut()) {
                    obj.insert("description".into(), json!(d));
                }
                return Ok(Plan::Native(json!({
                    "textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}
                })));
            }
            (schema.clone(), description.clone())
        }
    };
    if !capabilities::supports_tools(model_id)
        || !capabilities::supports_forced_tool_choice(model_id)
    {
        return Ok(Plan::Instruction(instruction(format)));
    }
    if schema.get("type").is_some_and(|t| t != "object") {
        return Err(ApiError::invalid_param(
            "response_format.json_schema.schema",
            "The schema's root must be an object ({\"type\": \"object\", ...}) on this model.",
        ));
    }
    let mut name = RESPONSE_TOOL.to_string();
    let mut n = 1u32;
    while taken.contains(&name.as_str()) {
        name = format!("{RESPONSE_TOOL}_{n}");
        n = n.saturating_add(1);
    }
    let purpose = description
        .map(|d| format!(" It must be: {d}"))
        .unwrap_or_default();
    Ok(Plan::Tool(ToolSpec {
        name,
        description: format!(
            "Give your final answer by calling this tool; its input is the answer as a JSON \
             object.{purpose}"
        ),
        input_schema: InputSchema { json: schema },
    }))
}

fn instruction(format: &ResponseFormat) -> String {
    let base = "Answer with a single JSON object only: no prose, no code fences.";
    match format {
        ResponseFormat::JsonSchema { schema, .. } => {
            format!("{base} The object must conform to this JSON Schema: {schema}")
        }
        _ => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn schema_format() -> ResponseFormat {
        parse(Some(&json!({"type": "json_schema", "json_schema": {
            "name": "person", "schema": {"type": "object", "properties": {"age": {"type": "integer"}}}
        }})))
        .unwrap()
    }

    #[test]
    fn bad_formats_are_precise_400s() {
        for bad in [
            json!({"type": "yaml"}),
            json!({"type": "json_schema"}),
            json!({"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}),
            json!({"type": "json_schema", "json_schema": {"name": "x", "schema": "str"}}),
        ] {
            assert_eq!(parse(Some(&bad)).unwrap_err().status, 400, "{bad}");
        }
        assert_eq!(parse(None).unwrap(), ResponseFormat::Text);
    }

    #[test]
    fn answer_tool_avoids_client_tool_names_and_non_object_roots_are_refused() {
        let Plan::Tool(spec) = plan(
            &ResponseFormat::JsonObject,
            "amazon.nova-pro-v1:0",
            &["json_response"],
        )
        .unwrap() else {
            panic!("expected a tool")
        };
        assert_eq!(spec.name, "json_response_1");
        let array_root = ResponseFormat::JsonSchema {
            name: "list".into(),
            description: None,
            schema: json!({"type": "array"}),
        };
        assert!(plan(&array_root, "amazon.nova-pro-v1:0", &[]).is_err());
    }

    #[test]
    fn models_without_forced_tools_get_an_instruction() {
        let Plan::Instruction(text) =
            plan(&schema_format(), "meta.llama3-1-70b-instruct-v1:0", &[]).unwrap()
        else {
            panic!("expected an instruction")
        };
        assert!(text.contains("\"age\""), "{text}");
    }
}
