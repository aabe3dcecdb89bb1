"""AWS event-stream (application/vnd.amazon.eventstream) frame encoder.

Frame layout (all integers big-endian):
    total_length u32 | headers_length u32 | prelude_crc u32 (CRC32 of the 8 bytes before)
    headers: name_len u8, name, type u8 (7 = string), value_len u16, value
    payload bytes
    message_crc u32 (CRC32 of everything before it)

Tests decode these frames with botocore.eventstream.EventStreamBuffer, an
independent implementation, so any encoding slip shows up there.
"""

import json
import struct
import zlib

_HEADER_TYPE_STRING = 7

# Bedrock pads every event payload with a "p" field of varying length whose
# value is a prefix of this alphabet (it hides payload sizes from observers).
_PAD_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _encode_headers(headers):
    out = bytearray()
    for name, value in headers:
        n = name.encode("utf-8")
        v = value.encode("utf-8")
        out += struct.pack(">B", len(n)) + n
        out += struct.pack(">BH", _HEADER_TYPE_STRING, len(v)) + v
    return bytes(out)


def encode_frame(headers, payload: bytes, corrupt_crc: bool = False) -> bytes:
    """headers: list of (name, string value) in wire order."""
    hdr = _encode_headers(headers)
    total = 12 + len(hdr) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hdr))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + hdr + payload
    crc = zlib.crc32(body) & 0xFFFFFFFF
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    return body + struct.pack(">I", crc)


def padding(rng) -> str:
    return _PAD_ALPHABET[: rng.randint(1, len(_PAD_ALPHABET))]


def event_frame(event_type: str, payload: dict, rng, corrupt_crc: bool = False) -> bytes:
    body = dict(payload)
    body["p"] = padding(rng)
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = [
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ]
    return encode_frame(headers, data, corrupt_crc=corrupt_crc)


def exception_frame(exception_type: str, message: str) -> bytes:
    data = json.dumps({"message": message}, separators=(",", ":")).encode("utf-8")
    headers = [
        (":exception-type", exception_type),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    ]
    return encode_frame(headers, data)
