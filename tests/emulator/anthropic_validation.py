"""Validation of InvokeModel bodies for Claude (the Anthropic Messages format), as Bedrock does it.

Two layers, as on Bedrock:
  1. Bedrock's own JSON-schema check of the top-level keys. Its wording, from public reports
     (fumito-ito/AnthropicSwiftSDK#19, sigoden/aichat#543):
       Malformed input request: #: subject must not be valid against schema {"required":["messages"]}
       #: extraneous key [stream] is not permitted#: extraneous key [model] is not permitted,
       please reformat your input and try again.
     `required key [anthropic_version] not found` in the same style (several reports), and a
     wrong version answers `Invalid API version: <value>` (boto/boto3#4218).
  2. The model's own checks, passed through verbatim as a ValidationException (no "The model
     returned the following errors:" prefix, which only Converse adds): pydantic-style paths
     such as `tools.11.custom.defer_loading: Extra inputs are not permitted`
     (anthropics/claude-code#82549), `...image.source.base64.media_type: Input should be
     'image/jpeg', 'image/png', 'image/gif' or 'image/webp'` (claude-code#4661), the tool_use /
     tool_result pairing messages (claude-code#5705, continuedev/continue#11929), the thinking
     block rule (anomalyco/opencode#3077) and `invalid beta flag` (farion1231/cc-switch#707,
     claude-code#49370) for any beta the model does not take, in the body's `anthropic_beta`
     or in the `anthropic-beta` header.
Claude 3.x models (legacy_schema) refuse unknown nested keys with the schema wording too.
"""

import base64
import binascii
import re

from anthropic_models import Claude
from aws_errors import AwsError, validation
from thinking_signature import redacted_valid, signature_valid

BEDROCK_VERSION = "bedrock-2023-05-31"
_BASE_KEYS = ("anthropic_version", "anthropic_beta", "max_tokens", "messages", "system", "temperature",
              "top_p", "top_k", "stop_sequences", "tools", "tool_choice", "metadata")
_REQUIRED = ("max_tokens", "anthropic_version", "messages")
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_BLOCK_TAGS = ("text", "image", "document", "search_result", "tool_use", "tool_result", "thinking",
               "redacted_thinking")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
SERVER_TOOL_TYPE = re.compile(r"^[a-z_]+_\d{8}$")
MAX_CACHE_BREAKPOINTS = 4
INVALID_BETA = "invalid beta flag"


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _malformed(*parts):
    return validation("Malformed input request: " + "".join(f"#: {p}" for p in parts)
                      + ", please reformat your input and try again.")


class _Ctx:
    def __init__(self, claude: Claude, betas: set):
        self.claude = claude
        self.betas = betas
        self.cache_breakpoints = 0


def _extra(path):
    return validation(f"{path}: Extra inputs are not permitted")


def _keys(ctx, d, allowed, path):
    """Unknown keys: the schema wording on Claude 3.x, pydantic's on newer models."""
    for k in d:
        if k not in allowed:
            if ctx.claude.legacy_schema:
                raise _malformed(f"extraneous key [{k}] is not permitted")
            raise _extra(f"{path}.{k}" if path else k)


def _need(d, key, path):
    if key not in d:
        raise validation(f"{path}.{key}: Field required")
    return d[key]


def _string(v, path):
    if not isinstance(v, str):
        raise validation(f"{path}: Input should be a valid string")
    return v


def _dict(v, path):
    if not isinstance(v, dict):
        raise validation(f"{path}: Input should be a valid dictionary or object to extract fields from")
    return v


def _array(v, path):
    if not isinstance(v, list):
        raise validation(f"{path}: Input should be a valid list")
    return v


def _cache_control(ctx, block, path):
    cc = block.get("cache_control")
    if cc is None:
        return
    if not ctx.claude.caching:
        raise _malformed("extraneous key [cache_control] is not permitted")
    _dict(cc, path + ".cache_control")
    if cc.get("type") != "ephemeral":
        raise validation(f"{path}.cache_control.type: Input should be 'ephemeral'")
    _keys(ctx, cc, ("type", "ttl"), path + ".cache_control")
    if "ttl" in cc and cc["ttl"] not in ("5m", "1h"):
        raise validation(f"{path}.cache_control.ttl: Input should be '5m' or '1h'")
    ctx.cache_breakpoints += 1


def _text_block(ctx, b, path):
    _keys(ctx, b, ("type", "text", "cache_control", "citations"), path)
    text = _string(_need(b, "text", path), path + ".text")
    if not text:
        raise validation("messages: text content blocks must be non-empty")
    if not text.strip():
        raise validation("messages: text content blocks must contain non-whitespace text")
    _cache_control(ctx, b, path)


def _image_block(ctx, b, path):
    _keys(ctx, b, ("type", "source", "cache_control"), path)
    src = _dict(_need(b, "source", path), path + ".source")
    stype = src.get("type")
    if stype != "base64":
        # Bedrock's Claude takes inline bytes only; URL and file sources are refused
        # (pollinations/pollinations#5862: image URLs fail on Bedrock, base64 works).
        raise validation(f"{path}.source: Input tag '{stype}' found using 'type' does not match any of the "
                         "expected tags: 'base64'")
    if src.get("media_type") not in _IMAGE_TYPES:
        raise validation(f"{path}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
                         "'image/gif' or 'image/webp'")
    _b64(src.get("data"), path + ".source.base64.data")
    _cache_control(ctx, b, path)


def _b64(v, path):
    _string(v, path)
    try:
        if not base64.b64decode(v, validate=True):
            raise ValueError
    except (binascii.Error, ValueError):
        raise validation(f"{path}: invalid base64 data")


def _document_block(ctx, b, path):
    _keys(ctx, b, ("type", "source", "title", "context", "citations", "cache_control"), path)
    src = _dict(_need(b, "source", path), path + ".source")
    stype = src.get("type")
    if stype == "base64":
        if src.get("media_type") != "application/pdf":
            raise validation(f"{path}.source.base64.media_type: Input should be 'application/pdf'")
        _b64(src.get("data"), path + ".source.base64.data")
    elif stype == "text":
        if src.get("media_type") != "text/plain":
            raise validation(f"{path}.source.text.media_type: Input should be 'text/plain'")
        _string(src.get("data"), path + ".source.text.data")
    elif stype == "content":
        for j, inner in enumerate(_array(src.get("content"), path + ".source.content.content")):
            _block(ctx, inner, f"{path}.source.content.content.{j}", "user", inner_allowed=("text", "image"))
    else:
        raise validation(f"{path}.source: Input tag '{stype}' found using 'type' does not match any of the "
                         "expected tags: 'base64', 'content', 'text'")
    _cache_control(ctx, b, path)


def _tool_result_block(ctx, b, path):
    _keys(ctx, b, ("type", "tool_use_id", "content", "is_error", "cache_control"), path)
    if not TOOL_ID.match(_string(_need(b, "tool_use_id", path), path + ".tool_use_id")):
        raise validation(f"{path}.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'")
    content = b.get("content")
    if isinstance(content, list):
        inner = ("text", "image", "document", "search_result")
        if "tool-search-tool-2025-10-19" in ctx.betas:
            inner += ("tool_reference",)  # tool search answers with references to deferred tools
        for j, item in enumerate(content):
            _block(ctx, item, f"{path}.content.{j}", "user", inner_allowed=inner)
    elif content is not None:
        _string(content, path + ".content")
    _cache_control(ctx, b, path)


def _block(ctx, b, path, role, inner_allowed=None):
    _dict(b, path)
    tag = b.get("type")
    allowed = inner_allowed or _BLOCK_TAGS
    if tag not in allowed:
        raise validation(f"{path}: Input tag '{tag}' found using 'type' does not match any of the expected tags: "
                         + ", ".join(f"'{t}'" for t in allowed))
    if tag == "text":
        return _text_block(ctx, b, path)
    if tag == "image":
        return _image_block(ctx, b, path)
    if tag == "document":
        return _document_block(ctx, b, path)
    if tag == "search_result":
        _keys(ctx, b, ("type", "source", "title", "content", "citations", "cache_control"), path)
        return _cache_control(ctx, b, path)
    if tag == "tool_reference":
        _keys(ctx, b, ("type", "tool_name"), path)
        return _string(_need(b, "tool_name", path), path + ".tool_name")
    if tag in ("tool_use", "thinking", "redacted_thinking") and role != "assistant":
        raise validation(f"{path}: `{tag}` blocks can only be in `assistant` messages")
    if tag == "tool_result" and role != "user":
        raise validation(f"{path}: `tool_result` blocks can only be in `user` messages")
    if tag == "tool_use":
        _keys(ctx, b, ("type", "id", "name", "input", "cache_control"), path)
        if not TOOL_ID.match(_string(_need(b, "id", path), path + ".id")):
            raise validation(f"{path}.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
        _string(_need(b, "name", path), path + ".name")
        _dict(_need(b, "input", path), path + ".input")
        return _cache_control(ctx, b, path)
    if tag == "tool_result":
        return _tool_result_block(ctx, b, path)
    if tag == "thinking":
        if not ctx.claude.thinking:
            raise _malformed("extraneous key [thinking] is not permitted")
        _keys(ctx, b, ("type", "thinking", "signature"), path)
        text = _string(_need(b, "thinking", path), path + ".thinking")
        signature = _string(_need(b, "signature", path), path + ".signature")
        if not signature_valid(text, signature):
            # chenhg5/cc-connect#897 (Claude Code's Bedrock mode), openclaw/openclaw#88020
            raise validation(f"{path}: Invalid signature in thinking block")
        return signature
    _keys(ctx, b, ("type", "data"), path)  # redacted_thinking
    data = _string(_need(b, "data", path), path + ".data")
    if not redacted_valid(data):
        raise validation(f"{path}: Invalid `data` in `redacted_thinking` block")  # microsoft/vscode#320196
    return data


def _messages(ctx, body):
    msgs = _array(body["messages"], "messages")
    if not msgs:
        raise validation("messages: List should have at least 1 item after validation, not 0")
    roles = ("user", "assistant", "system") if ctx.claude.mid_conversation_system else ("user", "assistant")
    for i, m in enumerate(msgs):
        path = f"messages.{i}"
        _dict(m, path)
        _keys(ctx, m, ("role", "content"), path)
        role = _need(m, "role", path)
        if role not in roles:
            raise validation(f"{path}.role: Input should be " + " or ".join(f"'{r}'" for r in roles))
        content = _need(m, "content", path)
        if isinstance(content, str):
            if not content and not (role == "assistant" and i == len(msgs) - 1):
                raise validation(f"{path}: all messages must have non-empty content except for the optional "
                                 "final assistant message")
            continue
        _array(content, path + ".content")
        if not content and not (role == "assistant" and i == len(msgs) - 1):
            raise validation(f"{path}: all messages must have non-empty content except for the optional final "
                             "assistant message")
        for j, b in enumerate(content):
            _block(ctx, b, f"{path}.content.{j}", role)
    _tool_pairing(msgs)
    last = msgs[-1]
    if last["role"] == "assistant":
        tail = last["content"] if isinstance(last["content"], str) else (
            last["content"][-1].get("text", "x") if last["content"] else "x")
        if tail != tail.rstrip():
            raise validation("messages: final assistant content cannot end with trailing whitespace")


def _blocks(m):
    return m["content"] if isinstance(m["content"], list) else []


def _tool_pairing(msgs):
    convo = [(i, m) for i, m in enumerate(msgs) if m["role"] != "system"]
    for n, (i, m) in enumerate(convo):
        if m["role"] == "assistant":
            ids = [b["id"] for b in _blocks(m) if b.get("type") == "tool_use"]
            if not ids:
                continue
            nxt = convo[n + 1][1] if n + 1 < len(convo) else None
            answered = {b.get("tool_use_id") for b in _blocks(nxt)} if nxt and nxt["role"] == "user" else set()
            missing = [t for t in ids if t not in answered]
            if missing and nxt is not None:
                raise validation(f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately "
                                 f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                                 "`tool_result` block in the next message.")
        else:
            results = [b for b in _blocks(m) if b.get("type") == "tool_result"]
            if not results:
                continue
            prev = convo[n - 1][1] if n else None
            offered = {b.get("id") for b in _blocks(prev) if b.get("type") == "tool_use"} if prev else set()
            for j, b in enumerate(_blocks(m)):
                if b.get("type") == "tool_result" and b["tool_use_id"] not in offered:
                    raise validation(f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                                     f"blocks: {b['tool_use_id']}. Each `tool_result` block must have a corresponding "
                                     "`tool_use` block in the previous message.")


def _system(ctx, body):
    system = body.get("system")
    if system is None or isinstance(system, str):
        return
    for i, b in enumerate(_array(system, "system")):
        path = f"system.{i}"
        _dict(b, path)
        if b.get("type") != "text":
            raise validation(f"{path}.type: Field required" if "type" not in b
                             else f"{path}.type: Input should be 'text'")
        _text_block(ctx, b, path)


def _tools(ctx, body):
    names = set()
    tools = body.get("tools")
    if tools is None:
        return names
    for i, t in enumerate(_array(tools, "tools")):
        path = f"tools.{i}"
        _dict(t, path)
        ttype = t.get("type", "custom")
        if ttype != "custom":
            if not isinstance(ttype, str) or not SERVER_TOOL_TYPE.match(ttype):
                raise validation(f"{path}: Input tag '{ttype}' found using 'type' does not match any of the expected "
                                 "tags")
            names.add(_string(_need(t, "name", path), path + ".name"))
            _cache_control(ctx, t, path)
            continue
        cpath = path + ".custom"
        allowed = ["type", "name", "description", "input_schema", "cache_control"]
        if "tool-examples-2025-10-29" in ctx.betas:
            allowed.append("input_examples")
        _keys(ctx, t, allowed, cpath)
        name = _string(_need(t, "name", cpath), cpath + ".name")
        if not TOOL_NAME.match(name):
            raise validation(f"{cpath}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        if name in names:
            raise validation("tools: Tool names must be unique.")
        names.add(name)
        schema = _dict(_need(t, "input_schema", cpath), cpath + ".input_schema")
        if schema.get("type") != "object":
            raise validation(f"{cpath}.input_schema.type: Input should be 'object'")
        _cache_control(ctx, t, path)
    return names


def _tool_choice(ctx, body, names):
    tc = body.get("tool_choice")
    if tc is None:
        return None
    _dict(tc, "tool_choice")
    kind = tc.get("type")
    if kind not in ("auto", "any", "tool", "none"):
        raise validation(f"tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected "
                         "tags: 'auto', 'any', 'tool', 'none'")
    _keys(ctx, tc, ("type", "name", "disable_parallel_tool_use") if kind == "tool"
          else ("type", "disable_parallel_tool_use"), f"tool_choice.{kind}")
    if kind == "tool" and _string(_need(tc, "name", "tool_choice.tool"), "tool_choice.tool.name") not in names:
        raise validation(f"Tool '{tc['name']}' not found in provided tools")
    if kind != "none" and "tools" not in body:
        raise validation("tool_choice may only be specified while providing tools.")
    return kind


def _sampling(ctx, body, max_output):
    mt = body["max_tokens"]
    if not _is_int(mt):
        raise validation("max_tokens: Input should be a valid integer")
    if mt < 1:
        raise validation("max_tokens: Input should be greater than or equal to 1")
    if mt > max_output:
        raise validation(f"max_tokens: {mt} > {max_output}, which is the maximum allowed number of output tokens "
                         f"for {ctx.claude.name}")
    for key, hi in (("temperature", 1), ("top_p", 1)):
        if key in body:
            v = body[key]
            if not _is_num(v) or not 0 <= v <= hi:
                raise validation(f"{key}: Input should be less than or equal to {hi}" if _is_num(v)
                                 else f"{key}: Input should be a valid number")
    if "top_k" in body and (not _is_int(body["top_k"]) or body["top_k"] < 0):
        raise validation("top_k: Input should be greater than or equal to 0")
    if ctx.claude.temperature_xor_top_p and "temperature" in body and "top_p" in body:
        raise validation("`temperature` and `top_p` cannot both be specified for this model. Please use only one.")
    seqs = body.get("stop_sequences")
    if seqs is not None:
        for i, s in enumerate(_array(seqs, "stop_sequences")):
            _string(s, f"stop_sequences.{i}")
    md = body.get("metadata")
    if md is not None:
        _keys(ctx, _dict(md, "metadata"), ("user_id",), "metadata")
        if md.get("user_id") is not None:
            _string(md["user_id"], "metadata.user_id")


def _thinking(ctx, body, tool_choice):
    th = body.get("thinking")
    if th is None:
        return False
    if not ctx.claude.thinking:
        raise _malformed("extraneous key [thinking] is not permitted")
    _dict(th, "thinking")
    kind = th.get("type")
    if kind not in ("enabled", "disabled", "adaptive"):
        raise validation(f"thinking: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
                         "'disabled', 'enabled', 'adaptive'")
    if kind == "disabled":
        return False
    if kind == "adaptive" and ctx.claude.thinking == "enabled":
        raise validation("thinking: Input tag 'adaptive' found using 'type' does not match any of the expected tags: "
                         "'disabled', 'enabled'")
    if kind == "enabled" and ctx.claude.thinking == "adaptive":
        # anthropics/claude-code-action#1265 (Opus 4.7 on Bedrock)
        raise validation('"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" '
                         'and "output_config.effort" to control thinking behavior.')
    if kind == "enabled":
        _keys(ctx, th, ("type", "budget_tokens"), "thinking.enabled")
        budget = _need(th, "budget_tokens", "thinking.enabled")
        if not _is_int(budget):
            raise validation("thinking.enabled.budget_tokens: Input should be a valid integer")
        if budget < 1024:
            raise validation("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        # Interleaved thinking lets the budget span the whole turn, beyond one answer's max_tokens.
        if budget >= body["max_tokens"] and "interleaved-thinking-2025-05-14" not in ctx.betas:
            raise validation("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                             "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                             "#max-tokens-and-context-window-size")
    else:
        _keys(ctx, th, ("type",), "thinking.adaptive")
    if "temperature" in body and body["temperature"] != 1:
        raise validation("`temperature` may only be set to 1 when thinking is enabled. Please consult our "
                         "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                         "#feature-compatibility")
    if "top_p" in body and body["top_p"] < 0.95:
        raise validation("`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. Please "
                         "consult our documentation at https://docs.claude.com/en/docs/build-with-claude/"
                         "extended-thinking#feature-compatibility")
    if "top_k" in body:
        raise validation("`top_k` must be unset when thinking is enabled. Please consult our documentation at "
                         "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility")
    if tool_choice in ("any", "tool"):
        raise validation("Thinking may not be enabled when tool_choice forces tool use.")
    return True


def _thinking_first(body):
    """With thinking on, the assistant turn of the current tool loop starts with its thinking."""
    msgs = [(i, m) for i, m in enumerate(body["messages"]) if m["role"] != "system"]
    if not msgs or msgs[-1][1]["role"] != "user":
        return
    if not any(b.get("type") == "tool_result" for b in _blocks(msgs[-1][1])):
        return
    for i, m in reversed(msgs):
        if m["role"] != "assistant":
            continue
        blocks = _blocks(m)
        if any(b.get("type") == "tool_use" for b in blocks) and blocks[0].get("type") not in (
                "thinking", "redacted_thinking"):
            raise validation(f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                             f"`{blocks[0].get('type')}`. When `thinking` is enabled, a final `assistant` message "
                             "must start with a thinking block (preceeding the lastmost set of `tool_use` and "
                             "`tool_result` blocks). We recommend you include thinking blocks from previous turns. "
                             "To avoid this requirement, disable `thinking`. Please consult our documentation at "
                             "https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
        return


def _gated(ctx, body):
    cm = body.get("context_management")
    if cm is not None and "context-management-2025-06-27" not in ctx.betas:
        raise _extra("context_management")
    oc = body.get("output_config")
    if oc is not None:
        _dict(oc, "output_config")
        _keys(ctx, oc, ("effort",), "output_config")
        if "effort" in oc:
            if not ctx.claude.effort or (ctx.claude.effort == "beta" and "effort-2025-11-24" not in ctx.betas):
                raise _extra("output_config.effort")
            if oc["effort"] not in ("low", "medium", "high", "max"):
                raise validation("output_config.effort: Input should be 'low', 'medium', 'high' or 'max'")


def collect_betas(body, header_value):
    """Betas named in the body's anthropic_beta and the anthropic-beta header (comma-separated)."""
    betas = []
    raw = body.get("anthropic_beta") if isinstance(body, dict) else None
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(b, str) for b in raw):
            raise validation("anthropic_beta: Input should be a valid list of strings")
        betas += raw
    if header_value:
        betas += [b.strip() for b in header_value.split(",") if b.strip()]
    return betas


def max_output_for(claude: Claude, betas, catalog_max: int) -> int:
    for beta, raised in claude.max_output_betas:
        if beta in betas:
            return raised
    return catalog_max


def validate_anthropic(body, claude: Claude, header_betas: str | None, catalog_max: int) -> dict:
    """Raises AwsError like Bedrock; returns facts the answer needs (betas, thinking on)."""
    if not isinstance(body, dict):
        raise validation("Malformed input request, please reformat your input and try again.")
    allowed = set(_BASE_KEYS)
    if claude.thinking:
        allowed |= {"thinking", "output_config", "context_management"}
    schema_errors = []
    if "messages" in body:
        # Bedrock's schema is "messages API or (not messages) text completions"; failing the
        # first branch also reports the second branch's failure first.
        schema_errors.append('subject must not be valid against schema {"required":["messages"]}')
    missing = [f"required key [{k}] not found" for k in _REQUIRED if k not in body]
    extra = [f"extraneous key [{k}] is not permitted" for k in body if k not in allowed]
    if missing or extra:
        raise _malformed(*(schema_errors + missing + extra))
    if body["anthropic_version"] != BEDROCK_VERSION:
        raise validation(f"Invalid API version: {body['anthropic_version']}")
    betas = collect_betas(body, header_betas)
    if any(b not in claude.betas for b in betas):
        raise AwsError(400, "ValidationException", INVALID_BETA)
    ctx = _Ctx(claude, set(betas))
    _sampling(ctx, body, max_output_for(claude, betas, catalog_max))
    _system(ctx, body)
    names = _tools(ctx, body)
    choice = _tool_choice(ctx, body, names)
    _messages(ctx, body)
    thinking_on = _thinking(ctx, body, choice)
    if thinking_on and body["thinking"]["type"] == "enabled" and "interleaved-thinking-2025-05-14" not in betas:
        # Every public report of this refusal is without the interleaved-thinking beta
        # (aws-samples/bedrock-access-gateway#119, anomalyco/opencode#3077,
        # langchain-ai/langchain-aws#844). Claude Code's Bedrock mode always sends that beta and
        # replays tool turns without their thinking (2.1.197 drops thinking blocks whose
        # `model` differs from the requested id, and Bedrock answers `claude-sonnet-4-5-…` to
        # `us.anthropic.claude-sonnet-4-5-…-v1:0`), which works on Bedrock; adaptive thinking
        # may legitimately skip thinking, so it is not checked either.
        _thinking_first(body)
    _gated(ctx, body)
    if ctx.cache_breakpoints > MAX_CACHE_BREAKPOINTS:
        raise validation(f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
                         f"Found {ctx.cache_breakpoints}.")
    return {"betas": betas, "thinking": thinking_on}
