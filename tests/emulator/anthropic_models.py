"""What each Claude model accepts in an InvokeModel (Anthropic Messages) body on Bedrock.

Keyed by a fragment of the Bedrock model id, so models the catalog gains later get a row by
adding one line here. The beta lists follow AWS's "Anthropic Claude Messages API" page (the
betas it documents per model) plus what is observed in public issues:
  * `claude-code-20250219` is sent in the header by Claude Code's own Bedrock mode and works
    on Sonnet 4.5 / Opus 4.6 (anthropics/claude-code#49648: "Opus 4.6 accepts
    claude-code-20250219"), but Opus 4.7 refuses every beta, `interleaved-thinking` included
    (claude-code#49648, earendil-works/pi#3290), with `400 invalid beta flag`;
  * `tool-search-tool-2025-10-19` is what Claude Code's Bedrock mode sends by default for
    Sonnet 4.5 (notes/claude-code-wire.md §3) and is in AWS's list; LiteLLM's
    anthropic_beta_headers_config.json maps Anthropic's `advanced-tool-use` to it for Bedrock.
Anything else (prompt-caching-scope, mid-conversation-system, mcp-servers, ...) is refused.
"""

from dataclasses import dataclass

_CLAUDE3 = frozenset()
_CLAUDE4 = frozenset({"claude-code-20250219", "interleaved-thinking-2025-05-14", "dev-full-thinking-2025-05-14",
                      "computer-use-2025-01-24"})
_AGENTIC = frozenset({"context-management-2025-06-27", "tool-search-tool-2025-10-19", "tool-examples-2025-10-29"})


@dataclass(frozen=True)
class Claude:
    """Anthropic-body features of one Claude family on Bedrock."""
    name: str  # the `model` Bedrock reports in answers
    betas: frozenset
    thinking: str = ""  # "" none | "enabled" | "both" (enabled + adaptive) | "adaptive" only
    effort: str = ""  # "" none | "beta" (needs effort-2025-11-24) | "ga"
    caching: bool = True  # cache_control accepted
    legacy_schema: bool = False  # Claude 3.x: unknown top-level keys fail Bedrock's JSON-schema check
    count_tokens: bool = True  # CountTokens serves the base model id
    temperature_xor_top_p: bool = False  # temperature and top_p may not both be set
    mid_conversation_system: bool = False  # role "system" messages accepted
    max_output_betas: tuple = ()  # (beta, raised max_tokens)


# Most specific fragment first.
FAMILIES = [
    ("claude-3-haiku-20240307", Claude("claude-3-haiku-20240307", _CLAUDE3, caching=False, legacy_schema=True,
                                       count_tokens=False)),
    ("claude-3-5-sonnet-20240620", Claude("claude-3-5-sonnet-20240620", _CLAUDE3, caching=False, legacy_schema=True)),
    ("claude-3-5-sonnet-20241022", Claude("claude-3-5-sonnet-20241022", frozenset({"computer-use-2024-10-22"}),
                                          caching=False, legacy_schema=True)),
    ("claude-3-5-haiku-20241022", Claude("claude-3-5-haiku-20241022", _CLAUDE3, legacy_schema=True)),
    ("claude-3-7-sonnet-20250219", Claude(
        "claude-3-7-sonnet-20250219",
        frozenset({"claude-code-20250219", "computer-use-2025-01-24", "token-efficient-tools-2025-02-19",
                   "output-128k-2025-02-19"}),
        thinking="enabled", max_output_betas=(("output-128k-2025-02-19", 131072),))),
    ("claude-sonnet-4-20250514", Claude("claude-sonnet-4-20250514", _CLAUDE4 | {"context-1m-2025-08-07"},
                                        thinking="enabled")),
    ("claude-opus-4-20250514", Claude("claude-opus-4-20250514", _CLAUDE4, thinking="enabled")),
    ("claude-opus-4-1-20250805", Claude("claude-opus-4-1-20250805", _CLAUDE4, thinking="enabled",
                                        temperature_xor_top_p=True)),
    ("claude-sonnet-4-5-20250929", Claude("claude-sonnet-4-5-20250929",
                                          _CLAUDE4 | _AGENTIC | {"context-1m-2025-08-07"},
                                          thinking="enabled", temperature_xor_top_p=True)),
    ("claude-haiku-4-5-20251001", Claude("claude-haiku-4-5-20251001", _CLAUDE4 | _AGENTIC, thinking="enabled",
                                         temperature_xor_top_p=True)),
    ("claude-opus-4-5-20251101", Claude("claude-opus-4-5-20251101", _CLAUDE4 | _AGENTIC | {"effort-2025-11-24"},
                                        thinking="enabled", effort="beta", temperature_xor_top_p=True)),
    ("claude-sonnet-4-6", Claude("claude-sonnet-4-6", _CLAUDE4 | _AGENTIC | {"context-1m-2025-08-07",
                                                                          "effort-2025-11-24"},
                                 thinking="both", effort="ga", temperature_xor_top_p=True)),
    ("claude-opus-4-6", Claude("claude-opus-4-6", _CLAUDE4 | _AGENTIC | {"context-1m-2025-08-07",
                                                                      "effort-2025-11-24"},
                               thinking="both", effort="ga", temperature_xor_top_p=True)),
    # Adaptive thinking only, no betas at all, no temperature (coder/coder#26691,
    # tinovyatkin/amazon-bedrock-copilot-chat#661, claude-code-action#1265).
    ("claude-opus-4-7", Claude("claude-opus-4-7", frozenset(), thinking="adaptive", effort="ga",
                               temperature_xor_top_p=True, mid_conversation_system=True)),
    ("claude-opus-4-8", Claude("claude-opus-4-8", frozenset(), thinking="adaptive", effort="ga",
                               temperature_xor_top_p=True, mid_conversation_system=True)),
]


def claude_for(model_id: str):
    """The row for a foundation model id, None for a non-Anthropic model."""
    if not model_id.startswith("anthropic."):
        return None
    for fragment, row in FAMILIES:
        if fragment in model_id:
            return row
    # A Claude the table does not know yet: the newest manual-thinking rules, no betas.
    return Claude(model_id.split(".", 1)[1].split("-v")[0], frozenset(), thinking="enabled",
                  temperature_xor_top_p=True)
