//! Responses API request → Bedrock Converse request. Input items go through the same
//! [`Conversation`] as chat messages, so both APIs normalise turns one way.

use crate::api::body::parse_object;
use crate::api::responses::output::unseal;
use crate::api::responses::text_format;
use crate::api::responses::tools::{
    bedrock_name, tool_choice, Offered, ToolNames, CUSTOM_INPUT, TOOL_SEARCH,
};
use crate::api::responses::wire::{
    CallOutput, ContentPart, Input, InputItem, InputMessage, MessageContent, ResponsesRequest,
};
use crate::bedrock::converse::{
    ContentBlock, ConverseRequest, Role, Tool, ToolResultBlock, ToolResultContent, ToolUseBlock,
};
use crate::bedrock::model_id;
use crate::config::Config;
use crate::converse::assemble::{assemble, ConverseParts, Sampling};
use crate::converse::caching::prompt_caching_targets;
use crate::converse::content::{arguments_object, image_block};
use crate::converse::conversation::Conversation;
use crate::converse::structured_output;
use crate::converse::tools;
use crate::error::ApiError;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct ResponsesTranslation {
    pub model_id: String,
    pub requested_model: String,
    pub stream: bool,
    /// The answer comes from ConverseStream (else from Converse, see
    /// `converse::tools::converse_stream_serves`).
    pub converse_stream: bool,
    pub converse: ConverseRequest,
    pub tools: ToolNames,
    /// The tool carrying a `text.format` answer: its input is returned as `output_text`.
    pub response_tool: Option<String>,
}

pub fn parse_request(body: &[u8]) -> Result<ResponsesRequest, ApiError> {
    parse_object(body, &["model"])
}

fn stateless(param: &str) -> ApiError {
    ApiError::invalid_param(
        param,
        format!(
            "'{param}' is not supported: this gateway is stateless and stores no responses or \
             conversations. Send the whole conversation in 'input' (with store: false)."
        ),
    )
    .with_code("unsupported_parameter")
}

/// Replaces each `item_reference` in `input` with the item it names, as the gateway returned it.
/// A reference it cannot resolve is a 400 naming the item.
pub fn resolve_references(
    req: &mut ResponsesRequest,
    recall: &dyn Fn(&str) -> Option<Value>,
) -> Result<(), ApiError> {
    let Some(Input::Items(items)) = req.input.as_mut() else {
        return Ok(());
    };
    for (index, item) in items.iter_mut().enumerate() {
        if item.get("type").and_then(Value::as_str) != Some("item_reference") {
            continue;
        }
        let id = item.get("id").and_then(Value::as_str).unwrap_or("");
        // Response records share the store; only output items (which have a type) count.
        match recall(id).filter(|found| found.get("type").is_some()) {
            Some(found) => *item = found,
            None => return Err(unknown_item(index, id)),
        }
    }
    Ok(())
}

fn unknown_item(index: usize, id: &str) -> ApiError {
    let param = format!("input[{index}]");
    ApiError::invalid_param(
        &param,
        format!(
            "{param} (item_reference): item '{id}' not found. This gateway keeps recent output \
             items only in this Envoy instance's memory; send the full item instead, or set \
             store: false so that clients send it."
        ),
    )
    .with_code("item_not_found")
}

/// `capability_model` names the model whose capabilities apply (see `RequestContext`).
pub fn to_converse(
    req: ResponsesRequest,
    config: &Config,
    capability_model: &dyn Fn(&str) -> String,
) -> Result<ResponsesTranslation, ApiError> {
    if req
        .previous_response_id
        .as_deref()
        .is_some_and(|id| !id.is_empty())
    {
        return Err(stateless("previous_response_id"));
    }
    if req.conversation.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(stateless("conversation"));
    }
    let requested_model = req.model.clone();
    let model_id = config
        .resolve_chat_model(Some(&req.model))
        .unwrap_or(&req.model)
        .to_string();
    model_id::validate_model_id(&model_id)?;
    let caps = capability_model(&model_id);

    let mut conversation = Conversation::default();
    if let Some(instructions) = &req.instructions {
        conversation.push_system(instructions);
    }
    let items = match &req.input {
        None => Vec::new(),
        Some(Input::Text(text)) => vec![json!({"role": "user", "content": text})],
        Some(Input::Items(items)) => items.clone(),
    };
    let mut searched_tools = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        add_item(&mut conversation, item, i, &mut searched_tools)?;
    }

    let mut extra = Map::new();
    let mut offered = Offered::default();
    let tools_allowed = req.tool_choice.as_ref().and_then(Value::as_str) != Some("none");
    if tools_allowed {
        offered.add_all(req.tools.as_deref().unwrap_or_default(), "tools")?;
        offered.add_all(&searched_tools, "input.tool_search_output.tools")?;
    }
    // `text.format` travels as chat's `response_format` does (see `structured_output`).
    let format = text_format::parse(req.text.as_ref())?;
    let taken: Vec<&str> = offered
        .specs
        .iter()
        .filter_map(|t| match t {
            Tool::ToolSpec(spec) => Some(spec.name.as_str()),
            Tool::CachePoint(_) => None,
        })
        .collect();
    let plan = structured_output::plan(&format, &caps, &taken)
        .map_err(|e| e.with_param("text.format.schema"))?;
    let (output_config, answer_tool) = plan.apply(&mut conversation);
    let response_tool = answer_tool.as_ref().map(|spec| spec.name.clone());
    let client_tools = std::mem::take(&mut offered.specs);
    let choice = if client_tools.is_empty() {
        None
    } else {
        tool_choice(req.tool_choice.as_ref(), &offered.names)?
    };
    let tool_config = tools::tool_config(
        Some(client_tools),
        choice,
        answer_tool,
        &caps,
        req.parallel_tool_calls,
        &mut extra,
    );

    // Effort levels above `high` are Claude's full budget too.
    let effort = req.reasoning.as_ref().and_then(|r| r.effort.as_deref());
    let effort = effort.map(|e| if e == "max" { "xhigh" } else { e });
    let interleaved = match req.other.get("interleaved_thinking") {
        Some(Value::Bool(b)) => *b,
        _ => config.interleaved_thinking,
    };
    let converse = assemble(ConverseParts {
        model_id: &caps,
        conversation,
        messages_param: "input",
        caching: prompt_caching_targets(config, req.other.get("prompt_caching")),
        tool_config,
        sampling: Sampling {
            max_tokens: req.max_output_tokens,
            max_tokens_param: "max_output_tokens",
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: Vec::new(),
            reasoning_effort: effort,
            reasoning_param: Some("reasoning.effort"),
        },
        interleaved_thinking: interleaved,
        extra,
        output_config,
    })?;
    let stream = req.stream.unwrap_or(false);
    Ok(ResponsesTranslation {
        converse_stream: tools::converse_stream_serves(stream, &converse, &caps),
        model_id,
        requested_model,
        stream,
        converse,
        tools: offered.names,
        response_tool,
    })
}

fn add_item(
    conv: &mut Conversation,
    mut item: Value,
    index: usize,
    searched_tools: &mut Vec<Value>,
) -> Result<(), ApiError> {
    let param = format!("input[{index}]");
    let Some(obj) = item.as_object_mut() else {
        return Err(ApiError::invalid_param(
            &param,
            format!("{param}: an input item must be an object."),
        ));
    };
    if !obj.contains_key("type") && obj.contains_key("role") {
        obj.insert("type".into(), json!("message"));
    }
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let parsed: InputItem = serde_json::from_value(item).map_err(|e| {
        ApiError::invalid_param(&param, format!("{param}: invalid '{kind}' item: {e}"))
    })?;
    match parsed {
        InputItem::Message(message) => add_message(conv, &message, &param)?,
        InputItem::FunctionCall(call) => conv.push(
            Role::Assistant,
            vec![ContentBlock::ToolUse(ToolUseBlock {
                tool_use_id: call.call_id,
                name: bedrock_name(call.namespace.as_deref(), &call.name),
                input: arguments_object(Some(&call.arguments)),
            })],
        ),
        InputItem::CustomToolCall(call) => conv.push(
            Role::Assistant,
            vec![ContentBlock::ToolUse(ToolUseBlock {
                tool_use_id: call.call_id,
                name: bedrock_name(call.namespace.as_deref(), &call.name),
                input: json!({ CUSTOM_INPUT: call.input }),
            })],
        ),
        InputItem::ToolSearchCall(call) => {
            let input = match call.arguments {
                Value::Object(o) => Value::Object(o),
                Value::String(s) => arguments_object(Some(&s)),
                _ => json!({}),
            };
            conv.push(
                Role::Assistant,
                vec![ContentBlock::ToolUse(ToolUseBlock {
                    tool_use_id: call
                        .call_id
                        .unwrap_or_else(|| format!("tool_search_{index}")),
                    name: TOOL_SEARCH.into(),
                    input,
                })],
            );
        }
        InputItem::FunctionCallOutput(output) | InputItem::CustomToolCallOutput(output) => {
            let result = tool_result(&output, &param)?;
            conv.push(Role::User, vec![result]);
        }
        InputItem::ToolSearchOutput(output) => {
            let names: Vec<&str> = output
                .tools
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .collect();
            let text = if names.is_empty() {
                "No tools found.".to_string()
            } else {
                format!("Tools now available: {}", names.join(", "))
            };
            searched_tools.extend(output.tools.iter().cloned());
            conv.push(
                Role::User,
                vec![ContentBlock::ToolResult(ToolResultBlock {
                    tool_use_id: output.call_id.unwrap_or_default(),
                    content: vec![ToolResultContent::Text(text)],
                    status: None,
                })],
            );
        }
        InputItem::Reasoning(reasoning) => {
            match reasoning.encrypted_content.as_deref().and_then(unseal) {
                Some(block) => {
                    conv.push(Role::Assistant, vec![ContentBlock::ReasoningContent(block)])
                }
                // Reasoning without our seal (another provider's, or unsigned) cannot be replayed.
                None => log::debug!(
                    "responses: {param}: reasoning item without a replayable block skipped"
                ),
            }
        }
        InputItem::ItemReference => return Err(stateless(&format!("{param} (item_reference)"))),
        InputItem::Other => {
            log::debug!("responses: {param}: '{kind}' item skipped (no Bedrock counterpart)");
        }
    }
    Ok(())
}

fn add_message(
    conv: &mut Conversation,
    message: &InputMessage,
    param: &str,
) -> Result<(), ApiError> {
    match message.role.as_str() {
        "system" | "developer" => {
            for part in parts(message.content.as_ref()) {
                match part {
                    ContentPart::InputText { text } | ContentPart::OutputText { text } => {
                        conv.push_system(&text)
                    }
                    _ => {
                        return Err(ApiError::invalid_param(
                            param,
                            format!(
                                "{param}: only text is allowed in a {} message.",
                                message.role
                            ),
                        ))
                    }
                }
            }
        }
        "user" => {
            let blocks = user_blocks(message.content.as_ref(), param)?;
            conv.push(Role::User, blocks);
        }
        "assistant" => {
            let mut blocks = Vec::new();
            for part in parts(message.content.as_ref()) {
                match part {
                    ContentPart::InputText { text }
                    | ContentPart::OutputText { text }
                    | ContentPart::Refusal { refusal: text } => {
                        blocks.push(ContentBlock::Text(text))
                    }
                    _ => {
                        return Err(ApiError::invalid_param(
                            param,
                            format!("{param}: only text is allowed in an assistant message."),
                        ))
                    }
                }
            }
            conv.push(Role::Assistant, blocks);
        }
        other => {
            return Err(ApiError::invalid_param(
                &format!("{param}.role"),
                format!(
                "{param}: unknown role '{other}' (expected system, developer, user or assistant)."
            ),
            ))
        }
    }
    Ok(())
}

fn parts(content: Option<&MessageContent>) -> Vec<ContentPart> {
    match content {
        None => Vec::new(),
        Some(MessageContent::Text(t)) => vec![ContentPart::InputText { text: t.clone() }],
        Some(MessageContent::Parts(parts)) => parts.clone(),
    }
}

fn user_blocks(
    content: Option<&MessageContent>,
    param: &str,
) -> Result<Vec<ContentBlock>, ApiError> {
    parts(content)
        .into_iter()
        .map(|part| match part {
            ContentPart::InputText { text } | ContentPart::OutputText { text } => {
                Ok(ContentBlock::Text(text))
            }
            ContentPart::InputImage { image_url, file_id } => image(image_url, file_id, param),
            ContentPart::Refusal { .. } | ContentPart::Unsupported => Err(ApiError::invalid_param(
                param,
                format!(
                    "{param}: unsupported content part (input_text and input_image are supported)."
                ),
            )),
        })
        .collect()
}

fn image(
    url: Option<String>,
    file_id: Option<String>,
    param: &str,
) -> Result<ContentBlock, ApiError> {
    match url {
        Some(url) => image_block(&url, 0).map_err(|mut e| {
            e.message = e.message.replacen("messages[0]", param, 1);
            e.param = Some(param.to_string());
            e
        }),
        None if file_id.is_some() => Err(stateless(&format!("{param} (file_id)"))),
        None => Err(ApiError::invalid_param(
            param,
            format!("{param}: input_image needs an image_url."),
        )),
    }
}

fn tool_result(output: &CallOutput, param: &str) -> Result<ContentBlock, ApiError> {
    let mut content = Vec::new();
    for part in parts(output.output.as_ref()) {
        match part {
            ContentPart::InputText { text } | ContentPart::OutputText { text } => {
                if !text.trim().is_empty() {
                    content.push(ToolResultContent::Text(text));
                }
            }
            ContentPart::InputImage { image_url, file_id } => {
                if let ContentBlock::Image(img) = image(image_url, file_id, param)? {
                    content.push(ToolResultContent::Image(img));
                }
            }
            ContentPart::Refusal { .. } | ContentPart::Unsupported => {
                return Err(ApiError::invalid_param(
                    param,
                    format!("{param}: unsupported tool output part (input_text and input_image are supported)."),
                ))
            }
        }
    }
    if content.is_empty() {
        // Bedrock rejects an empty toolResult.
        content.push(ToolResultContent::Text("(no output)".into()));
    }
    Ok(ContentBlock::ToolResult(ToolResultBlock {
        tool_use_id: output.call_id.clone(),
        content,
        status: None,
    }))
}

impl ResponsesTranslation {
    pub fn path(&self) -> String {
        model_id::converse_path(&self.model_id, self.converse_stream)
    }

    pub fn body(&self) -> Result<Vec<u8>, ApiError> {
        self.converse.to_body()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::responses::output::seal;
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";
    const SONNET4: &str = "us.anthropic.claude-sonnet-4-20250514-v1:0";
    const PNG: &str = "data:image/png;base64,iVBORw0KGgo=";

    fn config() -> Config {
        crate::test_support::open_config(
            r#"{"model_aliases":{"gpt-5.5":"us.anthropic.claude-sonnet-4-20250514-v1:0"}}"#,
        )
    }

    fn translate(mut req: Value) -> Result<ResponsesTranslation, ApiError> {
        if req.get("model").is_none() {
            req["model"] = json!(HAIKU);
        }
        to_converse(
            parse_request(req.to_string().as_bytes())?,
            &config(),
            &crate::api::same_model,
        )
    }

    fn converse(req: Value) -> Value {
        serde_json::to_value(translate(req).unwrap().converse).unwrap()
    }

    fn user(text: &str) -> Value {
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    }

    fn exec_tool() -> Value {
        json!({"type": "function", "name": "exec_command", "description": "Run a command",
               "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}})
    }

    #[test]
    fn input_items_become_converse_turns() {
        // (case, input items, tools, expected messages)
        let cases = vec![
            (
                "string input",
                json!("Hello"),
                json!([]),
                json!([{"role": "user", "content": [{"text": "Hello"}]}]),
            ),
            (
                "easy messages, parts and images",
                json!([
                    {"role": "user", "content": "Hi"},
                    {"type": "message", "role": "assistant", "id": "msg_1",
                     "content": [{"type": "output_text", "text": "Hello!"}]},
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "Look"},
                        {"type": "input_image", "image_url": PNG, "detail": "auto"}]},
                ]),
                json!([]),
                json!([
                    {"role": "user", "content": [{"text": "Hi"}]},
                    {"role": "assistant", "content": [{"text": "Hello!"}]},
                    {"role": "user", "content": [{"text": "Look"},
                        {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}]},
                ]),
            ),
            (
                "function call and string output",
                json!([
                    user("run it"),
                    {"type": "function_call", "id": "fc_1", "status": "completed", "call_id": "call_1",
                     "name": "exec_command", "arguments": "{\"cmd\": \"echo hi\"}"},
                    {"type": "function_call_output", "id": "fco_1", "call_id": "call_1", "output": "hi\n"},
                ]),
                json!([exec_tool()]),
                json!([
                    {"role": "user", "content": [{"text": "run it"}]},
                    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "call_1",
                        "name": "exec_command", "input": {"cmd": "echo hi"}}}]},
                    {"role": "user", "content": [{"toolResult": {"toolUseId": "call_1",
                        "content": [{"text": "hi\n"}]}}]},
                ]),
            ),
            (
                "function output as parts with an image, empty output",
                json!([
                    user("look"),
                    {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": ""},
                    {"type": "function_call", "call_id": "c2", "name": "exec_command", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "c1", "output": [
                        {"type": "input_text", "text": "shot:"},
                        {"type": "input_image", "image_url": PNG}]},
                    {"type": "function_call_output", "call_id": "c2", "output": ""},
                ]),
                json!([exec_tool()]),
                json!([
                    {"role": "user", "content": [{"text": "look"}]},
                    {"role": "assistant", "content": [
                        {"toolUse": {"toolUseId": "c1", "name": "exec_command", "input": {}}},
                        {"toolUse": {"toolUseId": "c2", "name": "exec_command", "input": {}}}]},
                    {"role": "user", "content": [
                        {"toolResult": {"toolUseId": "c1", "content": [{"text": "shot:"},
                            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}]}},
                        {"toolResult": {"toolUseId": "c2", "content": [{"text": "(no output)"}]}}]},
                ]),
            ),
            (
                "custom (freeform) tool call and output",
                json!([
                    user("patch"),
                    {"type": "custom_tool_call", "id": "ctc_1", "status": "completed", "call_id": "call_p",
                     "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch\n"},
                    {"type": "custom_tool_call_output", "id": "ctco_1", "call_id": "call_p",
                     "output": "Success."},
                ]),
                json!([{"type": "custom", "name": "apply_patch", "description": "Patch"}]),
                json!([
                    {"role": "user", "content": [{"text": "patch"}]},
                    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "call_p",
                        "name": "apply_patch", "input": {"input": "*** Begin Patch\n*** End Patch\n"}}}]},
                    {"role": "user", "content": [{"toolResult": {"toolUseId": "call_p",
                        "content": [{"text": "Success."}]}}]},
                ]),
            ),
            (
                "namespaced call",
                json!([
                    user("spawn"),
                    {"type": "function_call", "call_id": "c1", "namespace": "multi_agent_v1",
                     "name": "spawn_agent", "arguments": "{\"message\":\"go\"}"},
                    {"type": "function_call_output", "call_id": "c1", "output": "ok"},
                ]),
                json!([{"type": "namespace", "name": "multi_agent_v1", "description": "Agents",
                        "tools": [{"type": "function", "name": "spawn_agent"}]}]),
                json!([
                    {"role": "user", "content": [{"text": "spawn"}]},
                    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "c1",
                        "name": "multi_agent_v1__spawn_agent", "input": {"message": "go"}}}]},
                    {"role": "user", "content": [{"toolResult": {"toolUseId": "c1",
                        "content": [{"text": "ok"}]}}]},
                ]),
            ),
            (
                "sealed reasoning is replayed first in its turn; foreign blobs are dropped",
                json!([
                    user("q"),
                    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hmm"}],
                     "content": null, "encrypted_content": seal(&crate::bedrock::converse::ReasoningBlock::ReasoningText(
                         crate::bedrock::converse::ReasoningText {text: "hmm".into(), signature: Some("sig".into())})).unwrap()},
                    {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAAA-openai"},
                    {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "c1", "output": "done"},
                ]),
                json!([exec_tool()]),
                json!([
                    {"role": "user", "content": [{"text": "q"}]},
                    {"role": "assistant", "content": [
                        {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
                        {"toolUse": {"toolUseId": "c1", "name": "exec_command", "input": {}}}]},
                    {"role": "user", "content": [{"toolResult": {"toolUseId": "c1",
                        "content": [{"text": "done"}]}}]},
                ]),
            ),
            (
                "tool search call and output",
                json!([
                    user("find a calendar tool"),
                    {"type": "tool_search_call", "call_id": "s1", "execution": "client",
                     "arguments": {"query": "calendar", "limit": 1}},
                    {"type": "tool_search_output", "call_id": "s1", "execution": "client", "status": "completed",
                     "tools": [{"type": "function", "name": "create_event", "description": "Create"}]},
                ]),
                json!([{"type": "tool_search", "execution": "client"}]),
                json!([
                    {"role": "user", "content": [{"text": "find a calendar tool"}]},
                    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "s1",
                        "name": "tool_search", "input": {"query": "calendar", "limit": 1}}}]},
                    {"role": "user", "content": [{"toolResult": {"toolUseId": "s1",
                        "content": [{"text": "Tools now available: create_event"}]}}]},
                ]),
            ),
            (
                "hosted tool calls are skipped",
                json!([
                    user("search"),
                    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Found."}]},
                ]),
                json!([]),
                json!([
                    {"role": "user", "content": [{"text": "search"}]},
                    {"role": "assistant", "content": [{"text": "Found."}]},
                ]),
            ),
        ];
        for (case, input, tools, expected) in cases {
            let out = converse(json!({"input": input, "tools": tools}));
            assert_eq!(out["messages"], expected, "{case}");
        }
    }

    #[test]
    fn developer_system_and_instructions_become_system() {
        let out = converse(json!({
            "instructions": "Be brief.",
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Base prompt"},
                    {"type": "input_text", "text": "  "}]},
                {"type": "message", "role": "system", "content": "Rules"},
                user("hi"),
            ]
        }));
        assert_eq!(
            out["system"],
            json!([{"text": "Be brief."}, {"text": "Base prompt"}, {"text": "Rules"}])
        );
        assert_eq!(
            out["messages"],
            json!([{"role": "user", "content": [{"text": "hi"}]}])
        );
    }

    #[test]
    fn tools_offered_and_hosted_tools_dropped() {
        let t = translate(json!({
            "input": "hi",
            "tools": [exec_tool(), {"type": "web_search", "external_web_access": true},
                      {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}],
            "tool_choice": "auto", "parallel_tool_calls": true,
        }))
        .unwrap();
        let out = serde_json::to_value(&t.converse).unwrap();
        let names: Vec<&str> = out["toolConfig"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["toolSpec"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["exec_command", "apply_patch"]);
        assert!(
            out["toolConfig"].get("toolChoice").is_none(),
            "auto is Bedrock's default"
        );
        assert_eq!(
            t.tools.target("apply_patch").kind,
            crate::api::responses::tools::CallKind::Custom
        );

        let forced = converse(json!({"input": "hi", "tools": [exec_tool()],
            "tool_choice": {"type": "function", "name": "exec_command"}}));
        assert_eq!(
            forced["toolConfig"]["toolChoice"],
            json!({"tool": {"name": "exec_command"}})
        );
        let none = converse(json!({"input": "hi", "tools": [exec_tool()], "tool_choice": "none"}));
        assert!(none.get("toolConfig").is_none());
    }

    #[test]
    fn tool_history_without_tools_is_text_so_compaction_succeeds() {
        // Codex's compaction request: tools [] but tool_choice auto and tool history.
        let out = converse(json!({
            "input": [
                user("run it"),
                {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
                {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
                {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch"},
                {"type": "custom_tool_call_output", "call_id": "c2", "output": "ok"},
                user("Summarise for a handoff."),
            ],
            "tools": [], "tool_choice": "auto", "parallel_tool_calls": false,
        }));
        assert!(out.get("toolConfig").is_none());
        let blocks: Vec<&Value> = out["messages"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["content"].as_array().unwrap())
            .collect();
        assert!(blocks.iter().all(|b| b.get("text").is_some()), "{blocks:?}");
        let all = out["messages"].to_string();
        assert!(
            all.contains("exec_command")
                && all.contains("a.txt")
                && all.contains("*** Begin Patch")
        );
    }

    #[test]
    fn reasoning_effort_and_sampling() {
        let out = converse(
            json!({"model": "gpt-5.5", "input": "hi", "reasoning": {"effort": "high", "summary": "auto"},
            "temperature": 0.5, "max_output_tokens": 4000}),
        );
        assert_eq!(
            out["additionalModelRequestFields"]["thinking"]["type"],
            "enabled"
        );
        let budget = out["additionalModelRequestFields"]["thinking"]["budget_tokens"]
            .as_u64()
            .unwrap();
        assert!((1024..4000).contains(&budget), "{budget}");
        assert_eq!(
            out["inferenceConfig"],
            json!({"maxTokens": 4000}),
            "no sampling while thinking"
        );
        let t = translate(json!({"model": "gpt-5.5", "input": "hi"})).unwrap();
        assert_eq!(t.model_id, SONNET4);
        assert_eq!(t.requested_model, "gpt-5.5");
        let plain = converse(json!({"input": "hi", "temperature": 3.0, "top_p": 0.5}));
        assert_eq!(
            plain["inferenceConfig"],
            json!({"temperature": 1.0, "topP": 0.5})
        );
        assert!(plain.get("additionalModelRequestFields").is_none());
        let e = translate(json!({"input": "hi", "reasoning": {"effort": "galaxy"}})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("reasoning.effort"));
    }

    #[test]
    fn parallel_calls_switch_and_thinking_across_tool_turns() {
        let serial =
            converse(json!({"input": "hi", "tools": [exec_tool()], "parallel_tool_calls": false}));
        assert_eq!(
            serial["additionalModelRequestFields"]["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        let history = |reasoning: Option<Value>| {
            let mut input = vec![user("q")];
            input.extend(reasoning);
            input.push(json!({"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"}));
            input.push(json!({"type": "function_call_output", "call_id": "c1", "output": "ok"}));
            converse(
                json!({"model": "gpt-5.5", "input": input, "tools": [exec_tool()],
                "reasoning": {"effort": "medium"}}),
            )
        };
        // A tool turn without its signed reasoning cannot be continued with thinking on.
        assert!(history(None).get("additionalModelRequestFields").is_none());
        let sealed = seal(&crate::bedrock::converse::ReasoningBlock::ReasoningText(
            crate::bedrock::converse::ReasoningText {
                text: "t".into(),
                signature: Some("s".into()),
            },
        ))
        .unwrap();
        let with = history(Some(
            json!({"type": "reasoning", "summary": [], "encrypted_content": sealed}),
        ));
        assert_eq!(
            with["additionalModelRequestFields"]["thinking"]["type"],
            "enabled"
        );
    }

    #[test]
    fn stateful_features_and_malformed_input_get_clear_400s() {
        let cases = [
            (
                json!({"input": "hi", "previous_response_id": "resp_1"}),
                "previous_response_id",
                "stateless",
            ),
            (
                json!({"input": "hi", "conversation": "conv_1"}),
                "conversation",
                "stateless",
            ),
            (
                json!({"input": [{"type": "item_reference", "id": "msg_1"}]}),
                "input[0] (item_reference)",
                "stateless",
            ),
            (
                json!({"input": [user("a"), {"role": "tool", "content": "x"}]}),
                "input[1].role",
                "unknown role",
            ),
            (
                json!({"input": [{"type": "message", "role": "user",
                "content": [{"type": "input_file", "file_id": "f"}]}]}),
                "input[0]",
                "unsupported",
            ),
            (
                json!({"input": [{"type": "message", "role": "user",
                "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]}),
                "input[0]",
                "data: URL",
            ),
            (
                json!({"input": [{"type": "function_call", "name": "f"}]}),
                "input[0]",
                "call_id",
            ),
            (json!({"input": [7]}), "input[0]", "object"),
            (json!({"input": []}), "input", "at least one"),
            (
                json!({"input": "hi", "tools": [{"type": "function"}]}),
                "tools[0]",
                "invalid tool",
            ),
            (
                json!({"input": "hi", "max_output_tokens": 0}),
                "max_output_tokens",
                "at least 1",
            ),
        ];
        for (req, param, words) in cases {
            let e = translate(req.clone()).unwrap_err();
            assert_eq!(e.status, 400, "{req}");
            assert_eq!(e.param.as_deref(), Some(param), "{req}: {e}");
            assert!(e.message.contains(words), "{req}: {e}");
        }
        let e = parse_request(br#"{"input":"hi"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        assert!(translate(json!({"input": "hi", "previous_response_id": null})).is_ok());
    }

    fn person_format() -> Value {
        json!({"format": {"type": "json_schema", "name": "person", "strict": true,
            "schema": {"type": "object", "properties": {"age": {"type": "integer"}}}}})
    }

    #[test]
    fn text_format_goes_native_or_through_a_forced_answer_tool() {
        // Claude 3 has no native structured output: the schema becomes a forced tool.
        let t = translate(json!({"input": "John is 42", "text": person_format()})).unwrap();
        assert_eq!(t.response_tool.as_deref(), Some("json_response"));
        let sent = serde_json::to_value(&t.converse).unwrap();
        assert_eq!(
            sent["toolConfig"]["toolChoice"],
            json!({"tool": {"name": "json_response"}})
        );
        let spec = &sent["toolConfig"]["tools"][0]["toolSpec"];
        assert_eq!(spec["name"], "json_response");
        assert_eq!(
            spec["inputSchema"]["json"]["properties"]["age"]["type"],
            "integer"
        );
        assert!(sent.get("outputConfig").is_none());

        // Claude 4.5 has it natively: no tool, the schema goes in outputConfig.
        let t = translate(
            json!({"model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "input": "John is 42", "text": person_format()}),
        )
        .unwrap();
        assert_eq!(t.response_tool, None);
        let sent = serde_json::to_value(&t.converse).unwrap();
        assert!(sent.get("toolConfig").is_none());
        let structure = &sent["outputConfig"]["textFormat"]["structure"]["jsonSchema"];
        assert_eq!(structure["name"], "person");
        let schema: Value = serde_json::from_str(structure["schema"].as_str().unwrap()).unwrap();
        assert_eq!(schema, person_format()["format"]["schema"]);

        // Plain text (with verbosity) changes nothing.
        let plain = translate(
            json!({"input": "hi", "text": {"format": {"type": "text"}, "verbosity": "low"}}),
        )
        .unwrap();
        assert_eq!(plain.response_tool, None);
        assert_eq!(
            serde_json::to_value(&plain.converse).unwrap(),
            json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
        );
    }

    #[test]
    fn text_format_with_client_tools_lets_the_model_pick_one() {
        let t = translate(json!({"input": "Paris?", "tools": [exec_tool()],
            "text": {"format": {"type": "json_object"}}}))
        .unwrap();
        let sent = serde_json::to_value(&t.converse).unwrap();
        let names: Vec<&str> = sent["toolConfig"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["toolSpec"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["exec_command", "json_response"]);
        assert_eq!(sent["toolConfig"]["toolChoice"], json!({"any": {}}));
        // A client tool already called json_response: ours steps aside.
        let clash = json!({"type": "function", "name": "json_response"});
        let t = translate(
            json!({"input": "x", "tools": [clash], "tool_choice": "auto",
            "text": {"format": {"type": "json_object"}}}),
        )
        .unwrap();
        assert_eq!(t.response_tool.as_deref(), Some("json_response_1"));
        let choice = t.converse.tool_config.unwrap().tool_choice;
        assert_eq!(choice, Some(json!({"any": {}})));
        // Models without forced tools are told in the system prompt.
        let llama = converse(
            json!({"model": "meta.llama3-1-70b-instruct-v1:0", "input": "x",
            "text": person_format()}),
        );
        assert!(llama.get("toolConfig").is_none());
        assert!(llama["system"][0]["text"]
            .as_str()
            .unwrap()
            .contains("\"age\""));
    }

    #[test]
    fn bad_text_format_is_a_400_naming_the_field() {
        for (text, param) in [
            (json!({"format": {"type": "xml"}}), "text.format.type"),
            (
                json!({"format": {"type": "json_schema", "name": "p"}}),
                "text.format.schema",
            ),
            (
                json!({"format": {"type": "json_schema", "name": "bad name", "schema": {}}}),
                "text.format.name",
            ),
            // Forced-tool models need an object root.
            (
                json!({"format": {"type": "json_schema", "name": "list", "schema": {"type": "array"}}}),
                "text.format.schema",
            ),
        ] {
            let e = translate(json!({"input": "x", "text": text})).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)), "{text}");
        }
    }

    #[test]
    fn stream_flag_picks_the_bedrock_action() {
        let t = translate(json!({"input": "hi", "stream": true})).unwrap();
        assert!(t.path().ends_with("/converse-stream"));
        let t = translate(json!({"input": "hi"})).unwrap();
        assert!(t.path().ends_with("/converse"));
    }
}
