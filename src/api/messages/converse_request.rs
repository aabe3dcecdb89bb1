//! Anthropic Messages request → Bedrock Converse, for models that are not Claude (Nova,
//! gpt-oss, Llama, Mistral, DeepSeek, ...): turns, tools, images and settings go through the
//! shared Converse building like chat's; thinking becomes the family's reasoning switch.

use crate::api::body::typed;
use crate::bedrock::converse::{
    ContentBlock, ConverseRequest, ReasoningBlock, ReasoningText, Role, Tool, ToolResultBlock,
    ToolResultContent, ToolUseBlock,
};
use crate::config::Config;
use crate::converse::assemble::{assemble, ConverseParts, Sampling};
use crate::converse::caching::CacheTargets;
use crate::converse::content::image_block;
use crate::converse::conversation::Conversation;
use crate::converse::tools::{self, function_spec, MAX_TOOLS};
use crate::error::ApiError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Debug, Deserialize)]
struct Request {
    #[serde(default)]
    system: Option<Value>,
    messages: Vec<InputMessage>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    tools: Option<Vec<ToolDef>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    thinking: Option<Value>,
    #[serde(default)]
    output_config: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct InputMessage {
    role: String,
    content: Value,
}

#[derive(Debug, Deserialize)]
struct ToolDef {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    input_schema: Option<Value>,
}

/// The Converse request for `model_id`.
pub fn to_converse(
    body: Map<String, Value>,
    model_id: &str,
    config: &Config,
) -> Result<ConverseRequest, ApiError> {
    let req: Request = typed(Value::Object(body))?;
    let mut conversation = Conversation::default();
    let mut caching = CacheTargets::default();
    match &req.system {
        Some(Value::String(text)) => conversation.push_system(text),
        Some(Value::Array(blocks)) => {
            for block in blocks {
                if let Some(text) = block.get("text").and_then(Value::as_str) {
                    conversation.push_system(text);
                }
                caching.system |= block.get("cache_control").is_some();
            }
        }
        _ => {}
    }
    for (i, message) in req.messages.iter().enumerate() {
        let role = match message.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => {
                for text in texts(&message.content) {
                    conversation.push_system(&text);
                }
                continue;
            }
            other => {
                return Err(ApiError::invalid_param(
                    &format!("messages.{i}.role"),
                    format!("messages.{i}.role: unknown role '{other}' (user or assistant)."),
                ))
            }
        };
        let (blocks, cached) = content_blocks(&message.content, i)?;
        caching.messages |= cached;
        conversation.push(role, blocks);
    }
    let tools = match &req.tools {
        Some(list) if !list.is_empty() => {
            if list.len() > MAX_TOOLS {
                return Err(ApiError::invalid_param(
                    "tools",
                    format!("At most {MAX_TOOLS} tools are supported."),
                ));
            }
            let specs = list
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    function_spec(
                        &t.name,
                        t.description.as_deref(),
                        t.input_schema.as_ref(),
                        &format!("tools.{i}"),
                    )
                    .map(Tool::ToolSpec)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(specs)
        }
        _ => None,
    };
    let (tools, choice, parallel) = tool_choice(tools, req.tool_choice.as_ref());
    let mut extra = Map::new();
    let tool_config = tools::tool_config(tools, choice, None, model_id, parallel, &mut extra);
    let effort = reasoning_effort(req.thinking.as_ref(), req.output_config.as_ref());
    // Cache points only where the client marked some (cache_control), like Anthropic's API.
    let caching = if config.prompt_caching {
        CacheTargets {
            system: true,
            messages: true,
        }
    } else {
        caching
    };
    assemble(ConverseParts {
        model_id,
        conversation,
        messages_param: "messages",
        caching,
        tool_config,
        sampling: Sampling {
            max_tokens: req.max_tokens,
            max_tokens_param: "max_tokens",
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: req.stop_sequences.unwrap_or_default(),
            reasoning_effort: effort,
            reasoning_param: Some("thinking"),
        },
        interleaved_thinking: false,
        extra,
        output_config: None,
    })
}

/// Anthropic's `tool_choice` as Converse's, and whether parallel tool use stays on.
fn tool_choice(
    tools: Option<Vec<Tool>>,
    choice: Option<&Value>,
) -> (Option<Vec<Tool>>, Option<Value>, Option<bool>) {
    let parallel = choice
        .and_then(|c| c.get("disable_parallel_tool_use"))
        .and_then(Value::as_bool)
        .map(|off| !off);
    match choice.and_then(|c| c.get("type")).and_then(Value::as_str) {
        Some("none") => (None, None, parallel),
        Some("any") => (tools, Some(json!({"any": {}})), parallel),
        Some("tool") => {
            let name = choice
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            (tools, Some(json!({"tool": {"name": name}})), parallel)
        }
        _ => (tools, None, parallel),
    }
}

/// Anthropic thinking (or `output_config.effort`) as OpenAI-style effort, which the shared
/// reasoning step turns into each family's own switch.
fn reasoning_effort<'a>(thinking: Option<&Value>, output: Option<&'a Value>) -> Option<&'a str> {
    let on = thinking
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t == "enabled" || t == "adaptive");
    if !on {
        return None;
    }
    let effort = output
        .and_then(|o| o.get("effort"))
        .and_then(Value::as_str)
        .filter(|e| matches!(*e, "low" | "medium" | "high"));
    Some(effort.unwrap_or("medium"))
}

fn texts(content: &Value) -> Vec<String> {
    match content {
        Value::String(t) => vec![t.clone()],
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str).map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// A message's content as Converse blocks, and whether the client marked a cache point in it.
fn content_blocks(content: &Value, index: usize) -> Result<(Vec<ContentBlock>, bool), ApiError> {
    let blocks = match content {
        Value::String(text) => return Ok((vec![ContentBlock::Text(text.clone())], false)),
        Value::Array(blocks) => blocks,
        _ => {
            return Err(ApiError::invalid_param(
                &format!("messages.{index}.content"),
                format!("messages.{index}.content must be a string or a list of blocks."),
            ))
        }
    };
    let mut out = Vec::new();
    let mut cached = false;
    for (j, block) in blocks.iter().enumerate() {
        cached |= block.get("cache_control").is_some();
        let param = format!("messages.{index}.content.{j}");
        let field = |name: &str| {
            block
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => out.push(ContentBlock::Text(field("text"))),
            "image" => out.push(image(block, index, &param)?),
            "tool_use" => out.push(ContentBlock::ToolUse(ToolUseBlock {
                tool_use_id: field("id"),
                name: field("name"),
                input: block.get("input").cloned().unwrap_or_else(|| json!({})),
            })),
            "tool_result" => out.push(tool_result(block, index, &param)?),
            "thinking" => out.push(ContentBlock::ReasoningContent(
                ReasoningBlock::ReasoningText(ReasoningText {
                    text: field("thinking"),
                    signature: block
                        .get("signature")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                }),
            )),
            "redacted_thinking" => out.push(ContentBlock::ReasoningContent(
                ReasoningBlock::RedactedContent(field("data")),
            )),
            other => {
                return Err(ApiError::invalid_param(
                    &param,
                    format!("{param}: '{other}' blocks are served for Claude models only."),
                ))
            }
        }
    }
    Ok((out, cached))
}

fn image(block: &Value, index: usize, param: &str) -> Result<ContentBlock, ApiError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source
                .get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("");
            let data = source.get("data").and_then(Value::as_str).unwrap_or("");
            image_block(&format!("data:{media};base64,{data}"), index)
                .map_err(|e| e.with_param(param))
        }
        _ => Err(ApiError::invalid_param(
            param,
            format!("{param}: only base64 image sources are supported."),
        )),
    }
}

fn tool_result(block: &Value, index: usize, param: &str) -> Result<ContentBlock, ApiError> {
    let id = block
        .get("tool_use_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut content = Vec::new();
    match block.get("content") {
        Some(Value::String(text)) => content.push(ToolResultContent::Text(text.clone())),
        Some(Value::Array(parts)) => {
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("image") => {
                        if let ContentBlock::Image(img) = image(part, index, param)? {
                            content.push(ToolResultContent::Image(img));
                        }
                    }
                    _ => {
                        let text = part.get("text").and_then(Value::as_str).unwrap_or("");
                        content.push(ToolResultContent::Text(text.to_string()));
                    }
                }
            }
        }
        _ => {}
    }
    if content.is_empty() {
        content.push(ToolResultContent::Text("(no output)".into()));
    }
    let failed = block.get("is_error").and_then(Value::as_bool) == Some(true);
    Ok(ContentBlock::ToolResult(ToolResultBlock {
        tool_use_id: id,
        content,
        status: failed.then(|| "error".to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::open_config;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn converse(body: Value, model: &str) -> Result<Value, ApiError> {
        let Value::Object(body) = body else { panic!() };
        let request = to_converse(body, model, &open_config("{}"))?;
        Ok(serde_json::from_slice(&request.to_body()?).unwrap())
    }

    #[test]
    fn a_tool_round_trip_with_images_and_thinking_maps_to_converse() {
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAghd5WAAAAABJRU5ErkJggg==";
        let out = converse(
            json!({"model": "m", "max_tokens": 4000, "temperature": 0.5,
                "system": [{"type": "text", "text": "Be brief."}],
                "thinking": {"type": "enabled", "budget_tokens": 2000},
                "tools": [{"name": "get_weather", "description": "", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "any"},
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}]},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather",
                        "input": {"city": "Paris"}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                        "content": "Sunny", "is_error": false}]}]}),
            "us.amazon.nova-2-lite-v1:0",
        )
        .unwrap();
        assert_eq!(out["system"], json!([{"text": "Be brief."}]));
        assert_eq!(out["messages"][0]["content"][1]["image"]["format"], "png");
        assert_eq!(
            out["messages"][1]["content"][0]["toolUse"],
            json!({"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}})
        );
        assert_eq!(
            out["messages"][2]["content"][0]["toolResult"]["content"],
            json!([{"text": "Sunny"}])
        );
        // An empty description falls back to the name; tool choice `any` is Converse's.
        assert_eq!(
            out["toolConfig"]["tools"][0]["toolSpec"]["description"],
            "get_weather"
        );
        assert_eq!(out["toolConfig"]["toolChoice"], json!({"any": {}}));
        // Thinking on Nova 2 is its reasoning switch.
        assert_eq!(
            out["additionalModelRequestFields"]["reasoningConfig"]["type"],
            "enabled"
        );
    }

    #[test]
    fn unknown_roles_and_claude_only_blocks_are_refused_naming_the_place() {
        let role = converse(
            json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
            "meta.llama3-3-70b-instruct-v1:0",
        )
        .unwrap_err();
        assert_eq!(role.param.as_deref(), Some("messages.0.role"));
        let block = converse(
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}),
            "meta.llama3-3-70b-instruct-v1:0",
        )
        .unwrap_err();
        assert_eq!(block.param.as_deref(), Some("messages.0.content.0"));
    }
}
