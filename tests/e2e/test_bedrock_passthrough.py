"""Bedrock's own API through the gateway (bedrock_passthrough): boto3 with the gateway key as
a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK), as any AWS SDK that supports Bedrock API keys.
The emulator checks that what reaches it is signed with the gateway's SigV4 credentials."""

import json

import botocore.exceptions
import pytest

from conftest import CLIENT_KEY, Gateway, bedrock_native_client as runtime, gateway_env

SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def passthrough_gateway(emulator, tmp_path_factory):
    config = tmp_path_factory.mktemp("passthrough") / "plugin.json"
    config.write_text(json.dumps({
        "model_aliases": {"sonnet": SONNET45},
        "api_keys": [{"name": "team-a", "key": CLIENT_KEY},
                     {"name": "team-b", "key": "team-b-key", "models": [HAIKU3]}],
    }))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config), API_KEY=None))
    yield gw
    gw.close()


def anthropic_body(text, max_tokens=64):
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": max_tokens,
                       "messages": [{"role": "user", "content": text}]})


def test_invoke_model_goes_through_re_signed_and_the_answer_untouched(passthrough_gateway, emulator,
                                                                      monkeypatch):
    client = runtime(passthrough_gateway, CLIENT_KEY, monkeypatch)
    answer = client.invoke_model(modelId=SONNET45, body=anthropic_body("Say hi"))
    body = json.loads(answer["body"].read())
    assert body["type"] == "message" and body["content"][0]["type"] == "text"
    [call] = emulator.runtime_requests()
    assert call["auth"] == "sigv4" and call["status"] == 200
    assert CLIENT_KEY not in json.dumps(call["headers"])
    assert call["body"]["messages"] == [{"role": "user", "content": "Say hi"}]


def test_streams_pass_frame_by_frame_and_usage_reaches_stats(passthrough_gateway, emulator, monkeypatch):
    client = runtime(passthrough_gateway, CLIENT_KEY, monkeypatch)
    stream = client.invoke_model_with_response_stream(modelId="sonnet", body=anthropic_body("Say hi"))
    events = [json.loads(e["chunk"]["bytes"]) for e in stream["body"] if "chunk" in e]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    [call] = emulator.runtime_requests()
    assert call["path"].endswith("/invoke-with-response-stream") and "sonnet-4-5" in call["path"]
    # The tokens Bedrock reported in the last chunk are counted for the model (Envoy stats).
    counters = dict(line.split(": ", 1) for line in passthrough_gateway.stats().splitlines() if ": " in line)
    model = "wasmcustom.bedrock_access_filter.model." + SONNET45.replace(".", "_").replace(":", "_")
    assert int(counters[f"{model}.output_tokens"]) >= metrics["outputTokenCount"] > 0
    assert int(counters["wasmcustom.bedrock_access_filter.key.team-a.requests"]) >= 1


def test_converse_and_converse_stream_work_as_for_bedrock(passthrough_gateway, monkeypatch):
    client = runtime(passthrough_gateway, CLIENT_KEY, monkeypatch)
    messages = [{"role": "user", "content": [{"text": "Say hi"}]}]
    answer = client.converse(modelId=SONNET45, messages=messages, inferenceConfig={"maxTokens": 64})
    assert answer["output"]["message"]["content"][0]["text"]
    assert answer["usage"]["outputTokens"] > 0
    stream = client.converse_stream(modelId=SONNET45, messages=messages, inferenceConfig={"maxTokens": 64})
    kinds = [next(iter(e)) for e in stream["stream"]]
    assert kinds[0] == "messageStart" and "metadata" in kinds


def test_a_wrong_key_or_a_model_outside_the_keys_list_raises_the_sdks_exception(passthrough_gateway,
                                                                                 emulator, monkeypatch):
    bad = runtime(passthrough_gateway, "not-a-key", monkeypatch)
    with pytest.raises(botocore.exceptions.ClientError) as wrong:
        bad.invoke_model(modelId=SONNET45, body=anthropic_body("hi"))
    assert wrong.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert wrong.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    limited = runtime(passthrough_gateway, "team-b-key", monkeypatch)
    with pytest.raises(limited.exceptions.AccessDeniedException) as denied:
        limited.invoke_model(modelId=SONNET45, body=anthropic_body("hi"))
    assert "not allowed" in denied.value.response["Error"]["Message"]
    assert emulator.runtime_requests() == []


def test_passthrough_can_be_switched_off(emulator, tmp_path, monkeypatch):
    config = tmp_path / "plugin.json"
    config.write_text(json.dumps({"bedrock_passthrough": False}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    try:
        client = runtime(gw, CLIENT_KEY, monkeypatch)
        with pytest.raises(botocore.exceptions.ClientError) as off:
            client.invoke_model(modelId=SONNET45, body=anthropic_body("hi"))
        assert off.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert emulator.runtime_requests() == []
    finally:
        gw.close()


def control_plane(gateway, key, monkeypatch):
    return runtime(gateway, key, monkeypatch, service="bedrock")


def test_inference_profiles_come_from_the_control_plane_filtered_by_the_key(passthrough_gateway, emulator,
                                                                            monkeypatch):
    everyone = control_plane(passthrough_gateway, CLIENT_KEY, monkeypatch)
    listed = everyone.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    ids = {p["inferenceProfileId"] for p in listed}
    assert SONNET45 in ids
    one = everyone.get_inference_profile(inferenceProfileIdentifier=SONNET45)
    assert one["inferenceProfileId"] == SONNET45
    calls = [r for r in emulator.requests() if r["path"].startswith("/inference-profiles")]
    assert calls and all(r["auth"] == "sigv4" and CLIENT_KEY not in json.dumps(r["headers"]) for r in calls)

    limited = control_plane(passthrough_gateway, "team-b-key", monkeypatch)
    seen = limited.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    assert all(p["inferenceProfileId"] == HAIKU3 for p in seen)
    with pytest.raises(limited.exceptions.AccessDeniedException):
        limited.get_inference_profile(inferenceProfileIdentifier=SONNET45)
