//! What each Claude model on Bedrock accepts in an InvokeModel body: which `anthropic_beta`
//! flags (Bedrock answers `400 invalid beta flag` to any other, and Claude Code stops at the
//! first 400), and its thinking, effort and sampling rules. One row per family; a model the
//! table does not know gets no betas and the newest rules. Sources: AWS's "Anthropic Claude
//! Messages API" parameters page (betas per model), and public reports of what Bedrock refused
//! (Opus 4.7 refuses every beta; only Sonnet/Haiku 4.5 and later take context management).
//! Update a row when AWS documents a new beta for a model.

use crate::capabilities::base_model_id;

/// How a model thinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    None,
    /// `{type: enabled, budget_tokens}` only.
    Budget,
    /// Both `enabled` and `adaptive`.
    Both,
    /// `{type: adaptive}` only.
    Adaptive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaudeModel {
    pub betas: &'static [&'static str],
    pub thinking: Thinking,
    /// `output_config.effort` without a beta.
    pub effort_ga: bool,
    /// `temperature` and `top_p` may not both be set.
    pub temperature_xor_top_p: bool,
    /// `role: "system"` messages in `messages` are accepted.
    pub mid_conversation_system: bool,
}

const CLAUDE_CODE: &str = "claude-code-20250219";
const INTERLEAVED: &str = "interleaved-thinking-2025-05-14";
const FULL_THINKING: &str = "dev-full-thinking-2025-05-14";
const COMPUTER_USE: &str = "computer-use-2025-01-24";
const CONTEXT_1M: &str = "context-1m-2025-08-07";
pub const CONTEXT_MANAGEMENT: &str = "context-management-2025-06-27";
const TOOL_SEARCH: &str = "tool-search-tool-2025-10-19";
const TOOL_EXAMPLES: &str = "tool-examples-2025-10-29";
pub const EFFORT: &str = "effort-2025-11-24";

const NO_BETAS: &[&str] = &[];
const CLAUDE_3_7: &[&str] = &[
    CLAUDE_CODE,
    COMPUTER_USE,
    "token-efficient-tools-2025-02-19",
    "output-128k-2025-02-19",
];
const CLAUDE_4: &[&str] = &[CLAUDE_CODE, INTERLEAVED, FULL_THINKING, COMPUTER_USE];
const SONNET_4: &[&str] = &[
    CLAUDE_CODE,
    INTERLEAVED,
    FULL_THINKING,
    COMPUTER_USE,
    CONTEXT_1M,
];
const HAIKU_4_5: &[&str] = &[
    CLAUDE_CODE,
    INTERLEAVED,
    FULL_THINKING,
    COMPUTER_USE,
    CONTEXT_MANAGEMENT,
    TOOL_SEARCH,
    TOOL_EXAMPLES,
];
const SONNET_4_5: &[&str] = &[
    CLAUDE_CODE,
    INTERLEAVED,
    FULL_THINKING,
    COMPUTER_USE,
    CONTEXT_MANAGEMENT,
    TOOL_SEARCH,
    TOOL_EXAMPLES,
    CONTEXT_1M,
];
const OPUS_4_5: &[&str] = &[
    CLAUDE_CODE,
    INTERLEAVED,
    FULL_THINKING,
    COMPUTER_USE,
    CONTEXT_MANAGEMENT,
    TOOL_SEARCH,
    TOOL_EXAMPLES,
    EFFORT,
];
const CLAUDE_4_6: &[&str] = &[
    CLAUDE_CODE,
    INTERLEAVED,
    FULL_THINKING,
    COMPUTER_USE,
    CONTEXT_MANAGEMENT,
    TOOL_SEARCH,
    TOOL_EXAMPLES,
    CONTEXT_1M,
    EFFORT,
];

const fn row(
    betas: &'static [&'static str],
    thinking: Thinking,
    effort_ga: bool,
    temperature_xor_top_p: bool,
) -> ClaudeModel {
    ClaudeModel {
        betas,
        thinking,
        effort_ga,
        temperature_xor_top_p,
        mid_conversation_system: false,
    }
}

/// Most specific fragment of the model id first.
const FAMILIES: &[(&str, ClaudeModel)] = &[
    (
        "claude-3-7-sonnet",
        row(CLAUDE_3_7, Thinking::Budget, false, false),
    ),
    ("claude-3", row(NO_BETAS, Thinking::None, false, false)),
    (
        "claude-sonnet-4-20250514",
        row(SONNET_4, Thinking::Budget, false, false),
    ),
    (
        "claude-opus-4-20250514",
        row(CLAUDE_4, Thinking::Budget, false, false),
    ),
    (
        "claude-opus-4-1",
        row(CLAUDE_4, Thinking::Budget, false, true),
    ),
    (
        "claude-sonnet-4-5",
        row(SONNET_4_5, Thinking::Budget, false, true),
    ),
    (
        "claude-haiku-4-5",
        row(HAIKU_4_5, Thinking::Budget, false, true),
    ),
    (
        "claude-opus-4-5",
        row(OPUS_4_5, Thinking::Budget, false, true),
    ),
    (
        "claude-sonnet-4-6",
        row(CLAUDE_4_6, Thinking::Both, true, true),
    ),
    (
        "claude-opus-4-6",
        row(CLAUDE_4_6, Thinking::Both, true, true),
    ),
];

/// Opus 4.7 and later: adaptive thinking only, no betas at all.
const NEWEST: ClaudeModel = ClaudeModel {
    betas: NO_BETAS,
    thinking: Thinking::Adaptive,
    effort_ga: true,
    temperature_xor_top_p: true,
    mid_conversation_system: true,
};

/// The row for a Claude model id (profile ids and ARNs resolve by their base id).
pub fn claude_model(model_id: &str) -> ClaudeModel {
    let id = base_model_id(model_id);
    FAMILIES
        .iter()
        .find(|(fragment, _)| id.contains(fragment))
        .map(|(_, row)| *row)
        .unwrap_or(NEWEST)
}

impl ClaudeModel {
    pub fn accepts(&self, beta: &str) -> bool {
        self.betas.contains(&beta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn each_family_takes_its_own_betas() {
        let sonnet45 = claude_model("us.anthropic.claude-sonnet-4-5-20250929-v1:0");
        assert!(sonnet45.accepts(CONTEXT_MANAGEMENT) && sonnet45.accepts(TOOL_SEARCH));
        assert!(!sonnet45.accepts("prompt-caching-scope-2026-01-05"));
        assert!(!sonnet45.accepts(EFFORT));
        assert!(claude_model("global.anthropic.claude-opus-4-5-20251101-v1:0").accepts(EFFORT));
        assert!(
            !claude_model("anthropic.claude-sonnet-4-20250514-v1:0").accepts(CONTEXT_MANAGEMENT)
        );
        let haiku3 = claude_model("anthropic.claude-3-haiku-20240307-v1:0");
        assert!(!haiku3.accepts(CLAUDE_CODE) && haiku3.thinking == Thinking::None);
        assert_eq!(
            claude_model("anthropic.claude-3-7-sonnet-20250219-v1:0").thinking,
            Thinking::Budget
        );
        let opus48 = claude_model("us.anthropic.claude-opus-4-8");
        assert!(opus48.betas.is_empty() && opus48.thinking == Thinking::Adaptive);
    }
}
