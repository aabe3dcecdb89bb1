"""Tests of the Bedrock emulator itself (run: python -m pytest tests/emulator -q).

Independent oracles where possible: botocore's own clients sign requests and
parse responses, botocore's EventStreamBuffer decodes the stream frames.
"""

import base64
import copy
import datetime
import http.client
import json
import signal
import socket
import time
from unittest import mock

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from emu_harness import API_KEYS, SESSION_TOKEN, emu, emu_token, start_emulator  # noqa: F401 (fixtures)
from thinking_signature import sign as sign_thinking

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU_PATH = "/model/anthropic.claude-3-haiku-20240307-v1%3A0"
SONNET4_PATH = "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0"
LLAMA_PATH = "/model/meta.llama3-1-8b-instruct-v1%3A0"
DEEPSEEK_PATH = "/model/us.deepseek.r1-v1%3A0"
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123profile"
CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(32))).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(32)).decode()


# ---- helpers ------------------------------------------------------------

def client(emu, service="bedrock-runtime", token=None, secret=None):
    session = botocore.session.Session()
    return session.create_client(
        service, region_name=emu.region, endpoint_url=emu.url,
        aws_access_key_id=emu.access_key, aws_secret_access_key=secret or emu.secret_key,
        aws_session_token=token, config=Config(retries={"total_max_attempts": 1}, read_timeout=20))


def sign(emu, method, path, body=b"", headers=None, *, access_key=None, secret=None, region=None,
         service="bedrock", when=None, token=None):
    """Headers for a request signed by botocore's SigV4Auth (the client side)."""
    req = AWSRequest(method=method, url=emu.url + path, data=body, headers=headers or {})
    signer = SigV4Auth(Credentials(access_key or emu.access_key, secret or emu.secret_key, token),
                       service, region or emu.region)
    if when:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(req)
    else:
        signer.add_auth(req)
    out = dict(req.headers.items())
    out["Host"] = emu.host
    return out


def send(emu, method, path, headers, body=b""):
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=20)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    if method != "GET" and not any(k.lower() == "transfer-encoding" for k in headers):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body if body else None)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def bearer(emu, path, body, key=API_KEYS[0], method="POST"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return send(emu, method, path, {"Host": emu.host, "Authorization": f"Bearer {key}",
                                    "Content-Type": "application/json"}, data)


def converse(emu, body, path=HAIKU_PATH):
    status, headers, data = bearer(emu, path + "/converse", body)
    return status, headers, json.loads(data)


class Raw:
    pass


def raw_stream(emu, path, body):
    """POST over a plain socket, keeping HTTP chunk boundaries and timing."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", emu.port), timeout=20)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {emu.host}\r\nAuthorization: Bearer {API_KEYS[0]}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)
    f = sock.makefile("rb")
    t0 = time.monotonic()
    r = Raw()
    r.status = int(f.readline().split()[1])
    r.headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        r.headers[k.strip().lower()] = v.strip()
    r.t_headers = time.monotonic() - t0
    r.chunks, r.times, r.complete = [], [], False
    if r.headers.get("transfer-encoding") == "chunked":
        while True:
            line = f.readline()
            if not line:
                break
            size = int(line.strip(), 16)
            if size == 0:
                f.readline()
                r.complete = True
                break
            piece = f.read(size)
            r.chunks.append(piece)
            r.times.append(time.monotonic() - t0)
            if len(piece) < size:
                break
            f.readline()
    else:
        n = int(r.headers.get("content-length", 0))
        piece = f.read(n)
        r.chunks = [piece]
        r.complete = len(piece) == n
    sock.close()
    return r


def frames(chunks):
    buf = EventStreamBuffer()
    out = []
    for c in chunks:
        buf.add_data(c)
        out.extend(buf)
    return out


def events(msgs):
    """[(event-or-exception type, payload)] from decoded frames."""
    out = []
    for m in msgs:
        h = m.headers
        payload = json.loads(m.payload)
        if h[":message-type"] == "event":
            assert h[":content-type"] == "application/json"
            assert isinstance(payload.pop("p"), str)  # Bedrock-style padding
            out.append((h[":event-type"], payload))
        else:
            out.append(("!" + h[":exception-type"], payload))
    return out


def stream(emu, body, path=HAIKU_PATH):
    r = raw_stream(emu, path + "/converse-stream", body)
    assert r.status == 200, b"".join(r.chunks)
    assert r.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert r.headers["x-amzn-requestid"]
    return r, events(frames(r.chunks))


def user(text):
    return {"messages": [{"role": "user", "content": [{"text": text}]}]}


WEATHER = {"toolSpec": {"name": "get_weather", "description": "Weather for a city", "inputSchema": {"json": {
    "type": "object",
    "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                   "days": {"type": "integer"}, "detailed": {"type": "boolean"},
                   "tags": {"type": "array", "items": {"type": "string"}},
                   "opts": {"type": "object", "properties": {"lang": {"type": "string"}}}},
    "required": ["location"]}}}}
TIME = {"toolSpec": {"name": "get_time", "description": "Time", "inputSchema": {"json": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}
TOOLS = {"tools": [WEATHER, TIME]}


def collect_stream(evts):
    """Reassemble content blocks from stream events (checks Bedrock's ordering rules)."""
    assert evts[0] == ("messageStart", {"role": "assistant"})
    blocks, open_idx, stop = {}, None, None
    for et, p in evts[1:]:
        if et == "contentBlockStart":
            blocks[p["contentBlockIndex"]] = {"toolUse": dict(p["start"]["toolUse"], input="")}
            open_idx = p["contentBlockIndex"]
        elif et == "contentBlockDelta":
            i, d = p["contentBlockIndex"], p["delta"]
            assert open_idx in (None, i)
            open_idx = i
            if "text" in d:
                blocks.setdefault(i, {"text": ""})["text"] += d["text"]
            elif "toolUse" in d:
                blocks[i]["toolUse"]["input"] += d["toolUse"]["input"]
            elif "redactedContent" in d["reasoningContent"]:
                blocks[i] = {"reasoningContent": {"redactedContent": d["reasoningContent"]["redactedContent"]}}
            else:
                rc = blocks.setdefault(i, {"reasoningContent": {"reasoningText": {"text": ""}}})
                rt = rc["reasoningContent"]["reasoningText"]
                if "signature" in d["reasoningContent"]:
                    rt["signature"] = d["reasoningContent"]["signature"]
                else:
                    assert "signature" not in rt  # signature comes after the text
                    rt["text"] += d["reasoningContent"]["text"]
        elif et == "contentBlockStop":
            assert p["contentBlockIndex"] == open_idx
            open_idx = None
        elif et == "messageStop":
            stop = p["stopReason"]
    for b in blocks.values():
        if "toolUse" in b:
            b["toolUse"]["input"] = json.loads(b["toolUse"]["input"])
    return [blocks[i] for i in sorted(blocks)], stop


# ---- lifecycle, recording -----------------------------------------------

def test_startup_line_and_health(emu):
    assert f"bedrock-emulator listening on 127.0.0.1:{emu.port}" in open(emu.stdout_path).read()
    status, _, data = send(emu, "GET", "/_emulator/health", {"Host": emu.host})
    assert status == 200 and json.loads(data)["ok"] is True


def test_recording_and_reset(emu):
    send(emu, "POST", "/_emulator/reset", {"Host": emu.host})
    bearer(emu, HAIKU_PATH + "/converse", user("recorded"))
    send(emu, "POST", HAIKU_PATH + "/converse", {"Host": emu.host}, b"{}")  # no auth
    _, _, data = send(emu, "GET", "/_emulator/requests", {"Host": emu.host})
    recs = json.loads(data)
    assert [r["auth"] for r in recs] == ["bearer", "none"]
    ok, rejected = recs
    assert ok["auth_ok"] and ok["error"] is None and ok["method"] == "POST"
    assert ok["path"] == HAIKU_PATH + "/converse" and ok["model_id"] == HAIKU
    assert ok["body"]["messages"][0]["content"][0]["text"] == "recorded"
    assert ok["headers"]["authorization"].startswith("Bearer ")
    assert not rejected["auth_ok"] and rejected["error"].startswith("MissingAuthenticationTokenException")
    assert ok["status"] == 200 and rejected["status"] == 403 and ok["stream_complete"] is None
    stream(emu, user("s"))
    recs = json.loads(send(emu, "GET", "/_emulator/requests", {"Host": emu.host})[2])
    assert recs[-1]["stream_complete"] is True and recs[-1]["operation"] == "converse-stream"
    send(emu, "POST", "/_emulator/reset", {"Host": emu.host})
    assert json.loads(send(emu, "GET", "/_emulator/requests", {"Host": emu.host})[2]) == []


# ---- SigV4 ----------------------------------------------------------------

def test_botocore_double_encodes_canonical_uri():
    req = AWSRequest(method="POST", url="https://bedrock-runtime.us-east-1.amazonaws.com"
                     + HAIKU_PATH + "/converse", data=b"{}")
    req.headers["host"] = "bedrock-runtime.us-east-1.amazonaws.com"
    req.context["timestamp"] = "20250101T000000Z"
    canonical = SigV4Auth(Credentials("a", "b"), "bedrock", "us-east-1").canonical_request(req)
    assert canonical.split("\n")[1] == "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse"


def test_botocore_client_converse_colon_model_id(emu):
    r = client(emu).converse(modelId=HAIKU, messages=[{"role": "user", "content": [{"text": "Hello  world "}]}])
    assert r["output"]["message"] == {"role": "assistant", "content": [{"text": "Echo: Hello  world"}]}
    assert r["stopReason"] == "end_turn"
    u = r["usage"]
    assert u["totalTokens"] == u["inputTokens"] + u["outputTokens"] and u["outputTokens"] == 3
    assert r["metrics"]["latencyMs"] >= 1


def test_botocore_client_converse_application_profile_arn(emu):
    r = client(emu).converse(modelId=APP_PROFILE, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert r["output"]["message"]["content"] == [{"text": "Echo: hi"}]
    _, _, data = send(emu, "GET", "/_emulator/requests", {"Host": emu.host})
    last = json.loads(data)[-1]
    assert last["model_id"] == APP_PROFILE and "%2F" in last["path"] and last["auth"] == "sigv4"


def test_botocore_client_stream_and_stream_exception(emu):
    rt = client(emu)
    r = rt.converse_stream(modelId="us." + HAIKU, messages=[{"role": "user", "content": [{"text": "a b c d e"}]}])
    evts = list(r["stream"])
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in evts if "contentBlockDelta" in e) == \
        "Echo: a b c d e"
    assert "metadata" in evts[-1]
    r = rt.converse_stream(modelId=HAIKU, messages=[{"role": "user", "content": [
        {"text": "one two three four five six [[scenario:stream_error]]"}]}])
    with pytest.raises(EventStreamError) as exc:
        list(r["stream"])
    assert "modelStreamErrorException" in str(exc.value)


def _converse_body():
    return json.dumps(user("signed")).encode()


PAST = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)

AUTH_CASES = [
    # name, how to build (headers, path, body), expected type, message fragment
    ("tampered_body", lambda e: (sign(e, "POST", HAIKU_PATH + "/converse", _converse_body()),
                                 HAIKU_PATH + "/converse", _converse_body().replace(b"signed", b"SIGNED")),
     "InvalidSignatureException", "The request signature we calculated does not match"),
    ("tampered_path", lambda e: (sign(e, "POST", HAIKU_PATH + "/converse", _converse_body()),
                                 SONNET4_PATH + "/converse", _converse_body()),
     "InvalidSignatureException", "does not match the signature you provided"),
    ("wrong_secret", lambda e: (sign(e, "POST", HAIKU_PATH + "/converse", _converse_body(), secret="nope"),
                                HAIKU_PATH + "/converse", _converse_body()),
     "InvalidSignatureException", "Check your AWS Secret Access Key"),
    ("unknown_key", lambda e: (sign(e, "POST", HAIKU_PATH + "/converse", _converse_body(), access_key="AKIAOTHER"),
                               HAIKU_PATH + "/converse", _converse_body()),
     "UnrecognizedClientException", "The security token included in the request is invalid."),
    ("expired", lambda e: (sign(e, "POST", HAIKU_PATH + "/converse", _converse_body(), when=PAST),
                           HAIKU_PATH + "/converse", _converse_body()),
     "InvalidSignatureException", "Signature expired"),
    ("wrong_service", lambda e: (sign(e, "POST", HAIKU_PATH + "/converse", _converse_body(),
                                      service="bedrock-runtime"), HAIKU_PATH + "/converse", _converse_body()),
     "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'."),
    ("wrong_region", lambda e: (sign(e, "POST", HAIKU_PATH + "/converse", _converse_body(), region="us-west-2"),
                                HAIKU_PATH + "/converse", _converse_body()),
     "InvalidSignatureException", "Credential should be scoped to a valid region"),
    ("missing_auth", lambda e: ({"Host": e.host}, HAIKU_PATH + "/converse", _converse_body()),
     "MissingAuthenticationTokenException", "Missing Authentication Token"),
    ("host_not_signed", lambda e: (_unsign_host(sign(e, "POST", HAIKU_PATH + "/converse", _converse_body())),
                                   HAIKU_PATH + "/converse", _converse_body()),
     "InvalidSignatureException", "'Host'"),
    ("content_sha_mismatch", lambda e: (sign(e, "POST", HAIKU_PATH + "/converse", _converse_body(),
                                             headers={"X-Amz-Content-SHA256": "0" * 64}),
                                        HAIKU_PATH + "/converse", _converse_body()),
     "InvalidSignatureException", "x-amz-content-sha256"),
    ("unexpected_session_token", lambda e: (sign(e, "POST", HAIKU_PATH + "/converse", _converse_body(), token="tok"),
                                            HAIKU_PATH + "/converse", _converse_body()),
     "UnrecognizedClientException", "security token"),
    ("bad_bearer", lambda e: ({"Host": e.host, "Authorization": "Bearer ABSKnope"}, HAIKU_PATH + "/converse",
                              _converse_body()),
     "UnrecognizedClientException", "bearer token"),
]


def _unsign_host(headers):
    auth = headers["Authorization"].replace("SignedHeaders=host;", "SignedHeaders=")
    return dict(headers, Authorization=auth)


@pytest.mark.parametrize("name,build,etype,fragment", AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
def test_auth_rejections(emu, name, build, etype, fragment):
    headers, path, body = build(emu)
    status, rh, data = send(emu, "POST", path, headers, body)
    assert status == 403
    assert rh["x-amzn-errortype"] == etype + CORAL
    assert rh["x-amzn-requestid"] and rh["content-type"] == "application/json"
    assert fragment in json.loads(data)["message"]


def test_signed_raw_request_accepted_and_query_signed(emu):
    body = _converse_body()
    status, _, data = send(emu, "POST", HAIKU_PATH + "/converse", sign(emu, "POST", HAIKU_PATH + "/converse", body),
                           body)
    assert status == 200 and json.loads(data)["output"]["message"]["content"][0]["text"] == "Echo: signed"
    path = "/inference-profiles?maxResults=2&type=APPLICATION"
    status, _, data = send(emu, "GET", path, sign(emu, "GET", path))
    assert status == 200 and len(json.loads(data)["inferenceProfileSummaries"]) == 2
    tampered = "/inference-profiles?maxResults=3&type=APPLICATION"
    assert send(emu, "GET", tampered, sign(emu, "GET", path))[0] == 403


def test_chunked_request_body(emu):
    body = _converse_body()
    headers = sign(emu, "POST", HAIKU_PATH + "/converse", body)
    headers["Transfer-Encoding"] = "chunked"
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
    status, _, data = send(emu, "POST", HAIKU_PATH + "/converse", headers, chunked + b"0\r\n\r\n")
    assert status == 200, data


def test_bearer_api_key_accepted(emu):
    status, headers, data = bearer(emu, HAIKU_PATH + "/converse", user("k"), key=API_KEYS[1])
    assert status == 200 and json.loads(data)["output"]["message"]["content"] == [{"text": "Echo: k"}]


def test_strict_on_demand(emu_token):
    body = user("x")
    status, rh, data = bearer(emu_token, "/model/anthropic.claude-sonnet-4-20250514-v1%3A0/converse", body)
    assert status == 400 and "with on-demand throughput isn\u2019t supported" in json.loads(data)["message"]
    assert bearer(emu_token, "/model/eu.anthropic.claude-sonnet-4-20250514-v1%3A0/converse", body)[0] == 200
    assert bearer(emu_token, HAIKU_PATH + "/converse", body)[0] == 200


def test_sigint_stops_cleanly():
    e = start_emulator({})
    e.proc.send_signal(signal.SIGINT)
    assert e.proc.wait(timeout=10) == 0


def test_session_token(emu_token):
    r = client(emu_token, token=SESSION_TOKEN).converse(
        modelId="eu." + HAIKU, messages=[{"role": "user", "content": [{"text": "tok"}]}])
    assert r["output"]["message"]["content"] == [{"text": "Echo: tok"}]
    for token in (None, "other-token"):
        with pytest.raises(ClientError) as exc:
            client(emu_token, token=token).converse(modelId=HAIKU, messages=[{"role": "user", "content": [{"text": "x"}]}])
        assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"
    body = _converse_body()
    headers = sign(emu_token, "POST", HAIKU_PATH + "/converse", body)
    headers["X-Amz-Security-Token"] = SESSION_TOKEN  # present but not signed
    status, rh, _ = send(emu_token, "POST", HAIKU_PATH + "/converse", headers, body)
    assert status == 403 and rh["x-amzn-errortype"].startswith("InvalidSignatureException")


def test_signature_mismatch_echoes_the_canonical_request_like_aws(emu_token):
    # A wrong secret with a signed session token: the message shows the signed header values,
    # the token among them (what a gateway must not pass on to its clients).
    body = _converse_body()
    headers = sign(emu_token, "POST", HAIKU_PATH + "/converse", body, secret="wrong/secret", token=SESSION_TOKEN)
    status, rh, data = send(emu_token, "POST", HAIKU_PATH + "/converse", headers, body)
    message = json.loads(data)["message"]
    assert status == 403 and rh["x-amzn-errortype"].startswith("InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    assert "The Canonical String for this request should have been\n'POST\n/model/" in message
    assert f"x-amz-security-token:{SESSION_TOKEN}\n" in message
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message


# ---- model identifiers ----------------------------------------------------

@pytest.mark.parametrize("path,status,etype,fragment", [
    ("/model/anthropic.claude-9-v1%3A0", 400, "ValidationException", "The provided model identifier is invalid."),
    ("/model/xx.anthropic.claude-3-haiku-20240307-v1%3A0", 400, "ValidationException", "identifier is invalid"),
    ("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fnope", 400,
     "ValidationException", "identifier is invalid"),
    ("/model/anthropic.no-access-v1%3A0", 403, "AccessDeniedException", "You don't have access to the model"),
    ("/model/amazon.titan-embed-text-v2%3A0", 400, "ValidationException", "doesn't support the model"),
])
def test_model_identifier_errors(emu, path, status, etype, fragment):
    st, rh, data = bearer(emu, path + "/converse", user("x"))
    assert st == status and rh["x-amzn-errortype"] == etype + CORAL
    assert fragment in json.loads(data)["message"]


@pytest.mark.parametrize("model", [
    "global.anthropic.claude-sonnet-4-20250514-v1:0", "apac.amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0",
    "mistral.mistral-large-2407-v1:0", "openai.gpt-oss-120b-1:0", "us.deepseek.r1-v1:0",
    "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/def456profile",
])
def test_model_identifiers_accepted(emu, model):
    r = client(emu).converse(modelId=model, messages=[{"role": "user", "content": [{"text": "ok"}]}])
    assert r["output"]["message"]["content"][-1] == {"text": "Echo: ok"}  # gpt-oss and R1 reason first


# ---- converse validation ---------------------------------------------------

def _tool_turns(result_id="t1"):
    return [
        {"role": "user", "content": [{"text": "weather?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather",
                                                       "input": {"location": "Paris"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": result_id, "content": [{"text": "15C"}]}}]},
    ]


def _img(fmt="png", data=PNG):
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _msgs(*content, role="user"):
    return {"messages": [{"role": role, "content": list(content)}]}


def _thinking(budget=2048, **inf):
    return {"additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": budget}},
            "inferenceConfig": dict({"maxTokens": 4096}, **inf)}


B = user("hi")
BAD_BODIES = [
    ("not_object", HAIKU_PATH, [], "Malformed input request"),
    ("invalid_json", HAIKU_PATH, b"{nope", "Malformed input request"),
    ("unknown_top_level", HAIKU_PATH, dict(B, foo=1), "extraneous key [foo]"),
    ("model_id_in_body", HAIKU_PATH, dict(B, modelId=HAIKU), "extraneous key [modelId]"),
    ("missing_messages", HAIKU_PATH, {}, "messages"),
    ("empty_messages", HAIKU_PATH, {"messages": []}, "must start with a user message"),
    ("first_assistant", HAIKU_PATH, _msgs({"text": "x"}, role="assistant"), "must start with a user message"),
    ("bad_role", HAIKU_PATH, _msgs({"text": "x"}, role="system"), "enum value set: [user, assistant]"),
    ("not_alternating", HAIKU_PATH, {"messages": B["messages"] * 2}, "must alternate between user and assistant"),
    ("empty_content", HAIKU_PATH, _msgs(), "is empty"),
    ("message_extra_key", HAIKU_PATH, {"messages": [{"role": "user", "content": [{"text": "x"}], "name": "bob"}]},
     "extraneous key [name]"),
    ("block_two_members", HAIKU_PATH, _msgs({"text": "x", "cachePoint": {"type": "default"}}), "exactly one"),
    ("block_unknown", HAIKU_PATH, _msgs({"image_url": "http://x"}), "extraneous key [image_url]"),
    ("blank_text", HAIKU_PATH, _msgs({"text": " \n "}),
     "The text field in the ContentBlock object at messages.0.content.0 is blank."),
    ("text_not_string", HAIKU_PATH, _msgs({"text": 5}), "string"),
    ("blank_assistant_text", HAIKU_PATH, {"messages": [B["messages"][0], {"role": "assistant", "content": [
        {"text": ""}]}]}, "messages.1.content.0 is blank"),
    ("system_blank", HAIKU_PATH, dict(B, system=[{"text": ""}]), "SystemContentBlock object at system.0 is blank"),
    ("system_bad_block", HAIKU_PATH, dict(B, system=[_img()]), "extraneous key [image]"),
    ("image_bad_format", HAIKU_PATH, _msgs({"text": "x"}, _img("bmp")), "png, jpeg, gif, webp"),
    ("image_bad_base64", HAIKU_PATH, _msgs({"text": "x"}, _img(data="!!not base64!!")), "base64"),
    ("image_magic_mismatch", HAIKU_PATH, _msgs({"text": "x"}, _img("jpeg", PNG)), "not a valid jpeg image"),
    ("image_too_large", HAIKU_PATH, _msgs({"text": "x"}, _img(data=base64.b64encode(
        b"\x89PNG\r\n\x1a\n" + bytes(3_932_160)).decode())), "3.75 MB"),
    ("image_in_assistant", HAIKU_PATH, {"messages": [B["messages"][0], {"role": "assistant", "content": [_img()]}]},
     "only allowed in a user message"),
    ("too_many_images", HAIKU_PATH, _msgs({"text": "x"}, *[_img()] * 21), "at most 20 images"),
    ("document_without_text", HAIKU_PATH, _msgs({"document": {"format": "txt", "name": "notes", "source": {
        "bytes": base64.b64encode(b"hello").decode()}}}), "no text block"),
    ("document_bad_name", HAIKU_PATH, _msgs({"text": "x"}, {"document": {"format": "txt", "name": "a.txt", "source": {
        "bytes": base64.b64encode(b"hello").decode()}}}), "document name"),
    ("tool_use_in_user", HAIKU_PATH, dict(_msgs({"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}),
                                          toolConfig=TOOLS), "only allowed in an assistant message"),
    ("tool_result_in_assistant", HAIKU_PATH, dict({"messages": [B["messages"][0], {"role": "assistant", "content": [
        {"toolResult": {"toolUseId": "t1", "content": []}}]}]}, toolConfig=TOOLS), "only allowed in a user message"),
    ("tool_use_input_not_object", HAIKU_PATH, dict({"messages": [B["messages"][0], {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": "{}"}}]}]}, toolConfig=TOOLS),
     "must be a JSON object"),
    ("tool_blocks_without_tool_config", HAIKU_PATH, {"messages": _tool_turns()},
     "The toolConfig field must be defined when using toolUse and toolResult content blocks."),
    ("missing_tool_result", HAIKU_PATH, {"messages": _tool_turns()[:2] + [B["messages"][0]], "toolConfig": TOOLS},
     "Expected toolResult blocks at messages.2.content for the following Ids: t1"),
    ("dangling_tool_use", HAIKU_PATH, {"messages": _tool_turns()[:2], "toolConfig": TOOLS},
     "Expected toolResult blocks at messages.2.content"),
    ("unknown_tool_result_id", HAIKU_PATH, {"messages": _tool_turns("t9"), "toolConfig": TOOLS}, "t9"),
    ("tool_result_bad_status", HAIKU_PATH, {"messages": _tool_turns()[:2] + [{"role": "user", "content": [
        {"toolResult": {"toolUseId": "t1", "content": [{"text": "x"}], "status": "ok"}}]}], "toolConfig": TOOLS},
     "success, error"),
    ("tool_name_bad", HAIKU_PATH, dict(B, toolConfig={"tools": [{"toolSpec": dict(
        WEATHER["toolSpec"], name="get weather")}]}), "regular expression"),
    ("tool_name_too_long", HAIKU_PATH, dict(B, toolConfig={"tools": [{"toolSpec": dict(
        WEATHER["toolSpec"], name="x" * 65)}]}), "regular expression"),
    ("tool_names_duplicate", HAIKU_PATH, dict(B, toolConfig={"tools": [WEATHER, WEATHER]}), "duplicate tool names"),
    ("tool_description_empty", HAIKU_PATH, dict(B, toolConfig={"tools": [{"toolSpec": dict(
        WEATHER["toolSpec"], description="")}]}), "description"),
    ("tool_schema_not_object", HAIKU_PATH, dict(B, toolConfig={"tools": [{"toolSpec": dict(
        WEATHER["toolSpec"], inputSchema={"json": {"type": "string"}})}]}),
     "inputSchema.json.type must be one of the following: object"),
    ("tool_schema_missing", HAIKU_PATH, dict(B, toolConfig={"tools": [{"toolSpec": {"name": "a"}}]}),
     "inputSchema"),
    ("tools_empty", HAIKU_PATH, dict(B, toolConfig={"tools": []}), "greater than or equal to 1"),
    ("tool_choice_two", HAIKU_PATH, dict(B, toolConfig=dict(TOOLS, toolChoice={"auto": {}, "any": {}})),
     "exactly one"),
    ("tool_choice_unknown_tool", HAIKU_PATH, dict(B, toolConfig=dict(TOOLS, toolChoice={"tool": {"name": "nope"}})),
     "not defined"),
    ("tool_choice_bad_kind", HAIKU_PATH, dict(B, toolConfig=dict(TOOLS, toolChoice={"none": {}})),
     "extraneous key [none]"),
    ("tool_choice_any_unsupported", LLAMA_PATH, dict(B, toolConfig=dict(TOOLS, toolChoice={"any": {}})),
     "doesn't support the toolConfig.toolChoice.any field"),
    ("tools_unsupported", DEEPSEEK_PATH, dict(B, toolConfig=TOOLS), "doesn't support tool use"),
    ("max_tokens_zero", HAIKU_PATH, dict(B, inferenceConfig={"maxTokens": 0}), "greater than or equal to 1"),
    ("max_tokens_string", HAIKU_PATH, dict(B, inferenceConfig={"maxTokens": "100"}), "integer"),
    ("max_tokens_float", HAIKU_PATH, dict(B, inferenceConfig={"maxTokens": 10.5}), "integer"),
    ("max_tokens_over_model_limit", HAIKU_PATH, dict(B, inferenceConfig={"maxTokens": 4097}),
     "exceeds the model limit of 4096"),
    ("temperature_high", HAIKU_PATH, dict(B, inferenceConfig={"temperature": 1.5}), "less than or equal to 1"),
    ("temperature_string", HAIKU_PATH, dict(B, inferenceConfig={"temperature": "hot"}), "number"),
    ("top_p_negative", HAIKU_PATH, dict(B, inferenceConfig={"topP": -0.1}), "greater than or equal to 0"),
    ("stop_sequences_too_many", HAIKU_PATH, dict(B, inferenceConfig={"stopSequences": list("abcde")}),
     "less than or equal to 4"),
    ("stop_sequence_empty", HAIKU_PATH, dict(B, inferenceConfig={"stopSequences": [""]}), "length"),
    ("inference_unknown_key", HAIKU_PATH, dict(B, inferenceConfig={"topK": 5}), "extraneous key [topK]"),
    ("reasoning_in_user", HAIKU_PATH, _msgs({"reasoningContent": {"reasoningText": {"text": "x", "signature": "s"}}}),
     "User messages cannot contain reasoning content."),
    ("reasoning_without_signature", SONNET4_PATH, {"messages": [B["messages"][0], {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "hmm"}}}, {"text": "a"}]}, B["messages"][0]]},
     "messages.1.content.0.thinking.signature: Field required"),
    ("cache_point_bad_type", HAIKU_PATH, _msgs({"text": "x"}, {"cachePoint": {"type": "ephemeral"}}), "[default]"),
    ("too_many_cache_points", HAIKU_PATH, dict(_msgs({"text": "x"}, *[{"cachePoint": {"type": "default"}}] * 3),
                                               system=[{"text": "s"}, {"cachePoint": {"type": "default"}},
                                                       {"cachePoint": {"type": "default"}}]), "maximum of 4"),
    ("thinking_small_budget", SONNET4_PATH, dict(B, **_thinking(500)), "greater than or equal to 1024"),
    ("thinking_budget_not_below_max", SONNET4_PATH, dict(B, **_thinking(4096)), "must be greater than"),
    ("thinking_temperature", SONNET4_PATH, dict(B, **_thinking(temperature=0.5)), "temperature"),
    ("thinking_top_p", SONNET4_PATH, dict(B, **_thinking(topP=0.9)), "top_p"),
    ("thinking_forced_tool", SONNET4_PATH, dict(B, toolConfig=dict(TOOLS, toolChoice={"any": {}}), **_thinking()),
     "Thinking may not be enabled when tool_choice forces tool use"),
    ("thinking_tool_turn_without_reasoning", SONNET4_PATH,
     dict({"messages": _tool_turns(), "toolConfig": TOOLS}, **_thinking()), "must start with a thinking block"),
    ("thinking_bad_type", SONNET4_PATH, {**B, "additionalModelRequestFields": {"thinking": {"type": "on"}}},
     "thinking.type"),
    ("thinking_unsupported_model", HAIKU_PATH, dict(B, additionalModelRequestFields={"thinking": {
        "type": "enabled", "budget_tokens": 1024}}, inferenceConfig={"maxTokens": 2048}), "thinking"),
    ("prefill_trailing_whitespace", HAIKU_PATH, {"messages": [B["messages"][0], {"role": "assistant", "content": [
        {"text": "Sure "}]}]}, "trailing whitespace"),
    ("request_metadata_too_many", HAIKU_PATH, dict(B, requestMetadata={f"k{i}": "v" for i in range(17)}), "16"),
    ("performance_config_bad", HAIKU_PATH, dict(B, performanceConfig={"latency": "fast"}), "standard, optimized"),
    ("service_tier_bad", HAIKU_PATH, dict(B, serviceTier={"type": "gold"}), "priority"),
    ("guardrail_missing_version", HAIKU_PATH, dict(B, guardrailConfig={"guardrailIdentifier": "g"}),
     "guardrailVersion"),
    ("response_field_paths_bad", HAIKU_PATH, dict(B, additionalModelResponseFieldPaths=[""]), "length"),
    ("additional_fields_not_object", HAIKU_PATH, dict(B, additionalModelRequestFields=[1]), "structure"),
    ("unknown_scenario", HAIKU_PATH, user("x [[scenario:nope]]"), "Unknown emulator scenario 'nope'"),
]


@pytest.mark.parametrize("name,path,body,fragment", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_validation_rejects(emu, name, path, body, fragment):
    for op in ("/converse", "/converse-stream"):
        status, rh, data = bearer(emu, path + op, body)
        assert status == 400, data[:300]
        assert rh["x-amzn-errortype"] == "ValidationException" + CORAL
        assert fragment in json.loads(data)["message"], json.loads(data)["message"]


GOOD_BODIES = [
    ("tool_round_trip", HAIKU_PATH, {"messages": _tool_turns(), "toolConfig": TOOLS}),
    ("tool_result_json_image_status", HAIKU_PATH, {"messages": _tool_turns()[:2] + [{"role": "user", "content": [
        {"toolResult": {"toolUseId": "t1", "status": "error", "content": [{"json": {"a": 1}}, _img("jpeg", JPEG)]}},
        {"text": "and?"}]}], "toolConfig": dict(TOOLS, toolChoice={"auto": {}})}),
    ("images_all_formats", HAIKU_PATH, _msgs({"text": "look"}, _img(), _img("jpeg", JPEG), _img("gif", base64.b64encode(
        b"GIF89a" + bytes(8)).decode()), _img("webp", base64.b64encode(b"RIFF\0\0\0\0WEBPVP8 ").decode()))),
    ("document_with_text", HAIKU_PATH, _msgs({"text": "summarize"}, {"document": {
        "format": "md", "name": "Notes (v2) [draft]", "source": {"text": "# hi"}}})),
    ("thinking_with_reasoning_round_trip", SONNET4_PATH, dict({"messages": [
        _tool_turns()[0],
        {"role": "assistant", "content": [{"reasoningContent": {"reasoningText": {"text": "hm", "signature": sign_thinking("hm")}}},
                                          _tool_turns()[1]["content"][0]]},
        _tool_turns()[2]], "toolConfig": TOOLS}, **_thinking(temperature=1))),
    ("cache_points_everywhere", SONNET4_PATH, {"messages": [{"role": "user", "content": [
        {"text": "x"}, {"cachePoint": {"type": "default"}}]}], "system": [
        {"text": "sys"}, {"cachePoint": {"type": "default", "ttl": "1h"}}], "toolConfig": {"tools": [
            WEATHER, {"cachePoint": {"type": "default"}}]}}),
    ("all_optional_fields", HAIKU_PATH, dict(B, system=[{"text": "be brief"}], inferenceConfig={
        "maxTokens": 100, "temperature": 0, "topP": 1, "stopSequences": ["END"]},
        additionalModelRequestFields={"top_k": 5}, additionalModelResponseFieldPaths=["/stop_sequence"],
        requestMetadata={"team": "a"}, performanceConfig={"latency": "optimized"}, serviceTier={"type": "flex"},
        guardrailConfig={"guardrailIdentifier": "g1", "guardrailVersion": "1"})),
    ("prefill", HAIKU_PATH, {"messages": [B["messages"][0], {"role": "assistant", "content": [{"text": "Sure:"}]}]}),
]


@pytest.mark.parametrize("name,path,body", GOOD_BODIES, ids=[c[0] for c in GOOD_BODIES])
def test_validation_accepts(emu, name, path, body):
    status, _, data = converse(emu, body, path)
    assert status == 200, data


# ---- scenarios: non-streaming ---------------------------------------------------

def test_echo_strips_marker_and_uses_last_user_turn(emu):
    body = {"messages": [{"role": "user", "content": [{"text": "first [[scenario:guardrail]]"}]},
                         {"role": "assistant", "content": [{"text": "ok"}]},
                         {"role": "user", "content": [{"text": "  second [[scenario:echo]] "}]}]}
    _, _, r = converse(emu, body)
    assert r["output"]["message"]["content"] == [{"text": "Echo: second"}] and r["stopReason"] == "end_turn"


def test_tool_scenario_and_tool_result_echo(emu):
    body = dict(user("Weather in Paris? [[scenario:tool]]"), toolConfig=TOOLS)
    status, _, r = converse(emu, body)
    assert r["stopReason"] == "tool_use"
    [block] = r["output"]["message"]["content"]
    tu = block["toolUse"]
    assert tu["name"] == "get_weather" and tu["toolUseId"].startswith("tooluse_") and len(tu["toolUseId"]) == 30
    assert tu["input"] == {"location": "Paris", "unit": "celsius", "days": 42, "detailed": True, "tags": ["test"],
                           "opts": {"lang": "test"}}
    assert converse(emu, body)[2] == dict(r, metrics=converse(emu, body)[2]["metrics"])  # deterministic
    follow = {"messages": body["messages"] + [r["output"]["message"], {"role": "user", "content": [
        {"toolResult": {"toolUseId": tu["toolUseId"], "content": [{"text": "15C"}, {"json": {"rain": False}}]}}]}],
        "toolConfig": TOOLS}
    _, _, r2 = converse(emu, follow)
    assert r2["output"]["message"]["content"] == [{"text": 'Tool results: 15C | {"rain":false}'}]
    assert r2["stopReason"] == "end_turn"


def test_named_and_forced_tool_choice(emu):
    body = dict(user("what time?"), toolConfig=dict(TOOLS, toolChoice={"tool": {"name": "get_time"}}))
    _, _, r = converse(emu, body)
    assert r["stopReason"] == "tool_use"
    assert r["output"]["message"]["content"][0]["toolUse"]["name"] == "get_time"
    assert r["output"]["message"]["content"][0]["toolUse"]["input"] == {"city": "Paris"}


def test_parallel_and_text_then_tool(emu):
    _, _, r = converse(emu, dict(user("both [[scenario:parallel_tools]]"), toolConfig=TOOLS))
    a, b = r["output"]["message"]["content"]
    assert (a["toolUse"]["name"], b["toolUse"]["name"]) == ("get_weather", "get_time")
    assert a["toolUse"]["toolUseId"] != b["toolUse"]["toolUseId"] and r["stopReason"] == "tool_use"
    _, _, r = converse(emu, dict(user("x [[scenario:text_then_tool]]"), toolConfig=TOOLS))
    c = r["output"]["message"]["content"]
    assert c[0] == {"text": "Let me check that."} and "toolUse" in c[1] and r["stopReason"] == "tool_use"


def test_reasoning_scenario_and_thinking(emu):
    _, _, r = converse(emu, user("why? [[scenario:reasoning]]"))
    rc, txt = r["output"]["message"]["content"]
    assert rc["reasoningContent"]["reasoningText"]["text"] == "Thinking about: why?"
    assert base64.b64decode(rc["reasoningContent"]["reasoningText"]["signature"])
    assert txt == {"text": "Echo: why?"}
    _, _, r = converse(emu, dict(user("think"), **_thinking()), SONNET4_PATH)
    assert "reasoningContent" in r["output"]["message"]["content"][0]


@pytest.mark.parametrize("scenario,stop,text", [
    ("max_tokens", "max_tokens", "This answer is deliberately cut off in the middle of a"),
    ("guardrail", "guardrail_intervened", "Sorry, the model cannot answer this question."),
])
def test_stop_reason_scenarios(emu, scenario, stop, text):
    _, _, r = converse(emu, user(f"x [[scenario:{scenario}]]"))
    assert r["stopReason"] == stop and r["output"]["message"]["content"] == [{"text": text}]


def test_max_tokens_and_stop_sequences_honoured(emu):
    _, _, r = converse(emu, dict(user("one two three four five"), inferenceConfig={"maxTokens": 3}))
    assert r["output"]["message"]["content"] == [{"text": "Echo: one two"}] and r["stopReason"] == "max_tokens"
    assert r["usage"]["outputTokens"] == 3
    _, _, r = converse(emu, dict(user("one two STOP three"), inferenceConfig={"stopSequences": ["STOP"]},
                                 additionalModelResponseFieldPaths=["/stop_sequence"]))
    assert r["output"]["message"]["content"] == [{"text": "Echo: one two "}] and r["stopReason"] == "stop_sequence"
    assert r["additionalModelResponseFields"] == {"stop_sequence": "STOP"}


def test_long_scenario(emu):
    _, _, r = converse(emu, user("[[scenario:long:25]]"))
    assert len(r["output"]["message"]["content"][0]["text"].split()) == 25 and r["usage"]["outputTokens"] == 25


@pytest.mark.parametrize("scenario,status,etype", [
    ("throttle", 429, "ThrottlingException"), ("error_500", 500, "InternalServerException"),
    ("unavailable", 503, "ServiceUnavailableException"), ("throttle_stream", 429, "ThrottlingException"),
    ("stream_error", 424, "ModelErrorException"),
])
def test_error_scenarios_converse(emu, scenario, status, etype):
    st, rh, data = bearer(emu, HAIKU_PATH + "/converse", user(f"x [[scenario:{scenario}]]"))
    assert st == status and rh["x-amzn-errortype"] == etype + CORAL and json.loads(data)["message"]


@pytest.mark.parametrize("scenario,status,etype", [
    ("throttle", 429, "ThrottlingException"), ("error_500", 500, "InternalServerException"),
    ("unavailable", 503, "ServiceUnavailableException"),
])
def test_error_scenarios_stream_before_body(emu, scenario, status, etype):
    st, rh, data = bearer(emu, HAIKU_PATH + "/converse-stream", user(f"x [[scenario:{scenario}]]"))
    assert st == status and rh["x-amzn-errortype"] == etype + CORAL
    assert json.loads(data) == {"message": json.loads(data)["message"]}


def test_throttle_message(emu):
    _, _, data = bearer(emu, HAIKU_PATH + "/converse", user("[[scenario:throttle]]"))
    assert json.loads(data)["message"] == "Too many requests, please wait before trying again."


def test_usage_cache(emu):
    send(emu, "POST", "/_emulator/reset", {"Host": emu.host})
    _, _, r = converse(emu, user("x [[scenario:usage_cache]]"))
    u = r["usage"]
    assert u["cacheReadInputTokens"] > 0 and u["cacheWriteInputTokens"] > 0
    assert u["totalTokens"] == u["inputTokens"] + u["outputTokens"] + u["cacheReadInputTokens"] + \
        u["cacheWriteInputTokens"]
    body = {"system": [{"text": "a long system prompt " * 300}, {"cachePoint": {"type": "default"}}],
            **user("question")}
    _, _, first = converse(emu, body, SONNET4_PATH)
    _, _, second = converse(emu, body, SONNET4_PATH)
    assert first["usage"]["cacheWriteInputTokens"] > 0 and first["usage"]["cacheReadInputTokens"] == 0
    assert second["usage"]["cacheReadInputTokens"] == first["usage"]["cacheWriteInputTokens"]
    assert second["usage"]["cacheWriteInputTokens"] == 0


def test_slow_converse(emu):
    t0 = time.monotonic()
    status, _, r = converse(emu, user("x [[scenario:slow:300]]"))
    assert status == 200 and time.monotonic() - t0 >= 0.3 and r["metrics"]["latencyMs"] >= 300


def test_truncate_converse(emu):
    with pytest.raises(http.client.IncompleteRead):
        bearer(emu, HAIKU_PATH + "/converse", user("x [[scenario:truncate]]"))


# ---- scenarios: streaming ---------------------------------------------------------

def test_stream_echo_frames_and_random_pieces(emu):
    r, evts = stream(emu, user("[[scenario:long:200]]"))
    assert r.complete and len(r.chunks) > 20
    msgs = frames(r.chunks)
    frame_ends, pos = set(), 0
    for m in msgs:
        pos += m.prelude.total_length
        frame_ends.add(pos)
    cuts, pos = [], 0
    for c in r.chunks:
        pos += len(c)
        cuts.append(pos)
    assert pos == max(frame_ends)
    assert any(c not in frame_ends for c in cuts)  # frames split across pieces
    starts = sorted({0} | frame_ends)
    assert any(0 < c - max(s for s in starts if s < c) < 12 for c in cuts)  # cut inside a prelude
    assert any(sum(1 for e in frame_ends if prev < e < c) >= 2 for prev, c in zip([0] + cuts, cuts))  # >=2 frames
    deltas = [p for et, p in evts if et == "contentBlockDelta"]
    assert len(deltas) == 200 and all(len(d["delta"]["text"].split()) == 1 for d in deltas)
    assert [et for et, _ in evts[-3:]] == ["contentBlockStop", "messageStop", "metadata"]
    assert evts[-1][1]["usage"]["outputTokens"] == 200 and evts[-1][1]["metrics"]["latencyMs"] >= 1


def test_stream_matches_converse(emu):
    for body in (user("hello stream"), dict(user("x [[scenario:text_then_tool]]"), toolConfig=TOOLS),
                 dict(user("x [[scenario:parallel_tools]]"), toolConfig=TOOLS), user("q [[scenario:reasoning]]"),
                 user("[[scenario:max_tokens]]"), user("[[scenario:guardrail]]")):
        _, evts = stream(emu, body)
        blocks, stop = collect_stream(evts)
        _, _, r = converse(emu, body)
        assert blocks == r["output"]["message"]["content"] and stop == r["stopReason"]
        assert evts[-1][0] == "metadata" and evts[-1][1]["usage"] == r["usage"]


def test_stream_tool_use_shapes(emu):
    _, evts = stream(emu, dict(user("x [[scenario:tool]]"), toolConfig=TOOLS))
    names = [et for et, _ in evts]
    assert names[:2] == ["messageStart", "contentBlockStart"]
    start = evts[1][1]
    assert start["contentBlockIndex"] == 0 and set(start["start"]["toolUse"]) == {"toolUseId", "name"}
    frags = [p["delta"]["toolUse"]["input"] for et, p in evts if et == "contentBlockDelta"]
    assert len(frags) > 2 and json.loads("".join(frags))["location"] == "Paris"
    assert evts[-2] == ("messageStop", {"stopReason": "tool_use"})


def test_stream_reasoning_no_block_start(emu):
    _, evts = stream(emu, user("q [[scenario:reasoning]]"))
    assert "contentBlockStart" not in [et for et, _ in evts]
    rdeltas = [p["delta"]["reasoningContent"] for et, p in evts
               if et == "contentBlockDelta" and "reasoningContent" in p["delta"]]
    assert "signature" in rdeltas[-1] and all("text" in d for d in rdeltas[:-1])


@pytest.mark.parametrize("scenario,etype", [("stream_error", "modelStreamErrorException"),
                                            ("throttle_stream", "throttlingException")])
def test_stream_exception_frames(emu, scenario, etype):
    r, evts = stream(emu, user(f"a b c d e f g h i j k [[scenario:{scenario}]]"))
    assert r.complete
    names = [et for et, _ in evts]
    assert names[0] == "messageStart" and names.count("contentBlockDelta") == 3
    assert names[-1] == "!" + etype and "messageStop" not in names and evts[-1][1]["message"]


def test_stream_truncate(emu):
    r = raw_stream(emu, HAIKU_PATH + "/converse-stream", user("a b c d e f g h [[scenario:truncate]]"))
    assert r.status == 200 and not r.complete
    buf = EventStreamBuffer()
    buf.add_data(b"".join(r.chunks))
    assert [m.headers[":event-type"] for m in buf][-1] == "contentBlockDelta"
    assert buf._data  # a partial frame is left over


def test_stream_corrupt_crc_detected(emu):
    r = raw_stream(emu, HAIKU_PATH + "/converse-stream", user("x y z [[scenario:corrupt_crc]]"))
    assert r.complete
    with pytest.raises(ChecksumMismatch):
        frames(r.chunks)


def test_stream_slow(emu):
    r, evts = stream(emu, user("a b c d e f [[scenario:slow:400]]"))
    assert collect_stream(evts)[0] == [{"text": "Echo: a b c d e f"}]
    # the first delta was delivered before the pause
    buf, when = EventStreamBuffer(), None
    for c, t in zip(r.chunks, r.times):
        buf.add_data(c)
        if any(m.headers[":event-type"] == "contentBlockDelta" for m in buf):
            when = t
            break
    # the client stamps a read a little after the bytes arrive: the gap can be a hair under 0.4 s
    assert when is not None and r.times[-1] - when >= 0.3


def test_stream_slow_first_byte(emu):
    r, _ = stream(emu, user("x [[scenario:slow_first_byte:300]]"))
    assert r.t_headers >= 0.3


# ---- embeddings -------------------------------------------------------------------

def invoke(emu, model, body):
    status, rh, data = bearer(emu, "/model/" + model.replace(":", "%3A") + "/invoke", body)
    return status, rh, json.loads(data)


def test_titan_embeddings(emu):
    _, _, v1 = invoke(emu, "amazon.titan-embed-text-v1", {"inputText": "hello world"})
    assert len(v1["embedding"]) == 1536 and v1["inputTextTokenCount"] == 2
    _, _, v2 = invoke(emu, "amazon.titan-embed-text-v2:0", {"inputText": "hello world", "dimensions": 256})
    assert len(v2["embedding"]) == 256 and v2["embeddingsByType"]["float"] == v2["embedding"]
    assert abs(sum(x * x for x in v2["embedding"]) - 1) < 1e-3
    _, _, again = invoke(emu, "amazon.titan-embed-text-v2:0", {"inputText": "hello world", "dimensions": 256})
    assert again == v2
    _, _, d = invoke(emu, "amazon.titan-embed-text-v2:0", {"inputText": "x"})
    assert len(d["embedding"]) == 1024
    # via a real botocore client too
    r = client(emu).invoke_model(modelId="amazon.titan-embed-text-v2:0",
                                 body=json.dumps({"inputText": "hello world", "dimensions": 256}))
    assert json.loads(r["body"].read()) == v2 and r["contentType"] == "application/json"


def test_cohere_embeddings(emu):
    _, _, r = invoke(emu, "cohere.embed-english-v3", {"texts": ["a", "b"], "input_type": "search_document"})
    assert r["response_type"] == "embeddings_floats" and r["texts"] == ["a", "b"] and r["id"]
    assert len(r["embeddings"]) == 2 and len(r["embeddings"][0]) == 1024
    _, _, r = invoke(emu, "cohere.embed-v4:0", {"texts": ["a"], "input_type": "search_query",
                                                "embedding_types": ["float"], "output_dimension": 256})
    assert r["response_type"] == "embeddings_by_type" and len(r["embeddings"]["float"][0]) == 256
    _, _, r = invoke(emu, "cohere.embed-v4:0", {"texts": ["a"], "input_type": "search_query"})
    assert len(r["embeddings"]["float"][0]) == 1536


def test_nova_embeddings(emu):
    _, _, r = invoke(emu, "amazon.nova-2-multimodal-embeddings-v1:0", {
        "taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {
            "embeddingPurpose": "GENERIC_INDEX", "embeddingDimension": 384,
            "text": {"truncationMode": "END", "value": "hello"}}})
    [e] = r["embeddings"]
    assert e["embeddingType"] == "TEXT" and len(e["embedding"]) == 384


@pytest.mark.parametrize("model,body", [
    ("amazon.titan-embed-text-v1", {"inputText": "x", "dimensions": 256}),
    ("amazon.titan-embed-text-v1", {}),
    ("amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 300}),
    ("amazon.titan-embed-text-v2:0", {"inputText": "x", "normalize": "yes"}),
    ("cohere.embed-english-v3", {"texts": ["a"]}),
    ("cohere.embed-english-v3", {"texts": ["a"] * 97, "input_type": "search_query"}),
    ("cohere.embed-english-v3", {"texts": ["a"], "input_type": "search_query", "model": "x"}),
    ("cohere.embed-multilingual-v3", {"texts": [], "input_type": "search_query"}),
    ("cohere.embed-v4:0", {"texts": ["a"], "input_type": "search_query", "output_dimension": 100}),
    ("amazon.nova-2-multimodal-embeddings-v1:0", {"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {
        "embeddingDimension": 384, "text": {"truncationMode": "END", "value": "x"}}}),
    ("amazon.nova-2-multimodal-embeddings-v1:0", {"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {
        "embeddingPurpose": "GENERIC_INDEX", "embeddingDimension": 512, "text": {"truncationMode": "END", "value": "x"}}}),
    ("anthropic.claude-3-haiku-20240307-v1:0", {"inputText": "x"}),
])
def test_embedding_validation(emu, model, body):
    status, rh, data = invoke(emu, model, body)
    assert status == 400 and rh["x-amzn-errortype"] == "ValidationException" + CORAL and data["message"]


# ---- control plane -------------------------------------------------------------------

def test_list_foundation_models(emu):
    bedrock = client(emu, "bedrock")
    allm = bedrock.list_foundation_models()["modelSummaries"]
    ids = {m["modelId"] for m in allm}
    assert {HAIKU, "amazon.nova-lite-v1:0", "meta.llama3-1-8b-instruct-v1:0", "openai.gpt-oss-120b-1:0"} <= ids
    m = next(m for m in allm if m["modelId"] == HAIKU)
    assert m["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
    assert set(m) == {"modelArn", "modelId", "modelName", "providerName", "inputModalities", "outputModalities",
                      "responseStreamingSupported", "customizationsSupported", "inferenceTypesSupported",
                      "modelLifecycle"}
    emb = bedrock.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]
    assert emb and all("EMBEDDING" in x["outputModalities"] for x in emb)
    od = bedrock.list_foundation_models(byInferenceType="ON_DEMAND")["modelSummaries"]
    assert "anthropic.claude-sonnet-4-20250514-v1:0" not in {x["modelId"] for x in od}
    assert {x["providerName"] for x in bedrock.list_foundation_models(byProvider="Anthropic")["modelSummaries"]} == \
        {"Anthropic"}
    assert bedrock.get_foundation_model(modelIdentifier=HAIKU)["modelDetails"]["modelId"] == HAIKU


def test_list_inference_profiles_paginated(emu):
    bedrock = client(emu, "bedrock")
    full = bedrock.list_inference_profiles()["inferenceProfileSummaries"]
    paged = []
    for page in bedrock.get_paginator("list_inference_profiles").paginate(PaginationConfig={"PageSize": 4}):
        assert len(page["inferenceProfileSummaries"]) <= 4
        paged += page["inferenceProfileSummaries"]
    assert paged == full and len(full) > 8
    apps = bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]
    assert {p["inferenceProfileId"] for p in apps} == {"abc123profile", "def456profile", "ghi789profile"}
    assert all(p["inferenceProfileArn"].endswith("application-inference-profile/" + p["inferenceProfileId"])
               for p in apps)
    sysp = bedrock.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    us_haiku = next(p for p in sysp if p["inferenceProfileId"] == "us." + HAIKU)
    assert us_haiku["status"] == "ACTIVE" and us_haiku["type"] == "SYSTEM_DEFINED" and us_haiku["models"]
    assert us_haiku["models"][0]["modelArn"].endswith("foundation-model/" + HAIKU)
    first = bedrock.list_inference_profiles(maxResults=1)
    assert len(first["inferenceProfileSummaries"]) == 1 and first["nextToken"]


def test_control_plane_needs_sigv4(emu):
    assert send(emu, "GET", "/foundation-models", {"Host": emu.host})[0] == 403
    status, rh, _ = send(emu, "GET", "/foundation-models",
                         sign(emu, "GET", "/foundation-models", service="bedrock-runtime"))
    assert status == 403 and rh["x-amzn-errortype"].startswith("InvalidSignatureException")
    with pytest.raises(ClientError) as exc:
        client(emu, "bedrock", secret="wrong").list_foundation_models()
    assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_validation_of_list_params(emu):
    for path in ("/foundation-models?byOutputModality=AUDIO", "/inference-profiles?maxResults=0",
                 "/inference-profiles?nextToken=garbage", "/inference-profiles?type=CUSTOM"):
        status, rh, _ = send(emu, "GET", path, sign(emu, "GET", path))
        assert status == 400 and rh["x-amzn-errortype"].startswith("ValidationException"), path


def test_deep_copy_safety():
    # the shared tables must not be mutated by a request
    import catalog
    before = copy.deepcopy(catalog.inference_profiles("us-east-1"))
    catalog.inference_profiles("us-east-1")[0]["models"].clear()
    assert catalog.inference_profiles("us-east-1") == before
