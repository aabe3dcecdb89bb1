"""Stats, access-log fields and log hygiene, read from a real Envoy's admin API and output."""

import json
import re
import time

import openai
import pytest

from conftest import CLIENT_KEY, HAIKU, SECRET_KEY, Gateway, gateway_env

MODEL_STAT = "wasmcustom.bedrock_access_filter.model.anthropic_claude-3-haiku-20240307-v1_0"


@pytest.fixture(scope="module")
def observed(emulator, tmp_path_factory):
    config = tmp_path_factory.mktemp("cfg") / "plugin.json"
    config.write_text(json.dumps({"api_keys": [{"name": "team-a", "key": CLIENT_KEY}]}))
    gw = Gateway(gateway_env(emulator, API_KEY=None, PLUGIN_CONFIG_FILE=str(config)))
    client = gw.client()
    client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "count my tokens"}])
    list(client.chat.completions.create(model=HAIKU, stream=True, stream_options={"include_usage": True},
                                        messages=[{"role": "user", "content": "stream tokens [[scenario:usage_cache]]"}]))
    with pytest.raises(openai.AuthenticationError):
        gw.client(api_key="wrong-key").chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "[[scenario:throttle]]"}])
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model=HAIKU, stream=True,
                                            messages=[{"role": "user", "content": "[[scenario:stream_error]]"}]))
    deadline = time.time() + 10  # access logs are flushed asynchronously
    while gw.output().count("outcome=") < 5 and time.time() < deadline:
        time.sleep(0.2)
    yield gw
    gw.close()


def stats(gw):
    out = {}
    for line in gw.stats().splitlines():
        name, _, value = line.partition(": ")
        if name.startswith("wasmcustom."):
            out[name] = int(value) if value.isdigit() else value
    return out


def test_requests_are_counted_by_outcome(observed):
    s = stats(observed)
    prefix = "wasmcustom.bedrock_access_filter.requests"
    assert s[f"{prefix}.success"] == 2
    assert s[f"{prefix}.rejected"] == 1
    assert s[f"{prefix}.upstream_error"] == 1
    assert s[f"{prefix}.stream_error"] == 1
    assert s["wasmcustom.bedrock_access_filter.upstream_errors.rate_limit_exceeded"] == 1
    assert s["wasmcustom.bedrock_access_filter.key.team-a.requests"] == 4


def test_tokens_are_counted_per_model(observed):
    s = stats(observed)
    assert s[f"{MODEL_STAT}.requests"] == 3
    assert s[f"{MODEL_STAT}.input_tokens"] > 0
    assert s[f"{MODEL_STAT}.output_tokens"] > 0
    assert s[f"{MODEL_STAT}.cached_tokens"] > 0, "usage_cache scenario reports cache reads"


def test_access_log_has_model_key_and_tokens(observed):
    lines = [l for l in observed.output().splitlines() if "model=" in l and "/converse" in l]
    assert lines, observed.output()[-2000:]
    ok = [l for l in lines if '" 200 ' in l and "outcome=success" in l]
    assert any("outcome=stream_error" in l for l in lines)
    assert any('" 429 ' in l and "outcome=upstream_error" in l for l in lines)
    assert ok and all("model=anthropic.claude-3-haiku-20240307-v1:0" in l for l in ok)
    assert all("key=team-a" in l for l in ok)
    tokens = [int(m.group(1)) for l in ok for m in [re.search(r"input_tokens=(\d+)", l)] if m]
    assert len(tokens) == 2 and all(t > 0 for t in tokens)


def test_logs_never_contain_secrets_or_content(observed):
    out = observed.output()
    for secret in (CLIENT_KEY, SECRET_KEY, "wrong-key"):
        assert secret not in out
    assert "count my tokens" not in out
