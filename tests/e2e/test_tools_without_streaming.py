"""Llama on Bedrock takes tools on Converse but refuses them on ConverseStream ("This model
doesn't support tool use in streaming mode.", as the emulator does too). A client that streams
with tools still gets its stream: the gateway calls Converse and writes the whole answer as the
client API's stream events. Agents (Cline, Continue, Codex) always stream with tools."""

import json

import anthropic

from conftest import CLIENT_KEY

LLAMA4 = "us.meta.llama4-maverick-17b-instruct-v1:0"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ASK = [{"role": "user", "content": "[[scenario:text_then_tool]] Weather in Paris?"}]


def operations(emulator):
    return [(r["path"].rsplit("/", 1)[1], r["headers"].get("accept")) for r in emulator.runtime_requests()]


def test_chat_stream_with_tools_on_llama_is_served_from_converse(client, emulator):
    chunks = list(client.chat.completions.create(model=LLAMA4, messages=ASK, tools=[WEATHER], stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    calls = [t for c in chunks if c.choices for t in (c.choices[0].delta.tool_calls or [])]
    assert text
    assert calls[0].index == 0 and calls[0].id and calls[0].function.name == "get_weather"
    arguments = "".join(t.function.arguments or "" for t in calls)
    assert "city" in json.loads(arguments)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage.completion_tokens > 0
    assert operations(emulator) == [("converse", "application/json")]
    # Without tools it streams from ConverseStream as before.
    list(client.chat.completions.create(model=LLAMA4, messages=[{"role": "user", "content": "hi"}], stream=True))
    assert operations(emulator)[-1] == ("converse-stream", "application/vnd.amazon.eventstream")


def test_responses_stream_with_tools_on_llama(client, emulator):
    tool = {"type": "function", "name": "get_weather", "description": "Current weather for a city",
            "parameters": WEATHER["function"]["parameters"]}
    events = list(client.responses.create(model=LLAMA4, input=ASK[0]["content"], tools=[tool], stream=True))
    done = events[-1]
    assert done.type == "response.completed"
    [call] = [item for item in done.response.output if item.type == "function_call"]
    assert call.name == "get_weather" and "city" in json.loads(call.arguments)
    assert any(e.type == "response.function_call_arguments.delta" for e in events)
    assert operations(emulator) == [("converse", "application/json")]


def test_messages_stream_with_tools_on_llama(gateway, emulator):
    sdk = anthropic.Anthropic(base_url=f"http://127.0.0.1:{gateway.port}", api_key=CLIENT_KEY, max_retries=0)
    tool = {"name": "get_weather", "description": "Current weather for a city",
            "input_schema": WEATHER["function"]["parameters"]}
    with sdk.messages.stream(model=LLAMA4, max_tokens=256, messages=ASK, tools=[tool]) as stream:
        final = stream.get_final_message()
    [use] = [b for b in final.content if b.type == "tool_use"]
    assert use.name == "get_weather" and "city" in use.input
    assert final.stop_reason == "tool_use"
    assert operations(emulator) == [("converse", "application/json")]
