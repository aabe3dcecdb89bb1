"""Scripted failures: "the next N calls to model M fail like this", for retry tests.

A scenario marker fails every call that carries it, so it cannot show a retry that succeeds.
Tests arm failures instead (no auth, like the other test hooks):

    POST /_emulator/failures  {"model": M, "count": N, "kind": K, "retry_after": S}

`model` is the model id as the runtime URL names it (unescaped), or "*" for any model;
`retry_after` (seconds, optional) adds a `Retry-After` header to HTTP failures. Failures for one
model are used in the order they were armed. GET /_emulator/failures lists what is left;
POST /_emulator/reset clears them.

Kinds, each as Bedrock (or the network) does it:
  throttle            429, x-amzn-ErrorType ThrottlingException
  throttle_400        400 with ThrottlingException (Bedrock sometimes answers throttling as 400)
  model_not_ready     429, ModelNotReadyException
  unavailable         503, ServiceUnavailableException
  internal            500, InternalServerException
  reset               the connection is reset before any byte of the answer
  reset_after_headers 200 and the start of the answer (streams: whole ConverseStream frames with text),
                      then the connection is reset
"""

import json
import random
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass

from aws_errors import AwsError
from eventstream_encode import event_frame

HTTP_FAILURES = {
    "throttle": AwsError(429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "throttle_400": AwsError(400, "ThrottlingException", "Too many requests, please wait before trying again."),
    "model_not_ready": AwsError(429, "ModelNotReadyException",
                                "The model is not ready to serve inference requests. Try again later."),
    "unavailable": AwsError(503, "ServiceUnavailableException", "Bedrock is unable to process your request."),
    "internal": AwsError(500, "InternalServerException",
                         "The server encountered an internal error while processing the request."),
}
KINDS = tuple(HTTP_FAILURES) + ("reset", "reset_after_headers")
PARTIAL_TEXT = "Partial answer before the reset"


@dataclass
class Failure:
    kind: str
    retry_after: int | None = None


class FailureScript:
    """Armed failures per model; shared by the handler threads."""

    def __init__(self):
        self._armed = {}
        self._lock = threading.Lock()

    def arm(self, body: bytes):
        """Arms failures from a request body; returns (status, answer) for the hook."""
        try:
            spec = json.loads(body or b"{}")
            model, count, kind = spec["model"], int(spec.get("count", 1)), spec["kind"]
            retry_after = spec.get("retry_after")
            if kind not in KINDS or not isinstance(model, str) or not model or count < 1:
                raise ValueError
            if retry_after is not None and (kind not in HTTP_FAILURES or int(retry_after) < 0):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return 400, {"message": f"expected {{model, count >= 1, kind in {list(KINDS)}, retry_after?}}"}
        with self._lock:
            queue = self._armed.setdefault(model, deque())
            queue.extend(Failure(kind, None if retry_after is None else int(retry_after)) for _ in range(count))
        return 200, self.pending()

    def take(self, model_id: str):
        """The next failure armed for this model (or for any model), used up; None if none."""
        with self._lock:
            for key in (model_id, "*"):
                queue = self._armed.get(key)
                if queue:
                    return queue.popleft()
        return None

    def pending(self):
        with self._lock:
            return {model: [f.kind for f in queue] for model, queue in self._armed.items() if queue}

    def clear(self):
        with self._lock:
            self._armed.clear()


def fail(handler, failure: Failure, rec, request_id, streaming: bool):
    """Answers the current request with `failure` (handler: the emulator's request handler)."""
    rec["scripted_failure"] = failure.kind
    if failure.kind in HTTP_FAILURES:
        err = HTTP_FAILURES[failure.kind]
        headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", err.header_value())]
        if failure.retry_after is not None:
            headers.append(("Retry-After", str(failure.retry_after)))
        rec["status"] = err.status
        rec["error"] = f"scripted {err.error_type}"
        handler._send_bytes(err.status, json.dumps({"message": err.message}).encode(), headers=headers)
        return
    if failure.kind == "reset_after_headers":
        rec["status"] = 200
        handler.send_response(200)
        if streaming:
            handler.send_header("Content-Type", "application/vnd.amazon.eventstream")
            handler.send_header("Transfer-Encoding", "chunked")
            rng = random.Random(0)
            # Whole frames, so the client has seen text before the reset.
            sent = (event_frame("messageStart", {"role": "assistant"}, rng)
                    + event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": PARTIAL_TEXT}}, rng))
            handler.send_header("x-amzn-RequestId", request_id)
            handler.end_headers()
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(sent), sent))
        else:
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", "400")
            handler.send_header("x-amzn-RequestId", request_id)
            handler.end_headers()
            handler.wfile.write(b'{"output": {"message": {"role": "assistant", "content": [')
        handler.wfile.flush()
    rec["error"] = f"scripted {failure.kind}: connection reset"
    reset(handler)


def reset(handler):
    """Closes the connection with a TCP RST (linger 0), as a dropped load balancer connection does."""
    handler.close_connection = True
    try:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.shutdown(socket.SHUT_RD)
        handler.connection.close()
    except OSError:
        pass

