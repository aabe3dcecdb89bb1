//! What we know about a Bedrock model id: which family it is, what it supports, and how its
//! id goes into a request path. Ids may be foundation model ids, cross-region inference
//! profile ids (`us.`, `eu.`, `apac.`, `global.`, ...) or ARNs.

use crate::error::ApiError;

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
pub fn rejects_temperature_with_top_p(model_id: &str) -> bool {
    let id = base_model_id(model_id);
    family(model_id) == Family::Claude
        && ["-4-5", "-4-6", "-4-7", "opus-4-1", "-5-"]
            .iter()
            .any(|v| id.contains(v))
}

/// DeepSeek R1 on Bedrock has no tool use; everything else we route does.
pub fn supports_tools(model_id: &str) -> bool {
    !base_model_id(model_id).starts_with("deepseek.r1")
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

pub fn supports_prompt_caching(model_id: &str) -> bool {
    matches!(family(model_id), Family::Claude | Family::Nova)
}

/// Application inference profile ARNs carry no family: treat them as capable.
pub fn is_arn(model_id: &str) -> bool {
    model_id.starts_with("arn:")
}

/// Rejects ids that could smuggle path segments, queries or header breaks.
pub fn validate_model_id(model_id: &str) -> Result<(), ApiError> {
    let ok_chars = model_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/'));
    let traversal = model_id.split('/').any(|seg| seg == "." || seg == "..");
    if model_id.is_empty() || model_id.len() > 2048 || !ok_chars || traversal {
        return Err(ApiError::invalid_param(
            "model",
            "Invalid 'model': use a Bedrock model id, inference profile id or ARN \
             (letters, digits and . - _ : / only).",
        )
        .with_code("invalid_model"));
    }
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so `:` and `/` stay inside
/// one path segment. SigV4 then encodes this once more for the canonical URI, as AWS expects.
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len().saturating_mul(3));
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `/model/{id}/converse` or, for a streamed answer, `/model/{id}/converse-stream`.
pub fn converse_path(model_id: &str, stream: bool) -> String {
    runtime_path(
        model_id,
        if stream {
            "converse-stream"
        } else {
            "converse"
        },
    )
}

pub fn runtime_path(model_id: &str, action: &str) -> String {
    format!("/model/{}/{}", encode_path_segment(model_id), action)
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

    #[test]
    fn path_encodes_colon_and_slash_once() {
        assert_eq!(
            runtime_path("anthropic.claude-3-haiku-20240307-v1:0", "converse"),
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
        );
        assert_eq!(
            runtime_path("arn:aws:bedrock:us-east-1:123:application-inference-profile/ab", "converse-stream"),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Aapplication-inference-profile%2Fab/converse-stream"
        );
    }

    #[test]
    fn hostile_model_ids_are_rejected() {
        for bad in [
            "",
            "../../admin",
            "a/../b",
            "m\r\nx-evil: 1",
            "m?x=1",
            "m#f",
            "m%2F",
            "a b",
        ] {
            assert!(validate_model_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_model_id("us.anthropic.claude-3-haiku-20240307-v1:0").is_ok());
    }
}
