#!/usr/bin/env python3
"""Soak: many requests through real Envoy + the filter, on loopback only, bounded in time.

    .venv/bin/python tests/soak/soak.py [--requests 200000] [--streams 10000] [--concurrency 64]

Bedrock is a minimal canned upstream in this process (the SigV4-checking emulator would be
the bottleneck; the filter still signs every request). Streams are spread evenly among the
plain requests. Checks: zero errors (every answer 200 with the expected content, every stream
ends with [DONE]) and the filter's memory flat: the VM's linear memory (the filter's gauge
wasmcustom.bedrock_access_filter.vm_memory_bytes) after a warm-up equals the value at the end.
Envoy's own heap (admin /memory) is printed too. Exits non-zero on any failure."""

import argparse
import asyncio
import json
import random
import re
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "emulator"))
from conftest import CLIENT_KEY, HAIKU, Gateway, gateway_env  # noqa: E402
from eventstream_encode import event_frame  # noqa: E402

CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)")
MEMORY_GAUGE = "wasmcustom.bedrock_access_filter.vm_memory_bytes"


def canned():
    answer = json.dumps({
        "output": {"message": {"role": "assistant", "content": [{"text": "soak answer"}]}},
        "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7},
        "metrics": {"latencyMs": 1}}).encode()
    rng = random.Random(0)
    frames = b"".join([event_frame("messageStart", {"role": "assistant"}, rng)] + [
        event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": w + " "}}, rng)
        for w in "one two three four five six seven eight".split()] + [
        event_frame("contentBlockStop", {"contentBlockIndex": 0}, rng),
        event_frame("messageStop", {"stopReason": "end_turn"}, rng),
        event_frame("metadata", {"usage": {"inputTokens": 5, "outputTokens": 8, "totalTokens": 13},
                                 "metrics": {"latencyMs": 1}}, rng)])
    plain = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
             % (len(answer), answer))
    half = len(frames) // 2  # two body chunks: frames split mid-way, as the network does
    stream = (b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n"
              b"transfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n"
              % (half, frames[:half], len(frames) - half, frames[half:]))
    return plain, stream


class Upstream(asyncio.Protocol):
    """Keep-alive HTTP/1.1 with canned answers; requests have content-length bodies."""
    plain, stream = canned()

    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            match = CONTENT_LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            if len(self.buf) < end + 4 + length:
                return
            first_line = head[:head.find(b"\r\n")]
            self.buf = self.buf[end + 4 + length:]
            self.transport.write(self.stream if b"converse-stream" in first_line else self.plain)


def run_upstream():
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Upstream, "127.0.0.1", 0, backlog=1024))
    port = server.sockets[0].getsockname()[1]
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


def admin_get(gateway, path):
    with urllib.request.urlopen(f"http://{gateway.admin}{path}", timeout=10) as r:
        return r.read().decode()


def stat(gateway, name):
    for line in admin_get(gateway, f"/stats?filter=^{name}$").splitlines():
        key, _, value = line.partition(": ")
        if key == name:
            return int(value)
    return None


def envoy_heap(gateway):
    return int(json.loads(admin_get(gateway, "/memory"))["allocated"])


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, body
            body += (await reader.readexactly(size + 2))[:-2]
    match = CONTENT_LENGTH.search(lower)
    return status, await reader.readexactly(int(match.group(1)) if match else 0)


class Load:
    def __init__(self, port, total, streams):
        self.port = port
        self.total = total
        self.stream_every = max(1, total // streams) if streams else 0
        self.next = 0
        self.done = 0
        self.errors = []
        self.latencies = []

    def take(self):
        if self.next >= self.total:
            return None
        self.next += 1
        return self.next

    def request(self, stream, n):
        body = json.dumps({"model": HAIKU, "stream": stream, "max_tokens": 50,
                           "messages": [{"role": "user", "content": f"soak request {n}"}]}).encode()
        return (b"POST /v1/chat/completions HTTP/1.1\r\nhost: soak\r\nauthorization: Bearer %s\r\n"
                b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                % (CLIENT_KEY.encode(), len(body), body))

    async def worker(self, deadline):
        reader = writer = None
        while (n := self.take()) is not None and time.monotonic() < deadline:
            stream = bool(self.stream_every) and n % self.stream_every == 0
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                started = time.monotonic()
                writer.write(self.request(stream, n))
                status, body = await read_response(reader)
                self.latencies.append(time.monotonic() - started)
                ok = status == 200 and (
                    body.endswith(b"data: [DONE]\n\n") and b"eight" in body if stream
                    else b'"soak answer"' in body)
                if not ok:
                    self.errors.append(f"{'stream' if stream else 'plain'} {status}: {body[:200]!r}")
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.errors.append(f"{'stream' if stream else 'plain'}: {exc!r}")
                writer = None
            self.done += 1

    async def run(self, concurrency, seconds):
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(self.worker(deadline) for _ in range(concurrency)))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200_000, help="plain requests")
    parser.add_argument("--streams", type=int, default=10_000, help="streamed requests among them")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-seconds", type=float, default=900, help="stop (and fail) after this long")
    args = parser.parse_args()

    upstream = run_upstream()
    gateway = Gateway(gateway_env(type("Upstream", (), {"url": upstream})()))
    try:
        total = args.requests + args.streams
        warmup = Load(gateway.port, max(2_000, total // 50), args.streams // 50 if args.streams else 0)
        asyncio.run(warmup.run(args.concurrency, args.max_seconds))
        memory_start, heap_start = stat(gateway, MEMORY_GAUGE), envoy_heap(gateway)
        load = Load(gateway.port, total, args.streams)
        started = time.monotonic()
        samples = []

        async def sampled():
            task = asyncio.ensure_future(load.run(args.concurrency, args.max_seconds))
            while not task.done():
                await asyncio.sleep(10)
                samples.append((load.done, stat(gateway, MEMORY_GAUGE)))
            await task

        asyncio.run(sampled())
        elapsed = time.monotonic() - started
        memory_end, heap_end = stat(gateway, MEMORY_GAUGE), envoy_heap(gateway)
        reloads = stat(gateway, "wasm.bedrock_access_filter.vm_reload_success")
        finished = load.done == total
        print(f"soak: {load.done} requests ({args.streams} streams) at concurrency {args.concurrency} "
              f"in {elapsed:.0f}s = {load.done / elapsed:.0f} req/s; errors {len(load.errors)}; "
              f"p50 {percentile(load.latencies, 0.5) * 1000:.1f} ms, p99 {percentile(load.latencies, 0.99) * 1000:.1f} ms")
        print(f"filter VM linear memory: {memory_start} bytes after warm-up, {memory_end} at the end "
              f"(samples: {', '.join(f'{n}:{m}' for n, m in samples)})")
        print(f"Envoy heap allocated: {heap_start} -> {heap_end} bytes; VM reloads: {reloads}")
        for error in load.errors[:10]:
            print("  error:", error)
        failed = (load.errors or not finished or memory_start is None or memory_end != memory_start
                  or reloads)
        print("soak FAILED" if failed else "soak passed")
        return 1 if failed else 0
    finally:
        gateway.close()


if __name__ == "__main__":
    sys.exit(main())
