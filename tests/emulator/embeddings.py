"""InvokeModel bodies of the embedding models, validated strictly.

Request/response shapes verified against the Bedrock user guide pages
"Amazon Titan Embeddings G1 - Text" (v1 and v2 incl. embeddingsByType),
"Cohere Embed v3", "Cohere Embed v4" and the Nova "Complete embeddings request
and response schema" (SINGLE_EMBEDDING). Vectors are derived from a hash of
the text, so equal text gives equal vectors across runs and models can be
compared in tests.
"""

import hashlib
import math
import struct

from aws_errors import validation


def _malformed(detail):
    return validation(f"Malformed input request: #: {detail}, please reformat your input and try again.")


def _check_keys(body, allowed, required, where="#"):
    if not isinstance(body, dict):
        raise _malformed("expected type: JSONObject")
    for k in body:
        if k not in allowed:
            raise _malformed(f"extraneous key [{k}] is not permitted" + ("" if where == "#" else f" at {where}"))
    for k in required:
        if k not in body:
            raise _malformed(f"required key [{k}] not found" + ("" if where == "#" else f" at {where}"))


def vector(text: str, dim: int, normalize: bool = True, salt: str = "") -> list:
    """Deterministic pseudo-embedding of `text`."""
    out = []
    counter = 0
    while len(out) < dim:
        block = hashlib.sha256(f"{salt}\x00{counter}\x00{text}".encode("utf-8")).digest()
        for (n,) in struct.iter_unpack(">I", block):
            out.append(n / 0xFFFFFFFF * 2.0 - 1.0)
        counter += 1
    out = out[:dim]
    if normalize:
        norm = math.sqrt(sum(v * v for v in out)) or 1.0
        out = [v / norm for v in out]
    return [round(v, 7) for v in out]


def _tokens(text):
    return max(len(text.split()), 1)


def _int8(vec):
    return [max(-128, min(127, int(round(v * 127)))) for v in vec]


def _bits(vec, signed):
    packed = []
    for i in range(0, len(vec), 8):
        byte = 0
        for v in vec[i:i + 8]:
            byte = (byte << 1) | (1 if v > 0 else 0)
        packed.append(byte - 128 if signed else byte)
    return packed


def _by_type(vec, types):
    conv = {
        "float": lambda v: v,
        "int8": _int8,
        "uint8": lambda v: [x + 128 for x in _int8(v)],
        "binary": lambda v: _bits(v, True),
        "ubinary": lambda v: _bits(v, False),
    }
    return {t: conv[t](vec) for t in types}


def _string_list(value, name, max_items, max_len=None):
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise _malformed(f"{name}: expected a non-empty array of strings")
    if len(value) > max_items:
        raise _malformed(f"{name}: expected maximum item count: {max_items}, found: {len(value)}")
    if max_len:
        for t in value:
            if len(t) > max_len:
                raise _malformed(f"{name}: expected maxLength: {max_len}, actual: {len(t)}")
    return value


def titan_v1(body):
    _check_keys(body, {"inputText"}, ["inputText"])
    text = body["inputText"]
    if not isinstance(text, str) or not text:
        raise _malformed("inputText: expected minLength: 1")
    return {"embedding": vector(text, 1536, False, "titan1"), "inputTextTokenCount": _tokens(text)}


def titan_v2(body):
    _check_keys(body, {"inputText", "dimensions", "normalize", "embeddingTypes"}, ["inputText"])
    text = body["inputText"]
    if not isinstance(text, str) or not text:
        raise _malformed("inputText: expected minLength: 1")
    dim = body.get("dimensions", 1024)
    if dim not in (256, 512, 1024) or isinstance(dim, bool):
        raise _malformed(f"dimensions: {dim} is not a valid enum value")
    norm = body.get("normalize", True)
    if not isinstance(norm, bool):
        raise _malformed("normalize: expected type: Boolean")
    types = body.get("embeddingTypes", ["float"])
    if not isinstance(types, list) or not types or any(t not in ("float", "binary") for t in types):
        raise _malformed("embeddingTypes: expected a non-empty array of 'float' and/or 'binary'")
    vec = vector(text, dim, norm, "titan2")
    by_type = {}
    if "float" in types:
        by_type["float"] = vec
    if "binary" in types:
        by_type["binary"] = [1 if v > 0 else 0 for v in vec]
    return {"embedding": vec, "inputTextTokenCount": _tokens(text), "embeddingsByType": by_type}


def _cohere_id(texts):
    h = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def cohere_v3(body, model_id):
    _check_keys(body, {"texts", "images", "input_type", "truncate", "embedding_types"}, ["input_type"])
    if body["input_type"] not in ("search_document", "search_query", "classification", "clustering", "image"):
        raise _malformed(f"input_type: {body['input_type']} is not a valid enum value")
    if ("texts" in body) == ("images" in body):
        raise _malformed("exactly one of [texts, images] must be provided")
    if "images" in body:
        raise validation("The emulator supports only texts for Cohere Embed.")
    texts = _string_list(body["texts"], "texts", 96, 2048)
    if body.get("truncate", "NONE") not in ("NONE", "START", "END"):
        raise _malformed(f"truncate: {body['truncate']} is not a valid enum value")
    vecs = [vector(t, 1024, True, model_id) for t in texts]
    out = {"id": _cohere_id(texts), "texts": texts}
    if "embedding_types" in body:
        types = body["embedding_types"]
        if not isinstance(types, list) or not types or any(
                t not in ("float", "int8", "uint8", "binary", "ubinary") for t in types):
            raise _malformed("embedding_types: expected values in [float, int8, uint8, binary, ubinary]")
        out["embeddings"] = {t: [_by_type(v, [t])[t] for v in vecs] for t in types}
        out["response_type"] = "embeddings_by_type"
    else:
        out["embeddings"] = vecs
        out["response_type"] = "embeddings_floats"
    return out


def cohere_v4(body):
    _check_keys(body, {"texts", "images", "inputs", "input_type", "embedding_types", "output_dimension",
                       "max_tokens", "truncate"}, ["input_type"])
    if body["input_type"] not in ("search_document", "search_query", "classification", "clustering"):
        raise _malformed(f"input_type: {body['input_type']} is not a valid enum value")
    given = [k for k in ("texts", "images", "inputs") if k in body]
    if len(given) != 1:
        raise _malformed("exactly one of [texts, images, inputs] must be provided")
    if given[0] != "texts":
        raise validation("The emulator supports only texts for Cohere Embed v4.")
    texts = _string_list(body["texts"], "texts", 96)
    dim = body.get("output_dimension", 1536)
    if dim not in (256, 512, 1024, 1536) or isinstance(dim, bool):
        raise _malformed(f"output_dimension: {dim} is not a valid enum value")
    if body.get("truncate", "NONE") not in ("NONE", "LEFT", "RIGHT"):
        raise _malformed(f"truncate: {body['truncate']} is not a valid enum value")
    if "max_tokens" in body and (not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1):
        raise _malformed("max_tokens: expected a positive integer")
    types = body.get("embedding_types", ["float"])
    if not isinstance(types, list) or not types or any(
            t not in ("float", "int8", "uint8", "binary", "ubinary") for t in types):
        raise _malformed("embedding_types: expected values in [float, int8, uint8, binary, ubinary]")
    vecs = [vector(t, dim, True, "cohere-v4") for t in texts]
    return {
        "id": _cohere_id(texts),
        "embeddings": {t: [_by_type(v, [t])[t] for v in vecs] for t in types},
        "response_type": "embeddings_by_type",
        "texts": texts,
    }


_NOVA_PURPOSES = ("GENERIC_INDEX", "GENERIC_RETRIEVAL", "TEXT_RETRIEVAL", "IMAGE_RETRIEVAL", "VIDEO_RETRIEVAL",
                  "DOCUMENT_RETRIEVAL", "AUDIO_RETRIEVAL", "CLASSIFICATION", "CLUSTERING")


def nova_mm(body):
    _check_keys(body, {"schemaVersion", "taskType", "singleEmbeddingParams"}, ["taskType", "singleEmbeddingParams"])
    if body.get("schemaVersion", "nova-multimodal-embed-v1") != "nova-multimodal-embed-v1":
        raise _malformed(f"schemaVersion: {body['schemaVersion']} is not a valid enum value")
    if body["taskType"] != "SINGLE_EMBEDDING":
        raise _malformed("taskType: synchronous invocation requires SINGLE_EMBEDDING")
    p = body["singleEmbeddingParams"]
    _check_keys(p, {"embeddingPurpose", "embeddingDimension", "text", "image", "audio", "video"},
                ["embeddingPurpose"], "singleEmbeddingParams")
    if p["embeddingPurpose"] not in _NOVA_PURPOSES:
        raise _malformed(f"singleEmbeddingParams.embeddingPurpose: {p['embeddingPurpose']} is not a valid enum value")
    dim = p.get("embeddingDimension", 3072)
    if dim not in (256, 384, 1024, 3072) or isinstance(dim, bool):
        raise _malformed(f"singleEmbeddingParams.embeddingDimension: {dim} is not a valid enum value")
    media = [k for k in ("text", "image", "audio", "video") if k in p]
    if len(media) != 1:
        raise _malformed("singleEmbeddingParams: exactly one of [text, image, audio, video] must be provided")
    if media[0] != "text":
        raise validation("The emulator supports only text for Nova multimodal embeddings.")
    t = p["text"]
    _check_keys(t, {"truncationMode", "value", "source"}, ["truncationMode"], "singleEmbeddingParams.text")
    if t["truncationMode"] not in ("START", "END", "NONE"):
        raise _malformed(f"singleEmbeddingParams.text.truncationMode: {t['truncationMode']} is not a valid enum value")
    if ("value" in t) == ("source" in t):
        raise _malformed("singleEmbeddingParams.text: exactly one of [value, source] must be provided")
    if "source" in t:
        raise validation("The emulator supports only text.value for Nova multimodal embeddings.")
    if not isinstance(t["value"], str) or not t["value"]:
        raise _malformed("singleEmbeddingParams.text.value: expected minLength: 1")
    return {"embeddings": [{"embeddingType": "TEXT", "embedding": vector(t["value"], dim, True, "nova-mm")}]}


def invoke_embedding(model_id, body):
    if model_id == "amazon.titan-embed-text-v1":
        return titan_v1(body)
    if model_id == "amazon.titan-embed-text-v2:0":
        return titan_v2(body)
    if model_id in ("cohere.embed-english-v3", "cohere.embed-multilingual-v3"):
        return cohere_v3(body, model_id)
    if model_id == "cohere.embed-v4:0":
        return cohere_v4(body)
    if model_id == "amazon.nova-2-multimodal-embeddings-v1:0":
        return nova_mm(body)
    raise validation("The emulator serves InvokeModel only for embedding models.")
