"""Scripted failures of the emulator ("the next N calls to model M fail like this"), checked with
botocore's own client (which parses Bedrock's errors) and raw sockets for connection resets."""

import http.client
import json
import socket

import botocore.session
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

from emu_harness import emu  # noqa: F401 (fixture)

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
HI = [{"role": "user", "content": [{"text": "hi"}]}]


def hook(emu, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=20)
    conn.request(method, path, body=json.dumps(body) if body is not None else None)
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


def arm(emu, **spec):
    status, data = hook(emu, "POST", "/_emulator/failures", spec)
    assert status == 200, data
    return data


@pytest.fixture
def runtime(emu):
    hook(emu, "POST", "/_emulator/reset")
    session = botocore.session.Session()
    yield session.create_client(
        "bedrock-runtime", region_name=emu.region, endpoint_url=emu.url,
        aws_access_key_id=emu.access_key, aws_secret_access_key=emu.secret_key,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=20))
    hook(emu, "POST", "/_emulator/reset")


@pytest.mark.parametrize("kind, status, code", [
    ("throttle", 429, "ThrottlingException"),
    ("throttle_400", 400, "ThrottlingException"),
    ("model_not_ready", 429, "ModelNotReadyException"),
    ("unavailable", 503, "ServiceUnavailableException"),
    ("internal", 500, "InternalServerException"),
])
def test_next_calls_fail_then_the_model_answers(emu, runtime, kind, status, code):
    assert arm(emu, model=HAIKU, count=2, kind=kind) == {HAIKU: [kind, kind]}
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            runtime.converse(modelId=HAIKU, messages=HI)
        assert err.value.response["Error"]["Code"] == code
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert "retry-after" not in err.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert runtime.converse(modelId=HAIKU, messages=HI)["output"]["message"]["content"] == [{"text": "Echo: hi"}]
    _, records = hook(emu, "GET", "/_emulator/requests")
    assert [r.get("scripted_failure") for r in records] == [kind, kind, None]
    assert all(r["auth_ok"] for r in records)


def test_retry_after_header_and_model_scope(emu, runtime):
    arm(emu, model=HAIKU, count=1, kind="throttle", retry_after=3)
    # Another model is not affected.
    assert runtime.converse(modelId=NOVA, messages=HI)["stopReason"] == "end_turn"
    with pytest.raises(ClientError) as err:
        runtime.converse(modelId=HAIKU, messages=HI)
    assert err.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "3"
    assert hook(emu, "GET", "/_emulator/failures") == (200, {})


def test_any_model_and_order(emu, runtime):
    arm(emu, model="*", count=1, kind="unavailable")
    arm(emu, model=NOVA, count=1, kind="throttle")
    with pytest.raises(ClientError) as first:
        runtime.converse(modelId=NOVA, messages=HI)
    with pytest.raises(ClientError) as second:
        runtime.converse(modelId=NOVA, messages=HI)
    assert first.value.response["Error"]["Code"] == "ThrottlingException"  # the model's own first
    assert second.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert runtime.converse(modelId=NOVA, messages=HI)["stopReason"] == "end_turn"


def test_reset_before_any_byte(emu, runtime):
    arm(emu, model=HAIKU, count=1, kind="reset")
    body = json.dumps({"messages": HI}).encode()
    sock = socket.create_connection(("127.0.0.1", emu.port), timeout=20)
    sock.sendall((f"POST /model/{HAIKU.replace(':', '%3A')}/converse HTTP/1.1\r\nHost: {emu.host}\r\n"
                  f"Authorization: Bearer {emu.env['EMULATOR_API_KEYS'].split(',')[0]}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
    received = b""
    with pytest.raises(ConnectionResetError):
        while chunk := sock.recv(4096):
            received += chunk
    sock.close()
    assert received == b""
    # The next call is answered normally.
    assert runtime.converse(modelId=HAIKU, messages=HI)["stopReason"] == "end_turn"


def test_reset_after_headers_mid_stream(emu, runtime):
    arm(emu, model=HAIKU, count=1, kind="reset_after_headers")
    body = json.dumps({"messages": HI}).encode()
    sock = socket.create_connection(("127.0.0.1", emu.port), timeout=20)
    sock.sendall((f"POST /model/{HAIKU.replace(':', '%3A')}/converse-stream HTTP/1.1\r\nHost: {emu.host}\r\n"
                  f"Authorization: Bearer {emu.env['EMULATOR_API_KEYS'].split(',')[0]}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
    received = b""
    with pytest.raises(ConnectionResetError):
        while chunk := sock.recv(4096):
            received += chunk
    sock.close()
    head, _, chunked = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"application/vnd.amazon.eventstream" in head
    size, _, rest = chunked.partition(b"\r\n")
    frames = EventStreamBuffer()
    frames.add_data(rest[: int(size, 16)])
    events = [(m.headers[":event-type"], json.loads(m.payload)) for m in frames]
    assert [e for e, _ in events] == ["messageStart", "contentBlockDelta"]
    assert not chunked.endswith(b"0\r\n\r\n")  # never a clean end of the stream
    stream = runtime.converse_stream(modelId=HAIKU, messages=HI)["stream"]
    assert any("messageStop" in e for e in stream)


@pytest.mark.parametrize("spec", [
    {"model": HAIKU, "kind": "nonsense"},
    {"model": HAIKU, "kind": "throttle", "count": 0},
    {"kind": "throttle"},
    {"model": HAIKU, "kind": "reset", "retry_after": 2},
])
def test_bad_scripts_are_refused(emu, runtime, spec):
    status, data = hook(emu, "POST", "/_emulator/failures", spec)
    assert status == 400 and "kind" in data["message"]
    assert hook(emu, "GET", "/_emulator/failures") == (200, {})
