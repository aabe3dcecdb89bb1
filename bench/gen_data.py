#!/usr/bin/env python3
"""Writes the benchmark's fixed bodies into a directory (default target/bench/data).

The fake Bedrock serves these files as they are, so every run sends identical bytes:
  converse-response.json   a Converse answer (non-streaming)
  stream-1.bin             a ConverseStream body with one text delta (time to first token)
  stream-100.bin           a ConverseStream body with 100 text deltas (genuine event-stream frames)
  stream-10000.bin         the same with 10,000 deltas
  chat.json                an OpenAI chat request (system prompt, a short history, one tool)
  chat-stream-first.json   the same, streamed, for the one-delta answer
  chat-stream.json         streamed, for the 100-delta answer
  chat-stream-long.json    streamed, for the 10,000-delta answer (another model id routes to it)
  chat-stream-slow.json    streamed, for the rate-limited answer used to hold 1,000 streams open

The upstream picks its answer by model id, since that is all a Converse path carries.
"""

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "emulator"))
from eventstream_encode import event_frame  # noqa: E402

# Model ids the upstream routes on (all real Claude ids, so the filter treats them as usual).
MODEL_SHORT = "anthropic.claude-3-haiku-20240307-v1:0"
MODEL_LONG = "anthropic.claude-3-5-haiku-20241022-v1:0"
MODEL_SLOW = "anthropic.claude-3-sonnet-20240229-v1:0"
MODEL_FIRST = "anthropic.claude-3-opus-20240229-v1:0"

WORDS = ("the gateway translates each delta as it arrives and never buffers the whole "
         "answer so memory stays flat while tokens stream to the client").split()


def converse_response():
    text = " ".join(WORDS * 3)
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 412, "outputTokens": 75, "totalTokens": 487},
        "metrics": {"latencyMs": 312},
    }


def converse_stream(deltas, rng):
    frames = [event_frame("messageStart", {"role": "assistant"}, rng)]
    for i in range(deltas):
        word = WORDS[i % len(WORDS)]
        frames.append(event_frame("contentBlockDelta",
                                  {"contentBlockIndex": 0, "delta": {"text": f" {word}"}}, rng))
    frames.append(event_frame("contentBlockStop", {"contentBlockIndex": 0}, rng))
    frames.append(event_frame("messageStop", {"stopReason": "end_turn"}, rng))
    frames.append(event_frame("metadata", {
        "usage": {"inputTokens": 412, "outputTokens": deltas, "totalTokens": 412 + deltas},
        "metrics": {"latencyMs": 900},
    }, rng))
    return b"".join(frames)


def chat_request(model, stream):
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a concise assistant for a logistics company. "
                                          "Answer in plain English and call tools when you need data."},
            {"role": "user", "content": "Where is parcel 7741-A right now?"},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "track_parcel", "arguments": "{\"parcel_id\":\"7741-A\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1",
             "content": "{\"status\":\"in transit\",\"hub\":\"Rotterdam\",\"eta\":\"2024-06-03\"}"},
            {"role": "user", "content": "Thanks. Summarise that for the customer in two sentences."},
        ],
        "tools": [{"type": "function", "function": {
            "name": "track_parcel", "description": "Current status and location of a parcel.",
            "parameters": {"type": "object", "properties": {"parcel_id": {"type": "string"}},
                           "required": ["parcel_id"]}}}],
        "max_tokens": 512,
        "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target" / "bench" / "data")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    (out / "converse-response.json").write_text(json.dumps(converse_response(), separators=(",", ":")))
    for n in (1, 100, 10_000):
        (out / f"stream-{n}.bin").write_bytes(converse_stream(n, rng))
    requests = {
        "chat.json": chat_request(MODEL_SHORT, False),
        "chat-stream-first.json": chat_request(MODEL_FIRST, True),
        "chat-stream.json": chat_request(MODEL_SHORT, True),
        "chat-stream-long.json": chat_request(MODEL_LONG, True),
        "chat-stream-slow.json": chat_request(MODEL_SLOW, True),
    }
    for name, body in requests.items():
        (out / name).write_text(json.dumps(body, separators=(",", ":")))
    print(out)


if __name__ == "__main__":
    main()
