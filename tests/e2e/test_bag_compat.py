"""bedrock-access-gateway (BAG) users moving over: the gateway configured with BAG's environment
names only, called the way BAG's documentation calls it (base URL `/api/v1`, the openai SDK and
raw JSON with a literal `extra_body`), and BAG's own settings for OpenAI model names
(`DEFAULT_MODEL`, `DEFAULT_EMBEDDING_MODEL`) and prompt caching (README "Migrating from bedrock-access-gateway")."""

import json
import urllib.error
import urllib.request

import openai
import pytest

from conftest import CLIENT_KEY, HAIKU, Emulator, Gateway, gateway_env

SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123profile"
COHERE = "cohere.embed-multilingual-v3"  # BAG's DEFAULT_EMBEDDING_MODEL
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
HELLO = {"role": "user", "content": "Hello!"}
CACHE_POINT = {"cachePoint": {"type": "default"}}


@pytest.fixture(scope="module")
def bag_gateway(emulator):
    """Set up as BAG's Fargate template sets up its task: API_KEY, AWS_REGION and
    ENABLE_PROMPT_CACHING=true, no plugin configuration; ALLOWED_ORIGINS as BAG's default
    (here CORS is off unless it is set)."""
    gw = Gateway(gateway_env(emulator, ENABLE_PROMPT_CACHING="true", ALLOWED_ORIGINS="*"))
    yield gw
    gw.close()


def api_v1(gw):
    return f"http://127.0.0.1:{gw.port}/api/v1"


@pytest.fixture
def bag_client(bag_gateway):
    """What BAG's README has users export: OPENAI_BASE_URL=<stack output>/api/v1."""
    return openai.OpenAI(base_url=api_v1(bag_gateway), api_key=CLIENT_KEY, max_retries=0, timeout=60)


def post(gw, path, body, key=CLIENT_KEY):
    """curl as in BAG's usage guide: raw JSON, `extra_body` as a literal field."""
    request = urllib.request.Request(f"{api_v1(gw)}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def converse_bodies(emulator):
    return [r["body"] for r in emulator.runtime_requests() if r["path"].endswith(("/converse", "/converse-stream"))]


def test_bag_client_code_works_unchanged_at_api_v1(bag_client, emulator):
    reply = bag_client.chat.completions.create(model=HAIKU, messages=[SYSTEM, HELLO])
    assert reply.choices[0].message.content == "Echo: Hello!" and reply.choices[0].finish_reason == "stop"
    chunks = list(bag_client.chat.completions.create(model=HAIKU, messages=[HELLO], stream=True,
                                                     stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: Hello!"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens > 0
    # BAG's defaults list cross-region and application inference profiles; so does this gateway.
    ids = {m.id for m in bag_client.models.list()}
    assert {HAIKU, SONNET_4, APP_PROFILE} <= ids
    assert bag_client.models.retrieve(SONNET_4).id == SONNET_4
    vectors = bag_client.embeddings.create(model=COHERE, input=["The food was delicious", "and the waiter..."])
    assert [len(d.embedding) for d in vectors.data] == [1024, 1024]
    paths = [r["path"] for r in emulator.runtime_requests()]
    assert "/model/cohere.embed-multilingual-v3/invoke" in paths
    assert all(r["auth_ok"] for r in emulator.requests())


def test_application_inference_profile_arn_is_a_model(bag_client, emulator):
    reply = bag_client.chat.completions.create(model=APP_PROFILE, messages=[HELLO])
    assert reply.choices[0].message.content == "Echo: Hello!"
    assert reply.model == APP_PROFILE
    (path,) = [r["path"] for r in emulator.runtime_requests()]
    assert path.startswith("/model/arn%3Aaws%3Abedrock%3A") and path.endswith("/converse")


def test_health_check_path_of_bags_load_balancer_needs_no_key(bag_gateway):
    with urllib.request.urlopen(f"http://127.0.0.1:{bag_gateway.port}/health", timeout=10) as r:
        assert r.status == 200


def test_a_wrong_key_is_refused_as_bag_refuses_it(bag_gateway, emulator):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=api_v1(bag_gateway), api_key="not-the-key", max_retries=0) \
            .chat.completions.create(model=HAIKU, messages=[HELLO])
    assert emulator.runtime_requests() == []


def test_enable_prompt_caching_and_bags_per_request_override(bag_gateway, bag_client, emulator):
    # ENABLE_PROMPT_CACHING=true: after the system prompt and the last user message (a Claude with
    # prompt caching; Claude 3 Haiku has none).
    bag_client.chat.completions.create(model=SONNET_4, messages=[SYSTEM, HELLO])
    # BAG's curl form: a literal "extra_body" field turns one of them off.
    status, body = post(bag_gateway, "/chat/completions", {
        "model": SONNET_4, "messages": [SYSTEM, HELLO], "extra_body": {"prompt_caching": {"messages": False}}})
    assert status == 200, body
    # BAG's Python form: openai-python merges extra_body into the top level (BAG ignores it there).
    bag_client.chat.completions.create(model=SONNET_4, messages=[SYSTEM, HELLO],
                                       extra_body={"prompt_caching": {"system": False}})
    cached = [(CACHE_POINT in b["system"], CACHE_POINT in b["messages"][-1]["content"])
              for b in converse_bodies(emulator)]
    assert cached == [(True, True), (True, False), (False, True)]
    assert all("prompt_caching" not in (b.get("additionalModelRequestFields") or {}) for b in converse_bodies(emulator))


def test_bags_thinking_extra_body_reaches_the_model_and_reasoning_is_apart(bag_gateway, emulator):
    """BAG's interleaved-thinking example (budget below max_tokens)."""
    extra = {"anthropic_beta": ["interleaved-thinking-2025-05-14"], "thinking": {"type": "enabled", "budget_tokens": 1024}}
    status, body = post(bag_gateway, "/chat/completions", {
        "model": SONNET_4, "max_tokens": 2048, "messages": [HELLO], "extra_body": extra})
    assert status == 200, body
    message = body["choices"][0]["message"]
    assert message["reasoning_content"], "reasoning as BAG's usage guide describes it"
    assert message["content"] == "Echo: Hello!", "no <think> tags in the answer"
    (sent,) = converse_bodies(emulator)
    fields = sent["additionalModelRequestFields"]
    assert fields["thinking"] == extra["thinking"]
    assert "interleaved-thinking-2025-05-14" in fields["anthropic_beta"]


def test_bags_reasoning_effort_example(bag_client):
    reply = bag_client.chat.completions.create(model=SONNET_4, max_tokens=4096, reasoning_effort="low",
                                               messages=[{"role": "user", "content": "which one is bigger, 3.9 or 3.11?"}])
    message = reply.choices[0].message
    assert message.reasoning_content and "<think>" not in (message.content or "")
    streamed = list(bag_client.chat.completions.create(
        model=SONNET_4, max_tokens=4096, reasoning_effort="low", stream=True,
        messages=[{"role": "user", "content": "which one is bigger, 3.9 or 3.11?"}]))
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in streamed if c.choices)
    assert reasoning == message.reasoning_content


def test_aws_region_selects_the_region_as_in_bag():
    emu = Emulator(EMULATOR_REGION="us-west-2")
    gw = None
    try:
        gw = Gateway(gateway_env(emu, AWS_REGION="us-west-2"))
        client = openai.OpenAI(base_url=api_v1(gw), api_key=CLIENT_KEY, max_retries=0, timeout=60)
        assert client.chat.completions.create(model=HAIKU, messages=[HELLO]).choices[0].message.content
        (record,) = emu.runtime_requests()
        assert record["auth_ok"] and "/us-west-2/bedrock/aws4_request" in record["headers"]["authorization"]
    finally:
        if gw:
            gw.close()
        emu.close()


@pytest.fixture(scope="module")
def aliased_gateway(emulator, tmp_path_factory):
    """Today's stand-in for DEFAULT_MODEL / DEFAULT_EMBEDDING_MODEL: one alias per OpenAI name."""
    config = tmp_path_factory.mktemp("bag_aliases") / "plugin.json"
    config.write_text(json.dumps({"model_aliases": {"gpt-4o": SONNET_4, "gpt-4o-mini": HAIKU,
                                                    "text-embedding-3-small": COHERE}}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    yield gw
    gw.close()


def test_openai_model_names_through_aliases(aliased_gateway, emulator):
    client = openai.OpenAI(base_url=api_v1(aliased_gateway), api_key=CLIENT_KEY, max_retries=0, timeout=60)
    assert client.chat.completions.create(model="gpt-4o", messages=[HELLO]).choices[0].message.content == "Echo: Hello!"
    assert client.chat.completions.create(model="gpt-4o-mini", messages=[HELLO]).model == "gpt-4o-mini"
    assert len(client.embeddings.create(model="text-embedding-3-small", input="hi").data[0].embedding) == 1024
    paths = [r["path"] for r in emulator.runtime_requests()]
    assert paths == ["/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse",
                     "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                     "/model/cohere.embed-multilingual-v3/invoke"]
    # A name without an alias is not guessed: Bedrock refuses it, in OpenAI's error shape.
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4-turbo", messages=[HELLO])


# ---- BAG's DEFAULT_MODEL, DEFAULT_EMBEDDING_MODEL and ENABLE_PROMPT_CACHING values ----------


@pytest.fixture(scope="module")
def default_model_gateway(emulator):
    gw = Gateway(gateway_env(emulator, DEFAULT_MODEL=SONNET_4, DEFAULT_EMBEDDING_MODEL=COHERE))
    yield gw
    gw.close()


@pytest.mark.parametrize("name", ["gpt-4o", "GPT-4-Turbo", "gpt-3.5-turbo", "gpt-"])
def test_default_model_takes_every_gpt_name(default_model_gateway, emulator, name):
    client = openai.OpenAI(base_url=api_v1(default_model_gateway), api_key=CLIENT_KEY, max_retries=0, timeout=60)
    assert client.chat.completions.create(model=name, messages=[HELLO]).choices[0].message.content == "Echo: Hello!"
    streamed = "".join(c.choices[0].delta.content or "" for c in
                       client.chat.completions.create(model=name, messages=[HELLO], stream=True) if c.choices)
    assert streamed == "Echo: Hello!"
    assert [r["path"] for r in emulator.runtime_requests()] == \
        ["/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse",
         "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream"]


def test_default_model_takes_a_request_without_model(default_model_gateway, emulator):
    status, body = post(default_model_gateway, "/chat/completions", {"messages": [HELLO]})
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == "Echo: Hello!"
    assert [r["path"] for r in emulator.runtime_requests()] == ["/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"]


def test_default_model_leaves_other_names_alone(default_model_gateway, emulator):
    client = openai.OpenAI(base_url=api_v1(default_model_gateway), api_key=CLIENT_KEY, max_retries=0, timeout=60)
    assert client.chat.completions.create(model=HAIKU, messages=[HELLO]).choices[0].message.content
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="o3-mini", messages=[HELLO])  # BAG replaces only gpt-*
    assert [r["path"] for r in emulator.runtime_requests()][0] == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"


def test_an_alias_wins_over_default_model(emulator, tmp_path):
    config = tmp_path / "plugin.json"
    config.write_text(json.dumps({"model_aliases": {"gpt-4o-mini": HAIKU}}))
    gw = Gateway(gateway_env(emulator, DEFAULT_MODEL=SONNET_4, PLUGIN_CONFIG_FILE=str(config)))
    try:
        client = openai.OpenAI(base_url=api_v1(gw), api_key=CLIENT_KEY, max_retries=0, timeout=60)
        client.chat.completions.create(model="gpt-4o-mini", messages=[HELLO])
        client.chat.completions.create(model="gpt-4o", messages=[HELLO])
        assert [r["path"] for r in emulator.runtime_requests()] == \
            ["/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
             "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"]
    finally:
        gw.close()


def test_allow_lists_judge_the_default_model_not_the_name_sent(emulator, tmp_path):
    config = tmp_path / "plugin.json"
    config.write_text(json.dumps({"api_keys": [{"name": "wide", "key": "key-wide"},
                                               {"name": "narrow", "key": "key-narrow", "models": [HAIKU]}],
                                  "allowed_models": [SONNET_4, HAIKU]}))
    gw = Gateway(gateway_env(emulator, API_KEY=None, DEFAULT_MODEL=SONNET_4, PLUGIN_CONFIG_FILE=str(config)))
    try:
        wide, narrow = (openai.OpenAI(base_url=api_v1(gw), api_key=k, max_retries=0, timeout=60)
                        for k in ("key-wide", "key-narrow"))
        assert wide.chat.completions.create(model="gpt-4o", messages=[HELLO]).choices[0].message.content
        with pytest.raises(openai.PermissionDeniedError) as refused:
            narrow.chat.completions.create(model="gpt-4o", messages=[HELLO])
        assert refused.value.body["code"] == "model_not_allowed"
        assert len(emulator.runtime_requests()) == 1
    finally:
        gw.close()


@pytest.mark.parametrize("name", ["text-embedding-3-small", "text-embedding-ada-002", "Text-Embedding-3-Large"])
def test_default_embedding_model_takes_every_text_embedding_name(default_model_gateway, emulator, name):
    client = openai.OpenAI(base_url=api_v1(default_model_gateway), api_key=CLIENT_KEY, max_retries=0, timeout=60)
    assert len(client.embeddings.create(model=name, input=["hello"]).data[0].embedding) == 1024
    assert [r["path"] for r in emulator.runtime_requests()] == ["/model/cohere.embed-multilingual-v3/invoke"]


@pytest.mark.parametrize("value, on", [("True", True), ("TRUE", True), ("yes", True), ("False", False), ("NO", False)])
def test_enable_prompt_caching_values_as_bag_reads_them(emulator, value, on):
    gw = Gateway(gateway_env(emulator, ENABLE_PROMPT_CACHING=value))
    try:
        gw.client().chat.completions.create(model=SONNET_4, messages=[SYSTEM, HELLO])
        (body,) = converse_bodies(emulator)
        assert (CACHE_POINT in body["system"]) is on
    finally:
        gw.close()


@pytest.mark.parametrize("variable, value", [("ENABLE_PROMPT_CACHING", "enabled"),
                                              ("DEFAULT_EMBEDDING_MODEL", HAIKU)])
def test_a_bad_value_stops_the_gateway_with_a_line_naming_the_variable(emulator, variable, value):
    """BAG took any value but `false` as on; here a value that means neither is refused."""
    with pytest.raises(RuntimeError) as failed:
        Gateway(gateway_env(emulator, **{variable: value}))
    line = next(l for l in str(failed.value).splitlines() if "invalid configuration" in l)
    field = variable if variable.startswith("ENABLE_") else variable.lower()
    assert field in line.split("invalid configuration", 1)[1], line
    assert emulator.runtime_requests() == []


def test_default_model_takes_codex_gpt_names_in_the_responses_api(default_model_gateway, emulator):
    client = openai.OpenAI(base_url=api_v1(default_model_gateway), api_key=CLIENT_KEY, max_retries=0, timeout=60)
    reply = client.responses.create(model="gpt-5.1-codex", input="Hello!")
    assert reply.output_text == "Echo: Hello!" and reply.model == "gpt-5.1-codex"
    assert [r["path"] for r in emulator.runtime_requests()] == \
        ["/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"]


def preflight(gw, origin):
    request = urllib.request.Request(f"{api_v1(gw)}/chat/completions", method="OPTIONS", headers={
        "origin": origin, "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-stainless-os"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def test_browser_preflight_is_answered_as_bag_answers_it(bag_gateway, emulator):
    status, headers = preflight(bag_gateway, "https://app.example.com")
    assert status in (200, 204)
    assert headers["access-control-allow-origin"] in ("*", "https://app.example.com")
    assert "authorization" in headers["access-control-allow-headers"].lower()
    assert "POST" in headers["access-control-allow-methods"]
    assert emulator.runtime_requests() == []


def test_allowed_origins_lists_the_origins_a_browser_may_call_from(emulator):
    gw = Gateway(gateway_env(emulator, ALLOWED_ORIGINS="https://app.example.com, http://localhost:3000"))
    try:
        for origin in ("https://app.example.com", "http://localhost:3000"):
            status, headers = preflight(gw, origin)
            assert status in (200, 204) and headers["access-control-allow-origin"] == origin
        status, headers = preflight(gw, "https://evil.example.net")
        assert headers["access-control-allow-origin"] is None
        # The answers themselves carry the header the browser checks, errors too.
        request = urllib.request.Request(f"{api_v1(gw)}/chat/completions", method="POST",
                                         data=json.dumps({"model": HAIKU, "messages": [HELLO]}).encode(),
                                         headers={"authorization": f"Bearer {CLIENT_KEY}", "content-type": "application/json",
                                                  "origin": "https://app.example.com"})
        with urllib.request.urlopen(request, timeout=60) as r:
            assert json.load(r)["choices"][0]["message"]["content"] == "Echo: Hello!"
            assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        request.headers["Authorization"] = "Bearer wrong"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 401
        assert refused.value.headers["access-control-allow-origin"] == "https://app.example.com"
        # Paths the gateway does not serve stay a 404 in OpenAI's shape, and nothing is forwarded.
        unknown = urllib.request.Request(f"{api_v1(gw)}/files", headers={"origin": "https://app.example.com",
                                                                          "authorization": f"Bearer {CLIENT_KEY}"})
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(unknown, timeout=60)
        assert missing.value.code == 404 and json.load(missing.value)["error"]["code"] == "not_found"
        assert len(emulator.runtime_requests()) == 1
    finally:
        gw.close()


def test_without_allowed_origins_there_is_no_cors(gateway):
    status, headers = preflight(gateway, "https://app.example.com")
    assert status == 405 and headers["access-control-allow-origin"] is None
