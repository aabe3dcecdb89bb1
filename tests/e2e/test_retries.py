"""Retries of throttled and failed Bedrock calls by Envoy's route retry policy (RETRY_ATTEMPTS),
with failures scripted in the emulator ("the next N calls fail"), through real Envoy."""

import json
import time
import urllib.request

import openai
import pytest

from conftest import CLIENT_KEY, HAIKU, Gateway, gateway_env

CLUSTER = "cluster.bedrock_plain"
FILTER = "wasmcustom.bedrock_access_filter"


def arm(emulator, kind, count=1, model=HAIKU, retry_after=None):
    spec = {"model": model, "count": count, "kind": kind}
    if retry_after is not None:
        spec["retry_after"] = retry_after
    req = urllib.request.Request(f"{emulator.url}/_emulator/failures", data=json.dumps(spec).encode(),
                                 method="POST")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200


def counters(gw):
    out = {}
    for line in gw.stats().splitlines():
        name, _, value = line.partition(": ")
        if value.isdigit():
            out[name] = int(value)
    return out


class Stats:
    """Counter deltas over a block: what this test's requests did to Envoy's stats."""

    def __init__(self, gw):
        self.gw = gw

    def __enter__(self):
        self.before = counters(self.gw)
        return self

    def __exit__(self, *exc):
        self.after = counters(self.gw)

    def __getitem__(self, name):
        return self.after.get(name, 0) - self.before.get(name, 0)


def ask(client, text="hi", stream=False, **kw):
    messages = [{"role": "user", "content": text}]
    if not stream:
        return client.chat.completions.create(model=HAIKU, messages=messages, **kw).choices[0].message.content
    chunks = client.chat.completions.create(model=HAIKU, messages=messages, stream=True, **kw)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.fixture(scope="module")
def retrying(emulator):
    """A gateway of its own (default RETRY_ATTEMPTS=2), so that its stats are this file's."""
    gw = Gateway(gateway_env(emulator))
    yield gw
    gw.close()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_throttled_twice_then_answered_transparently(retrying, emulator, stream):
    arm(emulator, "throttle", count=2)
    with Stats(retrying) as stats:
        assert ask(retrying.client(), "hello again", stream=stream) == "Echo: hello again"
    calls = emulator.runtime_requests()
    assert [c.get("scripted_failure") for c in calls] == ["throttle", "throttle", None]
    # The same signed request, replayed byte for byte, and accepted every time.
    assert all(c["auth_ok"] for c in calls)
    assert len({json.dumps(c["body"], sort_keys=True) for c in calls}) == 1
    assert len({(c["headers"]["authorization"], c["headers"]["x-amz-date"]) for c in calls}) == 1
    assert stats[f"{CLUSTER}.upstream_rq_retry"] == 2
    assert stats[f"{CLUSTER}.upstream_rq_retry_success"] == 1
    assert stats[f"{CLUSTER}.upstream_rq_retry_backoff_exponential"] == 2
    # The filter saw only the final answer: one success, no upstream error.
    assert stats[f"{FILTER}.requests.success"] == 1
    assert stats[f"{FILTER}.requests.upstream_error"] == 0


@pytest.mark.parametrize("kind", ["throttle_400", "model_not_ready", "unavailable", "internal", "reset"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_each_transient_failure_is_retried(retrying, emulator, kind, stream):
    arm(emulator, kind)
    assert ask(retrying.client(), "retry me", stream=stream) == "Echo: retry me"
    assert [c.get("scripted_failure") for c in emulator.runtime_requests()] == [kind, None]


def test_retry_after_is_honoured(retrying, emulator):
    arm(emulator, "throttle", retry_after=2)
    with Stats(retrying) as stats:
        started = time.monotonic()
        assert ask(retrying.client()) == "Echo: hi"
        waited = time.monotonic() - started
    first, second = emulator.runtime_requests()
    # Jittered back-off alone would wait under 0.5s; Retry-After asks for 2s.
    assert waited >= 1.9 and second["time"] - first["time"] >= 1.9
    assert stats[f"{CLUSTER}.upstream_rq_retry_backoff_ratelimited"] == 1


def test_retry_after_longer_than_30s_falls_back_to_the_back_off(retrying, emulator):
    arm(emulator, "throttle", retry_after=120)
    with Stats(retrying) as stats:
        started = time.monotonic()
        assert ask(retrying.client()) == "Echo: hi"
    assert time.monotonic() - started < 60
    assert stats[f"{CLUSTER}.upstream_rq_retry_backoff_exponential"] == 1
    assert stats[f"{CLUSTER}.upstream_rq_retry_backoff_ratelimited"] == 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_retries_exhausted_is_a_429_in_openai_shape(retrying, emulator, stream):
    arm(emulator, "throttle", count=3)
    with Stats(retrying) as stats, pytest.raises(openai.RateLimitError) as err:
        ask(retrying.client(), stream=stream)
    assert err.value.status_code == 429
    body = err.value.response.json()
    assert body == {"error": {"message": "Bedrock: Too many requests, please wait before trying again.",
                              "type": "rate_limit_error", "param": None, "code": "rate_limit_exceeded"}}
    assert len(emulator.runtime_requests()) == 3
    assert stats[f"{CLUSTER}.upstream_rq_retry"] == 2
    assert stats[f"{CLUSTER}.upstream_rq_retry_limit_exceeded"] == 1
    assert stats[f"{FILTER}.upstream_errors.rate_limit_exceeded"] == 1


def test_client_errors_are_not_retried(retrying, emulator):
    with pytest.raises(openai.BadRequestError):
        retrying.client().chat.completions.create(
            model="anthropic.claude-does-not-exist-v9:0", messages=[{"role": "user", "content": "hi"}])
    assert len(emulator.runtime_requests()) == 1


def test_stream_is_never_retried_after_its_first_byte(retrying, emulator):
    # One failure only: a retry would have succeeded, so an error proves there was none.
    arm(emulator, "reset_after_headers")
    text = ""
    with Stats(retrying) as stats, pytest.raises(openai.APIError):
        for chunk in retrying.client().chat.completions.create(
                model=HAIKU, stream=True, messages=[{"role": "user", "content": "hi"}]):
            text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    assert text == "Partial answer before the reset"
    assert len(emulator.runtime_requests()) == 1
    assert stats[f"{CLUSTER}.upstream_rq_retry"] == 0


def test_answer_is_never_retried_once_bedrock_started_it(retrying, emulator):
    arm(emulator, "reset_after_headers")
    with Stats(retrying) as stats, pytest.raises(openai.APIError):
        ask(retrying.client())
    assert len(emulator.runtime_requests()) == 1
    assert stats[f"{CLUSTER}.upstream_rq_retry"] == 0


def test_large_body_is_replayed_whole(retrying, emulator):
    big = "lorem ipsum " * 250_000  # 3 MB of text: well above Envoy's default 1 MiB buffer
    arm(emulator, "throttle")
    with Stats(retrying) as stats:
        assert ask(retrying.client(), big).startswith("Echo: lorem ipsum")
    first, second = emulator.runtime_requests()
    assert first["auth_ok"] and second["auth_ok"]
    assert first["body"] == second["body"]
    assert first["body"]["messages"][0]["content"][0]["text"] == big
    assert stats[f"{CLUSTER}.retry_or_shadow_abandoned"] == 0


def test_access_log_counts_attempts(retrying, emulator):
    arm(emulator, "unavailable")
    ask(retrying.client(), "count my attempts")
    deadline = time.time() + 10  # access logs are flushed asynchronously
    while "attempts=2" not in retrying.output() and time.time() < deadline:
        time.sleep(0.2)
    assert any('" 200 ' in line and "attempts=2" in line for line in retrying.output().splitlines())


def test_retry_attempts_zero_turns_retries_off(emulator):
    gw = Gateway(gateway_env(emulator, RETRY_ATTEMPTS="0"))
    try:
        arm(emulator, "throttle")
        with Stats(gw) as stats, pytest.raises(openai.RateLimitError):
            ask(gw.client())
        assert len(emulator.runtime_requests()) == 1
        assert stats[f"{CLUSTER}.upstream_rq_retry"] == 0
        assert ask(gw.client()) == "Echo: hi"
    finally:
        gw.close()


def test_retry_attempts_one(emulator):
    gw = Gateway(gateway_env(emulator, RETRY_ATTEMPTS="1"))
    try:
        arm(emulator, "throttle", count=2)
        with pytest.raises(openai.RateLimitError):
            ask(gw.client())
        assert len(emulator.runtime_requests()) == 2
    finally:
        gw.close()


@pytest.mark.parametrize("value", ["6", "-1", "two"])
def test_bad_retry_attempts_stops_the_gateway(emulator, value):
    with pytest.raises(RuntimeError) as err:
        Gateway(gateway_env(emulator, RETRY_ATTEMPTS=value))
    assert "RETRY_ATTEMPTS must be a whole number from 0 to 5" in str(err.value)


def test_envoy_signing_signs_each_attempt_anew(emulator):
    """UPSTREAM_AUTH=envoy: the upstream signing filter runs per attempt, so a retry after a
    wait carries a fresh X-Amz-Date instead of replaying the first signature."""
    gw = Gateway(gateway_env(emulator, UPSTREAM_AUTH="envoy"))
    try:
        arm(emulator, "throttle", retry_after=2)
        assert ask(gw.client()) == "Echo: hi"
        first, second = emulator.runtime_requests()
        assert first["auth_ok"] and second["auth_ok"]
        assert first["body"] == second["body"]
        assert first["headers"]["x-amz-date"] != second["headers"]["x-amz-date"]
    finally:
        gw.close()


def test_messages_api_is_retried_too(retrying, emulator):
    from test_messages import sdk
    arm(emulator, "throttle", model="anthropic.claude-3-haiku-20240307-v1:0")
    message = sdk(retrying).messages.create(model=HAIKU, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text
    calls = emulator.runtime_requests()
    assert [c.get("scripted_failure") for c in calls] == ["throttle", None]
    assert calls[0]["path"].endswith("/invoke") and calls[0]["body"] == calls[1]["body"]


def test_bedrock_passthrough_is_retried_too(retrying, emulator, monkeypatch):
    from test_bedrock_passthrough import runtime
    arm(emulator, "unavailable")
    answer = runtime(retrying, CLIENT_KEY, monkeypatch).converse(
        modelId=HAIKU, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert answer["output"]["message"]["content"] == [{"text": "Echo: hi"}]
    assert [c.get("scripted_failure") for c in emulator.runtime_requests()] == ["unavailable", None]
