"""Hostile and malformed client input through real Envoy: every case gets a clear OpenAI-shaped
4xx from the filter, nothing reaches Bedrock (the emulator's request log stays empty), and the
Wasm VM never crashes (Envoy's vm_reload counters stay at zero).

Basic cases (bad JSON, missing fields, one unknown role, one traversal id, GET, one unknown
path) are in test_chat_basic.py; these go further."""

import base64
import json
import socket

import pytest

from conftest import ACCESS_KEY, CLIENT_KEY, HAIKU, SECRET_KEY, Gateway, gateway_env

HI = [{"role": "user", "content": "hi"}]
TOKEN = "client-sent-session-token"


def request(gateway, method, path, body=b"", headers=(), key=CLIENT_KEY, timeout=30):
    """One raw HTTP/1.1 exchange, so any bytes can be sent. Returns (status, headers, body).
    The reply is read even if Envoy answered before the whole body was sent."""
    head = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{gateway.port}", "connection: close"]
    if key:
        head.append(f"authorization: Bearer {key}")
    head.append("content-type: application/json")
    raw_head = "\r\n".join(head).encode() + b"\r\n"
    for name, value in headers:
        raw_head += (name.encode() if isinstance(name, str) else name) + b": " + (
            value.encode() if isinstance(value, str) else value) + b"\r\n"
    if body or method in ("POST", "PUT", "PATCH"):
        raw_head += b"content-length: %d\r\n" % len(body)
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout)
    try:
        try:
            sock.sendall(raw_head + b"\r\n")
            view = memoryview(body)
            for at in range(0, len(body), 1 << 16):
                sock.sendall(view[at:at + (1 << 16)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # Envoy answered early and closed; the answer is still to be read
        data = b""
        try:
            while chunk := sock.recv(1 << 16):
                data += chunk
        except ConnectionResetError:
            pass
    finally:
        sock.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    if hdrs.get("transfer-encoding") == "chunked":
        payload = dechunk(payload)
    return status, hdrs, payload


def dechunk(data):
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out += rest[:n]
        data = rest[n + 2:]
    return out


def post_chat(gateway, body, raw=None, **kw):
    data = raw if raw is not None else json.dumps(body).encode()
    return request(gateway, "POST", "/v1/chat/completions", data, **kw)


def openai_error(status, headers, payload, expected_status):
    assert status == expected_status, payload[:500]
    assert headers.get("content-type") == "application/json"
    err = json.loads(payload)["error"]
    assert isinstance(err["message"], str) and err["message"]
    assert err["type"] == "invalid_request_error"
    return err


def reloads(gateway):
    stats = dict(l.split(": ", 1) for l in gateway.stats().splitlines() if ": " in l)
    return {k: v for k, v in stats.items() if "vm_reload" in k and v != "0"}


@pytest.fixture(autouse=True)
def _vm_never_crashes(request):
    yield
    if "gateway" in request.fixturenames:
        assert reloads(request.getfixturevalue("gateway")) == {}, "the Wasm VM crashed"


@pytest.fixture
def forwards_nothing(emulator):
    yield
    assert emulator.runtime_requests() == [], "a bad request reached Bedrock"


def deep(n):
    return "[" * n + "]" * n


@pytest.mark.parametrize("raw, hint", [
    (b'{"model": "m", "messages": [{"role": "user", "content": "\xff\xfe"}]}', "JSON"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "caf\xe9"}]}', "JSON"),
    (b"\xef\xbb\xbf{}", "JSON"),
    (b'{"model": "m", "messages": ' + deep(100_000).encode() + b"}", "JSON"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "response_format": '
     + deep(5000).encode() + b"}", "JSON"),
    (b'{"model": "m", "messages": [], "a": 1}{"b": 2}', "JSON"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e99999}', ""),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 99999999999999999999999999}', ""),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -1}', "max_tokens"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1.5}', ""),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}', ""),
    (b'{"model": 42, "messages": [{"role": "user", "content": "hi"}]}', ""),
    (b'{"model": null, "messages": [{"role": "user", "content": "hi"}]}', "model"),
    (b'{"model": "m", "messages": [{"role": "user", "content": 7}]}', ""),
    (b'{"model": "m", "messages": [{"role": 1, "content": "hi"}]}', ""),
    (b'{"model": "m", "messages": [{"content": "hi"}]}', "role"),
    (b'{"model": "m", "messages": [{"role": "root", "content": "hi"}]}', "role"),
    (b'{"model": "m", "messages": [{"role": "user", "content": [{"type": "audio", "x": 1}]}]}', ""),
    (b'{"model": "m", "messages": [null]}', ""),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}', ""),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": {}}', ""),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": [1, 2]}', ""),
    (b"null", ""),
    (b'"just a string"', ""),
    (b"", "empty"),
], ids=lambda v: v[:40].decode("latin-1") if isinstance(v, bytes) else v)
def test_malformed_bodies_are_400(gateway, forwards_nothing, raw, hint):
    err = openai_error(*post_chat(gateway, None, raw=raw), 400)
    assert hint.lower() in err["message"].lower()


def test_deep_unknown_field_in_a_message_is_skipped_without_harm(gateway, emulator):
    # Fields the gateway does not read are skipped without recursion, however deep; only
    # what it reads is held to JSON's nesting limit (the cases above).
    body = (b'{"model": "' + HAIKU.encode() + b'", "messages": [{"role": "user", "content": "hi", "x": '
            + deep(5000).encode() + b"}]}")
    status, _, payload = post_chat(gateway, None, raw=body)
    assert status == 200, payload[:300]
    assert json.loads(payload)["choices"][0]["message"]["content"]
    sent = emulator.runtime_requests()[-1]["body"]
    assert sent["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


@pytest.mark.parametrize("model", [
    "../../../etc/passwd", "anthropic.claude/../../x", "%2e%2e/x", "m?x=1", "m#frag", "m x",
    "m\r\nx-amz-target: evil", "m\nhost: evil", "m\u0000", "mod\u00e8le", "", " ",
    "a" * 5000, "anthropic.claude-3-haiku-20240307-v1:0/../../other", "x/./y",
])
def test_model_ids_cannot_escape_the_path_or_inject_headers(gateway, forwards_nothing, model):
    err = openai_error(*post_chat(gateway, {"model": model, "messages": HI}), 400)
    assert err["param"] == "model"


def png_data_url(size):
    return "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * size).decode()


@pytest.mark.parametrize("url, hint", [
    (png_data_url(4_000_000), "large"),
    ("data:image/bmp;base64," + base64.b64encode(b"BM" + b"\0" * 64).decode(), "bmp"),
    ("data:text/html;base64," + base64.b64encode(b"<script>").decode(), ""),
    ("data:image/png;base64,%%%not-base64%%%", ""),
    ("data:image/png,rawbytes", ""),
    ("file:///etc/passwd", ""),
    ("http://169.254.169.254/latest/meta-data/", ""),
])
def test_bad_images_are_400(gateway, forwards_nothing, url, hint):
    msgs = [{"role": "user", "content": [{"type": "text", "text": "what is this"},
                                          {"type": "image_url", "image_url": {"url": url}}]}]
    err = openai_error(*post_chat(gateway, {"model": HAIKU, "messages": msgs}), 400)
    assert hint in err["message"].lower()


def test_too_many_tools_is_400(gateway, forwards_nothing):
    tools = [{"type": "function", "function": {"name": f"t{i}", "parameters": {"type": "object"}}}
             for i in range(513)]
    err = openai_error(*post_chat(gateway, {"model": HAIKU, "messages": HI, "tools": tools}), 400)
    assert "tools" in err["message"]


@pytest.mark.parametrize("method, path, status", [
    ("PUT", "/v1/chat/completions", 405),
    ("DELETE", "/v1/chat/completions", 405),
    ("PATCH", "/v1/responses", 405),
    ("POST", "/v1/models", 405),
    ("GET", "/v1/embeddings", 405),
    ("POST", "/v2/chat/completions", 404),
    # Bedrock's own paths are served (bedrock_passthrough); other actions are not.
    ("POST", "/model/anthropic.claude-3-haiku-20240307-v1:0/delete-model", 404),
    ("POST", "/v1/chat/completions/../../model/x/converse", 404),
    ("POST", "/v1/chat/completionsX", 404),
    ("POST", "/", 404),
])
def test_wrong_methods_and_unknown_paths(gateway, forwards_nothing, method, path, status):
    body = json.dumps({"model": HAIKU, "messages": HI}).encode()
    got, headers, payload = request(gateway, method, path, body)
    err = openai_error(got, headers, payload, status)
    assert err["code"] in ("method_not_allowed", "not_found")


def test_direct_bedrock_path_without_key_is_refused_too(gateway, forwards_nothing):
    # Even an unauthenticated caller who knows Bedrock's path gets nothing signed.
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}).encode()
    status, _, _ = request(gateway, "POST", "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                           body, key=None)
    assert status in (401, 404)


@pytest.fixture(scope="module")
def small_limit_gateway(emulator, tmp_path_factory):
    config = tmp_path_factory.mktemp("limit") / "plugin.json"
    config.write_text(json.dumps({"max_request_bytes": 65536}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    yield gw
    gw.close()


def filler(n):
    return {"model": HAIKU, "messages": [{"role": "user", "content": "x" * n}]}


def test_configured_body_limit_is_413(small_limit_gateway, emulator):
    err = openai_error(*post_chat(small_limit_gateway, filler(70_000)), 413)
    assert "65536" in err["message"] and err["code"] == "request_too_large"
    assert emulator.runtime_requests() == []
    # Just under the limit is served.
    status, _, payload = post_chat(small_limit_gateway, filler(60_000))
    assert status == 200, payload[:300]
    assert reloads(small_limit_gateway) == {}


@pytest.mark.parametrize("mib", [11, 30])
def test_bodies_over_the_default_limit_are_413(gateway, forwards_nothing, mib):
    # Default limit 10 MiB; 30 MiB is also past Envoy's 12 MiB listener buffer.
    err = openai_error(*post_chat(gateway, filler(mib << 20)), 413)
    assert err["code"] == "request_too_large"


def test_client_credentials_and_aws_headers_never_reach_bedrock(gateway, emulator):
    sent = [("x-amz-security-token", TOKEN), ("x-amz-date", "19700101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("x-amz-target", "evil"),
            ("X-Amz-Custom", "mixed-case"), ("x-api-key", "client-x-api-key"),
            ("api-key", "client-azure-key"), ("cookie", "session=client-cookie"),
            ("proxy-authorization", "Basic Y2xpZW50OnByb3h5")]
    status, _, payload = post_chat(gateway, {"model": HAIKU, "messages": HI}, headers=sent)
    assert status == 200, payload[:300]
    [seen] = emulator.runtime_requests()
    assert seen["auth_ok"], seen.get("error")
    upstream = json.dumps(seen["headers"]).lower()
    for value in (CLIENT_KEY, TOKEN, "19700101t000000z", "unsigned-payload", "evil", "mixed-case",
                  "client-x-api-key", "client-azure-key", "client-cookie", "y2xpzw50onbyb3h5"):
        assert value.lower() not in upstream, f"{value} reached Bedrock"
    assert f"credential={ACCESS_KEY.lower()}/" in seen["headers"]["authorization"].lower()


def test_non_utf8_header_values_do_not_crash_the_vm(gateway, emulator):
    # The proxy-wasm SDK's header getter panicked on such bytes and killed the VM.
    status, _, payload = post_chat(gateway, {"model": HAIKU, "messages": HI},
                                   headers=[(b"x-note", b"caf\xe9"), (b"user-agent", b"\xff\xfe")])
    assert status == 200, payload[:300]
    assert json.loads(payload)["choices"][0]["message"]["content"] == "Echo: hi"


def test_fault_trigger_is_not_in_the_released_filter(gateway):
    status, _, _ = post_chat(gateway, {"model": HAIKU, "messages": HI},
                             headers=[("x-bedrock-filter-fault", "panic")])
    assert status == 200


def test_secrets_never_in_responses_logs_or_stats(emulator):
    """Error paths are where secrets leak: wrong keys, upstream errors with the signed request,
    bad signatures. Checked against every response header and body, the log and stat names."""
    session_token = "secret-session-token-value"
    gw = Gateway(gateway_env(emulator, AWS_SESSION_TOKEN=session_token, API_KEY=CLIENT_KEY))
    try:
        answers = [
            post_chat(gw, {"model": HAIKU, "messages": HI}),
            post_chat(gw, {"model": HAIKU, "messages": HI}, key="wrong-" + CLIENT_KEY),
            post_chat(gw, {"model": HAIKU, "messages": HI}, key=None),
            post_chat(gw, {"model": HAIKU, "messages": [{"role": "user", "content": "[[scenario:throttle]]"}]}),
            post_chat(gw, {"model": HAIKU, "messages": [{"role": "user", "content": "[[scenario:error_500]]"}]}),
            post_chat(gw, {"model": "anthropic.no-access-model-v1:0", "messages": HI}),
            post_chat(gw, {"model": HAIKU, "messages": HI, "stream": True}),
            post_chat(gw, {"model": HAIKU, "stream": True,
                           "messages": [{"role": "user", "content": "[[scenario:stream_error]]"}]}),
            post_chat(gw, None, raw=b"{bad json " + CLIENT_KEY.encode()),
        ]
        secrets = [CLIENT_KEY, SECRET_KEY, session_token]
        for status, headers, payload in answers:
            text = json.dumps(headers) + payload.decode("utf-8", "replace")
            for secret in secrets:
                assert secret not in text, f"secret in a {status} response"
        stat_names = "\n".join(l.split(": ")[0] for l in gw.stats().splitlines())
        log = gw.output()
        for secret in secrets + [ACCESS_KEY]:
            assert secret not in stat_names
        for secret in secrets:
            assert secret not in log
    finally:
        gw.close()
