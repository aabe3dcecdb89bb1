"""Scripted conversations (/_emulator/script) on all four runtime APIs."""

import json

import pytest

from emu_harness import emu  # noqa: F401 (fixture)
from test_anthropic_invoke import (SONNET45, WRITE_TOOL, anthropic_events, assemble, body, invoke, path_of,
                                   stream_raw)
from test_emulator import TOOLS, collect_stream, converse, send, stream

WRITE_CALL = {"name": "Write", "input": {"file_path": "/tmp/x/hello.txt", "content": "hi\n"}}
WEATHER_CALL = {"name": "get_weather", "input": {"location": "Oslo"}}


def post_script(emu, script):
    status, _, raw = send(emu, "POST", "/_emulator/script", {"Host": emu.host, "Content-Type": "application/json"},
                          json.dumps(script).encode())
    return status, json.loads(raw)


@pytest.fixture
def clean(emu):
    send(emu, "POST", "/_emulator/reset", {"Host": emu.host})
    yield emu
    send(emu, "POST", "/_emulator/reset", {"Host": emu.host})


def conv(*turns):
    """Converse messages: user text, then (assistant content, user content) pairs."""
    return {"messages": [{"role": "user", "content": [{"text": t}]} if isinstance(t, str) else t for t in turns],
            "toolConfig": TOOLS}


def test_script_rejects_bad_input(clean):
    for bad in ({}, {"turns": []}, {"turns": [{}]}, {"turns": [{"text": " "}]}, {"turns": [{"tool_calls": []}]},
                {"turns": [{"tool_calls": [{"name": "x", "args": {}}]}]}, {"turns": [{"text": "a"}], "x": 1}):
        status, err = post_script(clean, bad)
        assert status == 400 and err["message"].startswith("invalid script"), bad
    status, _, raw = send(clean, "POST", "/_emulator/script", {"Host": clean.host}, b"{not json")
    assert status == 400


def test_converse_turns_follow_the_script(clean):
    assert post_script(clean, {"turns": [{"text": "Let me look.", "tool_calls": [WEATHER_CALL]},
                                         {"text": "It is sunny in Oslo."}]})[0] == 200
    _, _, r1 = converse(clean, conv("weather in Oslo?"))
    text, call = r1["output"]["message"]["content"]
    assert text == {"text": "Let me look."} and r1["stopReason"] == "tool_use"
    assert call["toolUse"]["name"] == "get_weather" and call["toolUse"]["input"] == {"location": "Oslo"}
    # A retry of the same turn gets the same answer.
    _, _, again = converse(clean, conv("weather in Oslo?"))
    assert again["output"] == r1["output"]
    follow = conv("weather in Oslo?",
                  {"role": "assistant", "content": r1["output"]["message"]["content"]},
                  {"role": "user", "content": [{"toolResult": {"toolUseId": call["toolUse"]["toolUseId"],
                                                               "content": [{"text": "sunny"}]}}]})
    _, _, r2 = converse(clean, follow)
    assert r2["output"]["message"]["content"] == [{"text": "It is sunny in Oslo."}] and r2["stopReason"] == "end_turn"
    assert r2["usage"]["outputTokens"] == 5
    # Past the script: the usual behaviour.
    past = dict(follow)
    past["messages"] = follow["messages"] + [{"role": "assistant", "content": [{"text": "ok"}]},
                                             {"role": "user", "content": [{"text": "thanks"}]}]
    assert converse(clean, past)[2]["output"]["message"]["content"] == [{"text": "Echo: thanks"}]
    status, _, raw = send(clean, "GET", "/_emulator/script", {"Host": clean.host})
    assert json.loads(raw)["served"] == [2, 1]
    recs = json.loads(send(clean, "GET", "/_emulator/requests", {"Host": clean.host})[2])
    assert [r["scenario"] for r in recs] == ["script:1", "script:1", "script:2", "echo"]


def test_converse_stream_follows_the_script(clean):
    post_script(clean, {"turns": [{"tool_calls": [WEATHER_CALL, dict(WEATHER_CALL, input={"location": "Rome"})]}]})
    _, evts = stream(clean, conv("two cities"))
    blocks, stop = collect_stream(evts)
    assert stop == "tool_use" and [b["toolUse"]["input"]["location"] for b in blocks] == ["Oslo", "Rome"]
    assert len({b["toolUse"]["toolUseId"] for b in blocks}) == 2


def test_match_limits_the_script_to_one_conversation(clean):
    post_script(clean, {"turns": [{"text": "scripted"}], "match": "task-42"})
    assert converse(clean, conv("do task-42 now"))[2]["output"]["message"]["content"] == [{"text": "scripted"}]
    assert converse(clean, conv("generate a title"))[2]["output"]["message"]["content"] == [
        {"text": "Echo: generate a title"}]


def test_scripted_tool_must_be_offered(clean):
    post_script(clean, {"turns": [{"tool_calls": [{"name": "delete_everything", "input": {}}]}]})
    status, _, err = converse(clean, conv("hi"))
    assert status == 400 and "names a tool the request does not offer" in err["message"]
    assert "get_weather" in err["message"]


def test_invoke_and_invoke_stream_follow_the_script(clean):
    post_script(clean, {"turns": [{"text": "I'll write it.", "tool_calls": [WRITE_CALL]}, {"text": "Done."}]})
    req = body("create hello.txt", tools=[WRITE_TOOL])
    _, _, first = invoke(clean, req)
    text, call = first["content"]
    assert text == {"type": "text", "text": "I'll write it."} and first["stop_reason"] == "tool_use"
    assert call["type"] == "tool_use" and call["name"] == "Write" and call["input"] == WRITE_CALL["input"]
    status, _, chunks, _ = stream_raw(clean, req)
    streamed = assemble(anthropic_events(chunks))
    assert [b["type"] for b in streamed] == ["text", "tool_use"] and streamed[1]["input"] == WRITE_CALL["input"]
    req["messages"] += [{"role": "assistant", "content": first["content"]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                                                      "content": "File created successfully"}]}]
    status, _, chunks, _ = stream_raw(clean, req)
    assert assemble(anthropic_events(chunks)) == [{"type": "text", "text": "Done."}]


def test_script_with_thinking_keeps_the_thinking_block(clean):
    post_script(clean, {"turns": [{"tool_calls": [WRITE_CALL]}]})
    _, _, msg = invoke(clean, body("go", max_tokens=4000, tools=[WRITE_TOOL],
                                   thinking={"type": "enabled", "budget_tokens": 1024}))
    assert [b["type"] for b in msg["content"]] == ["thinking", "tool_use"]


def test_delete_and_reset_remove_the_script(clean):
    post_script(clean, {"turns": [{"text": "scripted"}]})
    send(clean, "DELETE", "/_emulator/script", {"Host": clean.host})
    assert converse(clean, conv("x"))[2]["output"]["message"]["content"] == [{"text": "Echo: x"}]
    post_script(clean, {"turns": [{"text": "scripted"}]})
    send(clean, "POST", "/_emulator/reset", {"Host": clean.host})
    assert json.loads(send(clean, "GET", "/_emulator/script", {"Host": clean.host})[2])["script"] is None
    status, _, raw = send(clean, "POST", path_of(SONNET45, "invoke"),
                          {"Host": clean.host, "Content-Type": "application/json"}, json.dumps(body()).encode())
    assert status == 403  # the admin endpoints need no auth, the runtime still does
