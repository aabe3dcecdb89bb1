"""Walking skeleton: chat completions through real Envoy + the filter to the SigV4-checking emulator."""

import json
import urllib.error
import urllib.request

import openai
import pytest

from conftest import CLIENT_KEY, HAIKU, Emulator, Gateway, clean_env, gateway_env


def post(gateway, path, body, key=CLIENT_KEY, method="POST", raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:{gateway.port}{path}", data=data, method=method)
    req.add_header("content-type", "application/json")
    if key:
        req.add_header("authorization", f"Bearer {key}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def test_sdk_chat_completion_round_trip(client, emulator):
    resp = client.chat.completions.create(
        model=HAIKU,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}],
        max_tokens=50, temperature=0.2, top_p=0.9, stop=["END"])
    assert resp.object == "chat.completion"
    assert resp.model == HAIKU
    assert resp.id.startswith("chatcmpl-")
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Echo: Hello!"
    assert choice.finish_reason == "stop"
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    [seen] = emulator.runtime_requests()
    assert seen["path"] == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    assert seen["auth"] == "sigv4" and seen["auth_ok"], seen.get("error")
    assert CLIENT_KEY not in json.dumps(seen["headers"]), "client key must never go upstream"
    assert seen["body"]["system"] == [{"text": "Be brief."}]
    assert seen["body"]["messages"] == [{"role": "user", "content": [{"text": "Hello!"}]}]
    assert seen["body"]["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.2, "topP": 0.9,
                                               "stopSequences": ["END"]}


def test_bag_style_api_prefix_and_ids_with_slashes(gateway, emulator):
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123profile"
    for model in (arn, "us." + HAIKU):
        status, _, body = post(gateway, "/api/v1/chat/completions",
                               {"model": model, "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200, body
        assert body["choices"][0]["message"]["content"] == "Echo: hi"
    paths = [r["path"] for r in emulator.runtime_requests()]
    assert paths[0] == ("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
                        "application-inference-profile%2Fabc123profile/converse")
    assert all(r["auth_ok"] for r in emulator.runtime_requests())


def test_wrong_or_missing_key_is_401_and_nothing_is_forwarded(gateway, emulator):
    with pytest.raises(openai.AuthenticationError) as err:
        gateway.client(api_key="wrong").chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 401
    assert err.value.body["code"] == "invalid_api_key"
    status, _, body = post(gateway, "/v1/chat/completions", {"model": HAIKU, "messages": []}, key=None)
    assert status == 401 and body["error"]["type"] == "invalid_request_error"
    assert emulator.runtime_requests() == []


@pytest.mark.parametrize("raw, param_hint", [
    (b"{not json", "not valid JSON"),
    (b'{"messages":[{"role":"user","content":"hi"}]}', "'model'"),
    (b'{"model":"m"}', "'messages'"),
    (b'{"model":"m","messages":"hi"}', "Invalid request body"),
    (b'{"model":"m","messages":[{"role":"wizard","content":"hi"}]}', "unknown role"),
    (b'{"model":"../../x","messages":[{"role":"user","content":"hi"}]}', "Invalid 'model'"),
    (b'[1,2]', "JSON object"),
])
def test_bad_requests_get_openai_400_and_nothing_is_forwarded(gateway, emulator, raw, param_hint):
    status, headers, body = post(gateway, "/v1/chat/completions", None, raw=raw)
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    assert param_hint in body["error"]["message"]
    assert body["error"]["type"] == "invalid_request_error"
    assert emulator.runtime_requests() == []


def test_unknown_path_and_wrong_method(gateway):
    assert post(gateway, "/v1/nothing", {})[0] == 404
    status, _, body = post(gateway, "/v1/chat/completions", None, method="GET")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("model, scenario, error_class, status", [
    (HAIKU, "[[scenario:throttle]]", openai.RateLimitError, 429),
    (HAIKU, "[[scenario:error_500]]", openai.InternalServerError, 500),
    (HAIKU, "[[scenario:unavailable]]", openai.InternalServerError, 503),
    ("anthropic.no-access-model-v1:0", "", openai.PermissionDeniedError, 403),
    ("anthropic.claude-does-not-exist-v9:0", "", openai.BadRequestError, 400),
])
def test_bedrock_errors_map_to_openai_errors(client, model, scenario, error_class, status):
    with pytest.raises(error_class) as err:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"hi {scenario}"}])
    assert err.value.status_code == status
    assert err.value.body["message"].startswith("Bedrock: ")


def test_bedrock_validation_error_keeps_bedrock_message(client):
    # temperature is clamped, but a thinking budget above max tokens reaches Bedrock's own check.
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="us.anthropic.claude-3-7-sonnet-20250219-v1:0", max_tokens=2000,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"thinking": {"type": "enabled", "budget_tokens": 4000}})
    assert "budget" in err.value.body["message"].lower()


def test_bad_signature_is_bedrocks_403_as_openai_error(emulator):
    gw = Gateway(gateway_env(emulator, AWS_SECRET_ACCESS_KEY="not-the-right-secret"))
    try:
        with pytest.raises(openai.PermissionDeniedError) as err:
            gw.client().chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "hi"}])
        assert "signature" in err.value.body["message"].lower()
        [seen] = emulator.runtime_requests()
        assert seen["auth_ok"] is False
    finally:
        gw.close()


def test_session_token_is_signed_and_checked():
    emu = Emulator(EMULATOR_SESSION_TOKEN="session-token-123")
    gw = Gateway(gateway_env(emu, AWS_SESSION_TOKEN="session-token-123"))
    try:
        resp = gw.client().chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "hi"}])
        assert resp.choices[0].message.content == "Echo: hi"
        [seen] = emu.runtime_requests()
        assert seen["headers"]["x-amz-security-token"] == "session-token-123"
    finally:
        gw.close()
        emu.close()


def test_run_without_credentials_starts_bundled_emulator_and_says_so():
    gw = Gateway(clean_env())
    try:
        assert "CANNED ANSWERS" in gw.output()
        resp = gw.client(api_key="demo-key").chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "Hello!"}])
        assert resp.choices[0].message.content == "Echo: Hello!"
    finally:
        gw.close()
