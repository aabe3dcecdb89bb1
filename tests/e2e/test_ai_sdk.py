"""The Vercel AI SDK (`ai` + `@ai-sdk/openai`) against the gateway, set up as its users set it up
for any OpenAI-compatible endpoint: `createOpenAI({ baseURL, apiKey })`. Both of its language
model providers are driven: `openai.chat(id)` (Chat Completions) and `openai.responses(id)`
(Responses, also what `openai(id)` means since AI SDK 5). tests/node/aisdk.mjs runs one case
and prints what the SDK gave back."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLIENT_KEY, HAIKU

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
import embeddings as emu_embeddings  # noqa: E402  (the emulator's deterministic vectors)

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
TITAN_V2 = "amazon.titan-embed-text-v2:0"
SONNET4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"  # a model with extended thinking
FINAL_TOOL_TEXT = "Tool results: 22 C in Paris"  # the emulator echoes the tool output it was sent


def aisdk(gateway, case, api="chat", **env):
    if not (NODE_DIR / "node_modules" / "ai").exists():
        pytest.fail("the AI SDK is not installed: run `make node-deps`")
    env = {**os.environ, "BASE_URL": gateway.base_url, "API_KEY": CLIENT_KEY, "MODEL": HAIKU,
           "EMBEDDING_MODEL": TITAN_V2, "AI_SDK_LOG_WARNINGS": "false", **env}
    done = subprocess.run(["node", str(NODE_DIR / "aisdk.mjs"), case, api], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def converse_calls(emulator):
    return [r for r in emulator.runtime_requests() if r["operation"].startswith("converse")]


def check_usage(usage):
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


@pytest.mark.parametrize("api,id_prefix", [("chat", "chatcmpl-"), ("responses", "resp_"), ("default", "resp_")])
def test_generate_text(gateway, emulator, api, id_prefix):
    out = aisdk(gateway, "text", api)
    assert out["text"] == "Echo: Hi aisdk"
    assert out["finishReason"] == "stop"
    assert out["responseId"].startswith(id_prefix)
    assert out["warnings"] == []
    check_usage(out["usage"])
    (call,) = converse_calls(emulator)
    assert call["body"]["system"] == [{"text": "Be brief."}]


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_stream_text(gateway, api):
    out = aisdk(gateway, "stream", api)
    assert len(out["parts"]) > 1, "the answer must arrive in pieces"
    assert "".join(out["parts"]) == out["text"] == "Echo: Hi aisdk stream"
    assert out["finishReason"] == "stop"
    check_usage(out["usage"])


def check_tool_loop(out, preamble=""):
    assert out["seen"] == [{"city": "Paris"}], "execute must run once with the parsed arguments"
    first, last = out["steps"]
    assert first["finishReason"] == "tool-calls"
    assert first["toolCalls"] == [{"name": "get_weather", "input": {"city": "Paris"}}]
    assert first["toolResults"] == ["22 C in Paris"]
    assert first["text"] == preamble
    assert last["toolCalls"] == [] and last["finishReason"] == "stop"
    assert out["text"] == FINAL_TOOL_TEXT and out["finishReason"] == "stop"
    check_usage(out["usage"])


# `stateless` is the Responses provider with `store: false`. With the default `store: true` the
# SDK sends text before a tool call back as an `item_reference`, which the gateway resolves.
@pytest.mark.parametrize("api,scenario,preamble", [
    ("chat", "tool", ""), ("chat", "text_then_tool", "Let me check that."),
    ("responses", "tool", ""), ("responses", "text_then_tool", "Let me check that."),
    ("default", "text_then_tool", "Let me check that."), ("stateless", "text_then_tool", "Let me check that."),
])
def test_multi_step_tool_loop(gateway, api, scenario, preamble):
    check_tool_loop(aisdk(gateway, "tools", api, SCENARIO=scenario), preamble)


@pytest.mark.parametrize("api", ["chat", "responses", "stateless"])
def test_streamed_multi_step_tool_loop(gateway, api):
    out = aisdk(gateway, "streamTools", api)
    check_tool_loop(out, "Let me check that.")
    assert out["errors"] == []
    types = out["types"]
    assert types.index("tool-call") < types.index("tool-result") < len(types) - types[::-1].index("text-delta") - 1
    assert types.count("finish-step") == 2 and types[-1] == "finish"


@pytest.mark.parametrize("api", ["chat", "responses", "default", "stateless"])
def test_second_turn_carries_the_first_answer(gateway, emulator, api):
    out = aisdk(gateway, "conversation", api)
    assert out == {"first": "Echo: First question", "second": "Echo: Second question"}
    last = converse_calls(emulator)[-1]["body"]["messages"]
    assert last == [{"role": "user", "content": [{"text": "First question"}]},
                    {"role": "assistant", "content": [{"text": "Echo: First question"}]},
                    {"role": "user", "content": [{"text": "Second question"}]}]


def test_default_store_without_the_item_store_is_a_clear_400(no_item_store_gateway):
    """With `store: true` the Responses provider sends earlier assistant text as an
    `item_reference`. With the item store switched off the gateway cannot resolve it, so it
    answers 400 naming the item and the fix, rather than answering without that text."""
    gateway = no_item_store_gateway
    out = aisdk(gateway, "conversation", "responses")
    assert out["error"]["status"] == 400
    assert "item_reference" in out["error"]["message"] and "store: false" in out["error"]["message"]
    streamed = aisdk(gateway, "streamTools", "responses")
    assert streamed["seen"] == [{"city": "Paris"}] and len(streamed["steps"]) == 1
    assert any("item_reference" in e for e in streamed["errors"])


# With `store: true` the SDK refers to the reasoning item by id; the remembered item carries the
# signed thinking back just as the `encrypted_content` a `store: false` client resends.
@pytest.mark.parametrize("api", ["stateless", "responses"])
def test_reasoning_through_the_responses_provider(gateway, emulator, api):
    out = aisdk(gateway, "reasoning", api, MODEL=SONNET4)
    assert out["text"] == FINAL_TOOL_TEXT and out["seen"] == [{"city": "Paris"}]
    assert out["stepReasoning"] == ["Thinking about: Weather in Paris?", "Thinking about: the tool results"]
    assert out["streamed"] == {"text": "Echo: Hi reasoning", "reasoning": "Thinking about: Hi reasoning"}
    calls = converse_calls(emulator)
    assert all(c["body"]["additionalModelRequestFields"]["thinking"]["type"] == "enabled" for c in calls)
    # The signed thinking went back with the tool call, so thinking stayed on for the next step.
    assert [list(b) for b in calls[1]["body"]["messages"][1]["content"]] == [["reasoningContent"], ["toolUse"]]


def test_reasoning_effort_through_the_chat_provider(gateway, emulator):
    """The SDK's chat provider sends reasoning_effort but reads no reasoning back (OpenAI's chat
    API has none): thinking runs on Bedrock, the answer and the tool loop still work."""
    out = aisdk(gateway, "reasoning", "chat", MODEL=SONNET4)
    assert out["text"] == FINAL_TOOL_TEXT and out["streamed"]["text"] == "Echo: Hi reasoning"
    first = converse_calls(emulator)[0]["body"]
    assert first["additionalModelRequestFields"]["thinking"]["type"] == "enabled"


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_call_settings_reach_bedrock(gateway, emulator, api):
    out = aisdk(gateway, "settings", api)
    assert out["toolCalls"] == ["get_weather"] and out["finishReason"] == "tool-calls"
    (call,) = converse_calls(emulator)
    body = call["body"]
    assert body["inferenceConfig"]["maxTokens"] == 321
    assert body["inferenceConfig"]["temperature"] == pytest.approx(0.3)
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}
    if api == "chat":
        assert body["inferenceConfig"]["stopSequences"] == ["STOP"]
        assert out["warnings"] == []
    else:
        # The Responses API has no stop sequences: the SDK drops them and says so itself.
        assert out["warnings"] == [{"type": "unsupported", "feature": "stopSequences"}]


@pytest.mark.parametrize("case", ["object", "streamObject", "output"])
@pytest.mark.parametrize("api", ["chat", "responses"])
def test_structured_output_with_a_zod_schema(gateway, emulator, case, api):
    out = aisdk(gateway, case, api)
    assert out["object"] == {"name": "test", "age": 42}
    if "usage" in out:
        check_usage(out["usage"])
    (call,) = converse_calls(emulator)
    # The schema reached Bedrock: as a native output format or as the forced answer tool.
    assert "outputConfig" in call["body"] or call["body"]["toolConfig"]["toolChoice"].get("tool")


def test_embed_and_embed_many(gateway):
    out = aisdk(gateway, "embed")
    assert out["one"]["embedding"] == pytest.approx(emu_embeddings.vector("hello node", 1024, True, "titan2"), abs=1e-6)
    assert out["one"]["tokens"] > 0
    many = out["many"]["embeddings"]
    assert [len(v) for v in many] == [256, 256], "providerOptions.openai.dimensions must be honoured"
    for text, vector in zip(["hello node", "second text"], many):
        assert vector == pytest.approx(emu_embeddings.vector(text, 256, True, "titan2"), abs=1e-6)
    assert out["many"]["tokens"] > 0
