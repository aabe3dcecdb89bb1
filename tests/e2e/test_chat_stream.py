"""Streaming chat completions: ConverseStream event-stream → OpenAI SSE through real Envoy."""

import json
import urllib.request

import openai
import pytest

from conftest import CLIENT_KEY, HAIKU

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "",
                                      "parameters": {"type": "object", "properties": {"zone": {"type": "string"}},
                                                     "required": ["zone"]}}},
]


def stream_chunks(client, text, **kw):
    kw.setdefault("model", HAIKU)
    stream = client.chat.completions.create(
        messages=[{"role": "user", "content": text}], stream=True, **kw)
    return list(stream)


def assert_well_formed(chunks):
    assert chunks, "no chunks"
    ids = {c.id for c in chunks}
    assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    assert len(finishes) == 1, finishes
    assert with_choices[-1].choices[0].finish_reason == finishes[0], "finish_reason is on the last choice chunk"
    return finishes[0]


def content_of(chunks):
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def tool_calls_of(chunks):
    """Rebuilds tool calls from deltas the way openai clients do: by index."""
    calls = {}
    for c in chunks:
        for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            assert isinstance(tc.index, int) and tc.index >= 0, tc
            call = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            if tc.id:
                call["id"] = tc.id
            if tc.function and tc.function.name:
                call["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                call["arguments"] += tc.function.arguments
    assert sorted(calls) == list(range(len(calls))), f"indices must be dense from 0: {sorted(calls)}"
    return [calls[i] for i in sorted(calls)]


def test_text_stream_with_usage(client, emulator):
    chunks = stream_chunks(client, "Hello stream!", stream_options={"include_usage": True})
    assert assert_well_formed(chunks) == "stop"
    assert content_of(chunks) == "Echo: Hello stream!"
    last = chunks[-1]
    assert last.choices == [] and last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    [seen] = emulator.runtime_requests()
    assert seen["path"] == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    assert seen["auth_ok"]


def test_no_usage_chunk_unless_asked(client):
    chunks = stream_chunks(client, "hi")
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_raw_sse_framing_headers_and_done(gateway):
    req = urllib.request.Request(
        f"http://127.0.0.1:{gateway.port}/v1/chat/completions", method="POST",
        data=json.dumps({"model": HAIKU, "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"authorization": f"Bearer {CLIENT_KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers.get("content-length") is None
        assert r.headers["cache-control"] == "no-cache"
        body = r.read().decode()
    events = [e for e in body.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events), events
    assert events[-1] == "data: [DONE]" and body.count("[DONE]") == 1


def test_helper_stream_api_accumulates_final_completion(client):
    with client.chat.completions.stream(model=HAIKU, messages=[{"role": "user", "content": "helper"}]) as s:
        deltas = [e.delta for e in s if e.type == "content.delta"]
        final = s.get_final_completion()
    assert "".join(deltas) == "Echo: helper"
    assert final.choices[0].message.content == "Echo: helper"
    assert final.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("scenario, names, text_expected", [
    ("tool", ["get_weather"], False),
    ("parallel_tools", ["get_weather", "get_time"], False),
    ("text_then_tool", ["get_weather"], True),
])
def test_tool_call_indices_are_dense_and_zero_based(client, scenario, names, text_expected):
    chunks = stream_chunks(client, f"weather? [[scenario:{scenario}]]", tools=TOOLS)
    assert assert_well_formed(chunks) == "tool_calls"
    calls = tool_calls_of(chunks)
    assert [c["name"] for c in calls] == names
    for call in calls:
        assert call["id"].startswith("tooluse_")
        assert isinstance(json.loads(call["arguments"]), dict)
    assert bool(content_of(chunks)) == text_expected


def test_helper_stream_api_rebuilds_parallel_tool_calls(client):
    with client.chat.completions.stream(model=HAIKU, tools=TOOLS,
                                        messages=[{"role": "user", "content": "[[scenario:parallel_tools]]"}]) as s:
        final = s.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}


def test_reasoning_streams_as_reasoning_content_with_signature(client):
    chunks = stream_chunks(client, "think [[scenario:reasoning]]",
                           model="us.anthropic.claude-3-7-sonnet-20250219-v1:0")
    assert_well_formed(chunks)
    extras = [c.choices[0].delta.model_extra or {} for c in chunks if c.choices]
    reasoning = "".join(e.get("reasoning_content") or "" for e in extras)
    assert reasoning.startswith("Thinking about:")
    signatures = [b.get("signature") for e in extras for b in (e.get("thinking_blocks") or [])]
    assert any(signatures)
    assert content_of(chunks).startswith("Echo:")


def test_long_stream_arrives_whole(client):
    chunks = stream_chunks(client, "[[scenario:long:3000]]")
    assert assert_well_formed(chunks) == "stop"
    assert len(content_of(chunks).split()) == 3000


def test_first_chunk_arrives_before_upstream_finishes(client, emulator):
    """Incremental delivery: the first content chunk is in the client's hands while Bedrock
    (the emulator) is still in the middle of writing the stream."""
    stream = client.chat.completions.create(
        model=HAIKU, stream=True, messages=[{"role": "user", "content": "slowly [[scenario:slow:3000]]"}])
    upstream_done_at_first_chunk = None
    text = ""
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and upstream_done_at_first_chunk is None:
            [rec] = emulator.runtime_requests()
            upstream_done_at_first_chunk = rec.get("stream_complete", False)
        text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    assert upstream_done_at_first_chunk is False
    assert emulator.runtime_requests()[0]["stream_complete"] is True
    assert text.startswith("Echo: slowly")


@pytest.mark.parametrize("scenario", ["stream_error", "throttle_stream", "truncate", "corrupt_crc"])
def test_mid_stream_failures_raise_in_the_client(client, scenario):
    with pytest.raises(openai.APIError) as err:
        stream_chunks(client, f"partial [[scenario:{scenario}]]")
    assert err.value.message


def test_error_before_stream_is_json_with_status(client):
    with pytest.raises(openai.RateLimitError) as err:
        stream_chunks(client, "[[scenario:throttle]]")
    assert err.value.status_code == 429
    assert "Too many requests" in err.value.body["message"]


def test_finish_reasons_length_and_content_filter(client):
    assert assert_well_formed(stream_chunks(client, "[[scenario:max_tokens]]")) == "length"
    assert assert_well_formed(stream_chunks(client, "[[scenario:guardrail]]")) == "content_filter"
