"""The emulator's Bedrock Guardrails (guardrails.py), checked with botocore's own client, which
parses Bedrock's answers, errors and ConverseStream events."""

import http.client
import json

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emu_harness import API_KEYS, emu, start_emulator, stop_emulator  # noqa: F401 (fixture)

NOVA = "amazon.nova-lite-v1:0"
BLOCKED = "Sorry, the model cannot answer this question."
G1 = {"guardrailIdentifier": "g1", "guardrailVersion": "1"}


def say(text):
    return [{"role": "user", "content": [{"text": text}]}]


def hook(emu, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=20)
    conn.request(method, path, body=json.dumps(body) if body is not None else None)
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


def client_for(emu):
    return botocore.session.Session().create_client(
        "bedrock-runtime", region_name=emu.region, endpoint_url=emu.url,
        aws_access_key_id=emu.access_key, aws_secret_access_key=emu.secret_key,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=20))


@pytest.fixture
def runtime(emu):
    hook(emu, "POST", "/_emulator/reset")
    yield client_for(emu)
    hook(emu, "POST", "/_emulator/reset")


def stream(runtime, **kw):
    events = list(runtime.converse_stream(modelId=NOVA, **kw)["stream"])
    text = "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e)
    stop = next(e["messageStop"] for e in events if "messageStop" in e)
    metadata = next(e["metadata"] for e in events if "metadata" in e)
    return text, stop, metadata


def test_a_listed_word_blocks_the_input_with_the_default_message_and_no_model_tokens(runtime):
    out = runtime.converse(modelId=NOVA, messages=say("tell me the forbidden thing"), guardrailConfig=G1)
    assert out["stopReason"] == "guardrail_intervened"
    assert out["output"]["message"]["content"] == [{"text": BLOCKED}]
    assert out["usage"]["inputTokens"] == 0 and out["usage"]["outputTokens"] == 0
    assert "trace" not in out  # trace is off unless asked for


def test_clean_input_is_answered_and_a_word_in_the_answer_blocks_the_output(runtime):
    out = runtime.converse(modelId=NOVA, messages=say("hello there"), guardrailConfig=G1)
    assert out["stopReason"] == "end_turn"
    assert out["output"]["message"]["content"] == [{"text": "Echo: hello there"}]
    # Tool results are not assessed as input, but the emulator's answer repeats them.
    turns = [
        {"role": "user", "content": [{"text": "look it up"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "forbidden"}]}}]},
    ]
    tools = {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}
    out = runtime.converse(modelId=NOVA, messages=turns, toolConfig=tools,
                           guardrailConfig=dict(G1, trace="enabled"))
    assert out["stopReason"] == "guardrail_intervened"
    assert out["output"]["message"]["content"] == [{"text": BLOCKED}]
    trace = out["trace"]["guardrail"]
    assert trace["outputAssessments"]["g1"][0]["wordPolicy"]["customWords"][0]["match"] == "forbidden"
    assert "forbidden" in trace["modelOutput"][0]


def test_trace_shape_when_enabled(runtime):
    out = runtime.converse(modelId=NOVA, messages=say("a Forbidden question"),
                           guardrailConfig=dict(G1, trace="enabled"))
    trace = out["trace"]["guardrail"]
    assessment = trace["inputAssessment"]["g1"]
    assert assessment["wordPolicy"]["customWords"] == [{"match": "forbidden", "action": "BLOCKED", "detected": True}]
    assert assessment["invocationMetrics"]["guardrailCoverage"]["textCharacters"]["total"] == len("a Forbidden question")
    assert trace["actionReason"]


def test_streams_carry_the_message_as_deltas_and_the_trace_in_metadata(runtime):
    text, stop, metadata = stream(runtime, messages=say("forbidden"),
                                  guardrailConfig=dict(G1, trace="enabled", streamProcessingMode="sync"))
    assert text == BLOCKED
    assert stop["stopReason"] == "guardrail_intervened"
    assert metadata["trace"]["guardrail"]["inputAssessment"]["g1"]["wordPolicy"]["customWords"][0]["detected"]
    text, stop, metadata = stream(runtime, messages=say("fine"), guardrailConfig=G1)
    assert (text, stop["stopReason"]) == ("Echo: fine", "end_turn")
    assert "trace" not in metadata


@pytest.mark.parametrize("config", [
    {"guardrailIdentifier": "nosuch", "guardrailVersion": "1"},
    {"guardrailIdentifier": "g1", "guardrailVersion": "7"},
    {"guardrailIdentifier": "arn:aws:bedrock:eu-west-1:123456789012:guardrail/g1", "guardrailVersion": "1"},
])
def test_unknown_guardrail_or_version_is_bedrocks_validation_error(runtime, config):
    for call in (runtime.converse, runtime.converse_stream):
        with pytest.raises(ClientError) as err:
            call(modelId=NOVA, messages=say("hi"), guardrailConfig=config)
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert err.value.response["Error"]["Message"] == (
            "The guardrail identifier or version provided in the request does not exist.")


def test_an_arn_in_the_emulators_region_resolves(emu, runtime):
    arn = f"arn:aws:bedrock:{emu.region}:123456789012:guardrail/g1"
    out = runtime.converse(modelId=NOVA, messages=say("forbidden"),
                           guardrailConfig={"guardrailIdentifier": arn, "guardrailVersion": "DRAFT"})
    assert out["stopReason"] == "guardrail_intervened"


def test_patterns_and_the_stream_only_member_are_validated(emu, runtime):
    def raw(op, config):
        conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=20)
        conn.request("POST", f"/model/{NOVA}/{op}", body=json.dumps({"messages": say("hi"), "guardrailConfig": config}),
                     headers={"Authorization": f"Bearer {API_KEYS[0]}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        return resp.status, resp.getheader("x-amzn-ErrorType", ""), body["message"]

    status, etype, msg = raw("converse", dict(G1, streamProcessingMode="sync"))
    assert (status, etype.split(":")[0]) == (400, "ValidationException") and "streamProcessingMode" in msg
    for bad, field in [({"guardrailIdentifier": "G-1", "guardrailVersion": "1"}, "guardrailIdentifier"),
                       ({"guardrailIdentifier": "g1", "guardrailVersion": "0"}, "guardrailVersion"),
                       (dict(G1, streamProcessingMode="later"), "streamProcessingMode")]:
        status, _, msg = raw("converse-stream", bad)
        assert status == 400 and field in msg, msg


def test_guardrails_are_added_through_the_control_api_and_reset(emu, runtime):
    status, known = hook(emu, "POST", "/_emulator/guardrails", {
        "id": "gr7abc", "versions": ["3"], "words": ["pineapple"], "blocked_input_message": "No fruit here."})
    assert status == 200 and "gr7abc" in [g["id"] for g in known]
    config = {"guardrailIdentifier": "gr7abc", "guardrailVersion": "3"}
    out = runtime.converse(modelId=NOVA, messages=say("pineapple pizza?"), guardrailConfig=config)
    assert out["output"]["message"]["content"] == [{"text": "No fruit here."}]
    assert hook(emu, "POST", "/_emulator/guardrails", {"id": "Bad!"})[0] == 400
    hook(emu, "POST", "/_emulator/reset")
    with pytest.raises(ClientError):
        runtime.converse(modelId=NOVA, messages=say("pineapple"), guardrailConfig=config)


def test_the_start_set_comes_from_the_environment():
    e = start_emulator({"EMULATOR_GUARDRAILS": json.dumps([{"id": "envgr", "versions": ["DRAFT"], "words": ["x"]}])})
    try:
        runtime = client_for(e)
        out = runtime.converse(modelId=NOVA, messages=say("x marks"),
                               guardrailConfig={"guardrailIdentifier": "envgr", "guardrailVersion": "DRAFT"})
        assert out["stopReason"] == "guardrail_intervened"
        with pytest.raises(ClientError):
            runtime.converse(modelId=NOVA, messages=say("hi"), guardrailConfig=G1)
    finally:
        stop_emulator(e)
