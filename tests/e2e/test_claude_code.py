"""The real Claude Code CLI (npm @anthropic-ai/claude-code 2.1.197, tests/agents) headless.

Mode B straight against the emulator proves the emulator speaks what Claude Code needs
(Bedrock API key as Bearer, ListInferenceProfiles, invoke-with-response-stream chunk frames,
the Write tool round trip). The same runs through the gateway, Mode A (Messages API) and Mode B
(Bedrock passthrough).
"""

import json
import urllib.parse
from pathlib import Path

import pytest

from agents import CLAUDE, script, served
from claude_code import SONNET45, mode_a_env, mode_b_env, run_claude, work_dir, write_turns
from conftest import CLIENT_KEY, Emulator, Gateway, gateway_env

pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason="run `make agents-deps` to install the agent CLIs")

EMULATOR_KEY = "ABSKemulator-key-for-claude-code"
HELLO = "Hello from the scripted model."
# Claude Code's default model in Mode A (notes §2), served by Sonnet 4.5 through an alias.
DEFAULT_MODEL_A = "claude-opus-4-8"
# What Bedrock accepts for Sonnet 4.5 (tests/emulator/anthropic_models.py).
SONNET45_BETAS = {"claude-code-20250219", "interleaved-thinking-2025-05-14", "dev-full-thinking-2025-05-14",
                  "computer-use-2025-01-24", "context-management-2025-06-27", "tool-search-tool-2025-10-19",
                  "tool-examples-2025-10-29", "context-1m-2025-08-07"}


@pytest.fixture(scope="module")
def bearer_emulator():
    """The emulator taking a Bedrock API key, as Claude Code's Mode B sends one."""
    emu = Emulator(EMULATOR_API_KEYS=EMULATOR_KEY)
    yield emu
    emu.close()


@pytest.fixture(scope="module")
def claude_gateway(emulator, tmp_path_factory):
    """The gateway, with Claude Code's default Mode A model name served by Sonnet 4.5."""
    config = tmp_path_factory.mktemp("claude-gw") / "plugin.json"
    config.write_text(json.dumps({"model_aliases": {DEFAULT_MODEL_A: SONNET45}}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    yield gw
    gw.close()


def base_url(gateway):
    return f"http://127.0.0.1:{gateway.port}"  # Claude Code adds /v1/messages (Mode A) or /model/… (Mode B)


def stream_path(model):
    # Claude Code keeps ':' literal in the model segment and encodes '/' as %2F.
    return "/model/" + urllib.parse.quote(model, safe=":") + "/invoke-with-response-stream"


def runtime(records):
    return [r for r in records if r["path"].startswith("/model/")]


def assert_write_round_trip(run, target, first, second):
    assert run.ok, run.explain()
    assert run.text == "Wrote the file."
    assert target.read_text() == "hello from claude code\n"
    last_user = second["body"]["messages"][-1]
    [result] = [b for b in last_user["content"] if b["type"] == "tool_result"]
    assert "File created successfully" in json.dumps(result["content"])
    calls = [b for m in second["body"]["messages"] if m["role"] == "assistant" for b in m["content"]
             if b["type"] == "tool_use"]
    assert [c["name"] for c in calls] == ["Write"] and calls[0]["id"] == result["tool_use_id"]
    assert calls[0]["input"] == {"file_path": str(target), "content": "hello from claude code\n"}
    assert not any(b["type"] == "tool_result" for m in first["body"]["messages"] for b in
                   (m["content"] if isinstance(m["content"], list) else []))


# ---- Mode B straight against the emulator --------------------------------------------------

def test_mode_b_against_the_emulator_plain_answer(bearer_emulator):
    bearer_emulator.reset()
    script(bearer_emulator, [{"text": HELLO}])
    run = run_claude("say hi", mode_b_env(bearer_emulator.url, EMULATOR_KEY))
    assert run.ok, run.explain()
    assert run.text == HELLO
    records = bearer_emulator.requests()
    assert all(r["auth"] == "bearer" and r["status"] == 200 for r in records), records
    # The control-plane call it makes at every start (asynchronously, so in any order).
    [profiles] = [r for r in records if r["operation"] == "ListInferenceProfiles"]
    assert profiles["path"] == "/inference-profiles?type=SYSTEM_DEFINED"
    [call] = runtime(records)
    # The gateway encodes the id once (':' as %3A); it names the same model.
    assert urllib.parse.unquote(call["path"]) == urllib.parse.unquote(stream_path(SONNET45)) and call["stream_complete"] is True
    assert call["headers"]["anthropic-beta"] == "claude-code-20250219"
    body = call["body"]
    assert body["anthropic_version"] == "bedrock-2023-05-31" and "model" not in body and "stream" not in body
    assert "interleaved-thinking-2025-05-14" in body["anthropic_beta"]
    assert body["thinking"]["type"] == "enabled"
    assert served(bearer_emulator) == [1]


def test_mode_b_against_the_emulator_write_tool_round_trip(bearer_emulator):
    bearer_emulator.reset()
    work = work_dir()
    target = work / "hello.txt"
    script(bearer_emulator, write_turns(target, "hello from claude code\n"))
    run = run_claude("create hello.txt", mode_b_env(bearer_emulator.url, EMULATOR_KEY), work=work,
                     allow_write=True)
    first, second = runtime(bearer_emulator.requests())
    assert_write_round_trip(run, target, first, second)
    assert served(bearer_emulator) == [1, 1]


# ---- through the gateway (enabled by the lead with the src/ side of issue 16) --------------

def test_mode_a_plain_answer(claude_gateway, emulator):
    script(emulator, [{"text": HELLO}])
    run = run_claude("say hi", mode_a_env(base_url(claude_gateway), CLIENT_KEY))
    assert run.ok, run.explain()
    assert run.text == HELLO
    [call] = runtime(emulator.requests())
    # The gateway encodes the id once (':' as %3A); it names the same model.
    assert urllib.parse.unquote(call["path"]) == urllib.parse.unquote(stream_path(SONNET45)) and call["auth"] == "sigv4" and call["status"] == 200
    assert CLIENT_KEY not in json.dumps(call["headers"])
    body = call["body"]
    assert body["anthropic_version"] == "bedrock-2023-05-31" and "model" not in body and "stream" not in body
    # The default model's betas, filtered to what Sonnet 4.5 takes, and the fields they govern.
    assert set(body.get("anthropic_beta", [])) <= SONNET45_BETAS
    assert "effort-2025-11-24" not in body.get("anthropic_beta", []) and "output_config" not in body
    assert not any(m["role"] == "system" for m in body["messages"])
    assert body["thinking"]["type"] == "enabled"  # adaptive is not a Sonnet 4.5 mode


def test_mode_a_write_tool_round_trip(claude_gateway, emulator):
    work = work_dir()
    target = work / "hello.txt"
    script(emulator, write_turns(target, "hello from claude code\n"))
    run = run_claude("create hello.txt", mode_a_env(base_url(claude_gateway), CLIENT_KEY), work=work,
                     allow_write=True)
    first, second = runtime(emulator.requests())
    assert_write_round_trip(run, target, first, second)
    assert all(r["auth"] == "sigv4" for r in (first, second))


def test_mode_b_through_the_gateway_plain_answer(claude_gateway, emulator):
    script(emulator, [{"text": HELLO}])
    run = run_claude("say hi", mode_b_env(base_url(claude_gateway), CLIENT_KEY))
    assert run.ok, run.explain()
    assert run.text == HELLO
    records = emulator.requests()
    assert all(r["auth"] == "sigv4" and r["status"] == 200 for r in records), records
    assert all(CLIENT_KEY not in json.dumps(r["headers"]) for r in records)
    [call] = runtime(records)
    # The gateway encodes the id once (':' as %3A); it names the same model.
    assert urllib.parse.unquote(call["path"]) == urllib.parse.unquote(stream_path(SONNET45))
    # Passthrough: Claude Code's own Bedrock body reaches Bedrock as sent.
    assert call["body"]["anthropic_version"] == "bedrock-2023-05-31"
    assert "interleaved-thinking-2025-05-14" in call["body"]["anthropic_beta"]


def test_mode_b_through_the_gateway_write_tool_round_trip(claude_gateway, emulator):
    work = work_dir()
    target = work / "hello.txt"
    script(emulator, write_turns(target, "hello from claude code\n"))
    run = run_claude("create hello.txt", mode_b_env(base_url(claude_gateway), CLIENT_KEY), work=work,
                     allow_write=True)
    first, second = runtime(emulator.requests())
    assert_write_round_trip(run, target, first, second)
    assert Path(target).exists()


# ---- a guardrail on the key: the guardrail's message is what Claude Code shows ---------------

@pytest.fixture(scope="module")
def guarded_gateway(emulator, tmp_path_factory):
    """The emulator's guardrail g1 (it blocks the word "forbidden") on Claude Code's key."""
    config = tmp_path_factory.mktemp("claude-guarded") / "plugin.json"
    config.write_text(json.dumps({"model_aliases": {DEFAULT_MODEL_A: SONNET45},
                                  "api_keys": [{"name": "team-a", "key": CLIENT_KEY}],
                                  "guardrail": {"identifier": "g1", "version": "1"}}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config), API_KEY=None))
    yield gw
    gw.close()


@pytest.mark.parametrize("mode_env", [mode_a_env, mode_b_env], ids=["mode-a", "mode-b"])
def test_a_guardrail_block_shows_the_guardrails_message_in_both_modes(guarded_gateway, emulator, mode_env):
    run = run_claude("Tell me the forbidden recipe", mode_env(base_url(guarded_gateway), CLIENT_KEY))
    # Not Claude Code's "violates our Usage Policy" error, which a `refusal` stop reason brings.
    assert run.ok, run.explain()
    assert run.text == "Sorry, the model cannot answer this question."
    [call] = runtime(emulator.requests())
    assert call["headers"]["x-amzn-bedrock-guardrailidentifier"] == "g1"
    assert call["headers"]["x-amzn-bedrock-guardrailversion"] == "1"
