//! OpenAI Chat Completions request → Bedrock Converse request.

use crate::api::body::parse_object;
use crate::api::chat::wire::{
    ChatMessage, ChatRequest, Content, ContentPart, Stop, ThinkingBlock, ToolDefinition,
};
use crate::bedrock::converse::{
    CachePoint, ContentBlock, ConverseRequest, ReasoningBlock, ReasoningText, Role, Tool,
    ToolResultBlock, ToolResultContent, ToolSpec, ToolUseBlock,
};
use crate::bedrock::model_id;
use crate::config::Config;
use crate::converse::assemble::{assemble, ConverseParts, Sampling};
use crate::converse::caching::prompt_caching_targets;
use crate::converse::content::{arguments_object, image_block};
use crate::converse::conversation::Conversation;
use crate::converse::structured_output;
use crate::converse::tools::{self, function_spec, tool_choice_keyword, MAX_TOOLS};
use crate::error::ApiError;
use serde_json::{json, Value};

/// Bedrock caps stop sequences at four for most models.
const MAX_STOP_SEQUENCES: usize = 4;

/// Fields an OpenAI SDK merges into the top level from `extra_body` that we forward to the model.
const PASSTHROUGH_FIELDS: &[&str] = &[
    "thinking",
    "anthropic_beta",
    "top_k",
    "reasoning_config",
    "prompt_caching",
    "interleaved_thinking",
];

#[derive(Debug, Clone, PartialEq)]
pub struct ChatTranslation {
    /// The Bedrock model id (alias resolved).
    pub model_id: String,
    /// The model name as the client asked for it, echoed back in responses.
    pub requested_model: String,
    pub stream: bool,
    /// The answer comes from ConverseStream (else from Converse, see
    /// `converse::tools::converse_stream_serves`).
    pub converse_stream: bool,
    pub include_usage: bool,
    /// The tool carrying a `response_format` answer: its input is returned as the content.
    pub response_tool: Option<String>,
    pub converse: ConverseRequest,
}

pub fn parse_chat_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    parse_object(body, &["messages"])
}

/// `capability_model` names the model whose capabilities apply (see `RequestContext`).
pub fn chat_to_converse(
    req: ChatRequest,
    config: &Config,
    capability_model: &dyn Fn(&str) -> String,
) -> Result<ChatTranslation, ApiError> {
    let model_id = config
        .resolve_chat_model(req.model.as_deref())
        .ok_or_else(|| ApiError::invalid_param("model", "Missing required parameter: 'model'."))?
        .to_string();
    // The name the client sent is echoed back, as for aliases; with none, the model used.
    let requested_model = req.model.clone().unwrap_or_else(|| model_id.clone());
    model_id::validate_model_id(&model_id)?;
    let caps = capability_model(&model_id);
    reject_unsupported(&req)?;

    let mut extra = req.extra_body.clone().unwrap_or_default();
    for field in PASSTHROUGH_FIELDS {
        if let Some(v) = req.other.get(*field) {
            extra.entry(field.to_string()).or_insert_with(|| v.clone());
        }
    }
    // The gateway's own switches travel in extra_body too; they are not model fields.
    let caching = prompt_caching_targets(config, extra.remove("prompt_caching").as_ref());
    let interleaved = match extra.remove("interleaved_thinking") {
        Some(Value::Bool(b)) => b,
        _ => config.interleaved_thinking,
    };

    let mut conversation = Conversation::default();
    for (i, message) in req.messages.iter().enumerate() {
        add_message(&mut conversation, message, i)?;
    }

    let tools = tools_offered(&req)?;
    let choice = match &tools {
        Some(_) => requested_tool_choice(&req)?,
        None => None,
    };
    let format = structured_output::parse(req.response_format.as_ref())?;
    let taken: Vec<&str> = req
        .tools
        .iter()
        .flatten()
        .map(|t| t.function.name.as_str())
        .collect();
    let plan = structured_output::plan(&format, &caps, &taken)?;
    let (output_config, answer_tool) = plan.apply(&mut conversation);
    let response_tool = answer_tool.as_ref().map(|spec| spec.name.clone());
    let tool_config = tools::tool_config(
        tools,
        choice,
        answer_tool,
        &caps,
        req.parallel_tool_calls,
        &mut extra,
    );

    let converse = assemble(ConverseParts {
        model_id: &caps,
        conversation,
        messages_param: "messages",
        caching,
        tool_config,
        sampling: Sampling {
            max_tokens: req.max_completion_tokens.or(req.max_tokens),
            max_tokens_param: "max_tokens",
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: stop_sequences(req.stop.as_ref())?,
            reasoning_effort: req.reasoning_effort.as_deref(),
            reasoning_param: None,
        },
        interleaved_thinking: interleaved,
        extra,
        output_config,
    })?;
    let stream = req.stream.unwrap_or(false);
    Ok(ChatTranslation {
        converse_stream: tools::converse_stream_serves(stream, &converse, &caps),
        model_id,
        requested_model,
        stream,
        include_usage: req
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        response_tool,
        converse,
    })
}

/// OpenAI parameters Bedrock cannot honour and whose absence a client would not notice:
/// refused (like OpenAI refuses unsupported parameters) instead of silently ignored.
fn reject_unsupported(req: &ChatRequest) -> Result<(), ApiError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(
            ApiError::invalid_param("n", "Only n=1 is supported by Bedrock.")
                .with_code("unsupported_parameter"),
        );
    }
    let logprobs = req.other.get("logprobs").and_then(Value::as_bool) == Some(true);
    let top = req
        .other
        .get("top_logprobs")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 0);
    if logprobs || top {
        return Err(ApiError::invalid_param(
            if logprobs { "logprobs" } else { "top_logprobs" },
            "logprobs are not available from Bedrock models.",
        )
        .with_code("unsupported_parameter"));
    }
    Ok(())
}

fn add_message(
    conv: &mut Conversation,
    message: &ChatMessage,
    index: usize,
) -> Result<(), ApiError> {
    match message.role.as_str() {
        "system" | "developer" => {
            for (text, marked) in texts_of(message.content.as_ref(), index)? {
                conv.push_system(&text);
                if marked {
                    conv.push_system_cache_point();
                }
            }
        }
        "user" => {
            let blocks = user_blocks(message.content.as_ref(), index)?;
            conv.push(Role::User, blocks);
        }
        "assistant" => {
            let mut blocks = reasoning_blocks(message);
            for (text, marked) in texts_of(message.content.as_ref(), index)? {
                blocks.push(ContentBlock::Text(text));
                if marked {
                    blocks.push(ContentBlock::CachePoint(CachePoint::default_point()));
                }
            }
            for call in message.tool_calls.iter().flatten() {
                blocks.push(ContentBlock::ToolUse(ToolUseBlock {
                    tool_use_id: call.id.clone(),
                    name: call.function.name.clone(),
                    input: arguments_object(call.function.arguments.as_deref()),
                }));
            }
            conv.push(Role::Assistant, blocks);
        }
        "tool" | "function" => {
            let id = message.tool_call_id.clone().ok_or_else(|| {
                ApiError::invalid_param(
                    &format!("messages[{index}].tool_call_id"),
                    format!("messages[{index}]: a tool message needs 'tool_call_id'."),
                )
            })?;
            let parts = texts_of(message.content.as_ref(), index)?;
            let marked = parts.iter().any(|(_, marked)| *marked);
            let text: Vec<String> = parts.into_iter().map(|(text, _)| text).collect();
            let text = text.join("\n");
            let text = if text.trim().is_empty() { "(no output)".to_string() } else { text };
            let mut blocks = vec![ContentBlock::ToolResult(ToolResultBlock {
                tool_use_id: id,
                content: vec![ToolResultContent::Text(text)],
                status: None,
            })];
            if marked {
                blocks.push(ContentBlock::CachePoint(CachePoint::default_point()));
            }
            conv.push(Role::User, blocks);
        }
        other => {
            return Err(ApiError::invalid_param(
                &format!("messages[{index}].role"),
                format!(
                    "messages[{index}]: unknown role '{other}' (expected system, developer, user, assistant or tool)."
                ),
            ))
        }
    }
    Ok(())
}

/// Text of string content or text parts, each with whether it carries a cache marker; other
/// parts are rejected outside user turns.
fn texts_of(content: Option<&Content>, index: usize) -> Result<Vec<(String, bool)>, ApiError> {
    match content {
        None => Ok(Vec::new()),
        Some(Content::Text(t)) => Ok(vec![(t.clone(), false)]),
        Some(Content::Parts(parts)) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Text {
                    text,
                    cache_control,
                } => Ok((text.clone(), cache_control.is_some())),
                _ => Err(ApiError::invalid_param(
                    &format!("messages[{index}].content"),
                    format!("messages[{index}]: only text parts are allowed in this message."),
                )),
            })
            .collect(),
    }
}

fn user_blocks(content: Option<&Content>, index: usize) -> Result<Vec<ContentBlock>, ApiError> {
    match content {
        None => Ok(Vec::new()),
        Some(Content::Text(t)) => Ok(vec![ContentBlock::Text(t.clone())]),
        Some(Content::Parts(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for part in parts {
                match part {
                    ContentPart::Text {
                        text,
                        cache_control,
                    } => {
                        blocks.push(ContentBlock::Text(text.clone()));
                        if cache_control.is_some() {
                            blocks.push(ContentBlock::CachePoint(CachePoint::default_point()));
                        }
                    }
                    ContentPart::ImageUrl { image_url } => {
                        blocks.push(image_block(image_url.url(), index)?)
                    }
                    ContentPart::Unsupported => {
                        return Err(ApiError::invalid_param(
                            &format!("messages[{index}].content"),
                            format!(
                                "messages[{index}]: unsupported content part (only 'text' and 'image_url')."
                            ),
                        ))
                    }
                }
            }
            Ok(blocks)
        }
    }
}

fn reasoning_blocks(message: &ChatMessage) -> Vec<ContentBlock> {
    let mut blocks = Vec::new();
    for block in message.thinking_blocks.iter().flatten() {
        match block {
            ThinkingBlock::Thinking {
                thinking,
                signature,
            } => {
                // Unsigned reasoning cannot be replayed to Bedrock; drop it.
                if signature.as_deref().is_some_and(|s| !s.is_empty()) {
                    blocks.push(ContentBlock::ReasoningContent(
                        ReasoningBlock::ReasoningText(ReasoningText {
                            text: thinking.clone(),
                            signature: signature.clone(),
                        }),
                    ));
                }
            }
            ThinkingBlock::RedactedThinking { data } => {
                blocks.push(ContentBlock::ReasoningContent(
                    ReasoningBlock::RedactedContent(data.clone()),
                ));
            }
        }
    }
    blocks
}

fn tools_offered(req: &ChatRequest) -> Result<Option<Vec<Tool>>, ApiError> {
    let tools = match &req.tools {
        Some(t) if !t.is_empty() => t,
        _ => return Ok(None),
    };
    if req.tool_choice.as_ref().and_then(Value::as_str) == Some("none") {
        return Ok(None);
    }
    if tools.len() > MAX_TOOLS {
        return Err(ApiError::invalid_param(
            "tools",
            format!("At most {MAX_TOOLS} tools are supported."),
        ));
    }
    let mut offered = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        offered.push(Tool::ToolSpec(tool_spec(tool, i)?));
        if tool.cache_control.is_some() {
            offered.push(Tool::CachePoint(CachePoint::default_point()));
        }
    }
    Ok(Some(offered))
}

/// A chat tool definition as a Converse tool spec; only `function` tools exist in chat.
pub fn tool_spec(tool: &ToolDefinition, index: usize) -> Result<ToolSpec, ApiError> {
    let param = format!("tools[{index}]");
    if tool.kind != "function" {
        return Err(ApiError::invalid_param(
            &param,
            format!("{param}: only 'function' tools are supported."),
        ));
    }
    let f = &tool.function;
    function_spec(
        &f.name,
        f.description.as_deref(),
        f.parameters.as_ref(),
        &param,
    )
}

/// The Converse `toolChoice` the client asked for. `auto` is Bedrock's default and is never
/// sent (some models reject the field).
fn requested_tool_choice(req: &ChatRequest) -> Result<Option<Value>, ApiError> {
    match &req.tool_choice {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => tool_choice_keyword(s),
        Some(Value::Object(o)) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| o.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::invalid_param(
                        "tool_choice",
                        "tool_choice object needs function.name.",
                    )
                })?;
            let known = req.tools.iter().flatten().any(|t| t.function.name == name);
            if !known {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    format!("tool_choice names unknown tool '{name}'."),
                ));
            }
            Ok(Some(json!({"tool": {"name": name}})))
        }
        Some(_) => Err(ApiError::invalid_param(
            "tool_choice",
            "tool_choice must be a string or an object.",
        )),
    }
}

fn stop_sequences(stop: Option<&Stop>) -> Result<Vec<String>, ApiError> {
    let all: Vec<String> = match stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s.clone()],
        Some(Stop::Many(v)) => v.clone(),
    };
    let all: Vec<String> = all.into_iter().filter(|s| !s.is_empty()).collect();
    if all.len() > MAX_STOP_SEQUENCES {
        return Err(ApiError::invalid_param(
            "stop",
            format!("At most {MAX_STOP_SEQUENCES} stop sequences are supported."),
        ));
    }
    Ok(all)
}

impl ChatTranslation {
    pub fn path(&self) -> String {
        model_id::converse_path(&self.model_id, self.converse_stream)
    }

    pub fn body(&self) -> Result<Vec<u8>, ApiError> {
        self.converse.to_body()
    }
}

#[cfg(test)]
#[path = "cases.rs"]
mod cases;
