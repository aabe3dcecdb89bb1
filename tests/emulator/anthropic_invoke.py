"""InvokeModel / InvokeModelWithResponseStream / CountTokens for Claude, with Anthropic semantics.

The body is validated as Bedrock does (anthropic_validation.py), then seen as a Converse body
so the scenarios, scripted conversations and usage of scenarios.py drive Claude the same way
on every API. The answer is rendered back in Anthropic's shapes as Bedrock returns them:
  * InvokeModel: the Anthropic Message JSON (`msg_bdrk_…` / `toolu_bdrk_…` ids, the model's
    Anthropic name) with X-Amzn-Bedrock-*-Token-Count headers;
  * InvokeModelWithResponseStream: one `chunk` event per Anthropic stream event, payload
    {"bytes": base64(event JSON), "p": padding}, message_stop carrying
    `amazon-bedrock-invocationMetrics`;
  * with a guardrail (X-Amzn-Bedrock-Guardrail* headers), invoke_guardrails.py decides and adds
    its fields to both;
  * CountTokens: {"input": {"invokeModel": {"body": base64}} | {"converse": {...}}} ->
    {"inputTokens": N}, on base foundation-model ids only (inference profile ids and ARNs get
    "The provided model doesn't support counting tokens.", pydantic/pydantic-ai#4001,
    Boise-State-Development/agentcore-public-stack#430).
"""

import base64
import binascii
import hashlib
import json
import random
import time

import invoke_guardrails
from anthropic_models import claude_for
from anthropic_validation import validate_anthropic
from aws_errors import validation
from converse_validation import validate_converse
from eventstream_encode import event_frame, exception_frame
from scenarios import _input_items, _split_json, _split_text, build_answer

NO_COUNT = "The provided model doesn't support counting tokens."
_STOP = {"end_turn": "end_turn", "tool_use": "tool_use", "max_tokens": "max_tokens",
         "stop_sequence": "stop_sequence", "guardrail_intervened": "end_turn"}


def _cache_point():
    return {"cachePoint": {"type": "default"}}


def _with_cache(block, out):
    out.append(block)
    if isinstance(block, dict) and block.get("cache_control"):
        out.append(_cache_point())


def _text_of_result(content):
    if isinstance(content, str):
        return [{"text": content}]
    items = []
    for b in content or []:
        if b.get("type") == "text":
            items.append({"text": b["text"]})
        elif b.get("type") == "tool_reference":
            items.append({"text": f"[tool_reference {b.get('tool_name')}]"})
        else:
            items.append({"json": {"type": b.get("type")}})
    return items or [{"text": ""}]


def _converse_block(b):
    t = b["type"]
    if t == "text":
        return {"text": b["text"]}
    if t == "image":
        return {"image": {"format": b["source"]["media_type"].split("/")[1], "source": {"bytes": b["source"]["data"]}}}
    if t == "document":
        return {"document": {"name": b.get("title") or "document", "source": b["source"]}}
    if t == "tool_use":
        return {"toolUse": {"toolUseId": b["id"], "name": b["name"], "input": b["input"]}}
    if t == "tool_result":
        return {"toolResult": {"toolUseId": b["tool_use_id"], "content": _text_of_result(b.get("content"))}}
    if t == "thinking":
        return {"reasoningContent": {"reasoningText": {"text": b["thinking"], "signature": b["signature"]}}}
    if t == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": b["data"]}}
    return {"text": json.dumps(b, sort_keys=True)}


def converse_view(body: dict) -> dict:
    """The Anthropic body as the Converse body scenarios.py reads (cache_control -> cachePoint).

    Mid-conversation `system` role messages join the system prompt: they count as input but
    never as the user's turn.
    """
    system = []
    if isinstance(body.get("system"), str):
        system.append({"text": body["system"]})
    for b in body.get("system") or [] if isinstance(body.get("system"), list) else []:
        _with_cache({"text": b["text"], "cache_control": b.get("cache_control")}, system)
    messages = []
    for m in body["messages"]:
        content = [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"]
        if m["role"] == "system":
            system += [{"text": b["text"]} for b in content if b.get("type") == "text"]
            continue
        blocks = []
        for b in content:
            blocks.append(_converse_block(b))
            if b.get("cache_control"):
                blocks.append(_cache_point())
        messages.append({"role": m["role"], "content": blocks})
    system = [{k: v for k, v in b.items() if k != "cache_control"} for b in system]
    tools = []
    for t in body.get("tools") or []:
        if t.get("type", "custom") == "custom":
            tools.append({"toolSpec": {"name": t["name"], "description": t.get("description", ""),
                                       "inputSchema": {"json": t["input_schema"]}}})
        if t.get("cache_control"):
            tools.append(_cache_point())
    view = {"messages": messages, "additionalModelResponseFieldPaths": ["/stop_sequence"],
            "inferenceConfig": {"maxTokens": body["max_tokens"]}}
    if body.get("stop_sequences"):
        view["inferenceConfig"]["stopSequences"] = body["stop_sequences"]
    if system:
        view["system"] = system
    amrf = {}
    tc = body.get("tool_choice") or {}
    if tools and tc.get("type") != "none":
        choice = {"tool": {"name": tc["name"]}} if tc.get("type") == "tool" else {tc.get("type", "auto"): {}}
        view["toolConfig"] = {"tools": tools, "toolChoice": choice}
        if tc.get("disable_parallel_tool_use"):
            amrf["tool_choice"] = {"type": tc["type"], "disable_parallel_tool_use": True}
    if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        amrf["thinking"] = {"type": "enabled"}
    if amrf:
        view["additionalModelRequestFields"] = amrf
    return view


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _bdrk_id(prefix, seed):
    """Bedrock's ids look like msg_bdrk_01TRwJeNivnr3Xs1x84gExCb / toolu_bdrk_01AbkxtHRBE6DZyuxjrqa8SJ."""
    n = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    tail = ""
    for _ in range(22):
        n, r = divmod(n, 58)
        tail += _B58[r]
    return f"{prefix}_bdrk_01{tail}"


def _tool_id(converse_id):
    return _bdrk_id("toolu", converse_id)


def anthropic_content(blocks):
    out = []
    for b in blocks:
        if "text" in b:
            out.append({"type": "text", "text": b["text"]})
        elif "toolUse" in b:
            tu = b["toolUse"]
            out.append({"type": "tool_use", "id": _tool_id(tu["toolUseId"]), "name": tu["name"], "input": tu["input"]})
        elif "redactedContent" in b.get("reasoningContent", {}):
            out.append({"type": "redacted_thinking", "data": b["reasoningContent"]["redactedContent"]})
        elif "reasoningContent" in b:
            rt = b["reasoningContent"]["reasoningText"]
            out.append({"type": "thinking", "thinking": rt["text"], "signature": rt["signature"]})
    return out


def anthropic_usage(usage):
    return {
        "input_tokens": usage["inputTokens"],
        "cache_creation_input_tokens": usage.get("cacheWriteInputTokens", 0),
        "cache_read_input_tokens": usage.get("cacheReadInputTokens", 0),
        "output_tokens": usage["outputTokens"],
    }


def stop_fields(ans):
    stop = _STOP.get(ans.stop_reason, "end_turn")
    seq = (ans.additional_fields or {}).get("stop_sequence") if stop == "stop_sequence" else None
    return stop, seq


def message_body(ans, claude, msg_seed) -> dict:
    stop, seq = stop_fields(ans)
    return {
        "id": _bdrk_id("msg", msg_seed),
        "type": "message",
        "role": "assistant",
        "model": claude.name,
        "content": anthropic_content(ans.blocks),
        "stop_reason": stop,
        "stop_sequence": seq,
        "usage": anthropic_usage(ans.usage),
    }


def usage_headers(usage, latency_ms):
    return [
        ("X-Amzn-Bedrock-Invocation-Latency", str(latency_ms)),
        ("X-Amzn-Bedrock-Input-Token-Count", str(usage["inputTokens"])),
        ("X-Amzn-Bedrock-Output-Token-Count", str(usage["outputTokens"])),
        ("X-Amzn-Bedrock-Cache-Read-Input-Token-Count", str(usage.get("cacheReadInputTokens", 0))),
        ("X-Amzn-Bedrock-Cache-Write-Input-Token-Count", str(usage.get("cacheWriteInputTokens", 0))),
    ]


def stream_events(ans, claude, msg_seed, rng):
    """Anthropic stream events (dicts) in order, without the final message_stop (its metrics
    need the elapsed time)."""
    usage = anthropic_usage(ans.usage)
    start_usage = dict(usage, output_tokens=1)
    events = [{"type": "message_start", "message": {
        "id": _bdrk_id("msg", msg_seed), "type": "message", "role": "assistant", "model": claude.name,
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}}]
    for i, b in enumerate(anthropic_content(ans.blocks)):
        if b["type"] == "text":
            events.append({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}})
            for piece in _split_text(b["text"], rng, one_word=False):
                events.append({"type": "content_block_delta", "index": i,
                               "delta": {"type": "text_delta", "text": piece}})
        elif b["type"] == "tool_use":
            events.append({"type": "content_block_start", "index": i, "content_block": {
                "type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}})
            for frag in _split_json(json.dumps(b["input"], separators=(",", ":"), ensure_ascii=False), rng):
                events.append({"type": "content_block_delta", "index": i,
                               "delta": {"type": "input_json_delta", "partial_json": frag}})
        elif b["type"] == "redacted_thinking":  # whole in its start event, no deltas
            events.append({"type": "content_block_start", "index": i, "content_block": b})
        else:
            events.append({"type": "content_block_start", "index": i, "content_block": {
                "type": "thinking", "thinking": "", "signature": ""}})
            for piece in _split_text(b["thinking"], rng, one_word=False):
                events.append({"type": "content_block_delta", "index": i,
                               "delta": {"type": "thinking_delta", "thinking": piece}})
            events.append({"type": "content_block_delta", "index": i,
                           "delta": {"type": "signature_delta", "signature": b["signature"]}})
        events.append({"type": "content_block_stop", "index": i})
    stop, seq = stop_fields(ans)
    events.append({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": seq}, "usage": usage})
    return events


def message_stop(usage, latency_ms, first_byte_ms):
    metrics = {"inputTokenCount": usage["inputTokens"], "outputTokenCount": usage["outputTokens"],
               "invocationLatency": latency_ms, "firstByteLatency": first_byte_ms}
    if "cacheReadInputTokens" in usage:
        metrics["cacheReadInputTokenCount"] = usage["cacheReadInputTokens"]
        metrics["cacheWriteInputTokenCount"] = usage["cacheWriteInputTokens"]
    return {"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics}


def chunk_payload(event: dict) -> dict:
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return {"bytes": base64.b64encode(data).decode("ascii")}


def input_tokens(view: dict) -> int:
    """All input tokens of a request, cached prefix included (what usage splits three ways)."""
    return sum(t for t, _, _ in _input_items(view))


def count_tokens(target, body, header_betas, model_max):
    """CountTokens: returns {"inputTokens": N} or raises Bedrock's error."""
    claude = claude_for(target.model.model_id)
    if target.via != "foundation" or claude is None or not claude.count_tokens:
        raise validation(NO_COUNT)
    if not isinstance(body, dict) or not isinstance(body.get("input"), dict) or len(body["input"]) != 1:
        raise validation("Malformed input request, please reformat your input and try again.")
    kind, payload = next(iter(body["input"].items()))
    if kind == "invokeModel":
        raw = (payload or {}).get("body") if isinstance(payload, dict) else None
        try:
            inner = json.loads(base64.b64decode(raw, validate=True)) if isinstance(raw, str) else None
        except (binascii.Error, ValueError):
            inner = None
        if inner is None:
            raise validation("Malformed input request, please reformat your input and try again.")
        validate_anthropic(inner, claude, header_betas, model_max)
        return {"inputTokens": input_tokens(converse_view(inner))}
    if kind == "converse":
        if not isinstance(payload, dict):
            raise validation("Malformed input request, please reformat your input and try again.")
        view = {k: v for k, v in payload.items() if k in ("messages", "system", "toolConfig",
                                                             "additionalModelRequestFields")}
        validate_converse(view, target.model)
        return {"inputTokens": input_tokens(view)}
    raise validation("Malformed input request, please reformat your input and try again.")


def _on_demand_refused(state, target):
    model = target.model
    if state.strict_on_demand and target.via == "foundation" and "ON_DEMAND" not in model.inference_types:
        raise validation(f"Invocation of model ID {model.model_id} with on-demand throughput isn\u2019t supported. "
                         "Retry your request with the ID or ARN of an inference profile that contains this model.")


def serve(handler, piece_writer, op, target, model_id, parsed, raw_body, request_id, rec, started):
    """Answers InvokeModel / InvokeModelWithResponseStream for a Claude model over `handler`."""
    state = handler.state
    claude = claude_for(target.model.model_id)
    _on_demand_refused(state, target)
    streaming = op == "invoke-with-response-stream"
    guard = invoke_guardrails.resolve(state.guardrails, handler.headers, parsed, state.auth.region, streaming)
    parsed = invoke_guardrails.model_body(parsed)
    validate_anthropic(parsed, claude, handler.headers.get("anthropic-beta"), target.model.max_output)
    if guard and guard.blocks_input(parsed):
        ans = guard.blocked_input_answer()
    else:
        ans = build_answer(converse_view(parsed), target.model, model_id, state.cache, streaming, state.script)
    rec["scenario"] = ans.scenario
    if ans.first_byte_delay:
        time.sleep(ans.first_byte_delay)
    if ans.http_error:
        raise ans.http_error
    if guard:
        guard.assess_output(ans)
    seed = hashlib.sha256(rec["path"].encode() + raw_body).hexdigest()
    rng = random.Random(f"{state.seed}:{seed}")
    msg_seed = f"{request_id}:{seed}"
    if not streaming:
        if ans.converse_delay:
            time.sleep(ans.converse_delay)
        latency = max(1, int((time.monotonic() - started) * 1000))
        message = message_body(ans, claude, msg_seed)
        if guard:
            message = guard.message(message)
        data = json.dumps(message, ensure_ascii=False).encode("utf-8")
        headers = [("x-amzn-RequestId", request_id)] + usage_headers(ans.usage, latency)
        rec["status"] = 200
        if ans.truncate:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            return handler._abort(rec)
        return handler._send_bytes(200, data, headers=headers)

    rec["status"] = 200
    rec["stream_complete"] = False
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.amazon.eventstream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("x-amzn-RequestId", request_id)
    handler.send_header("X-Amzn-Bedrock-Content-Type", "application/json")
    handler.end_headers()
    handler.wfile.flush()
    out = piece_writer(handler.wfile, rng)
    events = stream_events(ans, claude, msg_seed, rng)
    stop_event = {}
    if guard:
        guard.stream(events, stop_event)
    first_byte = max(1, int((time.monotonic() - started) * 1000))
    deltas = [i for i, e in enumerate(events) if e["type"] == "content_block_delta"]
    # Failures land after the 3rd delta (or the last one for short answers), as for Converse.
    fail_at = deltas[min(3, len(deltas)) - 1] + 1 if deltas else 1
    corrupt_at = deltas[0] if deltas else len(events) - 1
    for idx, event in enumerate(events):
        if idx == fail_at and ans.stream_exception:
            out.write(exception_frame(*ans.stream_exception))
            rec["error"] = f"injected {ans.stream_exception[0]} frame"
            return out.finish()
        frame = event_frame("chunk", chunk_payload(event), rng, corrupt_crc=ans.corrupt_crc and idx == corrupt_at)
        if idx == fail_at and ans.truncate:
            out.write(frame[: len(frame) // 2])
            out.flush()
            return handler._abort(rec)
        out.write(frame)
        if ans.pause_after_first_delta and deltas and idx == deltas[0]:
            out.flush()
            time.sleep(ans.pause_after_first_delta)
    latency = max(1, int((time.monotonic() - started) * 1000))
    last = dict(message_stop(ans.usage, latency, first_byte), **stop_event)
    out.write(event_frame("chunk", chunk_payload(last), rng))
    out.flush()
    rec["stream_complete"] = True  # before the last chunk, as in bedrock_emulator._stream
    out.finish()
