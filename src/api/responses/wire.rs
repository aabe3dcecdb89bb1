//! Responses API (`POST /v1/responses`) request types. Input items and tools are kept as JSON
//! values at the top level and parsed one by one, so an error can name `input[3]` or `tools[2]`
//! and unknown item or tool kinds can be skipped instead of failing the whole request.

use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    #[serde(default)]
    pub input: Option<Input>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub reasoning: Option<ReasoningOptions>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// A stored conversation to continue (needs server-side state, which we do not keep).
    #[serde(default)]
    pub conversation: Option<Value>,
    /// Output format (`text.format`: text, json_object or json_schema) and `text.verbosity`.
    #[serde(default)]
    pub text: Option<Value>,
    /// Everything else (store, include, metadata, prompt_cache_key, client_metadata...).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Items(Vec<Value>),
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReasoningOptions {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// One `input` item. Items without `type` but with `role` are messages (the "easy" form).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputItem {
    Message(InputMessage),
    FunctionCall(FunctionCall),
    FunctionCallOutput(CallOutput),
    CustomToolCall(CustomToolCall),
    CustomToolCallOutput(CallOutput),
    ToolSearchCall(ToolSearchCall),
    ToolSearchOutput(ToolSearchOutput),
    Reasoning(ReasoningItem),
    ItemReference,
    /// Hosted-tool calls and other items Bedrock has no counterpart for; skipped.
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InputMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<MessageContent>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    InputText {
        text: String,
    },
    OutputText {
        text: String,
    },
    Refusal {
        refusal: String,
    },
    InputImage {
        #[serde(default)]
        image_url: Option<String>,
        #[serde(default)]
        file_id: Option<String>,
    },
    /// input_file, input_audio...: refused with a clear error.
    #[serde(other)]
    Unsupported,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FunctionCall {
    pub call_id: String,
    pub name: String,
    #[serde(default)]
    pub arguments: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomToolCall {
    pub call_id: String,
    pub name: String,
    #[serde(default)]
    pub input: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CallOutput {
    pub call_id: String,
    #[serde(default)]
    pub output: Option<MessageContent>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolSearchCall {
    #[serde(default)]
    pub call_id: Option<String>,
    #[serde(default)]
    pub arguments: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolSearchOutput {
    #[serde(default)]
    pub call_id: Option<String>,
    /// Tool definitions the search loaded; they are offered to the model from then on.
    #[serde(default)]
    pub tools: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReasoningItem {
    #[serde(default)]
    pub summary: Vec<Value>,
    #[serde(default)]
    pub encrypted_content: Option<String>,
}

/// One entry of `tools`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolDef {
    Function(FunctionTool),
    /// Freeform tool: the model writes raw text (e.g. a patch), optionally under a grammar.
    Custom(CustomTool),
    /// A group of tools under one name.
    Namespace(NamespaceTool),
    ToolSearch(ToolSearchTool),
    /// Hosted tools OpenAI runs itself (web_search, file_search, ...); Bedrock cannot.
    #[serde(other)]
    Hosted,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FunctionTool {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomTool {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub format: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NamespaceTool {
    pub name: String,
    #[serde(default)]
    pub tools: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolSearchTool {
    #[serde(default)]
    pub execution: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
}
