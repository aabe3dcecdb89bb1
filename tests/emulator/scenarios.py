"""Deterministic model behaviour, chosen by a marker in the user text.

The LAST `[[scenario:NAME]]` / `[[scenario:NAME:ARG]]` found in any user text
block selects the scenario (default `echo`). The result is an `Answer`: the
content blocks plus knobs (delays, injected failures) that the HTTP layer
renders either as a Converse JSON body or as ConverseStream events.

Behaviour shared by all scenarios, as a real model would do it:
  * inferenceConfig.maxTokens caps the output (1 word = 1 token): text is cut,
    stopReason becomes max_tokens;
  * inferenceConfig.stopSequences cut the text before the first match,
    stopReason stop_sequence (additionalModelResponseFields.stop_sequence when
    "/stop_sequence" is in additionalModelResponseFieldPaths);
  * reasoning prepends a reasoningContent block: Claude with thinking enabled (signed, see
    thinking_signature.py), Nova 2 with reasoningConfig enabled, gpt-oss and DeepSeek R1
    always (unsigned, as those models return it);
  * toolChoice any/tool makes `echo` call a tool (a forced tool call);
  * Anthropic tool_choice.disable_parallel_tool_use makes `parallel_tools` call one tool;
  * outputConfig.textFormat makes `echo` answer JSON text fitting the schema.
"""

import base64
import hashlib
import json
import re
from dataclasses import dataclass

import prompt_cache
from aws_errors import AwsError, validation
from script import all_user_text, scripted_blocks
from thinking_signature import redacted_blob, sign

MARKER = re.compile(r"\[\[scenario:([A-Za-z0-9_]+)(?::([^\]]*))?\]\]")

DEFAULT_ARGS = {"long": "2000", "slow": "1500", "slow_first_byte": "1500", "shell": "echo hi"}
SCENARIOS = {
    "echo", "tool", "parallel_tools", "text_then_tool", "reasoning", "long", "slow",
    "slow_first_byte", "stream_error", "throttle_stream", "throttle", "error_500",
    "unavailable", "truncate", "corrupt_crc", "max_tokens", "guardrail", "usage_cache",
    "shell", "redacted_reasoning",
}
_LONG_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
               "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")

THROTTLE_MSG = "Too many requests, please wait before trying again."
STREAM_ERROR_MSG = "An error occurred while streaming the response. Retry your request."
GUARDRAIL_MSG = "Sorry, the model cannot answer this question."


@dataclass
class Answer:
    blocks: list  # Converse output content blocks
    stop_reason: str
    usage: dict
    scenario: str = "echo"
    additional_fields: dict | None = None
    http_error: AwsError | None = None  # returned before any body
    first_byte_delay: float = 0.0  # seconds, before the response headers
    converse_delay: float = 0.0  # seconds, non-streaming only
    pause_after_first_delta: float = 0.0  # seconds, streaming only
    stream_exception: tuple | None = None  # (":exception-type", message) after a few deltas
    truncate: bool = False
    corrupt_crc: bool = False
    one_word_deltas: bool = False
    trace: dict | None = None  # Converse `trace` (guardrails.py)


def find_scenario(messages):
    found = None
    for m in messages:
        if m.get("role") != "user":
            continue
        for b in m.get("content", []):
            if isinstance(b.get("text"), str):
                for hit in MARKER.finditer(b["text"]):
                    found = hit
    if not found:
        return "echo", None
    name, arg = found.group(1), found.group(2)
    if name not in SCENARIOS:
        raise validation(f"Unknown emulator scenario '{name}'. Known: {', '.join(sorted(SCENARIOS))}.")
    return name, arg if arg not in (None, "") else DEFAULT_ARGS.get(name)


def _int_arg(arg, name):
    try:
        return int(arg)
    except (TypeError, ValueError):
        raise validation(f"Scenario '{name}' needs an integer argument, got '{arg}'.")


def _last_user_turn(messages):
    for m in reversed(messages):
        if m["role"] == "user":
            return m
    return {"content": []}


def _user_text(turn):
    texts = [MARKER.sub("", b["text"]) for b in turn["content"] if "text" in b]
    return "\n".join(t.strip() for t in texts if t.strip()).strip()


def _tool_result_texts(turn):
    out = []
    for b in turn["content"]:
        if "toolResult" not in b:
            continue
        for item in b["toolResult"]["content"]:
            if "text" in item:
                out.append(item["text"])
            elif "json" in item:
                out.append(json.dumps(item["json"], separators=(",", ":"), ensure_ascii=False))
            else:
                out.append(f"[{next(iter(item))}]")
    return out


def _has_tool_results(turn):
    return any("toolResult" in b for b in turn["content"])


def _digest(*parts) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode("utf-8"))
        h.update(b"\x00")
    return h.digest()


def tool_use_id(seed, index):
    raw = base64.urlsafe_b64encode(_digest("tooluse", seed, index)).decode()
    return "tooluse_" + raw.replace("-", "x").replace("_", "y")[:22]


def _reasoning_block(text, model):
    """Claude signs its thinking; the other families return it unsigned."""
    rt = {"text": text}
    if model.family == "anthropic":
        rt["signature"] = sign(text)
    return {"reasoningContent": {"reasoningText": rt}}


def _reasons_unasked(body, model):
    """Whether the model returns reasoning for this request without a reasoning scenario."""
    amrf = body.get("additionalModelRequestFields") or {}
    if model.reasoning == "thinking":
        return (amrf.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    if model.reasoning == "reasoningConfig":
        return (amrf.get("reasoningConfig") or {}).get("type") == "enabled"
    return model.reasoning in ("reasoning_effort", "always")


def args_from_schema(schema, name=""):
    """Example arguments for a JSON schema, deterministic and schema-valid for simple schemas."""
    if not isinstance(schema, dict):
        return "test"
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return args_from_schema(schema[key][0], name)
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "string")
    if t is None:
        t = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if t == "string":
        return "Paris" if re.search(r"location|city", name, re.I) else "test"
    if t in ("number", "integer"):
        return 42
    if t == "boolean":
        return True
    if t == "null":
        return None
    if t == "array":
        return [args_from_schema(schema.get("items", {}), name)]
    props = schema.get("properties") or {}
    out = {}
    for key in list(schema.get("required") or []) + [k for k in props if k not in (schema.get("required") or [])]:
        if key not in out:
            out[key] = args_from_schema(props.get(key, {"type": "string"}), key)
    return out


def _offered_tools(body):
    tools = [t["toolSpec"] for t in (body.get("toolConfig") or {}).get("tools", []) if "toolSpec" in t]
    choice = (body.get("toolConfig") or {}).get("toolChoice") or {}
    if "tool" in choice:
        named = [t for t in tools if t["name"] == choice["tool"]["name"]]
        return named, choice
    return tools, choice


def _tool_block(spec, seed, index):
    return {"toolUse": {
        "toolUseId": tool_use_id(seed, index),
        "name": spec["name"],
        "input": args_from_schema(spec["inputSchema"]["json"]),
    }}


def _shell_call(tools, command, seed):
    """A coding agent's shell tool called with `command`: Codex's `exec_command` ({"cmd"}) or
    a `shell` tool taking an argv ({"command": [...]})."""
    for spec in tools:
        if spec["name"] == "exec_command":
            args = {"cmd": command}
        elif spec["name"] in ("shell", "local_shell"):
            args = {"command": ["bash", "-lc", command]}
        else:
            continue
        return {"toolUse": {"toolUseId": tool_use_id(seed, 0), "name": spec["name"], "input": args}}
    raise validation("Scenario 'shell' needs an offered tool named exec_command or shell.")


def _words(text):
    return len(text.split())


def _json_words(value):
    return len(re.findall(r"\w+", json.dumps(value)))


def _block_tokens(block):
    if "text" in block:
        return _words(block["text"])
    if "toolUse" in block:
        return _json_words(block["toolUse"]["input"]) + 1
    if "reasoningContent" in block:
        rt = block["reasoningContent"].get("reasoningText")
        return _words(rt["text"]) if rt else 20
    return 0


def _input_items(body):
    """(tokens, canonical text, is_cache_point) in cache-prefix order: tools, system, messages."""
    items = []
    for t in (body.get("toolConfig") or {}).get("tools", []):
        if "cachePoint" in t:
            items.append((0, "cp", True))
        else:
            items.append((_json_words(t) + 5, json.dumps(t, sort_keys=True), False))
    for b in body.get("system") or []:
        if "cachePoint" in b:
            items.append((0, "cp", True))
        else:
            items.append((_json_words(b), json.dumps(b, sort_keys=True), False))
    for m in body["messages"]:
        items.append((3, "role:" + m["role"], False))
        for b in m["content"]:
            if "cachePoint" in b:
                items.append((0, "cp", True))
            elif "text" in b:
                items.append((_words(b["text"]), json.dumps(b, sort_keys=True), False))
            elif "image" in b:
                items.append((100, json.dumps(b, sort_keys=True), False))
            else:
                items.append((_json_words(b), json.dumps(b, sort_keys=True), False))
    return items


class CacheStore:
    """Prompt-cache prefixes seen so far: first request writes, later identical prefixes read."""

    def __init__(self):
        import threading
        self._seen = set()
        self._lock = threading.Lock()

    def touch(self, key) -> bool:
        """Return True when the prefix was already cached."""
        with self._lock:
            hit = key in self._seen
            self._seen.add(key)
            return hit

    def clear(self):
        with self._lock:
            self._seen.clear()


def _usage(body, model, model_id, blocks, cache: CacheStore, force_cache: bool):
    return prompt_cache.usage(_input_items(body), model, model_id, sum(_block_tokens(b) for b in blocks),
                              cache, force_cache)


def _apply_limits(body, blocks, stop_reason):
    """Stop sequences and maxTokens, like the model would honour them."""
    inf = body.get("inferenceConfig") or {}
    extra = None
    seqs = inf.get("stopSequences") or []
    for i, b in enumerate(blocks):
        if "text" not in b or not seqs:
            continue
        hits = [(b["text"].find(s), s) for s in seqs if s in b["text"]]
        if hits:
            pos, seq = min(hits)
            cut = b["text"][:pos]
            blocks = blocks[:i] + ([{"text": cut}] if cut.strip() else [])
            stop_reason = "stop_sequence"
            if "/stop_sequence" in (body.get("additionalModelResponseFieldPaths") or []):
                extra = {"stop_sequence": seq}
            break
    limit = inf.get("maxTokens")
    if limit is not None:
        used, kept = 0, []
        for b in blocks:
            n = _block_tokens(b)
            if used + n <= limit:
                kept.append(b)
                used += n
                continue
            room = limit - used
            if "text" in b and room > 0:
                kept.append({"text": " ".join(b["text"].split()[:room])})
            stop_reason = "max_tokens"
            break
        blocks = kept
    return blocks, stop_reason, extra


def build_answer(body, model, model_id, cache: CacheStore, streaming: bool, script=None) -> Answer:
    messages = body["messages"]
    scripted = script.turn_for(messages, all_user_text(messages)) if script else None
    name, arg = ("script", None) if scripted else find_scenario(messages)
    turn = _last_user_turn(messages)
    seed = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
    user_text = _user_text(turn)
    echo_text = f"Echo: {user_text}".strip()
    tools, choice = _offered_tools(body)
    answered_tools = _has_tool_results(turn)
    if answered_tools:
        echo_text = "Tool results: " + " | ".join(_tool_result_texts(turn))

    ans = Answer(blocks=[{"text": echo_text}], stop_reason="end_turn", usage={}, scenario=name)

    wants_tool = name in ("tool", "parallel_tools", "text_then_tool") or (
        name == "echo" and ("any" in choice or "tool" in choice))
    no_parallel = (((body.get("additionalModelRequestFields") or {}).get("tool_choice") or {})
                   .get("disable_parallel_tool_use") is True)
    text_format = (body.get("outputConfig") or {}).get("textFormat")
    if scripted:
        ans.scenario = f"script:{scripted[0]}"
        ans.blocks, ans.stop_reason = scripted_blocks(scripted[1], tools, lambda i: tool_use_id(seed, i))
    elif wants_tool and tools and not answered_tools:
        if name == "parallel_tools" and not no_parallel:
            second = tools[1] if len(tools) > 1 else tools[0]
            ans.blocks = [_tool_block(tools[0], seed, 0), _tool_block(second, seed, 1)]
        elif name == "text_then_tool":
            ans.blocks = [{"text": "Let me check that."}, _tool_block(tools[0], seed, 0)]
        else:
            ans.blocks = [_tool_block(tools[0], seed, 0)]
        ans.stop_reason = "tool_use"
    elif name == "shell" and not answered_tools:
        ans.blocks = [_shell_call(tools, arg, seed)]
        ans.stop_reason = "tool_use"
    elif text_format and name == "echo":
        # Structured output: the answer is JSON text that fits the schema.
        schema = json.loads(text_format["structure"]["jsonSchema"]["schema"])
        ans.blocks = [{"text": json.dumps(args_from_schema(schema), separators=(",", ":"))}]
    elif name == "reasoning":
        ans.blocks = [_reasoning_block(f"Thinking about: {user_text}", model), {"text": echo_text}]
    elif name == "redacted_reasoning":
        ans.blocks = [{"reasoningContent": {"redactedContent": redacted_blob(seed)}}, {"text": echo_text}]
    elif name == "long":
        n = _int_arg(arg, name)
        ans.blocks = [{"text": " ".join(_LONG_WORDS[i % len(_LONG_WORDS)] for i in range(n))}] if n > 0 else []
        ans.one_word_deltas = True
    elif name == "slow":
        if streaming:
            ans.pause_after_first_delta = _int_arg(arg, name) / 1000
        else:
            ans.converse_delay = _int_arg(arg, name) / 1000
    elif name == "slow_first_byte":
        ans.first_byte_delay = _int_arg(arg, name) / 1000
    elif name == "stream_error":
        if streaming:
            ans.stream_exception = ("modelStreamErrorException", STREAM_ERROR_MSG)
        else:
            ans.http_error = AwsError(424, "ModelErrorException",
                                      "The system encountered an unexpected error during processing. "
                                      "Try your request again.")
    elif name == "throttle_stream":
        if streaming:
            ans.stream_exception = ("throttlingException", THROTTLE_MSG)
        else:
            ans.http_error = AwsError(429, "ThrottlingException", THROTTLE_MSG)
    elif name == "throttle":
        ans.http_error = AwsError(429, "ThrottlingException", THROTTLE_MSG)
    elif name == "error_500":
        ans.http_error = AwsError(500, "InternalServerException",
                                  "The server encountered an internal error while processing the request.")
    elif name == "unavailable":
        ans.http_error = AwsError(503, "ServiceUnavailableException", "Bedrock is unable to process your request.")
    elif name == "truncate":
        ans.truncate = True
    elif name == "corrupt_crc":
        ans.corrupt_crc = streaming
    elif name == "max_tokens":
        ans.blocks = [{"text": "This answer is deliberately cut off in the middle of a"}]
        ans.stop_reason = "max_tokens"
    elif name == "guardrail":
        ans.blocks = [{"text": GUARDRAIL_MSG}]
        ans.stop_reason = "guardrail_intervened"

    if ans.http_error is None:
        if _reasons_unasked(body, model) and not any("reasoningContent" in b for b in ans.blocks):
            ans.blocks.insert(0, _reasoning_block(f"Thinking about: {user_text or 'the tool results'}", model))
        ans.blocks, ans.stop_reason, ans.additional_fields = _apply_limits(body, ans.blocks, ans.stop_reason)
        if name in ("max_tokens", "guardrail"):
            ans.stop_reason = "max_tokens" if name == "max_tokens" else "guardrail_intervened"
        ans.usage = _usage(body, model, model_id, ans.blocks, cache, force_cache=(name == "usage_cache"))
    return ans


def converse_body(ans: Answer, latency_ms: int) -> dict:
    out = {
        "output": {"message": {"role": "assistant", "content": ans.blocks}},
        "stopReason": ans.stop_reason,
        "usage": ans.usage,
        "metrics": {"latencyMs": latency_ms},
    }
    if ans.additional_fields:
        out["additionalModelResponseFields"] = ans.additional_fields
    if ans.trace:
        out["trace"] = ans.trace
    return out


def _split_text(text, rng, one_word):
    pieces = re.findall(r"\S+\s*|\s+", text)
    if one_word:
        return pieces
    out, i = [], 0
    while i < len(pieces):
        n = rng.randint(1, 3)
        out.append("".join(pieces[i:i + n]))
        i += n
    return out


def _split_json(s, rng):
    out, i = [], 0
    while i < len(s):
        n = rng.randint(3, 20)
        out.append(s[i:i + n])
        i += n
    return out or [""]


def stream_events(ans: Answer, rng):
    """ConverseStream events in Bedrock's order, as (event_type, payload) pairs.

    Text and reasoning blocks get no contentBlockStart (Bedrock sends one only
    for toolUse); every block ends with contentBlockStop. metadata (usage +
    latency) is appended by the caller, which knows the elapsed time.
    """
    events = [("messageStart", {"role": "assistant"})]
    for i, b in enumerate(ans.blocks):
        if "text" in b:
            for piece in _split_text(b["text"], rng, ans.one_word_deltas):
                events.append(("contentBlockDelta", {"contentBlockIndex": i, "delta": {"text": piece}}))
        elif "toolUse" in b:
            tu = b["toolUse"]
            events.append(("contentBlockStart", {"contentBlockIndex": i, "start": {
                "toolUse": {"toolUseId": tu["toolUseId"], "name": tu["name"]}}}))
            for frag in _split_json(json.dumps(tu["input"], separators=(",", ":"), ensure_ascii=False), rng):
                events.append(("contentBlockDelta", {"contentBlockIndex": i, "delta": {"toolUse": {"input": frag}}}))
        elif "redactedContent" in b.get("reasoningContent", {}):
            events.append(("contentBlockDelta", {"contentBlockIndex": i, "delta": {
                "reasoningContent": {"redactedContent": b["reasoningContent"]["redactedContent"]}}}))
        elif "reasoningContent" in b:
            rt = b["reasoningContent"]["reasoningText"]
            for piece in _split_text(rt["text"], rng, False):
                events.append(("contentBlockDelta", {"contentBlockIndex": i,
                                                     "delta": {"reasoningContent": {"text": piece}}}))
            if "signature" in rt:
                events.append(("contentBlockDelta", {"contentBlockIndex": i,
                                                     "delta": {"reasoningContent": {"signature": rt["signature"]}}}))
        events.append(("contentBlockStop", {"contentBlockIndex": i}))
    stop = {"stopReason": ans.stop_reason}
    if ans.additional_fields:
        stop["additionalModelResponseFields"] = ans.additional_fields
    events.append(("messageStop", stop))
    return events
