"""Signed and redacted reasoning, as Claude issues and checks them.

Claude signs each thinking block it returns (reasoningText.signature) and encrypts the ones it
redacts (redactedContent); both must come back unaltered in later turns or the request is
refused. Here the signature is an HMAC over the thinking text and a redacted block carries an
HMAC over its own bytes, under a key only the emulator knows, so a client (or the gateway)
that edits, trims or re-encodes a block is caught exactly like on Bedrock.
"""

import base64
import hashlib
import hmac

# Fixed, so signatures stay valid across emulator restarts within a test run.
_KEY = hashlib.sha256(b"bedrock-emulator thinking key v1").digest()
_SIG_TAG = b"EMUSIG1"
_REDACTED_TAG = b"EMURED1"
# Real signatures are a few hundred base64 characters; keep ours as long so size limits in
# clients and the gateway are exercised.
_SIG_BYTES = 288


def _mac(*parts: bytes) -> bytes:
    h = hmac.new(_KEY, digestmod=hashlib.sha256)
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.digest()


def _expand(seed: bytes, n: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += _mac(b"expand", seed, counter.to_bytes(4, "big"))
        counter += 1
    return bytes(out[:n])


def sign(thinking_text: str) -> str:
    mac = _mac(b"thinking", thinking_text.encode("utf-8"))
    raw = _SIG_TAG + mac
    return base64.b64encode(raw + _expand(mac, _SIG_BYTES - len(raw))).decode()


def signature_valid(thinking_text: str, signature: str) -> bool:
    return isinstance(signature, str) and hmac.compare_digest(signature, sign(thinking_text))


def redacted_blob(seed: str) -> str:
    """base64 of an opaque redacted-thinking payload (what Converse's redactedContent carries)."""
    body = _expand(_mac(b"redacted-body", seed.encode("utf-8")), 96)
    return base64.b64encode(_REDACTED_TAG + body + _mac(b"redacted", body)).decode()


def redacted_valid(blob_b64: str) -> bool:
    try:
        raw = base64.b64decode(blob_b64, validate=True)
    except (ValueError, TypeError):
        return False
    if not raw.startswith(_REDACTED_TAG) or len(raw) < len(_REDACTED_TAG) + 32:
        return False
    body, mac = raw[len(_REDACTED_TAG):-32], raw[-32:]
    return hmac.compare_digest(mac, _mac(b"redacted", body))
