"""The emulator's InvokeModel / InvokeModelWithResponseStream / CountTokens for Claude and the
control-plane profile calls Claude Code makes (run: python -m pytest tests/emulator -q).

Oracles: botocore's bedrock-runtime client (signing, parsing, event-stream decoding) and
botocore's EventStreamBuffer on the raw bytes, as the gateway sees them.
"""

import base64
import json
import socket
import urllib.parse

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from emu_harness import API_KEYS, emu, emu_token  # noqa: F401 (fixtures)
from test_emulator import CORAL, JPEG, PNG, bearer, client, frames, send
from thinking_signature import redacted_blob

SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET45_BASE = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123profile"
BEDROCK_VERSION = "bedrock-2023-05-31"
# Above every Claude's minimum tokens per cache checkpoint (4096 for Opus 4.5 / Haiku 4.5).
LONG_PROMPT = " ".join(f"rule{i}" for i in range(4200))
WRITE_TOOL = {"name": "Write", "description": "Writes a file",
              "input_schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                               "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}},
                               "required": ["file_path", "content"], "additionalProperties": False}}


def path_of(model, op):
    return "/model/" + urllib.parse.quote(model, safe="") + "/" + op


def body(text="hello", **extra):
    out = {"anthropic_version": BEDROCK_VERSION, "max_tokens": 1000,
           "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
    out.update(extra)
    return out


def invoke(emu, payload, model=SONNET45, headers=None):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = {"Host": emu.host, "Authorization": f"Bearer {API_KEYS[0]}", "Content-Type": "application/json",
         "Accept": "application/json"}
    h.update(headers or {})
    status, rh, raw = send(emu, "POST", path_of(model, "invoke"), h, data)
    return status, rh, json.loads(raw)


def stream_raw(emu, payload, model=SONNET45, headers=None):
    """POST over a socket; returns (status, headers, [HTTP chunks], complete)."""
    data = json.dumps(payload).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    sock = socket.create_connection(("127.0.0.1", emu.port), timeout=20)
    sock.sendall((f"POST {path_of(model, 'invoke-with-response-stream')} HTTP/1.1\r\nHost: {emu.host}\r\n"
                  f"Authorization: Bearer {API_KEYS[0]}\r\nContent-Type: application/json\r\n{extra}"
                  f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
    f = sock.makefile("rb")
    status = int(f.readline().split()[1])
    rh = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        k, _, v = line.decode().partition(":")
        rh[k.strip().lower()] = v.strip()
    chunks, complete = [], False
    if rh.get("transfer-encoding") == "chunked":
        while line := f.readline():
            size = int(line.strip(), 16)
            if size == 0:
                complete = True
                break
            piece = f.read(size)
            chunks.append(piece)
            if len(piece) < size:
                break
            f.readline()
    else:
        chunks = [f.read(int(rh["content-length"]))]
    sock.close()
    return status, rh, chunks, complete


def anthropic_events(chunks):
    """Decoded Anthropic events; exception frames as ("!type", payload)."""
    out = []
    for m in frames(chunks):
        payload = json.loads(m.payload)
        if m.headers[":message-type"] == "exception":
            out.append(("!" + m.headers[":exception-type"], payload))
            continue
        assert m.headers[":event-type"] == "chunk" and m.headers[":content-type"] == "application/json"
        assert set(payload) == {"bytes", "p"}  # Bedrock pads every chunk
        out.append(json.loads(base64.b64decode(payload["bytes"])))
    return out


def assemble(events):
    """Content blocks rebuilt from stream events, checking Anthropic's event order."""
    assert events[0]["type"] == "message_start" and events[0]["message"]["content"] == []
    blocks, open_index = [], None
    for e in events[1:-2]:
        if e["type"] == "content_block_start":
            assert open_index is None and e["index"] == len(blocks)
            open_index = e["index"]
            blocks.append(dict(e["content_block"]))
        elif e["type"] == "content_block_delta":
            assert e["index"] == open_index
            b, d = blocks[open_index], e["delta"]
            if d["type"] == "text_delta":
                b["text"] += d["text"]
            elif d["type"] == "input_json_delta":
                b["_json"] = b.get("_json", "") + d["partial_json"]
            elif d["type"] == "thinking_delta":
                assert not b["signature"]  # the signature comes after the text
                b["thinking"] += d["thinking"]
            else:
                assert d["type"] == "signature_delta"
                b["signature"] = d["signature"]
        else:
            assert e == {"type": "content_block_stop", "index": open_index}
            open_index = None
    for b in blocks:
        if b["type"] == "tool_use":
            b["input"] = json.loads(b.pop("_json"))
    assert events[-2]["type"] == "message_delta" and events[-1]["type"] == "message_stop"
    return blocks


def runtime(emu):
    return botocore.session.Session().create_client(
        "bedrock-runtime", region_name=emu.region, endpoint_url=emu.url, aws_access_key_id=emu.access_key,
        aws_secret_access_key=emu.secret_key, config=Config(retries={"total_max_attempts": 1}, read_timeout=20))


def last_record(emu):
    return json.loads(send(emu, "GET", "/_emulator/requests", {"Host": emu.host})[2])[-1]


# ---- InvokeModel -------------------------------------------------------------------

def test_invoke_model_answer_is_anthropic_message(emu):
    r = runtime(emu).invoke_model(modelId=SONNET45, body=json.dumps(body("Hello  world")))
    msg = json.loads(r["body"].read())
    assert msg["id"].startswith("msg_bdrk_01") and msg["type"] == "message" and msg["role"] == "assistant"
    assert msg["model"] == "claude-sonnet-4-5-20250929"
    assert msg["content"] == [{"type": "text", "text": "Echo: Hello  world"}]
    assert msg["stop_reason"] == "end_turn" and msg["stop_sequence"] is None
    u = msg["usage"]
    assert set(u) == {"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"}
    assert u["output_tokens"] == 3 and u["input_tokens"] > 0
    h = r["ResponseMetadata"]["HTTPHeaders"]
    assert r["contentType"] == "application/json"
    assert int(h["x-amzn-bedrock-input-token-count"]) == u["input_tokens"]
    assert int(h["x-amzn-bedrock-output-token-count"]) == u["output_tokens"]
    assert int(h["x-amzn-bedrock-invocation-latency"]) >= 1
    rec = last_record(emu)
    assert rec["operation"] == "invoke" and rec["model_id"] == SONNET45 and rec["auth"] == "sigv4"


def test_invoke_tool_use_and_stop_reasons(emu):
    status, _, msg = invoke(emu, body("x [[scenario:tool]]", tools=[WRITE_TOOL]))
    assert status == 200 and msg["stop_reason"] == "tool_use"
    [call] = msg["content"]
    assert call["type"] == "tool_use" and call["id"].startswith("toolu_bdrk_01") and call["name"] == "Write"
    assert set(call["input"]) == {"file_path", "content"}
    _, _, msg = invoke(emu, body("one two STOP three", stop_sequences=["STOP"]))
    assert msg["stop_reason"] == "stop_sequence" and msg["stop_sequence"] == "STOP"
    assert msg["content"] == [{"type": "text", "text": "Echo: one two "}]
    _, _, msg = invoke(emu, body("[[scenario:long:50]]", max_tokens=10))
    assert msg["stop_reason"] == "max_tokens" and len(msg["content"][0]["text"].split()) == 10


def test_invoke_thinking_blocks_and_round_trip(emu):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    _, _, first = invoke(emu, body("x [[scenario:tool]]", max_tokens=4000, thinking=thinking, tools=[WRITE_TOOL]))
    think, call = first["content"]
    assert think["type"] == "thinking" and think["thinking"] and think["signature"]
    assert call["type"] == "tool_use"
    turn2 = body("x [[scenario:tool]]", max_tokens=4000, thinking=thinking, tools=[WRITE_TOOL])
    turn2["messages"] += [{"role": "assistant", "content": first["content"]},
                          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                                                        "content": "File created successfully"}]}]
    status, _, second = invoke(emu, turn2)
    assert status == 200 and second["content"][-1] == {"type": "text",
                                                       "text": "Tool results: File created successfully"}
    # The same turn without its thinking block is refused, as Claude refuses it.
    turn2["messages"][1]["content"] = [call]
    status, rh, err = invoke(emu, turn2)
    assert status == 400 and rh["x-amzn-errortype"] == "ValidationException" + CORAL
    assert err["message"].startswith("messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, "
                                     "but found `tool_use`.")
    # What Claude Code's Bedrock mode sends: the interleaved-thinking beta, no thinking replayed.
    turn2["anthropic_beta"] = ["interleaved-thinking-2025-05-14"]
    assert invoke(emu, turn2)[0] == 200


def test_invoke_accepts_claude_code_bedrock_mode_body(emu):
    """What Claude Code 2.1.197 sends in Bedrock mode for Sonnet 4.5 (notes, sample B6)."""
    req = {
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>\nctx\n</system-reminder>"},
            {"type": "text", "text": "say hi", "cache_control": {"type": "ephemeral"}}]}],
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.123;"},
                   {"type": "text", "text": "You are a Claude agent.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": LONG_PROMPT, "cache_control": {"type": "ephemeral"}}],
        "tools": [WRITE_TOOL],
        "metadata": {"user_id": json.dumps({"device_id": "ab" * 32, "account_uuid": "", "session_id": "s"})},
        "max_tokens": 32000, "thinking": {"budget_tokens": 31999, "type": "enabled"},
        "anthropic_beta": ["interleaved-thinking-2025-05-14", "tool-search-tool-2025-10-19"],
        "anthropic_version": BEDROCK_VERSION,
    }
    status, _, msg = invoke(emu, req, headers={"anthropic-beta": "claude-code-20250219", "x-app": "cli",
                                               "anthropic-version": "2023-06-01"})
    assert status == 200, msg
    assert msg["content"][-1] == {"type": "text", "text": "Echo: <system-reminder>\nctx\n</system-reminder>\nsay hi"}
    assert msg["usage"]["cache_creation_input_tokens"] > 0


def test_invoke_content_kinds_accepted(emu):
    pdf = base64.b64encode(b"%PDF-1.4 tiny").decode()
    req = body("see", max_tokens=3000, thinking={"type": "enabled", "budget_tokens": 1024},
               anthropic_beta=["tool-search-tool-2025-10-19"], tools=[WRITE_TOOL])
    req["messages"] = [
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": JPEG},
             "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
             "title": "spec"},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
            {"type": "text", "text": "what is this?"}]},
        {"role": "assistant", "content": [
            {"type": "redacted_thinking", "data": redacted_blob("earlier turn")},
            {"type": "tool_use", "id": "toolu_bdrk_01abc", "name": "Write",
             "input": {"file_path": "/a", "content": "b"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_bdrk_01abc", "content": [
            {"type": "text", "text": "done"}, {"type": "tool_reference", "tool_name": "Write"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]},
    ]
    status, _, msg = invoke(emu, req)
    assert status == 200, msg
    assert msg["content"][-1]["text"].startswith("Tool results: done")


def _bad(**change):
    out = body()
    out.update(change)
    return out


def _without(key):
    out = body()
    del out[key]
    return out


def _turns(*messages, **extra):
    return dict(body(), messages=list(messages), **extra)


USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}]}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}
ASK = {"role": "user", "content": "write it"}
CC = {"type": "ephemeral"}

REJECTS = [
    ("model_and_stream", SONNET45, dict(body(), model="claude", stream=True), None,
     'Malformed input request: #: subject must not be valid against schema {"required":["messages"]}#: extraneous '
     "key [model] is not permitted#: extraneous key [stream] is not permitted, please reformat your input and try "
     "again."),
    ("no_version", SONNET45, _without("anthropic_version"), None,
     "#: required key [anthropic_version] not found, please reformat"),
    ("no_max_tokens", SONNET45, _without("max_tokens"), None, "#: required key [max_tokens] not found"),
    ("wrong_version", SONNET45, _bad(anthropic_version="2023-06-01"), None, "Invalid API version: 2023-06-01"),
    ("unknown_beta_body", SONNET45, _bad(anthropic_beta=["prompt-caching-scope-2026-01-05"]), None,
     "invalid beta flag"),
    ("unknown_beta_header", SONNET45, body(), "claude-code-20250219,mid-conversation-system-2026-04-07",
     "invalid beta flag"),
    ("beta_not_for_model", HAIKU45, _bad(anthropic_beta=["context-1m-2025-08-07"]), None, "invalid beta flag"),
    ("beta_on_claude3", HAIKU3, _bad(anthropic_beta=["interleaved-thinking-2025-05-14"]), None, "invalid beta flag"),
    ("thinking_on_claude3", HAIKU3, _bad(thinking={"type": "enabled", "budget_tokens": 1024}), None,
     "extraneous key [thinking] is not permitted"),
    ("cache_on_claude3", HAIKU3, _turns({"role": "user", "content": [
        {"type": "text", "text": "x", "cache_control": CC}]}), None, "extraneous key [cache_control]"),
    ("max_tokens_over", SONNET45, _bad(max_tokens=64001), None,
     "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5-20250929"),
    ("temperature_and_top_p", SONNET45, _bad(temperature=0.5, top_p=0.9), None,
     "`temperature` and `top_p` cannot both be specified for this model"),
    ("budget_small", SONNET45, _bad(thinking={"type": "enabled", "budget_tokens": 500}), None,
     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
    ("budget_over_max", SONNET45, _bad(max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 2000}), None,
     "`max_tokens` must be greater than `thinking.budget_tokens`"),
    ("thinking_temperature", SONNET45, _bad(max_tokens=4000, temperature=0.2,
                                            thinking={"type": "enabled", "budget_tokens": 1024}), None,
     "`temperature` may only be set to 1 when thinking is enabled"),
    ("thinking_forced_tool", SONNET45, _bad(max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1024},
                                            tools=[WRITE_TOOL], tool_choice={"type": "any"}), None,
     "Thinking may not be enabled when tool_choice forces tool use."),
    ("adaptive_on_sonnet45", SONNET45, _bad(thinking={"type": "adaptive"}), None,
     "thinking: Input tag 'adaptive' found using 'type' does not match any of the expected tags"),
    ("tool_use_unanswered", SONNET45, _turns(ASK, USE, ASK, tools=[WRITE_TOOL]), None,
     "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each "
     "`tool_use` block must have a corresponding `tool_result` block in the next message."),
    ("tool_result_unknown", SONNET45, _turns(ASK, {"role": "assistant", "content": "ok"}, RESULT,
                                             tools=[WRITE_TOOL]), None,
     "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_1."),
    ("image_media_type", SONNET45, _turns({"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/bmp", "data": PNG}}]}), None,
     "messages.0.content.0.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or "
     "'image/webp'"),
    ("image_url", SONNET45, _turns({"role": "user", "content": [{"type": "image", "source": {
        "type": "url", "url": "https://example.com/a.png"}}]}), None, "Input tag 'url' found using 'type'"),
    ("five_cache_points", SONNET45, _turns({"role": "user", "content": [
        {"type": "text", "text": f"t{i}", "cache_control": CC} for i in range(5)]}), None,
     "A maximum of 4 blocks with cache_control may be provided. Found 5."),
    ("cache_ttl", SONNET45, _turns({"role": "user", "content": [
        {"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}]}), None,
     "cache_control.ttl: Input should be '5m' or '1h'"),
    ("defer_loading", SONNET45, _bad(tools=[dict(WRITE_TOOL, defer_loading=True)]), None,
     "tools.0.custom.defer_loading: Extra inputs are not permitted"),
    ("system_role", SONNET45, _turns(ASK, {"role": "system", "content": "agents"}), None,
     "messages.1.role: Input should be 'user' or 'assistant'"),
    ("context_management_no_beta", SONNET45, _bad(context_management={"edits": []}), None,
     "context_management: Extra inputs are not permitted"),
    ("effort_on_sonnet45", SONNET45, _bad(output_config={"effort": "high"}), None,
     "output_config.effort: Extra inputs are not permitted"),
    ("empty_text", SONNET45, _turns({"role": "user", "content": [{"type": "text", "text": ""}]}), None,
     "messages: text content blocks must be non-empty"),
    ("prefill_trailing_space", SONNET45, _turns(ASK, {"role": "assistant", "content": "Sure "}), None,
     "final assistant content cannot end with trailing whitespace"),
    ("tool_use_in_user_turn", SONNET45, _turns({"role": "user", "content": USE["content"]}), None,
     "`tool_use` blocks can only be in `assistant` messages"),
]


@pytest.mark.parametrize("name,model,payload,beta_header,fragment", REJECTS, ids=[c[0] for c in REJECTS])
def test_invoke_rejects_like_bedrock(emu, name, model, payload, beta_header, fragment):
    headers = {"anthropic-beta": beta_header} if beta_header else {}
    for op in ("invoke", "invoke-with-response-stream"):
        status, rh, raw = send(emu, "POST", path_of(model, op), dict(
            {"Host": emu.host, "Authorization": f"Bearer {API_KEYS[0]}", "Content-Type": "application/json"},
            **headers), json.dumps(payload).encode())
        assert status == 400 and rh["x-amzn-errortype"] == "ValidationException" + CORAL, raw
        assert rh["content-type"] == "application/json"
        assert fragment in json.loads(raw)["message"], raw


def test_invoke_betas_accepted_per_model(emu):
    ok = [(SONNET45, ["context-1m-2025-08-07", "context-management-2025-06-27"]),
          (HAIKU45, ["interleaved-thinking-2025-05-14", "tool-examples-2025-10-29"]),
          ("us.anthropic.claude-3-7-sonnet-20250219-v1:0",
           ["output-128k-2025-02-19", "token-efficient-tools-2025-02-19"])]
    for model, betas in ok:
        status, _, msg = invoke(emu, body(anthropic_beta=betas), model=model)
        assert status == 200, (model, msg)
    # output-128k raises 3.7 Sonnet's output cap.
    status, _, _ = invoke(emu, body(max_tokens=100000, anthropic_beta=["output-128k-2025-02-19"]),
                          model="us.anthropic.claude-3-7-sonnet-20250219-v1:0")
    assert status == 200
    status, _, _ = invoke(emu, body(anthropic_beta=["context-management-2025-06-27"],
                                    context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}))
    assert status == 200


def test_invoke_not_for_other_providers_and_strict_on_demand(emu, emu_token):
    status, _, err = invoke(emu, body(), model="amazon.nova-lite-v1:0")
    assert status == 400 and "InvokeModel only for embedding models" in err["message"]
    status, _, err = invoke(emu_token, body(), model=SONNET45_BASE)
    assert status == 400 and "with on-demand throughput isn\u2019t supported" in err["message"]
    status, _, _ = invoke(emu_token, body(), model="eu.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert status == 200


def test_invoke_errors_before_body(emu):
    status, rh, err = invoke(emu, body("[[scenario:throttle]]"))
    assert status == 429 and rh["x-amzn-errortype"].startswith("ThrottlingException") and err["message"]
    with pytest.raises(ClientError) as exc:
        runtime(emu).invoke_model(modelId=SONNET45, body=b"not json")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    status, _, _ = invoke(emu, body(), model=APP_PROFILE)
    assert status == 200


def test_invoke_prompt_cache_write_then_read(emu):
    send(emu, "POST", "/_emulator/reset", {"Host": emu.host})
    req = body("cached question", system=[{"type": "text", "text": LONG_PROMPT, "cache_control": CC}])
    first = invoke(emu, req)[2]["usage"]
    second = invoke(emu, req)[2]["usage"]
    assert first["cache_creation_input_tokens"] > 0 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0 and second["input_tokens"] == first["input_tokens"]


# ---- InvokeModelWithResponseStream --------------------------------------------------

def test_stream_chunk_frames_match_invoke(emu):
    for req in (body("hello stream"), body("x [[scenario:text_then_tool]]", tools=[WRITE_TOOL]),
                body("x [[scenario:parallel_tools]]", tools=[WRITE_TOOL, dict(WRITE_TOOL, name="Edit")]),
                body("q", max_tokens=3000, thinking={"type": "enabled", "budget_tokens": 1024})):
        status, rh, chunks, complete = stream_raw(emu, req)
        assert status == 200 and complete
        assert rh["content-type"] == "application/vnd.amazon.eventstream"
        assert rh["x-amzn-bedrock-content-type"] == "application/json" and rh["x-amzn-requestid"]
        events = anthropic_events(chunks)
        _, _, msg = invoke(emu, req)
        blocks = assemble(events)
        for b in msg["content"]:  # ids differ per request, the rest does not
            b.pop("id", None)
        for b in blocks:
            b.pop("id", None)
        assert blocks == msg["content"]
        delta = events[-2]
        assert delta["delta"] == {"stop_reason": msg["stop_reason"], "stop_sequence": None}
        assert delta["usage"] == msg["usage"]
        start = events[0]["message"]
        assert start["model"] == msg["model"] and start["id"].startswith("msg_bdrk_01")
        assert start["usage"]["input_tokens"] == msg["usage"]["input_tokens"] and start["usage"]["output_tokens"] == 1
        metrics = events[-1]["amazon-bedrock-invocationMetrics"]
        assert metrics["inputTokenCount"] == msg["usage"]["input_tokens"]
        assert metrics["outputTokenCount"] == msg["usage"]["output_tokens"]
        assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 1


def test_stream_split_at_random_bytes(emu):
    status, _, chunks, _ = stream_raw(emu, body("[[scenario:long:300]]"))
    assert status == 200 and len(chunks) > 20
    ends, pos = set(), 0
    for m in frames(chunks):
        pos += m.prelude.total_length
        ends.add(pos)
    cuts, pos = [], 0
    for c in chunks:
        pos += len(c)
        cuts.append(pos)
    assert any(c not in ends for c in cuts)  # frames cut inside
    text = "".join(e["delta"]["text"] for e in anthropic_events(chunks) if e["type"] == "content_block_delta")
    assert len(text.split()) == 300


def test_stream_with_botocore_client(emu):
    r = runtime(emu).invoke_model_with_response_stream(modelId=SONNET45, body=json.dumps(body("a b c")))
    assert r["contentType"] == "application/json"
    events = [json.loads(e["chunk"]["bytes"]) for e in r["body"]]
    assert "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta") == "Echo: a b c"
    r = runtime(emu).invoke_model_with_response_stream(
        modelId=SONNET45, body=json.dumps(body("a b c d e f g h [[scenario:stream_error]]")))
    with pytest.raises(EventStreamError) as exc:
        list(r["body"])
    assert "modelStreamErrorException" in str(exc.value)


@pytest.mark.parametrize("scenario,etype", [("stream_error", "modelStreamErrorException"),
                                            ("throttle_stream", "throttlingException")])
def test_stream_exception_frames(emu, scenario, etype):
    status, _, chunks, complete = stream_raw(emu, body(f"a b c d e f g h i j [[scenario:{scenario}]]"))
    assert status == 200 and complete
    events = anthropic_events(chunks)
    assert events[0]["type"] == "message_start"
    assert sum(1 for e in events[:-1] if e["type"] == "content_block_delta") == 3
    assert events[-1][0] == "!" + etype and events[-1][1]["message"]
    assert last_record(emu)["stream_complete"] is False


def test_stream_truncated_mid_frame(emu):
    status, _, chunks, complete = stream_raw(emu, body("a b c d e f g h [[scenario:truncate]]"))
    assert status == 200 and not complete
    assert anthropic_events(chunks)[-1]["type"] == "content_block_delta"


# ---- CountTokens -----------------------------------------------------------------------

def test_count_tokens_invoke_body_matches_usage(emu):
    req = body("count me please", system="be brief", tools=[WRITE_TOOL])
    r = runtime(emu).count_tokens(modelId=SONNET45_BASE, input={"invokeModel": {"body": json.dumps(req).encode()}})
    _, _, msg = invoke(emu, req)
    u = msg["usage"]
    assert r["inputTokens"] == u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
    rec = last_record(emu)
    assert rec["operation"] == "invoke" and [r["operation"] for r in json.loads(
        send(emu, "GET", "/_emulator/requests", {"Host": emu.host})[2])][-2] == "count-tokens"


def test_count_tokens_converse_input(emu):
    request = {"messages": [{"role": "user", "content": [{"text": "one two three"}]}], "system": [{"text": "sys"}]}
    r = runtime(emu).count_tokens(modelId=SONNET45_BASE, input={"converse": request})
    assert r["inputTokens"] == runtime(emu).converse(modelId=SONNET45, **request)["usage"]["inputTokens"]
    with pytest.raises(ClientError) as exc:
        runtime(emu).count_tokens(modelId=SONNET45_BASE, input={"converse": {"messages": []}})
    assert exc.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize("model", [SONNET45, APP_PROFILE, HAIKU3, "amazon.nova-lite-v1:0"])
def test_count_tokens_refused(emu, model):
    with pytest.raises(ClientError) as exc:
        runtime(emu).count_tokens(modelId=model, input={"invokeModel": {"body": json.dumps(body()).encode()}})
    err = exc.value.response["Error"]
    assert err["Code"] == "ValidationException"
    assert err["Message"] == "The provided model doesn't support counting tokens."


def test_count_tokens_validates_the_body(emu):
    with pytest.raises(ClientError) as exc:
        runtime(emu).count_tokens(modelId=SONNET45_BASE, input={"invokeModel": {"body": json.dumps(
            body(anthropic_beta=["prompt-caching-scope-2026-01-05"])).encode()}})
    assert exc.value.response["Error"]["Message"] == "invalid beta flag"
    status, _, raw = bearer(emu, path_of(SONNET45_BASE, "count-tokens"), {"input": {"invokeModel": {"body": "%%"}}})
    assert status == 400 and "Malformed input request" in json.loads(raw)["message"]


# ---- control plane (what Claude Code asks at start) ------------------------------------

def test_inference_profiles_have_real_shapes(emu):
    bedrock = client(emu, "bedrock")
    listed = bedrock.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    us = next(p for p in listed if p["inferenceProfileId"] == SONNET45)
    assert us["createdAt"].year == 2025 and us["updatedAt"] >= us["createdAt"]  # botocore parsed ISO 8601
    got = bedrock.get_inference_profile(inferenceProfileIdentifier=SONNET45)
    assert got["inferenceProfileArn"] == us["inferenceProfileArn"] and got["models"] == us["models"]
    by_arn = bedrock.get_inference_profile(inferenceProfileIdentifier=APP_PROFILE)
    assert by_arn["type"] == "APPLICATION" and by_arn["createdAt"]
    with pytest.raises(ClientError) as exc:
        bedrock.get_inference_profile(inferenceProfileIdentifier="us.anthropic.nope-v1:0")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_control_plane_with_bedrock_api_key(emu):
    """Claude Code with AWS_BEARER_TOKEN_BEDROCK sends the key to the control plane too."""
    h = {"Host": emu.host, "Authorization": f"Bearer {API_KEYS[1]}"}
    status, _, raw = send(emu, "GET", "/inference-profiles?type=SYSTEM_DEFINED", h)
    assert status == 200 and json.loads(raw)["inferenceProfileSummaries"]
    arn_path = "/inference-profiles/" + urllib.parse.quote(APP_PROFILE, safe=":")
    status, _, raw = send(emu, "GET", arn_path, h)
    assert status == 200 and json.loads(raw)["inferenceProfileId"] == "abc123profile"
    assert send(emu, "GET", "/inference-profiles", {"Host": emu.host, "Authorization": "Bearer nope"})[0] == 403
