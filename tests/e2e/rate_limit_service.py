"""A small gRPC rate limit service (envoy.service.ratelimit.v3.RateLimitService) for the tests.

It stands in for envoyproxy/ratelimit: it records every ShouldRateLimit call Envoy makes and
counts hits per descriptor with that service's rules (a descriptor's own hits_addend, 0 meaning
"check only"; else the request's hits_addend, at least 1), answering OVER_LIMIT once a count
passes a limit the test set. What is under test is Envoy's config and the filter's filter state.

The protobuf messages are encoded by hand: the RLS API needs five fields, and generating code
would need protoc and Envoy's whole proto tree (validate, udpa, xds imports) in the build.
"""

import threading
from concurrent import futures

import grpc

SERVICE = "envoy.service.ratelimit.v3.RateLimitService"
OK, OVER_LIMIT = 1, 2  # RateLimitResponse.Code


def _varint(data, pos):
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data):
    """(field number, value) pairs of one message: ints for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, value


def decode_request(data: bytes) -> dict:
    """RateLimitRequest {1 domain, 2 descriptors, 3 hits_addend}; RateLimitDescriptor
    {1 entries {1 key, 2 value}, 3 hits_addend (UInt64Value {1 value})}."""
    request = {"domain": "", "descriptors": [], "hits_addend": 0}
    for number, value in _fields(data):
        if number == 1:
            request["domain"] = value.decode()
        elif number == 3:
            request["hits_addend"] = value
        elif number == 2:
            entries, hits = [], None
            for d_number, d_value in _fields(value):
                if d_number == 1:
                    entry = dict(_fields(d_value))
                    entries.append((entry.get(1, b"").decode(), entry.get(2, b"").decode()))
                elif d_number == 3:
                    hits = dict(_fields(d_value)).get(1, 0)
            request["descriptors"].append({"entries": entries, "hits_addend": hits})
    return request


def encode_response(code: int) -> bytes:
    """RateLimitResponse {1 overall_code}."""
    return bytes([0x08, code])


class RateLimitService:
    def __init__(self):
        self.requests = []
        self.counts = {}
        self.limits = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "ShouldRateLimit": grpc.unary_unary_rpc_method_handler(
                self._should_rate_limit, request_deserializer=decode_request,
                response_serializer=encode_response)})
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{self.port}"

    def _should_rate_limit(self, request, _context):
        code = OK
        with self._changed:
            self.requests.append(request)
            for descriptor in request["descriptors"]:
                key = tuple(descriptor["entries"])
                hits = descriptor["hits_addend"]
                if hits is None:
                    hits = max(1, request["hits_addend"])
                self.counts[key] = self.counts.get(key, 0) + hits
                if key in self.limits and self.counts[key] > self.limits[key]:
                    code = OVER_LIMIT
            self._changed.notify_all()
        return code

    def limit(self, entries, value):
        with self._lock:
            self.limits[tuple(entries)] = value

    def wait_for(self, predicate, timeout=30):
        """Waits until predicate(requests) holds: stream-done calls come after the answer."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.requests), timeout)

    def reset(self):
        with self._lock:
            self.requests.clear()
            self.counts.clear()
            self.limits.clear()

    def close(self):
        self.server.stop(grace=None)
