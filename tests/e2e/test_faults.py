"""Upstream faults through real Envoy: each ends with a clear error for the client, and the same
Envoy serves the next request. Bedrock here is a scripted upstream that misbehaves on demand
(the emulator covers the well-behaved paths); Envoy runs with a 2 s idle timeout.

Also: a Wasm VM crash (a test-only build with the fault-injection feature) is survived thanks to
failure_policy FAIL_RELOAD, and a client that hangs up mid-stream leaves nothing behind."""

import json
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

import openai
import pytest

from conftest import CLIENT_KEY, HAIKU, ROOT, Gateway, free_port, gateway_env

sys.path.insert(0, str(ROOT / "tests" / "emulator"))
from eventstream_encode import event_frame, exception_frame  # noqa: E402

FAULT_WASM = ROOT / "target" / "fault-injection" / "wasm32-wasip1" / "release" / "bedrock_access_filter.wasm"
HI = [{"role": "user", "content": "hi"}]
IDLE = 2.0


def converse_answer(text="fine"):
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
            "metrics": {"latencyMs": 1}}


def stream_frames(text="fine"):
    rng = random.Random(0)
    return [event_frame("messageStart", {"role": "assistant"}, rng)] + [
        event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": w}}, rng)
        for w in text.split(" ")] + [
        event_frame("contentBlockStop", {"contentBlockIndex": 0}, rng),
        event_frame("messageStop", {"stopReason": "end_turn"}, rng),
        event_frame("metadata", {"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
                                 "metrics": {"latencyMs": 1}}, rng)]


class ScriptedBedrock:
    """A Bedrock stand-in on loopback: `behave` is what the next requests get."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.behave = "ok"
        self.seen = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
            length = int(headers.get("content-length", 0))
            while len(body) < length:
                body += conn.recv(65536)
            path = lines[0].split()[1]
            self.seen.append({"path": path, "headers": headers})
            self._respond(conn, self.behave, path.endswith("converse-stream"))
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def _head(conn, status, ctype, extra=""):
        reason = {200: "OK"}.get(status, "Error")
        conn.sendall(f"HTTP/1.1 {status} {reason}\r\ncontent-type: {ctype}\r\n{extra}".encode())

    def _respond(self, conn, behave, streaming):
        kind, _, arg = behave.partition(":")
        if kind == "status":  # status:429:ThrottlingException
            status, error_type = arg.split(":")
            body = json.dumps({"message": f"scripted {error_type}"}).encode()
            self._head(conn, int(status), "application/json",
                       f"x-amzn-errortype: {error_type}:http://internal.amazon.com/coral/\r\n"
                       f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
            conn.sendall(body)
            return
        if kind == "slow_first_byte":
            time.sleep(float(arg))
        if kind == "stall_before_headers":
            time.sleep(float(arg))
            return
        if not streaming:
            body = json.dumps(converse_answer()).encode()
            self._head(conn, 200, "application/json",
                       f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
            conn.sendall(body)
            return
        frames = stream_frames("one two three four five")
        self._head(conn, 200, "application/vnd.amazon.eventstream",
                   "transfer-encoding: chunked\r\nconnection: close\r\n\r\n")

        def chunk(data):
            conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))

        for i, frame in enumerate(frames):
            if i == 3:
                if kind == "reset":  # RST in the middle of a frame
                    chunk(frame[:10])
                    time.sleep(0.2)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if kind == "truncate":  # a clean end of body inside a frame
                    chunk(frame[: len(frame) // 2])
                    conn.sendall(b"0\r\n\r\n")
                    return
                if kind == "corrupt_crc":
                    frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
                if kind == "garbage_length":
                    frame = struct.pack(">I", 0xFFFFFFF0) + frame[4:]
                if kind == "exception":
                    frame = exception_frame("modelStreamErrorException", "scripted mid-stream failure")
                if kind == "stall":  # silent, connection open
                    chunk(frame)
                    time.sleep(float(arg))
                    return
            chunk(frame)
            time.sleep(0.01)
        conn.sendall(b"0\r\n\r\n")

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def bedrock():
    upstream = ScriptedBedrock()
    yield upstream
    upstream.close()


@pytest.fixture(scope="module")
def gw(bedrock):
    gateway = Gateway(gateway_env(bedrock, IDLE_TIMEOUT=f"{IDLE:g}s"))
    yield gateway
    gateway.close()


@pytest.fixture(autouse=True)
def _serves_next_request(request):
    """After every fault, the same Envoy answers a normal request (the VM did not crash)."""
    if "gw" not in request.fixturenames:
        yield
        return
    gateway = request.getfixturevalue("gw")
    upstream = request.getfixturevalue("bedrock")
    upstream.behave = "ok"
    yield
    upstream.behave = "ok"
    client = gateway.client()
    assert client.chat.completions.create(model=HAIKU, messages=HI).choices[0].message.content == "fine"
    streamed = [c.choices[0].delta.content for c in
                client.chat.completions.create(model=HAIKU, messages=HI, stream=True) if c.choices]
    assert "".join(s or "" for s in streamed) == "onetwothreefourfive"
    assert "vm_reload_success: 0" in gateway.stats()


@pytest.mark.parametrize("status, error_type, error_class, client_status", [
    (400, "ValidationException", openai.BadRequestError, 400),
    (403, "AccessDeniedException", openai.PermissionDeniedError, 403),
    (404, "ResourceNotFoundException", openai.NotFoundError, 404),
    (429, "ThrottlingException", openai.RateLimitError, 429),
    (500, "InternalServerException", openai.InternalServerError, 500),
    (503, "ServiceUnavailableException", openai.InternalServerError, 503),
    (502, "", openai.InternalServerError, 502),
])
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_error_statuses(gw, bedrock, status, error_type, error_class, client_status, stream):
    bedrock.behave = f"status:{status}:{error_type or 'Unknown'}"
    with pytest.raises(error_class) as err:
        result = gw.client().chat.completions.create(model=HAIKU, messages=HI, stream=stream)
        list(result) if stream else None
    assert err.value.status_code == client_status
    assert err.value.body["message"].startswith("Bedrock: ")


@pytest.mark.parametrize("behave", ["truncate", "corrupt_crc", "garbage_length", "exception"])
def test_broken_event_streams_end_with_an_sse_error_event(gw, bedrock, behave):
    bedrock.behave = behave
    with pytest.raises(openai.APIError) as err:
        list(gw.client().chat.completions.create(model=HAIKU, messages=HI, stream=True))
    assert err.value.message
    # Raw: the client got content first, then exactly one error event and no [DONE].
    bedrock.behave = behave
    events = raw_stream(gw)
    assert any(e.get("choices") for e in events if isinstance(e, dict))
    errors = [e for e in events if isinstance(e, dict) and "error" in e]
    assert len(errors) == 1 and errors[0]["error"]["message"]
    assert "[DONE]" not in events


def raw_stream(gateway, content="hi", read_all=True):
    body = json.dumps({"model": HAIKU, "stream": True, "messages": [{"role": "user", "content": content}]})
    req = urllib.request.Request(f"http://127.0.0.1:{gateway.port}/v1/chat/completions", data=body.encode(),
                                 headers={"authorization": f"Bearer {CLIENT_KEY}",
                                          "content-type": "application/json"})
    events = []
    with urllib.request.urlopen(req, timeout=30) as r:
        for line in r:
            line = line.decode().strip()
            if line.startswith("data: "):
                data = line[6:]
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_upstream_reset_mid_stream_fails_the_client_stream(gw, bedrock):
    bedrock.behave = "reset"
    # Envoy cuts the client's response short (no [DONE], no final chunk): the SDK raises.
    with pytest.raises(Exception):
        list(gw.client().chat.completions.create(model=HAIKU, messages=HI, stream=True))


def test_upstream_reset_before_an_answer_is_a_json_error(gw, bedrock):
    bedrock.behave = "stall_before_headers:0"  # accepts, reads, closes without answering
    with pytest.raises(openai.APIStatusError) as err:
        gw.client().chat.completions.create(model=HAIKU, messages=HI)
    assert err.value.status_code == 503
    assert err.value.response.headers["content-type"] == "application/json"
    assert err.value.body["message"]


def test_slow_first_byte_within_the_idle_timeout_is_fine(gw, bedrock):
    bedrock.behave = f"slow_first_byte:{IDLE / 2}"
    started = time.monotonic()
    assert gw.client().chat.completions.create(model=HAIKU, messages=HI).choices[0].message.content == "fine"
    assert time.monotonic() - started >= IDLE / 2


def test_silent_upstream_before_headers_times_out_with_a_clear_error(gw, bedrock):
    bedrock.behave = f"stall_before_headers:{IDLE * 3}"
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as err:
        gw.client().chat.completions.create(model=HAIKU, messages=HI)
    assert time.monotonic() - started < IDLE * 2.5
    assert err.value.status_code == 504
    assert err.value.response.headers["content-type"] == "application/json"
    assert err.value.body["message"]


def test_stalled_stream_is_ended_by_the_idle_timeout(gw, bedrock):
    bedrock.behave = f"stall:{IDLE * 3}"
    started = time.monotonic()
    got = []
    with pytest.raises(Exception):
        for chunk in gw.client().chat.completions.create(model=HAIKU, messages=HI, stream=True):
            got.append(chunk)
    assert time.monotonic() - started < IDLE * 2.5
    assert got, "content before the stall was delivered"


def admin_stat(gateway, name):
    for line in gateway.stats().splitlines():
        key, _, value = line.partition(": ")
        if key == name:
            return int(value)
    return 0


def test_client_disconnect_mid_stream_frees_the_request(gw, bedrock):
    bedrock.behave = f"stall:{IDLE * 0.75}"
    body = json.dumps({"model": HAIKU, "stream": True, "messages": HI}).encode()
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", gw.port))
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
                     b"authorization: Bearer " + CLIENT_KEY.encode() + b"\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(body), body))
        assert b"200" in sock.recv(65536).split(b"\r\n")[0]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    deadline = time.time() + 10
    while time.time() < deadline and (admin_stat(gw, "http.openai.downstream_rq_active")
                                      or admin_stat(gw, "cluster.bedrock_plain.upstream_rq_active")):
        time.sleep(0.1)
    assert admin_stat(gw, "http.openai.downstream_rq_active") == 0
    assert admin_stat(gw, "cluster.bedrock_plain.upstream_rq_active") == 0
    # The filter reports its VM's memory (what the soak watches for leaks).
    assert admin_stat(gw, "wasmcustom.bedrock_access_filter.vm_memory_bytes") >= 65536


def test_connection_refused_is_an_openai_error():
    port = free_port()  # nothing listens here
    gateway = Gateway(gateway_env(type("Closed", (), {"url": f"http://127.0.0.1:{port}"})()))
    try:
        for stream in (False, True):
            with pytest.raises(openai.APIStatusError) as err:
                result = gateway.client().chat.completions.create(model=HAIKU, messages=HI, stream=stream)
                list(result) if stream else None
            assert err.value.status_code == 503
            assert err.value.response.headers["content-type"] == "application/json"
            assert err.value.body["message"]
        assert "vm_reload_success: 0" in gateway.stats()
        # Bedrock's own API: the AWS exception an SDK raises for it, not Envoy's text.
        payload = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 9, "messages": HI})
        reply = post_with_client_key(f"http://127.0.0.1:{gateway.port}/model/{HAIKU}/invoke", payload)
        assert reply.status == 503
        assert reply.headers["x-amzn-errortype"] == "ServiceUnavailableException"
        assert json.loads(reply.read())["message"]
    finally:
        gateway.close()


def post_with_client_key(url, body):
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Authorization": f"Bearer {CLIENT_KEY}",
                                              "Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(request)
    except urllib.error.HTTPError as error:
        return error


@pytest.fixture(scope="module")
def fault_wasm():
    if not FAULT_WASM.exists():
        subprocess.run(["cargo", "build", "--release", "--target", "wasm32-wasip1", "--features",
                        "fault-injection", "--target-dir", "target/fault-injection"], cwd=ROOT, check=True)
    return FAULT_WASM


def test_crashed_vm_is_reloaded_and_the_next_request_succeeds(bedrock, fault_wasm):
    bedrock.behave = "ok"
    gateway = Gateway(gateway_env(bedrock, WASM_PATH=str(fault_wasm)))
    try:
        client = gateway.client()
        assert client.chat.completions.create(model=HAIKU, messages=HI).choices[0].message.content == "fine"
        for crash in range(1, 3):
            with pytest.raises(openai.InternalServerError) as err:
                client.chat.completions.create(model=HAIKU, messages=HI,
                                               extra_headers={"x-bedrock-filter-fault": "panic"})
            assert err.value.status_code == 503  # fail closed: the crashing request is not forwarded
            # Envoy's own reply (the VM is gone), mapped to OpenAI's shape by local_reply_config.
            assert err.value.response.headers["content-type"] == "application/json"
            assert err.value.body["code"] == "gateway_restarting" and err.value.body["type"] == "server_error"
            deadline = time.time() + 15
            while True:
                try:
                    answer = client.chat.completions.create(model=HAIKU, messages=HI)
                    break
                except openai.APIStatusError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
            assert answer.choices[0].message.content == "fine", "the filter runs again (not bypassed)"
            assert admin_stat(gateway, "wasm.bedrock_access_filter.vm_reload_success") == crash
        assert "panicked" in gateway.output()
        assert all(not s["path"].startswith("/v1/") for s in bedrock.seen), "nothing unfiltered went upstream"
    finally:
        gateway.close()
