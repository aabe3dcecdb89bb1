//! Reasoning: each model family's own switch for OpenAI's effort levels, and the rules a
//! thinking request must follow on Bedrock.

use crate::bedrock::converse::{ContentBlock, InferenceConfig, Message, Role, ToolConfig};
use crate::capabilities::{self, Family};
use crate::error::ApiError;
use serde_json::{json, Map, Value};

/// Used when thinking is requested without a token limit.
const DEFAULT_REASONING_MAX_TOKENS: u64 = 8192;
const MIN_THINKING_BUDGET: u64 = 1024;
/// Anthropic's beta flag for thinking between tool calls (Claude 4 and later).
pub const INTERLEAVED_THINKING_BETA: &str = "interleaved-thinking-2025-05-14";

/// Makes a thinking request one Bedrock accepts, after every other field is known:
/// - thinking is dropped when the tool choice forces a tool (Claude refuses both), and when the
///   last assistant turn called tools without its signed reasoning (clients that do not send
///   `thinking_blocks` back would otherwise get a 400 on every tool round trip);
/// - sampling parameters are dropped while Claude thinks;
/// - the interleaved-thinking beta is added when asked for and the model takes it.
pub fn settle_thinking(
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
    if interleaved && capabilities::claude_supports_interleaved_thinking(model_id) {
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

/// OpenAI `reasoning_effort` (chat) / `reasoning.effort` (responses) → each family's own
/// reasoning switch.
pub fn apply_reasoning_effort(
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
    match capabilities::family(model_id) {
        Family::Claude if capabilities::claude_supports_thinking(model_id) => {
            let max_tokens = inference.max_tokens.unwrap_or(DEFAULT_REASONING_MAX_TOKENS);
            if max_tokens <= MIN_THINKING_BUDGET {
                // No room for Claude's smallest budget: answer without thinking, as OpenAI
                // does when the cap is small.
                log::debug!(
                    "reasoning_effort ignored: max_tokens {max_tokens} leaves no thinking budget"
                );
                return Ok(());
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
        Family::Nova if capabilities::nova_supports_reasoning(model_id) => {
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
