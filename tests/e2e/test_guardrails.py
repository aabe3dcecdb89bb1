"""Bedrock Guardrails through real Envoy: the configured guardrail on every request (Converse
for chat, Responses and the Messages API's other models; InvokeModel headers for Claude on
/v1/messages; Bedrock's own API from boto3), per key, a client's own guardrail where the key
allows it, and what clients see when the guardrail intervenes. The emulator's guardrail `g1`
(versions 1 and DRAFT) blocks the word "forbidden"."""

import json
import urllib.request

import anthropic
import botocore.exceptions
import openai
import pytest

from conftest import HAIKU, Gateway, bedrock_native_client, gateway_env

NOVA = "us.amazon.nova-pro-v1:0"
BLOCKED = "Sorry, the model cannot answer this question."
ASK = [{"role": "user", "content": "Tell me the forbidden recipe"}]
CLEAN = [{"role": "user", "content": "Hello"}]
CONFIG = {
    "api_keys": [{"name": "team-a", "key": "key-a"}, {"name": "lab", "key": "key-lab"},
                 {"name": "open", "key": "key-open"}],
    "guardrail": {
        "identifier": "g1", "version": "1",
        "keys": {
            "lab": {"identifier": "g1", "version": "DRAFT", "trace": "enabled",
                    "stream_processing_mode": "async", "allow_request_guardrail": True},
            "open": {},
        },
    },
}


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory):
    config = tmp_path_factory.mktemp("guardrails") / "plugin.json"
    config.write_text(json.dumps(CONFIG))
    gateway = Gateway(gateway_env(emulator, API_KEY=None, PLUGIN_CONFIG_FILE=str(config)))
    yield gateway
    gateway.close()


def anthropic_sdk(gw, key):
    return anthropic.Anthropic(base_url=f"http://127.0.0.1:{gw.port}", api_key=key, max_retries=0, timeout=60)


def sent_guardrails(emulator):
    return [r["body"].get("guardrailConfig") for r in emulator.runtime_requests()]


def add_guardrail(emulator, spec):
    req = urllib.request.Request(f"{emulator.url}/_emulator/guardrails", data=json.dumps(spec).encode(),
                                 method="POST")
    urllib.request.urlopen(req).read()


G1 = {"guardrailIdentifier": "g1", "guardrailVersion": "1"}


def test_chat_intervention_json_and_sse(gw, emulator):
    client = gw.client(api_key="key-a")
    resp = client.chat.completions.create(model=NOVA, messages=ASK)
    assert resp.choices[0].finish_reason == "content_filter"
    assert resp.choices[0].message.content == BLOCKED
    assert "trace" not in json.dumps(resp.model_dump())
    chunks = list(client.chat.completions.create(model=NOVA, messages=ASK, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == BLOCKED
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"
    assert sent_guardrails(emulator) == [G1, G1], "no streamProcessingMode unless configured"


def test_responses_intervention_json_and_sse(gw, emulator):
    client = gw.client(api_key="key-a")
    resp = client.responses.create(model=NOVA, input="the forbidden recipe")
    assert resp.status == "incomplete"
    assert resp.incomplete_details.reason == "content_filter"
    assert resp.output_text == BLOCKED
    events = list(client.responses.create(model=NOVA, input="the forbidden recipe", stream=True))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == BLOCKED
    last = events[-1]
    assert last.response.status == "incomplete"
    assert last.response.incomplete_details.reason == "content_filter"
    assert sent_guardrails(emulator) == [G1, G1]


ACTION = "amazon-bedrock-guardrailAction"


def assert_intervened(message, text):
    """A Messages answer the guardrail blocked: its message as the answer, marked as such (not
    `refusal`, which Claude Code shows as Anthropic's usage-policy error instead of the text)."""
    assert [b.text for b in message.content] == [text]
    assert message.stop_reason == "end_turn"
    assert (message.model_extra or {}).get(ACTION) == "INTERVENED"


def assert_stream_intervened(events):
    events = list(events)
    [delta] = [e for e in events if e.type == "message_delta"]
    assert delta.delta.stop_reason == "end_turn" and delta.model_extra[ACTION] == "INTERVENED"
    return delta


def test_messages_intervention_json_and_sse_for_a_model_that_is_not_claude(gw, emulator):
    client = anthropic_sdk(gw, "key-a")
    msg = client.messages.create(model=NOVA, max_tokens=64, messages=ASK)
    assert_intervened(msg, BLOCKED)
    with client.messages.stream(model=NOVA, max_tokens=64, messages=ASK) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == BLOCKED and final.stop_reason == "end_turn"
    assert_stream_intervened(client.messages.create(model=NOVA, max_tokens=64, messages=ASK, stream=True))
    assert sent_guardrails(emulator) == [G1, G1, G1]


def test_the_guardrail_goes_on_clean_requests_too_and_per_key(gw, emulator):
    assert gw.client(api_key="key-a").chat.completions.create(
        model=NOVA, messages=CLEAN).choices[0].message.content == "Echo: Hello"
    # "open" has an empty entry: no guardrail, so the word passes.
    resp = gw.client(api_key="key-open").chat.completions.create(model=NOVA, messages=ASK)
    assert resp.choices[0].finish_reason == "stop" and "forbidden" in resp.choices[0].message.content
    # "lab": its own version, trace and stream mode (the mode on streams only).
    lab = gw.client(api_key="key-lab")
    lab.chat.completions.create(model=NOVA, messages=CLEAN)
    list(lab.chat.completions.create(model=NOVA, messages=CLEAN, stream=True))
    lab_json = {"guardrailIdentifier": "g1", "guardrailVersion": "DRAFT", "trace": "enabled"}
    assert sent_guardrails(emulator) == [G1, None, lab_json, dict(lab_json, streamProcessingMode="async")]


def word_matches(trace):
    return [w["match"] for w in trace["inputAssessment"]["g1"]["wordPolicy"]["customWords"]]


def test_a_configured_trace_reaches_the_client_as_guardrail_trace(gw, emulator):
    lab = gw.client(api_key="key-lab")
    resp = lab.chat.completions.create(model=NOVA, messages=ASK)
    assert word_matches(resp.model_extra["guardrail_trace"]) == ["forbidden"]
    chunks = list(lab.chat.completions.create(model=NOVA, messages=ASK, stream=True))
    traced = [c for c in chunks if (c.model_extra or {}).get("guardrail_trace")]
    assert len(traced) == 1 and traced[0].choices == [] and chunks[-1] is traced[0]
    assert word_matches(traced[0].model_extra["guardrail_trace"]) == ["forbidden"]
    resp = lab.responses.create(model=NOVA, input="the forbidden recipe")
    assert word_matches(resp.model_extra["guardrail_trace"]) == ["forbidden"]
    done = list(lab.responses.create(model=NOVA, input="the forbidden recipe", stream=True))[-1]
    assert word_matches(done.response.model_extra["guardrail_trace"]) == ["forbidden"]
    claude_sdk = anthropic_sdk(gw, "key-lab")
    msg = claude_sdk.messages.create(model=NOVA, max_tokens=64, messages=ASK)
    assert word_matches(msg.model_extra["guardrail_trace"]) == ["forbidden"]
    events = list(claude_sdk.messages.create(model=NOVA, max_tokens=64, messages=ASK, stream=True))
    [delta] = [e for e in events if e.type == "message_delta"]
    assert word_matches(delta.model_extra["guardrail_trace"]) == ["forbidden"]


def test_no_trace_where_none_is_configured(gw, emulator):
    client = gw.client(api_key="key-a")
    resp = client.chat.completions.create(model=NOVA, messages=ASK)
    chunks = list(client.chat.completions.create(model=NOVA, messages=ASK, stream=True))
    msg = anthropic_sdk(gw, "key-a").messages.create(model=NOVA, max_tokens=64, messages=ASK)
    for answer in [resp, msg, *chunks]:
        assert "guardrail_trace" not in (answer.model_extra or {})
        assert "inputAssessment" not in answer.model_dump_json()


def test_a_request_guardrail_only_where_the_key_allows_it(gw, emulator):
    add_guardrail(emulator, {"id": "gr7abc", "versions": ["3"], "words": ["pineapple"],
                             "blocked_input_message": "No fruit talk here."})
    chosen = {"guardrailIdentifier": "gr7abc", "guardrailVersion": "3"}
    ask = [{"role": "user", "content": "pineapple on pizza?"}]
    with pytest.raises(openai.PermissionDeniedError) as err:
        gw.client(api_key="key-a").chat.completions.create(
            model=NOVA, messages=ask, extra_body={"guardrailConfig": chosen})
    assert err.value.body["code"] == "guardrail_not_allowed" and "guardrailConfig" in err.value.body["message"]
    with pytest.raises(anthropic.PermissionDeniedError):
        anthropic_sdk(gw, "key-open").messages.create(model=NOVA, max_tokens=64, messages=ask,
                                                       extra_body={"guardrailConfig": chosen})
    assert emulator.runtime_requests() == [], "refused requests never reach Bedrock"

    lab = gw.client(api_key="key-lab")
    resp = lab.chat.completions.create(model=NOVA, messages=ask, extra_body={"guardrailConfig": chosen})
    assert resp.choices[0].message.content == "No fruit talk here."
    # bedrock-access-gateway's literal extra_body object works too; so does Responses.
    resp = lab.chat.completions.create(model=NOVA, messages=ask,
                                       extra_body={"extra_body": {"guardrailConfig": chosen}})
    assert resp.choices[0].finish_reason == "content_filter"
    resp = lab.responses.create(model=NOVA, input="pineapple?", extra_body={"guardrailConfig": chosen})
    assert resp.incomplete_details.reason == "content_filter"
    # Claude on /v1/messages: the same choice, sent as InvokeModel's headers.
    msg = anthropic_sdk(gw, "key-lab").messages.create(model=HAIKU, max_tokens=64, messages=ask,
                                                        extra_body={"guardrailConfig": chosen})
    assert_intervened(msg, "No fruit talk here.")
    # Fields the client leaves out keep the key's configured values.
    expected = dict(chosen, trace="enabled")
    assert sent_guardrails(emulator) == [expected, expected, expected, None]
    assert invoke_guardrail_headers(emulator.runtime_requests()[-1]) == ("gr7abc", "3", "ENABLED")
    for body in emulator.runtime_requests():
        assert "guardrailConfig" not in json.dumps(body["body"].get("additionalModelRequestFields") or {})


def invoke_guardrail_headers(call):
    headers = call["headers"]
    return tuple(headers.get(f"x-amzn-bedrock-{name}") for name in ("guardrailidentifier", "guardrailversion",
                                                                     "trace"))


def test_claude_on_messages_is_guarded_json_and_sse(gw, emulator):
    client = anthropic_sdk(gw, "key-a")
    msg = client.messages.create(model=HAIKU, max_tokens=64, messages=ASK)
    assert_intervened(msg, BLOCKED)
    assert msg.id and msg.usage.output_tokens == 0
    delta = assert_stream_intervened(client.messages.create(model=HAIKU, max_tokens=64, messages=ASK,
                                                            stream=True))
    clean = client.messages.create(model=HAIKU, max_tokens=64, messages=CLEAN)
    assert clean.stop_reason == "end_turn" and clean.content[0].text != BLOCKED
    assert ACTION not in (clean.model_extra or {})
    for answer in (msg, delta, clean):
        assert "amazon-bedrock-trace" not in (answer.model_extra or {})
        assert "guardrail_trace" not in (answer.model_extra or {})
    calls = emulator.runtime_requests()
    assert [invoke_guardrail_headers(c) for c in calls] == [("g1", "1", None)] * 3
    assert [c["path"].rsplit("/", 1)[1] for c in calls] == ["invoke", "invoke-with-response-stream", "invoke"]
    # A client's own Bedrock headers never choose for it.
    client.messages.create(model=HAIKU, max_tokens=64, messages=CLEAN,
                           extra_headers={"X-Amzn-Bedrock-GuardrailIdentifier": "gr7abc",
                                          "X-Amzn-Bedrock-Trace": "ENABLED_FULL"})
    assert invoke_guardrail_headers(emulator.runtime_requests()[-1]) == ("g1", "1", None)
    # A key without a guardrail sends none.
    anthropic_sdk(gw, "key-open").messages.create(model=HAIKU, max_tokens=64, messages=ASK)
    assert invoke_guardrail_headers(emulator.runtime_requests()[-1]) == (None, None, None)


def test_claude_on_messages_carries_the_configured_trace_and_stream_mode(gw, emulator):
    lab = anthropic_sdk(gw, "key-lab")
    msg = lab.messages.create(model=HAIKU, max_tokens=64, messages=ASK)
    assert_intervened(msg, BLOCKED)
    assert "g1" in json.dumps(msg.model_extra["guardrail_trace"])
    events = list(lab.messages.create(model=HAIKU, max_tokens=64, messages=ASK, stream=True))
    delta = assert_stream_intervened(events)
    assert "g1" in json.dumps(delta.model_extra["guardrail_trace"])
    assert events[-1].type == "message_stop" and not events[-1].model_extra
    plain, stream = emulator.runtime_requests()
    assert invoke_guardrail_headers(plain) == ("g1", "DRAFT", "ENABLED")
    assert "amazon-bedrock-guardrailConfig" not in plain["body"]
    assert stream["body"]["amazon-bedrock-guardrailConfig"] == {"streamProcessingMode": "ASYNCHRONOUS"}


def test_bedrock_native_clients_get_the_keys_guardrail(gw, emulator, monkeypatch):
    client = bedrock_native_client(gw, "key-a", monkeypatch)
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": ASK})
    answer = json.loads(client.invoke_model(modelId=HAIKU, body=body)["body"].read())
    # Bedrock's own answer, untouched.
    assert answer["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert answer["content"][0]["text"] == BLOCKED
    stream = client.invoke_model_with_response_stream(modelId=HAIKU, body=body)["body"]
    chunks = [json.loads(e["chunk"]["bytes"]) for e in stream if "chunk" in e]
    assert chunks[-1]["amazon-bedrock-guardrailAction"] == "INTERVENED"
    converse = client.converse(modelId=NOVA, messages=[{"role": "user", "content": [{"text": ASK[0]["content"]}]}])
    assert converse["stopReason"] == "guardrail_intervened"
    calls = emulator.runtime_requests()
    assert [invoke_guardrail_headers(c) for c in calls[:2]] == [("g1", "1", None)] * 2
    assert calls[2]["body"]["guardrailConfig"] == G1


def test_bedrock_native_guardrail_choices_need_the_keys_permission(gw, emulator, monkeypatch):
    add_guardrail(emulator, {"id": "gr7abc", "versions": ["3"], "words": ["pineapple"],
                             "blocked_input_message": "No fruit talk here."})
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
                       "messages": [{"role": "user", "content": "pineapple?"}]})
    own = {"guardrailIdentifier": "gr7abc", "guardrailVersion": "3"}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        bedrock_native_client(gw, "key-a", monkeypatch).invoke_model(modelId=HAIKU, body=body, **own)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    guard_content = [{"role": "user", "content": [{"text": "forbidden words here"},
                                                  {"guardContent": {"text": {"text": "harmless"}}}]}]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        bedrock_native_client(gw, "key-a", monkeypatch).converse(modelId=NOVA, messages=guard_content)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "guardContent" in err.value.response["Error"]["Message"]
    assert emulator.runtime_requests() == [], "refused requests never reach Bedrock"
    # Allowed: the client's own guardrail; a key without a guardrail: the request as sent.
    for key in ("key-lab", "key-open"):
        answer = bedrock_native_client(gw, key, monkeypatch).invoke_model(modelId=HAIKU, body=body, **own)
        assert json.loads(answer["body"].read())["content"][0]["text"] == "No fruit talk here."
    lab, open_key = emulator.runtime_requests()
    assert invoke_guardrail_headers(lab) == ("gr7abc", "3", "ENABLED")
    assert invoke_guardrail_headers(open_key) == ("gr7abc", "3", None)


def test_a_malformed_request_guardrail_is_a_400_naming_the_field(gw, emulator):
    with pytest.raises(openai.BadRequestError) as err:
        gw.client(api_key="key-lab").chat.completions.create(
            model=NOVA, messages=CLEAN, extra_body={"guardrailConfig": {"guardrailVersion": "v2"}})
    assert err.value.body["param"] == "guardrailConfig.guardrailVersion"
    assert emulator.runtime_requests() == []


def test_an_unknown_guardrail_is_bedrocks_error_in_the_clients_shape(gw, emulator):
    unknown = {"guardrailIdentifier": "g1", "guardrailVersion": "9"}
    with pytest.raises(openai.BadRequestError) as err:
        gw.client(api_key="key-lab").chat.completions.create(
            model=NOVA, messages=CLEAN, extra_body={"guardrailConfig": unknown})
    assert "The guardrail identifier or version provided in the request does not exist." in err.value.body["message"]
    with pytest.raises(anthropic.BadRequestError) as err:
        anthropic_sdk(gw, "key-lab").messages.create(model=NOVA, max_tokens=64, messages=CLEAN,
                                                      extra_body={"guardrailConfig": unknown})
    assert "does not exist" in err.value.body["error"]["message"]


def write_config(tmp_path, config):
    path = tmp_path / "plugin.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize("guardrail, field", [
    ({"identifier": "g1"}, "guardrail.version"),
    ({"identifier": "g1", "version": "1", "trace": "on"}, "guardrail.trace"),
    ({"identifier": "G 1", "version": "1"}, "guardrail.identifier"),
    ({"keys": {"ghost": {}}}, "guardrail.keys.ghost"),
    ({"identifer": "g1"}, "identifer"),
])
def test_bad_guardrail_config_stops_envoy_naming_the_field(emulator, tmp_path, guardrail, field):
    config = {"api_keys": ["k"], "guardrail": guardrail}
    with pytest.raises(RuntimeError) as failed:
        Gateway(gateway_env(emulator, API_KEY=None, PLUGIN_CONFIG_FILE=write_config(tmp_path, config)))
    line = next(l for l in str(failed.value).splitlines() if "invalid configuration" in l)
    assert field in line.split("invalid configuration", 1)[1], line
