//! Model capabilities: which family a Bedrock model id belongs to and what that family
//! accepts. Ids may be foundation model ids, cross-region inference profile ids (`us.`, `eu.`,
//! `apac.`, `global.`, ...) or ARNs.

const REGION_PREFIXES: &[&str] = &[
    "us.", "us-gov.", "eu.", "apac.", "au.", "ca.", "jp.", "global.",
];

/// The foundation model id behind a profile id (`us.anthropic...` → `anthropic...`).
pub fn base_model_id(model_id: &str) -> &str {
    let id = model_id.rsplit('/').next().unwrap_or(model_id);
    REGION_PREFIXES
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Claude,
    Nova,
    DeepSeek,
    GptOss,
    Llama,
    Mistral,
    Other,
}

pub fn family(model_id: &str) -> Family {
    let id = base_model_id(model_id);
    if id.starts_with("anthropic.") {
        Family::Claude
    } else if id.starts_with("amazon.nova") {
        Family::Nova
    } else if id.starts_with("deepseek.") {
        Family::DeepSeek
    } else if id.starts_with("openai.") {
        Family::GptOss
    } else if id.starts_with("meta.") {
        Family::Llama
    } else if id.starts_with("mistral.") {
        Family::Mistral
    } else {
        Family::Other
    }
}

/// Claude models with extended thinking (3.7 and every Claude 4 or later).
pub fn claude_supports_thinking(model_id: &str) -> bool {
    let id = base_model_id(model_id);
    if family(model_id) != Family::Claude {
        return false;
    }
    id.contains("claude-3-7")
        || !(id.contains("claude-3") || id.contains("claude-v2") || id.contains("claude-instant"))
}

/// Newer Claude models reject `temperature` and `top_p` together.
/// An application inference profile ARN names no model, so it is treated as one of them: one
/// of the two is always accepted.
pub fn rejects_temperature_with_top_p(model_id: &str) -> bool {
    let id = base_model_id(model_id);
    let newer_claude = family(model_id) == Family::Claude
        && ["-4-5", "-4-6", "-4-7", "-4-8", "opus-4-1", "-5-"]
            .iter()
            .any(|v| id.contains(v));
    newer_claude || is_arn(model_id)
}

/// Models without tool use on Bedrock: DeepSeek R1, Mistral 7B and Mixtral 8x7B.
pub fn supports_tools(model_id: &str) -> bool {
    let id = base_model_id(model_id);
    !(id.starts_with("deepseek.r1") || takes_no_system_prompt(id))
}

/// Llama models take tools on Converse but not on ConverseStream: "This model doesn't support
/// tool use in streaming mode." (earendil-works/pi#3739, Llama 4 Scout / Maverick; AWS's model
/// feature table lists tool use in streaming for none of them).
pub fn streams_tool_use(model_id: &str) -> bool {
    family(model_id) != Family::Llama
}

/// Mistral 7B and Mixtral 8x7B refuse system prompts ("This model doesn't support system
/// messages."): the gateway puts the system text at the start of the first user turn.
pub fn supports_system_prompt(model_id: &str) -> bool {
    !takes_no_system_prompt(base_model_id(model_id))
}

fn takes_no_system_prompt(base_id: &str) -> bool {
    base_id.starts_with("mistral.mistral-7b") || base_id.starts_with("mistral.mixtral")
}

/// Models that take `toolChoice` `any`/`tool`; the others only take `auto` (Bedrock 400s).
pub fn supports_forced_tool_choice(model_id: &str) -> bool {
    let id = base_model_id(model_id);
    match family(model_id) {
        Family::Llama | Family::DeepSeek => false,
        Family::Mistral => id.contains("large"),
        _ => !(id.starts_with("cohere.") || id.starts_with("ai21.")),
    }
}

/// Claude's parallel tool use can be switched off (Anthropic `disable_parallel_tool_use`).
pub fn supports_parallel_tool_control(model_id: &str) -> bool {
    family(model_id) == Family::Claude
}

/// Models with Bedrock's native structured output (`outputConfig.textFormat`): Claude 4.5 and
/// later, and the open-weight families AWS lists for it.
pub fn supports_native_structured_output(model_id: &str) -> bool {
    let id = base_model_id(model_id);
    match family(model_id) {
        Family::Claude => ["-4-5", "-4-6", "-4-7", "-5-"]
            .iter()
            .any(|v| id.contains(v)),
        Family::GptOss => true,
        _ => id.starts_with("qwen."),
    }
}

/// Nova 2 models have a reasoning switch; Nova 1 rejects one.
pub fn nova_supports_reasoning(model_id: &str) -> bool {
    family(model_id) == Family::Nova && base_model_id(model_id).starts_with("amazon.nova-2")
}

/// Claude 4 and later take the interleaved-thinking beta (3.7 does not).
pub fn claude_supports_interleaved_thinking(model_id: &str) -> bool {
    claude_supports_thinking(model_id) && !base_model_id(model_id).contains("claude-3-7")
}

/// Prompt caching (`cachePoint`): Claude 3.5 Haiku, 3.7 Sonnet and Claude 4 and later; Nova 1
/// (Micro, Lite, Pro, Premier). Claude 3 Haiku refuses it ("You invoked an unsupported model or
/// your request did not allow prompt caching."), Nova 2 Lite too ("extraneous key [cachePoint]
/// is not permitted").
pub fn supports_prompt_caching(model_id: &str) -> bool {
    let id = base_model_id(model_id);
    match family(model_id) {
        Family::Claude => ![
            "claude-3-haiku",
            "claude-3-sonnet",
            "claude-3-opus",
            "claude-3-5-sonnet",
            "claude-v2",
            "claude-instant",
        ]
        .iter()
        .any(|old| id.contains(old)),
        Family::Nova => !id.starts_with("amazon.nova-2"),
        _ => false,
    }
}

/// Application inference profile ARNs carry no family: treat them as capable.
pub fn is_arn(model_id: &str) -> bool {
    model_id.starts_with("arn:")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn profile_ids_and_arns_resolve_to_family() {
        assert_eq!(
            family("us.anthropic.claude-3-7-sonnet-20250219-v1:0"),
            Family::Claude
        );
        assert_eq!(
            family("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Family::Claude
        );
        assert_eq!(family("apac.amazon.nova-pro-v1:0"), Family::Nova);
        assert_eq!(
            family("arn:aws:bedrock:us-east-1:1:application-inference-profile/x"),
            Family::Other
        );
        assert!(claude_supports_thinking(
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
        ));
        assert!(claude_supports_thinking(
            "anthropic.claude-sonnet-4-20250514-v1:0"
        ));
        assert!(!claude_supports_thinking(
            "anthropic.claude-3-haiku-20240307-v1:0"
        ));
        assert!(rejects_temperature_with_top_p(
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        ));
        assert!(!rejects_temperature_with_top_p(
            "anthropic.claude-sonnet-4-20250514-v1:0"
        ));
    }

    #[test]
    fn capabilities_follow_the_model_generation() {
        assert!(supports_forced_tool_choice(
            "us.anthropic.claude-3-haiku-20240307-v1:0"
        ));
        assert!(supports_forced_tool_choice("amazon.nova-pro-v1:0"));
        assert!(supports_forced_tool_choice(
            "mistral.mistral-large-2407-v1:0"
        ));
        assert!(!supports_forced_tool_choice(
            "mistral.mistral-small-2402-v1:0"
        ));
        assert!(!supports_forced_tool_choice(
            "us.meta.llama3-3-70b-instruct-v1:0"
        ));
        assert!(!supports_forced_tool_choice("cohere.command-r-plus-v1:0"));
        assert!(supports_native_structured_output(
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
        ));
        assert!(supports_native_structured_output("openai.gpt-oss-20b-1:0"));
        assert!(!supports_native_structured_output(
            "anthropic.claude-sonnet-4-20250514-v1:0"
        ));
        assert!(!supports_native_structured_output("amazon.nova-pro-v1:0"));
        assert!(nova_supports_reasoning("us.amazon.nova-2-lite-v1:0"));
        assert!(!nova_supports_reasoning("amazon.nova-pro-v1:0"));
        assert!(claude_supports_interleaved_thinking(
            "anthropic.claude-sonnet-4-20250514-v1:0"
        ));
        assert!(!claude_supports_interleaved_thinking(
            "anthropic.claude-3-7-sonnet-20250219-v1:0"
        ));
    }
}
