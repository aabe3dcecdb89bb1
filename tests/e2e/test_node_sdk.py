"""The official openai-node SDK against the gateway: plain, streaming, tools and errors."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import CLIENT_KEY, HAIKU

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.fixture(scope="module")
def node_result(gateway):
    if not (NODE_DIR / "node_modules" / "openai").exists():
        pytest.fail("openai-node is not installed: run `make node-deps`")
    env = dict(os.environ, BASE_URL=gateway.base_url, API_KEY=CLIENT_KEY, MODEL=HAIKU)
    done = subprocess.run(["node", str(NODE_DIR / "chat.mjs")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


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
