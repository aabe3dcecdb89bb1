"""Chat Completions → Converse translation end to end: real agent conversations through the openai
SDK, real Envoy and the emulator, which rejects every Converse body Bedrock would reject."""

import base64
import json
import struct
import zlib

import openai
import pytest

from conftest import HAIKU

SONNET4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA = "amazon.nova-pro-v1:0"
LLAMA = "meta.llama3-1-70b-instruct-v1:0"

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "",  # agents do send empty descriptions
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
PERSON = {"type": "json_schema", "json_schema": {"name": "person", "schema": {
    "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"], "additionalProperties": False}}}


def png_1x1():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def as_message(msg):
    """What an agent sends back: the SDK's assistant message as a dict (extra fields kept)."""
    return msg.model_dump(exclude_none=True)


def last_body(emulator):
    return emulator.runtime_requests()[-1]["body"]


def test_multi_turn_tool_round_trip_with_parallel_calls(client, emulator):
    messages = [{"role": "system", "content": "You are a weather agent."},
                {"role": "user", "content": "[[scenario:parallel_tools]] Weather and time in Paris?"}]
    first = client.chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER, TIME])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert calls[0].id != calls[1].id

    messages.append(as_message(choice.message))
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": "18C, sunny"})
    messages.append({"role": "tool", "tool_call_id": calls[1].id, "content": [{"type": "text", "text": "14:05"}]})
    messages.append({"role": "user", "content": "Answer in one line."})
    second = client.chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER, TIME])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Tool results: 18C, sunny | 14:05"

    body = last_body(emulator)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    results_turn = body["messages"][2]["content"]
    assert [next(iter(b)) for b in results_turn] == ["toolResult", "toolResult", "text"]
    specs = {t["toolSpec"]["name"]: t["toolSpec"] for t in body["toolConfig"]["tools"]}
    assert specs["get_time"]["description"] == "get_time"

    messages.append(as_message(second.choices[0].message))
    messages.append({"role": "user", "content": "[[scenario:echo]] Thanks!"})
    third = client.chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER, TIME])
    assert third.choices[0].message.content == "Echo: Thanks!"


def test_agent_history_that_trips_bedrock_is_accepted(client, emulator):
    """Every shape below gets a 400 ValidationException from Bedrock if sent as is."""
    messages = [
        {"role": "system", "content": "   "},
        {"role": "assistant", "content": "Hi! Ask me about the weather."},
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Paris?"}]},
        {"role": "user", "content": []},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Par"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": ""},
        {"role": "user", "content": "and tomorrow?", "name": "alice"},
        {"role": "assistant", "content": [{"type": "text", "text": " "}]},
        {"role": "user", "content": "well?"},
    ]
    resp = client.chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER, TIME])
    assert resp.choices[0].message.content == "Tool results: 18C | (no output)"
    body = last_body(emulator)
    assert "system" not in body
    assert body["messages"][0] == {"role": "user", "content": [{"text": "(conversation start)"}]}
    assert body["messages"][2]["content"][0] == {"text": "Paris?"}
    tool_turn = body["messages"][3]["content"]
    assert [b["toolUse"]["input"] for b in tool_turn] == [{}, {"raw_arguments": "{\"city\": \"Par"}]

    # The same history with tool_choice "none": no tools offered, history as text, still a 200.
    resp = client.chat.completions.create(model=HAIKU, messages=messages, tools=[WEATHER], tool_choice="none")
    assert resp.choices[0].finish_reason == "stop"
    body = last_body(emulator)
    assert "toolConfig" not in body
    assert not any("toolUse" in b or "toolResult" in b for m in body["messages"] for b in m["content"])


def test_parallel_tool_calls_false_limits_claude_to_one_call(client, emulator):
    resp = client.chat.completions.create(
        model=HAIKU, tools=[WEATHER, TIME], parallel_tool_calls=False,
        messages=[{"role": "user", "content": "[[scenario:parallel_tools]] Paris?"}])
    assert len(resp.choices[0].message.tool_calls) == 1
    assert last_body(emulator)["additionalModelRequestFields"]["tool_choice"] == {
        "type": "auto", "disable_parallel_tool_use": True}


@pytest.mark.parametrize("model", [NOVA, LLAMA])
def test_tool_choice_required_forces_a_call_or_degrades_on_models_without_it(client, emulator, model):
    resp = client.chat.completions.create(model=model, tools=[WEATHER], tool_choice="required",
                                          messages=[{"role": "user", "content": "Paris?"}])
    sent = last_body(emulator)["toolConfig"]
    if model == NOVA:
        assert sent["toolChoice"] == {"any": {}}
        assert resp.choices[0].message.tool_calls[0].function.name == "get_weather"
    else:
        assert "toolChoice" not in sent
        assert resp.choices[0].message.content == "Echo: Paris?"


def test_image_data_url_round_trip_and_remote_url_refused(client, emulator):
    png = png_1x1()
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    resp = client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Describe it."}, {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}]}])
    assert resp.choices[0].message.content == "Echo: Describe it."
    image = last_body(emulator)["messages"][0]["content"][1]["image"]
    assert image["format"] == "png" and base64.b64decode(image["source"]["bytes"]) == png

    emulator.reset()
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}])
    assert "data: URL" in err.value.body["message"]
    assert emulator.runtime_requests() == []


def test_reasoning_round_trip_with_thinking_blocks(client, emulator):
    messages = [{"role": "user", "content": "[[scenario:tool]] Weather in Paris?"}]
    first = client.chat.completions.create(model=SONNET4, messages=messages, tools=[WEATHER],
                                           reasoning_effort="low", max_tokens=4000, temperature=0.5)
    msg = first.choices[0].message
    sent = last_body(emulator)
    assert sent["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 1200}
    assert "temperature" not in sent["inferenceConfig"]
    dumped = as_message(msg)
    assert dumped["reasoning_content"].startswith("Thinking about")
    assert dumped["thinking_blocks"][0]["signature"]
    assert msg.tool_calls

    result = {"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "18C"}
    second = client.chat.completions.create(model=SONNET4, messages=messages + [dumped, result],
                                            tools=[WEATHER], reasoning_effort="low", max_tokens=4000)
    assert second.choices[0].message.content == "Tool results: 18C"
    sent = last_body(emulator)
    assert "reasoningContent" in sent["messages"][1]["content"][0]
    assert "thinking" in sent["additionalModelRequestFields"]

    # A client that drops thinking_blocks still gets an answer: thinking is off for that turn.
    plain = {k: v for k, v in dumped.items() if k not in ("thinking_blocks", "reasoning_content")}
    third = client.chat.completions.create(model=SONNET4, messages=messages + [plain, result],
                                           tools=[WEATHER], reasoning_effort="low", max_tokens=4000)
    assert third.choices[0].message.content == "Tool results: 18C"
    assert "thinking" not in last_body(emulator).get("additionalModelRequestFields", {})


def test_prompt_caching_reports_cache_writes_then_reads(client, emulator):
    # Sonnet 4 caches a prefix of at least 1,024 tokens (Claude 3 Haiku has no prompt caching).
    messages = [{"role": "system", "content": "You are a meticulous assistant. " * 300},
                {"role": "user", "content": "Summarise the rules."}]
    first = client.chat.completions.create(model=SONNET4, messages=messages, extra_body={"prompt_caching": True})
    body = last_body(emulator)
    assert body["system"][-1] == {"cachePoint": {"type": "default"}}
    assert body["messages"][-1]["content"][-1] == {"cachePoint": {"type": "default"}}
    written = first.usage.model_dump()["cache_creation_input_tokens"]
    assert written > 1024 and first.usage.prompt_tokens_details.cached_tokens == 0

    second = client.chat.completions.create(model=SONNET4, messages=messages, extra_body={"prompt_caching": True})
    assert second.usage.prompt_tokens_details.cached_tokens == written
    assert second.usage.prompt_tokens == first.usage.prompt_tokens


@pytest.mark.parametrize("model", [HAIKU, "us.amazon.nova-2-lite-v1:0"])
def test_prompt_caching_is_dropped_for_a_model_without_it(client, emulator, model):
    messages = [{"role": "system", "content": "You are a meticulous assistant. " * 300},
                {"role": "user", "content": "Summarise the rules."}]
    resp = client.chat.completions.create(model=model, messages=messages, extra_body={"prompt_caching": True})
    assert resp.choices[0].message.content.startswith("Echo:")
    assert "cachePoint" not in json.dumps(last_body(emulator))


def test_response_format_json_schema_through_a_forced_tool(client, emulator):
    resp = client.chat.completions.create(model=HAIKU, response_format=PERSON,
                                          messages=[{"role": "user", "content": "John is 42."}])
    choice = resp.choices[0]
    assert choice.finish_reason == "stop" and choice.message.tool_calls is None
    assert json.loads(choice.message.content) == {"name": "test", "age": 42}
    assert last_body(emulator)["toolConfig"]["toolChoice"] == {"tool": {"name": "json_response"}}

    stream = client.chat.completions.create(model=HAIKU, response_format=PERSON, stream=True,
                                            messages=[{"role": "user", "content": "John is 42."}])
    content, finish = "", None
    for chunk in stream:
        for c in chunk.choices:
            assert not c.delta.tool_calls
            content += c.delta.content or ""
            finish = c.finish_reason or finish
    assert json.loads(content) == {"name": "test", "age": 42}
    assert finish == "stop"


def test_response_format_json_schema_native_on_claude_4_5(client, emulator):
    resp = client.chat.completions.create(model=SONNET45, response_format=PERSON,
                                          messages=[{"role": "user", "content": "John is 42."}])
    assert json.loads(resp.choices[0].message.content) == {"name": "test", "age": 42}
    sent = last_body(emulator)
    assert "toolConfig" not in sent
    fmt = sent["outputConfig"]["textFormat"]
    assert json.loads(fmt["structure"]["jsonSchema"]["schema"]) == PERSON["json_schema"]["schema"]


def test_json_object_with_tools_lets_the_model_call_a_tool_or_answer(client, emulator):
    resp = client.chat.completions.create(model=NOVA, response_format={"type": "json_object"}, tools=[WEATHER],
                                          messages=[{"role": "user", "content": "Paris?"}])
    # The emulator calls the first offered tool: the client's tool comes back as a tool call.
    assert resp.choices[0].message.tool_calls[0].function.name == "get_weather"
    sent = last_body(emulator)["toolConfig"]
    assert sent["toolChoice"] == {"any": {}}
    assert [t["toolSpec"]["name"] for t in sent["tools"]] == ["get_weather", "json_response"]


@pytest.mark.parametrize("kwargs, param", [
    ({"n": 2}, "n"),
    ({"logprobs": True}, "logprobs"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
])
def test_unsupported_parameters_are_400_and_nothing_is_forwarded(client, emulator, kwargs, param):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "hi"}], **kwargs)
    assert err.value.body["param"] == param
    assert emulator.runtime_requests() == []


def test_ignored_parameters_do_not_reach_bedrock(client, emulator):
    resp = client.chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "hi"}], seed=1, user="u-1",
        frequency_penalty=0.5, presence_penalty=0.5, logit_bias={"1": 1}, metadata={"k": "v"})
    assert resp.choices[0].message.content == "Echo: hi"
    assert set(last_body(emulator)) == {"messages"}
