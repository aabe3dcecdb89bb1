"""Token and request quotas per client key, enforced across Envoy's workers (two here) in
shared data with compare-and-swap: exact request budgets under concurrent load from several
keys, OpenAI's x-ratelimit-* headers on every answer, and token budgets charged from usage."""

import json
import threading
import time

import openai
import pytest

from conftest import Gateway, gateway_env

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
KEYS = {"team-a": ("key-a", 5), "team-b": ("key-b", 3)}


@pytest.fixture(scope="module")
def quota_gateway(emulator, tmp_path_factory):
    config = tmp_path_factory.mktemp("quotas") / "plugin.json"
    keys = [{"name": name, "key": key, "quota": {"requests_per_minute": rpm}} for name, (key, rpm) in KEYS.items()]
    keys.append({"name": "team-c", "key": "key-c", "quota": {"tokens_per_day": 1}})
    keys.append({"name": "team-d", "key": "key-d"})
    config.write_text(json.dumps({"api_keys": keys, "quota": {"requests_per_minute": 1000,
                                                               "tokens_per_minute": 1_000_000}}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config), API_KEY=None), concurrency=2)
    yield gw
    gw.close()


def start_of_a_minute():
    """Waits until a minute has at least 20 s left, so a burst stays in one window."""
    left = 60 - time.time() % 60
    if left < 20:
        time.sleep(left + 0.5)


def ask(gateway, key):
    client = gateway.client(api_key=key)
    return client.chat.completions.with_raw_response.create(
        model=HAIKU, max_tokens=16, messages=[{"role": "user", "content": "hi"}])


def test_request_budgets_hold_exactly_under_concurrent_load(quota_gateway, emulator):
    start_of_a_minute()
    results = {name: [] for name in KEYS}

    def worker(name, key):
        try:
            ask(quota_gateway, key)
            results[name].append("ok")
        except openai.RateLimitError as e:
            assert e.response.headers.get("retry-after")
            assert e.body["code"] == "rate_limit_exceeded"
            results[name].append("429")

    threads = [threading.Thread(target=worker, args=(name, key)) for name, (key, _) in KEYS.items()
               for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for name, (_, rpm) in KEYS.items():
        assert results[name].count("ok") == rpm, (name, results[name])
        assert results[name].count("429") == 16 - rpm
    # Nothing over budget reached Bedrock.
    assert len(emulator.runtime_requests()) == sum(rpm for _, rpm in KEYS.values())


def test_answers_carry_the_keys_rate_limit_headers(quota_gateway):
    start_of_a_minute()
    answer = ask(quota_gateway, "key-d")
    headers = answer.headers
    assert headers["x-ratelimit-limit-requests"] == "1000"
    assert int(headers["x-ratelimit-remaining-requests"]) <= 999
    assert headers["x-ratelimit-limit-tokens"] == "1000000"
    assert headers["x-ratelimit-reset-requests"].endswith("s")


def test_token_budgets_are_charged_from_usage(quota_gateway):
    first = ask(quota_gateway, "key-c")  # admitted: nothing spent yet
    assert first.parse().usage.total_tokens > 1
    deadline = time.time() + 10  # tokens are charged when Envoy logs the request
    while time.time() < deadline:
        try:
            ask(quota_gateway, "key-c")
        except openai.RateLimitError as e:
            assert "tokens per day" in e.body["message"]
            return
        time.sleep(0.2)
    pytest.fail("the daily token budget was never enforced")
