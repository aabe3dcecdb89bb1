"""The official openai-node SDK against the gateway: chat (plain, streaming, tools, errors),
the Responses API (plain, streamed events, a function-tool round trip, structured output) and
embeddings (float and base64). Each tests/node/*.mjs script prints what the SDK gave it."""

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


def run_node(script, gateway, **env):
    if not (NODE_DIR / "node_modules" / "openai").exists():
        pytest.fail("openai-node is not installed: run `make node-deps`")
    env = dict(os.environ, BASE_URL=gateway.base_url, API_KEY=CLIENT_KEY, MODEL=HAIKU, **env)
    done = subprocess.run(["node", str(NODE_DIR / script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def node_result(gateway):
    return run_node("chat.mjs", gateway)


@pytest.fixture(scope="module")
def node_responses(gateway):
    return run_node("responses.mjs", gateway)


@pytest.fixture(scope="module")
def node_embeddings(gateway):
    return run_node("embeddings.mjs", gateway, EMBEDDING_MODEL=TITAN_V2)


def test_plain_and_streamed_text(node_result):
    assert node_result["plain"] == "Echo: Hi node"
    text = node_result["text"]
    assert text["content"] == "Echo: Hi stream"
    assert text["finishReasons"] == ["stop"]
    assert len(text["ids"]) == 1
    assert text["usage"]["total_tokens"] == text["usage"]["prompt_tokens"] + text["usage"]["completion_tokens"]


def test_parallel_tool_deltas_have_dense_indices(node_result):
    deltas = node_result["parallel"]["toolDeltas"]
    assert {d["index"] for d in deltas} == {0, 1}
    assert all(isinstance(d["index"], int) for d in deltas)
    assert node_result["parallel"]["finishReasons"] == ["tool_calls"]


def test_stream_helper_rebuilds_tool_call_after_text(node_result):
    assert node_result["helperToolCalls"] == [{"name": "get_weather", "args": {"city": "Paris"}}]


def test_errors_raise(node_result):
    assert node_result["midStreamError"], "a mid-stream Bedrock exception must raise in openai-node"
    assert node_result["throttleStatus"] == 429


# ---- Responses API -------------------------------------------------------------------------


def test_responses_plain_text(node_responses):
    plain = node_responses["plain"]
    assert plain["outputText"] == "Echo: Hi node"
    assert plain["status"] == "completed" and plain["id"].startswith("resp_")
    usage = plain["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0


def test_responses_stream_events_in_order(node_responses):
    text = node_responses["text"]
    types = text["types"]
    assert types[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert types[-1] == "response.completed" and types.count("response.completed") == 1
    for before, after in [("response.output_item.added", "response.content_part.added"),
                          ("response.content_part.added", "response.output_text.delta"),
                          ("response.output_text.delta", "response.output_text.done"),
                          ("response.output_text.done", "response.output_item.done")]:
        assert types.index(before) < types.index(after), (before, after)
    assert text["sequence"] == list(range(len(types)))
    assert text["deltas"] == text["finalText"] == "Echo: Hi stream"


def test_responses_function_tool_round_trip(node_responses):
    call = node_responses["toolCall"]
    assert call["name"] == "get_weather"
    assert call["args"] == call["streamedArgs"] == {"location": "Paris"}
    assert "response.function_call_arguments.done" in call["types"]
    assert call["types"][-1] == "response.completed"
    assert node_responses["toolResult"] == "Tool results: 22 C"


def test_responses_structured_output_and_bad_format(node_responses):
    assert node_responses["structured"] == {"name": "test", "age": 42}
    assert node_responses["badFormat"] == {"status": 400, "param": "text.format.type"}


# ---- embeddings ----------------------------------------------------------------------------


def test_embeddings_float_vectors(node_embeddings):
    floats = node_embeddings["float"]
    assert floats["model"] == TITAN_V2 and floats["indices"] == [0, 1]
    for text, vector in zip(["hello node", "second text"], floats["vectors"]):
        assert len(vector) == 256
        assert vector == pytest.approx(emu_embeddings.vector(text, 256, True, "titan2"), abs=1e-6)
    assert floats["usage"]["prompt_tokens"] == 4


def test_embeddings_base64_decodes_to_the_same_vectors(node_embeddings):
    assert node_embeddings["base64"]["isString"] == [True, True]
    for decoded, floats in zip(node_embeddings["base64"]["vectors"], node_embeddings["float"]["vectors"]):
        assert decoded == pytest.approx(floats, abs=1e-6)
    # The SDK's own default (base64, decoded by openai-node) gives the float vector too.
    assert node_embeddings["sdkDefault"] == pytest.approx(node_embeddings["float"]["vectors"][0], abs=1e-6)
