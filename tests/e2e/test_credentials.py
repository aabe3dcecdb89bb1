"""Each way of authorizing requests to Bedrock, and of configuring the filter, end to end."""

import json

import openai
import pytest

from conftest import ACCESS_KEY, CLIENT_KEY, HAIKU, SECRET_KEY, Emulator, Gateway, clean_env, gateway_env

HELLO = [{"role": "user", "content": "Hello!"}]


@pytest.fixture
def fresh_emulator():
    emu = Emulator(EMULATOR_API_KEYS="bedrock-api-key-1")
    yield emu
    emu.close()


def chat_and_stream(gw):
    client = gw.client()
    assert client.chat.completions.create(model=HAIKU, messages=HELLO).choices[0].message.content == "Echo: Hello!"
    streamed = "".join(c.choices[0].delta.content or "" for c in
                       client.chat.completions.create(model=HAIKU, messages=HELLO, stream=True) if c.choices)
    assert streamed == "Echo: Hello!"


def test_envoy_native_signing_signs_the_translated_body(fresh_emulator):
    # The filter does not sign; Envoy's aws_request_signing upstream filter reads the keys.
    gw = Gateway(gateway_env(fresh_emulator, UPSTREAM_AUTH="envoy"))
    try:
        chat_and_stream(gw)
        records = fresh_emulator.runtime_requests()
        assert len(records) == 2
        for rec in records:
            assert rec["auth"] == "sigv4" and rec["auth_ok"], rec["error"]
            assert f"Credential={ACCESS_KEY}/" in rec["headers"]["authorization"]
            assert rec["body"]["messages"][0]["content"] == [{"text": "Hello!"}], "translated body was signed"
    finally:
        gw.close()


def test_bedrock_api_key_is_sent_as_bearer(fresh_emulator):
    env = clean_env(API_KEY=CLIENT_KEY, AWS_BEARER_TOKEN_BEDROCK="bedrock-api-key-1",
                    AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fresh_emulator.url)
    gw = Gateway(env)
    try:
        chat_and_stream(gw)
        for rec in fresh_emulator.runtime_requests():
            assert rec["auth"] == "bearer" and rec["auth_ok"]
            assert rec["headers"]["authorization"] == "Bearer bedrock-api-key-1"
    finally:
        gw.close()


def write_profile(tmp_path):
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = AKIDWRONGDEFAULT\naws_secret_access_key = nope\n\n"
        f"[dev]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
    (tmp_path / "config").write_text("[profile dev]\nregion = us-east-1\n")
    return dict(AWS_PROFILE="dev", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
                AWS_CONFIG_FILE=str(tmp_path / "config"))


@pytest.mark.parametrize("upstream_auth", [None, "envoy"])
def test_aws_profile_from_shared_files(fresh_emulator, tmp_path, upstream_auth):
    """`make run` with AWS_PROFILE works like the AWS CLI: the launcher (filter signing) or
    Envoy's own credential provider (native signing) reads the shared files."""
    env = clean_env(API_KEY=CLIENT_KEY, AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fresh_emulator.url,
                    UPSTREAM_AUTH=upstream_auth, **write_profile(tmp_path))
    gw = Gateway(env)
    try:
        chat_and_stream(gw)
        assert all(r["auth_ok"] for r in fresh_emulator.runtime_requests())
    finally:
        gw.close()


def write_config(tmp_path, config):
    path = tmp_path / "plugin.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_named_keys_and_aliases_from_plugin_config(fresh_emulator, tmp_path):
    config = {"api_keys": [{"name": "team-a", "key": "key-a"}, "key-b"],
              "model_aliases": {"claude-haiku": HAIKU, "gpt-4o": "us." + HAIKU}}
    gw = Gateway(gateway_env(fresh_emulator, API_KEY=None, PLUGIN_CONFIG_FILE=write_config(tmp_path, config)))
    try:
        for key, alias in (("key-a", "claude-haiku"), ("key-b", "gpt-4o")):
            resp = gw.client(api_key=key).chat.completions.create(model=alias, messages=HELLO)
            assert resp.model == alias and resp.choices[0].message.content == "Echo: Hello!"
        paths = [r["path"] for r in fresh_emulator.runtime_requests()]
        assert paths == ["/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                         "/model/us.anthropic.claude-3-haiku-20240307-v1%3A0/converse"]
        with pytest.raises(openai.AuthenticationError):
            gw.client(api_key=CLIENT_KEY).chat.completions.create(model=HAIKU, messages=HELLO)
        assert "key-a" not in gw.output() and "key-b" not in gw.output()
    finally:
        gw.close()


def test_client_auth_can_be_left_to_another_filter(fresh_emulator, tmp_path):
    gw = Gateway(gateway_env(fresh_emulator, API_KEY=None,
                             PLUGIN_CONFIG_FILE=write_config(tmp_path, {"client_auth": False})))
    try:
        resp = gw.client(api_key="anything").chat.completions.create(model=HAIKU, messages=HELLO)
        assert resp.choices[0].message.content == "Echo: Hello!"
    finally:
        gw.close()


@pytest.mark.parametrize("config, field", [
    ({"api_keys": ["k"], "max_request_bytez": 5}, "max_request_bytez"),
    ({"api_keys": ["k"], "upstream_auth": "kerberos"}, "upstream_auth"),
    ({"api_keys": ["k"], "endpoint_url": "ftp://bedrock"}, "endpoint_url"),
    ({"api_keys": []}, "api_keys"),
])
def test_bad_plugin_config_stops_the_filter_with_a_clear_log_line(fresh_emulator, tmp_path, config, field):
    with pytest.raises(RuntimeError) as failed:
        Gateway(gateway_env(fresh_emulator, API_KEY=None, PLUGIN_CONFIG_FILE=write_config(tmp_path, config)))
    line = next(l for l in str(failed.value).splitlines() if "invalid configuration" in l)
    assert field in line.split("invalid configuration", 1)[1], line
    assert "Unable to create Wasm plugin" in str(failed.value)


def test_model_allow_lists_globally_and_per_key(fresh_emulator, tmp_path):
    config = {"api_keys": [{"name": "narrow", "key": "key-n", "models": ["claude-haiku"]}, "key-wide"],
              "model_aliases": {"claude-haiku": HAIKU},
              "allowed_models": ["claude-haiku", "amazon.nova-lite-v1:0"]}
    gw = Gateway(gateway_env(fresh_emulator, API_KEY=None, PLUGIN_CONFIG_FILE=write_config(tmp_path, config)))
    try:
        wide, narrow = gw.client(api_key="key-wide"), gw.client(api_key="key-n")
        assert wide.chat.completions.create(model="amazon.nova-lite-v1:0", messages=HELLO).choices
        assert narrow.chat.completions.create(model=HAIKU, messages=HELLO).choices, "ids match aliased entries"
        for client, model in ((narrow, "amazon.nova-lite-v1:0"), (wide, "amazon.nova-pro-v1:0")):
            with pytest.raises(openai.PermissionDeniedError) as err:
                client.chat.completions.create(model=model, messages=HELLO)
            assert err.value.body["code"] == "model_not_allowed"
        assert len(fresh_emulator.runtime_requests()) == 2, "refused requests never reach Bedrock"
    finally:
        gw.close()


def test_a_signature_error_never_echoes_the_session_token():
    token = "FwoGZXIvYXdzEXAMPLEsessionTOKENforTHEgateway"
    emu = Emulator(EMULATOR_SESSION_TOKEN=token)
    gw = Gateway(gateway_env(emu, AWS_SECRET_ACCESS_KEY="not-the-secret-the-emulator-knows", AWS_SESSION_TOKEN=token))
    try:
        for stream in (False, True):
            with pytest.raises(openai.PermissionDeniedError) as err:
                answer = gw.client().chat.completions.create(model=HAIKU, messages=HELLO, stream=stream)
                list(answer) if stream else None
            assert "does not match the signature" in err.value.body["message"]  # Bedrock's reason is kept
            assert token not in err.value.response.text
        [record, _] = emu.runtime_requests()
        assert token in record["error"]  # the emulator did echo it, as AWS does
        assert token not in gw.output()
    finally:
        gw.close()
        emu.close()
