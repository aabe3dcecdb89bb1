"""Reasoning, per model family, as Bedrock and the models behind it check it.

Each family has its own switch in additionalModelRequestFields and refuses the others':
  Claude    `thinking` {type: enabled|adaptive|disabled, budget_tokens}; its fields are checked
            by Anthropic's own validator ("<field>: Extra inputs are not permitted").
  Nova 2    `reasoningConfig` {type, maxReasoningEffort: low|medium|high}; Nova 1 refuses it.
  gpt-oss   `reasoning_effort` (low|medium|high), fields of OpenAI's chat body only.
  DeepSeek  none (R1 always reasons); Llama, Mistral, others: none.

Reasoning blocks sent back: Claude needs its signature, unaltered (thinking_signature.py); the
other families refuse a signature field (only Claude issues signatures).

Every message quoted below is Bedrock's own; the comment names a public report that shows it.
"""

from anthropic_models import claude_for
from aws_errors import validation
from thinking_signature import redacted_valid, signature_valid

MODEL_ERRORS = "The model returned the following errors: "
_THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
_CONSIDERATIONS = _THINKING_DOCS + "#important-considerations-when-using-extended-thinking"

# Top-level fields of Anthropic's Messages body that Converse lets through
# additionalModelRequestFields; anything else fails Anthropic's validation.
CLAUDE_FIELDS = {"thinking", "tool_choice", "top_k", "anthropic_beta", "anthropic_version", "stop_sequences",
                 "metadata", "output_config", "context_management"}
# gpt-oss on Bedrock is served behind an OpenAI chat-completions body (BerriAI/litellm#13959
# lists the accepted fields in the error).
GPT_OSS_FIELDS = ("messages", "model", "store", "reasoning_effort", "metadata", "frequency_penalty", "logit_bias",
                  "logprobs", "top_logprobs", "max_tokens", "max_completion_tokens", "n", "modalities", "prediction",
                  "audio", "presence_penalty", "response_format", "seed", "service_tier", "stop", "stream",
                  "stream_options", "temperature", "top_p", "tools", "tool_choice", "parallel_tool_calls", "user",
                  "function_call", "functions")
REASONING_FIELDS = ("thinking", "reasoningConfig", "reasoning_effort")
EFFORTS = ("low", "medium", "high")


def _model_error(text):
    return validation(MODEL_ERRORS + text)


def _extraneous(key):
    # Bedrock's JSON-schema validation of non-Anthropic bodies, e.g. for a cachePoint Nova does not
    # take (earendil-works/pi#2053, zeroclaw-labs/zeroclaw#8943); same wording for a reasoning
    # field the family does not take.
    return _model_error(f"Malformed input request: #: extraneous key [{key}] is not permitted, "
                        "please reformat your input and try again.")


# ---- reasoning blocks in the conversation ------------------------------------------------

def check_blocks(messages, model):
    last_assistant = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    for i, msg in enumerate(messages):
        for j, block in enumerate(msg["content"]):
            rc = block.get("reasoningContent")
            if rc is None:
                continue
            where = f"messages.{i}.content.{j}"
            if model.family == "anthropic":
                _check_claude_block(rc, where, i == last_assistant)
            elif "reasoningText" in rc and "signature" in rc["reasoningText"]:
                # aws-samples/bedrock-engineer#239 (gpt-oss, second turn)
                raise validation("This model doesn't support the reasoningContent.reasoningText.signature field. "
                                 "Remove reasoningContent.reasoningText.signature and try again.")
            elif "redactedContent" in rc:
                # Same capability wording as above, for the other member (not seen in a report).
                raise validation("This model doesn't support the reasoningContent.redactedContent field. "
                                 "Remove reasoningContent.redactedContent and try again.")


def _check_claude_block(rc, where, in_latest_assistant):
    if "reasoningText" in rc:
        rt = rc["reasoningText"]
        if not rt.get("signature"):
            # can1357/oh-my-pi#10486: an empty or missing signature fails Anthropic's schema.
            raise _model_error(f"{where}.thinking.signature: Field required")
        if not signature_valid(rt["text"], rt["signature"]):
            # openclaw/openclaw#88020 (global.anthropic.claude-sonnet-4-6 on Bedrock)
            raise _model_error(f"{where}: Invalid signature in thinking block")
        return
    if redacted_valid(rc["redactedContent"]):
        return
    if in_latest_assistant:
        # BerriAI/litellm#25375 (Bedrock Converse, redacted thinking not passed back as it came)
        raise _model_error(f"{where}: thinking or redacted_thinking blocks in the latest assistant message "
                           "cannot be modified. These blocks must remain as they were in the original response.")
    # microsoft/vscode#320196 (Anthropic's check of redacted_thinking data)
    raise _model_error(f"{where}: Invalid `data` in `redacted_thinking` block")


# ---- the reasoning switch and its companions ----------------------------------------------

def check_request(body, model, ctx):
    amrf = body.get("additionalModelRequestFields") or {}
    family = model.family
    if family == "anthropic":
        _check_claude_fields(amrf, body, model, ctx)
    elif family == "amazon":
        _check_nova(amrf, body, model)
    elif family == "openai":
        _check_gpt_oss(amrf)
    else:
        for key in REASONING_FIELDS:
            if key in amrf:
                raise _extraneous(key)


def _check_claude_fields(amrf, body, model, ctx):
    for key in amrf:
        if key not in CLAUDE_FIELDS:
            # ruby_llm#855 (`reasoning_effort`), BerriAI/litellm#13609 (`reasoning`), Claude on Bedrock
            raise _model_error(f"{key}: Extra inputs are not permitted")
    thinking = amrf.get("thinking")
    if thinking is None:
        return
    if not isinstance(thinking, dict):
        raise _model_error("thinking: Input should be a valid dictionary or object to extract fields from")
    ttype = thinking.get("type")
    if ttype not in ("enabled", "disabled", "adaptive"):
        raise _model_error("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
    if ttype == "disabled":
        return
    if not model.thinking:
        raise _model_error("thinking: Extra inputs are not permitted")
    if ttype == "adaptive" and claude_for(model.model_id).thinking == "enabled":
        # The same check as on InvokeModel (anthropic_validation.py): adaptive is Claude 4.6+.
        raise _model_error("thinking: Input tag 'adaptive' found using 'type' does not match any of the expected "
                           "tags: 'disabled', 'enabled'")
    inf = body.get("inferenceConfig") or {}
    if ttype == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool):
            raise _model_error("thinking.enabled.budget_tokens: Field required")
        if budget < 1024:
            # danny-avila/LibreChat#8346 (Claude 3.7 on Bedrock)
            raise _model_error("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        max_tokens = inf.get("maxTokens", model.max_output)
        if budget >= max_tokens:
            raise _model_error("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                               f"documentation at {_THINKING_DOCS}#max-tokens-and-context-window-size")
    if "temperature" in inf and inf["temperature"] != 1:
        # Aider-AI/aider#3720 (Bedrock), dotCipher/opencode-claude-bridge#1 (current wording)
        raise _model_error("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode. "
                           f"Please consult our documentation at {_CONSIDERATIONS}")
    if "topP" in inf and inf["topP"] < 0.95:
        # tailcallhq/forgecode#3472 (Bedrock)
        raise _model_error("`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled or in "
                           f"adaptive mode. Please consult our documentation at {_CONSIDERATIONS}")
    if "top_k" in amrf:
        # quarkiverse/quarkus-langchain4j#1812
        raise _model_error(f"`top_k` must be unset when thinking is enabled. Please consult our documentation at "
                           f"{_CONSIDERATIONS}")
    anthropic_choice = (amrf.get("tool_choice") or {}).get("type") if isinstance(amrf.get("tool_choice"), dict) else None
    if ctx["tool_choice"] in ("any", "tool") or anthropic_choice in ("any", "tool"):
        # strands-agents/harness-sdk#1495, vercel/ai#17729 (Bedrock)
        raise _model_error("Thinking may not be enabled when tool_choice forces tool use.")
    _check_thinking_leads_tool_turn(body["messages"])


def _check_thinking_leads_tool_turn(msgs):
    last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
    if last is None:
        return
    content = msgs[last]["content"]
    if not any("toolUse" in b for b in content) or "reasoningContent" in content[0]:
        return
    found = "tool_use" if "toolUse" in content[0] else "text" if "text" in content[0] else next(iter(content[0]))
    # anomalyco/opencode#3077 (found `tool_use`), langchain-ai/langchain-aws#844 (found `text`), Bedrock
    raise _model_error(
        f"messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When "
        "`thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the "
        "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
        f"previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at "
        f"{_THINKING_DOCS}")


def _check_nova(amrf, body, model):
    for key in amrf:
        if key == "inferenceConfig":
            continue
        if key == "reasoningConfig":
            _check_reasoning_config(amrf[key], body, model)
            continue
        raise _extraneous(key)


def _check_reasoning_config(cfg, body, model):
    # UKGovernmentBEIS/inspect_ai#5301: Nova Pro (no reasoning) refuses any reasoningConfig.
    invalid = _model_error("Malformed input request: the provided reasoning config value is invalid, "
                           "please reformat your input and try again.")
    if model.reasoning != "reasoningConfig" or not isinstance(cfg, dict):
        raise invalid
    if set(cfg) - {"type", "maxReasoningEffort"} or cfg.get("type") not in ("enabled", "disabled"):
        raise invalid
    if cfg["type"] == "disabled":
        return
    effort = cfg.get("maxReasoningEffort")
    if effort not in EFFORTS:
        raise invalid
    inf = body.get("inferenceConfig") or {}
    if effort == "high":
        # AWS's Nova 2 guide: with effort high, maxTokens, temperature and topP must be unset
        # (UKGovernmentBEIS/inspect_ai#3767 quotes the maxTokens rule). The exact wording was not
        # found in a public report.
        for key in ("maxTokens", "temperature", "topP"):
            if key in inf:
                raise _model_error(f"Malformed input request: inferenceConfig.{key} is not supported when "
                                   "reasoningConfig.maxReasoningEffort is high, please reformat your input "
                                   "and try again.")


def _check_gpt_oss(amrf):
    for key in amrf:
        if key not in GPT_OSS_FIELDS:
            # BerriAI/litellm#13959 (gpt-oss on Bedrock, `thinking` sent)
            raise _model_error(f"Failed to deserialize the JSON body into the target type: {key}: unknown field "
                               f"`{key}`, expected one of " + ", ".join(f"`{f}`" for f in GPT_OSS_FIELDS))
    effort = amrf.get("reasoning_effort")
    if effort is not None and effort not in EFFORTS:
        # serde's wording for a bad enum value (openai/codex#19461 shows it for the Bedrock GPT body)
        raise _model_error("Failed to deserialize the JSON body into the target type: reasoning_effort: "
                           f"unknown variant `{effort}`, expected one of `low`, `medium`, `high`")
