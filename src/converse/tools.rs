//! Tools: Converse tool specs from a name, description and JSON Schema, tool-choice keywords,
//! and the tool configuration once a structured-output answer tool may join the client's.

use crate::bedrock::converse::{ConverseRequest, InputSchema, Tool, ToolConfig, ToolSpec};
use crate::capabilities;
use crate::error::ApiError;
use serde_json::{json, Map, Value};

/// Whether a request the client streams goes to ConverseStream. A model that refuses tools
/// while streaming gets Converse instead, and the client's stream is made from the whole
/// answer (`stream::sources::ConverseSource::WholeAnswer`): later, but the same events.
pub fn converse_stream_serves(
    client_streams: bool,
    request: &ConverseRequest,
    model: &str,
) -> bool {
    client_streams && (request.tool_config.is_none() || capabilities::streams_tool_use(model))
}

/// Bedrock's limit on tools per request.
pub const MAX_TOOLS: usize = 512;

/// Anthropic's `tool_choice` (sent in additionalModelRequestFields, which Bedrock merges into
/// the Claude request) mirroring the Converse choice, with parallel tool use switched off.
pub fn anthropic_tool_choice(converse_choice: Option<&Value>) -> Value {
    let converse_choice = converse_choice.unwrap_or(&Value::Null);
    if let Some(name) = converse_choice
        .get("tool")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
    {
        return json!({"type": "tool", "name": name, "disable_parallel_tool_use": true});
    }
    let kind = if converse_choice.get("any").is_some() {
        "any"
    } else {
        "auto"
    };
    json!({"type": kind, "disable_parallel_tool_use": true})
}

pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A Converse tool spec from a function's name, description and JSON Schema; errors name
/// `param`. An empty description falls back to the name (Bedrock rejects empty ones).
pub fn function_spec(
    name: &str,
    description: Option<&str>,
    parameters: Option<&Value>,
    param: &str,
) -> Result<ToolSpec, ApiError> {
    if !valid_tool_name(name) {
        return Err(ApiError::invalid_param(
            param,
            format!("{param}: tool name must match ^[a-zA-Z0-9_-]{{1,64}}$."),
        ));
    }
    let schema = match parameters {
        Some(Value::Object(o)) => Value::Object(o.clone()),
        None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
        Some(_) => {
            return Err(ApiError::invalid_param(
                param,
                format!("{param}: 'parameters' must be a JSON Schema object."),
            ))
        }
    };
    let description = description.map(str::trim).filter(|d| !d.is_empty());
    Ok(ToolSpec {
        name: name.to_string(),
        description: description.unwrap_or(name).to_string(),
        input_schema: InputSchema { json: schema },
    })
}

/// Converse `toolChoice` for the string forms both OpenAI APIs share; `None` is Bedrock's
/// default (auto), which `none` also maps to because no tools are offered then.
pub fn tool_choice_keyword(choice: &str) -> Result<Option<Value>, ApiError> {
    match choice {
        "auto" | "none" => Ok(None),
        "required" => Ok(Some(json!({"any": {}}))),
        other => Err(ApiError::invalid_param(
            "tool_choice",
            format!("Unknown tool_choice '{other}' (auto, none, required)."),
        )),
    }
}

/// The Converse tool configuration from the client's tools (`None`: none offered), the tool
/// choice it asked for, and a structured-output answer tool. With client tools the model must
/// call one of them or answer through ours; a forced choice goes only to models that take one;
/// `parallel_tool_calls: false` becomes Anthropic's `disable_parallel_tool_use` on Claude.
pub fn tool_config(
    client_tools: Option<Vec<Tool>>,
    mut choice: Option<Value>,
    answer_tool: Option<ToolSpec>,
    model_id: &str,
    parallel_tool_calls: Option<bool>,
    extra: &mut Map<String, Value>,
) -> Option<ToolConfig> {
    let has_client_tools = client_tools.as_ref().is_some_and(|t| !t.is_empty());
    if !has_client_tools && answer_tool.is_none() {
        // No tools: a tool choice would make Bedrock 400, and tool history is rendered as text.
        return None;
    }
    let mut tools = client_tools.unwrap_or_default();
    if let Some(spec) = answer_tool {
        choice = match (has_client_tools, choice) {
            (true, Some(c)) => Some(c),
            (true, None) => Some(json!({"any": {}})),
            (false, _) => Some(json!({"tool": {"name": spec.name}})),
        };
        tools.push(Tool::ToolSpec(spec));
    }
    if !capabilities::supports_forced_tool_choice(model_id) {
        choice = None;
    }
    if parallel_tool_calls == Some(false) && capabilities::supports_parallel_tool_control(model_id)
    {
        extra
            .entry("tool_choice")
            .or_insert_with(|| anthropic_tool_choice(choice.as_ref()));
    }
    Some(ToolConfig {
        tools,
        tool_choice: choice,
    })
}
