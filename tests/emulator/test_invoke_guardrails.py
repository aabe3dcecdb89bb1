"""Guardrails on Claude InvokeModel / InvokeModelWithResponseStream (invoke_guardrails.py), driven
over HTTP with SigV4-signed requests: botocore's client parses the answers and decodes the event
stream; raw signed requests cover what botocore would spell for us (header case, bad values)."""

import json
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from emu_harness import emu  # noqa: F401 (fixture)
from test_anthropic_invoke import BEDROCK_VERSION, SONNET45, last_record, runtime
from test_emulator import CORAL, send, sign
from test_guardrails import BLOCKED, hook

IN_MSG, OUT_MSG = "Input refused here.", "Output refused here."
CONFIG = "amazon-bedrock-guardrailConfig"
TOOL = {"name": "lookup", "description": "Looks a thing up", "input_schema": {"type": "object"}}


@pytest.fixture
def rt(emu):
    hook(emu, "POST", "/_emulator/reset")
    # g2 tells the input and output messages apart; g1 is the built-in one (default messages).
    assert hook(emu, "POST", "/_emulator/guardrails", {
        "id": "g2", "versions": ["DRAFT", "4"], "words": ["forbidden", "plum"],
        "blocked_input_message": IN_MSG, "blocked_output_message": OUT_MSG})[0] == 200
    yield runtime(emu)
    hook(emu, "POST", "/_emulator/reset")


def body(text="hello", **extra):
    out = {"anthropic_version": BEDROCK_VERSION, "max_tokens": 500,
           "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
    out.update(extra)
    return out


def echoing_tool_result(result_text):
    """A turn whose tool result (not assessed as input) the emulator's answer repeats."""
    return body("look it up", tools=[TOOL], messages=[
        {"role": "user", "content": "look it up"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result_text}]}])


def guard(gid="g2", version="DRAFT", trace=None):
    out = {"guardrailIdentifier": gid, "guardrailVersion": version}
    if trace:
        out["trace"] = trace
    return out


def invoke(rt, payload, **kw):
    r = rt.invoke_model(modelId=SONNET45, contentType="application/json", accept="application/json",
                        body=json.dumps(payload), **kw)
    return json.loads(r["body"].read()), r["ResponseMetadata"]["HTTPHeaders"]


def stream(rt, payload, **kw):
    r = rt.invoke_model_with_response_stream(modelId=SONNET45, contentType="application/json",
                                             body=json.dumps(payload), **kw)
    return [json.loads(e["chunk"]["bytes"]) for e in r["body"]]


def text_of(events):
    return "".join(e["delta"]["text"] for e in events
                   if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta")


def guardrail_keys(obj):
    return {k for k in obj if k.startswith("amazon-bedrock-") and k != "amazon-bedrock-invocationMetrics"}


# ---- no guardrail --------------------------------------------------------------------------

def test_without_guardrail_headers_no_answer_carries_guardrail_fields(rt):
    for text in ("a forbidden word", "x [[scenario:guardrail]]"):
        msg, _ = invoke(rt, body(text))
        assert guardrail_keys(msg) == set() and msg["stop_reason"] == "end_turn"
        events = stream(rt, body(text))
        assert all(guardrail_keys(e) == set() for e in events)
        assert "amazon-bedrock-invocationMetrics" in events[-1]
    # The Trace header alone applies no guardrail.
    msg, _ = invoke(rt, body("forbidden"), trace="ENABLED")
    assert guardrail_keys(msg) == set() and msg["content"][0]["text"] == "Echo: forbidden"


# ---- InvokeModel ---------------------------------------------------------------------------

def test_input_intervention_is_the_bare_blocked_message_and_the_model_is_not_called(emu, rt):
    msg, headers = invoke(rt, body("tell me the Forbidden thing"), **guard())
    assert msg == {"type": "message", "role": "assistant", "content": [{"type": "text", "text": IN_MSG}],
                   "amazon-bedrock-guardrailAction": "INTERVENED"}
    assert headers["x-amzn-bedrock-input-token-count"] == "0"
    assert headers["x-amzn-bedrock-output-token-count"] == "0"
    assert last_record(emu)["scenario"] == "guardrail_input"
    # The system prompt is assessed too; the default blocked message of g1.
    msg, _ = invoke(rt, body("hi", system=[{"type": "text", "text": "speak of plum and forbidden"}]),
                    **guard("g1", "1"))
    assert msg["content"] == [{"type": "text", "text": BLOCKED}]


def test_input_trace_only_when_asked_with_invoke_keys(rt):
    msg, _ = invoke(rt, body("plum please"), **guard(trace="ENABLED"))
    trace = msg["amazon-bedrock-trace"]["guardrail"]
    assert set(trace) == {"input", "actionReason"}
    words = trace["input"]["g2"]["wordPolicy"]["customWords"]
    assert words == [{"match": "plum", "action": "BLOCKED", "detected": True}]
    coverage = trace["input"]["g2"]["invocationMetrics"]["guardrailCoverage"]["textCharacters"]
    assert coverage == {"guarded": len("plum please"), "total": len("plum please")}
    msg, _ = invoke(rt, body("plum please"), **guard(trace="DISABLED"))
    assert "amazon-bedrock-trace" not in msg


def test_output_intervention_keeps_the_models_envelope_with_the_blocked_output_message(rt):
    msg, headers = invoke(rt, echoing_tool_result("the plum"), **guard(trace="ENABLED"))
    assert msg["content"] == [{"type": "text", "text": OUT_MSG}]
    assert msg["stop_reason"] == "end_turn" and msg["stop_sequence"] is None
    assert msg["id"].startswith("msg_bdrk_01") and msg["model"] == "claude-sonnet-4-5-20250929"
    assert msg["usage"]["output_tokens"] > 0 and headers["x-amzn-bedrock-output-token-count"] != "0"
    assert msg["amazon-bedrock-guardrailAction"] == "INTERVENED"
    trace = msg["amazon-bedrock-trace"]["guardrail"]
    assert trace["input"]["g2"].get("wordPolicy") is None  # the tool result was not assessed
    [outputs] = trace["outputs"]
    assert outputs["g2"]["wordPolicy"]["customWords"] == [{"match": "plum", "action": "BLOCKED", "detected": True}]
    assert trace["actionReason"]


def test_a_clean_answer_says_none_and_full_trace_lists_undetected_words(rt):
    msg, _ = invoke(rt, body("hello there"), **guard())
    assert msg["content"] == [{"type": "text", "text": "Echo: hello there"}]
    assert msg["amazon-bedrock-guardrailAction"] == "NONE" and "amazon-bedrock-trace" not in msg
    msg, _ = invoke(rt, body("hello there"), **guard(trace="ENABLED_FULL"))
    trace = msg["amazon-bedrock-trace"]["guardrail"]
    assert "actionReason" not in trace
    assert {w["match"] for w in trace["input"]["g2"]["wordPolicy"]["customWords"]} == {"forbidden", "plum"}
    assert all(not w["detected"] for w in trace["outputs"][0]["g2"]["wordPolicy"]["customWords"])


def test_the_body_config_is_taken_out_before_claudes_validation_which_still_refuses_unknown_keys(rt):
    msg, _ = invoke(rt, body("hi", **{CONFIG: {"tagSuffix": "abc"}}), **guard())
    assert msg["content"] == [{"type": "text", "text": "Echo: hi"}]
    with pytest.raises(ClientError) as err:
        invoke(rt, body("hi", color="red", **{CONFIG: {"tagSuffix": "abc"}}), **guard())
    assert "extraneous key [color] is not permitted" in err.value.response["Error"]["Message"]
    assert CONFIG not in err.value.response["Error"]["Message"]


def test_with_a_tag_suffix_only_tagged_text_is_assessed(rt):
    tagged = "<amazon-bedrock-guardrails-guardContent_k9>{}</amazon-bedrock-guardrails-guardContent_k9>"
    cfg = {CONFIG: {"tagSuffix": "k9"}}
    msg, _ = invoke(rt, body("forbidden system talk " + tagged.format("what time is it"), **cfg), **guard())
    # The input passes; the emulator's echo of it then trips the (untagged) output check.
    assert msg["content"] == [{"type": "text", "text": OUT_MSG}]
    msg, _ = invoke(rt, body("hello " + tagged.format("the plum"), **cfg), **guard())
    assert msg["content"] == [{"type": "text", "text": IN_MSG}]
    # Another suffix's tags do not scope anything: the whole prompt is assessed.
    msg, _ = invoke(rt, body("forbidden " + tagged.format("fine"), **{CONFIG: {"tagSuffix": "zz"}}), **guard())
    assert msg["amazon-bedrock-guardrailAction"] == "INTERVENED"


def test_an_arn_of_this_region_resolves(emu, rt):
    arn = f"arn:aws:bedrock:{emu.region}:123456789012:guardrail/g2"
    msg, _ = invoke(rt, body("plum"), **guard(arn, "4"))
    assert msg["amazon-bedrock-guardrailAction"] == "INTERVENED"


# ---- InvokeModelWithResponseStream ----------------------------------------------------------

def test_stream_input_intervention_events(rt):
    events = stream(rt, body("forbidden"), **guard(trace="ENABLED"))
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"] and kinds[-3:] == [
        "content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert text_of(events) == IN_MSG
    usage = events[0]["message"]["usage"]
    assert usage["input_tokens"] == 0 and usage["output_tokens"] == 0
    assert events[-2]["delta"] == {"stop_reason": "end_turn"}  # no stop_sequence key
    stop = events[-1]
    assert stop["amazon-bedrock-guardrailAction"] == "INTERVENED"
    metrics = stop["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == 0 and metrics["outputTokenCount"] == 0
    assert stop["amazon-bedrock-trace"]["guardrail"]["input"]["g2"]["wordPolicy"]["customWords"][0]["detected"]
    assert all(guardrail_keys(e) == set() for e in events[:-1])


@pytest.mark.parametrize("mode", [None, "SYNCHRONOUS", "ASYNCHRONOUS"])
def test_stream_output_intervention_and_clean_streams(rt, mode):
    cfg = {CONFIG: {"streamProcessingMode": mode}} if mode else {}
    events = stream(rt, dict(echoing_tool_result("plum jam"), **cfg), **guard())
    assert text_of(events) == OUT_MSG
    assert events[0]["message"]["id"].startswith("msg_bdrk_01") and events[0]["message"]["usage"]["input_tokens"] > 0
    assert events[-2]["delta"] == {"stop_reason": "end_turn"}
    assert events[-1]["amazon-bedrock-guardrailAction"] == "INTERVENED" and "amazon-bedrock-trace" not in events[-1]
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] > 0
    events = stream(rt, dict(body("all good"), **cfg), **guard())
    assert text_of(events) == "Echo: all good"
    assert events[-2]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert events[-1]["amazon-bedrock-guardrailAction"] == "NONE"


# ---- errors ---------------------------------------------------------------------------------

def raw(emu, op, payload, headers, content_type="application/json"):
    """A signed request with the headers exactly as given (names in any case)."""
    path = "/model/" + urllib.parse.quote(SONNET45, safe="") + "/" + op
    data = json.dumps(payload).encode()
    h = sign(emu, "POST", path, data, dict(headers, **{"Content-Type": content_type}))
    status, rh, out = send(emu, "POST", path, h, data)
    return status, rh, out


def refused(emu, op, payload, headers, **kw):
    status, rh, out = raw(emu, op, payload, headers, **kw)
    assert status == 400 and rh["x-amzn-errortype"] == "ValidationException" + CORAL, (status, out)
    return json.loads(out)["message"]


ID, VER, TRACE = "X-Amzn-Bedrock-GuardrailIdentifier", "X-Amzn-Bedrock-GuardrailVersion", "X-Amzn-Bedrock-Trace"
NOT_FOUND = "The guardrail identifier or version provided in the request does not exist."


@pytest.mark.parametrize("headers, payload, message", [
    ({ID: "g2"}, body(), "A guardrail version is required when a guardrail identifier is provided."),
    ({VER: "4"}, body(), "A guardrail identifier is required when a guardrail version is provided."),
    ({}, body(**{CONFIG: {"tagSuffix": "a"}}),
     "A guardrail identifier is required when amazon-bedrock-guardrailConfig is provided."),
    ({ID: "g2", VER: "4", TRACE: "enabled"}, body(),
     "1 validation error detected: Value 'enabled' at 'trace' failed to satisfy constraint: "
     "Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_FULL]"),
    ({ID: "G-2", VER: "4"}, body(), "The provided guardrail identifier is invalid."),
    ({ID: "g2", VER: "v4"}, body(), "The provided guardrail version is invalid."),
    ({ID: "nosuch", VER: "4"}, body(), NOT_FOUND),
    ({ID: "g2", VER: "1"}, body(), NOT_FOUND),
    ({ID: "arn:aws:bedrock:eu-west-3:123456789012:guardrail/g2", VER: "4"}, body(), NOT_FOUND),
    ({ID: "g2", VER: "4"}, body(**{CONFIG: {"tagSuffix": "a", "mode": 1}}),
     "Malformed input request: #/amazon-bedrock-guardrailConfig: extraneous key [mode] is not permitted, "
     "please reformat your input and try again."),
    ({ID: "g2", VER: "4"}, body(**{CONFIG: "abc"}),
     "Malformed input request: #/amazon-bedrock-guardrailConfig: expected type: JSONObject, found: str, "
     "please reformat your input and try again."),
])
def test_bad_guardrail_requests_are_refused_on_both_operations(emu, rt, headers, payload, message):
    for op in ("invoke", "invoke-with-response-stream"):
        assert refused(emu, op, payload, headers) == message


def test_stream_processing_mode_belongs_to_the_stream_only_and_has_two_values(emu, rt):
    headers = {ID: "g2", VER: "4"}
    msg = refused(emu, "invoke", body(**{CONFIG: {"streamProcessingMode": "SYNCHRONOUS"}}), headers)
    assert "extraneous key [streamProcessingMode] is not permitted" in msg
    msg = refused(emu, "invoke-with-response-stream", body(**{CONFIG: {"streamProcessingMode": "async"}}), headers)
    assert msg == ("Malformed input request: #/amazon-bedrock-guardrailConfig/streamProcessingMode: async is not a "
                   "valid enum value, please reformat your input and try again.")


def test_a_guardrail_needs_a_json_content_type(emu, rt):
    msg = refused(emu, "invoke", body(), {ID: "g2", VER: "4"}, content_type="text/plain")
    assert msg == "A guardrail can be applied only when the content type is application/json."


def test_header_names_are_read_in_any_case(emu, rt):
    status, _, out = raw(emu, "invoke", body("plum"), {
        "x-amzn-bedrock-guardrailidentifier": "g2", "X-AMZN-BEDROCK-GUARDRAILVERSION": "4",
        "x-Amzn-Bedrock-trace": "ENABLED"})
    msg = json.loads(out)
    assert status == 200 and msg["content"] == [{"type": "text", "text": IN_MSG}]
    assert msg["amazon-bedrock-trace"]["guardrail"]["input"]["g2"]["wordPolicy"]
