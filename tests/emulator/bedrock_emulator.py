#!/usr/bin/env python3
"""Amazon Bedrock emulator for end-to-end tests (runtime + a slice of the control plane).

    python tests/emulator/bedrock_emulator.py --port 0 --port-file /tmp/x.port

Binds 127.0.0.1 only. Authenticates like AWS (SigV4 checked with botocore, or a
Bedrock API key as Bearer), validates Converse bodies like Bedrock, answers
deterministically per scenario marker, and streams genuine event-stream frames
cut into random pieces over HTTP/1.1 chunked encoding.

Env: EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY, EMULATOR_SESSION_TOKEN,
EMULATOR_REGION, EMULATOR_API_KEYS (comma-separated Bearer keys), EMULATOR_SEED
(piece splitting), EMULATOR_STRICT_ON_DEMAND=0 (accept base ids of profile-only models,
which AWS refuses; default strict), EMULATOR_QUIET=1 (no per-request log lines).

Scenarios (marker `[[scenario:NAME[:ARG]]]` in user text, see scenarios.py):
echo, tool, parallel_tools, text_then_tool, reasoning, long:N, slow:MS,
slow_first_byte:MS, stream_error, throttle_stream, throttle, error_500,
unavailable, truncate, corrupt_crc, max_tokens, guardrail, usage_cache,
shell:CMD (calls an agent's shell tool: exec_command or shell), redacted_reasoning.

Claude models also take InvokeModel / InvokeModelWithResponseStream / CountTokens with
Anthropic semantics (anthropic_invoke.py).

Test hooks (no auth): GET /_emulator/health, GET /_emulator/requests,
POST /_emulator/reset, GET|POST|DELETE /_emulator/script (scripted turns, script.py),
GET/POST /_emulator/failures (scripted failures, scripted_failures.py),
GET/POST /_emulator/guardrails (known guardrails, guardrails.py; env EMULATOR_GUARDRAILS).
"""

import argparse
import hashlib
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import anthropic_invoke  # noqa: E402
import catalog  # noqa: E402
import control_plane  # noqa: E402
from aws_errors import AwsError, validation  # noqa: E402
from converse_validation import validate_converse  # noqa: E402
from embeddings import invoke_embedding  # noqa: E402
from eventstream_encode import event_frame, exception_frame  # noqa: E402
from guardrails import GuardrailStore  # noqa: E402
from scenarios import Answer, CacheStore, build_answer, converse_body, stream_events  # noqa: E402
from script import ScriptStore, parse_script  # noqa: E402
from scripted_failures import FailureScript, fail  # noqa: E402
from sigv4_check import AuthConfig, authenticate  # noqa: E402

MAX_RECORDS = 5000
RUNTIME_OPS = ("converse", "converse-stream", "invoke", "invoke-with-response-stream", "count-tokens")


class State:
    """Everything shared between handler threads."""

    def __init__(self, auth: AuthConfig, seed: int, strict_on_demand: bool, quiet: bool):
        self.auth = auth
        self.seed = seed
        self.strict_on_demand = strict_on_demand
        self.quiet = quiet
        self.cache = CacheStore()
        self.script = ScriptStore()
        self.failures = FailureScript()
        self.guardrails = GuardrailStore.from_env()
        self._records = []
        self._lock = threading.Lock()

    def add_record(self, rec):
        with self._lock:
            self._records.append(rec)
            del self._records[:-MAX_RECORDS]

    def records_json(self) -> bytes:
        with self._lock:
            return json.dumps(self._records, ensure_ascii=False).encode("utf-8")

    def reset(self):
        with self._lock:
            self._records.clear()
        self.cache.clear()
        self.script.clear()
        self.failures.clear()
        self.guardrails.reset()


class PieceWriter:
    """Writes a byte stream as HTTP chunks of random size, one flush per chunk.

    Pieces are 1..200 bytes (so frames get split inside the prelude, headers or
    payload) and now and then a few hundred bytes (several frames at once).
    """

    def __init__(self, wfile, rng: random.Random):
        self.wfile = wfile
        self.rng = rng
        self.buf = bytearray()
        self.next_size = self._pick()

    def _pick(self):
        if self.rng.random() < 0.15:
            return self.rng.randint(200, 1200)
        return self.rng.randint(1, 200)

    def _send(self, data: bytes):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        if self.rng.random() < 0.05:
            time.sleep(0.001)  # lets TCP deliver pieces as separate segments

    def write(self, data: bytes):
        self.buf += data
        while len(self.buf) >= self.next_size:
            piece = bytes(self.buf[: self.next_size])
            del self.buf[: self.next_size]
            self._send(piece)
            self.next_size = self._pick()

    def flush(self):
        while self.buf:
            n = min(len(self.buf), self.next_size)
            piece = bytes(self.buf[:n])
            del self.buf[:n]
            self._send(piece)
            self.next_size = self._pick()

    def finish(self):
        self.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bedrock-emulator"
    sys_version = ""
    state: State = None  # set in main()

    # ---- plumbing -------------------------------------------------------

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        if not self.state.quiet:
            sys.stderr.write("bedrock-emulator: " + (fmt % args) + "\n")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send_bytes(self, status, data: bytes, ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status, obj, request_id=None):
        hdrs = [("x-amzn-RequestId", request_id)] if request_id else []
        self._send_bytes(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), headers=hdrs)

    def _send_aws_error(self, err: AwsError, request_id):
        self._send_bytes(err.status, json.dumps({"message": err.message}).encode("utf-8"),
                         headers=[("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", err.header_value())])

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    # ---- request handling ----------------------------------------------

    def _dispatch(self):
        started = time.monotonic()
        body = self._read_body()
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, query = target.partition("?")
        if path.startswith("/_emulator/"):
            self._admin_body = body
            return self._admin(path)

        request_id = str(uuid.uuid4())
        headers = list(self.headers.items())
        rec = {
            "method": self.command,
            "path": target,
            "headers": _header_dict(headers),
            "body": _body_for_record(body),
            "auth": "none",
            "auth_ok": False,
            "error": None,
            "status": None,
            "operation": None,
            "model_id": None,
            "scenario": None,
            "request_id": request_id,
            "time": time.time(),
            # None: not a stream; False: streaming; True: the stream was fully written.
            "stream_complete": None,
        }
        self.state.add_record(rec)
        try:
            auth = authenticate(self.state.auth, self.command, target, headers, body)
            rec["auth"], rec["auth_ok"] = auth.kind, auth.ok
            if auth.error:
                raise auth.error
            self._route(path, query, body, request_id, rec, started)
        except AwsError as err:
            rec["status"] = err.status
            rec["error"] = f"{err.error_type}: {err.message}" + (f"\n\n{err.detail}" if err.detail else "")
            self._send_aws_error(err, request_id)
        except (BrokenPipeError, ConnectionResetError):
            rec["error"] = "client disconnected"
            self.close_connection = True
        except Exception as exc:  # an emulator bug must still look like an AWS 500
            rec["status"] = 500
            rec["error"] = "emulator bug: " + traceback.format_exc()
            sys.stderr.write(rec["error"])
            try:
                self._send_aws_error(AwsError(500, "InternalServerException", f"emulator bug: {exc!r}"), request_id)
            except OSError:
                self.close_connection = True

    def _admin(self, path):
        if path == "/_emulator/health":
            return self._send_json(200, {"ok": True, "seed": self.state.seed})
        if path == "/_emulator/requests" and self.command == "GET":
            return self._send_bytes(200, self.state.records_json())
        if path == "/_emulator/reset" and self.command == "POST":
            self.state.reset()
            return self._send_json(200, {"ok": True})
        if path == "/_emulator/script":
            return self._script_admin()
        if path == "/_emulator/failures":
            if self.command == "POST":
                return self._send_json(*self.state.failures.arm(self._admin_body))
            return self._send_json(200, self.state.failures.pending())
        if path == "/_emulator/guardrails":
            if self.command == "POST":
                return self._send_json(*self.state.guardrails.add(self._admin_body))
            return self._send_json(200, self.state.guardrails.listing())
        return self._send_json(404, {"message": "unknown emulator endpoint"})

    def _script_admin(self):
        if self.command == "POST":
            try:
                self.state.script.set(parse_script(json.loads(self._admin_body or b"null")))
            except ValueError as exc:  # also malformed JSON
                return self._send_json(400, {"message": str(exc)})
        elif self.command == "DELETE":
            self.state.script.clear()
        return self._send_json(200, self.state.script.snapshot())

    def _route(self, path, query, body, request_id, rec, started):
        region = self.state.auth.region
        q = parse_qs(query, keep_blank_values=True)
        if path.startswith("/model/"):
            model_part, _, op = path[len("/model/"):].rpartition("/")
            if model_part and op in RUNTIME_OPS and self.command == "POST":
                rec["operation"] = op
                rec["model_id"] = unquote(model_part)
                return self._runtime(op, rec["model_id"], body, request_id, rec, started)
        elif self.command == "GET":
            if path == "/foundation-models":
                rec["operation"] = "ListFoundationModels"
                return self._ok(rec, control_plane.list_foundation_models(q, region), request_id)
            if path == "/inference-profiles":
                rec["operation"] = "ListInferenceProfiles"
                return self._ok(rec, control_plane.list_inference_profiles(q, region), request_id)
            if path.startswith("/foundation-models/"):
                rec["operation"] = "GetFoundationModel"
                ident = unquote(path[len("/foundation-models/"):])
                return self._ok(rec, control_plane.get_foundation_model(ident, region), request_id)
            if path.startswith("/inference-profiles/"):
                rec["operation"] = "GetInferenceProfile"
                ident = unquote(path[len("/inference-profiles/"):])
                return self._ok(rec, control_plane.get_inference_profile(ident, region), request_id)
        raise AwsError(404, "UnknownOperationException", f"Unknown operation {self.command} {path}")

    def _ok(self, rec, obj, request_id):
        rec["status"] = 200
        self._send_json(200, obj, request_id)

    def _runtime(self, op, model_id, body, request_id, rec, started):
        scripted = self.state.failures.take(model_id)
        if scripted:
            return fail(self, scripted, rec, request_id, streaming=op.endswith("stream"))
        target = catalog.resolve(model_id, self.state.auth.region)
        model = target.model
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            raise validation("Malformed input request, please reformat your input and try again.")

        if op == "count-tokens":
            return self._ok(rec, anthropic_invoke.count_tokens(
                target, parsed, self.headers.get("anthropic-beta"), model.max_output), request_id)
        if op.startswith("invoke") and model.kind == "converse" and model.provider == "Anthropic":
            return anthropic_invoke.serve(self, PieceWriter, op, target, model_id, parsed, body, request_id, rec,
                                          started)
        if op.startswith("invoke"):
            if model.kind != "embedding":
                raise validation("The emulator serves InvokeModel only for embedding models.")
            if op == "invoke-with-response-stream":
                raise validation("The model is unsupported for streaming.")
            return self._ok(rec, invoke_embedding(model.model_id, parsed), request_id)

        if model.kind != "converse":
            raise validation("This action doesn't support the model that you provided. "
                             "Try again with a supported text or chat model.")
        if self.state.strict_on_demand and target.via == "foundation" and "ON_DEMAND" not in model.inference_types:
            raise validation(f"Invocation of model ID {model.model_id} with on-demand throughput isn\u2019t supported. "
                             "Retry your request with the ID or ARN of an inference profile that contains this model.")
        streaming = op == "converse-stream"
        validate_converse(parsed, model, streaming)
        guardrail = self.state.guardrails.resolve(parsed, self.state.auth.region, streaming)
        if guardrail and guardrail.blocks_input(parsed):
            ans = Answer(blocks=[], stop_reason="guardrail_intervened", usage={}, scenario="guardrail_input")
        else:
            ans = build_answer(parsed, model, model_id, self.state.cache, streaming, self.state.script)
        if guardrail:
            guardrail.apply(ans)
        rec["scenario"] = ans.scenario
        if ans.first_byte_delay:
            time.sleep(ans.first_byte_delay)
        if ans.http_error:
            raise ans.http_error
        rng = random.Random(f"{self.state.seed}:{hashlib.sha256(rec['path'].encode() + body).hexdigest()}")
        if streaming:
            rec["status"] = 200
            return self._stream(ans, rng, request_id, started, rec)
        if ans.converse_delay:
            time.sleep(ans.converse_delay)
        latency = max(1, int((time.monotonic() - started) * 1000))
        data = json.dumps(converse_body(ans, latency), ensure_ascii=False).encode("utf-8")
        rec["status"] = 200
        if ans.truncate:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", request_id)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            return self._abort(rec)
        self._send_bytes(200, data, headers=[("x-amzn-RequestId", request_id)])

    def _abort(self, rec):
        rec["error"] = "emulator closed the connection mid-response (truncate scenario)"
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _stream(self, ans, rng, request_id, started, rec):
        rec["stream_complete"] = False
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", request_id)
        self.end_headers()
        self.wfile.flush()
        out = PieceWriter(self.wfile, rng)
        events = stream_events(ans, rng)
        delta_idx = [i for i, (etype, _) in enumerate(events) if etype == "contentBlockDelta"]
        # Failures land after the 3rd delta (or the last one for short answers).
        fail_at = delta_idx[min(3, len(delta_idx)) - 1] + 1 if delta_idx else 1
        corrupt_at = delta_idx[0] if delta_idx else len(events) - 1
        for idx, (etype, payload) in enumerate(events):
            if idx == fail_at and ans.stream_exception:
                out.write(exception_frame(*ans.stream_exception))
                rec["error"] = f"injected {ans.stream_exception[0]} frame"
                return out.finish()
            frame = event_frame(etype, payload, rng, corrupt_crc=ans.corrupt_crc and idx == corrupt_at)
            if idx == fail_at and ans.truncate:
                out.write(frame[: len(frame) // 2])
                out.flush()
                return self._abort(rec)
            out.write(frame)
            if ans.pause_after_first_delta and delta_idx and idx == delta_idx[0]:
                out.flush()
                time.sleep(ans.pause_after_first_delta)
        latency = max(1, int((time.monotonic() - started) * 1000))
        metadata = {"usage": ans.usage, "metrics": {"latencyMs": latency}}
        if ans.trace:
            metadata["trace"] = ans.trace
        out.write(event_frame("metadata", metadata, rng))
        out.flush()
        # Lets tests prove a client saw early chunks before the upstream stream ended; set
        # before the last chunk so a client that read the whole stream never sees False.
        rec["stream_complete"] = True
        out.finish()


def _header_dict(headers):
    out = {}
    for k, v in headers:
        k = k.lower()
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def _body_for_record(body: bytes):
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text) if text else ""
    except ValueError:
        return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    args = ap.parse_args(argv)

    env = os.environ
    seed = int(env["EMULATOR_SEED"]) if env.get("EMULATOR_SEED") else random.SystemRandom().randrange(2**31)
    auth = AuthConfig(
        access_key=env.get("EMULATOR_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        secret_key=env.get("EMULATOR_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        session_token=env.get("EMULATOR_SESSION_TOKEN") or None,
        region=env.get("EMULATOR_REGION", "us-east-1"),
        api_keys=frozenset(k.strip() for k in env.get("EMULATOR_API_KEYS", "").split(",") if k.strip()),
    )
    Handler.state = State(auth, seed, env.get("EMULATOR_STRICT_ON_DEMAND", "1") != "0", env.get("EMULATOR_QUIET") == "1")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    port = server.server_address[1]

    def stop(signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, args.port_file)  # readers never see a partial file
    print(f"bedrock-emulator listening on 127.0.0.1:{port}", flush=True)
    print(f"bedrock-emulator seed={seed} (replay with EMULATOR_SEED={seed})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
