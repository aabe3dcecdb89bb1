//! OpenAI Chat Completions request → Bedrock Converse request.

use crate::bedrock::converse::{
    CachePoint, ContentBlock, ConverseRequest, ImageBlock, ImageSource, InferenceConfig,
    InputSchema, Message, ReasoningBlock, ReasoningText, Role, SystemBlock, Tool, ToolConfig,
    ToolResultBlock, ToolResultContent, ToolSpec, ToolUseBlock,
};
use crate::config::Config;
use crate::error::ApiError;
use crate::openai::chat::{
    ChatMessage, ChatRequest, Content, ContentPart, Stop, ThinkingBlock, ToolDefinition,
};
use crate::translate::conversation::Conversation;
use crate::translate::model::{self, Family};
use crate::translate::structured_output::{self, Plan};
use base64::Engine;
use serde_json::{json, Map, Value};

/// Largest image Bedrock takes in one block (3.75 MB).
pub const MAX_IMAGE_BYTES: usize = 3_750_000;
/// Bedrock caps stop sequences at four for most models.
const MAX_STOP_SEQUENCES: usize = 4;
const MAX_TOOLS: usize = 512;
/// Used when thinking is requested without a token limit.
const DEFAULT_REASONING_MAX_TOKENS: u64 = 8192;
const MIN_THINKING_BUDGET: u64 = 1024;

/// Fields an OpenAI SDK merges into the top level from `extra_body` that we forward to the model.
const PASSTHROUGH_FIELDS: &[&str] = &[
    "thinking",
    "anthropic_beta",
    "top_k",
    "reasoning_config",
    "prompt_caching",
    "interleaved_thinking",
];
/// Anthropic's beta flag for thinking between tool calls (Claude 4 and later).
pub const INTERLEAVED_THINKING_BETA: &str = "interleaved-thinking-2025-05-14";

#[derive(Debug, Clone, PartialEq)]
pub struct ChatTranslation {
    /// The Bedrock model id (alias resolved).
    pub model_id: String,
    /// The model name as the client asked for it, echoed back in responses.
    pub requested_model: String,
    pub stream: bool,
    pub include_usage: bool,
    /// The tool carrying a `response_format` answer: its input is returned as the content.
    pub response_tool: Option<String>,
    pub converse: ConverseRequest,
}

pub fn parse_chat_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    parse_object(body, &["model", "messages"])
}

/// Parses a request body straight into `T`: one pass, no intermediate `Value`. Only a body
/// that fails that pass is parsed again the slow way, to name what is wrong with it (the
/// slow way also accepts what serde's derive refuses but a `Value` keeps, e.g. repeated keys).
pub fn parse_object<T: serde::de::DeserializeOwned>(
    body: &[u8],
    required: &[&str],
) -> Result<T, ApiError> {
    match serde_json::from_slice(body) {
        Ok(parsed) => Ok(parsed),
        Err(_) => parse_object_explained(body, required),
    }
}

fn parse_object_explained<T: serde::de::DeserializeOwned>(
    body: &[u8],
    required: &[&str],
) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("Request body must be a JSON object."));
    }
    for field in required {
        if value.get(field).is_none_or(Value::is_null) {
            return Err(ApiError::invalid_param(
                field,
                format!("Missing required parameter: '{field}'."),
            ));
        }
    }
    typed(value)
}

/// Deserializes a request object; a type error names the field at fault (`messages[2].role`).
pub fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = format!("Invalid request body at '{path}': {}", e.inner());
        if path == "." {
            ApiError::bad_request(message)
        } else {
            ApiError::invalid_param(&path, message)
        }
    })
}

pub fn chat_to_converse(req: ChatRequest, config: &Config) -> Result<ChatTranslation, ApiError> {
    let requested_model = req.model.clone();
    let model_id = config.resolve_model(&req.model).to_string();
    model::validate_model_id(&model_id)?;
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

    let mut tools = tools_offered(&req)?;
    let mut choice = match &tools {
        Some(_) => tool_choice(&req, &model_id)?,
        None => None,
    };
    let format = structured_output::parse(req.response_format.as_ref())?;
    let taken: Vec<&str> = req
        .tools
        .iter()
        .flatten()
        .map(|t| t.function.name.as_str())
        .collect();
    let mut response_tool = None;
    let mut output_config = None;
    match structured_output::plan(&format, &model_id, &taken)? {
        Plan::Nothing => {}
        Plan::Native(cfg) => output_config = Some(cfg),
        Plan::Instruction(text) => conversation.push_system(&text),
        Plan::Tool(spec) => {
            let name = spec.name.clone();
            // With client tools the model must call one of them or answer through ours.
            choice = match (&tools, choice) {
                (Some(_), Some(c)) => Some(c),
                (Some(_), None) => Some(json!({"any": {}})),
                (None, _) => Some(json!({"tool": {"name": name}})),
            };
            tools
                .get_or_insert_with(Vec::new)
                .push(Tool::ToolSpec(spec));
            response_tool = Some(name);
        }
    }
    if tools.is_some()
        && req.parallel_tool_calls == Some(false)
        && model::supports_parallel_tool_control(&model_id)
    {
        extra
            .entry("tool_choice")
            .or_insert_with(|| anthropic_tool_choice(choice.as_ref()));
    }
    let tool_config = tools.map(|tools| ToolConfig {
        tools,
        tool_choice: choice,
    });

    let converse = assemble(ConverseParts {
        model_id: &model_id,
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
    Ok(ChatTranslation {
        model_id,
        requested_model,
        stream: req.stream.unwrap_or(false),
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

/// Anthropic's `tool_choice` (sent in additionalModelRequestFields, which Bedrock merges into
/// the Claude request) mirroring the Converse choice, with parallel tool use switched off.
pub(crate) fn anthropic_tool_choice(converse_choice: Option<&Value>) -> Value {
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

/// Sampling settings, and the fields each API names them by in its errors.
pub(crate) struct Sampling<'a> {
    pub max_tokens: Option<u64>,
    pub max_tokens_param: &'static str,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop_sequences: Vec<String>,
    pub reasoning_effort: Option<&'a str>,
    /// Names the reasoning field in reasoning errors; None keeps the names they carry.
    pub reasoning_param: Option<&'static str>,
}

/// What a request translator (chat, Responses) has once turns and tools are read.
pub(crate) struct ConverseParts<'a> {
    pub model_id: &'a str,
    pub conversation: Conversation,
    /// The field that held the turns, named when none has content.
    pub messages_param: &'static str,
    pub caching: CacheTargets,
    pub tool_config: Option<ToolConfig>,
    pub sampling: Sampling<'a>,
    pub interleaved_thinking: bool,
    pub extra: Map<String, Value>,
    pub output_config: Option<Value>,
}

/// The tail both request translators share: messages, cache points, inference settings and
/// thinking, settled in that order into one Converse request.
pub(crate) fn assemble(parts: ConverseParts<'_>) -> Result<ConverseRequest, ApiError> {
    let ConverseParts {
        model_id,
        mut conversation,
        messages_param,
        caching,
        tool_config,
        sampling,
        interleaved_thinking,
        mut extra,
        output_config,
    } = parts;
    let mut system = std::mem::take(&mut conversation.system);
    let mut messages = conversation.into_messages(tool_config.is_some());
    if messages.is_empty() {
        return Err(ApiError::invalid_param(
            messages_param,
            format!(
                "'{messages_param}' must contain at least one user or assistant message with content."
            ),
        ));
    }
    if model::supports_prompt_caching(model_id) || model::is_arn(model_id) {
        insert_cache_points(caching, &mut system, &mut messages);
    }

    let mut inference = InferenceConfig {
        max_tokens: sampling.max_tokens,
        temperature: sampling.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: sampling.top_p.map(|p| p.clamp(0.0, 1.0)),
        stop_sequences: sampling.stop_sequences,
    };
    if inference.max_tokens == Some(0) {
        let param = sampling.max_tokens_param;
        return Err(ApiError::invalid_param(
            param,
            format!("'{param}' must be at least 1."),
        ));
    }
    if inference.temperature.is_some() && model::rejects_temperature_with_top_p(model_id) {
        inference.top_p = None;
    }
    if let Some(effort) = sampling.reasoning_effort {
        apply_reasoning_effort(effort, model_id, &mut inference, &mut extra).map_err(|e| {
            match sampling.reasoning_param {
                Some(param) => e.with_param(param),
                None => e,
            }
        })?;
    }
    settle_thinking(
        model_id,
        tool_config.as_ref(),
        &messages,
        interleaved_thinking,
        &mut inference,
        &mut extra,
    );
    Ok(ConverseRequest {
        messages,
        system,
        inference_config: (inference != InferenceConfig::default()).then_some(inference),
        tool_config,
        additional_model_request_fields: (!extra.is_empty()).then_some(Value::Object(extra)),
        output_config,
    })
}

/// Where prompt cache points go.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CacheTargets {
    pub system: bool,
    pub messages: bool,
}

/// Config default, overridden per request by `prompt_caching`: a bool, or BAG's
/// `{"system": bool, "messages": bool}` (a missing key keeps the default).
pub(crate) fn prompt_caching_targets(config: &Config, requested: Option<&Value>) -> CacheTargets {
    let default = config.prompt_caching;
    match requested {
        Some(Value::Bool(b)) => CacheTargets {
            system: *b,
            messages: *b,
        },
        Some(Value::Object(o)) => CacheTargets {
            system: o.get("system").and_then(Value::as_bool).unwrap_or(default),
            messages: o
                .get("messages")
                .and_then(Value::as_bool)
                .unwrap_or(default),
        },
        _ => CacheTargets {
            system: default,
            messages: default,
        },
    }
}

/// A cache point after the system prompt and after the last user turn.
pub(crate) fn insert_cache_points(
    targets: CacheTargets,
    system: &mut Vec<SystemBlock>,
    messages: &mut [Message],
) {
    if targets.system && !system.is_empty() {
        system.push(SystemBlock::CachePoint(CachePoint::default_point()));
    }
    if targets.messages {
        if let Some(last_user) = messages.iter_mut().rev().find(|m| m.role == Role::User) {
            last_user
                .content
                .push(ContentBlock::CachePoint(CachePoint::default_point()));
        }
    }
}

/// Makes a thinking request one Bedrock accepts, after every other field is known:
/// - thinking is dropped when the tool choice forces a tool (Claude refuses both), and when the
///   last assistant turn called tools without its signed reasoning (clients that do not send
///   `thinking_blocks` back would otherwise get a 400 on every tool round trip);
/// - sampling parameters are dropped while Claude thinks;
/// - the interleaved-thinking beta is added when asked for and the model takes it.
pub(crate) fn settle_thinking(
    model_id: &str,
    tool_config: Option<&ToolConfig>,
    messages: &[Message],
    interleaved: bool,
    inference: &mut InferenceConfig,
    extra: &mut Map<String, Value>,
) {
    let thinking_on = |extra: &Map<String, Value>| {
        matches!(
            extra
                .get("thinking")
                .and_then(|t| t.get("type"))
                .and_then(Value::as_str),
            Some("enabled" | "adaptive")
        )
    };
    if !thinking_on(extra) {
        return;
    }
    let forced = tool_config
        .and_then(|t| t.tool_choice.as_ref())
        .is_some_and(|c| c.get("any").is_some() || c.get("tool").is_some());
    let unsigned_tool_turn = messages
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant)
        .is_some_and(|m| {
            m.content
                .iter()
                .any(|b| matches!(b, ContentBlock::ToolUse(_)))
                && !matches!(m.content.first(), Some(ContentBlock::ReasoningContent(_)))
        });
    if forced || unsigned_tool_turn {
        extra.remove("thinking");
        return;
    }
    inference.temperature = None;
    inference.top_p = None;
    if interleaved && model::claude_supports_interleaved_thinking(model_id) {
        let betas = match extra.remove("anthropic_beta") {
            Some(Value::Array(a)) => a,
            Some(Value::String(s)) => vec![Value::String(s)],
            _ => Vec::new(),
        };
        let mut betas = betas;
        if !betas.iter().any(|b| b == INTERLEAVED_THINKING_BETA) {
            betas.push(json!(INTERLEAVED_THINKING_BETA));
        }
        extra.insert("anthropic_beta".into(), Value::Array(betas));
    }
}

fn add_message(
    conv: &mut Conversation,
    message: &ChatMessage,
    index: usize,
) -> Result<(), ApiError> {
    match message.role.as_str() {
        "system" | "developer" => {
            for text in texts_of(message.content.as_ref(), index)? {
                conv.push_system(&text);
            }
        }
        "user" => {
            let blocks = user_blocks(message.content.as_ref(), index)?;
            conv.push(Role::User, blocks);
        }
        "assistant" => {
            let mut blocks = reasoning_blocks(message);
            for text in texts_of(message.content.as_ref(), index)? {
                blocks.push(ContentBlock::Text(text));
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
            let text = texts_of(message.content.as_ref(), index)?.join("\n");
            let text = if text.trim().is_empty() { "(no output)".to_string() } else { text };
            conv.push(
                Role::User,
                vec![ContentBlock::ToolResult(ToolResultBlock {
                    tool_use_id: id,
                    content: vec![ToolResultContent::Text(text)],
                    status: None,
                })],
            );
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

/// Text of string content or text parts; other parts are rejected outside user turns.
fn texts_of(content: Option<&Content>, index: usize) -> Result<Vec<String>, ApiError> {
    match content {
        None => Ok(Vec::new()),
        Some(Content::Text(t)) => Ok(vec![t.clone()]),
        Some(Content::Parts(parts)) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Text { text } => Ok(text.clone()),
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
        Some(Content::Parts(parts)) => parts
            .iter()
            .map(|part| match part {
                ContentPart::Text { text } => Ok(ContentBlock::Text(text.clone())),
                ContentPart::ImageUrl { image_url } => image_block(image_url.url(), index),
                ContentPart::Unsupported => Err(ApiError::invalid_param(
                    &format!("messages[{index}].content"),
                    format!(
                        "messages[{index}]: unsupported content part (only 'text' and 'image_url')."
                    ),
                )),
            })
            .collect(),
    }
}

/// `data:image/png;base64,...` → an image block. Remote URLs are refused: the gateway does
/// not fetch arbitrary URLs on a client's behalf.
pub fn image_block(url: &str, index: usize) -> Result<ContentBlock, ApiError> {
    let param = format!("messages[{index}].content");
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(ApiError::invalid_param(
            &param,
            format!(
                "messages[{index}]: image URLs are not fetched by this gateway; send the image \
                 inline as a data: URL (data:image/png;base64,...)."
            ),
        )
        .with_code("unsupported_image_url"));
    };
    let (meta, data) = rest.split_once(',').ok_or_else(|| {
        ApiError::invalid_param(&param, format!("messages[{index}]: malformed data: URL."))
    })?;
    let mime = meta.strip_suffix(";base64").ok_or_else(|| {
        ApiError::invalid_param(
            &param,
            format!("messages[{index}]: data: URL must be base64."),
        )
    })?;
    let format = match mime.to_ascii_lowercase().as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(ApiError::invalid_param(
                &param,
                format!(
                "messages[{index}]: image type '{other}' is not supported (png, jpeg, gif, webp)."
            ),
            ))
        }
    };
    // 4 base64 characters carry 3 bytes: refuse oversized images before decoding them.
    if (data.len() / 4).saturating_mul(3) > MAX_IMAGE_BYTES.saturating_add(3) {
        return Err(image_too_large(&param, index));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| {
            ApiError::invalid_param(
                &param,
                format!("messages[{index}]: image data is not valid base64."),
            )
        })?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(image_too_large(&param, index));
    }
    Ok(ContentBlock::Image(ImageBlock {
        format: format.to_string(),
        source: ImageSource {
            bytes: base64::engine::general_purpose::STANDARD.encode(&bytes),
        },
    }))
}

fn image_too_large(param: &str, index: usize) -> ApiError {
    ApiError::invalid_param(
        param,
        format!("messages[{index}]: image is larger than Bedrock's 3.75 MB limit."),
    )
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

/// Tool arguments as the JSON object Bedrock requires. OpenAI accepts any string, so
/// anything else (empty, truncated, a bare value) is kept under a key instead of failing.
pub fn arguments_object(arguments: Option<&str>) -> Value {
    let raw = arguments.unwrap_or("").trim();
    if raw.is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(o)) => Value::Object(o),
        Ok(other) => json!({ "value": other }),
        Err(_) => json!({ "raw_arguments": raw }),
    }
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
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| tool_spec(t, i).map(Tool::ToolSpec))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub fn tool_spec(tool: &ToolDefinition, index: usize) -> Result<ToolSpec, ApiError> {
    let param = format!("tools[{index}]");
    if tool.kind != "function" {
        return Err(ApiError::invalid_param(
            &param,
            format!("{param}: only 'function' tools are supported."),
        ));
    }
    let f = &tool.function;
    if !valid_tool_name(&f.name) {
        return Err(ApiError::invalid_param(
            &param,
            format!("{param}: tool name must match ^[a-zA-Z0-9_-]{{1,64}}$."),
        ));
    }
    let schema = match &f.parameters {
        Some(Value::Object(o)) => Value::Object(o.clone()),
        None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
        Some(_) => {
            return Err(ApiError::invalid_param(
                &param,
                format!("{param}: 'parameters' must be a JSON Schema object."),
            ))
        }
    };
    let description = f
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    Ok(ToolSpec {
        name: f.name.clone(),
        // Bedrock rejects empty descriptions; the name is the best description we have.
        description: description.unwrap_or(&f.name).to_string(),
        input_schema: InputSchema { json: schema },
    })
}

/// The Converse `toolChoice`. `auto` is Bedrock's default and is never sent (some models
/// reject the field). Models without forced tool use get no choice instead of a 400.
fn tool_choice(req: &ChatRequest, model_id: &str) -> Result<Option<Value>, ApiError> {
    let choice = requested_tool_choice(req)?;
    Ok(choice.filter(|_| model::supports_forced_tool_choice(model_id)))
}

/// Converse `toolChoice` for the string forms both OpenAI APIs share; `None` is Bedrock's
/// default (auto), which `none` also maps to because no tools are offered then.
pub(crate) fn tool_choice_keyword(choice: &str) -> Result<Option<Value>, ApiError> {
    match choice {
        "auto" | "none" => Ok(None),
        "required" => Ok(Some(json!({"any": {}}))),
        other => Err(ApiError::invalid_param(
            "tool_choice",
            format!("Unknown tool_choice '{other}' (auto, none, required)."),
        )),
    }
}

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

/// OpenAI `reasoning_effort` (chat) / `reasoning.effort` (responses) → each family's own
/// reasoning switch.
pub(crate) fn apply_reasoning_effort(
    effort: &str,
    model_id: &str,
    inference: &mut InferenceConfig,
    extra: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let share = match effort {
        "minimal" | "low" => 0.3,
        "medium" => 0.6,
        "high" | "xhigh" => 1.0,
        "none" => return Ok(()),
        other => {
            return Err(ApiError::invalid_param(
                "reasoning_effort",
                format!("Unknown reasoning_effort '{other}' (minimal, low, medium, high)."),
            ))
        }
    };
    match model::family(model_id) {
        Family::Claude if model::claude_supports_thinking(model_id) => {
            let max_tokens = inference.max_tokens.unwrap_or(DEFAULT_REASONING_MAX_TOKENS);
            if max_tokens <= MIN_THINKING_BUDGET {
                return Err(ApiError::invalid_param(
                    "max_tokens",
                    format!("reasoning needs max_tokens above {MIN_THINKING_BUDGET}."),
                ));
            }
            inference.max_tokens = Some(max_tokens);
            let scaled = if effort == "minimal" {
                MIN_THINKING_BUDGET
            } else {
                // Bedrock requires budget_tokens < max_tokens.
                ((max_tokens as f64 * share) as u64).min(max_tokens.saturating_sub(1))
            };
            let budget = scaled.max(MIN_THINKING_BUDGET);
            extra
                .entry("thinking")
                .or_insert_with(|| json!({"type": "enabled", "budget_tokens": budget}));
        }
        Family::GptOss => {
            let level = match effort {
                "minimal" => "low",
                "xhigh" => "high",
                other => other,
            };
            extra
                .entry("reasoning_effort")
                .or_insert_with(|| json!(level));
        }
        Family::Nova if model::nova_supports_reasoning(model_id) => {
            let level = match effort {
                "minimal" => "low",
                "xhigh" => "high",
                other => other,
            };
            if level == "high" {
                // Nova 2 refuses sampling and token limits at high effort.
                inference.max_tokens = None;
                inference.temperature = None;
                inference.top_p = None;
            }
            extra
                .entry("reasoningConfig")
                .or_insert_with(|| json!({"type": "enabled", "maxReasoningEffort": level}));
        }
        // DeepSeek R1 always reasons; models without a reasoning switch ignore the hint.
        _ => {}
    }
    Ok(())
}

impl ChatTranslation {
    pub fn path(&self) -> String {
        model::converse_path(&self.model_id, self.stream)
    }

    pub fn body(&self) -> Result<Vec<u8>, ApiError> {
        self.converse.to_body()
    }
}

#[cfg(test)]
#[path = "request_cases.rs"]
mod cases;
