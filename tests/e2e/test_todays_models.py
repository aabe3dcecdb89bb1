"""What users of today's models expect of the gateway (issue 17): a valid request, never a 400
the client cannot avoid. The emulator refuses each request the gateway must repair exactly as
Bedrock does (tests/emulator/test_model_rules.py)."""

import json

import pytest

SONNET4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS45 = "us.anthropic.claude-opus-4-5-20251101-v1:0"
# An application inference profile (its ARN names no model) in front of Sonnet 4.5.
SONNET45_APP = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/ghi789profile"
HI = [{"role": "user", "content": "hi"}]


def last_body(emulator):
    return emulator.runtime_requests()[-1]["body"]


def test_temperature_and_top_p_on_opus_45_sends_one(client, emulator):
    for stream in (False, True):
        resp = client.chat.completions.create(model=OPUS45, messages=HI, temperature=0.5, top_p=0.9, stream=stream)
        list(resp) if stream else None
        inference = last_body(emulator)["inferenceConfig"]
        assert ("temperature" in inference) != ("topP" in inference)


def test_temperature_and_top_p_behind_an_application_profile(client, emulator):
    resp = client.chat.completions.create(model=SONNET45_APP, messages=HI, temperature=0.5, top_p=0.9)
    assert resp.choices[0].message.content == "Echo: hi"


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_reasoning_effort_with_a_small_max_tokens_answers_without_thinking(client, emulator, api):
    if api == "chat":
        resp = client.chat.completions.create(model=SONNET45, messages=HI, reasoning_effort="low", max_tokens=800)
        assert resp.choices[0].message.content == "Echo: hi"
    else:
        resp = client.responses.create(model=SONNET45, input="hi", reasoning={"effort": "low"},
                                       max_output_tokens=800)
        assert resp.output_text == "Echo: hi"
    assert "thinking" not in json.dumps(last_body(emulator).get("additionalModelRequestFields", {}))


def test_cache_control_markers_become_cache_points(client, emulator):
    messages = [{"role": "system", "content": [{"type": "text", "text": "rules " * 1500,
                                                "cache_control": {"type": "ephemeral"}}]},
                {"role": "user", "content": "hi"}]
    first = client.chat.completions.create(model=SONNET4, messages=messages)
    assert last_body(emulator)["system"][-1] == {"cachePoint": {"type": "default"}}
    second = client.chat.completions.create(model=SONNET4, messages=messages)
    assert second.usage.prompt_tokens_details.cached_tokens == first.usage.model_dump()["cache_creation_input_tokens"]
