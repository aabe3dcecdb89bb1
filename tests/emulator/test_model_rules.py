"""Per-model rules of today's Bedrock models, each with the accepted and the refused form.

The refused forms carry Bedrock's own messages (sources are named in reasoning_rules.py,
model_rules.py and prompt_cache.py).
"""

import base64
import json
from urllib.parse import quote

import pytest

import catalog
from emu_harness import emu  # noqa: F401 (fixture)
from test_emulator import CORAL, PNG, TOOLS, WEATHER, bearer, collect_stream, events, frames, raw_stream, user
from thinking_signature import sign

SONNET4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU45 = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
OPUS41 = "us.anthropic.claude-opus-4-1-20250805-v1:0"
OPUS45 = "global.anthropic.claude-opus-4-5-20251101-v1:0"
OPUS46 = "jp.anthropic.claude-opus-4-6-v1"
SONNET46 = "au.anthropic.claude-sonnet-4-6"
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA_PRO = "amazon.nova-pro-v1:0"
NOVA2 = "global.amazon.nova-2-lite-v1:0"
GPT_OSS = "openai.gpt-oss-120b-1:0"
GPT_OSS_20B = "openai.gpt-oss-20b-1:0"
R1 = "us.deepseek.r1-v1:0"
V31 = "deepseek.v3-v1:0"
LLAMA33 = "us.meta.llama3-3-70b-instruct-v1:0"
LLAMA4 = "us.meta.llama4-scout-17b-instruct-v1:0"
MISTRAL_LARGE = "mistral.mistral-large-2407-v1:0"
MISTRAL_7B = "mistral.mistral-7b-instruct-v0:2"
MIXTRAL = "mistral.mixtral-8x7b-instruct-v0:1"
PIXTRAL = "eu.mistral.pixtral-large-2502-v1:0"
MP4 = base64.b64encode(b"\x00\x00\x00\x18ftypmp42" + bytes(16)).decode()


def call(emu, model, body, op="converse"):
    status, headers, data = bearer(emu, f"/model/{quote(model, safe='')}/{op}", body)
    parsed = json.loads(data) if headers.get("content-type") == "application/json" else data
    return status, headers, parsed


def ok(emu, model, body, op="converse"):
    status, _, data = call(emu, model, body, op)
    assert status == 200, data
    return data


def refused(emu, model, body, fragment, op="converse"):
    status, headers, data = call(emu, model, body, op)
    assert status == 400, data
    assert headers["x-amzn-errortype"] == "ValidationException" + CORAL
    assert fragment in data["message"], data["message"]
    return data["message"]


def with_(body=None, **extra):
    return dict(body or user("hi"), **extra)


# ---- catalog: ids, profiles, on-demand ---------------------------------------------------

PROFILE_ONLY = [m for m in catalog.MODELS if m.kind == "converse" and "ON_DEMAND" not in m.inference_types]
REQUIRED = ["anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-6",
            "anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-opus-4-1-20250805-v1:0",
            "anthropic.claude-opus-4-5-20251101-v1:0", "anthropic.claude-opus-4-6-v1", "amazon.nova-2-lite-v1:0",
            "amazon.nova-premier-v1:0", "openai.gpt-oss-20b-1:0", "openai.gpt-oss-120b-1:0", "deepseek.r1-v1:0",
            "deepseek.v3-v1:0", "meta.llama3-3-70b-instruct-v1:0", "meta.llama4-scout-17b-instruct-v1:0",
            "meta.llama4-maverick-17b-instruct-v1:0", "mistral.mistral-large-2407-v1:0",
            "mistral.pixtral-large-2502-v1:0"]


def test_catalog_has_todays_models():
    assert set(REQUIRED) <= set(catalog.BY_ID)
    for mid in ("anthropic.claude-opus-4-6-v1", "anthropic.claude-sonnet-4-5-20250929-v1:0"):
        assert set(catalog.BY_ID[mid].geos) == {"us", "eu", "apac", "jp", "au", "global"}


@pytest.mark.parametrize("model", PROFILE_ONLY, ids=[m.model_id for m in PROFILE_ONLY])
def test_profile_only_models_refused_on_demand_by_default(emu, model):
    msg = refused(emu, model.model_id, user("hi"), "with on-demand throughput isn\u2019t supported")
    assert msg == (f"Invocation of model ID {model.model_id} with on-demand throughput isn\u2019t supported. Retry "
                   "your request with the ID or ARN of an inference profile that contains this model.")
    for geo in model.geos:
        assert ok(emu, f"{geo}.{model.model_id}", user("hi"))["output"]["message"]["content"][-1] == {
            "text": "Echo: hi"}


@pytest.mark.parametrize("model", [HAIKU3, NOVA_PRO, GPT_OSS, GPT_OSS_20B, V31, MISTRAL_LARGE])
def test_on_demand_models_by_base_id(emu, model):
    assert ok(emu, model, user("hi"))["output"]["message"]["content"][-1] == {"text": "Echo: hi"}


@pytest.mark.parametrize("model", ["us.anthropic.claude-opus-4-6-v1:0", "us.anthropic.claude-sonnet-4-6-v1:0",
                                   "xx.anthropic.claude-sonnet-4-6"])
def test_wrong_ids_are_invalid(emu, model):
    assert refused(emu, model, user("hi"), "invalid") == "The provided model identifier is invalid."


# ---- temperature and topP ------------------------------------------------------------------

EXCLUSIVE = [OPUS41, SONNET45, HAIKU45, OPUS45, OPUS46, SONNET46]


@pytest.mark.parametrize("model", EXCLUSIVE)
def test_temperature_and_top_p_together_refused(emu, model):
    msg = refused(emu, model, with_(inferenceConfig={"temperature": 0.5, "topP": 0.9}), "cannot both")
    assert msg == ("The model returned the following errors: `temperature` and `top_p` cannot both be specified "
                   "for this model. Please use only one.")
    ok(emu, model, with_(inferenceConfig={"temperature": 0.5}))
    ok(emu, model, with_(inferenceConfig={"topP": 0.9}))


@pytest.mark.parametrize("model", [SONNET4, HAIKU3, NOVA_PRO, GPT_OSS])
def test_temperature_and_top_p_together_accepted_elsewhere(emu, model):
    ok(emu, model, with_(inferenceConfig={"temperature": 0.5, "topP": 0.9}))


# ---- prompt caching ------------------------------------------------------------------------

CP = {"cachePoint": {"type": "default"}}


def _system(words, *tail):
    return [{"text": "rules " * words}, CP, *tail]


@pytest.mark.parametrize("model", [HAIKU3, LLAMA33, GPT_OSS, R1, MISTRAL_LARGE])
def test_cache_point_on_a_model_without_caching(emu, model):
    msg = refused(emu, model, with_(system=_system(10)), "prompt caching")
    assert msg == ("You invoked an unsupported model or your request did not allow prompt caching. "
                   "See the documentation for more information.")
    ok(emu, model, with_(system=[{"text": "rules"}]))


def test_cache_point_on_nova(emu):
    assert refused(emu, NOVA2, with_(system=_system(10)), "extraneous key") == (
        "Malformed input request: #/system/1: extraneous key [cachePoint] is not permitted, please reformat your "
        "input and try again.")
    refused(emu, NOVA_PRO, with_(toolConfig={"tools": [WEATHER, CP]}), "#/toolConfig/tools/1: extraneous key")
    refused(emu, NOVA_PRO, with_(system=[{"text": "r"}, {"cachePoint": {"type": "default", "ttl": "1h"}}]),
            "Extended TTL prompt caching is only supported for Anthropic models")
    ok(emu, NOVA_PRO, with_(system=_system(10)))
    ok(emu, SONNET45, with_(toolConfig={"tools": [WEATHER, CP]},
                            system=[{"text": "r"}, {"cachePoint": {"type": "default", "ttl": "1h"}}]))


def _usage_twice(emu, model, body):
    bearer(emu, "/_emulator/reset", b"")
    return ok(emu, model, body)["usage"], ok(emu, model, body)["usage"]


@pytest.mark.parametrize("model,minimum", [(SONNET45, 1024), (HAIKU45, 4096), (OPUS46, 4096), (NOVA_PRO, 1000),
                                           ("us.anthropic.claude-3-5-haiku-20241022-v1:0", 2048)])
def test_checkpoints_below_the_minimum_are_ignored(emu, model, minimum):
    short, short_again = _usage_twice(emu, model, with_(system=_system(minimum - 10)))
    for u in (short, short_again):
        assert u["cacheReadInputTokens"] == 0 and u["cacheWriteInputTokens"] == 0
        assert u["inputTokens"] > minimum - 10
    first, second = _usage_twice(emu, model, with_(system=_system(minimum + 10)))
    assert first["cacheWriteInputTokens"] >= minimum and first["cacheReadInputTokens"] == 0
    assert second["cacheReadInputTokens"] == first["cacheWriteInputTokens"] and second["cacheWriteInputTokens"] == 0
    assert second["inputTokens"] == first["inputTokens"] < 20
    assert second["totalTokens"] == first["totalTokens"]


def test_second_checkpoint_needs_the_minimum_again(emu):
    # 1,100 tokens, then only 100 more: the second checkpoint is ignored.
    body = with_(system=_system(1100, {"text": "more " * 100}, CP))
    first, second = _usage_twice(emu, SONNET45, body)
    assert 1100 <= first["cacheWriteInputTokens"] < 1200 and second["cacheReadInputTokens"] == \
        first["cacheWriteInputTokens"]
    # with 1,100 more the second counts too: the first request writes both, a third reads both
    body = with_(system=_system(1100, {"text": "more " * 1100}, CP))
    first, second = _usage_twice(emu, SONNET45, body)
    assert first["cacheWriteInputTokens"] >= 2200 and second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]


# ---- signed and redacted thinking ------------------------------------------------------------

def _thinking(budget=2048, **inf):
    return {"additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": budget}},
            "inferenceConfig": dict({"maxTokens": 4096}, **inf)}


def _follow_up(first_user, answer_blocks, **extra):
    return dict({"messages": [first_user, {"role": "assistant", "content": answer_blocks},
                              {"role": "user", "content": [{"text": "and then?"}]}]}, **extra)


def test_signature_is_a_mac_over_the_thinking_text(emu):
    body = with_(**_thinking())
    blocks = ok(emu, SONNET45, body)["output"]["message"]["content"]
    rt = blocks[0]["reasoningContent"]["reasoningText"]
    assert rt["signature"] == sign(rt["text"]) and len(base64.b64decode(rt["signature"])) >= 256
    r = raw_stream(emu, f"/model/{quote(SONNET45, safe='')}/converse-stream", body)
    assert collect_stream(events(frames(r.chunks)))[0] == blocks
    ok(emu, SONNET45, _follow_up(body["messages"][0], blocks, **_thinking()))  # unaltered: accepted
    ok(emu, SONNET45, _follow_up(body["messages"][0], blocks))  # thinking off now: still checked, fine


@pytest.mark.parametrize("alter,fragment", [
    (lambda rt: rt.update(text=rt["text"] + " "), "messages.1.content.0: Invalid signature in thinking block"),
    (lambda rt: rt.update(signature=sign("something else")), "Invalid signature in thinking block"),
    (lambda rt: rt.update(signature=rt["signature"][:-8] + "AAAAAAA="), "Invalid signature in thinking block"),
    (lambda rt: rt.pop("signature"), "messages.1.content.0.thinking.signature: Field required"),
    (lambda rt: rt.update(signature=""), "messages.1.content.0.thinking.signature: Field required"),
])
def test_altered_signed_thinking_refused(emu, alter, fragment):
    body = with_(**_thinking())
    blocks = ok(emu, SONNET45, body)["output"]["message"]["content"]
    alter(blocks[0]["reasoningContent"]["reasoningText"])
    for extra in (_thinking(), {}):
        refused(emu, SONNET45, _follow_up(body["messages"][0], blocks, **extra), fragment)


def test_redacted_thinking_round_trip_and_alteration(emu):
    first = user("x [[scenario:redacted_reasoning]]")["messages"][0]
    blocks = ok(emu, SONNET45, {"messages": [first]})["output"]["message"]["content"]
    blob = blocks[0]["reasoningContent"]["redactedContent"]
    r = raw_stream(emu, f"/model/{quote(SONNET45, safe='')}/converse-stream", {"messages": [first]})
    assert collect_stream(events(frames(r.chunks)))[0] == blocks
    ok(emu, SONNET45, _follow_up(first, blocks, **_thinking()))
    raw = bytearray(base64.b64decode(blob))
    raw[20] ^= 1
    blocks[0]["reasoningContent"]["redactedContent"] = base64.b64encode(bytes(raw)).decode()
    assert refused(emu, SONNET45, _follow_up(first, blocks), "cannot be modified") == (
        "The model returned the following errors: messages.1.content.0: thinking or redacted_thinking blocks in "
        "the latest assistant message cannot be modified. These blocks must remain as they were in the original "
        "response.")
    older = _follow_up(first, blocks)
    older["messages"] += [{"role": "assistant", "content": [{"text": "ok"}]}, {"role": "user", "content": [
        {"text": "next"}]}]
    refused(emu, SONNET45, older, "messages.1.content.0: Invalid `data` in `redacted_thinking` block")


# ---- thinking: budget, sampling, tool choice, tool turns ----------------------------------

def _tool_turns(first_assistant_blocks):
    return [{"role": "user", "content": [{"text": "weather?"}]},
            {"role": "assistant", "content": first_assistant_blocks},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "15C"}]}}]}]


TOOL_USE = {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"location": "Paris"}}}


def test_thinking_tool_turn_must_start_with_thinking(emu):
    signed = {"reasoningContent": {"reasoningText": {"text": "hm", "signature": sign("hm")}}}
    ok(emu, SONNET45, dict({"messages": _tool_turns([signed, TOOL_USE]), "toolConfig": TOOLS}, **_thinking()))
    redacted = ok(emu, SONNET45, user("[[scenario:redacted_reasoning]]"))["output"]["message"]["content"][0]
    ok(emu, SONNET45, dict({"messages": _tool_turns([redacted, TOOL_USE]), "toolConfig": TOOLS}, **_thinking()))
    msg = refused(emu, SONNET45, dict({"messages": _tool_turns([TOOL_USE]), "toolConfig": TOOLS}, **_thinking()),
                  "Expected `thinking` or `redacted_thinking`, but found `tool_use`")
    assert "a final `assistant` message must start with a thinking block" in msg
    refused(emu, SONNET45, dict({"messages": _tool_turns([{"text": "let me see"}, signed, TOOL_USE]),
                                 "toolConfig": TOOLS}, **_thinking()), "but found `text`")
    ok(emu, SONNET45, {"messages": _tool_turns([TOOL_USE]), "toolConfig": TOOLS})  # thinking off: fine


@pytest.mark.parametrize("extra,fragment", [
    (_thinking(1023), "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
    (_thinking(4096), "`max_tokens` must be greater than `thinking.budget_tokens`"),
    (_thinking(temperature=0.7), "`temperature` may only be set to 1 when thinking is enabled"),
    (_thinking(topP=0.9), "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled"),
    ({"additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2048}, "top_k": 5},
      "inferenceConfig": {"maxTokens": 4096}}, "`top_k` must be unset when thinking is enabled"),
    (dict(_thinking(), toolConfig=dict(TOOLS, toolChoice={"any": {}})),
     "Thinking may not be enabled when tool_choice forces tool use."),
    (dict(_thinking(), toolConfig=dict(TOOLS, toolChoice={"tool": {"name": "get_weather"}})),
     "Thinking may not be enabled when tool_choice forces tool use."),
    ({"additionalModelRequestFields": {"thinking": {"type": "adaptive"}}, "inferenceConfig": {"temperature": 0.2}},
     "`temperature` may only be set to 1"),
])
def test_thinking_rules_refused(emu, extra, fragment):
    refused(emu, OPUS46, with_(**extra), fragment)


@pytest.mark.parametrize("extra", [
    _thinking(1024, maxTokens=1025), _thinking(temperature=1), _thinking(topP=0.95), _thinking(topP=1),
    dict(_thinking(), toolConfig=dict(TOOLS, toolChoice={"auto": {}})),
    {"additionalModelRequestFields": {"thinking": {"type": "disabled"}}, "inferenceConfig": {"temperature": 0.2}},
])
def test_thinking_rules_accepted(emu, extra):
    ok(emu, OPUS46, with_(**extra))


# ---- each family's own reasoning field --------------------------------------------------

def _amrf(**fields):
    return {"additionalModelRequestFields": fields}


def test_adaptive_thinking_only_on_claude_46(emu):
    adaptive = _amrf(thinking={"type": "adaptive"})
    ok(emu, OPUS46, with_(**adaptive))
    ok(emu, SONNET46, with_(**adaptive))
    for model in (OPUS45, SONNET45, SONNET4):
        refused(emu, model, with_(**adaptive), "Input tag 'adaptive' found using 'type'")


def test_claude_reasoning_field(emu):
    assert refused(emu, SONNET45, with_(**_amrf(reasoning_effort="high")), "reasoning_effort") == (
        "The model returned the following errors: reasoning_effort: Extra inputs are not permitted")
    refused(emu, SONNET45, with_(**_amrf(reasoningConfig={"type": "enabled", "maxReasoningEffort": "low"})),
            "reasoningConfig: Extra inputs are not permitted")
    refused(emu, HAIKU3, with_(**_amrf(thinking={"type": "enabled", "budget_tokens": 1024}),
                               inferenceConfig={"maxTokens": 2048}), "thinking: Extra inputs are not permitted")
    assert "reasoningContent" in ok(emu, SONNET45, with_(**_thinking()))["output"]["message"]["content"][0]
    assert "reasoningContent" not in ok(emu, SONNET45, user("hi"))["output"]["message"]["content"][0]


def test_nova2_reasoning_config(emu):
    for effort in ("low", "medium"):
        r = ok(emu, NOVA2, with_(inferenceConfig={"maxTokens": 500, "temperature": 0.3},
                                 **_amrf(reasoningConfig={"type": "enabled", "maxReasoningEffort": effort})))
        rt = r["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"]
        assert "signature" not in rt
    ok(emu, NOVA2, with_(**_amrf(reasoningConfig={"type": "enabled", "maxReasoningEffort": "high"})))
    for key, value in (("maxTokens", 500), ("temperature", 0.3), ("topP", 0.9)):
        refused(emu, NOVA2, with_(inferenceConfig={key: value}, **_amrf(
            reasoningConfig={"type": "enabled", "maxReasoningEffort": "high"})), f"inferenceConfig.{key} is not")
    refused(emu, NOVA2, with_(**_amrf(reasoningConfig={"type": "enabled", "maxReasoningEffort": "max"})),
            "the provided reasoning config value is invalid")
    assert refused(emu, NOVA2, with_(**_amrf(thinking={"type": "enabled", "budget_tokens": 1024})), "thinking") == (
        "The model returned the following errors: Malformed input request: #: extraneous key [thinking] is not "
        "permitted, please reformat your input and try again.")
    refused(emu, NOVA2, with_(**_amrf(reasoning_effort="low")), "extraneous key [reasoning_effort]")
    assert "reasoningContent" not in ok(emu, NOVA2, user("hi"))["output"]["message"]["content"][0]


def test_nova1_refuses_reasoning_config(emu):
    assert refused(emu, NOVA_PRO, with_(**_amrf(reasoningConfig={"type": "enabled", "maxReasoningEffort": "low"})),
                   "reasoning config") == (
        "The model returned the following errors: Malformed input request: the provided reasoning config value is "
        "invalid, please reformat your input and try again.")
    ok(emu, NOVA_PRO, with_(**_amrf(inferenceConfig={"topK": 20})))


def test_gpt_oss_reasoning_effort(emu):
    for effort in ("low", "medium", "high"):
        ok(emu, GPT_OSS, with_(**_amrf(reasoning_effort=effort)))
    refused(emu, GPT_OSS, with_(**_amrf(reasoning_effort="minimal")), "unknown variant `minimal`")
    msg = refused(emu, GPT_OSS, with_(**_amrf(thinking={"type": "enabled", "budget_tokens": 1024})),
                  "unknown field `thinking`")
    assert msg.startswith("The model returned the following errors: Failed to deserialize the JSON body")
    refused(emu, GPT_OSS_20B, with_(**_amrf(reasoningConfig={"type": "enabled"})), "unknown field `reasoningConfig`")
    blocks = ok(emu, GPT_OSS, user("why"))["output"]["message"]["content"]
    assert blocks[0] == {"reasoningContent": {"reasoningText": {"text": "Thinking about: why"}}}
    first = user("why")["messages"][0]
    ok(emu, GPT_OSS, _follow_up(first, blocks))
    blocks[0]["reasoningContent"]["reasoningText"]["signature"] = "c2ln"
    assert refused(emu, GPT_OSS, _follow_up(first, blocks), "signature") == (
        "This model doesn't support the reasoningContent.reasoningText.signature field. Remove "
        "reasoningContent.reasoningText.signature and try again.")


def test_deepseek_takes_no_reasoning_field(emu):
    for model in (R1, V31):
        for field, value in (("thinking", {"type": "enabled", "budget_tokens": 1024}), ("reasoning_effort", "low"),
                             ("reasoningConfig", {"type": "enabled"})):
            refused(emu, model, with_(**_amrf(**{field: value})), f"extraneous key [{field}]")
    assert "reasoningContent" in ok(emu, R1, user("hi"))["output"]["message"]["content"][0]  # R1 always reasons
    assert ok(emu, V31, user("hi"))["output"]["message"]["content"] == [{"text": "Echo: hi"}]
    refused(emu, LLAMA33, with_(**_amrf(thinking={"type": "enabled", "budget_tokens": 1024})), "extraneous key")


# ---- tools, images, system prompts --------------------------------------------------------

def test_tools_to_models_without_tool_use(emu):
    for model in (R1, MISTRAL_7B, MIXTRAL):
        assert refused(emu, model, with_(toolConfig=TOOLS), "tool use") == "This model doesn't support tool use."
    for model in (V31, GPT_OSS, MISTRAL_LARGE, PIXTRAL, LLAMA4, NOVA2, OPUS46):
        ok(emu, model, with_(toolConfig=TOOLS))


def test_tools_in_stream_on_llama(emu):
    for model in (LLAMA4, LLAMA33, "us.meta.llama4-maverick-17b-instruct-v1:0"):
        assert refused(emu, model, with_(toolConfig=TOOLS), "streaming", op="converse-stream") == (
            "This model doesn't support tool use in streaming mode.")
        ok(emu, model, with_(toolConfig=TOOLS))
        assert raw_stream(emu, f"/model/{quote(model, safe='')}/converse-stream", user("hi")).status == 200
    assert raw_stream(emu, f"/model/{quote(MISTRAL_LARGE, safe='')}/converse-stream",
                      with_(toolConfig=TOOLS)).status == 200


IMAGE = {"image": {"format": "png", "source": {"bytes": PNG}}}


def test_images_only_to_vision_models(emu):
    body = {"messages": [{"role": "user", "content": [{"text": "look"}, IMAGE]}]}
    for model in (GPT_OSS, V31, R1, LLAMA33, MISTRAL_LARGE, "us.anthropic.claude-3-5-haiku-20241022-v1:0"):
        assert refused(emu, model, body, "image") == (
            "This model doesn't support the image field for user messages. Remove image and try again.")
    for model in (LLAMA4, PIXTRAL, NOVA2, NOVA_PRO, OPUS46, HAIKU3):
        ok(emu, model, body)
    in_tool_result = {"messages": [
        {"role": "user", "content": [{"text": "weather?"}]},
        {"role": "assistant", "content": [TOOL_USE]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [IMAGE]}}]}], "toolConfig": TOOLS}
    refused(emu, GPT_OSS, in_tool_result, "doesn't support the image field")
    ok(emu, SONNET45, in_tool_result)


def test_video_only_to_nova(emu):
    body = {"messages": [{"role": "user", "content": [{"text": "watch"}, {"video": {"format": "mp4", "source": {
        "bytes": MP4}}}]}]}
    refused(emu, SONNET45, body, "doesn't support the video field")
    ok(emu, NOVA_PRO, body)
    ok(emu, NOVA2, body)


def test_system_prompt_only_where_supported(emu):
    for model in (MISTRAL_7B, MIXTRAL):
        assert refused(emu, model, with_(system=[{"text": "be brief"}]), "system") == (
            "This model doesn't support system messages. Try again without a system message or use a model that "
            "supports system messages.")
        ok(emu, model, user("hi"))
    for model in (MISTRAL_LARGE, GPT_OSS, R1, LLAMA4, NOVA2):
        ok(emu, model, with_(system=[{"text": "be brief"}]))


def test_application_profile_carries_the_model_rules(emu):
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/ghi789profile"
    refused(emu, arn, with_(inferenceConfig={"temperature": 0.5, "topP": 0.9}), "cannot both be specified")
    ok(emu, arn, with_(inferenceConfig={"temperature": 0.5}))


# ---- the same signatures on InvokeModel (Anthropic Messages bodies) ------------------------

def test_invoke_checks_thinking_signatures_too(emu):
    from test_anthropic_invoke import body, invoke
    req = body("why?", max_tokens=3000, thinking={"type": "enabled", "budget_tokens": 1024})
    status, _, msg = invoke(emu, req)
    assert status == 200, msg
    thinking = msg["content"][0]
    assert thinking["type"] == "thinking" and thinking["signature"] == sign(thinking["thinking"])
    follow = dict(req, messages=req["messages"] + [{"role": "assistant", "content": msg["content"]},
                                                   {"role": "user", "content": [{"type": "text", "text": "and?"}]}])
    assert invoke(emu, follow)[0] == 200
    follow["messages"][1]["content"][0] = dict(thinking, thinking=thinking["thinking"] + "!")
    status, _, err = invoke(emu, follow)
    assert status == 400 and err["message"] == "messages.1.content.0: Invalid signature in thinking block"
    status, _, msg = invoke(emu, body("x [[scenario:redacted_reasoning]]"))
    assert status == 200 and msg["content"][0]["type"] == "redacted_thinking"
    redacted = dict(msg["content"][0], data=msg["content"][0]["data"][:-6] + "AAAA==")
    follow = dict(body(), messages=[body()["messages"][0], {"role": "assistant", "content": [redacted, {
        "type": "text", "text": "ok"}]}, {"role": "user", "content": [{"type": "text", "text": "and?"}]}])
    status, _, err = invoke(emu, follow)
    assert status == 400 and "Invalid `data` in `redacted_thinking` block" in err["message"]
