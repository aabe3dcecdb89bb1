"""The Anthropic Messages API through the gateway with Anthropic's Python SDK: Claude models
answer through Bedrock InvokeModel, streamed and not, with tools, thinking and the betas each
model takes; errors in Anthropic's envelope; count_tokens and /v1/models in Anthropic's shape."""

import json

import anthropic
import pytest

from conftest import CLIENT_KEY, Gateway, gateway_env

SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def messages_gateway(emulator, tmp_path_factory):
    config = tmp_path_factory.mktemp("messages") / "plugin.json"
    config.write_text(json.dumps({"model_aliases": {"claude-opus-4-8": SONNET45}}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    yield gw
    gw.close()


def sdk(gateway, **kw):
    return anthropic.Anthropic(base_url=f"http://127.0.0.1:{gateway.port}", api_key=kw.pop("api_key", CLIENT_KEY),
                               max_retries=0, timeout=60, **kw)


def test_a_message_and_its_stream(messages_gateway, emulator):
    client = sdk(messages_gateway)
    message = client.messages.create(model="claude-opus-4-8", max_tokens=64,
                                     messages=[{"role": "user", "content": "Say hi"}])
    assert message.type == "message" and message.content[0].type == "text" and message.content[0].text
    assert message.model == "claude-opus-4-8" and message.usage.input_tokens > 0
    with client.messages.stream(model="claude-opus-4-8", max_tokens=64,
                                messages=[{"role": "user", "content": "Say hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.stop_reason == "end_turn" and final.model == "claude-opus-4-8"
    calls = emulator.runtime_requests()
    assert [c["path"].rsplit("/", 1)[1] for c in calls] == ["invoke", "invoke-with-response-stream"]
    assert all(c["auth"] == "sigv4" and CLIENT_KEY not in json.dumps(c["headers"]) for c in calls)
    assert all(c["body"]["anthropic_version"] == "bedrock-2023-05-31" and "model" not in c["body"] for c in calls)


def test_unknown_betas_are_dropped_and_known_ones_kept(messages_gateway, emulator):
    client = sdk(messages_gateway)
    message = client.beta.messages.create(
        model="claude-opus-4-8", max_tokens=2048,
        betas=["interleaved-thinking-2025-05-14", "prompt-caching-scope-2026-01-05", "effort-2025-11-24"],
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Think, then say hi"}])
    assert [b.type for b in message.content][0] == "thinking"
    [call] = emulator.runtime_requests()
    assert call["body"]["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert "anthropic-beta" not in {k.lower() for k in call["headers"]}


def test_a_tool_round_trip_keeps_signed_thinking(messages_gateway, emulator):
    client = sdk(messages_gateway)
    tools = [{"name": "get_weather", "description": "Weather for a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    first = client.messages.create(
        model="claude-opus-4-8", max_tokens=2048, tools=tools,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Weather in Paris? [[scenario:tool]]"}])
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    second = client.messages.create(
        model="claude-opus-4-8", max_tokens=2048, tools=tools,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Weather in Paris? [[scenario:tool]]"},
                  {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny"}]}])
    assert second.content
    sent = emulator.runtime_requests()[-1]["body"]["messages"][1]["content"]
    assert sent == [b.model_dump(exclude_none=True) for b in first.content]


def test_errors_come_in_anthropics_envelope(messages_gateway, emulator):
    with pytest.raises(anthropic.AuthenticationError) as bad_key:
        sdk(messages_gateway, api_key="wrong").messages.create(
            model="claude-opus-4-8", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert bad_key.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.BadRequestError) as bad_model:
        sdk(messages_gateway).messages.create(model="no such/../model", max_tokens=8,
                                              messages=[{"role": "user", "content": "hi"}])
    assert bad_model.value.body["type"] == "error"
    assert emulator.runtime_requests() == []


def test_count_tokens_and_models_in_anthropics_shape(messages_gateway):
    client = sdk(messages_gateway)
    counted = client.messages.count_tokens(model="claude-opus-4-8",
                                           messages=[{"role": "user", "content": "How many tokens is this?"}])
    assert counted.input_tokens > 0
    with pytest.raises(anthropic.APIStatusError) as old:
        client.messages.count_tokens(model=HAIKU3, messages=[{"role": "user", "content": "hi"}])
    assert old.value.status_code == 501
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert "claude-opus-4-8" in ids and all(m.type == "model" for m in models.data)


def test_the_api_key_header_works_like_a_bearer_token(messages_gateway):
    import urllib.request
    request = urllib.request.Request(
        f"http://127.0.0.1:{messages_gateway.port}/v1/messages?beta=true", method="POST",
        data=json.dumps({"model": "claude-opus-4-8", "max_tokens": 16,
                         "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json",
                 "x-stainless-lang": "js", "x-app": "cli", "anthropic-dangerous-direct-browser-access": "true"})
    with urllib.request.urlopen(request) as answer:
        assert json.load(answer)["type"] == "message"
    head = urllib.request.Request(f"http://127.0.0.1:{messages_gateway.port}/", method="HEAD")
    with urllib.request.urlopen(head) as answer:
        assert answer.status == 200


NOVA = "us.amazon.nova-pro-v1:0"


def test_other_models_answer_through_converse(messages_gateway, emulator):
    client = sdk(messages_gateway)
    message = client.messages.create(model=NOVA, max_tokens=64, system="Be brief.",
                                     messages=[{"role": "user", "content": "Say hi"}])
    assert message.content[0].type == "text" and message.content[0].text and message.model == NOVA
    assert message.usage.input_tokens > 0 and message.stop_reason == "end_turn"
    tools = [{"name": "get_weather", "description": "Weather for a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    with client.messages.stream(model=NOVA, max_tokens=256, tools=tools,
                                messages=[{"role": "user", "content": "Weather in Paris? [[scenario:tool]]"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    call = next(b for b in final.content if b.type == "tool_use")
    assert call.name == "get_weather" and isinstance(call.input, dict)
    paths = [c["path"].rsplit("/", 1)[1] for c in emulator.runtime_requests()]
    assert paths == ["converse", "converse-stream"]
    sent = emulator.runtime_requests()[0]["body"]
    assert sent["system"] == [{"text": "Be brief."}]
