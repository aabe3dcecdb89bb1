"""Model fallbacks (model_fallbacks) through real Envoy with two workers: a model Bedrock throttles
cools down in shared data and the next entry answers the following requests; recovery after the
cool-down; stats; bad configuration stops Envoy naming the field."""

import json
import time
import urllib.parse

import anthropic
import openai
import pytest

from conftest import CLIENT_KEY, Gateway, gateway_env
from test_retries import FILTER, Stats, arm

US = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA = "us.amazon.nova-pro-v1:0"
CHAIN = [US, GLOBAL, NOVA]


def start(emulator, tmp_path_factory, cooldown):
    config = tmp_path_factory.mktemp("fallbacks") / "plugin.json"
    config.write_text(json.dumps({"model_fallbacks": {"claude": CHAIN}, "fallback_cooldown_seconds": cooldown}))
    # No Envoy retries: the throttle reaches the filter at once.
    return Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config), RETRY_ATTEMPTS="0"), concurrency=2)


@pytest.fixture(scope="module")
def quick(emulator, tmp_path_factory):
    gw = start(emulator, tmp_path_factory, 2)
    yield gw
    gw.close()


@pytest.fixture(scope="module")
def slow(emulator, tmp_path_factory):
    gw = start(emulator, tmp_path_factory, 600)
    yield gw
    gw.close()


def ask(gw, stream=False):
    """The model the answer names and its text."""
    messages = [{"role": "user", "content": "hi"}]
    client = gw.client()
    if not stream:
        answer = client.chat.completions.create(model="claude", messages=messages)
        return answer.model, answer.choices[0].message.content
    chunks = list(client.chat.completions.create(model="claude", messages=messages, stream=True))
    return chunks[0].model, "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def called_models(emulator):
    return [urllib.parse.unquote(r["path"].split("/")[2]) for r in emulator.runtime_requests()]


def healthy_again(gw, deadline=60):
    """Polls until requests for `claude` go to the first entry again; returns when that was."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if ask(gw)[0] == US:
            return time.monotonic()
        time.sleep(0.3)
    raise AssertionError("the first entry never served again")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_throttled_model_fails_its_request_and_the_next_entry_answers_the_next(quick, emulator, stream):
    healthy_again(quick)
    emulator.reset()
    arm(emulator, "throttle", model=US)
    with Stats(quick) as stats:
        with pytest.raises(openai.RateLimitError):
            ask(quick, stream)
        model, text = ask(quick, stream)
    assert (model, text) == (GLOBAL, "Echo: hi")
    assert called_models(emulator) == [US, GLOBAL]
    assert all(r["auth_ok"] for r in emulator.runtime_requests()), "signed for the model it went to"
    assert stats[f"{FILTER}.fallback.cooldowns_started"] == 1
    assert stats[f"{FILTER}.fallback.used"] == 1


def test_the_first_entry_serves_again_after_the_cool_down(quick, emulator):
    healthy_again(quick)
    arm(emulator, "unavailable", model=US)
    with pytest.raises(openai.InternalServerError):
        ask(quick)
    failed_at = time.monotonic()
    assert ask(quick)[0] == GLOBAL
    # Cool-downs count whole seconds: 2 s is over after more than one second.
    assert healthy_again(quick) - failed_at > 1.0


def test_each_throttled_entry_passes_requests_on_and_all_cooling_means_the_first(slow, emulator):
    messages = anthropic.Anthropic(base_url=f"http://127.0.0.1:{slow.port}", api_key=CLIENT_KEY, max_retries=0)
    say_hi = dict(model="claude", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    arm(emulator, "throttle", model=US)
    with pytest.raises(openai.RateLimitError):
        ask(slow)
    arm(emulator, "throttle", model=GLOBAL)
    with pytest.raises(anthropic.RateLimitError):
        messages.messages.create(**say_hi)
    # The Messages API speaks Anthropic's body to Claude (InvokeModel) and Converse to Nova: the
    # request is translated for the entry it goes to.
    answer = messages.messages.create(**say_hi)
    assert answer.model == NOVA and answer.content[0].text
    arm(emulator, "throttle", model=NOVA)
    with pytest.raises(openai.RateLimitError):
        ask(slow)
    # Every entry cools down: the first gets the request (and answers, now that it can).
    assert ask(slow) == (US, "Echo: hi")
    calls = [(m, r["path"].rsplit("/", 1)[1]) for m, r in zip(called_models(emulator), emulator.runtime_requests())]
    assert calls == [(US, "converse"), (GLOBAL, "invoke"), (NOVA, "converse"), (NOVA, "converse"), (US, "converse")]


def test_names_without_a_list_are_untouched(quick, emulator):
    answer = quick.client().chat.completions.create(model=NOVA, messages=[{"role": "user", "content": "hi"}])
    assert answer.model == NOVA
    assert called_models(emulator) == [NOVA]


@pytest.mark.parametrize("config, field", [
    ({"model_fallbacks": {"claude": []}}, "model_fallbacks.claude"),
    ({"model_fallbacks": {"claude": US}}, "model_fallbacks.claude"),
    ({"model_fallbacks": [US]}, "model_fallbacks"),
    ({"model_fallbacks": {"claude": [US]}, "fallback_cooldown_seconds": 0}, "fallback_cooldown_seconds"),
])
def test_bad_fallback_config_stops_envoy_naming_the_field(emulator, tmp_path, config, field):
    path = tmp_path / "plugin.json"
    path.write_text(json.dumps(config))
    with pytest.raises(RuntimeError) as failed:
        Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(path)))
    line = next(l for l in str(failed.value).splitlines() if "invalid configuration" in l)
    assert field in line.split("invalid configuration", 1)[1], line
