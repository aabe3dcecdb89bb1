"""Answers Envoy makes itself are OpenAI-shaped JSON too (envoy.yaml local_reply_config).

Each case is produced deterministically: no race with the filter, no tight timing."""

import json
import socket

import pytest

from conftest import CLIENT_KEY, HAIKU, Gateway, gateway_env
from test_bad_input import filler, post_chat, request, reloads

HI = [{"role": "user", "content": "hi"}]


def raw_exchange(gateway, data):
    """Sends raw bytes, returns (status, headers, body) of the one answer."""
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=30)
    try:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    finally:
        sock.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def openai_error(status, headers, body, expected_status, code):
    assert status == expected_status, body[:300]
    assert headers.get("content-type") == "application/json", body[:300]
    err = json.loads(body)["error"]
    assert err["code"] == code and err["message"] and err["type"] and "param" in err
    return err


@pytest.fixture(scope="module")
def big_limit_gateway(emulator, tmp_path_factory):
    """The filter's limit above Envoy's 12 MiB listener buffer: Envoy itself refuses first."""
    config = tmp_path_factory.mktemp("big_limit") / "plugin.json"
    config.write_text(json.dumps({"max_request_bytes": 64 << 20}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    yield gw
    gw.close()


def test_body_over_envoys_buffer_is_an_openai_413(big_limit_gateway, emulator):
    # Envoy's own 413 (request_payload_too_large) was text/plain "Payload Too Large". It is what
    # made test_bodies_over_the_default_limit_are_413[30] flaky: under load one socket read can
    # take the held body from below the filter's 10 MiB limit past the 12 MiB buffer, and Envoy
    # answers before the filter sees the size.
    err = openai_error(*post_chat(big_limit_gateway, filler(20 << 20)), 413, "request_too_large")
    assert err["type"] == "invalid_request_error"
    assert emulator.runtime_requests() == []
    assert reloads(big_limit_gateway) == {}


def test_the_filters_own_replies_are_left_as_they_are(gateway, emulator):
    # Already JSON: not rewrapped (the filter's message names its configured limit).
    err = openai_error(*post_chat(gateway, filler(11 << 20)), 413, "request_too_large")
    assert "10485760" in err["message"]
    err = openai_error(*post_chat(gateway, {"model": HAIKU, "messages": HI}, key=None), 401, "invalid_api_key")
    assert "API key" in err["message"]


def test_no_route_is_an_openai_404(gateway):
    # An asterisk-form target never reaches a route (Envoy: absolute_path_rejected).
    openai_error(*request(gateway, "OPTIONS", "*"), 404, "not_found")


def test_malformed_http_is_an_openai_400(gateway):
    openai_error(*raw_exchange(gateway, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n"),
                 400, "bad_request")


def test_oversized_headers_are_an_openai_431(gateway):
    data = b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 100_000 + b"\r\nconnection: close\r\n\r\n"
    openai_error(*raw_exchange(gateway, data), 431, "request_headers_too_large")


@pytest.fixture(scope="module")
def short_idle_gateway(emulator):
    gw = Gateway(gateway_env(emulator, IDLE_TIMEOUT="1s"))
    yield gw
    gw.close()


def test_a_request_body_that_stops_arriving_is_an_openai_408(short_idle_gateway, emulator):
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + CLIENT_KEY.encode()
            + b"\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"model\"")
    openai_error(*raw_exchange(short_idle_gateway, head), 408, "request_timeout")
    assert emulator.runtime_requests() == []


def anthropic_error(status, headers, body, expected_status, error_type):
    assert status == expected_status, body[:300]
    assert headers.get("content-type") == "application/json", body[:300]
    payload = json.loads(body)
    assert payload["type"] == "error" and payload["error"]["type"] == error_type and payload["error"]["message"]


def test_envoys_own_replies_on_the_messages_api_are_anthropic_shaped(big_limit_gateway, short_idle_gateway):
    big = json.dumps({"model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "max_tokens": 10,
                      "messages": [{"role": "user", "content": "x" * (20 << 20)}]}).encode()
    anthropic_error(*request(big_limit_gateway, "POST", "/v1/messages", big), 413, "request_too_large")
    head = (b"POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: " + CLIENT_KEY.encode()
            + b"\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"model\"")
    anthropic_error(*raw_exchange(short_idle_gateway, head), 408, "timeout_error")
