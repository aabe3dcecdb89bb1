//! The tail every request translator shares: messages, cache points, inference settings and
//! thinking, settled in that order into one Converse request.

use crate::bedrock::converse::{
    ContentBlock, ConverseRequest, InferenceConfig, Message, Role, SystemBlock, ToolConfig,
};
use crate::capabilities;
use crate::converse::caching::{settle_cache_points, CacheTargets};
use crate::converse::conversation::Conversation;
use crate::converse::reasoning::{apply_reasoning_effort, settle_thinking};
use crate::error::ApiError;
use serde_json::{Map, Value};

/// Sampling settings, and the fields each API names them by in its errors.
pub struct Sampling<'a> {
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
pub struct ConverseParts<'a> {
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
pub fn assemble(parts: ConverseParts<'_>) -> Result<ConverseRequest, ApiError> {
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
    if !capabilities::supports_system_prompt(model_id) {
        fold_system_into_first_turn(&mut system, &mut messages);
    }
    let mut tool_config = tool_config;
    settle_cache_points(
        model_id,
        caching,
        &mut system,
        tool_config.as_mut().map(|t| &mut t.tools),
        &mut messages,
    );

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
    if inference.temperature.is_some() && capabilities::rejects_temperature_with_top_p(model_id) {
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
        guardrail_config: None,
    })
}

/// The system text as the opening text of the first user turn, for models without system
/// prompts.
fn fold_system_into_first_turn(system: &mut Vec<SystemBlock>, messages: &mut [Message]) {
    let text: Vec<String> = std::mem::take(system)
        .into_iter()
        .filter_map(|b| match b {
            SystemBlock::Text(t) => Some(t),
            SystemBlock::CachePoint(_) => None,
        })
        .collect();
    if text.is_empty() {
        return;
    }
    if let Some(first) = messages.iter_mut().find(|m| m.role == Role::User) {
        first
            .content
            .insert(0, ContentBlock::Text(text.join("\n\n")));
    }
}
